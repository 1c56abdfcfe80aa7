/* room_message.c - chat messages: checked here (type, private messages, subject, body size,
 * the sender's rate), then stored in a batch by hippo.room_message_batch, which checks the
 * sender (only that it is still present when hippod remembers it in the room: room_state.h),
 * stores the messages with their rooms' next serials and returns the present resources of
 * the rooms hippod does not remember. The echoes go out from the batch's callback only, so nobody
 * sees a message that is not committed; within a batch a room's messages have consecutive serials
 * in arrival order and go out in that order, and batches of one connection commit in order, so
 * every occupant gets a room's messages in serial order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "room_handlers.h"
#include "room_stanzas.h"
#include "send.h"
#include "sdnotify.h"
#include "xmpp_link.h"

/* The body text of STANZA (freed with xmpp_free), or NULL when there is none. */
static char *body_of(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(stanza, "body");
    return body ? xmpp_stanza_get_text(body) : NULL;
}

static xmpp_stanza_t *build_echo(hippo_room_op *op, const hippo_room_ref *room,
                                 hippo_room_dialect dialect, const hippo_room_msg *msg)
{
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    return dialect == HIPPO_DIALECT_MUC ? hippo_room_muc_message(ctx, room, NULL, msg, false)
                                        : hippo_room_classic_message(ctx, room, NULL, msg, false);
}

/* A stored message: its op, its status row and the resources it goes to. */
struct stored {
    hippo_room_op *op; /* NULL once answered */
    hippo_room_row status;
    const hippo_room_state *to; /* borrowed from the op or from the batch's learnt states */
    bool sender_got_it;
};

/* The id of the sender's XEP-0359 origin-id, or NULL. */
static const char *origin_id_of(xmpp_stanza_t *req)
{
    xmpp_stanza_t *oid = xmpp_stanza_get_child_by_name_and_ns(req, "origin-id", HIPPO_NS_SID);
    return oid ? xmpp_stanza_get_attribute(oid, "id") : NULL;
}

static hippo_room_msg message_of(const struct stored *m)
{
    return (hippo_room_msg){.sender = m->status.user,
                            .body = m->op->body,
                            .serial = m->status.serial,
                            .ts_ms = m->status.ts_ms,
                            .id = xmpp_stanza_get_id(m->op->r.stanza),
                            .origin_id = origin_id_of(m->op->r.stanza)};
}

/* Serialises M's echo in DIALECT once, for every recipient of that dialect; false when out
 * of memory (logged). */
static bool prepare_echo(struct stored *m, hippo_room_dialect dialect, hippo_send_many *out)
{
    hippo_room_msg msg = message_of(m);
    hippo_room_ref room = {.jid = m->op->room_jid, .kind = m->status.kind};
    xmpp_stanza_t *echo = build_echo(m->op, &room, dialect, &msg);
    int rc = echo ? hippo_send_many_init(m->op->r.d, out, echo) : -1;
    if (echo)
        xmpp_stanza_release(echo);
    if (rc < 0)
        hippo_log(&m->op->r.d->log, HIPPO_LOG_ERR, "rooms: out of memory building an echo");
    return rc == 0;
}

/* Sends message M to every resource of its room, serialised once per dialect. */
static void broadcast(struct stored *m)
{
    hippo_send_many echo[2] = {{0}, {0}};
    bool tried[2] = {false, false};
    for (size_t i = 0; m->to && i < m->to->n; i++) {
        const hippo_room_occupant *o = &m->to->occupants[i];
        if (!tried[o->dialect]) {
            tried[o->dialect] = true;
            prepare_echo(m, o->dialect, &echo[o->dialect]);
        }
        if (echo[o->dialect].text)
            hippo_send_many_to(m->op->r.d, &echo[o->dialect], o->jid);
        m->sender_got_it = m->sender_got_it || strcmp(o->jid, m->op->r.from) == 0;
    }
    for (int i = 0; i < 2; i++)
        hippo_send_many_free(m->op->r.d, &echo[i]);
}

