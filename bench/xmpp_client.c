/* xmpp_client.c - the load drivers' c2s connections and their login. */
#include "xmpp_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void keep_error(hippo_bench_conn *c, const char *what, hippo_bench_span detail)
{
    hippo_bench_first_error_keep(c->set->err, what, detail.p, detail.n);
}

/* ------------------------------------------------------------------ output */

static bool out_append(hippo_bench_conn *c, const char *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        c->out = hippo_bench_xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return event_add(c->wev, NULL) == 0;
}

static bool transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

void hippo_bench_conn_send(hippo_bench_conn *c, const char *data, size_t len)
{
    if (c->fd < 0)
        return;
    if (c->out_len == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n == (ssize_t)len)
            return;
        if (n < 0 && !transient(errno)) {
            hippo_bench_conn_fail(c, strerror(errno));
            return;
        }
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    if (!out_append(c, data, len))
        hippo_bench_conn_fail(c, "event_add failed");
}

void hippo_bench_conn_sendf(hippo_bench_conn *c, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        hippo_bench_die("stanza too long for the send buffer");
    hippo_bench_conn_send(c, buf, (size_t)n);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hippo_bench_conn *c = arg;
    ssize_t n = send(fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (n < 0) {
        if (!transient(errno))
            hippo_bench_conn_fail(c, strerror(errno));
        else
            event_add(c->wev, NULL);
        return;
    }
    memmove(c->out, c->out + n, c->out_len - (size_t)n);
    c->out_len -= (size_t)n;
    if (c->out_len > 0)
        event_add(c->wev, NULL);
}

/* ------------------------------------------------------------------ connection life */

const char *hippo_bench_conn_user_name(const hippo_bench_conn *c, char *buf, size_t size)
{
    snprintf(buf, size, c->set->o->user_fmt, c->set->o->first_user + c->user);
    return buf;
}

static void stream_open(hippo_bench_conn *c)
{
    hippo_bench_conn_sendf(c,
                           "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                           "xmlns:stream='http://etherx.jabber.org/streams' to='%s' "
                           "version='1.0'>",
                           c->set->o->domain);
}

/* Leaves the handshake counters right when a connection ends or finishes logging in. */
static void handshake_over(hippo_bench_conn *c, bool ok)
{
    hippo_bench_clients *cl = c->set;
    cl->in_handshake--;
    if (ok)
        cl->logged_in++;
    else
        cl->login_failed++;
}

static void close_fd(hippo_bench_conn *c)
{
    if (c->fd < 0)
        return;
    event_free(c->rev);
    event_free(c->wev);
    c->rev = c->wev = NULL;
    close(c->fd);
    c->fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}

static bool in_handshake(const hippo_bench_conn *c)
{
    return c->st >= HIPPO_BENCH_CS_CONNECTING && c->st <= HIPPO_BENCH_CS_SESSION;
}

void hippo_bench_conn_fail(hippo_bench_conn *c, const char *why)
{
    hippo_bench_clients *cl = c->set;
    if (c->st == HIPPO_BENCH_CS_DEAD)
        return;
    if (in_handshake(c)) {
        handshake_over(c, false);
        hippo_bench_first_error_keep(cl->err, "login", why, strlen(why));
    } else if (c->st == HIPPO_BENCH_CS_READY) {
        cl->calls.lost(cl->owner, c, why);
    }
    c->st = HIPPO_BENCH_CS_DEAD;
    close_fd(c);
}

static void on_readable(evutil_socket_t fd, short what, void *arg);

static void conn_start(hippo_bench_conn *c)
{
    hippo_bench_clients *cl = c->set;
    cl->started++;
    cl->in_handshake++;
    c->st = HIPPO_BENCH_CS_CONNECTING;
    c->fd = socket(cl->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        hippo_bench_conn_fail(c, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rev = event_new(cl->base, c->fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(cl->base, c->fd, EV_WRITE, on_writable, c);
    if (!c->rev || !c->wev || event_add(c->rev, NULL) != 0) {
        hippo_bench_conn_fail(c, "event_new failed");
        return;
    }
    memset(&c->scan, 0, sizeof c->scan);
    if (connect(c->fd, (struct sockaddr *)&cl->addr, cl->addrlen) != 0 && errno != EINPROGRESS) {
        hippo_bench_conn_fail(c, strerror(errno));
        return;
    }
    c->st = HIPPO_BENCH_CS_FEATURES1;
    stream_open(c); /* queued until the connection is writable; may fail it */
}

static void login_done(hippo_bench_conn *c)
{
    handshake_over(c, true);
    c->st = HIPPO_BENCH_CS_READY;
    if (c->set->calls.ready)
        c->set->calls.ready(c->set->owner, c);
}

/* ------------------------------------------------------------------ login handshake */

/* Standard base64 of IN[0..N) into OUT (NUL-terminated); -1 when OUT is too small. */
static int base64_encode(char *out, size_t size, const char *in, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (4 * ((n + 2) / 3) + 1 > size)
        return -1;
    char *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(uint8_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint8_t)in[i + 2];
        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return (int)(o - out);
}

static void on_features1(hippo_bench_conn *c, hippo_bench_span e)
{
    if (!hippo_bench_elem_contains(e, ">PLAIN<")) {
        hippo_bench_conn_fail(c, "no SASL PLAIN offered");
        return;
    }
    char user[128];
    char raw[512];
    char b64[800];
    hippo_bench_conn_user_name(c, user, sizeof user);
    int n = snprintf(raw, sizeof raw, "%c%s%c%s", 0, user, 0, c->set->o->password);
    if (n < 0 || (size_t)n >= sizeof raw || base64_encode(b64, sizeof b64, raw, (size_t)n) < 0)
        hippo_bench_die("user name or password too long");
    hippo_bench_conn_sendf(
        c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", b64);
    c->st = HIPPO_BENCH_CS_AUTH;
}

static void on_auth_answer(hippo_bench_conn *c, hippo_bench_span e, hippo_bench_span name)
{
    if (hippo_bench_span_eq(name, "success")) {
        hippo_bench_scan_restart(&c->scan);
        stream_open(c);
        c->st = HIPPO_BENCH_CS_FEATURES2;
    } else {
        keep_error(c, "SASL", e);
        hippo_bench_conn_fail(c, "SASL failed");
    }
}

static void on_features2(hippo_bench_conn *c, hippo_bench_span e)
{
    c->need_session =
        hippo_bench_elem_contains(e, "<session") && !hippo_bench_elem_contains(e, "<optional");
    hippo_bench_conn_sendf(c,
                           "<iq type='set' id='bind1'><bind "
                           "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r%d</resource>"
                           "</bind></iq>",
                           c->idx % c->set->o->conns_per_user);
    c->st = HIPPO_BENCH_CS_BIND;
}

/* True when E is the result of our iq ID; an error fails the connection. */
static bool handshake_iq_ok(hippo_bench_conn *c, hippo_bench_span e, const char *id)
{
    hippo_bench_span v;
    if (!hippo_bench_elem_attr(e, "id", &v) || !hippo_bench_span_eq(v, id))
        return false;
    if (hippo_bench_elem_attr(e, "type", &v) && hippo_bench_span_eq(v, "result"))
        return true;
    keep_error(c, id, e);
    hippo_bench_conn_fail(c, "iq failed");
    return false;
}

static void on_bind_answer(hippo_bench_conn *c, hippo_bench_span e)
{
    if (!handshake_iq_ok(c, e, "bind1"))
        return;
    if (!c->need_session) {
        login_done(c);
        return;
    }
    hippo_bench_conn_sendf(c, "<iq type='set' id='sess1'>"
                              "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    c->st = HIPPO_BENCH_CS_SESSION;
}

static void on_session_answer(hippo_bench_conn *c, hippo_bench_span e)
{
    if (handshake_iq_ok(c, e, "sess1"))
        login_done(c);
}

void hippo_bench_conn_answer_request(hippo_bench_conn *c, hippo_bench_span e, hippo_bench_span id)
{
    hippo_bench_span from;
    if (!hippo_bench_elem_attr(e, "from", &from) || id.n > 256 || from.n > 1024)
        return;
    if (hippo_bench_elem_contains(e, "urn:xmpp:ping"))
        hippo_bench_conn_sendf(c, "<iq type='result' id='%.*s' to='%.*s'/>", (int)id.n, id.p,
                               (int)from.n, from.p);
    else
        hippo_bench_conn_sendf(
            c,
            "<iq type='error' id='%.*s' to='%.*s'><error type='cancel'>"
            "<feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            "</error></iq>",
            (int)id.n, id.p, (int)from.n, from.p);
}

/* ------------------------------------------------------------------ input */

static void handle_element(hippo_bench_conn *c, hippo_bench_span e)
{
    hippo_bench_span name = hippo_bench_elem_name(e);
    bool prefixed = name.p != e.p + 1;
    if (prefixed && hippo_bench_span_eq(name, "error")) {
        c->set->stream_errors++;
        keep_error(c, "stream error", e);
        hippo_bench_conn_fail(c, "stream error");
        return;
    }
    bool features = prefixed && hippo_bench_span_eq(name, "features");
    switch (c->st) {
    case HIPPO_BENCH_CS_FEATURES1:
        if (features)
            on_features1(c, e);
        break;
    case HIPPO_BENCH_CS_AUTH:
        on_auth_answer(c, e, name);
        break;
    case HIPPO_BENCH_CS_FEATURES2:
        if (features)
            on_features2(c, e);
        break;
    case HIPPO_BENCH_CS_BIND:
        on_bind_answer(c, e);
        break;
    case HIPPO_BENCH_CS_SESSION:
        on_session_answer(c, e);
        break;
    default:
        c->set->calls.stanza(c->set->owner, c, e, name);
    }
}

/* Reads into the shared scratch buffer when nothing is pending (the common case: only the
 * tail of a split element is ever copied into the connection's own buffer). */
static ssize_t read_some(hippo_bench_conn *c, char **data)
{
    hippo_bench_clients *cl = c->set;
    if (c->in_len == 0) {
        *data = cl->scratch;
        return recv(c->fd, cl->scratch, cl->read_chunk, 0);
    }
    if (c->in_cap - c->in_len < cl->read_chunk) {
        c->in_cap = c->in_len + cl->read_chunk;
        c->in = hippo_bench_xrealloc(c->in, c->in_cap);
    }
    *data = c->in;
    ssize_t n = recv(c->fd, c->in + c->in_len, cl->read_chunk, 0);
    return n > 0 ? n + (ssize_t)c->in_len : n;
}

/* Keeps the unscanned tail of DATA[0..LEN) in the connection's buffer. */
static void keep_tail(hippo_bench_conn *c, char *data, size_t len)
{
    size_t keep = hippo_bench_scan_keep_from(&c->scan);
    size_t tail = len - keep;
    if (data != c->in && tail > c->in_cap) {
        c->in = hippo_bench_xrealloc(c->in, tail + c->set->read_chunk);
        c->in_cap = tail + c->set->read_chunk;
    }
    if (tail > 0)
        memmove(c->in, data + keep, tail);
    c->in_len = tail;
    hippo_bench_scan_shift(&c->scan, keep);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hippo_bench_conn *c = arg;
    char *data;
    ssize_t len = read_some(c, &data);
    if (len == 0) {
        hippo_bench_conn_fail(c, "server closed the connection");
        return;
    }
    if (len < 0) {
        if (!transient(errno))
            hippo_bench_conn_fail(c, strerror(errno));
        return;
    }
    hippo_bench_span e;
    while (c->fd >= 0 && hippo_bench_scan_next(&c->scan, data, (size_t)len, &e))
        handle_element(c, e);
    if (c->fd < 0)
        return;
    if (c->scan.closed) {
        hippo_bench_conn_fail(c, "server closed the stream");
        return;
    }
    keep_tail(c, data, (size_t)len);
}

/* ------------------------------------------------------------------ the set */

static void resolve(hippo_bench_clients *cl)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(cl->o->host, cl->o->port, &hints, &res);
    if (rc != 0)
        hippo_bench_die("%s:%s: %s", cl->o->host, cl->o->port, gai_strerror(rc));
    memcpy(&cl->addr, res->ai_addr, res->ai_addrlen);
    cl->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

void hippo_bench_clients_init(hippo_bench_clients *cl, const hippo_bench_client_opts *o,
                              struct event_base *base, int n, size_t conn_size, size_t read_chunk,
                              const hippo_bench_conn_calls *calls, void *owner,
                              hippo_bench_first_error *err)
{
    memset(cl, 0, sizeof *cl);
    cl->o = o;
    cl->base = base;
    cl->n = n;
    cl->conn_size = conn_size;
    cl->read_chunk = read_chunk;
    cl->calls = *calls;
    cl->owner = owner;
    cl->err = err;
    resolve(cl);
    cl->conns = calloc((size_t)n, conn_size);
    cl->scratch = malloc(read_chunk);
    if (!cl->conns || !cl->scratch)
        hippo_bench_die("out of memory");
    for (int i = 0; i < n; i++) {
        hippo_bench_conn *c = hippo_bench_clients_at(cl, i);
        c->set = cl;
        c->fd = -1;
        c->idx = i;
        c->user = i / o->conns_per_user;
    }
}

hippo_bench_conn *hippo_bench_clients_at(const hippo_bench_clients *cl, int i)
{
    return (hippo_bench_conn *)(void *)(cl->conns + (size_t)i * cl->conn_size);
}

bool hippo_bench_clients_login_tick(hippo_bench_clients *cl, double elapsed, double timeout)
{
    long allowed = (long)(cl->o->login_rate * elapsed) + 1;
    while (cl->cursor < cl->n && cl->started < allowed && cl->in_handshake < cl->o->max_pending)
        conn_start(hippo_bench_clients_at(cl, cl->cursor++));
    if (!(cl->cursor == cl->n && cl->in_handshake == 0) && elapsed < timeout)
        return false;
    for (int i = 0; i < cl->n; i++) {
        hippo_bench_conn *c = hippo_bench_clients_at(cl, i);
        if (in_handshake(c))
            hippo_bench_conn_fail(c, "login timed out");
    }
    cl->login_failed += cl->n - cl->cursor; /* never started */
    cl->cursor = cl->n;
    return true;
}

void hippo_bench_clients_close(hippo_bench_clients *cl)
{
    for (int i = 0; i < cl->n; i++) {
        hippo_bench_conn *c = hippo_bench_clients_at(cl, i);
        if (c->fd >= 0 && c->out_len == 0)
            (void)!send(c->fd, "</stream:stream>", 16, MSG_NOSIGNAL);
        close_fd(c);
    }
}

void hippo_bench_clients_free(hippo_bench_clients *cl)
{
    for (int i = 0; cl->conns && i < cl->n; i++)
        close_fd(hippo_bench_clients_at(cl, i));
    free(cl->conns);
    free(cl->scratch);
    cl->conns = cl->scratch = NULL;
}
