/* plan.c - tracking plans: a plan file compiled into schemas, messages checked against them.
 *
 * plan_compile walks the plan JSON once and builds a tree of struct schema: keyword
 * values converted to C types, enum and const values to struct literal, patterns
 * compiled (and JIT-compiled where the platform has it) by PCRE2, and the rule text
 * each keyword reports rendered once. plan_check only reads that tree, so any number
 * of threads may check against one plan; each call has its own PCRE2 match data.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
#include <math.h>
#include <pcre2.h>

#include "ingest/plan.h"
#include "core/text.h"

/* Field paths in errors and reasons are cut to PLAN_PATH_MAX bytes, rule texts (enum
 * lists, patterns) to PLAN_RULE_MAX, both ending in "...", so that a plan with very long
 * names or enum lists cannot make every reason huge. */
#define PLAN_PATH_MAX 1024
#define PLAN_RULE_MAX 256

/* JSON nesting accepted in a plan file before it is parsed: each schema level is two
 * JSON levels (the schema and its "properties"), plus the top level, "calls" or
 * "events" and enum values. The precise limit, PLAN_MAX_DEPTH, is checked per schema. */
#define PLAN_JSON_MAX_DEPTH (4 * PLAN_MAX_DEPTH)

/* A pattern meets values the sender chooses, so a pattern that backtracks
 * catastrophically must not stall ingestion: a match that needs more than this many
 * backtracking steps, or more than this much memory, fails as a violation. */
#define PLAN_MATCH_LIMIT    1000000
#define PLAN_MATCH_HEAP_KIB 1024

enum call {
    CALL_IDENTIFY,
    CALL_TRACK,
    CALL_PAGE,
    CALL_SCREEN,
    CALL_GROUP,
    CALL_ALIAS,
    CALL_COUNT,
};

static const char *const call_names[CALL_COUNT] = {"identify", "track", "page",
                                                   "screen",   "group", "alias"};

/* JSON Schema types as bits of schema.types; an integer is also a number. */
enum {
    TYPE_STRING = 1u << 0,
    TYPE_NUMBER = 1u << 1,
    TYPE_INTEGER = 1u << 2,
    TYPE_BOOLEAN = 1u << 3,
    TYPE_OBJECT = 1u << 4,
    TYPE_ARRAY = 1u << 5,
    TYPE_NULL = 1u << 6,
};

static const struct type_name {
    const char *name;
    const char *noun; /* as it reads in "must be ..." */
    unsigned bit;
} type_names[] = {
    {"string", "a string", TYPE_STRING},
    {"number", "a number", TYPE_NUMBER},
    {"integer", "an integer", TYPE_INTEGER},
    {"boolean", "a boolean", TYPE_BOOLEAN},
    {"object", "an object", TYPE_OBJECT},
    {"array", "an array", TYPE_ARRAY},
    {"null", "null", TYPE_NULL},
};

/* The numeric bounds, in schema.bound[], and what a failure says. */
enum bound { BOUND_MIN, BOUND_MAX, BOUND_XMIN, BOUND_XMAX, BOUND_COUNT };

static const struct bound_rule {
    const char *code;
    const char *op;
} bound_rules[BOUND_COUNT] = {
    [BOUND_MIN] = {"minimum", ">="},
    [BOUND_MAX] = {"maximum", "<="},
    [BOUND_XMIN] = {"exclusiveMinimum", ">"},
    [BOUND_XMAX] = {"exclusiveMaximum", "<"},
};

/* The length and size limits, in schema.count[], and what a failure says. */
enum count { COUNT_MIN_LENGTH, COUNT_MAX_LENGTH, COUNT_MIN_ITEMS, COUNT_MAX_ITEMS, COUNT_COUNT };

static const struct count_rule {
    const char *code;
    const char *words; /* "must have <words> N <unit>" */
    const char *unit;
} count_rules[COUNT_COUNT] = {
    [COUNT_MIN_LENGTH] = {"minLength", "at least", "character"},
    [COUNT_MAX_LENGTH] = {"maxLength", "at most", "character"},
    [COUNT_MIN_ITEMS] = {"minItems", "at least", "item"},
    [COUNT_MAX_ITEMS] = {"maxItems", "at most", "item"},
};

enum keyword_kind {
    KW_TYPE,
    KW_REQUIRED,
    KW_PROPERTIES,
    KW_ADDITIONAL,
    KW_ITEMS,
    KW_ENUM,
    KW_CONST,
    KW_PATTERN,
    KW_BOUND,
    KW_COUNT,
    KW_DESCRIPTION,
};

static const struct keyword {
    const char *name;
    enum keyword_kind kind;
    int slot; /* enum bound or enum count, for KW_BOUND and KW_COUNT */
} keywords[] = {
    {"type", KW_TYPE, 0},
    {"required", KW_REQUIRED, 0},
    {"properties", KW_PROPERTIES, 0},
    {"additionalProperties", KW_ADDITIONAL, 0},
    {"items", KW_ITEMS, 0},
    {"enum", KW_ENUM, 0},
    {"const", KW_CONST, 0},
    {"pattern", KW_PATTERN, 0},
    {"minimum", KW_BOUND, BOUND_MIN},
    {"maximum", KW_BOUND, BOUND_MAX},
    {"exclusiveMinimum", KW_BOUND, BOUND_XMIN},
    {"exclusiveMaximum", KW_BOUND, BOUND_XMAX},
    {"minLength", KW_COUNT, COUNT_MIN_LENGTH},
    {"maxLength", KW_COUNT, COUNT_MAX_LENGTH},
    {"minItems", KW_COUNT, COUNT_MIN_ITEMS},
    {"maxItems", KW_COUNT, COUNT_MAX_ITEMS},
    {"description", KW_DESCRIPTION, 0},
};

