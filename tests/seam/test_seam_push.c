/* Flow tests of the push outbox through the seam (src/push.c, push_hotness.c, push_user.c,
 * push_live_post.c's slot):
 * maintenance, then claim -> the kind's handler (its statements and headlines) -> retire
 * after the stanzas were handed to the link; events given back (released) when the link is
 * down. All on connection 0 (hippo_db_query): claim, retire and release must share the
 * backend session that owns the claims. Shapes as in sql/006_outbox.sql and sql/007_push.sql. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "push.h"
#include "seam.h"

#define U_ALICE "UALICEAAAAAAA1"
#define U_BOB "UBOBBBBBBBBBB2"
#define NS_P "http://dumbhippo.com/protocol/"
#define CLAIM_COLUMNS "id,kind,coalesce,coalesce,coalesce"
#define G_ROOM "GROUPAAAAAAAA1"
#define G_ROOM_JID "groupaaaaaaaa1@" SEAM_DOMAIN
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define ROOM_INFO_GROUP "<roomInfo xmlns=\"" NS_P "rooms\" kind=\"group\"/>"

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

static void expect_session_statement(seam *s, const char *name, size_t n, const char *const *params)
{
    const seam_query *q = seam_expect_statement(s, name, n, params);
    assert_false(q->keyed); /* connection 0: the session that holds the claims */
}

/* KINDS, the claim's text[] literal "{a,b,...}", names each kind of push.c's kinds[] table
 * once; the table grows with new kinds, so only those known here are required. */
static void expect_kinds(const char *kinds)
{
    static const char *const known[] = {"new_post", "live_post",    "active_posts",   "hotness",
                                        "prefs",    "myspace_name", "myspace_comment"};
    size_t len = strlen(kinds);
    assert_true(len >= 2 && kinds[0] == '{' && kinds[len - 1] == '}');
    char *list = strndup(kinds + 1, len - 2);
    assert_non_null(list);
    size_t found[sizeof known / sizeof known[0]] = {0};
    char *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save))
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            found[i] += strcmp(k, known[i]) == 0;
    free(list);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (found[i] != 1)
            fail_msg("kind %s claimed %zu times in %s", known[i], found[i], kinds);
}

/* A wake-up (NOTIFY, database or link up) runs the outbox maintenance due at start, then
 * claims a batch of at most 100 events of the kinds this build sends. */
static void wake_and_expect_claim(seam *s)
{
    hippo_push_wake(seam_hippod(s)->push);
    expect_session_statement(s, "push_maintain", SEAM_LIST(HIPPO_PUSH_MAX_AGE));
    const seam_query *claim = seam_expect_query(s, "push_claim");
    assert_false(claim->keyed);
    assert_int_equal(claim->nparams, 2);
    assert_string_equal(claim->params[0], "100");
    expect_kinds(claim->params[1]);
    seam_answer_rows(s, "expired,cooled", SEAM_LIST("0", "2"));
}

static void test_hotness_event_sent_recorded_and_retired(void **state)
{
    seam *s = *state;
    wake_and_expect_claim(s);
    seam_answer_rows(s, CLAIM_COLUMNS, SEAM_LIST("42", "hotness", "", U_ALICE, ""));
    expect_session_statement(s, "push_hotness_changes", SEAM_LIST("", U_ALICE));
    seam_answer_rows(
        s, "user_id,jid,value",
        SEAM_LIST(U_ALICE, "alice@example.test", "HOT", U_BOB, "bob@example.test", "COLD"));
    seam_expect_sent(s, "<message from=\"" SEAM_DOMAIN "\" to=\"alice@example.test\""
                        " type=\"headline\"><hotness xmlns=\"" NS_P "hotness\" value=\"HOT\"/>"
                        "</message>");
    seam_expect_sent(s, "<message from=\"" SEAM_DOMAIN "\" to=\"bob@example.test\""
                        " type=\"headline\"><hotness xmlns=\"" NS_P "hotness\" value=\"COLD\"/>"
                        "</message>");
    /* what was sent is recorded only once every headline was handed to the link */
    expect_session_statement(s, "push_hotness_record",
                             SEAM_LIST("{" U_ALICE "," U_BOB "}", "{HOT,COLD}"));
    seam_expect_no_query(s);
    seam_answer_rows(s, "push_hotness_record", SEAM_LIST(NULL));
    expect_session_statement(s, "push_retire", SEAM_LIST("{42}"));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("1"));
    seam_expect_no_query(s); /* a batch below 100 events: no second claim */
    seam_expect_nothing_sent(s);
}

