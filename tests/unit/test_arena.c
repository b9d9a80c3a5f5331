/* test_arena.c - the bump allocator (alignment, large allocations, ownership, reuse and
 * poisoning on reset) and cJSON on per-thread arenas (json_arena_*): what is parsed
 * between begin and end comes from the arena and cJSON_Delete of it does nothing;
 * outside, and while suspended, cJSON uses malloc and free, so LeakSanitizer sees every
 * tree that is not deleted.
 *
 * Under AddressSanitizer the tests also ask the allocator directly: a pointer that
 * malloc handed out is "owned" by it (__sanitizer_get_ownership), an arena object is
 * not; and memory an arena has reset is poisoned. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <pthread.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
/* From <sanitizer/allocator_interface.h>, which GCC does not install; its runtime has it. */
int __sanitizer_get_ownership(const volatile void *p);
#endif

#include "core/arena.h"

/* Whether p is the start of a live malloc block (1), not (0), or unknown (-1). */
static int malloc_owned(const void *p)
{
#ifdef HAVE_ASAN
    return __sanitizer_get_ownership(p) ? 1 : 0;
#else
    (void)p;
    return -1;
#endif
}

/* Whether the byte at p is poisoned (1), not (0), or unknown (-1). */
static int poisoned(const void *p)
{
#ifdef HAVE_ASAN
    return __asan_address_is_poisoned(p) ? 1 : 0;
#else
    (void)p;
    return -1;
#endif
}

static uint64_t test_rng = 0x2545f4914f6cdd1dULL;

static uint64_t next_random(void)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

/* ---- arena_alloc ------------------------------------------------------------------ */

static void test_alignment_and_no_overlap(void **state)
{
    (void)state;
    enum { COUNT = 5000 };
    struct arena a = {0};
    unsigned char **p = calloc(COUNT, sizeof(*p));
    size_t *n = calloc(COUNT, sizeof(*n));
    assert_non_null(p);
    assert_non_null(n);
    /* Sizes 0..600, many chunks' worth: each block aligned to 16 and filled with its
     * own byte, then all checked, so that no two blocks overlap. */
    for (int k = 0; k < COUNT; k++) {
        n[k] = k < 64 ? (size_t)k : next_random() % 601;
        p[k] = arena_alloc(&a, n[k]);
        assert_non_null(p[k]);
        if ((uintptr_t)p[k] % 16 != 0)
            fail_msg("allocation %d of %zu bytes at %p is not 16-aligned", k, n[k], (void *)p[k]);
        memset(p[k], k & 0xff, n[k]);
    }
    for (int k = 0; k < COUNT; k++)
        for (size_t i = 0; i < n[k]; i++)
            if (p[k][i] != (unsigned char)(k & 0xff))
                fail_msg("allocation %d byte %zu was overwritten", k, i);
    /* Types with the strictest alignment work in place. */
    long double *ld = arena_alloc(&a, 3 * sizeof(long double));
    assert_non_null(ld);
    assert_int_equal((uintptr_t)ld % _Alignof(max_align_t), 0);
    ld[0] = 1.5L;
    ld[2] = ld[0] * 2;
    assert_true(ld[2] == 3.0L);
    arena_release(&a);
    free(p);
    free(n);
}

static void test_large_allocations(void **state)
{
    (void)state;
    struct arena a = {0};
    unsigned char *small = arena_alloc(&a, 100);
    assert_non_null(small);
    memset(small, 0x11, 100);
    static const size_t sizes[] = {ARENA_CHUNK_MIN - 1, ARENA_CHUNK_MIN, ARENA_CHUNK_MIN + 1,
                                   3 * ARENA_CHUNK_MIN + 7, 16 * ARENA_CHUNK_MIN};
    unsigned char *big[ARRAY_SIZE(sizes)];
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        big[k] = arena_alloc(&a, sizes[k]);
        assert_non_null(big[k]);
        assert_int_equal((uintptr_t)big[k] % 16, 0);
        memset(big[k], (int)k + 1, sizes[k]); /* ASan: every byte is really there */
        assert_true(arena_owns(&a, big[k]));
        assert_true(arena_owns(&a, big[k] + sizes[k] - 1));
    }
    /* Small allocations keep working after the big ones, and nothing was clobbered. */
    unsigned char *after = arena_alloc(&a, 64);
    assert_non_null(after);
    memset(after, 0x22, 64);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(small[i], 0x11);
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        assert_int_equal(big[k][0], k + 1);
        assert_int_equal(big[k][sizes[k] - 1], k + 1);
    }
    arena_release(&a);
    assert_null(a.head);
}

