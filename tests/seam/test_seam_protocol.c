/* Flow tests of the dumbhippo protocol IQs through the seam (src/handle_protocol.c and one
 * area of its areas[] table each): the sender lookup, the statement each area sends with its
 * parameters and ordering key, the answer it builds from the rows, and its errors (unknown
 * user, failed statement, database refusals). Row shapes as in sql/004_post_iqs.sql and
 * sql/005_user_iqs.sql. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "seam.h"

#define ALICE_BARE "alice@example.test"
#define ALICE ALICE_BARE "/desk"
#define U_ALICE "UaliceAAAAAAA1"
#define U_BOB "UbobBBBBBBBBB2"
#define G_HACK "GhackCCCCCCCC3"
#define P_POST "PpostDDDDDDDD4"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_P "http://dumbhippo.com/protocol/"

/* A request from Alice to the service. */
#define IQ(type, id, payload)                                                                      \
    "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='" type "' id='" id "'>" payload "</iq>"
#define RESULT_OPEN(id)                                                                            \
    "<iq from=\"" SEAM_DOMAIN "\" id=\"" id "\" to=\"" ALICE "\" type=\"result\">"
#define EMPTY_RESULT(id)                                                                           \
    "<iq from=\"" SEAM_DOMAIN "\" id=\"" id "\" to=\"" ALICE "\" type=\"result\"/>"
#define IQ_ERROR(id, type, condition, text)                                                        \
    "<iq from=\"" SEAM_DOMAIN "\" id=\"" id "\" to=\"" ALICE "\" type=\"error\">"                  \
    "<error type=\"" type "\"><" condition " xmlns=\"" NS_STANZAS "\"/>"                           \
    "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">" text "</text></error></iq>"

static const char clients_ini[] = "[client \"linux\"]\n"
                                  "minimum = 1.0\n"
                                  "current = 1.1.20\n"
                                  "download = https://example.test/linux.rpm\n";

static int setup(void **state)
{
    *state = seam_new(clients_ini);
    return 0;
}

static int teardown(void **state)
{
    seam_free(*state);
    return 0;
}

/* The first protocol IQ of a sender: its bare JID is looked up (keyed by it), Alice found. */
static void expect_alice_looked_up(seam *s)
{
    const seam_query *q = seam_expect_statement(s, "user_by_jid", SEAM_LIST(ALICE_BARE));
    assert_true(q->keyed);
    assert_string_equal(q->key, ALICE_BARE);
    seam_expect_nothing_sent(s); /* nothing is answered before the database is */
    seam_answer_rows(s, "id", SEAM_LIST(U_ALICE));
}

/* The area's statements are keyed by the user, so one user's requests stay in order. */
static const seam_query *expect_user_statement(seam *s, const char *name, size_t n,
                                               const char *const *params)
{
    const seam_query *q = seam_expect_statement(s, name, n, params);
    assert_true(q->keyed);
    assert_string_equal(q->key, U_ALICE);
    return q;
}

/* ---- clientinfo */

static void test_clientinfo_recorded_then_answered(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "c1",
                        "<clientInfo xmlns='" NS_P "clientinfo' platform='linux'"
                        " distribution='Fedora5' architecture='i686'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "clientinfo_record",
                          SEAM_LIST(U_ALICE, "linux", "Fedora5", NULL, "i686"));
    seam_expect_nothing_sent(s); /* the answer waits for the record */
    seam_answer_rows(s, "record_client_info", SEAM_LIST(NULL));
    seam_expect_sent(s, RESULT_OPEN("c1") "<clientInfo xmlns=\"" NS_P "clientinfo\""
                                          " current=\"1.1.20\""
                                          " download=\"https://example.test/linux.rpm\""
                                          " minimum=\"1.0\"/></iq>");
}

