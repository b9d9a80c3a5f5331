/* audit.c - the hash-chained audit log. See audit.h.
 *
 * Appending: in one IMMEDIATE transaction (the write lock), read the newest entry,
 * hash the new one over its content and the newest's hash, insert it with seq + 1,
 * commit; then record seq and hash in the head file next to the database (under an
 * flock, only ever moving forward, so two processes appending at once leave the
 * higher one). The head is written after the commit: a crash in between leaves the
 * head behind the table, which verify accepts (it reports the entries after the
 * head); it is never ahead, so an entry missing at the end is a removal. */
#include <cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "privacy/audit.h"

#define AUDIT_TEXT_MAX   4096 /* actor, action, subject: at most this many bytes */
#define AUDIT_DETAIL_MAX 65536

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    crypto_generichash_update(h, b, 8);
}

static void put_text(crypto_generichash_state *h, const char *s)
{
    unsigned char present = s != NULL;
    crypto_generichash_update(h, &present, 1);
    size_t n = s ? strlen(s) : 0;
    put_u64(h, n);
    if (n)
        crypto_generichash_update(h, (const unsigned char *)s, n);
}

void audit_hash(const struct audit_row *r, const unsigned char prev_hash[32], unsigned char out[32])
{
    static const char tag[] = "custos audit v1";
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, (const unsigned char *)tag, sizeof(tag));
    put_u64(&h, (uint64_t)r->seq);
    put_u64(&h, (uint64_t)r->time);
    put_text(&h, r->actor);
    put_text(&h, r->action);
    put_text(&h, r->subject);
    put_text(&h, r->detail);
    crypto_generichash_update(&h, prev_hash, 32);
    crypto_generichash_final(&h, out, 32);
}

int audit_head_path(struct store *st, char *out, size_t cap, struct err *e)
{
    const char *db = st->ops->location(st);
    if (!db[0])
        return err_set(e, ERR_INVALID, "the audit log needs a database file");
    int n = snprintf(out, cap, "%s.audit-head", db);
    if (n < 0 || (size_t)n >= cap)
        return err_set(e, ERR_LIMIT, "the database path is too long");
    return 0;
}

struct last {
    bool found;
    int64_t seq;
    unsigned char hash[32];
    bool bad;
};

static int last_one(const struct audit_row *r, void *arg)
{
    struct last *l = arg;
    l->found = true;
    l->seq = r->seq;
    if (r->hash_len != 32) {
        l->bad = true;
        return 0;
    }
    memcpy(l->hash, r->hash, 32);
    return 0;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* Reads the head file: 0 and seq/hash; ERR_NOTFOUND when there is none; ERR_INVALID
 * when it does not parse. */
static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int head_parse(const char *text, int64_t *seq, unsigned char hash[32])
{
    char *end;
    errno = 0;
    long long s = strtoll(text, &end, 10);
    if (errno || end == text || s <= 0 || *end != ' ')
        return ERR_INVALID;
    const char *hx = end + 1;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hx[2 * i]), lo = hi < 0 ? -1 : hex_digit(hx[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ERR_INVALID;
        hash[i] = (unsigned char)(hi * 16 + lo);
    }
    if (hx[64] != '\n' && hx[64] != 0)
        return ERR_INVALID;
    *seq = (int64_t)s;
    return 0;
}

static int head_read(const char *path, int64_t *seq, unsigned char hash[32], struct err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? ERR_NOTFOUND
                               : err_set(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
    char text[160] = {0};
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    if (head_parse(text, seq, hash))
        return err_set(e, ERR_INVALID, "the audit head file %s does not parse", path);
    return 0;
}

/* Moves the head forward to seq/hash (never back). */
static int head_write(struct store *st, int64_t seq, const unsigned char hash[32], struct err *e)
{
    char path[4200];
    int rc = audit_head_path(st, path, sizeof(path), e);
    if (rc)
        return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX)) {
        rc = err_set(e, ERR_IO, "cannot lock %s: %s", path, strerror(errno));
        goto out;
    }
    char text[160] = {0};
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    int64_t old = 0;
    unsigned char oh[32];
    if (n > 0 && head_parse(text, &old, oh) == 0 && old >= seq)
        goto out;
    char hx[65];
    hex(hash, 32, hx);
    int len = snprintf(text, sizeof(text), "%" PRId64 " %s\n", seq, hx);
    if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len))
        rc = err_set(e, ERR_IO, "cannot write %s: %s", path, strerror(errno));
out:
    close(fd);
    return rc;
}

