/* test_analytics.c - every analysis on a fixed, hand-checked dataset of six profiles
 * (the expected figures are worked out in the comments), the snapshot's sort, and the
 * incremental load from a store.
 *
 * The dataset, times UTC (P = store profile id 101..106):
 *   orders  P101: 2025-01-10 100, 2025-03-05 200, 2025-03-20 300
 *           P102: 2025-02-01 1000
 *           P103: 2025-01-15 50, 2025-02-15 50
 *           P104: 2024-12-31 500, 2025-03-30 100
 *           P105: 2025-03-01, 03-02, 03-03, 03-04, 400 each
 *   (all orders at 12:00)
 *   events  P106 web/spring: 2025-02-10 10:00 Product Viewed, 10:05 Product Added,
 *                 10:20 Checkout Started, 2025-02-20 10:00 Order Completed (too late)
 *           P101 app: 2025-03-05 08:59 page, 09:00 Viewed, 09:10 Added, 09:30 Checkout,
 *                 09:40 Completed
 *           P102 web/spring: 2025-02-01 12:00 Viewed, 12:30 Order Completed
 *           P103 miniprogram: 2025-01-15 10:00 Added, 11:00 Viewed, 11:30 Added
 *   properties of the Product Viewed events: P106 {category: books, price: 12.5}, P101
 *           {category: toys, price: 3, gift: true}, P102 {category: books}, P103 none */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <unistd.h>

#include <math.h>
#include <sodium.h>

#include "analytics/analytics.h"
#include "core/timeutil.h"
#include "privacy/dp.h"

static int64_t at(int y, int m, int d, int hh, int mm)
{
    return time_days_from_civil(y, m, d) * MS_PER_DAY + ((int64_t)hh * 60 + mm) * 60000;
}

static uint32_t in(struct snap_dict *d, const char *s)
{
    return snap_dict_intern(d, s, strlen(s));
}

static void order(struct snapshot *s, int64_t p, int y, int m, int d, int64_t amount)
{
    struct err e = {0};
    struct snap_order o = {.profile_id = p,
                           .time = at(y, m, d, 12, 0),
                           .amount = amount,
                           .channel = in(&s->channels, p == 105 ? "tmall" : "pos")};
    assert_int_equal(snapshot_add_order(s, &o, &e), 0);
}

/* An event; props: "key=value" strings (values as snap_number_text would keep them),
 * NULL-terminated, or NULL. */
static void event_with(struct snapshot *s, int64_t p, int64_t t, const char *name, const char *src,
                       const char *camp, const char *const *props)
{
    struct err e = {0};
    struct snap_prop pp[SNAP_EVENT_PROPS];
    size_t n = 0;
    for (; props && props[n]; n++) {
        const char *eq = strchr(props[n], '=');
        pp[n].key = snap_dict_intern(&s->prop_keys, props[n], (size_t)(eq - props[n]));
        pp[n].value = in(&s->prop_values, eq + 1);
    }
    struct snap_event v = {.profile_id = p,
                           .time = t,
                           .name = in(&s->names, name),
                           .source = in(&s->sources, src),
                           .campaign = in(&s->campaigns, camp),
                           .props = pp,
                           .nprops = n};
    assert_int_equal(snapshot_add_event(s, &v, &e), 0);
}

static void event(struct snapshot *s, int64_t p, int64_t t, const char *name, const char *src,
                  const char *camp)
{
    event_with(s, p, t, name, src, camp, NULL);
}

/* Rows are added out of order on purpose: the build sorts them. */
static struct snapshot *golden(void)
{
    struct snapshot *s = snapshot_new();
    assert_non_null(s);
    order(s, 101, 2025, 3, 20, 300);
    order(s, 101, 2025, 1, 10, 100);
    order(s, 101, 2025, 3, 5, 200);
    order(s, 102, 2025, 2, 1, 1000);
    order(s, 103, 2025, 2, 15, 50);
    order(s, 103, 2025, 1, 15, 50);
    order(s, 104, 2025, 3, 30, 100);
    order(s, 104, 2024, 12, 31, 500);
    for (int d = 4; d >= 1; d--)
        order(s, 105, 2025, 3, d, 400);
    event(s, 106, at(2025, 2, 20, 10, 0), "Order Completed", "web", "spring");
    event_with(s, 106, at(2025, 2, 10, 10, 0), "Product Viewed", "web", "spring",
               (const char *const[]){"category=books", "price=12.5", NULL});
    event(s, 106, at(2025, 2, 10, 10, 5), "Product Added", "web", "spring");
    event(s, 106, at(2025, 2, 10, 10, 20), "Checkout Started", "web", "spring");
    event(s, 101, at(2025, 3, 5, 8, 59), "page", "app", "");
    event_with(s, 101, at(2025, 3, 5, 9, 0), "Product Viewed", "app", "",
               (const char *const[]){"category=toys", "price=3", "gift=true", NULL});
    event(s, 101, at(2025, 3, 5, 9, 10), "Product Added", "app", "");
    event(s, 101, at(2025, 3, 5, 9, 30), "Checkout Started", "app", "");
    event(s, 101, at(2025, 3, 5, 9, 40), "Order Completed", "app", "");
    event(s, 102, at(2025, 2, 1, 12, 30), "Order Completed", "web", "spring");
    event_with(s, 102, at(2025, 2, 1, 12, 0), "Product Viewed", "web", "spring",
               (const char *const[]){"category=books", NULL});
    event(s, 103, at(2025, 1, 15, 10, 0), "Product Added", "miniprogram", "");
    event(s, 103, at(2025, 1, 15, 11, 0), "Product Viewed", "miniprogram", "");
    event(s, 103, at(2025, 1, 15, 11, 30), "Product Added", "miniprogram", "");
    struct err e = {0};
    assert_int_equal(snapshot_build(s, &e), 0);
    return s;
}

static size_t dense(const struct snapshot *s, int64_t id)
{
    for (size_t i = 0; i < s->nprofiles; i++)
        if (s->profile_id[i] == id)
            return i;
    fail_msg("no profile %" PRId64, id);
    return 0;
}

static void test_snapshot_sorted(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    assert_int_equal(s->nprofiles, 6);
    assert_int_equal(s->norders, 12);
    assert_int_equal(s->nevents, 14);
    size_t p = dense(s, 101);
    assert_int_equal(s->ord_off[p + 1] - s->ord_off[p], 3);
    assert_int_equal(s->ord_amount[s->ord_off[p]], 100); /* 01-10 first */
    assert_int_equal(s->ord_amount[s->ord_off[p] + 2], 300);
    for (size_t q = 0; q < s->nprofiles; q++) {
        for (uint32_t i = s->ord_off[q] + 1; i < s->ord_off[q + 1]; i++)
            assert_true(s->ord_time[i - 1] <= s->ord_time[i]);
        for (uint32_t i = s->ev_off[q] + 1; i < s->ev_off[q + 1]; i++)
            assert_true(s->ev_time[i - 1] <= s->ev_time[i]);
    }
    size_t p6 = dense(s, 106);
    assert_int_equal(s->ord_off[p6 + 1] - s->ord_off[p6], 0);
    assert_string_equal(snap_dict_str(&s->names, s->ev_name[s->ev_off[p6]]), "Product Viewed");
    snapshot_free(s);
}

