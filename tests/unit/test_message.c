/* test_message.c - Segment-spec checks (message_check) for every call type with and
 * without its required fields, ids given as numbers, empty strings, limits, wrong types,
 * bad times, generated messageIds, clock-skew correction; message_render, which puts
 * the server's fields back into a stored message (every other member kept as the
 * client's text, writeKeys and duplicate names out); and message_strip_write_key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>

#include "core/timeutil.h"
#include "ingest/message.h"

/* Messages are written with ' for " to keep them readable; jq swaps them. The caller
 * frees the result. */
static char *jq(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *c = out; *c; c++)
        if (*c == '\'')
            *c = '"';
    return out;
}

static cJSON *parse(const char *msg)
{
    char *json = jq(msg);
    cJSON *m = cJSON_Parse(json);
    free(json);
    if (!m)
        fail_msg("test message is not JSON: %s", msg);
    return m;
}

static int64_t ms(const char *iso)
{
    int64_t t = 0;
    if (time_parse_iso8601(iso, strlen(iso), &t))
        fail_msg("bad test time %s", iso);
    return t;
}

#define RECEIVED "2026-11-23T08:00:10.000Z"

/* What message_check said: its code and "field:code,field:code" for its reasons. */
struct checked {
    int rc;
    char reasons[512];
    char *printed; /* the reasons as JSON */
    struct message_info info;
};

/* Checks msg and summarises the reasons; every reason must have a message. The message
 * itself must not change. */
static void check(const char *msg, enum message_type type, int64_t batch_sent_at,
                  struct checked *out)
{
    cJSON *m = parse(msg);
    char *before = cJSON_PrintUnformatted(m);
    cJSON *reasons = cJSON_CreateArray();
    assert_non_null(before);
    assert_non_null(reasons);
    memset(out, 0, sizeof(*out));
    out->rc = message_check(m, type, ms(RECEIVED), batch_sent_at, &out->info, reasons);
    size_t o = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, reasons)
    {
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(r, "field"));
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(r, "code"));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(r, "message"));
        if (!field || !code || !text || !*text)
            fail_msg("%s: a reason without field, code or message", msg);
        o += (size_t)snprintf(out->reasons + o, sizeof(out->reasons) - o, "%s%s:%s", o ? "," : "",
                              field, code);
        assert_true(o < sizeof(out->reasons));
    }
    out->printed = cJSON_PrintUnformatted(reasons);
    assert_non_null(out->printed);
    char *after = cJSON_PrintUnformatted(m);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
    cJSON_Delete(reasons);
    /* info's strings may point into m: the callers that read them parse again. */
    cJSON_Delete(m);
    out->info.user_id = out->info.anonymous_id = out->info.message_id = out->info.event = NULL;
}

/* ---- message_check: required fields and types, table-driven --------------------- */

struct check_case {
    enum message_type type; /* the endpoint's; MSG_TYPE_NONE for a batch item */
    const char *msg;
    const char *want; /* "" for well formed, else every reason as "field:code,..." */
};

#define ID MSG_IDENTIFY
#define TR MSG_TRACK
#define PG MSG_PAGE
#define SC MSG_SCREEN
#define GR MSG_GROUP
#define AL MSG_ALIAS
#define BA MSG_TYPE_NONE

