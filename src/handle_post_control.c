/* handle_post_control.c - postControl (http://dumbhippo.com/protocol/postControl): the
 * user ignores (or stops ignoring) a post (hippo.set_post_ignored). */
#include "post_xml.h"
#include "protocol.h"

#define STMT_SET_IGNORED "set_post_ignored"

void hippo_post_control_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_SET_IGNORED, "SELECT hippo.set_post_ignored($1, $2, $3::boolean)", 3);
}

void hippo_post_control_iq(hippo_request *req)
{
    bool ignore = false;
    const char *post_id = NULL;
    const char *err = hippo_post_xml_check_post_control(xmpp_stanza_get_type(req->stanza),
                                                        req->payload, &ignore, &post_id);
    if (err) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    const char *params[] = {post_id, req->user_id, ignore ? "true" : "false"};
    hippo_request_query(req, STMT_SET_IGNORED, 3, params, hippo_request_answer_if_visible);
}
