/* events.c - `custos events`: read back what was stored. */
#include <cJSON.h>

#include "cli/cli.h"
#include "core/config.h"
#include "privacy/policy.h"
#include "store/source_names.h"
#include "core/timeutil.h"
#include "ingest/message.h"

struct events_ctx {
    enum cli_format fmt;
    struct source_names *names;
    struct cli_table *t;
};

static int print_event(const struct event_row *r, void *arg)
{
    struct events_ctx *c = arg;
    const char *source = source_names_get(c->names, r->source_id);
    if (c->fmt == FORMAT_JSON) {
        char *text = message_render(r->raw, r->raw_len, r->type, r->message_id, r->received_at,
                                    r->timestamp, source);
        if (!text)
            return ERR_NOMEM;
        if (!policy_all_clear(cfg.cli_role)) { /* the role's masks (privacy/policy.h) */
            cJSON *m = cJSON_Parse(text);
            cJSON_free(text);
            text = NULL;
            if (m && policy_apply(m, cfg.cli_role, NULL) == 0)
                text = cJSON_PrintUnformatted(m);
            cJSON_Delete(m);
            if (!text)
                return ERR_NOMEM;
        }
        puts(text);
        cJSON_free(text);
        return 0;
    }
    char id[24], ts[32];
    snprintf(id, sizeof(id), "%" PRId64, r->id);
    time_format_iso8601(r->timestamp, ts);
    const char *flag = r->flags & EVENT_FLAG_UNPLANNED  ? "unplanned"
                       : r->flags & EVENT_FLAG_REPLAYED ? "replayed"
                                                        : "";
    const char *row[] = {id, ts, source, r->type, r->event ? r->event : "", r->message_id, flag};
    cli_table_add(c->t, row);
    return 0;
}

int cmd_events(int argc, char **argv)
{
    const char *source = NULL, *limit_s = NULL, *after_s = NULL;
    bool json = false, csv = false;
    size_t npos;
    const struct cli_opt opts[] = {{"source", &source, NULL},
                                   {"limit", &limit_s, NULL},
                                   {"after", &after_s, NULL},
                                   {"json", NULL, &json},
                                   {"csv", NULL, &csv}};
    int rc = cli_parse("events", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct event_filter f = {.limit = json || csv ? 0 : 100, .newest_first = true};
    if (limit_s && (rc = cli_parse_count("events", "limit", limit_s, &f.limit)))
        return rc;
    if (after_s && (rc = cli_parse_count("events", "after", after_s, &f.after_id)))
        return rc;
    if (after_s)
        f.newest_first = false;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    struct err e = {0};
    struct events_ctx c = {.fmt = json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE};
    rc = source_names_load(st, &c.names, &e);
    if (!rc && source && (f.source_id = source_names_find(c.names, source)) == 0)
        rc = err_set(&e, ERR_NOTFOUND, "no source named \"%s\" (see custos sources list)", source);
    static const char *const headers[] = {"id",    "timestamp", "source", "type",
                                          "event", "messageId", "flag"};
    if (!rc && c.fmt != FORMAT_JSON)
        c.t = cli_table_new(ARRAY_SIZE(headers), headers);
    if (!rc && c.fmt == FORMAT_JSON) /* only --json shows what the messages hold */
        rc = policy_audit_bulk(st, cfg.cli_role, "cli", source ? "events:source" : "events", NULL,
                               &e);
    if (!rc)
        rc = st->ops->event_scan(st, &f, print_event, &c, &e);
    store_close(st);
    source_names_free(c.names);
    if (!rc && c.t)
        cli_table_print(c.t, stdout, c.fmt);
    cli_table_free(c.t);
    return rc ? cli_fail("%s", e.msg) : EXIT_OK;
}
