/* dsr.c - see dsr.h. */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "identity/resolve.h"
#include "privacy/crypt.h"
#include "privacy/audit.h"
#include "privacy/dsr.h"
#include "privacy/seal.h"

#define DSR_VALUE_MAX 512 /* bytes of a standardized identifier checked; longer ones never link */

/* An open-addressing set of blind indexes (all-zero is the empty slot). */
struct hashset {
    unsigned char (*slot)[CRYPT_INDEX_BYTES];
    size_t cap, n; /* cap a power of two, at most half full */
};

struct suppression {
    pthread_rwlock_t lock;
    unsigned char key[CRYPT_KEY_BYTES];
    struct hashset set;
    _Atomic int64_t count; /* entries: read without the lock by suppression_active */
};

static bool zero(const unsigned char *h)
{
    for (int i = 0; i < CRYPT_INDEX_BYTES; i++)
        if (h[i])
            return false;
    return true;
}

static size_t slot_of(const struct hashset *s, const unsigned char *h)
{
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return (size_t)v & (s->cap - 1);
}

static bool set_has(const struct hashset *s, const unsigned char *h)
{
    if (!s->cap)
        return false;
    for (size_t i = slot_of(s, h);; i = (i + 1) & (s->cap - 1)) {
        if (zero(s->slot[i]))
            return false;
        if (memcmp(s->slot[i], h, CRYPT_INDEX_BYTES) == 0)
            return true;
    }
}

static int set_add(struct hashset *s, const unsigned char *h)
{
    if (zero(h) || set_has(s, h))
        return 0;
    if ((s->n + 1) * 2 > s->cap) {
        struct hashset g = {.cap = s->cap ? s->cap * 2 : 64};
        g.slot = calloc(g.cap, CRYPT_INDEX_BYTES);
        if (!g.slot)
            return ERR_NOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (!zero(s->slot[i]))
                set_add(&g, s->slot[i]);
        free(s->slot);
        *s = g;
    }
    size_t i = slot_of(s, h);
    while (!zero(s->slot[i]))
        i = (i + 1) & (s->cap - 1);
    memcpy(s->slot[i], h, CRYPT_INDEX_BYTES);
    s->n++;
    return 0;
}

static int load_one(const unsigned char hash[32], const char *type, void *ctx)
{
    (void)type;
    return set_add(ctx, hash);
}

static int set_load(struct store *st, struct hashset *out, struct err *e)
{
    struct hashset s = {0};
    int rc = st->ops->suppression_scan(st, load_one, &s, e);
    if (rc) {
        free(s.slot);
        return rc == ERR_NOMEM ? err_set(e, rc, "out of memory") : rc;
    }
    *out = s;
    return 0;
}

int suppression_load(struct store *st, struct suppression **out, struct err *e)
{
    struct suppression *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_NOMEM, "out of memory");
    int rc = crypt_blind_key(st, s->key, e);
    if (!rc)
        rc = set_load(st, &s->set, e);
    if (rc) {
        free(s);
        return rc;
    }
    pthread_rwlock_init(&s->lock, NULL);
    atomic_store(&s->count, (int64_t)s->set.n);
    *out = s;
    return 0;
}

void suppression_free(struct suppression *s)
{
    if (!s)
        return;
    pthread_rwlock_destroy(&s->lock);
    free(s->set.slot);
    sodium_memzero(s->key, sizeof(s->key));
    free(s);
}

int suppression_refresh(struct suppression *s, struct store *st, struct err *e)
{
    int64_t n = 0;
    int rc = st->ops->suppression_count(st, &n, e);
    if (rc || n == atomic_load(&s->count))
        return rc;
    struct hashset fresh;
    if ((rc = set_load(st, &fresh, e)))
        return rc;
    pthread_rwlock_wrlock(&s->lock);
    struct hashset old = s->set;
    s->set = fresh;
    atomic_store(&s->count, (int64_t)fresh.n);
    pthread_rwlock_unlock(&s->lock);
    free(old.slot);
    log_info("privacy: suppression list reloaded: %zu identifiers", fresh.n);
    return 0;
}

