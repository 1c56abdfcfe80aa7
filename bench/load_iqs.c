/* load_iqs.c - load driver for the database-backed protocol IQs: logs in N c2s clients,
 * sends a weighted mix of dumbhippo IQs (prefs, hotness, recentPosts, clientInfo,
 * postClicked, myspace, music) to the component domain, either open-loop at a fixed total
 * rate or closed-loop with K requests in flight per connection, matches the answers by id
 * and reports IQs/s answered, latency percentiles, errors by condition and, for the pids it
 * is told to watch, CPU time over the measured window. See docs/performance.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "latency.h"
#include "util.h"

#define NS_P "http://dumbhippo.com/protocol/"
#define MAX_COND 16
#define READ_CHUNK 65536
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

typedef struct {
    const char *component;
    const char *posts_file;
    const char *platform;
    int users;
    int inflight; /* closed loop (--rate 0): requests in flight per connection */
    int max_outstanding;
    int weights[K_COUNT];
    uint64_t seed;
} options;

typedef struct {
    hippo_bench_conn x; /* first: the connection set hands it back */
    int outstanding;
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
    long disconnects, other_stanzas, skipped_sends;
    long sent_total, sent_window, recv_window, ok_window, err_window, bad_window, unknown_ids;
    long kind_sent[K_COUNT], kind_ok[K_COUNT], kind_err[K_COUNT];
    char cond[MAX_COND][48];
    long cond_n[MAX_COND];
    int ncond;
} counters;

typedef struct {
    hippo_bench_driver d;
    options o;
    char ***posts; /* per user: NULL-terminated GUID list, or NULL without --posts-file */
    int nposts_users;
    int total_weight;
    uint64_t rng;
    long rr; /* open loop: round-robin position of the next connection */
    iq_track *track;
    size_t track_cap;
    uint64_t seq;
    hippo_bench_lat lat[K_COUNT + 1]; /* per kind, and [K_COUNT] = all */
    long pending_window;              /* window requests not answered yet */
    counters c;
} bench;

static conn *conn_at(const bench *b, int i)
{
    return (conn *)hippo_bench_clients_at(&b->d.cl, i);
}

/* xorshift64*: reproducible request mix without libc's global state. */
static uint64_t rnd(bench *b)
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * 2685821657736338717u;
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
    char **list = b->posts[c->x.user];
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
        b->track = hippo_bench_xrealloc(b->track, b->track_cap * sizeof *b->track);
    }
    return &b->track[b->seq];
}

static void send_request(bench *b, conn *c)
{
    enum kind k = pick_kind(b);
    char body[1024];
    payload(b, c, k, body, sizeof body);
    iq_track *t = track_new(b);
    t->conn = c->x.idx;
    t->kind = (uint8_t)k;
    t->in_window = b->d.ph == HIPPO_BENCH_PH_MEASURE;
    t->answered = false;
    t->sent_ns = hippo_bench_now_ns();
    hippo_bench_conn_sendf(&c->x, "<iq type='%s' id='%c%" PRIu64 "' to='%s'>%s</iq>", kinds[k].type,
                           ID_PREFIX, b->seq, b->o.component, body);
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
    return b->d.ph == HIPPO_BENCH_PH_WARMUP || b->d.ph == HIPPO_BENCH_PH_MEASURE;
}

/* Closed loop: tops the connection up to K requests in flight. */
static void refill(bench *b, conn *c)
{
    while (b->d.o.rate == 0 && sending(b) && c->x.st == HIPPO_BENCH_CS_READY &&
           c->outstanding < b->o.inflight)
        send_request(b, c);
}

/* Open loop: the next ready connection, round-robin, with room for one more request. */
static void send_one(void *owner)
{
    bench *b = owner;
    int n = b->d.cl.n;
    for (int tries = 0; tries < n; tries++) {
        conn *c = conn_at(b, (int)(b->rr++ % n));
        if (c->x.st == HIPPO_BENCH_CS_READY && c->outstanding < b->o.max_outstanding) {
            send_request(b, c);
            return;
        }
    }
    b->c.skipped_sends++;
}

