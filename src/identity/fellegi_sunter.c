/* fellegi_sunter.c - the record linkage pipeline of match.h: records and tables,
 * blocking, comparison vectors, the Fellegi-Sunter model fitted by EM, scores, and
 * clustering with union-find.
 *
 * A table keeps each value decoded once into code points (ASCII folded to lower case,
 * outer blanks dropped) in one pool, plus the day number of date fields, so that
 * comparing a pair costs no decoding and no allocation.
 *
 * Blocking hashes each record's key per rule, sorts (hash, record) entries so that
 * every block is a run, and emits the pairs of each run; the pairs of all rules are
 * then radix-sorted as 64-bit integers and made unique.
 *
 * EM runs over distinct comparison vectors with their counts (a few thousand patterns
 * stand for millions of pairs), in log space: the posterior of a pattern is
 * 1 / (1 + exp(log u-likelihood - log m-likelihood)). */
#include <math.h>

#include "core/text.h"
#include "identity/match.h"
#include "import/csv.h"

/* ---- records from CSV ---------------------------------------------------------- */

struct growbuf {
    void *p;
    size_t len, cap; /* in elements */
};

/* Makes room for `more` elements of `size` bytes; 0 or ERR_NOMEM. */
static int grow(struct growbuf *g, size_t size, size_t more)
{
    if (g->cap - g->len >= more)
        return 0;
    size_t cap = g->cap ? g->cap : 64;
    while (cap - g->len < more) {
        if (cap > SIZE_MAX / 2 / size)
            return ERR_NOMEM;
        cap *= 2;
    }
    void *p = realloc(g->p, cap * size);
    if (p == NULL)
        return ERR_NOMEM;
    g->p = p;
    g->cap = cap;
    return 0;
}

static int push_text(struct growbuf *text, struct growbuf *offs, const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (grow(text, 1, n + 1) || grow(offs, sizeof(size_t), 1))
        return ERR_NOMEM;
    ((size_t *)offs->p)[offs->len++] = text->len;
    memcpy((char *)text->p + text->len, s, n);
    ((char *)text->p)[text->len + n] = '\0';
    text->len += n + 1;
    return 0;
}

int match_records_read_csv(const char *path, char delim, struct match_records *out, struct err *e)
{
    struct growbuf text = {0}, offs = {0};
    struct csv_reader *r = NULL;
    struct csv_row row;
    size_t ncols = 0, nrows = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        char buf[128];
        return err_set(e, ERR_IO, "cannot open %s: %s", path, strerror_r(errno, buf, sizeof(buf)));
    }
    rc = csv_open(f, CSV_UTF8, delim, &r, e);
    if (rc)
        goto out;
    while ((rc = csv_next(r, &row, e)) == 1) {
        if (row.error != NULL || row.bad_utf8) {
            rc = err_set(e, ERR_INVALID, "%s line %" PRIu64 ": %s", path, row.line,
                         row.error ? row.error : "not valid UTF-8");
            goto out;
        }
        if (nrows == 0)
            ncols = row.nfields;
        else if (row.nfields != ncols) {
            rc = err_set(e, ERR_INVALID, "%s line %" PRIu64 ": %zu fields, the header has %zu",
                         path, row.line, row.nfields, ncols);
            goto out;
        }
        if (nrows > MATCH_MAX_RECORDS) {
            rc = err_set(e, ERR_LIMIT, "%s has more than %d records", path, MATCH_MAX_RECORDS);
            goto out;
        }
        for (size_t c = 0; c < row.nfields; c++) {
            if (push_text(&text, &offs, row.fields[c].p, row.fields[c].len)) {
                rc = err_set(e, ERR_NOMEM, "out of memory reading %s", path);
                goto out;
            }
        }
        nrows++;
    }
    if (rc < 0)
        goto out;
    if (nrows == 0) {
        rc = err_set(e, ERR_INVALID, "%s has no header row", path);
        goto out;
    }

    out->ncols = ncols;
    out->nrecords = nrows - 1;
    out->col = malloc((ncols + 1) * sizeof(*out->col));
    out->value = malloc((offs.len - ncols + 1) * sizeof(*out->value));
    if (out->col == NULL || out->value == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    out->pool = text.p;
    text.p = NULL;
    const size_t *o = offs.p;
    for (size_t c = 0; c < ncols; c++)
        out->col[c] = out->pool + o[c];
    for (size_t i = ncols; i < offs.len; i++)
        out->value[i - ncols] = out->pool + o[i];
    rc = 0;
out:
    if (rc)
        match_records_release(out);
    csv_close(r);
    fclose(f);
    free(text.p);
    free(offs.p);
    return rc;
}

int match_records_column(const struct match_records *r, const char *name)
{
    for (size_t c = 0; c < r->ncols; c++)
        if (strcmp(r->col[c], name) == 0)
            return (int)c;
    return -1;
}

