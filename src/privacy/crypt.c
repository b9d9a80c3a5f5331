/* crypt.c - see crypt.h. */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/stat.h>

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

/* ---- value encryption ---- */

#define CRYPT_KDF_CONTEXT "custosv1" /* crypto_kdf_CONTEXTBYTES (8) */

/* Parses 64 hex digits or base64 (standard or URL-safe, padded or not) of 32 bytes. */
static int key_parse(const char *text, size_t n, unsigned char out[CRYPT_KEY_BYTES])
{
    while (n && (text[0] == ' ' || text[0] == '\t' || text[0] == '\n' || text[0] == '\r')) {
        text++;
        n--;
    }
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' ||
                 text[n - 1] == '\r'))
        n--;
    size_t got = 0;
    if (n == 2 * CRYPT_KEY_BYTES &&
        sodium_hex2bin(out, CRYPT_KEY_BYTES, text, n, NULL, &got, NULL) == 0 &&
        got == CRYPT_KEY_BYTES)
        return 0;
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        if (sodium_base642bin(out, CRYPT_KEY_BYTES, text, n, NULL, &got, NULL, variants[i]) == 0 &&
            got == CRYPT_KEY_BYTES)
            return 0;
    return ERR_INVALID;
}

int crypt_master_load(const char *path, const char *env_value, unsigned char out[CRYPT_KEY_BYTES],
                      struct err *e)
{
    if (env_value) {
        if (key_parse(env_value, strlen(env_value), out))
            return err_set(e, ERR_INVALID,
                           "CUSTOS_MASTER_KEY: give 32 bytes as 64 hex digits or base64");
        return 0;
    }
    if (!path || !path[0])
        return err_set(e, ERR_NOTFOUND,
                       "no master key: set CUSTOS_MASTER_KEY or give a master key file");
    struct stat sb;
    if (stat(path, &sb))
        return err_set(e, ERR_IO, "master key file %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return err_set(e, ERR_INVALID, "master key file %s is not a regular file", path);
    if (sb.st_mode & (S_IRWXG | S_IRWXO))
        return err_set(e, ERR_INVALID,
                       "master key file %s may be read by others (mode %03o): chmod 600 it", path,
                       (unsigned)(sb.st_mode & 0777));
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, ERR_IO, "master key file %s: %s", path, strerror(errno));
    char buf[256];
    size_t n = fread(buf, 1, sizeof(buf), f);
    bool longer = n == sizeof(buf);
    fclose(f);
    int rc = longer || key_parse(buf, n, out)
                 ? err_set(e, ERR_INVALID,
                           "master key file %s: give 32 bytes as 64 hex digits or base64", path)
                 : 0;
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

void crypt_derive_key(const unsigned char master[CRYPT_KEY_BYTES], unsigned keyid,
                      unsigned char out[CRYPT_KEY_BYTES])
{
    crypto_kdf_derive_from_key(out, CRYPT_KEY_BYTES, keyid, CRYPT_KDF_CONTEXT, master);
}

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define B64   sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* A fresh nonce without a system call per value: 16 random bytes drawn once per thread
 * and a 64-bit counter (XChaCha20's 192-bit nonces make random prefixes safe: two
 * threads or processes share one with probability 2^-128). */
static atomic_uint nonce_fork_generation; /* a forked child draws new prefixes */
static pthread_once_t nonce_atfork_once = PTHREAD_ONCE_INIT;

static void nonce_on_fork(void)
{
    atomic_fetch_add(&nonce_fork_generation, 1);
}

static void nonce_atfork(void)
{
    pthread_atfork(NULL, NULL, nonce_on_fork);
}

/* The nonce state of a thread: its prefix changes (epoch) after a fork. */
struct nonce_state {
    unsigned char prefix[NONCE - 8];
    uint64_t counter;
    unsigned generation, epoch;
};
static _Thread_local struct nonce_state nonce_state;

static void nonce_next(unsigned char nonce[NONCE])
{
    struct nonce_state *n = &nonce_state;
    unsigned g = atomic_load(&nonce_fork_generation);
    if (n->counter == 0 || n->generation != g) {
        pthread_once(&nonce_atfork_once, nonce_atfork);
        randombytes_buf(n->prefix, sizeof(n->prefix));
        n->generation = atomic_load(&nonce_fork_generation);
        n->counter = 0;
        n->epoch++;
    }
    n->counter++;
    memcpy(nonce, n->prefix, sizeof(n->prefix));
    for (int i = 0; i < 8; i++)
        nonce[sizeof(n->prefix) + (size_t)i] = (unsigned char)(n->counter >> (8 * i));
}

/* XChaCha20's subkey, HChaCha20(key, first 16 bytes of the nonce): with the prefix
 * fixed per thread it is the same for every value a thread seals under one key, so it
 * is kept (a third of the cost of sealing a short value). The result is exactly
 * crypto_aead_xchacha20poly1305_ietf_encrypt's. */
static const unsigned char *xchacha_subkey(const unsigned char key[CRYPT_KEY_BYTES])
{
    static _Thread_local struct {
        unsigned char key[CRYPT_KEY_BYTES], subkey[CRYPT_KEY_BYTES];
        unsigned epoch;
    } c;
    if (c.epoch != nonce_state.epoch || sodium_memcmp(c.key, key, CRYPT_KEY_BYTES) != 0) {
        crypto_core_hchacha20(c.subkey, nonce_state.prefix, key, NULL);
        memcpy(c.key, key, CRYPT_KEY_BYTES);
        c.epoch = nonce_state.epoch;
    }
    return c.subkey;
}

int crypt_encrypt_value(const unsigned char key[CRYPT_KEY_BYTES], unsigned keyid, const char *field,
                        const char *value, size_t len, char *out, size_t cap)
{
    char head[32] = CRYPT_TOKEN_PREFIX;
    size_t hl = sizeof(CRYPT_TOKEN_PREFIX) - 1;
    char digits[8];
    int nd = 0;
    for (unsigned v = keyid; v && nd < 8; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    while (nd)
        head[hl++] = digits[--nd];
    head[hl++] = ':';
    size_t raw = NONCE + len + TAG;
    if (keyid == 0 || keyid > 65535 || len > CRYPT_TOKEN_MAX ||
        hl + sodium_base64_encoded_len(raw, B64) > cap)
        return ERR_LIMIT;
    unsigned char small[NONCE + 512 + TAG];
    unsigned char *buf = raw <= sizeof(small) ? small : malloc(raw);
    if (!buf)
        return ERR_NOMEM;
    nonce_next(buf);
    unsigned char npub2[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    memcpy(npub2 + 4, buf + crypto_core_hchacha20_INPUTBYTES, sizeof(npub2) - 4);
    crypto_aead_chacha20poly1305_ietf_encrypt(buf + NONCE, NULL, (const unsigned char *)value, len,
                                              (const unsigned char *)field, strlen(field), NULL,
                                              npub2, xchacha_subkey(key));
    memcpy(out, head, hl);
    sodium_bin2base64(out + hl, cap - hl, buf, raw, B64);
    if (buf != small)
        free(buf);
    return 0;
}

bool crypt_is_token(const char *text)
{
    return crypt_token_keyid(text) != 0;
}

unsigned crypt_token_keyid(const char *text)
{
    size_t pl = strlen(CRYPT_TOKEN_PREFIX);
    if (!text || strncmp(text, CRYPT_TOKEN_PREFIX, pl) != 0)
        return 0;
    unsigned v = 0;
    const char *p = text + pl;
    for (; *p >= '0' && *p <= '9' && v <= 65535; p++)
        v = v * 10 + (unsigned)(*p - '0');
    return *p == ':' && p > text + pl && v <= 65535 ? v : 0;
}

int crypt_decrypt_value(const unsigned char key[CRYPT_KEY_BYTES], const char *field,
                        const char *token, char *out, size_t cap, size_t *len)
{
    if (!crypt_is_token(token))
        return ERR_INVALID;
    const char *b64 = strchr(token + strlen(CRYPT_TOKEN_PREFIX), ':') + 1;
    size_t bl = strlen(b64);
    if (bl > sodium_base64_encoded_len(NONCE + CRYPT_TOKEN_MAX + TAG, B64))
        return ERR_INVALID;
    size_t rawcap = bl * 3 / 4 + 3, raw = 0;
    unsigned char *buf = malloc(rawcap);
    if (!buf)
        return ERR_NOMEM;
    int rc = 0;
    unsigned long long n = 0;
    if (sodium_base642bin(buf, rawcap, b64, bl, NULL, &raw, NULL, B64) || raw < NONCE + TAG)
        rc = ERR_INVALID;
    else if (raw - NONCE - TAG + 1 > cap)
        rc = ERR_LIMIT;
    else if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)out, &n, NULL, buf + NONCE,
                                                        raw - NONCE, (const unsigned char *)field,
                                                        strlen(field), buf, key))
        rc = ERR_INVALID;
    free(buf);
    if (!rc) {
        out[n] = 0;
        *len = (size_t)n;
    }
    return rc;
}
