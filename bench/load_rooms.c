/* load_rooms.c - load driver for chat rooms: logs in R x N c2s clients, joins them to R
 * rooms (XEP-0045 MUC or hippod's classic dialect), sends timestamped messages at a fixed
 * total rate and measures delivered messages/s, end-to-end latency and, for the pids it is
 * told to watch, CPU time and RSS over the measured window. See docs/performance.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "procstat.h"
#include "xmpp_scan.h"

#define BODY_MAGIC "hb1 "
#define MAX_WATCH 8
#define READ_CHUNK 16384
#define TICK_US 1000
#define MAX_SENDS_PER_TICK 20000
#define JOIN_PING_ID "joinping"

enum dialect { DIALECT_MUC, DIALECT_CLASSIC };

enum conn_state {
    CS_IDLE,
    CS_CONNECTING,
    CS_FEATURES1,
    CS_AUTH,
    CS_FEATURES2,
    CS_BIND,
    CS_SESSION,
    CS_READY,
    CS_JOINING,
    CS_JOINED,
    CS_DEAD,
};

enum phase { PH_LOGIN, PH_JOIN, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

/* CPU snapshots: before logins, after logins, after joins, window start and end. */
enum snap { SN_START, SN_LOGGED_IN, SN_JOINED, SN_T0, SN_T1, SN_COUNT };

typedef struct {
    const char *host;
    const char *port;
    const char *domain;
    const char *muc_domain;
    const char *user_fmt;
    const char *password;
    const char *room_fmt;
    const char *rooms_file;
    const char *nicks_file;
    int first_user;
    int rooms;
    int occupants;
    int conns_per_user;
    int senders;
    double rate;
    double warmup;
    double duration;
    double drain;
    double login_rate;
    int max_pending;
    double join_rate;
    double timeout;
    int body_bytes;
    enum dialect dialect;
    bool quiet;
} options;

typedef struct {
    char label[32];
    pid_t pid;
    bool tree;
    double cpu[SN_COUNT];
    long rss_start_kib; /* before the first login */
    long rss_kib, hwm_kib;
} watch;

struct bench;

typedef struct {
    struct bench *b;
    struct event *rev, *wev;
    int fd;
    int idx;
    int room;
    enum conn_state st;
    bool need_session;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_cap;
    hippo_bench_scan scan;
} conn;

/* Per measured message: how many deliveries are due and how many came. */
typedef struct {
    uint16_t expected;
    uint16_t got;
} msg_track;

typedef struct {
    long started, in_handshake, logged_in, login_failed;
    long join_sent, joined, join_failed;
    long stream_errors, disconnects, msg_errors, other_stanzas, skipped_sends;
    long sent_total, sent_window, recv_window, recv_bench, dups, late_ticks;
    double tick_lag_max_ms;
    char first_error[160];
} counters;

typedef struct bench {
    options o;
    struct event_base *base;
    struct event *tick;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    conn *conns;
    int nconns;
    char **room_jids;
    char **nicks; /* per user index (0-based from first_user), or NULL */
    int nnicks;
    int *room_joined;
    enum phase ph;
    uint64_t ph_start_ns;
    uint64_t t_start, t_logged_in, t_joined, t0, t1, t_done;
    uint64_t last_tick_ns;
    uint64_t send_start;
    long sched_sent; /* messages the schedule has handed out since send_start */
    long rr;         /* round-robin position of the next sender */
    int login_cursor;
    int join_cursor;
    char *scratch; /* READ_CHUNK bytes shared by every read */
    uint64_t seq;  /* next message serial */
    uint64_t win_first_seq;
    msg_track *track;
    size_t track_cap;
    uint32_t *lat_us;
    size_t lat_n, lat_cap;
    long expected_window;
    long delivered_of_expected;
    watch watches[MAX_WATCH];
    int nwatch;
    double self_cpu[SN_COUNT];
    double machine_cpu[SN_COUNT]; /* all cores, all processes */
    counters c;
    int exit_code;
} bench;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("load_rooms: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void note(const bench *b, const char *fmt, ...)
{
    if (b->o.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%7.2f] ", secs(now_ns() - b->t_start));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

/* Remembers the first error text for the report (the rest are only counted). */
static void first_error(bench *b, const char *what, hippo_bench_span detail)
{
    if (b->c.first_error[0])
        return;
    int n = detail.n > 120 ? 120 : (int)detail.n;
    snprintf(b->c.first_error, sizeof b->c.first_error, "%s: %.*s", what, n, detail.p);
}

/* Returns a malloc'ed copy of S (caller frees); dies when out of memory. */
static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die("out of memory");
    return p;
}

/* realloc that dies when out of memory; returns the new block (caller frees). */
static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n)
        die("out of memory");
    return q;
}

/* ------------------------------------------------------------------ output */

static void conn_fail(conn *c, const char *why);

static bool out_append(conn *c, const char *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return event_add(c->wev, NULL) == 0;
}

/* Writes at once when nothing is queued, else queues behind what is (keeps order). */
static void conn_send(conn *c, const char *data, size_t len)
{
    if (c->fd < 0)
        return;
    if (c->out_len == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n == (ssize_t)len)
            return;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_fail(c, strerror(errno));
            return;
        }
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    if (!out_append(c, data, len))
        conn_fail(c, "event_add failed");
}

