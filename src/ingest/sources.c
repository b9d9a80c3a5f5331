/* sources.c - see sources.h. */
#include <pthread.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "ingest/sources.h"

#define SOURCE_REFRESH_MS      1000 /* how stale the cache may get */
#define SOURCE_MISS_REFRESH_MS 100  /* an unknown key re-reads at most this often */

void source_key_hash(const char *key, size_t len, unsigned char out[32])
{
    static const unsigned char ctx[] = "custos write key v1";
    crypto_generichash(out, 32, (const unsigned char *)key, len, ctx, sizeof(ctx) - 1);
}

int source_name_check(const char *name, struct err *e)
{
    size_t n = strlen(name);
    if (n == 0 || n > SOURCE_NAME_MAX)
        return err_set(e, ERR_INVALID, "a source name has 1 to %d characters", SOURCE_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return err_set(e, ERR_INVALID,
                           "a source name uses only letters, digits, '_', '-' and '.'");
    }
    return 0;
}

int source_plan_load(const char *path, char **text, struct err *e)
{
    int rc = 0;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_IO, "cannot open plan %s: %s", path, strerror(errno));
    buf = malloc(PLAN_MAX_BYTES + 1);
    if (!buf) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(buf, 1, PLAN_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = err_set(e, ERR_IO, "cannot read plan %s", path);
        goto out;
    }
    if (n > PLAN_MAX_BYTES) {
        rc = err_set(e, ERR_LIMIT, "plan %s is larger than %d bytes", path, PLAN_MAX_BYTES);
        goto out;
    }
    buf[n] = 0;
    struct plan *p = NULL;
    struct err pe = {0};
    rc = plan_compile(buf, n, &p, &pe);
    plan_free(p);
    if (rc) {
        err_set(e, rc, "plan %s: %s", path, pe.msg);
        goto out;
    }
out:
    fclose(f);
    if (rc)
        free(buf);
    else
        *text = buf;
    return rc;
}

int source_create(struct store *st, const char *name, const char *plan, char key[64], struct err *e)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    int rc = source_name_check(name, e);
    if (rc)
        return rc;
    for (int i = 0; i < SOURCE_KEY_CHARS; i++)
        key[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    key[SOURCE_KEY_CHARS] = 0;
    unsigned char hash[32];
    source_key_hash(key, SOURCE_KEY_CHARS, hash);
    char hint[8];
    snprintf(hint, sizeof(hint), "%.4s", key);
    return st->ops->source_add(st, name, hash, hint, plan, NULL, e);
}

struct source_cache {
    pthread_rwlock_t rw;     /* guards entries */
    pthread_mutex_t refresh; /* one refresher at a time; guards st */
    struct store *st;
    struct source_entry **entries;
    size_t n;
    int64_t version;
    _Atomic int64_t checked_at; /* ms of the last version check */
};

void source_release(struct source_entry *en)
{
    if (en && --en->refs == 0) {
        free(en->name);
        plan_free(en->plan);
        free(en);
    }
}

static void entries_free(struct source_entry **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        source_release(v[i]);
    free(v);
}

struct load_ctx {
    struct source_entry **v;
    size_t n, cap;
    struct store *st;
};

static int load_one(const struct source *s, void *arg)
{
    struct load_ctx *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct source_entry **p = realloc(c->v, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        c->v = p;
        c->cap = cap;
    }
    struct source_entry *en = calloc(1, sizeof(*en));
    if (!en)
        return ERR_NOMEM;
    c->v[c->n++] = en;
    en->refs = 1;
    en->id = s->id;
    memcpy(en->key_hash, s->key_hash, 32);
    en->name = strdup(s->name);
    if (!en->name)
        return ERR_NOMEM;
    if (s->plan) {
        struct err pe = {0};
        if (plan_compile(s->plan, strlen(s->plan), &en->plan, &pe))
            log_error("source %s: stored tracking plan does not compile (%s); checking nothing "
                      "until it is replaced",
                      s->name, pe.msg);
    }
    return 0;
}

static int cache_reload(struct source_cache *c, struct err *e)
{
    int64_t version = 0;
    int rc = c->st->ops->sources_version(c->st, &version, e);
    if (rc || version == c->version)
        return rc;
    struct load_ctx lc = {.st = c->st};
    rc = c->st->ops->source_list(c->st, load_one, &lc, e);
    if (rc) {
        entries_free(lc.v, lc.n);
        return rc;
    }
    pthread_rwlock_wrlock(&c->rw);
    struct source_entry **old = c->entries;
    size_t oldn = c->n;
    c->entries = lc.v;
    c->n = lc.n;
    c->version = version;
    pthread_rwlock_unlock(&c->rw);
    entries_free(old, oldn);
    return 0;
}

static void cache_maybe_refresh(struct source_cache *c, int64_t min_age_ms)
{
    int64_t now = time_now_ms();
    if (now - c->checked_at < min_age_ms)
        return;
    if (pthread_mutex_trylock(&c->refresh) != 0)
        return; /* another thread is refreshing */
    if (now - c->checked_at >= min_age_ms) {
        struct err e = {0};
        /* The compiled plans outlive this request: no arena allocations in them. */
        bool arena = json_arena_suspend();
        int rc = cache_reload(c, &e);
        json_arena_resume(arena);
        if (rc)
            log_warn("sources: cannot refresh the source list: %s", e.msg);
        c->checked_at = time_now_ms();
    }
    pthread_mutex_unlock(&c->refresh);
}

int source_cache_new(const char *db, struct source_cache **out, struct err *e)
{
    struct source_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct store_options opt = {.synchronous_full = true};
    int rc = store_open(db, &opt, &c->st, e);
    if (rc) {
        free(c);
        return rc;
    }
    pthread_rwlock_init(&c->rw, NULL);
    pthread_mutex_init(&c->refresh, NULL);
    c->version = -1;
    rc = cache_reload(c, e);
    if (rc) {
        source_cache_free(c);
        return rc;
    }
    c->checked_at = time_now_ms();
    *out = c;
    return 0;
}

void source_cache_free(struct source_cache *c)
{
    if (!c)
        return;
    entries_free(c->entries, c->n);
    store_close(c->st);
    pthread_rwlock_destroy(&c->rw);
    pthread_mutex_destroy(&c->refresh);
    free(c);
}

static struct source_entry *find(struct source_cache *c, const unsigned char h[32])
{
    for (size_t i = 0; i < c->n; i++)
        if (sodium_memcmp(c->entries[i]->key_hash, h, 32) == 0)
            return c->entries[i];
    return NULL;
}

int source_cache_acquire(struct source_cache *c, const char *key, size_t len,
                         struct source_entry **out)
{
    unsigned char h[32];
    source_key_hash(key, len, h);
    cache_maybe_refresh(c, SOURCE_REFRESH_MS);
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_rwlock_rdlock(&c->rw);
        struct source_entry *en = find(c, h);
        if (en)
            en->refs++;
        pthread_rwlock_unlock(&c->rw);
        if (en) {
            *out = en;
            return 0;
        }
        if (attempt == 0)
            cache_maybe_refresh(c, SOURCE_MISS_REFRESH_MS);
    }
    return ERR_AUTH;
}
