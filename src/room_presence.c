/* room_presence.c - joining, changing role and leaving, in both dialects, and the removal of
 * occupants whose stanzas bounce.
 *
 * One statement (hippo.room_join / hippo.room_leave) records the change and returns what to
 * send: the other resources when the user's aggregate role changed, and for a new (or
 * rejoining) resource the other members and the backlog. Presence is broadcast only when the
 * aggregate role changes (first resource, participant <-> visitor, last resource gone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "room_handlers.h"
#include "room_stanzas.h"
#include "send.h"
#include "stanza.h"

#define MUC_HISTORY_OVERHEAD 400 /* bytes of a backlog stanza besides its body */

static const char *const kickable_conditions[] = {
    "gone",
    "item-not-found",
    "recipient-unavailable",
    "redirect",
    "remote-server-not-found",
    "remote-server-timeout",
    "service-unavailable",
};

/* ---- sending the presence of one user */

/* USER's aggregate ROLE, for the resource TO in DIALECT. OLD_ROLE: the classic oldRole (NULL
 * for the member list). SELF: TO belongs to USER. */
static void send_user_presence(hippo_room_op *op, const hippo_room_ref *room, const char *to,
                               hippo_room_dialect dialect, const hippo_room_user *user,
                               hippo_room_role role, const hippo_room_role *old_role,
                               hippo_muc_flags flags)
{
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    hippo_room_send_new(op->r.d,
                        dialect == HIPPO_DIALECT_MUC
                            ? hippo_room_muc_presence(ctx, room, to, user, role, flags)
                            : hippo_room_classic_presence(ctx, room, to, user, role, old_role));
}

/* The change of STATUS's user to every 'to' row of RES. */
static void broadcast_change(hippo_room_op *op, const hippo_room_ref *room, const PGresult *res,
                             const hippo_room_row *status)
{
    for (int i = 1; i < PQntuples(res); i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        if (strcmp(row.what, "to") != 0)
            continue;
        hippo_muc_flags flags = {.self = strcmp(row.user.id, status->user.id) == 0};
        send_user_presence(op, room, row.jid, row.dialect, &status->user, status->role,
                           &status->old_role, flags);
    }
}

/* ---- what a new occupant resource gets: members, (self), backlog, (subject) */

static void send_backlog_row(hippo_room_op *op, const hippo_room_ref *room,
                             const hippo_room_row *row)
{
    hippo_room_msg msg = {
        .sender = row->user, .body = row->body, .serial = row->serial, .ts_ms = row->ts_ms};
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    hippo_room_send_new(op->r.d,
                        op->dialect == HIPPO_DIALECT_MUC
                            ? hippo_room_muc_message(ctx, room, op->r.from, &msg, true)
                            : hippo_room_classic_message(ctx, room, op->r.from, &msg, true));
}

/* The backlog rows of RES (oldest first), without the oldest ones a maxchars request cuts. */
static void send_backlog(hippo_room_op *op, const hippo_room_ref *room, const PGresult *res)
{
    int n = PQntuples(res), first = n, count = 0;
    size_t *sizes = op->history.max_chars >= 0 ? malloc((size_t)n * sizeof *sizes) : NULL;
    if (op->history.max_chars >= 0 && !sizes) { /* the client's limit cannot be kept */
        hippo_log(&op->r.d->log, HIPPO_LOG_ERR, "room %s: out of memory: no backlog sent",
                  op->room_id);
        return;
    }
    for (int i = 1; i < n; i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        if (strcmp(row.what, "history") != 0)
            continue;
        if (first == n)
            first = i;
        if (sizes)
            sizes[count] = strlen(row.body) + MUC_HISTORY_OVERHEAD;
        count++;
    }
    int skip = sizes ? hippo_room_history_skip(sizes, count, op->history.max_chars) : 0;
    free(sizes);
    for (int i = first + skip; i < first + count; i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        send_backlog_row(op, room, &row);
    }
}

static void send_state(hippo_room_op *op, const hippo_room_ref *room, const PGresult *res,
                       const hippo_room_row *status)
{
    for (int i = 1; i < PQntuples(res); i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        if (strcmp(row.what, "member") == 0)
            send_user_presence(op, room, op->r.from, op->dialect, &row.user, row.role, NULL,
                               (hippo_muc_flags){0});
    }
    bool muc = op->dialect == HIPPO_DIALECT_MUC;
    if (muc) {
        hippo_muc_flags self = {.self = true,
                                .nick_assigned = op->nick && strcmp(op->nick, status->user.nick)};
        send_user_presence(op, room, op->r.from, op->dialect, &status->user, status->role, NULL,
                           self);
    }
    send_backlog(op, room, res);
    if (muc)
        hippo_room_send_new(op->r.d, hippo_room_muc_subject(hippo_room_op_ctx(op), room, op->r.from,
                                                            status->title ? status->title : ""));
}

/* ---- join */

