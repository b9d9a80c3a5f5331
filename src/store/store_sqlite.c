/* store_sqlite.c - the embedded SQLite backend of store.h.
 *
 * WAL mode, one file. Statements are prepared once per connection. Migrations are
 * embedded (scripts/embed-sql) and applied in one transaction each on open; the
 * schema version is PRAGMA user_version. */
#include <cJSON.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_sqlite_privacy.h"

struct migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct migration store_migrations[];
extern const size_t store_migrations_count;

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SOURCE_ADD,
    ST_SOURCE_SET_PLAN,
    ST_SOURCE_BY_KEY,
    ST_SOURCE_BY_NAME,
    ST_SOURCE_LIST,
    ST_SOURCES_VERSION,
    ST_EVENT_APPEND,
    ST_EVENT_COUNT_ALL,
    ST_EVENT_COUNT_SOURCE,
    ST_EVENT_REPLAYED,
    ST_QUARANTINE_APPEND,
    ST_QUARANTINE_GET,
    ST_QUARANTINE_DELETE,
    ST_RECORD_KEYS,
    ST_RECORD_INSERT,
    ST_RECORD_UPDATE,
    ST_ORDER_UPSERT,
    ST_LINE_TOUCH_OLD,
    ST_LINE_DELETE,
    ST_LINE_INSERT,
    ST_ORDER_TOUCH,
    ST_ORDERS_AGGREGATE,
    ST_ORDERS_DROP_EMPTY,
    ST_TOUCHED_CLEAR,
    ST_ORDER_ADD,
    ST_ORDER_KEYS,
    ST_RECORD_SCAN,
    ST_IDENTIFIER_PUT,
    ST_IDENTIFIER_SCAN,
    ST_MEMBER_PUT,
    ST_PROFILE_PUT,
    ST_PROFILE_SCAN,
    ST_PROFILE_MERGE,
    ST_MERGE_LOG,
    ST_RECORD_SCAN_AFTER,
    ST_IDENTIFIER_PROFILES,
    ST_PROFILE_COUNTS,
    ST_REASSIGN_IDENTIFIERS,
    ST_REASSIGN_MEMBERS,
    ST_CURSOR_GET,
    ST_CURSOR_PUT,
    ST_API_KEY_ADD,
    ST_API_KEY_BY_HASH,
    ST_API_KEY_LIST,
    ST_API_KEY_REVOKE,
    ST_REVIEW_CLEAR,
    ST_REVIEW_PUT,
    ST_REVIEW_DROP_STALE,
    ST_REVIEW_DECIDE,
    ST_CONSTRAINT_ADD,
    ST_CONSTRAINT_SCAN,
    ST_MERGE_UNDO,
    ST_UNMERGE_LOG,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SOURCE_ADD] = "INSERT INTO sources(name, key_hash, key_hint, plan, created_at, "
                      "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    [ST_SOURCE_SET_PLAN] = "UPDATE sources SET plan = ?2, updated_at = max(?3, updated_at + 1) "
                           "WHERE name = ?1",
    [ST_SOURCE_BY_KEY] =
        "SELECT id, name, key_hint, plan, created_at, updated_at, key_hash FROM sources "
        "WHERE key_hash = ?1",
    [ST_SOURCE_BY_NAME] =
        "SELECT id, name, key_hint, plan, created_at, updated_at, key_hash FROM sources "
        "WHERE name = ?1",
    [ST_SOURCE_LIST] =
        "SELECT id, name, key_hint, plan, created_at, updated_at, key_hash FROM sources "
        "ORDER BY id",
    [ST_SOURCES_VERSION] = "SELECT count(*) * 1000003 + coalesce(sum(updated_at), 0) FROM sources",
    [ST_EVENT_APPEND] = "INSERT INTO events(source_id, type, event, user_id, anonymous_id, "
                        "message_id, timestamp, received_at, sent_at, flags, raw) VALUES "
                        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_EVENT_COUNT_ALL] = "SELECT count(*) FROM events",
    [ST_EVENT_COUNT_SOURCE] = "SELECT count(*) FROM events WHERE source_id = ?1",
    [ST_EVENT_REPLAYED] = "SELECT count(*) FROM events WHERE source_id = ?1 AND message_id = ?2 "
                          "AND flags & 2",
    [ST_QUARANTINE_APPEND] = "INSERT INTO quarantine(source_id, message_id, type, event, "
                             "received_at, reasons, raw, timestamp) VALUES (?1, ?2, ?3, ?4, ?5, "
                             "?6, ?7, ?8)",
    [ST_QUARANTINE_GET] = "SELECT id, source_id, message_id, type, event, received_at, reasons, "
                          "raw, timestamp FROM quarantine WHERE id = ?1",
    [ST_QUARANTINE_DELETE] = "DELETE FROM quarantine WHERE id = ?1",
    [ST_RECORD_KEYS] = "SELECT record_key, id, hash FROM records WHERE source_id = ?1",
    [ST_RECORD_INSERT] = "INSERT INTO records(source_id, kind, record_key, file, line, hash, time, "
                         "identifiers, traits, fields, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                         "?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_RECORD_UPDATE] = "UPDATE records SET source_id = ?1, kind = ?2, record_key = ?3, file = "
                         "?4, line = ?5, hash = ?6, time = ?7, identifiers = ?8, traits = ?9, "
                         "fields = ?10, imported_at = ?11 WHERE id = ?12",
    [ST_ORDER_UPSERT] =
        "INSERT INTO orders(source_id, order_id, record_id, time, amount_minor, currency, status, "
        "channel, store) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(source_id, "
        "order_id) DO UPDATE SET record_id = excluded.record_id, time = excluded.time, "
        "amount_minor = excluded.amount_minor, currency = excluded.currency, status = "
        "excluded.status, channel = excluded.channel, store = excluded.store",
    [ST_LINE_TOUCH_OLD] = "INSERT OR IGNORE INTO temp.touched_orders SELECT source_id, order_id "
                          "FROM order_lines WHERE record_id = ?1",
    [ST_LINE_DELETE] = "DELETE FROM order_lines WHERE record_id = ?1",
    [ST_LINE_INSERT] = "INSERT INTO order_lines(record_id, source_id, order_id, time, sku, name, "
                       "category, quantity, unit_price_minor, amount_minor, currency, status, "
                       "channel, store) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                       "?12, ?13, ?14)",
    [ST_ORDER_TOUCH] = "INSERT OR IGNORE INTO temp.touched_orders VALUES (?1, ?2)",
    [ST_ORDERS_AGGREGATE] =
        "INSERT INTO orders(source_id, order_id, record_id, time, amount_minor, currency, status, "
        "channel, store, lines) SELECT l.source_id, l.order_id, min(l.record_id), min(l.time), "
        "sum(coalesce(l.amount_minor, CAST(round(l.quantity * l.unit_price_minor) AS INTEGER))), "
        "max(l.currency), max(l.status), max(l.channel), max(l.store), count(*) FROM "
        "temp.touched_orders t JOIN order_lines l ON l.source_id = t.source_id AND l.order_id = "
        "t.order_id WHERE true GROUP BY l.source_id, l.order_id ON CONFLICT(source_id, order_id) "
        "DO UPDATE SET record_id = excluded.record_id, time = excluded.time, amount_minor = "
        "excluded.amount_minor, currency = excluded.currency, status = excluded.status, channel = "
        "excluded.channel, store = excluded.store, lines = excluded.lines",
    [ST_ORDERS_DROP_EMPTY] =
        "DELETE FROM orders WHERE lines > 0 AND (source_id, order_id) IN (SELECT source_id, "
        "order_id FROM temp.touched_orders) AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE "
        "l.source_id = orders.source_id AND l.order_id = orders.order_id)",
    [ST_TOUCHED_CLEAR] = "DELETE FROM temp.touched_orders",
    [ST_ORDER_ADD] =
        "INSERT INTO orders(source_id, order_id, record_id, time, amount_minor, currency, status, "
        "channel, store, lines) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON "
        "CONFLICT(source_id, order_id) DO UPDATE SET record_id = min(record_id, "
        "excluded.record_id), time = min(coalesce(time, excluded.time), coalesce(excluded.time, "
        "time)), amount_minor = CASE WHEN amount_minor IS NULL AND excluded.amount_minor IS NULL "
        "THEN NULL ELSE coalesce(amount_minor, 0) + coalesce(excluded.amount_minor, 0) END, "
        "currency = coalesce(currency, excluded.currency), status = coalesce(status, "
        "excluded.status), channel = coalesce(channel, excluded.channel), store = "
        "coalesce(store, excluded.store), lines = lines + excluded.lines",
    [ST_ORDER_KEYS] = "SELECT order_id, 0, 0 FROM orders WHERE source_id = ?1",
    [ST_RECORD_SCAN] = "SELECT id, source_id, kind, record_key, time, identifiers, traits FROM "
                       "records ORDER BY id",
    [ST_IDENTIFIER_PUT] = "INSERT INTO identifiers(id, type, value, profile_id) VALUES (?1, ?2, "
                          "?3, ?4)",
    [ST_IDENTIFIER_SCAN] = "SELECT id, type, value FROM identifiers ORDER BY id",
    [ST_MEMBER_PUT] = "INSERT OR REPLACE INTO profile_members(kind, row_id, profile_id) VALUES "
                      "(?1, ?2, ?3)",
    [ST_PROFILE_PUT] = "INSERT INTO profiles(id, merged_into, identifiers, members, resolved_at) "
                       "VALUES (?1, NULL, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET merged_into "
                       "= NULL, identifiers = excluded.identifiers, members = excluded.members, "
                       "resolved_at = excluded.resolved_at",
    [ST_PROFILE_SCAN] = "SELECT id FROM profiles WHERE merged_into IS NULL ORDER BY id",
    [ST_PROFILE_MERGE] = "UPDATE profiles SET merged_into = ?2, resolved_at = ?3 WHERE id = ?1",
    [ST_MERGE_LOG] = "INSERT INTO merges(time, from_profile, into_profile, reason) VALUES (?3, "
                     "?1, ?2, ?4)",
    [ST_RECORD_SCAN_AFTER] = "SELECT id, source_id, kind, record_key, time, identifiers, traits "
                             "FROM records WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_IDENTIFIER_PROFILES] = "SELECT id, type, value, profile_id FROM identifiers ORDER BY id",
    [ST_PROFILE_COUNTS] = "SELECT id, identifiers, members FROM profiles WHERE merged_into IS NULL",
    [ST_REASSIGN_IDENTIFIERS] = "UPDATE identifiers SET profile_id = ?2 WHERE profile_id = ?1",
    [ST_REASSIGN_MEMBERS] = "UPDATE profile_members SET profile_id = ?2 WHERE profile_id = ?1",
    [ST_CURSOR_GET] =
        "SELECT generation, last_record, last_event FROM identity_cursor WHERE id = 1",
    [ST_CURSOR_PUT] = "UPDATE identity_cursor SET generation = generation + ?3, last_record = ?1, "
                      "last_event = ?2, updated_at = ?4 WHERE id = 1",
    [ST_API_KEY_ADD] = "INSERT INTO api_keys(name, role, key_hash, key_hint, created_at, "
                       "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_API_KEY_BY_HASH] = "SELECT id, name, role, key_hint, created_at, expires_at, revoked_at, "
                           "key_hash FROM api_keys WHERE key_hash = ?1",
    [ST_API_KEY_LIST] = "SELECT id, name, role, key_hint, created_at, expires_at, revoked_at, "
                        "key_hash FROM api_keys ORDER BY id",
    [ST_API_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
    [ST_REVIEW_CLEAR] = "UPDATE review_pairs SET status = 'stale' WHERE status = 'pending'",
    [ST_REVIEW_PUT] = "INSERT INTO review_pairs(profile_a, profile_b, score, probability, fields, "
                      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(profile_a, "
                      "profile_b) DO UPDATE SET status = 'pending', score = excluded.score, "
                      "probability = excluded.probability, fields = excluded.fields WHERE "
                      "status = 'stale'",
    [ST_REVIEW_DROP_STALE] = "DELETE FROM review_pairs WHERE status = 'stale'",
    [ST_REVIEW_DECIDE] = "UPDATE review_pairs SET status = ?2, decided_by = ?3, decided_at = ?4 "
                         "WHERE id = ?1 AND status = 'pending'",
    [ST_CONSTRAINT_ADD] = "INSERT OR IGNORE INTO link_constraints(kind, identifier_a, "
                          "identifier_b, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CONSTRAINT_SCAN] = "SELECT kind, identifier_a, identifier_b FROM link_constraints "
                           "ORDER BY id",
    [ST_MERGE_UNDO] = "UPDATE merges SET undone_at = ?2 WHERE id = ?1 AND undone_at IS NULL",
    [ST_UNMERGE_LOG] = "INSERT INTO unmerges(time, merge_id, profile, from_profile, restored) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
};

/* WAL pages after which the background checkpointer copies them into the database
 * (16 MB at 4 KB pages). Under a steady stream of commits the WAL cannot restart from
 * its beginning until one checkpoint catches up with the last commit, which only the
 * writer can do between two of its own commits: past 64 MB it checkpoints itself,
 * copying little (the background thread has copied the rest), and the WAL restarts. */
#define CHECKPOINT_PAGES      4096
#define CHECKPOINT_HARD_PAGES 16384

struct checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool due, stopping;
    sqlite3 *db; /* its own connection */
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    struct checkpointer *ckpt;
    bool touched_ready; /* temp.touched_orders exists */
};