/* A classic sender need not be in the room; it still learns its serial. */
static void echo_to_sender(struct stored *m)
{
    hippo_room_msg msg = message_of(m);
    hippo_room_ref room = {.jid = m->op->room_jid, .kind = m->status.kind};
    xmpp_stanza_t *echo = build_echo(m->op, &room, m->op->dialect, &msg);
    if (echo)
        xmpp_stanza_set_to(echo, m->op->r.from);
    hippo_room_send_new(m->op->r.d, echo);
}

static int index_at(const PGresult *res, int row)
{
    return atoi(PQgetvalue(res, row, 0)) - 1;
}

/* The result's shape: the index column and hippo.room_row, then one status row per message,
 * in order, then rooms' rows marked with a message of the batch. */
static bool batch_result_ok(const PGresult *res, size_t n)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
        PQnfields(res) != 1 + HIPPO_ROOM_ROW_COLUMNS || (size_t)PQntuples(res) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (index_at(res, (int)i) != (int)i || PQgetisnull(res, (int)i, 2))
            return false;
    for (int r = (int)n; r < PQntuples(res); r++)
        if (index_at(res, r) < 0 || (size_t)index_at(res, r) >= n)
            return false;
    return true;
}

static void fail_batch(hippo_room_op **ops, size_t n, const char *error)
{
    hippod *d = ops[0]->r.d;
    hippo_log(&d->log, HIPPO_LOG_WARNING, "rooms: a batch of %zu messages failed: %s", n,
              error ? error : "unexpected result shape");
    for (size_t i = 0; i < n; i++)
        hippo_room_op_error(ops[i], "wait", "internal-server-error",
                            "database unavailable, try again later");
}

/* The state in rows [START, END) of RES: a 'room' row, then its 'to' rows; NULL when out of
 * memory (logged). The caller unrefs it. */
static hippo_room_state *state_of(hippod *d, const PGresult *res, int start, int end)
{
    hippo_room_row row;
    hippo_room_row_read_from(res, start, 1, &row);
    hippo_room_state *s = hippo_room_state_new(row.kind);
    for (int i = start + 1; s && i < end; i++) {
        hippo_room_row_read_from(res, i, 1, &row);
        if (row.jid && hippo_room_state_add(s, row.jid, row.dialect, row.user.id, row.user.name,
                                            row.user.photo_version, row.user.nick) < 0) {
            hippo_room_state_unref(s);
            s = NULL;
        }
    }
    if (!s)
        hippo_log(&d->log, HIPPO_LOG_ERR, "rooms: out of memory reading a room's occupants");
    return s;
}

/* The rooms the batch answered with their resources (senders that were not known): their
 * stored messages go to them, and hippod remembers them unless the room was forgotten since
 * the batch was sent. LEARNT gets a reference per room, unref'd by the caller. */
static size_t learn(struct stored *msgs, size_t n, const PGresult *res, hippo_room_state **learnt)
{
    size_t count = 0;
    int rows = PQntuples(res);
    for (int start = (int)n, end; start < rows; start = end) {
        int first = index_at(res, start);
        for (end = start; end < rows && index_at(res, end) == first;)
            end++;
        hippo_room_op *op = msgs[first].op;
        if (!op || strcmp(PQgetvalue(res, start, 1), "room") != 0)
            continue;
        hippo_room_state *s = state_of(op->r.d, res, start, end);
        if (!s)
            continue;
        learnt[count++] = s;
        if (op->marked)
            hippo_room_states_remember(op->r.d->rooms->states, op->room_id, op->mark, s);
        for (size_t i = (size_t)first; i < n; i++)
            if (msgs[i].op && strcmp(msgs[i].op->room_id, op->room_id) == 0)
                msgs[i].to = s;
    }
    return count;
}