static void test_owns(void **state)
{
    (void)state;
    struct arena a = {0}, b = {0};
    int on_stack = 0;
    assert_false(arena_owns(&a, &on_stack)); /* an empty arena owns nothing */
    char *p = arena_alloc(&a, 40);
    char *q = arena_alloc(&b, 40);
    char *heap = malloc(40);
    assert_non_null(p);
    assert_non_null(q);
    assert_non_null(heap);
    assert_true(arena_owns(&a, p));
    assert_true(arena_owns(&a, p + 39));
    assert_false(arena_owns(&a, q));
    assert_false(arena_owns(&b, p));
    assert_true(arena_owns(&b, q));
    assert_false(arena_owns(&a, heap));
    assert_false(arena_owns(&a, &on_stack));
    assert_false(arena_owns(&a, NULL));
    /* Past what was handed out: not owned, though the chunk is bigger. */
    assert_false(arena_owns(&a, p + 48));
    /* Handed out in an older chunk still counts. */
    for (int k = 0; k < 20; k++)
        assert_non_null(arena_alloc(&a, ARENA_CHUNK_MIN / 4));
    assert_true(arena_owns(&a, p));
    arena_reset(&a);
    assert_false(arena_owns(&a, p)); /* not after reset */
    free(heap);
    arena_release(&a);
    arena_release(&b);
}

static void test_reset_reuses_memory(void **state)
{
    (void)state;
    struct arena a = {0};
    char *first = arena_alloc(&a, 64);
    assert_non_null(first);
    memset(first, 'x', 64);
    for (int k = 0; k < 10; k++) /* spill into more chunks */
        assert_non_null(arena_alloc(&a, ARENA_CHUNK_MIN / 2));
    arena_reset(&a);
    if (poisoned(first) != -1) {
        assert_int_equal(poisoned(first), 1); /* a kept pointer is caught */
        assert_int_equal(poisoned(first + 63), 1);
    }
    for (int round = 0; round < 3; round++) {
        char *again = arena_alloc(&a, 64);
        assert_ptr_equal(again, first); /* the first chunk is kept and reused */
        assert_int_equal(poisoned(again) == 1, 0);
        memset(again, 'y', 64);
        char *next = arena_alloc(&a, 100);
        assert_ptr_equal(next, first + 64);
        arena_reset(&a);
    }
    arena_release(&a);

    /* One huge first chunk is not kept (it need not pin its memory); LeakSanitizer
     * checks that it is freed. */
    struct arena h = {0};
    assert_non_null(arena_alloc(&h, 8 * ARENA_CHUNK_MIN));
    arena_reset(&h);
    assert_null(h.head);
    assert_non_null(arena_alloc(&h, 10));
    arena_release(&h);
    /* Reset and release of an empty arena. */
    struct arena empty = {0};
    arena_reset(&empty);
    arena_release(&empty);
    assert_null(empty.head);
}

/* ---- cJSON on arenas ------------------------------------------------------------- */

static const char doc[] = "{\"userId\":\"u-1\",\"event\":\"Order Completed\","
                          "\"properties\":{\"items\":[{\"sku\":\"A-1\",\"qty\":2},null,true],"
                          "\"note\":\"a string long enough to be its own allocation\"}}";

