/* test_profile_cache.c - profile reads from memory: lookups by identifier, views with
 * their golden traits, a merged-away id redirecting, unknown ids, API keys; a
 * resolution committed on another connection becomes visible; and readers on several
 * threads keep answering while the index is rebuilt and swapped under them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "identity/profile_cache.h"

#define WAIT_MS 3000 /* the refresh polls every 100 ms; generous for sanitizers */

struct fixture {
    char dir[64], path[96];
    struct store *st; /* the "other process": writes as custos resolve would */
};

static void must(int rc, const struct err *e)
{
    if (rc)
        fail_msg("%s", e->msg);
}

/* One resolution: profile 1 (phone, e-mail) and profile 3 (a member card), unless
 * merged, when 3 joins 1. */
static void resolve(struct store *st, bool merged, int64_t now)
{
    struct err e = {0};
    must(st->ops->begin(st, &e), &e);
    must(st->ops->identity_clear(st, &e), &e);
    must(st->ops->identifier_put(st, 0, "phone", "+8613957104418", 1, &e), &e);
    must(st->ops->identifier_put(st, 1, "email", "li.na@example.cn", 1, &e), &e);
    must(st->ops->identifier_put(st, 2, "member_card", "M9", merged ? 1 : 3, &e), &e);
    must(st->ops->profile_put(st, 1, merged ? 3 : 2, 0, now, &e), &e);
    if (!merged)
        must(st->ops->profile_put(st, 3, 1, 0, now, &e), &e);
    else
        must(st->ops->profile_merge(st, 3, 1, "test", now, &e), &e);
    must(st->ops->commit(st, &e), &e);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-pcache-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/custos.db", f->dir);
    struct err e = {0};
    struct store_options opt = {.synchronous_full = false};
    must(store_open(f->path, &opt, &f->st, &e), &e);
    resolve(f->st, false, 1000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    char sh[128];
    snprintf(sh, sizeof(sh), "rm -rf %s", f->dir);
    assert_int_equal(system(sh), 0);
    free(f);
    return 0;
}

static struct profile_cache *cache_new(struct fixture *f)
{
    struct survivorship *s = malloc(sizeof(*s));
    struct err e = {0};
    must(survivorship_parse("*:most_recent", s, &e), &e);
    struct profile_cache *c = NULL;
    must(profile_cache_new(f->path, s, 10, &c, &e), &e);
    free(s);
    return c;
}

/* The view of id as JSON (NULL when ERR_NOTFOUND). */
static cJSON *view(struct profile_cache *c, int64_t id)
{
    char *body = NULL;
    size_t len = 0;
    struct err e = {0};
    int rc = profile_cache_view(c, id, &body, &len, &e);
    if (rc == ERR_NOTFOUND)
        return NULL;
    must(rc, &e);
    assert_int_equal(strlen(body), len);
    cJSON *v = cJSON_Parse(body);
    free(body);
    assert_non_null(v);
    return v;
}

static double num(const cJSON *v, const char *k)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItem(v, k));
}

