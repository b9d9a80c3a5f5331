/* err.h - error codes and the caller-owned error text (SQLite's pzErrMsg idea).
 *
 * Functions return 0 or a negative ERR_* code; when they fail they may write a
 * one-line, human-readable reason into a caller-owned struct err. The text never
 * contains personal data (values of messages, traits, identifiers): it names fields
 * and limits, not their contents.
 */
#ifndef CUSTOS_ERR_H
#define CUSTOS_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,    /* allocation failed */
    ERR_IO = -2,       /* file or socket error */
    ERR_STORE = -3,    /* database error */
    ERR_INVALID = -4,  /* bad input: malformed, out of range */
    ERR_NOTFOUND = -5, /* no such thing */
    ERR_EXISTS = -6,   /* already exists */
    ERR_LIMIT = -7,    /* input larger than a named limit */
    ERR_BUSY = -8,     /* try again later (queue full, database locked) */
    ERR_AUTH = -9,     /* missing or wrong credentials */
    ERR_USAGE = -10,   /* bad command-line usage */
};

struct err {
    int code;
    char msg[256];
};

/* Records code and a printf-style reason in e (which may be NULL); returns code. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A short static name for an ERR_* code ("invalid", "limit", ...). */
const char *err_name(int code);

#endif
