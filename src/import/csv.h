/* csv.h - a streaming reader of CSV exports (RFC 4180 and what real exports do).
 *
 * Reads from a FILE in blocks; yields one row at a time as fields (slices into the
 * reader's buffer, valid until the next call). Handles: a UTF-8 BOM (skipped), CRLF
 * and LF line ends, quoted fields with "" escapes and embedded delimiters and line
 * breaks, a configurable one-byte delimiter (',' ';' '\t' '|'), and input encodings
 * GBK and GB18030 (converted to UTF-8 with iconv; a UTF-16LE BOM is detected too).
 * Invalid UTF-8 (after conversion) is reported per row, not fatal.
 *
 * The details, where exports disagree:
 * - A byte order mark at the start decides the encoding whatever was declared: EF BB BF
 *   means UTF-8 (and is skipped), FF FE means UTF-16LE.
 * - A line ends at LF; a CR just before it, or just before the end of the file, is
 *   dropped; a CR anywhere else is text. Line numbers count LFs, so a row after a
 *   quoted field with two line breaks starts two lines further on.
 * - Empty lines are skipped (a line of "" is a row of one empty field); a line end
 *   at the end of the file makes no extra row.
 * - Lenient quotes: a quote inside an unquoted field is text (12" pizza), and text
 *   after a closing quote is kept ("ab"cd is abcd). */
#ifndef CUSTOS_CSV_H
#define CUSTOS_CSV_H

#include "core/common.h"

#define CSV_MAX_FIELDS    512       /* fields in one row */
#define CSV_MAX_ROW_BYTES (1 << 20) /* one row, quoted line breaks included */

enum csv_encoding { CSV_UTF8, CSV_GBK, CSV_GB18030 };

/* Parses "utf-8" (also "utf8"), "gbk", "gb18030" (case-insensitive). 0 or ERR_INVALID. */
int csv_encoding_parse(const char *name, enum csv_encoding *out);

struct csv_field {
    const char *p; /* UTF-8, NUL-terminated (quotes removed, "" unescaped); the caller
                      may write into p[0..len] until the next call (import.c does) */
    size_t len;
};

struct csv_row {
    struct csv_field *fields;
    size_t nfields;
    uint64_t line;     /* the file line where the row starts (1-based) */
    uint64_t offset;   /* byte offset of the row's start in the original file: exact for
                          UTF-8; for converted input, where the piece of input converted
                          with the row's first byte starts (at most 64 KiB before it) */
    bool bad_utf8;     /* some field is not valid UTF-8, or holds a NUL byte (which would
                          cut the C string short); checked on the row's bytes as read, so
                          a sequence split by quotes ("\xe4"\xb8\xad) counts as bad */
    const char *error; /* non-NULL: this row is malformed, a static message; fields are
                          what was read before the error. Too many fields: the row is
                          read to its end, the first CSV_MAX_FIELDS are kept. A quote not
                          closed before the end of the file or a row too long: reading
                          goes on at the line after the row's first line (a quote left
                          open does not swallow the rest of the file; a quoted field of
                          more than CSV_MAX_ROW_BYTES is read as lines of its own). */
};

struct csv_reader;

/* Opens a reader on f (not closed by the reader). delimiter is one byte: ASCII, not a
 * quote, CR, LF or NUL (ERR_INVALID). Reads nothing yet. ERR_NOMEM. */
int csv_open(FILE *f, enum csv_encoding enc, char delimiter, struct csv_reader **out,
             struct err *e);

/* Reads the next row into *row. Returns 1 for a row, 0 at the end of the file, or
 * ERR_IO / ERR_INVALID (undecodable input in a legacy encoding, with the byte offset
 * in e) / ERR_NOMEM. A malformed row is returned with row->error set; reading can
 * continue after it. The rows before an undecodable byte are returned first; an error
 * stays: every later call returns it again. */
int csv_next(struct csv_reader *r, struct csv_row *row, struct err *e);

/* Bytes of the input read so far (for progress): up to a block ahead of the rows. */
uint64_t csv_bytes_read(const struct csv_reader *r);

/* Frees the reader (NULL is fine); f stays open. */
void csv_close(struct csv_reader *r);

#endif
