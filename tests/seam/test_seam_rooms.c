/* Flow tests of the chat rooms through the seam (src/rooms.c, room_presence.c,
 * room_message.c, room_op.c): the hippo.room_* statement each stanza sends with its
 * parameters (keyed by the room), and the stanzas built from the hippo.room_row answers
 * (sql/003_rooms.sql) in both dialects: joins with their presence broadcast, member list,
 * backlog and subject; messages echoed to every present resource; leaves; bounces that remove
 * an occupant; the details IQ and the self-ping; refusals by the room functions and by the
 * database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "seam.h"

/* Room GUID and its JID node (guid.c: lower-case letters get a '_', then all lower case). */
#define ROOM "AbC1dEfGhJkLmN"
#define ROOM_JID "ab_c1d_ef_gh_jk_lm_n@" SEAM_DOMAIN
/* User GUIDs of upper-case letters and digits: their nodes are just lower case. */
#define U_ALICE "UALICEAAAAAAA1"
#define U_ALICE_NODE "ualiceaaaaaaa1"
#define U_BOB "UBOBBBBBBBBBB2"
#define U_BOB_NODE "ubobbbbbbbbbb2"
#define U_CAROL "UCAROLCCCCCCC3"
#define ALICE "alice@example.test/desk"
#define ALICE_PHONE "alice@example.test/phone"
#define BOB "bob@example.test/laptop"
#define CAROL "carol@example.test/tablet"
#define TS_MS "1700000000123" /* 2023-11-14T22:13:20.123Z */

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_ROOMS "http://dumbhippo.com/protocol/rooms"

/* ---- the payloads both dialects carry (object-like macros: they read as plain text) */
#define PHOTO_ALICE " smallPhotoUrl=\"/files/headshots/60/" U_ALICE "?v=3\" "
#define PHOTO_BOB " smallPhotoUrl=\"/files/headshots/60/" U_BOB "?v=1\" "
/* every userInfo carries the music (sql/016); rows without the music columns: none */
#define NO_MUSIC " arrangementName=\"\" artist=\"\" musicPlaying=\"false\""
/* Alice arriving, to a classic occupant (old role) or a standard one */
#define ALICE_NEW_INFO                                                                             \
    "<userInfo xmlns=\"" NS_ROOMS "\"" NO_MUSIC                                                    \
    " name=\"Alice\" oldRole=\"nonmember\" role=\"participant\"" PHOTO_ALICE "version=\"3\"/>"
#define ALICE_INFO                                                                                 \
    "<userInfo xmlns=\"" NS_ROOMS "\"" NO_MUSIC " name=\"Alice\" role=\"participant\"" PHOTO_ALICE \
    "version=\"3\"/>"
#define BOB_INFO                                                                                   \
    "<userInfo xmlns=\"" NS_ROOMS "\"" NO_MUSIC " name=\"Bob\" role=\"participant\"" PHOTO_BOB     \
    "version=\"1\"/>"
#define ALICE_MSG_INFO_7                                                                           \
    "<messageInfo xmlns=\"" NS_ROOMS "\" name=\"Alice\" serial=\"7\"" PHOTO_ALICE                  \
    "timestamp=\"" TS_MS "\" version=\"3\"/>"
#define ALICE_MSG_INFO_8                                                                           \
    "<messageInfo xmlns=\"" NS_ROOMS "\" name=\"Alice\" serial=\"8\"" PHOTO_ALICE                  \
    "timestamp=\"" TS_MS "\" version=\"3\"/>"
#define BOB_MSG_INFO_4                                                                             \
    "<messageInfo xmlns=\"" NS_ROOMS "\" name=\"Bob\" serial=\"4\"" PHOTO_BOB "timestamp=\"" TS_MS \
    "\" version=\"1\"/>"
/* XEP-0359: the room's id of the message (its serial), and the sender's origin-id */
#define STANZA_ID(serial)                                                                          \
    "<stanza-id xmlns=\"urn:xmpp:sid:0\" by=\"" ROOM_JID "\" id=\"" serial "\"/>"
#define ORIGIN_ID "<origin-id xmlns=\"urn:xmpp:sid:0\" id=\"o-1\"/>"
#define POST_INFO "<roomInfo xmlns=\"" NS_ROOMS "\" kind=\"post\"/>"
#define GROUP_INFO "<roomInfo xmlns=\"" NS_ROOMS "\" kind=\"group\"/>"
#define ITEM_PARTICIPANT "<item affiliation=\"member\" role=\"participant\"/>"
#define ITEM_NONE "<item affiliation=\"member\" role=\"none\"/>"

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

static void expect_room_statement(seam *s, const char *name, size_t n, const char *const *params)
{
    const seam_query *q = seam_expect_statement(s, name, n, params);
    assert_true(q->keyed); /* a room's statements run in order in one backend */
    assert_string_equal(q->key, ROOM);
}

/* The status row of Alice joining: a participant now, nobody before. */
static seam_room_row alice_joined(const char *kind, const char *title)
{
    return (seam_room_row){.what = "status",
                           .status = "joined",
                           .user_id = U_ALICE,
                           .name = "Alice",
                           .photo_version = "3",
                           .nick = "Alice",
                           .role = "participant",
                           .old_role = "nonmember",
                           .kind = kind,
                           .title = title};
}

static seam_room_row to_row(const char *user_id, const char *jid, const char *dialect)
{
    return (seam_room_row){.what = "to", .user_id = user_id, .jid = jid, .dialect = dialect};
}

/* Before a room's 'to' rows in a batch's answer (sql/013_room_memory.sql). */
static seam_room_row room_row(const char *kind)
{
    return (seam_room_row){.what = "room", .kind = kind};
}

