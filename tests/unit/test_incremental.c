/* test_incremental.c - incremental resolution against the full one, on small
 * hand-made data: the same rows in the same order give the same profiles (same ids)
 * whether resolved a few at a time or all at once; a record that joins two profiles
 * merges them, journaled like a full resolution does; a limit refuses a link; a
 * blocked value links nobody; a full resolution run meanwhile makes the resolver load
 * the graph again; changed rules stop it with a clear error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/textbuf.h"
#include "core/timeutil.h"
#include "identity/incremental.h"

#define TYPES                                                                                      \
    "id_number:1,user_id:1,member_card:1,wechat_unionid:1,crm_id:3,email:5,phone:3,"               \
    "wechat_openid:3,marketplace_buyer:3,device_id:10,anonymous_id:0"
#define BLOCKED "null,none,0,test@test.com,+8613800000000"

struct db {
    char path[96];
    struct store *st;
    int64_t source;
    int64_t nrec, nev;
};

static char dir[64];
static int ndb;

static void db_open(struct db *d)
{
    struct err e = {0};
    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s/db%d.sqlite", dir, ndb++);
    if (store_open(d->path, NULL, &d->st, &e))
        fail_msg("store_open: %s", e.msg);
    unsigned char key[32] = {(unsigned char)ndb};
    if (d->st->ops->source_add(d->st, "web", key, "k", NULL, &d->source, &e))
        fail_msg("source_add: %s", e.msg);
}

static void db_close(struct db *d)
{
    store_close(d->st);
    d->st = NULL;
}

static void add_record(struct db *d, const char *identifiers)
{
    struct err e = {0};
    char key[32];
    snprintf(key, sizeof(key), "R%" PRId64, ++d->nrec);
    struct import_row r = {.source_id = d->source,
                           .kind = "contact",
                           .record_key = key,
                           .file = "t.csv",
                           .line = d->nrec,
                           .time = STORE_NULL_TIME,
                           .identifiers = identifiers,
                           .imported_at = 1};
    if (d->st->ops->record_put(d->st, &r, &e))
        fail_msg("record_put: %s", e.msg);
}

/* An event: user and anonymous id (either may be NULL), and more JSON members. */
static void add_event(struct db *d, const char *type, const char *user, const char *anon,
                      const char *more)
{
    struct err e = {0};
    char mid[32], raw[1024];
    snprintf(mid, sizeof(mid), "m%" PRId64, ++d->nev);
    int n = snprintf(raw, sizeof(raw), "{\"type\":\"%s\",\"messageId\":\"%s\"%s%s%s%s%s%s%s%s}",
                     type, mid, user ? ",\"userId\":\"" : "", user ? user : "", user ? "\"" : "",
                     anon ? ",\"anonymousId\":\"" : "", anon ? anon : "", anon ? "\"" : "",
                     more ? "," : "", more ? more : "");
    struct event_row r = {.source_id = d->source,
                          .type = type,
                          .user_id = user,
                          .anonymous_id = anon,
                          .message_id = mid,
                          .timestamp = 1,
                          .received_at = time_now_ms(),
                          .sent_at = STORE_NULL_TIME,
                          .raw = raw,
                          .raw_len = (size_t)n};
    if (d->st->ops->event_append(d->st, &r, &e))
        fail_msg("event_append: %s", e.msg);
}

/* The rows of a query, one line each, fields separated by '|'. */
static char *dump(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    struct textbuf b = {0};
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(q); i++) {
            const unsigned char *t = sqlite3_column_text(q, i);
            textbuf_printf(&b, "%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
        }
        textbuf_put(&b, "\n", 1);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    textbuf_put(&b, "", 0);
    assert_false(b.failed);
    return b.p ? b.p : strdup("");
}

static int64_t query_int(const char *path, const char *sql)
{
    char *s = dump(path, sql);
    int64_t v = strtoll(s, NULL, 10);
    free(s);
    return v;
}

