/* resolve_worker.c - see resolve_worker.h. */
#include <pthread.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "identity/resolve_worker.h"

struct resolve_worker {
    struct store *st;
    struct incremental *inc;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool woken, stopping;
    uint64_t commits;     /* the writer's commits (resolve_worker_wake) */
    int64_t behind_since; /* ms (monotonic) since it is behind while the writer commits */
    bool overloaded;      /* behind for RESOLVE_WORKER_CATCHUP_MS: yields until caught up */
    /* Copied under lock after each step, for /metrics. */
    struct incremental_stats stats;
    uint64_t failures;
    char last_error[sizeof(((struct err *)0)->msg)];
};

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Waits at least min_ms whatever happens, then until woken or max_ms. Call locked. */
static void pause_locked(struct resolve_worker *w, int64_t min_ms, int64_t max_ms)
{
    struct timespec until;
    if (min_ms > 0) {
        deadline_in(&until, min_ms);
        while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
            ;
    }
    if (max_ms > min_ms) {
        deadline_in(&until, max_ms - min_ms);
        while (!w->stopping && !w->woken)
            if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
                break;
    }
}

static void *worker_main(void *arg)
{
    struct resolve_worker *w = arg;
    pthread_setname_np(pthread_self(), "resolver"); /* for top -H, perf, gdb */
    int64_t min_ms = 0, max_ms = 0; /* the first step at once: catch up with what is stored */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (max_ms && !w->stopping)
            pause_locked(w, min_ms, max_ms);
        bool stop = w->stopping;
        w->woken = false;
        uint64_t commits = w->commits;
        pthread_mutex_unlock(&w->lock);

        struct err e = {0};
        uint64_t n = 0;
        uint64_t t0 = time_mono_ns();
        /* One batch at a time (the metrics move while a backlog is worked off). When
         * stopping, the rest, for RESOLVE_WORKER_STOP_MS at most: what is left is
         * resolved from the cursor at the next start. */
        int rc = incremental_step(w->inc, 1, &n, &e);
        while (stop && !rc && n >= RESOLVE_WORKER_BATCH &&
               time_mono_ns() - t0 < (uint64_t)RESOLVE_WORKER_STOP_MS * 1000000u)
            rc = incremental_step(w->inc, 1, &n, &e);
        if (stop && !rc && n >= RESOLVE_WORKER_BATCH)
            log_warn("resolve: stopped before catching up with the stored events: the next "
                     "start resolves the rest from the cursor");

        pthread_mutex_lock(&w->lock);
        incremental_get_stats(w->inc, &w->stats);
        /* The whole step counts, not only its write: reading and parsing the events
         * takes a core from the request threads as well. */
        uint64_t busy = (time_mono_ns() - t0) / 1000000u;
        if (rc) {
            w->failures++;
            if (strcmp(e.msg, w->last_error) != 0)
                log_error("resolve: incremental resolution failed (retrying every %d s): %s",
                          RESOLVE_WORKER_RETRY_MS / 1000, e.msg);
            snprintf(w->last_error, sizeof(w->last_error), "%s", e.msg);
        } else if (w->last_error[0]) {
            log_info("resolve: incremental resolution works again");
            w->last_error[0] = 0;
        }
        if (stop)
            break;
        /* While the writer commits (it did since this step began), resolution yields:
         * after a step of busy ms (part of it in its transaction, while ingestion waits
         * its turn) it pauses for busy * (100 - pct) / pct ms, RESOLVE_WORKER_DUTY_PCT
         * of the time, but never so long that the lag would pass RESOLVE_WORKER_LAG_MS.
         * When it is behind that (or has a full batch's backlog) it works without pause
         * to catch up, for RESOLVE_WORKER_CATCHUP_MS; still behind then, the load is
         * more than it can follow, and it yields again (ingestion first) until the
         * writer is idle, when the backlog is worked off at full speed. */
        int64_t now = (int64_t)(time_mono_ns() / 1000000u), pace = 0;
        bool busy_writer = w->commits != commits;
        bool behind =
            n >= RESOLVE_WORKER_BATCH || (n > 0 && w->stats.behind_ms >= RESOLVE_WORKER_LAG_MS);
        if (!busy_writer || !behind) {
            w->behind_since = 0; /* caught up, or the load dropped */
            w->overloaded = false;
        } else if (!w->behind_since) {
            w->behind_since = now;
        } else if (now - w->behind_since >= RESOLVE_WORKER_CATCHUP_MS) {
            w->overloaded = true; /* stays so until caught up or the writer is idle */
        }
        if (busy_writer) {
            pace = (int64_t)busy * (100 - RESOLVE_WORKER_DUTY_PCT) / RESOLVE_WORKER_DUTY_PCT;
            if (!behind && pace > RESOLVE_WORKER_LAG_MS - w->stats.behind_ms)
                pace = RESOLVE_WORKER_LAG_MS - w->stats.behind_ms;
            if (behind && !w->overloaded)
                pace = 0;
        }
        if (rc) {
            min_ms = max_ms =
                RESOLVE_WORKER_RETRY_MS; /* only the timer: the store is not hammered */
        } else if (n >= RESOLVE_WORKER_BATCH) {
            min_ms = max_ms = pace; /* a full batch: there may be more at once (a backlog) */
        } else {
            /* A short pause first, whatever wakes it: commits gather into one batch. */
            min_ms = pace > RESOLVE_WORKER_GAP_MS ? pace : RESOLVE_WORKER_GAP_MS;
            if (behind && !pace)
                min_ms = 0;
            max_ms = min_ms > RESOLVE_WORKER_TICK_MS ? min_ms : RESOLVE_WORKER_TICK_MS;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int resolve_worker_start(const char *db, const struct store_options *opt,
                         const struct idgraph_rules *rules, const struct resolve_turns *turns,
                         struct resolve_worker **out, struct err *e)
{
    struct resolve_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    int rc = store_open(db, opt, &w->st, e);
    if (!rc)
        rc = incremental_new(w->st, rules, &w->inc, e);
    if (!rc && turns)
        incremental_set_turns(w->inc, turns->begin, turns->end, turns->arg);
    if (!rc)
        incremental_set_batch(w->inc, RESOLVE_WORKER_BATCH);
    if (rc) {
        store_close(w->st);
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
        incremental_free(w->inc);
        store_close(w->st);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
        return err_set(e, ERR_NOMEM, "cannot start the resolver thread");
    }
    *out = w;
    return 0;
}

void resolve_worker_wake(void *arg)
{
    struct resolve_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    w->woken = true;
    w->commits++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void resolve_worker_metrics(struct resolve_worker *w, struct textbuf *b)
{
    pthread_mutex_lock(&w->lock);
    struct incremental_stats s = w->stats;
    uint64_t failures = w->failures;
    pthread_mutex_unlock(&w->lock);
    textbuf_printf(b,
                   "# HELP custos_resolve_rows_total Rows resolved incrementally, by kind.\n"
                   "# TYPE custos_resolve_rows_total counter\n"
                   "custos_resolve_rows_total{kind=\"event\"} %" PRIu64 "\n"
                   "custos_resolve_rows_total{kind=\"record\"} %" PRIu64 "\n"
                   "# HELP custos_resolve_unresolved_total Rows without any usable identifier.\n"
                   "# TYPE custos_resolve_unresolved_total counter\n"
                   "custos_resolve_unresolved_total %" PRIu64 "\n"
                   "# HELP custos_resolve_profiles_created_total Profiles created.\n"
                   "# TYPE custos_resolve_profiles_created_total counter\n"
                   "custos_resolve_profiles_created_total %" PRIu64 "\n"
                   "# HELP custos_resolve_merges_total Profiles merged into another.\n"
                   "# TYPE custos_resolve_merges_total counter\n"
                   "custos_resolve_merges_total %" PRIu64 "\n"
                   "# HELP custos_resolve_graph_loads_total Times the identity graph was loaded "
                   "from the store (at start, after a full resolution or a failure).\n"
                   "# TYPE custos_resolve_graph_loads_total counter\n"
                   "custos_resolve_graph_loads_total %" PRIu64 "\n"
                   "# HELP custos_resolve_failures_total Resolution steps that failed.\n"
                   "# TYPE custos_resolve_failures_total counter\n"
                   "custos_resolve_failures_total %" PRIu64 "\n",
                   s.events, s.records, s.unresolved, s.created, s.merges, s.loads, failures);
    textbuf_printf(b,
                   "# HELP custos_resolve_write_seconds_total Time the resolver spent in its "
                   "write transactions, while the ingestion writer waits its turn.\n"
                   "# TYPE custos_resolve_write_seconds_total counter\n"
                   "custos_resolve_write_seconds_total %.3f\n"
                   "# HELP custos_resolve_batches_total Write transactions of the resolver.\n"
                   "# TYPE custos_resolve_batches_total counter\n"
                   "custos_resolve_batches_total %" PRIu64 "\n",
                   (double)s.write_ns / 1e9, s.batches);
    textbuf_printf(b, "# HELP custos_resolve_lag_ms From an event's receipt to the commit that "
                      "put it in a profile.\n"
                      "# TYPE custos_resolve_lag_ms histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < INCREMENTAL_LAG_BUCKETS; i++) {
        cum += s.lag[i];
        if (i + 1 < INCREMENTAL_LAG_BUCKETS)
            textbuf_printf(b, "custos_resolve_lag_ms_bucket{le=\"%" PRId64 "\"} %" PRIu64 "\n",
                           incremental_lag_bounds[i], cum);
        else
            textbuf_printf(b, "custos_resolve_lag_ms_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    textbuf_printf(b,
                   "custos_resolve_lag_ms_sum %" PRIu64 "\n"
                   "custos_resolve_lag_ms_count %" PRIu64 "\n"
                   "# HELP custos_resolve_lag_max_ms The longest lag seen.\n"
                   "# TYPE custos_resolve_lag_max_ms gauge\n"
                   "custos_resolve_lag_max_ms %" PRId64 "\n",
                   s.lag_sum_ms, cum, s.lag_max_ms);
}

void resolve_worker_stop(struct resolve_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    incremental_free(w->inc);
    store_close(w->st);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
}
