/* log.h - one-line log records on stderr.
 *
 * Privacy rule: a log line names things (a route, a field, a source, a count, an
 * error code), never the values of messages, traits or identifiers. Callers pass
 * only such names; log_value_mask() exists for the rare line that must refer to a
 * value, and reduces it to a short non-reversible tag. */
#ifndef CUSTOS_LOG_H
#define CUSTOS_LOG_H

#include "core/common.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the minimum level printed; parses "debug|info|warn|error" (0, or ERR_INVALID). */
int log_set_level_name(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes into out (cap >= 12) a tag such as "#3fa9c2d1" derived from value by a
 * keyed hash whose key is random per process: lines about one value can be
 * correlated within one run, the value itself cannot be recovered. Returns out. */
const char *log_value_mask(const char *value, size_t len, char *out, size_t cap);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
