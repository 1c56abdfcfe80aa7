/* room_classic.c - the classic (seed) dialect's stanzas: occupants are ROOM/USERNODE,
 * presence carries <x muc#user><userInfo/></x>, messages have no type and carry
 * messageInfo; roomInfo sits directly under the stanza. */
#include <string.h>

#include "guid.h"
#include "room_stanzas.h"
#include "stanza.h"

/* A new NAME stanza from ROOM/USERNODE of USER_ID, to TO when given. */
static xmpp_stanza_t *from_user_node(xmpp_ctx_t *ctx, const char *name, const hippo_room_ref *room,
                                     const char *to, const char *user_id)
{
    char node[HIPPO_GUID_NODE_MAX + 1];
    if (hippo_guid_to_node(user_id, node) < 0)
        return NULL; /* the database only holds valid GUIDs */
    xmpp_stanza_t *st = xmpp_stanza_new(ctx);
    if (!st)
        return NULL;
    if (xmpp_stanza_set_name(st, name) != XMPP_EOK ||
        hippo_room_set_from(st, room->jid, node) < 0 ||
        (to && xmpp_stanza_set_to(st, to) != XMPP_EOK)) {
        xmpp_stanza_release(st);
        return NULL;
    }
    return st;
}

xmpp_stanza_t *hippo_room_classic_presence(xmpp_ctx_t *ctx, const hippo_room_ref *room,
                                           const char *to, const hippo_room_user *user,
                                           hippo_room_role role, const hippo_room_role *old_role)
{
    xmpp_stanza_t *pres = from_user_node(ctx, "presence", room, to, user->id);
    if (!pres)
        return NULL;
    int rc = 0;
    if (role == HIPPO_ROLE_NONMEMBER) {
        rc = xmpp_stanza_set_type(pres, "unavailable") == XMPP_EOK ? 0 : -1;
    } else {
        xmpp_stanza_t *x = hippo_stanza_add_element(pres, "x", HIPPO_NS_MUC_USER);
        rc = x ? hippo_room_adopt(x, hippo_room_user_info(ctx, user, role, old_role)) : -1;
    }
    if (rc < 0 || hippo_room_adopt(pres, hippo_room_room_info(ctx, room->kind, NULL)) < 0) {
        xmpp_stanza_release(pres);
        return NULL;
    }
    return pres;
}

static int add_legacy_delay(xmpp_stanza_t *msg)
{
    xmpp_stanza_t *x = hippo_stanza_add_element(msg, "x", HIPPO_NS_LEGACY_DELAY);
    return x && xmpp_stanza_set_attribute(x, "from", xmpp_stanza_get_from(msg)) == XMPP_EOK ? 0
                                                                                            : -1;
}

xmpp_stanza_t *hippo_room_classic_message(xmpp_ctx_t *ctx, const hippo_room_ref *room,
                                          const char *to, const hippo_room_msg *msg, bool delayed)
{
    xmpp_stanza_t *st = from_user_node(ctx, "message", room, to, msg->sender.id);
    if (!st)
        return NULL;
    if ((msg->id && xmpp_stanza_set_id(st, msg->id) != XMPP_EOK) ||
        hippo_room_add_body(st, msg->body) < 0 ||
        hippo_room_adopt(st, hippo_room_message_info(ctx, msg)) < 0 ||
        hippo_room_adopt(st, hippo_room_room_info(ctx, room->kind, NULL)) < 0 ||
        (delayed && add_legacy_delay(st) < 0)) {
        xmpp_stanza_release(st);
        return NULL;
    }
    return st;
}
