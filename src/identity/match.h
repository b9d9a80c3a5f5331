/* match.h - probabilistic record linkage: string comparators, blocking, comparison
 * vectors, Fellegi-Sunter weights fitted by EM, scoring and clustering.
 *
 * The pipeline, for deduplication of one table or linkage of two:
 *
 *   records (UTF-8 strings)  --match_table_new-->  table (decoded code points)
 *   table(s) --match_block-->  candidate pairs (several blocking keys, deduplicated)
 *   pairs    --match_compare-->  comparison vectors (one level per field, or missing)
 *   vectors  --match_em_fit-->  model (m and u per field level, share of matches)
 *   vectors  --match_score-->  match weights, sum of log2(m/u); thresholds give
 *                              link / review / non-link (match_decide)
 *   pairs + weights --match_cluster-->  entities (union-find over linked pairs)
 *
 * Text is compared as Unicode code points, not bytes: a Chinese name of three
 * characters has length 3. A table folds ASCII letters to lower case and ignores
 * leading and trailing ASCII blanks; everything else is compared as given, so
 * standardize values first (govern/). An empty value is missing: it compares as its
 * own outcome, MATCH_MISSING, which weighs 0 and is left out of the EM fit.
 *
 * Functions return 0 or a negative ERR_* code (core/err.h) with a reason in a
 * caller-owned struct err (which may be NULL); reasons name records and fields by
 * number, never their values. Nothing here keeps global state; distinct objects may be
 * used from distinct threads. */
#ifndef CUSTOS_MATCH_H
#define CUSTOS_MATCH_H

#include "core/common.h"

/* Limits, each with its reason. */
#define MATCH_VALUE_MAX                                                                            \
    256                             /* code points of one value: names and addresses are far       \
                                       shorter; bounds the comparators' stack rows */
#define MATCH_MAX_FIELDS  32        /* fields of a schema; a person record has about ten */
#define MATCH_MAX_LEVELS  4         /* agreement levels of one field, missing not counted */
#define MATCH_MAX_RULES   8         /* blocking keys of one run */
#define MATCH_MAX_PARTS   4         /* fields that make up one blocking key */
#define MATCH_MAX_RECORDS 100000000 /* records of a table: indices are 32-bit */
#define MATCH_BLOCK_MAX_DEFAULT                                                                    \
    500 /* records in one block; more is skipped as a junk                                         \
           value ("unknown", a shop's own postcode): 500                                           \
           records are already 124,750 pairs */
#define MATCH_PAIRS_MAX_DEFAULT                                                                    \
    20000000                           /* candidate pairs of one run before they are               \
                                          deduplicated: 160 MB, and as many comparison             \
                                          vectors of a byte per field */
#define MATCH_EM_MAX_ITER_DEFAULT 500  /* EM iterations */
#define MATCH_EM_TOL_DEFAULT      1e-6 /* EM stops when no parameter moves more */
#define MATCH_PROB_MIN                                                                             \
    1e-6 /* m, u and the match share stay within                                                   \
            [MATCH_PROB_MIN, 1 - MATCH_PROB_MIN]: a level                                          \
            never seen would otherwise weigh infinitely */

/* Jaro-Winkler as Winkler defined it: prefix scale 0.1, at most 4 prefix characters,
 * and the prefix bonus only when the Jaro similarity is above 0.7. */
#define MATCH_JW_PREFIX_SCALE 0.1
#define MATCH_JW_PREFIX_MAX   4
#define MATCH_JW_BOOST_MIN    0.7
#define MATCH_JW_HIGH_DEFAULT 0.92 /* MATCH_JW level 1: "nearly the same name" */
#define MATCH_JW_LOW_DEFAULT  0.80 /* MATCH_JW level 2: "similar" */
#define MATCH_DATE_NEAR_DAYS  365  /* MATCH_DATE level 2: dates at most a year apart */

/* The default decision band, as posterior match probabilities among the candidate
 * pairs the model was fitted on: link at 0.5 or more (the Bayes decision for equal
 * costs of both errors), review from 0.05. */
#define MATCH_LINK_P_DEFAULT   0.5
#define MATCH_REVIEW_P_DEFAULT 0.05

/* ---- similarity of UTF-8 text -------------------------------------------------- */

/* Decodes UTF-8 s[0..n) into code points cp[0..cap). Returns 0 with the count in
 * *len; ERR_INVALID for ill-formed UTF-8 (overlongs, surrogates, truncation, above
 * U+10FFFF); ERR_LIMIT when there are more than cap code points. */
int match_utf8_decode(const char *s, size_t n, uint32_t *cp, size_t cap, size_t *len);