static const seam_room_row bob_member = {.what = "member",
                                         .user_id = U_BOB,
                                         .name = "Bob",
                                         .photo_version = "1",
                                         .nick = "Bob",
                                         .role = "participant"};

static const seam_room_row bob_said_earlier = {.what = "history",
                                               .user_id = U_BOB,
                                               .name = "Bob",
                                               .photo_version = "1",
                                               .nick = "Bob",
                                               .serial = "4",
                                               .ts_ms = TS_MS,
                                               .body = "earlier <words>"};

/* ---- joins */

/* During a graceful stop a join is refused with a wait error (no statement); a leave still
 * runs, so the room's occupancy stays right. */
static void test_stopping_refuses_joins_but_takes_leaves(void **state)
{
    seam *s = *state;
    seam_hippod(s)->stopping = true;
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice'>"
                     "<x xmlns='http://jabber.org/protocol/muc'/></presence>");
    const char *sent = seam_next_sent(s);
    assert_non_null(sent);
    assert_non_null(strstr(sent, "type=\"error\""));
    assert_non_null(strstr(sent, "<error type=\"wait\"><service-unavailable"));
    seam_expect_no_query(s);
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice' type='unavailable'/>");
    expect_room_statement(s, "room_leave", SEAM_LIST(ROOM, ALICE));
    seam_room_row rows[] = {{.what = "status", .status = "absent"}};
    seam_answer_room_rows(s, rows, 1);
    seam_expect_nothing_sent(s);
}

static void test_classic_join(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "'><x xmlns='" NS_MUC "'/>"
                     "</presence>");
    expect_room_statement(
        s, "room_join", SEAM_LIST(ROOM, ALICE, "participant", "classic", "t", "1000", "-1", NULL));
    seam_expect_nothing_sent(s);
    seam_room_row rows[] = {alice_joined("post", "A post"), to_row(U_BOB, BOB, "classic"),
                            to_row(U_CAROL, CAROL, "muc"), bob_member, bob_said_earlier};
    seam_answer_room_rows(s, rows, 5);
    /* Alice's arrival to each present resource, in its dialect */
    seam_expect_sent(s,
                     "<presence from=\"" ROOM_JID "/" U_ALICE_NODE "\" to=\"" BOB "\">"
                     "<x xmlns=\"" NS_MUC_USER "\">" ALICE_NEW_INFO "</x>" POST_INFO "</presence>");
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Alice\" to=\"" CAROL "\">"
                        "<x xmlns=\"" NS_MUC_USER "\">" ITEM_PARTICIPANT ALICE_INFO "</x>" POST_INFO
                        "</presence>");
    /* then to Alice: the members, and the backlog with legacy delays (no self, no subject) */
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/" U_BOB_NODE "\" to=\"" ALICE "\">"
                        "<x xmlns=\"" NS_MUC_USER "\">" BOB_INFO "</x>" POST_INFO "</presence>");
    seam_expect_sent(s, "<message from=\"" ROOM_JID "/" U_BOB_NODE "\" to=\"" ALICE "\">"
                        "<body>earlier &lt;words&gt;</body>" BOB_MSG_INFO_4 POST_INFO
                        "<x xmlns=\"jabber:x:delay\" from=\"" ROOM_JID "/" U_BOB_NODE "\"/>"
                        "</message>");
    seam_expect_nothing_sent(s);
}

static void test_muc_join_with_history_request(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Ally'><x xmlns='" NS_MUC "'>"
                     "<history maxstanzas='5'/></x></presence>");
    expect_room_statement(s, "room_join",
                          SEAM_LIST(ROOM, ALICE, "participant", "muc", "t", "1000", "5", NULL));
    seam_room_row rows[] = {alice_joined("group", "Hackers & friends"),
                            to_row(U_ALICE, ALICE_PHONE, "muc"), bob_member, bob_said_earlier};
    seam_answer_room_rows(s, rows, 4);
    /* to Alice's other resource: her own user (status 110) */
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Alice\" to=\"" ALICE_PHONE "\">"
                        "<x xmlns=\"" NS_MUC_USER "\">" ITEM_PARTICIPANT
                        "<status code=\"110\"/>" ALICE_INFO "</x>" GROUP_INFO "</presence>");
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Bob\" to=\"" ALICE "\">"
                        "<x xmlns=\"" NS_MUC_USER "\">" ITEM_PARTICIPANT BOB_INFO "</x>" GROUP_INFO
                        "</presence>");
    /* self presence: 110, and 210 because she asked for "Ally" and got "Alice" */
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Alice\" to=\"" ALICE "\">"
                        "<x xmlns=\"" NS_MUC_USER "\">" ITEM_PARTICIPANT
                        "<status code=\"110\"/><status code=\"210\"/>" ALICE_INFO "</x>" GROUP_INFO
                        "</presence>");
    seam_expect_sent(s,
                     "<message from=\"" ROOM_JID "/Bob\" to=\"" ALICE "\" type=\"groupchat\">"
                     "<body>earlier &lt;words&gt;</body>" STANZA_ID("4") BOB_MSG_INFO_4 GROUP_INFO
                     "<delay xmlns=\"urn:xmpp:delay\" from=\"" ROOM_JID "\""
                     " stamp=\"2023-11-14T22:13:20.123Z\"/></message>");
    seam_expect_sent(s, "<message from=\"" ROOM_JID "\" to=\"" ALICE "\" type=\"groupchat\">"
                        "<subject>Hackers &amp; friends</subject></message>");
    seam_expect_nothing_sent(s);
}