static const struct check_case check_cases[] = {
    /* identify: userId or anonymousId */
    {ID, "{'userId':'u1'}", ""},
    {ID, "{'anonymousId':'a1'}", ""},
    {ID, "{'userId':'u1','traits':{'plan':'pro'}}", ""},
    {ID, "{}", "userId:required"},
    {ID, "{'userId':''}", "userId:required"}, /* empty counts as absent */
    {ID, "{'userId':'','anonymousId':''}", "userId:required"},
    {ID, "{'userId':null,'anonymousId':null}", "userId:required"},
    {ID, "{'userId':'','anonymousId':'a1'}", ""},
    {ID, "{'userId':'u1','anonymousId':''}", ""},
    {ID, "{'userId':42}", ""},
    {ID, "{'anonymousId':0}", ""},
    {ID, "{'userId':{'id':1}}", "userId:type"},
    {ID, "{'userId':[1]}", "userId:type"},
    {ID, "{'userId':true}", "userId:type"},
    {ID, "{'userId':'u1','anonymousId':false}", "anonymousId:type"},
    {ID, "{'userId':'u1','traits':'pro'}", "traits:type"},
    {ID, "{'userId':'u1','traits':['pro']}", "traits:type"},
    {ID, "{'userId':'u1','traits':null}", ""},
    /* track: event */
    {TR, "{'userId':'u1','event':'Order Completed'}", ""},
    {TR, "{'anonymousId':'a1','event':'Order Completed','properties':{'total':1}}", ""},
    {TR, "{'userId':'u1'}", "event:required"},
    {TR, "{'event':'E'}", "userId:required"},
    {TR, "{}", "userId:required,event:required"},
    {TR, "{'userId':'u1','event':5}", "event:type"},
    {TR, "{'userId':'u1','event':{'name':'E'}}", "event:type"},
    {TR, "{'userId':'u1','event':'E','properties':'a string'}", "properties:type"},
    {TR, "{'userId':'u1','event':'E','properties':[1,2]}", "properties:type"},
    {TR, "{'userId':'u1','event':'E','properties':5}", "properties:type"},
    {TR, "{'userId':'u1','event':'E','properties':{}}", ""},
    {TR, "{'userId':'u1','event':'E','properties':null}", ""},
    {TR, "{'userId':'u1','event':'E','context':'web'}", "context:type"},
    {TR, "{'userId':'u1','event':'E','context':{'ip':'1.2.3.4'}}", ""},
    {TR, "{'userId':'u1','event':'E','integrations':true}", "integrations:type"},
    {TR, "{'userId':'u1','event':'E','integrations':{'All':false}}", ""},
    /* page and screen: name is optional, a string when given */
    {PG, "{'userId':'u1'}", ""},
    {PG, "{'userId':'u1','name':'Home'}", ""},
    {PG, "{'anonymousId':'a1','name':''}", ""},
    {PG, "{'anonymousId':'a1','name':null}", ""},
    {PG, "{'userId':'u1','name':5}", "name:type"},
    {PG, "{'name':'Home'}", "userId:required"},
    {SC, "{'userId':'u1','name':'Main'}", ""},
    {SC, "{'userId':'u1'}", ""},
    {SC, "{'userId':'u1','name':['Main']}", "name:type"},
    /* group: groupId */
    {GR, "{'userId':'u1','groupId':'g1'}", ""},
    {GR, "{'anonymousId':'a1','groupId':'g1','traits':{'n':1}}", ""},
    {GR, "{'userId':'u1','groupId':42}", ""},
    {GR, "{'userId':'u1'}", "groupId:required"},
    {GR, "{'userId':'u1','groupId':''}", "groupId:required"},
    {GR, "{'userId':'u1','groupId':null}", "groupId:required"},
    {GR, "{'userId':'u1','groupId':{}}", "groupId:type"},
    /* alias: previousId and userId */
    {AL, "{'userId':'u1','previousId':'a1'}", ""},
    {AL, "{'userId':'u1','previousId':7}", ""},
    {AL, "{'userId':'u1'}", "previousId:required"},
    {AL, "{'userId':'u1','previousId':''}", "previousId:required"},
    {AL, "{'userId':'u1','previousId':[]}", "previousId:type"},
    {AL, "{'anonymousId':'a1','previousId':'p1'}", "userId:required"},
    /* batch items: the message's type decides */
    {BA, "{'type':'identify','userId':'u1'}", ""},
    {BA, "{'type':'track','userId':'u1','event':'E'}", ""},
    {BA, "{'type':'page','userId':'u1'}", ""},
    {BA, "{'type':'screen','userId':'u1'}", ""},
    {BA, "{'type':'group','userId':'u1','groupId':'g'}", ""},
    {BA, "{'type':'alias','userId':'u1','previousId':'p'}", ""},
    {BA, "{'userId':'u1','event':'E'}", "type:required"},
    {BA, "{'type':'purchase','userId':'u1'}", "type:invalid_type"},
    {BA, "{'type':'Track','userId':'u1','event':'E'}", "type:invalid_type"},
    {BA, "{'type':'track','userId':'u1'}", "event:required"},
    {BA, "{'type':'alias','userId':'u1'}", "previousId:required"},
    {BA, "{'type':'group','anonymousId':'a1'}", "groupId:required"},
    /* an endpoint's type wins over the message's */
    {TR, "{'type':'identify','userId':'u1'}", "event:required"},
    {ID, "{'type':'purchase','userId':'u1'}", ""},
    /* messageId */
    {TR, "{'userId':'u1','event':'E','messageId':'m-1'}", ""},
    {TR, "{'userId':'u1','event':'E','messageId':12345}", ""},
    {TR, "{'userId':'u1','event':'E','messageId':null}", ""},
    {TR, "{'userId':'u1','event':'E','messageId':{}}", "messageId:type"},
    {TR, "{'userId':'u1','event':'E','messageId':true}", "messageId:type"},
    /* times */
    {TR, "{'userId':'u1','event':'E','timestamp':'2020-01-01T00:00:00Z'}", ""},
    {TR, "{'userId':'u1','event':'E','timestamp':'2020-01-01'}", ""},
    {TR, "{'userId':'u1','event':'E','timestamp':'2020-01-01T08:00:00+08:00'}", ""},
    {TR, "{'userId':'u1','event':'E','timestamp':null}", ""},
    {TR, "{'userId':'u1','event':'E','timestamp':'yesterday'}", "timestamp:invalid_timestamp"},
    {TR, "{'userId':'u1','event':'E','timestamp':'2020-02-30T00:00:00Z'}",
     "timestamp:invalid_timestamp"},
    {TR, "{'userId':'u1','event':'E','timestamp':'2020-06-30T23:59:60Z'}",
     "timestamp:invalid_timestamp"},
    {TR, "{'userId':'u1','event':'E','timestamp':1577836800000}", "timestamp:invalid_timestamp"},
    {TR, "{'userId':'u1','event':'E','originalTimestamp':'2020-13-01T00:00:00Z'}",
     "originalTimestamp:invalid_timestamp"},
    {TR, "{'userId':'u1','event':'E','sentAt':'2020-01-01T25:00:00Z'}", "sentAt:invalid_timestamp"},
    {TR, "{'userId':'u1','event':'E','sentAt':{}}", "sentAt:invalid_timestamp"},
    /* every problem is reported, in field order */
    {TR,
     "{'userId':{},'event':5,'properties':3,'traits':'t','context':[],'integrations':1,"
     "'messageId':true,'timestamp':'x','originalTimestamp':'y','sentAt':'z'}",
     "userId:type,event:type,properties:type,traits:type,context:type,integrations:type,"
     "messageId:type,timestamp:invalid_timestamp,originalTimestamp:invalid_timestamp,"
     "sentAt:invalid_timestamp"},
};

static void test_check_cases(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t k = 0; k < ARRAY_SIZE(check_cases); k++) {
        const struct check_case *c = &check_cases[k];
        struct checked got;
        check(c->msg, c->type, INT64_MIN, &got);
        int want_rc = c->want[0] ? ERR_INVALID : 0;
        if (got.rc != want_rc || strcmp(got.reasons, c->want) != 0) {
            print_error("case %zu %s %s: rc %d reasons \"%s\", want rc %d \"%s\"\n", k,
                        message_type_name(c->type), c->msg, got.rc, got.reasons, want_rc, c->want);
            failures++;
        }
        free(got.printed);
    }
    assert_int_equal(failures, 0);
}

static void test_check_empty_and_null_event(void **state)
{
    (void)state;
    /* An empty or null event is no event: refused, naming the field. Only the field is
     * pinned: the code is "type" today, although "required" (as for a missing event)
     * would describe an empty string or a null better. */
    static const char *const msgs[] = {"{'userId':'u1','event':''}",
                                       "{'userId':'u1','event':null}"};
    for (size_t k = 0; k < ARRAY_SIZE(msgs); k++) {
        struct checked got;
        check(msgs[k], MSG_TRACK, INT64_MIN, &got);
        assert_int_equal(got.rc, ERR_INVALID);
        if (strncmp(got.reasons, "event:", 6) != 0 || strchr(got.reasons, ','))
            fail_msg("%s: reasons %s", msgs[k], got.reasons);
        free(got.printed);
    }
}

static void test_check_empty_message_id(void **state)
{
    (void)state;
    /* An empty messageId is refused rather than replaced by a generated one (unlike an
     * empty userId, which counts as absent): the sender meant to name the message. */
    struct checked got;
    check("{'userId':'u1','event':'E','messageId':''}", MSG_TRACK, INT64_MIN, &got);
    assert_int_equal(got.rc, ERR_INVALID);
    assert_string_equal(got.reasons, "messageId:type");
    free(got.printed);
}

/* ---- limits -------------------------------------------------------------------- */