/* An enum or const value, compiled: compared with message values by JSON equality. */
enum literal_kind { LIT_NULL, LIT_BOOL, LIT_NUMBER, LIT_STRING, LIT_ARRAY, LIT_OBJECT };

struct literal {
    enum literal_kind kind;
    bool boolean;
    double number;
    char *string; /* LIT_STRING */
    size_t len;
    char *key;             /* the member name, when this is a member of an object */
    struct literal *items; /* LIT_ARRAY elements or LIT_OBJECT members */
    size_t nitems;
};

struct property {
    char *name;
    struct schema *schema;
};

struct schema {
    unsigned types; /* TYPE_* bits; 0 when "type" is absent */
    char *type_rule;
    unsigned has_bound; /* 1u << enum bound */
    double bound[BOUND_COUNT];
    unsigned has_count; /* 1u << enum count */
    size_t count[COUNT_COUNT];
    pcre2_code *pattern;
    char *pattern_rule;
    char **required; /* in plan order */
    size_t nrequired;
    struct property *props; /* sorted by name */
    size_t nprops;
    bool closed; /* "additionalProperties": false */
    struct schema *items;
    struct literal *enum_values;
    size_t nenum;
    char *enum_rule;
    struct literal *const_value;
    char *const_rule;
};

struct event {
    char *name;
    struct schema *schema;
};

struct plan {
    enum plan_verdict unplanned;
    struct schema *calls[CALL_COUNT];
    bool has_events;
    struct event *events; /* sorted by name */
    size_t nevents;
    pcre2_match_context *mctx; /* the match limits; read-only once compiled */
};

/* A bounded text: a field path or a rule, cut with "..." at cap (at most PLAN_PATH_MAX). */
struct sbuf {
    char buf[PLAN_PATH_MAX];
    size_t len;
    size_t cap;
};

#define SBUF_PATH                                                                                  \
    {                                                                                              \
        .len = 0, .cap = PLAN_PATH_MAX                                                             \
    }
#define SBUF_RULE                                                                                  \
    {                                                                                              \
        .len = 0, .cap = PLAN_RULE_MAX                                                             \
    }

static void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
    size_t room = b->cap - b->len;
    size_t at;
    va_list ap;
    int n;

    if (room > 1) {
        va_start(ap, fmt);
        n = vsnprintf(b->buf + b->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->buf[b->len] = '\0';
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
    }
    /* Cut on a code point boundary, so that the text stays valid UTF-8. */
    at = b->cap - 4;
    while (at > 0 && ((unsigned char)b->buf[at] & 0xC0) == 0x80)
        at--;
    memcpy(b->buf + at, "...", 4);
    b->len = at + 3;
}

/* Appends ".name" ("name" at the root); returns the length to cut back to. */
static size_t sbuf_push_name(struct sbuf *b, const char *name)
{
    size_t saved = b->len;

    sbuf_addf(b, "%s%s", b->len ? "." : "", name);
    return saved;
}

static size_t sbuf_push_index(struct sbuf *b, size_t i)
{
    size_t saved = b->len;

    sbuf_addf(b, "[%zu]", i);
    return saved;
}

static void sbuf_cut(struct sbuf *b, size_t len)
{
    b->len = len;
    b->buf[len] = '\0';
}

/* Shortest text that reads back as d. */
static void format_number(char *buf, size_t cap, double d)
{
    snprintf(buf, cap, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, cap, "%.17g", d);
}

static bool is_integer(double d)
{
    const double exact = 9007199254740992.0; /* 2^53: every double beyond is whole */

    if (!isfinite(d))
        return false;
    if (d >= exact || d <= -exact)
        return true;
    return (double)(int64_t)d == d;
}

static void literal_release(struct literal *l)
{
    for (size_t i = 0; i < l->nitems; i++)
        literal_release(&l->items[i]);
    free(l->items);
    free(l->string);
    free(l->key);
}

static void schema_free(struct schema *s)
{
    if (!s)
        return;
    free(s->type_rule);
    pcre2_code_free(s->pattern);
    free(s->pattern_rule);
    for (size_t i = 0; i < s->nrequired; i++)
        free(s->required[i]);
    free(s->required);
    for (size_t i = 0; i < s->nprops; i++) {
        free(s->props[i].name);
        schema_free(s->props[i].schema);
    }
    free(s->props);
    schema_free(s->items);
    for (size_t i = 0; i < s->nenum; i++)
        literal_release(&s->enum_values[i]);
    free(s->enum_values);
    free(s->enum_rule);
    if (s->const_value)
        literal_release(s->const_value);
    free(s->const_value);
    free(s->const_rule);
    free(s);
}

void plan_free(struct plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < CALL_COUNT; i++)
        schema_free(p->calls[i]);
    for (size_t i = 0; i < p->nevents; i++) {
        free(p->events[i].name);
        schema_free(p->events[i].schema);
    }
    free(p->events);
    pcre2_match_context_free(p->mctx);
    free(p);
}

/* ---- compiling ---- */

struct compiler {
    struct err *e;
    struct sbuf path; /* JSON path of what is being compiled, for errors */
};

