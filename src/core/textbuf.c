/* textbuf.c - see textbuf.h. */
#include <cJSON.h>

#include "core/textbuf.h"

/* Makes room for n more bytes; false (failed set) when out of memory. */
static bool grow(struct textbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p;
        if (b->on_json_heap) {
            /* cJSON's hooks have no realloc: copy. */
            p = cJSON_malloc(cap);
            if (p && b->p)
                memcpy(p, b->p, b->len);
            if (p)
                cJSON_free(b->p);
        } else {
            p = realloc(b->p, cap);
        }
        if (!p) {
            b->failed = true;
            return false;
        }
        b->p = p;
        b->cap = cap;
    }
    return true;
}

void textbuf_reserve(struct textbuf *b, size_t n)
{
    if (!b->failed)
        grow(b, n);
}

void textbuf_put(struct textbuf *b, const char *s, size_t n)
{
    if (b->failed || !grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        textbuf_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    textbuf_put(b, big, (size_t)n);
    free(big);
}

void textbuf_json_string(struct textbuf *b, const char *s, size_t n)
{
    textbuf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        textbuf_put(b, s + run, i - run);
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        textbuf_put(b, esc, strlen(esc));
        run = i + 1;
    }
    textbuf_put(b, s + run, n - run);
    textbuf_put(b, "\"", 1);
}

void textbuf_clear(struct textbuf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->p)
        b->p[0] = 0;
}

void textbuf_release(struct textbuf *b)
{
    if (b->on_json_heap)
        cJSON_free(b->p);
    else
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
