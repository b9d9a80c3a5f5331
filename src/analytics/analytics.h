/* analytics.h - the analyses that run on a built snapshot (snapshot.h): RFM, KPI
 * trends, funnels, cohort retention, paths. Each takes options, fills a result the
 * caller releases with its _release function, and fails with ERR_INVALID (a bad
 * option, named in e) or ERR_NOMEM. They only read the snapshot, and split their scan
 * across SNAP_THREADS threads. Definitions: docs/analytics.md. */
#ifndef CUSTOS_ANALYTICS_H
#define CUSTOS_ANALYTICS_H

#include "analytics/snapshot.h"

/* ---- Periods (in the analytics time zone: an offset from UTC) ---- */

#define ANALYTICS_TZ_MAX_MS (14 * 3600000LL) /* offsets are -14:00 to +14:00 */

/* "UTC" (or "Z", "+00:00") or an offset "+08:00" / "-05:30" / "+0800" / "+08" ->
 * *offset_ms (local time = UTC + offset). ERR_INVALID otherwise. */
int analytics_tz_parse(const char *text, int64_t *offset_ms);
/* A date or date-time (time_parse_iso8601) -> ms UTC; one without a zone ("2026-01-01",
 * "2026-01-01T08:00") is read in the time zone tz_ms. ERR_INVALID. */
int analytics_date_parse(const char *text, int64_t tz_ms, int64_t *ms);

enum period { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH, PERIOD_QUARTER };

/* "day", "week", "month", "quarter" -> *p; ERR_INVALID otherwise. */
int period_parse(const char *s, enum period *p);
/* Period number of day d (days since 1970-01-01): days, Monday-based weeks, months
 * (year * 12 + month - 1), quarters (year * 4 + quarter - 1). */
int64_t period_of_day(enum period p, int64_t d);
/* The label of period number n: 2025-03-14, 2025-03-10 (the Monday), 2025-03, 2025-Q1. */
void period_label(enum period p, int64_t n, char out[16]);

/* ---- Clamping (for differentially private answers: analytics_dp below) ---- */

/* What one profile may add to one cell of an answer: its money summed, then clamped
 * to [lo, hi] (minor units, lo <= 0 <= hi), and at most max_orders orders. Off: no
 * clamp (the exact answer). */
struct dp_clamp {
    bool on;
    int64_t lo, hi;
    int64_t max_orders;
};

/* ---- RFM ---- */

enum rfm_segment {
    RFM_CHAMPIONS,
    RFM_LOYAL,
    RFM_POTENTIAL_LOYALIST,
    RFM_NEW,
    RFM_PROMISING,
    RFM_NEED_ATTENTION,
    RFM_ABOUT_TO_SLEEP,
    RFM_AT_RISK,
    RFM_CANT_LOSE,
    RFM_HIBERNATING,
    RFM_LOST,
    RFM_SEGMENTS
};

struct rfm_options {
    int64_t as_of;       /* ms; orders before it count. INT64_MIN: midnight after the last order */
    int64_t window_days; /* orders in [as_of - window, as_of) count; 0: all before as_of */
    int64_t tz_ms;       /* the time zone of the default as_of's midnight */
};

struct rfm_score {
    uint32_t profile;   /* dense index in the snapshot */
    int32_t recency;    /* whole days from the last order to as_of */
    uint32_t frequency; /* orders in the window */
    int64_t monetary;   /* their amount, minor units */
    uint8_t r, f, m;    /* 1-5 */
    uint8_t segment;    /* enum rfm_segment */
};

struct rfm_result {
    int64_t as_of, window_days;
    size_t n;               /* profiles with an order in the window */
    struct rfm_score *rows; /* n, in profile order */
    int64_t seg_customers[RFM_SEGMENTS], seg_revenue[RFM_SEGMENTS];
    int64_t revenue; /* of all n */
};

/* Scores every profile with an order in the window. Scores are quintiles by rank: a
 * value's score is 1 + 5 * (profiles with a worse value) / n (worse: a longer recency,
 * fewer orders, less money), so equal values get equal scores. */
int rfm_compute(const struct snapshot *s, const struct rfm_options *o, struct rfm_result *out,
                struct err *e);
void rfm_result_release(struct rfm_result *r);
/* The segment of scores r and f (the table in docs/analytics.md). */
enum rfm_segment rfm_segment_of(int r, int f);
const char *rfm_segment_name(enum rfm_segment seg);

