/* push_live_post.c - livePostChanged (original-behaviour.md 4.3): a headline with the
 * post's entities, <post> and <livepost> to its poster and receivers but the user who
 * caused the change, coalesced per post.
 *
 * Coalescing: the first event of a post is sent at once; events of that post arriving
 * less than [push] live_post_interval_ms after the last send are held (still claimed by
 * our session) and covered by one send when the interval is over, which reads the numbers
 * then: the last notification of a burst always carries the latest numbers. A held event
 * is retired only once the send covering it handed its stanzas to the link; if hippod or
 * its database session dies first, the claims go stale and the events come back.
 *
 * The payload is built once per send (viewer: the poster) and each recipient's copy gets
 * its own favorite/ignored flags: two queries per send whatever the audience. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "post_payload.h"
#include "send.h"
#include "push_kinds.h"
#include "push_xml.h"
#include "sdnotify.h"
#include "xmpp_link.h"

#define STMT_AUDIENCE "push_live_post_audience"

struct hippo_push_live {
    hippod *d;
    struct live_entry *entries;
};

/* A post with a recent send, or with held events. */
struct live_entry {
    hippo_push_live *l;
    char post_id[HIPPO_GUID_LEN + 1];
    uint64_t last_usec; /* when the last send started */
    int64_t *held;
    size_t n_held, cap_held;
    char actor[HIPPO_GUID_LEN + 1]; /* who caused every held event ("" if not one user) */
    struct event *timer;
    struct live_send *sending;
    struct live_entry *next;
};

/* One livePostChanged send: the audience, the payload, the fan-out. */
struct live_send {
    struct live_entry *e;
    hippod *d;
    bool queue_event; /* covers the queue's current event (else the IDS it took over) */
    int64_t *ids;
    size_t n_ids;
    char post_id[HIPPO_GUID_LEN + 1];
    char poster_id[HIPPO_GUID_LEN + 1];
    char **jids;
    char *flags; /* per recipient: 2 characters, favorite then ignored ('t'/'f') */
    size_t n;
    xmpp_stanza_t *message;
    hippo_push_viewpoint vp;
};

static void arm(struct live_entry *e);

void hippo_push_live_post_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_AUDIENCE,
                     "SELECT poster_id, jid, favorite, ignored"
                     " FROM hippo.push_live_post_audience($1, nullif($2, ''))",
                     2);
}

static uint64_t interval_usec(const hippod *d)
{
    return (uint64_t)d->cfg.push_live_post_interval_ms * 1000;
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
    arm(e);
    hippo_log(&d->log, HIPPO_LOG_DEBUG, "push: livePostChanged %s to %zu users %s", s->post_id,
              s->n, sent ? "sent" : "not sent");
    if (s->queue_event) {
        send_free(s);
        hippo_push_event_done(d->push, sent);
        return;
    }
    hippo_push_settle(d->push, s->ids, s->n_ids, sent);
    send_free(s);
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

/* Starts a send for E excluding EXCEPT (""): for the queue's current event (QUEUE_EVENT) or
 * for the events E holds. Finishes (maybe at once) through send_finish(). */
static void start_send(struct live_entry *e, bool queue_event, const char *except)
{
    hippod *d = e->l->d;
    struct live_send *s = calloc(1, sizeof *s);
    if (!s) {
        if (queue_event)
            hippo_push_event_done(d->push, false);
        return; /* held events stay held: the timer tries again */
    }
    *s = (struct live_send){.e = e, .d = d, .queue_event = queue_event};
    snprintf(s->post_id, sizeof s->post_id, "%s", e->post_id);
    if (!queue_event) { /* take over what is held */
        s->ids = e->held;
        s->n_ids = e->n_held;
        e->held = NULL;
        e->n_held = e->cap_held = 0;
    }
    e->sending = s;
    e->last_usec = hippo_monotonic_usec();
    const char *params[] = {s->post_id, except};
    if (hippo_db_query(d->db, STMT_AUDIENCE, 2, params, on_audience, s) < 0)
        send_finish(s, false);
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
    uint64_t now = hippo_monotonic_usec(), interval = interval_usec(e->l->d);
    if (now - e->last_usec < interval) {
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
    char except[HIPPO_GUID_LEN + 1];
    snprintf(except, sizeof except, "%s", e->actor);
    start_send(e, false, except);
}

/* Wakes E when its interval since the last send is over. */
static void arm(struct live_entry *e)
{
    uint64_t now = hippo_monotonic_usec(), due = e->last_usec + interval_usec(e->l->d);
    uint64_t wait = due > now ? due - now : 0;
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

/* Adds EV to what E holds. Returns 0, or -1 when out of memory. */
static int hold(struct live_entry *e, const hippo_push_event *ev)
{
    for (size_t i = 0; i < e->n_held; i++)
        if (e->held[i] == ev->id) /* claimed again after a reconnect */
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
        snprintf(e->actor, sizeof e->actor, "%s", ev->actor_id);
    else if (strcmp(e->actor, ev->actor_id) != 0)
        e->actor[0] = '\0'; /* several causes: everyone is told */
    e->held[e->n_held++] = ev->id;
    return 0;
}

void hippo_push_live_post(hippod *d, const hippo_push_event *ev)
{
    struct live_entry *e = entry_get(d->push_live, ev->post_id);
    if (!e) {
        hippo_push_event_done(d->push, false);
        return;
    }
    uint64_t now = hippo_monotonic_usec();
    bool quiet = e->last_usec == 0 || now - e->last_usec >= interval_usec(d);
    if (!e->sending && e->n_held == 0 && quiet) {
        start_send(e, true, ev->actor_id);
        return;
    }
    if (hold(e, ev) < 0) {
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
