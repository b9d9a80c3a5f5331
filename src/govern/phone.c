/* phone.c - phone numbers to E.164, and numbers that belong to no one (standardize.h).
 *
 * A number is read in two steps: a scan keeps its digits and notes a leading '+',
 * stopping at the first character that makes it unusable (a letter, a mask, an
 * extension, a second number); then the digits are split into a country code and a
 * national number, which is checked by the rules of its country. */
#include "core/text.h"
#include "govern/standardize.h"

/* Digits a written number may hold: the 15 of E.164, the "00" international prefix,
 * a trunk 0, and room to tell "too many" from "just right". */
#define PHONE_MAX_RAW_DIGITS 24
#define PHONE_MIN_DIGITS     8 /* the shortest number std_phone writes, country code included */

struct phone_digits {
    char d[PHONE_MAX_RAW_DIGITS];
    size_t n;
    bool plus;    /* a '+' came before the first digit */
    bool visible; /* something other than white space was seen */
};

static bool phone_is_ignorable(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n' || cp == 0xa0 ||
           (cp >= 0x2000 && cp <= 0x200b) || cp == 0x202f || cp == 0x205f || cp == 0xfeff;
}

static bool phone_is_separator(uint32_t cp)
{
    return cp == '-' || cp == '.' || (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212;
}

/* True when the digits before index at are an international prefix and a country code
 * ("+86", "0086"): a "(0)" written after them is a trunk 0 to leave out. */
static bool phone_after_country_code(const struct phone_digits *p, size_t at)
{
    if (p->plus)
        return at >= 1;
    return at >= 3 && p->d[0] == '0' && p->d[1] == '0';
}

/* Collects the digits of in[0..len) into p. Returns NULL, or why the text is not a
 * usable phone number. */
static const char *phone_scan(const char *in, size_t len, struct phone_digits *p)
{
    size_t group = SIZE_MAX; /* digits before the open '(' */
    size_t i = 0;

    while (i < len) {
        uint32_t cp = (unsigned char)in[i];
        size_t k = 1;
        if (cp >= 0x80) {
            k = text_utf8_decode(in + i, len - i, &cp);
            if (k == 0)
                return "not valid UTF-8";
            cp = std_fold_width(cp);
        }
        i += k;
        if (phone_is_ignorable(cp))
            continue;
        p->visible = true;
        if (cp >= '0' && cp <= '9') {
            if (p->n == PHONE_MAX_RAW_DIGITS)
                return "too many digits for a phone number";
            p->d[p->n++] = (char)cp;
        } else if (phone_is_separator(cp)) {
            continue;
        } else if (cp == '(') {
            group = p->n;
        } else if (cp == ')') {
            if (group != SIZE_MAX && p->n == group + 1 && p->d[group] == '0' &&
                phone_after_country_code(p, group))
                p->n--; /* "+44 (0)20 ...", "+86 (0)755 ..." */
            group = SIZE_MAX;
        } else if (cp == '+') {
            if (p->plus || p->n > 0)
                return "misplaced + in a phone number";
            p->plus = true;
        } else if (cp == '*' || cp == 0x25cf || cp == 0x2217) { /* '*', '●', '∗' */
            return "masked number (contains *)";
        } else if ((cp == 'x' || cp == 'X') && i < len && (in[i] == 'x' || in[i] == 'X')) {
            return "masked number (contains xx)";
        } else if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') {
            return "letters in a phone number";
        } else if (cp == '#' || cp == 0x8f6c || cp == 0x5206) { /* '#', 转, 分(机) */
            return "extension in a phone number";
        } else if (p->n > 0 && (cp == '/' || cp == ',' || cp == ';' || cp == '|' || cp == '\\' ||
                                cp == 0x3001)) { /* 、 */
            return "several numbers in one field";
        } else {
            return "unexpected character in a phone number";
        }
    }
    return NULL;
}

/* Writes "+", cc and the national number nsn[0..n) into out. */
static int phone_write(const char *cc, const char *nsn, size_t n, char *out, size_t cap,
                       const char **why)
{
    size_t ccn = strlen(cc);
    if (1 + ccn + n + 1 > cap) {
        *why = "output buffer too small";
        return ERR_LIMIT;
    }
    out[0] = '+';
    memcpy(out + 1, cc, ccn);
    memcpy(out + 1 + ccn, nsn, n);
    out[1 + ccn + n] = '\0';
    return 0;
}

