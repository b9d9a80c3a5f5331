/* crypt.h - keyed blind indexes of identifiers (issue 6).
 *
 * A blind index is the BLAKE2b-256 of "TYPE\0VALUE" (VALUE standardized) keyed with a
 * secret: equal identifiers give equal indexes, and nobody without the key can test a
 * guess (a phone number has few enough values to try them all against a plain hash).
 * The key is the per-database secret "blind-index" (table privacy_secrets, made on
 * first use), so indexes are comparable within one database only.
 *
 * Value encryption primitives follow (master key, derived keys, "enc:v1:" tokens);
 * encryption at rest uses them through privacy/seal.h. */
#ifndef CUSTOS_PRIVACY_CRYPT_H
#define CUSTOS_PRIVACY_CRYPT_H

#include "core/common.h"
#include "store/store.h"

#define CRYPT_KEY_BYTES   32
#define CRYPT_INDEX_BYTES 32

/* The blind-index key of the database (made and kept on first use). */
int crypt_blind_key(struct store *st, unsigned char key[CRYPT_KEY_BYTES], struct err *e);

/* The blind index of an identifier (type, standardized value[0..len)) under key. */
void crypt_blind_index(const unsigned char key[CRYPT_KEY_BYTES], const char *type,
                       const char *value, size_t len, unsigned char out[CRYPT_INDEX_BYTES]);

/* ---- value encryption (privacy/seal.h wires it into storage) ---- */

#define CRYPT_TOKEN_PREFIX "enc:v1:"
#define CRYPT_TOKEN_MAX    4096 /* bytes of a token: values longer than ~3 KB are refused */

/* Reads the 32-byte master key: from env_value when it is not NULL (64 hex digits or
 * base64 of 32 bytes), else from the file at path, which must be a regular file
 * readable by its owner only (mode 0600 or 0400) and hold the key the same way
 * (surrounding white space ignored). ERR_NOTFOUND when neither is given; ERR_INVALID
 * / ERR_IO naming what is wrong (never the key). */
int crypt_master_load(const char *path, const char *env_value, unsigned char out[CRYPT_KEY_BYTES],
                      struct err *e);

/* Derives the data key of version keyid (1 to 65535) from the master key. */
void crypt_derive_key(const unsigned char master[CRYPT_KEY_BYTES], unsigned keyid,
                      unsigned char out[CRYPT_KEY_BYTES]);

/* Encrypts value[0..len) for field (the associated data: a token moved to another
 * field does not decrypt) with XChaCha20-Poly1305 under key (version keyid) into out
 * (cap bytes) as "enc:v1:KEYID:BASE64URL(nonce|ciphertext)", NUL-terminated.
 * ERR_LIMIT when out is too small. */
int crypt_encrypt_value(const unsigned char key[CRYPT_KEY_BYTES], unsigned keyid, const char *field,
                        const char *value, size_t len, char *out, size_t cap);

/* Whether text is such a token. */
bool crypt_is_token(const char *text);

/* The key version a token names; 0 if text is not a token. */
unsigned crypt_token_keyid(const char *text);

/* Decrypts a token for field with key into out (cap bytes, NUL-terminated), *len
 * the length. ERR_INVALID for a malformed, tampered or foreign token (wrong key or
 * field), ERR_LIMIT when out is too small. */
int crypt_decrypt_value(const unsigned char key[CRYPT_KEY_BYTES], const char *field,
                        const char *token, char *out, size_t cap, size_t *len);

#endif
