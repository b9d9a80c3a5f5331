/* audit.c - `custos audit list|verify`: read and check the hash-chained audit log. */
#include <cJSON.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "privacy/audit.h"

int cli_audited(struct store *st, int rc, const char *action, const char *subject,
                const char *detail, struct err *e)
{
    if (!rc)
        rc = audit_append(st, "cli", action, subject, detail, e);
    if (!rc)
        rc = st->ops->commit(st, e);
    if (rc) {
        st->ops->rollback(st);
        return rc;
    }
    struct err he = {0};
    if (audit_head_sync(st, &he))
        fprintf(stderr, "custos: warning: %s\n", he.msg);
    return 0;
}

struct list_ctx {
    struct cli_table *t;
    const char *action; /* only entries with this action, or this "area." prefix */
    int64_t limit, shown;
};

static int list_one(const struct audit_row *r, void *arg)
{
    struct list_ctx *c = arg;
    if (c->action) {
        size_t n = strlen(c->action);
        bool prefix = n && c->action[n - 1] == '.';
        if (prefix ? strncmp(r->action, c->action, n) != 0 : strcmp(r->action, c->action) != 0)
            return 0;
    }
    if (c->limit && c->shown >= c->limit)
        return 1; /* enough */
    char seq[24], ts[32];
    snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
    time_format_iso8601(r->time, ts);
    const char *row[] = {
        seq, ts, r->actor, r->action, r->subject ? r->subject : "", r->detail ? r->detail : ""};
    cli_table_add(c->t, row);
    c->shown++;
    return 0;
}

static int audit_list(int argc, char **argv)
{
    const char *since_s = NULL, *limit_s = NULL, *after_s = NULL, *action = NULL;
    bool json = false, csv = false;
    size_t npos;
    const struct cli_opt opts[] = {{"since", &since_s, NULL}, {"limit", &limit_s, NULL},
                                   {"after", &after_s, NULL}, {"action", &action, NULL},
                                   {"json", NULL, &json},     {"csv", NULL, &csv}};
    int rc = cli_parse("audit", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    int64_t since = INT64_MIN, after = 0;
    struct list_ctx c = {.action = action};
    if (since_s && time_parse_iso8601(since_s, strlen(since_s), &since))
        return cli_usage("audit",
                         "--since takes a date or time such as 2026-11-23 or "
                         "2026-11-23T08:00:00Z, not \"%s\"",
                         since_s);
    if (limit_s && (rc = cli_parse_count("audit", "limit", limit_s, &c.limit)))
        return rc;
    if (after_s && (rc = cli_parse_count("audit", "after", after_s, &after)))
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    static const char *const headers[] = {"seq", "time", "actor", "action", "subject", "detail"};
    c.t = cli_table_new(ARRAY_SIZE(headers), headers);
    struct err e = {0};
    rc = st->ops->audit_scan(st, since, after, list_one, &c, &e);
    store_close(st);
    if (rc && rc != 1) {
        cli_table_free(c.t);
        return cli_fail("%s", e.msg);
    }
    cli_table_print(c.t, stdout, json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE);
    cli_table_free(c.t);
    return EXIT_OK;
}

static int audit_verify_cmd(int argc, char **argv)
{
    bool json = false;
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}};
    int rc = cli_parse("audit", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct audit_report r;
    struct err e = {0};
    rc = audit_verify(st, &r, &e);
    store_close(st);
    if (rc && rc != ERR_INVALID)
        return cli_fail("%s", e.msg);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", rc == 0);
        cJSON_AddNumberToObject(o, "entries", (double)r.entries);
        cJSON_AddNumberToObject(o, "last_seq", (double)r.last_seq);
        cJSON_AddStringToObject(o, "last_hash", r.last_hash);
        cJSON_AddNumberToObject(o, "head_seq", (double)r.head_seq);
        cJSON_AddNumberToObject(o, "after_head", (double)r.after_head);
        if (rc) {
            cJSON_AddNumberToObject(o, "bad_seq", (double)r.bad_seq);
            cJSON_AddStringToObject(o, "reason", r.reason);
        }
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            puts(t);
        cJSON_free(t);
        cJSON_Delete(o);
    } else if (rc == 0) {
        printf("audit log intact: %" PRId64 " entries, each following the one before; the "
               "head file records entry %" PRId64 "\n",
               r.entries, r.head_seq);
        if (r.after_head)
            printf("note: %" PRId64 " entries after the head (appended while it was being "
                   "written, or inside a caller's transaction)\n",
                   r.after_head);
    }
    if (rc) {
        if (r.bad_seq)
            fprintf(stderr, "custos: audit log: %s (first bad entry: %" PRId64 ")\n", r.reason,
                    r.bad_seq);
        else
            fprintf(stderr, "custos: audit log: %s\n", r.reason);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("audit", "say list or verify");
    if (strcmp(argv[1], "list") == 0)
        return audit_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return audit_verify_cmd(argc - 1, argv + 1);
    return cli_usage("audit", "unknown action \"%s\": say list or verify", argv[1]);
}
