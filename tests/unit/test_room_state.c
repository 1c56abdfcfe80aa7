/* test_room_state.c - what hippod remembers of rooms (room_state.c): states, marks, holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "room_state.h"

#define ROOM_A "aaaaaaaaaaaaaa"
#define ROOM_B "bbbbbbbbbbbbbb"

static hippo_room_state *state_with(const char *jid)
{
    hippo_room_state *s = hippo_room_state_new("group");
    assert_non_null(s);
    assert_int_equal(
        hippo_room_state_add(s, jid, HIPPO_DIALECT_MUC, "uuuuuuuuuuuuuu", "Alice", 3, "Alice"), 0);
    return s;
}

static void test_state_finds_resources_by_full_jid(void **unused)
{
    (void)unused;
    hippo_room_state *s = state_with("alice@x/r1");
    assert_int_equal(hippo_room_state_add(s, "bob@x/r", HIPPO_DIALECT_CLASSIC, "b", NULL, 0, NULL),
                     0);
    const hippo_room_occupant *o = hippo_room_state_find(s, "alice@x/r1");
    assert_non_null(o);
    assert_string_equal(o->user.name, "Alice");
    assert_int_equal(o->user.photo_version, 3);
    assert_int_equal(o->dialect, HIPPO_DIALECT_MUC);
    assert_null(hippo_room_state_find(s, "alice@x/r2"));
    assert_null(hippo_room_state_find(s, "alice@x"));
    assert_string_equal(hippo_room_state_find(s, "bob@x/r")->user.name, ""); /* NULL: "" */
    assert_string_equal(s->kind, "group");
    assert_int_equal(s->n, 2);
    hippo_room_state_unref(s);
}

static void test_remembers_with_a_current_mark_only(void **unused)
{
    (void)unused;
    hippo_room_states *m = hippo_room_states_new(16);
    hippo_room_mark mark, stale;
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &stale), 0);
    hippo_room_states_forget(m, ROOM_A); /* a NOTIFY after the batch was sent */
    hippo_room_state *s = state_with("alice@x/r");
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, stale, s), 0);
    assert_null(hippo_room_states_get(m, ROOM_A));
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &mark), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, mark, s), 1);
    assert_ptr_equal(hippo_room_states_get(m, ROOM_A), s);
    assert_null(hippo_room_states_get(m, ROOM_B));
    assert_int_equal(hippo_room_states_count(m), 1);
    hippo_room_state_unref(s); /* the table keeps its own reference */
    assert_non_null(hippo_room_state_find(hippo_room_states_get(m, ROOM_A), "alice@x/r"));
    hippo_room_states_forget(m, ROOM_A);
    assert_null(hippo_room_states_get(m, ROOM_A));
    assert_int_equal(hippo_room_states_count(m), 0);
    hippo_room_states_free(m);
}

static void test_a_held_room_is_not_remembered_until_released(void **unused)
{
    (void)unused;
    hippo_room_states *m = hippo_room_states_new(16);
    hippo_room_mark before, during, after;
    hippo_room_state *s = state_with("alice@x/r");
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &before), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, before, s), 1);
    hippo_room_states_hold(m, ROOM_A); /* a join sent */
    assert_null(hippo_room_states_get(m, ROOM_A));
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &during), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, during, s), 0);
    hippo_room_states_hold(m, ROOM_A); /* and a leave */
    hippo_room_states_release(m, ROOM_A);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, during, s), 0);
    hippo_room_states_release(m, ROOM_A);
    /* a batch sent during the hold may have run before the join: still not remembered */
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, during, s), 0);
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &after), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, after, s), 1);
    hippo_room_states_release(m, ROOM_A); /* one too many: ignored */
    assert_non_null(hippo_room_states_get(m, ROOM_A));
    hippo_room_state_unref(s);
    hippo_room_states_free(m);
}

static void test_forget_all_keeps_holds_and_makes_marks_stale(void **unused)
{
    (void)unused;
    hippo_room_states *m = hippo_room_states_new(16);
    hippo_room_mark a, b;
    hippo_room_state *s = state_with("alice@x/r");
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &a), 0);
    assert_int_equal(hippo_room_states_mark(m, ROOM_B, &b), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_B, b, s), 1);
    hippo_room_states_hold(m, ROOM_A);
    hippo_room_states_forget(m, "*"); /* the database came back */
    assert_null(hippo_room_states_get(m, ROOM_B));
    assert_int_equal(hippo_room_states_remember(m, ROOM_B, b, s), 0);
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &a), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, a, s), 0); /* still held */
    hippo_room_states_release(m, ROOM_A);
    assert_int_equal(hippo_room_states_mark(m, ROOM_A, &a), 0);
    assert_int_equal(hippo_room_states_remember(m, ROOM_A, a, s), 1);
    hippo_room_state_unref(s);
    hippo_room_states_free(m);
}

static void test_a_full_table_starts_again(void **unused)
{
    (void)unused;
    hippo_room_states *m = hippo_room_states_new(4);
    hippo_room_state *s = state_with("alice@x/r");
    char id[15];
    hippo_room_mark first, mark;
    assert_int_equal(hippo_room_states_mark(m, "r0000000000000", &first), 0);
    assert_int_equal(hippo_room_states_remember(m, "r0000000000000", first, s), 1);
    hippo_room_states_hold(m, "h0000000000000");
    for (int i = 1; i < 40; i++) {
        snprintf(id, sizeof id, "r%013d", i);
        assert_int_equal(hippo_room_states_mark(m, id, &mark), 0);
        hippo_room_states_remember(m, id, mark, s);
    }
    assert_true(hippo_room_states_count(m) <= 4);
    assert_null(hippo_room_states_get(m, "r0000000000000")); /* forgotten on the way */
    assert_int_equal(hippo_room_states_remember(m, "r0000000000000", first, s), 0);
    /* the held room kept its hold through every restart of the table */
    assert_int_equal(hippo_room_states_mark(m, "h0000000000000", &mark), 0);
    assert_int_equal(hippo_room_states_remember(m, "h0000000000000", mark, s), 0);
    hippo_room_state_unref(s);
    hippo_room_states_free(m);
}

static void test_the_table_grows(void **unused)
{
    (void)unused;
    hippo_room_states *m = hippo_room_states_new(100000);
    hippo_room_state *s = state_with("alice@x/r");
    char id[15];
    hippo_room_mark mark;
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "g%013d", i);
        assert_int_equal(hippo_room_states_mark(m, id, &mark), 0);
        assert_int_equal(hippo_room_states_remember(m, id, mark, s), 1);
    }
    assert_int_equal(hippo_room_states_count(m), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "g%013d", i);
        assert_ptr_equal(hippo_room_states_get(m, id), s);
    }
    hippo_room_state_unref(s);
    hippo_room_states_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_finds_resources_by_full_jid),
        cmocka_unit_test(test_remembers_with_a_current_mark_only),
        cmocka_unit_test(test_a_held_room_is_not_remembered_until_released),
        cmocka_unit_test(test_forget_all_keeps_holds_and_makes_marks_stale),
        cmocka_unit_test(test_a_full_table_starts_again),
        cmocka_unit_test(test_the_table_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
