/* collect.h - the collection API: Segment's HTTP Tracking API under /v1/.
 *
 * POST /v1/identify|track|page|screen|group|alias take one message; /v1/batch and
 * /v1/import take {"batch": [...]}. The write key comes by Basic auth (the key as
 * user name, with or without the trailing colon) or as "writeKey" in the body.
 * Every message is normalized (message.h), checked against its source's tracking
 * plan (plan.h), and handed to the writer (writer.h) as an event or, when it fails,
 * as a quarantine row with every reason. The answer comes after the commit.
 * docs/collection-api.md describes every answer. */
#ifndef CUSTOS_COLLECT_H
#define CUSTOS_COLLECT_H

#include "http/metrics.h"
#include "http/server.h"
#include "ingest/message.h"
#include "ingest/sources.h"
#include "ingest/writer.h"

struct suppression;

struct collect {
    struct source_cache *sources;
    struct writer *writer;
    struct suppression *suppress; /* erased people's identifiers (privacy/dsr.h); may be NULL */
    _Atomic uint64_t accepted, quarantined, duplicates, flagged;
    _Atomic uint64_t suppressed; /* messages of erased people, kept only as a reason */
};

/* The routes of the collection API, bound to c (which must outlive the server):
 * fills routes (capacity cap) and returns how many were written. */
size_t collect_routes(struct collect *c, struct http_route *routes, size_t cap);

/* Appends the collection counters to b. */
void collect_metrics(struct collect *c, struct textbuf *b);

/* Records being built from messages, and the memory their rows point into. */
struct collect_batch {
    struct record *recs;
    struct message_info *infos; /* one per record: the strings of its event row */
    size_t n, cap;
    cJSON *root; /* freed by collect_batch_release */
    const struct source_entry *src;
    int64_t received_at;
    /* Erased people (privacy/dsr.h; NULL: none): a message carrying one of their
     * identifiers becomes an empty quarantine record with the reason "suppressed", or,
     * with drop_suppressed, no record at all (counted in suppressed). Set after init. */
    struct suppression *suppress;
    bool drop_suppressed;
    size_t suppressed;
};

/* Prepares room for cap records of source src received at received_at. 0 or ERR_NOMEM. */
int collect_batch_init(struct collect_batch *w, size_t cap, const struct source_entry *src,
                       int64_t received_at);
void collect_batch_release(struct collect_batch *w);

/* Checks one message (its "type" decides, as in /v1/batch) received as
 * raw[0..raw_len) and adds it as an event or quarantine record; raw and msg must
 * live until the records are written. ERR_LIMIT when the batch is full. */
int collect_batch_add(struct collect_batch *w, cJSON *msg, const char *raw, size_t raw_len,
                      const struct plan *plan, cJSON *reasons);

/* A message's bytes inside a request body: [start, end). */
struct slice {
    size_t start, end;
};

/* Finds where each element of the top-level "batch" array of s[0..n) (valid JSON,
 * already parsed) starts and ends, so that every message is stored exactly as it
 * was received without printing it again. Returns the number of elements found
 * (at most cap), or -1 when the text has an unexpected shape (no "batch" key
 * spelled plainly, or more than cap elements). */
long collect_batch_slices(const char *s, size_t n, struct slice *out, size_t cap);

/* Re-validates one quarantined message against plan (a replay after the plan was
 * fixed). On success fills *rec as an event record keeping the messageId and corrected
 * timestamp decided on arrival; its strings point into *info, q and *tree (the
 * caller frees *tree with cJSON_Delete). Returns 0 when it now passes, ERR_INVALID
 * with the reasons appended to reasons when it still fails, ERR_NOMEM. */
int collect_revalidate(const struct quarantine_row *q, const struct plan *plan, struct record *rec,
                       struct message_info *info, cJSON **tree, cJSON *reasons);

#endif
