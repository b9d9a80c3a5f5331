/* writer.c - group commit. See writer.h. */
#include <pthread.h>

#include "core/log.h"
#include "ingest/writer.h"

struct job {
    struct record *recs;
    size_t n;
    int rc;
    bool done;
    char why[sizeof(((struct err *)0)->msg)];
    struct job *next;
};

struct writer {
    struct store *st;
    struct seen_set seen;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job arrived, or stopping */
    pthread_cond_t done; /* some jobs finished */
    struct job *head, **tail;
    size_t queued, max_queue;
    bool stopping;
    struct writer_stats stats;
    void (*on_commit)(void *arg); /* writer_on_commit */
    void *on_commit_arg;
    /* Turns at writing the database (writer_turn_begin): a ticket lock. */
    pthread_mutex_t turn_lock;
    pthread_cond_t turn_next;
    uint64_t turn_ticket, turn_serving;
    /* The keys this transaction added, to take back out on rollback. */
    struct hash128 *added;
    size_t added_n, added_cap;
};

static int remember_added(struct writer *w, struct hash128 k)
{
    if (w->added_n == w->added_cap) {
        size_t cap = w->added_cap ? w->added_cap * 2 : 4096;
        struct hash128 *p = realloc(w->added, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        w->added = p;
        w->added_cap = cap;
    }
    w->added[w->added_n++] = k;
    return 0;
}

static int write_record(struct writer *w, struct record *r, struct err *e)
{
    if (r->has_key) {
        int fresh = seen_add(&w->seen, r->key);
        if (fresh < 0)
            return err_set(e, ERR_NOMEM, "out of memory in the dedup set");
        if (fresh && r->kind == RECORD_EVENT) {
            /* A messageId once quarantined may have been replayed into the events by
             * `custos quarantine replay` since this set was built: ask the store. */
            const struct event_row *ev = &r->row.event;
            struct hash128 q = seen_key_quarantine_of(r->key);
            bool replayed = false;
            if (seen_has(&w->seen, q) &&
                w->st->ops->event_replayed(w->st, ev->source_id, ev->message_id, &replayed, e))
                return ERR_STORE;
            fresh = !replayed;
        }
        if (!fresh) {
            r->outcome = RECORD_DUPLICATE;
            return 0;
        }
        if (remember_added(w, r->key))
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    int rc = r->kind == RECORD_EVENT ? w->st->ops->event_append(w->st, &r->row.event, e)
                                     : w->st->ops->quarantine_append(w->st, &r->row.quarantine, e);
    if (!rc)
        r->outcome = RECORD_STORED;
    return rc;
}

/* Writes every job of the list in one transaction. */
static int write_jobs(struct writer *w, struct job *list, struct err *e)
{
    w->added_n = 0;
    int rc = w->st->ops->begin(w->st, e);
    for (struct job *j = list; j && !rc; j = j->next)
        for (size_t i = 0; i < j->n && !rc; i++)
            rc = write_record(w, &j->recs[i], e);
    if (!rc)
        rc = w->st->ops->commit(w->st, e);
    if (rc) {
        w->st->ops->rollback(w->st);
        for (size_t i = 0; i < w->added_n; i++)
            seen_remove(&w->seen, w->added[i]);
        for (struct job *j = list; j; j = j->next)
            for (size_t i = 0; i < j->n; i++)
                j->recs[i].outcome = RECORD_PENDING;
    }
    return rc;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_setname_np(pthread_self(), "writer"); /* for top -H, perf, gdb */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->work, &w->lock);
        if (!w->head)
            break;
        struct job *list = w->head;
        size_t n = w->queued;
        w->head = NULL;
        w->tail = &w->head;
        pthread_mutex_unlock(&w->lock);

        struct err e = {0};
        writer_turn_begin(w);
        int rc = write_jobs(w, list, &e);
        writer_turn_end(w);
        if (rc)
            log_error("writer: transaction of %zu records failed: %s", n, e.msg);
        else if (w->on_commit)
            w->on_commit(w->on_commit_arg);

        pthread_mutex_lock(&w->lock);
        w->queued -= n;
        w->stats.commits += !rc;
        w->stats.failures += rc != 0;
        for (struct job *j = list; j; j = j->next) {
            j->rc = rc;
            if (rc)
                snprintf(j->why, sizeof(j->why), "%s", e.msg);
            for (size_t i = 0; i < j->n && !rc; i++) {
                w->stats.records += j->recs[i].outcome == RECORD_STORED;
                w->stats.duplicates += j->recs[i].outcome == RECORD_DUPLICATE;
            }
            j->done = true;
        }
        w->stats.seen = w->seen.count;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int seen_load(int64_t source_id, const char *mid, size_t len, bool quarantined, void *ctx)
{
    struct hash128 k =
        quarantined ? seen_key_quarantine(source_id, mid, len) : seen_key(source_id, mid, len);
    return seen_add(ctx, k) < 0 ? ERR_NOMEM : 0;
}

int writer_start(struct store *st, size_t max_queue, struct writer **out, struct err *e)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    int64_t events = 0;
    int rc = st->ops->event_count(st, 0, &events, e);
    if (!rc)
        rc =
            seen_init(&w->seen, (size_t)events + 1024) ? err_set(e, ERR_NOMEM, "out of memory") : 0;
    if (!rc)
        rc = st->ops->seen_scan(st, false, seen_load, &w->seen, e);
    if (rc) {
        seen_release(&w->seen);
        free(w);
        return rc;
    }
    w->st = st;
    w->tail = &w->head;
    w->max_queue = max_queue;
    w->stats.seen = w->seen.count;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->turn_lock, NULL);
    pthread_cond_init(&w->turn_next, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        seen_release(&w->seen);
        free(w);
        return err_set(e, ERR_NOMEM, "cannot start the writer thread");
    }
    *out = w;
    return 0;
}

int writer_submit(struct writer *w, struct record *recs, size_t n, struct err *e)
{
    struct job j = {.recs = recs, .n = n};
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return err_set(e, ERR_INVALID, "shutting down");
    }
    /* One request larger than the whole queue is still taken when nothing waits. */
    if (w->queued && w->queued + n > w->max_queue) {
        pthread_mutex_unlock(&w->lock);
        return err_set(e, ERR_BUSY, "the store is not keeping up: %zu records queued", w->queued);
    }
    *w->tail = &j;
    w->tail = &j.next;
    w->queued += n;
    w->stats.queued = w->queued;
    pthread_cond_signal(&w->work);
    while (!j.done)
        pthread_cond_wait(&w->done, &w->lock);
    w->stats.queued = w->queued;
    pthread_mutex_unlock(&w->lock);
    if (j.rc)
        return err_set(e, ERR_STORE, "%s", j.why);
    return 0;
}

void writer_get_stats(struct writer *w, struct writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}

void writer_on_commit(struct writer *w, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&w->lock);
    w->on_commit = fn;
    w->on_commit_arg = arg;
    pthread_mutex_unlock(&w->lock);
}

void writer_turn_begin(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->turn_lock);
    uint64_t mine = w->turn_ticket++;
    while (w->turn_serving != mine)
        pthread_cond_wait(&w->turn_next, &w->turn_lock);
    pthread_mutex_unlock(&w->turn_lock);
}

void writer_turn_end(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->turn_lock);
    w->turn_serving++;
    pthread_cond_broadcast(&w->turn_next);
    pthread_mutex_unlock(&w->turn_lock);
}

void writer_stop(struct writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    store_close(w->st);
    seen_release(&w->seen);
    free(w->added);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->turn_lock);
    pthread_cond_destroy(&w->turn_next);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    free(w);
}
