/* test_plan.c - tracking plans: compile errors with their paths, every keyword passing and
 * failing, field paths, unplanned events, the reasons cap, no values in reasons, and
 * many threads checking against one plan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <pthread.h>

#include "ingest/plan.h"

/* Plans and messages are written with ' for " to keep them readable; jq swaps them.
 * The caller frees the result. */
static char *jq(const char *s)
{
    char *out = strdup(s);

    assert_non_null(out);
    for (char *c = out; *c; c++)
        if (*c == '\'')
            *c = '"';
    return out;
}

static struct plan *compile_ok(const char *plan)
{
    struct err e = {0};
    struct plan *p = NULL;
    char *json = jq(plan);
    int rc = plan_compile(json, strlen(json), &p, &e);

    free(json);
    if (rc)
        fail_msg("plan_compile failed: %s", e.msg);
    assert_non_null(p);
    return p;
}

/* Asserts that plan fails to compile with code and an error message containing want. */
static void compile_fails(const char *plan, int code, const char *want)
{
    struct err e = {0};
    struct plan *p = NULL;
    char *json = jq(plan);
    int rc = plan_compile(json, strlen(json), &p, &e);

    free(json);
    assert_null(p);
    if (rc != code || !strstr(e.msg, want))
        fail_msg("plan %s: got %d \"%s\", want %d with \"%s\"", plan, rc, e.msg, code, want);
}

struct outcome {
    enum plan_verdict verdict;
    cJSON *reasons;
    char *printed;
};

static struct outcome run(const struct plan *p, const char *msg)
{
    struct outcome o = {0};
    char *json = jq(msg);
    cJSON *m = cJSON_Parse(json);

    if (!m)
        fail_msg("test message is not JSON: %s", msg);
    o.reasons = cJSON_CreateArray();
    assert_non_null(o.reasons);
    o.verdict = plan_check(p, m, o.reasons);
    o.printed = cJSON_PrintUnformatted(o.reasons);
    assert_non_null(o.printed);
    cJSON_Delete(m);
    free(json);
    return o;
}

static void outcome_release(struct outcome *o)
{
    cJSON_Delete(o->reasons);
    cJSON_free(o->printed);
}

/* The reason with this field and code, or NULL. */
static const cJSON *find_reason(const struct outcome *o, const char *field, const char *code)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, o->reasons)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "field");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "code");

        if (cJSON_IsString(f) && cJSON_IsString(c) && strcmp(f->valuestring, field) == 0 &&
            strcmp(c->valuestring, code) == 0)
            return r;
    }
    return NULL;
}

/* Asserts msg passes with no reasons. */
static void expect_pass(const struct plan *p, const char *msg)
{
    struct outcome o = run(p, msg);

    if (o.verdict != PLAN_PASS || cJSON_GetArraySize(o.reasons) != 0)
        fail_msg("%s: want pass, got %d %s", msg, o.verdict, o.printed);
    outcome_release(&o);
}

/* Asserts msg gets verdict with exactly one reason, on field with code; returns nothing
 * but checks the reason's message contains text when text is not NULL. */
static void expect_one(const struct plan *p, const char *msg, enum plan_verdict verdict,
                       const char *field, const char *code, const char *text)
{
    struct outcome o = run(p, msg);
    const cJSON *r = find_reason(&o, field, code);
    const cJSON *m = r ? cJSON_GetObjectItemCaseSensitive(r, "message") : NULL;

    if (o.verdict != verdict || cJSON_GetArraySize(o.reasons) != 1 || !r)
        fail_msg("%s: want %d with %s/%s, got %d %s", msg, verdict, field, code, o.verdict,
                 o.printed);
    if (text && (!m || !cJSON_IsString(m) || !strstr(m->valuestring, text)))
        fail_msg("%s: reason lacks \"%s\": %s", msg, text, o.printed);
    outcome_release(&o);
}

static void expect_block(const struct plan *p, const char *msg, const char *field, const char *code,
                         const char *text)
{
    expect_one(p, msg, PLAN_BLOCK, field, code, text);
}

/* ---- compile errors ---- */

static void test_compile_bad_json(void **state)
{
    (void)state;
    compile_fails("{'calls': {'track': ", ERR_INVALID, "not valid JSON near byte");
    compile_fails("{'calls': {}}\n,x", ERR_INVALID, "(line 2)");
    compile_fails("", ERR_INVALID, "not valid JSON");
    compile_fails("[]", ERR_INVALID, "plan: must be a JSON object");
    compile_fails("{'events': {'A\xff': {}}}", ERR_INVALID, "not valid UTF-8 at byte 14");
}

#define BIG_PLAN ((size_t)PLAN_MAX_BYTES + 1)
#define DEEP_CAP ((size_t)64 * 1024)

