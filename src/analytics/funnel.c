/* funnel.c - ordered funnels: per-step counts, conversion and median time to convert,
 * steps filtered on any property of their events, with a breakdown by a property
 * (source, campaign, or a key of properties) of the first step's event.
 *
 * A profile enters at its first event matching step 1 (time t1); step k is its first
 * event matching step k strictly later than step k-1's and no later than t1 + the
 * window. Profiles are split between the threads; each keeps the times to convert
 * of its profiles, and the medians come from a selection over them. */
#include "analytics/analytics.h"

int funnel_prop_parse(const struct snapshot *s, const char *text, enum funnel_prop *p,
                      uint32_t *key)
{
    *key = 0;
    if (strcmp(text, "") == 0) {
        *p = FPROP_NONE;
    } else if (strcmp(text, "source") == 0 || strcmp(text, "channel") == 0) {
        *p = FPROP_SOURCE;
    } else if (strcmp(text, "campaign") == 0) {
        *p = FPROP_CAMPAIGN;
    } else {
        const char *k = strncmp(text, "properties.", 11) == 0 ? text + 11 : text;
        if (!*k || strlen(k) > FUNNEL_PROP_MAX || strpbrk(k, "=,[]"))
            return ERR_INVALID;
        *p = FPROP_PROPERTY;
        uint32_t id = snap_dict_find(&s->prop_keys, k);
        *key = id; /* UINT32_MAX when unknown: no event has it */
    }
    return 0;
}

void funnel_prop_name(const struct snapshot *s, enum funnel_prop p, uint32_t key, char *out,
                      size_t cap)
{
    snprintf(out, cap, "%s%s",
             p == FPROP_SOURCE     ? "source"
             : p == FPROP_CAMPAIGN ? "campaign"
             : p == FPROP_PROPERTY ? "properties."
                                   : "",
             p == FPROP_PROPERTY && key != UINT32_MAX ? snap_dict_str(&s->prop_keys, key) : "");
}

static const struct snap_dict *prop_dict(const struct snapshot *s, enum funnel_prop p)
{
    return p == FPROP_SOURCE     ? &s->sources
           : p == FPROP_CAMPAIGN ? &s->campaigns
           : p == FPROP_PROPERTY ? &s->prop_values
                                 : NULL;
}

/* One "PROP=VALUE" of text[0..len) into f. */
static int filter_parse(const struct snapshot *s, const char *text, size_t len,
                        struct funnel_filter *f, struct err *e)
{
    const char *eq = memchr(text, '=', len);
    char prop[FUNNEL_PROP_MAX + 16], value[SNAP_PROP_VALUE_MAX + 1], canon[SNAP_PROP_VALUE_MAX + 1];
    if (!eq)
        return err_set(e, ERR_INVALID, "a step's filter is PROPERTY=VALUE, not \"%.*s\"", (int)len,
                       text);
    size_t pl = (size_t)(eq - text), vl = len - pl - 1;
    if (pl >= sizeof(prop) || vl >= sizeof(value))
        return err_set(e, ERR_LIMIT, "a step's filter is too long (\"%.*s\")", (int)len, text);
    memcpy(prop, text, pl);
    prop[pl] = 0;
    memcpy(value, eq + 1, vl);
    value[vl] = 0;
    if (funnel_prop_parse(s, prop, &f->prop, &f->key) || f->prop == FPROP_NONE)
        return err_set(e, ERR_INVALID,
                       "a step filters on source, channel, campaign or a property "
                       "(properties.KEY or KEY), not \"%s\"",
                       prop);
    if (f->prop == FPROP_PROPERTY) {
        if (!snap_filter_text(value, canon, sizeof(canon)))
            return err_set(e, ERR_LIMIT, "a filter's value is at most %d bytes",
                           SNAP_PROP_VALUE_MAX);
    } else {
        memcpy(canon, value, vl + 1);
    }
    uint32_t v = snap_dict_find(prop_dict(s, f->prop), canon);
    f->value = v; /* UINT32_MAX (unknown) never matches */
    if (f->prop == FPROP_PROPERTY && f->key == UINT32_MAX)
        f->value = *canon ? UINT32_MAX : SNAP_NONE; /* nobody has the key */
    return 0;
}

