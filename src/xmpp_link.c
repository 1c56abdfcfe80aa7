/* xmpp_link.c - the XEP-0114 component connection, driven from the libevent loop.
 *
 * libstrophe has no external event-loop API: its socket is only visible in the sockopt
 * callback, and xmpp_send() only queues bytes that go out on the next xmpp_run_once().
 * So the link watches the socket itself and calls xmpp_run_once(ctx, 0) (never blocking)
 * whenever the socket is readable/writable, after sends, and on a short periodic tick for
 * libstrophe's own timers. xmpp_run() is never used. */
#include "xmpp_link.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "sdnotify.h"

#define LINK_TICK_MS 100
#define LINK_CLOSE_TIMEOUT_S 3

enum link_state {
    LINK_IDLE,       /* not started */
    LINK_CONNECTING, /* TCP connect or handshake under way */
    LINK_UP,         /* handshake accepted */
    LINK_WAITING,    /* down, reconnect timer armed */
    LINK_CLOSING,    /* shutdown requested, stream closing */
    LINK_CLOSED,     /* shut down for good */
};

struct hippo_link {
    struct event_base *base;
    const hippo_logger *log;
    hippo_metrics *metrics;
    hippo_link_options opts; /* strings owned (strdup) */

    xmpp_log_t xlog;
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    bool sm_primed;
    bool handler_added;
    bool freeing;

    int fd;
    short io_flags;
    struct event *ev_io;
    struct event *ev_tick;
    struct event *ev_flush;
    struct event *ev_retry;
    struct event *ev_close;

    enum link_state state;
    hippo_backoff backoff;
    unsigned attempts;
    char reason[256];          /* why the link is down */
    char logged_reason[256];   /* the last failure logged at warning level */
    const char *forced_reason; /* why we closed the connection ourselves, if we did */
    int connect_error;         /* the socket's error while connecting, 0 if none */
    bool standby;              /* the last attempt was refused with <conflict/> */
    uint64_t last_stanza_usec; /* monotonic, of the last stanza received; 0: none */
};

/*
 * libstrophe's sockopt callback is the only place where the socket is visible, and it has no
 * user-data argument. It runs synchronously inside xmpp_connect_*(), so this one file-scope
 * slot is written and read only within such a call on the loop thread.
 */
static struct {
    int fd;
    bool fail; /* make the connect fail synchronously (see prime_sm_state) */
} sockopt_slot = {-1, false};

static int capture_socket(xmpp_conn_t *conn, void *sock)
{
    if (sockopt_slot.fail)
        return -1;
    sockopt_slot.fd = *(int *)sock;
    /* Nagle's algorithm held answers back for up to an ACK round; pump() corks instead. */
    int one = 1;
    setsockopt(sockopt_slot.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

static void on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *stream_error, void *arg);

static void ignore_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                              xmpp_stream_error_t *stream_error, void *arg)
{
    (void)conn, (void)event, (void)error, (void)stream_error, (void)arg;
}

/*
 * WORKAROUND (libstrophe 0.12.x .. 0.14.0): conn->sm_state (stream management) is allocated
 * only by xmpp_connect_client(), yet the stanza dispatcher and the disconnect path dereference
 * it for component connections too, so the first stanza after <handshake/> crashes. Starting a
 * client connect that our sockopt callback aborts synchronously (XMPP_EINT) allocates the state
 * and leaves the connection disconnected; xmpp_conn_release() frees it. Needed once per
 * connection object; reconnects on the same object keep it.
 */
static void prime_sm_state(hippo_link *link)
{
    if (link->sm_primed)
        return;
    xmpp_conn_set_jid(link->conn, link->opts.domain);
    sockopt_slot.fail = true;
    int rc = xmpp_connect_client(link->conn, link->opts.host, (unsigned short)link->opts.port,
                                 ignore_conn_event, link);
    sockopt_slot.fail = false;
    hippo_log(link->log, HIPPO_LOG_DEBUG, "xmpp: stream-management state primed (rc %d)", rc);
    link->sm_primed = true;
}