/* ---- KPI trends ---- */

enum snap_dim { DIM_NONE, DIM_SOURCE, DIM_CHANNEL, DIM_STORE };
/* "", "source", "channel", "store" -> *d; ERR_INVALID otherwise. */
int dim_parse(const char *s, enum snap_dim *d);

struct kpi_options {
    enum period period;
    enum snap_dim by;
    int64_t from, to;      /* ms, [from, to); INT64_MIN / INT64_MAX: everything */
    struct dp_clamp clamp; /* orders and revenue per profile and cell */
    int64_t tz_ms;         /* periods are local days, weeks, months, quarters */
};

struct kpi_row {
    int64_t period; /* period number */
    uint32_t dim;   /* dictionary id of the breakdown value (SNAP_NONE without one) */
    int64_t orders, revenue;
    int64_t buyers;     /* profiles with an order in the period */
    int64_t new_buyers; /* ... whose first order ever is in the period */
    int64_t repeat;     /* ... with two orders or more in the period */
    int64_t active;     /* profiles with an event or an order in the period */
    int64_t customers;  /* profiles seen (first event or order) up to the period's end */
};

struct kpi_result {
    enum period period;
    enum snap_dim by;
    size_t n;
    struct kpi_row *rows; /* by period, then dimension value id */
};

int kpi_compute(const struct snapshot *s, const struct kpi_options *o, struct kpi_result *out,
                struct err *e);
void kpi_result_release(struct kpi_result *r);

/* ---- Funnels ---- */

#define FUNNEL_MAX_STEPS   16
#define FUNNEL_MAX_FILTERS 8  /* filters on one step */
#define FUNNEL_PROP_MAX    64 /* bytes of a property's name */

/* What a filter or a breakdown reads of an event: its source (also called channel),
 * its campaign (context.campaign.name), or a top-level key of its properties. */
enum funnel_prop { FPROP_NONE, FPROP_SOURCE, FPROP_CAMPAIGN, FPROP_PROPERTY };

struct funnel_filter {
    enum funnel_prop prop;
    uint32_t key;           /* FPROP_PROPERTY: the key's id in prop_keys (UINT32_MAX: unknown) */
    uint32_t value;         /* value id in that property's dictionary (UINT32_MAX: never matches;
                               SNAP_NONE: the event does not have it) */
    const uint32_t *column; /* set by funnel_compute: the key's column, if it has one */
};

struct funnel_step {
    uint32_t name; /* event name id */
    size_t nfilters;
    struct funnel_filter filter[FUNNEL_MAX_FILTERS]; /* all must hold */
};

struct funnel_options {
    struct funnel_step steps[FUNNEL_MAX_STEPS];
    size_t nsteps;
    int64_t window_ms;          /* from the first step */
    enum funnel_prop breakdown; /* by this property of the first step's event */
    uint32_t breakdown_key;     /* FPROP_PROPERTY: its key id (UINT32_MAX: unknown) */
};

struct funnel_group {
    uint32_t value; /* breakdown value id (SNAP_NONE without a breakdown) */
    int64_t count[FUNNEL_MAX_STEPS];
    int64_t median_ms[FUNNEL_MAX_STEPS]; /* lower median time from step 1; -1 when none */
};

struct funnel_result {
    size_t nsteps, ngroups;
    struct funnel_group *groups; /* the total first, then each value by id */
};

/* Parses a step "Event Name" or "Event Name[PROP=VALUE,PROP=VALUE...]" (PROP as for
 * funnel_prop_parse; up to FUNNEL_MAX_FILTERS) against the snapshot's dictionaries
 * (an unknown name or value matches nothing; an empty VALUE matches events without
 * the property). ERR_INVALID / ERR_LIMIT saying what is wrong. */
int funnel_step_parse(const struct snapshot *s, const char *text, struct funnel_step *st,
                      struct err *e);
/* "" (none), "source" or "channel", "campaign", "properties.KEY" or "KEY" (a top-level
 * key of the event's properties) -> *p and, for a property, *key (UINT32_MAX when no
 * event has it). ERR_INVALID for an empty or too long KEY. */
int funnel_prop_parse(const struct snapshot *s, const char *text, enum funnel_prop *p,
                      uint32_t *key);
/* The name funnel_prop_parse would read back: "source", "campaign", "properties.KEY". */
void funnel_prop_name(const struct snapshot *s, enum funnel_prop p, uint32_t key, char *out,
                      size_t cap);