/* Refuses what no entry may hold: ERR_INVALID naming the field. */
static int entry_check(const char *actor, const char *action, const char *subject,
                       const char *detail_json, struct err *e)
{
    if (!actor || !actor[0] || strlen(actor) > AUDIT_TEXT_MAX)
        return err_set(e, ERR_INVALID, "an audit entry needs an actor (at most %d bytes)",
                       AUDIT_TEXT_MAX);
    if (!action || !action[0] || strlen(action) > AUDIT_TEXT_MAX)
        return err_set(e, ERR_INVALID, "an audit entry needs an action (at most %d bytes)",
                       AUDIT_TEXT_MAX);
    if (subject && strlen(subject) > AUDIT_TEXT_MAX)
        return err_set(e, ERR_INVALID, "an audit subject has at most %d bytes", AUDIT_TEXT_MAX);
    if (detail_json) {
        if (strlen(detail_json) > AUDIT_DETAIL_MAX)
            return err_set(e, ERR_INVALID, "an audit detail has at most %d bytes",
                           AUDIT_DETAIL_MAX);
        cJSON *d = cJSON_Parse(detail_json);
        bool ok = cJSON_IsObject(d);
        cJSON_Delete(d);
        if (!ok)
            return err_set(e, ERR_INVALID, "an audit detail must be a JSON object");
    }
    return 0;
}

int audit_append(struct store *st, const char *actor, const char *action, const char *subject,
                 const char *detail_json, struct err *e)
{
    if (entry_check(actor, action, subject, detail_json, e))
        return ERR_INVALID;
    bool own = !st->ops->in_transaction(st);
    int rc = own ? st->ops->begin(st, e) : 0;
    if (rc)
        return rc;
    struct last l = {0};
    rc = st->ops->audit_last(st, last_one, &l, e);
    if (!rc && l.bad)
        rc = err_set(e, ERR_STORE,
                     "the newest audit entry (%" PRId64 ") has a bad hash: run "
                     "custos audit verify",
                     l.seq);
    unsigned char hash[32];
    struct audit_row r = {
        .seq = l.found ? l.seq + 1 : 1,
        .time = time_now_ms(),
        .actor = actor,
        .action = action,
        .subject = subject,
        .detail = detail_json,
        .prev_hash = l.hash,
        .prev_hash_len = 32,
        .hash = hash,
        .hash_len = 32,
    };
    if (!rc) {
        audit_hash(&r, l.hash, hash);
        rc = st->ops->audit_insert(st, &r, e);
    }
    if (own) {
        if (!rc)
            rc = st->ops->commit(st, e);
        if (rc)
            st->ops->rollback(st);
    }
    /* Joined transactions leave the head to the next append of their own. */
    if (!rc && own)
        rc = head_write(st, r.seq, hash, e);
    return rc;
}

/* ---- group commit ---- */

struct audit_pending { /* one waiting append, on its thread's stack */
    const char *actor, *action, *subject, *detail;
    struct audit_pending *next;
    bool done;
    int rc;
    struct err err;
};

struct audit_group {
    struct store *st;
    pthread_mutex_t lock;
    pthread_cond_t committed;
    struct audit_pending *head, **tail; /* queued for the next commit */
    bool committing;
};

int audit_group_new(struct store *st, struct audit_group **out, struct err *e)
{
    struct audit_group *g = calloc(1, sizeof(*g));
    if (!g)
        return err_set(e, ERR_NOMEM, "out of memory");
    g->st = st;
    g->tail = &g->head;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->committed, NULL);
    *out = g;
    return 0;
}

void audit_group_free(struct audit_group *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->committed);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* Commits batch in one transaction and moves the head once. Every entry of it gets
 * the result: a batch is kept or dropped whole. */
static void commit_batch(struct store *st, struct audit_pending *batch)
{
    struct err e = {0};
    int rc = st->ops->begin(st, &e);
    for (struct audit_pending *p = batch; p && !rc; p = p->next)
        rc = audit_append(st, p->actor, p->action, p->subject, p->detail, &e);
    if (!rc)
        rc = st->ops->commit(st, &e);
    if (rc)
        st->ops->rollback(st);
    else
        rc = audit_head_sync(st, &e);
    for (struct audit_pending *p = batch; p; p = p->next) {
        p->rc = rc;
        p->err = e;
    }
}

int audit_group_append(struct audit_group *g, const char *actor, const char *action,
                       const char *subject, const char *detail_json, struct err *e)
{
    if (entry_check(actor, action, subject, detail_json, e))
        return ERR_INVALID;
    struct audit_pending me = {actor, action, subject, detail_json, NULL, false, 0, {0}};
    pthread_mutex_lock(&g->lock);
    *g->tail = &me;
    g->tail = &me.next;
    while (!me.done) {
        if (g->committing) {
            pthread_cond_wait(&g->committed, &g->lock);
            continue;
        }
        /* No commit under way: this thread commits all that is queued, its own with it. */
        struct audit_pending *batch = g->head;
        g->head = NULL;
        g->tail = &g->head;
        g->committing = true;
        pthread_mutex_unlock(&g->lock);
        commit_batch(g->st, batch);
        pthread_mutex_lock(&g->lock);
        for (struct audit_pending *p = batch, *next; p; p = next) {
            next = p->next;
            p->done = true;
        }
        g->committing = false;
        pthread_cond_broadcast(&g->committed);
    }
    pthread_mutex_unlock(&g->lock);
    if (me.rc && e)
        *e = me.err;
    return me.rc;
}

