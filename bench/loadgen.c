/* loadgen.c - load generator for the Segment HTTP Tracking API that Custos implements.
 *
 *   batch  closed loop: each connection POSTs /v1/batch with realistic track, identify and
 *          page messages, waits for the answer, repeats. With --ack-log the messageIds of
 *          every acknowledged batch are appended to a file before the next request goes
 *          out, so a crash test can compare what the server acknowledged with what it kept.
 *   rate   open loop: single POST /v1/track requests on a fixed schedule. Latency runs
 *          from the *scheduled* send time, so a stalled server shows up in the percentiles
 *          instead of slowing the schedule down (no coordinated omission).
 *   gen    the body generator alone on one core (it must never be the bottleneck), or
 *          --dump to print one body.
 *
 * Self-contained on purpose: libc and pthreads only, blocking sockets with poll()
 * deadlines, HTTP/1.1 keep-alive, no project code, so it measures the server and not a
 * client library. One thread per connection; each keeps its own counters and latency
 * histogram, merged at the end. Prints one JSON line on stdout, a summary on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/banned.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Limits, each with its reason. */
#define KIB ((size_t)1024)
/* One thread each; beyond this we would measure the scheduler. */
#define MAX_CONNECTIONS 1024
/* 10,000 x ~700 B = 7 MB, far past any sane batch limit of a server. */
#define MAX_BATCH 10000
/* messageId prefix; ids stay well under 100 bytes. */
#define MAX_PREFIX 64
/* Write keys are ~32 characters. */
#define MAX_KEY 1024
/* Status line + headers; a tracking API answers with a few hundred bytes. */
#define MAX_RESPONSE_HEAD (64 * KIB)
/* A chunk-size line, extensions included. */
#define MAX_CHUNK_LINE (4 * KIB)
/* Content-Length and chunk sizes accepted at all (the body is read and dropped). */
#define MAX_BODY_BYTES (1ULL << 40)
#define RBUF_SIZE      (MAX_RESPONSE_HEAD + 16 * KIB)
/* How much of the first error body the summary quotes. */
#define SNIPPET_BYTES 200
/* After an error: wait 10 ms, doubling to 250 ms, so a restarted server is seen soon. */
#define BACKOFF_MIN_NS (10 * NS_PER_MS)
#define BACKOFF_MAX_NS (250 * NS_PER_MS)
/* Longest uninterrupted wait, so ^C and the end of the run are noticed in time. */
#define SLICE_NS (100 * NS_PER_MS)
/* Send timeout slice on a connected socket; the request deadline is checked between. */
#define SEND_SLICE_MS 100

#define NS_PER_S  1000000000LL
#define NS_PER_MS 1000000LL

/* ---------------------------------------------------------------------------------------
 * Configuration: one table drives parsing, mode checks and bounds. */

enum mode { MODE_BATCH = 1, MODE_RATE = 2, MODE_GEN = 4 };
#define MODE_NET (MODE_BATCH | MODE_RATE)
#define MODE_ALL (MODE_BATCH | MODE_RATE | MODE_GEN)

struct config {
    enum mode mode;
    const char *host;
    const char *port;
    const char *key;
    uint64_t connections;
    double duration;
    uint64_t batch;
    uint64_t max_requests; /* 0: no limit */
    const char *ack_log;
    const char *id_prefix;
    double rate;
    double timeout;
    uint64_t users;
    uint64_t seed;
    bool dump;
    bool pii, pii_all;
    bool help;
};

enum opt_type { OPT_STR, OPT_U64, OPT_DOUBLE, OPT_FLAG };

struct opt {
    const char *name;
    enum opt_type type;
    unsigned modes;
    size_t off;
    double min, max;
};

#define CFG(f) offsetof(struct config, f)
static const struct opt opts[] = {
    {"host", OPT_STR, MODE_NET, CFG(host), 0, 0},
    {"port", OPT_STR, MODE_NET, CFG(port), 0, 0},
    {"key", OPT_STR, MODE_NET, CFG(key), 0, 0},
    {"connections", OPT_U64, MODE_NET, CFG(connections), 1, MAX_CONNECTIONS},
    {"duration", OPT_DOUBLE, MODE_ALL, CFG(duration), 0.001, 7 * 86400},
    {"batch", OPT_U64, MODE_BATCH | MODE_GEN, CFG(batch), 1, MAX_BATCH},
    {"max-requests", OPT_U64, MODE_NET, CFG(max_requests), 1, 1e15},
    {"ack-log", OPT_STR, MODE_NET, CFG(ack_log), 0, 0},
    {"id-prefix", OPT_STR, MODE_ALL, CFG(id_prefix), 0, 0},
    {"rate", OPT_DOUBLE, MODE_RATE, CFG(rate), 0.001, 1e7},
    {"timeout", OPT_DOUBLE, MODE_NET, CFG(timeout), 0.001, 3600},
    {"users", OPT_U64, MODE_ALL, CFG(users), 1, 1e9},
    {"seed", OPT_U64, MODE_ALL, CFG(seed), 0, 1e15},
    {"dump", OPT_FLAG, MODE_GEN, CFG(dump), 0, 0},
    {"pii", OPT_FLAG, MODE_ALL, CFG(pii), 0, 0},
    {"pii-all", OPT_FLAG, MODE_ALL, CFG(pii_all), 0, 0},
    {"help", OPT_FLAG, MODE_ALL, CFG(help), 0, 0},
};

static void usage(FILE *f)
{
    fputs("usage: loadgen batch --port P --key WRITEKEY [options]\n"
          "       loadgen rate  --port P --key WRITEKEY --rate R [options]\n"
          "       loadgen gen   [--batch N] [--duration S] [--dump]\n"
          "\n"
          "Load generator for the Segment HTTP Tracking API (Custos' /v1/* endpoints).\n"
          "Authenticates with HTTP Basic, username = write key, empty password.\n"
          "Plain HTTP/1.1 keep-alive over one socket per connection, one thread each.\n"
          "\n"
          "batch: closed loop. Each connection POSTs /v1/batch with {\"batch\":[...]} of\n"
          "  --batch track/identify/page messages (~700 bytes each, messageId\n"
          "  \"<prefix>-<conn>-<seq>\"), waits for the answer, and repeats until\n"
          "  --duration seconds or --max-requests requests in all. A 2xx answer\n"
          "  acknowledges the whole batch. After a connection error, a 429 or a 5xx the\n"
          "  same batch (same messageIds) is sent again after a backoff of 10 ms doubling\n"
          "  to 250 ms, as the Segment SDKs do; any other status drops the batch.\n"
          "  A refused or reset connection is an error, never fatal: loadgen reconnects\n"
          "  and keeps going until the duration ends (made for kill -9 of the server).\n"
          "\n",
          f);
    fputs("rate: open loop. --rate single-message POST /v1/track requests per second,\n"
          "  slot k due at start + k/rate; connection i sends slots i, i+N, i+2N ...\n"
          "  Latency runs from the slot's scheduled time to the end of the response, so\n"
          "  queueing behind a slow answer is measured, not hidden. Slots of the first\n"
          "  --duration seconds are sent; any still unsent --timeout seconds later are\n"
          "  reported as \"missed\". No retries. When a connection cannot be made, the\n"
          "  slots that come due during the reconnect backoff count as connect errors\n"
          "  without a try, so an outage shows as errors at the offered rate.\n"
          "\n"
          "All modes open their connections before the clock starts. A kept-alive\n"
          "connection that the server closed while idle (nothing came back) is retried\n"
          "once on a new connection, as HTTP clients do, and is not an error.\n"
          "^C or SIGTERM stops early; the results so far are still printed.\n"
          "\n"
          "gen: measures message generation on one core for --duration seconds;\n"
          "  with --dump prints one --batch body on stdout instead.\n"
          "\n"
          "options:\n"
          "  --host H            server address (default 127.0.0.1)\n"
          "  --port P            server port (required)\n"
          "  --key K             source write key (required; may be empty)\n"
          "  --connections N     connections = threads (batch 16, rate 32; max 1024)\n"
          "  --duration S        seconds to run, fractions allowed (default 10; gen 2)\n"
          "  --batch N           messages per /v1/batch request (default 100)\n"
          "  --max-requests N    stop after N requests in all, retries included\n"
          "  --rate R            rate mode: requests per second (required)\n"
          "  --timeout S         per-request timeout, seconds (default 10)\n",
          f);
    fputs("  --ack-log FILE      append the messageId of every acknowledged message, one\n"
          "                      per line, written before the connection sends again\n"
          "  --id-prefix STR     messageId prefix, [A-Za-z0-9_.:-]{1,64}\n"
          "                      (default lg<hex time><hex pid>, unique per run)\n"
          "  --users N           distinct users the messages come from (default 100000)\n"
          "  --seed N            random seed for the message mix (default 1)\n"
          "  --dump              gen: print one body and exit\n"
          "  --pii               identify traits carry a resident ID number beside their\n"
          "                      phone and e-mail (for measuring encryption at rest)\n"
          "  --pii-all           and every other message carries the three in\n"
          "                      context.traits (the worst case for encryption)\n"
          "\n"
          "output: one JSON line on stdout:\n"
          "  {\"mode\":..,\"requests\":N,\"ok\":N,\"errors\":N,\"status\":{\"200\":N,..},\n"
          "   \"io_errors\":{\"connect\":N,..},\"events\":N,\"seconds\":S,\"events_per_s\":X,\n"
          "   \"requests_per_s\":Y,\"latency_ms\":{\"p50\":..,\"p90\":..,\"p99\":..,\"max\":..},\n"
          "   \"gen_msgs_per_s\":G, ...}\n"
          "  requests = ok + errors; errors = non-2xx answers + io_errors (connect\n"
          "  refused, reset, early close, timeout, malformed answer); events = messages\n"
          "  acknowledged; latency covers requests that got an answer (any status),\n"
          "  batch: from sending to the end of the answer.\n"
          "  rate mode adds \"missed\" and \"send_lag_ms\", how late after their slots\n"
          "  requests went out: when it is close to latency_ms, the client (or this\n"
          "  machine's timer wake-ups), not the server, is the limit.\n"
          "  A summary goes to stderr. Exit 0 when the run completed (whatever the\n"
          "  server answered), 1 on a setup or --ack-log write failure, 2 on bad usage.\n"
          "\n"
          "example:\n"
          "  loadgen batch --port 8080 --key wk_test --connections 8 --duration 30 \\\n"
          "      --ack-log /tmp/acked.txt\n"
          "  loadgen rate --port 8080 --key wk_test --rate 2000 --duration 20\n",
          f);
}

