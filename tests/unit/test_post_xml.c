/* Unit tests for the post-related XML (src/post_xml.c, src/post_payload.c's row parser):
 * every reply builder's output is validated against schema/{post,hotness}.xsd with libxml2,
 * and the request checks are compared with schema/{post,servermethod,hotness,postControl}.xsd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "schema_check.h"

#include "post_payload.h"
#include "post_xml.h"
#include "stanza.h"

#define U1 "Uaaaaaaaaaaaa1"
#define U2 "Ubbbbbbbbbbbb2"
#define U3 "Ucccccccccccc3"
#define G1 "Gaaaaaaaaaaaa1"
#define R1 "Raaaaaaaaaaaa1"
#define P1 "Paaaaaaaaaaaa1"
#define P2 "Pbbbbbbbbbbbb2"

struct fixture {
    xmpp_ctx_t *ctx;
    xmlSchemaPtr post, hotness, method, control;
};

static int setup(void **state)
{
    static struct fixture f;
    xmpp_initialize();
    f.ctx = xmpp_ctx_new(NULL, NULL);
    f.post = load_schema("post.xsd");
    f.hotness = load_schema("hotness.xsd");
    f.method = load_schema("servermethod.xsd");
    f.control = load_schema("postControl.xsd");
    *state = &f;
    return f.ctx ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    xmlSchemaFree(f->post);
    xmlSchemaFree(f->hotness);
    xmlSchemaFree(f->method);
    xmlSchemaFree(f->control);
    xmpp_ctx_free(f->ctx);
    xmpp_shutdown();
    xmlCleanupParser();
    return 0;
}

static void assert_invalid(xmlSchemaPtr schema, xmpp_stanza_t *el)
{
    char *xml = to_text(el);
    if (validate_text(schema, xml) == 0)
        fail_msg("unexpectedly valid against the schema: %s", xml);
    xmpp_free(xmpp_stanza_get_context(el), xml);
}

/* The text of child NAME of EL, "" when empty; the caller frees it with free(). */
static char *child_text(xmpp_stanza_t *el, const char *name)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(el, name);
    assert_non_null(c);
    char *t = xmpp_stanza_get_text(c);
    char *copy = strdup(t ? t : "");
    if (t)
        xmpp_free(xmpp_stanza_get_context(el), t);
    return copy;
}

static void assert_child_text(xmpp_stanza_t *el, const char *name, const char *want)
{
    char *got = child_text(el, name);
    assert_string_equal(got, want);
    free(got);
}

/* The element names of EL's children, space-separated, into BUF. */
static const char *child_names(xmpp_stanza_t *el, char *buf, size_t size)
{
    buf[0] = '\0';
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", used ? " " : "", xmpp_stanza_get_name(c));
    }
    return buf;
}

static const hippo_post_ref recipients[] = {
    {HIPPO_ENTITY_USER, U2}, {HIPPO_ENTITY_GROUP, G1}, {HIPPO_ENTITY_RESOURCE, R1}};

static hippo_post_fields sample_post(void)
{
    return (hippo_post_fields){.id = P1,
                               .poster_id = U1,
                               .href = "http://example.org/a?b=1&c=2",
                               .title = "A <title> & more",
                               .text = "body text",
                               .to_world = false,
                               .post_date = 1700000000,
                               .info = "<postInfo><flickr id=\"3\"/></postInfo>",
                               .recipients = recipients,
                               .n_recipients = 3,
                               .favorite = true,
                               .ignored = false};
}

static void add_sample_entities(xmpp_stanza_t *el)
{
    hippo_post_entity entities[] = {
        {HIPPO_ENTITY_USER, U1, "Alice \"A\" <al>", 3},
        {HIPPO_ENTITY_USER, U2, "Bob", 0},
        {HIPPO_ENTITY_RESOURCE, R1, "carol@example.org", 0},
        {HIPPO_ENTITY_GROUP, G1, "Hikers & Co", 7},
    };
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++)
        assert_int_equal(hippo_post_xml_add_entity(el, &entities[i]), 0);
}

