/* collect.c - see collect.h. */
#include <cJSON.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "ingest/collect.h"
#include "ingest/message.h"
#include "privacy/dsr.h"
#include "privacy/seal.h"

#define WRITE_KEY_MAX 256 /* bytes of a write key in a request */

struct route_ctx {
    struct collect *c;
    enum message_type type; /* MSG_TYPE_NONE for batch and import */
};

static struct route_ctx route_ctxs[MSG_TYPE_COUNT + 2];

int collect_batch_init(struct collect_batch *w, size_t cap, const struct source_entry *src,
                       int64_t received_at)
{
    memset(w, 0, sizeof(*w));
    w->src = src;
    w->received_at = received_at;
    w->cap = cap;
    w->recs = calloc(cap ? cap : 1, sizeof(*w->recs));
    w->infos = calloc(cap ? cap : 1, sizeof(*w->infos));
    return w->recs && w->infos ? 0 : ERR_NOMEM;
}

void collect_batch_release(struct collect_batch *w)
{
    free(w->recs);
    free(w->infos);
    cJSON_Delete(w->root);
    memset(w, 0, sizeof(*w));
}

/* Extracts the write key from "Authorization: Basic base64(key[:password])". */
static int basic_key(const char *auth, char *key, size_t cap, size_t *len)
{
    if (strncasecmp(auth, "Basic ", 6) != 0)
        return ERR_AUTH;
    const char *b = auth + 6;
    while (*b == ' ')
        b++;
    size_t n;
    if (text_base64_decode(b, strlen(b), key, cap - 1, &n))
        return ERR_AUTH;
    key[n] = 0;
    char *colon = memchr(key, ':', n);
    if (colon)
        n = (size_t)(colon - key);
    key[n] = 0;
    *len = n;
    return n ? 0 : ERR_AUTH;
}

long collect_batch_slices(const char *s, size_t n, struct slice *out, size_t cap)
{
    size_t i = text_json_skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return -1;
    i++;
    for (;;) {
        i = text_json_skip_ws(s, n, i);
        if (i >= n || s[i] != '"')
            return -1;
        size_t key = i + 1;
        i = text_json_skip_value(s, n, i);
        bool is_batch = i - key - 1 == 5 && memcmp(s + key, "batch", 5) == 0;
        i = text_json_skip_ws(s, n, i);
        if (i >= n || s[i] != ':')
            return -1;
        i = text_json_skip_ws(s, n, i + 1);
        if (is_batch) {
            if (i >= n || s[i] != '[')
                return -1;
            long count = 0;
            i = text_json_skip_ws(s, n, i + 1);
            if (i < n && s[i] == ']')
                return 0;
            while (i < n) {
                size_t start = i;
                i = text_json_skip_value(s, n, i);
                if ((size_t)count == cap)
                    return -1;
                out[count++] = (struct slice){start, i};
                i = text_json_skip_ws(s, n, i);
                if (i < n && s[i] == ']')
                    return count;
                if (i >= n || s[i] != ',')
                    return -1;
                i = text_json_skip_ws(s, n, i + 1);
            }
            return -1;
        }
        i = text_json_skip_ws(s, n, text_json_skip_value(s, n, i));
        if (i >= n || s[i] != ',')
            return -1; /* '}' without a batch key */
        i++;
    }
}

static void add_quarantine(struct collect_batch *w, const struct message_info *info, cJSON *reasons,
                           const char *raw, size_t raw_len)
{
    struct record *r = &w->recs[w->n++];
    memset(r, 0, sizeof(*r));
    r->kind = RECORD_QUARANTINE;
    struct quarantine_row *q = &r->row.quarantine;
    q->source_id = w->src->id;
    q->received_at = w->received_at;
    q->timestamp = STORE_NULL_TIME;
    if (info) {
        /* A message refused before its messageId was read has none: never a duplicate. */
        r->has_key = info->message_id != NULL;
        if (r->has_key)
            r->key = seen_key_quarantine(w->src->id, info->message_id, strlen(info->message_id));
        q->message_id = info->message_id;
        q->type = info->type >= 0 ? message_type_name(info->type) : NULL;
        q->event = info->event;
        q->timestamp = info->timestamp;
    }
    q->reasons = cJSON_PrintUnformatted(reasons); /* on the request's arena */
    if (!q->reasons)
        q->reasons = "[]";
    q->raw = raw;
    q->raw_len = raw_len;
    struct textbuf o = {.on_json_heap = true}; /* on the request's arena */
    if (seal_quarantine(raw, raw_len, &o)) {
        /* encryption at rest: protected values only as tokens, or nothing of them */
        q->raw = o.failed ? "{}" : o.p;
        q->raw_len = o.failed ? 2 : o.len;
    }
}