static int parse_u64(const char *s, double min, double max, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || (double)v < min || (double)v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Fills cfg from argv; returns 0, or -1 after printing why. */
static int parse_args(int argc, char **argv, struct config *cfg)
{
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "loadgen: unexpected argument '%s'\n", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t j = 0; j < ARRAY_SIZE(opts); j++)
            if (strlen(opts[j].name) == name_len && memcmp(opts[j].name, name, name_len) == 0)
                o = &opts[j];
        if (!o) {
            fprintf(stderr, "loadgen: unknown option '%s' (see loadgen --help)\n", arg);
            return -1;
        }
        if (!(o->modes & cfg->mode)) {
            fprintf(stderr, "loadgen: --%s does not apply to this mode\n", o->name);
            return -1;
        }
        void *dst = (char *)cfg + o->off;
        if (o->type == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "loadgen: --%s takes no value\n", o->name);
                return -1;
            }
            *(bool *)dst = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "loadgen: --%s needs a value\n", o->name);
            return -1;
        }
        int rc = 0;
        if (o->type == OPT_STR)
            *(const char **)dst = val;
        else if (o->type == OPT_U64)
            rc = parse_u64(val, o->min, o->max, (uint64_t *)dst);
        else
            rc = parse_double(val, o->min, o->max, (double *)dst);
        if (rc) {
            fprintf(stderr, "loadgen: --%s: '%s' is not a number in [%g, %g]\n", o->name, val,
                    o->min, o->max);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Time. */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / NS_PER_MS;
}

