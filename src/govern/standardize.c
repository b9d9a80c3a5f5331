/* standardize.c - emails, names, resident ID numbers and gender codes in canonical
 * form (standardize.h). Phones are in phone.c. */
#include "core/text.h"
#include "core/timeutil.h"
#include "govern/standardize.h"

#define MS_PER_DAY     INT64_C(86400000)
#define CHINA_UTC_MS   (INT64_C(8) * 3600 * 1000) /* China Standard Time, UTC+8 all year */
#define ID_MIN_YEAR    1900                       /* GB 11643 birth dates start here */
#define GENDER_MAX_RAW 16 /* bytes of a folded gender value worth comparing */
#define WORD_MAX       12 /* bytes of the longest word in the tables of words below */

/* ---- Characters -------------------------------------------------------------------- */

uint32_t std_fold_width(uint32_t cp)
{
    if (cp >= 0xff01 && cp <= 0xff5e)
        return cp - 0xfee0;
    return cp == 0x3000 ? ' ' : cp;
}

/* White space: ASCII, next line, no-break, ideographic, and the Unicode spaces. */
static bool is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

/* Invisible characters that copy and paste leave behind: zero-width space, word
 * joiner, byte order mark, left-to-right and right-to-left marks. */
static bool is_invisible(uint32_t cp)
{
    return cp == 0x200b || cp == 0x200e || cp == 0x200f || cp == 0x2060 || cp == 0xfeff;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Han ideographs: the unified blocks and extensions, compatibility ideographs, 〇. */
static bool is_han(uint32_t cp)
{
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
           (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x20000 && cp <= 0x323af) || cp == 0x3007;
}

/* The dots written between the parts of a transliterated name (after width folding,
 * so U+FF0E is '.'). */
static bool is_name_dot(uint32_t cp)
{
    return cp == '.' || cp == 0xb7 || cp == 0x387 || cp == 0x2022 || cp == 0x2027 || cp == 0x2219 ||
           cp == 0x22c5 || cp == 0x30fb || cp == 0xff65;
}

/* A letter of some script, roughly: ASCII letters, Latin-1 and the alphabets up to
 * U+1FFF (less × and ÷), kana, Han, Hangul. Punctuation, digits and emoji are not. */
static bool is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return (cp >= 0xc0 && cp < 0x2000 && cp != 0xd7 && cp != 0xf7 && cp != 0x387) ||
           (cp >= 0x3040 && cp <= 0x30ff && cp != 0x30fb) || is_han(cp) ||
           (cp >= 0xac00 && cp <= 0xd7a3);
}

/* Decodes the code point at in[*i] (any byte value below len), advancing *i; false
 * for bad UTF-8. */
static bool next_cp(const char *in, size_t len, size_t *i, uint32_t *cp)
{
    size_t k = text_utf8_decode(in + *i, len - *i, cp);
    *i += k;
    return k > 0;
}

