/* csv.c - a streaming CSV reader: blocks in, rows out (csv.h).
 *
 * The input waits in one buffer, buf[pos..len), which always starts at the row being
 * read. A refill moves that partial row to the front and appends a block: read straight
 * in for UTF-8, or converted with iconv from a raw block for GBK, GB18030 and UTF-16LE.
 * A row is parsed from its start; when it runs off the end of the data the parse is
 * dropped, the buffer refilled and the row parsed again, so only a row that straddles a
 * block boundary is read twice (a refill brings at least as much as is already waiting,
 * which keeps a long row linear).
 *
 * Field values are copied, unquoted and unescaped, into one row buffer (out) that is
 * reused from row to row, each value NUL-terminated. Copying costs little next to the
 * scan and leaves the input as it was read, which is what lets the reader go back and
 * resume a malformed row at its second line. Spans are found 8 bytes at a time: the
 * delimiter or LF outside quotes, the quote or LF inside them. UTF-8 is checked once per
 * row over the row's input bytes.
 */
#include <iconv.h>

#include "import/csv.h"

/* Bytes read, or converted, per refill. A fuzzing build may set a tiny one
 * (-DCSV_BLOCK=7) to reach the paths at block boundaries with small inputs. */
#ifndef CSV_BLOCK
#define CSV_BLOCK ((size_t)64 * 1024)
#endif
/* An incomplete character carried over to the next raw block: GB18030 and UTF-16
 * leave at most 3 bytes. */
#define CSV_RAW_TAIL 16
/* Raw block offsets kept for converted input: buf holds at most about 2 MiB (a row of
 * CSV_MAX_ROW_BYTES and as much again), and a raw block gives 32 KiB of text or more. */
#define CSV_CHECKPOINTS 128

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The messages below name the limits; keep them in step. */
_Static_assert(CSV_MAX_FIELDS == 512, "update MSG_TOO_MANY");
_Static_assert(CSV_MAX_ROW_BYTES == 1 << 20, "update MSG_TOO_LONG");
static const char MSG_TOO_MANY[] = "the row has more than 512 fields";
static const char MSG_TOO_LONG[] = "the row is longer than 1 MiB";
static const char MSG_UNTERMINATED[] = "a quoted field is not closed before the end of the file";

/* For converted input: the text appended to buf from pos on came from the raw block that
 * starts at offset in the file. */
struct csv_checkpoint {
    size_t pos;
    uint64_t offset;
};

struct csv_reader {
    FILE *f;
    char delim;
    iconv_t cd;         /* (iconv_t)-1 for UTF-8 input */
    const char *from;   /* iconv's name of the input encoding; NULL for UTF-8 */
    bool started;       /* the first block has been read and its BOM looked at */
    bool eof;           /* buf holds the rest of the input */
    bool skipping;      /* dropping input up to the next LF (after a row too long) */
    struct err failure; /* a sticky error: once reading fails, it stays failed */
    struct err pending; /* a conversion error, reported when the text before it is used */

    char *buf; /* UTF-8 text; buf[pos] is the start of the next row */
    size_t cap, len, pos;
    uint64_t base; /* file offset of buf[0] (UTF-8 input) */
    uint64_t line; /* file line of buf[pos] */
    struct csv_checkpoint cp[CSV_CHECKPOINTS];
    size_t ncp;

    char *raw; /* converted input only: raw[raw_pos..raw_len) waits for iconv */
    size_t raw_pos, raw_len;
    uint64_t raw_off; /* file offset of raw[0] */
    uint64_t bytes_read;

    char *out; /* the row's field values */
    size_t out_cap;
    struct csv_field fields[CSV_MAX_FIELDS];
};

int csv_encoding_parse(const char *name, enum csv_encoding *out)
{
    if (!name)
        return ERR_INVALID;
    if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0)
        *out = CSV_UTF8;
    else if (strcasecmp(name, "gbk") == 0)
        *out = CSV_GBK;
    else if (strcasecmp(name, "gb18030") == 0)
        *out = CSV_GB18030;
    else
        return ERR_INVALID;
    return 0;
}

/* The 8 bytes at p as a little-endian word, whatever the host's byte order. */
static inline uint64_t load_le64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The high bit of every zero byte of x is set, and maybe of bytes above the first zero
 * byte (a borrow runs upwards), never below it: the lowest one set is exact. */
