/* test_user_cache.c - the sender JID -> user id cache of handle_protocol.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "user_cache.h"

static void test_remembers_what_was_put(void **state)
{
    (void)state;
    hippo_user_cache *c = hippo_user_cache_new(100);
    assert_non_null(c);
    assert_null(hippo_user_cache_get(c, "alice@example.org"));
    hippo_user_cache_put(c, hippo_user_cache_generation(c), "alice@example.org", "abcdefghijklmn");
    hippo_user_cache_put(c, hippo_user_cache_generation(c), "bob@example.org", "BCDEFGHIJKLMNO");
    assert_string_equal(hippo_user_cache_get(c, "alice@example.org"), "abcdefghijklmn");
    assert_string_equal(hippo_user_cache_get(c, "bob@example.org"), "BCDEFGHIJKLMNO");
    assert_null(hippo_user_cache_get(c, "Alice@example.org")); /* exact bytes */
    assert_int_equal(hippo_user_cache_size(c), 2);
    hippo_user_cache_free(c);
}

static void test_put_again_replaces(void **state)
{
    (void)state;
    hippo_user_cache *c = hippo_user_cache_new(4);
    uint64_t g = hippo_user_cache_generation(c);
    hippo_user_cache_put(c, g, "a@x", "11111111111111");
    hippo_user_cache_put(c, g, "a@x", "22222222222222");
    assert_string_equal(hippo_user_cache_get(c, "a@x"), "22222222222222");
    assert_int_equal(hippo_user_cache_size(c), 1);
    hippo_user_cache_free(c);
}

static void test_clear_forgets_and_refuses_stale_answers(void **state)
{
    (void)state;
    hippo_user_cache *c = hippo_user_cache_new(100);
    uint64_t before = hippo_user_cache_generation(c);
    hippo_user_cache_put(c, before, "a@x", "11111111111111");
    hippo_user_cache_clear(c);
    assert_null(hippo_user_cache_get(c, "a@x"));
    assert_int_equal(hippo_user_cache_size(c), 0);
    /* An answer to a lookup sent before the clear may be what the clear was about. */
    hippo_user_cache_put(c, before, "a@x", "11111111111111");
    assert_null(hippo_user_cache_get(c, "a@x"));
    hippo_user_cache_put(c, hippo_user_cache_generation(c), "a@x", "33333333333333");
    assert_string_equal(hippo_user_cache_get(c, "a@x"), "33333333333333");
    hippo_user_cache_free(c);
}

static void test_bounded_and_starts_again_when_full(void **state)
{
    (void)state;
    hippo_user_cache *c = hippo_user_cache_new(50);
    uint64_t g = hippo_user_cache_generation(c);
    char jid[32];
    for (int i = 0; i < 50; i++) {
        snprintf(jid, sizeof jid, "u%d@x", i);
        hippo_user_cache_put(c, g, jid, "11111111111111");
    }
    assert_int_equal(hippo_user_cache_size(c), 50);
    for (int i = 0; i < 50; i++) {
        snprintf(jid, sizeof jid, "u%d@x", i);
        assert_non_null(hippo_user_cache_get(c, jid));
    }
    hippo_user_cache_put(c, g, "one-more@x", "22222222222222");
    assert_int_equal(hippo_user_cache_size(c), 1);
    assert_string_equal(hippo_user_cache_get(c, "one-more@x"), "22222222222222");
    assert_null(hippo_user_cache_get(c, "u0@x"));
    /* Starting again is not a clear: answers to lookups in flight still count. */
    assert_int_equal(hippo_user_cache_generation(c), g);
    hippo_user_cache_free(c);
}

static void test_rejects_overlong_ids(void **state)
{
    (void)state;
    hippo_user_cache *c = hippo_user_cache_new(10);
    hippo_user_cache_put(c, hippo_user_cache_generation(c), "a@x", "123456789012345");
    assert_null(hippo_user_cache_get(c, "a@x"));
    hippo_user_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remembers_what_was_put),
        cmocka_unit_test(test_put_again_replaces),
        cmocka_unit_test(test_clear_forgets_and_refuses_stale_answers),
        cmocka_unit_test(test_bounded_and_starts_again_when_full),
        cmocka_unit_test(test_rejects_overlong_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
