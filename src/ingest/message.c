/* message.c - see message.h. */
#include <cJSON.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "ingest/message.h"

static const char *const type_names[MSG_TYPE_COUNT] = {"identify", "track", "page",
                                                       "screen",   "group", "alias"};

enum message_type message_type_parse(const char *s)
{
    for (int i = 0; i < MSG_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            return (enum message_type)i;
    return MSG_TYPE_NONE;
}

const char *message_type_name(enum message_type t)
{
    return t >= 0 && t < MSG_TYPE_COUNT ? type_names[t] : "unknown";
}

int message_reason(cJSON *reasons, const char *field, const char *code, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddStringToObject(r, "field", field) ||
        !cJSON_AddStringToObject(r, "code", code) || !cJSON_AddStringToObject(r, "message", text) ||
        !cJSON_AddItemToArray(reasons, r)) {
        cJSON_Delete(r);
        return ERR_NOMEM;
    }
    return ERR_INVALID;
}

/* Reads an identifier field: a non-empty string, or a number turned into text in
 * buf. *out is NULL when the field is absent, null or empty. */
static int id_field(const cJSON *msg, const char *name, size_t max, const char **out, char *buf,
                    size_t cap, cJSON *reasons)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d)
            snprintf(buf, cap, "%" PRId64, (int64_t)d);
        else
            snprintf(buf, cap, "%.17g", d);
        *out = buf;
        return 0;
    }
    if (!cJSON_IsString(v))
        return message_reason(reasons, name, "type", "must be a string");
    size_t len = strlen(v->valuestring);
    if (len == 0)
        return 0; /* an empty id counts as absent, as in Segment's libraries */
    if (len > max)
        return message_reason(reasons, name, "too_long", "must be at most %zu bytes", max);
    *out = v->valuestring;
    return 0;
}

static int object_field(const cJSON *msg, const char *name, cJSON *reasons)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, name);
    if (v && !cJSON_IsObject(v) && !cJSON_IsNull(v))
        return message_reason(reasons, name, "type", "must be an object");
    return 0;
}

/* Parses an optional ISO 8601 field; *ms stays INT64_MIN when absent. */
static int time_field(const cJSON *msg, const char *name, int64_t *ms, cJSON *reasons)
{
    *ms = INT64_MIN;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || time_parse_iso8601(v->valuestring, strlen(v->valuestring), ms) != 0)
        return message_reason(reasons, name, "invalid_timestamp",
                              "must be an ISO 8601 date-time such as 2026-11-23T08:00:00.000Z");
    return 0;
}

/* Keeps the first error code that is not ERR_INVALID (ERR_NOMEM wins). */
static void note(int *rc, int r)
{
    if (r && (*rc == 0 || *rc == ERR_INVALID))
        *rc = r;
}

