/* Unit tests for the room stanzas and payloads (src/room_payload.c, room_classic.c,
 * room_muc.c): every rooms-namespace payload the builders emit is validated against
 * schema/rooms.xsd with libxml2 (and the schema is shown to refuse wrong payloads); the
 * stanza shapes of both dialects are checked; and the backlog request parsing
 * (src/room_history.c) is exercised. */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "post_xml.h"
#include "room_handlers.h"
#include "room_stanzas.h"

#define ROOM_JID "ab_c1d_ef_gh_jk_lm_n@rooms.example.test"
#define U1 "Uaaaaaaaaaaaa1"
#define U1_NODE "ua_a_a_a_a_a_a_a_a_a_a_a_1" /* U1 mapped to a JID node */
#define G1 "Gaaaaaaaaaaaa1"
#define P1 "AbC1dEfGhJkLmN"

struct fixture {
    xmpp_ctx_t *ctx;
    xmlSchemaPtr rooms;
};

static const hippo_room_user alice = {
    .id = U1, .name = "Alice <&> \"A\"", .photo_version = 3, .nick = "Alice (2)"};
static const hippo_room_ref post_room = {.jid = ROOM_JID, .kind = "post"};

static int setup(void **state)
{
    static struct fixture f;
    xmpp_initialize();
    f.ctx = xmpp_ctx_new(NULL, NULL);
    const char *src = getenv("SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/schema/rooms.xsd", src ? src : ".");
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(path);
    f.rooms = pctx ? xmlSchemaParse(pctx) : NULL;
    if (pctx)
        xmlSchemaFreeParserCtxt(pctx);
    if (!f.rooms)
        fprintf(stderr, "cannot load %s (set SRCDIR to the source tree)\n", path);
    *state = &f;
    return f.ctx && f.rooms ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    xmlSchemaFree(f->rooms);
    xmpp_ctx_free(f->ctx);
    xmpp_shutdown();
    xmlCleanupParser();
    return 0;
}

static void quiet(void *arg, xmlErrorPtr error)
{
    (void)arg, (void)error;
}

/* 0 when XML is well-formed and valid against SCHEMA. */
static int validate_text(xmlSchemaPtr schema, const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return -1;
    xmlSchemaValidCtxtPtr vctx = xmlSchemaNewValidCtxt(schema);
    assert_non_null(vctx);
    xmlSchemaSetValidStructuredErrors(vctx, quiet, NULL);
    int rc = xmlSchemaValidateDoc(vctx, doc);
    xmlSchemaFreeValidCtxt(vctx);
    xmlFreeDoc(doc);
    return rc;
}

/* Validates EL (a payload element) as a document of its own. */
static void assert_valid(struct fixture *f, xmpp_stanza_t *el)
{
    assert_non_null(el);
    char *xml;
    size_t len;
    assert_int_equal(xmpp_stanza_to_text(el, &xml, &len), XMPP_EOK);
    if (validate_text(f->rooms, xml) != 0)
        fail_msg("not valid against rooms.xsd: %s", xml);
    xmpp_free(f->ctx, xml);
}

static void assert_invalid(struct fixture *f, const char *xml)
{
    if (validate_text(f->rooms, xml) == 0)
        fail_msg("rooms.xsd accepts what it should not: %s", xml);
}

static xmpp_stanza_t *child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name_and_ns(st, name, ns);
    if (!c)
        fail_msg("no <%s xmlns='%s'> child", name, ns);
    return c;
}

static void assert_attr(xmpp_stanza_t *el, const char *name, const char *value)
{
    const char *got = xmpp_stanza_get_attribute(el, name);
    if (!value) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, value);
}

/* ---- payloads against the schema */

