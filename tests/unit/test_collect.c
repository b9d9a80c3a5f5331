/* test_collect.c - collect_batch_slices: where each message of a batch body starts and
 * ends, so that it is stored byte for byte as received. Every slice is compared with
 * the exact text of its element, and (as an independent check) what cJSON parses from
 * the slice with what it parses as that element of the whole body. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>

#include "ingest/collect.h"

#define MAX_ELEMENTS 16

struct slice_case {
    const char *name;
    const char *body;
    long want;                              /* elements, or -1 */
    const char *elements[MAX_ELEMENTS + 1]; /* exact texts when want > 0 */
};

static const struct slice_case cases[] = {
    {"one object", "{\"batch\":[{\"type\":\"track\"}]}", 1, {"{\"type\":\"track\"}"}},
    {"empty batch", "{\"batch\":[]}", 0, {NULL}},
    {"empty batch with spaces", "{ \"batch\" : [ \n ] }", 0, {NULL}},
    {"objects",
     "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u1\"},{\"type\":\"track\",\"event\":\"E\"},"
     "{}]}",
     3,
     {"{\"type\":\"identify\",\"userId\":\"u1\"}", "{\"type\":\"track\",\"event\":\"E\"}", "{}"}},
    {"nested objects and arrays",
     "{\"batch\":[{\"p\":{\"a\":[1,[2,[3,{\"b\":[]}]]],\"c\":{}}},[[1],[2,[3]]],[]]}",
     3,
     {"{\"p\":{\"a\":[1,[2,[3,{\"b\":[]}]]],\"c\":{}}}", "[[1],[2,[3]]]", "[]"}},
    {"strings with escaped quotes and brackets",
     "{\"batch\":[{\"e\":\"say \\\"hi\\\" ]}\"},\"a \\\"]\\\" "
     "b\",\"[{\",\"}]\",\"\\\\\",\"\\\\\\\"\","
     "\"x\\\\\"]}",
     7,
     {"{\"e\":\"say \\\"hi\\\" ]}\"}", "\"a \\\"]\\\" b\"", "\"[{\"", "\"}]\"", "\"\\\\\"",
      "\"\\\\\\\"\"", "\"x\\\\\""}},
    {"unicode escapes and UTF-8",
     "{\"batch\":[\"\\u005d\\u007d\",{\"n\":\"\xe5\xbc\xa0\xe4\xb8\x89\"},\"\xf0\x9f\x98\x80\"]}",
     3,
     {"\"\\u005d\\u007d\"", "{\"n\":\"\xe5\xbc\xa0\xe4\xb8\x89\"}", "\"\xf0\x9f\x98\x80\""}},
    {"numbers",
     "{\"batch\":[0,-1,3.25,1e10,-2.5E-3,12345678901234567891]}",
     6,
     {"0", "-1", "3.25", "1e10", "-2.5E-3", "12345678901234567891"}},
    {"literals", "{\"batch\":[null,true,false]}", 3, {"null", "true", "false"}},
    {"one scalar", "{\"batch\":[42]}", 1, {"42"}},
    {"mixed",
     "{\"batch\":[1,\"two\",{\"three\":3},[4],null]}",
     5,
     {"1", "\"two\"", "{\"three\":3}", "[4]", "null"}},
    {"whitespace everywhere",
     " \r\n\t{ \"sentAt\" : \"2020-01-01T00:00:00Z\" ,\n \"batch\"\t:\r\n [\n  { \"a\" : 1 } ,\n"
     "  2 \t,\r\n  \"s\"  ,  [ 1 , 2 ]  , null\n ] , \"context\" : { } } \n",
     5,
     {"{ \"a\" : 1 }", "2", "\"s\"", "[ 1 , 2 ]", "null"}},
    {"batch not the first key",
     "{\"writeKey\":\"k\",\"context\":{\"batch\":[9,9,9]},\"list\":[1,{\"batch\":[]}],"
     "\"n\":5,\"t\":true,\"z\":null,\"s\":\"batch\",\"batch\":[{\"x\":1},{\"y\":2}]}",
     2,
     {"{\"x\":1}", "{\"y\":2}"}},
    {"batch before other keys",
     "{\"batch\":[1,2],\"sentAt\":\"2020-01-01T00:00:00Z\"}",
     2,
     {"1", "2"}},
    {"a key that contains batch", "{\"batchSize\":[7],\"mybatch\":[8],\"batch\":[9]}", 1, {"9"}},
    {"the first of two batch keys", "{\"batch\":[1],\"batch\":[2,3]}", 1, {"1"}},
    /* unexpected shapes */
    {"no batch key", "{\"events\":[{\"a\":1}]}", -1, {NULL}},
    {"empty object", "{}", -1, {NULL}},
    {"only nested batch keys", "{\"context\":{\"batch\":[1]},\"x\":[{\"batch\":[2]}]}", -1, {NULL}},
    {"batch as a value only", "{\"type\":\"batch\"}", -1, {NULL}},
    {"escaped key", "{\"b\\u0061tch\":[{\"a\":1}]}", -1, {NULL}},
    {"escaped key, all of it", "{\"\\u0062\\u0061\\u0074\\u0063\\u0068\":[1]}", -1, {NULL}},
    {"other case", "{\"Batch\":[1]}", -1, {NULL}},
    {"batch not an array", "{\"batch\":{\"a\":1}}", -1, {NULL}},
    {"batch a string", "{\"batch\":\"[1,2]\"}", -1, {NULL}},
    {"batch null", "{\"batch\":null}", -1, {NULL}},
    {"top level array", "[{\"batch\":[1]}]", -1, {NULL}},
    {"top level string", "\"batch\"", -1, {NULL}},
    {"empty text", "", -1, {NULL}},
    {"whitespace only", " \n ", -1, {NULL}},
};

