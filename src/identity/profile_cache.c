/* profile_cache.c - profile reads from memory. See profile_cache.h.
 *
 * The index is built from three scans on the refresh thread's connection: profiles
 * (id -> merged_into, into an array: profile ids are dense, the smallest identifier
 * node + 1), identifiers (an open-addressing table of "type\0value" -> profile), and
 * the API keys. Views are rendered lazily into per-profile slots (atomic pointers set
 * once by compare-and-swap), first by the prewarm pass that follows every build. */
#include <cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#include "core/log.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "identity/graph.h"
#include "identity/profile_cache.h"
#include "privacy/seal.h"

#define KEY_MAX          (32 + 1 + IDGRAPH_VALUE_MAX) /* "type\0value" */
#define BUILD_TRIES      3           /* builds straddling a commit are redone this many times */
#define PROFILE_ID_LIMIT (1LL << 31) /* the largest profile id the array index takes */
/* A build reads every identifier and profile: while resolutions keep committing (the
 * incremental resolver of custos serve, every fraction of a second during ingestion),
 * the next build waits BUILD_PACE times as long as the last one took (at most
 * BUILD_MAX_WAIT_MS), so that it takes at most about a fifth of a core. */
#define BUILD_PACE        4
#define BUILD_MAX_WAIT_MS 1000
/* Views are prewarmed only once no resolution has committed for this long: during
 * ingestion every build would start the prewarm again (a core's worth of rendering),
 * and under full load the resolver commits every second or two; reads render what
 * they miss meanwhile. */
#define PREWARM_QUIET_MS 5000

struct view {
    size_t len;    /* of body */
    size_t id_end; /* body[0..id_end) is {"id":N */
    char body[];
};

struct ident_entry {
    uint64_t hash;
    uint32_t off, len; /* the key in the pool */
    int64_t profile;
};

struct index {
    atomic_long refs;
    int64_t stamp[STORE_STAMP_N];
    int64_t max_id;
    int64_t *into;                 /* [max_id + 1]: -1 no such id, 0 live, else merged into */
    _Atomic(struct view *) *views; /* [max_id + 1] */
    struct ident_entry *idents;
    size_t nidents, cap_idents;
    uint32_t *table; /* ident index + 1, 0 empty; mask + 1 slots */
    size_t mask;
    char *pool;
    size_t pool_len, pool_cap;
    int64_t live;
    bool nomem;
};

struct key {
    unsigned char hash[32];
    int64_t id, created_at, expires_at, revoked_at;
    char role[API_KEY_ROLE_MAX];
    char hint[16]; /* for the audit log's actor */
};

struct profile_cache {
    struct survivorship surv;
    int recent_events;
    struct store *st;      /* the refresh thread's */
    struct store *st_miss; /* for views not yet rendered, under miss_lock */
    pthread_mutex_t miss_lock;
    pthread_rwlock_t lock; /* guards current (the pointer, not the index) */
    struct index *current;
    pthread_rwlock_t keys_lock;
    struct key *keys;
    size_t nkeys;
    pthread_t thread;
    bool started;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    int64_t data_version;
    int64_t changed_at;              /* when the identity stamp last moved (ms) */
    int64_t built_at, build_cost_ms; /* the last build: when it ended, how long it took */
    atomic_ullong hits, misses, builds, build_ms, prewarmed;
};

static uint64_t key_hash(const char *k, size_t n)
{
    return text_hash128(k, n, 0x70726f66696c65ULL).lo;
}

/* "type\0value" into buf; its length, or 0 when too long. */
static size_t key_make(char buf[KEY_MAX], const char *type, const char *value)
{
    size_t t = strlen(type), v = strlen(value);
    if (t > 32 || v > IDGRAPH_VALUE_MAX)
        return 0;
    memcpy(buf, type, t);
    buf[t] = 0;
    memcpy(buf + t + 1, value, v);
    return t + 1 + v;
}

/* ---- building an index ---- */

