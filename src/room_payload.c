/* room_payload.c - the payloads of the rooms namespace (userInfo, messageInfo, roomInfo,
 * the details objects) and the small formatting helpers both dialects share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "post_xml.h"
#include "room_stanzas.h"
#include "stanza.h"

static const char *const role_names[] = {
    [HIPPO_ROLE_NONMEMBER] = "nonmember",
    [HIPPO_ROLE_VISITOR] = "visitor",
    [HIPPO_ROLE_PARTICIPANT] = "participant",
};

const char *hippo_room_role_name(hippo_room_role role)
{
    return role_names[role];
}

hippo_room_role hippo_room_role_parse(const char *name)
{
    if (name && strcmp(name, "participant") == 0)
        return HIPPO_ROLE_PARTICIPANT;
    if (name && strcmp(name, "visitor") == 0)
        return HIPPO_ROLE_VISITOR;
    return HIPPO_ROLE_NONMEMBER;
}

const char *hippo_room_photo_url(char *buf, size_t size, const char *user_id, int photo_version)
{
    snprintf(buf, size, "/files/headshots/60/%s?v=%d", user_id, photo_version);
    return buf;
}

const char *hippo_room_stamp(char *buf, size_t size, long long ts_ms)
{
    time_t secs = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", date, (int)(ts_ms % 1000));
    return buf;
}

int hippo_room_set_text_attr(xmpp_stanza_t *el, const char *key, const char *value)
{
    char *clean = hippo_post_xml_clean_text(value);
    int rc = clean ? xmpp_stanza_set_attribute(el, key, clean) : XMPP_EMEM;
    free(clean);
    return rc == XMPP_EOK ? 0 : -1;
}

int hippo_room_add_clean_text(xmpp_stanza_t *el, const char *text)
{
    char *clean = hippo_post_xml_clean_text(text);
    int rc = clean ? hippo_stanza_add_text(el, clean) : -1;
    free(clean);
    return rc;
}

int hippo_room_set_from(xmpp_stanza_t *stanza, const char *room_jid, const char *resource)
{
    if (!resource)
        return xmpp_stanza_set_from(stanza, room_jid) == XMPP_EOK ? 0 : -1;
    size_t n = strlen(room_jid) + strlen(resource) + 2;
    char *jid = malloc(n);
    if (!jid)
        return -1;
    snprintf(jid, n, "%s/%s", room_jid, resource);
    int rc = hippo_room_set_text_attr(stanza, "from", jid);
    free(jid);
    return rc;
}

int hippo_room_adopt(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
    if (!child)
        return -1;
    int rc = xmpp_stanza_add_child(parent, child);
    xmpp_stanza_release(child);
    return rc == XMPP_EOK ? 0 : -1;
}

int hippo_room_add_body(xmpp_stanza_t *stanza, const char *text)
{
    xmpp_stanza_t *el = hippo_stanza_add_element(stanza, "body", NULL);
    return el ? hippo_room_add_clean_text(el, text) : -1;
}

static int set_int(xmpp_stanza_t *el, const char *key, long long value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", value);
    return xmpp_stanza_set_attribute(el, key, buf) == XMPP_EOK ? 0 : -1;
}

static xmpp_stanza_t *new_element(xmpp_ctx_t *ctx, const char *name)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx);
    if (!el)
        return NULL;
    if (xmpp_stanza_set_name(el, name) != XMPP_EOK ||
        xmpp_stanza_set_ns(el, HIPPO_NS_ROOMS) != XMPP_EOK) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

/* name, version and smallPhotoUrl: who a userInfo or messageInfo is about. */
static int set_identity(xmpp_stanza_t *el, const hippo_room_user *user)
{
    char url[96];
    hippo_room_photo_url(url, sizeof url, user->id, user->photo_version);
    if (hippo_room_set_text_attr(el, "name", user->name) < 0 ||
        set_int(el, "version", user->photo_version) < 0 ||
        xmpp_stanza_set_attribute(el, "smallPhotoUrl", url) != XMPP_EOK)
        return -1;
    return 0;
}