static const struct {
    enum message_type type;
    const char *base; /* the other fields */
    const char *field;
    size_t max;
} long_cases[] = {
    {MSG_IDENTIFY, "{}", "userId", MESSAGE_USER_ID_MAX},
    {MSG_IDENTIFY, "{}", "anonymousId", MESSAGE_USER_ID_MAX},
    {MSG_ALIAS, "{'userId':'u1'}", "previousId", MESSAGE_USER_ID_MAX},
    {MSG_GROUP, "{'userId':'u1'}", "groupId", MESSAGE_USER_ID_MAX},
    {MSG_TRACK, "{'userId':'u1'}", "event", MESSAGE_EVENT_MAX},
    {MSG_PAGE, "{'userId':'u1'}", "name", MESSAGE_EVENT_MAX},
    {MSG_SCREEN, "{'userId':'u1'}", "name", MESSAGE_EVENT_MAX},
    {MSG_TRACK, "{'userId':'u1','event':'E'}", "messageId", MESSAGE_ID_MAX},
};

/* base with field set to a string of exactly len bytes: "PII" repeated, and when
 * multibyte is set, ending in a 2-byte e-acute (so that it has one character less). */
static cJSON *with_long_field(const char *base, const char *field, size_t len, bool multibyte)
{
    cJSON *m = parse(base);
    char *v = malloc(len + 1);
    assert_non_null(v);
    for (size_t i = 0; i < len; i++)
        v[i] = "PII"[i % 3];
    if (multibyte) {
        v[len - 2] = '\xc3';
        v[len - 1] = '\xa9';
    }
    v[len] = 0;
    assert_non_null(cJSON_AddStringToObject(m, field, v));
    free(v);
    return m;
}

static void test_check_limits(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_SIZE(long_cases); k++) {
        const char *field = long_cases[k].field;
        size_t max = long_cases[k].max;
        for (int over = 0; over <= 1; over++) {
            /* At the limit: accepted. One byte over (counted in bytes, not characters):
             * refused as too_long, and the reason does not quote the value. */
            cJSON *m = with_long_field(long_cases[k].base, field, max + (size_t)over, over);
            cJSON *reasons = cJSON_CreateArray();
            struct message_info info;
            int rc = message_check(m, long_cases[k].type, ms(RECEIVED), INT64_MIN, &info, reasons);
            char *printed = cJSON_PrintUnformatted(reasons);
            assert_non_null(printed);
            char want[64];
            snprintf(want, sizeof(want), "[{\"field\":\"%s\",\"code\":\"too_long\"", field);
            bool ok = over ? rc == ERR_INVALID && strncmp(printed, want, strlen(want)) == 0 &&
                                 cJSON_GetArraySize(reasons) == 1 && !strstr(printed, "PIIPII")
                           : rc == 0 && cJSON_GetArraySize(reasons) == 0;
            if (!ok)
                fail_msg("%s of %zu bytes: rc %d reasons %s", field, max + (size_t)over, rc,
                         printed);
            free(printed);
            cJSON_Delete(reasons);
            cJSON_Delete(m);
        }
    }
}

/* ---- what message_check extracts ------------------------------------------------- */

static void test_check_extracts(void **state)
{
    (void)state;
    static const struct {
        enum message_type type;
        const char *msg;
        enum message_type want_type;
        const char *event, *user_id, *anonymous_id, *message_id;
    } cases[] = {
        {MSG_TRACK,
         "{'userId':'u-1','anonymousId':'a-1','event':'Order Completed','messageId':'m-1'}",
         MSG_TRACK, "Order Completed", "u-1", "a-1", "m-1"},
        {MSG_PAGE, "{'anonymousId':'a-2','name':'Pricing','messageId':'m-2'}", MSG_PAGE, "Pricing",
         NULL, "a-2", "m-2"},
        {MSG_SCREEN, "{'userId':'u-3','name':'Cart','messageId':'m-3'}", MSG_SCREEN, "Cart", "u-3",
         NULL, "m-3"},
        {MSG_PAGE, "{'userId':'u-4','name':'','messageId':'m-4'}", MSG_PAGE, NULL, "u-4", NULL,
         "m-4"},
        {MSG_IDENTIFY, "{'userId':'u-5','event':'Ignored','name':'Ignored','messageId':'m-5'}",
         MSG_IDENTIFY, NULL, "u-5", NULL, "m-5"},
        {MSG_TYPE_NONE, "{'type':'group','userId':'u-6','groupId':'g','messageId':'m-6'}",
         MSG_GROUP, NULL, "u-6", NULL, "m-6"},
        {MSG_TYPE_NONE, "{'type':'alias','userId':'u-7','previousId':'p','messageId':'m-7'}",
         MSG_ALIAS, NULL, "u-7", NULL, "m-7"},
        {MSG_IDENTIFY, "{'userId':'','anonymousId':'a-8','messageId':'m-8'}", MSG_IDENTIFY, NULL,
         NULL, "a-8", "m-8"},
        {MSG_IDENTIFY, "{'userId':'u-9','anonymousId':'','messageId':'m-9'}", MSG_IDENTIFY, NULL,
         "u-9", NULL, "m-9"},
        {MSG_TRACK, "{'type':'identify','userId':'u-10','event':'E','messageId':'m-10'}", MSG_TRACK,
         "E", "u-10", NULL, "m-10"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        cJSON *m = parse(cases[k].msg);
        cJSON *reasons = cJSON_CreateArray();
        struct message_info info;
        assert_int_equal(message_check(m, cases[k].type, ms(RECEIVED), INT64_MIN, &info, reasons),
                         0);
        assert_int_equal(info.type, cases[k].want_type);
        const char *got[4] = {info.event, info.user_id, info.anonymous_id, info.message_id};
        const char *want[4] = {cases[k].event, cases[k].user_id, cases[k].anonymous_id,
                               cases[k].message_id};
        for (int f = 0; f < 4; f++) {
            if (!want[f] ? got[f] != NULL : !got[f] || strcmp(got[f], want[f]) != 0)
                fail_msg("%s: field %d is \"%s\", want \"%s\"", cases[k].msg, f,
                         got[f] ? got[f] : "(null)", want[f] ? want[f] : "(null)");
        }
        assert_true(info.received_at == ms(RECEIVED));
        assert_true(info.timestamp == ms(RECEIVED)); /* no client times: receivedAt */
        assert_true(info.sent_at == INT64_MIN);
        assert_true(info.client_timestamp == INT64_MIN);
        assert_false(info.has_write_key);
        cJSON_Delete(reasons);
        cJSON_Delete(m);
    }
}

static void test_check_numeric_ids(void **state)
{
    (void)state;
    /* A whole number is taken as its text, for userId, anonymousId and messageId; a
     * number that is not a whole number within doubles' exact range is refused (its
     * text cannot be recovered from cJSON's double), naming the field. */
    static const struct {
        const char *number, *text; /* text NULL: refused */
    } cases[] = {
        {"42", "42"},
        {"0", "0"},
        {"-7", "-7"},
        {"1e3", "1000"},
        {"123456789012345", "123456789012345"},
        {"9007199254740991", "9007199254740991"}, /* 2^53 - 1 */
        {"-9007199254740991", "-9007199254740991"},
        {"1.5", NULL},
        {"-0.25", NULL},
        {"1234567890123456789", NULL},
        {"1e300", NULL},
    };
    static const char *const fields[] = {"userId", "anonymousId", "messageId"};
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
            char json[256], want[64];
            snprintf(json, sizeof(json), "{\"event\":\"E\",%s\"%s\":%s}",
                     f ? "\"userId\":\"u\"," : "", fields[f], cases[k].number);
            cJSON *m = cJSON_Parse(json);
            assert_non_null(m);
            cJSON *reasons = cJSON_CreateArray();
            struct message_info info;
            int rc = message_check(m, MSG_TRACK, 0, INT64_MIN, &info, reasons);
            const char *got = f == 0 ? info.user_id : f == 1 ? info.anonymous_id : info.message_id;
            char *printed = cJSON_PrintUnformatted(reasons);
            snprintf(want, sizeof(want), "[{\"field\":\"%s\",\"code\":\"type\"", fields[f]);
            bool ok = cases[k].text
                          ? rc == 0 && got && strcmp(got, cases[k].text) == 0
                          : rc == ERR_INVALID && strncmp(printed, want, strlen(want)) == 0;
            if (!ok)
                fail_msg("%s: rc %d, id \"%s\", reasons %s; want %s", json, rc,
                         got ? got : "(null)", printed, cases[k].text ? cases[k].text : "refused");
            free(printed);
            cJSON_Delete(reasons);
            cJSON_Delete(m);
        }
    }
}

