/* store.h - the storage interface: one ops table per backend.
 *
 * The embedded default is SQLite (store_sqlite.c), in WAL mode, with the versioned
 * migrations in src/store/migrations/ applied on open. A PostgreSQL backend plugs in
 * by providing another struct store_ops; callers open with store_open and call
 * through st->ops.
 *
 * A struct store is one connection: use it from one thread at a time. The ingestion
 * writer owns one; readers open their own. Strings passed in are copied by the
 * backend before the call returns; strings passed to callbacks live only during the
 * callback. */
#ifndef CUSTOS_STORE_H
#define CUSTOS_STORE_H

#include "core/common.h"

#define STORE_NULL_TIME INT64_MIN /* a time column that is NULL */

struct source {
    int64_t id;
    const char *name;
    const char *key_hint;
    const char *plan; /* NULL when the source has no tracking plan */
    int64_t created_at, updated_at;
    const unsigned char *key_hash; /* 32 bytes */
};

struct event_row {
    int64_t id; /* set by the store on append; read back by scans */
    int64_t source_id;
    const char *type, *event, *user_id, *anonymous_id, *message_id;
    int64_t timestamp, received_at, sent_at;
    int flags; /* EVENT_FLAG_* */
    const char *raw;
    size_t raw_len;
};

#define EVENT_FLAG_UNPLANNED 1 /* accepted under a plan's "unplanned": "flag" */
#define EVENT_FLAG_REPLAYED  2 /* moved from the quarantine by a replay */

struct quarantine_row {
    int64_t id;
    int64_t source_id;
    const char *message_id, *type, *event; /* may be NULL */
    int64_t received_at;
    int64_t timestamp;   /* STORE_NULL_TIME when unknown */
    const char *reasons; /* JSON array */
    const char *raw;
    size_t raw_len;
};

struct event_filter {
    int64_t source_id; /* 0: every source */
    int64_t after_id;  /* rows with id > after_id */
    int64_t limit;     /* 0: no limit */
    bool newest_first; /* with limit: the last rows, still returned in id order */
};

/* An imported row of a channel export (see docs/import.md). */
struct import_row {
    int64_t id; /* 0: a new record; else the record it replaces */
    int64_t source_id;
    const char *kind, *record_key, *file;
    int64_t line;
    uint64_t hash;
    int64_t time;                              /* STORE_NULL_TIME when none */
    const char *identifiers, *traits, *fields; /* JSON objects, or NULL */
    int64_t imported_at;
};

#define STORE_NULL_AMOUNT INT64_MIN

struct order_row {
    int64_t source_id, record_id;
    const char *order_id;
    int64_t time, amount_minor; /* STORE_NULL_TIME / STORE_NULL_AMOUNT when absent */
    const char *currency, *status, *channel, *store;
};

struct order_line_row {
    int64_t record_id, source_id;
    const char *order_id;
    int64_t time;
    const char *sku, *name, *category;
    double quantity;                        /* NAN when absent */
    int64_t unit_price_minor, amount_minor; /* STORE_NULL_AMOUNT when absent */
    const char *currency, *status, *channel, *store;
};

/* An API key of the read API (migration 0005); never the key itself. */
struct api_key {
    int64_t id;
    const char *name; /* may be NULL */
    const char *role;
    const char *key_hint;
    int64_t created_at;
    int64_t expires_at, revoked_at; /* STORE_NULL_TIME when not set */
    const unsigned char *key_hash;  /* 32 bytes */
};

/* An entry of the audit log (migration 0008, privacy/audit.h). */
struct audit_row {
    int64_t seq, time;
    const char *actor, *action;
    const char *subject, *detail;          /* may be NULL */
    const unsigned char *prev_hash, *hash; /* 32 bytes each (as stored: check the length) */
    size_t prev_hash_len, hash_len;
};
typedef int (*store_audit_cb)(const struct audit_row *r, void *ctx);

