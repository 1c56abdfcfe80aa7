/* room_op.c - the life of one room request: copy, database statement, rows, errors. */
#include "room_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
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
    return hippo_link_ctx(op->d->link);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

hippo_room_op *hippo_room_op_new(hippod *d, xmpp_stanza_t *stanza, const char *room_id,
                                 const char *nick)
{
    hippo_room_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->d = d;
    snprintf(op->room_id, sizeof op->room_id, "%s", room_id);
    char node[HIPPO_GUID_NODE_MAX + 1];
    hippo_guid_to_node(room_id, node);
    size_t n = strlen(node) + strlen(d->cfg.component_domain) + 2;
    op->room_jid = malloc(n);
    op->req = xmpp_stanza_copy(stanza);
    op->from = dup_or_null(xmpp_stanza_get_from(stanza));
    op->nick = dup_or_null(nick);
    op->history = (hippo_room_history){.max_stanzas = -1, .max_chars = -1};
    if (!op->room_jid || !op->req || !op->from || (nick && !op->nick)) {
        hippo_room_op_free(op);
        return NULL;
    }
    snprintf(op->room_jid, n, "%s@%s", node, d->cfg.component_domain);
    return op;
}

void hippo_room_op_free(hippo_room_op *op)
{
    if (!op)
        return;
    if (op->req)
        xmpp_stanza_release(op->req);
    free(op->room_jid);
    free(op->from);
    free(op->nick);
    free(op->title);
    free(op);
}

void hippo_room_op_error(hippo_room_op *op, const char *type, const char *condition,
                         const char *text)
{
    hippod *d = op->d;
    if (op->silent) {
        hippo_log(&d->log, HIPPO_LOG_INFO, "room %s: %s for %s (not answered): %s", op->room_id,
                  condition, op->from, text ? text : "");
        hippo_room_op_free(op);
        return;
    }
    xmpp_stanza_t *reply =
        hippo_stanza_error(hippo_room_op_ctx(op), op->req, type, condition, text);
    if (reply && strcmp(xmpp_stanza_get_name(reply), "presence") == 0 &&
        !hippo_stanza_add_element(reply, "x", HIPPO_NS_MUC)) {
        xmpp_stanza_release(reply);
        reply = NULL;
    }
    if (reply) {
        hippo_metrics_count(&d->metrics.errors, condition);
        hippo_router_send(d, reply);
        xmpp_stanza_release(reply);
    } else {
        hippo_log(&d->log, HIPPO_LOG_ERR, "out of memory building a %s error", condition);
    }
    hippo_room_op_free(op);
}

/* Keyed by the room: its statements run in order in one backend, so a room's messages get
 * their serials, and its joins and leaves take effect, in the order they arrived. */
int hippo_room_op_query(hippo_room_op *op, const char *stmt, int nparams, const char *const *params,
                        hippo_db_result_cb cb)
{
    if (hippo_db_query_keyed(op->d->db, op->room_id, stmt, nparams, params, cb, op) == 0)
        return 0;
    const char *condition, *text;
    hippo_router_db_refusal(op->d, &condition, &text);
    hippo_room_op_error(op, "wait", condition, text);
    return -1;
}

bool hippo_room_op_failed(hippo_room_op *op, const PGresult *res, const char *error,
                          hippo_room_row *status)
{
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) == HIPPO_ROOM_ROW_COLUMNS &&
        PQntuples(res) > 0) {
        hippo_room_row_read(res, 0, status);
        if (status->status)
            return false;
        error = "no status row";
    }
    hippo_log(&op->d->log, HIPPO_LOG_WARNING, "room %s: request from %s failed: %s", op->room_id,
              op->from, error ? error : "unexpected result shape");
    hippo_room_op_error(op, "wait", "internal-server-error",
                        "database unavailable, try again later");
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
    {"rate", "wait", "policy-violation", "too many messages, slow down", "rate"},
    {"not-occupant", "modify", "not-acceptable", "join the room before sending to it", NULL},
};

bool hippo_room_op_refused(hippo_room_op *op, const hippo_room_row *status)
{
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        if (strcmp(status->status, r->status) != 0)
            continue;
        if (r->limit)
            hippo_room_limit_hit(op->d, op->room_id, op->from, r->limit);
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

void hippo_room_row_read(const PGresult *res, int i, hippo_room_row *row)
{
    const char *dialect = text_at(res, i, COL_DIALECT);
    *row = (hippo_room_row){
        .what = text_at(res, i, COL_WHAT),
        .status = text_at(res, i, COL_STATUS),
        .user = {.id = text_at(res, i, COL_USER_ID),
                 .name = text_at(res, i, COL_NAME),
                 .photo_version = (int)int_at(res, i, COL_PHOTO_VERSION),
                 .nick = text_at(res, i, COL_NICK)},
        .role = hippo_room_role_parse(text_at(res, i, COL_ROLE)),
        .old_role = hippo_room_role_parse(text_at(res, i, COL_OLD_ROLE)),
        .res_old_role = text_at(res, i, COL_RES_OLD_ROLE),
        .jid = text_at(res, i, COL_JID),
        .dialect =
            dialect && strcmp(dialect, "muc") == 0 ? HIPPO_DIALECT_MUC : HIPPO_DIALECT_CLASSIC,
        .serial = int_at(res, i, COL_SERIAL),
        .ts_ms = int_at(res, i, COL_TS_MS),
        .body = text_at(res, i, COL_BODY),
        .kind = text_at(res, i, COL_KIND),
        .title = text_at(res, i, COL_TITLE),
        .room_photo_version = (int)int_at(res, i, COL_ROOM_PHOTO_VERSION),
    };
    if (!row->what)
        row->what = "";
}

void hippo_room_send_to(hippod *d, xmpp_stanza_t *stanza, const char *to)
{
    xmpp_stanza_set_to(stanza, to);
    hippo_router_send(d, stanza); /* serialised now: the next recipient may reuse it */
}

void hippo_room_send_new(hippod *d, xmpp_stanza_t *stanza)
{
    if (!stanza) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "rooms: out of memory building a stanza");
        return;
    }
    hippo_router_send(d, stanza);
    xmpp_stanza_release(stanza);
}

void hippo_room_limit_hit(hippod *d, const char *room_id, const char *from, const char *what)
{
    char label[48];
    snprintf(label, sizeof label, "room-limit-%s", what);
    hippo_metrics_count(&d->metrics.drops, label);
    hippo_log(&d->log, HIPPO_LOG_INFO, "room %s: %s refused: %s limit", room_id, from, what);
}
