/* message.h - one Segment-spec message: structural checks and normalization.
 *
 * The Segment HTTP Tracking API's rules (docs/collection-api.md): a known call type;
 * userId or anonymousId; event for track; previousId for alias; groupId for group;
 * objects where objects belong; ISO 8601 times. Normalization adds what the server
 * owns: a messageId when absent, receivedAt, and the clock-skew-corrected timestamp
 * (timestamp = receivedAt - (sentAt - originalTimestamp)), keeping the client's
 * time as originalTimestamp. A numeric userId, anonymousId, previousId or groupId
 * becomes a string. A writeKey inside the message is removed: it is a credential. */
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

enum message_mode {
    MESSAGE_LIVE,   /* just received: stamp receivedAt, correct the timestamp */
    MESSAGE_REPLAY, /* from quarantine: already stamped, keep receivedAt and timestamp */
};

/* What normalization extracted; the strings point into the message's cJSON tree. */
struct message_info {
    enum message_type type;
    const char *event; /* track: event; page/screen: name; else NULL */
    const char *user_id, *anonymous_id, *message_id;
    int64_t timestamp, received_at, sent_at; /* sent_at: INT64_MIN when absent */
};

/* Checks and normalizes msg in place. type is the endpoint's call type, or
 * MSG_TYPE_NONE for batch items (then msg's "type" decides). received_at is now (live)
 * or the stored receivedAt (replay); batch_sent_at is the batch's sentAt or INT64_MIN.
 * Appends a {"field","code","message"} object to reasons for every problem found.
 * Returns 0 when msg is well formed, ERR_INVALID when reasons were added, ERR_NOMEM. */
int message_normalize(cJSON *msg, enum message_type type, enum message_mode mode,
                      int64_t received_at, int64_t batch_sent_at, struct message_info *info,
                      cJSON *reasons);

/* Appends {"field","code","message"} to reasons. Returns ERR_INVALID (or ERR_NOMEM). */
int message_reason(cJSON *reasons, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