typedef int (*store_source_cb)(const struct source *s, void *ctx);
typedef int (*store_api_key_cb)(const struct api_key *k, void *ctx);
typedef int (*store_import_row_cb)(const struct import_row *r, void *ctx);
typedef int (*store_identifier_cb)(int64_t id, const char *type, const char *value, void *ctx);
typedef int (*store_id_cb)(int64_t id, void *ctx);
/* A stored identifier with the profile it belongs to (incremental resolution). */
typedef int (*store_identifier_profile_cb)(int64_t id, const char *type, const char *value,
                                           int64_t profile_id, void *ctx);
/* A row of a sealed column (encryption at rest): its id, text and the field of a bare
 * token (NULL when the text is JSON holding tokens under member names). */
typedef int (*store_sealed_cb)(int64_t id, const char *text, size_t len, const char *field,
                               void *ctx);
/* A live profile with its counts of identifiers and members. */
typedef int (*store_profile_counts_cb)(int64_t id, int64_t identifiers, int64_t members, void *ctx);

/* How far resolution has read (migration 0011): see identity/incremental.h. */
struct identity_cursor {
    int64_t generation;  /* bumped by every full resolution */
    int64_t last_record; /* highest records.id resolved */
    int64_t last_event;  /* highest events.id resolved */
};

/* A pair of profiles the matcher scored between its thresholds (migration 0006). */
struct review_pair {
    int64_t id, profile_a, profile_b; /* profile_a < profile_b, as numbered when scored */
    double score, probability;        /* match weight (sum of log2(m/u)); posterior */
    const char *fields;               /* JSON object: field -> agreement level */
    const char *status;               /* pending, accepted, rejected */
    int64_t created_at, decided_at;   /* decided_at: STORE_NULL_TIME while pending */
    const char *decided_by;           /* NULL while pending */
};

/* A journaled merge: from_profile joined into_profile. */
struct merge_row {
    int64_t id, time, from_profile, into_profile;
    int64_t undone_at; /* STORE_NULL_TIME unless custos profile unmerge undid it */
    const char *reason;
};

typedef int (*store_review_cb)(const struct review_pair *p, void *ctx);
typedef int (*store_merge_cb)(const struct merge_row *m, void *ctx);
/* kind: "cannot" or "must"; a and b: identifier ids (graph nodes). */
typedef int (*store_constraint_cb)(const char *kind, int64_t a, int64_t b, void *ctx);
/* Profile reads from memory: an identifier and its profile; a profile and where it
 * went (0 while it exists). */
typedef int (*store_profile_ident_cb)(const char *type, const char *value, int64_t profile_id,
                                      void *ctx);
typedef int (*store_redirect_cb)(int64_t id, int64_t merged_into, void *ctx);

/* identify calls whose traits a profile view carries (the most recent ones): a view
 * stays a few KB however chatty a client is. */
#define STORE_VIEW_TRAIT_EVENTS 50

/* What identity_stamp returns: numbers that change when resolution writes. */
#define STORE_STAMP_N 4

/* Receives every imported record key of a source with its row id and content hash. */
typedef int (*store_record_key_cb)(const char *key, size_t len, int64_t id, uint64_t hash,
                                   void *ctx);
typedef int (*store_event_cb)(const struct event_row *r, void *ctx);
typedef int (*store_quarantine_cb)(const struct quarantine_row *r, void *ctx);
/* Receives stored (source, messageId) pairs: of events, and of the quarantine unless
 * events_only was asked. */
typedef int (*store_seen_cb)(int64_t source_id, const char *message_id, size_t len,
                             bool quarantined, void *ctx);

/* Data quality (govern/quality.h): one row per source and origin ("events" or
 * "records"), with how many rows it has and how many of them resolution put into a
 * profile. */
struct quality_source_row {
    const char *source, *origin;
    int64_t rows;
    int64_t identifies; /* events: identify calls (the rows that carry traits) */
    int64_t newest;     /* newest event timestamp or record time (else imported_at);
                           STORE_NULL_TIME when none */
    int64_t members;    /* rows that resolution put into a profile */
    int64_t profiles;   /* distinct profiles those rows belong to */
};

/* One value of one field of one row: value is NULL when the key is there with a
 * JSON null, or the column is NULL. */
