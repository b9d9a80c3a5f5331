/* consent_api.h - the consent HTTP API (issue 6): POST /api/v1/consent records a
 * decision (an admin API key), GET /api/v1/consent?profileId=N answers the decisions
 * in force (any API key). docs/privacy.md describes both. */
#ifndef CUSTOS_PRIVACY_CONSENT_API_H
#define CUSTOS_PRIVACY_CONSENT_API_H

#include "http/server.h"

#define CONSENT_API_MAX_BODY 16384 /* bytes of a POST: a decision and its evidence */

struct consent_api;

/* Opens its own connection to the database db. Free with consent_api_free. */
int consent_api_new(const char *db, struct consent_api **out, struct err *e);
void consent_api_free(struct consent_api *a);

/* Fills routes (capacity cap) with the API's routes; returns how many. */
size_t consent_api_routes(struct consent_api *a, struct http_route *routes, size_t cap);

#endif