/* Turns one parsed message, received as raw[0..raw_len), into an event or a
 * quarantine record. */
static int build_record(struct collect_batch *w, cJSON *msg, const char *raw, size_t raw_len,
                        enum message_type type, int64_t batch_sent_at, const struct plan *plan,
                        size_t index, bool batch, cJSON *reasons)
{
    if (!cJSON_IsObject(msg)) {
        char field[32] = "";
        if (batch)
            snprintf(field, sizeof(field), "batch[%zu]", index);
        message_reason(reasons, field, "type", "a message must be a JSON object");
        add_quarantine(w, NULL, reasons, raw, raw_len);
        return 0;
    }
    if (suppression_message(w->suppress, msg)) {
        /* An erased person: nothing of the message is kept, not even its messageId. */
        w->suppressed++;
        if (w->drop_suppressed)
            return 0;
        message_reason(reasons, "", "suppressed",
                       "the message carries an identifier of an erased person; it was dropped");
        add_quarantine(w, NULL, reasons, "{}", 2);
        return 0;
    }
    struct message_info *info = &w->infos[w->n];
    int rc = message_check(msg, type, w->received_at, batch_sent_at, info, reasons);
    if (rc == ERR_NOMEM)
        return rc;
    if (info->has_write_key) {
        /* A credential is never stored: keep the message without it (on the arena). */
        raw = message_strip_write_key(raw, raw_len, &raw_len);
        if (!raw)
            return ERR_NOMEM;
    }
    enum plan_verdict verdict = PLAN_PASS;
    if (rc == 0 && plan) {
        /* Plans read the call type from the message; an endpoint's type wins. */
        const char *tname = message_type_name(info->type);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, tname) != 0) {
            cJSON *ts = cJSON_CreateString(tname);
            if (!ts)
                return ERR_NOMEM;
            if (t)
                cJSON_ReplaceItemInObjectCaseSensitive(msg, "type", ts);
            else
                cJSON_AddItemToObject(msg, "type", ts);
        }
        verdict = plan_check(plan, msg, reasons);
    }
    if (raw_len > MESSAGE_MAX_BYTES) {
        message_reason(reasons, "", "message_too_large", "a message may have at most %d bytes",
                       MESSAGE_MAX_BYTES);
        rc = ERR_INVALID;
    }
    if (rc || verdict == PLAN_BLOCK) {
        add_quarantine(w, info, reasons, raw, raw_len);
        return 0;
    }
    struct textbuf sealed = {.on_json_heap = true}; /* on the request's arena */
    if (seal_message(raw, raw_len, &sealed)) {
        /* encryption at rest: only a message carrying a protected value is rewritten */
        if (sealed.failed)
            return ERR_NOMEM;
        raw = sealed.p;
        raw_len = sealed.len;
    }
    struct record *r = &w->recs[w->n++];
    memset(r, 0, sizeof(*r));
    r->kind = RECORD_EVENT;
    r->has_key = true;
    r->key = seen_key(w->src->id, info->message_id, strlen(info->message_id));
    struct event_row *ev = &r->row.event;
    ev->source_id = w->src->id;
    ev->type = message_type_name(info->type);
    ev->event = info->event;
    ev->user_id = info->user_id;
    ev->anonymous_id = info->anonymous_id;
    ev->message_id = info->message_id;
    ev->timestamp = info->timestamp;
    ev->received_at = info->received_at;
    ev->sent_at = info->sent_at == INT64_MIN ? STORE_NULL_TIME : info->sent_at;
    ev->flags = verdict == PLAN_FLAG ? EVENT_FLAG_UNPLANNED : 0;
    ev->raw = raw;
    ev->raw_len = raw_len;
    return 0;
}

int collect_batch_add(struct collect_batch *w, cJSON *msg, const char *raw, size_t raw_len,
                      const struct plan *plan, cJSON *reasons)
{
    if (w->n == w->cap)
        return ERR_LIMIT;
    return build_record(w, msg, raw, raw_len, MSG_TYPE_NONE, INT64_MIN, plan, w->n, true, reasons);
}

