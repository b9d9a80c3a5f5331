/* profile_load.c - open-loop load for the profile read API (GET with a Bearer key).
 *
 *   profile_load --port P --key KEY --paths FILE --rate R [--duration S]
 *                [--connections N] [--host H]
 *
 * FILE holds one request path per line ("/api/v1/profiles/17",
 * "/api/v1/profiles?email=..."); slot k, due at start + k/R, asks for line k mod lines
 * on connection k mod N (HTTP/1.1 keep-alive, blocking sockets, one thread each).
 * Latency runs from the slot's *due* time to the last byte of the answer, so a server
 * that falls behind shows in the percentiles (queueing included; no coordinated
 * omission). Prints one JSON line: requests, ok (2xx), errors, achieved rate, and
 * latency p50/p90/p99/p999/max in ms. Self-contained (libc and pthreads) so it
 * measures the server, not a client library. Exit 0, 1 on a setup failure, 2 on bad
 * usage. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/banned.h"

#define MAX_CONNECTIONS 256       /* one thread each */
#define MAX_PATHS       1000000   /* lines of --paths */
#define MAX_PATH_LEN    1024      /* bytes of one path */
#define RBUF            (1 << 20) /* an answer's head and body: profile views are KBs */
#define MAX_SLOTS       100000000 /* rate x duration */

struct run {
    const char *host, *port, *key;
    char **paths;
    size_t npaths;
    double rate, duration;
    size_t nconn;
    int64_t start_ns;
    uint64_t slots;
};

