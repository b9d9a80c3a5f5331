/* crypt.c - see crypt.h. */
#include <sodium.h>

#include "privacy/crypt.h"

int crypt_blind_key(struct store *st, unsigned char key[CRYPT_KEY_BYTES], struct err *e)
{
    return st->ops->privacy_secret(st, "blind-index", key, e);
}

void crypt_blind_index(const unsigned char key[CRYPT_KEY_BYTES], const char *type,
                       const char *value, size_t len, unsigned char out[CRYPT_INDEX_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, key, CRYPT_KEY_BYTES, CRYPT_INDEX_BYTES);
    crypto_generichash_update(&h, (const unsigned char *)type, strlen(type) + 1); /* with NUL */
    crypto_generichash_update(&h, (const unsigned char *)value, len);
    crypto_generichash_final(&h, out, CRYPT_INDEX_BYTES);
}