void match_records_release(struct match_records *r)
{
    free(r->col);
    free((void *)r->value);
    free(r->pool);
    memset(r, 0, sizeof(*r));
}

/* ---- tables -------------------------------------------------------------------- */

#define DAY_NONE INT32_MIN /* a cell of a date field that is not a date */

struct cell {
    size_t off;   /* first code point in the table's pool */
    uint32_t len; /* 0: missing */
    int32_t day;  /* date fields: days since 1970-01-01, or DAY_NONE */
};

struct match_table {
    size_t n, nfields;
    struct match_field field[MATCH_MAX_FIELDS]; /* the schema; names not used */
    struct cell *cell;                          /* n * nfields */
    uint32_t *cp;                               /* the pool */
};

int match_kind_levels(enum match_kind kind)
{
    switch (kind) {
    case MATCH_NONE:
        return 0;
    case MATCH_EXACT:
        return 2;
    case MATCH_JW:
    case MATCH_EDIT:
    case MATCH_DATE:
        return 4;
    }
    return -1;
}

static int check_schema(const struct match_schema *s, struct err *e)
{
    if (s->nfields == 0 || s->nfields > MATCH_MAX_FIELDS)
        return err_set(e, ERR_INVALID, "a schema has 1 to %d fields, not %zu", MATCH_MAX_FIELDS,
                       s->nfields);
    for (size_t f = 0; f < s->nfields; f++)
        if (match_kind_levels(s->field[f].kind) < 0)
            return err_set(e, ERR_INVALID, "field %zu has an unknown kind", f);
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int match_table_new(const struct match_schema *s, size_t nrecords, const char *const *values,
                    struct match_table **out, struct err *e)
{
    struct growbuf pool = {0};
    uint32_t buf[MATCH_VALUE_MAX];
    int rc;

    *out = NULL;
    if ((rc = check_schema(s, e)))
        return rc;
    if (nrecords > MATCH_MAX_RECORDS)
        return err_set(e, ERR_LIMIT, "more than %d records", MATCH_MAX_RECORDS);
    struct match_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for a table");
    t->n = nrecords;
    t->nfields = s->nfields;
    for (size_t f = 0; f < s->nfields; f++) {
        t->field[f] = s->field[f];
        t->field[f].name = NULL;
        if (t->field[f].jw_high == 0)
            t->field[f].jw_high = MATCH_JW_HIGH_DEFAULT;
        if (t->field[f].jw_low == 0)
            t->field[f].jw_low = MATCH_JW_LOW_DEFAULT;
    }
    t->cell = calloc(nrecords * s->nfields + 1, sizeof(*t->cell));
    if (t->cell == NULL || grow(&pool, sizeof(uint32_t), 1)) { /* the pool is never NULL */
        rc = err_set(e, ERR_NOMEM, "out of memory for a table of %zu records", nrecords);
        goto out;
    }
    for (size_t r = 0; r < nrecords; r++) {
        for (size_t f = 0; f < s->nfields; f++) {
            struct cell *c = &t->cell[r * s->nfields + f];
            const char *v = values[r * s->nfields + f];
            size_t n = v ? strlen(v) : 0, len = 0;
            c->day = DAY_NONE;
            while (n > 0 && is_blank(*v)) {
                v++;
                n--;
            }
            while (n > 0 && is_blank(v[n - 1]))
                n--;
            rc = match_utf8_decode(v, n, buf, MATCH_VALUE_MAX, &len);
            if (rc == ERR_INVALID) {
                rc = err_set(e, rc, "record %zu field %zu is not valid UTF-8", r, f);
                goto out;
            } else if (rc) {
                rc = err_set(e, rc, "record %zu field %zu is longer than %d characters", r, f,
                             MATCH_VALUE_MAX);
                goto out;
            }
            if (grow(&pool, sizeof(uint32_t), len)) {
                rc = err_set(e, ERR_NOMEM, "out of memory for a table of %zu records", nrecords);
                goto out;
            }
            for (size_t i = 0; i < len; i++)
                buf[i] = buf[i] >= 'A' && buf[i] <= 'Z' ? buf[i] + ('a' - 'A') : buf[i];
            if (len > 0)
                memcpy((uint32_t *)pool.p + pool.len, buf, len * sizeof(uint32_t));
            c->off = pool.len;
            c->len = (uint32_t)len;
            pool.len += len;
            if (s->field[f].kind == MATCH_DATE && len > 0 && match_date_parse(v, n, &c->day))
                c->day = DAY_NONE;
        }
    }
    t->cp = pool.p;
    pool.p = NULL;
    rc = 0;
out:
    free(pool.p);
    if (rc)
        match_table_free(t);
    else
        *out = t;
    return rc;
}

int match_table_from_records(const struct match_schema *s, const struct match_records *r,
                             struct match_table **out, struct err *e)
{
    int col[MATCH_MAX_FIELDS];
    int rc;

    *out = NULL;
    if ((rc = check_schema(s, e)))
        return rc;
    for (size_t f = 0; f < s->nfields; f++) {
        col[f] = s->field[f].name ? match_records_column(r, s->field[f].name) : -1;
        if (col[f] < 0)
            return err_set(e, ERR_NOTFOUND, "no column for field %zu (%s)", f,
                           s->field[f].name ? s->field[f].name : "unnamed");
    }
    if (r->nrecords > MATCH_MAX_RECORDS)
        return err_set(e, ERR_LIMIT, "more than %d records", MATCH_MAX_RECORDS);
    const char **v = malloc((r->nrecords * s->nfields + 1) * sizeof(*v));
    if (v == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for a table");
    for (size_t i = 0; i < r->nrecords; i++)
        for (size_t f = 0; f < s->nfields; f++)
            v[i * s->nfields + f] = r->value[i * r->ncols + (size_t)col[f]];
    rc = match_table_new(s, r->nrecords, v, out, e);
    free((void *)v);
    return rc;
}

size_t match_table_size(const struct match_table *t)
{
    return t->n;
}

void match_table_free(struct match_table *t)
{
    if (t == NULL)
        return;
    free(t->cell);
    free(t->cp);
    free(t);
}

static bool same_schema(const struct match_table *a, const struct match_table *b)
{
    if (a->nfields != b->nfields)
        return false;
    for (size_t f = 0; f < a->nfields; f++)
        if (a->field[f].kind != b->field[f].kind || a->field[f].jw_high != b->field[f].jw_high ||
            a->field[f].jw_low != b->field[f].jw_low)
            return false;
    return true;
}

/* ---- blocking ------------------------------------------------------------------ */

struct key_entry {
    uint64_t hash;
    uint32_t rec;
    uint32_t side; /* 0: table a, 1: table b */
};

static int cmp_entry(const void *x, const void *y)
{
    const struct key_entry *p = x, *q = y;
    if (p->hash != q->hash)
        return p->hash < q->hash ? -1 : 1;
    if (p->side != q->side)
        return p->side < q->side ? -1 : 1;
    return p->rec < q->rec ? -1 : p->rec > q->rec;
}

#define KEY_SEP UINT32_C(0xFFFFFFFF) /* not a code point: ends each part of a key */

/* Hashes record r's key for rule; false when a part is missing. */
static bool block_key(const struct match_table *t, size_t r, const struct match_block_rule *rule,
                      uint64_t seed, uint64_t *hash)
{
    uint32_t key[MATCH_MAX_PARTS * (MATCH_VALUE_MAX + 1)];
    size_t k = 0;

    for (size_t i = 0; i < rule->nparts; i++) {
        const struct match_key_part *part = &rule->part[i];
        const struct cell *c = &t->cell[r * t->nfields + part->field];
        const uint32_t *v = t->cp + c->off;
        size_t len = c->len;
        char sx[5];
        if (len == 0)
            return false;
        if (part->how == MATCH_KEY_PREFIX && part->n < len)
            len = part->n;
        if (part->how == MATCH_KEY_SOUNDEX && match_soundex_cp(v, len, sx) == 4) {
            for (size_t j = 0; j < 4; j++)
                key[k++] = (uint32_t)(unsigned char)sx[j];
        } else {
            memcpy(key + k, v, len * sizeof(uint32_t));
            k += len;
        }
        key[k++] = KEY_SEP;
    }
    *hash = text_hash128(key, k * sizeof(uint32_t), seed).lo;
    return true;
}

/* LSD radix sort of x[0..n) in 16-bit digits, using tmp[0..n); skips digits that are
 * the same in every key (the top ones, for record numbers below 65,536). */
static void radix_sort_u64(uint64_t *x, uint64_t *tmp, size_t n, size_t *count)
{
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof(*count));
        for (size_t i = 0; i < n; i++)
            count[(x[i] >> shift) & 0xFFFF]++;
        if (n == 0 || count[(x[0] >> shift) & 0xFFFF] == n)
            continue;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(x[i] >> shift) & 0xFFFF]++] = x[i];
        memcpy(x, tmp, n * sizeof(*x));
    }
}

