/* test_identity_match.c - the probabilistic stage of resolve (resolve_match.h): trait
 * standardization, names that sound alike, and linking on a small world: duplicates
 * with no shared identifier are joined, namesakes and a limit are kept. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "identity/resolve_match.h"

static void test_names_sound_alike(void **state)
{
    (void)state;
    assert_true(rm_names_sound_alike("王晓明", "王小明"));
    assert_true(rm_names_sound_alike("李静", "李婧"));
    assert_true(rm_names_sound_alike("陈伟", "晨玮"));        /* every differing character */
    assert_false(rm_names_sound_alike("王晓明", "王晓明"));   /* equal is not "alike" */
    assert_false(rm_names_sound_alike("王晓明", "王晓红"));   /* ming / hong */
    assert_false(rm_names_sound_alike("王晓明", "王晓明明")); /* lengths differ */
    assert_false(rm_names_sound_alike("Wang", "Wong"));
}

static const char *text(const struct rm_traits *t, size_t i, int f)
{
    return t->pool && t->v[i].off[f] ? t->pool + t->v[i].off[f] : "";
}

static void test_traits_standardized(void **state)
{
    (void)state;
    struct rm_traits t = {0};
    assert_int_equal(rm_traits_add(&t, 0, " 王小明 ", "1988/9/3", "上海市", "男"), 0);
    assert_int_equal(rm_traits_add(&t, 1, "王女士", "19880903", "北京", "F"), 0);
    assert_int_equal(rm_traits_add(&t, 2, NULL, "1988-02-30", NULL, "unknown"), 0);
    assert_int_equal(rm_traits_add(&t, 3, "李娜", "1988年9月3日", " 上海 ", NULL), 0);
    assert_int_equal(t.n, 3); /* the third had nothing usable */
    assert_string_equal(text(&t, 0, RM_NAME), "王小明");
    assert_string_equal(text(&t, 0, RM_BIRTHDAY), "1988-09-03");
    assert_string_equal(text(&t, 0, RM_CITY), "上海");
    assert_string_equal(text(&t, 0, RM_GENDER), "male");
    assert_string_equal(text(&t, 1, RM_NAME), ""); /* a surname and a form of address */
    assert_string_equal(text(&t, 1, RM_BIRTHDAY), "1988-09-03");
    assert_string_equal(text(&t, 1, RM_GENDER), "female");
    assert_string_equal(text(&t, 2, RM_BIRTHDAY), "1988-09-03");
    assert_string_equal(text(&t, 2, RM_CITY), "上海");
    rm_traits_release(&t);
}

/* 300 people, each one group of the graph; the first 60 have a second group written
 * with a homophone in the name or the same name, the birth date in another format;
 * 5 namesakes with another birth date. */
static void test_links_duplicates_not_namesakes(void **state)
{
    (void)state;
    static const char *const sur[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"};
    static const char *const giv[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                      "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚"};
    static const char *const city[] = {"上海", "北京", "广州", "深圳", "杭州"};
    struct idgraph_rules rules;
    struct err e = {0};
    assert_int_equal(idgraph_rules_parse("crm_id:3", "", &rules, &e), 0);
    struct idgraph *g;
    assert_int_equal(idgraph_new(&rules, &g, &e), 0);
    struct rm_traits t = {0};
    char key[32], name[32], bd[16];
    int64_t first[300], second[60], namesake[5];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "C%d", i);
        first[i] = idgraph_add(g, &(struct ident){"crm_id", key}, 1, NULL);
        snprintf(name, sizeof(name), "%s%s%s", sur[i % 10], giv[(i / 10) % 20], giv[(i * 7) % 20]);
        snprintf(bd, sizeof(bd), "%d-%02d-%02d", 1960 + i % 40, 1 + i % 12, 1 + i % 28);
        assert_int_equal(rm_traits_add(&t, first[i], name, bd, city[i % 5], i % 2 ? "M" : "F"), 0);
    }
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "S%d", i);
        second[i] = idgraph_add(g, &(struct ident){"crm_id", key}, 1, NULL);
        snprintf(name, sizeof(name), "%s%s%s", sur[i % 10], giv[(i / 10) % 20],
                 i % 2                ? giv[(i * 7) % 20]
                 : (i * 7) % 20 == 15 ? "铭"
                                      : giv[(i * 7) % 20]);
        snprintf(bd, sizeof(bd), "%d%02d%02d", 1960 + i % 40, 1 + i % 12, 1 + i % 28);
        assert_int_equal(rm_traits_add(&t, second[i], name, bd, city[i % 5], i % 2 ? "男" : "女"),
                         0);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "N%d", i);
        namesake[i] = idgraph_add(g, &(struct ident){"crm_id", key}, 1, NULL);
        snprintf(name, sizeof(name), "%s%s%s", sur[i % 10], giv[(i / 10) % 20], giv[(i * 7) % 20]);
        assert_int_equal(rm_traits_add(&t, namesake[i], name, "1950-06-15", city[i % 5], NULL), 0);
    }
    struct rm_opts o = {0.99, 0.5};
    struct rm_result r;
    assert_int_equal(rm_run(g, &t, &o, &r, &e), 0);
    assert_true(r.fitted);
    int linked = 0;
    for (int i = 0; i < 60; i++)
        linked += idgraph_group(g, first[i]) == idgraph_group(g, second[i]);
    assert_int_equal(linked, 60);
    for (int i = 0; i < 5; i++)
        assert_int_not_equal(idgraph_group(g, first[i]), idgraph_group(g, namesake[i]));
    rm_result_release(&r);
    rm_traits_release(&t);
    idgraph_free(g);
    idgraph_rules_release(&rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_sound_alike),
        cmocka_unit_test(test_traits_standardized),
        cmocka_unit_test(test_links_duplicates_not_namesakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
