/* parse.c - the segment language's lexer and recursive-descent parser (segment.h for
 * the grammar). Every error names the 1-based column (in characters) where the
 * parser stopped and what it expected there. */
#include "segment/internal.h"

enum tok_kind { T_END, T_IDENT, T_NUM, T_STR, T_OP, T_LP, T_RP, T_COMMA, T_DOT };

struct tok {
    enum tok_kind kind;
    const char *at; /* into the text */
    size_t len;
    double num;
    char *str; /* T_STR: unescaped, owned by the parser until taken */
};

struct parser {
    const char *text;
    const char *p;
    struct tok t;
    int depth;
    struct err *e;
    int *column;
    int failed;
};

static int column_of(const struct parser *ps, const char *at)
{
    int col = 1;
    for (const unsigned char *c = (const unsigned char *)ps->text; c < (const unsigned char *)at;
         c++)
        if ((*c & 0xC0) != 0x80)
            col++;
    return col;
}

static void describe(const struct tok *t, char *out, size_t cap)
{
    if (t->kind == T_END)
        snprintf(out, cap, "the end");
    else
        snprintf(out, cap, "\"%.*s\"", (int)(t->len > 24 ? 24 : t->len), t->at);
}

static int fail_at(struct parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->failed)
        return ERR_INVALID;
    ps->failed = 1;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int col = column_of(ps, at);
    if (ps->column)
        *ps->column = col;
    err_set(ps->e, ERR_INVALID, "column %d: %s", col, msg);
    return ERR_INVALID;
}

static int expected(struct parser *ps, const char *what)
{
    char found[40];
    describe(&ps->t, found, sizeof(found));
    return fail_at(ps, ps->t.at, "expected %s, found %s", what, found);
}

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Reads the next token into ps->t. */
static int next(struct parser *ps)
{
    free(ps->t.str);
    ps->t = (struct tok){0};
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
    const char *s = ps->p;
    ps->t.at = s;
    unsigned char c = (unsigned char)*s;
    if (!c) {
        ps->t.kind = T_END;
        return 0;
    }
    if (is_ident_start(c)) {
        while (is_ident((unsigned char)*ps->p))
            ps->p++;
        ps->t.kind = T_IDENT;
    } else if ((c >= '0' && c <= '9') || (c == '-' && s[1] >= '0' && s[1] <= '9')) {
        char *end;
        ps->t.num = strtod(s, &end);
        /* "90d": the digits only */
        while (end > s && (end[-1] == 'e' || end[-1] == 'E'))
            end--;
        ps->p = end;
        ps->t.kind = T_NUM;
    } else if (c == '"' || c == '\'') {
        char q = (char)c;
        size_t cap = strlen(s) + 1, n = 0;
        char *out = malloc(cap);
        if (!out)
            return err_set(ps->e, ERR_NOMEM, "out of memory");
        const char *r = s + 1;
        for (; *r && *r != q; r++) {
            if (*r == '\\' && (r[1] == q || r[1] == '\\'))
                r++;
            out[n++] = *r;
        }
        if (!*r) {
            free(out);
            return fail_at(ps, s, "this string has no closing %c", q);
        }
        out[n] = 0;
        ps->t.str = out;
        ps->p = r + 1;
        ps->t.kind = T_STR;
    } else if (c == '(' || c == ')' || c == ',' || c == '.') {
        ps->p++;
        ps->t.kind = c == '(' ? T_LP : c == ')' ? T_RP : c == ',' ? T_COMMA : T_DOT;
    } else if (c == '=' || c == '<' || c == '>' || c == '!') {
        ps->p++;
        if (*ps->p == '=' || (c == '<' && *ps->p == '>'))
            ps->p++;
        else if (c == '!')
            return fail_at(ps, s, "\"!\" must be followed by \"=\"");
        if (c == '=' && *ps->p == '=')
            ps->p++;
        ps->t.kind = T_OP;
    } else {
        return fail_at(ps, s, "unexpected character \"%.*s\"",
                       c >= 0xC0 ? ((c >= 0xF0)   ? 4
                                    : (c >= 0xE0) ? 3
                                                  : 2)
                                 : 1,
                       s);
    }
    ps->t.len = (size_t)(ps->p - s);
    return 0;
}

