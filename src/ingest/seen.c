/* seen.c - open addressing with linear probing; the all-zero key marks an empty
 * slot (a real key that hashes to zero is stored as {0, 1}). See seen.h. */
#include <pthread.h>
#include <sodium.h>

#include "ingest/seen.h"

#define SEEN_MIN_CAP 1024

static struct hash128 fix(struct hash128 k)
{
    if (k.hi == 0 && k.lo == 0)
        k.lo = 1;
    return k;
}

static bool empty(struct hash128 k)
{
    return k.hi == 0 && k.lo == 0;
}

static bool same(struct hash128 a, struct hash128 b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

/* The hash is keyed with a secret drawn at start-up (the set is rebuilt from the store
 * then, so nothing hashed with it is kept): a sender who knows the source id cannot
 * pick messageIds that pile into one probe chain. */
static uint64_t seen_secret;
static pthread_once_t seen_once = PTHREAD_ONCE_INIT;

static void seen_secret_init(void)
{
    randombytes_buf(&seen_secret, sizeof(seen_secret));
}

struct hash128 seen_key_quarantine_of(struct hash128 event_key)
{
    event_key.hi ^= 0x5175617261746e65u; /* a different key for the same messageId */
    return fix(event_key);
}

struct hash128 seen_key_quarantine(int64_t source_id, const char *message_id, size_t len)
{
    return seen_key_quarantine_of(seen_key(source_id, message_id, len));
}

struct hash128 seen_key(int64_t source_id, const char *message_id, size_t len)
{
    pthread_once(&seen_once, seen_secret_init);
    return fix(
        text_hash128(message_id, len, seen_secret ^ ((uint64_t)source_id * 0x9E3779B97F4A7C15u)));
}

int seen_init(struct seen_set *s, size_t hint)
{
    size_t cap = SEEN_MIN_CAP;
    while (cap < hint * 2)
        cap <<= 1;
    s->slots = calloc(cap, sizeof(*s->slots));
    if (!s->slots)
        return ERR_NOMEM;
    s->cap = cap;
    s->count = 0;
    return 0;
}

void seen_release(struct seen_set *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}

static size_t slot_of(const struct seen_set *s, struct hash128 k)
{
    return (size_t)(k.lo ^ (k.hi >> 17)) & (s->cap - 1);
}

static int grow(struct seen_set *s)
{
    struct seen_set bigger;
    bigger.cap = s->cap * 2;
    bigger.count = s->count;
    bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
    if (!bigger.slots)
        return ERR_NOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (empty(s->slots[i]))
            continue;
        size_t j = slot_of(&bigger, s->slots[i]);
        while (!empty(bigger.slots[j]))
            j = (j + 1) & (bigger.cap - 1);
        bigger.slots[j] = s->slots[i];
    }
    free(s->slots);
    *s = bigger;
    return 0;
}

int seen_add(struct seen_set *s, struct hash128 k)
{
    k = fix(k);
    if ((s->count + 1) * 2 > s->cap && grow(s))
        return ERR_NOMEM;
    size_t i = slot_of(s, k);
    while (!empty(s->slots[i])) {
        if (same(s->slots[i], k))
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = k;
    s->count++;
    return 1;
}

bool seen_has(const struct seen_set *s, struct hash128 k)
{
    k = fix(k);
    for (size_t i = slot_of(s, k); !empty(s->slots[i]); i = (i + 1) & (s->cap - 1))
        if (same(s->slots[i], k))
            return true;
    return false;
}

void seen_remove(struct seen_set *s, struct hash128 k)
{
    k = fix(k);
    size_t i = slot_of(s, k);
    while (!same(s->slots[i], k)) {
        if (empty(s->slots[i]))
            return;
        i = (i + 1) & (s->cap - 1);
    }
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        s->slots[i] = (struct hash128){0, 0};
        for (;;) {
            j = (j + 1) & (s->cap - 1);
            if (empty(s->slots[j])) {
                s->count--;
                return;
            }
            size_t home = slot_of(s, s->slots[j]);
            /* Move slots[j] into the hole at i unless its home lies cyclically in (i, j]. */
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays)
                break;
        }
        s->slots[i] = s->slots[j];
        i = j;
    }
}