/* The join statement's music columns (sql/016) on every userInfo: the joiner's to the others,
 * the members' to the joiner; none on the other rows. */
static void test_join_carries_music(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "'><x xmlns='" NS_MUC "'/>"
                     "</presence>");
    expect_room_statement(
        s, "room_join", SEAM_LIST(ROOM, ALICE, "participant", "classic", "t", "1000", "-1", NULL));
    seam_room_row rows[] = {alice_joined("post", "A post"), to_row(U_CAROL, CAROL, "muc"),
                            bob_member};
    seam_room_music music[] = {
        {"f", "Last <song>", "The \"Band\""}, {NULL, NULL, NULL}, {"t", "Now & then", ""}};
    seam_answer_room_music_rows(s, NULL, rows, music, 3);
    seam_expect_sent(s,
                     "<presence from=\"" ROOM_JID "/Alice\" to=\"" CAROL "\">"
                     "<x xmlns=\"" NS_MUC_USER "\">" ITEM_PARTICIPANT "<userInfo xmlns=\"" NS_ROOMS
                     "\" arrangementName=\"Last &lt;song&gt;\" artist=\"The &quot;Band&quot;\""
                     " musicPlaying=\"false\" name=\"Alice\" role=\"participant\"" PHOTO_ALICE
                     "version=\"3\"/></x>" POST_INFO "</presence>");
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/" U_BOB_NODE "\" to=\"" ALICE "\">"
                        "<x xmlns=\"" NS_MUC_USER "\"><userInfo xmlns=\"" NS_ROOMS
                        "\" arrangementName=\"Now &amp; then\" artist=\"\" musicPlaying=\"true\""
                        " name=\"Bob\" role=\"participant\"" PHOTO_BOB
                        "version=\"1\"/></x>" POST_INFO "</presence>");
    seam_expect_nothing_sent(s);
}

static void test_join_refused_by_the_room(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice' id='j1'/>");
    /* no <x muc>: a presence update (keeps the nick), role still sent as participant */
    expect_room_statement(s, "room_join",
                          SEAM_LIST(ROOM, ALICE, "participant", "muc", "f", "1000", "-1", NULL));
    seam_room_row rows[] = {{.what = "status", .status = "full", .user_id = U_ALICE}};
    seam_answer_room_rows(s, rows, 1);
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Alice\" id=\"j1\" to=\"" ALICE "\""
                        " type=\"error\"><error type=\"wait\">"
                        "<resource-constraint xmlns=\"" NS_STANZAS "\"/>"
                        "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">the room is full</text>"
                        "</error><x xmlns=\"" NS_MUC "\"/></presence>");
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "room-limit-occupants"), 1);
}

/* ---- messages */

/* Alice's message 7 (groupchat) and 8 (classic) as echoed */
#define ECHO_MUC(to)                                                                               \
    "<message from=\"" ROOM_JID "/Alice\" id=\"g1\" to=\"" to "\" type=\"groupchat\">"             \
    "<body>hello &amp; bye</body>" STANZA_ID("7") ORIGIN_ID ALICE_MSG_INFO_7 POST_INFO             \
        "</message>"
#define ECHO_CLASSIC(to)                                                                           \
    "<message from=\"" ROOM_JID "/" U_ALICE_NODE "\" to=\"" to                                     \
    "\"><body>hi</body>" ALICE_MSG_INFO_8 POST_INFO "</message>"

static void test_groupchat_message_echoed_to_every_resource(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat' id='g1'>"
                     "<body>hello &amp; bye</body><origin-id xmlns='urn:xmpp:sid:0' id='o-1'/>"
                     "</message>");
    expect_room_statement(
        s, "room_message_batch",
        SEAM_LIST("{\"" ROOM "\"}", "{\"" ALICE "\"}", "{\"hello & bye\"}", "{\"t\"}", "{\"f\"}"));
    seam_expect_nothing_sent(s); /* stored before echoed */
    seam_room_row rows[] = {{.what = "status",
                             .status = "ok",
                             .user_id = U_ALICE,
                             .name = "Alice",
                             .photo_version = "3",
                             .nick = "Alice",
                             .serial = "7",
                             .ts_ms = TS_MS,
                             .kind = "post"},
                            room_row("post"),
                            to_row(U_ALICE, ALICE, "muc"),
                            to_row(U_BOB, BOB, "classic"),
                            to_row(U_CAROL, CAROL, "muc")};
    seam_answer_batch_rows(s, SEAM_LIST("1", "1", "1", "1", "1"), rows);
    seam_expect_sent(s, ECHO_MUC(ALICE));
    seam_expect_sent(s, "<message from=\"" ROOM_JID "/" U_ALICE_NODE "\" id=\"g1\" to=\"" BOB
                        "\"><body>hello &amp; bye</body>" ALICE_MSG_INFO_7 POST_INFO "</message>");
    seam_expect_sent(s, ECHO_MUC(CAROL));
    seam_expect_nothing_sent(s);
}

static void test_classic_sender_outside_the_room_gets_its_echo(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>hi</body></message>");
    expect_room_statement(
        s, "room_message_batch",
        SEAM_LIST("{\"" ROOM "\"}", "{\"" ALICE "\"}", "{\"hi\"}", "{\"f\"}", "{\"f\"}"));
    seam_room_row rows[] = {{.what = "status",
                             .status = "ok",
                             .user_id = U_ALICE,
                             .name = "Alice",
                             .photo_version = "3",
                             .nick = "Alice",
                             .serial = "8",
                             .ts_ms = TS_MS,
                             .kind = "post"},
                            room_row("post"),
                            to_row(U_BOB, BOB, "classic")};
    seam_answer_batch_rows(s, SEAM_LIST("1", "1", "1"), rows);
    seam_expect_sent(s, ECHO_CLASSIC(BOB));
    seam_expect_sent(s, ECHO_CLASSIC(ALICE));
    seam_expect_nothing_sent(s);
}

