/* snapshot.h - the columnar in-memory snapshot every analysis runs on.
 *
 * Profiles are dense indexes 0..nprofiles-1 (profile_id[i] is the store's id). Orders
 * and events are columns sorted by (profile, time, store id): the rows of profile p
 * are [ord_off[p], ord_off[p+1]) and [ev_off[p], ev_off[p+1]). Times are int64 ms UTC,
 * amounts int64 minor units, strings are dictionary ids (struct snap_dict).
 *
 * Rows arrive through snapshot_add_order / snapshot_add_event (in any order) or from
 * the store (snapshot_refresh: only rows newer than the last ones loaded), and become
 * visible to analyses after snapshot_build, which re-sorts the columns. An analysis
 * only reads a built snapshot; one snapshot may be read by several threads at once,
 * but refresh and build need it to themselves. See docs/internals/analytics.md. */
#ifndef CUSTOS_ANALYTICS_SNAPSHOT_H
#define CUSTOS_ANALYTICS_SNAPSHOT_H

#include "core/common.h"
#include "store/store.h"

/* Limits: row counts are 32-bit offsets; categories of an order are a 64-bit mask. */
#define SNAP_MAX_ROWS        4000000000u /* orders or events in one snapshot */
#define SNAP_MAX_CATEGORIES  64          /* distinct product categories tracked per order */
#define SNAP_NONE            0           /* dictionary id of "no value" */
#define SNAP_THREADS         2   /* scans split into this many parts (the machine's cores) */
#define SNAP_EVENT_PROPS     16  /* properties kept per event (the first top-level scalars) */
#define SNAP_PROP_VALUE_MAX  200 /* longer string values are not kept: ids, not free text */
#define SNAP_PROP_COLUMNS    8   /* property keys also kept as a column (the most frequent) */
#define SNAP_PROP_COLUMN_MIN 16  /* ... when at least 1 event in this many has the key */
#define MS_PER_DAY           86400000LL

/* Strings interned to dense ids; id 0 is "" (no value). */
struct snap_dict {
    char **str;
    size_t n, cap;
    uint32_t *slot; /* open addressing: id + 1, 0 empty */
    size_t nslot;
};

/* Returns the id of s[0..len), adding it if new; UINT32_MAX when out of memory. */
uint32_t snap_dict_intern(struct snap_dict *d, const char *s, size_t len);
/* The id of s, or UINT32_MAX when absent. */
uint32_t snap_dict_find(const struct snap_dict *d, const char *s);
/* The string of id (never NULL). */
const char *snap_dict_str(const struct snap_dict *d, uint32_t id);

/* Frees the strings and the table (the dictionary is empty and reusable after). */
void snap_dict_release(struct snap_dict *d);

/* One order / event as it arrives (strings are interned by the caller with the
 * snapshot's dictionaries, or by snapshot_refresh). */
struct snap_order {
    int64_t profile_id, time, amount;
    uint32_t source, channel, store;
    uint64_t categories; /* bit i: a line in category id i (ids < SNAP_MAX_CATEGORIES) */
};
/* One property of an event: key and value ids in the snapshot's prop_keys and
 * prop_values dictionaries (numbers and booleans as text: snap_prop_text). */
struct snap_prop {
    uint32_t key, value;
};
struct snap_event {
    int64_t profile_id, time;
    uint32_t name, source, campaign;
    const struct snap_prop *props; /* nprops (at most SNAP_EVENT_PROPS are kept), copied */
    size_t nprops;
};

struct snapshot {
    /* Profiles. */
    size_t nprofiles;
    int64_t *profile_id;
    /* Orders, sorted by (profile, time). */
    size_t norders;
    uint32_t *ord_off; /* nprofiles + 1 */
    int64_t *ord_time, *ord_amount;
    uint32_t *ord_source, *ord_channel, *ord_store;
    uint64_t *ord_cats;
    /* Events, sorted by (profile, time). */
    size_t nevents;
    uint32_t *ev_off; /* nprofiles + 1 */
    int64_t *ev_time;
    uint32_t *ev_name, *ev_source, *ev_campaign;
    /* Event properties: those of event i are ev_props[ev_prop_off[i] .. ev_prop_off[i+1]). */
    uint32_t *ev_prop_off; /* nevents + 1 */
    struct snap_prop *ev_props;
    /* The most frequent keys also as columns of value ids (SNAP_NONE: absent), so that
     * a filter on them reads one array in event order instead of each event's list. */
    size_t nprop_cols;
    uint32_t prop_col_key[SNAP_PROP_COLUMNS];
    uint32_t *prop_col[SNAP_PROP_COLUMNS];
    /* Dictionaries. */
    struct snap_dict names, sources, channels, stores, categories, campaigns;
    struct snap_dict prop_keys, prop_values;
    /* The whole time range of orders and events (ms), INT64_MAX/INT64_MIN when empty. */
    int64_t time_min, time_max;

