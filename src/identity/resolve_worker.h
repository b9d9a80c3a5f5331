/* resolve_worker.h - the resolver thread of `custos serve`.
 *
 * A thread with its own store connection runs incremental_step (incremental.h)
 * whenever the ingestion writer has committed (resolve_worker_wake, the writer's
 * commit hook), and every RESOLVE_WORKER_TICK_MS anyway, so that a new event's
 * profile exists within a second of its commit. Failures are logged (once per
 * distinct reason) and retried after RESOLVE_WORKER_RETRY_MS; ingestion never waits
 * for resolution. */
#ifndef CUSTOS_RESOLVE_WORKER_H
#define CUSTOS_RESOLVE_WORKER_H

#include "core/textbuf.h"
#include "identity/incremental.h"

#define RESOLVE_WORKER_TICK_MS  200   /* a step at least this often, wakes or not */
#define RESOLVE_WORKER_RETRY_MS 5000  /* after a failed step */
#define RESOLVE_WORKER_STOP_MS  10000 /* at most this resolving a backlog when stopping */
/* At least this between steps: wakes coalesce, so a stream of small commits makes
 * bigger batches. */
#define RESOLVE_WORKER_GAP_MS 20
/* Rows per resolver transaction at most: ingestion waits while it writes (they take
 * turns). Each transaction writes every page it touched into the WAL (the member index
 * is keyed by profile: random pages), so rows per page, not rows, make the cost:
 * smaller batches cost more per row (1,000-row batches took 3x longer a row than
 * 5,000-row ones). */
#define RESOLVE_WORKER_BATCH 5000
/* The share of the time the resolver may hold the write turn while the writer is busy
 * (percent): what ingestion at full speed gives up to resolution; the rest of a backlog
 * is resolved when the load drops. */
#define RESOLVE_WORKER_DUTY_PCT 10
/* Within this lag the resolver yields as above; behind it, it catches up at full speed
 * for RESOLVE_WORKER_CATCHUP_MS, after which (still behind: the load is more than it
 * can follow) it yields again until the writer is idle. */
#define RESOLVE_WORKER_LAG_MS     500
#define RESOLVE_WORKER_CATCHUP_MS 1000

struct resolve_worker;

/* Turns at writing with the ingestion writer of this process (writer_turn_begin and
 * writer_turn_end, arg the writer): see incremental_set_turns. */
struct resolve_turns {
    void (*begin)(void *arg), (*end)(void *arg);
    void *arg;
};

/* Opens its own connection to the database at db (opt as for the store; synchronous
 * "normal" is enough: what a crash loses of resolution is redone from the cursor,
 * which is in the same transactions) and starts the thread. rules must outlive the worker. Returns
 * 0, or an error with its reason. */
int resolve_worker_start(const char *db, const struct store_options *opt,
                         const struct idgraph_rules *rules, const struct resolve_turns *turns,
                         struct resolve_worker **out, struct err *e);

/* Asks for a step soon (callable from any thread; arg is the worker). */
void resolve_worker_wake(void *arg);

/* Appends the worker's Prometheus metrics to b. */
void resolve_worker_metrics(struct resolve_worker *w, struct textbuf *b);

/* Resolves what is committed (for RESOLVE_WORKER_STOP_MS at most: the rest of a large
 * backlog waits for the next start, from the cursor), stops the thread, closes its
 * store, frees w. */
void resolve_worker_stop(struct resolve_worker *w);

#endif
