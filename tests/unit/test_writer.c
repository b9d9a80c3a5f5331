/* test_writer.c - the single writer: concurrent submitters with duplicate messageIds
 * (each key stored once, group commit), the dedup set rebuilt from the store, ERR_BUSY
 * when the queue is full, a failed transaction that writes nothing and forgets its
 * keys, and writer_stop committing what is queued before it closes the store.
 *
 * To make "the writer is busy" deterministic, a second connection holds the database's
 * write lock (BEGIN IMMEDIATE): the writer's own BEGIN then waits, with its job still
 * counted as queued, until the test lets go. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

#include "ingest/writer.h"

struct fixture {
    char dir[64];
    char path[96];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-writer-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/custos.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
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
        fail_msg("store_open: %s", e.msg);
    return st;
}

static struct writer *start(struct store *st, size_t max_queue)
{
    struct writer *w = NULL;
    struct err e = {0};
    if (writer_start(st, max_queue, &w, &e))
        fail_msg("writer_start: %s", e.msg);
    assert_non_null(w);
    return w;
}

static int64_t count_events(const char *path)
{
    struct store *st = open_store(path);
    struct err e = {0};
    int64_t n = -1;
    assert_int_equal(st->ops->event_count(st, 0, &n, &e), 0);
    store_close(st);
    return n;
}

/* An event record of message mid (which must outlive the record) on source src. */
static void event_record(struct record *r, int64_t src, const char *mid)
{
    memset(r, 0, sizeof(*r));
    r->kind = RECORD_EVENT;
    r->has_key = true;
    r->key = seen_key(src, mid, strlen(mid));
    r->row.event = (struct event_row){
        .source_id = src,
        .type = "track",
        .event = "Order Completed",
        .user_id = "u-1",
        .message_id = mid,
        .timestamp = 1000,
        .received_at = 2000,
        .sent_at = STORE_NULL_TIME,
        .raw = "{\"event\":\"Order Completed\"}",
        .raw_len = 27,
    };
}

static int submit1(struct writer *w, struct record *r)
{
    struct err e = {0};
    return writer_submit(w, r, 1, &e);
}

/* ---- many threads, duplicates across them ---------------------------------------- */

enum { THREADS = 8, JOBS = 500, SHARED_EVERY = 10 };

struct submitter {
    struct writer *w;
    pthread_barrier_t *go;
    int t;
    char mids[JOBS][32];
    struct record recs[JOBS];
    int rcs[JOBS];
};

/* Job i of thread t: every 10th messageId is the same in all threads. */
static void *submit_jobs(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < JOBS; i++) {
        if (i % SHARED_EVERY == 0)
            snprintf(s->mids[i], sizeof(s->mids[i]), "shared-%d", i);
        else
            snprintf(s->mids[i], sizeof(s->mids[i]), "t%d-%d", s->t, i);
        event_record(&s->recs[i], 1, s->mids[i]);
    }
    pthread_barrier_wait(s->go);
    for (int i = 0; i < JOBS; i++) {
        struct err e = {0};
        s->rcs[i] = writer_submit(s->w, &s->recs[i], 1, &e);
    }
    return NULL;
}

static int count_pair(int64_t source_id, const char *mid, size_t len, bool quarantined, void *ctx)
{
    assert_false(quarantined);
    /* Every stored (source, messageId) is stored once: each key is new to the set. */
    return seen_add(ctx, seen_key(source_id, mid, len)) == 1 ? 0 : ERR_EXISTS;
}

