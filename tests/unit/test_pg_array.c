/* test_pg_array.c - text[] literals for statement parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_array.h"

static void check(const char *const *items, size_t n, const char *want)
{
    char *got = hippo_pg_text_array(items, n);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_quotes_and_escapes(void **state)
{
    (void)state;
    check(NULL, 0, "{}");
    check((const char *[]){"a"}, 1, "{\"a\"}");
    check((const char *[]){"", "NULL", "{x,y}"}, 3, "{\"\",\"NULL\",\"{x,y}\"}");
    check((const char *[]){"say \"hi\"", "a\\b"}, 2, "{\"say \\\"hi\\\"\",\"a\\\\b\"}");
}

static void test_quoted_size_is_exact(void **state)
{
    (void)state;
    const char *s = "q\"\\z";
    char buf[16];
    char *end = hippo_pg_put_quoted(buf, s);
    assert_int_equal((size_t)(end - buf), hippo_pg_quoted_size(s));
    assert_memory_equal(buf, "\"q\\\"\\\\z\"", hippo_pg_quoted_size(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotes_and_escapes),
        cmocka_unit_test(test_quoted_size_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