int audit_head_sync(struct store *st, struct err *e)
{
    struct last l = {0};
    int rc = st->ops->audit_last(st, last_one, &l, e);
    if (rc || !l.found || l.bad)
        return rc;
    return head_write(st, l.seq, l.hash, e);
}

struct verify {
    struct audit_report *r;
    unsigned char prev[32];
    int64_t head_seq;
    unsigned char head_hash[32];
    bool head_seen, head_matches;
};

static int bad(struct verify *v, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct verify *v, int64_t seq, const char *fmt, ...)
{
    v->r->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r->reason, sizeof(v->r->reason), fmt, ap);
    va_end(ap);
    return 1; /* stop the scan */
}

static int verify_one(const struct audit_row *row, void *arg)
{
    struct verify *v = arg;
    int64_t want = v->r->last_seq + 1;
    if (row->seq != want)
        return bad(v, want,
                   "entry %" PRId64 " is missing: the log goes from %" PRId64 " to %" PRId64
                   " (removed, or renumbered)",
                   want, v->r->last_seq, row->seq);
    if (row->prev_hash_len != 32 || sodium_memcmp(row->prev_hash, v->prev, 32) != 0)
        return bad(v, row->seq,
                   "entry %" PRId64 " does not follow entry %" PRId64
                   ": its prev_hash is not that entry's hash (an entry was edited, inserted "
                   "or removed there)",
                   row->seq, v->r->last_seq);
    unsigned char h[32];
    audit_hash(row, v->prev, h);
    if (row->hash_len != 32 || sodium_memcmp(row->hash, h, 32) != 0)
        return bad(v, row->seq, "entry %" PRId64 " was edited: its hash does not match its content",
                   row->seq);
    memcpy(v->prev, h, 32);
    hex(h, 32, v->r->last_hash);
    v->r->entries++;
    v->r->last_seq = row->seq;
    if (v->head_seq && row->seq == v->head_seq) {
        v->head_seen = true;
        v->head_matches = sodium_memcmp(h, v->head_hash, 32) == 0;
    }
    if (v->head_seq && row->seq > v->head_seq)
        v->r->after_head++;
    return 0;
}

int audit_verify(struct store *st, struct audit_report *r, struct err *e)
{
    memset(r, 0, sizeof(*r));
    struct verify v = {.r = r};
    char path[4200];
    int rc = audit_head_path(st, path, sizeof(path), e);
    if (rc)
        return rc;
    rc = head_read(path, &v.head_seq, v.head_hash, e);
    if (rc == ERR_INVALID)
        snprintf(r->reason, sizeof(r->reason),
                 "the head file %.150s was altered: it does not "
                 "parse as SEQ HASH",
                 path);
    if (rc && rc != ERR_NOTFOUND)
        return rc;
    if (rc == ERR_NOTFOUND)
        v.head_seq = 0;
    r->head_seq = v.head_seq;
    rc = st->ops->audit_scan(st, INT64_MIN, 0, verify_one, &v, e);
    if (rc == 1 || r->bad_seq)
        return err_set(e, ERR_INVALID, "%s", r->reason);
    if (rc)
        return rc;
    if (v.head_seq == 0 && r->entries > 0) {
        r->bad_seq = r->last_seq + 1;
        snprintf(r->reason, sizeof(r->reason),
                 "the head file %.150s is missing: entries at the end may have been removed", path);
    } else if (v.head_seq > r->last_seq) {
        r->bad_seq = r->last_seq + 1;
        snprintf(r->reason, sizeof(r->reason),
                 "entries %" PRId64 " to %" PRId64 " were removed from the end (the head file "
                 "records %" PRId64 ")",
                 r->last_seq + 1, v.head_seq, v.head_seq);
    } else if (v.head_seq && !v.head_matches) {
        r->bad_seq = v.head_seq;
        snprintf(r->reason, sizeof(r->reason),
                 "entry %" PRId64 " is not the one the head file records: the log was "
                 "rewritten from there on",
                 v.head_seq);
    }
    if (r->bad_seq)
        return err_set(e, ERR_INVALID, "%s", r->reason);
    return 0;
}