static void index_free(struct index *x)
{
    if (!x)
        return;
    if (x->views)
        for (int64_t i = 0; i <= x->max_id; i++)
            free(atomic_load(&x->views[i]));
    free(x->views);
    free(x->into);
    free(x->idents);
    free(x->table);
    free(x->pool);
    free(x);
}

static void index_release(struct index *x)
{
    if (x && atomic_fetch_sub(&x->refs, 1) == 1)
        index_free(x);
}

struct redirects {
    int64_t (*pairs)[2];
    size_t n, cap;
};

static int redirect_add(int64_t id, int64_t into, void *ctx)
{
    struct redirects *r = ctx;
    if (id <= 0 || id >= PROFILE_ID_LIMIT)
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        void *p = realloc(r->pairs, cap * sizeof(*r->pairs));
        if (!p)
            return ERR_NOMEM;
        r->pairs = p;
        r->cap = cap;
    }
    r->pairs[r->n][0] = id;
    r->pairs[r->n][1] = into;
    r->n++;
    return 0;
}

static int ident_add(const char *type, const char *value, int64_t profile, void *ctx)
{
    struct index *x = ctx;
    char k[KEY_MAX];
    size_t n = type && value ? key_make(k, type, value) : 0;
    if (!n)
        return 0;
    if (x->nidents == x->cap_idents) {
        size_t cap = x->cap_idents ? x->cap_idents * 2 : 4096;
        void *p = realloc(x->idents, cap * sizeof(*x->idents));
        if (!p)
            return ERR_NOMEM;
        x->idents = p;
        x->cap_idents = cap;
    }
    if (x->pool_len + n > x->pool_cap) {
        size_t cap = x->pool_cap ? x->pool_cap * 2 : 65536;
        while (cap < x->pool_len + n)
            cap *= 2;
        if (cap > UINT32_MAX)
            return ERR_LIMIT;
        char *p = realloc(x->pool, cap);
        if (!p)
            return ERR_NOMEM;
        x->pool = p;
        x->pool_cap = cap;
    }
    memcpy(x->pool + x->pool_len, k, n);
    x->idents[x->nidents++] =
        (struct ident_entry){key_hash(k, n), (uint32_t)x->pool_len, (uint32_t)n, profile};
    x->pool_len += n;
    return 0;
}

static int table_build(struct index *x)
{
    size_t cap = 16;
    while (cap < x->nidents * 2)
        cap *= 2;
    if (x->nidents >= UINT32_MAX)
        return ERR_LIMIT;
    x->table = calloc(cap, sizeof(*x->table));
    if (!x->table)
        return ERR_NOMEM;
    x->mask = cap - 1;
    for (size_t i = 0; i < x->nidents; i++) {
        size_t s = x->idents[i].hash & x->mask;
        while (x->table[s])
            s = (s + 1) & x->mask;
        x->table[s] = (uint32_t)i + 1;
    }
    return 0;
}

static int64_t index_find(const struct index *x, const char *k, size_t n)
{
    uint64_t h = key_hash(k, n);
    for (size_t s = h & x->mask; x->table[s]; s = (s + 1) & x->mask) {
        const struct ident_entry *d = &x->idents[x->table[s] - 1];
        if (d->hash == h && d->len == n && memcmp(x->pool + d->off, k, n) == 0)
            return d->profile;
    }
    return 0;
}

/* Builds an index from one state of the store (stamp taken before and after the
 * scans must agree). */
