/* room_muc.c - the standard MUC (XEP-0045) dialect's stanzas: occupants are ROOM/NICK with
 * the user's readable nick, presence carries <x muc#user><item/>[<status/>]</x>, messages are
 * groupchat, history has XEP-0203 delays. The rooms-namespace children are added too, so a
 * client may read either. */
#include <stdio.h>
#include <string.h>

#include "room_stanzas.h"
#include "stanza.h"

/* Every occupant is a plain member: the rooms have no owners or moderators to manage. */
#define MUC_AFFILIATION "member"

static xmpp_stanza_t *from_nick(xmpp_ctx_t *ctx, const char *name, const hippo_room_ref *room,
                                const char *to, const char *nick)
{
    xmpp_stanza_t *st = xmpp_stanza_new(ctx);
    if (!st)
        return NULL;
    if (xmpp_stanza_set_name(st, name) != XMPP_EOK ||
        hippo_room_set_from(st, room->jid, nick) < 0 ||
        (to && xmpp_stanza_set_to(st, to) != XMPP_EOK)) {
        xmpp_stanza_release(st);
        return NULL;
    }
    return st;
}

static int add_status(xmpp_stanza_t *x, const char *code)
{
    xmpp_stanza_t *status = hippo_stanza_add_element(x, "status", NULL);
    return status && xmpp_stanza_set_attribute(status, "code", code) == XMPP_EOK ? 0 : -1;
}

/* <x muc#user><item/>[status 110][status 210][status 307|321]<userInfo/></x> */
static int add_muc_user(xmpp_ctx_t *ctx, xmpp_stanza_t *pres, const hippo_room_user *user,
                        hippo_room_role role, hippo_muc_flags flags)
{
    xmpp_stanza_t *x = hippo_stanza_add_element(pres, "x", HIPPO_NS_MUC_USER);
    xmpp_stanza_t *item = x ? hippo_stanza_add_element(x, "item", NULL) : NULL;
    if (!item)
        return -1;
    bool gone = role == HIPPO_ROLE_NONMEMBER;
    bool unaffiliated = flags.removal && strcmp(flags.removal, "321") == 0;
    if (xmpp_stanza_set_attribute(item, "affiliation", unaffiliated ? "none" : MUC_AFFILIATION) !=
            XMPP_EOK ||
        xmpp_stanza_set_attribute(item, "role", gone ? "none" : hippo_room_role_name(role)) !=
            XMPP_EOK)
        return -1;
    if ((flags.self && add_status(x, "110") < 0) ||
        (flags.nick_assigned && add_status(x, "210") < 0) ||
        (flags.removal && add_status(x, flags.removal) < 0))
        return -1;
    return gone ? 0 : hippo_room_adopt(x, hippo_room_user_info(ctx, user, role, NULL));
}

xmpp_stanza_t *hippo_room_muc_presence(xmpp_ctx_t *ctx, const hippo_room_ref *room, const char *to,
                                       const hippo_room_user *user, hippo_room_role role,
                                       hippo_muc_flags flags)
{
    xmpp_stanza_t *pres = from_nick(ctx, "presence", room, to, user->nick);
    if (!pres)
        return NULL;
    if ((role == HIPPO_ROLE_NONMEMBER && xmpp_stanza_set_type(pres, "unavailable") != XMPP_EOK) ||
        add_muc_user(ctx, pres, user, role, flags) < 0 ||
        hippo_room_adopt(pres, hippo_room_room_info(ctx, room->kind, NULL)) < 0) {
        xmpp_stanza_release(pres);
        return NULL;
    }
    return pres;
}

/* XEP-0359: the room's stable id of the message (its serial, unique in the room) on live and
 * backlog copies alike, so that clients deduplicate and archives can refer to it; and the
 * sender's origin-id reflected, by which a client recognises its own echo (without it,
 * profanity shows each own message twice). */
static int add_ids(xmpp_stanza_t *msg, const char *room_jid, const hippo_room_msg *m)
{
    char serial[24];
    snprintf(serial, sizeof serial, "%lld", m->serial);
    xmpp_stanza_t *sid = hippo_stanza_add_element(msg, "stanza-id", HIPPO_NS_SID);
    if (!sid || xmpp_stanza_set_attribute(sid, "id", serial) != XMPP_EOK ||
        xmpp_stanza_set_attribute(sid, "by", room_jid) != XMPP_EOK)
        return -1;
    if (!m->origin_id)
        return 0;
    xmpp_stanza_t *oid = hippo_stanza_add_element(msg, "origin-id", HIPPO_NS_SID);
    return oid && xmpp_stanza_set_attribute(oid, "id", m->origin_id) == XMPP_EOK ? 0 : -1;
}

static int add_delay(xmpp_stanza_t *msg, const char *room_jid, long long ts_ms)
{
    char stamp[32];
    xmpp_stanza_t *delay = hippo_stanza_add_element(msg, "delay", HIPPO_NS_DELAY);
    if (!delay || xmpp_stanza_set_attribute(delay, "from", room_jid) != XMPP_EOK ||
        xmpp_stanza_set_attribute(delay, "stamp", hippo_room_stamp(stamp, sizeof stamp, ts_ms)) !=
            XMPP_EOK)
        return -1;
    return 0;
}

xmpp_stanza_t *hippo_room_muc_message(xmpp_ctx_t *ctx, const hippo_room_ref *room, const char *to,
                                      const hippo_room_msg *msg, bool delayed)
{
    xmpp_stanza_t *st = from_nick(ctx, "message", room, to, msg->sender.nick);
    if (!st)
        return NULL;
    if (xmpp_stanza_set_type(st, "groupchat") != XMPP_EOK ||
        (msg->id && xmpp_stanza_set_id(st, msg->id) != XMPP_EOK) ||
        hippo_room_add_body(st, msg->body) < 0 || add_ids(st, room->jid, msg) < 0 ||
        hippo_room_adopt(st, hippo_room_message_info(ctx, msg)) < 0 ||
        hippo_room_adopt(st, hippo_room_room_info(ctx, room->kind, NULL)) < 0 ||
        (delayed && add_delay(st, room->jid, msg->ts_ms) < 0)) {
        xmpp_stanza_release(st);
        return NULL;
    }
    return st;
}

xmpp_stanza_t *hippo_room_muc_subject(xmpp_ctx_t *ctx, const hippo_room_ref *room, const char *to,
                                      const char *subject)
{
    xmpp_stanza_t *st = from_nick(ctx, "message", room, to, NULL);
    if (!st)
        return NULL;
    xmpp_stanza_t *el = hippo_stanza_add_element(st, "subject", NULL);
    if (xmpp_stanza_set_type(st, "groupchat") != XMPP_EOK || !el ||
        hippo_room_add_clean_text(el, subject) < 0) {
        xmpp_stanza_release(st);
        return NULL;
    }
    return st;
}
