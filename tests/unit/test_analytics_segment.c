/* test_analytics_segment.c - the segment language: syntax errors with their column,
 * and evaluation on a small hand-checked snapshot (aggregates in windows, filters,
 * RFM, tags, in / contains / not, missing values).
 *
 * Dataset (now = 2025-04-01T00:00Z; orders at 12:00):
 *   P1  orders 2025-03-01 母婴 100, 2025-03-10 母婴 200, 2025-03-15 食品 50
 *   P2  order  2025-03-05 母婴 300
 *   P3  no order; Product Viewed on 2025-03-20 at 10:00 and 11:00
 *   P4  order  2024-01-01 1000 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "segment/segment.h"

static int64_t at(int y, int m, int d, int hh)
{
    return time_days_from_civil(y, m, d) * MS_PER_DAY + (int64_t)hh * 3600000;
}

static struct snapshot *dataset(void)
{
    struct snapshot *s = snapshot_new();
    struct err e = {0};
    uint32_t baby = snap_dict_intern(&s->categories, "母婴", strlen("母婴"));
    uint32_t food = snap_dict_intern(&s->categories, "食品", strlen("食品"));
    uint32_t viewed = snap_dict_intern(&s->names, "Product Viewed", 14);
    struct snap_order o[] = {
        {.profile_id = 1, .time = at(2025, 3, 1, 12), .amount = 100, .categories = 1ULL << baby},
        {.profile_id = 1, .time = at(2025, 3, 10, 12), .amount = 200, .categories = 1ULL << baby},
        {.profile_id = 1, .time = at(2025, 3, 15, 12), .amount = 50, .categories = 1ULL << food},
        {.profile_id = 2, .time = at(2025, 3, 5, 12), .amount = 300, .categories = 1ULL << baby},
        {.profile_id = 4, .time = at(2024, 1, 1, 12), .amount = 1000},
    };
    for (size_t i = 0; i < ARRAY_SIZE(o); i++)
        assert_int_equal(snapshot_add_order(s, &o[i], &e), 0);
    for (int h = 10; h <= 11; h++) {
        struct snap_event v = {.profile_id = 3, .time = at(2025, 3, 20, h), .name = viewed};
        assert_int_equal(snapshot_add_event(s, &v, &e), 0);
    }
    assert_int_equal(snapshot_build(s, &e), 0);
    return s;
}

/* The store ids of the profiles an expression selects, as "1,2". */
static void members(struct snapshot *s, const char *tags_setting, const char *text, char *out,
                    size_t cap)
{
    struct err e = {0};
    struct seg_expr *x;
    int col;
    if (seg_parse(text, &x, &col, &e))
        fail_msg("%s: %s", text, e.msg);
    struct seg_tag *tags = NULL;
    size_t ntags = 0;
    assert_int_equal(seg_tags_parse(tags_setting, &tags, &ntags, &e), 0);
    struct seg_context *c;
    if (seg_context_new(s, NULL, at(2025, 4, 1, 0), tags, ntags, &x, 1, &c, &e))
        fail_msg("%s: %s", text, e.msg);
    uint8_t m[8] = {0};
    seg_eval_all(c, x, m);
    size_t n = 0;
    out[0] = 0;
    for (int64_t id = 1; id <= 4; id++) {
        int64_t p = snapshot_find_profile(s, id);
        assert_true(p >= 0);
        if (m[p])
            n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64, n ? "," : "", id);
    }
    seg_context_free(c);
    seg_expr_free(x);
    seg_tags_free(tags, ntags);
}

