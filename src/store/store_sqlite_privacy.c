/* store_sqlite_privacy.c - the privacy operations of the SQLite backend (migration
 * 0010): secrets, the suppression list, data-subject export and erasure, consents,
 * retention. See store.h for each operation and docs/internals/privacy-data.md.
 *
 * Statements here run rarely (a data-subject request, a sweep), so they are prepared
 * and finalized per call. A request about one profile first fills
 * temp.privacy_family with the profile and every id merged into it. */
#include <cJSON.h>
#include <sodium.h>

#include "store/store_sqlite_privacy.h"

static int fail(sqlite3 *db, struct err *e, const char *what)
{
    int code = sqlite3_errcode(db) == SQLITE_BUSY ? ERR_BUSY : ERR_STORE;
    return err_set(e, code, "%s: %s", what, sqlite3_errmsg(db));
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **q, struct err *e)
{
    if (sqlite3_prepare_v2(db, sql, -1, q, NULL) != SQLITE_OK)
        return fail(db, e, "prepare");
    return 0;
}

/* Runs sql (no rows) with ?1 = p1 when it has a parameter; adds the rows changed to
 * *changes when it is not NULL. */
static int run1(sqlite3 *db, const char *sql, int64_t p1, int64_t *changes, struct err *e)
{
    sqlite3_stmt *q;
    int rc = prep(db, sql, &q, e);
    if (rc)
        return rc;
    if (sqlite3_bind_parameter_count(q) >= 1)
        sqlite3_bind_int64(q, 1, p1);
    int s = sqlite3_step(q);
    if (s != SQLITE_DONE && s != SQLITE_ROW)
        rc = fail(db, e, "write");
    else if (changes)
        *changes += sqlite3_changes(db);
    sqlite3_finalize(q);
    return rc;
}

/* The first column of the first row of sql (with ?1 = p1) as an integer, 0 if none. */
static int query_int(sqlite3 *db, const char *sql, int64_t p1, int64_t *out, struct err *e)
{
    sqlite3_stmt *q;
    int rc = prep(db, sql, &q, e);
    if (rc)
        return rc;
    if (sqlite3_bind_parameter_count(q) >= 1)
        sqlite3_bind_int64(q, 1, p1);
    *out = 0;
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else if (s != SQLITE_DONE)
        rc = fail(db, e, "read");
    sqlite3_finalize(q);
    return rc;
}

static const char *col_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

int sqp_privacy_secret(struct store *st, const char *name, unsigned char out[32], struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    unsigned char fresh[32];
    randombytes_buf(fresh, sizeof(fresh));
    sqlite3_stmt *q;
    int rc = prep(
        db, "INSERT OR IGNORE INTO privacy_secrets(name, value, created_at) VALUES (?1, ?2, ?3)",
        &q, e);
    if (rc)
        return rc;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, fresh, sizeof(fresh), SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (int64_t)time(NULL) * 1000);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = fail(db, e, "keep a secret");
    sqlite3_finalize(q);
    sodium_memzero(fresh, sizeof(fresh));
    if (rc || (rc = prep(db, "SELECT value FROM privacy_secrets WHERE name = ?1", &q, e)))
        return rc;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 32)
        memcpy(out, sqlite3_column_blob(q, 0), 32);
    else
        rc = err_set(e, ERR_STORE, "the secret \"%s\" is missing or damaged", name);
    sqlite3_finalize(q);
    return rc;
}

int sqp_suppression_add(struct store *st, const unsigned char hash[32], const char *type,
                        int64_t now, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(
        db, "INSERT OR IGNORE INTO suppression(hash, type, created_at) VALUES (?1, ?2, ?3)", &q, e);
    if (rc)
        return rc;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = fail(db, e, "add to the suppression list");
    sqlite3_finalize(q);
    return rc;
}

int sqp_suppression_scan(struct store *st, store_suppression_cb cb, void *ctx, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db, "SELECT hash, type FROM suppression", &q, e);
    if (rc)
        return rc;
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW && !rc)
        if (sqlite3_column_bytes(q, 0) == 32)
            rc = cb(sqlite3_column_blob(q, 0), col_text(q, 1), ctx);
    if (!rc && s != SQLITE_DONE)
        rc = fail(db, e, "read the suppression list");
    sqlite3_finalize(q);
    return rc;
}

