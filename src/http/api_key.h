/* api_key.h - API keys of the read API: creation, hashing, Bearer authentication.
 *
 * A key is "ck_" and 40 random letters and digits (238 bits). Custos keeps only its
 * BLAKE2b-256 hash, under a context of its own so that a source write key hashed the
 * same way never matches, and the first characters as a hint. Keys have a role
 * (what each role sees of each class of field: privacy/policy.h) and may expire or
 * be revoked. */
#ifndef CUSTOS_API_KEY_H
#define CUSTOS_API_KEY_H

#include "core/common.h"
#include "store/store.h"

#define API_KEY_PREFIX     "ck_"
#define API_KEY_RANDOM     40  /* random characters after the prefix */
#define API_KEY_CHARS      43  /* the whole key */
#define API_KEY_MAX_HEADER 512 /* longer Authorization values are refused unhashed */
#define API_KEY_NAME_MAX   64
#define API_KEY_MAX_DAYS   36500 /* --expires at most a hundred years */
#define API_KEY_ROLE_MAX   16

/* The roles, NULL-terminated: admin, analyst, marketing, service, risk. */
extern const char *const api_key_roles[];

/* Whether role is one of api_key_roles. */
bool api_key_role_valid(const char *role);

/* The hash the store keeps for key[0..len). */
void api_key_hash(const char *key, size_t len, unsigned char out[32]);

/* Makes a new key with role (checked) and name (may be NULL; 1 to API_KEY_NAME_MAX
 * printable characters), expiring expires_days after now (-1: never; 0: at once),
 * stores its hash and writes the key, NUL-terminated, to key. Returns 0 and *id, or
 * ERR_INVALID / the store's error with the reason in e. */
int api_key_create(struct store *st, const char *name, const char *role, int64_t expires_days,
                   char key[API_KEY_CHARS + 1], int64_t *id, struct err *e);

/* Who an authenticated request acts as: the key's id, role and hint (the audit
 * log's "key:HINT"). */
struct api_key_identity {
    int64_t id;
    char role[API_KEY_ROLE_MAX];
    char hint[16];
};

/* api_key_authenticate, giving the whole identity (id, role, hint: for the audit). */
int api_key_identify(struct store *st, const char *authorization, struct api_key_identity *who,
                     struct err *e);

/* Checks an Authorization header value ("Bearer KEY"; NULL when absent) against st.
 * Returns 0 and the key's role in role; ERR_NOTFOUND when there is no Bearer
 * credential; ERR_AUTH for a key that is unknown, expired or revoked (which one is in
 * e, for the log, not for the client); or ERR_STORE. */
int api_key_authenticate(struct store *st, const char *authorization, char role[API_KEY_ROLE_MAX],
                         struct err *e);

/* Where api_key_check finds a key by its hash: calls cb for the key with that hash,
 * if any (expired and revoked ones too); returns 0 or an error with the reason in e. */
typedef int (*api_key_lookup_fn)(void *ctx, const unsigned char key_hash[32], store_api_key_cb cb,
                                 void *cb_ctx, struct err *e);

/* api_key_identify with the keys found by lookup(ctx, ...) instead of a store (the
 * profile cache keeps them in memory). Same answers. */
int api_key_check(const char *authorization, api_key_lookup_fn lookup, void *ctx,
                  struct api_key_identity *who, struct err *e);

/* Answers a request whose key api_key_* refused with rc (ERR_NOTFOUND: 401
 * missing_api_key; ERR_AUTH: 401 invalid_api_key, the reason logged for api, never sent;
 * anything else: 500). Does nothing for rc == 0. Returns rc. */
struct http_response;
int api_key_refuse(struct http_response *res, int rc, const struct err *e, const char *api);

#endif
