/* gzip.h - bounded decompression of gzip request bodies. */
#ifndef CUSTOS_GZIP_H
#define CUSTOS_GZIP_H

#include "core/common.h"

/* Inflates the gzip (RFC 1952; zlib-wrapped and raw deflate are refused) stream
 * in[0..n) into a new malloc'd buffer, NUL-terminated, the caller frees *out.
 * Stops as soon as the output would exceed limit bytes: a small body that inflates
 * into gigabytes (a "gzip bomb") costs at most limit bytes. Returns 0, ERR_LIMIT when
 * the output exceeds limit, ERR_INVALID for a corrupt or truncated stream, ERR_NOMEM.
 * e (may be NULL) gets the reason. Concatenated gzip members are inflated in turn,
 * their output counted against one limit; bytes after the last member that are not
 * a whole member are ERR_INVALID. The limit counts output bytes, not the NUL; memory
 * used is at most limit + 1 bytes plus zlib's state. On failure *out is NULL. */
int gzip_inflate(const char *in, size_t n, size_t limit, char **out, size_t *outlen, struct err *e);

#endif
