/* profile_cache.h - profile reads from memory for `custos serve` (DESIGN.md: "Profile
 * reads come from memory, never from a join at request time").
 *
 * An index, immutable once built: identifier (type, value) -> profile, profile id ->
 * where it merged (redirects), and per profile a slot for its rendered JSON view (the
 * store's profile_view with survivorship applied). A refresh thread on its own store
 * connection polls PRAGMA data_version every PROFILE_CACHE_POLL_MS; when it changed it
 * reloads the API keys, and when the identity stamp changed too (a resolution, merge or
 * import committed, from any process) it builds a new index, swaps it in and then fills
 * every live profile's view (prewarm). A read that finds its view slot still empty
 * builds it on a second connection under a mutex (counted as a miss) and keeps it.
 *
 * Readers never wait for one another: the current index is taken under a read lock
 * just long enough to count a reference; the swap takes the write lock for one pointer
 * store; an index is freed when its last reader lets go. API keys sit under a
 * rwlock of their own. Thread-safe. */
#ifndef CUSTOS_PROFILE_CACHE_H
#define CUSTOS_PROFILE_CACHE_H

#include "core/textbuf.h"
#include "http/api_key.h"
#include "identity/survivorship.h"

#define PROFILE_CACHE_POLL_MS 100 /* how often the store is asked whether it changed */

struct profile_cache;

/* Opens two read connections to db (the refresh thread's and the misses'), builds
 * the first index (views are filled afterwards, in the background) and starts the
 * refresh thread. surv is copied. recent_events: events per view. Returns 0 and *out
 * (free with profile_cache_free), or the store's error with the reason in e. */
int profile_cache_new(const char *db, const struct survivorship *surv, int recent_events,
                      struct profile_cache **out, struct err *e);

/* Stops the refresh thread and frees everything; c may be NULL. */
void profile_cache_free(struct profile_cache *c);

/* api_key_check against the keys in memory. */
int profile_cache_authenticate(struct profile_cache *c, const char *authorization,
                               struct api_key_identity *who, struct err *e);

/* The profile an identifier (standardized) belongs to: 0 and *profile_id, or
 * ERR_NOTFOUND. */
int profile_cache_find(struct profile_cache *c, const char *type, const char *value,
                       int64_t *profile_id);

/* The JSON view of profile id, following redirects (the answer then says
 * "redirected_from"). Returns 0 and a malloc'd body in *body (*len bytes, NUL-
 * terminated; the caller frees it), ERR_NOTFOUND for an id no profile ever had, or
 * the store's error (with the reason in e) when building a missing view failed. */
int profile_cache_view(struct profile_cache *c, int64_t id, char **body, size_t *len,
                       struct err *e);

/* Appends the cache's metrics (Prometheus text) to b. */
void profile_cache_metrics(struct profile_cache *c, struct textbuf *b);

#endif
