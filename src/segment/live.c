/* live.c - see live.h. One mutex guards the store connection and the snapshot: the
 * refresh thread holds it while it loads new rows and evaluates segments, a request
 * while it runs its analysis. */
#include <cJSON.h>
#include <pthread.h>

#include "analytics/report.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/api_key.h"
#include "segment/live.h"
#include "segment/segment.h"

#define LIVE_FULL_EVAL_MS 60000 /* segments evaluated at least this often (windows move) */
/* A refresh that added rows costs about the whole snapshot (the sort into columns and
 * every segment evaluated again), not the rows it added: while ingestion runs, the next
 * one waits LIVE_PACE times as long as the last one took, so that the refresh takes at
 * most about a quarter of a core however large the store; never longer than
 * LIVE_MAX_WAIT_MS, so that a new event still reaches the segments within a second. */
#define LIVE_PACE        3
#define LIVE_MAX_WAIT_MS 500

struct analytics_live {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool running, stopping;
    long refresh_ms;
    struct store *st;
    struct snapshot *s;
};

/* Returns whether rows were added (or segments evaluated). */
static bool refresh_once(struct analytics_live *a, bool evaluate)
{
    struct err e = {0};
    int64_t added = 0;
    uint64_t t0 = time_mono_ns();
    if (snapshot_refresh(a->s, a->st, &added, &e)) {
        log_error("analytics: cannot refresh the snapshot: %s", e.msg);
        return false;
    }
    if (!added && !evaluate)
        return false;
    uint64_t t1 = time_mono_ns();
    struct segment_refresh_stats stats;
    int64_t now = time_now_ms();
    if (segment_refresh(a->st, a->s, cfg.tags, now, now, &stats, &e))
        log_error("analytics: cannot evaluate segments: %s", e.msg);
    else
        log_debug("analytics: %" PRId64 " rows added, %" PRId64 " entries, %" PRId64
                  " exits in %.1f ms (snapshot %.1f ms)",
                  added, stats.entered, stats.exited, (double)(time_mono_ns() - t0) / 1e6,
                  (double)(t1 - t0) / 1e6);
    return true;
}

static void *refresh_main(void *arg)
{
    struct analytics_live *a = arg;
    pthread_setname_np(pthread_self(), "segments"); /* for top -H, perf, gdb */
    uint64_t last_full = time_mono_ns();
    long wait_ms = a->refresh_ms;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (wait_ms % 1000) * 1000000L;
        until.tv_sec += wait_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&a->wake, &a->lock, &until);
        if (a->stopping)
            break;
        uint64_t t0 = time_mono_ns();
        bool full = t0 - last_full > (uint64_t)LIVE_FULL_EVAL_MS * 1000000u;
        if (full)
            last_full = t0;
        bool worked = refresh_once(a, full);
        long cost_ms = (long)((time_mono_ns() - t0) / 1000000u);
        wait_ms = a->refresh_ms;
        if (worked && cost_ms * LIVE_PACE > wait_ms)
            wait_ms =
                cost_ms * LIVE_PACE < LIVE_MAX_WAIT_MS ? cost_ms * LIVE_PACE : LIVE_MAX_WAIT_MS;
        if (wait_ms < 1)
            wait_ms = 1;
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

int analytics_live_new(const char *db, long refresh_ms, bool upto_resolved,
                       struct analytics_live **out, struct err *e)
{
    struct analytics_live *a = calloc(1, sizeof(*a));
    if (!a)
        return err_set(e, ERR_NOMEM, "out of memory");
    /* memberships can be evaluated again: no fsync per refresh (WAL, synchronous=NORMAL);
     * checkpoints are the serve writer's checkpointer's, not this connection's commits' */
    struct store_options opt = {.synchronous_full = false, .no_checkpoint = true};
    int rc = store_open(db, &opt, &a->st, e);
    if (rc) {
        free(a);
        return rc;
    }
    a->s = snapshot_new();
    if (!a->s) {
        store_close(a->st);
        free(a);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    a->s->upto_resolved = upto_resolved;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    a->refresh_ms = refresh_ms;
    refresh_once(a, true);
    if (refresh_ms > 0) {
        if (pthread_create(&a->thread, NULL, refresh_main, a) != 0) {
            analytics_live_free(a);
            return err_set(e, ERR_NOMEM, "cannot start the analytics refresh thread");
        }
        a->running = true;
    }
    *out = a;
    return 0;
}

void analytics_live_free(struct analytics_live *a)
{
    if (!a)
        return;
    if (a->running) {
        pthread_mutex_lock(&a->lock);
        a->stopping = true;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->thread, NULL);
    }
    snapshot_free(a->s);
    store_close(a->st);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->wake);
    free(a);
}

