/* test_audit.c - the hash-chained audit log: appends chain, verify passes on an
 * untouched log and names the first bad entry after each kind of tampering done with
 * SQL by hand (an edited field, a removed entry in the middle, entries removed from
 * the end, a forged entry inserted, a rewritten chain), bad arguments, and group
 * commit from many threads at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include "privacy/audit.h"

static char dir[] = "/tmp/custos-test-audit.XXXXXX";
static char db[64];

static struct store *fresh(int entries)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -f %s %s-wal %s-shm %s.audit-head", db, db, db, db);
    assert_int_equal(system(cmd), 0);
    struct store *st = NULL;
    struct err e = {0};
    assert_int_equal(store_open(db, NULL, &st, &e), 0);
    for (int i = 1; i <= entries; i++) {
        char subject[32], detail[64];
        snprintf(subject, sizeof(subject), "profile:%d", i);
        snprintf(detail, sizeof(detail), "{\"fields\":\"phone\",\"n\":%d}", i);
        if (audit_append(st, "cli", AUDIT_READ_CLEAR, subject, detail, &e))
            fail_msg("append %d: %s", i, e.msg);
    }
    return st;
}

/* Runs SQL on the database by hand, as someone with the sqlite3 shell would. */
static void tamper(const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static int64_t verify_bad(struct store *st, char *why, size_t cap)
{
    struct audit_report r;
    struct err e = {0};
    int rc = audit_verify(st, &r, &e);
    snprintf(why, cap, "%s", r.reason);
    return rc == 0 ? 0 : r.bad_seq;
}

static void test_chain(void **state)
{
    (void)state;
    struct store *st = fresh(5);
    struct audit_report r;
    struct err e = {0};
    assert_int_equal(audit_verify(st, &r, &e), 0);
    assert_int_equal(r.entries, 5);
    assert_int_equal(r.head_seq, 5);
    assert_int_equal(r.bad_seq, 0);
    /* The triggers refuse plain edits. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(h, "UPDATE audit_log SET actor = 'x'", NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(h, "DELETE FROM audit_log", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    store_close(st);
}

#define OPEN "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; "

static void test_tampering(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        int64_t want;
        const char *says;
    } cases[] = {
        {OPEN "UPDATE audit_log SET subject = 'profile:99' WHERE seq = 3", 3, "edited"},
        {OPEN "UPDATE audit_log SET detail = '{}' WHERE seq = 1", 1, "edited"},
        {OPEN "UPDATE audit_log SET time = time + 1 WHERE seq = 5", 5, "edited"},
        {OPEN "DELETE FROM audit_log WHERE seq = 2", 2, "missing"},
        {OPEN "DELETE FROM audit_log WHERE seq = 1", 1, "missing"},
        {OPEN "DELETE FROM audit_log WHERE seq >= 4", 4, "removed from the end"},
        {OPEN "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3", 3, "missing"},
        {"INSERT INTO audit_log SELECT 6, time, actor, action, subject, detail, hash, "
         "randomblob(32) FROM audit_log WHERE seq = 5",
         6, "edited"},
        {"INSERT INTO audit_log SELECT 6, time, actor, action, subject, detail, "
         "randomblob(32), hash FROM audit_log WHERE seq = 5",
         6, "does not follow"},
        /* a whole new log in place of the old one: the head file is not fooled */
        {OPEN "DELETE FROM audit_log WHERE seq > 0", 1, "removed from the end"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct store *st = fresh(5);
        tamper(cases[i].sql);
        char why[256];
        int64_t got = verify_bad(st, why, sizeof(why));
        if (got != cases[i].want || !strstr(why, cases[i].says))
            fail_msg("%s: bad seq %" PRId64 " (%s), want %" PRId64 " (%s)", cases[i].sql, got, why,
                     cases[i].want, cases[i].says);
        store_close(st);
    }
    /* Removing the head file with the log: found too. */
    struct store *st = fresh(2);
    char path[300], why[256];
    snprintf(path, sizeof(path), "%s.audit-head", db);
    unlink(path);
    assert_int_equal(verify_bad(st, why, sizeof(why)), 3);
    assert_non_null(strstr(why, "head file"));
    store_close(st);
}

static void test_rewritten(void **state)
{
    (void)state;
    /* Someone recomputes the chain after an edit (as one could offline): every entry
     * holds, but the head file records another hash for entry 3. */
    struct store *st = fresh(3);
    tamper(OPEN "UPDATE audit_log SET subject = 'profile:1' WHERE seq = 2");
    /* recompute hashes 2 and 3 */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    unsigned char prev[32];
    sqlite3_stmt *q;
    sqlite3_prepare_v2(h,
                       "SELECT seq, time, actor, action, subject, detail, hash FROM audit_log "
                       "ORDER BY seq",
                       -1, &q, NULL);
    while (sqlite3_step(q) == SQLITE_ROW) {
        struct audit_row r = {
            .seq = sqlite3_column_int64(q, 0),
            .time = sqlite3_column_int64(q, 1),
            .actor = (const char *)sqlite3_column_text(q, 2),
            .action = (const char *)sqlite3_column_text(q, 3),
            .subject = (const char *)sqlite3_column_text(q, 4),
            .detail = (const char *)sqlite3_column_text(q, 5),
        };
        if (r.seq == 1) {
            memcpy(prev, sqlite3_column_blob(q, 6), 32);
            continue;
        }
        unsigned char hh[32];
        audit_hash(&r, prev, hh);
        sqlite3_stmt *u;
        sqlite3_prepare_v2(h, "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", -1,
                           &u, NULL);
        sqlite3_bind_blob(u, 1, prev, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(u, 2, hh, 32, SQLITE_TRANSIENT);
        sqlite3_bind_int64(u, 3, r.seq);
        assert_int_equal(sqlite3_step(u), SQLITE_DONE);
        sqlite3_finalize(u);
        memcpy(prev, hh, 32);
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    char why[256];
    assert_int_equal(verify_bad(st, why, sizeof(why)), 3);
    assert_non_null(strstr(why, "rewritten"));
    store_close(st);
}

static void test_arguments(void **state)
{
    (void)state;
    struct store *st = fresh(0);
    struct err e = {0};
    assert_int_equal(audit_append(st, "", "x.y", NULL, NULL, &e), ERR_INVALID);
    assert_int_equal(audit_append(st, "cli", NULL, NULL, NULL, &e), ERR_INVALID);
    assert_int_equal(audit_append(st, "cli", "x.y", NULL, "[1]", &e), ERR_INVALID);
    assert_int_equal(audit_append(st, "cli", "x.y", NULL, "{bad", &e), ERR_INVALID);
    assert_int_equal(audit_append(st, "cli", "x.y", NULL, NULL, &e), 0);
    /* inside a transaction of the caller's: kept only if it commits */
    assert_int_equal(st->ops->begin(st, &e), 0);
    assert_int_equal(audit_append(st, "cli", "x.y", "a", NULL, &e), 0);
    st->ops->rollback(st);
    assert_int_equal(st->ops->begin(st, &e), 0);
    assert_int_equal(audit_append(st, "cli", "x.y", "b", NULL, &e), 0);
    assert_int_equal(st->ops->commit(st, &e), 0);
    struct audit_report r;
    assert_int_equal(audit_verify(st, &r, &e), 0);
    assert_int_equal(r.entries, 2);
    assert_int_equal(r.after_head, 1); /* the joined append left the head behind */
    store_close(st);
}

#define GROUP_THREADS 8
#define GROUP_EACH    40

static struct audit_group *group;

static void *group_worker(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < GROUP_EACH; i++) {
        char subject[32];
        snprintf(subject, sizeof(subject), "group:%ld:%d", t, i);
        struct err e = {0};
        if (audit_group_append(group, "key:ab12", AUDIT_READ_CLEAR, subject, "{\"role\":\"admin\"}",
                               &e))
            return (void *)1;
    }
    return NULL;
}

/* Appends from eight threads through one group: every entry is there once, in one
 * chain that verifies, with the head on the newest; a bad entry is refused alone. */
static void test_group(void **state)
{
    (void)state;
    struct store *st = fresh(3);
    struct err e = {0};
    assert_int_equal(audit_group_new(st, &group, &e), 0);
    pthread_t th[GROUP_THREADS];
    for (long t = 0; t < GROUP_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, group_worker, (void *)t), 0);
    for (int t = 0; t < GROUP_THREADS; t++) {
        void *failed = NULL;
        pthread_join(th[t], &failed);
        assert_null(failed);
    }
    assert_int_equal(audit_group_append(group, "key:ab12", "x.y", NULL, "[1]", &e), ERR_INVALID);
    assert_int_equal(audit_group_append(group, "key:ab12", "x.y", "last", NULL, &e), 0);
    audit_group_free(group);
    struct audit_report r;
    assert_int_equal(audit_verify(st, &r, &e), 0);
    assert_int_equal(r.entries, 3 + GROUP_THREADS * GROUP_EACH + 1);
    assert_int_equal(r.head_seq, r.entries);
    assert_int_equal(r.after_head, 0);
    sqlite3 *h;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(h, "SELECT count(DISTINCT subject) FROM audit_log", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), r.entries);
    sqlite3_finalize(q);
    sqlite3_close(h);
    store_close(st);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || !mkdtemp(dir))
        return -1;
    snprintf(db, sizeof(db), "%s/custos.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),     cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_rewritten), cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_group),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
