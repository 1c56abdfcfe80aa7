/* push.c - drains the outbox: claim events in order, hand each to its kind's handler, and
 * retire it only once its stanzas were handed to the XMPP link.
 *
 * One batch at a time; events of a batch are processed one after another so that stanzas
 * to one user leave in event order (a coalesced livePostChanged excepted: its handler holds
 * the event and settles it itself). While the link or the database is down nothing is
 * claimed: events wait in the table. Events that could not be sent are released and tried
 * again after a short delay. Claims belong to our database session, so a hippod that dies
 * leaves no event stuck (sql/006_outbox.sql). Once a minute (and at start) the outbox is
 * trimmed of events older than HIPPO_PUSH_MAX_AGE (sql/007_push.sql). */
#include "push.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdnotify.h"
#include "xmpp_link.h"

#define PUSH_BATCH 100
#define PUSH_RETRY_MS 1000
#define STMT_CLAIM "push_claim"
#define STMT_RETIRE "push_retire"
#define STMT_RELEASE "push_release"
#define STMT_MAINTAIN "push_maintain"

/* A fan-out in progress (hippo_push_fanout). */
struct fanout {
    hippo_push *p;
    size_t n, next;
    hippo_push_send_fn send;
    hippo_push_fanout_done_fn done;
    hippo_push_fanout_cancel_fn cancel;
    void *arg;
    struct event *ev_slice;
    struct fanout *prev, *after; /* in p->fanouts */
};

struct hippo_push {
    hippod *d;
    const hippo_push_kind *kinds;
    size_t n_kinds;
    bool busy;  /* a batch is being claimed, processed or retired */
    bool again; /* woken while busy: drain once more afterwards */
    struct event *ev_retry;
    struct event *ev_maintain; /* every HIPPO_PUSH_MAINTENANCE_S */
    bool maintain_due;
    bool maintaining;

    hippo_push_event *batch;
    size_t n_batch;
    size_t next;     /* index of the event being processed */
    int64_t *failed; /* ids to release */
    size_t n_failed;

    struct fanout *fanouts;
};

static void drain(hippo_push *p);

static const hippo_push_kind *kind_of(const hippo_push *p, const char *kind)
{
    for (size_t i = 0; i < p->n_kinds; i++)
        if (strcmp(p->kinds[i].kind, kind) == 0)
            return &p->kinds[i];
    return NULL;
}

/* The kinds as a PostgreSQL text[] literal, e.g. {new_post,prefs}. A cut list would leave
 * events of the missing kinds unsent for ever: a table too long for OUT is a broken build. */
static void kinds_literal(const hippo_push *p, char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "{");
    for (size_t i = 0; i < p->n_kinds && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", p->kinds[i].kind);
    if (used + 2 > len)
        abort();
    snprintf(out + used, len - used, "}");
}

/* A bigint[] literal of IDS; the caller frees the result. */
static char *ids_literal(const int64_t *ids, size_t n)
{
    char *out = malloc(n * 21 + 3);
    if (!out)
        return NULL;
    size_t used = 0;
    out[used++] = '{';
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(out + used, "%s%" PRId64, i ? "," : "", ids[i]);
    out[used++] = '}';
    out[used] = '\0';
    return out;
}

void hippo_push_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_CLAIM,
                     "SELECT id, kind, coalesce(post_id, ''), coalesce(user_id, ''),"
                     " coalesce(actor_id, '') FROM hippo.outbox_claim($1::integer, $2::text[])"
                     " ORDER BY id",
                     2);
    hippo_db_prepare(db, STMT_RETIRE, "SELECT hippo.outbox_retire($1::bigint[])", 1);
    hippo_db_prepare(db, STMT_RELEASE, "SELECT hippo.outbox_release($1::bigint[])", 1);
    hippo_db_prepare(db, STMT_MAINTAIN,
                     "SELECT expired, cooled FROM hippo.push_maintenance($1::interval)", 1);
    hippo_db_listen(db, "hippo_outbox");
}

