/* arena.c - see arena.h. */
#include <cJSON.h>
#include <pthread.h>

#include "core/arena.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_ALIGN 16

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        if (n <= ARENA_CHUNK_MIN && a->spare) {
            c = a->spare;
            a->spare = c->next;
            a->spare_bytes -= c->size;
        } else {
            size_t size = n > ARENA_CHUNK_MIN ? n : ARENA_CHUNK_MIN;
            c = malloc(sizeof(*c) + size);
            if (!c)
                return NULL;
            c->size = size;
            POISON(c->data, size);
        }
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    UNPOISON(p, n);
    return p;
}

bool arena_owns(const struct arena *a, const void *p)
{
    const unsigned char *q = p;
    for (const struct arena_chunk *c = a->head; c; c = c->next)
        if (q >= c->data && q < c->data + c->used)
            return true;
    return false;
}

void arena_reset(struct arena *a)
{
    for (struct arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        if (c->size == ARENA_CHUNK_MIN && a->spare_bytes + c->size <= ARENA_KEEP_MAX) {
            POISON(c->data, c->size);
            c->used = 0;
            c->next = a->spare;
            a->spare = c;
            a->spare_bytes += c->size;
        } else {
            free(c); /* one huge allocation need not pin its memory */
        }
    }
    a->head = NULL;
}

void arena_release(struct arena *a)
{
    arena_reset(a);
    for (struct arena_chunk *c = a->spare, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->spare = NULL;
    a->spare_bytes = 0;
}

static _Thread_local struct arena *json_arena;
static _Thread_local bool json_arena_on;
static pthread_key_t json_arena_key;
static pthread_once_t json_arena_once = PTHREAD_ONCE_INIT;

static void json_arena_free_thread(void *p)
{
    arena_release(p);
    free(p);
}

static void json_arena_key_init(void)
{
    pthread_key_create(&json_arena_key, json_arena_free_thread);
}

static void *json_malloc(size_t n)
{
    return json_arena_on ? arena_alloc(json_arena, n) : malloc(n);
}

static void json_free(void *p)
{
    if (!p || (json_arena_on && arena_owns(json_arena, p)))
        return;
    free(p);
}

void json_arena_install(void)
{
    pthread_once(&json_arena_once, json_arena_key_init);
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
}

void json_arena_begin(void)
{
    if (!json_arena) {
        json_arena = calloc(1, sizeof(*json_arena));
        if (!json_arena)
            return; /* stays off: cJSON falls back to malloc */
        pthread_once(&json_arena_once, json_arena_key_init);
        pthread_setspecific(json_arena_key, json_arena);
    }
    json_arena_on = true;
}

void json_arena_end(void)
{
    if (!json_arena_on)
        return;
    json_arena_on = false;
    arena_reset(json_arena);
}

bool json_arena_suspend(void)
{
    bool was = json_arena_on;
    json_arena_on = false;
    return was;
}

void json_arena_resume(bool was_on)
{
    json_arena_on = was_on;
}
