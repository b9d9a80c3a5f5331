/* test_demo.c - the demo world: its generator, determinism, every file and its format,
 * the ground truth against the files, the mapping files against the importer's
 * compiler and the files' headers, seasonality, errors and the CLI's exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <cJSON.h>
#include <dirent.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "demo/demo.h"
#include "import/csv.h"
#include "import/mapping.h"

#define TEST_CUSTOMERS 1500
#define TEST_SEED      7
#define MAX_FIELDS     32

/* ---- Helpers -------------------------------------------------------------------------- */

static char *read_all(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
        if (c >= 0x80 && ((c & 0xc0) == 0x80 || c >= 0xf8 || i + more >= n))
            return false;
        for (size_t j = 1; j <= more; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        i += more + 1;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs `custos demo` with the arguments (a NULL-terminated list); its exit status. */
static int run_demo(const char *arg, ...)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = strdup("demo");
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = strdup(a);
    va_end(ap);
    argv[argc] = NULL;
    int rc = cmd_demo(argc, argv);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

/* GBK to UTF-8 with iconv; NULL if the bytes are not GBK. */
static char *gbk_to_utf8(const char *in, size_t n, size_t *outlen)
{
    iconv_t cd = iconv_open("UTF-8", "GBK");
    assert_true(cd != (iconv_t)-1);
    size_t cap = n * 2 + 16, left = cap;
    char *out = malloc(cap), *o = out, *i = (char *)(uintptr_t)in;
    assert_non_null(out);
    size_t inleft = n;
    size_t rc = iconv(cd, &i, &inleft, &o, &left);
    iconv_close(cd);
    if (rc == (size_t)-1) {
        free(out);
        return NULL;
    }
    *outlen = cap - left;
    out[*outlen] = '\0';
    return out;
}

/* A CSV parser for checking (RFC 4180: quotes, "" escapes, line breaks in quotes,
 * CRLF). Fields are NUL-terminated in place; returns the number of fields of the row
 * starting at *pos, or 0 at the end. */
static size_t csv_row(char *buf, size_t len, size_t *pos, char **fields)
{
    size_t i = *pos, nf = 0;
    if (i >= len)
        return 0;
    for (;;) {
        char *start = buf + i, *w = start;
        if (i < len && buf[i] == '"') {
            i++;
            for (;;) {
                assert_true(i < len); /* unterminated quote */
                if (buf[i] == '"' && i + 1 < len && buf[i + 1] == '"') {
                    *w++ = '"';
                    i += 2;
                } else if (buf[i] == '"') {
                    i++;
                    break;
                } else {
                    *w++ = buf[i++];
                }
            }
        } else {
            while (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r')
                *w++ = buf[i++];
        }
        assert_true(nf < MAX_FIELDS);
        fields[nf++] = start;
        char sep = i < len ? buf[i] : '\n';
        *w = '\0';
        i++;
        if (sep == ',')
            continue;
        if (sep == '\r' && i < len && buf[i] == '\n')
            i++;
        break;
    }
    *pos = i;
    return nf;
}

/* The data of a CSV file as UTF-8 without a BOM (the POS file converted from GBK). */
static char *csv_text(const char *dir, const char *file, size_t *len)
{
    char *raw = read_all(dir, file, len);
    assert_non_null(raw);
    if (strcmp(file, "pos_receipts.csv") == 0) {
        size_t n;
        char *u = gbk_to_utf8(raw, *len, &n);
        assert_non_null(u);
        free(raw);
        *len = n;
        return u;
    }
    if (*len >= 3 && memcmp(raw, "\xef\xbb\xbf", 3) == 0) {
        memmove(raw, raw + 3, *len - 3 + 1);
        *len -= 3;
    }
    return raw;
}

/* ---- A world generated once for the tests that read it ---------------------------------- */

struct world {
    char dir[64], again[64], other[64];
    struct demo_stats st;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    snprintf(w->dir, sizeof(w->dir), "/tmp/custos-demo-XXXXXX");
    if (!w || !mkdtemp(w->dir))
        return -1;
    struct demo_options o = {TEST_CUSTOMERS, TEST_SEED, w->dir, false};
    struct err e = {0};
    if (demo_generate(&o, &w->st, &e)) {
        fprintf(stderr, "demo_generate: %s\n", e.msg);
        return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    remove_tree(w->dir);
    if (w->again[0])
        remove_tree(w->again);
    if (w->other[0])
        remove_tree(w->other);
    free(w);
    return 0;
}

/* ---- The generator's parts ------------------------------------------------------------ */

static void test_rng(void **state)
{
    (void)state;
    struct demo_rng a, b, c;
    demo_rng_seed(&a, 42);
    demo_rng_seed(&b, 42);
    demo_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = demo_rng_next(&a), y = demo_rng_next(&b), z = demo_rng_next(&c);
        assert_true(x == y);
        differ += x != z;
    }
    assert_true(differ > 990);
    /* below() is in range and roughly uniform */
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t v = demo_rng_below(&a, 10);
        assert_true(v < 10);
        counts[v]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(counts[i] > 9500 && counts[i] < 10500);
    double u = 0;
    for (int i = 0; i < 10000; i++) {
        double x = demo_rng_unit(&a);
        assert_true(x >= 0 && x < 1);
        u += x;
    }
    assert_true(u / 10000 > 0.49 && u / 10000 < 0.51);
    /* a zero weight is never drawn */
    const float wt[] = {1, 0, 3};
    for (int i = 0; i < 1000; i++)
        assert_int_not_equal(demo_rng_weighted(&a, wt, 3), 1);
}

static void test_perm_is_bijection(void **state)
{
    (void)state;
    const uint64_t mod = 100000;
    unsigned char *seen = calloc(mod, 1);
    assert_non_null(seen);
    for (uint64_t x = 0; x < mod; x++) {
        uint64_t y = demo_perm(99, 5, x, mod);
        assert_true(y < mod);
        assert_false(seen[y]);
        seen[y] = 1;
    }
    free(seen);
    assert_true(demo_perm(1, 5, 12, mod) != demo_perm(2, 5, 12, mod) ||
                demo_perm(1, 5, 13, mod) != demo_perm(2, 5, 13, mod));
}

static void test_uuid_and_phones(void **state)
{
    (void)state;
    char u[37], v[37];
    demo_uuid(0x0123456789abcdefu, 0xffffffffffffffffu, u);
    assert_string_equal(u, "01234567-89ab-4cde-bfff-ffffffffffff");
    demo_uuid(0x0123456789abcdeeu, 0xffffffffffffffffu, v);
    assert_string_not_equal(u, v);
    char out[64];
    demo_phone_style("13800138000", 1, out, sizeof(out));
    assert_string_equal(out, "+86 138 0013 8000");
    demo_phone_style("13800138000", 2, out, sizeof(out));
    assert_string_equal(out, "0086-13800138000");
    demo_phone_style("13800138000", 3, out, sizeof(out));
    assert_string_equal(out, "(+86)13800138000");
    demo_phone_style("13800138000", 4, out, sizeof(out));
    assert_string_equal(out, "138-0013-8000");
    demo_phone_style("13800138000", 6, out, sizeof(out));
    assert_string_equal(out, "１３８００１３８０００");
    struct demo_buf *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    demo_buf_csv(b, "a,\"b\"\nc");
    assert_string_equal(b->p, "\"a,\"\"b\"\"\nc\"");
    b->len = 0;
    demo_buf_json(b, "q\"\\\n\x01");
    assert_string_equal(b->p, "\"q\\\"\\\\\\n\\u0001\"");
    free(b);
}

/* ---- The files ------------------------------------------------------------------------ */

static void test_files_exist_and_have_rows(void **state)
{
    struct world *w = *state;
    for (int s = 0; s < DEMO_SOURCE_COUNT; s++) {
        const char *file = demo_source_file((enum demo_source)s);
        assert_true(w->st.records[s] > 0);
        size_t len;
        char *text = read_all(w->dir, file, &len);
        assert_non_null(text);
        assert_int_equal(len, w->st.bytes[s]);
        free(text);
        text = s < DEMO_WEB ? csv_text(w->dir, file, &len) : read_all(w->dir, file, &len);
        size_t pos = 0, rows = 0;
        char *fields[MAX_FIELDS];
        if (s < DEMO_WEB) {
            size_t header = csv_row(text, len, &pos, fields), nf;
            while ((nf = csv_row(text, len, &pos, fields))) {
                assert_int_equal(nf, header);
                rows++;
            }
        } else {
            for (char *p = text; (p = strchr(p, '\n')); p++)
                rows++;
        }
        if (rows != w->st.records[s])
            fail_msg("%s: %zu rows, stats say %" PRIu64, file, rows, w->st.records[s]);
        assert_true(rows >= 50);
        free(text);
    }
    static const char *const others[] = {"README.md", "ground_truth.csv"};
    for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
        size_t len;
        char *text = read_all(w->dir, others[i], &len);
        assert_non_null(text);
        assert_true(len > 1000);
        free(text);
    }
    size_t len;
    char *crm = read_all(w->dir, "crm_contacts.csv", &len);
    assert_memory_equal(crm,
                        "\xef\xbb\xbf"
                        "contact_id,",
                        14); /* a BOM */
    free(crm);
}

static void test_deterministic(void **state)
{
    struct world *w = *state;
    snprintf(w->again, sizeof(w->again), "/tmp/custos-demo-XXXXXX");
    snprintf(w->other, sizeof(w->other), "/tmp/custos-demo-XXXXXX");
    assert_non_null(mkdtemp(w->again));
    assert_non_null(mkdtemp(w->other));
    struct demo_stats st;
    struct err e = {0};
    struct demo_options same = {TEST_CUSTOMERS, TEST_SEED, w->again, false};
    struct demo_options other = {TEST_CUSTOMERS, TEST_SEED + 1, w->other, false};
    assert_int_equal(demo_generate(&same, &st, &e), 0);
    assert_int_equal(demo_generate(&other, &st, &e), 0);
    static const char *const extra[] = {"ground_truth.csv", "README.md",
                                        "pos_receipts.mapping.json"};
    for (int s = 0; s < DEMO_SOURCE_COUNT + (int)ARRAY_SIZE(extra); s++) {
        const char *file = s < DEMO_SOURCE_COUNT ? demo_source_file((enum demo_source)s)
                                                 : extra[s - DEMO_SOURCE_COUNT];
        size_t la, lb, lc;
        char *a = read_all(w->dir, file, &la), *b = read_all(w->again, file, &lb),
             *c = read_all(w->other, file, &lc);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        if (la != lb || memcmp(a, b, la) != 0)
            fail_msg("%s differs between two runs with the same seed", file);
        if (s < DEMO_SOURCE_COUNT || s == DEMO_SOURCE_COUNT)
            if (la == lc && memcmp(a, c, la) == 0)
                fail_msg("%s is the same with another seed", file);
        free(a);
        free(b);
        free(c);
    }
}

static void test_events_are_segment_messages(void **state)
{
    struct world *w = *state;
    for (int s = DEMO_WEB; s <= DEMO_MINIPROGRAM; s++) {
        size_t len, n = 0, identified = 0, campaigns = 0, orders = 0;
        char *text = read_all(w->dir, demo_source_file((enum demo_source)s), &len);
        assert_non_null(text);
        assert_true(valid_utf8((unsigned char *)text, len));
        for (char *line = text, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            assert_non_null(nl);
            cJSON *m = cJSON_ParseWithLength(line, (size_t)(nl - line));
            if (!m)
                fail_msg("%s line %zu is not JSON", demo_source_file((enum demo_source)s), n + 1);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "messageId");
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
            const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "timestamp");
            const cJSON *uid = cJSON_GetObjectItemCaseSensitive(m, "userId");
            const cJSON *aid = cJSON_GetObjectItemCaseSensitive(m, "anonymousId");
            const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(m, "context");
            assert_true(cJSON_IsString(id) && id->valuestring[0]);
            assert_true(cJSON_IsString(type));
            assert_true(cJSON_IsString(uid) || cJSON_IsString(aid));
            assert_true(cJSON_IsObject(ctx));
            assert_null(cJSON_GetObjectItemCaseSensitive(m, "sentAt"));
            int64_t ms;
            assert_int_equal(time_parse_iso8601(ts->valuestring, strlen(ts->valuestring), &ms), 0);
            assert_true(ms >= DEMO_START_UTC * 1000 &&
                        ms < (DEMO_START_UTC + DEMO_END_SECONDS) * INT64_C(1000));
            identified += cJSON_IsString(uid);
            campaigns += cJSON_HasObjectItem(ctx, "campaign");
            if (s == DEMO_APP) {
                const cJSON *dev = cJSON_GetObjectItemCaseSensitive(ctx, "device");
                assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(dev, "id")));
            }
            if (s == DEMO_MINIPROGRAM) {
                const cJSON *tr = cJSON_GetObjectItemCaseSensitive(ctx, "traits");
                assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tr, "wechat_openid")));
            }
            const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "event");
            if (cJSON_IsString(ev) && strcmp(ev->valuestring, "Order Completed") == 0) {
                const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "properties");
                assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "order_id")));
                assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "revenue")));
                assert_string_equal(cJSON_GetObjectItemCaseSensitive(p, "currency")->valuestring,
                                    "CNY");
                const cJSON *products = cJSON_GetObjectItemCaseSensitive(p, "products");
                assert_true(cJSON_IsArray(products) && cJSON_GetArraySize(products) > 0);
                orders++;
            }
            cJSON_Delete(m);
            n++;
        }
        assert_true(identified > 0 && identified < n); /* journeys start anonymous */
        assert_true(campaigns > 0);
        assert_true(orders > 0);
        free(text);
    }
}

