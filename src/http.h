/* http.h - the loopback HTTP listener (libevent evhttp): GET /healthz and GET /metrics. */
#ifndef HIPPO_HTTP_H
#define HIPPO_HTTP_H

#include <stddef.h>

#include "log.h"

struct event_base;
typedef struct hippo_http hippo_http;

enum hippo_health { HIPPO_HEALTH_DOWN = 0, HIPPO_HEALTH_OK = 1, HIPPO_HEALTH_STANDBY = 2 };

typedef struct hippo_http_handlers {
    /* Returns HIPPO_HEALTH_OK; else HIPPO_HEALTH_DOWN (503) or HIPPO_HEALTH_STANDBY (200,
     * "standby: …": healthy, waiting to take over) and writes a one-line reason into
     * REASON. */
    int (*health)(void *arg, char *reason, size_t reason_len);
    /* GET /healthz?detail: writes a one-line JSON object into OUT (the same status code as
     * /healthz follows from HEALTHY). May be NULL. */
    void (*detail)(void *arg, int healthy, const char *reason, char *out, size_t out_len);
    /* Returns the metrics page as a malloc'd string (the listener frees it). */
    char *(*metrics)(void *arg);
    void *arg;
} hippo_http_handlers;

/* Binds ADDRESS:PORT. Returns NULL with a reason in ERR on failure. Free with
 * hippo_http_free(). HANDLERS is copied. */
hippo_http *hippo_http_new(struct event_base *base, const char *address, int port,
                           const hippo_http_handlers *handlers, const hippo_logger *log, char *err,
                           size_t errlen);
void hippo_http_free(hippo_http *http);

#endif
