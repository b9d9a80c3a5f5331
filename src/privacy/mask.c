/* mask.c - masks by kind of field. See mask.h. */
#include "core/text.h"
#include "privacy/mask.h"

/* Which mask each field gets, by folded name (as classify.c folds). */
static const struct {
    const char *field;
    enum mask_kind kind;
} kinds[] = {
    {"phone", MASK_PHONE},          {"mobile", MASK_PHONE},
    {"email", MASK_EMAIL},          {"name", MASK_NAME},
    {"firstname", MASK_NAME},       {"lastname", MASK_NAME},
    {"fullname", MASK_NAME},        {"idnumber", MASK_ID_NUMBER},
    {"idcard", MASK_ID_NUMBER},     {"residentid", MASK_ID_NUMBER},
    {"passport", MASK_ID_NUMBER},   {"passportnumber", MASK_ID_NUMBER},
    {"bankcard", MASK_CARD},        {"cardnumber", MASK_CARD},
    {"creditcard", MASK_CARD},      {"address", MASK_ADDRESS},
    {"street", MASK_ADDRESS},       {"birthday", MASK_BIRTH_DATE},
    {"birthdate", MASK_BIRTH_DATE}, {"dateofbirth", MASK_BIRTH_DATE},
    {"dob", MASK_BIRTH_DATE},
};

/* Two-character names whose first two characters are one (compound) surname. */
static const char *const compound_surnames[] = {
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "令狐", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里",
};

/* ITU country calling codes of two digits (codes starting 1 or 7 have one; the rest
 * three). */
static const char *const cc2[] = {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
                                  "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
                                  "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
                                  "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};

enum mask_kind mask_kind_of(const char *field, size_t len)
{
    char f[64];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)field[i];
        if (c == '_' || c == '-' || c == '.' || c == ' ')
            continue;
        if (n + 1 >= sizeof(f))
            return MASK_DEFAULT;
        f[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    f[n] = 0;
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
        if (strcmp(f, kinds[i].field) == 0)
            return kinds[i].kind;
    return MASK_DEFAULT;
}

/* The value as code points: where each starts and how long it is. */
struct cps {
    const char *s;
    size_t n;
    uint32_t *cp;  /* at most one per byte of the value */
    uint16_t *off; /* and one more */
};

/* Decodes v; false for invalid UTF-8 or a value over the limit. */
static bool cps_load(struct cps *c, const char *v, size_t n)
{
    if (n > MASK_MAX_INPUT)
        return false;
    c->s = v;
    c->n = 0;
    size_t i = 0;
    while (i < n) {
        size_t l = text_utf8_decode(v + i, n - i, &c->cp[c->n]);
        if (!l)
            return false;
        c->off[c->n++] = (uint16_t)i;
        i += l;
    }
    c->off[c->n] = (uint16_t)n;
    return true;
}

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n < o->cap) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
    }
}

/* Copies code points [from, to). */
static void put_cps(struct out *o, const struct cps *c, size_t from, size_t to)
{
    if (from < to)
        put(o, c->s + c->off[from], (size_t)(c->off[to] - c->off[from]));
}

static void stars(struct out *o, size_t k)
{
    while (k--)
        put(o, "*", 1);
}

static bool is_cjk(uint32_t cp)
{
    return (cp >= 0x3400 && cp <= 0x9fff) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0x20000 && cp <= 0x2ffff);
}

static bool is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == 0x3000;
}

static void mask_default(struct out *o, const struct cps *c)
{
    if (c->n == 0)
        return;
    if (c->n == 1) {
        put(o, "*", 1);
    } else if (c->n < 8) {
        put_cps(o, c, 0, 1);
        put(o, "***", 3);
    } else {
        put_cps(o, c, 0, 2);
        put(o, "****", 4);
        put_cps(o, c, c->n - 2, c->n);
    }
}

static void mask_phone(struct out *o, const struct cps *c)
{
    char d[32];
    size_t nd = 0;
    bool plus = c->n && c->cp[0] == '+';
    for (size_t i = 0; i < c->n; i++) {
        uint32_t cp = c->cp[i];
        if (cp >= '0' && cp <= '9') {
            if (nd + 1 >= sizeof(d)) {
                mask_default(o, c);
                return;
            }
            d[nd++] = (char)cp;
        } else if (!(cp == '+' && i == 0) && cp != ' ' && cp != '-' && cp != '(' && cp != ')') {
            {
                mask_default(o, c);
                return;
            } /* not a phone number: no digits to keep */
        }
    }
    d[nd] = 0;
    const char *nat = NULL;
    if (plus && nd == 13 && memcmp(d, "86", 2) == 0)
        nat = d + 2;
    else if (!plus && nd == 11 && d[0] == '1')
        nat = d;
    if (nat) { /* a mainland mobile: shown national, 138****5678 */
        put(o, nat, 3);
        stars(o, 4);
        put(o, nat + 7, 4);
        return;
    }
    if (nd < 7) {
        mask_default(o, c);
        return;
    }
    size_t keep = 0;
    if (plus) {
        keep = 3;
        if (d[0] == '1' || d[0] == '7')
            keep = 1;
        for (size_t i = 0; i < ARRAY_SIZE(cc2) && keep == 3; i++)
            if (memcmp(d, cc2[i], 2) == 0)
                keep = 2;
        put(o, "+", 1);
        put(o, d, keep);
    }
    stars(o, nd - keep - 4);
    put(o, d + nd - 4, 4);
}

