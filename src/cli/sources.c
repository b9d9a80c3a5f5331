/* sources.c - `custos sources add|list|set-plan`. */
#include "cli/cli.h"
#include "core/timeutil.h"
#include "ingest/sources.h"
#include "privacy/audit.h"

static int sources_add(int argc, char **argv)
{
    const char *plan_path = NULL, *pos[1];
    size_t npos;
    const struct cli_opt opts[] = {{"plan", &plan_path, NULL}};
    int rc = cli_parse("sources", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage("sources", "add needs a NAME");
    struct err e = {0};
    if (source_name_check(pos[0], &e))
        return cli_usage("sources", "%s", e.msg);
    char *plan = NULL;
    if (plan_path && source_plan_load(plan_path, &plan, &e))
        return cli_fail("%s", e.msg);
    struct store *st;
    if ((rc = cli_open_store(&st))) {
        free(plan);
        return rc;
    }
    char key[64];
    rc = st->ops->begin(st, &e);
    if (!rc)
        rc = source_create(st, pos[0], plan, key, &e);
    char subject[96];
    snprintf(subject, sizeof(subject), "source:%s", pos[0]);
    rc = cli_audited(st, rc, AUDIT_KEY_ADD, subject, "{\"kind\":\"write key\"}", &e);
    store_close(st);
    free(plan);
    if (rc)
        return cli_fail("%s", e.msg);
    printf("%s\n", key);
    return EXIT_OK;
}

struct list_ctx {
    struct cli_table *t;
    struct store *st;
};

static int list_one(const struct source *s, void *arg)
{
    struct list_ctx *c = arg;
    char id[24], created[32], events[24], hint[16];
    int64_t n = 0;
    struct err e = {0};
    c->st->ops->event_count(c->st, s->id, &n, &e);
    snprintf(id, sizeof(id), "%" PRId64, s->id);
    snprintf(events, sizeof(events), "%" PRId64, n);
    snprintf(hint, sizeof(hint), "%s...", s->key_hint);
    time_format_iso8601(s->created_at, created);
    const char *row[] = {id, s->name, hint, s->plan ? "yes" : "no", events, created};
    cli_table_add(c->t, row);
    return 0;
}

static int sources_list(int argc, char **argv)
{
    bool json = false, csv = false;
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}, {"csv", NULL, &csv}};
    int rc = cli_parse("sources", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct store *st;
    if ((rc = cli_open_store(&st)))
        return rc;
    static const char *const headers[] = {"id", "name", "key", "plan", "events", "created"};
    struct list_ctx c = {cli_table_new(ARRAY_SIZE(headers), headers), st};
    struct err e = {0};
    rc = st->ops->source_list(st, list_one, &c, &e);
    store_close(st);
    if (rc) {
        cli_table_free(c.t);
        return cli_fail("%s", e.msg);
    }
    cli_table_print(c.t, stdout, json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE);
    cli_table_free(c.t);
    return EXIT_OK;
}

static int sources_set_plan(int argc, char **argv)
{
    bool clear = false;
    const char *pos[2];
    size_t npos;
    const struct cli_opt opts[] = {{"clear", NULL, &clear}};
    int rc = cli_parse("sources", argc, argv, opts, ARRAY_SIZE(opts), pos, 2, &npos);
    if (rc)
        return rc;
    if (npos != (clear ? 1u : 2u))
        return cli_usage("sources", "set-plan needs NAME and FILE, or NAME --clear");
    struct err e = {0};
    char *plan = NULL;
    if (!clear && source_plan_load(pos[1], &plan, &e))
        return cli_fail("%s", e.msg);
    struct store *st;
    if ((rc = cli_open_store(&st))) {
        free(plan);
        return rc;
    }
    rc = st->ops->begin(st, &e);
    if (!rc)
        rc = st->ops->source_set_plan(st, pos[0], plan, &e);
    char subject[96];
    snprintf(subject, sizeof(subject), "source:%s", pos[0]);
    rc = cli_audited(st, rc, AUDIT_PLAN_CHANGE, subject,
                     clear ? "{\"plan\":\"cleared\"}" : "{\"plan\":\"replaced\"}", &e);
    store_close(st);
    free(plan);
    if (rc)
        return cli_fail("%s", e.msg);
    fprintf(stderr, "custos: plan of source %s %s\n", pos[0], clear ? "cleared" : "replaced");
    return EXIT_OK;
}

int cmd_sources(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("sources", "say add, list or set-plan");
    if (strcmp(argv[1], "add") == 0)
        return sources_add(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return sources_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "set-plan") == 0)
        return sources_set_plan(argc - 1, argv + 1);
    return cli_usage("sources", "unknown action \"%s\": say add, list or set-plan", argv[1]);
}
