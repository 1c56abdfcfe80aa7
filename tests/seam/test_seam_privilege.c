/* Flow tests of login awareness through the seam (src/handle_privilege.c): the XEP-0356
 * permission message, then the presences the server forwards, counted per bare JID into
 * hippo.session_login / session_resend / session_logout; malformed or spoofed permission
 * messages answered bad-request; presences without a grant dropped as before. The servers'
 * real forms are tested in tests/integration/test_login_awareness.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "handle_privilege.h"
#include "seam.h"

#define SERVER "example.test"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define GRANT(ns, perms)                                                                           \
    "<message from='" SERVER "' to='" SEAM_DOMAIN "'><privilege xmlns='" ns "'>" perms             \
    "</privilege></message>"
#define PRESENCE_PERM "<perm access='presence' type='managed_entity'/>"

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

/* Feeds a permission message XML that grants presence from SERVER (the first of its
 * stream): hippod pings SERVER; the answer closes the resync window unless OPEN. */
static void grant_from(seam *s, const char *xml, const char *server, bool open)
{
    seam_feed_xml(s, xml);
    char ping[256], pong[256];
    snprintf(ping, sizeof ping,
             "<iq from=\"" SEAM_DOMAIN "\" id=\"hippo-resync-1\" to=\"%s\" type=\"get\">"
             "<ping xmlns=\"urn:xmpp:ping\"/></iq>",
             server);
    seam_expect_sent(s, ping);
    if (open)
        return;
    snprintf(pong, sizeof pong,
             "<iq from='%s' to='" SEAM_DOMAIN "' id='hippo-resync-1' type='result'/>", server);
    seam_feed_xml(s, pong);
}

static void grant(seam *s, const char *xml)
{
    grant_from(s, xml, SERVER, false);
}

static void presence(seam *s, const char *from, bool available)
{
    char xml[512];
    snprintf(xml, sizeof xml, "<presence from='%s' to='" SEAM_DOMAIN "'%s/>", from,
             available ? "" : " type='unavailable'");
    seam_feed_xml(s, xml);
}

static void expect_call(seam *s, const char *stmt, const char *bare)
{
    const seam_query *q = seam_expect_statement(s, stmt, SEAM_LIST(bare));
    assert_true(q->keyed);
    assert_string_equal(q->key, bare);
    seam_answer_rows(s, stmt, SEAM_LIST("AAAAAAAAAAAAAA"));
}

static uint64_t drops(seam *s, const char *reason)
{
    return hippo_metrics_get(&seam_hippod(s)->metrics.drops, reason);
}

static void test_sessions_counted_per_bare_jid(void **state)
{
    seam *s = *state;
    grant(s, GRANT("urn:xmpp:privilege:2", "<perm access='roster' type='get'/>"
                                           "<perm access='presence' type='roster'/>"));
    presence(s, "alice@example.test/one", true);
    expect_call(s, "session_login", "alice@example.test");
    presence(s, "Alice@Example.test/two", true); /* the same user: one more session */
    expect_call(s, "session_resend", "alice@example.test");
    presence(s, "alice@example.test/one", true); /* a status change */
    presence(s, "alice@example.test/one", false);
    seam_expect_no_query(s);
    presence(s, "bob@example.test/one", true);
    expect_call(s, "session_login", "bob@example.test");
    presence(s, "Alice@Example.test/two", false);
    expect_call(s, "session_logout", "alice@example.test");
    presence(s, "alice@example.test/one", false); /* unknown again: a logout (ejabberd case) */
    expect_call(s, "session_logout", "alice@example.test");
    presence(s, "alice@example.test/one", true); /* back: a login again */
    expect_call(s, "session_login", "alice@example.test");
    assert_string_equal(hippo_logins_privilege(seam_hippod(s)->logins), "presence");
    seam_expect_nothing_sent(s);
}

static void test_many_users_grow_the_table(void **state)
{
    seam *s = *state;
    grant(s, GRANT("urn:xmpp:privilege:1", PRESENCE_PERM));
    char jid[64], bare[64];
    for (int i = 0; i < 300; i++) {
        snprintf(jid, sizeof jid, "u%d@example.test/r", i);
        presence(s, jid, true);
        snprintf(bare, sizeof bare, "u%d@example.test", i);
        expect_call(s, "session_login", bare);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(jid, sizeof jid, "u%d@example.test/r", i);
        presence(s, jid, false);
        snprintf(bare, sizeof bare, "u%d@example.test", i);
        expect_call(s, "session_logout", bare);
    }
    seam_expect_nothing_sent(s);
}