static void test_compile_limits(void **state)
{
    struct err e = {0};
    struct plan *p = NULL;
    char *big = malloc(BIG_PLAN);
    char *deep = malloc(DEEP_CAP);
    size_t n = 0;

    (void)state;
    assert_non_null(big);
    assert_non_null(deep);
    /* A plan of exactly PLAN_MAX_BYTES compiles; one byte more is refused. */
    memset(big, ' ', BIG_PLAN);
    big[0] = '{';
    big[BIG_PLAN - 2] = '}';
    assert_int_equal(plan_compile(big, BIG_PLAN - 1, &p, &e), 0);
    plan_free(p);
    assert_int_equal(plan_compile(big, BIG_PLAN, &p, &e), ERR_LIMIT);
    assert_null(p);
    assert_non_null(strstr(e.msg, "the limit is 1048576"));

    /* Schemas nested exactly PLAN_MAX_DEPTH deep compile; one more does not. */
    for (int extra = 0; extra < 2; extra++) {
        n = (size_t)snprintf(deep, DEEP_CAP, "{\"calls\":{\"track\":{");
        for (int d = 1; d < PLAN_MAX_DEPTH + extra; d++)
            n += (size_t)snprintf(deep + n, DEEP_CAP - n, "\"properties\":{\"a\":{");
        n += (size_t)snprintf(deep + n, DEEP_CAP - n, "\"type\":\"string\"");
        for (int d = 1; d < PLAN_MAX_DEPTH + extra; d++)
            n += (size_t)snprintf(deep + n, DEEP_CAP - n, "}}");
        n += (size_t)snprintf(deep + n, DEEP_CAP - n, "}}}");
        e.msg[0] = '\0';
        int rc = plan_compile(deep, n, &p, &e);
        if (extra == 0) {
            assert_int_equal(rc, 0);
            plan_free(p);
        } else {
            assert_int_equal(rc, ERR_LIMIT);
            assert_null(p);
            /* A long path keeps its deepest part and the problem. */
            assert_non_null(
                strstr(e.msg, "properties.a.properties.a: schemas nest deeper than 32"));
        }
    }
    free(big);
    free(deep);
}

static void test_compile_unknown_key(void **state)
{
    (void)state;
    compile_fails("{'unplanned': 'allow', 'evnts': {}}", ERR_INVALID,
                  "evnts: unknown key (expected unplanned, calls or events)");
    compile_fails("{'calls': {}, 'calls': {}}", ERR_INVALID, "calls: key given twice");
}

static void test_compile_unknown_keyword(void **state)
{
    (void)state;
    compile_fails("{'events': {'Order Completed': {'properties': {'properties': {'properties': "
                  "{'total': {'type': 'number', 'maxValue': 5}}}}}}}",
                  ERR_INVALID,
                  "events.Order Completed.properties.properties.properties.total.maxValue: "
                  "unknown keyword");
    compile_fails("{'calls': {'page': {'type': 'object', 'type': 'object'}}}", ERR_INVALID,
                  "calls.page.type: keyword given twice");
}

static void test_compile_bad_regex(void **state)
{
    (void)state;
    compile_fails("{'calls': {'identify': {'properties': {'traits': {'properties': "
                  "{'phone': {'pattern': '^1[3-9(\\\\d{9}$'}}}}}}}",
                  ERR_INVALID,
                  "calls.identify.properties.traits.properties.phone.pattern: bad regular "
                  "expression at offset");
}

static void test_compile_wrong_keyword_types(void **state)
{
    static const struct {
        const char *schema;
        const char *want;
    } cases[] = {
        {"{'minimum': '0'}", "calls.track.minimum: must be a number"},
        {"{'exclusiveMaximum': true}", "calls.track.exclusiveMaximum: must be a number"},
        {"{'maxLength': -1}", "calls.track.maxLength: must be a non-negative integer"},
        {"{'minItems': 1.5}", "calls.track.minItems: must be a non-negative integer"},
        {"{'required': 'event'}", "calls.track.required: must be an array"},
        {"{'required': ['event', 7]}", "calls.track.required[1]: must be a string"},
        {"{'required': ['a', 'b', 'a']}", "calls.track.required: property \"a\" listed twice"},
        {"{'type': 'text'}", "calls.track.type: unknown type"},
        {"{'type': []}", "calls.track.type: must name at least one type"},
        {"{'type': ['string', 3]}", "calls.track.type[1]: a type must be a string"},
        {"{'type': ['null', 'null']}", "calls.track.type[1]: type listed twice"},
        {"{'properties': []}", "calls.track.properties: must be an object"},
        {"{'properties': {'a': 'string'}}", "calls.track.properties.a: a schema must be"},
        {"{'properties': {'a': {}, 'a': {}}}", "calls.track.properties.a: property defined twice"},
        {"{'additionalProperties': {}}", "calls.track.additionalProperties: only false"},
        {"{'additionalProperties': 'no'}", "calls.track.additionalProperties: must be false"},
        {"{'items': [{}]}", "calls.track.items: must be one schema"},
        {"{'items': {'type': 'nothing'}}", "calls.track.items.type: unknown type"},
        {"{'enum': []}", "calls.track.enum: must be a non-empty array"},
        {"{'enum': 'CNY'}", "calls.track.enum: must be a non-empty array"},
        {"{'pattern': 5}", "calls.track.pattern: must be a string"},
        {"{'description': 5}", "calls.track.description: must be a string"},
    };
    char plan[512];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        snprintf(plan, sizeof(plan), "{'calls': {'track': %s}}", cases[i].schema);
        compile_fails(plan, ERR_INVALID, cases[i].want);
    }
}

static void test_compile_unknown_call(void **state)
{
    (void)state;
    compile_fails("{'calls': {'identify': {}, 'click': {}}}", ERR_INVALID,
                  "calls.click: unknown call type");
    compile_fails("{'calls': []}", ERR_INVALID, "calls: must be an object");
    compile_fails("{'calls': {'track': {}, 'track': {}}}", ERR_INVALID,
                  "calls.track: call type given twice");
}

static void test_compile_unplanned_invalid(void **state)
{
    (void)state;
    compile_fails("{'unplanned': 'deny'}", ERR_INVALID,
                  "unplanned: must be \"allow\", \"flag\" or \"block\"");
    compile_fails("{'unplanned': false}", ERR_INVALID, "unplanned: must be");
}