static void test_pos_is_gbk(void **state)
{
    struct world *w = *state;
    size_t len, n;
    char *raw = read_all(w->dir, "pos_receipts.csv", &len);
    assert_non_null(raw);
    assert_false(valid_utf8((unsigned char *)raw, len)); /* it really is GBK */
    char *u = gbk_to_utf8(raw, len, &n);
    assert_non_null(u);
    assert_true(valid_utf8((unsigned char *)u, n));
    assert_memory_equal(u, "小票号,行号,门店,交易时间", strlen("小票号,行号,门店,交易时间"));
    static const char *const categories[] = {"母婴", "美妆", "食品", "服饰", "家居", "数码", "￥"};
    for (size_t i = 0; i < ARRAY_SIZE(categories); i++)
        if (!strstr(u, categories[i]))
            fail_msg("no %s in the POS file", categories[i]);
    free(raw);
    free(u);
}

/* Every ground-truth key is unique in its source and is exactly the key a record of
 * the files gives under its mapping's record_key; every person appears. */
static void test_ground_truth_matches_files(void **state)
{
    struct world *w = *state;
    size_t len;
    char *gt = read_all(w->dir, "ground_truth.csv", &len);
    assert_non_null(gt);
    char *fields[MAX_FIELDS];
    size_t pos = 0;
    assert_int_equal(csv_row(gt, len, &pos, fields), 3);
    assert_string_equal(fields[0], "source");
    assert_string_equal(fields[1], "record_key");
    assert_string_equal(fields[2], "person_id");
    /* One sorted list of "source\tkey" per source, to compare with the files. */
    size_t cap = (size_t)w->st.truth_rows, n[DEMO_SOURCE_COUNT] = {0};
    char **keys[DEMO_SOURCE_COUNT];
    for (int s = 0; s < DEMO_SOURCE_COUNT; s++)
        assert_non_null(keys[s] = calloc(cap, sizeof(char *)));
    unsigned char *persons = calloc(TEST_CUSTOMERS + 1, 1);
    size_t npersons = 0, rows = 0;
    while (csv_row(gt, len, &pos, fields) == 3) {
        int s = 0;
        while (s < DEMO_SOURCE_COUNT && strcmp(fields[0], demo_source_name((enum demo_source)s)))
            s++;
        assert_true(s < DEMO_SOURCE_COUNT);
        keys[s][n[s]++] = fields[1];
        assert_true(fields[2][0] == 'P' && strlen(fields[2]) == 9);
        long p = strtol(fields[2] + 1, NULL, 10);
        assert_true(p >= 1 && p <= TEST_CUSTOMERS);
        npersons += !persons[p];
        persons[p] = 1;
        rows++;
    }
    assert_int_equal(rows, w->st.truth_rows);
    assert_int_equal(npersons, w->st.persons);
    assert_true(npersons >= TEST_CUSTOMERS * 95 / 100 && npersons <= TEST_CUSTOMERS);

    for (int s = 0; s < DEMO_SOURCE_COUNT; s++) {
        qsort(keys[s], n[s], sizeof(char *), cmp_str);
        for (size_t i = 1; i < n[s]; i++)
            if (strcmp(keys[s][i - 1], keys[s][i]) == 0)
                fail_msg("%s: record key %s twice", demo_source_name((enum demo_source)s),
                         keys[s][i]);
        assert_int_equal(n[s], w->st.records[s]);
    }

    /* The keys the files give, the way the mappings say. */
    for (int s = 0; s < DEMO_SOURCE_COUNT; s++) {
        const char *file = demo_source_file((enum demo_source)s);
        char **got = calloc(n[s] + 1, sizeof(char *));
        size_t ngot = 0, flen;
        char *text;
        if (s >= DEMO_WEB) {
            text = read_all(w->dir, file, &flen);
            for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
                cJSON *m = cJSON_ParseWithLength(line, (size_t)(nl - line));
                assert_true(ngot < n[s]);
                got[ngot++] = strdup(cJSON_GetObjectItemCaseSensitive(m, "messageId")->valuestring);
                cJSON_Delete(m);
            }
        } else {
            char mname[64], *mtext;
            size_t mlen;
            snprintf(mname, sizeof(mname), "%.*s.mapping.json", (int)(strrchr(file, '.') - file),
                     file);
            mtext = read_all(w->dir, mname, &mlen);
            cJSON *map = cJSON_Parse(mtext);
            assert_non_null(map);
            const cJSON *rk = cJSON_GetObjectItemCaseSensitive(map, "record_key");
            const char *kcols[4];
            size_t nk = 0;
            if (cJSON_IsString(rk))
                kcols[nk++] = rk->valuestring;
            else
                for (const cJSON *k = rk->child; k; k = k->next)
                    kcols[nk++] = k->valuestring;
            text = csv_text(w->dir, file, &flen);
            size_t fp = 0, nh = csv_row(text, flen, &fp, fields), kidx[4];
            for (size_t k = 0; k < nk; k++) {
                kidx[k] = nh;
                for (size_t i = 0; i < nh; i++)
                    if (strcmp(fields[i], kcols[k]) == 0)
                        kidx[k] = i;
                assert_true(kidx[k] < nh);
            }
            while (csv_row(text, flen, &fp, fields)) {
                char key[256] = "";
                for (size_t k = 0; k < nk; k++)
                    snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s%s", k ? "|" : "",
                             fields[kidx[k]]);
                assert_true(ngot < n[s]);
                got[ngot++] = strdup(key);
            }
            cJSON_Delete(map);
            free(mtext);
        }
        free(text);
        assert_int_equal(ngot, n[s]);
        qsort(got, ngot, sizeof(char *), cmp_str);
        for (size_t i = 0; i < ngot; i++)
            if (strcmp(got[i], keys[s][i]) != 0)
                fail_msg("%s: the file gives key %s, the ground truth %s", file, got[i],
                         keys[s][i]);
        for (size_t i = 0; i < ngot; i++)
            free(got[i]);
        free(got);
        free(keys[s]);
    }
    free(persons);
    free(gt);
}

