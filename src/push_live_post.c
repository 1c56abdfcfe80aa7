/* push_live_post.c - livePostChanged (original-behaviour.md 4.3): a headline with the
 * post's entities, <post> and <livepost> to its poster and receivers but the user who
 * caused the change, coalesced per post across every hippod draining the outbox.
 *
 * Coalescing (docs/push.md): before each send hippod asks the database for the post's send
 * slot (hippo.live_post_slot, sql/018): free when the post's last send, by any hippod,
 * started at least [push] live_post_interval_ms ago. Taking it also takes over every
 * live_post event of the post that other hippods hold, since this send covers them. So the
 * first event of a quiet post is sent at once; later ones are held (still claimed by our
 * session) and the slot is asked for again when it frees, the send then reading the numbers
 * of that moment: the last notification of a burst always carries the latest numbers. While
 * our own send or the slot's answer says the slot is busy, events are held without asking.
 * A held event is retired only once the send covering it (ours, or another hippod's that
 * took it over) handed its stanzas to the link; if hippod or its database session dies
 * first, the claims go stale and the events come back.
 *
 * The payload is built once per send (viewer: the poster) and each recipient's copy gets
 * its own favorite/ignored flags: three queries per send whatever the audience. */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "post_payload.h"
#include "send.h"
#include "push_kinds.h"
#include "push_xml.h"
#include "sdnotify.h"
#include "xmpp_link.h"

#define STMT_SLOT "push_live_post_slot"
#define STMT_AUDIENCE "push_live_post_audience"

struct hippo_push_live {
    hippod *d;
    struct live_entry *entries;
};

/* A post with a recent send, or with held events. */
struct live_entry {
    hippo_push_live *l;
    char post_id[HIPPO_GUID_LEN + 1];
    uint64_t due_usec; /* monotonic: the slot is busy until then (our send, or its answer) */
    int64_t *held;
    size_t n_held, cap_held;
    char actor[HIPPO_GUID_LEN + 1]; /* who caused every held event ("" if not one user) */
    struct event *timer;
    struct live_send *sending; /* asking for the slot, then sending */
    struct live_entry *next;
};

/* One livePostChanged send: the slot, the audience, the payload, the fan-out. */
struct live_send {
    struct live_entry *e;
    hippod *d;
    bool queue_event; /* covers the queue's current event (QUEUE_ID) too */
    int64_t queue_id;
    int64_t *ids; /* the other events: held ones when asking, then those the slot gave us */
    size_t n_ids;
    char cause[HIPPO_GUID_LEN + 1]; /* who caused them ("" if not one user) */
    char post_id[HIPPO_GUID_LEN + 1];
    char poster_id[HIPPO_GUID_LEN + 1];
    char **jids;
    char *flags; /* per recipient: 2 characters, favorite then ignored ('t'/'f') */
    size_t n;
    xmpp_stanza_t *message;
    hippo_push_viewpoint vp;
};

static void arm(struct live_entry *e);
static int hold_id(struct live_entry *e, int64_t id, const char *actor);

void hippo_push_live_post_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_SLOT,
                     "SELECT wait_ms, coalesce(ids::text, '{}'), coalesce(except_user, '')"
                     " FROM hippo.live_post_slot($1, $2::integer, $3::bigint[], nullif($4, ''))",
                     4);
    hippo_db_prepare(db, STMT_AUDIENCE,
                     "SELECT poster_id, jid, favorite, ignored"
                     " FROM hippo.push_live_post_audience($1, nullif($2, ''))",
                     2);
}

static uint64_t interval_usec(const hippod *d)
{
    return (uint64_t)d->cfg.push_live_post_interval_ms * 1000;
}

/* A bigint[] literal of IDS (with ID first when FIRST); the caller frees the result. */
static char *ids_literal(bool first, int64_t id, const int64_t *ids, size_t n)
{
    char *out = malloc((n + 1) * 21 + 3);
    if (!out)
        return NULL;
    size_t used = 0;
    out[used++] = '{';
    if (first)
        used += (size_t)sprintf(out + used, "%" PRId64, id);
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(out + used, "%s%" PRId64, first || i ? "," : "", ids[i]);
    out[used++] = '}';
    out[used] = '\0';
    return out;
}