static const struct rfm_score *score_of(const struct snapshot *s, const struct rfm_result *r,
                                        int64_t id)
{
    size_t p = dense(s, id);
    for (size_t i = 0; i < r->n; i++)
        if (r->rows[i].profile == p)
            return &r->rows[i];
    fail_msg("profile %" PRId64 " not scored", id);
    return NULL;
}

/* As of 2025-04-01, 365 days: recency 11/58/44/1/27 days, frequency 3/1/2/2/4,
 * monetary 600/1000/100/600/1600 for P101..P105. Score = 1 + (profiles worse) for
 * n = 5: R 4/1/2/5/3, F 4/1/2/2/5, M 2/4/1/2/5. Segments by (R, F): P101 (4,4) Loyal,
 * P102 (1,1) Lost, P103 (2,2) Hibernating, P104 (5,2) Potential Loyalist, P105 (3,5)
 * Loyal. */
static void test_rfm(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    struct rfm_result r;
    struct err e = {0};
    struct rfm_options o = {.as_of = at(2025, 4, 1, 0, 0), .window_days = 365};
    assert_int_equal(rfm_compute(s, &o, &r, &e), 0);
    assert_int_equal(r.n, 5);
    static const struct {
        int64_t id;
        int recency, frequency;
        int64_t monetary;
        int r, f, m;
        enum rfm_segment seg;
    } want[] = {
        {101, 11, 3, 600, 4, 4, 2, RFM_LOYAL},
        {102, 58, 1, 1000, 1, 1, 4, RFM_LOST},
        {103, 44, 2, 100, 2, 2, 1, RFM_HIBERNATING},
        {104, 1, 2, 600, 5, 2, 2, RFM_POTENTIAL_LOYALIST},
        {105, 27, 4, 1600, 3, 5, 5, RFM_LOYAL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        const struct rfm_score *x = score_of(s, &r, want[i].id);
        if (x->recency != want[i].recency || (int)x->frequency != want[i].frequency ||
            x->monetary != want[i].monetary || x->r != want[i].r || x->f != want[i].f ||
            x->m != want[i].m || x->segment != want[i].seg)
            fail_msg("P%" PRId64 ": %d %u %" PRId64 " R%d F%d M%d %s", want[i].id, x->recency,
                     x->frequency, x->monetary, x->r, x->f, x->m,
                     rfm_segment_name((enum rfm_segment)x->segment));
    }
    assert_int_equal(r.seg_customers[RFM_LOYAL], 2);
    assert_int_equal(r.seg_revenue[RFM_LOYAL], 2200);
    assert_int_equal(r.seg_customers[RFM_LOST], 1);
    assert_int_equal(r.seg_customers[RFM_CHAMPIONS], 0);
    assert_int_equal(r.revenue, 3900);
    rfm_result_release(&r);

    /* A 60-day window keeps orders from 2025-01-31: P101 has 2 (500), P103 1 (50), P104
     * 1 (100), P102 and P105 as before. */
    o.window_days = 60;
    assert_int_equal(rfm_compute(s, &o, &r, &e), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(score_of(s, &r, 101)->frequency, 2);
    assert_int_equal(score_of(s, &r, 101)->monetary, 500);
    assert_int_equal(score_of(s, &r, 104)->monetary, 100);
    rfm_result_release(&r);

    /* Without --as-of: the midnight after the last order (2025-03-30) */
    o.as_of = INT64_MIN;
    assert_int_equal(rfm_compute(s, &o, &r, &e), 0);
    assert_int_equal(r.as_of, at(2025, 3, 31, 0, 0));
    assert_int_equal(score_of(s, &r, 104)->recency, 0);
    rfm_result_release(&r);

    o.window_days = -1;
    assert_int_equal(rfm_compute(s, &o, &r, &e), ERR_INVALID);

    /* an odd number of profiles (7): the temporaries stay aligned (UBSan checks) */
    order(s, 107, 2025, 3, 31, 70);
    assert_int_equal(snapshot_build(s, &e), 0);
    assert_int_equal(s->nprofiles, 7);
    o.window_days = 365;
    assert_int_equal(rfm_compute(s, &o, &r, &e), 0);
    assert_int_equal(r.n, 6);
    assert_int_equal(score_of(s, &r, 107)->r, 5);
    rfm_result_release(&r);
    snapshot_free(s);
}

static void test_rfm_grid(void **state)
{
    (void)state;
    assert_int_equal(rfm_segment_of(5, 5), RFM_CHAMPIONS);
    assert_int_equal(rfm_segment_of(5, 1), RFM_NEW);
    assert_int_equal(rfm_segment_of(4, 1), RFM_PROMISING);
    assert_int_equal(rfm_segment_of(3, 3), RFM_NEED_ATTENTION);
    assert_int_equal(rfm_segment_of(3, 1), RFM_ABOUT_TO_SLEEP);
    assert_int_equal(rfm_segment_of(2, 3), RFM_AT_RISK);
    assert_int_equal(rfm_segment_of(1, 5), RFM_CANT_LOSE);
    assert_int_equal(rfm_segment_of(1, 1), RFM_LOST);
    assert_int_equal(rfm_segment_of(2, 2), RFM_HIBERNATING);
    assert_string_equal(rfm_segment_name(RFM_CANT_LOSE), "Can't Lose Them");
    /* every segment is reachable */
    bool seen[RFM_SEGMENTS] = {false};
    for (int r = 1; r <= 5; r++)
        for (int f = 1; f <= 5; f++)
            seen[rfm_segment_of(r, f)] = true;
    for (int g = 0; g < RFM_SEGMENTS; g++)
        assert_true(seen[g]);
}

/* Monthly:   orders revenue buyers new repeat active customers
 *   2024-12    1     500     1     1    0      1        1   (P104)
 *   2025-01    2     150     2     2    0      2        3   (P101, P103)
 *   2025-02    2    1050     2     1    0      3        5   (P102, P103; P106 events)
 *   2025-03    7    2200     3     1    2      3        6   (P101 x2, P104, P105 x4) */
static void test_kpi(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    struct kpi_result k;
    struct err e = {0};
    struct kpi_options o = {.period = PERIOD_MONTH, .from = INT64_MIN, .to = INT64_MAX};
    assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
    static const int64_t want[][8] = {{2024 * 12 + 11, 1, 500, 1, 1, 0, 1, 1},
                                      {2025 * 12 + 0, 2, 150, 2, 2, 0, 2, 3},
                                      {2025 * 12 + 1, 2, 1050, 2, 1, 0, 3, 5},
                                      {2025 * 12 + 2, 7, 2200, 3, 1, 2, 3, 6}};
    assert_int_equal(k.n, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct kpi_row *r = &k.rows[i];
        int64_t got[8] = {r->period,     r->orders, r->revenue, r->buyers,
                          r->new_buyers, r->repeat, r->active,  r->customers};
        for (int j = 0; j < 8; j++)
            if (got[j] != want[i][j])
                fail_msg("row %zu column %d: %" PRId64 ", want %" PRId64, i, j, got[j], want[i][j]);
    }
    char label[16];
    period_label(PERIOD_MONTH, k.rows[3].period, label);
    assert_string_equal(label, "2025-03");
    kpi_result_release(&k);

    /* By channel: P105's four March orders are tmall, the rest pos */
    o.by = DIM_CHANNEL;
    assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
    uint32_t tmall = snap_dict_find(&s->channels, "tmall");
    bool found = false;
    for (size_t i = 0; i < k.n; i++)
        if (k.rows[i].dim == tmall) {
            assert_int_equal(k.rows[i].orders, 4);
            assert_int_equal(k.rows[i].buyers, 1);
            assert_int_equal(k.rows[i].repeat, 1);
            found = true;
        }
    assert_true(found);
    kpi_result_release(&k);

    /* Quarterly, from 2025-01-01: Q1 2025 alone, 11 orders, 5 buyers of whom 4 new
     * (P104's first order is in 2024-Q4, outside), 6 active (P106 too) */
    o.by = DIM_NONE;
    o.period = PERIOD_QUARTER;
    o.from = at(2025, 1, 1, 0, 0);
    assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rows[0].orders, 11);
    assert_int_equal(k.rows[0].buyers, 5);
    assert_int_equal(k.rows[0].new_buyers, 4);
    assert_int_equal(k.rows[0].active, 6);
    period_label(PERIOD_QUARTER, k.rows[0].period, label);
    assert_string_equal(label, "2025-Q1");
    kpi_result_release(&k);
    snapshot_free(s);
}

static void test_periods(void **state)
{
    (void)state;
    char label[16];
    /* 2025-03-13 is a Thursday: its week starts on Monday 2025-03-10 */
    int64_t d = time_days_from_civil(2025, 3, 13);
    period_label(PERIOD_WEEK, period_of_day(PERIOD_WEEK, d), label);
    assert_string_equal(label, "2025-03-10");
    period_label(PERIOD_WEEK, period_of_day(PERIOD_WEEK, time_days_from_civil(2025, 3, 10)), label);
    assert_string_equal(label, "2025-03-10");
    period_label(PERIOD_WEEK, period_of_day(PERIOD_WEEK, time_days_from_civil(2025, 3, 9)), label);
    assert_string_equal(label, "2025-03-03");
    period_label(PERIOD_DAY, period_of_day(PERIOD_DAY, d), label);
    assert_string_equal(label, "2025-03-13");
    /* before 1970 */
    period_label(PERIOD_WEEK, period_of_day(PERIOD_WEEK, time_days_from_civil(1969, 12, 31)),
                 label);
    assert_string_equal(label, "1969-12-29");
    assert_int_equal(snap_day(-1), -1);
    enum period p;
    assert_int_equal(period_parse("quarter", &p), 0);
    assert_int_equal(p, PERIOD_QUARTER);
    assert_int_equal(period_parse("year", &p), ERR_INVALID);
}

/* Viewed -> Added -> Checkout -> Completed, 7 days: entered P106, P101, P102, P103 (4);
 * Added P106 +300 s, P101 +600 s, P103 +1800 s (3, lower median 600 s); Checkout P106
 * +1200 s, P101 +1800 s (2, median 1200 s); Completed only P101 +2400 s (P106's is 10
 * days later). */
static void test_funnel(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    static const char *const steps[] = {"Product Viewed", "Product Added", "Checkout Started",
                                        "Order Completed"};
    struct funnel_options o = {.nsteps = 4, .window_ms = 7 * MS_PER_DAY};
    struct err e = {0};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(funnel_step_parse(s, steps[k], &o.steps[k], &e), 0);
    struct funnel_result f;
    assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
    assert_int_equal(f.ngroups, 1);
    const int64_t count[] = {4, 3, 2, 1}, median[] = {0, 600000, 1200000, 2400000};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(f.groups[0].count[k], count[k]);
        assert_int_equal(f.groups[0].median_ms[k], median[k]);
    }
    funnel_result_release(&f);

    /* By source: web P106+P102 (2, 1, 1, 0), app P101 (1, 1, 1, 1), miniprogram P103
     * (1, 1, 0, 0) */
    o.breakdown = FPROP_SOURCE;
    assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
    assert_int_equal(f.ngroups, 4);
    int checked = 0;
    for (size_t g = 1; g < f.ngroups; g++) {
        const char *v = snap_dict_str(&s->sources, f.groups[g].value);
        const int64_t *c = f.groups[g].count;
        if (strcmp(v, "web") == 0) {
            assert_true(c[0] == 2 && c[1] == 1 && c[2] == 1 && c[3] == 0);
            assert_int_equal(f.groups[g].median_ms[1], 300000);
            assert_int_equal(f.groups[g].median_ms[3], -1);
            checked++;
        } else if (strcmp(v, "app") == 0) {
            assert_true(c[0] == 1 && c[1] == 1 && c[2] == 1 && c[3] == 1);
            checked++;
        } else if (strcmp(v, "miniprogram") == 0) {
            assert_true(c[0] == 1 && c[1] == 1 && c[2] == 0 && c[3] == 0);
            checked++;
        }
    }
    assert_int_equal(checked, 3);
    funnel_result_release(&f);

    /* A filter: step 1 only from the spring campaign (P106, P102) */
    o.breakdown = FPROP_NONE;
    assert_int_equal(funnel_step_parse(s, "Product Viewed[campaign=spring]", &o.steps[0], &e), 0);
    assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
    assert_int_equal(f.groups[0].count[0], 2);
    assert_int_equal(f.groups[0].count[1], 1);
    funnel_result_release(&f);

    /* A window of 1 day still loses P106's completion; 15 days keeps it */
    assert_int_equal(funnel_step_parse(s, steps[0], &o.steps[0], &e), 0);
    o.window_ms = 15 * MS_PER_DAY;
    assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
    assert_int_equal(f.groups[0].count[3], 2);
    funnel_result_release(&f);

    /* Filters on properties: books viewers P106, P102 enter; P106 adds */
    assert_int_equal(funnel_step_parse(s, "Product Viewed[category=books]", &o.steps[0], &e), 0);
    assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
    assert_int_equal(f.groups[0].count[0], 2);
    assert_int_equal(f.groups[0].count[1], 1);
    funnel_result_release(&f);
    /* several filters, all must hold; numbers match in any spelling (12.50 is 12.5) */
    static const struct {
        const char *step;
        int64_t entered;
    } filters[] = {
        {"Product Viewed[category=books,price=12.50]", 1},         /* P106 */
        {"Product Viewed[properties.category=toys,gift=true]", 1}, /* P101 */
        {"Product Viewed[category=books,source=web,campaign=spring]", 2},
        {"Product Viewed[category=books,source=app]", 0},
        {"Product Viewed[category=]", 1}, /* without a category: P103 */
        {"Product Viewed[category=garden]", 0},
        {"Product Viewed[city=x]", 0}, /* a key no event has */
        {"Product Viewed[city=]", 4},  /* ... so every event is without it */
        {"Product Viewed[price=3.0]", 1},
    };
    for (size_t i = 0; i < ARRAY_SIZE(filters); i++) {
        assert_int_equal(funnel_step_parse(s, filters[i].step, &o.steps[0], &e), 0);
        assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
        if (f.groups[0].count[0] != filters[i].entered)
            fail_msg("%s: %" PRId64 " entered, want %" PRId64, filters[i].step,
                     f.groups[0].count[0], filters[i].entered);
        funnel_result_release(&f);
    }
    /* Breakdown by a property of step 1: "" P103 (1, 1, 0, 0), books P106 + P102 (2, 1,
     * 1, 1 in 15 days: P106's completion is on day 10), toys P101 (1, 1, 1, 1) */
    assert_int_equal(funnel_step_parse(s, steps[0], &o.steps[0], &e), 0);
    assert_int_equal(funnel_prop_parse(s, "properties.category", &o.breakdown, &o.breakdown_key),
                     0);
    assert_int_equal(o.breakdown, FPROP_PROPERTY);
    assert_int_equal(funnel_compute(s, &o, &f, &e), 0);
    assert_int_equal(f.ngroups, 4);
    checked = 0;
    for (size_t g = 1; g < f.ngroups; g++) {
        const char *v = snap_dict_str(&s->prop_values, f.groups[g].value);
        const int64_t *c = f.groups[g].count;
        if (strcmp(v, "") == 0)
            checked += c[0] == 1 && c[1] == 1 && c[2] == 0 && c[3] == 0;
        else if (strcmp(v, "books") == 0)
            checked += c[0] == 2 && c[1] == 1 && c[2] == 1 && c[3] == 1;
        else if (strcmp(v, "toys") == 0)
            checked += c[0] == 1 && c[1] == 1 && c[2] == 1 && c[3] == 1;
    }
    assert_int_equal(checked, 3);
    funnel_result_release(&f);
    char name[80];
    funnel_prop_name(s, o.breakdown, o.breakdown_key, name, sizeof(name));
    assert_string_equal(name, "properties.category");
    enum funnel_prop fp;
    uint32_t key;
    assert_int_equal(funnel_prop_parse(s, "category", &fp, &key), 0);
    assert_int_equal(key, o.breakdown_key);
    assert_int_equal(funnel_prop_parse(s, "properties.", &fp, &key), ERR_INVALID);
    assert_int_equal(funnel_step_parse(s, "Product Viewed[category]", &o.steps[0], &e),
                     ERR_INVALID);
    assert_int_equal(funnel_step_parse(s, "Product Viewed[]", &o.steps[0], &e), ERR_INVALID);
    assert_int_equal(funnel_step_parse(s, "Product Viewed[a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9]",
                                       &o.steps[0], &e),
                     ERR_LIMIT);
    o.breakdown = FPROP_NONE;
    assert_int_equal(funnel_step_parse(s, "Product Viewed[source=web", &o.steps[0], &e),
                     ERR_INVALID);
    assert_int_equal(funnel_step_parse(s, "", &o.steps[0], &e), ERR_INVALID);
    o.nsteps = 0;
    assert_int_equal(funnel_compute(s, &o, &f, &e), ERR_INVALID);
    snapshot_free(s);
}