static inline uint64_t zero_bytes(uint64_t x)
{
    return (x - ONES) & ~x & HIGHS;
}

/* Index of the first byte of p[0..n) that is a or b, or n. wa and wb are a and b
 * repeated in all 8 bytes of a word. */
static inline size_t scan2(const char *p, size_t n, char a, char b, uint64_t wa, uint64_t wb)
{
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w = load_le64(p + i);
        uint64_t hit = zero_bytes(w ^ wa) | zero_bytes(w ^ wb);
        if (hit)
            return i + (size_t)__builtin_ctzll(hit) / 8;
    }
    for (; i < n; i++)
        if (p[i] == a || p[i] == b)
            return i;
    return n;
}

/* Whether s[0..n) can go out as C strings of UTF-8: well-formed UTF-8 (Unicode table
 * 3-7: no overlongs, no surrogates, nothing above U+10FFFF, nothing cut short; the rules
 * of text_scan_json) with no NUL byte, which would cut a value short. ASCII goes 8 bytes
 * at a time; each run of other characters is checked sequence by sequence. */
static bool text_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    for (;;) {
        while (end - p >= 8) {
            uint64_t w = load_le64((const char *)p);
            if ((w | zero_bytes(w)) & HIGHS)
                break;
            p += 8;
        }
        if (p == end)
            return true;
        unsigned c = *p;
        if (c < 0x80) {
            if (!c)
                return false;
            p++;
            continue;
        }
        size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0xc2 || c > 0xf4 || (size_t)(end - p) < len)
            return false; /* a continuation byte, C0 or C1 (overlong), F5-FF, cut short */
        if (c == 0xe0)
            lo = 0xa0; /* below U+0800: overlong */
        else if (c == 0xed)
            hi = 0x9f; /* U+D800-DFFF: surrogates */
        else if (c == 0xf0)
            lo = 0x90; /* below U+10000: overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
        if (p[1] < lo || p[1] > hi)
            return false;
        for (size_t k = 2; k < len; k++)
            if ((p[k] & 0xc0) != 0x80)
                return false;
        p += len;
    }
}

/* ---- input --------------------------------------------------------------------- */

static int open_converter(struct csv_reader *r, const char *from, struct err *e)
{
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
    r->cd = (iconv_t)-1;
    r->from = from;
    if (!from)
        return 0;
    r->cd = iconv_open("UTF-8", from);
    if (r->cd == (iconv_t)-1)
        return err_set(e, ERR_INVALID, "cannot convert from %s: %s", from, strerror(errno));
    return 0;
}

/* Moves the waiting text buf[pos..len) to the front and makes room for want more bytes
 * after it. */
static int make_room(struct csv_reader *r, size_t want, struct err *e)
{
    size_t d = r->pos;
    if (d) {
        memmove(r->buf, r->buf + d, r->len - d);
        r->len -= d;
        r->pos = 0;
        r->base += d;
        for (size_t i = 0; i < r->ncp; i++)
            r->cp[i].pos = r->cp[i].pos > d ? r->cp[i].pos - d : 0;
        size_t drop = 0;
        while (drop + 1 < r->ncp && r->cp[drop + 1].pos == 0)
            drop++;
        memmove(r->cp, r->cp + drop, (r->ncp - drop) * sizeof(r->cp[0]));
        r->ncp -= drop;
    }
    if (r->cap - r->len < want) {
        size_t cap = r->len + want;
        char *p = realloc(r->buf, cap);
        if (!p)
            return err_set(e, ERR_NOMEM, "out of memory");
        r->buf = p;
        r->cap = cap;
    }
    return 0;
}

static int read_error(struct err *e)
{
    return err_set(e, ERR_IO, "cannot read the input: %s", strerror(errno));
}

static void add_checkpoint(struct csv_reader *r)
{
    uint64_t offset = r->raw_off + r->raw_pos;
    if (r->ncp && r->cp[r->ncp - 1].offset == offset)
        return;
    if (r->ncp && r->cp[r->ncp - 1].pos == r->len)
        r->ncp--; /* nothing came of the last one */
    if (r->ncp == CSV_CHECKPOINTS)
        return; /* later rows get an earlier block's offset: still a lower bound */
    r->cp[r->ncp++] = (struct csv_checkpoint){r->len, offset};
}