static void test_message_checks_without_database(void **state)
{
    seam *s = *state;
    seam_hippod(s)->cfg.rooms_max_body_bytes = 4;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' id='b1'><body>12345</body>"
                     "</message>");
    seam_expect_sent(s, "<message from=\"" ROOM_JID "\" id=\"b1\" to=\"" ALICE "\""
                        " type=\"error\"><error type=\"modify\">"
                        "<not-acceptable xmlns=\"" NS_STANZAS "\"/>"
                        "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">the message body is larger"
                        " than 4 bytes</text></error></message>");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "/Bob' id='b2'><body>x</body>"
                     "</message>");
    seam_expect_sent(s, "<message from=\"" ROOM_JID "/Bob\" id=\"b2\" to=\"" ALICE "\""
                        " type=\"error\"><error type=\"cancel\">"
                        "<not-allowed xmlns=\"" NS_STANZAS "\"/>"
                        "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">private messages are not"
                        " supported in this room</text></error></message>");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    seam_expect_nothing_sent(s);
    seam_expect_no_query(s);
}

/* ---- leaves and bounces */

static void test_muc_leave(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice' type='unavailable'/>");
    expect_room_statement(s, "room_leave", SEAM_LIST(ROOM, ALICE));
    seam_room_row rows[] = {{.what = "status",
                             .status = "left",
                             .user_id = U_ALICE,
                             .name = "Alice",
                             .photo_version = "3",
                             .nick = "Alice",
                             .role = "nonmember",
                             .old_role = "participant",
                             .res_old_role = "participant",
                             .jid = ALICE,
                             .dialect = "muc",
                             .kind = "post"},
                            to_row(U_BOB, BOB, "classic"),
                            to_row(U_CAROL, CAROL, "muc")};
    seam_answer_room_rows(s, rows, 3);
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/" U_ALICE_NODE "\" to=\"" BOB "\""
                        " type=\"unavailable\">" POST_INFO "</presence>");
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Alice\" to=\"" CAROL "\""
                        " type=\"unavailable\"><x xmlns=\"" NS_MUC_USER "\">" ITEM_NONE
                        "</x>" POST_INFO "</presence>");
    /* the standard leaver gets its own unavailable presence */
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Alice\" to=\"" ALICE "\""
                        " type=\"unavailable\"><x xmlns=\"" NS_MUC_USER "\">" ITEM_NONE
                        "<status code=\"110\"/></x>" POST_INFO "</presence>");
    seam_expect_nothing_sent(s);
}

/* A delivery error from an occupant removes it, without an answer to anyone but the others. */
static void test_bounce_removes_the_occupant(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM_JID "' type='error' id='e1'>"
                     "<error type='cancel'><service-unavailable xmlns='" NS_STANZAS "'/></error>"
                     "</message>");
    expect_room_statement(s, "room_leave", SEAM_LIST(ROOM, BOB));
    seam_room_row rows[] = {{.what = "status",
                             .status = "left",
                             .user_id = U_BOB,
                             .name = "Bob",
                             .photo_version = "1",
                             .nick = "Bob",
                             .role = "nonmember",
                             .old_role = "participant",
                             .res_old_role = "participant",
                             .jid = BOB,
                             .dialect = "classic",
                             .kind = "post"},
                            to_row(U_CAROL, CAROL, "muc")};
    seam_answer_room_rows(s, rows, 2);
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/Bob\" to=\"" CAROL "\""
                        " type=\"unavailable\"><x xmlns=\"" NS_MUC_USER "\">" ITEM_NONE
                        "</x>" POST_INFO "</presence>");
    seam_expect_nothing_sent(s);
}

static void test_bounce_that_is_not_a_delivery_failure_is_dropped(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM_JID "' type='error' id='e2'>"
                     "<error type='modify'><bad-request xmlns='" NS_STANZAS "'/></error>"
                     "</message>");
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "room-error-received"), 1);
}

/* ---- room IQs */

/* The original details IQ: members and backlog as classic stanzas, then the result as the end
 * marker, carrying the group's objects. */
static void test_group_room_details(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" ROOM_JID "' type='get' id='rd1'>"
                     "<details xmlns='" NS_ROOMS "'/></iq>");
    expect_room_statement(s, "room_details", SEAM_LIST(ROOM, ALICE, "-1"));
    seam_room_row rows[] = {{.what = "status",
                             .status = "ok",
                             .user_id = U_ALICE,
                             .name = "Alice",
                             .photo_version = "3",
                             .kind = "group",
                             .title = "Hackers",
                             .room_photo_version = "2"},
                            bob_member,
                            bob_said_earlier};
    seam_answer_room_rows(s, rows, 3);
    seam_expect_sent(s, "<presence from=\"" ROOM_JID "/" U_BOB_NODE "\" to=\"" ALICE "\">"
                        "<x xmlns=\"" NS_MUC_USER "\">" BOB_INFO "</x>" GROUP_INFO "</presence>");
    seam_expect_sent(s, "<message from=\"" ROOM_JID "/" U_BOB_NODE "\" to=\"" ALICE "\">"
                        "<body>earlier &lt;words&gt;</body>" BOB_MSG_INFO_4 GROUP_INFO
                        "<x xmlns=\"jabber:x:delay\" from=\"" ROOM_JID "/" U_BOB_NODE "\"/>"
                        "</message>");
    seam_expect_sent(s, "<iq from=\"" ROOM_JID "\" id=\"rd1\" to=\"" ALICE "\" type=\"result\">"
                        "<roomInfo xmlns=\"" NS_ROOMS "\" kind=\"group\" title=\"Hackers\">"
                        "<objects><group homeUrl=\"/group?who=" ROOM "\" id=\"" ROOM "\""
                        " name=\"Hackers\" smallPhotoUrl=\"/files/groupshots/60/" ROOM "?v=2\"/>"
                        "</objects></roomInfo></iq>");
    seam_expect_nothing_sent(s);
}