struct worker {
    struct run *run;
    size_t id;
    pthread_t thread;
    int fd;
    double *lat; /* ms, one per answered request */
    size_t nlat, cap;
    uint64_t requests, ok, errors, late_starts;
    int first_status;
    char rbuf[RBUF];
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int connect_to(const struct run *r)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(r->host, r->port, &hints, &ai))
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads one answer; returns its status, or -1 on a broken connection. */
static int read_answer(struct worker *w)
{
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == RBUF - 1)
            return -1;
        ssize_t k = recv(w->fd, w->rbuf + have, RBUF - 1 - have, 0);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        have += (size_t)k;
        w->rbuf[have] = 0;
        end = strstr(w->rbuf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(w->rbuf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *cl = strcasestr(w->rbuf, "\r\ncontent-length:");
    if (!cl || cl > end)
        return -1; /* the server answers with a length; chunked is not expected here */
    unsigned long long body = strtoull(cl + 17, NULL, 10);
    size_t head = (size_t)(end + 4 - w->rbuf);
    unsigned long long got = have - head;
    while (got < body) {
        ssize_t k = recv(w->fd, w->rbuf, RBUF - 1, 0);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            return -1;
        }
        got += (unsigned long long)k;
    }
    return got == body ? status : -1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    char req[MAX_PATH_LEN + 256];
    w->fd = connect_to(r);
    for (uint64_t k = w->id; k < r->slots; k += r->nconn) {
        int64_t due = r->start_ns + (int64_t)((double)k * 1e9 / r->rate);
        sleep_until(due);
        w->requests++;
        if (w->fd < 0 && (w->fd = connect_to(r)) < 0) {
            w->errors++;
            continue;
        }
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
                         r->paths[k % r->npaths], r->host, r->key);
        int status = send_all(w->fd, req, (size_t)n) ? read_answer(w) : -1;
        int64_t done = now_ns();
        if (status < 0) {
            w->errors++;
            close(w->fd);
            w->fd = -1;
            continue;
        }
        if (w->nlat == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            double *p = realloc(w->lat, w->cap * sizeof(*p));
            if (!p) {
                w->errors++;
                break;
            }
            w->lat = p;
        }
        w->lat[w->nlat++] = (double)(done - due) / 1e6;
        if (status >= 200 && status <= 299)
            w->ok++;
        else if (!w->first_status)
            w->first_status = status;
    }
    if (w->fd >= 0)
        close(w->fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int usage(void)
{
    fputs("usage: profile_load --port P --key KEY --paths FILE --rate R [--duration S]\n"
          "                    [--connections N] [--host H]\n"
          "GETs the paths of FILE (one a line, in turn) with Authorization: Bearer KEY at R\n"
          "requests/s on a fixed schedule for S seconds (default 10) over N keep-alive\n"
          "connections (default 16); latency from each request's scheduled time.\n",
          stderr);
    return 2;
}

static int load_paths(struct run *r, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "profile_load: cannot read %s: %s\n", file, strerror(errno));
        return 1;
    }
    char line[MAX_PATH_LEN + 2];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f) && r->npaths < MAX_PATHS) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        if (r->npaths == cap) {
            cap = cap ? cap * 2 : 1024;
            char **p = realloc(r->paths, cap * sizeof(*p));
            if (!p)
                break;
            r->paths = p;
        }
        if (!(r->paths[r->npaths] = strdup(line)))
            break;
        r->npaths++;
    }
    fclose(f);
    if (!r->npaths) {
        fprintf(stderr, "profile_load: %s has no paths\n", file);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct run r = {.host = "127.0.0.1", .duration = 10, .nconn = 16};
    const char *paths = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(a, "--port"))
            r.port = v;
        else if (!strcmp(a, "--host"))
            r.host = v;
        else if (!strcmp(a, "--key"))
            r.key = v;
        else if (!strcmp(a, "--paths"))
            paths = v;
        else if (!strcmp(a, "--rate"))
            r.rate = strtod(v, NULL);
        else if (!strcmp(a, "--duration"))
            r.duration = strtod(v, NULL);
        else if (!strcmp(a, "--connections"))
            r.nconn = (size_t)strtoul(v, NULL, 10);
        else
            return usage();
        i++;
    }
    if (!r.port || !r.key || !paths || !(r.rate > 0) || !(r.duration > 0) || r.nconn < 1 ||
        r.nconn > MAX_CONNECTIONS || r.rate * r.duration > MAX_SLOTS)
        return usage();
    if (load_paths(&r, paths))
        return 1;
    r.slots = (uint64_t)(r.rate * r.duration);
    struct worker *w = calloc(r.nconn, sizeof(*w));
    if (!w)
        return 1;
    r.start_ns = now_ns() + 200000000; /* connections open first */
    for (size_t i = 0; i < r.nconn; i++) {
        w[i].run = &r;
        w[i].id = i;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i])) {
            fprintf(stderr, "profile_load: cannot start thread %zu\n", i);
            return 1;
        }
    }
    uint64_t requests = 0, ok = 0, errors = 0;
    size_t n = 0;
    int first_status = 0;
    for (size_t i = 0; i < r.nconn; i++) {
        pthread_join(w[i].thread, NULL);
        requests += w[i].requests;
        ok += w[i].ok;
        errors += w[i].errors;
        n += w[i].nlat;
        if (!first_status)
            first_status = w[i].first_status;
    }
    double secs = (double)(now_ns() - r.start_ns) / 1e9;
    double *all = malloc((n ? n : 1) * sizeof(*all));
    if (!all)
        return 1;
    for (size_t i = 0, k = 0; i < r.nconn; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof(*all));
        k += w[i].nlat;
        free(w[i].lat);
    }
    qsort(all, n, sizeof(*all), cmp_double);
    printf("{\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"first_bad_status\":%d,\"target_rate\":%.0f,\"requests_per_s\":%.1f,"
           "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}\n",
           requests, ok, errors, first_status, r.rate, (double)requests / secs,
           quantile(all, n, 0.5), quantile(all, n, 0.9), quantile(all, n, 0.99),
           quantile(all, n, 0.999), n ? all[n - 1] : 0.0);
    free(all);
    free(w);
    for (size_t i = 0; i < r.npaths; i++)
        free(r.paths[i]);
    free(r.paths);
    return 0;
}
