/* test_guid.c - GUID generation, validation and the GUID <-> node mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guid.h"

static const char generation_alphabet[] = "ABCDFGHJKLMNPQRSTVWXYZ"
                                          "bcdfghjklmnpqrstvwxyz"
                                          "0123456789";

static void expect_node(const char *guid, const char *node)
{
    char out[HIPPO_GUID_NODE_MAX + 1];
    assert_int_equal(hippo_guid_to_node(guid, out), 0);
    assert_string_equal(out, node);
    char back[HIPPO_GUID_LEN + 1];
    assert_int_equal(hippo_guid_from_node(node, strlen(node), back), 0);
    assert_string_equal(back, guid);
}

static void expect_bad_node(const char *node)
{
    char out[HIPPO_GUID_LEN + 1];
    if (hippo_guid_from_node(node, strlen(node), out) != -1)
        fail_msg("node \"%s\" accepted as \"%s\"", node, out);
    assert_string_equal(out, ""); /* never a half-written GUID */
}

static void test_known_vectors(void **state)
{
    (void)state;
    expect_node("AbC1AbC1AbC1Ab", "ab_c1ab_c1ab_c1ab_");
    expect_node("ABCDEFGHIJKLMN", "abcdefghijklmn");
    expect_node("abcdefghijklmn", "a_b_c_d_e_f_g_h_i_j_k_l_m_n_");
    expect_node("01234567890123", "01234567890123");
    expect_node("Zz9Zz9Zz9Zz9Zz", "zz_9zz_9zz_9zz_9zz_");
    expect_node("ABCDEFGHIJKLMn", "abcdefghijklmn_"); /* a final "_" is a lower-case mark */
}

