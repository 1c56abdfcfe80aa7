/* xmpp_scan.h - splits an XMPP stream into its top-level elements without an XML library.
 * Just enough for well-formed server output: quoted attributes, empty tags, the XML
 * declaration. Comments and CDATA (which servers do not send) are not understood. */
#ifndef HIPPO_BENCH_XMPP_SCAN_H
#define HIPPO_BENCH_XMPP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t pos;        /* next byte to look at */
    size_t tag_start;  /* '<' of the tag being read (valid while in_tag) */
    size_t elem_start; /* '<' of the open top-level element (valid while depth >= 2) */
    int depth;         /* 0 before <stream:stream>, 1 inside it, 2+ inside an element */
    char quote;        /* the quote of the attribute value being read, or 0 */
    bool in_tag;
    bool closed; /* </stream:stream> was read */
} hippo_bench_scan;

/* A span of the caller's buffer (not NUL-terminated). */
typedef struct {
    const char *p;
    size_t n;
} hippo_bench_span;

/* Goes on scanning BUF[0..LEN) where the last call stopped. Returns true and sets *ELEM to
 * the next complete top-level element (depth-1 child of the stream); false when more bytes
 * are needed (or the stream was closed: see s->closed). */
bool hippo_bench_scan_next(hippo_bench_scan *s, const char *buf, size_t len,
                           hippo_bench_span *elem);

/* The first byte the scanner still needs; everything before it may be dropped. */
size_t hippo_bench_scan_keep_from(const hippo_bench_scan *s);

/* Tells the scanner that the caller dropped the first N bytes of its buffer. */
void hippo_bench_scan_shift(hippo_bench_scan *s, size_t n);

/* Expects a new stream header (after SASL success the stream restarts). */
void hippo_bench_scan_restart(hippo_bench_scan *s);

/* The element's local name (after any "prefix:"); ELEM must be a scanned element. */
hippo_bench_span hippo_bench_elem_name(hippo_bench_span elem);

/* True when the element's own start tag has attribute NAME; *VALUE gets its raw value. */
bool hippo_bench_elem_attr(hippo_bench_span elem, const char *name, hippo_bench_span *value);

/* True when a descendant element <CHILD ...> (exact qualified name) exists; *TEXT gets the
 * raw text up to its first child or end tag (empty for <CHILD/>). */
bool hippo_bench_elem_child_text(hippo_bench_span elem, const char *child, hippo_bench_span *text);

/* True when NEEDLE occurs anywhere in the element text. */
bool hippo_bench_elem_contains(hippo_bench_span elem, const char *needle);

/* True when span S equals the NUL-terminated string T. */
bool hippo_bench_span_eq(hippo_bench_span s, const char *t);

#endif
