/* seal.c - encryption at rest: keys in force, sealing stored text, opening it. See
 * seal.h and docs/internals/encryption.md. */
#include <cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/text.h"
#include "privacy/crypt.h"
#include "privacy/seal.h"

#define SEAL_DEPTH_MAX        8   /* nested objects looked into under traits / properties */
#define SEAL_SPANS_MAX        256 /* values sealed in one text: more is refused */
#define SEAL_BLIND_SUBKEY     0   /* crypto_kdf subkey of the blind-index key (data keys: 1+) */
#define SEAL_TOKEN_PREFIX_LEN (sizeof(CRYPT_TOKEN_PREFIX) - 1)

static struct {
    bool on, sensitive, loaded;
    unsigned char master[CRYPT_KEY_BYTES];
    unsigned char blind[CRYPT_KEY_BYTES];
    atomic_uint version;
    atomic_uint generation; /* of the master key: derived keys cached per thread follow it */
    pthread_mutex_t lock;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

bool seal_on(void)
{
    return S.on;
}

bool seal_class(enum data_class c)
{
    return S.on && (c == CLASS_CORE_SENSITIVE || (S.sensitive && c == CLASS_SENSITIVE));
}

unsigned seal_version(void)
{
    return atomic_load(&S.version);
}

void seal_set_version(unsigned v)
{
    if (v >= 1 && v <= 65535)
        atomic_store(&S.version, v);
}

/* The data key of version v: derived once per thread and version in use. */
static const unsigned char *data_key(unsigned v)
{
    static _Thread_local struct {
        unsigned v, generation;
        unsigned char key[CRYPT_KEY_BYTES];
    } cache[2];
    static _Thread_local unsigned next;
    unsigned g = atomic_load(&S.generation);
    for (int i = 0; i < 2; i++)
        if (cache[i].v == v && cache[i].generation == g)
            return cache[i].key;
    unsigned i = next++ % 2;
    crypt_derive_key(S.master, v, cache[i].key);
    cache[i].v = v;
    cache[i].generation = g;
    return cache[i].key;
}

static void keys_from(const unsigned char master[CRYPT_KEY_BYTES],
                      const unsigned char secret[CRYPT_KEY_BYTES])
{
    memcpy(S.master, master, CRYPT_KEY_BYTES);
    atomic_fetch_add(&S.generation, 1);
    /* The blind-index key needs both the master key and this database's secret: the
     * database alone cannot test guesses, and two databases' indexes differ. */
    unsigned char k[CRYPT_KEY_BYTES];
    crypt_derive_key(master, SEAL_BLIND_SUBKEY, k);
    crypto_generichash(S.blind, CRYPT_KEY_BYTES, secret, CRYPT_KEY_BYTES, k, sizeof(k));
    sodium_memzero(k, sizeof(k));
}

void seal_start_with(const unsigned char master[32], const unsigned char bi_secret[32],
                     unsigned version, bool sensitive_too)
{
    keys_from(master, bi_secret);
    S.sensitive = sensitive_too;
    S.on = S.loaded = true;
    seal_set_version(version);
}

void seal_stop(void)
{
    sodium_memzero(S.master, sizeof(S.master));
    sodium_memzero(S.blind, sizeof(S.blind));
    S.on = S.loaded = false;
    store_set_unseal(NULL);
}

static int unseal_hook(const char *text, size_t len, const char *bare_field, char **out,
                       size_t *out_len)
{
    return seal_open_text(text, len, bare_field, out, out_len);
}

int seal_refresh(struct store *st, struct err *e)
{
    int64_t v = 0;
    int rc = st->ops->privacy_state_get(st, "data-key-version", &v, e);
    if (!rc)
        seal_set_version(v >= 1 ? (unsigned)v : 1);
    return rc;
}

int seal_start(struct store *st, struct err *e)
{
    if (strcmp(cfg.encryption, "off") == 0)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&S.lock);
    if (!S.loaded) {
        unsigned char master[CRYPT_KEY_BYTES], secret[CRYPT_KEY_BYTES];
        rc = crypt_master_load(cfg.master_key_file, getenv("CUSTOS_MASTER_KEY"), master, e);
        if (rc == ERR_NOTFOUND)
            rc = err_set(e, ERR_NOTFOUND,
                         "encryption is %s and there is no master key: set CUSTOS_MASTER_KEY or "
                         "master-key-file (a 0600 file holding 64 hex digits or base64 of 32 "
                         "bytes; docs/privacy.md)",
                         cfg.encryption);
        if (!rc)
            rc = st->ops->privacy_secret(st, "blind-index-enc", secret, e);
        if (!rc) {
            keys_from(master, secret);
            S.sensitive = strcmp(cfg.encryption, "sensitive") == 0;
            S.on = S.loaded = true;
            store_set_unseal(unseal_hook);
        }
        sodium_memzero(master, sizeof(master));
        sodium_memzero(secret, sizeof(secret));
    }
    pthread_mutex_unlock(&S.lock);
    return rc ? rc : seal_refresh(st, e);
}

