/* crypt.h - keyed blind indexes of identifiers (issue 6).
 *
 * A blind index is the BLAKE2b-256 of "TYPE\0VALUE" (VALUE standardized) keyed with a
 * secret: equal identifiers give equal indexes, and nobody without the key can test a
 * guess (a phone number has few enough values to try them all against a plain hash).
 * The key is the per-database secret "blind-index" (table privacy_secrets, made on
 * first use), so indexes are comparable within one database only.
 *
 * Encryption at rest (AEAD with keys derived from a master key) is not built: see
 * docs/privacy.md. */
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

#endif
