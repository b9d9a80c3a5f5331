/* test_seal.c - encryption at rest: which values of a message or record become tokens
 * (and that nothing else changes), that stored text opens back to the same JSON, that
 * identifiers of an encrypted class become blind indexes with a token of their clear
 * value, rotation to a new key version, and tokens that must not open. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "privacy/crypt.h"
#include "privacy/seal.h"

static unsigned char master[32], secret[32];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(master, sizeof(master));
    randombytes_buf(secret, sizeof(secret));
    return 0;
}

static char *sealed_message(const char *m)
{
    struct textbuf o = {0};
    if (!seal_message(m, strlen(m), &o))
        return NULL;
    assert_false(o.failed);
    return o.p;
}

/* Opens text and checks it is the same JSON as want. */
static void assert_opens_to(const char *text, const char *want)
{
    char *clear = NULL;
    size_t n = 0;
    assert_int_equal(seal_open_text(text, strlen(text), NULL, &clear, &n), 0);
    assert_non_null(clear);
    cJSON *a = cJSON_ParseWithLength(clear, n), *b = cJSON_Parse(want);
    assert_true(cJSON_Compare(a, b, true));
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(clear);
}

static void test_message_values(void **state)
{
    (void)state;
    seal_start_with(master, secret, 1, true);
    const char *m =
        "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"phone\":\"13800131111\","
        "\"city\":\"上海\",\"id_number\":\"11010519491231002X\",\"address\":{\"street\":"
        "\"1 Rd\"}},\"context\":{\"traits\":{\"email\":\"a@b.cn\"},\"page\":{\"name\":"
        "\"Home\"}},\"properties\":{\"products\":[{\"name\":\"Tea\"}],\"name\":\"王五\"}}";
    char *s = sealed_message(m);
    assert_non_null(s);
    assert_null(strstr(s, "13800131111"));
    assert_null(strstr(s, "11010519491231002X"));
    assert_null(strstr(s, "a@b.cn"));
    assert_null(strstr(s, "1 Rd"));
    assert_null(strstr(s, "王五"));
    assert_non_null(strstr(s, "\"city\":\"上海\"")); /* internal: clear */
    assert_non_null(strstr(s, "\"name\":\"Tea\""));  /* a product's name: clear */
    assert_non_null(strstr(s, "\"name\":\"Home\"")); /* context.page is not looked into */
    assert_non_null(strstr(s, "\"userId\":\"u1\""));
    assert_non_null(strstr(s, "\"phone\":\"enc:v1:1:"));
    assert_opens_to(s, m);
    free(s);
    /* nothing protected: not rewritten at all */
    assert_null(sealed_message("{\"type\":\"track\",\"event\":\"x\",\"properties\":{\"sku\":1}}"));
    seal_stop();
}

static void test_classes_setting(void **state)
{
    (void)state;
    seal_start_with(master, secret, 1, false); /* core-sensitive only */
    const char *m = "{\"traits\":{\"phone\":\"13800131111\",\"idCard\":\"11010519491231002X\"}}";
    char *s = sealed_message(m);
    assert_non_null(s);
    assert_non_null(strstr(s, "13800131111"));
    assert_null(strstr(s, "11010519491231002X"));
    free(s);
    seal_stop();
}

static void test_object_and_quarantine(void **state)
{
    (void)state;
    seal_start_with(master, secret, 1, true);
    const char *rec = "{\"crm_id\":\"C1\",\"phone\":\"+8613800131111\",\"bank_card\":null}";
    struct textbuf o = {0};
    assert_true(seal_object(rec, strlen(rec), &o));
    assert_null(strstr(o.p, "13800131111"));
    assert_non_null(strstr(o.p, "\"bank_card\":null"));
    assert_opens_to(o.p, rec);
    textbuf_release(&o);
    const char *junk = "not json 13800131111";
    assert_true(seal_quarantine(junk, strlen(junk), &o));
    assert_null(strstr(o.p, "13800131111"));
    char *clear = NULL;
    size_t n = 0;
    assert_int_equal(seal_open_text(o.p, o.len, NULL, &clear, &n), 0);
    assert_int_equal(n, strlen(junk));
    assert_memory_equal(clear, junk, n);
    free(clear);
    textbuf_release(&o);
    seal_stop();
}

