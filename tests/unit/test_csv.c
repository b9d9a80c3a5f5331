/* test_csv.c - the streaming CSV reader: RFC 4180, line ends, BOMs, delimiters, GBK,
 * GB18030 and UTF-16LE across block boundaries, malformed rows and resync, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <iconv.h>

#include "core/text.h"
#include "import/csv.h"

#define KB ((size_t)1024)

/* The reader's block is 64 KiB; inputs that must cross a block boundary are made
 * several times longer than that, so that they cross whatever the block size. */
#define CROSSING (200 * KB)

/* A growing string for building inputs and renderings. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_put(struct sbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    sb_put(b, tmp, (size_t)n);
}

/* A FILE holding data[0..n), positioned at its start. */
static FILE *file_of(const void *data, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    rewind(f);
    return f;
}

/* Converts UTF-8 text into encoding `to` with iconv; the caller frees the result. */
static char *encode(const char *to, const char *s, size_t n, size_t *outlen)
{
    iconv_t cd = iconv_open(to, "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t cap = n * 4 + 4, left = cap;
    char *out = malloc(cap), *o = out, *in = (char *)s;
    assert_non_null(out);
    size_t in_left = n;
    assert_true(iconv(cd, &in, &in_left, &o, &left) != (size_t)-1);
    iconv_close(cd);
    *outlen = cap - left;
    return out;
}

/* Reads every row of data[0..n) and renders them, one per line:
 * LINE[!][~]:FIELD|FIELD... where ! marks a malformed row and ~ bad UTF-8; a failure
 * ends it with "ERR <name>: <message>". The caller frees the result. */
static char *render(const void *data, size_t n, enum csv_encoding enc, char delim)
{
    FILE *f = file_of(data, n);
    struct csv_reader *r = NULL;
    struct err e = {0};
    struct sbuf b = {0};
    sb_str(&b, "");
    assert_int_equal(csv_open(f, enc, delim, &r, &e), 0);
    struct csv_row row;
    int rc;
    while ((rc = csv_next(r, &row, &e)) == 1) {
        sb_fmt(&b, "%" PRIu64 "%s%s:", row.line, row.error ? "!" : "", row.bad_utf8 ? "~" : "");
        for (size_t i = 0; i < row.nfields; i++) {
            assert_int_equal(row.fields[i].p[row.fields[i].len], '\0');
            if (i)
                sb_str(&b, "|");
            sb_put(&b, row.fields[i].p, row.fields[i].len);
        }
        sb_str(&b, "\n");
    }
    if (rc < 0)
        sb_fmt(&b, "ERR %s: %s\n", err_name(rc), e.msg);
    assert_true(rc <= 0);
    csv_close(r);
    fclose(f);
    return b.p;
}

static void expect_rows(const char *input, char delim, const char *want)
{
    char *got = render(input, strlen(input), CSV_UTF8, delim);
    assert_string_equal(got, want);
    free(got);
}

/* Opens a reader on data[0..n); *f is to be closed after the reader. */
static struct csv_reader *reader_on(const void *data, size_t n, enum csv_encoding enc, FILE **f)
{
    struct csv_reader *r = NULL;
    struct err e = {0};
    *f = file_of(data, n);
    assert_int_equal(csv_open(*f, enc, ',', &r, &e), 0);
    return r;
}

static void test_encoding_parse(void **state)
{
    (void)state;
    enum csv_encoding enc = CSV_GBK;
    assert_int_equal(csv_encoding_parse("UTF-8", &enc), 0);
    assert_int_equal(enc, CSV_UTF8);
    assert_int_equal(csv_encoding_parse("utf8", &enc), 0);
    assert_int_equal(enc, CSV_UTF8);
    assert_int_equal(csv_encoding_parse("GbK", &enc), 0);
    assert_int_equal(enc, CSV_GBK);
    assert_int_equal(csv_encoding_parse("gb18030", &enc), 0);
    assert_int_equal(enc, CSV_GB18030);
    assert_int_equal(csv_encoding_parse("latin1", &enc), ERR_INVALID);
    assert_int_equal(csv_encoding_parse("", &enc), ERR_INVALID);
    assert_int_equal(csv_encoding_parse(NULL, &enc), ERR_INVALID);
}

static void test_open_rejects_bad_delimiters(void **state)
{
    (void)state;
    static const char bad[] = {'"', '\n', '\r', '\0', (char)0xe4};
    FILE *f = file_of("a", 1);
    for (size_t i = 0; i < sizeof(bad); i++) {
        static char sentinel;
        struct csv_reader *r = (struct csv_reader *)&sentinel; /* must come back NULL */
        struct err e = {0};
        assert_int_equal(csv_open(f, CSV_UTF8, bad[i], &r, &e), ERR_INVALID);
        assert_null(r);
        assert_true(e.msg[0] != '\0');
    }
    fclose(f);
    csv_close(NULL);
}

static void test_rfc4180(void **state)
{
    (void)state;
    /* Quoted delimiters, "" escapes, quoted LF and CRLF: the rows after a quoted line
     * break start that many lines later. */
    expect_rows("name,note\n"
                "\"Wang, Xiaoming\",\"says \"\"hi\"\"\"\n"
                "\"two\nlines\",x\n"
                "\"three\r\nlines\r\nhere\",y\r\n"
                "last,\"\"\n",
                ',',
                "1:name|note\n"
                "2:Wang, Xiaoming|says \"hi\"\n"
                "3:two\nlines|x\n"
                "5:three\r\nlines\r\nhere|y\n"
                "8:last|\n");
    /* A quoted field that is only a quote, quotes at the very end. */
    expect_rows("\"\"\"\",\"a\"\"\"\n\"\"", ',', "1:\"|a\"\n2:\n");
}

static void test_line_ends(void **state)
{
    (void)state;
    expect_rows("a,b\r\nc,d\r\n", ',', "1:a|b\n2:c|d\n");
    expect_rows("a,b\nc,d\n", ',', "1:a|b\n2:c|d\n");
    expect_rows("a,b\nc,d", ',', "1:a|b\n2:c|d\n");     /* no final line end */
    expect_rows("a,b\r\nc,d\r", ',', "1:a|b\n2:c|d\n"); /* a CR at the very end */
    expect_rows("a\rb,c\n", ',', "1:a\rb|c\n");         /* a lone CR is text */
    expect_rows("\"a\r\",b\n", ',', "1:a\r|b\n");       /* a quoted CR stays */
    expect_rows("x\n", ',', "1:x\n");                   /* no extra row at the end */
    expect_rows("", ',', "");
    expect_rows("\n\n\r\n", ',', "");
}

static void test_empty_fields_and_lines(void **state)
{
    (void)state;
    expect_rows(",,\n"
                "\n"
                "a,,c\n"
                "\r\n"
                "\n"
                "\"\"\n"
                ",\n",
                ',',
                "1:||\n"
                "3:a||c\n"
                "6:\n"
                "7:|\n");
    /* A line of spaces is a row; only empty lines are skipped. */
    expect_rows(" \n", ',', "1: \n");
}

static void test_bom(void **state)
{
    (void)state;
    expect_rows("\xef\xbb\xbfid,name\n1,x\n", ',', "1:id|name\n2:1|x\n");
    expect_rows("\xef\xbb\xbf", ',', "");
    /* Only at the start. */
    expect_rows("a\n\xef\xbb\xbf"
                "b\n",
                ',',
                "1:a\n2:\xef\xbb\xbf"
                "b\n");
    /* A UTF-8 BOM means UTF-8, whatever encoding was declared. */
    const char in[] = "\xef\xbb\xbf\xe7\x8e\x8b,1\n";
    char *got = render(in, sizeof(in) - 1, CSV_GBK, ',');
    assert_string_equal(got, "1:\xe7\x8e\x8b|1\n");
    free(got);
}

static void test_delimiters(void **state)
{
    (void)state;
    expect_rows("a;b;\"c;d\"\n1;2;3\n", ';', "1:a|b|c;d\n2:1|2|3\n");
    expect_rows("a\tb\t\"c\td\"\n\t\n", '\t', "1:a|b|c\td\n2:|\n");
    expect_rows("a|b,c\n", '|', "1:a|b,c\n");
    expect_rows("a,b;c\n", ';', "1:a,b|c\n");
}

static void test_lenient_quotes(void **state)
{
    (void)state;
    /* A quote inside an unquoted field is text; text after a closing quote is kept. */
    expect_rows("12\" pizza,b\"c\"\n", ',', "1:12\" pizza|b\"c\"\n");
    expect_rows("\"ab\"cd,\"x\" y\n", ',', "1:abcd|x y\n");
    expect_rows("\"a\"\"\"b\n", ',', "1:a\"b\n");
}

static void test_offsets_and_bytes_read(void **state)
{
    (void)state;
    const char in[] = "\xef\xbb\xbf"
                      "id,v\r\n"
                      "\n"
                      "1,\"x\ny\"\n"
                      "2,z";
    FILE *f;
    struct csv_reader *r = reader_on(in, sizeof(in) - 1, CSV_UTF8, &f);
    struct csv_row row;
    struct err e = {0};
    static const uint64_t lines[] = {1, 3, 5}, offsets[] = {3, 10, 18};
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        assert_int_equal(csv_next(r, &row, &e), 1);
        assert_int_equal(row.line, lines[i]);
        assert_int_equal(row.offset, offsets[i]);
    }
    assert_int_equal(csv_next(r, &row, &e), 0);
    assert_int_equal(csv_next(r, &row, &e), 0);
    assert_int_equal(csv_bytes_read(r), sizeof(in) - 1);
    csv_close(r);
    fclose(f);
}

