/* test_crypt.c - keyed blind indexes and the suppression set built on them: equal
 * identifiers (written differently) meet, different ones and different keys do not,
 * the key is the database's own and survives a reopen, and a set reloads when another
 * connection adds to the list. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#include "privacy/crypt.h"
#include "privacy/dsr.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(path, sizeof(path), "/tmp/custos-test-crypt-%d.db", (int)getpid());
    unlink(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[80];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    return 0;
}

static struct store *open_store(void)
{
    struct store *st = NULL;
    struct err e = {0};
    struct store_options opt = {.synchronous_full = false};
    assert_int_equal(store_open(path, &opt, &st, &e), 0);
    return st;
}

static void test_blind_index(void **state)
{
    (void)state;
    unsigned char k1[CRYPT_KEY_BYTES], k2[CRYPT_KEY_BYTES];
    randombytes_buf(k1, sizeof(k1));
    randombytes_buf(k2, sizeof(k2));
    unsigned char a[32], b[32], c[32], d[32], plain[32];
    crypt_blind_index(k1, "email", "a@b.cn", 6, a);
    crypt_blind_index(k1, "email", "a@b.cn", 6, b);
    assert_memory_equal(a, b, 32);
    crypt_blind_index(k2, "email", "a@b.cn", 6, c);
    assert_memory_not_equal(a, c, 32); /* another database's key */
    crypt_blind_index(k1, "user_id", "a@b.cn", 6, d);
    assert_memory_not_equal(a, d, 32); /* the type is part of it */
    crypt_blind_index(k1, "emai", "la@b.cn", 7, d);
    assert_memory_not_equal(a, d, 32); /* the NUL keeps type and value apart */
    crypto_generichash(plain, 32, (const unsigned char *)"email\0a@b.cn", 12, NULL, 0);
    assert_memory_not_equal(a, plain, 32); /* keyed: not the plain hash */
}

static void test_key_kept(void **state)
{
    (void)state;
    struct err e = {0};
    unsigned char k1[32], k2[32];
    struct store *st = open_store();
    assert_int_equal(crypt_blind_key(st, k1, &e), 0);
    store_close(st);
    st = open_store();
    assert_int_equal(crypt_blind_key(st, k2, &e), 0);
    store_close(st);
    assert_memory_equal(k1, k2, 32);
    static const unsigned char zero[32];
    assert_memory_not_equal(k1, zero, 32);
}

static void suppress(struct store *st, const char *type, const char *std_value)
{
    unsigned char key[32], h[32];
    struct err e = {0};
    assert_int_equal(crypt_blind_key(st, key, &e), 0);
    crypt_blind_index(key, type, std_value, strlen(std_value), h);
    assert_int_equal(st->ops->suppression_add(st, h, type, 1, &e), 0);
}

static void test_suppression(void **state)
{
    (void)state;
    struct err e = {0};
    struct store *st = open_store();
    struct suppression *s = NULL;
    assert_int_equal(suppression_load(st, &s, &e), 0);
    assert_false(suppression_active(s));
    assert_false(suppression_active(NULL));
    assert_false(suppression_has(s, "email", "wang@qq.com", 11));

    /* Another connection erases someone: the set sees it after a refresh. */
    struct store *other = open_store();
    suppress(other, "email", "wang@qq.com");
    suppress(other, "phone", "+8613800131111");
    suppress(other, "email", "wang@qq.com"); /* again: kept once */
    store_close(other);
    assert_false(suppression_active(s));
    assert_int_equal(suppression_refresh(s, st, &e), 0);
    assert_true(suppression_active(s));

    assert_true(suppression_has(s, "email", " Wang@QQ.com ", 13)); /* standardized first */
    assert_true(suppression_has(s, "phone", "138 0013 1111", 13));
    assert_true(suppression_has(s, "phone", "+86-138-0013-1111", 17));
    assert_false(suppression_has(s, "phone", "13800131112", 11));
    assert_false(suppression_has(s, "user_id", "wang@qq.com", 11)); /* another type */
    assert_false(suppression_has(s, "phone", "not a phone", 11));

    cJSON *m = cJSON_Parse("{\"type\":\"track\",\"userId\":\"u9\",\"event\":\"x\","
                           "\"context\":{\"traits\":{\"phone\":\"13800131111\"}}}");
    assert_true(suppression_message(s, m));
    cJSON_Delete(m);
    m = cJSON_Parse("{\"type\":\"identify\",\"userId\":\"u9\",\"traits\":{\"email\":"
                    "\"WANG@qq.com\"}}");
    assert_true(suppression_message(s, m));
    cJSON_Delete(m);
    m = cJSON_Parse("{\"type\":\"track\",\"userId\":\"u9\",\"properties\":{\"email\":"
                    "\"wang@qq.com\"}}");
    assert_false(suppression_message(s, m)); /* properties carry no identifier */
    cJSON_Delete(m);
    assert_true(suppression_identifiers(s, "{\"crm_id\":\"C1\",\"email\":\"wang@qq.com\"}"));
    assert_false(suppression_identifiers(s, "{\"crm_id\":\"C1\"}"));
    assert_false(suppression_identifiers(s, "not json"));
    assert_false(suppression_identifiers(s, NULL));
    suppression_free(s);
    store_close(st);
}

static bool count_ids(const char *type, const char *value, void *ctx)
{
    (void)type;
    (void)value;
    (*(int *)ctx)++;
    return false;
}

static void test_message_identifiers(void **state)
{
    (void)state;
    cJSON *m = cJSON_Parse(
        "{\"type\":\"alias\",\"userId\":\"u1\",\"anonymousId\":\"a1\",\"previousId\":\"a0\","
        "\"traits\":{\"email\":\"e\",\"phone\":\"p\",\"id_number\":\"i\"},\"context\":{"
        "\"traits\":{\"wechat_openid\":\"o\",\"member_card\":\"m\"},\"device\":{\"id\":\"d\"}}}");
    int n = 0;
    assert_false(dsr_message_identifiers(m, count_ids, &n));
    assert_int_equal(n, 9);
    cJSON_Delete(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blind_index),
        cmocka_unit_test_setup_teardown(test_key_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suppression, setup, teardown),
        cmocka_unit_test(test_message_identifiers),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
