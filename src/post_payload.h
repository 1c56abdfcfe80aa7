/* post_payload.h - the post-namespace payloads shared by recentPosts, the room details IQ
 * and the push notifications: the entity set (user/resource/group), <post> and <livepost>
 * (original-behaviour.md 4.1), built from a viewer's viewpoint out of PostgreSQL. */
#ifndef HIPPO_POST_PAYLOAD_H
#define HIPPO_POST_PAYLOAD_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

#include "db.h"
#include "hippod.h"

#define HIPPO_NS_POST "http://dumbhippo.com/protocol/post"

typedef enum hippo_post_payload_flags {
    HIPPO_POST_WITH_LIVEPOST = 1 << 0, /* each <post> followed by its <livepost> */
} hippo_post_payload_flags;

/* ELEMENT is a new <NAME xmlns=post> holding the deduplicated entities, then each post (and
 * livepost); the callback owns it and releases it with xmpp_stanza_release(). ELEMENT is
 * NULL when the query failed (ERROR says why). MISSING counts requested posts that do not
 * exist or that the viewer may not see (they are left out). */
typedef void (*hippo_post_payload_cb)(hippod *d, xmpp_stanza_t *element, size_t missing,
                                      const char *error, void *arg);

void hippo_post_payload_prepare(hippo_db *db);

/* Builds the payload for POST_IDS (in that order) as seen by VIEWER_ID. Returns 0 and calls
 * CB exactly once later; returns -1 (CB not called) when the database is down or saturated
 * (or memory ran out). The strings are copied. A repeated id is sent once, at its first
 * position; MISSING counts the distinct ids left out. */
int hippo_post_payload_build(hippod *d, const char *viewer_id, const char *const *post_ids,
                             size_t n_posts, const char *element_name,
                             hippo_post_payload_flags flags, hippo_post_payload_cb cb, void *arg);

/* Like hippo_post_payload_build() for the viewer's MAX_POSTS most recently received posts
 * (newest first; see hippo.received_posts in sql/004_post_iqs.sql), in one query. MISSING
 * is always 0. */
int hippo_post_payload_build_recent(hippod *d, const char *viewer_id, size_t max_posts,
                                    const char *element_name, hippo_post_payload_flags flags,
                                    hippo_post_payload_cb cb, void *arg);

/* The payload element built from RES, a result of hippo.post_payload_rows() (exposed for
 * tests). Returns a new element the caller releases, with *N_POSTS the number of posts in
 * it; NULL with *ERROR set when RES is malformed or memory ran out. */
xmpp_stanza_t *hippo_post_payload_from_result(xmpp_ctx_t *ctx, const PGresult *res,
                                              const char *element_name,
                                              hippo_post_payload_flags flags, size_t *n_posts,
                                              const char **error);

#endif