/* The second IQ of a sender comes from the user cache; a failed record is only logged. */
static void test_clientinfo_cached_user_and_failed_record(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "c1", "<clientInfo xmlns='" NS_P "clientinfo' platform='linux'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "clientinfo_record", SEAM_LIST(U_ALICE, "linux", NULL, NULL, NULL));
    seam_answer_rows(s, "record_client_info", SEAM_LIST(NULL));
    assert_non_null(seam_next_sent(s));

    seam_feed_xml(s, IQ("get", "c2", "<clientInfo xmlns='" NS_P "clientinfo' platform='linux'/>"));
    expect_user_statement(s, "clientinfo_record", SEAM_LIST(U_ALICE, "linux", NULL, NULL, NULL));
    seam_answer_error(s, "ERROR:  relation \"hippo.client_info\" does not exist");
    seam_expect_sent(s, RESULT_OPEN("c2") "<clientInfo xmlns=\"" NS_P "clientinfo\""
                                          " current=\"1.1.20\""
                                          " download=\"https://example.test/linux.rpm\""
                                          " minimum=\"1.0\"/></iq>");
    hippo_metrics *m = &seam_hippod(s)->metrics;
    assert_int_equal(m->user_lookups_database, 1);
    assert_int_equal(m->user_lookups_cached, 1);
}

static void test_clientinfo_unknown_platform(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "c3", "<clientInfo xmlns='" NS_P "clientinfo' platform='x11'/>"));
    expect_alice_looked_up(s);
    seam_expect_sent(s, IQ_ERROR("c3", "modify", "bad-request",
                                 "unknown platform \"x11\"; known platforms: linux"));
    seam_expect_no_query(s);
}

static void test_unknown_user(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "n1", "<prefs xmlns='" NS_P "prefs'/>"));
    seam_expect_statement(s, "user_by_jid", SEAM_LIST(ALICE_BARE));
    seam_answer_rows(s, "id", 0, NULL);
    seam_expect_sent(
        s, IQ_ERROR("n1", "auth", "registration-required", "this account is not a Mugshot user"));
    seam_expect_no_query(s);
}

/* ---- music */

/* What hippo.room_music_changed returns first: Alice's status row and her music now. */
static seam_room_row alice_music_status(const char *status)
{
    return (seam_room_row){.what = "status",
                           .status = status,
                           .user_id = U_ALICE,
                           .name = "Alice",
                           .photo_version = "3"};
}

#define G_ROOM_JID "gh_a_c_k_cccccccc3@" SEAM_DOMAIN /* G_HACK's room */
#define P_ROOM_JID "pp_o_s_t_dddddddd4@" SEAM_DOMAIN /* P_POST's room */
#define ALICE_NODE "ua_l_i_c_e_aaaaaaa1"
#define PLAYING_INFO                                                                               \
    "<userInfo xmlns=\"" NS_P "rooms\" arrangementName=\"Song &quot;1&quot;\" artist=\"Band\" "    \
    "musicPlaying=\"true\" name=\"Alice\" role=\"participant\" "                                   \
    "smallPhotoUrl=\"/files/headshots/60/" U_ALICE "?v=3\" version=\"3\"/>"

