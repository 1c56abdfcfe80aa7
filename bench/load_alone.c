/* load_alone.c - load driver for hippod's chat rooms without an XMPP server: it *is* the
 * server. It listens for hippod's XEP-0114 component link (xmpp_component.c), checks its
 * handshake, then injects what R x N simulated users would send through a server (joins,
 * then room messages at a fixed total rate or with a bounded number in flight) and counts
 * what hippod sends back: echoes per message, latency from injection to each echo, errors.
 * So hippod + PostgreSQL are measured without a server's routing cost or limit. See
 * docs/performance.md, "hippod alone". */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "latency.h"
#include "util.h"
#include "xmpp_component.h"

#define MSG_ID_PREFIX 'a' /* id='aSEQ': hippod reflects the sender's id in every echo */
#define BODY_MAGIC "hb1 "
#define JOIN_PING_ID "jp"

enum dialect { DIALECT_MUC, DIALECT_CLASSIC };

/* A join refused with a wait-type error waits in the retry list and is sent again. */
enum join_state { JS_NONE, JS_JOINING, JS_JOINED, JS_RETRY };

typedef struct {
    const char *component_domain;
    const char *secret;
    const char *room_fmt;
    const char *rooms_file;
    int rooms;
    int occupants;
    int senders;
    int body_bytes;
    int in_flight;        /* closed loop: messages in flight at once; 0: open loop at --rate */
    int refusal_pause_ms; /* closed loop: a refused message's slot waits this long */
    double join_rate;
    enum dialect dialect;
    bool marks;
} options;

typedef struct {
    char *jid; /* full JID, malloc'ed */
    int room;
    enum join_state js;
} user;

/* Per injected message: when, how many echoes are due, how many came. */
typedef struct {
    uint64_t sent_ns;
    uint16_t expected;
    uint16_t got;
    bool window; /* sent in the measured window */
    bool done;   /* every echo came, or hippod refused it */
} msg_track;

typedef struct {
    long join_sent, joined, join_failed, join_retries;
    long sent_total, sent_window, skipped_sends;
    long echoes_total, echoes_window; /* echoes of our messages received */
    long committed_window;            /* messages whose first echo came in the window */
    long echoed_total;                /* messages with at least one echo */
    long msg_errors, window_errors;   /* messages hippod answered with an error */
    long expected_window, delivered_of_expected, dups, unknown_ids;
    long other_stanzas, iqs_answered;
} counters;

typedef struct {
    hippo_bench_driver d;
    hippo_bench_comp link;
    options o;
    char **room_jids;
    int *room_joined;
    user *users;
    int n_users;
    int *retry; /* user indexes whose join waits to be sent again */
    int n_retry;
    int join_cursor;
    uint64_t link_up_ns, join_start_ns;
    bool link_up, link_lost;
    char lost_why[160];
    long rr; /* round-robin position of the next sender */
    long in_flight;
    msg_track *msgs; /* indexed by seq */
    size_t n_msgs, msgs_cap;
    char *filler; /* body_bytes of 'x' */
    hippo_bench_lat lat;
    counters c;
} bench;

static bool dialect_muc(const bench *b)
{
    return b->o.dialect == DIALECT_MUC;
}

static bool sending_phase(const bench *b)
{
    return b->d.ph == HIPPO_BENCH_PH_WARMUP || b->d.ph == HIPPO_BENCH_PH_MEASURE;
}

/* The run cannot go on (the link is gone or never came): the driver's phases run out at
 * once, so the report comes now instead of after the window. */
static void run_out(bench *b, const char *why)
{
    if (!b->lost_why[0])
        snprintf(b->lost_why, sizeof b->lost_why, "%s", why);
    b->d.o.warmup = b->d.o.duration = b->d.o.drain = 0;
}

/* ------------------------------------------------------------------ addressing */

/* The user a stanza is addressed to, from its 'to' (USER_FMT's number before the '@');
 * NULL when it is none of ours. */
static user *addressee(bench *b, hippo_bench_span e)
{
    hippo_bench_span to;
    if (!hippo_bench_elem_attr(e, "to", &to))
        return NULL;
    const char *at = memchr(to.p, '@', to.n);
    if (!at || at == to.p)
        return NULL;
    const char *p = at;
    while (p > to.p && p[-1] >= '0' && p[-1] <= '9')
        p--;
    long k = 0;
    for (; p < at; p++)
        k = k * 10 + (*p - '0');
    k -= b->d.o.c.first_user;
    return k >= 0 && k < b->n_users ? &b->users[k] : NULL;
}

/* ------------------------------------------------------------------ joins */

