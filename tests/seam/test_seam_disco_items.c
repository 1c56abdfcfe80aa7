/* Flow tests of disco#items at the component domain through the seam
 * (src/handle_disco_items.c): the statement and its parameters (sender's bare JID, paging as
 * XEP-0059 asks it, the caps), the list and the <set/> built from its rows, and every
 * refusal: malformed RSM, an unknown RSM id, the database down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "handlers.h"
#include "seam.h"

#define ALICE "alice@example.test/desk"
#define ALICE_BARE "alice@example.test"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define ROOM_A "ab_c1d_ef_gh_jk_lm_n@" SEAM_DOMAIN
#define ROOM_B "x_y_z1234567890@" SEAM_DOMAIN
#define COLUMNS "what,room_jid,title,n"

#define IQ_ERROR(id, type, condition, text)                                                        \
    "<iq from=\"" SEAM_DOMAIN "\" id=\"" id "\" to=\"" ALICE "\" type=\"error\">"                  \
    "<error type=\"" type "\"><" condition " xmlns=\"" NS_STANZAS "\"/>"                           \
    "<text xmlns=\"" NS_STANZAS "\" xml:lang=\"en\">" text "</text></error></iq>"
#define RESULT(id, inner)                                                                          \
    "<iq from=\"" SEAM_DOMAIN "\" id=\"" id "\" to=\"" ALICE "\" type=\"result\">"                 \
    "<query xmlns=\"" NS_ITEMS "\">" inner "</query></iq>"
#define ITEM_A "<item jid=\"" ROOM_A "\" name=\"Climbers\"/>"
#define ITEM_B "<item jid=\"" ROOM_B "\" name=\"A &lt;good&gt; read\"/>"

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

static void feed(seam *s, const char *id, const char *inner)
{
    char xml[2048];
    snprintf(xml, sizeof xml,
             "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='%s'>"
             "<query xmlns='" NS_ITEMS "'>%s</query></iq>",
             id, inner);
    seam_feed_xml(s, xml);
}

/* The statement, keyed by the sender's bare JID, with the page size, after, before, index. */
static void expect_listing(seam *s, const char *page_max, const char *after, const char *before,
                           const char *index)
{
    char posts[16];
    snprintf(posts, sizeof posts, "%d", HIPPO_DISCO_MAX_POSTS);
    const seam_query *q = seam_expect_statement(
        s, "rooms_for_user",
        SEAM_LIST(ALICE_BARE, SEAM_DOMAIN, posts, page_max, after, before, index));
    assert_true(q->keyed);
    assert_string_equal(q->key, ALICE_BARE);
}

static void answer_two_of(seam *s, const char *count)
{
    seam_answer_rows(s, COLUMNS,
                     SEAM_LIST("status", "ok", NULL, count, "item", ROOM_A, "Climbers", "4", "item",
                               ROOM_B, "A <good> read", "5"));
}

/* No RSM and the whole list fits: a plain XEP-0030 answer. */
static void test_plain_list(void **state)
{
    seam *s = *state;
    feed(s, "i1", "");
    expect_listing(s, "100", NULL, NULL, NULL);
    seam_answer_rows(s, COLUMNS,
                     SEAM_LIST("status", "ok", NULL, "2", "item", ROOM_A, "Climbers", "0", "item",
                               ROOM_B, "A <good> read", "1"));
    seam_expect_sent(s, RESULT("i1", ITEM_A ITEM_B));
    seam_expect_nothing_sent(s);
}

/* No RSM, more rooms than a page: the first page, and a <set/> that says so. */
static void test_unpaged_list_is_cut(void **state)
{
    seam *s = *state;
    feed(s, "i2", "");
    expect_listing(s, "100", NULL, NULL, NULL);
    seam_answer_rows(s, COLUMNS,
                     SEAM_LIST("status", "ok", NULL, "150", "item", ROOM_A, "Climbers", "0"));
    seam_expect_sent(s, RESULT("i2", ITEM_A "<set xmlns=\"" NS_RSM "\"><first index=\"0\">" ROOM_A
                                            "</first><last>" ROOM_A "</last><count>150</count>"
                                            "</set>"));
}

static void test_rsm_page_after(void **state)
{
    seam *s = *state;
    feed(s, "i3", "<set xmlns='" NS_RSM "'><max>2</max><after>" ROOM_B "</after></set>");
    expect_listing(s, "2", ROOM_B, NULL, NULL);
    answer_two_of(s, "9");
    seam_expect_sent(s, RESULT("i3", ITEM_A ITEM_B "<set xmlns=\"" NS_RSM "\">"
                                                   "<first index=\"4\">" ROOM_A "</first>"
                                                   "<last>" ROOM_B "</last><count>9</count>"
                                                   "</set>"));
}

/* max above the cap is the cap; an empty <before/> asks for the last page; index. */
static void test_rsm_cap_last_page_and_index(void **state)
{
    seam *s = *state;
    feed(s, "i4", "<set xmlns='" NS_RSM "'><max>100000</max><before/></set>");
    expect_listing(s, "100", NULL, "", NULL);
    answer_two_of(s, "6");
    seam_expect_sent(s, RESULT("i4", ITEM_A ITEM_B "<set xmlns=\"" NS_RSM "\">"
                                                   "<first index=\"4\">" ROOM_A "</first>"
                                                   "<last>" ROOM_B "</last><count>6</count>"
                                                   "</set>"));
    feed(s, "i5", "<set xmlns='" NS_RSM "'><max> 7 </max><index>3</index></set>");
    expect_listing(s, "7", NULL, NULL, "3");
    seam_answer_rows(s, COLUMNS,
                     SEAM_LIST("status", "ok", NULL, "6", "item", ROOM_B, "A <good> read", "3"));
    seam_expect_sent(s, RESULT("i5", ITEM_B "<set xmlns=\"" NS_RSM "\">"
                                            "<first index=\"3\">" ROOM_B "</first>"
                                            "<last>" ROOM_B "</last><count>6</count></set>"));
}