/* XEP-0410 self-ping at an occupant JID: hippo.room_ping's status decides the answer. */
static void self_ping(seam *s, const char *status, const char *answer)
{
    seam_feed_xml(s, "<iq from='" ALICE "' to='" ROOM_JID "/Alice' type='get' id='rp1'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>");
    expect_room_statement(s, "room_ping", SEAM_LIST(ROOM, ALICE, "Alice"));
    seam_room_row rows[] = {{.what = "status", .status = status}};
    seam_answer_room_rows(s, rows, 1);
    seam_expect_sent(s, answer);
    seam_expect_nothing_sent(s);
}

#define PING_ERROR(type, condition, text)                                                          \
    "<iq from=\"" ROOM_JID "/Alice\" id=\"rp1\" to=\"" ALICE "\" type=\"error\">"                  \
    "<error type=\"" type "\"><" condition " xmlns=\"" NS_STANZAS "\"/>"                           \
    "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">" text "</text></error></iq>"

static void test_self_ping_of_an_occupant(void **state)
{
    self_ping(*state, "ok",
              "<iq from=\"" ROOM_JID "/Alice\" id=\"rp1\" to=\"" ALICE "\" type=\"result\"/>");
}

/* Not in the room, for whatever reason: not-acceptable (XEP-0410: not joined, re-join). */
static void test_self_ping_of_a_non_occupant(void **state)
{
    self_ping(*state, "not-occupant",
              PING_ERROR("modify", "not-acceptable", "you are not in this room"));
    assert_int_equal(hippo_metrics_get(&seam_hippod(*state)->metrics.errors, "not-acceptable"), 1);
}

/* An occupant pinging a nick not its own: errors XEP-0410 reads as "still joined". */
static void test_ping_of_another_occupant(void **state)
{
    self_ping(*state, "other-occupant",
              PING_ERROR("cancel", "service-unavailable",
                         "the room does not relay IQs to other occupants"));
}

static void test_ping_of_nobody(void **state)
{
    self_ping(*state, "no-occupant",
              PING_ERROR("cancel", "item-not-found", "no occupant has this nick"));
}

/* ---- the database refusing, or failing */

#define JOIN_ERROR(condition, text)                                                                \
    "<presence from=\"" ROOM_JID "/Alice\" to=\"" ALICE "\" type=\"error\">"                       \
    "<error type=\"wait\"><" condition " xmlns=\"" NS_STANZAS "\"/>"                               \
    "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">" text "</text></error>"                       \
    "<x xmlns=\"" NS_MUC "\"/></presence>"
#define MUC_JOIN                                                                                   \
    "<presence from='" ALICE "' to='" ROOM_JID "/Alice'><x xmlns='" NS_MUC "'/></presence>"

static void test_join_refused_by_the_database(void **state)
{
    seam *s = *state;
    seam_db_down(s);
    seam_feed_xml(s, MUC_JOIN);
    seam_expect_no_query(s);
    seam_expect_sent(s,
                     JOIN_ERROR("internal-server-error", "database unavailable, try again later"));
    seam_db_overloaded(s);
    seam_feed_xml(s, MUC_JOIN);
    seam_expect_sent(s, JOIN_ERROR("resource-constraint", "database overloaded, try again later"));
    /* nobody waits for the answer to a leave: a refused one is only logged */
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice' type='unavailable'/>");
    seam_expect_nothing_sent(s);
    seam_expect_no_query(s);
}

static void test_join_with_failed_statement(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, MUC_JOIN);
    expect_room_statement(s, "room_join",
                          SEAM_LIST(ROOM, ALICE, "participant", "muc", "t", "1000", "-1", NULL));
    seam_answer_error(s, "ERROR:  deadlock detected");
    seam_expect_sent(s,
                     JOIN_ERROR("internal-server-error", "database unavailable, try again later"));
}

/* ---- group commit (room_op.c) */

#define ROOM2 "ROOM2ROOM2ROOM"
#define ROOM2_JID "room2room2room@" SEAM_DOMAIN

static seam_room_row stored(const char *user_id, const char *name, const char *serial,
                            const char *kind)
{
    return (seam_room_row){.what = "status",
                           .status = "ok",
                           .user_id = user_id,
                           .name = name,
                           .photo_version = "1",
                           .nick = name,
                           .serial = serial,
                           .ts_ms = TS_MS,
                           .kind = kind};
}

/* The next stanza sent contains every one of the NEEDLES. */
static void expect_sent_with(seam *s, const char *to, const char *body, const char *serial)
{
    const char *sent = seam_next_sent(s);
    assert_non_null(sent);
    char want[160];
    snprintf(want, sizeof want, "to=\"%s\"", to);
    assert_non_null(strstr(sent, want));
    snprintf(want, sizeof want, "<body>%s</body>", body);
    assert_non_null(strstr(sent, want));
    snprintf(want, sizeof want, "serial=\"%s\"", serial);
    assert_non_null(strstr(sent, want));
}

#define ONE_MESSAGE(room, from, body, groupchat)                                                   \
    SEAM_LIST("{\"" room "\"}", "{\"" from "\"}", "{\"" body "\"}", "{\"" groupchat "\"}",         \
              "{\"f\"}")

