/* import.c - see import.h. */
#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/text.h"
#include "core/textbuf.h"
#include "core/timeutil.h"
#include "import/import.h"
#include "ingest/collect.h"
#include "ingest/sources.h"
#include "privacy/dsr.h"
#include "privacy/seal.h"

#define IMPORT_PROGRESS_MS 250             /* between progress lines */
#define IMPORT_JSONL_CHUNK 10000           /* messages per writer submission: one commit each */
#define IMPORT_LINE_MAX    (32 * 1024 + 2) /* a JSON Lines message (MESSAGE_MAX_BYTES) */
#define IMPORT_KEY_MAX     1024            /* bytes of a record key */
#define SEQ_CHUNK_BITS     16
#define SEQ_CHUNKS         65536 /* 2^32 rows an importer */

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

/* A key map of a million keys is 64 MiB probed at random: on 4 KiB pages nearly every
 * probe misses the TLB and the first touch of each page faults, so large maps are
 * mapped directly and asked for transparent huge pages. Zeroed either way. */
#define KEY_MAP_MMAP_BYTES (4u << 20)

static struct key_entry *key_alloc(size_t cap)
{
    size_t bytes = cap * sizeof(struct key_entry);
    if (bytes < KEY_MAP_MMAP_BYTES)
        return calloc(cap, sizeof(struct key_entry));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: fine if THP is off */
    return p;
}

static void key_map_free(struct key_map *m)
{
    if (m->v && m->cap * sizeof(struct key_entry) >= KEY_MAP_MMAP_BYTES)
        munmap(m->v, m->cap * sizeof(struct key_entry));
    else
        free(m->v);
    m->v = NULL;
    m->cap = m->n = 0;
}

static int key_grow(struct key_map *m)
{
    struct key_map g = {key_alloc(m->cap * 2), m->cap * 2, m->n};
    if (!g.v)
        return ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (key_empty(&m->v[i]))
            continue;
        bool found;
        *key_find(&g, m->v[i].key, &found) = m->v[i];
    }
    key_map_free(m);
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
    uint64_t next_seq;            /* rows of this importer sent to the store */
    int64_t *seq_ids[SEQ_CHUNKS]; /* seq -> record id, chunks of 2^16 */
    void (*on_commit)(void *arg); /* importer_on_commit */
    void *on_commit_arg;
    struct suppression *supp; /* erased people: their rows are skipped */
};

void importer_on_commit(struct importer *im, void (*fn)(void *arg), void *arg)
{
    im->on_commit = fn;
    im->on_commit_arg = arg;
}

static void committed(struct importer *im)
{
    if (im->on_commit)
        im->on_commit(im->on_commit_arg);
}

static int load_key(const char *key, size_t len, int64_t id, uint64_t hash, void *ctx)
{
    return key_put(ctx, key_of(key, len), id, hash);
}

