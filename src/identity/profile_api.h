/* profile_api.h - the HTTP profile API: GET /api/v1/profiles/{id} and
 * GET /api/v1/profiles?email=|phone=|userId=|memberCard=, behind Bearer API keys
 * (http/api_key.h). Answers the JSON of the store's profile_view.
 *
 * With profile-cache = on (the default) it answers from memory (identity/
 * profile_cache.h): no query at request time once a view is rendered. With off, it
 * reads through one store connection of its own guarded by a mutex (a SQLite
 * connection is used by one thread at a time), as it used to; the benchmark compares
 * the two. Views carry the golden traits of the survivorship setting. The key's role
 * decides what the answer shows (privacy/policy.h); clear reads of sensitive fields
 * are audited. */
#ifndef CUSTOS_PROFILE_API_H
#define CUSTOS_PROFILE_API_H

#include "core/textbuf.h"
#include "http/server.h"

#define PROFILE_API_RECENT_EVENTS 10 /* events in a view, as in custos profile show */

struct profile_api;

/* Opens its store connection to db, and the cache unless profile-cache = off. Returns
 * 0 and *out (free with profile_api_free), or ERR_INVALID (a bad survivorship
 * setting) or the store's error, with the reason in e. */
int profile_api_new(const char *db, struct profile_api **out, struct err *e);
void profile_api_free(struct profile_api *a);

/* Appends the cache's metrics to b (nothing without the cache). */
void profile_api_metrics(struct profile_api *a, struct textbuf *b);

/* Fills routes (capacity cap) with the API's routes; returns how many. They use a,
 * which must outlive the server. */
size_t profile_api_routes(struct profile_api *a, struct http_route *routes, size_t cap);

#endif