static bool is_word(const struct tok *t, const char *w)
{
    return t->kind == T_IDENT && strlen(w) == t->len && strncasecmp(t->at, w, t->len) == 0;
}

static struct seg_node *node_new(struct parser *ps, enum seg_node_kind kind, const char *at)
{
    struct seg_node *n = calloc(1, sizeof(*n));
    if (!n) {
        err_set(ps->e, ERR_NOMEM, "out of memory");
        ps->failed = 1;
        return NULL;
    }
    n->kind = kind;
    n->column = column_of(ps, at);
    return n;
}

void seg_node_free(struct seg_node *n)
{
    if (!n)
        return;
    seg_node_free(n->a);
    seg_node_free(n->b);
    for (size_t i = 0; i < n->nitems; i++)
        seg_node_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n->name);
    free(n->filter_value);
    free(n);
}

static struct seg_node *parse_or(struct parser *ps);

static char *ident_copy(const struct tok *t)
{
    return strndup(t->at, t->len);
}

/* window := "last" NUMBER UNIT | "all" */
static int parse_window(struct parser *ps, struct seg_node *n)
{
    if (is_word(&ps->t, "all")) {
        n->window_days = 0;
        return next(ps);
    }
    if (!is_word(&ps->t, "last"))
        return expected(ps, "a window such as \"last 90d\" or \"all\"");
    if (next(ps))
        return ERR_INVALID;
    if (ps->t.kind != T_NUM || ps->t.num < 1 || ps->t.num > 36500 ||
        ps->t.num != (double)(int64_t)ps->t.num)
        return expected(ps, "a whole number of days, weeks or months (1 to 36500)");
    int64_t n_units = (int64_t)ps->t.num;
    if (next(ps))
        return ERR_INVALID;
    static const struct {
        const char *unit;
        int days;
    } units[] = {{"d", 1},       {"day", 1},   {"days", 1},   {"w", 7},
                 {"week", 7},    {"weeks", 7}, {"m", 30},     {"month", 30},
                 {"months", 30}, {"y", 365},   {"year", 365}, {"years", 365}};
    for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        if (is_word(&ps->t, units[i].unit)) {
            n->window_days = n_units * units[i].days;
            if (n->window_days > 36500)
                return fail_at(ps, ps->t.at, "a window is at most 36500 days");
            return next(ps);
        }
    return expected(ps, "a unit: d, w, m or y (days, weeks, 30-day months, years)");
}

/* (args) of orders.count / orders.revenue / events.count */
static int parse_args(struct parser *ps, struct seg_node *n, bool event)
{
    if (ps->t.kind != T_LP)
        return expected(ps, "\"(\"");
    if (next(ps))
        return ERR_INVALID;
    if (event) {
        if (ps->t.kind != T_STR)
            return expected(ps, "the event's name as a string, e.g. events.count(\"Order "
                                "Completed\", last 30d)");
        n->name = ps->t.str;
        ps->t.str = NULL;
        if (next(ps))
            return ERR_INVALID;
        if (ps->t.kind == T_COMMA && next(ps))
            return ERR_INVALID;
    }
    n->window_days = 0;
    if (ps->t.kind == T_IDENT && (is_word(&ps->t, "last") || is_word(&ps->t, "all"))) {
        if (parse_window(ps, n))
            return ERR_INVALID;
        if (ps->t.kind == T_COMMA && next(ps))
            return ERR_INVALID;
    }
    while (ps->t.kind == T_IDENT) {
        static const char *const fields[] = {"channel", "store", "source", "category"};
        int f = -1;
        for (int i = 0; i < 4; i++)
            if (is_word(&ps->t, fields[i]))
                f = i;
        if (f < 0 || (event && f != 2))
            return expected(ps, event ? "source = \"...\"" : "channel, store, source or category");
        if (n->filter_value)
            return fail_at(ps, ps->t.at, "one filter per aggregate");
        n->filter = (enum seg_filter)(f + 1);
        if (next(ps))
            return ERR_INVALID;
        if (ps->t.kind != T_OP || ps->t.len != 1 || *ps->t.at != '=')
            return expected(ps, "\"=\"");
        if (next(ps))
            return ERR_INVALID;
        if (ps->t.kind != T_STR)
            return expected(ps, "a string");
        n->filter_value = ps->t.str;
        ps->t.str = NULL;
        if (next(ps))
            return ERR_INVALID;
        if (ps->t.kind == T_COMMA && next(ps))
            return ERR_INVALID;
    }
    if (ps->t.kind != T_RP)
        return expected(ps, "\")\"");
    return next(ps);
}

