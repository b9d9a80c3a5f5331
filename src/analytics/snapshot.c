/* snapshot.c - the columnar snapshot: dictionaries, the profile index, rows as they
 * arrive, the sort into per-profile columns, the incremental load from the store and
 * the two-thread split every scan uses. See snapshot.h. */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>

#include "analytics/snapshot.h"
#include "core/arena.h"

/* ---- Large arrays ---- */

#define HUGE_PAGE (2u << 20)

void *snap_alloc(size_t bytes)
{
    if (bytes < 4 * (size_t)HUGE_PAGE)
        return malloc(bytes ? bytes : 1);
    void *p = NULL;
    size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (posix_memalign(&p, HUGE_PAGE, rounded))
        return NULL;
    madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure changes nothing */
    return p;
}

struct snap_scratch {
    pthread_mutex_t lock;
    void *block;
    size_t cap;
};

void *snap_scratch_take(const struct snapshot *s, size_t bytes)
{
    struct snap_scratch *sc = s->scratch;
    if (!sc || pthread_mutex_trylock(&sc->lock) != 0)
        return NULL;
    if (sc->cap < bytes) {
        free(sc->block);
        sc->cap = 0;
        sc->block = snap_alloc(bytes);
        if (!sc->block) {
            pthread_mutex_unlock(&sc->lock);
            return NULL;
        }
        sc->cap = bytes;
    }
    return sc->block;
}

void snap_scratch_give(const struct snapshot *s, void *block)
{
    if (block && s->scratch && block == s->scratch->block)
        pthread_mutex_unlock(&s->scratch->lock);
}

