/* room_op.c - the life of one room request: copy, database statement (in order, messages
 * in batches), rows, errors. */
#include "room_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_array.h"
#include "room_music.h"
#include "send.h"
#include "sdnotify.h"
#include "stanza.h"
#include "xmpp_link.h"

enum room_column {
    COL_WHAT,
    COL_STATUS,
    COL_USER_ID,
    COL_NAME,
    COL_PHOTO_VERSION,
    COL_NICK,
    COL_ROLE,
    COL_OLD_ROLE,
    COL_RES_OLD_ROLE,
    COL_JID,
    COL_DIALECT,
    COL_SERIAL,
    COL_TS_MS,
    COL_BODY,
    COL_KIND,
    COL_TITLE,
    COL_ROOM_PHOTO_VERSION,
    COL_COUNT
};
_Static_assert(COL_COUNT == HIPPO_ROOM_ROW_COLUMNS, "room_op.h and hippo.room_row disagree");

xmpp_ctx_t *hippo_room_op_ctx(const hippo_room_op *op)
{
    return hippo_request_ctx(&op->r);
}

/* The request's free_self: the room's part, then the op. */
static void free_room_part(hippo_request *req)
{
    hippo_room_op *op = (hippo_room_op *)req;
    free(op->room_jid);
    free(op->nick);
    free(op->title);
    free(op->body);
    for (int i = 0; i < op->nparams; i++)
        free(op->params[i]);
    hippo_room_state_unref(op->state);
    if (op->held)
        hippo_room_states_release(op->r.d->rooms->states, op->room_id);
    free(op);
}

hippo_room_op *hippo_room_op_new(hippod *d, xmpp_stanza_t *stanza, const char *room_id,
                                 const char *nick)
{
    hippo_room_op *op = (hippo_room_op *)hippo_request_new(d, stanza, sizeof *op, free_room_part);
    if (!op)
        return NULL;
    snprintf(op->room_id, sizeof op->room_id, "%s", room_id);
    op->r.key = op->room_id;
    char node[HIPPO_GUID_NODE_MAX + 1];
    hippo_guid_to_node(room_id, node);
    size_t n = strlen(node) + strlen(d->cfg.component_domain) + 2;
    op->room_jid = malloc(n);
    op->nick = nick ? strdup(nick) : NULL;
    op->history = (hippo_room_history){.max_stanzas = -1, .max_chars = -1};
    if (!op->room_jid || (nick && !op->nick)) {
        hippo_room_op_free(op);
        return NULL;
    }
    snprintf(op->room_jid, n, "%s@%s", node, d->cfg.component_domain);
    return op;
}

void hippo_room_op_free(hippo_room_op *op)
{
    hippo_request_free(op ? &op->r : NULL);
}

void hippo_room_op_error(hippo_room_op *op, const char *type, const char *condition,
                         const char *text)
{
    hippo_request_error(&op->r, type, condition, text);
}

/* The database refused a statement (down, or overloaded): a wait error. */
static void refuse(hippo_room_op *op)
{
    hippo_request_refused(&op->r);
}

/* Keyed by the room (op->r.key): its statements run in order in one backend, so a room's
 * messages get their serials, and its joins and leaves take effect, in the order they
 * arrived. CB gets OP (the request is its first member). */
static int send_now(hippo_room_op *op, const char *stmt, int nparams, const char *const *params,
                    hippo_db_result_cb cb)
{
    return hippo_request_query(&op->r, stmt, nparams, params, cb);
}

static hippo_room_queue *queue_of(const hippo_room_op *op)
{
    hippo_rooms *rooms = op->r.d->rooms;
    return &rooms->queues[hippo_db_home(op->r.d->db, op->room_id) % rooms->n_queues];
}

/* Queues OP behind the batch in flight, unless that batch or the oldest op queued has waited
 * longer than [database] max_queue_ms: then the database is not keeping up, and OP gets the
 * wait error at once (as hippo_db_query_keyed() refuses when its oldest statement is that
 * old). */