int match_block(const struct match_table *a, const struct match_table *b,
                const struct match_block_rule *rules, size_t nrules,
                const struct match_block_opts *opts, struct match_pairs *out,
                struct match_block_stats *stats, struct err *e)
{
    struct match_block_stats st = {0};
    struct growbuf pairs = {0};
    struct key_entry *ent = NULL;
    uint64_t *tmp = NULL;
    size_t *count = NULL;
    bool dedup = b == NULL || b == a;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    size_t max_block = opts && opts->max_block ? opts->max_block : MATCH_BLOCK_MAX_DEFAULT;
    size_t max_pairs = opts && opts->max_pairs ? opts->max_pairs : MATCH_PAIRS_MAX_DEFAULT;
    if (dedup)
        b = a;
    if (nrules == 0 || nrules > MATCH_MAX_RULES)
        return err_set(e, ERR_INVALID, "blocking takes 1 to %d rules, not %zu", MATCH_MAX_RULES,
                       nrules);
    if (!same_schema(a, b))
        return err_set(e, ERR_INVALID, "the two tables have different schemas");
    for (size_t i = 0; i < nrules; i++) {
        if (rules[i].nparts == 0 || rules[i].nparts > MATCH_MAX_PARTS)
            return err_set(e, ERR_INVALID, "blocking rule %zu has 1 to %d parts, not %zu", i,
                           MATCH_MAX_PARTS, rules[i].nparts);
        for (size_t j = 0; j < rules[i].nparts; j++)
            if (rules[i].part[j].field >= a->nfields || rules[i].part[j].how > MATCH_KEY_SOUNDEX)
                return err_set(e, ERR_INVALID, "blocking rule %zu part %zu is not valid", i, j);
    }