static void payload_from_structs_is_valid(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "recentPosts");
    assert_non_null(el);
    add_sample_entities(el);
    hippo_post_fields p = sample_post();
    assert_int_equal(hippo_post_xml_add_post(el, &p), 0);
    const char *viewers[] = {U1, U2, U3, "V0000000000004", "V0000000000005", "V0000000000006"};
    hippo_livepost_fields l = {.id = P1,
                               .viewers = viewers,
                               .n_viewers = 6,
                               .chatting_users = 2,
                               .viewing_users = 1,
                               .total_viewers = 9};
    assert_int_equal(hippo_post_xml_add_livepost(el, &l), 0);
    assert_valid(f->post, el);

    char names[256];
    assert_string_equal(child_names(el, names, sizeof names),
                        "user user resource group post livepost");
    xmpp_stanza_t *user = xmpp_stanza_get_child_by_name(el, "user");
    assert_string_equal(xmpp_stanza_get_attribute(user, "homeUrl"), "/person?who=" U1);
    assert_string_equal(xmpp_stanza_get_attribute(user, "smallPhotoUrl"),
                        "/files/headshots/60/" U1 "?v=3");
    xmpp_stanza_t *group = xmpp_stanza_get_child_by_name(el, "group");
    assert_string_equal(xmpp_stanza_get_attribute(group, "homeUrl"), "/group?who=" G1);
    assert_string_equal(xmpp_stanza_get_attribute(group, "smallPhotoUrl"),
                        "/files/groupshots/60/" G1 "?v=7");
    xmpp_stanza_t *resource = xmpp_stanza_get_child_by_name(el, "resource");
    assert_null(xmpp_stanza_get_attribute(resource, "homeUrl"));

    xmpp_stanza_t *post = xmpp_stanza_get_child_by_name(el, "post");
    assert_string_equal(child_names(post, names, sizeof names),
                        "poster href title text toWorld postDate postInfo recipients favorite "
                        "ignored");
    assert_child_text(post, "poster", U1);
    assert_child_text(post, "title", "A <title> & more");
    assert_child_text(post, "toWorld", "false");
    assert_child_text(post, "postDate", "1700000000");
    assert_child_text(post, "postInfo", "<postInfo><flickr id=\"3\"/></postInfo>");
    assert_child_text(post, "favorite", "true");
    assert_child_text(post, "ignored", "false");
    xmpp_stanza_t *rcpt = xmpp_stanza_get_child_by_name(post, "recipients");
    assert_string_equal(child_names(rcpt, names, sizeof names), "user group resource");
    assert_string_equal(xmpp_stanza_get_attribute(hippo_stanza_first_element(rcpt), "id"), U2);

    xmpp_stanza_t *live = xmpp_stanza_get_child_by_name(el, "livepost");
    assert_string_equal(child_names(live, names, sizeof names),
                        "recentViewers chattingUserCount viewingUserCount totalViewers");
    xmpp_stanza_t *rv = xmpp_stanza_get_child_by_name(live, "recentViewers");
    assert_string_equal(child_names(rv, names, sizeof names), "viewer viewer viewer viewer viewer");
    assert_child_text(live, "chattingUserCount", "2");
    assert_child_text(live, "viewingUserCount", "1");
    assert_child_text(live, "totalViewers", "9");

    /* the postInfo XML travels as escaped text, not as elements */
    char *xml = to_text(el);
    assert_non_null(strstr(xml, "&lt;postInfo&gt;&lt;flickr"));
    xmpp_free(f->ctx, xml);
    xmpp_stanza_release(el);
}

static void post_info_only_when_well_formed(void **state)
{
    struct fixture *f = *state;
    const char *infos[] = {NULL, "", "<a>", "not xml", "<a></b>", "<a/><b/>"};
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
        xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "recentPosts");
        hippo_post_fields p = sample_post();
        p.info = infos[i];
        assert_int_equal(hippo_post_xml_add_post(el, &p), 0);
        xmpp_stanza_t *post = xmpp_stanza_get_child_by_name(el, "post");
        assert_null(xmpp_stanza_get_child_by_name(post, "postInfo"));
        xmpp_stanza_release(el);
    }
}

