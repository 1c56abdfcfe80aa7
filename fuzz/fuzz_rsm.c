/* fuzz_rsm.c - the XEP-0059 <set/> of a request (src/rsm.c). The input is the XML of a
 * disco#items <query/>. hippo_rsm_parse must accept exactly what an oracle of the rules in
 * docs/protocol-rooms.md ("Discovery", Paging) accepts, reading the same XML with libxml2
 * instead of libstrophe, and hand out exactly the values the request holds: max and index
 * compared as exact decimals, after and before byte for byte. A refusal comes with a
 * reason. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rsm.h"

#define BLANKS " \t\n\r"

/* What the oracle expects. Strings are malloc'd (NULL: absent). */
typedef struct expected {
    bool ok;
    long max, index;
    char *after, *before;
} expected;

static bool in_rsm(xmlNodePtr n)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, HIPPO_NS_RSM) == 0;
}

/* The direct text of N (text and CDATA children), or NULL when N has an element child. */
static char *text_only(xmlNodePtr n)
{
    size_t len = 0;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return NULL;
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            len += strlen((const char *)c->content);
    }
    char *s = malloc(len + 1);
    HIPPO_FUZZ_CHECK(s != NULL);
    s[0] = '\0';
    for (xmlNodePtr c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            strcat(s, (const char *)c->content);
    return s;
}

/* A count as documented: a decimal integer 0 .. 2147483647, no sign, blanks around it. */
static long count_of(const char *s)
{
    hippo_fuzz_decimal d;
    if (strpbrk(s, "+-") || !hippo_fuzz_read_decimal(s, BLANKS, false, &d) ||
        hippo_fuzz_decimal_cmp(&d, INT_MAX) > 0)
        return -1;
    long v = 0;
    for (size_t i = 0; i < d.ndigits; i++)
        v = v * 10 + (d.digits[i] - '0');
    return v;
}

/* One child of <set/>; false when it makes the request malformed. */
static bool child_ok(xmlNodePtr c, expected *e)
{
    if (c->ns && !in_rsm(c))
        return false;
    const char *name = (const char *)c->name;
    bool is_max = strcmp(name, "max") == 0, is_index = strcmp(name, "index") == 0;
    bool is_after = strcmp(name, "after") == 0, is_before = strcmp(name, "before") == 0;
    if (!is_max && !is_index && !is_after && !is_before)
        return false;
    if ((is_max && e->max >= 0) || (is_index && e->index >= 0) || (is_after && e->after) ||
        (is_before && e->before))
        return false;
    char *text = text_only(c);
    if (!text)
        return false;
    bool ok = true;
    if (is_max || is_index) {
        long v = count_of(text);
        ok = v >= 0;
        *(is_max ? &e->max : &e->index) = v;
        free(text);
    } else if (strlen(text) > HIPPO_RSM_ID_MAX || (is_after && !text[0])) {
        ok = false;
        free(text);
    } else {
        *(is_after ? &e->after : &e->before) = text;
    }
    return ok;
}

static void oracle(xmlNodePtr query, expected *e)
{
    *e = (expected){.ok = true, .max = -1, .index = -1};
    bool seen = false;
    for (xmlNodePtr c = query->children; c && e->ok; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !in_rsm(c))
            continue;
        if (seen || strcmp((const char *)c->name, "set") != 0) {
            e->ok = false;
            break;
        }
        seen = true;
        for (xmlNodePtr k = c->children; k && e->ok; k = k->next)
            if (k->type == XML_ELEMENT_NODE)
                e->ok = child_ok(k, e);
    }
    if (e->ok && ((e->after && e->before) || (e->index >= 0 && (e->after || e->before))))
        e->ok = false;
}

static void quiet(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = hippo_fuzz_string(data, size);
    xmpp_ctx_t *ctx = hippo_fuzz_ctx();
    xmpp_stanza_t *query = xmpp_stanza_new_from_string(ctx, xml);
    if (!query) {
        free(xml);
        return 0;
    }
    hippo_rsm got;
    const char *why;
    int rc = hippo_rsm_parse(ctx, query, &got, &why);
    HIPPO_FUZZ_CHECK(rc == 0 || rc == -1);
    HIPPO_FUZZ_CHECK(rc == 0 ? why == NULL : why != NULL && why[0] != '\0');
    xmpp_stanza_release(query);

    /* The oracle reads what libstrophe read, without a DTD (no entities of its own). */
    xmlSetStructuredErrorFunc(NULL, quiet);
    xmlDocPtr doc = strstr(xml, "<!DOCTYPE")
                        ? NULL
                        : xmlReadMemory(xml, (int)strlen(xml), "query.xml", "UTF-8",
                                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                            XML_PARSE_NOCDATA);
    free(xml);
    if (!doc)
        return 0;
    expected e;
    oracle(xmlDocGetRootElement(doc), &e);
    HIPPO_FUZZ_CHECK(e.ok == (rc == 0));
    if (e.ok) {
        HIPPO_FUZZ_CHECK(got.max == e.max && got.index == e.index);
        HIPPO_FUZZ_CHECK(got.has_after == (e.after != NULL));
        HIPPO_FUZZ_CHECK(got.has_before == (e.before != NULL));
        HIPPO_FUZZ_CHECK(strcmp(got.after, e.after ? e.after : "") == 0);
        HIPPO_FUZZ_CHECK(strcmp(got.before, e.before ? e.before : "") == 0);
    }
    free(e.after);
    free(e.before);
    xmlFreeDoc(doc);
    return 0;
}