static int enqueue(hippo_room_queue *q, hippo_room_op *op)
{
    uint64_t now = hippo_monotonic_usec();
    uint64_t max_wait = (uint64_t)op->r.d->cfg.database_max_queue_ms * 1000;
    uint64_t oldest = q->batch_in_flight ? q->batch_sent_usec : now;
    if (q->head && q->head->queued_usec < oldest)
        oldest = q->head->queued_usec;
    if (now - oldest > max_wait) {
        op->r.d->metrics.db_refused[HIPPO_DB_REFUSED_QUEUE_TIME]++;
        refuse(op);
        return -1;
    }
    op->queued_usec = now;
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    return 0;
}

static hippo_room_op *dequeue(hippo_room_queue *q)
{
    hippo_room_op *op = q->head;
    q->head = op->next;
    if (!q->head)
        q->tail = NULL;
    op->next = NULL;
    return op;
}

void hippo_room_op_hold(hippo_room_op *op)
{
    hippo_room_states_hold(op->r.d->rooms->states, op->room_id);
    op->held = true;
}

int hippo_room_op_query(hippo_room_op *op, const char *stmt, int nparams, const char *const *params,
                        hippo_db_result_cb cb)
{
    hippo_room_queue *q = queue_of(op);
    if (!q->head) /* nothing waits: after a batch in flight, the pipeline keeps the order */
        return send_now(op, stmt, nparams, params, cb);
    if (nparams > HIPPO_ROOM_OP_MAX_PARAMS)
        abort(); /* the rooms' own statements have at most that many: a broken invariant */
    op->stmt = stmt;
    op->cb = cb;
    for (; op->nparams < nparams; op->nparams++) {
        const char *p = params[op->nparams];
        op->params[op->nparams] = p ? strdup(p) : NULL;
        if (p && !op->params[op->nparams]) {
            hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
            return -1;
        }
    }
    return enqueue(q, op);
}

/* A batch of messages on the wire. */
struct batch {
    hippod *d;
    hippo_room_queue *queue;
    size_t n;
    hippo_room_op *ops[];
};

static void release(hippo_room_queue *q);

static void on_batch_stored(const PGresult *res, const char *error, void *arg)
{
    struct batch *b = arg;
    hippo_room_queue *q = b->queue;
    q->batch_in_flight = false;
    b->ops[0]->on_batch(b->ops, b->n, res, error);
    free(b);
    release(q);
}

/* What the room's state says of OP's sender now, and the room's mark (room_state.h). */
static void recall(hippo_room_op *op)
{
    hippo_room_states *states = op->r.d->rooms->states;
    op->marked = hippo_room_states_mark(states, op->room_id, &op->mark) == 0;
    hippo_room_state *s = hippo_room_states_get(states, op->room_id);
    op->sender = s ? hippo_room_state_find(s, op->r.from) : NULL;
    if (op->sender) {
        op->state = hippo_room_state_ref(s);
        op->r.d->metrics.room_known_messages++;
    }
}

#define BATCH_ARRAYS 5

/* The text[] literals of hippo.room_message_batch (rooms, senders, bodies, groupchat, known)
 * into LISTS, which the caller frees; false when out of memory (an entry may be NULL). */
static bool batch_arrays(const struct batch *b, char *lists[BATCH_ARRAYS])
{
    const char **items = malloc(BATCH_ARRAYS * b->n * sizeof *items);
    if (!items)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        const hippo_room_op *op = b->ops[i];
        items[i] = op->room_id;
        items[b->n + i] = op->r.from;
        items[2 * b->n + i] = op->body;
        items[3 * b->n + i] = op->groupchat ? "t" : "f";
        items[4 * b->n + i] = op->sender ? "t" : "f";
    }
    bool ok = true;
    for (int k = 0; k < BATCH_ARRAYS; k++)
        ok = (lists[k] = hippo_pg_text_array(items + (size_t)k * b->n, b->n)) != NULL && ok;
    free(items);
    return ok;
}