/* By first order month: 2024-12 P104 (1): +0 1/500, +3 1/100; 2025-01 P101, P103 (2):
 * +0 2/150, +1 1/50 (P103), +2 1/500 (P101); 2025-02 P102: +0 1/1000; 2025-03 P105:
 * +0 1/1600. */
static void test_cohort(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    struct cohort_options o = {.period = PERIOD_MONTH};
    struct cohort_result c;
    struct err e = {0};
    assert_int_equal(cohort_compute(s, &o, &c, &e), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.rows[0].size, 1);
    assert_int_equal(c.rows[0].nperiods, 4);
    const int64_t c0[] = {1, 0, 0, 1}, r0[] = {500, 0, 0, 100};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(c.rows[0].customers[k], c0[k]);
        assert_int_equal(c.rows[0].revenue[k], r0[k]);
    }
    assert_int_equal(c.rows[1].size, 2);
    const int64_t c1[] = {2, 1, 1}, r1[] = {150, 50, 500};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(c.rows[1].customers[k], c1[k]);
        assert_int_equal(c.rows[1].revenue[k], r1[k]);
    }
    assert_int_equal(c.rows[3].size, 1);
    assert_int_equal(c.rows[3].revenue[0], 1600);
    cohort_result_release(&c);

    /* By first seen: P106 (events only, February) joins the 2025-02 cohort and never
     * orders; P103's first event is on the day of its first order */
    o.by_first_seen = true;
    assert_int_equal(cohort_compute(s, &o, &c, &e), 0);
    assert_int_equal(c.rows[2].size, 2);
    assert_int_equal(c.rows[2].customers[0], 1);
    cohort_result_release(&c);

    o.period = PERIOD_DAY;
    assert_int_equal(cohort_compute(s, &o, &c, &e), ERR_INVALID);
    snapshot_free(s);
}