static void send_join(bench *b, user *u)
{
    const char *room = b->room_jids[u->room];
    if (dialect_muc(b))
        hippo_bench_comp_sendf(&b->link,
                               "<presence from='%s' to='%s/n%d'>"
                               "<x xmlns='http://jabber.org/protocol/muc'>"
                               "<history maxstanzas='0'/></x></presence>",
                               u->jid, room, (int)(u - b->users));
    else /* hippod sends a classic joiner no presence of its own: its ping answer tells */
        hippo_bench_comp_sendf(
            &b->link,
            "<presence from='%s' to='%s'><x xmlns='http://jabber.org/protocol/muc'>"
            "<userInfo xmlns='http://dumbhippo.com/protocol/rooms' role='participant'/>"
            "</x></presence><iq type='get' id='" JOIN_PING_ID
            "' from='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
            u->jid, room, u->jid, room);
    b->c.join_sent++;
    u->js = JS_JOINING;
}

static void join_done(bench *b, user *u)
{
    u->js = JS_JOINED;
    b->c.joined++;
    b->room_joined[u->room]++;
}

/* A wait-type error (hippod's database queue is full) asks for a retry, as a client would. */
static void join_refused(bench *b, user *u, hippo_bench_span e)
{
    if (hippo_bench_elem_contains(e, "type='wait'") ||
        hippo_bench_elem_contains(e, "type=\"wait\"")) {
        b->c.join_retries++;
        u->js = JS_RETRY;
        b->retry[b->n_retry++] = (int)(u - b->users);
        return;
    }
    b->c.join_failed++;
    hippo_bench_error(&b->d, "join", e);
    u->js = JS_NONE;
}

/* MUC: the joiner's own presence (status 110) ends its join. Other presences are the
 * room's broadcasts of the joins. */
static void on_presence(bench *b, hippo_bench_span e)
{
    user *u = addressee(b, e);
    hippo_bench_span type;
    if (!u || u->js != JS_JOINING) {
        b->c.other_stanzas++;
        return;
    }
    if (hippo_bench_elem_attr(e, "type", &type) && hippo_bench_span_eq(type, "error"))
        join_refused(b, u, e);
    else if (hippo_bench_elem_contains(e, "code='110'") ||
             hippo_bench_elem_contains(e, "code=\"110\""))
        join_done(b, u);
    else
        b->c.other_stanzas++;
}

static void join_finished(bench *b, uint64_t t)
{
    for (int i = 0; i < b->n_users; i++) {
        if (b->users[i].js == JS_JOINING || b->users[i].js == JS_RETRY) {
            b->users[i].js = JS_NONE;
            b->c.join_failed++;
        }
    }
    hippo_bench_note(&b->d, "joined %ld of %d (%ld failed, %ld retried) in %.2f s", b->c.joined,
                     b->n_users, b->c.join_failed, b->c.join_retries,
                     hippo_bench_secs(t - b->join_start_ns));
}

/* Sends the joins now due at --join-rate, first ones and retries alike. */
static void pace_joins(bench *b, double el)
{
    long allowed = (long)(b->o.join_rate * el) + 1;
    while (b->join_cursor < b->n_users && b->c.join_sent < allowed)
        send_join(b, &b->users[b->join_cursor++]);
    int kept = 0;
    for (int i = 0; i < b->n_retry; i++) {
        user *u = &b->users[b->retry[i]];
        if (b->c.join_sent < allowed)
            send_join(b, u);
        else
            b->retry[kept++] = b->retry[i];
    }
    b->n_retry = kept;
}

/* The join phase: waits for hippod's link, then joins every user to its room. */
static bool tick_join(void *owner, uint64_t t)
{
    bench *b = owner;
    if (b->link_lost)
        return true;
    if (!b->link_up) {
        if (hippo_bench_secs(t - b->d.ph_start_ns) < b->d.o.timeout)
            return false;
        hippo_bench_error(&b->d, "link", (hippo_bench_span){"hippod did not connect", 22});
        run_out(b, "hippod did not connect in time");
        return true;
    }
    if (!b->join_start_ns)
        b->join_start_ns = t;
    double el = hippo_bench_secs(t - b->join_start_ns);
    pace_joins(b, el);
    bool all = b->join_cursor == b->n_users && b->n_retry == 0 &&
               b->c.joined + b->c.join_failed + b->c.join_retries >= b->c.join_sent;
    if (!all && el < b->d.o.timeout)
        return false;
    join_finished(b, t);
    return true;
}

/* ------------------------------------------------------------------ messages */

