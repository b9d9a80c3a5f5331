/* analyze.c - `custos analyze kpi|rfm|funnel|cohort|paths`: loads the columnar
 * snapshot from the store, runs one analysis on it and prints its report as a table,
 * CSV (--csv) or JSON (--json); with --dp-epsilon, its counts and sums noisy
 * (differential privacy: analytics.h). Definitions: docs/analytics.md. */
#include <cJSON.h>

#include "analytics/report.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "privacy/dp.h"

#define VERB "analyze"

/* One cell of a report row as text: "-" (table) or "" (CSV) for null. */
static const char *cell_text(const cJSON *v, bool csv, char *buf, size_t cap)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(int64_t)d)
            snprintf(buf, cap, "%" PRId64, (int64_t)d);
        else
            snprintf(buf, cap, "%.2f", d);
        return buf;
    }
    return csv ? "" : "-";
}

/* Prints a flat report (columns + rows of objects). Columns whose every value is
 * empty ("by" without --by) are left out of tables and CSV. */
static void print_flat(const cJSON *rep, enum cli_format fmt)
{
    if (fmt == FORMAT_JSON) {
        char *s = cJSON_Print(rep);
        if (s)
            printf("%s\n", s);
        free(s);
        return;
    }
    const cJSON *cols = cJSON_GetObjectItem(rep, "columns");
    const cJSON *rows = cJSON_GetObjectItem(rep, "rows");
    size_t ncols = (size_t)cJSON_GetArraySize(cols), n = 0;
    const char **heads = calloc(ncols ? ncols : 1, sizeof(*heads));
    const char **cells = calloc(ncols ? ncols : 1, sizeof(*cells));
    char(*buf)[40] = calloc(ncols ? ncols : 1, sizeof(*buf));
    if (!heads || !cells || !buf)
        goto out;
    const cJSON *c;
    cJSON_ArrayForEach(c, cols)
    {
        bool used = false;
        const cJSON *r;
        cJSON_ArrayForEach(r, rows)
        {
            const cJSON *v = cJSON_GetObjectItem(r, c->valuestring);
            if (!cJSON_IsString(v) || v->valuestring[0])
                used = true;
        }
        if (used || !cJSON_GetArraySize(rows))
            heads[n++] = c->valuestring;
    }
    struct cli_table *t = cli_table_new(n, heads);
    const cJSON *r;
    cJSON_ArrayForEach(r, rows)
    {
        for (size_t i = 0; i < n; i++)
            cells[i] = cell_text(cJSON_GetObjectItem(r, heads[i]), fmt == FORMAT_CSV, buf[i],
                                 sizeof(buf[i]));
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout, fmt);
    cli_table_free(t);
out:
    free(heads);
    free(cells);
    free(buf);
}

/* The analytics-time-zone setting (checked at start-up: UTC if it cannot be read). */
static int64_t time_zone(void)
{
    int64_t tz = 0;
    if (cfg.analytics_time_zone)
        analytics_tz_parse(cfg.analytics_time_zone, &tz);
    return tz;
}

/* A date option; one without a zone is read in the analytics time zone. */
static int parse_date(const char *sub, const char *name, const char *text, int64_t *ms)
{
    if (analytics_date_parse(text, time_zone(), ms))
        return cli_usage(sub,
                         "--%s must be a date such as 2025-06-30 or 2025-06-30T12:00:00Z, "
                         "not \"%s\"",
                         name, text);
    return 0;
}

static int load(struct store **st, struct snapshot **s)
{
    int rc = cli_open_store(st);
    if (rc)
        return rc;
    struct err e = {0};
    *s = snapshot_new();
    if (!*s)
        return cli_fail("out of memory for the snapshot");
    if (snapshot_refresh(*s, *st, NULL, &e))
        return cli_fail("cannot load the analytics snapshot: %s", e.msg);
    return 0;
}

/* --dp-epsilon E (NULL: an exact answer, r->epsilon 0) with the dp-clamp and
 * dp-max-orders settings -> *r. Exit status 2 with the reason when bad. */