int sqp_suppression_count(struct store *st, int64_t *n, struct err *e)
{
    return query_int(store_sqlite_db(st), "SELECT count(*) FROM suppression", 0, n, e);
}

/* Fills temp.privacy_family with live and every id merged into it. */
static int family_fill(sqlite3 *db, int64_t live, struct err *e)
{
    int rc = run1(db, "CREATE TEMP TABLE IF NOT EXISTS privacy_family(id INTEGER PRIMARY KEY)", 0,
                  NULL, e);
    if (!rc)
        rc = run1(db, "DELETE FROM temp.privacy_family", 0, NULL, e);
    if (!rc)
        rc = run1(db,
                  "INSERT INTO temp.privacy_family WITH RECURSIVE f(id) AS (SELECT ?1 UNION "
                  "SELECT p.id FROM profiles p JOIN f ON p.merged_into = f.id) SELECT id FROM f",
                  live, NULL, e);
    return rc;
}

int sqp_profile_family(struct store *st, int64_t profile_id, int64_t *live, store_id_cb cb,
                       void *ctx, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    int64_t id = profile_id;
    for (int hops = 0;; hops++) {
        int64_t into = -1, exists = 0;
        int rc = query_int(db, "SELECT count(*) FROM profiles WHERE id = ?1", id, &exists, e);
        if (!rc && exists)
            rc = query_int(db, "SELECT coalesce(merged_into, 0) FROM profiles WHERE id = ?1", id,
                           &into, e);
        if (rc)
            return rc;
        if (!exists)
            return err_set(e, ERR_NOTFOUND, "no profile %" PRId64 " (run custos resolve?)",
                           profile_id);
        if (into == 0)
            break;
        if (hops > 64)
            return err_set(e, ERR_STORE, "profile %" PRId64 ": a loop of redirects", profile_id);
        id = into;
    }
    *live = id;
    int rc = family_fill(db, id, e);
    if (rc || !cb)
        return rc;
    sqlite3_stmt *q;
    if ((rc = prep(db, "SELECT id FROM temp.privacy_family ORDER BY id", &q, e)))
        return rc;
    int s;
    while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW)
        rc = cb(sqlite3_column_int64(q, 0), ctx);
    sqlite3_finalize(q);
    return rc;
}

int sqp_profile_identifiers(struct store *st, int64_t profile_id, store_identifier_cb cb, void *ctx,
                            struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db,
                  "SELECT id, type, " STORE_IDENT_CLEAR " FROM identifiers WHERE profile_id = ?1 "
                  "ORDER BY id",
                  &q, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(q, 1, profile_id);
    int s;
    while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW)
        rc = cb(sqlite3_column_int64(q, 0), col_text(q, 1), col_text(q, 2), ctx);
    if (!rc && s != SQLITE_DONE)
        rc = fail(db, e, "read identifiers");
    sqlite3_finalize(q);
    return rc;
}

/* Appends each row of sql (?1 = param) to array as an object keyed by column name;
 * text that holds a JSON object or array is nested as JSON. */
static int rows_json(sqlite3 *db, const char *sql, int64_t param, cJSON *array, struct err *e)
{
    sqlite3_stmt *q;
    int rc = prep(db, sql, &q, e);
    if (rc)
        return rc;
    if (sqlite3_bind_parameter_count(q) >= 1)
        sqlite3_bind_int64(q, 1, param);
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        cJSON_AddItemToArray(array, store_sqlite_row_json(q));
    }
    if (s != SQLITE_DONE)
        rc = fail(db, e, "read for the export");
    sqlite3_finalize(q);
    return rc;
}

#define FAMILY "(SELECT id FROM temp.privacy_family)"
#define MEMBERS(kind)                                                                              \
    "(SELECT row_id FROM profile_members WHERE kind = " #kind " AND profile_id IN " FAMILY ")"