static void conn_sendf(conn *c, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        die("stanza too long for the send buffer");
    conn_send(c, buf, (size_t)n);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    conn *c = arg;
    ssize_t n = send(fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_fail(c, strerror(errno));
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

static const char *user_name(const bench *b, int conn_idx, char *buf, size_t size)
{
    snprintf(buf, size, b->o.user_fmt, b->o.first_user + conn_idx / b->o.conns_per_user);
    return buf;
}

static void stream_open(conn *c)
{
    conn_sendf(c,
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
               c->b->o.domain);
}

/* Leaves the handshake counters right when a connection ends or finishes logging in. */
static void handshake_over(conn *c, bool ok)
{
    bench *b = c->b;
    b->c.in_handshake--;
    if (ok)
        b->c.logged_in++;
    else
        b->c.login_failed++;
}

static void conn_close_fd(conn *c)
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

static void conn_fail(conn *c, const char *why)
{
    bench *b = c->b;
    if (c->st == CS_DEAD)
        return;
    if (c->st >= CS_CONNECTING && c->st <= CS_SESSION) {
        handshake_over(c, false);
        hippo_bench_span s = {why, strlen(why)};
        first_error(b, "login", s);
    } else if (c->st == CS_JOINING) {
        b->c.join_failed++;
    } else if (c->st == CS_JOINED) {
        b->room_joined[c->room]--;
        b->c.disconnects++;
    } else if (c->st == CS_READY) {
        b->c.disconnects++;
    }
    c->st = CS_DEAD;
    conn_close_fd(c);
}

static void on_readable(evutil_socket_t fd, short what, void *arg);

static void conn_start(bench *b, conn *c)
{
    b->c.started++;
    b->c.in_handshake++;
    c->st = CS_CONNECTING;
    c->fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(c, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rev = event_new(b->base, c->fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(b->base, c->fd, EV_WRITE, on_writable, c);
    if (!c->rev || !c->wev || event_add(c->rev, NULL) != 0) {
        conn_fail(c, "event_new failed");
        return;
    }
    memset(&c->scan, 0, sizeof c->scan);
    if (connect(c->fd, (struct sockaddr *)&b->addr, b->addrlen) != 0 && errno != EINPROGRESS) {
        conn_fail(c, strerror(errno));
        return;
    }
    c->st = CS_FEATURES1;
    stream_open(c); /* queued until the connection is writable; may fail it */
}

static void login_done(conn *c)
{
    handshake_over(c, true);
    c->st = CS_READY;
    conn_send(c, "<presence/>", 11);
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

static void on_features1(conn *c, hippo_bench_span e)
{
    if (!hippo_bench_elem_contains(e, ">PLAIN<")) {
        conn_fail(c, "no SASL PLAIN offered");
        return;
    }
    char user[128];
    char raw[512];
    char b64[800];
    user_name(c->b, c->idx, user, sizeof user);
    int n = snprintf(raw, sizeof raw, "%c%s%c%s", 0, user, 0, c->b->o.password);
    if (n < 0 || (size_t)n >= sizeof raw || base64_encode(b64, sizeof b64, raw, (size_t)n) < 0)
        die("user name or password too long");
    conn_sendf(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>",
               b64);
    c->st = CS_AUTH;
}

static void on_auth_answer(conn *c, hippo_bench_span e, hippo_bench_span name)
{
    if (hippo_bench_span_eq(name, "success")) {
        hippo_bench_scan_restart(&c->scan);
        stream_open(c);
        c->st = CS_FEATURES2;
    } else {
        first_error(c->b, "SASL", e);
        conn_fail(c, "SASL failed");
    }
}

static void on_features2(conn *c, hippo_bench_span e)
{
    c->need_session =
        hippo_bench_elem_contains(e, "<session") && !hippo_bench_elem_contains(e, "<optional");
    conn_sendf(c,
               "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
               "<resource>r%d</resource></bind></iq>",
               c->idx % c->b->o.conns_per_user);
    c->st = CS_BIND;
}

/* The answer to our iq ID: true for a result; on an error the connection fails. */
static bool iq_answer_ok(conn *c, hippo_bench_span e, const char *id, bool *answered)
{
    hippo_bench_span v;
    *answered = hippo_bench_elem_attr(e, "id", &v) && hippo_bench_span_eq(v, id);
    if (!*answered)
        return false;
    if (hippo_bench_elem_attr(e, "type", &v) && hippo_bench_span_eq(v, "result"))
        return true;
    first_error(c->b, id, e);
    conn_fail(c, "iq failed");
    return false;
}

static void on_bind_answer(conn *c, hippo_bench_span e)
{
    bool answered;
    if (!iq_answer_ok(c, e, "bind1", &answered))
        return;
    if (!c->need_session) {
        login_done(c);
        return;
    }
    conn_send(c,
              "<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"
              "</iq>",
              82);
    c->st = CS_SESSION;
}

static void on_session_answer(conn *c, hippo_bench_span e)
{
    bool answered;
    if (iq_answer_ok(c, e, "sess1", &answered))
        login_done(c);
}

/* ------------------------------------------------------------------ rooms */

/* The nick this connection asks for (MUC) or expects as its occupant resource. NULL when
 * unknown (classic dialect without --nicks-file). */
static const char *conn_nick(const bench *b, const conn *c, char *buf, size_t size)
{
    int user = c->idx / b->o.conns_per_user;
    if (b->nicks && user < b->nnicks)
        return b->nicks[user];
    if (b->o.dialect == DIALECT_CLASSIC)
        return NULL;
    return user_name(b, c->idx, buf, size);
}

static void send_join(bench *b, conn *c)
{
    char nick[128];
    const char *room = b->room_jids[c->room];
    if (b->o.dialect == DIALECT_MUC)
        conn_sendf(c,
                   "<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'>"
                   "<history maxstanzas='0'/></x></presence>",
                   room, conn_nick(b, c, nick, sizeof nick));
    else /* the ping's answer marks the join done: hippod answers a room's stanzas in order */
        conn_sendf(c,
                   "<presence to='%s'><x xmlns='http://jabber.org/protocol/muc'>"
                   "<userInfo xmlns='http://dumbhippo.com/protocol/rooms' role='participant'/>"
                   "</x></presence><iq type='get' id='" JOIN_PING_ID
                   "' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
                   room, room);
    b->c.join_sent++;
    c->st = CS_JOINING;
}

/* True when FROM is the connection's room JID or one of its occupants; *RES gets the
 * resource (empty for the bare room). */
static bool from_room(const bench *b, const conn *c, hippo_bench_span from, hippo_bench_span *res)
{
    const char *room = b->room_jids[c->room];
    size_t n = strlen(room);
    if (from.n < n || strncasecmp(from.p, room, n) != 0 || (from.n > n && from.p[n] != '/'))
        return false;
    res->p = from.p + n + (from.n > n);
    res->n = from.n > n ? from.n - n - 1 : 0;
    return true;
}

/* The joiner's own presence: hippod's classic dialect may not send one (the ping after
 * the join tells then), MUC always does, last, with status 110. */
static bool is_self_presence(const bench *b, const conn *c, hippo_bench_span res,
                             hippo_bench_span e)
{
    char buf[128];
    const char *nick = conn_nick(b, c, buf, sizeof buf);
    if (!nick)
        return false;
    return hippo_bench_span_eq(res, nick) || hippo_bench_elem_contains(e, "code='110'") ||
           hippo_bench_elem_contains(e, "code=\"110\"");
}

static void join_done(conn *c)
{
    c->st = CS_JOINED;
    c->b->c.joined++;
    c->b->room_joined[c->room]++;
}

static void on_presence(conn *c, hippo_bench_span e)
{
    bench *b = c->b;
    hippo_bench_span from, res, type;
    if (c->st != CS_JOINING || !hippo_bench_elem_attr(e, "from", &from) ||
        !from_room(b, c, from, &res)) {
        b->c.other_stanzas++;
        return;
    }
    if (hippo_bench_elem_attr(e, "type", &type) && hippo_bench_span_eq(type, "error")) {
        b->c.join_failed++;
        first_error(b, "join", e);
        c->st = CS_READY;
        return;
    }
    if (is_self_presence(b, c, res, e))
        join_done(c);
}

/* ------------------------------------------------------------------ messages */

static void record_latency(bench *b, uint64_t ns)
{
    if (b->lat_n == b->lat_cap) {
        b->lat_cap = b->lat_cap ? b->lat_cap * 2 : 1 << 16;
        b->lat_us = xrealloc(b->lat_us, b->lat_cap * sizeof *b->lat_us);
    }
    uint64_t us = ns / 1000;
    b->lat_us[b->lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* A message of ours came back: "hb1 SEQ SENT_NS ...". */
static void on_bench_body(bench *b, hippo_bench_span body)
{
    uint64_t t = now_ns();
    char tmp[64];
    size_t n = body.n < sizeof tmp - 1 ? body.n : sizeof tmp - 1;
    memcpy(tmp, body.p, n);
    tmp[n] = '\0';
    char *end;
    uint64_t seq = strtoull(tmp + strlen(BODY_MAGIC), &end, 10);
    uint64_t sent = strtoull(end, NULL, 10);
    b->c.recv_bench++;
    if (b->ph == PH_MEASURE)
        b->c.recv_window++;
    if (seq < b->win_first_seq || seq - b->win_first_seq >= (uint64_t)b->c.sent_window)
        return; /* sent outside the measured window */
    msg_track *m = &b->track[seq - b->win_first_seq];
    if (m->got >= m->expected) {
        b->c.dups++;
        return;
    }
    m->got++;
    b->delivered_of_expected++;
    record_latency(b, t > sent ? t - sent : 0);
}

static void on_message(conn *c, hippo_bench_span e)
{
    bench *b = c->b;
    hippo_bench_span type, body;
    if (hippo_bench_elem_attr(e, "type", &type) && hippo_bench_span_eq(type, "error")) {
        b->c.msg_errors++;
        first_error(b, "message error", e);
        return;
    }
    size_t magic = strlen(BODY_MAGIC);
    if (!hippo_bench_elem_child_text(e, "body", &body) || body.n < magic ||
        memcmp(body.p, BODY_MAGIC, magic) != 0) {
        b->c.other_stanzas++;
        return;
    }
    on_bench_body(b, body);
}

static void track_message(bench *b, int room)
{
    size_t i = (size_t)b->c.sent_window;
    if (i == b->track_cap) {
        b->track_cap = b->track_cap ? b->track_cap * 2 : 1 << 16;
        b->track = xrealloc(b->track, b->track_cap * sizeof *b->track);
    }
    b->track[i].expected = (uint16_t)b->room_joined[room];
    b->track[i].got = 0;
    b->expected_window += b->room_joined[room];
    b->c.sent_window++;
}

static void send_message(bench *b, conn *c)
{
    char body[4096];
    int n = snprintf(body, sizeof body, BODY_MAGIC "%" PRIu64 " %" PRIu64 " ", b->seq, now_ns());
    while (n < b->o.body_bytes && n < (int)sizeof body - 1)
        body[n++] = 'x';
    body[n] = '\0';
    if (b->ph == PH_MEASURE)
        track_message(b, c->room);
    b->seq++;
    b->c.sent_total++;
    conn_sendf(c, "<message to='%s'%s><body>%s</body></message>", b->room_jids[c->room],
               b->o.dialect == DIALECT_MUC ? " type='groupchat'" : "", body);
}

/* Next sender, round-robin over rooms first so every room gets the same share. */
static void send_one(bench *b)
{
    const options *o = &b->o;
    long slots = (long)o->rooms * o->senders;
    for (long tries = 0; tries < slots; tries++) {
        long k = b->rr++;
        int room = (int)(k % o->rooms);
        int slot = (int)((k / o->rooms) % o->senders);
        conn *c = &b->conns[(room * o->occupants + slot) * o->conns_per_user];
        if (c->st == CS_JOINED) {
            send_message(b, c);
            return;
        }
    }
    b->c.skipped_sends++;
}

/* Answers a ping like any client (hippod pings occupants it is unsure of); other requests
 * get an error, never silence. */
static void on_iq(conn *c, hippo_bench_span e)
{
    hippo_bench_span type, id, from;
    bool typed = hippo_bench_elem_attr(e, "type", &type);
    if (c->st == CS_JOINING && typed && hippo_bench_elem_attr(e, "id", &id) &&
        hippo_bench_span_eq(id, JOIN_PING_ID)) {
        if (hippo_bench_span_eq(type, "result")) {
            join_done(c);
        } else {
            c->b->c.join_failed++;
            first_error(c->b, "join ping", e);
            c->st = CS_READY;
        }
        return;
    }
    c->b->c.other_stanzas++;
    if (!typed || !(hippo_bench_span_eq(type, "get") || hippo_bench_span_eq(type, "set")) ||
        !hippo_bench_elem_attr(e, "id", &id) || !hippo_bench_elem_attr(e, "from", &from) ||
        id.n > 256 || from.n > 1024)
        return;
    if (hippo_bench_elem_contains(e, "urn:xmpp:ping"))
        conn_sendf(c, "<iq type='result' id='%.*s' to='%.*s'/>", (int)id.n, id.p, (int)from.n,
                   from.p);
    else
        conn_sendf(c,
                   "<iq type='error' id='%.*s' to='%.*s'><error type='cancel'>"
                   "<feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                   "</error></iq>",
                   (int)id.n, id.p, (int)from.n, from.p);
}

/* ------------------------------------------------------------------ input */

static void handle_element(conn *c, hippo_bench_span e)
{
    hippo_bench_span name = hippo_bench_elem_name(e);
    bool prefixed = name.p != e.p + 1;
    if (prefixed && hippo_bench_span_eq(name, "error")) {
        c->b->c.stream_errors++;
        first_error(c->b, "stream error", e);
        conn_fail(c, "stream error");
        return;
    }
    switch (c->st) {
    case CS_FEATURES1:
        if (prefixed && hippo_bench_span_eq(name, "features"))
            on_features1(c, e);
        break;
    case CS_AUTH:
        on_auth_answer(c, e, name);
        break;
    case CS_FEATURES2:
        if (prefixed && hippo_bench_span_eq(name, "features"))
            on_features2(c, e);
        break;
    case CS_BIND:
        on_bind_answer(c, e);
        break;
    case CS_SESSION:
        on_session_answer(c, e);
        break;
    default:
        if (hippo_bench_span_eq(name, "message"))
            on_message(c, e);
        else if (hippo_bench_span_eq(name, "presence"))
            on_presence(c, e);
        else if (hippo_bench_span_eq(name, "iq"))
            on_iq(c, e);
        else
            c->b->c.other_stanzas++;
    }
}

/* Reads into the shared scratch buffer when nothing is pending (the common case: only the
 * tail of a split element is ever copied into the connection's own buffer). */
static ssize_t read_some(bench *b, conn *c, char **data)
{
    if (c->in_len == 0) {
        *data = b->scratch;
        return recv(c->fd, b->scratch, READ_CHUNK, 0);
    }
    if (c->in_cap - c->in_len < READ_CHUNK) {
        c->in_cap = c->in_len + READ_CHUNK;
        c->in = xrealloc(c->in, c->in_cap);
    }
    *data = c->in;
    ssize_t n = recv(c->fd, c->in + c->in_len, READ_CHUNK, 0);
    return n > 0 ? n + (ssize_t)c->in_len : n;
}

/* Keeps the unscanned tail of DATA[0..LEN) in the connection's buffer. */
static void keep_tail(conn *c, char *data, size_t len)
{
    size_t keep = hippo_bench_scan_keep_from(&c->scan);
    size_t tail = len - keep;
    if (data != c->in && tail > c->in_cap) {
        c->in = xrealloc(c->in, tail + READ_CHUNK);
        c->in_cap = tail + READ_CHUNK;
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
    conn *c = arg;
    char *data;
    ssize_t len = read_some(c->b, c, &data);
    if (len == 0) {
        conn_fail(c, "server closed the connection");
        return;
    }
    if (len < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_fail(c, strerror(errno));
        return;
    }
    hippo_bench_span e;
    while (c->fd >= 0 && hippo_bench_scan_next(&c->scan, data, (size_t)len, &e))
        handle_element(c, e);
    if (c->fd < 0)
        return;
    if (c->scan.closed) {
        conn_fail(c, "server closed the stream");
        return;
    }
    keep_tail(c, data, (size_t)len);
}

/* ------------------------------------------------------------------ phases */

static void snapshot(bench *b, enum snap s)
{
    for (int i = 0; i < b->nwatch; i++)
        b->watches[i].cpu[s] = hippo_bench_cpu_seconds(b->watches[i].pid, b->watches[i].tree);
    b->self_cpu[s] = hippo_bench_self_cpu_seconds();
    b->machine_cpu[s] = hippo_bench_machine_busy_seconds();
}

static void enter_phase(bench *b, enum phase ph, uint64_t t)
{
    b->ph = ph;
    b->ph_start_ns = t;
}

static uint64_t ns_of(double seconds)
{
    return (uint64_t)(seconds * 1e9);
}

static void login_finished(bench *b, uint64_t t)
{
    for (int i = 0; i < b->nconns; i++) {
        conn *c = &b->conns[i];
        if (c->st >= CS_CONNECTING && c->st <= CS_SESSION)
            conn_fail(c, "login timed out");
    }
    b->c.login_failed += b->nconns - b->login_cursor; /* never started */
    b->login_cursor = b->nconns;
    b->t_logged_in = t;
    snapshot(b, SN_LOGGED_IN);
    note(b, "logged in %ld of %d connections (%ld failed) in %.2f s", b->c.logged_in, b->nconns,
         b->c.login_failed, secs(t - b->ph_start_ns));
    enter_phase(b, PH_JOIN, t);
}

static void tick_login(bench *b, uint64_t t)
{
    double el = secs(t - b->ph_start_ns);
    long allowed = (long)(b->o.login_rate * el) + 1;
    while (b->login_cursor < b->nconns && b->c.started < allowed &&
           b->c.in_handshake < b->o.max_pending)
        conn_start(b, &b->conns[b->login_cursor++]);
    if ((b->login_cursor == b->nconns && b->c.in_handshake == 0) || el >= b->o.timeout)
        login_finished(b, t);
}

static void join_finished(bench *b, uint64_t t)
{
    for (int i = 0; i < b->nconns; i++) {
        conn *c = &b->conns[i];
        if (c->st == CS_JOINING) {
            c->st = CS_READY;
            b->c.join_failed++;
        }
    }
    int lo = b->o.rooms ? b->room_joined[0] : 0, hi = lo;
    for (int r = 1; r < b->o.rooms; r++) {
        lo = b->room_joined[r] < lo ? b->room_joined[r] : lo;
        hi = b->room_joined[r] > hi ? b->room_joined[r] : hi;
    }
    b->t_joined = t;
    snapshot(b, SN_JOINED);
    note(b, "joined %ld of %ld (%ld failed) in %.2f s; occupants per room %d..%d", b->c.joined,
         b->c.join_sent, b->c.join_failed, secs(t - b->ph_start_ns), lo, hi);
    b->send_start = t;
    enter_phase(b, PH_WARMUP, t);
}

static void tick_join(bench *b, uint64_t t)
{
    double el = secs(t - b->ph_start_ns);
    long allowed = (long)(b->o.join_rate * el) + 1;
    while (b->join_cursor < b->nconns && b->c.join_sent < allowed) {
        conn *c = &b->conns[b->join_cursor++];
        if (c->st == CS_READY)
            send_join(b, c);
    }
    bool all = b->join_cursor == b->nconns && b->c.joined + b->c.join_failed >= b->c.join_sent;
    if (all || el >= b->o.timeout)
        join_finished(b, t);
}

static void read_rss(bench *b, bool start)
{
    for (int i = 0; i < b->nwatch; i++) {
        watch *w = &b->watches[i];
        long rss, hwm;
        if (!hippo_bench_rss_kib(w->pid, &rss, &hwm))
            rss = hwm = -1;
        if (start) {
            w->rss_start_kib = rss;
        } else {
            w->rss_kib = rss;
            w->hwm_kib = hwm;
        }
    }
}

static void start_measure(bench *b, uint64_t t)
{
    snapshot(b, SN_T0);
    b->t0 = now_ns();
    b->win_first_seq = b->seq;
    note(b, "measuring for %.1f s", b->o.duration);
    enter_phase(b, PH_MEASURE, t);
}

static void end_measure(bench *b, uint64_t t)
{
    snapshot(b, SN_T1);
    b->t1 = now_ns();
    read_rss(b, false);
    note(b, "window over: sent %ld, %ld deliveries; draining", b->c.sent_window, b->c.recv_window);
    enter_phase(b, PH_DRAIN, t);
}

static void tick_send(bench *b, uint64_t t)
{
    if (b->o.rate > 0) {
        long due = (long)(b->o.rate * secs(t - b->send_start)) - b->sched_sent;
        if (due > MAX_SENDS_PER_TICK) {
            b->c.late_ticks++;
            due = MAX_SENDS_PER_TICK;
        }
        for (long i = 0; i < due; i++) {
            send_one(b);
            b->sched_sent++;
        }
    }
    if (b->ph == PH_WARMUP && t - b->ph_start_ns >= ns_of(b->o.warmup))
        start_measure(b, t);
    else if (b->ph == PH_MEASURE && t - b->ph_start_ns >= ns_of(b->o.duration))
        end_measure(b, t);
}

static void report(bench *b);

static void close_all(bench *b)
{
    for (int i = 0; i < b->nconns; i++) {
        conn *c = &b->conns[i];
        if (c->fd >= 0 && c->out_len == 0)
            (void)!send(c->fd, "</stream:stream>", 16, MSG_NOSIGNAL);
        conn_close_fd(c);
    }
}

static void finish(bench *b, uint64_t t)
{
    b->t_done = t;
    enter_phase(b, PH_DONE, t);
    report(b);
    close_all(b);
    event_base_loopbreak(b->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench *b = arg;
    uint64_t t = now_ns();
    if (b->ph == PH_MEASURE && b->last_tick_ns) {
        double lag = (double)(t - b->last_tick_ns) / 1e6 - TICK_US / 1000.0;
        if (lag > b->c.tick_lag_max_ms)
            b->c.tick_lag_max_ms = lag;
    }
    b->last_tick_ns = t;
    switch (b->ph) {
    case PH_LOGIN:
        tick_login(b, t);
        break;
    case PH_JOIN:
        tick_join(b, t);
        break;
    case PH_WARMUP:
    case PH_MEASURE:
        tick_send(b, t);
        break;
    case PH_DRAIN:
        if (b->delivered_of_expected >= b->expected_window ||
            t - b->ph_start_ns >= ns_of(b->o.drain))
            finish(b, t);
        break;
    case PH_DONE:
        break;
    }
}

/* ------------------------------------------------------------------ report */

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile P (0..1) of the sorted latencies, in ms; -1 without samples. */
static double pct_ms(const bench *b, double p)
{
    if (b->lat_n == 0)
        return -1.0;
    size_t i = (size_t)(p * (double)(b->lat_n - 1) + 0.5);
    return b->lat_us[i] / 1000.0;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static double window_s(const bench *b)
{
    return b->t1 > b->t0 ? secs(b->t1 - b->t0) : 0.0;
}

static double per_s(const bench *b, long n)
{
    double w = window_s(b);
    return w > 0 ? (double)n / w : 0.0;
}

static double cpu_delta(const watch *w, enum snap from, enum snap to)
{
    return w->cpu[from] >= 0 && w->cpu[to] >= 0 ? w->cpu[to] - w->cpu[from] : -1.0;
}

/* CPU the rest of the machine used in the window: neither the watched pids nor the driver
 * (other people's work on a shared box, kernel threads): the noise in the figures. */
static double others_cpu(const bench *b)
{
    double all = b->machine_cpu[SN_T1] - b->machine_cpu[SN_T0];
    if (b->machine_cpu[SN_T0] < 0 || b->machine_cpu[SN_T1] < 0)
        return -1.0;
    all -= b->self_cpu[SN_T1] - b->self_cpu[SN_T0];
    for (int i = 0; i < b->nwatch; i++) {
        double w = cpu_delta(&b->watches[i], SN_T0, SN_T1);
        all -= w > 0 ? w : 0;
    }
    return all > 0 ? all : 0.0;
}

static void report_text(const bench *b)
{
    const options *o = &b->o;
    const counters *c = &b->c;
    long lost = b->expected_window - b->delivered_of_expected;
    printf("rooms %d x occupants %d (%d connections), dialect %s, rate %.0f msg/s, "
           "warm-up %.1f s, window %.2f s\n",
           o->rooms, o->occupants, b->nconns, o->dialect == DIALECT_MUC ? "muc" : "classic",
           o->rate, o->warmup, window_s(b));
    printf("login: %ld ok, %ld failed in %.2f s; join: %ld ok, %ld failed in %.2f s\n",
           c->logged_in, c->login_failed, secs(b->t_logged_in - b->t_start), c->joined,
           c->join_failed, secs(b->t_joined - b->t_logged_in));
    printf("sent in window: %ld (%.1f/s); deliveries in window: %ld (%.1f/s)\n", c->sent_window,
           per_s(b, c->sent_window), c->recv_window, per_s(b, c->recv_window));
    printf("expected deliveries of window messages: %ld, delivered: %ld, lost: %ld, dups: %ld\n",
           b->expected_window, b->delivered_of_expected, lost, c->dups);
    printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (n=%zu)\n",
           pct_ms(b, 0.5), pct_ms(b, 0.9), pct_ms(b, 0.99), pct_ms(b, 0.999), pct_ms(b, 1.0),
           b->lat_n);
    for (int i = 0; i < b->nwatch; i++) {
        const watch *w = &b->watches[i];
        double cpu = cpu_delta(w, SN_T0, SN_T1);
        printf("%-10s cpu %.2f s in window (%.0f%% of a core), %.2f us/delivery; "
               "login %.2f s, join %.2f s; rss %.1f MiB (peak %.1f, at start %.1f)\n",
               w->label, cpu, 100.0 * cpu / (window_s(b) > 0 ? window_s(b) : 1),
               c->recv_window ? 1e6 * cpu / (double)c->recv_window : 0.0,
               cpu_delta(w, SN_START, SN_LOGGED_IN), cpu_delta(w, SN_LOGGED_IN, SN_JOINED),
               w->rss_kib / 1024.0, w->hwm_kib / 1024.0, w->rss_start_kib / 1024.0);
    }
    double self = b->self_cpu[SN_T1] - b->self_cpu[SN_T0];
    printf("driver     cpu %.2f s in window (%.0f%% of a core), max tick lag %.1f ms, "
           "late ticks %ld\n",
           self, 100.0 * self / (window_s(b) > 0 ? window_s(b) : 1), c->tick_lag_max_ms,
           c->late_ticks);
    printf("others     cpu %.2f s in window (%.0f%% of a core): processes neither watched nor "
           "the driver\n",
           others_cpu(b), 100.0 * others_cpu(b) / (window_s(b) > 0 ? window_s(b) : 1));
    printf("errors: stream %ld, message %ld, disconnects %ld, skipped sends %ld; other stanzas "
           "%ld%s%s\n",
           c->stream_errors, c->msg_errors, c->disconnects, c->skipped_sends, c->other_stanzas,
           c->first_error[0] ? "; first: " : "", c->first_error);
}

static void report_json_watch(const bench *b, const watch *w)
{
    double cpu = cpu_delta(w, SN_T0, SN_T1);
    json_string(stdout, w->label);
    printf(":{\"pid\":%d,\"cpu_window_s\":%.3f,\"us_per_delivery\":%.3f,"
           "\"cpu_login_s\":%.3f,\"cpu_join_s\":%.3f,\"rss_start_kib\":%ld,\"rss_kib\":%ld,"
           "\"hwm_kib\":%ld}",
           (int)w->pid, cpu, b->c.recv_window ? 1e6 * cpu / (double)b->c.recv_window : 0.0,
           cpu_delta(w, SN_START, SN_LOGGED_IN), cpu_delta(w, SN_LOGGED_IN, SN_JOINED),
           w->rss_start_kib, w->rss_kib, w->hwm_kib);
}

static void report_json(const bench *b)
{
    const options *o = &b->o;
    const counters *c = &b->c;
    printf("RESULT {\"dialect\":\"%s\",\"rooms\":%d,\"occupants\":%d,\"conns\":%d,"
           "\"rate\":%.1f,\"warmup_s\":%.2f,\"window_s\":%.3f,",
           o->dialect == DIALECT_MUC ? "muc" : "classic", o->rooms, o->occupants, b->nconns,
           o->rate, o->warmup, window_s(b));
    printf("\"logged_in\":%ld,\"login_failed\":%ld,\"login_s\":%.3f,\"joined\":%ld,"
           "\"join_failed\":%ld,\"join_s\":%.3f,",
           c->logged_in, c->login_failed, secs(b->t_logged_in - b->t_start), c->joined,
           c->join_failed, secs(b->t_joined - b->t_logged_in));
    printf("\"sent_window\":%ld,\"sent_per_s\":%.1f,\"delivered_window\":%ld,"
           "\"delivered_per_s\":%.1f,\"expected\":%ld,\"delivered_of_expected\":%ld,"
           "\"lost\":%ld,\"dups\":%ld,",
           c->sent_window, per_s(b, c->sent_window), c->recv_window, per_s(b, c->recv_window),
           b->expected_window, b->delivered_of_expected,
           b->expected_window - b->delivered_of_expected, c->dups);
    printf("\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
           "\"n\":%zu},",
           pct_ms(b, 0.5), pct_ms(b, 0.9), pct_ms(b, 0.99), pct_ms(b, 0.999), pct_ms(b, 1.0),
           b->lat_n);
    printf("\"errors\":{\"stream\":%ld,\"message\":%ld,\"disconnects\":%ld,\"skipped_sends\":%ld,"
           "\"other_stanzas\":%ld,\"first\":",
           c->stream_errors, c->msg_errors, c->disconnects, c->skipped_sends, c->other_stanzas);
    json_string(stdout, c->first_error);
    printf("},\"driver\":{\"cpu_window_s\":%.3f,\"tick_lag_max_ms\":%.2f,\"late_ticks\":%ld},"
           "\"others_cpu_window_s\":%.3f,\"watch\":{",
           b->self_cpu[SN_T1] - b->self_cpu[SN_T0], c->tick_lag_max_ms, c->late_ticks,
           others_cpu(b));
    for (int i = 0; i < b->nwatch; i++) {
        if (i)
            putchar(',');
        report_json_watch(b, &b->watches[i]);
    }
    printf("}}\n");
}

static void report(bench *b)
{
    if (b->lat_n > 0) /* lat_us is NULL without samples */
        qsort(b->lat_us, b->lat_n, sizeof *b->lat_us, cmp_u32);
    report_text(b);
    report_json(b);
    fflush(stdout);
    const counters *c = &b->c;
    bool clean = c->logged_in == b->nconns && c->joined == b->nconns &&
                 b->delivered_of_expected == b->expected_window && c->stream_errors == 0 &&
                 c->msg_errors == 0 && c->disconnects == 0 && c->dups == 0;
    b->exit_code = clean ? 0 : 2;
}

/* ------------------------------------------------------------------ setup */

static void usage(FILE *f)
{
    fputs("usage: load_rooms [OPTIONS]\n"
          "Logs in ROOMS x OCCUPANTS x CONNS-PER-USER c2s connections, joins each user to its\n"
          "room (user k -> room k / OCCUPANTS), sends RATE messages/s in total for WARMUP +\n"
          "DURATION s and reports deliveries/s, latency and the CPU/RSS of --watch'ed pids.\n"
          "  --host H --port P          c2s address (127.0.0.1:5222)\n"
          "  --domain D                 user domain (example.test)\n"
          "  --muc-domain M             room domain (conference.example.test)\n"
          "  --user-fmt FMT             printf format of user k's name (u%d)\n"
          "  --first-user K             index of the first user (0)\n"
          "  --password PW              every user's password (pw)\n"
          "  --rooms R --occupants N    rooms and users per room (10 x 10)\n"
          "  --conns-per-user C         resources per user, all joining (1)\n"
          "  --room-fmt FMT             room node of room r (room%d)\n"
          "  --rooms-file F             room nodes or JIDs, one per line (instead of --room-fmt)\n"
          "  --nicks-file F             per user: the occupant resource expected back (classic)\n"
          "                             or the nick to join with (muc); default the user name\n"
          "  --dialect muc|classic      XEP-0045 or hippod's classic dialect (muc)\n"
          "  --rate X                   messages/s over all rooms; 0: only join and hold (100)\n"
          "  --senders K                users per room that send (all)\n"
          "  --body-bytes B             body length (48)\n"
          "  --warmup S --duration S    sending before / during the measured window (2, 10)\n"
          "  --drain S                  wait for late deliveries after the window (5)\n"
          "  --login-rate L             new connections per second (500)\n"
          "  --max-pending P            logins in progress at once (200)\n"
          "  --join-rate J              joins per second (1000)\n"
          "  --timeout S                limit of the login and of the join phase (120)\n"
          "  --watch LABEL=PID          report CPU and RSS of PID (repeatable)\n"
          "  --watch-tree LABEL=PID     the same, CPU summed over PID and its descendants\n"
          "  --quiet                    no progress lines on stderr\n"
          "Prints a summary and a line 'RESULT {json}'. Exit 0 when every login, join and\n"
          "delivery succeeded, 2 when some did not, 1 on a usage or setup error.\n",
          f);
}

static double num(const char *s, const char *what, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || v < lo || v > hi)
        die("bad %s: %s (allowed %g..%g)", what, s, lo, hi);
    return v;
}

static void add_watch(bench *b, const char *arg, bool tree)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof b->watches[0].label)
        die("bad --watch %s: expected LABEL=PID", arg);
    if (b->nwatch == MAX_WATCH)
        die("at most %d --watch options", MAX_WATCH);
    watch *w = &b->watches[b->nwatch++];
    snprintf(w->label, sizeof w->label, "%.*s", (int)(eq - arg), arg);
    w->pid = (pid_t)num(eq + 1, "pid", 1, 1 << 30);
    w->tree = tree;
}

static void set_defaults(options *o)
{
    o->host = "127.0.0.1";
    o->port = "5222";
    o->domain = "example.test";
    o->muc_domain = "conference.example.test";
    o->user_fmt = "u%d";
    o->password = "pw";
    o->room_fmt = "room%d";
    o->rooms = 10;
    o->occupants = 10;
    o->conns_per_user = 1;
    o->rate = 100;
    o->warmup = 2;
    o->duration = 10;
    o->drain = 5;
    o->login_rate = 500;
    o->max_pending = 200;
    o->join_rate = 1000;
    o->timeout = 120;
    o->body_bytes = 48;
}

enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_DOMAIN,
    OPT_MUC,
    OPT_USERFMT,
    OPT_FIRST,
    OPT_PASSWORD,
    OPT_ROOMS,
    OPT_OCC,
    OPT_CPU,
    OPT_ROOMFMT,
    OPT_ROOMSFILE,
    OPT_NICKSFILE,
    OPT_DIALECT,
    OPT_RATE,
    OPT_SENDERS,
    OPT_BODY,
    OPT_WARMUP,
    OPT_DURATION,
    OPT_DRAIN,
    OPT_LOGINRATE,
    OPT_PENDING,
    OPT_JOINRATE,
    OPT_TIMEOUT,
    OPT_WATCH,
    OPT_WATCHTREE,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"host", 1, 0, OPT_HOST},
    {"port", 1, 0, OPT_PORT},
    {"domain", 1, 0, OPT_DOMAIN},
    {"muc-domain", 1, 0, OPT_MUC},
    {"user-fmt", 1, 0, OPT_USERFMT},
    {"first-user", 1, 0, OPT_FIRST},
    {"password", 1, 0, OPT_PASSWORD},
    {"rooms", 1, 0, OPT_ROOMS},
    {"occupants", 1, 0, OPT_OCC},
    {"conns-per-user", 1, 0, OPT_CPU},
    {"room-fmt", 1, 0, OPT_ROOMFMT},
    {"rooms-file", 1, 0, OPT_ROOMSFILE},
    {"nicks-file", 1, 0, OPT_NICKSFILE},
    {"dialect", 1, 0, OPT_DIALECT},
    {"rate", 1, 0, OPT_RATE},
    {"senders", 1, 0, OPT_SENDERS},
    {"body-bytes", 1, 0, OPT_BODY},
    {"warmup", 1, 0, OPT_WARMUP},
    {"duration", 1, 0, OPT_DURATION},
    {"drain", 1, 0, OPT_DRAIN},
    {"login-rate", 1, 0, OPT_LOGINRATE},
    {"max-pending", 1, 0, OPT_PENDING},
    {"join-rate", 1, 0, OPT_JOINRATE},
    {"timeout", 1, 0, OPT_TIMEOUT},
    {"watch", 1, 0, OPT_WATCH},
    {"watch-tree", 1, 0, OPT_WATCHTREE},
    {"quiet", 0, 0, OPT_QUIET},
    {"help", 0, 0, OPT_HELP},
    {0, 0, 0, 0},
};

/* Options that take a string. True when OPT was one of them. */
static bool string_option(options *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_HOST:
        o->host = arg;
        return true;
    case OPT_PORT:
        o->port = arg;
        return true;
    case OPT_DOMAIN:
        o->domain = arg;
        return true;
    case OPT_MUC:
        o->muc_domain = arg;
        return true;
    case OPT_USERFMT:
        o->user_fmt = arg;
        return true;
    case OPT_PASSWORD:
        o->password = arg;
        return true;
    case OPT_ROOMFMT:
        o->room_fmt = arg;
        return true;
    case OPT_ROOMSFILE:
        o->rooms_file = arg;
        return true;
    case OPT_NICKSFILE:
        o->nicks_file = arg;
        return true;
    default:
        return false;
    }
}

/* Options that take a number. True when OPT was one of them. */
static bool number_option(options *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_FIRST:
        o->first_user = (int)num(arg, "--first-user", 0, 1e9);
        return true;
    case OPT_ROOMS:
        o->rooms = (int)num(arg, "--rooms", 1, 1e6);
        return true;
    case OPT_OCC:
        o->occupants = (int)num(arg, "--occupants", 1, 65535);
        return true;
    case OPT_CPU:
        o->conns_per_user = (int)num(arg, "--conns-per-user", 1, 64);
        return true;
    case OPT_RATE:
        o->rate = num(arg, "--rate", 0, 1e7);
        return true;
    case OPT_SENDERS:
        o->senders = (int)num(arg, "--senders", 1, 65535);
        return true;
    case OPT_BODY:
        o->body_bytes = (int)num(arg, "--body-bytes", 0, 4000);
        return true;
    case OPT_WARMUP:
        o->warmup = num(arg, "--warmup", 0, 86400);
        return true;
    case OPT_DURATION:
        o->duration = num(arg, "--duration", 0.1, 86400);
        return true;
    case OPT_DRAIN:
        o->drain = num(arg, "--drain", 0, 86400);
        return true;
    case OPT_LOGINRATE:
        o->login_rate = num(arg, "--login-rate", 1, 1e7);
        return true;
    case OPT_PENDING:
        o->max_pending = (int)num(arg, "--max-pending", 1, 1e6);
        return true;
    case OPT_JOINRATE:
        o->join_rate = num(arg, "--join-rate", 1, 1e7);
        return true;
    case OPT_TIMEOUT:
        o->timeout = num(arg, "--timeout", 1, 86400);
        return true;
    default:
        return false;
    }
}

static void parse_options(bench *b, int argc, char **argv)
{
    options *o = &b->o;
    set_defaults(o);
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (string_option(o, opt, optarg) || number_option(o, opt, optarg))
            continue;
        if (opt == OPT_DIALECT && strcmp(optarg, "muc") == 0)
            o->dialect = DIALECT_MUC;
        else if (opt == OPT_DIALECT && strcmp(optarg, "classic") == 0)
            o->dialect = DIALECT_CLASSIC;
        else if (opt == OPT_WATCH || opt == OPT_WATCHTREE)
            add_watch(b, optarg, opt == OPT_WATCHTREE);
        else if (opt == OPT_QUIET)
            o->quiet = true;
        else if (opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            exit(1);
        }
    }
    if (optind != argc)
        die("unexpected argument %s", argv[optind]);
    if (o->senders == 0 || o->senders > o->occupants)
        o->senders = o->occupants;
    if ((long)o->occupants * o->conns_per_user > 65535)
        die("more than 65535 connections in one room");
}

/* Reads the non-empty, non-# lines of PATH; returns a malloc'ed array of malloc'ed strings
 * (caller frees each and the array) and sets *N. */
static char **read_lines(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    char **lines = NULL;
    int count = 0, cap = 0;
    char buf[512];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!buf[0] || buf[0] == '#')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            lines = xrealloc(lines, (size_t)cap * sizeof *lines);
        }
        lines[count++] = xstrdup(buf);
    }
    fclose(f);
    *n = count;
    return lines;
}