static int dp_options(const char *sub, const char *epsilon, struct dp_request *r)
{
    memset(r, 0, sizeof(*r));
    if (!epsilon)
        return 0;
    struct err e = {0};
    char *end;
    errno = 0;
    r->epsilon = strtod(epsilon, &end);
    if (errno || end == epsilon || *end || dp_epsilon_check(r->epsilon, &e))
        return cli_usage(sub, "--dp-epsilon: %s, not \"%s\"",
                         e.msg[0] ? e.msg : "a number is needed", epsilon);
    if (dp_clamp_parse(cfg.dp_clamp, &r->clamp, &e))
        return cli_usage(sub, "dp-clamp: %s", e.msg);
    r->clamp.on = true;
    r->clamp.max_orders = cfg.dp_max_orders;
    return 0;
}

/* Says on stderr that the values printed are noisy, and how (tables and CSV; JSON
 * has it in its "dp" member). */
static void dp_note(const struct dp_answer *a)
{
    fprintf(stderr,
            "custos: noisy values (differential privacy): epsilon %g split over %zu cells "
            "(%.4g each); Laplace noise of scale %.4g on counts of customers",
            a->epsilon, a->cells, a->cell_epsilon, a->count_scale);
    if (a->orders_scale > 0)
        fprintf(stderr, ", %.4g on orders (at most %" PRId64 " a customer)", a->orders_scale,
                a->clamp.max_orders);
    if (a->sum_scale > 0)
        fprintf(stderr, ", %.4g on money (each customer clamped to [%" PRId64 ", %" PRId64 "])",
                a->sum_scale, a->clamp.lo, a->clamp.hi);
    fputs("; rates are computed from the noisy values\n", stderr);
}

static enum cli_format format_of(bool json, bool csv)
{
    return json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE;
}

