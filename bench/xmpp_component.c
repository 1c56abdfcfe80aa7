/* xmpp_component.c - the server's side of one XEP-0114 component link for a load driver. */
#include "xmpp_component.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

#define READ_CHUNK 65536

static bool transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* ------------------------------------------------------------------ output */

static void queue(hippo_bench_comp *c, const char *data, size_t len)
{
    if (c->fd < 0)
        return;
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + len > c->out_cap) {
        if (c->out_off > 0) { /* reuse the space already written before growing */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 65536;
        while (cap < c->out_len + len)
            cap *= 2;
        if (cap != c->out_cap) {
            c->out = hippo_bench_xrealloc(c->out, cap);
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    /* written once the loop turn is over: what this turn queues goes out in one send() */
    event_add(c->wev, NULL);
}

/* Writes what the socket takes now; false on a hard error. */
static bool flush_some(hippo_bench_comp *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0)
            return transient(errno);
        c->writes++;
        c->bytes_out += (uint64_t)n;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return true;
}

void hippo_bench_comp_send(hippo_bench_comp *c, const char *data, size_t len)
{
    if (c->st == HIPPO_BENCH_CO_UP)
        queue(c, data, len);
}

void hippo_bench_comp_sendf(hippo_bench_comp *c, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        hippo_bench_die("stanza too long for the send buffer");
    hippo_bench_comp_send(c, buf, (size_t)n);
}

/* ------------------------------------------------------------------ link life */

static void close_link(hippo_bench_comp *c)
{
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    c->rev = c->wev = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* The link is over for good. The input buffer stays until comp_close: the caller may be
 * scanning it. */
static void end_link(hippo_bench_comp *c, const char *why)
{
    if (c->st == HIPPO_BENCH_CO_DEAD)
        return;
    c->st = HIPPO_BENCH_CO_DEAD;
    close_link(c);
    c->calls.lost(c->owner, why);
}

static void send_header(hippo_bench_comp *c)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                     "xmlns:stream='http://etherx.jabber.org/streams' from='%s' id='%s'>",
                     c->domain, c->stream_id);
    queue(c, buf, (size_t)n);
}

/* Refuses the component with stream error CONDITION (sent best effort, at once) and ends
 * the link with WHY. */
static void refuse(hippo_bench_comp *c, const char *condition, const char *why)
{
    char buf[256];
    if (c->st == HIPPO_BENCH_CO_HEADER)
        send_header(c);
    int n = snprintf(buf, sizeof buf,
                     "<stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                     "</stream:error></stream:stream>",
                     condition);
    queue(c, buf, (size_t)n);
    (void)flush_some(c);
    end_link(c, why);
}

/* The component's stream header is complete in BUF[0..END): is it one for DOMAIN? */
static void on_header(hippo_bench_comp *c, const char *buf, size_t end)
{
    const char *h = memmem(buf, end, "<stream:stream", 14);
    hippo_bench_span hdr = {h, h ? end - (size_t)(h - buf) : 0}, ns, to;
    if (!h || !hippo_bench_elem_attr(hdr, "xmlns", &ns) ||
        !hippo_bench_span_eq(ns, "jabber:component:accept")) {
        refuse(c, "invalid-namespace",
               "the component's stream header is not jabber:component:accept");
        return;
    }
    if (!hippo_bench_elem_attr(hdr, "to", &to) || !hippo_bench_span_eq(to, c->domain)) {
        refuse(c, "host-unknown", "the component asked for another domain");
        return;
    }
    send_header(c);
    c->st = HIPPO_BENCH_CO_HANDSHAKE;
}

