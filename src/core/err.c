/* err.c - error codes and the caller-owned error text. */
#include "core/common.h"

int err_set(struct err *e, int code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->code = code;
    e->msg[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
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
