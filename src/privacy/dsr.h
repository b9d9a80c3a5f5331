/* dsr.h - data-subject requests (issue 6): export and erasure of one person, and the
 * suppression list that keeps an erased person from coming back.
 *
 * Erasure deletes the person's rows everywhere (events, records, orders, order lines,
 * traits and their lineage, memberships, consents, merges, profiles, quarantined
 * messages and not-yet-resolved events and records that carry their identifiers),
 * turns their identifiers into tombstones without a value, keeps the keyed blind
 * index (crypt.h) of every identifier in the suppression list (except those that
 * other people's remaining rows carry too: a family phone is theirs as well), then makes the
 * deleted bytes leave the database file and its WAL (secure_delete, WAL checkpoint
 * with TRUNCATE, VACUUM). Later data carrying a suppressed identifier is dropped at
 * collection (kept in the quarantine as an empty message with the reason
 * "suppressed"), skipped by import and not linked by resolve.
 *
 * Identifiers of a Segment message are read where resolve reads them: userId,
 * anonymousId, previousId of an alias, traits and context.traits (email, phone,
 * member_card, wechat_openid, wechat_unionid, id_number), context.device.id. */
#ifndef CUSTOS_PRIVACY_DSR_H
#define CUSTOS_PRIVACY_DSR_H

#include <cJSON.h>

#include "core/common.h"
#include "store/store.h"

/* The value an erased identifier keeps (followed by its id): never a real value. */
#define DSR_TOMBSTONE "(erased)#"

/* ---- the suppression set: blind indexes in memory, shared by threads ---- */

struct suppression;

/* Loads the database's suppression list and blind-index key. Free with
 * suppression_free. */
int suppression_load(struct store *st, struct suppression **out, struct err *e);
void suppression_free(struct suppression *s);

/* Reloads from st when the list's size changed (an erasure by another process). */
int suppression_refresh(struct suppression *s, struct store *st, struct err *e);

/* Whether the set has any entry: a single atomic load, so that callers skip every
 * other cost while nobody has been erased. s may be NULL. */
bool suppression_active(const struct suppression *s);

/* Identifiers in their standardized form are checked; a value that does not
 * standardize is not suppressed (it links nobody either). */
bool suppression_has(struct suppression *s, const char *type, const char *value, size_t len);

/* Whether a Segment message or an imported record's identifiers (JSON object text)
 * carries a suppressed identifier. */
bool suppression_message(struct suppression *s, const cJSON *msg);
bool suppression_identifiers(struct suppression *s, const char *identifiers_json);

/* Calls fn(type, value) for every identifier a Segment message carries (as written);
 * fn returns true to stop. Returns whether fn stopped it. */
bool dsr_message_identifiers(const cJSON *msg,
                             bool (*fn)(const char *type, const char *value, void *ctx), void *ctx);

/* ---- the requests ---- */

/* Everything held about the person behind profile_id (merged-away ids are followed) as
 * one JSON object (cJSON_Delete it): the store's export plus quarantined messages and
 * unresolved events and records carrying their identifiers. Audited. */
int dsr_export(struct store *st, int64_t profile_id, const char *actor, cJSON **out, struct err *e);

struct dsr_erase_result {
    int64_t profile;          /* the profile in force that was erased */
    struct erase_counts rows; /* deleted per table */
    int64_t unresolved;       /* events and records not yet resolved that carried them */
    int64_t suppressed;       /* blind indexes added to the suppression list */
    int64_t shared;           /* identifiers other people's rows still carry: kept, not
                                 suppressed (a family phone, a shared device) */
    bool vacuumed;
    double seconds;
};

/* Erases the person behind profile_id as described above, in one transaction, then
 * compacts (vacuum: also VACUUM, which rewrites the whole file). Audited. */
int dsr_erase(struct store *st, int64_t profile_id, const char *actor, bool vacuum,
              struct dsr_erase_result *r, struct err *e);

/* The one place privacy records an audit entry (actor, action, subject, detail JSON
 * without personal data: profile ids and counts). */
void dsr_audit(struct store *st, const char *actor, const char *action, const char *subject,
               const char *detail_json);

#endif