static void test_generated_alphabet_and_distinct(void **state)
{
    (void)state;
    enum { N = 200 };
    static char seen[N][HIPPO_GUID_LEN + 1];
    for (int i = 0; i < N; i++) {
        assert_int_equal(hippo_guid_generate(seen[i]), 0);
        assert_int_equal(strlen(seen[i]), HIPPO_GUID_LEN);
        assert_true(hippo_guid_valid(seen[i]));
        assert_int_equal(strspn(seen[i], generation_alphabet), HIPPO_GUID_LEN);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
}

/* 40 random bits as 7 base-53 digits: the leading digit of each half is at most
 * floor((2^40 - 1) / 53^6) = 49, i.e. never one of the last three digits '7', '8', '9'. */
static void test_generated_chunk_range(void **state)
{
    (void)state;
    for (int i = 0; i < 500; i++) {
        char g[HIPPO_GUID_LEN + 1];
        assert_int_equal(hippo_guid_generate(g), 0);
        assert_null(strchr("789", g[0]));
        assert_null(strchr("789", g[7]));
    }
}

/* Every one of the 53 digits shows up in the non-leading positions: the encoding really
 * is base 53 over the whole alphabet (2000 GUIDs: each digit is expected ~450 times). */
static void test_generated_uses_whole_alphabet(void **state)
{
    (void)state;
    int counts[sizeof generation_alphabet - 1] = {0};
    for (int i = 0; i < 2000; i++) {
        char g[HIPPO_GUID_LEN + 1];
        assert_int_equal(hippo_guid_generate(g), 0);
        for (int k = 0; k < HIPPO_GUID_LEN; k++) {
            if (k == 0 || k == 7)
                continue;
            counts[strchr(generation_alphabet, g[k]) - generation_alphabet]++;
        }
    }
    for (size_t d = 0; d < sizeof counts / sizeof counts[0]; d++) {
        if (counts[d] < 100)
            fail_msg("digit '%c' appeared only %d times", generation_alphabet[d], counts[d]);
    }
}

static void test_round_trip_generated(void **state)
{
    (void)state;
    for (int i = 0; i < 2000; i++) {
        char g[HIPPO_GUID_LEN + 1], node[HIPPO_GUID_NODE_MAX + 1], back[HIPPO_GUID_LEN + 1];
        assert_int_equal(hippo_guid_generate(g), 0);
        assert_int_equal(hippo_guid_to_node(g, node), 0);
        size_t len = strlen(node);
        assert_true(len >= HIPPO_GUID_LEN && len <= HIPPO_GUID_NODE_MAX);
        for (size_t k = 0; k < len; k++)
            assert_true((node[k] >= 'a' && node[k] <= 'z') || (node[k] >= '0' && node[k] <= '9') ||
                        node[k] == '_');
        assert_int_equal(hippo_guid_from_node(node, len, back), 0);
        assert_string_equal(back, g);
    }
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(hippo_guid_valid("AbC1AbC1AbC1Ab"));
    assert_true(hippo_guid_valid("aeiouAEIOU0000")); /* lenient: vowels are accepted */
    assert_false(hippo_guid_valid(NULL));
    assert_false(hippo_guid_valid(""));
    assert_false(hippo_guid_valid("AbC1AbC1AbC1A"));   /* 13 */
    assert_false(hippo_guid_valid("AbC1AbC1AbC1Abc")); /* 15 */
    assert_false(hippo_guid_valid("AbC1AbC1AbC1A_"));
    assert_false(hippo_guid_valid("AbC1AbC1AbC1A-"));
    assert_false(hippo_guid_valid("AbC1 bC1AbC1Ab"));
    assert_false(hippo_guid_valid("AbC1AbC1AbC1A\xc3"));
}

static void test_to_node_rejects(void **state)
{
    (void)state;
    char out[HIPPO_GUID_NODE_MAX + 1] = "junk";
    assert_int_equal(hippo_guid_to_node("short", out), -1);
    assert_string_equal(out, "");
    assert_int_equal(hippo_guid_to_node("AbC1AbC1AbC1A!", out), -1);
    assert_int_equal(hippo_guid_to_node(NULL, out), -1);
}

static void test_from_node_rejects(void **state)
{
    (void)state;
    expect_bad_node("ab_c1ab_c1ab_c1a");          /* 13 GUID chars */
    expect_bad_node("ab_c1ab_c1ab_c1ab_c");       /* 15 GUID chars */
    expect_bad_node("_ab_c1ab_c1ab_c1ab");        /* leading '_' */
    expect_bad_node("ab__c1ab_c1ab_c1ab_");       /* double '_' */
    expect_bad_node("ab_c1ab_c1ab_c1ab_c_");      /* 15 chars ending in '_' */
    expect_bad_node("abcdefghijklm1_");           /* trailing '_' after a digit */
    expect_bad_node("abcdefghijklmn__");          /* trailing double '_' */
    expect_bad_node("abc1abc1abc1a_");            /* 13 GUID chars and a trailing '_' */
    expect_bad_node("1_bc1abc1abc1ab");           /* '_' after a digit */
    expect_bad_node("Ab_c1ab_c1ab_c1ab_");        /* upper case in a node */
    expect_bad_node("ab_c1ab_c1ab-c1ab_");        /* foreign char */
    expect_bad_node("ab_c1ab_c1ab_c1ab\xc3\xa9"); /* non-ASCII */
    expect_bad_node("");
    expect_bad_node("a_a_a_a_a_a_a_a_a_a_a_a_a_a_a"); /* 29 bytes: longer than any node */
    expect_bad_node("abcdefghijklm");                 /* 13 bytes: shorter than any node */
    expect_bad_node("abcdefghijklmno");               /* 15 GUID chars */
}

static void test_from_node_respects_length(void **state)
{
    (void)state;
    char out[HIPPO_GUID_LEN + 1];
    /* A node inside a JID: only node_len bytes count, no NUL needed after them. */
    const char *jid = "ab_c1ab_c1ab_c1ab_@rooms.example.org/x";
    assert_int_equal(hippo_guid_from_node(jid, 18, out), 0);
    assert_string_equal(out, "AbC1AbC1AbC1Ab");
    /* Cutting before the final '_' turns the last char upper case. */
    const char unterminated[17] = {'a', 'b', '_', 'c', '1', 'a', 'b', '_', 'c',
                                   '1', 'a', 'b', '_', 'c', '1', 'a', 'b'};
    assert_int_equal(hippo_guid_from_node(unterminated, sizeof unterminated, out), 0);
    assert_string_equal(out, "AbC1AbC1AbC1AB");
    /* A NUL inside the counted bytes is not a node character. */
    assert_int_equal(hippo_guid_from_node("abcdefghijklm\0n", 15, out), -1);
    assert_int_equal(hippo_guid_from_node(NULL, 14, out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_generated_alphabet_and_distinct),
        cmocka_unit_test(test_generated_chunk_range),
        cmocka_unit_test(test_generated_uses_whole_alphabet),
        cmocka_unit_test(test_round_trip_generated),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_to_node_rejects),
        cmocka_unit_test(test_from_node_rejects),
        cmocka_unit_test(test_from_node_respects_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
