/* kpi.c - KPI trends: orders, revenue, buyers (new and returning), repeat buyers,
 * active and total customers per day, week, month or quarter, optionally by source,
 * channel or store. Also the period arithmetic every analysis shares.
 *
 * Each thread takes half the profiles and counts into its own table of (period,
 * value) cells; a profile is counted once per cell with a stamp array (the last
 * profile that touched the cell), so no per-profile set is built. */
#include <ctype.h>

#include "analytics/analytics.h"
#include "core/timeutil.h"

int analytics_tz_parse(const char *text, int64_t *offset_ms)
{
    if (strcmp(text, "UTC") == 0 || strcmp(text, "utc") == 0 || strcmp(text, "Z") == 0) {
        *offset_ms = 0;
        return 0;
    }
    int sign = text[0] == '+' ? 1 : text[0] == '-' ? -1 : 0;
    const char *c = text + 1;
    int h = 0, m = 0;
    if (!sign || !isdigit((unsigned char)c[0]) || !isdigit((unsigned char)c[1]))
        return ERR_INVALID;
    h = (c[0] - '0') * 10 + (c[1] - '0');
    c += 2;
    if (*c == ':')
        c++;
    if (*c) {
        if (!isdigit((unsigned char)c[0]) || !isdigit((unsigned char)c[1]) || c[2])
            return ERR_INVALID;
        m = (c[0] - '0') * 10 + (c[1] - '0');
    }
    int64_t off = sign * ((int64_t)h * 3600000 + (int64_t)m * 60000);
    if (m > 59 || off > ANALYTICS_TZ_MAX_MS || off < -ANALYTICS_TZ_MAX_MS)
        return ERR_INVALID;
    *offset_ms = off;
    return 0;
}

int analytics_date_parse(const char *text, int64_t tz_ms, int64_t *ms)
{
    size_t n = strlen(text);
    int64_t v;
    if (time_parse_iso8601(text, n, &v))
        return ERR_INVALID;
    /* Without a zone of its own: the text with a "Z" after it is valid too (a date
     * alone takes none: "2026-01-01Z" is refused, so check its length). */
    char z[64];
    bool local = n == 10;
    if (!local && n + 2 <= sizeof(z)) {
        memcpy(z, text, n);
        z[n] = 'Z';
        int64_t w;
        local = time_parse_iso8601(z, n + 1, &w) == 0;
    }
    *ms = local ? v - tz_ms : v;
    return 0;
}

int period_parse(const char *s, enum period *p)
{
    static const char *const names[] = {"day", "week", "month", "quarter"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *p = (enum period)i;
            return 0;
        }
    return ERR_INVALID;
}

int64_t period_of_day(enum period p, int64_t d)
{
    int64_t y;
    int m, dd;
    switch (p) {
    case PERIOD_DAY:
        return d;
    case PERIOD_WEEK: /* 1970-01-01 was a Thursday: day 4 of the week starting Monday -3 */
        return (d + 3) >= 0 ? (d + 3) / 7 : -((-(d + 3) + 6) / 7);
    case PERIOD_MONTH:
        time_civil_from_days(d, &y, &m, &dd);
        return y * 12 + m - 1;
    case PERIOD_QUARTER:
        time_civil_from_days(d, &y, &m, &dd);
        return y * 4 + (m - 1) / 3;
    }
    return d;
}

void period_label(enum period p, int64_t n, char out[16])
{
    int64_t y;
    int m, d;
    switch (p) {
    case PERIOD_DAY:
    case PERIOD_WEEK:
        time_civil_from_days(p == PERIOD_WEEK ? n * 7 - 3 : n, &y, &m, &d);
        snprintf(out, 16, "%04d-%02d-%02d", (int)y, m, d);
        return;
    case PERIOD_MONTH:
        snprintf(out, 16, "%04d-%02d", (int)(n / 12), (int)(n % 12) + 1);
        return;
    case PERIOD_QUARTER:
        snprintf(out, 16, "%04d-Q%d", (int)(n / 4), (int)(n % 4) + 1);
        return;
    }
    out[0] = 0;
}

int dim_parse(const char *s, enum snap_dim *d)
{
    static const char *const names[] = {"", "source", "channel", "store"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *d = (enum snap_dim)i;
            return 0;
        }
    return ERR_INVALID;
}

/* Local day -> period number, over the snapshot's days. */
struct period_map {
    int64_t day0, nday;
    int64_t *period;
    int64_t pmin, pmax;
    int64_t tz; /* ms added to a UTC time to make it local */
};

