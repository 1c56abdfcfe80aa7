/* push_new_post.c - newPost: a new post goes to every recipient user (directly or through
 * a recipient group) as <message type="normal">, so that the server stores it for offline
 * users (the seed); the body "TITLE\nURL" is the fallback for plain clients.
 *
 * A constant number of queries per post whatever its audience, and the stanzas are sent
 * in slices, one slice per loop turn (hippo_push_fanout), so that a post to thousands of
 * users never stalls the loop (rooms keep flowing). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "post_payload.h"
#include "send.h"
#include "push_kinds.h"
#include "push_xml.h"
#include "sdnotify.h"
#include "xmpp_link.h"

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
    xmpp_stanza_t *message; /* re-addressed and re-sent for every recipient */
    uint64_t claimed_usec;
};

void hippo_push_new_post_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_POST,
                     "SELECT poster_id, title || E'\\n' || href FROM hippo.posts WHERE id = $1", 1);
    /* Recipient users: direct, and ACTIVE/FOLLOWER members of recipient groups; not the
     * poster, who knows. */
    hippo_db_prepare(db, STMT_RECIPIENTS,
                     "SELECT u.jid FROM hippo.push_receivers($1) AS r"
                     " JOIN hippo.users u ON u.id = r.user_id",
                     1);
}

static void new_post_free(void *arg)
{
    struct new_post *np = arg;
    for (size_t i = 0; i < np->n_jids; i++)
        free(np->jids[i]);
    free(np->jids);
    free(np->body);
    if (np->message)
        xmpp_stanza_release(np->message);
    free(np);
}

static void finish(struct new_post *np, bool sent)
{
    hippod *d = np->d;
    new_post_free(np);
    hippo_push_event_done(d->push, sent);
}

static int send_one(void *arg, size_t i)
{
    struct new_post *np = arg;
    xmpp_stanza_set_to(np->message, np->jids[i]);
    return hippo_send(np->d, np->message);
}

/* The fan-out time goes to the metric, and to the debug log with the wall clock so that a
 * benchmark can relate it to its COMMIT (bench/fanout.py). */
static void on_sent(void *arg, bool sent)
{
    struct new_post *np = arg;
    if (sent) {
        double seconds = (double)(hippo_monotonic_usec() - np->claimed_usec) / 1e6;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        hippo_metrics_push_fanout(&np->d->metrics, seconds);
        hippo_log(&np->d->log, HIPPO_LOG_DEBUG,
                  "push: newPost %s: %zu stanzas handed to the link %.1f ms after the claim"
                  " (wall clock %lld.%06ld)",
                  np->post_id, np->n_jids, seconds * 1e3, (long long)now.tv_sec,
                  now.tv_nsec / 1000);
    }
    finish(np, sent);
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
    np->message =
        missing ? NULL
                : hippo_push_xml_message(hippo_link_ctx(d->link), "normal", np->body, element);
    xmpp_stanza_release(element);
    if (missing) { /* deleted since: nothing to announce */
        finish(np, true);
        return;
    }
    if (!np->message ||
        hippo_push_fanout(d->push, np->n_jids, send_one, on_sent, new_post_free, np) < 0)
        finish(np, false);
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
    np->claimed_usec = ev->claimed_usec;
    snprintf(np->post_id, sizeof np->post_id, "%s", ev->post_id);
    const char *params[] = {np->post_id};
    if (hippo_db_query(d->db, STMT_POST, 1, params, on_post, np) < 0) {
        finish(np, false);
        return;
    }
    if (hippo_db_query(d->db, STMT_RECIPIENTS, 1, params, on_recipients, np) < 0)
        np->recipients_not_queued = true;
}