struct quality_value_row {
    const char *source, *origin, *field, *value;
};

/* Analytics (analytics/snapshot.c): orders and events with the profile they belong
 * to, for the columnar snapshot. */
struct analytics_order_row {
    int64_t id, profile_id, time, amount; /* amount: 0 when absent */
    const char *source, *channel, *store; /* "" when absent */
    const char *categories; /* distinct categories of its lines, separated by '\x1f' */
};
struct analytics_event_row {
    int64_t id, profile_id, time;
    const char *name;       /* track: the event; other calls: their type ("page", "identify") */
    const char *source;     /* the source's name */
    const char *campaign;   /* context.campaign.name, "" when absent */
    const char *properties; /* the properties object as JSON text, "" when absent */
};
typedef int (*store_analytics_order_cb)(const struct analytics_order_row *r, void *ctx);
typedef int (*store_analytics_event_cb)(const struct analytics_event_row *r, void *ctx);
typedef int (*store_trait_cb)(int64_t profile_id, const char *value, void *ctx);

/* A segment (migration 0009). */
struct segment_row {
    int64_t id;
    const char *name, *expr;
    int64_t created_at, evaluated_at; /* evaluated_at: STORE_NULL_TIME before the first */
    int64_t members;                  /* current members at the last evaluation */
};
struct membership_row {
    int64_t profile_id, entered_at, exited_at; /* exited_at: STORE_NULL_TIME while in */
};
typedef int (*store_segment_cb)(const struct segment_row *r, void *ctx);
typedef int (*store_membership_cb)(const struct membership_row *r, void *ctx);

typedef int (*store_quality_source_cb)(const struct quality_source_row *r, void *ctx);
typedef int (*store_quality_value_cb)(const struct quality_value_row *r, void *ctx);

/* Privacy (migration 0010): a consent decision for a profile (profile_id != 0) or for
 * an identifier (identifier_type and identifier_value, standardized). */
struct consent_row {
    int64_t id;
    int64_t profile_id;
    const char *identifier_type, *identifier_value;
    const char *purpose, *status; /* status: "granted" or "denied" */
    int64_t time;
    const char *source, *policy_version;
    const char *evidence; /* JSON object, or NULL */
};

/* What an erasure deleted, per table. */
struct erase_counts {
    int64_t events, records, orders, order_lines, identifiers, members, profiles, merges, consents,
        quarantine;
    int64_t derived; /* computed traits, segment memberships, review pairs, unmerges */
};

typedef int (*store_consent_cb)(const struct consent_row *c, void *ctx);
typedef int (*store_suppression_cb)(const unsigned char hash[32], const char *type, void *ctx);

struct store;

struct store_ops {
    const char *name;
    void (*close)(struct store *st);
    int (*begin)(struct store *st, struct err *e);
    int (*commit)(struct store *st, struct err *e);
    void (*rollback)(struct store *st);

    int (*source_add)(struct store *st, const char *name, const unsigned char key_hash[32],
                      const char *key_hint, const char *plan, int64_t *id, struct err *e);
    int (*source_set_plan)(struct store *st, const char *name, const char *plan, struct err *e);
    int (*source_by_key)(struct store *st, const unsigned char key_hash[32], store_source_cb cb,
                         void *ctx, struct err *e);
    int (*source_by_name)(struct store *st, const char *name, store_source_cb cb, void *ctx,
                          struct err *e);
    int (*source_list)(struct store *st, store_source_cb cb, void *ctx, struct err *e);
    int (*sources_version)(struct store *st, int64_t *version, struct err *e);

    int (*event_append)(struct store *st, struct event_row *r, struct err *e);
    int (*event_scan)(struct store *st, const struct event_filter *f, store_event_cb cb, void *ctx,
                      struct err *e);
    int (*event_count)(struct store *st, int64_t source_id, int64_t *n, struct err *e);
    /* Whether an event replayed from the quarantine has this messageId. */
    int (*event_replayed)(struct store *st, int64_t source_id, const char *message_id, bool *found,
                          struct err *e);

