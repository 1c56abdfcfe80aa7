/* Unit tests for the user-side IQ payloads (src/user_iq_xml.c, src/music_track.c): every
 * reply and notification builder's output, and sample requests, validated against
 * schema/{clientinfo,music,myspace,prefs}.xsd with libxml2; the request parsers' rules. */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "music_track.h"
#include "user_iq_xml.h"

#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"

enum { XSD_CLIENTINFO, XSD_MUSIC, XSD_MYSPACE, XSD_PREFS, XSD_N };
static const char *const xsd_files[XSD_N] = {"clientinfo.xsd", "music.xsd", "myspace.xsd",
                                             "prefs.xsd"};

typedef struct fixture {
    xmpp_ctx_t *ctx;
    xmlSchemaPtr schema[XSD_N];
    char last_error[1024]; /* the first validity error of the last validation */
} fixture;

static void keep_first_error(void *arg, xmlErrorPtr e)
{
    fixture *f = arg;
    if (!f->last_error[0] && e && e->message)
        snprintf(f->last_error, sizeof f->last_error, "%s", e->message);
}

static xmlSchemaPtr load_schema(const char *name)
{
    const char *src = getenv("SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/schema/%s", src ? src : ".", name);
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(path);
    if (!pctx)
        return NULL;
    xmlSchemaPtr schema = xmlSchemaParse(pctx);
    xmlSchemaFreeParserCtxt(pctx);
    return schema;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    xmpp_initialize();
    f->ctx = xmpp_ctx_new(NULL, NULL);
    for (int i = 0; i < XSD_N; i++) {
        f->schema[i] = load_schema(xsd_files[i]);
        if (!f->schema[i]) {
            fprintf(stderr, "cannot load schema %s (is SRCDIR set?)\n", xsd_files[i]);
            return -1;
        }
    }
    *state = f;
    return f->ctx ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < XSD_N; i++)
        xmlSchemaFree(f->schema[i]);
    xmpp_ctx_free(f->ctx);
    xmpp_shutdown();
    xmlCleanupParser();
    free(f);
    return 0;
}

/* Validates the text XML against schema WHICH: 0 when valid. */
static int validate_text(fixture *f, int which, const char *xml)
{
    f->last_error[0] = '\0';
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "payload.xml", NULL, XML_PARSE_NONET);
    if (!doc) {
        snprintf(f->last_error, sizeof f->last_error, "not well-formed");
        return -1;
    }
    xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(f->schema[which]);
    assert_non_null(v);
    xmlSchemaSetValidStructuredErrors(v, keep_first_error, f);
    int rc = xmlSchemaValidateDoc(v, doc);
    xmlSchemaFreeValidCtxt(v);
    xmlFreeDoc(doc);
    return rc;
}

/* Validates EL (serialized by libstrophe, as hippod sends it), optionally as the strict
 * type XSI_TYPE of its namespace; REPORT prints why it is invalid. 0 when valid. */
static int check(fixture *f, int which, xmpp_stanza_t *el, const char *xsi_type, bool report)
{
    if (xsi_type) {
        xmpp_stanza_set_attribute(el, "xmlns:xsi", NS_XSI);
        xmpp_stanza_set_attribute(el, "xsi:type", xsi_type);
    }
    char *buf;
    size_t len;
    assert_int_equal(xmpp_stanza_to_text(el, &buf, &len), XMPP_EOK);
    int rc = validate_text(f, which, buf);
    if (xsi_type) {
        xmpp_stanza_del_attribute(el, "xsi:type");
        xmpp_stanza_del_attribute(el, "xmlns:xsi");
    }
    if (rc != 0 && report)
        fprintf(stderr, "# invalid (%s): %s\n  %s\n", xsd_files[which], f->last_error, buf);
    xmpp_free(f->ctx, buf);
    return rc;
}

#define assert_valid(f, which, el, type) assert_int_equal(check(f, which, el, type, true), 0)
#define validate_quiet(f, which, el, type) check(f, which, el, type, false)