int sqp_privacy_export(struct store *st, int64_t live, void **json, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    static const struct {
        const char *name, *sql;
    } sections[] = {
        {"profiles", "SELECT id, merged_into, identifiers, members, resolved_at FROM profiles "
                     "WHERE id IN " FAMILY " ORDER BY id"},
        {"identifiers", "SELECT id, type, " STORE_IDENT_CLEAR
                        " AS value FROM identifiers WHERE profile_id IN " FAMILY " ORDER BY id"},
        {"records", "SELECT r.id, s.name AS source, r.kind, r.record_key, r.file, r.line, r.time, "
                    "r.imported_at, r.identifiers, r.traits, r.fields FROM records r JOIN sources "
                    "s ON s.id = r.source_id WHERE r.id IN " MEMBERS(1) " ORDER BY r.id"},
        {"orders", "SELECT o.id, s.name AS source, o.order_id, o.record_id, o.time, "
                   "o.amount_minor, o.currency, o.status, o.channel, o.store, o.lines FROM orders "
                   "o JOIN sources s ON s.id = o.source_id WHERE o.record_id IN " MEMBERS(
                       1) " OR (o.source_id, o.order_id) IN (SELECT source_id, order_id FROM "
                          "order_lines WHERE record_id IN " MEMBERS(1) ") ORDER BY o.id"},
        {"order_lines", "SELECT l.record_id, s.name AS source, l.order_id, l.time, l.sku, l.name, "
                        "l.category, l.quantity, l.unit_price_minor, l.amount_minor, l.currency, "
                        "l.status, l.channel, l.store FROM order_lines l JOIN sources s ON s.id = "
                        "l.source_id WHERE l.record_id IN " MEMBERS(1) " ORDER BY l.record_id"},
        {"events", "SELECT e.id, s.name AS source, e.type, e.event, e.user_id, e.anonymous_id, "
                   "e.message_id, e.timestamp, e.received_at, e.sent_at, e.raw FROM events e JOIN "
                   "sources s ON s.id = e.source_id WHERE e.id IN " MEMBERS(0) " ORDER BY e.id"},
        {"consents", "SELECT id, profile_id, identifier_type, identifier_value, purpose, status, "
                     "time, source, policy_version, evidence FROM consents WHERE profile_id IN "
                     "" FAMILY " OR (identifier_type, identifier_value) IN (SELECT type, value "
                     "FROM identifiers WHERE profile_id IN " FAMILY ") ORDER BY time, id"},
        {"merges", "SELECT id, time, from_profile, into_profile, reason FROM merges WHERE "
                   "from_profile IN " FAMILY " OR into_profile IN " FAMILY " ORDER BY time, id"},
    };
    int rc = family_fill(db, live, e);
    if (rc)
        return rc;
    cJSON *v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "profile", (double)live);
    for (size_t i = 0; i < ARRAY_SIZE(sections) && !rc; i++)
        rc = rows_json(db, sections[i].sql, live, cJSON_AddArrayToObject(v, sections[i].name), e);
    if (rc) {
        cJSON_Delete(v);
        return rc;
    }
    *json = v;
    return 0;
}

/* The columns scan_events reads, of an events table named e. */
#define EVENT_COLUMNS                                                                              \
    "e.id, e.source_id, e.type, e.event, e.user_id, e.anonymous_id, e.message_id, e.timestamp, "   \
    "e.raw"

/* Steps q, whose columns are EVENT_COLUMNS, giving each row to cb; finalizes q. */
static int scan_events(sqlite3 *db, sqlite3_stmt *q, store_event_cb cb, void *ctx, struct err *e)
{
    int rc = 0, s;
    while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW) {
        struct event_row r = {
            .id = sqlite3_column_int64(q, 0),
            .source_id = sqlite3_column_int64(q, 1),
            .type = col_text(q, 2),
            .event = col_text(q, 3),
            .user_id = col_text(q, 4),
            .anonymous_id = col_text(q, 5),
            .message_id = col_text(q, 6),
            .timestamp = sqlite3_column_int64(q, 7),
        };
        char *tmp = NULL;
        r.raw = store_sqlite_clear_text(q, 8, &r.raw_len, &tmp, "event");
        rc = cb(&r, ctx);
        free(tmp);
    }
    if (!rc && s != SQLITE_DONE)
        rc = fail(db, e, "read events");
    sqlite3_finalize(q);
    return rc;
}

