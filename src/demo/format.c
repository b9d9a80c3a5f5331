/* format.c - building one CSV row or JSON message, and writing window times. See
 * demo.h. */
#include "core/timeutil.h"
#include "demo/demo.h"

void demo_buf_put(struct demo_buf *b, const char *s, size_t n)
{
    if (b->overflow || n > sizeof(b->p) - 1 - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void demo_buf_puts(struct demo_buf *b, const char *s)
{
    demo_buf_put(b, s, strlen(s));
}

void demo_buf_printf(struct demo_buf *b, const char *fmt, ...)
{
    if (b->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(b->p) - b->len;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->p[b->len] = '\0';
        b->overflow = true;
        return;
    }
    b->len += (size_t)n;
}

void demo_buf_csv(struct demo_buf *b, const char *s)
{
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        demo_buf_put(b, s, n);
        return;
    }
    demo_buf_put(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        demo_buf_put(b, s, (size_t)(q - s));
        demo_buf_put(b, "\"\"", 2);
    }
    demo_buf_puts(b, s);
    demo_buf_put(b, "\"", 1);
}

void demo_buf_json(struct demo_buf *b, const char *s)
{
    demo_buf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        demo_buf_put(b, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"':
            demo_buf_put(b, "\\\"", 2);
            break;
        case '\\':
            demo_buf_put(b, "\\\\", 2);
            break;
        case '\n':
            demo_buf_put(b, "\\n", 2);
            break;
        case '\r':
            demo_buf_put(b, "\\r", 2);
            break;
        case '\t':
            demo_buf_put(b, "\\t", 2);
            break;
        default:
            demo_buf_printf(b, "\\u%04x", c);
        }
    }
    demo_buf_put(b, run, (size_t)(s - run));
    demo_buf_put(b, "\"", 1);
}

void demo_buf_uint(struct demo_buf *b, uint64_t v)
{
    char digits[24];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    demo_buf_put(b, digits + i, sizeof(digits) - i);
}

void demo_buf_money(struct demo_buf *b, int64_t fen)
{
    uint64_t v = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    if (fen < 0)
        demo_buf_put(b, "-", 1);
    demo_buf_uint(b, v / 100);
    char cents[3] = {'.', (char)('0' + v % 100 / 10), (char)('0' + v % 10)};
    demo_buf_put(b, cents, 3);
}

int64_t demo_time_ms(int64_t t)
{
    return (DEMO_START_UTC + t) * 1000;
}

void demo_time_local(int64_t t, char sep, char out[32])
{
    /* The UTC rendering of local time: "YYYY-MM-DDTHH:MM:SS.mmmZ" -> local fields. */
    time_format_iso8601(demo_time_ms(t) + DEMO_TZ_SECONDS * INT64_C(1000), out);
    out[4] = out[7] = sep;
    out[10] = ' ';
    out[19] = '\0';
}

void demo_time_offset(int64_t t, char out[32])
{
    demo_time_local(t, '-', out);
    out[10] = 'T';
    memcpy(out + 19, "+08:00", 7);
}

void demo_day_date(int day, int *year, int *month, int *mday)
{
    char s[32];
    demo_time_local((int64_t)day * 86400, '-', s);
    *year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *month = (s[5] - '0') * 10 + (s[6] - '0');
    *mday = (s[8] - '0') * 10 + (s[9] - '0');
}