static xmpp_stanza_t *parse(fixture *f, const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(f->ctx, xml);
    assert_non_null(s);
    return s;
}

static char *text_of(fixture *f, xmpp_stanza_t *el)
{
    char *buf;
    size_t len;
    assert_int_equal(xmpp_stanza_to_text(el, &buf, &len), XMPP_EOK);
    (void)f;
    return buf;
}

/* ---- clientInfo ---------------------------------------------------------------------- */

static void clientinfo_reply_validates(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el =
        hippo_clientinfo_element(f->ctx, "1.1.50", "1.1.60", "http://example.org/get?x=1&y=2");
    assert_non_null(el);
    assert_string_equal(xmpp_stanza_get_name(el), "clientInfo");
    assert_string_equal(xmpp_stanza_get_ns(el), HIPPO_NS_CLIENTINFO);
    assert_string_equal(xmpp_stanza_get_attribute(el, "current"), "1.1.60");
    assert_valid(f, XSD_CLIENTINFO, el, NULL);
    assert_valid(f, XSD_CLIENTINFO, el, "ClientInfoReply");
    /* the strict request type refuses a reply: the schema can tell them apart */
    assert_int_not_equal(validate_quiet(f, XSD_CLIENTINFO, el, "ClientInfoRequest"), 0);
    xmpp_stanza_release(el);

    el = hippo_clientinfo_element(f->ctx, "1.0", "1.1", "ftp://example.org/");
    assert_int_not_equal(validate_quiet(f, XSD_CLIENTINFO, el, NULL), 0);
    xmpp_stanza_release(el);
}

static void clientinfo_requests(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el = parse(f, "<clientInfo xmlns='" HIPPO_NS_CLIENTINFO "' platform='linux' "
                                 "distribution='fedora5' architecture='i686' version='5'/>");
    assert_valid(f, XSD_CLIENTINFO, el, "ClientInfoRequest");
    hippo_clientinfo_request ci;
    char err[256];
    assert_int_equal(hippo_clientinfo_parse(el, &ci, err, sizeof err), 0);
    assert_string_equal(ci.platform, "linux");
    assert_string_equal(ci.distribution, "fedora5");
    assert_string_equal(ci.architecture, "i686");
    assert_string_equal(ci.version, "5");
    xmpp_stanza_release(el);

    el = parse(f, "<clientInfo xmlns='" HIPPO_NS_CLIENTINFO "' platform='windows' version=''/>");
    assert_int_equal(hippo_clientinfo_parse(el, &ci, err, sizeof err), 0);
    assert_null(ci.version); /* empty = absent */
    assert_null(ci.distribution);
    xmpp_stanza_release(el);

    el = parse(f, "<clientInfo xmlns='" HIPPO_NS_CLIENTINFO "'/>");
    assert_int_equal(hippo_clientinfo_parse(el, &ci, err, sizeof err), -1);
    assert_non_null(strstr(err, "platform"));
    assert_int_not_equal(validate_quiet(f, XSD_CLIENTINFO, el, "ClientInfoRequest"), 0);
    xmpp_stanza_release(el);

    char long_attr[HIPPO_CLIENTINFO_MAX_ATTR + 2];
    memset(long_attr, 'a', sizeof long_attr - 1);
    long_attr[sizeof long_attr - 1] = '\0';
    el = parse(f, "<clientInfo xmlns='" HIPPO_NS_CLIENTINFO "' platform='linux'/>");
    xmpp_stanza_set_attribute(el, "architecture", long_attr);
    assert_int_equal(hippo_clientinfo_parse(el, &ci, err, sizeof err), -1);
    assert_non_null(strstr(err, "architecture"));
    assert_int_not_equal(validate_quiet(f, XSD_CLIENTINFO, el, NULL), 0);
    xmpp_stanza_release(el);
}

/* ---- prefs --------------------------------------------------------------------------- */