/* Every node and string of a tree, checked against malloc ownership. */
static void check_tree_owned(const cJSON *j, int want, const char *where)
{
    for (; j; j = j->next) {
        int got = malloc_owned(j);
        if (got != -1 && got != want)
            fail_msg("%s: a node is %s", where, got ? "from malloc" : "not from malloc");
        if (j->string && malloc_owned(j->string) != -1 && malloc_owned(j->string) != want)
            fail_msg("%s: a member name is %s", where, want ? "not from malloc" : "from malloc");
        if (j->valuestring && malloc_owned(j->valuestring) != -1 &&
            malloc_owned(j->valuestring) != want)
            fail_msg("%s: a string is %s", where, want ? "not from malloc" : "from malloc");
        check_tree_owned(j->child, want, where);
    }
}

static void check_tree_readable(const cJSON *root)
{
    const cJSON *props = cJSON_GetObjectItem(root, "properties");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(root, "event")),
                        "Order Completed");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(props, "note")),
                        "a string long enough to be its own allocation");
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(props, "items"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(item, "sku")), "A-1");
}

static void test_json_arena(void **state)
{
    (void)state;
    json_arena_install();

    /* Outside begin/end: malloc. Deleting frees it (LeakSanitizer would say if not). */
    cJSON *heap = cJSON_Parse(doc);
    assert_non_null(heap);
    check_tree_owned(heap, 1, "before begin");
    cJSON_Delete(heap);

    json_arena_begin();
    cJSON *root = cJSON_Parse(doc);
    assert_non_null(root);
    check_tree_readable(root);
    check_tree_owned(root, 0, "between begin and end");
    char *printed = cJSON_PrintUnformatted(root);
    assert_non_null(printed);
    assert_int_equal(malloc_owned(printed) == 1, 0);
    cJSON_free(printed); /* a no-op */
    cJSON *made = cJSON_CreateObject();
    assert_non_null(cJSON_AddStringToObject(made, "k", "v"));
    check_tree_owned(made, 0, "created between begin and end");
    /* cJSON_Delete of arena objects is harmless: they stay readable until end (ASan
     * would report a use after free if they had been freed). */
    cJSON_Delete(root);
    cJSON_Delete(made);
    check_tree_readable(root);
    /* Parsing again within the same begin/end does not reuse deleted memory. */
    cJSON *second = cJSON_Parse(doc);
    assert_non_null(second);
    assert_true(second != root);
    check_tree_readable(root);
    json_arena_end();
    if (poisoned(root) != -1)
        assert_int_equal(poisoned(root), 1); /* ended: a kept pointer is caught */

    /* The next request reuses the same memory. */
    json_arena_begin();
    cJSON *again = cJSON_Parse(doc);
    assert_ptr_equal(again, root);
    check_tree_readable(again);
    json_arena_end();

    /* After end: malloc again. */
    heap = cJSON_Parse(doc);
    assert_non_null(heap);
    assert_true(heap != root);
    check_tree_owned(heap, 1, "after end");
    check_tree_readable(heap);
    cJSON_Delete(heap);
    /* end without begin does nothing. */
    json_arena_end();
    heap = cJSON_CreateString("x");
    assert_int_equal(malloc_owned(heap) == 0, 0);
    cJSON_Delete(heap);
}

static void test_json_arena_heap_objects_inside(void **state)
{
    (void)state;
    json_arena_install();
    /* A tree from before begin, deleted between begin and end, is really freed
     * (LeakSanitizer would report it otherwise), and arena objects beside it are not. */
    cJSON *outside = cJSON_Parse(doc);
    assert_non_null(outside);
    check_tree_owned(outside, 1, "before begin");
    json_arena_begin();
    cJSON *inside = cJSON_Parse(doc);
    cJSON_Delete(outside);
    cJSON_Delete(inside);
    check_tree_readable(inside);
    json_arena_end();
}

