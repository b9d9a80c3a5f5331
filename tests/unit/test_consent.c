/* test_consent.c - consent purposes and categories (built-in table, the setting over
 * it, errors), the decision in force (latest wins, across a profile, the ids merged
 * into it and its identifiers), consent_allows with the default; and the retention
 * setting's parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "core/config.h"
#include "privacy/consent.h"
#include "privacy/retention.h"

static char path[64];

static void test_purposes(void **state)
{
    (void)state;
    enum consent_purpose p;
    struct err e = {0};
    assert_int_equal(consent_purpose_parse("marketing", &p, &e), 0);
    assert_int_equal(p, PURPOSE_MARKETING);
    assert_int_equal(consent_purpose_parse("Third-Party", &p, &e), 0);
    assert_int_equal(p, PURPOSE_THIRD_PARTY);
    assert_int_equal(consent_purpose_parse("spam", &p, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "unknown purpose \"spam\""));
    assert_string_equal(consent_purpose_name(PURPOSE_PERSONALIZATION), "personalization");
}

static void test_categories(void **state)
{
    (void)state;
    cfg.consent_categories = NULL;
    assert_int_equal(consent_category_purpose("Advertising"), PURPOSE_MARKETING);
    assert_int_equal(consent_category_purpose("analytics"), PURPOSE_ANALYTICS);
    assert_int_equal(consent_category_purpose("Third Party Sharing"), PURPOSE_THIRD_PARTY);
    assert_int_equal(consent_category_purpose("functional"), PURPOSE_PERSONALIZATION);
    assert_int_equal(consent_category_purpose("Strictly Necessary"), -1);
    char spec[] = "crm_mail:marketing, advertising:analytics";
    cfg.consent_categories = spec;
    assert_int_equal(consent_category_purpose("CRM Mail"), PURPOSE_MARKETING);
    assert_int_equal(consent_category_purpose("Advertising"), PURPOSE_ANALYTICS); /* overridden */
    assert_int_equal(consent_category_purpose("targeting"), PURPOSE_MARKETING);   /* built in */
    cfg.consent_categories = NULL;
    struct err e = {0};
    assert_int_equal(consent_check_setting("", &e), 0);
    assert_int_equal(consent_check_setting("a:marketing,b:third_party", &e), 0);
    assert_int_equal(consent_check_setting("a", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "\"a\" is not CATEGORY:PURPOSE"));
    assert_int_equal(consent_check_setting("a:spam", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "spam"));
    assert_int_equal(consent_check_setting(":marketing", &e), ERR_INVALID);
}

static struct store *open_store(void)
{
    snprintf(path, sizeof(path), "/tmp/custos-test-consent-%d.db", (int)getpid());
    struct store *st = NULL;
    struct err e = {0};
    struct store_options opt = {.synchronous_full = false};
    assert_int_equal(store_open(path, &opt, &st, &e), 0);
    return st;
}

static void put(struct store *st, int64_t profile, const char *type, const char *value,
                const char *purpose, const char *status, int64_t time)
{
    struct err e = {0};
    struct consent_row c = {.profile_id = profile,
                            .identifier_type = type,
                            .identifier_value = value,
                            .purpose = purpose,
                            .status = status,
                            .time = time,
                            .source = "test"};
    assert_int_equal(st->ops->consent_put(st, &c, &e), 0);
    assert_true(c.id > 0);
}

static void test_state(void **state)
{
    (void)state;
    struct store *st = open_store();
    struct err e = {0};
    /* Profile 1 has u1 and an e-mail; profile 5 merged into it. */
    assert_int_equal(st->ops->identifier_put(st, 0, "user_id", "u1", 1, &e), 0);
    assert_int_equal(st->ops->identifier_put(st, 1, "email", "a@b.cn", 1, &e), 0);
    assert_int_equal(st->ops->identifier_put(st, 2, "user_id", "u2", 3, &e), 0);
    assert_int_equal(st->ops->profile_put(st, 1, 2, 0, 1, &e), 0);
    assert_int_equal(st->ops->profile_put(st, 3, 1, 0, 1, &e), 0);
    assert_int_equal(st->ops->profile_put(st, 5, 0, 0, 1, &e), 0);
    assert_int_equal(st->ops->profile_merge(st, 5, 1, "test", 2, &e), 0);

    put(st, 0, "user_id", "u1", "marketing", "granted", 100);
    put(st, 5, NULL, NULL, "marketing", "denied", 200);             /* the merged id, later */
    put(st, 0, "user_id", "u1", "analytics", "denied", 300);        /* an identifier's */
    put(st, 1, NULL, NULL, "analytics", "granted", 250);            /* earlier: not in force */
    put(st, 0, "user_id", "u2", "personalization", "granted", 400); /* someone else */

    int status[PURPOSE_COUNT];
    int64_t when[PURPOSE_COUNT];
    assert_int_equal(consent_state(st, 1, status, when, &e), 0);
    assert_int_equal(status[PURPOSE_MARKETING], 0);
    assert_int_equal(when[PURPOSE_MARKETING], 200);
    assert_int_equal(status[PURPOSE_ANALYTICS], 0);
    assert_int_equal(status[PURPOSE_PERSONALIZATION], -1);
    assert_int_equal(status[PURPOSE_THIRD_PARTY], -1);
    /* The merged-away id answers for the profile it joined. */
    assert_int_equal(consent_state(st, 5, status, NULL, &e), 0);
    assert_int_equal(status[PURPOSE_MARKETING], 0);

    char denied[] = "denied", granted[] = "granted";
    cfg.consent_default = denied;
    assert_int_equal(consent_allows(st, 1, PURPOSE_MARKETING), 0);
    assert_int_equal(consent_allows(st, 1, PURPOSE_PERSONALIZATION), 0);
    assert_int_equal(consent_allows(st, 3, PURPOSE_PERSONALIZATION), 1);
    cfg.consent_default = granted;
    assert_int_equal(consent_allows(st, 1, PURPOSE_PERSONALIZATION), 1);
    assert_int_equal(consent_allows(st, 1, PURPOSE_MARKETING), 0);
    assert_true(consent_allows(st, 42, PURPOSE_MARKETING) < 0); /* no such profile */
    cfg.consent_default = NULL;
    store_close(st);
    char p[80];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static void test_retention_parse(void **state)
{
    (void)state;
    struct retention_rule r[RETENTION_CATEGORIES];
    size_t n;
    struct err e = {0};
    assert_int_equal(
        retention_parse("events:365d, quarantine:30d,records:12h,consents:90m", r, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_string_equal(r[0].category, "events");
    assert_int_equal(r[0].max_age_ms, 365LL * 86400000);
    assert_string_equal(r[1].category, "quarantine");
    assert_int_equal(r[2].max_age_ms, 12LL * 3600000);
    assert_int_equal(r[3].max_age_ms, 90LL * 60000);
    assert_int_equal(retention_parse("events:1d,events:2s", r, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].max_age_ms, 2000);
    assert_int_equal(retention_parse("", r, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(retention_parse(NULL, r, &n, &e), 0);
    static const char *const bad[] = {
        "events",     "events:",   "events:d",   "events:10",
        "events:10y", "orders:1d", "events:-1d", "events:99999999999999999d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(retention_parse(bad[i], r, &n, &e), ERR_INVALID);
    assert_int_equal(retention_parse("orders:1d", r, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "events, quarantine, records or consents"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purposes),
        cmocka_unit_test(test_categories),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_retention_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
