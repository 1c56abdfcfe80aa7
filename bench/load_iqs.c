/* load_iqs.c - load driver for the database-backed protocol IQs: logs in N c2s clients,
 * sends a weighted mix of dumbhippo IQs (prefs, hotness, recentPosts, clientInfo,
 * postClicked, myspace, music) to the component domain, either open-loop at a fixed total
 * rate or closed-loop with K requests in flight per connection, matches the answers by id
 * and reports IQs/s answered, latency percentiles, errors by condition and, for the pids it
 * is told to watch, CPU time over the measured window. See docs/performance.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define NS_P "http://dumbhippo.com/protocol/"
#define MAX_WATCH 8
#define MAX_COND 16
#define READ_CHUNK 65536
#define TICK_US 1000
#define MAX_SENDS_PER_TICK 20000
#define ID_PREFIX 'q'

enum kind {
    K_PREFS,
    K_HOTNESS,
    K_RECENT,
    K_RECENT_ID,
    K_CLIENTINFO,
    K_CLICKED,
    K_MYSPACE,
    K_MUSIC,
    K_COUNT
};

/* NEEDS_POST: the stanza names one of the user's posts (--posts-file). EXPECT: a string a
 * result must contain (NULL: an empty result). */
static const struct kind_info {
    const char *name;
    const char *type;
    bool needs_post;
    const char *expect;
    int weight; /* default mix */
} kinds[K_COUNT] = {
    [K_PREFS] = {"prefs", "get", false, "<prop key=", 15},
    [K_HOTNESS] = {"hotness", "get", false, "value=", 20},
    [K_RECENT] = {"recent", "get", false, "<livepost", 15},
    [K_RECENT_ID] = {"recent_id", "get", true, "<livepost", 10},
    [K_CLIENTINFO] = {"clientinfo", "get", false, "current=", 10},
    [K_CLICKED] = {"clicked", "set", true, NULL, 10},
    [K_MYSPACE] = {"myspace", "get", false, "mySpaceInfo", 10},
    [K_MUSIC] = {"music", "set", false, NULL, 10},
};

enum conn_state {
    CS_IDLE,
    CS_CONNECTING,
    CS_FEATURES1,
    CS_AUTH,
    CS_FEATURES2,
    CS_BIND,
    CS_SESSION,
    CS_READY,
    CS_DEAD,
};

enum phase { PH_LOGIN, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

/* CPU snapshots: before logins, window start and end. */
enum snap { SN_START, SN_T0, SN_T1, SN_COUNT };

typedef struct {
    const char *host;
    const char *port;
    const char *domain;
    const char *component;
    const char *user_fmt;
    const char *password;
    const char *posts_file;
    const char *platform;
    int first_user;
    int users;
    int conns_per_user;
    double rate;  /* open loop: IQs/s over all connections; 0: closed loop */
    int inflight; /* closed loop: requests in flight per connection */
    int max_outstanding;
    int weights[K_COUNT];
    double warmup;
    double duration;
    double drain;
    double login_rate;
    int max_pending;
    double timeout;
    uint64_t seed;
    bool quiet;
} options;

typedef struct {
    char label[32];
    pid_t pid;
    bool tree;
    double cpu[SN_COUNT];
} watch;

struct bench;

typedef struct {
    struct bench *b;
    struct event *rev, *wev;
    int fd;
    int idx;
    int user; /* 0-based user of this run */
    enum conn_state st;
    bool need_session;
    int outstanding;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_cap;
    hippo_bench_scan scan;
} conn;

/* One request sent: indexed by its serial, which is also its stanza id. */
typedef struct {
    uint64_t sent_ns;
    int32_t conn;
    uint8_t kind;
    bool in_window;
    bool answered;
} iq_track;

typedef struct {
    uint32_t *us;
    size_t n, cap;
} lat_list;

typedef struct {
    long started, in_handshake, logged_in, login_failed;
    long stream_errors, disconnects, other_stanzas, skipped_sends, late_ticks;
    long sent_total, sent_window, recv_window, ok_window, err_window, bad_window, unknown_ids;
    long kind_sent[K_COUNT], kind_ok[K_COUNT], kind_err[K_COUNT];
    char cond[MAX_COND][48];
    long cond_n[MAX_COND];
    int ncond;
    double tick_lag_max_ms;
    char first_error[200];
} counters;

typedef struct bench {
    options o;
    struct event_base *base;
    struct event *tick;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    conn *conns;
    int nconns;
    char ***posts; /* per user: NULL-terminated GUID list, or NULL without --posts-file */
    int nposts_users;
    int total_weight;
    uint64_t rng;
    enum phase ph;
    uint64_t ph_start_ns;
    uint64_t t_start, t_logged_in, t0, t1;
    uint64_t last_tick_ns;
    uint64_t send_start;
    long sched_sent;
    long rr;
    int login_cursor;
    char *scratch;
    iq_track *track;
    size_t track_cap;
    uint64_t seq;
    lat_list lat[K_COUNT + 1]; /* per kind, and [K_COUNT] = all */
    long pending_window;       /* window requests not answered yet */
    watch watches[MAX_WATCH];
    int nwatch;
    double self_cpu[SN_COUNT];
    double machine_busy[SN_COUNT]; /* busy CPU-seconds of the whole machine (/proc/stat) */
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

static uint64_t ns_of(double seconds)
{
    return (uint64_t)(seconds * 1e9);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("load_iqs: ", stderr);
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

/* Keeps the first error text for the report (the rest are only counted). */
static void first_error(bench *b, const char *what, hippo_bench_span detail)
{
    if (b->c.first_error[0])
        return;
    size_t n = detail.n > 160 ? 160 : detail.n;
    while (n > 0 && n < detail.n && ((unsigned char)detail.p[n] & 0xC0) == 0x80)
        n--; /* not inside a UTF-8 sequence: the report is JSON */
    snprintf(b->c.first_error, sizeof b->c.first_error, "%s: %.*s", what, (int)n, detail.p);
}

/* realloc that dies when out of memory; returns the new block (caller frees). */
static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n)
        die("out of memory");
    return q;
}

/* Returns a malloc'ed copy of S[0..N) (caller frees). */
static char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        die("out of memory");
    return p;
}