    size_t total = a->n + (dedup ? 0 : b->n);
    ent = malloc((total + 1) * sizeof(*ent));
    if (ent == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory for blocking keys");
        goto out;
    }
    st.nrules = nrules;
    for (size_t ri = 0; ri < nrules; ri++) {
        struct match_block_rule_stats *rs = &st.rule[ri];
        size_t k = 0;
        for (uint32_t side = 0; side < (dedup ? 1u : 2u); side++) {
            const struct match_table *t = side ? b : a;
            for (size_t r = 0; r < t->n; r++) {
                uint64_t h;
                if (block_key(t, r, &rules[ri], ri, &h))
                    ent[k++] = (struct key_entry){h, (uint32_t)r, side};
                else
                    rs->keyless++;
            }
        }
        qsort(ent, k, sizeof(*ent), cmp_entry);
        for (size_t s = 0, end; s < k; s = end) {
            size_t na = 0;
            for (end = s; end < k && ent[end].hash == ent[s].hash; end++)
                na += ent[end].side == 0;
            size_t size = end - s;
            size_t np = dedup ? size * (size - 1) / 2 : na * (size - na);
            if (size > max_block) {
                rs->skipped_blocks++;
                rs->skipped_records += size;
                continue;
            }
            if (np == 0)
                continue;
            if (pairs.len + np > max_pairs) {
                rc = err_set(e, ERR_LIMIT, "blocking made more than %zu candidate pairs (rule %zu)",
                             max_pairs, ri);
                goto out;
            }
            if (grow(&pairs, sizeof(uint64_t), np)) {
                rc = err_set(e, ERR_NOMEM, "out of memory for candidate pairs");
                goto out;
            }
            uint64_t *pp = (uint64_t *)pairs.p + pairs.len;
            if (dedup) {
                /* Entries of a block are in record order: i < j gives a < b. */
                for (size_t i = s; i < end; i++)
                    for (size_t j = i + 1; j < end; j++)
                        *pp++ = (uint64_t)ent[i].rec << 32 | ent[j].rec;
            } else {
                /* Side 0 (table a) sorts first. */
                for (size_t i = s; i < s + na; i++)
                    for (size_t j = s + na; j < end; j++)
                        *pp++ = (uint64_t)ent[i].rec << 32 | ent[j].rec;
            }
            pairs.len += np;
            rs->blocks++;
            rs->pairs += np;
            if (size > rs->largest)
                rs->largest = size;
        }
        st.pairs_made += rs->pairs;
    }

