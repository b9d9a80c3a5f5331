/* banned.h - functions that make bugs easy (git's idea). Included last by common.h, so
 * using one of them is a compile error. Use the named replacements instead. */
#ifndef CUSTOS_BANNED_H
#define CUSTOS_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy) /* use snprintf or memcpy with a known length */
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf) /* use snprintf */
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok) /* not reentrant; use a slice scanner */
#undef atoi
#define atoi(x) BANNED(atoi) /* no error report; use strtol with end checks */
#undef atol
#define atol(x) BANNED(atol)
#undef gmtime
#define gmtime(t) BANNED(gmtime) /* not thread-safe; use gmtime_r */
#undef localtime
#define localtime(t) BANNED(localtime) /* not thread-safe; use localtime_r */

#endif
