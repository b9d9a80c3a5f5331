/* source_names.c - see source_names.h. */
#include "store/source_names.h"

struct source_name {
    int64_t id;
    char *name, *plan;
};

struct source_names {
    struct source_name *v;
    size_t n, cap;
};

static int add(const struct source *s, void *arg)
{
    struct source_names *n = arg;
    if (n->n == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        struct source_name *p = realloc(n->v, cap * sizeof(*p));
        if (!p)
            return ERR_NOMEM;
        n->v = p;
        n->cap = cap;
    }
    struct source_name *e = &n->v[n->n];
    e->id = s->id;
    e->name = strdup(s->name);
    e->plan = s->plan ? strdup(s->plan) : NULL;
    if (!e->name || (s->plan && !e->plan)) {
        free(e->name);
        free(e->plan);
        return ERR_NOMEM;
    }
    n->n++;
    return 0;
}

int source_names_load(struct store *st, struct source_names **out, struct err *e)
{
    struct source_names *n = calloc(1, sizeof(*n));
    if (!n)
        return err_set(e, ERR_NOMEM, "out of memory");
    int rc = st->ops->source_list(st, add, n, e);
    if (rc) {
        source_names_free(n);
        return rc == ERR_NOMEM ? err_set(e, rc, "out of memory") : rc;
    }
    *out = n;
    return 0;
}

void source_names_free(struct source_names *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        free(n->v[i].name);
        free(n->v[i].plan);
    }
    free(n->v);
    free(n);
}

static const struct source_name *by_id(const struct source_names *n, int64_t id)
{
    for (size_t i = 0; n && i < n->n; i++)
        if (n->v[i].id == id)
            return &n->v[i];
    return NULL;
}

const char *source_names_get(const struct source_names *n, int64_t id)
{
    const struct source_name *s = by_id(n, id);
    return s ? s->name : "?";
}

const char *source_names_plan(const struct source_names *n, int64_t id)
{
    const struct source_name *s = by_id(n, id);
    return s ? s->plan : NULL;
}

int64_t source_names_find(const struct source_names *n, const char *name)
{
    for (size_t i = 0; n && i < n->n; i++)
        if (strcmp(n->v[i].name, name) == 0)
            return n->v[i].id;
    return 0;
}