/* ---- classes of field names, cached per thread ---- */

#define CLASS_CACHE 64

static bool field_sealed(const char *name, size_t n)
{
    static _Thread_local struct {
        char field[32];
        enum data_class cls; /* the class is cached, not the setting's verdict */
    } cache[CLASS_CACHE];
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    size_t slot = h % CLASS_CACHE;
    if (n && n < sizeof(cache[slot].field) && memcmp(cache[slot].field, name, n) == 0 &&
        cache[slot].field[n] == 0)
        return seal_class(cache[slot].cls);
    enum data_class c = privacy_class_n(name, n);
    if (n && n < sizeof(cache[slot].field)) {
        memcpy(cache[slot].field, name, n);
        cache[slot].field[n] = 0;
        cache[slot].cls = c;
    }
    return seal_class(c);
}

/* Containers whose "name" names a thing, not a person (as masking, privacy/policy.c). */
static bool names_a_thing(const char *s, size_t n)
{
    static const char *const things[] = {"library",  "app",      "os",      "campaign", "screen",
                                         "network",  "products", "product", "items",    "item",
                                         "category", "store",    "page",    "referrer"};
    for (size_t i = 0; i < ARRAY_SIZE(things); i++)
        if (strlen(things[i]) == n && memcmp(s, things[i], n) == 0)
            return true;
    return false;
}

/* ---- finding the values to seal in JSON text ---- */

struct span {
    size_t start, end;     /* the value's JSON text */
    size_t name, name_len; /* the member's name (raw bytes between the quotes) */
};

struct spans {
    struct span v[SEAL_SPANS_MAX];
    size_t n;
    bool overflow;
};

/* What a walk does with the members of an object. */
enum walk {
    WALK_SKIP,    /* nothing: skip the value */
    WALK_MESSAGE, /* the top of a message: traits, properties and context */
    WALK_CONTEXT, /* a message's context: only its traits */
    WALK_FIELDS,  /* members are fields: sealed ones noted, containers looked into */
};

static enum walk child_walk(enum walk mode, const char *k, size_t klen)
{
    switch (mode) {
    case WALK_MESSAGE:
        if ((klen == 6 && memcmp(k, "traits", 6) == 0) ||
            (klen == 10 && memcmp(k, "properties", 10) == 0))
            return WALK_FIELDS;
        return klen == 7 && memcmp(k, "context", 7) == 0 ? WALK_CONTEXT : WALK_SKIP;
    case WALK_CONTEXT:
        return klen == 6 && memcmp(k, "traits", 6) == 0 ? WALK_FIELDS : WALK_SKIP;
    case WALK_FIELDS:
        return names_a_thing(k, klen) ? WALK_SKIP : WALK_FIELDS;
    default:
        return WALK_SKIP;
    }
}

/* Walks the JSON value at s[i] in one pass, noting the spans to seal; returns the
 * index just after it (n when the text ends early: nothing is sealed past it). */