static void test_check_numeric_ids_never_merge(void **state)
{
    (void)state;
    /* Two different numeric ids must never become the same text: for messageIds the
     * second message would be dropped as a duplicate, for userIds two people merge.
     * Each pair is either refused or kept apart.
     *
     * BUG (src/ingest/message.c, id_field): the range check is d <= 2^53, inclusive.
     * The JSON numbers 9007199254740992 and 9007199254740993 are the same double, 2^53,
     * so both are accepted as "9007199254740992" (and -2^53 - 1 as "-9007199254740992");
     * the refusal text itself says "below 2^53". Fails until the bound is exclusive. */
    static const char *const pairs[][2] = {
        {"9007199254740992", "9007199254740993"},
        {"-9007199254740992", "-9007199254740993"},
        {"1234567890123456789", "1234567890123456790"},
        {"18446744073709551616", "18446744073709551617"},
    };
    static const char *const fields[] = {"userId", "messageId"};
    int merged = 0;
    for (size_t k = 0; k < ARRAY_SIZE(pairs); k++) {
        for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
            char texts[2][48];
            int rcs[2];
            for (int side = 0; side < 2; side++) {
                char json[128];
                snprintf(json, sizeof(json), "{\"event\":\"E\",%s\"%s\":%s}",
                         f ? "\"userId\":\"u\"," : "", fields[f], pairs[k][side]);
                cJSON *m = cJSON_Parse(json);
                cJSON *reasons = cJSON_CreateArray();
                struct message_info info;
                rcs[side] = message_check(m, MSG_TRACK, 0, INT64_MIN, &info, reasons);
                const char *got = f == 0 ? info.user_id : info.message_id;
                snprintf(texts[side], sizeof(texts[side]), "%s", got ? got : "");
                cJSON_Delete(reasons);
                cJSON_Delete(m);
                /* Accepted means accepted with its own digits. */
                if (rcs[side] == 0 && strcmp(texts[side], pairs[k][side]) != 0) {
                    print_error("%s %s accepted as \"%s\"\n", fields[f], pairs[k][side],
                                texts[side]);
                    merged++;
                }
            }
            if (rcs[0] == 0 && rcs[1] == 0 && strcmp(texts[0], texts[1]) == 0)
                print_error("%s %s and %s both become \"%s\"\n", fields[f], pairs[k][0],
                            pairs[k][1], texts[0]);
        }
    }
    assert_int_equal(merged, 0); /* fails: 9007199254740993 and -9007199254740993 */
}

/* ---- generated messageIds -------------------------------------------------------- */

