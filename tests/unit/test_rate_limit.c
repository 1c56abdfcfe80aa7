/* test_rate_limit.c - the in-memory token buckets of the room message rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "rate_limit.h"

static int takes(hippo_rate_limit *r, const char *jid, int n, double now_s)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += hippo_rate_limit_take(r, jid, 2.0, 5, now_s);
    return ok;
}

static void test_burst_then_rate(void **state)
{
    (void)state;
    hippo_rate_limit *r = hippo_rate_limit_new(100);
    assert_non_null(r);
    assert_int_equal(takes(r, "alice@x/a", 8, 100.0), 5);  /* the burst */
    assert_int_equal(takes(r, "alice@x/a", 3, 101.0), 2);  /* 2 per second */
    assert_int_equal(takes(r, "alice@x/a", 9, 1000.0), 5); /* refills to the burst only */
    hippo_rate_limit_free(r);
}

static void test_one_bucket_per_bare_jid(void **state)
{
    (void)state;
    hippo_rate_limit *r = hippo_rate_limit_new(100);
    assert_int_equal(takes(r, "alice@x/a", 3, 0), 3);
    assert_int_equal(takes(r, "Alice@X/b", 3, 0), 2); /* same account, other resource */
    assert_int_equal(takes(r, "alice@x", 1, 0), 0);
    assert_int_equal(takes(r, "bob@x/a", 5, 0), 5); /* others are not affected */
    assert_int_equal(hippo_rate_limit_size(r), 2);
    hippo_rate_limit_free(r);
}

static void test_clock_going_back_adds_nothing(void **state)
{
    (void)state;
    hippo_rate_limit *r = hippo_rate_limit_new(10);
    assert_int_equal(takes(r, "a@x", 5, 50.0), 5);
    assert_int_equal(takes(r, "a@x", 1, 10.0), 0);
    hippo_rate_limit_free(r);
}

/* Full: refilled buckets go, an emptied one stays, so a flooder cannot escape its limit
 * because the table filled up with other senders. */
static void test_bounded_keeps_empty_buckets(void **state)
{
    (void)state;
    hippo_rate_limit *r = hippo_rate_limit_new(4);
    char jid[32];
    for (int i = 0; i < 20; i++) {
        double now = 10.0 + i; /* others' single messages are refilled a second later */
        snprintf(jid, sizeof jid, "u%d@x", i);
        assert_int_equal(takes(r, jid, 1, now), 1);
        assert_true(hippo_rate_limit_size(r) <= 4);
        assert_int_equal(takes(r, "flood@x", 5, now), i == 0 ? 5 : 2);
    }
    hippo_rate_limit_free(r);
}

/* Full of buckets still in use: everything is dropped rather than growing. */
static void test_bounded_when_all_are_busy(void **state)
{
    (void)state;
    hippo_rate_limit *r = hippo_rate_limit_new(4);
    char jid[32];
    for (int i = 0; i < 9; i++) {
        snprintf(jid, sizeof jid, "u%d@x", i);
        assert_int_equal(takes(r, jid, 1, 0), 1);
        assert_true(hippo_rate_limit_size(r) <= 4);
    }
    hippo_rate_limit_free(r);
}

/* The table starts small and grows: every sender keeps its own bucket. */
static void test_grows_as_senders_come(void **state)
{
    (void)state;
    hippo_rate_limit *r = hippo_rate_limit_new(1000);
    char jid[32];
    for (int i = 0; i < 900; i++) {
        snprintf(jid, sizeof jid, "u%d@x/r", i);
        assert_int_equal(takes(r, jid, 5, 0), 5);
    }
    assert_int_equal(hippo_rate_limit_size(r), 900);
    for (int i = 0; i < 900; i++) {
        snprintf(jid, sizeof jid, "U%d@X", i);
        assert_int_equal(takes(r, jid, 1, 0), 0); /* still empty: found again */
    }
    hippo_rate_limit_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_one_bucket_per_bare_jid),
        cmocka_unit_test(test_clock_going_back_adds_nothing),
        cmocka_unit_test(test_bounded_keeps_empty_buckets),
        cmocka_unit_test(test_bounded_when_all_are_busy),
        cmocka_unit_test(test_grows_as_senders_come),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