static void user_info_is_valid(void **state)
{
    struct fixture *f = *state;
    hippo_room_role old = HIPPO_ROLE_NONMEMBER;
    xmpp_stanza_t *info = hippo_room_user_info(f->ctx, &alice, HIPPO_ROLE_PARTICIPANT, &old);
    assert_valid(f, info);
    assert_attr(info, "name", alice.name);
    assert_attr(info, "version", "3");
    assert_attr(info, "smallPhotoUrl", "/files/headshots/60/" U1 "?v=3");
    assert_attr(info, "role", "participant");
    assert_attr(info, "oldRole", "nonmember");
    /* no music known: still there (the Windows client strcmp()s musicPlaying unchecked) */
    assert_attr(info, "musicPlaying", "false");
    assert_attr(info, "arrangementName", "");
    assert_attr(info, "artist", "");
    xmpp_stanza_release(info);
    info = hippo_room_user_info(f->ctx, &alice, HIPPO_ROLE_VISITOR, NULL);
    assert_valid(f, info);
    assert_attr(info, "oldRole", NULL);
    xmpp_stanza_release(info);
}

static void user_info_carries_music(void **state)
{
    struct fixture *f = *state;
    hippo_room_user playing = alice;
    playing.music = (hippo_room_music){
        .playing = true, .arrangement_name = "Song <1> & \"2\"", .artist = "Band\x01 X"};
    xmpp_stanza_t *info = hippo_room_user_info(f->ctx, &playing, HIPPO_ROLE_PARTICIPANT, NULL);
    assert_valid(f, info);
    assert_attr(info, "musicPlaying", "true");
    assert_attr(info, "arrangementName", "Song <1> & \"2\"");
    assert_attr(info, "artist", "Band\xef\xbf\xbd X"); /* cleaned for XML: U+FFFD */
    char *xml;
    size_t len;
    assert_int_equal(xmpp_stanza_to_text(info, &xml, &len), XMPP_EOK);
    assert_non_null(strstr(xml, "arrangementName=\"Song &lt;1&gt; &amp; &quot;2&quot;\""));
    xmpp_free(f->ctx, xml);
    xmpp_stanza_release(info);
    /* stopped: the last song stays, not playing; in both dialects' presence */
    playing.music.playing = false;
    xmpp_stanza_t *p =
        hippo_room_classic_presence(f->ctx, &post_room, NULL, &playing, HIPPO_ROLE_VISITOR, NULL);
    info = child(child(p, "x", HIPPO_NS_MUC_USER), "userInfo", HIPPO_NS_ROOMS);
    assert_valid(f, info);
    assert_attr(info, "musicPlaying", "false");
    assert_attr(info, "arrangementName", "Song <1> & \"2\"");
    xmpp_stanza_release(p);
    p = hippo_room_muc_presence(f->ctx, &post_room, NULL, &playing, HIPPO_ROLE_PARTICIPANT,
                                (hippo_muc_flags){0});
    info = child(child(p, "x", HIPPO_NS_MUC_USER), "userInfo", HIPPO_NS_ROOMS);
    assert_valid(f, info);
    assert_attr(info, "artist", "Band\xef\xbf\xbd X");
    xmpp_stanza_release(p);
}

static void message_info_is_valid(void **state)
{
    struct fixture *f = *state;
    hippo_room_msg msg = {
        .sender = alice, .body = "hi", .serial = 42, .ts_ms = 1151234567890LL, .id = "m1"};
    xmpp_stanza_t *info = hippo_room_message_info(f->ctx, &msg);
    assert_valid(f, info);
    assert_attr(info, "serial", "42");
    assert_attr(info, "timestamp", "1151234567890");
    assert_attr(info, "name", alice.name);
    assert_attr(info, "version", "3");
    xmpp_stanza_release(info);
}