static bool uuid_v4(const char *u)
{
    for (int k = 0; k < 36; k++) {
        char c = u[k];
        if (k == 8 || k == 13 || k == 18 || k == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return u[36] == '\0' && u[14] == '4' && strchr("89ab", u[19]) != NULL;
}

static int compare_id(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

static void test_generated_message_id(void **state)
{
    (void)state;
    enum { COUNT = 2000 };
    char(*ids)[37] = malloc(COUNT * sizeof(*ids));
    assert_non_null(ids);
    cJSON *m = parse("{'userId':'u1','event':'E'}");
    cJSON *with_null = parse("{'userId':'u1','event':'E','messageId':null}");
    for (int k = 0; k < COUNT; k++) {
        cJSON *reasons = cJSON_CreateArray();
        struct message_info info;
        assert_int_equal(
            message_check(k % 2 ? with_null : m, MSG_TRACK, 0, INT64_MIN, &info, reasons), 0);
        assert_int_equal(cJSON_GetArraySize(reasons), 0);
        assert_non_null(info.message_id);
        if (!uuid_v4(info.message_id))
            fail_msg("generated messageId \"%s\" is not a UUID v4", info.message_id);
        memcpy(ids[k], info.message_id, 37);
        cJSON_Delete(reasons);
    }
    /* The message is not changed: the id lives in info. */
    assert_null(cJSON_GetObjectItem(m, "messageId"));
    qsort(ids, COUNT, sizeof(*ids), compare_id);
    for (int k = 1; k < COUNT; k++)
        if (memcmp(ids[k - 1], ids[k], 37) == 0)
            fail_msg("messageId %s generated twice", ids[k]);
    cJSON_Delete(m);
    cJSON_Delete(with_null);
    free(ids);
}

/* ---- times: clock-skew correction ------------------------------------------------ */

static void test_clock_skew(void **state)
{
    (void)state;
    /* received at RECEIVED = 2026-11-23T08:00:10Z. */
    static const struct {
        const char *msg;
        const char *batch_sent_at; /* NULL: none */
        const char *timestamp;     /* the corrected timestamp */
        const char *sent_at;       /* NULL: INT64_MIN */
        const char *client;        /* NULL: INT64_MIN */
    } cases[] = {
        /* client clock 6 years slow: the event happened 10 s before it was sent */
        {"{'timestamp':'2020-01-01T00:00:00Z','sentAt':'2020-01-01T00:00:10Z'}", NULL,
         "2026-11-23T08:00:00Z", "2020-01-01T00:00:10Z", "2020-01-01T00:00:00Z"},
        /* client clock fast, with milliseconds */
        {"{'timestamp':'2030-05-05T12:00:00.250Z','sentAt':'2030-05-05T12:00:05.750Z'}", NULL,
         "2026-11-23T08:00:04.500Z", "2030-05-05T12:00:05.750Z", "2030-05-05T12:00:00.250Z"},
        /* offsets are honoured */
        {"{'timestamp':'2020-01-01T08:00:00+08:00','sentAt':'2020-01-01T00:00:10Z'}", NULL,
         "2026-11-23T08:00:00Z", "2020-01-01T00:00:10Z", "2020-01-01T00:00:00Z"},
        /* originalTimestamp is the client's time when both are given */
        {"{'timestamp':'2019-01-01T00:00:00Z','originalTimestamp':'2020-01-01T00:00:07Z',"
         "'sentAt':'2020-01-01T00:00:10Z'}",
         NULL, "2026-11-23T08:00:07Z", "2020-01-01T00:00:10Z", "2020-01-01T00:00:07Z"},
        {"{'originalTimestamp':'2020-01-01T00:00:07Z','sentAt':'2020-01-01T00:00:10Z'}", NULL,
         "2026-11-23T08:00:07Z", "2020-01-01T00:00:10Z", "2020-01-01T00:00:07Z"},
        /* no sentAt: the client's timestamp is kept */
        {"{'timestamp':'2020-01-01T00:00:00Z'}", NULL, "2020-01-01T00:00:00Z", NULL,
         "2020-01-01T00:00:00Z"},
        /* sentAt without a client timestamp: receivedAt */
        {"{'sentAt':'2020-01-01T00:00:10Z'}", NULL, RECEIVED, "2020-01-01T00:00:10Z", NULL},
        /* neither: receivedAt */
        {"{}", NULL, RECEIVED, NULL, NULL},
        /* the batch's sentAt when the message has none */
        {"{'timestamp':'2020-01-01T00:00:00Z'}", "2020-01-01T00:01:00Z", "2026-11-23T07:59:10Z",
         "2020-01-01T00:01:00Z", "2020-01-01T00:00:00Z"},
        {"{}", "2020-01-01T00:01:00Z", RECEIVED, "2020-01-01T00:01:00Z", NULL},
        /* the message's own sentAt wins over the batch's */
        {"{'timestamp':'2020-01-01T00:00:00Z','sentAt':'2020-01-01T00:00:03Z'}",
         "2020-01-01T00:01:00Z", "2026-11-23T08:00:07Z", "2020-01-01T00:00:03Z",
         "2020-01-01T00:00:00Z"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        /* The same times on a message that is otherwise well formed. */
        cJSON *m = parse(cases[k].msg);
        cJSON_AddStringToObject(m, "userId", "u1");
        cJSON_AddStringToObject(m, "event", "E");
        cJSON *reasons = cJSON_CreateArray();
        struct message_info info;
        int64_t batch = cases[k].batch_sent_at ? ms(cases[k].batch_sent_at) : INT64_MIN;
        assert_int_equal(message_check(m, MSG_TRACK, ms(RECEIVED), batch, &info, reasons), 0);
        int64_t want_sent = cases[k].sent_at ? ms(cases[k].sent_at) : INT64_MIN;
        int64_t want_client = cases[k].client ? ms(cases[k].client) : INT64_MIN;
        if (info.timestamp != ms(cases[k].timestamp) || info.sent_at != want_sent ||
            info.client_timestamp != want_client || info.received_at != ms(RECEIVED))
            fail_msg("%s: timestamp %" PRId64 " sent_at %" PRId64 " client %" PRId64
                     ", want %" PRId64 " %" PRId64 " %" PRId64,
                     cases[k].msg, info.timestamp, info.sent_at, info.client_timestamp,
                     ms(cases[k].timestamp), want_sent, want_client);
        cJSON_Delete(reasons);
        cJSON_Delete(m);
    }
}

static void test_has_write_key(void **state)
{
    (void)state;
    struct checked got;
    check("{'userId':'u1','event':'E','writeKey':'wk_secret'}", MSG_TRACK, INT64_MIN, &got);
    assert_int_equal(got.rc, 0);
    assert_true(got.info.has_write_key);
    free(got.printed);
    check("{'userId':'u1','event':'E'}", MSG_TRACK, INT64_MIN, &got);
    assert_false(got.info.has_write_key);
    free(got.printed);
    check("{'userId':'u1','event':'E','writekey':'x'}", MSG_TRACK, INT64_MIN, &got);
    assert_false(got.info.has_write_key); /* names are case-sensitive */
    free(got.printed);
    /* A refused message still says whether it carries a key (it is quarantined, and the
     * key must come out of it too). */
    check("{'event':'E','writeKey':'wk_secret'}", MSG_TRACK, INT64_MIN, &got);
    assert_int_equal(got.rc, ERR_INVALID);
    assert_true(got.info.has_write_key);
    assert_null(strstr(got.printed, "wk_secret"));
    free(got.printed);
}

static void test_type_names(void **state)
{
    (void)state;
    static const char *const names[] = {"identify", "track", "page", "screen", "group", "alias"};
    for (int t = 0; t < MSG_TYPE_COUNT; t++) {
        assert_string_equal(message_type_name((enum message_type)t), names[t]);
        assert_int_equal(message_type_parse(names[t]), t);
    }
    assert_int_equal(message_type_parse("batch"), MSG_TYPE_NONE);
    assert_int_equal(message_type_parse(""), MSG_TYPE_NONE);
    assert_int_equal(message_type_parse("TRACK"), MSG_TYPE_NONE);
    assert_int_equal(message_type_parse("trackx"), MSG_TYPE_NONE);
    assert_string_equal(message_type_name(MSG_TYPE_NONE), "unknown");
    assert_string_equal(message_type_name(MSG_TYPE_COUNT), "unknown");
}

/* ---- message_render --------------------------------------------------------------- */

/* Renders raw from an exact-size heap copy (so that ASan catches a read past raw_len)
 * and parses the result; NULL when message_render returned NULL. *text gets the text
 * (the caller frees it with cJSON_free) when text is not NULL. */
static cJSON *render(const char *raw, size_t raw_len, const char *type, const char *mid,
                     int64_t received_at, int64_t timestamp, const char *source, char **text)
{
    char *copy = malloc(raw_len ? raw_len : 1);
    assert_non_null(copy);
    memcpy(copy, raw, raw_len);
    char *out = message_render(copy, raw_len, type, mid, received_at, timestamp, source);
    free(copy);
    if (!out)
        return NULL;
    cJSON *parsed = cJSON_Parse(out);
    if (!parsed) {
        char head[256];
        snprintf(head, sizeof(head), "%s", out);
        cJSON_free(out);
        fail_msg("message_render returned text that is not JSON: %s", head);
    }
    if (text)
        *text = out;
    else
        cJSON_free(out);
    return parsed;
}

static const char *str_of(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* How many times "name": occurs in text. */
static int occurrences(const char *text, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    int n = 0;
    for (const char *p = text; (p = strstr(p, pat)); p += strlen(pat))
        n++;
    return n;
}

static void test_render_server_fields(void **state)
{
    (void)state;
    char *raw = jq("{'type':'identify','userId':'u1','event':'Order Completed',"
                   "'writeKey':'wk_secret','messageId':'client-id',"
                   "'timestamp':'2020-01-01T00:00:00Z','sentAt':'2020-01-01T00:00:10Z',"
                   "'receivedAt':'1999-01-01T00:00:00Z','source':'spoofed'}");
    char *text = NULL;
    cJSON *o = render(raw, strlen(raw), "track", "m-1", ms(RECEIVED), ms("2026-11-23T08:00:00Z"),
                      "web", &text);
    assert_non_null(o);
    assert_string_equal(str_of(o, "type"), "track");
    assert_string_equal(str_of(o, "messageId"), "m-1");
    assert_string_equal(str_of(o, "receivedAt"), "2026-11-23T08:00:10.000Z");
    assert_string_equal(str_of(o, "timestamp"), "2026-11-23T08:00:00.000Z");
    /* The client's timestamp is kept as originalTimestamp. */
    assert_string_equal(str_of(o, "originalTimestamp"), "2020-01-01T00:00:00Z");
    assert_string_equal(str_of(o, "source"), "web");
    assert_string_equal(str_of(o, "sentAt"), "2020-01-01T00:00:10Z");
    /* No credential, by name or by value. */
    assert_null(cJSON_GetObjectItem(o, "writeKey"));
    assert_null(strstr(text, "wk_secret"));
    /* Each name once: 9 in, writeKey out, originalTimestamp in. */
    static const char *const names[] = {"type",      "userId",     "event",
                                        "messageId", "timestamp",  "originalTimestamp",
                                        "sentAt",    "receivedAt", "source"};
    for (size_t k = 0; k < ARRAY_SIZE(names); k++)
        if (occurrences(text, names[k]) != 1)
            fail_msg("\"%s\" %d times in %s", names[k], occurrences(text, names[k]), text);
    assert_int_equal(cJSON_GetArraySize(o), 9);
    cJSON_free(text);
    cJSON_Delete(o);
    free(raw);
}

static void test_render_original_timestamp_kept(void **state)
{
    (void)state;
    /* An originalTimestamp the client sent wins; no client time gives none. */
    char *raw = jq("{'userId':'u1','timestamp':'2020-01-01T00:00:00Z',"
                   "'originalTimestamp':'2019-05-05T05:05:05Z'}");
    char *text = NULL;
    cJSON *o = render(raw, strlen(raw), "identify", "m-1", 0, 1000, NULL, &text);
    assert_non_null(o);
    assert_string_equal(str_of(o, "originalTimestamp"), "2019-05-05T05:05:05Z");
    assert_int_equal(occurrences(text, "originalTimestamp"), 1);
    assert_string_equal(str_of(o, "timestamp"), "1970-01-01T00:00:01.000Z");
    assert_null(cJSON_GetObjectItem(o, "source")); /* source NULL: none added */
    cJSON_free(text);
    cJSON_Delete(o);
    free(raw);

    raw = jq("{'originalTimestamp':'2019-05-05T05:05:05Z','userId':'u1',"
             "'timestamp':'2020-01-01T00:00:00Z'}"); /* in the other order */
    o = render(raw, strlen(raw), "identify", "m-1", 0, 1000, NULL, NULL);
    assert_non_null(o);
    assert_string_equal(str_of(o, "originalTimestamp"), "2019-05-05T05:05:05Z");
    cJSON_Delete(o);
    free(raw);

    raw = jq("{'userId':'u1'}");
    o = render(raw, strlen(raw), "identify", "m-1", 0, 0, NULL, NULL);
    assert_non_null(o);
    assert_null(cJSON_GetObjectItem(o, "originalTimestamp"));
    assert_string_equal(str_of(o, "timestamp"), "1970-01-01T00:00:00.000Z");
    cJSON_Delete(o);
    free(raw);
}

static void test_render_escapes_message_id(void **state)
{
    (void)state;
    /* A client's messageId may hold anything a JSON string can. */
    static const char *const ids[] = {"a\"b", "back\\slash", "tab\there", "caf\xc3\xa9",
                                      "</script>"};
    for (size_t k = 0; k < ARRAY_SIZE(ids); k++) {
        cJSON *o = render("{\"userId\":\"u1\"}", 15, "track", ids[k], 0, 0, NULL, NULL);
        assert_non_null(o);
        assert_string_equal(str_of(o, "messageId"), ids[k]);
        cJSON_Delete(o);
    }
}

static void test_render_keeps_other_fields(void **state)
{
    (void)state;
    static const char raw[] =
        "{ \"userId\" : \"u1\", \"event\":\"Order Completed\",\n"
        "  \"properties\": {\"total\": 19.99, \"count\": 3, \"neg\": -2.5e-3, \"zero\": 0,"
        " \"big\": 12345678901234567891, \"safe\": 9007199254740991,"
        " \"items\": [{\"sku\": \"A-1\", \"qty\": 2}, [1, [2, [3]]], null, true, false],"
        " \"quote\": \"say \\\"hi\\\" [not] {a: b}\", \"path\": \"C:\\\\tmp\\\\x\","
        " \"cafe\": \"caf\xc3\xa9 \xe5\xae\xa2\xe6\x88\xb7 \xf0\x9f\x98\x80\","
        " \"escaped\": \"caf\\u00e9 \\ud83d\\ude00 \\t\\n\","
        " \"empty\": {}, \"none\": []},\n"
        "  \"context\": {\"ip\": \"203.0.113.7\", \"library\": {\"name\": \"analytics-node\","
        " \"version\": \"2.1.0\"}, \"locale\": \"zh-CN\"},\n"
        "  \"integrations\": {\"All\": false, \"Mixpanel\": true},\n"
        "  \"anonymousId\": \"a-\xe5\xbc\xa0\", \"custom\": \"kept\", \"n\": null,"
        "  \"sentAt\": \"2020-01-01T00:00:10Z\" }";
    cJSON *in = cJSON_Parse(raw);
    assert_non_null(in);
    char *text = NULL;
    cJSON *out = render(raw, sizeof(raw) - 1, "track", "m-1", 0, 0, "web", &text);
    assert_non_null(out);
    /* Every member of the client's other than the server's is there with an equal value,
     * and its text is the client's, byte for byte (numbers keep every digit). */
    static const char *const verbatim[] = {
        "\"userId\" : \"u1\"",
        "\"event\":\"Order Completed\"",
        "\"big\": 12345678901234567891",
        "\"safe\": 9007199254740991",
        "\"neg\": -2.5e-3",
        "\"escaped\": \"caf\\u00e9 \\ud83d\\ude00 \\t\\n\"",
        "\"integrations\": {\"All\": false, \"Mixpanel\": true}",
        "\"anonymousId\": \"a-\xe5\xbc\xa0\"",
        "\"n\": null",
    };
    for (size_t k = 0; k < ARRAY_SIZE(verbatim); k++)
        if (!strstr(text, verbatim[k]))
            fail_msg("%s is not in %s", verbatim[k], text);
    const cJSON *item;
    int members = 0;
    cJSON_ArrayForEach(item, in)
    {
        members++;
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(out, item->string);
        if (!o || !cJSON_Compare(item, o, true))
            fail_msg("member \"%s\" changed", item->string);
    }
    /* ... and besides them only the server's fields. */
    assert_int_equal(cJSON_GetArraySize(out), members + 5);
    const cJSON *props = cJSON_GetObjectItem(out, "properties");
    assert_string_equal(str_of(props, "cafe"),
                        "caf\xc3\xa9 \xe5\xae\xa2\xe6\x88\xb7 \xf0\x9f\x98\x80");
    assert_string_equal(str_of(props, "escaped"), "caf\xc3\xa9 \xf0\x9f\x98\x80 \t\n");
    cJSON_free(text);
    cJSON_Delete(in);
    cJSON_Delete(out);
}

static void test_render_keeps_large_integers(void **state)
{
    (void)state;
    /* Numbers are the client's text: cJSON's doubles would print 9007199254740991
     * (2^53 - 1) as 9.00719925474099e+15 and change ids above 2^53. */
    static const char *const integers[] = {"123456789012345",
                                           "9007199254740991",
                                           "9007199254740993",
                                           "1234567890123456789",
                                           "12345678901234567891",
                                           "1e999",
                                           "-0.0"};
    int changed = 0;
    for (size_t k = 0; k < ARRAY_SIZE(integers); k++) {
        char raw[128], want[64];
        int n = snprintf(raw, sizeof(raw), "{\"userId\":\"u1\",\"properties\":{\"id\":%s}}",
                         integers[k]);
        snprintf(want, sizeof(want), "\"id\":%s}", integers[k]);
        char *text = NULL;
        cJSON *out = render(raw, (size_t)n, "track", "m-1", 0, 0, NULL, &text);
        assert_non_null(out);
        cJSON_Delete(out);
        if (!strstr(text, want)) {
            print_error("%s reads back as %s\n", integers[k], text);
            changed++;
        }
        cJSON_free(text);
    }
    assert_int_equal(changed, 0);
}

static void test_render_write_keys_removed(void **state)
{
    (void)state;
    /* Every writeKey goes: repeated, escaped, anywhere in the message. (A writeKey
     * inside properties is the client's data, not the credential member.) */
    static const char *const raws[] = {
        "{\"writeKey\":\"wk_first\",\"userId\":\"u1\",\"writeKey\":\"wk_second\"}",
        "{\"userId\":\"u1\",\"writ\\u0065Key\":\"wk_escaped\"}",
        "{\"\\u0077riteKey\":\"wk_escaped\",\"userId\":\"u1\",\"writeKey\":\"wk_plain\"}",
        "{\"userId\":\"u1\",\"writeKey\":{\"nested\":\"wk_object\"}}",
        "{\"writeKey\":\"wk_only\"}",
    };
    for (size_t k = 0; k < ARRAY_SIZE(raws); k++) {
        char *text = NULL;
        cJSON *out = render(raws[k], strlen(raws[k]), "track", "m-1", 0, 0, NULL, &text);
        assert_non_null(out);
        bool leaked = strstr(text, "wk_") != NULL || strstr(text, "riteKey") != NULL;
        if (leaked)
            print_error("%s rendered as %s\n", raws[k], text);
        cJSON_free(text);
        cJSON_Delete(out);
        assert_false(leaked);
    }
}

static void test_render_duplicate_names(void **state)
{
    (void)state;
    /* Of a name given twice only the first copy is kept: the one message_check read.
     * Server fields given twice are the server's, once. */
    static const struct {
        const char *raw, *name, *want;
    } cases[] = {
        {"{\"userId\":\"u1\",\"event\":\"E\",\"userId\":{\"a\":1}}", "userId", "\"userId\":\"u1\""},
        {"{\"userId\":\"u1\",\"user\\u0049d\":\"u2\"}", "userId", "\"userId\":\"u1\""},
        {"{\"properties\":{\"a\":1},\"properties\":\"x\"}", "properties",
         "\"properties\":{\"a\":1}"},
        {"{\"messageId\":\"a\",\"userId\":\"u1\",\"messageId\":\"spoof\"}", "messageId",
         "\"messageId\":\"m-1\""},
        {"{\"type\":\"alias\",\"userId\":\"u1\",\"type\":\"spoof\"}", "type", "\"type\":\"track\""},
        {"{\"receivedAt\":\"a\",\"receivedAt\":\"spoof\"}", "receivedAt",
         "\"receivedAt\":\"1970-01-01T00:00:00.000Z\""},
        {"{\"timestamp\":\"2020-01-01T00:00:00Z\",\"timestamp\":\"spoof\"}", "timestamp",
         "\"timestamp\":\"1970-01-01T00:00:00.000Z\""},
        {"{\"source\":\"a\",\"source\":\"spoof\"}", "source", "\"source\":\"web\""},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        char *text = NULL;
        cJSON *out = render(cases[k].raw, strlen(cases[k].raw), "track", "m-1", 0, 0, "web", &text);
        assert_non_null(out);
        int n = occurrences(text, cases[k].name);
        bool ok = n == 1 && strstr(text, cases[k].want) && !strstr(text, "spoof");
        if (!ok)
            print_error("%s rendered as %s\n", cases[k].raw, text);
        cJSON_free(text);
        cJSON_Delete(out);
        assert_true(ok);
    }
}

static void test_render_duplicate_after_many_members(void **state)
{
    (void)state;
    /* BUG (src/ingest/message.c, copy_members): names are remembered for the duplicate
     * check only for the first RENDER_MAX_MEMBERS (512) members; later members are all
     * kept (the comment there says "later ones are dropped"). So 512 filler members,
     * then "userId":"u1" (the copy message_check reads) and "userId":{"a":1}, read back
     * with both userIds, and JSON readers keep the last: the duplicated-member smuggling
     * fixed for small messages comes back for a 5 KB one. Fails until every name is
     * checked (or such a message is refused). */
    char *raw = malloc(16384);
    assert_non_null(raw);
    size_t n = (size_t)snprintf(raw, 16384, "{\"event\":\"E\"");
    for (int k = 0; k < 520; k++)
        n += (size_t)snprintf(raw + n, 16384 - n, ",\"f%d\":%d", k, k);
    n += (size_t)snprintf(raw + n, 16384 - n, ",\"userId\":\"u1\",\"userId\":{\"a\":1}}");
    char *text = NULL;
    cJSON *out = render(raw, n, "track", "m-1", 0, 0, NULL, &text);
    free(raw);
    assert_non_null(out);
    bool filler_kept = strstr(text, "\"f519\":519") != NULL;
    int userids = occurrences(text, "userId");
    cJSON_free(text);
    cJSON_Delete(out);
    assert_true(filler_kept);     /* the members themselves are kept */
    assert_int_equal(userids, 1); /* fails: 2 */
}

static void test_render_long_names(void **state)
{
    (void)state;
    /* Names of 64 bytes and more, alike in their first 63: both kept, as they are. */
    char a[80], b[80], raw[256];
    memset(a, 'n', 70);
    a[70] = 0;
    memcpy(b, a, sizeof(a));
    b[69] = 'x';
    int n = snprintf(raw, sizeof(raw), "{\"userId\":\"u1\",\"%s\":1,\"%s\":2}", a, b);
    char *text = NULL;
    cJSON *out = render(raw, (size_t)n, "track", "m-1", 0, 0, NULL, &text);
    assert_non_null(out);
    assert_int_equal(occurrences(text, a), 1);
    assert_int_equal(occurrences(text, b), 1);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(out, b)));
    cJSON_free(text);
    cJSON_Delete(out);
}

static void test_render_not_an_object(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        size_t len;
    } not_objects[] = {
        {"[1,2]", 5},      {"\"text\"", 6},
        {"42", 2},         {"null", 4},
        {"true", 4},       {"", 0},
        {"   ", 3},        {"not json", 8},
        {"\xff\xfe{}", 4}, {"{\"userId\":\"u1\"}", 10}, /* raw_len cuts it before the value */
    };
    for (size_t k = 0; k < ARRAY_SIZE(not_objects); k++) {
        char *text = NULL;
        cJSON *o =
            render(not_objects[k].raw, not_objects[k].len, "track", "m-1", 0, 0, "web", &text);
        if (o) {
            print_error("case %zu \"%.*s\" rendered as %s\n", k, (int)not_objects[k].len,
                        not_objects[k].raw, text);
            cJSON_free(text);
            cJSON_Delete(o);
            fail();
        }
    }
    /* Whitespace around the object is fine, and raw_len excludes what follows. */
    cJSON *o = render(" \n{\"userId\":\"u1\"}  \n", 20, "track", "m-1", 0, 0, NULL, NULL);
    assert_non_null(o);
    cJSON_Delete(o);
    o = render("{\"userId\":\"u1\"}XYZ", 15, "track", "m-1", 0, 0, NULL, NULL);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(o), 5);
    cJSON_Delete(o);
    o = render("{}", 2, "track", "m-1", 0, 0, NULL, NULL);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(o), 4);
    cJSON_Delete(o);
}