static void test_json_arena_suspend(void **state)
{
    (void)state;
    json_arena_install();
    assert_false(json_arena_suspend()); /* off: stays off */
    json_arena_resume(false);
    cJSON *heap = cJSON_CreateObject();
    check_tree_owned(heap, 1, "suspended while off");
    cJSON_Delete(heap);

    json_arena_begin();
    cJSON *in_arena = cJSON_Parse(doc);
    bool was = json_arena_suspend();
    assert_true(was);
    /* A plan compiled during a request outlives it: malloc. */
    cJSON *kept = cJSON_Parse(doc);
    assert_non_null(kept);
    check_tree_owned(kept, 1, "suspended");
    json_arena_resume(was);
    cJSON *in_arena2 = cJSON_CreateArray();
    check_tree_owned(in_arena2, 0, "resumed");
    check_tree_owned(in_arena, 0, "before suspend");
    json_arena_end();

    /* kept survives the end of the request, and is freed by cJSON_Delete. */
    check_tree_readable(kept);
    if (poisoned(kept) != -1)
        assert_int_equal(poisoned(kept), 0);
    cJSON_Delete(kept);

    /* Deleting a heap tree while the arena is on frees it too. */
    json_arena_begin();
    was = json_arena_suspend();
    kept = cJSON_Parse(doc);
    json_arena_resume(was);
    cJSON_Delete(kept); /* LeakSanitizer: freed, although the arena is on */
    json_arena_end();
}

struct thread_result {
    int owned_outside, owned_inside;
    const void *root;
    pthread_barrier_t *both_inside;
};

/* Parses in an arena of its own, then exits: the arena dies with the thread. */
static void *arena_thread(void *arg)
{
    struct thread_result *r = arg;
    json_arena_begin();
    cJSON *root = cJSON_Parse(doc);
    r->root = root;
    r->owned_inside = malloc_owned(root);
    pthread_barrier_wait(r->both_inside);
    json_arena_end();
    return NULL;
}

/* Parses outside begin/end while another thread is inside. */
static void *plain_thread(void *arg)
{
    struct thread_result *r = arg;
    cJSON *root = cJSON_Parse(doc);
    r->root = root;
    r->owned_outside = malloc_owned(root);
    pthread_barrier_wait(r->both_inside);
    cJSON_Delete(root);
    return NULL;
}

static void test_json_arena_per_thread(void **state)
{
    (void)state;
    json_arena_install();
    enum { PAIRS = 4 };
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2 * PAIRS + 1);
    struct thread_result in[PAIRS], out[PAIRS];
    pthread_t t[2 * PAIRS];
    json_arena_begin(); /* this thread too */
    cJSON *mine = cJSON_Parse(doc);
    for (int k = 0; k < PAIRS; k++) {
        in[k] = (struct thread_result){.both_inside = &barrier};
        out[k] = (struct thread_result){.both_inside = &barrier};
        assert_int_equal(pthread_create(&t[2 * k], NULL, arena_thread, &in[k]), 0);
        assert_int_equal(pthread_create(&t[2 * k + 1], NULL, plain_thread, &out[k]), 0);
    }
    pthread_barrier_wait(&barrier); /* every thread has parsed */
    for (int k = 0; k < 2 * PAIRS; k++)
        assert_int_equal(pthread_join(t[k], NULL), 0);
    json_arena_end();
    pthread_barrier_destroy(&barrier);
    for (int k = 0; k < PAIRS; k++) {
        assert_non_null(in[k].root);
        assert_non_null(out[k].root);
        assert_true(in[k].root != mine);
        for (int j = 0; j < k; j++)
            assert_true(in[k].root != in[j].root); /* each thread its own arena */
        if (in[k].owned_inside != -1) {
            assert_int_equal(in[k].owned_inside, 0);
            assert_int_equal(out[k].owned_outside, 1);
        }
    }
    /* LeakSanitizer at exit checks that the exited threads' arenas were freed. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_no_overlap),
        cmocka_unit_test(test_large_allocations),
        cmocka_unit_test(test_owns),
        cmocka_unit_test(test_reset_reuses_memory),
        cmocka_unit_test(test_json_arena),
        cmocka_unit_test(test_json_arena_heap_objects_inside),
        cmocka_unit_test(test_json_arena_suspend),
        cmocka_unit_test(test_json_arena_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
