/* schema_check.h - shared by the payload unit tests: load an XML Schema from $SRCDIR/schema
 * and validate serialized stanzas against it with libxml2. Include after cmocka.h. */
#ifndef HIPPO_TEST_SCHEMA_CHECK_H
#define HIPPO_TEST_SCHEMA_CHECK_H

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>

static xmlSchemaPtr load_schema(const char *name)
{
    const char *src = getenv("SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/schema/%s", src ? src : ".", name);
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(path);
    assert_non_null(pctx);
    xmlSchemaPtr schema = xmlSchemaParse(pctx);
    xmlSchemaFreeParserCtxt(pctx);
    if (!schema)
        fail_msg("cannot load schema %s (set SRCDIR to the source tree)", path);
    return schema;
}

static void quiet(void *arg, xmlErrorPtr error)
{
    (void)arg, (void)error;
}

/* 0 when XML is well-formed and valid against SCHEMA. */
static int validate_text(xmlSchemaPtr schema, const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return -1;
    xmlSchemaValidCtxtPtr vctx = xmlSchemaNewValidCtxt(schema);
    assert_non_null(vctx);
    xmlSchemaSetValidStructuredErrors(vctx, quiet, NULL); /* the expected failures */
    int rc = xmlSchemaValidateDoc(vctx, doc);
    xmlSchemaFreeValidCtxt(vctx);
    xmlFreeDoc(doc);
    return rc;
}

/* The serialized stanza; the caller frees it with xmpp_free(). */
static char *to_text(xmpp_stanza_t *el)
{
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(xmpp_stanza_to_text(el, &buf, &len), XMPP_EOK);
    return buf;
}

static void assert_valid(xmlSchemaPtr schema, xmpp_stanza_t *el)
{
    char *xml = to_text(el);
    int rc = validate_text(schema, xml);
    if (rc != 0)
        fail_msg("not valid (%d) against its schema: %s", rc, xml);
    xmpp_free(xmpp_stanza_get_context(el), xml);
}

#endif
