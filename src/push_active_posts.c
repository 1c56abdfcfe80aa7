/* push_active_posts.c - activePostsChanged (original-behaviour.md 4.4): each user whose
 * active set (hippo.active_posts: up to 3 recent received posts with chatters, then
 * viewers) differs from the set last pushed gets a headline with the entities, then each
 * active post and its livepost (an empty element when nothing is active any more).
 *
 * An event names a post (its room's chatting or viewing count crossed zero, or it was just
 * created and may push an older post out of the 20-post window) or a user (a membership
 * changed). Three queries per event whatever the audience: the changed users with their
 * sets, one payload of every post in those sets (push_xml.c cuts each user's out of it,
 * entities once per user instead of the original's once per post), and the record of
 * what was sent, written once every headline was handed to the link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "post_payload.h"
#include "send.h"
#include "post_xml.h"
#include "push_kinds.h"
#include "push_xml.h"
#include "xmpp_link.h"

#define STMT_CHANGES "push_active_changes"
#define STMT_PAYLOAD "push_active_payload"
#define STMT_RECORD "push_active_record"
#define ACTIVE_MAX 3
#define ELEMENT "activePostsChanged"

struct user_set {
    char user_id[HIPPO_GUID_LEN + 1];
    char *jid;
    size_t n;
    char ids[ACTIVE_MAX][HIPPO_GUID_LEN + 1];
    char flags[ACTIVE_MAX][3]; /* favorite, ignored: 't'/'f' */
};

struct active {
    hippod *d;
    char post_id[HIPPO_GUID_LEN + 1];
    struct user_set *users;
    size_t n;
    hippo_push_posts *index;
};

void hippo_push_active_posts_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_CHANGES,
                     "SELECT user_id, jid, array_to_string(post_ids, ' '),"
                     " array_to_string(flags, ' ')"
                     " FROM hippo.push_active_posts_changes(nullif($1, ''), nullif($2, ''))",
                     2);
    hippo_db_prepare(db, STMT_PAYLOAD, "SELECT * FROM hippo.push_payload_rows($1::text[])", 1);
    hippo_db_prepare(db, STMT_RECORD,
                     "SELECT hippo.push_active_posts_record($1::text[], $2::text[])", 2);
}

static void active_free(void *arg)
{
    struct active *a = arg;
    for (size_t i = 0; i < a->n; i++)
        free(a->users[i].jid);
    free(a->users);
    hippo_push_posts_free(a->index);
    free(a);
}

static void finish(struct active *a, bool sent)
{
    hippod *d = a->d;
    active_free(a);
    hippo_push_event_done(d->push, sent);
}

/* ------------------------------------------------------------------ sending */

static int send_one(void *arg, size_t i)
{
    struct active *a = arg;
    const struct user_set *u = &a->users[i];
    const char *ids[ACTIVE_MAX], *flags[ACTIVE_MAX];
    for (size_t k = 0; k < u->n; k++) {
        ids[k] = u->ids[k];
        flags[k] = u->flags[k];
    }
    xmpp_stanza_t *el = hippo_push_posts_select(a->index, ELEMENT, ids, flags, u->n);
    xmpp_stanza_t *msg =
        el ? hippo_push_xml_message(hippo_link_ctx(a->d->link), "headline", NULL, el) : NULL;
    int rc = -1;
    if (msg) {
        xmpp_stanza_set_to(msg, u->jid);
        rc = hippo_send(a->d, msg);
        xmpp_stanza_release(msg);
    }
    if (el)
        xmpp_stanza_release(el);
    return rc;
}

static void on_recorded(const PGresult *res, const char *error, void *arg)
{
    struct active *a = arg;
    if (!res) /* sent but not recorded: sent again (at-least-once) */
        hippo_log(&a->d->log, HIPPO_LOG_WARNING, "push: recording active posts: %s", error);
    finish(a, res != NULL);
}

/* The record's two text[] literals: user ids, and each set as "ID ID" (quoted). The
 * caller frees both. Returns -1 when out of memory. */
static int record_arrays(const struct active *a, char **users, char **sets)
{
    *users = malloc(a->n * (HIPPO_GUID_LEN + 1) + 3);
    *sets = malloc(a->n * (ACTIVE_MAX * (HIPPO_GUID_LEN + 1) + 3) + 3);
    if (!*users || !*sets)
        return -1;
    strcpy(*users, "{");
    strcpy(*sets, "{");
    for (size_t i = 0; i < a->n; i++) {
        strcat(*users, i ? "," : "");
        strcat(*users, a->users[i].user_id);
        strcat(*sets, i ? ",\"" : "\"");
        for (size_t k = 0; k < a->users[i].n; k++) {
            strcat(*sets, k ? " " : "");
            strcat(*sets, a->users[i].ids[k]);
        }
        strcat(*sets, "\"");
    }
    strcat(*users, "}");
    strcat(*sets, "}");
    return 0;
}

