/* consent.c - see consent.h. */
#include <cJSON.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "identity/resolve.h"
#include "privacy/consent.h"
#include "privacy/dsr.h"
#include "store/source_names.h"

static const char *const purpose_names[PURPOSE_COUNT] = {"analytics", "marketing",
                                                         "personalization", "third_party"};

/* Category names as consent tools write them (OneTrust, Segment Consent Manager,
 * TrustArc), folded: lower case without separators. */
static const struct {
    const char *category;
    enum consent_purpose purpose;
} builtin[] = {
    {"analytics", PURPOSE_ANALYTICS},
    {"performance", PURPOSE_ANALYTICS},
    {"statistics", PURPOSE_ANALYTICS},
    {"measurement", PURPOSE_ANALYTICS},
    {"marketing", PURPOSE_MARKETING},
    {"advertising", PURPOSE_MARKETING},
    {"targeting", PURPOSE_MARKETING},
    {"ads", PURPOSE_MARKETING},
    {"personalization", PURPOSE_PERSONALIZATION},
    {"personalisation", PURPOSE_PERSONALIZATION},
    {"functional", PURPOSE_PERSONALIZATION},
    {"preferences", PURPOSE_PERSONALIZATION},
    {"thirdparty", PURPOSE_THIRD_PARTY},
    {"thirdpartysharing", PURPOSE_THIRD_PARTY},
    {"sharing", PURPOSE_THIRD_PARTY},
    {"dataselling", PURPOSE_THIRD_PARTY},
};

const char *consent_purpose_name(enum consent_purpose p)
{
    return (unsigned)p < PURPOSE_COUNT ? purpose_names[p] : "unknown";
}

/* Lower case without '_', '-', '.', ' ' into out (cap bytes); false when too long. */
static bool fold(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '_' || c == '-' || c == '.' || c == ' ')
            continue;
        if (n + 1 >= cap)
            return false;
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[n] = 0;
    return true;
}

int consent_purpose_parse(const char *text, enum consent_purpose *out, struct err *e)
{
    char f[32];
    if (fold(text, strlen(text), f, sizeof(f)))
        for (int p = 0; p < PURPOSE_COUNT; p++) {
            char g[32];
            fold(purpose_names[p], strlen(purpose_names[p]), g, sizeof(g));
            if (strcmp(f, g) == 0) {
                *out = (enum consent_purpose)p;
                return 0;
            }
        }
    return err_set(e, ERR_INVALID,
                   "unknown purpose \"%.40s\": say analytics, marketing, personalization or "
                   "third_party",
                   text);
}

/* Walks the setting's entries: fn(category folded, purpose) for each; stops at the
 * first bad entry with ERR_INVALID. */
static int setting_each(const char *spec, int (*fn)(const char *cat, int purpose, void *ctx),
                        void *ctx, struct err *e)
{
    for (const char *p = spec ? spec : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        char cat[64], purpose[32];
        if (!colon || !fold(p, (size_t)(colon - p), cat, sizeof(cat)) || !cat[0] ||
            (size_t)(p + len - colon - 1) >= sizeof(purpose))
            return err_set(e, ERR_INVALID, "consent-categories: \"%.*s\" is not CATEGORY:PURPOSE",
                           (int)len, p);
        memcpy(purpose, colon + 1, (size_t)(p + len - colon - 1));
        purpose[p + len - colon - 1] = 0;
        enum consent_purpose pp;
        struct err pe = {0};
        if (consent_purpose_parse(purpose, &pp, &pe))
            return err_set(e, ERR_INVALID, "consent-categories: %s", pe.msg);
        int rc = fn(cat, (int)pp, ctx);
        if (rc)
            return rc;
        p += len + (comma != NULL);
    }
    return 0;
}

static int nothing(const char *cat, int purpose, void *ctx)
{
    (void)cat;
    (void)purpose;
    (void)ctx;
    return 0;
}

int consent_check_setting(const char *spec, struct err *e)
{
    return setting_each(spec, nothing, NULL, e);
}

struct lookup {
    const char *cat;
    int purpose;
};

static int match(const char *cat, int purpose, void *ctx)
{
    struct lookup *l = ctx;
    if (strcmp(cat, l->cat) == 0)
        l->purpose = purpose;
    return 0;
}

int consent_category_purpose(const char *category)
{
    char f[64];
    if (!fold(category, strlen(category), f, sizeof(f)))
        return -1;
    struct lookup l = {f, -1};
    setting_each(cfg.consent_categories, match, &l, NULL); /* the last entry wins */
    if (l.purpose >= 0)
        return l.purpose;
    for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
        if (strcmp(builtin[i].category, f) == 0)
            return (int)builtin[i].purpose;
    return -1;
}

