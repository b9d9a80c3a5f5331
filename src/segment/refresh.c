/* refresh.c - evaluates every stored segment (and every tag of the setting) on a
 * snapshot and stores the changes of membership with their entry and exit times.
 * Tags are kept as segments named "tag:NAME", so their members carry the same times. */
#include "core/timeutil.h"
#include "segment/segment.h"

struct seg_item {
    int64_t id;
    char *name, *expr;
};

struct seg_list {
    struct seg_item *v;
    size_t n, cap;
};

static int collect(const struct segment_row *r, void *ctx)
{
    struct seg_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct seg_item *p = realloc(l->v, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n] = (struct seg_item){.id = r->id, .name = strdup(r->name), .expr = strdup(r->expr)};
    if (!l->v[l->n].name || !l->v[l->n].expr)
        return ERR_NOMEM;
    l->n++;
    return 0;
}

static void list_free(struct seg_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].expr);
    }
    free(l->v);
}

int segment_refresh(struct store *st, const struct snapshot *s, const char *tags_setting,
                    int64_t eval_now, int64_t wall_now, struct segment_refresh_stats *stats,
                    struct err *e)
{
    memset(stats, 0, sizeof(*stats));
    struct seg_tag *tags = NULL;
    size_t ntags = 0;
    struct seg_list list = {0};
    struct seg_expr **exprs = NULL;
    struct seg_context *ctx = NULL;
    uint8_t *member = NULL;
    int64_t *ids = NULL;
    int rc = seg_tags_parse(tags_setting, &tags, &ntags, e);
    if (rc)
        return rc;
    /* tags are stored as segments "tag:NAME": written when new or changed only */
    rc = st->ops->segment_list(st, NULL, collect, &list, e);
    for (size_t i = 0; i < ntags && !rc; i++) {
        char name[128];
        snprintf(name, sizeof(name), "tag:%s", tags[i].name);
        bool same = false;
        for (size_t k = 0; k < list.n; k++)
            same = same ||
                   (strcmp(list.v[k].name, name) == 0 && strcmp(list.v[k].expr, tags[i].text) == 0);
        if (!same) {
            rc = st->ops->segment_put(st, name, tags[i].text, wall_now, e);
            list_free(&list);
            memset(&list, 0, sizeof(list));
            if (!rc)
                rc = st->ops->segment_list(st, NULL, collect, &list, e);
        }
    }
    if (rc)
        goto out_tags;
    exprs = calloc(list.n + 1, sizeof(*exprs));
    member = malloc(s->nprofiles + 1);
    ids = malloc((s->nprofiles + 1) * sizeof(*ids));
    if (!exprs || !member || !ids) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out_tags;
    }
    size_t nexprs = 0;
    for (size_t i = 0; i < list.n; i++) {
        if (strncmp(list.v[i].name, "tag:", 4) == 0)
            continue;
        struct err pe = {0};
        if (seg_parse(list.v[i].expr, &exprs[nexprs], NULL, &pe)) {
            rc = err_set(e, ERR_INVALID, "segment %s: %s", list.v[i].name, pe.msg);
            goto out_tags;
        }
        nexprs++;
    }
    rc = seg_context_new(s, st, eval_now, tags, ntags, exprs, nexprs, &ctx, e);
    if (rc)
        goto out_tags;
    /* the writes in one short transaction, once everything is evaluated */
    rc = st->ops->begin(st, e);
    if (rc)
        goto out_tags;
    size_t x = 0;
    for (size_t i = 0; i < list.n && !rc; i++) {
        if (strncmp(list.v[i].name, "tag:", 4) == 0) {
            const char *tag = list.v[i].name + 4;
            size_t t = 0;
            while (t < ntags && strcmp(tags[t].name, tag) != 0)
                t++;
            const char *names[SEG_MAX_TAGS];
            for (size_t p = 0; p < s->nprofiles; p++) {
                size_t n = seg_profile_tags(ctx, p, names, SEG_MAX_TAGS);
                member[p] = 0;
                for (size_t k = 0; k < n; k++)
                    if (t < ntags && names[k] == tags[t].name)
                        member[p] = 1;
            }
        } else {
            seg_eval_all(ctx, exprs[x++], member);
        }
        size_t n = 0;
        for (size_t p = 0; p < s->nprofiles; p++)
            if (member[p])
                ids[n++] = s->profile_id[p];
        int64_t entered, exited;
        rc = st->ops->segment_sync(st, list.v[i].id, ids, n, wall_now, &entered, &exited, e);
        stats->segments++;
        stats->entered += entered;
        stats->exited += exited;
    }
    if (rc)
        st->ops->rollback(st);
    else
        rc = st->ops->commit(st, e);
out_tags:
    seg_context_free(ctx);
    for (size_t i = 0; exprs && exprs[i]; i++)
        seg_expr_free(exprs[i]);
    free(exprs);
    free(member);
    free(ids);
    list_free(&list);
    seg_tags_free(tags, ntags);
    return rc;
}