static int period_map_init(struct period_map *pm, const struct snapshot *s, enum period p,
                           int64_t tz)
{
    memset(pm, 0, sizeof(*pm));
    pm->tz = tz;
    if (s->time_min > s->time_max) {
        pm->pmin = 0;
        pm->pmax = -1;
        return 0;
    }
    pm->day0 = snap_day(s->time_min + tz);
    pm->nday = snap_day(s->time_max + tz) - pm->day0 + 1;
    if (pm->nday > 366 * 200)
        return ERR_LIMIT;
    pm->period = malloc((size_t)pm->nday * sizeof(*pm->period));
    if (!pm->period)
        return ERR_NOMEM;
    for (int64_t d = 0; d < pm->nday; d++)
        pm->period[d] = period_of_day(p, pm->day0 + d);
    pm->pmin = pm->period[0];
    pm->pmax = pm->period[pm->nday - 1];
    return 0;
}

static inline int64_t period_at(const struct period_map *pm, int64_t t)
{
    return pm->period[snap_day(t + pm->tz) - pm->day0];
}

struct kpi_acc {
    int64_t *orders, *revenue, *buyers, *new_buyers, *repeat, *active, *first_seen;
    uint32_t *stamp_buy, *stamp_rep, *stamp_act;
    /* With a clamp: the current profile's money and orders so far in each cell. */
    int64_t *cur_rev, *cur_ord;
};

struct kpi_job {
    const struct snapshot *s;
    const struct kpi_options *o;
    struct period_map pm;
    size_t ndim, ncell, nper;
    struct kpi_acc acc[SNAP_THREADS];
};

static uint32_t order_dim(const struct snapshot *s, enum snap_dim by, size_t i)
{
    switch (by) {
    case DIM_SOURCE:
        return s->ord_source[i];
    case DIM_CHANNEL:
        return s->ord_channel[i];
    case DIM_STORE:
        return s->ord_store[i];
    case DIM_NONE:
        break;
    }
    return 0;
}

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Adds order i of the profile with stamp to cell c, its money and order count clamped
 * per profile and cell: the cell gets clamp(total after) - clamp(total before), which
 * adds up to the clamp of the profile's total (0 is inside the clamp). */
static inline void add_clamped(struct kpi_acc *a, const struct dp_clamp *cl, size_t c,
                               uint32_t stamp, int64_t amount)
{
    if (a->stamp_buy[c] != stamp) {
        a->cur_rev[c] = 0;
        a->cur_ord[c] = 0;
    }
    int64_t before = a->cur_rev[c], after = before + amount;
    a->cur_rev[c] = after;
    a->revenue[c] += clamp64(after, cl->lo, cl->hi) - clamp64(before, cl->lo, cl->hi);
    if (a->cur_ord[c]++ < cl->max_orders)
        a->orders[c]++;
}

static void kpi_part(int part, int nparts, void *ctx)
{
    struct kpi_job *j = ctx;
    const struct snapshot *s = j->s;
    const struct kpi_options *o = j->o;
    struct kpi_acc *a = &j->acc[part];
    size_t lo = snap_part_begin(s->nprofiles, part, nparts);
    size_t hi = snap_part_begin(s->nprofiles, part + 1, nparts);
    bool events_count = o->by == DIM_NONE || o->by == DIM_SOURCE;
    for (size_t p = lo; p < hi; p++) {
        uint32_t stamp = (uint32_t)p + 1;
        uint32_t ob = s->ord_off[p], oe = s->ord_off[p + 1];
        uint32_t eb = s->ev_off[p], ee = s->ev_off[p + 1];
        /* first seen: the earlier of the first order and the first event */
        int64_t first = INT64_MAX;
        if (ob < oe)
            first = s->ord_time[ob];
        if (eb < ee && s->ev_time[eb] < first)
            first = s->ev_time[eb];
        if (first != INT64_MAX)
            a->first_seen[period_at(&j->pm, first) - j->pm.pmin]++;
        int64_t first_order_period = ob < oe ? period_at(&j->pm, s->ord_time[ob]) : INT64_MIN;
        for (uint32_t i = ob; i < oe; i++) {
            int64_t t = s->ord_time[i];
            if (t < o->from || t >= o->to)
                continue;
            int64_t per = period_at(&j->pm, t);
            size_t c = (size_t)(per - j->pm.pmin) * j->ndim + order_dim(s, o->by, i);
            if (o->clamp.on) {
                add_clamped(a, &o->clamp, c, stamp, s->ord_amount[i]);
            } else {
                a->orders[c]++;
                a->revenue[c] += s->ord_amount[i];
            }
            if (a->stamp_buy[c] != stamp) {
                a->stamp_buy[c] = stamp;
                a->buyers[c]++;
                if (per == first_order_period)
                    a->new_buyers[c]++;
            } else if (a->stamp_rep[c] != stamp) {
                a->stamp_rep[c] = stamp;
                a->repeat[c]++;
            }
            if (a->stamp_act[c] != stamp) {
                a->stamp_act[c] = stamp;
                a->active[c]++;
            }
        }
        if (!events_count)
            continue;
        for (uint32_t i = eb; i < ee; i++) {
            int64_t t = s->ev_time[i];
            if (t < o->from || t >= o->to)
                continue;
            size_t c = (size_t)(period_at(&j->pm, t) - j->pm.pmin) * j->ndim +
                       (o->by == DIM_SOURCE ? s->ev_source[i] : 0);
            if (a->stamp_act[c] != stamp) {
                a->stamp_act[c] = stamp;
                a->active[c]++;
            }
        }
    }
}