static void room_info_and_group_details_are_valid(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *info = hippo_room_room_info(f->ctx, "group", NULL);
    assert_valid(f, info);
    assert_attr(info, "title", NULL);
    xmpp_stanza_release(info);
    xmpp_stanza_t *objects = hippo_room_group_objects(f->ctx, G1, "Hikers", 2);
    xmpp_stanza_t *details = hippo_room_details_info(f->ctx, "group", "Hikers", objects);
    xmpp_stanza_release(objects);
    assert_valid(f, details);
    assert_attr(details, "title", "Hikers");
    xmpp_stanza_t *group =
        child(child(details, "objects", HIPPO_NS_ROOMS), "group", HIPPO_NS_ROOMS);
    assert_attr(group, "id", G1);
    assert_attr(group, "homeUrl", "/group?who=" G1);
    assert_attr(group, "smallPhotoUrl", "/files/groupshots/60/" G1 "?v=2");
    xmpp_stanza_release(details);
}

static void post_details_are_valid(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *objects = hippo_post_xml_wrapper(f->ctx, "objects");
    assert_non_null(objects);
    hippo_post_entity poster = {.kind = HIPPO_ENTITY_USER, .id = U1, .name = "Alice"};
    hippo_post_ref to = {.kind = HIPPO_ENTITY_USER, .id = U1};
    hippo_post_fields post = {.id = P1,
                              .poster_id = U1,
                              .href = "http://example.com/",
                              .title = "A read",
                              .text = "",
                              .post_date = 1151234567,
                              .recipients = &to,
                              .n_recipients = 1};
    hippo_livepost_fields live = {.id = P1, .chatting_users = 1};
    assert_int_equal(hippo_post_xml_add_entity(objects, &poster), 0);
    assert_int_equal(hippo_post_xml_add_post(objects, &post), 0);
    assert_int_equal(hippo_post_xml_add_livepost(objects, &live), 0);
    xmpp_stanza_t *details = hippo_room_details_info(f->ctx, "post", "A read", objects);
    xmpp_stanza_release(objects);
    assert_valid(f, details);
    xmpp_stanza_release(details);
}

static void schema_refuses_wrong_payloads(void **state)
{
    struct fixture *f = *state;
    const char *ns = "xmlns='" HIPPO_NS_ROOMS "'";
    char xml[512];
    snprintf(xml, sizeof xml,
             "<userInfo %s name='A' version='1' smallPhotoUrl='/files/headshots/60/%s?v=1' "
             "role='moderator'/>",
             ns, U1);
    assert_invalid(f, xml);
    snprintf(xml, sizeof xml,
             "<userInfo %s version='1' smallPhotoUrl='/files/headshots/60/%s?v=1' "
             "role='visitor'/>",
             ns, U1);
    assert_invalid(f, xml); /* no name */
    snprintf(xml, sizeof xml,
             "<userInfo %s name='A' version='1' smallPhotoUrl='/files/headshots/60/%s?v=1' "
             "role='visitor' arrangementName='' artist=''/>",
             ns, U1);
    assert_invalid(f, xml); /* no musicPlaying */
    snprintf(xml, sizeof xml,
             "<userInfo %s name='A' version='1' smallPhotoUrl='/files/headshots/60/%s?v=1' "
             "role='visitor' musicPlaying='1' arrangementName='' artist=''/>",
             ns, U1);
    assert_invalid(f, xml); /* musicPlaying is true or false */
    snprintf(xml, sizeof xml,
             "<messageInfo %s name='A' version='1' smallPhotoUrl='/files/headshots/60/%s?v=1' "
             "timestamp='-5' serial='1'/>",
             ns, U1);
    assert_invalid(f, xml);
    snprintf(xml, sizeof xml, "<roomInfo %s kind='music'/>", ns);
    assert_invalid(f, xml);
    snprintf(xml, sizeof xml, "<roomInfo %s kind='post'><objects/></roomInfo>", ns);
    assert_invalid(f, xml); /* a rooms-namespace objects needs its group */
}

/* ---- classic dialect */

