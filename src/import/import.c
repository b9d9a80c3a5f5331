/* import.c - see import.h. */
#include <cJSON.h>
#include <math.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/text.h"
#include "core/textbuf.h"
#include "core/timeutil.h"
#include "import/import.h"
#include "ingest/collect.h"
#include "ingest/sources.h"
#include "privacy/dsr.h"

#define IMPORT_PROGRESS_MS 250             /* between progress lines */
#define IMPORT_JSONL_CHUNK 10000           /* messages per writer submission: one commit each */
#define IMPORT_LINE_MAX    (32 * 1024 + 2) /* a JSON Lines message (MESSAGE_MAX_BYTES) */
#define IMPORT_KEY_MAX     1024            /* bytes of a record key */

/* Record keys already stored for the source: key hash -> row id and content hash. */
struct key_entry {
    struct hash128 key;
    int64_t id;
    uint64_t hash;
};

struct key_map {
    struct key_entry *v;
    size_t cap, n;
};

static bool key_empty(const struct key_entry *en)
{
    return en->key.hi == 0 && en->key.lo == 0;
}

static struct key_entry *key_find(struct key_map *m, struct hash128 k, bool *found)
{
    size_t i = (size_t)k.lo & (m->cap - 1);
    while (!key_empty(&m->v[i]) && !(m->v[i].key.hi == k.hi && m->v[i].key.lo == k.lo))
        i = (i + 1) & (m->cap - 1);
    *found = !key_empty(&m->v[i]);
    return &m->v[i];
}

static int key_grow(struct key_map *m)
{
    struct key_map g = {calloc(m->cap * 2, sizeof(*m->v)), m->cap * 2, m->n};
    if (!g.v)
        return ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (key_empty(&m->v[i]))
            continue;
        bool found;
        *key_find(&g, m->v[i].key, &found) = m->v[i];
    }
    free(m->v);
    *m = g;
    return 0;
}

static int key_put(struct key_map *m, struct hash128 k, int64_t id, uint64_t hash)
{
    if ((m->n + 1) * 2 > m->cap && key_grow(m))
        return ERR_NOMEM;
    bool found;
    struct key_entry *en = key_find(m, k, &found);
    if (!found)
        m->n++;
    *en = (struct key_entry){k, id, hash};
    return 0;
}

static struct hash128 key_of(const char *key, size_t len)
{
    struct hash128 h = text_hash128(key, len, 0x6b6579);
    if (h.hi == 0 && h.lo == 0)
        h.lo = 1;
    return h;
}

/* Adds "key":"value" to the JSON object being written in b. */
static void jb_member(struct textbuf *b, const char *key, const char *v, size_t n)
{
    textbuf_put(b, b->len ? "," : "{", 1);
    textbuf_json_string(b, key, strlen(key));
    textbuf_put(b, ":", 1);
    textbuf_json_string(b, v, n);
}

static const char *jb_close(struct textbuf *b)
{
    if (!b->len)
        return NULL;
    textbuf_put(b, "}", 1);
    return b->failed ? NULL : b->p;
}

/* The last time text parsed and its value: the lines of one receipt share a time, so
 * most rows of an order-line export need no parsing at all. */
struct time_cache {
    char text[64];
    size_t len;
    int64_t ms;
};

static int parse_time_cached(const struct mapping *m, struct time_cache *c, const char *v, size_t n,
                             int64_t *ms)
{
    if (n == c->len && n < sizeof(c->text) && memcmp(v, c->text, n) == 0) {
        *ms = c->ms;
        return 0;
    }
    int rc = mapping_parse_time(m, v, n, ms);
    if (rc == 0 && n < sizeof(c->text)) {
        memcpy(c->text, v, n);
        c->len = n;
        c->ms = *ms;
    }
    return rc;
}

struct order_agg {
    char *order_id, *currency, *status, *channel, *store;
    int64_t amount, time, record_id, lines;
    bool has_amount;
};

