/* test_standardize.c - phones, emails, names, resident ID numbers and gender codes to
 * their canonical forms, the placeholder detectors, and text_utf8_decode. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "govern/standardize.h"

/* Full-width forms, spelled out so that the tables stay readable. */
#define FW_PLUS   "\xef\xbc\x8b" /* ＋ */
#define FW_LPAREN "\xef\xbc\x88" /* （ */
#define FW_RPAREN "\xef\xbc\x89" /* ） */
#define FW_DASH   "\xef\xbc\x8d" /* － */
#define IDEO_SP   "\xe3\x80\x80" /* U+3000 */
#define NBSP      "\xc2\xa0"
#define ZWSP      "\xe2\x80\x8b"
#define BOM       "\xef\xbb\xbf"
#define EN_DASH   "\xe2\x80\x93"
#define MID_DOT   "\xc2\xb7"     /* U+00B7, the canonical one */
#define KATA_DOT  "\xe3\x83\xbb" /* U+30FB */
#define BULLET    "\xe2\x80\xa2" /* U+2022 */
#define FW_STOP   "\xef\xbc\x8e" /* U+FF0E */
#define HW_DOT    "\xef\xbd\xa5" /* U+FF65 */

/* Runs f on an exact-size heap copy of s, so that ASan sees any read past the end. */
static char *heap_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* The reason must be the expected one: rc 0 with NULL, or rc != 0 with want. */
static void check_why(const char *name, int rc, const char *why, int want_rc, const char *want_why)
{
    if (rc != want_rc)
        fail_msg("case \"%s\": rc %d (%s), want %d", name, rc, why ? why : "-", want_rc);
    if (rc == 0 && why != NULL)
        fail_msg("case \"%s\": why set on success", name);
    if (rc != 0 && (!why || (want_why && strcmp(why, want_why) != 0)))
        fail_msg("case \"%s\": why \"%s\", want \"%s\"", name, why ? why : "(null)",
                 want_why ? want_why : "any");
}

/* ---- text_utf8_decode -------------------------------------------------------------- */

static void test_utf8_decode(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        size_t len;
        uint32_t cp;
    } cases[] = {
        {"A", 1, 1, 'A'},
        {"\x00", 1, 1, 0},
        {"\xc3\xa9", 2, 2, 0xe9},
        {"\xe4\xb8\xad!", 4, 3, 0x4e2d},
        {"\xef\xbc\x91", 3, 3, 0xff11},
        {"\xf0\x9f\x98\x80", 4, 4, 0x1f600},
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff},
        {"", 0, 0, 0},
        {"\xc3", 1, 0, 0},             /* truncated */
        {"\xe4\xb8", 2, 0, 0},         /* truncated */
        {"\xc0\x80", 2, 0, 0},         /* overlong */
        {"\xed\xa0\x80", 3, 0, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0, 0}, /* above U+10FFFF */
        {"\x80", 1, 0, 0},             /* lone continuation */
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        char *p = heap_copy(cases[k].s, cases[k].n);
        uint32_t cp = 0xdeadbeef;
        size_t len = text_utf8_decode(p, cases[k].n, &cp);
        free(p);
        assert_int_equal(len, cases[k].len);
        assert_int_equal(cp, cases[k].len ? cases[k].cp : 0xdeadbeef);
    }
}

static void test_fold_width(void **state)
{
    (void)state;
    assert_int_equal(std_fold_width(0xff10), '0');
    assert_int_equal(std_fold_width(0xff19), '9');
    assert_int_equal(std_fold_width(0xff01), '!');
    assert_int_equal(std_fold_width(0xff5e), '~');
    assert_int_equal(std_fold_width(0xff21), 'A');
    assert_int_equal(std_fold_width(0x3000), ' ');
    assert_int_equal(std_fold_width(0xff5f), 0xff5f);
    assert_int_equal(std_fold_width(0x4e2d), 0x4e2d);
    assert_int_equal(std_fold_width('a'), 'a');
}

/* ---- Phones -------------------------------------------------------------------------- */

struct phone_case {
    const char *in;
    const char *region;
    const char *want; /* the E.164 result, or NULL */
    const char *why;  /* the reason when want is NULL */
    size_t len;       /* of in, when it holds a NUL; else 0 for strlen */
};

#define MOBILE "+8613800138000"