static int exec_sql(struct sqlite_store *s, const char *sql, struct err *e);
static int sq_profile_by_identifier(struct store *st, const char *type, const char *value,
                                    int64_t *profile_id, struct err *e);
static int sq_profile_view(struct store *st, int64_t profile_id, int recent_events, void **json,
                           struct err *e);
static int sq_data_version(struct store *st, int64_t *version, struct err *e);
static int sq_identity_stamp(struct store *st, int64_t stamp[STORE_STAMP_N], struct err *e);
static int sq_identity_index_scan(struct store *st, store_profile_ident_cb cb, void *ctx,
                                  struct err *e);
static int sq_profile_redirect_scan(struct store *st, store_redirect_cb cb, void *ctx,
                                    struct err *e);
static int sq_quality_sources(struct store *st, store_quality_source_cb cb, void *ctx,
                              struct err *e);
static int sq_quality_values(struct store *st, store_quality_value_cb cb, void *ctx, struct err *e);

static struct sqlite_store *impl(struct store *st)
{
    return (struct sqlite_store *)st;
}

static int db_err(struct sqlite_store *s, struct err *e, const char *what)
{
    return err_set(e, ERR_STORE, "%s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt_get(struct sqlite_store *s, enum stmt_id id, struct err *e)
{
    if (!s->stmt[id] && sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                           &s->stmt[id], NULL) != SQLITE_OK) {
        db_err(s, e, "prepare");
        return NULL;
    }
    return s->stmt[id];
}

static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

static void bind_time(sqlite3_stmt *q, int i, int64_t t)
{
    if (t == STORE_NULL_TIME)
        sqlite3_bind_null(q, i);
    else
        sqlite3_bind_int64(q, i, t);
}

static const char *col_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static _Atomic(store_unseal_fn) unseal_fn;

void store_set_unseal(store_unseal_fn fn)
{
    atomic_store(&unseal_fn, fn);
}

const char *store_sqlite_clear_text(sqlite3_stmt *q, int i, size_t *len, char **tmp,
                                    const char *table)
{
    const char *t = (const char *)sqlite3_column_blob(q, i);
    size_t n = (size_t)sqlite3_column_bytes(q, i);
    if (len)
        *len = n;
    store_unseal_fn fn = atomic_load(&unseal_fn);
    if (!fn || !t)
        return t;
    size_t out_len = 0;
    if (fn(t, n, NULL, tmp, &out_len)) /* never the value: only where it is */
        log_warn("%s %lld: a stored token does not decrypt (another master key, damage, or a "
                 "client's text that looks like one); it is read as stored",
                 table, (long long)sqlite3_column_int64(q, 0));
    if (!*tmp)
        return t;
    if (len)
        *len = out_len;
    return *tmp;
}

/* A scalar that SQL took out of stored JSON (json_extract): a token of field (a member
 * name, or a dotted path whose last part is one) opened to its string; t itself
 * otherwise, or when it does not open. *tmp is freed by the caller. */
static const char *clear_scalar(const char *t, const char *field, char **tmp)
{
    *tmp = NULL;
    store_unseal_fn fn = atomic_load(&unseal_fn);
    if (!fn || !t || !field || strncmp(t, "enc:v1:", 7) != 0)
        return t;
    const char *dot = strrchr(field, '.');
    char *json = NULL;
    size_t n = 0;
    if (fn(t, strlen(t), dot ? dot + 1 : field, &json, &n) || !json)
        return t;
    cJSON *v = cJSON_ParseWithLength(json, n);
    free(json);
    if (cJSON_IsString(v)) /* numbers and objects stay tokens: traits read here are text */
        *tmp = strdup(v->valuestring);
    cJSON_Delete(v);
    return *tmp ? *tmp : t;
}

cJSON *store_sqlite_row_json(sqlite3_stmt *q)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < sqlite3_column_count(q); i++) {
        const char *name = sqlite3_column_name(q, i);
        switch (sqlite3_column_type(q, i)) {
        case SQLITE_INTEGER:
            cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(q, i));
            break;
        case SQLITE_FLOAT:
            cJSON_AddNumberToObject(o, name, sqlite3_column_double(q, i));
            break;
        case SQLITE_NULL:
            cJSON_AddNullToObject(o, name);
            break;
        default: {
            const char *t = col_text(q, i);
            cJSON *parsed = NULL;
            char *clear = NULL;
            store_unseal_fn fn = atomic_load(&unseal_fn);
            if (fn && t && strncmp(t, "enc:v1:", 7) == 0) {
                /* a bare token: an identifier's clear value, its field the row's type */
                const char *field = NULL;
                for (int k = 0; k < sqlite3_column_count(q); k++)
                    if (strcmp(sqlite3_column_name(q, k), "type") == 0)
                        field = col_text(q, k);
                size_t cl = 0;
                if (field && fn(t, strlen(t), field, &clear, &cl) == 0 && clear &&
                    (parsed = cJSON_ParseWithLength(clear, cl)) && cJSON_IsString(parsed)) {
                    cJSON_AddItemToObject(o, name, parsed);
                    free(clear);
                    break;
                }
                cJSON_Delete(parsed);
                parsed = NULL;
                free(clear);
                clear = NULL;
            } else if (fn && t && (t[0] == '{' || t[0] == '[')) {
                size_t cl = 0;
                fn(t, strlen(t), NULL, &clear, &cl); /* tokens that do not open stay */
                if (clear)
                    t = clear; /* JSON holding tokens, in clear */
            }
            /* JSON columns (identifiers, traits, raw) are nested as JSON */
            if (t && (t[0] == '{' || t[0] == '[') && (parsed = cJSON_Parse(t)))
                cJSON_AddItemToObject(o, name, parsed);
            else
                cJSON_AddStringToObject(o, name, t ? t : "");
            free(clear);
        }
        }
    }
    return o;
}

static int64_t col_time(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? STORE_NULL_TIME : sqlite3_column_int64(q, i);
}

/* Runs a statement that returns no rows, then resets it. */
static int step_done(struct sqlite_store *s, sqlite3_stmt *q, struct err *e, const char *what)
{
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT)
            ret = err_set(e, ERR_EXISTS, "%s: %s", what, sqlite3_errmsg(s->db));
        else if (rc == SQLITE_BUSY)
            ret = err_set(e, ERR_BUSY, "%s: database is locked", what);
        else
            ret = db_err(s, e, what);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return ret;
}

static int exec_simple(struct sqlite_store *s, enum stmt_id id, struct err *e)
{
    sqlite3_stmt *q = stmt_get(s, id, e);
    return q ? step_done(s, q, e, stmt_sql[id]) : ERR_STORE;
}

static int sq_begin(struct store *st, struct err *e)
{
    return exec_simple(impl(st), ST_BEGIN, e);
}

static int sq_commit(struct store *st, struct err *e)
{
    return exec_simple(impl(st), ST_COMMIT, e);
}

static void sq_rollback(struct store *st)
{
    struct sqlite_store *s = impl(st);
    if (!sqlite3_get_autocommit(s->db))
        exec_simple(s, ST_ROLLBACK, NULL);
}

static int sq_source_add(struct store *st, const char *name, const unsigned char key_hash[32],
                         const char *key_hint, const char *plan, int64_t *id, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_SOURCE_ADD, e);
    if (!q)
        return ERR_STORE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bind_text(q, 1, name);
    sqlite3_bind_blob(q, 2, key_hash, 32, SQLITE_STATIC);
    bind_text(q, 3, key_hint);
    bind_text(q, 4, plan);
    sqlite3_bind_int64(q, 5, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    int rc = step_done(s, q, e, "add source");
    if (rc == ERR_EXISTS)
        return err_set(e, ERR_EXISTS, "a source named \"%s\" already exists", name);
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int sq_source_set_plan(struct store *st, const char *name, const char *plan, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_SOURCE_SET_PLAN, e);
    if (!q)
        return ERR_STORE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bind_text(q, 1, name);
    bind_text(q, 2, plan);
    sqlite3_bind_int64(q, 3, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    int rc = step_done(s, q, e, "set plan");
    if (!rc && sqlite3_changes(s->db) == 0)
        return err_set(e, ERR_NOTFOUND, "no source named \"%s\"", name);
    return rc;
}

/* The caller's callback, whichever kind of row it takes. */
union row_cb {
    store_source_cb source;
    store_event_cb event;
    store_quarantine_cb quarantine;
    store_seen_cb seen;
    store_record_key_cb record_key;
    store_import_row_cb import_row;
    store_identifier_cb identifier;
    store_id_cb id;
    store_api_key_cb api_key;
    store_identifier_profile_cb identifier_profile;
    store_profile_counts_cb profile_counts;
    store_quality_source_cb quality_source;
    store_quality_value_cb quality_value;
    store_review_cb review;
    store_merge_cb merge;
    store_constraint_cb constraint;
    store_profile_ident_cb profile_ident;
    store_redirect_cb redirect;
    store_analytics_order_cb analytics_order;
    store_analytics_event_cb analytics_event;
    store_trait_cb trait;
    store_segment_cb segment;
    store_membership_cb membership;
};

/* Steps q, handing each row to a row reader; resets q at the end. */
typedef int (*row_fn)(sqlite3_stmt *q, const union row_cb *cb, void *ctx);

static int scan_rows(struct sqlite_store *s, sqlite3_stmt *q, row_fn fn, const union row_cb *cb,
                     void *ctx, struct err *e)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        ret = fn(q, cb, ctx);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = db_err(s, e, "read");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return ret;
}

/* Prepares a one-off statement, binds args[0..nargs) to ?1, ?2 ..., scans it like
 * scan_rows, finalizes it. */
