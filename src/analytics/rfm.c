/* rfm.c - recency, frequency and monetary scores by quintile, and the named segments.
 *
 * One pass over each profile's orders (two threads) gives its last order, count and
 * amount in the window; each metric's values are radix-sorted (one metric per thread)
 * only to read the four quintile boundaries, and each profile's score, 1 + 5 *
 * (profiles with a worse value) / n, comes from comparing its value with them: equal
 * values always get equal scores, as SQL's RANK() would give them. (A binary search
 * per profile in the sorted values cost 0.7 s at 1 M profiles: cache misses.) */
#include "analytics/analytics.h"

/* The score table (docs/analytics.md): rows are R 5..1, columns F 1..5. */
static const uint8_t segment_grid[5][5] = {
    /* R5 */ {RFM_NEW, RFM_POTENTIAL_LOYALIST, RFM_POTENTIAL_LOYALIST, RFM_CHAMPIONS,
              RFM_CHAMPIONS},
    /* R4 */ {RFM_PROMISING, RFM_POTENTIAL_LOYALIST, RFM_POTENTIAL_LOYALIST, RFM_LOYAL, RFM_LOYAL},
    /* R3 */
    {RFM_ABOUT_TO_SLEEP, RFM_ABOUT_TO_SLEEP, RFM_NEED_ATTENTION, RFM_LOYAL, RFM_LOYAL},
    /* R2 */ {RFM_HIBERNATING, RFM_HIBERNATING, RFM_AT_RISK, RFM_AT_RISK, RFM_CANT_LOSE},
    /* R1 */ {RFM_LOST, RFM_HIBERNATING, RFM_AT_RISK, RFM_AT_RISK, RFM_CANT_LOSE},
};

static const char *const segment_names[RFM_SEGMENTS] = {
    [RFM_CHAMPIONS] = "Champions",
    [RFM_LOYAL] = "Loyal",
    [RFM_POTENTIAL_LOYALIST] = "Potential Loyalist",
    [RFM_NEW] = "New",
    [RFM_PROMISING] = "Promising",
    [RFM_NEED_ATTENTION] = "Need Attention",
    [RFM_ABOUT_TO_SLEEP] = "About to Sleep",
    [RFM_AT_RISK] = "At Risk",
    [RFM_CANT_LOSE] = "Can't Lose Them",
    [RFM_HIBERNATING] = "Hibernating",
    [RFM_LOST] = "Lost",
};

enum rfm_segment rfm_segment_of(int r, int f)
{
    if (r < 1)
        r = 1;
    if (r > 5)
        r = 5;
    if (f < 1)
        f = 1;
    if (f > 5)
        f = 5;
    return (enum rfm_segment)segment_grid[5 - r][f - 1];
}

const char *rfm_segment_name(enum rfm_segment seg)
{
    return (unsigned)seg < RFM_SEGMENTS ? segment_names[seg] : "";
}

/* LSD radix sort of unsigned keys, 11 bits a pass, as many passes as the largest key
 * needs. tmp has room for n. */
static void radix_sort(uint64_t *k, size_t n, uint64_t *tmp)
{
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] > max)
            max = k[i];
    uint64_t *src = k, *dst = tmp;
    for (int shift = 0; shift < 64 && (max >> shift); shift += 11) {
        size_t count[2048 + 1] = {0};
        for (size_t i = 0; i < n; i++)
            count[((src[i] >> shift) & 2047) + 1]++;
        for (size_t i = 0; i < 2048; i++)
            count[i + 1] += count[i];
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 2047]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != k)
        memcpy(k, src, n * sizeof(*k));
}

/* The quintile boundaries of one metric. With the keys sorted (a larger key is
 * better), a key v has less(v) keys below it, and its score is 1 + the number of
 * k = 1..4 with less(v) >= q_k = ceil(k * n / 5). Since the sorted key at q_k is w_k,
 * less(v) >= q_k exactly when v > w_k, or v == w_k and no key equal to w_k comes
 * before position q_k. */
