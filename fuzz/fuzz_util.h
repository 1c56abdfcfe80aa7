/* fuzz_util.h - what the libFuzzer targets share: invariant checks that abort, splitting
 * an input into fields, one libstrophe context, a quiet libxml2 well-formedness check and a
 * decimal-number oracle independent of strtoll. */
#ifndef HIPPO_FUZZ_UTIL_H
#define HIPPO_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

/* Aborts (a libFuzzer crash, with the input saved) when COND is false. */
#define HIPPO_FUZZ_CHECK(cond)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            hippo_fuzz_fail(#cond, __FILE__, __LINE__);                                            \
    } while (0)

_Noreturn void hippo_fuzz_fail(const char *what, const char *file, int line);

/* DATA[0..SIZE) as a NUL-terminated string (an embedded NUL ends it early). The caller
 * frees it; aborts when out of memory. */
char *hippo_fuzz_string(const uint8_t *data, size_t size);

/* Splits S in place at each SEP into at most MAX fields (the last one keeps any further
 * separators). Returns the number of fields (at least 1). */
size_t hippo_fuzz_split(char *s, char sep, char **fields, size_t max);

/* The targets' libstrophe context, created on first use and kept for the process: libFuzzer
 * gives its entry point no user data, and a context per input would dominate the run time. */
xmpp_ctx_t *hippo_fuzz_ctx(void);

/* True when XML[0..LEN) is a well-formed document (libxml2, nothing loaded, no messages). */
bool hippo_fuzz_well_formed(const char *xml, size_t len);

/* The decimal number in S as the oracles read it: optional BLANKS around it, an optional
 * sign ('+' only when PLUS_OK), at least one digit, nothing else. Returns false when S is
 * not such a number. *SIGN is -1 or 1; *DIGITS points at the first significant digit (or
 * the last '0' of a zero) and *NDIGITS counts the significant digits, so numbers of any
 * length can be compared exactly. */
typedef struct hippo_fuzz_decimal {
    int sign;
    const char *digits;
    size_t ndigits;
} hippo_fuzz_decimal;
bool hippo_fuzz_read_decimal(const char *s, const char *blanks, bool plus_ok,
                             hippo_fuzz_decimal *out);

/* -1, 0 or 1 as D is below, equal to or above V (exact, whatever D's length). */
int hippo_fuzz_decimal_cmp(const hippo_fuzz_decimal *d, long long v);

#endif