/* Jaro and Jaro-Winkler similarity (0..1) of code point strings a[0..n), b[0..m),
 * each at most MATCH_VALUE_MAX long (longer input is compared on its first
 * MATCH_VALUE_MAX code points). Two empty strings are 1, one empty string 0. */
double match_jaro_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m);
double match_jaro_winkler_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m);

/* Levenshtein distance of a[0..n) and b[0..m) (insert, delete, substitute one code
 * point), bounded: when it is above bound the result is bound + 1, found early.
 * bound < 0 means no bound. Lengths are cut to MATCH_VALUE_MAX as above. O(n*m) time,
 * two rows on the stack. */
int match_levenshtein_cp(const uint32_t *a, size_t n, const uint32_t *b, size_t m, int bound);

/* The same on NUL-terminated UTF-8 strings. Returns 0 and the value in *out;
 * ERR_INVALID for bad UTF-8; ERR_LIMIT for a string of more than MATCH_VALUE_MAX
 * code points. */
int match_jaro_winkler(const char *a, const char *b, double *out);
int match_levenshtein(const char *a, const char *b, int bound, int *out);

/* Exact equality of two NUL-terminated UTF-8 strings (byte equality, which is code
 * point equality for valid UTF-8): 1 or 0. */
int match_exact(const char *a, const char *b);

/* Parses a calendar date "YYYYMMDD" or "YYYY-MM-DD" (years 1..9999, real days only,
 * 29 February in leap years) into days since 1970-01-01. 0 or ERR_INVALID. */
int match_date_parse(const char *s, size_t n, int32_t *days);

/* Date closeness: |a - b| in days for two dates as match_date_parse reads them. 0 or
 * ERR_INVALID when either is not a date. */
int match_days_apart(const char *a, const char *b, int32_t *out);

/* American Soundex of the ASCII letters of cp[0..n) (a letter and three digits, H and
 * W do not separate equal codes) into out, NUL-terminated. A value that does not start
 * with an ASCII letter has no Soundex code: returns 0 and leaves out empty ("").
 * Returns the length of out (4 or 0). */
size_t match_soundex_cp(const uint32_t *cp, size_t n, char out[5]);

/* ---- schema and tables --------------------------------------------------------- */

/* How a field is compared, and its levels (0 = best agreement, the last = disagree). */
enum match_kind {
    MATCH_NONE,  /* carried for blocking only, never compared (always missing) */
    MATCH_EXACT, /* 0 equal, 1 different */
    MATCH_JW,    /* 0 equal, 1 Jaro-Winkler >= high, 2 >= low, 3 lower */
    MATCH_EDIT,  /* 0 equal, 1 Levenshtein distance 1, 2 distance 2, 3 more (codes,
                    identifiers, numbers as text) */
    MATCH_DATE,  /* 0 same date, 1 day and month swapped or one digit off (one edit or
                    two adjacent digits swapped), 2 at most MATCH_DATE_NEAR_DAYS apart,
                    3 further; a value that is not a date gets 0, 1 or 3 by its text */
};

#define MATCH_MISSING 0xFF /* the level of a field missing on either side */

struct match_field {
    const char *name;     /* column name (match_table_from_records); borrowed */
    enum match_kind kind; /* how it is compared */
    double jw_high;       /* MATCH_JW thresholds; 0 means MATCH_JW_HIGH_DEFAULT, */
    double jw_low;        /* MATCH_JW_LOW_DEFAULT */
};

struct match_schema {
    size_t nfields;
    struct match_field field[MATCH_MAX_FIELDS];
};

/* Number of levels of a field of this kind (missing not counted): 0 for MATCH_NONE,
 * -1 for a value that is no kind. */
int match_kind_levels(enum match_kind kind);

/* Records read from a delimited file with a header row: value[r * ncols + c] is the
 * value of column c in record r, NUL-terminated UTF-8 ("" when empty). Everything is
 * owned by the struct; free with match_records_release. */
struct match_records {
    size_t nrecords, ncols;
    char **col;         /* ncols column names */
    const char **value; /* nrecords * ncols values */
    char *pool;         /* the text all of them point into */
};

/* Reads a CSV file (RFC 4180, one-byte delimiter, UTF-8) with a header row; leading
 * blanks of every field are dropped (FEBRL writes ", "). ERR_IO (cannot open or
 * read), ERR_INVALID (a malformed row, bad UTF-8, a row whose field count differs from
 * the header's), ERR_LIMIT (more than MATCH_MAX_RECORDS rows), ERR_NOMEM. On failure
 * *out is left empty. */
int match_records_read_csv(const char *path, char delim, struct match_records *out, struct err *e);

/* Index of the column called name, or -1. */
int match_records_column(const struct match_records *r, const char *name);

/* Frees what match_records_read_csv allocated; r is left empty. */
void match_records_release(struct match_records *r);