static char *room_jid(const options *o, const char *node_or_jid)
{
    char buf[600];
    if (strchr(node_or_jid, '@'))
        return xstrdup(node_or_jid);
    snprintf(buf, sizeof buf, "%s@%s", node_or_jid, o->muc_domain);
    return xstrdup(buf);
}

static void setup_rooms(bench *b)
{
    const options *o = &b->o;
    b->room_jids = calloc((size_t)o->rooms, sizeof *b->room_jids);
    b->room_joined = calloc((size_t)o->rooms, sizeof *b->room_joined);
    if (!b->room_jids || !b->room_joined)
        die("out of memory");
    int n = 0;
    char **lines = o->rooms_file ? read_lines(o->rooms_file, &n) : NULL;
    if (o->rooms_file && n < o->rooms)
        die("%s lists %d rooms, %d needed", o->rooms_file, n, o->rooms);
    for (int r = 0; r < o->rooms; r++) {
        char node[256];
        snprintf(node, sizeof node, o->room_fmt, r);
        b->room_jids[r] = room_jid(o, lines ? lines[r] : node);
    }
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    if (o->nicks_file)
        b->nicks = read_lines(o->nicks_file, &b->nnicks);
}

static void raise_fd_limit(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit: %s", strerror(errno));
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)need)
        die("%d connections need %d file descriptors; the hard limit is %lu", need - 64, need,
            (unsigned long)rl.rlim_max);
}

