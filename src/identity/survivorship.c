/* survivorship.c - golden values from candidate values by per-trait rules. See
 * survivorship.h. */
#include <cJSON.h>

#include "identity/survivorship.h"

/* ---- the setting ---- */

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static size_t trimmed_len(const char *p, const char *end)
{
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (size_t)(end - p);
}

/* Copies the name p[0..end) trimmed into out; ERR_INVALID when empty or too long. */
static int name_copy(const char *p, const char *end, char out[SURV_NAME_MAX + 1], const char *what,
                     struct err *e)
{
    p = skip_spaces(p, end);
    size_t n = trimmed_len(p, end);
    if (n == 0)
        return err_set(e, ERR_INVALID, "survivorship: an empty %s name", what);
    if (n > SURV_NAME_MAX)
        return err_set(e, ERR_INVALID, "survivorship: a %s name longer than %d bytes", what,
                       SURV_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (p[i] == ':' || p[i] == '(' || p[i] == ')')
            return err_set(e, ERR_INVALID, "survivorship: \"%.*s\" is not a %s name", (int)n, p,
                           what);
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* Parses one "trait:rule" entry p[0..end) into r. */
static int entry_parse(const char *p, const char *end, struct surv_rule *r, struct err *e)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon)
        return err_set(e, ERR_INVALID,
                       "survivorship: \"%.*s\" is not TRAIT:RULE (say name:most_recent)",
                       (int)(end - p), p);
    int rc = name_copy(p, colon, r->trait, "trait", e);
    if (rc)
        return rc;
    const char *q = skip_spaces(colon + 1, end);
    size_t n = trimmed_len(q, end);
    const char *paren = memchr(q, '(', n);
    size_t word = paren ? trimmed_len(q, paren) : n;
    if (word == 11 && memcmp(q, "most_recent", 11) == 0 && !paren) {
        r->kind = SURV_MOST_RECENT;
        return 0;
    }
    if (word == 13 && memcmp(q, "most_frequent", 13) == 0 && !paren) {
        r->kind = SURV_MOST_FREQUENT;
        return 0;
    }
    if (word != 15 || memcmp(q, "source_priority", 15) != 0)
        return err_set(e, ERR_INVALID,
                       "survivorship: trait %s: unknown rule \"%.*s\" (say most_recent, "
                       "most_frequent or source_priority(SOURCE,...))",
                       r->trait, (int)n, q);
    if (!paren || q[n - 1] != ')')
        return err_set(e, ERR_INVALID,
                       "survivorship: trait %s: source_priority needs its sources in "
                       "parentheses: source_priority(crm,pos)",
                       r->trait);
    r->kind = SURV_SOURCE_PRIORITY;
    r->nsources = 0;
    const char *s = paren + 1, *stop = q + n - 1;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(stop - s));
        const char *se = comma ? comma : stop;
        if (r->nsources == SURV_MAX_SOURCES)
            return err_set(e, ERR_INVALID, "survivorship: trait %s: more than %d sources", r->trait,
                           SURV_MAX_SOURCES);
        if ((rc = name_copy(s, se, r->sources[r->nsources], "source", e)))
            return rc;
        r->nsources++;
        if (!comma)
            break;
        s = comma + 1;
    }
    return 0;
}

int survivorship_parse(const char *text, struct survivorship *s, struct err *e)
{
    memset(s, 0, sizeof(*s));
    s->fallback.trait[0] = '*';
    s->fallback.kind = SURV_MOST_RECENT;
    const char *p = text ? text : "", *end = p + strlen(p);
    while (p < end) {
        /* An entry ends at a comma outside parentheses. */
        const char *q = p;
        int depth = 0;
        for (; q < end && (depth || *q != ','); q++) {
            if (*q == '(')
                depth++;
            else if (*q == ')' && --depth < 0)
                return err_set(e, ERR_INVALID, "survivorship: a ')' without its '('");
        }
        if (depth)
            return err_set(e, ERR_INVALID, "survivorship: a '(' without its ')'");
        if (trimmed_len(skip_spaces(p, q), q) > 0) {
            struct surv_rule r = {0};
            int rc = entry_parse(p, q, &r, e);
            if (rc)
                return rc;
            bool fallback = strcmp(r.trait, "*") == 0;
            const struct surv_rule *seen = fallback ? NULL : survivorship_rule(s, r.trait);
            if (seen && seen != &s->fallback)
                return err_set(e, ERR_INVALID, "survivorship: trait %s has two rules", r.trait);
            if (fallback) {
                s->fallback = r;
            } else {
                if (s->nrules == SURV_MAX_RULES)
                    return err_set(e, ERR_INVALID, "survivorship: more than %d traits",
                                   SURV_MAX_RULES);
                s->rules[s->nrules++] = r;
            }
        }
        p = q + (q < end);
    }
    return 0;
}

