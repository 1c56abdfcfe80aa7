/* room_history.c - what backlog a joiner gets: [rooms] max_history combined with a standard
 * client's <history maxstanzas maxchars seconds since/> request (XEP-0045 7.2.14). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "room_handlers.h"

/* A non-negative decimal attribute, or -1 when absent or malformed. */
static long attr_count(xmpp_stanza_t *el, const char *name)
{
    const char *v = el ? xmpp_stanza_get_attribute(el, name) : NULL;
    if (!v || !*v)
        return -1;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 0 ? -1 : n;
}

/* Reads up to 6 fraction digits after '.' at *P as microseconds; skips any further digits. */
static long read_fraction(const char **p)
{
    long usec = 0;
    int digits = 0;
    if (**p != '.')
        return 0;
    for ((*p)++; isdigit((unsigned char)**p); (*p)++)
        if (digits++ < 6)
            usec = usec * 10 + (**p - '0');
    for (; digits < 6 && digits > 0; digits++)
        usec *= 10;
    return usec;
}

/* "Z" or "+hh:mm"/"-hh:mm" at P: the offset east of UTC in seconds, or -1 on junk. */
static int read_offset(const char *p, long *offset)
{
    if (strcmp(p, "Z") == 0) {
        *offset = 0;
        return 0;
    }
    int h, m, n = 0;
    if ((*p != '+' && *p != '-') || sscanf(p + 1, "%2d:%2d%n", &h, &m, &n) != 2 || p[1 + n] ||
        h > 23 || m > 59)
        return -1;
    *offset = (*p == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    return 0;
}

long long hippo_room_parse_datetime(const char *s)
{
    struct tm tm = {0};
    int n = 0;
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    const char *p = s + n;
    long usec = read_fraction(&p);
    long offset;
    if (read_offset(p, &offset) < 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return ((long long)t - offset) * 1000000LL + usec;
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
    long stanzas = attr_count(history, "maxstanzas");
    if (stanzas >= 0 && (out->max_stanzas < 0 || stanzas < out->max_stanzas))
        out->max_stanzas = (int)(stanzas > 0x7fffffffL ? 0x7fffffffL : stanzas);
    out->max_chars = attr_count(history, "maxchars");
    long long since = -1;
    long seconds = attr_count(history, "seconds");
    if (seconds >= 0)
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
    while (keep < n && total + sizes[n - 1 - keep] <= (size_t)max_chars)
        total += sizes[n - 1 - keep++];
    return n - keep;
}