static int fail(struct compiler *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct compiler *c, int code, const char *fmt, ...)
{
    char what[PLAN_RULE_MAX / 2];
    const char *path = c->path.len ? c->path.buf : "plan";
    const char *cut = "";
    size_t keep, len = strlen(path);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* A path too long for the message keeps its deepest part, and the problem stays. */
    keep = sizeof((struct err){0}.msg) - strlen(what) - sizeof("...: ");
    if (len > keep) {
        path += len - keep;
        while (((unsigned char)*path & 0xC0) == 0x80)
            path++;
        cut = "...";
    }
    return err_set(c->e, code, "%s%s: %s", cut, path, what);
}

static int nomem(struct compiler *c)
{
    return fail(c, ERR_NOMEM, "out of memory");
}

static size_t child_count(const cJSON *j)
{
    size_t n = 0;

    for (const cJSON *it = j->child; it; it = it->next)
        n++;
    return n;
}

/* Renders a plan value (never a message value) into b, as JSON. */
static int render_value(struct compiler *c, const cJSON *j, struct sbuf *b)
{
    char *text = cJSON_PrintUnformatted(j);

    if (!text)
        return nomem(c);
    sbuf_addf(b, "%s", text);
    cJSON_free(text);
    return 0;
}

static int keep_rule(struct compiler *c, const struct sbuf *b, char **out)
{
    *out = strdup(b->buf);
    return *out ? 0 : nomem(c);
}

static int literal_compile(struct compiler *c, const cJSON *j, int depth, struct literal *l)
{
    struct literal *item;
    size_t saved;
    int rc = 0;

    if (depth > PLAN_MAX_DEPTH) {
        rc = fail(c, ERR_LIMIT, "values nest deeper than %d", PLAN_MAX_DEPTH);
        goto out;
    }
    if (cJSON_IsNull(j)) {
        l->kind = LIT_NULL;
    } else if (cJSON_IsBool(j)) {
        l->kind = LIT_BOOL;
        l->boolean = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        l->kind = LIT_NUMBER;
        l->number = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        l->kind = LIT_STRING;
        l->len = strlen(j->valuestring);
        l->string = strdup(j->valuestring);
        if (!l->string)
            rc = nomem(c);
    } else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        l->kind = cJSON_IsArray(j) ? LIT_ARRAY : LIT_OBJECT;
        l->items = calloc(child_count(j) + 1, sizeof(*l->items));
        if (!l->items) {
            rc = nomem(c);
            goto out;
        }
        for (const cJSON *it = j->child; it; it = it->next) {
            item = &l->items[l->nitems++];
            if (l->kind == LIT_ARRAY)
                saved = sbuf_push_index(&c->path, l->nitems - 1);
            else
                saved = sbuf_push_name(&c->path, it->string);
            if (l->kind == LIT_OBJECT) {
                item->key = strdup(it->string);
                if (!item->key) {
                    rc = nomem(c);
                    goto out;
                }
            }
            rc = literal_compile(c, it, depth + 1, item);
            if (rc)
                goto out;
            sbuf_cut(&c->path, saved);
        }
    } else {
        rc = fail(c, ERR_INVALID, "not a JSON value");
    }
out:
    return rc;
}

static bool literal_equal(const struct literal *l, const cJSON *v)
{
    const cJSON *it;

    switch (l->kind) {
    case LIT_NULL:
        return cJSON_IsNull(v);
    case LIT_BOOL:
        return cJSON_IsBool(v) && (bool)cJSON_IsTrue(v) == l->boolean;
    case LIT_NUMBER:
        return cJSON_IsNumber(v) && v->valuedouble == l->number;
    case LIT_STRING:
        return cJSON_IsString(v) && v->valuestring && strlen(v->valuestring) == l->len &&
               memcmp(v->valuestring, l->string, l->len) == 0;
    case LIT_ARRAY:
        if (!cJSON_IsArray(v))
            return false;
        it = v->child;
        for (size_t i = 0; i < l->nitems; i++, it = it->next)
            if (!it || !literal_equal(&l->items[i], it))
                return false;
        return it == NULL;
    case LIT_OBJECT:
        if (!cJSON_IsObject(v) || child_count(v) != l->nitems)
            return false;
        for (size_t i = 0; i < l->nitems; i++) {
            it = cJSON_GetObjectItemCaseSensitive(v, l->items[i].key);
            if (!it || !literal_equal(&l->items[i], it))
                return false;
        }
        return true;
    }
    return false;
}

static int type_bit(struct compiler *c, const cJSON *j, unsigned *bit)
{
    if (!cJSON_IsString(j))
        return fail(c, ERR_INVALID, "a type must be a string");
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++) {
        if (strcmp(j->valuestring, type_names[i].name) == 0) {
            *bit = type_names[i].bit;
            return 0;
        }
    }
    return fail(c, ERR_INVALID,
                "unknown type (expected string, number, integer, boolean, object, array or null)");
}