static void acc_free(struct kpi_acc *a)
{
    free(a->orders);
    free(a->revenue);
    free(a->buyers);
    free(a->new_buyers);
    free(a->repeat);
    free(a->active);
    free(a->first_seen);
    free(a->stamp_buy);
    free(a->stamp_rep);
    free(a->stamp_act);
    free(a->cur_rev);
    free(a->cur_ord);
}

int kpi_compute(const struct snapshot *s, const struct kpi_options *o, struct kpi_result *out,
                struct err *e)
{
    memset(out, 0, sizeof(*out));
    out->period = o->period;
    out->by = o->by;
    struct kpi_job j = {.s = s, .o = o};
    int rc = period_map_init(&j.pm, s, o->period, o->tz_ms);
    if (rc == ERR_LIMIT)
        return err_set(e, ERR_LIMIT, "the data spans more than 200 years");
    if (rc)
        return err_set(e, rc, "out of memory for the KPI periods");
    const struct snap_dict *dict = o->by == DIM_SOURCE    ? &s->sources
                                   : o->by == DIM_CHANNEL ? &s->channels
                                   : o->by == DIM_STORE   ? &s->stores
                                                          : NULL;
    j.ndim = dict ? dict->n : 1;
    j.nper = (size_t)(j.pm.pmax - j.pm.pmin + 1);
    j.ncell = j.nper * j.ndim;
    size_t nc = j.ncell ? j.ncell : 1, np = j.nper ? j.nper : 1;
    rc = ERR_NOMEM;
    for (int t = 0; t < SNAP_THREADS; t++) {
        struct kpi_acc *a = &j.acc[t];
        a->orders = calloc(nc, sizeof(int64_t));
        a->revenue = calloc(nc, sizeof(int64_t));
        a->buyers = calloc(nc, sizeof(int64_t));
        a->new_buyers = calloc(nc, sizeof(int64_t));
        a->repeat = calloc(nc, sizeof(int64_t));
        a->active = calloc(nc, sizeof(int64_t));
        a->first_seen = calloc(np, sizeof(int64_t));
        a->stamp_buy = calloc(nc, sizeof(uint32_t));
        a->stamp_rep = calloc(nc, sizeof(uint32_t));
        a->stamp_act = calloc(nc, sizeof(uint32_t));
        if (!a->orders || !a->revenue || !a->buyers || !a->new_buyers || !a->repeat || !a->active ||
            !a->first_seen || !a->stamp_buy || !a->stamp_rep || !a->stamp_act)
            goto out;
        if (o->clamp.on && (!(a->cur_rev = calloc(nc, sizeof(int64_t))) ||
                            !(a->cur_ord = calloc(nc, sizeof(int64_t)))))
            goto out;
    }
    if (j.ncell)
        snapshot_parallel(kpi_part, &j);
    out->rows = calloc(nc, sizeof(*out->rows));
    if (!out->rows)
        goto out;
    int64_t customers = 0;
    for (size_t per = 0; per < j.nper; per++) {
        for (int t = 0; t < SNAP_THREADS; t++)
            customers += j.acc[t].first_seen[per];
        for (size_t d = 0; d < j.ndim; d++) {
            size_t c = per * j.ndim + d;
            struct kpi_row r = {
                .period = j.pm.pmin + (int64_t)per, .dim = (uint32_t)d, .customers = customers};
            for (int t = 0; t < SNAP_THREADS; t++) {
                struct kpi_acc *a = &j.acc[t];
                r.orders += a->orders[c];
                r.revenue += a->revenue[c];
                r.buyers += a->buyers[c];
                r.new_buyers += a->new_buyers[c];
                r.repeat += a->repeat[c];
                r.active += a->active[c];
            }
            /* a cell with nothing in it (outside --from/--to, a value not used) is left out */
            if (r.orders == 0 && r.active == 0)
                continue;
            out->rows[out->n++] = r;
        }
    }
    rc = 0;
out:
    for (int t = 0; t < SNAP_THREADS; t++)
        acc_free(&j.acc[t]);
    free(j.pm.period);
    if (rc) {
        kpi_result_release(out);
        err_set(e, rc, "out of memory for the KPI table");
    }
    return rc;
}

void kpi_result_release(struct kpi_result *r)
{
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}