bool suppression_active(const struct suppression *s)
{
    return s && atomic_load(&((struct suppression *)s)->count) > 0;
}

bool suppression_has(struct suppression *s, const char *type, const char *value, size_t len)
{
    if (!suppression_active(s))
        return false;
    char std[DSR_VALUE_MAX + 1];
    if (resolve_standardize(type, value, len, std, sizeof(std)))
        return false;
    unsigned char h[CRYPT_INDEX_BYTES];
    crypt_blind_index(s->key, type, std, strlen(std), h);
    pthread_rwlock_rdlock(&s->lock);
    bool found = set_has(&s->set, h);
    pthread_rwlock_unlock(&s->lock);
    return found;
}

/* ---- identifiers of a message (where resolve.c reads them) ---- */

static const char *const trait_ids[] = {"email",         "phone",          "member_card",
                                        "wechat_openid", "wechat_unionid", "id_number"};

static bool take(const cJSON *obj, const char *field, const char *type,
                 bool (*fn)(const char *, const char *, void *), void *ctx)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    return cJSON_IsString(v) && fn(type, v->valuestring, ctx);
}

bool dsr_message_identifiers(const cJSON *msg,
                             bool (*fn)(const char *type, const char *value, void *ctx), void *ctx)
{
    if (!cJSON_IsObject(msg))
        return false;
    if (take(msg, "userId", "user_id", fn, ctx) ||
        take(msg, "anonymousId", "anonymous_id", fn, ctx))
        return true;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "alias") == 0 &&
        take(msg, "previousId", "anonymous_id", fn, ctx))
        return true;
    const cJSON *context = cJSON_GetObjectItemCaseSensitive(msg, "context");
    const cJSON *traits[] = {cJSON_GetObjectItemCaseSensitive(msg, "traits"),
                             cJSON_GetObjectItemCaseSensitive(context, "traits")};
    for (size_t t = 0; t < ARRAY_SIZE(traits); t++)
        for (size_t i = 0; cJSON_IsObject(traits[t]) && i < ARRAY_SIZE(trait_ids); i++)
            if (take(traits[t], trait_ids[i], trait_ids[i], fn, ctx))
                return true;
    return take(cJSON_GetObjectItemCaseSensitive(context, "device"), "id", "device_id", fn, ctx);
}

static bool suppressed_one(const char *type, const char *value, void *ctx)
{
    return suppression_has(ctx, type, value, strlen(value));
}

bool suppression_message(struct suppression *s, const cJSON *msg)
{
    return suppression_active(s) && dsr_message_identifiers(msg, suppressed_one, s);
}

bool suppression_identifiers(struct suppression *s, const char *identifiers_json)
{
    if (!suppression_active(s) || !identifiers_json)
        return false;
    cJSON *ids = cJSON_Parse(identifiers_json);
    bool found = false;
    for (cJSON *it = ids ? ids->child : NULL; it && !found; it = it->next)
        found = cJSON_IsString(it) && suppressed_one(it->string, it->valuestring, s);
    cJSON_Delete(ids);
    return found;
}

/* ---- audit ---- */

void dsr_audit(struct store *st, const char *actor, const char *action, const char *subject,
               const char *detail_json)
{
    /* The audit log's names for the acts it knows; the others keep their own. */
    static const char *const names[][2] = {
        {"privacy.export", AUDIT_EXPORT},
        {"privacy.erase", AUDIT_ERASE},
        {"consent.set", AUDIT_CONSENT_CHANGE},
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(action, names[i][0]) == 0)
            action = names[i][1];
    struct err e = {0};
    if (audit_append(st, actor ? actor : "cli", action, subject ? subject : "-", detail_json, &e))
        log_error("audit: cannot append %s: %s", action, e.msg);
}

/* ---- the person's identifiers, as a suppression set of their own ---- */