/* Messages that arrive while a batch is being committed wait and go together, of all rooms,
 * in the next statement; a leave that arrived after them goes after that batch, so it cannot
 * overtake them. Each room's echoes go to that room's recipients, in arrival order. */
static void test_messages_wait_for_the_batch_in_flight_and_go_together(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>one</body></message>");
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, ALICE, "one", "f"));
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM2_JID "' type='groupchat'>"
                     "<body>two</body></message>");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>three</body></message>");
    seam_feed_xml(s, "<message from='" CAROL "' to='" ROOM_JID "'><body>four</body></message>");
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice' type='unavailable'/>");
    seam_expect_no_query(s);
    seam_answer_batch_rows(
        s, SEAM_LIST("1", "1", "1"),
        ((seam_room_row[]){stored(U_ALICE, "Alice", "7", "post"), room_row("post"),
                           to_row(U_ALICE, ALICE, "classic")}));
    expect_sent_with(s, ALICE, "one", "7");
    seam_expect_nothing_sent(s);
    /* keyed by its first room: every room of one connection has the same home */
    const seam_query *q = seam_expect_statement(
        s, "room_message_batch",
        SEAM_LIST("{\"" ROOM2 "\",\"" ROOM "\",\"" ROOM "\"}",
                  "{\"" BOB "\",\"" ALICE "\",\"" CAROL "\"}", "{\"two\",\"three\",\"four\"}",
                  "{\"t\",\"f\",\"f\"}", "{\"f\",\"f\",\"f\"}"));
    assert_true(q->keyed);
    assert_string_equal(q->key, ROOM2);
    expect_room_statement(s, "room_leave", SEAM_LIST(ROOM, ALICE));
    seam_answer_batch_rows(
        s, SEAM_LIST("1", "2", "3", "1", "1", "2", "2", "2"),
        ((seam_room_row[]){
            stored(U_BOB, "Bob", "4", "group"), stored(U_ALICE, "Alice", "8", "post"),
            stored(U_CAROL, "Carol", "9", "post"), room_row("group"), to_row(U_BOB, BOB, "muc"),
            room_row("post"), to_row(U_ALICE, ALICE, "classic"), to_row(U_BOB, BOB, "muc")}));
    expect_sent_with(s, BOB, "two", "4");
    expect_sent_with(s, ALICE, "three", "8");
    expect_sent_with(s, BOB, "three", "8");
    expect_sent_with(s, ALICE, "four", "9");
    expect_sent_with(s, BOB, "four", "9");
    expect_sent_with(s, CAROL, "four", "9"); /* not present: its own echo, after the room's */
    seam_expect_nothing_sent(s);
    const hippo_metrics *m = &seam_hippod(s)->metrics;
    assert_int_equal(m->room_batches, 2);
    assert_int_equal(m->room_batch_messages, 4);
}

/* Echoes are serialised once and addressed per recipient: a resource with characters that
 * need escaping in an attribute arrives intact. */
static void test_echo_to_a_resource_that_needs_escaping(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>one</body></message>");
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, ALICE, "one", "f"));
    const char *odd = "bob@example.test/a\"b&c<d>'e";
    seam_answer_batch_rows(
        s, SEAM_LIST("1", "1", "1", "1"),
        ((seam_room_row[]){stored(U_ALICE, "Alice", "7", "post"), room_row("post"),
                           to_row(U_BOB, odd, "muc"), to_row(U_ALICE, ALICE, "classic")}));
    expect_sent_with(s, "bob@example.test/a&quot;b&amp;c&lt;d&gt;'e", "one", "7");
    expect_sent_with(s, ALICE, "one", "7");
    seam_expect_nothing_sent(s);
}

/* A statement that finds nothing waiting goes at once, even behind a batch in flight: the
 * connection runs it after the batch. */
static void test_leave_behind_a_batch_goes_at_once(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>one</body></message>");
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, ALICE, "one", "f"));
    seam_feed_xml(s, "<presence from='" ALICE "' to='" ROOM_JID "/Alice' type='unavailable'/>");
    expect_room_statement(s, "room_leave", SEAM_LIST(ROOM, ALICE));
}

/* A batch whose statement fails answers each of its messages with an error; the batch that
 * waited behind it goes and is stored. */
static void test_failed_batch_answers_its_messages_and_the_next_one_goes(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' id='a1'><body>one</body>"
                     "</message>");
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, ALICE, "one", "f"));
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM_JID "' id='b1'><body>two</body>"
                     "</message>");
    seam_answer_error(s, "ERROR:  could not serialize access");
    const char *sent = seam_next_sent(s);
    assert_non_null(strstr(sent, "id=\"a1\" to=\"" ALICE "\" type=\"error\"><error type=\"wait\">"
                                 "<internal-server-error"));
    seam_expect_nothing_sent(s);
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, BOB, "two", "f"));
    seam_answer_batch_rows(s, SEAM_LIST("1", "1", "1"),
                           ((seam_room_row[]){stored(U_BOB, "Bob", "7", "post"), room_row("post"),
                                              to_row(U_BOB, BOB, "classic")}));
    expect_sent_with(s, BOB, "two", "7");
    seam_expect_nothing_sent(s);
}

/* Behind a batch stuck longer than [database] max_queue_ms, a new message is refused at once
 * (the database is not keeping up) instead of waiting without bound. */
