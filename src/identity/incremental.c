/* incremental.c - see incremental.h.
 *
 * Per batch: the rows past the cursor are read (outside any transaction: committed
 * rows do not change), their identifiers added to the graph in memory, then one write
 * transaction checks that the stored cursor is still the one this resolver last saw
 * (else someone else wrote the graph: load it again and redo the batch), and writes
 * the changes. Any failure drops the graph in memory: the next step loads it again
 * from what is stored, so memory never runs ahead of the store. */
#include "core/timeutil.h"
#include "identity/incremental.h"
#include "privacy/seal.h"

#define INCREMENTAL_STALE        1 /* internal: the stored graph moved under us */
#define INCREMENTAL_MERGE_REASON "resolve (incremental): a record links identifiers of both"

const int64_t incremental_lag_bounds[INCREMENTAL_LAG_BUCKETS] = {
    1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, INT64_MAX};

struct inc_member {
    int64_t row_id, node; /* node: the group the row joined, -1 without identifiers */
    int64_t received_at;  /* events: when the collection API received it */
    uint8_t kind;         /* 0 event, 1 record (profile_members.kind) */
};

struct i64vec {
    int64_t *v;
    size_t n, cap;
};

struct incremental {
    struct store *st;
    const struct idgraph_rules *rules;
    struct idgraph *g; /* NULL: load at the next step */
    struct identity_cursor cur;
    /* Per group name (profile id - 1): identifiers and members, kept at the name. */
    int64_t *nid, *nmem;
    size_t ncap;
    /* The batch being resolved. */
    struct inc_member *m;
    size_t nm, mcap;
    struct i64vec old;     /* group names that existed before the batch, touched by it */
    struct i64vec touched; /* group names whose profile row is written */
    int64_t last_record, last_event;
    size_t nodes_before;
    struct resolve_idents idents;
    struct incremental_stats stats;
    void (*turn_begin)(void *), (*turn_end)(void *); /* incremental_set_turns */
    void *turn_arg;
    size_t batch_rows; /* incremental_set_batch */
};

void incremental_set_batch(struct incremental *inc, size_t rows)
{
    inc->batch_rows = rows ? rows : INCREMENTAL_BATCH;
}

void incremental_set_turns(struct incremental *inc, void (*turn_begin)(void *),
                           void (*turn_end)(void *), void *arg)
{
    inc->turn_begin = turn_begin;
    inc->turn_end = turn_end;
    inc->turn_arg = arg;
}

