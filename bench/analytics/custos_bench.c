/* custos_bench.c - the Custos side of bench/analytics: loads orders.csv and events.csv
 * (from gen.c) into a snapshot, then times RFM, the monthly KPI trend, a 4-step funnel
 * (step 2 filtered on the event property category)
 * and the monthly cohort matrix on it, RUNS times each (the best is reported), and
 * prints one JSON object: load time, analysis times and the results in the form
 * bench/analytics/run compares across engines.
 *
 * usage: custos_bench DATADIR [RUNS] */
#include <cJSON.h>

#include "analytics/analytics.h"
#include "core/timeutil.h"

#define AS_OF       1767225600000LL /* 2026-01-01T00:00:00Z */
#define WINDOW_DAYS 365
#define FUNNEL_DAYS 7

/* Step 2 filters on an event property, as DuckDB's and SQLite's queries do. */
static const char *const steps[] = {"Product Viewed", "Product Added[category=baby]",
                                    "Checkout Started", "Order Completed"};

static double now_s(void)
{
    return (double)time_mono_ns() / 1e9;
}

static int load_csv(struct snapshot *s, const char *dir, bool orders)
{
    char path[4096], line[512];
    snprintf(path, sizeof(path), "%s/%s", dir, orders ? "orders.csv" : "events.csv");
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "custos_bench: cannot read %s\n", path);
        return -1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof(buf));
    struct err e = {0};
    bool header = true;
    while (fgets(line, sizeof(line), f)) {
        if (header) {
            header = false;
            continue;
        }
        char *p = line, *end;
        int64_t prof = strtoll(p, &end, 10);
        int64_t t = strtoll(end + 1, &end, 10);
        int rc;
        if (orders) {
            int64_t amount = strtoll(end + 1, &end, 10);
            char *name = end + 1;
            size_t len = strcspn(name, "\r\n");
            struct snap_order o = {.profile_id = prof,
                                   .time = t,
                                   .amount = amount,
                                   .channel = snap_dict_intern(&s->channels, name, len)};
            rc = snapshot_add_order(s, &o, &e);
        } else {
            char *name = end + 1;
            size_t len = strcspn(name, ",\r\n");
            char *cat = name + len + (name[len] == ',');
            size_t clen = strcspn(cat, "\r\n");
            struct snap_prop prop = {0};
            struct snap_event v = {
                .profile_id = prof, .time = t, .name = snap_dict_intern(&s->names, name, len)};
            if (clen) {
                prop.key = snap_dict_intern(&s->prop_keys, "category", 8);
                prop.value = snap_dict_intern(&s->prop_values, cat, clen);
                v.props = &prop;
                v.nprops = 1;
            }
            rc = snapshot_add_event(s, &v, &e);
        }
        if (rc) {
            fprintf(stderr, "custos_bench: %s\n", e.msg);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static cJSON *rfm_json(const struct rfm_result *f)
{
    cJSON *o = cJSON_CreateObject(), *segs = cJSON_AddArrayToObject(o, "segments");
    for (int g = 0; g < RFM_SEGMENTS; g++) {
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateString(rfm_segment_name((enum rfm_segment)g)));
        cJSON_AddItemToArray(row, cJSON_CreateNumber((double)f->seg_customers[g]));
        cJSON_AddItemToArray(row, cJSON_CreateNumber((double)f->seg_revenue[g]));
        cJSON_AddItemToArray(segs, row);
    }
    int64_t sr = 0, sf = 0, sm = 0;
    for (size_t i = 0; i < f->n; i++) {
        sr += f->rows[i].r;
        sf += f->rows[i].f;
        sm += f->rows[i].m;
    }
    cJSON *sums = cJSON_AddArrayToObject(o, "score_sums");
    cJSON_AddItemToArray(sums, cJSON_CreateNumber((double)sr));
    cJSON_AddItemToArray(sums, cJSON_CreateNumber((double)sf));
    cJSON_AddItemToArray(sums, cJSON_CreateNumber((double)sm));
    cJSON_AddNumberToObject(o, "customers", (double)f->n);
    return o;
}

static cJSON *kpi_json(const struct kpi_result *k)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < k->n; i++) {
        const struct kpi_row *r = &k->rows[i];
        char label[16];
        period_label(k->period, r->period, label);
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateString(label));
        int64_t v[] = {r->orders, r->revenue, r->buyers, r->new_buyers, r->repeat, r->active};
        for (size_t j = 0; j < ARRAY_SIZE(v); j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)v[j]));
        cJSON_AddItemToArray(a, row);
    }
    return a;
}

