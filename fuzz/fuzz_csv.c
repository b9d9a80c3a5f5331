/* fuzz_csv.c - the CSV reader: the first byte picks the declared encoding (bits 0-1:
 * UTF-8, GBK, GB18030, UTF-8) and the delimiter (bits 2-3: ',' ';' '\t' '|'); the rest
 * is the file, read to the end through fmemopen, checking what csv.h promises of every
 * row. Build for libFuzzer with `make fuzz-libfuzzer`; the suite replays fuzz/corpus/csv. */
#include "core/text.h"
#include "import/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_csv: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum csv_encoding encs[] = {CSV_UTF8, CSV_GBK, CSV_GB18030, CSV_UTF8};
    static const char delims[] = {',', ';', '\t', '|'};
    if (size < 2 || size > (size_t)4 * CSV_MAX_ROW_BYTES)
        return 0;
    enum csv_encoding enc = encs[data[0] & 3];
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    bool utf16 = n >= 2 && in[0] == 0xff && in[1] == 0xfe;
    bool bom8 = n >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf;
    bool utf8 = bom8 || (enc == CSV_UTF8 && !utf16); /* what the reader will decode */
    uint64_t newlines = 0;
    for (size_t i = 0; i < n; i++)
        newlines += in[i] == '\n';

    FILE *f = fmemopen((void *)in, n, "r");
    if (!f)
        return 0;
    struct csv_reader *r = NULL;
    struct err e = {0};
    if (csv_open(f, enc, delims[(data[0] >> 2) & 3], &r, &e)) {
        fclose(f);
        return 0;
    }
    struct csv_row row;
    uint64_t rows = 0, last_line = 0, last_offset = 0;
    int rc;
    while ((rc = csv_next(r, &row, &e)) == 1) {
        rows++;
        check(rows <= newlines + 1, "more rows than lines");
        check(row.line > last_line && row.line <= newlines + 1, "line out of order or range");
        check(row.offset >= last_offset && row.offset < n, "offset out of order or range");
        if (utf8)
            check(row.offset == (bom8 ? 3u : 0u) || in[row.offset - 1] == '\n',
                  "a UTF-8 row does not start a line");
        check(row.nfields <= CSV_MAX_FIELDS, "too many fields");
        check(row.nfields > 0 || row.error, "a good row without fields");
        for (size_t i = 0; i < row.nfields; i++) {
            const struct csv_field *fl = &row.fields[i];
            check(fl->p[fl->len] == '\0', "a value is not NUL-terminated");
            if (!row.bad_utf8) {
                check(strlen(fl->p) == fl->len, "a NUL inside a row not flagged");
                check(!text_scan_json(fl->p, fl->len, INT_MAX, NULL), "bad UTF-8 not flagged");
            }
            ((char *)fl->p)[0] = '\0'; /* the caller may write into values (import.c) */
        }
        last_line = row.line;
        last_offset = row.offset;
    }
    check(rc == 0 || rc == ERR_INVALID || rc == ERR_NOMEM, "an unexpected return code");
    check(rc != ERR_INVALID || !utf8, "UTF-8 input is never undecodable");
    check(csv_bytes_read(r) <= n && (rc || csv_bytes_read(r) == n), "bytes read");
    check(csv_next(r, &row, &e) == rc, "the end or an error does not stay");
    csv_close(r);
    fclose(f);
    return 0;
}
