/* resolve.c - see resolve.h. */
#include <cJSON.h>

#include "store/source_names.h"
#include "core/arena.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "govern/standardize.h"
#include "identity/resolve.h"
#include "privacy/dsr.h"

#define RESOLVE_PROGRESS_EVERY 100000 /* members between progress lines */

int resolve_standardize(const char *type, const char *value, size_t len, char *out, size_t cap)
{
    const char *why = NULL;
    /* Placeholders (13800000000, test@test.com ...) are valid-looking junk: never linked. */
    if (strcmp(type, "phone") == 0)
        return std_phone(value, len, "CN", out, cap, &why) || std_phone_is_placeholder(out)
                   ? ERR_INVALID
                   : 0;
    if (strcmp(type, "email") == 0)
        return std_email(value, len, out, cap, &why) || std_email_is_placeholder(out) ? ERR_INVALID
                                                                                      : 0;
    if (strcmp(type, "id_number") == 0) {
        struct std_id_info info;
        char id[19];
        if (std_id_number(value, len, id, &info, &why) || cap < sizeof(id))
            return ERR_INVALID;
        memcpy(out, id, sizeof(id));
        return 0;
    }
    while (len && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (!len || len >= cap)
        return ERR_INVALID;
    memcpy(out, value, len);
    out[len] = 0;
    return 0;
}

/* A member (event or record) and the graph node it joined. */
struct member {
    int64_t row_id, node;
    int64_t source_id;
    uint8_t kind; /* 0 event, 1 record */
};

struct resolver {
    bool exact; /* the baseline: no standardization */
    struct store *st;
    struct idgraph *g;
    struct member *m;
    size_t n, cap;
    struct resolve_stats *stats;
    bool progress;
    uint64_t start;
    /* per-call scratch: the standardized values of one member */
    char values[IDGRAPH_RECORD_IDS][IDGRAPH_VALUE_MAX + 1];
    struct ident ids[IDGRAPH_RECORD_IDS];
    size_t nids;
    struct suppression *supp; /* erased people's identifiers (privacy/dsr.h): never linked */
};

static void count_invalid(struct resolve_stats *s, const char *type)
{
    size_t i = 0;
    while (i < s->ninvalid && strcmp(s->invalid_type[i], type) != 0)
        i++;
    if (i == s->ninvalid) {
        if (s->ninvalid == RESOLVE_TYPES_MAX)
            return;
        snprintf(s->invalid_type[i], sizeof(s->invalid_type[i]), "%s", type);
        s->ninvalid++;
    }
    s->invalid[i]++;
}

static void add_ident(struct resolver *r, const char *type, const char *value, size_t len)
{
    if (!value || !len || r->nids == IDGRAPH_RECORD_IDS)
        return;
    char *out = r->values[r->nids];
    if (resolve_standardize(r->exact ? "" : type, value, len, out, IDGRAPH_VALUE_MAX + 1)) {
        count_invalid(r->stats, type);
        return;
    }
    if (suppression_has(r->supp, type, out, strlen(out))) {
        r->stats->suppressed++; /* an erased person's: links nothing */
        return;
    }
    r->ids[r->nids++] = (struct ident){type, out};
}

static int add_member(struct resolver *r, uint8_t kind, int64_t row_id, int64_t source_id)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        struct member *v = realloc(r->m, cap * sizeof(*v));
        if (!v)
            return ERR_NOMEM;
        r->m = v;
        r->cap = cap;
    }
    size_t refused = 0;
    int64_t node = r->nids ? idgraph_add(r->g, r->ids, r->nids, &refused) : -1;
    if (node < -1)
        return ERR_NOMEM;
    r->stats->refused_links += refused;
    r->m[r->n++] = (struct member){row_id, node, source_id, kind};
    if (r->progress && r->n % RESOLVE_PROGRESS_EVERY == 0)
        fprintf(stderr, "\rresolve: %zu records and events, %zu identifiers, %.0f/s   ", r->n,
                idgraph_count(r->g), (double)r->n / ((double)(time_mono_ns() - r->start) / 1e9));
    return 0;
}

/* The identifier types a record's JSON object may name are taken as they are. */
static int on_record(const struct import_row *row, void *ctx)
{
    struct resolver *r = ctx;
    r->nids = 0;
    r->stats->records++;
    cJSON *ids = row->identifiers ? cJSON_Parse(row->identifiers) : NULL;
    for (cJSON *it = ids ? ids->child : NULL; it; it = it->next)
        if (cJSON_IsString(it))
            add_ident(r, it->string, it->valuestring, strlen(it->valuestring));
    int rc = add_member(r, 1, row->id, row->source_id);
    cJSON_Delete(ids);
    return rc;
}

static void take_string(struct resolver *r, const cJSON *obj, const char *field, const char *type)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (cJSON_IsString(v))
        add_ident(r, type, v->valuestring, strlen(v->valuestring));
}