static int scan_sql_args(struct sqlite_store *s, const char *sql, const int64_t *args, size_t nargs,
                         row_fn fn, const union row_cb *cb, void *ctx, struct err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    for (size_t i = 0; i < nargs; i++)
        sqlite3_bind_int64(q, (int)i + 1, args[i]);
    int rc = scan_rows(s, q, fn, cb, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int scan_sql(struct sqlite_store *s, const char *sql, row_fn fn, const union row_cb *cb,
                    void *ctx, struct err *e)
{
    return scan_sql_args(s, sql, NULL, 0, fn, cb, ctx, e);
}

static int source_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct source src = {
        .id = sqlite3_column_int64(q, 0),
        .name = col_text(q, 1),
        .key_hint = col_text(q, 2),
        .plan = col_text(q, 3),
        .created_at = sqlite3_column_int64(q, 4),
        .updated_at = sqlite3_column_int64(q, 5),
        .key_hash = sqlite3_column_blob(q, 6),
    };
    if (sqlite3_column_bytes(q, 6) != 32)
        return ERR_STORE;
    return cb->source(&src, ctx);
}

static int sq_source_by_key(struct store *st, const unsigned char key_hash[32], store_source_cb cb,
                            void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_SOURCE_BY_KEY, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_blob(q, 1, key_hash, 32, SQLITE_STATIC);
    return scan_rows(s, q, source_row, &(union row_cb){.source = cb}, ctx, e);
}

static int sq_source_by_name(struct store *st, const char *name, store_source_cb cb, void *ctx,
                             struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_SOURCE_BY_NAME, e);
    if (!q)
        return ERR_STORE;
    bind_text(q, 1, name);
    return scan_rows(s, q, source_row, &(union row_cb){.source = cb}, ctx, e);
}

static int sq_source_list(struct store *st, store_source_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_SOURCE_LIST, e);
    return q ? scan_rows(s, q, source_row, &(union row_cb){.source = cb}, ctx, e) : ERR_STORE;
}

static int int_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    (void)cb;
    *(int64_t *)ctx = sqlite3_column_int64(q, 0);
    return 0;
}

static int sq_sources_version(struct store *st, int64_t *version, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_SOURCES_VERSION, e);
    return q ? scan_rows(s, q, int_row, NULL, version, e) : ERR_STORE;
}

static int sq_event_append(struct store *st, struct event_row *r, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_EVENT_APPEND, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, r->source_id);
    bind_text(q, 2, r->type);
    bind_text(q, 3, r->event);
    bind_text(q, 4, r->user_id);
    bind_text(q, 5, r->anonymous_id);
    bind_text(q, 6, r->message_id);
    sqlite3_bind_int64(q, 7, r->timestamp);
    sqlite3_bind_int64(q, 8, r->received_at);
    bind_time(q, 9, r->sent_at);
    sqlite3_bind_int(q, 10, r->flags);
    sqlite3_bind_text(q, 11, r->raw, (int)r->raw_len, SQLITE_STATIC);
    int rc = step_done(s, q, e, "append event");
    if (!rc)
        r->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int event_row_read(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct event_row r = {
        .id = sqlite3_column_int64(q, 0),
        .source_id = sqlite3_column_int64(q, 1),
        .type = col_text(q, 2),
        .event = col_text(q, 3),
        .user_id = col_text(q, 4),
        .anonymous_id = col_text(q, 5),
        .message_id = col_text(q, 6),
        .timestamp = sqlite3_column_int64(q, 7),
        .received_at = sqlite3_column_int64(q, 8),
        .sent_at = col_time(q, 9),
        .flags = sqlite3_column_int(q, 10),
    };
    char *tmp = NULL;
    r.raw = store_sqlite_clear_text(q, 11, &r.raw_len, &tmp, "event");
    int rc = cb->event(&r, ctx);
    free(tmp);
    return rc;
}

/* Builds "SELECT cols FROM table WHERE ... ORDER BY id" for a filter. With
 * newest_first and a limit, selects the last rows and re-orders them ascending. */
static sqlite3_stmt *filter_prepare(struct sqlite_store *s, const char *cols, const char *table,
                                    const struct event_filter *f, struct err *e)
{
    char sql[512], where[128] = "id > ?2";
    if (f->source_id)
        snprintf(where, sizeof(where), "id > ?2 AND source_id = ?1");
    if (f->limit > 0 && f->newest_first)
        snprintf(sql, sizeof(sql),
                 "SELECT * FROM (SELECT %s FROM %s WHERE %s ORDER BY id DESC LIMIT ?3) "
                 "ORDER BY id",
                 cols, table, where);
    else
        snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s ORDER BY id LIMIT ?3", cols, table,
                 where);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
        db_err(s, e, "prepare scan");
        return NULL;
    }
    sqlite3_bind_int64(q, 1, f->source_id);
    sqlite3_bind_int64(q, 2, f->after_id);
    sqlite3_bind_int64(q, 3, f->limit > 0 ? f->limit : -1);
    return q;
}

static int sq_event_scan(struct store *st, const struct event_filter *f, store_event_cb cb,
                         void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = filter_prepare(s,
                                     "id, source_id, type, event, user_id, anonymous_id, "
                                     "message_id, timestamp, received_at, sent_at, flags, raw",
                                     "events", f, e);
    if (!q)
        return ERR_STORE;
    int rc = scan_rows(s, q, event_row_read, &(union row_cb){.event = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int sq_event_count(struct store *st, int64_t source_id, int64_t *n, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, source_id ? ST_EVENT_COUNT_SOURCE : ST_EVENT_COUNT_ALL, e);
    if (!q)
        return ERR_STORE;
    if (source_id)
        sqlite3_bind_int64(q, 1, source_id);
    return scan_rows(s, q, int_row, NULL, n, e);
}

static int sq_event_replayed(struct store *st, int64_t source_id, const char *message_id,
                             bool *found, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_EVENT_REPLAYED, e);
    if (!q)
        return ERR_STORE;
    int64_t n = 0;
    sqlite3_bind_int64(q, 1, source_id);
    bind_text(q, 2, message_id);
    int rc = scan_rows(s, q, int_row, NULL, &n, e);
    *found = n > 0;
    return rc;
}

static int sq_quarantine_append(struct store *st, struct quarantine_row *r, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_QUARANTINE_APPEND, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, r->source_id);
    bind_text(q, 2, r->message_id);
    bind_text(q, 3, r->type);
    bind_text(q, 4, r->event);
    sqlite3_bind_int64(q, 5, r->received_at);
    bind_text(q, 6, r->reasons);
    sqlite3_bind_blob(q, 7, r->raw, (int)r->raw_len, SQLITE_STATIC);
    bind_time(q, 8, r->timestamp);
    int rc = step_done(s, q, e, "append quarantine");
    if (!rc)
        r->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int quarantine_row_read(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct quarantine_row r = {
        .id = sqlite3_column_int64(q, 0),
        .source_id = sqlite3_column_int64(q, 1),
        .message_id = col_text(q, 2),
        .type = col_text(q, 3),
        .event = col_text(q, 4),
        .received_at = sqlite3_column_int64(q, 5),
        .reasons = col_text(q, 6),
        .timestamp = col_time(q, 8),
    };
    char *tmp = NULL;
    r.raw = store_sqlite_clear_text(q, 7, &r.raw_len, &tmp, "quarantined message");
    int rc = cb->quarantine(&r, ctx);
    free(tmp);
    return rc;
}

static int sq_quarantine_scan(struct store *st, const struct event_filter *f,
                              store_quarantine_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = filter_prepare(
        s, "id, source_id, message_id, type, event, received_at, reasons, raw, timestamp",
        "quarantine", f, e);
    if (!q)
        return ERR_STORE;
    int rc = scan_rows(s, q, quarantine_row_read, &(union row_cb){.quarantine = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int sq_quarantine_get(struct store *st, int64_t id, store_quarantine_cb cb, void *ctx,
                             struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_QUARANTINE_GET, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, id);
    return scan_rows(s, q, quarantine_row_read, &(union row_cb){.quarantine = cb}, ctx, e);
}

static int sq_quarantine_delete(struct store *st, int64_t id, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_QUARANTINE_DELETE, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, id);
    return step_done(s, q, e, "delete quarantine");
}

static int seen_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    const char *mid = (const char *)sqlite3_column_text(q, 1);
    if (!mid)
        return 0;
    return cb->seen(sqlite3_column_int64(q, 0), mid, (size_t)sqlite3_column_bytes(q, 1),
                    sqlite3_column_int(q, 2) != 0, ctx);
}

static int sq_seen_scan(struct store *st, bool events_only, store_seen_cb cb, void *ctx,
                        struct err *e)
{
    const char *sql = events_only ? "SELECT source_id, message_id, 0 FROM events"
                                  : "SELECT source_id, message_id, 0 FROM events UNION ALL "
                                    "SELECT source_id, message_id, 1 FROM quarantine";
    return scan_sql(impl(st), sql, seen_row, &(union row_cb){.seen = cb}, ctx, e);
}

static void *checkpointer_main(void *arg)
{
    struct checkpointer *c = arg;
    pthread_setname_np(pthread_self(), "checkpoint"); /* for top -H, perf, gdb */
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->due && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        c->due = false;
        pthread_mutex_unlock(&c->lock);
        /* PASSIVE: copies what it can without blocking the writer or readers. */
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sqlite_store *s = arg;
    if (pages >= CHECKPOINT_HARD_PAGES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&s->ckpt->lock);
        s->ckpt->due = true;
        pthread_cond_signal(&s->ckpt->wake);
        pthread_mutex_unlock(&s->ckpt->lock);
    }
    return SQLITE_OK;
}

static int checkpointer_start(struct sqlite_store *s, const char *path, struct err *e)
{
    struct checkpointer *c = calloc(1, sizeof(*c));
    if (!c)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close(c->db);
        free(c);
        return err_set(e, ERR_STORE, "cannot open %s for checkpoints", path);
    }
    sqlite3_busy_timeout(c->db, 1000);
    /* A connection that has never read the schema checkpoints nothing (SQLite 3.40
     * answers SQLITE_OK with -1 frames): read it once. */
    sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c)) {
        sqlite3_close(c->db);
        free(c);
        return err_set(e, ERR_NOMEM, "cannot start the checkpoint thread");
    }
    s->ckpt = c;
    sqlite3_wal_autocheckpoint(s->db, 0);
    sqlite3_wal_hook(s->db, wal_hook, s);
    return 0;
}

static void checkpointer_stop(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}

static int record_key_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->record_key(col_text(q, 0), (size_t)sqlite3_column_bytes(q, 0),
                          sqlite3_column_int64(q, 1), (uint64_t)sqlite3_column_int64(q, 2), ctx);
}

static int sq_record_keys(struct store *st, int64_t source_id, store_record_key_cb cb, void *ctx,
                          struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_RECORD_KEYS, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, source_id);
    return scan_rows(s, q, record_key_row, &(union row_cb){.record_key = cb}, ctx, e);
}

static int sq_record_put(struct store *st, struct import_row *r, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, r->id ? ST_RECORD_UPDATE : ST_RECORD_INSERT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, r->source_id);
    bind_text(q, 2, r->kind);
    bind_text(q, 3, r->record_key);
    bind_text(q, 4, r->file);
    sqlite3_bind_int64(q, 5, r->line);
    sqlite3_bind_int64(q, 6, (int64_t)r->hash);
    bind_time(q, 7, r->time);
    bind_text(q, 8, r->identifiers);
    bind_text(q, 9, r->traits);
    bind_text(q, 10, r->fields);
    sqlite3_bind_int64(q, 11, r->imported_at);
    if (r->id)
        sqlite3_bind_int64(q, 12, r->id);
    int rc = step_done(s, q, e, "store record");
    if (!rc && !r->id)
        r->id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static void bind_amount(sqlite3_stmt *q, int i, int64_t v)
{
    if (v == STORE_NULL_AMOUNT)
        sqlite3_bind_null(q, i);
    else
        sqlite3_bind_int64(q, i, v);
}

