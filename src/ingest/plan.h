/* plan.h - tracking plans: what a source promises to send, checked per message.
 *
 * A plan is a JSON file (docs/tracking-plans.md):
 *
 *   {
 *     "unplanned": "allow" | "flag" | "block",      default "allow"
 *     "calls":  { "identify": SCHEMA, "track": SCHEMA, "page": SCHEMA,
 *                 "screen": SCHEMA, "group": SCHEMA, "alias": SCHEMA },
 *     "events": { "Order Completed": SCHEMA, ... }
 *   }
 *
 * Every SCHEMA is a JSON Schema subset applied to the whole message (so a rule on
 * an event's properties is written under "properties": {"properties": {...}}):
 * "type" (a name or an array of names: string, number, integer, boolean, object,
 * array, null), "required", "properties", "additionalProperties" (false only),
 * "items", "enum", "const", "pattern" (PCRE2, unanchored as in JSON Schema),
 * "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
 * "maxLength" (in code points), "minItems", "maxItems", "description" (ignored).
 * A call's schema applies to every message of that type; an event's schema applies
 * to track messages with that event name, in addition to "calls.track". When
 * "events" is present, a track message whose event is not listed is unplanned and
 * handled as "unplanned" says: allowed, accepted but flagged, or blocked.
 */
#ifndef CUSTOS_PLAN_H
#define CUSTOS_PLAN_H

#include <cJSON.h>

#include "core/common.h"

struct plan;

enum plan_verdict {
    PLAN_PASS = 0,  /* conforms */
    PLAN_FLAG = 1,  /* accepted, but flagged: an unplanned event under "flag" */
    PLAN_BLOCK = 2, /* breaks the plan: quarantine it */
};

/* Limits on what a plan may contain, so that a plan file cannot exhaust memory. */
#define PLAN_MAX_BYTES   (1024 * 1024) /* a plan file larger than this is refused */
#define PLAN_MAX_DEPTH   32            /* schemas nest at most this deep */
#define PLAN_MAX_REASONS 32            /* reasons recorded per message; the rest counted */

/* Compiles the plan text json[0..len) into *out (free with plan_free). Unknown
 * keywords, wrong keyword types, bad regular expressions and unknown call types are
 * errors naming their JSON path ("events.Order Completed.properties.total.minimum").
 * Returns 0, ERR_INVALID, ERR_LIMIT or ERR_NOMEM, with the reason in e. */
int plan_compile(const char *json, size_t len, struct plan **out, struct err *e);

void plan_free(struct plan *p);

/* Checks msg (a parsed message object with a string "type" and, for track, a string
 * "event") against p. Appends one object per violation to reasons (a cJSON array),
 * each {"field": "properties.total", "code": "type|required|enum|pattern|minimum|
 * maximum|maxLength|minLength|additionalProperties|unplanned|...", "message": "..."}.
 * Messages never quote the offending value (it may be personal data); they state the
 * rule ("must be a number", "must match ^1[3-9]\\d{9}$", "is required"). At most
 * PLAN_MAX_REASONS are appended. Thread-safe: many threads may check against one
 * plan at once. Returns the verdict; PLAN_BLOCK if any rule fails. */
enum plan_verdict plan_check(const struct plan *p, const cJSON *msg, cJSON *reasons);

#endif