static int compile_type(struct compiler *c, const cJSON *j, struct schema *s)
{
    struct sbuf rule = SBUF_RULE;
    unsigned bit = 0, n = 0, i = 0;
    size_t saved;
    int rc = 0;

    if (cJSON_IsArray(j)) {
        if (!j->child) {
            rc = fail(c, ERR_INVALID, "must name at least one type");
            goto out;
        }
        for (const cJSON *it = j->child; it; it = it->next, i++) {
            saved = sbuf_push_index(&c->path, i);
            rc = type_bit(c, it, &bit);
            if (!rc && (s->types & bit))
                rc = fail(c, ERR_INVALID, "type listed twice");
            if (rc)
                goto out;
            sbuf_cut(&c->path, saved);
            s->types |= bit;
        }
    } else {
        rc = type_bit(c, j, &bit);
        if (rc)
            goto out;
        s->types = bit;
    }
    sbuf_addf(&rule, "must be ");
    for (i = 0; i < ARRAY_SIZE(type_names); i++) {
        if (!(s->types & type_names[i].bit))
            continue;
        if (n++)
            sbuf_addf(&rule, "%s", (s->types >> (i + 1)) ? ", " : " or ");
        sbuf_addf(&rule, "%s", type_names[i].noun);
    }
    rc = keep_rule(c, &rule, &s->type_rule);
out:
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int compile_required(struct compiler *c, const cJSON *j, struct schema *s)
{
    char **sorted = NULL;
    size_t saved, n;
    int rc = 0;

    if (!cJSON_IsArray(j)) {
        rc = fail(c, ERR_INVALID, "must be an array of property names");
        goto out;
    }
    n = child_count(j);
    s->required = calloc(n + 1, sizeof(*s->required));
    sorted = calloc(n + 1, sizeof(*sorted));
    if (!s->required || !sorted) {
        rc = nomem(c);
        goto out;
    }
    for (const cJSON *it = j->child; it; it = it->next) {
        saved = sbuf_push_index(&c->path, s->nrequired);
        if (!cJSON_IsString(it)) {
            rc = fail(c, ERR_INVALID, "must be a string");
            goto out;
        }
        sbuf_cut(&c->path, saved);
        s->required[s->nrequired] = strdup(it->valuestring);
        if (!s->required[s->nrequired]) {
            rc = nomem(c);
            goto out;
        }
        sorted[s->nrequired] = s->required[s->nrequired];
        s->nrequired++;
    }
    qsort(sorted, n, sizeof(*sorted), compare_names);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            rc = fail(c, ERR_INVALID, "property \"%s\" listed twice", sorted[i]);
            goto out;
        }
    }
out:
    free(sorted);
    return rc;
}

static int schema_compile(struct compiler *c, const cJSON *j, int depth, struct schema **out);

static int compare_props(const void *a, const void *b)
{
    return strcmp(((const struct property *)a)->name, ((const struct property *)b)->name);
}

static int compile_properties(struct compiler *c, const cJSON *j, int depth, struct schema *s)
{
    struct property *prop;
    size_t saved;
    int rc = 0;

    if (!cJSON_IsObject(j)) {
        rc = fail(c, ERR_INVALID, "must be an object of property schemas");
        goto out;
    }
    s->props = calloc(child_count(j) + 1, sizeof(*s->props));
    if (!s->props) {
        rc = nomem(c);
        goto out;
    }
    for (const cJSON *it = j->child; it; it = it->next) {
        saved = sbuf_push_name(&c->path, it->string);
        prop = &s->props[s->nprops++];
        prop->name = strdup(it->string);
        if (!prop->name) {
            rc = nomem(c);
            goto out;
        }
        rc = schema_compile(c, it, depth + 1, &prop->schema);
        if (rc)
            goto out;
        sbuf_cut(&c->path, saved);
    }
    qsort(s->props, s->nprops, sizeof(*s->props), compare_props);
    for (size_t i = 1; i < s->nprops; i++) {
        if (strcmp(s->props[i - 1].name, s->props[i].name) == 0) {
            sbuf_push_name(&c->path, s->props[i].name);
            rc = fail(c, ERR_INVALID, "property defined twice");
            goto out;
        }
    }
out:
    return rc;
}

static int compile_enum(struct compiler *c, const cJSON *j, struct schema *s)
{
    struct sbuf rule = SBUF_RULE;
    size_t saved;
    int rc = 0;

    if (!cJSON_IsArray(j) || !j->child) {
        rc = fail(c, ERR_INVALID, "must be a non-empty array of values");
        goto out;
    }
    s->enum_values = calloc(child_count(j) + 1, sizeof(*s->enum_values));
    if (!s->enum_values) {
        rc = nomem(c);
        goto out;
    }
    sbuf_addf(&rule, "must be one of ");
    for (const cJSON *it = j->child; it; it = it->next) {
        saved = sbuf_push_index(&c->path, s->nenum);
        rc = literal_compile(c, it, 1, &s->enum_values[s->nenum++]);
        if (rc)
            goto out;
        sbuf_cut(&c->path, saved);
        if (s->nenum > 1)
            sbuf_addf(&rule, ", ");
        rc = render_value(c, it, &rule);
        if (rc)
            goto out;
    }
    rc = keep_rule(c, &rule, &s->enum_rule);
out:
    return rc;
}

static int compile_const(struct compiler *c, const cJSON *j, struct schema *s)
{
    struct sbuf rule = SBUF_RULE;
    int rc = 0;

    s->const_value = calloc(1, sizeof(*s->const_value));
    if (!s->const_value) {
        rc = nomem(c);
        goto out;
    }
    rc = literal_compile(c, j, 1, s->const_value);
    if (rc)
        goto out;
    sbuf_addf(&rule, "must equal ");
    rc = render_value(c, j, &rule);
    if (rc)
        goto out;
    rc = keep_rule(c, &rule, &s->const_rule);
out:
    return rc;
}