static msg_track *new_msg(bench *b, int room)
{
    if (b->n_msgs == b->msgs_cap) {
        b->msgs_cap = b->msgs_cap ? b->msgs_cap * 2 : 1 << 16;
        b->msgs = hippo_bench_xrealloc(b->msgs, b->msgs_cap * sizeof *b->msgs);
    }
    msg_track *m = &b->msgs[b->n_msgs++];
    m->expected = (uint16_t)b->room_joined[room];
    m->got = 0;
    m->done = false;
    m->window = b->d.ph == HIPPO_BENCH_PH_MEASURE;
    if (m->window) {
        b->c.sent_window++;
        b->c.expected_window += m->expected;
    }
    return m;
}

static void send_message(bench *b, const user *u)
{
    uint64_t seq = b->n_msgs;
    msg_track *m = new_msg(b, u->room);
    char head[48];
    int n = snprintf(head, sizeof head, BODY_MAGIC "%" PRIu64 " ", seq);
    int pad = b->o.body_bytes > n ? b->o.body_bytes - n : 0;
    b->c.sent_total++;
    b->in_flight++;
    m->sent_ns = hippo_bench_now_ns();
    hippo_bench_comp_sendf(&b->link,
                           "<message from='%s' to='%s'%s id='%c%" PRIu64 "'>"
                           "<body>%s%.*s</body></message>",
                           u->jid, b->room_jids[u->room], dialect_muc(b) ? " type='groupchat'" : "",
                           MSG_ID_PREFIX, seq, head, pad, b->filler);
}

/* Next sender, round-robin over rooms first so every room gets the same share. */
static void send_one(void *owner)
{
    bench *b = owner;
    const options *o = &b->o;
    long slots = (long)o->rooms * o->senders;
    for (long tries = 0; tries < slots && !b->link_lost; tries++) {
        long k = b->rr++;
        int room = (int)(k % o->rooms);
        int slot = (int)((k / o->rooms) % o->senders);
        const user *u = &b->users[room * o->occupants + slot];
        if (u->js == JS_JOINED) {
            send_message(b, u);
            return;
        }
    }
    b->c.skipped_sends++;
}

/* M has all its echoes (or an error): in the closed loop its slot goes to the next one. */
static void complete(bench *b, msg_track *m)
{
    m->done = true;
    b->in_flight--;
    if (b->o.in_flight > 0 && sending_phase(b))
        send_one(b);
}

static void on_pause_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    bench *b = arg;
    if (sending_phase(b))
        send_one(b);
}

/* A refused message's slot in the closed loop: a client told to wait (hippod's
 * resource-constraint) tries again later, not at once, or the loop would spin on refusals. */
static void refused(bench *b, msg_track *m)
{
    m->done = true;
    b->in_flight--;
    if (b->o.in_flight == 0 || !sending_phase(b))
        return;
    int ms = b->o.refusal_pause_ms;
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    if (event_base_once(b->d.base, -1, EV_TIMEOUT, on_pause_over, b, &tv) != 0)
        hippo_bench_die("cannot arm a timer");
}

/* The message whose id E carries; NULL when it is not one of ours. */
static msg_track *msg_of_id(bench *b, hippo_bench_span e)
{
    hippo_bench_span id;
    if (!hippo_bench_elem_attr(e, "id", &id) || id.n < 2 || id.p[0] != MSG_ID_PREFIX)
        return NULL;
    uint64_t seq = 0;
    for (size_t i = 1; i < id.n; i++) {
        if (id.p[i] < '0' || id.p[i] > '9')
            return NULL;
        seq = seq * 10 + (uint64_t)(id.p[i] - '0');
    }
    if (seq < b->n_msgs)
        return &b->msgs[seq];
    b->c.unknown_ids++; /* our id's shape, but never sent */
    return NULL;
}

static void on_echo(bench *b, msg_track *m)
{
    bool in_window = b->d.ph == HIPPO_BENCH_PH_MEASURE;
    if (m->done || m->got >= m->expected) {
        b->c.dups++;
        return;
    }
    if (m->got++ == 0) {
        b->c.echoed_total++;
        b->c.committed_window += in_window;
    }
    b->c.echoes_total++;
    b->c.echoes_window += in_window;
    if (m->window) {
        b->c.delivered_of_expected++;
        uint64_t t = hippo_bench_now_ns();
        hippo_bench_lat_add(&b->lat, t > m->sent_ns ? t - m->sent_ns : 0);
    }
    if (m->got == m->expected)
        complete(b, m);
}

/* hippod refused the message (or could not store it): none of its echoes is due. */
static void on_message_error(bench *b, msg_track *m, hippo_bench_span e)
{
    b->c.msg_errors++;
    hippo_bench_error(&b->d, "message error", e);
    if (!m || m->done)
        return;
    if (m->window) {
        b->c.window_errors++;
        b->c.expected_window -= m->expected - m->got;
    }
    refused(b, m);
}

