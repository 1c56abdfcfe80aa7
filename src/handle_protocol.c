/* handle_protocol.c - the http://dumbhippo.com/protocol/ IQs at the component domain.
 *
 * Every protocol request first resolves the sender (the bare JID the server stamped on the
 * stanza) to a hippo user, from the user cache or else through the database, then goes to
 * the area of its namespace. While the database is down or saturated the request gets a
 * wait-type error at once. */
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "protocol.h"
#include "send.h"
#include "stanza.h"
#include "user_cache.h"
#include "xmpp_link.h"

#define STMT_USER_BY_JID "user_by_jid"

static const struct area {
    const char *ns;
    void (*prepare)(hippo_db *db);
    hippo_area_handler handle;
} areas[] = {
    {HIPPO_NS_PROTOCOL("clientinfo"), hippo_clientinfo_prepare, hippo_clientinfo_iq},
    {HIPPO_NS_PROTOCOL("servermethod"), hippo_method_prepare, hippo_method_iq},
    {HIPPO_NS_PROTOCOL("hotness"), hippo_hotness_prepare, hippo_hotness_iq},
    {HIPPO_NS_PROTOCOL("music"), hippo_music_prepare, hippo_music_iq},
    {HIPPO_NS_PROTOCOL("myspace"), hippo_myspace_prepare, hippo_myspace_iq},
    {HIPPO_NS_PROTOCOL("prefs"), hippo_prefs_prepare, hippo_prefs_iq},
    {HIPPO_NS_PROTOCOL("post"), hippo_posts_prepare, hippo_posts_iq},
    {HIPPO_NS_PROTOCOL("postControl"), hippo_post_control_prepare, hippo_post_control_iq},
};

static const struct area *area_of(const char *ns)
{
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        if (strcmp(areas[i].ns, ns) == 0)
            return &areas[i];
    return NULL;
}

void hippo_protocol_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_USER_BY_JID, "SELECT id FROM hippo.users WHERE jid = lower($1)", 1);
    hippo_db_listen(db, HIPPO_USERS_CHANNEL);
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        areas[i].prepare(db);
}

xmpp_ctx_t *hippo_request_ctx(hippo_request *req)
{
    return hippo_link_ctx(req->d->link);
}

static void request_free(hippo_request *req)
{
    if (req->iq)
        xmpp_stanza_release(req->iq);
    if (req->bare_jid)
        xmpp_free(hippo_request_ctx(req), req->bare_jid);
    free(req);
}

void hippo_request_result(hippo_request *req, xmpp_stanza_t *payload)
{
    xmpp_stanza_t *result = hippo_stanza_iq_result(hippo_request_ctx(req), req->iq);
    if (!result) {
        hippo_request_error(req, "wait", "resource-constraint", "out of memory");
        return;
    }
    if (payload)
        xmpp_stanza_add_child(result, payload);
    hippo_send(req->d, result);
    xmpp_stanza_release(result);
    request_free(req);
}

void hippo_request_error(hippo_request *req, const char *type, const char *condition,
                         const char *text)
{
    hippo_send_error(req->d, req->iq, type, condition, text);
    request_free(req);
}

int hippo_request_query(hippo_request *req, const char *stmt, int nparams,
                        const char *const *params, hippo_db_result_cb cb)
{
    /* One user's statements stay on one connection, in order; the sender lookup has only
     * the JID, and it answers before the area's statement is sent. */
    const char *key = req->user_id[0] ? req->user_id : req->bare_jid;
    if (hippo_db_query_keyed(req->d->db, key, stmt, nparams, params, cb, req) == 0)
        return 0;
    hippo_request_refused(req);
    return -1;
}

void hippo_request_refused(hippo_request *req)
{
    const char *condition, *text;
    hippo_send_db_refusal(req->d, &condition, &text);
    hippo_request_error(req, "wait", condition, text);
}

bool hippo_request_failed(hippo_request *req, const PGresult *res, const char *error)
{
    if (res)
        return false;
    hippo_log(&req->d->log, HIPPO_LOG_WARNING, "%s request from %s failed: %s",
              xmpp_stanza_get_ns(req->payload), req->bare_jid, error ? error : "?");
    hippo_request_error(req, "wait", "internal-server-error",
                        "database unavailable, try again later");
    return true;
}

void hippo_request_answer_if_visible(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't')
        hippo_request_result(req, NULL);
    else
        hippo_request_error(req, "cancel", "item-not-found", "no such post, or you may not see it");
}

static void on_user_found(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    if (PQntuples(res) == 0) {
        hippo_request_error(req, "auth", "registration-required",
                            "this account is not a Mugshot user");
        return;
    }
    snprintf(req->user_id, sizeof req->user_id, "%s", PQgetvalue(res, 0, 0));
    hippo_user_cache_put(req->d->users, req->users_generation, req->bare_jid, req->user_id);
    area_of(xmpp_stanza_get_ns(req->payload))->handle(req);
}

void hippo_protocol_iq(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    if (!area_of(xmpp_stanza_get_ns(payload))) {
        hippo_send_error(d, iq, "cancel", "feature-not-implemented",
                         "unknown dumbhippo protocol namespace");
        return;
    }
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    hippo_request *req = calloc(1, sizeof *req);
    if (!req) {
        hippo_send_error(d, iq, "wait", "resource-constraint", "out of memory");
        return;
    }
    req->d = d;
    req->iq = xmpp_stanza_copy(iq); /* the request outlives the link's stanza */
    if (!req->iq) {
        free(req);
        hippo_send_error(d, iq, "wait", "resource-constraint", "out of memory");
        return;
    }
    req->payload = hippo_stanza_first_element(req->iq);
    req->bare_jid = xmpp_jid_bare(ctx, xmpp_stanza_get_from(iq));
    if (!req->bare_jid) {
        hippo_request_error(req, "wait", "resource-constraint", "out of memory");
        return;
    }
    const char *known = hippo_user_cache_get(d->users, req->bare_jid);
    if (known) {
        d->metrics.user_lookups_cached++;
        snprintf(req->user_id, sizeof req->user_id, "%s", known);
        area_of(xmpp_stanza_get_ns(req->payload))->handle(req);
        return;
    }
    d->metrics.user_lookups_database++;
    req->users_generation = hippo_user_cache_generation(d->users);
    const char *params[] = {req->bare_jid};
    hippo_request_query(req, STMT_USER_BY_JID, 1, params, on_user_found);
}
