/* Unit tests for the push notification XML (src/push_xml.c): the messages around the
 * payloads, the per-recipient viewpoint of a shared livePostChanged, the per-user cut of
 * activePostsChanged out of one payload of many posts; every notification payload is
 * validated with libxml2 against schema/{post,prefs,myspace,hotness}.xsd, and the schema's
 * limits on the notification elements are checked too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "schema_check.h"

#include "post_xml.h"
#include "push_xml.h"
#include "stanza.h"
#include "user_iq_xml.h"

#define U1 "Uaaaaaaaaaaaa1"
#define U2 "Ubbbbbbbbbbbb2"
#define U3 "Ucccccccccccc3"
#define G1 "Gaaaaaaaaaaaa1"
#define R1 "Raaaaaaaaaaaa1"
#define P1 "Paaaaaaaaaaaa1"
#define P2 "Pbbbbbbbbbbbb2"
#define P3 "Pcccccccccccc3"

struct fixture {
    xmpp_ctx_t *ctx;
    xmlSchemaPtr post, prefs, myspace, hotness;
};

static int setup(void **state)
{
    static struct fixture f;
    xmpp_initialize();
    f.ctx = xmpp_ctx_new(NULL, NULL);
    f.post = load_schema("post.xsd");
    f.prefs = load_schema("prefs.xsd");
    f.myspace = load_schema("myspace.xsd");
    f.hotness = load_schema("hotness.xsd");
    *state = &f;
    return f.ctx ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    xmlSchemaFree(f->post);
    xmlSchemaFree(f->prefs);
    xmlSchemaFree(f->myspace);
    xmlSchemaFree(f->hotness);
    xmpp_ctx_free(f->ctx);
    xmpp_shutdown();
    xmlCleanupParser();
    return 0;
}

static void assert_text_valid(xmlSchemaPtr schema, const char *xml, bool want)
{
    if ((validate_text(schema, xml) == 0) != want)
        fail_msg("the schema says %s: %s", want ? "invalid" : "valid", xml);
}

/* The element names (with their id or text where they have one) of EL's children,
 * space-separated, into BUF. */
static const char *children(xmpp_stanza_t *el, char *buf, size_t size)
{
    buf[0] = '\0';
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        size_t used = strlen(buf);
        const char *id = xmpp_stanza_get_id(c);
        snprintf(buf + used, size - used, "%s%s%s%s", used ? " " : "", xmpp_stanza_get_name(c),
                 id ? ":" : "", id ? id : "");
    }
    return buf;
}

/* The text of EL's CHILD/GRANDCHILD ("" when empty); the caller frees it. */
static char *text_at(xmpp_stanza_t *el, const char *child, const char *grandchild)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(el, child);
    assert_non_null(c);
    xmpp_stanza_t *g = xmpp_stanza_get_child_by_name(c, grandchild);
    assert_non_null(g);
    char *t = xmpp_stanza_get_text(g);
    char *copy = strdup(t ? t : "");
    if (t)
        xmpp_free(xmpp_stanza_get_context(el), t);
    return copy;
}

static void assert_text_at(xmpp_stanza_t *el, const char *child, const char *grandchild,
                           const char *want)
{
    char *got = text_at(el, child, grandchild);
    assert_string_equal(got, want);
    free(got);
}

/* ------------------------------------------------------------------ sample payloads */

static void add_entities(xmpp_stanza_t *el)
{
    hippo_post_entity entities[] = {
        {HIPPO_ENTITY_GROUP, G1, "Hikers & Co", 7},
        {HIPPO_ENTITY_RESOURCE, R1, "carol@example.org", 0},
        {HIPPO_ENTITY_USER, U1, "Alice", 3},
        {HIPPO_ENTITY_USER, U2, "Bob", 0},
        {HIPPO_ENTITY_USER, U3, "Carl", 1},
    };
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++)
        assert_int_equal(hippo_post_xml_add_entity(el, &entities[i]), 0);
}

/* A <post> and its <livepost>: ID by POSTER to RECIPIENTS, viewed by VIEWERS. */
static void add_post(xmpp_stanza_t *el, const char *id, const char *poster,
                     const hippo_post_ref *recipients, size_t n_recipients,
                     const char *const *viewers, size_t n_viewers, bool with_live)
{
    hippo_post_fields p = {.id = id,
                           .poster_id = poster,
                           .href = "http://example.org/a?b=1&c=2",
                           .title = "A <title>",
                           .text = "",
                           .post_date = 1700000000,
                           .recipients = recipients,
                           .n_recipients = n_recipients};
    assert_int_equal(hippo_post_xml_add_post(el, &p), 0);
    if (!with_live)
        return;
    hippo_livepost_fields l = {.id = id,
                               .viewers = viewers,
                               .n_viewers = n_viewers,
                               .chatting_users = 1,
                               .viewing_users = 2,
                               .total_viewers = n_viewers};
    assert_int_equal(hippo_post_xml_add_livepost(el, &l), 0);
}

