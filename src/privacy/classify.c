/* classify.c - the built-in classification table and the `classification` setting.
 * See classify.h. */
#include <pthread.h>

#include "core/config.h"
#include "privacy/classify.h"

static const char *const class_names[CLASS_COUNT] = {"public", "internal", "sensitive",
                                                     "core-sensitive"};

/* The defaults the issue names, and the usual spellings of each field in exports and
 * Segment traits. Folded form (see fold()). */
static const struct {
    const char *field;
    enum data_class cls;
} builtin[] = {
    /* core-sensitive: a leak is a harm by itself (PIPL art. 28 "sensitive personal
     * information"). */
    {"idnumber", CLASS_CORE_SENSITIVE},
    {"idcard", CLASS_CORE_SENSITIVE},
    {"residentid", CLASS_CORE_SENSITIVE},
    {"passport", CLASS_CORE_SENSITIVE},
    {"passportnumber", CLASS_CORE_SENSITIVE},
    {"bankcard", CLASS_CORE_SENSITIVE},
    {"cardnumber", CLASS_CORE_SENSITIVE},
    {"creditcard", CLASS_CORE_SENSITIVE},
    /* sensitive: identifies or contacts a person. */
    {"phone", CLASS_SENSITIVE},
    {"mobile", CLASS_SENSITIVE},
    {"email", CLASS_SENSITIVE},
    {"name", CLASS_SENSITIVE},
    {"firstname", CLASS_SENSITIVE},
    {"lastname", CLASS_SENSITIVE},
    {"fullname", CLASS_SENSITIVE},
    {"address", CLASS_SENSITIVE},
    {"street", CLASS_SENSITIVE},
    {"birthday", CLASS_SENSITIVE},
    {"birthdate", CLASS_SENSITIVE},
    {"dateofbirth", CLASS_SENSITIVE},
    {"dob", CLASS_SENSITIVE},
    {"membercard", CLASS_SENSITIVE},
    {"wechatopenid", CLASS_SENSITIVE},
    {"wechatunionid", CLASS_SENSITIVE},
    {"marketplacebuyer", CLASS_SENSITIVE},
    {"ip", CLASS_SENSITIVE},
    /* internal: about a person, harmless alone. */
    {"city", CLASS_INTERNAL},
    {"province", CLASS_INTERNAL},
    {"country", CLASS_INTERNAL},
    {"gender", CLASS_INTERNAL},
    {"age", CLASS_INTERNAL},
    {"userid", CLASS_INTERNAL},
    {"anonymousid", CLASS_INTERNAL},
    {"deviceid", CLASS_INTERNAL},
    {"crmid", CLASS_INTERNAL},
};

const char *data_class_name(enum data_class c)
{
    return (unsigned)c < CLASS_COUNT ? class_names[c] : "?";
}

/* Lower-cases ASCII and drops separators; returns the folded length, or SIZE_MAX if the
 * field does not fit. */
static size_t fold(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_' || c == '-' || c == '.' || c == ' ')
            continue;
        if (n + 1 >= cap)
            return SIZE_MAX;
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[n] = '\0';
    return n;
}

int data_class_parse(const char *text, size_t len, enum data_class *out, struct err *e)
{
    for (int c = 0; c < CLASS_COUNT; c++) {
        const char *n = class_names[c];
        if (strlen(n) != len)
            continue;
        bool same = true;
        for (size_t i = 0; i < len && same; i++)
            same = text[i] == n[i] || (n[i] == '-' && text[i] == '_');
        if (same) {
            *out = (enum data_class)c;
            return 0;
        }
    }
    return err_set(e, ERR_INVALID,
                   "\"%.*s\" is not a class (public, internal, sensitive, core-sensitive)",
                   (int)(len > 40 ? 40 : len), text);
}

/* Walks spec's "field:class" entries; for each calls fn (if any) with the folded field.
 * Returns 0 or ERR_INVALID for the first bad entry. */
