/* eval.c - evaluation of segment expressions on the analytics snapshot.
 *
 * seg_context_new resolves names once (event names and filter values to dictionary
 * ids, traits to slots of per-profile value arrays loaded from the store, tags to
 * bits), computes RFM if an expression uses it, and evaluates the tags; seg_eval_all
 * then walks the tree for each profile, on two threads. A comparison with a missing
 * value (a trait the profile lacks, RFM of a profile without orders) is false, as in
 * SQL. */
#include "segment/internal.h"

enum vtype { V_NULL, V_NUM, V_STR, V_BOOL, V_TAGS };

struct val {
    enum vtype t;
    double num;
    const char *str;
};

struct seg_context {
    const struct snapshot *s;
    int64_t now;
    size_t ntraits;
    char *trait_name[SEG_MAX_TRAITS];
    uint32_t *trait_val[SEG_MAX_TRAITS]; /* per profile: id in traits, 0 none */
    struct snap_dict traits;
    bool has_rfm;
    struct rfm_result rfm;
    int32_t *rfm_row; /* per profile: row in rfm, -1 none */
    const struct seg_tag *tags;
    size_t ntags;
    uint64_t *tag_bits; /* per profile */
};

/* ---- Evaluation ---- */

static struct val eval(const struct seg_context *c, const struct seg_node *n, size_t p);

static bool truthy(struct val v)
{
    return (v.t == V_BOOL || v.t == V_NUM) && v.num != 0;
}

/* A string that is a whole number ("28") compares as one. */
static bool as_number(struct val v, double *out)
{
    if (v.t == V_NUM || v.t == V_BOOL) {
        *out = v.num;
        return true;
    }
    if (v.t != V_STR || !*v.str)
        return false;
    char *end;
    *out = strtod(v.str, &end);
    return *end == 0;
}

static bool compare(struct val a, struct val b, enum seg_op op)
{
    if (a.t == V_NULL || b.t == V_NULL || a.t == V_TAGS || b.t == V_TAGS)
        return false;
    int cmp;
    double x, y;
    if (a.t == V_STR && b.t == V_STR) {
        cmp = strcmp(a.str, b.str);
    } else if (as_number(a, &x) && as_number(b, &y)) {
        cmp = (x > y) - (x < y);
    } else {
        return op == OP_NE;
    }
    switch (op) {
    case OP_EQ:
        return cmp == 0;
    case OP_NE:
        return cmp != 0;
    case OP_LT:
        return cmp < 0;
    case OP_LE:
        return cmp <= 0;
    case OP_GT:
        return cmp > 0;
    case OP_GE:
        return cmp >= 0;
    }
    return false;
}

static struct val num(double v)
{
    return (struct val){.t = V_NUM, .num = v};
}

static struct val aggregate(const struct seg_context *c, const struct seg_node *n, size_t p)
{
    const struct snapshot *s = c->s;
    int64_t from = n->window_days ? c->now - n->window_days * MS_PER_DAY : INT64_MIN;
    double acc = 0;
    if (n->ref == R_EVENTS_COUNT) {
        for (uint32_t i = s->ev_off[p]; i < s->ev_off[p + 1]; i++)
            if (s->ev_name[i] == n->id && s->ev_time[i] >= from && s->ev_time[i] <= c->now &&
                (n->filter == F_NONE || s->ev_source[i] == n->mask))
                acc++;
        return num(acc);
    }
    for (uint32_t i = s->ord_off[p]; i < s->ord_off[p + 1]; i++) {
        int64_t t = s->ord_time[i];
        if (t < from || t > c->now)
            continue;
        bool ok = true;
        switch (n->filter) {
        case F_NONE:
            break;
        case F_CHANNEL:
            ok = s->ord_channel[i] == n->id;
            break;
        case F_STORE:
            ok = s->ord_store[i] == n->id;
            break;
        case F_SOURCE:
            ok = s->ord_source[i] == n->id;
            break;
        case F_CATEGORY:
            ok = (s->ord_cats[i] & n->mask) != 0;
            break;
        }
        if (ok)
            acc += n->ref == R_ORDERS_COUNT ? 1 : (double)s->ord_amount[i];
    }
    return num(acc);
}

