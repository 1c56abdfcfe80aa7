/* request.h - a stanza waiting on the database: the one request type of hippod.
 *
 * A handler that needs PostgreSQL copies the stanza into a request, runs its statement with
 * hippo_request_query() and answers from the callback, exactly once: a result, an error, or
 * nothing for silent requests (leaves, bounces: failures are only logged). Answering frees
 * the request. The protocol areas use it as it is (protocol.h); the rooms embed it as the
 * first member of their hippo_room_op (room_op.h), whose own fields are freed by FREE_SELF. */
#ifndef HIPPO_REQUEST_H
#define HIPPO_REQUEST_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "db.h"
#include "guid.h"
#include "hippod.h"

typedef struct hippo_request hippo_request;

struct hippo_request {
    hippod *d;
    xmpp_stanza_t *stanza;  /* our own copy, released with the request */
    xmpp_stanza_t *payload; /* the stanza's first element child (owned by stanza), or NULL */
    char *from;             /* the sender's full JID (malloc'd) */
    char *bare_jid;         /* the sender's bare JID (malloc'd) */
    const char *key;        /* statements with one key run in order on one connection; NULL:
                             * the sender's user id once known, else its bare JID */
    bool silent;            /* failures are logged, never answered */
    /* the sender as a hippo user, once resolved (handle_protocol.c) */
    char user_id[HIPPO_GUID_LEN + 1];
    uint64_t users_generation; /* the user cache's generation when the lookup was sent */
    void *area_state;          /* the handler's own data; the handler frees it before answering */
    void (*free_self)(hippo_request *req); /* frees what embeds the request; NULL: free(req) */
};

/* A new request for a copy of STANZA (sent by a JID), or NULL when out of memory. FREE_SELF
 * as above; SIZE bytes are allocated (zeroed), the request at their start. */
hippo_request *hippo_request_new(hippod *d, xmpp_stanza_t *stanza, size_t size,
                                 void (*free_self)(hippo_request *req));
/* Releases what the request holds, then calls free_self. NULL is fine. */
void hippo_request_free(hippo_request *req);

xmpp_ctx_t *hippo_request_ctx(const hippo_request *req);

/* Sends the IQ result, carrying PAYLOAD when not NULL (the caller keeps its reference).
 * Frees REQ. */
void hippo_request_result(hippo_request *req, xmpp_stanza_t *payload);

/* Answers an XMPP error (TYPE cancel|modify|auth|wait; TEXT may be NULL), counted by
 * condition; a silent request is only logged. Frees REQ. */
void hippo_request_error(hippo_request *req, const char *type, const char *condition,
                         const char *text);

/* Answers the wait-type error of a statement the database refused (down or saturated: see
 * hippo_send_db_refusal()). Frees REQ. */
void hippo_request_refused(hippo_request *req);

/* Runs prepared statement STMT keyed as above; CB(res, error, REQ) is called later. When
 * the database refuses it, answers as hippo_request_refused() and returns -1. */
int hippo_request_query(hippo_request *req, const char *stmt, int nparams,
                        const char *const *params, hippo_db_result_cb cb);

/* A statement failed (ERROR) or answered what the handler cannot read: logs it and answers
 * internal-server-error (wait). Frees REQ. */
void hippo_request_fail(hippo_request *req, const char *error);

/* For database callbacks: when RES is NULL, hippo_request_fail() and true. */
bool hippo_request_failed(hippo_request *req, const PGresult *res, const char *error);

#endif
