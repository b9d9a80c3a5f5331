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
#include <sys/stat.h>
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

static void test_tokens(void **state)
{
    (void)state;
    unsigned char master[32], k1[32], k2[32];
    randombytes_buf(master, sizeof(master));
    crypt_derive_key(master, 1, k1);
    crypt_derive_key(master, 2, k2);
    assert_memory_not_equal(k1, k2, 32);
    unsigned char again[32];
    crypt_derive_key(master, 1, again);
    assert_memory_equal(k1, again, 32);

    const char *id = "11010519491231002X";
    char tok[256], tok2[256], out[64];
    size_t len = 0;
    assert_int_equal(crypt_encrypt_value(k1, 1, "id_number", id, strlen(id), tok, sizeof(tok)), 0);
    assert_true(crypt_is_token(tok));
    assert_int_equal(crypt_token_keyid(tok), 1);
    assert_null(strstr(tok, "1101051949"));
    assert_int_equal(crypt_decrypt_value(k1, "id_number", tok, out, sizeof(out), &len), 0);
    assert_int_equal(len, strlen(id));
    assert_string_equal(out, id);
    /* Random nonces: the same value twice gives two tokens. */
    assert_int_equal(crypt_encrypt_value(k1, 1, "id_number", id, strlen(id), tok2, sizeof(tok2)),
                     0);
    assert_string_not_equal(tok, tok2);
    /* Wrong key, wrong field, a flipped character, truncation: refused. */
    assert_int_equal(crypt_decrypt_value(k2, "id_number", tok, out, sizeof(out), &len),
                     ERR_INVALID);
    assert_int_equal(crypt_decrypt_value(k1, "phone", tok, out, sizeof(out), &len), ERR_INVALID);
    char bad[256];
    snprintf(bad, sizeof(bad), "%s", tok);
    size_t at = strlen(bad) - 5;
    bad[at] = bad[at] == 'A' ? 'B' : 'A';
    assert_int_equal(crypt_decrypt_value(k1, "id_number", bad, out, sizeof(out), &len),
                     ERR_INVALID);
    snprintf(bad, sizeof(bad), "%.20s", tok);
    assert_int_equal(crypt_decrypt_value(k1, "id_number", bad, out, sizeof(out), &len),
                     ERR_INVALID);
    assert_int_equal(crypt_decrypt_value(k1, "id_number", tok, out, 5, &len), ERR_LIMIT);
    assert_int_equal(crypt_encrypt_value(k1, 1, "id_number", id, strlen(id), tok, 20), ERR_LIMIT);
    assert_int_equal(crypt_encrypt_value(k1, 0, "id_number", id, strlen(id), tok, 256), ERR_LIMIT);
    assert_false(crypt_is_token("enc:v1:x:abc"));
    assert_false(crypt_is_token("enc:v1::abc"));
    assert_false(crypt_is_token("13800138000"));
    assert_int_equal(crypt_token_keyid("enc:v1:7:abc"), 7);
    /* An empty value is a token too. */
    assert_int_equal(crypt_encrypt_value(k1, 3, "name", "", 0, tok, sizeof(tok)), 0);
    assert_int_equal(crypt_decrypt_value(k1, "name", tok, out, sizeof(out), &len), 0);
    assert_int_equal(len, 0);
}

static void test_master_key(void **state)
{
    (void)state;
    unsigned char k[32], want[32];
    struct err e = {0};
    for (int i = 0; i < 32; i++)
        want[i] = (unsigned char)i;
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), want, 32);
    assert_int_equal(crypt_master_load(NULL, hex, k, &e), 0);
    assert_memory_equal(k, want, 32);
    char b64[64];
    sodium_bin2base64(b64, sizeof(b64), want, 32, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(crypt_master_load("/nonexistent", b64, k, &e), 0); /* env wins */
    assert_memory_equal(k, want, 32);
    assert_int_equal(crypt_master_load(NULL, "short", k, &e), ERR_INVALID);
    assert_null(strstr(e.msg, "short")); /* never the key in a message */
    assert_int_equal(crypt_master_load(NULL, NULL, k, &e), ERR_NOTFOUND);

    char file[64];
    snprintf(file, sizeof(file), "/tmp/custos-test-key-%d", (int)getpid());
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "  %s\n", hex);
    fclose(f);
    chmod(file, 0644);
    assert_int_equal(crypt_master_load(file, NULL, k, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "chmod 600"));
    chmod(file, 0600);
    memset(k, 0, sizeof(k));
    assert_int_equal(crypt_master_load(file, NULL, k, &e), 0);
    assert_memory_equal(k, want, 32);
    f = fopen(file, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(crypt_master_load(file, NULL, k, &e), ERR_INVALID);
    unlink(file);
    assert_int_equal(crypt_master_load(file, NULL, k, &e), ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blind_index),
        cmocka_unit_test_setup_teardown(test_key_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suppression, setup, teardown),
        cmocka_unit_test(test_message_identifiers),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_master_key),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
