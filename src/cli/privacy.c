/* privacy.c - `custos privacy export|erase|consent|sweep`: data-subject requests,
 * consent and retention (issue 6, data side). */
#include <cJSON.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "privacy/consent.h"
#include "privacy/dsr.h"
#include "privacy/retention.h"

#define PRIVACY_ACTOR "cli" /* who the audit log names for these verbs */

static int parse_profile(const char *text, int64_t *id)
{
    if (!text)
        return cli_usage("privacy", "say which person: --profile ID (see custos profile show)");
    int rc = cli_parse_count("privacy", "profile", text, id);
    if (!rc && *id == 0)
        return cli_usage("privacy", "--profile must be a profile id (1 or more)");
    return rc;
}

static int privacy_export(int argc, char **argv)
{
    const char *profile = NULL, *out = NULL;
    size_t npos;
    const struct cli_opt opts[] = {{"profile", &profile, NULL}, {"out", &out, NULL}};
    int64_t id;
    int rc = cli_parse("privacy", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc || (rc = parse_profile(profile, &id)))
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    cJSON *v = NULL;
    rc = dsr_export(st, id, PRIVACY_ACTOR, &v, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    char *text = cJSON_Print(v);
    cJSON_Delete(v);
    if (!text)
        return cli_fail("out of memory");
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        free(text);
        return cli_fail("cannot write %s: %s", out, strerror(errno));
    }
    fputs(text, f);
    fputc('\n', f);
    free(text);
    if (out && fclose(f))
        return cli_fail("cannot write %s: %s", out, strerror(errno));
    if (out)
        fprintf(stderr, "custos: everything held about profile %" PRId64 " written to %s\n", id,
                out);
    return EXIT_OK;
}

static int privacy_erase(int argc, char **argv)
{
    const char *profile = NULL;
    bool yes = false, no_vacuum = false, json = false;
    size_t npos;
    const struct cli_opt opts[] = {{"profile", &profile, NULL},
                                   {"yes", NULL, &yes},
                                   {"no-vacuum", NULL, &no_vacuum},
                                   {"json", NULL, &json}};
    int64_t id;
    int rc = cli_parse("privacy", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc || (rc = parse_profile(profile, &id)))
        return rc;
    if (!yes) {
        if (!isatty(STDIN_FILENO))
            return cli_usage("privacy", "erasure cannot be undone: add --yes to confirm");
        fprintf(stderr,
                "Erase everything about profile %" PRId64 "? This cannot be undone.\n"
                "Type the profile id to confirm: ",
                id);
        char line[32] = "";
        char want[32];
        snprintf(want, sizeof(want), "%" PRId64 "\n", id);
        if (!fgets(line, sizeof(line), stdin) || strcmp(line, want) != 0)
            return cli_fail("not confirmed: nothing erased");
    }
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    struct dsr_erase_result r;
    rc = dsr_erase(st, id, PRIVACY_ACTOR, !no_vacuum, &r, &e);
    store_close(st);
    if (rc && !r.profile)
        return cli_fail("%s", e.msg);
    if (rc && rc != ERR_BUSY)
        return cli_fail("%s", e.msg);
    if (json) {
        printf("{\"profile\":%" PRId64 ",\"events\":%" PRId64 ",\"records\":%" PRId64
               ",\"orders\":%" PRId64 ",\"order_lines\":%" PRId64 ",\"identifiers\":%" PRId64
               ",\"profiles\":%" PRId64 ",\"merges\":%" PRId64 ",\"consents\":%" PRId64
               ",\"quarantine\":%" PRId64 ",\"unresolved\":%" PRId64 ",\"suppressed\":%" PRId64
               ",\"shared\":%" PRId64 ",\"derived\":%" PRId64
               ",\"vacuumed\":%s,\"seconds\":%.3f}\n",
               r.profile, r.rows.events, r.rows.records, r.rows.orders, r.rows.order_lines,
               r.rows.identifiers, r.rows.profiles, r.rows.merges, r.rows.consents,
               r.rows.quarantine, r.unresolved, r.suppressed, r.shared, r.rows.derived,
               r.vacuumed ? "true" : "false", r.seconds);
    } else {
        printf("erased profile %" PRId64 " in %.2f s\n"
               "  events %" PRId64 ", records %" PRId64 ", orders %" PRId64 ", order lines %" PRId64
               "\n"
               "  identifiers %" PRId64 " (now suppressed: %" PRId64 "; kept, other people's "
               "rows carry them too: %" PRId64 "), profiles %" PRId64 ", merges %" PRId64
               ", consents %" PRId64 "\n"
               "  quarantined messages %" PRId64 ", unresolved events and records %" PRId64 "\n"
               "  derived rows (scores, tags, segment stays, review pairs) %" PRId64 "\n"
               "  database %s\n",
               r.profile, r.seconds, r.rows.events, r.rows.records, r.rows.orders,
               r.rows.order_lines, r.rows.identifiers, r.suppressed, r.shared, r.rows.profiles,
               r.rows.merges, r.rows.consents, r.rows.quarantine, r.unresolved, r.rows.derived,
               r.vacuumed ? "vacuumed, WAL emptied" : "WAL emptied (not vacuumed)");
    }
    if (rc) /* ERR_BUSY: erased, but the WAL could not be emptied */
        return cli_fail("%s", e.msg);
    return EXIT_OK;
}