static const hippo_post_ref p1_recipients[] = {
    {HIPPO_ENTITY_USER, U2}, {HIPPO_ENTITY_GROUP, G1}, {HIPPO_ENTITY_RESOURCE, R1}};
static const char *const p1_viewers[] = {U3};
static const hippo_post_ref p2_recipients[] = {{HIPPO_ENTITY_USER, U1}};
static const char *const p3_viewers[] = {U1};

/* Entities, then P1, P2, P3 with their liveposts: what push_payload_rows() gives. */
static xmpp_stanza_t *combined_payload(xmpp_ctx_t *ctx)
{
    xmpp_stanza_t *el = hippo_post_xml_wrapper(ctx, "activePostsChanged");
    assert_non_null(el);
    add_entities(el);
    add_post(el, P1, U1, p1_recipients, 3, p1_viewers, 1, true);
    add_post(el, P2, U2, p2_recipients, 1, NULL, 0, true);
    add_post(el, P3, U3, NULL, 0, p3_viewers, 1, true);
    return el;
}

/* ------------------------------------------------------------------ messages */

static void new_post_message(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *payload = hippo_post_xml_wrapper(f->ctx, "newPost");
    add_entities(payload);
    add_post(payload, P1, U1, p1_recipients, 3, NULL, 0, false);
    assert_valid(f->post, payload);
    xmpp_stanza_t *msg = hippo_push_xml_message(f->ctx, "normal", "A <title>\nhttp://x", payload);
    xmpp_stanza_release(payload); /* the message keeps its own reference */
    assert_non_null(msg);
    assert_string_equal(xmpp_stanza_get_name(msg), "message");
    assert_string_equal(xmpp_stanza_get_type(msg), "normal");
    assert_null(xmpp_stanza_get_to(msg));
    char buf[512];
    assert_string_equal(children(msg, buf, sizeof buf), "body newPost");
    char *body = xmpp_message_get_body(msg);
    assert_string_equal(body, "A <title>\nhttp://x");
    xmpp_free(f->ctx, body);
    assert_valid(f->post, xmpp_stanza_get_child_by_name(msg, "newPost"));
    xmpp_stanza_release(msg);
}

static void headline_messages_carry_valid_payloads(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *prefs = hippo_prefs_element(f->ctx);
    assert_int_equal(hippo_prefs_add(prefs, "musicSharingEnabled", "true"), 0);
    assert_int_equal(hippo_prefs_add(prefs, "x.custom", "a <b> & c"), 0);
    struct {
        xmpp_stanza_t *payload;
        xmlSchemaPtr schema;
    } cases[] = {
        {prefs, f->prefs},
        {hippo_myspace_name_changed_element(f->ctx, "Someone"), f->myspace},
        {hippo_myspace_name_changed_element(f->ctx, NULL), f->myspace},
        {hippo_myspace_contact_comment_element(f->ctx), f->myspace},
        {hippo_post_xml_hotness(f->ctx, "GETTING_HOT"), f->hotness},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_non_null(cases[i].payload);
        xmpp_stanza_t *msg = hippo_push_xml_message(f->ctx, "headline", NULL, cases[i].payload);
        assert_non_null(msg);
        assert_string_equal(xmpp_stanza_get_type(msg), "headline");
        assert_null(xmpp_stanza_get_child_by_name(msg, "body"));
        assert_int_equal(hippo_stanza_element_count(msg), 1);
        assert_valid(cases[i].schema, hippo_stanza_first_element(msg));
        xmpp_stanza_release(msg);
        xmpp_stanza_release(cases[i].payload);
    }
}

static void cleared_myspace_name_has_no_attribute(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_myspace_name_changed_element(f->ctx, NULL);
    assert_null(xmpp_stanza_get_attribute(el, "name"));
    assert_string_equal(xmpp_stanza_get_name(el), "mySpaceNameChanged");
    xmpp_stanza_release(el);
    assert_text_valid(f->myspace,
                      "<mySpaceNameChanged xmlns='http://dumbhippo.com/protocol/myspace' name=''/>",
                      false);
}