    int (*quarantine_append)(struct store *st, struct quarantine_row *r, struct err *e);
    int (*quarantine_scan)(struct store *st, const struct event_filter *f, store_quarantine_cb cb,
                           void *ctx, struct err *e);
    int (*quarantine_get)(struct store *st, int64_t id, store_quarantine_cb cb, void *ctx,
                          struct err *e);
    int (*quarantine_delete)(struct store *st, int64_t id, struct err *e);

    int (*seen_scan)(struct store *st, bool events_only, store_seen_cb cb, void *ctx,
                     struct err *e);

    /* Import: records keep their provenance; a record with id != 0 replaces that row
     * (and, for an order line, its line). Orders of order lines are rebuilt from their
     * lines by orders_aggregate for every order touched since the last call. */
    int (*record_keys)(struct store *st, int64_t source_id, store_record_key_cb cb, void *ctx,
                       struct err *e);
    int (*record_put)(struct store *st, struct import_row *r, struct err *e);
    int (*order_put)(struct store *st, const struct order_row *o, struct err *e);
    /* touch: mark the line's order for orders_aggregate (replace always marks the
     * order the line belonged to). Without it the caller keeps the order itself, with
     * order_add. */
    int (*order_line_put)(struct store *st, const struct order_line_row *l, bool replace,
                          bool touch, struct err *e);
    /* Adds lines to an order aggregated by the caller (amount added, earliest time and
     * record kept), creating it if needed. */
    int (*order_add)(struct store *st, const struct order_row *o, int64_t lines, struct err *e);
    /* Receives the order id of every order of a source. */
    int (*order_keys)(struct store *st, int64_t source_id, store_record_key_cb cb, void *ctx,
                      struct err *e);
    int (*orders_aggregate)(struct store *st, struct err *e);
    int (*table_count)(struct store *st, const char *table, int64_t source_id, int64_t *n,
                       struct err *e);
    /* Every imported record, in id order (fields: id, source_id, kind, record_key,
     * time, identifiers, traits). */
    int (*record_scan)(struct store *st, store_import_row_cb cb, void *ctx, struct err *e);
    /* Data quality: quality_sources gives every (source, origin) with rows, ordered
     * by source name and origin. quality_values gives every field value, ordered by
     * source name, origin, field and value (as written): records' identifiers
     * ("identifiers.TYPE") and traits ("traits.NAME") keys, events' userId and
     * anonymousId, and identify calls' traits.email and traits.phone (from traits,
     * else context.traits). */
    int (*quality_sources)(struct store *st, store_quality_source_cb cb, void *ctx, struct err *e);
    int (*quality_values)(struct store *st, store_quality_value_cb cb, void *ctx, struct err *e);