static void on_message(bench *b, hippo_bench_span e)
{
    hippo_bench_span type;
    msg_track *m = msg_of_id(b, e);
    if (hippo_bench_elem_attr(e, "type", &type) && hippo_bench_span_eq(type, "error"))
        on_message_error(b, m, e);
    else if (m)
        on_echo(b, m);
    else
        b->c.other_stanzas++; /* the subject on a MUC join, or not ours */
}

/* ------------------------------------------------------------------ iq */

/* Answers a request to a simulated user as its client would: a ping with a result, anything
 * else with feature-not-implemented, never silence. */
static void answer_request(bench *b, hippo_bench_span e, hippo_bench_span id)
{
    hippo_bench_span from, to;
    if (!hippo_bench_elem_attr(e, "from", &from) || !hippo_bench_elem_attr(e, "to", &to) ||
        id.n > 256 || from.n > 1024 || to.n > 1024)
        return;
    b->c.iqs_answered++;
    if (hippo_bench_elem_contains(e, "urn:xmpp:ping"))
        hippo_bench_comp_sendf(&b->link, "<iq type='result' id='%.*s' from='%.*s' to='%.*s'/>",
                               (int)id.n, id.p, (int)to.n, to.p, (int)from.n, from.p);
    else
        hippo_bench_comp_sendf(
            &b->link,
            "<iq type='error' id='%.*s' from='%.*s' to='%.*s'><error type='cancel'>"
            "<feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            "</error></iq>",
            (int)id.n, id.p, (int)to.n, to.p, (int)from.n, from.p);
}

static void on_iq(bench *b, hippo_bench_span e)
{
    hippo_bench_span type, id;
    bool typed = hippo_bench_elem_attr(e, "type", &type);
    bool has_id = hippo_bench_elem_attr(e, "id", &id);
    if (typed && has_id && (hippo_bench_span_eq(type, "get") || hippo_bench_span_eq(type, "set"))) {
        answer_request(b, e, id);
        return;
    }
    user *u = addressee(b, e);
    if (u && u->js == JS_JOINING && has_id && hippo_bench_span_eq(id, JOIN_PING_ID)) {
        if (typed && hippo_bench_span_eq(type, "result"))
            join_done(b, u);
        else
            join_refused(b, u, e);
        return;
    }
    b->c.other_stanzas++;
}

/* ------------------------------------------------------------------ link calls */

static void on_link_up(void *owner)
{
    bench *b = owner;
    b->link_up = true;
    b->link_up_ns = hippo_bench_now_ns();
    hippo_bench_note(&b->d, "hippod's component link is up");
}

static void on_stanza(void *owner, hippo_bench_span e, hippo_bench_span name)
{
    bench *b = owner;
    if (hippo_bench_span_eq(name, "message"))
        on_message(b, e);
    else if (hippo_bench_span_eq(name, "presence"))
        on_presence(b, e);
    else if (hippo_bench_span_eq(name, "iq"))
        on_iq(b, e);
    else
        b->c.other_stanzas++;
}

static void on_link_lost(void *owner, const char *why)
{
    bench *b = owner;
    b->link_lost = true;
    hippo_bench_error(&b->d, "link", (hippo_bench_span){why, strlen(why)});
    hippo_bench_note(&b->d, "hippod's link is gone: %s", why);
    run_out(b, why);
}

/* ------------------------------------------------------------------ phases */

static void mark(const bench *b, const char *what)
{
    if (!b->o.marks)
        return;
    printf("MARK %s\n", what);
    fflush(stdout);
}

/* The closed loop starts with its messages in flight; the open loop waits for the ticks. */
static void start_sending(void *owner)
{
    bench *b = owner;
    for (int i = 0; i < b->o.in_flight && !b->link_lost; i++)
        send_one(b);
}

static void window_start(void *owner)
{
    mark(owner, "window-start");
}

static void window_end(void *owner)
{
    bench *b = owner;
    mark(b, "window-end");
    hippo_bench_watch_read_rss(&b->d.w, false);
    hippo_bench_note(&b->d, "window over: sent %ld, %ld echoes; draining", b->c.sent_window,
                     b->c.echoes_window);
}

static bool drained(const void *owner)
{
    const bench *b = owner;
    return b->link_lost || b->c.delivered_of_expected >= b->c.expected_window;
}

/* ------------------------------------------------------------------ report */

