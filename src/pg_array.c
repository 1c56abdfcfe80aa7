/* pg_array.c - PostgreSQL array literals. */
#include "pg_array.h"

#include <stdlib.h>
#include <string.h>

size_t hippo_pg_quoted_size(const char *s)
{
    size_t n = 2;
    for (; *s; s++)
        n += (*s == '"' || *s == '\\') ? 2 : 1;
    return n;
}

char *hippo_pg_put_quoted(char *p, const char *s)
{
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

char *hippo_pg_text_array(const char *const *items, size_t n)
{
    size_t len = 3; /* braces and the terminator */
    for (size_t i = 0; i < n; i++)
        len += hippo_pg_quoted_size(items[i]) + 1;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        p = hippo_pg_put_quoted(p, items[i]);
    }
    *p++ = '}';
    *p = '\0';
    return out;
}