static enum cli_format format_of(bool json, bool csv)
{
    return json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE;
}

static int consent_set_cmd(int argc, char **argv)
{
    const char *profile = NULL, *purpose = NULL, *status = NULL, *source = NULL, *policy = NULL,
               *evidence = NULL;
    size_t npos;
    const struct cli_opt opts[] = {
        {"profile", &profile, NULL},       {"purpose", &purpose, NULL},
        {"status", &status, NULL},         {"source", &source, NULL},
        {"policy-version", &policy, NULL}, {"evidence", &evidence, NULL}};
    int64_t id;
    int rc = cli_parse("privacy", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc || (rc = parse_profile(profile, &id)))
        return rc;
    struct err e = {0};
    enum consent_purpose p;
    if (!purpose)
        return cli_usage("privacy", "consent set needs --purpose analytics|marketing|"
                                    "personalization|third_party");
    if (consent_purpose_parse(purpose, &p, &e))
        return cli_usage("privacy", "%s", e.msg);
    if (!status || (strcmp(status, "granted") != 0 && strcmp(status, "denied") != 0))
        return cli_usage("privacy", "consent set needs --status granted or --status denied");
    if ((source && strlen(source) >= CONSENT_TEXT_MAX) ||
        (policy && strlen(policy) >= CONSENT_TEXT_MAX))
        return cli_usage("privacy", "--source and --policy-version have at most %d bytes",
                         CONSENT_TEXT_MAX - 1);
    cJSON *ev = evidence ? cJSON_Parse(evidence) : NULL;
    bool bad = evidence && !cJSON_IsObject(ev);
    cJSON_Delete(ev);
    if (bad)
        return cli_usage("privacy", "--evidence must be a JSON object, e.g. "
                                    "'{\"form\":\"signup-v3\",\"ip\":\"203.0.113.9\"}'");
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    rc = consent_set(st, id, p, strcmp(status, "granted") == 0, source ? source : "cli", policy,
                     evidence, PRIVACY_ACTOR, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    fprintf(stderr, "custos: consent for %s %s for profile %" PRId64 "\n", consent_purpose_name(p),
            status, id);
    return EXIT_OK;
}

static int history_row(const struct consent_row *c, void *ctx)
{
    char id[24], at[32], holder[64];
    snprintf(id, sizeof(id), "%" PRId64, c->id);
    time_format_iso8601(c->time, at);
    if (c->profile_id)
        snprintf(holder, sizeof(holder), "profile %" PRId64, c->profile_id);
    else
        snprintf(holder, sizeof(holder), "%s", c->identifier_type ? c->identifier_type : "");
    const char *row[] = {id,
                         c->purpose,
                         c->status,
                         at,
                         c->source ? c->source : "",
                         c->policy_version ? c->policy_version : "",
                         holder,
                         c->evidence ? c->evidence : ""};
    cli_table_add(ctx, row);
    return 0;
}

static int consent_show_cmd(int argc, char **argv)
{
    const char *profile = NULL;
    bool json = false, csv = false, history = false;
    size_t npos;
    const struct cli_opt opts[] = {{"profile", &profile, NULL},
                                   {"history", NULL, &history},
                                   {"json", NULL, &json},
                                   {"csv", NULL, &csv}};
    int64_t id;
    int rc = cli_parse("privacy", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc || (rc = parse_profile(profile, &id)))
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    struct cli_table *t = NULL;
    rc = consent_sync(st, NULL, &e); /* messages stored since the last sync count too */
    if (!rc && history) {
        static const char *const h[] = {"id",     "purpose",        "status", "time",
                                        "source", "policy_version", "holder", "evidence"};
        t = cli_table_new(ARRAY_SIZE(h), h);
        int64_t live;
        rc = st->ops->profile_family(st, id, &live, NULL, NULL, &e);
        if (!rc)
            rc = st->ops->consent_scan(st, live, history_row, t, &e);
    } else if (!rc) {
        static const char *const h[] = {"purpose", "status", "since", "allowed"};
        t = cli_table_new(ARRAY_SIZE(h), h);
        int status[PURPOSE_COUNT];
        int64_t when[PURPOSE_COUNT];
        rc = consent_state(st, id, status, when, &e);
        for (int p = 0; !rc && p < PURPOSE_COUNT; p++) {
            char at[32] = "";
            if (status[p] >= 0)
                time_format_iso8601(when[p], at);
            int allowed = status[p] >= 0 ? status[p] : strcmp(cfg.consent_default, "granted") == 0;
            const char *row[] = {consent_purpose_name((enum consent_purpose)p),
                                 status[p] < 0   ? "undecided"
                                 : status[p] > 0 ? "granted"
                                                 : "denied",
                                 at, allowed ? "yes" : "no"};
            cli_table_add(t, row);
        }
    }
    store_close(st);
    if (rc) {
        cli_table_free(t);
        return cli_fail("%s", e.msg);
    }
    cli_table_print(t, stdout, format_of(json, csv));
    cli_table_free(t);
    return EXIT_OK;
}

static int consent_sync_cmd(int argc, char **argv)
{
    size_t npos;
    int rc = cli_parse("privacy", argc, argv, NULL, 0, NULL, 0, &npos);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    int64_t added = 0;
    rc = consent_sync(st, &added, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    printf("%" PRId64 " consent decisions read from messages\n", added);
    return EXIT_OK;
}

int privacy_consent(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("privacy", "consent: say set, show or sync");
    if (strcmp(argv[1], "set") == 0)
        return consent_set_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return consent_show_cmd(argc - 1, argv + 1);
    if (strcmp(argv[1], "sync") == 0)
        return consent_sync_cmd(argc - 1, argv + 1);
    return cli_usage("privacy", "consent: unknown action \"%s\": say set, show or sync", argv[1]);
}

static void format_age(int64_t ms, char out[32])
{
    if (ms % 86400000 == 0)
        snprintf(out, 32, "%" PRId64 "d", ms / 86400000);
    else if (ms % 3600000 == 0)
        snprintf(out, 32, "%" PRId64 "h", ms / 3600000);
    else if (ms % 60000 == 0)
        snprintf(out, 32, "%" PRId64 "m", ms / 60000);
    else
        snprintf(out, 32, "%" PRId64 "s", ms / 1000);
}

int privacy_sweep(int argc, char **argv)
{
    bool dry = false, json = false, csv = false;
    size_t npos;
    const struct cli_opt opts[] = {
        {"dry-run", NULL, &dry}, {"json", NULL, &json}, {"csv", NULL, &csv}};
    int rc = cli_parse("privacy", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct err e = {0};
    struct retention_rule rules[RETENTION_CATEGORIES];
    size_t nr;
    if (retention_parse(cfg.retention, rules, &nr, &e))
        return cli_usage("privacy", "%s", e.msg);
    if (nr == 0)
        return cli_fail("no retention is set: everything is kept (set retention, e.g. "
                        "--retention events:365d,quarantine:30d)");
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct retention_result res[RETENTION_CATEGORIES];
    size_t n;
    rc = retention_sweep(st, cfg.retention, time_now_ms(), dry, res, &n, &e);
    store_close(st);
    if (rc)
        return cli_fail("%s", e.msg);
    static const char *const h[] = {"category", "max_age", "older_than", "rows", "action"};
    struct cli_table *t = cli_table_new(ARRAY_SIZE(h), h);
    for (size_t i = 0; i < n; i++) {
        char age[32], cutoff[32], rows[24];
        format_age(res[i].max_age_ms, age);
        time_format_iso8601(res[i].cutoff, cutoff);
        snprintf(rows, sizeof(rows), "%" PRId64, res[i].rows);
        const char *row[] = {res[i].category, age, cutoff, rows, dry ? "would delete" : "deleted"};
        cli_table_add(t, row);
    }
    cli_table_print(t, stdout, format_of(json, csv));
    cli_table_free(t);
    return EXIT_OK;
}

int cmd_privacy(int argc, char **argv)
{
    static const char actions[] = "say export, erase, consent or sweep";
    if (argc < 2)
        return cli_usage("privacy", "%s", actions);
    const char *a = argv[1];
    if (strcmp(a, "export") == 0)
        return privacy_export(argc - 1, argv + 1);
    if (strcmp(a, "erase") == 0)
        return privacy_erase(argc - 1, argv + 1);
    if (strcmp(a, "consent") == 0)
        return privacy_consent(argc - 1, argv + 1);
    if (strcmp(a, "sweep") == 0)
        return privacy_sweep(argc - 1, argv + 1);
    return cli_usage("privacy", "unknown action \"%s\": %s", a, actions);
}