static struct val ref(const struct seg_context *c, const struct seg_node *n, size_t p)
{
    const struct rfm_score *r = NULL;
    if (n->ref >= R_RFM_SEGMENT && n->ref <= R_RFM_MONETARY) {
        if (!c->rfm_row || c->rfm_row[p] < 0)
            return (struct val){.t = V_NULL};
        r = &c->rfm.rows[c->rfm_row[p]];
    }
    switch (n->ref) {
    case R_TRAIT: {
        uint32_t v = c->trait_val[n->slot][p];
        if (!v)
            return (struct val){.t = V_NULL};
        return (struct val){.t = V_STR, .str = snap_dict_str(&c->traits, v)};
    }
    case R_TAG:
        return (struct val){.t = V_BOOL, .num = (c->tag_bits[p] >> n->slot) & 1};
    case R_TAGS:
        return (struct val){.t = V_TAGS, .num = (double)p};
    case R_RFM_SEGMENT:
        return (struct val){.t = V_STR, .str = rfm_segment_name((enum rfm_segment)r->segment)};
    case R_RFM_R:
        return num(r->r);
    case R_RFM_F:
        return num(r->f);
    case R_RFM_M:
        return num(r->m);
    case R_RFM_SCORE:
        return num(r->r * 100 + r->f * 10 + r->m);
    case R_RFM_RECENCY:
        return num(r->recency);
    case R_RFM_FREQUENCY:
        return num(r->frequency);
    case R_RFM_MONETARY:
        return num((double)r->monetary);
    case R_ORDERS_COUNT:
    case R_ORDERS_REVENUE:
    case R_EVENTS_COUNT:
        return aggregate(c, n, p);
    }
    return (struct val){.t = V_NULL};
}

static bool has_tag(const struct seg_context *c, size_t p, const char *name)
{
    for (size_t i = 0; i < c->ntags; i++)
        if (strcmp(c->tags[i].name, name) == 0)
            return (c->tag_bits[p] >> i) & 1;
    return false;
}

static struct val boolean(bool b)
{
    return (struct val){.t = V_BOOL, .num = b};
}

static struct val eval(const struct seg_context *c, const struct seg_node *n, size_t p)
{
    switch (n->kind) {
    case N_OR:
        return boolean(truthy(eval(c, n->a, p)) || truthy(eval(c, n->b, p)));
    case N_AND:
        return boolean(truthy(eval(c, n->a, p)) && truthy(eval(c, n->b, p)));
    case N_NOT:
        return boolean(!truthy(eval(c, n->a, p)));
    case N_CMP:
        return boolean(compare(eval(c, n->a, p), eval(c, n->b, p), n->op));
    case N_IN: {
        struct val a = eval(c, n->a, p);
        for (size_t i = 0; i < n->nitems; i++)
            if (compare(a, eval(c, n->items[i], p), OP_EQ))
                return boolean(true);
        return boolean(false);
    }
    case N_CONTAINS: {
        struct val a = eval(c, n->a, p), b = eval(c, n->b, p);
        if (b.t != V_STR)
            return boolean(false);
        if (a.t == V_TAGS)
            return boolean(has_tag(c, p, b.str));
        return boolean(a.t == V_STR && strstr(a.str, b.str) != NULL);
    }
    case N_NUM:
        return num(n->num);
    case N_BOOL:
        return boolean(n->num != 0);
    case N_STR:
        return (struct val){.t = V_STR, .str = n->str};
    case N_REF:
        return ref(c, n, p);
    }
    return (struct val){.t = V_NULL};
}

struct eval_job {
    const struct seg_context *c;
    const struct seg_node *root;
    uint8_t *member;
    uint64_t bit; /* when tag_bits is the target */
    bool to_tags;
};

static void eval_part(int part, int nparts, void *ctx)
{
    struct eval_job *j = ctx;
    size_t n = j->c->s->nprofiles;
    for (size_t p = snap_part_begin(n, part, nparts); p < snap_part_begin(n, part + 1, nparts);
         p++) {
        bool in = truthy(eval(j->c, j->root, p));
        if (j->to_tags) {
            if (in)
                j->c->tag_bits[p] |= j->bit;
        } else {
            j->member[p] = in;
        }
    }
}

void seg_eval_all(const struct seg_context *c, const struct seg_expr *x, uint8_t *member)
{
    struct eval_job j = {.c = c, .root = x->root, .member = member};
    snapshot_parallel(eval_part, &j);
}

size_t seg_profile_tags(const struct seg_context *c, size_t p, const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < c->ntags && n < cap; i++)
        if ((c->tag_bits[p] >> i) & 1)
            names[n++] = c->tags[i].name;
    return n;
}

/* ---- Preparation ---- */

struct trait_load {
    struct seg_context *c;
    size_t slot;
};

static int trait_row(int64_t profile_id, const char *value, void *ctx)
{
    struct trait_load *l = ctx;
    int64_t p = snapshot_find_profile(l->c->s, profile_id);
    if (p < 0)
        return 0;
    uint32_t id = snap_dict_intern(&l->c->traits, value, strlen(value));
    if (id == UINT32_MAX)
        return ERR_NOMEM;
    l->c->trait_val[l->slot][p] = id; /* rows come oldest first: the newest value wins */
    return 0;
}

