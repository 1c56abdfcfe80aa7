/* fuzz_guid.c - GUIDs and JID nodes (src/guid.c), the room address every room stanza is
 * routed by. The input is read as a node and as a GUID:
 * - hippo_guid_from_node accepts exactly the images of valid GUIDs (an oracle tokenizes the
 *   node independently), and then hippo_guid_to_node gives the node back byte for byte;
 *   a refusal leaves an empty string, never half a GUID;
 * - hippo_guid_valid agrees with "14 characters of [A-Za-z0-9]", and for a valid GUID
 *   node -> GUID gives the GUID back. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "guid.h"

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_lower(c) || is_digit(c) || (c >= 'A' && c <= 'Z');
}

/* True when NODE[0..LEN) is a sequence of exactly 14 tokens: "x" (upper-case X), "x_"
 * (lower-case x) or a digit. */
static bool ref_is_guid_node(const char *node, size_t len)
{
    size_t tokens = 0;
    for (size_t i = 0; i < len; tokens++) {
        if (is_lower(node[i]))
            i += i + 1 < len && node[i + 1] == '_' ? 2 : 1;
        else if (is_digit(node[i]))
            i++;
        else
            return false;
    }
    return tokens == HIPPO_GUID_LEN;
}

static void check_node(const char *node, size_t len)
{
    char guid[HIPPO_GUID_LEN + 1];
    memset(guid, 'x', sizeof guid);
    int rc = hippo_guid_from_node(node, len, guid);
    HIPPO_FUZZ_CHECK((rc == 0) == ref_is_guid_node(node, len));
    if (rc != 0) {
        HIPPO_FUZZ_CHECK(guid[0] == '\0');
        return;
    }
    HIPPO_FUZZ_CHECK(hippo_guid_valid(guid));
    char back[HIPPO_GUID_NODE_MAX + 1];
    HIPPO_FUZZ_CHECK(hippo_guid_to_node(guid, back) == 0);
    HIPPO_FUZZ_CHECK(strlen(back) == len && memcmp(back, node, len) == 0);
}

static void check_guid(const char *s)
{
    bool want = strlen(s) == HIPPO_GUID_LEN;
    for (size_t i = 0; want && i < HIPPO_GUID_LEN; i++)
        want = is_alnum(s[i]);
    HIPPO_FUZZ_CHECK(hippo_guid_valid(s) == want);
    char node[HIPPO_GUID_NODE_MAX + 1];
    int rc = hippo_guid_to_node(s, node);
    HIPPO_FUZZ_CHECK((rc == 0) == want);
    if (!want) {
        HIPPO_FUZZ_CHECK(node[0] == '\0');
        return;
    }
    size_t len = strlen(node);
    HIPPO_FUZZ_CHECK(len >= HIPPO_GUID_LEN && len <= HIPPO_GUID_NODE_MAX);
    char back[HIPPO_GUID_LEN + 1];
    HIPPO_FUZZ_CHECK(hippo_guid_from_node(node, len, back) == 0 && strcmp(back, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the node as the router hands it over: a length, no terminator needed */
    char *exact = malloc(size ? size : 1);
    HIPPO_FUZZ_CHECK(exact != NULL);
    memcpy(exact, data, size);
    check_node(exact, size);
    free(exact);
    char *s = hippo_fuzz_string(data, size);
    check_guid(s);
    free(s);
    return 0;
}