static struct seg_node *parse_ref(struct parser *ps)
{
    const char *at = ps->t.at;
    struct tok head = ps->t;
    struct seg_node *n = node_new(ps, N_REF, at);
    if (!n || next(ps))
        goto fail;
    if (is_word(&head, "tags") && ps->t.kind != T_DOT) {
        n->ref = R_TAGS;
        return n;
    }
    if (ps->t.kind != T_DOT) {
        fail_at(ps, at,
                "unknown name \"%.*s\": use traits.NAME, tags.NAME, tags, rfm.segment, "
                "orders.count(...), orders.revenue(...) or events.count(...)",
                (int)head.len, head.at);
        goto fail;
    }
    if (next(ps))
        goto fail;
    if (ps->t.kind != T_IDENT) {
        expected(ps, "a name after \".\"");
        goto fail;
    }
    struct tok field = ps->t;
    if (next(ps))
        goto fail;
    if (is_word(&head, "traits") || is_word(&head, "tags")) {
        n->ref = is_word(&head, "traits") ? R_TRAIT : R_TAG;
        if (!(n->name = ident_copy(&field)))
            goto fail;
        return n;
    }
    if (is_word(&head, "rfm")) {
        static const struct {
            const char *name;
            enum seg_ref ref;
        } f[] = {{"segment", R_RFM_SEGMENT},
                 {"r", R_RFM_R},
                 {"f", R_RFM_F},
                 {"m", R_RFM_M},
                 {"score", R_RFM_SCORE},
                 {"recency", R_RFM_RECENCY},
                 {"frequency", R_RFM_FREQUENCY},
                 {"monetary", R_RFM_MONETARY}};
        for (size_t i = 0; i < ARRAY_SIZE(f); i++)
            if (is_word(&field, f[i].name)) {
                n->ref = f[i].ref;
                return n;
            }
        fail_at(ps, field.at, "rfm has segment, r, f, m, score, recency, frequency, monetary");
        goto fail;
    }
    if (is_word(&head, "orders") && (is_word(&field, "count") || is_word(&field, "revenue"))) {
        n->ref = is_word(&field, "count") ? R_ORDERS_COUNT : R_ORDERS_REVENUE;
        if (parse_args(ps, n, false))
            goto fail;
        return n;
    }
    if (is_word(&head, "events") && is_word(&field, "count")) {
        n->ref = R_EVENTS_COUNT;
        if (parse_args(ps, n, true))
            goto fail;
        return n;
    }
    fail_at(ps, at,
            "unknown name \"%.*s.%.*s\": orders has count(...) and revenue(...), events "
            "has count(...)",
            (int)head.len, head.at, (int)field.len, field.at);
fail:
    seg_node_free(n);
    return NULL;
}

static struct seg_node *parse_value(struct parser *ps)
{
    const char *at = ps->t.at;
    struct seg_node *n = NULL;
    if (ps->t.kind == T_NUM) {
        if (!(n = node_new(ps, N_NUM, at)))
            return NULL;
        n->num = ps->t.num;
    } else if (ps->t.kind == T_STR) {
        if (!(n = node_new(ps, N_STR, at)))
            return NULL;
        n->str = ps->t.str;
        ps->t.str = NULL;
    } else if (is_word(&ps->t, "true") || is_word(&ps->t, "false")) {
        if (!(n = node_new(ps, N_BOOL, at)))
            return NULL;
        n->num = is_word(&ps->t, "true");
    } else if (ps->t.kind == T_LP) {
        if (++ps->depth > SEG_MAX_DEPTH) {
            fail_at(ps, at, "nested more than %d deep", SEG_MAX_DEPTH);
            return NULL;
        }
        if (next(ps))
            return NULL;
        n = parse_or(ps);
        ps->depth--;
        if (!n)
            return NULL;
        if (ps->t.kind != T_RP) {
            expected(ps, "\")\" or \"and\", \"or\"");
            seg_node_free(n);
            return NULL;
        }
    } else if (ps->t.kind == T_IDENT && !is_word(&ps->t, "and") && !is_word(&ps->t, "or") &&
               !is_word(&ps->t, "in") && !is_word(&ps->t, "contains")) {
        return parse_ref(ps);
    } else {
        expected(ps, "a value (a number, a \"string\", traits.NAME, orders.count(...), ...)");
        return NULL;
    }
    if (next(ps)) {
        seg_node_free(n);
        return NULL;
    }
    return n;
}