static void test_music_changed(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "m1",
                        "<music xmlns='" NS_P "music' type='musicChanged'>"
                        "<prop key='name'>Song \"1\"</prop><prop key='artist'>Band</prop>"
                        "<prop key='url'>http://example.test/s1.mp3</prop>"
                        "<prop key='colour'>blue</prop></music>"));
    expect_alice_looked_up(s);
    /* hippo.track_keys() order: type, format, name, artist, album, url, duration, fileSize,
     * trackNumber, discIdentifier; the unknown key is left out */
    expect_user_statement(s, "music_changed",
                          SEAM_LIST(U_ALICE,
                                    "{NULL,NULL,\"Song \\\"1\\\"\",\"Band\",NULL,"
                                    "\"http://example.test/s1.mp3\",NULL,NULL,NULL,NULL}"));
    /* Alice is in two rooms: a group room with Bob (classic), her phone and Carol (standard),
     * and a post room where she is a visitor alone */
    const char *room_ids[] = {NULL, G_HACK, G_HACK, G_HACK, G_HACK, P_POST, P_POST};
    seam_room_row rows[] = {
        alice_music_status("changed"),
        {.what = "member",
         .user_id = U_ALICE,
         .nick = "Alice",
         .role = "participant",
         .kind = "group"},
        {.what = "to", .user_id = U_BOB, .jid = "bob@example.test/laptop", .dialect = "classic"},
        {.what = "to", .user_id = U_ALICE, .jid = ALICE_BARE "/phone", .dialect = "muc"},
        {.what = "to",
         .user_id = "UcarolCCCCCCC3",
         .jid = "carol@example.test/x",
         .dialect = "muc"},
        {.what = "member",
         .user_id = U_ALICE,
         .nick = "Alice (2)",
         .role = "visitor",
         .kind = "post"},
        {.what = "to", .user_id = U_ALICE, .jid = ALICE, .dialect = "classic"}};
    seam_room_music music[7] = {{"t", "Song \"1\"", "Band"}};
    seam_answer_room_music_rows(s, room_ids, rows, music, 7);
    seam_expect_sent(s, EMPTY_RESULT("m1"));
    /* a fresh available presence (no oldRole, no unavailable before it), in each dialect */
    seam_expect_sent(s, "<presence from=\"" G_ROOM_JID "/" ALICE_NODE "\" to=\"bob@example.test/"
                        "laptop\"><x xmlns=\"http://jabber.org/protocol/muc#user\">" PLAYING_INFO
                        "</x><roomInfo xmlns=\"" NS_P "rooms\" kind=\"group\"/></presence>");
    seam_expect_sent(s, "<presence from=\"" G_ROOM_JID "/Alice\" to=\"" ALICE_BARE "/phone\">"
                        "<x xmlns=\"http://jabber.org/protocol/muc#user\"><item affiliation=\""
                        "member\" role=\"participant\"/><status code=\"110\"/>" PLAYING_INFO
                        "</x><roomInfo xmlns=\"" NS_P "rooms\" kind=\"group\"/></presence>");
    seam_expect_sent(s, "<presence from=\"" G_ROOM_JID "/Alice\" to=\"carol@example.test/x\">"
                        "<x xmlns=\"http://jabber.org/protocol/muc#user\"><item affiliation=\""
                        "member\" role=\"participant\"/>" PLAYING_INFO "</x><roomInfo xmlns=\"" NS_P
                        "rooms\" kind=\"group\"/></presence>");
    seam_expect_sent(s, "<presence from=\"" P_ROOM_JID "/" ALICE_NODE "\" to=\"" ALICE "\">"
                        "<x xmlns=\"http://jabber.org/protocol/muc#user\"><userInfo xmlns=\"" NS_P
                        "rooms\" arrangementName=\"Song &quot;1&quot;\" artist=\"Band\" "
                        "musicPlaying=\"true\" name=\"Alice\" role=\"visitor\" "
                        "smallPhotoUrl=\"/files/headshots/60/" U_ALICE "?v=3\" version=\"3\"/>"
                        "</x><roomInfo xmlns=\"" NS_P "rooms\" kind=\"post\"/></presence>");
    seam_expect_nothing_sent(s);
}

/* Stopped while in no room: stored, answered, nothing else sent. */
static void test_music_stopped_sends_null_track(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "m2", "<music xmlns='" NS_P "music' type='musicChanged'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "music_changed", SEAM_LIST(U_ALICE, NULL));
    const char *room_ids[] = {NULL};
    seam_room_row rows[] = {alice_music_status("changed")};
    seam_room_music music[] = {{"f", "Song", "Band"}};
    seam_answer_room_music_rows(s, room_ids, rows, music, 1);
    seam_expect_sent(s, EMPTY_RESULT("m2"));
    seam_expect_nothing_sent(s);
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "room-music-bad-result"), 0);
}

/* The music the rooms show did not change (the same track again, or sharing off): no
 * presence, even though rows of rooms came (they do not, but they would be ignored). */
static void test_music_unchanged_sends_no_presence(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "m3", "<music xmlns='" NS_P "music' type='musicChanged'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "music_changed", SEAM_LIST(U_ALICE, NULL));
    const char *room_ids[] = {NULL, G_HACK, G_HACK};
    seam_room_row rows[] = {
        alice_music_status("unchanged"),
        {.what = "member",
         .user_id = U_ALICE,
         .nick = "Alice",
         .role = "participant",
         .kind = "group"},
        {.what = "to", .user_id = U_BOB, .jid = "bob@example.test/laptop", .dialect = "classic"}};
    seam_room_music music[3] = {{"f", "", ""}};
    seam_answer_room_music_rows(s, room_ids, rows, music, 3);
    seam_expect_sent(s, EMPTY_RESULT("m3"));
    seam_expect_nothing_sent(s);
}