static size_t walk(const char *s, size_t n, size_t i, enum walk mode, int depth, struct spans *sp)
{
    if (i >= n)
        return n;
    if (mode == WALK_SKIP || depth > SEAL_DEPTH_MAX || (s[i] != '{' && s[i] != '['))
        return text_json_skip_value(s, n, i);
    if (s[i] == '[') {
        i = text_json_skip_ws(s, n, i + 1);
        if (i < n && s[i] == ']')
            return i + 1;
        while (i < n) {
            i = text_json_skip_ws(s, n, walk(s, n, i, mode, depth + 1, sp));
            if (i < n && s[i] == ',')
                i = text_json_skip_ws(s, n, i + 1);
            else
                return i < n && s[i] == ']' ? i + 1 : n;
        }
        return n;
    }
    i = text_json_skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return i + 1;
    while (i < n && s[i] == '"') {
        size_t k = i + 1;
        i = text_json_skip_value(s, n, i);
        if (i >= n || i < k + 1)
            return n;
        size_t klen = i - 1 - k;
        i = text_json_skip_ws(s, n, i);
        if (i >= n || s[i] != ':')
            return n;
        size_t v = text_json_skip_ws(s, n, i + 1);
        if (v >= n)
            return n;
        if (mode == WALK_FIELDS && s[v] != 'n' && field_sealed(s + k, klen)) {
            i = text_json_skip_value(s, n, v);
            if (sp->n == SEAL_SPANS_MAX)
                sp->overflow = true;
            else if (i > v && i <= n)
                sp->v[sp->n++] = (struct span){v, i, k, klen};
        } else {
            i = walk(s, n, v, child_walk(mode, s + k, klen), depth + 1, sp);
        }
        i = text_json_skip_ws(s, n, i);
        if (i < n && s[i] == ',')
            i = text_json_skip_ws(s, n, i + 1);
        else
            return i < n && s[i] == '}' ? i + 1 : n;
    }
    return n;
}

/* A token of value[0..len) for field name[0..nlen), appended to o as a JSON string. */
static void put_token(struct textbuf *o, const char *name, size_t nlen, const char *value,
                      size_t len, bool quoted)
{
    char field[256];
    char small[1024];
    if (nlen >= sizeof(field)) {
        o->failed = true;
        return;
    }
    memcpy(field, name, nlen);
    field[nlen] = 0;
    size_t cap =
        16 + sodium_base64_encoded_len(24 + len + 16, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *tok = cap <= sizeof(small) ? small : malloc(cap);
    unsigned v = seal_version();
    if (!tok || crypt_encrypt_value(data_key(v), v, field, value, len, tok, cap)) {
        o->failed = true;
    } else {
        if (quoted)
            textbuf_put(o, "\"", 1);
        textbuf_put(o, tok, strlen(tok));
        if (quoted)
            textbuf_put(o, "\"", 1);
    }
    if (tok != small)
        free(tok);
}

static bool seal_spans(const char *raw, size_t len, const struct spans *sp, struct textbuf *o)
{
    if (sp->overflow) {
        o->failed = true;
        return true;
    }
    if (sp->n == 0)
        return false;
    /* a token: about 4/3 of (value + 40 bytes of nonce and tag) and its header */
    size_t extra = 0;
    for (size_t i = 0; i < sp->n; i++)
        extra += (sp->v[i].end - sp->v[i].start) * 4 / 3 + 80;
    textbuf_reserve(o, len + extra);
    size_t at = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const struct span *p = &sp->v[i];
        textbuf_put(o, raw + at, p->start - at);
        put_token(o, raw + p->name, p->name_len, raw + p->start, p->end - p->start, true);
        at = p->end;
    }
    textbuf_put(o, raw + at, len - at);
    return true;
}

/* Seals the JSON object raw[0..len) walked as mode into o. */
static bool seal_top(const char *raw, size_t len, enum walk mode, struct textbuf *o)
{
    if (!S.on || !raw)
        return false;
    struct spans sp;
    sp.n = 0;
    sp.overflow = false;
    size_t i = text_json_skip_ws(raw, len, 0);
    if (i < len && raw[i] == '{')
        walk(raw, len, i, mode, mode == WALK_FIELDS ? 1 : 0, &sp);
    return seal_spans(raw, len, &sp, o);
}

bool seal_message(const char *raw, size_t len, struct textbuf *o)
{
    return seal_top(raw, len, WALK_MESSAGE, o);
}

bool seal_object(const char *raw, size_t len, struct textbuf *o)
{
    return seal_top(raw, len, WALK_FIELDS, o);
}

bool seal_quarantine(const char *raw, size_t len, struct textbuf *o)
{
    if (!S.on)
        return false;
    cJSON *v = cJSON_ParseWithLength(raw, len);
    bool object = cJSON_IsObject(v);
    cJSON_Delete(v);
    if (object)
        return seal_message(raw, len, o);
    /* Not a JSON object: what it holds cannot be told apart, so all of it is sealed. */
    put_token(o, "quarantine", 10, raw, len, false);
    return true;
}

/* ---- identifiers ---- */

bool seal_is_blind(const char *value)
{
    return value && strncmp(value, SEAL_BI_PREFIX, 3) == 0 && strlen(value) == SEAL_BI_LEN;
}