static int compile_pattern(struct compiler *c, const cJSON *j, struct schema *s)
{
    struct sbuf rule = SBUF_RULE;
    PCRE2_UCHAR why[128];
    PCRE2_SIZE offset = 0;
    int code = 0;
    int rc = 0;

    if (!cJSON_IsString(j)) {
        rc = fail(c, ERR_INVALID, "must be a string");
        goto out;
    }
    s->pattern = pcre2_compile((PCRE2_SPTR)j->valuestring, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                               &offset, NULL);
    if (!s->pattern) {
        if (code == PCRE2_ERROR_HEAP_FAILED) {
            rc = nomem(c);
            goto out;
        }
        pcre2_get_error_message(code, why, sizeof(why));
        rc = fail(c, ERR_INVALID, "bad regular expression at offset %zu: %s", (size_t)offset,
                  (const char *)why);
        goto out;
    }
    /* Where the platform has no JIT this fails and matching is interpreted. */
    (void)pcre2_jit_compile(s->pattern, PCRE2_JIT_COMPLETE);
    sbuf_addf(&rule, "must match %s", j->valuestring);
    rc = keep_rule(c, &rule, &s->pattern_rule);
out:
    return rc;
}

static int compile_bound(struct compiler *c, const cJSON *j, int slot, struct schema *s)
{
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return fail(c, ERR_INVALID, "must be a number");
    s->bound[slot] = j->valuedouble;
    s->has_bound |= 1u << slot;
    return 0;
}

static int compile_count(struct compiler *c, const cJSON *j, int slot, struct schema *s)
{
    double d;

    if (!cJSON_IsNumber(j) || !is_integer(j->valuedouble) || j->valuedouble < 0)
        return fail(c, ERR_INVALID, "must be a non-negative integer");
    d = j->valuedouble;
    /* Beyond SIZE_MAX nothing can be that long anyway. */
    s->count[slot] = d >= (double)SIZE_MAX ? SIZE_MAX : (size_t)d;
    s->has_count |= 1u << slot;
    return 0;
}

static int keyword_compile(struct compiler *c, const struct keyword *kw, const cJSON *j, int depth,
                           struct schema *s)
{
    switch (kw->kind) {
    case KW_TYPE:
        return compile_type(c, j, s);
    case KW_REQUIRED:
        return compile_required(c, j, s);
    case KW_PROPERTIES:
        return compile_properties(c, j, depth, s);
    case KW_ADDITIONAL:
        if (cJSON_IsObject(j))
            return fail(c, ERR_INVALID, "only false is supported, not a schema");
        if (!cJSON_IsBool(j))
            return fail(c, ERR_INVALID, "must be false");
        s->closed = cJSON_IsFalse(j);
        return 0;
    case KW_ITEMS:
        if (cJSON_IsArray(j))
            return fail(c, ERR_INVALID, "must be one schema for every element, not an array");
        return schema_compile(c, j, depth + 1, &s->items);
    case KW_ENUM:
        return compile_enum(c, j, s);
    case KW_CONST:
        return compile_const(c, j, s);
    case KW_PATTERN:
        return compile_pattern(c, j, s);
    case KW_BOUND:
        return compile_bound(c, j, kw->slot, s);
    case KW_COUNT:
        return compile_count(c, j, kw->slot, s);
    case KW_DESCRIPTION:
        return cJSON_IsString(j) ? 0 : fail(c, ERR_INVALID, "must be a string");
    }
    return fail(c, ERR_INVALID, "unknown keyword");
}