static void test_compile_events_errors(void **state)
{
    (void)state;
    compile_fails("{'events': {'Signed Up': {}, 'Signed Up': {}}}", ERR_INVALID,
                  "events.Signed Up: event defined twice");
    compile_fails("{'events': ['Signed Up']}", ERR_INVALID, "events: must be an object");
    compile_fails("{'events': {'Signed Up': true}}", ERR_INVALID,
                  "events.Signed Up: a schema must be an object");
}

static void test_compile_minimal_plans(void **state)
{
    struct plan *p;

    (void)state;
    p = compile_ok("{}");
    expect_pass(p, "{'type': 'track', 'event': 'Anything'}");
    expect_pass(p, "{'type': 'identify', 'userId': 'u1'}");
    plan_free(p);
    plan_free(NULL);
}

/* ---- keywords ---- */

static void test_type(void **state)
{
    static const struct {
        const char *type;
        const char *good;
        const char *bad;
        const char *rule;
    } cases[] = {
        {"string", "'x'", "1", "must be a string"},
        {"number", "1.5", "'1.5'", "must be a number"},
        {"integer", "3", "3.5", "must be an integer"},
        {"integer", "3.0", "'3'", "must be an integer"},
        {"integer", "-1e300", "true", "must be an integer"},
        {"boolean", "false", "0", "must be a boolean"},
        {"object", "{}", "[]", "must be an object"},
        {"array", "[]", "{}", "must be an array"},
        {"null", "null", "''", "must be null"},
        {"['string', 'null']", "null", "5", "must be a string or null"},
        {"['string', 'integer', 'null']", "7", "7.25", "must be a string, an integer or null"},
    };
    char plan[256], good[128], bad[128];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *quote = cases[i].type[0] == '[' ? "" : "'";

        snprintf(plan, sizeof(plan),
                 "{'calls': {'track': {'properties': {'properties': {'properties': {'v': "
                 "{'type': %s%s%s}}}}}}}",
                 quote, cases[i].type, quote);
        snprintf(good, sizeof(good), "{'type': 'track', 'properties': {'v': %s}}", cases[i].good);
        snprintf(bad, sizeof(bad), "{'type': 'track', 'properties': {'v': %s}}", cases[i].bad);
        struct plan *p = compile_ok(plan);
        expect_pass(p, good);
        expect_block(p, bad, "properties.v", "type", cases[i].rule);
        plan_free(p);
    }
}

static void test_required(void **state)
{
    struct plan *p =
        compile_ok("{'calls': {'track': {'required': ['event', 'properties'], 'properties': "
                   "{'properties': {'required': ['order_id', 'total']}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'event': 'E', 'properties': {'order_id': 'o', 'total': 1}}");
    /* Present but null counts as present; "type" is what forbids null. */
    expect_pass(p, "{'type': 'track', 'event': 'E', 'properties': {'order_id': null, 'total': 1}}");
    expect_block(p, "{'type': 'track', 'event': 'E', 'properties': {'total': 1}}",
                 "properties.order_id", "required", "is required");
    expect_block(p, "{'type': 'track', 'event': 'E'}", "properties", "required", "is required");

    struct outcome o = run(p, "{'type': 'track', 'properties': {}}");
    assert_int_equal(o.verdict, PLAN_BLOCK);
    assert_int_equal(cJSON_GetArraySize(o.reasons), 3);
    assert_non_null(find_reason(&o, "event", "required"));
    assert_non_null(find_reason(&o, "properties.order_id", "required"));
    assert_non_null(find_reason(&o, "properties.total", "required"));
    outcome_release(&o);
    plan_free(p);
}

static void test_nested_paths(void **state)
{
    struct plan *p = compile_ok(
        "{'calls': {"
        " 'identify': {'properties': {'traits': {'properties': {'address': {'type': 'object',"
        "   'required': ['city'], 'properties': {'city': {'type': 'string', 'minLength': 1}}}}}}},"
        " 'track': {'properties': {'properties': {'properties': {'products': {'type': 'array',"
        "   'items': {'type': 'object', 'required': ['sku'], 'properties': {"
        "     'sku': {'type': 'string'}, 'tags': {'items': {'type': 'string'}}}}}}}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'identify', 'traits': {'address': {'city': 'Shanghai'}}}");
    expect_pass(p, "{'type': 'identify', 'traits': {}}");
    expect_block(p, "{'type': 'identify', 'traits': {'address': {'city': 5}}}",
                 "traits.address.city", "type", "must be a string");
    expect_block(p, "{'type': 'identify', 'traits': {'address': {'city': ''}}}",
                 "traits.address.city", "minLength", "must have at least 1 character");
    expect_block(p, "{'type': 'identify', 'traits': {'address': {}}}", "traits.address.city",
                 "required", NULL);
    expect_block(p, "{'type': 'identify', 'traits': {'address': 'Shanghai'}}", "traits.address",
                 "type", "must be an object");

    expect_pass(p, "{'type': 'track', 'properties': {'products': [{'sku': 'a'}, {'sku': 'b'}]}}");
    expect_block(p,
                 "{'type': 'track', 'properties': {'products': [{'sku': 'a'}, {'sku': 'b'}, "
                 "{'sku': 3}]}}",
                 "properties.products[2].sku", "type", NULL);
    expect_block(p, "{'type': 'track', 'properties': {'products': [{}, {'sku': 'b'}]}}",
                 "properties.products[0].sku", "required", NULL);
    expect_block(p,
                 "{'type': 'track', 'properties': {'products': [{'sku': 'a', 'tags': ['x', 1]}]}}",
                 "properties.products[0].tags[1]", "type", NULL);
    plan_free(p);
}