    uint64_t *x = pairs.p;
    tmp = malloc((pairs.len + 1) * sizeof(*tmp));
    count = malloc(65536 * sizeof(*count));
    if (tmp == NULL || count == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory for candidate pairs");
        goto out;
    }
    radix_sort_u64(x, tmp, pairs.len, count);
    free(tmp);
    tmp = NULL;
    size_t n = 0;
    for (size_t i = 0; i < pairs.len; i++)
        if (n == 0 || x[i] != x[n - 1])
            x[n++] = x[i];
    out->pair = malloc((n + 1) * sizeof(*out->pair));
    if (out->pair == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory for candidate pairs");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        out->pair[i] = (struct match_pair){(uint32_t)(x[i] >> 32), (uint32_t)x[i]};
    out->n = n;
    st.candidates = n;
out:
    free(ent);
    free(tmp);
    free(count);
    free(pairs.p);
    if (stats)
        *stats = st;
    return rc;
}

void match_pairs_release(struct match_pairs *p)
{
    free(p->pair);
    memset(p, 0, sizeof(*p));
}

/* ---- comparison ---------------------------------------------------------------- */

static bool cells_equal(const uint32_t *x, size_t n, const uint32_t *y, size_t m)
{
    return n == m && memcmp(x, y, n * sizeof(*x)) == 0;
}

/* Whether x and y differ only by one pair of adjacent code points swapped. */
static bool adjacent_swap(const uint32_t *x, const uint32_t *y, size_t n)
{
    size_t i = 0;
    while (i < n && x[i] == y[i])
        i++;
    if (i + 1 >= n || x[i] != y[i + 1] || x[i + 1] != y[i])
        return false;
    return cells_equal(x + i + 2, n - i - 2, y + i + 2, n - i - 2);
}

/* The 8 digits YYYYMMDD of a date cell (8 digits, or 10 with dashes). */
static bool date_digits(const uint32_t *v, size_t n, uint32_t d[8])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] >= '0' && v[i] <= '9' && k < 8)
            d[k++] = v[i];
        else if (v[i] != '-')
            return false;
    }
    return k == 8;
}

static uint8_t compare_date(const struct cell *ca, const uint32_t *x, const struct cell *cb,
                            const uint32_t *y)
{
    bool dates = ca->day != DAY_NONE && cb->day != DAY_NONE;
    uint32_t p[8], q[8];
    if (dates) {
        if (ca->day == cb->day)
            return 0;
        if (date_digits(x, ca->len, p) && date_digits(y, cb->len, q)) {
            bool swapped = memcmp(p, q, 4 * sizeof(*p)) == 0 && p[4] == q[6] && p[5] == q[7] &&
                           p[6] == q[4] && p[7] == q[5];
            if (swapped || match_levenshtein_cp(p, 8, q, 8, 1) <= 1 || adjacent_swap(p, q, 8))
                return 1;
        }
        int64_t apart = (int64_t)ca->day - cb->day;
        return apart <= MATCH_DATE_NEAR_DAYS && apart >= -MATCH_DATE_NEAR_DAYS ? 2 : 3;
    }
    if (cells_equal(x, ca->len, y, cb->len))
        return 0;
    if (match_levenshtein_cp(x, ca->len, y, cb->len, 1) <= 1 ||
        (ca->len == cb->len && adjacent_swap(x, y, ca->len)))
        return 1;
    return 3;
}

static uint8_t compare_cell(const struct match_field *fd, const struct cell *ca, const uint32_t *x,
                            const struct cell *cb, const uint32_t *y)
{
    if (fd->kind == MATCH_NONE || ca->len == 0 || cb->len == 0)
        return MATCH_MISSING;
    switch (fd->kind) {
    case MATCH_EXACT:
        return cells_equal(x, ca->len, y, cb->len) ? 0 : 1;
    case MATCH_JW: {
        if (cells_equal(x, ca->len, y, cb->len))
            return 0;
        double jw = match_jaro_winkler_cp(x, ca->len, y, cb->len);
        return jw >= fd->jw_high ? 1 : jw >= fd->jw_low ? 2 : 3;
    }
    case MATCH_EDIT:
        return (uint8_t)match_levenshtein_cp(x, ca->len, y, cb->len, 2);
    case MATCH_DATE:
        return compare_date(ca, x, cb, y);
    case MATCH_NONE:
        break;
    }
    return MATCH_MISSING;
}

