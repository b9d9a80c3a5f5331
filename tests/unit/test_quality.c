/* test_quality.c - data quality: which values pass validity, and quality_report on a
 * small store with known completeness, validity, duplicates, freshness and alerts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <unistd.h>

#include "govern/quality.h"

#define HOUR_MS 3600000LL

static void test_value_valid(void **state)
{
    (void)state;
    static const struct {
        const char *field, *value;
        int want;
    } cases[] = {
        {"identifiers.phone", "139 5710 4418", 1},
        {"identifiers.phone", "+86 138 0013 1111", 1},
        {"identifiers.phone", "13800000000", 0}, /* placeholder */
        {"identifiers.phone", "138****8000", 0}, /* masked */
        {"traits.phone", "abc", 0},
        {"identifiers.email", " Li.Hua@QQ.com", 1},
        {"identifiers.email", "test@test.com", 0}, /* placeholder */
        {"email", "no at sign", 0},
        {"identifiers.id_number", "11010519491231002X", 1}, /* GB 11643-1999's example */
        {"identifiers.id_number", "110105194912310021", 0}, /* wrong check character */
        {"traits.city", "上海", -1},
        {"identifiers.member_card", "M001", -1},
        {"userId", "U-1", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = quality_value_valid(cases[i].field, cases[i].value, strlen(cases[i].value));
        if (got != cases[i].want)
            fail_msg("%s \"%s\": %d, want %d", cases[i].field, cases[i].value, got, cases[i].want);
    }
}

static const cJSON *find(const cJSON *array, const char *key, const char *value)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, array)
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, key)), value) == 0)
            return it;
    }
    fail_msg("no %s %s", key, value);
    return NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_report(void **state)
{
    (void)state;
    char dir[] = "/tmp/custos-test-quality-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/custos.db", dir);
    struct store *st;
    struct err e = {0};
    struct store_options opt = {.synchronous_full = false};
    if (store_open(path, &opt, &st, &e))
        fail_msg("store_open: %s", e.msg);
    unsigned char key[32] = {1};
    int64_t src;
    assert_int_equal(st->ops->source_add(st, "crm", key, "k", NULL, &src, &e), 0);
    int64_t now = 1700000000000LL;
    /* Four contacts, all 72 hours old: e-mail on two (the same, valid), "" on one;
     * a placeholder phone on one; a trait on three. */
    static const char *const ids[] = {"{\"email\":\"li.hua@qq.com\"}",
                                      "{\"email\":\"li.hua@qq.com\",\"phone\":\"13800000000\"}",
                                      "{\"email\":\"  \"}", NULL};
    static const char *const traits[] = {"{\"city\":\"x\"}", "{\"city\":\"x\"}", "{\"city\":\"y\"}",
                                         "{\"city\":null}"};
    for (int i = 0; i < 4; i++) {
        char rk[16];
        snprintf(rk, sizeof(rk), "C%d", i);
        struct import_row r = {.source_id = src,
                               .kind = "contact",
                               .record_key = rk,
                               .file = "crm.csv",
                               .line = i + 2,
                               .hash = (uint64_t)i,
                               .time = now - 72 * HOUR_MS,
                               .identifiers = ids[i],
                               .traits = traits[i],
                               .imported_at = now};
        if (st->ops->record_put(st, &r, &e))
            fail_msg("record_put: %s", e.msg);
    }
    struct quality_thresholds th = {.min_completeness = 50,
                                    .min_validity = 90,
                                    .max_age_hours = 48,
                                    .max_duplicate_before = 100,
                                    .max_duplicate_after = 100};
    void *rep = NULL;
    if (quality_report(st, &th, now, &rep, &e))
        fail_msg("quality_report: %s", e.msg);
    /* Uniqueness thresholds: the e-mail shared by two of its two rows (100%) is past a
     * 99% limit before resolution; nothing is resolved, so no "after" alert. */
    struct quality_thresholds dup = {.min_completeness = 0,
                                     .min_validity = 0,
                                     .max_age_hours = 1000,
                                     .max_duplicate_before = 99,
                                     .max_duplicate_after = 0};
    void *rep2 = NULL;
    if (quality_report(st, &dup, now, &rep2, &e))
        fail_msg("quality_report: %s", e.msg);
    store_close(st);
    const cJSON *alerts2 = cJSON_GetObjectItem(rep2, "alerts");
    assert_int_equal(cJSON_GetArraySize(alerts2), 1);
    const cJSON *da = cJSON_GetArrayItem(alerts2, 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(da, "measure")), "duplicate_rate");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(da, "field")),
                        "identifiers.email");
    assert_true(num(da, "value") == 100.0 && num(da, "threshold") == 99.0);
    struct textbuf b = {0};
    quality_metrics(rep2, &b);
    assert_false(b.failed);
    assert_non_null(strstr(b.p,
                           "custos_quality_duplicate_percent{source=\"crm\",origin=\"records\","
                           "field=\"identifiers.email\"} 100.0\n"));
    assert_non_null(strstr(b.p, "custos_quality_alert{source=\"crm\",origin=\"records\",field="
                                "\"identifiers.email\",measure=\"duplicate_rate\"} 1.0\n"));
    assert_non_null(strstr(b.p, "custos_quality_alerts 1\n"));
    assert_null(strstr(b.p, "li.hua"));
    textbuf_release(&b);
    cJSON_Delete(rep2);
    const cJSON *s = find(cJSON_GetObjectItem(rep, "sources"), "origin", "records");
    assert_int_equal((int)num(s, "rows"), 4);
    assert_int_equal((int)num(s, "age_hours"), 72);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(s, "duplicate_rate_after"))); /* unresolved */
    const cJSON *fields = cJSON_GetObjectItem(s, "fields");
    const cJSON *email = find(fields, "field", "identifiers.email");
    assert_int_equal((int)num(email, "present"), 2); /* white space is not a value */
    assert_true(num(email, "completeness") == 50.0);
    assert_true(num(email, "validity") == 100.0);
    assert_true(num(email, "duplicate_rate") == 100.0);
    const cJSON *phone = find(fields, "field", "identifiers.phone");
    assert_true(num(phone, "completeness") == 25.0);
    assert_true(num(phone, "validity") == 0.0);
    const cJSON *city = find(fields, "field", "traits.city");
    assert_true(num(city, "completeness") == 75.0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(city, "validity")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(city, "duplicate_rate")));
    /* Alerts: freshness (72 > 48), phone completeness (25 < 50) and validity (0 < 90);
     * e-mail at exactly 50% is not below the threshold. */
    const cJSON *alerts = cJSON_GetObjectItem(rep, "alerts");
    assert_int_equal(cJSON_GetArraySize(alerts), 3);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(find(alerts, "measure", "freshness"), "field")));
    const cJSON *a;
    cJSON_ArrayForEach(a, alerts)
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "measure")), "freshness") != 0)
            assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(a, "field")),
                                "identifiers.phone");
    }
    cJSON_Delete(rep);
    char sh[128];
    snprintf(sh, sizeof(sh), "rm -rf %s", dir);
    assert_int_equal(system(sh), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_valid),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