static int key_map_init(struct key_map *m, size_t hint)
{
    size_t cap = 1024;
    while (cap < hint * 2)
        cap <<= 1;
    key_map_free(m);
    m->v = key_alloc(cap);
    m->cap = m->v ? cap : 0;
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
    if (im->agg_index.v && im->agg_index.n)
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
    struct store_options opt = {.synchronous_full = true, .background_checkpoint = true};
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
    key_map_free(&im->keys);
    aggs_clear(im);
    free(im->aggs);
    key_map_free(&im->agg_index);
    key_map_free(&im->existing_orders);
    for (size_t i = 0; i < SEQ_CHUNKS && im->seq_ids[i]; i++)
        free(im->seq_ids[i]);
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

/* ---- The pipeline of a CSV import ----
 *
 * The calling thread reads, maps and checks rows (the reader); a store thread writes
 * them (the writer side: records, order lines, orders, commits). Rows travel in batches
 * of IMPORT_BATCH_ROWS through a ring of IMPORT_BATCHES, their text copied into the
 * batch. Record ids are given by the store, so the reader's key map holds, for a row
 * of this import, -(its sequence number); the store thread writes each row's id into
 * seq_ids, and a reader that must replace such a row waits until it is stored. Orders
 * are summed and written by the store thread. */
#define IMPORT_BATCH_ROWS 2048
#define IMPORT_BATCHES    4
#define NO_TEXT           UINT32_MAX

struct prow {
    uint64_t seq;
    int64_t replace_id;
    int64_t line, time, imported_at;
    uint64_t hash;
    uint32_t key, ids, traits, fields; /* offsets into the batch text, or NO_TEXT */
    uint32_t order_id, currency, status, channel, store, sku, name, category;
    int64_t order_amount, unit_price, line_amount;
    double quantity;
};

struct batch {
    struct prow *rows;
    size_t n;
    struct textbuf text;
    bool end; /* the file's last batch: flush and commit after it */
};

struct pipe {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t to_store, to_reader;
    struct batch b[IMPORT_BATCHES];
    uint64_t sent, taken, done; /* batches handed over, picked up, and stored */
    uint64_t stored_seq;        /* rows with seq < stored_seq have their id */
    bool stop;
    int rc;
    struct err e;
    struct importer *im;
    const char *file;
};

static const char *bt(const struct batch *b, uint32_t off)
{
    return off == NO_TEXT ? NULL : b->text.p + off;
}

static uint32_t bt_put(struct batch *b, const char *v)
{
    if (!v)
        return NO_TEXT;
    size_t off = b->text.len;
    textbuf_put(&b->text, v, strlen(v) + 1);
    return off > UINT32_MAX - 1 ? NO_TEXT : (uint32_t)off;
}

/* bt_put of a JSON object with encrypted fields' values as tokens (privacy/seal.h). */
static uint32_t bt_put_sealed(struct batch *b, const char *json)
{
    struct textbuf o = {0};
    if (!json || !seal_object(json, strlen(json), &o))
        return bt_put(b, json);
    if (o.failed)
        b->text.failed = true; /* never the clear value instead */
    uint32_t off = bt_put(b, o.failed ? "{}" : o.p);
    textbuf_release(&o);
    return off;
}

static int seq_id_set(struct importer *im, uint64_t seq, int64_t id)
{
    size_t c = (size_t)(seq >> SEQ_CHUNK_BITS);
    if (c >= SEQ_CHUNKS)
        return ERR_LIMIT;
    if (!im->seq_ids[c] && !(im->seq_ids[c] = malloc(sizeof(int64_t) << SEQ_CHUNK_BITS)))
        return ERR_NOMEM;
    im->seq_ids[c][seq & ((1u << SEQ_CHUNK_BITS) - 1)] = id;
    return 0;
}

static int64_t seq_id_get(const struct importer *im, uint64_t seq)
{
    return im->seq_ids[seq >> SEQ_CHUNK_BITS][seq & ((1u << SEQ_CHUNK_BITS) - 1)];
}

/* Store thread: one row. */
static int store_row(struct importer *im, const char *file, const struct batch *b,
                     const struct prow *pr, struct err *e)
{
    struct store *st = im->st;
    struct import_row r = {
        .id = pr->replace_id,
        .source_id = im->source_id,
        .kind = mapping_kind_name(im->m->kind),
        .record_key = bt(b, pr->key),
        .file = file,
        .line = pr->line,
        .hash = pr->hash,
        .time = pr->time,
        .identifiers = bt(b, pr->ids),
        .traits = bt(b, pr->traits),
        .fields = bt(b, pr->fields),
        .imported_at = pr->imported_at,
    };
    int rc = st->ops->record_put(st, &r, e);
    if (!rc && (rc = seq_id_set(im, pr->seq, r.id)))
        err_set(e, rc, "out of memory");
    if (rc)
        return rc;
    const char *order_id = bt(b, pr->order_id);
    if (im->m->kind == KIND_ORDER) {
        struct order_row o = {im->source_id,     r.id,
                              order_id,          pr->time,
                              pr->order_amount,  bt(b, pr->currency),
                              bt(b, pr->status), bt(b, pr->channel),
                              bt(b, pr->store)};
        rc = st->ops->order_put(st, &o, e);
    } else if (im->m->kind == KIND_ORDER_LINE) {
        struct order_line_row l = {
            .record_id = r.id,
            .source_id = im->source_id,
            .order_id = order_id,
            .time = pr->time,
            .sku = bt(b, pr->sku),
            .name = bt(b, pr->name),
            .category = bt(b, pr->category),
            .quantity = pr->quantity,
            .unit_price_minor = pr->unit_price,
            .amount_minor = pr->line_amount,
            .currency = bt(b, pr->currency),
            .status = bt(b, pr->status),
            .channel = bt(b, pr->channel),
            .store = bt(b, pr->store),
        };
        bool replace = pr->replace_id != 0;
        if (replace && !im->slow_orders) {
            /* A corrected line may move between orders: from here on the store rebuilds
             * every touched order from its lines. */
            if ((rc = aggs_flush(im, e)))
                return rc;
            im->slow_orders = true;
        }
        struct hash128 ok = key_of(order_id, strlen(order_id));
        bool existed;
        key_find(&im->existing_orders, ok, &existed);
        bool touch = im->slow_orders || existed;
        rc = st->ops->order_line_put(st, &l, replace, touch, e);
        if (!rc && !touch && agg_add(im, ok, &l))
            rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    return rc;
}

/* Store thread: flushes the order sums and commits the open transaction. */
static int store_commit(struct importer *im, struct err *e)
{
    struct store *st = im->st;
    int rc = 0;
    if (im->m->kind == KIND_ORDER_LINE &&
        ((rc = aggs_flush(im, e)) || (rc = st->ops->orders_aggregate(st, e))))
        return rc;
    if ((rc = st->ops->commit(st, e)))
        return rc;
    committed(im); /* on this thread: what it does must not touch the reader's state */
    return 0;
}

static void *store_thread(void *arg)
{
    struct pipe *p = arg;
    struct importer *im = p->im;
    bool in_txn = false;
    uint64_t since_commit = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->taken == p->sent && !p->stop)
            pthread_cond_wait(&p->to_store, &p->lock);
        if (p->taken == p->sent)
            break; /* stopped, and nothing left */
        struct batch *b = &p->b[p->taken % IMPORT_BATCHES];
        p->taken++;
        int failed = p->rc;
        pthread_mutex_unlock(&p->lock);
        int rc = 0;
        uint64_t last_seq = 0;
        struct err *e = &p->e;
        for (size_t i = 0; !failed && !rc && i < b->n; i++) {
            if (!in_txn) {
                if ((rc = im->st->ops->begin(im->st, e)))
                    break;
                in_txn = true;
            }
            rc = store_row(im, p->file, b, &b->rows[i], e);
            last_seq = b->rows[i].seq + 1;
            if (!rc && ++since_commit >= IMPORT_COMMIT_ROWS) {
                rc = store_commit(im, e);
                in_txn = !!rc;
                since_commit = 0;
            }
        }
        if (!failed && !rc && b->end && in_txn) {
            rc = store_commit(im, e);
            in_txn = !!rc;
        }
        if (rc && in_txn) {
            im->st->ops->rollback(im->st);
            in_txn = false;
        }
        pthread_mutex_lock(&p->lock);
        if (rc && !p->rc)
            p->rc = rc;
        if (b->n && !rc && !failed)
            p->stored_seq = last_seq;
        p->done++;
        pthread_cond_broadcast(&p->to_reader);
    }
    pthread_mutex_unlock(&p->lock);
    if (in_txn)
        im->st->ops->rollback(im->st);
    return NULL;
}