/* 401/403 unless an admin key is sent. Call locked. */
static int authorize(struct analytics_live *a, const struct http_request *req,
                     struct http_response *res)
{
    char role[API_KEY_ROLE_MAX];
    struct err e = {0};
    int rc = api_key_authenticate(a->st, http_header(req, "Authorization"), role, &e);
    if (rc) {
        api_key_refuse(res, rc, &e, "analytics api");
    } else if (strcmp(role, "admin") != 0) {
        http_error(res, 403, "forbidden",
                   "analytics and segments need a key with the role admin for now");
        rc = ERR_AUTH;
    }
    return rc;
}

static const char *q(const struct http_request *req, const char *name, const char *def)
{
    const char *v = http_query(req, name);
    return v && *v ? v : def;
}

static bool count_param(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool date_param(const char *text, int64_t *ms)
{
    return time_parse_iso8601(text, strlen(text), ms) == 0;
}

static cJSON *analysis(struct analytics_live *a, const char *name, const struct http_request *req,
                       struct http_response *res)
{
    const struct snapshot *s = a->s;
    struct err e = {0};
    cJSON *rep = NULL;
    if (strcmp(name, "kpi") == 0) {
        struct kpi_options o = {.from = INT64_MIN, .to = INT64_MAX};
        const char *from = q(req, "from", NULL), *to = q(req, "to", NULL);
        if (period_parse(q(req, "period", "month"), &o.period) ||
            dim_parse(q(req, "by", ""), &o.by) || (from && !date_param(from, &o.from)) ||
            (to && !date_param(to, &o.to))) {
            http_error(res, 400, "bad_parameter",
                       "period is day, week, month or quarter; by is source, channel or store; "
                       "from and to are dates");
            return NULL;
        }
        struct kpi_result k;
        if (!kpi_compute(s, &o, &k, &e)) {
            rep = report_kpi(s, &k);
            kpi_result_release(&k);
        }
    } else if (strcmp(name, "rfm") == 0) {
        struct rfm_options o = {.as_of = INT64_MIN, .window_days = 365};
        const char *as_of = q(req, "as_of", NULL);
        if ((as_of && !date_param(as_of, &o.as_of)) ||
            !count_param(q(req, "window", "365"), 0, 36500, &o.window_days)) {
            http_error(res, 400, "bad_parameter", "as_of is a date; window is 0 to 36500 days");
            return NULL;
        }
        struct rfm_result f;
        if (!rfm_compute(s, &o, &f, &e)) {
            rep = strcmp(q(req, "profiles", "0"), "1") == 0 ? report_rfm_profiles(s, &f)
                                                            : report_rfm_segments(&f);
            rfm_result_release(&f);
        }
    } else if (strcmp(name, "funnel") == 0) {
        struct funnel_options o = {0};
        int64_t days;
        char *steps = strdup(q(req, "steps", ""));
        const char *text[FUNNEL_MAX_STEPS];
        if (!steps)
            return NULL;
        bool ok = count_param(q(req, "window", "7"), 1, 3650, &days) &&
                  !funnel_prop_parse(q(req, "by", ""), &o.breakdown);
        char *save = NULL;
        for (char *t = strtok_r(steps, ",", &save); ok && t; t = strtok_r(NULL, ",", &save)) {
            if (o.nsteps == FUNNEL_MAX_STEPS || funnel_step_parse(s, t, &o.steps[o.nsteps], &e))
                ok = false;
            else
                text[o.nsteps++] = t;
        }
        if (!ok || o.nsteps < 2) {
            http_error(res, 400, "bad_parameter",
                       "steps is 2 to %d event names separated by commas (each may end with "
                       "[source=X] or [campaign=X]); window is 1 to 3650 days; by is source or "
                       "campaign",
                       FUNNEL_MAX_STEPS);
            free(steps);
            return NULL;
        }
        o.window_ms = days * MS_PER_DAY;
        struct funnel_result f;
        if (!funnel_compute(s, &o, &f, &e)) {
            rep = report_funnel(s, &o, text, &f);
            funnel_result_release(&f);
        }
        free(steps);
    } else if (strcmp(name, "cohort") == 0) {
        struct cohort_options o = {0};
        const char *by = q(req, "by", "first-order");
        if (period_parse(q(req, "period", "month"), &o.period) ||
            (o.period != PERIOD_WEEK && o.period != PERIOD_MONTH) ||
            (strcmp(by, "first-order") != 0 && strcmp(by, "first-seen") != 0)) {
            http_error(res, 400, "bad_parameter",
                       "period is week or month; by is first-order or first-seen");
            return NULL;
        }
        o.by_first_seen = strcmp(by, "first-seen") == 0;
        struct cohort_result c;
        if (!cohort_compute(s, &o, &c, &e)) {
            rep = report_cohort(&c, o.by_first_seen);
            cohort_result_release(&c);
        }
    } else if (strcmp(name, "paths") == 0) {
        const char *from = q(req, "from", NULL), *to = q(req, "to", NULL);
        int64_t depth, limit;
        if (!from == !to || !count_param(q(req, "depth", "3"), 1, PATHS_MAX_DEPTH, &depth) ||
            !count_param(q(req, "limit", "20"), 0, 1000000, &limit)) {
            http_error(res, 400, "bad_parameter",
                       "give from=EVENT or to=EVENT; depth is 1 to %d; limit >= 0",
                       PATHS_MAX_DEPTH);
            return NULL;
        }
        struct paths_options o = {.to = to != NULL, .depth = (size_t)depth, .limit = (size_t)limit};
        o.event = snap_dict_find(&s->names, to ? to : from);
        struct paths_result p;
        if (!paths_compute(s, &o, &p, &e)) {
            rep = report_paths(s, &o, &p);
            paths_result_release(&p);
        }
    } else {
        http_error(res, 404, "not_found", "no analysis \"%s\": kpi, rfm, funnel, cohort, paths",
                   name);
        return NULL;
    }
    if (!rep)
        http_error(res, e.code == ERR_INVALID ? 400 : 500,
                   e.code == ERR_INVALID ? "bad_parameter" : "internal", "%s",
                   e.msg[0] ? e.msg : "out of memory");
    return rep;
}

static void handle_analytics(const struct http_request *req, struct http_response *res, void *arg)
{
    struct analytics_live *a = arg;
    pthread_mutex_lock(&a->lock);
    if (!authorize(a, req, res)) {
        const char *name = req->path + strlen("/api/v1/analytics/");
        cJSON *rep = analysis(a, name, req, res);
        if (rep)
            http_json(res, 200, rep);
    }
    pthread_mutex_unlock(&a->lock);
}

static int segment_json(const struct segment_row *r, void *ctx)
{
    cJSON *o = cJSON_CreateObject();
    char t[32];
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "expression", r->expr);
    cJSON_AddNumberToObject(o, "members", (double)r->members);
    if (r->evaluated_at != STORE_NULL_TIME) {
        time_format_iso8601(r->evaluated_at, t);
        cJSON_AddStringToObject(o, "evaluated_at", t);
    }
    cJSON_AddItemToArray(ctx, o);
    return 0;
}