/* Identifiers in a trait object (identify's traits, or context.traits). */
static void take_traits(struct resolver *r, const cJSON *traits)
{
    if (!cJSON_IsObject(traits))
        return;
    take_string(r, traits, "email", "email");
    take_string(r, traits, "phone", "phone");
    take_string(r, traits, "member_card", "member_card");
    take_string(r, traits, "wechat_openid", "wechat_openid");
    take_string(r, traits, "wechat_unionid", "wechat_unionid");
    take_string(r, traits, "id_number", "id_number");
}

static int on_event(const struct event_row *ev, void *ctx)
{
    struct resolver *r = ctx;
    r->nids = 0;
    r->stats->events++;
    if (ev->user_id)
        add_ident(r, "user_id", ev->user_id, strlen(ev->user_id));
    if (ev->anonymous_id)
        add_ident(r, "anonymous_id", ev->anonymous_id, strlen(ev->anonymous_id));
    json_arena_begin();
    cJSON *msg = cJSON_ParseWithLength(ev->raw, ev->raw_len);
    if (msg) {
        const cJSON *context = cJSON_GetObjectItemCaseSensitive(msg, "context");
        take_traits(r, cJSON_GetObjectItemCaseSensitive(msg, "traits"));
        take_traits(r, cJSON_GetObjectItemCaseSensitive(context, "traits"));
        take_string(r, cJSON_GetObjectItemCaseSensitive(context, "device"), "id", "device_id");
        if (strcmp(ev->type, "alias") == 0)
            take_string(r, msg, "previousId", "anonymous_id");
    }
    int rc = add_member(r, 0, ev->id, ev->source_id);
    json_arena_end();
    return rc;
}

static int on_stored_identifier(int64_t id, const char *type, const char *value, void *ctx)
{
    struct resolver *r = ctx;
    /* Identifiers keep their numbers: intern them in the order they were numbered
     * (without rules: a value blocked since keeps its number, and links nothing). */
    int64_t node = idgraph_intern(r->g, type, value);
    if (node < -1)
        return ERR_NOMEM;
    return node == id ? 0 : ERR_INVALID; /* the stored numbering is not dense: renumber */
}

struct live_profiles {
    int64_t *v;
    size_t n, cap;
};

static int on_profile(int64_t id, void *ctx)
{
    struct live_profiles *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        int64_t *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return ERR_NOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = id;
    return 0;
}

/* The map is written by scanning again in the same order as the resolution, so the
 * i-th row scanned is the i-th member. */
struct map_ctx {
    const struct member *m;
    size_t i, n;
    const struct source_names *names;
    FILE *out;
};

static void map_line(struct map_ctx *c, int64_t source_id, const char *key)
{
    const struct member *m = c->i < c->n ? &c->m[c->i] : NULL;
    c->i++;
    text_csv_field(c->out, source_names_get(c->names, source_id));
    fputc(',', c->out);
    text_csv_field(c->out, key ? key : "");
    if (m && m->node >= 0)
        fprintf(c->out, ",%" PRId64 "\n", m->node + 1);
    else
        fputs(",\n", c->out);
}

static int map_record(const struct import_row *row, void *ctx)
{
    map_line(ctx, row->source_id, row->record_key);
    return 0;
}

static int map_event(const struct event_row *ev, void *ctx)
{
    map_line(ctx, ev->source_id, ev->message_id);
    return 0;
}

static int resolve_write_map(struct store *st, const struct resolver *r,
                             const struct source_names *names, FILE *out, struct err *e)
{
    struct map_ctx c = {r->m, 0, r->n, names, out};
    struct event_filter f = {0};
    int rc = st->ops->record_scan(st, map_record, &c, e);
    if (!rc)
        rc = st->ops->event_scan(st, &f, map_event, &c, e);
    if (!rc && ferror(out))
        rc = err_set(e, ERR_IO, "cannot write the map file");
    return rc;
}

int resolve_full(struct store *st, const struct idgraph_rules *rules, FILE *map, bool progress,
                 struct resolve_stats *stats, struct err *e)
{
    memset(stats, 0, sizeof(*stats));
    struct resolver r = {.st = st, .stats = stats, .progress = progress};
    r.start = time_mono_ns();
    struct live_profiles before = {0};
    struct source_names *names = NULL;
    int64_t now = time_now_ms();
    bool in_txn = false;
    int rc = idgraph_new(rules, &r.g, e);
    if (!rc)
        rc = suppression_load(st, &r.supp, e);
    if (rc) {
        idgraph_free(r.g);
        return rc;
    }
    /* Numbers first (profiles are named after them), then the data in stored order. */
    struct err ie = {0};
    if (st->ops->identifier_scan(st, on_stored_identifier, &r, &ie) == ERR_INVALID) {
        idgraph_free(r.g);
        if ((rc = idgraph_new(rules, &r.g, e)))
            return rc;
    }
    rc = st->ops->profile_scan(st, on_profile, &before, e);
    if (!rc)
        rc = st->ops->record_scan(st, on_record, &r, e);
    struct event_filter f = {0};
    if (!rc)
        rc = st->ops->event_scan(st, &f, on_event, &r, e);
    if (!rc)
        rc = source_names_load(st, &names, e);
    if (rc)
        goto out;