struct person {
    struct suppression *target; /* the person's blind indexes */
    struct store *st;
    int64_t *ids; /* rows found to delete */
    size_t n, cap;
    const char *table;
    cJSON *found; /* export: rows found are added here */
    int rc;
};

static int add_identifier(int64_t id, const char *type, const char *value, void *ctx)
{
    struct person *p = ctx;
    unsigned char h[CRYPT_INDEX_BYTES];
    char clear[IDGRAPH_VALUE_MAX + 1];
    struct err e = {0};
    if (crypt_is_token(value)) { /* encryption at rest: the value the person gave */
        if (seal_open_value(type, value, clear, sizeof(clear), "identifier", &e)) {
            log_warn("privacy: identifier %" PRId64 ": %s", id, e.msg);
            return 0;
        }
        value = clear;
    }
    crypt_blind_index(p->target->key, type, value, strlen(value), h);
    if (set_add(&p->target->set, h))
        return ERR_NOMEM;
    p->target->count = (int64_t)p->target->set.n;
    return 0;
}

static int person_load(struct store *st, int64_t live, struct person *p, struct err *e)
{
    memset(p, 0, sizeof(*p));
    p->st = st;
    p->target = calloc(1, sizeof(*p->target));
    if (!p->target)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_rwlock_init(&p->target->lock, NULL);
    int rc = crypt_blind_key(st, p->target->key, e);
    if (!rc)
        rc = st->ops->profile_identifiers(st, live, add_identifier, p, e);
    return rc == ERR_NOMEM ? err_set(e, rc, "out of memory") : rc;
}

static void person_release(struct person *p)
{
    suppression_free(p->target);
    free(p->ids);
}

static int note_id(struct person *p, int64_t id)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        int64_t *v = realloc(p->ids, cap * sizeof(*v));
        if (!v)
            return ERR_NOMEM;
        p->ids = v;
        p->cap = cap;
    }
    p->ids[p->n++] = id;
    return 0;
}

/* Adds a found row to the export: its fields, and raw as JSON when it parses. */
static void found_add(struct person *p, const char *table, int64_t id, int64_t source_id,
                      const char *raw, size_t raw_len)
{
    if (!p->found)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "table", table);
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddNumberToObject(o, "source_id", (double)source_id);
    cJSON *parsed = raw ? cJSON_ParseWithLength(raw, raw_len) : NULL;
    if (parsed)
        cJSON_AddItemToObject(o, "raw", parsed);
    else if (raw) {
        char *copy = strndup(raw, raw_len);
        cJSON_AddStringToObject(o, "raw", copy ? copy : "");
        free(copy);
    }
    cJSON_AddItemToArray(p->found, o);
}

static int on_quarantine(const struct quarantine_row *q, void *ctx)
{
    struct person *p = ctx;
    cJSON *msg = cJSON_ParseWithLength(q->raw, q->raw_len);
    bool hit = msg && suppression_message(p->target, msg);
    cJSON_Delete(msg);
    if (!hit)
        return 0;
    found_add(p, "quarantine", q->id, q->source_id, q->raw, q->raw_len);
    return note_id(p, q->id);
}

static int on_unresolved_event(const struct event_row *ev, void *ctx)
{
    struct person *p = ctx;
    cJSON *msg = cJSON_ParseWithLength(ev->raw, ev->raw_len);
    bool hit = msg && suppression_message(p->target, msg);
    cJSON_Delete(msg);
    if (!hit)
        return 0;
    found_add(p, "events", ev->id, ev->source_id, ev->raw, ev->raw_len);
    return note_id(p, ev->id);
}

static int on_unresolved_record(const struct import_row *r, void *ctx)
{
    struct person *p = ctx;
    if (!suppression_identifiers(p->target, r->identifiers))
        return 0;
    found_add(p, "records", r->id, r->source_id, r->identifiers,
              r->identifiers ? strlen(r->identifiers) : 0);
    return note_id(p, -r->id); /* records are noted negative, events positive */
}

