/* err.c - error codes and the caller-owned error text. */
#include "core/common.h"

int err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return code;
    e->code = code;
    e->msg[0] = '\0';
    if (fmt == NULL)
        return code;
    va_start(ap, fmt);
    /* clang-analyzer 14 reports ap as uninitialized here: a false positive with the
     * array-typed va_list of x86-64. */
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    return code;
}

const char *err_name(int code)
{
    switch (code) {
    case ERR_OK:
        return "ok";
    case ERR_NOMEM:
        return "nomem";
    case ERR_IO:
        return "io";
    case ERR_STORE:
        return "store";
    case ERR_INVALID:
        return "invalid";
    case ERR_NOTFOUND:
        return "notfound";
    case ERR_EXISTS:
        return "exists";
    case ERR_LIMIT:
        return "limit";
    case ERR_BUSY:
        return "busy";
    case ERR_AUTH:
        return "auth";
    case ERR_USAGE:
        return "usage";
    default:
        return "unknown";
    }
}
