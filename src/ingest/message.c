/* message.c - see message.h. */
#include <cJSON.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "core/textbuf.h"
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
        /* cJSON keeps numbers as doubles: beyond 2^53 digits would be lost. */
        double d = v->valuedouble;
        if (!(d > -9007199254740992.0 && d < 9007199254740992.0) || d != (double)(int64_t)d)
            return message_reason(reasons, name, "type",
                                  "a number here must be a whole number below 2^53: send "
                                  "larger ids as strings");
        snprintf(buf, cap, "%" PRId64, (int64_t)d);
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

static void put_member(struct textbuf *o, const char *name, const char *value)
{
    textbuf_put(o, o->len > 1 ? ",\"" : "\"", o->len > 1 ? 2 : 1);
    textbuf_put(o, name, strlen(name));
    textbuf_put(o, "\":\"", 3);
    textbuf_put(o, value, strlen(value)); /* the server's own values: nothing to escape */
    textbuf_put(o, "\"", 1);
}

/* A top-level member of a message's text. */
struct member {
    char name[64];     /* decoded; longer names are never server fields and are kept */
    size_t start, end; /* the whole member: "name":value */
    size_t value;      /* where the value starts */
};

/* Reads the member starting at s[i] (a '"'); returns false on a shape that is not
 * an object member. */
static bool member_read(const char *s, size_t n, size_t i, struct member *m)
{
    m->start = i;
    size_t kend = text_json_skip_value(s, n, i);
    if (kend > n || kend < i + 2 || s[i] != '"')
        return false;
    size_t klen = kend - i - 2;
    m->name[0] = 0;
    if (!memchr(s + i + 1, '\\', klen)) {
        if (klen < sizeof(m->name)) {
            memcpy(m->name, s + i + 1, klen);
            m->name[klen] = 0;
        }
    } else {
        /* An escaped name ("writ\u0065Key") is compared decoded. */
        cJSON *k = cJSON_ParseWithLength(s + i, kend - i);
        if (cJSON_IsString(k) && strlen(k->valuestring) < sizeof(m->name))
            snprintf(m->name, sizeof(m->name), "%s", k->valuestring);
        cJSON_Delete(k);
    }
    size_t c = text_json_skip_ws(s, n, kend);
    if (c >= n || s[c] != ':')
        return false;
    m->value = text_json_skip_ws(s, n, c + 1);
    m->end = text_json_skip_value(s, n, m->value);
    return m->end <= n && m->end > m->value;
}

/* The members a reader gets from the server, never from the client. */
static bool server_owned(const char *name)
{
    static const char *const owned[] = {
        "writeKey", "type", "messageId", "receivedAt", "timestamp", "originalTimestamp", "source"};
    for (size_t i = 0; i < ARRAY_SIZE(owned); i++)
        if (strcmp(name, owned[i]) == 0)
            return true;
    return false;
}

/* The names already copied, as 64-bit hashes in a small open-addressing table. */
struct name_set {
    uint64_t *v;
    size_t cap, n;
};

/* Adds the name; returns 1 if new, 0 if seen before, -1 when memory runs out. */
static int name_add(struct name_set *ns, const char *name, size_t len)
{
    uint64_t h = text_hash128(name, len, 0x6e616d65).lo | 1; /* 0 marks an empty slot */
    if ((ns->n + 1) * 2 > ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 64;
        uint64_t *v = calloc(cap, sizeof(*v));
        if (!v)
            return -1;
        for (size_t i = 0; i < ns->cap; i++) {
            if (!ns->v[i])
                continue;
            size_t j = (size_t)ns->v[i] & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = ns->v[i];
        }
        free(ns->v);
        ns->v = v;
        ns->cap = cap;
    }
    size_t i = (size_t)h & (ns->cap - 1);
    while (ns->v[i]) {
        if (ns->v[i] == h)
            return 0;
        i = (i + 1) & (ns->cap - 1);
    }
    ns->v[i] = h;
    ns->n++;
    return 1;
}

/* Copies the members of the object text raw[0..n) (valid JSON) into o, keeping the
 * first copy of each name (the copy the checks read) and dropping what drop() says.
 * Returns false when raw is not an object or memory runs out. */
