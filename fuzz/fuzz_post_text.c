/* fuzz_post_text.c - src/post_xml.c: text from the database on its way into post payloads,
 * and the checks of the post requests clients send. The input is up to seven NUL-separated
 * fields: id, poster, title, text, user name, postInfo, and the XML of a request payload.
 * hippo_post_xml_clean_text must give valid UTF-8 of XML 1.0 characters only (checked by an
 * oracle that follows Unicode's table of well-formed byte sequences), leave clean text alone
 * and be idempotent; hippo_post_xml_is_well_formed must only accept clean text; and a post
 * built from the fields must serialize to well-formed XML (libxml2) that reads back as the
 * cleaned fields (with XML's line-end and attribute-value normalization). Each request check
 * (recentPosts, hotness, method, postControl) must accept exactly what docs/protocol-posts.md
 * allows, as an oracle reads the payload, and hand out exactly the id it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fuzz_util.h"
#include "post_xml.h"

enum { F_ID, F_POSTER, F_TITLE, F_TEXT, F_NAME, F_INFO, F_REQUEST, F_N };

/* ---- the oracle for clean text */

/* Length of the well-formed UTF-8 sequence at S when it encodes an XML 1.0 Char, else 0. */
static size_t xml_char_len(const unsigned char *s)
{
    static const struct {
        unsigned char lo0, hi0, lo1, hi1;
        size_t len;
    } forms[] = {/* Unicode 15, table 3-7 */
                 {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
                 {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3},
                 {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
                 {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4}};
    if (s[0] < 0x80)
        return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' ? 1 : 0;
    if (s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
        return 0; /* U+FFFE, U+FFFF */
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        if (s[0] < forms[f].lo0 || s[0] > forms[f].hi0 || s[1] < forms[f].lo1 ||
            s[1] > forms[f].hi1)
            continue;
        for (size_t i = 2; i < forms[f].len; i++)
            if (s[i] < 0x80 || s[i] > 0xBF)
                return 0;
        return forms[f].len;
    }
    return 0;
}

static bool is_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t len = xml_char_len(p);
        if (len == 0)
            return false;
        p += len;
    }
    return true;
}

/* hippo_post_xml_clean_text(S), never NULL; the caller frees it. */
static char *clean(const char *s)
{
    char *c = hippo_post_xml_clean_text(s);
    HIPPO_FUZZ_CHECK(c != NULL);
    return c;
}

/* WELL_FORMED: also check hippo_post_xml_is_well_formed (a libxml2 parse, so only for the
 * field that is postInfo). */
static void check_clean(const char *s, bool well_formed)
{
    char *c = clean(s);
    HIPPO_FUZZ_CHECK(is_clean(c));
    HIPPO_FUZZ_CHECK(strlen(c) <= 3 * strlen(s));
    HIPPO_FUZZ_CHECK(!is_clean(s) || strcmp(c, s) == 0);
    char *again = clean(c);
    HIPPO_FUZZ_CHECK(strcmp(again, c) == 0);
    free(again);
    free(c);
    /* a document libxml2 accepts is made of XML characters only */
    HIPPO_FUZZ_CHECK(!well_formed || !hippo_post_xml_is_well_formed(s) || is_clean(s));
}

/* ---- what a receiver's parser reads back */

/* XML 1.0 2.11: "\r\n" and a lone "\r" are read as "\n"; in attribute values (3.3.3) every
 * blank then becomes a space. Returns a malloc'd copy. */
static char *as_read(const char *s, bool attribute)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    HIPPO_FUZZ_CHECK(out != NULL);
    for (const char *p = s; *p; p++) {
        char c = *p == '\r' ? '\n' : *p;
        if (*p == '\r' && p[1] == '\n')
            p++;
        *o++ = attribute && (c == '\n' || c == '\t') ? ' ' : c;
    }
    *o = '\0';
    return out;
}