static void sleep_until_ns(int64_t t)
{
    struct timespec ts = {.tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): pure arithmetic, no
 * locks, unlike gmtime_r, which takes glibc's timezone lock on every call. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* ---------------------------------------------------------------------------------------
 * Growing byte buffer with unchecked-looking but checked appends: one compare per call. */

struct buf {
    char *p;
    size_t len, cap;
};

static void die_oom(void)
{
    fputs("loadgen: out of memory\n", stderr);
    _Exit(1); /* not exit(): other threads are running */
}

static void buf_grow(struct buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        die_oom();
    b->p = p;
    b->cap = cap;
}

static void buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static inline void put(struct buf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n)
        buf_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Only for string literals: the "" concatenation rejects anything else at compile time. */
#define PUT_LIT(b, s) put((b), "" s, sizeof("" s) - 1)

struct str {
    const char *s;
    size_t n;
};
#define S(x)                                                                                       \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }

static inline void put_str(struct buf *b, struct str s)
{
    put(b, s.s, s.n);
}

static inline void put_u64(struct buf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(b, tmp + i, sizeof tmp - i);
}

/* v in exactly `width` digits, zero-padded (v must fit). */
/* Writes v into p as exactly `width` digits, zero-padded (v must fit). */
static inline void fmt_digits(char *p, uint64_t v, unsigned width)
{
    for (unsigned i = width; i-- > 0;) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static inline void put_u64_pad(struct buf *b, uint64_t v, unsigned width) /* width <= 20 */
{
    char tmp[20];
    fmt_digits(tmp, v, width);
    put(b, tmp, width);
}

static inline void put_hex(struct buf *b, uint64_t v, unsigned digits)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    for (unsigned i = digits; i-- > 0;) {
        tmp[i] = hex[v & 15];
        v >>= 4;
    }
    put(b, tmp, digits);
}

/* Cents as a JSON number with two decimals: 24900 -> 249.00 */
static inline void put_money(struct buf *b, uint64_t cents)
{
    put_u64(b, cents / 100);
    PUT_LIT(b, ".");
    put_u64_pad(b, cents % 100, 2);
}

#define ISO_LEN 24

/* Unix milliseconds as ISO 8601 UTC: 2024-05-01T12:34:56.789Z, ISO_LEN bytes, no NUL. */
static void fmt_iso_ms(char *out, int64_t ms)
{
    int64_t secs = ms / 1000, sod = secs % 86400, y;
    unsigned mo, d;
    civil_from_days(secs / 86400, &y, &mo, &d);
    out[4] = out[7] = '-';
    out[10] = 'T';
    out[13] = out[16] = ':';
    out[19] = '.';
    out[23] = 'Z';
    fmt_digits(out, (uint64_t)y, 4);
    fmt_digits(out + 5, mo, 2);
    fmt_digits(out + 8, d, 2);
    fmt_digits(out + 11, (uint64_t)(sod / 3600), 2);
    fmt_digits(out + 14, (uint64_t)(sod / 60 % 60), 2);
    fmt_digits(out + 17, (uint64_t)(sod % 60), 2);
    fmt_digits(out + 20, (uint64_t)(ms % 1000), 3);
}

static void put_iso_ms(struct buf *b, int64_t ms)
{
    char t[ISO_LEN];
    fmt_iso_ms(t, ms);
    put(b, t, ISO_LEN);
}

/* ---------------------------------------------------------------------------------------
 * Message generation. The mix imitates a Chinese e-commerce site: 70% track (commerce
 * events), 20% page, 10% identify; 60% of users are logged in (userId + anonymousId),
 * the rest anonymous. A user keeps the same anonymousId, device, IP and traits across the
 * run, so identity resolution downstream has real work to do. Documentation IP ranges
 * and example.com addresses only. */

struct product {
    struct str sku, name, category;
    uint32_t cents;
};

static const struct product products[] = {
    {S("SKU-10001"), S("小米手环 8"), S("Electronics"), 24900},
    {S("SKU-10002"), S("华为 FreeBuds 5i 蓝牙耳机"), S("Electronics"), 44900},
    {S("SKU-10003"), S("Anker 65W GaN Charger"), S("Electronics"), 19900},
    {S("SKU-20001"), S("优衣库 男装 圆领T恤"), S("Apparel"), 7900},
    {S("SKU-20002"), S("Li-Ning 赤兔6 跑鞋"), S("Apparel"), 39900},
    {S("SKU-20003"), S("波司登 轻薄羽绒服"), S("Apparel"), 59900},
    {S("SKU-30001"), S("完美日记 小细跟口红"), S("Beauty"), 8990},
    {S("SKU-30002"), S("SK-II Facial Treatment Essence 230ml"), S("Beauty"), 154000},
    {S("SKU-40001"), S("三只松鼠 每日坚果 750g"), S("Grocery"), 12800},
    {S("SKU-40002"), S("农夫山泉 饮用天然水 550ml*24"), S("Grocery"), 3990},
    {S("SKU-50001"), S("米家扫地机器人"), S("Home"), 199900},
    {S("SKU-50002"), S("Midea 电饭煲 4L"), S("Home"), 29900},
    {S("SKU-60001"), S("三体 (全三册)"), S("Books"), 9300},
    {S("SKU-60002"), S("The Pragmatic Programmer"), S("Books"), 8900},
    {S("SKU-70001"), S("LEGO Technic 42151"), S("Toys"), 39900},
    {S("SKU-70002"), S("泡泡玛特 盲盒"), S("Toys"), 6900},
};

struct campaign {
    struct str name, source, medium;
};

static const struct campaign campaigns[] = {
    {S("spring_sale"), S("wechat"), S("social")},
    {S("618_presale"), S("baidu"), S("cpc")},
    {S("double11"), S("douyin"), S("video")},
    {S("newsletter_0412"), S("newsletter"), S("email")},
    {S("brand_search"), S("baidu"), S("organic")},
    {S("kol_review"), S("xiaohongshu"), S("social")},
    {S("retarget_q2"), S("tencent_ads"), S("display")},
    {S("members_day"), S("app_push"), S("push")},
};

static const struct str user_agents[] = {
    S("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
      "like Gecko) Mobile/15E148 MicroMessenger/8.0.47"),
    S("Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.6099.144 Mobile Safari/537.36"),
    S("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36"),
    S("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/17.4 Safari/605.1.15"),
    S("Mozilla/5.0 (Linux; Android 13; V2254A) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/101.0.4951.74 Mobile Safari/537.36 MicroMessenger/8.0.47"),
    S("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/16.6 Mobile/15E148 Safari/604.1"),
};

static const struct str referrers[] = {
    S("https://www.baidu.com/"),
    S("https://weixin.qq.com/"),
    S("https://www.xiaohongshu.com/explore"),
    S("https://www.douyin.com/"),
    S("https://shop.example.cn/"),
    S("https://shop.example.cn/cart"),
};

static const struct str events[] = {
    S("Product Viewed"),  S("Product Added"),   S("Checkout Started"),
    S("Order Completed"), S("Product Clicked"), S("Cart Viewed"),
};
/* Index into events[] by 4 random bits: views dominate, orders are rarer. */
static const unsigned char event_mix[16] = {0, 0, 0, 0, 0, 0, 4, 4, 1, 1, 1, 5, 2, 2, 3, 3};

static const struct str names[] = {
    S("张伟"), S("王芳"), S("李娜"), S("刘洋"),     S("陈静"),
    S("杨磊"), S("赵敏"), S("黄勇"), S("Zhou Xin"), S("Emily Chen"),
};
static const struct str cities[] = {S("上海"), S("北京"), S("深圳"),
                                    S("杭州"), S("成都"), S("广州")};
static const struct str plans[] = {S("free"), S("silver"), S("gold"), S("platinum")};

enum msg_kind { KIND_TRACK, KIND_PAGE, KIND_IDENTIFY };
/* By 4 random bits: 11/16 track, 3/16 page, 2/16 identify. */
static const unsigned char kind_mix[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2};

struct gen {
    uint64_t rng;
    uint32_t users;
    struct str prefix;
    unsigned conn;
    uint64_t seq; /* sequence number of the next message on this connection */
    bool pii;     /* --pii */
    bool pii_all; /* --pii-all */
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    *s += 0x9E3779B97F4A7C15ULL;
    return mix64(*s);
}

static void put_message_id(struct buf *b, const struct gen *g, uint64_t seq)
{
    put_str(b, g->prefix);
    PUT_LIT(b, "-");
    put_u64(b, g->conn);
    PUT_LIT(b, "-");
    put_u64(b, seq);
}

static void put_user_id(struct buf *b, uint32_t user)
{
    PUT_LIT(b, "u");
    put_u64_pad(b, user, 7);
}

/* A stable UUIDv4-shaped anonymousId per user. */
static void put_anonymous_id(struct buf *b, uint32_t user)
{
    uint64_t h1 = mix64(user + 0x5eed0001ULL), h2 = mix64(user + 0x5eed0002ULL);
    put_hex(b, h1 >> 32, 8);
    PUT_LIT(b, "-");
    put_hex(b, h1 >> 16, 4);
    PUT_LIT(b, "-4");
    put_hex(b, h1, 3);
    PUT_LIT(b, "-");
    put_hex(b, 0x8 | ((h2 >> 60) & 3), 1);
    put_hex(b, h2 >> 48, 3);
    PUT_LIT(b, "-");
    put_hex(b, h2, 12);
}

static void put_page_url(struct buf *b, const struct product *p, const struct campaign *c)
{
    PUT_LIT(b, "https://shop.example.cn/p/");
    put_str(b, p->sku);
    PUT_LIT(b, "?utm_source=");
    put_str(b, c->source);
    PUT_LIT(b, "&utm_campaign=");
    put_str(b, c->name);
}

/* Appends one message object. sent_at is the request's ISO sentAt; the event happened
 * 0-4 s before it. */
static void gen_message(struct gen *g, struct buf *b, bool track_only, int64_t sent_ms,
                        struct str sent_at)
{
    uint64_t r = rng_next(&g->rng), r2 = rng_next(&g->rng);
    uint32_t user = (uint32_t)((r >> 32) % g->users);
    enum msg_kind kind = track_only ? KIND_TRACK : (enum msg_kind)kind_mix[r & 15];
    const struct product *p = &products[(r >> 8) % ARRAY_SIZE(products)];
    const struct campaign *c = &campaigns[(r >> 16) % ARRAY_SIZE(campaigns)];
    const struct str *ref = &referrers[(r >> 24) % ARRAY_SIZE(referrers)];
    bool known = kind == KIND_IDENTIFY || user % 10 < 6;
    uint64_t seq = g->seq++;

    PUT_LIT(b, "{\"type\":\"");
    if (kind == KIND_TRACK)
        PUT_LIT(b, "track");
    else if (kind == KIND_PAGE)
        PUT_LIT(b, "page");
    else
        PUT_LIT(b, "identify");
    PUT_LIT(b, "\",\"messageId\":\"");
    put_message_id(b, g, seq);
    if (known) {
        PUT_LIT(b, "\",\"userId\":\"");
        put_user_id(b, user);
    }
    if (!known || kind == KIND_IDENTIFY) {
        PUT_LIT(b, "\",\"anonymousId\":\"");
        put_anonymous_id(b, user);
    }
    PUT_LIT(b, "\",");

    if (kind == KIND_TRACK) {
        unsigned ev = event_mix[(r >> 4) & 15];
        uint64_t qty = 1 + (r2 >> 40) % 3;
        PUT_LIT(b, "\"event\":\"");
        put_str(b, events[ev]);
        PUT_LIT(b, "\",\"properties\":{\"sku\":\"");
        put_str(b, p->sku);
        PUT_LIT(b, "\",\"price\":");
        put_money(b, p->cents);
        PUT_LIT(b, ",\"currency\":\"CNY\",\"category\":\"");
        put_str(b, p->category);
        PUT_LIT(b, "\",\"quantity\":");
        put_u64(b, qty);
        if (ev == 3) { /* Order Completed */
            PUT_LIT(b, ",\"order_id\":\"o-");
            put_message_id(b, g, seq);
            PUT_LIT(b, "\",\"revenue\":");
            put_money(b, qty * p->cents);
        }
        PUT_LIT(b, "},");
    } else if (kind == KIND_PAGE) {
        PUT_LIT(b, "\"name\":\"Product Detail\",\"properties\":{\"title\":\"");
        put_str(b, p->name);
        PUT_LIT(b, "\",\"url\":\"");
        put_page_url(b, p, c);
        PUT_LIT(b, "\",\"referrer\":\"");
        put_str(b, *ref);
        PUT_LIT(b, "\"},");
    } else {
        PUT_LIT(b, "\"traits\":{\"email\":\"");
        put_user_id(b, user);
        PUT_LIT(b, "@example.com\",\"phone\":\"+86138");
        put_u64_pad(b, user % 100000000, 8);
        PUT_LIT(b, "\",\"name\":\"");
        put_str(b, names[mix64(user) % ARRAY_SIZE(names)]);
        PUT_LIT(b, "\",\"city\":\"");
        put_str(b, cities[(user >> 3) % ARRAY_SIZE(cities)]);
        PUT_LIT(b, "\",\"plan\":\"");
        put_str(b, plans[(user >> 5) % ARRAY_SIZE(plans)]);
        if (g->pii || g->pii_all) {
            PUT_LIT(b, "\",\"idCard\":\"1101051990");
            put_u64_pad(b, user % 100000000, 8);
        }
        PUT_LIT(b, "\"},");
    }

    PUT_LIT(b, "\"context\":{");
    if (g->pii_all && kind != KIND_IDENTIFY) {
        PUT_LIT(b, "\"traits\":{\"email\":\"");
        put_user_id(b, user);
        PUT_LIT(b, "@example.com\",\"phone\":\"+86138");
        put_u64_pad(b, user % 100000000, 8);
        PUT_LIT(b, "\",\"idCard\":\"1101051990");
        put_u64_pad(b, user % 100000000, 8);
        PUT_LIT(b, "\"},");
    }
    PUT_LIT(b, "\"ip\":\"");
    if (user & 1)
        PUT_LIT(b, "203.0.113.");
    else
        PUT_LIT(b, "198.51.100.");
    put_u64(b, 1 + (user >> 1) % 254);
    PUT_LIT(b, "\",\"userAgent\":\"");
    put_str(b, user_agents[(user >> 9) % ARRAY_SIZE(user_agents)]);
    PUT_LIT(b, "\",\"locale\":\"zh-CN\",\"page\":{\"url\":\"");
    put_page_url(b, p, c);
    PUT_LIT(b, "\"},\"campaign\":{\"name\":\"");
    put_str(b, c->name);
    PUT_LIT(b, "\",\"source\":\"");
    put_str(b, c->source);
    PUT_LIT(b, "\",\"medium\":\"");
    put_str(b, c->medium);
    PUT_LIT(b, "\"},\"library\":{\"name\":\"custos-loadgen\",\"version\":\"1.0.0\"}},"
               "\"timestamp\":\"");
    put_iso_ms(b, sent_ms - (int64_t)(r2 % 4000));
    PUT_LIT(b, "\",\"sentAt\":\"");
    put_str(b, sent_at);
    PUT_LIT(b, "\"}");
}

/* Replaces b with a body: {"batch":[...]} of n messages, or one bare track message when
 * single. The messages get sequence numbers g->seq .. g->seq + n - 1. */
static void gen_body(struct gen *g, struct buf *b, uint64_t n, bool single)
{
    int64_t ms = wall_ms();
    char iso[ISO_LEN];
    fmt_iso_ms(iso, ms);
    struct str sent_at = {iso, ISO_LEN};

    b->len = 0;
    if (single) {
        gen_message(g, b, true, ms, sent_at);
        return;
    }
    PUT_LIT(b, "{\"batch\":[");
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            PUT_LIT(b, ",");
        gen_message(g, b, false, ms, sent_at);
    }
    PUT_LIT(b, "]}");
}