    /* OneID (migration 0004): identifiers are graph nodes, members say which profile
     * each event (kind 0) and record (kind 1) belongs to. identity_clear empties both
     * before a full resolution writes them again; profiles and merges are kept. */
    int (*identity_clear)(struct store *st, struct err *e);
    int (*identifier_put)(struct store *st, int64_t id, const char *type, const char *value,
                          int64_t profile_id, struct err *e);
    int (*identifier_scan)(struct store *st, store_identifier_cb cb, void *ctx, struct err *e);
    int (*member_put)(struct store *st, int kind, int64_t row_id, int64_t profile_id,
                      struct err *e);
    int (*profile_put)(struct store *st, int64_t id, int64_t identifiers, int64_t members,
                       int64_t now, struct err *e);
    /* Profiles that exist (not merged away). */
    int (*profile_scan)(struct store *st, store_id_cb cb, void *ctx, struct err *e);
    int (*profile_merge)(struct store *st, int64_t from, int64_t into, const char *reason,
                         int64_t now, struct err *e);
    /* Incremental resolution (migration 0011). record_scan_after: records with id >
     * after_id in id order, at most limit (> 0) of them, fields as record_scan.
     * identifier_profiles: every identifier in id order with its profile.
     * profile_counts: every live profile with its counts. profile_reassign: the
     * identifiers and members of profile from now belong to into (the merge itself is
     * profile_merge). identity_cursor_get / _put: the one cursor row; _put with
     * new_generation bumps the generation (a full resolution). */
    int (*record_scan_after)(struct store *st, int64_t after_id, int64_t limit,
                             store_import_row_cb cb, void *ctx, struct err *e);
    int (*identifier_profiles)(struct store *st, store_identifier_profile_cb cb, void *ctx,
                               struct err *e);
    int (*profile_counts)(struct store *st, store_profile_counts_cb cb, void *ctx, struct err *e);
    int (*profile_reassign)(struct store *st, int64_t from, int64_t into, struct err *e);
    int (*identity_cursor_get)(struct store *st, struct identity_cursor *c, struct err *e);
    int (*identity_cursor_put)(struct store *st, int64_t last_record, int64_t last_event,
                               bool new_generation, int64_t now, struct err *e);
    /* The profile an identifier (standardized) belongs to; 0 when none. */
    int (*profile_by_identifier)(struct store *st, const char *type, const char *value,
                                 int64_t *profile_id, struct err *e);
    /* The 360-degree view of a profile as a JSON object (caller frees with cJSON_Delete):
     * id, redirected_from, identifiers, trait_records (records with traits, newest
     * first), trait_events (the STORE_VIEW_TRAIT_EVENTS most recent identify calls
     * with their traits), orders summary, the recent_events most recent events, merge
     * history.
     * A merged-away id is followed to the profile it joined. ERR_NOTFOUND if none. */
    int (*profile_view)(struct store *st, int64_t profile_id, int recent_events, void **json,
                        struct err *e);

    /* OneID review queue, link constraints and unmerges (migration 0006).
     * A resolution scores the queue again: review_clear_pending marks the pending pairs
     * stale, review_put adds a pending pair or makes a stale one pending again (same id;
     * a decided pair is left alone), review_drop_stale deletes those not found again.
     * review_scan: one pair (id > 0) or all with a status (NULL: any), by id.
     * review_decide sets a pending pair's status: ERR_NOTFOUND for no such pair,
     * ERR_EXISTS when it was decided already. constraint_add keeps one row per (kind,
     * a, b); constraint_scan gives them all. merge_scan: the merges of a profile (either
     * side; 0: all), by id. merge_undo marks a merge undone and journals the unmerge. */
    int (*review_clear_pending)(struct store *st, struct err *e);
    int (*review_drop_stale)(struct store *st, struct err *e);
    int (*review_put)(struct store *st, int64_t a, int64_t b, double score, double probability,
                      const char *fields, int64_t now, struct err *e);
    int (*review_scan)(struct store *st, int64_t id, const char *status, store_review_cb cb,
                       void *ctx, struct err *e);
    int (*review_decide)(struct store *st, int64_t id, const char *status, const char *by,
                         int64_t now, struct err *e);
    int (*constraint_add)(struct store *st, const char *kind, int64_t a, int64_t b,
                          const char *reason, int64_t now, struct err *e);
    int (*constraint_scan)(struct store *st, store_constraint_cb cb, void *ctx, struct err *e);
    int (*merge_scan)(struct store *st, int64_t profile, store_merge_cb cb, void *ctx,
                      struct err *e);
    int (*merge_undo)(struct store *st, int64_t merge_id, int64_t profile, int64_t from_profile,
                      bool restored, int64_t now, struct err *e);
    /* Profile reads from memory (identity/profile_cache.h; migration 0007).
     * data_version is SQLite's PRAGMA data_version: it changes when another connection
     * commits. identity_stamp gives numbers that change when a resolution (or a merge,
     * or an import of new records) commits: the newest profiles.resolved_at, the
     * largest profile, merge and record ids; cheap (indexed maxima). identity_index_scan
     * gives every identifier with its profile; profile_redirect_scan every profile id
     * with merged_into (0 while it exists). */
    int (*data_version)(struct store *st, int64_t *version, struct err *e);
    int (*identity_stamp)(struct store *st, int64_t stamp[STORE_STAMP_N], struct err *e);
    int (*identity_index_scan)(struct store *st, store_profile_ident_cb cb, void *ctx,
                               struct err *e);
    int (*profile_redirect_scan)(struct store *st, store_redirect_cb cb, void *ctx, struct err *e);
    /* Analytics. analytics_orders gives every order with a time and id > after_id whose
     * record is in a profile, in id order, stopping before the first order whose record
     * id is above upto_record (not resolved yet: the caller's next call starts there);
     * analytics_events every event with after_id < id <= upto_event in a profile (its
     * member row, else the profile of its userId or anonymousId identifier: events that
     * arrived after the last resolution), in id order. INT64_MAX: no bound.
     * analytics_stamp is a number that changes whenever resolution rewrites profiles
     * (a full resolution, a merge, an unmerge) or an erasure removes rows, not when the
     * incremental resolver only adds members and profiles (then a snapshot loads
     * everything again). */
    int (*analytics_orders)(struct store *st, int64_t after_id, int64_t upto_record,
                            store_analytics_order_cb cb, void *ctx, struct err *e);
    int (*analytics_events)(struct store *st, int64_t after_id, int64_t upto_event,
                            store_analytics_event_cb cb, void *ctx, struct err *e);
    int (*analytics_stamp)(struct store *st, int64_t *stamp, struct err *e);
    /* Every value of trait name (letters, digits, _) with its profile, oldest first (so
     * the last one a profile gets is its newest, the golden value): from records'
     * traits, and identify calls' traits and context.traits. */
    int (*analytics_traits)(struct store *st, const char *name, store_trait_cb cb, void *ctx,
                            struct err *e);