static void test_paths(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    struct paths_options o = {.event = snap_dict_find(&s->names, "Product Viewed"), .depth = 2};
    struct paths_result p;
    struct err e = {0};
    assert_int_equal(paths_compute(s, &o, &p, &e), 0);
    /* Viewed > Added > Checkout (P106, P101), Viewed > Added (P103), Viewed > Completed
     * (P102) */
    assert_int_equal(p.total, 4);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.rows[0].count, 2);
    assert_string_equal(snap_dict_str(&s->names, p.rows[0].step[2]), "Checkout Started");
    assert_int_equal(p.rows[1].count, 1);
    paths_result_release(&p);

    o.event = snap_dict_find(&s->names, "Checkout Started");
    o.to = true;
    o.depth = 1;
    assert_int_equal(paths_compute(s, &o, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.rows[0].count, 2);
    assert_string_equal(snap_dict_str(&s->names, p.rows[0].step[0]), "Product Added");
    paths_result_release(&p);
    o.depth = 0;
    assert_int_equal(paths_compute(s, &o, &p, &e), ERR_INVALID);
    snapshot_free(s);
}

/* An empty snapshot (a new store): every analysis answers with nothing, no crash */
static void test_empty(void **state)
{
    (void)state;
    struct snapshot *s = snapshot_new();
    struct err e = {0};
    assert_int_equal(snapshot_build(s, &e), 0);
    struct rfm_result r;
    struct rfm_options ro = {.as_of = INT64_MIN, .window_days = 365};
    assert_int_equal(rfm_compute(s, &ro, &r, &e), 0);
    assert_int_equal(r.n, 0);
    rfm_result_release(&r);
    struct kpi_result k;
    struct kpi_options ko = {.period = PERIOD_WEEK, .from = INT64_MIN, .to = INT64_MAX};
    assert_int_equal(kpi_compute(s, &ko, &k, &e), 0);
    assert_int_equal(k.n, 0);
    kpi_result_release(&k);
    struct funnel_options fo = {.nsteps = 2, .window_ms = MS_PER_DAY};
    assert_int_equal(funnel_step_parse(s, "A", &fo.steps[0], &e), 0);
    assert_int_equal(funnel_step_parse(s, "B", &fo.steps[1], &e), 0);
    struct funnel_result f;
    assert_int_equal(funnel_compute(s, &fo, &f, &e), 0);
    assert_int_equal(f.groups[0].count[0], 0);
    funnel_result_release(&f);
    struct cohort_options co = {.period = PERIOD_MONTH};
    struct cohort_result c;
    assert_int_equal(cohort_compute(s, &co, &c, &e), 0);
    assert_int_equal(c.n, 0);
    cohort_result_release(&c);
    struct paths_options po = {.event = 1, .depth = 2};
    struct paths_result p;
    assert_int_equal(paths_compute(s, &po, &p, &e), 0);
    assert_int_equal(p.n, 0);
    paths_result_release(&p);
    snapshot_free(s);
}