int sqp_privacy_unresolved(struct store *st, store_event_cb on_event, store_import_row_cb on_record,
                           void *ctx, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db,
                  "SELECT " EVENT_COLUMNS " FROM events e WHERE NOT EXISTS (SELECT 1 FROM "
                  "profile_members m WHERE m.kind = 0 AND m.row_id = e.id) ORDER BY e.id",
                  &q, e);
    if (!rc)
        rc = scan_events(db, q, on_event, ctx, e);
    if (rc || (rc = prep(db,
                         "SELECT id, source_id, kind, record_key, identifiers FROM records r "
                         "WHERE NOT EXISTS (SELECT 1 FROM profile_members m WHERE m.kind = 1 AND "
                         "m.row_id = r.id) ORDER BY id",
                         &q, e)))
        return rc;
    int s;
    while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW) {
        struct import_row r = {
            .id = sqlite3_column_int64(q, 0),
            .source_id = sqlite3_column_int64(q, 1),
            .kind = col_text(q, 2),
            .record_key = col_text(q, 3),
        };
        char *tmp = NULL;
        r.identifiers = store_sqlite_clear_text(q, 4, NULL, &tmp, "record");
        rc = on_record(&r, ctx);
        free(tmp);
    }
    if (!rc && s != SQLITE_DONE)
        rc = fail(db, e, "read records");
    sqlite3_finalize(q);
    return rc;
}

int sqp_privacy_erase(struct store *st, int64_t live, struct erase_counts *n, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    memset(n, 0, sizeof(*n));
    int rc = run1(db, "PRAGMA secure_delete = ON", 0, NULL, e);
    if (!rc)
        rc = family_fill(db, live, e);
    if (!rc)
        rc = run1(db,
                  "CREATE TEMP TABLE IF NOT EXISTS privacy_rows(kind INTEGER, row_id INTEGER, "
                  "PRIMARY KEY (kind, row_id)) WITHOUT ROWID",
                  0, NULL, e);
    if (!rc)
        rc = run1(db, "DELETE FROM temp.privacy_rows", 0, NULL, e);
    if (!rc)
        rc = run1(db,
                  "INSERT INTO temp.privacy_rows SELECT kind, row_id FROM profile_members WHERE "
                  "profile_id IN " FAMILY,
                  0, NULL, e);
    /* In this order: what is found through another table goes before that table. */
    static const struct {
        size_t counter; /* offset into struct erase_counts */
        const char *sql;
    } steps[] = {
        {offsetof(struct erase_counts, events), "DELETE FROM events WHERE id IN (SELECT row_id "
                                                "FROM temp.privacy_rows WHERE kind = 0)"},
        {offsetof(struct erase_counts, orders),
         "DELETE FROM orders WHERE record_id IN (SELECT row_id FROM temp.privacy_rows WHERE kind "
         "= 1) OR (source_id, order_id) IN (SELECT source_id, order_id FROM order_lines WHERE "
         "record_id IN (SELECT row_id FROM temp.privacy_rows WHERE kind = 1))"},
        {offsetof(struct erase_counts, order_lines),
         "DELETE FROM order_lines WHERE record_id IN (SELECT row_id FROM temp.privacy_rows WHERE "
         "kind = 1)"},
        {offsetof(struct erase_counts, records), "DELETE FROM records WHERE id IN (SELECT row_id "
                                                 "FROM temp.privacy_rows WHERE kind = 1)"},
        {offsetof(struct erase_counts, members),
         "DELETE FROM profile_members WHERE profile_id IN " FAMILY},
        {offsetof(struct erase_counts, consents),
         "DELETE FROM consents WHERE profile_id IN " FAMILY " OR (identifier_type, "
         "identifier_value) IN (SELECT type, value FROM identifiers WHERE profile_id IN " FAMILY
         ")"},
        /* encryption at rest: the clear values of blind-indexed identifiers (counted
         * with the derived rows; the identifiers themselves are counted below) */
        {offsetof(struct erase_counts, derived),
         "DELETE FROM identifier_tokens WHERE value IN (SELECT value FROM identifiers WHERE "
         "profile_id IN " FAMILY ")"},
        {offsetof(struct erase_counts, identifiers),
         "UPDATE identifiers SET value = '(erased)#' || id, profile_id = 0 WHERE profile_id IN "
         "" FAMILY},
        {offsetof(struct erase_counts, merges),
         "DELETE FROM merges WHERE from_profile IN " FAMILY " OR into_profile IN " FAMILY},
        {offsetof(struct erase_counts, profiles), "DELETE FROM profiles WHERE id IN " FAMILY},
        /* What was derived from the person: scores and tags, segment stays, the review
         * queue's pairs and the journal of undone merges. */
        {offsetof(struct erase_counts, derived),
         "DELETE FROM computed_traits WHERE profile_id IN " FAMILY},
        {offsetof(struct erase_counts, derived),
         "DELETE FROM segment_members WHERE profile_id IN " FAMILY},
        {offsetof(struct erase_counts, derived),
         "DELETE FROM review_pairs WHERE profile_a IN " FAMILY " OR profile_b IN " FAMILY},
        {offsetof(struct erase_counts, derived),
         "DELETE FROM unmerges WHERE profile IN " FAMILY " OR from_profile IN " FAMILY},
    };
    for (size_t i = 0; i < ARRAY_SIZE(steps) && !rc; i++)
        rc = run1(db, steps[i].sql, 0, (int64_t *)((char *)n + steps[i].counter), e);
    return rc;
}

