/* graph.c - see graph.h. */
#include "core/text.h"
#include "identity/graph.h"

#define IDGRAPH_TYPE_SLOTS 64 /* rule types plus others met in the data */

struct type_info {
    char name[32];
    int priority, limit;
    int counter; /* index into the per-group counters, -1 when unlimited */
};

struct slot {
    uint64_t hash;
    int64_t node; /* -1: empty */
};

struct idgraph {
    struct type_info types[IDGRAPH_TYPE_SLOTS];
    size_t ntypes, ncounters;
    char **blocked;
    size_t nblocked;
    /* nodes */
    int64_t *parent, *minnode;
    uint16_t *counts; /* ncounters per node; meaningful at roots */
    uint8_t *type_of;
    uint32_t *value_off; /* into pool */
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
    struct slot *slots;
    size_t slots_cap;
    int64_t (*cannot)[2]; /* must-not-link node pairs */
    int64_t (*via)[2];    /* per node: the identifiers whose link put its group under another */
    size_t ncannot;
};

static int type_index(struct idgraph *g, const char *name)
{
    for (size_t i = 0; i < g->ntypes; i++)
        if (strcmp(g->types[i].name, name) == 0)
            return (int)i;
    if (g->ntypes == IDGRAPH_TYPE_SLOTS || strlen(name) >= sizeof(g->types[0].name))
        return -1;
    struct type_info *t = &g->types[g->ntypes];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->priority = INT_MAX;
    t->limit = 0;
    t->counter = -1;
    return (int)g->ntypes++;
}

int idgraph_rules_parse(const char *types, const char *blocked, struct idgraph_rules *r,
                        struct err *e)
{
    memset(r, 0, sizeof(*r));
    for (const char *p = types; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        if (len >= sizeof(item) || r->ntypes == IDGRAPH_MAX_TYPES)
            return err_set(e, ERR_INVALID, "identity types: too long or too many");
        memcpy(item, p, len);
        item[len] = 0;
        char *colon = strchr(item, ':');
        struct idgraph_type_rule *t = &r->types[r->ntypes];
        t->limit = 0;
        if (colon) {
            *colon = 0;
            char *stop;
            long v = strtol(colon + 1, &stop, 10);
            if (*stop || v < 0 || v > 65535)
                return err_set(e, ERR_INVALID, "identity types: \"%s\" has a bad limit", item);
            t->limit = (int)v;
        }
        if (!item[0] || strlen(item) >= sizeof(t->name))
            return err_set(e, ERR_INVALID, "identity types: an empty or long type name");
        memcpy(t->name, item, strlen(item) + 1); /* length checked above */
        t->priority = (int)r->ntypes++;
        p += len + (end != NULL);
    }
    for (const char *p = blocked; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char **v = realloc(r->blocked, (r->nblocked + 1) * sizeof(*v));
        if (!v)
            return err_set(e, ERR_NOMEM, "out of memory");
        r->blocked = v;
        r->blocked[r->nblocked] = strndup(p, len);
        if (!r->blocked[r->nblocked])
            return err_set(e, ERR_NOMEM, "out of memory");
        r->nblocked++;
        p += len + (end != NULL);
    }
    return 0;
}

void idgraph_rules_release(struct idgraph_rules *r)
{
    for (size_t i = 0; i < r->nblocked; i++)
        free(r->blocked[i]);
    free(r->blocked);
    memset(r, 0, sizeof(*r));
}

int idgraph_new(const struct idgraph_rules *rules, struct idgraph **out, struct err *e)
{
    struct idgraph *g = calloc(1, sizeof(*g));
    if (!g)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rules->ntypes; i++) {
        struct type_info *t = &g->types[g->ntypes++];
        snprintf(t->name, sizeof(t->name), "%s", rules->types[i].name);
        t->priority = rules->types[i].priority;
        t->limit = rules->types[i].limit;
        t->counter = t->limit ? (int)g->ncounters++ : -1;
    }
    g->blocked = rules->blocked;
    g->nblocked = rules->nblocked;
    *out = g;
    return 0;
}

void idgraph_free(struct idgraph *g)
{
    if (!g)
        return;
    free(g->parent);
    free(g->minnode);
    free(g->counts);
    free(g->type_of);
    free(g->value_off);
    free(g->pool);
    free(g->slots);
    free(g->cannot);
    free(g->via);
    free(g);
}

static uint64_t key_hash(int type, const char *value, size_t len)
{
    uint64_t h = text_hash128(value, len, (uint64_t)type * 0x9E3779B97F4A7C15u + 1).lo;
    return h ? h : 1;
}