static int index_build(struct store *st, struct index **out, struct err *e)
{
    for (int attempt = 0;; attempt++) {
        struct index *x = calloc(1, sizeof(*x));
        struct redirects r = {0};
        int64_t after[STORE_STAMP_N];
        if (!x)
            return err_set(e, ERR_NOMEM, "out of memory");
        atomic_init(&x->refs, 1);
        int rc = st->ops->identity_stamp(st, x->stamp, e);
        if (!rc)
            rc = st->ops->profile_redirect_scan(st, redirect_add, &r, e);
        if (!rc) {
            x->max_id = r.n ? r.pairs[r.n - 1][0] : 0;
            x->into = malloc((size_t)(x->max_id + 1) * sizeof(*x->into));
            x->views = calloc((size_t)(x->max_id + 1), sizeof(*x->views));
            if (!x->into || !x->views)
                rc = ERR_NOMEM;
        }
        if (!rc) {
            for (int64_t i = 0; i <= x->max_id; i++)
                x->into[i] = -1;
            for (size_t i = 0; i < r.n; i++) {
                x->into[r.pairs[i][0]] = r.pairs[i][1];
                x->live += r.pairs[i][1] == 0;
            }
            rc = st->ops->identity_index_scan(st, ident_add, x, e);
        }
        free(r.pairs);
        if (!rc)
            rc = table_build(x);
        if (!rc)
            rc = st->ops->identity_stamp(st, after, e);
        if (rc == ERR_NOMEM)
            err_set(e, ERR_NOMEM, "out of memory building the profile index");
        else if (rc == ERR_LIMIT)
            err_set(e, ERR_LIMIT, "the profile index is limited to 4 GiB of identifiers");
        if (rc) {
            index_free(x);
            return rc;
        }
        if (memcmp(after, x->stamp, sizeof(after)) == 0 || attempt + 1 == BUILD_TRIES) {
            *out = x;
            return 0;
        }
        index_free(x); /* a resolution committed in between: read again */
    }
}

/* ---- views ---- */

