/* room_op.h - one room stanza being handled: a hippo_request (request.h) with the room's
 * part, the database statement it runs (one hippo.room_* function: check, change and what to send
 * in one transaction), the rows that come back, and the error answers. Internal to the rooms.
 *
 * Group commit: a room message is stored by hippo.room_message_batch together with the
 * other messages that arrived while the previous batch was being committed (one transaction,
 * one WAL flush for all). Behind a batch in flight, every room statement whose rooms share
 * its database connection waits in a queue, so that each room's statements still run in the
 * order their stanzas arrived (a message, then its sender's leave). */
#ifndef HIPPO_ROOM_OP_H
#define HIPPO_ROOM_OP_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <strophe.h>

#include "db.h"
#include "guid.h"
#include "hippod.h"
#include "rate_limit.h"
#include "request.h"
#include "room_state.h"
#include "room_types.h"

/* A standard MUC join's <history/> request, already combined with [rooms] max_history. */
typedef struct hippo_room_history {
    int max_stanzas; /* -1: no limit */
    long max_chars;  /* -1: no limit (approximated from the stanza sizes) */
    char since[40];  /* "" or a timestamp PostgreSQL reads ("2024-01-02 03:04:05+00") */
} hippo_room_history;

/* The most parameters of a room statement (room_archive). */
#define HIPPO_ROOM_OP_MAX_PARAMS 9

struct hippo_room_op;
/* Called once per batch with its N messages (arrival order) and the result of
 * hippo.room_message_batch (RES NULL with ERROR when it failed); it answers and frees every
 * op. Each op's state, sender and mark are set. */
typedef void (*hippo_room_batch_cb)(struct hippo_room_op **ops, size_t n, const PGresult *res,
                                    const char *error);

typedef struct hippo_room_op {
    hippo_request r; /* first: the request (its stanza, sender, answers) is the op; its
                      * statements are keyed by room_id */
    char room_id[HIPPO_GUID_LEN + 1];
    char *room_jid; /* the canonical bare room JID (malloc'd) */
    char *nick;     /* the resource the request was addressed to, or NULL (malloc'd) */

    /* what the handler needs once the database has answered */
    hippo_room_dialect dialect;
    hippo_room_history history;
    bool notify_leaver; /* a standard occupant's explicit leave gets its own unavailable */
    bool nick_change;   /* a standard occupant's presence without <x muc> to another nick */
    int iq_kind;        /* room_iq.c: which IQ this is */
    char *title;        /* room_iq.c: the room's title while the post payload is built */

    /* a message (room_message.c) */
    char *body; /* malloc'd */
    bool groupchat;
    hippo_room_batch_cb on_batch;
    /* set when its batch is sent (room_state.h): the room's state then, if it was
     * remembered, and the sender in it if present ("known"); the room's mark */
    hippo_room_state *state; /* a reference of the op's own, or NULL */
    const hippo_room_occupant *sender;
    hippo_room_mark mark;
    bool marked;
    bool held; /* a join or leave: its room stays forgotten until the op is freed */

    /* while queued behind a batch (room_op.c) */
    struct hippo_room_op *next;
    const char *stmt; /* NULL: a message */
    int nparams;
    char *params[HIPPO_ROOM_OP_MAX_PARAMS]; /* copies; NULL is SQL NULL */
    hippo_db_result_cb cb;
    uint64_t queued_usec;
} hippo_room_op;

/* The rooms' state in memory (hippod.rooms): the message rate limits, and per database
 * connection the statements queued behind a batch of messages in flight. */
typedef struct hippo_room_queue {
    hippo_room_op *head, *tail;
    bool batch_in_flight;
    uint64_t batch_sent_usec; /* monotonic, of the batch in flight */
} hippo_room_queue;

struct hippo_rooms {
    hippo_rate_limit *rate;
    hippo_room_states *states;
    unsigned n_queues;
    hippo_room_queue *queues;
};

/* The columns of hippo.room_row (sql/003_rooms.sql). */
#define HIPPO_ROOM_ROW_COLUMNS 17