/* ---------------------------------------------------------------------------------------
 * Latency histogram, log-linear in microseconds: exact below 256 us, then 128 linear
 * sub-buckets per power of two (relative error under 0.4%), up to 2^40 us. */

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40
#define HIST_BUCKETS  (2 * HIST_SUB + (HIST_MAX_BITS - 1 - HIST_SUB_BITS) * HIST_SUB)

static unsigned hist_index(uint64_t us)
{
    if (us >= (1ULL << HIST_MAX_BITS))
        us = (1ULL << HIST_MAX_BITS) - 1;
    if (us < (uint64_t)2 * HIST_SUB)
        return (unsigned)us;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    unsigned shift = msb - HIST_SUB_BITS;
    return 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((us >> shift) - HIST_SUB);
}

/* The middle of bucket i, in microseconds. */
static uint64_t hist_value(unsigned i)
{
    if (i < 2 * HIST_SUB)
        return i;
    unsigned shift = (i - 2 * HIST_SUB) / HIST_SUB + 1;
    uint64_t mant = HIST_SUB + (i - 2 * HIST_SUB) % HIST_SUB;
    return (mant << shift) + ((1ULL << shift) >> 1);
}

struct hist {
    uint64_t bucket[HIST_BUCKETS];
    uint64_t count, max_us;
};