static void test_concurrent_duplicates(void **state)
{
    struct fixture *f = *state;
    struct writer *w = start(open_store(f->path), 200000);
    struct submitter *subs = calloc(THREADS, sizeof(*subs));
    assert_non_null(subs);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        subs[t] = (struct submitter){.w = w, .go = &go, .t = t};
        assert_int_equal(pthread_create(&th[t], NULL, submit_jobs, &subs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&go);

    const int total = THREADS * JOBS, shared = JOBS / SHARED_EVERY;
    const int distinct = THREADS * (JOBS - shared) + shared;
    int stored = 0, dups = 0;
    for (int i = 0; i < JOBS; i++) {
        int stored_i = 0;
        for (int t = 0; t < THREADS; t++) {
            if (subs[t].rcs[i] != 0)
                fail_msg("thread %d job %d: rc %d", t, i, subs[t].rcs[i]);
            enum record_outcome o = subs[t].recs[i].outcome;
            if (o != RECORD_STORED && o != RECORD_DUPLICATE)
                fail_msg("thread %d job %d: outcome %d", t, i, o);
            stored_i += o == RECORD_STORED;
            dups += o == RECORD_DUPLICATE;
        }
        /* A shared id is stored by exactly one thread; a thread's own id always. */
        if (stored_i != (i % SHARED_EVERY == 0 ? 1 : THREADS))
            fail_msg("job %d stored %d times", i, stored_i);
        stored += stored_i;
    }
    assert_int_equal(stored, distinct);
    assert_int_equal(dups, total - distinct);

    struct writer_stats ws;
    writer_get_stats(w, &ws);
    assert_int_equal(ws.records, distinct);
    assert_int_equal(ws.duplicates, total - distinct);
    assert_int_equal(ws.records + ws.duplicates, total);
    assert_int_equal(ws.failures, 0);
    assert_int_equal(ws.queued, 0);
    assert_int_equal(ws.seen, distinct);
    assert_true(ws.commits >= 1);
    if (ws.commits >= (uint64_t)total)
        fail_msg("%" PRIu64 " commits for %d jobs: no group commit", ws.commits, total);
    print_message("%d jobs from %d threads in %" PRIu64 " commits\n", total, THREADS, ws.commits);
    writer_stop(w);
    free(subs);

    /* What is in the file: each distinct key once. */
    struct store *st = open_store(f->path);
    struct err e = {0};
    int64_t n = -1;
    assert_int_equal(st->ops->event_count(st, 0, &n, &e), 0);
    assert_int_equal(n, distinct);
    struct seen_set set;
    assert_int_equal(seen_init(&set, (size_t)distinct), 0);
    assert_int_equal(st->ops->seen_scan(st, true, count_pair, &set, &e), 0);
    assert_int_equal(set.count, distinct);
    seen_release(&set);
    store_close(st);
}

/* ---- the set is rebuilt from the store ------------------------------------------- */

static void test_keys_from_before_start(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_store(f->path);
    struct err e = {0};
    struct record pre;
    event_record(&pre, 1, "pre-1");
    assert_int_equal(st->ops->event_append(st, &pre.row.event, &e), 0);
    struct quarantine_row q = {.source_id = 1,
                               .message_id = "preq-1",
                               .received_at = 1,
                               .timestamp = STORE_NULL_TIME,
                               .reasons = "[]",
                               .raw = "{}",
                               .raw_len = 2};
    assert_int_equal(st->ops->quarantine_append(st, &q, &e), 0);
    q.message_id = NULL; /* an unparseable body has no key */
    assert_int_equal(st->ops->quarantine_append(st, &q, &e), 0);

    struct writer *w = start(st, 1000);
    struct writer_stats ws;
    writer_get_stats(w, &ws);
    assert_int_equal(ws.seen, 2);

    /* Quarantined messages have keys of their own (seen.h): a good message reusing the
     * messageId of a quarantined one is stored, a retry of the quarantined one is not. */
    struct record r[5];
    event_record(&r[0], 1, "pre-1");  /* stored as an event before */
    event_record(&r[1], 1, "preq-1"); /* quarantined before: as an event it is new */
    event_record(&r[2], 2, "pre-1");  /* the same id on another source */
    event_record(&r[3], 1, "new-1");
    r[4] = (struct record){
        .kind = RECORD_QUARANTINE, .has_key = true, .key = seen_key_quarantine(1, "preq-1", 6)};
    r[4].row.quarantine = q;
    r[4].row.quarantine.message_id = "preq-1";
    struct err e2 = {0};
    assert_int_equal(writer_submit(w, r, 5, &e2), 0);
    assert_int_equal(r[0].outcome, RECORD_DUPLICATE);
    assert_int_equal(r[1].outcome, RECORD_STORED);
    assert_int_equal(r[2].outcome, RECORD_STORED);
    assert_int_equal(r[3].outcome, RECORD_STORED);
    assert_int_equal(r[4].outcome, RECORD_DUPLICATE);
    writer_get_stats(w, &ws);
    assert_int_equal(ws.records, 3);
    assert_int_equal(ws.duplicates, 2);
    assert_int_equal(ws.seen, 5);
    writer_stop(w);
    assert_int_equal(count_events(f->path), 4);

    /* And across a restart: everything above is a duplicate now. */
    w = start(open_store(f->path), 1000);
    writer_get_stats(w, &ws);
    assert_int_equal(ws.seen, 5);
    for (int k = 0; k < 5; k++)
        r[k].outcome = RECORD_PENDING;
    assert_int_equal(writer_submit(w, r, 5, &e2), 0);
    for (int k = 0; k < 5; k++)
        assert_int_equal(r[k].outcome, RECORD_DUPLICATE);
    writer_stop(w);
    assert_int_equal(count_events(f->path), 4);
}

static void test_one_job(void **state)
{
    struct fixture *f = *state;
    struct writer *w = start(open_store(f->path), 1000);
    /* A key twice in one job: the second is the duplicate. */
    struct record r[3];
    event_record(&r[0], 1, "a");
    event_record(&r[1], 1, "a");
    event_record(&r[2], 1, "b");
    struct err e = {0};
    assert_int_equal(writer_submit(w, r, 3, &e), 0);
    assert_int_equal(r[0].outcome, RECORD_STORED);
    assert_int_equal(r[1].outcome, RECORD_DUPLICATE);
    assert_int_equal(r[2].outcome, RECORD_STORED);
    /* Records without a key (bodies that could not be parsed) are never duplicates. */
    struct record q[2];
    memset(q, 0, sizeof(q));
    for (int k = 0; k < 2; k++) {
        q[k].kind = RECORD_QUARANTINE;
        q[k].row.quarantine = (struct quarantine_row){.source_id = 1,
                                                      .received_at = 1,
                                                      .timestamp = STORE_NULL_TIME,
                                                      .reasons = "[]",
                                                      .raw = "{not json",
                                                      .raw_len = 9};
    }
    assert_int_equal(writer_submit(w, q, 2, &e), 0);
    assert_int_equal(q[0].outcome, RECORD_STORED);
    assert_int_equal(q[1].outcome, RECORD_STORED);
    assert_true(q[0].row.quarantine.id > 0 && q[1].row.quarantine.id > q[0].row.quarantine.id);
    /* A record's key decides: a quarantine key and an event key of the same messageId
     * are different keys, and each is stored once. */
    struct record qk[2], ev[2];
    for (int k = 0; k < 2; k++) {
        qk[k] = (struct record){
            .kind = RECORD_QUARANTINE, .has_key = true, .key = seen_key_quarantine(1, "c", 1)};
        qk[k].row.quarantine = q[0].row.quarantine;
        qk[k].row.quarantine.message_id = "c";
        event_record(&ev[k], 1, "c");
    }
    assert_int_equal(submit1(w, &qk[0]), 0);
    assert_int_equal(qk[0].outcome, RECORD_STORED);
    assert_int_equal(submit1(w, &ev[0]), 0);
    assert_int_equal(ev[0].outcome, RECORD_STORED);
    assert_int_equal(submit1(w, &qk[1]), 0);
    assert_int_equal(qk[1].outcome, RECORD_DUPLICATE);
    assert_int_equal(submit1(w, &ev[1]), 0);
    assert_int_equal(ev[1].outcome, RECORD_DUPLICATE);
    /* An empty job. */
    assert_int_equal(writer_submit(w, r, 0, &e), 0);
    writer_stop(w);
    assert_int_equal(count_events(f->path), 3);
}

/* ---- a failed transaction -------------------------------------------------------- */

static void test_failed_transaction(void **state)
{
    struct fixture *f = *state;
    struct writer *w = start(open_store(f->path), 1000);
    struct record r[2];
    event_record(&r[0], 1, "good-1");
    event_record(&r[1], 1, "bad-1");
    r[1].row.event.type = NULL; /* events.type is NOT NULL: the insert fails */
    struct err e = {0};
    assert_int_equal(writer_submit(w, r, 2, &e), ERR_STORE);
    assert_true(e.msg[0] != 0);
    assert_int_equal(r[0].outcome, RECORD_PENDING); /* nothing of it was written */
    assert_int_equal(r[1].outcome, RECORD_PENDING);
    struct writer_stats ws;
    writer_get_stats(w, &ws);
    assert_int_equal(ws.failures, 1);
    assert_int_equal(ws.records, 0);
    assert_int_equal(ws.seen, 0); /* the keys it added are taken back out */
    assert_int_equal(count_events(f->path), 0);

    /* Both can be sent again, and are new. */
    r[1].row.event.type = "track";
    assert_int_equal(writer_submit(w, r, 2, &e), 0);
    assert_int_equal(r[0].outcome, RECORD_STORED);
    assert_int_equal(r[1].outcome, RECORD_STORED);
    writer_get_stats(w, &ws);
    assert_int_equal(ws.records, 2);
    assert_int_equal(ws.seen, 2);
    writer_stop(w);
    assert_int_equal(count_events(f->path), 2);
}

/* ---- a busy writer --------------------------------------------------------------- */

struct bg_submit {
    struct writer *w;
    struct record rec;
    int rc;
    _Atomic bool done;
};

static void *bg_submit_main(void *arg)
{
    struct bg_submit *b = arg;
    b->rc = submit1(b->w, &b->rec);
    b->done = true;
    return NULL;
}

/* Takes the database's write lock on a connection of its own. */
static struct store *hold_write_lock(const char *path)
{
    struct store *lock = open_store(path);
    struct err e = {0};
    if (lock->ops->begin(lock, &e))
        fail_msg("begin: %s", e.msg);
    return lock;
}

static void release_write_lock(struct store *lock)
{
    lock->ops->rollback(lock);
    store_close(lock);
}

/* Waits until the writer counts n records as queued. */
static void wait_queued(struct writer *w, uint64_t n)
{
    for (int k = 0; k < 5000; k++) {
        struct writer_stats ws;
        writer_get_stats(w, &ws);
        if (ws.queued == n)
            return;
        usleep(1000);
    }
    fail_msg("the writer never had %" PRIu64 " records queued", n);
}

static void test_busy(void **state)
{
    struct fixture *f = *state;
    struct writer *w = start(open_store(f->path), 1);
    struct store *lock = hold_write_lock(f->path);

    struct bg_submit a = {.w = w};
    event_record(&a.rec, 1, "a");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_submit_main, &a), 0);
    wait_queued(w, 1); /* a is queued or being written: the queue (1) is full */

    struct record b;
    event_record(&b, 1, "b");
    struct err e = {0};
    assert_int_equal(writer_submit(w, &b, 1, &e), ERR_BUSY);
    assert_int_equal(e.code, ERR_BUSY);
    assert_true(e.msg[0] != 0);
    assert_int_equal(b.outcome, RECORD_PENDING);
    struct record two[2];
    event_record(&two[0], 1, "c");
    event_record(&two[1], 1, "d");
    assert_int_equal(writer_submit(w, two, 2, &e), ERR_BUSY);

    release_write_lock(lock);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.rec.outcome, RECORD_STORED);

    /* Refused means not written: b is new now. */
    assert_int_equal(submit1(w, &b), 0);
    assert_int_equal(b.outcome, RECORD_STORED);
    /* One request larger than the whole queue is taken when nothing waits. */
    struct record five[5];
    char mids[5][16];
    for (int k = 0; k < 5; k++) {
        snprintf(mids[k], sizeof(mids[k]), "big-%d", k);
        event_record(&five[k], 1, mids[k]);
    }
    assert_int_equal(writer_submit(w, five, 5, &e), 0);
    for (int k = 0; k < 5; k++)
        assert_int_equal(five[k].outcome, RECORD_STORED);
    struct writer_stats ws;
    writer_get_stats(w, &ws);
    assert_int_equal(ws.records, 7);
    assert_int_equal(ws.failures, 0);
    writer_stop(w);
    assert_int_equal(count_events(f->path), 7);
}

