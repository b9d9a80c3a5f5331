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

/* The probabilistic stage (resolve_match.h): on unless disabled; thresholds are
 * posterior match probabilities. */
struct resolve_match {
    bool enabled;
    double link_p;     /* link a pair at this probability or more */
    double review_p;   /* queue it for review from here up to link_p */
    long detect_names; /* a value carried with this many distinct names is refused; 0 off */
};

/* The settings identity-match, identity-match-link and identity-match-review. */
void resolve_match_from_config(struct resolve_match *m);

struct resolve_stats {
    uint64_t events, records, unresolved; /* unresolved: no usable identifier */
    uint64_t identifiers, profiles, refused_links, merges;
    /* links people decided (accepted pairs), and those the rules refused; must-not-link
     * pairs in force */
    uint64_t must_links, must_refused, cannot_links;
    /* the matcher: comparison records (profiles with a name, birth date, city or
     * gender), candidate pairs, links made and refused, pairs queued for review */
    uint64_t match_records, match_candidates, match_links, match_refused, review_pairs;
    bool match_fitted;
    /* values refused because records carrying them name many different people */
    uint64_t detected;
    char detected_type[RESOLVE_TYPES_MAX][32];
    uint64_t detected_count[RESOLVE_TYPES_MAX];
    size_t ndetected_types;
    uint64_t suppressed;                 /* identifiers of erased people met: not linked */
    uint64_t invalid[RESOLVE_TYPES_MAX]; /* per type, values standardization refused */
    char invalid_type[RESOLVE_TYPES_MAX][32];
    size_t ninvalid;
    double seconds;
};

/* Resolves everything in st with the rules; writes the map CSV
 * (source,record_key,profile_id: events have their messageId as record key) to map
 * when it is not NULL. progress: a progress line on stderr.
 *
 * Stored link constraints hold throughout: a must-not-link pair (a rejected review
 * pair, an undone merge) is never joined, by a record or by the matcher; a must-link
 * (an accepted pair) is joined after the deterministic graph when the limits allow.
 * With match enabled, the probabilistic stage then links profiles that share no
 * identifier (journaled in merges as "probabilistic: ...") and refills the review
 * queue with the pairs between the thresholds. */
int resolve_full(struct store *st, const struct idgraph_rules *rules,
                 const struct resolve_match *match, FILE *map, bool progress,
                 struct resolve_stats *stats, struct err *e);

/* The plain exact-match baseline for the benchmark: identifiers are linked as
 * written (trimmed only), with no limits and no blocked values; nothing is stored,
 * only the map is written. */
int resolve_exact_baseline(struct store *st, FILE *map, struct resolve_stats *stats, struct err *e);

/* The identifiers one record or event carries, standardized, as resolution links them
 * (ids[i] point into types and values). */
struct resolve_idents {
    char types[IDGRAPH_RECORD_IDS][64];
    char values[IDGRAPH_RECORD_IDS][IDGRAPH_VALUE_MAX + 1];
    struct ident ids[IDGRAPH_RECORD_IDS];
    size_t n;
};

/* Takes the identifiers of an imported record or of an event exactly as resolve_full
 * does (same fields, standardization, at most IDGRAPH_RECORD_IDS); values that
 * standardization refuses are counted in stats->invalid. Cannot fail. */
void resolve_record_identifiers(const struct import_row *row, struct resolve_stats *stats,
                                struct resolve_idents *out);
void resolve_event_identifiers(const struct event_row *ev, struct resolve_stats *stats,
                               struct resolve_idents *out);

/* Standardizes an identifier of a type into out (cap bytes): phones, e-mails and
 * resident ID numbers by their rules, other types trimmed. 0, or ERR_INVALID. */
int resolve_standardize(const char *type, const char *value, size_t len, char *out, size_t cap);

#endif
