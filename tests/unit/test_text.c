/* test_text.c - UTF-8 and JSON nesting scan, base64, UUIDs, hash128, constant-time
 * comparison. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/text.h"

/* A byte string literal with its length, NULs included. */
#define BYTES(lit) lit, sizeof(lit) - 1

/* ---- UTF-8 --------------------------------------------------------------------- */

struct scan_case {
    const char *name;
    const char *s;
    size_t n;
    int max_depth;
    int rc;
    size_t at; /* checked when rc != 0 */
};

static const struct scan_case utf8_cases[] = {
    {"empty", BYTES(""), 8, 0, 0},
    {"ascii", BYTES("hello, world"), 8, 0, 0},
    {"nul is U+0000", BYTES("a\0b"), 8, 0, 0},
    {"2-byte e-acute", BYTES("caf\xc3\xa9"), 8, 0, 0},
    {"chinese", BYTES("\xe5\xae\xa2\xe6\x88\xb7\xe6\x95\xb0\xe6\x8d\xae\xe5\xb9\xb3\xe5\x8f\xb0"),
     8, 0, 0},
    {"4-byte emoji", BYTES("ok \xf0\x9f\x98\x80!"), 8, 0, 0},
    {"U+D7FF below surrogates", BYTES("\xed\x9f\xbf"), 8, 0, 0},
    {"U+E000 above surrogates", BYTES("\xee\x80\x80"), 8, 0, 0},
    {"U+FFFF", BYTES("\xef\xbf\xbf"), 8, 0, 0},
    {"U+10000", BYTES("\xf0\x90\x80\x80"), 8, 0, 0},
    {"U+10FFFF", BYTES("\xf4\x8f\xbf\xbf"), 8, 0, 0},
    {"overlong 2-byte C0 80", BYTES("ab\xc0\x80"), 8, ERR_INVALID, 2},
    {"overlong 2-byte C1 BF", BYTES("\xc1\xbf"), 8, ERR_INVALID, 0},
    {"overlong 3-byte slash", BYTES("x\xe0\x80\xaf"), 8, ERR_INVALID, 1},
    {"overlong 3-byte U+07FF", BYTES("\xe0\x9f\xbf"), 8, ERR_INVALID, 0},
    {"overlong 4-byte", BYTES("\xf0\x80\x80\xaf"), 8, ERR_INVALID, 0},
    {"overlong 4-byte U+FFFF", BYTES("\xf0\x8f\xbf\xbf"), 8, ERR_INVALID, 0},
    {"surrogate D800", BYTES("a\xed\xa0\x80"), 8, ERR_INVALID, 1},
    {"surrogate DFFF", BYTES("\xed\xbf\xbf"), 8, ERR_INVALID, 0},
    {"surrogate pair as CESU-8", BYTES("\xed\xa0\xbd\xed\xb8\x80"), 8, ERR_INVALID, 0},
    {"U+110000", BYTES("\xf4\x90\x80\x80"), 8, ERR_INVALID, 0},
    {"lead F5", BYTES("\xf5\x80\x80\x80"), 8, ERR_INVALID, 0},
    {"lead FF", BYTES("abc\xff"), 8, ERR_INVALID, 3},
    {"lone continuation", BYTES("\x80"), 8, ERR_INVALID, 0},
    {"continuation after valid", BYTES("\xc3\xa9\xa9"), 8, ERR_INVALID, 2},
    {"truncated 2-byte at end", BYTES("abc\xc3"), 8, ERR_INVALID, 3},
    {"truncated 3-byte at end", BYTES("\xe4\xb8"), 8, ERR_INVALID, 0},
    {"truncated 3-byte then ascii",
     BYTES("\xe4\xb8"
           "A"),
     8, ERR_INVALID, 0},
    {"truncated emoji at end", BYTES("xy\xf0\x9f\x98"), 8, ERR_INVALID, 2},
    {"truncated emoji then emoji", BYTES("\xf0\x9f\x98\xf0\x9f\x98\x80"), 8, ERR_INVALID, 0},
    {"bad byte after long ascii run", BYTES("{\"event\":\"Order Completed\",\"userId\":\"\xff\"}"),
     8, ERR_INVALID, 37},
    {"bad byte inside string after escape", BYTES("[\"\\\xc3\"]"), 8, ERR_INVALID, 3},
    {"valid char after escape", BYTES("[\"\\\xc3\xa9\"]"), 8, 0, 0},
};

