/* handle_method.c - method (http://dumbhippo.com/protocol/servermethod): a fixed whitelist
 * of one method, postClicked, which records the user's view of a post (hippo.post_click). */
#include "post_xml.h"
#include "protocol.h"

#define STMT_POST_CLICK "post_click"

void hippo_method_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_POST_CLICK, "SELECT hippo.post_click($1, $2)", 2);
}

void hippo_method_iq(hippo_request *req)
{
    char post_id[HIPPO_GUID_LEN + 1];
    const char *err =
        hippo_post_xml_check_method(xmpp_stanza_get_type(req->stanza), req->payload, post_id);
    if (err) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    const char *params[] = {post_id, req->user_id};
    hippo_request_query(req, STMT_POST_CLICK, 2, params, hippo_request_answer_if_visible);
}
