/* quarantine.c - `custos quarantine list|show|replay`. */
#include <cJSON.h>

#include "cli/cli.h"
#include "core/config.h"
#include "privacy/policy.h"
#include "store/source_names.h"
#include "core/arena.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "ingest/collect.h"
#include "ingest/plan.h"

#define REPLAY_CHUNK 1000 /* quarantined messages read and written per transaction */

/* The message as JSON when it parses, else as a string (the raw text). */
static cJSON *raw_item(const struct quarantine_row *r)
{
    cJSON *m = NULL;
    size_t at;
    if (text_scan_json(r->raw, r->raw_len, 64, &at) == 0)
        m = cJSON_ParseWithLength(r->raw, r->raw_len);
    if (m)
        return m;
    char *s = malloc(r->raw_len + 1);
    if (!s)
        return NULL;
    /* Invalid UTF-8 cannot go into JSON: show those bytes as U+FFFD. */
    size_t o = 0;
    for (size_t i = 0; i < r->raw_len; i++)
        s[o++] = (unsigned char)r->raw[i] < 0x80 ? r->raw[i] : '?';
    s[o] = 0;
    cJSON *str = cJSON_CreateString(s);
    free(s);
    return str;
}

static cJSON *row_json(const struct quarantine_row *r, const struct source_names *names)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "source", source_names_get(names, r->source_id));
    time_format_iso8601(r->received_at, ts);
    cJSON_AddStringToObject(o, "receivedAt", ts);
    if (r->message_id)
        cJSON_AddStringToObject(o, "messageId", r->message_id);
    if (r->type)
        cJSON_AddStringToObject(o, "type", r->type);
    if (r->event)
        cJSON_AddStringToObject(o, "event", r->event);
    cJSON *reasons = cJSON_Parse(r->reasons ? r->reasons : "[]");
    cJSON_AddItemToObject(o, "reasons", reasons ? reasons : cJSON_CreateArray());
    cJSON *m = raw_item(r);
    if (m && !policy_all_clear(cfg.cli_role)) /* the role's masks (privacy/policy.h) */
        policy_apply(m, cfg.cli_role, NULL);
    if (m)
        cJSON_AddItemToObject(o, "message", m);
    return o;
}

struct list_ctx {
    enum cli_format fmt;
    struct source_names *names;
    struct cli_table *t;
};

static int list_one(const struct quarantine_row *r, void *arg)
{
    struct list_ctx *c = arg;
    if (c->fmt == FORMAT_JSON) {
        cJSON *o = row_json(r, c->names);
        char *s = cJSON_PrintUnformatted(o);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
        return 0;
    }
    char id[24], ts[32], n[16], first[300] = "";
    snprintf(id, sizeof(id), "%" PRId64, r->id);
    time_format_iso8601(r->received_at, ts);
    cJSON *reasons = cJSON_Parse(r->reasons ? r->reasons : "[]");
    snprintf(n, sizeof(n), "%d", cJSON_GetArraySize(reasons));
    cJSON *r0 = cJSON_GetArrayItem(reasons, 0);
    const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(r0, "field"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(r0, "message"));
    if (msg)
        snprintf(first, sizeof(first), "%s%s%s", field && *field ? field : "",
                 field && *field ? ": " : "", msg);
    const char *row[] = {id,
                         ts,
                         source_names_get(c->names, r->source_id),
                         r->type ? r->type : "",
                         r->event ? r->event : "",
                         n,
                         first};
    cli_table_add(c->t, row);
    cJSON_Delete(reasons);
    return 0;
}

static int parse_quarantine_id(const char *verb, const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v <= 0)
        return cli_usage(verb, "\"%s\" is not a quarantine id (see custos quarantine list)", text);
    *out = v;
    return 0;
}

static int open_with_names(struct store **st, struct source_names **names, const char *source,
                           int64_t *source_id)
{
    int rc = cli_open_store(st);
    if (rc)
        return rc;
    struct err e = {0};
    if (source_names_load(*st, names, &e)) {
        store_close(*st);
        return cli_fail("%s", e.msg);
    }
    if (source && (*source_id = source_names_find(*names, source)) == 0) {
        store_close(*st);
        source_names_free(*names);
        return cli_fail("no source named \"%s\" (see custos sources list)", source);
    }
    return 0;
}