int consent_set(struct store *st, int64_t profile_id, enum consent_purpose p, bool granted,
                const char *source, const char *policy_version, const char *evidence,
                const char *actor, struct err *e)
{
    int64_t live = 0;
    int rc = st->ops->profile_family(st, profile_id, &live, NULL, NULL, e);
    if (rc)
        return rc;
    struct consent_row c = {
        .profile_id = live,
        .purpose = consent_purpose_name(p),
        .status = granted ? "granted" : "denied",
        .time = time_now_ms(),
        .source = source ? source : "cli",
        .policy_version = policy_version,
        .evidence = evidence,
    };
    if ((rc = st->ops->consent_put(st, &c, e)))
        return rc;
    char subject[32], detail[96];
    snprintf(subject, sizeof(subject), "profile:%" PRId64, live);
    snprintf(detail, sizeof(detail), "{\"purpose\":\"%s\",\"status\":\"%s\"}", c.purpose, c.status);
    dsr_audit(st, actor, "consent.set", subject, detail);
    return 0;
}

/* ---- consents from stored messages ---- */

/* Decisions read from messages, kept until the write transaction: the scan of the
 * events holds no write lock, so ingestion never waits for it. */
struct sync {
    struct store *st;
    struct source_names *names;
    int64_t last, added;
    struct consent_row *rows; /* strings malloc'd, but type, purpose and status (static) */
    size_t n, cap;
};

static void rows_free(struct sync *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->rows[i].identifier_value);
        free((char *)s->rows[i].source);
        free((char *)s->rows[i].policy_version);
        cJSON_free((char *)s->rows[i].evidence);
    }
    free(s->rows);
}

/* Records the decisions of one preferences object (category -> boolean). */
static int sync_prefs(struct sync *s, const struct event_row *ev, const cJSON *prefs,
                      const char *policy, const char *how)
{
    const char *type = ev->user_id ? "user_id" : "anonymous_id";
    const char *raw = ev->user_id ? ev->user_id : ev->anonymous_id;
    char value[IDGRAPH_VALUE_MAX + 1];
    if (!raw || resolve_standardize(type, raw, strlen(raw), value, sizeof(value)))
        return 0; /* nobody to hold it */
    for (const cJSON *c = prefs ? prefs->child : NULL; c; c = c->next) {
        int p = c->string && cJSON_IsBool(c) ? consent_category_purpose(c->string) : -1;
        if (p < 0)
            continue;
        cJSON *ev_json = cJSON_CreateObject();
        cJSON_AddStringToObject(ev_json, "from", how);
        cJSON_AddNumberToObject(ev_json, "event_id", (double)ev->id);
        cJSON_AddStringToObject(ev_json, "messageId", ev->message_id ? ev->message_id : "");
        cJSON_AddStringToObject(ev_json, "category", c->string);
        cJSON_AddBoolToObject(ev_json, "value", cJSON_IsTrue(c));
        char *evidence = cJSON_PrintUnformatted(ev_json);
        cJSON_Delete(ev_json);
        const char *src = source_names_get(s->names, ev->source_id);
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            struct consent_row *v = realloc(s->rows, cap * sizeof(*v));
            if (!v) {
                cJSON_free(evidence);
                return ERR_NOMEM;
            }
            s->rows = v;
            s->cap = cap;
        }
        struct consent_row row = {
            .identifier_type = type,
            .identifier_value = strdup(value),
            .purpose = consent_purpose_name((enum consent_purpose)p),
            .status = cJSON_IsTrue(c) ? "granted" : "denied",
            .time = ev->timestamp,
            .source = strdup(src ? src : "message"),
            .policy_version = policy ? strdup(policy) : NULL,
            .evidence = evidence,
        };
        s->rows[s->n++] = row;
        if (!row.identifier_value || !row.source || (policy && !row.policy_version) || !evidence)
            return ERR_NOMEM;
    }
    return 0;
}

static const char *policy_of(const cJSON *obj)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "policyVersion");
    return cJSON_IsString(v) && strlen(v->valuestring) < CONSENT_TEXT_MAX ? v->valuestring : NULL;
}

