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
#include "privacy/dp.h"
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

/* 401 unless a valid API key is sent; its identity in *who. Call locked. */
static int identify(struct analytics_live *a, const struct http_request *req,
                    struct http_response *res, struct api_key_identity *who)
{
    struct err e = {0};
    int rc = api_key_identify(a->st, http_header(req, "Authorization"), who, &e);
    return api_key_refuse(res, rc, &e, "analytics api");
}

/* 401/403 unless an admin key is sent (the segments API: members are profiles). */
static int authorize_admin(struct analytics_live *a, const struct http_request *req,
                           struct http_response *res)
{
    struct api_key_identity who;
    int rc = identify(a, req, res, &who);
    if (!rc && strcmp(who.role, "admin") != 0) {
        http_error(res, 403, "forbidden", "segments need a key with the role admin");
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

/* The analytics-time-zone setting (checked at start-up). */
static int64_t time_zone(void)
{
    int64_t tz = 0;
    if (cfg.analytics_time_zone)
        analytics_tz_parse(cfg.analytics_time_zone, &tz);
    return tz;
}

/* A date parameter; one without a zone is read in the analytics time zone. */
static bool date_param(const char *text, int64_t *ms)
{
    return analytics_date_parse(text, time_zone(), ms) == 0;
}

/* Spends dp->epsilon of key's budget before a private answer is given: false, with
 * 429 privacy_budget_exhausted (nothing spent) or 500 answered, when it cannot. */
static bool charge(struct analytics_live *a, const struct dp_request *dp, int64_t key,
                   double *remaining, struct http_response *res)
{
    struct err e = {0};
    int rc = dp_charge(a->st, key, dp->epsilon, remaining, &e);
    if (rc == ERR_LIMIT)
        http_error(res, 429, "privacy_budget_exhausted", "%s", e.msg);
    else if (rc == ERR_INVALID)
        http_error(res, 400, "bad_parameter", "%s", e.msg);
    else if (rc) {
        log_error("analytics api: cannot charge the privacy budget: %s", e.msg);
        http_error(res, 500, "store_error", "cannot charge the privacy budget");
    }
    return rc == 0;
}

/* Adds "dp" (with the budget left) to a private answer's report; rep as is without dp. */
static cJSON *dp_finish(cJSON *rep, const struct dp_request *dp, const struct dp_answer *da,
                        double left)
{
    if (rep && dp) {
        report_add_dp(rep, da);
        cJSON_AddNumberToObject(cJSON_GetObjectItem(rep, "dp"), "budget_remaining", left);
    }
    return rep;
}

/* Runs analysis name with the request's parameters; dp (NULL: exact) makes its
 * answer private and charges key's budget. Returns the report or NULL (answered). */
static cJSON *analysis(struct analytics_live *a, const char *name, const struct http_request *req,
                       struct http_response *res, const struct dp_request *dp, int64_t key)
{
    const struct snapshot *s = a->s;
    struct err e = {0};
    cJSON *rep = NULL;
    struct dp_answer da; /* how a private answer was made noisy */
    double left = 0;     /* the key's budget after this answer */
    if (dp && (strcmp(name, "paths") == 0 ||
               (strcmp(name, "rfm") == 0 && strcmp(q(req, "profiles", "0"), "1") == 0))) {
        http_error(res, 400, "bad_parameter",
                   "dp_epsilon answers kpi, rfm (segments), funnel and cohort; paths and one row "
                   "per profile cannot be made private");
        return NULL;
    }
    if (strcmp(name, "kpi") == 0) {
        struct kpi_options o = {.from = INT64_MIN, .to = INT64_MAX, .tz_ms = time_zone()};
        const char *from = q(req, "from", NULL), *to = q(req, "to", NULL);
        if (period_parse(q(req, "period", "month"), &o.period) ||
            dim_parse(q(req, "by", ""), &o.by) || (from && !date_param(from, &o.from)) ||
            (to && !date_param(to, &o.to))) {
            http_error(res, 400, "bad_parameter",
                       "period is day, week, month or quarter; by is source, channel or store; "
                       "from and to are dates");
            return NULL;
        }
        if (dp)
            o.clamp = dp->clamp;
        struct kpi_result k;
        if (dp && !charge(a, dp, key, &left, res))
            return NULL;
        if (!kpi_compute(s, &o, &k, &e)) {
            if (!dp || !kpi_privatize(&k, dp, &da, &e))
                rep = dp_finish(report_kpi(s, &k), dp, &da, left);
            kpi_result_release(&k);
        }
    } else if (strcmp(name, "rfm") == 0) {
        struct rfm_options o = {.as_of = INT64_MIN, .window_days = 365, .tz_ms = time_zone()};
        const char *as_of = q(req, "as_of", NULL);
        if ((as_of && !date_param(as_of, &o.as_of)) ||
            !count_param(q(req, "window", "365"), 0, 36500, &o.window_days)) {
            http_error(res, 400, "bad_parameter", "as_of is a date; window is 0 to 36500 days");
            return NULL;
        }
        struct rfm_result f;
        if (dp && !charge(a, dp, key, &left, res))
            return NULL;
        if (!rfm_compute(s, &o, &f, &e)) {
            if (!dp || !rfm_privatize(&f, dp, &da, &e))
                rep =
                    dp_finish(strcmp(q(req, "profiles", "0"), "1") == 0 ? report_rfm_profiles(s, &f)
                                                                        : report_rfm_segments(&f),
                              dp, &da, left);
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
                  !funnel_prop_parse(s, q(req, "by", ""), &o.breakdown, &o.breakdown_key);
        /* steps are separated by commas outside brackets: A[x=1,y=2],B */
        for (char *t = steps; ok && *t;) {
            char *c = t;
            for (int depth = 0; *c && (*c != ',' || depth); c++)
                depth += *c == '[' ? 1 : *c == ']' ? -1 : 0;
            bool last = !*c;
            *c = 0;
            if (o.nsteps == FUNNEL_MAX_STEPS || funnel_step_parse(s, t, &o.steps[o.nsteps], &e))
                ok = false;
            else
                text[o.nsteps++] = t;
            t = last ? c : c + 1;
        }
        if (!ok || o.nsteps < 2) {
            http_error(res, 400, "bad_parameter",
                       "steps is 2 to %d event names separated by commas (each may end with "
                       "[PROP=VALUE,...], PROP source, channel, campaign or a property); window "
                       "is 1 to 3650 days; by is source, channel, campaign or a property%s%s",
                       FUNNEL_MAX_STEPS, e.msg[0] ? ": " : "", e.msg);
            free(steps);
            return NULL;
        }
        o.window_ms = days * MS_PER_DAY;
        struct funnel_result f;
        if (dp && !charge(a, dp, key, &left, res)) {
            free(steps);
            return NULL;
        }
        if (!funnel_compute(s, &o, &f, &e)) {
            if (!dp || !funnel_privatize(&f, dp, &da, &e))
                rep = dp_finish(report_funnel(s, &o, text, &f), dp, &da, left);
            funnel_result_release(&f);
        }
        free(steps);
    } else if (strcmp(name, "cohort") == 0) {
        struct cohort_options o = {.tz_ms = time_zone()};
        const char *by = q(req, "by", "first-order");
        if (period_parse(q(req, "period", "month"), &o.period) ||
            (o.period != PERIOD_WEEK && o.period != PERIOD_MONTH) ||
            (strcmp(by, "first-order") != 0 && strcmp(by, "first-seen") != 0)) {
            http_error(res, 400, "bad_parameter",
                       "period is week or month; by is first-order or first-seen");
            return NULL;
        }
        o.by_first_seen = strcmp(by, "first-seen") == 0;
        if (dp)
            o.clamp = dp->clamp;
        struct cohort_result c;
        if (dp && !charge(a, dp, key, &left, res))
            return NULL;
        if (!cohort_compute(s, &o, &c, &e)) {
            if (!dp || !cohort_privatize(&c, dp, &da, &e))
                rep = dp_finish(report_cohort(&c, o.by_first_seen), dp, &da, left);
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

/* The role rule of the analytics API: admin keys ask with or without dp_epsilon;
 * analyst and marketing keys only with it (a private answer); the other roles not at
 * all. Fills *dp from dp_epsilon, dp_clamp and dp_max_orders (the settings by
 * default); *want_dp false without dp_epsilon. Answers 400/403 and returns false. */
static bool dp_parameters(const struct http_request *req, const char *role,
                          struct http_response *res, struct dp_request *dp, bool *want_dp)
{
    const char *eps = q(req, "dp_epsilon", NULL);
    bool admin = strcmp(role, "admin") == 0;
    *want_dp = eps != NULL;
    if (!admin && strcmp(role, "analyst") != 0 && strcmp(role, "marketing") != 0) {
        http_error(res, 403, "forbidden",
                   "analytics need a key with the role admin, or analyst or marketing asking "
                   "for a differentially private answer (dp_epsilon=E)");
        return false;
    }
    if (!admin && !eps) {
        http_error(
            res, 403, "forbidden",
            "keys with the role %s may call the analytics endpoints only with dp_epsilon=E: the "
            "answer is then differentially private and E is charged to the key's "
            "privacy budget (docs/privacy.md)",
            role);
        return false;
    }
    memset(dp, 0, sizeof(*dp));
    if (!eps)
        return true;
    struct err e = {0};
    char *end;
    errno = 0;
    dp->epsilon = strtod(eps, &end);
    int64_t max_orders = cfg.dp_max_orders;
    if (errno || end == eps || *end || dp_epsilon_check(dp->epsilon, &e) ||
        dp_clamp_parse(q(req, "dp_clamp", cfg.dp_clamp), &dp->clamp, &e) ||
        (q(req, "dp_max_orders", NULL) &&
         !count_param(q(req, "dp_max_orders", ""), 1, 1000000, &max_orders))) {
        http_error(res, 400, "bad_parameter",
                   "dp_epsilon is %g to %g; dp_clamp is LO:HI in minor units with LO <= 0 <= "
                   "HI; dp_max_orders is 1 to 1000000%s%s",
                   DP_EPSILON_MIN, DP_EPSILON_MAX, e.msg[0] ? ": " : "", e.msg);
        return false;
    }
    dp->clamp.on = true;
    dp->clamp.max_orders = max_orders;
    return true;
}

static void handle_analytics(const struct http_request *req, struct http_response *res, void *arg)
{
    struct analytics_live *a = arg;
    struct api_key_identity who;
    struct dp_request dp;
    bool want_dp;
    pthread_mutex_lock(&a->lock);
    if (!identify(a, req, res, &who) && dp_parameters(req, who.role, res, &dp, &want_dp)) {
        const char *name = req->path + strlen("/api/v1/analytics/");
        cJSON *rep = analysis(a, name, req, res, want_dp ? &dp : NULL, who.id);
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
    if (authorize_admin(a, req, res))
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
