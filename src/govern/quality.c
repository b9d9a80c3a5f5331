/* quality.c - completeness, validity, uniqueness and freshness per source and field.
 *
 * The store hands over one row per (source, origin) and every field value sorted by
 * source, origin, field and value; this file counts in one pass: sorted values make
 * duplicates adjacent, so "rows that share a value with another row" is the sum of the
 * runs longer than one. */
#include <cJSON.h>
#include <math.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "govern/quality.h"
#include "govern/standardize.h"

#define MS_PER_HOUR 3600000.0

static double round1(double x)
{
    return round(x * 10.0) / 10.0;
}

static double percent(int64_t part, int64_t whole)
{
    return whole > 0 ? round1(100.0 * (double)part / (double)whole) : 0.0;
}

/* The last part of a field name: "identifiers.email" -> "email". */
static const char *field_type(const char *field)
{
    const char *dot = strrchr(field, '.');
    return dot ? dot + 1 : field;
}

int quality_value_valid(const char *field, const char *value, size_t len)
{
    const char *type = field_type(field), *why;
    if (strcmp(type, "phone") == 0) {
        char out[STD_PHONE_CAP];
        return !std_phone(value, len, "CN", out, sizeof(out), &why) &&
               !std_phone_is_placeholder(out);
    }
    if (strcmp(type, "email") == 0) {
        char out[STD_EMAIL_CAP];
        return !std_email(value, len, out, sizeof(out), &why) && !std_email_is_placeholder(out);
    }
    if (strcmp(type, "id_number") == 0) {
        char out[STD_ID_LEN + 1];
        return !std_id_number(value, len, out, NULL, &why);
    }
    return -1;
}

/* Present: not NULL and not only white space. */
static bool value_present(const char *v)
{
    if (!v)
        return false;
    for (; *v; v++)
        if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
            return true;
    return false;
}

struct tally {
    cJSON *sources; /* the report's array */
    cJSON *source;  /* the current group's source object (NULL: none) */
    char *name;     /* current group: source, origin, field (owned copies) */
    char *origin;
    char *field;
    int64_t present, checked, valid, duplicates;
    char *run; /* the current run of equal values (owned copy) */
    int64_t run_len;
    int64_t now;
    bool nomem;
};

static char *dup_or_flag(struct tally *t, const char *s)
{
    char *c = strdup(s ? s : "");
    if (!c)
        t->nomem = true;
    return c;
}

static void run_end(struct tally *t)
{
    if (t->run_len > 1)
        t->duplicates += t->run_len;
    free(t->run);
    t->run = NULL;
    t->run_len = 0;
}

static cJSON *source_find(cJSON *sources, const char *name, const char *origin)
{
    cJSON *s;
    cJSON_ArrayForEach(s, sources)
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(s, "source")), name) == 0 &&
            strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(s, "origin")), origin) == 0)
            return s;
    }
    return NULL;
}

/* Writes the current group's field object into its source. */
static void group_end(struct tally *t)
{
    run_end(t);
    if (t->field && t->source) {
        bool events = strcmp(t->origin, "events") == 0;
        /* identify calls are the events that carry traits */
        const char *denominator =
            events && strncmp(t->field, "traits.", 7) == 0 ? "identify_events" : "rows";
        int64_t rows = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t->source, denominator));
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "field", t->field);
        cJSON_AddNumberToObject(f, "rows", (double)rows);
        cJSON_AddNumberToObject(f, "present", (double)t->present);
        cJSON_AddNumberToObject(f, "completeness", percent(t->present, rows));
        cJSON_AddNumberToObject(f, "checked", (double)t->checked);
        cJSON_AddNumberToObject(f, "valid", (double)t->valid);
        if (t->checked)
            cJSON_AddNumberToObject(f, "validity", percent(t->valid, t->checked));
        else
            cJSON_AddNullToObject(f, "validity");
        bool identifier = events || strncmp(t->field, "identifiers.", 12) == 0;
        if (identifier && t->present) {
            cJSON_AddNumberToObject(f, "duplicates", (double)t->duplicates);
            cJSON_AddNumberToObject(f, "duplicate_rate", percent(t->duplicates, t->present));
        } else {
            cJSON_AddNullToObject(f, "duplicates");
            cJSON_AddNullToObject(f, "duplicate_rate");
        }
        cJSON_AddItemToArray(cJSON_GetObjectItem(t->source, "fields"), f);
    }
    free(t->name);
    free(t->origin);
    free(t->field);
    t->name = t->origin = t->field = NULL;
    t->source = NULL;
    t->present = t->checked = t->valid = t->duplicates = 0;
}