/* The mapping files compile with the importer's compiler and bind to the files'
 * header rows (every key and required column is there). */
static void test_mappings_fit_the_files(void **state)
{
    struct world *w = *state;
    for (int s = 0; s < DEMO_SOURCE_COUNT; s++) {
        const char *file = demo_source_file((enum demo_source)s);
        char mpath[512], fpath[512];
        snprintf(mpath, sizeof(mpath), "%s/%.*s.mapping.json", w->dir,
                 (int)(strrchr(file, '.') - file), file);
        snprintf(fpath, sizeof(fpath), "%s/%s", w->dir, file);
        struct mapping *m = NULL;
        struct err e = {0};
        if (mapping_load(mpath, &m, &e))
            fail_msg("%s: %s", mpath, e.msg);
        if (s >= DEMO_WEB) {
            assert_int_equal(m->format, MAPPING_JSONL);
            mapping_free(m);
            continue;
        }
        assert_int_equal(m->format, MAPPING_CSV);
        assert_int_equal(m->encoding, s == DEMO_POS ? CSV_GBK : CSV_UTF8);
        FILE *f = fopen(fpath, "rb");
        assert_non_null(f);
        struct csv_reader *r = NULL;
        assert_int_equal(csv_open(f, m->encoding, m->delimiter, &r, &e), 0);
        struct csv_row header;
        assert_int_equal(csv_next(r, &header, &e), 1);
        assert_null(header.error);
        struct mapping_binding b;
        if (mapping_bind(m, &header, &b, &e))
            fail_msg("%s: %s", file, e.msg);
        /* every column the mapping names is in the file */
        for (size_t c = 0; c < m->ncolumns; c++) {
            bool found = false;
            for (size_t i = 0; i < header.nfields; i++)
                found |= strcmp(header.fields[i].p, m->columns[c].header) == 0;
            if (!found)
                fail_msg("%s: the mapping names %s, the file has no such column", file,
                         m->columns[c].header);
        }
        mapping_unbind(&b);
        csv_close(r);
        fclose(f);
        mapping_free(m);
    }
}