/* The driver snapshots CPU at the start of each phase. */
#define S_START HIPPO_BENCH_PH_LOGIN
#define S_JOIN HIPPO_BENCH_PH_JOIN
#define S_T0 HIPPO_BENCH_PH_MEASURE
#define S_T1 HIPPO_BENCH_PH_DRAIN

static double per(double cpu_s, long n)
{
    return n > 0 ? 1e6 * cpu_s / (double)n : 0.0;
}

static void report_text_watch(const bench *b, const hippo_bench_watch *w)
{
    double cpu = hippo_bench_watch_cpu(w, S_T0, S_T1);
    printf("%-10s cpu %.2f s in window (%.0f%% of a core): %.1f us/message, %.2f us/delivery; "
           "rss %.1f MiB (peak %.1f, at start %.1f)\n",
           w->label, cpu, hippo_bench_core_pct(&b->d, cpu), per(cpu, b->c.committed_window),
           per(cpu, b->c.echoes_window), w->rss_kib / 1024.0, w->hwm_kib / 1024.0,
           w->rss_start_kib / 1024.0);
}

static void report_text(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const counters *c = &b->c;
    const hippo_bench_comp *l = &b->link;
    printf("rooms %d x occupants %d, dialect %s, %s, warm-up %.1f s, window %.2f s\n", b->o.rooms,
           b->o.occupants, dialect_muc(b) ? "muc" : "classic",
           b->o.in_flight ? "closed loop" : "open loop", d->o.warmup, hippo_bench_window_s(d));
    if (b->o.in_flight)
        printf("in flight: %d messages\n", b->o.in_flight);
    else
        printf("rate: %.0f messages/s\n", d->o.rate);
    printf("link: %s; join: %ld ok, %ld failed, %ld retried in %.2f s\n",
           b->link_lost ? b->lost_why
           : b->link_up ? "up"
                        : "never up",
           c->joined, c->join_failed, c->join_retries,
           hippo_bench_phase_s(d, S_JOIN, HIPPO_BENCH_PH_WARMUP));
    printf("in window: sent %ld (%.1f/s), committed %ld (%.1f/s: first echo), deliveries %ld "
           "(%.1f/s)\n",
           c->sent_window, hippo_bench_per_s(d, c->sent_window), c->committed_window,
           hippo_bench_per_s(d, c->committed_window), c->echoes_window,
           hippo_bench_per_s(d, c->echoes_window));
    printf("echoes due for window messages: %ld, came: %ld, lost: %ld, dups: %ld; refused "
           "messages: %ld (%ld of the window)\n",
           c->expected_window, c->delivered_of_expected,
           c->expected_window - c->delivered_of_expected, c->dups, c->msg_errors, c->window_errors);
    hippo_bench_lat_print_text(&b->lat);
    for (int i = 0; i < d->w.n; i++)
        report_text_watch(b, &d->w.w[i]);
    double self = hippo_bench_watch_self(&d->w, S_T0, S_T1);
    printf("driver     cpu %.2f s in window (%.0f%% of a core): %.2f us/delivery; max tick lag "
           "%.1f ms, late ticks %ld; read %.1f MB in %" PRIu64 " reads\n",
           self, hippo_bench_core_pct(d, self), per(self, c->echoes_window), d->tick_lag_max_ms,
           d->late_ticks, (double)l->bytes_in / 1e6, l->reads);
    double others = hippo_bench_watch_others(&d->w, S_T0, S_T1);
    printf("others     cpu %.2f s in window (%.0f%% of a core)\n", others,
           hippo_bench_core_pct(d, others));
    printf("totals: sent %ld, echoed %ld, echoes %ld, other stanzas %ld, iqs answered %ld, "
           "skipped sends %ld%s%s\n",
           c->sent_total, c->echoed_total, c->echoes_total, c->other_stanzas, c->iqs_answered,
           c->skipped_sends, d->err.text[0] ? "; first error: " : "", d->err.text);
}

static void report_json_watch(const bench *b, const hippo_bench_watch *w)
{
    double cpu = hippo_bench_watch_cpu(w, S_T0, S_T1);
    hippo_bench_json_string(stdout, w->label);
    printf(":{\"pid\":%d,\"cpu_window_s\":%.3f,\"us_per_message\":%.3f,\"us_per_delivery\":%.3f,"
           "\"cpu_join_s\":%.3f,\"rss_start_kib\":%ld,\"rss_kib\":%ld,\"hwm_kib\":%ld}",
           (int)w->pid, cpu, per(cpu, b->c.committed_window), per(cpu, b->c.echoes_window),
           hippo_bench_watch_cpu(w, S_JOIN, HIPPO_BENCH_PH_WARMUP), w->rss_start_kib, w->rss_kib,
           w->hwm_kib);
}

