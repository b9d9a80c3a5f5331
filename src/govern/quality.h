/* quality.h - data quality per source and field: completeness, validity, uniqueness
 * before and after identity resolution, and freshness, with alerts where a measure is
 * past its threshold (docs/quality.md).
 *
 * Measures are percentages rounded to one decimal. The report names sources, fields
 * and measures, never a value. */
#ifndef CUSTOS_QUALITY_H
#define CUSTOS_QUALITY_H

#include "store/store.h"

struct quality_thresholds {
    double min_completeness; /* percent of rows that must have the field */
    double min_validity;     /* percent of present phone/e-mail/ID values that must pass */
    double max_age_hours;    /* hours since the newest row of a source */
};

/* Measures everything in st at time now (ms since the epoch) and returns the report as
 * a cJSON object in *report (the caller frees it with cJSON_Delete):
 *   thresholds  the three thresholds;
 *   sources     [{source, origin, rows, newest (ISO 8601 or null), age_hours,
 *                 resolved, profiles, duplicate_rate_after (null when none resolved),
 *                 fields: [{field, rows, present, completeness, checked, valid,
 *                 validity (null unless a phone, e-mail or ID number), duplicates
 *                 and duplicate_rate (null unless an identifier with values)}]}];
 *   alerts      [{source, origin, field (null for freshness), measure, value,
 *                 threshold}].
 * Each alert is also logged with log_warn (names only). Returns 0, or the store's
 * error, or ERR_NOMEM, with the reason in e. */
int quality_report(struct store *st, const struct quality_thresholds *th, int64_t now,
                   void **report, struct err *e);

/* Whether a value of the field (a quality_value_row's field name) passes
 * standardization: phone (E.164, China by default, not a placeholder), email (not a
 * placeholder), id_number (GB 11643-1999). Returns 1 valid, 0 invalid, -1 when the
 * field has no validity rule. */
int quality_value_valid(const char *field, const char *value, size_t len);

#endif
