/* test_survivorship.c - survivorship rules: parsing the setting, and which candidate
 * each rule chooses (ties, missing times, unknown sources, empty values), then the
 * traits section added to a profile view. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>

#include "identity/survivorship.h"

#define NO_TIME INT64_MIN

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
        const char *trait, *want_rule; /* the rule text of trait when ok */
    } cases[] = {
        {"name:source_priority(crm,pos,web),email:most_recent,city:most_frequent,*:most_recent", 1,
         "name", "source_priority(crm,pos,web)"},
        {"name:source_priority(crm,pos,web),city:most_frequent", 1, "city", "most_frequent"},
        {" name : source_priority( crm , pos ) ", 1, "name", "source_priority(crm,pos)"},
        {"*:most_frequent", 1, "anything", "most_frequent"},
        {"", 1, "name", "most_recent"},
        {"city:most_frequent,,", 1, "name", "most_recent"},
        {"name:newest", 0, NULL, NULL},
        {"name", 0, NULL, NULL},
        {"name:source_priority", 0, NULL, NULL},
        {"name:source_priority()", 0, NULL, NULL},
        {"name:source_priority(crm,,web)", 0, NULL, NULL},
        {"name:source_priority(crm", 0, NULL, NULL},
        {"name:most_recent)", 0, NULL, NULL},
        {"name:most_recent,name:most_frequent", 0, NULL, NULL},
        {":most_recent", 0, NULL, NULL},
        {"name:most_recent(crm)", 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct survivorship *s = malloc(sizeof(*s));
        struct err e = {0};
        int rc = survivorship_parse(cases[i].text, s, &e);
        if ((rc == 0) != cases[i].ok)
            fail_msg("\"%s\": rc %d (%s), want %s", cases[i].text, rc, e.msg,
                     cases[i].ok ? "ok" : "an error");
        if (!rc && cases[i].ok) {
            char text[SURV_RULE_TEXT];
            survivorship_rule_text(survivorship_rule(s, cases[i].trait), text, sizeof(text));
            assert_string_equal(text, cases[i].want_rule);
        } else {
            assert_true(strncmp(e.msg, "survivorship: ", 14) == 0);
        }
        free(s);
    }
}

struct choose_case {
    const char *what, *rule;
    struct surv_candidate c[5];
    size_t n;
    ptrdiff_t want;
};