/* GBK text of rows (line numbers across blocks), then one row of 2-byte characters
 * several blocks long, starting at an even or odd offset: one of the two puts a
 * character across every block boundary, whatever the block size. */
static void gbk_case(int parity)
{
    struct sbuf text = {0}, want = {0};
    sb_str(&text, "姓名,编号\n");
    sb_str(&want, "1:姓名|编号\n");
    for (int i = 0; i < 20000; i++) {
        sb_fmt(&text, "王小明,%05d\n", i);
        sb_fmt(&want, "%d:王小明|%05d\n", i + 2, i);
    }
    sb_str(&want, "20002:");
    size_t start = text.len;
    if (parity)
        sb_str(&text, "x");
    while (text.len - start < CROSSING)
        sb_str(&text, "王");
    sb_put(&want, text.p + start, text.len - start);
    sb_str(&text, ",end\r\n");
    sb_str(&want, "|end\n");
    size_t n;
    char *gbk = encode("GBK", text.p, text.len, &n);
    assert_int_equal(n % 2, (size_t)parity); /* rows: 10 + 20000 * 13 bytes, then 2-byte */
    char *got = render(gbk, n, CSV_GBK, ',');
    assert_string_equal(got, want.p);
    free(got);
    free(gbk);
    free(text.p);
    free(want.p);
}