static int grow_nodes(struct idgraph *g)
{
    size_t cap = g->cap ? g->cap * 2 : 4096;
    int64_t *p = realloc(g->parent, cap * sizeof(*p));
    if (p)
        g->parent = p;
    int64_t *m = realloc(g->minnode, cap * sizeof(*m));
    if (m)
        g->minnode = m;
    uint16_t *c = realloc(g->counts, cap * (g->ncounters ? g->ncounters : 1) * sizeof(*c));
    if (c)
        g->counts = c;
    uint8_t *t = realloc(g->type_of, cap);
    if (t)
        g->type_of = t;
    uint32_t *v = realloc(g->value_off, cap * sizeof(*v));
    if (v)
        g->value_off = v;
    int64_t(*w)[2] = realloc(g->via, cap * sizeof(*w));
    if (w)
        g->via = w;
    if (!p || !m || !c || !t || !v || !w)
        return ERR_NOMEM;
    g->cap = cap;
    return 0;
}

static int grow_slots(struct idgraph *g)
{
    size_t cap = g->slots_cap ? g->slots_cap * 2 : 8192;
    struct slot *s = malloc(cap * sizeof(*s));
    if (!s)
        return ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        s[i].node = -1;
    for (size_t i = 0; i < g->slots_cap; i++) {
        if (g->slots[i].node < 0)
            continue;
        size_t j = g->slots[i].hash & (cap - 1);
        while (s[j].node >= 0)
            j = (j + 1) & (cap - 1);
        s[j] = g->slots[i];
    }
    free(g->slots);
    g->slots = s;
    g->slots_cap = cap;
    return 0;
}

