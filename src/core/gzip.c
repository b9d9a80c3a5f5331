/* gzip.c - bounded decompression of gzip request bodies.
 *
 * Concatenated members (RFC 1952 2.2: "a gzip file consists of a series of members")
 * are inflated one after another, as gzip -d does, and their output counts against
 * one limit. Anything after a member that is not another complete gzip member,
 * including zero padding, is ERR_INVALID: gzip -d only warns about trailing garbage,
 * but a request body has an exact length and extra bytes in it mean a broken client. */
#define ZLIB_CONST
#include <zlib.h>

#include "core/gzip.h"

#define GZIP_FIRST_BUF   4096u     /* smallest first output buffer */
#define GZIP_WINDOW_BITS (16 + 15) /* 16+: gzip wrapper only; 15: the largest window */

int gzip_inflate(const char *in, size_t n, size_t limit, char **out, size_t *outlen, struct err *e)
{
    z_stream zs;
    char *buf = NULL;
    size_t cap, used = 0, fed = 0;
    int rc = 0;

    *out = NULL;
    *outlen = 0;
    if (limit > SIZE_MAX - 2)
        limit = SIZE_MAX - 2;

    memset(&zs, 0, sizeof(zs));
    int zrc = inflateInit2(&zs, GZIP_WINDOW_BITS);
    if (zrc != Z_OK)
        return err_set(e, zrc == Z_MEM_ERROR ? ERR_NOMEM : ERR_INVALID, "gzip: cannot start: %s",
                       zs.msg ? zs.msg : "zlib refused");

    /* The buffer holds at most limit + 1 bytes: the one byte past the limit is how an
     * over-long output is told from one that is exactly the limit, and it becomes the
     * NUL otherwise. A guess of 4x the input is a first size; it doubles from there. */
    cap = n <= (SIZE_MAX - 1) / 4 ? n * 4 : SIZE_MAX - 1;
    if (cap < GZIP_FIRST_BUF)
        cap = GZIP_FIRST_BUF;
    if (cap > limit + 1)
        cap = limit + 1;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = err_set(e, ERR_NOMEM, "gzip: out of memory for %zu bytes", cap);
        goto out;
    }

    for (;;) {
        if (zs.avail_in == 0 && fed < n) {
            size_t chunk = n - fed < UINT_MAX ? n - fed : UINT_MAX;
            zs.next_in = (const Bytef *)in + fed;
            zs.avail_in = (uInt)chunk;
            fed += chunk;
        }
        if (used == cap) { /* full, and cap <= limit: used > limit returned below */
            size_t ncap = cap <= (limit + 1) / 2 ? cap * 2 : limit + 1;
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                rc = err_set(e, ERR_NOMEM, "gzip: out of memory for %zu bytes", ncap);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t room = cap - used < UINT_MAX ? cap - used : UINT_MAX;
        zs.next_out = (Bytef *)buf + used;
        zs.avail_out = (uInt)room;

        zrc = inflate(&zs, Z_NO_FLUSH);
        used += room - zs.avail_out;
        if (used > limit) {
            rc = err_set(e, ERR_LIMIT, "gzip: inflated body exceeds %zu bytes", limit);
            goto out;
        }

        if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0 && fed == n)
                break;
            inflateReset(&zs); /* another member follows */
        } else if (zrc == Z_BUF_ERROR) {
            /* No progress was possible. There was room for output and input is fed
             * whenever zlib has used up the last piece, so all input is gone. */
            rc = err_set(e, ERR_INVALID, "gzip: truncated stream");
            goto out;
        } else if (zrc == Z_MEM_ERROR) {
            rc = err_set(e, ERR_NOMEM, "gzip: out of memory in zlib");
            goto out;
        } else if (zrc != Z_OK) {
            /* Z_DATA_ERROR (bad header, bad deflate data, bad CRC or length),
             * Z_NEED_DICT (not valid in gzip), Z_STREAM_ERROR. */
            rc = err_set(e, ERR_INVALID, "gzip: corrupt stream: %s", zs.msg ? zs.msg : "bad data");
            goto out;
        }
    }

    if (used == cap) { /* room for the NUL: only when the output is exactly cap bytes */
        char *nbuf = realloc(buf, used + 1);
        if (nbuf == NULL) {
            rc = err_set(e, ERR_NOMEM, "gzip: out of memory for %zu bytes", used + 1);
            goto out;
        }
        buf = nbuf;
    } else if (cap - used > GZIP_FIRST_BUF) { /* give back a generous guess */
        char *nbuf = realloc(buf, used + 1);
        if (nbuf != NULL)
            buf = nbuf;
    }
    buf[used] = '\0';
    *out = buf;
    *outlen = used;
    buf = NULL;

out:
    inflateEnd(&zs);
    free(buf);
    return rc;
}