static void classic_presence_shapes(void **state)
{
    struct fixture *f = *state;
    hippo_room_role old = HIPPO_ROLE_PARTICIPANT;
    xmpp_stanza_t *p = hippo_room_classic_presence(f->ctx, &post_room, "bob@example.test/r", &alice,
                                                   HIPPO_ROLE_VISITOR, &old);
    assert_non_null(p);
    assert_string_equal(xmpp_stanza_get_from(p), ROOM_JID "/" U1_NODE);
    assert_string_equal(xmpp_stanza_get_to(p), "bob@example.test/r");
    assert_null(xmpp_stanza_get_type(p)); /* available: no type attribute */
    xmpp_stanza_t *info = child(child(p, "x", HIPPO_NS_MUC_USER), "userInfo", HIPPO_NS_ROOMS);
    assert_valid(f, info);
    assert_attr(info, "role", "visitor");
    assert_attr(info, "oldRole", "participant");
    xmpp_stanza_t *room = child(p, "roomInfo", HIPPO_NS_ROOMS);
    assert_valid(f, room);
    assert_attr(room, "kind", "post");
    xmpp_stanza_release(p);

    p = hippo_room_classic_presence(f->ctx, &post_room, NULL, &alice, HIPPO_ROLE_NONMEMBER, &old);
    assert_string_equal(xmpp_stanza_get_type(p), "unavailable");
    assert_null(xmpp_stanza_get_child_by_name(p, "x"));
    assert_valid(f, child(p, "roomInfo", HIPPO_NS_ROOMS));
    xmpp_stanza_release(p);
}

static void classic_message_shapes(void **state)
{
    struct fixture *f = *state;
    hippo_room_msg msg = {.sender = alice, .body = "a < b & c", .serial = 7, .ts_ms = 1000};
    xmpp_stanza_t *m =
        hippo_room_classic_message(f->ctx, &post_room, "bob@example.test/r", &msg, false);
    assert_non_null(m);
    assert_null(xmpp_stanza_get_type(m)); /* classic messages have no type */
    assert_string_equal(xmpp_stanza_get_from(m), ROOM_JID "/" U1_NODE);
    char *body = xmpp_message_get_body(m);
    assert_string_equal(body, "a < b & c");
    xmpp_free(f->ctx, body);
    assert_valid(f, child(m, "messageInfo", HIPPO_NS_ROOMS));
    assert_valid(f, child(m, "roomInfo", HIPPO_NS_ROOMS));
    assert_null(xmpp_stanza_get_child_by_name(m, "x"));
    xmpp_stanza_release(m);

    m = hippo_room_classic_message(f->ctx, &post_room, NULL, &msg, true);
    xmpp_stanza_t *delay = child(m, "x", HIPPO_NS_LEGACY_DELAY);
    assert_attr(delay, "from", ROOM_JID "/" U1_NODE);
    assert_attr(delay, "stamp", NULL); /* as the original: the time is in messageInfo */
    xmpp_stanza_release(m);
}

/* ---- standard MUC dialect */

static xmpp_stanza_t *status_code(xmpp_stanza_t *x, const char *code)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (name && strcmp(name, "status") == 0 &&
            strcmp(xmpp_stanza_get_attribute(c, "code"), code) == 0)
            return c;
    }
    return NULL;
}

static void muc_presence_shapes(void **state)
{
    struct fixture *f = *state;
    hippo_muc_flags self = {.self = true, .nick_assigned = true};
    xmpp_stanza_t *p = hippo_room_muc_presence(f->ctx, &post_room, "alice@example.test/r", &alice,
                                               HIPPO_ROLE_PARTICIPANT, self);
    assert_non_null(p);
    assert_string_equal(xmpp_stanza_get_from(p), ROOM_JID "/Alice (2)");
    assert_null(xmpp_stanza_get_type(p));
    xmpp_stanza_t *x = child(p, "x", HIPPO_NS_MUC_USER);
    xmpp_stanza_t *item = xmpp_stanza_get_child_by_name(x, "item");
    assert_non_null(item);
    assert_attr(item, "affiliation", "member");
    assert_attr(item, "role", "participant");
    assert_non_null(status_code(x, "110"));
    assert_non_null(status_code(x, "210"));
    assert_valid(f, child(x, "userInfo", HIPPO_NS_ROOMS));
    assert_valid(f, child(p, "roomInfo", HIPPO_NS_ROOMS));
    xmpp_stanza_release(p);

    p = hippo_room_muc_presence(f->ctx, &post_room, NULL, &alice, HIPPO_ROLE_NONMEMBER,
                                (hippo_muc_flags){0});
    assert_string_equal(xmpp_stanza_get_type(p), "unavailable");
    x = child(p, "x", HIPPO_NS_MUC_USER);
    assert_attr(xmpp_stanza_get_child_by_name(x, "item"), "role", "none");
    assert_null(status_code(x, "110"));
    assert_null(xmpp_stanza_get_child_by_name(x, "userInfo"));
    xmpp_stanza_release(p);
}

