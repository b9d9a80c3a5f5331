/* quality.c - completeness, validity, uniqueness and freshness per source and field.
 *
 * The store hands over one row per (source, origin) and every field value sorted by
 * source, origin, field and value; this file counts in one pass: sorted values make
 * duplicates adjacent, so "rows that share a value with another row" is the sum of the
 * runs longer than one. */
#include <cJSON.h>
#include <math.h>
#include <pthread.h>

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
    bool above = strncmp(measure, "duplicate", 9) == 0; /* the others alert below */
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
        log_warn("quality alert: source %s %s field %s: %s %s %.0f%%", name, origin, field, measure,
                 above ? "above" : "below", threshold);
    else if (above)
        log_warn("quality alert: source %s %s: %s above %.0f%%", name, origin, measure, threshold);
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
        const cJSON *after = cJSON_GetObjectItem(s, "duplicate_rate_after");
        if (cJSON_IsNumber(after) && after->valuedouble > th->max_duplicate_after)
            alert(alerts, s, NULL, "duplicate_rate_after", after->valuedouble,
                  th->max_duplicate_after);
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "fields"))
        {
            const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(f, "field"));
            const cJSON *c = cJSON_GetObjectItem(f, "completeness");
            const cJSON *v = cJSON_GetObjectItem(f, "validity");
            if (cJSON_IsNumber(c) && c->valuedouble < th->min_completeness)
                alert(alerts, s, field, "completeness", c->valuedouble, th->min_completeness);
            if (cJSON_IsNumber(v) && v->valuedouble < th->min_validity)
                alert(alerts, s, field, "validity", v->valuedouble, th->min_validity);
            const cJSON *d = cJSON_GetObjectItem(f, "duplicate_rate");
            if (cJSON_IsNumber(d) && d->valuedouble > th->max_duplicate_before)
                alert(alerts, s, field, "duplicate_rate", d->valuedouble, th->max_duplicate_before);
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
    cJSON_AddNumberToObject(limits, "max_duplicate_before", th->max_duplicate_before);
    cJSON_AddNumberToObject(limits, "max_duplicate_after", th->max_duplicate_after);
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

/* ---- Prometheus text ---- */

/* A label value: backslash, quote and newline escaped. */
static void label(struct textbuf *b, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            textbuf_put(b, "\\", 1);
        if (*v == '\n')
            textbuf_put(b, "\\n", 2);
        else
            textbuf_put(b, v, 1);
    }
}

static void metric(struct textbuf *b, const char *name, const cJSON *s, const char *field,
                   const char *measure, double v)
{
    textbuf_printf(b, "%s{source=\"", name);
    label(b, cJSON_GetStringValue(cJSON_GetObjectItem(s, "source")));
    textbuf_printf(b, "\",origin=\"");
    label(b, cJSON_GetStringValue(cJSON_GetObjectItem(s, "origin")));
    if (field) {
        textbuf_printf(b, "\",field=\"");
        label(b, field);
    }
    if (measure) {
        textbuf_printf(b, "\",measure=\"");
        label(b, measure);
    }
    textbuf_printf(b, "\"} %.1f\n", v);
}

void quality_metrics(const void *report, struct textbuf *b)
{
    static const char *const field_metrics[][2] = {
        {"completeness", "custos_quality_completeness_percent"},
        {"validity", "custos_quality_validity_percent"},
        {"duplicate_rate", "custos_quality_duplicate_percent"}};
    static const char *const source_metrics[][2] = {
        {"age_hours", "custos_quality_age_hours"},
        {"duplicate_rate_after", "custos_quality_duplicate_after_percent"}};
    const cJSON *s, *f, *a;
    for (size_t i = 0; i < ARRAY_SIZE(field_metrics); i++) {
        textbuf_printf(b, "# TYPE %s gauge\n", field_metrics[i][1]);
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(report, "sources"))
            cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "fields"))
        {
            const cJSON *v = cJSON_GetObjectItem(f, field_metrics[i][0]);
            if (cJSON_IsNumber(v))
                metric(b, field_metrics[i][1], s,
                       cJSON_GetStringValue(cJSON_GetObjectItem(f, "field")), NULL, v->valuedouble);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(source_metrics); i++) {
        textbuf_printf(b, "# TYPE %s gauge\n", source_metrics[i][1]);
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(report, "sources"))
        {
            const cJSON *v = cJSON_GetObjectItem(s, source_metrics[i][0]);
            if (cJSON_IsNumber(v))
                metric(b, source_metrics[i][1], s, NULL, NULL, v->valuedouble);
        }
    }
    textbuf_printf(b, "# TYPE custos_quality_alert gauge\n");
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(report, "alerts"))
        metric(b, "custos_quality_alert", a, cJSON_GetStringValue(cJSON_GetObjectItem(a, "field")),
               cJSON_GetStringValue(cJSON_GetObjectItem(a, "measure")), 1);
    textbuf_printf(b, "# TYPE custos_quality_alerts gauge\ncustos_quality_alerts %d\n",
                   cJSON_GetArraySize(cJSON_GetObjectItem(report, "alerts")));
}

/* ---- custos serve's monitor ---- */

struct quality_monitor {
    struct store *st;
    struct quality_thresholds th;
    long interval_s;
    pthread_t thread;
    pthread_mutex_t lock; /* guards text, measured_at and stopping */
    pthread_cond_t wake;
    bool stopping;
    struct textbuf text; /* the last report's metrics */
    int64_t measured_at;
    double seconds;
};

static void *monitor_main(void *arg)
{
    struct quality_monitor *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        struct err e = {0};
        void *report = NULL;
        int64_t t0 = time_now_ms();
        int rc = quality_report(m->st, &m->th, t0, &report, &e);
        struct textbuf b = {0};
        if (rc)
            log_warn("quality: cannot measure: %s", e.msg);
        else
            quality_metrics(report, &b);
        cJSON_Delete(report);
        pthread_mutex_lock(&m->lock);
        if (!rc && !b.failed) {
            textbuf_release(&m->text);
            m->text = b;
            m->measured_at = t0;
            m->seconds = (double)(time_now_ms() - t0) / 1000.0;
        } else {
            textbuf_release(&b);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += m->interval_s;
        while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int quality_monitor_start(const char *db, const struct quality_thresholds *th, long interval_s,
                          struct quality_monitor **out, struct err *e)
{
    struct quality_monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct store_options opt = {.read_only = true};
    int rc = store_open(db, &opt, &m->st, e);
    if (rc) {
        free(m);
        return rc;
    }
    m->th = *th;
    m->interval_s = interval_s > 0 ? interval_s : 1;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    if (pthread_create(&m->thread, NULL, monitor_main, m)) {
        store_close(m->st);
        free(m);
        return err_set(e, ERR_NOMEM, "cannot start the quality monitor");
    }
    *out = m;
    return 0;
}

void quality_monitor_metrics(struct quality_monitor *m, struct textbuf *b)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if (m->measured_at) {
        textbuf_put(b, m->text.p, m->text.len);
        textbuf_printf(b,
                       "# TYPE custos_quality_measured_at_seconds gauge\n"
                       "custos_quality_measured_at_seconds %" PRId64 "\n"
                       "# TYPE custos_quality_measure_seconds gauge\n"
                       "custos_quality_measure_seconds %.3f\n",
                       m->measured_at / 1000, m->seconds);
    }
    pthread_mutex_unlock(&m->lock);
}

void quality_monitor_stop(struct quality_monitor *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    store_close(m->st);
    textbuf_release(&m->text);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    free(m);
}
