/* handle_hotness.c - hotness (http://dumbhippo.com/protocol/hotness): the user's hotness,
 * computed by hippo.hotness() (sql/004_post_iqs.sql, rule in docs/protocol-posts.md). */
#include "post_xml.h"
#include "protocol.h"

#define STMT_HOTNESS "hotness"

void hippo_hotness_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_HOTNESS, "SELECT hippo.hotness($1)", 1);
}

static void on_hotness(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    xmpp_stanza_t *reply =
        PQntuples(res) == 1 ? hippo_post_xml_hotness(hippo_request_ctx(req), PQgetvalue(res, 0, 0))
                            : NULL;
    if (!reply) {
        hippo_request_error(req, "wait", "internal-server-error", "cannot compute hotness");
        return;
    }
    hippo_request_result(req, reply);
    xmpp_stanza_release(reply);
}

void hippo_hotness_iq(hippo_request *req)
{
    const char *err = hippo_post_xml_check_hotness(xmpp_stanza_get_type(req->stanza), req->payload);
    if (err) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    const char *params[] = {req->user_id};
    hippo_request_query(req, STMT_HOTNESS, 1, params, on_hotness);
}