static void hist_add(struct hist *h, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    h->bucket[hist_index(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

static void hist_merge(struct hist *into, const struct hist *from)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

/* The value at quantile q (0..1] in milliseconds; 0 when nothing was recorded. */
static double hist_quantile_ms(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return (double)(v < h->max_us ? v : h->max_us) / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}

/* ---------------------------------------------------------------------------------------
 * Per-thread statistics, merged at the end. */

enum io_error {
    IOE_NONE,
    IOE_CONNECT,
    IOE_SEND,
    IOE_RESET,
    IOE_EOF,
    IOE_TIMEOUT,
    IOE_PROTOCOL,
    IOE_COUNT
};
static const char *const io_error_names[IOE_COUNT] = {"none", "connect", "send",    "reset",
                                                      "eof",  "timeout", "protocol"};

struct stats {
    uint64_t requests, ok, events, missed;
    uint64_t io_errors[IOE_COUNT];
    uint64_t status[600]; /* by code, 100..599 */
    uint64_t status_other;
    struct hist latency; /* answered requests: send (rate: scheduled) time to answer */
    struct hist lag;     /* rate mode: how late after its slot a request went out */
    uint64_t gen_msgs, gen_bytes, gen_ns;
    char first_error[160]; /* first I/O error, for the summary */
    int bad_status;        /* first non-2xx answer and the start of its body */
    char bad_body[SNIPPET_BYTES + 1];
};

static void stats_merge(struct stats *into, const struct stats *from)
{
    into->requests += from->requests;
    into->ok += from->ok;
    into->events += from->events;
    into->missed += from->missed;
    for (size_t i = 0; i < IOE_COUNT; i++)
        into->io_errors[i] += from->io_errors[i];
    for (size_t i = 0; i < ARRAY_SIZE(into->status); i++)
        into->status[i] += from->status[i];
    into->status_other += from->status_other;
    hist_merge(&into->latency, &from->latency);
    hist_merge(&into->lag, &from->lag);
    into->gen_msgs += from->gen_msgs;
    into->gen_bytes += from->gen_bytes;
    into->gen_ns += from->gen_ns;
    if (!into->first_error[0] && from->first_error[0])
        memcpy(into->first_error, from->first_error, sizeof into->first_error);
    if (!into->bad_status && from->bad_status) {
        into->bad_status = from->bad_status;
        memcpy(into->bad_body, from->bad_body, sizeof into->bad_body);
    }
}

/* ---------------------------------------------------------------------------------------
 * The run shared by all workers (read-only once started, except the atomics). */

struct run {
    const struct config *cfg;
    struct addrinfo *addrs;
    struct buf head_prefix; /* request line and fixed headers up to "Content-Length: " */
    struct str prefix;      /* messageId prefix */
    int ack_fd;             /* -1 without --ack-log */
    pthread_mutex_t ack_lock;
    int64_t timeout_ns;
    /* The start gate: workers connect first, then wait until all are connected (or
     * --timeout passed) so connection setup is not part of the measurement. Guarded by
     * gate_lock; the times below are set by main just before go. */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    size_t ready;
    bool go;
    int64_t start_ns, end_ns, hard_end_ns;
    uint64_t slots;              /* rate mode: slots to send */
    double slot_ns;              /* rate mode: 1e9 / rate */
    atomic_uint_fast64_t issued; /* requests claimed, for --max-requests */
    atomic_bool fatal;
};

static atomic_bool interrupted;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

static bool run_stopped(struct run *run)
{
    return atomic_load(&interrupted) || atomic_load(&run->fatal);
}

/* Claims one request against --max-requests; false when none is left. */
static bool run_claim(struct run *run)
{
    return !run->cfg->max_requests || atomic_fetch_add(&run->issued, 1) < run->cfg->max_requests;
}

/* ---------------------------------------------------------------------------------------
 * HTTP/1.1 client connection. */

struct conn {
    int fd;
    char *rbuf;
    size_t rpos, rlen; /* unread bytes are rbuf[rpos .. rlen) */
    uint64_t rx;       /* bytes received since connect */
    bool fresh;        /* opened for the request about to go out: not idle before it */
};

struct response {
    int status;
    bool close;
    size_t snippet_len;
    char snippet[SNIPPET_BYTES + 1];
};

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rpos = c->rlen = 0;
    c->rx = 0;
}

static void note_error(struct stats *st, const char *what, int err)
{
    if (st->first_error[0])
        return;
    char eb[96];
    const char *msg = err ? strerror_r(err, eb, sizeof eb) : "";
    snprintf(st->first_error, sizeof st->first_error, "%s%s%s", what, err ? ": " : "", msg);
}

static void set_send_timeout(int fd, int64_t ns)
{
    struct timeval tv = {.tv_sec = ns / NS_PER_S, .tv_usec = ns % NS_PER_S / 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int conn_open(struct conn *c, const struct run *run, struct stats *st)
{
    int err = 0;
    for (const struct addrinfo *ai = run->addrs; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        set_send_timeout(fd, run->timeout_ns); /* bounds connect() too */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            set_send_timeout(fd, SEND_SLICE_MS * NS_PER_MS);
            c->fd = fd;
            c->rpos = c->rlen = 0;
            c->rx = 0;
            c->fresh = true;
            return 0;
        }
        err = errno;
        close(fd);
    }
    note_error(st, "connect", err);
    return -IOE_CONNECT;
}

static int conn_send(struct conn *c, struct iovec *iov, int iovcnt, int64_t deadline,
                     struct stats *st)
{
    while (iovcnt > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (mono_ns() >= deadline)
                    return -IOE_TIMEOUT;
                continue;
            }
            note_error(st, "send", errno);
            return errno == EPIPE || errno == ECONNRESET ? -IOE_RESET : -IOE_SEND;
        }
        size_t left = (size_t)n;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Reads more bytes into rbuf, compacting it first. Returns the count read, 0 at EOF or
 * a negative enum io_error. */
static int conn_fill(struct conn *c, int64_t deadline, struct stats *st)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == RBUF_SIZE) {
        note_error(st, "response line too long", 0);
        return -IOE_PROTOCOL;
    }
    for (;;) {
        int64_t left = deadline - mono_ns();
        if (left <= 0) {
            note_error(st, "timeout waiting for the response", 0);
            return -IOE_TIMEOUT;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr =
            poll(&pfd, 1, (int)(left < SLICE_NS ? left / NS_PER_MS + 1 : SLICE_NS / NS_PER_MS));
        if (pr < 0 && errno != EINTR) {
            note_error(st, "poll", errno);
            return -IOE_RESET;
        }
        if (pr <= 0)
            continue;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            c->rx += (uint64_t)n;
            return (int)n;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            continue;
        note_error(st, "recv", errno);
        return -IOE_RESET;
    }
}

/* fill() that turns EOF into an error: the response is not complete yet. */
static int conn_need(struct conn *c, int64_t deadline, struct stats *st)
{
    int n = conn_fill(c, deadline, st);
    if (n == 0) {
        note_error(st, "server closed the connection before the response ended", 0);
        return -IOE_EOF;
    }
    return n < 0 ? n : 0;
}

static void response_keep(struct response *r, const char *p, size_t n)
{
    size_t room = SNIPPET_BYTES - r->snippet_len;
    if (n > room)
        n = room;
    memcpy(r->snippet + r->snippet_len, p, n);
    r->snippet_len += n;
    r->snippet[r->snippet_len] = '\0';
}

/* Consumes n body bytes (or up to EOF when to_eof). */
static int read_body_bytes(struct conn *c, uint64_t n, bool to_eof, int64_t deadline,
                           struct response *r, struct stats *st)
{
    while (n > 0 || to_eof) {
        if (c->rpos == c->rlen) {
            int got = conn_fill(c, deadline, st);
            if (got < 0)
                return got;
            if (got == 0) {
                if (to_eof)
                    return 0;
                note_error(st, "server closed the connection inside the response body", 0);
                return -IOE_EOF;
            }
        }
        size_t avail = c->rlen - c->rpos;
        size_t take = !to_eof && n < avail ? (size_t)n : avail;
        response_keep(r, c->rbuf + c->rpos, take);
        c->rpos += take;
        if (!to_eof)
            n -= take;
    }
    return 0;
}

/* Finds a CRLF-terminated line at rpos; *len excludes the CRLF, which stays unconsumed. */
static int read_line(struct conn *c, size_t *len, int64_t deadline, struct stats *st)
{
    for (;;) {
        const char *p = c->rbuf + c->rpos;
        const char *nl = memmem(p, c->rlen - c->rpos, "\r\n", 2);
        if (nl) {
            *len = (size_t)(nl - p);
            return 0;
        }
        if (c->rlen - c->rpos > MAX_CHUNK_LINE) {
            note_error(st, "chunk-size line too long", 0);
            return -IOE_PROTOCOL;
        }
        int rc = conn_need(c, deadline, st);
        if (rc)
            return rc;
    }
}

static int read_chunked(struct conn *c, int64_t deadline, struct response *r, struct stats *st)
{
    size_t len;
    int rc;
    for (;;) {
        if ((rc = read_line(c, &len, deadline, st)))
            return rc;
        const char *p = c->rbuf + c->rpos;
        uint64_t size = 0;
        size_t i = 0;
        for (; i < len; i++) {
            int v = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
                    : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
                    : p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
                                                 : -1;
            if (v < 0)
                break;
            size = size * 16 + (uint64_t)v;
            if (size > MAX_BODY_BYTES) {
                note_error(st, "chunk too large", 0);
                return -IOE_PROTOCOL;
            }
        }
        if (i == 0 || (i < len && p[i] != ';' && p[i] != ' ' && p[i] != '\t')) {
            note_error(st, "malformed chunk size", 0);
            return -IOE_PROTOCOL;
        }
        c->rpos += len + 2;
        if (size == 0)
            break;
        if ((rc = read_body_bytes(c, size, false, deadline, r, st)))
            return rc;
        if ((rc = read_line(c, &len, deadline, st)))
            return rc;
        if (len != 0) {
            note_error(st, "chunk not followed by CRLF", 0);
            return -IOE_PROTOCOL;
        }
        c->rpos += 2;
    }
    do { /* trailer fields, up to the empty line */
        if ((rc = read_line(c, &len, deadline, st)))
            return rc;
        c->rpos += len + 2;
    } while (len != 0);
    return 0;
}

static bool token_in(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, tok, tl) == 0 && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' ' || v[i + tl] == ';'))
            return true;
    return false;
}

/* Reads one complete response: status line, headers, body (Content-Length, chunked, or
 * until close). 1xx interim responses are skipped. Returns 0 or a negative io_error. */
