/* push_xml.h - the XML of the push notifications, without a server, so that unit tests can
 * validate it against schema/ (docs/push.md). The post payloads themselves come from
 * post_payload.h / post_xml.h; this adds the message around them, the per-recipient
 * viewpoint (favorite/ignored) and the per-user activePostsChanged selection. */
#ifndef HIPPO_PUSH_XML_H
#define HIPPO_PUSH_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

/* A new <message type=TYPE>[<body>BODY</body>]PAYLOAD</message> (no to/from: the sender
 * addresses it). BODY NULL: no body. PAYLOAD gets a reference (the caller keeps its own).
 * The caller releases the result; NULL on allocation failure. */
xmpp_stanza_t *hippo_push_xml_message(xmpp_ctx_t *ctx, const char *type, const char *body,
                                      xmpp_stanza_t *payload);

/* The text nodes of a <post>'s <favorite> and <ignored>, rewritten for each recipient of a
 * shared payload (pointers into the payload, which owns them). */
typedef struct hippo_push_viewpoint {
    xmpp_stanza_t *favorite;
    xmpp_stanza_t *ignored;
} hippo_push_viewpoint;

/* Finds them in the first <post> child of PAYLOAD. Returns 0, or -1 when there is none. */
int hippo_push_xml_viewpoint(xmpp_stanza_t *payload, hippo_push_viewpoint *out);
/* Returns 0, or -1 on allocation failure. */
int hippo_push_xml_set_viewpoint(const hippo_push_viewpoint *vp, bool favorite, bool ignored);

/* An index over a payload of several posts (entities, then <post> + <livepost> pairs, as
 * hippo_post_payload_from_result() builds it with HIPPO_POST_WITH_LIVEPOST), to cut one
 * user's activePostsChanged out of it. */
typedef struct hippo_push_posts hippo_push_posts;

/* Takes a reference to PAYLOAD. NULL on allocation failure or when a <post> is not
 * followed by its <livepost>. Free with hippo_push_posts_free(). */
hippo_push_posts *hippo_push_posts_index(xmpp_stanza_t *payload);
void hippo_push_posts_free(hippo_push_posts *ix);

/* A new <NAME xmlns=post> holding copies of the entities that POST_IDS[0..N) reference
 * (poster, recipients, recent viewers: each once, in the order first referenced), then of
 * each post and its livepost. FLAGS NULL keeps the indexed favorite/ignored; else FLAGS[i]
 * is two characters, favorite then ignored, 't' or 'f'. Ids not in the index are left out.
 * The caller releases the result; NULL on allocation failure. */
xmpp_stanza_t *hippo_push_posts_select(hippo_push_posts *ix, const char *name,
                                       const char *const *post_ids, const char *const *flags,
                                       size_t n);

#endif
