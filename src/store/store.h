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

typedef int (*store_source_cb)(const struct source *s, void *ctx);
typedef int (*store_api_key_cb)(const struct api_key *k, void *ctx);
typedef int (*store_import_row_cb)(const struct import_row *r, void *ctx);
typedef int (*store_identifier_cb)(int64_t id, const char *type, const char *value, void *ctx);
typedef int (*store_id_cb)(int64_t id, void *ctx);

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
    const char *name;     /* track: the event; other calls: their type ("page", "identify") */
    const char *source;   /* the source's name */
    const char *campaign; /* context.campaign.name, "" when absent */
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
    /* The profile an identifier (standardized) belongs to; 0 when none. */
    int (*profile_by_identifier)(struct store *st, const char *type, const char *value,
                                 int64_t *profile_id, struct err *e);
    /* The 360-degree view of a profile as a JSON object (caller frees with cJSON_Delete):
     * id, redirected_from, identifiers, traits with every candidate value and its
     * lineage, orders summary, the recent_events most recent events, merge history.
     * A merged-away id is followed to the profile it joined. ERR_NOTFOUND if none. */
    int (*profile_view)(struct store *st, int64_t profile_id, int recent_events, void **json,
                        struct err *e);

    /* Analytics. analytics_orders gives every order with a time and id > after_id whose
     * record is in a profile, in id order; analytics_events every event with id >
     * after_id in a profile (its member row, else the profile of its userId or
     * anonymousId identifier: events that arrived after the last resolution), in id
     * order. analytics_stamp is a number that changes whenever resolution rewrites
     * the profiles (then a snapshot loads everything again). */
    int (*analytics_orders)(struct store *st, int64_t after_id, store_analytics_order_cb cb,
                            void *ctx, struct err *e);
    int (*analytics_events)(struct store *st, int64_t after_id, store_analytics_event_cb cb,
                            void *ctx, struct err *e);
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
};

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