/* Converts raw input into buf[len..) until want bytes have been appended, the output
 * space is full, the input ends or it cannot be converted. */
static int convert(struct csv_reader *r, size_t want, struct err *e)
{
    size_t start = r->len;
    bool need_raw = r->raw_pos == r->raw_len;
    while (r->len - start < want && !r->pending.code) {
        if (need_raw) {
            size_t tail = r->raw_len - r->raw_pos;
            if (tail > CSV_RAW_TAIL) { /* iconv never leaves this much unconverted */
                err_set(&r->pending, ERR_INVALID, "not valid %s at byte %" PRIu64, r->from,
                        r->raw_off + r->raw_pos);
                break;
            }
            r->raw_off += r->raw_pos;
            memmove(r->raw, r->raw + r->raw_pos, tail);
            r->raw_pos = 0;
            r->raw_len = tail;
            size_t n = fread(r->raw + tail, 1, CSV_BLOCK, r->f);
            r->raw_len += n;
            r->bytes_read += n;
            if (n == 0) {
                if (ferror(r->f))
                    return read_error(e);
                if (tail)
                    err_set(&r->pending, ERR_INVALID,
                            "not valid %s at byte %" PRIu64 " (a character cut short at the end)",
                            r->from, r->raw_off);
                else
                    r->eof = true;
                break;
            }
            need_raw = false;
        }
        add_checkpoint(r);
        char *in = r->raw + r->raw_pos, *o = r->buf + r->len;
        size_t in_left = r->raw_len - r->raw_pos, out_left = r->cap - r->len;
        size_t n = iconv(r->cd, &in, &in_left, &o, &out_left);
        int why = errno;
        r->raw_pos = (size_t)(in - r->raw);
        r->len = (size_t)(o - r->buf);
        if (n != (size_t)-1 || why == EINVAL) {
            need_raw = true; /* all converted but maybe an incomplete character */
        } else if (why == E2BIG) {
            break;
        } else {
            err_set(&r->pending, ERR_INVALID, "not valid %s at byte %" PRIu64, r->from,
                    r->raw_off + r->raw_pos);
        }
    }
    if (r->len == start && r->pending.code)
        return err_set(e, r->pending.code, "%s", r->pending.msg);
    return 0;
}

/* Appends more text to buf, at least as much as is already waiting (and a block), or
 * sets eof. */
static int fill(struct csv_reader *r, struct err *e)
{
    size_t want = r->len - r->pos;
    if (want < CSV_BLOCK)
        want = CSV_BLOCK;
    int rc = make_room(r, want, e);
    if (rc)
        return rc;
    if (r->cd != (iconv_t)-1)
        return convert(r, want, e);
    size_t n = fread(r->buf + r->len, 1, want, r->f);
    r->len += n;
    r->bytes_read += n;
    if (n == 0) {
        if (ferror(r->f))
            return read_error(e);
        r->eof = true;
    }
    return 0;
}

/* Reads the first block and looks for a byte order mark: a UTF-8 one is skipped and
 * means UTF-8 whatever was declared, a UTF-16LE one switches to UTF-16LE. */
static int start(struct csv_reader *r, struct err *e)
{
    r->started = true;
    size_t n = fread(r->raw, 1, CSV_BLOCK, r->f);
    r->bytes_read += n;
    if (n == 0 && ferror(r->f))
        return read_error(e);
    const unsigned char *u = (const unsigned char *)r->raw;
    const char *from = r->from;
    size_t bom = 0;
    if (n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
        bom = 3;
        from = NULL;
    } else if (n >= 2 && u[0] == 0xff && u[1] == 0xfe) {
        bom = 2;
        from = "UTF-16LE";
    }
    int rc = from != r->from ? open_converter(r, from, e) : 0;
    if (rc)
        return rc;
    if (from) {
        r->raw_pos = bom;
        r->raw_len = n;
        return 0;
    }
    if ((rc = make_room(r, CSV_BLOCK, e)))
        return rc;
    memcpy(r->buf, r->raw + bom, n - bom);
    r->len = n - bom;
    r->base = bom;
    r->eof = n == 0;
    return 0;
}

/* Drops input up to and including the next LF. */
static int skip_line(struct csv_reader *r, struct err *e)
{
    while (r->skipping) {
        const char *q = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (q) {
            r->pos = (size_t)(q - r->buf) + 1;
            r->line++;
            r->skipping = false;
            break;
        }
        r->pos = r->len;
        if (r->eof)
            break;
        int rc = fill(r, e);
        if (rc)
            return rc;
    }
    return 0;
}

