/* common.c - what the verbs share: option parsing, errors, tables. See cli.h. */
#include <cJSON.h>
#include <unistd.h>

#include "cli/cli.h"
#include "privacy/seal.h"
#include "core/config.h"
#include "core/text.h"

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("custos: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

int cli_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "custos %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see custos %s --help)\n", verb);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_parse(const char *verb, int argc, char **argv, const struct cli_opt *opts, size_t nopts,
              const char **pos, size_t cap, size_t *npos)
{
    *npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            const struct cli_opt *o = NULL;
            for (size_t j = 0; j < nopts; j++)
                if (strlen(opts[j].name) == nl && memcmp(opts[j].name, name, nl) == 0)
                    o = &opts[j];
            if (!o)
                return cli_usage(verb, "unknown option --%.*s", (int)nl, name);
            if (o->flag) {
                if (eq)
                    return cli_usage(verb, "--%s takes no value", o->name);
                *o->flag = true;
            } else if (eq) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                return cli_usage(verb, "--%s needs a value", o->name);
            }
            continue;
        }
        if (*npos == cap)
            return cli_usage(verb, "unexpected argument \"%s\"", a);
        pos[(*npos)++] = a;
    }
    return 0;
}

int cli_parse_count(const char *verb, const char *name, const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < 0)
        return cli_usage(verb, "--%s must be a whole number >= 0, not \"%s\"", name, text);
    *out = v;
    return 0;
}

int cli_open_store(struct store **st)
{
    struct err e = {0};
    struct store_options opt = {.synchronous_full = strcmp(cfg.synchronous, "full") == 0};
    if (store_open(cfg.db, &opt, st, &e))
        return cli_fail("%s", e.msg);
    int rc = cli_start_encryption(*st);
    if (rc) {
        store_close(*st);
        *st = NULL;
    }
    return rc;
}

int cli_start_encryption(struct store *st)
{
    struct err e = {0};
    if (seal_start(st, &e)) {
        fprintf(stderr, "custos: %s\n", e.msg);
        return EXIT_USAGE;
    }
    return 0;
}

struct cli_table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major, headers first */
};

struct cli_table *cli_table_new(size_t ncols, const char *const *headers)
{
    struct cli_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ncols = ncols;
    cli_table_add(t, headers);
    return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (!t)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));
        if (!p)
            return;
        t->cells = p;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "");
    t->nrows++;
}

/* Display width of UTF-8 text: East Asian wide characters take two columns. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p < 0x80) {
            w++;
            p++;
        } else if ((*p & 0xE0) == 0xC0) {
            w++;
            p += 2;
        } else if ((*p & 0xF0) == 0xE0) {
            w += 2; /* CJK and most other 3-byte characters in customer data */
            p += 3;
        } else {
            w += 2;
            p += 4;
        }
    }
    return w;
}

void cli_table_print(struct cli_table *t, FILE *out, enum cli_format fmt)
{
    if (!t)
        return;
    char **c = t->cells;
    if (fmt == FORMAT_CSV) {
        for (size_t r = 0; r < t->nrows; r++)
            for (size_t i = 0; i < t->ncols; i++) {
                text_csv_field(out, c[r * t->ncols + i]);
                fputc(i + 1 < t->ncols ? ',' : '\n', out);
            }
        return;
    }
    if (fmt == FORMAT_JSON) {
        for (size_t r = 1; r < t->nrows; r++) {
            cJSON *o = cJSON_CreateObject();
            for (size_t i = 0; i < t->ncols; i++)
                cJSON_AddStringToObject(o, c[i], c[r * t->ncols + i]);
            char *s = cJSON_PrintUnformatted(o);
            if (s)
                fprintf(out, "%s\n", s);
            free(s);
            cJSON_Delete(o);
        }
        return;
    }
    size_t *w = calloc(t->ncols, sizeof(*w));
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < t->ncols; i++) {
            size_t dw = display_width(c[r * t->ncols + i]);
            if (dw > w[i])
                w[i] = dw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->ncols; i++) {
            const char *s = c[r * t->ncols + i];
            fputs(s, out);
            if (i + 1 < t->ncols)
                for (size_t k = display_width(s); k < w[i] + 2; k++)
                    fputc(' ', out);
        }
        fputc('\n', out);
    }
    free(w);
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

bool cli_progress_wanted(void)
{
    return isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1;
}