static int sync_event(const struct event_row *ev, void *ctx)
{
    struct sync *s = ctx;
    s->last = ev->id;
    cJSON *msg = cJSON_ParseWithLength(ev->raw, ev->raw_len);
    if (!msg)
        return 0;
    int rc = 0;
    const cJSON *consent = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(msg, "context"), "consent");
    const cJSON *prefs = cJSON_GetObjectItemCaseSensitive(consent, "categoryPreferences");
    if (cJSON_IsObject(prefs))
        rc = sync_prefs(s, ev, prefs, policy_of(consent), "context.consent.categoryPreferences");
    if (!rc && ev->event && strcmp(ev->type, "track") == 0 &&
        (strcmp(ev->event, "Consent Updated") == 0 ||
         strcmp(ev->event, "Segment Consent Preference Updated") == 0)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(msg, "properties");
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(props, "categoryPreferences");
        if (cJSON_IsObject(inner) || cJSON_IsObject(props))
            rc = sync_prefs(s, ev, cJSON_IsObject(inner) ? inner : props,
                            policy_of(props) ? policy_of(props) : policy_of(consent),
                            "track Consent Updated");
    }
    cJSON_Delete(msg);
    return rc;
}

#define CONSENT_CURSOR "consent-sync" /* privacy_state: the last event id read */

int consent_sync(struct store *st, int64_t *added, struct err *e)
{
    struct sync s = {.st = st};
    int64_t from = 0, now_at = 0;
    bool in_txn = false;
    int rc = source_names_load(st, &s.names, e);
    if (!rc)
        rc = st->ops->privacy_state_get(st, CONSENT_CURSOR, &from, e);
    s.last = from;
    if (!rc)
        rc = st->ops->consent_events(st, from, sync_event, &s, e);
    if (rc == ERR_NOMEM)
        rc = err_set(e, rc, "out of memory");
    if (!rc && s.last != from && !(rc = st->ops->begin(st, e))) {
        in_txn = true;
        /* Another process may have synced meanwhile: then it recorded these. */
        rc = st->ops->privacy_state_get(st, CONSENT_CURSOR, &now_at, e);
        if (!rc && now_at == from) {
            for (size_t i = 0; i < s.n && !rc; i++)
                rc = st->ops->consent_put(st, &s.rows[i], e);
            if (!rc)
                rc = st->ops->privacy_state_set(st, CONSENT_CURSOR, s.last, e);
            if (!rc)
                s.added = (int64_t)s.n;
        }
        if (!rc) {
            rc = st->ops->commit(st, e);
            in_txn = false;
        }
    }
    if (in_txn)
        st->ops->rollback(st);
    if (rc)
        s.added = 0;
    rows_free(&s);
    source_names_free(s.names);
    if (!rc && s.added) {
        char detail[64];
        snprintf(detail, sizeof(detail), "{\"decisions\":%" PRId64 "}", s.added);
        dsr_audit(st, "consent-sync", "consent.sync", NULL, detail);
    }
    if (added)
        *added = s.added;
    return rc;
}

/* ---- the decision in force ---- */

struct state {
    int status[PURPOSE_COUNT];
    int64_t time[PURPOSE_COUNT];
};

static int on_consent(const struct consent_row *c, void *ctx)
{
    struct state *s = ctx;
    enum consent_purpose p;
    if (consent_purpose_parse(c->purpose, &p, NULL))
        return 0;
    /* Oldest first: a later decision replaces an earlier one (equal times: the later
     * row). */
    if (s->status[p] < 0 || c->time >= s->time[p]) {
        s->status[p] = strcmp(c->status, "granted") == 0;
        s->time[p] = c->time;
    }
    return 0;
}

int consent_state(struct store *st, int64_t profile_id, int status[PURPOSE_COUNT],
                  int64_t time[PURPOSE_COUNT], struct err *e)
{
    struct state s;
    for (int p = 0; p < PURPOSE_COUNT; p++) {
        s.status[p] = -1;
        s.time[p] = INT64_MIN;
    }
    int64_t live = 0;
    int rc = st->ops->profile_family(st, profile_id, &live, NULL, NULL, e);
    if (!rc)
        rc = st->ops->consent_scan(st, live, on_consent, &s, e);
    if (rc)
        return rc;
    memcpy(status, s.status, sizeof(s.status));
    if (time)
        memcpy(time, s.time, sizeof(s.time));
    return 0;
}

int consent_allows(struct store *st, int64_t profile_id, enum consent_purpose purpose)
{
    int status[PURPOSE_COUNT];
    struct err e = {0};
    int rc = consent_state(st, profile_id, status, NULL, &e);
    if (rc) {
        log_warn("consent: profile %" PRId64 ": %s", profile_id, e.msg);
        return rc;
    }
    if (status[purpose] >= 0)
        return status[purpose];
    return strcmp(cfg.consent_default, "granted") == 0;
}