/* ---- JSON nesting -------------------------------------------------------------- */

static const struct scan_case depth_cases[] = {
    {"flat object", BYTES("{}"), 1, 0, 0},
    {"no brackets at depth 0", BYTES("\"just a string\""), 0, 0, 0},
    {"bracket at depth 0", BYTES("[]"), 0, ERR_LIMIT, 0},
    {"two deep at limit 1", BYTES("[[]]"), 1, ERR_LIMIT, 1},
    {"two deep at limit 2", BYTES("[[]]"), 2, 0, 0},
    {"siblings do not add", BYTES("[[],[],{},{}]"), 2, 0, 0},
    {"mixed at limit", BYTES("{\"a\":[1,2,{\"b\":3}]}"), 3, 0, 0},
    {"mixed over limit", BYTES("{\"a\":[1,2,{\"b\":3}]}"), 2, ERR_LIMIT, 10},
    {"brackets inside string", BYTES("\"[[[[{{{{\""), 0, 0, 0},
    {"brackets in a value", BYTES("{\"a\":\"[[[{{{\"}"), 1, 0, 0},
    {"brackets in a key", BYTES("{\"[[[\":1}"), 1, 0, 0},
    {"closers in string keep depth", BYTES("[\"]]]]\",[[]]]"), 2, ERR_LIMIT, 9},
    {"escaped quote stays in string", BYTES("{\"a\":\"x\\\"[[[\"}"), 1, 0, 0},
    {"escaped quote then real end", BYTES("{\"a\":\"x\\\"\",\"b\":[[]]}"), 2, ERR_LIMIT, 16},
    {"escaped backslash ends string", BYTES("[\"\\\\\",[[]]]"), 2, ERR_LIMIT, 7},
    {"escaped backslash at limit", BYTES("[\"\\\\\",[[]]]"), 3, 0, 0},
    {"unicode escape", BYTES("[\"\\u005b\\u005d\"]"), 1, 0, 0},
    {"long string with brackets",
     BYTES("[\"aaaaaaaaaaaaaaaaaaaaaaaa[[[[[[[[[[[[[[[[bbbbbbbbbbbbbbbbbbbb\\\"[[[[[[[[cccc\"]"), 1,
     0, 0},
    {"bracket right after long string",
     BYTES("[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",[]]"), 1, ERR_LIMIT, 52},
    {"extra closers do not buy depth", BYTES("]]]]][[[]]]"), 2, ERR_LIMIT, 7},
    {"extra closers then ok", BYTES("]]]]][[]]"), 2, 0, 0},
    {"unterminated string", BYTES("[\"abc[[[["), 1, 0, 0},
    {"backslash at the very end", BYTES("[\"abc\\"), 1, 0, 0},
    {"chinese in strings", BYTES("{\"\xe5\xa7\x93\xe5\x90\x8d\":[\"\xe5\xbc\xa0\xe4\xb8\x89\"]}"),
     2, 0, 0},
    {"negative limit refuses brackets", BYTES("[]"), -1, ERR_LIMIT, 0},
};

static void run_scan_cases(const struct scan_case *cases, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        const struct scan_case *c = &cases[k];
        /* Copy into an exact-size heap buffer, so ASan catches any read past n. */
        char *buf = malloc(c->n ? c->n : 1);
        assert_non_null(buf);
        memcpy(buf, c->s, c->n);
        size_t at = (size_t)-1;
        int rc = text_scan_json(buf, c->n, c->max_depth, &at);
        free(buf);
        if (rc != c->rc || (rc != 0 && at != c->at))
            fail_msg("case \"%s\": rc %d at %zu, want rc %d at %zu", c->name, rc, at, c->rc, c->at);
    }
}

static void test_scan_utf8(void **state)
{
    (void)state;
    run_scan_cases(utf8_cases, ARRAY_SIZE(utf8_cases));
}

static void test_scan_depth(void **state)
{
    (void)state;
    run_scan_cases(depth_cases, ARRAY_SIZE(depth_cases));
}