static void prefs_reply_validates(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el = hippo_prefs_element(f->ctx);
    assert_non_null(el);
    assert_valid(f, XSD_PREFS, el, NULL); /* an empty map (and the request shape) */
    assert_int_equal(hippo_prefs_add(el, "applicationUsageEnabled", "false"), 0);
    assert_int_equal(hippo_prefs_add(el, "musicSharingEnabled", "true"), 0);
    assert_int_equal(hippo_prefs_add(el, "other", "a <b> & \"c\""), 0);
    assert_int_equal(hippo_prefs_add(el, "empty", ""), 0);
    assert_valid(f, XSD_PREFS, el, NULL);
    char *text = text_of(f, el);
    assert_non_null(strstr(text, "<prop key=\"musicSharingEnabled\">true</prop>"));
    assert_non_null(strstr(text, "a &lt;b&gt; &amp;"));
    assert_null(strstr(text, "xmlns=\"\"")); /* props inherit the prefs namespace */
    xmpp_free(f->ctx, text);

    assert_int_equal(hippo_prefs_add(el, "other", "again"), 0);
    assert_int_not_equal(validate_quiet(f, XSD_PREFS, el, NULL), 0); /* one prop per key */
    xmpp_stanza_release(el);
}

/* ---- myspace ------------------------------------------------------------------------- */

static void myspace_replies_validate(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el = hippo_myspace_info_element(f->ctx, "alicespace");
    assert_string_equal(xmpp_stanza_get_attribute(el, "mySpaceName"), "alicespace");
    assert_valid(f, XSD_MYSPACE, el, "MySpaceInfoReply");
    xmpp_stanza_release(el);

    el = hippo_myspace_info_element(f->ctx, NULL);
    assert_null(xmpp_stanza_get_attribute(el, "mySpaceName"));
    assert_valid(f, XSD_MYSPACE, el, "MySpaceInfoReply");
    for (int i = 0; i < HIPPO_MYSPACE_MAX_COMMENTS; i++)
        assert_int_equal(hippo_myspace_info_add_comment(el, "-9223372036854775808", "42"), 0);
    assert_valid(f, XSD_MYSPACE, el, "MySpaceInfoReply");
    assert_int_equal(hippo_myspace_info_add_comment(el, "1", "2"), 0);
    assert_int_not_equal(validate_quiet(f, XSD_MYSPACE, el, NULL), 0); /* over the bound */
    xmpp_stanza_release(el);

    el = hippo_myspace_info_element(f->ctx, NULL);
    assert_int_equal(hippo_myspace_info_add_contact(el, "bobspace", "123"), 0);
    assert_int_equal(hippo_myspace_info_add_contact(el, "carol & co", "0"), 0);
    assert_valid(f, XSD_MYSPACE, el, "MySpaceInfoReply");
    xmpp_stanza_t *contact = xmpp_stanza_get_child_by_name(el, "contact");
    assert_string_equal(xmpp_stanza_get_attribute(contact, "friendID"), "123");
    assert_string_equal(xmpp_stanza_get_attribute(contact, "friendId"), "123");
    assert_int_not_equal(validate_quiet(f, XSD_MYSPACE, el, "MySpaceInfoRequest"), 0);
    xmpp_stanza_release(el);

    el = hippo_myspace_info_element(f->ctx, NULL);
    assert_int_equal(hippo_myspace_info_add_comment(el, "12x", "1"), 0);
    assert_int_not_equal(validate_quiet(f, XSD_MYSPACE, el, NULL), 0); /* not a number */
    xmpp_stanza_release(el);
}

/* Names and prefs come from the database: bytes XML does not allow are replaced, so they
 * cannot break the stream (found with the test seam). */
