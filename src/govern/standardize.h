/* standardize.h - the values identity resolution matches on, in one canonical form:
 * phones to E.164, emails trimmed and lower-cased, names trimmed and folded, mainland
 * resident ID numbers checked (GB 11643-1999), gender codes to "male"/"female".
 *
 * Every function reads UTF-8 in[0..len) (in may be NULL when len is 0), writes
 * UTF-8 into a caller-owned buffer, allocates nothing, keeps no state (thread-safe)
 * and returns 0 or a negative ERR_*:
 *   ERR_INVALID  the value is not acceptable; *why (when why is not NULL) gets a short
 *                static English reason naming the rule it broke ("masked number
 *                (contains *)"), never the value itself, so it can go to a
 *                quarantine row or a log. The caller keeps the raw value: nothing is
 *                dropped silently and nothing is guessed.
 *   ERR_LIMIT    out is smaller than the result (a caller bug: use the *_CAP sizes);
 *                *why is "output buffer too small".
 * On success *why is set to NULL. On failure out holds "" (when cap > 0).
 *
 * Elsewhere, not duplicated here: timestamps to UTC are core/timeutil.h
 * (time_parse_iso8601) and, with a mapping's time zone and formats,
 * import/mapping.h (mapping_parse_time); money to integer minor units with a
 * currency is import/mapping.h (mapping_parse_money). */
#ifndef CUSTOS_STANDARDIZE_H
#define CUSTOS_STANDARDIZE_H

#include "core/common.h"

#define STD_PHONE_MAX_DIGITS 15  /* E.164: country code and number, 15 digits at most */
#define STD_PHONE_MAX_INPUT  128 /* bytes: enough for any formatted, full-width number */
#define STD_PHONE_CAP        (1 + STD_PHONE_MAX_DIGITS + 1) /* '+', digits, NUL */
#define STD_EMAIL_MAX        254 /* RFC 5321 path limit less the angle brackets */
#define STD_EMAIL_MAX_LOCAL  64  /* RFC 5321 local part */
#define STD_EMAIL_CAP        (STD_EMAIL_MAX + 1)
#define STD_NAME_MAX         256  /* bytes of a standardized name: no real name is longer */
#define STD_NAME_MAX_INPUT   1024 /* bytes of input, padding included, looked at */
#define STD_NAME_CAP         (STD_NAME_MAX + 1)
#define STD_ID_LEN           18 /* GB 11643-1999 citizen identification number */
#define STD_GENDER_CAP       7  /* "female" and a NUL */

/* ---- Phones (govern/phone.c) ----------------------------------------------------- */

/* Writes the phone number in[0..len) in E.164 form ("+8613800138000") into out
 * (capacity cap; STD_PHONE_CAP always suffices). Accepts ASCII and full-width digits,
 * '+', parentheses and white space, dashes and dots as separators; the international
 * prefixes "+", "00", "(+86)", and, when default_region is "CN", "86" before a
 * national number of 10 or more digits ("86-13800138000"). A "(0)" after a country
 * code and a trunk 0 after +86 or +886 are dropped.
 *   +86  mobile 1[3-9] and 9 more digits; landline 0 + area code + number: 010 and
 *        02X with 8 digits, 3-digit area codes with 7 or 8 (0755-1234567 ->
 *        +867551234567); 400/800 service numbers (10 digits).
 *   +852, +853  8 digits; +886  8 or 9 digits after the trunk 0;
 *   any other country code: 8 to 15 digits in all, kept as given.
 * default_region ("CN", "HK", "MO", "TW", any case) is the country of a number
 * written without a country code; NULL or "" means such a number is rejected. A
 * mainland landline needs its trunk 0 (Excel drops it: "7551234567" is rejected, not
 * guessed). ERR_INVALID for empty input, letters, a masked number ("138****8000"),
 * an extension, several numbers in one field, and wrong lengths or prefixes. */
int std_phone(const char *in, size_t len, const char *default_region, char *out, size_t cap,
              const char **why);

/* True when e164 (std_phone's output) is a number clerks type when the customer gives
 * none, or one that belongs to no single person: the known ones (+8613800138000 ...),
 * numbers of one repeated digit or of a consecutive run (12345678901), mainland
 * mobiles whose last 8 digits are one repeated digit or a run, and 400/800 service
 * numbers. Identity resolution must not join profiles on these. False for NULL and
 * for strings std_phone does not write (not "+" and 8 to 15 digits). */
bool std_phone_is_placeholder(const char *e164);

