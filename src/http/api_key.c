/* api_key.c - see api_key.h. */
#include <sodium.h>
#include <strings.h>

#include "core/timeutil.h"
#include "core/log.h"
#include "http/api_key.h"
#include "http/server.h"

const char *const api_key_roles[] = {"admin", "analyst", "marketing", "service", "risk", NULL};

bool api_key_role_valid(const char *role)
{
    for (size_t i = 0; api_key_roles[i]; i++)
        if (strcmp(role, api_key_roles[i]) == 0)
            return true;
    return false;
}

void api_key_hash(const char *key, size_t len, unsigned char out[32])
{
    static const unsigned char ctx[] = "custos api key v1";
    crypto_generichash(out, 32, (const unsigned char *)key, len, ctx, sizeof(ctx) - 1);
}

static int name_check(const char *name, struct err *e)
{
    size_t n = strlen(name);
    if (n == 0 || n > API_KEY_NAME_MAX)
        return err_set(e, ERR_INVALID, "a key name has 1 to %d characters", API_KEY_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return err_set(e, ERR_INVALID, "a key name has no control characters");
    return 0;
}

int api_key_create(struct store *st, const char *name, const char *role, int64_t expires_days,
                   char key[API_KEY_CHARS + 1], int64_t *id, struct err *e)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (!api_key_role_valid(role))
        return err_set(e, ERR_INVALID,
                       "unknown role \"%s\": say admin, analyst, marketing, service or risk", role);
    int rc = name ? name_check(name, e) : 0;
    if (rc)
        return rc;
    if (expires_days > API_KEY_MAX_DAYS)
        return err_set(e, ERR_INVALID, "a key expires within %d days", API_KEY_MAX_DAYS);
    size_t plen = strlen(API_KEY_PREFIX);
    memcpy(key, API_KEY_PREFIX, plen);
    for (size_t i = 0; i < API_KEY_RANDOM; i++)
        key[plen + i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    key[API_KEY_CHARS] = 0;
    unsigned char hash[32];
    api_key_hash(key, API_KEY_CHARS, hash);
    char hint[16];
    snprintf(hint, sizeof(hint), "%.7s", key);
    int64_t now = time_now_ms();
    int64_t expires = expires_days < 0 ? STORE_NULL_TIME : now + expires_days * 86400000;
    rc = st->ops->api_key_add(st, name, role, hash, hint, now, expires, id, e);
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

struct found {
    unsigned char want[32];
    bool found;
    int64_t id, expires_at, revoked_at;
    char role[API_KEY_ROLE_MAX];
    char hint[16];
};

static int found_one(const struct api_key *k, void *arg)
{
    struct found *f = arg;
    /* The store found it by an index on the hash; compare in constant time anyway. */
    if (sodium_memcmp(k->key_hash, f->want, 32) != 0)
        return 0;
    f->found = true;
    f->id = k->id;
    f->expires_at = k->expires_at;
    f->revoked_at = k->revoked_at;
    snprintf(f->role, sizeof(f->role), "%s", k->role);
    snprintf(f->hint, sizeof(f->hint), "%s", k->key_hint ? k->key_hint : "");
    return 0;
}

static int store_lookup(void *ctx, const unsigned char key_hash[32], store_api_key_cb cb,
                        void *cb_ctx, struct err *e)
{
    struct store *st = ctx;
    return st->ops->api_key_by_hash(st, key_hash, cb, cb_ctx, e);
}

int api_key_authenticate(struct store *st, const char *authorization, char role[API_KEY_ROLE_MAX],
                         struct err *e)
{
    struct api_key_identity who;
    int rc = api_key_check(authorization, store_lookup, st, &who, e);
    if (!rc)
        memcpy(role, who.role, sizeof(who.role));
    return rc;
}

int api_key_identify(struct store *st, const char *authorization, struct api_key_identity *who,
                     struct err *e)
{
    return api_key_check(authorization, store_lookup, st, who, e);
}

int api_key_check(const char *authorization, api_key_lookup_fn lookup, void *ctx,
                  struct api_key_identity *who, struct err *e)
{
    if (!authorization)
        return err_set(e, ERR_NOTFOUND, "no Authorization header");
    size_t n = strlen(authorization);
    if (n < 7 || strncasecmp(authorization, "Bearer ", 7) != 0)
        return err_set(e, ERR_NOTFOUND, "the Authorization header is not Bearer");
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    n = strlen(key);
    while (n && key[n - 1] == ' ')
        n--;
    if (n == 0)
        return err_set(e, ERR_NOTFOUND, "an empty Bearer credential");
    if (n > API_KEY_MAX_HEADER)
        return err_set(e, ERR_AUTH, "a Bearer credential longer than %d bytes", API_KEY_MAX_HEADER);
    struct found f = {0};
    api_key_hash(key, n, f.want);
    int rc = lookup(ctx, f.want, found_one, &f, e);
    if (rc)
        return rc;
    if (!f.found)
        return err_set(e, ERR_AUTH, "unknown API key");
    if (f.revoked_at != STORE_NULL_TIME)
        return err_set(e, ERR_AUTH, "API key %" PRId64 " is revoked", f.id);
    if (f.expires_at != STORE_NULL_TIME && time_now_ms() >= f.expires_at)
        return err_set(e, ERR_AUTH, "API key %" PRId64 " has expired", f.id);
    who->id = f.id;
    memcpy(who->role, f.role, sizeof(f.role));
    memcpy(who->hint, f.hint, sizeof(f.hint));
    return 0;
}

int api_key_refuse(struct http_response *res, int rc, const struct err *e, const char *api)
{
    if (rc == ERR_NOTFOUND) {
        http_error(res, 401, "missing_api_key",
                   "send an API key as \"Authorization: Bearer KEY\" (custos keys add)");
        res->www_auth = "Bearer realm=\"custos\"";
    } else if (rc == ERR_AUTH) {
        log_info("%s: refused: %s", api, e->msg);
        http_error(res, 401, "invalid_api_key", "the API key is unknown, expired or revoked");
        res->www_auth = "Bearer realm=\"custos\", error=\"invalid_token\"";
    } else if (rc) {
        log_error("%s: cannot check an API key: %s", api, e->msg);
        http_error(res, 500, "store_error", "cannot check the API key");
    }
    return rc;
}