static void test_scan_deep_nesting(void **state)
{
    (void)state;
    enum { DEEP = 1000 };
    const size_t n = (size_t)2 * DEEP;
    char *buf = malloc(n);
    assert_non_null(buf);
    memset(buf, '[', DEEP);
    memset(buf + DEEP, ']', DEEP);
    size_t at = 0;
    assert_int_equal(text_scan_json(buf, n, DEEP, &at), 0);
    assert_int_equal(text_scan_json(buf, n, DEEP - 1, &at), ERR_LIMIT);
    assert_int_equal(at, DEEP - 1);
    assert_int_equal(text_scan_json(buf, n, 32, NULL), ERR_LIMIT); /* at may be NULL */
    free(buf);
}

/* A byte-at-a-time reference that decodes code points the long way, to check the
 * scanner's fast path and table against on random input. */
static int reference_scan(const unsigned char *p, size_t n, int max_depth, size_t *at)
{
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c >= 0x80) {
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
            bool ok = len != 0 && c <= 0xf7 && n - i >= len;
            for (size_t k = 1; ok && k < len; k++) {
                ok = (p[i + k] & 0xc0) == 0x80;
                cp = cp << 6 | (p[i + k] & 0x3f);
            }
            static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (!ok || cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                *at = i;
                return ERR_INVALID;
            }
            escaped = false;
            i += len;
            continue;
        }
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (depth >= max_depth) {
                *at = i;
                return ERR_LIMIT;
            }
            depth++;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        i++;
    }
    return 0;
}

static uint64_t test_rng = 0x2545f4914f6cdd1dULL;

static uint64_t next_random(void)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

static void test_scan_matches_reference(void **state)
{
    (void)state;
    /* Pieces chosen to hit every branch: structure, escapes, plain runs long enough
     * for the 8-byte path, valid and invalid multi-byte sequences. */
    static const char *const pieces[] = {"[",
                                         "]",
                                         "{",
                                         "}",
                                         "\"",
                                         "\\",
                                         "a",
                                         " ",
                                         ":",
                                         ",",
                                         "abcdefghijklmnop",
                                         "\\\"",
                                         "\xc3\xa9",
                                         "\xe4\xb8\xad",
                                         "\xf0\x9f\x98\x80",
                                         "\xf4\x8f\xbf\xbf",
                                         "\xc0\x80",
                                         "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80",
                                         "\x80",
                                         "\xe4\xb8",
                                         "\xff"};
    unsigned char buf[512];
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = 0;
        size_t count = next_random() % 24;
        for (size_t k = 0; k < count; k++) {
            const char *piece = pieces[next_random() % ARRAY_SIZE(pieces)];
            /* Mostly valid pieces, so that scans get far before failing. */
            if ((unsigned char)piece[0] >= 0x80 && piece[0] != '\xc3' && next_random() % 8)
                piece = "xyz";
            size_t len = strlen(piece);
            memcpy(buf + n, piece, len);
            n += len;
        }
        int max_depth = (int)(next_random() % 5);
        size_t at1 = 0, at2 = 0;
        int rc1 = text_scan_json((const char *)buf, n, max_depth, &at1);
        int rc2 = reference_scan(buf, n, max_depth, &at2);
        assert_int_equal(rc1, rc2);
        if (rc1 != 0)
            assert_int_equal(at1, at2);
    }
}

static void test_utf8_length(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {BYTES(""), 0},
        {BYTES("hello"), 5},
        {BYTES("caf\xc3\xa9"), 4},
        {BYTES("\xe4\xb8\xad\xe6\x96\x87"), 2},
        {BYTES("\xf0\x9f\x98\x80"), 1},
        {BYTES("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"), 4},
        {BYTES("13800138000"), 11},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++)
        assert_int_equal(text_utf8_length(cases[k].s, cases[k].n), cases[k].want);
}

/* ---- base64 -------------------------------------------------------------------- */

