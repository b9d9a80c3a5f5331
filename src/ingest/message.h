/* message.h - one Segment-spec message: structural checks and what the server adds.
 *
 * The Segment HTTP Tracking API's rules (docs/collection-api.md): a known call type;
 * userId or anonymousId; event for track; previousId for alias; groupId for group;
 * objects where objects belong; ISO 8601 times. The message itself is stored as
 * received; what the server owns goes into columns beside it: the messageId (made
 * when absent), receivedAt, and the clock-skew-corrected timestamp
 * (timestamp = receivedAt - (sentAt - originalTimestamp)). message_render() puts
 * them back into the message for reading. */
#ifndef CUSTOS_MESSAGE_H
#define CUSTOS_MESSAGE_H

#include <cJSON.h>

#include "core/common.h"

/* Limits, with Segment's where it has one. */
#define MESSAGE_MAX_BYTES   (32 * 1024)  /* one message, as stored (Segment: 32 KB) */
#define BATCH_MAX_BYTES     (500 * 1024) /* one request body (Segment: 500 KB) */
#define BATCH_MAX_MESSAGES  2500         /* messages in one batch */
#define MESSAGE_MAX_DEPTH   64           /* JSON nesting in a request body */
#define MESSAGE_ID_MAX      255          /* bytes of messageId */
#define MESSAGE_USER_ID_MAX 1024         /* bytes of userId, anonymousId and friends */
#define MESSAGE_EVENT_MAX   1024         /* bytes of an event or page name */

enum message_type {
    MSG_IDENTIFY,
    MSG_TRACK,
    MSG_PAGE,
    MSG_SCREEN,
    MSG_GROUP,
    MSG_ALIAS,
    MSG_TYPE_COUNT,
    MSG_TYPE_NONE = -1
};

/* "identify" ... "alias" -> MSG_*; MSG_TYPE_NONE when unknown. */
enum message_type message_type_parse(const char *s);
const char *message_type_name(enum message_type t);

/* What the checks extracted. Strings point into the message's cJSON tree or into
 * the buffers below (a numeric id as text, a generated messageId). */
struct message_info {
    enum message_type type;
    const char *event; /* track: event; page/screen: name; else NULL */
    const char *user_id, *anonymous_id, *message_id;
    int64_t timestamp, received_at;
    int64_t sent_at;          /* INT64_MIN when absent */
    int64_t client_timestamp; /* the client's own time of the event, INT64_MIN if none */
    bool has_write_key;       /* the message carries a writeKey: never store it raw */
    char user_id_buf[32], anonymous_id_buf[32], message_id_buf[40];
};

/* Checks msg without changing it. type is the endpoint's call type, or MSG_TYPE_NONE
 * for batch items (then msg's "type" decides); received_at is when the server got
 * it; batch_sent_at is the batch's sentAt or INT64_MIN. Appends a
 * {"field","code","message"} object to reasons for every problem found. Returns 0
 * when msg is well formed, ERR_INVALID when reasons were added, ERR_NOMEM. */
int message_check(const cJSON *msg, enum message_type type, int64_t received_at,
                  int64_t batch_sent_at, struct message_info *info, cJSON *reasons);

/* The message as a reader sees it: raw[0..raw_len) (as received, a JSON object) with
 * type, messageId, receivedAt, the corrected timestamp, originalTimestamp (the
 * client's timestamp, when it sent one) and, when source is not NULL, "source" set
 * by the server; every writeKey removed. The client's members are copied as text
 * (numbers keep every digit); of a name given twice only the first copy is kept,
 * the one the checks read. Returns a JSON text to free with cJSON_free, or NULL when
 * raw is not a JSON object or memory runs out. */
char *message_render(const char *raw, size_t raw_len, const char *type, const char *message_id,
                     int64_t received_at, int64_t timestamp, const char *source);

/* The message text raw[0..raw_len) without any writeKey member (nor duplicate
 * names), for storing; its length in *out_len. Free with cJSON_free; NULL when raw is
 * not an object or memory runs out. */
char *message_strip_write_key(const char *raw, size_t raw_len, size_t *out_len);

/* Appends {"field","code","message"} to reasons. Returns ERR_INVALID (or ERR_NOMEM). */
int message_reason(cJSON *reasons, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