/* ------------------------------------------------------------------ fan-out */

static void fanout_unlink(struct fanout *f)
{
    if (f->prev)
        f->prev->after = f->after;
    else
        f->p->fanouts = f->after;
    if (f->after)
        f->after->prev = f->prev;
    event_free(f->ev_slice);
}

static void fanout_finish(struct fanout *f, bool sent)
{
    hippo_push_fanout_done_fn done = f->done;
    void *arg = f->arg;
    fanout_unlink(f);
    free(f);
    done(arg, sent);
}

static void fanout_slice(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct fanout *f = arg;
    size_t end = f->n - f->next > HIPPO_PUSH_SLICE ? f->next + HIPPO_PUSH_SLICE : f->n;
    for (; f->next < end; f->next++)
        if (f->send(f->arg, f->next) < 0) {
            fanout_finish(f, false); /* the link went down: the event is tried again */
            return;
        }
    if (f->next < f->n)
        event_active(f->ev_slice, EV_TIMEOUT, 0); /* let the loop breathe */
    else
        fanout_finish(f, true);
}

int hippo_push_fanout(hippo_push *p, size_t n, hippo_push_send_fn send,
                      hippo_push_fanout_done_fn done, hippo_push_fanout_cancel_fn cancel, void *arg)
{
    struct fanout *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    *f = (struct fanout){.p = p, .n = n, .send = send, .done = done, .cancel = cancel, .arg = arg};
    f->ev_slice = event_new(p->d->base, -1, 0, fanout_slice, f);
    if (!f->ev_slice) {
        free(f);
        return -1;
    }
    f->after = p->fanouts;
    if (f->after)
        f->after->prev = f;
    p->fanouts = f;
    fanout_slice(-1, 0, f);
    return 0;
}

/* ------------------------------------------------------------------ retiring, releasing */

static void on_settled(const PGresult *res, const char *error, void *arg)
{
    hippo_push *p = arg;
    if (!res) /* the claims go stale with the session: the events come back (at-least-once) */
        hippo_log(&p->d->log, HIPPO_LOG_WARNING, "push: retiring or releasing events failed: %s",
                  error);
}

void hippo_push_settle(hippo_push *p, const int64_t *ids, size_t n, bool sent)
{
    if (n == 0)
        return;
    char *list = ids_literal(ids, n);
    const char *params[] = {list};
    if (list)
        hippo_db_query(p->d->db, sent ? STMT_RETIRE : STMT_RELEASE, 1, params, on_settled, p);
    free(list);
}

/* ------------------------------------------------------------------ batches */

static void reset_batch(hippo_push *p)
{
    free(p->batch);
    free(p->failed);
    p->batch = NULL;
    p->failed = NULL;
    p->n_batch = p->next = p->n_failed = 0;
}

static void batch_finished(hippo_push *p, bool retry_later)
{
    bool full = p->n_batch == PUSH_BATCH;
    reset_batch(p);
    p->busy = false;
    if (retry_later) {
        struct timeval tv = {.tv_sec = PUSH_RETRY_MS / 1000, .tv_usec = 0};
        evtimer_add(p->ev_retry, &tv);
        return;
    }
    if (full || p->again)
        drain(p);
}

static void on_released(const PGresult *res, const char *error, void *arg)
{
    hippo_push *p = arg;
    if (!res)
        hippo_log(&p->d->log, HIPPO_LOG_WARNING, "push: releasing events failed: %s", error);
    batch_finished(p, true);
}

static void release_failed(hippo_push *p)
{
    char *ids = ids_literal(p->failed, p->n_failed);
    const char *params[] = {ids};
    if (!ids || hippo_db_query(p->d->db, STMT_RELEASE, 1, params, on_released, p) < 0)
        batch_finished(p, true); /* our claims go stale with our session anyway */
    free(ids);
}