/* Finds quarantined messages (ids in p->ids after the call, then cleared by the
 * caller) or unresolved rows carrying the person's identifiers. */
static int find_quarantine(struct store *st, struct person *p, struct err *e)
{
    p->n = 0;
    struct event_filter f = {0};
    int rc = st->ops->quarantine_scan(st, &f, on_quarantine, p, e);
    return rc == ERR_NOMEM ? err_set(e, rc, "out of memory") : rc;
}

static int find_unresolved(struct store *st, struct person *p, struct err *e)
{
    p->n = 0;
    int rc = st->ops->privacy_unresolved(st, on_unresolved_event, on_unresolved_record, p, e);
    return rc == ERR_NOMEM ? err_set(e, rc, "out of memory") : rc;
}

int dsr_export(struct store *st, int64_t profile_id, const char *actor, cJSON **out, struct err *e)
{
    int64_t live = 0;
    void *json = NULL;
    struct person p;
    int rc = st->ops->profile_family(st, profile_id, &live, NULL, NULL, e);
    if (rc)
        return rc;
    if ((rc = person_load(st, live, &p, e)))
        goto out;
    if ((rc = st->ops->privacy_export(st, live, &json, e)))
        goto out;
    char what[40];
    snprintf(what, sizeof(what), "profile %" PRId64, live);
    if ((rc = seal_open_json(json, what, e))) /* a token left: it did not decrypt */
        goto out;
    cJSON *v = json;
    if (live != profile_id)
        cJSON_AddNumberToObject(v, "redirected_from", (double)profile_id);
    char at[32];
    time_format_iso8601(time_now_ms(), at);
    cJSON_AddStringToObject(v, "exported_at", at);
    p.found = cJSON_AddArrayToObject(v, "quarantine");
    if (!rc)
        rc = find_quarantine(st, &p, e);
    p.found = cJSON_AddArrayToObject(v, "unresolved");
    if (!rc)
        rc = find_unresolved(st, &p, e);
    if (rc) {
        cJSON_Delete(v);
        goto out;
    }
    *out = v;
    char subject[32], detail[128];
    snprintf(subject, sizeof(subject), "profile:%" PRId64, live);
    snprintf(detail, sizeof(detail), "{\"requested\":%" PRId64 ",\"events\":%d,\"records\":%d}",
             profile_id, cJSON_GetArraySize(cJSON_GetObjectItem(v, "events")),
             cJSON_GetArraySize(cJSON_GetObjectItem(v, "records")));
    dsr_audit(st, actor, "privacy.export", subject, detail);
out:
    person_release(&p);
    return rc;
}

/* Identifiers of the person that rows of other people still carry (a family phone,
 * a shared device): they are other people's data too, so they are neither suppressed
 * nor, in those rows, deleted. */
struct shared {
    struct suppression *target;
    struct hashset found;
    int rc;
};

static bool note_shared(const char *type, const char *value, void *ctx)
{
    struct shared *sh = ctx;
    char std[DSR_VALUE_MAX + 1];
    if (resolve_standardize(type, value, strlen(value), std, sizeof(std)))
        return false;
    unsigned char h[CRYPT_INDEX_BYTES];
    crypt_blind_index(sh->target->key, type, std, strlen(std), h);
    if (set_has(&sh->target->set, h) && set_add(&sh->found, h))
        sh->rc = ERR_NOMEM;
    return sh->rc != 0;
}

static int shared_event(const struct event_row *ev, void *ctx)
{
    struct shared *sh = ctx;
    cJSON *msg = cJSON_ParseWithLength(ev->raw, ev->raw_len);
    if (msg)
        dsr_message_identifiers(msg, note_shared, sh);
    cJSON_Delete(msg);
    return sh->rc;
}

static int shared_record(const struct import_row *r, void *ctx)
{
    struct shared *sh = ctx;
    cJSON *ids = r->identifiers ? cJSON_Parse(r->identifiers) : NULL;
    for (cJSON *it = ids ? ids->child : NULL; it && !sh->rc; it = it->next)
        if (cJSON_IsString(it))
            note_shared(it->string, it->valuestring, sh);
    cJSON_Delete(ids);
    return sh->rc;
}