/* Events of one batch are handled one after another, each retired as soon as it is sent. */
static void test_prefs_then_myspace_name(void **state)
{
    seam *s = *state;
    wake_and_expect_claim(s);
    seam_answer_rows(
        s, CLAIM_COLUMNS,
        SEAM_LIST("7", "prefs", "", U_ALICE, "", "8", "myspace_name", "", U_ALICE, ""));
    expect_session_statement(s, "push_prefs", SEAM_LIST(U_ALICE));
    seam_expect_no_query(s); /* the second event waits for the first */
    seam_answer_rows(s, "jid,key,value",
                     SEAM_LIST("alice@example.test", "musicSharingEnabled", "false",
                               "alice@example.test", "musicSharingPrimed", "true"));
    seam_expect_sent(s, "<message from=\"" SEAM_DOMAIN "\" to=\"alice@example.test\""
                        " type=\"headline\"><prefs xmlns=\"" NS_P "prefs\">"
                        "<prop key=\"musicSharingEnabled\">false</prop>"
                        "<prop key=\"musicSharingPrimed\">true</prop></prefs></message>");
    expect_session_statement(s, "push_retire", SEAM_LIST("{7}"));
    expect_session_statement(s, "push_myspace_name", SEAM_LIST(U_ALICE));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("1"));
    seam_answer_rows(s, "jid,name", SEAM_LIST("alice@example.test", NULL)); /* name cleared */
    seam_expect_sent(s, "<message from=\"" SEAM_DOMAIN "\" to=\"alice@example.test\""
                        " type=\"headline\"><mySpaceNameChanged xmlns=\"" NS_P "myspace\"/>"
                        "</message>");
    expect_session_statement(s, "push_retire", SEAM_LIST("{8}"));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("1"));
    seam_expect_no_query(s);
}

/* livePostChanged (push_live_post.c, sql/018_live_post_slots.sql): every send first asks
 * for the post's slot, shared by all hippods, with the events it would cover and their
 * cause. */
#define P_POST "POSTAAAAAAAAA1"
#define SLOT_COLUMNS "wait_ms,coalesce,coalesce"

static void claim_live_post_event(seam *s)
{
    wake_and_expect_claim(s);
    seam_answer_rows(s, CLAIM_COLUMNS, SEAM_LIST("5", "live_post", P_POST, "", U_BOB));
    expect_session_statement(s, "push_live_post_slot", SEAM_LIST(P_POST, "1000", "{5}", U_BOB));
}

/* Another hippod sent less than an interval ago: the event is held (claimed, not retired),
 * nothing is sent, and the batch goes on without waiting for the interval. */
static void test_live_post_slot_busy_holds_the_event(void **state)
{
    seam *s = *state;
    claim_live_post_event(s);
    seam_answer_rows(s, SLOT_COLUMNS, SEAM_LIST("400", "{5}", ""));
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

/* A send by another hippod took the event over meanwhile (it is not ours any more): it is
 * forgotten (the retire touches only our own claims), not held for a send of our own. */
static void test_live_post_taken_over_by_another_hippod(void **state)
{
    seam *s = *state;
    claim_live_post_event(s);
    seam_answer_rows(s, SLOT_COLUMNS, SEAM_LIST("400", "{}", ""));
    expect_session_statement(s, "push_retire", SEAM_LIST("{5}"));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("0"));
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

/* The slot is ours with an event another hippod held (9): the audience leaves out the user
 * the database names (the cause of both), and both events are retired after the send. */
static void test_live_post_slot_taken_covers_the_events_taken_over(void **state)
{
    seam *s = *state;
    claim_live_post_event(s);
    seam_answer_rows(s, SLOT_COLUMNS, SEAM_LIST("0", "{5,9}", U_BOB));
    expect_session_statement(s, "push_live_post_audience", SEAM_LIST(P_POST, U_BOB));
    seam_answer_rows(s, "poster_id,jid,favorite,ignored", 0, NULL); /* nobody else to tell */
    expect_session_statement(s, "push_retire", SEAM_LIST("{9}"));
    expect_session_statement(s, "push_retire", SEAM_LIST("{5}"));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("1"));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("1"));
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

