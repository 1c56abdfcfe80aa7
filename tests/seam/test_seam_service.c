/* Flow tests of the service at the component domain through the seam: disco#info, ping and
 * version (src/handle_disco.c), and the router's answers to what it does not serve
 * (src/router.c): unknown namespaces, malformed IQs, messages and presence to the service,
 * results and errors, foreign domains. None of these touches the database (disco#items,
 * which does, is in test_seam_disco_items.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <cmocka.h>

#include "seam.h"

#define ALICE "alice@example.test/desk"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* The error reply hippod builds (stanza.c): the request's name and id, addresses swapped. */
#define IQ_ERROR(id, type, condition, text)                                                        \
    "<iq from=\"" SEAM_DOMAIN "\" id=\"" id "\" to=\"" ALICE "\" type=\"error\">"                  \
    "<error type=\"" type "\"><" condition " xmlns=\"" NS_STANZAS "\"/>"                           \
    "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">" text "</text></error></iq>"

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

static void test_disco_info(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='d1'>"
                     "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    seam_expect_sent(s, "<iq from=\"" SEAM_DOMAIN "\" id=\"d1\" to=\"" ALICE "\" type=\"result\">"
                        "<query xmlns=\"http://jabber.org/protocol/disco#info\">"
                        "<identity category=\"conference\" name=\"Mugshot chat rooms (hippod)\""
                        " type=\"text\"/>"
                        "<feature var=\"http://jabber.org/protocol/disco#info\"/>"
                        "<feature var=\"http://jabber.org/protocol/disco#items\"/>"
                        "<feature var=\"urn:xmpp:ping\"/>"
                        "<feature var=\"jabber:iq:version\"/>"
                        "<feature var=\"http://jabber.org/protocol/rsm\"/>"
                        "</query></iq>");
    seam_expect_nothing_sent(s);
    seam_expect_no_query(s);
}

static void test_disco_info_node_is_unknown(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='d2'>"
                     "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>");
    seam_expect_sent(s, IQ_ERROR("d2", "cancel", "item-not-found", "no such node"));
}

static void test_ping(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='p1'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>");
    seam_expect_sent(s,
                     "<iq from=\"" SEAM_DOMAIN "\" id=\"p1\" to=\"" ALICE "\" type=\"result\"/>");
}

static void test_version(void **state)
{
    seam *s = *state;
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    char want[512];
    snprintf(want, sizeof want,
             "<iq from=\"" SEAM_DOMAIN "\" id=\"v1\" to=\"" ALICE "\" type=\"result\">"
             "<query xmlns=\"jabber:iq:version\"><name>hippod</name>"
             "<version>" HIPPOD_VERSION "</version><os>%s</os></query></iq>",
             u.sysname);
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='v1'>"
                     "<query xmlns='jabber:iq:version'/></iq>");
    seam_expect_sent(s, want);
}

/* A set of a namespace the service only answers with get. */
static void test_disco_set_is_not_served(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='set' id='d4'>"
                     "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    seam_expect_sent(s, IQ_ERROR("d4", "cancel", "service-unavailable",
                                 "this service does not handle that request"));
}

static void test_unknown_namespace(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='u1'>"
                     "<query xmlns='urn:example:nothing'/></iq>");
    seam_expect_sent(s, IQ_ERROR("u1", "cancel", "service-unavailable",
                                 "this service does not handle that request"));
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.errors, "service-unavailable"), 1);
}

static void test_unknown_dumbhippo_namespace(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='u2'>"
                     "<thing xmlns='http://dumbhippo.com/protocol/nothing'/></iq>");
    seam_expect_sent(s, IQ_ERROR("u2", "cancel", "feature-not-implemented",
                                 "unknown dumbhippo protocol namespace"));
    seam_expect_no_query(s); /* the sender is not even looked up */
}

static void test_malformed_iqs(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='m1'>"
                     "<ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>");
    seam_expect_sent(s, IQ_ERROR("m1", "modify", "bad-request",
                                 "iq get/set must carry exactly one payload element"));
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='m2'/>");
    seam_expect_sent(s, IQ_ERROR("m2", "modify", "bad-request",
                                 "iq get/set must carry exactly one payload element"));
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>");
    seam_expect_sent(s, "<iq from=\"" SEAM_DOMAIN "\" to=\"" ALICE "\" type=\"error\">"
                        "<error type=\"modify\"><bad-request xmlns=\"" NS_STANZAS "\"/>"
                        "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">iq without id</text>"
                        "</error></iq>");
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='fetch' id='m3'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>");
    seam_expect_sent(s, IQ_ERROR("m3", "modify", "bad-request", "iq type must be get or set"));
    seam_expect_no_query(s);
}

static void test_message_to_service(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<message from='" ALICE "' to='" SEAM_DOMAIN "' id='x1'><body>hi</body>"
                     "</message>");
    seam_expect_sent(s, "<message from=\"" SEAM_DOMAIN "\" id=\"x1\" to=\"" ALICE "\""
                        " type=\"error\"><error type=\"cancel\">"
                        "<service-unavailable xmlns=\"" NS_STANZAS "\"/>"
                        "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">messages to the service"
                        " itself are not handled</text></error></message>");
}

/* Never answered (RFC 6120 8.3.1), only counted: results, errors, presence to the service,
 * other domains, unknown elements, stanzas without a sender. */
/* During a graceful stop new requests get a wait error; answers are still taken. */
static void test_stopping_refuses_new_requests(void **state)
{
    seam *s = *state;
    seam_hippod(s)->stopping = true;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='s1'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>");
    seam_expect_sent(s, IQ_ERROR("s1", "wait", "service-unavailable",
                                 "the service is restarting, try again shortly"));
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='result' id='s2'/>");
    seam_expect_nothing_sent(s);
    assert_int_equal(hippo_metrics_get(&seam_hippod(s)->metrics.drops, "unexpected-result"), 1);
}

static void test_dropped_without_answer(void **state)
{
    seam *s = *state;
    const char *const dropped[] = {
        "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='result' id='r1'/>",
        "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='error' id='r2'/>",
        "<presence from='" ALICE "' to='" SEAM_DOMAIN "'/>",
        "<iq from='" ALICE "' to='other.example.test' type='get' id='r3'>"
        "<ping xmlns='urn:xmpp:ping'/></iq>",
        "<iq to='" SEAM_DOMAIN "' type='get' id='r4'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<handshake from='" ALICE "' to='" SEAM_DOMAIN "'/>",
    };
    const char *const reasons[] = {"unexpected-result", "error-received", "presence-to-service",
                                   "bad-address",       "bad-address",    "unknown-element"};
    hippo_metrics *m = &seam_hippod(s)->metrics;
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        uint64_t before = hippo_metrics_get(&m->drops, reasons[i]);
        seam_feed_xml(s, dropped[i]);
        assert_int_equal(hippo_metrics_get(&m->drops, reasons[i]), before + 1);
    }
    seam_expect_nothing_sent(s);
    seam_expect_no_query(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disco_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disco_info_node_is_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disco_set_is_not_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_dumbhippo_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_iqs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_to_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopping_refuses_new_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_without_answer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
