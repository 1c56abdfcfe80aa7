/* handle_music.c - music (set): musicChanged records the user's current track (or that
 * playback stopped) and tells the rooms the user is in (hippo.room_music_changed, which calls
 * hippo.music_changed; room_music.h), primingTracks seeds the play history once
 * (hippo.prime_tracks). Both answer with an empty result once the database has it. */
#include <stdlib.h>
#include <string.h>

#include "music_track.h"
#include "protocol.h"
#include "room_music.h"

#define STMT_CHANGED "music_changed"
#define STMT_PRIME "music_prime"

void hippo_music_prepare(hippo_db *db)
{
    /* stores the track and returns the rooms to tell (sql/016, room_music.h) */
    hippo_db_prepare(db, STMT_CHANGED,
                     "SELECT m.room_id, (m.r).*, m.music_playing, m.arrangement_name, m.artist "
                     "FROM hippo.room_music_changed($1, $2::text[]) m",
                     2);
    hippo_db_prepare(db, STMT_PRIME, "SELECT hippo.prime_tracks($1, $2::text[])", 2);
}

/* Stored: the result, then the user's fresh presence to the rooms it is in. */
static void on_changed(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    hippod *d = req->d;
    if (hippo_request_failed(req, res, error))
        return;
    hippo_request_result(req, NULL);
    hippo_room_music_broadcast(d, res);
}

static void on_primed(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    if (PQntuples(res) == 1 && PQgetisnull(res, 0, 0))
        hippo_log(&req->d->log, HIPPO_LOG_INFO,
                  "primingTracks from %s ignored: music sharing already primed", req->bare_jid);
    else
        hippo_log(&req->d->log, HIPPO_LOG_DEBUG, "primingTracks from %s: %s tracks recorded",
                  req->bare_jid, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
    hippo_request_result(req, NULL);
}

void hippo_music_iq(hippo_request *req)
{
    char err[512];
    hippo_music_request music;
    if (strcmp(xmpp_stanza_get_type(req->stanza), "set") != 0) {
        hippo_request_error(req, "modify", "bad-request", "music requests are of type set");
        return;
    }
    if (hippo_music_parse(req->payload, &music, err, sizeof err) != 0) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    if (music.n_ignored > 0)
        hippo_log(&req->d->log, HIPPO_LOG_DEBUG,
                  "music from %s: %zu props with unknown keys or bad urls ignored", req->bare_jid,
                  music.n_ignored);
    bool priming = music.kind == HIPPO_MUSIC_PRIMING;
    char *tracks = NULL;
    if (priming || music.n_tracks > 0) {
        tracks = hippo_tracks_array_literal(music.tracks, music.n_tracks, priming);
        if (!tracks) {
            hippo_music_request_free(&music);
            hippo_request_error(req, "wait", "resource-constraint", "out of memory");
            return;
        }
    }
    hippo_music_request_free(&music);
    const char *params[] = {req->user_id, tracks}; /* NULL tracks: playback stopped */
    hippo_request_query(req, priming ? STMT_PRIME : STMT_CHANGED, 2, params,
                        priming ? on_primed : on_changed);
    free(tracks);
}