/* ---- Dictionaries ---- */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int dict_grow(struct snap_dict *d)
{
    size_t nslot = d->nslot ? d->nslot * 2 : 64;
    uint32_t *slot = calloc(nslot, sizeof(*slot));
    if (!slot)
        return ERR_NOMEM;
    for (size_t i = 0; i < d->n; i++) {
        size_t j = hash_bytes(d->str[i], strlen(d->str[i])) & (nslot - 1);
        while (slot[j])
            j = (j + 1) & (nslot - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(d->slot);
    d->slot = slot;
    d->nslot = nslot;
    return 0;
}

static uint32_t dict_lookup(const struct snap_dict *d, const char *s, size_t len, size_t *at)
{
    if (!d->nslot)
        return UINT32_MAX;
    size_t j = hash_bytes(s, len) & (d->nslot - 1);
    for (; d->slot[j]; j = (j + 1) & (d->nslot - 1)) {
        const char *t = d->str[d->slot[j] - 1];
        if (strncmp(t, s, len) == 0 && t[len] == 0)
            return d->slot[j] - 1;
    }
    if (at)
        *at = j;
    return UINT32_MAX;
}

uint32_t snap_dict_intern(struct snap_dict *d, const char *s, size_t len)
{
    size_t at = 0;
    uint32_t id = dict_lookup(d, s, len, &at);
    if (id != UINT32_MAX)
        return id;
    if ((d->n + 1) * 2 > d->nslot) {
        if (dict_grow(d))
            return UINT32_MAX;
        dict_lookup(d, s, len, &at);
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        char **p = realloc(d->str, cap * sizeof(*p));
        if (!p)
            return UINT32_MAX;
        d->str = p;
        d->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return UINT32_MAX;
    d->str[d->n] = copy;
    d->slot[at] = (uint32_t)d->n + 1;
    return (uint32_t)d->n++;
}

uint32_t snap_dict_find(const struct snap_dict *d, const char *s)
{
    return dict_lookup(d, s, strlen(s), NULL);
}

const char *snap_dict_str(const struct snap_dict *d, uint32_t id)
{
    return id < d->n ? d->str[id] : "";
}

void snap_dict_release(struct snap_dict *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->str[i]);
    free(d->str);
    free(d->slot);
    memset(d, 0, sizeof(*d));
}

/* ---- Rows as they arrive ---- */

struct raw_order {
    int64_t time, amount;
    uint64_t cats;
    uint32_t profile, source, channel, store;
};
struct raw_event {
    int64_t time;
    uint32_t profile, name, source, campaign;
    uint32_t prop_off, nprop; /* into snap_raw.props */
};

struct snap_raw {
    struct raw_order *ord;
    size_t nord, capord;
    struct raw_event *ev;
    size_t nev, capev;
    struct snap_prop *props; /* of every event, in arrival order */
    size_t nprops, capprops;
    /* profile id -> dense index + 1, open addressing */
    uint32_t *pslot;
    size_t npslot;
    size_t pcap;
};

struct snapshot *snapshot_new(void)
{
    struct snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->raw = calloc(1, sizeof(*s->raw));
    s->scratch = calloc(1, sizeof(*s->scratch));
    if (s->scratch)
        pthread_mutex_init(&s->scratch->lock, NULL);
    s->ord_off = calloc(1, sizeof(*s->ord_off));
    s->ev_off = calloc(1, sizeof(*s->ev_off));
    s->ev_prop_off = calloc(1, sizeof(*s->ev_prop_off));
    if (!s->raw || !s->ord_off || !s->ev_off || !s->ev_prop_off || !s->scratch) {
        snapshot_free(s);
        return NULL;
    }
    struct snap_dict *dicts[] = {&s->names,      &s->sources,   &s->channels,  &s->stores,
                                 &s->categories, &s->campaigns, &s->prop_keys, &s->prop_values};
    for (size_t i = 0; i < ARRAY_SIZE(dicts); i++)
        if (snap_dict_intern(dicts[i], "", 0) != SNAP_NONE) {
            snapshot_free(s);
            return NULL;
        }
    s->time_min = INT64_MAX;
    s->time_max = INT64_MIN;
    return s;
}

static void columns_free(struct snapshot *s)
{
    free(s->ord_time);
    free(s->ord_amount);
    free(s->ord_source);
    free(s->ord_channel);
    free(s->ord_store);
    free(s->ord_cats);
    free(s->ev_time);
    free(s->ev_name);
    free(s->ev_source);
    free(s->ev_campaign);
    free(s->ev_props);
    s->ev_props = NULL;
    for (size_t c = 0; c < s->nprop_cols; c++)
        free(s->prop_col[c]);
    s->nprop_cols = 0;
    s->ord_time = s->ord_amount = s->ev_time = NULL;
    s->ord_source = s->ord_channel = s->ord_store = NULL;
    s->ord_cats = NULL;
    s->ev_name = s->ev_source = s->ev_campaign = NULL;
}

void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    columns_free(s);
    if (s->scratch) {
        free(s->scratch->block);
        pthread_mutex_destroy(&s->scratch->lock);
        free(s->scratch);
    }
    free(s->ord_off);
    free(s->ev_off);
    free(s->ev_prop_off);
    free(s->profile_id);
    snap_dict_release(&s->names);
    snap_dict_release(&s->sources);
    snap_dict_release(&s->channels);
    snap_dict_release(&s->stores);
    snap_dict_release(&s->categories);
    snap_dict_release(&s->campaigns);
    snap_dict_release(&s->prop_keys);
    snap_dict_release(&s->prop_values);
    if (s->raw) {
        free(s->raw->ord);
        free(s->raw->ev);
        free(s->raw->props);
        free(s->raw->pslot);
        free(s->raw);
    }
    free(s);
}

static size_t pid_hash(int64_t id, size_t mask)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 20) & mask;
}

int64_t snapshot_find_profile(const struct snapshot *s, int64_t profile_id)
{
    const struct snap_raw *r = s->raw;
    if (!r->npslot)
        return -1;
    size_t mask = r->npslot - 1;
    for (size_t j = pid_hash(profile_id, mask); r->pslot[j]; j = (j + 1) & mask)
        if (s->profile_id[r->pslot[j] - 1] == profile_id)
            return r->pslot[j] - 1;
    return -1;
}

