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
    hippo_request *req = hippo_request_new(d, iq, sizeof *req, NULL);
    if (!req) {
        hippo_send_error(d, iq, "wait", "resource-constraint", "out of memory");
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