static int q_list(int argc, char **argv)
{
    const char *source = NULL, *limit_s = NULL;
    bool json = false, csv = false;
    size_t npos;
    const struct cli_opt opts[] = {{"source", &source, NULL},
                                   {"limit", &limit_s, NULL},
                                   {"json", NULL, &json},
                                   {"csv", NULL, &csv}};
    int rc = cli_parse("quarantine", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;
    struct event_filter f = {.limit = json || csv ? 0 : 100, .newest_first = true};
    if (limit_s && (rc = cli_parse_count("quarantine", "limit", limit_s, &f.limit)))
        return rc;
    struct store *st;
    struct list_ctx c = {.fmt = json ? FORMAT_JSON : csv ? FORMAT_CSV : FORMAT_TABLE};
    if ((rc = open_with_names(&st, &c.names, source, &f.source_id)))
        return rc;
    static const char *const headers[] = {"id",    "receivedAt", "source",      "type",
                                          "event", "reasons",    "first reason"};
    if (c.fmt != FORMAT_JSON)
        c.t = cli_table_new(ARRAY_SIZE(headers), headers);
    struct err e = {0};
    if (c.fmt == FORMAT_JSON) /* only --json shows the messages */
        rc = policy_audit_bulk(st, cfg.cli_role, "cli", "quarantine", NULL, &e);
    if (!rc)
        rc = st->ops->quarantine_scan(st, &f, list_one, &c, &e);
    store_close(st);
    source_names_free(c.names);
    if (!rc && c.t)
        cli_table_print(c.t, stdout, c.fmt);
    cli_table_free(c.t);
    return rc ? cli_fail("%s", e.msg) : EXIT_OK;
}

struct show_ctx {
    struct source_names *names;
    bool found, json;
};

static int show_one(const struct quarantine_row *r, void *arg)
{
    struct show_ctx *c = arg;
    c->found = true;
    cJSON *o = row_json(r, c->names);
    char *s = c->json ? cJSON_PrintUnformatted(o) : cJSON_Print(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
    return 0;
}

static int q_show(int argc, char **argv)
{
    bool json = false;
    const char *pos[1];
    size_t npos;
    const struct cli_opt opts[] = {{"json", NULL, &json}};
    int rc = cli_parse("quarantine", argc, argv, opts, ARRAY_SIZE(opts), pos, 1, &npos);
    if (rc)
        return rc;
    int64_t id;
    if (npos != 1)
        return cli_usage("quarantine", "show needs an ID (see custos quarantine list)");
    if ((rc = parse_quarantine_id("quarantine", pos[0], &id)))
        return rc;
    struct store *st;
    struct show_ctx c = {.json = json};
    int64_t unused = 0;
    if ((rc = open_with_names(&st, &c.names, NULL, &unused)))
        return rc;
    struct err e = {0};
    char subject[48];
    snprintf(subject, sizeof(subject), "quarantine:%" PRId64, id);
    rc = policy_audit_bulk(st, cfg.cli_role, "cli", subject, NULL, &e);
    if (!rc)
        rc = st->ops->quarantine_get(st, id, show_one, &c, &e);
    store_close(st);
    source_names_free(c.names);
    if (rc)
        return cli_fail("%s", e.msg);
    if (!c.found)
        return cli_fail("no quarantined message with id %" PRId64, id);
    return EXIT_OK;
}

/* A copy of one quarantined row, taken before writing. */
struct held {
    struct quarantine_row row;
    char *raw, *message_id, *type;
};

struct chunk {
    struct held *v;
    size_t n, cap;
    int64_t last_id;
    const int64_t *ids; /* only these, when nids > 0 */
    size_t nids;
};

static char *dup_or_null(const char *s, bool *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = true;
    return d;
}

static int hold_one(const struct quarantine_row *r, void *arg)
{
    struct chunk *c = arg;
    c->last_id = r->id;
    if (c->nids) {
        size_t i = 0;
        while (i < c->nids && c->ids[i] != r->id)
            i++;
        if (i == c->nids)
            return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct held *p = realloc(c->v, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        c->v = p;
        c->cap = cap;
    }
    struct held *h = &c->v[c->n];
    bool failed = false;
    h->row = *r;
    h->raw = malloc(r->raw_len + 1);
    h->message_id = dup_or_null(r->message_id, &failed);
    h->type = dup_or_null(r->type, &failed);
    if (!h->raw || failed) {
        free(h->raw);
        free(h->message_id);
        free(h->type);
        return ERR_NOMEM;
    }
    memcpy(h->raw, r->raw, r->raw_len);
    h->raw[r->raw_len] = 0;
    h->row.raw = h->raw;
    h->row.message_id = h->message_id;
    h->row.type = h->type;
    h->row.event = NULL;
    h->row.reasons = NULL;
    c->n++;
    return 0;
}

struct replay_totals {
    int64_t seen, stored, duplicates, still;
};

static int seen_load(int64_t source_id, const char *mid, size_t len, bool quarantined, void *ctx)
{
    (void)quarantined; /* events only were asked for */
    return seen_add(ctx, seen_key(source_id, mid, len)) < 0 ? ERR_NOMEM : 0;
}

/* Replays one held message inside the open transaction. */
static int replay_one(struct store *st, struct seen_set *seen, const struct held *h,
                      const struct plan *plan, struct replay_totals *tot, struct err *e)
{
    struct record rec = {0};
    struct message_info info;
    /* Everything JSON of this message lives on the arena until it is written. */
    json_arena_begin();
    cJSON *tree = NULL, *reasons = cJSON_CreateArray();
    int rc = 0;
    if (!reasons) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = collect_revalidate(&h->row, plan, &rec, &info, &tree, reasons);
    if (rc == ERR_INVALID) {
        tot->still++;
        rc = 0;
        goto out;
    }
    if (rc) {
        err_set(e, rc, "out of memory");
        goto out;
    }
    int fresh = seen_add(seen, rec.key);
    if (fresh < 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (fresh)
        rc = st->ops->event_append(st, &rec.row.event, e);
    if (!rc)
        rc = st->ops->quarantine_delete(st, h->row.id, e);
    if (!rc) {
        tot->stored += fresh;
        tot->duplicates += !fresh;
    }
out:
    cJSON_Delete(tree);
    cJSON_Delete(reasons);
    json_arena_end();
    return rc;
}

struct plans {
    int64_t *ids;
    struct plan **v;
    size_t n;
};

static const struct plan *plan_for(struct plans *p, const struct source_names *names,
                                   int64_t source_id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->ids[i] == source_id)
            return p->v[i];
    const char *text = source_names_plan(names, source_id);
    struct plan *pl = NULL;
    struct err e = {0};
    if (text)
        plan_compile(text, strlen(text), &pl, &e);
    int64_t *ids = realloc(p->ids, (p->n + 1) * sizeof(*ids));
    if (ids)
        p->ids = ids;
    struct plan **v = realloc(p->v, (p->n + 1) * sizeof(*v));
    if (v)
        p->v = v;
    if (!ids || !v)
        return pl; /* leaks nothing worse than one compiled plan per source on OOM */
    p->ids[p->n] = source_id;
    p->v[p->n++] = pl;
    return pl;
}

static int q_replay(int argc, char **argv)
{
    const char *source = NULL, *pos[256];
    bool json = false;
    size_t npos;
    const struct cli_opt opts[] = {{"source", &source, NULL}, {"json", NULL, &json}};
    int rc =
        cli_parse("quarantine", argc, argv, opts, ARRAY_SIZE(opts), pos, ARRAY_SIZE(pos), &npos);
    if (rc)
        return rc;
    int64_t ids[256];
    for (size_t i = 0; i < npos; i++)
        if ((rc = parse_quarantine_id("quarantine", pos[i], &ids[i])))
            return rc;
    struct store *st;
    struct source_names *names;
    struct event_filter f = {.limit = REPLAY_CHUNK};
    if ((rc = open_with_names(&st, &names, source, &f.source_id)))
        return rc;
    struct err e = {0};
    struct seen_set seen = {0};
    struct plans plans = {0};
    struct replay_totals tot = {0};
    int64_t events = 0;
    rc = st->ops->event_count(st, 0, &events, &e);
    if (!rc && seen_init(&seen, (size_t)events + 1024))
        rc = err_set(&e, ERR_NOMEM, "out of memory");
    if (!rc)
        rc = st->ops->seen_scan(st, true, seen_load, &seen, &e);
    while (!rc) {
        struct chunk c = {.ids = ids, .nids = npos, .last_id = f.after_id};
        rc = st->ops->quarantine_scan(st, &f, hold_one, &c, &e);
        bool more = c.last_id != f.after_id;
        f.after_id = c.last_id;
        if (!rc && c.n)
            rc = st->ops->begin(st, &e);
        for (size_t i = 0; i < c.n && !rc; i++) {
            tot.seen++;
            rc = replay_one(st, &seen, &c.v[i], plan_for(&plans, names, c.v[i].row.source_id), &tot,
                            &e);
        }
        if (!rc && c.n)
            rc = st->ops->commit(st, &e);
        if (rc)
            st->ops->rollback(st);
        for (size_t i = 0; i < c.n; i++) {
            free(c.v[i].raw);
            free(c.v[i].message_id);
            free(c.v[i].type);
        }
        free(c.v);
        if (!more)
            break;
    }
    for (size_t i = 0; i < plans.n; i++)
        plan_free(plans.v[i]);
    free(plans.v);
    free(plans.ids);
    seen_release(&seen);
    store_close(st);
    source_names_free(names);
    if (rc)
        return cli_fail("replay stopped: %s (the messages of the failed chunk are still in "
                        "quarantine)",
                        e.msg);
    if (json)
        printf("{\"replayed\":%" PRId64 ",\"stored\":%" PRId64 ",\"duplicates\":%" PRId64
               ",\"still_quarantined\":%" PRId64 "}\n",
               tot.seen, tot.stored, tot.duplicates, tot.still);
    else
        printf("replayed %" PRId64 ": %" PRId64 " now stored as events, %" PRId64
               " already stored (removed from quarantine), %" PRId64
               " still failing (kept in quarantine)\n",
               tot.seen, tot.stored, tot.duplicates, tot.still);
    return EXIT_OK;
}

int cmd_quarantine(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("quarantine", "say list, show or replay");
    if (strcmp(argv[1], "list") == 0)
        return q_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return q_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "replay") == 0)
        return q_replay(argc - 1, argv + 1);
    return cli_usage("quarantine", "unknown action \"%s\": say list, show or replay", argv[1]);
}