static void database_text_is_cleaned(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el = hippo_myspace_info_element(f->ctx, "bad\x01name");
    assert_string_equal(xmpp_stanza_get_attribute(el, "mySpaceName"), "bad\xef\xbf\xbdname");
    assert_int_equal(hippo_myspace_info_add_contact(el, "\xff", "1"), 0);
    xmpp_stanza_t *contact = xmpp_stanza_get_child_by_name(el, "contact");
    assert_string_equal(xmpp_stanza_get_attribute(contact, "name"), "\xef\xbf\xbd");
    xmpp_stanza_release(el);
    el = hippo_prefs_element(f->ctx);
    assert_int_equal(hippo_prefs_add(el, "k\x02", "v\x1b"), 0);
    xmpp_stanza_t *prop = xmpp_stanza_get_child_by_name(el, "prop");
    assert_string_equal(xmpp_stanza_get_attribute(prop, "key"), "k\xef\xbf\xbd");
    char *text = xmpp_stanza_get_text(prop);
    assert_string_equal(text, "v\xef\xbf\xbd");
    xmpp_free(f->ctx, text);
    xmpp_stanza_release(el);
}

static void myspace_notifications_validate(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el = hippo_myspace_name_changed_element(f->ctx, "newname");
    assert_string_equal(xmpp_stanza_get_name(el), "mySpaceNameChanged");
    assert_valid(f, XSD_MYSPACE, el, NULL);
    xmpp_stanza_release(el);
    el = hippo_myspace_name_changed_element(f->ctx, NULL);
    assert_null(xmpp_stanza_get_attribute(el, "name"));
    assert_valid(f, XSD_MYSPACE, el, NULL);
    xmpp_stanza_release(el);
    el = hippo_myspace_contact_comment_element(f->ctx);
    assert_string_equal(xmpp_stanza_get_name(el), "mySpaceContactComment");
    assert_string_equal(xmpp_stanza_get_ns(el), HIPPO_NS_MYSPACE);
    assert_valid(f, XSD_MYSPACE, el, NULL);
    xmpp_stanza_release(el);
}

