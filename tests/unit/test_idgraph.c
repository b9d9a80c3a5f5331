/* test_idgraph.c - the identity graph's rules: links, limits, blocked values, stable
 * group names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "identity/graph.h"

static struct idgraph *new_graph(struct idgraph_rules *r)
{
    struct err e = {0};
    assert_int_equal(idgraph_rules_parse("id_number:1,user_id:1,member_card:2,email:5,phone:3,"
                                         "anonymous_id:0",
                                         "null,test@test.com,+8613800000000", r, &e),
                     0);
    struct idgraph *g = NULL;
    assert_int_equal(idgraph_new(r, &g, &e), 0);
    return g;
}

#define ADD(g, ...)                                                                                \
    idgraph_add(g, (const struct ident[]){__VA_ARGS__},                                            \
                sizeof((const struct ident[]){__VA_ARGS__}) / sizeof(struct ident), &refused)

static void test_records_sharing_an_identifier_link(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    int64_t a = ADD(g, {"anonymous_id", "anon-1"}, {"email", "a@x.cn"});
    int64_t b = ADD(g, {"user_id", "U1"}, {"email", "a@x.cn"});
    int64_t c = ADD(g, {"user_id", "U1"}, {"phone", "+8613912345678"});
    int64_t d = ADD(g, {"user_id", "U2"});
    assert_int_equal(idgraph_group(g, a), idgraph_group(g, b));
    assert_int_equal(idgraph_group(g, b), idgraph_group(g, c));
    assert_int_not_equal(idgraph_group(g, a), idgraph_group(g, d));
    assert_int_equal(refused, 0);
    /* the group is named after its smallest node: the first identifier seen */
    assert_int_equal(idgraph_group(g, c), 0);
    idgraph_free(g);
    idgraph_rules_release(&r);
}

static void test_junk_values_never_link(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    int64_t a = ADD(g, {"user_id", "U1"}, {"email", "test@test.com"}, {"phone", "+8613800000000"});
    int64_t b = ADD(g, {"user_id", "U2"}, {"email", "test@test.com"}, {"phone", "+8613800000000"});
    int64_t c = ADD(g, {"email", "null"});
    assert_int_not_equal(idgraph_group(g, a), idgraph_group(g, b));
    assert_int_equal(c, -1); /* nothing usable: no group */
    assert_int_equal(idgraph_find(g, "email", "test@test.com"), -1);
    idgraph_free(g);
    idgraph_rules_release(&r);
}

static void test_shared_family_phone_does_not_merge_two_people(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    /* Mother and son, each with a user id; the home phone is on both. */
    int64_t mother = ADD(g, {"user_id", "U-mother"}, {"phone", "+8613512345678"});
    int64_t son = ADD(g, {"user_id", "U-son"}, {"phone", "+8613512345678"});
    assert_int_not_equal(idgraph_group(g, mother), idgraph_group(g, son));
    assert_int_equal(refused, 1);
    /* The son's record joins his own user id's group (highest priority first). */
    assert_int_equal(idgraph_group(g, son), idgraph_group(g, idgraph_find(g, "user_id", "U-son")));
    idgraph_free(g);
    idgraph_rules_release(&r);
}

static void test_limits_per_type(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    int64_t p = ADD(g, {"user_id", "U1"}, {"phone", "+8613000000001"});
    ADD(g, {"user_id", "U1"}, {"phone", "+8613000000002"});
    ADD(g, {"user_id", "U1"}, {"phone", "+8613000000003"});
    assert_int_equal(refused, 0);
    ADD(g, {"user_id", "U1"}, {"phone", "+8613000000004"}); /* a fourth phone: over 3 */
    assert_int_equal(refused, 1);
    int64_t fourth = idgraph_find(g, "phone", "+8613000000004");
    assert_true(fourth >= 0);
    assert_int_not_equal(idgraph_group(g, fourth), idgraph_group(g, p));
    /* two resident ID numbers cannot be one person */
    int64_t x = ADD(g, {"id_number", "11010519491231002X"}, {"email", "x@x.cn"});
    int64_t y = ADD(g, {"id_number", "110105194912310039"}, {"email", "x@x.cn"});
    assert_int_not_equal(idgraph_group(g, x), idgraph_group(g, y));
    idgraph_free(g);
    idgraph_rules_release(&r);
}

