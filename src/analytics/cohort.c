/* cohort.c - cohort retention: profiles grouped by the week or month of their first
 * order (or first event or order), and for each later period the profiles of the
 * cohort that ordered in it and what they spent.
 *
 * Orders are in time order within a profile, so a profile's period only grows: it is
 * counted in a cell when its period changes. Each thread fills its own matrix of
 * (cohort, offset) cells over the snapshot's period range. */
#include "analytics/analytics.h"

struct cohort_job {
    const struct snapshot *s;
    const struct cohort_options *o;
    int64_t day0, *period, pmin;
    int64_t tz; /* ms added to a UTC time to make it local */
    size_t nper;
    int64_t *size[SNAP_THREADS], *cust[SNAP_THREADS], *rev[SNAP_THREADS];
};

static inline int64_t per_at(const struct cohort_job *j, int64_t t)
{
    return j->period[snap_day(t + j->tz) - j->day0] - j->pmin;
}

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void cohort_part(int part, int nparts, void *ctx)
{
    struct cohort_job *j = ctx;
    const struct snapshot *s = j->s;
    size_t lo = snap_part_begin(s->nprofiles, part, nparts);
    size_t hi = snap_part_begin(s->nprofiles, part + 1, nparts);
    int64_t *size = j->size[part], *cust = j->cust[part], *rev = j->rev[part];
    size_t nper = j->nper;
    for (size_t p = lo; p < hi; p++) {
        uint32_t ob = s->ord_off[p], oe = s->ord_off[p + 1];
        int64_t first = ob < oe ? s->ord_time[ob] : INT64_MAX;
        if (j->o->by_first_seen && s->ev_off[p] < s->ev_off[p + 1] &&
            s->ev_time[s->ev_off[p]] < first)
            first = s->ev_time[s->ev_off[p]];
        if (first == INT64_MAX)
            continue;
        int64_t c = per_at(j, first);
        size[c]++;
        int64_t last = -1, spent = 0; /* the profile's money so far in the cell */
        const struct dp_clamp *cl = &j->o->clamp;
        for (uint32_t i = ob; i < oe; i++) {
            int64_t off = per_at(j, s->ord_time[i]) - c;
            size_t cell = (size_t)c * nper + (size_t)off;
            if (off != last) {
                cust[cell]++;
                last = off;
                spent = 0;
            }
            if (cl->on) { /* the cell gets clamp(after) - clamp(before): 0 is inside */
                int64_t after = spent + s->ord_amount[i];
                rev[cell] += clamp64(after, cl->lo, cl->hi) - clamp64(spent, cl->lo, cl->hi);
                spent = after;
            } else {
                rev[cell] += s->ord_amount[i];
            }
        }
    }
}

int cohort_compute(const struct snapshot *s, const struct cohort_options *o,
                   struct cohort_result *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    out->period = o->period;
    if (o->period != PERIOD_WEEK && o->period != PERIOD_MONTH)
        return err_set(e, ERR_INVALID, "cohorts are by week or by month");
    if (s->time_min > s->time_max)
        return 0;
    struct cohort_job j = {.s = s, .o = o, .tz = o->tz_ms};
    j.day0 = snap_day(s->time_min + j.tz);
    int64_t nday = snap_day(s->time_max + j.tz) - j.day0 + 1;
    if (nday > 366 * 200)
        return err_set(e, ERR_LIMIT, "the data spans more than 200 years");
    int rc = ERR_NOMEM;
    j.period = malloc((size_t)nday * sizeof(*j.period));
    if (!j.period)
        goto out;
    for (int64_t d = 0; d < nday; d++)
        j.period[d] = period_of_day(o->period, j.day0 + d);
    j.pmin = j.period[0];
    j.nper = (size_t)(j.period[nday - 1] - j.pmin + 1);
    for (int t = 0; t < SNAP_THREADS; t++) {
        j.size[t] = calloc(j.nper, sizeof(int64_t));
        j.cust[t] = calloc(j.nper * j.nper, sizeof(int64_t));
        j.rev[t] = calloc(j.nper * j.nper, sizeof(int64_t));
        if (!j.size[t] || !j.cust[t] || !j.rev[t])
            goto out;
    }
    snapshot_parallel(cohort_part, &j);
    out->rows = calloc(j.nper, sizeof(*out->rows));
    if (!out->rows)
        goto out;
    for (size_t c = 0; c < j.nper; c++) {
        int64_t size = 0;
        for (int t = 0; t < SNAP_THREADS; t++)
            size += j.size[t][c];
        if (!size)
            continue;
        struct cohort_row *r = &out->rows[out->n++];
        r->cohort = j.pmin + (int64_t)c;
        r->size = size;
        r->nperiods = j.nper - c;
        r->customers = calloc(r->nperiods, sizeof(int64_t));
        r->revenue = calloc(r->nperiods, sizeof(int64_t));
        if (!r->customers || !r->revenue)
            goto out;
        for (size_t k = 0; k < r->nperiods; k++)
            for (int t = 0; t < SNAP_THREADS; t++) {
                r->customers[k] += j.cust[t][c * j.nper + k];
                r->revenue[k] += j.rev[t][c * j.nper + k];
            }
    }
    rc = 0;
out:
    free(j.period);
    for (int t = 0; t < SNAP_THREADS; t++) {
        free(j.size[t]);
        free(j.cust[t]);
        free(j.rev[t]);
    }
    if (rc) {
        cohort_result_release(out);
        err_set(e, rc, "out of memory for the cohort matrix");
    }
    return rc;
}

void cohort_result_release(struct cohort_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].customers);
        free(r->rows[i].revenue);
    }
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}