static void missing_livepost_or_bad_values_are_invalid(void **state)
{
    /* the schema is strict enough to catch a broken builder */
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "recentPosts");
    hippo_post_fields p = sample_post();
    assert_int_equal(hippo_post_xml_add_post(el, &p), 0);
    assert_invalid(f->post, el); /* a post without its livepost */
    xmpp_stanza_release(el);

    el = hippo_post_xml_wrapper(f->ctx, "recentPosts");
    hippo_post_entity twice = {HIPPO_ENTITY_USER, U1, "Alice", 0};
    assert_int_equal(hippo_post_xml_add_entity(el, &twice), 0);
    assert_int_equal(hippo_post_xml_add_entity(el, &twice), 0);
    assert_invalid(f->post, el); /* entities are deduplicated */
    xmpp_stanza_release(el);

    el = hippo_post_xml_wrapper(f->ctx, "recentPosts");
    hippo_post_entity bad = {HIPPO_ENTITY_USER, "short", "Alice", 0};
    assert_int_equal(hippo_post_xml_add_entity(el, &bad), 0);
    assert_invalid(f->post, el);
    xmpp_stanza_release(el);
}

static void hostile_text_is_cleaned(void **state)
{
    struct fixture *f = *state;
    xmpp_stanza_t *el = hippo_post_xml_wrapper(f->ctx, "objects");
    hippo_post_entity e = {HIPPO_ENTITY_USER, U1, "Al\x01ice\xff", 0};
    assert_int_equal(hippo_post_xml_add_entity(el, &e), 0);
    hippo_post_fields p = sample_post();
    p.title = "ti\x0btle \xc0\xaf";
    p.text = "a\x1b[31m b\xed\xa0\x80 c\xef\xbf\xbe";
    p.info = NULL;
    assert_int_equal(hippo_post_xml_add_post(el, &p), 0);
    hippo_livepost_fields l = {.id = P1};
    assert_int_equal(hippo_post_xml_add_livepost(el, &l), 0);
    assert_valid(f->post, el); /* parses: no control character reached the output */
    xmpp_stanza_t *user = xmpp_stanza_get_child_by_name(el, "user");
    assert_string_equal(xmpp_stanza_get_attribute(user, "name"), "Al\xef\xbf\xbdice\xef\xbf\xbd");
    xmpp_stanza_t *post = xmpp_stanza_get_child_by_name(el, "post");
    assert_child_text(post, "title", "ti\xef\xbf\xbdtle \xef\xbf\xbd\xef\xbf\xbd");
    xmpp_stanza_release(el);
}