/* The node of (type, value), made when absent (create) ; -1 when absent, ERR_NOMEM. */
static int64_t intern(struct idgraph *g, int type, const char *value, bool create)
{
    size_t len = strlen(value);
    uint64_t h = key_hash(type, value, len);
    if (g->slots_cap) {
        for (size_t i = h & (g->slots_cap - 1); g->slots[i].node >= 0;
             i = (i + 1) & (g->slots_cap - 1)) {
            int64_t nd = g->slots[i].node;
            if (g->slots[i].hash == h && g->type_of[nd] == type &&
                strcmp(g->pool + g->value_off[nd], value) == 0)
                return nd;
        }
    }
    if (!create)
        return -1;
    if ((g->n + 1) * 2 > g->slots_cap && grow_slots(g))
        return ERR_NOMEM;
    if (g->n == g->cap && grow_nodes(g))
        return ERR_NOMEM;
    if (g->pool_len + len + 1 > g->pool_cap) {
        size_t cap = g->pool_cap ? g->pool_cap * 2 : 1 << 20;
        while (cap < g->pool_len + len + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return ERR_NOMEM;
        char *p = realloc(g->pool, cap);
        if (!p)
            return ERR_NOMEM;
        g->pool = p;
        g->pool_cap = cap;
    }
    int64_t nd = (int64_t)g->n++;
    memcpy(g->pool + g->pool_len, value, len + 1);
    g->value_off[nd] = (uint32_t)g->pool_len;
    g->pool_len += len + 1;
    g->parent[nd] = nd;
    g->minnode[nd] = nd;
    g->via[nd][0] = g->via[nd][1] = -1;
    g->type_of[nd] = (uint8_t)type;
    uint16_t *c = &g->counts[(size_t)nd * g->ncounters];
    for (size_t k = 0; k < g->ncounters; k++)
        c[k] = 0;
    if (g->types[type].counter >= 0)
        c[g->types[type].counter] = 1;
    size_t i = h & (g->slots_cap - 1);
    while (g->slots[i].node >= 0)
        i = (i + 1) & (g->slots_cap - 1);
    g->slots[i] = (struct slot){h, nd};
    return nd;
}

static int64_t find(struct idgraph *g, int64_t x)
{
    while (g->parent[x] != x) {
        g->parent[x] = g->parent[g->parent[x]]; /* path halving */
        x = g->parent[x];
    }
    return x;
}

static int64_t find(struct idgraph *g, int64_t x);

/* Whether roots a and b may be joined: every limit kept, no must-not-link pair split
 * between them. */
static enum idgraph_refusal may_join(struct idgraph *g, int64_t a, int64_t b)
{
    for (size_t i = 0; i < g->ncannot; i++) {
        int64_t x = find(g, g->cannot[i][0]), y = find(g, g->cannot[i][1]);
        if ((x == a && y == b) || (x == b && y == a))
            return IDGRAPH_CANNOT_LINK;
    }
    const uint16_t *ca = &g->counts[(size_t)a * g->ncounters];
    const uint16_t *cb = &g->counts[(size_t)b * g->ncounters];
    for (size_t t = 0; t < g->ntypes; t++) {
        int k = g->types[t].counter;
        if (k >= 0 && ca[k] + cb[k] > g->types[t].limit)
            return IDGRAPH_OVER_LIMIT;
    }
    return IDGRAPH_LINKED;
}

/* Joins roots a and b; na (in a's group) and nb (in b's) are the identifiers whose
 * link it is, kept at the root that goes under. */
static int64_t unite(struct idgraph *g, int64_t a, int64_t b, int64_t na, int64_t nb)
{
    /* The smaller group goes under the larger (sizes are not kept: the node with more
     * identifiers counted, approximated by its minimum node, is fine for path halving). */
    if (g->minnode[b] < g->minnode[a]) {
        int64_t t = a;
        a = b;
        b = t;
        t = na;
        na = nb;
        nb = t;
    }
    g->parent[b] = a;
    g->via[g->minnode[b]][0] = nb;
    g->via[g->minnode[b]][1] = na;
    uint16_t *ca = &g->counts[(size_t)a * g->ncounters];
    const uint16_t *cb = &g->counts[(size_t)b * g->ncounters];
    for (size_t k = 0; k < g->ncounters; k++)
        ca[k] = (uint16_t)(ca[k] + cb[k]);
    return a;
}

static bool is_blocked(const struct idgraph *g, const char *value)
{
    for (size_t i = 0; i < g->nblocked; i++)
        if (strcmp(g->blocked[i], value) == 0)
            return true;
    return false;
}

int64_t idgraph_add(struct idgraph *g, const struct ident *ids, size_t n, size_t *refused)
{
    int64_t nodes[IDGRAPH_RECORD_IDS];
    int prio[IDGRAPH_RECORD_IDS];
    size_t k = 0;
    for (size_t i = 0; i < n && k < IDGRAPH_RECORD_IDS; i++) {
        if (!ids[i].value || !ids[i].value[0] || strlen(ids[i].value) > IDGRAPH_VALUE_MAX ||
            is_blocked(g, ids[i].value))
            continue;
        int t = type_index(g, ids[i].type);
        if (t < 0)
            continue;
        int64_t nd = intern(g, t, ids[i].value, true);
        if (nd < 0)
            return ERR_NOMEM;
        /* insertion sort by priority: a record has a handful of identifiers */
        size_t j = k++;
        while (j > 0 && prio[j - 1] > g->types[t].priority) {
            nodes[j] = nodes[j - 1];
            prio[j] = prio[j - 1];
            j--;
        }
        nodes[j] = nd;
        prio[j] = g->types[t].priority;
    }
    if (k == 0)
        return -1;
    int64_t root = find(g, nodes[0]);
    for (size_t i = 1; i < k; i++) {
        int64_t r = find(g, nodes[i]);
        if (r == root)
            continue;
        if (may_join(g, root, r) != IDGRAPH_LINKED) {
            if (refused)
                (*refused)++;
            continue;
        }
        root = unite(g, root, r, nodes[0], nodes[i]);
    }
    return root;
}

int64_t idgraph_group(struct idgraph *g, int64_t node)
{
    return node < 0 ? node : g->minnode[find(g, node)];
}

size_t idgraph_count(const struct idgraph *g)
{
    return g->n;
}

void idgraph_node(const struct idgraph *g, int64_t node, const char **type, const char **value)
{
    *type = g->types[g->type_of[node]].name;
    *value = g->pool + g->value_off[node];
}

int64_t idgraph_intern(struct idgraph *g, const char *type, const char *value)
{
    int t = type_index(g, type);
    if (t < 0 || strlen(value) > IDGRAPH_VALUE_MAX)
        return -1;
    int64_t nd = intern(g, t, value, true);
    return nd < -1 ? ERR_NOMEM : nd;
}

int64_t idgraph_find(struct idgraph *g, const char *type, const char *value)
{
    for (size_t t = 0; t < g->ntypes; t++)
        if (strcmp(g->types[t].name, type) == 0)
            return intern(g, (int)t, value, false);
    return -1;
}

int idgraph_cannot_link(struct idgraph *g, int64_t a, int64_t b)
{
    if (a < 0 || b < 0 || (size_t)a >= g->n || (size_t)b >= g->n)
        return ERR_INVALID;
    int64_t(*v)[2] = realloc(g->cannot, (g->ncannot + 1) * sizeof(*v));
    if (!v)
        return ERR_NOMEM;
    g->cannot = v;
    g->cannot[g->ncannot][0] = a;
    g->cannot[g->ncannot][1] = b;
    g->ncannot++;
    return 0;
}

enum idgraph_refusal idgraph_link(struct idgraph *g, int64_t a, int64_t b)
{
    int64_t ra = find(g, a), rb = find(g, b);
    if (ra == rb)
        return IDGRAPH_LINKED;
    enum idgraph_refusal why = may_join(g, ra, rb);
    if (why == IDGRAPH_LINKED)
        unite(g, ra, rb, a, b);
    return why;
}

bool idgraph_joined_by(const struct idgraph *g, int64_t node, int64_t *mine, int64_t *theirs)
{
    if (node < 0 || (size_t)node >= g->n || g->via[node][0] < 0)
        return false;
    *mine = g->via[node][0];
    *theirs = g->via[node][1];
    return true;
}