static void on_sent(void *arg, bool sent)
{
    struct active *a = arg;
    char *users = NULL, *sets = NULL;
    if (sent && record_arrays(a, &users, &sets) == 0) {
        const char *params[] = {users, sets};
        if (hippo_db_query(a->d->db, STMT_RECORD, 2, params, on_recorded, a) == 0)
            a = NULL; /* on_recorded finishes */
    }
    free(users);
    free(sets);
    if (a)
        finish(a, false);
}

static void start_sending(struct active *a, xmpp_stanza_t *payload)
{
    a->index = hippo_push_posts_index(payload);
    xmpp_stanza_release(payload);
    if (!a->index || hippo_push_fanout(a->d->push, a->n, send_one, on_sent, active_free, a) < 0)
        finish(a, false);
}

/* ------------------------------------------------------------------ the payload */

static void on_payload(const PGresult *res, const char *error, void *arg)
{
    struct active *a = arg;
    size_t n_posts = 0;
    xmpp_stanza_t *payload =
        res ? hippo_post_payload_from_result(hippo_link_ctx(a->d->link), res, ELEMENT,
                                             HIPPO_POST_WITH_LIVEPOST, &n_posts, &error)
            : NULL;
    if (!payload) {
        hippo_log(&a->d->log, HIPPO_LOG_WARNING, "push: active posts payload: %s", error);
        finish(a, false);
        return;
    }
    start_sending(a, payload);
}

/* "{ID,ID}" of every post in some user's set, each once. The caller frees it; NULL when
 * out of memory. *N counts them. */
static char *post_union(const struct active *a, size_t *n)
{
    char *out = malloc(a->n * ACTIVE_MAX * (HIPPO_GUID_LEN + 1) + 3);
    if (!out)
        return NULL;
    strcpy(out, "{");
    *n = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t k = 0; k < a->users[i].n; k++) {
            if (strstr(out, a->users[i].ids[k])) /* GUIDs have one length: no false match */
                continue;
            strcat(out, (*n)++ ? "," : "");
            strcat(out, a->users[i].ids[k]);
        }
    strcat(out, "}");
    return out;
}

static void fetch_payload(struct active *a)
{
    size_t n = 0;
    char *ids = post_union(a, &n);
    const char *params[] = {ids};
    if (ids && n == 0) { /* every set became empty */
        xmpp_stanza_t *empty = hippo_post_xml_wrapper(hippo_link_ctx(a->d->link), ELEMENT);
        free(ids);
        if (!empty) {
            finish(a, false);
            return;
        }
        start_sending(a, empty);
        return;
    }
    if (!ids || hippo_db_query(a->d->db, STMT_PAYLOAD, 1, params, on_payload, a) < 0)
        finish(a, false);
    free(ids);
}

/* ------------------------------------------------------------------ the changes */

/* Splits "A B C" into up to ACTIVE_MAX fixed-size strings of SIZE bytes at OUT. */
static size_t split_words(const char *s, char *out, size_t size)
{
    size_t n = 0;
    while (*s && n < ACTIVE_MAX) {
        size_t len = strcspn(s, " ");
        if (len > 0 && len < size) {
            memcpy(out + n * size, s, len);
            out[n * size + len] = '\0';
            n++;
        }
        s += len + (s[len] == ' ');
    }
    return n;
}

static int copy_changes(struct active *a, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    a->users = calloc(n, sizeof *a->users);
    if (!a->users)
        return -1;
    for (; a->n < n; a->n++) {
        struct user_set *u = &a->users[a->n];
        int row = (int)a->n;
        snprintf(u->user_id, sizeof u->user_id, "%s", PQgetvalue(res, row, 0));
        u->n = split_words(PQgetvalue(res, row, 2), &u->ids[0][0], sizeof u->ids[0]);
        size_t nf = split_words(PQgetvalue(res, row, 3), &u->flags[0][0], sizeof u->flags[0]);
        if (nf != u->n || !(u->jid = strdup(PQgetvalue(res, row, 1))))
            return -1;
    }
    return 0;
}

static void on_changes(const PGresult *res, const char *error, void *arg)
{
    struct active *a = arg;
    if (!res) {
        hippo_log(&a->d->log, HIPPO_LOG_WARNING, "push: active posts (%s): %s",
                  a->post_id[0] ? a->post_id : "user", error);
        finish(a, false);
        return;
    }
    if (PQntuples(res) == 0) {
        finish(a, true);
        return;
    }
    if (copy_changes(a, res) < 0) {
        finish(a, false);
        return;
    }
    fetch_payload(a);
}

void hippo_push_active_posts(hippod *d, const hippo_push_event *ev)
{
    struct active *a = calloc(1, sizeof *a);
    if (!a) {
        hippo_push_event_done(d->push, false);
        return;
    }
    a->d = d;
    snprintf(a->post_id, sizeof a->post_id, "%s", ev->post_id);
    const char *params[] = {ev->post_id, ev->user_id};
    if (hippo_db_query(d->db, STMT_CHANGES, 2, params, on_changes, a) < 0)
        finish(a, false);
}