/* ------------------------------------------------------------------ answers */

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
        hippo_bench_error(&b->d, kinds[k].name, e);
    } else if (kinds[k].expect && !hippo_bench_elem_contains(e, kinds[k].expect)) {
        b->c.bad_window++;
        b->c.kind_err[k]++;
        count_condition(b, "unexpected-result", 17);
        hippo_bench_error(&b->d, kinds[k].name, e);
    } else {
        b->c.ok_window++;
        b->c.kind_ok[k]++;
    }
}

/* Our request's answer, id "q<serial>". */
static void on_answer(bench *b, conn *c, iq_track *t, hippo_bench_span e, hippo_bench_span type)
{
    uint64_t dt = hippo_bench_now_ns() - t->sent_ns;
    t->answered = true;
    c->outstanding--;
    if (b->d.ph == HIPPO_BENCH_PH_MEASURE)
        b->c.recv_window++;
    if (t->in_window) {
        b->pending_window--;
        hippo_bench_lat_add(&b->lat[t->kind], dt);
        hippo_bench_lat_add(&b->lat[K_COUNT], dt);
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
    if (seq >= b->seq || b->track[seq].conn != c->x.idx || b->track[seq].answered)
        return NULL;
    return &b->track[seq];
}

static void on_iq(bench *b, conn *c, hippo_bench_span e)
{
    hippo_bench_span type, id;
    if (!hippo_bench_elem_attr(e, "type", &type) || !hippo_bench_elem_attr(e, "id", &id)) {
        b->c.other_stanzas++;
        return;
    }
    if (hippo_bench_span_eq(type, "get") || hippo_bench_span_eq(type, "set")) {
        b->c.other_stanzas++;
        hippo_bench_conn_answer_request(&c->x, e, id);
        return;
    }
    iq_track *t = lookup(b, c, id);
    if (!t) {
        b->c.unknown_ids++;
        return;
    }
    on_answer(b, c, t, e, type);
}

/* ------------------------------------------------------------------ connection calls */

static void on_stanza(void *owner, hippo_bench_conn *x, hippo_bench_span e, hippo_bench_span name)
{
    bench *b = owner;
    if (hippo_bench_span_eq(name, "iq"))
        on_iq(b, (conn *)x, e);
    else
        b->c.other_stanzas++;
}

static void on_lost(void *owner, hippo_bench_conn *x, const char *why)
{
    (void)x;
    bench *b = owner;
    b->c.disconnects++;
    hippo_bench_first_error_keep(&b->d.err, "disconnect", why, strlen(why));
}

/* ------------------------------------------------------------------ phases */

static void start_sending(void *owner)
{
    bench *b = owner;
    for (int i = 0; i < b->d.cl.n; i++)
        refill(b, conn_at(b, i));
}

static void window_end(void *owner)
{
    bench *b = owner;
    hippo_bench_note(&b->d, "window over: sent %ld, answered %ld; draining", b->c.sent_window,
                     b->c.recv_window);
}

static bool drained(const void *owner)
{
    const bench *b = owner;
    return b->pending_window == 0;
}

/* ------------------------------------------------------------------ report */

/* The driver snapshots CPU at the start of each phase: the window's are these. */
#define S_T0 HIPPO_BENCH_PH_MEASURE
#define S_T1 HIPPO_BENCH_PH_DRAIN

static double us_per_iq(const bench *b, double cpu)
{
    return b->c.recv_window ? 1e6 * cpu / (double)b->c.recv_window : 0.0;
}

static const char *mode_name(const bench *b)
{
    return b->d.o.rate > 0 ? "open" : "closed";
}

static void report_text_kinds(const bench *b)
{
    for (int k = 0; k < K_COUNT; k++) {
        if (!b->c.kind_sent[k])
            continue;
        printf("  %-10s sent %7ld ok %7ld err %5ld  p50 %7.3f  p99 %7.3f ms\n", kinds[k].name,
               b->c.kind_sent[k], b->c.kind_ok[k], b->c.kind_err[k],
               hippo_bench_lat_pct_ms(&b->lat[k], 0.5), hippo_bench_lat_pct_ms(&b->lat[k], 0.99));
    }
}

static void report_text_cpu(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    for (int i = 0; i < d->w.n; i++) {
        const hippo_bench_watch *w = &d->w.w[i];
        double cpu = hippo_bench_watch_cpu(w, S_T0, S_T1);
        printf("%-10s cpu %.2f s in window (%.0f%% of a core), %.2f us/IQ\n", w->label, cpu,
               hippo_bench_core_pct(d, cpu), us_per_iq(b, cpu));
    }
    double self = hippo_bench_watch_self(&d->w, S_T0, S_T1);
    printf("driver     cpu %.2f s in window (%.0f%% of a core), %.2f us/IQ, max tick lag %.1f ms, "
           "late ticks %ld\n",
           self, hippo_bench_core_pct(d, self), us_per_iq(b, self), d->tick_lag_max_ms,
           d->late_ticks);
    double mach = hippo_bench_watch_machine(&d->w, S_T0, S_T1);
    printf(
        "machine    cpu %.2f s in window (%.0f%% of a core, %ld cores), other processes %.0f%%\n",
        mach, hippo_bench_core_pct(d, mach), sysconf(_SC_NPROCESSORS_ONLN),
        hippo_bench_core_pct(d, hippo_bench_watch_others(&d->w, S_T0, S_T1)));
}

static void report_text(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const counters *c = &b->c;
    printf("%d connections (%d users), %s loop: ", d->cl.n, b->o.users, mode_name(b));
    if (d->o.rate > 0)
        printf("target %.0f IQs/s", d->o.rate);
    else
        printf("%d in flight per connection", b->o.inflight);
    printf(", warm-up %.1f s, window %.2f s\n", d->o.warmup, hippo_bench_window_s(d));
    printf("login: %ld ok, %ld failed in %.2f s\n", d->cl.logged_in, d->cl.login_failed,
           hippo_bench_phase_s(d, HIPPO_BENCH_PH_LOGIN, HIPPO_BENCH_PH_WARMUP));
    printf("sent in window: %ld (%.1f/s); answered in window: %ld (%.1f/s)\n", c->sent_window,
           hippo_bench_per_s(d, c->sent_window), c->recv_window,
           hippo_bench_per_s(d, c->recv_window));
    printf("window requests: ok %ld, error %ld, unexpected result %ld, unanswered %ld\n",
           c->ok_window, c->err_window, c->bad_window, b->pending_window);
    hippo_bench_lat_print_text(&b->lat[K_COUNT]);
    report_text_kinds(b);
    report_text_cpu(b);
    printf("errors by condition:");
    for (int i = 0; i < c->ncond; i++)
        printf(" %s=%ld", c->cond[i], c->cond_n[i]);
    printf("%s; stream %ld, disconnects %ld, skipped sends %ld, unknown ids %ld, other stanzas "
           "%ld%s%s\n",
           c->ncond ? "" : " none", d->cl.stream_errors, c->disconnects, c->skipped_sends,
           c->unknown_ids, c->other_stanzas, d->err.text[0] ? "; first: " : "", d->err.text);
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
        hippo_bench_lat_print_json(&b->lat[k]);
        putchar('}');
        first = false;
    }
    printf("},");
}

