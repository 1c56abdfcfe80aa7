/* music_track.c - the music IQ payload: tracks of <prop key=K>V</prop>, checked against the
 * original value table (original-behaviour.md 5). */
#include "music_track.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_array.h"
#include "stanza.h"
#include "user_iq_xml.h"

static const char *const key_names[HIPPO_TRACK_N_KEYS] = {
    "type", "format",   "name",     "artist",      "album",
    "url",  "duration", "fileSize", "trackNumber", "discIdentifier",
};

static const char *const type_values[] = {"UNKNOWN",        "FILE",    "CD",
                                          "NETWORK_STREAM", "PODCAST", NULL};
static const char *const format_values[] = {"UNKNOWN", "MP3", "WMA", "AAC", "VORBIS", NULL};

const char *hippo_track_key_name(int key)
{
    return key >= 0 && key < HIPPO_TRACK_N_KEYS ? key_names[key] : NULL;
}

static int key_index(const char *name)
{
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++)
        if (strcmp(key_names[k], name) == 0)
            return k;
    return -1;
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool in_list(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0)
            return true;
    return false;
}

/* http:// or https://, a host, then no blank or control character. */
static bool is_http_url(const char *v)
{
    size_t skip = strncasecmp(v, "http://", 7) == 0    ? 7
                  : strncasecmp(v, "https://", 8) == 0 ? 8
                                                       : 0;
    if (skip == 0 || strchr("/?#", v[skip]) != NULL) /* also catches the empty host */
        return false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

typedef enum value_check { VALUE_OK, VALUE_IGNORED, VALUE_BAD } value_check;

/* Checks V (non-empty, trimmed) for KEY; *WHY names the rule it breaks. */
static value_check check_value(int key, const char *v, const char **why)
{
    long long n;
    switch (key) {
    case HIPPO_TRACK_TYPE:
        *why = "one of UNKNOWN, FILE, CD, NETWORK_STREAM, PODCAST";
        return in_list(v, type_values) ? VALUE_OK : VALUE_BAD;
    case HIPPO_TRACK_FORMAT:
        *why = "one of UNKNOWN, MP3, WMA, AAC, VORBIS";
        return in_list(v, format_values) ? VALUE_OK : VALUE_BAD;
    case HIPPO_TRACK_URL:
        return is_http_url(v) ? VALUE_OK : VALUE_IGNORED;
    case HIPPO_TRACK_DURATION:
        *why = "an integer number of seconds >= -1";
        return hippo_user_iq_parse_int(v, -1, INT32_MAX, &n) ? VALUE_OK : VALUE_BAD;
    case HIPPO_TRACK_FILE_SIZE:
        *why = "an integer number of bytes >= -1";
        return hippo_user_iq_parse_int(v, -1, LLONG_MAX, &n) ? VALUE_OK : VALUE_BAD;
    case HIPPO_TRACK_TRACK_NUMBER:
        *why = "an integer >= 1, or -1";
        return hippo_user_iq_parse_int(v, -1, INT32_MAX, &n) && n != 0 ? VALUE_OK : VALUE_BAD;
    default:
        return VALUE_OK;
    }
}

static void track_clear(hippo_track *t)
{
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++) {
        free(t->value[k]);
        t->value[k] = NULL;
    }
}

static bool track_empty(const hippo_track *t)
{
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++)
        if (t->value[k])
            return false;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A malloc'd copy of TEXT without surrounding blanks (TEXT may be NULL: ""). */