/* Sends batch B's statement; -1 when the database refused it or out of memory. */
static int query_batch(struct batch *b)
{
    const hippo_room_op *op = b->ops[0];
    if (b->n == 1 && op->sender) {
        /* One known message, the usual case at low load: a plain statement (rooms.c says
         * why) with the same result as the batch's. */
        const char *params[] = {op->room_id, op->r.from, op->body, op->groupchat ? "t" : "f"};
        return hippo_db_query_keyed(b->d->db, op->room_id, "room_message_known", 4, params,
                                    on_batch_stored, b);
    }
    char *lists[BATCH_ARRAYS] = {NULL};
    int rc = -1;
    if (batch_arrays(b, lists))
        rc = hippo_db_query_keyed(b->d->db, op->room_id, "room_message_batch", BATCH_ARRAYS,
                                  (const char *const *)lists, on_batch_stored, b);
    for (int k = 0; k < BATCH_ARRAYS; k++)
        free(lists[k]);
    return rc;
}

/* Sends batch B (freed here when refused, every message answered with the error). */
static int send_batch(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        recall(b->ops[i]);
    int rc = query_batch(b);
    if (rc == 0) {
        b->queue->batch_in_flight = true;
        b->queue->batch_sent_usec = hippo_monotonic_usec();
        b->d->metrics.room_batches++;
        b->d->metrics.room_batch_messages += b->n;
        return 0;
    }
    for (size_t i = 0; i < b->n; i++)
        refuse(b->ops[i]);
    free(b);
    return -1;
}

/* The messages at the head of Q, up to [rooms] batch_max, as a batch; NULL when out of
 * memory (they are answered). */
static struct batch *take_batch(hippod *d, hippo_room_queue *q)
{
    size_t n = 0;
    for (hippo_room_op *op = q->head; op && !op->stmt && n < (size_t)d->cfg.rooms_batch_max;
         op = op->next)
        n++;
    struct batch *b = malloc(sizeof *b + n * sizeof b->ops[0]);
    for (size_t i = 0; i < n; i++) {
        hippo_room_op *op = dequeue(q);
        if (b)
            b->ops[i] = op;
        else
            hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
    }
    if (b)
        *b = (struct batch){.d = d, .queue = q, .n = n};
    return b;
}

/* After a batch: sends what waited, in order, up to and including the next batch; the
 * statements after that batch go too (the pipeline keeps their order), the messages after
 * it wait for it. */
static void release(hippo_room_queue *q)
{
    while (q->head && (!q->batch_in_flight || q->head->stmt)) {
        hippo_room_op *head = q->head;
        if (head->stmt) {
            hippo_room_op *op = dequeue(q);
            send_now(op, op->stmt, op->nparams, (const char *const *)op->params, op->cb);
            continue;
        }
        struct batch *b = take_batch(head->r.d, q);
        if (b)
            send_batch(b);
    }
}

int hippo_room_op_message(hippo_room_op *op)
{
    hippo_room_queue *q = queue_of(op);
    if (q->batch_in_flight || q->head)
        return enqueue(q, op);
    struct batch *b = malloc(sizeof *b + sizeof b->ops[0]);
    if (!b) {
        hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
        return -1;
    }
    *b = (struct batch){.d = op->r.d, .queue = q, .n = 1};
    b->ops[0] = op;
    return send_batch(b);
}

bool hippo_room_op_failed(hippo_room_op *op, const PGresult *res, const char *error,
                          hippo_room_row *status)
{
    return hippo_room_op_failed_at(op, res, error, 0, status);
}

bool hippo_room_op_failed_at(hippo_room_op *op, const PGresult *res, const char *error, int first,
                             hippo_room_row *status)
{
    /* more columns: the music of the users (sql/016, room_music.h) */
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK &&
        PQnfields(res) >= first + HIPPO_ROOM_ROW_COLUMNS && PQntuples(res) > 0) {
        hippo_room_row_read_from(res, 0, first, status);
        if (status->status)
            return false;
        error = "no status row";
    }
    hippo_request_fail(&op->r, error);
    return true;
}