static void myspace_requests(void **state)
{
    fixture *f = *state;
    static const char *const gets[] = {"getName", "getBlogComments", "getContacts"};
    for (size_t i = 0; i < 3; i++) {
        char xml[256];
        snprintf(xml, sizeof xml, "<mySpaceInfo xmlns='%s' type='%s'/>", HIPPO_NS_MYSPACE, gets[i]);
        xmpp_stanza_t *el = parse(f, xml);
        assert_valid(f, XSD_MYSPACE, el, "MySpaceInfoRequest");
        xmpp_stanza_release(el);
    }
    xmpp_stanza_t *el = parse(f, "<notifyContactComment xmlns='" HIPPO_NS_MYSPACE
                                 "' type='notifyContactComment' name='bobspace'/>");
    assert_valid(f, XSD_MYSPACE, el, NULL);
    char err[256];
    assert_int_equal(
        hippo_contact_comment_name_check(xmpp_stanza_get_attribute(el, "name"), err, sizeof err),
        0);
    xmpp_stanza_release(el);
    assert_int_equal(hippo_contact_comment_name_check(NULL, err, sizeof err), -1);
    assert_int_equal(hippo_contact_comment_name_check(" \t", err, sizeof err), -1);
    char long_name[HIPPO_MYSPACE_MAX_NAME + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(hippo_contact_comment_name_check(long_name, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer"));

    el = parse(f, "<addBlogComment xmlns='" HIPPO_NS_MYSPACE "' type='addBlogComment'>"
                  "<posterId>456</posterId><commentId>0123</commentId></addBlogComment>");
    assert_valid(f, XSD_MYSPACE, el, NULL);
    hippo_blog_comment c;
    assert_int_equal(hippo_blog_comment_parse(el, &c, err, sizeof err), 0);
    assert_string_equal(c.comment_id, "123");
    assert_string_equal(c.poster_id, "456");
    xmpp_stanza_release(el);
}

static void blog_comment_errors(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *children;
        const char *error; /* a substring of the reason */
    } cases[] = {
        {"<commentId>1</commentId>", "missing parameter for addBlogComment: posterId"},
        {"<posterId>1</posterId>", "missing parameter for addBlogComment: commentId"},
        {"", "missing parameter"},
        {"<commentId>1</commentId><posterId>2</posterId><extra/>", "unknown element <{"},
        {"<commentId>1</commentId><posterId xmlns='urn:x'>2</posterId>", "{urn:x}posterId"},
        {"<commentId>x</commentId><posterId>2</posterId>", "commentId must be a 64-bit integer"},
        {"<commentId></commentId><posterId>2</posterId>", "commentId must be"},
        {"<commentId>1.5</commentId><posterId>2</posterId>", "commentId must be"},
        {"<commentId>9223372036854775808</commentId><posterId>2</posterId>", "commentId must be"},
        {"<commentId>+1</commentId><posterId>2</posterId>", "commentId must be"},
        {"<commentId>1</commentId><posterId><b>2</b></posterId>", "posterId must hold only"},
        {"<commentId>1</commentId><commentId>1</commentId><posterId>2</posterId>", "twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char xml[512], err[256] = "";
        snprintf(xml, sizeof xml, "<x xmlns='%s' type='addBlogComment'>%s</x>", HIPPO_NS_MYSPACE,
                 cases[i].children);
        xmpp_stanza_t *el = parse(f, xml);
        hippo_blog_comment c;
        assert_int_equal(hippo_blog_comment_parse(el, &c, err, sizeof err), -1);
        if (!strstr(err, cases[i].error))
            fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].error);
        xmpp_stanza_release(el);
    }
    /* children without a namespace, as the original clients may have sent them */
    xmpp_stanza_t *el =
        parse(f, "<x xmlns='" HIPPO_NS_MYSPACE "'><commentId xmlns=''> -7\n"
                 "</commentId><posterId xmlns=''>9223372036854775807</posterId></x>");
    hippo_blog_comment c;
    char err[256];
    assert_int_equal(hippo_blog_comment_parse(el, &c, err, sizeof err), 0);
    assert_string_equal(c.comment_id, "-7");
    assert_string_equal(c.poster_id, "9223372036854775807");
    xmpp_stanza_release(el);
}

/* ---- music --------------------------------------------------------------------------- */

static void music_requests_validate_and_parse(void **state)
{
    fixture *f = *state;
    xmpp_stanza_t *el =
        parse(f, "<music xmlns='" HIPPO_NS_MUSIC "' type='musicChanged'>"
                 "<prop key='type'>FILE</prop><prop key='format'>MP3</prop><prop key='name'> Song "
                 "</prop><prop key='artist'>Band</prop><prop key='album'></prop>"
                 "<prop key='url'>http://example.org/a.mp3</prop><prop key='duration'>-1</prop>"
                 "<prop key='fileSize'>123456789012</prop><prop key='trackNumber'>3</prop>"
                 "<prop key='discIdentifier'>abc</prop><prop key='track-number'>3</prop></music>");
    assert_valid(f, XSD_MUSIC, el, "MusicChanged");
    hippo_music_request m;
    char err[256];
    assert_int_equal(hippo_music_parse(el, &m, err, sizeof err), 0);
    assert_int_equal(m.kind, HIPPO_MUSIC_CHANGED);
    assert_int_equal(m.n_tracks, 1);
    assert_int_equal(m.n_ignored, 1); /* track-number */
    assert_string_equal(m.tracks[0].value[HIPPO_TRACK_NAME], "Song");
    assert_null(m.tracks[0].value[HIPPO_TRACK_ALBUM]);
    assert_string_equal(m.tracks[0].value[HIPPO_TRACK_FILE_SIZE], "123456789012");
    char *lit = hippo_tracks_array_literal(m.tracks, 1, false);
    assert_string_equal(lit, "{\"FILE\",\"MP3\",\"Song\",\"Band\",NULL,"
                             "\"http://example.org/a.mp3\",\"-1\",\"123456789012\",\"3\",\"abc\"}");
    free(lit);
    hippo_music_request_free(&m);
    xmpp_stanza_release(el);

    el = parse(f, "<music xmlns='" HIPPO_NS_MUSIC "' type='musicChanged'/>");
    assert_valid(f, XSD_MUSIC, el, "MusicChanged");
    assert_int_equal(hippo_music_parse(el, &m, err, sizeof err), 0);
    assert_int_equal(m.n_tracks, 0); /* stopped */
    hippo_music_request_free(&m);
    xmpp_stanza_release(el);

    el = parse(f, "<music xmlns='" HIPPO_NS_MUSIC "' type='primingTracks'>"
                  "<track><prop key='name'>One \"1\"</prop><prop key='artist'>A\\B</prop></track>"
                  "<track/><track><prop key='url'>file:///c:/x.mp3</prop></track>"
                  "<track><prop key='name'>Two</prop></track></music>");
    assert_valid(f, XSD_MUSIC, el, "PrimingTracks");
    assert_int_equal(hippo_music_parse(el, &m, err, sizeof err), 0);
    assert_int_equal(m.kind, HIPPO_MUSIC_PRIMING);
    assert_int_equal(m.n_tracks, 2); /* empty tracks (a dropped url leaves one) are skipped */
    assert_int_equal(m.n_ignored, 1);
    lit = hippo_tracks_array_literal(m.tracks, m.n_tracks, true);
    assert_string_equal(lit, "{{NULL,NULL,\"One \\\"1\\\"\",\"A\\\\B\",NULL,NULL,NULL,NULL,NULL,"
                             "NULL},{NULL,NULL,\"Two\",NULL,NULL,NULL,NULL,NULL,NULL,NULL}}");
    free(lit);
    hippo_music_request_free(&m);
    xmpp_stanza_release(el);

    lit = hippo_tracks_array_literal(NULL, 0, true);
    assert_string_equal(lit, "{}");
    free(lit);
}

static void music_priming_bound(void **state)
{
    fixture *f = *state;
    size_t len = 200 + (HIPPO_MUSIC_MAX_TRACKS + 1) * 64;
    char *xml = malloc(len);
    assert_non_null(xml);
    for (int n = HIPPO_MUSIC_MAX_TRACKS; n <= HIPPO_MUSIC_MAX_TRACKS + 1; n++) {
        int at = snprintf(xml, len, "<music xmlns='%s' type='primingTracks'>", HIPPO_NS_MUSIC);
        for (int i = 0; i < n; i++)
            at += snprintf(xml + at, len - (size_t)at, "<track><prop key='name'>t%d</prop></track>",
                           i);
        snprintf(xml + at, len - (size_t)at, "</music>");
        xmpp_stanza_t *el = parse(f, xml);
        hippo_music_request m;
        char err[256];
        int rc = hippo_music_parse(el, &m, err, sizeof err);
        if (n == HIPPO_MUSIC_MAX_TRACKS) {
            assert_int_equal(rc, 0);
            assert_int_equal(m.n_tracks, HIPPO_MUSIC_MAX_TRACKS);
            assert_string_equal(m.tracks[99].value[HIPPO_TRACK_NAME], "t99");
            assert_valid(f, XSD_MUSIC, el, "PrimingTracks");
            hippo_music_request_free(&m);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "more than 100 tracks"));
            assert_int_not_equal(validate_quiet(f, XSD_MUSIC, el, NULL), 0);
        }
        xmpp_stanza_release(el);
    }
    free(xml);
}