/* Lower-case hex SHA-1 of the stream id and the secret (XEP-0114) into HEX[41]. */
static void expected_digest(const hippo_bench_comp *c, char hex[41])
{
    char joined[512];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int n = snprintf(joined, sizeof joined, "%s%s", c->stream_id, c->secret);
    if (n < 0 || (size_t)n >= sizeof joined ||
        !EVP_Digest(joined, (size_t)n, md, &len, EVP_sha1(), NULL) || len != 20)
        hippo_bench_die("cannot compute the handshake digest");
    for (unsigned i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void on_handshake(hippo_bench_comp *c, hippo_bench_span e, hippo_bench_span name)
{
    char want[41];
    expected_digest(c, want);
    if (!hippo_bench_span_eq(name, "handshake")) {
        refuse(c, "not-authorized", "the component sent something else than <handshake/>");
        return;
    }
    /* the element's own text: from its start tag's end to the next '<' */
    const char *gt = memchr(e.p, '>', e.n);
    const char *lt = gt ? memchr(gt, '<', e.n - (size_t)(gt - e.p)) : NULL;
    if (!lt || (size_t)(lt - gt - 1) != 40 || strncasecmp(gt + 1, want, 40) != 0) {
        refuse(c, "not-authorized", "the component's handshake digest does not match the secret");
        return;
    }
    queue(c, "<handshake/>", 12);
    c->st = HIPPO_BENCH_CO_UP;
    c->calls.up(c->owner);
}

static void on_element(hippo_bench_comp *c, hippo_bench_span e)
{
    hippo_bench_span name = hippo_bench_elem_name(e);
    if (name.p != e.p + 1 && hippo_bench_span_eq(name, "error")) { /* <stream:error> */
        char why[200];
        snprintf(why, sizeof why, "stream error from the component: %.*s",
                 (int)(e.n < 150 ? e.n : 150), e.p);
        end_link(c, why);
    } else if (c->st == HIPPO_BENCH_CO_HANDSHAKE) {
        on_handshake(c, e, name);
    } else if (c->st == HIPPO_BENCH_CO_UP) {
        c->calls.stanza(c->owner, e, name);
    }
}

/* Reads once into the input buffer; false when the link ended. */
static bool read_more(hippo_bench_comp *c)
{
    if (c->in_cap - c->in_len < READ_CHUNK) {
        c->in_cap = c->in_len + 2 * READ_CHUNK;
        c->in = hippo_bench_xrealloc(c->in, c->in_cap);
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, READ_CHUNK, 0);
    if (n == 0) {
        end_link(c, "the component closed the connection");
        return false;
    }
    if (n < 0) {
        if (!transient(errno))
            end_link(c, strerror(errno));
        return false;
    }
    c->reads++;
    c->bytes_in += (uint64_t)n;
    c->in_len += (size_t)n;
    return true;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_bench_comp *c = arg;
    if (!read_more(c))
        return;
    hippo_bench_span e;
    bool got;
    do {
        got = hippo_bench_scan_next(&c->scan, c->in, c->in_len, &e);
        if (c->st == HIPPO_BENCH_CO_HEADER && c->scan.depth >= 1)
            on_header(c, c->in, c->scan.pos);
        if (got && c->st != HIPPO_BENCH_CO_DEAD)
            on_element(c, e);
    } while (got && c->st != HIPPO_BENCH_CO_DEAD);
    if (c->st == HIPPO_BENCH_CO_DEAD)
        return;
    if (c->scan.closed) {
        end_link(c, "the component closed its stream");
        return;
    }
    size_t keep = hippo_bench_scan_keep_from(&c->scan);
    memmove(c->in, c->in + keep, c->in_len - keep);
    c->in_len -= keep;
    hippo_bench_scan_shift(&c->scan, keep);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_bench_comp *c = arg;
    if (!flush_some(c))
        end_link(c, strerror(errno));
    else if (c->out_len > c->out_off)
        event_add(c->wev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    hippo_bench_comp *c = arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (c->st != HIPPO_BENCH_CO_LISTENING) { /* one component per run */
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->rev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(c->base, fd, EV_WRITE, on_writable, c);
    if (!c->rev || !c->wev || event_add(c->rev, NULL) != 0)
        hippo_bench_die("event_new failed");
    c->st = HIPPO_BENCH_CO_HEADER;
}

/* ------------------------------------------------------------------ set-up */

static int listen_on(const char *host, const char *port)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        hippo_bench_die("%s:%s: %s", host, port, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4) != 0)
        hippo_bench_die("cannot listen on %s:%s: %s", host, port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

void hippo_bench_comp_listen(hippo_bench_comp *c, struct event_base *base, const char *host,
                             const char *port, const char *domain, const char *secret,
                             const hippo_bench_comp_calls *calls, void *owner)
{
    memset(c, 0, sizeof *c);
    c->base = base;
    c->domain = domain;
    c->secret = secret;
    c->calls = *calls;
    c->owner = owner;
    c->fd = c->lfd = -1;
    snprintf(c->stream_id, sizeof c->stream_id, "%x-%llx", (unsigned)getpid(),
             (unsigned long long)hippo_bench_now_ns());
    c->lfd = listen_on(host, port);
    c->lev = event_new(base, c->lfd, EV_READ | EV_PERSIST, on_accept, c);
    if (!c->lev || event_add(c->lev, NULL) != 0)
        hippo_bench_die("event_new failed");
}

void hippo_bench_comp_close(hippo_bench_comp *c)
{
    if (c->fd >= 0 && c->st != HIPPO_BENCH_CO_DEAD)
        (void)!send(c->fd, "</stream:stream>", 16, MSG_NOSIGNAL);
    if (c->st != HIPPO_BENCH_CO_DEAD)
        c->st = HIPPO_BENCH_CO_DEAD;
    close_link(c);
    if (c->lev)
        event_free(c->lev);
    c->lev = NULL;
    if (c->lfd >= 0)
        close(c->lfd);
    c->lfd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_off = c->out_len = c->out_cap = 0;
}