struct importer {
    struct store *st;
    const struct mapping *m;
    int64_t source_id;
    char *source_name;
    struct plan *plan;
    FILE *rejects;
    bool progress;
    struct key_map keys;
    struct writer *writer; /* JSON Lines: the collection writer */
    struct textbuf ids, traits, fields, keybuf, hashbuf;
    struct time_cache time_cache;
    /* Orders of an order-line file, summed here while their lines stream in: an order
     * that is new to the store and whose lines are all new needs no SQL to aggregate.
     * Orders the store had before, and every order once a line is replaced, are
     * rebuilt from their lines by the store (orders_aggregate) instead. */
    struct key_map existing_orders;
    struct key_map agg_index; /* order id -> index into aggs */
    struct order_agg *aggs;
    size_t naggs, aggs_cap;
    bool slow_orders;
    struct suppression *supp; /* erased people: their rows are skipped */
};

static int load_key(const char *key, size_t len, int64_t id, uint64_t hash, void *ctx)
{
    return key_put(ctx, key_of(key, len), id, hash);
}

static int key_map_init(struct key_map *m, size_t hint)
{
    size_t cap = 1024;
    while (cap < hint * 2)
        cap <<= 1;
    free(m->v);
    m->v = calloc(cap, sizeof(*m->v));
    m->cap = cap;
    m->n = 0;
    return m->v ? 0 : ERR_NOMEM;
}

static void aggs_clear(struct importer *im)
{
    for (size_t i = 0; i < im->naggs; i++) {
        struct order_agg *a = &im->aggs[i];
        free(a->order_id);
        free(a->currency);
        free(a->status);
        free(a->channel);
        free(a->store);
    }
    im->naggs = 0;
    if (im->agg_index.v)
        memset(im->agg_index.v, 0, im->agg_index.cap * sizeof(*im->agg_index.v));
    im->agg_index.n = 0;
}

static char *keep(char *old, const char *v)
{
    return old || !v ? old : strdup(v);
}

/* Adds one line to its order's running sums. */
static int agg_add(struct importer *im, struct hash128 k, const struct order_line_row *l)
{
    bool found;
    struct key_entry *en = key_find(&im->agg_index, k, &found);
    struct order_agg *a;
    if (found) {
        a = &im->aggs[en->id];
    } else {
        if (im->naggs == im->aggs_cap) {
            size_t cap = im->aggs_cap ? im->aggs_cap * 2 : 1024;
            struct order_agg *v = realloc(im->aggs, cap * sizeof(*v));
            if (!v)
                return ERR_NOMEM;
            im->aggs = v;
            im->aggs_cap = cap;
        }
        a = &im->aggs[im->naggs];
        memset(a, 0, sizeof(*a));
        a->order_id = strdup(l->order_id);
        a->time = STORE_NULL_TIME;
        a->record_id = l->record_id;
        if (!a->order_id || key_put(&im->agg_index, k, (int64_t)im->naggs, 0))
            return ERR_NOMEM;
        im->naggs++;
    }
    int64_t amount = l->amount_minor;
    if (amount == STORE_NULL_AMOUNT && l->unit_price_minor != STORE_NULL_AMOUNT &&
        l->quantity == l->quantity)
        amount = (int64_t)llround(l->quantity * (double)l->unit_price_minor);
    if (amount != STORE_NULL_AMOUNT) {
        a->amount += amount;
        a->has_amount = true;
    }
    if (l->time != STORE_NULL_TIME && (a->time == STORE_NULL_TIME || l->time < a->time))
        a->time = l->time;
    a->lines++;
    a->currency = keep(a->currency, l->currency);
    a->status = keep(a->status, l->status);
    a->channel = keep(a->channel, l->channel);
    a->store = keep(a->store, l->store);
    return 0;
}

/* Writes the running sums into the store (added to what earlier flushes wrote). */
static int aggs_flush(struct importer *im, struct err *e)
{
    for (size_t i = 0; i < im->naggs; i++) {
        const struct order_agg *a = &im->aggs[i];
        struct order_row o = {im->source_id,
                              a->record_id,
                              a->order_id,
                              a->time,
                              a->has_amount ? a->amount : STORE_NULL_AMOUNT,
                              a->currency,
                              a->status,
                              a->channel,
                              a->store};
        int rc = im->st->ops->order_add(im->st, &o, a->lines, e);
        if (rc)
            return rc;
    }
    aggs_clear(im);
    return 0;
}

struct source_found {
    int64_t id;
    char *plan;
    bool failed;
};