int funnel_step_parse(const struct snapshot *s, const char *text, struct funnel_step *st,
                      struct err *e)
{
    memset(st, 0, sizeof(*st));
    const char *br = strchr(text, '[');
    size_t nlen = br ? (size_t)(br - text) : strlen(text);
    if (nlen == 0)
        return err_set(e, ERR_INVALID, "a step needs an event name (\"%s\")", text);
    char name[256];
    if (nlen >= sizeof(name))
        return err_set(e, ERR_LIMIT, "an event name is at most %zu bytes", sizeof(name) - 1);
    memcpy(name, text, nlen);
    name[nlen] = 0;
    uint32_t id = snap_dict_find(&s->names, name);
    st->name = id == UINT32_MAX ? UINT32_MAX : id; /* UINT32_MAX never matches */
    if (!br)
        return 0;
    const char *end = strrchr(br, ']');
    if (!end || end[1] != 0 || end == br + 1)
        return err_set(e, ERR_INVALID,
                       "a step's filters are [PROPERTY=VALUE,...] at its end, e.g. "
                       "'Order Completed[source=app,category=books]' (\"%s\")",
                       text);
    for (const char *f = br + 1; f < end;) {
        const char *comma = memchr(f, ',', (size_t)(end - f));
        const char *fe = comma ? comma : end;
        if (st->nfilters == FUNNEL_MAX_FILTERS)
            return err_set(e, ERR_LIMIT, "a step has at most %d filters", FUNNEL_MAX_FILTERS);
        int rc = filter_parse(s, f, (size_t)(fe - f), &st->filter[st->nfilters++], e);
        if (rc)
            return rc;
        f = comma ? comma + 1 : end;
    }
    return 0;
}

static inline uint32_t ev_prop(const struct snapshot *s, enum funnel_prop p, uint32_t key,
                               uint32_t i)
{
    switch (p) {
    case FPROP_SOURCE:
        return s->ev_source[i];
    case FPROP_CAMPAIGN:
        return s->ev_campaign[i];
    case FPROP_PROPERTY:
        return snap_event_prop(s, i, key);
    case FPROP_NONE:
        break;
    }
    return 0;
}

static inline bool step_match(const struct snapshot *s, const struct funnel_step *st, uint32_t i)
{
    if (s->ev_name[i] != st->name)
        return false;
    for (size_t k = 0; k < st->nfilters; k++) {
        const struct funnel_filter *f = &st->filter[k];
        uint32_t v = f->column ? f->column[i] : ev_prop(s, f->prop, f->key, i);
        if (v != f->value)
            return false;
    }
    return true;
}

/* A time to convert: the group (breakdown value) and the ms from step 1. */
struct conv {
    uint32_t group;
    int64_t ms;
};

struct conv_vec {
    struct conv *v;
    size_t n, cap;
};

struct funnel_job {
    const struct snapshot *s;
    const struct funnel_options *o;
    size_t ngroups;
    int64_t *count[SNAP_THREADS]; /* ngroups * nsteps */
    struct conv_vec conv[SNAP_THREADS][FUNNEL_MAX_STEPS];
    bool nomem[SNAP_THREADS];
};

static bool conv_push(struct conv_vec *c, uint32_t group, int64_t ms)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct conv *p = realloc(c->v, cap * sizeof(*p));
        if (!p)
            return false;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = (struct conv){group, ms};
    return true;
}

static void funnel_part(int part, int nparts, void *ctx)
{
    struct funnel_job *j = ctx;
    const struct snapshot *s = j->s;
    const struct funnel_options *o = j->o;
    size_t lo = snap_part_begin(s->nprofiles, part, nparts);
    size_t hi = snap_part_begin(s->nprofiles, part + 1, nparts);
    int64_t *count = j->count[part];
    for (size_t p = lo; p < hi; p++) {
        uint32_t i = s->ev_off[p], end = s->ev_off[p + 1];
        while (i < end && !step_match(s, &o->steps[0], i))
            i++;
        if (i == end)
            continue;
        int64_t t1 = s->ev_time[i], prev = t1, limit = t1 + o->window_ms;
        uint32_t g =
            o->breakdown == FPROP_NONE ? 0 : 1 + ev_prop(s, o->breakdown, o->breakdown_key, i);
        count[0]++;
        if (g)
            count[g * o->nsteps]++;
        size_t k = 1;
        for (i++; i < end && k < o->nsteps; i++) {
            int64_t t = s->ev_time[i];
            if (t > limit)
                break;
            if (t > prev && step_match(s, &o->steps[k], i)) {
                count[k]++;
                if (g)
                    count[g * o->nsteps + k]++;
                if (!conv_push(&j->conv[part][k], g, t - t1))
                    j->nomem[part] = true;
                prev = t;
                k++;
            }
        }
    }
}