/* Sent events were retired one by one; the others go back. */
static void finish_batch(hippo_push *p)
{
    if (p->n_failed)
        release_failed(p);
    else
        batch_finished(p, false);
}

/* True when a later event of the batch will send what event I would (it reads the data
 * when it is processed, after I's change was committed); that one takes over I's cause. */
static bool covered_later(hippo_push *p, size_t i)
{
    const hippo_push_event *ev = &p->batch[i];
    hippo_push_cover cover = kind_of(p, ev->kind)->cover;
    if (cover == HIPPO_PUSH_COVER_NONE)
        return false;
    for (size_t j = i + 1; j < p->n_batch; j++) {
        hippo_push_event *later = &p->batch[j];
        if (strcmp(later->kind, ev->kind) != 0 || strcmp(later->post_id, ev->post_id) != 0)
            continue;
        if (cover == HIPPO_PUSH_COVER_STATE && strcmp(later->user_id, ev->user_id) != 0)
            continue;
        if (strcmp(later->actor_id, ev->actor_id) != 0)
            later->actor_id[0] = '\0'; /* several causes: nobody is left out */
        return true;
    }
    return false;
}

static void process_next(hippo_push *p)
{
    if (p->next == p->n_batch) {
        finish_batch(p);
        return;
    }
    const hippo_push_event *ev = &p->batch[p->next];
    if (!hippo_link_is_up(p->d->link)) { /* wait for the link: give the rest back */
        for (size_t i = p->next; i < p->n_batch; i++)
            p->failed[p->n_failed++] = p->batch[i].id;
        p->next = p->n_batch;
        finish_batch(p);
        return;
    }
    if (covered_later(p, p->next)) {
        hippo_push_event_done(p, true);
        return;
    }
    kind_of(p, ev->kind)->handle(p->d, ev);
}

void hippo_push_event_done(hippo_push *p, bool sent)
{
    const hippo_push_event *ev = &p->batch[p->next];
    if (sent) /* at once: the longer a sent event stays, the likelier it is sent twice */
        hippo_push_settle(p, &ev->id, 1, true);
    else
        p->failed[p->n_failed++] = ev->id;
    hippo_log(&p->d->log, HIPPO_LOG_DEBUG, "push: event %" PRId64 " (%s) %s", ev->id, ev->kind,
              sent ? "done" : "not sent, will retry");
    p->next++;
    process_next(p);
}

void hippo_push_event_hold(hippo_push *p)
{
    const hippo_push_event *ev = &p->batch[p->next];
    hippo_log(&p->d->log, HIPPO_LOG_DEBUG, "push: event %" PRId64 " (%s) held", ev->id, ev->kind);
    p->next++;
    process_next(p);
}

static void copy_field(char *dst, size_t len, const PGresult *res, int row, int col)
{
    snprintf(dst, len, "%s", PQgetvalue(res, row, col));
}

static void on_claimed(const PGresult *res, const char *error, void *arg)
{
    hippo_push *p = arg;
    if (!res) {
        hippo_log(&p->d->log, HIPPO_LOG_WARNING, "push: claiming events failed: %s", error);
        batch_finished(p, true);
        return;
    }
    size_t n = (size_t)PQntuples(res);
    p->batch = calloc(n ? n : 1, sizeof *p->batch);
    p->failed = calloc(n ? n : 1, sizeof *p->failed);
    if (!p->batch || !p->failed) {
        batch_finished(p, true);
        return;
    }
    uint64_t now = hippo_monotonic_usec();
    for (size_t i = 0; i < n; i++) {
        hippo_push_event *ev = &p->batch[i];
        ev->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
        copy_field(ev->kind, sizeof ev->kind, res, (int)i, 1);
        copy_field(ev->post_id, sizeof ev->post_id, res, (int)i, 2);
        copy_field(ev->user_id, sizeof ev->user_id, res, (int)i, 3);
        copy_field(ev->actor_id, sizeof ev->actor_id, res, (int)i, 4);
        ev->claimed_usec = now;
    }
    p->n_batch = n;
    if (n)
        hippo_log(&p->d->log, HIPPO_LOG_DEBUG, "push: claimed %zu events", n);
    process_next(p);
}

