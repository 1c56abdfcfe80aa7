/* Unit tests for the stanza builders (src/stanza.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "stanza.h"

static xmpp_stanza_t *parse(xmpp_ctx_t *ctx, const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    xmpp_initialize();
    *state = xmpp_ctx_new(NULL, NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    xmpp_ctx_free(*state);
    xmpp_shutdown();
    return 0;
}

static void error_reply_swaps_addresses_and_keeps_id(void **state)
{
    xmpp_ctx_t *ctx = *state;
    xmpp_stanza_t *req = parse(ctx, "<iq type='get' id='q1' from='a@example.test/r' "
                                    "to='rooms.example.test'><x xmlns='urn:x'/></iq>");
    xmpp_stanza_t *err = hippo_stanza_error(ctx, req, "modify", "bad-request", "why");
    assert_non_null(err);
    assert_string_equal(xmpp_stanza_get_name(err), "iq");
    assert_string_equal(xmpp_stanza_get_type(err), "error");
    assert_string_equal(xmpp_stanza_get_id(err), "q1");
    assert_string_equal(xmpp_stanza_get_to(err), "a@example.test/r");
    assert_string_equal(xmpp_stanza_get_from(err), "rooms.example.test");
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(err, "error");
    assert_non_null(e);
    assert_string_equal(xmpp_stanza_get_type(e), "modify");
    xmpp_stanza_t *cond = xmpp_stanza_get_child_by_name(e, "bad-request");
    assert_non_null(cond);
    assert_string_equal(xmpp_stanza_get_ns(cond), HIPPO_NS_STANZAS);
    xmpp_stanza_t *text = xmpp_stanza_get_child_by_name(e, "text");
    assert_non_null(text);
    char *t = xmpp_stanza_get_text(text);
    assert_string_equal(t, "why");
    xmpp_free(ctx, t);
    /* the request payload is not echoed */
    assert_null(xmpp_stanza_get_child_by_name(err, "x"));
    assert_int_equal(hippo_stanza_element_count(err), 1);
    xmpp_stanza_release(err);
    xmpp_stanza_release(req);
}

static void error_reply_without_text_has_only_condition(void **state)
{
    xmpp_ctx_t *ctx = *state;
    xmpp_stanza_t *req = parse(ctx, "<message from='a@example.test' to='r@rooms.example.test'>"
                                    "<body>hi</body></message>");
    xmpp_stanza_t *err = hippo_stanza_error(ctx, req, "cancel", "item-not-found", NULL);
    assert_non_null(err);
    assert_string_equal(xmpp_stanza_get_name(err), "message");
    assert_null(xmpp_stanza_get_id(err));
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(err, "error");
    assert_int_equal(hippo_stanza_element_count(e), 1);
    assert_string_equal(xmpp_stanza_get_name(hippo_stanza_first_element(e)), "item-not-found");
    xmpp_stanza_release(err);
    xmpp_stanza_release(req);
}

static void iq_result_answers_request(void **state)
{
    xmpp_ctx_t *ctx = *state;
    xmpp_stanza_t *req = parse(ctx, "<iq type='set' id='z' from='u@d/r' to='c.d'><p "
                                    "xmlns='urn:p'/></iq>");
    xmpp_stanza_t *res = hippo_stanza_iq_result(ctx, req);
    assert_string_equal(xmpp_stanza_get_type(res), "result");
    assert_string_equal(xmpp_stanza_get_id(res), "z");
    assert_string_equal(xmpp_stanza_get_to(res), "u@d/r");
    assert_string_equal(xmpp_stanza_get_from(res), "c.d");
    assert_int_equal(hippo_stanza_element_count(res), 0);
    xmpp_stanza_release(res);
    xmpp_stanza_release(req);
}

static void reply_types_are_never_answered(void **state)
{
    (void)state;
    assert_true(hippo_stanza_is_reply_type("result"));
    assert_true(hippo_stanza_is_reply_type("error"));
    assert_false(hippo_stanza_is_reply_type("get"));
    assert_false(hippo_stanza_is_reply_type("set"));
    assert_false(hippo_stanza_is_reply_type(NULL));
}

static void element_helpers_skip_text_nodes(void **state)
{
    xmpp_ctx_t *ctx = *state;
    xmpp_stanza_t *s = parse(ctx, "<iq type='get'>text<a/>more<b/></iq>");
    assert_int_equal(hippo_stanza_element_count(s), 2);
    assert_string_equal(xmpp_stanza_get_name(hippo_stanza_first_element(s)), "a");
    xmpp_stanza_t *c = hippo_stanza_add_element(s, "c", "urn:c");
    assert_non_null(c);
    assert_int_equal(hippo_stanza_add_text(c, "x<y"), 0);
    assert_int_equal(hippo_stanza_element_count(s), 3);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(xmpp_stanza_to_text(c, &buf, &len), XMPP_EOK);
    assert_string_equal(buf, "<c xmlns=\"urn:c\">x&lt;y</c>");
    xmpp_free(ctx, buf);
    xmpp_stanza_release(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(error_reply_swaps_addresses_and_keeps_id, setup, teardown),
        cmocka_unit_test_setup_teardown(error_reply_without_text_has_only_condition, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(iq_result_answers_request, setup, teardown),
        cmocka_unit_test(reply_types_are_never_answered),
        cmocka_unit_test_setup_teardown(element_helpers_skip_text_nodes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