    /* Segments (migration 0009). segment_put creates or replaces a segment;
     * segment_list calls cb for each (or the one named, if name); segment_delete
     * removes it and its memberships. segment_members calls cb for each membership
     * (current only unless all), ordered by profile. segment_sync stores a new
     * evaluation: every profile of members[0..n) not currently in enters at now,
     * every current member not in the list exits at now; *entered and *exited count
     * them. computed_put stores a computed trait (RFM scores) of a profile. */
    int (*segment_put)(struct store *st, const char *name, const char *expr, int64_t now,
                       struct err *e);
    int (*segment_list)(struct store *st, const char *name, store_segment_cb cb, void *ctx,
                        struct err *e);
    int (*segment_delete)(struct store *st, const char *name, struct err *e);
    int (*segment_members)(struct store *st, int64_t segment_id, bool all, store_membership_cb cb,
                           void *ctx, struct err *e);
    int (*segment_sync)(struct store *st, int64_t segment_id, const int64_t *members, size_t n,
                        int64_t now, int64_t *entered, int64_t *exited, struct err *e);
    int (*computed_put)(struct store *st, int64_t profile_id, const char *name, const char *value,
                        int64_t now, struct err *e);
    /* Removes computed trait name from every profile. */
    int (*computed_clear)(struct store *st, const char *name, struct err *e);

    /* API keys (migration 0005). api_key_add stores a key's hash (expires_at may be
     * STORE_NULL_TIME); ERR_EXISTS if the hash is taken. api_key_by_hash calls cb for
     * the key with that hash, if any (expired and revoked keys too: the caller
     * decides). api_key_revoke sets revoked_at (kept if already set); ERR_NOTFOUND
     * for an unknown id. */
    int (*api_key_add)(struct store *st, const char *name, const char *role,
                       const unsigned char key_hash[32], const char *key_hint, int64_t created_at,
                       int64_t expires_at, int64_t *id, struct err *e);
    int (*api_key_by_hash)(struct store *st, const unsigned char key_hash[32], store_api_key_cb cb,
                           void *ctx, struct err *e);
    int (*api_key_list)(struct store *st, store_api_key_cb cb, void *ctx, struct err *e);
    int (*api_key_revoke)(struct store *st, int64_t id, int64_t now, struct err *e);

