/* fuzz_user_iq.c - the user-side request parsers of src/user_iq_xml.c, each against an
 * oracle written from docs/protocol-user-iqs.md. The first input byte picks the parser:
 *   0: clientInfo (the rest is the XML of the payload);
 *   1: addBlogComment (XML): the stored ids must be the exact, canonical value of the text;
 *   2: notifyContactComment's name (the rest is the name);
 *   3: hippo_user_iq_parse_int: 16 bytes of bounds, then the text. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "user_iq_xml.h"

#define BLANKS " \t\r\n"

/* ---- clientInfo */

static const char *optional(xmpp_stanza_t *el, const char *name, bool *too_long)
{
    const char *v = xmpp_stanza_get_attribute(el, name);
    if (v && strlen(v) > HIPPO_CLIENTINFO_MAX_ATTR)
        *too_long = true;
    return v && *v ? v : NULL;
}

static void check_clientinfo(xmpp_stanza_t *el)
{
    hippo_clientinfo_request got;
    char err[512] = "";
    int rc = hippo_clientinfo_parse(el, &got, err, sizeof err);
    const char *platform = xmpp_stanza_get_attribute(el, "platform");
    bool too_long = false;
    const char *dist = optional(el, "distribution", &too_long);
    const char *version = optional(el, "version", &too_long);
    const char *arch = optional(el, "architecture", &too_long);
    bool ok = platform && *platform && !too_long;
    HIPPO_FUZZ_CHECK((rc == 0) == ok);
    if (!ok) {
        HIPPO_FUZZ_CHECK(err[0] != '\0');
        return;
    }
    HIPPO_FUZZ_CHECK(got.platform == platform && got.distribution == dist &&
                     got.version == version && got.architecture == arch);
}

/* ---- addBlogComment */

/* The canonical text of D ("-12", "0"): what hippo_blog_comment must hold. */
static void canonical(const hippo_fuzz_decimal *d, char *buf, size_t size)
{
    snprintf(buf, size, "%s%.*s", d->sign < 0 ? "-" : "", (int)d->ndigits, d->digits);
}

/* The expected slot for element CHILD: its canonical number, or "" when not a 64-bit one. */
static void expected_id(xmpp_stanza_t *child, char *buf, size_t size)
{
    char *text = xmpp_stanza_get_text(child);
    hippo_fuzz_decimal d;
    buf[0] = '\0';
    if (text && hippo_fuzz_read_decimal(text, BLANKS, false, &d) &&
        hippo_fuzz_decimal_cmp(&d, LLONG_MIN) >= 0 && hippo_fuzz_decimal_cmp(&d, LLONG_MAX) <= 0)
        canonical(&d, buf, size);
    if (text)
        xmpp_free(hippo_fuzz_ctx(), text);
}

static bool in_myspace_ns(xmpp_stanza_t *c)
{
    const char *ns = xmpp_stanza_get_ns(c);
    return !ns || !*ns || strcmp(ns, HIPPO_NS_MYSPACE) == 0;
}

/* What the parse must give: true with both ids when every element child is exactly one of
 * commentId/posterId holding only a 64-bit number, each once. */
static bool expected_comment(xmpp_stanza_t *el, hippo_blog_comment *want)
{
    memset(want, 0, sizeof *want);
    int seen_comment = 0, seen_poster = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c);
        bool comment = strcmp(name, "commentId") == 0, poster = strcmp(name, "posterId") == 0;
        if (!in_myspace_ns(c) || (!comment && !poster))
            return false;
        for (xmpp_stanza_t *g = xmpp_stanza_get_children(c); g; g = xmpp_stanza_get_next(g))
            if (xmpp_stanza_is_tag(g))
                return false;
        char *slot = comment ? want->comment_id : want->poster_id;
        if ((comment ? ++seen_comment : ++seen_poster) > 1)
            return false;
        expected_id(c, slot, sizeof want->comment_id);
        if (!*slot)
            return false;
    }
    return seen_comment == 1 && seen_poster == 1;
}

static void check_blog_comment(xmpp_stanza_t *el)
{
    hippo_blog_comment got, want;
    char err[512] = "";
    int rc = hippo_blog_comment_parse(el, &got, err, sizeof err);
    bool ok = expected_comment(el, &want);
    HIPPO_FUZZ_CHECK((rc == 0) == ok);
    if (ok)
        HIPPO_FUZZ_CHECK(strcmp(got.comment_id, want.comment_id) == 0 &&
                         strcmp(got.poster_id, want.poster_id) == 0);
    else
        HIPPO_FUZZ_CHECK(err[0] != '\0');
}

/* ---- notifyContactComment */

static void check_contact_name(const char *name)
{
    char err[512] = "";
    int rc = hippo_contact_comment_name_check(name, err, sizeof err);
    bool ok = name[strspn(name, BLANKS)] != '\0' && strlen(name) <= HIPPO_MYSPACE_MAX_NAME;
    HIPPO_FUZZ_CHECK((rc == 0) == ok);
    HIPPO_FUZZ_CHECK(ok || err[0] != '\0');
    HIPPO_FUZZ_CHECK(hippo_contact_comment_name_check(NULL, err, sizeof err) == -1);
}

/* ---- hippo_user_iq_parse_int */

static long long bound_from(const uint8_t *b)
{
    unsigned long long u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | b[i];
    return (long long)u;
}

static void check_parse_int(const uint8_t *data, size_t size)
{
    if (size < 16)
        return;
    long long lo = bound_from(data), hi = bound_from(data + 8), got = 0;
    char *text = hippo_fuzz_string(data + 16, size - 16);
    hippo_fuzz_decimal d;
    bool ok = hippo_fuzz_read_decimal(text, BLANKS, false, &d) &&
              hippo_fuzz_decimal_cmp(&d, lo) >= 0 && hippo_fuzz_decimal_cmp(&d, hi) <= 0;
    bool rc = hippo_user_iq_parse_int(text, lo, hi, &got);
    HIPPO_FUZZ_CHECK(rc == ok);
    HIPPO_FUZZ_CHECK(!ok || hippo_fuzz_decimal_cmp(&d, got) == 0);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int mode = data[0] % 4;
    if (mode == 3) {
        check_parse_int(data + 1, size - 1);
        return 0;
    }
    char *s = hippo_fuzz_string(data + 1, size - 1);
    if (mode == 2) {
        check_contact_name(s);
        free(s);
        return 0;
    }
    xmpp_stanza_t *el = xmpp_stanza_new_from_string(hippo_fuzz_ctx(), s);
    free(s);
    if (!el)
        return 0;
    if (mode == 0)
        check_clientinfo(el);
    else
        check_blog_comment(el);
    xmpp_stanza_release(el);
    return 0;
}