static void test_gbk(void **state)
{
    (void)state;
    size_t n;
    char *wang = encode("GBK", "王小明", strlen("王小明"), &n);
    assert_int_equal(n, 6);
    assert_memory_equal(wang, "\xcd\xf5\xd0\xa1\xc3\xf7", 6);
    free(wang);
    char *got = render("\xcd\xf5\xd0\xa1\xc3\xf7,1\n", 9, CSV_GBK, ',');
    assert_string_equal(got, "1:王小明|1\n");
    free(got);
    gbk_case(0);
    gbk_case(1);
}

/* Converted input: a row's offset is where the piece of input converted with its first
 * byte starts: never past the row, at most a block (64 KiB) and a carried character
 * before it. */
static void test_converted_offsets(void **state)
{
    (void)state;
    struct sbuf b = {0};
    sb_str(&b, "\xd0\xd5\xc3\xfb,n\n"); /* 姓名,n: 7 bytes */
    for (int i = 0; i < 30000; i++)
        sb_fmt(&b, "\xcd\xf5\xd0\xa1\xc3\xf7,%05d\n", i); /* 王小明: 13 bytes */
    FILE *f;
    struct csv_reader *r = reader_on(b.p, b.len, CSV_GBK, &f);
    struct csv_row row;
    struct err e = {0};
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_int_equal(row.offset, 0);
    uint64_t last = 0;
    for (uint64_t i = 0; i < 30000; i++) {
        assert_int_equal(csv_next(r, &row, &e), 1);
        uint64_t exact = 7 + 13 * i;
        assert_int_equal(row.line, i + 2);
        assert_true(row.offset <= exact && exact - row.offset <= 64 * KB + 16);
        assert_true(row.offset >= last);
        last = row.offset;
    }
    assert_true(last > 0);
    assert_int_equal(csv_next(r, &row, &e), 0);
    assert_int_equal(csv_bytes_read(r), b.len);
    csv_close(r);
    fclose(f);
    free(b.p);
}

