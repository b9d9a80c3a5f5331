/* timeutil.c - wall-clock and monotonic time, ISO 8601 parsing and formatting.
 *
 * Calendar arithmetic is done here, on the proleptic Gregorian calendar, with Howard
 * Hinnant's days_from_civil / civil_from_days algorithms: no timegm(), no TZ, no
 * locale. */
#include "core/timeutil.h"

#define MS_PER_DAY INT64_C(86400000)

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Days from 1970-01-01 to y-m-d (m 1-12, d 1-31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* The inverse: the civil date of day z since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t time_days_from_civil(int64_t y, int m, int d)
{
    return days_from_civil(y, m, d);
}

void time_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    civil_from_days(z, y, m, d);
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* A cursor over the input: every read is bounds-checked. */
struct cursor {
    const char *s;
    size_t n, i;
};

/* Reads exactly k ASCII digits as a number; false if there are fewer. */
static bool read_digits(struct cursor *c, int k, int *out)
{
    int v = 0;
    if (c->n - c->i < (size_t)k)
        return false;
    for (int j = 0; j < k; j++) {
        char ch = c->s[c->i + (size_t)j];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    c->i += (size_t)k;
    *out = v;
    return true;
}

/* Consumes ch if it is next; one of two spellings when alt is not 0. */
static bool accept(struct cursor *c, char ch, char alt)
{
    if (c->i < c->n && (c->s[c->i] == ch || (alt && c->s[c->i] == alt))) {
        c->i++;
        return true;
    }
    return false;
}

static bool at_end(const struct cursor *c)
{
    return c->i == c->n;
}

int time_parse_iso8601(const char *s, size_t n, int64_t *ms)
{
    struct cursor c = {s, n, 0};
    int year, month, day, hour = 0, minute = 0, second = 0, milli = 0, offset_min = 0;

    if (!read_digits(&c, 4, &year) || !accept(&c, '-', 0) || !read_digits(&c, 2, &month) ||
        !accept(&c, '-', 0) || !read_digits(&c, 2, &day))
        return ERR_INVALID;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return ERR_INVALID;

    if (!at_end(&c)) {
        if (!accept(&c, 'T', 't') && !accept(&c, ' ', 0))
            return ERR_INVALID;
        if (!read_digits(&c, 2, &hour) || !accept(&c, ':', 0) || !read_digits(&c, 2, &minute))
            return ERR_INVALID;
        if (accept(&c, ':', 0)) {
            if (!read_digits(&c, 2, &second))
                return ERR_INVALID;
            if (accept(&c, '.', 0)) {
                int digits = 0, dv;
                while (digits < 9 && read_digits(&c, 1, &dv)) {
                    if (digits < 3)
                        milli = milli * 10 + dv;
                    digits++;
                }
                if (digits == 0)
                    return ERR_INVALID;
                for (int j = digits; j < 3; j++)
                    milli *= 10;
            }
        }
        /* Leap seconds (":60") are refused: Unix time has no place for them. */
        if (hour > 23 || minute > 59 || second > 59)
            return ERR_INVALID;

        if (accept(&c, 'Z', 'z')) {
            /* UTC */
        } else if (!at_end(&c)) {
            int sign = c.s[c.i] == '+' ? 1 : c.s[c.i] == '-' ? -1 : 0;
            int oh, om = 0;
            if (sign == 0)
                return ERR_INVALID;
            c.i++;
            if (!read_digits(&c, 2, &oh))
                return ERR_INVALID;
            if (accept(&c, ':', 0)) {
                if (!read_digits(&c, 2, &om))
                    return ERR_INVALID;
            } else if (!at_end(&c) && !read_digits(&c, 2, &om)) {
                return ERR_INVALID;
            }
            if (oh > 23 || om > 59)
                return ERR_INVALID;
            offset_min = sign * (oh * 60 + om);
        }
        if (!at_end(&c))
            return ERR_INVALID;
    }

    /* Local time = UTC + offset, so UTC = local time - offset. */
    int64_t seconds =
        (int64_t)hour * 3600 + (int64_t)minute * 60 + second - (int64_t)offset_min * 60;
    *ms = days_from_civil(year, month, day) * MS_PER_DAY + seconds * 1000 + milli;
    return 0;
}

/* Writes v as exactly k decimal digits, zero-padded. */
static char *put_digits(char *p, int64_t v, int k)
{
    for (int j = k - 1; j >= 0; j--) {
        p[j] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + k;
}

size_t time_format_iso8601(int64_t ms, char out[32])
{
    const int64_t min_ms = days_from_civil(1, 1, 1) * MS_PER_DAY;
    const int64_t max_ms = days_from_civil(10000, 1, 1) * MS_PER_DAY - 1;
    if (ms < min_ms)
        ms = min_ms;
    if (ms > max_ms)
        ms = max_ms;

    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    if (rem < 0) { /* floor division: times before 1970 */
        days--;
        rem += MS_PER_DAY;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);

    char *p = out;
    p = put_digits(p, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600000, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60000 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem / 1000 % 60, 2);
    *p++ = '.';
    p = put_digits(p, rem % 1000, 3);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}