static void test_choose(void **state)
{
    (void)state;
    static const struct choose_case cases[] = {
        {"most recent: the latest time",
         "t:most_recent",
         {{"a", "crm", 100, 1}, {"b", "pos", 300, 2}, {"c", "web", 200, 3}},
         3,
         1},
        {"most recent: a tie in time goes to the later record",
         "t:most_recent",
         {{"a", "crm", 100, 5}, {"b", "pos", 100, 2}},
         2,
         0},
        {"most recent: no time loses to any time",
         "t:most_recent",
         {{"a", "crm", NO_TIME, 9}, {"b", "pos", 1, 1}},
         2,
         1},
        {"most recent: all without time: the later record",
         "t:most_recent",
         {{"a", "crm", NO_TIME, 1}, {"b", "pos", NO_TIME, 2}},
         2,
         1},
        {"most recent: an empty value is never golden",
         "t:most_recent",
         {{"a", "crm", 100, 1}, {"  ", "pos", 300, 2}, {NULL, "web", 400, 3}},
         3,
         0},
        {"nothing but empty values: none", "t:most_recent", {{"", "crm", 1, 1}}, 1, -1},
        {"no candidates: none", "t:most_frequent", {{0}}, 0, -1},
        {"source priority: the first listed source wins over a newer one",
         "t:source_priority(crm,pos,web)",
         {{"web", "web", 300, 3}, {"pos", "pos", 200, 2}, {"crm", "crm", 100, 1}},
         3,
         2},
        {"source priority: the next source when the first has none",
         "t:source_priority(crm,pos,web)",
         {{"web", "web", 300, 3}, {"pos", "pos", 200, 2}},
         2,
         1},
        {"source priority: unknown sources come after listed ones",
         "t:source_priority(crm,pos)",
         {{"app", "app", 900, 3}, {"pos", "pos", 100, 1}},
         2,
         1},
        {"source priority: only unknown sources: the most recent of them",
         "t:source_priority(crm)",
         {{"app", "app", 100, 1}, {"mp", "mini", 900, 2}},
         2,
         1},
        {"source priority: two from one source: the most recent",
         "t:source_priority(crm)",
         {{"old", "crm", 100, 1}, {"new", "crm", 200, 2}, {"web", "web", 300, 3}},
         3,
         1},
        {"source priority: the first source's empty value is skipped",
         "t:source_priority(crm)",
         {{"", "crm", 300, 3}, {"web", "web", 100, 1}},
         2,
         1},
        {"most frequent: the value most candidates carry",
         "t:most_frequent",
         {{"Shanghai", "crm", 100, 1}, {"Beijing", "pos", 400, 4}, {"Shanghai", "web", 200, 2}},
         3,
         2},
        {"most frequent: a tie goes to the value seen most recently",
         "t:most_frequent",
         {{"A", "crm", 100, 1}, {"B", "pos", 300, 3}, {"A", "web", 200, 2}, {"B", "web", 50, 4}},
         4,
         1},
        {"most frequent: empty values are not counted",
         "t:most_frequent",
         {{"", "crm", 1, 1}, {"", "crm", 2, 2}, {"X", "pos", 0, 3}},
         3,
         2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct survivorship *s = malloc(sizeof(*s));
        struct err e = {0};
        assert_int_equal(survivorship_parse(cases[i].rule, s, &e), 0);
        ptrdiff_t got = survivorship_choose(survivorship_rule(s, "t"), cases[i].c, cases[i].n);
        free(s);
        if (got != cases[i].want)
            fail_msg("%s: chose %td, want %td", cases[i].what, got, cases[i].want);
    }
}

static void test_apply(void **state)
{
    (void)state;
    /* trait_records come newest first, as the store orders them. */
    const char *view_text =
        "{\"id\":1,\"trait_records\":["
        "{\"source\":\"web\",\"kind\":\"contact\",\"record_key\":\"W1\",\"file\":\"w.csv\","
        "\"line\":2,\"time\":3000,\"imported_at\":9000,\"traits\":{\"name\":\"Wang X\","
        "\"city\":\"Beijing\"}},"
        "{\"source\":\"crm\",\"kind\":\"contact\",\"record_key\":\"C1\",\"file\":\"c.csv\","
        "\"line\":2,\"time\":null,\"imported_at\":1000,\"traits\":{\"name\":\"Wang Xiaoming\","
        "\"city\":\"Shanghai\",\"tier\":3}},"
        "{\"source\":\"pos\",\"kind\":\"order\",\"record_key\":\"P1\",\"file\":\"p.csv\","
        "\"line\":5,\"time\":500,\"imported_at\":800,\"traits\":{\"city\":\"Shanghai\"}}]}";
    cJSON *v = cJSON_Parse(view_text);
    assert_non_null(v);
    struct survivorship *s = malloc(sizeof(*s));
    struct err e = {0};
    assert_int_equal(survivorship_parse("name:source_priority(crm,web),city:most_frequent", s, &e),
                     0);
    assert_int_equal(survivorship_apply(s, v), 0);
    free(s);
    const cJSON *traits = cJSON_GetObjectItem(v, "traits");
    assert_int_equal(cJSON_GetArraySize(traits), 2); /* tier is a number: not a candidate */
    const cJSON *city = cJSON_GetArrayItem(traits, 0), *name = cJSON_GetArrayItem(traits, 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(city, "name")), "city");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(city, "value")), "Shanghai");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(city, "rule")), "most_frequent");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(city, "candidates")), 3);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(name, "value")), "Wang Xiaoming");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(name, "chosen")), 1);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(name, "candidates"), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(c, "source")), "crm");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(c, "record_key")), "C1");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "time")));
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(c, "imported_at")), 1000);
    cJSON_Delete(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