/* Stored, but the rooms came back in another shape: the client still gets its result; the
 * failure is counted and logged, nothing is sent to rooms. */
static void test_music_rooms_in_a_bad_shape(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "m4", "<music xmlns='" NS_P "music' type='musicChanged'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "music_changed", SEAM_LIST(U_ALICE, NULL));
    seam_answer_rows(s, "music_changed", SEAM_LIST(NULL));
    seam_expect_sent(s, EMPTY_RESULT("m4"));
    seam_expect_nothing_sent(s);
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "room-music-bad-result"), 1);
}

/* A presence the link refuses is counted, and the others still go. */
static void test_music_presence_unsent_is_counted(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "m5", "<music xmlns='" NS_P "music' type='musicChanged'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "music_changed", SEAM_LIST(U_ALICE, NULL));
    const char *room_ids[] = {NULL, G_HACK, G_HACK, G_HACK};
    seam_room_row rows[] = {
        alice_music_status("changed"),
        {.what = "member",
         .user_id = U_ALICE,
         .nick = "Alice",
         .role = "participant",
         .kind = "group"},
        {.what = "to", .user_id = U_BOB, .jid = "bob@example.test/laptop", .dialect = "classic"},
        {.what = "to", .user_id = U_BOB, .jid = "bob@example.test/phone", .dialect = "classic"}};
    seam_room_music music[4] = {{"f", "", ""}};
    seam_link_up(s, false);
    seam_answer_room_music_rows(s, room_ids, rows, music, 4);
    seam_link_up(s, true);
    seam_expect_nothing_sent(s);
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "room-music-unsent"), 2);
}

/* ---- myspace */

static void test_myspace_get_name(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "y1", "<mySpaceInfo xmlns='" NS_P "myspace' type='getName'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "myspace_name", SEAM_LIST(U_ALICE));
    seam_answer_rows(s, "name", SEAM_LIST("alice & co"));
    seam_expect_sent(s, RESULT_OPEN("y1") "<mySpaceInfo xmlns=\"" NS_P "myspace\""
                                          " mySpaceName=\"alice &amp; co\"/></iq>");
}

static void test_myspace_get_contacts(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "y2", "<x xmlns='" NS_P "myspace' type='getContacts'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "myspace_contacts", SEAM_LIST(U_ALICE));
    seam_answer_rows(s, "name,friend_id", SEAM_LIST("bob", "1001", "carol", "1002"));
    seam_expect_sent(s, RESULT_OPEN("y2") "<mySpaceInfo xmlns=\"" NS_P "myspace\">"
                                          "<contact friendID=\"1001\" friendId=\"1001\""
                                          " name=\"bob\"/>"
                                          "<contact friendID=\"1002\" friendId=\"1002\""
                                          " name=\"carol\"/></mySpaceInfo></iq>");
}

static void test_myspace_add_blog_comment_normalises_numbers(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "y3",
                        "<mySpaceInfo xmlns='" NS_P "myspace' type='addBlogComment'>"
                        "<commentId> 0042 </commentId><posterId>-7</posterId></mySpaceInfo>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "myspace_add_comment", SEAM_LIST(U_ALICE, "42", "-7"));
    seam_answer_rows(s, "add_blog_comment", SEAM_LIST(NULL));
    seam_expect_sent(s, EMPTY_RESULT("y3"));
}

/* ---- prefs */

static void test_prefs(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "f1", "<prefs xmlns='" NS_P "prefs'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "prefs_of_user", SEAM_LIST(U_ALICE));
    seam_answer_rows(
        s, "key,value",
        SEAM_LIST("applicationUsageEnabled", "false", "custom.key", "a <b> & c", "empty", ""));
    seam_expect_sent(s, RESULT_OPEN("f1") "<prefs xmlns=\"" NS_P "prefs\">"
                                          "<prop key=\"applicationUsageEnabled\">false</prop>"
                                          "<prop key=\"custom.key\">a &lt;b&gt; &amp; c</prop>"
                                          "<prop key=\"empty\"/></prefs></iq>");
}

