/* room_handlers.h - the room stanza handlers the router's table dispatches to, one file
 * each. ROOM_ID is the room's GUID (already checked for shape), NICK the resource the stanza
 * was sent to (NULL for the bare room JID). The link keeps ownership of STANZA. */
#ifndef HIPPO_ROOM_HANDLERS_H
#define HIPPO_ROOM_HANDLERS_H

#include <strophe.h>

#include "hippod.h"
#include "room_op.h"

/* room_presence.c: an available presence: a join (both dialects) or a role change. */
void hippo_room_join(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick);
/* room_presence.c: an unavailable presence: the resource leaves. */
void hippo_room_leave(hippod *d, xmpp_stanza_t *stanza, const char *room_id);
/* room_presence.c: an error stanza from an occupant (a delivery failure) removes it. */
void hippo_room_bounce(hippod *d, xmpp_stanza_t *stanza, const char *room_id);
/* room_message.c: a chat message to the room. */
void hippo_room_message(hippod *d, xmpp_stanza_t *stanza, const char *room_id, const char *nick);
/* room_iq.c: a checked get or set (PAYLOAD its only child): details, ping, disco; everything
 * else gets an error. */
void hippo_room_iq(hippod *d, xmpp_stanza_t *stanza, xmpp_stanza_t *payload, const char *room_id,
                   const char *nick);
/* room_archive.c: a XEP-0313 (urn:xmpp:mam:2) get (the query form) or set (a query of the
 * room's stored messages, answered with result messages and the fin); PAYLOAD is its only
 * child, in that namespace. */
void hippo_room_archive(hippod *d, xmpp_stanza_t *stanza, xmpp_stanza_t *payload,
                        const char *room_id, const char *nick);

/* room_history.c: fills *OUT from a XEP-0045 <history/> element (may be NULL) within
 * CFG_MAX (-1: no limit). NOW_USEC is the current time (microseconds since the epoch). */
void hippo_room_history_request(xmpp_stanza_t *history, int cfg_max, long long now_usec,
                                hippo_room_history *out);
/* room_history.c: a XEP-0082 date-time as microseconds since the epoch, or -1 when it is not
 * one. */
long long hippo_room_parse_datetime(const char *s);
/* room_history.c: the same, telling a date before 1970 from a malformed one: 0 and *USEC
 * (negative before the epoch), or -1 when S is not a XEP-0082 date-time. */
int hippo_room_read_datetime(const char *s, long long *usec);
/* room_history.c: how many of the N oldest-first backlog messages of SIZES (approximate
 * stanza sizes) to skip so the rest fits in MAX_CHARS (-1: no limit). */
int hippo_room_history_skip(const size_t *sizes, int n, long max_chars);

#endif