int sqp_privacy_delete_row(struct store *st, const char *table, int64_t id, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    int rc = run1(db, "PRAGMA secure_delete = ON", 0, NULL, e);
    if (rc)
        return rc;
    if (strcmp(table, "events") == 0) {
        /* Consents read from the event are held by its userId / anonymousId. */
        rc = run1(db,
                  "DELETE FROM consents WHERE profile_id IS NULL AND ((identifier_type = "
                  "'user_id' AND identifier_value = (SELECT trim(user_id, ' ' || char(9)) FROM "
                  "events WHERE id = ?1)) OR (identifier_type = 'anonymous_id' AND "
                  "identifier_value = (SELECT trim(anonymous_id, ' ' || char(9)) FROM events "
                  "WHERE id = ?1)))",
                  id, NULL, e);
        if (!rc)
            rc =
                run1(db, "DELETE FROM profile_members WHERE kind = 0 AND row_id = ?1", id, NULL, e);
        if (!rc)
            rc = run1(db, "DELETE FROM events WHERE id = ?1", id, NULL, e);
    } else if (strcmp(table, "records") == 0) {
        rc = run1(db,
                  "DELETE FROM orders WHERE record_id = ?1 OR (source_id, order_id) IN (SELECT "
                  "source_id, order_id FROM order_lines WHERE record_id = ?1)",
                  id, NULL, e);
        if (!rc)
            rc = run1(db, "DELETE FROM order_lines WHERE record_id = ?1", id, NULL, e);
        if (!rc)
            rc =
                run1(db, "DELETE FROM profile_members WHERE kind = 1 AND row_id = ?1", id, NULL, e);
        if (!rc)
            rc = run1(db, "DELETE FROM records WHERE id = ?1", id, NULL, e);
    } else if (strcmp(table, "quarantine") == 0) {
        rc = run1(db, "DELETE FROM quarantine WHERE id = ?1", id, NULL, e);
    } else {
        rc = err_set(e, ERR_INVALID, "cannot delete rows of \"%s\"", table);
    }
    return rc;
}

static int checkpoint_truncate(sqlite3 *db, struct err *e)
{
    int log = 0, done = 0;
    int s = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (s == SQLITE_BUSY)
        return err_set(e, ERR_BUSY,
                       "the WAL could not be emptied: another connection is reading; the erased "
                       "bytes stay in the WAL until its next checkpoint");
    if (s != SQLITE_OK)
        return fail(db, e, "checkpoint");
    return 0;
}

int sqp_privacy_compact(struct store *st, bool vacuum, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    int rc = checkpoint_truncate(db, e);
    if (!rc && vacuum)
        rc = run1(db, "VACUUM", 0, NULL, e);
    if (!rc && vacuum)
        rc = checkpoint_truncate(db, e);
    return rc;
}