    /* The audit log (migration 0008). audit_insert appends r as it is (seq, hashes
     * and all: privacy/audit.c computes them); audit_last calls cb with the newest
     * entry, if any; audit_scan calls cb for every entry with time >= since and seq >
     * after_seq, in seq order. in_transaction says whether a transaction is open on st;
     * location is the database file's path ("" when not a file). */
    int (*audit_insert)(struct store *st, const struct audit_row *r, struct err *e);
    int (*audit_last)(struct store *st, store_audit_cb cb, void *ctx, struct err *e);
    int (*audit_scan)(struct store *st, int64_t since, int64_t after_seq, store_audit_cb cb,
                      void *ctx, struct err *e);
    bool (*in_transaction)(struct store *st);
    const char *(*location)(struct store *st);
    /* Differential privacy budgets (migration 0008): adds epsilon to what key_id has
     * spent, if that stays within its budget (the key's own, else default_budget);
     * else ERR_LIMIT and nothing is spent. *spent and *budget (may be NULL) receive
     * the figures after the call. */
    int (*dp_spend)(struct store *st, int64_t key_id, double epsilon, double default_budget,
                    int64_t now, double *spent, double *budget, struct err *e);
    /* dp_budget_get: what key_id has spent (0 when nothing yet), its budget (its own,
     * else default_budget) and whether it has one of its own. dp_budget_set gives
     * key_id a budget of its own (budget < 0: back to default) and, with reset, sets
     * what it spent back to 0. */
    int (*dp_budget_get)(struct store *st, int64_t key_id, double default_budget, double *spent,
                         double *budget, bool *own, struct err *e);
    int (*dp_budget_set)(struct store *st, int64_t key_id, double budget, bool reset, int64_t now,
                         struct err *e);
    /* Privacy (migration 0010; privacy/dsr.h, consent.h, retention.h).
     * privacy_secret gives the 32-byte secret called name, made at random and kept on
     * first use. suppression_add keeps a blind index (again: no error);
     * suppression_scan gives every one; suppression_count how many there are. */
    int (*privacy_secret)(struct store *st, const char *name, unsigned char out[32], struct err *e);
    int (*suppression_add)(struct store *st, const unsigned char hash[32], const char *type,
                           int64_t now, struct err *e);
    int (*suppression_scan)(struct store *st, store_suppression_cb cb, void *ctx, struct err *e);
    int (*suppression_count)(struct store *st, int64_t *n, struct err *e);
    /* profile_family follows merge redirects from profile_id to the profile in force
     * (*live; ERR_NOTFOUND if none) and calls cb for it and for every id merged into
     * it, directly or not. profile_identifiers gives the identifiers of a profile
     * (a blind-indexed one by its token: privacy/seal.h opens it). */
    int (*profile_family)(struct store *st, int64_t profile_id, int64_t *live, store_id_cb cb,
                          void *ctx, struct err *e);
    int (*profile_identifiers)(struct store *st, int64_t profile_id, store_identifier_cb cb,
                               void *ctx, struct err *e);
    /* Everything held about profile live (in force) as a JSON object the caller frees
     * with cJSON_Delete: ids, identifiers, records with their traits (the lineage),
     * orders, order lines, events (raw), consents, merges. */
    int (*privacy_export)(struct store *st, int64_t live, void **json, struct err *e);
    /* Events and records that no profile holds (not resolved yet), for the caller to
     * look for identifiers in. */
    int (*privacy_unresolved)(struct store *st, store_event_cb on_event,
                              store_import_row_cb on_record, void *ctx, struct err *e);
    /* Deletes everything of profile live and the ids merged into it: events and records
     * it holds, their orders and order lines, members, consents (of the profiles and of
     * their identifiers), merges, profiles; its identifiers become tombstones (type
     * kept, value "(erased)#ID", no profile) so that identifier numbers stay dense.
     * Turns secure_delete on for the connection. Call inside a transaction. */
    int (*privacy_erase)(struct store *st, int64_t live, struct erase_counts *n, struct err *e);
    /* Deletes one row of "events" (with its membership and the consents held by its
     * userId or anonymousId), "records" (with its order line, order and membership) or
     * "quarantine" by id. */
    int (*privacy_delete_row)(struct store *st, const char *table, int64_t id, struct err *e);
    /* Makes deleted bytes go away: checkpoints the WAL (TRUNCATE), then VACUUMs if
     * vacuum is set, then truncates the WAL again. Outside a transaction. */
    int (*privacy_compact)(struct store *st, bool vacuum, struct err *e);
    /* Consents: consent_put appends one (c->id set); consent_scan gives, oldest first,
     * those of profile live, of the ids merged into it and of its identifiers. */
    int (*consent_put)(struct store *st, struct consent_row *c, struct err *e);
    int (*consent_scan)(struct store *st, int64_t live, store_consent_cb cb, void *ctx,
                        struct err *e);
    /* Events after after_id that may carry a consent (context.consent, or a track
     * "Consent Updated"), in id order. */
    int (*consent_events)(struct store *st, int64_t after_id, store_event_cb cb, void *ctx,
                          struct err *e);
    /* A named counter of the privacy jobs (0 when never set). */
    int (*privacy_state_get)(struct store *st, const char *name, int64_t *v, struct err *e);
    int (*privacy_state_set)(struct store *st, const char *name, int64_t v, struct err *e);
    /* Retention: rows of category ("events", "quarantine", "records", "consents")
     * older than cutoff (ms), counted in *n and, unless dry_run, deleted (with what
     * depends on them: memberships, order lines, orders). ERR_INVALID for another
     * category. */
    int (*retention_sweep)(struct store *st, const char *category, int64_t cutoff, bool dry_run,
                           int64_t *n, struct err *e);
    /* Encryption at rest (migration 0012; privacy/seal.h). identifier_token_put keeps
     * the token of a blind-indexed identifier value (kept already: no error, no change).
     * sealed_scan gives the rows of one sealed column that hold a token, after after_id,
     * at most limit, in id order, with the field of a bare token (the identifier type;
     * NULL elsewhere): what is "events.raw", "quarantine.raw", "records.identifiers",
     * "records.traits", "records.fields" or "identifier_tokens.token" (ERR_INVALID
     * otherwise); sealed_update rewrites one row's column. */
    int (*identifier_token_put)(struct store *st, const char *value, const char *type,
                                const char *token, struct err *e);
    int (*sealed_scan)(struct store *st, const char *what, int64_t after_id, int64_t limit,
                       store_sealed_cb cb, void *ctx, struct err *e);
    int (*sealed_update)(struct store *st, const char *what, int64_t id, const char *text,
                         size_t len, struct err *e);
};

