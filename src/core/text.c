/* text.c - byte-level helpers for input off the wire: UTF-8 and JSON nesting checks,
 * base64, UUIDs, 128-bit hashing, constant-time comparison. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/text.h"

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The 8 bytes at p as a little-endian word, whatever the host's byte order. */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* A bijective 64-bit finalizer: xor-shift, multiply, xor-shift, multiply, xor-shift.
 * The constants are David Stafford's "Mix13" variant of MurmurHash3's fmix64, the
 * same ones SplitMix64 uses; every input bit affects every output bit. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* ---- UTF-8 and JSON nesting ---------------------------------------------------- */

/* Nonzero if some byte of w equals c (the classic "has a zero byte" test on w ^ c..c;
 * exact about whether there is one, which is all that is asked here). */
static inline uint64_t has_byte(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (ONES * c);
    return (x - ONES) & ~x & HIGHS;
}

/* Nonzero if the word holds a byte that the scanner must look at: any non-ASCII byte,
 * and, inside a string, '"' or '\\'; outside, '"' or a bracket. '[' (0x5b) and '{'
 * (0x7b) differ only in bit 5, and so do ']' and '}', so setting bit 5 folds each pair
 * into one comparison (no other ASCII byte folds onto 0x7b or 0x7d). */
static inline uint64_t json_special(uint64_t w, bool in_string)
{
    uint64_t hit = (w & HIGHS) | has_byte(w, '"');
    if (in_string)
        return hit | has_byte(w, '\\');
    uint64_t folded = w | (ONES * 0x20);
    return hit | has_byte(folded, '{') | has_byte(folded, '}');
}

/* Length of the well-formed UTF-8 sequence of 2-4 bytes that starts at p (p[0] >= 0x80),
 * with avail bytes available, or 0 if it is ill-formed (Unicode table 3-7: no
 * overlongs, no surrogates D800-DFFF, nothing above U+10FFFF, no truncation). */
static size_t utf8_sequence(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c < 0xc2) /* a continuation byte, or C0/C1 (always overlong) */
        return 0;
    if (c < 0xe0) {
        len = 2;
    } else if (c < 0xf0) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* below U+0800: overlong */
        else if (c == 0xed)
            hi = 0x9f; /* U+D800-DFFF: surrogates */
    } else if (c < 0xf5) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* below U+10000: overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

int text_scan_json(const char *s, size_t n, int max_depth, size_t *at)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int depth = 0;
    bool in_string = false, escaped = false;

    while (i < n) {
        /* Fast path: skip 8 bytes at a time while none of them matters. Not right
         * after a backslash, whose next byte is consumed whatever it is. */
        if (!escaped) {
            while (n - i >= 8 && !json_special(load_le64(p + i), in_string))
                i += 8;
            if (i == n)
                break;
        }
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t len = utf8_sequence(p + i, n - i);
            if (len == 0) {
                if (at)
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
                if (at)
                    *at = i;
                return ERR_LIMIT;
            }
            depth++;
        } else if ((c == ']' || c == '}') && depth > 0) {
            /* Unbalanced closers are the parser's to reject; not going below zero
             * keeps "]]]][[[[" from buying extra depth. */
            depth--;
        }
        i++;
    }
    return 0;
}

size_t text_utf8_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xc0) != 0x80; /* every byte but continuations */
    return count;
}

size_t text_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t len = utf8_sequence(p, n);
    if (len == 0)
        return 0;
    uint32_t v = p[0] & (0x7fu >> len); /* the lead byte keeps 7 - len bits */
    for (size_t k = 1; k < len; k++)
        v = v << 6 | (p[k] & 0x3fu);
    *cp = v;
    return len;
}

/* ---- base64 -------------------------------------------------------------------- */