static void test_additional_properties(void **state)
{
    struct plan *p = compile_ok(
        "{'calls': {'track': {'properties': {'properties': {'additionalProperties': false, "
        "'properties': {'a': {}, 'b': {}}}, 'context': {'additionalProperties': true}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'properties': {'a': 1, 'b': 2}, 'context': {'x': 1}}");
    expect_pass(p, "{'type': 'track', 'properties': {}}");
    expect_block(p, "{'type': 'track', 'properties': {'a': 1, 'c': 2}}", "properties.c",
                 "additionalProperties", "is not in the plan");
    plan_free(p);

    /* Closed without "properties": nothing is allowed. */
    p = compile_ok("{'calls': {'page': {'properties': {'properties': {'additionalProperties': "
                   "false}}}}}");
    expect_pass(p, "{'type': 'page', 'properties': {}}");
    expect_block(p, "{'type': 'page', 'properties': {'x': 1}}", "properties.x",
                 "additionalProperties", NULL);
    plan_free(p);
}

static void test_enum(void **state)
{
    struct plan *p =
        compile_ok("{'calls': {'track': {'properties': {'properties': {'properties': {"
                   " 'currency': {'enum': ['CNY', 'USD', 'EUR']},"
                   " 'mixed': {'enum': [1, 'one', null, true, [1, 2], {'a': 1}]}}}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'properties': {'currency': 'CNY'}}");
    expect_pass(p, "{'type': 'track', 'properties': {'currency': 'EUR'}}");
    expect_block(p, "{'type': 'track', 'properties': {'currency': 'cny'}}", "properties.currency",
                 "enum", "must be one of \"CNY\", \"USD\", \"EUR\"");
    expect_block(p, "{'type': 'track', 'properties': {'currency': 'CNYX'}}", "properties.currency",
                 "enum", NULL);
    expect_block(p, "{'type': 'track', 'properties': {'currency': 1}}", "properties.currency",
                 "enum", NULL);
    static const char *const good[] = {"1", "1.0", "'one'", "null", "true", "[1, 2]", "{'a': 1}"};
    static const char *const bad[] = {
        "2",        "'One'",    "false", "[2, 1]", "[1, 2, 3]", "[1]", "{'a': 1, 'b': 2}",
        "{'a': 2}", "{'b': 1}", "{}"};
    char msg[128];
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        snprintf(msg, sizeof(msg), "{'type': 'track', 'properties': {'mixed': %s}}", good[i]);
        expect_pass(p, msg);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(msg, sizeof(msg), "{'type': 'track', 'properties': {'mixed': %s}}", bad[i]);
        expect_block(p, msg, "properties.mixed", "enum", NULL);
    }
    plan_free(p);
}

static void test_const(void **state)
{
    struct plan *p = compile_ok("{'calls': {'track': {'properties': {'context': {'properties': {"
                                " 'library': {'const': {'name': 'analytics.js', 'version': 2}},"
                                " 'channel': {'const': 'web'}}}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'context': {'channel': 'web'}}");
    expect_pass(p, "{'type': 'track', 'context': {'library': {'version': 2.0, "
                   "'name': 'analytics.js'}}}");
    expect_block(p, "{'type': 'track', 'context': {'channel': 'server'}}", "context.channel",
                 "const", "must equal \"web\"");
    expect_block(p, "{'type': 'track', 'context': {'library': {'name': 'analytics.js'}}}",
                 "context.library", "const", NULL);
    plan_free(p);
}

static void test_pattern(void **state)
{
    struct plan *p =
        compile_ok("{'calls': {'track': {'properties': {'properties': {'properties': {"
                   " 'sku': {'pattern': '[0-9]{3}'}, 'code': {'pattern': '^[A-Z]{2}$'},"
                   " 'city': {'pattern': '^\\\\p{Han}+$'}}}}}}}");

    (void)state;
    /* Unanchored, as in JSON Schema: a match anywhere counts. */
    expect_pass(p, "{'type': 'track', 'properties': {'sku': 'SKU-123-X'}}");
    expect_block(p, "{'type': 'track', 'properties': {'sku': 'SKU-12-X'}}", "properties.sku",
                 "pattern", "must match [0-9]{3}");
    expect_pass(p, "{'type': 'track', 'properties': {'code': 'CN'}}");
    expect_block(p, "{'type': 'track', 'properties': {'code': 'CNY'}}", "properties.code",
                 "pattern", NULL);
    /* UTF mode: one Han character is one code point. */
    expect_pass(p, "{'type': 'track', 'properties': {'city': '上海'}}");
    expect_block(p, "{'type': 'track', 'properties': {'city': 'Shanghai'}}", "properties.city",
                 "pattern", NULL);
    /* Keywords for strings ignore other types. */
    expect_pass(p, "{'type': 'track', 'properties': {'sku': 12}}");
    plan_free(p);
}