/* Compiles the schema j, found at c->path, nested depth deep, into *out. */
static int schema_compile(struct compiler *c, const cJSON *j, int depth, struct schema **out)
{
    struct schema *s = NULL;
    const struct keyword *kw;
    unsigned long seen = 0;
    size_t saved, k;
    int rc = 0;

    if (depth > PLAN_MAX_DEPTH) {
        rc = fail(c, ERR_LIMIT, "schemas nest deeper than %d", PLAN_MAX_DEPTH);
        goto out;
    }
    if (!cJSON_IsObject(j)) {
        rc = fail(c, ERR_INVALID, "a schema must be an object");
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        rc = nomem(c);
        goto out;
    }
    for (const cJSON *it = j->child; it; it = it->next) {
        saved = sbuf_push_name(&c->path, it->string);
        for (k = 0; k < ARRAY_SIZE(keywords); k++)
            if (strcmp(it->string, keywords[k].name) == 0)
                break;
        if (k == ARRAY_SIZE(keywords)) {
            rc = fail(c, ERR_INVALID, "unknown keyword");
            goto out;
        }
        kw = &keywords[k];
        if (seen & (1ul << k)) {
            rc = fail(c, ERR_INVALID, "keyword given twice");
            goto out;
        }
        seen |= 1ul << k;
        rc = keyword_compile(c, kw, it, depth, s);
        if (rc)
            goto out;
        sbuf_cut(&c->path, saved);
    }
out:
    if (rc) {
        schema_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

static int compile_calls(struct compiler *c, const cJSON *j, struct plan *p)
{
    size_t saved;
    int i, rc = 0;

    if (!cJSON_IsObject(j)) {
        rc = fail(c, ERR_INVALID, "must be an object of schemas by call type");
        goto out;
    }
    for (const cJSON *it = j->child; it; it = it->next) {
        saved = sbuf_push_name(&c->path, it->string);
        for (i = 0; i < CALL_COUNT; i++)
            if (strcmp(it->string, call_names[i]) == 0)
                break;
        if (i == CALL_COUNT) {
            rc = fail(c, ERR_INVALID,
                      "unknown call type (expected identify, track, page, screen, group or alias)");
            goto out;
        }
        if (p->calls[i]) {
            rc = fail(c, ERR_INVALID, "call type given twice");
            goto out;
        }
        rc = schema_compile(c, it, 1, &p->calls[i]);
        if (rc)
            goto out;
        sbuf_cut(&c->path, saved);
    }
out:
    return rc;
}

static int compare_events(const void *a, const void *b)
{
    return strcmp(((const struct event *)a)->name, ((const struct event *)b)->name);
}

static int compile_events(struct compiler *c, const cJSON *j, struct plan *p)
{
    struct event *ev;
    size_t saved;
    int rc = 0;

    if (!cJSON_IsObject(j)) {
        rc = fail(c, ERR_INVALID, "must be an object of schemas by event name");
        goto out;
    }
    p->has_events = true;
    p->events = calloc(child_count(j) + 1, sizeof(*p->events));
    if (!p->events) {
        rc = nomem(c);
        goto out;
    }
    for (const cJSON *it = j->child; it; it = it->next) {
        saved = sbuf_push_name(&c->path, it->string);
        ev = &p->events[p->nevents++];
        ev->name = strdup(it->string);
        if (!ev->name) {
            rc = nomem(c);
            goto out;
        }
        rc = schema_compile(c, it, 1, &ev->schema);
        if (rc)
            goto out;
        sbuf_cut(&c->path, saved);
    }
    qsort(p->events, p->nevents, sizeof(*p->events), compare_events);
    for (size_t i = 1; i < p->nevents; i++) {
        if (strcmp(p->events[i - 1].name, p->events[i].name) == 0) {
            sbuf_push_name(&c->path, p->events[i].name);
            rc = fail(c, ERR_INVALID, "event defined twice");
            goto out;
        }
    }
out:
    return rc;
}

static int compile_unplanned(struct compiler *c, const cJSON *j, struct plan *p)
{
    static const struct {
        const char *name;
        enum plan_verdict verdict;
    } modes[] = {{"allow", PLAN_PASS}, {"flag", PLAN_FLAG}, {"block", PLAN_BLOCK}};

    if (cJSON_IsString(j)) {
        for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
            if (strcmp(j->valuestring, modes[i].name) == 0) {
                p->unplanned = modes[i].verdict;
                return 0;
            }
        }
    }
    return fail(c, ERR_INVALID, "must be \"allow\", \"flag\" or \"block\"");
}

/* Parses json[0..len) into *root; errors give the byte offset and line. */
static int plan_parse(struct compiler *c, const char *json, size_t len, cJSON **root)
{
    const char *end = json;
    size_t at = 0, line = 1;
    int rc;

    rc = text_scan_json(json, len, PLAN_JSON_MAX_DEPTH, &at);
    if (rc == ERR_INVALID) {
        rc = err_set(c->e, ERR_INVALID, "plan is not valid UTF-8 at byte %zu", at);
        goto out;
    }
    if (rc) {
        rc = err_set(c->e, ERR_LIMIT, "plan nests deeper than %d levels at byte %zu",
                     PLAN_JSON_MAX_DEPTH, at);
        goto out;
    }
    *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (*root) {
        /* Only white space may follow the plan. */
        while (end < json + len && strchr(" \t\r\n", *end) && *end)
            end++;
        if (end == json + len)
            goto out;
        cJSON_Delete(*root);
        *root = NULL;
    }
    if (end < json || end > json + len)
        end = json;
    for (const char *s = json; s < end; s++)
        line += *s == '\n';
    rc = err_set(c->e, ERR_INVALID, "plan is not valid JSON near byte %zu (line %zu)",
                 (size_t)(end - json), line);
out:
    return rc;
}

int plan_compile(const char *json, size_t len, struct plan **out, struct err *e)
{
    struct compiler c = {.e = e, .path = SBUF_PATH};
    struct plan *p = NULL;
    cJSON *root = NULL;
    unsigned seen = 0;
    size_t saved;
    int rc;

    if (len > (size_t)PLAN_MAX_BYTES) {
        rc = err_set(e, ERR_LIMIT, "plan is %zu bytes; the limit is %d", len, PLAN_MAX_BYTES);
        goto out;
    }
    rc = plan_parse(&c, json, len, &root);
    if (rc)
        goto out;
    if (!root || !cJSON_IsObject(root)) {
        rc = fail(&c, ERR_INVALID, "must be a JSON object");
        goto out;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        rc = nomem(&c);
        goto out;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        enum { KEY_UNPLANNED, KEY_CALLS, KEY_EVENTS, KEY_COUNT };
        static const char *const keys[KEY_COUNT] = {"unplanned", "calls", "events"};
        size_t k;

        saved = sbuf_push_name(&c.path, it->string);
        for (k = 0; k < ARRAY_SIZE(keys); k++)
            if (strcmp(it->string, keys[k]) == 0)
                break;
        if (k == ARRAY_SIZE(keys)) {
            rc = fail(&c, ERR_INVALID, "unknown key (expected unplanned, calls or events)");
            goto out;
        }
        if (seen & (1u << k)) {
            rc = fail(&c, ERR_INVALID, "key given twice");
            goto out;
        }
        seen |= 1u << k;
        if (k == KEY_UNPLANNED)
            rc = compile_unplanned(&c, it, p);
        else if (k == KEY_CALLS)
            rc = compile_calls(&c, it, p);
        else
            rc = compile_events(&c, it, p);
        if (rc)
            goto out;
        sbuf_cut(&c.path, saved);
    }
    p->mctx = pcre2_match_context_create(NULL);
    if (!p->mctx) {
        rc = nomem(&c);
        goto out;
    }
    pcre2_set_match_limit(p->mctx, PLAN_MATCH_LIMIT);
    pcre2_set_heap_limit(p->mctx, PLAN_MATCH_HEAP_KIB);
out:
    cJSON_Delete(root);
    if (rc) {
        plan_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

/* ---- checking ---- */

/* A step on the way to the field being checked: a member name or an array index. The
 * path text is rendered only for a reason, not at every step. */
struct step {
    const char *name; /* NULL for an array element */
    size_t index;
};

struct checker {
    const struct plan *plan;
    cJSON *reasons;       /* where reasons go; NULL to only count */
    cJSON *last;          /* the last reason appended */
    size_t found;         /* violations and flags found */
    size_t appended;      /* reasons appended */
    size_t blocking;      /* violations that break the plan */
    bool flagged;         /* an unplanned event under "flag" */
    pcre2_match_data *md; /* made on the first pattern check, freed at the end */
    /* One step per schema level and one for a required or extra member; schemas nest
     * at most PLAN_MAX_DEPTH deep, so steps past the array are never taken. */
    struct step steps[PLAN_MAX_DEPTH + 2];
    size_t nsteps;
};

static void step_in(struct checker *k, const char *name, size_t index)
{
    if (k->nsteps < ARRAY_SIZE(k->steps))
        k->steps[k->nsteps] = (struct step){.name = name, .index = index};
    k->nsteps++;
}

static void step_out(struct checker *k)
{
    k->nsteps--;
}

static bool reason_add(struct checker *k, const char *field, const char *code, const char *msg)
{
    cJSON *r = cJSON_CreateObject();

    if (!r)
        return false;
    if (!cJSON_AddStringToObject(r, "field", field) || !cJSON_AddStringToObject(r, "code", code) ||
        !cJSON_AddStringToObject(r, "message", msg)) {
        cJSON_Delete(r);
        return false;
    }
    cJSON_AddItemToArray(k->reasons, r);
    k->last = r;
    k->appended++;
    return true;
}

/* Records a finding at the current path; only a blocking one fails the message. */
static void report(struct checker *k, bool blocking, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct checker *k, bool blocking, const char *code, const char *fmt, ...)
{
    struct sbuf field = SBUF_PATH;
    char msg[PLAN_RULE_MAX + 64];
    va_list ap;

    k->found++;
    if (blocking)
        k->blocking++;
    else
        k->flagged = true;
    if (!k->reasons || k->appended >= PLAN_MAX_REASONS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < k->nsteps && i < ARRAY_SIZE(k->steps); i++) {
        if (k->steps[i].name)
            sbuf_push_name(&field, k->steps[i].name);
        else
            sbuf_push_index(&field, k->steps[i].index);
    }
    reason_add(k, field.buf, code, msg);
}

/* Keeps at most PLAN_MAX_REASONS reasons: past that, the last becomes "N more". */
static void reasons_finish(struct checker *k)
{
    char msg[64];

    if (!k->reasons || k->found <= k->appended)
        return;
    if (k->appended == PLAN_MAX_REASONS && k->last) {
        cJSON_Delete(cJSON_DetachItemViaPointer(k->reasons, k->last));
        k->appended--;
    }
    snprintf(msg, sizeof(msg), "%zu more violations", k->found - k->appended);
    reason_add(k, "", "more", msg);
}

static unsigned value_types(const cJSON *v)
{
    if (cJSON_IsString(v))
        return TYPE_STRING;
    if (cJSON_IsNumber(v))
        return TYPE_NUMBER | (is_integer(v->valuedouble) ? TYPE_INTEGER : 0);
    if (cJSON_IsBool(v))
        return TYPE_BOOLEAN;
    if (cJSON_IsObject(v))
        return TYPE_OBJECT;
    if (cJSON_IsArray(v))
        return TYPE_ARRAY;
    if (cJSON_IsNull(v))
        return TYPE_NULL;
    return 0;
}

static void check_value(struct checker *k, const struct schema *s, const cJSON *v);

static void check_count(struct checker *k, const struct schema *s, int first, size_t n)
{
    for (int i = first; i < first + 2; i++) {
        size_t want = s->count[i];
        bool at_least = i == COUNT_MIN_LENGTH || i == COUNT_MIN_ITEMS;

        if (!(s->has_count & (1u << i)) || (at_least ? n >= want : n <= want))
            continue;
        report(k, true, count_rules[i].code, "must have %s %zu %s%s", count_rules[i].words, want,
               count_rules[i].unit, want == 1 ? "" : "s");
    }
}

static void check_number(struct checker *k, const struct schema *s, double d)
{
    char num[32];
    bool ok;

    for (int i = 0; i < BOUND_COUNT; i++) {
        if (!(s->has_bound & (1u << i)))
            continue;
        switch (i) {
        case BOUND_MIN:
            ok = d >= s->bound[i];
            break;
        case BOUND_MAX:
            ok = d <= s->bound[i];
            break;
        case BOUND_XMIN:
            ok = d > s->bound[i];
            break;
        default:
            ok = d < s->bound[i];
            break;
        }
        if (ok)
            continue;
        format_number(num, sizeof(num), s->bound[i]);
        report(k, true, bound_rules[i].code, "must be %s %s", bound_rules[i].op, num);
    }
}

static void check_pattern(struct checker *k, const struct schema *s, const char *str)
{
    PCRE2_UCHAR why[128];
    int rc;

    if (!k->md) {
        /* One pair is enough: only whether it matches is wanted. */
        k->md = pcre2_match_data_create(1, NULL);
        if (!k->md) {
            report(k, true, "pattern", "%s (not checked: out of memory)", s->pattern_rule);
            return;
        }
    }
    rc = pcre2_match(s->pattern, (PCRE2_SPTR)str, strlen(str), 0, 0, k->md, k->plan->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(s->pattern, (PCRE2_SPTR)str, strlen(str), 0, PCRE2_NO_JIT, k->md,
                         k->plan->mctx);
    if (rc >= 0)
        return;
    if (rc == PCRE2_ERROR_NOMATCH) {
        report(k, true, "pattern", "%s", s->pattern_rule);
    } else if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
        report(k, true, "pattern", "%s (not checked: not valid UTF-8)", s->pattern_rule);
    } else {
        pcre2_get_error_message(rc, why, sizeof(why));
        report(k, true, "pattern", "%s (not checked: %s)", s->pattern_rule, (const char *)why);
    }
}

static void check_string(struct checker *k, const struct schema *s, const char *str)
{
    if (s->has_count & ((1u << COUNT_MIN_LENGTH) | (1u << COUNT_MAX_LENGTH)))
        check_count(k, s, COUNT_MIN_LENGTH, text_utf8_length(str, strlen(str)));
    if (s->pattern)
        check_pattern(k, s, str);
}

static void check_array(struct checker *k, const struct schema *s, const cJSON *v)
{
    size_t i = 0;

    if (s->has_count & ((1u << COUNT_MIN_ITEMS) | (1u << COUNT_MAX_ITEMS)))
        check_count(k, s, COUNT_MIN_ITEMS, child_count(v));
    if (!s->items)
        return;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        step_in(k, NULL, i);
        check_value(k, s->items, it);
        step_out(k);
    }
}

static int compare_prop_key(const void *key, const void *elem)
{
    return strcmp(key, ((const struct property *)elem)->name);
}

static void check_object(struct checker *k, const struct schema *s, const cJSON *v)
{
    const struct property *prop;

    for (size_t i = 0; i < s->nrequired; i++) {
        if (cJSON_GetObjectItemCaseSensitive(v, s->required[i]))
            continue;
        step_in(k, s->required[i], 0);
        report(k, true, "required", "is required");
        step_out(k);
    }
    if (!s->nprops && !s->closed)
        return;
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!it->string)
            continue;
        prop = s->nprops
                   ? bsearch(it->string, s->props, s->nprops, sizeof(*s->props), compare_prop_key)
                   : NULL;
        if (!prop && !s->closed)
            continue;
        step_in(k, it->string, 0);
        if (prop)
            check_value(k, prop->schema, it);
        else
            report(k, true, "additionalProperties", "is not in the plan");
        step_out(k);
    }
}

