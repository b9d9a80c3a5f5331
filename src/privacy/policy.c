/* policy.c - the role policy and the masking pass over JSON answers. See policy.h. */
#include <pthread.h>

#include "core/config.h"
#include "http/api_key.h"
#include "privacy/audit.h"
#include "privacy/mask.h"
#include "privacy/policy.h"

static const char *const action_names[] = {"clear", "masked", "hidden"};

/* Rows in api_key_roles order: admin, analyst, marketing, service, risk; columns in
 * class order: public, internal, sensitive, core-sensitive. */
#define C POLICY_CLEAR
#define M POLICY_MASKED
#define H POLICY_HIDDEN
static const enum policy_action defaults[POLICY_ROLES][CLASS_COUNT] = {
    {C, C, C, C}, /* admin: runs Custos; sees everything, every clear read audited */
    {C, C, M, H}, /* analyst: works on aggregates; recognises a record, needs no ID */
    {C, C, M, H}, /* marketing: targets segments; contact goes through Custos */
    {C, C, C, M}, /* service: talks to the customer; confirms an ID by its last digits */
    {C, C, M, C}, /* risk: checks identities against fraud and KYC lists */
};
#undef C
#undef M
#undef H

const char *policy_action_name(enum policy_action a)
{
    return (unsigned)a < ARRAY_SIZE(action_names) ? action_names[a] : "?";
}

static int role_index(const char *role, size_t len)
{
    for (int i = 0; api_key_roles[i]; i++)
        if (strlen(api_key_roles[i]) == len && memcmp(api_key_roles[i], role, len) == 0)
            return i;
    return -1;
}

/* Applies spec's entries to table; ERR_INVALID for the first bad one. */
static int spec_apply(const char *spec, enum policy_action table[POLICY_ROLES][CLASS_COUNT],
                      struct err *e)
{
    for (const char *p = spec ? spec : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        while (l && (*p == ' ' || *p == '\t'))
            p++, l--;
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l) {
            const char *c1 = memchr(p, ':', l);
            const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(p + l - c1 - 1)) : NULL;
            int shown = (int)(l > 60 ? 60 : l);
            if (!c2)
                return err_set(e, ERR_INVALID,
                               "role-policy: \"%.*s\" is not ROLE:CLASS:ACTION (e.g. "
                               "marketing:sensitive:hidden)",
                               shown, p);
            int r = role_index(p, (size_t)(c1 - p));
            if (r < 0)
                return err_set(e, ERR_INVALID,
                               "role-policy: \"%.*s\": the role is not admin, analyst, "
                               "marketing, service or risk",
                               shown, p);
            enum data_class c;
            struct err ce = {0};
            if (data_class_parse(c1 + 1, (size_t)(c2 - c1 - 1), &c, &ce))
                return err_set(e, ERR_INVALID, "role-policy: \"%.*s\": %s", shown, p, ce.msg);
            const char *a = c2 + 1;
            size_t al = (size_t)(p + l - a);
            int act = -1;
            for (int i = 0; i < (int)ARRAY_SIZE(action_names); i++)
                if (strlen(action_names[i]) == al && memcmp(action_names[i], a, al) == 0)
                    act = i;
            if (act < 0)
                return err_set(e, ERR_INVALID,
                               "role-policy: \"%.*s\": the action is not clear, masked or "
                               "hidden",
                               shown, p);
            table[r][c] = (enum policy_action)act;
        }
        p += l + (end != NULL);
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
    }
    return 0;
}

int policy_check(const char *spec, struct err *e)
{
    enum policy_action t[POLICY_ROLES][CLASS_COUNT];
    memcpy(t, defaults, sizeof(t));
    return spec_apply(spec, t, e);
}

static enum policy_action lookup(enum policy_action t[POLICY_ROLES][CLASS_COUNT], const char *role,
                                 enum data_class c)
{
    int r = role ? role_index(role, strlen(role)) : -1;
    if (r < 0 || (unsigned)c >= CLASS_COUNT)
        return c == CLASS_PUBLIC ? POLICY_CLEAR : POLICY_HIDDEN;
    return t[r][c];
}

enum policy_action policy_with(const char *spec, const char *role, enum data_class c)
{
    enum policy_action t[POLICY_ROLES][CLASS_COUNT];
    memcpy(t, defaults, sizeof(t));
    spec_apply(spec, t, NULL); /* an invalid spec leaves what it set so far */
    return lookup(t, role, c);
}