static void test_gbk_invalid(void **state)
{
    (void)state;
    /* 0x81 0x20 is a lead byte with a trail byte out of range, at byte 11: the rows
     * before it are read, then the error. */
    const char in[] = "a,b\n\xcd\xf5,c\nd,\x81\x20x\ne,f\n";
    char *got = render(in, sizeof(in) - 1, CSV_GBK, ',');
    assert_string_equal(got, "1:a|b\n2:王|c\nERR invalid: not valid GBK at byte 11\n");
    free(got);

    /* The error stays: later calls report it again. */
    FILE *f;
    struct csv_reader *r = reader_on(in, sizeof(in) - 1, CSV_GBK, &f);
    struct csv_row row;
    struct err e = {0};
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_int_equal(csv_next(r, &row, &e), ERR_INVALID);
    memset(&e, 0, sizeof(e));
    assert_int_equal(csv_next(r, &row, &e), ERR_INVALID);
    assert_string_equal(e.msg, "not valid GBK at byte 11");
    assert_int_equal(csv_next(r, &row, NULL), ERR_INVALID);
    csv_close(r);
    fclose(f);

    /* A character cut short by the end of the file. */
    const char cut[] = "a,b\nc,\xcd";
    got = render(cut, sizeof(cut) - 1, CSV_GBK, ',');
    assert_string_equal(got, "1:a|b\nERR invalid: not valid GBK at byte 6 (a character cut "
                             "short at the end)\n");
    free(got);

    /* 0xFF is never valid, in GBK or GB18030; the offset is exact across blocks. */
    struct sbuf b = {0};
    while (b.len < CROSSING)
        sb_str(&b, "\xcd\xf5,1234567\n");
    size_t at = b.len;
    sb_str(&b, "\xff\n");
    got = render(b.p, b.len, CSV_GB18030, ',');
    char tail[96];
    snprintf(tail, sizeof(tail), "ERR invalid: not valid GB18030 at byte %zu\n", at);
    assert_true(strlen(got) > strlen(tail));
    assert_string_equal(got + strlen(got) - strlen(tail), tail);
    free(got);
    free(b.p);
}

static void test_gb18030(void **state)
{
    (void)state;
    /* Four-byte sequences: U+00C0 and U+0490 in the BMP, U+1F600 and U+20000 above. */
    static const char text[] = "À,Ґ,😀,𠀀\n";
    static const char bytes[] = "\x81\x30\x86\x38,\x81\x30\xd9\x32,\x94\x39\xfc\x36,"
                                "\x95\x32\x82\x36\n";
    size_t n;
    char *enc = encode("GB18030", text, strlen(text), &n);
    assert_int_equal(n, sizeof(bytes) - 1);
    assert_memory_equal(enc, bytes, n);
    free(enc);
    char *got = render(bytes, sizeof(bytes) - 1, CSV_GB18030, ',');
    assert_string_equal(got, "1:À|Ґ|😀|𠀀\n");
    free(got);
    /* GBK has no such sequences. */
    got = render(bytes, sizeof(bytes) - 1, CSV_GBK, ',');
    assert_string_equal(got, "ERR invalid: not valid GBK at byte 0\n");
    free(got);

    /* Every alignment of a 4-byte sequence against the block boundary. */
    for (int shift = 0; shift < 4; shift++) {
        struct sbuf t = {0}, want = {0};
        sb_put(&t, "xyz", (size_t)shift);
        sb_str(&want, "1:");
        sb_put(&want, "xyz", (size_t)shift);
        while (t.len < CROSSING) {
            sb_str(&t, "😀");
            sb_str(&want, "😀");
        }
        sb_str(&t, "\n2,À\n");
        sb_str(&want, "\n2:2|À\n");
        enc = encode("GB18030", t.p, t.len, &n);
        got = render(enc, n, CSV_GB18030, ',');
        assert_string_equal(got, want.p);
        free(got);
        free(enc);
        free(t.p);
        free(want.p);
    }
}