/* Parses TEXT, a bigint[] literal such as {3,5}, into *IDS (the caller frees it) and *N.
 * Returns 0, or -1 when it is malformed or memory ran out. */
static int ids_parse(const char *text, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    size_t len = strlen(text);
    if (len < 2 || text[0] != '{' || text[len - 1] != '}')
        return -1;
    int64_t *out = malloc((len / 2 + 1) * sizeof *out);
    if (!out)
        return -1;
    const char *p = text + 1;
    size_t count = 0;
    while (*p != '}') {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '}')) {
            free(out);
            return -1;
        }
        out[count++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    *ids = out;
    *n = count;
    return 0;
}

/* ------------------------------------------------------------------ a send */

static void send_free(struct live_send *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->jids[i]);
    free(s->jids);
    free(s->flags);
    free(s->ids);
    if (s->message)
        xmpp_stanza_release(s->message);
    free(s);
}

static void send_finish(struct live_send *s, bool sent)
{
    hippod *d = s->d;
    struct live_entry *e = s->e;
    e->sending = NULL;
    if (!sent) /* not before an interval, as if it had been sent */
        e->due_usec = hippo_monotonic_usec() + interval_usec(d);
    arm(e);
    hippo_log(&d->log, HIPPO_LOG_DEBUG, "push: livePostChanged %s to %zu users %s", s->post_id,
              s->n, sent ? "sent" : "not sent");
    hippo_push_settle(d->push, s->ids, s->n_ids, sent);
    bool queue_event = s->queue_event;
    send_free(s);
    if (queue_event) /* last: it goes on with the next event of the batch */
        hippo_push_event_done(d->push, sent);
}

static int send_one(void *arg, size_t i)
{
    struct live_send *s = arg;
    xmpp_stanza_set_to(s->message, s->jids[i]);
    if (hippo_push_xml_set_viewpoint(&s->vp, s->flags[2 * i] == 't', s->flags[2 * i + 1] == 't') <
        0)
        return -1;
    return hippo_send(s->d, s->message);
}

static void on_sent(void *arg, bool sent)
{
    send_finish(arg, sent);
}

static void on_cancel(void *arg)
{
    struct live_send *s = arg;
    s->e->sending = NULL;
    send_free(s);
}

static void on_payload(hippod *d, xmpp_stanza_t *element, size_t missing, const char *error,
                       void *arg)
{
    struct live_send *s = arg;
    if (!element) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "livePostChanged %s: %s", s->post_id, error);
        send_finish(s, false);
        return;
    }
    s->message =
        missing ? NULL : hippo_push_xml_message(hippo_link_ctx(d->link), "headline", NULL, element);
    bool found = s->message && hippo_push_xml_viewpoint(element, &s->vp) == 0;
    xmpp_stanza_release(element);
    if (missing) { /* deleted since */
        send_finish(s, true);
        return;
    }
    if (!found || hippo_push_fanout(d->push, s->n, send_one, on_sent, on_cancel, s) < 0)
        send_finish(s, false);
}

static int copy_audience(struct live_send *s, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    s->jids = calloc(n, sizeof *s->jids);
    s->flags = malloc(2 * n);
    if (!s->jids || !s->flags)
        return -1;
    for (; s->n < n; s->n++) {
        int row = (int)s->n;
        if (!(s->jids[s->n] = strdup(PQgetvalue(res, row, 1))))
            return -1;
        s->flags[2 * s->n] = PQgetvalue(res, row, 2)[0];
        s->flags[2 * s->n + 1] = PQgetvalue(res, row, 3)[0];
    }
    snprintf(s->poster_id, sizeof s->poster_id, "%s", PQgetvalue(res, 0, 0));
    return 0;
}

static void on_audience(const PGresult *res, const char *error, void *arg)
{
    struct live_send *s = arg;
    if (!res) {
        hippo_log(&s->d->log, HIPPO_LOG_WARNING, "livePostChanged %s: %s", s->post_id, error);
        send_finish(s, false);
        return;
    }
    if (PQntuples(res) == 0) { /* deleted, or nobody else to tell */
        send_finish(s, true);
        return;
    }
    const char *ids[] = {s->post_id};
    if (copy_audience(s, res) < 0 ||
        hippo_post_payload_build(s->d, s->poster_id, ids, 1, "livePostChanged",
                                 HIPPO_POST_WITH_LIVEPOST, on_payload, s) < 0)
        send_finish(s, false);
}