/* Copies s into an exact-size heap buffer (no NUL after it), so that ASan catches any
 * read past n. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static void test_slice_cases(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        const struct slice_case *c = &cases[k];
        size_t n = strlen(c->body);
        char *body = exact_copy(c->body, n);
        struct slice out[MAX_ELEMENTS];
        memset(out, 0xff, sizeof(out));
        long got = collect_batch_slices(body, n, out, MAX_ELEMENTS);
        if (got != c->want)
            fail_msg("case \"%s\": %ld elements, want %ld", c->name, got, c->want);
        for (long i = 0; i < got; i++) {
            const char *want = c->elements[i];
            assert_non_null(want);
            size_t len = out[i].end - out[i].start;
            if (out[i].start > out[i].end || out[i].end > n || len != strlen(want) ||
                memcmp(body + out[i].start, want, len) != 0)
                fail_msg("case \"%s\" element %ld: [%zu, %zu) \"%.*s\", want \"%s\"", c->name, i,
                         out[i].start, out[i].end,
                         (int)(out[i].end > n || out[i].start > out[i].end ? 0 : len),
                         body + out[i].start, want);
            /* The slice is the element's text where it is in the body. */
            assert_ptr_equal(strstr(c->body + out[i].start, want), c->body + out[i].start);
        }
        if (got >= 0)
            assert_null(c->elements[got]); /* the table lists exactly got elements */
        free(body);
    }
}

/* Each slice parses to the same value as the element cJSON finds in the whole body. */
static void check_against_cjson(const char *text, size_t n)
{
    cJSON *root = cJSON_ParseWithLength(text, n);
    assert_non_null(root);
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(root, "batch");
    assert_true(cJSON_IsArray(batch));
    int count = cJSON_GetArraySize(batch);
    struct slice *out = calloc((size_t)count + 1, sizeof(*out));
    assert_non_null(out);
    char *body = exact_copy(text, n);
    assert_int_equal(collect_batch_slices(body, n, out, (size_t)count), count);
    int i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, batch)
    {
        cJSON *one = cJSON_ParseWithLength(body + out[i].start, out[i].end - out[i].start);
        if (!one || !cJSON_Compare(one, el, true))
            fail_msg("element %d: slice \"%.*s\" is not the element", i,
                     (int)(out[i].end - out[i].start), body + out[i].start);
        cJSON_Delete(one);
        i++;
    }
    free(body);
    free(out);
    cJSON_Delete(root);
}