/* max 0: the count alone (XEP-0059 2.6); a user without rooms, or a stranger, gets count 0. */
static void test_rsm_count_only_and_stranger(void **state)
{
    seam *s = *state;
    feed(s, "i6", "<set xmlns='" NS_RSM "'><max>0</max></set>");
    expect_listing(s, "0", NULL, NULL, NULL);
    seam_answer_rows(s, COLUMNS, SEAM_LIST("status", "ok", NULL, "0"));
    seam_expect_sent(s, RESULT("i6", "<set xmlns=\"" NS_RSM "\"><count>0</count></set>"));
    feed(s, "i7", "");
    expect_listing(s, "100", NULL, NULL, NULL);
    seam_answer_rows(s, COLUMNS, SEAM_LIST("status", "ok", NULL, "0"));
    seam_expect_sent(s, "<iq from=\"" SEAM_DOMAIN "\" id=\"i7\" to=\"" ALICE "\" type=\"result\">"
                        "<query xmlns=\"" NS_ITEMS "\"/></iq>");
}

static void test_rsm_unknown_item(void **state)
{
    seam *s = *state;
    feed(s, "i8", "<set xmlns='" NS_RSM "'><after>nobody@" SEAM_DOMAIN "</after></set>");
    expect_listing(s, "100", "nobody@" SEAM_DOMAIN, NULL, NULL);
    seam_answer_rows(s, COLUMNS, SEAM_LIST("status", "item-not-found", NULL, "3"));
    seam_expect_sent(s,
                     IQ_ERROR("i8", "cancel", "item-not-found", "no such item in this result set"));
}

/* Every malformed <set/> is a bad-request, counted, and nothing reaches the database. */
static void test_malformed_rsm(void **state)
{
    seam *s = *state;
    static const struct {
        const char *set, *why;
    } bad[] = {
        {"<set xmlns='" NS_RSM "'><max>-1</max></set>",
         "RSM max must be an integer from 0 to 2147483647"},
        {"<set xmlns='" NS_RSM "'><max>ten</max></set>",
         "RSM max must be an integer from 0 to 2147483647"},
        {"<set xmlns='" NS_RSM "'><max></max></set>",
         "RSM max must be an integer from 0 to 2147483647"},
        {"<set xmlns='" NS_RSM "'><max>2147483648</max></set>",
         "RSM max must be an integer from 0 to 2147483647"},
        {"<set xmlns='" NS_RSM "'><index>1e3</index></set>",
         "RSM index must be an integer from 0 to 2147483647"},
        {"<set xmlns='" NS_RSM "'><max>1</max><max>2</max></set>",
         "repeated element in the RSM set"},
        {"<set xmlns='" NS_RSM "'><after/></set>", "RSM after must name an item"},
        {"<set xmlns='" NS_RSM "'><after>a</after><before>b</before></set>",
         "RSM after and before together"},
        {"<set xmlns='" NS_RSM "'><index>1</index><before/></set>",
         "RSM index with after or before"},
        {"<set xmlns='" NS_RSM "'><count>3</count></set>",
         "a request's RSM set holds only max, index, after and before"},
        {"<set xmlns='" NS_RSM "'><max><b/></max></set>", "RSM elements hold text only"},
        {"<set xmlns='" NS_RSM "'/><set xmlns='" NS_RSM "'/>", "more than one RSM set"},
        {"<first xmlns='" NS_RSM "'/>", "unexpected RSM element"},
    };
    hippo_metrics *m = &seam_hippod(s)->metrics;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        feed(s, "b1", bad[i].set);
        char want[1024];
        snprintf(want, sizeof want, IQ_ERROR("b1", "modify", "bad-request", "%s"), bad[i].why);
        seam_expect_sent(s, want);
        assert_int_equal(hippo_metrics_get(&m->errors, "bad-request"), i + 1);
    }
    char id[600];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    char set[800];
    snprintf(set, sizeof set, "<set xmlns='" NS_RSM "'><before>%s</before></set>", id);
    feed(s, "b2", set);
    seam_expect_sent(s, IQ_ERROR("b2", "modify", "bad-request", "RSM item id too long"));
    seam_expect_no_query(s);
}

static void test_node_and_database_down(void **state)
{
    seam *s = *state;
    seam_feed_xml(s, "<iq from='" ALICE "' to='" SEAM_DOMAIN "' type='get' id='n1'>"
                     "<query xmlns='" NS_ITEMS "' node='x'/></iq>");
    seam_expect_sent(s, IQ_ERROR("n1", "cancel", "item-not-found", "no such node"));
    seam_db_down(s);
    feed(s, "n2", "");
    seam_expect_sent(s, IQ_ERROR("n2", "wait", "internal-server-error",
                                 "database unavailable, try again later"));
    seam_db_up(s);
    feed(s, "n3", "");
    expect_listing(s, "100", NULL, NULL, NULL);
    seam_answer_error(s, "ERROR:  canceling statement due to statement timeout");
    seam_expect_sent(s, IQ_ERROR("n3", "wait", "internal-server-error",
                                 "database unavailable, try again later"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpaged_list_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsm_page_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsm_cap_last_page_and_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsm_count_only_and_stranger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsm_unknown_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_rsm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_and_database_down, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