int sqp_consent_put(struct store *st, struct consent_row *c, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db,
                  "INSERT INTO consents(profile_id, identifier_type, identifier_value, purpose, "
                  "status, time, source, policy_version, evidence) VALUES (?1, ?2, ?3, ?4, ?5, "
                  "?6, ?7, ?8, ?9)",
                  &q, e);
    if (rc)
        return rc;
    if (c->profile_id)
        sqlite3_bind_int64(q, 1, c->profile_id);
    const char *texts[] = {c->identifier_type, c->identifier_value, c->purpose, c->status};
    for (int i = 0; i < 4; i++)
        if (texts[i])
            sqlite3_bind_text(q, 2 + i, texts[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, c->time);
    sqlite3_bind_text(q, 7, c->source ? c->source : "", -1, SQLITE_STATIC);
    if (c->policy_version)
        sqlite3_bind_text(q, 8, c->policy_version, -1, SQLITE_STATIC);
    if (c->evidence)
        sqlite3_bind_text(q, 9, c->evidence, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = fail(db, e, "add a consent");
    else
        c->id = sqlite3_last_insert_rowid(db);
    sqlite3_finalize(q);
    return rc;
}

int sqp_consent_scan(struct store *st, int64_t live, store_consent_cb cb, void *ctx, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    int rc = family_fill(db, live, e);
    sqlite3_stmt *q;
    if (rc || (rc = prep(db,
                         "SELECT id, coalesce(profile_id, 0), identifier_type, identifier_value, "
                         "purpose, status, time, source, policy_version, evidence FROM consents "
                         "WHERE profile_id IN " FAMILY " OR (identifier_type, identifier_value) "
                         "IN (SELECT type, value FROM identifiers WHERE profile_id IN " FAMILY
                         ") ORDER BY time, id",
                         &q, e)))
        return rc;
    int s;
    while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW) {
        struct consent_row c = {
            .id = sqlite3_column_int64(q, 0),
            .profile_id = sqlite3_column_int64(q, 1),
            .identifier_type = col_text(q, 2),
            .identifier_value = col_text(q, 3),
            .purpose = col_text(q, 4),
            .status = col_text(q, 5),
            .time = sqlite3_column_int64(q, 6),
            .source = col_text(q, 7),
            .policy_version = col_text(q, 8),
            .evidence = col_text(q, 9),
        };
        rc = cb(&c, ctx);
    }
    if (!rc && s != SQLITE_DONE)
        rc = fail(db, e, "read consents");
    sqlite3_finalize(q);
    return rc;
}

int sqp_consent_events(struct store *st, int64_t after_id, store_event_cb cb, void *ctx,
                       struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db,
                  "SELECT " EVENT_COLUMNS " FROM events e WHERE e.id > ?1 AND (instr(e.raw, "
                  "'\"consent\"') > 0 OR (e.type = 'track' AND e.event = 'Consent Updated')) "
                  "ORDER BY e.id",
                  &q, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(q, 1, after_id);
    return scan_events(db, q, cb, ctx, e);
}

int sqp_privacy_state_get(struct store *st, const char *name, int64_t *v, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db, "SELECT value FROM privacy_state WHERE name = ?1", &q, e);
    if (rc)
        return rc;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    *v = 0;
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW)
        *v = sqlite3_column_int64(q, 0);
    else if (s != SQLITE_DONE)
        rc = fail(db, e, "read privacy state");
    sqlite3_finalize(q);
    return rc;
}

int sqp_privacy_state_set(struct store *st, const char *name, int64_t v, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db, "INSERT OR REPLACE INTO privacy_state(name, value) VALUES (?1, ?2)", &q, e);
    if (rc)
        return rc;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, v);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = fail(db, e, "write privacy state");
    sqlite3_finalize(q);
    return rc;
}

int sqp_retention_sweep(struct store *st, const char *category, int64_t cutoff, bool dry_run,
                        int64_t *n, struct err *e)
{
    /* count: the rows of the category past the cutoff; then the deletes, dependants
     * first (they find their rows through the category's table). */
    static const struct {
        const char *category, *count, *deletes[4];
    } kinds[] = {
        {"events",
         "SELECT count(*) FROM events WHERE timestamp < ?1",
         {"DELETE FROM profile_members WHERE kind = 0 AND row_id IN (SELECT id FROM events WHERE "
          "timestamp < ?1)",
          "DELETE FROM events WHERE timestamp < ?1"}},
        {"quarantine",
         "SELECT count(*) FROM quarantine WHERE received_at < ?1",
         {"DELETE FROM quarantine WHERE received_at < ?1"}},
        {"records",
         "SELECT count(*) FROM records WHERE coalesce(time, imported_at) < ?1",
         {"DELETE FROM orders WHERE record_id IN (SELECT id FROM records WHERE coalesce(time, "
          "imported_at) < ?1) OR (source_id, order_id) IN (SELECT l.source_id, l.order_id FROM "
          "order_lines l JOIN records r ON r.id = l.record_id WHERE coalesce(r.time, "
          "r.imported_at) < ?1)",
          "DELETE FROM order_lines WHERE record_id IN (SELECT id FROM records WHERE "
          "coalesce(time, imported_at) < ?1)",
          "DELETE FROM profile_members WHERE kind = 1 AND row_id IN (SELECT id FROM records "
          "WHERE coalesce(time, imported_at) < ?1)",
          "DELETE FROM records WHERE coalesce(time, imported_at) < ?1"}},
        {"consents",
         "SELECT count(*) FROM consents WHERE time < ?1",
         {"DELETE FROM consents WHERE time < ?1"}},
    };
    sqlite3 *db = store_sqlite_db(st);
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        if (strcmp(kinds[k].category, category) != 0)
            continue;
        int rc = query_int(db, kinds[k].count, cutoff, n, e);
        for (size_t i = 0; !rc && !dry_run && i < 4 && kinds[k].deletes[i]; i++)
            rc = run1(db, kinds[k].deletes[i], cutoff, NULL, e);
        return rc;
    }
    return err_set(e, ERR_INVALID,
                   "no data category \"%s\" (say events, quarantine, records or "
                   "consents)",
                   category);
}