/* The 6-bit value of a base64 character, or -1. */
static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int text_base64_decode(const char *in, size_t n, char *out, size_t cap, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)in;

    /* Padding, if any, completes the last group of four. */
    if (n > 0 && n % 4 == 0 && p[n - 1] == '=') {
        n -= p[n - 2] == '=' ? 2 : 1;
    }
    size_t tail = n % 4;
    if (tail == 1)
        return ERR_INVALID;
    size_t len = n / 4 * 3 + (tail ? tail - 1 : 0);
    if (len > cap)
        return ERR_LIMIT;

    size_t i = 0, o = 0;
    for (; i + 4 <= n; i += 4) {
        int a = base64_value(p[i]), b = base64_value(p[i + 1]);
        int c = base64_value(p[i + 2]), d = base64_value(p[i + 3]);
        if ((a | b | c | d) < 0)
            return ERR_INVALID;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (char)(v >> 16);
        out[o++] = (char)(v >> 8 & 0xff);
        out[o++] = (char)(v & 0xff);
    }
    if (tail) {
        int a = base64_value(p[i]), b = base64_value(p[i + 1]);
        int c = tail == 3 ? base64_value(p[i + 2]) : 0;
        if ((a | b | c) < 0)
            return ERR_INVALID;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* The bits past the last whole byte must be zero (RFC 4648 3.5), so that
         * every byte string has exactly one encoding. */
        if (v & (tail == 2 ? 0xffffu : 0xffu))
            return ERR_INVALID;
        out[o++] = (char)(v >> 16);
        if (tail == 3)
            out[o++] = (char)(v >> 8 & 0xff);
    }
    *outlen = o;
    return 0;
}

/* ---- UUIDs --------------------------------------------------------------------- */

/* Per-thread xoshiro256** (Blackman and Vigna), seeded from getrandom(). A child
 * after fork() must not repeat its parent's sequence: a fork handler bumps a
 * generation counter, and a state seeded in an older generation is reseeded. (Asking
 * getpid() on every call would do too, but costs a system call per UUID.) */
static _Thread_local struct {
    uint64_t s[4];
    unsigned generation;
    bool seeded;
} uuid_rng;

static atomic_uint uuid_fork_generation;
static pthread_once_t uuid_atfork_once = PTHREAD_ONCE_INIT;

static void uuid_after_fork_in_child(void)
{
    atomic_fetch_add(&uuid_fork_generation, 1);
}

static void uuid_register_atfork(void)
{
    pthread_atfork(NULL, NULL, uuid_after_fork_in_child);
}