static enum policy_action table[POLICY_ROLES][CLASS_COUNT];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_load(void)
{
    memcpy(table, defaults, sizeof(table));
    enum policy_action t[POLICY_ROLES][CLASS_COUNT];
    memcpy(t, defaults, sizeof(t));
    if (spec_apply(cfg.role_policy, t, NULL) == 0)
        memcpy(table, t, sizeof(t));
}

enum policy_action policy_for(const char *role, enum data_class c)
{
    pthread_once(&table_once, table_load);
    return lookup(table, role, c);
}

/* ---- the pass over a JSON answer ---- */

#define PASS_CACHE 64 /* field names remembered per pass (answers repeat a few dozen) */

/* Field names and their classes: classifying folds the name and searches the table,
 * and the same few names come back in every record and event of an answer. Under the
 * setting in force (policy_apply) one cache per thread serves every pass; an explicit
 * classification (policy_apply_with) gets a fresh one per pass. */
struct class_cache {
    struct {
        char field[32]; /* a copy: hidden members are freed during the pass */
        enum data_class cls;
    } slot[PASS_CACHE];
};
static _Thread_local struct class_cache thread_cache;

struct pass {
    enum policy_action t[POLICY_ROLES][CLASS_COUNT];
    struct class_cache own, *cache;
    const char *class_spec;
    bool explicit_classes;
    const char *role;
    struct policy_stats *stats;
    int rc;
};

static enum data_class class_of(struct pass *p, const char *field)
{
    uint32_t h = 2166136261u;
    size_t n = 0;
    for (; field[n]; n++)
        h = (h ^ (unsigned char)field[n]) * 16777619u;
    struct class_cache *cc = p->cache;
    size_t slot = h % PASS_CACHE;
    if (n && n < sizeof(cc->slot[slot].field) && strcmp(cc->slot[slot].field, field) == 0)
        return cc->slot[slot].cls;
    enum data_class c =
        p->explicit_classes ? classify_with(p->class_spec, field, n) : privacy_class_n(field, n);
    if (n && n < sizeof(cc->slot[slot].field)) {
        memcpy(cc->slot[slot].field, field, n + 1);
        cc->slot[slot].cls = c;
    }
    return c;
}

static void note_clear(struct pass *p, const char *field)
{
    struct policy_stats *s = p->stats;
    s->clear_sensitive++;
    size_t have = strlen(s->fields), fl = strlen(field);
    /* each field once */
    for (const char *q = s->fields; (q = strstr(q, field)) != NULL; q += fl)
        if ((q == s->fields || q[-1] == ',') && (q[fl] == ',' || q[fl] == 0))
            return;
    if (have + fl + 2 < sizeof(s->fields))
        snprintf(s->fields + have, sizeof(s->fields) - have, "%s%s", have ? "," : "", field);
}

/* What to do with a scalar item of field (class c): returns true when the item must
 * be removed; masks it in place. */
static bool apply_scalar(struct pass *p, cJSON *item, const char *field, enum data_class c)
{
    if (cJSON_IsNull(item) || cJSON_IsBool(item) || c < CLASS_SENSITIVE) {
        enum policy_action a = lookup(p->t, p->role, c);
        if (a == POLICY_HIDDEN && !cJSON_IsNull(item)) {
            p->stats->hidden++;
            return true;
        }
        return false;
    }
    enum policy_action a = lookup(p->t, p->role, c);
    if (a == POLICY_CLEAR) {
        note_clear(p, field);
        return false;
    }
    if (a == POLICY_HIDDEN) {
        p->stats->hidden++;
        return true;
    }
    char num[64];
    const char *text = item->valuestring;
    if (cJSON_IsNumber(item)) {
        snprintf(num, sizeof(num), "%.17g", item->valuedouble);
        text = num;
    }
    if (!text)
        text = "";
    char *m = mask_field(field, text);
    if (!m) {
        p->rc = ERR_NOMEM;
        return false;
    }
    /* Replace the value: a number becomes the string of its mask. */
    if (cJSON_IsString(item)) {
        cJSON_free(item->valuestring);
        item->valuestring = NULL;
    }
    char *copy = cJSON_malloc(strlen(m) + 1);
    if (!copy) {
        free(m);
        p->rc = ERR_NOMEM;
        return false;
    }
    memcpy(copy, m, strlen(m) + 1);
    free(m);
    item->type = cJSON_String;
    item->valuestring = copy;
    item->valuedouble = 0;
    item->valueint = 0;
    p->stats->masked++;
    return false;
}

static void walk(struct pass *p, cJSON *node, const char *field, enum data_class inherited);