static void test_identifiers(void **state)
{
    (void)state;
    seal_start_with(master, secret, 1, true);
    char a[128], b[128], tok[SEAL_TOKEN_CAP], clear[64];
    struct err e = {0};
    assert_int_equal(seal_identifier("phone", "+8613800131111", a, sizeof(a), tok), 0);
    assert_true(seal_is_blind(a));
    assert_int_equal(seal_identifier("phone", "+8613800131111", b, sizeof(b), NULL), 0);
    assert_string_equal(a, b); /* equal values, equal indexes: lookups find them */
    assert_int_equal(seal_identifier("email", "+8613800131111", b, sizeof(b), NULL), 0);
    assert_string_not_equal(a, b); /* the type is part of the index */
    assert_int_equal(seal_open_value("phone", tok, clear, sizeof(clear), "test", &e), 0);
    assert_string_equal(clear, "+8613800131111");
    /* a token moved to another field does not open */
    assert_int_equal(seal_open_value("email", tok, clear, sizeof(clear), "test", &e), ERR_INVALID);
    assert_int_equal(seal_identifier("user_id", "U1", b, sizeof(b), tok), 0);
    assert_string_equal(b, "U1"); /* internal: clear */
    assert_string_equal(tok, "");
    /* another database's secret gives other indexes */
    unsigned char other[32];
    randombytes_buf(other, sizeof(other));
    seal_start_with(master, other, 1, true);
    assert_int_equal(seal_identifier("phone", "+8613800131111", b, sizeof(b), NULL), 0);
    assert_string_not_equal(a, b);
    seal_stop();
}

static void test_rotation(void **state)
{
    (void)state;
    seal_start_with(master, secret, 1, true);
    const char *m = "{\"traits\":{\"phone\":\"13800131111\",\"email\":\"a@b.cn\"}}";
    char *s1 = sealed_message(m);
    seal_set_version(2);
    char *s2 = NULL;
    size_t n = 0, changed = 0;
    assert_int_equal(seal_rekey_text(s1, strlen(s1), NULL, &s2, &n, &changed), 0);
    assert_int_equal(changed, 2);
    assert_null(strstr(s2, "enc:v1:1:"));
    assert_non_null(strstr(s2, "enc:v1:2:"));
    assert_opens_to(s2, m);
    char *s3 = NULL;
    assert_int_equal(seal_rekey_text(s2, n, NULL, &s3, &n, &changed), 0);
    assert_null(s3); /* current already */
    /* a damaged token does not open: an error, not a crash; it stays as it is and the
     * other token still opens */
    char *p = strstr(s2, "enc:v1:2:") + 12;
    *p = *p == 'A' ? 'B' : 'A';
    char *clear = NULL;
    assert_int_equal(seal_open_text(s2, strlen(s2), NULL, &clear, &n), ERR_INVALID);
    assert_non_null(clear);
    assert_non_null(strstr(clear, "\"phone\":\"enc:v1:2:"));
    assert_non_null(strstr(clear, "\"email\":\"a@b.cn\""));
    free(clear);
    clear = NULL;
    /* another master key opens nothing */
    unsigned char other[32];
    randombytes_buf(other, sizeof(other));
    seal_start_with(other, secret, 2, true);
    assert_int_equal(seal_open_text(s1, strlen(s1), NULL, &clear, &n), ERR_INVALID);
    assert_null(clear); /* none opened */
    free(s1);
    free(s2);
    free(s3);
    seal_stop();
}

/* A client's text that only looks like a token, in a clear field, is data: views keep
 * it; in a sealed field (it cannot get there unsealed) it is an error. */
static void test_lookalike(void **state)
{
    (void)state;
    seal_start_with(master, secret, 1, true);
    cJSON *v = cJSON_Parse("{\"city\":\"enc:v1:1:AAAA\",\"id\":1}");
    struct err e = {0};
    assert_int_equal(seal_open_json(v, "profile 1", &e), 0);
    assert_string_equal(cJSON_GetObjectItem(v, "city")->valuestring, "enc:v1:1:AAAA");
    cJSON_Delete(v);
    v = cJSON_Parse("{\"identifiers\":[{\"type\":\"phone\",\"value\":\"enc:v1:1:AAAA\"}]}");
    assert_int_equal(seal_open_json(v, "profile 1", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "profile 1: the stored phone does not decrypt"));
    cJSON_Delete(v);
    seal_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_values),
        cmocka_unit_test(test_classes_setting),
        cmocka_unit_test(test_object_and_quarantine),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_lookalike),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