static xmlNodePtr child_named(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

static void expect_read(const xmlChar *got, const char *field, bool attribute)
{
    char *c = clean(field), *want = as_read(c, attribute);
    HIPPO_FUZZ_CHECK(got != NULL && strcmp((const char *)got, want) == 0);
    free(want);
    free(c);
}

static void expect_text(xmlNodePtr parent, const char *name, const char *field)
{
    xmlNodePtr el = child_named(parent, name);
    HIPPO_FUZZ_CHECK(el != NULL);
    xmlChar *got = xmlNodeGetContent(el);
    expect_read(got, field, false);
    xmlFree(got);
}

static void expect_attr(xmlNodePtr el, const char *name, const char *field)
{
    HIPPO_FUZZ_CHECK(el != NULL);
    xmlChar *got = xmlGetProp(el, (const xmlChar *)name);
    expect_read(got, field, true);
    xmlFree(got);
}

static void check_read_back(const char *xml, size_t len, char **f)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "post.xml", "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        fprintf(stderr, "not well-formed: %s\n", xml);
    HIPPO_FUZZ_CHECK(doc != NULL);
    xmlNodePtr root = xmlDocGetRootElement(doc), post = child_named(root, "post");
    expect_attr(child_named(root, "user"), "name", f[F_NAME]);
    expect_attr(post, "id", f[F_ID]);
    expect_text(post, "poster", f[F_POSTER]);
    expect_text(post, "title", f[F_TITLE]);
    expect_text(post, "text", f[F_TEXT]);
    if (hippo_post_xml_is_well_formed(f[F_INFO]))
        expect_text(post, "postInfo", f[F_INFO]);
    else
        HIPPO_FUZZ_CHECK(child_named(post, "postInfo") == NULL);
    xmlFreeDoc(doc);
}

static void check_payload(char **f)
{
    xmpp_stanza_t *w = hippo_post_xml_wrapper(hippo_fuzz_ctx(), "recentPosts");
    HIPPO_FUZZ_CHECK(w != NULL);
    hippo_post_entity user = {.kind = HIPPO_ENTITY_USER, .id = f[F_POSTER], .name = f[F_NAME]};
    hippo_post_ref to = {.kind = HIPPO_ENTITY_GROUP, .id = f[F_ID]};
    hippo_post_fields p = {.id = f[F_ID],
                           .poster_id = f[F_POSTER],
                           .href = f[F_TEXT],
                           .title = f[F_TITLE],
                           .text = f[F_TEXT],
                           .post_date = -1,
                           .info = f[F_INFO],
                           .recipients = &to,
                           .n_recipients = 1};
    const char *viewers[] = {f[F_POSTER], f[F_NAME]};
    hippo_livepost_fields l = {.id = f[F_ID], .viewers = viewers, .n_viewers = 2};
    HIPPO_FUZZ_CHECK(hippo_post_xml_add_entity(w, &user) == 0);
    HIPPO_FUZZ_CHECK(hippo_post_xml_add_post(w, &p) == 0);
    HIPPO_FUZZ_CHECK(hippo_post_xml_add_livepost(w, &l) == 0);
    char *xml;
    size_t len;
    HIPPO_FUZZ_CHECK(xmpp_stanza_to_text(w, &xml, &len) == XMPP_EOK);
    check_read_back(xml, len, f);
    xmpp_free(hippo_fuzz_ctx(), xml);
    xmpp_stanza_release(w);
}

/* ---- the request checks */

static bool guid_ok(const char *s)
{
    size_t n = 0;
    while (s && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
                 (s[n] >= '0' && s[n] <= '9')))
        n++;
    return s && n == HIPPO_GUID_LEN && s[n] == '\0';
}

static bool is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The iq type, the element name, and children: blank text only, elements when TAGS_OK. */
static bool shape_ok(const char *type, xmpp_stanza_t *el, const char *want_type, const char *name,
                     bool tags_ok)
{
    if (!is(type, want_type) || !is(xmpp_stanza_get_name(el), name))
        return false;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        const char *t = xmpp_stanza_is_tag(c) ? NULL : xmpp_stanza_get_text_ptr(c);
        if (xmpp_stanza_is_tag(c) ? !tags_ok : t && t[strspn(t, " \t\r\n")] != '\0')
            return false;
    }
    return true;
}