int64_t snapshot_add_profile(struct snapshot *s, int64_t profile_id)
{
    struct snap_raw *r = s->raw;
    if (r->npslot) {
        size_t mask = r->npslot - 1;
        for (size_t j = pid_hash(profile_id, mask); r->pslot[j]; j = (j + 1) & mask)
            if (s->profile_id[r->pslot[j] - 1] == profile_id)
                return r->pslot[j] - 1;
    }
    if (s->nprofiles >= UINT32_MAX - 1)
        return -1;
    if ((s->nprofiles + 1) * 2 > r->npslot) {
        size_t n = r->npslot ? r->npslot * 2 : 1024;
        uint32_t *slot = calloc(n, sizeof(*slot));
        if (!slot)
            return -1;
        for (size_t i = 0; i < s->nprofiles; i++) {
            size_t j = pid_hash(s->profile_id[i], n - 1);
            while (slot[j])
                j = (j + 1) & (n - 1);
            slot[j] = (uint32_t)i + 1;
        }
        free(r->pslot);
        r->pslot = slot;
        r->npslot = n;
    }
    if (s->nprofiles == r->pcap) {
        size_t cap = r->pcap ? r->pcap * 2 : 1024;
        int64_t *p = realloc(s->profile_id, cap * sizeof(*p));
        if (!p)
            return -1;
        s->profile_id = p;
        r->pcap = cap;
    }
    size_t mask = r->npslot - 1, j = pid_hash(profile_id, mask);
    while (r->pslot[j])
        j = (j + 1) & mask;
    r->pslot[j] = (uint32_t)s->nprofiles + 1;
    s->profile_id[s->nprofiles] = profile_id;
    return (int64_t)s->nprofiles++;
}

static void widen(struct snapshot *s, int64_t t)
{
    if (t < s->time_min)
        s->time_min = t;
    if (t > s->time_max)
        s->time_max = t;
}

int snapshot_add_order(struct snapshot *s, const struct snap_order *o, struct err *e)
{
    struct snap_raw *r = s->raw;
    if (r->nord >= SNAP_MAX_ROWS)
        return err_set(e, ERR_LIMIT, "more than %u orders in the snapshot", SNAP_MAX_ROWS);
    if (r->nord == r->capord) {
        size_t cap = r->capord ? r->capord * 2 : 4096;
        struct raw_order *p = realloc(r->ord, cap * sizeof(*p));
        if (!p)
            return err_set(e, ERR_NOMEM, "out of memory for the snapshot's orders");
        r->ord = p;
        r->capord = cap;
    }
    int64_t p = snapshot_add_profile(s, o->profile_id);
    if (p < 0)
        return err_set(e, ERR_NOMEM, "out of memory for the snapshot's profiles");
    r->ord[r->nord++] = (struct raw_order){.time = o->time,
                                           .amount = o->amount,
                                           .cats = o->categories,
                                           .profile = (uint32_t)p,
                                           .source = o->source,
                                           .channel = o->channel,
                                           .store = o->store};
    widen(s, o->time);
    return 0;
}

int snapshot_add_event(struct snapshot *s, const struct snap_event *ev, struct err *e)
{
    struct snap_raw *r = s->raw;
    if (r->nev >= SNAP_MAX_ROWS)
        return err_set(e, ERR_LIMIT, "more than %u events in the snapshot", SNAP_MAX_ROWS);
    if (r->nev == r->capev) {
        size_t cap = r->capev ? r->capev * 2 : 4096;
        struct raw_event *p = realloc(r->ev, cap * sizeof(*p));
        if (!p)
            return err_set(e, ERR_NOMEM, "out of memory for the snapshot's events");
        r->ev = p;
        r->capev = cap;
    }
    size_t np = ev->nprops < SNAP_EVENT_PROPS ? ev->nprops : SNAP_EVENT_PROPS;
    if (r->nprops + np > SNAP_MAX_ROWS)
        return err_set(e, ERR_LIMIT, "more than %u event properties in the snapshot",
                       SNAP_MAX_ROWS);
    if (r->nprops + np > r->capprops) {
        size_t cap = r->capprops ? r->capprops * 2 : 4096;
        struct snap_prop *pp = realloc(r->props, cap * sizeof(*pp));
        if (!pp)
            return err_set(e, ERR_NOMEM, "out of memory for the snapshot's event properties");
        r->props = pp;
        r->capprops = cap;
    }
    int64_t p = snapshot_add_profile(s, ev->profile_id);
    if (p < 0)
        return err_set(e, ERR_NOMEM, "out of memory for the snapshot's profiles");
    if (np)
        memcpy(r->props + r->nprops, ev->props, np * sizeof(*ev->props));
    r->ev[r->nev++] = (struct raw_event){.time = ev->time,
                                         .profile = (uint32_t)p,
                                         .name = ev->name,
                                         .source = ev->source,
                                         .campaign = ev->campaign,
                                         .prop_off = (uint32_t)r->nprops,
                                         .nprop = (uint32_t)np};
    r->nprops += np;
    widen(s, ev->time);
    return 0;
}