static void test_reads(void **state)
{
    struct fixture *f = *state;
    struct profile_cache *c = cache_new(f);
    int64_t id = 0;
    assert_int_equal(profile_cache_find(c, "phone", "+8613957104418", &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(profile_cache_find(c, "member_card", "M9", &id), 0);
    assert_int_equal(id, 3);
    assert_int_equal(profile_cache_find(c, "email", "nobody@example.cn", &id), ERR_NOTFOUND);
    assert_int_equal(profile_cache_find(c, "phone", "M9", &id), ERR_NOTFOUND); /* type counts */
    cJSON *v = view(c, 1);
    assert_int_equal((int)num(v, "id"), 1);
    assert_null(cJSON_GetObjectItem(v, "redirected_from"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "identifiers")), 2);
    assert_non_null(cJSON_GetObjectItem(v, "traits"));
    cJSON_Delete(v);
    assert_null(view(c, 2)); /* an id no profile ever had */
    assert_null(view(c, 999));
    assert_null(view(c, 0));
    assert_null(view(c, -4));

    /* Another connection commits a resolution that merges 3 into 1. */
    resolve(f->st, true, 2000);
    int64_t t0 = time_now_ms();
    for (;;) {
        /* A view rendered on a miss may come from a newer state than the index it
         * lands in; wait for the index itself (the lookup) to see the merge. */
        v = view(c, 3);
        if (v && num(v, "id") == 1 && !profile_cache_find(c, "member_card", "M9", &id) && id == 1)
            break;
        cJSON_Delete(v);
        if (time_now_ms() - t0 > WAIT_MS)
            fail_msg("the merge was not seen within %d ms", WAIT_MS);
        usleep(20000);
    }
    assert_int_equal((int)num(v, "redirected_from"), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "identifiers")), 3);
    cJSON_Delete(v);
    assert_int_equal(profile_cache_find(c, "member_card", "M9", &id), 0);
    assert_int_equal(id, 1);
    profile_cache_free(c);
}

static void test_keys(void **state)
{
    struct fixture *f = *state;
    char key[API_KEY_CHARS + 1], bearer[64];
    struct api_key_identity who;
    int64_t kid;
    struct err e = {0};
    must(api_key_create(f->st, NULL, "analyst", -1, key, &kid, &e), &e);
    struct profile_cache *c = cache_new(f);
    snprintf(bearer, sizeof(bearer), "Bearer %s", key);
    assert_int_equal(profile_cache_authenticate(c, bearer, &who, &e), 0);
    assert_string_equal(who.role, "analyst");
    assert_int_equal(who.id, kid);
    assert_int_equal(profile_cache_authenticate(c, NULL, &who, &e), ERR_NOTFOUND);
    assert_int_equal(profile_cache_authenticate(c, "Bearer ck_nope", &who, &e), ERR_AUTH);
    must(f->st->ops->api_key_revoke(f->st, kid, time_now_ms(), &e), &e);
    int64_t t0 = time_now_ms();
    while (profile_cache_authenticate(c, bearer, &who, &e) == 0) {
        if (time_now_ms() - t0 > WAIT_MS)
            fail_msg("the revocation was not seen within %d ms", WAIT_MS);
        usleep(20000);
    }
    assert_int_equal(profile_cache_authenticate(c, bearer, &who, &e), ERR_AUTH);
    profile_cache_free(c);
}

struct reader {
    struct profile_cache *c;
    atomic_bool *stop;
    long reads, wrong;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(r->stop)) {
        char *body = NULL;
        size_t len;
        struct err e = {0};
        int64_t id = 0;
        if (profile_cache_find(r->c, "email", "li.na@example.cn", &id) || id != 1)
            r->wrong++;
        if (profile_cache_view(r->c, 3, &body, &len, &e))
            r->wrong++; /* 3 exists or redirects, in every state of the store */
        free(body);
        r->reads++;
    }
    return NULL;
}

static void test_readers_during_swaps(void **state)
{
    struct fixture *f = *state;
    struct profile_cache *c = cache_new(f);
    atomic_bool stop = false;
    struct reader r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct reader){.c = c, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
    }
    for (int k = 0; k < 8; k++) { /* eight resolutions, each a rebuild and a swap */
        resolve(f->st, k % 2, 3000 + k);
        usleep(150000);
    }
    atomic_store(&stop, true);
    long reads = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        reads += r[i].reads;
        assert_int_equal(r[i].wrong, 0);
    }
    assert_true(reads > 0);
    struct textbuf b = {0};
    profile_cache_metrics(c, &b);
    assert_non_null(strstr(b.p, "custos_profile_cache_builds_total "));
    assert_null(strstr(b.p, "custos_profile_cache_builds_total 0\n")); /* it did rebuild */
    textbuf_release(&b);
    profile_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_during_swaps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
