/* consent_api.c - see consent_api.h. */
#include <cJSON.h>
#include <pthread.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/api_key.h"
#include "identity/resolve.h"
#include "privacy/consent.h"
#include "privacy/consent_api.h"

#define CONSENT_PATH "/api/v1/consent"

struct consent_api {
    pthread_mutex_t lock; /* guards st */
    struct store *st;
};

int consent_api_new(const char *db, struct consent_api **out, struct err *e)
{
    struct consent_api *a = calloc(1, sizeof(*a));
    if (!a)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct store_options opt = {.synchronous_full = true};
    int rc = store_open(db, &opt, &a->st, e);
    if (rc) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void consent_api_free(struct consent_api *a)
{
    if (!a)
        return;
    store_close(a->st);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Checks the Bearer key; role gets its role. Nonzero (res filled) on failure. */
static int authenticate(struct consent_api *a, const struct http_request *req,
                        char role[API_KEY_ROLE_MAX], struct http_response *res)
{
    struct err e = {0};
    int rc = api_key_authenticate(a->st, http_header(req, "Authorization"), role, &e);
    return api_key_refuse(res, rc, &e, "consent api");
}

static const char *string_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* POST: {"profileId": N | "userId": U, "purpose", "status", "policyVersion"?,
 * "source"?, "evidence"?: {...}}. */
static void post_consent(struct consent_api *a, const struct http_request *req,
                         struct http_response *res)
{
    cJSON *body = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    const char *purpose = string_member(body, "purpose");
    const char *status = string_member(body, "status");
    const char *user_id = string_member(body, "userId");
    const char *policy = string_member(body, "policyVersion");
    const char *source = string_member(body, "source");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(body, "profileId");
    const cJSON *evidence = cJSON_GetObjectItemCaseSensitive(body, "evidence");
    enum consent_purpose p;
    struct err e = {0};
    char *ev_text = NULL;
    if (!cJSON_IsObject(body)) {
        http_error(res, 400, "invalid_json", "the body must be a JSON object");
    } else if (!purpose || consent_purpose_parse(purpose, &p, &e)) {
        http_error(res, 400, "invalid_purpose",
                   "purpose: say analytics, marketing, personalization or third_party");
    } else if (!status || (strcmp(status, "granted") != 0 && strcmp(status, "denied") != 0)) {
        http_error(res, 400, "invalid_status", "status: say granted or denied");
    } else if ((cJSON_IsNumber(pid) != 0) == (user_id != NULL) ||
               (cJSON_IsNumber(pid) && (pid->valuedouble < 1 || pid->valuedouble > 9e15 ||
                                        pid->valuedouble != (double)(int64_t)pid->valuedouble))) {
        http_error(res, 400, "invalid_subject",
                   "give exactly one of profileId (a positive whole number) and userId");
    } else if ((policy && strlen(policy) >= CONSENT_TEXT_MAX) ||
               (source && strlen(source) >= CONSENT_TEXT_MAX)) {
        http_error(res, 400, "too_long", "policyVersion and source have at most %d bytes",
                   CONSENT_TEXT_MAX - 1);
    } else if (evidence && !cJSON_IsObject(evidence)) {
        http_error(res, 400, "invalid_evidence", "evidence must be a JSON object");
    } else {
        ev_text = evidence ? cJSON_PrintUnformatted(evidence) : NULL;
        int rc;
        int64_t id = 0;
        if (user_id) {
            char value[IDGRAPH_VALUE_MAX + 1];
            rc = resolve_standardize("user_id", user_id, strlen(user_id), value, sizeof(value))
                     ? err_set(&e, ERR_INVALID, "userId is empty or too long")
                     : 0;
            struct consent_row c = {.identifier_type = "user_id",
                                    .identifier_value = value,
                                    .purpose = consent_purpose_name(p),
                                    .status = status,
                                    .time = time_now_ms(),
                                    .source = source ? source : "api",
                                    .policy_version = policy,
                                    .evidence = ev_text};
            if (!rc)
                rc = a->st->ops->consent_put(a->st, &c, &e);
            id = c.id;
        } else {
            rc = consent_set(a->st, (int64_t)pid->valuedouble, p, strcmp(status, "granted") == 0,
                             source ? source : "api", policy, ev_text, "api:admin", &e);
        }
        if (rc == ERR_NOTFOUND) {
            http_error(res, 404, "not_found", "%s", e.msg);
        } else if (rc == ERR_INVALID) {
            http_error(res, 400, "invalid_subject", "%s", e.msg);
        } else if (rc) {
            log_error("consent api: cannot record a consent: %s", e.msg);
            http_error(res, 500, "store_error", "cannot record the consent");
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddBoolToObject(o, "success", true);
            if (id)
                cJSON_AddNumberToObject(o, "id", (double)id);
            http_json(res, 201, o);
        }
    }
    cJSON_free(ev_text);
    cJSON_Delete(body);
}

static void handle_post(const struct http_request *req, struct http_response *res, void *arg)
{
    struct consent_api *a = arg;
    char role[API_KEY_ROLE_MAX];
    pthread_mutex_lock(&a->lock);
    if (!authenticate(a, req, role, res)) {
        if (strcmp(role, "admin") != 0)
            http_error(res, 403, "forbidden", "recording consent needs an admin API key");
        else
            post_consent(a, req, res);
    }
    pthread_mutex_unlock(&a->lock);
}

static void handle_get(const struct http_request *req, struct http_response *res, void *arg)
{
    struct consent_api *a = arg;
    char role[API_KEY_ROLE_MAX];
    pthread_mutex_lock(&a->lock);
    if (authenticate(a, req, role, res))
        goto out;
    const char *text = http_query(req, "profileId");
    char *end = NULL;
    long long id = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || id < 1) {
        http_error(res, 400, "invalid_parameter", "give profileId, a positive whole number");
        goto out;
    }
    int status[PURPOSE_COUNT];
    int64_t when[PURPOSE_COUNT];
    struct err e = {0};
    int rc = consent_sync(a->st, NULL, &e);
    if (!rc)
        rc = consent_state(a->st, id, status, when, &e);
    if (rc == ERR_NOTFOUND) {
        http_error(res, 404, "not_found", "no profile %lld", id);
        goto out;
    }
    if (rc) {
        log_error("consent api: cannot read consents: %s", e.msg);
        http_error(res, 500, "store_error", "cannot read the consents");
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "profileId", (double)id);
    cJSON *purposes = cJSON_AddObjectToObject(o, "purposes");
    bool dflt = strcmp(cfg.consent_default, "granted") == 0;
    for (int p = 0; p < PURPOSE_COUNT; p++) {
        cJSON *one = cJSON_AddObjectToObject(purposes, consent_purpose_name(p));
        cJSON_AddStringToObject(one, "status",
                                status[p] < 0   ? "undecided"
                                : status[p] > 0 ? "granted"
                                                : "denied");
        if (status[p] >= 0) {
            char at[32];
            time_format_iso8601(when[p], at);
            cJSON_AddStringToObject(one, "since", at);
        }
        cJSON_AddBoolToObject(one, "allowed", status[p] >= 0 ? status[p] > 0 : dflt);
    }
    http_json(res, 200, o);
out:
    pthread_mutex_unlock(&a->lock);
}

size_t consent_api_routes(struct consent_api *a, struct http_route *routes, size_t cap)
{
    size_t n = 0;
    if (n < cap)
        routes[n++] =
            (struct http_route){"POST", CONSENT_PATH, handle_post, CONSENT_API_MAX_BODY, a};
    if (n < cap)
        routes[n++] = (struct http_route){"GET", CONSENT_PATH, handle_get, 0, a};
    return n;
}
