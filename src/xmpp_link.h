/* xmpp_link.h - the XEP-0114 component connection (libstrophe) driven by the libevent loop,
 * with reconnects (capped exponential backoff + jitter). */
#ifndef HIPPO_XMPP_LINK_H
#define HIPPO_XMPP_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "log.h"
#include "metrics.h"

struct event_base;
typedef struct hippo_link hippo_link;

/* Every stanza received from the server (the link keeps ownership of STANZA). */
typedef void (*hippo_link_stanza_cb)(xmpp_stanza_t *stanza, void *arg);
/* Called when the link goes up or down; REASON says why it is down (NULL when up).
 * CLOSED is true once a requested shutdown has finished. */
typedef void (*hippo_link_state_cb)(bool up, const char *reason, bool closed, void *arg);

typedef struct hippo_link_options {
    const char *host; /* numeric address preferred: libstrophe resolves names blocking */
    int port;
    const char *domain;
    const char *secret;
    unsigned reconnect_min_ms;
    unsigned reconnect_max_ms;
    unsigned standby_retry_ms; /* the fixed retry interval while on standby */
    bool debug_xml;            /* forward libstrophe's debug output (stanza dumps) to the log */
    hippo_link_stanza_cb on_stanza;
    hippo_link_state_cb on_state;
    void *arg;
} hippo_link_options;

/* Copies the options. Returns NULL on allocation failure; free with hippo_link_free(). */
hippo_link *hippo_link_new(struct event_base *base, const hippo_link_options *opts,
                           const hippo_logger *log, hippo_metrics *metrics);

/* Starts connecting (and reconnecting until shutdown). */
void hippo_link_start(hippo_link *link);

bool hippo_link_is_up(const hippo_link *link);
/* The server refused the connection with a stream <conflict/>: another process holds the
 * component domain (Prosody allows one connection per component). The link is then the
 * standby: it retries at the fixed standby_retry_ms and takes over when that one is gone. */
bool hippo_link_is_standby(const hippo_link *link);
/* Monotonic microseconds of the last stanza received, 0 when none since start. */
uint64_t hippo_link_last_stanza_usec(const hippo_link *link);
const char *hippo_link_down_reason(const hippo_link *link);
xmpp_ctx_t *hippo_link_ctx(hippo_link *link);
const char *hippo_link_domain(const hippo_link *link);

/* Queues STANZA for the server; sets `from` to the component domain when missing, counts it,
 * and schedules a flush on the loop. The caller keeps its reference. Returns 0, or -1 when
 * the link is down (the stanza is dropped and counted). */
int hippo_link_send(hippo_link *link, xmpp_stanza_t *stanza);

/* Like hippo_link_send() for a stanza already serialised: TEXT (LEN bytes, copied), one
 * complete stanza of element NAME with its from and to. */
int hippo_link_send_text(hippo_link *link, const char *name, const char *text, size_t len);

/* Closes the stream properly; on_state(closed=true) follows when done (or after 3 s). */
void hippo_link_shutdown(hippo_link *link);

void hippo_link_free(hippo_link *link);

#endif