/* The slot is busy for WAIT_MS more: what is still ours (MINE) is held until then. */
static void slot_busy(struct live_send *s, long wait_ms, const int64_t *mine, size_t n_mine)
{
    hippod *d = s->d;
    struct live_entry *e = s->e;
    e->sending = NULL;
    e->due_usec = hippo_monotonic_usec() + (uint64_t)wait_ms * 1000;
    bool queue_held = false, failed = false;
    for (size_t i = 0; i < n_mine; i++) {
        if (hold_id(e, mine[i], s->cause) < 0) {
            failed = true; /* out of memory: give the rest back */
            hippo_push_settle(d->push, mine + i, n_mine - i, false);
            break;
        }
        queue_held |= s->queue_event && mine[i] == s->queue_id;
    }
    arm(e);
    hippo_log(&d->log, HIPPO_LOG_DEBUG, "push: livePostChanged %s: slot busy for %ld ms",
              s->post_id, wait_ms);
    bool queue_event = s->queue_event;
    send_free(s);
    if (!queue_event)
        return;
    if (queue_held)
        hippo_push_event_hold(d->push);
    else /* another hippod's send took it over (or we ran out of memory: it comes back) */
        hippo_push_event_done(d->push, !failed);
}

static void on_slot(const PGresult *res, const char *error, void *arg)
{
    struct live_send *s = arg;
    int64_t *ids = NULL;
    size_t n = 0;
    if (!res || PQntuples(res) != 1 || ids_parse(PQgetvalue(res, 0, 1), &ids, &n) < 0) {
        hippo_log(&s->d->log, HIPPO_LOG_WARNING, "livePostChanged %s: slot: %s", s->post_id,
                  error ? error : "malformed answer");
        send_finish(s, false);
        return;
    }
    long wait_ms = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    if (wait_ms > 0) {
        slot_busy(s, wait_ms, ids, n);
        free(ids);
        return;
    }
    if (n == 0) { /* nothing left to cover: another hippod's send took it all over */
        free(ids);
        send_finish(s, true);
        return;
    }
    /* ours: settle what it covers, the queue's event apart (hippo_push_event_done) */
    struct live_entry *e = s->e;
    e->due_usec = hippo_monotonic_usec() + interval_usec(s->d);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!(s->queue_event && ids[i] == s->queue_id))
            ids[kept++] = ids[i];
    free(s->ids);
    s->ids = ids;
    s->n_ids = kept;
    const char *params[] = {s->post_id, PQgetvalue(res, 0, 2)};
    if (hippo_db_query(s->d->db, STMT_AUDIENCE, 2, params, on_audience, s) < 0)
        send_finish(s, false);
}

/* Starts a send for E: for the queue's current event EV, or (EV NULL) for the events E
 * holds. Asks for the slot first; finishes (maybe at once) through send_finish(), or
 * slot_busy() when another send was less than an interval ago. */
static void start_send(struct live_entry *e, const hippo_push_event *ev)
{
    hippod *d = e->l->d;
    struct live_send *s = calloc(1, sizeof *s);
    if (!s) {
        if (ev)
            hippo_push_event_done(d->push, false);
        return; /* held events stay held: the timer tries again */
    }
    *s = (struct live_send){.e = e, .d = d, .queue_event = ev != NULL};
    snprintf(s->post_id, sizeof s->post_id, "%s", e->post_id);
    if (ev) {
        s->queue_id = ev->id;
        snprintf(s->cause, sizeof s->cause, "%s", ev->actor_id);
    } else { /* take over what is held */
        s->ids = e->held;
        s->n_ids = e->n_held;
        snprintf(s->cause, sizeof s->cause, "%s", e->actor);
        e->held = NULL;
        e->n_held = e->cap_held = 0;
    }
    e->sending = s;
    char interval[16];
    snprintf(interval, sizeof interval, "%d", d->cfg.push_live_post_interval_ms);
    char *held = ids_literal(s->queue_event, s->queue_id, s->ids, s->n_ids);
    const char *params[] = {s->post_id, interval, held, s->cause};
    if (!held || hippo_db_query(d->db, STMT_SLOT, 4, params, on_slot, s) < 0)
        send_finish(s, false);
    free(held);
}

