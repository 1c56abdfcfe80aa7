/* room_history.c - what backlog a joiner gets: [rooms] max_history combined with a standard
 * client's <history maxstanzas maxchars seconds since/> request (XEP-0045 7.2.14). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "room_handlers.h"

#define XML_BLANKS " \t\r\n"

/* A count attribute (xs:int: blanks around it, an optional sign, decimal digits): its value,
 * clamped to LLONG_MAX when it does not fit 64 bits; -1 when absent, malformed or negative,
 * so that the request is read as if it had no such attribute (docs/protocol-rooms.md). */
static long long attr_count(xmpp_stanza_t *el, const char *name)
{
    const char *v = el ? xmpp_stanza_get_attribute(el, name) : NULL;
    if (!v)
        return -1;
    v += strspn(v, XML_BLANKS);
    const char *digits = *v == '+' || *v == '-' ? v + 1 : v;
    if (*digits < '0' || *digits > '9') /* strtoll would skip more blanks and take "0x" */
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end[strspn(end, XML_BLANKS)] != '\0' || n < 0)
        return -1;
    return errno == ERANGE ? LLONG_MAX : n; /* more than 64 bits: the clamp */
}

/* The value of the N decimal digits at *P (advanced past them), or -1 when one is not a
 * digit: XEP-0082 fields have fixed widths, no blanks and no signs. */
static int read_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static bool read_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* Reads ".f+" at *P as microseconds (digits after the sixth are ignored); 0 without a
 * fraction, -1 for a '.' without digits. */
static long read_fraction(const char **p)
{
    if (!read_char(p, '.'))
        return 0;
    if (**p < '0' || **p > '9')
        return -1;
    long usec = 0;
    int digits = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++)
        if (digits++ < 6)
            usec = usec * 10 + (**p - '0');
    for (; digits < 6; digits++)
        usec *= 10;
    return usec;
}

/* "Z" or "+hh:mm"/"-hh:mm" at P, then the end: the offset east of UTC in seconds, or -1. */
static int read_offset(const char *p, long *offset)
{
    if (strcmp(p, "Z") == 0) {
        *offset = 0;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    char sign = *p++;
    int h = read_digits(&p, 2);
    int m = read_char(&p, ':') ? read_digits(&p, 2) : -1;
    if (h < 0 || h > 23 || m < 0 || m > 59 || *p)
        return -1;
    *offset = (sign == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* "YYYY-MM-DDThh:mm:ss" at *P into *TM (tm_year and tm_mon as written); false unless every
 * field has its digits and is in range (a day that its month lacks included). */
static bool read_date_time(const char **p, struct tm *tm)
{
    tm->tm_year = read_digits(p, 4);
    tm->tm_mon = read_char(p, '-') ? read_digits(p, 2) : -1;
    tm->tm_mday = read_char(p, '-') ? read_digits(p, 2) : -1;
    tm->tm_hour = read_char(p, 'T') ? read_digits(p, 2) : -1;
    tm->tm_min = read_char(p, ':') ? read_digits(p, 2) : -1;
    tm->tm_sec = read_char(p, ':') ? read_digits(p, 2) : -1;
    return tm->tm_year >= 0 && tm->tm_mon >= 1 && tm->tm_mon <= 12 && tm->tm_mday >= 1 &&
           tm->tm_mday <= days_in_month(tm->tm_year, tm->tm_mon) && tm->tm_hour >= 0 &&
           tm->tm_hour <= 23 && tm->tm_min >= 0 && tm->tm_min <= 59 && tm->tm_sec >= 0 &&
           tm->tm_sec <= 60;
}

/* Years 0000-9999 only, so the result (at most 2.6e17 in size) cannot overflow. */
int hippo_room_read_datetime(const char *s, long long *usec_out)
{
    struct tm tm = {0};
    if (!s || !read_date_time(&s, &tm))
        return -1;
    long usec = read_fraction(&s);
    long offset;
    if (usec < 0 || read_offset(s, &offset) < 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *usec_out = ((long long)t - offset) * 1000000LL + usec;
    return 0;
}

long long hippo_room_parse_datetime(const char *s)
{
    long long usec;
    return hippo_room_read_datetime(s, &usec) == 0 ? usec : -1;
}

/* Formats USEC (since the epoch) as a timestamptz literal PostgreSQL reads. */
static void format_since(char *buf, size_t size, long long usec)
{
    time_t secs = (time_t)(usec / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06lld+00", date, usec % 1000000);
}

void hippo_room_history_request(xmpp_stanza_t *history, int cfg_max, long long now_usec,
                                hippo_room_history *out)
{
    *out = (hippo_room_history){.max_stanzas = cfg_max < 0 ? -1 : cfg_max, .max_chars = -1};
    if (!history)
        return;
    long long stanzas = attr_count(history, "maxstanzas");
    if (stanzas >= 0 && (out->max_stanzas < 0 || stanzas < out->max_stanzas))
        out->max_stanzas = (int)(stanzas > INT_MAX ? INT_MAX : stanzas);
    long long chars = attr_count(history, "maxchars");
    out->max_chars = (long)(chars > LONG_MAX ? LONG_MAX : chars);
    long long since = -1;
    long long seconds = attr_count(history, "seconds");
    if (seconds >= 0 && seconds <= now_usec / 1000000) /* more: before the epoch, all history */
        since = now_usec - seconds * 1000000LL;
    long long at = hippo_room_parse_datetime(xmpp_stanza_get_attribute(history, "since"));
    if (at > since) /* both given: the smaller backlog */
        since = at;
    if (since >= 0)
        format_since(out->since, sizeof out->since, since);
}

int hippo_room_history_skip(const size_t *sizes, int n, long max_chars)
{
    if (max_chars < 0)
        return 0;
    size_t total = 0;
    int keep = 0;
    while (keep < n && sizes[n - 1 - keep] <= (size_t)max_chars - total) /* no wrap-around */
        total += sizes[n - 1 - keep++];
    return n - keep;
}
