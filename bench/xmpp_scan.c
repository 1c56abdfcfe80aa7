/* xmpp_scan.c - top-level element splitter and tiny element accessors for the load driver. */
#include "xmpp_scan.h"

#include <string.h>

/* A tag ended at s->pos - 1 ('>'). True when it completed a top-level element. */
static bool tag_done(hippo_bench_scan *s, const char *buf, hippo_bench_span *elem)
{
    size_t t = s->tag_start;
    size_t end = s->pos;
    char kind = end - t > 2 ? buf[t + 1] : '\0';
    if (kind == '?' || kind == '!')
        return false;
    if (kind == '/') {
        if (s->depth > 0)
            s->depth--;
        if (s->depth == 1) {
            elem->p = buf + s->elem_start;
            elem->n = end - s->elem_start;
            return true;
        }
        if (s->depth == 0)
            s->closed = true;
        return false;
    }
    bool empty = buf[end - 2] == '/';
    if (s->depth == 1) {
        s->elem_start = t;
        if (empty) {
            elem->p = buf + t;
            elem->n = end - t;
            return true;
        }
    }
    if (!empty)
        s->depth++;
    return false;
}

bool hippo_bench_scan_next(hippo_bench_scan *s, const char *buf, size_t len, hippo_bench_span *elem)
{
    while (s->pos < len && !s->closed) {
        char c = buf[s->pos++];
        if (!s->in_tag) {
            if (c == '<') {
                s->in_tag = true;
                s->tag_start = s->pos - 1;
                s->quote = 0;
            }
            continue;
        }
        if (s->quote) {
            if (c == s->quote)
                s->quote = 0;
            continue;
        }
        if (c == '"' || c == '\'') {
            s->quote = c;
            continue;
        }
        if (c != '>')
            continue;
        s->in_tag = false;
        if (tag_done(s, buf, elem))
            return true;
    }
    return false;
}

size_t hippo_bench_scan_keep_from(const hippo_bench_scan *s)
{
    if (s->depth >= 2)
        return s->elem_start;
    return s->in_tag ? s->tag_start : s->pos;
}

void hippo_bench_scan_shift(hippo_bench_scan *s, size_t n)
{
    s->pos -= n;
    if (s->in_tag)
        s->tag_start -= n;
    if (s->depth >= 2)
        s->elem_start -= n;
}

void hippo_bench_scan_restart(hippo_bench_scan *s)
{
    s->depth = 0;
    s->closed = false;
}

static bool is_name_end(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>';
}

/* Length of the start tag (up to and including its '>'). */
static size_t start_tag_len(hippo_bench_span e)
{
    char quote = 0;
    for (size_t i = 0; i < e.n; i++) {
        char c = e.p[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return e.n;
}

hippo_bench_span hippo_bench_elem_name(hippo_bench_span e)
{
    size_t i = 1;
    size_t start = 1;
    while (i < e.n && !is_name_end(e.p[i])) {
        if (e.p[i] == ':')
            start = i + 1;
        i++;
    }
    hippo_bench_span name = {e.p + start, i > start ? i - start : 0};
    return name;
}

bool hippo_bench_elem_attr(hippo_bench_span e, const char *name, hippo_bench_span *value)
{
    size_t end = start_tag_len(e);
    size_t nlen = strlen(name);
    size_t i = 1;
    while (i < end && !is_name_end(e.p[i]))
        i++;
    while (i < end) {
        while (i < end && (e.p[i] == ' ' || e.p[i] == '\t' || e.p[i] == '\r' || e.p[i] == '\n'))
            i++;
        size_t a = i;
        while (i < end && e.p[i] != '=' && !is_name_end(e.p[i]))
            i++;
        if (i >= end || e.p[i] != '=' || i + 1 >= end)
            return false;
        size_t alen = i - a;
        char quote = e.p[i + 1];
        size_t v = i + 2;
        size_t close = v;
        while (close < end && e.p[close] != quote)
            close++;
        if (alen == nlen && memcmp(e.p + a, name, nlen) == 0) {
            value->p = e.p + v;
            value->n = close - v;
            return true;
        }
        i = close + 1;
    }
    return false;
}

bool hippo_bench_elem_child_text(hippo_bench_span e, const char *child, hippo_bench_span *text)
{
    size_t clen = strlen(child);
    size_t i = start_tag_len(e);
    while (i + clen + 2 <= e.n) {
        const char *lt = memchr(e.p + i, '<', e.n - i);
        if (!lt)
            return false;
        i = (size_t)(lt - e.p) + 1;
        if (i + clen >= e.n || memcmp(e.p + i, child, clen) != 0 || !is_name_end(e.p[i + clen]))
            continue;
        hippo_bench_span rest = {lt, e.n - (size_t)(lt - e.p)};
        size_t tag = start_tag_len(rest);
        size_t t = (size_t)(lt - e.p) + tag;
        text->p = e.p + t;
        text->n = 0;
        if (tag >= 2 && lt[tag - 2] == '/')
            return true;
        while (t + text->n < e.n && e.p[t + text->n] != '<')
            text->n++;
        return true;
    }
    return false;
}

bool hippo_bench_elem_contains(hippo_bench_span e, const char *needle)
{
    return memmem(e.p, e.n, needle, strlen(needle)) != NULL;
}

bool hippo_bench_span_eq(hippo_bench_span s, const char *t)
{
    size_t n = strlen(t);
    return s.n == n && memcmp(s.p, t, n) == 0;
}