static bool copy_members(const char *raw, size_t n, struct textbuf *o, bool (*drop)(const char *),
                         const char **client_ts, size_t *client_ts_len)
{
    size_t i = text_json_skip_ws(raw, n, 0);
    if (i >= n || raw[i] != '{')
        return false;
    textbuf_put(o, "{", 1);
    struct name_set seen = {0};
    bool ok = true;
    i = text_json_skip_ws(raw, n, i + 1);
    while (ok && i < n && raw[i] != '}') {
        struct member m;
        if (!member_read(raw, n, i, &m)) {
            ok = false;
            break;
        }
        /* Long names are hashed from their raw text: never a server field anyway. */
        int fresh = m.name[0] ? name_add(&seen, m.name, strlen(m.name))
                              : name_add(&seen, raw + m.start, m.value - m.start);
        if (fresh < 0) {
            ok = false;
            break;
        }
        if (fresh && client_ts && strcmp(m.name, "timestamp") == 0) {
            *client_ts = raw + m.value;
            *client_ts_len = m.end - m.value;
        }
        if (fresh && client_ts && strcmp(m.name, "originalTimestamp") == 0) {
            *client_ts = raw + m.value;
            *client_ts_len = m.end - m.value;
            client_ts = NULL; /* the client's own originalTimestamp wins */
        }
        if (fresh && !drop(m.name)) {
            if (o->len > 1)
                textbuf_put(o, ",", 1);
            textbuf_put(o, raw + m.start, m.end - m.start);
        }
        i = text_json_skip_ws(raw, n, m.end);
        if (i < n && raw[i] == ',')
            i = text_json_skip_ws(raw, n, i + 1);
    }
    free(seen.v);
    return ok && !o->failed;
}

char *message_render(const char *raw, size_t raw_len, const char *type, const char *message_id,
                     int64_t received_at, int64_t timestamp, const char *source)
{
    /* Stored messages are valid JSON; anything else (a damaged row) is refused, not
     * copied into invalid output. */
    cJSON *valid = cJSON_ParseWithLength(raw, raw_len);
    bool object = cJSON_IsObject(valid);
    cJSON_Delete(valid);
    if (!object)
        return NULL;
    struct textbuf o = {.on_json_heap = true};
    const char *client_ts = NULL;
    size_t client_ts_len = 0;
    if (!copy_members(raw, raw_len, &o, server_owned, &client_ts, &client_ts_len)) {
        textbuf_release(&o);
        return NULL;
    }
    char t[32];
    if (client_ts) {
        textbuf_put(&o, o.len > 1 ? ",\"originalTimestamp\":" : "\"originalTimestamp\":",
                    o.len > 1 ? 21 : 20);
        textbuf_put(&o, client_ts, client_ts_len);
    }
    if (type)
        put_member(&o, "type", type);
    if (message_id) {
        /* A client's messageId may need escaping. */
        cJSON *id = cJSON_CreateString(message_id);
        char *q = id ? cJSON_PrintUnformatted(id) : NULL;
        textbuf_put(&o, o.len > 1 ? ",\"messageId\":" : "\"messageId\":", o.len > 1 ? 13 : 12);
        if (q)
            textbuf_put(&o, q, strlen(q));
        else
            o.failed = true;
        cJSON_free(q);
        cJSON_Delete(id);
    }
    time_format_iso8601(received_at, t);
    put_member(&o, "receivedAt", t);
    time_format_iso8601(timestamp, t);
    put_member(&o, "timestamp", t);
    if (source)
        put_member(&o, "source", source);
    textbuf_put(&o, "}", 1);
    if (o.failed) {
        textbuf_release(&o);
        return NULL;
    }
    return o.p;
}

static bool is_write_key(const char *name)
{
    return strcmp(name, "writeKey") == 0;
}

char *message_strip_write_key(const char *raw, size_t raw_len, size_t *out_len)
{
    struct textbuf o = {.on_json_heap = true};
    if (!copy_members(raw, raw_len, &o, is_write_key, NULL, NULL)) {
        textbuf_release(&o);
        return NULL;
    }
    textbuf_put(&o, "}", 1);
    if (o.failed) {
        textbuf_release(&o);
        return NULL;
    }
    *out_len = o.len;
    return o.p;
}