static void check_value(struct checker *k, const struct schema *s, const cJSON *v)
{
    bool listed = false;

    if (s->types && !(s->types & value_types(v))) {
        report(k, true, "type", "%s", s->type_rule);
        return; /* the other keywords would only repeat it */
    }
    for (size_t i = 0; i < s->nenum && !listed; i++)
        listed = literal_equal(&s->enum_values[i], v);
    if (s->nenum && !listed)
        report(k, true, "enum", "%s", s->enum_rule);
    if (s->const_value && !literal_equal(s->const_value, v))
        report(k, true, "const", "%s", s->const_rule);
    if (cJSON_IsNumber(v))
        check_number(k, s, v->valuedouble);
    else if (cJSON_IsString(v) && v->valuestring)
        check_string(k, s, v->valuestring);
    else if (cJSON_IsArray(v))
        check_array(k, s, v);
    else if (cJSON_IsObject(v))
        check_object(k, s, v);
}

static int compare_event_key(const void *key, const void *elem)
{
    return strcmp(key, ((const struct event *)elem)->name);
}

enum plan_verdict plan_check(const struct plan *p, const cJSON *msg, cJSON *reasons)
{
    struct checker k = {.plan = p, .reasons = cJSON_IsArray(reasons) ? reasons : NULL};
    const struct event *ev = NULL;
    const cJSON *type, *event;
    int call;