static bool phone_is_service(const char *d, size_t n)
{
    return n == 10 && (memcmp(d, "400", 3) == 0 || memcmp(d, "800", 3) == 0);
}

/* Checks a mainland national number (after +86 or the trunk 0). */
static const char *phone_check_cn(const char *d, size_t n)
{
    if (n == 0)
        return "too few digits for a mainland number";
    if (d[0] == '0')
        return "a second 0 before the area code";
    if (d[0] == '1' && n >= 2 && d[1] == '0')
        return n == 10 ? NULL : "wrong number of digits for a Beijing landline (010 and 8 digits)";
    if (d[0] == '1') {
        if (n >= 2 && d[1] < '3')
            return "not a mainland mobile prefix (13-19)";
        if (n < 11)
            return "too few digits for a mainland mobile number";
        if (n > 11)
            return "too many digits for a mainland mobile number";
        return NULL;
    }
    if (phone_is_service(d, n))
        return NULL;
    if (d[0] == '2')
        return n == 10 ? NULL : "wrong number of digits for a landline (02X and 8 digits)";
    return n == 10 || n == 11
               ? NULL
               : "wrong number of digits for a landline (3-digit area code and 7 or 8 digits)";
}

/* Checks a mainland number written without a country code or trunk 0: only mobile and
 * service numbers are dialled that way. */
static const char *phone_check_cn_bare(const char *d, size_t n)
{
    if (d[0] == '1' && !(n == 10 && d[1] == '0'))
        return phone_check_cn(d, n);
    if (phone_is_service(d, n))
        return NULL;
    if (n <= 8)
        return "landline number without an area code";
    if (n <= 11)
        return "landline number without the leading 0 of its area code";
    return "too many digits for a mainland number";
}

static const char *phone_check_8(const char *d, size_t n, const char *wrong)
{
    return n == 8 && d[0] >= '2' ? NULL : wrong;
}

#define PHONE_NOT_HK "not a Hong Kong number (8 digits, not starting with 0 or 1)"
#define PHONE_NOT_MO "not a Macau number (8 digits, not starting with 0 or 1)"
#define PHONE_NOT_TW "not a Taiwan number (8 or 9 digits after the trunk 0)"

static const char *phone_check_tw(const char *d, size_t n)
{
    return (n == 8 || n == 9) && d[0] >= '2' ? NULL : PHONE_NOT_TW;
}

/* A number after an international prefix: country code and national number. */
static int phone_international(const char *d, size_t n, char *out, size_t cap, const char **why)
{
    if (n == 0) {
        *why = "no digits after the international prefix";
        return ERR_INVALID;
    }
    if (d[0] == '0') {
        *why = "country code cannot start with 0";
        return ERR_INVALID;
    }
    if (n >= 2 && memcmp(d, "86", 2) == 0) {
        const char *nsn = d + 2;
        size_t nn = n - 2;
        if (nn > 0 && nsn[0] == '0') { /* "+86 0755 ...": the trunk 0 written anyway */
            nsn++;
            nn--;
        }
        *why = phone_check_cn(nsn, nn);
        return *why ? ERR_INVALID : phone_write("86", nsn, nn, out, cap, why);
    }
    if (n >= 3 && (memcmp(d, "852", 3) == 0 || memcmp(d, "853", 3) == 0)) {
        bool hk = d[2] == '2';
        *why = phone_check_8(d + 3, n - 3, hk ? PHONE_NOT_HK : PHONE_NOT_MO);
        return *why ? ERR_INVALID : phone_write(hk ? "852" : "853", d + 3, n - 3, out, cap, why);
    }
    if (n >= 3 && memcmp(d, "886", 3) == 0) {
        const char *nsn = d + 3;
        size_t nn = n - 3;
        if (nn > 0 && nsn[0] == '0') {
            nsn++;
            nn--;
        }
        *why = phone_check_tw(nsn, nn);
        return *why ? ERR_INVALID : phone_write("886", nsn, nn, out, cap, why);
    }
    if (n < PHONE_MIN_DIGITS) {
        *why = "too few digits for an international number (8-15)";
        return ERR_INVALID;
    }
    if (n > STD_PHONE_MAX_DIGITS) {
        *why = "too many digits for an international number (8-15)";
        return ERR_INVALID;
    }
    return phone_write("", d, n, out, cap, why);
}