/* Suppresses the person's identifiers that no remaining row carries; *shared counts
 * the others. */
static int suppress_each(struct store *st, struct suppression *target, int64_t now,
                         int64_t *suppressed, int64_t *shared, struct err *e)
{
    struct shared sh = {.target = target};
    struct event_filter f = {0};
    int rc = st->ops->record_scan(st, shared_record, &sh, e);
    if (!rc)
        rc = st->ops->event_scan(st, &f, shared_event, &sh, e);
    if (rc == ERR_NOMEM)
        rc = err_set(e, rc, "out of memory");
    for (size_t i = 0; i < target->set.cap && !rc; i++) {
        const unsigned char *h = target->set.slot[i];
        if (zero(h))
            continue;
        if (set_has(&sh.found, h)) {
            (*shared)++;
            continue;
        }
        rc = st->ops->suppression_add(st, h, "identifier", now, e);
        (*suppressed)++;
    }
    free(sh.found.slot);
    return rc;
}

int dsr_erase(struct store *st, int64_t profile_id, const char *actor, bool vacuum,
              struct dsr_erase_result *r, struct err *e)
{
    memset(r, 0, sizeof(*r));
    uint64_t start = time_mono_ns();
    int64_t live = 0;
    bool in_txn = false, committed = false;
    struct person p = {0};
    int rc = st->ops->profile_family(st, profile_id, &live, NULL, NULL, e);
    if (rc)
        return rc;
    r->profile = live;
    if ((rc = person_load(st, live, &p, e)) || (rc = st->ops->begin(st, e)))
        goto out;
    in_txn = true;
    /* Rows found by their identifiers first: the identifiers are still in place. */
    if ((rc = find_quarantine(st, &p, e)))
        goto out;
    for (size_t i = 0; i < p.n && !rc; i++)
        rc = st->ops->privacy_delete_row(st, "quarantine", p.ids[i], e);
    int64_t quarantined = (int64_t)p.n;
    if (rc || (rc = find_unresolved(st, &p, e)))
        goto out;
    for (size_t i = 0; i < p.n && !rc; i++)
        rc = st->ops->privacy_delete_row(st, p.ids[i] > 0 ? "events" : "records",
                                         p.ids[i] > 0 ? p.ids[i] : -p.ids[i], e);
    r->unresolved = (int64_t)p.n;
    if (rc || (rc = st->ops->privacy_erase(st, live, &r->rows, e)))
        goto out;
    r->rows.quarantine = quarantined;
    if ((rc = suppress_each(st, p.target, time_now_ms(), &r->suppressed, &r->shared, e)))
        goto out;
    if ((rc = st->ops->commit(st, e)))
        goto out;
    in_txn = false;
    committed = true;
    rc = st->ops->privacy_compact(st, vacuum, e);
    r->vacuumed = vacuum && !rc;
out:
    if (in_txn)
        st->ops->rollback(st);
    person_release(&p);
    r->seconds = (double)(time_mono_ns() - start) / 1e9;
    if (committed) {
        char subject[32], detail[256];
        snprintf(subject, sizeof(subject), "profile:%" PRId64, live);
        snprintf(detail, sizeof(detail),
                 "{\"requested\":%" PRId64 ",\"events\":%" PRId64 ",\"records\":%" PRId64
                 ",\"identifiers\":%" PRId64 ",\"quarantine\":%" PRId64 ",\"unresolved\":%" PRId64
                 ",\"suppressed\":%" PRId64 ",\"shared\":%" PRId64 "}",
                 profile_id, r->rows.events, r->rows.records, r->rows.identifiers,
                 r->rows.quarantine, r->unresolved, r->suppressed, r->shared);
        dsr_audit(st, actor, "privacy.erase", subject, detail);
    }
    return rc;
}
