/* protocol.h - one dumbhippo protocol request in flight, and the protocol areas.
 *
 * handle_protocol.c resolves the sender to a hippo user, then hands the request to the
 * area of its namespace (one handle_<area>.c each), as a hippo_request (request.h) with
 * its user_id set. An area handler answers exactly once, now or from a database callback,
 * with hippo_request_result() or hippo_request_error(), which also free the request. */
#ifndef HIPPO_PROTOCOL_H
#define HIPPO_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <strophe.h>

#include "db.h"
#include "guid.h"
#include "hippod.h"
#include "request.h"

#define HIPPO_NS_PROTOCOL(area) "http://dumbhippo.com/protocol/" area

typedef void (*hippo_area_handler)(hippo_request *req);

/* PostgreSQL notifies this channel when the user cache must be cleared (sql/009). */
#define HIPPO_USERS_CHANNEL "hippo_users"

/* A database callback for statements returning one boolean "the post exists and the user
 * may see it": answers an empty result when true, item-not-found otherwise. */
void hippo_request_answer_if_visible(const PGresult *res, const char *error, void *arg);

/* The areas: each registers its prepared statements, and handles its namespace. */
void hippo_clientinfo_prepare(hippo_db *db);
void hippo_clientinfo_iq(hippo_request *req);
void hippo_method_prepare(hippo_db *db);
void hippo_method_iq(hippo_request *req);
void hippo_hotness_prepare(hippo_db *db);
void hippo_hotness_iq(hippo_request *req);
void hippo_music_prepare(hippo_db *db);
void hippo_music_iq(hippo_request *req);
void hippo_myspace_prepare(hippo_db *db);
void hippo_myspace_iq(hippo_request *req);
void hippo_prefs_prepare(hippo_db *db);
void hippo_prefs_iq(hippo_request *req);
void hippo_posts_prepare(hippo_db *db);
void hippo_posts_iq(hippo_request *req);
void hippo_post_control_prepare(hippo_db *db);
void hippo_post_control_iq(hippo_request *req);

#endif