struct bounds {
    uint64_t w[4];
    bool eq[4];
};

static void bounds_of(const uint64_t *sorted, size_t n, struct bounds *b)
{
    for (int k = 1; k <= 4; k++) {
        size_t q = ((size_t)k * n + 4) / 5;
        if (q >= n) {
            b->w[k - 1] = UINT64_MAX;
            b->eq[k - 1] = false;
            continue;
        }
        b->w[k - 1] = sorted[q];
        b->eq[k - 1] = q == 0 || sorted[q - 1] < sorted[q];
    }
}

static inline uint8_t score_of(const struct bounds *b, uint64_t v)
{
    uint8_t s = 1;
    for (int k = 0; k < 4; k++)
        s += v > b->w[k] || (v == b->w[k] && b->eq[k]);
    return s;
}

#define RECENCY_KEY_MAX ((uint64_t)INT32_MAX) /* recency keys are flipped: shorter is better */

struct rfm_part_acc {
    size_t n, off;
    int64_t mmin;
    int64_t seg_customers[RFM_SEGMENTS], seg_revenue[RFM_SEGMENTS];
};

struct rfm_job {
    const struct snapshot *s;
    int64_t from, as_of;
    int phase;
    /* per profile: orders in the window (0: none), their amount, the last one */
    uint32_t *count;
    int64_t *money, *last;
    struct rfm_part_acc part[SNAP_THREADS];
    struct rfm_score *rows;
    size_t n;
    int64_t mmin;
    uint64_t *key[3], *tmp[SNAP_THREADS];
    struct bounds b[3];
};

static void rfm_part(int part, int nparts, void *ctx)
{
    struct rfm_job *j = ctx;
    const struct snapshot *s = j->s;
    struct rfm_part_acc *acc = &j->part[part];
    size_t lo = snap_part_begin(s->nprofiles, part, nparts);
    size_t hi = snap_part_begin(s->nprofiles, part + 1, nparts);
    if (j->phase == 0) { /* one pass over the orders */
        acc->mmin = INT64_MAX;
        for (size_t p = lo; p < hi; p++) {
            uint32_t c = 0;
            int64_t money = 0, last = INT64_MIN;
            for (uint32_t i = s->ord_off[p]; i < s->ord_off[p + 1]; i++) {
                int64_t t = s->ord_time[i];
                if (t < j->from || t >= j->as_of)
                    continue;
                c++;
                money += s->ord_amount[i];
                last = t; /* rows are in time order */
            }
            j->count[p] = c;
            j->money[p] = money;
            j->last[p] = last;
            if (c) {
                acc->n++;
                if (money < acc->mmin)
                    acc->mmin = money;
            }
        }
    } else if (j->phase == 1) { /* the scored profiles' rows and keys */
        size_t i = acc->off;
        for (size_t p = lo; p < hi; p++) {
            if (!j->count[p])
                continue;
            int64_t days = (j->as_of - j->last[p]) / MS_PER_DAY;
            int32_t rec = (int32_t)(days > INT32_MAX ? INT32_MAX : days);
            j->rows[i] = (struct rfm_score){.profile = (uint32_t)p,
                                            .recency = rec,
                                            .frequency = j->count[p],
                                            .monetary = j->money[p]};
            j->key[0][i] = RECENCY_KEY_MAX - (uint64_t)rec;
            j->key[1][i] = j->count[p];
            j->key[2][i] = (uint64_t)(j->money[p] - j->mmin);
            i++;
        }
    } else if (j->phase == 2) { /* sort each metric's keys: one metric per thread */
        for (int k = part; k < 3; k += nparts) {
            radix_sort(j->key[k], j->n, j->tmp[part]);
            bounds_of(j->key[k], j->n, &j->b[k]);
        }
    } else { /* scores and segments */
        size_t rlo = snap_part_begin(j->n, part, nparts),
               rhi = snap_part_begin(j->n, part + 1, nparts);
        for (size_t i = rlo; i < rhi; i++) {
            struct rfm_score *r = &j->rows[i];
            r->r = score_of(&j->b[0], RECENCY_KEY_MAX - (uint64_t)r->recency);
            r->f = score_of(&j->b[1], r->frequency);
            r->m = score_of(&j->b[2], (uint64_t)(r->monetary - j->mmin));
            r->segment = (uint8_t)rfm_segment_of(r->r, r->f);
            acc->seg_customers[r->segment]++;
            acc->seg_revenue[r->segment] += r->monetary;
        }
    }
}