static void test_utf16le(void **state)
{
    (void)state;
    static const char text[] = "姓名,\"备注, 含逗号\"\r\n王小明,😀\r\n";
    size_t n;
    char *enc = encode("UTF-16LE", text, strlen(text), &n);
    char *in = malloc(n + 2);
    assert_non_null(in);
    memcpy(in, "\xff\xfe", 2);
    memcpy(in + 2, enc, n);
    /* The BOM decides, whatever was declared. */
    for (int i = 0; i < 2; i++) {
        char *got = render(in, n + 2, i ? CSV_GBK : CSV_UTF8, ',');
        assert_string_equal(got, "1:姓名|备注, 含逗号\n2:王小明|😀\n");
        free(got);
    }
    /* An odd byte at the end is a character cut short; a lone surrogate is invalid. */
    char *got = render(in, n + 1, CSV_UTF8, ',');
    char want[160];
    snprintf(want, sizeof(want),
             "1:姓名|备注, 含逗号\nERR invalid: not valid UTF-16LE at byte %zu (a character "
             "cut short at the end)\n",
             n);
    assert_string_equal(got, want);
    free(got);
    const char lone[] = "\xff\xfe"
                        "a\0\n\0\x3d\xd8"
                        "b\0\n\0";
    got = render(lone, sizeof(lone) - 1, CSV_UTF8, ',');
    assert_string_equal(got, "1:a\nERR invalid: not valid UTF-16LE at byte 6\n");
    free(got);
    free(in);
    free(enc);
}

static void test_unterminated_quote(void **state)
{
    (void)state;
    /* The row runs to the end of the file; reading resumes at its second line. */
    expect_rows("id,v\n"
                "1,\"open\n"
                "2,x\n"
                "3,y\n",
                ',',
                "1:id|v\n"
                "2!:1|open\n2,x\n3,y\n\n"
                "3:2|x\n"
                "4:3|y\n");
    expect_rows("a,\"b", ',', "1!:a|b\n");
    expect_rows("a,\"b\"\"", ',', "1!:a|b\"\n");
}

static void test_too_many_fields(void **state)
{
    (void)state;
    struct sbuf in = {0};
    sb_str(&in, "a,b\n");
    for (int i = 0; i < CSV_MAX_FIELDS; i++)
        sb_str(&in, i ? ",x" : "x");
    sb_str(&in, "\n"); /* exactly the limit: fine */
    for (int i = 0; i <= CSV_MAX_FIELDS; i++)
        sb_str(&in, i ? ",\"y\ny\"" : "y"); /* one more, with line breaks */
    sb_str(&in, "\nc,d\n");

    FILE *f;
    struct csv_reader *r = reader_on(in.p, in.len, CSV_UTF8, &f);
    struct csv_row row;
    struct err e = {0};
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_null(row.error);
    assert_int_equal(row.nfields, CSV_MAX_FIELDS);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_non_null(row.error);
    assert_int_equal(row.line, 3);
    assert_int_equal(row.nfields, CSV_MAX_FIELDS);
    assert_string_equal(row.fields[1].p, "y\ny");
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_null(row.error);
    assert_int_equal(row.line, 3 + CSV_MAX_FIELDS + 1);
    assert_string_equal(row.fields[0].p, "c");
    assert_int_equal(csv_next(r, &row, &e), 0);
    csv_close(r);
    fclose(f);
    free(in.p);
}

/* A row of exactly n bytes and its line end. */
static void put_row_of(struct sbuf *b, size_t n, char c)
{
    char chunk[4096];
    memset(chunk, c, sizeof(chunk));
    while (n) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        sb_put(b, chunk, k);
        n -= k;
    }
    sb_str(b, "\n");
}

