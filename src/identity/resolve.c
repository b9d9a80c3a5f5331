/* resolve.c - see resolve.h. */
#include <cJSON.h>
#include <stdarg.h>

#include "store/source_names.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "govern/standardize.h"
#include "identity/resolve.h"
#include "identity/resolve_match.h"
#include "privacy/dsr.h"
#include "privacy/seal.h"

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
    /* the matcher's input: traits of members, when it runs */
    bool want_traits;
    struct rm_traits traits;
    const char *trait[RM_NFIELDS]; /* of the current member, borrowed from its JSON */
    /* detection of shared values: (identifier node, hash of a name) of every member
     * that carries a name, when detect_names > 0 */
    long detect_names;
    struct name_seen {
        int64_t node;
        uint64_t name;
    } * seen;
    size_t nseen, seen_cap;
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

/* Whether v is one of the comma-separated values of list. */
static bool in_list(const char *list, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, v, n) == 0)
            return true;
        p += len + (end != NULL);
    }
    return false;
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
    /* Encryption at rest: an encrypted type is linked and stored by its blind index,
     * which the graph's blocked values (identity-blocked, clear) cannot match: they are
     * skipped here, as the graph skips them. */
    if (!r->exact && seal_on() && in_list(cfg.identity_blocked, out))
        return;
    if (!r->exact && seal_identifier_keep(type, out, out, IDGRAPH_VALUE_MAX + 1)) {
        count_invalid(r->stats, type);
        return;
    }
    r->ids[r->nids++] = (struct ident){type, out};
}

/* Notes the current member's name against each of its identifiers. */
static int note_names(struct resolver *r)
{
    char name[256];
    const char *why;
    const char *raw = r->trait[RM_NAME];
    if (std_name(raw, strlen(raw), name, sizeof(name), &why))
        return 0;
    uint64_t h = text_hash128(name, strlen(name), 0x6e616d65).lo;
    for (size_t i = 0; i < r->nids; i++) {
        int64_t node = idgraph_find(r->g, r->ids[i].type, r->ids[i].value);
        if (node < 0)
            continue;
        if (r->nseen == r->seen_cap) {
            size_t cap = r->seen_cap ? r->seen_cap * 2 : 4096;
            struct name_seen *v = realloc(r->seen, cap * sizeof(*v));
            if (!v)
                return ERR_NOMEM;
            r->seen = v;
            r->seen_cap = cap;
        }
        r->seen[r->nseen++] = (struct name_seen){node, h};
    }
    return 0;
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
    if (r->want_traits && node >= 0 &&
        rm_traits_add(&r->traits, node, r->trait[RM_NAME], r->trait[RM_BIRTHDAY], r->trait[RM_CITY],
                      r->trait[RM_GENDER]))
        return ERR_NOMEM;
    if (r->detect_names > 0 && node >= 0 && r->trait[RM_NAME] && note_names(r))
        return ERR_NOMEM;
    if (r->progress && r->n % RESOLVE_PROGRESS_EVERY == 0)
        fprintf(stderr, "\rresolve: %zu records and events, %zu identifiers, %.0f/s   ", r->n,
                idgraph_count(r->g), (double)r->n / ((double)(time_mono_ns() - r->start) / 1e9));
    return 0;
}

/* The traits the matcher compares, from a trait object (a record's traits, an
 * identify's traits); several spellings of each as exports name them. */
static void take_match_traits(struct resolver *r, const cJSON *traits)
{
    static const char *const names[RM_NFIELDS][4] = {
        [RM_NAME] = {"name", "full_name", "fullName", NULL},
        [RM_BIRTHDAY] = {"birthday", "birth_date", "birthdate", "dob"},
        [RM_CITY] = {"city", NULL, NULL, NULL},
        [RM_GENDER] = {"gender", "sex", NULL, NULL},
    };
    for (int f = 0; f < RM_NFIELDS; f++) {
        r->trait[f] = NULL;
        for (int k = 0; k < 4 && names[f][k] && !r->trait[f]; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(traits, names[f][k]);
            if (cJSON_IsString(v) && v->valuestring[0])
                r->trait[f] = v->valuestring;
        }
    }
}

