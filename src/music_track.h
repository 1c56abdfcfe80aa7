/* music_track.h - the music IQ payload (musicChanged, primingTracks): parsing and checking
 * the <prop key=K>V</prop> track properties as the original Track parser did, and passing
 * them to SQL as text arrays in hippo.track_keys() order. */
#ifndef HIPPO_MUSIC_TRACK_H
#define HIPPO_MUSIC_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

/* Most <track> elements one primingTracks request may carry. */
#define HIPPO_MUSIC_MAX_TRACKS 100
/* Most <prop> elements per track (known and unknown keys together). */
#define HIPPO_MUSIC_MAX_PROPS 32
/* Longest prop value, in bytes after trimming. */
#define HIPPO_MUSIC_MAX_VALUE 1024

/* The known keys, in the order of the SQL arrays (sql/005_user_iqs.sql track_keys()). */
enum hippo_track_key {
    HIPPO_TRACK_TYPE,
    HIPPO_TRACK_FORMAT,
    HIPPO_TRACK_NAME,
    HIPPO_TRACK_ARTIST,
    HIPPO_TRACK_ALBUM,
    HIPPO_TRACK_URL,
    HIPPO_TRACK_DURATION,
    HIPPO_TRACK_FILE_SIZE,
    HIPPO_TRACK_TRACK_NUMBER,
    HIPPO_TRACK_DISC_IDENTIFIER,
    HIPPO_TRACK_N_KEYS
};

/* The wire name of KEY ("fileSize"), or NULL when out of range. */
const char *hippo_track_key_name(int key);

/* One track: each known value trimmed and malloc'd, or NULL when absent or empty. */
typedef struct hippo_track {
    char *value[HIPPO_TRACK_N_KEYS];
} hippo_track;

typedef enum hippo_music_kind { HIPPO_MUSIC_CHANGED, HIPPO_MUSIC_PRIMING } hippo_music_kind;

typedef struct hippo_music_request {
    hippo_music_kind kind;
    hippo_track *tracks; /* musicChanged: 0 tracks (stopped) or 1; priming: those with values */
    size_t n_tracks;
    size_t n_ignored; /* props with an unknown key, and urls that are not http(s) URLs */
} hippo_music_request;

/*
 * Parses a <music type="musicChanged|primingTracks"> payload. Unknown keys and invalid
 * urls are ignored (counted in n_ignored), as the original did; everything else that is not
 * as the value table requires is an error. Returns 0 and fills *OUT (free it with
 * hippo_music_request_free), or -1 with the reason for a bad-request in ERR (nothing to
 * free). Out of memory is reported as an error too.
 */
int hippo_music_parse(xmpp_stanza_t *payload, hippo_music_request *out, char *err, size_t errlen);
void hippo_music_request_free(hippo_music_request *req);

/*
 * The tracks as a PostgreSQL text[] literal, NULL for absent values: "{v,...}" (one
 * track, 10 values) when NESTED is false, "{{...},{...}}" (N rows) when true ("{}" for none).
 * Returns a malloc'd string the caller frees, or NULL when out of memory.
 */
char *hippo_tracks_array_literal(const hippo_track *tracks, size_t n, bool nested);

#endif