static void mask_email(struct out *o, const struct cps *c)
{
    size_t at = c->n;
    for (size_t i = 0; i < c->n; i++)
        if (c->cp[i] == '@')
            at = i;
    if (at == c->n || at == 0) {
        mask_default(o, c);
        return;
    }
    put_cps(o, c, 0, 1);
    put(o, "***", 3);
    put_cps(o, c, at, c->n);
}

static void mask_name(struct out *o, const struct cps *c)
{
    if (c->n && is_cjk(c->cp[0])) {
        size_t keep = 1;
        if (c->n >= 3) {
            size_t two = (size_t)(c->off[2] - c->off[0]);
            for (size_t i = 0; i < ARRAY_SIZE(compound_surnames); i++)
                if (strlen(compound_surnames[i]) == two &&
                    memcmp(c->s, compound_surnames[i], two) == 0)
                    keep = 2;
        }
        if (c->n == 1) {
            put(o, "*", 1);
            return;
        }
        put_cps(o, c, 0, keep);
        stars(o, c->n - keep);
        return;
    }
    /* Latin names: each word's first letter, then one '*' per letter. */
    bool start = true;
    for (size_t i = 0; i < c->n; i++) {
        if (is_space(c->cp[i])) {
            put_cps(o, c, i, i + 1);
            start = true;
        } else if (start) {
            put_cps(o, c, i, i + 1);
            start = false;
        } else {
            put(o, "*", 1);
        }
    }
}

static void mask_id_number(struct out *o, const struct cps *c)
{
    if (c->n <= 8) {
        mask_default(o, c);
        return;
    }
    put_cps(o, c, 0, 4);
    stars(o, c->n - 8);
    put_cps(o, c, c->n - 4, c->n);
}

static void mask_card(struct out *o, const struct cps *c)
{
    size_t keep = c->n > 4 ? c->n - 4 : c->n;
    for (size_t i = 0; i < keep; i++) {
        if (is_space(c->cp[i]) || c->cp[i] == '-')
            put_cps(o, c, i, i + 1);
        else
            put(o, "*", 1);
    }
    put_cps(o, c, keep, c->n);
}

/* Chinese addresses keep the part up to the city; others the part after the last
 * comma (", London"). */
static void mask_address(struct out *o, const struct cps *c)
{
    if (c->n && is_cjk(c->cp[0])) {
        /* The first of these markers that occurs, in this order of preference. */
        static const uint32_t markers[] = {0x5e02 /* 市 */, 0x5dde /* 州 */, 0x76df /* 盟 */,
                                           0x7701 /* 省 */, 0x533a /* 区 */, 0x53bf /* 县 */};
        size_t end = 0;
        for (size_t m = 0; m < ARRAY_SIZE(markers) && !end; m++)
            for (size_t i = 0; i + 1 < c->n && !end; i++)
                if (c->cp[i] == markers[m])
                    end = i + 1;
        if (!end)
            end = c->n > 2 ? 2 : 0;
        put_cps(o, c, 0, end);
        put(o, "***", 3);
        return;
    }
    size_t comma = c->n;
    for (size_t i = 0; i < c->n; i++)
        if (c->cp[i] == ',' || c->cp[i] == 0xff0c)
            comma = i;
    put(o, "***", 3);
    if (comma < c->n) {
        put(o, ",", 1);
        size_t from = comma + 1;
        while (from < c->n && is_space(c->cp[from]))
            from++;
        if (from < c->n)
            put(o, " ", 1);
        put_cps(o, c, from, c->n);
    }
}

static void mask_birth_date(struct out *o, const struct cps *c)
{
    bool year = c->n >= 4;
    for (size_t i = 0; i < 4 && year; i++)
        year = c->cp[i] >= '0' && c->cp[i] <= '9';
    if (!year) {
        mask_default(o, c);
        return;
    }
    put_cps(o, c, 0, 4);
    for (size_t i = 4; i < c->n; i++) {
        if (c->cp[i] >= '0' && c->cp[i] <= '9')
            put(o, "*", 1);
        else
            put_cps(o, c, i, i + 1);
    }
}

char *mask_value(enum mask_kind kind, const char *v, size_t n)
{
    /* One allocation for the code points, their offsets and the mask. */
    size_t cpn = n > MASK_MAX_INPUT ? 0 : n;
    struct cps cs, *c = &cs;
    struct out o = {.cap = n + 32};
    char *mem = malloc(cpn * sizeof(uint32_t) + (cpn + 1) * sizeof(uint16_t) + o.cap);
    if (!mem)
        return NULL;
    c->cp = (uint32_t *)mem;
    c->off = (uint16_t *)(mem + cpn * sizeof(uint32_t));
    char *text = mem + cpn * sizeof(uint32_t) + (cpn + 1) * sizeof(uint16_t);
    o.p = text;
    if (!cps_load(c, v, n)) {
        put(&o, "***", 3);
    } else {
        switch (kind) {
        case MASK_PHONE:
            mask_phone(&o, c);
            break;
        case MASK_EMAIL:
            mask_email(&o, c);
            break;
        case MASK_NAME:
            mask_name(&o, c);
            break;
        case MASK_ID_NUMBER:
            mask_id_number(&o, c);
            break;
        case MASK_CARD:
            mask_card(&o, c);
            break;
        case MASK_ADDRESS:
            mask_address(&o, c);
            break;
        case MASK_BIRTH_DATE:
            mask_birth_date(&o, c);
            break;
        default:
            mask_default(&o, c);
        }
    }
    o.p[o.len] = 0;
    /* The caller frees what it gets: move the mask to the start of the block. */
    memmove(mem, o.p, o.len + 1);
    return mem;
}

char *mask_field(const char *field, const char *value)
{
    return mask_value(mask_kind_of(field, strlen(field)), value, strlen(value));
}