static int source_found_cb(const struct source *s, void *ctx)
{
    struct source_found *f = ctx;
    f->id = s->id;
    f->plan = s->plan ? strdup(s->plan) : NULL;
    f->failed = s->plan && !f->plan;
    return 0;
}

int importer_new(const char *db, const char *source_name, const struct mapping *m, FILE *rejects,
                 bool progress, struct importer **out, struct err *e)
{
    struct importer *im = calloc(1, sizeof(*im));
    if (!im)
        return err_set(e, ERR_NOMEM, "out of memory");
    im->m = m;
    im->rejects = rejects;
    im->progress = progress;
    im->source_name = strdup(source_name);
    struct store_options opt = {.synchronous_full = true};
    struct source_found found = {0};
    int rc =
        im->source_name ? store_open(db, &opt, &im->st, e) : err_set(e, ERR_NOMEM, "out of memory");
    if (!rc)
        rc = im->st->ops->source_by_name(im->st, source_name, source_found_cb, &found, e);
    if (!rc && !found.id)
        rc = err_set(e, ERR_NOTFOUND, "no source named \"%s\" (create it with custos sources add)",
                     source_name);
    if (!rc && found.failed)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    im->source_id = found.id;
    if (!rc && found.plan && plan_compile(found.plan, strlen(found.plan), &im->plan, e))
        rc = ERR_INVALID;
    free(found.plan);
    if (!rc && m->format == MAPPING_CSV) {
        int64_t n = 0;
        rc = im->st->ops->table_count(im->st, "records", im->source_id, &n, e);
        if (!rc && key_map_init(&im->keys, (size_t)n))
            rc = err_set(e, ERR_NOMEM, "out of memory");
        if (!rc)
            rc = im->st->ops->record_keys(im->st, im->source_id, load_key, &im->keys, e);
        if (!rc && m->kind == KIND_ORDER_LINE) {
            rc = im->st->ops->table_count(im->st, "orders", im->source_id, &n, e);
            if (!rc && (key_map_init(&im->existing_orders, (size_t)n) ||
                        key_map_init(&im->agg_index, 4096)))
                rc = err_set(e, ERR_NOMEM, "out of memory");
            if (!rc)
                rc = im->st->ops->order_keys(im->st, im->source_id, load_key, &im->existing_orders,
                                             e);
        }
    } else if (!rc) {
        /* The writer owns its own connection, with the collection API's dedup set. */
        struct store *wst;
        rc = store_open(db, &opt, &wst, e);
        if (!rc)
            rc = writer_start(wst, SIZE_MAX, &im->writer, e);
        if (rc && !im->writer)
            store_close(wst);
    }
    if (!rc)
        rc = suppression_load(im->st, &im->supp, e);
    if (rc) {
        importer_free(im);
        return rc;
    }
    if (rejects && ftell(rejects) == 0)
        fputs("file,line,record_key,column,reason\n", rejects);
    *out = im;
    return 0;
}

void importer_free(struct importer *im)
{
    if (!im)
        return;
    writer_stop(im->writer);
    store_close(im->st);
    plan_free(im->plan);
    free(im->keys.v);
    aggs_clear(im);
    free(im->aggs);
    free(im->agg_index.v);
    free(im->existing_orders.v);
    free(im->source_name);
    suppression_free(im->supp);
    textbuf_release(&im->ids);
    textbuf_release(&im->traits);
    textbuf_release(&im->fields);
    textbuf_release(&im->keybuf);
    textbuf_release(&im->hashbuf);
    free(im);
}

static void reject(struct importer *im, const char *file, uint64_t line, const char *key,
                   const char *column, const char *reason)
{
    if (!im->rejects)
        return;
    text_csv_field(im->rejects, file);
    fprintf(im->rejects, ",%" PRIu64 ",", line);
    text_csv_field(im->rejects, key ? key : "");
    fputc(',', im->rejects);
    text_csv_field(im->rejects, column ? column : "");
    fputc(',', im->rejects);
    text_csv_field(im->rejects, reason);
    fputc('\n', im->rejects);
}

struct progress {
    uint64_t start_ns, last_ns, size;
    const char *name;
};