/* ---- Build: counting sort by profile (stable), then by time within a profile ---- */

/* Sorts idx[0..n) by key[idx[i]] (stable for equal keys: insertion sort for short runs). */
static void sort_run(uint32_t *idx, size_t n, const int64_t *key, uint32_t *tmp)
{
    if (n < 2)
        return;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = idx[i];
            size_t j = i;
            while (j > 0 && key[idx[j - 1]] > key[v]) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
        return;
    }
    size_t h = n / 2;
    sort_run(idx, h, key, tmp);
    sort_run(idx + h, n - h, key, tmp);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = key[idx[j]] < key[idx[i]] ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof(*idx));
}

/* Fills off[0..np] and idx (row numbers in (profile, time) order). */
static int order_rows(size_t np, size_t n, const uint32_t *profile, size_t stride,
                      const int64_t *time, size_t tstride, uint32_t *off, uint32_t **idx_out)
{
    uint32_t *idx = snap_alloc((n ? n : 1) * sizeof(*idx));
    uint32_t *tmp = snap_alloc((n ? n : 1) * sizeof(*tmp));
    int64_t *key = snap_alloc((n ? n : 1) * sizeof(*key));
    if (!idx || !tmp || !key) {
        free(idx);
        free(tmp);
        free(key);
        return ERR_NOMEM;
    }
    memset(off, 0, (np + 1) * sizeof(*off));
    for (size_t i = 0; i < n; i++) {
        off[*(const uint32_t *)((const char *)profile + i * stride) + 1]++;
        key[i] = *(const int64_t *)((const char *)time + i * tstride);
    }
    for (size_t p = 0; p < np; p++)
        off[p + 1] += off[p];
    uint32_t *fill = tmp; /* reuse as the fill cursor: np <= n is not assured */
    uint32_t *cur = malloc((np ? np : 1) * sizeof(*cur));
    if (!cur) {
        free(idx);
        free(tmp);
        free(key);
        return ERR_NOMEM;
    }
    memcpy(cur, off, np * sizeof(*cur));
    for (size_t i = 0; i < n; i++)
        idx[cur[*(const uint32_t *)((const char *)profile + i * stride)]++] = (uint32_t)i;
    free(cur);
    for (size_t p = 0; p < np; p++)
        sort_run(idx + off[p], off[p + 1] - off[p], key, fill);
    free(tmp);
    free(key);
    *idx_out = idx;
    return 0;
}

/* Makes the columns of the (at most SNAP_PROP_COLUMNS) keys that at least one event
 * in SNAP_PROP_COLUMN_MIN has, from s->ev_props (nprops pairs, nev events, offsets not
 * needed: a column is filled by walking every event's pairs). ERR_NOMEM. */
static int prop_columns(struct snapshot *s, size_t nprops, size_t nev)
{
    size_t nkeys = s->prop_keys.n;
    if (!nprops || !nev)
        return 0;
    uint32_t *count = calloc(nkeys, sizeof(*count));
    if (!count)
        return ERR_NOMEM;
    for (size_t k = 0; k < nprops; k++)
        count[s->ev_props[k].key]++;
    /* the most frequent keys over the threshold, most frequent first */
    for (size_t c = 0; c < SNAP_PROP_COLUMNS; c++) {
        size_t best = 0;
        for (size_t k = 1; k < nkeys; k++)
            if (count[k] > count[best])
                best = k;
        if (best == 0 || count[best] < nev / SNAP_PROP_COLUMN_MIN || count[best] == 0)
            break;
        count[best] = 0;
        uint32_t *col = snap_alloc(nev * sizeof(*col));
        if (!col) {
            free(count);
            return ERR_NOMEM;
        }
        memset(col, 0, nev * sizeof(*col));
        s->prop_col_key[s->nprop_cols] = (uint32_t)best;
        s->prop_col[s->nprop_cols++] = col;
    }
    free(count);
    return 0;
}