/* ---- encryption at rest (migration 0012) ---- */

int sqp_identifier_token_put(struct store *st, const char *value, const char *type,
                             const char *token, struct err *e)
{
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc =
        prep(db, "INSERT OR IGNORE INTO identifier_tokens(value, type, token) VALUES (?1, ?2, ?3)",
             &q, e);
    if (rc)
        return rc;
    sqlite3_bind_text(q, 1, value, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, token, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = fail(db, e, "keep an identifier's token");
    sqlite3_finalize(q);
    return rc;
}

/* The sealed columns: table, column, and the column naming a bare token's field. */
static const struct sealed_column {
    const char *what, *table, *column, *field;
} sealed_columns[] = {
    {"events.raw", "events", "raw", NULL},
    {"quarantine.raw", "quarantine", "raw", NULL},
    {"records.identifiers", "records", "identifiers", NULL},
    {"records.traits", "records", "traits", NULL},
    {"records.fields", "records", "fields", NULL},
    {"identifier_tokens.token", "identifier_tokens", "token", "type"},
};

static const struct sealed_column *sealed_column(const char *what)
{
    for (size_t i = 0; i < sizeof(sealed_columns) / sizeof(sealed_columns[0]); i++)
        if (strcmp(sealed_columns[i].what, what) == 0)
            return &sealed_columns[i];
    return NULL;
}

int sqp_sealed_scan(struct store *st, const char *what, int64_t after_id, int64_t limit,
                    store_sealed_cb cb, void *ctx, struct err *e)
{
    const struct sealed_column *c = sealed_column(what);
    if (!c)
        return err_set(e, ERR_INVALID, "no sealed column %s", what);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT id, %s, %s FROM %s WHERE id > ?1 AND instr(%s, 'enc:v1:') > 0 ORDER BY id "
             "LIMIT ?2",
             c->column, c->field ? c->field : "NULL", c->table, c->column);
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db, sql, &q, e), s = SQLITE_DONE;
    if (rc)
        return rc;
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 2, limit);
    while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW)
        rc = cb(sqlite3_column_int64(q, 0), (const char *)sqlite3_column_blob(q, 1),
                (size_t)sqlite3_column_bytes(q, 1), col_text(q, 2), ctx);
    if (!rc && s != SQLITE_DONE)
        rc = fail(db, e, "read sealed rows");
    sqlite3_finalize(q);
    return rc;
}

int sqp_sealed_update(struct store *st, const char *what, int64_t id, const char *text, size_t len,
                      struct err *e)
{
    const struct sealed_column *c = sealed_column(what);
    if (!c)
        return err_set(e, ERR_INVALID, "no sealed column %s", what);
    char sql[160];
    snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ?1 WHERE id = ?2", c->table, c->column);
    sqlite3 *db = store_sqlite_db(st);
    sqlite3_stmt *q;
    int rc = prep(db, sql, &q, e);
    if (rc)
        return rc;
    /* quarantined bodies are BLOBs, everything else TEXT, as written */
    if (strcmp(c->table, "quarantine") == 0)
        sqlite3_bind_blob(q, 1, text, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, id);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = fail(db, e, "rewrite a sealed row");
    sqlite3_finalize(q);
    return rc;
}