int funnel_compute(const struct snapshot *s, const struct funnel_options *o,
                   struct funnel_result *out, struct err *e);
void funnel_result_release(struct funnel_result *r);

/* ---- Cohorts ---- */

struct cohort_options {
    enum period period;    /* PERIOD_WEEK or PERIOD_MONTH */
    bool by_first_seen;    /* cohort of the first event or order, else of the first order */
    struct dp_clamp clamp; /* revenue per profile and cell (max_orders unused) */
    int64_t tz_ms;         /* periods are local weeks and months */
};

struct cohort_row {
    int64_t cohort; /* period number */
    int64_t size;   /* profiles in it */
    size_t nperiods;
    int64_t *customers; /* per period offset 0..nperiods-1: profiles with an order */
    int64_t *revenue;   /* and their amount */
};

struct cohort_result {
    enum period period;
    size_t n;
    struct cohort_row *rows;
};

int cohort_compute(const struct snapshot *s, const struct cohort_options *o,
                   struct cohort_result *out, struct err *e);
void cohort_result_release(struct cohort_result *r);

/* ---- Paths ---- */

#define PATHS_MAX_DEPTH 8

struct paths_options {
    uint32_t event; /* event name id */
    bool to;        /* paths leading to it, else from it */
    size_t depth;   /* events after (or before) it, 1..PATHS_MAX_DEPTH */
    size_t limit;   /* most frequent paths kept */
};

struct path_row {
    uint32_t step[PATHS_MAX_DEPTH + 1]; /* event names in time order; SNAP_NONE: ended */
    int64_t count;
};

struct paths_result {
    size_t depth, n;
    int64_t total;         /* profiles with the event */
    struct path_row *rows; /* most frequent first, then by names */
};

/* Follows the first occurrence of the event in each profile. */
int paths_compute(const struct snapshot *s, const struct paths_options *o, struct paths_result *out,
                  struct err *e);
void paths_result_release(struct paths_result *r);

/* ---- Differentially private answers (dp_answer.c; privacy/dp.h) ----
 *
 * The Laplace mechanism on a computed result: every count and sum of the answer (a
 * "cell") gets its own noise, and the answer's epsilon is split evenly over its cells
 * (sequential composition: the cells together cost epsilon). A count of profiles has
 * sensitivity 1; a count of orders max_orders; a sum of money max(|lo|, |hi|) (the
 * result must come from a computation with that clamp on). Derived figures (rates,
 * averages, totals, changes) are then computed from the noisy cells by the report,
 * which is post-processing and costs nothing more. Noisy counts are rounded and at
 * least 0. Figures that are neither counts nor sums (funnel medians) are withheld. */

struct dp_request {
    double epsilon;        /* of the whole answer: DP_EPSILON_MIN..DP_EPSILON_MAX */
    struct dp_clamp clamp; /* the one the result was computed with (on) */
};

struct dp_answer {
    double epsilon;      /* of the whole answer */
    size_t cells;        /* noisy figures in it */
    double cell_epsilon; /* epsilon / cells */
    double count_scale;  /* Laplace scale b of a count of profiles: 1 / cell_epsilon */
    double orders_scale; /* of a count of orders: max_orders / cell_epsilon (0: none) */
    double sum_scale;    /* of a sum of money: max(|lo|, |hi|) / cell_epsilon (0: none) */
    struct dp_clamp clamp;
};

/* Parses "LO:HI" (integers, minor units, LO <= 0 <= HI, not both 0) into c->lo/hi. */
int dp_clamp_parse(const char *text, struct dp_clamp *c, struct err *e);

/* Each replaces the counts and sums of a computed result by noisy ones and fills a.
 * ERR_INVALID for a bad epsilon or clamp. rfm: the profile rows are freed (rows NULL;
 * n becomes the noisy total of customers), the segments' revenue is summed from each
 * profile's monetary clamped. funnel: medians become -1. */
int kpi_privatize(struct kpi_result *k, const struct dp_request *r, struct dp_answer *a,
                  struct err *e);
int rfm_privatize(struct rfm_result *f, const struct dp_request *r, struct dp_answer *a,
                  struct err *e);
int funnel_privatize(struct funnel_result *f, const struct dp_request *r, struct dp_answer *a,
                     struct err *e);
int cohort_privatize(struct cohort_result *c, const struct dp_request *r, struct dp_answer *a,
                     struct err *e);

#endif
