/* seal.h - encryption at rest (issue 6): what is encrypted, under which keys, and the
 * one place stored values are sealed and opened.
 *
 * With the `encryption` setting at core-sensitive (or sensitive, which adds the
 * sensitive class), every value of a field of those classes is stored as a token
 * "enc:v1:KEYID:BASE64URL(nonce|ciphertext)" (privacy/crypt.h): in stored JSON (a
 * message's traits, context.traits and properties; an imported record's identifiers,
 * traits and fields; a quarantined message) the token replaces the member's value and
 * its plaintext is the value's JSON text, with the member's name as associated data.
 * Identifiers of an encrypted type are stored and matched by their keyed blind index
 * ("bi:" and 64 hex digits), their clear value kept as a token beside
 * (identifier_tokens, migration 0012).
 *
 * Keys: the master key (CUSTOS_MASTER_KEY, else the `master-key-file`) derives the data
 * key of each version (crypto_kdf, version = subkey id) and, with the database's own
 * secret "blind-index-enc", the blind-index key; the current data-key version is the
 * privacy_state counter "data-key-version" (1 until `custos keys rotate`). */
#ifndef CUSTOS_PRIVACY_SEAL_H
#define CUSTOS_PRIVACY_SEAL_H

#include "core/common.h"
#include "core/err.h"
#include "core/textbuf.h"
#include "privacy/classify.h"
#include "store/store.h"

#define SEAL_BI_PREFIX "bi:"
#define SEAL_BI_LEN    (3 + 64) /* "bi:" and the index in hex */
#define SEAL_TOKEN_CAP 512      /* a token of an identifier (values up to ~300 bytes) */

/* With encryption on: loads the master key, the blind-index key of the database in st
 * and the current data-key version, once per process (later calls only read the
 * version again), and installs the store's unsealing of rows it reads. ERR_NOTFOUND
 * ("encryption is on and there is no master key ...") or ERR_INVALID naming what is
 * wrong, never the key. With encryption off: 0 and nothing. */
int seal_start(struct store *st, struct err *e);

/* Whether encryption is on (the setting; seal_start has succeeded). */
bool seal_on(void);

/* Whether values of class c are encrypted under the setting. */
bool seal_class(enum data_class c);

/* The data-key version new tokens are made with; seal_set_version changes it (rotation,
 * and serve when it sees the stored version move). */
unsigned seal_version(void);
void seal_set_version(unsigned v);

/* Reads the stored current version again and uses it (serve, every few seconds). */
int seal_refresh(struct store *st, struct err *e);

/* THE route of an identifier value: the value as stored, compared and looked up, for a
 * standardized value std of type. Encryption off or a type of a clear class: std
 * itself, token "". Else "bi:HEX" in out and, when token is not NULL, the clear value
 * sealed in token (SEAL_TOKEN_CAP bytes). ERR_LIMIT when out is too small. Used by full
 * and incremental resolution (identity/resolve.c) and every lookup. */
int seal_identifier(const char *type, const char *std, char *out, size_t cap, char *token);

/* seal_identifier for resolution: the token of a blind-indexed value waits in memory
 * (once per value) until seal_identifier_flush writes every waiting token to st
 * (identifier_tokens), inside the transaction that stores the identifiers. */
int seal_identifier_keep(const char *type, const char *std, char *out, size_t cap);
int seal_identifier_flush(struct store *st, struct err *e);

/* Whether an identifier value is a blind index (its clear value is a token elsewhere). */
bool seal_is_blind(const char *value);

/* A message's text with the values of encrypted fields of its traits, context.traits
 * and properties replaced by tokens, appended to o; returns false, appending nothing,
 * when it carries none (store raw as it is) or is not a JSON object. Sets o->failed on
 * an allocation or encryption failure. */
bool seal_message(const char *raw, size_t len, struct textbuf *o);

/* The same for a JSON object whose members are fields themselves (an imported
 * record's identifiers, traits or fields). */
bool seal_object(const char *raw, size_t len, struct textbuf *o);

/* A quarantined body: as seal_message when it is a JSON object; anything else whole as
 * a token of the field "quarantine" when encryption is on. */
bool seal_quarantine(const char *raw, size_t len, struct textbuf *o);

/* Replaces every token in json (a member's value) by the value it seals. Tokens of
 * another database or master key, or damaged ones: ERR_INVALID naming where (what,
 * e.g. "profile 12") and the member. */
int seal_open_json(void *json, const char *what, struct err *e);

/* Opens one token of field into out (cap bytes); ERR_INVALID naming what. */
int seal_open_value(const char *field, const char *token, char *out, size_t cap, const char *what,
                    struct err *e);

/* Stored text (JSON holding tokens, or one bare token of bare_field, "quarantine" when
 * NULL) in clear: *out malloc'd (NULL when text holds no token). ERR_INVALID when a
 * token does not open: it is left as it is, and *out still holds the others opened
 * (NULL when none did). */
int seal_open_text(const char *text, size_t len, const char *bare_field, char **out,
                   size_t *out_len);

/* Re-encrypts every token of text under the current version (a text that is one bare
 * token: for bare_field, "quarantine" when NULL); *out malloc'd, NULL when every token
 * is current already. *tokens counts those changed. ERR_INVALID when one does not
 * open. */
int seal_rekey_text(const char *text, size_t len, const char *bare_field, char **out,
                    size_t *out_len, size_t *tokens);

/* Tests: keys from a given master key and blind-index secret, the setting's classes. */
void seal_start_with(const unsigned char master[32], const unsigned char bi_secret[32],
                     unsigned version, bool sensitive_too);
void seal_stop(void);

#endif