static const struct phone_case phone_cases[] = {
    /* The messy CRM formats of one mainland mobile. */
    {"13800138000", "CN", MOBILE, NULL, 0},
    {"+86 138 0013 8000", "CN", MOBILE, NULL, 0},
    {"0086-13800138000", "CN", MOBILE, NULL, 0},
    {"(+86)13800138000", "CN", MOBILE, NULL, 0},
    {"138-0013-8000", "CN", MOBILE, NULL, 0},
    {"\xef\xbc\x91\xef\xbc\x93\xef\xbc\x98\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91\xef\xbc\x93"
     "\xef\xbc\x98\xef\xbc\x90\xef\xbc\x90\xef\xbc\x90",
     "CN", MOBILE, NULL, 0},
    {"86-13800138000", "CN", MOBILE, NULL, 0},
    {"+8613800138000", "CN", MOBILE, NULL, 0},
    {"138 0013 8000", "CN", MOBILE, NULL, 0},
    {"8613800138000", "CN", MOBILE, NULL, 0},
    {"+86-138-0013-8000", "CN", MOBILE, NULL, 0},
    {"138.0013.8000", "CN", MOBILE, NULL, 0},
    {"138" EN_DASH "0013" EN_DASH "8000", "CN", MOBILE, NULL, 0},
    {" \t13800138000 \r\n", "CN", MOBILE, NULL, 0},
    {NBSP "13800138000" ZWSP, "CN", MOBILE, NULL, 0},
    {FW_LPAREN FW_PLUS "\xef\xbc\x98\xef\xbc\x96" FW_RPAREN "138" IDEO_SP "0013" FW_DASH "8000",
     "CN", MOBILE, NULL, 0},
    {"013800138000", "CN", MOBILE, NULL, 0}, /* a trunk 0 before a mobile, as once dialled */
    {"13800138000", "cn", MOBILE, NULL, 0},
    {"+8613800138000", NULL, MOBILE, NULL, 0},
    {"+86 13800138000", "HK", MOBILE, NULL, 0},
    {"15012345678", "CN", "+8615012345678", NULL, 0},
    {"199 1234 5678", "CN", "+8619912345678", NULL, 0},
    /* Mainland landlines: the trunk 0 goes. */
    {"010-12345678", "CN", "+861012345678", NULL, 0},
    {"0755-1234567", "CN", "+867551234567", NULL, 0},
    {"0755-12345678", "CN", "+8675512345678", NULL, 0},
    {"(0755)12345678", "CN", "+8675512345678", NULL, 0},
    {"020 8888 6666", "CN", "+862088886666", NULL, 0},
    {"+86 10 1234 5678", "CN", "+861012345678", NULL, 0},
    {"+86 (0)755 1234 5678", "CN", "+8675512345678", NULL, 0},
    {"+86 0755 12345678", "CN", "+8675512345678", NULL, 0},
    {"0086 21 6123 4567", "CN", "+862161234567", NULL, 0},
    {"86-0755-12345678", "CN", "+8675512345678", NULL, 0},
    {"400-820-8820", "CN", "+864008208820", NULL, 0},
    /* Hong Kong, Macau, Taiwan. */
    {"+852 9123 4567", "CN", "+85291234567", NULL, 0},
    {"00852-2123-4567", "CN", "+85221234567", NULL, 0},
    {"+853 6612 3456", "CN", "+85366123456", NULL, 0},
    {"+886 912 345 678", "CN", "+886912345678", NULL, 0},
    {"+886 (0)2 2345 6789", "CN", "+886223456789", NULL, 0},
    {"+886 0912-345-678", NULL, "+886912345678", NULL, 0},
    {"9123 4567", "HK", "+85291234567", NULL, 0},
    {"6612-3456", "mo", "+85366123456", NULL, 0},
    {"0912-345-678", "TW", "+886912345678", NULL, 0},
    /* Other countries: kept as digits. */
    {"+1 (650) 253-0000", "CN", "+16502530000", NULL, 0},
    {"+44 (0)20 7946 0958", "CN", "+442079460958", NULL, 0},
    {"0044 20 7946 0958", "CN", "+442079460958", NULL, 0},
    {"+81 90-1234-5678", NULL, "+819012345678", NULL, 0},
    /* Invalid, with the reason. */
    {"", "CN", NULL, "empty phone number", 0},
    {" \t" IDEO_SP, "CN", NULL, "empty phone number", 0},
    {"---", "CN", NULL, "no digits in a phone number", 0},
    {"138****8000", "CN", NULL, "masked number (contains *)", 0},
    {"138"
     "\xef\xbc\x8a\xef\xbc\x8a"
     "8000",
     "CN", NULL, "masked number (contains *)", 0},
    {"138xxxx8000", "CN", NULL, "masked number (contains xx)", 0},
    {"1380013800", "CN", NULL, "too few digits for a mainland mobile number", 0},
    {"138001380001", "CN", NULL, "too many digits for a mainland mobile number", 0},
    {"+86 138 0013 800", "CN", NULL, "too few digits for a mainland mobile number", 0},
    {"12345678901", "CN", NULL, "not a mainland mobile prefix (13-19)", 0},
    {"tel:13800138000", "CN", NULL, "letters in a phone number", 0},
    {"13800138000 ext 12", "CN", NULL, "letters in a phone number", 0},
    {"\xef\xbd\x81"
     "13800138000",
     "CN", NULL, "letters in a phone number", 0}, /* ａ */
    {"13800138000\xe8\xbd\xac"
     "123",
     "CN", NULL, "extension in a phone number", 0}, /* 转 */
    {"13800138000#123", "CN", NULL, "extension in a phone number", 0},
    {"13800138000/13900139000", "CN", NULL, "several numbers in one field", 0},
    {"13800138000\xe3\x80\x81"
     "13900139000",
     "CN", NULL, "several numbers in one field", 0},
    {"\xe6\x89\x8b\xe6\x9c\xba"
     "13800138000",
     "CN", NULL, /* 手机 */
     "unexpected character in a phone number", 0},
    {"8765 4321", "CN", NULL, "landline number without an area code", 0},
    {"12345678", "CN", NULL, "not a mainland mobile prefix (13-19)", 0},
    {"7551234567", "CN", NULL, "landline number without the leading 0 of its area code", 0},
    {"010-1234567", "CN", NULL, "wrong number of digits for a Beijing landline (010 and 8 digits)",
     0},
    {"021-1234567", "CN", NULL, "wrong number of digits for a landline (02X and 8 digits)", 0},
    {"0755-123456", "CN", NULL,
     "wrong number of digits for a landline (3-digit area code and 7 or 8 digits)", 0},
    {"+86 0 0755 1234567", "CN", NULL, "a second 0 before the area code", 0},
    {"+86", "CN", NULL, "too few digits for a mainland number", 0},
    {"+852 1234 5678", "CN", NULL, "not a Hong Kong number (8 digits, not starting with 0 or 1)",
     0},
    {"+852 9123 456", "CN", NULL, "not a Hong Kong number (8 digits, not starting with 0 or 1)", 0},
    {"+853 6612 34567", "CN", NULL, "not a Macau number (8 digits, not starting with 0 or 1)", 0},
    {"+886 912 345", "CN", NULL, "not a Taiwan number (8 or 9 digits after the trunk 0)", 0},
    {"912345678", "TW", NULL, "Taiwan number without its trunk 0", 0},
    {"+86 13800138000 +1", "CN", NULL, "misplaced + in a phone number", 0},
    {"+0086 13800138000", "CN", NULL, "country code cannot start with 0", 0},
    {"00", "CN", NULL, "no digits after the international prefix", 0},
    {"+123 4567", "CN", NULL, "too few digits for an international number (8-15)", 0},
    {"+1234567890123456", "CN", NULL, "too many digits for an international number (8-15)", 0},
    {"1234567890123456789012345", "CN", NULL, "too many digits for a phone number", 0},
    {"13800138000", NULL, NULL, "no country code, and no default region", 0},
    {"13800138000", "", NULL, "no country code, and no default region", 0},
    {"2025550123", "US", NULL, "unsupported default region", 0},
    {"\xff"
     "13800138000",
     "CN", NULL, "not valid UTF-8", 0},
    {"1380013800\xe4\xb8", "CN", NULL, "not valid UTF-8", 0}, /* truncated at the end */
    {"1380013800\x00"
     "0",
     "CN", NULL, "unexpected character in a phone number", 12},
};

