/* fuzz_util.c - helpers shared by the libFuzzer targets (see fuzz_util.h). */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

void hippo_fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
    abort();
}

char *hippo_fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    HIPPO_FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

size_t hippo_fuzz_split(char *s, char sep, char **fields, size_t max)
{
    size_t n = 0;
    fields[n++] = s;
    for (char *p = s; n < max && (p = strchr(p, sep)) != NULL;) {
        *p++ = '\0';
        fields[n++] = p;
    }
    return n;
}

xmpp_ctx_t *hippo_fuzz_ctx(void)
{
    static xmpp_ctx_t *ctx;
    if (!ctx) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
        HIPPO_FUZZ_CHECK(ctx != NULL);
    }
    return ctx;
}

static void quiet(void *arg, xmlErrorPtr error)
{
    (void)arg, (void)error;
}

bool hippo_fuzz_well_formed(const char *xml, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return false;
    xmlSetStructuredErrorFunc(NULL, quiet);
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "fuzz.xml", "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return false;
    xmlFreeDoc(doc);
    return true;
}

bool hippo_fuzz_read_decimal(const char *s, const char *blanks, bool plus_ok,
                             hippo_fuzz_decimal *out)
{
    s += strspn(s, blanks);
    out->sign = *s == '-' ? -1 : 1;
    if (*s == '-' || (plus_ok && *s == '+'))
        s++;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || s[n + strspn(s + n, blanks)] != '\0')
        return false;
    size_t zeros = strspn(s, "0");
    if (zeros == n) /* all zeros: the number 0, written as its last digit */
        zeros = n - 1;
    out->digits = s + zeros;
    out->ndigits = n - zeros;
    if (out->ndigits == 1 && out->digits[0] == '0')
        out->sign = 1; /* "-0" is 0 */
    return true;
}

int hippo_fuzz_decimal_cmp(const hippo_fuzz_decimal *d, long long v)
{
    char buf[32];
    /* |V| as digits, computed without negating LLONG_MIN */
    unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int vsign = v < 0 ? -1 : 1;
    snprintf(buf, sizeof buf, "%llu", mag);
    if (d->sign != vsign)
        return d->sign < vsign ? -1 : 1;
    size_t vlen = strlen(buf);
    int mag_cmp = d->ndigits != vlen                 ? (d->ndigits < vlen ? -1 : 1)
                  : memcmp(d->digits, buf, vlen) < 0 ? -1
                  : memcmp(d->digits, buf, vlen) > 0 ? 1
                                                     : 0;
    return d->sign * mag_cmp;
}