static bool truthy(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

/* Keeps an unparseable body, raw, so that nothing sent with a valid key is lost. */
static void quarantine_body(struct collect *c, const struct source_entry *src,
                            const struct http_request *req, int64_t now, const char *code,
                            const char *msg)
{
    cJSON *reasons = cJSON_CreateArray();
    message_reason(reasons, "", code, "%s", msg);
    char *text = cJSON_PrintUnformatted(reasons);
    cJSON_Delete(reasons);
    struct record r = {.kind = RECORD_QUARANTINE};
    r.row.quarantine = (struct quarantine_row){
        .source_id = src->id,
        .received_at = now,
        .timestamp = STORE_NULL_TIME,
        .reasons = text ? text : "[]",
        .raw = req->body ? req->body : "",
        .raw_len = req->body_len,
    };
    struct textbuf sealed = {.on_json_heap = true};
    if (req->body_len && seal_quarantine(req->body, req->body_len, &sealed)) {
        r.row.quarantine.raw = sealed.failed ? "" : sealed.p; /* never in clear */
        r.row.quarantine.raw_len = sealed.failed ? 0 : sealed.len;
    }
    struct err e = {0};
    if (writer_submit(c->writer, &r, 1, &e))
        log_warn("collect: could not keep a rejected body in quarantine: %s", e.msg);
    else
        c->quarantined++;
    cJSON_free(text);
}

static void answer_single(struct http_response *res, size_t quarantined, cJSON *reasons)
{
    if (!quarantined) {
        http_text(res, 200, "application/json", "{\"success\":true}", 16);
        return;
    }
    cJSON *r0 = cJSON_GetArrayItem(reasons, 0);
    const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(r0, "field"));
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(r0, "code"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(r0, "message"));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", false);
    cJSON_AddStringToObject(o, "code", code ? code : "invalid");
    char line[512];
    snprintf(line, sizeof(line), "%s%s%s", field && *field ? field : "",
             field && *field ? ": " : "", text ? text : "invalid message");
    cJSON_AddStringToObject(o, "message", line);
    cJSON_AddStringToObject(o, "field", field ? field : "");
    cJSON_AddItemReferenceToObject(o, "reasons", reasons);
    cJSON_AddBoolToObject(o, "quarantined", true);
    http_json(res, 400, o);
    res->reject = "invalid_message";
}

static void answer_batch(const struct http_request *req, struct http_response *res,
                         const struct collect_batch *w, cJSON *results, size_t counts[3])
{
    bool strict = truthy(http_query(req, "strict"));
    size_t quarantined = counts[1];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", !(strict && quarantined));
    cJSON_AddNumberToObject(o, "accepted", (double)counts[0]);
    cJSON_AddNumberToObject(o, "quarantined", (double)quarantined);
    cJSON_AddNumberToObject(o, "duplicates", (double)counts[2]);
    if (strict) {
        cJSON *list = cJSON_AddArrayToObject(o, "results");
        cJSON *reasons = results->child;
        for (size_t i = 0; i < w->n && reasons; i++, reasons = reasons->next) {
            const struct record *r = &w->recs[i];
            cJSON *item = cJSON_CreateObject();
            cJSON_AddNumberToObject(item, "index", (double)i);
            const char *mid =
                r->kind == RECORD_EVENT ? r->row.event.message_id : r->row.quarantine.message_id;
            if (mid)
                cJSON_AddStringToObject(item, "messageId", mid);
            cJSON_AddStringToObject(item, "status",
                                    r->outcome == RECORD_DUPLICATE ? "duplicate"
                                    : r->kind == RECORD_EVENT      ? "accepted"
                                                                   : "quarantined");
            if (cJSON_GetArraySize(reasons))
                cJSON_AddItemReferenceToObject(item, "reasons", reasons);
            cJSON_AddItemToArray(list, item);
        }
    }
    http_json(res, strict && quarantined ? 400 : 200, o);
    if (strict && quarantined)
        res->reject = "invalid_message";
}

/* Whether the body (and, for a batch, any of its messages) names a writeKey other than
 * key[0..len). */
static bool foreign_write_key(const cJSON *root, bool batch, const char *key, size_t len)
{
    const cJSON *wk = cJSON_GetObjectItemCaseSensitive(root, "writeKey");
    if (wk && (!cJSON_IsString(wk) || strlen(wk->valuestring) != len ||
               !text_equal_ct(wk->valuestring, key, len)))
        return true;
    const cJSON *it;
    if (batch)
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "batch"))
        {
            wk = cJSON_GetObjectItemCaseSensitive(it, "writeKey");
            if (wk && (!cJSON_IsString(wk) || strlen(wk->valuestring) != len ||
                       !text_equal_ct(wk->valuestring, key, len)))
                return true;
        }
    return false;
}