/* ------------------------------------------------------------------ livePostChanged */

static void viewpoint_is_rewritten_per_recipient(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *payload = hippo_post_xml_wrapper(f->ctx, "livePostChanged");
    add_entities(payload);
    add_post(payload, P1, U1, p1_recipients, 3, p1_viewers, 1, true);
    xmpp_stanza_t *msg = hippo_push_xml_message(f->ctx, "headline", NULL, payload);
    hippo_push_viewpoint vp;
    assert_int_equal(hippo_push_xml_viewpoint(payload, &vp), 0);
    xmpp_stanza_release(payload);

    const bool flags[][2] = {{true, false}, {false, true}, {true, true}, {false, false}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        assert_int_equal(hippo_push_xml_set_viewpoint(&vp, flags[i][0], flags[i][1]), 0);
        xmpp_stanza_t *el = xmpp_stanza_get_child_by_name(msg, "livePostChanged");
        assert_text_at(el, "post", "favorite", flags[i][0] ? "true" : "false");
        assert_text_at(el, "post", "ignored", flags[i][1] ? "true" : "false");
        assert_valid(f->post, el);
    }
    xmpp_stanza_release(msg);
}

static void viewpoint_needs_a_post(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "livePostChanged");
    add_entities(el);
    hippo_push_viewpoint vp;
    assert_int_equal(hippo_push_xml_viewpoint(el, &vp), -1);
    xmpp_stanza_release(el);
}

/* ------------------------------------------------------------------ activePostsChanged */

static void selection_has_entities_once_then_pairs(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *payload = combined_payload(f->ctx);
    hippo_push_posts *ix = hippo_push_posts_index(payload);
    xmpp_stanza_release(payload); /* the index keeps its own reference */
    assert_non_null(ix);

    const char *ids[] = {P2, P1};
    const char *flags[] = {"tf", "ft"};
    xmpp_stanza_t *el = hippo_push_posts_select(ix, "activePostsChanged", ids, flags, 2);
    assert_non_null(el);
    char buf[1024];
    /* P2: its poster U2, recipient U1; P1: U1 and U2 again, then G1, R1, viewer U3 */
    assert_string_equal(children(el, buf, sizeof buf),
                        "user:" U2 " user:" U1 " group:" G1 " resource:" R1 " user:" U3 " post:" P2
                        " livepost:" P2 " post:" P1 " livepost:" P1);
    assert_valid(f->post, el);
    xmpp_stanza_t *p2 = xmpp_stanza_get_child_by_name(el, "post");
    assert_string_equal(xmpp_stanza_get_id(p2), P2);
    char *fav = text_at(el, "post", "favorite"), *ign = text_at(el, "post", "ignored");
    assert_string_equal(fav, "true");
    assert_string_equal(ign, "false");
    free(fav);
    free(ign);
    xmpp_stanza_release(el);

    /* the index is not changed by a selection: P1 alone, flags as indexed */
    const char *one[] = {P1};
    el = hippo_push_posts_select(ix, "activePostsChanged", one, NULL, 1);
    assert_string_equal(children(el, buf, sizeof buf),
                        "user:" U1 " user:" U2 " group:" G1 " resource:" R1 " user:" U3 " post:" P1
                        " livepost:" P1);
    assert_text_at(el, "post", "favorite", "false");
    assert_text_at(el, "post", "ignored", "false");
    assert_valid(f->post, el);
    xmpp_stanza_release(el);
    hippo_push_posts_free(ix);
}

static void selection_skips_unknown_and_repeated_posts(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *payload = combined_payload(f->ctx);
    hippo_push_posts *ix = hippo_push_posts_index(payload);
    xmpp_stanza_release(payload);
    assert_non_null(ix);
    const char *ids[] = {"Zzzzzzzzzzzzz9", P3, P3, NULL};
    xmpp_stanza_t *el = hippo_push_posts_select(ix, "activePostsChanged", ids, NULL, 4);
    char buf[512];
    assert_string_equal(children(el, buf, sizeof buf),
                        "user:" U3 " user:" U1 " post:" P3 " livepost:" P3);
    assert_valid(f->post, el);
    xmpp_stanza_release(el);

    el = hippo_push_posts_select(ix, "activePostsChanged", NULL, NULL, 0);
    assert_string_equal(children(el, buf, sizeof buf), "");
    assert_valid(f->post, el); /* nothing active any more */
    xmpp_stanza_release(el);
    hippo_push_posts_free(ix);
}

