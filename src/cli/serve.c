/* serve.c - `custos serve`: the HTTP server. */
#include <pthread.h>
#include <signal.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "http/metrics.h"
#include "http/server.h"
#include "identity/profile_api.h"
#include "segment/live.h"
#include "ingest/collect.h"

#define SERVE_MAX_ROUTES 16

static struct collect collector;

static void handle_metrics(const struct http_request *req, struct http_response *res, void *arg)
{
    (void)req;
    (void)arg;
    struct textbuf b = {0};
    collect_metrics(&collector, &b);
    http_server_metrics(&b);
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

    struct err e = {0};
    struct store *st = NULL;
    struct http_server *srv = NULL;
    struct profile_api *profiles = NULL;
    struct analytics_live *live = NULL;
    struct store_options sopt = {.synchronous_full = strcmp(cfg.synchronous, "full") == 0,
                                 .background_checkpoint = true};
    if (store_open(cfg.db, &sopt, &st, &e) || source_cache_new(cfg.db, &collector.sources, &e)) {
        store_close(st);
        return cli_fail("%s", e.msg);
    }
    if (profile_api_new(cfg.db, &profiles, &e)) {
        store_close(st);
        source_cache_free(collector.sources);
        return cli_fail("%s", e.msg);
    }
    if (analytics_live_new(cfg.db, cfg.segment_refresh_ms, &live, &e)) {
        store_close(st);
        source_cache_free(collector.sources);
        profile_api_free(profiles);
        return cli_fail("analytics: %s", e.msg);
    }
    if (writer_start(st, (size_t)cfg.max_queue, &collector.writer, &e)) {
        store_close(st);
        source_cache_free(collector.sources);
        profile_api_free(profiles);
        analytics_live_free(live);
        return cli_fail("%s", e.msg);
    }
    struct writer_stats ws;
    writer_get_stats(collector.writer, &ws);

    struct http_route routes[SERVE_MAX_ROUTES];
    size_t n = collect_routes(&collector, routes, SERVE_MAX_ROUTES - 1);
    n += profile_api_routes(profiles, routes + n, SERVE_MAX_ROUTES - 1 - n);
    n += analytics_live_routes(live, routes + n, SERVE_MAX_ROUTES - 1 - n);
    routes[n++] = (struct http_route){"GET", "/metrics", handle_metrics, 0, NULL};
    struct http_server_options hopt = {
        .listen = cfg.listen,
        .max_connections = (unsigned)cfg.max_connections,
        .timeout_s = (unsigned)cfg.request_timeout,
    };
    rc = http_server_start(&hopt, routes, n, &srv, &e);
    if (rc) {
        rc = cli_fail("%s", e.msg);
        goto out;
    }
    log_info("serve: listening on %s (port %u), database %s, %" PRIu64 " messages known",
             cfg.listen, http_server_port(srv), cfg.db, ws.seen);
    if (ready && write_ready_file(ready, http_server_port(srv))) {
        rc = EXIT_FAIL;
        goto out;
    }

    int sig = 0;
    sigwait(&stop, &sig);
    log_info("serve: %s received: finishing requests in progress",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = EXIT_OK;
out:
    http_server_stop(srv, (int)cfg.shutdown_timeout * 1000);
    writer_get_stats(collector.writer, &ws);
    writer_stop(collector.writer);
    source_cache_free(collector.sources);
    profile_api_free(profiles);
    analytics_live_free(live);
    log_info("serve: stopped after %" PRIu64 " commits", ws.commits);
    return rc;
}