/* ---- From a store: the first load, then only what is new ---- */

static void put_order(struct store *st, int64_t src, const char *key, int64_t t, int64_t amount,
                      int64_t profile)
{
    struct err e = {0};
    struct import_row r = {.source_id = src,
                           .kind = "order",
                           .record_key = key,
                           .file = "t.csv",
                           .line = 1,
                           .time = t,
                           .imported_at = t};
    if (st->ops->record_put(st, &r, &e))
        fail_msg("record_put: %s", e.msg);
    struct order_row o = {.source_id = src,
                          .record_id = r.id,
                          .order_id = key,
                          .time = t,
                          .amount_minor = amount,
                          .channel = "pos"};
    if (st->ops->order_put(st, &o, &e) || st->ops->member_put(st, 1, r.id, profile, &e))
        fail_msg("order: %s", e.msg);
}

static void test_refresh(void **state)
{
    (void)state;
    char path[] = "/tmp/custos-test-analytics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct store *st;
    struct err e = {0};
    struct store_options so = {0};
    assert_int_equal(store_open(path, &so, &st, &e), 0);
    const struct store_ops *ops = st->ops;
    unsigned char h[32] = {1};
    int64_t src;
    assert_int_equal(ops->source_add(st, "pos", h, "ck", NULL, &src, &e), 0);
    assert_int_equal(ops->begin(st, &e), 0);
    put_order(st, src, "o1", at(2025, 1, 1, 12, 0), 1000, 7);
    put_order(st, src, "o2", at(2025, 2, 1, 12, 0), 2000, 8);
    assert_int_equal(ops->profile_put(st, 7, 1, 1, 1, &e), 0);
    assert_int_equal(ops->profile_put(st, 8, 1, 1, 1, &e), 0);
    struct event_row ev = {.source_id = src,
                           .type = "track",
                           .event = "Product Viewed",
                           .user_id = "u9",
                           .message_id = "m1",
                           .timestamp = at(2025, 2, 2, 0, 0),
                           .received_at = 1,
                           .raw = "{\"context\":{\"campaign\":{\"name\":\"spring\"}}}"};
    ev.raw_len = strlen(ev.raw);
    assert_int_equal(ops->event_append(st, &ev, &e), 0);
    assert_int_equal(ops->member_put(st, 0, ev.id, 8, &e), 0);
    assert_int_equal(ops->commit(st, &e), 0);

    struct snapshot *s = snapshot_new();
    int64_t added = 0;
    assert_int_equal(snapshot_refresh(s, st, &added, &e), 0);
    assert_int_equal(added, 3);
    assert_int_equal(s->norders, 2);
    assert_int_equal(s->nevents, 1);
    assert_string_equal(snap_dict_str(&s->campaigns, s->ev_campaign[0]), "spring");
    assert_string_equal(snap_dict_str(&s->sources, s->ord_source[0]), "pos");

    /* Nothing new: nothing added */
    assert_int_equal(snapshot_refresh(s, st, &added, &e), 0);
    assert_int_equal(added, 0);
    assert_int_equal(s->norders, 2);

    /* A new order of profile 7, and an event that arrived after resolution: it has no
     * member row, and goes to the profile of its userId's identifier */
    assert_int_equal(ops->begin(st, &e), 0);
    put_order(st, src, "o3", at(2025, 3, 1, 12, 0), 500, 7);
    assert_int_equal(ops->identifier_put(st, 1, "user_id", "u9", 8, &e), 0);
    ev.message_id = "m2";
    ev.timestamp = at(2025, 3, 2, 0, 0);
    assert_int_equal(ops->event_append(st, &ev, &e), 0);
    assert_int_equal(ops->commit(st, &e), 0);
    assert_int_equal(snapshot_refresh(s, st, &added, &e), 0);
    assert_int_equal(added, 2);
    assert_int_equal(s->norders, 3);
    assert_int_equal(s->nevents, 2);
    size_t p7 = dense(s, 7);
    assert_int_equal(s->ord_off[p7 + 1] - s->ord_off[p7], 2);
    struct rfm_result r;
    struct rfm_options o = {.as_of = INT64_MIN, .window_days = 0};
    assert_int_equal(rfm_compute(s, &o, &r, &e), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.revenue, 3500);
    rfm_result_release(&r);
    snapshot_free(s);
    store_close(st);
    unlink(path);
    char aux[sizeof(path) + 8];
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
}

/* Clamping per profile and cell (what private sums need), exactly, on the golden data:
 * money to [0, 500] and at most 2 orders a profile in a cell. March 2025: P101 2 orders
 * (500), P104 1 (100), P105 4 -> 2 (1600 -> 500): 5 orders, 1100; February: P102 1000 ->
 * 500, P103 50: 550. Cohorts: 2025-03 (P105) 1600 -> 500. */
