/* server.h - the HTTP server: libmicrohttpd underneath, a route table on top.
 *
 * One thread per connection, so a handler may block (collection handlers wait for
 * the group commit that holds their messages). The server enforces each route's
 * body limit before the handler runs (413 without reading a body whose
 * Content-Length is over it), inflates gzip bodies within the same limit, and times
 * every request for /metrics. Handlers fill a struct http_response. */
#ifndef CUSTOS_HTTP_SERVER_H
#define CUSTOS_HTTP_SERVER_H

#include <cJSON.h>

#include "core/common.h"

struct http_request {
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* NUL-terminated after decoding; NULL when empty */
    size_t body_len;
    void *conn; /* the libmicrohttpd connection, for http_header/http_query */
};

struct http_response {
    int status;
    const char *content_type; /* default application/json */
    char *body;               /* malloc'd, freed by the server */
    size_t body_len;
    int retry_after;      /* seconds; sets Retry-After when > 0 */
    const char *allow;    /* sets Allow on 405 */
    const char *reject;   /* a short reason label for the rejected-requests metric */
    const char *www_auth; /* sets WWW-Authenticate on 401 */
};

typedef void (*http_handler)(const struct http_request *req, struct http_response *res, void *ctx);

struct http_route {
    const char *method; /* "GET", "POST" */
    const char *path;   /* exact path, or a prefix when it ends with '*' */
    http_handler handler;
    size_t max_body; /* bytes, before and after gzip decoding; 0 for no body */
    void *ctx;
};

/* A request header's value, or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* A query-string argument's value, or NULL. */
const char *http_query(const struct http_request *req, const char *name);

/* Fills res with status and a JSON object {"code": code, "message": message}. */
void http_error(struct http_response *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fills res with status and the printed JSON of obj (which it frees). */
void http_json(struct http_response *res, int status, cJSON *obj);
/* Fills res with status and a copy of text. */
void http_text(struct http_response *res, int status, const char *content_type, const char *text,
               size_t len);

struct http_server;

struct http_server_options {
    const char *listen; /* HOST:PORT; IPv6 as [::1]:PORT; port 0 picks a free one */
    unsigned max_connections;
    unsigned timeout_s;
    /* HTTPS: the PEM certificate chain and private key (NUL-terminated text), both or
     * neither; with them the server speaks TLS only. */
    const char *tls_cert_pem, *tls_key_pem;
};

/* Starts serving routes[0..n) (the table must outlive the server). Returns 0 and
 * the server, or ERR_INVALID (a bad address; TLS asked of a libmicrohttpd without it;
 * one of certificate and key without the other) / ERR_IO with the reason in e. */
int http_server_start(const struct http_server_options *opt, const struct http_route *routes,
                      size_t n, struct http_server **out, struct err *e);

/* The port actually bound. */
unsigned http_server_port(struct http_server *s);

/* Stops accepting connections, waits up to timeout_ms for requests in progress to
 * be answered, then closes everything and frees s. */
void http_server_stop(struct http_server *s, int timeout_ms);

/* Appends the server's metrics in Prometheus text format to out. */
struct textbuf;
void http_server_metrics(struct textbuf *out);

#endif
