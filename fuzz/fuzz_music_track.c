/* fuzz_music_track.c - the music IQ payload (src/music_track.c). The input is the XML of a
 * <music type="musicChanged|primingTracks"> element. On success every stored value must obey
 * the value table of docs/protocol-user-iqs.md (checked by an oracle, numbers exactly, so
 * that PostgreSQL's integer/bigint casts accept them); the PostgreSQL array literal the code
 * produces must read back (as PostgreSQL's array_in reads it) to exactly the parsed values;
 * and the tracks written back as a payload must parse to the same tracks. A failure must
 * come with a reason and leave nothing allocated. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "music_track.h"
#include "user_iq_xml.h"

/* ---- the value table, as documented */

static bool in_list(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0)
            return true;
    return false;
}

static bool number_within(const char *v, long long lo, long long hi)
{
    hippo_fuzz_decimal d;
    return hippo_fuzz_read_decimal(v, "", false, &d) && hippo_fuzz_decimal_cmp(&d, lo) >= 0 &&
           hippo_fuzz_decimal_cmp(&d, hi) <= 0;
}

static bool url_ok(const char *v)
{
    size_t skip = strncasecmp(v, "http://", 7) == 0    ? 7
                  : strncasecmp(v, "https://", 8) == 0 ? 8
                                                       : 0;
    if (skip == 0 || v[skip] == '\0' || strchr("/?#", v[skip]))
        return false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

static bool value_ok(int key, const char *v)
{
    static const char *const types[] = {"UNKNOWN", "FILE", "CD", "NETWORK_STREAM", "PODCAST", NULL};
    static const char *const formats[] = {"UNKNOWN", "MP3", "WMA", "AAC", "VORBIS", NULL};
    switch (key) {
    case HIPPO_TRACK_TYPE:
        return in_list(v, types);
    case HIPPO_TRACK_FORMAT:
        return in_list(v, formats);
    case HIPPO_TRACK_URL:
        return url_ok(v);
    case HIPPO_TRACK_DURATION:
        return number_within(v, -1, INT32_MAX);
    case HIPPO_TRACK_FILE_SIZE:
        return number_within(v, -1, LLONG_MAX);
    case HIPPO_TRACK_TRACK_NUMBER:
        return number_within(v, -1, INT32_MAX) && !number_within(v, 0, 0);
    default:
        return true;
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_track(const hippo_track *t)
{
    bool any = false;
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++) {
        const char *v = t->value[k];
        if (!v)
            continue;
        any = true;
        size_t len = strlen(v);
        HIPPO_FUZZ_CHECK(len > 0 && len <= HIPPO_MUSIC_MAX_VALUE);
        HIPPO_FUZZ_CHECK(!is_blank(v[0]) && !is_blank(v[len - 1]));
        HIPPO_FUZZ_CHECK(value_ok(k, v));
    }
    HIPPO_FUZZ_CHECK(any); /* a track without values is never stored */
}

/* ---- the PostgreSQL text[] literal, read back as array_in reads quoted elements */

static bool eat(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* One element at *P: NULL, or a double-quoted string in which '\' escapes the next byte.
 * True when it equals WANT (NULL: SQL NULL). */
static bool element_matches(const char **p, const char *want)
{
    if (strncmp(*p, "NULL", 4) == 0) {
        *p += 4;
        return want == NULL;
    }
    if (!eat(p, '"') || !want)
        return false;
    for (; **p != '"'; (*p)++, want++) {
        if (**p == '\\')
            (*p)++;
        if (**p == '\0' || **p != *want)
            return false;
    }
    (*p)++;
    return *want == '\0';
}

static bool row_matches(const char **p, const hippo_track *t)
{
    if (!eat(p, '{'))
        return false;
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++)
        if ((k > 0 && !eat(p, ',')) || !element_matches(p, t->value[k]))
            return false;
    return eat(p, '}');
}

static void check_literal(const hippo_track *tracks, size_t n, bool nested)
{
    char *lit = hippo_tracks_array_literal(tracks, n, nested);
    HIPPO_FUZZ_CHECK(lit != NULL);
    const char *p = lit;
    bool ok = !nested || eat(&p, '{');
    for (size_t i = 0; ok && i < n; i++)
        ok = (i == 0 || eat(&p, ',')) && row_matches(&p, &tracks[i]);
    ok = ok && (!nested || eat(&p, '}')) && *p == '\0';
    if (!ok)
        fprintf(stderr, "array literal does not read back: %s\n", lit);
    HIPPO_FUZZ_CHECK(ok);
    free(lit);
}

/* ---- the tracks written back as a payload */

static void add_props(xmpp_stanza_t *parent, const hippo_track *t)
{
    xmpp_ctx_t *ctx = hippo_fuzz_ctx();
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++) {
        if (!t->value[k])
            continue;
        xmpp_stanza_t *prop = xmpp_stanza_new(ctx), *text = xmpp_stanza_new(ctx);
        HIPPO_FUZZ_CHECK(prop && text && xmpp_stanza_set_name(prop, "prop") == XMPP_EOK);
        HIPPO_FUZZ_CHECK(xmpp_stanza_set_attribute(prop, "key", hippo_track_key_name(k)) == 0);
        HIPPO_FUZZ_CHECK(xmpp_stanza_set_text(text, t->value[k]) == XMPP_EOK);
        HIPPO_FUZZ_CHECK(xmpp_stanza_add_child(prop, text) == XMPP_EOK);
        HIPPO_FUZZ_CHECK(xmpp_stanza_add_child(parent, prop) == XMPP_EOK);
        xmpp_stanza_release(text);
        xmpp_stanza_release(prop);
    }
}

/* REQ as a <music> payload again; the caller releases it. */
static xmpp_stanza_t *payload_of(const hippo_music_request *req)
{
    xmpp_ctx_t *ctx = hippo_fuzz_ctx();
    xmpp_stanza_t *music = xmpp_stanza_new(ctx);
    bool priming = req->kind == HIPPO_MUSIC_PRIMING;
    HIPPO_FUZZ_CHECK(music && xmpp_stanza_set_name(music, "music") == XMPP_EOK);
    HIPPO_FUZZ_CHECK(xmpp_stanza_set_ns(music, HIPPO_NS_MUSIC) == XMPP_EOK);
    HIPPO_FUZZ_CHECK(xmpp_stanza_set_attribute(
                         music, "type", priming ? "primingTracks" : "musicChanged") == XMPP_EOK);
    for (size_t i = 0; i < req->n_tracks; i++) {
        xmpp_stanza_t *track = music;
        if (priming) {
            track = xmpp_stanza_new(ctx);
            HIPPO_FUZZ_CHECK(track && xmpp_stanza_set_name(track, "track") == XMPP_EOK);
            HIPPO_FUZZ_CHECK(xmpp_stanza_add_child(music, track) == XMPP_EOK);
            xmpp_stanza_release(track); /* MUSIC holds it */
        }
        add_props(track, &req->tracks[i]);
    }
    return music;
}

static bool same_tracks(const hippo_music_request *a, const hippo_music_request *b)
{
    if (a->kind != b->kind || a->n_tracks != b->n_tracks)
        return false;
    for (size_t i = 0; i < a->n_tracks; i++)
        for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++) {
            const char *x = a->tracks[i].value[k], *y = b->tracks[i].value[k];
            if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
                return false;
        }
    return true;
}