static void report_json_counts(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const counters *c = &b->c;
    printf("\"joined\":%ld,\"join_failed\":%ld,\"join_retries\":%ld,\"join_s\":%.3f,", c->joined,
           c->join_failed, c->join_retries, hippo_bench_phase_s(d, S_JOIN, HIPPO_BENCH_PH_WARMUP));
    printf("\"sent_total\":%ld,\"echoed_total\":%ld,\"echoes_total\":%ld,\"sent_window\":%ld,"
           "\"sent_per_s\":%.1f,\"committed_window\":%ld,\"committed_per_s\":%.1f,"
           "\"deliveries_window\":%ld,\"deliveries_per_s\":%.1f,",
           c->sent_total, c->echoed_total, c->echoes_total, c->sent_window,
           hippo_bench_per_s(d, c->sent_window), c->committed_window,
           hippo_bench_per_s(d, c->committed_window), c->echoes_window,
           hippo_bench_per_s(d, c->echoes_window));
    printf("\"expected\":%ld,\"delivered_of_expected\":%ld,\"lost\":%ld,\"dups\":%ld,"
           "\"msg_errors\":%ld,\"window_errors\":%ld,\"unknown_ids\":%ld,\"other_stanzas\":%ld,"
           "\"iqs_answered\":%ld,\"skipped_sends\":%ld,",
           c->expected_window, c->delivered_of_expected,
           c->expected_window - c->delivered_of_expected, c->dups, c->msg_errors, c->window_errors,
           c->unknown_ids, c->other_stanzas, c->iqs_answered, c->skipped_sends);
}

static void report_json(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const hippo_bench_comp *l = &b->link;
    printf("RESULT {\"dialect\":\"%s\",\"rooms\":%d,\"occupants\":%d,\"mode\":\"%s\","
           "\"rate\":%.1f,\"in_flight\":%d,\"warmup_s\":%.2f,\"window_s\":%.3f,",
           dialect_muc(b) ? "muc" : "classic", b->o.rooms, b->o.occupants,
           b->o.in_flight ? "closed" : "open", d->o.rate, b->o.in_flight, d->o.warmup,
           hippo_bench_window_s(d));
    printf("\"link_up\":%s,\"link_lost\":%s,", b->link_up ? "true" : "false",
           b->link_lost ? "true" : "false");
    report_json_counts(b);
    printf("\"latency_ms\":");
    hippo_bench_lat_print_json(&b->lat);
    printf(",\"first_error\":");
    hippo_bench_json_string(stdout, d->err.text);
    double self = hippo_bench_watch_self(&d->w, S_T0, S_T1);
    printf(",\"driver\":{\"cpu_window_s\":%.3f,\"us_per_delivery\":%.3f,\"tick_lag_max_ms\":%.2f,"
           "\"late_ticks\":%ld,\"bytes_in\":%" PRIu64 ",\"reads\":%" PRIu64 "},"
           "\"others_cpu_window_s\":%.3f,\"watch\":{",
           self, per(self, b->c.echoes_window), d->tick_lag_max_ms, d->late_ticks, l->bytes_in,
           l->reads, hippo_bench_watch_others(&d->w, S_T0, S_T1));
    for (int i = 0; i < d->w.n; i++) {
        if (i)
            putchar(',');
        report_json_watch(b, &d->w.w[i]);
    }
    printf("}}\n");
}

static int report(void *owner)
{
    bench *b = owner;
    hippo_bench_comp_close(&b->link);
    hippo_bench_lat_sort(&b->lat);
    report_text(b);
    report_json(b);
    const counters *c = &b->c;
    bool clean = b->link_up && !b->link_lost && c->joined == b->n_users &&
                 c->delivered_of_expected == c->expected_window && c->msg_errors == 0 &&
                 c->dups == 0 && c->unknown_ids == 0;
    return clean ? 0 : 2;
}

/* ------------------------------------------------------------------ setup */