static int http_read_response(struct conn *c, int64_t deadline, struct response *r,
                              struct stats *st)
{
    r->snippet_len = 0;
    r->snippet[0] = '\0';
    for (;;) {
        const char *end;
        for (;;) {
            end = memmem(c->rbuf + c->rpos, c->rlen - c->rpos, "\r\n\r\n", 4);
            if (end)
                break;
            if (c->rlen - c->rpos >= MAX_RESPONSE_HEAD) {
                note_error(st, "response head too large", 0);
                return -IOE_PROTOCOL;
            }
            int got = conn_fill(c, deadline, st);
            if (got < 0)
                return got;
            if (got == 0) {
                note_error(st,
                           c->rlen > c->rpos ? "server closed the connection inside the "
                                               "response head"
                                             : "server closed the connection without "
                                               "answering",
                           0);
                return -IOE_EOF;
            }
        }
        const char *head = c->rbuf + c->rpos;
        size_t head_len = (size_t)(end - head) + 4;
        if (head_len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' || head[9] < '1' ||
            head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' || head[11] > '9') {
            note_error(st, "malformed status line", 0);
            return -IOE_PROTOCOL;
        }
        r->status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
        r->close = head[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
        bool chunked = false, has_length = false;
        uint64_t length = 0;

        const char *line = (const char *)memchr(head, '\n', head_len) + 1;
        while (line < head + head_len - 2) {
            const char *eol = memchr(line, '\n', (size_t)(head + head_len - line));
            const char *colon = memchr(line, ':', (size_t)(eol - line));
            if (!colon) {
                note_error(st, "malformed header line", 0);
                return -IOE_PROTOCOL;
            }
            size_t nlen = (size_t)(colon - line);
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t vlen = (size_t)(ve - v);
            if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
                uint64_t n = 0;
                if (vlen == 0) {
                    note_error(st, "empty Content-Length", 0);
                    return -IOE_PROTOCOL;
                }
                for (size_t i = 0; i < vlen; i++) {
                    if (v[i] < '0' || v[i] > '9' || n > MAX_BODY_BYTES) {
                        note_error(st, "bad Content-Length", 0);
                        return -IOE_PROTOCOL;
                    }
                    n = n * 10 + (uint64_t)(v[i] - '0');
                }
                if (has_length && n != length) {
                    note_error(st, "conflicting Content-Length headers", 0);
                    return -IOE_PROTOCOL;
                }
                has_length = true;
                length = n;
            } else if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
                chunked = token_in(v, vlen, "chunked");
            } else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
                if (token_in(v, vlen, "close"))
                    r->close = true;
                else if (token_in(v, vlen, "keep-alive"))
                    r->close = false;
            }
            line = eol + 1;
        }
        c->rpos += head_len;

        if (r->status >= 100 && r->status < 200) {
            if (r->status == 101) {
                note_error(st, "unexpected 101 Switching Protocols", 0);
                return -IOE_PROTOCOL;
            }
            continue; /* interim response; the real one follows */
        }
        if (r->status == 204 || r->status == 304)
            return 0;
        if (chunked)
            return read_chunked(c, deadline, r, st);
        if (has_length)
            return read_body_bytes(c, length, false, deadline, r, st);
        r->close = true; /* delimited by the end of the connection */
        return read_body_bytes(c, 0, true, deadline, r, st);
    }
}

/* ---------------------------------------------------------------------------------------
 * Workers. */

struct worker {
    pthread_t tid;
    struct run *run;
    unsigned id;
    struct gen gen;
    struct conn conn;
    struct buf head, body, acks;
    struct response resp;
    struct stats st;
};

/* Appends the ids of messages first .. first+n-1 to the ack log in one write(), under a
 * lock so lines of different connections never interleave. Returns 0 or -1. */
static int ack_log_write(struct worker *w, uint64_t first, uint64_t n)
{
    struct run *run = w->run;
    w->acks.len = 0;
    for (uint64_t i = 0; i < n; i++) {
        put_message_id(&w->acks, &w->gen, first + i);
        PUT_LIT(&w->acks, "\n");
    }
    int rc = 0;
    pthread_mutex_lock(&run->ack_lock);
    for (size_t off = 0; off < w->acks.len;) {
        ssize_t k = write(run->ack_fd, w->acks.p + off, w->acks.len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            char eb[96];
            fprintf(stderr, "loadgen: writing the ack log: %s\n",
                    strerror_r(k < 0 ? errno : EIO, eb, sizeof eb));
            rc = -1;
            break;
        }
        off += (size_t)k;
    }
    pthread_mutex_unlock(&run->ack_lock);
    return rc;
}

/* One request and its answer on the open connection. Returns 0 or a negative io_error. */
static int exchange_once(struct worker *w, int64_t deadline)
{
    struct iovec iov[2] = {{w->head.p, w->head.len}, {w->body.p, w->body.len}};
    int rc = conn_send(&w->conn, iov, 2, deadline, &w->st);
    if (rc == -IOE_RESET) {
        /* A server may answer early (413) and close before reading the whole body: the
         * answer can still be waiting in the receive queue. */
        if (http_read_response(&w->conn, deadline, &w->resp, &w->st) == 0) {
            w->resp.close = true;
            return 0;
        }
        return rc;
    }
    if (rc)
        return rc;
    return http_read_response(&w->conn, deadline, &w->resp, &w->st);
}

/* Sends head+body on the open connection, reads the answer, closes the connection when
 * told to. Returns 0 with w->resp filled, or a negative io_error (counted, connection
 * closed). */
static int worker_exchange(struct worker *w, int64_t deadline)
{
    struct run *run = w->run;
    w->head.len = 0;
    put(&w->head, run->head_prefix.p, run->head_prefix.len);
    put_u64(&w->head, w->body.len);
    PUT_LIT(&w->head, "\r\n\r\n");
    bool had_error = w->st.first_error[0] != '\0';
    bool reused = !w->conn.fresh;
    w->conn.fresh = false;
    uint64_t rx = w->conn.rx;

    int rc = exchange_once(w, deadline);
    if ((rc == -IOE_EOF || rc == -IOE_RESET) && reused && w->conn.rx == rx) {
        /* A kept-alive connection the server closed while it was idle: nothing came back,
         * so send once more on a new connection, as HTTP clients do. */
        conn_close(&w->conn);
        rc = conn_open(&w->conn, run, &w->st);
        if (!rc)
            rc = exchange_once(w, deadline);
        w->conn.fresh = false;
    }
    if (rc) {
        w->st.io_errors[-rc]++;
        conn_close(&w->conn);
        return rc;
    }
    if (!had_error) /* what we recovered from is not the error to report */
        w->st.first_error[0] = '\0';
    int s = w->resp.status;
    if (s >= 100 && s < 600)
        w->st.status[s]++;
    else
        w->st.status_other++;
    if ((s < 200 || s > 299) && !w->st.bad_status) {
        w->st.bad_status = s;
        memcpy(w->st.bad_body, w->resp.snippet, w->resp.snippet_len + 1);
    }
    if (w->resp.close)
        conn_close(&w->conn);
    return 0;
}

static void worker_generate(struct worker *w, uint64_t n, bool single)
{
    int64_t t0 = mono_ns();
    gen_body(&w->gen, &w->body, n, single);
    w->st.gen_ns += (uint64_t)(mono_ns() - t0);
    w->st.gen_msgs += n;
    w->st.gen_bytes += w->body.len;
}

static int64_t backoff_next(int64_t cur)
{
    return cur ? (cur * 2 < BACKOFF_MAX_NS ? cur * 2 : BACKOFF_MAX_NS) : BACKOFF_MIN_NS;
}

/* Sleeps until t, the run's end, or an interrupt, whichever is first. */
static void worker_sleep_until(struct run *run, int64_t t, int64_t limit)
{
    for (;;) {
        int64_t now = mono_ns();
        if (now >= t || now >= limit || run_stopped(run))
            return;
        int64_t until = t < now + SLICE_NS ? t : now + SLICE_NS;
        sleep_until_ns(until < limit ? until : limit);
    }
}

/* Connects (a failure here is not counted: the loop retries and counts it), then waits
 * at the start gate. */
static void worker_start(struct worker *w)
{
    struct run *run = w->run;
    if (conn_open(&w->conn, run, &w->st))
        w->st.first_error[0] = '\0';
    w->conn.fresh = false; /* it may sit idle until its first request */
    pthread_mutex_lock(&run->gate_lock);
    run->ready++;
    pthread_cond_broadcast(&run->gate_cond);
    while (!run->go)
        pthread_cond_wait(&run->gate_cond, &run->gate_lock);
    pthread_mutex_unlock(&run->gate_lock);
}

static void *batch_worker(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    worker_start(w);
    uint64_t n = run->cfg->batch, first = 0;
    bool pending = false; /* body holds a batch not acknowledged yet */
    int64_t backoff = 0;

    while (!run_stopped(run) && mono_ns() < run->end_ns && run_claim(run)) {
        if (!pending) {
            first = w->gen.seq;
            worker_generate(w, n, false);
            pending = true;
        }
        w->st.requests++;
        int rc = w->conn.fd < 0 ? conn_open(&w->conn, run, &w->st) : 0;
        if (rc) {
            w->st.io_errors[-rc]++;
        } else {
            int64_t t0 = mono_ns();
            rc = worker_exchange(w, t0 + run->timeout_ns);
            if (!rc)
                hist_add(&w->st.latency, mono_ns() - t0);
        }
        int s = rc ? 0 : w->resp.status;
        if (s >= 200 && s <= 299) {
            w->st.ok++;
            w->st.events += n;
            pending = false;
            backoff = 0;
            if (run->ack_fd >= 0 && ack_log_write(w, first, n)) {
                atomic_store(&run->fatal, true);
                break;
            }
            continue;
        }
        if (rc || s == 429 || s >= 500) { /* retry the same batch after a pause */
            backoff = backoff_next(backoff);
            worker_sleep_until(run, mono_ns() + backoff, run->end_ns);
        } else {
            pending = false; /* the server rejected it; retrying cannot help */
        }
    }
    conn_close(&w->conn);
    return NULL;
}