static void check_recent_posts(const char *type, xmpp_stanza_t *el)
{
    const char *id = xmpp_stanza_get_attribute(el, "id"), *got = NULL;
    bool ok = shape_ok(type, el, "get", "recentPosts", false) && (!id || guid_ok(id));
    const char *err = hippo_post_xml_check_recent_posts(type, el, &got);
    HIPPO_FUZZ_CHECK((err == NULL) == ok && (ok ? got == id : *err != '\0'));
}

static void check_hotness(const char *type, xmpp_stanza_t *el)
{
    const char *what = xmpp_stanza_get_attribute(el, "type");
    bool ok = shape_ok(type, el, "get", "hotness", false) && (!what || is(what, "getValue"));
    const char *err = hippo_post_xml_check_hotness(type, el);
    HIPPO_FUZZ_CHECK((err == NULL) == ok && (ok || *err != '\0'));
}

/* The text of the one <arg xmlns=servermethod> child holding text only (the caller frees
 * it with xmpp_free), or NULL when the children are not exactly that. */
static char *method_argument(xmpp_stanza_t *el)
{
    xmpp_stanza_t *arg = NULL;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (arg || !is(xmpp_stanza_get_name(c), "arg") ||
            !is(xmpp_stanza_get_ns(c), HIPPO_POST_XML_NS_METHOD))
            return NULL;
        arg = c;
    }
    for (xmpp_stanza_t *c = arg ? xmpp_stanza_get_children(arg) : NULL; c;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            return NULL;
    return arg ? xmpp_stanza_get_text(arg) : NULL;
}

static void check_method(const char *type, xmpp_stanza_t *el)
{
    char *arg = method_argument(el);
    bool ok = shape_ok(type, el, "set", "method", true) &&
              is(xmpp_stanza_get_attribute(el, "name"), "postClicked") && guid_ok(arg);
    char got[HIPPO_GUID_LEN + 1] = "";
    const char *err = hippo_post_xml_check_method(type, el, got);
    HIPPO_FUZZ_CHECK((err == NULL) == ok && (ok ? strcmp(got, arg) == 0 : *err != '\0'));
    if (arg)
        xmpp_free(hippo_fuzz_ctx(), arg);
}

static void check_post_control(const char *type, xmpp_stanza_t *el)
{
    const char *what = xmpp_stanza_get_attribute(el, "type");
    const char *id = xmpp_stanza_get_attribute(el, "id"), *got = NULL;
    bool ok = shape_ok(type, el, "set", "postControl", false) &&
              (is(what, "ignore") || is(what, "unignore")) && guid_ok(id);
    bool ignore = false;
    const char *err = hippo_post_xml_check_post_control(type, el, &ignore, &got);
    HIPPO_FUZZ_CHECK((err == NULL) == ok);
    HIPPO_FUZZ_CHECK(ok ? got == id && ignore == is(what, "ignore") : *err != '\0');
}

static void check_requests(const char *xml)
{
    static const char *const types[] = {"get", "set", "result", NULL};
    xmpp_stanza_t *el = xmpp_stanza_new_from_string(hippo_fuzz_ctx(), xml);
    if (!el)
        return;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        check_recent_posts(types[i], el);
        check_hotness(types[i], el);
        check_method(types[i], el);
        check_post_control(types[i], el);
    }
    xmpp_stanza_release(el);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[F_N];
    size_t n = 0;
    for (size_t at = 0; n < F_N; n++) {
        const uint8_t *end = at < size ? memchr(data + at, '\0', size - at) : NULL;
        size_t len = at < size ? (end ? (size_t)(end - data) : size) - at : 0;
        f[n] = hippo_fuzz_string(data + at, len);
        at += len + 1;
    }
    for (size_t i = 0; i < F_N; i++)
        check_clean(f[i], i == F_INFO);
    check_payload(f);
    check_requests(f[F_REQUEST]);
    for (size_t i = 0; i < F_N; i++)
        free(f[i]);
    return 0;
}