static int sq_order_put(struct store *st, const struct order_row *o, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_ORDER_UPSERT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, o->source_id);
    bind_text(q, 2, o->order_id);
    sqlite3_bind_int64(q, 3, o->record_id);
    bind_time(q, 4, o->time);
    bind_amount(q, 5, o->amount_minor);
    bind_text(q, 6, o->currency);
    bind_text(q, 7, o->status);
    bind_text(q, 8, o->channel);
    bind_text(q, 9, o->store);
    return step_done(s, q, e, "store order");
}

static int touched_table(struct sqlite_store *s, struct err *e)
{
    if (s->touched_ready)
        return 0;
    int rc = exec_sql(s,
                      "PRAGMA temp_store = MEMORY; CREATE TEMP TABLE IF NOT EXISTS "
                      "touched_orders(source_id INTEGER, order_id TEXT, PRIMARY KEY(source_id, "
                      "order_id)) WITHOUT ROWID",
                      e);
    s->touched_ready = rc == 0;
    return rc;
}

static int sq_order_line_put(struct store *st, const struct order_line_row *l, bool replace,
                             bool touch, struct err *e)
{
    struct sqlite_store *s = impl(st);
    int rc = touched_table(s, e);
    if (rc)
        return rc;
    sqlite3_stmt *q;
    if (replace) {
        /* The line's old order must be rebuilt too: the correction may move it. */
        if (!(q = stmt_get(s, ST_LINE_TOUCH_OLD, e)))
            return ERR_STORE;
        sqlite3_bind_int64(q, 1, l->record_id);
        if ((rc = step_done(s, q, e, "touch order")))
            return rc;
        if (!(q = stmt_get(s, ST_LINE_DELETE, e)))
            return ERR_STORE;
        sqlite3_bind_int64(q, 1, l->record_id);
        if ((rc = step_done(s, q, e, "replace order line")))
            return rc;
    }
    if (!(q = stmt_get(s, ST_LINE_INSERT, e)))
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, l->record_id);
    sqlite3_bind_int64(q, 2, l->source_id);
    bind_text(q, 3, l->order_id);
    bind_time(q, 4, l->time);
    bind_text(q, 5, l->sku);
    bind_text(q, 6, l->name);
    bind_text(q, 7, l->category);
    if (l->quantity == l->quantity)
        sqlite3_bind_double(q, 8, l->quantity);
    else
        sqlite3_bind_null(q, 8);
    bind_amount(q, 9, l->unit_price_minor);
    bind_amount(q, 10, l->amount_minor);
    bind_text(q, 11, l->currency);
    bind_text(q, 12, l->status);
    bind_text(q, 13, l->channel);
    bind_text(q, 14, l->store);
    if ((rc = step_done(s, q, e, "store order line")))
        return rc;
    if (!touch)
        return 0;
    if (!(q = stmt_get(s, ST_ORDER_TOUCH, e)))
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, l->source_id);
    bind_text(q, 2, l->order_id);
    return step_done(s, q, e, "touch order");
}

static int sq_order_add(struct store *st, const struct order_row *o, int64_t lines, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_ORDER_ADD, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, o->source_id);
    bind_text(q, 2, o->order_id);
    sqlite3_bind_int64(q, 3, o->record_id);
    bind_time(q, 4, o->time);
    bind_amount(q, 5, o->amount_minor);
    bind_text(q, 6, o->currency);
    bind_text(q, 7, o->status);
    bind_text(q, 8, o->channel);
    bind_text(q, 9, o->store);
    sqlite3_bind_int64(q, 10, lines);
    return step_done(s, q, e, "store order");
}

static int sq_order_keys(struct store *st, int64_t source_id, store_record_key_cb cb, void *ctx,
                         struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_ORDER_KEYS, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, source_id);
    return scan_rows(s, q, record_key_row, &(union row_cb){.record_key = cb}, ctx, e);
}

static int sq_orders_aggregate(struct store *st, struct err *e)
{
    struct sqlite_store *s = impl(st);
    int rc = touched_table(s, e);
    if (!rc)
        rc = exec_simple(s, ST_ORDERS_AGGREGATE, e);
    if (!rc)
        rc = exec_simple(s, ST_ORDERS_DROP_EMPTY, e);
    if (!rc)
        rc = exec_simple(s, ST_TOUCHED_CLEAR, e);
    return rc;
}

static int sq_table_count(struct store *st, const char *table, int64_t source_id, int64_t *n,
                          struct err *e)
{
    static const char *const tables[] = {"events", "quarantine", "records", "orders",
                                         "order_lines"};
    struct sqlite_store *s = impl(st);
    size_t i = 0;
    while (i < ARRAY_SIZE(tables) && strcmp(tables[i], table) != 0)
        i++;
    if (i == ARRAY_SIZE(tables))
        return err_set(e, ERR_INVALID, "no table %s", table);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s", tables[i],
             source_id ? " WHERE source_id = ?1" : "");
    return scan_sql_args(s, sql, &source_id, source_id ? 1 : 0, int_row, NULL, n, e);
}

static int import_row_read(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct import_row r = {
        .id = sqlite3_column_int64(q, 0),
        .source_id = sqlite3_column_int64(q, 1),
        .kind = col_text(q, 2),
        .record_key = col_text(q, 3),
        .time = col_time(q, 4),
    };
    char *tmp1 = NULL, *tmp2 = NULL;
    r.identifiers = store_sqlite_clear_text(q, 5, NULL, &tmp1, "record");
    r.traits = store_sqlite_clear_text(q, 6, NULL, &tmp2, "record");
    int rc = cb->import_row(&r, ctx);
    free(tmp1);
    free(tmp2);
    return rc;
}

static int sq_record_scan(struct store *st, store_import_row_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_RECORD_SCAN, e);
    return q ? scan_rows(s, q, import_row_read, &(union row_cb){.import_row = cb}, ctx, e)
             : ERR_STORE;
}

static int sq_identity_clear(struct store *st, struct err *e)
{
    return exec_sql(impl(st), "DELETE FROM identifiers; DELETE FROM profile_members", e);
}

static int sq_identifier_put(struct store *st, int64_t id, const char *type, const char *value,
                             int64_t profile_id, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_IDENTIFIER_PUT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, id);
    bind_text(q, 2, type);
    bind_text(q, 3, value);
    sqlite3_bind_int64(q, 4, profile_id);
    return step_done(s, q, e, "store identifier");
}

static int identifier_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->identifier(sqlite3_column_int64(q, 0), col_text(q, 1), col_text(q, 2), ctx);
}

static int sq_identifier_scan(struct store *st, store_identifier_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_IDENTIFIER_SCAN, e);
    return q ? scan_rows(s, q, identifier_row, &(union row_cb){.identifier = cb}, ctx, e)
             : ERR_STORE;
}

static int sq_member_put(struct store *st, int kind, int64_t row_id, int64_t profile_id,
                         struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_MEMBER_PUT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int(q, 1, kind);
    sqlite3_bind_int64(q, 2, row_id);
    sqlite3_bind_int64(q, 3, profile_id);
    return step_done(s, q, e, "store profile member");
}

static int sq_profile_put(struct store *st, int64_t id, int64_t identifiers, int64_t members,
                          int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_PROFILE_PUT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, identifiers);
    sqlite3_bind_int64(q, 3, members);
    sqlite3_bind_int64(q, 4, now);
    return step_done(s, q, e, "store profile");
}

static int id_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->id(sqlite3_column_int64(q, 0), ctx);
}

static int sq_profile_scan(struct store *st, store_id_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_PROFILE_SCAN, e);
    return q ? scan_rows(s, q, id_row, &(union row_cb){.id = cb}, ctx, e) : ERR_STORE;
}

static int sq_profile_merge(struct store *st, int64_t from, int64_t into, const char *reason,
                            int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *q = stmt_get(s, k ? ST_MERGE_LOG : ST_PROFILE_MERGE, e);
        if (!q)
            return ERR_STORE;
        sqlite3_bind_int64(q, 1, from);
        sqlite3_bind_int64(q, 2, into);
        sqlite3_bind_int64(q, 3, now);
        if (k)
            bind_text(q, 4, reason);
        int rc = step_done(s, q, e, "record merge");
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- incremental resolution (migration 0011) ---- */

static int sq_record_scan_after(struct store *st, int64_t after_id, int64_t limit,
                                store_import_row_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_RECORD_SCAN_AFTER, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 2, limit > 0 ? limit : -1);
    return scan_rows(s, q, import_row_read, &(union row_cb){.import_row = cb}, ctx, e);
}

static int identifier_profile_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->identifier_profile(sqlite3_column_int64(q, 0), col_text(q, 1), col_text(q, 2),
                                  sqlite3_column_int64(q, 3), ctx);
}

static int sq_identifier_profiles(struct store *st, store_identifier_profile_cb cb, void *ctx,
                                  struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_IDENTIFIER_PROFILES, e);
    return q ? scan_rows(s, q, identifier_profile_row, &(union row_cb){.identifier_profile = cb},
                         ctx, e)
             : ERR_STORE;
}

static int profile_counts_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->profile_counts(sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                              sqlite3_column_int64(q, 2), ctx);
}

static int sq_profile_counts(struct store *st, store_profile_counts_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_PROFILE_COUNTS, e);
    return q ? scan_rows(s, q, profile_counts_row, &(union row_cb){.profile_counts = cb}, ctx, e)
             : ERR_STORE;
}

static int sq_profile_reassign(struct store *st, int64_t from, int64_t into, struct err *e)
{
    struct sqlite_store *s = impl(st);
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *q = stmt_get(s, k ? ST_REASSIGN_MEMBERS : ST_REASSIGN_IDENTIFIERS, e);
        if (!q)
            return ERR_STORE;
        sqlite3_bind_int64(q, 1, from);
        sqlite3_bind_int64(q, 2, into);
        int rc = step_done(s, q, e, "move a merged profile's identifiers and members");
        if (rc)
            return rc;
    }
    return 0;
}

static int cursor_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    (void)cb;
    struct identity_cursor *c = ctx;
    c->generation = sqlite3_column_int64(q, 0);
    c->last_record = sqlite3_column_int64(q, 1);
    c->last_event = sqlite3_column_int64(q, 2);
    return 0;
}

static int sq_identity_cursor_get(struct store *st, struct identity_cursor *c, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_CURSOR_GET, e);
    memset(c, 0, sizeof(*c));
    return q ? scan_rows(s, q, cursor_row, NULL, c, e) : ERR_STORE;
}

static int sq_identity_cursor_put(struct store *st, int64_t last_record, int64_t last_event,
                                  bool new_generation, int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_CURSOR_PUT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, last_record);
    sqlite3_bind_int64(q, 2, last_event);
    sqlite3_bind_int(q, 3, new_generation);
    sqlite3_bind_int64(q, 4, now);
    return step_done(s, q, e, "store the resolution cursor");
}

