/* demo.h - `custos demo`: a deterministic retail world to import and resolve.
 *
 * demo_generate writes the exports of a Chinese omnichannel retailer ("悦选 Yuexuan":
 * stores, a Tmall and a JD shop, a web shop, an app and a WeChat mini-program) over two
 * years, for N customers, into a directory: CSV files with their mapping files, JSON
 * Lines files of Segment messages, a README, and ground_truth.csv, which says which
 * person every record belongs to. The same seed and N give byte-identical files.
 *
 * The world is simulated customer by customer in time order: each customer has a
 * 20-byte state and a place in a min-heap of "next thing this customer does"; every
 * random choice comes from a generator seeded by (seed, customer, visit), and every
 * identifier of a person is a pure function of (seed, customer). Rows are streamed to
 * the files as they happen, so memory is 28 bytes a customer (state and heap).
 *
 * The second half of this header is shared by the files of src/demo/ only. */
#ifndef CUSTOS_DEMO_H
#define CUSTOS_DEMO_H

#include <iconv.h>

#include "core/common.h"

#define DEMO_DEFAULT_CUSTOMERS 10000
#define DEMO_MAX_CUSTOMERS     10000000 /* 28 bytes of memory each; ids have room for 10^7 */
#define DEMO_DEFAULT_SEED      1

/* The sources, in the order of the files; demo_source_name gives the ground-truth
 * name ("pos"), demo_source_file the file name ("pos_receipts.csv"). */
enum demo_source {
    DEMO_POS,
    DEMO_CRM,
    DEMO_MARKETPLACE,
    DEMO_SERVICE,
    DEMO_REVIEWS,
    DEMO_WEB,
    DEMO_APP,
    DEMO_MINIPROGRAM,
    DEMO_SOURCE_COUNT
};

struct demo_options {
    uint32_t customers; /* 1..DEMO_MAX_CUSTOMERS */
    uint64_t seed;
    const char *dir; /* created (with missing parents) if it does not exist */
    bool progress;   /* progress lines on stderr */
};

struct demo_stats {
    uint64_t records[DEMO_SOURCE_COUNT]; /* data rows or messages per source */
    uint64_t bytes[DEMO_SOURCE_COUNT];   /* size of each data file */
    uint64_t truth_rows;                 /* rows of ground_truth.csv */
    uint64_t persons;                    /* distinct persons in the ground truth */
};

/* Writes the demo world for o into o->dir (see the top of this file and the README
 * it writes). Fills *st. Returns 0; ERR_INVALID for bad options; ERR_IO when the
 * directory or a file cannot be created or written (e names the path and the
 * reason); ERR_NOMEM. Files already written stay on failure. */
int demo_generate(const struct demo_options *o, struct demo_stats *st, struct err *e);

/* The ground-truth name of a source ("pos", "crm", ...). */
const char *demo_source_name(enum demo_source s);

/* The data file of a source ("pos_receipts.csv", "web_events.jsonl", ...). */
const char *demo_source_file(enum demo_source s);

/* ---- Shared by the src/demo files ------------------------------------------------------ */

/* Pseudo-random numbers: splitmix64 seeds and hashes, xoshiro256** generates. */
struct demo_rng {
    uint64_t s[4];
};

/* splitmix64's finalizer: a bijection of 64-bit integers that mixes every bit. */
uint64_t demo_mix64(uint64_t x);

/* A hash of up to four 64-bit words (seed, customer, tag, counter...). */
uint64_t demo_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* Seeds r from one 64-bit value (expanded with splitmix64). */
void demo_rng_seed(struct demo_rng *r, uint64_t seed);

/* The next 64 random bits (xoshiro256**). */
uint64_t demo_rng_next(struct demo_rng *r);

/* A uniform integer in [0, n); n > 0 (Lemire's method, unbiased). */
uint32_t demo_rng_below(struct demo_rng *r, uint32_t n);

/* A uniform integer in [lo, hi]. */
int demo_rng_range(struct demo_rng *r, int lo, int hi);

/* A uniform double in [0, 1). */
double demo_rng_unit(struct demo_rng *r);

/* True with probability p. */
bool demo_rng_chance(struct demo_rng *r, double p);

/* An index into weights[0..n) drawn in proportion to the weights (not all zero). */
size_t demo_rng_weighted(struct demo_rng *r, const float *weights, size_t n);

/* A bijection of [0, mod) for mod a power of ten from 10 to 10^9, different for each
 * (seed, tag): gives each customer a unique, unordered-looking number. */
uint64_t demo_perm(uint64_t seed, uint64_t tag, uint64_t x, uint64_t mod);

