/* protocol.h - one dumbhippo protocol request in flight, and the protocol areas.
 *
 * handle_protocol.c resolves the sender to a hippo user, then hands the request to the
 * area of its namespace (one handle_<area>.c each). An area handler answers exactly once,
 * now or from a database callback, with hippo_request_result() or hippo_request_error(),
 * which also free the request. */
#ifndef HIPPO_PROTOCOL_H
#define HIPPO_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <strophe.h>

#include "db.h"
#include "guid.h"
#include "hippod.h"

#define HIPPO_NS_PROTOCOL(area) "http://dumbhippo.com/protocol/" area

typedef struct hippo_request {
    hippod *d;
    xmpp_stanza_t *iq;      /* our own reference, released when the request is answered */
    xmpp_stanza_t *payload; /* the iq's only element child (owned by iq) */
    char user_id[HIPPO_GUID_LEN + 1];
    char *bare_jid;            /* the sender's bare JID (malloc'd, freed with the request) */
    uint64_t users_generation; /* the user cache's generation when the lookup was sent */
    void *area_state;          /* the area's own data; the area frees it before answering */
} hippo_request;

typedef void (*hippo_area_handler)(hippo_request *req);

/* PostgreSQL notifies this channel when the user cache must be cleared (sql/009). */
#define HIPPO_USERS_CHANNEL "hippo_users"

/* Sends the result: an <iq type="result"> carrying PAYLOAD when not NULL (the caller keeps
 * its reference to PAYLOAD). Frees REQ. */
void hippo_request_result(hippo_request *req, xmpp_stanza_t *payload);

/* Sends an XMPP error (TYPE cancel|modify|auth|wait; TEXT may be NULL). Frees REQ. */
void hippo_request_error(hippo_request *req, const char *type, const char *condition,
                         const char *text);

/* Runs prepared statement STMT with CB(res, error, req) called later. When the database is
 * down or saturated it answers with a wait-type error itself, frees REQ and returns -1. */
int hippo_request_query(hippo_request *req, const char *stmt, int nparams,
                        const char *const *params, hippo_db_result_cb cb);

/* Answers the wait-type error of a database query that could not be sent (see
 * hippo_send_db_refusal()). Frees REQ. */
void hippo_request_refused(hippo_request *req);

/* For database callbacks: when RES is NULL, logs ERROR, answers internal-server-error
 * (wait), frees REQ and returns true. */
bool hippo_request_failed(hippo_request *req, const PGresult *res, const char *error);

/* A database callback for statements returning one boolean "the post exists and the user
 * may see it": answers an empty result when true, item-not-found otherwise. */
void hippo_request_answer_if_visible(const PGresult *res, const char *error, void *arg);

xmpp_ctx_t *hippo_request_ctx(hippo_request *req);

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
