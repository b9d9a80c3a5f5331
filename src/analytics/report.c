/* report.c - analysis results as JSON documents: what `custos analyze --json` prints
 * and what GET /api/v1/analytics/... answers, and what tables and CSV are made from.
 *
 * A flat report is {"analysis": NAME, ...parameters, "columns": [NAMES], "rows":
 * [{column: value}]}; values are numbers (amounts in integer minor units, rates in
 * percent with two decimals) or strings, and null where nothing can be said (a change
 * from an empty period). The cohort report's rows carry arrays instead. */
#include <cJSON.h>
#include <math.h>

#include "analytics/report.h"
#include "core/timeutil.h"

static cJSON *new_report(const char *analysis, const char *const *cols, size_t ncols, cJSON **rows)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "analysis", analysis);
    cJSON_AddItemToObject(r, "columns", cJSON_CreateStringArray(cols, (int)ncols));
    *rows = cJSON_AddArrayToObject(r, "rows");
    return r;
}

static double round2(double v)
{
    return round(v * 100.0) / 100.0;
}

static void add_pct(cJSON *o, const char *name, double num, double den)
{
    if (den == 0)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddNumberToObject(o, name, round2(100.0 * num / den));
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
    char t[32];
    time_format_iso8601(ms, t);
    cJSON_AddStringToObject(o, name, t);
}

static const char *dim_name(enum snap_dim d)
{
    static const char *const n[] = {"", "source", "channel", "store"};
    return n[d];
}

static const char *period_name(enum period p)
{
    static const char *const n[] = {"day", "week", "month", "quarter"};
    return n[p];
}

cJSON *report_kpi(const struct snapshot *s, const struct kpi_result *k)
{
    static const char *const cols[] = {"period",
                                       "by",
                                       "customers",
                                       "active",
                                       "buyers",
                                       "new_buyers",
                                       "returning",
                                       "orders",
                                       "revenue_minor",
                                       "aov_minor",
                                       "repurchase_pct",
                                       "orders_change_pct",
                                       "revenue_change_pct",
                                       "buyers_change_pct"};
    cJSON *rows, *r = new_report("kpi", cols, ARRAY_SIZE(cols), &rows);
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "period", period_name(k->period));
    cJSON_AddStringToObject(r, "by", dim_name(k->by));
    const struct snap_dict *dict = k->by == DIM_SOURCE    ? &s->sources
                                   : k->by == DIM_CHANNEL ? &s->channels
                                   : k->by == DIM_STORE   ? &s->stores
                                                          : NULL;
    for (size_t i = 0; i < k->n; i++) {
        const struct kpi_row *x = &k->rows[i];
        /* the same value's row of the period before, if there is one */
        const struct kpi_row *prev = NULL;
        for (size_t j = i; j-- > 0 && k->rows[j].period >= x->period - 1;)
            if (k->rows[j].period == x->period - 1 && k->rows[j].dim == x->dim) {
                prev = &k->rows[j];
                break;
            }
        char label[16];
        period_label(k->period, x->period, label);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "period", label);
        cJSON_AddStringToObject(o, "by", dict ? snap_dict_str(dict, x->dim) : "");
        cJSON_AddNumberToObject(o, "customers", (double)x->customers);
        cJSON_AddNumberToObject(o, "active", (double)x->active);
        cJSON_AddNumberToObject(o, "buyers", (double)x->buyers);
        cJSON_AddNumberToObject(o, "new_buyers", (double)x->new_buyers);
        cJSON_AddNumberToObject(o, "returning", (double)(x->buyers - x->new_buyers));
        cJSON_AddNumberToObject(o, "orders", (double)x->orders);
        cJSON_AddNumberToObject(o, "revenue_minor", (double)x->revenue);
        if (x->orders)
            cJSON_AddNumberToObject(o, "aov_minor", round2((double)x->revenue / (double)x->orders));
        else
            cJSON_AddNullToObject(o, "aov_minor");
        add_pct(o, "repurchase_pct", (double)x->repeat, (double)x->buyers);
        if (prev) {
            add_pct(o, "orders_change_pct", (double)(x->orders - prev->orders),
                    (double)prev->orders);
            add_pct(o, "revenue_change_pct", (double)(x->revenue - prev->revenue),
                    (double)prev->revenue);
            add_pct(o, "buyers_change_pct", (double)(x->buyers - prev->buyers),
                    (double)prev->buyers);
        } else {
            cJSON_AddNullToObject(o, "orders_change_pct");
            cJSON_AddNullToObject(o, "revenue_change_pct");
            cJSON_AddNullToObject(o, "buyers_change_pct");
        }
        cJSON_AddItemToArray(rows, o);
    }
    return r;
}