static void test_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *want;
        size_t want_len;
    } cases[] = {
        {"", 0, BYTES("")},
        {"Zg==", 0, BYTES("f")},
        {"Zg", 0, BYTES("f")},
        {"Zm8=", 0, BYTES("fo")},
        {"Zm8", 0, BYTES("fo")},
        {"Zm9v", 0, BYTES("foo")},
        {"Zm9vYg==", 0, BYTES("foob")},
        {"Zm9vYg", 0, BYTES("foob")},
        {"Zm9vYmE=", 0, BYTES("fooba")},
        {"Zm9vYmE", 0, BYTES("fooba")},
        {"Zm9vYmFy", 0, BYTES("foobar")},
        {"d3JpdGVrZXk6", 0, BYTES("writekey:")},
        {"+/8=", 0, BYTES("\xfb\xff")},
        {"AA==", 0, BYTES("\0")},
        {"5a6i5oi3", 0, BYTES("\xe5\xae\xa2\xe6\x88\xb7")},
        {"Z", ERR_INVALID, NULL, 0},             /* 1 character left over */
        {"Zm9vY", ERR_INVALID, NULL, 0},         /* likewise */
        {"Zg=", ERR_INVALID, NULL, 0},           /* padding that does not complete 4 */
        {"Zg===", ERR_INVALID, NULL, 0},         /* too much padding */
        {"====", ERR_INVALID, NULL, 0},          /* nothing but padding */
        {"=Zg=", ERR_INVALID, NULL, 0},          /* padding first */
        {"Zg==Zg==", ERR_INVALID, NULL, 0},      /* padding in the middle */
        {"Zm-v", ERR_INVALID, NULL, 0},          /* base64url alphabet */
        {"Zm_v", ERR_INVALID, NULL, 0},          /* base64url alphabet */
        {"Zm9v YmFy", ERR_INVALID, NULL, 0},     /* whitespace */
        {"Zm9vYmFy\n", ERR_INVALID, NULL, 0},    /* trailing newline */
        {"Zm9v\xc3\xa9=", ERR_INVALID, NULL, 0}, /* non-ASCII */
        {"Zh==", ERR_INVALID, NULL, 0},          /* pad bits not zero */
        {"Zm9=", ERR_INVALID, NULL, 0},          /* pad bits not zero */
        {"Zh", ERR_INVALID, NULL, 0},            /* pad bits not zero, unpadded */
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        char out[64];
        size_t outlen = 12345;
        int rc = text_base64_decode(cases[k].in, strlen(cases[k].in), out, sizeof(out), &outlen);
        if (rc != cases[k].rc)
            fail_msg("\"%s\": rc %d, want %d", cases[k].in, rc, cases[k].rc);
        if (rc == 0) {
            assert_int_equal(outlen, cases[k].want_len);
            assert_memory_equal(out, cases[k].want, outlen);
        }
    }
}