static uint64_t offset_of(const struct csv_reader *r, size_t pos)
{
    if (r->cd == (iconv_t)-1 || r->ncp == 0)
        return r->base + pos;
    size_t i = 0;
    while (i + 1 < r->ncp && r->cp[i + 1].pos <= pos)
        i++;
    return r->cp[i].offset;
}

/* ---- rows ---------------------------------------------------------------------- */

enum parse_result { PARSE_ROW, PARSE_MORE, PARSE_LONG, PARSE_UNTERMINATED };

struct parse {
    size_t nfields;
    size_t end;     /* buf index where the row's bytes end (its line end excluded) */
    size_t next;    /* buf index of the next row */
    uint64_t lines; /* line breaks inside quoted fields */
    bool quoted;    /* some field was quoted */
    bool too_many;  /* more than CSV_MAX_FIELDS fields */
};

/* Ends the value that started at f and goes up to o; returns where the next one goes. */
static inline char *end_field(struct csv_reader *r, struct parse *ps, char *f, char *o)
{
    *o = '\0';
    if (ps->nfields < CSV_MAX_FIELDS)
        r->fields[ps->nfields++] = (struct csv_field){f, (size_t)(o - f)};
    else
        ps->too_many = true;
    return o + 1;
}

/* Parses the row at buf[pos] into out and fields. PARSE_MORE: it needs more input than
 * there is yet. PARSE_LONG: it has more than CSV_MAX_ROW_BYTES bytes. PARSE_UNTERMINATED:
 * the input ends in a quoted field. out must have room for the row's bytes plus 2. */
static enum parse_result parse_row(struct csv_reader *r, struct parse *ps)
{
    const char *const s = r->buf + r->pos;
    const char *p = s, *end = r->buf + r->len;
    const char delim = r->delim;
    const uint64_t wdelim = ONES * (unsigned char)delim, wlf = ONES * '\n', wquote = ONES * '"';
    bool clipped = false;
    if (r->len - r->pos > CSV_MAX_ROW_BYTES) {
        end = s + CSV_MAX_ROW_BYTES + 1; /* an LF there ends a row of the largest size */
        clipped = true;
    }
    char *o = r->out;
    memset(ps, 0, sizeof(*ps));
    for (;;) {
        char *f = o;
        if (p < end && *p == '"') {
            ps->quoted = true;
            p++;
            for (;;) {
                size_t k = scan2(p, (size_t)(end - p), '"', '\n', wquote, wlf);
                memcpy(o, p, k);
                o += k;
                p += k;
                if (p == end || (p + 1 == end && *p == '"')) {
                    if (clipped)
                        goto too_long;
                    if (!r->eof)
                        return PARSE_MORE;
                    if (p == end) {
                        end_field(r, ps, f, o);
                        ps->end = (size_t)(p - r->buf);
                        return PARSE_UNTERMINATED;
                    }
                }
                if (*p == '\n') {
                    ps->lines++;
                    *o++ = *p++;
                } else if (p + 1 < end && p[1] == '"') {
                    *o++ = '"';
                    p += 2;
                } else {
                    p++; /* the closing quote; what follows it is kept as text */
                    break;
                }
            }
        }
        size_t k = scan2(p, (size_t)(end - p), delim, '\n', wdelim, wlf);
        memcpy(o, p, k);
        o += k;
        p += k;
        if (p == end) {
            if (clipped)
                goto too_long;
            if (!r->eof)
                return PARSE_MORE;
        } else if (*p == delim) {
            o = end_field(r, ps, f, o);
            p++;
            continue;
        }
        /* The row ends at an LF or at the end of the input; a CR before either goes. */
        ps->end = (size_t)(p - r->buf);
        ps->next = ps->end + (p < end);
        if (k && o[-1] == '\r')
            o--;
        end_field(r, ps, f, o);
        return PARSE_ROW;
    }
too_long:
    ps->end = (size_t)(end - r->buf);
    return PARSE_LONG;
}

