/* test_backoff.c - capped exponential backoff with jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void expect_in(uint32_t v, uint32_t low, uint32_t high)
{
    if (v < low || v > high)
        fail_msg("%u not in [%u, %u]", v, low, high);
}

static void test_first_delay_in_min_range(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 200; seed++) {
        hippo_backoff b;
        hippo_backoff_init(&b, 250, 30000, seed);
        expect_in(hippo_backoff_next(&b), 125, 250);
        assert_int_equal(b.attempt, 1);
    }
}

static void test_each_step_within_half_ceiling(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 250, 30000, 42);
    uint32_t ceil = 250;
    for (int i = 0; i < 20; i++) {
        expect_in(hippo_backoff_next(&b), ceil / 2, ceil);
        ceil = ceil * 2 > 30000 ? 30000 : ceil * 2;
    }
}

static void test_grows(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 100, 100000, 7);
    /* Step i draws from [c/2, c] and step i+1 from [c, 2c]: never smaller than the last. */
    uint32_t prev = 0;
    for (int i = 0; i < 10; i++) {
        uint32_t d = hippo_backoff_next(&b);
        assert_true(d >= prev);
        prev = d;
    }
    assert_true(prev >= 25600); /* 100 * 2^9 / 2 */
}

static void test_capped(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 250, 30000, 99);
    uint32_t max_seen = 0;
    for (int i = 0; i < 200; i++) {
        uint32_t d = hippo_backoff_next(&b);
        if (i >= 8) /* 250 * 2^7 = 32000 > 30000: from here on the cap holds */
            expect_in(d, 15000, 30000);
        if (d > max_seen)
            max_seen = d;
    }
    assert_true(max_seen <= 30000);
    assert_true(max_seen > 25000); /* jitter really reaches into the top of the range */
}

static void test_jitter_varies(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 1000, 1000, 5);
    uint32_t first = hippo_backoff_next(&b);
    int different = 0;
    for (int i = 0; i < 50; i++)
        different += hippo_backoff_next(&b) != first;
    assert_true(different > 40);
}

static void test_reset(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 250, 30000, 3);
    for (int i = 0; i < 15; i++)
        hippo_backoff_next(&b);
    hippo_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    expect_in(hippo_backoff_next(&b), 125, 250);
    expect_in(hippo_backoff_next(&b), 250, 500);
}

static void test_seed_zero_works(void **state)
{
    (void)state;
    hippo_backoff a, b;
    hippo_backoff_init(&a, 1000, 1000, 0);
    hippo_backoff_init(&b, 1000, 1000, 0);
    assert_true(a.rng != 0);
    uint32_t first = 0;
    int different = 0;
    for (int i = 0; i < 50; i++) {
        uint32_t d = hippo_backoff_next(&a);
        expect_in(d, 500, 1000);
        assert_int_equal(d, hippo_backoff_next(&b)); /* deterministic for one seed */
        if (i == 0)
            first = d;
        different += d != first;
    }
    assert_true(different > 40); /* not stuck on one value */
}

static void test_different_seeds_differ(void **state)
{
    (void)state;
    hippo_backoff a, b;
    hippo_backoff_init(&a, 1000, 1000, 1);
    hippo_backoff_init(&b, 1000, 1000, 2);
    int same = 0;
    for (int i = 0; i < 50; i++)
        same += hippo_backoff_next(&a) == hippo_backoff_next(&b);
    assert_true(same < 10);
}

static void test_no_overflow_after_many_attempts(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 250, 30000, 11);
    for (int i = 0; i < 1000; i++)
        expect_in(hippo_backoff_next(&b), i < 8 ? 125 : 15000, 30000);
    assert_int_equal(b.attempt, 1000);
    /* Even a huge cap and a saturated attempt counter stay in range. */
    hippo_backoff_init(&b, 1, UINT32_MAX, 11);
    b.attempt = UINT32_MAX;
    expect_in(hippo_backoff_next(&b), UINT32_MAX / 2, UINT32_MAX);
    assert_int_equal(b.attempt, UINT32_MAX);
}

static void test_degenerate_bounds(void **state)
{
    (void)state;
    hippo_backoff b;
    hippo_backoff_init(&b, 0, 30000, 1);
    b.attempt = 1000000;
    assert_int_equal(hippo_backoff_next(&b), 0); /* min 0 means retry at once, quickly */
    hippo_backoff_init(&b, 5000, 1000, 1);       /* max below min: max wins */
    expect_in(hippo_backoff_next(&b), 500, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_delay_in_min_range),
        cmocka_unit_test(test_each_step_within_half_ceiling),
        cmocka_unit_test(test_grows),
        cmocka_unit_test(test_capped),
        cmocka_unit_test(test_jitter_varies),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_seed_zero_works),
        cmocka_unit_test(test_different_seeds_differ),
        cmocka_unit_test(test_no_overflow_after_many_attempts),
        cmocka_unit_test(test_degenerate_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
