/* fuzz_room_history.c - the XEP-0045 <history/> request of a MUC join (src/room_history.c):
 * hippo_room_history_request, hippo_room_parse_datetime and hippo_room_history_skip, each
 * compared with an independent oracle written from docs/protocol-rooms.md ("Limits on
 * numbers").
 *
 * Input: fields separated by '|': maxstanzas, maxchars, seconds, since (each "~" or missing
 * = attribute absent), [rooms] max_history, the current time in microseconds, then the
 * sizes of the backlog messages for hippo_room_history_skip. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "room_handlers.h"

#define XML_BLANKS " \t\r\n"
#define DEFAULT_NOW 1700000000000000LL
#define YEAR_10000_USEC 253402300800000000LL /* 10000-01-01T00:00:00Z */
#define MAX_SIZES 32

enum { F_STANZAS, F_CHARS, F_SECONDS, F_SINCE, F_CFG, F_NOW, F_SIZES, F_N };

/* ---- the oracle: the documented rules, written without the code under test */

/* A <history/> count: -1 when absent or not a non-negative number, clamped to LLONG_MAX. */
static long long ref_count(const char *v)
{
    hippo_fuzz_decimal d;
    if (!v || !hippo_fuzz_read_decimal(v, XML_BLANKS, true, &d) || d.sign < 0)
        return -1;
    if (hippo_fuzz_decimal_cmp(&d, LLONG_MAX) > 0)
        return LLONG_MAX;
    long long n = 0;
    for (size_t i = 0; i < d.ndigits; i++)
        n = n * 10 + (d.digits[i] - '0');
    return n;
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian; H. Hinnant's algorithm). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(long long y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* The value of the N digits at S, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* The offset "Z" or "+hh:mm"/"-hh:mm" (hh <= 23, mm <= 59) in seconds, or false. */
static bool ref_offset(const char *p, long long *offset)
{
    if (strcmp(p, "Z") == 0) {
        *offset = 0;
        return true;
    }
    if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || p[3] != ':')
        return false;
    int h = digits(p + 1, 2), m = digits(p + 4, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59)
        return false;
    *offset = (p[0] == '-' ? -1 : 1) * (h * 3600LL + m * 60LL);
    return true;
}

/* YYYY-MM-DDThh:mm:ss[.f+](Z|+hh:mm|-hh:mm) as microseconds since the epoch, or -1. */
static long long ref_datetime(const char *s)
{
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60 || d > days_in_month(y, mo))
        return -1;
    const char *p = s + 19;
    long long usec = 0;
    if (*p == '.') {
        size_t n = strspn(++p, "0123456789");
        if (n == 0)
            return -1;
        for (size_t i = 0; i < 6; i++)
            usec = usec * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    long long offset;
    if (!ref_offset(p, &offset))
        return -1;
    long long secs = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec;
    return (secs - offset) * 1000000LL + usec;
}

static void ref_format(char *buf, size_t size, long long usec)
{
    long long secs = usec / 1000000, y;
    int m, d;
    civil_from_days(secs / 86400, &y, &m, &d);
    long long rem = secs % 86400;
    snprintf(buf, size, "%04lld-%02d-%02d %02lld:%02lld:%02lld.%06lld+00", y, m, d, rem / 3600,
             rem / 60 % 60, rem % 60, usec % 1000000);
}

/* ---- the checks */

static const char *field(char **f, size_t n, int i)
{
    return (size_t)i < n && strcmp(f[i], "~") != 0 ? f[i] : NULL;
}

static long long number_or(const char *v, long long lo, long long hi, long long dflt)
{
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    return v && *v && !*end && n >= lo && n <= hi ? n : dflt;
}

/* <history/> with the attributes the fields give; the caller releases it. */
static xmpp_stanza_t *history_element(char **f, size_t n)
{
    static const char *const names[] = {"maxstanzas", "maxchars", "seconds", "since"};
    xmpp_stanza_t *h = xmpp_stanza_new(hippo_fuzz_ctx());
    HIPPO_FUZZ_CHECK(h && xmpp_stanza_set_name(h, "history") == XMPP_EOK);
    for (int i = F_STANZAS; i <= F_SINCE; i++)
        if (field(f, n, i))
            HIPPO_FUZZ_CHECK(xmpp_stanza_set_attribute(h, names[i], f[i]) == XMPP_EOK);
    return h;
}

static void check_request(char **f, size_t n, int cfg, long long now)
{
    xmpp_stanza_t *h = history_element(f, n);
    hippo_room_history got;
    hippo_room_history_request(h, cfg, now, &got);
    xmpp_stanza_release(h);

    long long stanzas = ref_count(field(f, n, F_STANZAS));
    long long want_stanzas = cfg < 0 ? -1 : cfg;
    if (stanzas >= 0 && (want_stanzas < 0 || stanzas < want_stanzas))
        want_stanzas = stanzas > INT_MAX ? INT_MAX : stanzas;
    HIPPO_FUZZ_CHECK(got.max_stanzas == want_stanzas);
    long long chars = ref_count(field(f, n, F_CHARS));
    HIPPO_FUZZ_CHECK(got.max_chars == (chars > LONG_MAX ? LONG_MAX : chars));

    long long seconds = ref_count(field(f, n, F_SECONDS)), bound = -1;
    if (seconds >= 0 && seconds <= now / 1000000) /* larger: before the epoch, all history */
        bound = now - seconds * 1000000;
    long long at = ref_datetime(field(f, n, F_SINCE));
    HIPPO_FUZZ_CHECK(hippo_room_parse_datetime(field(f, n, F_SINCE)) == at);
    if (at > bound)
        bound = at;
    char want[64] = "";
    if (bound >= 0)
        ref_format(want, sizeof want, bound);
    HIPPO_FUZZ_CHECK(strcmp(got.since, want) == 0);
}

/* A + B, or ULLONG_MAX when that does not fit: above any max_chars (at most LLONG_MAX). */
static unsigned long long saturating_add(unsigned long long a, size_t b)
{
    return b > ULLONG_MAX - a ? ULLONG_MAX : a + b;
}

static void check_skip(char **f, size_t n, long max_chars)
{
    size_t sizes[MAX_SIZES];
    int count = 0;
    for (size_t i = F_SIZES; i < n && count < MAX_SIZES; i++)
        sizes[count++] = (size_t)strtoull(f[i], NULL, 10);
    int skip = hippo_room_history_skip(sizes, count, max_chars);
    HIPPO_FUZZ_CHECK(skip >= 0 && skip <= count);
    if (max_chars < 0) {
        HIPPO_FUZZ_CHECK(skip == 0);
        return;
    }
    unsigned long long kept = 0, max = (unsigned long long)max_chars;
    for (int i = skip; i < count; i++)
        kept = saturating_add(kept, sizes[i]);
    HIPPO_FUZZ_CHECK(kept <= max);                                              /* the rest fits */
    HIPPO_FUZZ_CHECK(skip == 0 || saturating_add(kept, sizes[skip - 1]) > max); /* no more */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = hippo_fuzz_string(data, size);
    char *f[F_SIZES + MAX_SIZES];
    size_t n = hippo_fuzz_split(s, '|', f, sizeof f / sizeof f[0]);
    int cfg = (int)number_or(field(f, n, F_CFG), -1, INT_MAX, -1);
    long long now = number_or(field(f, n, F_NOW), 0, YEAR_10000_USEC - 1, DEFAULT_NOW);
    check_request(f, n, cfg, now);
    long long chars = ref_count(field(f, n, F_CHARS));
    check_skip(f, n, chars > LONG_MAX ? LONG_MAX : (long)chars);
    free(s);
    return 0;
}