    /* Write the result in one transaction: nodes, members, profiles, merges. */
    if ((rc = st->ops->begin(st, e)))
        goto out;
    in_txn = true;
    if ((rc = st->ops->identity_clear(st, e)))
        goto out;
    size_t nnodes = idgraph_count(r.g);
    int64_t *node_count = calloc(nnodes ? nnodes : 1, sizeof(*node_count));
    int64_t *member_count = calloc(nnodes ? nnodes : 1, sizeof(*member_count));
    if (!node_count || !member_count) {
        free(node_count);
        free(member_count);
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nnodes && !rc; i++) {
        const char *type, *value;
        idgraph_node(r.g, (int64_t)i, &type, &value);
        int64_t group = idgraph_group(r.g, (int64_t)i);
        if (strncmp(value, DSR_TOMBSTONE, strlen(DSR_TOMBSTONE)) == 0) {
            /* An erased identifier keeps its number and nothing else: no profile. */
            rc = st->ops->identifier_put(st, (int64_t)i, type, value, 0, e);
            continue;
        }
        node_count[group]++;
        rc = st->ops->identifier_put(st, (int64_t)i, type, value, group + 1, e);
    }
    for (size_t i = 0; i < r.n && !rc; i++) {
        struct member *m = &r.m[i];
        m->node = idgraph_group(r.g, m->node);
        if (m->node < 0) {
            stats->unresolved++;
            continue;
        }
        member_count[m->node]++;
        rc = st->ops->member_put(st, m->kind, m->row_id, m->node + 1, e);
    }
    for (size_t i = 0; i < nnodes && !rc; i++) {
        if (!node_count[i])
            continue;
        stats->profiles++;
        rc = st->ops->profile_put(st, (int64_t)i + 1, node_count[i], member_count[i], now, e);
    }
    /* A profile of the last run that is no longer a group's name joined another. */
    for (size_t i = 0; i < before.n && !rc; i++) {
        int64_t old = before.v[i] - 1;
        if (old < 0 || (size_t)old >= nnodes)
            continue;
        int64_t into = idgraph_group(r.g, old);
        if (into == old)
            continue;
        stats->merges++;
        rc = st->ops->profile_merge(st, old + 1, into + 1,
                                    "resolve: a record links identifiers of both", now, e);
    }
    free(node_count);
    free(member_count);
    if (!rc)
        rc = st->ops->commit(st, e);
    in_txn = false;
    stats->identifiers = nnodes;

    if (!rc && map) {
        /* source,record_key,profile_id for every member, in stored order. */
        fputs("source,record_key,profile_id\n", map);
        rc = resolve_write_map(st, &r, names, map, e);
    }
out:
    if (in_txn)
        st->ops->rollback(st);
    if (progress && r.n >= RESOLVE_PROGRESS_EVERY)
        fputc('\n', stderr);
    stats->seconds = (double)(time_mono_ns() - r.start) / 1e9;
    source_names_free(names);
    free(before.v);
    free(r.m);
    idgraph_free(r.g);
    suppression_free(r.supp);
    return rc;
}

int resolve_exact_baseline(struct store *st, FILE *map, struct resolve_stats *stats, struct err *e)
{
    memset(stats, 0, sizeof(*stats));
    struct idgraph_rules none = {0};
    struct resolver r = {.exact = true, .st = st, .stats = stats};
    r.start = time_mono_ns();
    struct source_names *names = NULL;
    struct event_filter f = {0};
    int rc = idgraph_new(&none, &r.g, e);
    if (!rc)
        rc = st->ops->record_scan(st, on_record, &r, e);
    if (!rc)
        rc = st->ops->event_scan(st, &f, on_event, &r, e);
    if (!rc)
        rc = source_names_load(st, &names, e);
    for (size_t i = 0; !rc && i < r.n; i++)
        r.m[i].node = idgraph_group(r.g, r.m[i].node);
    if (!rc) {
        fputs("source,record_key,profile_id\n", map);
        rc = resolve_write_map(st, &r, names, map, e);
    }
    stats->identifiers = r.g ? idgraph_count(r.g) : 0;
    stats->seconds = (double)(time_mono_ns() - r.start) / 1e9;
    source_names_free(names);
    free(r.m);
    idgraph_free(r.g);
    return rc;
}