cJSON *report_rfm_segments(const struct rfm_result *f)
{
    static const char *const cols[] = {"segment", "customers", "customers_pct", "revenue_minor",
                                       "revenue_pct"};
    cJSON *rows, *r = new_report("rfm", cols, ARRAY_SIZE(cols), &rows);
    if (!r)
        return NULL;
    add_time(r, "as_of", f->as_of);
    cJSON_AddNumberToObject(r, "window_days", (double)f->window_days);
    cJSON_AddNumberToObject(r, "customers", (double)f->n);
    cJSON_AddNumberToObject(r, "revenue_minor", (double)f->revenue);
    for (int g = 0; g < RFM_SEGMENTS; g++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "segment", rfm_segment_name((enum rfm_segment)g));
        cJSON_AddNumberToObject(o, "customers", (double)f->seg_customers[g]);
        add_pct(o, "customers_pct", (double)f->seg_customers[g], (double)f->n);
        cJSON_AddNumberToObject(o, "revenue_minor", (double)f->seg_revenue[g]);
        add_pct(o, "revenue_pct", (double)f->seg_revenue[g], (double)f->revenue);
        cJSON_AddItemToArray(rows, o);
    }
    return r;
}

cJSON *report_rfm_profiles(const struct snapshot *s, const struct rfm_result *f)
{
    static const char *const cols[] = {
        "profile", "recency_days", "frequency", "monetary_minor", "r", "f", "m", "rfm", "segment"};
    cJSON *rows, *r = new_report("rfm_profiles", cols, ARRAY_SIZE(cols), &rows);
    if (!r)
        return NULL;
    add_time(r, "as_of", f->as_of);
    cJSON_AddNumberToObject(r, "window_days", (double)f->window_days);
    for (size_t i = 0; i < f->n; i++) {
        const struct rfm_score *x = &f->rows[i];
        char rfm[4] = {(char)('0' + x->r), (char)('0' + x->f), (char)('0' + x->m), 0};
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "profile", (double)s->profile_id[x->profile]);
        cJSON_AddNumberToObject(o, "recency_days", x->recency);
        cJSON_AddNumberToObject(o, "frequency", x->frequency);
        cJSON_AddNumberToObject(o, "monetary_minor", (double)x->monetary);
        cJSON_AddNumberToObject(o, "r", x->r);
        cJSON_AddNumberToObject(o, "f", x->f);
        cJSON_AddNumberToObject(o, "m", x->m);
        cJSON_AddStringToObject(o, "rfm", rfm);
        cJSON_AddStringToObject(o, "segment", rfm_segment_name((enum rfm_segment)x->segment));
        cJSON_AddItemToArray(rows, o);
    }
    return r;
}

cJSON *report_funnel(const struct snapshot *s, const struct funnel_options *o,
                     const char *const *step_text, const struct funnel_result *f)
{
    static const char *const cols[] = {"breakdown",     "step",           "event",
                                       "customers",     "conversion_pct", "step_conversion_pct",
                                       "median_seconds"};
    cJSON *rows, *r = new_report("funnel", cols, ARRAY_SIZE(cols), &rows);
    if (!r)
        return NULL;
    cJSON_AddNumberToObject(r, "window_seconds", (double)(o->window_ms / 1000));
    char by[FUNNEL_PROP_MAX + 16];
    funnel_prop_name(s, o->breakdown, o->breakdown_key, by, sizeof(by));
    cJSON_AddStringToObject(r, "breakdown", by);
    const struct snap_dict *dict = o->breakdown == FPROP_SOURCE     ? &s->sources
                                   : o->breakdown == FPROP_CAMPAIGN ? &s->campaigns
                                                                    : &s->prop_values;
    for (size_t g = 0; g < f->ngroups; g++) {
        const struct funnel_group *fg = &f->groups[g];
        for (size_t k = 0; k < f->nsteps; k++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "breakdown",
                                    g == 0 ? "(all)" : snap_dict_str(dict, fg->value));
            cJSON_AddNumberToObject(x, "step", (double)(k + 1));
            cJSON_AddStringToObject(x, "event", step_text[k]);
            cJSON_AddNumberToObject(x, "customers", (double)fg->count[k]);
            add_pct(x, "conversion_pct", (double)fg->count[k], (double)fg->count[0]);
            add_pct(x, "step_conversion_pct", (double)fg->count[k],
                    (double)fg->count[k ? k - 1 : 0]);
            if (fg->median_ms[k] >= 0)
                cJSON_AddNumberToObject(x, "median_seconds", (double)(fg->median_ms[k] / 1000));
            else
                cJSON_AddNullToObject(x, "median_seconds");
            cJSON_AddItemToArray(rows, x);
        }
    }
    return r;
}