static void handle_request(struct collect *c, enum message_type type,
                           const struct http_request *req, struct http_response *res,
                           struct collect_batch *w, struct source_entry **srcp)
{
    bool batch = type == MSG_TYPE_NONE;
    int64_t now = w->received_at;
    struct source_entry *src = NULL;
    char key[WRITE_KEY_MAX + 1];
    size_t key_len = 0;

    /* 1. The write key, by Basic auth when given. */
    const char *auth = http_header(req, "Authorization");
    if (auth) {
        if (basic_key(auth, key, sizeof(key), &key_len) ||
            source_cache_acquire(c->sources, key, key_len, srcp)) {
            http_error(res, 401, "invalid_write_key",
                       "the write key is missing or unknown: send it as the Basic auth user name");
            res->www_auth = "Basic realm=\"custos\"";
            return;
        }
        src = *srcp;
    }

    /* 2. The body: valid UTF-8, bounded nesting, JSON. */
    if (!req->body) {
        http_error(res, 400, "empty_body", "the request has no body: send a JSON message");
        return;
    }
    size_t at = 0;
    int rc = text_scan_json(req->body, req->body_len, MESSAGE_MAX_DEPTH, &at);
    if (rc) {
        char msg[160];
        const char *code = rc == ERR_LIMIT ? "nesting_too_deep" : "invalid_utf8";
        if (rc == ERR_LIMIT)
            snprintf(msg, sizeof(msg), "JSON nests deeper than %d levels (at byte %zu)",
                     MESSAGE_MAX_DEPTH, at);
        else
            snprintf(msg, sizeof(msg), "the body is not valid UTF-8 (at byte %zu)", at);
        if (src)
            quarantine_body(c, src, req, now, code, msg);
        http_error(res, 400, code, "%s", msg);
        return;
    }
    const char *end = NULL;
    w->root = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, false);
    if (w->root) {
        /* Only white space may follow the value. */
        size_t tail = text_json_skip_ws(req->body, req->body_len, (size_t)(end - req->body));
        if (tail != req->body_len) {
            cJSON_Delete(w->root);
            w->root = NULL;
            end = req->body + tail;
        }
    }
    if (!w->root) {
        char msg[160];
        size_t off = end && end >= req->body ? (size_t)(end - req->body) : 0;
        snprintf(msg, sizeof(msg), "the body is not valid JSON (near byte %zu)", off);
        if (src)
            quarantine_body(c, src, req, now, "invalid_json", msg);
        http_error(res, 400, "invalid_json", "%s", msg);
        return;
    }
    if (!cJSON_IsObject(w->root)) {
        if (src)
            quarantine_body(c, src, req, now, "invalid_body", "the body must be a JSON object");
        http_error(res, 400, "invalid_body", "the body must be a JSON object");
        return;
    }

    /* 3. Otherwise the write key from the body. */
    if (!src) {
        cJSON *wk = cJSON_GetObjectItemCaseSensitive(w->root, "writeKey");
        if (!cJSON_IsString(wk) || strlen(wk->valuestring) > WRITE_KEY_MAX ||
            source_cache_acquire(c->sources, wk->valuestring, strlen(wk->valuestring), srcp)) {
            http_error(res, 401, "invalid_write_key",
                       "the write key is missing or unknown: send it by Basic auth or as "
                       "writeKey");
            res->www_auth = "Basic realm=\"custos\"";
            return;
        }
        src = *srcp;
        key_len = strlen(wk->valuestring);
        memcpy(key, wk->valuestring, key_len + 1);
    }
    w->src = src;
    /* A write key writes only to its own source: every writeKey in the body must be
     * the one the request was authenticated with. */
    if (foreign_write_key(w->root, batch, key, key_len)) {
        http_error(res, 401, "invalid_write_key",
                   "a writeKey in the body is not the write key of this request: a write key "
                   "writes only to its own source");
        res->www_auth = "Basic realm=\"custos\"";
        return;
    }

    /* 4. The messages, each kept exactly as received. */
    cJSON *items = w->root;
    size_t n = 1;
    int64_t batch_sent_at = INT64_MIN;
    struct slice one = {0, req->body_len}, *slices = &one;
    if (batch) {
        items = cJSON_GetObjectItemCaseSensitive(w->root, "batch");
        if (!cJSON_IsArray(items)) {
            http_error(res, 400, "invalid_batch", "batch: must be an array of messages");
            return;
        }
        n = (size_t)cJSON_GetArraySize(items);
        if (n > BATCH_MAX_MESSAGES) {
            http_error(res, 413, "batch_too_large", "batch: at most %d messages per request",
                       BATCH_MAX_MESSAGES);
            return;
        }
        cJSON *sent = cJSON_GetObjectItemCaseSensitive(w->root, "sentAt");
        if (cJSON_IsString(sent))
            time_parse_iso8601(sent->valuestring, strlen(sent->valuestring), &batch_sent_at);
        slices = cJSON_malloc((n ? n : 1) * sizeof(*slices));
        if (!slices || collect_batch_slices(req->body, req->body_len, slices, n) != (long)n)
            slices = NULL; /* an odd shape (escaped key, duplicate key): print instead */
    }
    cJSON *root = w->root;
    int arc = collect_batch_init(w, n, src, now);
    w->root = root;
    w->suppress = c->suppress;
    cJSON *results = cJSON_CreateArray();
    if (arc || !results) {
        http_error(res, 500, "out_of_memory", "out of memory");
        return;
    }
    cJSON *first_reasons = NULL;
    size_t idx = 0;
    cJSON *msg = batch ? items->child : w->root;
    for (; idx < n && msg; idx++, msg = batch ? msg->next : NULL) {
        cJSON *reasons = cJSON_CreateArray();
        const char *raw = slices ? req->body + slices[idx].start : cJSON_PrintUnformatted(msg);
        size_t raw_len = slices ? slices[idx].end - slices[idx].start : raw ? strlen(raw) : 0;
        if (!reasons || !raw ||
            build_record(w, msg, raw, raw_len, type, batch_sent_at, src->plan, idx, batch,
                         reasons)) {
            http_error(res, 500, "out_of_memory", "out of memory");
            return;
        }
        cJSON_AddItemToArray(results, reasons);
        if (!first_reasons && cJSON_GetArraySize(reasons))
            first_reasons = reasons;
    }

    /* 5. The commit: the answer comes once the messages are durable. */
    struct err e = {0};
    rc = writer_submit(c->writer, w->recs, w->n, &e);
    if (rc == ERR_BUSY) {
        http_error(res, 429, "too_many_requests", "the store is not keeping up: retry later");
        res->retry_after = 1;
        return;
    }
    if (rc) {
        http_error(res, 503, "store_unavailable",
                   "the messages could not be stored; nothing of this request was kept: retry");
        return;
    }

    /* 6. The answer. */
    size_t counts[3] = {0, 0, 0}; /* accepted, quarantined, duplicates */
    size_t flagged = 0;
    for (size_t i = 0; i < w->n; i++) {
        const struct record *r = &w->recs[i];
        bool dup = r->outcome == RECORD_DUPLICATE;
        counts[0] += r->kind == RECORD_EVENT && !dup;
        counts[1] += r->kind == RECORD_QUARANTINE && !dup;
        counts[2] += dup;
        flagged += r->kind == RECORD_EVENT && r->row.event.flags && !dup;
    }
    c->accepted += counts[0];
    c->quarantined += counts[1];
    c->duplicates += counts[2];
    c->flagged += flagged;
    c->suppressed += w->suppressed;
    if (batch)
        answer_batch(req, res, w, results, counts);
    else
        answer_single(res, w->n && w->recs[0].kind == RECORD_QUARANTINE, first_reasons);
}

