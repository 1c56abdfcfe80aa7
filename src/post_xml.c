/* post_xml.c - the XML of the post-related protocol areas, without a server (see
 * post_xml.h): payload builders from plain structs, the hotness reply, request checks. */
#include "post_xml.h"

#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"

/* ------------------------------------------------------------------ text cleaning */

static bool xml_char_allowed(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Length of the valid UTF-8 sequence at S (its code point in *CP), or 0 when invalid
 * (overlong forms, surrogates and values above U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF)
        len = 2, min = 0x80, *cp = b & 0x1Fu;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3, min = 0x800, *cp = b & 0x0Fu;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4, min = 0x10000, *cp = b & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        *cp = (*cp << 6) | (s[i] & 0x3Fu);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

char *hippo_post_xml_clean_text(const char *s)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1); /* each byte becomes at most one U+FFFD */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    char *o = out;
    while (*p) {
        uint32_t cp;
        size_t len = utf8_decode(p, &cp);
        if (len && xml_char_allowed(cp)) {
            memcpy(o, p, len);
            o += len;
            p += len;
        } else {
            memcpy(o, replacement, 3);
            o += 3;
            p += len ? len : 1;
        }
    }
    *o = '\0';
    return out;
}

bool hippo_post_xml_is_well_formed(const char *xml)
{
    size_t len = strlen(xml);
    if (len == 0 || len > INT32_MAX)
        return false;
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "postInfo.xml", "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return false;
    /* a DTD could make the clients' parsers expand entities or fetch files */
    bool ok = doc->intSubset == NULL && doc->extSubset == NULL;
    xmlFreeDoc(doc);
    return ok;
}

/* ------------------------------------------------------------------ builders */

static int set_attr(xmpp_stanza_t *el, const char *name, const char *value)
{
    char *clean = hippo_post_xml_clean_text(value ? value : "");
    if (!clean)
        return -1;
    int rc = xmpp_stanza_set_attribute(el, name, clean) == XMPP_EOK ? 0 : -1;
    free(clean);
    return rc;
}

/* A new child NAME of PARENT (no namespace of its own: it inherits PARENT's). */
static xmpp_stanza_t *add_child(xmpp_stanza_t *parent, const char *name)
{
    xmpp_stanza_t *child = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    if (!child)
        return NULL;
    if (xmpp_stanza_set_name(child, name) != XMPP_EOK ||
        xmpp_stanza_add_child(parent, child) != XMPP_EOK) {
        xmpp_stanza_release(child);
        return NULL;
    }
    xmpp_stanza_release(child); /* the parent holds its own reference */
    return child;
}

static int add_text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *child = add_child(parent, name);
    if (!child)
        return -1;
    if (!text || !*text)
        return 0;
    char *clean = hippo_post_xml_clean_text(text);
    xmpp_stanza_t *node = clean ? xmpp_stanza_new(xmpp_stanza_get_context(parent)) : NULL;
    int rc = -1;
    if (node && xmpp_stanza_set_text(node, clean) == XMPP_EOK &&
        xmpp_stanza_add_child(child, node) == XMPP_EOK)
        rc = 0;
    if (node)
        xmpp_stanza_release(node);
    free(clean);
    return rc;
}

static int add_number_child(xmpp_stanza_t *parent, const char *name, long long value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", value);
    return add_text_child(parent, name, buf);
}

static const char *bool_text(bool b)
{
    return b ? "true" : "false";
}

static const char *entity_element(hippo_entity_kind kind)
{
    switch (kind) {
    case HIPPO_ENTITY_USER:
        return "user";
    case HIPPO_ENTITY_RESOURCE:
        return "resource";
    case HIPPO_ENTITY_GROUP:
        return "group";
    }
    return "user";
}

static int set_urls(xmpp_stanza_t *el, const hippo_post_entity *e)
{
    bool user = e->kind == HIPPO_ENTITY_USER;
    char home[64], photo[96];
    snprintf(home, sizeof home, "/%s?who=%s", user ? "person" : "group", e->id);
    snprintf(photo, sizeof photo, "/files/%s/60/%s?v=%lld", user ? "headshots" : "groupshots",
             e->id, e->photo_version);
    return set_attr(el, "homeUrl", home) == 0 && set_attr(el, "smallPhotoUrl", photo) == 0 ? 0 : -1;
}