static void prop_columns_fill(struct snapshot *s, const uint32_t *poff, size_t nev)
{
    for (size_t c = 0; c < s->nprop_cols; c++) {
        uint32_t key = s->prop_col_key[c], *col = s->prop_col[c];
        for (size_t i = 0; i < nev; i++)
            for (uint32_t k = poff[i]; k < poff[i + 1]; k++)
                if (s->ev_props[k].key == key) {
                    col[i] = s->ev_props[k].value;
                    break;
                }
    }
}

int snapshot_build(struct snapshot *s, struct err *e)
{
    struct snap_raw *r = s->raw;
    size_t np = s->nprofiles;
    uint32_t *ooff = malloc((np + 1) * sizeof(*ooff)), *eoff = malloc((np + 1) * sizeof(*eoff));
    uint32_t *oidx = NULL, *eidx = NULL, *poff = malloc((r->nev + 1) * sizeof(*poff));
    if (!ooff || !eoff || !poff)
        goto nomem;
    /* no rows yet: no array, and no member of it to point at */
    static const struct raw_order no_order;
    static const struct raw_event no_event;
    const struct raw_order *ord = r->ord ? r->ord : &no_order;
    const struct raw_event *ev = r->ev ? r->ev : &no_event;
    if (order_rows(np, r->nord, &ord->profile, sizeof(*ord), &ord->time, sizeof(*ord), ooff,
                   &oidx) ||
        order_rows(np, r->nev, &ev->profile, sizeof(*ev), &ev->time, sizeof(*ev), eoff, &eidx))
        goto nomem;
    columns_free(s);
    size_t no = r->nord ? r->nord : 1, ne = r->nev ? r->nev : 1;
    s->ord_time = snap_alloc(no * sizeof(int64_t));
    s->ord_amount = snap_alloc(no * sizeof(int64_t));
    s->ord_cats = snap_alloc(no * sizeof(uint64_t));
    s->ord_source = snap_alloc(no * sizeof(uint32_t));
    s->ord_channel = snap_alloc(no * sizeof(uint32_t));
    s->ord_store = snap_alloc(no * sizeof(uint32_t));
    s->ev_time = snap_alloc(ne * sizeof(int64_t));
    s->ev_name = snap_alloc(ne * sizeof(uint32_t));
    s->ev_source = snap_alloc(ne * sizeof(uint32_t));
    s->ev_campaign = snap_alloc(ne * sizeof(uint32_t));
    s->ev_props = malloc((r->nprops ? r->nprops : 1) * sizeof(*s->ev_props));
    if (!s->ord_time || !s->ord_amount || !s->ord_cats || !s->ord_source || !s->ord_channel ||
        !s->ord_store || !s->ev_time || !s->ev_name || !s->ev_source || !s->ev_campaign ||
        !s->ev_props) {
        columns_free(s);
        goto nomem;
    }
    for (size_t i = 0; i < r->nord; i++) {
        const struct raw_order *o = &r->ord[oidx[i]];
        s->ord_time[i] = o->time;
        s->ord_amount[i] = o->amount;
        s->ord_cats[i] = o->cats;
        s->ord_source[i] = o->source;
        s->ord_channel[i] = o->channel;
        s->ord_store[i] = o->store;
    }
    for (size_t i = 0; i < r->nev; i++) {
        const struct raw_event *v = &r->ev[eidx[i]];
        s->ev_time[i] = v->time;
        s->ev_name[i] = v->name;
        s->ev_source[i] = v->source;
        s->ev_campaign[i] = v->campaign;
    }
    /* properties in the events' new order */
    uint32_t np_done = 0;
    for (size_t i = 0; i < r->nev; i++) {
        const struct raw_event *v = &r->ev[eidx[i]];
        poff[i] = np_done;
        if (v->nprop)
            memcpy(s->ev_props + np_done, r->props + v->prop_off, v->nprop * sizeof(*s->ev_props));
        np_done += v->nprop;
    }
    poff[r->nev] = np_done;
    if (prop_columns(s, r->nprops, r->nev)) {
        columns_free(s);
        goto nomem;
    }
    prop_columns_fill(s, poff, r->nev);
    free(oidx);
    free(eidx);
    free(s->ord_off);
    free(s->ev_off);
    free(s->ev_prop_off);
    s->ord_off = ooff;
    s->ev_off = eoff;
    s->ev_prop_off = poff;
    s->norders = r->nord;
    s->nevents = r->nev;
    return 0;
nomem:
    free(ooff);
    free(eoff);
    free(poff);
    free(oidx);
    free(eidx);
    return err_set(e, ERR_NOMEM, "out of memory building the snapshot");
}