static void clean_text_table(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain ascii", "plain ascii"},
        {"tab\tlf\ncr\r", "tab\tlf\ncr\r"},
        {"nul-less \x01\x08\x0b\x0c\x1f", "nul-less \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                          "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\x7f del is allowed", "\x7f del is allowed"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"lone \x80 cont", "lone \xef\xbf\xbd cont"},
        {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
        {"overlong3 \xe0\x80\xaf", "overlong3 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"fffe \xef\xbf\xbe", "fffe \xef\xbf\xbd"},
        {"ffff \xef\xbf\xbf", "ffff \xef\xbf\xbd"},
        {"too big \xf4\x90\x80\x80", "too big \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"max \xf4\x8f\xbf\xbf", "max \xf4\x8f\xbf\xbf"},
        {"truncated \xe2\x82", "truncated \xef\xbf\xbd\xef\xbf\xbd"},
        {"\xfe\xff", "\xef\xbf\xbd\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = hippo_post_xml_clean_text(cases[i].in);
        assert_non_null(got);
        if (strcmp(got, cases[i].out) != 0)
            fail_msg("case %zu: clean(\"%s\") = \"%s\"", i, cases[i].in, got);
        free(got);
    }
}

static void well_formed_table(void **state)
{
    (void)state;
    assert_true(hippo_post_xml_is_well_formed("<a/>"));
    assert_true(hippo_post_xml_is_well_formed("<?xml version='1.0'?><a b='1'><c>t</c></a>"));
    assert_true(hippo_post_xml_is_well_formed("<a xmlns='urn:x'>&amp;</a>"));
    assert_false(hippo_post_xml_is_well_formed(""));
    assert_false(hippo_post_xml_is_well_formed("text"));
    assert_false(hippo_post_xml_is_well_formed("<a>"));
    assert_false(hippo_post_xml_is_well_formed("<a></b>"));
    assert_false(hippo_post_xml_is_well_formed("<a/><b/>"));
    assert_false(hippo_post_xml_is_well_formed("<a>&undefined;</a>"));
    assert_false(hippo_post_xml_is_well_formed("<a>\x01</a>"));
    /* no DTD: it could make a client's parser fetch files or expand entities */
    assert_false(hippo_post_xml_is_well_formed(
        "<!DOCTYPE a SYSTEM 'http://127.0.0.1:1/x.dtd'><a>&ext;</a>"));
    assert_false(hippo_post_xml_is_well_formed("<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>"));
}

static void hotness_reply(void **state)
{
    struct fixture *f = *state;
    const char *levels[] = {"COLD", "COOL", "WARM", "GETTING_HOT", "HOT"};
    for (size_t i = 0; i < 5; i++) {
        xmpp_stanza_t *el = hippo_post_xml_hotness(f->ctx, levels[i]);
        assert_non_null(el);
        assert_string_equal(xmpp_stanza_get_ns(el), HIPPO_POST_XML_NS_HOTNESS);
        assert_string_equal(xmpp_stanza_get_attribute(el, "value"), levels[i]);
        assert_valid(f->hotness, el);
        xmpp_stanza_release(el);
    }
    assert_null(hippo_post_xml_hotness(f->ctx, NULL));
    assert_null(hippo_post_xml_hotness(f->ctx, "UNKNOWN"));
    assert_null(hippo_post_xml_hotness(f->ctx, "cold"));
    assert_null(hippo_post_xml_hotness(f->ctx, ""));
}

/* ------------------------------------------------------------------ rows -> payload */

static const char *const result_columns[] = {
    "kind",         "ord",     "id",         "name",     "photo_version",  "poster_id",
    "href",         "title",   "body",       "to_world", "post_date",      "info",
    "favorite",     "ignored", "recipients", "viewers",  "chatting_users", "viewing_users",
    "total_viewers"};
#define N_RESULT_COLUMNS (sizeof result_columns / sizeof result_columns[0])

/* A result shaped like hippo.post_payload_rows(): ROWS of N_RESULT_COLUMNS values each (NULL
 * is SQL NULL), LEAVE_OUT a column to omit (or -1). The caller frees it with PQclear(). */
static PGresult *make_result(const char *const (*rows)[N_RESULT_COLUMNS], int n_rows, int leave_out)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_non_null(res);
    PGresAttDesc attrs[N_RESULT_COLUMNS];
    int n = 0;
    for (size_t c = 0; c < N_RESULT_COLUMNS; c++)
        if ((int)c != leave_out)
            attrs[n++] = (PGresAttDesc){
                .name = (char *)result_columns[c], .typid = 25, .typlen = -1, .atttypmod = -1};
    assert_int_equal(PQsetResultAttrs(res, n, attrs), 1);
    for (int r = 0; r < n_rows; r++) {
        int col = 0;
        for (size_t c = 0; c < N_RESULT_COLUMNS; c++) {
            if ((int)c == leave_out)
                continue;
            const char *v = rows[r][c];
            assert_int_equal(PQsetvalue(res, r, col++, (char *)v, v ? (int)strlen(v) : -1), 1);
        }
    }
    return res;
}

static const char *const sample_rows[][N_RESULT_COLUMNS] = {
    {"group", NULL, G1, "Hikers", "2", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL},
    {"resource", NULL, R1, "carol@example.org", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"user", NULL, U1, "Alice", "1", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL},
    {"user", NULL, U2, "Bob", "0", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL},
    {"post", "1", P2, NULL, NULL, U2, "http://b", "B", "", "t", "1700000001", NULL, "f", "t", "",
     "", "0", "0", "0"},
    {"post", "2", P1, NULL, NULL, U1, "http://a", "A", "body", "f", "1700000000", "<i/>", "t", "f",
     "u:" U2 " g:" G1 " r:" R1, U2 " " U1, "3", "1", "12"},
};

static void rows_to_payload(void **state)
{
    struct fixture *f = *state;
    PGresult *res = make_result(sample_rows, 6, -1);
    size_t n_posts = 99;
    const char *error = "unset";
    xmpp_stanza_t *el = hippo_post_payload_from_result(f->ctx, res, "recentPosts",
                                                       HIPPO_POST_WITH_LIVEPOST, &n_posts, &error);
    assert_non_null(el);
    assert_null(error);
    assert_int_equal(n_posts, 2);
    assert_valid(f->post, el);
    char names[256];
    assert_string_equal(child_names(el, names, sizeof names),
                        "group resource user user post livepost post livepost");
    xmpp_stanza_t *post = xmpp_stanza_get_child_by_name(el, "post");
    assert_string_equal(xmpp_stanza_get_attribute(post, "id"), P2); /* row order kept */
    assert_child_text(post, "toWorld", "true");
    assert_child_text(post, "ignored", "true");
    assert_null(xmpp_stanza_get_child_by_name(post, "postInfo"));
    xmpp_stanza_t *live = xmpp_stanza_get_next(post);
    assert_string_equal(xmpp_stanza_get_attribute(live, "id"), P2);
    xmpp_stanza_t *post2 = xmpp_stanza_get_next(live);
    assert_child_text(post2, "postInfo", "<i/>");
    xmpp_stanza_t *rcpt = xmpp_stanza_get_child_by_name(post2, "recipients");
    assert_string_equal(child_names(rcpt, names, sizeof names), "user group resource");
    xmpp_stanza_t *live2 = xmpp_stanza_get_next(post2);
    assert_child_text(live2, "chattingUserCount", "3");
    assert_child_text(live2, "totalViewers", "12");
    xmpp_stanza_t *first_viewer =
        hippo_stanza_first_element(xmpp_stanza_get_child_by_name(live2, "recentViewers"));
    assert_string_equal(xmpp_stanza_get_attribute(first_viewer, "id"), U2);
    xmpp_stanza_release(el);

    /* the same rows as the room details <objects> */
    el = hippo_post_payload_from_result(f->ctx, res, "objects", HIPPO_POST_WITH_LIVEPOST, &n_posts,
                                        &error);
    assert_non_null(el);
    assert_valid(f->post, el);
    xmpp_stanza_release(el);

    /* without live numbers: no livepost elements */
    el = hippo_post_payload_from_result(f->ctx, res, "newPost", 0, &n_posts, &error);
    assert_non_null(el);
    assert_string_equal(child_names(el, names, sizeof names), "group resource user user post post");
    xmpp_stanza_release(el);
    PQclear(res);

    res = make_result(sample_rows, 0, -1);
    el = hippo_post_payload_from_result(f->ctx, res, "recentPosts", HIPPO_POST_WITH_LIVEPOST,
                                        &n_posts, &error);
    assert_non_null(el);
    assert_int_equal(n_posts, 0);
    assert_int_equal(hippo_stanza_element_count(el), 0);
    assert_valid(f->post, el);
    xmpp_stanza_release(el);
    PQclear(res);
}

static void malformed_rows_are_errors(void **state)
{
    struct fixture *f = *state;
    size_t n_posts;
    const char *error = NULL;
    PGresult *res = make_result(sample_rows, 6, 14); /* no recipients column */
    assert_null(hippo_post_payload_from_result(f->ctx, res, "recentPosts", 0, &n_posts, &error));
    assert_non_null(error);
    PQclear(res);

    const char *const bad_kind[][N_RESULT_COLUMNS] = {{"feed", NULL, U1, "x", "0", NULL, NULL, NULL,
                                                       NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                       NULL, NULL, NULL, NULL}};
    res = make_result(bad_kind, 1, -1);
    error = NULL;
    assert_null(hippo_post_payload_from_result(f->ctx, res, "recentPosts", 0, &n_posts, &error));
    assert_non_null(error);
    PQclear(res);

    const char *const bad_recipient[][N_RESULT_COLUMNS] = {{"post", "1", P1, NULL, NULL, U1,
                                                            "http://a", "A", "", "f", "1", NULL,
                                                            "f", "f", "x:" U2, "", "0", "0", "0"}};
    res = make_result(bad_recipient, 1, -1);
    error = NULL;
    assert_null(hippo_post_payload_from_result(f->ctx, res, "recentPosts", 0, &n_posts, &error));
    assert_non_null(error);
    PQclear(res);
}

/* ------------------------------------------------------------------ requests */

enum req_kind { REQ_RECENT, REQ_HOTNESS, REQ_METHOD, REQ_CONTROL };

struct req_case {
    enum req_kind kind;
    const char *type; /* the iq type */
    const char *xml;  /* the payload */
    bool accepted;    /* by hippod */
    bool schema_says; /* expected schema verdict (= ACCEPTED unless the schema cannot tell) */
};

#define NS_P " xmlns='http://dumbhippo.com/protocol/post'"
#define NS_H " xmlns='http://dumbhippo.com/protocol/hotness'"
#define NS_M " xmlns='http://dumbhippo.com/protocol/servermethod'"
#define NS_C " xmlns='http://dumbhippo.com/protocol/postControl'"
#define HUGE_ID                                                                                    \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"     \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const struct req_case req_cases[] = {
    /* recentPosts */
    {REQ_RECENT, "get", "<recentPosts" NS_P "/>", true, true},
    {REQ_RECENT, "get", "<recentPosts" NS_P " id='" P1 "'/>", true, true},
    {REQ_RECENT, "get", "<recentPosts" NS_P " id='" P1 "' xml:lang='en' extra='1'/>", true, true},
    {REQ_RECENT, "set", "<recentPosts" NS_P "/>", false, true},
    {REQ_RECENT, "get", "<recentPosts" NS_P " id='short'/>", false, false},
    {REQ_RECENT, "get", "<recentPosts" NS_P " id=''/>", false, false},
    {REQ_RECENT, "get", "<recentPosts" NS_P " id='" HUGE_ID "'/>", false, false},
    {REQ_RECENT, "get", "<recentPosts" NS_P " id='Paaaaaaaaaaa-1'/>", false, false},
    {REQ_RECENT, "get", "<recentPosts" NS_P "><junk/></recentPosts>", false, false},
    {REQ_RECENT, "get", "<recentPosts" NS_P ">text</recentPosts>", false, false},
    {REQ_RECENT, "get", "<recentPost" NS_P "/>", false, false},
    {REQ_RECENT, "get", "<newPost" NS_P "/>", false, false},
    /* hotness */
    {REQ_HOTNESS, "get", "<hotness" NS_H " type='getValue'/>", true, true},
    {REQ_HOTNESS, "get", "<hotness" NS_H "/>", true, true},
    {REQ_HOTNESS, "get", "<hotness" NS_H " type='getValue' foo='bar'/>", true, true},
    {REQ_HOTNESS, "set", "<hotness" NS_H " type='getValue'/>", false, true},
    {REQ_HOTNESS, "get", "<hotness" NS_H " type='setValue'/>", false, false},
    {REQ_HOTNESS, "get", "<hotness" NS_H " type=''/>", false, false},
    {REQ_HOTNESS, "get", "<hotness" NS_H " type='getValue'><x/></hotness>", false, false},
    {REQ_HOTNESS, "get", "<hot" NS_H "/>", false, false},
    /* whitespace: hippod tolerates it, the schema's empty content type does not */
    {REQ_HOTNESS, "get", "<hotness" NS_H " type='getValue'>\n </hotness>", true, false},
    /* method */
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><arg>" P1 "</arg></method>", true,
     true},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'>\n  <arg>" P1 "</arg>\n</method>", true,
     true},
    {REQ_METHOD, "get", "<method" NS_M " name='postClicked'><arg>" P1 "</arg></method>", false,
     true},
    {REQ_METHOD, "set", "<method" NS_M "><arg>" P1 "</arg></method>", false, false},
    {REQ_METHOD, "set", "<method" NS_M " name='getClicked'><arg>" P1 "</arg></method>", false,
     false},
    {REQ_METHOD, "set", "<method" NS_M " name='postclicked'><arg>" P1 "</arg></method>", false,
     false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'/>", false, false},
    {REQ_METHOD, "set",
     "<method" NS_M " name='postClicked'><arg>" P1 "</arg><arg>" P2 "</arg></method>", false,
     false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><arg/></method>", false, false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><arg>bad</arg></method>", false, false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><arg> " P1 "</arg></method>", false,
     false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><arg>" HUGE_ID "</arg></method>", false,
     false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><arg><b>" P1 "</b></arg></method>",
     false, false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'><param>" P1 "</param></method>", false,
     false},
    {REQ_METHOD, "set",
     "<method" NS_M " name='postClicked'><arg xmlns='urn:other'>" P1 "</arg></method>", false,
     false},
    {REQ_METHOD, "set", "<method" NS_M " name='postClicked'>" P1 "<arg>" P1 "</arg></method>",
     false, false},
    {REQ_METHOD, "set", "<call" NS_M " name='postClicked'><arg>" P1 "</arg></call>", false, false},
    /* postControl */
    {REQ_CONTROL, "set", "<postControl" NS_C " type='ignore' id='" P1 "'/>", true, true},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='unignore' id='" P1 "'/>", true, true},
    {REQ_CONTROL, "get", "<postControl" NS_C " type='ignore' id='" P1 "'/>", false, true},
    {REQ_CONTROL, "set", "<postControl" NS_C " id='" P1 "'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='hide' id='" P1 "'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='IGNORE' id='" P1 "'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='ignore'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='ignore' id='nope'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='ignore' id='" HUGE_ID "'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='ignore' id='" P1 "'><x/></postControl>", false,
     false},
    {REQ_CONTROL, "set", "<control" NS_C " type='ignore' id='" P1 "'/>", false, false},
    {REQ_CONTROL, "set", "<postControl" NS_C " type='ignore' id='" P1 "'> </postControl>", true,
     false},
};

static const char *check_request(const struct req_case *c, xmpp_stanza_t *payload)
{
    const char *id = NULL;
    bool ignore = false;
    char post_id[HIPPO_GUID_LEN + 1] = "";
    const char *err = NULL;
    switch (c->kind) {
    case REQ_RECENT:
        err = hippo_post_xml_check_recent_posts(c->type, payload, &id);
        if (!err && xmpp_stanza_get_attribute(payload, "id"))
            assert_string_equal(id, P1);
        break;
    case REQ_HOTNESS:
        err = hippo_post_xml_check_hotness(c->type, payload);
        break;
    case REQ_METHOD:
        err = hippo_post_xml_check_method(c->type, payload, post_id);
        if (!err)
            assert_string_equal(post_id, P1);
        break;
    case REQ_CONTROL:
        err = hippo_post_xml_check_post_control(c->type, payload, &ignore, &id);
        if (!err) {
            assert_string_equal(id, P1);
            assert_int_equal(ignore, strstr(c->xml, "unignore") == NULL);
        }
        break;
    }
    return err;
}

static void requests_agree_with_schemas(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof req_cases / sizeof req_cases[0]; i++) {
        const struct req_case *c = &req_cases[i];
        char iq[2048];
        snprintf(iq, sizeof iq, "<iq type='%s' id='x'>%s</iq>", c->type, c->xml);
        xmpp_stanza_t *stanza = xmpp_stanza_new_from_string(f->ctx, iq);
        assert_non_null(stanza);
        xmpp_stanza_t *payload = hippo_stanza_first_element(stanza);
        const char *err = check_request(c, payload);
        if ((err == NULL) != c->accepted)
            fail_msg("case %zu (%s %s): hippod %s (%s)", i, c->type, c->xml,
                     err ? "rejects" : "accepts", err ? err : "");
        xmlSchemaPtr schemas[] = {f->post, f->hotness, f->method, f->control};
        bool valid = validate_text(schemas[c->kind], c->xml) == 0;
        if (valid != c->schema_says)
            fail_msg("case %zu (%s): the schema says %s", i, c->xml, valid ? "valid" : "invalid");
        xmpp_stanza_release(stanza);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payload_from_structs_is_valid),
        cmocka_unit_test(post_info_only_when_well_formed),
        cmocka_unit_test(missing_livepost_or_bad_values_are_invalid),
        cmocka_unit_test(hostile_text_is_cleaned),
        cmocka_unit_test(clean_text_table),
        cmocka_unit_test(well_formed_table),
        cmocka_unit_test(hotness_reply),
        cmocka_unit_test(rows_to_payload),
        cmocka_unit_test(malformed_rows_are_errors),
        cmocka_unit_test(requests_agree_with_schemas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