static void test_message_refused_behind_a_stuck_batch(void **state)
{
    seam *s = *state;
    seam_hippod(s)->cfg.database_max_queue_ms = 10;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>one</body></message>");
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, ALICE, "one", "f"));
    usleep(30 * 1000);
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM_JID "' id='q1'><body>two</body>"
                     "</message>");
    const char *sent = seam_next_sent(s);
    assert_non_null(sent);
    assert_non_null(strstr(sent, "id=\"q1\" to=\"" BOB "\" type=\"error\"><error type=\"wait\">"
                                 "<resource-constraint"));
    assert_int_equal(seam_hippod(s)->metrics.db_refused[HIPPO_DB_REFUSED_QUEUE_TIME], 1);
}

/* The rate limit is in memory: over the burst, a message is refused before any statement. */
static void test_rate_limit_refuses_without_database(void **state)
{
    seam *s = *state;
    seam_hippod(s)->cfg.rooms_message_burst = 1;
    seam_hippod(s)->cfg.rooms_messages_per_second = 0.001;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "'><body>one</body></message>");
    expect_room_statement(s, "room_message_batch", ONE_MESSAGE(ROOM, ALICE, "one", "f"));
    seam_feed_xml(s, "<message from='" ALICE_PHONE "' to='" ROOM_JID "' id='r2'><body>two</body>"
                     "</message>");
    seam_expect_sent(s, "<message from=\"" ROOM_JID "\" id=\"r2\" to=\"" ALICE_PHONE "\""
                        " type=\"error\"><error type=\"wait\">"
                        "<policy-violation xmlns=\"" NS_STANZAS "\"/>"
                        "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">too many messages, slow"
                        " down</text></error></message>");
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM_JID "'><body>bob</body></message>");
    seam_expect_no_query(s); /* Bob's own bucket is full: his message waits for the batch */
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "room-limit-rate"), 1);
}

/* ---- the rooms' resources in memory (room_state.h) */

#define MESSAGE_TO_ROOM(from, body, known)                                                         \
    SEAM_LIST("{\"" ROOM "\"}", "{\"" from "\"}", "{\"" body "\"}", "{\"t\"}", "{\"" known "\"}")

static seam_room_row known_row(const char *user_id, const char *serial)
{
    return (seam_room_row){.what = "known",
                           .status = "ok",
                           .user_id = user_id,
                           .serial = serial,
                           .ts_ms = TS_MS,
                           .kind = "post"};
}

/* Alice (standard) and Bob (classic) present in ROOM, with their users. */
#define ROOM_ROWS                                                                                  \
    room_row("post"),                                                                              \
        (seam_room_row){.what = "to",                                                              \
                        .user_id = U_ALICE,                                                        \
                        .name = "Alice",                                                           \
                        .photo_version = "3",                                                      \
                        .nick = "Alice",                                                           \
                        .jid = ALICE,                                                              \
                        .dialect = "muc"},                                                         \
        to_row(U_BOB, BOB, "classic")

/* Alice's groupchat BODY, not known, answered with serial SERIAL and the room's rows. */
static void send_and_learn(seam *s, const char *body, const char *serial)
{
    char xml[256], list[64];
    snprintf(xml, sizeof xml,
             "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'><body>%s</body>"
             "</message>",
             body);
    seam_feed_xml(s, xml);
    snprintf(list, sizeof list, "{\"%s\"}", body);
    expect_room_statement(
        s, "room_message_batch",
        SEAM_LIST("{\"" ROOM "\"}", "{\"" ALICE "\"}", list, "{\"t\"}", "{\"f\"}"));
    seam_answer_batch_rows(
        s, SEAM_LIST("1", "1", "1", "1"),
        ((seam_room_row[]){stored(U_ALICE, "Alice", serial, "post"), ROOM_ROWS}));
    expect_sent_with(s, ALICE, body, serial);
    expect_sent_with(s, BOB, body, serial);
    seam_expect_nothing_sent(s);
}

/* After a batch returned a room's resources, a present sender's message goes "known": the
 * batch answers only its serial, and the echo goes to the remembered resources with the
 * sender's user as remembered. A sender that is not present still goes unknown. A
 * notification for the room makes hippod forget it. */
static void test_room_remembered_until_notified(void **state)
{
    seam *s = *state;
    send_and_learn(s, "one", "7");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat' id='k2'>"
                     "<body>two</body></message>");
    /* one known message: the plain statement (rooms.c), answered as a batch */
    expect_room_statement(s, "room_message_known", SEAM_LIST(ROOM, ALICE, "two", "t"));
    seam_answer_batch_rows(s, SEAM_LIST("1"), ((seam_room_row[]){known_row(U_ALICE, "8")}));
    const char *sent = seam_next_sent(s);
    assert_non_null(strstr(sent, "from=\"" ROOM_JID "/Alice\" id=\"k2\" to=\"" ALICE "\""));
    assert_non_null(strstr(sent, "<body>two</body>"));
    assert_non_null(strstr(sent, "serial=\"8\""));
    sent = seam_next_sent(s);
    assert_non_null(strstr(sent, "to=\"" BOB "\""));
    assert_non_null(strstr(sent, "?v=3")); /* the remembered user's photo version */
    seam_expect_nothing_sent(s);

    seam_feed_xml(s, "<message from='" CAROL "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>three</body></message>");
    expect_room_statement(s, "room_message_batch", MESSAGE_TO_ROOM(CAROL, "three", "f"));
    seam_answer_batch_rows(s, SEAM_LIST("1"),
                           ((seam_room_row[]){{.what = "status", .status = "not-occupant"}}));
    assert_non_null(strstr(seam_next_sent(s), "not-acceptable"));

    seam_db_notify(s, "hippo_rooms", ROOM, false);
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>four</body></message>");
    expect_room_statement(s, "room_message_batch", MESSAGE_TO_ROOM(ALICE, "four", "f"));
}