static void test_too_long(void **state)
{
    (void)state;
    struct sbuf in = {0};
    sb_str(&in, "a,b\n");
    put_row_of(&in, CSV_MAX_ROW_BYTES, 'x');     /* the largest row */
    put_row_of(&in, CSV_MAX_ROW_BYTES + 1, 'y'); /* one byte too many */
    sb_str(&in, "c,d\n");
    sb_str(&in, "\""); /* a quote left open, then lines */
    uint64_t ef_rows = 0;
    for (; in.len < 5 * CSV_MAX_ROW_BYTES; ef_rows++)
        sb_str(&in, "e,f\n");
    sb_str(&in, "g,h");

    FILE *f;
    struct csv_reader *r = reader_on(in.p, in.len, CSV_UTF8, &f);
    struct csv_row row;
    struct err e = {0};
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_null(row.error);
    assert_int_equal(row.nfields, 1);
    assert_int_equal(row.fields[0].len, CSV_MAX_ROW_BYTES);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_non_null(row.error);
    assert_int_equal(row.line, 3);
    assert_int_equal(row.offset, 4 + CSV_MAX_ROW_BYTES + 1);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_null(row.error);
    assert_int_equal(row.line, 4);
    assert_string_equal(row.fields[1].p, "d");
    /* The open quote makes a row too long: reading resumes at its second line. */
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_non_null(row.error);
    assert_int_equal(row.line, 5);
    uint64_t line = 6, rows = 0;
    bool last_is_g = false;
    int rc;
    while ((rc = csv_next(r, &row, &e)) == 1) {
        assert_null(row.error);
        assert_int_equal(row.line, line++);
        last_is_g = strcmp(row.fields[0].p, "g") == 0;
        rows++;
    }
    assert_int_equal(rc, 0);
    assert_true(last_is_g);
    assert_int_equal(rows, ef_rows); /* the first e,f is on the quote's line; then g,h */
    csv_close(r);
    fclose(f);

    /* A long line with no line end at all. */
    in.len = 0;
    put_row_of(&in, 3 * CSV_MAX_ROW_BYTES, 'z');
    in.len--;
    r = reader_on(in.p, in.len, CSV_UTF8, &f);
    assert_int_equal(csv_next(r, &row, &e), 1);
    assert_non_null(row.error);
    assert_int_equal(csv_next(r, &row, &e), 0);
    csv_close(r);
    fclose(f);
    free(in.p);
}

static void test_bad_utf8(void **state)
{
    (void)state;
    /* Truncated, overlong, a surrogate, above U+10FFFF, a stray continuation byte; the
     * row is still read, with its bytes as they were. */
    expect_rows("ok,\xe7\x8e\x8b\n"
                "bad,\xe7\x8e\n"
                "over,\xc0\xaf\n"
                "sur,\xed\xa0\x80\n"
                "big,\xf4\x90\x80\x80\n"
                "cont,\x80\n"
                "ok,\xf0\x9f\x98\x80\n"
                "\xe4,\"\xb8\xad\"\n",
                ',',
                "1:ok|\xe7\x8e\x8b\n"
                "2~:bad|\xe7\x8e\n"
                "3~:over|\xc0\xaf\n"
                "4~:sur|\xed\xa0\x80\n"
                "5~:big|\xf4\x90\x80\x80\n"
                "6~:cont|\x80\n"
                "7:ok|\xf0\x9f\x98\x80\n"
                "8~:\xe4|\xb8\xad\n");
    /* A NUL would cut a C string short: flagged too, and kept in the length. */
    static const char in[] = "nul,a\0b\nok,c\n";
    static const char want[] = "1~:nul|a\0b\n2:ok|c\n";
    char *got = render(in, sizeof(in) - 1, CSV_UTF8, ',');
    assert_memory_equal(got, want, sizeof(want));
    free(got);
}

/* A stream that cannot be read is ERR_IO, and stays so. */
static void test_read_error(void **state)
{
    (void)state;
    for (int enc = CSV_UTF8; enc <= CSV_GBK; enc++) {
        FILE *f = fopen("/dev/null", "w");
        assert_non_null(f);
        struct csv_reader *r = NULL;
        struct err e = {0};
        assert_int_equal(csv_open(f, (enum csv_encoding)enc, ',', &r, &e), 0);
        struct csv_row row;
        assert_int_equal(csv_next(r, &row, &e), ERR_IO);
        assert_non_null(strstr(e.msg, "cannot read"));
        assert_int_equal(csv_next(r, &row, &e), ERR_IO);
        csv_close(r);
        fclose(f);
    }
}

/* bad_utf8 agrees with the collection API's UTF-8 check (text_scan_json) on every
 * lead byte followed by every second byte and boundary values of the third and fourth. */