static void check_reparse(const hippo_music_request *req)
{
    xmpp_stanza_t *again = payload_of(req);
    hippo_music_request req2;
    char err[512] = "";
    int rc = hippo_music_parse(again, &req2, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "written back, refused: %s\n", err);
    HIPPO_FUZZ_CHECK(rc == 0);
    HIPPO_FUZZ_CHECK(req2.n_ignored == 0 && same_tracks(req, &req2));
    hippo_music_request_free(&req2);
    xmpp_stanza_release(again);
}

static void check_accepted(hippo_music_request *req)
{
    size_t max = req->kind == HIPPO_MUSIC_PRIMING ? HIPPO_MUSIC_MAX_TRACKS : 1;
    HIPPO_FUZZ_CHECK(req->n_tracks <= max);
    for (size_t i = 0; i < req->n_tracks; i++)
        check_track(&req->tracks[i]);
    check_literal(req->tracks, req->n_tracks, true);
    if (req->n_tracks == 1)
        check_literal(req->tracks, 1, false);
    check_reparse(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = hippo_fuzz_string(data, size);
    xmpp_stanza_t *payload = xmpp_stanza_new_from_string(hippo_fuzz_ctx(), xml);
    free(xml);
    if (!payload)
        return 0;
    hippo_music_request req;
    char err[512] = "";
    if (hippo_music_parse(payload, &req, err, sizeof err) == 0) {
        check_accepted(&req);
        hippo_music_request_free(&req);
    } else {
        HIPPO_FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        HIPPO_FUZZ_CHECK(req.tracks == NULL && req.n_tracks == 0);
    }
    xmpp_stanza_release(payload);
    return 0;
}
