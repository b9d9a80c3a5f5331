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
#include "store/store.h"

/* Actions used by Custos itself ("area.verb"); callers may use others of that form. */
#define AUDIT_READ_CLEAR     "read.clear"     /* clear read of sensitive data */
#define AUDIT_EXPORT         "export"         /* data leaves Custos (DSR export, audience) */
#define AUDIT_ERASE          "erase"          /* data-subject erasure */
#define AUDIT_CONSENT_CHANGE "consent.change" /* a consent set, given or withdrawn */
#define AUDIT_KEY_ADD        "key.add"        /* API key or write key created */
#define AUDIT_KEY_REVOKE     "key.revoke"     /* API key revoked */
#define AUDIT_KEY_ROTATE     "key.rotate"     /* encryption keys rotated */
#define AUDIT_KEY_BUDGET     "key.budget"     /* an API key's privacy budget set or reset */
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

/* Group commit, for a server answering many clear reads at once: appends from many
 * threads share one transaction, one fsync and one head write. A thread that finds no
 * commit under way commits everything queued so far (its own entry with it) while the
 * threads arriving meanwhile queue for the next one; each append returns once its
 * entry is committed, with that commit's result, as audit_append would. The store st
 * is the group's alone from audit_group_new to audit_group_free. */
struct audit_group;
int audit_group_new(struct store *st, struct audit_group **out, struct err *e);
void audit_group_free(struct audit_group *g);
int audit_group_append(struct audit_group *g, const char *actor, const char *action,
                       const char *subject, const char *detail_json, struct err *e);

/* Moves the head file to the newest entry: call it after committing a transaction in
 * which audit_append joined (audit_append does it itself otherwise). */
int audit_head_sync(struct store *st, struct err *e);

/* The hash of an entry: BLAKE2b-256 over "custos audit v1", seq and time (64-bit
 * little-endian), actor, action, subject and detail (each a presence byte, a 64-bit
 * length and its bytes) and prev_hash (32 bytes). */
void audit_hash(const struct audit_row *r, const unsigned char prev_hash[32],
                unsigned char out[32]);

/* The file that records the newest entry's seq and hash, next to the database:
 * "DB.audit-head". Writes the path into out (capacity cap); ERR_LIMIT if too long. */
int audit_head_path(struct store *st, char *out, size_t cap, struct err *e);

/* What audit_verify found. */
struct audit_report {
    int64_t entries;    /* entries read */
    int64_t last_seq;   /* the newest entry's seq (0: none) */
    int64_t head_seq;   /* the seq the head file records (0: no head file) */
    int64_t after_head; /* entries after the head: appended while it was being written,
                           or by someone with access to the database */
    int64_t bad_seq;    /* the first entry found wrong (0: none) */
    char last_hash[65]; /* the newest good entry's hash, hex ("" when none) */
    char reason[256];   /* why, when bad_seq != 0 or the head does not match */
};

/* Reads the whole log and checks every entry's seq (no gap), prev_hash (the hash of
 * the entry before it) and hash (its content), then the head file: its seq must be
 * there with its hash. Returns 0 when all holds; ERR_INVALID with the first bad seq
 * and the reason in r (and e) when an entry was edited, inserted or removed, or the
 * head does not match; ERR_STORE / ERR_IO on a failure to read. */
int audit_verify(struct store *st, struct audit_report *r, struct err *e);

#endif
