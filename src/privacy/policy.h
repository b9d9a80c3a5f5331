/* policy.h - what each role sees of each class of field (issue 6, "roles and masking").
 *
 * The policy is a table role x class -> clear | masked | hidden. The defaults (see
 * docs/privacy.md for why each role gets what it gets):
 *
 *               public  internal  sensitive  core-sensitive
 *   admin       clear   clear     clear      clear
 *   analyst     clear   clear     masked     hidden
 *   marketing   clear   clear     masked     hidden
 *   service     clear   clear     clear      masked
 *   risk        clear   clear     masked     clear
 *
 * The `role-policy` setting overrides entries: "ROLE:CLASS:ACTION,..." (e.g.
 * "marketing:sensitive:hidden,service:core-sensitive:hidden").
 *
 * policy_apply walks a JSON answer (a profile view, a stored message, a quarantined
 * one) once and applies the role to every value by the class of its field name:
 * members of objects by their key, {"type": T, "value": V} pairs (identifiers) by T,
 * and array elements and nested members by the key of their container when that is
 * the more sensitive. Masked values get the mask of mask.h; hidden ones are removed
 * (a hidden identifier leaves the identifiers array). */
#ifndef CUSTOS_PRIVACY_POLICY_H
#define CUSTOS_PRIVACY_POLICY_H

#include <cJSON.h>

#include "core/common.h"
#include "privacy/classify.h"

enum policy_action { POLICY_CLEAR, POLICY_MASKED, POLICY_HIDDEN };

#define POLICY_ROLES 5

/* "clear", "masked", "hidden". */
const char *policy_action_name(enum policy_action a);

/* Checks a `role-policy` setting's text; ERR_INVALID naming the entry at fault. */
int policy_check(const char *spec, struct err *e);

/* What role sees of class c under the `role-policy` setting in force (read once,
 * thread-safe). An unknown role sees only public fields clear and nothing else. */
enum policy_action policy_for(const char *role, enum data_class c);

/* The same under an explicit spec (may be NULL), for tests and documentation. */
enum policy_action policy_with(const char *spec, const char *role, enum data_class c);

/* What one pass of policy_apply did: fields shown clear that are sensitive or
 * core-sensitive (an audited read), masked and hidden, and the names of the first
 * clear sensitive fields (for the audit entry; never their values). */
struct policy_stats {
    int clear_sensitive, masked, hidden;
    char fields[160]; /* "phone,email,..." (truncated) */
};

/* Applies role to json in place (see above). Returns 0, or ERR_NOMEM (json is then
 * partly masked: the caller must not send it). */
int policy_apply(cJSON *json, const char *role, struct policy_stats *stats);

/* policy_apply with an explicit policy and classification (tests). */
int policy_apply_with(cJSON *json, const char *policy_spec, const char *class_spec,
                      const char *role, struct policy_stats *stats);

/* Applies role to json for an answer to actor ("cli", "key:HINT") about subject
 * ("profile:42", "events", ...), and appends a read.clear entry to the audit log of st
 * when sensitive fields were shown clear (their names in the detail, never values).
 * Returns 0; ERR_NOMEM, or the audit log's error: then the answer must not be sent
 * (no clear read goes unaudited). */
struct store;
int policy_answer(struct store *st, cJSON *json, const char *role, const char *actor,
                  const char *subject, struct err *e);

/* policy_answer for an answer already rendered as JSON text (*body, *len: malloc'd;
 * replaced by the masked text, the old one freed). Roles that see every class clear
 * keep the text as it is (no parse) and get a read.clear entry whenever the text is
 * not empty. Same returns as policy_answer; on failure *body is still the caller's
 * (masked or not) and must not be sent. */
int policy_answer_text(struct store *st, char **body, size_t *len, const char *role,
                       const char *actor, const char *subject, struct err *e);

/* The masking half of policy_answer_text, for callers that audit on their own (a server
 * batching its audit entries, audit.h's group commit): masks *body for role and writes
 * into detail the read.clear entry's detail, or "" when the answer needs none. */
#define POLICY_DETAIL_MAX 256
int policy_mask_text(char **body, size_t *len, const char *role, char detail[POLICY_DETAIL_MAX],
                     struct err *e);

/* Whether role sees every class clear (then policy_apply changes nothing). */
bool policy_all_clear(const char *role);

/* For a read of many rows at once (custos events --json, quarantine list --json):
 * appends one read.clear entry for actor and subject, with detail_json (may be NULL),
 * before the read, when role sees sensitive or core-sensitive fields clear. Returns 0
 * or the audit log's error (then do not read). */
int policy_audit_bulk(struct store *st, const char *role, const char *actor, const char *subject,
                      const char *detail_json, struct err *e);

#endif