static int pipe_start(struct pipe *p, struct importer *im, const char *file, struct err *e)
{
    memset(p, 0, sizeof(*p));
    p->im = im;
    p->file = file;
    for (size_t i = 0; i < IMPORT_BATCHES; i++)
        if (!(p->b[i].rows = malloc(IMPORT_BATCH_ROWS * sizeof(struct prow)))) {
            for (size_t j = 0; j < i; j++)
                free(p->b[j].rows);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->to_store, NULL);
    pthread_cond_init(&p->to_reader, NULL);
    if (pthread_create(&p->thread, NULL, store_thread, p) != 0) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->to_store);
        pthread_cond_destroy(&p->to_reader);
        for (size_t i = 0; i < IMPORT_BATCHES; i++)
            free(p->b[i].rows);
        return err_set(e, ERR_NOMEM, "cannot start the import's store thread");
    }
    return 0;
}

/* The batch the reader fills, waiting for one to come back if all are out. NULL when
 * the store side has failed. */
static struct batch *pipe_fill(struct pipe *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->sent - p->done >= IMPORT_BATCHES && !p->rc)
        pthread_cond_wait(&p->to_reader, &p->lock);
    int rc = p->rc;
    pthread_mutex_unlock(&p->lock);
    return rc ? NULL : &p->b[p->sent % IMPORT_BATCHES];
}