    if (!cJSON_IsObject(msg)) {
        report(&k, true, "type", "a message must be an object");
        goto out;
    }
    type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    if (!cJSON_IsString(type) || !type->valuestring) {
        step_in(&k, "type", 0);
        report(&k, true, "type", "must be a string");
        goto out;
    }
    for (call = 0; call < CALL_COUNT; call++)
        if (strcmp(type->valuestring, call_names[call]) == 0)
            break;
    if (call == CALL_TRACK && p->has_events) {
        event = cJSON_GetObjectItemCaseSensitive(msg, "event");
        if (!cJSON_IsString(event) || !event->valuestring) {
            step_in(&k, "event", 0);
            report(&k, true, "type", "must be a string");
            goto out;
        }
        if (p->nevents)
            ev = bsearch(event->valuestring, p->events, p->nevents, sizeof(*p->events),
                         compare_event_key);
        if (!ev && p->unplanned != PLAN_PASS) {
            step_in(&k, "event", 0);
            report(&k, p->unplanned == PLAN_BLOCK, "unplanned", "is not an event in the plan");
            step_out(&k);
        }
    }
    if (call < CALL_COUNT && p->calls[call])
        check_value(&k, p->calls[call], msg);
    if (ev)
        check_value(&k, ev->schema, msg);
out:
    reasons_finish(&k);
    pcre2_match_data_free(k.md);
    if (k.blocking)
        return PLAN_BLOCK;
    return k.flagged ? PLAN_FLAG : PLAN_PASS;
}
