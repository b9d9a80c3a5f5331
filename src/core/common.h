/* common.h - the standard headers every Custos file uses, then banned.h.
 *
 * Include order in a .c file: library headers (<sqlite3.h>, <cJSON.h>, ...) first,
 * then project headers, which include this one. banned.h comes last so that no
 * system header sees its macros. */
#ifndef CUSTOS_COMMON_H
#define CUSTOS_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#include "core/banned.h"
#endif
