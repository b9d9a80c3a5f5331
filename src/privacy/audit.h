/* audit.h - the hash-chained audit log (issue 6, "audit").
 *
 * Every clear read of sensitive data, every export, every change of a key, role, plan
 * or consent, and every erasure is appended here. Each entry carries the hash of the
 * entry before it (BLAKE2b-256 over the canonical form of the entry and that hash), so
 * `custos audit verify` finds an entry edited, inserted or removed by hand; the hash of
 * the newest entry is also kept apart from the table (see docs/privacy.md, "Audit") so
 * that removing entries from the end is found too.
 *
 * Entries never hold personal data: subjects are profile ids, key ids or source names,
 * never the values read, exported or erased. */
#ifndef CUSTOS_PRIVACY_AUDIT_H
#define CUSTOS_PRIVACY_AUDIT_H

#include "core/common.h"
#include "core/err.h"

struct store;

/* Actions used by Custos itself ("area.verb"); callers may use others of that form. */
#define AUDIT_READ_CLEAR     "read.clear"     /* clear read of sensitive data */
#define AUDIT_EXPORT         "export"         /* data leaves Custos (DSR export, audience) */
#define AUDIT_ERASE          "erase"          /* data-subject erasure */
#define AUDIT_CONSENT_CHANGE "consent.change" /* a consent set, given or withdrawn */
#define AUDIT_KEY_ADD        "key.add"        /* API key or write key created */
#define AUDIT_KEY_REVOKE     "key.revoke"     /* API key revoked */
#define AUDIT_KEY_ROTATE     "key.rotate"     /* encryption keys rotated */
#define AUDIT_ROLE_CHANGE    "role.change"    /* a role or the role policy changed */
#define AUDIT_PLAN_CHANGE    "plan.change"    /* a source's tracking plan changed */

/* Appends one entry to the audit log of st, in a transaction of its own unless one is
 * already open on st (then it joins it, and is kept only if that one commits).
 *   actor       who acted: "cli" (a local operator), "key:HINT" (an API key by its
 *               hint), "source:NAME", "serve" (the server itself)
 *   action      one of AUDIT_* above, or another "area.verb"
 *   subject     what was acted on, by id: "profile:42", "key:7", "source:web"; may be
 *               NULL
 *   detail_json a JSON object with more detail (no personal data), or NULL
 * Returns 0, or ERR_INVALID (an empty actor or action, detail that is not a JSON
 * object), ERR_STORE / ERR_IO with the reason in e. */
int audit_append(struct store *st, const char *actor, const char *action, const char *subject,
                 const char *detail_json, struct err *e);

#endif