/* A table: the values of a schema's fields for n records, decoded for comparison. */
struct match_table;

/* Builds a table from values[r * s->nfields + f] (NULL or "" is missing). The values
 * are copied: the caller keeps ownership of them. ERR_INVALID (bad UTF-8, a schema of
 * 0 or more than MATCH_MAX_FIELDS fields, an unknown kind), ERR_LIMIT (a value of more
 * than MATCH_VALUE_MAX code points, more than MATCH_MAX_RECORDS records), ERR_NOMEM;
 * the reason names the record and field. Free with match_table_free. */
int match_table_new(const struct match_schema *s, size_t nrecords, const char *const *values,
                    struct match_table **out, struct err *e);

/* The same, picking the schema's fields from records by column name; ERR_NOTFOUND for
 * a field with no such column. */
int match_table_from_records(const struct match_schema *s, const struct match_records *r,
                             struct match_table **out, struct err *e);

/* Number of records of a table. */
size_t match_table_size(const struct match_table *t);

/* Frees a table (NULL is fine). */
void match_table_free(struct match_table *t);

/* ---- blocking ------------------------------------------------------------------ */

/* How one field goes into a blocking key. */
enum match_key_how {
    MATCH_KEY_WHOLE,   /* the whole value */
    MATCH_KEY_PREFIX,  /* its first n code points (all of it when shorter) */
    MATCH_KEY_SOUNDEX, /* its Soundex code; a value with none is used whole */
};

struct match_key_part {
    unsigned field; /* field index in the schema */
    enum match_key_how how;
    unsigned n; /* MATCH_KEY_PREFIX length */
};

/* A blocking key: records whose parts are all present and equal share a block. */
struct match_block_rule {
    const char *name; /* for reports; borrowed */
    size_t nparts;
    struct match_key_part part[MATCH_MAX_PARTS];
};

struct match_block_opts {
    size_t max_block; /* records in a block (both tables); 0: MATCH_BLOCK_MAX_DEFAULT */
    size_t max_pairs; /* pairs before deduplication; 0: MATCH_PAIRS_MAX_DEFAULT */
};

struct match_block_rule_stats {
    size_t blocks;          /* blocks that made pairs */
    size_t pairs;           /* pairs made, counting those other rules made too */
    size_t largest;         /* records in the largest block used */
    size_t skipped_blocks;  /* blocks larger than max_block, skipped */
    size_t skipped_records; /* records in them */
    size_t keyless;         /* records with a part missing, so in no block */
};

struct match_block_stats {
    size_t nrules;
    struct match_block_rule_stats rule[MATCH_MAX_RULES];
    size_t pairs_made; /* sum of the rules' pairs */
    size_t candidates; /* distinct pairs */
};

/* A candidate pair: record a of the first table and record b of the second (or, for
 * deduplication, of the same table, with a < b). */
struct match_pair {
    uint32_t a, b;
};

/* Pairs owned by the struct; free with match_pairs_release. */
struct match_pairs {
    size_t n;
    struct match_pair *pair;
};

/* Candidate pairs of records of a and b (b NULL or a: deduplication of a) that agree
 * on at least one rule's key, each pair once, sorted by (a, b). Keys are compared by
 * a 64-bit hash (two different keys merge their blocks with probability about
 * keys^2 / 2^64: extra pairs, never lost ones). Blocks of more than max_block records
 * are skipped and counted in stats. opts and stats may be NULL. ERR_INVALID (no
 * rules, too many, a part naming no field, tables of different schemas), ERR_LIMIT
 * (more than max_pairs pairs made), ERR_NOMEM. On failure *out is left empty. */
int match_block(const struct match_table *a, const struct match_table *b,
                const struct match_block_rule *rules, size_t nrules,
                const struct match_block_opts *opts, struct match_pairs *out,
                struct match_block_stats *stats, struct err *e);

/* Frees pairs; p is left empty. */
void match_pairs_release(struct match_pairs *p);

/* ---- comparison vectors -------------------------------------------------------- */

/* level[i * nfields + f]: the level of field f for pair i, or MATCH_MISSING. Owned by
 * the struct; free with match_vectors_release. */
struct match_vectors {
    size_t n, nfields;
    uint8_t *level;
};

/* Compares every pair of p (records of a and b; b NULL for deduplication) field by
 * field as the tables' schema says. ERR_INVALID (tables of different schemas, a pair
 * index out of range), ERR_NOMEM. On failure *out is left empty. */
int match_compare(const struct match_table *a, const struct match_table *b,
                  const struct match_pairs *p, struct match_vectors *out, struct err *e);

/* Frees vectors; v is left empty. */
void match_vectors_release(struct match_vectors *v);

/* ---- Fellegi-Sunter model ------------------------------------------------------ */