static void resolve(bench *b)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(b->o.host, b->o.port, &hints, &res);
    if (rc != 0)
        die("%s:%s: %s", b->o.host, b->o.port, gai_strerror(rc));
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    b->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

static void setup(bench *b)
{
    const options *o = &b->o;
    b->nconns = o->rooms * o->occupants * o->conns_per_user;
    raise_fd_limit(b->nconns + 64);
    resolve(b);
    setup_rooms(b);
    b->conns = calloc((size_t)b->nconns, sizeof *b->conns);
    b->scratch = malloc(READ_CHUNK);
    if (!b->conns || !b->scratch)
        die("out of memory");
    for (int i = 0; i < b->nconns; i++) {
        conn *c = &b->conns[i];
        c->b = b;
        c->fd = -1;
        c->idx = i;
        c->room = i / (o->occupants * o->conns_per_user);
    }
    b->win_first_seq = UINT64_MAX;
    /* precise: the default coarse clock ticks every 4 ms and would send in bursts */
    struct event_config *cfg = event_config_new();
    if (!cfg || event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0)
        die("event_config failed");
    b->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!b->base)
        die("event_base_new failed");
    b->tick = event_new(b->base, -1, EV_PERSIST, on_tick, b);
    struct timeval tv = {0, TICK_US};
    if (!b->tick || event_add(b->tick, &tv) != 0)
        die("cannot start the timer");
}

static void teardown(bench *b)
{
    for (int i = 0; i < b->nconns; i++)
        conn_close_fd(&b->conns[i]);
    for (int r = 0; r < b->o.rooms; r++)
        free(b->room_jids[r]);
    for (int i = 0; i < b->nnicks; i++)
        free(b->nicks[i]);
    free(b->nicks);
    free(b->room_jids);
    free(b->room_joined);
    free(b->conns);
    free(b->scratch);
    free(b->track);
    free(b->lat_us);
    event_free(b->tick);
    event_base_free(b->base);
    free(b);
}

int main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof *b);
    if (!b)
        die("out of memory");
    parse_options(b, argc, argv);
    setup(b);
    b->t_start = now_ns();
    snapshot(b, SN_START);
    read_rss(b, true);
    enter_phase(b, PH_LOGIN, b->t_start);
    note(b, "%d connections to %s:%s, login rate %.0f/s", b->nconns, b->o.host, b->o.port,
         b->o.login_rate);
    event_base_dispatch(b->base);
    int code = b->exit_code;
    teardown(b);
    return code;
}
