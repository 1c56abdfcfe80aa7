/* pg_array.h - PostgreSQL array literals for statement parameters: hippod and hippoctl send
 * lists as one text parameter ("{\"a\",\"b\"}") rather than building SQL. */
#ifndef HIPPO_PG_ARRAY_H
#define HIPPO_PG_ARRAY_H

#include <stddef.h>

/* Bytes hippo_pg_put_quoted() writes for S. */
size_t hippo_pg_quoted_size(const char *s);

/* Writes S at P as a quoted array element ("…" with \ before " and \); returns the end. P
 * must have hippo_pg_quoted_size(S) bytes. */
char *hippo_pg_put_quoted(char *p, const char *s);

/* The text[] literal of the N strings ITEMS, every element quoted, so that any text (empty,
 * NULL-looking, with braces or commas) stays itself. The caller frees the result; NULL when
 * out of memory. */
char *hippo_pg_text_array(const char *const *items, size_t n);

#endif