struct match_model {
    size_t nfields;
    uint8_t nlevels[MATCH_MAX_FIELDS];            /* 0 for MATCH_NONE fields */
    double m[MATCH_MAX_FIELDS][MATCH_MAX_LEVELS]; /* P(level | match) */
    double u[MATCH_MAX_FIELDS][MATCH_MAX_LEVELS]; /* P(level | non-match) */
    double lambda;                                /* share of matches among the pairs fitted */
    int iterations;                               /* EM iterations run */
    bool converged;                               /* stopped by the tolerance, not by max_iter */
    double loglik; /* log-likelihood (natural log) of the fitted pairs */
};

/* Starting values for a schema: m puts 0.9 on full agreement, u 0.9 on disagreement,
 * the rest spread evenly; lambda 0.1. ERR_INVALID for a bad schema. */
int match_model_init(struct match_model *mo, const struct match_schema *s);

/* Sets u from the level frequencies of nsample random pairs of records of a and b (b
 * NULL: of a), nearly all of which are non-matches: the usual starting u. Deterministic
 * for a seed. Each level gets one pseudo-count, so none is 0. ERR_INVALID (fewer than
 * 2 records, a model for another schema), ERR_LIMIT (nsample above
 * MATCH_PAIRS_MAX_DEFAULT), ERR_NOMEM. */
int match_model_u_from_sample(struct match_model *mo, const struct match_table *a,
                              const struct match_table *b, size_t nsample, uint64_t seed,
                              struct err *e);

struct match_em_opts {
    int max_iter; /* 0: MATCH_EM_MAX_ITER_DEFAULT */
    double tol;   /* 0: MATCH_EM_TOL_DEFAULT */
    bool fix_u;   /* keep u as given (e.g. from random pairs), fit m and lambda only */
};

/* Fits m, u and lambda by EM to the comparison vectors: the two-class mixture with
 * fields independent within a class, missing fields left out, starting from mo's
 * values (match_model_init, and perhaps match_model_u_from_sample). Identical
 * vectors are fitted once with their count. Probabilities are clamped to
 * [MATCH_PROB_MIN, 1 - MATCH_PROB_MIN]. If the fit ends with the "match" class
 * agreeing less than the other (labels swapped), the classes are swapped back.
 * opts may be NULL. ERR_INVALID (no vectors, a model of another width), ERR_NOMEM. */
int match_em_fit(struct match_model *mo, const struct match_vectors *v,
                 const struct match_em_opts *opts, struct err *e);

/* The match weight of one comparison vector: the sum over fields of log2(m/u) of its
 * level; missing fields add 0. */
double match_weight(const struct match_model *mo, const uint8_t *levels);

/* Weights of all vectors into weight[0..v->n). ERR_INVALID for a model of another
 * width. */
int match_score(const struct match_model *mo, const struct match_vectors *v, double *weight,
                struct err *e);

/* Posterior match probability of a weight among pairs like those fitted (prior
 * lambda), and its inverse: the weight at which the posterior is p (0 < p < 1). */
double match_probability(const struct match_model *mo, double weight);
double match_weight_at(const struct match_model *mo, double p);

enum match_decision { MATCH_NONLINK, MATCH_REVIEW, MATCH_LINK };

/* Link when weight >= upper, review when lower <= weight < upper, else non-link. */
enum match_decision match_decide(double weight, double lower, double upper);

/* ---- clustering ---------------------------------------------------------------- */

/* Union-find over n elements (union by size, path halving). */
struct match_uf {
    size_t n;
    uint32_t *parent;
    uint32_t *size;
};

/* Makes n singletons. ERR_LIMIT above MATCH_MAX_RECORDS, ERR_NOMEM. */
int match_uf_init(struct match_uf *uf, size_t n);

/* The representative of x's set (x < n). */
uint32_t match_uf_find(struct match_uf *uf, uint32_t x);

/* Joins the sets of x and y; true if they were apart. */
bool match_uf_union(struct match_uf *uf, uint32_t x, uint32_t y);

/* Frees the arrays; uf is left empty. */
void match_uf_release(struct match_uf *uf);

/* Groups records into entities: records 0..nrecords-1, where pair i joins record
 * p->pair[i].a and record b_offset + p->pair[i].b when weight[i] >= threshold
 * (b_offset 0 for deduplication, the first table's size for linkage). Writes a dense
 * entity number per record into entity[0..nrecords), numbered in order of each
 * entity's first record, and their count into *nentities. ERR_INVALID (a record out
 * of range), ERR_LIMIT, ERR_NOMEM. */
int match_cluster(size_t nrecords, const struct match_pairs *p, size_t b_offset,
                  const double *weight, double threshold, uint32_t *entity, size_t *nentities,
                  struct err *e);

#endif
