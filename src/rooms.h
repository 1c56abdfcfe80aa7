/* rooms.h - the chat rooms of posts and groups at NODE@<component domain>. */
#ifndef HIPPO_ROOMS_H
#define HIPPO_ROOMS_H

#include <strophe.h>

#include "db.h"
#include "hippod.h"

/* The rooms' state in memory for a pool of CONNECTIONS database connections. The caller
 * frees the result with hippo_rooms_free(), after hippo_db_free(); NULL when out of memory. */
hippo_rooms *hippo_rooms_new(unsigned connections);
void hippo_rooms_free(hippo_rooms *r);

/* Registers the rooms' prepared statements, and LISTENs on HIPPO_ROOMS_CHANNEL. */
void hippo_rooms_prepare(hippo_db *db);

/* PostgreSQL notifies this channel with a room id when the room's occupants changed ("ID
 * join" when a resource joined), "*" for every room (sql/013, sql/018). */
#define HIPPO_ROOMS_CHANNEL "hippo_rooms"

/* A notification of HIPPO_ROOMS_CHANNEL (OWN: raised by one of this hippod's sessions): the
 * room is forgotten; a join by another session to a room this hippod remembers is counted
 * and logged, as it means the XMPP server spreads the room over several hippods. */
void hippo_rooms_notified(hippod *d, const char *payload, bool own);

/* Forgets what is remembered of ROOM_ID ("*": of every room); call on a notification of
 * HIPPO_ROOMS_CHANNEL, and with "*" whenever notifications may have been missed. */
void hippo_rooms_forget(hippo_rooms *r, const char *room_id);

/* Call when the XMPP link or the database comes up: once both are up, pings every stored
 * occupant so that those that left while hippod could not hear it are removed (their pings
 * bounce). Does nothing while either is down. */
void hippo_rooms_sweep(hippod *d);

/* room_sweep.c: its prepared statement (called by hippo_rooms_prepare). */
void hippo_rooms_sweep_prepare(hippo_db *db);

#endif
