/* room_iq.c - IQs to a room: the original details IQ (members and backlog, then the result as
 * an end marker), ping (XEP-0199, and the XEP-0410 self-ping at the occupant JID) and disco
 * (XEP-0030, with the muc#roominfo form; the items of a room are not listed, so its
 * occupants do not leak). Everything else gets an error (the archive, XEP-0313, is
 * room_archive.c's). */
#include <stdio.h>
#include <string.h>

#include "post_payload.h"
#include "room_handlers.h"
#include "room_stanzas.h"
#include "send.h"
#include "stanza.h"

#define NS_PING "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
/* XEP-0410 3.3: the room answers a self-ping itself instead of routing it to the client */
#define NS_SELF_PING_OPT "http://jabber.org/protocol/muc#self-ping-optimization"

enum room_iq_kind { IQ_DETAILS, IQ_PING, IQ_SELF_PING, IQ_DISCO_INFO, IQ_DISCO_ITEMS };

/* Answers OP with a result carrying PAYLOAD (may be NULL; the caller keeps its reference),
 * then frees OP. */
static void answer(hippo_room_op *op, xmpp_stanza_t *payload)
{
    xmpp_stanza_t *result = hippo_stanza_iq_result(hippo_room_op_ctx(op), op->r.stanza);
    if (!result) {
        hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
        return;
    }
    if (payload)
        xmpp_stanza_add_child(result, payload);
    hippo_send(op->r.d, result);
    xmpp_stanza_release(result);
    hippo_room_op_free(op);
}

/* ---- details */

static void on_post_objects(hippod *d, xmpp_stanza_t *element, size_t missing, const char *error,
                            void *arg)
{
    hippo_room_op *op = arg;
    if (!element) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "room %s: details for %s failed: %s", op->room_id,
                  op->r.from, error ? error : "?");
        hippo_room_op_error(op, "wait", "internal-server-error", "try again later");
        return;
    }
    xmpp_stanza_t *info =
        missing ? NULL : hippo_room_details_info(hippo_room_op_ctx(op), "post", op->title, element);
    xmpp_stanza_release(element);
    if (missing)
        hippo_room_op_error(op, "cancel", "item-not-found", "no such room");
    else if (!info)
        hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
    else {
        answer(op, info);
        xmpp_stanza_release(info);
    }
}

static void details_result(hippo_room_op *op, const hippo_room_row *status)
{
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    if (strcmp(status->kind, "group") == 0) {
        xmpp_stanza_t *objects =
            hippo_room_group_objects(ctx, op->room_id, status->title, status->room_photo_version);
        xmpp_stanza_t *info =
            objects ? hippo_room_details_info(ctx, "group", status->title, objects) : NULL;
        if (objects)
            xmpp_stanza_release(objects);
        if (!info) {
            hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
            return;
        }
        answer(op, info);
        xmpp_stanza_release(info);
        return;
    }
    op->title = strdup(status->title);
    const char *ids[] = {op->room_id};
    if (!op->title || hippo_post_payload_build(op->r.d, status->user.id, ids, 1, "objects",
                                               HIPPO_POST_WITH_LIVEPOST, on_post_objects, op) < 0)
        hippo_room_op_error(op, "wait", "internal-server-error",
                            "the post's details are unavailable, try again later");
}

static void on_details(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status) || hippo_room_op_refused(op, &status))
        return;
    hippo_room_ref room = {.jid = op->room_jid, .kind = status.kind};
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    for (int i = 1; i < PQntuples(res); i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        if (strcmp(row.what, "member") == 0) {
            hippo_room_send_new(op->r.d, hippo_room_classic_presence(ctx, &room, op->r.from,
                                                                     &row.user, row.role, NULL));
        } else if (strcmp(row.what, "history") == 0) {
            hippo_room_msg msg = {
                .sender = row.user, .body = row.body, .serial = row.serial, .ts_ms = row.ts_ms};
            hippo_room_send_new(op->r.d,
                                hippo_room_classic_message(ctx, &room, op->r.from, &msg, true));
        }
    }
    details_result(op, &status);
}

/* ---- ping and disco */

/* XEP-0128 extended info, muc#roominfo (XEP-0045 15.5.4): the subject (the post's title or
 * the group's name), the number of users present (room_info counts them into serial), and
 * the room's kind in an unregistered field, which XEP-0068 wants prefixed with "x-". */
static int add_room_info_form(xmpp_stanza_t *query, const hippo_room_row *status)
{
    char occupants[24];
    snprintf(occupants, sizeof occupants, "%lld", status->serial < 0 ? 0 : status->serial);
    const char *const fields[][3] = {
        {"FORM_TYPE", "hidden", "http://jabber.org/protocol/muc#roominfo"},
        {"muc#roominfo_subject", "text-single", status->title},
        {"muc#roominfo_occupants", "text-single", occupants},
        {"x-dumbhippo-room-kind", "text-single", status->kind},
    };
    xmpp_stanza_t *x = hippo_stanza_add_element(query, "x", "jabber:x:data");
    if (!x || xmpp_stanza_set_type(x, "result") != XMPP_EOK)
        return -1;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        xmpp_stanza_t *f = hippo_stanza_add_element(x, "field", NULL);
        xmpp_stanza_t *v = f ? hippo_stanza_add_element(f, "value", NULL) : NULL;
        if (!v || xmpp_stanza_set_attribute(f, "var", fields[i][0]) != XMPP_EOK ||
            xmpp_stanza_set_attribute(f, "type", fields[i][1]) != XMPP_EOK ||
            hippo_room_add_clean_text(v, fields[i][2] ? fields[i][2] : "") < 0)
            return -1;
    }
    return 0;
}