/* What each hippo.room_* row says (see the type hippo.room_row in sql/003_rooms.sql). The
 * strings point into the PGresult and are valid during the database callback only. The
 * user's music comes from the music columns after the row's (room_music.h), when the
 * statement has them; otherwise it is zeroed. */
typedef struct hippo_room_row {
    const char *what; /* status, member, to, history */
    const char *status;
    hippo_room_user user;
    hippo_room_role role;
    hippo_room_role old_role;
    const char *res_old_role; /* NULL: the resource was not present */
    const char *jid;
    hippo_room_dialect dialect;
    long long serial;
    long long ts_ms;
    const char *body;
    const char *kind;
    const char *title;
    int room_photo_version;
} hippo_room_row;

/* A new op for STANZA (copied) addressed to ROOM_ID, resource NICK (may be NULL). Returns
 * NULL when out of memory; free with hippo_room_op_free(). */
hippo_room_op *hippo_room_op_new(hippod *d, xmpp_stanza_t *stanza, const char *room_id,
                                 const char *nick);
void hippo_room_op_free(hippo_room_op *op); /* hippo_request_free(&op->r) */
xmpp_ctx_t *hippo_room_op_ctx(const hippo_room_op *op);

/* Answers the request with an XMPP error (a presence error also carries <x muc/>, which
 * XEP-0045 clients need to match it), counted by condition; then frees OP. Silent ops are
 * only freed. */
void hippo_room_op_error(hippo_room_op *op, const char *type, const char *condition,
                         const char *text);

/* Runs STMT with PARAMS (at most HIPPO_ROOM_OP_MAX_PARAMS); CB(res, error, op) later. When
 * the database is down or saturated, answers a wait error itself (logs for silent ops), frees
 * OP and returns -1. */
/* For a statement that changes the room's occupants (a join, a leave), before
 * hippo_room_op_query(): the room is forgotten and not learnt again until OP is freed, after
 * its answer (room_state.h). */
void hippo_room_op_hold(hippo_room_op *op);

int hippo_room_op_query(hippo_room_op *op, const char *stmt, int nparams, const char *const *params,
                        hippo_db_result_cb cb);

/* Stores the message OP (op->body, op->groupchat, op->on_batch set) in the next batch: at
 * once when no batch is in flight on its connection, else after it. Refusals as above. */
int hippo_room_op_message(hippo_room_op *op);

/* For database callbacks: true (and OP answered with a wait error and freed) when the query
 * failed or returned no status row; otherwise fills *STATUS from row 0. */
bool hippo_room_op_failed(hippo_room_op *op, const PGresult *res, const char *error,
                          hippo_room_row *status);
/* The same for a result whose hippo.room_row columns start at column FIRST (after FIRST
 * columns of the statement's own). */
bool hippo_room_op_failed_at(hippo_room_op *op, const PGresult *res, const char *error, int first,
                             hippo_room_row *status);

/* Answers the refusals every room function can return (unknown-user, unknown-room,
 * forbidden, full, rate, not-occupant): true when STATUS was one (OP is answered and freed). */
bool hippo_room_op_refused(hippo_room_op *op, const hippo_room_row *status);

void hippo_room_row_read(const PGresult *res, int i, hippo_room_row *row);
/* The same from a row whose room_row columns start at column FIRST. */
void hippo_room_row_read_from(const PGresult *res, int i, int first, hippo_room_row *row);

/* Sends STANZA (the caller keeps its reference) to TO. */
void hippo_room_send_to(hippod *d, xmpp_stanza_t *stanza, const char *to);

/* Sends STANZA if it is not NULL (logging the allocation failure otherwise), then releases
 * it. */
void hippo_room_send_new(hippod *d, xmpp_stanza_t *stanza);

/* Counts a refusal for a room limit in hippod_drops_total{reason="room-limit-WHAT"} and logs
 * it (FROM sent to ROOM_ID). */
void hippo_room_limit_hit(hippod *d, const char *room_id, const char *from, const char *what);

#endif