/* Formats 128 bits as a lower-case UUID (version 4 layout; hi's bits all kept, so
 * distinct hi give distinct UUIDs). */
void demo_uuid(uint64_t hi, uint64_t lo, char out[37]);

/* Formats 128 bits as upper-case UUID (iOS identifierForVendor style). */
void demo_uuid_upper(uint64_t hi, uint64_t lo, char out[37]);

/* ---- Time: seconds since the start of the window, local time (+08:00) ----------- */

#define DEMO_START_UTC   INT64_C(1704038400) /* 2024-01-01T00:00:00+08:00 */
#define DEMO_DAYS        731                 /* 2024-01-01 .. 2025-12-31 */
#define DEMO_END_SECONDS ((uint32_t)DEMO_DAYS * 86400u)
#define DEMO_TZ_SECONDS  (8 * 3600)

/* The UTC milliseconds of a window time (seconds may be negative: before the window). */
int64_t demo_time_ms(int64_t t);

/* Writes window time t as local "YYYY-MM-DD HH:MM:SS" with the given date separator
 * ('-' or '/'); out holds 20 bytes and a NUL. */
void demo_time_local(int64_t t, char sep, char out[32]);

/* Local "YYYY-MM-DDTHH:MM:SS+08:00". */
void demo_time_offset(int64_t t, char out[32]);

/* Month (1-12) and day of the month of local window day `day`. */
void demo_day_date(int day, int *year, int *month, int *mday);

/* ---- Buffers: one row or message being built ------------------------------------- */

/* A row or message; the largest (an order with three products) is about 2 KB. */
#define DEMO_ROW_MAX (32 * 1024)

struct demo_buf {
    size_t len;
    bool overflow; /* something did not fit: the row is refused, never cut */
    char p[DEMO_ROW_MAX];
};

