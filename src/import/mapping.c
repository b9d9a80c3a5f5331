/* mapping.c - see mapping.h. */
#include <cJSON.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "import/mapping.h"

static const char *const kind_names[KIND_COUNT] = {"contact", "order", "order_line", "ticket",
                                                   "review"};
static const char *const order_fields[] = {"order_id", "amount",  "currency", "time",
                                           "status",   "channel", "store"};
static const char *const line_fields[] = {"sku",      "name",       "category",
                                          "quantity", "unit_price", "amount"};

const char *mapping_kind_name(enum record_kind_import k)
{
    return k >= 0 && k < KIND_COUNT ? kind_names[k] : "?";
}

void mapping_free(struct mapping *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nkey; i++)
        free(m->key_columns[i]);
    for (size_t i = 0; i < m->nformats; i++)
        free(m->time_formats[i]);
    for (size_t i = 0; i < m->nsymbols; i++) {
        free(m->symbols[i].symbol);
        free(m->symbols[i].currency);
    }
    for (size_t i = 0; i < m->ncolumns; i++) {
        free(m->columns[i].header);
        free(m->columns[i].name);
    }
    free(m->currency);
    free(m);
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, list[i]) == 0)
            return true;
    return false;
}

static int parse_offset(const char *s, int *minutes)
{
    int sign = 1, h = 0, mi = 0;
    if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        s++;
    } else if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
        *minutes = 0;
        return 0;
    }
    if (sscanf(s, "%2d:%2d", &h, &mi) < 1 || h > 23 || mi > 59)
        return ERR_INVALID;
    *minutes = sign * (h * 60 + mi);
    return 0;
}