/* Makes out big enough for the row at buf[pos]. */
static int reserve_out(struct csv_reader *r, struct err *e)
{
    size_t need = r->len - r->pos;
    if (need > CSV_MAX_ROW_BYTES + 1)
        need = CSV_MAX_ROW_BYTES + 1;
    need += 2; /* each value's NUL takes its delimiter's place, but the last */
    if (r->out_cap >= need)
        return 0;
    char *p = realloc(r->out, need);
    if (!p)
        return err_set(e, ERR_NOMEM, "out of memory");
    r->out = p;
    r->out_cap = need;
    return 0;
}

/* Where to go on after a malformed row that started at buf[pos] and was read up to
 * buf[end]: the line after the row's first line, which may be further on. */
static void resync(struct csv_reader *r, size_t end, bool more)
{
    const char *q = memchr(r->buf + r->pos, '\n', end - r->pos);
    if (q) {
        r->pos = (size_t)(q - r->buf) + 1;
        r->line++;
    } else {
        r->pos = end;
        r->skipping = more;
    }
}

int csv_next(struct csv_reader *r, struct csv_row *row, struct err *e)
{
    struct err le; /* not zeroed whole: this runs once per row */
    int rc = 0;
    le.code = 0;
    le.msg[0] = '\0';
    memset(row, 0, sizeof(*row));
    row->fields = r->fields;
    if (r->failure.code)
        return err_set(e, r->failure.code, "%s", r->failure.msg);
    if (!r->started && (rc = start(r, &le)))
        goto out;
    for (;;) {
        if (r->skipping && (rc = skip_line(r, &le)))
            goto out;
        if (r->pos == r->len) {
            if (r->eof)
                goto out; /* rc is 0: the end */
            if ((rc = fill(r, &le)))
                goto out;
            continue;
        }
        if ((rc = reserve_out(r, &le)))
            goto out;
        struct parse ps;
        enum parse_result res = parse_row(r, &ps);
        if (res == PARSE_MORE) {
            if ((rc = fill(r, &le)))
                goto out;
            continue;
        }
        if (res == PARSE_ROW && ps.nfields == 1 && r->fields[0].len == 0 && !ps.quoted) {
            r->pos = ps.next; /* an empty line */
            r->line++;
            continue;
        }
        row->nfields = ps.nfields;
        row->line = r->line;
        row->offset = offset_of(r, r->pos);
        row->bad_utf8 = !text_ok(r->buf + r->pos, ps.end - r->pos);
        if (res == PARSE_ROW) {
            row->error = ps.too_many ? MSG_TOO_MANY : NULL;
            r->pos = ps.next;
            r->line += ps.lines + 1;
        } else {
            row->error = res == PARSE_LONG ? MSG_TOO_LONG : MSG_UNTERMINATED;
            resync(r, ps.end, res == PARSE_LONG);
        }
        return 1;
    }
out:
    if (rc) {
        r->failure = le;
        r->failure.code = rc;
        return err_set(e, rc, "%s", le.msg);
    }
    return 0;
}

/* ---- life ---------------------------------------------------------------------- */

int csv_open(FILE *f, enum csv_encoding enc, char delimiter, struct csv_reader **out, struct err *e)
{
    unsigned char d = (unsigned char)delimiter;
    struct csv_reader *r = NULL;
    int rc = 0;
    *out = NULL;
    if (!d || d == '"' || d == '\r' || d == '\n' || d >= 0x80) {
        rc = err_set(e, ERR_INVALID,
                     "the delimiter must be one ASCII character, not a quote, CR or LF");
        goto out;
    }
    if (enc != CSV_UTF8 && enc != CSV_GBK && enc != CSV_GB18030) {
        rc = err_set(e, ERR_INVALID, "unknown encoding %d", (int)enc);
        goto out;
    }
    r = calloc(1, sizeof(*r));
    if (!r || !(r->raw = malloc(CSV_BLOCK + CSV_RAW_TAIL))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    r->f = f;
    r->delim = delimiter;
    r->cd = (iconv_t)-1;
    r->line = 1;
    rc = open_converter(r, enc == CSV_GBK ? "GBK" : enc == CSV_GB18030 ? "GB18030" : NULL, e);
out:
    if (rc)
        csv_close(r);
    else
        *out = r;
    return rc;
}

uint64_t csv_bytes_read(const struct csv_reader *r)
{
    return r->bytes_read;
}

void csv_close(struct csv_reader *r)
{
    if (!r)
        return;
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
    free(r->buf);
    free(r->raw);
    free(r->out);
    free(r);
}