static void music_errors(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *attrs;
        const char *children;
        const char *error;
    } cases[] = {
        {"", "", "missing music type; known types are: musicChanged, primingTracks"},
        {"type='stop'", "", "unknown music type \"stop\"; known types are: musicChanged"},
        {"type='musicChanged'", "<track/>", "unknown element <{" HIPPO_NS_MUSIC "}track>"},
        {"type='musicChanged'", "<prop xmlns='urn:x' key='name'>a</prop>", "{urn:x}prop"},
        {"type='primingTracks'", "<prop key='name'>a</prop>", "in primingTracks (expected track)"},
        {"type='primingTracks'", "<track><x/></track>", "unknown element <{" HIPPO_NS_MUSIC "}x>"},
        {"type='musicChanged'", "<prop>a</prop>", "prop without a key"},
        {"type='musicChanged'", "<prop key=''>a</prop>", "prop without a key"},
        {"type='musicChanged'", "<prop key='name'>a<b/></prop>", "prop name must hold only text"},
        {"type='musicChanged'", "<prop key='type'>MP3</prop>", "prop type must be one of UNKNOWN"},
        {"type='musicChanged'", "<prop key='type'>file</prop>", "prop type must be"},
        {"type='musicChanged'", "<prop key='format'>OGG</prop>", "prop format must be one of"},
        {"type='musicChanged'", "<prop key='duration'>-2</prop>", "prop duration must be"},
        {"type='musicChanged'", "<prop key='duration'>2147483648</prop>", "prop duration must"},
        {"type='musicChanged'", "<prop key='duration'>1e3</prop>", "prop duration must be"},
        {"type='musicChanged'", "<prop key='fileSize'>-5</prop>", "prop fileSize must be"},
        {"type='musicChanged'", "<prop key='fileSize'>99999999999999999999</prop>", "fileSize"},
        {"type='musicChanged'", "<prop key='trackNumber'>0</prop>", "prop trackNumber must be"},
        {"type='musicChanged'", "<prop key='trackNumber'>-3</prop>", "prop trackNumber must be"},
        {"type='musicChanged'", "<prop key='name'>a</prop><prop key='name'>b</prop>", "twice"},
        {"type='musicChanged'", "<prop key='name'></prop><prop key='name'>b</prop>", "twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char xml[512], err[256] = "";
        snprintf(xml, sizeof xml, "<music xmlns='%s' %s>%s</music>", HIPPO_NS_MUSIC, cases[i].attrs,
                 cases[i].children);
        xmpp_stanza_t *el = parse(f, xml);
        hippo_music_request m;
        assert_int_equal(hippo_music_parse(el, &m, err, sizeof err), -1);
        assert_null(m.tracks); /* nothing left to free */
        if (!strstr(err, cases[i].error))
            fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].error);
        xmpp_stanza_release(el);
    }
}

