/* Flow tests of the room message archive (XEP-0313, src/room_archive.c) through the seam:
 * the hippo.room_archive parameters a query becomes (the time bounds at the stamps'
 * millisecond precision, with, the RSM ids and the page cap), the result messages and the fin
 * built from its rows, the query form, and the refusals that never reach the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "seam.h"

#define ROOM "AbC1dEfGhJkLmN"
#define ROOM_JID "ab_c1d_ef_gh_jk_lm_n@" SEAM_DOMAIN
#define U_ALICE "UALICEAAAAAAA1"
#define U_BOB "UBOBBBBBBBBBB2"
#define ALICE "alice@example.test/desk"
#define TS_MS "1700000000123" /* 2023-11-14T22:13:20.123Z */

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_ROOMS "http://dumbhippo.com/protocol/rooms"

#define QUERY(inner)                                                                               \
    "<iq from='" ALICE "' to='" ROOM_JID "' type='set' id='a1'><query xmlns='" NS_MAM              \
    "' queryid='f27'>" inner "</query></iq>"
#define FORM(fields)                                                                               \
    "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" NS_MAM   \
    "</value></field>" fields "</x>"
#define FIELD(var, value) "<field var='" var "'><value>" value "</value></field>"

/* The columns of hippo.room_archive: n, complete, then hippo.room_row. */
#define ARCHIVE_COLUMNS                                                                            \
    "n,complete,what,status,user_id,name,photo_version,nick,role,old_role,res_old_role,jid,"       \
    "dialect,serial,ts_ms,body,kind,title,room_photo_version"

static int setup(void **state)
{
    *state = seam_new(NULL);
    return 0;
}

static int teardown(void **state)
{
    seam_free(*state);
    return 0;
}

static void expect_archive(seam *s, const char *from, const char *before, const char *with,
                           const char *after, const char *before_id, const char *from_end,
                           const char *max)
{
    const seam_query *q = seam_expect_statement(
        s, "room_archive",
        SEAM_LIST(ROOM, ALICE, from, before, with, after, before_id, from_end, max));
    assert_true(q->keyed);
    assert_string_equal(q->key, ROOM);
}

/* start and end compare at the millisecond the stamps show (sent_at rounded, halves up): the
 * start rounded up, less half a millisecond; the end rounded down, plus half a millisecond
 * (exclusive). Offsets are applied; more than 100 a page is 100. */
static void test_query_parameters(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, QUERY(FORM(FIELD("start", "2023-11-14T23:13:20.4996+01:00")
                                    FIELD("end", "2023-11-14T22:13:21.0009Z")
                                        FIELD("with", ROOM_JID
                                              "/Bob")) "<set xmlns='" NS_RSM
                                                       "'><max>500</max><after>7</after></set>"));
    expect_archive(s, "2023-11-14 22:13:20.499500+00", "2023-11-14 22:13:21.000500+00", "Bob", "7",
                   NULL, "f", "100");
    seam_answer_error(s, "test: no answer needed");
    seam_next_sent(s); /* the wait error */

    /* the last page, max 0; the widest dates */
    seam_feed_xml(s, QUERY(FORM(FIELD("start", "0000-01-01T00:00:00Z") FIELD(
                         "end", "9999-12-31T23:59:59.9999Z")) "<set xmlns='" NS_RSM
                                                              "'><max>0</max><before/></set>"));
    expect_archive(s, "-infinity", "9999-12-31 23:59:59.999500+00", NULL, NULL, NULL, "t", "0");
    seam_answer_error(s, "test: no answer needed");
    seam_next_sent(s);

    /* no form, no set: everything, 100 a page; a before id */
    seam_feed_xml(s, QUERY("<set xmlns='" NS_RSM "'><before>12</before></set>"));
    expect_archive(s, NULL, NULL, NULL, NULL, "12", "t", "100");
    seam_answer_error(s, "test: no answer needed");
    seam_next_sent(s);
}

