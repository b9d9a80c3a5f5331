/* resolve_match.h - the probabilistic stage of `custos resolve`: after the
 * deterministic graph, profiles that share no identifier are compared on what people
 * wrote about themselves (name, birth date, city, gender), with Fellegi-Sunter weights
 * fitted by EM on this store's own candidate pairs (match.h).
 *
 * One comparison record per deterministic group (the first value of each field met
 * in stored order: records by id, then events by id). Pairs are blocked on the whole
 * name, on the birth date, on the first character of the name with the birth year,
 * and on the first two characters of the name with the city. Names whose characters
 * differ only by homophones compare as nearly equal. A pair whose posterior match
 * probability is at least the link threshold, and whose birth dates agree, is joined
 * in the graph (idgraph_link: limits and must-not-link pairs still hold); a pair
 * between the review and link thresholds, or over the link one with no birth date to
 * confirm it, is handed back for the review queue.
 * Internal to the identity module (resolve.c). */
#ifndef CUSTOS_RESOLVE_MATCH_H
#define CUSTOS_RESOLVE_MATCH_H

#include "identity/graph.h"

enum { RM_NAME, RM_BIRTHDAY, RM_CITY, RM_GENDER, RM_NFIELDS };

#define RM_VALUE_MAX 64 /* bytes of one standardized trait: names and cities are short */

/* The traits collected from members: one entry per member that carries any. */
struct rm_traits {
    struct rm_entry {
        int64_t node;             /* a node of the member's group */
        uint32_t off[RM_NFIELDS]; /* into pool; 0: missing */
    } * v;
    size_t n, cap;
    char *pool; /* pool[0] is the empty string */
    size_t pool_len, pool_cap;
};

/* Standardizes raw trait values (NULL: absent) and keeps them for the member's node.
 * Values that do not standardize are left out. 0 or ERR_NOMEM. */
int rm_traits_add(struct rm_traits *t, int64_t node, const char *name, const char *birthday,
                  const char *city, const char *gender);
void rm_traits_release(struct rm_traits *t);

/* Whether two names of the same length differ only by characters read alike (the
 * same pinyin, tones aside: 王晓明 and 王小明), from a table of common name characters;
 * false for equal names. Pairs of such names compare as "nearly equal". */
bool rm_names_sound_alike(const char *a, const char *b);

struct rm_opts {
    double link_p, review_p; /* posterior probability thresholds, 0 < review <= link < 1 */
};

/* A pair the matcher decided on: the groups (their smallest nodes when scored), the
 * weight and posterior, and the agreement per field as a JSON object text. */
struct rm_pair {
    int64_t a, b;
    double weight, p;
    char fields[160];
    enum idgraph_refusal outcome; /* links: whether the graph took it */
};

struct rm_result {
    struct rm_pair *link, *review;
    size_t nlink, nreview;
    size_t records, candidates; /* comparison records, candidate pairs scored */
    size_t refused;             /* links the rules refused (limits, must-not-link) */
    bool fitted;                /* false: too few records or pairs to fit a model */
};

/* Runs the stage on g's current groups: links what it is sure of, returns the rest.
 * 0, ERR_NOMEM, or another ERR_* from match.h with e set. */
int rm_run(struct idgraph *g, const struct rm_traits *t, const struct rm_opts *o,
           struct rm_result *out, struct err *e);
void rm_result_release(struct rm_result *r);

#endif