static void muc_message_shapes(void **state)
{
    struct fixture *f = *state;
    hippo_room_msg msg = {
        .sender = alice, .body = "hi", .serial = 3, .ts_ms = 1700000000123LL, .id = "x1"};
    xmpp_stanza_t *m = hippo_room_muc_message(f->ctx, &post_room, NULL, &msg, true);
    assert_non_null(m);
    assert_string_equal(xmpp_stanza_get_type(m), "groupchat");
    assert_string_equal(xmpp_stanza_get_id(m), "x1");
    assert_string_equal(xmpp_stanza_get_from(m), ROOM_JID "/Alice (2)");
    assert_valid(f, child(m, "messageInfo", HIPPO_NS_ROOMS));
    xmpp_stanza_t *delay = child(m, "delay", HIPPO_NS_DELAY);
    assert_attr(delay, "from", ROOM_JID);
    assert_attr(delay, "stamp", "2023-11-14T22:13:20.123Z");
    xmpp_stanza_release(m);

    m = hippo_room_muc_subject(f->ctx, &post_room, "alice@example.test/r", "A read");
    assert_string_equal(xmpp_stanza_get_type(m), "groupchat");
    assert_string_equal(xmpp_stanza_get_from(m), ROOM_JID);
    char *subject = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(m, "subject"));
    assert_string_equal(subject, "A read");
    xmpp_free(f->ctx, subject);
    assert_null(xmpp_stanza_get_child_by_name(m, "body"));
    xmpp_stanza_release(m);
}

static void roles_round_trip(void **state)
{
    (void)state;
    assert_string_equal(hippo_room_role_name(HIPPO_ROLE_PARTICIPANT), "participant");
    assert_int_equal(hippo_room_role_parse("visitor"), HIPPO_ROLE_VISITOR);
    assert_int_equal(hippo_room_role_parse("participant"), HIPPO_ROLE_PARTICIPANT);
    assert_int_equal(hippo_room_role_parse(NULL), HIPPO_ROLE_NONMEMBER);
    assert_int_equal(hippo_room_role_parse("owner"), HIPPO_ROLE_NONMEMBER);
}

/* ---- backlog requests */

static xmpp_stanza_t *history(xmpp_ctx_t *ctx, const char *attrs)
{
    char xml[256];
    snprintf(xml, sizeof xml, "<history %s/>", attrs);
    xmpp_stanza_t *h = xmpp_stanza_new_from_string(ctx, xml);
    assert_non_null(h);
    return h;
}

