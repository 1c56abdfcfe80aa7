/* xmpp_component.h - the XMPP server's side of one XEP-0114 component link, for a load
 * driver that stands in for the server: listens on a TCP port, accepts one component, answers
 * its stream header with a stream id, checks <handshake/> (hex SHA-1 of the id and the
 * secret) and then hands every top-level stanza to the driver. Output is queued and written
 * when the socket is writable, so the stanzas queued in one loop turn leave together. */
#ifndef HIPPO_BENCH_XMPP_COMPONENT_H
#define HIPPO_BENCH_XMPP_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "xmpp_scan.h"

enum hippo_bench_comp_state {
    HIPPO_BENCH_CO_LISTENING, /* no component connected yet */
    HIPPO_BENCH_CO_HEADER,    /* accepted; waiting for its stream header */
    HIPPO_BENCH_CO_HANDSHAKE, /* our header sent; waiting for <handshake/> */
    HIPPO_BENCH_CO_UP,        /* handshake accepted: stanzas flow */
    HIPPO_BENCH_CO_DEAD,      /* closed (by either side, or refused); never reopened */
};

/* The driver's part; OWNER is handed back to each. */
typedef struct {
    void (*up)(void *owner); /* the handshake was accepted */
    /* a top-level element after the handshake; NAME is its local name */
    void (*stanza)(void *owner, hippo_bench_span e, hippo_bench_span name);
    /* the link is gone (closed, failed, refused); WHY says why */
    void (*lost)(void *owner, const char *why);
} hippo_bench_comp_calls;

typedef struct {
    struct event_base *base;
    const char *domain; /* the component's domain its header must name */
    const char *secret;
    hippo_bench_comp_calls calls;
    void *owner;
    enum hippo_bench_comp_state st;
    int lfd, fd;
    struct event *lev, *rev, *wev;
    char stream_id[40];
    char *in; /* the unscanned tail of the input (owned) */
    size_t in_len, in_cap;
    char *out; /* output not yet taken by the socket: out[out_off..out_len) (owned) */
    size_t out_off, out_len, out_cap;
    hippo_bench_scan scan;
    uint64_t bytes_in, bytes_out, reads, writes;
} hippo_bench_comp;

/* Listens on HOST:PORT (loopback, a free port picked by the caller) for one component of
 * DOMAIN authenticating with SECRET; DOMAIN, SECRET, CALLS' owner and BASE must outlive C.
 * Dies when the port cannot be bound. */
void hippo_bench_comp_listen(hippo_bench_comp *c, struct event_base *base, const char *host,
                             const char *port, const char *domain, const char *secret,
                             const hippo_bench_comp_calls *calls, void *owner);

/* Queues DATA[0..LEN) for the component; dropped when the link is not up. */
void hippo_bench_comp_send(hippo_bench_comp *c, const char *data, size_t len);

/* comp_send of a formatted stanza of at most 4 KiB; dies when longer. */
void hippo_bench_comp_sendf(hippo_bench_comp *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends the stream (best effort, nothing queued is waited for), closes the link and the
 * listener and frees the buffers; C may be closed again. Does not call calls.lost. */
void hippo_bench_comp_close(hippo_bench_comp *c);

#endif