int rfm_compute(const struct snapshot *s, const struct rfm_options *o, struct rfm_result *out,
                struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (o->window_days < 0 || o->window_days > 36500)
        return err_set(e, ERR_INVALID, "the window must be 0 to 36500 days, not %" PRId64,
                       o->window_days);
    int64_t as_of = o->as_of;
    if (as_of == INT64_MIN) {
        int64_t last = INT64_MIN;
        for (size_t i = 0; i < s->norders; i++)
            if (s->ord_time[i] > last)
                last = s->ord_time[i];
        /* the local midnight after it */
        as_of = last == INT64_MIN ? 0 : (snap_day(last + o->tz_ms) + 1) * MS_PER_DAY - o->tz_ms;
    }
    struct rfm_job j = {.s = s, .as_of = as_of};
    j.from = o->window_days ? as_of - o->window_days * MS_PER_DAY : INT64_MIN;
    out->as_of = as_of;
    out->window_days = o->window_days;
    size_t np = s->nprofiles ? s->nprofiles : 1;
    /* Temporaries: per profile 20 bytes, per scored profile 3 keys, a sort buffer per
     * thread: from the snapshot's scratch block when free, else allocated here. */
    size_t per_profile = (np * (2 * sizeof(int64_t) + sizeof(uint32_t)) + 63) & ~(size_t)63;
    size_t per_row = np * (3 + SNAP_THREADS) * sizeof(uint64_t);
    char *scratch = snap_scratch_take(s, per_profile + per_row);
    char *mine = scratch ? NULL : snap_alloc(per_profile + per_row);
    char *block = scratch ? scratch : mine;
    int rc = ERR_NOMEM;
    if (!block)
        goto out;
    j.last = (int64_t *)block;
    j.money = j.last + np;
    j.count = (uint32_t *)(j.money + np);
    uint64_t *keys = (uint64_t *)(block + per_profile);
    snapshot_parallel(rfm_part, &j);
    j.mmin = INT64_MAX;
    for (int t = 0; t < SNAP_THREADS; t++) {
        j.part[t].off = j.n;
        j.n += j.part[t].n;
        if (j.part[t].mmin < j.mmin)
            j.mmin = j.part[t].mmin;
    }
    size_t n = j.n, cap = n ? n : 1;
    if (!(out->rows = j.rows = snap_alloc(cap * sizeof(*out->rows))))
        goto out;
    for (int k = 0; k < 3; k++)
        j.key[k] = keys + (size_t)k * cap;
    for (int t = 0; t < SNAP_THREADS; t++)
        j.tmp[t] = keys + (size_t)(3 + t) * cap;
    for (j.phase = 1; n && j.phase <= 3; j.phase++)
        snapshot_parallel(rfm_part, &j);
    out->n = n;
    for (int t = 0; t < SNAP_THREADS; t++)
        for (int g = 0; g < RFM_SEGMENTS; g++) {
            out->seg_customers[g] += j.part[t].seg_customers[g];
            out->seg_revenue[g] += j.part[t].seg_revenue[g];
            out->revenue += j.part[t].seg_revenue[g];
        }
    rc = 0;
out:
    snap_scratch_give(s, scratch);
    free(mine);
    if (rc) {
        rfm_result_release(out);
        err_set(e, rc, "out of memory for RFM scores");
    }
    return rc;
}

void rfm_result_release(struct rfm_result *r)
{
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}