static void *rate_worker(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    uint64_t nconn = run->cfg->connections;
    int64_t down_until = 0; /* after a failed connect, slots due before this fail at once */
    int64_t backoff = 0;
    worker_start(w);

    for (uint64_t k = w->id; k < run->slots && !run_stopped(run); k += nconn) {
        int64_t due = run->start_ns + (int64_t)((double)k * run->slot_ns);
        if (due < down_until) { /* the server refused a connection a moment ago */
            worker_sleep_until(run, due, run->hard_end_ns);
            w->st.requests++;
            w->st.io_errors[IOE_CONNECT]++;
            continue;
        }
        uint64_t first = w->gen.seq;
        worker_generate(w, 1, true); /* before the wait, so it is not in the latency */
        worker_sleep_until(run, due, run->hard_end_ns);
        if (run_stopped(run))
            break;
        if (mono_ns() >= run->hard_end_ns) {
            w->st.missed += (run->slots - 1 - k) / nconn + 1;
            break;
        }
        w->st.requests++;
        hist_add(&w->st.lag, mono_ns() - due);
        int rc = w->conn.fd < 0 ? conn_open(&w->conn, run, &w->st) : 0;
        if (rc) {
            w->st.io_errors[-rc]++;
            backoff = backoff_next(backoff);
            down_until = mono_ns() + backoff;
            continue;
        }
        backoff = 0;
        int64_t deadline = mono_ns() + run->timeout_ns;
        rc = worker_exchange(w, deadline < run->hard_end_ns ? deadline : run->hard_end_ns);
        if (rc)
            continue;
        hist_add(&w->st.latency, mono_ns() - due);
        if (w->resp.status >= 200 && w->resp.status <= 299) {
            w->st.ok++;
            w->st.events++;
            if (run->ack_fd >= 0 && ack_log_write(w, first, 1)) {
                atomic_store(&run->fatal, true);
                break;
            }
        }
    }
    conn_close(&w->conn);
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Setup and report. */

static void base64(struct buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63],
                     (char)(i + 1 < n ? tab[(v >> 6) & 63] : '='),
                     (char)(i + 2 < n ? tab[v & 63] : '=')};
        put(b, q, 4);
    }
}

static bool valid_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n < 1 || n > MAX_PREFIX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || strchr("_.:-", p[i])))
            return false;
    return true;
}

static void print_report(const struct config *cfg, const struct run *run, const struct stats *t,
                         double secs)
{
    const char *mode = cfg->mode == MODE_BATCH ? "batch" : "rate";
    uint64_t io = 0;
    for (size_t i = 1; i < IOE_COUNT; i++)
        io += t->io_errors[i];
    const struct hist *lat = &t->latency;
    double p50 = hist_quantile_ms(lat, 0.50), p90 = hist_quantile_ms(lat, 0.90),
           p99 = hist_quantile_ms(lat, 0.99), max = (double)lat->max_us / 1000.0;
    double gen_rate = t->gen_ns ? (double)t->gen_msgs / ((double)t->gen_ns / 1e9) : 0;
    double ev_s = secs > 0 ? (double)t->events / secs : 0;
    double rq_s = secs > 0 ? (double)t->requests / secs : 0;

    printf("{\"mode\":\"%s\",\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"status\":{",
           mode, t->requests, t->ok, t->requests - t->ok);
    const char *sep = "";
    for (int s = 100; s < 600; s++)
        if (t->status[s]) {
            printf("%s\"%d\":%" PRIu64, sep, s, t->status[s]);
            sep = ",";
        }
    if (t->status_other)
        printf("%s\"other\":%" PRIu64, sep, t->status_other);
    printf("},\"io_errors\":{");
    for (size_t i = 1; i < IOE_COUNT; i++)
        printf("%s\"%s\":%" PRIu64, i > 1 ? "," : "", io_error_names[i], t->io_errors[i]);
    printf("},\"events\":%" PRIu64 ",\"seconds\":%.3f,\"events_per_s\":%.1f,"
           "\"requests_per_s\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"max\":%.3f,\"count\":%" PRIu64 "},\"connections\":%" PRIu64,
           t->events, secs, ev_s, rq_s, p50, p90, p99, max, lat->count, cfg->connections);
    if (cfg->mode == MODE_BATCH)
        printf(",\"batch\":%" PRIu64, cfg->batch);
    else
        printf(",\"target_rate\":%.3f,\"scheduled\":%" PRIu64 ",\"missed\":%" PRIu64
               ",\"send_lag_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
               cfg->rate, run->slots, t->missed, hist_quantile_ms(&t->lag, 0.5),
               hist_quantile_ms(&t->lag, 0.9), hist_quantile_ms(&t->lag, 0.99),
               (double)t->lag.max_us / 1000.0);
    printf(",\"id_prefix\":\"%.*s\",\"gen_msgs_per_s\":%.0f,\"avg_msg_bytes\":%.1f}\n",
           (int)run->prefix.n, run->prefix.s, gen_rate,
           t->gen_msgs ? (double)t->gen_bytes / (double)t->gen_msgs : 0.0);
    fflush(stdout);

    fprintf(stderr,
            "loadgen %s: %" PRIu64 " connections, %.2f s: %" PRIu64 " requests (%" PRIu64
            " ok, %" PRIu64 " errors, %" PRIu64 " of them I/O), %.0f req/s\n",
            mode, cfg->connections, secs, t->requests, t->ok, t->requests - t->ok, io, rq_s);
    fprintf(stderr, "  %" PRIu64 " events acknowledged, %.0f events/s\n", t->events, ev_s);
    if (cfg->mode == MODE_RATE)
        fprintf(stderr, "  target %.1f req/s: %" PRIu64 " slots scheduled, %" PRIu64 " missed\n",
                cfg->rate, run->slots, t->missed);
    fprintf(stderr, "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f%s\n", p50, p90, p99, max,
            cfg->mode == MODE_RATE ? "  (from scheduled send time)" : "");
    if (cfg->mode == MODE_RATE)
        fprintf(stderr,
                "  send lag ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (sent after the slot: "
                "queueing behind slow answers, or this machine's timer wake-up)\n",
                hist_quantile_ms(&t->lag, 0.5), hist_quantile_ms(&t->lag, 0.9),
                hist_quantile_ms(&t->lag, 0.99), (double)t->lag.max_us / 1000.0);
    fprintf(stderr, "  generator: %.0f messages/s on one core, %.0f bytes/message%s\n", gen_rate,
            t->gen_msgs ? (double)t->gen_bytes / (double)t->gen_msgs : 0.0,
            cfg->mode == MODE_RATE ? " (one message at a time, cold caches)" : "");
    if (t->first_error[0])
        fprintf(stderr, "  first I/O error: %s\n", t->first_error);
    if (t->bad_status)
        fprintf(stderr, "  first non-2xx answer: %d %s\n", t->bad_status, t->bad_body);
}

static int run_gen(const struct config *cfg, struct str prefix)
{
    struct gen g = {.rng = cfg->seed,
                    .users = (uint32_t)cfg->users,
                    .prefix = prefix,
                    .pii = cfg->pii,
                    .pii_all = cfg->pii_all};
    struct buf b = {0};
    if (cfg->dump) {
        gen_body(&g, &b, cfg->batch, false);
        fwrite(b.p, 1, b.len, stdout);
        putchar('\n');
        buf_release(&b);
        return 0;
    }
    uint64_t msgs = 0, bytes = 0;
    int64_t t0 = mono_ns(), end = t0 + (int64_t)(cfg->duration * 1e9), now;
    do {
        gen_body(&g, &b, cfg->batch, false);
        msgs += cfg->batch;
        bytes += b.len;
        now = mono_ns();
    } while (now < end && !atomic_load(&interrupted));
    double secs = (double)(now - t0) / 1e9;
    printf("{\"mode\":\"gen\",\"batch\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,\"avg_msg_bytes\":%.1f}\n",
           cfg->batch, msgs, bytes, secs, (double)msgs / secs, (double)bytes / secs / 1e6,
           (double)bytes / (double)msgs);
    fprintf(stderr, "loadgen gen: %.0f messages/s on one core (%.1f MB/s, %.0f bytes/message)\n",
            (double)msgs / secs, (double)bytes / secs / 1e6, (double)bytes / (double)msgs);
    buf_release(&b);
    return 0;
}

