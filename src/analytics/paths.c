/* paths.c - the most frequent paths from (or to) an event: for each profile, the
 * events that follow (or precede) its first occurrence of the event, up to a depth;
 * identical paths are counted. Each thread writes the paths of its profiles into its
 * own array; they are sorted together and counted in runs. */
#include "analytics/analytics.h"

struct paths_job {
    const struct snapshot *s;
    const struct paths_options *o;
    struct path_row *rows[SNAP_THREADS];
    size_t n[SNAP_THREADS];
};

static void paths_part(int part, int nparts, void *ctx)
{
    struct paths_job *j = ctx;
    const struct snapshot *s = j->s;
    const struct paths_options *o = j->o;
    size_t lo = snap_part_begin(s->nprofiles, part, nparts);
    size_t hi = snap_part_begin(s->nprofiles, part + 1, nparts);
    struct path_row *rows = j->rows[part];
    size_t n = 0;
    for (size_t p = lo; p < hi; p++) {
        uint32_t b = s->ev_off[p], end = s->ev_off[p + 1], i = b;
        while (i < end && s->ev_name[i] != o->event)
            i++;
        if (i == end)
            continue;
        struct path_row *r = &rows[n++];
        memset(r, 0, sizeof(*r));
        r->count = 1;
        if (!o->to) {
            for (size_t k = 0; k <= o->depth && i + k < end; k++)
                r->step[k] = s->ev_name[i + k];
        } else {
            /* the depth events before it, in time order, then it */
            size_t before = i - b < o->depth ? i - b : o->depth;
            for (size_t k = 0; k <= before; k++)
                r->step[o->depth - before + k] = s->ev_name[i - before + k];
        }
    }
    j->n[part] = n;
}

static int cmp_path(const void *a, const void *b)
{
    const struct path_row *x = a, *y = b;
    for (size_t k = 0; k <= PATHS_MAX_DEPTH; k++)
        if (x->step[k] != y->step[k])
            return x->step[k] < y->step[k] ? -1 : 1;
    return 0;
}

static int cmp_count(const void *a, const void *b)
{
    const struct path_row *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return cmp_path(a, b);
}

int paths_compute(const struct snapshot *s, const struct paths_options *o, struct paths_result *out,
                  struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (o->depth < 1 || o->depth > PATHS_MAX_DEPTH)
        return err_set(e, ERR_INVALID, "the depth is 1 to %d", PATHS_MAX_DEPTH);
    struct paths_job j = {.s = s, .o = o};
    int rc = ERR_NOMEM;
    for (int t = 0; t < SNAP_THREADS; t++) {
        size_t lo = snap_part_begin(s->nprofiles, t, SNAP_THREADS);
        size_t hi = snap_part_begin(s->nprofiles, t + 1, SNAP_THREADS);
        if (!(j.rows[t] = malloc((hi - lo + 1) * sizeof(struct path_row))))
            goto out;
    }
    snapshot_parallel(paths_part, &j);
    size_t n = 0;
    for (int t = 0; t < SNAP_THREADS; t++)
        n += j.n[t];
    out->rows = malloc((n ? n : 1) * sizeof(*out->rows));
    if (!out->rows)
        goto out;
    for (int t = 0, at = 0; t < SNAP_THREADS; t++) {
        memcpy(out->rows + at, j.rows[t], j.n[t] * sizeof(*out->rows));
        at += (int)j.n[t];
    }
    qsort(out->rows, n, sizeof(*out->rows), cmp_path);
    size_t m = 0;
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && cmp_path(&out->rows[a], &out->rows[b]) == 0; b++)
            ;
        out->rows[m] = out->rows[a];
        out->rows[m++].count = (int64_t)(b - a);
    }
    qsort(out->rows, m, sizeof(*out->rows), cmp_count);
    out->total = (int64_t)n;
    out->n = o->limit && m > o->limit ? o->limit : m;
    out->depth = o->depth;
    rc = 0;
out:
    for (int t = 0; t < SNAP_THREADS; t++)
        free(j.rows[t]);
    if (rc) {
        paths_result_release(out);
        err_set(e, rc, "out of memory for the paths");
    }
    return rc;
}

void paths_result_release(struct paths_result *r)
{
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}
