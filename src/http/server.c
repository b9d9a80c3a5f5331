/* server.c - see server.h. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/gzip.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/metrics.h"
#include "http/server.h"

#define HTTP_MAX_REJECT_LABELS 32
#define BODY_DRAIN_MAX         (16u << 20) /* an over-long body up to this is read before its 413 */

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes;
    size_t nroutes;
    _Atomic int in_flight;
    unsigned port;
};

/* Per-request state, MHD's con_cls. */
struct req_state {
    const struct http_route *route;
    char *body;
    size_t len, cap;
    bool too_large;
    uint64_t start_ns;
    int status;
    struct http_server *server;
};

static struct metrics_histogram latency;
static const int status_codes[] = {200, 400, 401, 404, 405, 413, 415, 429, 500, 503};
static _Atomic uint64_t status_counts[ARRAY_SIZE(status_codes) + 1];
static struct {
    const char *label;
    _Atomic uint64_t n;
} rejects[HTTP_MAX_REJECT_LABELS];
static pthread_mutex_t rejects_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_reject(const char *label)
{
    for (size_t i = 0; i < HTTP_MAX_REJECT_LABELS; i++) {
        const char *l = __atomic_load_n(&rejects[i].label, __ATOMIC_ACQUIRE);
        if (l && strcmp(l, label) == 0) {
            rejects[i].n++;
            return;
        }
        if (!l) {
            pthread_mutex_lock(&rejects_lock);
            if (!rejects[i].label)
                __atomic_store_n(&rejects[i].label, label, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&rejects_lock);
            if (strcmp(rejects[i].label, label) == 0) {
                rejects[i].n++;
                return;
            }
        }
    }
}

void http_server_metrics(struct textbuf *b)
{
    textbuf_printf(b, "# HELP custos_http_requests_total HTTP requests answered, by status.\n"
                      "# TYPE custos_http_requests_total counter\n");
    for (size_t i = 0; i <= ARRAY_SIZE(status_codes); i++) {
        if (i < ARRAY_SIZE(status_codes))
            textbuf_printf(b, "custos_http_requests_total{code=\"%d\"} %" PRIu64 "\n",
                           status_codes[i], (uint64_t)status_counts[i]);
        else
            textbuf_printf(b, "custos_http_requests_total{code=\"other\"} %" PRIu64 "\n",
                           (uint64_t)status_counts[i]);
    }
    textbuf_printf(b, "# HELP custos_http_rejected_total Requests refused, by reason.\n"
                      "# TYPE custos_http_rejected_total counter\n");
    for (size_t i = 0; i < HTTP_MAX_REJECT_LABELS; i++) {
        const char *l = __atomic_load_n(&rejects[i].label, __ATOMIC_ACQUIRE);
        if (!l)
            break;
        textbuf_printf(b, "custos_http_rejected_total{reason=\"%s\"} %" PRIu64 "\n", l,
                       (uint64_t)rejects[i].n);
    }
    metrics_histogram_render(b, "custos_http_request_duration_seconds",
                             "Time from the start of a request to the end of its answer.", "",
                             &latency);
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_text(struct http_response *res, int status, const char *content_type, const char *text,
               size_t len)
{
    free(res->body);
    res->status = status;
    res->content_type = content_type;
    res->body = malloc(len + 1);
    res->body_len = res->body ? len : 0;
    if (res->body) {
        memcpy(res->body, text, len);
        res->body[len] = 0;
    }
}

void http_json(struct http_response *res, int status, cJSON *obj)
{
    /* cJSON may be allocating from the request's arena: copy the text out. */
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        http_text(res, 500, "application/json", "{\"code\":\"out_of_memory\"}", 25);
        return;
    }
    http_text(res, status, "application/json", text, strlen(text));
    cJSON_free(text);
}

void http_error(struct http_response *res, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", false);
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", msg);
    http_json(res, status, o);
    if (!res->reject)
        res->reject = code;
}

