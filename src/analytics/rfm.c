/* rfm.c - recency, frequency and monetary scores by quintile, and the named segments.
 *
 * One pass over each profile's orders (two threads) gives its last order, count and
 * amount in the window; the three values are radix-sorted and each profile's score is
 * 1 + 5 * (profiles with a worse value) / n, found by binary search in the sorted
 * values: equal values always get equal scores, as SQL's RANK() would give them. */
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
 * needs. tmp has room for n keys. */
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

/* Keys in [lo, hi) of sorted a that are < v. */
static size_t lower_bound(const uint64_t *a, size_t n, uint64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct rfm_job {
    const struct snapshot *s;
    int64_t from, as_of;
    /* per profile */
    int64_t *last, *money;
    uint32_t *count;
    /* per scored profile */
    struct rfm_score *rows;
    size_t n;
    uint64_t *key[3], *tmp[3];
    int64_t mmin;
    int phase;
};

static void rfm_part(int part, int nparts, void *ctx)
{
    struct rfm_job *j = ctx;
    const struct snapshot *s = j->s;
    if (j->phase == 0) {
        size_t lo = snap_part_begin(s->nprofiles, part, nparts);
        size_t hi = snap_part_begin(s->nprofiles, part + 1, nparts);
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
        }
    } else if (j->phase == 1) {
        /* the three sorts, shared between the threads */
        for (int k = part; k < 3; k += nparts)
            radix_sort(j->key[k], j->n, j->tmp[k]);
    } else {
        size_t lo = snap_part_begin(j->n, part, nparts),
               hi = snap_part_begin(j->n, part + 1, nparts);
        size_t n = j->n;
        for (size_t i = lo; i < hi; i++) {
            struct rfm_score *r = &j->rows[i];
            /* recency: worse is longer, so count the keys greater than ours */
            uint64_t rk = (uint64_t)r->recency;
            size_t worse_r = n - lower_bound(j->key[0], n, rk + 1);
            size_t worse_f = lower_bound(j->key[1], n, r->frequency);
            size_t worse_m = lower_bound(j->key[2], n, (uint64_t)(r->monetary - j->mmin));
            r->r = (uint8_t)(1 + 5 * worse_r / n);
            r->f = (uint8_t)(1 + 5 * worse_f / n);
            r->m = (uint8_t)(1 + 5 * worse_m / n);
            r->segment = (uint8_t)rfm_segment_of(r->r, r->f);
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
        as_of = last == INT64_MIN ? 0 : (snap_day(last) + 1) * MS_PER_DAY;
    }
    struct rfm_job j = {.s = s, .as_of = as_of};
    j.from = o->window_days ? as_of - o->window_days * MS_PER_DAY : INT64_MIN;
    out->as_of = as_of;
    out->window_days = o->window_days;
    size_t np = s->nprofiles ? s->nprofiles : 1;
    j.last = malloc(np * sizeof(*j.last));
    j.money = malloc(np * sizeof(*j.money));
    j.count = malloc(np * sizeof(*j.count));
    int rc = ERR_NOMEM;
    if (!j.last || !j.money || !j.count)
        goto out;
    snapshot_parallel(rfm_part, &j);

    size_t n = 0;
    for (size_t p = 0; p < s->nprofiles; p++)
        n += j.count[p] > 0;
    j.n = n;
    out->rows = malloc((n ? n : 1) * sizeof(*out->rows));
    for (int k = 0; k < 3; k++) {
        j.key[k] = malloc((n ? n : 1) * sizeof(uint64_t));
        j.tmp[k] = malloc((n ? n : 1) * sizeof(uint64_t));
    }
    if (!out->rows || !j.key[0] || !j.key[1] || !j.key[2] || !j.tmp[0] || !j.tmp[1] || !j.tmp[2])
        goto out;
    j.rows = out->rows;
    j.mmin = INT64_MAX;
    for (size_t p = 0, i = 0; p < s->nprofiles; p++) {
        if (!j.count[p])
            continue;
        int64_t days = (as_of - j.last[p]) / MS_PER_DAY;
        out->rows[i] = (struct rfm_score){.profile = (uint32_t)p,
                                          .recency = (int32_t)(days > INT32_MAX ? INT32_MAX : days),
                                          .frequency = j.count[p],
                                          .monetary = j.money[p]};
        if (j.money[p] < j.mmin)
            j.mmin = j.money[p];
        i++;
    }
    for (size_t i = 0; i < n; i++) {
        j.key[0][i] = (uint64_t)out->rows[i].recency;
        j.key[1][i] = out->rows[i].frequency;
        j.key[2][i] = (uint64_t)(out->rows[i].monetary - j.mmin);
    }
    if (n) {
        j.phase = 1;
        snapshot_parallel(rfm_part, &j);
        j.phase = 2;
        snapshot_parallel(rfm_part, &j);
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        out->seg_customers[out->rows[i].segment]++;
        out->seg_revenue[out->rows[i].segment] += out->rows[i].monetary;
        out->revenue += out->rows[i].monetary;
    }
    rc = 0;
out:
    free(j.last);
    free(j.money);
    free(j.count);
    for (int k = 0; k < 3; k++) {
        free(j.key[k]);
        free(j.tmp[k]);
    }
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
