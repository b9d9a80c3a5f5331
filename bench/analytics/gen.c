/* gen.c - the analytics benchmark's data: CUSTOMERS customers, ORDERS orders and
 * about EVENTS events over 2024-2025, deterministic (splitmix64 from a fixed seed), as
 * two CSV files every engine loads: orders.csv (p,t,amount,channel) and events.csv
 * (p,t,name,category). p is the customer (profile) number, t ms UTC, amount minor
 * units; category is the product category (the property a funnel step filters on) of
 * a session's product events, empty for page views.
 *
 * usage: gen CUSTOMERS ORDERS EVENTS OUTDIR
 *
 * Orders go to customers with a skew (a few buy often, many once or never); events
 * are shopping sessions: Product Viewed, then Product Added, Checkout Started and
 * Order Completed each with a falling probability, seconds to minutes apart, with
 * page views in between. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0  1704067200000LL /* 2024-01-01T00:00:00Z */
#define T1  1767225600000LL /* 2026-01-01T00:00:00Z */
#define SEC 1000LL

static uint64_t state = 0x5eed5eed5eedULL;

static uint64_t next(void)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double unit(void)
{
    return (double)(next() >> 11) / 9007199254740992.0;
}

static uint64_t below(uint64_t n)
{
    return next() % n;
}

/* A customer, skewed towards low numbers: u^2 puts half the picks in the first quarter. */
static uint64_t customer(uint64_t n)
{
    double u = unit();
    uint64_t c = (uint64_t)((double)n * u * u);
    return (c < n ? c : n - 1) + 1;
}

static int parse(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || x == 0)
        return -1;
    *v = x;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t nc, no, ne;
    if (argc != 5 || parse(argv[1], &nc) || parse(argv[2], &no) || parse(argv[3], &ne)) {
        fprintf(stderr, "usage: gen CUSTOMERS ORDERS EVENTS OUTDIR (counts > 0)\n");
        return 2;
    }
    static const char *const channels[] = {"pos", "tmall", "jd", "web", "miniprogram"};
    char path[4096];
    snprintf(path, sizeof(path), "%s/orders.csv", argv[4]);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "gen: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof(buf));
    fprintf(f, "p,t,amount,channel\n");
    for (uint64_t i = 0; i < no; i++) {
        int64_t t = T0 + (int64_t)below((uint64_t)(T1 - T0));
        int64_t amount =
            990 + (int64_t)below(60000) + (below(10) == 0 ? (int64_t)below(200000) : 0);
        fprintf(f, "%" PRIu64 ",%" PRId64 ",%" PRId64 ",%s\n", customer(nc), t, amount,
                channels[below(5)]);
    }
    if (fclose(f)) {
        fprintf(stderr, "gen: cannot write %s\n", path);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/events.csv", argv[4]);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "gen: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    setvbuf(f, buf, _IOFBF, sizeof(buf));
    fprintf(f, "p,t,name,category\n");
    static const char *const categories[] = {"food", "baby",   "beauty", "electronics",
                                             "home", "sports", "books",  "apparel"};
    static const char *const steps[] = {"Product Viewed", "Product Added", "Checkout Started",
                                        "Order Completed"};
    static const double go_on[] = {1.0, 0.45, 0.55, 0.8};
    uint64_t written = 0;
    while (written < ne) {
        uint64_t p = customer(nc);
        int64_t t = T0 + (int64_t)below((uint64_t)(T1 - T0));
        const char *cat = categories[below(8)];
        for (int k = 0; k < 4 && written < ne; k++) {
            if (k && unit() > go_on[k])
                break;
            /* a page view or two between the steps */
            for (uint64_t v = below(3); v > 0 && written < ne; v--) {
                t += (int64_t)(5 + below(120)) * SEC;
                fprintf(f, "%" PRIu64 ",%" PRId64 ",page,\n", p, t);
                written++;
            }
            if (written >= ne)
                break;
            t += (int64_t)(10 + below(900)) * SEC;
            /* now and then a session picks up days later */
            if (below(20) == 0)
                t += (int64_t)below(10) * 86400 * SEC;
            fprintf(f, "%" PRIu64 ",%" PRId64 ",%s,%s\n", p, t, steps[k], cat);
            written++;
        }
    }
    if (fclose(f)) {
        fprintf(stderr, "gen: cannot write %s\n", path);
        return 1;
    }
    return 0;
}