static int spec_walk(const char *spec, int (*fn)(const char *folded, enum data_class c, void *ctx),
                     void *ctx, struct err *e)
{
    for (const char *p = spec ? spec : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', l);
        while (l && (*p == ' ' || *p == '\t'))
            p++, l--;
        if (l) {
            if (!colon || colon == p || colon + 1 == p + l)
                return err_set(e, ERR_INVALID,
                               "classification: \"%.*s\" is not FIELD:CLASS (e.g. phone:sensitive)",
                               (int)(l > 60 ? 60 : l), p);
            char folded[64];
            if (fold(p, (size_t)(colon - p), folded, sizeof(folded)) == SIZE_MAX || !folded[0])
                return err_set(e, ERR_INVALID, "classification: field \"%.*s\" is not a name",
                               (int)((colon - p) > 60 ? 60 : (colon - p)), p);
            const char *cv = colon + 1;
            size_t cl = (size_t)(p + l - cv);
            while (cl && (*cv == ' ' || *cv == '\t'))
                cv++, cl--;
            while (cl && (cv[cl - 1] == ' ' || cv[cl - 1] == '\t'))
                cl--;
            enum data_class c;
            struct err ce = {0};
            if (data_class_parse(cv, cl, &c, &ce) != 0)
                return err_set(e, ERR_INVALID, "classification: %s", ce.msg);
            if (fn) {
                int rc = fn(folded, c, ctx);
                if (rc)
                    return rc;
            }
        }
        p += l + (end != NULL);
    }
    return 0;
}

int classify_check(const char *spec, struct err *e)
{
    return spec_walk(spec, NULL, NULL, e);
}

struct lookup {
    const char *folded;
    bool found, star_found;
    enum data_class cls, star;
};

static int lookup_entry(const char *folded, enum data_class c, void *ctx)
{
    struct lookup *l = ctx;
    if (strcmp(folded, "*") == 0) {
        l->star_found = true;
        l->star = c;
    } else if (strcmp(folded, l->folded) == 0) {
        l->found = true; /* the last entry for a field wins */
        l->cls = c;
    }
    return 0;
}

enum data_class classify_with(const char *spec, const char *field, size_t len)
{
    char folded[64];
    if (fold(field, len, folded, sizeof(folded)) == SIZE_MAX)
        return CLASS_INTERNAL;
    struct lookup l = {.folded = folded};
    struct err e = {0};
    if (spec_walk(spec, lookup_entry, &l, &e) == 0 && l.found)
        return l.cls;
    for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
        if (strcmp(builtin[i].field, folded) == 0)
            return builtin[i].cls;
    return l.star_found ? l.star : CLASS_INTERNAL;
}

/* The table in force: the setting's entries, then the built-in ones, compiled once. */
static struct {
    char field[64];
    enum data_class cls;
} table[ARRAY_SIZE(builtin) + 64];
static size_t table_len;
static enum data_class table_star = CLASS_INTERNAL;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static int table_add(const char *folded, enum data_class c, void *ctx)
{
    (void)ctx;
    if (strcmp(folded, "*") == 0) {
        table_star = c;
        return 0;
    }
    for (size_t i = 0; i < table_len; i++)
        if (strcmp(table[i].field, folded) == 0) {
            table[i].cls = c; /* the last entry for a field wins */
            return 0;
        }
    if (table_len == ARRAY_SIZE(table))
        return 0; /* beyond 64 configured fields: the rest fall back to lookup by walk */
    snprintf(table[table_len].field, sizeof(table[0].field), "%s", folded);
    table[table_len++].cls = c;
    return 0;
}

static void table_build(void)
{
    struct err e = {0};
    if (spec_walk(cfg.classification, table_add, NULL, &e) != 0) {
        table_len = 0;
        table_star = CLASS_INTERNAL;
    }
    for (size_t i = 0; i < ARRAY_SIZE(builtin); i++) {
        bool set = false;
        for (size_t j = 0; j < table_len && !set; j++)
            set = strcmp(table[j].field, builtin[i].field) == 0;
        if (!set && table_len < ARRAY_SIZE(table)) {
            snprintf(table[table_len].field, sizeof(table[0].field), "%s", builtin[i].field);
            table[table_len++].cls = builtin[i].cls;
        }
    }
}

enum data_class privacy_class_n(const char *field, size_t len)
{
    pthread_once(&table_once, table_build);
    char folded[64];
    if (fold(field, len, folded, sizeof(folded)) == SIZE_MAX)
        return table_star;
    for (size_t i = 0; i < table_len; i++)
        if (strcmp(table[i].field, folded) == 0)
            return table[i].cls;
    if (table_len == ARRAY_SIZE(table)) /* a very long setting: walk it */
        return classify_with(cfg.classification, field, len);
    return table_star;
}

enum data_class privacy_class(const char *field)
{
    return privacy_class_n(field, strlen(field));
}

void classify_each_default(void (*fn)(const char *field, enum data_class c, void *ctx), void *ctx)
{
    for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
        fn(builtin[i].field, builtin[i].cls, ctx);
}
