/* consent.h - consent per purpose, with its evidence (issue 6).
 *
 * Four purposes: analytics, marketing, personalization, third_party. A decision
 * (granted or denied) is kept with its time, source, policy version and evidence, for
 * a profile (the CLI) or for the identifier a message came with (its userId, else its
 * anonymousId). Decisions are appended, never replaced: the latest per purpose is in
 * force; the others are its history.
 *
 * Messages give consent two ways, read by consent_sync from the stored events (the
 * ingestion path is not slowed by it): Segment's context.consent.categoryPreferences
 * on any message, and a track event "Consent Updated" (or Segment's "Segment Consent
 * Preference Updated") whose properties hold categoryPreferences or the categories
 * themselves as booleans. Category names map to purposes through a built-in table
 * (consent_category_purpose) that the consent-categories setting overrides. */
#ifndef CUSTOS_PRIVACY_CONSENT_H
#define CUSTOS_PRIVACY_CONSENT_H

#include "core/common.h"
#include "store/store.h"

enum consent_purpose {
    PURPOSE_ANALYTICS,
    PURPOSE_MARKETING,
    PURPOSE_PERSONALIZATION,
    PURPOSE_THIRD_PARTY,
};
#define PURPOSE_COUNT 4

#define CONSENT_TEXT_MAX 256 /* bytes of a source or policy version */

/* "analytics", "marketing", "personalization", "third_party". */
const char *consent_purpose_name(enum consent_purpose p);

/* Parses a purpose name (also "third-party"); ERR_INVALID naming the text otherwise. */
int consent_purpose_parse(const char *text, enum consent_purpose *out, struct err *e);

/* The purpose a message's consent category stands for (case and separators ignored),
 * under the consent-categories setting; -1 for a category named nowhere. */
int consent_category_purpose(const char *category);

/* Checks a consent-categories setting's text; ERR_INVALID with the entry at fault. */
int consent_check_setting(const char *spec, struct err *e);

/* Records a decision for profile_id (merged-away ids are followed) from source (e.g.
 * "cli"), policy_version and evidence (JSON object text; all three may be NULL).
 * Audited. ERR_NOTFOUND for an unknown profile. */
int consent_set(struct store *st, int64_t profile_id, enum consent_purpose p, bool granted,
                const char *source, const char *policy_version, const char *evidence,
                const char *actor, struct err *e);

/* Reads the events stored since the last sync for consents and records them (one
 * transaction); *added (may be NULL) counts the decisions recorded. Audited when any. */
int consent_sync(struct store *st, int64_t *added, struct err *e);

/* The decision in force for each purpose of a profile (its own, those of the ids
 * merged into it and of its identifiers): status[p] is 1 granted, 0 denied, -1 never
 * decided; time[p] when (may be NULL). */
int consent_state(struct store *st, int64_t profile_id, int status[PURPOSE_COUNT],
                  int64_t time[PURPOSE_COUNT], struct err *e);

/* The enforcement hook for segment exports and webhooks: whether profile_id may be
 * used for purpose (undecided purposes answer the consent-default setting). Returns
 * 1 allowed, 0 not, or a negative error (callers leave the profile out). */
int consent_allows(struct store *st, int64_t profile_id, enum consent_purpose purpose);

#endif