/* Appends s[0..n). */
void demo_buf_put(struct demo_buf *b, const char *s, size_t n);
/* Appends the NUL-terminated s. */
void demo_buf_puts(struct demo_buf *b, const char *s);
/* Appends formatted text. */
void demo_buf_printf(struct demo_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as one CSV field: quoted ("" for ") when it holds a comma, a quote, a line
 * break or leading or trailing spaces. */
void demo_buf_csv(struct demo_buf *b, const char *s);
/* Appends s as a JSON string, quoted and escaped. */
void demo_buf_json(struct demo_buf *b, const char *s);
/* Appends v in decimal. */
void demo_buf_uint(struct demo_buf *b, uint64_t v);
/* Appends a JSON number in yuan from fen ("258.00" for 25800). */
void demo_buf_money(struct demo_buf *b, int64_t fen);

/* ---- The catalog, places and seasons (catalog.c) -------------------------------- */

enum demo_category {
    CAT_BABY,
    CAT_BEAUTY,
    CAT_FOOD,
    CAT_APPAREL,
    CAT_HOME,
    CAT_DIGITAL,
    CAT_COUNT
};

/* When a product sells best (a bit in struct demo_day's seasons). */
enum demo_season_tag { SEASON_ALL, SEASON_WINTER, SEASON_SUMMER, SEASON_MOONCAKE, SEASON_CNY };

struct demo_product {
    const char *sku;  /* 13-digit barcode, the same in every channel */
    const char *name; /* Chinese */
    uint8_t category; /* enum demo_category */
    uint8_t season;   /* enum demo_season_tag */
    int32_t price;    /* list price, fen */
};

struct demo_store {
    const char *code; /* "SH01" */
    const char *name; /* "上海南京西路店" */
    uint8_t city;
    bool yuan_sign; /* this store's till prints "￥" before amounts */
};

struct demo_city {
    const char *name; /* "上海" */
    float weight;     /* share of customers */
};

/* Channels of a visit. */
enum demo_channel { CH_POS, CH_MARKET, CH_WEB, CH_APP, CH_MINI, CH_COUNT };

extern const struct demo_product demo_products[];
extern const size_t demo_nproducts;
extern const struct demo_store demo_stores[];
extern const size_t demo_nstores;
extern const struct demo_city demo_cities[];
extern const size_t demo_ncities;
extern const char *const demo_category_names[CAT_COUNT];

/* One day of the window: its date and how busy it is. */
struct demo_day {
    uint16_t year;
    uint8_t month, mday, dow; /* dow 0 = Sunday */
    uint8_t promo;            /* enum demo_promo: the campaign running, if any */
    uint8_t seasons;          /* bit (1 << SEASON_x) for each season this day is in */
    bool peak;                /* 6.18 or 11.11 itself: the midnight rush */
    float online, pos;        /* relative intensity of online and store visits */
};

enum demo_promo { PROMO_NONE, PROMO_618, PROMO_1111, PROMO_1212, PROMO_CNY, PROMO_38, PROMO_COUNT };

/* Fills days[DEMO_DAYS] and returns the largest intensity of any day and channel. */
float demo_days_init(struct demo_day *days);

/* Draws a product for a customer who favours category fav, on window day `day`
 * (seasonal products weigh more in their season). Returns an index into
 * demo_products. */
size_t demo_pick_product(struct demo_rng *r, int fav, const struct demo_day *day);

/* The price (fen) of a product listed at price on day: 15% off during 6.18 and
 * Double 11, 5% off in the other promotions, rounded down to 0.1 yuan. */
int64_t demo_promo_price(const struct demo_day *day, int64_t price);

/* A second of the day (local) for a visit on channel ch; peak days pull online visits
 * towards midnight. */
uint32_t demo_pick_second(struct demo_rng *r, enum demo_channel ch, const struct demo_day *day);

/* The name of campaign promo in year (e.g. "double11_2024"); NULL for none. */
const char *demo_promo_campaign(enum demo_promo promo, int year, char out[32]);

/* Fills a template: {p} product name, {o} order id, {c} member card, {n} name, {d}
 * date, {ph} phone; unknown or empty values become "". */
void demo_fill(struct demo_buf *b, const char *tmpl, const char *product, const char *order,
               const char *card, const char *name, const char *date, const char *phone);

/* Review and ticket texts. */
struct demo_ticket_text {
    const char *subject, *body;
    bool needs_order;
};
const char *demo_review_text(struct demo_rng *r, int rating, bool english);
const struct demo_ticket_text *demo_ticket_text(struct demo_rng *r, bool refund, bool english,
                                                bool has_order);

/* ---- People (names.c) ----------------------------------------------------------- */

enum demo_archetype { ARCH_LOYAL, ARCH_REGULAR, ARCH_CHURNER, ARCH_ONE_TIME, ARCH_BROWSER };

#define DEMO_NAME_MAX  64
#define DEMO_ID_MAX    48
#define DEMO_NO_STORE  0xff
#define DEMO_NO_FAMILY UINT32_MAX

/* Everything fixed about one customer: a pure function of (seed, index). */
struct demo_person {
    uint32_t idx;
    uint32_t family; /* the customer whose phone this one shares, or DEMO_NO_FAMILY */
    char id[16];     /* ground-truth person id "P00000001" */
    uint8_t archetype, city, store, fav, gender; /* gender 0 female, 1 male */
    uint8_t market;                              /* 0 Tmall, 1 JD */
    uint8_t reg_visit; /* the visit at which they register (CRM contact, account) */
    uint8_t extra;     /* one-time buyers and browsers: visits after the first */
    bool has_account, is_member, has_unionid, crm_dup, ios;
    bool pre_existing; /* a customer before the window opened */
    uint16_t join_day, end_day;
    uint16_t birth_year;
    uint8_t birth_month, birth_day;
    float rate; /* visits a day on an ordinary day */
    float channel[CH_COUNT];
    float buy[CH_COUNT]; /* chance that an online session ends in an order */
    int64_t crm_created; /* window seconds (negative: before the window) */
    char name[DEMO_NAME_MAX];
    char phone[16]; /* 11 digits */
    char email[DEMO_ID_MAX];
    char card[16];    /* member card */
    char user_id[16]; /* account id */
    char tmall_nick[DEMO_ID_MAX], jd_nick[DEMO_ID_MAX];
    char openid[32], unionid[32];
    char ip[16];
};

struct demo_world;

/* Computes the person at index idx of w. */
void demo_person_make(const struct demo_world *w, uint32_t idx, struct demo_person *p);

/* The phone (11 digits) that w gives customer idx, before family sharing. */
void demo_phone_of(const struct demo_world *w, uint32_t idx, char out[16]);

/* Junk phones and emails that clerks type when the customer gives none. */
extern const char *const demo_junk_phones[];
extern const size_t demo_njunk_phones;

/* Writes phone (11 digits) the way a person or clerk might: style 0 plain, 1 "+86 138
 * 0013 8000", 2 "0086-...", 3 "(+86)...", 4 "138-0013-8000", 5 "+86...", 6 full-width
 * digits, 7 "138 0013 8000", 8 "86-...". */
void demo_phone_style(const char *phone, int style, char *out, size_t cap);

/* A CRM clerk's rendering of phone: mostly plain, often formatted, sometimes invalid
 * (a digit short or long) or a junk number. */
void demo_phone_messy(struct demo_rng *r, const char *phone, char *out, size_t cap);

/* A CRM clerk's rendering of email: upper-cased, spaces around, "null",
 * "test@test.com" or missing at times. */
void demo_email_messy(struct demo_rng *r, const char *email, char *out, size_t cap);

/* The name as a second clerk typed it: a homophone, a space, a missing character,
 * the surname and 女士/先生 (gender 0 female, 1 male), or a changed case. */
void demo_name_variant(struct demo_rng *r, const char *name, int gender, char *out, size_t cap);

/* ---- The world being written (demo.c) ------------------------------------------- */

/* One customer's moving state: 20 bytes, so ten million customers fit in 200 MB. */
struct demo_customer {
    uint32_t next_visit;   /* window seconds of the next visit; UINT32_MAX for none */
    uint32_t next_follow;  /* of the next follow-up (review, ticket); UINT32_MAX none */
    uint32_t follow_order; /* order sequence the follow-up is about */
    uint16_t visits;       /* visits done */
    uint8_t channel;       /* channel of the next visit */
    uint8_t follow_kind;   /* enum demo_follow */
    uint8_t follow_sku;    /* product the follow-up is about */
    uint8_t follow_where;  /* enum demo_order_where */
    uint8_t flags;         /* DEMO_F_* */
};

enum demo_follow {
    FOLLOW_NONE,
    FOLLOW_REVIEW,
    FOLLOW_REVIEW_BAD,
    FOLLOW_TICKET,
    FOLLOW_TICKET_REFUND
};
enum demo_order_where { WHERE_NONE, WHERE_TMALL, WHERE_JD, WHERE_STORE, WHERE_ONLINE };

#define DEMO_F_REGISTERED 0x01 /* the CRM contact is written */
#define DEMO_F_DUPLICATED 0x02 /* the duplicate contact is written */
#define DEMO_F_SEEN       0x04 /* some record of theirs is written */

struct demo_sink {
    FILE *f;
    char *path;
    uint64_t records, bytes;
};

struct demo_world {
    uint64_t seed;
    uint32_t customers;
    uint64_t perm_mod; /* 10^k > customers: room for unique numbers */
    struct demo_day days[DEMO_DAYS];
    float wmax;
    struct demo_sink sink[DEMO_SOURCE_COUNT];
    struct demo_sink truth;
    iconv_t gbk;
    /* sequences, in time order */
    uint32_t store_day[64], store_seq[64];
    uint64_t tmall_seq, jd_seq, online_seq, ticket_seq, review_seq, contact_seq;
    uint64_t crm_duplicates, family_pairs, archetypes[5];
    uint64_t persons; /* customers with a record */
    struct demo_customer *cust;
    int rc; /* first write error */
    struct err *e;
    struct demo_buf row;  /* the row or message being built */
    struct demo_buf text; /* a ticket's or review's text, before it is quoted */
    char conv[DEMO_ROW_MAX * 2];
};

/* Writes w->row as one record of source s (converting to GBK for POS), and the
 * ground-truth row (s, key, person). Errors are kept in w->rc. */
void demo_emit(struct demo_world *w, enum demo_source s, const char *key,
               const struct demo_person *p);

/* ---- Rows and messages (rows.c, events.c) --------------------------------------- */

/* What one visit is about, for the writers. */
struct demo_visit {
    struct demo_world *w;
    struct demo_customer *c;
    const struct demo_person *p;
    struct demo_rng *r;
    uint32_t t; /* window seconds */
    const struct demo_day *day;
    bool registered; /* has the person registered by now */
    bool buy;        /* does an online session end in an order */
};

/* Writes the header rows of the CSV files. */
void demo_write_headers(struct demo_world *w);

/* A store receipt: one row per line item. */
void demo_visit_pos(struct demo_visit *v);
/* A Tmall or JD order: one row. */
void demo_visit_market(struct demo_visit *v);
/* The CRM contact of a person registering, and the duplicate a second clerk enters. */
void demo_crm_contact(struct demo_visit *v, bool duplicate);
/* A review or a service ticket following an order. */
void demo_follow_up(struct demo_visit *v);
/* A web, app or mini-program session (Segment messages). */
void demo_visit_online(struct demo_visit *v, enum demo_channel ch);

/* Schedules a follow-up of the order just placed (maybe none). */
void demo_schedule_follow(struct demo_visit *v, enum demo_order_where where, uint64_t order_seq,
                          size_t product, bool refunded);

/* The order id of the seq-th order placed where (seq < 10^9): Tmall 19 digits, JD 12,
 * the own shop "SO" and 10 digits; distinct seqs give distinct ids. */
void demo_order_id(uint64_t seed, enum demo_order_where where, uint64_t seq, char out[32]);

#endif