static void test_pattern_hostile_input(void **state)
{
    struct plan *p = compile_ok("{'calls': {'track': {'properties': {'properties': {'properties': {"
                                " 'v': {'pattern': '^(a+)+$'}}}}}}}");
    char msg[256];
    cJSON *m, *props, *reasons;

    (void)state;
    /* Catastrophic backtracking hits the match limit instead of stalling. */
    snprintf(msg, sizeof(msg), "{'type': 'track', 'properties': {'v': '%s!'}}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect_block(p, msg, "properties.v", "pattern", "not checked");

    /* A string that is not UTF-8 (cJSON does not validate) is a violation, not a crash. */
    m = cJSON_CreateObject();
    props = cJSON_AddObjectToObject(m, "properties");
    cJSON_AddStringToObject(m, "type", "track");
    cJSON_AddStringToObject(props, "v", "aa\xff");
    reasons = cJSON_CreateArray();
    assert_int_equal(plan_check(p, m, reasons), PLAN_BLOCK);
    assert_int_equal(cJSON_GetArraySize(reasons), 1);
    assert_non_null(strstr(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(reasons, 0), "message")->valuestring,
        "not valid UTF-8"));
    cJSON_Delete(reasons);
    cJSON_Delete(m);
    plan_free(p);
}

static void test_numeric_bounds(void **state)
{
    struct plan *p = compile_ok("{'calls': {'track': {'properties': {'properties': {'properties': {"
                                " 'total': {'minimum': 0, 'maximum': 100.5},"
                                " 'rate': {'exclusiveMinimum': 0, 'exclusiveMaximum': 1}}}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'properties': {'total': 0, 'rate': 0.5}}");
    expect_pass(p, "{'type': 'track', 'properties': {'total': 100.5}}");
    expect_block(p, "{'type': 'track', 'properties': {'total': -0.01}}", "properties.total",
                 "minimum", "must be >= 0");
    expect_block(p, "{'type': 'track', 'properties': {'total': 100.51}}", "properties.total",
                 "maximum", "must be <= 100.5");
    expect_block(p, "{'type': 'track', 'properties': {'rate': 0}}", "properties.rate",
                 "exclusiveMinimum", "must be > 0");
    expect_block(p, "{'type': 'track', 'properties': {'rate': 1}}", "properties.rate",
                 "exclusiveMaximum", "must be < 1");
    /* Keywords for numbers ignore other types. */
    expect_pass(p, "{'type': 'track', 'properties': {'total': '-5'}}");
    plan_free(p);
}

static void test_lengths_in_code_points(void **state)
{
    struct plan *p =
        compile_ok("{'calls': {'identify': {'properties': {'traits': {'properties': {"
                   " 'name': {'type': 'string', 'minLength': 2, 'maxLength': 4}}}}}}}");

    (void)state;
    /* 4 code points, 12 bytes: passes maxLength 4. */
    expect_pass(p, "{'type': 'identify', 'traits': {'name': '欧阳娜娜'}}");
    /* 5 code points, 15 bytes. */
    expect_block(p, "{'type': 'identify', 'traits': {'name': '北京市朝阳'}}", "traits.name",
                 "maxLength", "must have at most 4 characters");
    /* 1 code point, 3 bytes: fails minLength 2 although it is 3 bytes. */
    expect_block(p, "{'type': 'identify', 'traits': {'name': '王'}}", "traits.name", "minLength",
                 "must have at least 2 characters");
    expect_pass(p, "{'type': 'identify', 'traits': {'name': '王小'}}");
    expect_pass(p, "{'type': 'identify', 'traits': {'name': 'Li 😀'}}");
    expect_block(p, "{'type': 'identify', 'traits': {'name': 'Li 😀!'}}", "traits.name", "maxLength",
                 NULL);
    plan_free(p);
}

static void test_item_counts(void **state)
{
    struct plan *p = compile_ok("{'calls': {'track': {'properties': {'properties': {'properties': {"
                                " 'products': {'minItems': 1, 'maxItems': 2}}}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'properties': {'products': [1]}}");
    expect_pass(p, "{'type': 'track', 'properties': {'products': [1, 2]}}");
    expect_block(p, "{'type': 'track', 'properties': {'products': []}}", "properties.products",
                 "minItems", "must have at least 1 item");
    expect_block(p, "{'type': 'track', 'properties': {'products': [1, 2, 3]}}",
                 "properties.products", "maxItems", "must have at most 2 items");
    plan_free(p);
}

static void test_description_ignored(void **state)
{
    struct plan *p = compile_ok("{'calls': {'track': {'description': 'Every track call', "
                                "'properties': {'event': {'description': 'the name'}}}}}");

    (void)state;
    expect_pass(p, "{'type': 'track', 'event': 'Anything'}");
    plan_free(p);
}

static const char mobile_plan[] =
    "{'calls': {'identify': {'properties': {'traits': {'properties': {"
    " 'phone': {'type': 'string', 'pattern': '^1[3-9]\\\\d{9}$'}}}}}}}";

static void test_mainland_mobile(void **state)
{
    struct plan *p = compile_ok(mobile_plan);

    (void)state;
    expect_pass(p, "{'type': 'identify', 'traits': {'phone': '13812345678'}}");
    expect_pass(p, "{'type': 'identify', 'traits': {'phone': '19912345678'}}");
    expect_block(p, "{'type': 'identify', 'traits': {'phone': '12812345678'}}", "traits.phone",
                 "pattern", "must match ^1[3-9]\\d{9}$");
    expect_block(p, "{'type': 'identify', 'traits': {'phone': '1381234567'}}", "traits.phone",
                 "pattern", NULL);
    expect_block(p, "{'type': 'identify', 'traits': {'phone': '138123456789'}}", "traits.phone",
                 "pattern", NULL);
    expect_block(p, "{'type': 'identify', 'traits': {'phone': '+8613812345678'}}", "traits.phone",
                 "pattern", NULL);
    /* \d is ASCII: full-width digits do not count. */
    expect_block(p, "{'type': 'identify', 'traits': {'phone': '1３８12345678'}}", "traits.phone",
                 "pattern", NULL);
    expect_block(p, "{'type': 'identify', 'traits': {'phone': 13812345678}}", "traits.phone",
                 "type", NULL);
    plan_free(p);
}