static void progress_show(struct importer *im, struct progress *p, uint64_t rows, uint64_t bytes,
                          bool last)
{
    if (!im->progress)
        return;
    uint64_t now = time_mono_ns();
    if (!last && now - p->last_ns < IMPORT_PROGRESS_MS * 1000000ull)
        return;
    p->last_ns = now;
    double secs = (double)(now - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)rows / secs : 0;
    double done = p->size ? (double)bytes / (double)p->size : 0;
    double eta = done > 0 && done < 1 ? secs / done - secs : 0;
    fprintf(stderr, "\r%s: %" PRIu64 " rows, %.0f rows/s, %3.0f%%, ETA %.0fs   %s", p->name, rows,
            rate, done * 100, eta, last ? "\n" : "");
}

/* One mapped row, pointing into the CSV row and the importer's buffers. */
struct mapped {
    const char *order_id, *currency, *status, *channel, *store;
    const char *sku, *name, *category;
    int64_t time, order_amount, unit_price, line_amount;
    double quantity;
    char cur[8];
};

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Maps one CSV row. Returns NULL when it is good, or the reason (and *column) when
 * it must be rejected. Trimmed field values are NUL-terminated in place. */
static const char *map_row(struct importer *im, const struct mapping_binding *b,
                           struct csv_row *row, struct mapped *mp, const char **column)
{
    const struct mapping *m = im->m;
    memset(mp, 0, sizeof(*mp));
    mp->time = STORE_NULL_TIME;
    mp->order_amount = mp->unit_price = mp->line_amount = STORE_NULL_AMOUNT;
    mp->quantity = NAN;
    textbuf_clear(&im->ids);
    textbuf_clear(&im->traits);
    textbuf_clear(&im->fields);
    textbuf_clear(&im->hashbuf);
    if (row->bad_utf8) {
        *column = "";
        return "the row is not valid UTF-8 (wrong --encoding?)";
    }
    for (size_t i = 0; i < row->nfields && i < b->nfields; i++) {
        const struct mapping_column *col = b->by_index[i];
        if (!col || col->role == ROLE_IGNORE)
            continue;
        const char *v = row->fields[i].p;
        size_t n = row->fields[i].len;
        trim(&v, &n);
        ((char *)v)[n] = 0; /* the reader's buffer is ours until the next row */
        *column = col->header;
        if (!n) {
            if (col->required)
                return "is required and empty";
            continue;
        }
        textbuf_put(&im->hashbuf, col->header, strlen(col->header));
        textbuf_put(&im->hashbuf, "\x1f", 1);
        textbuf_put(&im->hashbuf, v, n);
        textbuf_put(&im->hashbuf, "\x1e", 1);
        const char *f = col->name;
        switch (col->role) {
        case ROLE_IDENTIFIER:
            jb_member(&im->ids, f, v, n);
            break;
        case ROLE_TRAIT:
            jb_member(&im->traits, f, v, n);
            break;
        case ROLE_FIELD:
            if (strcmp(f, "time") == 0) {
                if (parse_time_cached(m, &im->time_cache, v, n, &mp->time))
                    return "is not a time in a format of the mapping";
            }
            jb_member(&im->fields, f, v, n);
            break;
        case ROLE_ORDER:
            if (strcmp(f, "order_id") == 0)
                mp->order_id = v;
            else if (strcmp(f, "amount") == 0) {
                if (mapping_parse_money(m, v, n, &mp->order_amount, mp->cur))
                    return "is not an amount of money (at most two decimals)";
            } else if (strcmp(f, "currency") == 0)
                mp->currency = v;
            else if (strcmp(f, "time") == 0) {
                if (parse_time_cached(m, &im->time_cache, v, n, &mp->time))
                    return "is not a time in a format of the mapping";
            } else if (strcmp(f, "status") == 0)
                mp->status = v;
            else if (strcmp(f, "channel") == 0)
                mp->channel = v;
            else if (strcmp(f, "store") == 0)
                mp->store = v;
            break;
        case ROLE_LINE:
            if (strcmp(f, "sku") == 0)
                mp->sku = v;
            else if (strcmp(f, "name") == 0)
                mp->name = v;
            else if (strcmp(f, "category") == 0)
                mp->category = v;
            else if (strcmp(f, "quantity") == 0) {
                char *end;
                errno = 0;
                mp->quantity = strtod(v, &end);
                if (errno || *end || !isfinite(mp->quantity))
                    return "is not a quantity";
            } else if (strcmp(f, "unit_price") == 0) {
                if (mapping_parse_money(m, v, n, &mp->unit_price, mp->cur))
                    return "is not an amount of money (at most two decimals)";
            } else if (strcmp(f, "amount") == 0) {
                if (mapping_parse_money(m, v, n, &mp->line_amount, mp->cur))
                    return "is not an amount of money (at most two decimals)";
            }
            break;
        case ROLE_IGNORE:
            break;
        }
    }
    /* A row cut short has no value for the columns past its end. */
    for (size_t i = row->nfields; i < b->nfields; i++) {
        if (b->by_index[i] && b->by_index[i]->required) {
            *column = b->by_index[i]->header;
            return "is required and missing (the row has fewer columns than the header)";
        }
    }
    if (!mp->currency)
        mp->currency = mp->cur[0] ? mp->cur : m->currency;
    if ((m->kind == KIND_ORDER || m->kind == KIND_ORDER_LINE) && !mp->order_id) {
        *column = "order_id";
        return "the order id is empty";
    }
    if (im->ids.failed || im->traits.failed || im->fields.failed || im->hashbuf.failed) {
        *column = "";
        return "out of memory";
    }
    return NULL;
}