/* musicPlaying, arrangementName and artist, always: the original (era B) put them on every
 * userInfo, and its Windows client compares musicPlaying with strcmp without checking that
 * it is there. */
static int set_music(xmpp_stanza_t *el, const hippo_room_music *music)
{
    const char *name = music->arrangement_name ? music->arrangement_name : "";
    const char *artist = music->artist ? music->artist : "";
    if (xmpp_stanza_set_attribute(el, "musicPlaying", music->playing ? "true" : "false") !=
            XMPP_EOK ||
        hippo_room_set_text_attr(el, "arrangementName", name) < 0 ||
        hippo_room_set_text_attr(el, "artist", artist) < 0)
        return -1;
    return 0;
}

xmpp_stanza_t *hippo_room_user_info(xmpp_ctx_t *ctx, const hippo_room_user *user,
                                    hippo_room_role role, const hippo_room_role *old_role)
{
    xmpp_stanza_t *el = new_element(ctx, "userInfo");
    if (!el)
        return NULL;
    if (set_identity(el, user) < 0 || set_music(el, &user->music) < 0 ||
        xmpp_stanza_set_attribute(el, "role", hippo_room_role_name(role)) != XMPP_EOK ||
        (old_role &&
         xmpp_stanza_set_attribute(el, "oldRole", hippo_room_role_name(*old_role)) != XMPP_EOK)) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

xmpp_stanza_t *hippo_room_message_info(xmpp_ctx_t *ctx, const hippo_room_msg *msg)
{
    xmpp_stanza_t *el = new_element(ctx, "messageInfo");
    if (!el)
        return NULL;
    if (set_identity(el, &msg->sender) < 0 || set_int(el, "timestamp", msg->ts_ms) < 0 ||
        set_int(el, "serial", msg->serial) < 0) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

xmpp_stanza_t *hippo_room_room_info(xmpp_ctx_t *ctx, const char *kind, const char *title)
{
    xmpp_stanza_t *el = new_element(ctx, "roomInfo");
    if (!el)
        return NULL;
    if (xmpp_stanza_set_attribute(el, "kind", kind) != XMPP_EOK ||
        (title && hippo_room_set_text_attr(el, "title", title) < 0)) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

xmpp_stanza_t *hippo_room_group_objects(xmpp_ctx_t *ctx, const char *group_id, const char *name,
                                        int photo_version)
{
    char home[64], photo[96];
    snprintf(home, sizeof home, "/group?who=%s", group_id);
    snprintf(photo, sizeof photo, "/files/groupshots/60/%s?v=%d", group_id, photo_version);
    xmpp_stanza_t *objects = new_element(ctx, "objects");
    if (!objects)
        return NULL;
    xmpp_stanza_t *group = hippo_stanza_add_element(objects, "group", HIPPO_NS_ROOMS);
    if (!group || xmpp_stanza_set_attribute(group, "id", group_id) != XMPP_EOK ||
        hippo_room_set_text_attr(group, "name", name) < 0 ||
        xmpp_stanza_set_attribute(group, "homeUrl", home) != XMPP_EOK ||
        xmpp_stanza_set_attribute(group, "smallPhotoUrl", photo) != XMPP_EOK) {
        xmpp_stanza_release(objects);
        return NULL;
    }
    return objects;
}

xmpp_stanza_t *hippo_room_details_info(xmpp_ctx_t *ctx, const char *kind, const char *title,
                                       xmpp_stanza_t *objects)
{
    xmpp_stanza_t *info = hippo_room_room_info(ctx, kind, title);
    if (info && objects && xmpp_stanza_add_child(info, objects) != XMPP_EOK) {
        xmpp_stanza_release(info);
        return NULL;
    }
    return info;
}