/* ---- unplanned events and calls ---- */

static void test_unplanned(void **state)
{
    static const struct {
        const char *mode;
        enum plan_verdict verdict;
    } modes[] = {{"allow", PLAN_PASS}, {"flag", PLAN_FLAG}, {"block", PLAN_BLOCK}};
    char plan[256];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        /* With "events": a listed event passes, another is handled as the mode says. */
        snprintf(plan, sizeof(plan), "{'unplanned': '%s', 'events': {'Order Completed': {}}}",
                 modes[i].mode);
        struct plan *p = compile_ok(plan);
        expect_pass(p, "{'type': 'track', 'event': 'Order Completed'}");
        if (modes[i].verdict == PLAN_PASS)
            expect_pass(p, "{'type': 'track', 'event': 'Order Refunded'}");
        else
            expect_one(p, "{'type': 'track', 'event': 'Order Refunded'}", modes[i].verdict, "event",
                       "unplanned", "is not an event in the plan");
        /* Event names are case-sensitive. */
        struct outcome o = run(p, "{'type': 'track', 'event': 'order completed'}");
        assert_int_equal(o.verdict, modes[i].verdict);
        outcome_release(&o);
        /* Other calls are not events. */
        expect_pass(p, "{'type': 'page', 'name': 'Home'}");
        plan_free(p);

        /* Without "events" no event is unplanned. */
        snprintf(plan, sizeof(plan), "{'unplanned': '%s', 'calls': {'track': {}}}", modes[i].mode);
        p = compile_ok(plan);
        expect_pass(p, "{'type': 'track', 'event': 'Order Refunded'}");
        plan_free(p);
    }

    /* An empty "events" makes every track event unplanned. */
    struct plan *p = compile_ok("{'unplanned': 'block', 'events': {}}");
    expect_block(p, "{'type': 'track', 'event': 'Anything'}", "event", "unplanned", NULL);
    expect_pass(p, "{'type': 'identify'}");
    plan_free(p);
}

static const char web_plan[] =
    "{'unplanned': 'flag',"
    " 'calls': {'track': {'required': ['event', 'properties'],"
    "   'properties': {'properties': {'type': 'object'}}}},"
    " 'events': {"
    "  'Order Completed': {'properties': {'properties': {"
    "    'required': ['order_id', 'total', 'currency'], 'properties': {"
    "      'order_id': {'type': 'string', 'minLength': 1},"
    "      'total': {'type': 'number', 'minimum': 0},"
    "      'currency': {'enum': ['CNY', 'USD', 'EUR']}}}}},"
    "  'Product Viewed': {'properties': {'properties': {'required': ['product_id']}}}}}";

static void test_events_with_calls_track(void **state)
{
    struct plan *p = compile_ok(web_plan);

    (void)state;
    expect_pass(p, "{'type': 'track', 'event': 'Order Completed', 'properties': "
                   "{'order_id': 'o1', 'total': 99.5, 'currency': 'CNY'}}");
    expect_pass(p, "{'type': 'track', 'event': 'Product Viewed', 'properties': "
                   "{'product_id': 'p1'}}");
    /* The event's rules. */
    expect_block(p,
                 "{'type': 'track', 'event': 'Order Completed', 'properties': "
                 "{'order_id': 'o1', 'total': -1, 'currency': 'CNY'}}",
                 "properties.total", "minimum", "must be >= 0");
    /* calls.track's rules apply to listed events too... */
    expect_block(p, "{'type': 'track', 'event': 'Product Viewed'}", "properties", "required", NULL);
    /* ...and to unplanned ones, which are flagged; a violation on top blocks. */
    expect_one(p, "{'type': 'track', 'event': 'Cart Viewed', 'properties': {}}", PLAN_FLAG, "event",
               "unplanned", NULL);
    struct outcome o = run(p, "{'type': 'track', 'event': 'Cart Viewed', 'properties': 5}");
    assert_int_equal(o.verdict, PLAN_BLOCK);
    assert_int_equal(cJSON_GetArraySize(o.reasons), 2);
    assert_non_null(find_reason(&o, "event", "unplanned"));
    assert_non_null(find_reason(&o, "properties", "type"));
    outcome_release(&o);
    /* Both schemas failing at once: every reason is reported. */
    o = run(p, "{'type': 'track', 'event': 'Order Completed', 'properties': []}");
    assert_int_equal(o.verdict, PLAN_BLOCK);
    assert_non_null(find_reason(&o, "properties", "type"));
    outcome_release(&o);
    o = run(p, "{'type': 'track', 'event': 'Order Completed', 'properties': {'total': 'x', "
               "'currency': 'GBP'}}");
    assert_int_equal(o.verdict, PLAN_BLOCK);
    assert_int_equal(cJSON_GetArraySize(o.reasons), 3);
    assert_non_null(find_reason(&o, "properties.order_id", "required"));
    assert_non_null(find_reason(&o, "properties.total", "type"));
    assert_non_null(find_reason(&o, "properties.currency", "enum"));
    outcome_release(&o);
    plan_free(p);
}

