/* push_new_post.c - newPost: a new post goes to every recipient user (directly or through
 * a recipient group) as <message type="normal">, so that the server stores it for offline
 * users (the seed); the body "TITLE\nURL" is the fallback for plain clients.
 *
 * A constant number of queries per post whatever its audience, and the stanzas are sent
 * in slices, one slice per loop turn, so that a post to thousands of users never stalls
 * the loop (rooms keep flowing). */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "post_payload.h"
#include "push.h"
#include "stanza.h"
#include "xmpp_link.h"

#define SLICE 1000
#define STMT_POST "push_new_post_post"
#define STMT_RECIPIENTS "push_new_post_recipients"

struct new_post {
    hippod *d;
    char post_id[HIPPO_GUID_LEN + 1];
    char poster_id[HIPPO_GUID_LEN + 1];
    char *body; /* "TITLE\nURL" */
    bool post_missing;
    bool recipients_not_queued; /* the second query could not be sent: on_post finishes */
    char **jids;
    size_t n_jids;
    size_t next;
    xmpp_stanza_t *message; /* re-addressed and re-sent for every recipient */
    struct event *ev_slice;
};

void hippo_push_new_post_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_POST,
                     "SELECT poster_id, title || E'\\n' || href FROM hippo.posts WHERE id = $1", 1);
    /* Recipient users: direct, and ACTIVE/FOLLOWER members of recipient groups; not the
     * poster, who knows. */
    hippo_db_prepare(db, STMT_RECIPIENTS,
                     "SELECT DISTINCT u.jid FROM hippo.posts p"
                     " JOIN hippo.post_recipients r ON r.post_id = p.id"
                     " LEFT JOIN hippo.group_members m ON m.group_id = r.group_id"
                     "  AND m.status IN ('ACTIVE', 'FOLLOWER')"
                     " JOIN hippo.users u ON u.id = coalesce(r.user_id, m.user_id)"
                     " WHERE p.id = $1 AND u.id <> p.poster_id",
                     1);
}

static void new_post_free(struct new_post *np)
{
    for (size_t i = 0; i < np->n_jids; i++)
        free(np->jids[i]);
    free(np->jids);
    free(np->body);
    if (np->message)
        xmpp_stanza_release(np->message);
    if (np->ev_slice)
        event_free(np->ev_slice);
    free(np);
}

static void finish(struct new_post *np, bool sent)
{
    hippod *d = np->d;
    new_post_free(np);
    hippo_push_event_done(d->push, sent);
}

static void send_slice(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct new_post *np = arg;
    size_t end = np->next + SLICE < np->n_jids ? np->next + SLICE : np->n_jids;
    for (; np->next < end; np->next++) {
        xmpp_stanza_set_to(np->message, np->jids[np->next]);
        if (hippo_link_send(np->d->link, np->message) < 0) {
            finish(np, false); /* the link went down: the whole event is tried again */
            return;
        }
    }
    if (np->next < np->n_jids)
        event_active(np->ev_slice, EV_TIMEOUT, 0); /* let the loop breathe */
    else
        finish(np, true);
}

static xmpp_stanza_t *build_message(struct new_post *np, xmpp_stanza_t *payload)
{
    xmpp_ctx_t *ctx = hippo_link_ctx(np->d->link);
    xmpp_stanza_t *msg = xmpp_message_new(ctx, "normal", NULL, NULL);
    if (!msg)
        return NULL;
    xmpp_stanza_t *body = hippo_stanza_add_element(msg, "body", NULL);
    if (!body || hippo_stanza_add_text(body, np->body) < 0) {
        xmpp_stanza_release(msg);
        return NULL;
    }
    xmpp_stanza_add_child(msg, payload);
    return msg;
}

static void on_payload(hippod *d, xmpp_stanza_t *element, size_t missing, const char *error,
                       void *arg)
{
    struct new_post *np = arg;
    if (!element) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "newPost %s: %s", np->post_id, error);
        finish(np, false);
        return;
    }
    np->message = missing ? NULL : build_message(np, element);
    xmpp_stanza_release(element);
    if (missing) { /* deleted since: nothing to announce */
        finish(np, true);
        return;
    }
    np->ev_slice = event_new(d->base, -1, 0, send_slice, np);
    if (!np->message || !np->ev_slice) {
        finish(np, false);
        return;
    }
    send_slice(-1, 0, np);
}

static void on_recipients(const PGresult *res, const char *error, void *arg)
{
    struct new_post *np = arg;
    if (!res) {
        hippo_log(&np->d->log, HIPPO_LOG_WARNING, "newPost %s: %s", np->post_id, error);
        finish(np, false);
        return;
    }
    if (np->post_missing || PQntuples(res) == 0) {
        finish(np, true); /* nobody to tell */
        return;
    }
    np->n_jids = (size_t)PQntuples(res);
    np->jids = calloc(np->n_jids, sizeof *np->jids);
    for (size_t i = 0; np->jids && i < np->n_jids; i++)
        if (!(np->jids[i] = strdup(PQgetvalue(res, (int)i, 0))))
            np->n_jids = i; /* free what was copied */
    if (!np->jids || np->n_jids != (size_t)PQntuples(res)) {
        finish(np, false);
        return;
    }
    const char *ids[] = {np->post_id};
    if (hippo_post_payload_build(np->d, np->poster_id, ids, 1, "newPost", 0, on_payload, np) < 0)
        finish(np, false);
}

/* Runs before on_recipients (pipelined results come back in order), which finishes. */
static void on_post(const PGresult *res, const char *error, void *arg)
{
    (void)error; /* a failure fails on_recipients' query too */
    struct new_post *np = arg;
    if (res && PQntuples(res) > 0) {
        snprintf(np->poster_id, sizeof np->poster_id, "%s", PQgetvalue(res, 0, 0));
        np->body = strdup(PQgetvalue(res, 0, 1));
    }
    if (res && !np->body)
        np->post_missing = true;
    if (np->recipients_not_queued)
        finish(np, false);
}

void hippo_push_new_post(hippod *d, const hippo_push_event *ev)
{
    struct new_post *np = calloc(1, sizeof *np);
    if (!np) {
        hippo_push_event_done(d->push, false);
        return;
    }
    np->d = d;
    snprintf(np->post_id, sizeof np->post_id, "%s", ev->post_id);
    const char *params[] = {np->post_id};
    if (hippo_db_query(d->db, STMT_POST, 1, params, on_post, np) < 0) {
        finish(np, false);
        return;
    }
    if (hippo_db_query(d->db, STMT_RECIPIENTS, 1, params, on_recipients, np) < 0)
        np->recipients_not_queued = true;
}
