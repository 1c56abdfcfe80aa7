/* handle_protocol.c - the http://dumbhippo.com/protocol/ IQs at the component domain.
 *
 * Every protocol request first resolves the sender (the bare JID the server stamped on the
 * stanza) to a hippo user through the database. While the database is down or saturated
 * the request gets a wait-type error at once. The per-area handlers (clientinfo, prefs,
 * post, ...) are added by the protocol-IQ feature; until then a known user asking for one
 * gets feature-not-implemented, never silence. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "router.h"
#include "stanza.h"
#include "xmpp_link.h"

#define STMT_USER_BY_JID "user_by_jid"

struct protocol_request {
    hippod *d;
    xmpp_stanza_t *iq; /* our own copy, released when answered */
};

void hippo_protocol_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_USER_BY_JID, "SELECT id FROM hippo.users WHERE jid = lower($1)", 1);
}

static void answer_for_user(hippod *d, xmpp_stanza_t *iq, const char *user_id)
{
    xmpp_stanza_t *payload = hippo_stanza_first_element(iq);
    hippo_log(&d->log, HIPPO_LOG_DEBUG, "protocol request %s from user %s",
              payload ? xmpp_stanza_get_ns(payload) : "?", user_id);
    hippo_router_reply_error(d, iq, "cancel", "feature-not-implemented",
                             "this protocol request is not implemented yet");
}

static void on_user_found(const PGresult *res, const char *error, void *arg)
{
    struct protocol_request *req = arg;
    hippod *d = req->d;
    if (!res) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "user lookup failed: %s", error);
        hippo_router_reply_error(d, req->iq, "wait", "internal-server-error",
                                 "database unavailable, try again later");
    } else if (PQntuples(res) == 0) {
        hippo_router_reply_error(d, req->iq, "auth", "registration-required",
                                 "this account is not a Mugshot user");
    } else {
        answer_for_user(d, req->iq, PQgetvalue(res, 0, 0));
    }
    xmpp_stanza_release(req->iq);
    free(req);
}

void hippo_protocol_iq(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    (void)payload;
    if (!hippo_db_is_up(d->db)) {
        hippo_router_reply_error(d, iq, "wait", "internal-server-error",
                                 "database unavailable, try again later");
        return;
    }
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    struct protocol_request *req = malloc(sizeof *req);
    char *bare = xmpp_jid_bare(ctx, xmpp_stanza_get_from(iq));
    if (!req || !bare) {
        free(req);
        xmpp_free(ctx, bare);
        hippo_router_reply_error(d, iq, "wait", "resource-constraint", "out of memory");
        return;
    }
    req->d = d;
    req->iq = xmpp_stanza_copy(iq);
    const char *params[] = {bare};
    int rc = req->iq ? hippo_db_query(d->db, STMT_USER_BY_JID, 1, params, on_user_found, req) : -1;
    xmpp_free(ctx, bare);
    if (rc < 0) {
        if (req->iq)
            xmpp_stanza_release(req->iq);
        free(req);
        hippo_router_reply_error(d, iq, "wait", "resource-constraint",
                                 "too many requests in flight, try again later");
    }
}