static void test_malformed_messages(void **state)
{
    struct plan *p = compile_ok(web_plan);
    cJSON *reasons = cJSON_CreateArray();
    cJSON *notobj = cJSON_CreateString("track");

    (void)state;
    assert_int_equal(plan_check(p, notobj, reasons), PLAN_BLOCK);
    assert_int_equal(plan_check(p, NULL, NULL), PLAN_BLOCK);
    expect_block(p, "{'event': 'Order Completed'}", "type", "type", "must be a string");
    expect_block(p, "{'type': 7}", "type", "type", NULL);
    expect_block(p, "{'type': 'track', 'properties': {}}", "event", "type", "must be a string");
    /* An unknown call type has no rules here; validating types is not the plan's job. */
    expect_pass(p, "{'type': 'click'}");
    cJSON_Delete(notobj);
    cJSON_Delete(reasons);
    plan_free(p);
}

/* ---- reasons ---- */

static void test_reasons_hold_no_values(void **state)
{
    struct plan *p = compile_ok(
        "{'calls': {'identify': {'properties': {'traits': {'additionalProperties': false, "
        "'properties': {"
        " 'phone': {'type': 'string', 'pattern': '^1[3-9]\\\\d{9}$'},"
        " 'email': {'type': 'string', 'pattern': '^[^@ ]+@[^@ ]+\\\\.[a-z]+$', 'maxLength': 8},"
        " 'name': {'minLength': 40}, 'tier': {'enum': ['gold', 'silver']},"
        " 'id_type': {'const': 'resident'}, 'age': {'type': 'integer'},"
        " 'score': {'maximum': 1}}}}}}}");
    struct outcome o;

    (void)state;
    o = run(p, "{'type': 'identify', 'traits': {'phone': 'SECRET-13812345678', "
               "'email': 'SECRET@example', 'name': 'SECRET name', 'tier': 'SECRET-tier', "
               "'id_type': 'SECRET-id', 'age': 'SECRET-age', 'score': 1234567.891, "
               "'extra': 'SECRET-extra'}}");
    assert_int_equal(o.verdict, PLAN_BLOCK);
    assert_int_equal(cJSON_GetArraySize(o.reasons), 9);
    assert_non_null(find_reason(&o, "traits.phone", "pattern"));
    assert_non_null(find_reason(&o, "traits.email", "pattern"));
    assert_non_null(find_reason(&o, "traits.email", "maxLength"));
    assert_non_null(find_reason(&o, "traits.name", "minLength"));
    assert_non_null(find_reason(&o, "traits.tier", "enum"));
    assert_non_null(find_reason(&o, "traits.id_type", "const"));
    assert_non_null(find_reason(&o, "traits.age", "type"));
    assert_non_null(find_reason(&o, "traits.score", "maximum"));
    assert_non_null(find_reason(&o, "traits.extra", "additionalProperties"));
    assert_null(strstr(o.printed, "SECRET"));
    assert_null(strstr(o.printed, "13812345678"));
    assert_null(strstr(o.printed, "1234567"));
    outcome_release(&o);
    plan_free(p);
}

static void test_reasons_cap(void **state)
{
    struct plan *p = compile_ok("{'calls': {'track': {'properties': {'properties': {"
                                "'additionalProperties': false}}}}}");
    char msg[2048];
    size_t n;
    const cJSON *last;

    (void)state;
    /* 40 violations: 31 reasons and "9 more", PLAN_MAX_REASONS in all. */
    for (int total = 31; total <= 40; total++) {
        n = (size_t)snprintf(msg, sizeof(msg), "{\"type\": \"track\", \"properties\": {");
        for (int i = 0; i < total; i++)
            n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s\"p%d\": %d", i ? ", " : "", i, i);
        snprintf(msg + n, sizeof(msg) - n, "}}");
        struct outcome o = run(p, msg);
        assert_int_equal(o.verdict, PLAN_BLOCK);
        if (total <= PLAN_MAX_REASONS) {
            assert_int_equal(cJSON_GetArraySize(o.reasons), total);
            assert_null(find_reason(&o, "", "more"));
        } else {
            char want[64];

            assert_int_equal(cJSON_GetArraySize(o.reasons), PLAN_MAX_REASONS);
            last = cJSON_GetArrayItem(o.reasons, PLAN_MAX_REASONS - 1);
            assert_ptr_equal(last, find_reason(&o, "", "more"));
            snprintf(want, sizeof(want), "%d more violations", total - (PLAN_MAX_REASONS - 1));
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(last, "message")->valuestring,
                                want);
            assert_non_null(find_reason(&o, "properties.p30", "additionalProperties"));
            assert_null(find_reason(&o, "properties.p31", "additionalProperties"));
        }
        outcome_release(&o);
    }
    plan_free(p);
}

static void test_reasons_appended(void **state)
{
    struct plan *p = compile_ok(mobile_plan);
    cJSON *m = cJSON_Parse("{\"type\":\"identify\",\"traits\":{\"phone\":\"1\"}}");
    cJSON *reasons = cJSON_CreateArray();

    (void)state;
    /* Existing entries stay; NULL reasons still give the verdict. */
    cJSON_AddItemToArray(reasons, cJSON_CreateString("earlier"));
    assert_int_equal(plan_check(p, m, reasons), PLAN_BLOCK);
    assert_int_equal(cJSON_GetArraySize(reasons), 2);
    assert_string_equal(cJSON_GetArrayItem(reasons, 0)->valuestring, "earlier");
    assert_int_equal(plan_check(p, m, NULL), PLAN_BLOCK);
    cJSON_Delete(reasons);
    cJSON_Delete(m);
    plan_free(p);
}

/* ---- many threads, one plan ---- */