/* Renders the view of live profile id from st. */
static int view_render(struct profile_cache *c, struct store *st, int64_t id, struct view **out,
                       struct err *e)
{
    void *json = NULL;
    int rc = st->ops->profile_view(st, id, c->recent_events, &json, e);
    char what[40];
    snprintf(what, sizeof(what), "profile %" PRId64, id);
    if (!rc)
        rc = seal_open_json(json, what, e); /* a token left: it did not decrypt */
    if (!rc && survivorship_apply(&c->surv, json))
        rc = err_set(e, ERR_NOMEM, "out of memory");
    char *text = rc ? NULL : cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (rc)
        return rc;
    if (!text)
        return err_set(e, ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    struct view *v = malloc(sizeof(*v) + n + 1);
    if (!v) {
        cJSON_free(text);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    memcpy(v->body, text, n + 1);
    cJSON_free(text);
    v->len = n;
    const char *comma = strchr(v->body, ',');
    v->id_end = comma ? (size_t)(comma - v->body) : n - 1;
    *out = v;
    return 0;
}

/* Keeps v in slot id unless another thread was first; returns the view kept. */
static struct view *view_keep(struct index *x, int64_t id, struct view *v)
{
    struct view *expected = NULL;
    if (atomic_compare_exchange_strong(&x->views[id], &expected, v))
        return v;
    free(v);
    return expected;
}

static struct index *index_get(struct profile_cache *c)
{
    pthread_rwlock_rdlock(&c->lock);
    struct index *x = c->current;
    atomic_fetch_add(&x->refs, 1);
    pthread_rwlock_unlock(&c->lock);
    return x;
}

int profile_cache_find(struct profile_cache *c, const char *type, const char *value,
                       int64_t *profile_id)
{
    char k[KEY_MAX];
    size_t n = key_make(k, type, value);
    if (!n)
        return ERR_NOTFOUND;
    struct index *x = index_get(c);
    *profile_id = index_find(x, k, n);
    index_release(x);
    return *profile_id ? 0 : ERR_NOTFOUND;
}

int profile_cache_view(struct profile_cache *c, int64_t id, char **body, size_t *len, struct err *e)
{
    struct index *x = index_get(c);
    int64_t live = id, hops = 0;
    int rc = 0;
    while (live > 0 && live <= x->max_id && x->into[live] > 0 && hops++ < 64)
        live = x->into[live];
    if (live <= 0 || live > x->max_id || x->into[live] != 0) {
        rc = err_set(e, ERR_NOTFOUND, "no profile %" PRId64 " (run custos resolve?)", id);
        goto out;
    }
    struct view *v = atomic_load(&x->views[live]);
    if (v) {
        atomic_fetch_add(&c->hits, 1);
    } else {
        atomic_fetch_add(&c->misses, 1);
        pthread_mutex_lock(&c->miss_lock);
        rc = view_render(c, c->st_miss, live, &v, e);
        pthread_mutex_unlock(&c->miss_lock);
        if (rc)
            goto out;
        v = view_keep(x, live, v);
    }
    char extra[64] = "";
    if (live != id)
        snprintf(extra, sizeof(extra), ",\"redirected_from\":%" PRId64, id);
    size_t n = strlen(extra);
    char *b = malloc(v->len + n + 1);
    if (!b) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(b, v->body, v->id_end);
    memcpy(b + v->id_end, extra, n);
    memcpy(b + v->id_end + n, v->body + v->id_end, v->len - v->id_end + 1);
    *body = b;
    *len = v->len + n;
out:
    index_release(x);
    return rc;
}

/* ---- API keys ---- */

struct keyset {
    struct key *keys;
    size_t nkeys;
};

static int key_add(const struct api_key *k, void *ctx)
{
    struct keyset *tmp = ctx;
    void *p = realloc(tmp->keys, (tmp->nkeys + 1) * sizeof(*tmp->keys));
    if (!p)
        return ERR_NOMEM;
    tmp->keys = p;
    struct key *d = &tmp->keys[tmp->nkeys++];
    memset(d, 0, sizeof(*d));
    memcpy(d->hash, k->key_hash, 32);
    d->id = k->id;
    d->created_at = k->created_at;
    d->expires_at = k->expires_at;
    d->revoked_at = k->revoked_at;
    snprintf(d->role, sizeof(d->role), "%s", k->role);
    snprintf(d->hint, sizeof(d->hint), "%s", k->key_hint ? k->key_hint : "");
    return 0;
}

static int keys_load(struct profile_cache *c, struct err *e)
{
    struct keyset tmp = {0};
    int rc = c->st->ops->api_key_list(c->st, key_add, &tmp, e);
    if (rc) {
        free(tmp.keys);
        return rc == ERR_NOMEM ? err_set(e, ERR_NOMEM, "out of memory") : rc;
    }
    pthread_rwlock_wrlock(&c->keys_lock);
    struct key *old = c->keys;
    c->keys = tmp.keys;
    c->nkeys = tmp.nkeys;
    pthread_rwlock_unlock(&c->keys_lock);
    free(old);
    return 0;
}

/* api_key_lookup_fn over the keys in memory; call with keys_lock held for reading. */
static int keys_lookup(void *ctx, const unsigned char hash[32], store_api_key_cb cb, void *cb_ctx,
                       struct err *e)
{
    (void)e;
    struct profile_cache *c = ctx;
    for (size_t i = 0; i < c->nkeys; i++) {
        const struct key *k = &c->keys[i];
        if (sodium_memcmp(k->hash, hash, 32) != 0)
            continue;
        struct api_key a = {.id = k->id,
                            .role = k->role,
                            .key_hint = k->hint,
                            .created_at = k->created_at,
                            .expires_at = k->expires_at,
                            .revoked_at = k->revoked_at,
                            .key_hash = k->hash};
        return cb(&a, cb_ctx);
    }
    return 0;
}

int profile_cache_authenticate(struct profile_cache *c, const char *authorization,
                               struct api_key_identity *who, struct err *e)
{
    pthread_rwlock_rdlock(&c->keys_lock);
    int rc = api_key_check(authorization, keys_lookup, c, who, e);
    pthread_rwlock_unlock(&c->keys_lock);
    return rc;
}

/* ---- the refresh thread ---- */

static bool stopping(struct profile_cache *c)
{
    pthread_mutex_lock(&c->stop_lock);
    bool s = c->stopping;
    pthread_mutex_unlock(&c->stop_lock);
    return s;
}

/* Renders the view of profile id of x unless it is merged away or already there. */
static void prewarm_one(struct profile_cache *c, struct index *x, int64_t id)
{
    if (x->into[id] != 0 || atomic_load(&x->views[id]))
        return;
    struct view *v;
    struct err e = {0};
    if (view_render(c, c->st, id, &v, &e)) {
        log_warn("profile cache: cannot render profile %" PRId64 ": %s", id, e.msg);
        return;
    }
    view_keep(x, id, v);
    atomic_fetch_add(&c->prewarmed, 1);
}

/* Builds a new index if the identity stamp moved; returns the new one (with a
 * reference for the caller) or NULL. */
static struct index *refresh(struct profile_cache *c)
{
    struct err e = {0};
    int64_t version = 0, stamp[STORE_STAMP_N];
    if (c->st->ops->data_version(c->st, &version, &e)) {
        log_warn("profile cache: cannot poll the store: %s", e.msg);
        return NULL;
    }
    if (version == c->data_version)
        return NULL;
    c->data_version = version;
    if (keys_load(c, &e))
        log_warn("profile cache: cannot reload the API keys: %s", e.msg);
    if (c->st->ops->identity_stamp(c->st, stamp, &e)) {
        log_warn("profile cache: cannot poll the store: %s", e.msg);
        return NULL;
    }
    pthread_rwlock_rdlock(&c->lock);
    bool same = memcmp(stamp, c->current->stamp, sizeof(stamp)) == 0;
    pthread_rwlock_unlock(&c->lock);
    if (same)
        return NULL;
    /* A resolution committed (not merely a write: every audited read writes). */
    c->changed_at = time_now_ms();
    int64_t t0 = c->changed_at, pause = c->build_cost_ms * BUILD_PACE;
    if (t0 - c->built_at < (pause < BUILD_MAX_WAIT_MS ? pause : BUILD_MAX_WAIT_MS)) {
        c->data_version = -1; /* not yet: look again at the next poll */
        return NULL;
    }
    struct index *x;
    if (index_build(c->st, &x, &e)) {
        log_warn("profile cache: cannot rebuild the index (old one kept): %s", e.msg);
        c->data_version = -1; /* try again at the next poll */
        return NULL;
    }
    atomic_fetch_add(&x->refs, 1); /* the caller's */
    pthread_rwlock_wrlock(&c->lock);
    struct index *old = c->current;
    c->current = x;
    pthread_rwlock_unlock(&c->lock);
    index_release(old);
    atomic_fetch_add(&c->builds, 1);
    c->built_at = time_now_ms();
    c->build_cost_ms = c->built_at - t0;
    atomic_store(&c->build_ms, (unsigned long long)c->build_cost_ms);
    log_info("profile cache: index rebuilt: %" PRId64 " profiles, %zu identifiers in %" PRId64
             " ms",
             x->live, x->nidents, time_now_ms() - t0);
    return x;
}

/* Waits PROFILE_CACHE_POLL_MS or until stopped; returns whether stopping. */
static bool nap(struct profile_cache *c)
{
    pthread_mutex_lock(&c->stop_lock);
    if (!c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PROFILE_CACHE_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&c->stop_cond, &c->stop_lock, &until);
    }
    bool stop = c->stopping;
    pthread_mutex_unlock(&c->stop_lock);
    return stop;
}

/* Prewarms the current index one view at a time, polling the store between views
 * every PROFILE_CACHE_POLL_MS (so a resolution is seen while a long prewarm runs: it
 * is abandoned for the new index), and only polls once every view is there. */
static void *refresh_main(void *arg)
{
    struct profile_cache *c = arg;
    pthread_setname_np(pthread_self(), "profile-cache"); /* for top -H, perf, gdb */
    struct index *x = index_get(c);                      /* being prewarmed; NULL when done */
    int64_t id = 1, polled = time_now_ms();
    for (;;) {
        if (x && id <= x->max_id && time_now_ms() - c->changed_at >= PREWARM_QUIET_MS) {
            prewarm_one(c, x, id++);
            if ((id & 63) == 0 && stopping(c))
                break;
            if (time_now_ms() - polled < PROFILE_CACHE_POLL_MS)
                continue;
        } else {
            if (x && id > x->max_id) {
                index_release(x);
                x = NULL;
            }
            if (nap(c))
                break;
        }
        polled = time_now_ms();
        struct index *y = refresh(c);
        if (y) {
            index_release(x);
            x = y;
            id = 1;
        }
    }
    index_release(x);
    return NULL;
}

/* ---- life cycle ---- */

int profile_cache_new(const char *db, const struct survivorship *surv, int recent_events,
                      struct profile_cache **out, struct err *e)
{
    struct profile_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->surv = *surv;
    c->recent_events = recent_events;
    pthread_mutex_init(&c->miss_lock, NULL);
    pthread_rwlock_init(&c->lock, NULL);
    pthread_rwlock_init(&c->keys_lock, NULL);
    pthread_mutex_init(&c->stop_lock, NULL);
    pthread_cond_init(&c->stop_cond, NULL);
    struct store_options opt = {.read_only = true};
    int rc = store_open(db, &opt, &c->st, e);
    if (!rc)
        rc = store_open(db, &opt, &c->st_miss, e);
    if (!rc)
        rc = c->st->ops->data_version(c->st, &c->data_version, e);
    if (!rc)
        rc = keys_load(c, e);
    if (!rc)
        rc = index_build(c->st, &c->current, e);
    if (!rc && pthread_create(&c->thread, NULL, refresh_main, c))
        rc = err_set(e, ERR_NOMEM, "cannot start the profile cache's thread");
    if (rc) {
        profile_cache_free(c);
        return rc;
    }
    c->started = true;
    log_info("profile cache: %" PRId64 " profiles, %zu identifiers in memory", c->current->live,
             c->current->nidents);
    *out = c;
    return 0;
}

void profile_cache_free(struct profile_cache *c)
{
    if (!c)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->stop_lock);
        c->stopping = true;
        pthread_cond_signal(&c->stop_cond);
        pthread_mutex_unlock(&c->stop_lock);
        pthread_join(c->thread, NULL);
    }
    index_release(c->current);
    store_close(c->st);
    store_close(c->st_miss);
    free(c->keys);
    pthread_mutex_destroy(&c->miss_lock);
    pthread_rwlock_destroy(&c->lock);
    pthread_rwlock_destroy(&c->keys_lock);
    pthread_mutex_destroy(&c->stop_lock);
    pthread_cond_destroy(&c->stop_cond);
    free(c);
}

