/* live.h - analytics inside `custos serve`: a snapshot kept current by a refresh
 * thread (new events and orders every segment-refresh-ms, then every segment and tag
 * evaluated again and entries and exits stored), and the HTTP API on it:
 *
 *   GET /api/v1/analytics/kpi?period=&by=&from=&to=
 *   GET /api/v1/analytics/rfm?as_of=&window=&profiles=1
 *   GET /api/v1/analytics/funnel?steps=A,B,C&window=&by=
 *   GET /api/v1/analytics/cohort?period=&by=
 *   GET /api/v1/analytics/paths?from=EVENT|to=EVENT&depth=&limit=
 *   GET /api/v1/segments, GET /api/v1/segments/NAME/members
 *
 * Bearer API keys as for profiles; until the privacy issue brings finer roles, only
 * keys with the role admin are let in (403 for the others). */
#ifndef CUSTOS_SEGMENT_LIVE_H
#define CUSTOS_SEGMENT_LIVE_H

#include "http/server.h"

struct analytics_live;

/* Opens its own store connection to db, loads the snapshot, and starts the refresh
 * thread (none when refresh_ms is 0). While rows arrive, refreshes are spaced out in
 * proportion to what the last one cost (at most 500 ms apart). upto_resolved: an
 * incremental resolver runs beside it, so rows are taken once resolved (see
 * snapshot.upto_resolved). Returns 0 and *out (stop with analytics_live_free), or the
 * error. */
int analytics_live_new(const char *db, long refresh_ms, bool upto_resolved,
                       struct analytics_live **out, struct err *e);
void analytics_live_free(struct analytics_live *a);

/* Fills routes (capacity cap); returns how many. */
size_t analytics_live_routes(struct analytics_live *a, struct http_route *routes, size_t cap);

#endif