int match_compare(const struct match_table *a, const struct match_table *b,
                  const struct match_pairs *p, struct match_vectors *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (b == NULL)
        b = a;
    if (!same_schema(a, b))
        return err_set(e, ERR_INVALID, "the two tables have different schemas");
    size_t nf = a->nfields;
    uint8_t *level = malloc(p->n * nf + 1);
    if (level == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for %zu comparison vectors", p->n);
    for (size_t i = 0; i < p->n; i++) {
        uint32_t ra = p->pair[i].a, rb = p->pair[i].b;
        if (ra >= a->n || rb >= b->n) {
            free(level);
            return err_set(e, ERR_INVALID, "pair %zu names a record out of range", i);
        }
        const struct cell *ca = &a->cell[(size_t)ra * nf], *cb = &b->cell[(size_t)rb * nf];
        for (size_t f = 0; f < nf; f++)
            level[i * nf + f] =
                compare_cell(&a->field[f], &ca[f], a->cp + ca[f].off, &cb[f], b->cp + cb[f].off);
    }
    out->n = p->n;
    out->nfields = nf;
    out->level = level;
    return 0;
}

void match_vectors_release(struct match_vectors *v)
{
    free(v->level);
    memset(v, 0, sizeof(*v));
}

/* ---- the model ----------------------------------------------------------------- */

int match_model_init(struct match_model *mo, const struct match_schema *s)
{
    int rc = check_schema(s, NULL);
    if (rc)
        return rc;
    memset(mo, 0, sizeof(*mo));
    mo->nfields = s->nfields;
    mo->lambda = 0.1;
    for (size_t f = 0; f < s->nfields; f++) {
        int L = match_kind_levels(s->field[f].kind);
        mo->nlevels[f] = (uint8_t)L;
        for (int l = 0; l < L; l++) {
            mo->m[f][l] = l == 0 ? 0.9 : 0.1 / (L - 1);
            mo->u[f][l] = l == L - 1 ? 0.9 : 0.1 / (L - 1);
        }
    }
    return 0;
}

/* SplitMix64: a small, good, deterministic generator for sampling. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

int match_model_u_from_sample(struct match_model *mo, const struct match_table *a,
                              const struct match_table *b, size_t nsample, uint64_t seed,
                              struct err *e)
{
    struct match_pairs p = {0};
    struct match_vectors v = {0};
    bool dedup = b == NULL || b == a;
    int rc;

    if (dedup)
        b = a;
    if (mo->nfields != a->nfields)
        return err_set(e, ERR_INVALID, "the model has %zu fields, the table %zu", mo->nfields,
                       a->nfields);
    if (nsample == 0 || a->n < 2 || b->n < 1)
        return err_set(e, ERR_INVALID, "random pairs need 2 records and a sample size");
    if (nsample > MATCH_PAIRS_MAX_DEFAULT)
        return err_set(e, ERR_LIMIT, "more than %d random pairs", MATCH_PAIRS_MAX_DEFAULT);
    p.pair = malloc(nsample * sizeof(*p.pair));
    if (p.pair == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for %zu random pairs", nsample);
    p.n = nsample;
    for (size_t i = 0; i < nsample; i++) {
        uint32_t x = (uint32_t)(splitmix64(&seed) % a->n);
        uint32_t y = (uint32_t)(splitmix64(&seed) % (dedup ? a->n - 1 : b->n));
        if (dedup && y >= x)
            y++; /* uniform over the other records */
        p.pair[i] = (struct match_pair){x, y};
    }
    rc = match_compare(a, b, &p, &v, e);
    if (rc == 0) {
        for (size_t f = 0; f < mo->nfields; f++) {
            double cnt[MATCH_MAX_LEVELS] = {0}, sum = 0;
            int L = mo->nlevels[f];
            if (L == 0)
                continue;
            for (size_t i = 0; i < v.n; i++) {
                uint8_t l = v.level[i * v.nfields + f];
                if (l != MATCH_MISSING && l < L)
                    cnt[l]++;
            }
            for (int l = 0; l < L; l++)
                sum += cnt[l] + 1;
            for (int l = 0; l < L; l++)
                mo->u[f][l] = (cnt[l] + 1) / sum;
        }
    }
    match_vectors_release(&v);
    match_pairs_release(&p);
    return rc;
}

/* Distinct comparison vectors and how many pairs have each. */
struct patterns {
    size_t n, nfields;
    uint8_t *level; /* n * nfields */
    double *count;
};

static uint64_t pattern_hash(const uint8_t *v, size_t nf)
{
    return text_hash128(v, nf, 0).lo;
}

static int patterns_build(const struct match_vectors *v, struct patterns *pt)
{
    size_t nf = v->nfields, cap = 64;
    while (cap < 2 * v->n)
        cap *= 2;
    uint32_t *slot = malloc(cap * sizeof(*slot));
    pt->level = malloc(v->n * nf + 1);
    pt->count = malloc((v->n + 1) * sizeof(*pt->count));
    pt->n = 0;
    pt->nfields = nf;
    if (slot == NULL || pt->level == NULL || pt->count == NULL) {
        free(slot);
        return ERR_NOMEM;
    }
    memset(slot, 0xFF, cap * sizeof(*slot));
    for (size_t i = 0; i < v->n; i++) {
        const uint8_t *vec = v->level + i * nf;
        size_t h = (size_t)pattern_hash(vec, nf) & (cap - 1);
        while (slot[h] != UINT32_MAX && memcmp(pt->level + (size_t)slot[h] * nf, vec, nf) != 0)
            h = (h + 1) & (cap - 1);
        if (slot[h] == UINT32_MAX) {
            slot[h] = (uint32_t)pt->n;
            memcpy(pt->level + pt->n * nf, vec, nf);
            pt->count[pt->n++] = 0;
        }
        pt->count[slot[h]] += 1;
    }
    free(slot);
    return 0;
}

static double clamp_p(double p)
{
    return p < MATCH_PROB_MIN ? MATCH_PROB_MIN : p > 1 - MATCH_PROB_MIN ? 1 - MATCH_PROB_MIN : p;
}