/* The record key: the key columns' values joined by '|'. NULL when one is empty. */
static const char *row_key(struct importer *im, const struct mapping_binding *b,
                           const struct csv_row *row)
{
    textbuf_clear(&im->keybuf);
    for (size_t k = 0; k < im->m->nkey; k++) {
        size_t i = (size_t)b->key_index[k];
        if (i >= row->nfields)
            return NULL;
        const char *v = row->fields[i].p;
        size_t n = row->fields[i].len;
        trim(&v, &n);
        if (!n)
            return NULL;
        if (k)
            textbuf_put(&im->keybuf, "|", 1);
        textbuf_put(&im->keybuf, v, n);
    }
    if (im->keybuf.failed || im->keybuf.len > IMPORT_KEY_MAX)
        return NULL;
    return im->keybuf.p;
}

static int store_row(struct importer *im, const char *file, const struct csv_row *row,
                     const char *key, const struct mapped *mp, uint64_t hash, int64_t replace_id,
                     int64_t *id, struct err *e)
{
    struct store *st = im->st;
    struct import_row r = {
        .id = replace_id,
        .source_id = im->source_id,
        .kind = mapping_kind_name(im->m->kind),
        .record_key = key,
        .file = file,
        .line = (int64_t)row->line,
        .hash = hash,
        .time = mp->time,
        .identifiers = jb_close(&im->ids),
        .traits = jb_close(&im->traits),
        .fields = jb_close(&im->fields),
        .imported_at = time_now_ms(),
    };
    int rc = st->ops->record_put(st, &r, e);
    if (rc)
        return rc;
    *id = r.id;
    if (im->m->kind == KIND_ORDER) {
        struct order_row o = {im->source_id, r.id,       mp->order_id, mp->time, mp->order_amount,
                              mp->currency,  mp->status, mp->channel,  mp->store};
        rc = st->ops->order_put(st, &o, e);
    } else if (im->m->kind == KIND_ORDER_LINE) {
        struct order_line_row l = {
            .record_id = r.id,
            .source_id = im->source_id,
            .order_id = mp->order_id,
            .time = mp->time,
            .sku = mp->sku,
            .name = mp->name,
            .category = mp->category,
            .quantity = mp->quantity,
            .unit_price_minor = mp->unit_price,
            .amount_minor = mp->line_amount,
            .currency = mp->currency,
            .status = mp->status,
            .channel = mp->channel,
            .store = mp->store,
        };
        bool replace = replace_id != 0;
        if (replace && !im->slow_orders) {
            /* A corrected line may move between orders: from here on the store rebuilds
             * every touched order from its lines. */
            if ((rc = aggs_flush(im, e)))
                return rc;
            im->slow_orders = true;
        }
        struct hash128 ok = key_of(mp->order_id, strlen(mp->order_id));
        bool existed;
        key_find(&im->existing_orders, ok, &existed);
        bool touch = im->slow_orders || existed;
        rc = st->ops->order_line_put(st, &l, replace, touch, e);
        if (!rc && !touch && agg_add(im, ok, &l))
            rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    return rc;
}

/* Whether the mapped row's identifiers name an erased person. */
static bool row_suppressed(struct importer *im)
{
    if (!im->ids.len || im->ids.failed)
        return false;
    char *text = malloc(im->ids.len + 2);
    if (!text)
        return false;
    memcpy(text, im->ids.p, im->ids.len);
    memcpy(text + im->ids.len, "}", 2);
    bool hit = suppression_identifiers(im->supp, text);
    free(text);
    return hit;
}

static int import_csv(struct importer *im, const char *path, FILE *f, struct progress *pg,
                      struct import_stats *stats, struct err *e)
{
    struct csv_reader *r = NULL;
    struct mapping_binding b = {0};
    struct csv_row row;
    bool in_txn = false;
    uint64_t since_commit = 0;
    struct store *st = im->st;
    int rc = csv_open(f, im->m->encoding, im->m->delimiter, &r, e);
    if (rc)
        return rc;
    /* Room for the file's keys up front (rows of exports are rarely under 64 bytes):
     * growing a table of a million keys step by step costs more than the lookups. */
    size_t hint = im->keys.n + (size_t)(pg->size / 64);
    if (hint * 2 > im->keys.cap) {
        struct key_map bigger = {0};
        if (key_map_init(&bigger, hint)) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < im->keys.cap; i++)
            if (!key_empty(&im->keys.v[i]))
                key_put(&bigger, im->keys.v[i].key, im->keys.v[i].id, im->keys.v[i].hash);
        free(im->keys.v);
        im->keys = bigger;
    }
    rc = csv_next(r, &row, e);
    if (rc == 0)
        rc = err_set(e, ERR_INVALID, "%s is empty: a header row is needed", path);
    if (rc < 0)
        goto out;
    if (row.error) {
        rc = err_set(e, ERR_INVALID, "%s: the header row is malformed: %s", path, row.error);
        goto out;
    }
    struct err be = {0};
    if ((rc = mapping_bind(im->m, &row, &b, &be))) {
        err_set(e, rc, "%s: %s", path, be.msg);
        goto out;
    }
    while ((rc = csv_next(r, &row, e)) == 1) {
        stats->read++;
        if (!in_txn) {
            if ((rc = st->ops->begin(st, e)))
                goto out;
            in_txn = true;
        }
        const char *column = "", *why;
        const char *key = row.error ? NULL : row_key(im, &b, &row);
        struct mapped mp;
        if (row.error)
            why = row.error;
        else if (!key)
            why = "the record key is empty (or longer than 1024 bytes)";
        else
            why = map_row(im, &b, &row, &mp, &column);
        if (why) {
            stats->rejected++;
            reject(im, path, row.line, key, column, why);
            continue;
        }
        if (suppression_active(im->supp) && row_suppressed(im)) {
            stats->suppressed++;
            continue;
        }
        uint64_t hash = text_hash128(im->hashbuf.p ? im->hashbuf.p : "", im->hashbuf.len, 0).lo;
        struct hash128 k = key_of(key, strlen(key));
        bool found;
        struct key_entry *en = key_find(&im->keys, k, &found);
        if (found && en->hash == hash) {
            stats->unchanged++;
            continue;
        }
        int64_t id = 0;
        if ((rc = store_row(im, path, &row, key, &mp, hash, found ? en->id : 0, &id, e)))
            goto out;
        if ((rc = key_put(&im->keys, k, id, hash))) {
            err_set(e, rc, "out of memory");
            goto out;
        }
        if (found)
            stats->replaced++;
        else
            stats->loaded++;
        if (++since_commit >= IMPORT_COMMIT_ROWS) {
            if (im->m->kind == KIND_ORDER_LINE &&
                ((rc = aggs_flush(im, e)) || (rc = st->ops->orders_aggregate(st, e))))
                goto out;
            if ((rc = st->ops->commit(st, e)))
                goto out;
            in_txn = false;
            since_commit = 0;
        }
        progress_show(im, pg, stats->read, csv_bytes_read(r), false);
    }
    if (rc < 0)
        goto out;
    rc = 0;
    if (in_txn) {
        if (im->m->kind == KIND_ORDER_LINE && !(rc = aggs_flush(im, e)))
            rc = st->ops->orders_aggregate(st, e);
        if (!rc)
            rc = st->ops->commit(st, e);
        in_txn = !!rc;
    }
    stats->bytes += csv_bytes_read(r);
out:
    if (in_txn)
        st->ops->rollback(st);
    mapping_unbind(&b);
    csv_close(r);
    return rc;
}