static void index_rejects_a_post_without_livepost(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "activePostsChanged");
    add_entities(el);
    add_post(el, P1, U1, p1_recipients, 3, NULL, 0, false);
    assert_null(hippo_push_posts_index(el));
    add_post(el, P2, U2, p2_recipients, 1, NULL, 0, true); /* P1 is followed by P2's post */
    assert_null(hippo_push_posts_index(el));
    xmpp_stanza_release(el);
}

/* A <post> followed by another post's <livepost> is refused too (found by fuzz_push_select). */
static void index_rejects_a_livepost_of_another_post(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "activePostsChanged");
    add_entities(el);
    add_post(el, P1, U1, p1_recipients, 3, NULL, 0, false);
    hippo_livepost_fields other = {.id = P2};
    assert_int_equal(hippo_post_xml_add_livepost(el, &other), 0);
    assert_null(hippo_push_posts_index(el));
    xmpp_stanza_release(el);
}

/* ------------------------------------------------------------------ the schema's limits */

#define NS "xmlns='http://dumbhippo.com/protocol/post'"
#define POST(ID)                                                                                   \
    "<post id='" ID "'><poster>" U1 "</poster><href>h</href><title>t</title><text/>"               \
    "<toWorld>false</toWorld><postDate>1</postDate><recipients/><favorite>false</favorite>"        \
    "<ignored>false</ignored></post>"
#define LIVE(ID)                                                                                   \
    "<livepost id='" ID "'><recentViewers/><chattingUserCount>0</chattingUserCount>"               \
    "<viewingUserCount>0</viewingUserCount><totalViewers>0</totalViewers></livepost>"
#define USER(ID)                                                                                   \
    "<user id='" ID "' name='A' homeUrl='/person?who=" ID                                          \
    "' smallPhotoUrl='/files/headshots/60/" ID "?v=0'/>"

static void schema_limits_of_notifications(void **state)
{
    struct fixture *f = *state;
    const struct {
        const char *xml;
        bool valid;
    } cases[] = {
        {"<newPost " NS ">" USER(U1) POST(P1) "</newPost>", true},
        {"<newPost " NS ">" USER(U1) "</newPost>", false},                   /* no post */
        {"<newPost " NS ">" POST(P1) POST(P2) "</newPost>", false},          /* two posts */
        {"<newPost " NS ">" POST(P1) LIVE(P1) "</newPost>", false},          /* live numbers */
        {"<newPost " NS ">" USER(U1) USER(U1) POST(P1) "</newPost>", false}, /* user twice */
        {"<livePostChanged " NS ">" USER(U1) POST(P1) LIVE(P1) "</livePostChanged>", true},
        {"<livePostChanged " NS ">" POST(P1) "</livePostChanged>", false}, /* no livepost */
        {"<livePostChanged " NS ">" POST(P1) LIVE(P1) POST(P2) LIVE(P2) "</livePostChanged>",
         false},
        {"<livePostChanged " NS ">" POST(P1) LIVE(P1) USER(U1) "</livePostChanged>", false},
        {"<activePostsChanged " NS "/>", true},
        {"<activePostsChanged " NS ">" USER(U1) POST(P1) LIVE(P1) POST(P2) LIVE(P2) POST(P3)
             LIVE(P3) "</activePostsChanged>",
         true},
        {"<activePostsChanged " NS ">" POST(P1) LIVE(P1) POST(P2) LIVE(P2) POST(P3) LIVE(P3)
             POST("Pdddddddddddd4") LIVE("Pdddddddddddd4") "</activePostsChanged>",
         false}, /* four */
        {"<activePostsChanged " NS ">" POST(P1) LIVE(P1) POST(P1) LIVE(P1) "</activePostsChanged>",
         false}, /* a post twice */
        {"<activePostsChanged " NS ">" POST(P1) LIVE(P1) USER(U1) "</activePostsChanged>",
         false}, /* entities come first */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_text_valid(f->post, cases[i].xml, cases[i].valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_post_message),
        cmocka_unit_test(headline_messages_carry_valid_payloads),
        cmocka_unit_test(cleared_myspace_name_has_no_attribute),
        cmocka_unit_test(viewpoint_is_rewritten_per_recipient),
        cmocka_unit_test(viewpoint_needs_a_post),
        cmocka_unit_test(selection_has_entities_once_then_pairs),
        cmocka_unit_test(selection_skips_unknown_and_repeated_posts),
        cmocka_unit_test(index_rejects_a_post_without_livepost),
        cmocka_unit_test(index_rejects_a_livepost_of_another_post),
        cmocka_unit_test(schema_limits_of_notifications),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