/* ---- writer_stop ----------------------------------------------------------------- */

struct bg_stop {
    struct writer *w;
};

static void *bg_stop_main(void *arg)
{
    writer_stop(((struct bg_stop *)arg)->w);
    return NULL;
}

static void test_stop_commits_queued(void **state)
{
    /* a is being written (the writer waits for the lock), b waits in the queue behind it
     * when writer_stop is called: both must be committed before it returns. */
    struct fixture *f = *state;
    struct writer *w = start(open_store(f->path), 2);
    struct store *lock = hold_write_lock(f->path);

    struct bg_submit a = {.w = w}, b = {.w = w};
    event_record(&a.rec, 1, "in-flight-1");
    event_record(&b.rec, 1, "queued-1");
    pthread_t ta, tb, ts;
    assert_int_equal(pthread_create(&ta, NULL, bg_submit_main, &a), 0);
    wait_queued(w, 1);
    usleep(50 * 1000); /* the writer takes a off the queue at once, then waits */
    assert_int_equal(pthread_create(&tb, NULL, bg_submit_main, &b), 0);
    wait_queued(w, 2);

    struct bg_stop s = {.w = w};
    assert_int_equal(pthread_create(&ts, NULL, bg_stop_main, &s), 0);
    /* Once writer_stop has begun, new records are refused with ERR_INVALID (until then
     * the full queue answers ERR_BUSY). */
    struct record late;
    event_record(&late, 1, "late-1");
    int rc = ERR_BUSY;
    for (int k = 0; k < 5000 && rc == ERR_BUSY; k++) {
        rc = submit1(w, &late);
        if (rc == ERR_BUSY)
            usleep(1000);
    }
    assert_int_equal(rc, ERR_INVALID);
    assert_int_equal(late.outcome, RECORD_PENDING);

    release_write_lock(lock);
    for (int k = 0; k < 10000 && !(a.done && b.done); k++)
        usleep(1000);
    if (!a.done || !b.done) /* the threads are left behind: this run is lost anyway */
        fail_msg("writer_stop did not write every queued job (a %d, b %d)", a.done, b.done);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(pthread_join(ts, NULL), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(a.rec.outcome, RECORD_STORED);
    assert_int_equal(b.rec.outcome, RECORD_STORED);

    /* The store is closed: the last connection gone, SQLite has removed the WAL. */
    char wal[128];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_not_equal(access(wal, F_OK), 0);
    assert_int_equal(count_events(f->path), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_concurrent_duplicates),
        T(test_keys_from_before_start),
        T(test_one_job),
        T(test_failed_transaction),
        T(test_busy),
        T(test_stop_commits_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