static void music_value_bounds(void **state)
{
    fixture *f = *state;
    char value[HIPPO_MUSIC_MAX_VALUE + 2];
    for (int extra = 0; extra <= 1; extra++) {
        memset(value, 'v', HIPPO_MUSIC_MAX_VALUE + extra);
        value[HIPPO_MUSIC_MAX_VALUE + extra] = '\0';
        xmpp_stanza_t *el = parse(f, "<music xmlns='" HIPPO_NS_MUSIC "' type='musicChanged'/>");
        xmpp_stanza_t *prop = xmpp_stanza_new(f->ctx);
        xmpp_stanza_set_name(prop, "prop");
        xmpp_stanza_set_attribute(prop, "key", "album");
        xmpp_stanza_t *text = xmpp_stanza_new(f->ctx);
        xmpp_stanza_set_text(text, value);
        xmpp_stanza_add_child(prop, text);
        xmpp_stanza_release(text);
        xmpp_stanza_add_child(el, prop);
        xmpp_stanza_release(prop);
        hippo_music_request m;
        char err[256];
        int rc = hippo_music_parse(el, &m, err, sizeof err);
        if (extra) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "longer than 1024 bytes"));
            assert_int_not_equal(validate_quiet(f, XSD_MUSIC, el, NULL), 0);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(strlen(m.tracks[0].value[HIPPO_TRACK_ALBUM]), HIPPO_MUSIC_MAX_VALUE);
            assert_valid(f, XSD_MUSIC, el, "MusicChanged");
            hippo_music_request_free(&m);
        }
        xmpp_stanza_release(el);
    }
    /* too many props in one track */
    char xml[4096];
    int at = snprintf(xml, sizeof xml, "<music xmlns='%s' type='musicChanged'>", HIPPO_NS_MUSIC);
    for (int i = 0; i <= HIPPO_MUSIC_MAX_PROPS; i++)
        at += snprintf(xml + at, sizeof xml - (size_t)at, "<prop key='k%d'>v</prop>", i);
    snprintf(xml + at, sizeof xml - (size_t)at, "</music>");
    xmpp_stanza_t *el = parse(f, xml);
    hippo_music_request m;
    char err[256];
    assert_int_equal(hippo_music_parse(el, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 32 props"));
    xmpp_stanza_release(el);
}

static void music_urls(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *url;
        bool kept;
    } cases[] = {
        {"http://example.org", true},
        {"HTTPS://example.org/a b", false},
        {"https://example.org/a?b#c", true},
        {"http://", false},
        {"http:///path", false},
        {"ftp://example.org/", false},
        {"example.org", false},
        {"javascript:alert(1)", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char xml[512], err[256];
        snprintf(xml, sizeof xml,
                 "<music xmlns='%s' type='musicChanged'><prop key='name'>n</prop>"
                 "<prop key='url'>%s</prop></music>",
                 HIPPO_NS_MUSIC, cases[i].url);
        xmpp_stanza_t *el = parse(f, xml);
        hippo_music_request m;
        assert_int_equal(hippo_music_parse(el, &m, err, sizeof err), 0);
        const char *got = m.tracks[0].value[HIPPO_TRACK_URL];
        if (cases[i].kept != (got != NULL))
            fail_msg("url \"%s\": kept %d", cases[i].url, got != NULL);
        assert_int_equal(m.n_ignored, cases[i].kept ? 0 : 1);
        hippo_music_request_free(&m);
        xmpp_stanza_release(el);
    }
}

static void parse_int_rules(void **state)
{
    (void)state;
    long long v;
    assert_true(hippo_user_iq_parse_int(" -1 ", -1, 5, &v));
    assert_int_equal(v, -1);
    assert_true(hippo_user_iq_parse_int("007", 0, 10, &v));
    assert_int_equal(v, 7);
    assert_false(hippo_user_iq_parse_int("-2", -1, 5, &v));
    assert_false(hippo_user_iq_parse_int("6", -1, 5, &v));
    assert_false(hippo_user_iq_parse_int("", -1, 5, &v));
    assert_false(hippo_user_iq_parse_int(NULL, -1, 5, &v));
    assert_false(hippo_user_iq_parse_int("- 1", -5, 5, &v));
    assert_false(hippo_user_iq_parse_int("0x1", 0, 5, &v));
    assert_false(hippo_user_iq_parse_int("1 2", 0, 50, &v));
    assert_true(hippo_user_iq_parse_int("9223372036854775807", 0, LLONG_MAX, &v));
    assert_false(hippo_user_iq_parse_int("9223372036854775808", 0, LLONG_MAX, &v));
}

static void key_names(void **state)
{
    (void)state;
    assert_string_equal(hippo_track_key_name(HIPPO_TRACK_TYPE), "type");
    assert_string_equal(hippo_track_key_name(HIPPO_TRACK_FILE_SIZE), "fileSize");
    assert_string_equal(hippo_track_key_name(HIPPO_TRACK_DISC_IDENTIFIER), "discIdentifier");
    assert_null(hippo_track_key_name(HIPPO_TRACK_N_KEYS));
    assert_null(hippo_track_key_name(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clientinfo_reply_validates),
        cmocka_unit_test(clientinfo_requests),
        cmocka_unit_test(prefs_reply_validates),
        cmocka_unit_test(database_text_is_cleaned),
        cmocka_unit_test(myspace_replies_validate),
        cmocka_unit_test(myspace_notifications_validate),
        cmocka_unit_test(myspace_requests),
        cmocka_unit_test(blog_comment_errors),
        cmocka_unit_test(music_requests_validate_and_parse),
        cmocka_unit_test(music_priming_bound),
        cmocka_unit_test(music_errors),
        cmocka_unit_test(music_value_bounds),
        cmocka_unit_test(music_urls),
        cmocka_unit_test(parse_int_rules),
        cmocka_unit_test(key_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