static void report_json_cpu(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    double self = hippo_bench_watch_self(&d->w, S_T0, S_T1);
    printf(",\"driver\":{\"cpu_window_s\":%.3f,\"us_per_iq\":%.3f,\"tick_lag_max_ms\":%.2f,"
           "\"late_ticks\":%ld},",
           self, us_per_iq(b, self), d->tick_lag_max_ms, d->late_ticks);
    printf("\"machine\":{\"cpus\":%ld,\"busy_window_s\":%.3f,\"other_window_s\":%.3f},",
           sysconf(_SC_NPROCESSORS_ONLN), hippo_bench_watch_machine(&d->w, S_T0, S_T1),
           hippo_bench_watch_others(&d->w, S_T0, S_T1));
    printf("\"watch\":{");
    for (int i = 0; i < d->w.n; i++) {
        const hippo_bench_watch *w = &d->w.w[i];
        double cpu = hippo_bench_watch_cpu(w, S_T0, S_T1);
        if (i)
            putchar(',');
        hippo_bench_json_string(stdout, w->label);
        printf(":{\"pid\":%d,\"cpu_window_s\":%.3f,\"us_per_iq\":%.3f}", (int)w->pid, cpu,
               us_per_iq(b, cpu));
    }
    printf("}");
}

static void report_json(const bench *b)
{
    const hippo_bench_driver *d = &b->d;
    const counters *c = &b->c;
    printf("RESULT {\"mode\":\"%s\",\"conns\":%d,\"users\":%d,\"rate\":%.1f,\"inflight\":%d,"
           "\"warmup_s\":%.2f,\"window_s\":%.3f,\"logged_in\":%ld,\"login_failed\":%ld,",
           mode_name(b), d->cl.n, b->o.users, d->o.rate, b->o.inflight, d->o.warmup,
           hippo_bench_window_s(d), d->cl.logged_in, d->cl.login_failed);
    printf("\"sent_window\":%ld,\"sent_per_s\":%.1f,\"answered_window\":%ld,"
           "\"answered_per_s\":%.1f,\"ok\":%ld,\"errors\":%ld,\"unexpected\":%ld,"
           "\"unanswered\":%ld,\"latency_ms\":",
           c->sent_window, hippo_bench_per_s(d, c->sent_window), c->recv_window,
           hippo_bench_per_s(d, c->recv_window), c->ok_window, c->err_window, c->bad_window,
           b->pending_window);
    hippo_bench_lat_print_json(&b->lat[K_COUNT]);
    printf(",");
    report_json_kinds(b);
    printf("\"conditions\":{");
    for (int i = 0; i < c->ncond; i++)
        printf("%s\"%s\":%ld", i ? "," : "", c->cond[i], c->cond_n[i]);
    printf("},\"stream_errors\":%ld,\"disconnects\":%ld,\"skipped_sends\":%ld,"
           "\"unknown_ids\":%ld,\"first_error\":",
           d->cl.stream_errors, c->disconnects, c->skipped_sends, c->unknown_ids);
    hippo_bench_json_string(stdout, d->err.text);
    report_json_cpu(b);
    printf("}\n");
}