/* A page: one result message per row, from the bare room, then the fin. */
static void test_results_and_fin(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, QUERY("<set xmlns='" NS_RSM "'><max>2</max><after>6</after></set>"));
    expect_archive(s, NULL, NULL, NULL, "6", NULL, "f", "2");
    seam_answer_rows(
        s, ARCHIVE_COLUMNS,
        SEAM_LIST("40", "f", "status", "ok", U_ALICE, "Alice", "3", NULL, NULL, NULL, NULL, NULL,
                  NULL, NULL, NULL, NULL, "post", "A post", NULL, /* the status */
                  "7", NULL, "archive", NULL, U_BOB, "Bob", "1", "Bob", NULL, NULL, NULL, NULL,
                  NULL, "7", TS_MS, "one & two", NULL, NULL, NULL, /* message 7 */
                  "8", NULL, "archive", NULL, U_BOB, "Bob", "1", "Bob (2)", NULL, NULL, NULL, NULL,
                  NULL, "8", TS_MS, "three", NULL, NULL, NULL));
    seam_expect_sent(
        s, "<message from=\"" ROOM_JID "\" to=\"" ALICE "\"><result xmlns=\"" NS_MAM
           "\" id=\"7\" queryid=\"f27\"><forwarded xmlns=\"urn:xmpp:forward:0\">"
           "<delay xmlns=\"urn:xmpp:delay\" stamp=\"2023-11-14T22:13:20.123Z\"/>"
           "<message xmlns=\"jabber:client\" from=\"" ROOM_JID "/Bob\" type=\"groupchat\">"
           "<body>one &amp; two</body>"
           "<stanza-id xmlns=\"urn:xmpp:sid:0\" by=\"" ROOM_JID "\" id=\"7\"/>"
           "<messageInfo xmlns=\"" NS_ROOMS "\" name=\"Bob\" serial=\"7\" smallPhotoUrl=\""
           "/files/headshots/60/" U_BOB "?v=1\" timestamp=\"" TS_MS "\" version=\"1\"/>"
           "<roomInfo xmlns=\"" NS_ROOMS "\" kind=\"post\"/></message></forwarded></result>"
           "</message>");
    const char *second = seam_next_sent(s);
    assert_non_null(strstr(second, "from=\"" ROOM_JID "/Bob (2)\""));
    assert_non_null(strstr(second, "id=\"8\" queryid=\"f27\""));
    seam_expect_sent(s, "<iq from=\"" ROOM_JID "\" id=\"a1\" to=\"" ALICE "\" type=\"result\">"
                        "<fin xmlns=\"" NS_MAM "\"><set xmlns=\"" NS_RSM "\">"
                        "<first index=\"7\">7</first><last>8</last><count>40</count></set>"
                        "</fin></iq>");
    seam_expect_nothing_sent(s);
}

/* An empty, complete page: no first or last, the count alone. */
static void test_empty_page(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, QUERY(""));
    expect_archive(s, NULL, NULL, NULL, NULL, NULL, "f", "100");
    seam_answer_rows(s, ARCHIVE_COLUMNS,
                     SEAM_LIST("0", "t", "status", "ok", U_ALICE, "Alice", "3", NULL, NULL, NULL,
                               NULL, NULL, NULL, NULL, NULL, NULL, "group", "G", "1"));
    seam_expect_sent(s, "<iq from=\"" ROOM_JID "\" id=\"a1\" to=\"" ALICE "\" type=\"result\">"
                        "<fin xmlns=\"" NS_MAM "\" complete=\"true\"><set xmlns=\"" NS_RSM "\">"
                        "<count>0</count></set></fin></iq>");
}

#define ERROR(type, condition, text)                                                               \
    "<iq from=\"" ROOM_JID "\" id=\"a1\" to=\"" ALICE "\" type=\"error\"><error type=\"" type      \
    "\"><" condition " xmlns=\"" NS_STANZAS "\"/><text xmlns=\"" NS_STANZAS                        \
    "\" xml:lang=\"en\">" text "</text></error></iq>"