int seal_identifier(const char *type, const char *std, char *out, size_t cap, char *token)
{
    if (token)
        token[0] = 0;
    if (token && std == out)
        return ERR_INVALID; /* the token is made of std after out is written */
    if (!S.on || !field_sealed(type, strlen(type))) {
        size_t n = strlen(std);
        if (n >= cap)
            return ERR_LIMIT;
        memmove(out, std, n + 1);
        return 0;
    }
    if (cap < SEAL_BI_LEN + 1)
        return ERR_LIMIT;
    unsigned char bi[CRYPT_INDEX_BYTES];
    size_t n = strlen(std);
    crypt_blind_index(S.blind, type, std, n, bi);
    if (token) {
        /* plaintext: the value as a JSON string, as in every other token */
        struct textbuf q = {0}, t = {0};
        textbuf_json_string(&q, std, n);
        put_token(&t, type, strlen(type), q.p ? q.p : "", q.len, false);
        if (!t.failed && t.len < SEAL_TOKEN_CAP)
            memcpy(token, t.p, t.len + 1);
        bool failed = q.failed || t.failed || t.len >= SEAL_TOKEN_CAP;
        textbuf_release(&q);
        textbuf_release(&t);
        if (failed)
            return ERR_LIMIT;
    }
    memcpy(out, SEAL_BI_PREFIX, 3);
    sodium_bin2hex(out + 3, cap - 3, bi, sizeof(bi));
    return 0;
}

/* ---- opening ---- */

/* Opens one token (token[0..len)) for field into o (its plaintext); false if it does not. */
static bool open_token(const char *field, const char *token, size_t len, struct textbuf *o)
{
    char tok[CRYPT_TOKEN_MAX * 2];
    if (len >= sizeof(tok))
        return false;
    memcpy(tok, token, len);
    tok[len] = 0;
    unsigned v = crypt_token_keyid(tok);
    if (!v || !S.loaded)
        return false;
    char small[1024];
    size_t cap = len, n = 0; /* plaintext is shorter than its base64 */
    char *out = cap < sizeof(small) ? small : malloc(cap + 1);
    bool ok = out && crypt_decrypt_value(data_key(v), field, tok, out, cap + 1, &n) == 0;
    if (ok)
        textbuf_put(o, out, n);
    if (out != small)
        free(out);
    return ok;
}

static bool token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':';
}

/* Walks text's tokens: for each "enc:v1:..." string member, fn gets its field and
 * token; text between goes to o as it is. A whole-text token has the field
 * bare_field ("quarantine" when NULL). Returns the number of tokens, or -1 when fn refused one. */
typedef bool (*token_fn)(const char *field, const char *tok, size_t len, bool quoted,
                         struct textbuf *o, void *ctx);

static long each_token(const char *text, size_t len, const char *bare_field, struct textbuf *o,
                       token_fn fn, void *ctx)
{
    size_t pl = SEAL_TOKEN_PREFIX_LEN;
    if (len >= pl && memcmp(text, CRYPT_TOKEN_PREFIX, pl) == 0) {
        size_t end = 0;
        while (end < len && token_char(text[end]))
            end++;
        if (end == len)
            return fn(bare_field ? bare_field : "quarantine", text, len, false, o, ctx) ? 1 : -1;
    }
    long count = 0;
    size_t at = 0, i = 0;
    const char *p;
    while (i < len && (p = memmem(text + i, len - i, "\"" CRYPT_TOKEN_PREFIX, pl + 1)) != NULL) {
        size_t start = (size_t)(p - text) + 1, end = start;
        while (end < len && token_char(text[end]))
            end++;
        i = end;
        if (end >= len || text[end] != '"')
            continue;
        /* the member's name: "name" ws : ws before the token's opening quote */
        size_t b = start - 1;
        while (b > 0 && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\n' ||
                         text[b - 1] == '\r'))
            b--;
        if (b == 0 || text[b - 1] != ':')
            continue;
        b--;
        while (b > 0 && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\n' ||
                         text[b - 1] == '\r'))
            b--;
        if (b < 2 || text[b - 1] != '"')
            continue;
        size_t ke = b - 1, ks = ke;
        while (ks > 0 && text[ks - 1] != '"')
            ks--;
        if (ks == 0 || ke - ks >= 256)
            continue;
        char field[256];
        memcpy(field, text + ks, ke - ks);
        field[ke - ks] = 0;
        textbuf_put(o, text + at, start - 1 - at);
        if (!fn(field, text + start, end - start, true, o, ctx))
            return -1;
        at = end + 1;
        count++;
    }
    if (count)
        textbuf_put(o, text + at, len - at);
    return count;
}

