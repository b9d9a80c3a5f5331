/* quality.h - data quality per source and field: completeness, validity, uniqueness
 * before and after identity resolution, and freshness, with alerts where a measure is
 * past its threshold (docs/quality.md).
 *
 * Measures are percentages rounded to one decimal. The report names sources, fields
 * and measures, never a value. */
#ifndef CUSTOS_QUALITY_H
#define CUSTOS_QUALITY_H

#include "core/textbuf.h"
#include "store/store.h"

struct quality_thresholds {
    double min_completeness; /* percent of rows that must have the field */
    double min_validity;     /* percent of present phone/e-mail/ID values that must pass */
    double max_age_hours;    /* hours since the newest row of a source */
    /* Uniqueness: percent of an identifier field's present values shared with another
     * row, as written (before resolution); percent of a source's resolved rows that
     * share a profile with another of its rows (after). 100: never an alert. */
    double max_duplicate_before;
    double max_duplicate_after;
};

/* Measures everything in st at time now (ms since the epoch) and returns the report as
 * a cJSON object in *report (the caller frees it with cJSON_Delete):
 *   thresholds  the five thresholds;
 *   sources     [{source, origin, rows, newest (ISO 8601 or null), age_hours,
 *                 resolved, profiles, duplicate_rate_after (null when none resolved),
 *                 fields: [{field, rows, present, completeness, checked, valid,
 *                 validity (null unless a phone, e-mail or ID number), duplicates
 *                 and duplicate_rate (null unless an identifier with values)}]}];
 *   alerts      [{source, origin, field (null for freshness and
 *                 duplicate_rate_after), measure (completeness, validity,
 *                 freshness, duplicate_rate, duplicate_rate_after), value, threshold}].
 * Each alert is also logged with log_warn (names only). Returns 0, or the store's
 * error, or ERR_NOMEM, with the reason in e. */
int quality_report(struct store *st, const struct quality_thresholds *th, int64_t now,
                   void **report, struct err *e);

/* Whether a value of the field (a quality_value_row's field name) passes
 * standardization: phone (E.164, China by default, not a placeholder), email (not a
 * placeholder), id_number (GB 11643-1999). Returns 1 valid, 0 invalid, -1 when the
 * field has no validity rule. */
int quality_value_valid(const char *field, const char *value, size_t len);

/* Appends a report in the Prometheus text format to b: gauges per source and field
 * (custos_quality_completeness_percent, _validity_percent, _duplicate_percent), per
 * source (_age_hours, _duplicate_after_percent), one custos_quality_alert per alert
 * and the custos_quality_alerts count. Names and numbers only, never a value. */
void quality_metrics(const void *report, struct textbuf *b);

/* custos serve's quality monitor: a thread with its own store connection measures
 * every interval_s seconds (the first time at once), logs the alerts, and keeps the
 * last report's metrics for /metrics. */
struct quality_monitor;

/* Opens its connection to db and starts the thread. Returns 0 and *out, or the store's
 * error with the reason in e. */
int quality_monitor_start(const char *db, const struct quality_thresholds *th, long interval_s,
                          struct quality_monitor **out, struct err *e);

/* Appends the last measurement's metrics (and when it ran) to b; nothing before the
 * first one. */
void quality_monitor_metrics(struct quality_monitor *m, struct textbuf *b);

/* Stops the thread (waiting for a measurement in progress) and frees m; m may be NULL. */
void quality_monitor_stop(struct quality_monitor *m);

#endif
