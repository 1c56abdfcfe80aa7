/* room_types.h - the values the room modules pass around: roles, dialects, users and
 * messages as the database returns them (plain C, no server needed). */
#ifndef HIPPO_ROOM_TYPES_H
#define HIPPO_ROOM_TYPES_H

#include <stdbool.h>

#define HIPPO_NS_ROOMS "http://dumbhippo.com/protocol/rooms"
#define HIPPO_NS_MUC "http://jabber.org/protocol/muc"
#define HIPPO_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define HIPPO_NS_DELAY "urn:xmpp:delay"
#define HIPPO_NS_LEGACY_DELAY "jabber:x:delay"
#define HIPPO_NS_SID "urn:xmpp:sid:0" /* XEP-0359 stanza-id and origin-id */

/* A user's aggregate role in a room (participant if any of its resources is). */
typedef enum hippo_room_role {
    HIPPO_ROLE_NONMEMBER,
    HIPPO_ROLE_VISITOR,
    HIPPO_ROLE_PARTICIPANT,
} hippo_room_role;

/* How an occupant resource joined, and so how the room talks to it. */
typedef enum hippo_room_dialect {
    HIPPO_DIALECT_CLASSIC, /* the seed: bare room JID, userInfo/messageInfo, no type */
    HIPPO_DIALECT_MUC,     /* XEP-0045: room/nick, groupchat, muc#user items */
} hippo_room_dialect;

/* "participant", "visitor" or "nonmember" (static strings). */
const char *hippo_room_role_name(hippo_room_role role);
/* The inverse; anything unknown (or NULL) is nonmember. */
hippo_room_role hippo_room_role_parse(const char *name);

/* What a user's room presence shows of its music (sql/016_room_music.sql: hippo.room_music).
 * Zeroed: not playing, nothing known. */
typedef struct hippo_room_music {
    bool playing;                 /* userInfo/@musicPlaying */
    const char *arrangement_name; /* the track's name; NULL is "" on the wire */
    const char *artist;           /* NULL is "" on the wire */
} hippo_room_music;

typedef struct hippo_room_user {
    const char *id;    /* GUID */
    const char *name;  /* display name */
    int photo_version; /* users.photo_version: userInfo/@version and the photo URL's ?v= */
    const char *nick;  /* readable nick in the room (standard MUC resource) */
    hippo_room_music music;
} hippo_room_user;

/* The room a stanza is about. */
typedef struct hippo_room_ref {
    const char *jid;  /* bare room JID NODE@domain */
    const char *kind; /* "post" or "group" */
} hippo_room_ref;

typedef struct hippo_room_msg {
    hippo_room_user sender;
    const char *body;
    long long serial;
    long long ts_ms;       /* milliseconds since the epoch */
    const char *id;        /* the sender's stanza id, reflected to everyone; may be NULL */
    const char *origin_id; /* the sender's XEP-0359 origin-id, reflected; may be NULL */
} hippo_room_msg;

#endif
