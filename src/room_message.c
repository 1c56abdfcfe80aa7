/* room_message.c - chat messages: checked here (type, private messages, subject, body size,
 * the sender's rate), then stored in a batch by hippo.room_message_batch, which checks the
 * sender, stores the messages with their rooms' next serials and returns the present
 * resources. The echoes go out from the batch's callback only, so nobody sees a message that
 * is not committed; within a batch a room's messages have consecutive serials in arrival
 * order and go out in that order, and batches of one connection commit in order, so every
 * occupant gets a room's messages in serial order. */
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

/* A stored message: its op and its status row. */
struct stored {
    hippo_room_op *op; /* NULL once answered */
    hippo_room_row status;
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
                            .id = xmpp_stanza_get_id(m->op->req),
                            .origin_id = origin_id_of(m->op->req)};
}

/* Serialises M's echo in DIALECT once, for every recipient of that dialect; false when out
 * of memory (logged). */
static bool prepare_echo(struct stored *m, hippo_room_dialect dialect, hippo_send_many *out)
{
    hippo_room_msg msg = message_of(m);
    hippo_room_ref room = {.jid = m->op->room_jid, .kind = m->status.kind};
    xmpp_stanza_t *echo = build_echo(m->op, &room, dialect, &msg);
    int rc = echo ? hippo_send_many_init(m->op->d, out, echo) : -1;
    if (echo)
        xmpp_stanza_release(echo);
    if (rc < 0)
        hippo_log(&m->op->d->log, HIPPO_LOG_ERR, "rooms: out of memory building an echo");
    return rc == 0;
}

/* Sends message M to every 'to' row in [FROM, TO) of RES, serialised once per dialect. */
static void broadcast(struct stored *m, const PGresult *res, int from, int to)
{
    hippo_send_many echo[2] = {{0}, {0}};
    bool tried[2] = {false, false};
    for (int i = from; i < to; i++) {
        hippo_room_row row;
        hippo_room_row_read_from(res, i, 1, &row);
        if (!tried[row.dialect]) {
            tried[row.dialect] = true;
            prepare_echo(m, row.dialect, &echo[row.dialect]);
        }
        if (echo[row.dialect].text)
            hippo_send_many_to(m->op->d, &echo[row.dialect], row.jid);
        m->sender_got_it = m->sender_got_it || strcmp(row.jid, m->op->from) == 0;
    }
    for (int i = 0; i < 2; i++)
        hippo_send_many_free(m->op->d, &echo[i]);
}

/* A classic sender need not be in the room; it still learns its serial. */
static void echo_to_sender(struct stored *m)
{
    hippo_room_msg msg = message_of(m);
    hippo_room_ref room = {.jid = m->op->room_jid, .kind = m->status.kind};
    xmpp_stanza_t *echo = build_echo(m->op, &room, m->op->dialect, &msg);
    if (echo)
        xmpp_stanza_set_to(echo, m->op->from);
    hippo_room_send_new(m->op->d, echo);
}

static int index_at(const PGresult *res, int row)
{
    return atoi(PQgetvalue(res, row, 0)) - 1;
}

/* The result's shape: the index column and hippo.room_row, then one status row per message,
 * in order. */
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
    hippod *d = ops[0]->d;
    hippo_log(&d->log, HIPPO_LOG_WARNING, "rooms: a batch of %zu messages failed: %s", n,
              error ? error : "unexpected result shape");
    for (size_t i = 0; i < n; i++)
        hippo_room_op_error(ops[i], "wait", "internal-server-error",
                            "database unavailable, try again later");
}

/* The 'to' rows after the status rows come per room, marked with the room's first stored
 * message: every stored message of that room goes to them, in order. */
static void deliver(struct stored *msgs, size_t n, const PGresult *res)
{
    int rows = PQntuples(res);
    for (int start = (int)n, end; start < rows; start = end) {
        int first = index_at(res, start);
        for (end = start; end < rows && index_at(res, end) == first;)
            end++;
        const char *room_id = msgs[first].op->room_id;
        for (size_t i = (size_t)first; i < n; i++)
            if (msgs[i].op && strcmp(msgs[i].op->room_id, room_id) == 0)
                broadcast(&msgs[i], res, start, end);
    }
}

static void on_batch(hippo_room_op **ops, size_t n, const PGresult *res, const char *error)
{
    struct stored *msgs = batch_result_ok(res, n) ? calloc(n, sizeof *msgs) : NULL;
    if (!msgs) {
        fail_batch(ops, n, res && !error ? "out of memory or unexpected result shape" : error);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        hippo_room_row_read_from(res, (int)i, 1, &msgs[i].status);
        msgs[i].op = hippo_room_op_refused(ops[i], &msgs[i].status) ? NULL : ops[i];
        if (msgs[i].op && strcmp(msgs[i].status.status, "ok") != 0) {
            hippo_log(&ops[i]->d->log, HIPPO_LOG_WARNING, "room %s: unexpected status %s",
                      ops[i]->room_id, msgs[i].status.status);
            hippo_room_op_error(ops[i], "wait", "internal-server-error", "unexpected status");
            msgs[i].op = NULL;
        }
    }
    deliver(msgs, n, res);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].op)
            continue;
        if (!msgs[i].sender_got_it)
            echo_to_sender(&msgs[i]);
        hippo_room_op_free(msgs[i].op);
    }
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
