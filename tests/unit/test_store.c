/* test_store.c - the SQLite store: a new file gets its migrations; sources (unique names
 * and keys, lookups, plans, the version that tells caches to reload); events appended
 * and scanned with every filter; the quarantine, whose raw bytes may be anything;
 * seen_scan; transactions; everything survives reopening; errors for paths that
 * cannot be opened. Each test works in a fresh temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <dirent.h>
#include <unistd.h>

#include "store/store.h"

/* The embedded migrations (build/<build>/gen/migrations.c, from src/store/migrations/). */
struct migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct migration store_migrations[];
extern const size_t store_migrations_count;

static int latest_version(void)
{
    assert_true(store_migrations_count > 0);
    return store_migrations[store_migrations_count - 1].version;
}

struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/custos.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *de;
        char p[400];
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct store *open_store(const char *path)
{
    struct store_options opt = {.synchronous_full = true};
    struct store *st = NULL;
    struct err e = {0};
    if (store_open(path, &opt, &st, &e))
        fail_msg("store_open %s: %s", path, e.msg);
    assert_non_null(st);
    return st;
}

static void reopen(struct fixture *f)
{
    store_close(f->st);
    f->st = open_store(f->path);
}

/* PRAGMA user_version of the file, read with SQLite directly. */
static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void key_hash(unsigned char out[32], int n)
{
    for (int k = 0; k < 32; k++)
        out[k] = (unsigned char)(n * 31 + k);
}

/* ---- sources ------------------------------------------------------------------- */

#define MAX_SOURCES 8

struct source_copy {
    int64_t id, created_at, updated_at;
    char name[64], hint[32], plan[256];
    bool has_plan;
    unsigned char key_hash[32];
};

struct source_list {
    size_t n;
    struct source_copy s[MAX_SOURCES];
};