static void test_clamp(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    struct err e = {0};
    struct dp_clamp cl = {.on = true, .lo = 0, .hi = 500, .max_orders = 2};
    struct kpi_options o = {
        .period = PERIOD_MONTH, .from = INT64_MIN, .to = INT64_MAX, .clamp = cl};
    struct kpi_result k;
    assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
    assert_int_equal(k.n, 4);
    assert_int_equal(k.rows[3].orders, 5);
    assert_int_equal(k.rows[3].revenue, 1100);
    assert_int_equal(k.rows[2].revenue, 550);
    assert_int_equal(k.rows[3].buyers, 3); /* counts of profiles are not changed */
    kpi_result_release(&k);
    o.by = DIM_CHANNEL; /* cells by channel: P105's tmall orders alone in theirs */
    assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
    uint32_t tmall = snap_dict_find(&s->channels, "tmall");
    bool found = false;
    for (size_t i = 0; i < k.n; i++)
        if (k.rows[i].dim == tmall) {
            assert_int_equal(k.rows[i].orders, 2);
            assert_int_equal(k.rows[i].revenue, 500);
            found = true;
        }
    assert_true(found);
    kpi_result_release(&k);
    struct cohort_options co = {.period = PERIOD_MONTH, .clamp = cl};
    struct cohort_result c;
    assert_int_equal(cohort_compute(s, &co, &c, &e), 0);
    assert_int_equal(c.rows[3].revenue[0], 500);
    assert_int_equal(c.rows[1].revenue[2], 500); /* P101's March: 200 + 300 */
    cohort_result_release(&c);
    /* a negative bound: refunds count down to it */
    struct dp_clamp parsed;
    assert_int_equal(dp_clamp_parse("-100:2000", &parsed, &e), 0);
    assert_true(parsed.lo == -100 && parsed.hi == 2000);
    assert_int_equal(dp_clamp_parse("5:10", &parsed, &e), ERR_INVALID);
    assert_int_equal(dp_clamp_parse("0:0", &parsed, &e), ERR_INVALID);
    assert_int_equal(dp_clamp_parse("0:1x", &parsed, &e), ERR_INVALID);
    snapshot_free(s);
}

/* A profile with an enormous order (an outlier: 10^12) adds at most the clamp's top
 * to any private sum: the noisy revenue stays near the clamped sum, never near 10^12. */
static void test_dp_outlier(void **state)
{
    (void)state;
    struct snapshot *s = golden();
    order(s, 107, 2025, 3, 10, 1000000000000LL);
    struct err e = {0};
    assert_int_equal(snapshot_build(s, &e), 0);
    struct dp_request r = {.epsilon = 10, .clamp = {true, 0, 500, 2}};
    struct kpi_options o = {
        .period = PERIOD_QUARTER, .from = INT64_MIN, .to = INT64_MAX, .clamp = r.clamp};
    for (int i = 0; i < 200; i++) {
        struct kpi_result k;
        struct dp_answer a;
        assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
        assert_int_equal(k.n, 2);
        if (i == 0)
            /* exact, clamped per profile in 2025-Q1: P101 600 -> 500, P102 1000 -> 500,
             * P103 100, P104 100, P105 1600 -> 500, P107 10^12 -> 500 */
            assert_int_equal(k.rows[1].revenue, 2200);
        assert_int_equal(kpi_privatize(&k, &r, &a, &e), 0);
        assert_int_equal(a.cells, 14);
        assert_true(fabs(a.sum_scale - 500 / (10.0 / 14)) < 1e-9);
        /* 60 noise scales off has probability e^-60 */
        if (llabs(k.rows[1].revenue - 2200) > 60 * (int64_t)a.sum_scale)
            fail_msg("noisy revenue %" PRId64 " is far from the clamped 2200", k.rows[1].revenue);
        kpi_result_release(&k);
        struct rfm_options ro = {.as_of = at(2025, 4, 1, 0, 0), .window_days = 365};
        struct rfm_result f;
        assert_int_equal(rfm_compute(s, &ro, &f, &e), 0);
        assert_true(f.revenue > 1000000000000LL); /* the exact answer has it all */
        assert_int_equal(rfm_privatize(&f, &r, &a, &e), 0);
        assert_null(f.rows);
        if (llabs(f.revenue) > 6 * 500 + 11 * 60 * (int64_t)a.sum_scale)
            fail_msg("noisy RFM revenue %" PRId64 " is not clamped", f.revenue);
        rfm_result_release(&f);
    }
    snapshot_free(s);
}

/* The sample variance of each cell's noise over many draws: 2 b^2 (+ 1/12 from the
 * rounding), with b = sensitivity / (epsilon / cells); 5 standard errors of the sample
 * variance (sqrt(20 / n) b^2 for the Laplace) as the tolerance. */
static void check_variance(const double *x, size_t n, double b, const char *what)
{
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= (double)(n - 1);
    double want = 2 * b * b + 1.0 / 12, tol = 5 * sqrt(20.0 / (double)n) * b * b;
    if (fabs(var - want) > tol || fabs(mean) > 5 * sqrt(want / (double)n))
        fail_msg("%s: mean %g, variance %g, want 0 and %g +- %g", what, mean, var, want, tol);
}

#define DP_DRAWS 40000

static void test_dp_noise(void **state)
{
    (void)state;
    struct err e = {0};
    double *xc = malloc(DP_DRAWS * sizeof(double)), *xo = malloc(DP_DRAWS * sizeof(double)),
           *xr = malloc(DP_DRAWS * sizeof(double));
    assert_true(xc && xo && xr);
    /* A funnel of 2 groups x 4 steps, epsilon 2: 8 cells of 0.25, b = 4 */
    struct dp_request r = {.epsilon = 2, .clamp = {true, 0, 50, 3}};
    struct funnel_result f = {.nsteps = 4, .ngroups = 2};
    f.groups = calloc(2, sizeof(*f.groups));
    assert_non_null(f.groups);
    struct dp_answer a;
    for (size_t i = 0; i < DP_DRAWS; i++) {
        for (int g = 0; g < 2; g++)
            for (int k = 0; k < 4; k++) {
                f.groups[g].count[k] = 100000;
                f.groups[g].median_ms[k] = 1000;
            }
        assert_int_equal(funnel_privatize(&f, &r, &a, &e), 0);
        xc[i] = (double)(f.groups[1].count[2] - 100000);
    }
    assert_int_equal(a.cells, 8);
    assert_true(fabs(a.count_scale - 4) < 1e-12);
    assert_int_equal(f.groups[0].median_ms[1], -1); /* withheld */
    check_variance(xc, DP_DRAWS, 4, "funnel count");
    free(f.groups);
    /* A KPI of one row, epsilon 7: 7 cells of 1; orders b = 3 (max_orders), money b = 50 */
    r.epsilon = 7;
    for (size_t i = 0; i < DP_DRAWS; i++) {
        struct kpi_row row = {.orders = 100000, .revenue = 1000000, .buyers = 100000};
        struct kpi_result k = {.n = 1, .rows = &row};
        assert_int_equal(kpi_privatize(&k, &r, &a, &e), 0);
        xo[i] = (double)(row.orders - 100000);
        xr[i] = (double)(row.revenue - 1000000);
        xc[i] = (double)(row.buyers - 100000);
    }
    assert_int_equal(a.cells, 7);
    check_variance(xo, DP_DRAWS, 3, "kpi orders");
    check_variance(xr, DP_DRAWS, 50, "kpi revenue");
    check_variance(xc, DP_DRAWS, 1, "kpi buyers");
    /* bad requests */
    r.epsilon = 0;
    struct kpi_result k0 = {0};
    assert_int_equal(kpi_privatize(&k0, &r, &a, &e), ERR_INVALID);
    r.epsilon = 1;
    r.clamp.on = false;
    assert_int_equal(kpi_privatize(&k0, &r, &a, &e), ERR_INVALID);
    free(xc);
    free(xo);
    free(xr);
}

