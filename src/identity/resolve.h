/* resolve.h - building profiles from everything stored.
 *
 * A full resolution reads every imported record and every event, takes the
 * identifiers each carries (standardized: phones to E.164, e-mails lower-cased,
 * resident ID numbers checked; invalid values are counted, not linked), links them in
 * the identity graph (graph.h) under the configured rules, and writes which profile
 * every record and event belongs to. Identifiers keep their numbers from one run to
 * the next, and so do profiles; a profile that a new link joins to another redirects
 * to it, with the merge journaled. */
#ifndef CUSTOS_RESOLVE_H
#define CUSTOS_RESOLVE_H

#include "identity/graph.h"
#include "store/store.h"

#define RESOLVE_TYPES_MAX 32

struct resolve_stats {
    uint64_t events, records, unresolved; /* unresolved: no usable identifier */
    uint64_t identifiers, profiles, refused_links, merges;
    uint64_t suppressed;                 /* identifiers of erased people met: not linked */
    uint64_t invalid[RESOLVE_TYPES_MAX]; /* per type, values standardization refused */
    char invalid_type[RESOLVE_TYPES_MAX][32];
    size_t ninvalid;
    double seconds;
};

/* Resolves everything in st with the rules; writes the map CSV
 * (source,record_key,profile_id: events have their messageId as record key) to map
 * when it is not NULL. progress: a progress line on stderr. */
int resolve_full(struct store *st, const struct idgraph_rules *rules, FILE *map, bool progress,
                 struct resolve_stats *stats, struct err *e);

/* The plain exact-match baseline for the benchmark: identifiers are linked as
 * written (trimmed only), with no limits and no blocked values; nothing is stored,
 * only the map is written. */
int resolve_exact_baseline(struct store *st, FILE *map, struct resolve_stats *stats, struct err *e);

/* Standardizes an identifier of a type into out (cap bytes): phones, e-mails and
 * resident ID numbers by their rules, other types trimmed. 0, or ERR_INVALID. */
int resolve_standardize(const char *type, const char *value, size_t len, char *out, size_t cap);

#endif
