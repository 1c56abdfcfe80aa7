/* http.c - the loopback HTTP listener (libevent evhttp): GET /healthz and GET /metrics. */
#include "http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

/* Requests are tiny; these bounds keep a slow or hostile client cheap. */
#define HTTP_MAX_HEADERS_BYTES 8192
#define HTTP_MAX_BODY_BYTES 1024
#define HTTP_TIMEOUT_SECONDS 10
#define HTTP_ALLOW "GET, HEAD"
#define HTTP_REASON_MAX 256

/* Every method evhttp parses: those it refuses itself get 501, we want 405. */
#define HTTP_ALL_METHODS                                                                           \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |     \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

struct hippo_http {
    struct evhttp *evhttp;
    hippo_http_handlers handlers;
    const hippo_logger *log;
};

static void reply(struct evhttp_request *req, int code, const char *status,
                  const char *content_type, const char *body)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", content_type);
    evhttp_add_header(headers, "Cache-Control", "no-store");
    if (code == HTTP_BADMETHOD)
        evhttp_add_header(headers, "Allow", HTTP_ALLOW);
    size_t len = strlen(body);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* evhttp 2.1 would send a body even for HEAD: announce its length only. */
        char length[24];
        snprintf(length, sizeof length, "%zu", len);
        evhttp_add_header(headers, "Content-Length", length);
        evhttp_send_reply(req, code, status, NULL);
        return;
    }
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    if (evbuffer_add(out, body, len) != 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evhttp_send_reply(req, code, status, NULL);
}

static void reply_text(struct evhttp_request *req, int code, const char *status, const char *body)
{
    reply(req, code, status, "text/plain; charset=utf-8", body);
}

static void serve_health(hippo_http *http, struct evhttp_request *req, bool detail)
{
    char reason[HTTP_REASON_MAX] = "";
    int healthy = http->handlers.health == NULL
                      ? HIPPO_HEALTH_OK
                      : http->handlers.health(http->handlers.arg, reason, sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    if (detail && http->handlers.detail != NULL) {
        char body[2 * HTTP_REASON_MAX + 256];
        http->handlers.detail(http->handlers.arg, healthy, reason, body, sizeof body);
        if (healthy != HIPPO_HEALTH_DOWN)
            reply(req, HTTP_OK, "OK", "application/json", body);
        else
            reply(req, HTTP_SERVUNAVAIL, "Service Unavailable", "application/json", body);
        return;
    }
    if (healthy == HIPPO_HEALTH_OK) {
        reply_text(req, HTTP_OK, "OK", "ok\n");
        return;
    }
    if (healthy == HIPPO_HEALTH_STANDBY) { /* healthy: ready to take over */
        char body[HTTP_REASON_MAX + 1];
        snprintf(body, sizeof body, "%s\n", reason);
        reply_text(req, HTTP_OK, "OK", body);
        return;
    }
    char body[HTTP_REASON_MAX + 1];
    snprintf(body, sizeof body, "%s\n", reason[0] != '\0' ? reason : "unhealthy");
    reply_text(req, HTTP_SERVUNAVAIL, "Service Unavailable", body);
}

static void serve_metrics(hippo_http *http, struct evhttp_request *req)
{
    char *page = http->handlers.metrics != NULL ? http->handlers.metrics(http->handlers.arg) : NULL;
    if (page == NULL) {
        hippo_log(http->log, HIPPO_LOG_WARNING, "http: cannot render the metrics page");
        reply_text(req, HTTP_INTERNAL, "Internal Server Error", "metrics unavailable\n");
        return;
    }
    reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", page);
    free(page);
}

/* True when the query string of URI has the parameter NAME (with or without a value). */
static bool query_has(const struct evhttp_uri *uri, const char *name)
{
    const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    size_t n = strlen(name);
    while (q != NULL && *q != '\0') {
        if (strncmp(q, name, n) == 0 && (q[n] == '\0' || q[n] == '=' || q[n] == '&'))
            return true;
        q = strchr(q, '&');
        if (q != NULL)
            q++;
    }
    return false;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    hippo_http *http = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    bool health = path != NULL && strcmp(path, "/healthz") == 0;
    bool metrics = path != NULL && strcmp(path, "/metrics") == 0;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);

    if (!health && !metrics)
        reply_text(req, HTTP_NOTFOUND, "Not Found", "not found\n");
    else if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD)
        reply_text(req, HTTP_BADMETHOD, "Method Not Allowed", "method not allowed\n");
    else if (health)
        serve_health(http, req, query_has(uri, "detail"));
    else
        serve_metrics(http, req);
}

hippo_http *hippo_http_new(struct event_base *base, const char *address, int port,
                           const hippo_http_handlers *handlers, const hippo_logger *log, char *err,
                           size_t errlen)
{
    if (address == NULL || port < 0 || port > 65535) {
        snprintf(err, errlen, "no address, or port %d out of range", port);
        return NULL;
    }
    hippo_http *http = calloc(1, sizeof *http);
    struct evhttp *evhttp = evhttp_new(base);
    if (http == NULL || evhttp == NULL) {
        snprintf(err, errlen, "out of memory");
        free(http);
        if (evhttp != NULL)
            evhttp_free(evhttp);
        return NULL;
    }
    http->evhttp = evhttp;
    http->handlers = *handlers;
    http->log = log;
    evhttp_set_allowed_methods(evhttp, HTTP_ALL_METHODS);
    evhttp_set_max_headers_size(evhttp, HTTP_MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(evhttp, HTTP_MAX_BODY_BYTES);
    evhttp_set_timeout(evhttp, HTTP_TIMEOUT_SECONDS);
    evhttp_set_gencb(evhttp, on_request, http);

    bool bracket = strchr(address, ':') != NULL; /* IPv6: [::1]:8347 */
    errno = 0;
    if (evhttp_bind_socket_with_handle(evhttp, address, (ev_uint16_t)port) == NULL) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s%s%s:%d: %s", bracket ? "[" : "", address,
                 bracket ? "]" : "", port, e != 0 ? strerror(e) : "cannot resolve the address");
        hippo_http_free(http);
        return NULL;
    }
    return http;
}

void hippo_http_free(hippo_http *http)
{
    if (http == NULL)
        return;
    evhttp_free(http->evhttp); /* closes the listener and any open connections */
    free(http);
}
