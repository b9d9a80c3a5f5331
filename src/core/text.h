/* text.h - byte-level helpers for input that comes off the wire: UTF-8 and JSON
 * nesting checks, base64, UUIDs, 128-bit hashing. None allocates. */
#ifndef CUSTOS_TEXT_H
#define CUSTOS_TEXT_H

#include "core/common.h"

/* Checks that s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF) and that JSON brackets outside strings nest at most max_depth deep.
 * Does not otherwise validate JSON. Returns 0; ERR_INVALID for bad UTF-8 with the
 * byte offset of the first bad byte in *at; ERR_LIMIT when nesting exceeds max_depth,
 * with the offset of the bracket that exceeds it in *at. The first bad byte is where
 * the first ill-formed or truncated sequence starts, so s[0..*at) is valid UTF-8.
 * Strings run from '"' to an unescaped '"'; max_depth 0 allows no bracket at all;
 * closing brackets with nothing open are ignored (the parser rejects them). at may be
 * NULL. */
int text_scan_json(const char *s, size_t n, int max_depth, size_t *at);

/* Number of Unicode code points in valid UTF-8 s[0..n) (JSON Schema's length). */
size_t text_utf8_length(const char *s, size_t n);

/* Decodes the UTF-8 sequence at s[0..n): returns its length (1-4) and the code point in
 * *cp, or 0 when n is 0 or the sequence is ill-formed or truncated (the rules of
 * text_scan_json), leaving *cp untouched. */
size_t text_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Decodes standard base64 (RFC 4648, padding optional, no whitespace) from in[0..n)
 * into out (capacity cap). Returns 0 and the length in *outlen, ERR_INVALID for a bad
 * character or length, ERR_LIMIT if out is too small. Non-canonical input, whose
 * unused bits in the last group are not zero ("Zh=="), is ERR_INVALID too (RFC 4648
 * 3.5). On failure out may have been partly written. */
int text_base64_decode(const char *in, size_t n, char *out, size_t cap, size_t *outlen);

/* Writes a random (version 4) UUID, lower-case, 36 characters and a NUL, into out.
 * Thread-safe; seeded from the OS's random source once per thread. */
void text_uuid4(char out[37]);

struct hash128 {
    uint64_t hi, lo;
};

/* A fast, well-mixed 128-bit non-cryptographic hash of p[0..n) with a seed. Used for
 * deduplication sets, where two distinct inputs colliding must be vanishingly rare
 * (2^-128 per pair for random inputs). Deterministic across runs and machines: the
 * values are pinned by tests/unit/test_text.c, and changing them is a format change
 * for anything persisted. Not a MAC: someone who knows the seed can search for
 * collisions, so keep the seed secret where inputs come from clients. */
struct hash128 text_hash128(const void *p, size_t n, uint64_t seed);

/* Constant-time comparison of two byte strings of equal length n; 1 if equal, else 0.
 * The time depends on n only; comparing secrets of different lengths is the caller's
 * business (hash both first). */
int text_equal_ct(const void *a, const void *b, size_t n);

/* JSON text scanning, for text that is known to be valid JSON: the index of the
 * first byte at or after i that is not JSON white space; and the index just after
 * the JSON value that starts at s[i] (a string, number, literal, object or array). */
size_t text_json_skip_ws(const char *s, size_t n, size_t i);
size_t text_json_skip_value(const char *s, size_t n, size_t i);

/* Writes s to out as one CSV field (RFC 4180): quoted, with quotes doubled, when it
 * holds a comma, a quote or a line break; as it is otherwise. */
void text_csv_field(FILE *out, const char *s);

#endif