static void test_slices_match_cjson(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++)
        if (cases[k].want > 0)
            check_against_cjson(cases[k].body, strlen(cases[k].body));
}

/* A batch body being built: text and a random source. */
struct gen {
    char buf[1 << 14];
    size_t n;
    uint64_t rng;
};

static uint64_t gen_random(struct gen *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

static void put(struct gen *g, const char *s)
{
    size_t l = strlen(s);
    assert_true(g->n + l <= sizeof(g->buf));
    memcpy(g->buf + g->n, s, l);
    g->n += l;
}

/* Random JSON whitespace, possibly none. */
static void put_ws(struct gen *g)
{
    static const char *const ws[] = {"", " ", "\n", "\t", "\r\n", "  \n\t "};
    put(g, ws[gen_random(g) % ARRAY_SIZE(ws)]);
}

static void test_generated_batches(void **state)
{
    (void)state;
    /* Batches built from awkward pieces, with random whitespace between tokens. */
    static const char *const pieces[] = {
        "{\"type\":\"track\",\"event\":\"Order \\\"Completed\\\"\",\"properties\":{\"a\":[1,2]}}",
        "\"\\\\\"",
        "\"]\"",
        "\"}\"",
        "\"[{\\\"x\\\":\\\"]\\\"}]\"",
        "-0.5e+7",
        "[]",
        "{}",
        "[[[[[]]]]]",
        "{\"k\":{\"k\":{\"k\":\"v\"}}}",
        "true",
        "null",
        "\"caf\xc3\xa9\"",
    };
    struct gen *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->rng = 88172645463325252ULL;
    for (int iter = 0; iter < 2000; iter++) {
        g->n = 0;
        put_ws(g);
        put(g, "{");
        put_ws(g);
        if (gen_random(g) % 2) {
            put(g, "\"sentAt\"");
            put_ws(g);
            put(g, ":");
            put_ws(g);
            put(g, pieces[gen_random(g) % ARRAY_SIZE(pieces)]);
            put_ws(g);
            put(g, ",");
            put_ws(g);
        }
        put(g, "\"batch\"");
        put_ws(g);
        put(g, ":");
        put_ws(g);
        put(g, "[");
        size_t count = gen_random(g) % 12;
        for (size_t i = 0; i < count; i++) {
            put_ws(g);
            if (i)
                put(g, ",");
            put_ws(g);
            put(g, pieces[gen_random(g) % ARRAY_SIZE(pieces)]);
        }
        put_ws(g);
        put(g, "]");
        put_ws(g);
        put(g, "}");
        put_ws(g);
        if (count)
            check_against_cjson(g->buf, g->n);
        else
            assert_int_equal(collect_batch_slices(g->buf, g->n, NULL, 0), 0);
    }
    free(g);
}

static void test_cap(void **state)
{
    (void)state;
    static const char body[] = "{\"batch\":[{\"a\":1},2,\"three\",[4],null]}";
    const size_t n = sizeof(body) - 1;
    struct slice out[8];
    assert_int_equal(collect_batch_slices(body, n, out, 5), 5); /* exactly cap */
    assert_int_equal(collect_batch_slices(body, n, out, 8), 5);
    /* More elements than cap: -1, and nothing written past cap. */
    struct slice guard[5];
    memset(guard, 0x5a, sizeof(guard));
    assert_int_equal(collect_batch_slices(body, n, guard, 4), -1);
    struct slice untouched;
    memset(&untouched, 0x5a, sizeof(untouched));
    assert_memory_equal(&guard[4], &untouched, sizeof(untouched));
    assert_int_equal(collect_batch_slices(body, n, out, 1), -1);
    assert_int_equal(collect_batch_slices(body, n, NULL, 0), -1);
    /* An empty batch needs no room. */
    assert_int_equal(collect_batch_slices("{\"batch\":[]}", 12, NULL, 0), 0);
    /* n bounds the text: a body cut short is not read past its end. */
    char *cut = exact_copy(body, 20);
    assert_int_equal(collect_batch_slices(cut, 20, out, 8), -1);
    free(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_cases),
        cmocka_unit_test(test_slices_match_cjson),
        cmocka_unit_test(test_generated_batches),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