static void handle(const struct http_request *req, struct http_response *res, void *arg)
{
    struct route_ctx *rc = arg;
    struct collect_batch w = {.received_at = time_now_ms()};
    struct source_entry *src = NULL;
    /* Every JSON value of the request lives on the thread's arena until the answer
     * is built; the response body is copied out of it. */
    json_arena_begin();
    handle_request(rc->c, rc->type, req, res, &w, &src);
    collect_batch_release(&w);
    json_arena_end();
    source_release(src);
}

int collect_revalidate(const struct quarantine_row *q, const struct plan *plan, struct record *rec,
                       struct message_info *info, cJSON **tree, cJSON *reasons)
{
    *tree = NULL;
    cJSON *msg = cJSON_ParseWithLength(q->raw, q->raw_len);
    if (!msg)
        return message_reason(reasons, "", "invalid_json", "the message is not valid JSON");
    struct source_entry src = {.id = q->source_id};
    struct collect_batch w = {
        .recs = rec, .infos = info, .cap = 1, .src = &src, .received_at = q->received_at};
    enum message_type type = q->type ? message_type_parse(q->type) : MSG_TYPE_NONE;
    int rc = build_record(&w, msg, q->raw, q->raw_len, type, INT64_MIN, plan, 0, false, reasons);
    *tree = msg;
    if (rc == 0 && rec->kind != RECORD_EVENT)
        rc = ERR_INVALID;
    if (rc)
        return rc;
    /* What the server decided when the message arrived stays: its messageId (perhaps
     * generated) and its corrected timestamp (perhaps from the batch's sentAt). */
    if (q->message_id) {
        rec->row.event.message_id = q->message_id;
        rec->key = seen_key(q->source_id, q->message_id, strlen(q->message_id));
    }
    if (q->timestamp != STORE_NULL_TIME)
        rec->row.event.timestamp = q->timestamp;
    rec->row.event.flags |= EVENT_FLAG_REPLAYED;
    return 0;
}