const struct surv_rule *survivorship_rule(const struct survivorship *s, const char *trait)
{
    for (size_t i = 0; i < s->nrules; i++)
        if (strcmp(s->rules[i].trait, trait) == 0)
            return &s->rules[i];
    return &s->fallback;
}

void survivorship_rule_text(const struct surv_rule *r, char *out, size_t cap)
{
    if (r->kind == SURV_MOST_RECENT) {
        snprintf(out, cap, "most_recent");
        return;
    }
    if (r->kind == SURV_MOST_FREQUENT) {
        snprintf(out, cap, "most_frequent");
        return;
    }
    size_t n = (size_t)snprintf(out, cap, "source_priority(");
    for (size_t i = 0; i < r->nsources && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", r->sources[i]);
    if (n < cap)
        snprintf(out + n, cap - n, ")");
}

/* ---- choosing ---- */

static bool empty(const char *v)
{
    if (!v)
        return true;
    for (; *v; v++)
        if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
            return false;
    return true;
}

/* Whether a is later than b: by time (an unknown time is earliest), then by seq. */
static bool later(const struct surv_candidate *a, const struct surv_candidate *b)
{
    if (a->time != b->time)
        return a->time > b->time;
    return a->seq > b->seq;
}

static size_t source_rank(const struct surv_rule *r, const char *source)
{
    for (size_t i = 0; i < r->nsources; i++)
        if (source && strcmp(r->sources[i], source) == 0)
            return i;
    return r->nsources;
}

ptrdiff_t survivorship_choose(const struct surv_rule *r, const struct surv_candidate *c, size_t n)
{
    ptrdiff_t best = -1;
    size_t best_rank = 0, best_count = 0;
    for (size_t i = 0; i < n; i++) {
        if (empty(c[i].value))
            continue;
        if (r->kind == SURV_MOST_RECENT) {
            if (best < 0 || later(&c[i], &c[best]))
                best = (ptrdiff_t)i;
        } else if (r->kind == SURV_SOURCE_PRIORITY) {
            size_t rank = source_rank(r, c[i].source);
            if (best < 0 || rank < best_rank || (rank == best_rank && later(&c[i], &c[best]))) {
                best = (ptrdiff_t)i;
                best_rank = rank;
            }
        } else {
            /* most_frequent: candidates are few (one per record of one profile), so a
             * count per candidate is quadratic in a small number. The latest candidate
             * of the value stands for it. */
            size_t count = 0;
            const struct surv_candidate *latest = &c[i];
            for (size_t j = 0; j < n; j++) {
                if (c[j].value && strcmp(c[j].value, c[i].value) == 0) {
                    count++;
                    if (later(&c[j], latest))
                        latest = &c[j];
                }
            }
            if (latest != &c[i])
                continue; /* the value is judged at its latest candidate */
            if (best < 0 || count > best_count || (count == best_count && later(&c[i], &c[best]))) {
                best = (ptrdiff_t)i;
                best_count = count;
            }
        }
    }
    return best;
}

/* ---- the profile view ---- */

static int64_t number_or(const cJSON *o, const char *key, int64_t missing)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : missing;
}

static int by_name(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "name")),
                  cJSON_GetStringValue(cJSON_GetObjectItem(y, "name")));
}