    /* What the store gave so far (snapshot_refresh). */
    int64_t last_order_id, last_event_id;
    int64_t resolved_stamp; /* the store's resolution stamp at the last full load */
    /* Set by the caller when an incremental resolver runs beside it (custos serve): then
     * snapshot_refresh takes only rows up to the resolver's cursor, and a row not yet
     * resolved waits for the next refresh instead of being passed over. */
    bool upto_resolved;
    /* Rows added since the last build and the rows of every build, in arrival order:
     * private to snapshot.c. */
    struct snap_raw *raw;
    /* Scratch memory analyses reuse from call to call (snap_scratch_take). */
    struct snap_scratch *scratch;
};

/* The column of property key, or NULL when it has none (snap_event_prop then). */
static inline const uint32_t *snap_prop_column(const struct snapshot *s, uint32_t key)
{
    for (size_t c = 0; c < s->nprop_cols; c++)
        if (s->prop_col_key[c] == key)
            return s->prop_col[c];
    return NULL;
}

/* The value id of property key in event i, SNAP_NONE when the event has none. */
static inline uint32_t snap_event_prop(const struct snapshot *s, size_t i, uint32_t key)
{
    for (uint32_t k = s->ev_prop_off[i]; k < s->ev_prop_off[i + 1]; k++)
        if (s->ev_props[k].key == key)
            return s->ev_props[k].value;
    return SNAP_NONE;
}

/* The text a number property is kept as: its shortest round-trip form ("3", "2.5",
 * "1e+20"). Strings are kept as they are, booleans as "true" / "false". */
void snap_number_text(double v, char out[32]);
/* The value text a filter's VALUE matches: a number (strtod reads all of it) in
 * snap_number_text's form, anything else as it is. out has cap bytes; false when too
 * long. */
bool snap_filter_text(const char *value, char *out, size_t cap);

/* Borrows the snapshot's scratch block, grown to at least bytes, for temporary arrays
 * (fresh memory costs a page fault per 4 KiB on first touch: tens of thousands for a
 * 1 M-profile analysis). Returns NULL when another thread holds it or memory is short:
 * the caller then allocates its own. Give it back with snap_scratch_give. */
void *snap_scratch_take(const struct snapshot *s, size_t bytes);
void snap_scratch_give(const struct snapshot *s, void *block);

/* An empty snapshot. Returns NULL when out of memory. Free with snapshot_free. */
struct snapshot *snapshot_new(void);
void snapshot_free(struct snapshot *s);

/* Adds a profile (if new) and returns its dense index, or -1 when out of memory. */
int64_t snapshot_add_profile(struct snapshot *s, int64_t profile_id);
/* The dense index of a store profile id, or -1 when the snapshot has no such profile. */
int64_t snapshot_find_profile(const struct snapshot *s, int64_t profile_id);
/* Adds one row; visible after snapshot_build. ERR_NOMEM / ERR_LIMIT. */
int snapshot_add_order(struct snapshot *s, const struct snap_order *o, struct err *e);
int snapshot_add_event(struct snapshot *s, const struct snap_event *ev, struct err *e);

/* Sorts every row added so far into the columns. ERR_NOMEM. */
int snapshot_build(struct snapshot *s, struct err *e);

/* Loads what the store holds beyond what the snapshot has (orders and events with a
 * larger id, in resolved profiles) and builds. When profiles were merged or
 * resolution ran again since the last refresh, everything is loaded again from
 * scratch. *added (may be NULL) gets how many rows were added. */
int snapshot_refresh(struct snapshot *s, struct store *st, int64_t *added, struct err *e);

/* malloc for large arrays: 2 MiB-aligned and marked for transparent huge pages, so
 * that touching a fresh 10 M-row array costs a few hundred page faults, not tens of
 * thousands (on a VM a fault is expensive). Free with free(). NULL when out of memory. */
void *snap_alloc(size_t bytes);

/* Runs fn(part, nparts, ctx) on SNAP_THREADS threads (the caller's being one), and
 * returns when all are done. A part takes profiles [n*part/nparts, n*(part+1)/nparts). */
void snapshot_parallel(void (*fn)(int part, int nparts, void *ctx), void *ctx);

/* The first profile of a part of n profiles. */
static inline size_t snap_part_begin(size_t n, int part, int nparts)
{
    return n * (size_t)part / (size_t)nparts;
}

/* Day number (since 1970-01-01) of a ms time, rounding down. */
static inline int64_t snap_day(int64_t ms)
{
    return ms >= 0 ? ms / MS_PER_DAY : -((-ms + MS_PER_DAY - 1) / MS_PER_DAY);
}

#endif
