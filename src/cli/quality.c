/* quality.c - `custos quality`: completeness, validity, uniqueness and freshness per
 * source and field, and the alerts past the configured thresholds (docs/quality.md). */
#include <cJSON.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "govern/quality.h"

/* A number cell: "-" for null, one decimal otherwise ("87.5"), none for counts. */
static const char *cell(const cJSON *o, const char *key, bool decimal, char *buf, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (cJSON_IsString(v))
        return v->valuestring;
    if (!cJSON_IsNumber(v))
        return "-";
    snprintf(buf, cap, decimal ? "%.1f" : "%.0f", v->valuedouble);
    return buf;
}

static void print_tables(const cJSON *report)
{
    static const char *const src_h[] = {"SOURCE", "ORIGIN",   "ROWS",     "NEWEST",
                                        "AGE(H)", "RESOLVED", "PROFILES", "DUP%AFTER"};
    static const char *const fld_h[] = {"SOURCE",  "ORIGIN",    "FIELD",  "ROWS",
                                        "PRESENT", "COMPLETE%", "VALID%", "DUP%"};
    static const char *const alr_h[] = {"SOURCE",  "ORIGIN", "FIELD",
                                        "MEASURE", "VALUE",  "THRESHOLD"};
    char b[8][32];
    struct cli_table *ts = cli_table_new(ARRAY_SIZE(src_h), src_h);
    struct cli_table *tf = cli_table_new(ARRAY_SIZE(fld_h), fld_h);
    const cJSON *s, *f, *a;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(report, "sources"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(s, "source"));
        const char *origin = cJSON_GetStringValue(cJSON_GetObjectItem(s, "origin"));
        const char *row[] = {name,
                             origin,
                             cell(s, "rows", false, b[0], 32),
                             cell(s, "newest", false, b[1], 32),
                             cell(s, "age_hours", true, b[2], 32),
                             cell(s, "resolved", false, b[3], 32),
                             cell(s, "profiles", false, b[4], 32),
                             cell(s, "duplicate_rate_after", true, b[5], 32)};
        cli_table_add(ts, row);
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "fields"))
        {
            const char *frow[] = {name,
                                  origin,
                                  cJSON_GetStringValue(cJSON_GetObjectItem(f, "field")),
                                  cell(f, "rows", false, b[0], 32),
                                  cell(f, "present", false, b[1], 32),
                                  cell(f, "completeness", true, b[2], 32),
                                  cell(f, "validity", true, b[3], 32),
                                  cell(f, "duplicate_rate", true, b[4], 32)};
            cli_table_add(tf, frow);
        }
    }
    printf("SOURCES (freshness; DUP%%AFTER: 1 - profiles / resolved rows)\n");
    cli_table_print(ts, stdout, FORMAT_TABLE);
    printf("\nFIELDS (COMPLETE%%: rows with a value; VALID%%: values that pass "
           "standardization; DUP%%: values shared with another row, as written)\n");
    cli_table_print(tf, stdout, FORMAT_TABLE);
    cli_table_free(ts);
    cli_table_free(tf);
    const cJSON *alerts = cJSON_GetObjectItem(report, "alerts");
    printf("\nALERTS (%d)\n", cJSON_GetArraySize(alerts));
    if (!cJSON_GetArraySize(alerts))
        return;
    struct cli_table *ta = cli_table_new(ARRAY_SIZE(alr_h), alr_h);
    cJSON_ArrayForEach(a, alerts)
    {
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(a, "field"));
        const char *row[] = {cJSON_GetStringValue(cJSON_GetObjectItem(a, "source")),
                             cJSON_GetStringValue(cJSON_GetObjectItem(a, "origin")),
                             field ? field : "-",
                             cJSON_GetStringValue(cJSON_GetObjectItem(a, "measure")),
                             cell(a, "value", true, b[0], 32),
                             cell(a, "threshold", false, b[1], 32)};
        cli_table_add(ta, row);
    }
    cli_table_print(ta, stdout, FORMAT_TABLE);
    cli_table_free(ta);
}

/* The report in the Prometheus text format, for node_exporter's textfile collector. */
static int write_metrics(const char *path, const cJSON *report)
{
    struct textbuf b = {0};
    quality_metrics(report, &b);
    FILE *out = b.failed ? NULL : fopen(path, "w");
    if (!out) {
        textbuf_release(&b);
        return cli_fail("cannot write %s: %s", path, b.failed ? "out of memory" : strerror(errno));
    }
    size_t n = fwrite(b.p, 1, b.len, out);
    bool short_write = n != b.len;
    textbuf_release(&b);
    if (fclose(out) || short_write)
        return cli_fail("cannot write %s", path);
    return EXIT_OK;
}

int cmd_quality(int argc, char **argv)
{
    bool json = false, fail_on_alert = false;
    const char *metrics_path = NULL;
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json},
                                   {"fail-on-alert", NULL, &fail_on_alert},
                                   {"metrics-out", &metrics_path, NULL}};
    int rc = cli_parse("quality", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct quality_thresholds th = {.min_completeness = (double)cfg.quality_min_completeness,
                                    .min_validity = (double)cfg.quality_min_validity,
                                    .max_age_hours = (double)cfg.quality_max_age_hours,
                                    .max_duplicate_before =
                                        (double)cfg.quality_max_duplicate_before,
                                    .max_duplicate_after = (double)cfg.quality_max_duplicate_after};
    struct err e = {0};
    void *report = NULL;
    rc = quality_report(st, &th, time_now_ms(), &report, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    if (json) {
        char *t = cJSON_PrintUnformatted(report);
        if (t)
            puts(t);
        cJSON_free(t);
    } else {
        print_tables(report);
    }
    rc = metrics_path ? write_metrics(metrics_path, report) : EXIT_OK;
    int alerts = cJSON_GetArraySize(cJSON_GetObjectItem(report, "alerts"));
    cJSON_Delete(report);
    if (!rc && fail_on_alert && alerts)
        rc = EXIT_FAIL;
    return rc;
}