int hippo_post_xml_add_entity(xmpp_stanza_t *parent, const hippo_post_entity *e)
{
    xmpp_stanza_t *el = add_child(parent, entity_element(e->kind));
    if (!el || set_attr(el, "id", e->id) < 0 || set_attr(el, "name", e->name) < 0)
        return -1;
    return e->kind == HIPPO_ENTITY_RESOURCE ? 0 : set_urls(el, e);
}

static int add_recipients(xmpp_stanza_t *post, const hippo_post_fields *p)
{
    xmpp_stanza_t *list = add_child(post, "recipients");
    if (!list)
        return -1;
    for (size_t i = 0; i < p->n_recipients; i++) {
        xmpp_stanza_t *r = add_child(list, entity_element(p->recipients[i].kind));
        if (!r || set_attr(r, "id", p->recipients[i].id) < 0)
            return -1;
    }
    return 0;
}

int hippo_post_xml_add_post(xmpp_stanza_t *parent, const hippo_post_fields *p)
{
    xmpp_stanza_t *post = add_child(parent, "post");
    if (!post || set_attr(post, "id", p->id) < 0 ||
        add_text_child(post, "poster", p->poster_id) < 0 ||
        add_text_child(post, "href", p->href) < 0 || add_text_child(post, "title", p->title) < 0 ||
        add_text_child(post, "text", p->text) < 0 ||
        add_text_child(post, "toWorld", bool_text(p->to_world)) < 0 ||
        add_number_child(post, "postDate", p->post_date) < 0)
        return -1;
    /* sent as escaped text, and only when it is XML at all, as the original did */
    if (p->info && hippo_post_xml_is_well_formed(p->info) &&
        add_text_child(post, "postInfo", p->info) < 0)
        return -1;
    if (add_recipients(post, p) < 0 ||
        add_text_child(post, "favorite", bool_text(p->favorite)) < 0 ||
        add_text_child(post, "ignored", bool_text(p->ignored)) < 0)
        return -1;
    return 0;
}

int hippo_post_xml_add_livepost(xmpp_stanza_t *parent, const hippo_livepost_fields *l)
{
    xmpp_stanza_t *live = add_child(parent, "livepost");
    if (!live || set_attr(live, "id", l->id) < 0)
        return -1;
    xmpp_stanza_t *viewers = add_child(live, "recentViewers");
    if (!viewers)
        return -1;
    for (size_t i = 0; i < l->n_viewers && i < HIPPO_POST_XML_MAX_VIEWERS; i++) {
        xmpp_stanza_t *v = add_child(viewers, "viewer");
        if (!v || set_attr(v, "id", l->viewers[i]) < 0)
            return -1;
    }
    if (add_number_child(live, "chattingUserCount", l->chatting_users) < 0 ||
        add_number_child(live, "viewingUserCount", l->viewing_users) < 0 ||
        add_number_child(live, "totalViewers", l->total_viewers) < 0)
        return -1;
    return 0;
}

static xmpp_stanza_t *new_element(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx);
    if (!el)
        return NULL;
    if (xmpp_stanza_set_name(el, name) != XMPP_EOK || xmpp_stanza_set_ns(el, ns) != XMPP_EOK) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

xmpp_stanza_t *hippo_post_xml_wrapper(xmpp_ctx_t *ctx, const char *name)
{
    return new_element(ctx, name, HIPPO_POST_XML_NS_POST);
}