/* The analytics time zone, around midnight in Beijing (UTC+8): profile 1 orders at
 * 2025-01-31 23:30 Beijing (15:30 UTC) and 2025-02-28 16:30 UTC (2025-03-01 00:30
 * Beijing); profile 2 at 2025-02-01 00:30 Beijing (2025-01-31 16:30 UTC) and is seen
 * (an event) at 2025-03-31 23:59 UTC (2025-04-01 07:59 Beijing).
 *   UTC:    months 2025-01 (2 orders: p1, p2), 2025-02 (1: p1), 2025-03 (active p2)
 *   +08:00: months 2025-01 (1: p1), 2025-02 (1: p2), 2025-03 (1: p1), 2025-04 (p2)
 *   days, +08:00: 2025-01-31 (p1), 2025-02-01 (p2)
 *   cohorts by first order, +08:00: 2025-01 {p1: +0, +2}, 2025-02 {p2: +0}
 *   RFM's default as of: the local midnight after the last order (2025-02-28 16:30
 *   UTC): 2025-03-01 00:00 UTC in UTC; 2025-03-02 00:00 Beijing = 03-01 16:00 UTC. */
static void test_time_zone(void **state)
{
    (void)state;
    struct snapshot *s = snapshot_new();
    struct err e = {0};
    const struct {
        int64_t p, t, amount;
    } orders[] = {{1, at(2025, 1, 31, 15, 30), 100},
                  {1, at(2025, 2, 28, 16, 30), 200},
                  {2, at(2025, 1, 31, 16, 30), 400}};
    for (size_t i = 0; i < ARRAY_SIZE(orders); i++) {
        struct snap_order o = {
            .profile_id = orders[i].p, .time = orders[i].t, .amount = orders[i].amount};
        assert_int_equal(snapshot_add_order(s, &o, &e), 0);
    }
    event(s, 2, at(2025, 3, 31, 23, 59), "page", "web", "");
    assert_int_equal(snapshot_build(s, &e), 0);
    int64_t tz;
    assert_int_equal(analytics_tz_parse("+08:00", &tz), 0);
    assert_int_equal(tz, 8 * 3600000);
    struct kpi_options o = {.period = PERIOD_MONTH, .from = INT64_MIN, .to = INT64_MAX};
    struct kpi_result k;
    char label[16];
    /* period, orders, revenue, active */
    static const struct {
        const char *period;
        int64_t orders, revenue, active;
    } utc[] = {{"2025-01", 2, 500, 2}, {"2025-02", 1, 200, 1}, {"2025-03", 0, 0, 1}},
      bj[] = {{"2025-01", 1, 100, 1},
              {"2025-02", 1, 400, 1},
              {"2025-03", 1, 200, 1},
              {"2025-04", 0, 0, 1}};
    for (int zone = 0; zone < 2; zone++) {
        o.tz_ms = zone ? tz : 0;
        size_t want_n = zone ? ARRAY_SIZE(bj) : ARRAY_SIZE(utc);
        assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
        assert_int_equal(k.n, want_n);
        for (size_t i = 0; i < k.n; i++) {
            period_label(PERIOD_MONTH, k.rows[i].period, label);
            const char *wp = zone ? bj[i].period : utc[i].period;
            int64_t wo = zone ? bj[i].orders : utc[i].orders;
            int64_t wr = zone ? bj[i].revenue : utc[i].revenue;
            int64_t wa = zone ? bj[i].active : utc[i].active;
            if (strcmp(label, wp) || k.rows[i].orders != wo || k.rows[i].revenue != wr ||
                k.rows[i].active != wa)
                fail_msg("zone %d row %zu: %s %" PRId64 " %" PRId64 " %" PRId64 ", want %s %" PRId64
                         " %" PRId64 " %" PRId64,
                         zone, i, label, k.rows[i].orders, k.rows[i].revenue, k.rows[i].active, wp,
                         wo, wr, wa);
        }
        kpi_result_release(&k);
    }
    o.period = PERIOD_DAY;
    o.tz_ms = tz;
    o.to = at(2025, 2, 2, 0, 0);
    assert_int_equal(kpi_compute(s, &o, &k, &e), 0);
    assert_int_equal(k.n, 2);
    period_label(PERIOD_DAY, k.rows[0].period, label);
    assert_string_equal(label, "2025-01-31");
    period_label(PERIOD_DAY, k.rows[1].period, label);
    assert_string_equal(label, "2025-02-01");
    assert_int_equal(k.rows[1].revenue, 400);
    kpi_result_release(&k);

    struct cohort_options co = {.period = PERIOD_MONTH, .tz_ms = tz};
    struct cohort_result c;
    assert_int_equal(cohort_compute(s, &co, &c, &e), 0);
    assert_int_equal(c.n, 2);
    period_label(PERIOD_MONTH, c.rows[0].cohort, label);
    assert_string_equal(label, "2025-01");
    assert_int_equal(c.rows[0].size, 1);
    assert_int_equal(c.rows[0].customers[2], 1);
    assert_int_equal(c.rows[0].revenue[2], 200);
    period_label(PERIOD_MONTH, c.rows[1].cohort, label);
    assert_string_equal(label, "2025-02");
    assert_int_equal(c.rows[1].revenue[0], 400);
    cohort_result_release(&c);
    co.tz_ms = 0; /* in UTC both first orders are in January */
    assert_int_equal(cohort_compute(s, &co, &c, &e), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.rows[0].size, 2);
    cohort_result_release(&c);

    struct rfm_options ro = {.as_of = INT64_MIN, .window_days = 365};
    struct rfm_result f;
    assert_int_equal(rfm_compute(s, &ro, &f, &e), 0);
    assert_int_equal(f.as_of, at(2025, 3, 1, 0, 0));
    rfm_result_release(&f);
    ro.tz_ms = tz;
    assert_int_equal(rfm_compute(s, &ro, &f, &e), 0);
    assert_int_equal(f.as_of, at(2025, 3, 1, 16, 0));
    rfm_result_release(&f);

    /* dates without a zone are local; with one they are what they say */
    int64_t ms;
    assert_int_equal(analytics_date_parse("2025-02-01", tz, &ms), 0);
    assert_int_equal(ms, at(2025, 1, 31, 16, 0));
    assert_int_equal(analytics_date_parse("2025-02-01T08:00", tz, &ms), 0);
    assert_int_equal(ms, at(2025, 2, 1, 0, 0));
    assert_int_equal(analytics_date_parse("2025-02-01T00:00:00Z", tz, &ms), 0);
    assert_int_equal(ms, at(2025, 2, 1, 0, 0));
    assert_int_equal(analytics_date_parse("2025-02-01T00:00+08:00", 0, &ms), 0);
    assert_int_equal(ms, at(2025, 1, 31, 16, 0));
    assert_int_equal(analytics_date_parse("2025-02-30", tz, &ms), ERR_INVALID);
    static const char *const good[] = {"UTC", "Z", "+00:00", "-05:30", "+0800", "+08", "+14:00"};
    static const char *const bad[] = {"", "8", "+8", "+08:60", "+15:00", "CST", "+08:00x"};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++)
        if (analytics_tz_parse(good[i], &tz))
            fail_msg("\"%s\" refused", good[i]);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (!analytics_tz_parse(bad[i], &tz))
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(analytics_tz_parse("-05:30", &tz), 0);
    assert_int_equal(tz, -(5 * 3600000 + 30 * 60000));
    snapshot_free(s);
}

