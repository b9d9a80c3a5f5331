/* profile_api.c - see profile_api.h. */
#include <cJSON.h>
#include <pthread.h>

#include "core/config.h"
#include "core/log.h"
#include "http/api_key.h"
#include "identity/profile_api.h"
#include "privacy/seal.h"
#include "identity/profile_cache.h"
#include "identity/resolve.h"
#include "identity/survivorship.h"
#include "privacy/audit.h"
#include "privacy/policy.h"

#define PROFILE_PATH   "/api/v1/profiles"
#define PROFILE_ID_MAX 18 /* digits of a profile id: anything longer is not one */

struct profile_api {
    struct profile_cache *cache; /* NULL with profile-cache = off */
    pthread_mutex_t lock;        /* guards st (the old way, without the cache) */
    struct store *st;
    /* Clear reads' audit entries, committed in groups (audit.h) on a connection of
     * their own: with the cache on, readers never take the lock above. */
    struct store *audit_st;
    struct audit_group *audit;
    struct survivorship surv;
};

int profile_api_new(const char *db, struct profile_api **out, struct err *e)
{
    struct profile_api *a = calloc(1, sizeof(*a));
    if (!a)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (survivorship_parse(cfg.survivorship, &a->surv, e)) {
        free(a);
        return ERR_INVALID;
    }
    struct store_options opt = {.synchronous_full = true};
    int rc = store_open(db, &opt, &a->st, e);
    if (rc) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    if ((rc = store_open(db, &opt, &a->audit_st, e)) ||
        (rc = audit_group_new(a->audit_st, &a->audit, e))) {
        profile_api_free(a);
        return rc;
    }
    if (strcmp(cfg.profile_cache, "on") == 0 &&
        (rc = profile_cache_new(db, &a->surv, PROFILE_API_RECENT_EVENTS, &a->cache, e))) {
        profile_api_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void profile_api_metrics(struct profile_api *a, struct textbuf *b)
{
    if (a && a->cache)
        profile_cache_metrics(a->cache, b);
}

void profile_api_free(struct profile_api *a)
{
    if (!a)
        return;
    profile_cache_free(a->cache);
    audit_group_free(a->audit);
    store_close(a->audit_st);
    store_close(a->st);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Authenticates the request (who: the key's id, role and hint); on failure fills res
 * and returns nonzero. Call locked when there is no cache. */
static int authenticate(struct profile_api *a, const struct http_request *req,
                        struct http_response *res, struct api_key_identity *who)
{
    struct err e = {0};
    const char *auth = http_header(req, "Authorization");
    int rc = a->cache ? profile_cache_authenticate(a->cache, auth, who, &e)
                      : api_key_identify(a->st, auth, who, &e);
    return api_key_refuse(res, rc, &e, "profile api");
}

/* Applies the key's role to a rendered answer (privacy/policy.h: masking, and the audit
 * of clear reads, committed in groups with the other requests' before the answer
 * leaves). On failure answers 500 and returns nonzero; *body is then still the
 * caller's. */
static int guard(struct profile_api *a, const struct api_key_identity *who, int64_t id, char **body,
                 size_t *len, struct http_response *res)
{
    char actor[32], subject[32];
    snprintf(actor, sizeof(actor), "key:%s", who->hint);
    snprintf(subject, sizeof(subject), "profile:%" PRId64, id);
    struct err e = {0};
    char detail[POLICY_DETAIL_MAX];
    int rc = policy_mask_text(body, len, who->role, detail, &e);
    if (!rc && detail[0])
        rc = audit_group_append(a->audit, actor, AUDIT_READ_CLEAR, subject, detail, &e);
    if (rc) {
        log_error("profile api: not answered, cannot apply the role: %s", e.msg);
        http_error(res, 500, "audit_error", "cannot record the read in the audit log");
    }
    return rc;
}

/* Answers the view of profile id (which may redirect), as the key's role may see it.
 * Call locked when there is no cache. */
static void answer_view(struct profile_api *a, const struct api_key_identity *who, int64_t id,
                        struct http_response *res)
{
    char *body = NULL;
    size_t len = 0;
    struct err e = {0};
    int rc;
    if (a->cache) {
        rc = profile_cache_view(a->cache, id, &body, &len, &e);
    } else {
        void *view = NULL;
        rc = a->st->ops->profile_view(a->st, id, PROFILE_API_RECENT_EVENTS, &view, &e);
        if (!rc) {
            char what[40];
            snprintf(what, sizeof(what), "profile %" PRId64, id);
            rc = seal_open_json(view, what, &e); /* a token left: it did not decrypt */
        }
        if (!rc && survivorship_apply(&a->surv, view))
            rc = err_set(&e, ERR_NOMEM, "out of memory");
        char *text = rc ? NULL : cJSON_PrintUnformatted(view);
        cJSON_Delete(view);
        if (!rc && !text)
            rc = err_set(&e, ERR_NOMEM, "out of memory");
        if (text) {
            len = strlen(text);
            body = malloc(len + 1);
            if (body)
                memcpy(body, text, len + 1);
            else
                rc = err_set(&e, ERR_NOMEM, "out of memory");
            cJSON_free(text);
        }
    }
    if (rc == ERR_NOTFOUND) {
        http_error(res, 404, "not_found", "no profile %" PRId64, id);
    } else if (rc) {
        log_error("profile api: cannot read profile %" PRId64 ": %s", id, e.msg);
        http_error(res, 500, "store_error", "cannot read the profile");
    } else if (guard(a, who, id, &body, &len, res) == 0) {
        free(res->body);
        res->status = 200;
        res->content_type = "application/json";
        res->body = body;
        res->body_len = len;
        body = NULL;
    }
    free(body);
}

/* Without the cache, one connection serves every request, one at a time. */
static void lock(struct profile_api *a)
{
    if (!a->cache)
        pthread_mutex_lock(&a->lock);
}

static void unlock(struct profile_api *a)
{
    if (!a->cache)
        pthread_mutex_unlock(&a->lock);
}

static bool parse_id(const char *s, int64_t *id)
{
    size_t n = strlen(s);
    if (n == 0 || n > PROFILE_ID_MAX)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *id = v;
    return v > 0;
}

static void handle_by_id(const struct http_request *req, struct http_response *res, void *arg)
{
    struct profile_api *a = arg;
    struct api_key_identity who;
    lock(a);
    if (authenticate(a, req, res, &who))
        goto out;
    int64_t id = 0;
    if (!parse_id(req->path + strlen(PROFILE_PATH "/"), &id)) {
        http_error(res, 400, "invalid_id", "a profile id is a positive whole number");
        goto out;
    }
    answer_view(a, &who, id, res);
out:
    unlock(a);
}

/* The lookup parameters and the identifier type each names. */
static const struct {
    const char *param, *type;
} lookups[] = {
    {"email", "email"},
    {"phone", "phone"},
    {"userId", "user_id"},
    {"memberCard", "member_card"},
};

static void handle_lookup(const struct http_request *req, struct http_response *res, void *arg)
{
    struct profile_api *a = arg;
    struct api_key_identity who;
    lock(a);
    if (authenticate(a, req, res, &who))
        goto out;
    size_t which = ARRAY_SIZE(lookups), given = 0;
    const char *value = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(lookups); i++) {
        const char *v = http_query(req, lookups[i].param);
        if (v) {
            which = i;
            value = v;
            given++;
        }
    }
    if (given != 1) {
        http_error(res, 400, "invalid_parameter",
                   "give exactly one of email, phone, userId, memberCard (or use %s/ID)",
                   PROFILE_PATH);
        goto out;
    }
    char norm[IDGRAPH_VALUE_MAX + 1];
    if (resolve_standardize(lookups[which].type, value, strlen(value), norm, sizeof(norm)) ||
        seal_identifier(lookups[which].type, norm, norm, sizeof(norm), NULL)) {
        http_error(res, 400, "invalid_parameter", "%s is not a valid %s", lookups[which].param,
                   lookups[which].type);
        goto out;
    }
    int64_t id = 0;
    struct err e = {0};
    int rc = 0;
    if (a->cache)
        profile_cache_find(a->cache, lookups[which].type, norm, &id); /* id stays 0 if none */
    else
        rc = a->st->ops->profile_by_identifier(a->st, lookups[which].type, norm, &id, &e);
    if (rc) {
        log_error("profile api: cannot look up a profile: %s", e.msg);
        http_error(res, 500, "store_error", "cannot look up the profile");
    } else if (!id) {
        http_error(res, 404, "not_found", "no profile has that %s", lookups[which].param);
    } else {
        answer_view(a, &who, id, res);
    }
out:
    unlock(a);
}

size_t profile_api_routes(struct profile_api *a, struct http_route *routes, size_t cap)
{
    size_t n = 0;
    if (n < cap)
        routes[n++] = (struct http_route){"GET", PROFILE_PATH, handle_lookup, 0, a};
    if (n < cap)
        routes[n++] = (struct http_route){"GET", PROFILE_PATH "/*", handle_by_id, 0, a};
    return n;
}