/* Bytes of cp in UTF-8. */
static size_t utf8_len(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Appends cp (a valid code point) as UTF-8 to out[*o..cap-1), keeping room for the
 * NUL; false if it does not fit. */
static bool put_cp(char *out, size_t cap, size_t *o, uint32_t cp)
{
    static const unsigned char lead[5] = {0, 0, 0xc0, 0xe0, 0xf0};
    size_t k = utf8_len(cp);
    if (*o + k >= cap)
        return false;
    if (k == 1) {
        out[(*o)++] = (char)cp;
        return true;
    }
    for (size_t j = k - 1; j > 0; j--, cp >>= 6)
        out[*o + j] = (char)(0x80 | (cp & 0x3f));
    out[*o] = (char)(lead[k] | cp);
    *o += k;
    return true;
}

/* Narrows in[*a..*b) past white space and invisible characters at both ends. Stops
 * at bad UTF-8, which the caller reports. */
static void trim(const char *in, size_t *a, size_t *b)
{
    while (*a < *b) {
        uint32_t cp;
        size_t i = *a;
        if (!next_cp(in, *b, &i, &cp) || !(is_space(cp) || is_invisible(cp)))
            break;
        *a = i;
    }
    while (*b > *a) {
        size_t start = *b - 1; /* back to the lead byte of the last code point */
        while (start > *a && *b - start < 4 && ((unsigned char)in[start] & 0xc0) == 0x80)
            start--;
        uint32_t cp;
        size_t i = start;
        if (!next_cp(in, *b, &i, &cp) || i != *b || !(is_space(cp) || is_invisible(cp)))
            break;
        *b = start;
    }
}

/* True when s[0..n) is one of words, ignoring ASCII case. */
static bool is_word(const char *s, size_t n, const char *const *words, size_t nwords)
{
    if (n > WORD_MAX)
        return false;
    for (size_t i = 0; i < nwords; i++)
        if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
            return true;
    return false;
}

/* Sets *why (if why) and clears out; returns rc. */
static int fail(int rc, const char *reason, char *out, size_t cap, const char **why)
{
    if (cap > 0)
        out[0] = '\0';
    if (why)
        *why = reason;
    return rc;
}

static int succeed(const char **why)
{
    if (why)
        *why = NULL;
    return 0;
}

/* ---- Emails ------------------------------------------------------------------------ */

/* Words people put in an email field for "no email". */
static const char *const no_value_words[] = {
    "null",    "none", "nil", "n/a",  "na",   "-",    "--", "undefined",
    "unknown", "0",    "无",  "暂无", "没有", "未知", "空",
};

/* The characters of RFC 5322's dot-atom, lower-case letters only: what a local part is
 * made of. */
static bool email_local_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+/=?^_`{|}~.-", c));
}

/* Checks the domain d[0..n): dot-separated labels of letters, digits and inner
 * hyphens, at least two, the last not all digits. */
static const char *email_check_domain(const char *d, size_t n)
{
    size_t labels = 0, start = 0;
    if (d[0] == '.' || d[n - 1] == '.')
        return "dot at the start or end of the email domain";
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.') {
            char c = d[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return "character not allowed in an email domain";
            continue;
        }
        size_t ln = i - start; /* one label: d[start..i), not empty (no ".." here) */
        if (ln > 63)
            return "email domain label longer than 63 bytes";
        if (d[start] == '-' || d[i - 1] == '-')
            return "email domain label starts or ends with a hyphen";
        labels++;
        if (i == n && strspn(d + start, "0123456789") >= ln)
            return "email domain ends in a number";
        if (i == n && ln < 2)
            return "email top-level domain of one character";
        start = i + 1;
    }
    return labels < 2 ? "no dot in the email domain" : NULL;
}

/* Checks the folded, lower-cased address e[0..n). */
static const char *email_check(const char *e, size_t n)
{
    const char *at = memchr(e, '@', n);
    if (!at)
        return "no @ in an email address";
    size_t ln = (size_t)(at - e), dn = n - ln - 1;
    if (memchr(at + 1, '@', dn))
        return "more than one @ in an email address";
    if (ln == 0)
        return "nothing before the @";
    if (dn == 0)
        return "nothing after the @";
    if (ln > STD_EMAIL_MAX_LOCAL)
        return "email local part longer than 64 bytes";
    if (memmem(e, n, "..", 2))
        return "consecutive dots in an email address";
    if (e[0] == '.' || e[ln - 1] == '.')
        return "dot at the start or end of the email local part";
    for (size_t i = 0; i < ln; i++)
        if (!email_local_char((unsigned char)e[i]))
            return "character not allowed in an email local part";
    return email_check_domain(at + 1, dn);
}

int std_email(const char *in, size_t len, char *out, size_t cap, const char **why)
{
    size_t a = 0, b = len, o = 0;

    trim(in, &a, &b);
    if (a == b)
        return fail(ERR_INVALID, "empty email address", out, cap, why);
    if (is_word(in + a, b - a, no_value_words, ARRAY_SIZE(no_value_words)))
        return fail(ERR_INVALID, "a word for no value (null, none, n/a, -), not an address", out,
                    cap, why);
    for (size_t i = a; i < b;) {
        uint32_t cp = (unsigned char)in[i];
        if (cp < 0x80) {
            i++;
        } else {
            if (!next_cp(in, b, &i, &cp))
                return fail(ERR_INVALID, "not valid UTF-8", out, cap, why);
            cp = std_fold_width(cp);
            if (cp == 0x3002 || cp == 0xff61) /* 。 typed for '.' with a Chinese keyboard */
                cp = '.';
        }
        if (cp >= 'A' && cp <= 'Z')
            cp |= 0x20;
        else if (is_space(cp) || is_invisible(cp))
            return fail(ERR_INVALID, "spaces inside an email address", out, cap, why);
        else if (cp == ',' || cp == ';')
            return fail(ERR_INVALID, "comma or semicolon in an email address", out, cap, why);
        else if (is_control(cp))
            return fail(ERR_INVALID, "control character in an email address", out, cap, why);
        else if (cp >= 0x80)
            return fail(ERR_INVALID, "non-ASCII character in an email address", out, cap, why);
        if (o == STD_EMAIL_MAX)
            return fail(ERR_INVALID, "email address longer than 254 bytes", out, cap, why);
        if (o + 1 >= cap)
            return fail(ERR_LIMIT, "output buffer too small", out, cap, why);
        out[o++] = (char)cp;
    }
    out[o] = '\0';
    const char *reason = email_check(out, o);
    return reason ? fail(ERR_INVALID, reason, out, cap, why) : succeed(why);
}

/* True when s[0..n) counts up or down by one ("123456", "abc", "987", "cba"). */
static bool chars_run(const char *s, size_t n)
{
    if (n < 3 || (s[1] - s[0] != 1 && s[0] - s[1] != 1))
        return false;
    for (size_t i = 1; i < n; i++) {
        bool digits = s[i] >= '0' && s[i] <= '9' && s[0] >= '0' && s[0] <= '9';
        bool letters = s[i] >= 'a' && s[i] <= 'z' && s[0] >= 'a' && s[0] <= 'z';
        if (!(digits || letters) || s[i] - s[i - 1] != s[1] - s[0])
            return false;
    }
    return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

bool std_email_is_placeholder(const char *normalized)
{
    static const char *const domains[] = {"example.com", "example.net", "example.org", "test.com"};
    static const char *const tlds[] = {".test",        ".example",     ".invalid",    ".localhost",
                                       ".example.com", ".example.net", ".example.org"};
    static const char *const locals[] = {
        "test",         "testing", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply",
        "do_not_reply", "nobody",  "null",    "none",     "nil",      "unknown",    "noemail",
        "no-email",     "nomail",  "qwe",     "qwer",     "qwert",    "qwerty",     "asd",
        "asdf",         "asdfg",   "asdfgh",  "zxc",      "zxcv",     "zxcvb",      "zxcvbn"};
    if (!normalized)
        return false;
    const char *at = strchr(normalized, '@');
    if (!at)
        return false;
    const char *dom = at + 1;
    size_t ln = (size_t)(at - normalized), dn = strlen(dom);
    if (is_word(dom, dn, domains, ARRAY_SIZE(domains)))
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(tlds); i++)
        if (ends_with(dom, dn, tlds[i]))
            return true;
    if (is_word(normalized, ln, locals, ARRAY_SIZE(locals)))
        return true;
    bool same = ln > 0;
    for (size_t i = 1; i < ln; i++)
        same = same && normalized[i] == normalized[0];
    return same || chars_run(normalized, ln);
}

/* ---- Names ------------------------------------------------------------------------- */

static const char *const name_placeholders[] = {
    "null", "none", "nil",  "n/a",  "test", "testing", "unknown", "undefined", "name",
    "测试", "无",   "暂无", "未知", "不详", "姓名",    "客户",    "匿名",
};

/* If cps[i..) starts a run of spaces and dots (at least one dot) that ends before a
 * Han character, returns the index after the run; else 0. */
static size_t name_dot_run(const uint32_t *cps, size_t n, size_t i)
{
    bool dot = false;
    size_t k = i;
    for (; k < n && (cps[k] == ' ' || is_name_dot(cps[k])); k++)
        dot = dot || cps[k] != ' ';
    return dot && k < n && is_han(cps[k]) ? k : 0;
}

int std_name(const char *in, size_t len, char *out, size_t cap, const char **why)
{
    uint32_t cps[STD_NAME_MAX_INPUT]; /* every byte may be a code point */
    size_t a = 0, b = len, n = 0, o = 0;

    if (len > STD_NAME_MAX_INPUT)
        return fail(ERR_INVALID, "longer than 1024 bytes: not a name", out, cap, why);
    trim(in, &a, &b);
    for (size_t i = a; i < b;) {
        uint32_t cp;
        if (!next_cp(in, b, &i, &cp))
            return fail(ERR_INVALID, "not valid UTF-8", out, cap, why);
        cp = std_fold_width(cp);
        if (is_invisible(cp))
            continue;
        if (is_space(cp))
            cp = ' ';
        else if (is_control(cp))
            return fail(ERR_INVALID, "control character in a name", out, cap, why);
        cps[n++] = cp;
    }
    if (n == 0)
        return fail(ERR_INVALID, "empty name", out, cap, why);

    uint32_t last = 0; /* the last code point written */
    bool letters = false;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        size_t end;
        if (is_han(last) && (end = name_dot_run(cps, n, i)) != 0) {
            cp = 0xb7; /* 阿卜杜 • 热合曼 -> 阿卜杜·热合曼 */
            i = end - 1;
        } else if (cp == ' ') {
            while (i + 1 < n && cps[i + 1] == ' ')
                i++;
            if (i + 1 == n || last == 0) /* left by a removed invisible character */
                continue;
        }
        letters = letters || is_letter(cp);
        if (o + utf8_len(cp) > STD_NAME_MAX)
            return fail(ERR_INVALID, "name longer than 256 bytes", out, cap, why);
        if (!put_cp(out, cap, &o, cp))
            return fail(ERR_LIMIT, "output buffer too small", out, cap, why);
        last = cp;
    }
    out[o] = '\0';
    if (is_word(out, o, name_placeholders, ARRAY_SIZE(name_placeholders)))
        return fail(ERR_INVALID, "a placeholder word (null, test, 未知 ...), not a name", out, cap,
                    why);
    if (!letters)
        return fail(ERR_INVALID, "no letters in a name", out, cap, why);
    return succeed(why);
}

/* ---- Resident ID numbers ----------------------------------------------------------- */

/* GB/T 2260 province-level codes: the first two digits of every resident ID number. */
static bool id_province_known(int p)
{
    static const unsigned char ranges[][2] = {{11, 15}, {21, 23}, {31, 37}, {41, 46}, {50, 54},
                                              {61, 65}, {71, 71}, {81, 83}, {91, 91}};
    for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
        if (p >= ranges[i][0] && p <= ranges[i][1])
            return true;
    return false;
}

/* The ISO 7064 MOD 11-2 check character of the 17 digits d. */
static char id_check_char(const char *d)
{
    static const unsigned char weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    unsigned sum = 0;
    for (size_t i = 0; i < 17; i++)
        sum += (unsigned)(d[i] - '0') * weights[i];
    return "10X98765432"[sum % 11];
}

static int digits_value(const char *d, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (d[i] - '0');
    return v;
}

/* Checks the birth date YYYYMMDD at d: a date, from 1900 to today in China. */
static const char *id_check_birth(const char *d)
{
    char iso[10] = {d[0], d[1], d[2], d[3], '-', d[4], d[5], '-', d[6], d[7]};
    int64_t ms;
    if (time_parse_iso8601(iso, sizeof(iso), &ms))
        return "birth date is not a date";
    if (digits_value(d, 4) < ID_MIN_YEAR)
        return "birth date before 1900";
    if (ms / MS_PER_DAY > (time_now_ms() + CHINA_UTC_MS) / MS_PER_DAY)
        return "birth date in the future";
    return NULL;
}

/* Collects the characters of an ID number into c (up to STD_ID_LEN), counting them in
 * *n; NULL or why the text cannot be one. */
static const char *id_scan(const char *in, size_t a, size_t b, char c[STD_ID_LEN], size_t *n)
{
    for (size_t i = a; i < b;) {
        uint32_t cp;
        if (!next_cp(in, b, &i, &cp))
            return "not valid UTF-8";
        cp = std_fold_width(cp);
        if ((cp >= '0' && cp <= '9') || cp == 'X' || cp == 'x') {
            if (*n < STD_ID_LEN)
                c[*n] = (char)(cp == 'x' ? 'X' : cp);
            ++*n;
        } else if (cp == '*') {
            return "masked ID number (contains *)";
        } else if (!(is_space(cp) || cp == '-')) {
            return "unexpected character in an ID number";
        }
    }
    return NULL;
}

int std_id_number(const char *in, size_t len, char out[STD_ID_LEN + 1], struct std_id_info *info,
                  const char **why)
{
    char c[STD_ID_LEN + 1] = {0};
    size_t a = 0, b = len, n = 0;
    const char *reason;
    bool upgraded = false;

    if (info)
        memset(info, 0, sizeof(*info));
    trim(in, &a, &b);
    if (a == b) {
        reason = "empty ID number";
        goto out;
    }
    if ((reason = id_scan(in, a, b, c, &n)) != NULL)
        goto out;
    if (n == 15) { /* 6 region, YYMMDD, 3 sequence: insert "19", add a check character */
        memmove(c + 8, c + 6, 9);
        c[6] = '1';
        c[7] = '9';
        upgraded = true;
        if (memchr(c, 'X', 17)) {
            reason = "X in a 15-digit ID number";
            goto out;
        }
        c[17] = id_check_char(c);
    } else if (n != STD_ID_LEN) {
        reason = "wrong length for a resident ID number (18 or 15 characters)";
        goto out;
    }
    if (memchr(c, 'X', 17)) {
        reason = "X before the last character of an ID number";
        goto out;
    }
    if (!id_province_known(digits_value(c, 2))) {
        reason = "unknown province code (first two digits)";
        goto out;
    }
    if ((reason = id_check_birth(c + 6)) != NULL)
        goto out;
    if (id_check_char(c) != c[17]) {
        reason = "check digit does not match";
        goto out;
    }
    memcpy(out, c, STD_ID_LEN);
    out[STD_ID_LEN] = '\0';
    if (info) {
        info->birth_year = digits_value(c + 6, 4);
        info->birth_month = digits_value(c + 10, 2);
        info->birth_day = digits_value(c + 12, 2);
        info->sex = (c[16] - '0') % 2 ? "male" : "female";
        info->province = digits_value(c, 2);
        info->upgraded_15 = upgraded;
    }
out:
    explicit_bzero(c, sizeof(c));
    if (reason) {
        out[0] = '\0';
        if (info)
            memset(info, 0, sizeof(*info));
    }
    if (why)
        *why = reason;
    return reason ? ERR_INVALID : 0;
}

/* ---- Gender ------------------------------------------------------------------------ */

int std_gender(const char *in, size_t len, char *out, const char **why)
{
    static const char *const male[] = {"男",  "男性", "男士", "先生", "m", "male",
                                       "man", "mr",   "mr.",  "1",    "♂"};
    static const char *const female[] = {"女",  "女性", "女士", "小姐", "f",    "female", "woman",
                                         "mrs", "mrs.", "ms",   "ms.",  "miss", "2",      "♀"};
    static const char *const unstated[] = {"0",    "9",      "unknown", "u",   "未知",
                                           "保密", "不详",   "未说明",  "n/a", "null",
                                           "none", "secret", "-"};
    static const char *const other[] = {"other", "x", "non-binary", "nonbinary", "diverse", "其他"};
    char buf[GENDER_MAX_RAW];
    size_t a = 0, b = len, o = 0;

    trim(in, &a, &b);
    if (a == b)
        return fail(ERR_INVALID, "empty gender", out, STD_GENDER_CAP, why);
    for (size_t i = a; i < b;) {
        uint32_t cp;
        if (!next_cp(in, b, &i, &cp))
            return fail(ERR_INVALID, "not valid UTF-8", out, STD_GENDER_CAP, why);
        if (!put_cp(buf, sizeof(buf), &o, std_fold_width(cp)))
            return fail(ERR_INVALID, "not a recognised gender value", out, STD_GENDER_CAP, why);
    }
    const char *g = NULL;
    if (is_word(buf, o, male, ARRAY_SIZE(male)))
        g = "male";
    else if (is_word(buf, o, female, ARRAY_SIZE(female)))
        g = "female";
    else if (is_word(buf, o, unstated, ARRAY_SIZE(unstated)))
        return fail(ERR_INVALID, "gender not stated (unknown, 保密, 0, 9)", out, STD_GENDER_CAP,
                    why);
    else if (is_word(buf, o, other, ARRAY_SIZE(other)))
        return fail(ERR_INVALID, "gender neither male nor female", out, STD_GENDER_CAP, why);
    else
        return fail(ERR_INVALID, "not a recognised gender value", out, STD_GENDER_CAP, why);
    memcpy(out, g, strlen(g) + 1);
    return succeed(why);
}