static void handle_healthz(const struct http_request *req, struct http_response *res, void *arg)
{
    (void)req;
    (void)arg;
    http_text(res, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

size_t collect_routes(struct collect *c, struct http_route *routes, size_t cap)
{
    static const char *const paths[MSG_TYPE_COUNT] = {"/v1/identify", "/v1/track", "/v1/page",
                                                      "/v1/screen",   "/v1/group", "/v1/alias"};
    size_t n = 0;
    for (int t = 0; t < MSG_TYPE_COUNT && n < cap; t++) {
        route_ctxs[t] = (struct route_ctx){c, (enum message_type)t};
        routes[n++] =
            (struct http_route){"POST", paths[t], handle, MESSAGE_MAX_BYTES, &route_ctxs[t]};
    }
    route_ctxs[MSG_TYPE_COUNT] = (struct route_ctx){c, MSG_TYPE_NONE};
    if (n < cap)
        routes[n++] = (struct http_route){"POST", "/v1/batch", handle, BATCH_MAX_BYTES,
                                          &route_ctxs[MSG_TYPE_COUNT]};
    if (n < cap)
        routes[n++] = (struct http_route){"POST", "/v1/import", handle, BATCH_MAX_BYTES,
                                          &route_ctxs[MSG_TYPE_COUNT]};
    if (n < cap)
        routes[n++] = (struct http_route){"GET", "/healthz", handle_healthz, 0, NULL};
    return n;
}

void collect_metrics(struct collect *c, struct textbuf *b)
{
    textbuf_printf(b,
                   "# HELP custos_messages_total Messages received, by outcome.\n"
                   "# TYPE custos_messages_total counter\n"
                   "custos_messages_total{outcome=\"accepted\"} %" PRIu64 "\n"
                   "custos_messages_total{outcome=\"quarantined\"} %" PRIu64 "\n"
                   "custos_messages_total{outcome=\"duplicate\"} %" PRIu64 "\n"
                   "custos_messages_total{outcome=\"flagged\"} %" PRIu64 "\n"
                   "custos_messages_total{outcome=\"suppressed\"} %" PRIu64 "\n",
                   (uint64_t)c->accepted, (uint64_t)c->quarantined, (uint64_t)c->duplicates,
                   (uint64_t)c->flagged, (uint64_t)c->suppressed);
    struct writer_stats ws;
    writer_get_stats(c->writer, &ws);
    textbuf_printf(b,
                   "# HELP custos_store_commits_total Transactions committed by the writer.\n"
                   "# TYPE custos_store_commits_total counter\n"
                   "custos_store_commits_total %" PRIu64 "\n"
                   "# HELP custos_store_commit_failures_total Transactions that failed.\n"
                   "# TYPE custos_store_commit_failures_total counter\n"
                   "custos_store_commit_failures_total %" PRIu64 "\n"
                   "# HELP custos_store_queue_records Records waiting for the writer.\n"
                   "# TYPE custos_store_queue_records gauge\n"
                   "custos_store_queue_records %" PRIu64 "\n"
                   "# HELP custos_dedup_keys Keys in the in-memory deduplication set.\n"
                   "# TYPE custos_dedup_keys gauge\n"
                   "custos_dedup_keys %" PRIu64 "\n",
                   ws.commits, ws.failures, ws.queued, ws.seen);
}
