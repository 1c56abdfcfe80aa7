/* push_kinds.h - the outbox kinds this build sends, one push_<kind>.c each, and their table
 * for push.c. */
#ifndef HIPPO_PUSH_KINDS_H
#define HIPPO_PUSH_KINDS_H

#include <stddef.h>

#include "db.h"
#include "hippod.h"
#include "push.h"

extern const hippo_push_kind hippo_push_kinds[];
extern const size_t hippo_push_n_kinds;

/* Registers every kind's prepared statements. */
void hippo_push_kinds_prepare(hippo_db *db);

void hippo_push_new_post_prepare(hippo_db *db);
void hippo_push_new_post(hippod *d, const hippo_push_event *ev);

/* livePostChanged, coalesced per post: its state is hippod's (d->push_live); NULL when out
 * of memory. */
hippo_push_live *hippo_push_live_new(hippod *d);
void hippo_push_live_free(hippo_push_live *l);
void hippo_push_live_post_prepare(hippo_db *db);
void hippo_push_live_post(hippod *d, const hippo_push_event *ev);

void hippo_push_active_posts_prepare(hippo_db *db);
void hippo_push_active_posts(hippod *d, const hippo_push_event *ev);

void hippo_push_hotness_prepare(hippo_db *db);
void hippo_push_hotness(hippod *d, const hippo_push_event *ev);

/* Occupants removed for lost access (push_room_departure.c). */
void hippo_push_room_departure_prepare(hippo_db *db);
void hippo_push_room_departure(hippod *d, const hippo_push_event *ev);

/* prefs, mySpaceNameChanged, mySpaceContactComment (push_user.c). */
void hippo_push_user_prepare(hippo_db *db);
void hippo_push_prefs(hippod *d, const hippo_push_event *ev);
void hippo_push_myspace_name(hippod *d, const hippo_push_event *ev);
void hippo_push_myspace_comment(hippod *d, const hippo_push_event *ev);

#endif