static void test_without_grant_presence_is_dropped(void **state)
{
    seam *s = *state;
    uint64_t before = drops(s, "presence-to-service");
    presence(s, "alice@example.test/one", true);
    /* a grant without the presence permission changes nothing either */
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:2", "<perm access='presence' type='none'/>"));
    presence(s, "alice@example.test/one", false);
    /* nor does one for another domain */
    grant_from(s,
               "<message from='other.test' to='" SEAM_DOMAIN "'>"
               "<privilege xmlns='urn:xmpp:privilege:2'>" PRESENCE_PERM "</privilege></message>",
               "other.test", false);
    presence(s, "alice@example.test/two", true);
    assert_int_equal(drops(s, "presence-to-service"), before + 3);
    assert_string_equal(hippo_logins_privilege(seam_hippod(s)->logins), "presence");
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

static void test_presence_needs_a_full_jid(void **state)
{
    seam *s = *state;
    grant(s, GRANT("urn:xmpp:privilege:1", PRESENCE_PERM));
    uint64_t before = drops(s, "privileged-presence-not-full-jid");
    presence(s, "example.test", true);
    presence(s, "alice@example.test", true);
    presence(s, "alice@example.test/", true);
    assert_int_equal(drops(s, "privileged-presence-not-full-jid"), before + 3);
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

#define MESSAGE_ERROR(from, text)                                                                  \
    "<message from=\"" SEAM_DOMAIN "\" to=\"" from "\" type=\"error\">"                            \
    "<error type=\"modify\"><bad-request xmlns=\"" NS_STANZAS "\"/>"                               \
    "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">" text "</text></error></message>"

static void test_malformed_grants_refused(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='alice@example.test/one' to='" SEAM_DOMAIN "'>"
                     "<privilege xmlns='urn:xmpp:privilege:2'>" PRESENCE_PERM
                     "</privilege></message>");
    seam_expect_sent(s, MESSAGE_ERROR("alice@example.test/one",
                                      "a permission message must come from a server domain"));
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:3", PRESENCE_PERM));
    seam_expect_sent(s, MESSAGE_ERROR(SERVER, "unknown privilege namespace version"));
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:2", "<perm type='managed_entity'/>"));
    seam_expect_sent(s, MESSAGE_ERROR(SERVER, "malformed &lt;perm/&gt; element"));
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:2", "<perm access='presence' type='all'/>"));
    seam_expect_sent(s, MESSAGE_ERROR(SERVER, "malformed &lt;perm/&gt; element"));
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:2", "<perm access='presence'/>"));
    seam_expect_sent(s, MESSAGE_ERROR(SERVER, "malformed &lt;perm/&gt; element"));
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.errors, "bad-request"), 5);
    assert_string_equal(hippo_logins_privilege(seam_hippod(s)->logins), "none");
    presence(s, "alice@example.test/one", true);
    seam_expect_no_query(s);
    seam_expect_nothing_sent(s);
}

static void test_link_down_forgets_everything(void **state)
{
    seam *s = *state;
    grant(s, GRANT("urn:xmpp:privilege:2", PRESENCE_PERM));
    presence(s, "alice@example.test/one", true);
    expect_call(s, "session_login", "alice@example.test");
    hippo_logins_link_state(seam_hippod(s)->logins, false);
    assert_string_equal(hippo_logins_privilege(seam_hippod(s)->logins), "none");
    hippo_logins_link_state(seam_hippod(s)->logins, true);
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:2", PRESENCE_PERM));
    seam_expect_sent(s, "<iq from=\"" SEAM_DOMAIN "\" id=\"hippo-resync-2\" to=\"" SERVER
                        "\" type=\"get\"><ping xmlns=\"urn:xmpp:ping\"/></iq>");
    presence(s, "alice@example.test/one", true); /* the server's resend after the reconnect */
    expect_call(s, "session_resume", "alice@example.test");
    seam_expect_nothing_sent(s);
}

static void test_database_refusal_is_survived(void **state)
{
    seam *s = *state;
    grant(s, GRANT("urn:xmpp:privilege:2", PRESENCE_PERM));
    seam_db_down(s);
    presence(s, "alice@example.test/one", true);
    seam_db_up(s);
    presence(s, "alice@example.test/one", false);
    expect_call(s, "session_logout", "alice@example.test");
    presence(s, "alice@example.test/one", true);
    seam_expect_statement(s, "session_login", SEAM_LIST("alice@example.test"));
    seam_answer_error(s, "boom"); /* only logged: nobody waits for the answer */
    seam_expect_nothing_sent(s);
}

static void test_presences_taken_while_stopping(void **state)
{
    seam *s = *state;
    grant(s, GRANT("urn:xmpp:privilege:2", PRESENCE_PERM));
    seam_hippod(s)->stopping = true; /* presences are no requests: never a wait error */
    presence(s, "alice@example.test/one", true);
    expect_call(s, "session_login", "alice@example.test");
    presence(s, "alice@example.test/one", false);
    expect_call(s, "session_logout", "alice@example.test");
    seam_expect_nothing_sent(s);
}

static void test_resent_sessions_are_resumed(void **state)
{
    seam *s = *state;
    grant_from(s, GRANT("urn:xmpp:privilege:2", PRESENCE_PERM), SERVER, true);
    /* the server's resend of the open sessions, before its answer to the ping */
    presence(s, "alice@example.test/one", true);
    expect_call(s, "session_resume", "alice@example.test");
    presence(s, "alice@example.test/two", true);
    seam_expect_no_query(s);
    /* another answer is no end of the window, and is dropped as before */
    uint64_t before = drops(s, "unexpected-result");
    seam_feed_xml(s, "<iq from='" SERVER "' to='" SEAM_DOMAIN "' id='other' type='result'/>");
    assert_int_equal(drops(s, "unexpected-result"), before + 1);
    presence(s, "bob@example.test/one", true);
    expect_call(s, "session_resume", "bob@example.test");
    seam_feed_xml(s, "<iq from='" SERVER "' to='" SEAM_DOMAIN "' id='hippo-resync-1' "
                     "type='error'/>"); /* a server without ping ends it too */
    presence(s, "alice@example.test/three", true);
    expect_call(s, "session_resend", "alice@example.test");
    presence(s, "carol@example.test/one", true);
    expect_call(s, "session_login", "carol@example.test");
    /* a second grant on the same stream opens no window */
    seam_feed_xml(s, GRANT("urn:xmpp:privilege:2", PRESENCE_PERM));
    presence(s, "dave@example.test/one", true);
    expect_call(s, "session_login", "dave@example.test");
    seam_expect_nothing_sent(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sessions_counted_per_bare_jid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users_grow_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_grant_presence_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_needs_a_full_jid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_grants_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_down_forgets_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_refusal_is_survived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presences_taken_while_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resent_sessions_are_resumed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