/* Adds candidate (from record rec, trait value t) to the trait's entry in byname. */
static int candidate_add(cJSON *byname, const cJSON *rec, const cJSON *t)
{
    cJSON *entry = cJSON_GetObjectItem(byname, t->string);
    if (!entry) {
        entry = cJSON_CreateObject();
        if (!entry || !cJSON_AddItemToObject(byname, t->string, entry))
            return ERR_NOMEM;
        cJSON_AddStringToObject(entry, "name", t->string);
        cJSON_AddArrayToObject(entry, "candidates");
    }
    cJSON *c = cJSON_CreateObject();
    if (!c)
        return ERR_NOMEM;
    cJSON_AddStringToObject(c, "value", t->valuestring);
    static const char *const copied[] = {"source", "kind", "record_key", "file",
                                         "line",   "time", "imported_at"};
    for (size_t k = 0; k < ARRAY_SIZE(copied); k++) {
        const cJSON *v = cJSON_GetObjectItem(rec, copied[k]);
        cJSON_AddItemToObject(c, copied[k], v ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
    }
    cJSON_AddItemToArray(cJSON_GetObjectItem(entry, "candidates"), c);
    return 0;
}

/* A candidate's time for the rules: the record's or event's own, else when it came. */
static int64_t candidate_time(const cJSON *c)
{
    int64_t t = number_or(c, "time", INT64_MIN);
    return t != INT64_MIN ? t : number_or(c, "imported_at", INT64_MIN);
}

struct ordered {
    cJSON *c;
    int64_t time;
    size_t pos; /* order of collection: records, then events, each newest first */
};

static int newest_first(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Orders an entry's candidates newest first (records and events interleaved). */
static int candidates_sort(cJSON *entry)
{
    cJSON *list = cJSON_GetObjectItem(entry, "candidates");
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    struct ordered *o = calloc(n ? n : 1, sizeof(*o));
    if (!o)
        return ERR_NOMEM;
    while (list->child) {
        cJSON *c = cJSON_DetachItemViaPointer(list, list->child);
        o[i] = (struct ordered){c, candidate_time(c), i};
        i++;
    }
    qsort(o, n, sizeof(*o), newest_first);
    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(list, o[i].c);
    free(o);
    return 0;
}

/* Chooses the golden value of one trait entry. */
static int entry_choose(const struct survivorship *s, cJSON *entry)
{
    if (candidates_sort(entry))
        return ERR_NOMEM;
    const struct surv_rule *r =
        survivorship_rule(s, cJSON_GetStringValue(cJSON_GetObjectItem(entry, "name")));
    const cJSON *cands = cJSON_GetObjectItem(entry, "candidates"), *c;
    size_t n = (size_t)cJSON_GetArraySize(cands), i = 0;
    struct surv_candidate *cv = calloc(n ? n : 1, sizeof(*cv));
    if (!cv)
        return ERR_NOMEM;
    cJSON_ArrayForEach(c, cands)
    {
        cv[i] = (struct surv_candidate){
            .value = cJSON_GetStringValue(cJSON_GetObjectItem(c, "value")),
            .source = cJSON_GetStringValue(cJSON_GetObjectItem(c, "source")),
            .time = candidate_time(c),
            /* candidates come newest first: a larger seq is an earlier index */
            .seq = (int64_t)(n - i),
        };
        i++;
    }
    ptrdiff_t best = survivorship_choose(r, cv, n);
    free(cv);
    char text[SURV_RULE_TEXT];
    survivorship_rule_text(r, text, sizeof(text));
    const cJSON *golden = best >= 0 ? cJSON_GetArrayItem(cands, (int)best) : NULL;
    if (golden)
        cJSON_AddStringToObject(entry, "value",
                                cJSON_GetStringValue(cJSON_GetObjectItem(golden, "value")));
    else
        cJSON_AddNullToObject(entry, "value");
    cJSON_AddStringToObject(entry, "rule", text);
    cJSON_AddNumberToObject(entry, "chosen", (double)best);
    /* Keep the keys in reading order: name, value, rule, chosen, candidates. */
    cJSON *list = cJSON_DetachItemFromObject(entry, "candidates");
    cJSON_AddItemToObject(entry, "candidates", list);
    return 0;
}

int survivorship_apply(const struct survivorship *s, void *view)
{
    cJSON *v = view;
    cJSON *byname = cJSON_CreateObject();
    if (!byname)
        return ERR_NOMEM;
    int rc = 0;
    static const char *const origins[] = {"trait_records", "trait_events"};
    const cJSON *rec, *t;
    for (size_t k = 0; k < ARRAY_SIZE(origins); k++) {
        cJSON_ArrayForEach(rec, cJSON_GetObjectItem(v, origins[k]))
        {
            cJSON_ArrayForEach(t, cJSON_GetObjectItem(rec, "traits"))
            {
                if (cJSON_IsString(t) && (rc = candidate_add(byname, rec, t)))
                    goto out;
            }
        }
    }
    size_t n = (size_t)cJSON_GetArraySize(byname), i = 0;
    cJSON **entries = calloc(n ? n : 1, sizeof(*entries));
    if (!entries) {
        rc = ERR_NOMEM;
        goto out;
    }
    while (byname->child)
        entries[i++] = cJSON_DetachItemViaPointer(byname, byname->child);
    qsort(entries, n, sizeof(*entries), by_name);
    cJSON *traits = cJSON_AddArrayToObject(v, "traits");
    for (i = 0; i < n; i++) {
        if (!rc)
            rc = entry_choose(s, entries[i]);
        cJSON_AddItemToArray(traits, entries[i]);
    }
    free(entries);
out:
    cJSON_Delete(byname);
    return rc;
}