static void test_utf8_check_agrees(void **state)
{
    (void)state;
    static const unsigned char third[] = {0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    static const unsigned char fourth[] = {0x41, 0x80, 0xbf};
    struct sbuf b = {0};
    size_t rows = 0;
    for (unsigned b0 = 0x80; b0 <= 0xff; b0++)
        for (unsigned b1 = 0; b1 <= 0xff; b1++)
            for (size_t i = 0; i < sizeof(third); i++)
                for (size_t j = 0; j < sizeof(fourth); j++) {
                    if (b1 == '\n' || b1 == ',' || b1 == '"')
                        continue;
                    unsigned char seq[] = {'x',      (unsigned char)b0, (unsigned char)b1,
                                           third[i], fourth[j],         '\n'};
                    sb_put(&b, seq, sizeof(seq));
                    rows++;
                }
    FILE *f;
    struct csv_reader *r = reader_on(b.p, b.len, CSV_UTF8, &f);
    struct csv_row row;
    struct err e = {0};
    size_t bad = 0;
    for (size_t k = 0; k < rows; k++) {
        assert_int_equal(csv_next(r, &row, &e), 1);
        assert_int_equal(row.nfields, 1);
        const char *v = row.fields[0].p;
        size_t n = row.fields[0].len;
        assert_int_equal(n, 5);
        bool want = text_scan_json(v, n, INT_MAX, NULL) == ERR_INVALID || memchr(v, 0, n);
        if (row.bad_utf8 != want)
            fail_msg("row %zu (%02x %02x %02x %02x): bad_utf8 %d, want %d", k + 1,
                     (unsigned char)v[1], (unsigned char)v[2], (unsigned char)v[3],
                     (unsigned char)v[4], row.bad_utf8, want);
        bad += want;
    }
    assert_true(bad > 0 && bad < rows);
    assert_int_equal(csv_next(r, &row, &e), 0);
    csv_close(r);
    fclose(f);
    free(b.p);
}

/* A long run of rows with every kind of field, written with quoting chosen row by row,
 * read back across many block boundaries in each encoding. */
static void test_round_trip(void **state)
{
    (void)state;
    static const char *const values[] = {"",           "plain",      "王小明",    "a,b",
                                         "say \"hi\"", "two\nlines", "crlf\r\nx", "  ",
                                         "订单#1",     "\""};
    static const enum csv_encoding encs[] = {CSV_UTF8, CSV_GBK, CSV_GB18030};
    static const char *const names[] = {"UTF-8", "GBK", "GB18030"};
    struct sbuf in = {0}, want = {0};
    sb_str(&want, "");
    uint64_t line = 1, seed = 42;
    for (int row = 0; row < 30000; row++) {
        sb_fmt(&want, "%" PRIu64 ":", line);
        int nf = 1 + row % 5;
        for (int i = 0; i < nf; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            const char *v = values[(seed >> 33) % ARRAY_SIZE(values)];
            bool quote = strpbrk(v, ",\"\n\r") || (seed >> 20) % 3 == 0 || (!v[0] && nf == 1);
            if (i) {
                sb_str(&in, ",");
                sb_str(&want, "|");
            }
            sb_str(&want, v);
            if (!quote) {
                sb_str(&in, v);
                continue;
            }
            sb_str(&in, "\"");
            for (const char *c = v; *c; c++) {
                sb_put(&in, c, 1);
                if (*c == '"')
                    sb_str(&in, "\"");
                line += *c == '\n';
            }
            sb_str(&in, "\"");
        }
        sb_str(&in, row % 7 ? "\n" : "\r\n");
        sb_str(&want, "\n");
        line++;
    }
    for (size_t k = 0; k < ARRAY_SIZE(encs); k++) {
        size_t n = in.len;
        char *data = k ? encode(names[k], in.p, in.len, &n) : in.p;
        char *got = render(data, n, encs[k], ',');
        assert_string_equal(got, want.p);
        free(got);
        if (k)
            free(data);
    }
    free(in.p);
    free(want.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_parse),
        cmocka_unit_test(test_open_rejects_bad_delimiters),
        cmocka_unit_test(test_rfc4180),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_empty_fields_and_lines),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_delimiters),
        cmocka_unit_test(test_lenient_quotes),
        cmocka_unit_test(test_offsets_and_bytes_read),
        cmocka_unit_test(test_gbk),
        cmocka_unit_test(test_converted_offsets),
        cmocka_unit_test(test_gbk_invalid),
        cmocka_unit_test(test_gb18030),
        cmocka_unit_test(test_utf16le),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_utf8_check_agrees),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