/* ------------------------------------------------------------------ maintenance */

static void on_maintained(const PGresult *res, const char *error, void *arg)
{
    hippo_push *p = arg;
    p->maintaining = false;
    if (!res || PQntuples(res) != 1) {
        hippo_log(&p->d->log, HIPPO_LOG_WARNING, "push: outbox maintenance failed: %s",
                  error ? error : "no result");
        p->maintain_due = true;
        return;
    }
    long expired = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    if (expired > 0)
        hippo_log(&p->d->log, HIPPO_LOG_WARNING,
                  "push: deleted %ld outbox events older than " HIPPO_PUSH_MAX_AGE " unsent",
                  expired);
    hippo_log(&p->d->log, HIPPO_LOG_DEBUG, "push: maintenance: %ld expired, %s hotness stale",
              expired, PQgetvalue(res, 0, 1));
}

/* Runs before the claim it precedes (pipelined results come back in order). */
static void maintain(hippo_push *p)
{
    if (!p->maintain_due || p->maintaining || !hippo_db_is_up(p->d->db))
        return;
    const char *params[] = {HIPPO_PUSH_MAX_AGE};
    if (hippo_db_query(p->d->db, STMT_MAINTAIN, 1, params, on_maintained, p) == 0) {
        p->maintain_due = false;
        p->maintaining = true;
    }
}

static void on_maintain_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_push *p = arg;
    p->maintain_due = true;
    drain(p);
}

/* ------------------------------------------------------------------ draining */

static void drain(hippo_push *p)
{
    maintain(p);
    if (p->busy) {
        p->again = true;
        return;
    }
    p->again = false;
    if (p->d->stopping) /* a graceful stop finishes the batch in hand, claims no more */
        return;
    if (!hippo_link_is_up(p->d->link) || !hippo_db_is_up(p->d->db))
        return; /* woken again when they come up */
    char limit[16], kinds_arg[256];
    snprintf(limit, sizeof limit, "%d", PUSH_BATCH);
    kinds_literal(p, kinds_arg, sizeof kinds_arg);
    const char *params[] = {limit, kinds_arg};
    p->busy = true;
    if (hippo_db_query(p->d->db, STMT_CLAIM, 2, params, on_claimed, p) < 0)
        batch_finished(p, true);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    drain(arg);
}

void hippo_push_wake(hippo_push *p)
{
    drain(p);
}

bool hippo_push_busy(const hippo_push *p)
{
    return p->busy;
}

hippo_push *hippo_push_new(hippod *d, const hippo_push_kind *kinds, size_t n)
{
    hippo_push *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->d = d;
    p->kinds = kinds;
    p->n_kinds = n;
    p->maintain_due = true;
    p->ev_retry = evtimer_new(d->base, on_retry, p);
    p->ev_maintain = event_new(d->base, -1, EV_PERSIST, on_maintain_timer, p);
    struct timeval every = {.tv_sec = HIPPO_PUSH_MAINTENANCE_S, .tv_usec = 0};
    if (!p->ev_retry || !p->ev_maintain || event_add(p->ev_maintain, &every) < 0) {
        hippo_push_free(p);
        return NULL;
    }
    return p;
}

void hippo_push_free(hippo_push *p)
{
    if (!p)
        return;
    while (p->fanouts) {
        struct fanout *f = p->fanouts;
        fanout_unlink(f);
        f->cancel(f->arg);
        free(f);
    }
    if (p->ev_retry)
        event_free(p->ev_retry);
    if (p->ev_maintain)
        event_free(p->ev_maintain);
    reset_batch(p);
    free(p);
}