static int find_segment(const struct segment_row *r, void *ctx)
{
    *(int64_t *)ctx = r->id;
    return 0;
}

static int member_json(const struct membership_row *r, void *ctx)
{
    cJSON *o = cJSON_CreateObject();
    char t[32];
    cJSON_AddNumberToObject(o, "profile", (double)r->profile_id);
    time_format_iso8601(r->entered_at, t);
    cJSON_AddStringToObject(o, "entered_at", t);
    if (r->exited_at != STORE_NULL_TIME) {
        time_format_iso8601(r->exited_at, t);
        cJSON_AddStringToObject(o, "exited_at", t);
    }
    cJSON_AddItemToArray(ctx, o);
    return 0;
}

static void handle_segments(const struct http_request *req, struct http_response *res, void *arg)
{
    struct analytics_live *a = arg;
    pthread_mutex_lock(&a->lock);
    if (authorize(a, req, res))
        goto out;
    struct err e = {0};
    const char *rest = req->path + strlen("/api/v1/segments");
    cJSON *arr = cJSON_CreateArray();
    if (!*rest || strcmp(rest, "/") == 0) {
        if (a->st->ops->segment_list(a->st, NULL, segment_json, arr, &e))
            goto fail;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "segments", arr);
        http_json(res, 200, o);
        goto out;
    }
    const char *slash = strrchr(rest, '/');
    if (rest[0] != '/' || !slash || slash == rest || strcmp(slash, "/members") != 0) {
        cJSON_Delete(arr);
        http_error(res, 404, "not_found", "GET /api/v1/segments or /api/v1/segments/NAME/members");
        goto out;
    }
    char name[128];
    size_t len = (size_t)(slash - rest - 1);
    if (len >= sizeof(name)) {
        cJSON_Delete(arr);
        http_error(res, 404, "not_found", "no such segment");
        goto out;
    }
    memcpy(name, rest + 1, len);
    name[len] = 0;
    int64_t id = 0;
    if (a->st->ops->segment_list(a->st, name, find_segment, &id, &e))
        goto fail;
    if (!id) {
        cJSON_Delete(arr);
        http_error(res, 404, "not_found", "no segment named \"%s\"", name);
        goto out;
    }
    bool all = strcmp(q(req, "all", "0"), "1") == 0;
    if (a->st->ops->segment_members(a->st, id, all, member_json, arr, &e))
        goto fail;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "segment", name);
    cJSON_AddItemToObject(o, "members", arr);
    http_json(res, 200, o);
    goto out;
fail:
    cJSON_Delete(arr);
    log_error("segments api: %s", e.msg);
    http_error(res, 500, "store_error", "cannot read segments");
out:
    pthread_mutex_unlock(&a->lock);
}

size_t analytics_live_routes(struct analytics_live *a, struct http_route *routes, size_t cap)
{
    if (cap < 2)
        return 0;
    routes[0] = (struct http_route){"GET", "/api/v1/analytics/*", handle_analytics, 0, a};
    routes[1] = (struct http_route){"GET", "/api/v1/segments*", handle_segments, 0, a};
    return 2;
}
