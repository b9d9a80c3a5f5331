/* test_seen.c - the dedup set: add/has/remove, growth through many doublings, removal
 * keeping probe chains whole (random keys, and crafted keys that pile into one chain
 * wrapping around the end of the table), the all-zero key, and seen_key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ingest/seen.h"

static uint64_t test_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

/* The key of message "msg-<k>" on source. */
static struct hash128 key_of(int64_t source, uint64_t k)
{
    char id[32];
    int n = snprintf(id, sizeof(id), "msg-%" PRIu64, k);
    return seen_key(source, id, (size_t)n);
}

static bool key_equal(struct hash128 a, struct hash128 b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

static void test_add_has_remove(void **state)
{
    (void)state;
    struct seen_set s;
    assert_int_equal(seen_init(&s, 0), 0);
    struct hash128 a = seen_key(1, "ajs-1", 5), b = seen_key(1, "ajs-2", 5);
    assert_false(seen_has(&s, a));
    assert_int_equal(seen_add(&s, a), 1);
    assert_true(seen_has(&s, a));
    assert_false(seen_has(&s, b));
    assert_int_equal(s.count, 1);
    assert_int_equal(seen_add(&s, a), 0); /* already present */
    assert_int_equal(s.count, 1);
    assert_int_equal(seen_add(&s, b), 1);
    assert_int_equal(s.count, 2);

    seen_remove(&s, a);
    assert_false(seen_has(&s, a));
    assert_true(seen_has(&s, b));
    assert_int_equal(s.count, 1);
    seen_remove(&s, a); /* absent: nothing changes */
    assert_int_equal(s.count, 1);
    assert_true(seen_has(&s, b));
    assert_int_equal(seen_add(&s, a), 1); /* new again after removal */
    assert_true(seen_has(&s, a));
    assert_int_equal(s.count, 2);
    seen_release(&s);
    assert_null(s.slots);
    assert_int_equal(s.count, 0);
}

static void test_hint_sizes_the_table(void **state)
{
    (void)state;
    enum { HINT = 5000 };
    struct seen_set s;
    assert_int_equal(seen_init(&s, HINT), 0);
    size_t cap = s.cap;
    assert_true(cap >= 2 * HINT);
    assert_int_equal(cap & (cap - 1), 0); /* a power of two */
    for (uint64_t k = 0; k < HINT; k++)
        assert_int_equal(seen_add(&s, key_of(3, k)), 1);
    assert_int_equal(s.cap, cap); /* room for hint keys without growing */
    seen_release(&s);
}

static void test_growth_million(void **state)
{
    (void)state;
    enum { KEYS = 1000000 };
    struct seen_set s;
    assert_int_equal(seen_init(&s, 0), 0);
    size_t first_cap = s.cap;
    for (uint64_t k = 0; k < KEYS; k++)
        if (seen_add(&s, key_of(7, k)) != 1)
            fail_msg("key %" PRIu64 " was not new", k);
    assert_int_equal(s.count, KEYS);
    assert_true(s.cap >= (size_t)2 * KEYS); /* load stays at most 1/2 */
    assert_true(s.cap >= first_cap << 10);  /* it went through many doublings */
    assert_int_equal(s.cap & (s.cap - 1), 0);
    for (uint64_t k = 0; k < KEYS; k++) {
        if (!seen_has(&s, key_of(7, k)))
            fail_msg("key %" PRIu64 " lost after growth", k);
        if (seen_has(&s, key_of(8, k))) /* same ids, another source */
            fail_msg("key %" PRIu64 " of source 8 found", k);
    }
    for (uint64_t k = 0; k < KEYS; k += 997)
        assert_int_equal(seen_add(&s, key_of(7, k)), 0);
    assert_int_equal(s.count, KEYS);
    seen_release(&s);
}

static void test_remove_random_half(void **state)
{
    (void)state;
    enum { KEYS = 100000 };
    struct seen_set s;
    assert_int_equal(seen_init(&s, 0), 0);
    bool *removed = calloc(KEYS, sizeof(*removed));
    assert_non_null(removed);
    for (uint64_t k = 0; k < KEYS; k++)
        assert_int_equal(seen_add(&s, key_of(1, k)), 1);

    size_t gone = 0;
    while (gone < KEYS / 2) {
        uint64_t k = next_random() % KEYS;
        if (removed[k])
            continue;
        seen_remove(&s, key_of(1, k));
        removed[k] = true;
        gone++;
    }
    assert_int_equal(s.count, KEYS - gone);
    for (uint64_t k = 0; k < KEYS; k++)
        if (seen_has(&s, key_of(1, k)) == removed[k])
            fail_msg("key %" PRIu64 " (%s): has() says the opposite", k,
                     removed[k] ? "removed" : "kept");

    /* Re-adding: every removed key is new again, every kept one is not. */
    for (uint64_t k = 0; k < KEYS; k++)
        if (seen_add(&s, key_of(1, k)) != (removed[k] ? 1 : 0))
            fail_msg("re-adding key %" PRIu64 " (%s)", k, removed[k] ? "removed" : "kept");
    assert_int_equal(s.count, KEYS);
    for (uint64_t k = 0; k < KEYS; k++)
        if (!seen_has(&s, key_of(1, k)))
            fail_msg("key %" PRIu64 " missing after re-adding", k);
    free(removed);
    seen_release(&s);
}

/* A key whose home slot, in a table of 1024, is home (see slot_of in seen.c: the low bits
 * of lo ^ hi >> 17): j goes into bits of hi that land above bit 10 after the shift. */
static struct hash128 crafted(size_t home, uint64_t j)
{
    return (struct hash128){.hi = (j + 1) << 27, .lo = home};
}

static void test_remove_colliding_chains_wrap(void **state)
{
    (void)state;
    /* 400 keys whose homes are the last 6 and first 4 slots of a 1024-slot table: one
     * long cluster that wraps around the end. Random adds and removes are checked
     * against a plain model after every step, for every key. */
    enum { UNIVERSE = 400, STEPS = 20000 };
    struct seen_set s;
    assert_int_equal(seen_init(&s, 0), 0);
    assert_int_equal(s.cap, 1024); /* what crafted() assumes; 400 keys never grow it */
    struct hash128 keys[UNIVERSE];
    bool in[UNIVERSE] = {false};
    size_t count = 0;
    for (uint64_t j = 0; j < UNIVERSE; j++)
        keys[j] = crafted((1018 + j % 10) & 1023, j);

    for (int step = 0; step < STEPS; step++) {
        size_t j = next_random() % UNIVERSE;
        /* Lean to adding until the cluster is long, then churn. */
        bool add = count < UNIVERSE / 2 ? next_random() % 4 != 0 : next_random() % 2 == 0;
        if (add) {
            int r = seen_add(&s, keys[j]);
            if (r != (in[j] ? 0 : 1))
                fail_msg("step %d: add of key %zu returned %d", step, j, r);
            count += !in[j];
            in[j] = true;
        } else {
            seen_remove(&s, keys[j]);
            count -= in[j];
            in[j] = false;
        }
        if (s.count != count)
            fail_msg("step %d: count %zu, want %zu", step, s.count, count);
        for (size_t k = 0; k < UNIVERSE; k++)
            if (seen_has(&s, keys[k]) != in[k])
                fail_msg("step %d (%s key %zu): key %zu should be %s", step, add ? "add" : "remove",
                         j, k, in[k] ? "present" : "absent");
    }
    assert_int_equal(s.cap, 1024);
    seen_release(&s);
}

static void test_zero_key(void **state)
{
    (void)state;
    /* The all-zero key is the empty-slot marker inside the table; as a key it must still
     * work like any other. */
    struct seen_set s;
    assert_int_equal(seen_init(&s, 0), 0);
    const struct hash128 zero = {0, 0};
    assert_false(seen_has(&s, zero));
    assert_int_equal(seen_add(&s, zero), 1);
    assert_true(seen_has(&s, zero));
    assert_int_equal(s.count, 1);
    assert_int_equal(seen_add(&s, zero), 0);
    assert_int_equal(s.count, 1);
    /* Neighbours of slot 0 and of the slot it is moved to stay independent. */
    const struct hash128 near[] = {{0, 2}, {0, 1023}, {1, 0}, {0, 1024}};
    for (size_t k = 0; k < ARRAY_SIZE(near); k++)
        assert_int_equal(seen_add(&s, near[k]), 1);
    assert_int_equal(s.count, 1 + ARRAY_SIZE(near));
    seen_remove(&s, zero);
    assert_false(seen_has(&s, zero));
    for (size_t k = 0; k < ARRAY_SIZE(near); k++)
        assert_true(seen_has(&s, near[k]));
    assert_int_equal(s.count, ARRAY_SIZE(near));
    assert_int_equal(seen_add(&s, zero), 1);
    assert_true(seen_has(&s, zero));
    seen_release(&s);
}

static void test_seen_key(void **state)
{
    (void)state;
    static const char id[] = "ajs-next-4a7b5b0e-2c1d-4f4e-9d2a-0d3c0f5e1b2a";
    const size_t n = sizeof(id) - 1;
    struct hash128 a = seen_key(1, id, n);
    assert_true(key_equal(a, seen_key(1, id, n))); /* deterministic */
    assert_false(a.hi == 0 && a.lo == 0);
    /* Only len bytes count; the buffer need not be NUL-terminated. */
    char copy[sizeof(id) + 8];
    memcpy(copy, id, n);
    memcpy(copy + n, "XXXXXXXX", 8);
    assert_true(key_equal(a, seen_key(1, copy, n)));
    assert_false(key_equal(a, seen_key(1, id, n - 1)));
    assert_false(key_equal(a, seen_key(1, "ajs-next-4a7b5b0e", 17)));

    /* The same messageId on different sources gives different keys, for many sources,
     * including 0 and negative ids. */
    enum { SOURCES = 2000 };
    struct seen_set s;
    assert_int_equal(seen_init(&s, SOURCES), 0);
    for (int64_t src = -10; src < SOURCES - 10; src++) {
        struct hash128 k = seen_key(src, id, n);
        if (seen_add(&s, k) != 1)
            fail_msg("source %" PRId64 " gives the key of another source", src);
        if (src != 1 && (k.hi == a.hi || k.lo == a.lo))
            fail_msg("source %" PRId64 " shares half a key with source 1", src);
    }
    seen_release(&s);
}

static void test_quarantine_key_space(void **state)
{
    (void)state;
    /* A quarantined message's key is not the key of the same messageId stored as an
     * event, on any source; it is deterministic and differs by source like seen_key. */
    struct seen_set s;
    assert_int_equal(seen_init(&s, 0), 0);
    for (uint64_t k = 0; k < 10000; k++) {
        char id[32];
        int n = snprintf(id, sizeof(id), "msg-%" PRIu64, k);
        int64_t src = (int64_t)(k % 7);
        struct hash128 ev = seen_key(src, id, (size_t)n);
        struct hash128 q = seen_key_quarantine(src, id, (size_t)n);
        assert_true(key_equal(q, seen_key_quarantine(src, id, (size_t)n)));
        assert_false(q.hi == 0 && q.lo == 0);
        if (seen_add(&s, ev) != 1 || seen_add(&s, q) != 1)
            fail_msg("%s on source %" PRId64 ": event and quarantine keys collide", id, src);
        assert_false(key_equal(q, seen_key_quarantine(src + 1, id, (size_t)n)));
    }
    assert_int_equal(s.count, 20000);
    seen_release(&s);
}

/* Prints seen_key(1, "m-1") as hex: the body of this binary's --print-key mode. */
static void print_key(FILE *out)
{
    struct hash128 k = seen_key(1, "m-1", 3);
    fprintf(out, "%016" PRIx64 "%016" PRIx64 "\n", k.hi, k.lo);
}

static void test_key_secret_differs_per_process(void **state)
{
    (void)state;
    /* Keys are keyed with a secret drawn at start-up (docs/internals/ingest.md), so that
     * a sender cannot aim ids at one probe chain: another run of this binary gets other
     * keys for the same input. (Under popen, /proc/self/exe would be the shell, so the
     * path is resolved here.) */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(len > 0);
    self[len] = 0;
    char cmd[4200], a[40] = {0}, b[40] = {0}, mine[40] = {0};
    snprintf(cmd, sizeof(cmd), "'%s' --print-key", self);
    for (int k = 0; k < 2; k++) {
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        assert_non_null(fgets(k ? b : a, 40, p));
        assert_int_equal(pclose(p), 0);
    }
    FILE *m = fmemopen(mine, sizeof(mine), "w");
    assert_non_null(m);
    print_key(m);
    fclose(m);
    assert_int_equal(strlen(a), 33);
    assert_int_equal(strlen(b), 33);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, mine);
    assert_string_not_equal(b, mine);
    /* Within one process it stays the same. */
    char again[40] = {0};
    m = fmemopen(again, sizeof(again), "w");
    assert_non_null(m);
    print_key(m);
    fclose(m);
    assert_string_equal(mine, again);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print-key") == 0) {
        print_key(stdout);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_has_remove),
        cmocka_unit_test(test_hint_sizes_the_table),
        cmocka_unit_test(test_growth_million),
        cmocka_unit_test(test_remove_random_half),
        cmocka_unit_test(test_remove_colliding_chains_wrap),
        cmocka_unit_test(test_zero_key),
        cmocka_unit_test(test_seen_key),
        cmocka_unit_test(test_quarantine_key_space),
        cmocka_unit_test(test_key_secret_differs_per_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