static void uuid_seed(void)
{
    uint64_t seed[4] = {0};
    size_t got = 0;
    while (got < sizeof(seed)) {
        ssize_t r = getrandom((char *)seed + got, sizeof(seed) - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            break;
    }
    if (got < sizeof(seed)) {
        /* No OS randomness (a very old kernel or a seccomp filter): fall back to the
         * clocks, the process and the state's address, stretched by SplitMix64. */
        struct timespec rt = {0}, mono = {0};
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        uint64_t x = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
        x ^= rotl64((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec, 32);
        x ^= (uint64_t)getpid() << 16 ^ (uint64_t)gettid() ^ (uint64_t)(uintptr_t)&uuid_rng;
        for (int k = 0; k < 4; k++) {
            x += UINT64_C(0x9e3779b97f4a7c15);
            seed[k] ^= mix64(x);
        }
    }
    if ((seed[0] | seed[1] | seed[2] | seed[3]) == 0) /* the one state xoshiro avoids */
        seed[0] = 1;
    memcpy(uuid_rng.s, seed, sizeof(seed));
    uuid_rng.generation = atomic_load(&uuid_fork_generation);
    uuid_rng.seeded = true;
}

static uint64_t uuid_next(void)
{
    uint64_t *s = uuid_rng.s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

void text_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];

    pthread_once(&uuid_atfork_once, uuid_register_atfork);
    if (!uuid_rng.seeded || uuid_rng.generation != atomic_load(&uuid_fork_generation))
        uuid_seed();
    uint64_t hi = uuid_next(), lo = uuid_next();
    for (int k = 0; k < 8; k++) {
        b[k] = (unsigned char)(hi >> (56 - 8 * k));
        b[8 + k] = (unsigned char)(lo >> (56 - 8 * k));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */

    size_t o = 0;
    for (int k = 0; k < 16; k++) {
        if (k == 4 || k == 6 || k == 8 || k == 10)
            out[o++] = '-';
        out[o++] = hex[b[k] >> 4];
        out[o++] = hex[b[k] & 0x0f];
    }
    out[o] = '\0';
}

/* ---- 128-bit hash -------------------------------------------------------------- */

/* Two lanes absorb every 8-byte little-endian word, each with its own multiplier,
 * rotation of the word and shift. For a fixed lane state each step is a bijection of
 * the word, and for a fixed word a bijection of the state, so two inputs of the same
 * length that differ in one word never collide in either lane. The finalizer folds
 * in the length, mixes each lane, and mixes the lanes into each other. */
#define HASH_M1 UINT64_C(0x9e3779b97f4a7c15) /* 2^64 / golden ratio, odd */
#define HASH_M2 UINT64_C(0xd1b54a32d192ed03) /* an odd multiplier with good spectral figures */
#define HASH_K1 UINT64_C(0x243f6a8885a308d3) /* digits of pi: nothing up the sleeve */
#define HASH_K2 UINT64_C(0x13198a2e03707344)

static inline uint64_t hash_lane1(uint64_t a, uint64_t w)
{
    a = (a ^ w) * HASH_M1;
    return a ^ (a >> 32);
}

static inline uint64_t hash_lane2(uint64_t b, uint64_t w)
{
    b = (b ^ rotl64(w, 27)) * HASH_M2;
    return b ^ (b >> 29);
}

struct hash128 text_hash128(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *q = p;
    uint64_t a = seed ^ HASH_K1;
    uint64_t b = rotl64(seed, 32) ^ HASH_K2;
    size_t i = 0;

    for (; n - i >= 16; i += 16) {
        uint64_t w0 = load_le64(q + i), w1 = load_le64(q + i + 8);
        a = hash_lane1(hash_lane1(a, w0), w1);
        b = hash_lane2(hash_lane2(b, w0), w1);
    }
    if (n - i >= 8) {
        uint64_t w = load_le64(q + i);
        a = hash_lane1(a, w);
        b = hash_lane2(b, w);
        i += 8;
    }
    if (i < n) {
        /* 1-7 bytes left: zero-padded, which is unambiguous because n is mixed in. */
        unsigned char last[8] = {0};
        memcpy(last, q + i, n - i);
        uint64_t w = load_le64(last);
        a = hash_lane1(a, w);
        b = hash_lane2(b, w);
    }

    a = mix64(a ^ (uint64_t)n);
    b = mix64(b ^ rotl64((uint64_t)n, 32) ^ HASH_K1);
    a += b; /* (a, b) -> (a + b, a + 2b) is invertible: no entropy lost */
    b += a;
    struct hash128 h = {.hi = mix64(a), .lo = mix64(b ^ HASH_K2)};
    return h;
}

/* ---- constant-time comparison --------------------------------------------------- */

int text_equal_ct(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    /* diff is 0..255: (diff - 1) >> 8 has its low bit set only when diff == 0. */
    return (int)(1 & ((diff - 1) >> 8));
}

size_t text_json_skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Skips one JSON value of valid JSON text starting at s[i]; returns the index after it. */
size_t text_json_skip_value(const char *s, size_t n, size_t i)
{
    int depth = 0;
    bool in_string = false;
    for (; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"') {
                in_string = false;
                if (depth == 0)
                    return i + 1;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i; /* the end of a scalar at the end of its container */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return i;
        }
    }
    return i;
}

void text_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}