/* The traps are there: junk values, messy formats, duplicates with the same person. */
static void test_messy_values(void **state)
{
    struct world *w = *state;
    size_t len;
    char *crm = csv_text(w->dir, "crm_contacts.csv", &len);
    static const char *const wanted[] = {"test@test.com", ",null,",       "+86 1",   "0086-",
                                         "(+86)1",        "\xef\xbc\x91", "@QQ.COM", ",\" "};
    for (size_t i = 0; i < ARRAY_SIZE(wanted); i++)
        if (!strstr(crm, wanted[i]))
            fail_msg("no %s in crm_contacts.csv", wanted[i]);
    bool junk = false;
    for (size_t i = 0; i < demo_njunk_phones; i++)
        junk |= strstr(crm, demo_junk_phones[i]) != NULL;
    assert_true(junk);
    free(crm);
    char *tickets = read_all(w->dir, "service_tickets.csv", &len);
    assert_non_null(strstr(tickets, "\"\"")); /* a quoted quote */
    assert_non_null(strstr(tickets, "。\n")); /* a line break inside a field */
    free(tickets);
    char *market = read_all(w->dir, "marketplace_orders.csv", &len);
    assert_non_null(strstr(market, "交易成功"));
    assert_non_null(strstr(market, "已退款"));
    assert_non_null(strstr(market, "****"));
    free(market);
}

