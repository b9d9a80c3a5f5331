/* test_policy.c - the role policy: the default table, the setting overriding entries
 * and its errors, and the masking pass over a profile view and a Segment message
 * (identifiers by type, traits by name, nested members, hidden values removed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "privacy/policy.h"

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *role;
        enum policy_action want[CLASS_COUNT];
    } rows[] = {
        {"admin", {POLICY_CLEAR, POLICY_CLEAR, POLICY_CLEAR, POLICY_CLEAR}},
        {"analyst", {POLICY_CLEAR, POLICY_CLEAR, POLICY_MASKED, POLICY_HIDDEN}},
        {"marketing", {POLICY_CLEAR, POLICY_CLEAR, POLICY_MASKED, POLICY_HIDDEN}},
        {"service", {POLICY_CLEAR, POLICY_CLEAR, POLICY_CLEAR, POLICY_MASKED}},
        {"risk", {POLICY_CLEAR, POLICY_CLEAR, POLICY_MASKED, POLICY_CLEAR}},
        {"nobody", {POLICY_CLEAR, POLICY_HIDDEN, POLICY_HIDDEN, POLICY_HIDDEN}},
    };
    for (size_t r = 0; r < ARRAY_SIZE(rows); r++)
        for (int c = 0; c < CLASS_COUNT; c++) {
            enum policy_action got = policy_with(NULL, rows[r].role, (enum data_class)c);
            if (got != rows[r].want[c])
                fail_msg("%s/%s: got %s, want %s", rows[r].role,
                         data_class_name((enum data_class)c), policy_action_name(got),
                         policy_action_name(rows[r].want[c]));
        }
    const char *spec = "marketing:sensitive:hidden, service:core_sensitive:hidden";
    assert_int_equal(policy_with(spec, "marketing", CLASS_SENSITIVE), POLICY_HIDDEN);
    assert_int_equal(policy_with(spec, "service", CLASS_CORE_SENSITIVE), POLICY_HIDDEN);
    assert_int_equal(policy_with(spec, "analyst", CLASS_SENSITIVE), POLICY_MASKED);
}

static void test_check(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(policy_check("", &e), 0);
    assert_int_equal(policy_check("risk:sensitive:clear", &e), 0);
    assert_int_equal(policy_check("boss:sensitive:clear", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "boss"));
    assert_int_equal(policy_check("risk:secret:clear", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "secret"));
    assert_int_equal(policy_check("risk:sensitive:blurred", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "clear, masked or hidden"));
    assert_int_equal(policy_check("risk:sensitive", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "ROLE:CLASS:ACTION"));
}

static const char view[] =
    "{\"id\":7,\"identifiers\":[{\"type\":\"phone\",\"value\":\"+8613812345678\"},"
    "{\"type\":\"email\",\"value\":\"zhang.san@qq.com\"},"
    "{\"type\":\"id_number\",\"value\":\"11010519491231002X\"},"
    "{\"type\":\"user_id\",\"value\":\"u-1\"}],"
    "\"trait_records\":[{\"source\":\"crm\",\"traits\":{\"name\":\"王小明\",\"city\":\"北京\","
    "\"birthday\":\"1990-05-17\",\"address\":{\"street\":\"建国路88号\",\"zip\":\"100022\"}}}],"
    "\"recent_events\":[{\"source\":\"web\",\"type\":\"track\",\"event\":\"Order Completed\"}]}";

static char *masked(const char *role, struct policy_stats *st)
{
    cJSON *v = cJSON_Parse(view);
    assert_non_null(v);
    assert_int_equal(policy_apply_with(v, NULL, NULL, role, st), 0);
    char *t = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    return t;
}

static void test_apply(void **state)
{
    (void)state;
    struct policy_stats st;
    char *t = masked("admin", &st);
    assert_non_null(strstr(t, "\"+8613812345678\""));
    assert_non_null(strstr(t, "11010519491231002X"));
    assert_int_equal(st.masked + st.hidden, 0);
    assert_true(st.clear_sensitive >= 6);
    assert_non_null(strstr(st.fields, "phone"));
    assert_non_null(strstr(st.fields, "id_number"));
    cJSON_free(t);

    t = masked("analyst", &st);
    assert_non_null(strstr(t, "\"138****5678\""));
    assert_non_null(strstr(t, "\"z***@qq.com\""));
    assert_non_null(strstr(t, "\"王**\""));
    assert_non_null(strstr(t, "\"1990-**-**\""));
    assert_non_null(strstr(t, "\"北京\"")); /* internal: clear */
    assert_non_null(strstr(t, "\"u-1\""));  /* internal identifier: clear */
    assert_null(strstr(t, "id_number"));    /* core-sensitive identifier: gone */
    assert_null(strstr(t, "1101"));
    assert_null(strstr(t, "建国路")); /* inside a sensitive container */
    assert_null(strstr(t, "100022"));
    assert_non_null(strstr(t, "Order Completed"));
    assert_int_equal(st.clear_sensitive, 0);
    assert_int_equal(st.hidden, 1);
    cJSON_free(t);

    t = masked("service", &st);
    assert_non_null(strstr(t, "\"+8613812345678\""));
    assert_non_null(strstr(t, "\"1101**********002X\""));
    cJSON_free(t);

    t = masked("risk", &st);
    assert_non_null(strstr(t, "\"138****5678\""));
    assert_non_null(strstr(t, "\"11010519491231002X\""));
    cJSON_free(t);
}