static void test_prefs_set_is_refused_without_statement(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "f2", "<prefs xmlns='" NS_P "prefs'/>"));
    expect_alice_looked_up(s);
    seam_expect_sent(s, IQ_ERROR("f2", "modify", "bad-request",
                                 "prefs is a get request: prefs are changed through the web"));
    seam_expect_no_query(s);
}

/* ---- hotness */

static void test_hotness(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "h1", "<hotness xmlns='" NS_P "hotness' type='getValue'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "hotness", SEAM_LIST(U_ALICE));
    seam_answer_rows(s, "hotness", SEAM_LIST("GETTING_HOT"));
    seam_expect_sent(s, RESULT_OPEN("h1") "<hotness xmlns=\"" NS_P "hotness\""
                                          " value=\"GETTING_HOT\"/></iq>");
}

static void test_hotness_unknown_value_is_an_error(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "h2", "<hotness xmlns='" NS_P "hotness'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "hotness", SEAM_LIST(U_ALICE));
    seam_answer_rows(s, "hotness", SEAM_LIST("LUKEWARM"));
    seam_expect_sent(s, IQ_ERROR("h2", "wait", "internal-server-error", "cannot compute hotness"));
}

/* ---- recentPosts (post) */

#define PAYLOAD_COLUMNS                                                                            \
    "kind,ord,id,name,photo_version,poster_id,href,title,body,to_world,post_date,info,favorite,"   \
    "ignored,recipients,viewers,chatting_users,viewing_users,total_viewers"

static void answer_one_post(seam *s)
{
    seam_answer_rows(s, PAYLOAD_COLUMNS,
                     SEAM_LIST(
                         /* entities */
                         "user", NULL, U_ALICE, "Alice", "3", NULL, NULL, NULL, NULL, NULL, NULL,
                         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, /**/
                         "group", NULL, G_HACK, "Hackers", "2", NULL, NULL, NULL, NULL, NULL, NULL,
                         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                         /* the post */
                         "post", "1", P_POST, NULL, NULL, U_ALICE, "http://example.test/a?b=1&c=2",
                         "A <title>", "Body", "f", "1700000000", "<postInfo><x/></postInfo>", "t",
                         "f", "u:" U_ALICE " g:" G_HACK, U_BOB " " U_ALICE, "2", "1", "5"));
}

#define ONE_POST_PAYLOAD(element)                                                                  \
    "<" element " xmlns=\"" NS_P "post\">"                                                         \
    "<user homeUrl=\"/person?who=" U_ALICE "\" id=\"" U_ALICE "\" name=\"Alice\""                  \
    " smallPhotoUrl=\"/files/headshots/60/" U_ALICE "?v=3\"/>"                                     \
    "<group homeUrl=\"/group?who=" G_HACK "\" id=\"" G_HACK "\" name=\"Hackers\""                  \
    " smallPhotoUrl=\"/files/groupshots/60/" G_HACK "?v=2\"/>"                                     \
    "<post id=\"" P_POST "\"><poster>" U_ALICE "</poster>"                                         \
    "<href>http://example.test/a?b=1&amp;c=2</href><title>A &lt;title&gt;</title>"                 \
    "<text>Body</text><toWorld>false</toWorld><postDate>1700000000</postDate>"                     \
    "<postInfo>&lt;postInfo&gt;&lt;x/&gt;&lt;/postInfo&gt;</postInfo>"                             \
    "<recipients><user id=\"" U_ALICE "\"/><group id=\"" G_HACK "\"/></recipients>"                \
    "<favorite>true</favorite><ignored>false</ignored></post>"                                     \
    "<livepost id=\"" P_POST "\"><recentViewers><viewer id=\"" U_BOB "\"/>"                        \
    "<viewer id=\"" U_ALICE "\"/></recentViewers><chattingUserCount>2</chattingUserCount>"         \
    "<viewingUserCount>1</viewingUserCount><totalViewers>5</totalViewers></livepost>"              \
    "</" element ">"

static void test_recent_posts(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "r1", "<recentPosts xmlns='" NS_P "post'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "post_payload_recent", SEAM_LIST(U_ALICE, "4", "true"));
    answer_one_post(s);
    seam_expect_sent(s, RESULT_OPEN("r1") ONE_POST_PAYLOAD("recentPosts") "</iq>");
}