static void usage(FILE *f)
{
    fputs("usage: load_alone [OPTIONS]\n"
          "Plays the XMPP server for hippod: listens for its XEP-0114 component link, checks\n"
          "the handshake, joins ROOMS x OCCUPANTS simulated users (user k -> room k /\n"
          "OCCUPANTS, JID USER@DOMAIN/r), sends room messages for WARMUP + DURATION s and\n"
          "reports committed messages/s, deliveries/s, latency and the CPU/RSS of --watch'ed\n"
          "pids. hippod must be configured to connect to HOST:PORT with SECRET.\n"
          "  --host H --port P          where to listen for the component (127.0.0.1:5347)\n"
          "  --component-domain C       the domain hippod serves (rooms.example.test)\n"
          "  --secret S                 the component secret (s3cret)\n"
          "  --domain D                 the users' domain (example.test)\n"
          "  --user-fmt FMT             user k's node; must end in %d (u%d)\n"
          "  --first-user K             index of the first user (0)\n"
          "  --rooms R --occupants N    rooms and users per room (10 x 10)\n"
          "  --room-fmt FMT             room node of room r (room%d)\n"
          "  --rooms-file F             room nodes or JIDs, one per line (instead of --room-fmt)\n"
          "  --dialect muc|classic      XEP-0045 or hippod's classic dialect (muc)\n"
          "  --rate X                   open loop: messages/s over all rooms (1000)\n"
          "  --in-flight K              closed loop instead: K messages in flight, the next\n"
          "                             sent when one has all its echoes (0: open loop)\n"
          "  --refusal-pause-ms P       closed loop: a refused message's slot waits P ms (100)\n"
          "  --senders K                users per room that send (all)\n"
          "  --body-bytes B             body length (48)\n"
          "  --warmup S --duration S    sending before / during the measured window (2, 10)\n"
          "  --drain S                  wait for late echoes after the window (10)\n"
          "  --join-rate J              joins per second (5000)\n"
          "  --timeout S                limit of the wait for hippod and of the joins (60)\n"
          "  --watch LABEL=PID          report CPU and RSS of PID (repeatable)\n"
          "  --watch-tree LABEL=PID     the same, CPU summed over PID and its descendants\n"
          "  --marks                    print 'MARK listening|window-start|window-end' lines\n"
          "  --quiet                    no progress lines on stderr\n"
          "Prints a summary and a line 'RESULT {json}'. Exit 0 when the link stayed up and\n"
          "every join and echo came, 2 when not (hippod disconnected, refused, lost), 1 on a\n"
          "usage or setup error.\n",
          f);
}

static void set_defaults(bench *b)
{
    hippo_bench_driver_defaults(&b->d.o);
    b->d.o.c.port = "5347";
    b->d.o.rate = 1000;
    b->d.o.warmup = 2;
    b->d.o.drain = 10;
    b->d.o.timeout = 60;
    options *o = &b->o;
    o->component_domain = "rooms.example.test";
    o->secret = "s3cret";
    o->room_fmt = "room%d";
    o->rooms = 10;
    o->occupants = 10;
    o->join_rate = 5000;
    o->body_bytes = 48;
    o->refusal_pause_ms = 100;
}

static bool set_dialect(void *opts, const char *arg)
{
    options *o = opts;
    if (strcmp(arg, "muc") == 0)
        o->dialect = DIALECT_MUC;
    else if (strcmp(arg, "classic") == 0)
        o->dialect = DIALECT_CLASSIC;
    else
        return false;
    return true;
}

static const hippo_bench_option own_options[] = {
    HIPPO_BENCH_OPT_STRING(options, "component-domain", component_domain),
    HIPPO_BENCH_OPT_STRING(options, "secret", secret),
    HIPPO_BENCH_OPT_STRING(options, "room-fmt", room_fmt),
    HIPPO_BENCH_OPT_STRING(options, "rooms-file", rooms_file),
    HIPPO_BENCH_OPT_INT(options, "rooms", rooms, 1, 1e6),
    HIPPO_BENCH_OPT_INT(options, "occupants", occupants, 1, 65535),
    HIPPO_BENCH_OPT_INT(options, "senders", senders, 1, 65535),
    HIPPO_BENCH_OPT_INT(options, "body-bytes", body_bytes, 0, 3000),
    HIPPO_BENCH_OPT_INT(options, "in-flight", in_flight, 0, 1e6),
    HIPPO_BENCH_OPT_INT(options, "refusal-pause-ms", refusal_pause_ms, 1, 60000),
    HIPPO_BENCH_OPT_REAL(options, "join-rate", join_rate, 1, 1e7),
    HIPPO_BENCH_OPT_CALL("dialect", set_dialect),
    HIPPO_BENCH_OPT_FLAG(options, "marks", marks),
};

static void parse_options(bench *b, int argc, char **argv)
{
    options *o = &b->o;
    set_defaults(b);
    hippo_bench_driver_parse(&b->d, argc, argv, own_options,
                             sizeof own_options / sizeof own_options[0], o, usage);
    if (o->senders == 0 || o->senders > o->occupants)
        o->senders = o->occupants;
    const char *fmt = b->d.o.c.user_fmt;
    size_t n = strlen(fmt);
    if (n < 2 || strcmp(fmt + n - 2, "%d") != 0 || strchr(fmt, '%') != fmt + n - 2)
        hippo_bench_die("--user-fmt must end in %%d and hold no other %%: %s", fmt);
    if (o->in_flight > 0)
        b->d.o.rate = 0; /* the echoes pace the closed loop, not the schedule */
}