static void on_joined(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status) || hippo_room_op_refused(op, &status))
        return;
    bool updated = strcmp(status.status, "updated") == 0; /* was present, same dialect */
    if (op->nick_change && updated && strcmp(op->nick, status.user.nick) != 0) {
        hippo_room_op_error(op, "cancel", "not-acceptable",
                            "nick changes are not supported: the nick is your name");
        return;
    }
    hippo_room_ref room = {.jid = op->room_jid, .kind = status.kind};
    if (status.role != status.old_role)
        broadcast_change(op, &room, res, &status);
    if (strcmp(status.status, "joined") == 0)
        send_state(op, &room, res, &status);
    hippo_room_op_free(op);
}

/* Classic role: the first <userInfo role/> in the join's <x muc>; participant unless it
 * says otherwise (missing element or attribute: participant). A presence without <x muc>
 * is an update that keeps the role (NULL). */
static const char *classic_role(xmpp_stanza_t *x)
{
    if (!x)
        return NULL;
    xmpp_stanza_t *info = xmpp_stanza_get_child_by_name_and_ns(x, "userInfo", HIPPO_NS_ROOMS);
    const char *role = info ? xmpp_stanza_get_attribute(info, "role") : NULL;
    return !role || strcmp(role, "participant") == 0 ? "participant" : "visitor";
}

static long long now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void hippo_room_join(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick)
{
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, nick);
    if (!op) {
        hippo_send_error(d, stanza, "wait", "resource-constraint", "out of memory");
        return;
    }
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(stanza, "x", HIPPO_NS_MUC);
    const char *role = "participant";
    if (nick) {
        op->dialect = HIPPO_DIALECT_MUC;
        op->nick_change = !x;
        xmpp_stanza_t *h = x ? xmpp_stanza_get_child_by_name(x, "history") : NULL;
        hippo_room_history_request(h, d->cfg.rooms_max_history, now_usec(), &op->history);
    } else {
        op->dialect = HIPPO_DIALECT_CLASSIC;
        role = classic_role(x);
        hippo_room_history_request(NULL, d->cfg.rooms_max_history, 0, &op->history);
    }
    char max_users[16], history_max[16];
    snprintf(max_users, sizeof max_users, "%d", d->cfg.rooms_max_occupants);
    snprintf(history_max, sizeof history_max, "%d", op->history.max_stanzas);
    const char *params[] = {op->room_id,   op->r.from,
                            role,          op->dialect == HIPPO_DIALECT_MUC ? "muc" : "classic",
                            x ? "t" : "f", max_users,
                            history_max,   op->history.since[0] ? op->history.since : NULL};
    hippo_room_op_hold(op);
    hippo_room_op_query(op, "room_join", 8, params, on_joined);
}

/* ---- leave, disconnect, bounce */

static void on_left(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status))
        return;
    if (strcmp(status.status, "left") == 0) {
        hippo_room_ref room = {.jid = op->room_jid, .kind = status.kind};
        if (status.role != status.old_role)
            broadcast_change(op, &room, res, &status);
        if (op->notify_leaver && status.dialect == HIPPO_DIALECT_MUC)
            send_user_presence(op, &room, op->r.from, HIPPO_DIALECT_MUC, &status.user,
                               HIPPO_ROLE_NONMEMBER, NULL, (hippo_muc_flags){.self = true});
        hippo_log(&op->r.d->log, HIPPO_LOG_DEBUG, "room %s: %s left", op->room_id, op->r.from);
    }
    hippo_room_op_free(op);
}

static void leave(hippod *d, xmpp_stanza_t *stanza, const char *room_id, bool explicit_leave)
{
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, NULL);
    if (!op) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "room %s: out of memory handling a leave", room_id);
        return;
    }
    op->r.silent = true; /* nobody waits for an answer to a leave */
    op->notify_leaver = explicit_leave;
    const char *params[] = {op->room_id, op->r.from};
    hippo_room_op_hold(op);
    hippo_room_op_query(op, "room_leave", 2, params, on_left);
}

void hippo_room_leave(hippod *d, xmpp_stanza_t *stanza, const char *room_id)
{
    leave(d, stanza, room_id, true);
}

/* The defined condition of an error stanza, or NULL. */
static const char *error_condition(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(stanza, "error");
    for (xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);
        const char *name = xmpp_stanza_get_name(c);
        if (xmpp_stanza_is_tag(c) && ns && strcmp(ns, HIPPO_NS_STANZAS) == 0 &&
            strcmp(name, "text") != 0)
            return name;
    }
    return NULL;
}

void hippo_room_bounce(hippod *d, xmpp_stanza_t *stanza, const char *room_id)
{
    const char *condition = error_condition(stanza);
    const char *from = xmpp_stanza_get_from(stanza);
    bool kickable = false;
    for (size_t i = 0; condition && i < sizeof kickable_conditions / sizeof *kickable_conditions;
         i++)
        kickable = kickable || strcmp(condition, kickable_conditions[i]) == 0;
    if (!kickable || !strchr(from, '/')) {
        hippo_send_drop(d, stanza, "room-error-received");
        return;
    }
    hippo_log(&d->log, HIPPO_LOG_INFO, "room %s: %s bounced (%s): removing it", room_id, from,
              condition);
    leave(d, stanza, room_id, false);
}