static int collect_source(const struct source *s, void *ctx)
{
    struct source_list *l = ctx;
    if (l->n == MAX_SOURCES)
        return ERR_LIMIT;
    struct source_copy *c = &l->s[l->n++];
    c->id = s->id;
    c->created_at = s->created_at;
    c->updated_at = s->updated_at;
    snprintf(c->name, sizeof(c->name), "%s", s->name);
    snprintf(c->hint, sizeof(c->hint), "%s", s->key_hint);
    c->has_plan = s->plan != NULL;
    snprintf(c->plan, sizeof(c->plan), "%s", s->plan ? s->plan : "");
    memcpy(c->key_hash, s->key_hash, 32);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_new_file_is_migrated(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    assert_string_equal(f->st->ops->name, "sqlite");
    assert_int_equal(access(f->path, F_OK), 0);
    assert_int_equal(user_version(f->path), latest_version());
    struct err e = {0};
    int64_t n = -1, v = -1;
    assert_int_equal(f->st->ops->event_count(f->st, 0, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(f->st->ops->sources_version(f->st, &v, &e), 0);
    assert_int_equal(v, 0);
    /* The tables of the first migration are there. */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                        "AND name IN ('sources', 'events', 'quarantine')",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 3);
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* Reopening applies nothing twice (a second CREATE TABLE would fail). */
    reopen(f);
    assert_int_equal(user_version(f->path), latest_version());
}

static void test_sources(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    unsigned char h1[32], h2[32], h3[32];
    key_hash(h1, 1);
    key_hash(h2, 2);
    key_hash(h3, 3);
    int64_t before = now_ms(), web = 0, app = 0;
    assert_int_equal(ops->source_add(f->st, "web", h1, "ck_web", NULL, &web, &e), 0);
    assert_int_equal(ops->source_add(f->st, "app", h2, "ck_app", "{\"events\":{}}", &app, &e), 0);
    int64_t after = now_ms();
    assert_true(web > 0 && app > web);

    /* Names and keys are unique. */
    e = (struct err){0};
    assert_int_equal(ops->source_add(f->st, "web", h3, "ck_x", NULL, NULL, &e), ERR_EXISTS);
    assert_true(strstr(e.msg, "web") != NULL);
    e = (struct err){0};
    assert_int_equal(ops->source_add(f->st, "other", h1, "ck_x", NULL, NULL, &e), ERR_EXISTS);
    assert_true(e.msg[0] != 0);

    struct source_list l = {0};
    assert_int_equal(ops->source_by_key(f->st, h2, collect_source, &l, &e), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.s[0].id, app);
    assert_string_equal(l.s[0].name, "app");
    assert_string_equal(l.s[0].hint, "ck_app");
    assert_true(l.s[0].has_plan);
    assert_string_equal(l.s[0].plan, "{\"events\":{}}");
    assert_memory_equal(l.s[0].key_hash, h2, 32);
    assert_true(l.s[0].created_at >= before && l.s[0].created_at <= after);
    assert_true(l.s[0].updated_at == l.s[0].created_at);

    l.n = 0;
    assert_int_equal(ops->source_by_key(f->st, h3, collect_source, &l, &e), 0);
    assert_int_equal(l.n, 0); /* unknown key: no row, no error */

    l.n = 0;
    assert_int_equal(ops->source_by_name(f->st, "web", collect_source, &l, &e), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.s[0].id, web);
    assert_false(l.s[0].has_plan);
    assert_memory_equal(l.s[0].key_hash, h1, 32);
    l.n = 0;
    assert_int_equal(ops->source_by_name(f->st, "WEB", collect_source, &l, &e), 0);
    assert_int_equal(l.n, 0);

    l.n = 0;
    assert_int_equal(ops->source_list(f->st, collect_source, &l, &e), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.s[0].name, "web"); /* in id order */
    assert_string_equal(l.s[1].name, "app");

    /* A callback's error stops the scan and is returned. */
    static struct source_list full = {.n = MAX_SOURCES};
    assert_int_equal(ops->source_list(f->st, collect_source, &full, &e), ERR_LIMIT);
}

static void test_set_plan_changes_version(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    unsigned char h[32];
    key_hash(h, 1);
    int64_t v0, v1, v2, v3, v4;
    assert_int_equal(ops->sources_version(f->st, &v0, &e), 0);
    assert_int_equal(ops->source_add(f->st, "web", h, "ck", NULL, NULL, &e), 0);
    assert_int_equal(ops->sources_version(f->st, &v1, &e), 0);
    assert_true(v1 != v0);
    assert_int_equal(ops->source_set_plan(f->st, "web", "{\"a\":1}", &e), 0);
    assert_int_equal(ops->sources_version(f->st, &v2, &e), 0);
    assert_true(v2 != v1);
    /* Each change changes it, even within one millisecond: 50 changes in one
     * transaction (no fsync in between) are sure to share milliseconds. */
    assert_int_equal(ops->begin(f->st, &e), 0);
    int64_t prev = v2;
    for (int k = 0; k < 50; k++) {
        char plan[32];
        snprintf(plan, sizeof(plan), "{\"a\":%d}", k);
        assert_int_equal(ops->source_set_plan(f->st, "web", plan, &e), 0);
        assert_int_equal(ops->sources_version(f->st, &v3, &e), 0);
        if (v3 == prev)
            fail_msg("change %d left the sources version at %" PRId64, k, v3);
        prev = v3;
    }
    assert_int_equal(ops->source_set_plan(f->st, "web", "{\"a\":3}", &e), 0);
    assert_int_equal(ops->commit(f->st, &e), 0);
    assert_int_equal(ops->sources_version(f->st, &v3, &e), 0);
    assert_true(v3 != prev);
    struct source_list l = {0};
    assert_int_equal(ops->source_by_name(f->st, "web", collect_source, &l, &e), 0);
    assert_string_equal(l.s[0].plan, "{\"a\":3}");
    assert_true(l.s[0].updated_at > l.s[0].created_at);
    /* NULL removes the plan. */
    assert_int_equal(ops->source_set_plan(f->st, "web", NULL, &e), 0);
    assert_int_equal(ops->sources_version(f->st, &v4, &e), 0);
    assert_true(v4 != v3);
    l.n = 0;
    assert_int_equal(ops->source_by_name(f->st, "web", collect_source, &l, &e), 0);
    assert_false(l.s[0].has_plan);
    /* An unknown source. */
    e = (struct err){0};
    assert_int_equal(ops->source_set_plan(f->st, "nope", "{}", &e), ERR_NOTFOUND);
    assert_true(strstr(e.msg, "nope") != NULL);
}

static void test_set_plan_version_across_sources(void **state)
{
    /* Every plan change moves the version, whichever source it is on: the source cache
     * (src/ingest/sources.c) reloads only when the version changes. A version built on
     * max(updated_at) would stay put when another source was changed in the same
     * millisecond; alternating changes of two sources inside one transaction share
     * milliseconds. */
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    unsigned char ha[32], hb[32];
    key_hash(ha, 1);
    key_hash(hb, 2);
    assert_int_equal(ops->source_add(f->st, "web", ha, "ck_a", NULL, NULL, &e), 0);
    assert_int_equal(ops->source_add(f->st, "app", hb, "ck_b", NULL, NULL, &e), 0);
    int64_t prev = 0, v = 0;
    assert_int_equal(ops->sources_version(f->st, &prev, &e), 0);
    assert_int_equal(ops->begin(f->st, &e), 0);
    int unchanged = -1;
    for (int k = 0; k < 50 && unchanged < 0; k++) {
        char plan[32];
        snprintf(plan, sizeof(plan), "{\"k\":%d}", k);
        assert_int_equal(ops->source_set_plan(f->st, k % 2 ? "app" : "web", plan, &e), 0);
        assert_int_equal(ops->sources_version(f->st, &v, &e), 0);
        if (v == prev)
            unchanged = k;
        prev = v;
    }
    assert_int_equal(ops->commit(f->st, &e), 0);
    if (unchanged >= 0)
        print_error("the plan change %d (of source %s) left the sources version at %" PRId64 "\n",
                    unchanged, unchanged % 2 ? "app" : "web", prev);
    assert_int_equal(unchanged, -1);
}

/* ---- events -------------------------------------------------------------------- */

#define MAX_ROWS 64

struct event_copy {
    int64_t id, source_id, timestamp, received_at, sent_at;
    int flags;
    char type[16], event[64], user_id[64], anonymous_id[64], message_id[64];
    bool has_event, has_user, has_anon;
    char raw[256];
    size_t raw_len;
};

struct event_list {
    size_t n;
    struct event_copy r[MAX_ROWS];
};

static int collect_event(const struct event_row *r, void *ctx)
{
    struct event_list *l = ctx;
    if (l->n == MAX_ROWS)
        return ERR_LIMIT;
    struct event_copy *c = &l->r[l->n++];
    c->id = r->id;
    c->source_id = r->source_id;
    c->timestamp = r->timestamp;
    c->received_at = r->received_at;
    c->sent_at = r->sent_at;
    c->flags = r->flags;
    snprintf(c->type, sizeof(c->type), "%s", r->type);
    c->has_event = r->event != NULL;
    c->has_user = r->user_id != NULL;
    c->has_anon = r->anonymous_id != NULL;
    snprintf(c->event, sizeof(c->event), "%s", r->event ? r->event : "");
    snprintf(c->user_id, sizeof(c->user_id), "%s", r->user_id ? r->user_id : "");
    snprintf(c->anonymous_id, sizeof(c->anonymous_id), "%s",
             r->anonymous_id ? r->anonymous_id : "");
    snprintf(c->message_id, sizeof(c->message_id), "%s", r->message_id);
    assert_true(r->raw_len < sizeof(c->raw));
    memcpy(c->raw, r->raw, r->raw_len);
    c->raw_len = r->raw_len;
    return 0;
}

/* Appends event k of source src: message "m-<k>", raw {"k":k}. */
static int64_t append_event(struct store *st, int64_t src, int k)
{
    char mid[32], raw[64], uid[32];
    snprintf(mid, sizeof(mid), "m-%d", k);
    snprintf(uid, sizeof(uid), "u-%d", k);
    int n = snprintf(raw, sizeof(raw), "{\"k\":%d,\"note\":\"caf\xc3\xa9\"}", k);
    struct event_row r = {
        .source_id = src,
        .type = k % 2 ? "track" : "identify",
        .event = k % 2 ? "Order Completed" : NULL,
        .user_id = k % 3 ? uid : NULL,
        .anonymous_id = k % 3 ? NULL : "anon",
        .message_id = mid,
        .timestamp = 1000000 + k,
        .received_at = 2000000 + k,
        .sent_at = k % 4 ? 3000000 + k : STORE_NULL_TIME,
        .flags = k % 5 == 0,
        .raw = raw,
        .raw_len = (size_t)n,
    };
    struct err e = {0};
    if (st->ops->event_append(st, &r, &e))
        fail_msg("event_append: %s", e.msg);
    assert_true(r.id > 0);
    return r.id;
}

static void check_event(const struct event_copy *c, int64_t src, int k)
{
    char want[64];
    assert_int_equal(c->source_id, src);
    assert_string_equal(c->type, k % 2 ? "track" : "identify");
    assert_int_equal(c->has_event, k % 2 != 0);
    if (k % 2)
        assert_string_equal(c->event, "Order Completed");
    assert_int_equal(c->has_user, k % 3 != 0);
    assert_int_equal(c->has_anon, k % 3 == 0);
    snprintf(want, sizeof(want), "m-%d", k);
    assert_string_equal(c->message_id, want);
    assert_int_equal(c->timestamp, 1000000 + k);
    assert_int_equal(c->received_at, 2000000 + k);
    assert_true(c->sent_at == (k % 4 ? 3000000 + k : STORE_NULL_TIME));
    assert_int_equal(c->flags, k % 5 == 0);
    int n = snprintf(want, sizeof(want), "{\"k\":%d,\"note\":\"caf\xc3\xa9\"}", k);
    assert_int_equal(c->raw_len, n);
    assert_memory_equal(c->raw, want, (size_t)n);
}

/* Events 0..19: even k on source 1, odd k on source 2; ids[k] is each one's id. */
static void append_twenty(struct store *st, int64_t ids[20])
{
    for (int k = 0; k < 20; k++)
        ids[k] = append_event(st, k % 2 ? 2 : 1, k);
    for (int k = 1; k < 20; k++)
        assert_true(ids[k] > ids[k - 1]);
}

static struct event_list *scan(struct store *st, struct event_filter flt)
{
    static struct event_list l;
    memset(&l, 0, sizeof(l));
    struct err e = {0};
    if (st->ops->event_scan(st, &flt, collect_event, &l, &e))
        fail_msg("event_scan: %s", e.msg);
    for (size_t k = 1; k < l.n; k++)
        assert_true(l.r[k].id > l.r[k - 1].id); /* always ascending */
    return &l;
}

static void test_events(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    int64_t ids[20];
    append_twenty(f->st, ids);
    struct err e = {0};

    struct event_list *l = scan(f->st, (struct event_filter){0});
    assert_int_equal(l->n, 20);
    for (int k = 0; k < 20; k++) {
        assert_int_equal(l->r[k].id, ids[k]);
        check_event(&l->r[k], k % 2 ? 2 : 1, k);
    }

    l = scan(f->st, (struct event_filter){.source_id = 2});
    assert_int_equal(l->n, 10);
    for (int k = 0; k < 10; k++)
        check_event(&l->r[k], 2, 2 * k + 1);

    l = scan(f->st, (struct event_filter){.after_id = ids[14]});
    assert_int_equal(l->n, 5);
    assert_int_equal(l->r[0].id, ids[15]);

    l = scan(f->st, (struct event_filter){.source_id = 1, .after_id = ids[14]});
    assert_int_equal(l->n, 2);
    assert_int_equal(l->r[0].id, ids[16]);
    assert_int_equal(l->r[1].id, ids[18]);

    l = scan(f->st, (struct event_filter){.limit = 3});
    assert_int_equal(l->n, 3);
    assert_int_equal(l->r[0].id, ids[0]); /* the first 3 */
    assert_int_equal(l->r[2].id, ids[2]);

    l = scan(f->st, (struct event_filter){.limit = 3, .newest_first = true});
    assert_int_equal(l->n, 3);
    assert_int_equal(l->r[0].id, ids[17]); /* the last 3, ascending */
    assert_int_equal(l->r[1].id, ids[18]);
    assert_int_equal(l->r[2].id, ids[19]);
    check_event(&l->r[2], 2, 19);

    l = scan(f->st, (struct event_filter){.source_id = 1, .limit = 2, .newest_first = true});
    assert_int_equal(l->n, 2);
    assert_int_equal(l->r[0].id, ids[16]);
    assert_int_equal(l->r[1].id, ids[18]);

    l = scan(f->st, (struct event_filter){.after_id = ids[9], .limit = 100, .newest_first = true});
    assert_int_equal(l->n, 10); /* fewer than the limit */
    assert_int_equal(l->r[0].id, ids[10]);

    l = scan(f->st, (struct event_filter){.newest_first = true}); /* no limit: all */
    assert_int_equal(l->n, 20);
    assert_int_equal(l->r[0].id, ids[0]);

    l = scan(f->st, (struct event_filter){.source_id = 3});
    assert_int_equal(l->n, 0);
    l = scan(f->st, (struct event_filter){.after_id = ids[19]});
    assert_int_equal(l->n, 0);

    int64_t n = -1;
    assert_int_equal(f->st->ops->event_count(f->st, 0, &n, &e), 0);
    assert_int_equal(n, 20);
    assert_int_equal(f->st->ops->event_count(f->st, 1, &n, &e), 0);
    assert_int_equal(n, 10);
    assert_int_equal(f->st->ops->event_count(f->st, 3, &n, &e), 0);
    assert_int_equal(n, 0);

    /* A callback's error stops the scan and is returned. */
    static struct event_list full;
    full.n = MAX_ROWS;
    struct event_filter all = {0};
    assert_int_equal(f->st->ops->event_scan(f->st, &all, collect_event, &full, &e), ERR_LIMIT);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    int64_t n = -1;
    assert_int_equal(ops->begin(f->st, &e), 0);
    append_event(f->st, 1, 1);
    append_event(f->st, 1, 2);
    ops->rollback(f->st);
    assert_int_equal(ops->event_count(f->st, 0, &n, &e), 0);
    assert_int_equal(n, 0);
    ops->rollback(f->st); /* outside a transaction: harmless */
    assert_int_equal(ops->begin(f->st, &e), 0);
    append_event(f->st, 1, 3);
    assert_int_equal(ops->commit(f->st, &e), 0);
    reopen(f);
    assert_int_equal(f->st->ops->event_count(f->st, 0, &n, &e), 0);
    assert_int_equal(n, 1);
    /* A constraint failure (type is NOT NULL) is an error and appends nothing. */
    struct event_row bad = {.source_id = 1, .message_id = "m", .raw = "{}", .raw_len = 2};
    e = (struct err){0};
    assert_int_not_equal(f->st->ops->event_append(f->st, &bad, &e), 0);
    assert_true(e.msg[0] != 0);
    assert_int_equal(f->st->ops->event_count(f->st, 0, &n, &e), 0);
    assert_int_equal(n, 1);
}

/* ---- quarantine ---------------------------------------------------------------- */

struct quarantine_copy {
    int64_t id, source_id, received_at, timestamp;
    bool has_mid, has_type, has_event;
    char message_id[64], type[16], event[64], reasons[256];
    unsigned char raw[256];
    size_t raw_len;
};

struct quarantine_list {
    size_t n;
    struct quarantine_copy r[MAX_ROWS];
};

static int collect_quarantine(const struct quarantine_row *r, void *ctx)
{
    struct quarantine_list *l = ctx;
    if (l->n == MAX_ROWS)
        return ERR_LIMIT;
    struct quarantine_copy *c = &l->r[l->n++];
    c->id = r->id;
    c->source_id = r->source_id;
    c->received_at = r->received_at;
    c->timestamp = r->timestamp;
    c->has_mid = r->message_id != NULL;
    c->has_type = r->type != NULL;
    c->has_event = r->event != NULL;
    snprintf(c->message_id, sizeof(c->message_id), "%s", r->message_id ? r->message_id : "");
    snprintf(c->type, sizeof(c->type), "%s", r->type ? r->type : "");
    snprintf(c->event, sizeof(c->event), "%s", r->event ? r->event : "");
    snprintf(c->reasons, sizeof(c->reasons), "%s", r->reasons);
    assert_true(r->raw_len <= sizeof(c->raw));
    memcpy(c->raw, r->raw, r->raw_len);
    c->raw_len = r->raw_len;
    return 0;
}

/* Bytes that are not JSON and not UTF-8: NULs, a lone continuation byte, an overlong
 * NUL, a surrogate, 0xFF. */
static const char hostile_raw[] = "{\"userId\":\"u\0x\",\xff\xfe\x80\xc0\x80\xed\xa0\x80\0\0tail\0";
#define HOSTILE_LEN (sizeof(hostile_raw) - 1)

static void test_quarantine(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    static const char reasons[] = "[{\"field\":\"event\",\"code\":\"required\",\"message\":\"x\"}]";
    struct quarantine_row a = {
        .source_id = 1,
        .message_id = "q-1",
        .type = "track",
        .event = "Order Completed",
        .received_at = 5000,
        .timestamp = 4000,
        .reasons = reasons,
        .raw = "{\"userId\":\"u\"}",
        .raw_len = 14,
    };
    struct quarantine_row b = {
        .source_id = 2,
        .received_at = 6000,
        .timestamp = STORE_NULL_TIME,
        .reasons = "[]",
        .raw = hostile_raw,
        .raw_len = HOSTILE_LEN,
    };
    struct quarantine_row c = a;
    c.message_id = "q-3";
    assert_int_equal(ops->quarantine_append(f->st, &a, &e), 0);
    assert_int_equal(ops->quarantine_append(f->st, &b, &e), 0);
    assert_int_equal(ops->quarantine_append(f->st, &c, &e), 0);
    assert_true(a.id > 0 && b.id > a.id && c.id > b.id);

    for (int pass = 0; pass < 2; pass++) { /* before and after reopening */
        struct quarantine_list l = {0};
        assert_int_equal(ops->quarantine_get(f->st, a.id, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.r[0].id, a.id);
        assert_int_equal(l.r[0].source_id, 1);
        assert_string_equal(l.r[0].message_id, "q-1");
        assert_string_equal(l.r[0].type, "track");
        assert_string_equal(l.r[0].event, "Order Completed");
        assert_int_equal(l.r[0].received_at, 5000);
        assert_int_equal(l.r[0].timestamp, 4000);
        assert_string_equal(l.r[0].reasons, reasons);
        assert_int_equal(l.r[0].raw_len, 14);
        assert_memory_equal(l.r[0].raw, "{\"userId\":\"u\"}", 14);

        l.n = 0;
        assert_int_equal(ops->quarantine_get(f->st, b.id, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 1);
        assert_false(l.r[0].has_mid || l.r[0].has_type || l.r[0].has_event);
        assert_true(l.r[0].timestamp == STORE_NULL_TIME);
        assert_string_equal(l.r[0].reasons, "[]");
        assert_int_equal(l.r[0].raw_len, HOSTILE_LEN); /* byte for byte, NULs and all */
        assert_memory_equal(l.r[0].raw, hostile_raw, HOSTILE_LEN);

        l.n = 0;
        assert_int_equal(ops->quarantine_get(f->st, c.id + 100, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 0);

        struct event_filter all = {0};
        l.n = 0;
        assert_int_equal(ops->quarantine_scan(f->st, &all, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.r[1].raw_len, HOSTILE_LEN);
        assert_memory_equal(l.r[1].raw, hostile_raw, HOSTILE_LEN);

        struct event_filter src1 = {.source_id = 1};
        l.n = 0;
        assert_int_equal(ops->quarantine_scan(f->st, &src1, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.r[0].id, a.id);
        assert_int_equal(l.r[1].id, c.id);

        struct event_filter last = {.limit = 1, .newest_first = true};
        l.n = 0;
        assert_int_equal(ops->quarantine_scan(f->st, &last, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.r[0].id, c.id);

        struct event_filter after = {.after_id = a.id, .limit = 1};
        l.n = 0;
        assert_int_equal(ops->quarantine_scan(f->st, &after, collect_quarantine, &l, &e), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.r[0].id, b.id);

        reopen(f);
        ops = f->st->ops;
    }

    assert_int_equal(ops->quarantine_delete(f->st, b.id, &e), 0);
    struct quarantine_list l = {0};
    assert_int_equal(ops->quarantine_get(f->st, b.id, collect_quarantine, &l, &e), 0);
    assert_int_equal(l.n, 0);
    struct event_filter all = {0};
    assert_int_equal(ops->quarantine_scan(f->st, &all, collect_quarantine, &l, &e), 0);
    assert_int_equal(l.n, 2);
    reopen(f);
    l.n = 0;
    assert_int_equal(f->st->ops->quarantine_scan(f->st, &all, collect_quarantine, &l, &e), 0);
    assert_int_equal(l.n, 2);
}

/* ---- seen_scan ----------------------------------------------------------------- */

struct seen_list {
    size_t n;
    char pairs[MAX_ROWS][48];
};

/* Records "source:messageId", with ":q" for one from the quarantine. */
static int collect_seen(int64_t source_id, const char *mid, size_t len, bool quarantined, void *ctx)
{
    struct seen_list *l = ctx;
    assert_true(l->n < MAX_ROWS);
    assert_int_equal(strlen(mid), len);
    snprintf(l->pairs[l->n++], sizeof(l->pairs[0]), "%" PRId64 ":%.*s%s", source_id, (int)len, mid,
             quarantined ? ":q" : "");
    return 0;
}

static int compare_pair(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void expect_pairs(struct seen_list *l, const char *const *want, size_t n)
{
    qsort(l->pairs, l->n, sizeof(l->pairs[0]), compare_pair);
    assert_int_equal(l->n, n);
    for (size_t k = 0; k < n; k++)
        assert_string_equal(l->pairs[k], want[k]);
}

static void test_seen_scan(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    append_event(f->st, 1, 1);
    append_event(f->st, 1, 2);
    append_event(f->st, 2, 1);
    struct quarantine_row q = {.source_id = 1,
                               .message_id = "q-1",
                               .received_at = 1,
                               .reasons = "[]",
                               .raw = "x",
                               .raw_len = 1,
                               .timestamp = STORE_NULL_TIME};
    assert_int_equal(ops->quarantine_append(f->st, &q, &e), 0);
    q.message_id = "m-1"; /* the id of a stored event, quarantined too */
    assert_int_equal(ops->quarantine_append(f->st, &q, &e), 0);
    q.message_id = NULL; /* an unparseable body: no messageId */
    assert_int_equal(ops->quarantine_append(f->st, &q, &e), 0);

    struct seen_list l = {0};
    assert_int_equal(ops->seen_scan(f->st, true, collect_seen, &l, &e), 0);
    static const char *const events_only[] = {"1:m-1", "1:m-2", "2:m-1"};
    expect_pairs(&l, events_only, ARRAY_SIZE(events_only));

    l.n = 0;
    assert_int_equal(ops->seen_scan(f->st, false, collect_seen, &l, &e), 0);
    static const char *const with_quarantine[] = {"1:m-1", "1:m-1:q", "1:m-2", "1:q-1:q", "2:m-1"};
    expect_pairs(&l, with_quarantine, ARRAY_SIZE(with_quarantine));
}

/* ---- opening ------------------------------------------------------------------- */

static void test_reopen_keeps_everything(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    struct err e = {0};
    unsigned char h[32];
    key_hash(h, 9);
    int64_t src = 0, ids[20], version = 0;
    assert_int_equal(f->st->ops->source_add(f->st, "web", h, "ck", "{\"p\":1}", &src, &e), 0);
    assert_int_equal(f->st->ops->sources_version(f->st, &version, &e), 0);
    append_twenty(f->st, ids);
    struct quarantine_row q = {.source_id = src,
                               .message_id = "q",
                               .received_at = 1,
                               .reasons = "[]",
                               .raw = hostile_raw,
                               .raw_len = HOSTILE_LEN,
                               .timestamp = STORE_NULL_TIME};
    assert_int_equal(f->st->ops->quarantine_append(f->st, &q, &e), 0);

    reopen(f);
    int64_t n = 0, v = 0;
    assert_int_equal(f->st->ops->event_count(f->st, 0, &n, &e), 0);
    assert_int_equal(n, 20);
    struct event_list *l = scan(f->st, (struct event_filter){0});
    for (int k = 0; k < 20; k++) {
        assert_int_equal(l->r[k].id, ids[k]);
        check_event(&l->r[k], k % 2 ? 2 : 1, k);
    }
    struct source_list sl = {0};
    assert_int_equal(f->st->ops->source_by_key(f->st, h, collect_source, &sl, &e), 0);
    assert_int_equal(sl.n, 1);
    assert_int_equal(sl.s[0].id, src);
    assert_string_equal(sl.s[0].plan, "{\"p\":1}");
    assert_int_equal(f->st->ops->sources_version(f->st, &v, &e), 0);
    assert_int_equal(v, version);
    struct quarantine_list ql = {0};
    assert_int_equal(f->st->ops->quarantine_get(f->st, q.id, collect_quarantine, &ql, &e), 0);
    assert_int_equal(ql.n, 1);
    assert_memory_equal(ql.r[0].raw, hostile_raw, HOSTILE_LEN);
    /* New rows continue after the old ones. */
    assert_true(append_event(f->st, 1, 99) > ids[19]);
    assert_int_equal(user_version(f->path), latest_version());
}

static void test_read_only(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    append_event(f->st, 1, 1);
    struct store_options ro = {.read_only = true};
    struct store *r = NULL;
    struct err e = {0};
    assert_int_equal(store_open(f->path, &ro, &r, &e), 0);
    int64_t n = 0;
    assert_int_equal(r->ops->event_count(r, 0, &n, &e), 0);
    assert_int_equal(n, 1);
    struct event_row row = {
        .source_id = 1, .type = "track", .message_id = "m", .raw = "{}", .raw_len = 2};
    e = (struct err){0};
    assert_int_equal(r->ops->event_append(r, &row, &e), ERR_STORE);
    assert_true(e.msg[0] != 0);
    store_close(r);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/no-such-dir/custos.db", f->dir);
    struct store *st = NULL;
    struct err e = {0};
    assert_int_equal(store_open(path, NULL, &st, &e), ERR_STORE);
    assert_null(st);
    assert_int_equal(e.code, ERR_STORE);
    assert_true(strstr(e.msg, path) != NULL);
    assert_int_not_equal(access(path, F_OK), 0);

    /* A file that is not a database. */
    char junk[160];
    snprintf(junk, sizeof(junk), "%s/junk.db", f->dir);
    FILE *j = fopen(junk, "w");
    assert_non_null(j);
    for (int k = 0; k < 100; k++)
        fputs("this is not a SQLite database file\n", j);
    fclose(j);
    e = (struct err){0};
    assert_int_equal(store_open(junk, NULL, &st, &e), ERR_STORE);
    assert_null(st);
    assert_true(e.msg[0] != 0);

    /* A read-only open does not create a file. */
    char absent[160];
    snprintf(absent, sizeof(absent), "%s/absent.db", f->dir);
    struct store_options ro = {.read_only = true};
    e = (struct err){0};
    assert_int_equal(store_open(absent, &ro, &st, &e), ERR_STORE);
    assert_int_not_equal(access(absent, F_OK), 0);

    e = (struct err){0};
    assert_int_equal(store_open("postgres://localhost/custos", NULL, &st, &e), ERR_INVALID);
    assert_true(strstr(e.msg, "PostgreSQL") != NULL);
}

static void test_empty_path_refused(void **state)
{
    (void)state;
    /* SQLite opens "" as a private temporary database, deleted when it is closed:
     * `custos serve --db=` or CUSTOS_DB= (an unset shell variable) would answer 200 to
     * every message and lose all of them at shutdown. It must be refused. */
    struct store *st = NULL;
    struct err e = {0};
    int rc = store_open("", NULL, &st, &e);
    store_close(st);
    assert_int_not_equal(rc, 0);
    assert_null(st);
    assert_true(e.msg[0] != 0);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    store_close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct store *st = NULL;
    struct err e = {0};
    assert_int_equal(store_open(f->path, NULL, &st, &e), ERR_STORE);
    assert_null(st);
    assert_true(strstr(e.msg, "99") != NULL);
}

struct key_seen {
    int n;
    int64_t id, expires_at, revoked_at;
    char role[16], hint[16], name[16];
    unsigned char hash[32];
};

static int key_seen(const struct api_key *k, void *arg)
{
    struct key_seen *c = arg;
    c->n++;
    c->id = k->id;
    c->expires_at = k->expires_at;
    c->revoked_at = k->revoked_at;
    snprintf(c->role, sizeof(c->role), "%s", k->role);
    snprintf(c->hint, sizeof(c->hint), "%s", k->key_hint ? k->key_hint : "");
    snprintf(c->name, sizeof(c->name), "%s", k->name ? k->name : "(null)");
    memcpy(c->hash, k->key_hash, 32);
    return 0;
}

static void test_api_keys(void **state)
{
    struct fixture *f = *state;
    f->st = open_store(f->path);
    const struct store_ops *ops = f->st->ops;
    struct err e = {0};
    unsigned char h1[32], h2[32], h3[32];
    key_hash(h1, 1);
    key_hash(h2, 2);
    key_hash(h3, 3);
    int64_t a = 0, b = 0;
    assert_int_equal(
        ops->api_key_add(f->st, "dash", "admin", h1, "ck_abcd", 1000, STORE_NULL_TIME, &a, &e), 0);
    assert_int_equal(ops->api_key_add(f->st, NULL, "risk", h2, "ck_efgh", 1000, 5000, &b, &e), 0);
    assert_true(a > 0 && b > a);
    /* A hash is unique. */
    assert_int_equal(ops->api_key_add(f->st, "again", "admin", h1, "ck_x", 1, 2, NULL, &e),
                     ERR_EXISTS);

    struct key_seen c = {0};
    assert_int_equal(ops->api_key_by_hash(f->st, h2, key_seen, &c, &e), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.id, b);
    assert_string_equal(c.role, "risk");
    assert_string_equal(c.name, "(null)");
    assert_int_equal(c.expires_at, 5000);
    assert_int_equal(c.revoked_at, STORE_NULL_TIME);
    assert_memory_equal(c.hash, h2, 32);
    c = (struct key_seen){0};
    assert_int_equal(ops->api_key_by_hash(f->st, h3, key_seen, &c, &e), 0);
    assert_int_equal(c.n, 0);

    /* Revoking keeps the first revocation time; an unknown id is not found. */
    assert_int_equal(ops->api_key_revoke(f->st, a, 7000, &e), 0);
    assert_int_equal(ops->api_key_revoke(f->st, a, 9000, &e), 0);
    assert_int_equal(ops->api_key_revoke(f->st, 999, 9000, &e), ERR_NOTFOUND);
    c = (struct key_seen){0};
    assert_int_equal(ops->api_key_by_hash(f->st, h1, key_seen, &c, &e), 0);
    assert_int_equal(c.revoked_at, 7000);
    assert_int_equal(c.expires_at, STORE_NULL_TIME);
    assert_string_equal(c.name, "dash");
    assert_string_equal(c.hint, "ck_abcd");

    /* The list has both, in id order (the last one seen is the last added). */
    c = (struct key_seen){0};
    assert_int_equal(ops->api_key_list(f->st, key_seen, &c, &e), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.id, b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_new_file_is_migrated),
        T(test_sources),
        T(test_set_plan_changes_version),
        T(test_set_plan_version_across_sources),
        T(test_events),
        T(test_transactions),
        T(test_quarantine),
        T(test_seen_scan),
        T(test_reopen_keeps_everything),
        T(test_read_only),
        T(test_open_errors),
        T(test_empty_path_refused),
        T(test_newer_schema_refused),
        T(test_api_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