/* Beside an incremental resolver (custos serve): events are taken up to the resolver's
 * cursor, an event not resolved yet waits for the next refresh instead of being passed
 * over, and a batch of the resolver (profiles.resolved_at moves) adds rows without
 * loading everything again; a merge does load everything again. */
static void test_refresh_upto_resolved(void **state)
{
    (void)state;
    char path[] = "/tmp/custos-test-analytics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct store *st;
    struct err e = {0};
    struct store_options so = {0};
    assert_int_equal(store_open(path, &so, &st, &e), 0);
    const struct store_ops *ops = st->ops;
    unsigned char h[32] = {1};
    int64_t src;
    assert_int_equal(ops->source_add(st, "web", h, "ck", NULL, &src, &e), 0);
    struct event_row ev = {.source_id = src,
                           .type = "track",
                           .event = "Product Viewed",
                           .received_at = 1,
                           .raw = "{}"};
    ev.raw_len = strlen(ev.raw);
    int64_t id[3];
    const char *users[3] = {"u1", "u2", "u1"};
    char mid[16];
    assert_int_equal(ops->begin(st, &e), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(mid, sizeof(mid), "m%d", i);
        ev.message_id = mid;
        ev.user_id = users[i];
        ev.timestamp = at(2025, 3, 1 + i, 0, 0);
        assert_int_equal(ops->event_append(st, &ev, &e), 0);
        id[i] = ev.id;
    }
    /* The resolver did the first event only. */
    assert_int_equal(ops->identifier_put(st, 0, "user_id", "u1", 1, &e), 0);
    assert_int_equal(ops->member_put(st, 0, id[0], 1, &e), 0);
    assert_int_equal(ops->profile_put(st, 1, 1, 1, 100, &e), 0);
    assert_int_equal(ops->identity_cursor_put(st, 0, id[0], false, 100, &e), 0);
    assert_int_equal(ops->commit(st, &e), 0);

    struct snapshot *s = snapshot_new();
    s->upto_resolved = true;
    int64_t added = 0;
    assert_int_equal(snapshot_refresh(s, st, &added, &e), 0);
    assert_int_equal(added, 1);
    assert_int_equal(s->nevents, 1);

    /* Its next batch: the second and third events, a new profile, resolved_at moved. */
    assert_int_equal(ops->begin(st, &e), 0);
    assert_int_equal(ops->identifier_put(st, 1, "user_id", "u2", 2, &e), 0);
    assert_int_equal(ops->member_put(st, 0, id[1], 2, &e), 0);
    assert_int_equal(ops->member_put(st, 0, id[2], 1, &e), 0);
    assert_int_equal(ops->profile_put(st, 1, 1, 2, 200, &e), 0);
    assert_int_equal(ops->profile_put(st, 2, 1, 1, 200, &e), 0);
    assert_int_equal(ops->identity_cursor_put(st, 0, id[2], false, 200, &e), 0);
    assert_int_equal(ops->commit(st, &e), 0);
    assert_int_equal(snapshot_refresh(s, st, &added, &e), 0);
    assert_int_equal(added, 2); /* the two new ones, not everything again */
    assert_int_equal(s->nevents, 3);
    assert_int_equal(s->nprofiles, 2);
    size_t p1 = dense(s, 1), p2 = dense(s, 2);
    assert_int_equal(s->ev_off[p1 + 1] - s->ev_off[p1], 2);
    assert_int_equal(s->ev_off[p2 + 1] - s->ev_off[p2], 1);

    /* A merge rewrites profiles: everything is loaded again, under the new profile. */
    assert_int_equal(ops->begin(st, &e), 0);
    assert_int_equal(ops->profile_merge(st, 2, 1, "test", 300, &e), 0);
    assert_int_equal(ops->profile_reassign(st, 2, 1, &e), 0);
    assert_int_equal(ops->profile_put(st, 1, 2, 3, 300, &e), 0);
    assert_int_equal(ops->commit(st, &e), 0);
    assert_int_equal(snapshot_refresh(s, st, &added, &e), 0);
    assert_int_equal(added, 3);
    assert_int_equal(s->nevents, 3);
    p1 = dense(s, 1);
    assert_int_equal(s->ev_off[p1 + 1] - s->ev_off[p1], 3);

    snapshot_free(s);
    store_close(st);
    unlink(path);
    char aux[sizeof(path) + 8];
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_sorted),
        cmocka_unit_test(test_rfm),
        cmocka_unit_test(test_rfm_grid),
        cmocka_unit_test(test_kpi),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_funnel),
        cmocka_unit_test(test_cohort),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_dp_outlier),
        cmocka_unit_test(test_dp_noise),
        cmocka_unit_test(test_time_zone),
        cmocka_unit_test(test_refresh_upto_resolved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