static int sq_api_key_add(struct store *st, const char *name, const char *role,
                          const unsigned char key_hash[32], const char *key_hint,
                          int64_t created_at, int64_t expires_at, int64_t *id, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_API_KEY_ADD, e);
    if (!q)
        return ERR_STORE;
    bind_text(q, 1, name);
    bind_text(q, 2, role);
    sqlite3_bind_blob(q, 3, key_hash, 32, SQLITE_STATIC);
    bind_text(q, 4, key_hint);
    sqlite3_bind_int64(q, 5, created_at);
    bind_time(q, 6, expires_at);
    int rc = step_done(s, q, e, "add API key");
    if (!rc && id)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int api_key_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct api_key k = {
        .id = sqlite3_column_int64(q, 0),
        .name = col_text(q, 1),
        .role = col_text(q, 2),
        .key_hint = col_text(q, 3),
        .created_at = sqlite3_column_int64(q, 4),
        .expires_at = col_time(q, 5),
        .revoked_at = col_time(q, 6),
        .key_hash = sqlite3_column_blob(q, 7),
    };
    if (!k.role || sqlite3_column_bytes(q, 7) != 32)
        return ERR_STORE;
    return cb->api_key(&k, ctx);
}

static int sq_api_key_by_hash(struct store *st, const unsigned char key_hash[32],
                              store_api_key_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_API_KEY_BY_HASH, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_blob(q, 1, key_hash, 32, SQLITE_STATIC);
    return scan_rows(s, q, api_key_row, &(union row_cb){.api_key = cb}, ctx, e);
}

static int sq_api_key_list(struct store *st, store_api_key_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_API_KEY_LIST, e);
    return q ? scan_rows(s, q, api_key_row, &(union row_cb){.api_key = cb}, ctx, e) : ERR_STORE;
}

static int sq_api_key_revoke(struct store *st, int64_t id, int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_API_KEY_REVOKE, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, now);
    int rc = step_done(s, q, e, "revoke API key");
    if (!rc && sqlite3_changes(s->db) == 0)
        return err_set(e, ERR_NOTFOUND, "no API key %" PRId64, id);
    return rc;
}

/* ---- OneID review queue, link constraints, unmerges (migration 0006) ---- */

static int sq_review_clear_pending(struct store *st, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_REVIEW_CLEAR, e);
    return q ? step_done(s, q, e, "clear the review queue") : ERR_STORE;
}

static int sq_review_drop_stale(struct store *st, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_REVIEW_DROP_STALE, e);
    return q ? step_done(s, q, e, "clear the review queue") : ERR_STORE;
}

static int sq_review_put(struct store *st, int64_t a, int64_t b, double score, double probability,
                         const char *fields, int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_REVIEW_PUT, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, a < b ? a : b);
    sqlite3_bind_int64(q, 2, a < b ? b : a);
    sqlite3_bind_double(q, 3, score);
    sqlite3_bind_double(q, 4, probability);
    bind_text(q, 5, fields);
    sqlite3_bind_int64(q, 6, now);
    return step_done(s, q, e, "store review pair");
}

static int review_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct review_pair p = {
        .id = sqlite3_column_int64(q, 0),
        .profile_a = sqlite3_column_int64(q, 1),
        .profile_b = sqlite3_column_int64(q, 2),
        .score = sqlite3_column_double(q, 3),
        .probability = sqlite3_column_double(q, 4),
        .fields = col_text(q, 5),
        .status = col_text(q, 6),
        .created_at = sqlite3_column_int64(q, 7),
        .decided_at = col_time(q, 8),
        .decided_by = col_text(q, 9),
    };
    if (!p.fields || !p.status)
        return ERR_STORE;
    return cb->review(&p, ctx);
}

static int sq_review_scan(struct store *st, int64_t id, const char *status, store_review_cb cb,
                          void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, profile_a, profile_b, score, probability, fields, status, "
                           "created_at, decided_at, decided_by FROM review_pairs WHERE (?1 = 0 "
                           "OR id = ?1) AND (?2 IS NULL OR status = ?2) ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, id);
    bind_text(q, 2, status);
    int rc = scan_rows(s, q, review_row, &(union row_cb){.review = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int count_review_cb(const struct review_pair *p, void *ctx)
{
    (void)p;
    (*(int *)ctx)++;
    return 0;
}

static int sq_review_decide(struct store *st, int64_t id, const char *status, const char *by,
                            int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_REVIEW_DECIDE, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, id);
    bind_text(q, 2, status);
    bind_text(q, 3, by);
    sqlite3_bind_int64(q, 4, now);
    int rc = step_done(s, q, e, "decide review pair");
    if (rc || sqlite3_changes(s->db) > 0)
        return rc;
    int n = 0;
    if ((rc = sq_review_scan(st, id, NULL, count_review_cb, &n, e)))
        return rc;
    return n ? err_set(e, ERR_EXISTS, "review pair %" PRId64 " was decided already", id)
             : err_set(e, ERR_NOTFOUND, "no review pair %" PRId64, id);
}

static int sq_constraint_add(struct store *st, const char *kind, int64_t a, int64_t b,
                             const char *reason, int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_CONSTRAINT_ADD, e);
    if (!q)
        return ERR_STORE;
    bind_text(q, 1, kind);
    sqlite3_bind_int64(q, 2, a < b ? a : b);
    sqlite3_bind_int64(q, 3, a < b ? b : a);
    bind_text(q, 4, reason);
    sqlite3_bind_int64(q, 5, now);
    return step_done(s, q, e, "store link constraint");
}

static int constraint_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    const char *kind = col_text(q, 0);
    if (!kind)
        return ERR_STORE;
    return cb->constraint(kind, sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2), ctx);
}

static int sq_constraint_scan(struct store *st, store_constraint_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_CONSTRAINT_SCAN, e);
    return q ? scan_rows(s, q, constraint_row, &(union row_cb){.constraint = cb}, ctx, e)
             : ERR_STORE;
}

static int merge_row_read(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct merge_row m = {
        .id = sqlite3_column_int64(q, 0),
        .time = sqlite3_column_int64(q, 1),
        .from_profile = sqlite3_column_int64(q, 2),
        .into_profile = sqlite3_column_int64(q, 3),
        .reason = col_text(q, 4),
        .undone_at = col_time(q, 5),
    };
    return cb->merge(&m, ctx);
}

static int sq_merge_scan(struct store *st, int64_t profile, store_merge_cb cb, void *ctx,
                         struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, time, from_profile, into_profile, reason, undone_at FROM "
                           "merges WHERE ?1 = 0 OR from_profile = ?1 OR into_profile = ?1 "
                           "ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, profile);
    int rc = scan_rows(s, q, merge_row_read, &(union row_cb){.merge = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int sq_merge_undo(struct store *st, int64_t merge_id, int64_t profile, int64_t from_profile,
                         bool restored, int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = stmt_get(s, ST_MERGE_UNDO, e);
    if (!q)
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, merge_id);
    sqlite3_bind_int64(q, 2, now);
    int rc = step_done(s, q, e, "mark merge undone");
    if (rc)
        return rc;
    if (!(q = stmt_get(s, ST_UNMERGE_LOG, e)))
        return ERR_STORE;
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int64(q, 2, merge_id);
    sqlite3_bind_int64(q, 3, profile);
    sqlite3_bind_int64(q, 4, from_profile);
    sqlite3_bind_int(q, 5, restored);
    return step_done(s, q, e, "journal unmerge");
}

static void sq_close(struct store *st)
{
    struct sqlite_store *s = impl(st);
    checkpointer_stop(s->ckpt);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

/* Audit log and DP budgets: at the end of the file. */
static int sq_audit_insert(struct store *st, const struct audit_row *r, struct err *e);
static int sq_audit_last(struct store *st, store_audit_cb cb, void *ctx, struct err *e);
static int sq_audit_scan(struct store *st, int64_t since, int64_t after_seq, store_audit_cb cb,
                         void *ctx, struct err *e);
static bool sq_in_transaction(struct store *st);
static const char *sq_location(struct store *st);
static int sq_dp_spend(struct store *st, int64_t key_id, double epsilon, double default_budget,
                       int64_t now, double *spent, double *budget, struct err *e);
static int sq_dp_budget_get(struct store *st, int64_t key_id, double default_budget, double *spent,
                            double *budget, bool *own, struct err *e);
static int sq_dp_budget_set(struct store *st, int64_t key_id, double budget, bool reset,
                            int64_t now, struct err *e);
/* ---- Analytics: the rows of the columnar snapshot (analytics/snapshot.c) ---- */

static const char *col_str(sqlite3_stmt *q, int i)
{
    const char *v = col_text(q, i);
    return v ? v : "";
}

static int analytics_order_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct analytics_order_row r = {
        .id = sqlite3_column_int64(q, 0),
        .profile_id = sqlite3_column_int64(q, 1),
        .time = sqlite3_column_int64(q, 2),
        .amount = sqlite3_column_int64(q, 3),
        .source = col_str(q, 4),
        .channel = col_str(q, 5),
        .store = col_str(q, 6),
        .categories = col_str(q, 7),
    };
    return cb->analytics_order(&r, ctx);
}

static int sq_analytics_orders(struct store *st, int64_t after_id, int64_t upto_record,
                               store_analytics_order_cb cb, void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT o.id, pm.profile_id, o.time, coalesce(o.amount_minor, 0), s.name, o.channel, "
        "o.store, (SELECT group_concat(c, char(31)) FROM (SELECT DISTINCT l.category AS c FROM "
        "order_lines l WHERE l.source_id = o.source_id AND l.order_id = o.order_id AND "
        "l.category IS NOT NULL AND l.category <> '')) "
        "FROM orders o JOIN profile_members pm ON pm.kind = 1 AND pm.row_id = o.record_id "
        "LEFT JOIN sources s ON s.id = o.source_id WHERE o.id > ?1 AND o.time IS NOT NULL "
        "AND o.id < coalesce((SELECT min(u.id) FROM orders u WHERE u.id > ?1 AND u.record_id > "
        "?2), 9223372036854775807) ORDER BY o.id";
    struct sqlite_store *s = impl(st);
    const int64_t args[2] = {after_id, upto_record};
    return scan_sql_args(s, sql, args, 2, analytics_order_row,
                         &(union row_cb){.analytics_order = cb}, ctx, e);
}

static int analytics_event_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct analytics_event_row r = {
        .id = sqlite3_column_int64(q, 0),
        .profile_id = sqlite3_column_int64(q, 1),
        .time = sqlite3_column_int64(q, 2),
        .name = col_str(q, 3),
        .source = col_str(q, 4),
        .campaign = col_str(q, 5),
        .properties = col_str(q, 6),
    };
    return cb->analytics_event(&r, ctx);
}

static int sq_analytics_events(struct store *st, int64_t after_id, int64_t upto_event,
                               store_analytics_event_cb cb, void *ctx, struct err *e)
{
    /* Events stored after the last resolution have no member row yet: they go to the
     * profile of their userId, else of their anonymousId. */
    static const char sql[] =
        "SELECT id, p, timestamp, name, src, camp, props FROM (SELECT e.id, "
        "coalesce(pm.profile_id, "
        "(SELECT i.profile_id FROM identifiers i WHERE i.value = e.user_id AND i.type = "
        "'user_id'), (SELECT i.profile_id FROM identifiers i WHERE i.value = e.anonymous_id AND "
        "i.type = 'anonymous_id')) AS p, e.timestamp, CASE WHEN e.type = 'track' THEN e.event "
        "ELSE e.type END AS name, s.name AS src, CASE WHEN json_valid(e.raw) THEN "
        "json_extract(e.raw, '$.context.campaign.name') END AS camp, CASE WHEN "
        "json_valid(e.raw) AND json_type(e.raw, '$.properties') = 'object' THEN "
        "json_extract(e.raw, '$.properties') END AS props FROM events e LEFT JOIN "
        "profile_members pm ON pm.kind = 0 AND pm.row_id = e.id LEFT JOIN sources s ON s.id = "
        "e.source_id WHERE e.id > ?1 AND e.id <= ?2) WHERE p IS NOT NULL ORDER BY id";
    struct sqlite_store *s = impl(st);
    const int64_t args[2] = {after_id, upto_event};
    return scan_sql_args(s, sql, args, 2, analytics_event_row,
                         &(union row_cb){.analytics_event = cb}, ctx, e);
}

static int sq_analytics_stamp(struct store *st, int64_t *stamp, struct err *e)
{
    /* Not profiles.resolved_at: the incremental resolver moves it at every batch, and a
     * snapshot would load everything again every time. Every term only grows, so the
     * weighted sum changes whenever one of them does: a full resolution (or an unmerge,
     * which runs one) bumps the generation, a merge adds a merges row, an erasure a
     * suppression entry. */
    static const char sql[] =
        "SELECT (coalesce((SELECT max(generation) FROM identity_cursor), 0) * 1000003 + "
        "coalesce((SELECT max(id) FROM merges), 0)) * 1000003 + "
        "(SELECT count(*) FROM suppression)";
    *stamp = 0;
    return scan_sql(impl(st), sql, int_row, NULL, stamp, e);
}

static int trait_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    char *tmp;
    int rc = cb->trait(sqlite3_column_int64(q, 0),
                       clear_scalar(col_str(q, 1), col_text(q, 2), &tmp), ctx);
    free(tmp);
    return rc;
}