static const char *stream_error_name(xmpp_error_type_t type)
{
    static const char *const names[] = {
        [XMPP_SE_BAD_FORMAT] = "bad-format",
        [XMPP_SE_BAD_NS_PREFIX] = "bad-namespace-prefix",
        [XMPP_SE_CONFLICT] = "conflict",
        [XMPP_SE_CONN_TIMEOUT] = "connection-timeout",
        [XMPP_SE_HOST_GONE] = "host-gone",
        [XMPP_SE_HOST_UNKNOWN] = "host-unknown",
        [XMPP_SE_IMPROPER_ADDR] = "improper-addressing",
        [XMPP_SE_INTERNAL_SERVER_ERROR] = "internal-server-error",
        [XMPP_SE_INVALID_FROM] = "invalid-from",
        [XMPP_SE_INVALID_ID] = "invalid-id",
        [XMPP_SE_INVALID_NS] = "invalid-namespace",
        [XMPP_SE_INVALID_XML] = "invalid-xml",
        [XMPP_SE_NOT_AUTHORIZED] = "not-authorized",
        [XMPP_SE_POLICY_VIOLATION] = "policy-violation",
        [XMPP_SE_REMOTE_CONN_FAILED] = "remote-connection-failed",
        [XMPP_SE_RESOURCE_CONSTRAINT] = "resource-constraint",
        [XMPP_SE_RESTRICTED_XML] = "restricted-xml",
        [XMPP_SE_SEE_OTHER_HOST] = "see-other-host",
        [XMPP_SE_SYSTEM_SHUTDOWN] = "system-shutdown",
        [XMPP_SE_UNDEFINED_CONDITION] = "undefined-condition",
        [XMPP_SE_UNSUPPORTED_ENCODING] = "unsupported-encoding",
        [XMPP_SE_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
        [XMPP_SE_UNSUPPORTED_VERSION] = "unsupported-version",
        [XMPP_SE_XML_NOT_WELL_FORMED] = "not-well-formed",
    };
    if ((size_t)type < sizeof names / sizeof names[0] && names[type])
        return names[type];
    return "unknown";
}

static void describe_failure(hippo_link *link, bool was_connecting, int error,
                             const xmpp_stream_error_t *se)
{
    /* Prosody refuses a second connection for a component domain with <conflict/>: this
     * hippod is then the standby of the one connected (docs/deployment.md, "Several
     * hippods"), not failing. */
    link->standby = !link->forced_reason && se && se->type == XMPP_SE_CONFLICT;
    if (link->forced_reason) {
        snprintf(link->reason, sizeof link->reason, "%s", link->forced_reason);
        link->forced_reason = NULL;
    } else if (se && se->type == XMPP_SE_CONFLICT)
        snprintf(link->reason, sizeof link->reason,
                 "standby: another connection holds %s (conflict); trying again every %u ms",
                 link->opts.domain, link->opts.standby_retry_ms);
    else if (se && se->type == XMPP_SE_NOT_AUTHORIZED)
        snprintf(link->reason, sizeof link->reason,
                 "server rejected the component secret for %s (not-authorized)", link->opts.domain);
    else if (se)
        snprintf(link->reason, sizeof link->reason, "stream error %s%s%s",
                 stream_error_name(se->type), se->text ? ": " : "", se->text ? se->text : "");
    else if (error || link->connect_error)
        snprintf(link->reason, sizeof link->reason, "%s:%d: %s", link->opts.host, link->opts.port,
                 strerror(error ? error : link->connect_error));
    else if (was_connecting)
        snprintf(link->reason, sizeof link->reason,
                 "%s:%d closed the connection during the handshake (wrong domain or secret, or "
                 "an error on the server: see its log)",
                 link->opts.host, link->opts.port);
    else
        snprintf(link->reason, sizeof link->reason, "%s:%d closed the connection", link->opts.host,
                 link->opts.port);
}

static void update_io(hippo_link *link)
{
    bool watching = link->fd >= 0 && (link->state == LINK_CONNECTING || link->state == LINK_UP ||
                                      link->state == LINK_CLOSING);
    short want = 0;
    if (watching) {
        want = EV_READ | EV_PERSIST;
        if (link->state == LINK_CONNECTING || xmpp_conn_send_queue_len(link->conn) > 0)
            want |= EV_WRITE;
    }
    if (want == link->io_flags)
        return;
    event_del(link->ev_io);
    link->io_flags = want;
    if (!want)
        return;
    event_assign(link->ev_io, link->base, link->fd, want, event_get_callback(link->ev_io), link);
    event_add(link->ev_io, NULL);
}

static void set_cork(hippo_link *link, int on)
{
    if (link->fd >= 0 && link->state != LINK_CONNECTING)
        setsockopt(link->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

/* Reads and dispatches what arrived, then writes what the handlers queued. libstrophe
 * send()s each queued stanza on its own; with TCP_NODELAY that would be one packet per
 * stanza, so the socket is corked meanwhile and the whole turn leaves in full packets. */
static void pump(hippo_link *link)
{
    set_cork(link, 1);
    xmpp_run_once(link->ctx, 0);
    xmpp_run_once(link->ctx, 0);
    set_cork(link, 0);
    update_io(link);
}

/* libstrophe 0.12 reports a failed TCP connect with error 0, which would read as a rejected
 * handshake; so the link takes the socket's error first. Reading SO_ERROR clears it, but the
 * socket stays unconnected and libstrophe still fails the attempt. */
static void note_connect_error(hippo_link *link)
{
    if (link->state != LINK_CONNECTING || link->fd < 0 || link->connect_error)
        return;
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(link->fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0)
        link->connect_error = error;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    note_connect_error(arg);
    pump(arg);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pump(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_link *link = arg;
    if (link->state == LINK_CONNECTING || link->state == LINK_UP || link->state == LINK_CLOSING)
        pump(link);
}

static void schedule_retry(hippo_link *link)
{
    /* a standby retries at a short fixed interval, to take over soon after the active one
     * is gone; the backoff is for failures */
    uint32_t ms = link->standby ? link->opts.standby_retry_ms : hippo_backoff_next(&link->backoff);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    link->state = LINK_WAITING;
    evtimer_add(link->ev_retry, &tv);
    hippo_log(link->log, HIPPO_LOG_DEBUG, "xmpp: next connection attempt in %u ms", ms);
}

/* Logs a failure once per change of reason, not once per retry. */
static void log_failure(hippo_link *link, bool was_up)
{
    bool fresh = was_up || strcmp(link->reason, link->logged_reason) != 0;
    if (link->standby)
        hippo_log(link->log, fresh ? HIPPO_LOG_NOTICE : HIPPO_LOG_DEBUG, "xmpp link: %s",
                  link->reason);
    else
        hippo_log(link->log, fresh ? HIPPO_LOG_WARNING : HIPPO_LOG_DEBUG,
                  "xmpp link down: %s; retrying with backoff", link->reason);
    if (fresh)
        snprintf(link->logged_reason, sizeof link->logged_reason, "%s", link->reason);
}

static void link_failed(hippo_link *link, bool was_up)
{
    link->metrics->link_up = false;
    link->metrics->link_standby = link->standby;
    log_failure(link, was_up);
    schedule_retry(link);
    if (link->opts.on_state)
        link->opts.on_state(false, link->reason, false, link->opts.arg);
}

static void connect_now(hippo_link *link)
{
    prime_sm_state(link);
    xmpp_conn_set_jid(link->conn, link->opts.domain);
    xmpp_conn_set_pass(link->conn, link->opts.secret);
    if (link->attempts++ > 0)
        hippo_metrics_count(&link->metrics->reconnects, "xmpp");
    link->connect_error = 0;
    sockopt_slot.fd = -1;
    int rc = xmpp_connect_component(link->conn, link->opts.host, (unsigned short)link->opts.port,
                                    on_conn_event, link);
    int fd = sockopt_slot.fd;
    sockopt_slot.fd = -1;
    if (rc != XMPP_EOK || fd < 0) {
        snprintf(link->reason, sizeof link->reason, "cannot connect to %s:%d (libstrophe error %d)",
                 link->opts.host, link->opts.port, rc);
        link_failed(link, false);
        return;
    }
    link->state = LINK_CONNECTING;
    if (fd >= FD_SETSIZE) { /* xmpp_run_once() uses select() */
        link->forced_reason = "socket descriptor above FD_SETSIZE (too many open files)";
        xmpp_disconnect(link->conn); /* reports the failure through on_conn_event */
        return;
    }
    link->fd = fd;
    update_io(link);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    connect_now(arg);
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *arg)
{
    (void)conn;
    hippo_link *link = arg;
    link->last_stanza_usec = hippo_monotonic_usec();
    link->metrics->link_last_stanza_usec = link->last_stanza_usec;
    if (link->opts.on_stanza)
        link->opts.on_stanza(stanza, link->opts.arg);
    return 1; /* stay registered */
}

static void link_connected(hippo_link *link)
{
    link->state = LINK_UP;
    link->reason[0] = '\0';
    link->logged_reason[0] = '\0';
    hippo_backoff_reset(&link->backoff);
    if (!link->handler_added) {
        xmpp_handler_add(link->conn, on_stanza, NULL, NULL, NULL, link);
        link->handler_added = true;
    }
    link->metrics->link_up = true;
    link->metrics->link_standby = false;
    hippo_log(link->log, HIPPO_LOG_NOTICE, "xmpp link up: %s:%d as %s%s", link->opts.host,
              link->opts.port, link->opts.domain,
              link->standby ? " (standby no more: taking over)" : "");
    link->standby = false;
    if (link->opts.on_state)
        link->opts.on_state(true, NULL, false, link->opts.arg);
}

static void link_closed(hippo_link *link)
{
    link->state = LINK_CLOSED;
    link->metrics->link_up = false;
    evtimer_del(link->ev_close);
    hippo_log(link->log, HIPPO_LOG_NOTICE, "xmpp link closed");
    if (link->opts.on_state)
        link->opts.on_state(false, "shut down", true, link->opts.arg);
}

/* Runs inside xmpp_run_once() or xmpp_disconnect(): never reconnect from here (a timer
 * does), and the socket is already closed, so only forget about it. */
static void on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *stream_error, void *arg)
{
    (void)conn;
    hippo_link *link = arg;
    if (link->freeing)
        return;
    if (event == XMPP_CONN_CONNECT) {
        link_connected(link);
        return;
    }
    if (event == XMPP_CONN_RAW_CONNECT)
        return;
    bool was_up = link->state == LINK_UP;
    bool was_connecting = link->state == LINK_CONNECTING;
    if (link->handler_added) {
        xmpp_handler_delete(link->conn, on_stanza);
        link->handler_added = false;
    }
    event_del(link->ev_io);
    link->io_flags = 0;
    link->fd = -1;
    if (link->state == LINK_CLOSING || link->state == LINK_CLOSED) {
        if (link->state == LINK_CLOSING)
            link_closed(link);
        return;
    }
    describe_failure(link, was_connecting, error, stream_error);
    link_failed(link, was_up);
}

static void on_close_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_link *link = arg;
    if (link->state == LINK_CLOSED)
        return;
    if (link->fd >= 0)
        hippo_log(link->log, HIPPO_LOG_WARNING, "xmpp: server did not close the stream in time");
    link_closed(link);
}

/* libstrophe's own messages: its errors are reported by the link with more context, and its
 * debug output dumps stanzas (the handshake digest included), so it is opt-in. */
static void on_strophe_log(void *arg, xmpp_log_level_t level, const char *area, const char *msg)
{
    hippo_link *link = arg;
    if (level == XMPP_LEVEL_DEBUG && !link->opts.debug_xml)
        return;
    enum hippo_log_level ours = level >= XMPP_LEVEL_WARN ? HIPPO_LOG_INFO : HIPPO_LOG_DEBUG;
    hippo_log(link->log, ours, "libstrophe %s: %s", area, msg);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

hippo_link *hippo_link_new(struct event_base *base, const hippo_link_options *opts,
                           const hippo_logger *log, hippo_metrics *metrics)
{
    hippo_link *link = calloc(1, sizeof *link);
    if (!link)
        return NULL;
    link->base = base;
    link->log = log;
    link->metrics = metrics;
    link->opts = *opts;
    link->opts.host = dup_or_empty(opts->host);
    link->opts.domain = dup_or_empty(opts->domain);
    link->opts.secret = dup_or_empty(opts->secret);
    link->fd = -1;
    link->xlog.handler = on_strophe_log;
    link->xlog.userdata = link;
    link->ctx = xmpp_ctx_new(NULL, &link->xlog);
    link->conn = link->ctx ? xmpp_conn_new(link->ctx) : NULL;
    link->ev_io = event_new(base, -1, 0, on_io, link);
    link->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, link);
    link->ev_flush = event_new(base, -1, 0, on_flush, link);
    link->ev_retry = evtimer_new(base, on_retry, link);
    link->ev_close = evtimer_new(base, on_close_timeout, link);
    if (!link->opts.host || !link->opts.domain || !link->opts.secret || !link->conn ||
        !link->ev_io || !link->ev_tick || !link->ev_flush || !link->ev_retry || !link->ev_close) {
        hippo_link_free(link);
        return NULL;
    }
    xmpp_conn_set_sockopt_callback(link->conn, capture_socket);
    hippo_backoff_init(&link->backoff, opts->reconnect_min_ms, opts->reconnect_max_ms,
                       (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    return link;
}

void hippo_link_start(hippo_link *link)
{
    struct timeval tick = {.tv_sec = 0, .tv_usec = LINK_TICK_MS * 1000};
    event_add(link->ev_tick, &tick);
    connect_now(link);
}

bool hippo_link_is_standby(const hippo_link *link)
{
    return link->standby && link->state != LINK_UP;
}

uint64_t hippo_link_last_stanza_usec(const hippo_link *link)
{
    return link->last_stanza_usec;
}

bool hippo_link_is_up(const hippo_link *link)
{
    return link->state == LINK_UP;
}

const char *hippo_link_down_reason(const hippo_link *link)
{
    if (link->state == LINK_UP)
        return NULL;
    if (link->state == LINK_IDLE || (link->state == LINK_CONNECTING && !link->reason[0]))
        return "connecting";
    return link->reason[0] ? link->reason : "not connected";
}

xmpp_ctx_t *hippo_link_ctx(hippo_link *link)
{
    return link->ctx;
}

const char *hippo_link_domain(const hippo_link *link)
{
    return link->opts.domain;
}

/* Counts a stanza NAME about to be sent; false (and counted as a drop) when the link is
 * down. */
static bool may_send(hippo_link *link, const char *name)
{
    if (link->state != LINK_UP) {
        hippo_metrics_count(&link->metrics->drops, "link-down");
        hippo_log(link->log, HIPPO_LOG_DEBUG, "xmpp: link down, dropping outgoing <%s>",
                  name ? name : "?");
        return false;
    }
    link->metrics->stanzas_out[hippo_stanza_kind_of(name ? name : "")]++;
    return true;
}

int hippo_link_send(hippo_link *link, xmpp_stanza_t *stanza)
{
    if (!may_send(link, xmpp_stanza_get_name(stanza)))
        return -1;
    if (!xmpp_stanza_get_from(stanza))
        xmpp_stanza_set_from(stanza, link->opts.domain);
    xmpp_send(link->conn, stanza);
    event_active(link->ev_flush, EV_TIMEOUT, 0); /* coalesces until the loop runs it */
    return 0;
}

int hippo_link_send_text(hippo_link *link, const char *name, const char *text, size_t len)
{
    if (!may_send(link, name))
        return -1;
    xmpp_send_raw(link->conn, text, len);
    event_active(link->ev_flush, EV_TIMEOUT, 0);
    return 0;
}

void hippo_link_shutdown(hippo_link *link)
{
    evtimer_del(link->ev_retry);
    if (link->state == LINK_UP || link->state == LINK_CONNECTING) {
        link->state = LINK_CLOSING;
        struct timeval tv = {.tv_sec = LINK_CLOSE_TIMEOUT_S, .tv_usec = 0};
        evtimer_add(link->ev_close, &tv);
        xmpp_disconnect(link->conn); /* sends </stream:stream>, waits for the server's */
        if (link->state == LINK_CLOSING)
            pump(link);
        return;
    }
    if (link->state != LINK_CLOSED) {
        link->state = LINK_CLOSING;
        event_active(link->ev_close, EV_TIMEOUT, 0); /* report "closed" from the loop */
    }
}

void hippo_link_free(hippo_link *link)
{
    if (!link)
        return;
    link->freeing = true;
    if (link->ev_io)
        event_free(link->ev_io);
    if (link->ev_tick)
        event_free(link->ev_tick);
    if (link->ev_flush)
        event_free(link->ev_flush);
    if (link->ev_retry)
        event_free(link->ev_retry);
    if (link->ev_close)
        event_free(link->ev_close);
    if (link->conn)
        xmpp_conn_release(link->conn);
    if (link->ctx)
        xmpp_ctx_free(link->ctx);
    if (link->opts.secret)
        explicit_bzero((char *)link->opts.secret, strlen(link->opts.secret));
    free((char *)link->opts.host);
    free((char *)link->opts.domain);
    free((char *)link->opts.secret);
    free(link);
}