xmpp_stanza_t *hippo_post_xml_hotness(xmpp_ctx_t *ctx, const char *value)
{
    static const char *const levels[] = {"COLD", "COOL", "WARM", "GETTING_HOT", "HOT"};
    bool known = false;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        known = known || (value && strcmp(value, levels[i]) == 0);
    if (!known)
        return NULL;
    xmpp_stanza_t *el = new_element(ctx, "hotness", HIPPO_POST_XML_NS_HOTNESS);
    if (el && xmpp_stanza_set_attribute(el, "value", value) != XMPP_EOK) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

/* ------------------------------------------------------------------ request checks */

static bool is_blank(const char *s)
{
    return s == NULL || s[strspn(s, " \t\r\n")] == '\0';
}

/* The iq type, the element name and the absence of content every request shares; CHILDREN
 * true when element children are checked by the caller. */
static const char *check_shape(const char *type, xmpp_stanza_t *payload, const char *want_type,
                               const char *name, bool children)
{
    if (!type || strcmp(type, want_type) != 0)
        return strcmp(want_type, "get") == 0 ? "this request must be an iq of type get"
                                             : "this request must be an iq of type set";
    const char *got = xmpp_stanza_get_name(payload);
    if (!got || strcmp(got, name) != 0)
        return "unknown request element in this namespace";
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c)) {
        if (xmpp_stanza_is_tag(c) ? !children : !is_blank(xmpp_stanza_get_text_ptr(c)))
            return xmpp_stanza_is_tag(c) ? "unexpected child element" : "unexpected text";
    }
    return NULL;
}

const char *hippo_post_xml_check_recent_posts(const char *type, xmpp_stanza_t *payload,
                                              const char **post_id)
{
    const char *err = check_shape(type, payload, "get", "recentPosts", false);
    if (err)
        return err;
    *post_id = xmpp_stanza_get_attribute(payload, "id");
    if (*post_id && !hippo_guid_valid(*post_id))
        return "bad post id: a GUID is 14 characters of [A-Za-z0-9]";
    return NULL;
}

const char *hippo_post_xml_check_hotness(const char *type, xmpp_stanza_t *payload)
{
    const char *err = check_shape(type, payload, "get", "hotness", false);
    if (err)
        return err;
    const char *what = xmpp_stanza_get_attribute(payload, "type");
    if (what && strcmp(what, "getValue") != 0)
        return "unknown hotness request type: the only one is getValue";
    return NULL;
}

/* Copies the GUID held by <arg> ARG into OUT. */
static const char *method_arg(xmpp_stanza_t *arg, char out[HIPPO_GUID_LEN + 1])
{
    if (hippo_stanza_element_count(arg) > 0)
        return "an <arg> holds text only";
    char *text = xmpp_stanza_get_text(arg);
    bool ok = text && hippo_guid_valid(text);
    if (ok)
        memcpy(out, text, HIPPO_GUID_LEN + 1);
    if (text)
        xmpp_free(xmpp_stanza_get_context(arg), text);
    return ok ? NULL : "bad post id: a GUID is 14 characters of [A-Za-z0-9]";
}

const char *hippo_post_xml_check_method(const char *type, xmpp_stanza_t *payload,
                                        char post_id[HIPPO_GUID_LEN + 1])
{
    const char *err = check_shape(type, payload, "set", "method", true);
    if (err)
        return err;
    const char *name = xmpp_stanza_get_attribute(payload, "name");
    if (!name)
        return "missing method name";
    if (strcmp(name, "postClicked") != 0)
        return "unknown method: the only one is postClicked";
    xmpp_stanza_t *arg = NULL;
    size_t n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *ns = xmpp_stanza_get_ns(c);
        if (strcmp(xmpp_stanza_get_name(c), "arg") != 0 || !ns ||
            strcmp(ns, HIPPO_POST_XML_NS_METHOD) != 0)
            return "unexpected child element: a method holds <arg> elements only";
        arg = c;
        n++;
    }
    if (n != 1)
        return "postClicked takes exactly one <arg>: the post id";
    return method_arg(arg, post_id);
}

const char *hippo_post_xml_check_post_control(const char *type, xmpp_stanza_t *payload,
                                              bool *ignore, const char **post_id)
{
    const char *err = check_shape(type, payload, "set", "postControl", false);
    if (err)
        return err;
    const char *what = xmpp_stanza_get_attribute(payload, "type");
    if (!what)
        return "missing postControl type (ignore or unignore)";
    if (strcmp(what, "ignore") != 0 && strcmp(what, "unignore") != 0)
        return "unknown postControl type: known types are ignore and unignore";
    *ignore = strcmp(what, "ignore") == 0;
    *post_id = xmpp_stanza_get_attribute(payload, "id");
    if (!*post_id)
        return "missing post id";
    if (!hippo_guid_valid(*post_id))
        return "bad post id: a GUID is 14 characters of [A-Za-z0-9]";
    return NULL;
}
