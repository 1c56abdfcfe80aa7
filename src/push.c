/* push.c - drains the outbox: claim events in order, hand each to its kind's handler, and
 * retire it only once its stanzas were handed to the XMPP link.
 *
 * One batch at a time; events of a batch are processed one after another so that stanzas
 * to one user leave in event order. While the link or the database is down nothing is
 * claimed: events wait in the table. Events that could not be sent are released and tried
 * again after a short delay. Claims belong to our database session, so a hippod that dies
 * leaves no event stuck (sql/006_outbox.sql). */
#include "push.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp_link.h"

#define PUSH_BATCH 100
#define PUSH_RETRY_MS 1000
#define STMT_CLAIM "push_claim"
#define STMT_RETIRE "push_retire"
#define STMT_RELEASE "push_release"

/* The kinds this build sends; others stay in the outbox for a build that knows them. */
static const struct push_kind {
    const char *kind;
    hippo_push_handler handle;
} kinds[] = {
    {"new_post", hippo_push_new_post},
};

struct hippo_push {
    hippod *d;
    bool busy;  /* a batch is being claimed, processed or retired */
    bool again; /* woken while busy: drain once more afterwards */
    struct event *ev_retry;

    hippo_push_event *batch;
    size_t n_batch;
    size_t next;     /* index of the event being processed */
    int64_t *sent;   /* ids to retire */
    size_t n_sent;
    int64_t *failed; /* ids to release */
    size_t n_failed;
};

static void drain(hippo_push *p);

static const struct push_kind *kind_of(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return &kinds[i];
    return NULL;
}

/* The kinds as a PostgreSQL text[] literal, e.g. {new_post,prefs}. */
static void kinds_literal(char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "{");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", kinds[i].kind);
    if (used < len)
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
    hippo_db_listen(db, "hippo_outbox");
    hippo_push_new_post_prepare(db);
}

static void reset_batch(hippo_push *p)
{
    free(p->batch);
    free(p->sent);
    free(p->failed);
    p->batch = NULL;
    p->sent = p->failed = NULL;
    p->n_batch = p->next = p->n_sent = p->n_failed = 0;
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

static void on_retired(const PGresult *res, const char *error, void *arg)
{
    hippo_push *p = arg;
    if (!res) /* sent but not retired: they will be sent again (at-least-once) */
        hippo_log(&p->d->log, HIPPO_LOG_WARNING, "push: retiring events failed: %s", error);
    if (p->n_failed)
        release_failed(p);
    else
        batch_finished(p, !res);
}

static void finish_batch(hippo_push *p)
{
    if (p->n_sent == 0) {
        if (p->n_failed)
            release_failed(p);
        else
            batch_finished(p, false);
        return;
    }
    char *ids = ids_literal(p->sent, p->n_sent);
    const char *params[] = {ids};
    if (!ids || hippo_db_query(p->d->db, STMT_RETIRE, 1, params, on_retired, p) < 0)
        batch_finished(p, true);
    free(ids);
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
    kind_of(ev->kind)->handle(p->d, ev);
}

void hippo_push_event_done(hippo_push *p, bool sent)
{
    const hippo_push_event *ev = &p->batch[p->next];
    if (sent)
        p->sent[p->n_sent++] = ev->id;
    else
        p->failed[p->n_failed++] = ev->id;
    hippo_log(&p->d->log, HIPPO_LOG_DEBUG, "push: event %" PRId64 " (%s) %s", ev->id, ev->kind,
              sent ? "sent" : "not sent, will retry");
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
    p->sent = calloc(n ? n : 1, sizeof *p->sent);
    p->failed = calloc(n ? n : 1, sizeof *p->failed);
    if (!p->batch || !p->sent || !p->failed) {
        batch_finished(p, true);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        hippo_push_event *ev = &p->batch[i];
        ev->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
        copy_field(ev->kind, sizeof ev->kind, res, (int)i, 1);
        copy_field(ev->post_id, sizeof ev->post_id, res, (int)i, 2);
        copy_field(ev->user_id, sizeof ev->user_id, res, (int)i, 3);
        copy_field(ev->actor_id, sizeof ev->actor_id, res, (int)i, 4);
    }
    p->n_batch = n;
    if (n)
        hippo_log(&p->d->log, HIPPO_LOG_DEBUG, "push: claimed %zu events", n);
    process_next(p);
}

static void drain(hippo_push *p)
{
    if (p->busy) {
        p->again = true;
        return;
    }
    p->again = false;
    if (!hippo_link_is_up(p->d->link) || !hippo_db_is_up(p->d->db))
        return; /* woken again when they come up */
    char limit[16], kinds_arg[256];
    snprintf(limit, sizeof limit, "%d", PUSH_BATCH);
    kinds_literal(kinds_arg, sizeof kinds_arg);
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

hippo_push *hippo_push_new(hippod *d)
{
    hippo_push *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->d = d;
    p->ev_retry = evtimer_new(d->base, on_retry, p);
    if (!p->ev_retry) {
        free(p);
        return NULL;
    }
    return p;
}

void hippo_push_free(hippo_push *p)
{
    if (!p)
        return;
    event_free(p->ev_retry);
    reset_batch(p);
    free(p);
}
