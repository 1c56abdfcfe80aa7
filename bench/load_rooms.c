/* load_rooms.c - load driver for chat rooms: logs in R x N c2s clients, joins them to R
 * rooms (XEP-0045 MUC or hippod's classic dialect), sends timestamped messages at a fixed
 * total rate and measures delivered messages/s, end-to-end latency and, for the pids it is
 * told to watch, CPU time and RSS over the measured window. See docs/performance.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"
#include "latency.h"
#include "util.h"

#define BODY_MAGIC "hb1 "
#define READ_CHUNK 16384
#define JOIN_PING_ID "joinping"

enum dialect { DIALECT_MUC, DIALECT_CLASSIC };

/* A join refused with a wait-type error is sent again, as a client should: JS_RETRY waits in
 * the retry list; JS_RETRY_AFTER_PING (classic dialect) first waits for the failed join's
 * ping answer, so that the answer is not taken for the retried join's. */
enum join_state { JS_NONE, JS_JOINING, JS_JOINED, JS_RETRY_AFTER_PING, JS_RETRY };

typedef struct {
    const char *muc_domain;
    const char *room_fmt;
    const char *rooms_file;
    const char *nicks_file;
    int rooms;
    int occupants;
    int senders;
    int body_bytes;
    double join_rate;
    enum dialect dialect;
} options;

typedef struct {
    hippo_bench_conn x; /* first: the connection set hands it back */
    int room;
    enum join_state js;
} conn;

/* Per measured message: how many deliveries are due and how many came. */
typedef struct {
    uint16_t expected;
    uint16_t got;
} msg_track;

typedef struct {
    long join_sent, joined, join_failed, join_retries;
    long disconnects, msg_errors, other_stanzas, skipped_sends;
    long sent_total, sent_window, recv_window, recv_bench, dups;
} counters;

typedef struct {
    hippo_bench_driver d;
    options o;
    char **room_jids;
    char **nicks; /* per user index (0-based from first_user), or NULL */
    int nnicks;
    int *room_joined;
    int *retry; /* connection indexes whose join waits to be sent again */
    int n_retry;
    long rr; /* round-robin position of the next sender */
    int join_cursor;
    uint64_t seq; /* next message serial */
    uint64_t win_first_seq;
    msg_track *track;
    size_t track_cap;
    hippo_bench_lat lat;
    long expected_window;
    long delivered_of_expected;
    counters c;
} bench;

static conn *conn_at(const bench *b, int i)
{
    return (conn *)hippo_bench_clients_at(&b->d.cl, i);
}

static bool dialect_muc(const bench *b)
{
    return b->o.dialect == DIALECT_MUC;
}

/* ------------------------------------------------------------------ rooms */

/* The nick this connection asks for (MUC) or expects as its occupant resource. NULL when
 * unknown (classic dialect without --nicks-file). */
static const char *conn_nick(const bench *b, const conn *c, char *buf, size_t size)
{
    int user = c->x.user;
    if (b->nicks && user < b->nnicks)
        return b->nicks[user];
    if (!dialect_muc(b))
        return NULL;
    return hippo_bench_conn_user_name(&c->x, buf, size);
}