int message_check(const cJSON *msg, enum message_type type, int64_t received_at,
                  int64_t batch_sent_at, struct message_info *info, cJSON *reasons)
{
    int rc = 0;
    memset(info, 0, sizeof(*info));
    info->sent_at = info->client_timestamp = INT64_MIN;
    info->type = type;
    info->received_at = info->timestamp = received_at;
    info->has_write_key = cJSON_GetObjectItemCaseSensitive(msg, "writeKey") != NULL;

    if (type == MSG_TYPE_NONE) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "type");
        if (!cJSON_IsString(t))
            return message_reason(reasons, "type", "required",
                                  "is required: identify, track, page, screen, group or alias");
        type = info->type = message_type_parse(t->valuestring);
        if (type == MSG_TYPE_NONE)
            return message_reason(reasons, "type", "invalid_type",
                                  "must be identify, track, page, screen, group or alias");
    }

    note(&rc, id_field(msg, "userId", MESSAGE_USER_ID_MAX, &info->user_id, info->user_id_buf,
                       sizeof(info->user_id_buf), reasons));
    note(&rc, id_field(msg, "anonymousId", MESSAGE_USER_ID_MAX, &info->anonymous_id,
                       info->anonymous_id_buf, sizeof(info->anonymous_id_buf), reasons));
    if (!info->user_id && !info->anonymous_id && rc == 0)
        note(&rc,
             message_reason(reasons, "userId", "required", "userId or anonymousId is required"));

    char other_buf[32];
    const char *other = NULL;
    if (type == MSG_ALIAS) {
        note(&rc, id_field(msg, "previousId", MESSAGE_USER_ID_MAX, &other, other_buf,
                           sizeof(other_buf), reasons));
        if (!other && rc == 0)
            note(&rc, message_reason(reasons, "previousId", "required", "is required for alias"));
        if (!info->user_id && rc == 0)
            note(&rc, message_reason(reasons, "userId", "required", "is required for alias"));
    } else if (type == MSG_GROUP) {
        note(&rc, id_field(msg, "groupId", MESSAGE_USER_ID_MAX, &other, other_buf,
                           sizeof(other_buf), reasons));
        if (!other && rc == 0)
            note(&rc, message_reason(reasons, "groupId", "required", "is required for group"));
    }

    if (type == MSG_TRACK || type == MSG_PAGE || type == MSG_SCREEN) {
        const char *field = type == MSG_TRACK ? "event" : "name";
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(msg, field);
        if (cJSON_IsString(ev) && ev->valuestring[0]) {
            if (strlen(ev->valuestring) > MESSAGE_EVENT_MAX)
                note(&rc, message_reason(reasons, field, "too_long", "must be at most %d bytes",
                                         MESSAGE_EVENT_MAX));
            else
                info->event = ev->valuestring;
        } else if (type == MSG_TRACK) {
            note(&rc, message_reason(reasons, "event", ev ? "type" : "required",
                                     "is required for track: a non-empty string"));
        } else if (ev && !cJSON_IsNull(ev) && !cJSON_IsString(ev)) {
            note(&rc, message_reason(reasons, "name", "type", "must be a string"));
        }
    }

    note(&rc, object_field(msg, "properties", reasons));
    note(&rc, object_field(msg, "traits", reasons));
    note(&rc, object_field(msg, "context", reasons));
    note(&rc, object_field(msg, "integrations", reasons));

    /* messageId: the client's, or a new one. */
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "messageId");
    if (cJSON_IsNumber(mid)) {
        note(&rc, id_field(msg, "messageId", MESSAGE_ID_MAX, &info->message_id,
                           info->message_id_buf, sizeof(info->message_id_buf), reasons));
    } else if (mid && !cJSON_IsNull(mid) && !(cJSON_IsString(mid) && mid->valuestring[0])) {
        note(&rc, message_reason(reasons, "messageId", "type", "must be a non-empty string"));
    } else if (cJSON_IsString(mid) && strlen(mid->valuestring) > MESSAGE_ID_MAX) {
        note(&rc, message_reason(reasons, "messageId", "too_long", "must be at most %d bytes",
                                 MESSAGE_ID_MAX));
    } else if (cJSON_IsString(mid)) {
        info->message_id = mid->valuestring;
    }
    if (!info->message_id) {
        text_uuid4(info->message_id_buf);
        info->message_id = info->message_id_buf;
    }

    /* Times: the client's clock says when it happened and when it was sent; the
     * difference between sentAt and receivedAt is the client's clock error. */
    int64_t ts, orig, sent;
    note(&rc, time_field(msg, "timestamp", &ts, reasons));
    note(&rc, time_field(msg, "originalTimestamp", &orig, reasons));
    note(&rc, time_field(msg, "sentAt", &sent, reasons));
    if (sent == INT64_MIN)
        sent = batch_sent_at;
    info->sent_at = sent;
    info->client_timestamp = orig != INT64_MIN ? orig : ts;
    if (info->client_timestamp != INT64_MIN)
        info->timestamp = sent != INT64_MIN ? received_at - (sent - info->client_timestamp)
                                            : info->client_timestamp;
    return rc;
}

static bool set_string(cJSON *msg, const char *name, const char *value)
{
    cJSON *s = cJSON_CreateString(value);
    if (!s)
        return false;
    bool ok = cJSON_GetObjectItemCaseSensitive(msg, name)
                  ? cJSON_ReplaceItemInObjectCaseSensitive(msg, name, s)
                  : cJSON_AddItemToObject(msg, name, s);
    if (!ok)
        cJSON_Delete(s);
    return ok;
}

static bool set_time(cJSON *msg, const char *name, int64_t ms)
{
    char buf[32];
    time_format_iso8601(ms, buf);
    return set_string(msg, name, buf);
}

char *message_render(const char *raw, size_t raw_len, const char *type, const char *message_id,
                     int64_t received_at, int64_t timestamp, const char *source)
{
    cJSON *msg = cJSON_ParseWithLength(raw, raw_len);
    if (!cJSON_IsObject(msg)) {
        cJSON_Delete(msg);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "writeKey");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(msg, "timestamp");
    bool ok = true;
    if (cJSON_IsString(ts) && !cJSON_GetObjectItemCaseSensitive(msg, "originalTimestamp"))
        ok = set_string(msg, "originalTimestamp", ts->valuestring);
    ok = ok && (!type || set_string(msg, "type", type)) &&
         (!message_id || set_string(msg, "messageId", message_id)) &&
         set_time(msg, "receivedAt", received_at) && set_time(msg, "timestamp", timestamp) &&
         (!source || set_string(msg, "source", source));
    char *text = ok ? cJSON_PrintUnformatted(msg) : NULL;
    cJSON_Delete(msg);
    return text;
}