static int compile_column(struct mapping *m, const cJSON *c, struct err *e)
{
    if (m->ncolumns == MAPPING_MAX_COLUMNS)
        return err_set(e, ERR_LIMIT, "columns: at most %d", MAPPING_MAX_COLUMNS);
    if (!cJSON_IsObject(c))
        return err_set(e, ERR_INVALID,
                       "columns.%s: must be an object such as "
                       "{\"identifier\": \"phone\"}",
                       c->string);
    struct mapping_column *col = &m->columns[m->ncolumns];
    memset(col, 0, sizeof(*col));
    col->header = strdup(c->string);
    if (!col->header)
        return err_set(e, ERR_NOMEM, "out of memory");
    m->ncolumns++;
    static const struct {
        const char *key;
        enum column_role role;
    } roles[] = {{"identifier", ROLE_IDENTIFIER}, {"trait", ROLE_TRAIT},
                 {"order", ROLE_ORDER},           {"line", ROLE_LINE},
                 {"field", ROLE_FIELD},           {"ignore", ROLE_IGNORE}};
    int found = 0;
    for (const cJSON *k = c->child; k; k = k->next) {
        if (strcmp(k->string, "required") == 0) {
            if (!cJSON_IsBool(k))
                return err_set(e, ERR_INVALID, "columns.%s.required: must be true or false",
                               c->string);
            col->required = cJSON_IsTrue(k);
            continue;
        }
        size_t r = 0;
        while (r < ARRAY_SIZE(roles) && strcmp(k->string, roles[r].key) != 0)
            r++;
        if (r == ARRAY_SIZE(roles))
            return err_set(e, ERR_INVALID,
                           "columns.%s: unknown key \"%s\" (identifier, trait, order, line, "
                           "field, ignore, required)",
                           c->string, k->string);
        found++;
        col->role = roles[r].role;
        if (col->role == ROLE_IGNORE)
            continue;
        if (!cJSON_IsString(k) || !k->valuestring[0])
            return err_set(e, ERR_INVALID, "columns.%s.%s: must be a non-empty string", c->string,
                           k->string);
        if (col->role == ROLE_ORDER &&
            !in_list(k->valuestring, order_fields, ARRAY_SIZE(order_fields)))
            return err_set(e, ERR_INVALID,
                           "columns.%s.order: \"%s\" is not an order field (order_id, amount, "
                           "currency, time, status, channel, store)",
                           c->string, k->valuestring);
        if (col->role == ROLE_LINE &&
            !in_list(k->valuestring, line_fields, ARRAY_SIZE(line_fields)))
            return err_set(e, ERR_INVALID,
                           "columns.%s.line: \"%s\" is not a line field (sku, name, category, "
                           "quantity, unit_price, amount)",
                           c->string, k->valuestring);
        col->name = strdup(k->valuestring);
        if (!col->name)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (found != 1)
        return err_set(e, ERR_INVALID,
                       "columns.%s: give exactly one of identifier, trait, order, line, field, "
                       "ignore",
                       c->string);
    return 0;
}

static int dup_string(const cJSON *v, const char *what, char **out, struct err *e)
{
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return err_set(e, ERR_INVALID, "%s: must be a non-empty string", what);
    *out = strdup(v->valuestring);
    return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

int mapping_compile(const char *json, size_t len, struct mapping **out, struct err *e)
{
    size_t at;
    if (len > MAPPING_MAX_BYTES)
        return err_set(e, ERR_LIMIT, "larger than %d bytes", MAPPING_MAX_BYTES);
    if (text_scan_json(json, len, 16, &at))
        return err_set(e, ERR_INVALID, "not valid UTF-8 JSON nested at most 16 deep (byte %zu)",
                       at);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(e, ERR_INVALID, "not a JSON object");
    }
    struct mapping *m = calloc(1, sizeof(*m));
    int rc = 0;
    if (!m) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    m->delimiter = ',';
    m->decimal = '.';
    m->thousands = ',';
    m->kind = KIND_COUNT;
    bool has_columns = false;
    for (const cJSON *k = root->child; k && !rc; k = k->next) {
        const char *n = k->string;
        if (strcmp(n, "format") == 0) {
            if (cJSON_IsString(k) && strcmp(k->valuestring, "csv") == 0)
                m->format = MAPPING_CSV;
            else if (cJSON_IsString(k) && strcmp(k->valuestring, "jsonl") == 0)
                m->format = MAPPING_JSONL;
            else
                rc = err_set(e, ERR_INVALID, "format: must be \"csv\" or \"jsonl\"");
        } else if (strcmp(n, "encoding") == 0) {
            if (!cJSON_IsString(k) || csv_encoding_parse(k->valuestring, &m->encoding))
                rc = err_set(e, ERR_INVALID, "encoding: must be utf-8, gbk or gb18030");
        } else if (strcmp(n, "delimiter") == 0) {
            if (!cJSON_IsString(k) || strlen(k->valuestring) != 1)
                rc = err_set(e, ERR_INVALID, "delimiter: must be one character");
            else
                m->delimiter = k->valuestring[0];
        } else if (strcmp(n, "kind") == 0) {
            int i = 0;
            while (i < KIND_COUNT &&
                   !(cJSON_IsString(k) && strcmp(k->valuestring, kind_names[i]) == 0))
                i++;
            if (i == KIND_COUNT)
                rc = err_set(e, ERR_INVALID,
                             "kind: must be contact, order, order_line, ticket or review");
            m->kind = (enum record_kind_import)i;
        } else if (strcmp(n, "record_key") == 0) {
            if (cJSON_IsString(k)) {
                rc = dup_string(k, "record_key", &m->key_columns[m->nkey], e);
                m->nkey += !rc;
            } else if (cJSON_IsArray(k) && cJSON_GetArraySize(k) > 0 &&
                       cJSON_GetArraySize(k) <= MAPPING_MAX_KEY_COLUMNS) {
                for (const cJSON *c = k->child; c && !rc; c = c->next) {
                    rc = dup_string(c, "record_key[]", &m->key_columns[m->nkey], e);
                    m->nkey += !rc;
                }
            } else {
                rc = err_set(e, ERR_INVALID, "record_key: a column name or 1 to %d of them",
                             MAPPING_MAX_KEY_COLUMNS);
            }
        } else if (strcmp(n, "time_zone") == 0) {
            if (!cJSON_IsString(k) || parse_offset(k->valuestring, &m->tz_offset_min))
                rc = err_set(e, ERR_INVALID, "time_zone: an offset such as \"+08:00\"");
        } else if (strcmp(n, "time_formats") == 0) {
            if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) > MAPPING_MAX_FORMATS)
                rc = err_set(e, ERR_INVALID, "time_formats: an array of at most %d formats",
                             MAPPING_MAX_FORMATS);
            for (const cJSON *c = k->child; c && !rc; c = c->next) {
                rc = dup_string(c, "time_formats[]", &m->time_formats[m->nformats], e);
                m->nformats += !rc;
            }
        } else if (strcmp(n, "money") == 0) {
            if (!cJSON_IsObject(k)) {
                rc = err_set(e, ERR_INVALID, "money: must be an object");
                break;
            }
            for (const cJSON *c = k->child; c && !rc; c = c->next) {
                if (strcmp(c->string, "currency") == 0) {
                    rc = dup_string(c, "money.currency", &m->currency, e);
                } else if (strcmp(c->string, "decimal") == 0 ||
                           strcmp(c->string, "thousands") == 0) {
                    if (!cJSON_IsString(c) || strlen(c->valuestring) > 1)
                        rc = err_set(e, ERR_INVALID, "money.%s: one character", c->string);
                    else if (c->string[0] == 'd')
                        m->decimal = c->valuestring[0];
                    else
                        m->thousands = c->valuestring[0];
                } else if (strcmp(c->string, "symbols") == 0 && cJSON_IsObject(c)) {
                    for (const cJSON *s = c->child; s && !rc; s = s->next) {
                        if (m->nsymbols == MAPPING_MAX_SYMBOLS) {
                            rc = err_set(e, ERR_LIMIT, "money.symbols: at most %d",
                                         MAPPING_MAX_SYMBOLS);
                            break;
                        }
                        struct money_symbol *ms = &m->symbols[m->nsymbols];
                        ms->symbol = strdup(s->string);
                        rc = ms->symbol ? dup_string(s, "money.symbols", &ms->currency, e)
                                        : err_set(e, ERR_NOMEM, "out of memory");
                        m->nsymbols += ms->symbol != NULL;
                    }
                } else {
                    rc = err_set(e, ERR_INVALID,
                                 "money.%s: unknown key (currency, decimal, thousands, symbols)",
                                 c->string);
                }
            }
        } else if (strcmp(n, "columns") == 0) {
            if (!cJSON_IsObject(k)) {
                rc = err_set(e, ERR_INVALID, "columns: must be an object");
                break;
            }
            has_columns = true;
            for (const cJSON *c = k->child; c && !rc; c = c->next)
                rc = compile_column(m, c, e);
        } else {
            rc = err_set(e, ERR_INVALID,
                         "unknown key \"%s\" (format, encoding, delimiter, kind, record_key, "
                         "time_zone, time_formats, money, columns)",
                         n);
        }
    }
    if (!rc && !m->currency && !(m->currency = strdup("CNY")))
        rc = err_set(e, ERR_NOMEM, "out of memory");
    if (!rc && m->format == MAPPING_CSV) {
        if (m->kind == KIND_COUNT)
            rc = err_set(e, ERR_INVALID, "kind: required for CSV");
        else if (!m->nkey)
            rc = err_set(e, ERR_INVALID, "record_key: required for CSV");
        else if (!has_columns)
            rc = err_set(e, ERR_INVALID, "columns: required for CSV");
    }
    if (!rc && m->format == MAPPING_CSV && (m->kind == KIND_ORDER || m->kind == KIND_ORDER_LINE)) {
        bool has_order_id = false;
        for (size_t i = 0; i < m->ncolumns; i++)
            has_order_id |=
                m->columns[i].role == ROLE_ORDER && strcmp(m->columns[i].name, "order_id") == 0;
        if (!has_order_id)
            rc =
                err_set(e, ERR_INVALID, "columns: kind %s needs a column {\"order\": \"order_id\"}",
                        kind_names[m->kind]);
    }
