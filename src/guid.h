/* guid.h - Mugshot GUIDs: generation, validation and the GUID <-> JID-node mapping. */
#ifndef HIPPO_GUID_H
#define HIPPO_GUID_H

#include <stdbool.h>
#include <stddef.h>

#define HIPPO_GUID_LEN 14
#define HIPPO_GUID_NODE_MAX (2 * HIPPO_GUID_LEN) /* every char a lower-case letter */

/* Fills OUT (HIPPO_GUID_LEN + 1 bytes) with a fresh GUID from 80 OpenSSL random bits.
 * Returns 0, or -1 if the random generator failed. */
int hippo_guid_generate(char out[HIPPO_GUID_LEN + 1]);

/* True when S is 14 characters of [A-Za-z0-9] (the original's lenient check). */
bool hippo_guid_valid(const char *s);

/* GUID -> node: upper-case letter -> lower case, lower-case letter -> letter + '_',
 * digit unchanged. OUT needs HIPPO_GUID_NODE_MAX + 1 bytes. Returns -1 on an invalid GUID. */
int hippo_guid_to_node(const char *guid, char out[HIPPO_GUID_NODE_MAX + 1]);

/* Node -> GUID (the inverse); NODE_LEN bytes of NODE are read. Returns -1 when the node
 * is not the image of a valid GUID. OUT needs HIPPO_GUID_LEN + 1 bytes. */
int hippo_guid_from_node(const char *node, size_t node_len, char out[HIPPO_GUID_LEN + 1]);

#endif