/* Containers of Segment messages and orders whose "name" names a thing, not a person. */
static bool names_a_thing(const char *container)
{
    static const char *const things[] = {"library",  "app",      "os",      "campaign", "screen",
                                         "network",  "products", "product", "items",    "item",
                                         "category", "store",    "page",    "referrer"};
    for (size_t i = 0; i < ARRAY_SIZE(things); i++)
        if (strcmp(container, things[i]) == 0)
            return true;
    return false;
}

/* A survivorship trait: its golden value and every candidate's value are the trait's
 * field; hidden, the whole trait goes (its name says nothing without them). */
static bool apply_trait(struct pass *p, cJSON *trait, const char *name, cJSON *value, cJSON *cands,
                        enum data_class inherited)
{
    enum data_class c = class_of(p, name);
    if (inherited > c)
        c = inherited;
    if (c >= CLASS_SENSITIVE && lookup(p->t, p->role, c) == POLICY_HIDDEN) {
        p->stats->hidden++;
        return true;
    }
    (void)trait;
    if (!cJSON_IsNull(value) && apply_scalar(p, value, name, c))
        return true;
    for (cJSON *cd = cands->child; cd && !p->rc; cd = cd->next) {
        cJSON *v = cJSON_IsObject(cd) ? cJSON_GetObjectItemCaseSensitive(cd, "value") : NULL;
        if (v && !cJSON_IsObject(v) && !cJSON_IsArray(v) && !cJSON_IsNull(v))
            apply_scalar(p, v, name, c);
    }
    return false;
}

/* Applies the policy to node, the value of field (class c); true when it must go. */
static bool apply(struct pass *p, cJSON *node, const char *field, enum data_class c)
{
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        if (c >= CLASS_SENSITIVE && lookup(p->t, p->role, c) == POLICY_HIDDEN) {
            p->stats->hidden++;
            return true;
        }
        walk(p, node, field, c);
        return false;
    }
    return apply_scalar(p, node, field, c);
}

static void walk(struct pass *p, cJSON *node, const char *field, enum data_class inherited)
{
    if (cJSON_IsArray(node)) {
        cJSON *it = node->child;
        while (it && !p->rc) {
            cJSON *next = it->next;
            bool drop = false;
            cJSON *type = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "type") : NULL;
            cJSON *value =
                cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "value") : NULL;
            cJSON *tname = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "name") : NULL;
            cJSON *cands =
                cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "candidates") : NULL;
            if (cJSON_IsString(type) && value && !cJSON_IsObject(value) && !cJSON_IsArray(value)) {
                /* an identifier: {"type": T, "value": V} */
                enum data_class c = class_of(p, type->valuestring);
                drop = apply_scalar(p, value, type->valuestring, c > inherited ? c : inherited);
            } else if (cJSON_IsString(tname) && value && cJSON_IsArray(cands)) {
                /* a trait with its golden value and candidates (identity/survivorship.h):
                 * {"name": TRAIT, "value": V, "candidates": [{"value": V, ...}]} */
                drop = apply_trait(p, it, tname->valuestring, value, cands, inherited);
            } else {
                drop = apply(p, it, field, inherited);
            }
            if (drop)
                cJSON_Delete(cJSON_DetachItemViaPointer(node, it));
            it = next;
        }
        return;
    }
    if (!cJSON_IsObject(node))
        return;
    cJSON *it = node->child;
    while (it && !p->rc) {
        cJSON *next = it->next;
        const char *name = it->string ? it->string : field;
        enum data_class c = class_of(p, name);
        if (c > CLASS_INTERNAL && strcmp(name, "name") == 0 && names_a_thing(field))
            c = CLASS_INTERNAL; /* a product's or an app's name is not a person's */
        /* A member without a mask of its own inside a sensitive container (an
         * address's parts) takes the container's class and mask. */
        const char *mfield = name;
        if (inherited > c) {
            c = inherited;
            if (mask_kind_of(name, strlen(name)) == MASK_DEFAULT)
                mfield = field;
        }
        if (apply(p, it, mfield, c))
            cJSON_Delete(cJSON_DetachItemViaPointer(node, it));
        it = next;
    }
}

static int run(struct pass *p, cJSON *json, struct policy_stats *stats)
{
    struct policy_stats none = {0};
    p->stats = stats ? stats : &none;
    memset(p->stats, 0, sizeof(*p->stats));
    if (cJSON_IsString(json) || cJSON_IsNumber(json)) {
        /* a bare value names no field: treat it as sensitive */
        if (apply_scalar(p, json, "", CLASS_SENSITIVE) && !p->rc) {
            cJSON_free(json->valuestring);
            json->valuestring = NULL;
            json->type = cJSON_NULL;
        }
        return p->rc;
    }
    walk(p, json, "", CLASS_PUBLIC);
    return p->rc;
}