/* xorshift64*: reproducible request mix without libc's global state. */
static uint64_t rnd(bench *b)
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * 2685821657736338717u;
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
            conn_fail(c, "write failed");
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
            conn_fail(c, "write failed");
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

static const char *user_name(const bench *b, const conn *c, char *buf, size_t size)
{
    snprintf(buf, size, b->o.user_fmt, b->o.first_user + c->user);
    return buf;
}

static void stream_open(conn *c)
{
    conn_sendf(c,
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
               c->b->o.domain);
}

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
    hippo_bench_span s = {why, strlen(why)};
    if (c->st >= CS_CONNECTING && c->st <= CS_SESSION) {
        handshake_over(c, false);
        first_error(b, "login", s);
    } else if (c->st == CS_READY) {
        b->c.disconnects++;
        first_error(b, "disconnect", s);
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
    stream_open(c); /* queued until the connection is writable */
    c->st = CS_FEATURES1;
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
    user_name(c->b, c, user, sizeof user);
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

/* True when E is the result of our iq ID; an error fails the connection. */
static bool handshake_iq_ok(conn *c, hippo_bench_span e, const char *id)
{
    hippo_bench_span v;
    if (!hippo_bench_elem_attr(e, "id", &v) || !hippo_bench_span_eq(v, id))
        return false;
    if (hippo_bench_elem_attr(e, "type", &v) && hippo_bench_span_eq(v, "result"))
        return true;
    first_error(c->b, id, e);
    conn_fail(c, "iq failed");
    return false;
}

static void login_done(conn *c)
{
    handshake_over(c, true);
    c->st = CS_READY;
}

static void on_bind_answer(conn *c, hippo_bench_span e)
{
    if (!handshake_iq_ok(c, e, "bind1"))
        return;
    if (!c->need_session) {
        login_done(c);
        return;
    }
    conn_sendf(c, "<iq type='set' id='sess1'>"
                  "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    c->st = CS_SESSION;
}

static void on_session_answer(conn *c, hippo_bench_span e)
{
    if (handshake_iq_ok(c, e, "sess1"))
        login_done(c);
}

/* ------------------------------------------------------------------ requests */

static enum kind pick_kind(bench *b)
{
    int r = (int)(rnd(b) % (uint64_t)b->total_weight);
    for (int k = 0; k < K_COUNT; k++) {
        if (r < b->o.weights[k])
            return (enum kind)k;
        r -= b->o.weights[k];
    }
    return K_PREFS;
}

/* One of the user's posts (from --posts-file), chosen at random. */
static const char *pick_post(bench *b, const conn *c)
{
    char **list = b->posts[c->user];
    size_t n = 0;
    while (list[n])
        n++;
    return list[rnd(b) % n];
}

/* Writes the payload of a request of kind K into BUF. */
static void payload(bench *b, conn *c, enum kind k, char *buf, size_t size)
{
    switch (k) {
    case K_PREFS:
        snprintf(buf, size, "<prefs xmlns='" NS_P "prefs'/>");
        break;
    case K_HOTNESS:
        snprintf(buf, size, "<hotness xmlns='" NS_P "hotness' type='getValue'/>");
        break;
    case K_RECENT:
        snprintf(buf, size, "<recentPosts xmlns='" NS_P "post'/>");
        break;
    case K_RECENT_ID:
        snprintf(buf, size, "<recentPosts xmlns='" NS_P "post' id='%s'/>", pick_post(b, c));
        break;
    case K_CLIENTINFO:
        snprintf(buf, size,
                 "<clientInfo xmlns='" NS_P "clientinfo' platform='%s' distribution='fedora5' "
                 "version='' architecture='i686'/>",
                 b->o.platform);
        break;
    case K_CLICKED:
        snprintf(buf, size,
                 "<method xmlns='" NS_P "servermethod' name='postClicked'><arg>%s</arg></method>",
                 pick_post(b, c));
        break;
    case K_MYSPACE:
        snprintf(buf, size, "<mySpaceInfo xmlns='" NS_P "myspace' type='getName'/>");
        break;
    case K_MUSIC: /* a playlist of 8 tracks, so plays are counted, not only new rows */
        snprintf(buf, size,
                 "<music xmlns='" NS_P "music' type='musicChanged'><prop key='type'>FILE</prop>"
                 "<prop key='name'>Bench song %d</prop><prop key='artist'>Bench</prop>"
                 "<prop key='duration'>215</prop></music>",
                 (int)(rnd(b) % 8));
        break;
    default:
        buf[0] = '\0';
    }
}

static iq_track *track_new(bench *b)
{
    if (b->seq == b->track_cap) {
        b->track_cap = b->track_cap ? b->track_cap * 2 : 1 << 18;
        b->track = xrealloc(b->track, b->track_cap * sizeof *b->track);
    }
    return &b->track[b->seq];
}

static void send_request(bench *b, conn *c)
{
    enum kind k = pick_kind(b);
    char body[1024];
    payload(b, c, k, body, sizeof body);
    iq_track *t = track_new(b);
    t->conn = c->idx;
    t->kind = (uint8_t)k;
    t->in_window = b->ph == PH_MEASURE;
    t->answered = false;
    t->sent_ns = now_ns();
    conn_sendf(c, "<iq type='%s' id='%c%" PRIu64 "' to='%s'>%s</iq>", kinds[k].type, ID_PREFIX,
               b->seq, b->o.component, body);
    b->seq++;
    c->outstanding++;
    b->c.sent_total++;
    if (t->in_window) {
        b->c.sent_window++;
        b->c.kind_sent[k]++;
        b->pending_window++;
    }
}

static bool sending(const bench *b)
{
    return b->ph == PH_WARMUP || b->ph == PH_MEASURE;
}

/* Closed loop: tops the connection up to K requests in flight. */
static void refill(bench *b, conn *c)
{
    while (b->o.rate == 0 && sending(b) && c->st == CS_READY && c->outstanding < b->o.inflight)
        send_request(b, c);
}

/* ------------------------------------------------------------------ answers */

static void record_latency(lat_list *l, uint64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1 << 14;
        l->us = xrealloc(l->us, l->cap * sizeof *l->us);
    }
    uint64_t us = ns / 1000;
    l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void count_condition(bench *b, const char *name, size_t n)
{
    counters *c = &b->c;
    for (int i = 0; i < c->ncond; i++)
        if (strlen(c->cond[i]) == n && memcmp(c->cond[i], name, n) == 0) {
            c->cond_n[i]++;
            return;
        }
    int i = c->ncond < MAX_COND ? c->ncond++ : MAX_COND - 1;
    snprintf(c->cond[i], sizeof c->cond[i], "%.*s", (int)(n < 40 ? n : 40), name);
    c->cond_n[i]++;
}

/* The defined condition of an error iq: the first element inside <error> (the text before
 * it is whitespace in practice). */
static void count_error(bench *b, hippo_bench_span e)
{
    hippo_bench_span text;
    if (!hippo_bench_elem_child_text(e, "error", &text)) {
        count_condition(b, "no-error-element", 16);
        return;
    }
    const char *p = text.p + text.n;
    const char *end = e.p + e.n;
    if (p >= end || *p != '<') {
        count_condition(b, "no-condition", 12);
        return;
    }
    const char *q = ++p;
    while (q < end && *q != ' ' && *q != '/' && *q != '>')
        q++;
    count_condition(b, p, (size_t)(q - p));
}

/* Sorts an answer of a window request into ok / error / unexpected result. */
static void judge(bench *b, iq_track *t, hippo_bench_span e, bool result)
{
    enum kind k = (enum kind)t->kind;
    if (!result) {
        b->c.err_window++;
        b->c.kind_err[k]++;
        count_error(b, e);
        first_error(b, kinds[k].name, e);
    } else if (kinds[k].expect && !hippo_bench_elem_contains(e, kinds[k].expect)) {
        b->c.bad_window++;
        b->c.kind_err[k]++;
        count_condition(b, "unexpected-result", 17);
        first_error(b, kinds[k].name, e);
    } else {
        b->c.ok_window++;
        b->c.kind_ok[k]++;
    }
}

/* Our request's answer, id "q<serial>". */
static void on_answer(conn *c, iq_track *t, hippo_bench_span e, hippo_bench_span type)
{
    bench *b = c->b;
    uint64_t dt = now_ns() - t->sent_ns;
    t->answered = true;
    c->outstanding--;
    if (b->ph == PH_MEASURE)
        b->c.recv_window++;
    if (t->in_window) {
        b->pending_window--;
        record_latency(&b->lat[t->kind], dt);
        record_latency(&b->lat[K_COUNT], dt);
        judge(b, t, e, hippo_bench_span_eq(type, "result"));
    }
    refill(b, c);
}

/* The tracked request of id ID sent on C, or NULL. */
static iq_track *lookup(bench *b, const conn *c, hippo_bench_span id)
{
    if (id.n < 2 || id.n > 20 || id.p[0] != ID_PREFIX)
        return NULL;
    uint64_t seq = 0;
    for (size_t i = 1; i < id.n; i++) {
        if (id.p[i] < '0' || id.p[i] > '9')
            return NULL;
        seq = seq * 10 + (uint64_t)(id.p[i] - '0');
    }
    if (seq >= b->seq || b->track[seq].conn != c->idx || b->track[seq].answered)
        return NULL;
    return &b->track[seq];
}

/* Answers a server's ping like any client; other requests get an error, never silence. */
static void answer_server_iq(conn *c, hippo_bench_span e, hippo_bench_span id)
{
    hippo_bench_span from;
    if (!hippo_bench_elem_attr(e, "from", &from) || id.n > 256 || from.n > 1024)
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

static void on_iq(conn *c, hippo_bench_span e)
{
    bench *b = c->b;
    hippo_bench_span type, id;
    if (!hippo_bench_elem_attr(e, "type", &type) || !hippo_bench_elem_attr(e, "id", &id)) {
        b->c.other_stanzas++;
        return;
    }
    if (hippo_bench_span_eq(type, "get") || hippo_bench_span_eq(type, "set")) {
        b->c.other_stanzas++;
        answer_server_iq(c, e, id);
        return;
    }
    iq_track *t = lookup(b, c, id);
    if (!t) {
        b->c.unknown_ids++;
        return;
    }
    on_answer(c, t, e, type);
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
        if (hippo_bench_span_eq(name, "iq"))
            on_iq(c, e);
        else
            c->b->c.other_stanzas++;
    }
}

/* Reads into the shared scratch buffer when nothing is pending (only the tail of a split
 * element is ever copied into the connection's own buffer). */
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

/* Busy (non-idle, non-iowait) CPU-seconds of all CPUs since boot; -1 when unreadable. */
static double machine_busy_seconds(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1.0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -1.0;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static void snapshot(bench *b, enum snap s)
{
    for (int i = 0; i < b->nwatch; i++)
        b->watches[i].cpu[s] = hippo_bench_cpu_seconds(b->watches[i].pid, b->watches[i].tree);
    b->self_cpu[s] = hippo_bench_self_cpu_seconds();
    b->machine_busy[s] = machine_busy_seconds();
}

static void enter_phase(bench *b, enum phase ph, uint64_t t)
{
    b->ph = ph;
    b->ph_start_ns = t;
}

static void start_sending(bench *b, uint64_t t)
{
    b->send_start = t;
    enter_phase(b, PH_WARMUP, t);
    for (int i = 0; i < b->nconns; i++)
        refill(b, &b->conns[i]);
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
    note(b, "logged in %ld of %d connections (%ld failed) in %.2f s", b->c.logged_in, b->nconns,
         b->c.login_failed, secs(t - b->ph_start_ns));
    start_sending(b, t);
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

static void start_measure(bench *b, uint64_t t)
{
    snapshot(b, SN_T0);
    b->t0 = now_ns();
    note(b, "measuring for %.1f s", b->o.duration);
    enter_phase(b, PH_MEASURE, t);
}

static void end_measure(bench *b, uint64_t t)
{
    snapshot(b, SN_T1);
    b->t1 = now_ns();
    note(b, "window over: sent %ld, answered %ld; draining", b->c.sent_window, b->c.recv_window);
    enter_phase(b, PH_DRAIN, t);
}

/* Open loop: the next ready connection, round-robin, with room for one more request. */
static void send_one(bench *b)
{
    for (int tries = 0; tries < b->nconns; tries++) {
        conn *c = &b->conns[b->rr++ % b->nconns];
        if (c->st == CS_READY && c->outstanding < b->o.max_outstanding) {
            send_request(b, c);
            return;
        }
    }
    b->c.skipped_sends++;
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
    case PH_WARMUP:
    case PH_MEASURE:
        tick_send(b, t);
        break;
    case PH_DRAIN:
        if (b->pending_window == 0 || t - b->ph_start_ns >= ns_of(b->o.drain))
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

/* Nearest-rank percentile P (0..1) of sorted latencies, in ms; -1 without samples. */
static double pct_ms(const lat_list *l, double p)
{
    if (l->n == 0)
        return -1.0;
    size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return l->us[i] / 1000.0;
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

static double cpu_window(const watch *w)
{
    return w->cpu[SN_T0] >= 0 && w->cpu[SN_T1] >= 0 ? w->cpu[SN_T1] - w->cpu[SN_T0] : -1.0;
}

static double us_per_iq(const bench *b, double cpu)
{
    return b->c.recv_window ? 1e6 * cpu / (double)b->c.recv_window : 0.0;
}

/* Busy CPU in the window of processes neither watched nor the driver: other load on the box
 * (a watched tree that is not a real tree may count twice; not our case). */
static double other_cpu(const bench *b)
{
    double other = b->machine_busy[SN_T1] - b->machine_busy[SN_T0];
    other -= b->self_cpu[SN_T1] - b->self_cpu[SN_T0];
    for (int i = 0; i < b->nwatch; i++)
        other -= cpu_window(&b->watches[i]) > 0 ? cpu_window(&b->watches[i]) : 0;
    return other > 0 ? other : 0;
}

static const char *mode_name(const bench *b)
{
    return b->o.rate > 0 ? "open" : "closed";
}

static void report_text_kinds(const bench *b)
{
    for (int k = 0; k < K_COUNT; k++) {
        if (!b->c.kind_sent[k])
            continue;
        printf("  %-10s sent %7ld ok %7ld err %5ld  p50 %7.3f  p99 %7.3f ms\n", kinds[k].name,
               b->c.kind_sent[k], b->c.kind_ok[k], b->c.kind_err[k], pct_ms(&b->lat[k], 0.5),
               pct_ms(&b->lat[k], 0.99));
    }
}

static void report_text(const bench *b)
{
    const counters *c = &b->c;
    const lat_list *all = &b->lat[K_COUNT];
    printf("%d connections (%d users), %s loop: ", b->nconns, b->o.users, mode_name(b));
    if (b->o.rate > 0)
        printf("target %.0f IQs/s", b->o.rate);
    else
        printf("%d in flight per connection", b->o.inflight);
    printf(", warm-up %.1f s, window %.2f s\n", b->o.warmup, window_s(b));
    printf("login: %ld ok, %ld failed in %.2f s\n", c->logged_in, c->login_failed,
           secs(b->t_logged_in - b->t_start));
    printf("sent in window: %ld (%.1f/s); answered in window: %ld (%.1f/s)\n", c->sent_window,
           per_s(b, c->sent_window), c->recv_window, per_s(b, c->recv_window));
    printf("window requests: ok %ld, error %ld, unexpected result %ld, unanswered %ld\n",
           c->ok_window, c->err_window, c->bad_window, b->pending_window);
    printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (n=%zu)\n",
           pct_ms(all, 0.5), pct_ms(all, 0.9), pct_ms(all, 0.99), pct_ms(all, 0.999),
           pct_ms(all, 1.0), all->n);
    report_text_kinds(b);
    for (int i = 0; i < b->nwatch; i++) {
        const watch *w = &b->watches[i];
        double cpu = cpu_window(w);
        printf("%-10s cpu %.2f s in window (%.0f%% of a core), %.2f us/IQ\n", w->label, cpu,
               100.0 * cpu / (window_s(b) > 0 ? window_s(b) : 1), us_per_iq(b, cpu));
    }
    double self = b->self_cpu[SN_T1] - b->self_cpu[SN_T0];
    printf("driver     cpu %.2f s in window (%.0f%% of a core), %.2f us/IQ, max tick lag %.1f ms, "
           "late ticks %ld\n",
           self, 100.0 * self / (window_s(b) > 0 ? window_s(b) : 1), us_per_iq(b, self),
           c->tick_lag_max_ms, c->late_ticks);
    double mach = b->machine_busy[SN_T1] - b->machine_busy[SN_T0];
    printf(
        "machine    cpu %.2f s in window (%.0f%% of a core, %ld cores), other processes %.0f%%\n",
        mach, 100.0 * mach / (window_s(b) > 0 ? window_s(b) : 1), sysconf(_SC_NPROCESSORS_ONLN),
        100.0 * other_cpu(b) / (window_s(b) > 0 ? window_s(b) : 1));
    printf("errors by condition:");
    for (int i = 0; i < c->ncond; i++)
        printf(" %s=%ld", c->cond[i], c->cond_n[i]);
    printf("%s; stream %ld, disconnects %ld, skipped sends %ld, unknown ids %ld, other stanzas "
           "%ld%s%s\n",
           c->ncond ? "" : " none", c->stream_errors, c->disconnects, c->skipped_sends,
           c->unknown_ids, c->other_stanzas, c->first_error[0] ? "; first: " : "", c->first_error);
}

static void report_json_latency(const lat_list *l)
{
    printf("{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"n\":%zu}",
           pct_ms(l, 0.5), pct_ms(l, 0.9), pct_ms(l, 0.99), pct_ms(l, 0.999), pct_ms(l, 1.0), l->n);
}

static void report_json_kinds(const bench *b)
{
    printf("\"kinds\":{");
    bool first = true;
    for (int k = 0; k < K_COUNT; k++) {
        if (!b->c.kind_sent[k])
            continue;
        printf("%s\"%s\":{\"sent\":%ld,\"ok\":%ld,\"err\":%ld,\"latency_ms\":", first ? "" : ",",
               kinds[k].name, b->c.kind_sent[k], b->c.kind_ok[k], b->c.kind_err[k]);
        report_json_latency(&b->lat[k]);
        putchar('}');
        first = false;
    }
    printf("},");
}

static void report_json_watch(const bench *b)
{
    printf("\"watch\":{");
    for (int i = 0; i < b->nwatch; i++) {
        const watch *w = &b->watches[i];
        double cpu = cpu_window(w);
        if (i)
            putchar(',');
        json_string(stdout, w->label);
        printf(":{\"pid\":%d,\"cpu_window_s\":%.3f,\"us_per_iq\":%.3f}", (int)w->pid, cpu,
               us_per_iq(b, cpu));
    }
    printf("}");
}

static void report_json(const bench *b)
{
    const counters *c = &b->c;
    printf("RESULT {\"mode\":\"%s\",\"conns\":%d,\"users\":%d,\"rate\":%.1f,\"inflight\":%d,"
           "\"warmup_s\":%.2f,\"window_s\":%.3f,\"logged_in\":%ld,\"login_failed\":%ld,",
           mode_name(b), b->nconns, b->o.users, b->o.rate, b->o.inflight, b->o.warmup, window_s(b),
           c->logged_in, c->login_failed);
    printf("\"sent_window\":%ld,\"sent_per_s\":%.1f,\"answered_window\":%ld,"
           "\"answered_per_s\":%.1f,\"ok\":%ld,\"errors\":%ld,\"unexpected\":%ld,"
           "\"unanswered\":%ld,\"latency_ms\":",
           c->sent_window, per_s(b, c->sent_window), c->recv_window, per_s(b, c->recv_window),
           c->ok_window, c->err_window, c->bad_window, b->pending_window);
    report_json_latency(&b->lat[K_COUNT]);
    printf(",");
    report_json_kinds(b);
    printf("\"conditions\":{");
    for (int i = 0; i < c->ncond; i++)
        printf("%s\"%s\":%ld", i ? "," : "", c->cond[i], c->cond_n[i]);
    printf("},\"stream_errors\":%ld,\"disconnects\":%ld,\"skipped_sends\":%ld,"
           "\"unknown_ids\":%ld,\"first_error\":",
           c->stream_errors, c->disconnects, c->skipped_sends, c->unknown_ids);
    json_string(stdout, c->first_error);
    double self = b->self_cpu[SN_T1] - b->self_cpu[SN_T0];
    printf(",\"driver\":{\"cpu_window_s\":%.3f,\"us_per_iq\":%.3f,\"tick_lag_max_ms\":%.2f,"
           "\"late_ticks\":%ld},",
           self, us_per_iq(b, self), c->tick_lag_max_ms, c->late_ticks);
    printf("\"machine\":{\"cpus\":%ld,\"busy_window_s\":%.3f,\"other_window_s\":%.3f},",
           sysconf(_SC_NPROCESSORS_ONLN), b->machine_busy[SN_T1] - b->machine_busy[SN_T0],
           other_cpu(b));
    report_json_watch(b);
    printf("}\n");
}

static void report(bench *b)
{
    for (int k = 0; k <= K_COUNT; k++)
        if (b->lat[k].n > 1)
            qsort(b->lat[k].us, b->lat[k].n, sizeof *b->lat[k].us, cmp_u32);
    report_text(b);
    report_json(b);
    fflush(stdout);
    const counters *c = &b->c;
    bool clean = c->logged_in == b->nconns && c->err_window == 0 && c->bad_window == 0 &&
                 b->pending_window == 0 && c->stream_errors == 0 && c->disconnects == 0 &&
                 c->skipped_sends == 0 && c->sent_window > 0;
    b->exit_code = clean ? 0 : 2;
}

/* ------------------------------------------------------------------ setup */

static void usage(FILE *f)
{
    fputs("usage: load_iqs [OPTIONS]\n"
          "Logs in USERS x CONNS-PER-USER c2s connections and sends a mix of dumbhippo\n"
          "protocol IQs to the component for WARMUP + DURATION s: open loop at RATE IQs/s in\n"
          "total, or (--rate 0) closed loop with INFLIGHT requests per connection. Reports\n"
          "answered IQs/s, latency, errors by condition and the CPU of --watch'ed pids.\n"
          "  --host H --port P          c2s address (127.0.0.1:5222)\n"
          "  --domain D                 user domain (example.test)\n"
          "  --component C              where the IQs go (rooms.example.test)\n"
          "  --user-fmt FMT             printf format of user k's name (u%d)\n"
          "  --first-user K             index of the first user (0)\n"
          "  --password PW              every user's password (pw)\n"
          "  --users N                  users (100)\n"
          "  --conns-per-user C         resources per user (1)\n"
          "  --rate X                   open loop: IQs/s over all connections (0: closed)\n"
          "  --inflight K               closed loop: requests in flight per connection (4)\n"
          "  --max-outstanding M        open loop: skip a connection with M unanswered (1000)\n"
          "  --mix K=W,...              weights of the request kinds (default: prefs=15,\n"
          "                             hotness=20,recent=15,recent_id=10,clientinfo=10,\n"
          "                             clicked=10,myspace=10,music=10); kinds not named\n"
          "                             keep their weight, 0 disables one\n"
          "  --posts-file F             line k: post GUIDs user k may see (recent_id and\n"
          "                             clicked need it; without it they are disabled)\n"
          "  --platform P               clientInfo platform ([client \"P\"] in hippod.ini)\n"
          "                             (linux)\n"
          "  --warmup S --duration S    sending before / during the measured window (3, 10)\n"
          "  --drain S                  wait for late answers after the window (10)\n"
          "  --login-rate L             new connections per second (500)\n"
          "  --max-pending P            logins in progress at once (200)\n"
          "  --timeout S                limit of the login phase (120)\n"
          "  --seed N                   seed of the request mix (1)\n"
          "  --watch LABEL=PID          report the CPU time of PID (repeatable)\n"
          "  --watch-tree LABEL=PID     the same, summed over PID and its descendants\n"
          "  --quiet                    no progress lines on stderr\n"
          "Prints a summary and a line 'RESULT {json}'. Exit 0 when every login succeeded\n"
          "and every window request got its expected result, 2 when not, 1 on a usage or\n"
          "setup error.\n",
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

/* Parses "kind=weight,..." into O's weights. */
static void parse_mix(options *o, const char *arg)
{
    char *copy = xstrndup(arg, strlen(arg));
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            die("bad --mix item %s: expected KIND=WEIGHT", tok);
        *eq = '\0';
        int k = 0;
        while (k < K_COUNT && strcmp(kinds[k].name, tok) != 0)
            k++;
        if (k == K_COUNT)
            die("unknown request kind %s in --mix", tok);
        o->weights[k] = (int)num(eq + 1, "--mix weight", 0, 1e6);
    }
    free(copy);
}

static void set_defaults(options *o)
{
    o->host = "127.0.0.1";
    o->port = "5222";
    o->domain = "example.test";
    o->component = "rooms.example.test";
    o->user_fmt = "u%d";
    o->password = "pw";
    o->platform = "linux";
    o->users = 100;
    o->conns_per_user = 1;
    o->inflight = 4;
    o->max_outstanding = 1000;
    o->warmup = 3;
    o->duration = 10;
    o->drain = 10;
    o->login_rate = 500;
    o->max_pending = 200;
    o->timeout = 120;
    o->seed = 1;
    for (int k = 0; k < K_COUNT; k++)
        o->weights[k] = kinds[k].weight;
}

enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_DOMAIN,
    OPT_COMPONENT,
    OPT_USERFMT,
    OPT_FIRST,
    OPT_PASSWORD,
    OPT_USERS,
    OPT_CPU,
    OPT_RATE,
    OPT_INFLIGHT,
    OPT_MAXOUT,
    OPT_MIX,
    OPT_POSTS,
    OPT_PLATFORM,
    OPT_WARMUP,
    OPT_DURATION,
    OPT_DRAIN,
    OPT_LOGINRATE,
    OPT_PENDING,
    OPT_TIMEOUT,
    OPT_SEED,
    OPT_WATCH,
    OPT_WATCHTREE,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"host", 1, 0, OPT_HOST},
    {"port", 1, 0, OPT_PORT},
    {"domain", 1, 0, OPT_DOMAIN},
    {"component", 1, 0, OPT_COMPONENT},
    {"user-fmt", 1, 0, OPT_USERFMT},
    {"first-user", 1, 0, OPT_FIRST},
    {"password", 1, 0, OPT_PASSWORD},
    {"users", 1, 0, OPT_USERS},
    {"conns-per-user", 1, 0, OPT_CPU},
    {"rate", 1, 0, OPT_RATE},
    {"inflight", 1, 0, OPT_INFLIGHT},
    {"max-outstanding", 1, 0, OPT_MAXOUT},
    {"mix", 1, 0, OPT_MIX},
    {"posts-file", 1, 0, OPT_POSTS},
    {"platform", 1, 0, OPT_PLATFORM},
    {"warmup", 1, 0, OPT_WARMUP},
    {"duration", 1, 0, OPT_DURATION},
    {"drain", 1, 0, OPT_DRAIN},
    {"login-rate", 1, 0, OPT_LOGINRATE},
    {"max-pending", 1, 0, OPT_PENDING},
    {"timeout", 1, 0, OPT_TIMEOUT},
    {"seed", 1, 0, OPT_SEED},
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
    case OPT_COMPONENT:
        o->component = arg;
        return true;
    case OPT_USERFMT:
        o->user_fmt = arg;
        return true;
    case OPT_PASSWORD:
        o->password = arg;
        return true;
    case OPT_POSTS:
        o->posts_file = arg;
        return true;
    case OPT_PLATFORM:
        o->platform = arg;
        return true;
    case OPT_MIX:
        parse_mix(o, arg);
        return true;
    default:
        return false;
    }
}

/* Options that take a count. True when OPT was one of them. */
static bool count_option(options *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_FIRST:
        o->first_user = (int)num(arg, "--first-user", 0, 1e9);
        return true;
    case OPT_USERS:
        o->users = (int)num(arg, "--users", 1, 1e6);
        return true;
    case OPT_CPU:
        o->conns_per_user = (int)num(arg, "--conns-per-user", 1, 64);
        return true;
    case OPT_INFLIGHT:
        o->inflight = (int)num(arg, "--inflight", 1, 1e5);
        return true;
    case OPT_MAXOUT:
        o->max_outstanding = (int)num(arg, "--max-outstanding", 1, 1e7);
        return true;
    case OPT_PENDING:
        o->max_pending = (int)num(arg, "--max-pending", 1, 1e6);
        return true;
    case OPT_SEED:
        o->seed = (uint64_t)num(arg, "--seed", 1, 1e15);
        return true;
    default:
        return false;
    }
}

/* Options that take a rate or a duration. True when OPT was one of them. */
static bool time_option(options *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_RATE:
        o->rate = num(arg, "--rate", 0, 1e7);
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
        if (string_option(o, opt, optarg) || count_option(o, opt, optarg) ||
            time_option(o, opt, optarg))
            continue;
        if (opt == OPT_WATCH || opt == OPT_WATCHTREE)
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
}

/* Splits LINE into a NULL-terminated array of malloc'ed GUIDs (caller frees each and the
 * array); NULL when the line holds none. */
static char **split_posts(const char *line)
{
    char **list = NULL;
    size_t n = 0;
    const char *p = line;
    for (;;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (len == 0)
            break;
        list = xrealloc(list, (n + 2) * sizeof *list);
        list[n++] = xstrndup(p, len);
        list[n] = NULL;
        p += len;
    }
    return list;
}

/* Reads --posts-file: one line per user, space-separated GUIDs. */
static void read_posts(bench *b)
{
    FILE *f = fopen(b->o.posts_file, "r");
    if (!f)
        die("%s: %s", b->o.posts_file, strerror(errno));
    b->posts = calloc((size_t)b->o.users, sizeof *b->posts);
    if (!b->posts)
        die("out of memory");
    char buf[8192];
    int n = 0;
    while (n < b->o.users && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        b->posts[n] = split_posts(buf);
        if (!b->posts[n])
            die("%s: line %d lists no post", b->o.posts_file, n + 1);
        n++;
    }
    fclose(f);
    if (n < b->o.users)
        die("%s lists posts for %d users, %d needed", b->o.posts_file, n, b->o.users);
    b->nposts_users = n;
}

static void setup_mix(bench *b)
{
    options *o = &b->o;
    if (o->posts_file)
        read_posts(b);
    b->total_weight = 0;
    for (int k = 0; k < K_COUNT; k++) {
        if (kinds[k].needs_post && !o->posts_file)
            o->weights[k] = 0;
        b->total_weight += o->weights[k];
    }
    if (b->total_weight == 0)
        die("the request mix is empty");
    b->rng = o->seed * 0x9E3779B97F4A7C15u | 1;
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

static void setup_loop(bench *b)
{
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

static void setup(bench *b)
{
    const options *o = &b->o;
    b->nconns = o->users * o->conns_per_user;
    raise_fd_limit(b->nconns + 64);
    resolve(b);
    setup_mix(b);
    b->conns = calloc((size_t)b->nconns, sizeof *b->conns);
    b->scratch = malloc(READ_CHUNK);
    if (!b->conns || !b->scratch)
        die("out of memory");
    for (int i = 0; i < b->nconns; i++) {
        conn *c = &b->conns[i];
        c->b = b;
        c->fd = -1;
        c->idx = i;
        c->user = i / o->conns_per_user;
    }
    setup_loop(b);
}

static void teardown(bench *b)
{
    for (int i = 0; i < b->nconns; i++)
        conn_close_fd(&b->conns[i]);
    for (int u = 0; b->posts && u < b->nposts_users; u++) {
        for (char **p = b->posts[u]; *p; p++)
            free(*p);
        free(b->posts[u]);
    }
    free(b->posts);
    for (int k = 0; k <= K_COUNT; k++)
        free(b->lat[k].us);
    free(b->conns);
    free(b->scratch);
    free(b->track);
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
    enter_phase(b, PH_LOGIN, b->t_start);
    note(b, "%d connections to %s:%s, login rate %.0f/s", b->nconns, b->o.host, b->o.port,
         b->o.login_rate);
    event_base_dispatch(b->base);
    int code = b->exit_code;
    teardown(b);
    return code;
}