/* Reads message I's status row: a known sender's user is the one in the room's state. */
static void read_status(struct stored *m, hippo_room_op *op, const PGresult *res, int i)
{
    hippo_room_row_read_from(res, i, 1, &m->status);
    m->op = hippo_room_op_refused(op, &m->status) ? NULL : op;
    if (!m->op)
        return;
    if (strcmp(m->status.status, "ok") != 0) {
        hippo_log(&op->r.d->log, HIPPO_LOG_WARNING, "room %s: unexpected status %s", op->room_id,
                  m->status.status);
        hippo_room_op_error(op, "wait", "internal-server-error", "unexpected status");
        m->op = NULL;
    } else if (strcmp(m->status.what, "known") == 0 && op->sender) {
        m->status.user = op->sender->user;
        m->to = op->state;
    }
}

static void on_batch(hippo_room_op **ops, size_t n, const PGresult *res, const char *error)
{
    struct stored *msgs = batch_result_ok(res, n) ? calloc(n, sizeof *msgs) : NULL;
    hippo_room_state **learnt = msgs ? calloc(n, sizeof *learnt) : NULL;
    if (!learnt) {
        free(msgs);
        fail_batch(ops, n, res && !error ? "out of memory or unexpected result shape" : error);
        return;
    }
    for (size_t i = 0; i < n; i++)
        read_status(&msgs[i], ops[i], res, (int)i);
    size_t n_learnt = learn(msgs, n, res, learnt);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].op)
            continue;
        broadcast(&msgs[i]);
        if (!msgs[i].sender_got_it)
            echo_to_sender(&msgs[i]);
        hippo_room_op_free(msgs[i].op);
    }
    for (size_t i = 0; i < n_learnt; i++)
        hippo_room_state_unref(learnt[i]);
    free(learnt);
    free(msgs);
}

/* The checks that need no database; returns false when STANZA was answered or dropped. */
static bool acceptable(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick,
                       const char *body)
{
    const char *type = xmpp_stanza_get_type(stanza);
    const char *from = xmpp_stanza_get_from(stanza);
    if (nick) {
        hippo_send_error(d, stanza, "cancel", "not-allowed",
                         "private messages are not supported in this room");
        return false;
    }
    if (type && strcmp(type, "groupchat") != 0 && strcmp(type, "normal") != 0) {
        hippo_send_error(d, stanza, "modify", "bad-request",
                         "room messages are groupchat or have no type");
        return false;
    }
    if (xmpp_stanza_get_child_by_name(stanza, "subject")) {
        hippo_send_error(d, stanza, "auth", "forbidden",
                         "the subject is the post's title or the group's name");
        return false;
    }
    if (!body || !*body) {
        hippo_send_drop(d, stanza, "room-message-without-body"); /* e.g. chat states */
        return false;
    }
    if (strlen(body) > d->cfg.rooms_max_body_bytes) {
        hippo_room_limit_hit(d, room_id, from, "body");
        char text[96];
        snprintf(text, sizeof text, "the message body is larger than %zu bytes",
                 d->cfg.rooms_max_body_bytes);
        hippo_send_error(d, stanza, "modify", "not-acceptable", text);
        return false;
    }
    double now_s = (double)hippo_monotonic_usec() / 1e6;
    if (!hippo_rate_limit_take(d->rooms->rate, from, d->cfg.rooms_messages_per_second,
                               d->cfg.rooms_message_burst, now_s)) {
        hippo_room_limit_hit(d, room_id, from, "rate");
        hippo_send_error(d, stanza, "wait", "policy-violation", "too many messages, slow down");
        return false;
    }
    return true;
}

static void store(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *body)
{
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, NULL);
    if (op)
        op->body = strdup(body);
    if (!op || !op->body) {
        hippo_room_op_free(op);
        hippo_send_error(d, stanza, "wait", "resource-constraint", "out of memory");
        return;
    }
    const char *type = xmpp_stanza_get_type(stanza);
    op->groupchat = type && strcmp(type, "groupchat") == 0;
    op->dialect = op->groupchat ? HIPPO_DIALECT_MUC : HIPPO_DIALECT_CLASSIC;
    op->on_batch = on_batch;
    hippo_room_op_message(op);
}

void hippo_room_message(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick)
{
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    char *body = body_of(stanza);
    if (acceptable(d, stanza, room_id, nick, body))
        store(d, stanza, room_id, body);
    xmpp_free(ctx, body);
}