static void test_render_malformed_gives_no_bad_json(void **state)
{
    (void)state;
    /* BUG (low: stored events are valid JSON, so only a corrupted row reaches this;
     * src/ingest/message.c, copy_members): text that only starts like an object is
     * copied member by member without being validated, and the answer is not JSON:
     * {"a":"x renders as {"a":"x,"type":"track",... and {"a":[1,2} as
     * {"a":[1,2},"type":...}. message.h says NULL when raw is not a JSON object. The
     * render() helper fails on any text that is not JSON. */
    static const char *const malformed[] = {"{\"a\":\"x", "{\"a\":[1,2}", "{\"a\":{\"b\":1]}"};
    for (size_t k = 0; k < ARRAY_SIZE(malformed); k++) {
        cJSON *o = render(malformed[k], strlen(malformed[k]), "track", "m-1", 0, 0, NULL, NULL);
        cJSON_Delete(o); /* NULL, or valid JSON */
    }
}

/* ---- message_strip_write_key ------------------------------------------------------ */

static void test_strip_write_key(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *want;
    } cases[] = {
        {"{\"userId\":\"u1\",\"writeKey\":\"wk\",\"event\":\"E\"}",
         "{\"userId\":\"u1\",\"event\":\"E\"}"},
        {"{\"writeKey\":\"a\",\"u\":1,\"writ\\u0065Key\":\"b\",\"u\":2}", "{\"u\":1}"},
        {"{ \"writeKey\" : \"wk\" , \"p\" : { \"writeKey\" : \"inner\" } , \"n\" : 1e999 }",
         "{\"p\" : { \"writeKey\" : \"inner\" },\"n\" : 1e999}"},
        {"{\"writeKey\":\"wk\"}", "{}"},
        {"{}", "{}"},
        {"{\"big\":12345678901234567891,\"s\":\"caf\\u00e9\"}",
         "{\"big\":12345678901234567891,\"s\":\"caf\\u00e9\"}"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        size_t n = strlen(cases[k].raw), len = 12345;
        char *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, cases[k].raw, n);
        char *out = message_strip_write_key(copy, n, &len);
        free(copy);
        assert_non_null(out);
        if (strcmp(out, cases[k].want) != 0 || len != strlen(out))
            fail_msg("%s: got %s (%zu), want %s", cases[k].raw, out, len, cases[k].want);
        cJSON_free(out);
    }
    size_t len = 0;
    assert_null(message_strip_write_key("[1]", 3, &len));
    assert_null(message_strip_write_key("", 0, &len));
    assert_null(message_strip_write_key("\"writeKey\"", 10, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_cases),
        cmocka_unit_test(test_check_empty_and_null_event),
        cmocka_unit_test(test_check_empty_message_id),
        cmocka_unit_test(test_check_limits),
        cmocka_unit_test(test_check_extracts),
        cmocka_unit_test(test_check_numeric_ids),
        cmocka_unit_test(test_check_numeric_ids_never_merge),
        cmocka_unit_test(test_generated_message_id),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_has_write_key),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_render_server_fields),
        cmocka_unit_test(test_render_original_timestamp_kept),
        cmocka_unit_test(test_render_escapes_message_id),
        cmocka_unit_test(test_render_keeps_other_fields),
        cmocka_unit_test(test_render_keeps_large_integers),
        cmocka_unit_test(test_render_write_keys_removed),
        cmocka_unit_test(test_render_duplicate_names),
        cmocka_unit_test(test_render_duplicate_after_many_members),
        cmocka_unit_test(test_render_long_names),
        cmocka_unit_test(test_render_not_an_object),
        cmocka_unit_test(test_render_malformed_gives_no_bad_json),
        cmocka_unit_test(test_strip_write_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