static cJSON *funnel_json(const struct funnel_result *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *c = cJSON_AddArrayToObject(o, "counts"), *m = cJSON_AddArrayToObject(o, "median_ms");
    for (size_t k = 0; k < f->nsteps; k++) {
        cJSON_AddItemToArray(c, cJSON_CreateNumber((double)f->groups[0].count[k]));
        if (k)
            cJSON_AddItemToArray(m, f->groups[0].median_ms[k] < 0
                                        ? cJSON_CreateNull()
                                        : cJSON_CreateNumber((double)f->groups[0].median_ms[k]));
    }
    return o;
}

static cJSON *cohort_json(const struct cohort_result *c)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < c->n; i++) {
        char label[16];
        period_label(c->period, c->rows[i].cohort, label);
        for (size_t k = 0; k < c->rows[i].nperiods; k++) {
            if (!c->rows[i].customers[k])
                continue;
            cJSON *row = cJSON_CreateArray();
            cJSON_AddItemToArray(row, cJSON_CreateString(label));
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)k));
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)c->rows[i].customers[k]));
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)c->rows[i].revenue[k]));
            cJSON_AddItemToArray(a, row);
        }
    }
    return a;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: custos_bench DATADIR [RUNS]\n");
        return 2;
    }
    int runs = argc == 3 ? (int)strtol(argv[2], NULL, 10) : 3;
    if (runs < 1)
        runs = 1;
    struct err e = {0};
    struct snapshot *s = snapshot_new();
    double t0 = now_s();
    if (!s || load_csv(s, argv[1], true) || load_csv(s, argv[1], false))
        return 1;
    double t_parse = now_s() - t0;
    t0 = now_s();
    if (snapshot_build(s, &e)) {
        fprintf(stderr, "custos_bench: %s\n", e.msg);
        return 1;
    }
    double t_build = now_s() - t0;

    struct rfm_options ro = {.as_of = AS_OF, .window_days = WINDOW_DAYS};
    struct kpi_options ko = {.period = PERIOD_MONTH, .from = INT64_MIN, .to = INT64_MAX};
    struct funnel_options fo = {.nsteps = 4, .window_ms = FUNNEL_DAYS * MS_PER_DAY};
    for (size_t k = 0; k < 4; k++)
        if (funnel_step_parse(s, steps[k], &fo.steps[k], &e)) {
            fprintf(stderr, "custos_bench: %s\n", e.msg);
            return 1;
        }
    struct cohort_options co = {.period = PERIOD_MONTH};
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    cJSON *res = cJSON_CreateObject();
    for (int r = 0; r < runs; r++) {
        struct rfm_result rf;
        struct kpi_result kp;
        struct funnel_result fu;
        struct cohort_result ch;
        double a = now_s();
        if (rfm_compute(s, &ro, &rf, &e))
            goto fail;
        double b = now_s();
        if (kpi_compute(s, &ko, &kp, &e))
            goto fail;
        double c = now_s();
        if (funnel_compute(s, &fo, &fu, &e))
            goto fail;
        double d = now_s();
        if (cohort_compute(s, &co, &ch, &e))
            goto fail;
        double f = now_s();
        double t[4] = {b - a, c - b, d - c, f - d};
        for (int i = 0; i < 4; i++)
            if (t[i] < best[i])
                best[i] = t[i];
        if (r == 0) {
            cJSON_AddItemToObject(res, "rfm", rfm_json(&rf));
            cJSON_AddItemToObject(res, "kpi", kpi_json(&kp));
            cJSON_AddItemToObject(res, "funnel", funnel_json(&fu));
            cJSON_AddItemToObject(res, "cohort", cohort_json(&ch));
        }
        rfm_result_release(&rf);
        kpi_result_release(&kp);
        funnel_result_release(&fu);
        cohort_result_release(&ch);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "engine", "custos");
    cJSON_AddNumberToObject(out, "load_seconds", t_parse + t_build);
    cJSON_AddNumberToObject(out, "csv_parse_seconds", t_parse);
    cJSON_AddNumberToObject(out, "build_seconds", t_build);
    cJSON_AddNumberToObject(out, "orders", (double)s->norders);
    cJSON_AddNumberToObject(out, "events", (double)s->nevents);
    cJSON_AddNumberToObject(out, "profiles", (double)s->nprofiles);
    cJSON *times = cJSON_AddObjectToObject(out, "times");
    cJSON_AddNumberToObject(times, "rfm", best[0]);
    cJSON_AddNumberToObject(times, "kpi", best[1]);
    cJSON_AddNumberToObject(times, "funnel", best[2]);
    cJSON_AddNumberToObject(times, "cohort", best[3]);
    cJSON_AddItemToObject(out, "results", res);
    char *txt = cJSON_PrintUnformatted(out);
    printf("%s\n", txt);
    free(txt);
    cJSON_Delete(out);
    snapshot_free(s);
    return 0;
fail:
    fprintf(stderr, "custos_bench: %s\n", e.msg);
    return 1;
}
