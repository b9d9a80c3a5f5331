/* retention.c - see retention.h. */
#include <pthread.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "privacy/consent.h"
#include "privacy/dsr.h"
#include "privacy/retention.h"

static const char *const categories[RETENTION_CATEGORIES] = {"events", "quarantine", "records",
                                                             "consents"};

int retention_parse(const char *spec, struct retention_rule out[RETENTION_CATEGORIES], size_t *n,
                    struct err *e)
{
    *n = 0;
    for (const char *p = spec ? spec : ""; *p;) {
        while (*p == ' ')
            p++;
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        const char *cat = NULL;
        for (size_t i = 0; colon && i < RETENTION_CATEGORIES; i++)
            if (strlen(categories[i]) == (size_t)(colon - p) &&
                memcmp(categories[i], p, (size_t)(colon - p)) == 0)
                cat = categories[i];
        if (!cat)
            return err_set(e, ERR_INVALID,
                           "retention: \"%.*s\" is not CATEGORY:AGE with CATEGORY events, "
                           "quarantine, records or consents",
                           (int)len, p);
        char num[24];
        size_t nl = (size_t)(p + len - colon - 1);
        while (nl && colon[nl] == ' ')
            nl--;
        if (nl < 2 || nl >= sizeof(num))
            return err_set(e, ERR_INVALID, "retention: \"%.*s\": give an age such as 365d",
                           (int)len, p);
        memcpy(num, colon + 1, nl - 1);
        num[nl - 1] = 0;
        char unit = colon[nl];
        int64_t scale = unit == 'd'   ? 86400000
                        : unit == 'h' ? 3600000
                        : unit == 'm' ? 60000
                        : unit == 's' ? 1000
                                      : 0;
        char *end;
        errno = 0;
        long long v = strtoll(num, &end, 10);
        if (!scale || errno || *end || end == num || v < 0 || v > INT64_MAX / scale)
            return err_set(e, ERR_INVALID,
                           "retention: \"%.*s\": the age is a whole number and a unit d, h, m "
                           "or s, such as 365d",
                           (int)len, p);
        size_t i = 0;
        while (i < *n && out[i].category != cat)
            i++;
        out[i] = (struct retention_rule){cat, v * scale};
        if (i == *n)
            (*n)++;
        p += len + (comma != NULL);
    }
    return 0;
}

int retention_sweep(struct store *st, const char *spec, int64_t now, bool dry_run,
                    struct retention_result res[RETENTION_CATEGORIES], size_t *n, struct err *e)
{
    struct retention_rule rules[RETENTION_CATEGORIES];
    size_t nr;
    *n = 0;
    int rc = retention_parse(spec, rules, &nr, e);
    if (rc || nr == 0)
        return rc;
    if ((rc = st->ops->begin(st, e)))
        return rc;
    int64_t total = 0;
    for (size_t i = 0; i < nr && !rc; i++) {
        res[i] = (struct retention_result){rules[i].category, rules[i].max_age_ms,
                                           now - rules[i].max_age_ms, 0};
        rc = st->ops->retention_sweep(st, rules[i].category, res[i].cutoff, dry_run, &res[i].rows,
                                      e);
        total += res[i].rows;
    }
    if (rc) {
        st->ops->rollback(st);
        return rc;
    }
    if ((rc = st->ops->commit(st, e)))
        return rc;
    *n = nr;
    if (!dry_run && total) {
        char detail[256];
        size_t used = (size_t)snprintf(detail, sizeof(detail), "{");
        for (size_t i = 0; i < nr && used < sizeof(detail); i++)
            used += (size_t)snprintf(detail + used, sizeof(detail) - used, "%s\"%s\":%" PRId64,
                                     i ? "," : "", res[i].category, res[i].rows);
        if (used < sizeof(detail))
            snprintf(detail + used, sizeof(detail) - used, "}");
        dsr_audit(st, "retention", "privacy.sweep", NULL, detail);
        struct err ce = {0};
        /* Deleted rows leave the WAL at the next checkpoint anyway; a busy reader only
         * delays that. */
        if (st->ops->privacy_compact(st, false, &ce))
            log_debug("retention: %s", ce.msg);
    }
    return 0;
}

/* ---- scheduled jobs ---- */

struct privacy_jobs {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct store *st;
    struct suppression *supp;
};

static void *jobs_main(void *arg)
{
    struct privacy_jobs *j = arg;
    /* The first consent sync waits one interval: a start after a crash has the
     * writer's recovery to do first. */
    int64_t next_consent = time_now_ms() + cfg.consent_sync_interval * 1000;
    int64_t next_sweep = time_now_ms();
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        pthread_mutex_unlock(&j->lock);
        int64_t now = time_now_ms();
        struct err e = {0};
        if (j->supp && suppression_refresh(j->supp, j->st, &e))
            log_warn("privacy: cannot reload the suppression list: %s", e.msg);
        if (cfg.consent_sync_interval > 0 && now >= next_consent) {
            int64_t added = 0;
            if (consent_sync(j->st, &added, &e))
                log_warn("privacy: consent sync failed: %s", e.msg);
            else if (added)
                log_info("privacy: %" PRId64 " consent decisions read from messages", added);
            next_consent = now + cfg.consent_sync_interval * 1000;
        }
        if (cfg.retention_interval > 0 && cfg.retention[0] && now >= next_sweep) {
            struct retention_result res[RETENTION_CATEGORIES];
            size_t n;
            if (retention_sweep(j->st, cfg.retention, now, false, res, &n, &e))
                log_warn("privacy: retention sweep failed: %s", e.msg);
            for (size_t i = 0; i < n; i++)
                if (res[i].rows)
                    log_info("privacy: retention deleted %" PRId64 " %s", res[i].rows,
                             res[i].category);
            next_sweep = now + cfg.retention_interval * 1000;
        }
        pthread_mutex_lock(&j->lock);
        if (j->stopping)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&j->wake, &j->lock, &until);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int privacy_jobs_start(const char *db, struct suppression *supp, struct privacy_jobs **out,
                       struct err *e)
{
    struct privacy_jobs *j = calloc(1, sizeof(*j));
    if (!j)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct store_options opt = {.synchronous_full = true};
    int rc = store_open(db, &opt, &j->st, e);
    if (rc) {
        free(j);
        return rc;
    }
    j->supp = supp;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    if (pthread_create(&j->thread, NULL, jobs_main, j)) {
        store_close(j->st);
        free(j);
        return err_set(e, ERR_NOMEM, "cannot start the privacy jobs thread");
    }
    *out = j;
    return 0;
}

void privacy_jobs_stop(struct privacy_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    store_close(j->st);
    free(j);
}