out:
    cJSON_Delete(root);
    if (rc) {
        mapping_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int mapping_load(const char *path, struct mapping **out, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_IO, "cannot open mapping %s: %s", path, strerror(errno));
    char *buf = malloc(MAPPING_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAPPING_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct err me = {0};
    int rc = mapping_compile(buf, n, out, &me);
    free(buf);
    if (rc)
        err_set(e, rc, "mapping %s: %s", path, me.msg);
    return rc;
}

int mapping_bind(const struct mapping *m, const struct csv_row *header, struct mapping_binding *b,
                 struct err *e)
{
    memset(b, 0, sizeof(*b));
    b->m = m;
    b->nfields = header->nfields;
    b->by_index = calloc(header->nfields ? header->nfields : 1, sizeof(*b->by_index));
    if (!b->by_index)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < m->nkey; k++)
        b->key_index[k] = -1;
    for (size_t i = 0; i < header->nfields; i++) {
        const char *h = header->fields[i].p;
        size_t hl = header->fields[i].len;
        while (hl && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
            hl--;
        while (hl && (*h == ' ' || *h == '\t')) {
            h++;
            hl--;
        }
        for (size_t c = 0; c < m->ncolumns; c++)
            if (strlen(m->columns[c].header) == hl && memcmp(m->columns[c].header, h, hl) == 0)
                b->by_index[i] = &m->columns[c];
        for (size_t k = 0; k < m->nkey; k++)
            if (strlen(m->key_columns[k]) == hl && memcmp(m->key_columns[k], h, hl) == 0)
                b->key_index[k] = (int)i;
    }
    for (size_t k = 0; k < m->nkey; k++)
        if (b->key_index[k] < 0) {
            mapping_unbind(b);
            return err_set(e, ERR_INVALID, "the header has no column \"%s\" (record_key)",
                           m->key_columns[k]);
        }
    for (size_t c = 0; c < m->ncolumns; c++) {
        if (!m->columns[c].required)
            continue;
        size_t i = 0;
        while (i < header->nfields && b->by_index[i] != &m->columns[c])
            i++;
        if (i == header->nfields) {
            mapping_unbind(b);
            return err_set(e, ERR_INVALID, "the header has no column \"%s\" (required)",
                           m->columns[c].header);
        }
    }
    return 0;
}

void mapping_unbind(struct mapping_binding *b)
{
    free(b->by_index);
    b->by_index = NULL;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int mapping_parse_time(const struct mapping *m, const char *text, size_t len, int64_t *ms)
{
    char buf[64];
    while (len && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(buf))
        return ERR_INVALID;
    memcpy(buf, text, len);
    buf[len] = 0;
    /* ISO 8601 with an explicit offset (or Z) is taken as it is; without one it is
     * local time in the mapping's zone. */
    bool has_zone = buf[len - 1] == 'Z' || buf[len - 1] == 'z' ||
                    (len > 10 && (strchr(buf + 10, '+') || strchr(buf + 10, '-')));
    if (time_parse_iso8601(buf, len, ms) == 0) {
        if (!has_zone)
            *ms -= (int64_t)m->tz_offset_min * 60000;
        return 0;
    }
    for (size_t i = 0; i < m->nformats; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        tm.tm_mday = 1;
        const char *end = strptime(buf, m->time_formats[i], &tm);
        if (!end || *end)
            continue;
        if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
            continue;
        int64_t days = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                                       (unsigned)tm.tm_mday);
        int64_t secs = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
        *ms = (secs - (int64_t)m->tz_offset_min * 60) * 1000;
        return 0;
    }
    return ERR_INVALID;
}

int mapping_parse_money(const struct mapping *m, const char *text, size_t len, int64_t *minor,
                        char cur[8])
{
    snprintf(cur, 8, "%s", m->currency);
    const char *p = text, *end = text + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    /* A currency symbol or an ISO code before or after the number. */
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < m->nsymbols; i++) {
            size_t sl = strlen(m->symbols[i].symbol);
            if (side == 0 && (size_t)(end - p) >= sl && memcmp(p, m->symbols[i].symbol, sl) == 0) {
                snprintf(cur, 8, "%s", m->symbols[i].currency);
                p += sl;
            } else if (side == 1 && (size_t)(end - p) >= sl &&
                       memcmp(end - sl, m->symbols[i].symbol, sl) == 0) {
                snprintf(cur, 8, "%s", m->symbols[i].currency);
                end -= sl;
            }
        }
        if (side == 0 && end - p > 3 && p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z' &&
            p[2] >= 'A' && p[2] <= 'Z') {
            snprintf(cur, 8, "%.3s", p);
            p += 3;
        }
        while (p < end && *p == ' ')
            p++;
        while (end > p && end[-1] == ' ')
            end--;
    }
    if (p < end && *p == '-') {
        neg = !neg;
        p++;
    }
    int64_t units = 0;
    int decimals = -1;
    bool digits = false;
    for (; p < end; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            if (decimals >= 2 || units > INT64_MAX / 10 - 10)
                return ERR_INVALID;
            units = units * 10 + (c - '0');
            digits = true;
            if (decimals >= 0)
                decimals++;
        } else if (c == m->decimal && decimals < 0) {
            decimals = 0;
        } else if (c == m->thousands && decimals < 0 && m->thousands) {
            continue;
        } else {
            return ERR_INVALID;
        }
    }
    if (!digits)
        return ERR_INVALID;
    for (int d = decimals < 0 ? 0 : decimals; d < 2; d++) {
        if (units > INT64_MAX / 10)
            return ERR_INVALID;
        units *= 10;
    }
    *minor = neg ? -units : units;
    return 0;
}