/* Resolves the server, builds the fixed request head, opens the ack log. */
static int run_setup(const struct config *cfg, struct run *run)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(cfg->host, cfg->port, &hints, &run->addrs);
    if (rc) {
        fprintf(stderr, "loadgen: %s:%s: %s\n", cfg->host, cfg->port, gai_strerror(rc));
        return -1;
    }
    struct buf *h = &run->head_prefix;
    PUT_LIT(h, "POST ");
    if (cfg->mode == MODE_BATCH)
        PUT_LIT(h, "/v1/batch");
    else
        PUT_LIT(h, "/v1/track");
    PUT_LIT(h, " HTTP/1.1\r\nHost: ");
    bool v6 = strchr(cfg->host, ':') != NULL;
    if (v6)
        PUT_LIT(h, "[");
    put(h, cfg->host, strlen(cfg->host));
    if (v6)
        PUT_LIT(h, "]");
    PUT_LIT(h, ":");
    put(h, cfg->port, strlen(cfg->port));
    PUT_LIT(h, "\r\nUser-Agent: custos-loadgen/1.0\r\nAuthorization: Basic ");
    char cred[MAX_KEY + 2];
    int cn = snprintf(cred, sizeof cred, "%s:", cfg->key);
    base64(h, (const unsigned char *)cred, (size_t)cn);
    PUT_LIT(h, "\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
               "Content-Length: ");

    run->ack_fd = -1;
    if (cfg->ack_log) {
        run->ack_fd = open(cfg->ack_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (run->ack_fd < 0) {
            char eb[96];
            fprintf(stderr, "loadgen: %s: %s\n", cfg->ack_log, strerror_r(errno, eb, sizeof eb));
            return -1;
        }
    }
    return 0;
}

static void run_release(struct run *run)
{
    if (run->addrs)
        freeaddrinfo(run->addrs);
    buf_release(&run->head_prefix);
    if (run->ack_fd >= 0)
        close(run->ack_fd);
}

/* Waits until the started workers have connected (at most --timeout), sets the run's
 * clock and lets them go. */
static void open_gate(struct run *run, size_t started)
{
    int64_t limit = mono_ns() + run->timeout_ns;
    pthread_mutex_lock(&run->gate_lock);
    while (run->ready < started && !atomic_load(&interrupted)) {
        int64_t t = mono_ns() + SLICE_NS < limit ? mono_ns() + SLICE_NS : limit;
        struct timespec ts = {.tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S};
        if (pthread_cond_timedwait(&run->gate_cond, &run->gate_lock, &ts) == ETIMEDOUT &&
            mono_ns() >= limit)
            break;
    }
    run->start_ns = mono_ns();
    run->end_ns = run->start_ns + (int64_t)(run->cfg->duration * 1e9);
    run->hard_end_ns = run->end_ns + run->timeout_ns;
    run->go = true;
    pthread_cond_broadcast(&run->gate_cond);
    pthread_mutex_unlock(&run->gate_lock);
}

static int run_load(const struct config *cfg, struct str prefix)
{
    struct run run = {.cfg = cfg, .prefix = prefix, .ack_fd = -1};
    struct worker *ws = NULL;
    size_t started = 0;
    int status = 1;
    atomic_init(&run.issued, 0);
    atomic_init(&run.fatal, false);
    pthread_mutex_init(&run.ack_lock, NULL);
    pthread_mutex_init(&run.gate_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.gate_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (run_setup(cfg, &run))
        goto out;

    ws = calloc(cfg->connections, sizeof *ws);
    if (!ws)
        die_oom();
    run.timeout_ns = (int64_t)(cfg->timeout * 1e9);
    if (cfg->mode == MODE_RATE) {
        double slots = floor(cfg->rate * cfg->duration);
        run.slots = (uint64_t)slots;
        if (cfg->max_requests && run.slots > cfg->max_requests)
            run.slots = cfg->max_requests;
        run.slot_ns = 1e9 / cfg->rate;
    }

    for (size_t i = 0; i < cfg->connections; i++) {
        struct worker *w = &ws[i];
        w->run = &run;
        w->id = (unsigned)i;
        w->conn.fd = -1;
        w->conn.rbuf = malloc(RBUF_SIZE);
        if (!w->conn.rbuf)
            die_oom();
        w->gen = (struct gen){.rng = mix64(cfg->seed * 1000003 + i),
                              .users = (uint32_t)cfg->users,
                              .prefix = prefix,
                              .conn = (unsigned)i,
                              .pii = cfg->pii,
                              .pii_all = cfg->pii_all};
        int rc =
            pthread_create(&w->tid, NULL, cfg->mode == MODE_BATCH ? batch_worker : rate_worker, w);
        if (rc) {
            fprintf(stderr, "loadgen: starting thread %zu: error %d\n", i, rc);
            atomic_store(&run.fatal, true);
            break;
        }
        started++;
    }
    open_gate(&run, started);
    struct stats *total = calloc(1, sizeof *total);
    if (!total)
        die_oom();
    for (size_t i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        stats_merge(total, &ws[i].st);
    }
    int64_t t_end = mono_ns();
    double secs = (double)(t_end - run.start_ns) / 1e9;
    if (started)
        print_report(cfg, &run, total, secs > 0 ? secs : 0);
    status = atomic_load(&run.fatal) ? 1 : 0;
    free(total);
out:
    if (ws) {
        for (size_t i = 0; i < cfg->connections; i++) {
            free(ws[i].conn.rbuf);
            buf_release(&ws[i].head);
            buf_release(&ws[i].body);
            buf_release(&ws[i].acks);
        }
        free(ws);
    }
    run_release(&run);
    pthread_mutex_destroy(&run.ack_lock);
    pthread_mutex_destroy(&run.gate_lock);
    pthread_cond_destroy(&run.gate_cond);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    struct config cfg = {.host = "127.0.0.1",
                         .duration = 10,
                         .batch = 100,
                         .timeout = 10,
                         .users = 100000,
                         .seed = 1};
    if (!strcmp(argv[1], "batch")) {
        cfg.mode = MODE_BATCH;
        cfg.connections = 16;
    } else if (!strcmp(argv[1], "rate")) {
        cfg.mode = MODE_RATE;
        cfg.connections = 32;
    } else if (!strcmp(argv[1], "gen")) {
        cfg.mode = MODE_GEN;
        cfg.duration = 2;
    } else {
        fprintf(stderr, "loadgen: unknown mode '%s' (batch, rate or gen; see loadgen --help)\n",
                argv[1]);
        return 2;
    }
    if (parse_args(argc, argv, &cfg))
        return 2;
    if (cfg.help) {
        usage(stdout);
        return 0;
    }
    if (cfg.mode != MODE_GEN) {
        const char *missing = !cfg.port ? "--port" : !cfg.key ? "--key" : NULL;
        if (!missing && cfg.mode == MODE_RATE && cfg.rate <= 0)
            missing = "--rate";
        if (missing) {
            fprintf(stderr, "loadgen: %s is required (see loadgen --help)\n", missing);
            return 2;
        }
        uint64_t port;
        if (parse_u64(cfg.port, 1, 65535, &port)) {
            fprintf(stderr, "loadgen: --port: '%s' is not a port number\n", cfg.port);
            return 2;
        }
        if (strlen(cfg.key) > MAX_KEY) {
            fprintf(stderr, "loadgen: --key longer than %d bytes\n", MAX_KEY);
            return 2;
        }
    }
    char prefix_buf[MAX_PREFIX + 1];
    if (!cfg.id_prefix) {
        snprintf(prefix_buf, sizeof prefix_buf, "lg%" PRIx64 "%x", (uint64_t)wall_ms() / 1000,
                 (unsigned)getpid() & 0xffffu);
        cfg.id_prefix = prefix_buf;
    } else if (!valid_prefix(cfg.id_prefix)) {
        fprintf(stderr, "loadgen: --id-prefix must be 1-%d characters of [A-Za-z0-9_.:-]\n",
                MAX_PREFIX);
        return 2;
    }
    struct str prefix = {cfg.id_prefix, strlen(cfg.id_prefix)};

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cfg.mode == MODE_GEN)
        return run_gen(&cfg, prefix);
    return run_load(&cfg, prefix);
}