void profile_cache_metrics(struct profile_cache *c, struct textbuf *b)
{
    struct index *x = index_get(c);
    textbuf_printf(b,
                   "# HELP custos_profile_cache_profiles Live profiles in the in-memory index.\n"
                   "# TYPE custos_profile_cache_profiles gauge\n"
                   "custos_profile_cache_profiles %" PRId64 "\n"
                   "# HELP custos_profile_cache_identifiers Identifiers in the in-memory index.\n"
                   "# TYPE custos_profile_cache_identifiers gauge\n"
                   "custos_profile_cache_identifiers %zu\n",
                   x->live, x->nidents);
    index_release(x);
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"custos_profile_cache_hits_total", "Profile views answered from memory.",
         offsetof(struct profile_cache, hits)},
        {"custos_profile_cache_misses_total",
         "Profile views rendered at request time (not yet in memory after a rebuild).",
         offsetof(struct profile_cache, misses)},
        {"custos_profile_cache_builds_total", "Index rebuilds after a resolution committed.",
         offsetof(struct profile_cache, builds)},
        {"custos_profile_cache_prewarmed_total", "Views rendered ahead of requests.",
         offsetof(struct profile_cache, prewarmed)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
        textbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
                       counters[i].help, counters[i].name, counters[i].name,
                       atomic_load((atomic_ullong *)((char *)c + counters[i].off)));
    textbuf_printf(b,
                   "# HELP custos_profile_cache_build_ms Milliseconds the last rebuild took.\n"
                   "# TYPE custos_profile_cache_build_ms gauge\n"
                   "custos_profile_cache_build_ms %llu\n",
                   atomic_load(&c->build_ms));
}
