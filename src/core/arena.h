/* arena.h - per-request bump allocation.
 *
 * A request allocates many small objects (a JSON tree has one per value) that all
 * die together when it is answered. An arena hands them out by bumping a pointer
 * and frees them all at once on reset, keeping its chunks for the next request.
 * Under AddressSanitizer, reset poisons the memory so that a pointer kept past its
 * request is caught. */
#ifndef CUSTOS_ARENA_H
#define CUSTOS_ARENA_H

#include "core/common.h"

#define ARENA_CHUNK_MIN (256 * 1024) /* bytes of a chunk; larger requests get their own */

struct arena_chunk;

#define ARENA_KEEP_MAX (64 * 1024 * 1024) /* bytes of chunks kept for reuse after reset */

struct arena {
    struct arena_chunk *head;  /* the chunk being filled; older ones follow */
    struct arena_chunk *spare; /* chunks kept by reset, for the next allocations */
    size_t spare_bytes;
};

/* Returns n bytes aligned for any type, or NULL when memory runs out. */
void *arena_alloc(struct arena *a, size_t n);

/* Whether p was handed out by a (and not yet reset). */
bool arena_owns(const struct arena *a, const void *p);

/* Frees everything handed out, keeping up to ARENA_KEEP_MAX bytes of its chunks for
 * reuse (a big batch needs no fresh memory the next time). */
void arena_reset(struct arena *a);

/* Frees everything, chunks included. */
void arena_release(struct arena *a);

/* cJSON on arenas: after json_arena_install(), cJSON allocations made on a thread
 * between json_arena_begin() and json_arena_end() come from that thread's arena and
 * cJSON frees of them are no-ops; json_arena_end() resets it. Outside, cJSON uses
 * malloc and free as usual. Pointers from inside must not be used after end. */
void json_arena_install(void);
void json_arena_begin(void);
void json_arena_end(void);

/* Lets cJSON use malloc again for a while (for objects that outlive the request,
 * such as a plan compiled during a request); returns whether the arena was on, to
 * hand back to json_arena_resume(). */
bool json_arena_suspend(void);
void json_arena_resume(bool was_on);

#endif
