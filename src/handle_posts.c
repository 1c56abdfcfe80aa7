/* handle_posts.c - recentPosts (http://dumbhippo.com/protocol/post): the user's most recent
 * received posts, or one post by id, each with its entities and live numbers. */
#include <stdbool.h>

#include "post_payload.h"
#include "post_xml.h"
#include "protocol.h"

#define RECENT_POSTS_MAX 4 /* the original getReceivedPosts(viewpoint, user, 0, 4) */

void hippo_posts_prepare(hippo_db *db)
{
    (void)db; /* the statements are post_payload.c's */
}

static void on_payload(hippod *d, xmpp_stanza_t *element, size_t missing, const char *error,
                       void *arg)
{
    (void)d;
    hippo_request *req = arg;
    if (!element) {
        hippo_request_failed(req, NULL, error);
        return;
    }
    if (missing > 0)
        hippo_request_error(req, "cancel", "item-not-found", "no such post, or you may not see it");
    else
        hippo_request_result(req, element);
    xmpp_stanza_release(element);
}

void hippo_posts_iq(hippo_request *req)
{
    const char *post_id = NULL;
    const char *err = hippo_post_xml_check_recent_posts(xmpp_stanza_get_type(req->stanza),
                                                        req->payload, &post_id);
    if (err) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    int rc = post_id ? hippo_post_payload_build(req->d, req->user_id, &post_id, 1, "recentPosts",
                                                HIPPO_POST_WITH_LIVEPOST, on_payload, req)
                     : hippo_post_payload_build_recent(req->d, req->user_id, RECENT_POSTS_MAX,
                                                       "recentPosts", HIPPO_POST_WITH_LIVEPOST,
                                                       on_payload, req);
    if (rc < 0)
        hippo_request_refused(req);
}