/* 6.18 and Double 11 are clear peaks of marketplace orders. */
static void test_seasonality(void **state)
{
    struct world *w = *state;
    size_t len, pos = 0;
    char *text = csv_text(w->dir, "marketplace_orders.csv", &len);
    char *fields[MAX_FIELDS];
    csv_row(text, len, &pos, fields);
    int per_day[DEMO_DAYS] = {0};
    while (csv_row(text, len, &pos, fields)) {
        int64_t ms;
        assert_int_equal(time_parse_iso8601(fields[5], strlen(fields[5]), &ms), 0);
        /* the local time was read as UTC: the window starts 8 hours later */
        int64_t day = (ms / 1000 - DEMO_START_UTC - DEMO_TZ_SECONDS) / 86400;
        assert_true(day >= 0 && day < DEMO_DAYS);
        per_day[day]++;
    }
    free(text);
    int sorted[DEMO_DAYS];
    memcpy(sorted, per_day, sizeof(sorted));
    for (int i = 1; i < DEMO_DAYS; i++) /* insertion sort: small */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    int median = sorted[DEMO_DAYS / 2];
    assert_true(median > 0);
    static const int peaks[] = {169, 315, 534, 680}; /* 2024-06-18, 11-11, 2025-06-18, 11-11 */
    for (size_t i = 0; i < ARRAY_SIZE(peaks); i++) {
        int y, m, d;
        demo_day_date(peaks[i], &y, &m, &d);
        assert_true((m == 6 && d == 18) || (m == 11 && d == 11));
        if (per_day[peaks[i]] < 3 * median)
            fail_msg("%d-%02d-%02d: %d orders, median day %d", y, m, d, per_day[peaks[i]], median);
    }
}

