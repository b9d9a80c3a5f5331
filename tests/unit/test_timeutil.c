/* test_timeutil.c - clocks, ISO 8601 parsing and formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/timeutil.h"

#define MS_2026_03_14_150926 INT64_C(1773500966000)   /* 2026-03-14T15:09:26Z */
#define MS_YEAR_1            INT64_C(-62135596800000) /* 0001-01-01T00:00:00Z */
#define MS_YEAR_9999_END     INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

/* Expected values were computed independently with Python's datetime. */
static const struct {
    const char *s;
    int64_t ms;
} valid_cases[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01", 0},
    {"1969-12-31T23:59:59.999Z", -1},
    {"2026-03-14T15:09:26Z", MS_2026_03_14_150926},
    {"2026-03-14T15:09:26.535Z", MS_2026_03_14_150926 + 535},
    {"2026-03-14T15:09:26.5Z", MS_2026_03_14_150926 + 500},
    {"2026-03-14T15:09:26.12Z", MS_2026_03_14_150926 + 120},
    {"2026-03-14T15:09:26.123456789Z", MS_2026_03_14_150926 + 123},
    {"2026-03-14T15:09:26.999999999Z", MS_2026_03_14_150926 + 999}, /* truncated, not rounded */
    {"2026-03-14T15:09Z", MS_2026_03_14_150926 - 26000},
    {"2026-03-14T15:09", MS_2026_03_14_150926 - 26000},
    {"2026-03-14T15:09:26", MS_2026_03_14_150926},
    {"2026-03-14t15:09:26z", MS_2026_03_14_150926},
    {"2026-03-14 15:09:26Z", MS_2026_03_14_150926},
    {"2026-03-14T15:09:26+00:00", MS_2026_03_14_150926},
    {"2026-03-14T15:09:26-00:00", MS_2026_03_14_150926},
    {"2026-03-14T10:09:26-05:00", MS_2026_03_14_150926},
    {"2026-03-14T10:09:26.535-05:00", MS_2026_03_14_150926 + 535},
    {"2026-03-14T23:09:26+08:00", MS_2026_03_14_150926},
    {"2026-03-14T23:09:26+0800", MS_2026_03_14_150926},
    {"2026-03-14T23:09:26+08", MS_2026_03_14_150926},
    {"2026-03-14T20:39:26+05:30", MS_2026_03_14_150926},
    {"2026-03-14T05:39:26-09:30", MS_2026_03_14_150926},
    {"2026-03-15T04:54:26+13:45", MS_2026_03_14_150926},   /* Chatham, across midnight */
    {"2026-12-31T23:30:00-01:00", INT64_C(1798763400000)}, /* into the next year */
    {"2026-01-01T00:00:00Z", INT64_C(1767225600000)},
    {"2024-02-29T12:00:00Z", INT64_C(1709208000000)}, /* leap year */
    {"2000-02-29", INT64_C(951782400000)},            /* divisible by 400: leap */
    {"1900-03-01", INT64_C(-2203891200000)},
    {"0001-01-01T00:00:00Z", MS_YEAR_1},
    {"9999-12-31T23:59:59.999Z", MS_YEAR_9999_END},
};

static const char *const invalid_cases[] = {
    "",
    "2026",
    "2026-03",
    "2026-02-30",                      /* no such day */
    "2023-02-29",                      /* not a leap year */
    "1900-02-29",                      /* divisible by 100, not by 400 */
    "2026-04-31",                      /* 30-day month */
    "2026-13-01",                      /* month 13 */
    "2026-00-10",                      /* month 0 */
    "2026-01-00",                      /* day 0 */
    "2026-01-32",                      /* day 32 */
    "0000-01-01",                      /* year 0 */
    "2026-1-01",                       /* short month */
    "26-01-01",                        /* short year */
    "+2026-01-01",                     /* signed year */
    "2026/01/01",                      /* wrong separator */
    "2026-0a-01",                      /* not a digit */
    " 2026-01-01",                     /* leading space */
    "2026-01-01 ",                     /* trailing space */
    "2026-01-01Z",                     /* zone without a time */
    "2026-01-01X12:00",                /* wrong date-time separator */
    "2026-01-01T",                     /* no time */
    "2026-01-01T12",                   /* hour alone */
    "2026-01-01T1:00",                 /* short hour */
    "2026-01-01T12:0",                 /* short minute */
    "2026-01-01T24:00:00Z",            /* hour 24 */
    "2026-01-01T12:60Z",               /* minute 60 */
    "2026-01-01T23:59:60Z",            /* leap second */
    "2026-01-01T12:00:0Z",             /* short second */
    "2026-01-01T12:00.5Z",             /* fraction without seconds */
    "2026-01-01T12:00:00.Z",           /* empty fraction */
    "2026-01-01T12:00:00.1234567890Z", /* 10 fraction digits */
    "2026-01-01T12:00:00,5Z",          /* comma fraction */
    "2026-01-01T12:00:00Zjunk",        /* trailing garbage */
    "2026-01-01T12:00:00ZZ",           /* two zones */
    "2026-01-01T12:00:00+05:00Z",      /* two zones */
    "2026-01-01T12:00:00 Z",           /* space before zone */
    "2026-01-01T12:00:00+24:00",       /* offset hour 24 */
    "2026-01-01T12:00:00+05:60",       /* offset minute 60 */
    "2026-01-01T12:00:00+5",           /* short offset */
    "2026-01-01T12:00:00+05:0",        /* short offset minute */
    "2026-01-01T12:00:00+053",         /* 3-digit offset */
    "2026-01-01T12:00:00+05:00:00",    /* offset seconds */
    "2026-01-01T12:00:00UTC",          /* zone name */
    "2026-01-01T12:00:00\xef\xbc\x9a", /* full-width colon */
};