/* A failed slot query: the event is released for a later try. */
static void test_live_post_slot_error_releases_the_event(void **state)
{
    seam *s = *state;
    claim_live_post_event(s);
    seam_answer_error(s, "ERROR:  canceling statement due to user request");
    expect_session_statement(s, "push_release", SEAM_LIST("{5}"));
    seam_answer_rows(s, "outbox_release", SEAM_LIST(NULL));
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

/* The link went down while the claim was in flight: nothing is sent, the batch goes back. */
static void test_link_down_releases_the_batch(void **state)
{
    seam *s = *state;
    wake_and_expect_claim(s);
    seam_link_up(s, false);
    seam_answer_rows(s, CLAIM_COLUMNS,
                     SEAM_LIST("7", "prefs", "", U_ALICE, "", "9", "hotness", "", U_BOB, ""));
    expect_session_statement(s, "push_release", SEAM_LIST("{7,9}"));
    seam_answer_rows(s, "outbox_release", SEAM_LIST(NULL));
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

/* A handler whose statement fails: the event is released for a later try, not retired. */
static void test_failed_handler_statement_releases_the_event(void **state)
{
    seam *s = *state;
    wake_and_expect_claim(s);
    seam_answer_rows(s, CLAIM_COLUMNS, SEAM_LIST("5", "prefs", "", U_ALICE, ""));
    expect_session_statement(s, "push_prefs", SEAM_LIST(U_ALICE));
    seam_answer_error(s, "ERROR:  canceling statement due to user request");
    expect_session_statement(s, "push_release", SEAM_LIST("{5}"));
    seam_answer_rows(s, "outbox_release", SEAM_LIST(NULL));
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

/* While the database is down nothing is claimed: the events wait in the table. */
/* An occupant removed for lost access (sql/010_room_access.sql): the removed resource hears
 * it is out (110 + 321, affiliation none), every remaining resource that the user left, in
 * its dialect; then the event is retired. */
static void test_room_departure_tells_the_resource_and_the_room(void **state)
{
    seam *s = *state;
    wake_and_expect_claim(s);
    seam_answer_rows(s, CLAIM_COLUMNS, SEAM_LIST("11", "room_departure", G_ROOM, U_BOB, ""));
    expect_session_statement(s, "push_room_departure", SEAM_LIST("11"));
    seam_room_row rows[] = {
        {.what = "status",
         .status = "revoked",
         .user_id = U_BOB,
         .name = "Bob",
         .photo_version = "0",
         .nick = "Bob",
         .role = "nonmember",
         .old_role = "participant",
         .res_old_role = "participant",
         .jid = "bob@example.test/muc",
         .dialect = "muc",
         .kind = "group"},
        {.what = "to", .user_id = U_ALICE, .jid = "alice@example.test/desk", .dialect = "muc"},
        {.what = "to", .user_id = U_ALICE, .jid = "alice@example.test/old", .dialect = "classic"}};
    seam_answer_room_rows(s, rows, 3);
    seam_expect_sent(s, "<presence from=\"" G_ROOM_JID "/Bob\" to=\"bob@example.test/muc\""
                        " type=\"unavailable\"><x xmlns=\"" NS_MUC_USER "\">"
                        "<item affiliation=\"none\" role=\"none\"/><status code=\"110\"/>"
                        "<status code=\"321\"/></x>" ROOM_INFO_GROUP "</presence>");
    seam_expect_sent(
        s, "<presence from=\"" G_ROOM_JID "/Bob\" to=\"alice@example.test/desk\""
           " type=\"unavailable\"><x xmlns=\"" NS_MUC_USER "\">"
           "<item affiliation=\"none\" role=\"none\"/><status code=\"321\"/></x>" ROOM_INFO_GROUP
           "</presence>");
    seam_expect_sent(s, "<presence from=\"" G_ROOM_JID "/ubobbbbbbbbbb2\""
                        " to=\"alice@example.test/old\" type=\"unavailable\">" ROOM_INFO_GROUP
                        "</presence>");
    expect_session_statement(s, "push_retire", SEAM_LIST("{11}"));
    seam_answer_rows(s, "outbox_retire", SEAM_LIST("1"));
    seam_expect_no_query(s);
}

static void test_nothing_claimed_while_database_down(void **state)
{
    seam *s = *state;
    seam_db_down(s);
    hippo_push_wake(seam_hippod(s)->push);
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hotness_event_sent_recorded_and_retired, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prefs_then_myspace_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_down_releases_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_post_slot_busy_holds_the_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_post_taken_over_by_another_hippod, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_post_slot_taken_covers_the_events_taken_over,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_post_slot_error_releases_the_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_handler_statement_releases_the_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_room_departure_tells_the_resource_and_the_room, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nothing_claimed_while_database_down, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