static int report(void *owner)
{
    bench *b = owner;
    for (int k = 0; k <= K_COUNT; k++)
        hippo_bench_lat_sort(&b->lat[k]);
    report_text(b);
    report_json(b);
    const counters *c = &b->c;
    bool clean = b->d.cl.logged_in == b->d.cl.n && c->err_window == 0 && c->bad_window == 0 &&
                 b->pending_window == 0 && b->d.cl.stream_errors == 0 && c->disconnects == 0 &&
                 c->skipped_sends == 0 && c->sent_window > 0;
    return clean ? 0 : 2;
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

/* Parses "kind=weight,..." into O's weights. */
static void parse_mix(options *o, const char *arg)
{
    char *copy = hippo_bench_xstrdup(arg);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            hippo_bench_die("bad --mix item %s: expected KIND=WEIGHT", tok);
        *eq = '\0';
        int k = 0;
        while (k < K_COUNT && strcmp(kinds[k].name, tok) != 0)
            k++;
        if (k == K_COUNT)
            hippo_bench_die("unknown request kind %s in --mix", tok);
        o->weights[k] = (int)hippo_bench_num(eq + 1, "--mix weight", 0, 1e6);
    }
    free(copy);
}

static void set_defaults(bench *b)
{
    hippo_bench_driver_defaults(&b->d.o);
    b->d.o.warmup = 3;
    b->d.o.drain = 10;
    options *o = &b->o;
    o->component = "rooms.example.test";
    o->platform = "linux";
    o->users = 100;
    o->inflight = 4;
    o->max_outstanding = 1000;
    o->seed = 1;
    for (int k = 0; k < K_COUNT; k++)
        o->weights[k] = kinds[k].weight;
}