/* Segment messages, one per line, through the collection API's checks and writer. */
static int import_jsonl(struct importer *im, const char *path, FILE *f, struct progress *pg,
                        struct import_stats *stats, struct err *e)
{
    struct source_entry src = {.id = im->source_id};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    uint64_t lineno = 0, bytes = 0;
    bool eof = false;
    while (!eof && !rc) {
        struct collect_batch w;
        uint64_t first_line[IMPORT_JSONL_CHUNK];
        if (collect_batch_init(&w, IMPORT_JSONL_CHUNK, &src, time_now_ms()))
            return err_set(e, ERR_NOMEM, "out of memory");
        w.suppress = im->supp;
        w.drop_suppressed = true;
        json_arena_begin();
        cJSON *results = cJSON_CreateArray();
        while (w.n < IMPORT_JSONL_CHUNK) {
            ssize_t n = getline(&line, &cap, f);
            if (n < 0) {
                eof = true;
                break;
            }
            lineno++;
            bytes += (uint64_t)n;
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            stats->read++;
            size_t at;
            const char *why = NULL;
            if (n > IMPORT_LINE_MAX)
                why = "the message is larger than 32 KB";
            else if (text_scan_json(line, (size_t)n, 64, &at))
                why = "not valid UTF-8, or JSON nested deeper than 64";
            char *copy = why ? NULL : cJSON_malloc((size_t)n + 1);
            cJSON *msg = NULL;
            if (copy) {
                memcpy(copy, line, (size_t)n);
                copy[n] = 0;
                msg = cJSON_ParseWithLength(copy, (size_t)n);
                if (!msg)
                    why = "not valid JSON";
            } else if (!why) {
                why = "out of memory";
            }
            if (why) {
                stats->rejected++;
                reject(im, path, lineno, NULL, "", why);
                continue;
            }
            cJSON *reasons = cJSON_CreateArray();
            first_line[w.n] = lineno;
            size_t before = w.suppressed;
            if (!reasons || collect_batch_add(&w, msg, copy, (size_t)n, im->plan, reasons)) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                break;
            }
            if (w.suppressed != before) { /* an erased person's: no record */
                stats->suppressed++;
                continue;
            }
            cJSON_AddItemToArray(results, reasons);
        }
        if (!rc && w.n)
            rc = writer_submit(im->writer, w.recs, w.n, e);
        cJSON *reasons = results ? results->child : NULL;
        for (size_t i = 0; i < w.n && !rc; i++, reasons = reasons ? reasons->next : NULL) {
            const struct record *r = &w.recs[i];
            if (r->outcome == RECORD_DUPLICATE) {
                stats->unchanged++;
            } else if (r->kind == RECORD_EVENT) {
                stats->loaded++;
            } else {
                stats->rejected++;
                cJSON *r0 = cJSON_GetArrayItem(reasons, 0);
                reject(im, path, first_line[i], r->row.quarantine.message_id,
                       cJSON_GetStringValue(cJSON_GetObjectItem(r0, "field")),
                       cJSON_GetStringValue(cJSON_GetObjectItem(r0, "message")));
            }
        }
        collect_batch_release(&w);
        json_arena_end();
        progress_show(im, pg, stats->read, bytes, false);
    }
    stats->bytes += bytes;
    free(line);
    return rc;
}

int importer_file(struct importer *im, const char *path, struct import_stats *stats, struct err *e)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct progress pg = {.start_ns = time_mono_ns(), .name = path};
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0)
        pg.size = (uint64_t)sb.st_size;
    uint64_t before = stats->read;
    int rc = im->m->format == MAPPING_CSV ? import_csv(im, path, f, &pg, stats, e)
                                          : import_jsonl(im, path, f, &pg, stats, e);
    progress_show(im, &pg, stats->read - before, pg.size, true);
    if (f != stdin)
        fclose(f);
    return rc;
}
