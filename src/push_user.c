/* push_user.c - the notifications about one user's own data, one headline each (original-
 * behaviour.md 4.5, 4.6): prefs (the full map, after hippo.set_pref), mySpaceNameChanged
 * (after hippo.set_myspace_name; no name attribute once cleared) and mySpaceContactComment
 * (a notice queued by notifyContactComment, deleted once sent). One query per event, the
 * notice's delete aside. */
#include <stdlib.h>
#include <string.h>

#include "push_kinds.h"
#include "send.h"
#include "push_xml.h"
#include "user_iq_xml.h"
#include "xmpp_link.h"

#define STMT_PREFS "push_prefs"
#define STMT_MYSPACE_NAME "push_myspace_name"
#define STMT_NOTICES "push_myspace_notices"
#define STMT_NOTICES_DONE "push_myspace_notices_done"

void hippo_push_user_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_PREFS,
                     "SELECT u.jid, p.key, p.value FROM hippo.users u"
                     " CROSS JOIN LATERAL hippo.user_prefs(u.id) AS p WHERE u.id = $1",
                     1);
    hippo_db_prepare(db, STMT_MYSPACE_NAME,
                     "SELECT u.jid, m.name FROM hippo.users u"
                     " LEFT JOIN hippo.myspace_names m ON m.user_id = u.id WHERE u.id = $1",
                     1);
    hippo_db_prepare(db, STMT_NOTICES,
                     "SELECT n.id, u.jid FROM hippo.pending_myspace_comment_notices n"
                     " JOIN hippo.users u ON u.id = n.recipient_id"
                     " WHERE n.recipient_id = $1 AND n.sender_id = $2 ORDER BY n.id",
                     2);
    hippo_db_prepare(db, STMT_NOTICES_DONE,
                     "DELETE FROM hippo.pending_myspace_comment_notices"
                     " WHERE id = ANY ($1::bigint[])",
                     1);
}

/* Sends PAYLOAD (released here; NULL = out of memory) to JID as a headline. Returns 0, or
 * -1 when it could not be built or the link refused it. */
static int send_headline(hippod *d, const char *jid, xmpp_stanza_t *payload)
{
    if (!payload)
        return -1;
    xmpp_stanza_t *msg = hippo_push_xml_message(hippo_link_ctx(d->link), "headline", NULL, payload);
    xmpp_stanza_release(payload);
    if (!msg)
        return -1;
    xmpp_stanza_set_to(msg, jid);
    int rc = hippo_send(d, msg);
    xmpp_stanza_release(msg);
    return rc;
}

/* ------------------------------------------------------------------ prefs */

static xmpp_stanza_t *prefs_payload(hippod *d, const PGresult *res)
{
    xmpp_stanza_t *prefs = hippo_prefs_element(hippo_link_ctx(d->link));
    for (int i = 0; prefs && i < PQntuples(res); i++)
        if (hippo_prefs_add(prefs, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)) < 0) {
            xmpp_stanza_release(prefs);
            prefs = NULL;
        }
    return prefs;
}

static void on_prefs(const PGresult *res, const char *error, void *arg)
{
    hippod *d = arg;
    if (!res) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "push: prefs: %s", error);
        hippo_push_event_done(d->push, false);
        return;
    }
    if (PQntuples(res) == 0) { /* the user is gone */
        hippo_push_event_done(d->push, true);
        return;
    }
    hippo_push_event_done(d->push,
                          send_headline(d, PQgetvalue(res, 0, 0), prefs_payload(d, res)) == 0);
}

void hippo_push_prefs(hippod *d, const hippo_push_event *ev)
{
    const char *params[] = {ev->user_id};
    if (hippo_db_query(d->db, STMT_PREFS, 1, params, on_prefs, d) < 0)
        hippo_push_event_done(d->push, false);
}

/* ------------------------------------------------------------------ mySpaceNameChanged */

static void on_myspace_name(const PGresult *res, const char *error, void *arg)
{
    hippod *d = arg;
    if (!res) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "push: mySpaceNameChanged: %s", error);
        hippo_push_event_done(d->push, false);
        return;
    }
    if (PQntuples(res) == 0) {
        hippo_push_event_done(d->push, true);
        return;
    }
    const char *name = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
    xmpp_stanza_t *payload = hippo_myspace_name_changed_element(hippo_link_ctx(d->link), name);
    hippo_push_event_done(d->push, send_headline(d, PQgetvalue(res, 0, 0), payload) == 0);
}

void hippo_push_myspace_name(hippod *d, const hippo_push_event *ev)
{
    const char *params[] = {ev->user_id};
    if (hippo_db_query(d->db, STMT_MYSPACE_NAME, 1, params, on_myspace_name, d) < 0)
        hippo_push_event_done(d->push, false);
}

/* ------------------------------------------------------------------ mySpaceContactComment */

static void on_notices_done(const PGresult *res, const char *error, void *arg)
{
    hippod *d = arg;
    if (!res) /* sent, not deleted: sent again (at-least-once) */
        hippo_log(&d->log, HIPPO_LOG_WARNING, "push: deleting sent notices: %s", error);
    hippo_push_event_done(d->push, res != NULL);
}

/* "{id,id}" of the notices in RES; the caller frees it. */
static char *notice_ids(const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    char *out = malloc(n * 21 + 3);
    if (!out)
        return NULL;
    strcpy(out, "{");
    for (size_t i = 0; i < n; i++) {
        strcat(out, i ? "," : "");
        strncat(out, PQgetvalue(res, (int)i, 0), 20);
    }
    strcat(out, "}");
    return out;
}

static void on_notices(const PGresult *res, const char *error, void *arg)
{
    hippod *d = arg;
    if (!res) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "push: mySpaceContactComment: %s", error);
        hippo_push_event_done(d->push, false);
        return;
    }
    if (PQntuples(res) == 0) { /* already sent and deleted */
        hippo_push_event_done(d->push, true);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        xmpp_stanza_t *payload = hippo_myspace_contact_comment_element(hippo_link_ctx(d->link));
        if (send_headline(d, PQgetvalue(res, i, 1), payload) < 0) {
            hippo_push_event_done(d->push, false);
            return;
        }
    }
    char *ids = notice_ids(res);
    const char *params[] = {ids};
    if (!ids || hippo_db_query(d->db, STMT_NOTICES_DONE, 1, params, on_notices_done, d) < 0)
        hippo_push_event_done(d->push, false);
    free(ids);
}

void hippo_push_myspace_comment(hippod *d, const hippo_push_event *ev)
{
    const char *params[] = {ev->user_id, ev->actor_id};
    if (hippo_db_query(d->db, STMT_NOTICES, 2, params, on_notices, d) < 0)
        hippo_push_event_done(d->push, false);
}