/* Hands the filled batch to the store thread; 0 or the store's error. */
static int pipe_send(struct pipe *p, bool end)
{
    pthread_mutex_lock(&p->lock);
    p->b[p->sent % IMPORT_BATCHES].end = end;
    p->sent++;
    pthread_cond_signal(&p->to_store);
    int rc = p->rc;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Waits until every batch sent is stored; 0 or the store's error. */
static int pipe_drain(struct pipe *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->done < p->sent)
        pthread_cond_wait(&p->to_reader, &p->lock);
    int rc = p->rc;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Stops the store thread (after what was sent) and frees the pipe; the store's error
 * (with its message in e) or 0. */
static int pipe_stop(struct pipe *p, struct err *e)
{
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->to_store);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    int rc = p->rc;
    if (rc)
        *e = p->e;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->to_store);
    pthread_cond_destroy(&p->to_reader);
    for (size_t i = 0; i < IMPORT_BATCHES; i++) {
        free(p->b[i].rows);
        textbuf_release(&p->b[i].text);
    }
    return rc;
}

/* Reader side: copies a mapped row into the batch being filled. */
static void batch_add(struct batch *bt_, const struct prow *pr, struct importer *im,
                      const char *key, const struct mapped *mp)
{
    struct prow *r = &bt_->rows[bt_->n++];
    *r = *pr;
    r->key = bt_put(bt_, key);
    r->ids = bt_put_sealed(bt_, jb_close(&im->ids));
    r->traits = bt_put_sealed(bt_, jb_close(&im->traits));
    r->fields = bt_put_sealed(bt_, jb_close(&im->fields));
    r->order_id = bt_put(bt_, mp->order_id);
    r->currency = bt_put(bt_, mp->currency);
    r->status = bt_put(bt_, mp->status);
    r->channel = bt_put(bt_, mp->channel);
    r->store = bt_put(bt_, mp->store);
    r->sku = bt_put(bt_, mp->sku);
    r->name = bt_put(bt_, mp->name);
    r->category = bt_put(bt_, mp->category);
    r->time = mp->time;
    r->order_amount = mp->order_amount;
    r->unit_price = mp->unit_price;
    r->line_amount = mp->line_amount;
    r->quantity = mp->quantity;
}

static struct batch *batch_next(struct pipe *p)
{
    struct batch *b = pipe_fill(p);
    if (b) {
        b->n = 0;
        textbuf_clear(&b->text);
        b->end = false;
    }
    return b;
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
    struct pipe pipe;
    bool piped = false;
    struct batch *cur = NULL;
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
        key_map_free(&im->keys);
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
    if ((rc = pipe_start(&pipe, im, path, e)))
        goto out;
    piped = true;
    if (!(cur = batch_next(&pipe)))
        goto out;
    while ((rc = csv_next(r, &row, e)) == 1) {
        stats->read++;
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
        int64_t replace_id = found ? en->id : 0;
        if (replace_id < 0) {
            /* A correction of a row of this very import: its id comes from the store. */
            uint64_t seq = (uint64_t)(-replace_id - 1);
            bool stored;
            pthread_mutex_lock(&pipe.lock);
            stored = pipe.stored_seq > seq;
            pthread_mutex_unlock(&pipe.lock);
            if (!stored) {
                if ((cur->n && (rc = pipe_send(&pipe, false))) || (rc = pipe_drain(&pipe)) ||
                    !(cur = batch_next(&pipe)))
                    goto out;
            }
            replace_id = seq_id_get(im, seq);
        }
        struct prow pr = {
            .seq = im->next_seq,
            .replace_id = replace_id,
            .line = (int64_t)row.line,
            .imported_at = time_now_ms(),
            .hash = hash,
        };
        batch_add(cur, &pr, im, key, &mp);
        if (cur->text.failed) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((rc = key_put(&im->keys, k, replace_id ? replace_id : -(int64_t)im->next_seq - 1,
                          hash))) {
            err_set(e, rc, "out of memory");
            goto out;
        }
        im->next_seq++;
        if (found)
            stats->replaced++;
        else
            stats->loaded++;
        if (cur->n == IMPORT_BATCH_ROWS) {
            if ((rc = pipe_send(&pipe, false)) || !(cur = batch_next(&pipe)))
                goto out;
        }
        progress_show(im, pg, stats->read, csv_bytes_read(r), false);
    }
    if (rc < 0)
        goto out;
    rc = pipe_send(&pipe, true);
    cur = NULL;
    if (!rc)
        stats->bytes += csv_bytes_read(r);
out:
    /* Without the last batch's "end" the store thread rolls its open transaction back:
     * earlier commits stay, and importing the file again finishes the job. */
    if (piped) {
        struct err pe = {0};
        int prc = pipe_stop(&pipe, &pe);
        if (prc && rc >= 0) {
            rc = prc;
            *e = pe;
        }
    }
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
        bool sent = w.n > 0;
        collect_batch_release(&w);
        json_arena_end();
        if (!rc && sent)
            committed(im);
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