struct store {
    const struct store_ops *ops;
};

struct store_options {
    bool synchronous_full; /* fsync each commit (default) or only at checkpoints */
    bool read_only;
    /* Copy committed data into the main database on a thread of its own, so that a
     * commit never waits for a checkpoint (for the ingestion writer). */
    bool background_checkpoint;
    /* Never checkpoint at this connection's commits: another connection of the process
     * (the writer's, with background_checkpoint) does it. Without it, a commit that
     * takes the WAL past 1,000 pages copies it into the database and fsyncs it there and
     * then, while every other writer waits (in `custos serve`: the resolver, holding its
     * turn, stalled ingestion for the checkpoint's length). */
    bool no_checkpoint;
};

/* Encryption at rest (privacy/seal.h) installs fn to give stored text that holds
 * tokens back in clear: text[0..len) in (a text that is one token: of bare_field, the
 * value's JSON text out); *out malloc'd (NULL: no token, use text),
 * ERR_INVALID when a token does not open. The readers of events' raw, quarantined
 * bodies and records' identifiers, traits and fields apply it; tokens that do not
 * open stay as stored, with a warning naming the row. NULL uninstalls. */
typedef int (*store_unseal_fn)(const char *text, size_t len, const char *bare_field, char **out,
                               size_t *out_len);
void store_set_unseal(store_unseal_fn fn);

/* Opens the store at location (a SQLite file path), creating it and applying any
 * pending migrations. The caller frees it with store_close. Returns 0, or ERR_STORE /
 * ERR_IO with the reason in e. */
int store_open(const char *location, const struct store_options *opt, struct store **out,
               struct err *e);

static inline void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

/* The SQLite backend; store_open dispatches to it. */
int store_sqlite_open(const char *path, const struct store_options *opt, struct store **out,
                      struct err *e);

#endif