static void test_merge_keeps_the_smaller_name(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    int64_t a = ADD(g, {"email", "a@x.cn"});
    int64_t b = ADD(g, {"email", "b@x.cn"});
    assert_int_equal(idgraph_group(g, a), 0);
    assert_int_equal(idgraph_group(g, b), 1);
    ADD(g, {"email", "b@x.cn"}, {"email", "a@x.cn"}); /* a record with both */
    assert_int_equal(idgraph_group(g, b), 0);         /* profile 1 now redirects to 0 */
    idgraph_free(g);
    idgraph_rules_release(&r);
}

/* A must-not-link pair (a rejected review pair, an undone merge) holds against a record
 * that carries identifiers of both groups, and against idgraph_link; idgraph_link keeps
 * the limits too. */
static void test_cannot_link_and_link(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    int64_t a = ADD(g, {"email", "a@x.cn"});
    int64_t b = ADD(g, {"email", "b@x.cn"});
    assert_int_equal(idgraph_cannot_link(g, a, b), 0);
    assert_int_equal(idgraph_cannot_link(g, a, 99), ERR_INVALID);
    int64_t c = ADD(g, {"email", "a@x.cn"}, {"email", "b@x.cn"});
    assert_int_equal(refused, 1);
    assert_int_not_equal(idgraph_group(g, a), idgraph_group(g, b));
    assert_int_equal(idgraph_group(g, c), idgraph_group(g, a));
    assert_int_equal(idgraph_link(g, b, a), IDGRAPH_CANNOT_LINK);
    /* through a third group: b joins d, then d's group may still not take a */
    int64_t d = ADD(g, {"phone", "+8613912345678"});
    assert_int_equal(idgraph_link(g, d, b), IDGRAPH_LINKED);
    assert_int_equal(idgraph_group(g, d), idgraph_group(g, b));
    assert_int_equal(idgraph_link(g, a, d), IDGRAPH_CANNOT_LINK);
    /* limits: two ID numbers never share a profile */
    int64_t p = ADD(g, {"id_number", "110101199003077777"});
    int64_t q = ADD(g, {"id_number", "110101199003078888"});
    assert_int_equal(idgraph_link(g, p, q), IDGRAPH_OVER_LIMIT);
    assert_int_equal(idgraph_link(g, p, p), IDGRAPH_LINKED);
    assert_int_not_equal(idgraph_group(g, p), idgraph_group(g, q));
    idgraph_free(g);
    idgraph_rules_release(&r);
}

static void test_rules_parse_errors(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct err e = {0};
    assert_int_equal(idgraph_rules_parse("phone:x", "", &r, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "phone"));
    idgraph_rules_release(&r);
    assert_int_equal(idgraph_rules_parse("phone:-1", "", &r, &e), ERR_INVALID);
    idgraph_rules_release(&r);
}

static void test_many_records_scale(void **state)
{
    (void)state;
    struct idgraph_rules r;
    struct idgraph *g = new_graph(&r);
    size_t refused = 0;
    char u[32], em[32];
    /* 200,000 people, each with two records sharing an e-mail */
    for (int i = 0; i < 200000; i++) {
        snprintf(u, sizeof(u), "U%d", i);
        snprintf(em, sizeof(em), "p%d@x.cn", i);
        ADD(g, {"user_id", u}, {"email", em});
        snprintf(u, sizeof(u), "anon-%d", i);
        ADD(g, {"anonymous_id", u}, {"email", em});
    }
    assert_int_equal(idgraph_count(g), 600000);
    assert_int_equal(refused, 0);
    int64_t x = idgraph_find(g, "anonymous_id", "anon-123456");
    int64_t y = idgraph_find(g, "user_id", "U123456");
    assert_int_equal(idgraph_group(g, x), idgraph_group(g, y));
    idgraph_free(g);
    idgraph_rules_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_sharing_an_identifier_link),
        cmocka_unit_test(test_junk_values_never_link),
        cmocka_unit_test(test_shared_family_phone_does_not_merge_two_people),
        cmocka_unit_test(test_limits_per_type),
        cmocka_unit_test(test_merge_keeps_the_smaller_name),
        cmocka_unit_test(test_cannot_link_and_link),
        cmocka_unit_test(test_rules_parse_errors),
        cmocka_unit_test(test_many_records_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