static void test_phone_cases(void **state)
{
    (void)state;
    assert_true(ARRAY_SIZE(phone_cases) >= 40);
    for (size_t k = 0; k < ARRAY_SIZE(phone_cases); k++) {
        const struct phone_case *c = &phone_cases[k];
        size_t n = c->len ? c->len : strlen(c->in);
        char *p = heap_copy(c->in, n);
        char out[STD_PHONE_CAP] = "junk";
        const char *why = "junk";
        int rc = std_phone(p, n, c->region, out, sizeof(out), &why);
        free(p);
        check_why(c->in, rc, why, c->want ? 0 : ERR_INVALID, c->why);
        if (c->want && strcmp(out, c->want) != 0)
            fail_msg("case \"%s\": \"%s\", want \"%s\"", c->in, out, c->want);
        if (!c->want)
            assert_string_equal(out, "");
        if (rc == 0) { /* standardizing twice changes nothing */
            char again[STD_PHONE_CAP];
            assert_int_equal(std_phone(out, strlen(out), NULL, again, sizeof(again), NULL), 0);
            assert_string_equal(again, out);
        }
    }
}

static void test_phone_long_and_capacity(void **state)
{
    (void)state;
    char in[STD_PHONE_MAX_INPUT + 2];
    memset(in, ' ', sizeof(in));
    memcpy(in + sizeof(in) - 11, "13800138000", 11);
    char out[STD_PHONE_CAP];
    const char *why = NULL;
    assert_int_equal(std_phone(in, sizeof(in), "CN", out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "too long for a phone number");
    /* Exactly the limit is fine. */
    assert_int_equal(std_phone(in + 2, STD_PHONE_MAX_INPUT, "CN", out, sizeof(out), &why), 0);
    assert_string_equal(out, MOBILE);
    assert_null(why);

    /* The output needs 15 bytes: a smaller buffer is ERR_LIMIT and left empty. */
    char small[15];
    assert_int_equal(std_phone("13800138000", 11, "CN", small, 14, &why), ERR_LIMIT);
    assert_string_equal(small, "");
    assert_int_equal(std_phone("13800138000", 11, "CN", small, 15, &why), 0);
    assert_string_equal(small, MOBILE);
    assert_int_equal(std_phone("13800138000", 11, "CN", small, 0, NULL), ERR_LIMIT);
    /* NULL input with length 0, NULL why. */
    assert_int_equal(std_phone(NULL, 0, "CN", out, sizeof(out), NULL), ERR_INVALID);
}

static void test_phone_placeholders(void **state)
{
    (void)state;
    static const char *const junk[] = {
        "+8613800000000", "+8613800138000", "+8613888888888", "+8611111111111",
        "+8612345678901", "+8613900000000", "+8613912345678", "+8618887654321",
        "+864008208820",  "+868008100000",  "+85288888888",   "+85212345678",
        "+11111111111",   "+1234567890",    "+8613300000000", "+8615012345678",
    };
    static const char *const fine[] = {
        "+8613912345679", "+8613800138001", "+85291234567",  "+16502530000",
        "+861012345678",  "+8675512345678", "+886912345678", "+8615012345679",
    };
    for (size_t k = 0; k < ARRAY_SIZE(junk); k++)
        if (!std_phone_is_placeholder(junk[k]))
            fail_msg("%s should be a placeholder", junk[k]);
    for (size_t k = 0; k < ARRAY_SIZE(fine); k++)
        if (std_phone_is_placeholder(fine[k]))
            fail_msg("%s should not be a placeholder", fine[k]);
    assert_false(std_phone_is_placeholder(NULL));
    assert_false(std_phone_is_placeholder(""));
    assert_false(std_phone_is_placeholder("+"));
    assert_false(std_phone_is_placeholder("13800138000"));
    assert_false(std_phone_is_placeholder("+86abc"));
    assert_false(std_phone_is_placeholder("+8"));
    assert_false(std_phone_is_placeholder("+1111111"));
    assert_false(std_phone_is_placeholder("+1111111111111111"));

    /* Through std_phone, as identity resolution will use them. */
    char out[STD_PHONE_CAP];
    assert_int_equal(std_phone("138 0013 8000", 13, "CN", out, sizeof(out), NULL), 0);
    assert_true(std_phone_is_placeholder(out));
    assert_int_equal(std_phone("139-1234-5679", 13, "CN", out, sizeof(out), NULL), 0);
    assert_false(std_phone_is_placeholder(out));
}

/* ---- Emails -------------------------------------------------------------------------- */

struct text_case {
    const char *in;
    const char *want; /* the result, or NULL */
    const char *why;  /* the reason when want is NULL */
};

static const struct text_case email_cases[] = {
    {"zhang.wei@qq.com", "zhang.wei@qq.com", NULL},
    {"  Zhang.Wei@QQ.com  ", "zhang.wei@qq.com", NULL},
    {"ZHANG.WEI@163.COM", "zhang.wei@163.com", NULL},
    {"\xef\xbc\xba\xef\xbc\xa8\xef\xbc\xa1\xef\xbc\xae\xef\xbc\xa7\xef\xbc\xa0\xef\xbc\x91\xef"
     "\xbc\x96\xef\xbc\x93\xef\xbc\x8e\xef\xbd\x83\xef\xbd\x8f\xef\xbd\x8d", /* ＺＨＡＮＧ＠１６３．ｃｏｍ
                                                                              */
     "zhang@163.com", NULL},
    {IDEO_SP "liu@126.com" IDEO_SP, "liu@126.com", NULL},
    {BOM "chen@gmail.com" ZWSP, "chen@gmail.com", NULL},
    {NBSP "\tli@sina.cn\r\n", "li@sina.cn", NULL},
    {"zhao@163\xe3\x80\x82"
     "com",
     "zhao@163.com", NULL}, /* 。 */
    {"wang_fang+crm@163.com", "wang_fang+crm@163.com", NULL},
    {"li.na@mail.sina.com.cn", "li.na@mail.sina.com.cn", NULL},
    {"o'brien@example.ie", "o'brien@example.ie", NULL},
    {"a-b@my-domain.co", "a-b@my-domain.co", NULL},
    {"user@shop.xn--fiqs8s", "user@shop.xn--fiqs8s", NULL},
    {"123456789@QQ.COM", "123456789@qq.com", NULL},
    {"TEST@TEST.COM", "test@test.com", NULL},
    {"", NULL, "empty email address"},
    {"  " IDEO_SP, NULL, "empty email address"},
    {"null", NULL, "a word for no value (null, none, n/a, -), not an address"},
    {" NULL ", NULL, "a word for no value (null, none, n/a, -), not an address"},
    {"N/A", NULL, "a word for no value (null, none, n/a, -), not an address"},
    {"None", NULL, "a word for no value (null, none, n/a, -), not an address"},
    {"-", NULL, "a word for no value (null, none, n/a, -), not an address"},
    {"\xe6\x97\xa0", NULL, "a word for no value (null, none, n/a, -), not an address"}, /* 无 */
    {"zhang.wei.qq.com", NULL, "no @ in an email address"},
    {"a@b@c.com", NULL, "more than one @ in an email address"},
    {"@qq.com", NULL, "nothing before the @"},
    {"zhang@", NULL, "nothing after the @"},
    {"zhang@qq", NULL, "no dot in the email domain"},
    {"zhang..wei@qq.com", NULL, "consecutive dots in an email address"},
    {"zhang@qq..com", NULL, "consecutive dots in an email address"},
    {".zhang@qq.com", NULL, "dot at the start or end of the email local part"},
    {"zhang.@qq.com", NULL, "dot at the start or end of the email local part"},
    {"zhang wei@qq.com", NULL, "spaces inside an email address"},
    {"zhang@qq,com", NULL, "comma or semicolon in an email address"},
    {"a@b.com;c@d.com", NULL, "comma or semicolon in an email address"},
    {"\xe5\xbc\xa0\xe4\xbc\x9f@qq.com", NULL, "non-ASCII character in an email address"},
    {"zhang@-qq.com", NULL, "email domain label starts or ends with a hyphen"},
    {"zhang@qq-.com", NULL, "email domain label starts or ends with a hyphen"},
    {"zhang@qq.com.", NULL, "dot at the start or end of the email domain"},
    {"zhang@.qq.com", NULL, "dot at the start or end of the email domain"},
    {"zhang@1.2.3.4", NULL, "email domain ends in a number"},
    {"zhang@[1.2.3.4]", NULL, "character not allowed in an email domain"},
    {"zhang@qq_mail.com", NULL, "character not allowed in an email domain"},
    {"<zhang@qq.com>", NULL, "character not allowed in an email local part"},
    {"mailto:zhang@qq.com", NULL, "character not allowed in an email local part"},
    {"zhang@qq.c", NULL, "email top-level domain of one character"},
    {"\xc3\x28@qq.com", NULL, "not valid UTF-8"},
    {"zh\x01"
     "ang@qq.com",
     NULL, "control character in an email address"},
};

static void run_text_cases(const char *what, const struct text_case *cases, size_t count,
                           int (*fn)(const char *, size_t, char *, size_t, const char **),
                           size_t cap)
{
    for (size_t k = 0; k < count; k++) {
        const struct text_case *c = &cases[k];
        size_t n = strlen(c->in);
        char *p = heap_copy(c->in, n);
        char *out = malloc(cap);
        assert_non_null(out);
        const char *why = "junk";
        int rc = fn(p, n, out, cap, &why);
        free(p);
        check_why(c->in, rc, why, c->want ? 0 : ERR_INVALID, c->why);
        if (c->want && strcmp(out, c->want) != 0)
            fail_msg("%s case \"%s\": \"%s\", want \"%s\"", what, c->in, out, c->want);
        if (!c->want)
            assert_string_equal(out, "");
        if (rc == 0) { /* standardizing twice changes nothing */
            char *again = malloc(cap);
            assert_non_null(again);
            assert_int_equal(fn(out, strlen(out), again, cap, NULL), 0);
            assert_string_equal(again, out);
            free(again);
        }
        free(out);
    }
}

static void test_email_cases(void **state)
{
    (void)state;
    assert_true(ARRAY_SIZE(email_cases) >= 25);
    run_text_cases("email", email_cases, ARRAY_SIZE(email_cases), std_email, STD_EMAIL_CAP);
}

static void test_email_lengths(void **state)
{
    (void)state;
    char in[400], out[STD_EMAIL_CAP];
    const char *why;
    /* A 64-byte local part is the most. */
    memset(in, 'a', 64);
    memcpy(in + 64, "@qq.com", 7);
    assert_int_equal(std_email(in, 71, out, sizeof(out), &why), 0);
    memset(in, 'b', 65);
    memcpy(in + 65, "@qq.com", 7);
    assert_int_equal(std_email(in, 72, out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "email local part longer than 64 bytes");
    /* 254 bytes in all is the most: "x@" and 63-byte labels. */
    size_t n = 0;
    in[n++] = 'x';
    in[n++] = '@';
    while (n < 254 - 63) {
        memset(in + n, 'd', 62);
        in[n + 62] = '.';
        n += 63;
    }
    memset(in + n, 'e', 254 - n);
    n = 254;
    assert_int_equal(std_email(in, n, out, sizeof(out), &why), 0);
    assert_int_equal(strlen(out), 254);
    in[n++] = 'e';
    assert_int_equal(std_email(in, n, out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "email address longer than 254 bytes");
    /* A 64-byte domain label is too long. */
    memset(in, 'c', 64);
    memcpy(in, "x@", 2);
    memcpy(in + 66, ".com", 4);
    memset(in + 2, 'c', 64);
    assert_int_equal(std_email(in, 70, out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "email domain label longer than 63 bytes");
    /* Too small an output buffer. */
    assert_int_equal(std_email("li@qq.com", 9, out, 9, &why), ERR_LIMIT);
    assert_string_equal(out, "");
    assert_int_equal(std_email("li@qq.com", 9, out, 10, &why), 0);
    assert_int_equal(std_email(NULL, 0, out, sizeof(out), &why), ERR_INVALID);
}

static void test_email_placeholders(void **state)
{
    (void)state;
    static const char *const junk[] = {
        "test@test.com",  "john@example.com",     "a@example.org",    "x@mail.example.com",
        "li@example.net", "noreply@jd.com",       "no-reply@vip.com", "donotreply@bank.cn",
        "a@a.com",        "do-not-reply@bank.cn", "aaa@qq.com",       "111111@qq.com",
        "123456@163.com", "abc@163.com",          "654321@qq.com",    "qwerty@gmail.com",
        "user@host.test", "test@qq.com",          "x@shop.invalid",
    };
    static const char *const fine[] = {
        "zhang.wei@qq.com", "13800138000@163.com", "li@example.cn",   "ab@163.com",
        "a1@qq.com",        "317512345@qq.com",    "tester@corp.com",
    };
    for (size_t k = 0; k < ARRAY_SIZE(junk); k++)
        if (!std_email_is_placeholder(junk[k]))
            fail_msg("%s should be a placeholder", junk[k]);
    for (size_t k = 0; k < ARRAY_SIZE(fine); k++)
        if (std_email_is_placeholder(fine[k]))
            fail_msg("%s should not be a placeholder", fine[k]);
    assert_false(std_email_is_placeholder(NULL));
    assert_false(std_email_is_placeholder("not-an-address"));
}

/* ---- Names --------------------------------------------------------------------------- */

#define ABDU     "\xe9\x98\xbf\xe5\x8d\x9c\xe6\x9d\x9c" /* 阿卜杜 */
#define REHEMAN  "\xe7\x83\xad\xe5\x90\x88\xe6\x9b\xbc" /* 热合曼 */
#define ZHANGWEI "\xe5\xbc\xa0\xe4\xbc\x9f"             /* 张伟 */

static const struct text_case name_cases[] = {
    {ZHANGWEI, ZHANGWEI, NULL},
    {"  " ZHANGWEI "  ", ZHANGWEI, NULL},
    {IDEO_SP ZHANGWEI IDEO_SP, ZHANGWEI, NULL},
    {"\xe5\xbc\xa0 \xe4\xbc\x9f", "\xe5\xbc\xa0 \xe4\xbc\x9f",
     NULL}, /* spaces are kept, collapsed */
    {"\xe6\x9d\x8e" ZWSP "\xe6\x98\x8e", "\xe6\x9d\x8e\xe6\x98\x8e", NULL}, /* 李明 */
    {"Zhang   Wei", "Zhang Wei", NULL},
    {"John\tSmith", "John Smith", NULL},
    {"Zhang" IDEO_SP IDEO_SP "Wei", "Zhang Wei", NULL},
    {"\xef\xbc\xba\xef\xbc\xa8\xef\xbc\xa1\xef\xbc\xae\xef\xbc\xa7" IDEO_SP
     "\xef\xbc\xb7\xef\xbd\x85\xef\xbd\x89", /* ＺＨＡＮＧ　Ｗｅｉ */
     "ZHANG Wei", NULL},
    {"zhang wei", "zhang wei", NULL}, /* case is kept */
    {ABDU MID_DOT REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU KATA_DOT REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU BULLET REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU FW_STOP REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU HW_DOT REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU "." REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU " " MID_DOT " " REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU IDEO_SP BULLET IDEO_SP REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU MID_DOT MID_DOT REHEMAN, ABDU MID_DOT REHEMAN, NULL},
    {ABDU MID_DOT ZHANGWEI KATA_DOT REHEMAN, ABDU MID_DOT ZHANGWEI MID_DOT REHEMAN, NULL},
    {"J.K. Rowling", "J.K. Rowling", NULL},
    {"\xef\xbc\xaa\xef\xbc\x8e\xef\xbc\xab\xef\xbc\x8e Rowling", "J.K. Rowling",
     NULL},                                                       /* Ｊ．Ｋ． */
    {ABDU " " MID_DOT " Smith", ABDU " " MID_DOT " Smith", NULL}, /* not between Han */
    {"O'Brien", "O'Brien", NULL},
    {"Jos\xc3\xa9 Garc\xc3\xad"
     "a",
     "Jos\xc3\xa9 Garc\xc3\xad"
     "a",
     NULL},
    {"\xe5\xbc\xa0\xe4\xbc\x9f"
     "2",
     "\xe5\xbc\xa0\xe4\xbc\x9f"
     "2",
     NULL},
    {"", NULL, "empty name"},
    {" " IDEO_SP ZWSP, NULL, "empty name"},
    {"null", NULL, "a placeholder word (null, test, \xe6\x9c\xaa\xe7\x9f\xa5 ...), not a name"},
    {" NULL ", NULL, "a placeholder word (null, test, \xe6\x9c\xaa\xe7\x9f\xa5 ...), not a name"},
    {"Test", NULL, "a placeholder word (null, test, \xe6\x9c\xaa\xe7\x9f\xa5 ...), not a name"},
    {"\xe6\xb5\x8b\xe8\xaf\x95", NULL, /* 测试 */
     "a placeholder word (null, test, \xe6\x9c\xaa\xe7\x9f\xa5 ...), not a name"},
    {"\xe6\x9c\xaa\xe7\x9f\xa5", NULL, /* 未知 */
     "a placeholder word (null, test, \xe6\x9c\xaa\xe7\x9f\xa5 ...), not a name"},
    {"123", NULL, "no letters in a name"},
    {"-", NULL, "no letters in a name"},
    {"\xff", NULL, "not valid UTF-8"},
    {"Zhang\x01Wei", NULL, "control character in a name"},
};

static void test_name_cases(void **state)
{
    (void)state;
    assert_true(ARRAY_SIZE(name_cases) >= 15);
    run_text_cases("name", name_cases, ARRAY_SIZE(name_cases), std_name, STD_NAME_CAP);
}

static void test_name_lengths(void **state)
{
    (void)state;
    char in[STD_NAME_MAX_INPUT + 1], out[STD_NAME_CAP];
    const char *why;
    memset(in, 'a', sizeof(in));
    assert_int_equal(std_name(in, STD_NAME_MAX, out, sizeof(out), &why), 0);
    assert_int_equal(strlen(out), STD_NAME_MAX);
    assert_int_equal(std_name(in, STD_NAME_MAX + 1, out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "name longer than 256 bytes");
    assert_int_equal(std_name(in, sizeof(in), out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "longer than 1024 bytes: not a name");
    /* Padding does not count against the result. */
    memset(in, ' ', STD_NAME_MAX_INPUT);
    memcpy(in + 500, "Li Na", 5);
    assert_int_equal(std_name(in, STD_NAME_MAX_INPUT, out, sizeof(out), &why), 0);
    assert_string_equal(out, "Li Na");
    /* '.' grows to U+00B7 between Han: 85 x "张." is 340 bytes in, too long out. */
    size_t n = 0;
    for (int k = 0; k < 60; k++) {
        memcpy(in + n, "\xe5\xbc\xa0.", 4);
        n += 4;
    }
    memcpy(in + n, "\xe5\xbc\xa0", 3);
    n += 3; /* 243 bytes in; 60 dots become 2 bytes each: 303 out */
    assert_int_equal(std_name(in, n, out, sizeof(out), &why), ERR_INVALID);
    assert_string_equal(why, "name longer than 256 bytes");
    /* Too small an output buffer. */
    assert_int_equal(std_name(ZHANGWEI, 6, out, 6, &why), ERR_LIMIT);
    assert_string_equal(out, "");
    assert_int_equal(std_name(ZHANGWEI, 6, out, 7, &why), 0);
    assert_string_equal(out, ZHANGWEI);
}

/* ---- Resident ID numbers --------------------------------------------------------------- */

/* An independent computation of the GB 11643 check character, as the test's oracle. */
static void make_id(char out[STD_ID_LEN + 1], const char *region, const char *birth,
                    const char *seq)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    snprintf(out, STD_ID_LEN + 1, "%.6s%.8s%.3s", region, birth, seq);
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
}

struct id_case {
    const char *name;
    const char *in;                   /* a literal, or NULL to make one from: */
    const char *region, *birth, *seq; /* (with the right check character) */
    const char *want;                 /* the result, NULL for the input itself, "" to fail */
    const char *why;
    const char *sex;
    bool upgraded;
};

#define ID_PUBLIC "11010519491231002X"

static const struct id_case id_cases[] = {
    {"public example", ID_PUBLIC, .sex = "female"},
    {"lower-case x", "11010519491231002x", .want = ID_PUBLIC, .sex = "female"},
    {"full-width",
     "\xef\xbc\x91\xef\xbc\x91\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90\xef\xbc\x95\xef"
     "\xbc\x91\xef\xbc\x99\xef\xbc\x94\xef\xbc\x99\xef\xbc\x91\xef\xbc\x92\xef\xbc"
     "\x93\xef\xbc\x91\xef\xbc\x90\xef\xbc\x90\xef\xbc\x92\xef\xbc\xb8",
     .want = ID_PUBLIC, .sex = "female"},
    {"groups with spaces", " 110105 19491231 002X ", .want = ID_PUBLIC, .sex = "female"},
    {"groups with dashes", "110105-19491231-002X", .want = ID_PUBLIC, .sex = "female"},
    {"15 digits", "110105491231002", .want = ID_PUBLIC, .sex = "female", .upgraded = true},
    {"Shenzhen male", NULL, "440305", "19900307", "123", .sex = "male"},
    {"leap day", NULL, "310101", "20000229", "015", .sex = "male"},
    {"Xinjiang", NULL, "650102", "19851015", "030", .sex = "female"},
    {"Hong Kong residence permit", NULL, "810000", "19950101", "012", .sex = "female"},
    {"Macau", NULL, "820000", "19881111", "019", .sex = "male"},
    {"Taiwan 83", NULL, "830000", "19770707", "021", .sex = "male"},
    {"foreigner 91", NULL, "910000", "19800101", "028", .sex = "female"},
    {"born 1900-01-01", NULL, "370102", "19000101", "011", .sex = "male"},
    {"wrong check digit", "110105194912310021", .want = "", .why = "check digit does not match"},
    {"province 00", NULL, "000000", "19900101", "011", .want = "",
     .why = "unknown province code (first two digits)"},
    {"province 16", NULL, "160000", "19900101", "011", .want = "",
     .why = "unknown province code (first two digits)"},
    {"province 72", NULL, "720000", "19900101", "011", .want = "",
     .why = "unknown province code (first two digits)"},
    {"February 30", NULL, "110105", "19900230", "011", .want = "",
     .why = "birth date is not a date"},
    {"1900 was not a leap year", NULL, "110105", "19000229", "011", .want = "",
     .why = "birth date is not a date"},
    {"month 13", NULL, "110105", "19901301", "011", .want = "", .why = "birth date is not a date"},
    {"day 00", NULL, "110105", "19900100", "011", .want = "", .why = "birth date is not a date"},
    {"before 1900", NULL, "110105", "18991231", "011", .want = "", .why = "birth date before 1900"},
    {"future", NULL, "110105", "20991231", "011", .want = "", .why = "birth date in the future"},
    {"17 characters", "11010519491231002", .want = "",
     .why = "wrong length for a resident ID number (18 or 15 characters)"},
    {"19 characters", "11010519491231002X1", .want = "",
     .why = "wrong length for a resident ID number (18 or 15 characters)"},
    {"X inside", "1101051949123100X2", .want = "",
     .why = "X before the last character of an ID number"},
    {"X in 15 digits", "11010549123100X", .want = "", .why = "X in a 15-digit ID number"},
    {"15 digits, bad date", "110105490231002", .want = "", .why = "birth date is not a date"},
    {"masked", "110105********002X", .want = "", .why = "masked ID number (contains *)"},
    {"letter", "11010519491231002A", .want = "", .why = "unexpected character in an ID number"},
    {"empty", "", .want = "", .why = "empty ID number"},
    {"bad UTF-8", "1101051949\xe4\xb8", .want = "", .why = "not valid UTF-8"},
};

static void test_id_cases(void **state)
{
    (void)state;
    assert_true(ARRAY_SIZE(id_cases) >= 20);
    for (size_t k = 0; k < ARRAY_SIZE(id_cases); k++) {
        const struct id_case *c = &id_cases[k];
        char made[STD_ID_LEN + 1];
        const char *in = c->in;
        if (!in) {
            make_id(made, c->region, c->birth, c->seq);
            in = made;
        }
        const char *want = c->want ? c->want : in;
        bool ok = *want != '\0';
        char *p = heap_copy(in, strlen(in));
        char out[STD_ID_LEN + 1] = "junk";
        struct std_id_info info;
        memset(&info, 0x5a, sizeof(info));
        const char *why = "junk";
        int rc = std_id_number(p, strlen(in), out, &info, &why);
        free(p);
        check_why(c->name, rc, why, ok ? 0 : ERR_INVALID, c->why);
        if (!ok) {
            assert_string_equal(out, "");
            assert_int_equal(info.birth_year, 0);
            assert_null(info.sex);
            continue;
        }
        if (strcmp(out, want) != 0)
            fail_msg("case \"%s\": \"%s\", want \"%s\"", c->name, out, want);
        char ymd[16];
        snprintf(ymd, sizeof(ymd), "%04d%02d%02d", info.birth_year, info.birth_month,
                 info.birth_day);
        assert_memory_equal(ymd, out + 6, 8);
        assert_string_equal(info.sex, c->sex);
        assert_int_equal(info.province, (out[0] - '0') * 10 + (out[1] - '0'));
        assert_int_equal(info.upgraded_15, c->upgraded);
        char again[STD_ID_LEN + 1];
        assert_int_equal(std_id_number(out, STD_ID_LEN, again, NULL, NULL), 0);
        assert_string_equal(again, out);
    }
}

/* Every digit of a valid number, changed, breaks the check (MOD 11-2 catches any single
 * substitution); swapping two different neighbours does too. */
static void test_id_check_catches_typos(void **state)
{
    (void)state;
    char id[STD_ID_LEN + 1], out[STD_ID_LEN + 1];
    make_id(id, "440305", "19900307", "123");
    assert_int_equal(std_id_number(id, STD_ID_LEN, out, NULL, NULL), 0);
    for (int i = 14; i < 18; i++) { /* the sequence and check: no date or province rule */
        char saved = id[i];
        for (const char *d = "0123456789X"; *d; d++) {
            if (*d == saved || (i < 17 && *d == 'X'))
                continue;
            id[i] = *d;
            const char *why = NULL;
            assert_int_equal(std_id_number(id, STD_ID_LEN, out, NULL, &why), ERR_INVALID);
            assert_string_equal(why, "check digit does not match");
        }
        id[i] = saved;
    }
    for (int i = 0; i + 1 < 17; i++) {
        if (id[i] == id[i + 1])
            continue;
        char t = id[i];
        id[i] = id[i + 1];
        id[i + 1] = t;
        assert_int_equal(std_id_number(id, STD_ID_LEN, out, NULL, NULL), ERR_INVALID);
        id[i + 1] = id[i];
        id[i] = t;
    }
}

/* Every two-digit province code: valid exactly for the GB/T 2260 list. */
static void test_id_provinces(void **state)
{
    (void)state;
    static const int known[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91};
    for (unsigned p = 0; p < 100; p++) {
        char region[16], id[STD_ID_LEN + 1], out[STD_ID_LEN + 1];
        snprintf(region, sizeof(region), "%02u0102", p);
        make_id(id, region, "19800101", "001");
        bool want = false;
        for (size_t k = 0; k < ARRAY_SIZE(known); k++)
            want = want || known[k] == (int)p;
        const char *why = NULL;
        int rc = std_id_number(id, STD_ID_LEN, out, NULL, &why);
        if ((rc == 0) != want)
            fail_msg("province %02u: rc %d (%s)", p, rc, why ? why : "-");
    }
}

/* Today in China is a valid birth date; tomorrow is not. */
static void test_id_today(void **state)
{
    (void)state;
    char iso[32], birth[9], id[STD_ID_LEN + 1], out[STD_ID_LEN + 1];
    int64_t now = time_now_ms() + INT64_C(8) * 3600 * 1000;
    for (int day = 0; day < 2; day++) {
        time_format_iso8601(now + day * INT64_C(86400000), iso);
        snprintf(birth, sizeof(birth), "%.4s%.2s%.2s", iso, iso + 5, iso + 8);
        make_id(id, "110105", birth, "001");
        const char *why = NULL;
        int rc = std_id_number(id, STD_ID_LEN, out, NULL, &why);
        /* Around midnight the clock may move between the two reads. */
        if (day == 0 && rc != 0)
            fail_msg("today (%s) refused: %s", birth, why);
        if (day == 1 && rc == 0)
            fail_msg("tomorrow (%s) accepted", birth);
        if (day == 1)
            assert_string_equal(why, "birth date in the future");
    }
}

/* ---- Gender -------------------------------------------------------------------------- */

static void test_gender(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want, *why;
    } cases[] = {
        {"\xe7\x94\xb7", "male", NULL},               /* 男 */
        {"\xe5\xa5\xb3", "female", NULL},             /* 女 */
        {" \xe7\x94\xb7\xe6\x80\xa7 ", "male", NULL}, /* 男性 */
        {"\xe5\xa5\xb3\xe5\xa3\xab", "female", NULL}, /* 女士 */
        {"\xe5\x85\x88\xe7\x94\x9f", "male", NULL},   /* 先生 */
        {"\xe5\xb0\x8f\xe5\xa7\x90", "female", NULL}, /* 小姐 */
        {"M", "male", NULL},
        {"f", "female", NULL},
        {"Male", "male", NULL},
        {"FEMALE", "female", NULL},
        {"1", "male", NULL},
        {"2", "female", NULL},
        {"\xef\xbc\x91", "male", NULL},   /* １ */
        {"\xef\xbc\xa6", "female", NULL}, /* Ｆ */
        {"Mr.", "male", NULL},
        {"Ms", "female", NULL},
        {"\xe2\x99\x80", "female", NULL}, /* ♀ */
        {"", NULL, "empty gender"},
        {IDEO_SP, NULL, "empty gender"},
        {"0", NULL, "gender not stated (unknown, \xe4\xbf\x9d\xe5\xaf\x86, 0, 9)"},
        {"9", NULL, "gender not stated (unknown, \xe4\xbf\x9d\xe5\xaf\x86, 0, 9)"},
        {"\xe4\xbf\x9d\xe5\xaf\x86", NULL, /* 保密 */
         "gender not stated (unknown, \xe4\xbf\x9d\xe5\xaf\x86, 0, 9)"},
        {"Unknown", NULL, "gender not stated (unknown, \xe4\xbf\x9d\xe5\xaf\x86, 0, 9)"},
        {"other", NULL, "gender neither male nor female"},
        {"3", NULL, "not a recognised gender value"},
        {"males", NULL, "not a recognised gender value"},
        {"a very long value that is no gender", NULL, "not a recognised gender value"},
        {"\xfe", NULL, "not valid UTF-8"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        size_t n = strlen(cases[k].in);
        char *p = heap_copy(cases[k].in, n);
        char out[STD_GENDER_CAP] = "junk";
        const char *why = "junk";
        int rc = std_gender(p, n, out, &why);
        free(p);
        check_why(cases[k].in, rc, why, cases[k].want ? 0 : ERR_INVALID, cases[k].why);
        assert_string_equal(out, cases[k].want ? cases[k].want : "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_fold_width),
        cmocka_unit_test(test_phone_cases),
        cmocka_unit_test(test_phone_long_and_capacity),
        cmocka_unit_test(test_phone_placeholders),
        cmocka_unit_test(test_email_cases),
        cmocka_unit_test(test_email_lengths),
        cmocka_unit_test(test_email_placeholders),
        cmocka_unit_test(test_name_cases),
        cmocka_unit_test(test_name_lengths),
        cmocka_unit_test(test_id_cases),
        cmocka_unit_test(test_id_check_catches_typos),
        cmocka_unit_test(test_id_provinces),
        cmocka_unit_test(test_id_today),
        cmocka_unit_test(test_gender),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
