/* rsm.h - XEP-0059 result set management: reading the <set/> of a request.
 *
 * The parser is strict: a <set/> that is not understood is an error (bad-request), never
 * read as something else, so a client learns at once that its request was malformed. */
#ifndef HIPPO_RSM_H
#define HIPPO_RSM_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

#define HIPPO_NS_RSM "http://jabber.org/protocol/rsm"

/* The longest <after/> or <before/> id read (an item id hippod hands out is a room JID, far
 * shorter). */
#define HIPPO_RSM_ID_MAX 512

/* A request's paging. The strings are copies owned by the struct (no allocation). */
typedef struct hippo_rsm {
    bool present;                      /* the request had a <set/> */
    long max;                          /* <max/>, or -1 */
    long index;                        /* <index/>, or -1 */
    bool has_after, has_before;        /* <before/> may be empty: the last page */
    char after[HIPPO_RSM_ID_MAX + 1];  /* "" unless has_after */
    char before[HIPPO_RSM_ID_MAX + 1]; /* "" unless has_before, or <before/> empty */
} hippo_rsm;

/* Reads the RSM <set/> among the children of QUERY into *OUT. Returns 0, or -1 when the
 * <set/> is malformed, with a short reason in *WHY (a static string): more than one <set/>;
 * a child other than max, index, after, before, or one of them twice; max or index not a
 * decimal integer from 0 to 2147483647; an empty <after/>; an id longer than
 * HIPPO_RSM_ID_MAX bytes; after and before together; index with after or before. -2 when out
 * of memory. No <set/>: 0 and OUT->present false. CTX frees the text libstrophe copies
 * out. */
int hippo_rsm_parse(xmpp_ctx_t *ctx, xmpp_stanza_t *query, hippo_rsm *out, const char **why);

#endif