static int vec_push(struct i64vec *v, int64_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        int64_t *p = realloc(v->v, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v and drops repeats. */
static void vec_unique(struct i64vec *v)
{
    if (v->n < 2)
        return;
    qsort(v->v, v->n, sizeof(*v->v), cmp_i64);
    size_t k = 1;
    for (size_t i = 1; i < v->n; i++)
        if (v->v[i] != v->v[k - 1])
            v->v[k++] = v->v[i];
    v->n = k;
}

/* Room for counts of n group names, new ones zero. */
static int counts_reserve(struct incremental *inc, size_t n)
{
    if (n <= inc->ncap)
        return 0;
    size_t cap = inc->ncap ? inc->ncap : 4096;
    while (cap < n)
        cap *= 2;
    int64_t *a = realloc(inc->nid, cap * sizeof(*a));
    if (a)
        inc->nid = a;
    int64_t *b = realloc(inc->nmem, cap * sizeof(*b));
    if (b)
        inc->nmem = b;
    if (!a || !b)
        return ERR_NOMEM;
    memset(inc->nid + inc->ncap, 0, (cap - inc->ncap) * sizeof(*a));
    memset(inc->nmem + inc->ncap, 0, (cap - inc->ncap) * sizeof(*b));
    inc->ncap = cap;
    return 0;
}

int incremental_new(struct store *st, const struct idgraph_rules *rules, struct incremental **out,
                    struct err *e)
{
    struct incremental *inc = calloc(1, sizeof(*inc));
    if (!inc)
        return err_set(e, ERR_NOMEM, "out of memory");
    inc->st = st;
    inc->rules = rules;
    inc->batch_rows = INCREMENTAL_BATCH;
    *out = inc;
    return 0;
}

void incremental_free(struct incremental *inc)
{
    if (!inc)
        return;
    idgraph_free(inc->g);
    free(inc->nid);
    free(inc->nmem);
    free(inc->m);
    free(inc->old.v);
    free(inc->touched.v);
    free(inc);
}

void incremental_get_stats(const struct incremental *inc, struct incremental_stats *out)
{
    *out = inc->stats;
}

/* ---- loading the stored graph ---- */

struct load_ctx {
    struct incremental *inc;
    const char *why; /* why the stored graph cannot be restored */
};

static int on_stored(int64_t id, const char *type, const char *value, int64_t profile_id, void *ctx)
{
    struct load_ctx *c = ctx;
    struct incremental *inc = c->inc;
    /* Numbers as resolve_full restores them: interned in id order, without rules. */
    int64_t node = idgraph_intern(inc->g, type, value);
    if (node < -1)
        return ERR_NOMEM;
    if (node != id) {
        c->why = "the stored identifiers are not numbered 0, 1, 2 ... without holes";
        return ERR_INVALID;
    }
    int64_t name = profile_id - 1; /* a profile is named after its smallest identifier */
    if (name < 0 || name > id) {
        c->why = "an identifier's profile is not named after the smallest identifier in it";
        return ERR_INVALID;
    }
    if (name < id) {
        /* Unite with the group's first node under the rules: a group the rules made
         * stays within every limit, so only changed rules (a value blocked, a limit
         * lowered since) can refuse it. */
        struct ident pair[2];
        idgraph_node(inc->g, name, &pair[0].type, &pair[0].value);
        idgraph_node(inc->g, id, &pair[1].type, &pair[1].value);
        int64_t r = idgraph_add(inc->g, pair, 2, NULL);
        if (r < -1)
            return ERR_NOMEM;
        if (idgraph_group(inc->g, id) != name) {
            c->why = "the stored profiles break the identity rules in force (identity-types or "
                     "identity-blocked changed since they were resolved)";
            return ERR_INVALID;
        }
    }
    if (counts_reserve(inc, (size_t)id + 1))
        return ERR_NOMEM;
    inc->nid[name]++;
    return 0;
}

static int on_counts(int64_t id, int64_t identifiers, int64_t members, void *ctx)
{
    struct incremental *inc = ctx;
    (void)identifiers; /* counted from the identifiers themselves */
    if (id >= 1 && (size_t)id <= idgraph_count(inc->g))
        inc->nmem[id - 1] = members;
    return 0;
}

/* A stored must-not-link (a rejected review pair, an undone merge): the groups it names
 * stay apart here as in a full resolution. Must-links are in the stored groups already. */
static int on_constraint(const char *kind, int64_t a, int64_t b, void *ctx)
{
    struct idgraph *g = ctx;
    size_t n = idgraph_count(g);
    if (strcmp(kind, "cannot") != 0 || a < 0 || b < 0 || (size_t)a >= n || (size_t)b >= n)
        return 0;
    return idgraph_cannot_link(g, a, b);
}

static int load(struct incremental *inc, struct err *e)
{
    idgraph_free(inc->g);
    inc->g = NULL;
    if (inc->ncap) {
        memset(inc->nid, 0, inc->ncap * sizeof(*inc->nid));
        memset(inc->nmem, 0, inc->ncap * sizeof(*inc->nmem));
    }
    int rc = idgraph_new(inc->rules, &inc->g, e);
    if (rc)
        return rc;
    struct load_ctx c = {inc, NULL};
    struct err le = {0};
    struct store *st = inc->st;
    /* The cursor first: a write after it moves the stored cursor, which the next
     * batch's transaction sees (stale: loaded again), so the identifiers and counts
     * read here need not be of the same moment. */
    rc = st->ops->identity_cursor_get(st, &inc->cur, e);
    if (!rc)
        rc = st->ops->identifier_profiles(st, on_stored, &c, &le);
    if (rc == ERR_INVALID && c.why)
        rc = err_set(e, ERR_INVALID, "incremental resolution cannot go on: %s; run custos resolve",
                     c.why);
    else if (rc == ERR_NOMEM)
        rc = err_set(e, ERR_NOMEM, "out of memory loading the identity graph");
    else if (rc)
        *e = le;
    if (!rc)
        rc = st->ops->constraint_scan(st, on_constraint, inc->g, e);
    if (!rc)
        rc = counts_reserve(inc, idgraph_count(inc->g) + 1)
                 ? err_set(e, ERR_NOMEM, "out of memory")
                 : st->ops->profile_counts(st, on_counts, inc, e);
    if (rc) {
        idgraph_free(inc->g);
        inc->g = NULL;
        return rc;
    }
    inc->stats.loads++;
    return 0;
}

/* ---- one batch ---- */

static int add_row(struct incremental *inc, uint8_t kind, int64_t row_id, int64_t received_at)
{
    if (inc->nm == inc->mcap) {
        size_t cap = inc->mcap ? inc->mcap * 2 : 1024;
        struct inc_member *v = realloc(inc->m, cap * sizeof(*v));
        if (!v)
            return ERR_NOMEM;
        inc->m = v;
        inc->mcap = cap;
    }
    /* Groups that existed before the batch and that this row may join to another:
     * noted before the row links anything, so each is noted under its old name. */
    const struct resolve_idents *id = &inc->idents;
    for (size_t i = 0; i < id->n; i++) {
        int64_t node = idgraph_find(inc->g, id->ids[i].type, id->ids[i].value);
        if (node >= 0 && (size_t)node < inc->nodes_before &&
            vec_push(&inc->old, idgraph_group(inc->g, node)))
            return ERR_NOMEM;
    }
    size_t refused = 0;
    int64_t node = id->n ? idgraph_add(inc->g, id->ids, id->n, &refused) : -1;
    if (node < -1)
        return ERR_NOMEM;
    inc->stats.refused_links += refused;
    inc->m[inc->nm++] = (struct inc_member){row_id, node, received_at, kind};
    return 0;
}

static int on_record(const struct import_row *row, void *ctx)
{
    struct incremental *inc = ctx;
    resolve_record_identifiers(row, &inc->stats.std, &inc->idents);
    inc->last_record = row->id;
    return add_row(inc, 1, row->id, 0);
}

static int on_event(const struct event_row *ev, void *ctx)
{
    struct incremental *inc = ctx;
    resolve_event_identifiers(ev, &inc->stats.std, &inc->idents);
    inc->last_event = ev->id;
    return add_row(inc, 0, ev->id, ev->received_at);
}

/* Writes the batch: merges, new identifiers, members, profiles, cursor. Inside the
 * caller's transaction. */
static int write_batch(struct incremental *inc, int64_t now, struct incremental_stats *d,
                       struct err *e)
{
    struct store *st = inc->st;
    struct idgraph *g = inc->g;
    size_t nodes = idgraph_count(g);
    int rc = counts_reserve(inc, nodes + 1) ? err_set(e, ERR_NOMEM, "out of memory") : 0;
    inc->touched.n = 0;
    /* A profile of before the batch that is no longer its group's name was joined to
     * another: as resolve_full, the smaller id survives and the other redirects. */
    vec_unique(&inc->old);
    for (size_t i = 0; i < inc->old.n && !rc; i++) {
        int64_t b = inc->old.v[i], into = idgraph_group(g, b);
        if (into == b)
            continue;
        rc = st->ops->profile_merge(st, b + 1, into + 1, INCREMENTAL_MERGE_REASON, now, e);
        if (!rc)
            rc = st->ops->profile_reassign(st, b + 1, into + 1, e);
        inc->nid[into] += inc->nid[b];
        inc->nmem[into] += inc->nmem[b];
        inc->nid[b] = inc->nmem[b] = 0;
        d->merges++;
        if (!rc && vec_push(&inc->touched, into))
            rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    if (!rc)
        rc = seal_identifier_flush(st, e); /* clear values of blind-indexed identifiers */
    for (size_t i = inc->nodes_before; i < nodes && !rc; i++) {
        const char *type, *value;
        idgraph_node(g, (int64_t)i, &type, &value);
        int64_t name = idgraph_group(g, (int64_t)i);
        rc = st->ops->identifier_put(st, (int64_t)i, type, value, name + 1, e);
        inc->nid[name]++;
        d->identifiers++;
        if (!rc && vec_push(&inc->touched, name))
            rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < inc->nm && !rc; i++) {
        const struct inc_member *m = &inc->m[i];
        if (m->node < 0) {
            d->unresolved++;
            continue;
        }
        int64_t name = idgraph_group(g, m->node);
        rc = st->ops->member_put(st, m->kind, m->row_id, name + 1, e);
        inc->nmem[name]++;
        if ((size_t)name < inc->nodes_before)
            d->joined++;
        else
            d->in_new++;
        if (!rc && vec_push(&inc->touched, name))
            rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    vec_unique(&inc->touched);
    for (size_t i = 0; i < inc->touched.n && !rc; i++) {
        int64_t name = inc->touched.v[i];
        d->created += (size_t)name >= inc->nodes_before;
        rc = st->ops->profile_put(st, name + 1, inc->nid[name], inc->nmem[name], now, e);
    }
    if (!rc)
        rc = st->ops->identity_cursor_put(st, inc->last_record, inc->last_event, false, now, e);
    return rc;
}

/* Resolves one batch. *n: rows read (0: nothing past the cursor). INCREMENTAL_STALE
 * when the stored graph moved since it was loaded. */
static int batch(struct incremental *inc, size_t *n, struct err *e)
{
    struct store *st = inc->st;
    inc->nm = 0;
    inc->old.n = 0;
    inc->last_record = inc->cur.last_record;
    inc->last_event = inc->cur.last_event;
    inc->nodes_before = idgraph_count(inc->g);
    struct incremental_stats d = {0};
    size_t limit = inc->batch_rows;
    int rc = st->ops->record_scan_after(st, inc->cur.last_record, limit, on_record, inc, e);
    uint64_t records = inc->nm;
    /* Events once the records are caught up: all pending records, then the events, the
     * order of a full resolution. */
    struct event_filter f = {.after_id = inc->cur.last_event, .limit = limit};
    if (!rc && records < limit)
        rc = st->ops->event_scan(st, &f, on_event, inc, e);
    if (rc == ERR_NOMEM)
        rc = err_set(e, ERR_NOMEM, "out of memory resolving new rows");
    *n = inc->nm;
    if (rc || inc->nm == 0)
        return rc;

    if (inc->turn_begin)
        inc->turn_begin(inc->turn_arg);
    uint64_t t0 = time_mono_ns();
    struct identity_cursor now_cur;
    if (!(rc = st->ops->begin(st, e)))
        rc = st->ops->identity_cursor_get(st, &now_cur, e);
    if (!rc &&
        (now_cur.generation != inc->cur.generation || now_cur.last_record != inc->cur.last_record ||
         now_cur.last_event != inc->cur.last_event))
        rc = INCREMENTAL_STALE;
    int64_t now = time_now_ms();
    if (!rc)
        rc = write_batch(inc, now, &d, e);
    if (!rc)
        rc = st->ops->commit(st, e);
    if (rc)
        st->ops->rollback(st);
    if (inc->turn_end)
        inc->turn_end(inc->turn_arg);
    inc->stats.write_ns += time_mono_ns() - t0;
    if (rc)
        return rc;
    inc->cur.last_record = inc->last_record;
    inc->cur.last_event = inc->last_event;
    struct incremental_stats *s = &inc->stats;
    s->records += records;
    s->events += inc->nm - records;
    s->joined += d.joined;
    s->created += d.created;
    s->in_new += d.in_new;
    s->unresolved += d.unresolved;
    s->identifiers += d.identifiers;
    s->merges += d.merges;
    s->batches++;
    /* Lag: from the collection API's receipt of an event to its profile's commit. */
    int64_t done = time_now_ms();
    s->behind_ms = 0;
    for (size_t i = inc->nm; i-- > 0;)
        if (inc->m[i].kind == 0) {
            s->behind_ms = done - inc->m[i].received_at;
            break;
        }
    for (size_t i = 0; i < inc->nm; i++) {
        if (inc->m[i].kind != 0)
            continue;
        int64_t lag = done - inc->m[i].received_at;
        size_t b = 0;
        while (b < INCREMENTAL_LAG_BUCKETS - 1 && lag > incremental_lag_bounds[b])
            b++;
        s->lag[b]++;
        s->lag_sum_ms += (uint64_t)(lag > 0 ? lag : 0);
        if (lag > s->lag_max_ms)
            s->lag_max_ms = lag;
    }
    return 0;
}

int incremental_step(struct incremental *inc, uint64_t max_rows, uint64_t *resolved, struct err *e)
{
    uint64_t total = 0;
    int rc = 0, reloads = 0;
    for (;;) {
        if (!inc->g && (rc = load(inc, e)))
            break;
        size_t n = 0;
        rc = batch(inc, &n, e);
        if (rc == INCREMENTAL_STALE && ++reloads <= 8) {
            idgraph_free(inc->g); /* written by someone else meanwhile: load it again */
            inc->g = NULL;
            continue;
        }
        if (rc == INCREMENTAL_STALE)
            rc = err_set(e, ERR_BUSY,
                         "the identity graph keeps changing under the incremental resolver "
                         "(another resolution is writing it): will try again");
        if (rc) {
            idgraph_free(inc->g);
            inc->g = NULL;
            break;
        }
        total += n;
        if (n == 0 || (max_rows && total >= max_rows))
            break;
    }
    if (resolved)
        *resolved = total;
    return rc;
}
