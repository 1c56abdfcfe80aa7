/* room_state.h - what hippod remembers of each room: its present resources with their users
 * (sql/013_room_memory.sql says why and how PostgreSQL keeps it honest).
 *
 * A room's state is learnt from a message batch's answer (its 'room' and 'to' rows) and
 * forgotten when PostgreSQL says the room's occupants changed (NOTIFY hippo_rooms), while
 * one of hippod's own statements that change them (a join, a leave) is in flight, and
 * entirely when a database connection comes back. A batch's answer may predate such a change, so it
 * is remembered only when nothing made the room forgotten since the batch was sent: its mark, taken
 * when the batch was sent, must still be current.
 *
 * States are reference counted: a message in flight holds the state it was checked
 * against, and is delivered to that state's resources even if the room was forgotten
 * meanwhile (with one hippod per room, nothing else can have changed them). Plain C, no
 * server needed. */
#ifndef HIPPO_ROOM_STATE_H
#define HIPPO_ROOM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "room_types.h"

typedef struct hippo_room_occupant {
    char *jid; /* the resource's full JID */
    hippo_room_dialect dialect;
    hippo_room_user user; /* id, name and nick are owned by the state */
} hippo_room_occupant;

typedef struct hippo_room_state {
    unsigned refs;
    char *kind; /* "post" or "group" */
    size_t n, cap;
    hippo_room_occupant *occupants; /* in the order PostgreSQL listed them */
} hippo_room_state;

/* When a room was last forgotten: compare with hippo_room_states_mark() later. */
typedef struct hippo_room_mark {
    uint64_t epoch; /* bumped when everything is forgotten */
    uint64_t gen;   /* bumped when this room is forgotten */
} hippo_room_mark;

/* A new empty state of KIND with one reference; NULL when out of memory. Release with
 * hippo_room_state_unref(). */
hippo_room_state *hippo_room_state_new(const char *kind);
/* Appends a resource (strings copied; NAME and NICK may be NULL: ""); -1 when out of
 * memory. */
int hippo_room_state_add(hippo_room_state *s, const char *jid, hippo_room_dialect dialect,
                         const char *user_id, const char *name, int photo_version,
                         const char *nick);
/* The resource with exactly this full JID, or NULL; valid while S is. */
const hippo_room_occupant *hippo_room_state_find(const hippo_room_state *s, const char *jid);
hippo_room_state *hippo_room_state_ref(hippo_room_state *s);
void hippo_room_state_unref(hippo_room_state *s); /* NULL is fine */

typedef struct hippo_room_states hippo_room_states;

/* Remembers at most MAX_ROOMS rooms (beyond, it forgets everything and starts again). NULL
 * when out of memory; free with hippo_room_states_free(). */
hippo_room_states *hippo_room_states_new(size_t max_rooms);
void hippo_room_states_free(hippo_room_states *m);

/* The state remembered for ROOM_ID, or NULL (borrowed: take a reference to keep it). */
hippo_room_state *hippo_room_states_get(const hippo_room_states *m, const char *room_id);

/* The room's mark now (to be passed to _remember later); -1 when out of memory. */
int hippo_room_states_mark(hippo_room_states *m, const char *room_id, hippo_room_mark *mark);

/* Remembers S (takes a reference of its own) for ROOM_ID if STAMP is still current; returns
 * whether it did. */
int hippo_room_states_remember(hippo_room_states *m, const char *room_id, hippo_room_mark mark,
                               hippo_room_state *s);

/* Forgets ROOM_ID; "*" forgets every room. */
void hippo_room_states_forget(hippo_room_states *m, const char *room_id);
void hippo_room_states_forget_all(hippo_room_states *m);

/* A statement of the room's own that may change its occupants (a join, a leave) was sent:
 * the room is forgotten and nothing is remembered of it until the statement's answer came
 * back and hippo_room_states_release() was called (once per hold). Batches answered in
 * between may have run before the statement. */
void hippo_room_states_hold(hippo_room_states *m, const char *room_id);
void hippo_room_states_release(hippo_room_states *m, const char *room_id);

size_t hippo_room_states_count(const hippo_room_states *m); /* rooms remembered */

#endif