static char *trimmed_copy(const char *text)
{
    if (!text)
        text = "";
    while (is_blank(*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && is_blank(text[len - 1]))
        len--;
    return strndup(text, len);
}

static void describe(xmpp_stanza_t *el, char *buf, size_t len)
{
    const char *ns = xmpp_stanza_get_ns(el);
    const char *name = xmpp_stanza_get_name(el);
    if (ns && *ns)
        snprintf(buf, len, "<{%.80s}%.80s>", ns, name ? name : "?");
    else
        snprintf(buf, len, "<%.80s>", name ? name : "?");
}

/* The trimmed text of PROP (malloc'd), or NULL with ERR set. */
static char *prop_text(xmpp_stanza_t *prop, const char *key, char *err, size_t errlen)
{
    if (hippo_stanza_element_count(prop) != 0) {
        fail(err, errlen, "prop %.64s must hold only text", key);
        return NULL;
    }
    char *raw = xmpp_stanza_get_text(prop);
    char *value = trimmed_copy(raw);
    if (raw)
        xmpp_free(xmpp_stanza_get_context(prop), raw);
    if (!value)
        fail(err, errlen, "out of memory");
    else if (strlen(value) > HIPPO_MUSIC_MAX_VALUE) {
        fail(err, errlen, "prop %.64s is longer than %d bytes", key, HIPPO_MUSIC_MAX_VALUE);
        free(value);
        value = NULL;
    }
    return value;
}

typedef struct prop_state {
    hippo_track *track;
    unsigned seen; /* bit per known key */
    size_t *ignored;
} prop_state;

/* Takes one <prop>: stores, ignores or rejects its value. */
static int take_prop(prop_state *st, xmpp_stanza_t *prop, char *err, size_t errlen)
{
    const char *key = xmpp_stanza_get_attribute(prop, "key");
    if (!key || !*key) {
        fail(err, errlen, "prop without a key");
        return -1;
    }
    char *value = prop_text(prop, key, err, errlen);
    if (!value)
        return -1;
    int k = key_index(key);
    if (k >= 0 && (st->seen & (1u << k))) {
        fail(err, errlen, "prop %s given twice", key);
        free(value);
        return -1;
    }
    const char *why = "";
    value_check check = k < 0 || !*value ? VALUE_IGNORED : check_value(k, value, &why);
    if (k >= 0)
        st->seen |= 1u << k;
    if (check == VALUE_BAD) {
        fail(err, errlen, "prop %s must be %s", key, why);
        free(value);
        return -1;
    }
    if (check == VALUE_IGNORED) {
        *st->ignored += k < 0 || *value; /* an empty value is simply absent */
        free(value);
        return 0;
    }
    st->track->value[k] = value;
    return 0;
}

/* Reads the <prop> children of CONTAINER (WHERE names it in errors) into *TRACK. */
static int parse_props(xmpp_stanza_t *container, const char *where, hippo_track *track,
                       size_t *ignored, char *err, size_t errlen)
{
    prop_state st = {track, 0, ignored};
    size_t count = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(container); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (!hippo_user_iq_child_ns_ok(c, HIPPO_NS_MUSIC) ||
            strcmp(xmpp_stanza_get_name(c), "prop") != 0) {
            char what[200];
            describe(c, what, sizeof what);
            fail(err, errlen, "unknown element %s in %s (expected prop)", what, where);
            return -1;
        }
        if (++count > HIPPO_MUSIC_MAX_PROPS) {
            fail(err, errlen, "more than %d props in a track", HIPPO_MUSIC_MAX_PROPS);
            return -1;
        }
        if (take_prop(&st, c, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int parse_changed(xmpp_stanza_t *payload, hippo_music_request *out, char *err, size_t errlen)
{
    out->tracks = calloc(1, sizeof *out->tracks);
    if (!out->tracks) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    if (parse_props(payload, "musicChanged", out->tracks, &out->n_ignored, err, errlen) != 0)
        return -1;
    out->n_tracks = track_empty(out->tracks) ? 0 : 1; /* no values: playback stopped */
    return 0;
}

static int parse_priming(xmpp_stanza_t *payload, hippo_music_request *out, char *err, size_t errlen)
{
    out->tracks = calloc(HIPPO_MUSIC_MAX_TRACKS, sizeof *out->tracks);
    if (!out->tracks) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    size_t count = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (!hippo_user_iq_child_ns_ok(c, HIPPO_NS_MUSIC) ||
            strcmp(xmpp_stanza_get_name(c), "track") != 0) {
            char what[200];
            describe(c, what, sizeof what);
            fail(err, errlen, "unknown element %s in primingTracks (expected track)", what);
            return -1;
        }
        if (++count > HIPPO_MUSIC_MAX_TRACKS) {
            fail(err, errlen, "more than %d tracks in primingTracks", HIPPO_MUSIC_MAX_TRACKS);
            return -1;
        }
        hippo_track *t = &out->tracks[out->n_tracks];
        if (parse_props(c, "track", t, &out->n_ignored, err, errlen) != 0)
            return -1;
        out->n_tracks += !track_empty(t); /* a track without values is skipped */
    }
    return 0;
}

int hippo_music_parse(xmpp_stanza_t *payload, hippo_music_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *type = xmpp_stanza_get_attribute(payload, "type");
    int rc;
    if (type && strcmp(type, "musicChanged") == 0) {
        out->kind = HIPPO_MUSIC_CHANGED;
        rc = parse_changed(payload, out, err, errlen);
    } else if (type && strcmp(type, "primingTracks") == 0) {
        out->kind = HIPPO_MUSIC_PRIMING;
        rc = parse_priming(payload, out, err, errlen);
    } else {
        fail(err, errlen, "%s music type%s%.64s%s; known types are: musicChanged, primingTracks",
             type ? "unknown" : "missing", type ? " \"" : "", type ? type : "", type ? "\"" : "");
        return -1;
    }
    if (rc != 0) {
        /* a partly filled slot past n_tracks may hold values too */
        out->n_tracks = out->kind == HIPPO_MUSIC_PRIMING ? HIPPO_MUSIC_MAX_TRACKS : 1;
        hippo_music_request_free(out);
    }
    return rc;
}

void hippo_music_request_free(hippo_music_request *req)
{
    if (!req->tracks)
        return;
    for (size_t i = 0; i < req->n_tracks; i++)
        track_clear(&req->tracks[i]);
    free(req->tracks);
    memset(req, 0, sizeof *req);
}

/* Bytes needed for one row "{...}" of T. */
static size_t row_size(const hippo_track *t)
{
    size_t len = 2;
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++)
        len += 1 + (t->value[k] ? hippo_pg_quoted_size(t->value[k]) : 4);
    return len;
}

static char *put_row(char *p, const hippo_track *t)
{
    *p++ = '{';
    for (int k = 0; k < HIPPO_TRACK_N_KEYS; k++) {
        if (k > 0)
            *p++ = ',';
        const char *v = t->value[k];
        if (!v) {
            memcpy(p, "NULL", 4);
            p += 4;
            continue;
        }
        p = hippo_pg_put_quoted(p, v);
    }
    *p++ = '}';
    return p;
}

char *hippo_tracks_array_literal(const hippo_track *tracks, size_t n, bool nested)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += row_size(&tracks[i]) + 1;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    if (nested)
        *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        p = put_row(p, &tracks[i]);
    }
    if (nested)
        *p++ = '}';
    *p = '\0';
    return out;
}