/* ---- Property values as text ---- */

void snap_number_text(double v, char out[32])
{
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, 32, "%.17g", v);
}

bool snap_filter_text(const char *value, char *out, size_t cap)
{
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    if (*value && !*end && !errno && isfinite(d) && !isspace((unsigned char)value[0])) {
        if (cap < 32)
            return false;
        snap_number_text(d, out);
        return true;
    }
    if (strlen(value) >= cap)
        return false;
    memcpy(out, value, strlen(value) + 1);
    return true;
}

/* ---- Loading from the store ---- */

struct load {
    struct snapshot *s;
    int64_t added;
    struct err *e;
};

static uint32_t intern(struct snap_dict *d, const char *v)
{
    return snap_dict_intern(d, v, strlen(v));
}

static int load_order(const struct analytics_order_row *r, void *ctx)
{
    struct load *l = ctx;
    struct snapshot *s = l->s;
    struct snap_order o = {.profile_id = r->profile_id,
                           .time = r->time,
                           .amount = r->amount,
                           .source = intern(&s->sources, r->source),
                           .channel = intern(&s->channels, r->channel),
                           .store = intern(&s->stores, r->store)};
    for (const char *c = r->categories; *c;) {
        const char *end = strchr(c, '\x1f');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        uint32_t id = snap_dict_intern(&s->categories, c, len);
        if (id < SNAP_MAX_CATEGORIES)
            o.categories |= 1ULL << id;
        c += len + (end != NULL);
    }
    if (o.source == UINT32_MAX || o.channel == UINT32_MAX || o.store == UINT32_MAX)
        return err_set(l->e, ERR_NOMEM, "out of memory for the snapshot's dictionaries");
    int rc = snapshot_add_order(s, &o, l->e);
    if (!rc) {
        s->last_order_id = r->id;
        l->added++;
    }
    return rc;
}

/* The first SNAP_EVENT_PROPS top-level string (up to SNAP_PROP_VALUE_MAX bytes),
 * number and boolean properties of a properties object's JSON text, interned, into
 * out; returns how many, or -1 when out of memory. Anything else is left out. */
static int event_props(struct snapshot *s, const char *json, struct snap_prop *out)
{
    if (!json || json[0] != '{')
        return 0;
    /* cJSON's nodes from the thread's arena (one malloc per node was most of the
     * parse), unless the caller is inside an arena already */
    bool outer = json_arena_suspend();
    json_arena_resume(outer);
    if (!outer)
        json_arena_begin();
    cJSON *o = cJSON_Parse(json);
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, o)
    {
        if (n == SNAP_EVENT_PROPS)
            break;
        char num[32];
        const char *v = cJSON_IsString(c)   ? c->valuestring
                        : cJSON_IsNumber(c) ? (snap_number_text(c->valuedouble, num), num)
                        : cJSON_IsTrue(c)   ? "true"
                        : cJSON_IsFalse(c)  ? "false"
                                            : NULL;
        if (!v || !c->string || strlen(v) > SNAP_PROP_VALUE_MAX)
            continue;
        uint32_t k = intern(&s->prop_keys, c->string), val = intern(&s->prop_values, v);
        if (k == UINT32_MAX || val == UINT32_MAX) {
            n = -1;
            break;
        }
        out[n++] = (struct snap_prop){k, val};
    }
    cJSON_Delete(o);
    if (!outer)
        json_arena_end();
    return n;
}