static void test_message(void **state)
{
    (void)state;
    /* A Segment message: traits, context.traits, a number where a phone was. */
    cJSON *m = cJSON_Parse("{\"type\":\"identify\",\"userId\":\"u-9\",\"traits\":{\"email\":"
                           "\"li.lei@163.com\",\"phone\":13812345678,\"idNumber\":"
                           "\"110105194912310021\"},\"context\":{\"ip\":\"10.1.2.3\","
                           "\"traits\":{\"firstName\":\"Lei\"},\"library\":{\"name\":"
                           "\"analytics-node\"}},\"properties\":{\"products\":[{\"name\":"
                           "\"Green Tea\"}],\"name\":\"Han Meimei\"}}");
    struct policy_stats st;
    assert_int_equal(policy_apply_with(m, NULL, NULL, "marketing", &st), 0);
    char *t = cJSON_PrintUnformatted(m);
    assert_non_null(strstr(t, "\"l***@163.com\""));
    assert_non_null(strstr(t, "\"138****5678\""));
    assert_non_null(strstr(t, "\"L**\""));
    assert_null(strstr(t, "idNumber"));
    assert_null(strstr(t, "10.1.2.3"));
    assert_non_null(strstr(t, "\"u-9\""));
    assert_non_null(strstr(t, "\"analytics-node\"")); /* a library's name: clear */
    assert_non_null(strstr(t, "\"Green Tea\""));      /* a product's name: clear */
    assert_non_null(strstr(t, "\"H** M*****\""));     /* a person's name: masked */
    cJSON_free(t);
    cJSON_Delete(m);
    /* the classification setting is honoured: city made core-sensitive */
    m = cJSON_Parse("{\"city\":\"上海\"}");
    assert_int_equal(policy_apply_with(m, NULL, "city:core-sensitive", "analyst", &st), 0);
    assert_null(cJSON_GetObjectItem(m, "city"));
    cJSON_Delete(m);
}

static void test_answer_text(void **state)
{
    (void)state;
    /* A rendered answer, masked for an analyst: no audit entry is needed (nothing
     * clear), so no store is touched. */
    char *body = strdup(view);
    size_t len = strlen(body);
    struct err e = {0};
    assert_int_equal(policy_answer_text(NULL, &body, &len, "analyst", "key:x", "profile:7", &e), 0);
    assert_int_equal(len, strlen(body));
    assert_non_null(strstr(body, "\"138****5678\""));
    assert_null(strstr(body, "1101"));
    free(body);
    body = strdup("not json");
    len = strlen(body);
    assert_int_equal(policy_answer_text(NULL, &body, &len, "analyst", "key:x", "p", &e),
                     ERR_INVALID);
    assert_string_equal(body, "not json");
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_check),
        cmocka_unit_test(test_apply),       cmocka_unit_test(test_message),
        cmocka_unit_test(test_answer_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