/* Clamps one field's distribution into [MIN, 1 - MIN] and rescales it to sum 1. */
static void clamp_dist(double *p, int L)
{
    double sum = 0;
    for (int l = 0; l < L; l++)
        sum += (p[l] = clamp_p(p[l]));
    for (int l = 0; l < L; l++)
        p[l] /= sum;
}

int match_em_fit(struct match_model *mo, const struct match_vectors *v,
                 const struct match_em_opts *opts, struct err *e)
{
    struct patterns pt = {0};
    int max_iter = opts && opts->max_iter > 0 ? opts->max_iter : MATCH_EM_MAX_ITER_DEFAULT;
    double tol = opts && opts->tol > 0 ? opts->tol : MATCH_EM_TOL_DEFAULT;
    bool fix_u = opts && opts->fix_u;
    size_t nf = mo->nfields;

    if (v->n == 0)
        return err_set(e, ERR_INVALID, "EM needs comparison vectors");
    if (v->nfields != nf)
        return err_set(e, ERR_INVALID, "the model has %zu fields, the vectors %zu", nf, v->nfields);
    if (patterns_build(v, &pt)) {
        free(pt.level);
        free(pt.count);
        return err_set(e, ERR_NOMEM, "out of memory for EM over %zu vectors", v->n);
    }

    mo->lambda = clamp_p(mo->lambda);
    for (size_t f = 0; f < nf; f++) {
        clamp_dist(mo->m[f], mo->nlevels[f]);
        clamp_dist(mo->u[f], mo->nlevels[f]);
    }
    mo->converged = false;
    mo->iterations = 0;
    for (int it = 1; it <= max_iter; it++) {
        double lm_[MATCH_MAX_FIELDS][MATCH_MAX_LEVELS], lu_[MATCH_MAX_FIELDS][MATCH_MAX_LEVELS];
        double sm[MATCH_MAX_FIELDS][MATCH_MAX_LEVELS] = {{0}};
        double su[MATCH_MAX_FIELDS][MATCH_MAX_LEVELS] = {{0}};
        double gsum = 0, total = 0, loglik = 0;
        for (size_t f = 0; f < nf; f++)
            for (int l = 0; l < mo->nlevels[f]; l++) {
                lm_[f][l] = log(mo->m[f][l]);
                lu_[f][l] = log(mo->u[f][l]);
            }
        double llam = log(mo->lambda), l1lam = log(1 - mo->lambda);

        /* E step: the posterior of each pattern; the sufficient sums of the M step. */
        for (size_t i = 0; i < pt.n; i++) {
            const uint8_t *vec = pt.level + i * nf;
            double lm = llam, lu = l1lam;
            for (size_t f = 0; f < nf; f++) {
                uint8_t l = vec[f];
                if (l < mo->nlevels[f]) {
                    lm += lm_[f][l];
                    lu += lu_[f][l];
                }
            }
            double g = 1.0 / (1.0 + exp(lu - lm)), c = pt.count[i];
            double hi = lm > lu ? lm : lu;
            loglik += c * (hi + log(exp(lm - hi) + exp(lu - hi)));
            gsum += c * g;
            total += c;
            for (size_t f = 0; f < nf; f++) {
                uint8_t l = vec[f];
                if (l < mo->nlevels[f]) {
                    sm[f][l] += c * g;
                    su[f][l] += c * (1 - g);
                }
            }
        }

        /* M step, and the largest change of any parameter. */
        double delta = fabs(clamp_p(gsum / total) - mo->lambda);
        mo->lambda = clamp_p(gsum / total);
        for (size_t f = 0; f < nf; f++) {
            int L = mo->nlevels[f];
            double nm[MATCH_MAX_LEVELS], nu[MATCH_MAX_LEVELS], tm = 0, tu = 0;
            for (int l = 0; l < L; l++) {
                tm += sm[f][l];
                tu += su[f][l];
            }
            for (int l = 0; l < L; l++) {
                nm[l] = tm > 0 ? sm[f][l] / tm : mo->m[f][l];
                nu[l] = tu > 0 && !fix_u ? su[f][l] / tu : mo->u[f][l];
            }
            clamp_dist(nm, L);
            if (!fix_u)
                clamp_dist(nu, L);
            for (int l = 0; l < L; l++) {
                double d = fmax(fabs(nm[l] - mo->m[f][l]), fabs(nu[l] - mo->u[f][l]));
                delta = fmax(delta, d);
                mo->m[f][l] = nm[l];
                mo->u[f][l] = nu[l];
            }
        }
        mo->iterations = it;
        mo->loglik = loglik;
        if (delta < tol) {
            mo->converged = true;
            break;
        }
    }

    /* The mixture does not know which class is which: "match" is the one that agrees
     * more on full agreement, summed over fields. */
    double agree = 0;
    for (size_t f = 0; f < nf; f++)
        if (mo->nlevels[f] > 0)
            agree += mo->m[f][0] - mo->u[f][0];
    if (agree < 0 && !fix_u) {
        for (size_t f = 0; f < nf; f++)
            for (int l = 0; l < mo->nlevels[f]; l++) {
                double t = mo->m[f][l];
                mo->m[f][l] = mo->u[f][l];
                mo->u[f][l] = t;
            }
        mo->lambda = 1 - mo->lambda;
    }
    free(pt.level);
    free(pt.count);
    return 0;
}

