/* room_message.c - chat messages: checked here (type, private messages, subject, body size),
 * then hippo.room_message checks the sender and the rate, stores the message with the room's
 * next serial and returns the present resources. The echo goes out from that callback only,
 * so nobody sees a message that is not committed, and since results come back in the order
 * the statements were sent, every occupant gets a room's messages in serial order. */
#include <stdio.h>
#include <string.h>

#include "room_handlers.h"
#include "room_stanzas.h"
#include "router.h"
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

/* Sends MSG to every 'to' row of RES, one stanza per dialect; returns true when the sender's
 * own resource was among them. */
static bool broadcast(hippo_room_op *op, const hippo_room_ref *room, const PGresult *res,
                      const hippo_room_msg *msg)
{
    xmpp_stanza_t *echo[2] = {NULL, NULL};
    bool sender_present = false;
    for (int i = 1; i < PQntuples(res); i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        if (strcmp(row.what, "to") != 0)
            continue;
        if (!echo[row.dialect])
            echo[row.dialect] = build_echo(op, room, row.dialect, msg);
        if (echo[row.dialect])
            hippo_room_send_to(op->d, echo[row.dialect], row.jid);
        sender_present = sender_present || strcmp(row.jid, op->from) == 0;
    }
    for (int i = 0; i < 2; i++)
        if (echo[i])
            xmpp_stanza_release(echo[i]);
    return sender_present;
}

static void on_stored(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status) || hippo_room_op_refused(op, &status))
        return;
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    char *body = body_of(op->req);
    hippo_room_msg msg = {.sender = status.user,
                          .body = body ? body : "",
                          .serial = status.serial,
                          .ts_ms = status.ts_ms,
                          .id = xmpp_stanza_get_id(op->req)};
    hippo_room_ref room = {.jid = op->room_jid, .kind = status.kind};
    /* A classic sender need not be in the room; it still learns its serial. */
    if (!broadcast(op, &room, res, &msg)) {
        xmpp_stanza_t *echo = build_echo(op, &room, op->dialect, &msg);
        if (echo)
            xmpp_stanza_set_to(echo, op->from);
        hippo_room_send_new(op->d, echo);
    }
    xmpp_free(ctx, body);
    hippo_room_op_free(op);
}

/* The checks that need no database; returns false when STANZA was answered or dropped. */
static bool acceptable(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick,
                       const char *body)
{
    const char *type = xmpp_stanza_get_type(stanza);
    if (nick) {
        hippo_router_reply_error(d, stanza, "cancel", "not-allowed",
                                 "private messages are not supported in this room");
        return false;
    }
    if (type && strcmp(type, "groupchat") != 0 && strcmp(type, "normal") != 0) {
        hippo_router_reply_error(d, stanza, "modify", "bad-request",
                                 "room messages are groupchat or have no type");
        return false;
    }
    if (xmpp_stanza_get_child_by_name(stanza, "subject")) {
        hippo_router_reply_error(d, stanza, "auth", "forbidden",
                                 "the subject is the post's title or the group's name");
        return false;
    }
    if (!body || !*body) {
        hippo_router_drop(d, stanza, "room-message-without-body"); /* e.g. chat states */
        return false;
    }
    if (strlen(body) > d->cfg.rooms_max_body_bytes) {
        hippo_room_limit_hit(d, room_id, xmpp_stanza_get_from(stanza), "body");
        char text[96];
        snprintf(text, sizeof text, "the message body is larger than %zu bytes",
                 d->cfg.rooms_max_body_bytes);
        hippo_router_reply_error(d, stanza, "modify", "not-acceptable", text);
        return false;
    }
    return true;
}

static void store(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *body)
{
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, NULL);
    if (!op) {
        hippo_router_reply_error(d, stanza, "wait", "resource-constraint", "out of memory");
        return;
    }
    const char *type = xmpp_stanza_get_type(stanza);
    bool groupchat = type && strcmp(type, "groupchat") == 0;
    op->dialect = groupchat ? HIPPO_DIALECT_MUC : HIPPO_DIALECT_CLASSIC;
    char rate[32], burst[16];
    snprintf(rate, sizeof rate, "%.17g", d->cfg.rooms_messages_per_second);
    snprintf(burst, sizeof burst, "%d", d->cfg.rooms_message_burst);
    const char *params[] = {op->room_id, op->from, body, rate, burst, groupchat ? "t" : "f"};
    hippo_room_op_query(op, "room_message", 6, params, on_stored);
}

void hippo_room_message(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick)
{
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    char *body = body_of(stanza);
    if (acceptable(d, stanza, room_id, nick, body))
        store(d, stanza, room_id, body);
    xmpp_free(ctx, body);
}
