/* room_stanzas.h - the stanzas and payloads rooms send, in both dialects. Pure builders:
 * no database, no connection, so the unit tests can validate them against schema/rooms.xsd.
 * Every function returns a new stanza the caller releases with xmpp_stanza_release(), or
 * NULL when out of memory. TO may be NULL (set it later, e.g. once per recipient). */
#ifndef HIPPO_ROOM_STANZAS_H
#define HIPPO_ROOM_STANZAS_H

#include <stddef.h>
#include <strophe.h>

#include "room_types.h"

/* ---- payloads of http://dumbhippo.com/protocol/rooms */

/* <userInfo name version smallPhotoUrl musicPlaying arrangementName artist role [oldRole]/>
 * (the music from USER->music, always present); OLD_ROLE NULL: no oldRole. */
xmpp_stanza_t *hippo_room_user_info(xmpp_ctx_t *ctx, const hippo_room_user *user,
                                    hippo_room_role role, const hippo_room_role *old_role);
/* <messageInfo name version smallPhotoUrl timestamp serial/> */
xmpp_stanza_t *hippo_room_message_info(xmpp_ctx_t *ctx, const hippo_room_msg *msg);
/* <roomInfo kind [title]/>; TITLE NULL: none. */
xmpp_stanza_t *hippo_room_room_info(xmpp_ctx_t *ctx, const char *kind, const char *title);
/* <objects><group id name homeUrl smallPhotoUrl/></objects> (the details of a group room) */
xmpp_stanza_t *hippo_room_group_objects(xmpp_ctx_t *ctx, const char *group_id, const char *name,
                                        int photo_version);
/* The details result payload: <roomInfo kind title>OBJECTS</roomInfo> (OBJECTS may be NULL;
 * the caller keeps its reference). */
xmpp_stanza_t *hippo_room_details_info(xmpp_ctx_t *ctx, const char *kind, const char *title,
                                       xmpp_stanza_t *objects);

/* "/files/headshots/60/GUID?v=N" into BUF; returns BUF. */
const char *hippo_room_photo_url(char *buf, size_t size, const char *user_id, int photo_version);

/* ---- classic dialect (the seed) */

/* The user's aggregate state from ROOM/USERNODE: ROLE nonmember gives <presence
 * type="unavailable"> with roomInfo; otherwise an available presence with
 * <x muc#user><userInfo/></x> and roomInfo (OLD_ROLE as for hippo_room_user_info). */
xmpp_stanza_t *hippo_room_classic_presence(xmpp_ctx_t *ctx, const hippo_room_ref *room,
                                           const char *to, const hippo_room_user *user,
                                           hippo_room_role role, const hippo_room_role *old_role);
/* <message from=ROOM/SENDERNODE> (no type) with body, messageInfo and roomInfo; DELAYED adds
 * <x xmlns="jabber:x:delay" from=ROOM/SENDERNODE/> (no stamp, as the original). */
xmpp_stanza_t *hippo_room_classic_message(xmpp_ctx_t *ctx, const hippo_room_ref *room,
                                          const char *to, const hippo_room_msg *msg, bool delayed);

/* ---- standard MUC dialect (XEP-0045) */

typedef struct hippo_muc_flags {
    bool self;           /* the recipient's own user: status 110 */
    bool nick_assigned;  /* the service chose another nick than requested: status 210 */
    const char *removal; /* why the service removed the user: "307" (kicked) or "321"
                          * (affiliation lost: affiliation none); NULL when it was not */
} hippo_muc_flags;

/* From ROOM/NICK: <x muc#user><item affiliation role/>[status…]<userInfo/></x> and
 * roomInfo; ROLE nonmember gives type="unavailable" with role="none". */
xmpp_stanza_t *hippo_room_muc_presence(xmpp_ctx_t *ctx, const hippo_room_ref *room, const char *to,
                                       const hippo_room_user *user, hippo_room_role role,
                                       hippo_muc_flags flags);
/* <message type="groupchat" from=ROOM/NICK> with body, messageInfo and roomInfo; DELAYED
 * adds the XEP-0203 <delay from=ROOM stamp/>. */
xmpp_stanza_t *hippo_room_muc_message(xmpp_ctx_t *ctx, const hippo_room_ref *room, const char *to,
                                      const hippo_room_msg *msg, bool delayed);
/* The subject message that ends a XEP-0045 join (from the bare room). */
xmpp_stanza_t *hippo_room_muc_subject(xmpp_ctx_t *ctx, const hippo_room_ref *room, const char *to,
                                      const char *subject);

/* Sets STANZA's from to ROOM_JID/RESOURCE (ROOM_JID alone when RESOURCE is NULL; the resource
 * cleaned for XML). Returns 0, or -1 when out of memory. */
int hippo_room_set_from(xmpp_stanza_t *stanza, const char *room_jid, const char *resource);

/* Adds CHILD (a new stanza, or NULL after an allocation failure) to PARENT and drops the
 * caller's reference to it. Returns 0, or -1 when CHILD is NULL or out of memory. */
int hippo_room_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child);

/* Sets attribute KEY to VALUE cleaned for XML (hippo_post_xml_clean_text: names and titles
 * come from the SQL API and may hold anything). Returns 0, or -1 when out of memory. */
int hippo_room_set_text_attr(xmpp_stanza_t *el, const char *key, const char *value);

/* Adds a text node with TEXT cleaned for XML. Returns 0, or -1 when out of memory. */
int hippo_room_add_clean_text(xmpp_stanza_t *el, const char *text);

/* Adds <body>TEXT</body> (cleaned). Returns 0, or -1 when out of memory. */
int hippo_room_add_body(xmpp_stanza_t *stanza, const char *text);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into BUF (at least 32 bytes); returns BUF. */
const char *hippo_room_stamp(char *buf, size_t size, long long ts_ms);

#endif
