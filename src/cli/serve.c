/* serve.c - `custos serve`: the HTTP server. */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "govern/quality.h"
#include "http/metrics.h"
#include "http/server.h"
#include "identity/profile_api.h"
#include "identity/resolve_worker.h"
#include "segment/live.h"
#include "ingest/collect.h"
#include "privacy/consent_api.h"
#include "privacy/dsr.h"
#include "privacy/retention.h"
#include "privacy/seal.h"

/* Every route of every module, with room to spare: a full table drops routes. */
#define SERVE_MAX_ROUTES 48
#define SERVE_PEM_MAX    (1 << 20) /* a certificate chain or key file: 1 MB at most */
#define SERVE_KEY_POLL_S 1         /* seconds between reads of the data-key version */

static struct collect collector;
static struct resolve_worker *resolver; /* NULL with resolve-incremental = off */
static struct quality_monitor *quality; /* NULL with quality-interval = 0 */

static void handle_metrics(const struct http_request *req, struct http_response *res, void *arg)
{
    (void)req;
    struct textbuf b = {0};
    collect_metrics(&collector, &b);
    if (resolver)
        resolve_worker_metrics(resolver, &b);
    http_server_metrics(&b);
    profile_api_metrics(arg, &b);
    quality_monitor_metrics(quality, &b);
    if (b.failed || !b.p) {
        textbuf_release(&b);
        http_error(res, 500, "out_of_memory", "out of memory");
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4";
    res->body = b.p;
    res->body_len = b.len;
}

static int write_ready_file(const char *path, unsigned port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return cli_fail("cannot write %s: %s", tmp, strerror(errno));
    const char *colon = strrchr(cfg.listen, ':');
    fprintf(f, "%.*s:%u\n", (int)(colon - cfg.listen), cfg.listen, port);
    if (fclose(f) || rename(tmp, path))
        return cli_fail("cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Reads a PEM file named by a setting into *out (malloc'd); prints why it cannot. */
static int read_pem(const char *setting, const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail("%s: cannot read %s: %s", setting, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && strcmp(setting, "tls-key") == 0 && (sb.st_mode & 077))
        log_warn("serve: the TLS key %s can be read by other users: chmod 600 it", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > SERVE_PEM_MAX + 1) {
                free(buf);
                fclose(f);
                return cli_fail("%s: %s is larger than %d bytes: not a PEM file", setting, path,
                                SERVE_PEM_MAX);
            }
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return cli_fail("out of memory");
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    buf[len] = 0;
    if (failed || !strstr(buf, "-----BEGIN ")) {
        free(buf);
        return cli_fail("%s: %s is not a PEM file (no -----BEGIN line)", setting, path);
    }
    *out = buf;
    return 0;
}

/* Loads tls-cert and tls-key: both or neither. */
static int load_tls(char **cert, char **key)
{
    *cert = *key = NULL;
    bool c = cfg.tls_cert[0], k = cfg.tls_key[0];
    if (!c && !k)
        return 0;
    if (c != k)
        return cli_fail("%s is set but %s is not: HTTPS needs both (or neither, for HTTP)",
                        c ? "tls-cert" : "tls-key", c ? "tls-key" : "tls-cert");
    if (read_pem("tls-cert", cfg.tls_cert, cert))
        return EXIT_FAIL;
    if (read_pem("tls-key", cfg.tls_key, key)) {
        free(*cert);
        *cert = NULL;
        return EXIT_FAIL;
    }
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *ready = NULL;
    const struct cli_opt opts[] = {{"ready-file", &ready, NULL}};
    size_t npos;
    int rc = cli_parse("serve", argc, argv, opts, ARRAY_SIZE(opts), NULL, 0, &npos);
    if (rc)
        return rc;

    /* Signals go to this thread alone, through sigwait; every thread started from here
     * on inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *tls_cert = NULL, *tls_key = NULL;
    if (load_tls(&tls_cert, &tls_key))
        return EXIT_FAIL;

    struct err e = {0};
    struct store *st = NULL;
    struct http_server *srv = NULL;
    struct profile_api *profiles = NULL;
    struct idgraph_rules rules = {0};
    bool incremental = strcmp(cfg.resolve_incremental, "on") == 0;
    struct analytics_live *live = NULL;
    struct store_options sopt = {.synchronous_full = strcmp(cfg.synchronous, "full") == 0,
                                 .background_checkpoint = true};
    if (incremental && idgraph_rules_parse(cfg.identity_types, cfg.identity_blocked, &rules, &e)) {
        idgraph_rules_release(&rules);
        return cli_fail("%s", e.msg);
    }
    if (store_open(cfg.db, &sopt, &st, &e) || source_cache_new(cfg.db, &collector.sources, &e)) {
        store_close(st);
        idgraph_rules_release(&rules);
        free(tls_cert);
        free(tls_key);
        return cli_fail("%s", e.msg);
    }
    if ((rc = cli_start_encryption(st))) { /* before anything reads or writes values */
        store_close(st);
        source_cache_free(collector.sources);
        idgraph_rules_release(&rules);
        free(tls_cert);
        free(tls_key);
        return rc;
    }
    if (profile_api_new(cfg.db, &profiles, &e)) {
        store_close(st);
        source_cache_free(collector.sources);
        idgraph_rules_release(&rules);
        free(tls_cert);
        free(tls_key);
        return cli_fail("%s", e.msg);
    }
    if (analytics_live_new(cfg.db, cfg.segment_refresh_ms, incremental, &live, &e)) {
        store_close(st);
        source_cache_free(collector.sources);
        profile_api_free(profiles);
        idgraph_rules_release(&rules);
        free(tls_cert);
        free(tls_key);
        return cli_fail("analytics: %s", e.msg);
    }
    /* Privacy: erased people's identifiers, and the scheduled consent sync, retention
     * sweep and suppression reload on a thread of their own. */
    struct privacy_jobs *jobs = NULL;
    struct consent_api *consents = NULL;
    if (suppression_load(st, &collector.suppress, &e) || consent_api_new(cfg.db, &consents, &e) ||
        privacy_jobs_start(cfg.db, collector.suppress, &jobs, &e)) {
        consent_api_free(consents);
        suppression_free(collector.suppress);
        store_close(st);
        source_cache_free(collector.sources);
        profile_api_free(profiles);
        analytics_live_free(live);
        idgraph_rules_release(&rules);
        free(tls_cert);
        free(tls_key);
        return cli_fail("%s", e.msg);
    }
    if (writer_start(st, (size_t)cfg.max_queue, &collector.writer, &e)) {
        privacy_jobs_stop(jobs);
        consent_api_free(consents);
        suppression_free(collector.suppress);
        store_close(st);
        source_cache_free(collector.sources);
        profile_api_free(profiles);
        analytics_live_free(live);
        idgraph_rules_release(&rules);
        free(tls_cert);
        free(tls_key);
        return cli_fail("%s", e.msg);
    }
    /* The resolver: its own connection, taking turns at writing with the writer, woken
     * by its commits. Not synchronous: resolution lost in a crash is done again. No
     * checkpoint at its commits: the writer's checkpointer does them off everyone's turn. */
    struct store_options ropt = {.synchronous_full = false, .no_checkpoint = true};
    struct resolve_turns turns = {writer_turn_begin, writer_turn_end, collector.writer};
    if (incremental && resolve_worker_start(cfg.db, &ropt, &rules, &turns, &resolver, &e)) {
        writer_stop(collector.writer);
        source_cache_free(collector.sources);
        profile_api_free(profiles);
        idgraph_rules_release(&rules);
        return cli_fail("%s", e.msg);
    }
    if (resolver)
        writer_on_commit(collector.writer, resolve_worker_wake, resolver);
    struct writer_stats ws;
    writer_get_stats(collector.writer, &ws);
    struct quality_thresholds qth = {
        .min_completeness = (double)cfg.quality_min_completeness,
        .min_validity = (double)cfg.quality_min_validity,
        .max_age_hours = (double)cfg.quality_max_age_hours,
        .max_duplicate_before = (double)cfg.quality_max_duplicate_before,
        .max_duplicate_after = (double)cfg.quality_max_duplicate_after};
    if (cfg.quality_interval > 0 &&
        quality_monitor_start(cfg.db, &qth, cfg.quality_interval, &quality, &e))
        log_warn("serve: quality measurements are off: %s", e.msg);

    struct http_route routes[SERVE_MAX_ROUTES];
    size_t n = collect_routes(&collector, routes, SERVE_MAX_ROUTES - 1);
    n += profile_api_routes(profiles, routes + n, SERVE_MAX_ROUTES - 1 - n);
    n += consent_api_routes(consents, routes + n, SERVE_MAX_ROUTES - 1 - n);
    n += analytics_live_routes(live, routes + n, SERVE_MAX_ROUTES - 1 - n);
    routes[n++] = (struct http_route){"GET", "/metrics", handle_metrics, 0, profiles};
    struct http_server_options hopt = {
        .listen = cfg.listen,
        .max_connections = (unsigned)cfg.max_connections,
        .timeout_s = (unsigned)cfg.request_timeout,
        .tls_cert_pem = tls_cert,
        .tls_key_pem = tls_key,
    };
    rc = http_server_start(&hopt, routes, n, &srv, &e);
    if (rc) {
        rc = cli_fail("%s", e.msg);
        goto out;
    }
    log_info("serve: listening on %s (port %u, %s), database %s, %" PRIu64
             " messages known, incremental resolution %s",
             cfg.listen, http_server_port(srv), tls_cert ? "HTTPS" : "HTTP", cfg.db, ws.seen,
             incremental ? "on" : "off");
    if (ready && write_ready_file(ready, http_server_port(srv))) {
        rc = EXIT_FAIL;
        goto out;
    }

    int sig = 0;
    if (seal_on()) {
        /* `custos keys rotate` may move the data-key version: new tokens follow it within
         * SERVE_KEY_POLL_S seconds (the rotation waits that long before re-encrypting). */
        struct store *kst = NULL;
        struct store_options kopt = {.read_only = true};
        if (store_open(cfg.db, &kopt, &kst, &e))
            log_warn("serve: the data-key version will not be followed: %s", e.msg);
        struct timespec poll = {SERVE_KEY_POLL_S, 0};
        while ((sig = sigtimedwait(&stop, NULL, &poll)) < 0)
            if (kst && seal_refresh(kst, &e))
                log_warn("serve: reading the data-key version: %s", e.msg);
        store_close(kst);
    } else {
        sigwait(&stop, &sig);
    }
    log_info("serve: %s received: finishing requests in progress",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = EXIT_OK;
out:
    http_server_stop(srv, (int)cfg.shutdown_timeout * 1000);
    /* Requests are answered, so everything acknowledged is committed: the resolver's
     * last step resolves it (before the writer goes: they take turns). */
    resolve_worker_stop(resolver);
    resolver = NULL;
    writer_get_stats(collector.writer, &ws);
    writer_stop(collector.writer);
    idgraph_rules_release(&rules);
    quality_monitor_stop(quality);
    quality = NULL;
    privacy_jobs_stop(jobs);
    consent_api_free(consents);
    suppression_free(collector.suppress);
    source_cache_free(collector.sources);
    profile_api_free(profiles);
    if (tls_key)
        sodium_memzero(tls_key, strlen(tls_key));
    free(tls_cert);
    free(tls_key);
    analytics_live_free(live);
    log_info("serve: stopped after %" PRIu64 " commits", ws.commits);
    return rc;
}