/* ------------------------------------------------------------------ entries */

static void entry_free(struct live_entry *e)
{
    if (e->sending) /* only when cancelled from outside */
        send_free(e->sending);
    if (e->timer)
        event_free(e->timer);
    free(e->held);
    free(e);
}

static void entry_remove(struct live_entry *e)
{
    struct live_entry **link = &e->l->entries;
    while (*link != e)
        link = &(*link)->next;
    *link = e->next;
    entry_free(e);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct live_entry *e = arg;
    if (e->sending)
        return; /* its end re-arms */
    if (hippo_monotonic_usec() < e->due_usec) {
        arm(e);
        return;
    }
    if (e->n_held == 0) {
        entry_remove(e); /* quiet for a whole interval */
        return;
    }
    if (!hippo_link_is_up(e->l->d->link)) { /* give them back: claimed again on link up */
        hippo_push_settle(e->l->d->push, e->held, e->n_held, false);
        e->n_held = 0;
        entry_remove(e);
        return;
    }
    start_send(e, NULL);
}

/* Wakes E when the slot should be free. */
static void arm(struct live_entry *e)
{
    uint64_t now = hippo_monotonic_usec();
    uint64_t wait = e->due_usec > now ? e->due_usec - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(wait / 1000000),
                         .tv_usec = (suseconds_t)(wait % 1000000)};
    evtimer_add(e->timer, &tv);
}

static struct live_entry *entry_get(hippo_push_live *l, const char *post_id)
{
    for (struct live_entry *e = l->entries; e; e = e->next)
        if (strcmp(e->post_id, post_id) == 0)
            return e;
    struct live_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->l = l;
    snprintf(e->post_id, sizeof e->post_id, "%s", post_id);
    e->timer = evtimer_new(l->d->base, on_timer, e);
    if (!e->timer) {
        free(e);
        return NULL;
    }
    e->next = l->entries;
    l->entries = e;
    return e;
}

/* Adds event ID caused by ACTOR ("" if not one user) to what E holds. Returns 0, or -1 when
 * out of memory. */
static int hold_id(struct live_entry *e, int64_t id, const char *actor)
{
    for (size_t i = 0; i < e->n_held; i++)
        if (e->held[i] == id) /* claimed again after a reconnect */
            return 0;
    if (e->n_held == e->cap_held) {
        size_t cap = e->cap_held ? 2 * e->cap_held : 8;
        int64_t *held = realloc(e->held, cap * sizeof *held);
        if (!held)
            return -1;
        e->held = held;
        e->cap_held = cap;
    }
    if (e->n_held == 0)
        snprintf(e->actor, sizeof e->actor, "%s", actor);
    else if (strcmp(e->actor, actor) != 0)
        e->actor[0] = '\0'; /* several causes: everyone is told */
    e->held[e->n_held++] = id;
    return 0;
}

void hippo_push_live_post(hippod *d, const hippo_push_event *ev)
{
    struct live_entry *e = entry_get(d->push_live, ev->post_id);
    if (!e) {
        hippo_push_event_done(d->push, false);
        return;
    }
    if (!e->sending && e->n_held == 0 && hippo_monotonic_usec() >= e->due_usec) {
        start_send(e, ev); /* the slot may be free: ask */
        return;
    }
    if (hold_id(e, ev->id, ev->actor_id) < 0) {
        hippo_push_event_done(d->push, false);
        return;
    }
    if (!e->sending)
        arm(e);
    hippo_push_event_hold(d->push);
}

hippo_push_live *hippo_push_live_new(hippod *d)
{
    hippo_push_live *l = calloc(1, sizeof *l);
    if (l)
        l->d = d;
    return l;
}

void hippo_push_live_free(hippo_push_live *l)
{
    if (!l)
        return;
    while (l->entries) {
        struct live_entry *e = l->entries;
        l->entries = e->next;
        entry_free(e);
    }
    free(l);
}