static const struct http_route *route_find(struct http_server *s, const char *method,
                                           const char *path, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct http_route *r = &s->routes[i];
        size_t pl = strlen(r->path);
        bool match = pl && r->path[pl - 1] == '*' ? strncmp(path, r->path, pl - 1) == 0
                                                  : strcmp(path, r->path) == 0;
        if (!match)
            continue;
        *path_known = true;
        if (strcmp(method, r->method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
    }
    return NULL;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_state *st,
                                     struct http_response *res)
{
    if (!res->body) {
        /* Only an allocation failure gets here: answer without a body. */
        res->status = res->status ? res->status : 500;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(res->body);
        return MHD_NO;
    }
    res->body = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            res->content_type ? res->content_type : "application/json");
    if (res->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", res->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (res->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->www_auth)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, res->www_auth);
    if (res->status >= 400 && res->reject)
        count_reject(res->reject);
    st->status = res->status;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, struct req_state *st, int status,
                                    const char *code, const char *msg)
{
    struct http_response res = {0};
    http_error(&res, status, code, "%s", msg);
    return send_response(conn, st, &res);
}

static const char *methods_for(struct http_server *s, const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    size_t len = 0;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct http_route *r = &s->routes[i];
        size_t pl = strlen(r->path);
        bool match = pl && r->path[pl - 1] == '*' ? strncmp(path, r->path, pl - 1) == 0
                                                  : strcmp(path, r->path) == 0;
        if (match && !strstr(buf, r->method)) {
            int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", r->method);
            if (n > 0 && (size_t)n < cap - len)
                len += (size_t)n;
        }
    }
    return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct req_state *st = *con_cls;

    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->start_ns = time_mono_ns();
        st->server = s;
        s->in_flight++;
        *con_cls = st;
        bool known;
        st->route = route_find(s, method, url, &known);
        if (!st->route) {
            if (known) {
                char allow[64];
                struct http_response res = {0};
                http_error(&res, 405, "method_not_allowed", "%s is not allowed on %s", method, url);
                res.allow = methods_for(s, url, allow, sizeof(allow));
                res.reject = "method";
                return send_response(conn, st, &res);
            }
            return answer_error(conn, st, 404, "not_found", "no such endpoint");
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > st->route->max_body) {
                /* A client that did not ask "Expect: 100-continue" is still sending: an
                 * answer now, and the close after it, can reach it as a reset before it
                 * reads the 413. Read and drop a body of reasonable size first. */
                if (!errno && !*end && n <= BODY_DRAIN_MAX &&
                    !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect")) {
                    st->too_large = true;
                    return MHD_YES;
                }
                char msg[128];
                snprintf(msg, sizeof(msg), "the body is larger than the %zu bytes allowed here",
                         st->route->max_body);
                return answer_error(conn, st, 413, "body_too_large", msg);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large || st->len + n > st->route->max_body) {
            st->too_large = true;
            return MHD_YES; /* keep reading and dropping, then answer 413 */
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n + 1)
                cap *= 2;
            if (cap > st->route->max_body + 1)
                cap = st->route->max_body + 1;
            char *p = realloc(st->body, cap);
            if (!p)
                return MHD_NO;
            st->body = p;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }

    if (st->too_large) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the body is larger than the %zu bytes allowed here",
                 st->route->max_body);
        return answer_error(conn, st, 413, "body_too_large", msg);
    }
    if (st->body)
        st->body[st->len] = 0;

    const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
    if (enc && strcasecmp(enc, "identity") != 0) {
        if (strcasecmp(enc, "gzip") != 0)
            return answer_error(conn, st, 415, "unsupported_encoding",
                                "Content-Encoding must be gzip or identity");
        char *plain = NULL;
        size_t plain_len = 0;
        struct err e = {0};
        int rc = gzip_inflate(st->body ? st->body : "", st->len, st->route->max_body, &plain,
                              &plain_len, &e);
        if (rc == ERR_LIMIT) {
            char msg[128];
            snprintf(msg, sizeof(msg),
                     "the decompressed body is larger than the %zu bytes "
                     "allowed here",
                     st->route->max_body);
            return answer_error(conn, st, 413, "body_too_large", msg);
        }
        if (rc)
            return answer_error(conn, st, 400, "invalid_gzip", e.msg);
        free(st->body);
        st->body = plain;
        st->len = plain_len;
    }

    struct http_request req = {
        .method = method,
        .path = url,
        .body = st->len ? st->body : NULL,
        .body_len = st->len,
        .conn = conn,
    };
    struct http_response res = {.status = 200};
    st->route->handler(&req, &res, st->route->ctx);
    return send_response(conn, st, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req_state *st = *con_cls;
    if (!st)
        return;
    metrics_observe(&latency, (time_mono_ns() - st->start_ns) / 1000);
    size_t i = 0;
    while (i < ARRAY_SIZE(status_codes) && status_codes[i] != st->status)
        i++;
    status_counts[i]++;
    st->server->in_flight--;
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6, struct err *e)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return err_set(e, ERR_INVALID, "listen address \"%s\" is not HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return err_set(e, ERR_INVALID, "listen host is too long");
    memcpy(host, h, hl);
    host[hl] = 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return err_set(e, ERR_INVALID, "listen port in \"%s\" is not 0..65535", listen);
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
    } else {
        return err_set(e, ERR_INVALID, "listen host \"%s\" is not an IP address", host);
    }
    return 0;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    log_debug("http: %s", line);
}

int http_server_start(const struct http_server_options *opt, const struct http_route *routes,
                      size_t n, struct http_server **out, struct err *e)
{
    struct sockaddr_storage ss;
    bool v6 = false;
    int rc = parse_listen(opt->listen, &ss, &v6, e);
    if (rc)
        return rc;
    bool tls = opt->tls_cert_pem || opt->tls_key_pem;
    if (tls && !(opt->tls_cert_pem && opt->tls_key_pem))
        return err_set(e, ERR_INVALID, "HTTPS needs both a certificate and its key");
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return err_set(e, ERR_INVALID,
                       "this libmicrohttpd was built without TLS: HTTPS is not "
                       "available");
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->routes = routes;
    s->nroutes = n;
    /* The listening socket is made here: libmicrohttpd would set SO_REUSEPORT, letting a
     * second server bind the same port and take half its connections. */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t alen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&ss, alen) || listen(fd, 1024)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        free(s);
        return err_set(e, ERR_IO, "cannot listen on %s: %s", opt->listen, strerror(err));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    /* The TLS options go in only for HTTPS (libmicrohttpd refuses them otherwise). */
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)opt->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opt->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)opt->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opt->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        free(s);
        if (tls)
            return err_set(e, ERR_INVALID,
                           "cannot start the HTTPS server on %s: the certificate or key is not "
                           "valid PEM, or the key is not the certificate's",
                           opt->listen);
        return err_set(e, ERR_IO, "cannot start the HTTP server on %s", opt->listen);
    }
    *out = s;
    return 0;
}

unsigned http_server_port(struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s, int timeout_ms)
{
    if (!s)
        return;
    /* Stop listening at once: new connections are refused rather than left waiting in
     * the backlog until the drain ends. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    while (s->in_flight > 0 && time_mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (s->in_flight > 0)
        log_warn("http: %d requests still in progress after %d ms; closing them", (int)s->in_flight,
                 timeout_ms);
    MHD_stop_daemon(s->daemon);
    free(s);
}