static void datetimes_parse(void **state)
{
    (void)state;
    assert_true(hippo_room_parse_datetime("1970-01-01T00:00:00Z") == 0);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20.5Z") == 1700000000500000LL);
    assert_true(hippo_room_parse_datetime("2023-11-15T00:13:20+02:00") == 1700000000000000LL);
    assert_true(hippo_room_parse_datetime("2023-11-14T21:13:20.000001-01:00") ==
                1700000000000001LL);
    assert_true(hippo_room_parse_datetime("2023-11-14 22:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20") == -1);
    assert_true(hippo_room_parse_datetime("2023-13-14T22:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("yesterday") == -1);
    assert_true(hippo_room_parse_datetime(NULL) == -1);
}

static void history_requests_combine_with_the_limit(void **state)
{
    struct fixture *f = *state;
    hippo_room_history h;
    hippo_room_history_request(NULL, -1, 0, &h);
    assert_int_equal(h.max_stanzas, -1);
    assert_string_equal(h.since, "");
    hippo_room_history_request(NULL, 5, 0, &h);
    assert_int_equal(h.max_stanzas, 5);

    xmpp_stanza_t *req = history(f->ctx, "maxstanzas='3'");
    hippo_room_history_request(req, -1, 0, &h);
    assert_int_equal(h.max_stanzas, 3);
    hippo_room_history_request(req, 2, 0, &h);
    assert_int_equal(h.max_stanzas, 2); /* the configured limit wins */
    xmpp_stanza_release(req);

    req = history(f->ctx, "seconds='10' maxchars='0'");
    hippo_room_history_request(req, -1, 1700000000000000LL, &h);
    assert_string_equal(h.since, "2023-11-14 22:13:10.000000+00");
    assert_int_equal(h.max_chars, 0);
    xmpp_stanza_release(req);

    req = history(f->ctx, "since='2023-11-14T22:13:15.25Z' seconds='10'");
    hippo_room_history_request(req, -1, 1700000000000000LL, &h);
    assert_string_equal(h.since, "2023-11-14 22:13:15.250000+00"); /* the later of both */
    xmpp_stanza_release(req);

    req = history(f->ctx, "since='garbage' maxstanzas='x'");
    hippo_room_history_request(req, 7, 0, &h);
    assert_string_equal(h.since, "");
    assert_int_equal(h.max_stanzas, 7);
    xmpp_stanza_release(req);
}

/* docs/protocol-rooms.md "Limits on numbers": a seconds value reaching before the epoch asks
 * for all history; it used to overflow (seconds * 1000000) and give an empty backlog. */
static void history_seconds_beyond_now_mean_all_history(void **state)
{
    struct fixture *f = *state;
    const long long now = 1700000000000000LL;
    hippo_room_history h;
    xmpp_stanza_t *req = history(f->ctx, "seconds='9223372036854775807'");
    hippo_room_history_request(req, -1, now, &h);
    assert_string_equal(h.since, "");
    xmpp_stanza_release(req);

    req = history(f->ctx, "seconds='99999999999999999999999'"); /* beyond 64 bits */
    hippo_room_history_request(req, -1, now, &h);
    assert_string_equal(h.since, "");
    xmpp_stanza_release(req);

    req = history(f->ctx, "seconds='1700000001'");
    hippo_room_history_request(req, -1, now, &h);
    assert_string_equal(h.since, "");
    xmpp_stanza_release(req);

    req = history(f->ctx, "seconds='1700000000'"); /* exactly back to the epoch */
    hippo_room_history_request(req, -1, now, &h);
    assert_string_equal(h.since, "1970-01-01 00:00:00.000000+00");
    xmpp_stanza_release(req);

    req = history(f->ctx, "seconds='9223372036854775807' since='2023-11-14T22:13:15Z'");
    hippo_room_history_request(req, -1, now, &h);
    assert_string_equal(h.since, "2023-11-14 22:13:15.000000+00"); /* since still bounds it */
    xmpp_stanza_release(req);
}

static void history_counts_are_clamped(void **state)
{
    struct fixture *f = *state;
    hippo_room_history h;
    xmpp_stanza_t *req =
        history(f->ctx, "maxstanzas='99999999999999999999' maxchars='99999999999999999999'");
    hippo_room_history_request(req, -1, 0, &h);
    assert_int_equal(h.max_stanzas, INT_MAX);
    assert_true(h.max_chars == LONG_MAX);
    hippo_room_history_request(req, 9, 0, &h);
    assert_int_equal(h.max_stanzas, 9);
    xmpp_stanza_release(req);

    req = history(f->ctx, "maxstanzas=' +5 ' maxchars='-3' seconds='0x10'"); /* xs:int */
    hippo_room_history_request(req, -1, 1700000000000000LL, &h);
    assert_int_equal(h.max_stanzas, 5);
    assert_true(h.max_chars == -1);
    assert_string_equal(h.since, "");
    xmpp_stanza_release(req);

    req = history(f->ctx, "maxstanzas='-99999999999999999999' maxchars=''");
    hippo_room_history_request(req, 4, 0, &h);
    assert_int_equal(h.max_stanzas, 4);
    assert_true(h.max_chars == -1);
    xmpp_stanza_release(req);
}

/* XEP-0082 fields have fixed digits: blanks, signs and days a month lacks are not dates
 * (sscanf used to take " 1", "+1" and "-1", and timegm to move Feb 30 into March). */
static void datetimes_are_strict(void **state)
{
    (void)state;
    assert_true(hippo_room_parse_datetime("2023-02-29T00:00:00Z") == -1);
    assert_true(hippo_room_parse_datetime("2023-04-31T00:00:00Z") == -1);
    assert_true(hippo_room_parse_datetime("2024-02-29T00:00:00Z") == 1709164800000000LL);
    assert_true(hippo_room_parse_datetime("2023-11- 4T22:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-+4T22:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("+023-11-14T22:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T-1:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20+-1:-5") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20+ 1: 5") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20.Z") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20") == -1);
    assert_true(hippo_room_parse_datetime("2023-11-14T22:13:20+") == -1);
    assert_true(hippo_room_parse_datetime("12023-11-14T22:13:20Z") == -1);
    assert_true(hippo_room_parse_datetime("9999-12-31T23:59:59.9999999Z") == 253402300799999999LL);
    assert_true(hippo_room_parse_datetime("0000-01-01T00:00:00Z") == -62167219200000000LL);
    assert_true(hippo_room_parse_datetime("2016-12-31T23:59:60Z") == 1483228800000000LL);
}

/* Sizes are approximate stanza sizes; a huge one must not wrap the running total around. */
static void maxchars_sum_does_not_wrap(void **state)
{
    (void)state;
    size_t sizes[] = {SIZE_MAX, 10};
    assert_int_equal(hippo_room_history_skip(sizes, 2, 100), 1);
    size_t big[] = {(size_t)LONG_MAX, 1};
    assert_int_equal(hippo_room_history_skip(big, 2, LONG_MAX), 1);
}

static void maxchars_cuts_the_oldest(void **state)
{
    (void)state;
    size_t sizes[] = {100, 200, 300};
    assert_int_equal(hippo_room_history_skip(sizes, 3, -1), 0);
    assert_int_equal(hippo_room_history_skip(sizes, 3, 0), 3);
    assert_int_equal(hippo_room_history_skip(sizes, 3, 299), 3);
    assert_int_equal(hippo_room_history_skip(sizes, 3, 500), 1);
    assert_int_equal(hippo_room_history_skip(sizes, 3, 600), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_info_is_valid),
        cmocka_unit_test(user_info_carries_music),
        cmocka_unit_test(message_info_is_valid),
        cmocka_unit_test(room_info_and_group_details_are_valid),
        cmocka_unit_test(post_details_are_valid),
        cmocka_unit_test(schema_refuses_wrong_payloads),
        cmocka_unit_test(classic_presence_shapes),
        cmocka_unit_test(classic_message_shapes),
        cmocka_unit_test(muc_presence_shapes),
        cmocka_unit_test(muc_message_shapes),
        cmocka_unit_test(roles_round_trip),
        cmocka_unit_test(datetimes_parse),
        cmocka_unit_test(history_requests_combine_with_the_limit),
        cmocka_unit_test(maxchars_cuts_the_oldest),
        cmocka_unit_test(history_seconds_beyond_now_mean_all_history),
        cmocka_unit_test(history_counts_are_clamped),
        cmocka_unit_test(datetimes_are_strict),
        cmocka_unit_test(maxchars_sum_does_not_wrap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