static int cmp_conv(const void *a, const void *b)
{
    const struct conv *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return (x->ms > y->ms) - (x->ms < y->ms);
}

/* k-th smallest ms of v[0..n) (quickselect with a three-way partition; reorders v). */
static int64_t select_kth(struct conv *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        int64_t pivot = v[lo + (hi - lo) / 2].ms;
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            struct conv t = v[i];
            if (t.ms < pivot) {
                v[i++] = v[lt];
                v[lt++] = t;
            } else if (t.ms > pivot) {
                v[i] = v[--gt];
                v[gt] = t;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    return v[lo].ms;
}

int funnel_compute(const struct snapshot *s, const struct funnel_options *o,
                   struct funnel_result *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (o->nsteps < 1 || o->nsteps > FUNNEL_MAX_STEPS)
        return err_set(e, ERR_INVALID, "a funnel has 1 to %d steps", FUNNEL_MAX_STEPS);
    if (o->window_ms <= 0)
        return err_set(e, ERR_INVALID, "the conversion window must be positive");
    /* property filters on keys that have a column read it */
    struct funnel_options resolved = *o;
    for (size_t k = 0; k < o->nsteps; k++)
        for (size_t f = 0; f < o->steps[k].nfilters; f++) {
            struct funnel_filter *fl = &resolved.steps[k].filter[f];
            fl->column = fl->prop == FPROP_PROPERTY ? snap_prop_column(s, fl->key) : NULL;
        }
    o = &resolved;
    struct funnel_job j = {.s = s, .o = o};
    const struct snap_dict *dict = prop_dict(s, o->breakdown);
    j.ngroups = 1 + (dict ? dict->n : 0);
    int rc = ERR_NOMEM;
    struct conv_vec all = {0};
    for (int t = 0; t < SNAP_THREADS; t++)
        if (!(j.count[t] = calloc(j.ngroups * o->nsteps, sizeof(int64_t))))
            goto out;
    snapshot_parallel(funnel_part, &j);
    for (int t = 0; t < SNAP_THREADS; t++)
        if (j.nomem[t])
            goto out;
    out->nsteps = o->nsteps;
    out->groups = calloc(j.ngroups, sizeof(*out->groups));
    if (!out->groups)
        goto out;
    for (size_t g = 0; g < j.ngroups; g++) {
        struct funnel_group *fg = &out->groups[g];
        fg->value = g ? (uint32_t)(g - 1) : SNAP_NONE;
        for (size_t k = 0; k < o->nsteps; k++) {
            for (int t = 0; t < SNAP_THREADS; t++)
                fg->count[k] += j.count[t][g * o->nsteps + k];
            fg->median_ms[k] = k == 0 && fg->count[0] ? 0 : -1;
        }
    }
    for (size_t k = 1; k < o->nsteps; k++) {
        all.n = 0;
        for (int t = 0; t < SNAP_THREADS; t++)
            for (size_t i = 0; i < j.conv[t][k].n; i++)
                if (!conv_push(&all, j.conv[t][k].v[i].group, j.conv[t][k].v[i].ms))
                    goto out;
        if (all.n)
            out->groups[0].median_ms[k] = select_kth(all.v, all.n, (all.n - 1) / 2);
        if (j.ngroups > 1 && all.n) {
            qsort(all.v, all.n, sizeof(*all.v), cmp_conv);
            for (size_t a = 0, b; a < all.n; a = b) {
                for (b = a; b < all.n && all.v[b].group == all.v[a].group; b++)
                    ;
                out->groups[all.v[a].group].median_ms[k] = all.v[a + (b - a - 1) / 2].ms;
            }
        }
    }
    /* keep the total and the values anybody entered with */
    size_t n = 1;
    for (size_t g = 1; g < j.ngroups; g++)
        if (out->groups[g].count[0])
            out->groups[n++] = out->groups[g];
    out->ngroups = n;
    rc = 0;
out:
    free(all.v);
    for (int t = 0; t < SNAP_THREADS; t++) {
        free(j.count[t]);
        for (size_t k = 0; k < FUNNEL_MAX_STEPS; k++)
            free(j.conv[t][k].v);
    }
    if (rc) {
        funnel_result_release(out);
        err_set(e, rc, "out of memory for the funnel");
    }
    return rc;
}

void funnel_result_release(struct funnel_result *r)
{
    free(r->groups);
    r->groups = NULL;
    r->ngroups = 0;
}