static int value_row(const struct quality_value_row *r, void *ctx)
{
    struct tally *t = ctx;
    if (!t->field || strcmp(t->field, r->field) != 0 || strcmp(t->origin, r->origin) != 0 ||
        strcmp(t->name, r->source) != 0) {
        group_end(t);
        t->name = dup_or_flag(t, r->source);
        t->origin = dup_or_flag(t, r->origin);
        t->field = dup_or_flag(t, r->field);
        if (t->nomem)
            return ERR_NOMEM;
        t->source = source_find(t->sources, t->name, t->origin);
    }
    if (!value_present(r->value))
        return 0;
    t->present++;
    int v = quality_value_valid(r->field, r->value, strlen(r->value));
    if (v >= 0) {
        t->checked++;
        t->valid += v;
    }
    if (t->run && strcmp(t->run, r->value) == 0) {
        t->run_len++;
    } else {
        run_end(t);
        if (!(t->run = dup_or_flag(t, r->value)))
            return ERR_NOMEM;
        t->run_len = 1;
    }
    return 0;
}

static int source_row(const struct quality_source_row *r, void *ctx)
{
    struct tally *t = ctx;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "source", r->source);
    cJSON_AddStringToObject(s, "origin", r->origin);
    cJSON_AddNumberToObject(s, "rows", (double)r->rows);
    if (strcmp(r->origin, "events") == 0)
        cJSON_AddNumberToObject(s, "identify_events", (double)r->identifies);
    if (r->newest != STORE_NULL_TIME) {
        char ts[32];
        time_format_iso8601(r->newest, ts);
        cJSON_AddStringToObject(s, "newest", ts);
        double age = round1((double)(t->now - r->newest) / MS_PER_HOUR);
        cJSON_AddNumberToObject(s, "age_hours", age > 0 ? age : 0);
    } else {
        cJSON_AddNullToObject(s, "newest");
        cJSON_AddNullToObject(s, "age_hours");
    }
    cJSON_AddNumberToObject(s, "resolved", (double)r->members);
    cJSON_AddNumberToObject(s, "profiles", (double)r->profiles);
    if (r->members)
        cJSON_AddNumberToObject(s, "duplicate_rate_after",
                                round1(100.0 - 100.0 * (double)r->profiles / (double)r->members));
    else
        cJSON_AddNullToObject(s, "duplicate_rate_after");
    cJSON_AddArrayToObject(s, "fields");
    cJSON_AddItemToArray(t->sources, s);
    return 0;
}

static void alert(cJSON *alerts, const cJSON *s, const char *field, const char *measure,
                  double value, double threshold)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(s, "source"));
    const char *origin = cJSON_GetStringValue(cJSON_GetObjectItem(s, "origin"));
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "source", name);
    cJSON_AddStringToObject(a, "origin", origin);
    if (field)
        cJSON_AddStringToObject(a, "field", field);
    else
        cJSON_AddNullToObject(a, "field");
    cJSON_AddStringToObject(a, "measure", measure);
    cJSON_AddNumberToObject(a, "value", value);
    cJSON_AddNumberToObject(a, "threshold", threshold);
    cJSON_AddItemToArray(alerts, a);
    /* Names and the threshold only: never a value of the data. */
    if (field)
        log_warn("quality alert: source %s %s field %s: %s below %.0f%%", name, origin, field,
                 measure, threshold);
    else
        log_warn("quality alert: source %s %s: newest row older than %.0f hours", name, origin,
                 threshold);
}

static void alerts_find(cJSON *report, const struct quality_thresholds *th)
{
    cJSON *alerts = cJSON_AddArrayToObject(report, "alerts");
    const cJSON *s, *f;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(report, "sources"))
    {
        const cJSON *age = cJSON_GetObjectItem(s, "age_hours");
        if (cJSON_IsNumber(age) && age->valuedouble > th->max_age_hours)
            alert(alerts, s, NULL, "freshness", age->valuedouble, th->max_age_hours);
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "fields"))
        {
            const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(f, "field"));
            const cJSON *c = cJSON_GetObjectItem(f, "completeness");
            const cJSON *v = cJSON_GetObjectItem(f, "validity");
            if (cJSON_IsNumber(c) && c->valuedouble < th->min_completeness)
                alert(alerts, s, field, "completeness", c->valuedouble, th->min_completeness);
            if (cJSON_IsNumber(v) && v->valuedouble < th->min_validity)
                alert(alerts, s, field, "validity", v->valuedouble, th->min_validity);
        }
    }
}

int quality_report(struct store *st, const struct quality_thresholds *th, int64_t now,
                   void **report, struct err *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return err_set(e, ERR_NOMEM, "out of memory");
    cJSON *limits = cJSON_AddObjectToObject(o, "thresholds");
    cJSON_AddNumberToObject(limits, "min_completeness", th->min_completeness);
    cJSON_AddNumberToObject(limits, "min_validity", th->min_validity);
    cJSON_AddNumberToObject(limits, "max_age_hours", th->max_age_hours);
    struct tally t = {.sources = cJSON_AddArrayToObject(o, "sources"), .now = now};
    int rc = st->ops->quality_sources(st, source_row, &t, e);
    if (!rc)
        rc = st->ops->quality_values(st, value_row, &t, e);
    group_end(&t);
    if (!rc && t.nomem)
        rc = ERR_NOMEM;
    if (rc == ERR_NOMEM)
        err_set(e, ERR_NOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    alerts_find(o, th);
    *report = o;
    return 0;
}