static bool set_mix(void *opts, const char *arg)
{
    parse_mix(opts, arg);
    return true;
}

static bool set_seed(void *opts, const char *arg)
{
    ((options *)opts)->seed = (uint64_t)hippo_bench_num(arg, "--seed", 1, 1e15);
    return true;
}

static const hippo_bench_option own_options[] = {
    HIPPO_BENCH_OPT_STRING(options, "component", component),
    HIPPO_BENCH_OPT_STRING(options, "posts-file", posts_file),
    HIPPO_BENCH_OPT_STRING(options, "platform", platform),
    HIPPO_BENCH_OPT_INT(options, "users", users, 1, 1e6),
    HIPPO_BENCH_OPT_INT(options, "inflight", inflight, 1, 1e5),
    HIPPO_BENCH_OPT_INT(options, "max-outstanding", max_outstanding, 1, 1e7),
    HIPPO_BENCH_OPT_CALL("mix", set_mix),
    HIPPO_BENCH_OPT_CALL("seed", set_seed),
};

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
        list = hippo_bench_xrealloc(list, (n + 2) * sizeof *list);
        list[n++] = hippo_bench_xstrndup(p, len);
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
        hippo_bench_die("%s: %s", b->o.posts_file, strerror(errno));
    b->posts = calloc((size_t)b->o.users, sizeof *b->posts);
    if (!b->posts)
        hippo_bench_die("out of memory");
    char buf[8192];
    int n = 0;
    while (n < b->o.users && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        b->posts[n] = split_posts(buf);
        if (!b->posts[n])
            hippo_bench_die("%s: line %d lists no post", b->o.posts_file, n + 1);
        n++;
    }
    fclose(f);
    if (n < b->o.users)
        hippo_bench_die("%s lists posts for %d users, %d needed", b->o.posts_file, n, b->o.users);
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
        hippo_bench_die("the request mix is empty");
    b->rng = o->seed * 0x9E3779B97F4A7C15u | 1;
}

static const hippo_bench_hooks hooks = {
    .sending = start_sending,
    .send_one = send_one,
    .window_end = window_end,
    .drained = drained,
    .report = report,
};

static const hippo_bench_conn_calls calls = {
    .stanza = on_stanza,
    .lost = on_lost,
};

static void teardown(bench *b)
{
    hippo_bench_driver_free(&b->d);
    for (int u = 0; b->posts && u < b->nposts_users; u++) {
        for (char **p = b->posts[u]; *p; p++)
            free(*p);
        free(b->posts[u]);
    }
    free(b->posts);
    for (int k = 0; k <= K_COUNT; k++)
        hippo_bench_lat_free(&b->lat[k]);
    free(b->track);
    free(b);
}

int main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof *b);
    if (!b)
        hippo_bench_die("out of memory");
    set_defaults(b);
    hippo_bench_driver_parse(&b->d, argc, argv, own_options,
                             sizeof own_options / sizeof own_options[0], &b->o, usage);
    setup_mix(b);
    hippo_bench_driver_setup(&b->d, b->o.users * b->d.o.c.conns_per_user, sizeof(conn), READ_CHUNK,
                             &hooks, &calls, b);
    int code = hippo_bench_driver_run(&b->d);
    teardown(b);
    return code;
}
