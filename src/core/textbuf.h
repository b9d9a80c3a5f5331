/* textbuf.h - a growing text buffer, always NUL-terminated.
 *
 * An allocation failure sets failed and later appends do nothing, so a caller checks
 * once at the end. With on_json_heap, the memory comes from cJSON's allocator: inside
 * a request it lives on the request's arena (core/arena.h) and the text may be handed
 * to code that frees with cJSON_free. */
#ifndef CUSTOS_TEXTBUF_H
#define CUSTOS_TEXTBUF_H

#include "core/common.h"

struct textbuf {
    char *p;
    size_t len, cap;
    bool failed;
    bool on_json_heap;
};

/* Makes room for n more bytes at once (one allocation instead of several doublings). */
void textbuf_reserve(struct textbuf *b, size_t n);

/* Appends s[0..n). */
void textbuf_put(struct textbuf *b, const char *s, size_t n);

/* Appends printf-style text. */
void textbuf_printf(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string, quoted and escaped. */
void textbuf_json_string(struct textbuf *b, const char *s, size_t n);

/* Empties b, keeping its memory. */
void textbuf_clear(struct textbuf *b);

/* Frees b's memory. */
void textbuf_release(struct textbuf *b);

#endif