static void send_join(bench *b, conn *c)
{
    char nick[128];
    const char *room = b->room_jids[c->room];
    if (dialect_muc(b))
        hippo_bench_conn_sendf(&c->x,
                               "<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'>"
                               "<history maxstanzas='0'/></x></presence>",
                               room, conn_nick(b, c, nick, sizeof nick));
    else /* the ping's answer marks the join done: hippod answers a room's stanzas in order */
        hippo_bench_conn_sendf(
            &c->x,
            "<presence to='%s'><x xmlns='http://jabber.org/protocol/muc'>"
            "<userInfo xmlns='http://dumbhippo.com/protocol/rooms' role='participant'/>"
            "</x></presence><iq type='get' id='" JOIN_PING_ID
            "' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
            room, room);
    b->c.join_sent++;
    c->js = JS_JOINING;
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

static void join_done(bench *b, conn *c)
{
    c->js = JS_JOINED;
    b->c.joined++;
    b->room_joined[c->room]++;
}

static void join_failed(bench *b, conn *c, const char *what, hippo_bench_span e)
{
    b->c.join_failed++;
    hippo_bench_error(&b->d, what, e);
    c->js = JS_NONE;
}

static void queue_retry(bench *b, conn *c)
{
    c->js = JS_RETRY;
    b->retry[b->n_retry++] = c->x.idx;
}

/* A wait-type error (the server is busy: hippod's database queue) asks for a retry. */
static void join_refused(bench *b, conn *c, const char *what, hippo_bench_span e)
{
    if (!hippo_bench_elem_contains(e, "type='wait'") &&
        !hippo_bench_elem_contains(e, "type=\"wait\"")) {
        join_failed(b, c, what, e);
        return;
    }
    b->c.join_retries++;
    if (dialect_muc(b))
        queue_retry(b, c);
    else
        c->js = JS_RETRY_AFTER_PING;
}

static void on_presence(bench *b, conn *c, hippo_bench_span e)
{
    hippo_bench_span from, res, type;
    if (c->js != JS_JOINING || !hippo_bench_elem_attr(e, "from", &from) ||
        !from_room(b, c, from, &res)) {
        b->c.other_stanzas++;
        return;
    }
    if (hippo_bench_elem_attr(e, "type", &type) && hippo_bench_span_eq(type, "error"))
        join_refused(b, c, "join", e);
    else if (is_self_presence(b, c, res, e))
        join_done(b, c);
}

/* ------------------------------------------------------------------ messages */

/* A message of ours came back: "hb1 SEQ SENT_NS ...". */
static void on_bench_body(bench *b, hippo_bench_span body)
{
    uint64_t t = hippo_bench_now_ns();
    char tmp[64];
    size_t n = body.n < sizeof tmp - 1 ? body.n : sizeof tmp - 1;
    memcpy(tmp, body.p, n);
    tmp[n] = '\0';
    char *end;
    uint64_t seq = strtoull(tmp + strlen(BODY_MAGIC), &end, 10);
    uint64_t sent = strtoull(end, NULL, 10);
    b->c.recv_bench++;
    if (b->d.ph == HIPPO_BENCH_PH_MEASURE)
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
    hippo_bench_lat_add(&b->lat, t > sent ? t - sent : 0);
}

static void on_message(bench *b, hippo_bench_span e)
{
    hippo_bench_span type, body;
    if (hippo_bench_elem_attr(e, "type", &type) && hippo_bench_span_eq(type, "error")) {
        b->c.msg_errors++;
        hippo_bench_error(&b->d, "message error", e);
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
        b->track = hippo_bench_xrealloc(b->track, b->track_cap * sizeof *b->track);
    }
    b->track[i].expected = (uint16_t)b->room_joined[room];
    b->track[i].got = 0;
    b->expected_window += b->room_joined[room];
    b->c.sent_window++;
}

static void send_message(bench *b, conn *c)
{
    char body[4096];
    int n = snprintf(body, sizeof body, BODY_MAGIC "%" PRIu64 " %" PRIu64 " ", b->seq,
                     hippo_bench_now_ns());
    while (n < b->o.body_bytes && n < (int)sizeof body - 1)
        body[n++] = 'x';
    body[n] = '\0';
    if (b->d.ph == HIPPO_BENCH_PH_MEASURE)
        track_message(b, c->room);
    b->seq++;
    b->c.sent_total++;
    hippo_bench_conn_sendf(&c->x, "<message to='%s'%s><body>%s</body></message>",
                           b->room_jids[c->room], dialect_muc(b) ? " type='groupchat'" : "", body);
}

/* Next sender, round-robin over rooms first so every room gets the same share. */
static void send_one(void *owner)
{
    bench *b = owner;
    const options *o = &b->o;
    long slots = (long)o->rooms * o->senders;
    for (long tries = 0; tries < slots; tries++) {
        long k = b->rr++;
        int room = (int)(k % o->rooms);
        int slot = (int)((k / o->rooms) % o->senders);
        conn *c = conn_at(b, (room * o->occupants + slot) * b->d.o.c.conns_per_user);
        if (c->js == JS_JOINED) {
            send_message(b, c);
            return;
        }
    }
    b->c.skipped_sends++;
}

/* The classic join's ping answer; any other iq is a request to answer (hippod pings
 * occupants it is unsure of) or noise. */
static void on_iq(bench *b, conn *c, hippo_bench_span e)
{
    hippo_bench_span type, id;
    bool typed = hippo_bench_elem_attr(e, "type", &type);
    bool has_id = hippo_bench_elem_attr(e, "id", &id);
    if (c->js == JS_RETRY_AFTER_PING && has_id && hippo_bench_span_eq(id, JOIN_PING_ID)) {
        queue_retry(b, c);
        return;
    }
    if (c->js == JS_JOINING && typed && has_id && hippo_bench_span_eq(id, JOIN_PING_ID)) {
        if (hippo_bench_span_eq(type, "result"))
            join_done(b, c);
        else
            join_failed(b, c, "join ping", e);
        return;
    }
    b->c.other_stanzas++;
    if (typed && has_id && (hippo_bench_span_eq(type, "get") || hippo_bench_span_eq(type, "set")))
        hippo_bench_conn_answer_request(&c->x, e, id);
}

/* ------------------------------------------------------------------ connection calls */

static void on_ready(void *owner, hippo_bench_conn *c)
{
    (void)owner;
    hippo_bench_conn_send(c, "<presence/>", 11);
}

static void on_stanza(void *owner, hippo_bench_conn *x, hippo_bench_span e, hippo_bench_span name)
{
    bench *b = owner;
    conn *c = (conn *)x;
    if (hippo_bench_span_eq(name, "message"))
        on_message(b, e);
    else if (hippo_bench_span_eq(name, "presence"))
        on_presence(b, c, e);
    else if (hippo_bench_span_eq(name, "iq"))
        on_iq(b, c, e);
    else
        b->c.other_stanzas++;
}

static void on_lost(void *owner, hippo_bench_conn *x, const char *why)
{
    (void)why;
    bench *b = owner;
    conn *c = (conn *)x;
    if (c->js == JS_JOINING || c->js == JS_RETRY_AFTER_PING || c->js == JS_RETRY) {
        b->c.join_failed++; /* a JS_RETRY index left in the list is skipped when sent */
    } else {
        if (c->js == JS_JOINED)
            b->room_joined[c->room]--;
        b->c.disconnects++;
    }
    c->js = JS_NONE;
}

/* ------------------------------------------------------------------ phases */

static void join_finished(bench *b, uint64_t t)
{
    for (int i = 0; i < b->d.cl.n; i++) {
        conn *c = conn_at(b, i);
        if (c->js == JS_JOINING || c->js == JS_RETRY_AFTER_PING || c->js == JS_RETRY) {
            c->js = JS_NONE;
            b->c.join_failed++;
        }
    }
    int lo = b->room_joined[0], hi = lo;
    for (int r = 1; r < b->o.rooms; r++) {
        lo = b->room_joined[r] < lo ? b->room_joined[r] : lo;
        hi = b->room_joined[r] > hi ? b->room_joined[r] : hi;
    }
    hippo_bench_note(&b->d,
                     "joined %ld of %ld sent (%ld failed, %ld retried after a wait error) in "
                     "%.2f s; occupants per room %d..%d",
                     b->c.joined, b->c.join_sent, b->c.join_failed, b->c.join_retries,
                     hippo_bench_secs(t - b->d.ph_start_ns), lo, hi);
}

static bool tick_join(void *owner, uint64_t t)
{
    bench *b = owner;
    double el = hippo_bench_secs(t - b->d.ph_start_ns);
    long allowed = (long)(b->o.join_rate * el) + 1;
    while (b->join_cursor < b->d.cl.n && b->c.join_sent < allowed) {
        conn *c = conn_at(b, b->join_cursor++);
        if (c->x.st == HIPPO_BENCH_CS_READY)
            send_join(b, c);
    }
    int kept = 0; /* retries share the pacing with the first joins */
    for (int i = 0; i < b->n_retry; i++) {
        conn *c = conn_at(b, b->retry[i]);
        if (c->js != JS_RETRY)
            continue; /* lost meanwhile */
        if (b->c.join_sent < allowed)
            send_join(b, c);
        else
            b->retry[kept++] = b->retry[i];
    }
    b->n_retry = kept;
    bool all = b->join_cursor == b->d.cl.n && b->n_retry == 0 &&
               b->c.joined + b->c.join_failed + b->c.join_retries >= b->c.join_sent;
    if (!all && el < b->d.o.timeout)
        return false;
    join_finished(b, t);
    return true;
}

static void window_start(void *owner)
{
    bench *b = owner;
    b->win_first_seq = b->seq;
}

static void window_end(void *owner)
{
    bench *b = owner;
    hippo_bench_watch_read_rss(&b->d.w, false);
    hippo_bench_note(&b->d, "window over: sent %ld, %ld deliveries; draining", b->c.sent_window,
                     b->c.recv_window);
}

static bool drained(const void *owner)
{
    const bench *b = owner;
    return b->delivered_of_expected >= b->expected_window;
}

/* ------------------------------------------------------------------ report */

/* The driver snapshots CPU at the start of each phase. */
#define S_START HIPPO_BENCH_PH_LOGIN
#define S_LOGGED_IN HIPPO_BENCH_PH_JOIN
#define S_JOINED HIPPO_BENCH_PH_WARMUP
#define S_T0 HIPPO_BENCH_PH_MEASURE
#define S_T1 HIPPO_BENCH_PH_DRAIN

static double us_per_delivery(const bench *b, double cpu)
{
    return b->c.recv_window ? 1e6 * cpu / (double)b->c.recv_window : 0.0;
}

static void report_text_watch(const bench *b, const hippo_bench_watch *w)
{
    double cpu = hippo_bench_watch_cpu(w, S_T0, S_T1);
    printf("%-10s cpu %.2f s in window (%.0f%% of a core), %.2f us/delivery; "
           "login %.2f s, join %.2f s; rss %.1f MiB (peak %.1f, at start %.1f)\n",
           w->label, cpu, hippo_bench_core_pct(&b->d, cpu), us_per_delivery(b, cpu),
           hippo_bench_watch_cpu(w, S_START, S_LOGGED_IN),
           hippo_bench_watch_cpu(w, S_LOGGED_IN, S_JOINED), w->rss_kib / 1024.0,
           w->hwm_kib / 1024.0, w->rss_start_kib / 1024.0);
}

static void report_text(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const options *o = &b->o;
    const counters *c = &b->c;
    printf("rooms %d x occupants %d (%d connections), dialect %s, rate %.0f msg/s, "
           "warm-up %.1f s, window %.2f s\n",
           o->rooms, o->occupants, d->cl.n, dialect_muc(b) ? "muc" : "classic", d->o.rate,
           d->o.warmup, hippo_bench_window_s(d));
    printf("login: %ld ok, %ld failed in %.2f s; join: %ld ok, %ld failed in %.2f s\n",
           d->cl.logged_in, d->cl.login_failed, hippo_bench_phase_s(d, S_START, S_LOGGED_IN),
           c->joined, c->join_failed, hippo_bench_phase_s(d, S_LOGGED_IN, S_JOINED));
    printf("sent in window: %ld (%.1f/s); deliveries in window: %ld (%.1f/s)\n", c->sent_window,
           hippo_bench_per_s(d, c->sent_window), c->recv_window,
           hippo_bench_per_s(d, c->recv_window));
    printf("expected deliveries of window messages: %ld, delivered: %ld, lost: %ld, dups: %ld\n",
           b->expected_window, b->delivered_of_expected,
           b->expected_window - b->delivered_of_expected, c->dups);
    hippo_bench_lat_print_text(&b->lat);
    for (int i = 0; i < d->w.n; i++)
        report_text_watch(b, &d->w.w[i]);
    double self = hippo_bench_watch_self(&d->w, S_T0, S_T1);
    printf("driver     cpu %.2f s in window (%.0f%% of a core), max tick lag %.1f ms, "
           "late ticks %ld\n",
           self, hippo_bench_core_pct(d, self), d->tick_lag_max_ms, d->late_ticks);
    double others = hippo_bench_watch_others(&d->w, S_T0, S_T1);
    printf("others     cpu %.2f s in window (%.0f%% of a core): processes neither watched nor "
           "the driver\n",
           others, hippo_bench_core_pct(d, others));
    printf("errors: stream %ld, message %ld, disconnects %ld, skipped sends %ld; other stanzas "
           "%ld%s%s\n",
           d->cl.stream_errors, c->msg_errors, c->disconnects, c->skipped_sends, c->other_stanzas,
           d->err.text[0] ? "; first: " : "", d->err.text);
}

static void report_json_watch(const bench *b, const hippo_bench_watch *w)
{
    double cpu = hippo_bench_watch_cpu(w, S_T0, S_T1);
    hippo_bench_json_string(stdout, w->label);
    printf(
        ":{\"pid\":%d,\"cpu_window_s\":%.3f,\"us_per_delivery\":%.3f,"
        "\"cpu_login_s\":%.3f,\"cpu_join_s\":%.3f,\"rss_start_kib\":%ld,\"rss_kib\":%ld,"
        "\"hwm_kib\":%ld}",
        (int)w->pid, cpu, us_per_delivery(b, cpu), hippo_bench_watch_cpu(w, S_START, S_LOGGED_IN),
        hippo_bench_watch_cpu(w, S_LOGGED_IN, S_JOINED), w->rss_start_kib, w->rss_kib, w->hwm_kib);
}

static void report_json(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const options *o = &b->o;
    const counters *c = &b->c;
    printf("RESULT {\"dialect\":\"%s\",\"rooms\":%d,\"occupants\":%d,\"conns\":%d,"
           "\"rate\":%.1f,\"warmup_s\":%.2f,\"window_s\":%.3f,",
           dialect_muc(b) ? "muc" : "classic", o->rooms, o->occupants, d->cl.n, d->o.rate,
           d->o.warmup, hippo_bench_window_s(d));
    printf("\"logged_in\":%ld,\"login_failed\":%ld,\"login_s\":%.3f,\"joined\":%ld,"
           "\"join_failed\":%ld,\"join_retries\":%ld,\"join_s\":%.3f,",
           d->cl.logged_in, d->cl.login_failed, hippo_bench_phase_s(d, S_START, S_LOGGED_IN),
           c->joined, c->join_failed, c->join_retries,
           hippo_bench_phase_s(d, S_LOGGED_IN, S_JOINED));
    printf("\"sent_window\":%ld,\"sent_per_s\":%.1f,\"delivered_window\":%ld,"
           "\"delivered_per_s\":%.1f,\"expected\":%ld,\"delivered_of_expected\":%ld,"
           "\"lost\":%ld,\"dups\":%ld,",
           c->sent_window, hippo_bench_per_s(d, c->sent_window), c->recv_window,
           hippo_bench_per_s(d, c->recv_window), b->expected_window, b->delivered_of_expected,
           b->expected_window - b->delivered_of_expected, c->dups);
    printf("\"latency_ms\":");
    hippo_bench_lat_print_json(&b->lat);
    printf(",\"errors\":{\"stream\":%ld,\"message\":%ld,\"disconnects\":%ld,"
           "\"skipped_sends\":%ld,\"other_stanzas\":%ld,\"first\":",
           d->cl.stream_errors, c->msg_errors, c->disconnects, c->skipped_sends, c->other_stanzas);
    hippo_bench_json_string(stdout, d->err.text);
    printf("},\"driver\":{\"cpu_window_s\":%.3f,\"tick_lag_max_ms\":%.2f,\"late_ticks\":%ld},"
           "\"others_cpu_window_s\":%.3f,\"watch\":{",
           hippo_bench_watch_self(&d->w, S_T0, S_T1), d->tick_lag_max_ms, d->late_ticks,
           hippo_bench_watch_others(&d->w, S_T0, S_T1));
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
    hippo_bench_lat_sort(&b->lat);
    report_text(b);
    report_json(b);
    const counters *c = &b->c;
    int n = b->d.cl.n;
    bool clean = b->d.cl.logged_in == n && c->joined == n &&
                 b->delivered_of_expected == b->expected_window && b->d.cl.stream_errors == 0 &&
                 c->msg_errors == 0 && c->disconnects == 0 && c->dups == 0;
    return clean ? 0 : 2;
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

static void set_defaults(bench *b)
{
    hippo_bench_driver_defaults(&b->d.o);
    b->d.o.rate = 100;
    b->d.o.warmup = 2;
    b->d.o.drain = 5;
    options *o = &b->o;
    o->muc_domain = "conference.example.test";
    o->room_fmt = "room%d";
    o->rooms = 10;
    o->occupants = 10;
    o->join_rate = 1000;
    o->body_bytes = 48;
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
    HIPPO_BENCH_OPT_STRING(options, "muc-domain", muc_domain),
    HIPPO_BENCH_OPT_STRING(options, "room-fmt", room_fmt),
    HIPPO_BENCH_OPT_STRING(options, "rooms-file", rooms_file),
    HIPPO_BENCH_OPT_STRING(options, "nicks-file", nicks_file),
    HIPPO_BENCH_OPT_INT(options, "rooms", rooms, 1, 1e6),
    HIPPO_BENCH_OPT_INT(options, "occupants", occupants, 1, 65535),
    HIPPO_BENCH_OPT_INT(options, "senders", senders, 1, 65535),
    HIPPO_BENCH_OPT_INT(options, "body-bytes", body_bytes, 0, 4000),
    HIPPO_BENCH_OPT_REAL(options, "join-rate", join_rate, 1, 1e7),
    HIPPO_BENCH_OPT_CALL("dialect", set_dialect),
};

static void parse_options(bench *b, int argc, char **argv)
{
    options *o = &b->o;
    set_defaults(b);
    hippo_bench_driver_parse(&b->d, argc, argv, own_options,
                             sizeof own_options / sizeof own_options[0], o, usage);
    if (o->senders == 0 || o->senders > o->occupants)
        o->senders = o->occupants;
    if ((long)o->occupants * b->d.o.c.conns_per_user > 65535)
        hippo_bench_die("more than 65535 connections in one room");
}

/* Reads the non-empty, non-# lines of PATH; returns a malloc'ed array of malloc'ed strings
 * (caller frees each and the array) and sets *N. */
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

/* Returns the room's JID, malloc'ed (caller frees). */
static char *room_jid(const options *o, const char *node_or_jid)
{
    char buf[600];
    if (strchr(node_or_jid, '@'))
        return hippo_bench_xstrdup(node_or_jid);
    snprintf(buf, sizeof buf, "%s@%s", node_or_jid, o->muc_domain);
    return hippo_bench_xstrdup(buf);
}

static void setup_rooms(bench *b)
{
    const options *o = &b->o;
    b->room_jids = calloc((size_t)o->rooms, sizeof *b->room_jids);
    b->room_joined = calloc((size_t)o->rooms, sizeof *b->room_joined);
    if (!b->room_jids || !b->room_joined)
        hippo_bench_die("out of memory");
    int n = 0;
    char **lines = o->rooms_file ? read_lines(o->rooms_file, &n) : NULL;
    if (o->rooms_file && n < o->rooms)
        hippo_bench_die("%s lists %d rooms, %d needed", o->rooms_file, n, o->rooms);
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

static const hippo_bench_hooks hooks = {
    .join = tick_join,
    .send_one = send_one,
    .window_start = window_start,
    .window_end = window_end,
    .drained = drained,
    .report = report,
};

static const hippo_bench_conn_calls calls = {
    .ready = on_ready,
    .stanza = on_stanza,
    .lost = on_lost,
};

static void setup(bench *b)
{
    const options *o = &b->o;
    int per_room = o->occupants * b->d.o.c.conns_per_user;
    int n = o->rooms * per_room;
    hippo_bench_driver_setup(&b->d, n, sizeof(conn), READ_CHUNK, &hooks, &calls, b);
    setup_rooms(b);
    for (int i = 0; i < n; i++)
        conn_at(b, i)->room = i / per_room;
    b->retry = hippo_bench_xrealloc(NULL, (size_t)n * sizeof *b->retry);
    b->win_first_seq = UINT64_MAX;
}

static void teardown(bench *b)
{
    hippo_bench_driver_free(&b->d);
    for (int r = 0; r < b->o.rooms; r++)
        free(b->room_jids[r]);
    for (int i = 0; i < b->nnicks; i++)
        free(b->nicks[i]);
    free(b->nicks);
    free(b->room_jids);
    free(b->room_joined);
    free(b->retry);
    free(b->track);
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