static struct seg_node *parse_cmp(struct parser *ps)
{
    struct seg_node *left = parse_value(ps);
    if (!left)
        return NULL;
    const char *at = ps->t.at;
    struct seg_node *n = NULL;
    if (ps->t.kind == T_OP) {
        static const struct {
            const char *op;
            enum seg_op v;
        } ops[] = {{"=", OP_EQ}, {"==", OP_EQ}, {"!=", OP_NE}, {"<>", OP_NE},
                   {"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT},  {">=", OP_GE}};
        if (!(n = node_new(ps, N_CMP, at)))
            goto fail;
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
            if (strlen(ops[i].op) == ps->t.len && strncmp(ops[i].op, ps->t.at, ps->t.len) == 0)
                n->op = ops[i].v;
        n->a = left;
        left = NULL;
        if (next(ps) || !(n->b = parse_value(ps)))
            goto fail;
        return n;
    }
    if (is_word(&ps->t, "contains")) {
        if (!(n = node_new(ps, N_CONTAINS, at)))
            goto fail;
        n->a = left;
        left = NULL;
        if (next(ps) || !(n->b = parse_value(ps)))
            goto fail;
        return n;
    }
    if (is_word(&ps->t, "in")) {
        if (!(n = node_new(ps, N_IN, at)))
            goto fail;
        n->a = left;
        left = NULL;
        if (next(ps))
            goto fail;
        if (ps->t.kind != T_LP) {
            expected(ps, "\"(\" and a list of values");
            goto fail;
        }
        do {
            if (next(ps))
                goto fail;
            struct seg_node *v = parse_value(ps);
            if (!v)
                goto fail;
            struct seg_node **items = realloc(n->items, (n->nitems + 1) * sizeof(*items));
            if (!items) {
                seg_node_free(v);
                err_set(ps->e, ERR_NOMEM, "out of memory");
                goto fail;
            }
            n->items = items;
            n->items[n->nitems++] = v;
        } while (ps->t.kind == T_COMMA);
        if (ps->t.kind != T_RP) {
            expected(ps, "\",\" or \")\"");
            goto fail;
        }
        if (next(ps))
            goto fail;
        return n;
    }
    return left;
fail:
    seg_node_free(left);
    seg_node_free(n);
    return NULL;
}

static struct seg_node *parse_unary(struct parser *ps)
{
    if (is_word(&ps->t, "not")) {
        const char *at = ps->t.at;
        if (++ps->depth > SEG_MAX_DEPTH) {
            fail_at(ps, at, "nested more than %d deep", SEG_MAX_DEPTH);
            return NULL;
        }
        struct seg_node *n = node_new(ps, N_NOT, at);
        if (!n || next(ps) || !(n->a = parse_unary(ps))) {
            seg_node_free(n);
            return NULL;
        }
        ps->depth--;
        return n;
    }
    return parse_cmp(ps);
}

static struct seg_node *parse_binary(struct parser *ps, bool is_or)
{
    struct seg_node *left = is_or ? parse_binary(ps, false) : parse_unary(ps);
    while (left && is_word(&ps->t, is_or ? "or" : "and")) {
        struct seg_node *n = node_new(ps, is_or ? N_OR : N_AND, ps->t.at);
        if (!n || next(ps)) {
            seg_node_free(n);
            seg_node_free(left);
            return NULL;
        }
        n->a = left;
        n->b = is_or ? parse_binary(ps, false) : parse_unary(ps);
        if (!n->b) {
            seg_node_free(n);
            return NULL;
        }
        left = n;
    }
    return left;
}

static struct seg_node *parse_or(struct parser *ps)
{
    return parse_binary(ps, true);
}

int seg_parse(const char *text, struct seg_expr **out, int *column, struct err *e)
{
    *out = NULL;
    if (column)
        *column = 0;
    if (strlen(text) > SEG_MAX_EXPR)
        return err_set(e, ERR_LIMIT, "an expression is at most %d bytes", SEG_MAX_EXPR);
    struct parser ps = {.text = text, .p = text, .e = e, .column = column};
    struct seg_node *root = NULL;
    if (!next(&ps)) {
        if (ps.t.kind == T_END) {
            fail_at(&ps, ps.t.at, "the expression is empty");
        } else if ((root = parse_or(&ps)) && ps.t.kind != T_END) {
            expected(&ps, "\"and\", \"or\" or the end");
            seg_node_free(root);
            root = NULL;
        }
    }
    free(ps.t.str);
    if (!root)
        return e && e->code ? e->code : ERR_INVALID;
    struct seg_expr *x = calloc(1, sizeof(*x));
    if (!x) {
        seg_node_free(root);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    x->root = root;
    *out = x;
    return 0;
}

void seg_expr_free(struct seg_expr *x)
{
    if (!x)
        return;
    seg_node_free(x->root);
    free(x);
}

static bool node_uses_tags(const struct seg_node *n)
{
    if (!n)
        return false;
    if (n->kind == N_REF && (n->ref == R_TAG || n->ref == R_TAGS))
        return true;
    for (size_t i = 0; i < n->nitems; i++)
        if (node_uses_tags(n->items[i]))
            return true;
    return node_uses_tags(n->a) || node_uses_tags(n->b);
}

bool seg_uses_tags(const struct seg_expr *x)
{
    return node_uses_tags(x->root);
}

int seg_tags_parse(const char *setting, struct seg_tag **tags, size_t *n, struct err *e)
{
    *tags = NULL;
    *n = 0;
    char *copy = strdup(setting ? setting : "");
    if (!copy)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct seg_tag *t = calloc(SEG_MAX_TAGS, sizeof(*t));
    int rc = t ? 0 : err_set(e, ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *item = copy; !rc && item; item = save) {
        save = strchr(item, ';');
        if (save)
            *save++ = 0;
        while (*item == ' ' || *item == '\t' || *item == '\n')
            item++;
        if (!*item)
            continue;
        char *colon = strchr(item, ':');
        if (!colon) {
            rc = err_set(e, ERR_INVALID, "tags: \"%.40s\" is not NAME: EXPRESSION", item);
            break;
        }
        char *end = colon;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = 0;
        bool ok = *item != 0;
        for (char *c = item; *c; c++)
            ok = ok && is_ident((unsigned char)*c);
        if (!ok) {
            rc = err_set(e, ERR_INVALID, "tags: a tag's name is letters, digits and _, not \"%s\"",
                         item);
            break;
        }
        if (*n == SEG_MAX_TAGS) {
            rc = err_set(e, ERR_LIMIT, "tags: at most %d tags", SEG_MAX_TAGS);
            break;
        }
        for (size_t i = 0; i < *n; i++)
            if (strcmp(t[i].name, item) == 0) {
                rc = err_set(e, ERR_INVALID, "tags: \"%s\" is defined twice", item);
                break;
            }
        if (rc)
            break;
        struct err pe = {0};
        struct seg_expr *x;
        if (seg_parse(colon + 1, &x, NULL, &pe)) {
            rc = err_set(e, ERR_INVALID, "tags: tag %s: %s", item, pe.msg);
            break;
        }
        if (seg_uses_tags(x)) {
            seg_expr_free(x);
            rc = err_set(e, ERR_INVALID, "tags: tag %s uses tags, which a tag cannot", item);
            break;
        }
        char *text = colon + 1;
        while (*text == ' ' || *text == '\t')
            text++;
        t[*n].name = strdup(item);
        t[*n].text = strdup(text);
        t[*n].expr = x;
        (*n)++;
    }
    free(copy);
    if (rc) {
        seg_tags_free(t, *n);
        *n = 0;
        return rc;
    }
    *tags = t;
    return 0;
}

void seg_tags_free(struct seg_tag *tags, size_t n)
{
    if (!tags)
        return;
    for (size_t i = 0; i < n; i++) {
        free(tags[i].name);
        free(tags[i].text);
        seg_expr_free(tags[i].expr);
    }
    free(tags);
}
