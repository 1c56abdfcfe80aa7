/* handle_prefs.c - prefs (get): the user's full pref map, defaults included
 * (hippo.user_prefs). The payload's contents are ignored, as the original did. */
#include <string.h>

#include "protocol.h"
#include "user_iq_xml.h"

#define STMT_PREFS "prefs_of_user"

void hippo_prefs_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_PREFS, "SELECT key, value FROM hippo.user_prefs($1)", 1);
}

static void on_prefs(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    xmpp_stanza_t *prefs = hippo_prefs_element(hippo_request_ctx(req));
    for (int r = 0; prefs && r < PQntuples(res); r++) {
        if (hippo_prefs_add(prefs, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)) != 0) {
            xmpp_stanza_release(prefs);
            prefs = NULL;
        }
    }
    if (!prefs) {
        hippo_request_error(req, "wait", "resource-constraint", "out of memory");
        return;
    }
    hippo_request_result(req, prefs);
    xmpp_stanza_release(prefs);
}

void hippo_prefs_iq(hippo_request *req)
{
    if (strcmp(xmpp_stanza_get_type(req->stanza), "get") != 0) {
        hippo_request_error(req, "modify", "bad-request",
                            "prefs is a get request: prefs are changed through the web");
        return;
    }
    const char *params[] = {req->user_id};
    hippo_request_query(req, STMT_PREFS, 1, params, on_prefs);
}