static int load_event(const struct analytics_event_row *r, void *ctx)
{
    struct load *l = ctx;
    struct snapshot *s = l->s;
    struct snap_prop props[SNAP_EVENT_PROPS];
    int np = event_props(s, r->properties, props);
    struct snap_event v = {.profile_id = r->profile_id,
                           .time = r->time,
                           .name = intern(&s->names, r->name),
                           .source = intern(&s->sources, r->source),
                           .campaign = intern(&s->campaigns, r->campaign),
                           .props = props,
                           .nprops = np > 0 ? (size_t)np : 0};
    if (v.name == UINT32_MAX || v.source == UINT32_MAX || v.campaign == UINT32_MAX || np < 0)
        return err_set(l->e, ERR_NOMEM, "out of memory for the snapshot's dictionaries");
    int rc = snapshot_add_event(s, &v, l->e);
    if (!rc) {
        s->last_event_id = r->id;
        l->added++;
    }
    return rc;
}

static int add_profile(int64_t id, void *ctx)
{
    struct load *l = ctx;
    if (snapshot_add_profile(l->s, id) < 0)
        return err_set(l->e, ERR_NOMEM, "out of memory for the snapshot's profiles");
    return 0;
}

int snapshot_refresh(struct snapshot *s, struct store *st, int64_t *added, struct err *e)
{
    struct load l = {.s = s, .e = e};
    int64_t stamp = 0;
    int rc = st->ops->analytics_stamp(st, &stamp, e);
    if (rc)
        return rc;
    bool full = stamp != s->resolved_stamp || s->nprofiles == 0;
    if (full) {
        /* Resolution rewrote the profiles: start again from nothing. */
        struct snap_raw *r = s->raw;
        r->nord = r->nev = r->nprops = 0;
        s->nprofiles = 0;
        if (r->pslot)
            memset(r->pslot, 0, r->npslot * sizeof(*r->pslot));
        s->last_order_id = s->last_event_id = 0;
        s->time_min = INT64_MAX;
        s->time_max = INT64_MIN;
        s->resolved_stamp = stamp;
        rc = st->ops->profile_scan(st, add_profile, &l, e);
        if (rc)
            return rc;
    }
    struct identity_cursor upto = {.last_record = INT64_MAX, .last_event = INT64_MAX};
    if (s->upto_resolved)
        rc = st->ops->identity_cursor_get(st, &upto, e);
    if (!rc)
        rc = st->ops->analytics_orders(st, s->last_order_id, upto.last_record, load_order, &l, e);
    if (!rc)
        rc = st->ops->analytics_events(st, s->last_event_id, upto.last_event, load_event, &l, e);
    if (!rc && (l.added || full))
        rc = snapshot_build(s, e);
    if (added)
        *added = l.added;
    return rc;
}

/* ---- Two threads ---- */

struct part_arg {
    void (*fn)(int part, int nparts, void *ctx);
    void *ctx;
    int part;
};

static void *part_main(void *arg)
{
    struct part_arg *a = arg;
    a->fn(a->part, SNAP_THREADS, a->ctx);
    return NULL;
}

void snapshot_parallel(void (*fn)(int part, int nparts, void *ctx), void *ctx)
{
    pthread_t th[SNAP_THREADS];
    struct part_arg args[SNAP_THREADS];
    bool started[SNAP_THREADS] = {false};
    for (int i = 1; i < SNAP_THREADS; i++) {
        args[i] = (struct part_arg){.fn = fn, .ctx = ctx, .part = i};
        started[i] = pthread_create(&th[i], NULL, part_main, &args[i]) == 0;
        if (!started[i])
            fn(i, SNAP_THREADS, ctx); /* no thread: do that part here */
    }
    fn(0, SNAP_THREADS, ctx);
    for (int i = 1; i < SNAP_THREADS; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}