cJSON *report_cohort(const struct cohort_result *c, bool by_first_seen)
{
    static const char *const cols[] = {"cohort", "size", "customers", "revenue_minor",
                                       "retention_pct"};
    cJSON *rows, *r = new_report("cohort", cols, ARRAY_SIZE(cols), &rows);
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "period", period_name(c->period));
    cJSON_AddStringToObject(r, "cohort_by", by_first_seen ? "first_seen" : "first_order");
    for (size_t i = 0; i < c->n; i++) {
        const struct cohort_row *x = &c->rows[i];
        char label[16];
        period_label(c->period, x->cohort, label);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "cohort", label);
        cJSON_AddNumberToObject(o, "size", (double)x->size);
        cJSON *cu = cJSON_AddArrayToObject(o, "customers");
        cJSON *rv = cJSON_AddArrayToObject(o, "revenue_minor");
        cJSON *rt = cJSON_AddArrayToObject(o, "retention_pct");
        for (size_t k = 0; k < x->nperiods; k++) {
            cJSON_AddItemToArray(cu, cJSON_CreateNumber((double)x->customers[k]));
            cJSON_AddItemToArray(rv, cJSON_CreateNumber((double)x->revenue[k]));
            cJSON_AddItemToArray(rt, x->size
                                         ? cJSON_CreateNumber(round2(
                                               100.0 * (double)x->customers[k] / (double)x->size))
                                         : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(rows, o);
    }
    return r;
}

cJSON *report_paths(const struct snapshot *s, const struct paths_options *o,
                    const struct paths_result *p)
{
    static const char *const cols[] = {"path", "customers", "customers_pct"};
    cJSON *rows, *r = new_report("paths", cols, ARRAY_SIZE(cols), &rows);
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, o->to ? "to" : "from", snap_dict_str(&s->names, o->event));
    cJSON_AddNumberToObject(r, "depth", (double)o->depth);
    cJSON_AddNumberToObject(r, "customers", (double)p->total);
    for (size_t i = 0; i < p->n; i++) {
        char path[1024];
        size_t len = 0;
        path[0] = 0;
        for (size_t k = 0; k <= p->depth; k++) {
            uint32_t id = p->rows[i].step[k];
            if (id == SNAP_NONE)
                continue;
            len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%s", len ? " > " : "",
                                    snap_dict_str(&s->names, id));
            if (len >= sizeof(path))
                len = sizeof(path) - 1;
        }
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "path", path);
        cJSON_AddNumberToObject(x, "customers", (double)p->rows[i].count);
        add_pct(x, "customers_pct", (double)p->rows[i].count, (double)p->total);
        cJSON_AddItemToArray(rows, x);
    }
    return r;
}

void report_add_dp(cJSON *rep, const struct dp_answer *a)
{
    cJSON *d = cJSON_AddObjectToObject(rep, "dp");
    if (!d)
        return;
    cJSON_AddBoolToObject(d, "noisy", true);
    cJSON_AddNumberToObject(d, "epsilon", a->epsilon);
    cJSON_AddNumberToObject(d, "cells", (double)a->cells);
    cJSON_AddNumberToObject(d, "epsilon_per_cell", a->cell_epsilon);
    cJSON_AddNumberToObject(d, "count_noise_scale", a->count_scale);
    if (a->orders_scale > 0)
        cJSON_AddNumberToObject(d, "orders_noise_scale", a->orders_scale);
    if (a->sum_scale > 0)
        cJSON_AddNumberToObject(d, "sum_noise_scale", a->sum_scale);
    cJSON *c = cJSON_AddArrayToObject(d, "clamp_minor");
    cJSON_AddItemToArray(c, cJSON_CreateNumber((double)a->clamp.lo));
    cJSON_AddItemToArray(c, cJSON_CreateNumber((double)a->clamp.hi));
    cJSON_AddNumberToObject(d, "max_orders", (double)a->clamp.max_orders);
    cJSON_AddStringToObject(d, "note",
                            "values are noisy (Laplace mechanism): each count and sum has "
                            "noise of scale b (standard deviation 1.41 b); rates are computed "
                            "from the noisy values");
}