static xmpp_stanza_t *disco_info(xmpp_ctx_t *ctx, const hippo_room_row *status)
{
    static const char *const features[] = {
        NS_DISCO_INFO,       "http://jabber.org/protocol/muc",
        HIPPO_NS_ROOMS,      NS_PING,
        "urn:xmpp:mam:2",    HIPPO_NS_SID, /* room_archive.c; the stanza-ids it pages by */
        NS_SELF_PING_OPT,    "muc_persistent",
        "muc_semianonymous", "muc_unmoderated",
        "muc_unsecured",
    };
    xmpp_stanza_t *query = xmpp_stanza_new(ctx);
    if (!query)
        return NULL;
    xmpp_stanza_set_name(query, "query");
    xmpp_stanza_set_ns(query, NS_DISCO_INFO);
    xmpp_stanza_t *id = hippo_stanza_add_element(query, "identity", NULL);
    int bad = !id || xmpp_stanza_set_attribute(id, "category", "conference") ||
              xmpp_stanza_set_attribute(id, "type", "text") ||
              hippo_room_set_text_attr(id, "name", status->title);
    for (size_t i = 0; !bad && i < sizeof features / sizeof *features; i++) {
        xmpp_stanza_t *f = hippo_stanza_add_element(query, "feature", NULL);
        bad = !f || xmpp_stanza_set_attribute(f, "var", features[i]);
    }
    if (bad || add_room_info_form(query, status) < 0) {
        xmpp_stanza_release(query);
        return NULL;
    }
    return query;
}

static void on_info(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status) || hippo_room_op_refused(op, &status))
        return;
    xmpp_stanza_t *payload = NULL;
    if (op->iq_kind == IQ_DISCO_INFO) {
        payload = disco_info(hippo_room_op_ctx(op), &status);
    } else if (op->iq_kind == IQ_DISCO_ITEMS) {
        payload = xmpp_stanza_new(hippo_room_op_ctx(op));
        if (payload) {
            xmpp_stanza_set_name(payload, "query");
            xmpp_stanza_set_ns(payload, NS_DISCO_ITEMS);
        }
    }
    if (op->iq_kind != IQ_PING && !payload) {
        hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
        return;
    }
    answer(op, payload);
    if (payload)
        xmpp_stanza_release(payload);
}

/* XEP-0410 self-ping at ROOM/NICK: a result only for the resource's own occupant JID. The
 * errors are chosen for what XEP-0410 makes a client conclude from them: not-acceptable
 * (not joined: re-join) for every sender that is not in the room, whatever the reason (so it
 * also tells nothing about the room); item-not-found and service-unavailable (still joined)
 * only for an occupant that pinged a nick not its own. */
static void on_self_ping(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status))
        return;
    if (strcmp(status.status, "ok") == 0)
        answer(op, NULL);
    else if (strcmp(status.status, "other-occupant") == 0)
        hippo_room_op_error(op, "cancel", "service-unavailable",
                            "the room does not relay IQs to other occupants");
    else if (strcmp(status.status, "no-occupant") == 0)
        hippo_room_op_error(op, "cancel", "item-not-found", "no occupant has this nick");
    else
        hippo_room_op_error(op, "modify", "not-acceptable", "you are not in this room");
}

/* ---- dispatch */

static int kind_of(xmpp_stanza_t *iq, xmpp_stanza_t *payload, const char *nick)
{
    const char *ns = xmpp_stanza_get_ns(payload);
    const char *name = xmpp_stanza_get_name(payload);
    bool get = strcmp(xmpp_stanza_get_type(iq), "get") == 0;
    bool plain = get && !nick && !xmpp_stanza_get_attribute(payload, "node");
    if (!ns || !get)
        return -1;
    if (strcmp(ns, HIPPO_NS_ROOMS) == 0 && strcmp(name, "details") == 0 && !nick)
        return IQ_DETAILS;
    if (strcmp(ns, NS_PING) == 0)
        return nick ? IQ_SELF_PING : IQ_PING;
    if (plain && strcmp(ns, NS_DISCO_INFO) == 0)
        return IQ_DISCO_INFO;
    if (plain && strcmp(ns, NS_DISCO_ITEMS) == 0)
        return IQ_DISCO_ITEMS;
    return -1;
}

void hippo_room_iq(hippod *d, xmpp_stanza_t *stanza, xmpp_stanza_t *payload, const char *room_id,
                   const char *nick)
{
    int kind = kind_of(stanza, payload, nick);
    if (kind < 0) {
        const char *ns = xmpp_stanza_get_ns(payload);
        bool ours = ns && strcmp(ns, HIPPO_NS_ROOMS) == 0;
        hippo_send_error(
            d, stanza, "cancel", ours ? "feature-not-implemented" : "service-unavailable",
            ours ? "only the details get is served" : "rooms do not serve this request");
        return;
    }
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, nick);
    if (!op) {
        hippo_send_error(d, stanza, "wait", "resource-constraint", "out of memory");
        return;
    }
    op->iq_kind = kind;
    op->dialect = HIPPO_DIALECT_CLASSIC;
    char history_max[16];
    snprintf(history_max, sizeof history_max, "%d", d->cfg.rooms_max_history);
    const char *params[] = {op->room_id, op->r.from, history_max};
    const char *ping_params[] = {op->room_id, op->r.from, op->nick};
    if (kind == IQ_DETAILS)
        hippo_room_op_query(op, "room_details", 3, params, on_details);
    else if (kind == IQ_SELF_PING)
        hippo_room_op_query(op, "room_ping", 3, ping_params, on_self_ping);
    else
        hippo_room_op_query(op, "room_info", 2, params, on_info);
}