static void test_base64_capacity(void **state)
{
    (void)state;
    char out[6];
    size_t outlen = 0;
    assert_int_equal(text_base64_decode("Zm9vYmFy", 8, out, 6, &outlen), 0);
    assert_int_equal(outlen, 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(text_base64_decode("Zm9vYmFy", 8, out, 5, &outlen), ERR_LIMIT);
    assert_int_equal(text_base64_decode("Zm9vYmE=", 8, out, 5, &outlen), 0);
    assert_int_equal(outlen, 5);
    assert_int_equal(text_base64_decode("Zm9vYmE=", 8, out, 4, &outlen), ERR_LIMIT);
    assert_int_equal(text_base64_decode("", 0, NULL, 0, &outlen), 0);
    assert_int_equal(outlen, 0);
}

/* ---- UUIDs --------------------------------------------------------------------- */

static bool uuid_well_formed(const char *u)
{
    for (int k = 0; k < 36; k++) {
        char c = u[k];
        if (k == 8 || k == 13 || k == 18 || k == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return u[36] == '\0' && u[14] == '4' && strchr("89ab", u[19]) != NULL;
}

static int compare_uuid(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

static void test_uuid_format_and_uniqueness(void **state)
{
    (void)state;
    enum { COUNT = 10000 };
    char(*u)[37] = malloc(COUNT * sizeof(*u));
    assert_non_null(u);
    int version_bits_seen = 0;
    for (int k = 0; k < COUNT; k++) {
        memset(u[k], 'x', 37);
        text_uuid4(u[k]);
        if (!uuid_well_formed(u[k]))
            fail_msg("malformed uuid \"%.37s\"", u[k]);
        version_bits_seen |= 1 << (strchr("89ab", u[k][19]) - "89ab");
    }
    assert_int_equal(version_bits_seen, 0xf); /* the 2 free variant bits do vary */
    qsort(u, COUNT, sizeof(*u), compare_uuid);
    for (int k = 1; k < COUNT; k++)
        if (memcmp(u[k - 1], u[k], 37) == 0)
            fail_msg("duplicate uuid %s", u[k]);
    free(u);
}

static void *uuid_thread(void *arg)
{
    text_uuid4(arg);
    return NULL;
}

static void test_uuid_threads_differ(void **state)
{
    (void)state;
    enum { THREADS = 8 };
    pthread_t t[THREADS];
    char u[THREADS][37];
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, uuid_thread, u[k]), 0);
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_join(t[k], NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        assert_true(uuid_well_formed(u[i]));
        for (int j = i + 1; j < THREADS; j++)
            assert_true(memcmp(u[i], u[j], 37) != 0);
    }
}

static void test_uuid_fork_reseeds(void **state)
{
    (void)state;
    char parent[37], child[37] = {0};
    int fds[2];
    text_uuid4(parent); /* seed this thread before forking */
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char u[37];
        text_uuid4(u);
        _exit(write(fds[1], u, 37) == 37 ? 0 : 1);
    }
    close(fds[1]);
    text_uuid4(parent);
    assert_int_equal(read(fds[0], child, 37), 37);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(uuid_well_formed(child));
    assert_true(memcmp(parent, child, 37) != 0);
}

/* ---- hash128 ------------------------------------------------------------------- */

static void test_hash_known_answers(void **state)
{
    (void)state;
    /* Pinned outputs: the hash keys persisted dedup sets, so it must give the same
     * values on every machine and in every release. Changing these is a format change. */
    static const struct {
        const char *s;
        uint64_t seed, hi, lo;
    } cases[] = {
        {"", 0, 0x9130c0d7a513ef94ULL, 0x15398a700ae890a7ULL},
        {"a", 0, 0xc9a5c6fa44885999ULL, 0x6033bbf46898d6b2ULL},
        {"messageId-0001", 0, 0x0713c15e1a7d95f0ULL, 0xc92dfb8a6d2ae532ULL},
        {"ajs-next-4a7b5b0e-2c1d-4f4e-9d2a-0d3c0f5e1b2a", 42, 0x604f287f5f7106c0ULL,
         0x537dd2725dd58efbULL},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        struct hash128 h = text_hash128(cases[k].s, strlen(cases[k].s), cases[k].seed);
        if (h.hi != cases[k].hi || h.lo != cases[k].lo)
            fail_msg("\"%s\": got {0x%016" PRIx64 "ULL, 0x%016" PRIx64 "ULL}", cases[k].s, h.hi,
                     h.lo);
    }
}

static void test_hash_deterministic_and_seeded(void **state)
{
    (void)state;
    static const char msg[] = "{\"messageId\":\"ajs-2f1e\",\"type\":\"track\"}";
    struct hash128 a = text_hash128(msg, sizeof(msg) - 1, 7);
    struct hash128 b = text_hash128(msg, sizeof(msg) - 1, 7);
    assert_true(a.hi == b.hi && a.lo == b.lo);
    for (uint64_t seed = 0; seed < 64; seed++) {
        struct hash128 c = text_hash128(msg, sizeof(msg) - 1, seed == 7 ? 1u << 31 : seed);
        assert_true(c.hi != a.hi && c.lo != a.lo);
    }
    /* Alignment does not matter: the same bytes at every offset hash the same. */
    char buf[64 + 8];
    for (size_t off = 0; off < 8; off++) {
        memcpy(buf + off, msg, sizeof(msg) - 1);
        struct hash128 d = text_hash128(buf + off, sizeof(msg) - 1, 7);
        assert_true(d.hi == a.hi && d.lo == a.lo);
    }
}

static void test_hash_lengths_differ(void **state)
{
    (void)state;
    /* Zero-filled inputs of every length 0..64 (padding must not make them equal),
     * and each against its own one-byte change in every position. */
    unsigned char zeros[64] = {0};
    struct hash128 h[65];
    for (size_t n = 0; n <= 64; n++) {
        h[n] = text_hash128(zeros, n, 0);
        for (size_t m = 0; m < n; m++)
            assert_false(h[m].hi == h[n].hi || h[m].lo == h[n].lo);
        for (size_t pos = 0; pos < n; pos++) {
            zeros[pos] = 1;
            struct hash128 g = text_hash128(zeros, n, 0);
            zeros[pos] = 0;
            assert_false(g.hi == h[n].hi || g.lo == h[n].lo);
        }
    }
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Counts equal neighbours after sorting. */
static size_t count_duplicates(uint64_t *v, size_t n)
{
    size_t dups = 0;
    qsort(v, n, sizeof(*v), compare_u64);
    for (size_t k = 1; k < n; k++)
        dups += v[k] == v[k - 1];
    return dups;
}

static void test_hash_no_collisions(void **state)
{
    (void)state;
    /* 1,000,000 sequential keys, twice: as 8-byte integers and as short decimal
     * strings. Even each 64-bit half alone must not collide (expected collisions per
     * half: 1e12 / 2^65, about 3e-8). */
    enum { KEYS = 1000000 };
    uint64_t *hi = malloc(KEYS * sizeof(*hi)), *lo = malloc(KEYS * sizeof(*lo));
    assert_non_null(hi);
    assert_non_null(lo);
    for (int form = 0; form < 2; form++) {
        for (uint64_t k = 0; k < KEYS; k++) {
            char key[32];
            size_t n;
            if (form == 0) {
                for (int b = 0; b < 8; b++)
                    key[b] = (char)(k >> (8 * b));
                n = 8;
            } else {
                n = (size_t)snprintf(key, sizeof(key), "msg-%" PRIu64, k);
            }
            struct hash128 h = text_hash128(key, n, 0);
            hi[k] = h.hi;
            lo[k] = h.lo;
        }
        assert_int_equal(count_duplicates(hi, KEYS), 0);
        assert_int_equal(count_duplicates(lo, KEYS), 0);
    }
    free(hi);
    free(lo);
}

static void test_hash_avalanche(void **state)
{
    (void)state;
    /* Flipping any one input bit flips each output bit with probability about 1/2. */
    enum { TRIALS = 200 };
    unsigned char in[40];
    double worst_bit = 0.0;
    for (size_t len = 1; len <= sizeof(in); len += 13) {
        int flips[128] = {0};
        long total = 0, samples = 0;
        for (int t = 0; t < TRIALS; t++) {
            for (size_t k = 0; k < len; k++)
                in[k] = (unsigned char)next_random();
            struct hash128 a = text_hash128(in, len, 0);
            for (size_t bit = 0; bit < len * 8; bit++) {
                in[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                struct hash128 b = text_hash128(in, len, 0);
                in[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                uint64_t dh = a.hi ^ b.hi, dl = a.lo ^ b.lo;
                for (int o = 0; o < 64; o++) {
                    flips[o] += (int)(dh >> o & 1);
                    flips[64 + o] += (int)(dl >> o & 1);
                }
                total += __builtin_popcountll(dh) + __builtin_popcountll(dl);
                samples++;
            }
        }
        double mean = (double)total / (double)samples;
        assert_true(mean > 63.0 && mean < 65.0);
        for (int o = 0; o < 128; o++) {
            double p = (double)flips[o] / (double)samples;
            double bias = p > 0.5 ? p - 0.5 : 0.5 - p;
            if (bias > worst_bit)
                worst_bit = bias;
        }
    }
    assert_true(worst_bit < 0.06);
}

/* ---- constant-time comparison --------------------------------------------------- */

static void test_equal_ct(void **state)
{
    (void)state;
    assert_int_equal(text_equal_ct("secret-key", "secret-key", 10), 1);
    assert_int_equal(text_equal_ct("secret-key", "Secret-key", 10), 0);
    assert_int_equal(text_equal_ct("secret-key", "secret-kez", 10), 0);
    assert_int_equal(text_equal_ct("\x80", "\x00", 1), 0);
    assert_int_equal(text_equal_ct("\xff", "\xfe", 1), 0);
    assert_int_equal(text_equal_ct("a", "b", 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_utf8),
        cmocka_unit_test(test_scan_depth),
        cmocka_unit_test(test_scan_deep_nesting),
        cmocka_unit_test(test_scan_matches_reference),
        cmocka_unit_test(test_utf8_length),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_base64_capacity),
        cmocka_unit_test(test_uuid_format_and_uniqueness),
        cmocka_unit_test(test_uuid_threads_differ),
        cmocka_unit_test(test_uuid_fork_reseeds),
        cmocka_unit_test(test_hash_known_answers),
        cmocka_unit_test(test_hash_deterministic_and_seeded),
        cmocka_unit_test(test_hash_lengths_differ),
        cmocka_unit_test(test_hash_no_collisions),
        cmocka_unit_test(test_hash_avalanche),
        cmocka_unit_test(test_equal_ct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
