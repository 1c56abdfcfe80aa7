/* room_music.h - music presence in rooms, as the original (era B) server did
 * (original-behaviour.md 2.2, 2.7; sql/016_room_music.sql): the music columns the room
 * statements add after hippo.room_row, and the fresh available presence a musicChanged sends
 * to every occupant of the rooms its user is present in. */
#ifndef HIPPO_ROOM_MUSIC_H
#define HIPPO_ROOM_MUSIC_H

#include <libpq-fe.h>

#include "hippod.h"
#include "room_types.h"

/* music_playing, arrangement_name, artist (hippo.room_music_fresh) */
#define HIPPO_ROOM_MUSIC_COLUMNS 3

/* The statement of a room function (CALL: "room_join(...) r", "r" naming its rows, a WHERE
 * clause may follow) whose status and member rows become userInfo: its rows in order, each
 * followed by the music of its user (NULL on the other rows). The music is read once the
 * room function has run, by hippo.room_music_fresh with LOCK_USER (an SQL expression over
 * "j", the rows: the joiner of a join; "NULL" otherwise). A CTE, not a function taking the
 * rows: that cost a join with 130 rows 2 ms more, this 0.5 ms. */
#define HIPPO_ROOM_WITH_MUSIC(call, lock_user)                                                     \
    "WITH j AS MATERIALIZED (SELECT r, row_number() OVER () AS n FROM hippo." call ") "            \
    "SELECT (j.r).*, m.playing, m.arrangement_name, m.artist FROM j LEFT JOIN "                    \
    "hippo.room_music_fresh(ARRAY(SELECT DISTINCT (j.r).user_id FROM j "                           \
    "WHERE (j.r).what IN ('status', 'member')), " lock_user ") m "                                 \
    "ON (j.r).what IN ('status', 'member') AND m.user_id = (j.r).user_id ORDER BY j.n"
/* The joiner: the user of a join's status row when it joined or updated. */
#define HIPPO_ROOM_JOINER                                                                          \
    "(SELECT (j.r).user_id FROM j WHERE (j.r).what = 'status' "                                    \
    "AND (j.r).status IN ('joined', 'updated'))"

/* Reads the music columns COL, COL + 1 and COL + 2 of row I of RES into MUSIC; the strings
 * point into RES (valid during the database callback only). Zeroed (not playing, nothing
 * known) when RES has no such columns or they are NULL. */
void hippo_room_music_read(const PGresult *res, int i, int col, hippo_room_music *music);

/* Sends what hippo.room_music_changed returned (RES: room_id, the hippo.room_row columns and
 * the music columns): for each room the user is present in, its fresh available presence
 * (classic: userInfo without oldRole; standard: the same nick and role, status 110 for its own
 * resources) to every resource present. Nothing when the music the rooms show did not change.
 * Presences that cannot be built or sent, and a result of another shape, are counted in
 * hippod_drops_total{reason="room-music-unsent"|"room-music-bad-result"} and logged. */
void hippo_room_music_broadcast(hippod *d, const PGresult *res);

#endif