static void test_recent_posts_one_missing_post(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "r2", "<recentPosts xmlns='" NS_P "post' id='" P_POST "'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "post_payload", SEAM_LIST(U_ALICE, "{" P_POST "}", "true"));
    seam_answer_rows(s, PAYLOAD_COLUMNS, 0, NULL); /* not visible to Alice */
    seam_expect_sent(
        s, IQ_ERROR("r2", "cancel", "item-not-found", "no such post, or you may not see it"));
}

/* ---- postControl */

static void test_post_control(void **state)
{
    seam *s = *state;
    seam_feed_xml(s,
                  IQ("set", "pc1",
                     "<postControl xmlns='" NS_P "postControl' type='ignore' id='" P_POST "'/>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "set_post_ignored", SEAM_LIST(P_POST, U_ALICE, "true"));
    seam_answer_rows(s, "set_post_ignored", SEAM_LIST("t"));
    seam_expect_sent(s, EMPTY_RESULT("pc1"));

    seam_feed_xml(s,
                  IQ("set", "pc2",
                     "<postControl xmlns='" NS_P "postControl' type='unignore' id='" P_POST "'/>"));
    expect_user_statement(s, "set_post_ignored", SEAM_LIST(P_POST, U_ALICE, "false"));
    seam_answer_rows(s, "set_post_ignored", SEAM_LIST("f"));
    seam_expect_sent(
        s, IQ_ERROR("pc2", "cancel", "item-not-found", "no such post, or you may not see it"));
}

/* ---- method (servermethod) */

static void test_method_post_clicked(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "pm1",
                        "<method xmlns='" NS_P "servermethod' name='postClicked'>"
                        "<arg>" P_POST "</arg></method>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "post_click", SEAM_LIST(P_POST, U_ALICE));
    seam_answer_rows(s, "post_click", SEAM_LIST("t"));
    seam_expect_sent(s, EMPTY_RESULT("pm1"));
}

static void test_method_failed_statement(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("set", "pm2",
                        "<method xmlns='" NS_P "servermethod' name='postClicked'>"
                        "<arg>" P_POST "</arg></method>"));
    expect_alice_looked_up(s);
    expect_user_statement(s, "post_click", SEAM_LIST(P_POST, U_ALICE));
    seam_answer_error(s, "server closed the connection unexpectedly");
    seam_expect_sent(s, IQ_ERROR("pm2", "wait", "internal-server-error",
                                 "database unavailable, try again later"));
}

/* ---- the database refusing */

static void test_refused_while_database_down(void **state)
{
    seam *s = *state;
    seam_db_down(s);
    seam_feed_xml(s, IQ("get", "d1", "<prefs xmlns='" NS_P "prefs'/>"));
    seam_expect_no_query(s);
    seam_expect_sent(s, IQ_ERROR("d1", "wait", "internal-server-error",
                                 "database unavailable, try again later"));
    assert_int_equal(seam_hippod(s)->metrics.db_refused[HIPPO_DB_REFUSED_DOWN], 1);
}

/* Refused after the sender lookup: the area's own statement gets the wait error. */
static void test_refused_while_database_overloaded(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, IQ("get", "d2", "<hotness xmlns='" NS_P "hotness'/>"));
    seam_expect_statement(s, "user_by_jid", SEAM_LIST(ALICE_BARE));
    seam_db_overloaded(s);
    seam_answer_rows(s, "id", SEAM_LIST(U_ALICE));
    seam_expect_no_query(s);
    seam_expect_sent(
        s, IQ_ERROR("d2", "wait", "resource-constraint", "database overloaded, try again later"));
    assert_int_equal(seam_hippod(s)->metrics.db_refused[HIPPO_DB_REFUSED_QUEUE_TIME], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clientinfo_recorded_then_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clientinfo_cached_user_and_failed_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clientinfo_unknown_platform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_music_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_music_unchanged_sends_no_presence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_music_rooms_in_a_bad_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_music_presence_unsent_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_music_stopped_sends_null_track, setup, teardown),
        cmocka_unit_test_setup_teardown(test_myspace_get_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_myspace_get_contacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_myspace_add_blog_comment_normalises_numbers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prefs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_set_is_refused_without_statement, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hotness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hotness_unknown_value_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_posts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_posts_one_missing_post, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_post_clicked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_failed_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_while_database_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_while_database_overloaded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