/* Reads the non-empty, non-# lines of PATH; returns a malloc'ed array of N malloc'ed
 * strings (caller frees each and the array). */
static char **read_lines(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        hippo_bench_die("%s: %s", path, strerror(errno));
    char **lines = NULL;
    int count = 0, cap = 0;
    char buf[512];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!buf[0] || buf[0] == '#')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            lines = hippo_bench_xrealloc(lines, (size_t)cap * sizeof *lines);
        }
        lines[count++] = hippo_bench_xstrdup(buf);
    }
    fclose(f);
    *n = count;
    return lines;
}

static void setup_rooms(bench *b)
{
    const options *o = &b->o;
    b->room_jids = hippo_bench_xrealloc(NULL, (size_t)o->rooms * sizeof *b->room_jids);
    int n = 0;
    char **lines = o->rooms_file ? read_lines(o->rooms_file, &n) : NULL;
    if (o->rooms_file && n < o->rooms)
        hippo_bench_die("%s lists %d rooms, %d needed", o->rooms_file, n, o->rooms);
    for (int r = 0; r < o->rooms; r++) {
        char node[256], jid[600];
        snprintf(node, sizeof node, o->room_fmt, r);
        const char *name = lines ? lines[r] : node;
        if (strchr(name, '@'))
            snprintf(jid, sizeof jid, "%s", name);
        else
            snprintf(jid, sizeof jid, "%s@%s", name, o->component_domain);
        b->room_jids[r] = hippo_bench_xstrdup(jid);
    }
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void setup_users(bench *b)
{
    b->n_users = b->o.rooms * b->o.occupants;
    b->users = calloc((size_t)b->n_users, sizeof *b->users);
    b->room_joined = calloc((size_t)b->o.rooms, sizeof *b->room_joined);
    b->retry = calloc((size_t)b->n_users, sizeof *b->retry);
    if (!b->users || !b->room_joined || !b->retry)
        hippo_bench_die("out of memory");
    for (int i = 0; i < b->n_users; i++) {
        char node[128], jid[300];
        snprintf(node, sizeof node, b->d.o.c.user_fmt, b->d.o.c.first_user + i);
        snprintf(jid, sizeof jid, "%s@%s/r", node, b->d.o.c.domain);
        b->users[i].jid = hippo_bench_xstrdup(jid);
        b->users[i].room = i / b->o.occupants;
    }
    b->filler = malloc((size_t)b->o.body_bytes + 1);
    if (!b->filler)
        hippo_bench_die("out of memory");
    memset(b->filler, 'x', (size_t)b->o.body_bytes);
    b->filler[b->o.body_bytes] = '\0';
}

static const hippo_bench_hooks hooks = {
    .join = tick_join,
    .sending = start_sending,
    .send_one = send_one,
    .window_start = window_start,
    .window_end = window_end,
    .drained = drained,
    .report = report,
};

static const hippo_bench_comp_calls link_calls = {
    .up = on_link_up,
    .stanza = on_stanza,
    .lost = on_link_lost,
};

/* No c2s connections: the driver's login phase is empty and the join phase waits for the
 * component instead. */
static const hippo_bench_conn_calls no_conn_calls = {0};

static void setup(bench *b)
{
    hippo_bench_driver_setup(&b->d, 0, sizeof(hippo_bench_conn), 4096, &hooks, &no_conn_calls, b);
    setup_rooms(b);
    setup_users(b);
    hippo_bench_comp_listen(&b->link, b->d.base, b->d.o.c.host, b->d.o.c.port,
                            b->o.component_domain, b->o.secret, &link_calls, b);
    mark(b, "listening");
}

static void teardown(bench *b)
{
    hippo_bench_comp_close(&b->link);
    hippo_bench_driver_free(&b->d);
    for (int r = 0; r < b->o.rooms; r++)
        free(b->room_jids[r]);
    for (int i = 0; i < b->n_users; i++)
        free(b->users[i].jid);
    free(b->room_jids);
    free(b->users);
    free(b->room_joined);
    free(b->retry);
    free(b->msgs);
    free(b->filler);
    hippo_bench_lat_free(&b->lat);
    free(b);
}

int main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof *b);
    if (!b)
        hippo_bench_die("out of memory");
    parse_options(b, argc, argv);
    setup(b);
    hippo_bench_watch_read_rss(&b->d.w, true);
    int code = hippo_bench_driver_run(&b->d);
    teardown(b);
    return code;
}
