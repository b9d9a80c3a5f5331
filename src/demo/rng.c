/* rng.c - the demo world's own pseudo-random numbers (never rand(): the files must be
 * the same for a seed on every machine and libc).
 *
 * splitmix64 (Steele, Lea, Flood 2014) hashes and seeds; xoshiro256** (Blackman and
 * Vigna 2018) generates. Unique per-customer numbers come from demo_perm, a keyed
 * bijection of [0, 10^k). See demo.h. */
#include "demo/demo.h"

uint64_t demo_mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t demo_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t h = demo_mix64(a);
    h = demo_mix64(h ^ b);
    h = demo_mix64(h ^ c);
    return demo_mix64(h ^ d);
}

void demo_rng_seed(struct demo_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        uint64_t z = x;
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        r->s[i] = z ^ (z >> 31);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t demo_rng_next(struct demo_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t demo_rng_below(struct demo_rng *r, uint32_t n)
{
    uint64_t m = (demo_rng_next(r) >> 32) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t threshold = (uint32_t)-n % n;
        while (lo < threshold) {
            m = (demo_rng_next(r) >> 32) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

int demo_rng_range(struct demo_rng *r, int lo, int hi)
{
    return lo + (int)demo_rng_below(r, (uint32_t)(hi - lo + 1));
}

double demo_rng_unit(struct demo_rng *r)
{
    return (double)(demo_rng_next(r) >> 11) * 0x1.0p-53;
}

bool demo_rng_chance(struct demo_rng *r, double p)
{
    return demo_rng_unit(r) < p;
}

size_t demo_rng_weighted(struct demo_rng *r, const float *weights, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    double x = demo_rng_unit(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    /* rounding left x at the top: the last non-zero weight */
    for (size_t i = n; i-- > 0;)
        if (weights[i] > 0)
            return i;
    return 0;
}

/* The digits of x (k of them, with leading zeros) in reverse order: a bijection. */
static uint64_t reverse_digits(uint64_t x, int k)
{
    uint64_t y = 0;
    for (int i = 0; i < k; i++) {
        y = y * 10 + x % 10;
        x /= 10;
    }
    return y;
}

/* An affine bijection of [0, mod): a must be odd and not a multiple of 5. */
static uint64_t affine(uint64_t x, uint64_t key, uint64_t mod)
{
    uint64_t a = (key % mod) | 1;
    if (a % 5 == 0)
        a = (a + 2) % mod;
    uint64_t b = (key >> 32) % mod;
    return (a * x + b) % mod; /* a, x < 10^9: the product fits */
}

uint64_t demo_perm(uint64_t seed, uint64_t tag, uint64_t x, uint64_t mod)
{
    int k = 0;
    for (uint64_t m = mod; m > 1; m /= 10)
        k++;
    x = affine(x, demo_hash(seed, tag, 1, 0), mod);
    x = reverse_digits(x, k);
    x = affine(x, demo_hash(seed, tag, 2, 0), mod);
    x = reverse_digits(x, k);
    return affine(x, demo_hash(seed, tag, 3, 0), mod);
}

static void uuid_format(uint64_t hi, uint64_t lo, const char *digits, char out[37])
{
    /* 32 hex digits: digit 12 is the version (4), digit 16 the variant (8-b); the
     * other 30 take hi's 16 nibbles, then 14 of lo's. */
    int o = 0, from_hi = 0, from_lo = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        unsigned v;
        if (i == 12)
            v = 4;
        else if (i == 16)
            v = 8 | (unsigned)(lo >> 62);
        else if (from_hi < 16)
            v = (unsigned)(hi >> (60 - 4 * from_hi++)) & 0xf;
        else
            v = (unsigned)(lo >> (52 - 4 * from_lo++)) & 0xf;
        out[o++] = digits[v];
    }
    out[o] = '\0';
}

void demo_uuid(uint64_t hi, uint64_t lo, char out[37])
{
    uuid_format(hi, lo, "0123456789abcdef", out);
}

void demo_uuid_upper(uint64_t hi, uint64_t lo, char out[37])
{
    uuid_format(hi, lo, "0123456789ABCDEF", out);
}
