/* guid.c - Mugshot GUIDs: generation, validation and the GUID <-> JID-node mapping. */
#include "guid.h"

#include <stdint.h>
#include <string.h>

#include <openssl/rand.h>

/* The original generation alphabet: consonants (plus 'A') in both cases, then digits. */
static const char guid_alphabet[] = "ABCDFGHJKLMNPQRSTVWXYZ"
                                    "bcdfghjklmnpqrstvwxyz"
                                    "0123456789";
#define GUID_BASE 53
#define GUID_CHUNK_DIGITS 7 /* 53^7 > 2^40, so one 40-bit chunk fits in 7 digits */

static void encode_chunk(const unsigned char bytes[5], char out[GUID_CHUNK_DIGITS])
{
    uint64_t v = 0;
    for (int i = 0; i < 5; i++)
        v = (v << 8) | bytes[i];
    for (int i = GUID_CHUNK_DIGITS - 1; i >= 0; i--) {
        out[i] = guid_alphabet[v % GUID_BASE];
        v /= GUID_BASE;
    }
}

int hippo_guid_generate(char out[HIPPO_GUID_LEN + 1])
{
    _Static_assert(sizeof guid_alphabet - 1 == GUID_BASE, "alphabet has 53 characters");
    _Static_assert(2 * GUID_CHUNK_DIGITS == HIPPO_GUID_LEN, "two chunks make a GUID");
    unsigned char bytes[10];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return -1;
    encode_chunk(bytes, out);
    encode_chunk(bytes + 5, out + GUID_CHUNK_DIGITS);
    out[HIPPO_GUID_LEN] = '\0';
    return 0;
}

/* Locale-independent character classes: GUIDs and nodes are ASCII only. */
static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool hippo_guid_valid(const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < HIPPO_GUID_LEN; i++) {
        if (!is_upper(s[i]) && !is_lower(s[i]) && !is_digit(s[i]))
            return false; /* also stops at a NUL before 14 chars */
    }
    return s[HIPPO_GUID_LEN] == '\0';
}

int hippo_guid_to_node(const char *guid, char out[HIPPO_GUID_NODE_MAX + 1])
{
    out[0] = '\0';
    if (!hippo_guid_valid(guid))
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < HIPPO_GUID_LEN; i++) {
        char c = guid[i];
        if (is_upper(c)) {
            out[n++] = (char)(c - 'A' + 'a');
        } else if (is_lower(c)) {
            out[n++] = c;
            out[n++] = '_';
        } else {
            out[n++] = c;
        }
    }
    out[n] = '\0';
    return 0;
}

/* Decodes NODE into OUT (not terminated); returns the GUID length or -1. */
static int decode_node(const char *node, size_t node_len, char out[HIPPO_GUID_LEN])
{
    size_t n = 0;
    for (size_t i = 0; i < node_len; i++) {
        char c = node[i];
        bool marked = i + 1 < node_len && node[i + 1] == '_';
        if (n == HIPPO_GUID_LEN)
            return -1;
        if (is_lower(c)) {
            out[n++] = marked ? c : (char)(c - 'a' + 'A');
        } else if (is_digit(c) && !marked) {
            out[n++] = c;
        } else {
            return -1; /* stray '_', '_' after a digit, upper case, or a foreign byte */
        }
        if (marked)
            i++;
    }
    return (int)n;
}

int hippo_guid_from_node(const char *node, size_t node_len, char out[HIPPO_GUID_LEN + 1])
{
    out[0] = '\0';
    if (node == NULL || node_len < HIPPO_GUID_LEN || node_len > HIPPO_GUID_NODE_MAX)
        return -1;
    if (decode_node(node, node_len, out) != HIPPO_GUID_LEN) {
        out[0] = '\0';
        return -1;
    }
    out[HIPPO_GUID_LEN] = '\0';
    return 0;
}