/* The identifier types a record's JSON object may name are taken as they are. The
 * types point into the returned object: the caller deletes it after using r->ids. */
static cJSON *record_identifiers(struct resolver *r, const struct import_row *row)
{
    r->nids = 0;
    cJSON *ids = row->identifiers ? cJSON_Parse(row->identifiers) : NULL;
    for (cJSON *it = ids ? ids->child : NULL; it; it = it->next)
        if (cJSON_IsString(it))
            add_ident(r, it->string, it->valuestring, strlen(it->valuestring));
    return ids;
}

static int on_record(const struct import_row *row, void *ctx)
{
    struct resolver *r = ctx;
    r->stats->records++;
    cJSON *ids = record_identifiers(r, row);
    /* Traits are parsed only when they may hold what the matcher or detection reads
     * (most records, receipts and orders, carry none of it). */
    bool wanted =
        row->traits &&
        ((r->want_traits && (strstr(row->traits, "name") || strstr(row->traits, "birth") ||
                             strstr(row->traits, "dob") || strstr(row->traits, "city") ||
                             strstr(row->traits, "gender") || strstr(row->traits, "sex"))) ||
         (r->detect_names > 0 && strstr(row->traits, "name")));
    cJSON *traits = wanted ? cJSON_Parse(row->traits) : NULL;
    take_match_traits(r, traits);
    int rc = add_member(r, 1, row->id, row->source_id);
    cJSON_Delete(traits);
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

/* The identifiers of an event into r->ids (their types are static strings). Returns
 * the parsed message (NULL if it does not parse), on the JSON arena the caller began. */
static const cJSON *event_identifiers(struct resolver *r, const struct event_row *ev)
{
    r->nids = 0;
    if (ev->user_id)
        add_ident(r, "user_id", ev->user_id, strlen(ev->user_id));
    if (ev->anonymous_id)
        add_ident(r, "anonymous_id", ev->anonymous_id, strlen(ev->anonymous_id));
    cJSON *msg = cJSON_ParseWithLength(ev->raw, ev->raw_len);
    if (msg) {
        const cJSON *context = cJSON_GetObjectItemCaseSensitive(msg, "context");
        take_traits(r, cJSON_GetObjectItemCaseSensitive(msg, "traits"));
        take_traits(r, cJSON_GetObjectItemCaseSensitive(context, "traits"));
        take_string(r, cJSON_GetObjectItemCaseSensitive(context, "device"), "id", "device_id");
        if (strcmp(ev->type, "alias") == 0)
            take_string(r, msg, "previousId", "anonymous_id");
    }
    return msg;
}

static int on_event(const struct event_row *ev, void *ctx)
{
    struct resolver *r = ctx;
    r->stats->events++;
    json_arena_begin();
    const cJSON *msg = event_identifiers(r, ev);
    take_match_traits(r, (r->want_traits || r->detect_names > 0) && msg &&
                                 strcmp(ev->type, "identify") == 0
                             ? cJSON_GetObjectItemCaseSensitive(msg, "traits")
                             : NULL);
    int rc = add_member(r, 0, ev->id, ev->source_id);
    json_arena_end();
    return rc;
}

/* Incremental resolution (incremental.c) takes identifiers exactly as above. */
static void idents_copy(const struct resolver *r, struct resolve_idents *out)
{
    out->n = 0;
    for (size_t i = 0; i < r->nids; i++) {
        size_t tl = strlen(r->ids[i].type), vl = strlen(r->ids[i].value);
        if (tl >= sizeof(out->types[0]))
            continue; /* the graph takes no such type either */
        memcpy(out->types[out->n], r->ids[i].type, tl + 1);
        memcpy(out->values[out->n], r->ids[i].value, vl + 1);
        out->ids[out->n] = (struct ident){out->types[out->n], out->values[out->n]};
        out->n++;
    }
}

void resolve_record_identifiers(const struct import_row *row, struct resolve_stats *stats,
                                struct resolve_idents *out)
{
    struct resolver r = {.stats = stats};
    cJSON *ids = record_identifiers(&r, row);
    idents_copy(&r, out);
    cJSON_Delete(ids);
}

void resolve_event_identifiers(const struct event_row *ev, struct resolve_stats *stats,
                               struct resolve_idents *out)
{
    struct resolver r = {.stats = stats};
    json_arena_begin();
    event_identifiers(&r, ev);
    idents_copy(&r, out);
    json_arena_end();
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

/* Link constraints from the store: must-not-link pairs go into the graph before any
 * record is added; must-link pairs are kept to be joined after the deterministic
 * graph. A constraint naming an identifier that no longer has its number (the
 * numbering was rebuilt) is skipped. */
struct constraints {
    struct idgraph *g;
    int64_t (*must)[2];
    size_t nmust;
    struct resolve_stats *stats;
};

static int on_constraint(const char *kind, int64_t a, int64_t b, void *ctx)
{
    struct constraints *c = ctx;
    size_t n = idgraph_count(c->g);
    if (a < 0 || b < 0 || (size_t)a >= n || (size_t)b >= n)
        return 0;
    if (strcmp(kind, "cannot") == 0) {
        c->stats->cannot_links++;
        return idgraph_cannot_link(c->g, a, b);
    }
    int64_t(*v)[2] = realloc(c->must, (c->nmust + 1) * sizeof(*v));
    if (!v)
        return ERR_NOMEM;
    c->must = v;
    c->must[c->nmust][0] = a;
    c->must[c->nmust][1] = b;
    c->nmust++;
    return 0;
}

/* Why groups joined outside the deterministic graph: per node (the groups' names
 * before the join), an index into a list of reasons. */
struct reasons {
    int32_t *of; /* per node, -1: none */
    char **text;
    size_t n;
};

static int reason_note(struct reasons *rs, int64_t a, int64_t b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char **v = realloc(rs->text, (rs->n + 1) * sizeof(*v));
    if (!v)
        return ERR_NOMEM;
    rs->text = v;
    if (!(rs->text[rs->n] = strdup(buf)))
        return ERR_NOMEM;
    if (rs->of[a] < 0)
        rs->of[a] = (int32_t)rs->n;
    if (rs->of[b] < 0)
        rs->of[b] = (int32_t)rs->n;
    rs->n++;
    return 0;
}

/* Why the group named by node joined another: the matcher's or a decision's reason,
 * else the two identifiers a record linked (types and identifier ids, not values). */
static const char *reason_of(const struct reasons *rs, struct idgraph *g, int64_t node, char *buf,
                             size_t cap)
{
    if (rs->of && rs->of[node] >= 0)
        return rs->text[rs->of[node]];
    int64_t mine, theirs;
    if (!idgraph_joined_by(g, node, &mine, &theirs))
        return "resolve: a record links identifiers of both";
    const char *t1, *t2, *v;
    idgraph_node(g, mine, &t1, &v);
    idgraph_node(g, theirs, &t2, &v);
    snprintf(buf, cap,
             "resolve: a record carries %s (identifier %" PRId64 ") of this profile and %s "
             "(identifier %" PRId64 ") of the one it joined",
             t1, mine, t2, theirs);
    return buf;
}

/* Profiles merged away and not undone: a journaled merge is not written twice. */
struct merged_set {
    bool *is; /* per node */
    size_t n;
};

static int on_merge_row(const struct merge_row *m, void *ctx)
{
    struct merged_set *ms = ctx;
    if (m->undone_at == STORE_NULL_TIME && m->from_profile >= 1 && (size_t)m->from_profile <= ms->n)
        ms->is[m->from_profile - 1] = true;
    return 0;
}

/* The stages after the deterministic graph: people's must-links, then the matcher.
 * det_root[i]: node i named a group before them. */
static int resolve_links(struct store *st, struct resolver *r, const struct constraints *c,
                         const struct resolve_match *match, struct reasons *rs,
                         struct rm_result *mr, struct err *e)
{
    struct resolve_stats *stats = r->stats;
    for (size_t i = 0; i < c->nmust; i++) {
        int64_t a = idgraph_group(r->g, c->must[i][0]), b = idgraph_group(r->g, c->must[i][1]);
        if (a == b)
            continue;
        if (idgraph_link(r->g, a, b) != IDGRAPH_LINKED) {
            stats->must_refused++;
            continue;
        }
        stats->must_links++;
        if (reason_note(rs, a, b, "accepted review pair: profiles %" PRId64 " and %" PRId64,
                        c->must[i][0] + 1, c->must[i][1] + 1))
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (!match || !match->enabled)
        return 0;
    struct rm_opts o = {match->link_p, match->review_p};
    int rc = rm_run(r->g, &r->traits, &o, mr, e);
    if (rc)
        return rc;
    stats->match_records = mr->records;
    stats->match_candidates = mr->candidates;
    stats->match_fitted = mr->fitted;
    stats->match_refused = mr->refused;
    for (size_t i = 0; i < mr->nlink; i++) {
        const struct rm_pair *p = &mr->link[i];
        if (p->outcome != IDGRAPH_LINKED)
            continue;
        stats->match_links++;
        if (reason_note(rs, p->a, p->b, "probabilistic: score %.1f (p %.4f), fields %s", p->weight,
                        p->p, p->fields))
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    (void)st;
    return 0;
}

/* Everything the scans built, freed so that they can run again. */
static void reset_scan(struct resolver *r, struct constraints *c)
{
    idgraph_free(r->g);
    r->g = NULL;
    free(r->m);
    r->m = NULL;
    r->n = r->cap = 0;
    rm_traits_release(&r->traits);
    free(r->seen);
    r->seen = NULL;
    r->nseen = r->seen_cap = 0;
    free(c->must);
    c->must = NULL;
    c->nmust = 0;
}

/* The graph of the stored data: numbering restored, must-not-link pairs in place,
 * then every record and event in stored order. */
static int build_graph(struct store *st, const struct idgraph_rules *rules, struct resolver *r,
                       struct constraints *c, struct err *e)
{
    int rc = idgraph_new(rules, &r->g, e);
    if (rc)
        return rc;
    /* Numbers first (profiles are named after them), then the data in stored order. */
    struct err ie = {0};
    if (st->ops->identifier_scan(st, on_stored_identifier, r, &ie) == ERR_INVALID) {
        idgraph_free(r->g);
        if ((rc = idgraph_new(rules, &r->g, e)))
            return rc;
    }
    c->g = r->g;
    rc = st->ops->constraint_scan(st, on_constraint, c, e);
    if (!rc)
        rc = st->ops->record_scan(st, on_record, r, e);
    struct event_filter f = {0};
    if (!rc)
        rc = st->ops->event_scan(st, &f, on_event, r, e);
    return rc;
}

static int cmp_seen(const void *a, const void *b)
{
    const struct name_seen *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

/* Values carried by members with at least detect_names distinct names: one phone or
 * e-mail typed for many different people (a shop's own number, a clerk's). They are
 * added to more's blocked list (a copy of rules' plus them) and counted by type. */
static int detect_shared(struct resolver *r, const struct idgraph_rules *rules,
                         struct idgraph_rules *more, struct err *e)
{
    if (r->detect_names <= 0 || !r->nseen)
        return 0;
    qsort(r->seen, r->nseen, sizeof(*r->seen), cmp_seen);
    struct resolve_stats *s = r->stats;
    for (size_t i = 0; i < r->nseen;) {
        size_t j = i;
        long distinct = 0;
        for (; j < r->nseen && r->seen[j].node == r->seen[i].node; j++)
            distinct += j == i || r->seen[j].name != r->seen[j - 1].name;
        if (distinct >= r->detect_names) {
            const char *type, *value;
            idgraph_node(r->g, r->seen[i].node, &type, &value);
            if (!more->blocked) {
                more->blocked = calloc(rules->nblocked + 1, sizeof(*more->blocked));
                if (!more->blocked)
                    return err_set(e, ERR_NOMEM, "out of memory");
                memcpy(more->blocked, rules->blocked, rules->nblocked * sizeof(char *));
                more->nblocked = rules->nblocked;
            }
            char **v = realloc(more->blocked, (more->nblocked + 1) * sizeof(*v));
            if (!v || !(v[more->nblocked] = strdup(value))) {
                if (v)
                    more->blocked = v;
                return err_set(e, ERR_NOMEM, "out of memory");
            }
            more->blocked = v;
            more->nblocked++;
            s->detected++;
            size_t k = 0;
            while (k < s->ndetected_types && strcmp(s->detected_type[k], type) != 0)
                k++;
            if (k < RESOLVE_TYPES_MAX) {
                if (k == s->ndetected_types)
                    snprintf(s->detected_type[s->ndetected_types++], sizeof(s->detected_type[0]),
                             "%s", type);
                s->detected_count[k]++;
            }
        }
        i = j;
    }
    return 0;
}

void resolve_match_from_config(struct resolve_match *m)
{
    m->enabled = cfg.identity_match && strcmp(cfg.identity_match, "on") == 0;
    m->link_p = (double)cfg.identity_match_link / 1000.0;
    m->review_p = (double)cfg.identity_match_review / 1000.0;
    m->detect_names = cfg.identity_detect_names;
    if (m->review_p > m->link_p)
        m->review_p = m->link_p;
}

int resolve_full(struct store *st, const struct idgraph_rules *rules,
                 const struct resolve_match *match, FILE *map, bool progress,
                 struct resolve_stats *stats, struct err *e)
{
    memset(stats, 0, sizeof(*stats));
    struct resolver r = {.st = st, .stats = stats, .progress = progress};
    r.want_traits = match && match->enabled;
    r.start = time_mono_ns();
    struct live_profiles before = {0};
    struct source_names *names = NULL;
    struct constraints c = {.stats = stats};
    struct reasons rs = {0};
    struct rm_result mr = {0};
    struct merged_set merged = {0};
    bool *det_root = NULL;
    int64_t *node_count = NULL, *member_count = NULL;
    int64_t now = time_now_ms();
    bool in_txn = false;
    struct idgraph_rules more = *rules; /* with the values detected as shared */
    more.blocked = NULL;
    r.detect_names = match ? match->detect_names : 0;
    int rc = suppression_load(st, &r.supp, e); /* erased people's identifiers: never linked */
    if (!rc)
        rc = build_graph(st, rules, &r, &c, e);
    if (!rc)
        rc = detect_shared(&r, rules, &more, e);
    if (!rc && stats->detected) {
        /* Again without them: the graph links as if they had been configured. */
        struct resolve_stats keep = *stats;
        reset_scan(&r, &c);
        memset(stats, 0, sizeof(*stats));
        stats->detected = keep.detected;
        memcpy(stats->detected_type, keep.detected_type, sizeof(stats->detected_type));
        memcpy(stats->detected_count, keep.detected_count, sizeof(stats->detected_count));
        stats->ndetected_types = keep.ndetected_types;
        r.detect_names = 0;
        rc = build_graph(st, &more, &r, &c, e);
    }
    if (!rc)
        rc = st->ops->profile_scan(st, on_profile, &before, e);
    if (!rc)
        rc = source_names_load(st, &names, e);
    if (rc)
        goto out;

    size_t nnodes = idgraph_count(r.g);
    size_t nalloc = nnodes ? nnodes : 1;
    det_root = calloc(nalloc, sizeof(*det_root));
    rs.of = malloc(nalloc * sizeof(*rs.of));
    merged.is = calloc(nalloc, sizeof(*merged.is));
    merged.n = nnodes;
    node_count = calloc(nalloc, sizeof(*node_count));
    member_count = calloc(nalloc, sizeof(*member_count));
    if (!det_root || !rs.of || !merged.is || !node_count || !member_count) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nnodes; i++) {
        det_root[i] = idgraph_group(r.g, (int64_t)i) == (int64_t)i;
        rs.of[i] = -1;
    }
    if ((rc = resolve_links(st, &r, &c, match, &rs, &mr, e)) ||
        (rc = st->ops->merge_scan(st, 0, on_merge_row, &merged, e)))
        goto out;

    /* Write the result in one transaction: nodes, members, profiles, merges, the
     * review queue. */
    if ((rc = st->ops->begin(st, e)))
        goto out;
    in_txn = true;
    if ((rc = st->ops->identity_clear(st, e)) || (rc = seal_identifier_flush(st, e)))
        goto out;
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
    bool *was_live = merged.is; /* reused below: marks journaled now or before */
    char why[256];
    for (size_t i = 0; i < before.n && !rc; i++) {
        int64_t old = before.v[i] - 1;
        if (old < 0 || (size_t)old >= nnodes)
            continue;
        int64_t into = idgraph_group(r.g, old);
        if (into == old)
            continue;
        stats->merges++;
        was_live[old] = true;
        rc = st->ops->profile_merge(st, old + 1, into + 1,
                                    reason_of(&rs, r.g, old, why, sizeof(why)), now, e);
    }
    /* A group the deterministic graph named that a must-link or the matcher joined to
     * another: journaled once, so that its id redirects and the merge can be undone. */
    for (size_t i = 0; i < nnodes && !rc; i++) {
        int64_t into = idgraph_group(r.g, (int64_t)i);
        if (!det_root[i] || into == (int64_t)i || was_live[i] || rs.of[i] < 0)
            continue;
        stats->merges++;
        rc = st->ops->profile_put(st, (int64_t)i + 1, 0, 0, now, e);
        if (!rc)
            rc = st->ops->profile_merge(st, (int64_t)i + 1, into + 1,
                                        reason_of(&rs, r.g, (int64_t)i, why, sizeof(why)), now, e);
    }
    /* The review queue: pairs between the thresholds still apart after the links. */
    if (!rc && match && match->enabled)
        rc = st->ops->review_clear_pending(st, e);
    for (size_t i = 0; i < mr.nreview && !rc; i++) {
        int64_t a = idgraph_group(r.g, mr.review[i].a), b = idgraph_group(r.g, mr.review[i].b);
        if (a == b)
            continue;
        stats->review_pairs++;
        rc = st->ops->review_put(st, a + 1, b + 1, mr.review[i].weight, mr.review[i].p,
                                 mr.review[i].fields, now, e);
    }
    if (!rc && match && match->enabled)
        rc = st->ops->review_drop_stale(st, e);
    /* Incremental resolution (incremental.h) goes on after the rows read here; the new
     * generation tells a resolver in another process to load the graph again. */
    int64_t last[2] = {0, 0}; /* by kind: events, records */
    for (size_t i = 0; i < r.n; i++)
        if (r.m[i].row_id > last[r.m[i].kind])
            last[r.m[i].kind] = r.m[i].row_id;
    if (!rc)
        rc = st->ops->identity_cursor_put(st, last[1], last[0], true, now, e);
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
    free(det_root);
    free(node_count);
    free(member_count);
    free(merged.is);
    for (size_t i = 0; i < rs.n; i++)
        free(rs.text[i]);
    free(rs.text);
    free(rs.of);
    rm_result_release(&mr);
    reset_scan(&r, &c);
    for (size_t i = rules->nblocked; i < more.nblocked; i++)
        free(more.blocked[i]);
    free(more.blocked);
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
