/* writer.h - the single writer that owns the store's write connection.
 *
 * Request threads parse and validate, then hand their records to the writer and
 * wait. The writer takes everything queued since its last commit, writes it in one
 * transaction (one fsync for many requests: group commit), and wakes the waiters.
 * A record whose (source, messageId) is already stored is skipped and reported as a
 * duplicate; the check and the append happen in the same transaction. */
#ifndef CUSTOS_WRITER_H
#define CUSTOS_WRITER_H

#include "ingest/seen.h"
#include "store/store.h"

enum record_kind { RECORD_EVENT, RECORD_QUARANTINE };

enum record_outcome { RECORD_PENDING = 0, RECORD_STORED, RECORD_DUPLICATE };

struct record {
    enum record_kind kind;
    bool has_key; /* false for a body that could not be parsed: never a duplicate */
    struct hash128 key;
    enum record_outcome outcome; /* set by the writer */
    union {
        struct event_row event;
        struct quarantine_row quarantine;
    } row;
};

struct writer_stats {
    uint64_t commits, records, duplicates, failures;
    uint64_t queued; /* records waiting now */
    uint64_t seen;   /* keys in the dedup set */
};

struct writer;

/* Starts the writer thread on st, which it owns from now on (writer_stop closes
 * it). Rebuilds the dedup set from the store first. max_queue bounds the records
 * waiting for a commit. Returns 0 or an error with the reason in e. */
int writer_start(struct store *st, size_t max_queue, struct writer **out, struct err *e);

/* Queues recs[0..n) and blocks until the transaction holding them is committed
 * (fsynced when the store is synchronous). Sets each record's outcome. Returns 0;
 * ERR_BUSY without writing anything when the queue is full; ERR_STORE when the
 * transaction failed (nothing of it was written); ERR_INVALID after writer_stop
 * began. The records must stay valid until it returns. */
int writer_submit(struct writer *w, struct record *recs, size_t n, struct err *e);

void writer_get_stats(struct writer *w, struct writer_stats *out);

/* Has the writer thread call fn(arg) after each commit (for the incremental resolver
 * of `custos serve`: new events are there to resolve). fn must be quick and must not
 * call the writer. Set it before records are submitted. */
void writer_on_commit(struct writer *w, void (*fn)(void *arg), void *arg);

/* Turns at writing the database, first come first served, for another connection of
 * this process that writes too (the resolver): SQLite lets one writer in at a time and
 * makes the others sleep and retry, which under a steady stream of commits starves
 * them. The writer takes a turn for each of its transactions; take one around each
 * write transaction of the other connection. arg is the writer. */
void writer_turn_begin(void *arg);
void writer_turn_end(void *arg);

/* Commits what is queued, stops the thread, closes the store, frees w. */
void writer_stop(struct writer *w);

#endif