/* ---- Emails, names, ID numbers, gender (govern/standardize.c) ---------------------- */

/* Writes the email address in[0..len) trimmed (ASCII, no-break, ideographic and
 * zero-width space), with full-width ASCII (U+FF01..FF5E) and the ideographic full stop
 * folded to ASCII, and lower-cased, into out (capacity cap; STD_EMAIL_CAP always
 * suffices). The practical syntax: one '@'; a local part of at most 64 bytes of
 * letters, digits and !#$%&'*+/=?^_`{|}~.- without leading, trailing or consecutive
 * dots; a domain of at least two dot-separated labels of letters, digits and inner
 * hyphens (at most 63 bytes each) whose last is not all digits; at most 254 bytes.
 * ERR_INVALID for empty input, placeholder words ("null", "none", "n/a", "-", "无"),
 * spaces inside, non-ASCII characters (internationalized addresses are not
 * supported) and each broken rule. */
int std_email(const char *in, size_t len, char *out, size_t cap, const char **why);

/* True when normalized (std_email's output) is junk a form or a clerk fills in: a
 * reserved domain (example.com/.net/.org, test.com, *.test, *.example, *.invalid,
 * *.localhost), a no-reply or test mailbox, a local part of one repeated character
 * ("a@a.com", "111@qq.com") or a keyboard run ("123456@", "abc@", "qwerty@"). False
 * for NULL. */
bool std_email_is_placeholder(const char *normalized);

/* Writes the person's name in[0..len) into out (capacity cap; STD_NAME_CAP always
 * suffices): trimmed; full-width ASCII (U+FF01..FF5E) folded to ASCII; runs of white
 * space (ASCII, no-break, ideographic) made one ' '; zero-width characters removed;
 * between two Han characters, any run of middle-dot variants ('.', U+00B7, U+2022,
 * U+2027, U+2219, U+22C5, U+30FB, U+FF0E, U+FF65) and the spaces around it made one
 * U+00B7 ("阿卜杜 • 热合曼" -> "阿卜杜·热合曼"). Letter case is kept. ERR_INVALID for
 * empty input, a name without letters, placeholder words ("null", "test", "测试",
 * "未知" ...), control characters, bad UTF-8, input over STD_NAME_MAX_INPUT bytes and
 * results over STD_NAME_MAX bytes. */
int std_name(const char *in, size_t len, char *out, size_t cap, const char **why);

/* What a resident ID number says, so that callers can store these facts instead of
 * the number. */
struct std_id_info {
    int birth_year, birth_month, birth_day;
    const char *sex;  /* "male" (17th digit odd) or "female": static */
    int province;     /* the first two digits: 11 Beijing ... 65 Xinjiang, 71, 81-83, 91 */
    bool upgraded_15; /* the input was a 15-digit number (before 1999), converted */
};

/* Checks the mainland resident ID number in[0..len) (GB 11643-1999) and writes its 18
 * characters, 'X' upper-case, and a NUL into out. Accepts full-width digits and X,
 * a lower-case x, and spaces or dashes between groups. Checks, in this order, with
 * the reason for the first that fails: 18 characters (or 15 digits: a first-generation
 * number, converted by inserting "19" before the year and computing the check
 * character, with info->upgraded_15 set), 17 digits and a check character, a known
 * province code (11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81-83, 91), a birth date
 * that is a date between 1900-01-01 and today (China time), and the ISO 7064 MOD 11-2
 * check character. info (may be NULL) gets the birth date, sex and province; it is
 * zeroed on failure. The number is core-sensitive personal information: keep it only
 * through the privacy module (encrypted, or a keyed blind index for matching), never
 * in logs; this function wipes its own copies. */
int std_id_number(const char *in, size_t len, char out[STD_ID_LEN + 1], struct std_id_info *info,
                  const char **why);

/* Writes "male" or "female" into out (STD_GENDER_CAP bytes) for the usual encodings,
 * trimmed, any case, full-width folded: 男 男性 男士 先生 M male man mr 1, and 女 女性
 * 女士 小姐 F female woman mrs ms miss 2 (1 and 2 are GB/T 2261.1's and WeChat's codes).
 * ERR_INVALID, with a reason that tells them apart, for empty input, "not stated" (0,
 * 9, unknown, 未知, 保密), "other" values, and anything else. */
int std_gender(const char *in, size_t len, char *out, const char **why);

/* The ASCII character for a full-width form (U+FF01..FF5E) or the ideographic space
 * (U+3000); any other code point unchanged. */
uint32_t std_fold_width(uint32_t cp);

#endif