int policy_apply(cJSON *json, const char *role, struct policy_stats *stats)
{
    struct pass p = {.role = role, .cache = &thread_cache};
    pthread_once(&table_once, table_load);
    memcpy(p.t, table, sizeof(table));
    return run(&p, json, stats);
}

int policy_apply_with(cJSON *json, const char *policy_spec, const char *class_spec,
                      const char *role, struct policy_stats *stats)
{
    struct pass p = {.role = role, .class_spec = class_spec, .explicit_classes = true};
    p.cache = &p.own;
    memcpy(p.t, defaults, sizeof(defaults));
    spec_apply(policy_spec, p.t, NULL);
    return run(&p, json, stats);
}

/* The detail of the read.clear entry for what one pass showed clear; "" for none. */
static int read_detail(const char *role, const struct policy_stats *stats,
                       char detail[POLICY_DETAIL_MAX], struct err *e)
{
    detail[0] = 0;
    if (stats->clear_sensitive == 0)
        return 0;
    cJSON *d = cJSON_CreateObject();
    bool ok = d && cJSON_AddStringToObject(d, "role", role) &&
              cJSON_AddStringToObject(d, "fields", stats->fields) &&
              cJSON_AddNumberToObject(d, "values", stats->clear_sensitive) &&
              cJSON_PrintPreallocated(d, detail, POLICY_DETAIL_MAX, false);
    cJSON_Delete(d);
    if (!ok) {
        detail[0] = 0;
        return err_set(e, ERR_NOMEM, "cannot describe the read for the audit log");
    }
    return 0;
}

int policy_answer(struct store *st, cJSON *json, const char *role, const char *actor,
                  const char *subject, struct err *e)
{
    struct policy_stats stats;
    char detail[POLICY_DETAIL_MAX];
    if (policy_apply(json, role, &stats))
        return err_set(e, ERR_NOMEM, "out of memory while masking");
    if (read_detail(role, &stats, detail, e))
        return ERR_NOMEM;
    return detail[0] ? audit_append(st, actor, AUDIT_READ_CLEAR, subject, detail, e) : 0;
}

bool policy_all_clear(const char *role)
{
    for (int c = 0; c < CLASS_COUNT; c++)
        if (policy_for(role, (enum data_class)c) != POLICY_CLEAR)
            return false;
    return true;
}

int policy_audit_bulk(struct store *st, const char *role, const char *actor, const char *subject,
                      const char *detail_json, struct err *e)
{
    if (policy_for(role, CLASS_SENSITIVE) != POLICY_CLEAR &&
        policy_for(role, CLASS_CORE_SENSITIVE) != POLICY_CLEAR)
        return 0;
    return audit_append(st, actor, AUDIT_READ_CLEAR, subject, detail_json, e);
}

int policy_mask_text(char **body, size_t *len, const char *role, char detail[POLICY_DETAIL_MAX],
                     struct err *e)
{
    detail[0] = 0;
    if (policy_all_clear(role)) {
        if (*len)
            snprintf(detail, POLICY_DETAIL_MAX, "{\"role\":\"%s\"}", role);
        return 0;
    }
    cJSON *json = cJSON_ParseWithLength(*body, *len);
    if (!json)
        return err_set(e, ERR_INVALID, "the answer to mask is not JSON");
    struct policy_stats stats;
    int rc = policy_apply(json, role, &stats) ? err_set(e, ERR_NOMEM, "out of memory while masking")
                                              : read_detail(role, &stats, detail, e);
    char *text = rc ? NULL : cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (rc)
        return rc;
    if (!text)
        return err_set(e, ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    if (!copy) {
        cJSON_free(text);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    memcpy(copy, text, n + 1);
    cJSON_free(text);
    free(*body);
    *body = copy;
    *len = n;
    return 0;
}

int policy_answer_text(struct store *st, char **body, size_t *len, const char *role,
                       const char *actor, const char *subject, struct err *e)
{
    char detail[POLICY_DETAIL_MAX];
    int rc = policy_mask_text(body, len, role, detail, e);
    if (!rc && detail[0])
        rc = audit_append(st, actor, AUDIT_READ_CLEAR, subject, detail, e);
    return rc;
}
