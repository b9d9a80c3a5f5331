/* timeutil.h - wall-clock and monotonic time, ISO 8601 parsing and formatting.
 * Times are int64 milliseconds since the Unix epoch, UTC. */
#ifndef CUSTOS_TIMEUTIL_H
#define CUSTOS_TIMEUTIL_H

#include "core/common.h"

/* Current wall-clock time, ms since the epoch. */
int64_t time_now_ms(void);

/* Monotonic clock in nanoseconds, for durations. */
uint64_t time_mono_ns(void);

/* Parses an ISO 8601 / RFC 3339 timestamp from s[0..n): "YYYY-MM-DD" (midnight UTC),
 * "YYYY-MM-DDTHH:MM[:SS[.fraction]]" followed by "Z", "+HH:MM", "+HHMM", "+HH" or
 * nothing (UTC assumed); 't' and ' ' are accepted for 'T', 'z' for 'Z'; the fraction
 * may have 1-9 digits (truncated to ms). Years 0001-9999; fields are range-checked,
 * including the day of the month in leap years. Hours are 00-23, seconds 00-59 (a
 * leap second ":60" is refused), offsets -23:59 to +23:59. Returns 0 and *ms, or
 * ERR_INVALID leaving *ms untouched. */
int time_parse_iso8601(const char *s, size_t n, int64_t *ms);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters and a NUL) into out. Returns
 * the length written. Times outside years 0001-9999 are clamped to that range. */
size_t time_format_iso8601(int64_t ms, char out[32]);

/* Days from 1970-01-01 to the civil date y-m-d (m 1-12, d 1-31), proleptic Gregorian. */
int64_t time_days_from_civil(int64_t y, int m, int d);

/* The civil date of day z counted from 1970-01-01. */
void time_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
