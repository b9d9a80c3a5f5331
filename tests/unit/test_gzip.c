/* test_gzip.c - bounded gzip inflation: round trips, limits, bombs, corrupt input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#define ZLIB_CONST
#include <zlib.h>

#include "core/gzip.h"

#define KB ((size_t)1024)
#define MB (KB * KB)

/* Compresses data[0..n) with the given zlib windowBits (16+15 gzip, 15 zlib, -15 raw)
 * into a new buffer; the caller frees it. */
static unsigned char *deflate_with(const void *data, size_t n, int window_bits, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = data;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static unsigned char *gzip_of(const void *data, size_t n, size_t *outlen)
{
    return deflate_with(data, n, 16 + 15, outlen);
}

/* Inflates and checks the result equals want[0..want_len). */
static void expect_inflate(const void *gz, size_t gz_len, size_t limit, const void *want,
                           size_t want_len)
{
    char *out = NULL;
    size_t outlen = 0;
    struct err e = {0};
    int rc = gzip_inflate(gz, gz_len, limit, &out, &outlen, &e);
    if (rc != 0)
        fail_msg("rc %d (%s): %s", rc, err_name(rc), e.msg);
    assert_non_null(out);
    assert_int_equal(outlen, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[outlen], '\0');
    free(out);
}

/* Inflates and checks it fails with rc, leaving no output behind. */
static void expect_failure(const void *gz, size_t gz_len, size_t limit, int want_rc)
{
    static char sentinel[] = "sentinel";
    char *out = sentinel;
    size_t outlen = 99;
    struct err e = {0};
    int rc = gzip_inflate(gz, gz_len, limit, &out, &outlen, &e);
    if (rc != want_rc)
        fail_msg("rc %d (%s), want %d (%s): %s", rc, err_name(rc), want_rc, err_name(want_rc),
                 e.msg);
    assert_int_equal(e.code, want_rc);
    assert_true(e.msg[0] != '\0');
    assert_null(out);
    assert_int_equal(outlen, 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",
        "a",
        "{\"batch\":[{\"type\":\"track\",\"event\":\"Order Completed\"}]}",
        "\xe5\xae\xa2\xe6\x88\xb7\xe6\x95\xb0\xe6\x8d\xae\xe5\xb9\xb3\xe5\x8f\xb0",
    };
    for (size_t k = 0; k < ARRAY_SIZE(texts); k++) {
        size_t n = strlen(texts[k]), gz_len;
        unsigned char *gz = gzip_of(texts[k], n, &gz_len);
        expect_inflate(gz, gz_len, 1 * MB, texts[k], n);
        free(gz);
    }
}

static void test_round_trip_large(void **state)
{
    (void)state;
    /* 3 MB of poorly compressible bytes: the output buffer grows several times and
     * the 4x first guess is far too small. */
    size_t n = 3 * MB;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    uint64_t x = 88172645463325252ULL;
    for (size_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[k] = (unsigned char)(k % 3 == 0 ? 'a' : x >> 56); /* some redundancy */
    }
    size_t gz_len;
    unsigned char *gz = gzip_of(data, n, &gz_len);
    expect_inflate(gz, gz_len, 8 * MB, data, n);
    expect_inflate(gz, gz_len, n, data, n);       /* exactly at the limit */
    expect_failure(gz, gz_len, n - 1, ERR_LIMIT); /* one byte over */
    free(gz);

    /* Very compressible: a small first buffer for a large output. */
    memset(data, 'z', n);
    gz = gzip_of(data, n, &gz_len);
    expect_inflate(gz, gz_len, n, data, n);
    free(gz);
    free(data);
}

static void test_limit_edges(void **state)
{
    (void)state;
    size_t gz_len;
    unsigned char *gz = gzip_of("", 0, &gz_len);
    expect_inflate(gz, gz_len, 0, "", 0); /* empty output fits a limit of 0 */
    free(gz);
    gz = gzip_of("x", 1, &gz_len);
    expect_failure(gz, gz_len, 0, ERR_LIMIT);
    expect_inflate(gz, gz_len, 1, "x", 1);
    free(gz);
    /* Output of exactly 4096 bytes with a 4096 limit: the first buffer size. */
    char page[4096];
    memset(page, 'p', sizeof(page));
    gz = gzip_of(page, sizeof(page), &gz_len);
    expect_inflate(gz, gz_len, sizeof(page), page, sizeof(page));
    expect_failure(gz, gz_len, sizeof(page) - 1, ERR_LIMIT);
    free(gz);
}

static void test_bomb(void **state)
{
    (void)state;
    /* 10 MB of zeros compress to about 10 KB; with a 500 KB limit inflation must
     * stop at the limit. */
    size_t n = 10 * MB;
    unsigned char *zeros = calloc(n, 1);
    assert_non_null(zeros);
    size_t gz_len;
    unsigned char *gz = gzip_of(zeros, n, &gz_len);
    free(zeros);
    assert_true(gz_len < 20 * KB);
    expect_failure(gz, gz_len, 500 * KB, ERR_LIMIT);
    struct err e = {0};
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(gzip_inflate((const char *)gz, gz_len, 500 * KB, &out, &outlen, &e),
                     ERR_LIMIT);
    assert_non_null(strstr(e.msg, "512000")); /* the reason names the limit */
    free(gz);
}

static void test_bomb_of_members(void **state)
{
    (void)state;
    /* Many members, each small after inflation, count against one limit together. */
    static unsigned char zeros[100 * KB];
    size_t one_len;
    unsigned char *one = gzip_of(zeros, sizeof(zeros), &one_len);
    enum { MEMBERS = 20 };
    unsigned char *many = malloc(one_len * MEMBERS);
    assert_non_null(many);
    for (int k = 0; k < MEMBERS; k++)
        memcpy(many + (size_t)k * one_len, one, one_len);
    expect_failure(many, one_len * MEMBERS, 500 * KB, ERR_LIMIT);
    char *out = NULL;
    size_t outlen = 0;
    assert_int_equal(gzip_inflate((const char *)many, one_len * MEMBERS, 2 * MB, &out, &outlen,
                                  NULL), /* e may be NULL */
                     0);
    assert_int_equal(outlen, sizeof(zeros) * MEMBERS);
    free(out);
    free(many);
    free(one);
}

static void test_huge_bomb(void **state)
{
    (void)state;
    /* 8 MB of input that would inflate to 8 GB (8192 members of 1 MB of zeros): an
     * implementation that inflates first and checks the size afterwards runs out of
     * memory here instead of returning ERR_LIMIT. */
    size_t chunk = 1 * MB;
    unsigned char *zeros = calloc(chunk, 1);
    assert_non_null(zeros);
    size_t one_len;
    unsigned char *one = gzip_of(zeros, chunk, &one_len);
    free(zeros);
    enum { MEMBERS = 8192 };
    unsigned char *bomb = malloc(one_len * MEMBERS);
    assert_non_null(bomb);
    for (size_t k = 0; k < MEMBERS; k++)
        memcpy(bomb + k * one_len, one, one_len);
    expect_failure(bomb, one_len * MEMBERS, 500 * KB, ERR_LIMIT);
    expect_failure(bomb, one_len * MEMBERS, 64 * MB, ERR_LIMIT);
    free(bomb);
    free(one);
}

static void test_concatenated_members(void **state)
{
    (void)state;
    size_t a_len, b_len, c_len;
    unsigned char *a = gzip_of("hello, ", 7, &a_len);
    unsigned char *b = gzip_of("", 0, &b_len);
    unsigned char *c = gzip_of("world", 5, &c_len);
    size_t n = a_len + b_len + c_len;
    unsigned char *all = malloc(n + 4);
    assert_non_null(all);
    memcpy(all, a, a_len);
    memcpy(all + a_len, b, b_len);
    memcpy(all + a_len + b_len, c, c_len);
    expect_inflate(all, n, 1 * KB, "hello, world", 12);

    /* Anything after the last member that is not a whole member is refused. */
    memcpy(all + n, "\0\0\0\0", 4);
    expect_failure(all, n + 4, 1 * KB, ERR_INVALID); /* zero padding */
    memcpy(all + n, "junk", 4);
    expect_failure(all, n + 4, 1 * KB, ERR_INVALID); /* garbage */
    memcpy(all + n, c, 4);
    expect_failure(all, n + 4, 1 * KB, ERR_INVALID); /* the start of a member */
    free(all);
    free(a);
    free(b);
    free(c);
}

static void test_corrupt(void **state)
{
    (void)state;
    static const char text[] = "{\"type\":\"identify\",\"userId\":\"u-1\",\"traits\":{\"plan\":"
                               "\"pro\",\"name\":\"Zhang San\"}}";
    size_t n = sizeof(text) - 1, gz_len;
    unsigned char *gz = gzip_of(text, n, &gz_len);
    unsigned char *bad = malloc(gz_len);
    assert_non_null(bad);

    expect_failure(gz, 0, 1 * KB, ERR_INVALID);          /* empty */
    expect_failure(gz, 10, 1 * KB, ERR_INVALID);         /* header only */
    expect_failure(gz, gz_len / 2, 1 * KB, ERR_INVALID); /* cut in the middle */
    expect_failure(gz, gz_len - 1, 1 * KB, ERR_INVALID); /* last trailer byte missing */
    expect_failure(gz, gz_len - 8, 1 * KB, ERR_INVALID); /* trailer missing */

    static const struct {
        size_t pos;    /* a byte offset ... */
        bool from_end; /* ... from the end of the stream rather than the start */
        unsigned char xor ;
        const char *what;
    } flips[] = {
        {0, false, 0x01, "magic byte 1"},    {1, false, 0x80, "magic byte 2"},
        {2, false, 0x01, "method"},          {3, false, 0xe0, "reserved flags"},
        {8, true, 0x01, "CRC-32"},           {4, true, 0x01, "length"},
        {1, true, 0x80, "length high byte"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(flips); k++) {
        memcpy(bad, gz, gz_len);
        size_t pos = flips[k].from_end ? gz_len - flips[k].pos : flips[k].pos;
        bad[pos] ^= flips[k].xor ;
        char *out = NULL;
        size_t outlen = 0;
        struct err e = {0};
        int rc = gzip_inflate((const char *)bad, gz_len, 1 * KB, &out, &outlen, &e);
        if (rc != ERR_INVALID)
            fail_msg("%s: rc %d, want ERR_INVALID", flips[k].what, rc);
        assert_null(out);
    }
    /* Every single-byte change in the deflate data is either detected or, if the
     * data still decodes, caught by the CRC: never a silent success with other bytes. */
    for (size_t pos = 10; pos < gz_len - 8; pos++) {
        memcpy(bad, gz, gz_len);
        bad[pos] ^= 0x55;
        char *out = NULL;
        size_t outlen = 0;
        int rc = gzip_inflate((const char *)bad, gz_len, 1 * KB, &out, &outlen, NULL);
        if (rc == 0) {
            assert_int_equal(outlen, n);
            assert_memory_equal(out, text, n);
            free(out);
        } else {
            assert_true(rc == ERR_INVALID || rc == ERR_LIMIT);
            assert_null(out);
        }
    }
    /* Random bytes are not gzip. */
    for (size_t k = 0; k < gz_len; k++)
        bad[k] = (unsigned char)(k * 131 + 7);
    expect_failure(bad, gz_len, 1 * KB, ERR_INVALID);
    free(bad);
    free(gz);
}

static void test_other_wrappers_refused(void **state)
{
    (void)state;
    static const char text[] = "zlib-wrapped and raw deflate are not gzip";
    size_t len;
    unsigned char *z = deflate_with(text, sizeof(text) - 1, 15, &len);
    expect_failure(z, len, 1 * KB, ERR_INVALID);
    free(z);
    unsigned char *raw = deflate_with(text, sizeof(text) - 1, -15, &len);
    expect_failure(raw, len, 1 * KB, ERR_INVALID);
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_large),
        cmocka_unit_test(test_limit_edges),
        cmocka_unit_test(test_bomb),
        cmocka_unit_test(test_bomb_of_members),
        cmocka_unit_test(test_huge_bomb),
        cmocka_unit_test(test_concatenated_members),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_other_wrappers_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