/* Refusals by the room function: the room's own, and an id that is no message of it. */
static void test_refused_by_the_database(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, QUERY("<set xmlns='" NS_RSM "'><after>99</after></set>"));
    expect_archive(s, NULL, NULL, NULL, "99", NULL, "f", "100");
    seam_answer_rows(s, ARCHIVE_COLUMNS,
                     SEAM_LIST(NULL, NULL, "status", "unknown-id", U_ALICE, "Alice", "3", NULL,
                               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "post", "P", NULL));
    seam_expect_sent(s, ERROR("cancel", "item-not-found", "no message of this room has that id"));
    seam_feed_xml(s, QUERY(""));
    expect_archive(s, NULL, NULL, NULL, NULL, NULL, "f", "100");
    seam_answer_rows(s, ARCHIVE_COLUMNS,
                     SEAM_LIST(NULL, NULL, "status", "forbidden", U_ALICE, "Alice", "3", NULL, NULL,
                               NULL, NULL, NULL, NULL, NULL, NULL, NULL, "post", "P", NULL));
    seam_expect_sent(s, ERROR("auth", "forbidden", "you may not enter this room"));
}

/* Malformed queries never reach the database. */
static void test_malformed_queries(void **state)
{
    seam *s = *state;
    static const char *const queries[] = {
        QUERY(FORM(FIELD("start", "yesterday"))),
        QUERY(FORM(FIELD("end", "2023-02-29T00:00:00Z"))),
        QUERY(FORM(FIELD("with", "bob@example.test"))),
        QUERY(FORM(FIELD("with", ROOM_JID "/"))),
        QUERY(FORM(FIELD("color", "blue"))),
        QUERY(FORM(FIELD("start", "2023-11-14T22:13:20Z") FIELD("start", "2023-11-14T22:13:20Z"))),
        QUERY("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:"
              "mam:1</value></field></x>"),
        QUERY("<x xmlns='jabber:x:data' type='cancel'/>"),
        QUERY("<set xmlns='" NS_RSM "'><after>1 </after></set>"),
        QUERY("<set xmlns='" NS_RSM "'><after/></set>"),
        QUERY("<set xmlns='" NS_RSM "'><before>+3</before></set>"),
        QUERY("<set xmlns='" NS_RSM "'><max>1234567890123456789</max></set>"),
        QUERY("<set xmlns='" NS_RSM "'><max>1</max><max>1</max></set>"),
        QUERY("<set xmlns='" NS_RSM "'><last/></set>"),
        QUERY("<flip-page/>"),
    };
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        seam_feed_xml(s, queries[i]);
        const char *sent = seam_next_sent(s);
        assert_non_null(sent);
        if (!strstr(sent, "<bad-request xmlns=\"" NS_STANZAS "\"/>"))
            fail_msg("query %zu: %s", i, sent);
    }
    seam_feed_xml(s, QUERY("<set xmlns='" NS_RSM "'><index>3</index></set>"));
    seam_expect_sent(
        s, ERROR("cancel", "feature-not-implemented", "RSM index is not supported: page by id"));
    seam_expect_no_query(s);
}

/* The query form, to whoever may enter (room_info checks). */
static void test_query_form(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" ROOM_JID "' type='get' id='f1'>"
                     "<query xmlns='" NS_MAM "'/></iq>");
    seam_expect_statement(s, "room_info", SEAM_LIST(ROOM, ALICE));
    seam_room_row rows[] = {
        {.what = "status", .status = "ok", .user_id = U_ALICE, .kind = "post", .title = "P"}};
    seam_answer_room_rows(s, rows, 1);
    seam_expect_sent(s, "<iq from=\"" ROOM_JID "\" id=\"f1\" to=\"" ALICE "\" type=\"result\">"
                        "<query xmlns=\"" NS_MAM "\"><x xmlns=\"jabber:x:data\" type=\"form\">"
                        "<field type=\"hidden\" var=\"FORM_TYPE\"><value>" NS_MAM "</value>"
                        "</field><field type=\"jid-single\" var=\"with\"/>"
                        "<field type=\"text-single\" var=\"start\"/>"
                        "<field type=\"text-single\" var=\"end\"/></x></query></iq>");
    /* at an occupant JID: not served */
    seam_feed_xml(s, "<iq from='" ALICE "' to='" ROOM_JID "/Bob' type='get' id='f2'>"
                     "<query xmlns='" NS_MAM "'/></iq>");
    const char *sent = seam_next_sent(s);
    assert_non_null(strstr(sent, "service-unavailable"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_and_fin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_by_the_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_form, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