static void test_errors(void **state)
{
    (void)state;
    char dir[64] = "/tmp/custos-demo-XXXXXX", file[128], below[160];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/file", dir);
    snprintf(below, sizeof(below), "%s/sub", file);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    struct demo_stats st;
    struct err e = {0};
    struct demo_options o = {10, 1, below, false};
    assert_int_equal(demo_generate(&o, &st, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "cannot create"));
    assert_null(strchr(e.msg, '\n'));
    o.dir = file; /* a file, not a directory */
    assert_int_equal(demo_generate(&o, &st, &e), ERR_IO);
    o.dir = dir;
    o.customers = 0;
    assert_int_equal(demo_generate(&o, &st, &e), ERR_INVALID);
    o.customers = DEMO_MAX_CUSTOMERS + 1;
    assert_int_equal(demo_generate(&o, &st, &e), ERR_INVALID);

    /* the verb: 2 for bad usage, 1 for an unwritable directory, 0 for a world */
    assert_int_equal(run_demo("--customers", "abc", NULL), EXIT_USAGE);
    assert_int_equal(run_demo("--customers", "0", NULL), EXIT_USAGE);
    assert_int_equal(run_demo("--customers", "20000000", NULL), EXIT_USAGE);
    assert_int_equal(run_demo("--seed", "-1", NULL), EXIT_USAGE);
    assert_int_equal(run_demo("--bogus", NULL), EXIT_USAGE);
    assert_int_equal(run_demo("extra", NULL), EXIT_USAGE);
    assert_int_equal(run_demo("--customers", "5", "--out", below, NULL), EXIT_FAIL);
    assert_int_equal(run_demo("--customers", "20", "--seed", "3", "--out", dir, NULL), EXIT_OK);
    size_t len;
    char *readme = read_all(dir, "README.md", &len);
    assert_non_null(readme);
    assert_non_null(strstr(readme, "--customers 20 --seed 3"));
    free(readme);
    unlink(file);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_perm_is_bijection),
        cmocka_unit_test(test_uuid_and_phones),
        cmocka_unit_test(test_files_exist_and_have_rows),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_events_are_segment_messages),
        cmocka_unit_test(test_pos_is_gbk),
        cmocka_unit_test(test_ground_truth_matches_files),
        cmocka_unit_test(test_mappings_fit_the_files),
        cmocka_unit_test(test_messy_values),
        cmocka_unit_test(test_seasonality),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