/* ---- scores -------------------------------------------------------------------- */

double match_weight(const struct match_model *mo, const uint8_t *levels)
{
    double w = 0;
    for (size_t f = 0; f < mo->nfields; f++) {
        uint8_t l = levels[f];
        if (l < mo->nlevels[f])
            w += log2(mo->m[f][l] / mo->u[f][l]);
    }
    return w;
}

int match_score(const struct match_model *mo, const struct match_vectors *v, double *weight,
                struct err *e)
{
    if (v->nfields != mo->nfields)
        return err_set(e, ERR_INVALID, "the model has %zu fields, the vectors %zu", mo->nfields,
                       v->nfields);
    for (size_t i = 0; i < v->n; i++)
        weight[i] = match_weight(mo, v->level + i * v->nfields);
    return 0;
}

double match_probability(const struct match_model *mo, double weight)
{
    /* odds = lambda / (1 - lambda) * 2^weight */
    double lo = log2(mo->lambda) - log2(1 - mo->lambda) + weight;
    return 1.0 / (1.0 + exp2(-lo));
}

double match_weight_at(const struct match_model *mo, double p)
{
    return log2(p / (1 - p)) - (log2(mo->lambda) - log2(1 - mo->lambda));
}

enum match_decision match_decide(double weight, double lower, double upper)
{
    return weight >= upper ? MATCH_LINK : weight >= lower ? MATCH_REVIEW : MATCH_NONLINK;
}

/* ---- clustering ---------------------------------------------------------------- */

int match_uf_init(struct match_uf *uf, size_t n)
{
    memset(uf, 0, sizeof(*uf));
    if (n > MATCH_MAX_RECORDS)
        return ERR_LIMIT;
    uf->parent = malloc((n + 1) * sizeof(*uf->parent));
    uf->size = malloc((n + 1) * sizeof(*uf->size));
    if (uf->parent == NULL || uf->size == NULL) {
        match_uf_release(uf);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uf->parent[i] = (uint32_t)i;
        uf->size[i] = 1;
    }
    uf->n = n;
    return 0;
}

uint32_t match_uf_find(struct match_uf *uf, uint32_t x)
{
    while (uf->parent[x] != x) {
        uf->parent[x] = uf->parent[uf->parent[x]];
        x = uf->parent[x];
    }
    return x;
}

bool match_uf_union(struct match_uf *uf, uint32_t x, uint32_t y)
{
    x = match_uf_find(uf, x);
    y = match_uf_find(uf, y);
    if (x == y)
        return false;
    if (uf->size[x] < uf->size[y]) {
        uint32_t t = x;
        x = y;
        y = t;
    }
    uf->parent[y] = x;
    uf->size[x] += uf->size[y];
    return true;
}

void match_uf_release(struct match_uf *uf)
{
    free(uf->parent);
    free(uf->size);
    memset(uf, 0, sizeof(*uf));
}

int match_cluster(size_t nrecords, const struct match_pairs *p, size_t b_offset,
                  const double *weight, double threshold, uint32_t *entity, size_t *nentities,
                  struct err *e)
{
    struct match_uf uf;
    int rc = match_uf_init(&uf, nrecords);
    if (rc)
        return err_set(e, rc, "cannot cluster %zu records", nrecords);
    for (size_t i = 0; i < p->n; i++) {
        if (!(weight[i] >= threshold))
            continue;
        size_t x = p->pair[i].a, y = b_offset + p->pair[i].b;
        if (x >= nrecords || y >= nrecords) {
            match_uf_release(&uf);
            return err_set(e, ERR_INVALID, "pair %zu names a record out of range", i);
        }
        match_uf_union(&uf, (uint32_t)x, (uint32_t)y);
    }
    /* Number the entities in order of their first record; size[] holds the numbers. */
    size_t k = 0;
    for (size_t r = 0; r < nrecords; r++)
        uf.size[r] = UINT32_MAX;
    for (size_t r = 0; r < nrecords; r++) {
        uint32_t root = match_uf_find(&uf, (uint32_t)r);
        if (uf.size[root] == UINT32_MAX)
            uf.size[root] = (uint32_t)k++;
        entity[r] = uf.size[root];
    }
    *nentities = k;
    match_uf_release(&uf);
    return 0;
}