#define MEMBERS     "SELECT kind, row_id, profile_id FROM profile_members ORDER BY kind, row_id"
#define IDENTIFIERS "SELECT id, type, value, profile_id FROM identifiers ORDER BY id"
#define LIVE                                                                                       \
    "SELECT id, identifiers, members FROM profiles WHERE merged_into IS NULL AND members > 0 "     \
    "ORDER BY id"
#define MERGES "SELECT from_profile, into_profile FROM merges ORDER BY from_profile"

static void assert_same(const char *a, const char *b, const char *sql)
{
    char *x = dump(a, sql), *y = dump(b, sql);
    if (strcmp(x, y) != 0)
        fail_msg("%s differs:\nincremental:\n%s\nfull:\n%s", sql, x, y);
    free(x);
    free(y);
}

static struct idgraph_rules rules;

static int setup(void **state)
{
    (void)state;
    json_arena_install(); /* as main() does: resolution parses events on the arena */
    snprintf(dir, sizeof(dir), "/tmp/custos-test-inc-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    struct err e = {0};
    return idgraph_rules_parse(TYPES, BLOCKED, &rules, &e);
}

static int teardown(void **state)
{
    (void)state;
    idgraph_rules_release(&rules);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void step(struct incremental *inc, uint64_t expect)
{
    struct err e = {0};
    uint64_t n = 0;
    if (incremental_step(inc, 0, &n, &e))
        fail_msg("incremental_step: %s", e.msg);
    assert_int_equal(n, expect);
}

static void full(struct db *d, struct resolve_stats *s)
{
    struct err e = {0};
    struct resolve_stats mine;
    if (resolve_full(d->st, &rules, NULL, NULL, false, s ? s : &mine, &e))
        fail_msg("resolve_full: %s", e.msg);
}

/* A stream of events over small pools of ids, so that profiles form, merge (an
 * identify linking an anonymous visitor to a user, an e-mail shared later) and meet
 * limits (two user ids on one e-mail). */
static void stream(struct db *d, int from, int to)
{
    for (int i = from; i < to; i++) {
        char user[16], anon[16], more[160];
        snprintf(user, sizeof(user), "U%d", (i * 7) % 23);
        snprintf(anon, sizeof(anon), "a%d", (i * 5) % 37);
        switch (i % 5) {
        case 0:
            add_event(d, "track", NULL, anon, "\"event\":\"Viewed\"");
            break;
        case 1:
            snprintf(more, sizeof(more), "\"traits\":{\"email\":\" User%d@Example.COM \"}",
                     (i * 3) % 17);
            add_event(d, "identify", user, anon, more);
            break;
        case 2:
            snprintf(more, sizeof(more), "\"previousId\":\"a%d\"", (i * 11) % 37);
            add_event(d, "alias", user, NULL, more);
            break;
        case 3:
            snprintf(more, sizeof(more), "\"context\":{\"traits\":{\"phone\":\"1390000%04d\"}}",
                     (i * 13) % 29);
            add_event(d, "track", NULL, anon, more);
            break;
        default:
            add_event(d, "page", NULL, NULL, "\"name\":\"home\""); /* no identifier */
        }
    }
}

/* Events streamed in and resolved a few at a time give what one full resolution of
 * the same events gives: the same members, identifiers and live profiles, ids and
 * counts included; and the same merges as a full resolution after every chunk. */
static void test_stream_matches_full(void **state)
{
    (void)state;
    struct db inc_db, full_db, step_db;
    db_open(&inc_db);
    db_open(&full_db);
    db_open(&step_db);
    struct incremental *inc;
    struct err e = {0};
    assert_int_equal(incremental_new(inc_db.st, &rules, &inc, &e), 0);
    int chunks[] = {1, 7, 20, 33, 60, 61, 120, 200, 310};
    int at = 0;
    for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
        stream(&inc_db, at, chunks[c]);
        stream(&full_db, at, chunks[c]);
        stream(&step_db, at, chunks[c]);
        step(inc, (uint64_t)(chunks[c] - at));
        full(&step_db, NULL);
        at = chunks[c];
    }
    full(&full_db, NULL);
    assert_same(inc_db.path, full_db.path, MEMBERS);
    assert_same(inc_db.path, full_db.path, IDENTIFIERS);
    assert_same(inc_db.path, full_db.path, LIVE);
    assert_same(inc_db.path, step_db.path, MERGES);
    struct incremental_stats s;
    incremental_get_stats(inc, &s);
    assert_int_equal(s.events, 310);
    assert_int_equal(s.unresolved, 62); /* the pages */
    assert_true(s.merges > 0);
    assert_int_equal((int64_t)s.merges, query_int(inc_db.path, "SELECT count(*) FROM merges"));
    assert_int_equal(s.loads, 1);
    /* A step with nothing new reads nothing. */
    step(inc, 0);
    /* A full resolution of what the incremental one wrote changes no profile. */
    struct resolve_stats fs;
    full(&inc_db, &fs);
    assert_int_equal(fs.merges, 0);
    assert_same(inc_db.path, full_db.path, MEMBERS);
    incremental_free(inc);
    db_close(&inc_db);
    db_close(&full_db);
    db_close(&step_db);
}

/* A record carrying an identifier of each of two profiles joins them: the larger id
 * redirects to the smaller, the merge is journaled, identifiers and members move. */
static void test_record_joins_two_profiles(void **state)
{
    (void)state;
    struct db d, f;
    db_open(&d);
    db_open(&f);
    struct incremental *inc;
    struct err e = {0};
    assert_int_equal(incremental_new(d.st, &rules, &inc, &e), 0);
    const char *rows[] = {"{\"email\":\"li@163.com\"}", "{\"phone\":\"13971829364\"}",
                          "{\"email\":\"LI@163.com\",\"phone\":\"+86 139 7182 9364\"}"};
    for (int i = 0; i < 2; i++) {
        add_record(&d, rows[i]);
        add_record(&f, rows[i]);
    }
    step(inc, 2);
    full(&f, NULL);
    assert_same(d.path, f.path, MEMBERS);
    assert_int_equal(query_int(d.path, "SELECT count(*) FROM profiles WHERE merged_into IS NULL"),
                     2);
    add_record(&d, rows[2]);
    add_record(&f, rows[2]);
    step(inc, 1);
    struct resolve_stats fs;
    full(&f, &fs);
    assert_int_equal(fs.merges, 1);
    assert_same(d.path, f.path, MEMBERS);
    assert_same(d.path, f.path, IDENTIFIERS);
    assert_same(d.path, f.path, LIVE);
    assert_same(d.path, f.path, MERGES);
    char *m = dump(d.path, "SELECT from_profile, into_profile, reason LIKE '%links identifiers%' "
                           "FROM merges");
    assert_string_equal(m, "2|1|1\n");
    free(m);
    m = dump(d.path, "SELECT id, merged_into FROM profiles ORDER BY id");
    assert_string_equal(m, "1|NULL\n2|1\n");
    free(m);
    m = dump(d.path, "SELECT DISTINCT profile_id FROM profile_members");
    assert_string_equal(m, "1\n");
    free(m);
    m = dump(d.path, "SELECT identifiers, members FROM profiles WHERE id = 1");
    assert_string_equal(m, "2|3\n");
    free(m);
    struct incremental_stats s;
    incremental_get_stats(inc, &s);
    assert_int_equal(s.merges, 1);
    assert_int_equal(s.joined, 1);
    assert_int_equal(s.created, 2);
    incremental_free(inc);
    db_close(&d);
    db_close(&f);
}

/* user_id:1: a record with U2's id and U1's e-mail cannot join U1's profile (two user
 * ids); it joins U2's, the link is counted as refused, nothing merges. A blocked
 * phone links nobody and is no identifier. */
static void test_limit_and_blocked(void **state)
{
    (void)state;
    struct db d, f;
    db_open(&d);
    db_open(&f);
    struct incremental *inc;
    struct err e = {0};
    assert_int_equal(incremental_new(d.st, &rules, &inc, &e), 0);
    const char *rows[] = {
        "{\"user_id\":\"U1\",\"email\":\"one@qq.com\"}",
        "{\"user_id\":\"U2\",\"email\":\"two@qq.com\"}",
        "{\"user_id\":\"U2\",\"email\":\"one@qq.com\"}",
        "{\"phone\":\"13800000000\",\"member_card\":\"M1\"}",
        "{\"phone\":\"138 0000 0000\",\"member_card\":\"M2\"}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        add_record(&d, rows[i]);
        add_record(&f, rows[i]);
        step(inc, 1);
    }
    struct resolve_stats fs;
    full(&f, &fs);
    assert_same(d.path, f.path, MEMBERS);
    assert_same(d.path, f.path, IDENTIFIERS);
    assert_same(d.path, f.path, LIVE);
    struct incremental_stats s;
    incremental_get_stats(inc, &s);
    assert_int_equal(s.refused_links, 1);
    assert_int_equal(fs.refused_links, 1);
    assert_int_equal(s.merges, 0);
    char *m = dump(d.path, "SELECT row_id, profile_id FROM profile_members ORDER BY row_id");
    /* R3 went with U2 (user_id before email); R4 and R5 are two people. */
    assert_string_equal(m, "1|1\n2|3\n3|3\n4|5\n5|6\n");
    free(m);
    assert_int_equal(query_int(d.path, "SELECT count(*) FROM identifiers WHERE type = 'phone'"), 0);
    incremental_free(inc);
    db_close(&d);
    db_close(&f);
}

/* A full resolution run meanwhile (another connection: another process in life) bumps
 * the generation; the resolver loads the graph again and goes on from its cursor. */
static void test_full_meanwhile_reloads(void **state)
{
    (void)state;
    struct db d, f;
    db_open(&d);
    db_open(&f);
    struct store *other;
    struct err e = {0};
    assert_int_equal(store_open(d.path, NULL, &other, &e), 0);
    struct incremental *inc;
    assert_int_equal(incremental_new(d.st, &rules, &inc, &e), 0);
    stream(&d, 0, 40);
    stream(&f, 0, 40);
    step(inc, 40);
    stream(&d, 40, 80);
    stream(&f, 40, 80);
    struct resolve_stats fs;
    assert_int_equal(resolve_full(other, &rules, NULL, NULL, false, &fs, &e), 0);
    assert_int_equal(fs.events, 80);
    stream(&d, 80, 100);
    stream(&f, 80, 100);
    step(inc, 20); /* the full one read 80 */
    struct incremental_stats s;
    incremental_get_stats(inc, &s);
    assert_int_equal(s.loads, 2);
    full(&f, NULL);
    assert_same(d.path, f.path, MEMBERS);
    assert_same(d.path, f.path, IDENTIFIERS);
    assert_same(d.path, f.path, LIVE);
    store_close(other);
    incremental_free(inc);
    db_close(&d);
    db_close(&f);
}

/* Another incremental resolver (custos import while custos serve runs) moved the
 * cursor: this one notices, loads again, and nothing is resolved twice. */
static void test_two_resolvers(void **state)
{
    (void)state;
    struct db d, f;
    db_open(&d);
    db_open(&f);
    struct store *other;
    struct err e = {0};
    assert_int_equal(store_open(d.path, NULL, &other, &e), 0);
    struct incremental *a, *b;
    assert_int_equal(incremental_new(d.st, &rules, &a, &e), 0);
    assert_int_equal(incremental_new(other, &rules, &b, &e), 0);
    for (int k = 0; k < 6; k++) {
        stream(&d, k * 25, k * 25 + 25);
        stream(&f, k * 25, k * 25 + 25);
        step(k % 2 ? b : a, 25);
    }
    full(&f, NULL);
    assert_same(d.path, f.path, MEMBERS);
    assert_same(d.path, f.path, IDENTIFIERS);
    assert_same(d.path, f.path, LIVE);
    struct incremental_stats sa, sb;
    incremental_get_stats(a, &sa);
    incremental_get_stats(b, &sb);
    assert_int_equal(sa.events + sb.events, 150);
    assert_true(sa.loads >= 3);
    incremental_free(a);
    incremental_free(b);
    store_close(other);
    db_close(&d);
    db_close(&f);
}

/* More records pending than one batch takes, and events: all records go first, as in
 * a full resolution. Order matters here: record 5,500 and the event share an e-mail
 * but carry different user ids (user_id:1), so whichever comes first keeps it. */
static void test_records_before_events(void **state)
{
    (void)state;
    struct db d, f;
    db_open(&d);
    db_open(&f);
    struct err e = {0};
    struct db *both[] = {&d, &f};
    for (int k = 0; k < 2; k++) {
        struct db *x = both[k];
        assert_int_equal(x->st->ops->begin(x->st, &e), 0);
        add_event(x, "identify", "U-event", NULL, "\"traits\":{\"email\":\"shared@qq.com\"}");
        for (int i = 1; i <= INCREMENTAL_BATCH + 1000; i++) {
            char ids[128];
            if (i == INCREMENTAL_BATCH + 500)
                snprintf(ids, sizeof(ids),
                         "{\"user_id\":\"U-record\",\"email\":\"shared@qq.com\"}");
            else
                snprintf(ids, sizeof(ids), "{\"member_card\":\"M%d\"}", i % 3000);
            add_record(x, ids);
        }
        assert_int_equal(x->st->ops->commit(x->st, &e), 0);
    }
    struct incremental *inc;
    assert_int_equal(incremental_new(d.st, &rules, &inc, &e), 0);
    step(inc, INCREMENTAL_BATCH + 1001);
    full(&f, NULL);
    assert_same(d.path, f.path, MEMBERS);
    assert_same(d.path, f.path, IDENTIFIERS);
    assert_same(d.path, f.path, LIVE);
    /* The record came first: the e-mail is with U-record; the event stayed apart. */
    char *m = dump(d.path, "SELECT count(DISTINCT profile_id) FROM identifiers WHERE value IN "
                           "('U-record', 'shared@qq.com')");
    assert_string_equal(m, "1\n");
    free(m);
    incremental_free(inc);
    db_close(&d);
    db_close(&f);
}

/* The stored profiles no longer fit the rules (a value blocked since): the resolver
 * stops with a reason that says to run a full resolution. */
static void test_changed_rules_refused(void **state)
{
    (void)state;
    struct db d;
    db_open(&d);
    struct incremental *inc;
    struct err e = {0};
    assert_int_equal(incremental_new(d.st, &rules, &inc, &e), 0);
    add_record(&d, "{\"email\":\"shop@163.com\",\"member_card\":\"M9\"}");
    step(inc, 1);
    incremental_free(inc);
    struct idgraph_rules stricter;
    assert_int_equal(idgraph_rules_parse(TYPES, BLOCKED ",shop@163.com", &stricter, &e), 0);
    assert_int_equal(incremental_new(d.st, &stricter, &inc, &e), 0);
    add_record(&d, "{\"member_card\":\"M10\"}");
    uint64_t n = 0;
    assert_int_equal(incremental_step(inc, 0, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "custos resolve"));
    incremental_free(inc);
    idgraph_rules_release(&stricter);
    db_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_matches_full),
        cmocka_unit_test(test_record_joins_two_profiles),
        cmocka_unit_test(test_limit_and_blocked),
        cmocka_unit_test(test_full_meanwhile_reloads),
        cmocka_unit_test(test_two_resolvers),
        cmocka_unit_test(test_records_before_events),
        cmocka_unit_test(test_changed_rules_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
