/* fuzz_standardize.c - every standardization function on the same input. The first
 * byte picks the phone's default region (bits 0-2) and a small output capacity for a
 * second run (the rest); the other bytes are the value. Checks what standardize.h
 * promises: a known return code, a reason exactly when it fails, output NUL-terminated
 * valid UTF-8 within its capacity, the shape of each result, that standardizing a
 * result again changes nothing, and that a smaller buffer either gives the same result
 * or ERR_LIMIT. Build for libFuzzer with `make fuzz-libfuzzer`; the suite replays
 * fuzz/corpus/standardize. */
#include "core/text.h"
#include "govern/standardize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 4096 /* past the longest input any function looks at */

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_standardize: %s\n", what);
        abort();
    }
}

/* out[0..cap) holds a NUL, and what comes before it is valid UTF-8. */
static void check_text(const char *out, size_t cap, const char *what)
{
    const char *nul = memchr(out, '\0', cap);
    check(nul != NULL, what);
    check(text_scan_json(out, (size_t)(nul - out), INT_MAX, NULL) == 0, what);
}

static void check_rc(int rc, const char *why, const char *out)
{
    check(rc == 0 || rc == ERR_INVALID, "an unexpected return code");
    check(rc == 0 ? why == NULL : why != NULL && *why != '\0', "a reason iff it fails");
    check(rc == 0 || out[0] == '\0', "output left behind on failure");
}

typedef int (*std_text_fn)(const char *, size_t, char *, size_t, const char **);

/* Runs fn with a full buffer, then again on its result and with a small buffer. */
static void run_text(std_text_fn fn, const char *in, size_t n, size_t full, size_t small, char *out,
                     char *again)
{
    const char *why = "unset";
    memset(out, 0x5a, full);
    int rc = fn(in, n, out, full, &why);
    check_rc(rc, why, out);
    check_text(out, full, "result not NUL-terminated UTF-8");
    if (rc == 0) {
        size_t len = strlen(out);
        check(len > 0, "an empty result");
        check(fn(out, len, again, full, NULL) == 0 && strcmp(again, out) == 0, "not idempotent");
        check(out[0] != ' ' && out[len - 1] != ' ', "untrimmed result");
    }
    int small_rc = fn(in, n, again, small, &why);
    check(small_rc == 0 || small_rc == ERR_INVALID || small_rc == ERR_LIMIT, "small: rc");
    if (small > 0)
        check_text(again, small, "small: not NUL-terminated UTF-8");
    if (small_rc == 0)
        check(rc == 0 && strcmp(again, out) == 0, "small: a different result");
    else if (small_rc == ERR_LIMIT)
        check(rc == ERR_INVALID || (rc == 0 && strlen(out) + 1 > small), "small: a false limit");
    else
        check(rc == ERR_INVALID, "small: invalid only when small");
}

static void fuzz_phone(const char *in, size_t n, const char *region, size_t small)
{
    char out[STD_PHONE_CAP], again[STD_PHONE_CAP];
    const char *why = "unset";
    int rc = std_phone(in, n, region, out, sizeof(out), &why);
    check_rc(rc, why, out);
    check_text(out, sizeof(out), "phone: not NUL-terminated");
    if (rc == 0) {
        size_t len = strlen(out);
        check(out[0] == '+' && len >= 9 && len <= 1 + STD_PHONE_MAX_DIGITS, "phone: length");
        check(strspn(out + 1, "0123456789") == len - 1 && out[1] != '0', "phone: not E.164");
        check(std_phone(out, len, NULL, again, sizeof(again), NULL) == 0 && strcmp(again, out) == 0,
              "phone: not idempotent");
        (void)std_phone_is_placeholder(out);
    }
    small %= STD_PHONE_CAP;
    int small_rc = std_phone(in, n, region, again, small, &why);
    if (small > 0)
        check_text(again, small, "phone small: not NUL-terminated");
    if (small_rc == 0)
        check(rc == 0 && strcmp(again, out) == 0, "phone small: a different result");
    else if (small_rc == ERR_LIMIT)
        check(rc == 0 && strlen(out) + 1 > small, "phone small: a false limit");
    else
        check(small_rc == rc, "phone small: rc");
}

static void fuzz_email(const char *in, size_t n, size_t small)
{
    char out[STD_EMAIL_CAP], again[STD_EMAIL_CAP];
    run_text(std_email, in, n, sizeof(out), small % sizeof(out), out, again);
    if (out[0]) {
        check(strlen(out) <= STD_EMAIL_MAX, "email: too long");
        check(strchr(out, '@') && strchr(out, '@') == strrchr(out, '@'), "email: not one @");
        for (const char *p = out; *p; p++)
            check(*p > ' ' && *p < 0x7f && !(*p >= 'A' && *p <= 'Z'), "email: not lower ASCII");
        (void)std_email_is_placeholder(out);
    }
}

static void fuzz_name(const char *in, size_t n, size_t small)
{
    char out[STD_NAME_CAP], again[STD_NAME_CAP];
    run_text(std_name, in, n, sizeof(out), small % sizeof(out), out, again);
    if (out[0]) {
        check(strlen(out) <= STD_NAME_MAX, "name: too long");
        check(!strstr(out, "  "), "name: white space not collapsed");
    }
}

static void fuzz_id(const char *in, size_t n)
{
    char out[STD_ID_LEN + 1], again[STD_ID_LEN + 1];
    struct std_id_info info, info2;
    const char *why = "unset";
    memset(out, 0x5a, sizeof(out));
    int rc = std_id_number(in, n, out, &info, &why);
    check_rc(rc, why, out);
    check_text(out, sizeof(out), "id: not NUL-terminated");
    if (rc != 0) {
        check(info.sex == NULL && info.birth_year == 0, "id: info left behind");
        return;
    }
    check(strlen(out) == STD_ID_LEN && strspn(out, "0123456789") >= 17, "id: shape");
    check(info.birth_year >= 1900 && info.birth_month >= 1 && info.birth_month <= 12 &&
              info.birth_day >= 1 && info.birth_day <= 31,
          "id: birth date");
    check(info.sex && (strcmp(info.sex, "male") == 0 || strcmp(info.sex, "female") == 0),
          "id: sex");
    check(std_id_number(out, STD_ID_LEN, again, &info2, NULL) == 0 && strcmp(again, out) == 0,
          "id: not idempotent");
    check(info2.birth_year == info.birth_year && info2.province == info.province &&
              !info2.upgraded_15,
          "id: info differs");
}

static void fuzz_gender(const char *in, size_t n)
{
    char out[STD_GENDER_CAP];
    const char *why = "unset";
    memset(out, 0x5a, sizeof(out));
    int rc = std_gender(in, n, out, &why);
    check_rc(rc, why, out);
    check(rc != 0 || strcmp(out, "male") == 0 || strcmp(out, "female") == 0, "gender: value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const regions[] = {"CN", NULL, "HK", "MO", "TW", "cn", "", "US"};
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    const char *region = regions[data[0] & 7];
    size_t small = data[0] >> 3;
    /* An exact-size copy, so that ASan sees a read past the end. */
    size_t n = size - 1;
    char *in = malloc(n ? n : 1);
    if (!in)
        return 0;
    memcpy(in, data + 1, n);
    fuzz_phone(in, n, region, small);
    fuzz_email(in, n, small * 9); /* 0..279: below and above the 255 needed */
    fuzz_name(in, n, small * 9);
    fuzz_id(in, n);
    fuzz_gender(in, n);
    free(in);
    return 0;
}