static int sq_analytics_traits(struct store *st, const char *name, store_trait_cb cb, void *ctx,
                               struct err *e)
{
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return err_set(e, ERR_INVALID, "a trait's name is letters, digits and _");
    static const char sql[] =
        "SELECT p, CAST(v AS TEXT), ?1 FROM (SELECT pm.profile_id AS p, json_extract(r.traits, "
        "'$.' "
        "|| ?1) AS v, coalesce(r.time, r.imported_at) AS t, r.id AS id, 0 AS k FROM records r "
        "JOIN profile_members pm ON pm.kind = 1 AND pm.row_id = r.id WHERE r.traits IS NOT NULL "
        "AND json_valid(r.traits) UNION ALL SELECT pm.profile_id, coalesce(json_extract(e.raw, "
        "'$.traits.' || ?1), json_extract(e.raw, '$.context.traits.' || ?1)), e.timestamp, e.id, "
        "1 FROM events e JOIN profile_members pm ON pm.kind = 0 AND pm.row_id = e.id WHERE "
        "e.type = 'identify' AND json_valid(e.raw)) WHERE v IS NOT NULL AND v <> '' ORDER BY t, "
        "k, id";
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    int rc = scan_rows(s, q, trait_row, &(union row_cb){.trait = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

/* ---- Segments (migration 0009) ---- */

/* Prepares sql, binds int64 args (NULL-terminated count given), steps it to the end. */
static int run_ints(struct sqlite_store *s, const char *sql, const int64_t *args, int nargs,
                    const char *text, struct err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    for (int i = 0; i < nargs; i++)
        sqlite3_bind_int64(q, i + 1, args[i]);
    if (text)
        sqlite3_bind_text(q, nargs + 1, text, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_err(s, e, "write");
}

static int sq_segment_put(struct store *st, const char *name, const char *expr, int64_t now,
                          struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO segments(name, expr, created_at) VALUES (?1, ?2, ?3) ON "
                           "CONFLICT(name) DO UPDATE SET expr = excluded.expr",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, expr, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 3, now);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_err(s, e, "save the segment");
}

static int segment_row_read(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct segment_row r = {.id = sqlite3_column_int64(q, 0),
                            .name = col_str(q, 1),
                            .expr = col_str(q, 2),
                            .created_at = sqlite3_column_int64(q, 3),
                            .evaluated_at = col_time(q, 4),
                            .members = sqlite3_column_int64(q, 5)};
    return cb->segment(&r, ctx);
}

static int sq_segment_list(struct store *st, const char *name, store_segment_cb cb, void *ctx,
                           struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, name, expr, created_at, evaluated_at, members FROM segments "
                           "WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    if (name)
        sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    int rc = scan_rows(s, q, segment_row_read, &(union row_cb){.segment = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int sq_segment_delete(struct store *st, const char *name, struct err *e)
{
    struct sqlite_store *s = impl(st);
    int rc = run_ints(s,
                      "DELETE FROM segment_members WHERE segment_id = (SELECT id FROM segments "
                      "WHERE name = ?1)",
                      NULL, 0, name, e);
    if (!rc)
        rc = run_ints(s, "DELETE FROM segments WHERE name = ?1", NULL, 0, name, e);
    if (!rc && sqlite3_changes(s->db) == 0)
        return err_set(e, ERR_NOTFOUND, "no segment named \"%s\"", name);
    return rc;
}

static int membership_row_read(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct membership_row r = {.profile_id = sqlite3_column_int64(q, 0),
                               .entered_at = sqlite3_column_int64(q, 1),
                               .exited_at = col_time(q, 2)};
    return cb->membership(&r, ctx);
}

static int sq_segment_members(struct store *st, int64_t segment_id, bool all,
                              store_membership_cb cb, void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT profile_id, entered_at, exited_at FROM segment_members WHERE "
                           "segment_id = ?1 AND (?2 OR exited_at IS NULL) ORDER BY profile_id, "
                           "entered_at",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, segment_id);
    sqlite3_bind_int(q, 2, all);
    int rc = scan_rows(s, q, membership_row_read, &(union row_cb){.membership = cb}, ctx, e);
    sqlite3_finalize(q);
    return rc;
}

static int sq_segment_sync(struct store *st, int64_t segment_id, const int64_t *members, size_t n,
                           int64_t now, int64_t *entered, int64_t *exited, struct err *e)
{
    struct sqlite_store *s = impl(st);
    *entered = *exited = 0;
    int rc = exec_sql(s,
                      "SAVEPOINT segment_sync; CREATE TEMP TABLE IF NOT EXISTS segment_now "
                      "(profile_id INTEGER PRIMARY KEY); DELETE FROM temp.segment_now;",
                      e);
    if (rc)
        return rc;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO temp.segment_now VALUES (?1)", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = db_err(s, e, "prepare");
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_int64(q, 1, members[i]);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = db_err(s, e, "write");
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (rc)
        goto out;
    int64_t args[] = {segment_id, now, (int64_t)n};
    rc = run_ints(s,
                  "UPDATE segment_members SET exited_at = ?2 WHERE segment_id = ?1 AND exited_at "
                  "IS NULL AND profile_id NOT IN (SELECT profile_id FROM temp.segment_now)",
                  args, 2, NULL, e);
    if (rc)
        goto out;
    *exited = sqlite3_changes(s->db);
    rc = run_ints(s,
                  "INSERT INTO segment_members(segment_id, profile_id, entered_at) SELECT ?1, "
                  "profile_id, ?2 FROM temp.segment_now WHERE profile_id NOT IN (SELECT "
                  "profile_id FROM segment_members WHERE segment_id = ?1 AND exited_at IS NULL)",
                  args, 2, NULL, e);
    if (rc)
        goto out;
    *entered = sqlite3_changes(s->db);
    rc = run_ints(s, "UPDATE segments SET evaluated_at = ?2, members = ?3 WHERE id = ?1", args, 3,
                  NULL, e);
out:
    if (rc) {
        exec_sql(s, "ROLLBACK TO segment_sync; RELEASE segment_sync;", NULL);
        return rc;
    }
    return exec_sql(s, "RELEASE segment_sync;", e);
}

static int sq_computed_put(struct store *st, int64_t profile_id, const char *name,
                           const char *value, int64_t now, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO computed_traits(profile_id, name, value, computed_at) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(profile_id, name) DO UPDATE SET "
                           "value = excluded.value, computed_at = excluded.computed_at",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare");
    sqlite3_bind_int64(q, 1, profile_id);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
    bind_text(q, 3, value);
    sqlite3_bind_int64(q, 4, now);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_err(s, e, "save a computed trait");
}

static int sq_computed_clear(struct store *st, const char *name, struct err *e)
{
    return run_ints(impl(st), "DELETE FROM computed_traits WHERE name = ?1", NULL, 0, name, e);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .source_add = sq_source_add,
    .source_set_plan = sq_source_set_plan,
    .source_by_key = sq_source_by_key,
    .source_by_name = sq_source_by_name,
    .source_list = sq_source_list,
    .sources_version = sq_sources_version,
    .event_append = sq_event_append,
    .event_scan = sq_event_scan,
    .event_count = sq_event_count,
    .event_replayed = sq_event_replayed,
    .quarantine_append = sq_quarantine_append,
    .quarantine_scan = sq_quarantine_scan,
    .quarantine_get = sq_quarantine_get,
    .quarantine_delete = sq_quarantine_delete,
    .seen_scan = sq_seen_scan,
    .record_keys = sq_record_keys,
    .record_put = sq_record_put,
    .order_put = sq_order_put,
    .order_line_put = sq_order_line_put,
    .orders_aggregate = sq_orders_aggregate,
    .order_add = sq_order_add,
    .order_keys = sq_order_keys,
    .record_scan = sq_record_scan,
    .quality_sources = sq_quality_sources,
    .quality_values = sq_quality_values,
    .identity_clear = sq_identity_clear,
    .identifier_put = sq_identifier_put,
    .identifier_scan = sq_identifier_scan,
    .member_put = sq_member_put,
    .profile_put = sq_profile_put,
    .profile_scan = sq_profile_scan,
    .profile_merge = sq_profile_merge,
    .record_scan_after = sq_record_scan_after,
    .identifier_profiles = sq_identifier_profiles,
    .profile_counts = sq_profile_counts,
    .profile_reassign = sq_profile_reassign,
    .identity_cursor_get = sq_identity_cursor_get,
    .identity_cursor_put = sq_identity_cursor_put,
    .profile_by_identifier = sq_profile_by_identifier,
    .profile_view = sq_profile_view,
    .data_version = sq_data_version,
    .identity_stamp = sq_identity_stamp,
    .identity_index_scan = sq_identity_index_scan,
    .profile_redirect_scan = sq_profile_redirect_scan,
    .table_count = sq_table_count,
    .api_key_add = sq_api_key_add,
    .api_key_by_hash = sq_api_key_by_hash,
    .api_key_list = sq_api_key_list,
    .api_key_revoke = sq_api_key_revoke,
    .audit_insert = sq_audit_insert,
    .audit_last = sq_audit_last,
    .audit_scan = sq_audit_scan,
    .in_transaction = sq_in_transaction,
    .location = sq_location,
    .dp_spend = sq_dp_spend,
    .dp_budget_get = sq_dp_budget_get,
    .dp_budget_set = sq_dp_budget_set,
    .review_clear_pending = sq_review_clear_pending,
    .review_drop_stale = sq_review_drop_stale,
    .review_put = sq_review_put,
    .review_scan = sq_review_scan,
    .review_decide = sq_review_decide,
    .constraint_add = sq_constraint_add,
    .constraint_scan = sq_constraint_scan,
    .merge_scan = sq_merge_scan,
    .merge_undo = sq_merge_undo,
    /* privacy: store_sqlite_privacy.c */
    .privacy_secret = sqp_privacy_secret,
    .suppression_add = sqp_suppression_add,
    .suppression_scan = sqp_suppression_scan,
    .suppression_count = sqp_suppression_count,
    .profile_family = sqp_profile_family,
    .profile_identifiers = sqp_profile_identifiers,
    .privacy_export = sqp_privacy_export,
    .privacy_unresolved = sqp_privacy_unresolved,
    .privacy_erase = sqp_privacy_erase,
    .privacy_delete_row = sqp_privacy_delete_row,
    .privacy_compact = sqp_privacy_compact,
    .consent_put = sqp_consent_put,
    .consent_scan = sqp_consent_scan,
    .consent_events = sqp_consent_events,
    .privacy_state_get = sqp_privacy_state_get,
    .privacy_state_set = sqp_privacy_state_set,
    .retention_sweep = sqp_retention_sweep,
    .identifier_token_put = sqp_identifier_token_put,
    .sealed_scan = sqp_sealed_scan,
    .sealed_update = sqp_sealed_update,
    .analytics_orders = sq_analytics_orders,
    .analytics_events = sq_analytics_events,
    .analytics_stamp = sq_analytics_stamp,
    .analytics_traits = sq_analytics_traits,
    .segment_put = sq_segment_put,
    .segment_list = sq_segment_list,
    .segment_delete = sq_segment_delete,
    .segment_members = sq_segment_members,
    .segment_sync = sq_segment_sync,
    .computed_put = sq_computed_put,
    .computed_clear = sq_computed_clear,
};

sqlite3 *store_sqlite_db(struct store *st)
{
    return impl(st)->db;
}

static int exec_sql(struct sqlite_store *s, const char *sql, struct err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(e, ERR_STORE, "%s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return ERR_STORE;
    }
    return 0;
}

static int migrate(struct sqlite_store *s, struct err *e)
{
    sqlite3_stmt *q;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "read schema version");
    if (sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    int latest = store_migrations_count ? store_migrations[store_migrations_count - 1].version : 0;
    if (version > latest)
        return err_set(e, ERR_STORE,
                       "database schema version %d is newer than this custos knows (%d): "
                       "upgrade custos",
                       version, latest);
    for (size_t i = 0; i < store_migrations_count; i++) {
        const struct migration *m = &store_migrations[i];
        if (m->version <= version)
            continue;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
        int rc = exec_sql(s, "BEGIN IMMEDIATE", e);
        if (!rc)
            rc = exec_sql(s, m->sql, e);
        if (!rc)
            rc = exec_sql(s, pragma, e);
        if (!rc)
            rc = exec_sql(s, "COMMIT", e);
        if (rc) {
            char why[sizeof(e->msg)];
            snprintf(why, sizeof(why), "%s", e ? e->msg : "");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return err_set(e, ERR_STORE, "migration %s failed: %s", m->name, why);
        }
    }
    return 0;
}

/* Process-wide: no memory statistics. With them on, every allocation SQLite makes takes
 * one global mutex, shared by the writer, the checkpointer and every reader (3% of a
 * bulk import's store thread). Only possible before SQLite initializes; if something
 * initialized it first, the default stays. */
static void sqlite_global_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_sqlite_open(const char *path, const struct store_options *opt, struct store **out,
                      struct err *e)
{
    static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
    pthread_once(&setup_once, sqlite_global_setup);
    /* SQLite takes "" and ":memory:" for databases that vanish when closed: everything
     * acknowledged would be lost. */
    if (!path[0] || strcmp(path, ":memory:") == 0)
        return err_set(e, ERR_INVALID, "the database path is empty: give --db FILE");
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->base.ops = &sqlite_ops;
    int flags =
        SQLITE_OPEN_NOMUTEX |
        (opt && opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = 0;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = err_set(e, ERR_STORE, "cannot open database %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 0);
    if (!(opt && opt->read_only)) {
        rc = exec_sql(s, "PRAGMA journal_mode = WAL", e);
        if (rc)
            goto out;
    }
    rc = exec_sql(s,
                  opt && !opt->synchronous_full ? "PRAGMA synchronous = NORMAL"
                                                : "PRAGMA synchronous = FULL",
                  e);
    if (!rc)
        rc = exec_sql(s, "PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536", e);
    if (!rc && !(opt && opt->read_only))
        rc = migrate(s, e);
    if (!rc && opt && opt->background_checkpoint && !opt->read_only)
        rc = checkpointer_start(s, path, e);
    else if (!rc && opt && opt->no_checkpoint)
        sqlite3_wal_autocheckpoint(s->db, 0);
out:
    if (rc) {
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int store_open(const char *location, const struct store_options *opt, struct store **out,
               struct err *e)
{
    if (strncmp(location, "postgres://", 11) == 0 || strncmp(location, "postgresql://", 13) == 0)
        return err_set(e, ERR_INVALID,
                       "the PostgreSQL backend is not built yet: use a SQLite file path");
    return store_sqlite_open(location, opt, out, e);
}

/* ---- OneID reads (profile_view builds a JSON document from several queries) ---- */

#define STR_(x) #x
#define STR(x)  STR_(x)

static int sq_profile_by_identifier(struct store *st, const char *type, const char *value,
                                    int64_t *profile_id, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT profile_id FROM identifiers WHERE value = ?1 AND type = ?2", -1,
                           &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare lookup");
    bind_text(q, 1, value);
    bind_text(q, 2, type);
    *profile_id = 0;
    int rc = scan_rows(s, q, int_row, NULL, profile_id, e);
    sqlite3_finalize(q);
    return rc;
}

/* Runs sql with one int64 parameter and appends each row as an object whose keys are
 * the column names to array. */
static int rows_to_json(struct sqlite_store *s, const char *sql, int64_t param, int64_t param2,
                        cJSON *array, struct err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare profile view");
    sqlite3_bind_int64(q, 1, param);
    sqlite3_bind_int64(q, 2, param2);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        cJSON_AddItemToArray(array, store_sqlite_row_json(q));
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_err(s, e, "read profile view");
}

static int sq_profile_view(struct store *st, int64_t profile_id, int recent_events, void **json,
                           struct err *e)
{
    struct sqlite_store *s = impl(st);
    int64_t id = profile_id, into = 0, hops = 0;
    /* Follow redirects of merged-away ids. */
    for (;;) {
        into = -1;
        int rc = scan_sql_args(s, "SELECT coalesce(merged_into, 0) FROM profiles WHERE id = ?1",
                               &id, 1, int_row, NULL, &into, e);
        if (rc)
            return rc;
        if (into < 0)
            return err_set(e, ERR_NOTFOUND, "no profile %" PRId64 " (run custos resolve?)",
                           profile_id);
        if (into == 0)
            break;
        if (++hops > 64)
            return err_set(e, ERR_STORE, "profile %" PRId64 ": a loop of redirects", profile_id);
        id = into;
    }
    cJSON *v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "id", (double)id);
    if (id != profile_id)
        cJSON_AddNumberToObject(v, "redirected_from", (double)profile_id);
    /* The view's sections: a name and the query filling it (?1 the profile, ?2 the
     * number of recent events). */
    static const struct {
        const char *name, *sql;
    } sections[] = {
        {"identifiers", "SELECT type, " STORE_IDENT_CLEAR " AS value FROM identifiers WHERE "
                        "profile_id = ?1 ORDER BY type, value"},
        {"trait_records",
         "SELECT s.name AS source, r.kind, r.record_key, r.file, r.line, r.time, r.imported_at, "
         "r.traits FROM profile_members m JOIN records r ON r.id = m.row_id JOIN sources s ON "
         "s.id = r.source_id WHERE m.profile_id = ?1 AND m.kind = 1 AND r.traits IS NOT NULL "
         "ORDER BY coalesce(r.time, r.imported_at) DESC, r.id DESC"},
        /* identify calls' traits, the other source of trait candidates; the most
         * recent STORE_VIEW_TRAIT_EVENTS only (a profile may have many) */
        {"trait_events",
         "SELECT s.name AS source, e.type AS kind, e.message_id AS record_key, e.timestamp AS "
         "time, e.received_at AS imported_at, coalesce(json_extract(e.raw, '$.traits'), "
         "json_extract(e.raw, '$.context.traits')) AS traits FROM profile_members m JOIN events "
         "e ON e.id = m.row_id JOIN sources s ON s.id = e.source_id WHERE m.profile_id = ?1 AND "
         "m.kind = 0 AND e.type = 'identify' AND json_valid(e.raw) ORDER BY e.timestamp DESC, "
         "e.id DESC LIMIT " STR(STORE_VIEW_TRAIT_EVENTS)},
        {"orders", "SELECT count(*) AS orders, sum(o.amount_minor) AS amount_minor, "
                   "min(o.currency) AS currency, min(o.time) AS first_order, max(o.time) AS "
                   "last_order FROM orders o WHERE o.record_id IN (SELECT row_id FROM "
                   "profile_members WHERE profile_id = ?1 AND kind = 1)"},
        {"records_by_source",
         "SELECT s.name AS source, r.kind, count(*) AS records FROM profile_members m JOIN "
         "records r ON r.id = m.row_id JOIN sources s ON s.id = r.source_id WHERE m.profile_id "
         "= ?1 AND m.kind = 1 GROUP BY s.name, r.kind ORDER BY s.name"},
        {"recent_events",
         "SELECT s.name AS source, e.type, e.event, e.timestamp, e.message_id FROM "
         "profile_members m JOIN events e ON e.id = m.row_id JOIN sources s ON s.id = "
         "e.source_id WHERE m.profile_id = ?1 AND m.kind = 0 ORDER BY e.timestamp DESC LIMIT "
         "?2"},
        {"merges", "SELECT time, from_profile, into_profile, reason FROM merges WHERE "
                   "into_profile = ?1 OR from_profile = ?1 ORDER BY time"},
    };
    int rc = 0;
    for (size_t i = 0; i < ARRAY_SIZE(sections) && !rc; i++)
        rc = rows_to_json(s, sections[i].sql, id, recent_events,
                          cJSON_AddArrayToObject(v, sections[i].name), e);
    if (rc) {
        cJSON_Delete(v);
        return rc;
    }
    *json = v;
    return 0;
}

/* ---- Profile reads from memory (identity/profile_cache.c builds its index) ---- */

static int sq_data_version(struct store *st, int64_t *version, struct err *e)
{
    return scan_sql(impl(st), "PRAGMA data_version", int_row, NULL, version, e);
}

static int stamp_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    (void)cb;
    int64_t *stamp = ctx;
    for (int i = 0; i < STORE_STAMP_N; i++)
        stamp[i] = sqlite3_column_int64(q, i);
    return 0;
}

static int sq_identity_stamp(struct store *st, int64_t stamp[STORE_STAMP_N], struct err *e)
{
    /* Each is one probe of an index (profiles_resolved_at from 0007) or of a rowid. */
    static const char sql[] = "SELECT (SELECT coalesce(max(resolved_at), 0) FROM profiles), "
                              "(SELECT coalesce(max(id), 0) FROM profiles), "
                              "(SELECT coalesce(max(id), 0) FROM merges), "
                              "(SELECT coalesce(max(id), 0) FROM records)";
    memset(stamp, 0, STORE_STAMP_N * sizeof(*stamp));
    return scan_sql(impl(st), sql, stamp_row, NULL, stamp, e);
}

static int profile_ident_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->profile_ident(col_text(q, 0), col_text(q, 1), sqlite3_column_int64(q, 2), ctx);
}

static int sq_identity_index_scan(struct store *st, store_profile_ident_cb cb, void *ctx,
                                  struct err *e)
{
    return scan_sql(impl(st), "SELECT type, value, profile_id FROM identifiers", profile_ident_row,
                    &(union row_cb){.profile_ident = cb}, ctx, e);
}

static int redirect_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    return cb->redirect(sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1), ctx);
}

static int sq_profile_redirect_scan(struct store *st, store_redirect_cb cb, void *ctx,
                                    struct err *e)
{
    return scan_sql(impl(st), "SELECT id, coalesce(merged_into, 0) FROM profiles ORDER BY id",
                    redirect_row, &(union row_cb){.redirect = cb}, ctx, e);
}

/* ---- Data quality reads (govern/quality.c does the arithmetic) ---- */

static int quality_source_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    struct quality_source_row r = {
        .source = col_text(q, 0),
        .origin = col_text(q, 1),
        .rows = sqlite3_column_int64(q, 2),
        .identifies = sqlite3_column_int64(q, 3),
        .newest = col_time(q, 4),
        .members = sqlite3_column_int64(q, 5),
        .profiles = sqlite3_column_int64(q, 6),
    };
    return cb->quality_source(&r, ctx);
}

static int quality_value_row(sqlite3_stmt *q, const union row_cb *cb, void *ctx)
{
    char *tmp;
    struct quality_value_row r = {
        .source = col_text(q, 0),
        .origin = col_text(q, 1),
        .field = col_text(q, 2),
        .value = clear_scalar(col_text(q, 3), col_text(q, 2), &tmp),
    };
    int rc = cb->quality_value(&r, ctx);
    free(tmp);
    return rc;
}

static int sq_quality_sources(struct store *st, store_quality_source_cb cb, void *ctx,
                              struct err *e)
{
    static const char sql[] =
        "WITH m AS (SELECT 'records' AS origin, r.source_id, pm.profile_id FROM profile_members "
        "pm JOIN records r ON r.id = pm.row_id WHERE pm.kind = 1 UNION ALL SELECT 'events', "
        "e.source_id, pm.profile_id FROM profile_members pm JOIN events e ON e.id = pm.row_id "
        "WHERE pm.kind = 0), "
        "ms AS (SELECT origin, source_id, count(*) AS n, count(DISTINCT profile_id) AS p FROM m "
        "GROUP BY origin, source_id), "
        "t AS (SELECT 'records' AS origin, source_id, count(*) AS n, 0 AS ident, "
        "max(coalesce(time, imported_at)) AS newest FROM records GROUP BY source_id UNION ALL "
        "SELECT 'events', source_id, count(*), sum(type = 'identify'), max(timestamp) FROM "
        "events GROUP BY source_id) "
        "SELECT s.name, t.origin, t.n, t.ident, t.newest, coalesce(ms.n, 0), coalesce(ms.p, 0) "
        "FROM t JOIN sources s ON s.id = t.source_id LEFT JOIN ms ON ms.origin = t.origin AND "
        "ms.source_id = t.source_id ORDER BY s.name, t.origin";
    return scan_sql(impl(st), sql, quality_source_row, &(union row_cb){.quality_source = cb}, ctx,
                    e);
}

static int sq_quality_values(struct store *st, store_quality_value_cb cb, void *ctx, struct err *e)
{
    /* json_each on a value that is not valid JSON would stop the whole query. */
    static const char sql[] =
        "SELECT s.name, v.origin, v.field, v.value FROM ("
        "SELECT r.source_id, 'records' AS origin, 'identifiers.' || j.key AS field, "
        "CAST(j.value AS TEXT) AS value FROM records r, json_each(CASE WHEN "
        "json_valid(r.identifiers) THEN r.identifiers END) j "
        "UNION ALL SELECT r.source_id, 'records', 'traits.' || j.key, CAST(j.value AS TEXT) "
        "FROM records r, json_each(CASE WHEN json_valid(r.traits) THEN r.traits END) j "
        "UNION ALL SELECT source_id, 'events', 'userId', user_id FROM events "
        "UNION ALL SELECT source_id, 'events', 'anonymousId', anonymous_id FROM events "
        "UNION ALL SELECT source_id, 'events', 'traits.email', CAST(coalesce(json_extract(raw, "
        "'$.traits.email'), json_extract(raw, '$.context.traits.email')) AS TEXT) FROM events "
        "WHERE type = 'identify' AND json_valid(raw) "
        "UNION ALL SELECT source_id, 'events', 'traits.phone', CAST(coalesce(json_extract(raw, "
        "'$.traits.phone'), json_extract(raw, '$.context.traits.phone')) AS TEXT) FROM events "
        "WHERE type = 'identify' AND json_valid(raw)"
        ") v JOIN sources s ON s.id = v.source_id ORDER BY s.name, v.origin, v.field, v.value";
    return scan_sql(impl(st), sql, quality_value_row, &(union row_cb){.quality_value = cb}, ctx, e);
}

/* ---- The audit log and DP budgets (migration 0008) ---- */

struct audit_scan_ctx {
    store_audit_cb cb;
    void *ctx;
};

static int audit_row_read(sqlite3_stmt *q, const union row_cb *unused, void *arg)
{
    (void)unused;
    struct audit_scan_ctx *c = arg;
    struct audit_row r = {
        .seq = sqlite3_column_int64(q, 0),
        .time = sqlite3_column_int64(q, 1),
        .actor = col_text(q, 2),
        .action = col_text(q, 3),
        .subject = col_text(q, 4),
        .detail = col_text(q, 5),
        .prev_hash = sqlite3_column_blob(q, 6),
        .prev_hash_len = (size_t)sqlite3_column_bytes(q, 6),
        .hash = sqlite3_column_blob(q, 7),
        .hash_len = (size_t)sqlite3_column_bytes(q, 7),
    };
    if (!r.actor)
        r.actor = "";
    if (!r.action)
        r.action = "";
    return c->cb(&r, c->ctx);
}

#define AUDIT_COLUMNS                                                                              \
    "SELECT seq, time, actor, action, subject, CAST(detail AS TEXT), prev_hash, hash FROM "        \
    "audit_log "

static int sq_audit_insert(struct store *st, const struct audit_row *r, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO audit_log(seq, time, actor, action, subject, detail, "
                           "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, e, "prepare audit append");
    sqlite3_bind_int64(q, 1, r->seq);
    sqlite3_bind_int64(q, 2, r->time);
    bind_text(q, 3, r->actor);
    bind_text(q, 4, r->action);
    bind_text(q, 5, r->subject);
    bind_text(q, 6, r->detail);
    sqlite3_bind_blob(q, 7, r->prev_hash, (int)r->prev_hash_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 8, r->hash, (int)r->hash_len, SQLITE_STATIC);
    int rc = step_done(s, q, e, "append to the audit log");
    sqlite3_finalize(q);
    return rc;
}

static int sq_audit_last(struct store *st, store_audit_cb cb, void *ctx, struct err *e)
{
    struct audit_scan_ctx c = {cb, ctx};
    return scan_sql(impl(st), AUDIT_COLUMNS "ORDER BY seq DESC LIMIT 1", audit_row_read, NULL, &c,
                    e);
}

static int sq_audit_scan(struct store *st, int64_t since, int64_t after_seq, store_audit_cb cb,
                         void *ctx, struct err *e)
{
    struct sqlite_store *s = impl(st);
    struct audit_scan_ctx c = {cb, ctx};
    const int64_t args[] = {since, after_seq};
    return scan_sql_args(s, AUDIT_COLUMNS "WHERE time >= ?1 AND seq > ?2 ORDER BY seq", args, 2,
                         audit_row_read, NULL, &c, e);
}

static bool sq_in_transaction(struct store *st)
{
    return !sqlite3_get_autocommit(impl(st)->db);
}

static const char *sq_location(struct store *st)
{
    const char *p = sqlite3_db_filename(impl(st)->db, "main");
    return p ? p : "";
}

/* Prepares one statement of sq_dp_spend with its parameters: ?1 the key, ?2 epsilon,
 * ?3 the default budget, ?4 now (each statement uses some of them). */
static sqlite3_stmt *budget_stmt(struct sqlite_store *s, const char *sql, int64_t key_id,
                                 double epsilon, double default_budget, int64_t now, struct err *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
        db_err(s, e, "prepare budget");
        return NULL;
    }
    int n = sqlite3_bind_parameter_count(q);
    sqlite3_bind_int64(q, 1, key_id);
    if (n >= 2)
        sqlite3_bind_double(q, 2, epsilon);
    if (n >= 3)
        sqlite3_bind_double(q, 3, default_budget);
    if (n >= 4)
        sqlite3_bind_int64(q, 4, now);
    return q;
}

static int sq_dp_spend(struct store *st, int64_t key_id, double epsilon, double default_budget,
                       int64_t now, double *spent, double *budget, struct err *e)
{
    static const char *const sql[] = {
        "INSERT INTO dp_budget(key_id, spent, updated_at) VALUES (?1, 0, ?4) ON CONFLICT(key_id) "
        "DO NOTHING",
        "UPDATE dp_budget SET spent = spent + ?2, updated_at = ?4 WHERE key_id = ?1 AND spent + "
        "?2 <= coalesce(budget, ?3) + 1e-9",
        "SELECT spent, coalesce(budget, ?3) FROM dp_budget WHERE key_id = ?1",
    };
    struct sqlite_store *s = impl(st);
    bool own = sqlite3_get_autocommit(s->db), granted = false;
    int rc = own ? sq_begin(st, e) : 0;
    for (size_t i = 0; i < ARRAY_SIZE(sql) && !rc; i++) {
        sqlite3_stmt *q = budget_stmt(s, sql[i], key_id, epsilon, default_budget, now, e);
        if (!q) {
            rc = ERR_STORE;
        } else if (i < 2) {
            rc = step_done(s, q, e, "privacy budget");
            granted = i == 1 && !rc && sqlite3_changes(s->db) == 1;
        } else if (sqlite3_step(q) == SQLITE_ROW) {
            if (spent)
                *spent = sqlite3_column_double(q, 0);
            if (budget)
                *budget = sqlite3_column_double(q, 1);
        }
        sqlite3_finalize(q);
    }
    if (!rc && !granted)
        rc = err_set(e, ERR_LIMIT, "the privacy budget of API key %" PRId64 " is spent", key_id);
    if (own) {
        if (rc == 0 || rc == ERR_LIMIT) {
            struct err ce = {0};
            int crc = sq_commit(st, &ce);
            if (crc) {
                if (e)
                    *e = ce;
                rc = crc;
            }
        } else {
            sq_rollback(st);
        }
    }
    return rc;
}

static int sq_dp_budget_get(struct store *st, int64_t key_id, double default_budget, double *spent,
                            double *budget, bool *own, struct err *e)
{
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = budget_stmt(
        s,
        "SELECT spent, coalesce(budget, ?3), budget IS NOT NULL FROM dp_budget WHERE key_id = ?1",
        key_id, 0, default_budget, 0, e);
    if (!q)
        return ERR_STORE;
    *spent = 0;
    *budget = default_budget;
    *own = false;
    int rc = 0, step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        *spent = sqlite3_column_double(q, 0);
        *budget = sqlite3_column_double(q, 1);
        *own = sqlite3_column_int(q, 2) != 0;
    } else if (step != SQLITE_DONE) {
        rc = db_err(s, e, "read privacy budget");
    }
    sqlite3_finalize(q);
    return rc;
}

static int sq_dp_budget_set(struct store *st, int64_t key_id, double budget, bool reset,
                            int64_t now, struct err *e)
{
    /* ?2 the budget (NULL: the default), ?3 1 to reset what was spent */
    static const char *const sql =
        "INSERT INTO dp_budget(key_id, spent, budget, updated_at) VALUES (?1, 0, ?2, ?4) "
        "ON CONFLICT(key_id) DO UPDATE SET budget = ?2, spent = CASE WHEN ?3 THEN 0 ELSE spent "
        "END, updated_at = ?4";
    struct sqlite_store *s = impl(st);
    sqlite3_stmt *q = budget_stmt(s, sql, key_id, budget, reset ? 1 : 0, now, e);
    if (!q)
        return ERR_STORE;
    if (budget < 0)
        sqlite3_bind_null(q, 2);
    sqlite3_bind_int(q, 3, reset ? 1 : 0);
    int rc = step_done(s, q, e, "privacy budget");
    sqlite3_finalize(q);
    return rc;
}
