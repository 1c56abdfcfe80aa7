/* user_iq_xml.c - payloads of the clientInfo, myspace and prefs IQs and notifications. */
#include "user_iq_xml.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "post_xml.h"
#include "stanza.h"

/* ---- shared helpers ---------------------------------------------------------------- */

bool hippo_user_iq_child_ns_ok(xmpp_stanza_t *child, const char *ns)
{
    const char *have = xmpp_stanza_get_ns(child);
    return have == NULL || *have == '\0' || strcmp(have, ns) == 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool hippo_user_iq_parse_int(const char *text, long long min, long long max, long long *out)
{
    if (text == NULL)
        return false;
    while (is_blank(*text))
        text++;
    const char *digits = *text == '-' ? text + 1 : text;
    if (*digits < '0' || *digits > '9')
        return false; /* strtoll would also take "+", "0x" and leading blanks after '-' */
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    while (is_blank(*end))
        end++;
    if (errno == ERANGE || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
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

/* "<name>" or "<{ns}name>" for error texts (at most 80 bytes of each part). */
static void describe(xmpp_stanza_t *el, char *buf, size_t len)
{
    const char *ns = xmpp_stanza_get_ns(el);
    const char *name = xmpp_stanza_get_name(el);
    if (ns && *ns)
        snprintf(buf, len, "<{%.80s}%.80s>", ns, name ? name : "?");
    else
        snprintf(buf, len, "<%.80s>", name ? name : "?");
}

static xmpp_stanza_t *new_element(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx);
    if (!el)
        return NULL;
    if (xmpp_stanza_set_name(el, name) != XMPP_EOK ||
        (ns && xmpp_stanza_set_ns(el, ns) != XMPP_EOK)) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

/* Sets attribute NAME to VALUE cleaned for XML; true on success. Values come from the
 * database (names, prefs) and may hold bytes XML does not allow: sent as they are, they
 * would make the server close the component's stream, for every user. */
static bool set_attr(xmpp_stanza_t *el, const char *name, const char *value)
{
    char *clean = hippo_post_xml_clean_text(value);
    bool ok = clean && xmpp_stanza_set_attribute(el, name, clean) == XMPP_EOK;
    free(clean);
    return ok;
}

/* Adds TEXT cleaned for XML (as set_attr) as a text child; 0, or -1 when out of memory. */
static int add_clean_text(xmpp_stanza_t *el, const char *text)
{
    char *clean = hippo_post_xml_clean_text(text);
    int rc = clean ? hippo_stanza_add_text(el, clean) : -1;
    free(clean);
    return rc;
}

/* Appends <NAME>TEXT</NAME> (no namespace of its own: it inherits the parent's). */
static int add_text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *child = hippo_stanza_add_element(parent, name, NULL);
    if (!child)
        return -1;
    return *text ? add_clean_text(child, text) : 0;
}

/* ---- clientInfo -------------------------------------------------------------------- */

static int optional_attr(xmpp_stanza_t *payload, const char *name, const char **out, char *err,
                         size_t errlen)
{
    const char *v = xmpp_stanza_get_attribute(payload, name);
    *out = NULL;
    if (v == NULL || *v == '\0')
        return 0;
    if (strlen(v) > HIPPO_CLIENTINFO_MAX_ATTR) {
        fail(err, errlen, "clientInfo %s is longer than %d bytes", name, HIPPO_CLIENTINFO_MAX_ATTR);
        return -1;
    }
    *out = v;
    return 0;
}

int hippo_clientinfo_parse(xmpp_stanza_t *payload, hippo_clientinfo_request *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->platform = xmpp_stanza_get_attribute(payload, "platform");
    if (out->platform == NULL || *out->platform == '\0') {
        fail(err, errlen, "clientInfo needs a platform attribute");
        return -1;
    }
    if (optional_attr(payload, "distribution", &out->distribution, err, errlen) != 0 ||
        optional_attr(payload, "version", &out->version, err, errlen) != 0 ||
        optional_attr(payload, "architecture", &out->architecture, err, errlen) != 0)
        return -1;
    return 0;
}

xmpp_stanza_t *hippo_clientinfo_element(xmpp_ctx_t *ctx, const char *minimum, const char *current,
                                        const char *download)
{
    xmpp_stanza_t *el = new_element(ctx, "clientInfo", HIPPO_NS_CLIENTINFO);
    if (el && set_attr(el, "minimum", minimum) && set_attr(el, "current", current) &&
        set_attr(el, "download", download))
        return el;
    if (el)
        xmpp_stanza_release(el);
    return NULL;
}

/* ---- prefs ------------------------------------------------------------------------- */

xmpp_stanza_t *hippo_prefs_element(xmpp_ctx_t *ctx)
{
    return new_element(ctx, "prefs", HIPPO_NS_PREFS);
}

int hippo_prefs_add(xmpp_stanza_t *prefs, const char *key, const char *value)
{
    xmpp_stanza_t *prop = hippo_stanza_add_element(prefs, "prop", NULL);
    if (!prop || !set_attr(prop, "key", key))
        return -1;
    return *value ? add_clean_text(prop, value) : 0;
}

/* ---- myspace ----------------------------------------------------------------------- */

xmpp_stanza_t *hippo_myspace_info_element(xmpp_ctx_t *ctx, const char *name)
{
    xmpp_stanza_t *el = new_element(ctx, "mySpaceInfo", HIPPO_NS_MYSPACE);
    if (el && name && !set_attr(el, "mySpaceName", name)) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

int hippo_myspace_info_add_comment(xmpp_stanza_t *info, const char *comment_id,
                                   const char *poster_id)
{
    xmpp_stanza_t *comment = hippo_stanza_add_element(info, "comment", NULL);
    if (!comment || add_text_child(comment, "commentId", comment_id) != 0 ||
        add_text_child(comment, "posterId", poster_id) != 0)
        return -1;
    return 0;
}

int hippo_myspace_info_add_contact(xmpp_stanza_t *info, const char *name, const char *friend_id)
{
    xmpp_stanza_t *contact = hippo_stanza_add_element(info, "contact", NULL);
    if (!contact || !set_attr(contact, "name", name) || !set_attr(contact, "friendID", friend_id) ||
        !set_attr(contact, "friendId", friend_id))
        return -1;
    return 0;
}

xmpp_stanza_t *hippo_myspace_name_changed_element(xmpp_ctx_t *ctx, const char *name)
{
    xmpp_stanza_t *el = new_element(ctx, "mySpaceNameChanged", HIPPO_NS_MYSPACE);
    if (el && name && !set_attr(el, "name", name)) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

xmpp_stanza_t *hippo_myspace_contact_comment_element(xmpp_ctx_t *ctx)
{
    return new_element(ctx, "mySpaceContactComment", HIPPO_NS_MYSPACE);
}

/* Stores the number in CHILD's text into SLOT (24 bytes), unless already set. */
static int blog_value(xmpp_stanza_t *child, const char *name, char *slot, char *err, size_t errlen)
{
    if (*slot) {
        fail(err, errlen, "%s given twice in addBlogComment", name);
        return -1;
    }
    if (hippo_stanza_element_count(child) != 0) {
        fail(err, errlen, "%s must hold only a number", name);
        return -1;
    }
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(child);
    char *text = xmpp_stanza_get_text(child);
    long long v;
    bool ok = hippo_user_iq_parse_int(text, LLONG_MIN, LLONG_MAX, &v);
    if (text)
        xmpp_free(ctx, text);
    if (!ok) {
        fail(err, errlen, "%s must be a 64-bit integer", name);
        return -1;
    }
    snprintf(slot, 24, "%lld", v);
    return 0;
}

int hippo_blog_comment_parse(xmpp_stanza_t *payload, hippo_blog_comment *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c);
        int rc;
        if (hippo_user_iq_child_ns_ok(c, HIPPO_NS_MYSPACE) && strcmp(name, "commentId") == 0)
            rc = blog_value(c, name, out->comment_id, err, errlen);
        else if (hippo_user_iq_child_ns_ok(c, HIPPO_NS_MYSPACE) && strcmp(name, "posterId") == 0)
            rc = blog_value(c, name, out->poster_id, err, errlen);
        else {
            char what[200];
            describe(c, what, sizeof what);
            fail(err, errlen, "unknown element %s in addBlogComment (expected commentId, posterId)",
                 what);
            rc = -1;
        }
        if (rc != 0)
            return -1;
    }
    if (!*out->comment_id || !*out->poster_id) {
        fail(err, errlen, "missing parameter for addBlogComment: %s",
             !*out->comment_id ? "commentId" : "posterId");
        return -1;
    }
    return 0;
}

int hippo_contact_comment_name_check(const char *name, char *err, size_t errlen)
{
    const char *p = name;
    while (p && is_blank(*p))
        p++;
    if (p == NULL || *p == '\0') {
        fail(err, errlen, "notifyContactComment needs a name attribute");
        return -1;
    }
    if (strlen(name) > HIPPO_MYSPACE_MAX_NAME) {
        fail(err, errlen, "notifyContactComment name is longer than %d bytes",
             HIPPO_MYSPACE_MAX_NAME);
        return -1;
    }
    return 0;
}