/* A join notified by another session to a room this hippod remembers: another hippod serves
 * it too (counted, logged); hippod's own joins, and joins to rooms it does not remember, are
 * not. Every such notification makes it forget the room. */
static void test_join_through_another_hippod_is_counted(void **state)
{
    seam *s = *state;
    hippo_metrics *m = &seam_hippod(s)->metrics;
    send_and_learn(s, "one", "7");
    seam_db_notify(s, "hippo_rooms", ROOM " join", true);
    assert_int_equal(m->room_foreign_joins, 0);
    send_and_learn(s, "two", "8");
    seam_db_notify(s, "hippo_rooms", ROOM " join", false);
    assert_int_equal(m->room_foreign_joins, 1);
    seam_db_notify(s, "hippo_rooms", ROOM " join", false); /* forgotten since */
    seam_db_notify(s, "hippo_rooms", ROOM2 " join", false);
    assert_int_equal(m->room_foreign_joins, 1);
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>three</body></message>");
    expect_room_statement(s, "room_message_batch", MESSAGE_TO_ROOM(ALICE, "three", "f"));
}

/* Known messages that wait behind a batch go together in the batch function, all known. */
static void test_known_messages_batch_together(void **state)
{
    seam *s = *state;
    send_and_learn(s, "one", "7");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>two</body></message>");
    expect_room_statement(s, "room_message_known", SEAM_LIST(ROOM, ALICE, "two", "t"));
    seam_feed_xml(s, "<message from='" BOB "' to='" ROOM_JID "'><body>three</body></message>");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>four</body></message>");
    seam_expect_no_query(s);
    seam_answer_batch_rows(s, SEAM_LIST("1"), ((seam_room_row[]){known_row(U_ALICE, "8")}));
    expect_sent_with(s, ALICE, "two", "8");
    expect_sent_with(s, BOB, "two", "8");
    expect_room_statement(s, "room_message_batch",
                          SEAM_LIST("{\"" ROOM "\",\"" ROOM "\"}", "{\"" BOB "\",\"" ALICE "\"}",
                                    "{\"three\",\"four\"}", "{\"f\",\"t\"}", "{\"t\",\"t\"}"));
    seam_answer_batch_rows(s, SEAM_LIST("1", "2"),
                           ((seam_room_row[]){known_row(U_BOB, "9"), known_row(U_ALICE, "10")}));
    expect_sent_with(s, ALICE, "three", "9");
    expect_sent_with(s, BOB, "three", "9");
    expect_sent_with(s, ALICE, "four", "10");
    expect_sent_with(s, BOB, "four", "10");
    seam_expect_nothing_sent(s);
}

/* A leave (or a join) makes hippod forget the room until its answer came back; a batch
 * answered meanwhile is not remembered (it may have run before the leave). */
static void test_leave_keeps_the_room_forgotten_until_answered(void **state)
{
    seam *s = *state;
    send_and_learn(s, "one", "7");
    seam_feed_xml(s, "<presence from='" BOB "' to='" ROOM_JID "' type='unavailable'/>");
    expect_room_statement(s, "room_leave", SEAM_LIST(ROOM, BOB));
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>two</body></message>");
    expect_room_statement(s, "room_message_batch", MESSAGE_TO_ROOM(ALICE, "two", "f"));
    seam_answer_room_rows(s,
                          ((seam_room_row[]){{.what = "status",
                                              .status = "left",
                                              .user_id = U_BOB,
                                              .name = "Bob",
                                              .photo_version = "1",
                                              .role = "nonmember",
                                              .old_role = "participant",
                                              .jid = BOB,
                                              .dialect = "classic",
                                              .kind = "post"}}),
                          1);
    seam_answer_batch_rows(s, SEAM_LIST("1", "1", "1", "1"),
                           ((seam_room_row[]){stored(U_ALICE, "Alice", "8", "post"), ROOM_ROWS}));
    while (seam_next_sent(s))
        ;
    /* the batch above ran while the leave was in flight: not remembered */
    send_and_learn(s, "three", "9");
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>four</body></message>");
    expect_room_statement(s, "room_message_known", SEAM_LIST(ROOM, ALICE, "four", "t"));
    /* every room forgotten (also what the database's coming back does) */
    seam_db_notify(s, "hippo_rooms", "*", false);
    seam_answer_batch_rows(s, SEAM_LIST("1"), ((seam_room_row[]){known_row(U_ALICE, "10")}));
    while (seam_next_sent(s))
        ;
    seam_feed_xml(s, "<message from='" ALICE "' to='" ROOM_JID "' type='groupchat'>"
                     "<body>five</body></message>");
    expect_room_statement(s, "room_message_batch", MESSAGE_TO_ROOM(ALICE, "five", "f"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stopping_refuses_joins_but_takes_leaves, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_classic_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_muc_join_with_history_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_refused_by_the_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groupchat_message_echoed_to_every_resource, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_classic_sender_outside_the_room_gets_its_echo, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_message_checks_without_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_muc_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounce_removes_the_occupant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounce_that_is_not_a_delivery_failure_is_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_room_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_carries_music, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_ping_of_an_occupant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_ping_of_a_non_occupant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_of_another_occupant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_of_nobody, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_refused_by_the_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_with_failed_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_wait_for_the_batch_in_flight_and_go_together,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_behind_a_batch_goes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_to_a_resource_that_needs_escaping, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_batch_answers_its_messages_and_the_next_one_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_remembered_until_notified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_messages_batch_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_through_another_hippod_is_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_leave_keeps_the_room_forgotten_until_answered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_refuses_without_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_refused_behind_a_stuck_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