#define CONC_THREADS  4
#define CONC_CHECKS   10000
#define CONC_MESSAGES 64

struct conc {
    const struct plan *plan;
    cJSON **msgs;
    char **want; /* verdict and reasons from one thread, per message */
    int offset;
    size_t mismatches;
};

static char *verdict_text(const struct plan *p, const cJSON *m)
{
    cJSON *reasons = cJSON_CreateArray();
    enum plan_verdict v = plan_check(p, m, reasons);
    char *printed = cJSON_PrintUnformatted(reasons);
    size_t n = strlen(printed) + 8;
    char *out = malloc(n);

    snprintf(out, n, "%d %s", (int)v, printed);
    cJSON_free(printed);
    cJSON_Delete(reasons);
    return out;
}

static void *conc_thread(void *arg)
{
    struct conc *c = arg;

    for (int i = 0; i < CONC_CHECKS; i++) {
        int k = (i + c->offset) % CONC_MESSAGES;
        char *got = verdict_text(c->plan, c->msgs[k]);

        if (strcmp(got, c->want[k]) != 0)
            c->mismatches++;
        free(got);
    }
    return NULL;
}

static void test_concurrent_checks(void **state)
{
    static const char *const phones[] = {"13812345678", "12812345678", "1381234567x",
                                         "19900000000"};
    static const char *const emails[] = {"a@b.cn", "no-at-sign", "张@例子.中国", ""};
    static const char *const events[] = {"Order Completed", "Product Viewed", "Cart Viewed",
                                         "Identify"};
    struct plan *p =
        compile_ok("{'unplanned': 'flag',"
                   " 'calls': {'identify': {'properties': {'traits': {'properties': {"
                   "   'phone': {'type': 'string', 'pattern': '^1[3-9]\\\\d{9}$'},"
                   "   'email': {'type': 'string', 'pattern': '^[^@\\\\s]+@[^@\\\\s]+$'}}}}},"
                   "  'track': {'properties': {'properties': {'properties': {"
                   "   'sku': {'pattern': '^[A-Z]{3}-\\\\d+$'}}}}}},"
                   " 'events': {"
                   "  'Order Completed': {'properties': {'properties': {'required': ['order_id'],"
                   "   'properties': {'total': {'type': 'number', 'minimum': 0},"
                   "                  'currency': {'enum': ['CNY', 'USD', 'EUR']}}}}},"
                   "  'Product Viewed': {}}}");
    cJSON *msgs[CONC_MESSAGES];
    char *want[CONC_MESSAGES];
    struct conc conc[CONC_THREADS];
    pthread_t threads[CONC_THREADS];
    char buf[512];
    int blocked = 0;

    (void)state;
    for (int i = 0; i < CONC_MESSAGES; i++) {
        if (i % 2)
            snprintf(buf, sizeof(buf),
                     "{\"type\":\"identify\",\"traits\":{\"phone\":\"%s\",\"email\":\"%s\"}}",
                     phones[i % 4], emails[(i / 4) % 4]);
        else
            snprintf(buf, sizeof(buf),
                     "{\"type\":\"track\",\"event\":\"%s\",\"properties\":{\"sku\":\"%s\","
                     "\"total\":%d,\"currency\":\"%s\"%s}}",
                     events[(i / 2) % 4], i % 3 ? "ABC-12" : "abc", 50 - i, i % 5 ? "CNY" : "GBP",
                     i % 7 ? ",\"order_id\":\"o\"" : "");
        msgs[i] = cJSON_Parse(buf);
        assert_non_null(msgs[i]);
        want[i] = verdict_text(p, msgs[i]);
        blocked += want[i][0] == '2';
    }
    /* The set mixes verdicts, so agreement means something. */
    assert_true(blocked > 0 && blocked < CONC_MESSAGES);
    for (int t = 0; t < CONC_THREADS; t++) {
        conc[t] = (struct conc){.plan = p, .msgs = msgs, .want = want, .offset = t * 17};
        assert_int_equal(pthread_create(&threads[t], NULL, conc_thread, &conc[t]), 0);
    }
    for (int t = 0; t < CONC_THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(conc[t].mismatches, 0);
    }
    for (int i = 0; i < CONC_MESSAGES; i++) {
        cJSON_Delete(msgs[i]);
        free(want[i]);
    }
    plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_bad_json),
        cmocka_unit_test(test_compile_limits),
        cmocka_unit_test(test_compile_unknown_key),
        cmocka_unit_test(test_compile_unknown_keyword),
        cmocka_unit_test(test_compile_bad_regex),
        cmocka_unit_test(test_compile_wrong_keyword_types),
        cmocka_unit_test(test_compile_unknown_call),
        cmocka_unit_test(test_compile_unplanned_invalid),
        cmocka_unit_test(test_compile_events_errors),
        cmocka_unit_test(test_compile_minimal_plans),
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_nested_paths),
        cmocka_unit_test(test_additional_properties),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_const),
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_pattern_hostile_input),
        cmocka_unit_test(test_numeric_bounds),
        cmocka_unit_test(test_lengths_in_code_points),
        cmocka_unit_test(test_item_counts),
        cmocka_unit_test(test_description_ignored),
        cmocka_unit_test(test_mainland_mobile),
        cmocka_unit_test(test_unplanned),
        cmocka_unit_test(test_events_with_calls_track),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_reasons_hold_no_values),
        cmocka_unit_test(test_reasons_cap),
        cmocka_unit_test(test_reasons_appended),
        cmocka_unit_test(test_concurrent_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
