/* sources.h - sources and their write keys.
 *
 * A source is a named channel (web, app, POS, CRM ...) with its own write key and
 * tracking plan. Write keys are shown once, when created; the store keeps only their
 * BLAKE2b-256 hash. The server keeps a cache of sources with compiled plans, read
 * under a shared lock by request threads and refreshed from the store when a source
 * is added or its plan changes (checked at most once a second, and on an unknown
 * key). */
#ifndef CUSTOS_SOURCES_H
#define CUSTOS_SOURCES_H

#include "ingest/plan.h"
#include "store/store.h"

#define SOURCE_NAME_MAX  64 /* bytes; names are [A-Za-z0-9_.-] */
#define SOURCE_KEY_CHARS 32 /* characters of a generated write key */

/* Hashes a write key for storage and lookup. */
void source_key_hash(const char *key, size_t len, unsigned char out[32]);

/* Checks a source name; 0 or ERR_INVALID with the reason in e. */
int source_name_check(const char *name, struct err *e);

/* Reads a plan file, compiles it to validate it, and returns its text (caller frees)
 * in *text. 0, or ERR_IO / ERR_INVALID / ERR_LIMIT with the reason in e. */
int source_plan_load(const char *path, char **text, struct err *e);

/* Creates a source, writing its new write key (SOURCE_KEY_CHARS characters and a
 * NUL) into key. plan may be NULL. */
int source_create(struct store *st, const char *name, const char *plan, char key[64],
                  struct err *e);

/* A cached source; reference-counted, so a plan change never waits for requests. */
struct source_entry {
    _Atomic int refs;
    int64_t id;
    char *name;
    struct plan *plan; /* NULL: no plan */
    unsigned char key_hash[32];
};

struct source_cache;

/* Opens its own read connection to the database at db. */
int source_cache_new(const char *db, struct source_cache **out, struct err *e);
void source_cache_free(struct source_cache *c);

/* Finds the source whose write key is key[0..len). On success *out holds a reference
 * until source_release(*out). Returns 0, or ERR_AUTH (unknown key). */
int source_cache_acquire(struct source_cache *c, const char *key, size_t len,
                         struct source_entry **out);
void source_release(struct source_entry *en);

#endif
