/* incremental.h - resolving new events and records as they arrive (OneID).
 *
 * A full resolution (resolve.h) reads everything. An incremental resolver keeps the
 * identity graph in memory instead: loaded once from the stored identifiers (node =
 * identifiers.id, nodes of one stored profile united), it then reads only the records
 * and events past a stored cursor (migration 0011), takes their identifiers exactly as
 * the full resolution does, links them under the same rules, and writes what changed
 * in one transaction per batch: new identifiers, the members, the profiles touched,
 * and the merge when a row links two existing profiles (the smaller id survives; the
 * other redirects to it, journaled). The cursor moves in the same transaction.
 *
 * Same rows in the same order give the same profiles as a full resolution. A full
 * resolution run meanwhile (in any process) bumps the cursor's generation; so does
 * any other writer of the graph move the cursor: the resolver notices either inside
 * its own write transaction and loads the graph again before going on.
 *
 * Not thread-safe: one resolver per thread, on a store connection of its own. */
#ifndef CUSTOS_INCREMENTAL_H
#define CUSTOS_INCREMENTAL_H

#include "identity/graph.h"
#include "identity/resolve.h"
#include "store/store.h"

#define INCREMENTAL_BATCH 5000 /* rows per transaction: bounds how long the write lock is held */

#define INCREMENTAL_LAG_BUCKETS 17
extern const int64_t incremental_lag_bounds[INCREMENTAL_LAG_BUCKETS]; /* ms; the last: no bound */

struct incremental_stats {
    uint64_t records, events; /* rows read past the cursor */
    uint64_t joined;          /* rows that joined a profile that existed before their batch */
    uint64_t created;         /* profiles created */
    uint64_t in_new;          /* rows that went into a profile created in their batch */
    uint64_t unresolved;      /* rows without any usable identifier */
    uint64_t identifiers;     /* identifiers created */
    uint64_t merges;          /* profiles merged into another */
    uint64_t refused_links;   /* links the rules refused */
    uint64_t loads;           /* times the graph was loaded from the store */
    uint64_t batches;         /* transactions committed */
    uint64_t write_ns;        /* time inside write transactions (holding the turn) */
    int64_t behind_ms;        /* the last batch: from its newest event's receipt to its commit */
    /* Events by lag, from their receipt by the collection API to the commit that put
     * them in a profile: lag[i] counts lags <= incremental_lag_bounds[i] (and above
     * the bound before). */
    uint64_t lag[INCREMENTAL_LAG_BUCKETS];
    uint64_t lag_sum_ms;
    int64_t lag_max_ms;
    struct resolve_stats std; /* per-type counts of values standardization refused */
};

struct incremental;

/* Prepares a resolver on st (which stays the caller's, used from one thread) with
 * rules (which must outlive it). The graph is loaded at the first step. */
int incremental_new(struct store *st, const struct idgraph_rules *rules, struct incremental **out,
                    struct err *e);
void incremental_free(struct incremental *inc);

/* Has the resolver call turn_begin(arg) before each of its write transactions and
 * turn_end(arg) after it (see writer_turn_begin: taking turns with the ingestion
 * writer of the same process instead of sleeping on SQLite's lock). */
void incremental_set_turns(struct incremental *inc, void (*turn_begin)(void *),
                           void (*turn_end)(void *), void *arg);

/* Sets the rows per transaction (0: INCREMENTAL_BATCH). Smaller batches hold the
 * write turn for less time each (custos serve, where ingestion waits meanwhile). */
void incremental_set_batch(struct incremental *inc, size_t rows);

/* Resolves the records and events stored past the cursor, at most
 * INCREMENTAL_BATCH records or INCREMENTAL_BATCH events per transaction, events only
 * once no record is pending (the order of a full resolution): all of them, or with max_rows
 * > 0 batches until at least max_rows were read. *resolved (may be NULL) gets the
 * number of rows read. Returns 0, or an error with its reason in e: batches
 * committed before it stay; the graph is loaded again at the next step. ERR_INVALID
 * when the stored graph cannot be restored under the rules (they changed since it
 * was written, or its numbering has holes): run a full resolution. */
int incremental_step(struct incremental *inc, uint64_t max_rows, uint64_t *resolved, struct err *e);

/* Counts since incremental_new. */
void incremental_get_stats(const struct incremental *inc, struct incremental_stats *out);

#endif
