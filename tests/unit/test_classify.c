/* test_classify.c - field classification: the built-in table (the classes the issue
 * names), folding of spellings, the setting overriding entries and "*", and errors that
 * name the entry at fault. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "privacy/classify.h"

static enum data_class cls(const char *spec, const char *field)
{
    return classify_with(spec, field, strlen(field));
}

static void test_builtin(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        enum data_class want;
    } cases[] = {
        {"id_number", CLASS_CORE_SENSITIVE},
        {"bank_card", CLASS_CORE_SENSITIVE},
        {"phone", CLASS_SENSITIVE},
        {"email", CLASS_SENSITIVE},
        {"name", CLASS_SENSITIVE},
        {"address", CLASS_SENSITIVE},
        {"birthday", CLASS_SENSITIVE},
        {"birth_date", CLASS_SENSITIVE},
        {"city", CLASS_INTERNAL},
        {"gender", CLASS_INTERNAL},
        {"favourite_colour", CLASS_INTERNAL}, /* named nowhere */
        /* spellings fold to one field */
        {"firstName", CLASS_SENSITIVE},
        {"First-Name", CLASS_SENSITIVE},
        {"ID_NUMBER", CLASS_CORE_SENSITIVE},
        {"idNumber", CLASS_CORE_SENSITIVE},
        {"wechat.openid", CLASS_SENSITIVE},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum data_class got = cls(NULL, cases[i].field);
        if (got != cases[i].want)
            fail_msg("%s: got %s, want %s", cases[i].field, data_class_name(got),
                     data_class_name(cases[i].want));
    }
}

static void test_setting(void **state)
{
    (void)state;
    const char *spec = "city:sensitive, loyalty_tier:public,*:sensitive,phone:core_sensitive";
    assert_int_equal(cls(spec, "city"), CLASS_SENSITIVE);
    assert_int_equal(cls(spec, "loyaltyTier"), CLASS_PUBLIC);
    assert_int_equal(cls(spec, "phone"), CLASS_CORE_SENSITIVE);
    assert_int_equal(cls(spec, "gender"), CLASS_INTERNAL); /* built-in beats "*" */
    assert_int_equal(cls(spec, "shoe_size"), CLASS_SENSITIVE);
    assert_int_equal(cls("city:public,city:sensitive", "city"), CLASS_SENSITIVE); /* last wins */
    assert_int_equal(cls("", "id_number"), CLASS_CORE_SENSITIVE);
}

static void test_errors(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(classify_check("", &e), 0);
    assert_int_equal(classify_check("phone:sensitive, city : internal ", &e), 0);
    assert_int_equal(classify_check("phone:secret", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "\"secret\" is not a class"));
    assert_int_equal(classify_check("phone", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "\"phone\" is not FIELD:CLASS"));
    assert_int_equal(classify_check(":public", &e), ERR_INVALID);
    assert_int_equal(classify_check("phone:", &e), ERR_INVALID);
    assert_string_equal(data_class_name(CLASS_CORE_SENSITIVE), "core-sensitive");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_setting),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