/* Resolves names in n; notes what the context must prepare. */
static int resolve(struct seg_context *c, struct seg_node *n, bool *need_rfm, struct err *e)
{
    if (!n)
        return 0;
    if (n->kind == N_REF) {
        const struct snapshot *s = c->s;
        switch (n->ref) {
        case R_TRAIT: {
            size_t i = 0;
            while (i < c->ntraits && strcmp(c->trait_name[i], n->name) != 0)
                i++;
            if (i == c->ntraits) {
                if (c->ntraits == SEG_MAX_TRAITS)
                    return err_set(e, ERR_LIMIT, "at most %d different traits", SEG_MAX_TRAITS);
                if (!(c->trait_name[i] = strdup(n->name)))
                    return err_set(e, ERR_NOMEM, "out of memory");
                c->ntraits++;
            }
            n->slot = (int)i;
            break;
        }
        case R_TAG: {
            size_t i = 0;
            while (i < c->ntags && strcmp(c->tags[i].name, n->name) != 0)
                i++;
            if (i == c->ntags)
                return err_set(e, ERR_INVALID,
                               "column %d: no tag named \"%s\" (see the setting tags)", n->column,
                               n->name);
            n->slot = (int)i;
            break;
        }
        case R_EVENTS_COUNT:
            n->id = snap_dict_find(&s->names, n->name);
            if (n->filter == F_SOURCE) {
                uint32_t v = snap_dict_find(&s->sources, n->filter_value);
                n->mask = v; /* the source id; UINT32_MAX matches nothing */
            }
            break;
        case R_ORDERS_COUNT:
        case R_ORDERS_REVENUE: {
            const struct snap_dict *d = n->filter == F_CHANNEL  ? &s->channels
                                        : n->filter == F_STORE  ? &s->stores
                                        : n->filter == F_SOURCE ? &s->sources
                                                                : &s->categories;
            if (n->filter != F_NONE) {
                n->id = snap_dict_find(d, n->filter_value);
                n->mask =
                    n->filter == F_CATEGORY && n->id < SNAP_MAX_CATEGORIES ? 1ULL << n->id : 0;
            }
            break;
        }
        case R_TAGS:
            break;
        default:
            *need_rfm = true;
        }
    }
    for (size_t i = 0; i < n->nitems; i++)
        if (resolve(c, n->items[i], need_rfm, e))
            return e->code;
    if (resolve(c, n->a, need_rfm, e) || resolve(c, n->b, need_rfm, e))
        return e->code;
    return 0;
}

int seg_context_new(const struct snapshot *s, struct store *st, int64_t now,
                    const struct seg_tag *tags, size_t ntags, struct seg_expr *const *exprs,
                    size_t nexprs, struct seg_context **out, struct err *e)
{
    *out = NULL;
    struct seg_context *c = calloc(1, sizeof(*c));
    if (!c)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->s = s;
    c->now = now;
    c->tags = tags;
    c->ntags = ntags;
    int rc = 0;
    bool need_rfm = false;
    if (snap_dict_intern(&c->traits, "", 0) != SNAP_NONE) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ntags && !rc; i++)
        rc = resolve(c, tags[i].expr->root, &need_rfm, e);
    for (size_t i = 0; i < nexprs && !rc; i++)
        rc = resolve(c, exprs[i]->root, &need_rfm, e);
    if (rc)
        goto out;
    size_t np = s->nprofiles ? s->nprofiles : 1;
    for (size_t i = 0; i < c->ntraits; i++) {
        if (!(c->trait_val[i] = calloc(np, sizeof(uint32_t)))) {
            rc = err_set(e, ERR_NOMEM, "out of memory for traits");
            goto out;
        }
        if (!st) {
            rc = err_set(e, ERR_INVALID, "traits need the store");
            goto out;
        }
        struct trait_load l = {.c = c, .slot = i};
        if ((rc = st->ops->analytics_traits(st, c->trait_name[i], trait_row, &l, e)))
            goto out;
    }
    if (need_rfm) {
        struct rfm_options ro = {.as_of = INT64_MIN, .window_days = 365};
        if ((rc = rfm_compute(s, &ro, &c->rfm, e)))
            goto out;
        c->has_rfm = true;
        if (!(c->rfm_row = malloc(np * sizeof(int32_t)))) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t p = 0; p < s->nprofiles; p++)
            c->rfm_row[p] = -1;
        for (size_t i = 0; i < c->rfm.n; i++)
            c->rfm_row[c->rfm.rows[i].profile] = (int32_t)i;
    }
    if (!(c->tag_bits = calloc(np, sizeof(uint64_t)))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ntags; i++) {
        struct eval_job j = {.c = c, .root = tags[i].expr->root, .to_tags = true, .bit = 1ULL << i};
        snapshot_parallel(eval_part, &j);
    }
out:
    if (rc) {
        seg_context_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void seg_context_free(struct seg_context *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ntraits; i++) {
        free(c->trait_name[i]);
        free(c->trait_val[i]);
    }
    snap_dict_release(&c->traits);
    if (c->has_rfm)
        rfm_result_release(&c->rfm);
    free(c->rfm_row);
    free(c->tag_bits);
    free(c);
}