/* A token that does not open stays as it is (it may be a client's text that only looks
 * like one) and is counted in *ctx. */
static bool open_fn(const char *field, const char *tok, size_t len, bool quoted, struct textbuf *o,
                    void *ctx)
{
    if (open_token(field, tok, len, o))
        return true;
    (*(size_t *)ctx)++;
    if (quoted)
        textbuf_put(o, "\"", 1);
    textbuf_put(o, tok, len);
    if (quoted)
        textbuf_put(o, "\"", 1);
    return true;
}

int seal_open_text(const char *text, size_t len, const char *bare_field, char **out,
                   size_t *out_len)
{
    *out = NULL;
    if (!text || !len || !memmem(text, len, CRYPT_TOKEN_PREFIX, SEAL_TOKEN_PREFIX_LEN))
        return 0;
    struct textbuf o = {0};
    size_t failed = 0;
    long n = each_token(text, len, bare_field, &o, open_fn, &failed);
    if (n <= 0 || o.failed || failed == (size_t)n) {
        textbuf_release(&o);
        return n > 0 || o.failed ? ERR_INVALID : 0;
    }
    *out = o.p;
    *out_len = o.len;
    return failed ? ERR_INVALID : 0;
}

struct rekey_ctx {
    size_t changed;
};

static bool rekey_fn(const char *field, const char *tok, size_t len, bool quoted, struct textbuf *o,
                     void *ctx)
{
    struct rekey_ctx *r = ctx;
    char head[32];
    int hl = snprintf(head, sizeof(head), CRYPT_TOKEN_PREFIX "%u:", seal_version());
    if ((size_t)hl < len && memcmp(tok, head, (size_t)hl) == 0) {
        if (quoted)
            textbuf_put(o, "\"", 1);
        textbuf_put(o, tok, len); /* current already */
        if (quoted)
            textbuf_put(o, "\"", 1);
        return true;
    }
    struct textbuf clear = {0};
    bool ok = open_token(field, tok, len, &clear) && !clear.failed;
    if (ok) {
        put_token(o, field, strlen(field), clear.p ? clear.p : "", clear.len, quoted);
        r->changed++;
    }
    if (clear.p)
        sodium_memzero(clear.p, clear.len);
    textbuf_release(&clear);
    return ok;
}

int seal_rekey_text(const char *text, size_t len, const char *bare_field, char **out,
                    size_t *out_len, size_t *tokens)
{
    *out = NULL;
    *tokens = 0;
    if (!text || !len || !memmem(text, len, CRYPT_TOKEN_PREFIX, SEAL_TOKEN_PREFIX_LEN))
        return 0;
    struct textbuf o = {0};
    struct rekey_ctx r = {0};
    long n = each_token(text, len, bare_field, &o, rekey_fn, &r);
    if (n < 0 || o.failed) {
        textbuf_release(&o);
        return ERR_INVALID;
    }
    if (r.changed == 0) {
        textbuf_release(&o);
        return 0;
    }
    *out = o.p;
    *out_len = o.len;
    *tokens = r.changed;
    return 0;
}

int seal_open_value(const char *field, const char *token, char *out, size_t cap, const char *what,
                    struct err *e)
{
    struct textbuf o = {0};
    bool ok = open_token(field, token, strlen(token), &o) && !o.failed;
    cJSON *v = ok ? cJSON_ParseWithLength(o.p, o.len) : NULL;
    int rc = 0;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        rc = err_set(e, ERR_INVALID,
                     "%s: the stored %s does not decrypt (another master key, or damaged)", what,
                     field);
    else
        memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    cJSON_Delete(v);
    textbuf_release(&o);
    return rc;
}