static int run_kpi(int argc, char **argv)
{
    const char *sub = VERB " kpi";
    const char *period = "month", *by = "", *from = NULL, *to = NULL, *eps = NULL;
    bool json = false, csv = false;
    const struct cli_opt opts[] = {{"period", &period, NULL}, {"by", &by, NULL},
                                   {"from", &from, NULL},     {"to", &to, NULL},
                                   {"json", NULL, &json},     {"csv", NULL, &csv},
                                   {"dp-epsilon", &eps, NULL}};
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct kpi_options o = {.from = INT64_MIN, .to = INT64_MAX, .tz_ms = time_zone()};
    if (period_parse(period, &o.period))
        return cli_usage(sub, "--period is day, week, month or quarter, not \"%s\"", period);
    if (dim_parse(by, &o.by))
        return cli_usage(sub, "--by is source, channel or store, not \"%s\"", by);
    if ((from && parse_date(sub, "from", from, &o.from)) ||
        (to && parse_date(sub, "to", to, &o.to)))
        return EXIT_USAGE;
    struct dp_request dp;
    struct dp_answer da;
    if ((rc = dp_options(sub, eps, &dp)))
        return rc;
    o.clamp = dp.clamp;
    struct store *st = NULL;
    struct snapshot *s = NULL;
    struct kpi_result k = {0};
    struct err e = {0};
    rc = load(&st, &s);
    if (!rc && kpi_compute(s, &o, &k, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc && eps && kpi_privatize(&k, &dp, &da, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc) {
        cJSON *rep = report_kpi(s, &k);
        if (eps) {
            report_add_dp(rep, &da);
            if (!json)
                dp_note(&da);
        }
        print_flat(rep, format_of(json, csv));
        cJSON_Delete(rep);
    }
    kpi_result_release(&k);
    snapshot_free(s);
    store_close(st);
    return rc;
}

/* Keeps every scored profile's RFM as computed traits (rfm_segment, rfm_r, rfm_f,
 * rfm_m, rfm_score), replacing those of the last --save, in one transaction. */
static int save_rfm(struct store *st, const struct snapshot *s, const struct rfm_result *f)
{
    static const char *const names[] = {"rfm_segment", "rfm_r", "rfm_f", "rfm_m", "rfm_score"};
    struct err e = {0};
    int64_t now = time_now_ms();
    int rc = st->ops->begin(st, &e);
    for (size_t i = 0; !rc && i < ARRAY_SIZE(names); i++)
        rc = st->ops->computed_clear(st, names[i], &e);
    for (size_t i = 0; !rc && i < f->n; i++) {
        const struct rfm_score *x = &f->rows[i];
        char v[4][16];
        snprintf(v[0], 16, "%d", x->r);
        snprintf(v[1], 16, "%d", x->f);
        snprintf(v[2], 16, "%d", x->m);
        snprintf(v[3], 16, "%d%d%d", x->r, x->f, x->m);
        const char *values[] = {rfm_segment_name((enum rfm_segment)x->segment), v[0], v[1], v[2],
                                v[3]};
        int64_t p = s->profile_id[x->profile];
        for (size_t k = 0; !rc && k < ARRAY_SIZE(names); k++)
            rc = st->ops->computed_put(st, p, names[k], values[k], now, &e);
    }
    if (rc) {
        st->ops->rollback(st);
        return cli_fail("cannot save the RFM scores: %s", e.msg);
    }
    if (st->ops->commit(st, &e))
        return cli_fail("cannot save the RFM scores: %s", e.msg);
    return 0;
}

static int run_rfm(int argc, char **argv)
{
    const char *sub = VERB " rfm";
    const char *as_of = NULL, *window = "365", *eps = NULL;
    bool json = false, csv = false, profiles = false, save = false;
    const struct cli_opt opts[] = {{"save", NULL, &save},     {"as-of", &as_of, NULL},
                                   {"window", &window, NULL}, {"profiles", NULL, &profiles},
                                   {"json", NULL, &json},     {"csv", NULL, &csv},
                                   {"dp-epsilon", &eps, NULL}};
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct rfm_options o = {.as_of = INT64_MIN, .tz_ms = time_zone()};
    if (as_of && parse_date(sub, "as-of", as_of, &o.as_of))
        return EXIT_USAGE;
    if (cli_parse_count(sub, "window", window, &o.window_days))
        return EXIT_USAGE;
    if (o.window_days > 36500)
        return cli_usage(sub, "--window is at most 36500 days (0: every order before --as-of)");
    struct dp_request dp;
    struct dp_answer da;
    if ((rc = dp_options(sub, eps, &dp)))
        return rc;
    if (eps && (profiles || save))
        return cli_usage(sub, "--dp-epsilon answers the segments only: one row per profile "
                              "(--profiles, --save) cannot be made private");
    struct store *st = NULL;
    struct snapshot *s = NULL;
    struct rfm_result f = {0};
    struct err e = {0};
    rc = load(&st, &s);
    if (!rc && rfm_compute(s, &o, &f, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc && save)
        rc = save_rfm(st, s, &f);
    if (!rc && eps && rfm_privatize(&f, &dp, &da, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc) {
        cJSON *rep = profiles ? report_rfm_profiles(s, &f) : report_rfm_segments(&f);
        if (eps) {
            report_add_dp(rep, &da);
            if (!json)
                dp_note(&da);
        }
        if (!profiles && !json) {
            char t[32];
            time_format_iso8601(f.as_of, t);
            fprintf(stderr, "RFM as of %s over %" PRId64 " days: %zu customers with orders\n", t,
                    f.window_days, f.n);
        }
        print_flat(rep, format_of(json, csv));
        cJSON_Delete(rep);
    }
    rfm_result_release(&f);
    snapshot_free(s);
    store_close(st);
    return rc;
}

static int run_funnel(int argc, char **argv)
{
    const char *sub = VERB " funnel";
    const char *window = "7", *by = "", *eps = NULL;
    bool json = false, csv = false;
    const struct cli_opt opts[] = {{"window", &window, NULL},
                                   {"by", &by, NULL},
                                   {"json", NULL, &json},
                                   {"csv", NULL, &csv},
                                   {"dp-epsilon", &eps, NULL}};
    const char *steps[FUNNEL_MAX_STEPS + 1];
    size_t nsteps;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), steps, ARRAY_SIZE(steps), &nsteps);
    if (rc)
        return rc;
    if (nsteps < 2 || nsteps > FUNNEL_MAX_STEPS)
        return cli_usage(sub, "a funnel has 2 to %d steps (event names), %zu given",
                         FUNNEL_MAX_STEPS, nsteps);
    struct funnel_options o = {.nsteps = nsteps};
    int64_t days;
    if (cli_parse_count(sub, "window", window, &days))
        return EXIT_USAGE;
    if (days < 1 || days > 3650)
        return cli_usage(sub, "--window is 1 to 3650 days, not %" PRId64, days);
    o.window_ms = days * MS_PER_DAY;
    struct dp_request dp;
    struct dp_answer da;
    if ((rc = dp_options(sub, eps, &dp)))
        return rc;
    struct store *st = NULL;
    struct snapshot *s = NULL;
    struct funnel_result f = {0};
    struct err e = {0};
    rc = load(&st, &s);
    if (!rc && funnel_prop_parse(s, by, &o.breakdown, &o.breakdown_key))
        rc = cli_usage(sub,
                       "--by is source, channel, campaign or a property (properties.KEY or "
                       "KEY), not \"%s\"",
                       by);
    for (size_t k = 0; !rc && k < nsteps; k++)
        if (funnel_step_parse(s, steps[k], &o.steps[k], &e))
            rc = cli_usage(sub, "step %zu: %s", k + 1, e.msg);
    if (!rc && funnel_compute(s, &o, &f, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc && eps && funnel_privatize(&f, &dp, &da, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc) {
        cJSON *rep = report_funnel(s, &o, steps, &f);
        if (eps) {
            report_add_dp(rep, &da);
            if (!json)
                dp_note(&da);
        }
        print_flat(rep, format_of(json, csv));
        cJSON_Delete(rep);
    }
    funnel_result_release(&f);
    snapshot_free(s);
    store_close(st);
    return rc;
}

static void print_cohort(const cJSON *rep, const char *measure, enum cli_format fmt)
{
    const cJSON *rows = cJSON_GetObjectItem(rep, "rows"), *r;
    size_t width = 0;
    cJSON_ArrayForEach(r, rows)
    {
        size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(r, measure));
        if (n > width)
            width = n;
    }
    size_t ncols = 2 + width;
    const char **cells = calloc(ncols, sizeof(*cells));
    char(*buf)[40] = calloc(ncols, sizeof(*buf));
    if (!cells || !buf) {
        free(cells);
        free(buf);
        return;
    }
    cells[0] = "cohort";
    cells[1] = "size";
    for (size_t k = 0; k < width; k++) {
        snprintf(buf[2 + k], sizeof(buf[0]), "+%zu", k);
        cells[2 + k] = buf[2 + k];
    }
    struct cli_table *t = cli_table_new(ncols, cells);
    cJSON_ArrayForEach(r, rows)
    {
        cells[0] = cJSON_GetStringValue(cJSON_GetObjectItem(r, "cohort"));
        cells[1] = cell_text(cJSON_GetObjectItem(r, "size"), false, buf[1], sizeof(buf[1]));
        const cJSON *arr = cJSON_GetObjectItem(r, measure);
        for (size_t k = 0; k < width; k++) {
            const cJSON *v = cJSON_GetArrayItem(arr, (int)k);
            cells[2 + k] = v ? cell_text(v, fmt == FORMAT_CSV, buf[2 + k], sizeof(buf[0])) : "";
        }
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout, fmt);
    cli_table_free(t);
    free(cells);
    free(buf);
}

static int run_cohort(int argc, char **argv)
{
    const char *sub = VERB " cohort";
    const char *period = "month", *by = "first-order", *measure = "customers", *eps = NULL;
    bool json = false, csv = false;
    const struct cli_opt opts[] = {{"period", &period, NULL},   {"by", &by, NULL},
                                   {"measure", &measure, NULL}, {"json", NULL, &json},
                                   {"csv", NULL, &csv},         {"dp-epsilon", &eps, NULL}};
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct cohort_options o = {.tz_ms = time_zone()};
    if (period_parse(period, &o.period) || (o.period != PERIOD_WEEK && o.period != PERIOD_MONTH))
        return cli_usage(sub, "--period is week or month, not \"%s\"", period);
    if (strcmp(by, "first-seen") == 0)
        o.by_first_seen = true;
    else if (strcmp(by, "first-order") != 0)
        return cli_usage(sub, "--by is first-order or first-seen, not \"%s\"", by);
    const char *key = strcmp(measure, "customers") == 0   ? "customers"
                      : strcmp(measure, "revenue") == 0   ? "revenue_minor"
                      : strcmp(measure, "retention") == 0 ? "retention_pct"
                                                          : NULL;
    if (!key)
        return cli_usage(sub, "--measure is customers, revenue or retention, not \"%s\"", measure);
    struct dp_request dp;
    struct dp_answer da;
    if ((rc = dp_options(sub, eps, &dp)))
        return rc;
    o.clamp = dp.clamp;
    struct store *st = NULL;
    struct snapshot *s = NULL;
    struct cohort_result c = {0};
    struct err e = {0};
    rc = load(&st, &s);
    if (!rc && cohort_compute(s, &o, &c, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc && eps && cohort_privatize(&c, &dp, &da, &e))
        rc = cli_fail("%s", e.msg);
    if (!rc) {
        cJSON *rep = report_cohort(&c, o.by_first_seen);
        if (eps) {
            report_add_dp(rep, &da);
            if (!json)
                dp_note(&da);
        }
        if (json) {
            char *txt = cJSON_Print(rep);
            if (txt)
                printf("%s\n", txt);
            free(txt);
        } else {
            print_cohort(rep, key, format_of(json, csv));
        }
        cJSON_Delete(rep);
    }
    cohort_result_release(&c);
    snapshot_free(s);
    store_close(st);
    return rc;
}

static int run_paths(int argc, char **argv)
{
    const char *sub = VERB " paths";
    const char *from = NULL, *to = NULL, *depth = "3", *limit = "20";
    bool json = false, csv = false;
    const struct cli_opt opts[] = {{"from", &from, NULL},   {"to", &to, NULL},
                                   {"depth", &depth, NULL}, {"limit", &limit, NULL},
                                   {"json", NULL, &json},   {"csv", NULL, &csv}};
    size_t npos;
    int rc = cli_parse(sub, argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    if (!from == !to)
        return cli_usage(sub, "give one of --from EVENT or --to EVENT");
    int64_t d, l;
    if (cli_parse_count(sub, "depth", depth, &d) || cli_parse_count(sub, "limit", limit, &l))
        return EXIT_USAGE;
    if (d < 1 || d > PATHS_MAX_DEPTH)
        return cli_usage(sub, "--depth is 1 to %d, not %" PRId64, PATHS_MAX_DEPTH, d);
    struct paths_options o = {.to = to != NULL, .depth = (size_t)d, .limit = (size_t)l};
    struct store *st = NULL;
    struct snapshot *s = NULL;
    struct paths_result p = {0};
    struct err e = {0};
    rc = load(&st, &s);
    if (!rc) {
        uint32_t id = snap_dict_find(&s->names, to ? to : from);
        o.event = id == UINT32_MAX ? UINT32_MAX : id;
        if (paths_compute(s, &o, &p, &e))
            rc = cli_fail("%s", e.msg);
    }
    if (!rc) {
        cJSON *rep = report_paths(s, &o, &p);
        print_flat(rep, format_of(json, csv));
        cJSON_Delete(rep);
    }
    paths_result_release(&p);
    snapshot_free(s);
    store_close(st);
    return rc;
}

int cmd_analyze(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } subs[] = {{"kpi", run_kpi},
                {"rfm", run_rfm},
                {"funnel", run_funnel},
                {"cohort", run_cohort},
                {"paths", run_paths}};
    if (argc < 2)
        return cli_usage(VERB, "which analysis? kpi, rfm, funnel, cohort or paths");
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    return cli_usage(VERB, "unknown analysis \"%s\" (kpi, rfm, funnel, cohort or paths)", argv[1]);
}