static void test_parse_valid(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_SIZE(valid_cases); k++) {
        int64_t ms = INT64_MIN;
        int rc = time_parse_iso8601(valid_cases[k].s, strlen(valid_cases[k].s), &ms);
        if (rc != 0 || ms != valid_cases[k].ms)
            fail_msg("\"%s\": rc %d ms %" PRId64 ", want %" PRId64, valid_cases[k].s, rc, ms,
                     valid_cases[k].ms);
    }
}

static void test_parse_invalid(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_SIZE(invalid_cases); k++) {
        /* An exact-size heap copy: ASan catches a read past n. */
        size_t n = strlen(invalid_cases[k]);
        char *s = malloc(n ? n : 1);
        assert_non_null(s);
        memcpy(s, invalid_cases[k], n);
        int64_t ms = 12345;
        int rc = time_parse_iso8601(s, n, &ms);
        free(s);
        if (rc != ERR_INVALID)
            fail_msg("\"%s\": rc %d, want ERR_INVALID", invalid_cases[k], rc);
        assert_int_equal(ms, 12345); /* untouched on failure */
    }
}

static void test_parse_respects_length(void **state)
{
    (void)state;
    /* The input is a slice: bytes past n are not looked at. */
    static const char s[] = "2026-03-14T15:09:26Zgarbage";
    int64_t ms = 0;
    assert_int_equal(time_parse_iso8601(s, 20, &ms), 0);
    assert_int_equal(ms, MS_2026_03_14_150926);
    assert_int_equal(time_parse_iso8601(s, 10, &ms), 0); /* the date alone */
    assert_int_equal(ms, MS_2026_03_14_150926 - INT64_C(1000) * (15 * 3600 + 9 * 60 + 26));
    assert_int_equal(time_parse_iso8601(s, 21, &ms), ERR_INVALID);
    assert_int_equal(time_parse_iso8601(s, 9, &ms), ERR_INVALID);
    assert_int_equal(time_parse_iso8601("2026-03-14\0", 11, &ms), ERR_INVALID); /* NUL inside */
    assert_int_equal(time_parse_iso8601(NULL, 0, &ms), ERR_INVALID);
}

static void test_format(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {MS_2026_03_14_150926 + 535, "2026-03-14T15:09:26.535Z"},
        {INT64_C(1709208000000), "2024-02-29T12:00:00.000Z"},
        {INT64_C(951782400000), "2000-02-29T00:00:00.000Z"},
        {MS_YEAR_1, "0001-01-01T00:00:00.000Z"},
        {MS_YEAR_9999_END, "9999-12-31T23:59:59.999Z"},
        {MS_YEAR_1 - 1, "0001-01-01T00:00:00.000Z"},        /* clamped */
        {MS_YEAR_9999_END + 1, "9999-12-31T23:59:59.999Z"}, /* clamped */
        {INT64_MIN, "0001-01-01T00:00:00.000Z"},
        {INT64_MAX, "9999-12-31T23:59:59.999Z"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
        char out[32];
        memset(out, 'x', sizeof(out));
        size_t len = time_format_iso8601(cases[k].ms, out);
        assert_int_equal(len, 24);
        assert_string_equal(out, cases[k].want);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Every day from 0001-01-01 to 9999-12-31 at a random time of day: format, parse
 * back, compare; and compare the fields with glibc's gmtime_r as an independent
 * calendar. */
static void test_round_trip_every_day(void **state)
{
    (void)state;
    const int64_t day = 86400000;
    int64_t days = 0;
    for (int64_t start = MS_YEAR_1; start <= MS_YEAR_9999_END; start += day, days++) {
        int64_t ms = start + (int64_t)(next_random() % (uint64_t)day);
        char out[32];
        int64_t back = 0;
        assert_int_equal(time_format_iso8601(ms, out), 24);
        if (time_parse_iso8601(out, 24, &back) != 0 || back != ms)
            fail_msg("%" PRId64 " -> %s -> %" PRId64, ms, out, back);

        int64_t whole = ms / 1000, frac = ms % 1000;
        if (frac < 0) { /* floor division before 1970 */
            whole--;
            frac += 1000;
        }
        time_t secs = (time_t)whole;
        struct tm tm;
        assert_non_null(gmtime_r(&secs, &tm));
        char want[32];
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
        if (strcmp(out, want) != 0)
            fail_msg("%" PRId64 ": %s, gmtime_r says %s", ms, out, want);
    }
    assert_int_equal(days, 3652059); /* days in 0001-9999, proleptic Gregorian */
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = time_now_ms();
    int64_t sys = (int64_t)time(NULL) * 1000;
    assert_true(now > INT64_C(1704067200000)); /* after 2024-01-01 */
    assert_true(now - sys > -2000 && now - sys < 2000);

    uint64_t a = time_mono_ns();
    struct timespec pause = {0, 2000000}; /* 2 ms */
    nanosleep(&pause, NULL);
    uint64_t b = time_mono_ns();
    assert_true(b >= a + 2000000);
    assert_true(b - a < UINT64_C(2000000000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),           cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_respects_length), cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip_every_day),  cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