static int open_walk(cJSON *node, const char *what, struct err *e)
{
    const char *type = NULL;
    const cJSON *t = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, "type") : NULL;
    if (cJSON_IsString(t))
        type = t->valuestring; /* {"type": "phone", "value": TOKEN}: the field is the type */
    cJSON *next;
    for (cJSON *c = node->child; c; c = next) {
        next = c->next;
        if (cJSON_IsString(c) && crypt_is_token(c->valuestring)) {
            const char *field = c->string ? c->string : "quarantine";
            if (type && c->string && strcmp(c->string, "value") == 0)
                field = type;
            struct textbuf o = {0};
            bool ok = open_token(field, c->valuestring, strlen(c->valuestring), &o) && !o.failed;
            cJSON *v = ok ? cJSON_ParseWithLength(o.p, o.len) : NULL;
            textbuf_release(&o);
            if (!v && !field_sealed(field, strlen(field)))
                continue; /* a client's text that looks like a token, in a clear field */
            if (!v)
                return err_set(e, ERR_INVALID,
                               "%s: the stored %s does not decrypt (another master key, or "
                               "damaged)",
                               what, field);
            if (c->string) {
                v->string = c->string;
                v->type |= c->type & cJSON_StringIsConst;
                c->string = NULL;
                c->type &= ~cJSON_StringIsConst;
            }
            cJSON_ReplaceItemViaPointer(node, c, v);
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            int rc = open_walk(c, what, e);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int seal_open_json(void *json, const char *what, struct err *e)
{
    cJSON *j = json;
    if (!j || !S.loaded)
        return 0;
    if (cJSON_IsString(j) && crypt_is_token(j->valuestring))
        return err_set(e, ERR_INVALID, "%s: a bare token", what);
    return cJSON_IsObject(j) || cJSON_IsArray(j) ? open_walk(j, what, e) : 0;
}

/* ---- tokens of blind-indexed identifiers, waiting for their resolution's commit ---- */

struct pending_token {
    char value[SEAL_BI_LEN + 1];
    char type[64];
    char *token;
};

static struct {
    pthread_mutex_t lock;
    struct pending_token *v;
    size_t n, cap; /* open addressing: cap a power of two, at most half full */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t pending_slot(const char *value)
{
    uint32_t h = 2166136261u;
    for (const char *c = value; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    size_t i = h & (P.cap - 1);
    while (P.v[i].token && strcmp(P.v[i].value, value) != 0)
        i = (i + 1) & (P.cap - 1);
    return i;
}

static int pending_grow(void)
{
    size_t cap = P.cap ? P.cap * 2 : 1024;
    struct pending_token *old = P.v;
    size_t oldcap = P.cap;
    P.v = calloc(cap, sizeof(*P.v));
    if (!P.v) {
        P.v = old;
        return ERR_NOMEM;
    }
    P.cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].token)
            P.v[pending_slot(old[i].value)] = old[i];
    free(old);
    return 0;
}

int seal_identifier_keep(const char *type, const char *std, char *out, size_t cap)
{
    if (!S.on || !field_sealed(type, strlen(type)))
        return seal_identifier(type, std, out, cap, NULL);
    char clear[SEAL_TOKEN_CAP]; /* std and out may be one buffer */
    if (strlen(std) >= sizeof(clear))
        return ERR_LIMIT;
    memcpy(clear, std, strlen(std) + 1);
    std = clear;
    int rc = seal_identifier(type, std, out, cap, NULL);
    if (rc || strlen(type) >= sizeof(P.v[0].type))
        return rc;
    pthread_mutex_lock(&P.lock);
    if ((P.n + 1) * 2 > P.cap && pending_grow()) {
        pthread_mutex_unlock(&P.lock);
        return ERR_NOMEM;
    }
    size_t i = pending_slot(out);
    if (!P.v[i].token) {
        char token[SEAL_TOKEN_CAP], bi[SEAL_BI_LEN + 1];
        rc = seal_identifier(type, std, bi, sizeof(bi), token);
        if (!rc && !(P.v[i].token = strdup(token)))
            rc = ERR_NOMEM;
        if (!rc) {
            memcpy(P.v[i].value, out, SEAL_BI_LEN + 1);
            snprintf(P.v[i].type, sizeof(P.v[i].type), "%s", type);
            P.n++;
        }
    }
    pthread_mutex_unlock(&P.lock);
    return rc;
}

int seal_identifier_flush(struct store *st, struct err *e)
{
    int rc = 0;
    pthread_mutex_lock(&P.lock);
    for (size_t i = 0; i < P.cap; i++) {
        if (!P.v[i].token)
            continue;
        if (!rc)
            rc = st->ops->identifier_token_put(st, P.v[i].value, P.v[i].type, P.v[i].token, e);
        free(P.v[i].token);
        P.v[i].token = NULL;
    }
    P.n = 0;
    pthread_mutex_unlock(&P.lock);
    return rc;
}