struct refusal {
    const char *status, *type, *condition, *text, *limit;
};

static const struct refusal refusals[] = {
    {"unknown-user", "auth", "registration-required", "this account is not a Mugshot user", NULL},
    {"unknown-room", "cancel", "item-not-found", "no such room", NULL},
    {"forbidden", "auth", "forbidden", "you may not enter this room", NULL},
    {"full", "wait", "resource-constraint", "the room is full", "occupants"},
    {"not-occupant", "modify", "not-acceptable", "join the room before sending to it", NULL},
};

bool hippo_room_op_refused(hippo_room_op *op, const hippo_room_row *status)
{
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        if (strcmp(status->status, r->status) != 0)
            continue;
        if (r->limit)
            hippo_room_limit_hit(op->r.d, op->room_id, op->r.from, r->limit);
        hippo_room_op_error(op, r->type, r->condition, r->text);
        return true;
    }
    return false;
}

static const char *text_at(const PGresult *res, int i, int col)
{
    return PQgetisnull(res, i, col) ? NULL : PQgetvalue(res, i, col);
}

static long long int_at(const PGresult *res, int i, int col)
{
    return PQgetisnull(res, i, col) ? -1 : strtoll(PQgetvalue(res, i, col), NULL, 10);
}

void hippo_room_row_read_from(const PGresult *res, int i, int first, hippo_room_row *row)
{
    const char *dialect = text_at(res, i, first + COL_DIALECT);
    *row = (hippo_room_row){
        .what = text_at(res, i, first + COL_WHAT),
        .status = text_at(res, i, first + COL_STATUS),
        .user = {.id = text_at(res, i, first + COL_USER_ID),
                 .name = text_at(res, i, first + COL_NAME),
                 .photo_version = (int)int_at(res, i, first + COL_PHOTO_VERSION),
                 .nick = text_at(res, i, first + COL_NICK)},
        .role = hippo_room_role_parse(text_at(res, i, first + COL_ROLE)),
        .old_role = hippo_room_role_parse(text_at(res, i, first + COL_OLD_ROLE)),
        .res_old_role = text_at(res, i, first + COL_RES_OLD_ROLE),
        .jid = text_at(res, i, first + COL_JID),
        .dialect =
            dialect && strcmp(dialect, "muc") == 0 ? HIPPO_DIALECT_MUC : HIPPO_DIALECT_CLASSIC,
        .serial = int_at(res, i, first + COL_SERIAL),
        .ts_ms = int_at(res, i, first + COL_TS_MS),
        .body = text_at(res, i, first + COL_BODY),
        .kind = text_at(res, i, first + COL_KIND),
        .title = text_at(res, i, first + COL_TITLE),
        .room_photo_version = (int)int_at(res, i, first + COL_ROOM_PHOTO_VERSION),
    };
    hippo_room_music_read(res, i, first + COL_COUNT, &row->user.music);
    if (!row->what)
        row->what = "";
}

void hippo_room_row_read(const PGresult *res, int i, hippo_room_row *row)
{
    hippo_room_row_read_from(res, i, 0, row);
}

void hippo_room_send_to(hippod *d, xmpp_stanza_t *stanza, const char *to)
{
    xmpp_stanza_set_to(stanza, to);
    hippo_send(d, stanza); /* serialised now: the next recipient may reuse it */
}

void hippo_room_send_new(hippod *d, xmpp_stanza_t *stanza)
{
    if (!stanza) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "rooms: out of memory building a stanza");
        return;
    }
    hippo_send(d, stanza);
    xmpp_stanza_release(stanza);
}

void hippo_room_limit_hit(hippod *d, const char *room_id, const char *from, const char *what)
{
    char label[48];
    snprintf(label, sizeof label, "room-limit-%s", what);
    hippo_metrics_count(&d->metrics.drops, label);
    hippo_log(&d->log, HIPPO_LOG_INFO, "room %s: %s refused: %s limit", room_id, from, what);
}
