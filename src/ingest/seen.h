/* seen.h - the set of (source, messageId) keys already stored, for deduplication.
 *
 * SDKs send random messageIds; a B-tree index on random keys would be the
 * ingestion bottleneck, so the set lives in memory (16 bytes a key, open addressing)
 * and is rebuilt from the store at start-up. Keys are 128-bit hashes of the
 * messageId seeded with the source id: two different messageIds colliding is a
 * 2^-128 event per pair. Not thread-safe: the writer thread owns it. */
#ifndef CUSTOS_SEEN_H
#define CUSTOS_SEEN_H

#include "core/text.h"

struct seen_set {
    struct hash128 *slots;
    size_t cap; /* a power of two */
    size_t count;
};

/* The key of a stored message: hash of its messageId, seeded with its source id. */
struct hash128 seen_key(int64_t source_id, const char *message_id, size_t len);

/* The key of a quarantined message: a space of its own, so that a good message
 * reusing the messageId of a quarantined one is still stored, while a retry of the
 * quarantined one is not kept twice. */
struct hash128 seen_key_quarantine(int64_t source_id, const char *message_id, size_t len);

/* The quarantine key of the message whose stored key is event_key, without hashing
 * its messageId again (for the writer's hot path). */
struct hash128 seen_key_quarantine_of(struct hash128 event_key);

/* Initialises an empty set with room for about hint keys. 0 or ERR_NOMEM. */
int seen_init(struct seen_set *s, size_t hint);
void seen_release(struct seen_set *s);

/* Adds k. Returns 1 if it was new, 0 if already present, ERR_NOMEM. */
int seen_add(struct seen_set *s, struct hash128 k);

bool seen_has(const struct seen_set *s, struct hash128 k);

/* Removes k if present (used to undo the adds of a rolled-back transaction). */
void seen_remove(struct seen_set *s, struct hash128 k);

#endif