/* A number without an international prefix, read as a number of region. */
static int phone_national(const char *d, size_t n, const char *region, char *out, size_t cap,
                          const char **why)
{
    if (!region || !*region) {
        *why = "no country code, and no default region";
        return ERR_INVALID;
    }
    if (strcasecmp(region, "CN") == 0) {
        if (d[0] == '0') {
            *why = phone_check_cn(d + 1, n - 1);
            return *why ? ERR_INVALID : phone_write("86", d + 1, n - 1, out, cap, why);
        }
        if (n >= 12 && d[0] == '8' && d[1] == '6') /* "86-13800138000": a '+' left out */
            return phone_international(d, n, out, cap, why);
        *why = phone_check_cn_bare(d, n);
        return *why ? ERR_INVALID : phone_write("86", d, n, out, cap, why);
    }
    if (strcasecmp(region, "HK") == 0 || strcasecmp(region, "MO") == 0) {
        bool hk = (region[0] | 0x20) == 'h';
        *why = phone_check_8(d, n, hk ? PHONE_NOT_HK : PHONE_NOT_MO);
        return *why ? ERR_INVALID : phone_write(hk ? "852" : "853", d, n, out, cap, why);
    }
    if (strcasecmp(region, "TW") == 0) {
        if (d[0] != '0') {
            *why = "Taiwan number without its trunk 0";
            return ERR_INVALID;
        }
        *why = phone_check_tw(d + 1, n - 1);
        return *why ? ERR_INVALID : phone_write("886", d + 1, n - 1, out, cap, why);
    }
    *why = "unsupported default region";
    return ERR_INVALID;
}

int std_phone(const char *in, size_t len, const char *default_region, char *out, size_t cap,
              const char **why)
{
    const char *reason = NULL;
    struct phone_digits p = {.n = 0};
    int rc;

    if (cap > 0)
        out[0] = '\0';
    if (len > STD_PHONE_MAX_INPUT) {
        reason = "too long for a phone number";
        rc = ERR_INVALID;
    } else if ((reason = phone_scan(in, len, &p)) != NULL) {
        rc = ERR_INVALID;
    } else if (p.n == 0) {
        reason = p.visible ? "no digits in a phone number" : "empty phone number";
        rc = ERR_INVALID;
    } else if (p.plus) {
        rc = phone_international(p.d, p.n, out, cap, &reason);
    } else if (p.n >= 2 && p.d[0] == '0' && p.d[1] == '0') {
        rc = phone_international(p.d + 2, p.n - 2, out, cap, &reason);
    } else {
        rc = phone_national(p.d, p.n, default_region, out, cap, &reason);
    }
    if (rc && cap > 0)
        out[0] = '\0';
    if (why)
        *why = rc ? reason : NULL;
    return rc;
}

/* ---- Placeholders ------------------------------------------------------------------ */

static bool digits_same(const char *d, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (d[i] != d[0])
            return false;
    return n > 0;
}

/* True when d[0..n) counts up or down by one, wrapping 9-0 ("12345678901"). */
static bool digits_run(const char *d, size_t n)
{
    if (n < 2)
        return false;
    int step = (d[1] - d[0] + 10) % 10;
    if (step != 1 && step != 9)
        return false;
    for (size_t i = 2; i < n; i++)
        if ((d[i] - d[i - 1] + 10) % 10 != step)
            return false;
    return true;
}

bool std_phone_is_placeholder(const char *e164)
{
    static const char *const known[] = {"8613800138000", "8613800000000", "8613888888888",
                                        "8611111111111", "8612345678901"};
    if (!e164 || e164[0] != '+')
        return false;
    const char *d = e164 + 1;
    size_t n = strlen(d);
    if (n < PHONE_MIN_DIGITS || n > STD_PHONE_MAX_DIGITS || strspn(d, "0123456789") != n)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        if (strcmp(d, known[i]) == 0)
            return true;
    if (digits_same(d, n) || digits_run(d, n))
        return true;
    const char *nsn = d;
    size_t nn = n;
    if (strncmp(d, "86", 2) == 0) {
        nsn += 2;
        nn -= 2;
        if (phone_is_service(nsn, nn))
            return true;
        /* A mobile: a 3-digit network prefix, then the 8 digits people make up. */
        if (nn == 11 && nsn[0] == '1' && (digits_same(nsn + 3, 8) || digits_run(nsn + 3, 8)))
            return true;
    } else if (strncmp(d, "852", 3) == 0 || strncmp(d, "853", 3) == 0 ||
               strncmp(d, "886", 3) == 0) {
        nsn += 3;
        nn -= 3;
    }
    return digits_same(nsn, nn) || digits_run(nsn, nn);
}