static void test_eval(void **state)
{
    (void)state;
    struct snapshot *s = dataset();
    static const struct {
        const char *expr, *want;
    } cases[] = {
        {"orders.count(last 180d, category = \"母婴\") >= 2", "1"},
        {"orders.count(last 30d) >= 1", "1,2"}, /* from 2025-03-02: P1's 03-10, 03-15; P2 */
        {"orders.count(last 30d) >= 2", "1"},
        {"orders.revenue(all) > 250", "1,2,4"},
        {"orders.revenue(last 1y, category = '食品') = 50", "1"},
        {"not orders.count(all) > 0", "3"},
        {"events.count(\"Product Viewed\", last 7d) = 0 and events.count(\"Product Viewed\") = 2",
         "3"},
        {"orders.count() in (1, 3)", "1,2,4"},
        {"orders.count() = 1 or (orders.count() > 2 and orders.revenue() < 400)", "1,2,4"},
        {"orders.count(all, category = \"家居\") > 0", ""},
        {"events.count(\"No Such Event\", all) > 0", ""},
        /* RFM by default: as of 2025-03-16, 365 days: P1 (recency 0, 3 orders), P2 (10
         * days, 1): R 3 / 1, F 3 / 1: Need Attention and Lost; P3, P4 have no scores */
        {"rfm.segment = \"Need Attention\"", "1"},
        {"rfm.segment in (\"Lost\", \"Hibernating\")", "2"},
        {"rfm.r >= 3", "1"},
        {"not rfm.r >= 3", "2,3,4"},
        {"rfm.score = 333", "1"},
        {"tags contains \"big\"", "2,4"},
        {"tags.twice", "1"},
        {"tags.big and not tags.twice", "2,4"},
        {"\"abc\" contains \"b\"", "1,2,3,4"},
        {"true", "1,2,3,4"},
        {"1 = \"1\"", "1,2,3,4"},
    };
    const char *tags = "big: orders.revenue(all) >= 300 and orders.count(all) = 1; "
                       "twice: orders.count(all, category = \"母婴\") >= 2";
    char got[64];
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        members(s, tags, cases[i].expr, got, sizeof(got));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got {%s}, want {%s}", cases[i].expr, got, cases[i].want);
    }
    snapshot_free(s);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        int column;
        const char *says;
    } cases[] = {
        {"orders.count(last 90d) >= and x", 27, "expected a value"},
        {"orders.count(last 90d) >=", 26, "found the end"},
        {"traits.city = \"上海", 15, "no closing"},
        {"foo = 1", 1, "unknown name \"foo\""},
        {"orders.count(last 90x) > 1", 21, "a unit"},
        {"orders.sum(all) > 1", 1, "unknown name \"orders.sum\""},
        {"rfm.segment in (\"At Risk\", ", 28, "expected a value"},
        {"rfm.grade = 1", 5, "rfm has"},
        {"(orders.count() > 1", 20, "expected \")\""},
        {"orders.count() > 1 traits.x = 1", 20, "\"and\", \"or\" or the end"},
        {"", 1, "empty"},
        {"traits.城市 = 1", 8, "unexpected character \"城\""},
        {"events.count(last 7d) > 0", 14, "the event's name"},
        {"orders.count(all, city = \"x\") > 0", 19, "channel, store, source or category"},
        {"a ! b", 3, "must be followed"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct seg_expr *x = NULL;
        struct err e = {0};
        int col = -1;
        int rc = seg_parse(cases[i].expr, &x, &col, &e);
        if (rc != ERR_INVALID || col != cases[i].column || !strstr(e.msg, cases[i].says))
            fail_msg("\"%s\": rc %d column %d \"%s\"; want column %d and \"%s\"", cases[i].expr, rc,
                     col, e.msg, cases[i].column, cases[i].says);
        assert_null(x);
    }
    /* the example parses */
    struct seg_expr *x;
    struct err e = {0};
    assert_int_equal(seg_parse("orders.count(last 90d) >= 3 and traits.city = \"上海\" and "
                               "rfm.segment in (\"At Risk\", \"Can't Lose Them\")",
                               &x, NULL, &e),
                     0);
    assert_false(seg_uses_tags(x));
    seg_expr_free(x);
    /* nesting is limited */
    char deep[SEG_MAX_DEPTH * 2 + 16];
    memset(deep, '(', SEG_MAX_DEPTH + 2);
    memcpy(deep + SEG_MAX_DEPTH + 2, "1", 2);
    assert_int_equal(seg_parse(deep, &x, NULL, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "nested"));
}

static void test_tags_setting(void **state)
{
    (void)state;
    struct seg_tag *t;
    size_t n;
    struct err e = {0};
    assert_int_equal(seg_tags_parse(" a: orders.count() > 1 ; b:true;", &t, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].name, "a");
    assert_string_equal(t[1].text, "true");
    seg_tags_free(t, n);
    assert_int_equal(seg_tags_parse("a: tags.b", &t, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "uses tags"));
    assert_int_equal(seg_tags_parse("a b: true", &t, &n, &e), ERR_INVALID);
    assert_int_equal(seg_tags_parse("a: true; a: false", &t, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "twice"));
    assert_int_equal(seg_tags_parse("a: orders.count( > 1", &t, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "tag a: column"));
    assert_int_equal(seg_tags_parse("", &t, &n, &e), 0);
    assert_int_equal(n, 0);
    seg_tags_free(t, n);
    /* an unknown tag in a segment is an error of the context */
    struct snapshot *s = dataset();
    struct seg_expr *x;
    assert_int_equal(seg_parse("tags.nope", &x, NULL, &e), 0);
    struct seg_context *c;
    assert_int_equal(seg_context_new(s, NULL, 0, NULL, 0, &x, 1, &c, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "no tag named"));
    seg_expr_free(x);
    snapshot_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_tags_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
