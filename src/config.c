/* config.c - reads and validates the ini configuration (inih); see config.h for the keys. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <libpq-fe.h>

enum {
    CONFIG_FILE_MAX = 1024 * 1024, /* far above any sane config; bounds the read */
    SECRET_FILE_MAX = 64 * 1024,
    CLIENT_NAME_MAX = 32,
    VERSION_PART_MAX = 9, /* digits per version part: compared as unsigned long */
    SHOWN_MAX = 48,       /* longest value quoted back in a message */
};

enum section_id { SEC_COMPONENT, SEC_DATABASE, SEC_HTTP, SEC_LOG, SEC_ROOMS, SEC_PUSH, SEC_N };

static const char *const section_names[SEC_N] = {"component", "database", "http",
                                                 "log",       "rooms",    "push"};

enum key_kind {
    K_HOST,
    K_INT,
    K_SIZE,
    K_RATE,
    K_DOMAIN,
    K_SECRET,
    K_SECRET_FILE,
    K_CONNINFO,
    K_ADDRESS,
    K_LEVEL
};

typedef struct key_def {
    enum section_id section;
    const char *name;
    enum key_kind kind;
    size_t offset; /* of the field in hippo_config (unused for K_SECRET_FILE) */
    long min, max; /* for K_INT and K_SIZE */
    bool required;
} key_def;

#define FIELD(f) offsetof(hippo_config, f)

static const key_def keys[] = {
    {SEC_COMPONENT, "host", K_HOST, FIELD(component_host), 0, 0, true},
    {SEC_COMPONENT, "port", K_INT, FIELD(component_port), 1, 65535, false},
    {SEC_COMPONENT, "domain", K_DOMAIN, FIELD(component_domain), 0, 0, true},
    {SEC_COMPONENT, "secret", K_SECRET, FIELD(component_secret), 0, 0, false},
    {SEC_COMPONENT, "secret_file", K_SECRET_FILE, 0, 0, 0, false},
    {SEC_COMPONENT, "reconnect_min_ms", K_INT, FIELD(reconnect_min_ms), 1, 3600000, false},
    {SEC_COMPONENT, "reconnect_max_ms", K_INT, FIELD(reconnect_max_ms), 1, 3600000, false},
    {SEC_COMPONENT, "standby_retry_ms", K_INT, FIELD(standby_retry_ms), 100, 60000, false},
    {SEC_COMPONENT, "stop_timeout_ms", K_INT, FIELD(stop_timeout_ms), 0, 60000, false},
    {SEC_DATABASE, "conninfo", K_CONNINFO, FIELD(database_conninfo), 0, 0, true},
    {SEC_DATABASE, "connections", K_INT, FIELD(database_connections), 1, 16, false},
    {SEC_DATABASE, "max_queue_ms", K_INT, FIELD(database_max_queue_ms), 10, 60000, false},
    {SEC_HTTP, "address", K_ADDRESS, FIELD(http_address), 0, 0, false},
    {SEC_HTTP, "port", K_INT, FIELD(http_port), 0, 65535, false},
    {SEC_LOG, "level", K_LEVEL, FIELD(log_level), 0, 0, false},
    {SEC_ROOMS, "max_body_bytes", K_SIZE, FIELD(rooms_max_body_bytes), 1, 1048576, false},
    {SEC_ROOMS, "messages_per_second", K_RATE, FIELD(rooms_messages_per_second), 0, 0, false},
    {SEC_ROOMS, "message_burst", K_INT, FIELD(rooms_message_burst), 1, INT_MAX, false},
    {SEC_ROOMS, "max_history", K_INT, FIELD(rooms_max_history), -1, INT_MAX, false},
    {SEC_ROOMS, "max_occupants", K_INT, FIELD(rooms_max_occupants), 1, INT_MAX, false},
    {SEC_ROOMS, "batch_max", K_INT, FIELD(rooms_batch_max), 1, 4096, false},
    {SEC_PUSH, "live_post_interval_ms", K_INT, FIELD(push_live_post_interval_ms), 0, 3600000,
     false},
};

enum { N_KEYS = sizeof keys / sizeof keys[0] };

enum client_key { CK_MINIMUM, CK_CURRENT, CK_DOWNLOAD, CK_N };
static const char *const client_keys[CK_N] = {"minimum", "current", "download"};

typedef struct client_lines {
    int header;
    int key[CK_N];
} client_lines;

/* Parse state, shared by the line reader and the key handler. Line numbers are 0 = unset. */
typedef struct parser {
    const char *path;
    enum hippo_config_mode mode;
    hippo_config *cfg;
    char *err;
    size_t errlen;
    bool failed;

    const char *data; /* whole file */
    size_t len, pos;
    int lineno;       /* the line inih is working on */
    char section[64]; /* current section, for syntax errors */

    int section_line[SEC_N];
    int key_line[N_KEYS];
    client_lines *client_lines; /* parallel to cfg->clients */
    char *secret_file;
} parser;

/* A value made safe to quote back: printable, bounded. Lives for the full expression. */
typedef struct shown {
    char s[SHOWN_MAX + 4];
} shown;

static shown show(const char *v)
{
    shown out;
    size_t i = 0;
    for (; v[i] && i < SHOWN_MAX; i++)
        out.s[i] = isprint((unsigned char)v[i]) ? v[i] : '?';
    if (v[i]) {
        memcpy(out.s + i, "...", 3);
        i += 3;
    }
    out.s[i] = '\0';
    return out;
}

/* A conninfo keyword libpq quotes back or a secret_file name may hold any byte: the message
 * stays one log line (no terminal escapes either) with '?' for each control byte. */
static void replace_controls(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* Records the first error only: "FILE:LINE: [section] key: reason" (line 0 = no line). */
__attribute__((format(printf, 5, 6))) static int fail(parser *p, int line, const char *section,
                                                      const char *key, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    if (!p->err || p->errlen == 0)
        return -1;

    char reason[512], where[48] = "", what[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(where, sizeof where, ":%d", line);
    if (section && key)
        snprintf(what, sizeof what, "[%s] %s: ", show(section).s, show(key).s);
    else if (section)
        snprintf(what, sizeof what, "[%s]: ", show(section).s);
    else if (key)
        snprintf(what, sizeof what, "%s: ", show(key).s);
    snprintf(p->err, p->errlen, "%s%s: %s%s", p->path, where, what, reason);
    replace_controls(p->err);
    return -1;
}

static int fail_oom(parser *p)
{
    return fail(p, 0, NULL, NULL, "out of memory");
}

/* ---- small validators ---- */

/* Strict decimal integer: optional '-', digits, nothing else, in [MIN, MAX]. */
static int parse_long(const char *v, long min, long max, long *out, const char **why)
{
    const char *d = *v == '-' ? v + 1 : v;
    char *end;
    if (!isdigit((unsigned char)*d)) {
        *why = "is not an integer";
        return -1;
    }
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*end != '\0') {
        *why = "is not an integer";
        return -1;
    }
    if (errno == ERANGE || n < min || n > max) {
        *why = "is out of range";
        return -1;
    }
    *out = n;
    return 0;
}

/* Plain positive decimal ("10", "0.5"): strtod alone would take hex, "inf" and "nan". */
static int parse_rate(const char *v, double *out)
{
    size_t i = strspn(v, "0123456789");
    if (i == 0)
        return -1;
    if (v[i] == '.') {
        size_t frac = strspn(v + i + 1, "0123456789");
        if (frac == 0)
            return -1;
        i += 1 + frac;
    }
    if (v[i] != '\0')
        return -1;
    double d = strtod(v, NULL);
    if (!(d > 0.0 && d <= 1e6))
        return -1;
    *out = d;
    return 0;
}

/* RFC 1035 style, lowercase only: it is compared verbatim with stanza addresses. */
static const char *domain_problem(const char *v)
{
    size_t len = strlen(v);
    if (len > 253)
        return "is longer than 253 characters";
    const char *label = v;
    for (const char *c = v;; c++) {
        if (*c == '.' || *c == '\0') {
            size_t n = (size_t)(c - label);
            if (n == 0)
                return "has an empty label";
            if (n > 63)
                return "has a label longer than 63 characters";
            if (label[0] == '-' || c[-1] == '-')
                return "has a label that starts or ends with '-'";
            if (*c == '\0')
                return NULL;
            label = c + 1;
        } else if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-')) {
            return "may only hold lowercase letters, digits, '-' and '.'";
        }
    }
}

static bool is_host(const char *v)
{
    if (strlen(v) > 253)
        return false;
    for (const char *c = v; *c; c++) {
        if (!isgraph((unsigned char)*c) || *c == '/' || *c == '@')
            return false;
    }
    return true;
}

static bool is_numeric_address(const char *v)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
}

/* Dotted numbers: "1.1.60". */
static bool is_version(const char *v)
{
    for (const char *c = v;;) {
        size_t n = strspn(c, "0123456789");
        if (n == 0 || n > VERSION_PART_MAX)
            return false;
        c += n;
        if (*c == '\0')
            return true;
        if (*c++ != '.')
            return false;
    }
}

/* Compares two valid versions part by part; missing parts count as 0. */
static int version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        char *end;
        unsigned long x = 0, y = 0;
        if (*a) {
            x = strtoul(a, &end, 10);
            a = end + (*end == '.');
        }
        if (*b) {
            y = strtoul(b, &end, 10);
            b = end + (*end == '.');
        }
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

static bool is_download_url(const char *v)
{
    size_t scheme = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0 || v[scheme] == '\0' || v[scheme] == '/')
        return false;
    for (const char *c = v; *c; c++) {
        if (!isgraph((unsigned char)*c))
            return false;
    }
    return true;
}

/* Is NEEDLE at KEY position in CONNINFO: token start, then optional blanks and '='? */
static bool is_conninfo_keyword(const char *conninfo, const char *needle, size_t n)
{
    for (const char *at = conninfo; (at = strstr(at, needle)) != NULL; at++) {
        bool starts =
            at == conninfo || isspace((unsigned char)at[-1]) || at[-1] == '?' || at[-1] == '&';
        const char *after = at + n;
        while (*after == ' ' || *after == '\t')
            after++;
        if (starts && *after == '=')
            return true;
    }
    return false;
}

/*
 * libpq quotes pieces of the conninfo in its messages, and a piece may be a password (e.g.
 * 'missing "=" after "s3cret"'). Keep a quoted piece only if it is a keyword of CONNINFO or
 * holds no letter or digit; replace the others with "...".
 */
static void redact_libpq_message(const char *msg, const char *conninfo, char *out, size_t size)
{
    size_t o = 0;
    for (const char *m = msg; *m && o + 1 < size;) {
        if (*m != '"') {
            out[o++] = (*m == '\n' || *m == '\r') ? ' ' : *m;
            m++;
            continue;
        }
        const char *close = strchr(m + 1, '"');
        size_t n = close ? (size_t)(close - m - 1) : strlen(m + 1);
        char piece[256];
        bool keep = n < sizeof piece;
        if (keep) {
            memcpy(piece, m + 1, n);
            piece[n] = '\0';
            bool alnum = false;
            for (size_t i = 0; i < n; i++)
                alnum = alnum || isalnum((unsigned char)piece[i]);
            keep = !alnum || (n > 0 && is_conninfo_keyword(conninfo, piece, n));
        }
        int w = snprintf(out + o, size - o, "\"%.*s\"", keep ? (int)n : 3, keep ? m + 1 : "...");
        o += w < 0 ? 0 : (size_t)w;
        o = o < size ? o : size - 1;
        m = close ? close + 1 : m + 1 + n;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* ---- file helpers ---- */

/* Moves BUF into a larger allocation, zeroing the old one (it may hold a secret). */
static char *grow(char *buf, size_t len, size_t cap)
{
    char *bigger = malloc(cap);
    if (bigger)
        memcpy(bigger, buf, len);
    explicit_bzero(buf, len);
    free(buf);
    return bigger;
}

/* Reads a whole file of at most MAX bytes. Returns a malloc'd, NUL-terminated copy (caller
 * frees; it may hold a secret: explicit_bzero first) and its length, or NULL with errno set
 * (EFBIG if larger than MAX). Pipes work too, e.g. -c <(generate-config). */
static char *read_file(const char *path, size_t max, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    size_t cap = 4096, len = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size < max)
        cap = (size_t)st.st_size + 2; /* +1 to see EOF without growing, +1 for the NUL */
    char *buf = malloc(cap);
    int e = buf ? 0 : ENOMEM;
    while (buf && !e) {
        if (len + 1 == cap)
            buf = grow(buf, len, cap *= 2);
        if (!buf) {
            e = ENOMEM;
            break;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : 0;
            break;
        }
        len += (size_t)n;
        if (len > max)
            e = EFBIG;
    }
    close(fd);
    if (e && buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    if (e) {
        errno = e;
        return NULL;
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* Joins DIR (DIRLEN bytes) and NAME. Returns a malloc'd path (caller frees) or NULL. */
static char *path_join(const char *dir, size_t dirlen, const char *name)
{
    size_t n = dirlen + 1 + strlen(name) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s/%s", (int)dirlen, dir, name);
    return out;
}

/* Reads a secret from PATH, stripping trailing line ends. Returns a malloc'd string (caller
 * zeroes and frees) or NULL with a reason in WHY. */
static char *read_secret(const char *path, const char **why)
{
    size_t len;
    char *s = read_file(path, SECRET_FILE_MAX, &len);
    if (!s) {
        *why = errno == EFBIG ? "is too large" : strerror(errno);
        return NULL;
    }
    if (strlen(s) != len) {
        *why = "contains a NUL byte";
    } else {
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
            s[--len] = '\0';
        if (len > 0)
            return s;
        *why = "is empty";
    }
    explicit_bzero(s, len);
    free(s);
    return NULL;
}

/* ---- sections ---- */

static int find_section(const char *name)
{
    for (int i = 0; i < SEC_N; i++) {
        if (strcmp(section_names[i], name) == 0)
            return i;
    }
    return -1;
}

/* Parses `client "NAME"`; returns a pointer to NAME and its length in *N, or NULL. */
static const char *client_name(const char *section, size_t *n)
{
    if (strncmp(section, "client", 6) != 0 || (section[6] != ' ' && section[6] != '\t'))
        return NULL;
    const char *q = section + 6 + strspn(section + 6, " \t");
    if (*q != '"')
        return NULL;
    size_t len = strspn(q + 1, "abcdefghijklmnopqrstuvwxyz0123456789_-");
    if (len == 0 || len > CLIENT_NAME_MAX || strcmp(q + 1 + len, "\"") != 0)
        return NULL;
    *n = len;
    return q + 1;
}

static int find_client(const hippo_config *cfg, const char *name, size_t n)
{
    for (size_t i = 0; i < cfg->n_clients; i++) {
        const char *have = cfg->clients[i].platform;
        if (strlen(have) == n && memcmp(have, name, n) == 0)
            return (int)i;
    }
    return -1;
}

static int add_client(parser *p, const char *name, size_t n)
{
    hippo_config *cfg = p->cfg;
    size_t count = cfg->n_clients + 1;
    hippo_client_platform *clients = realloc(cfg->clients, count * sizeof *clients);
    if (!clients)
        return fail_oom(p);
    cfg->clients = clients;
    client_lines *lines = realloc(p->client_lines, count * sizeof *lines);
    if (!lines)
        return fail_oom(p);
    p->client_lines = lines;
    memset(&clients[count - 1], 0, sizeof clients[0]);
    memset(&lines[count - 1], 0, sizeof lines[0]);
    clients[count - 1].platform = strndup(name, n);
    if (!clients[count - 1].platform)
        return fail_oom(p);
    lines[count - 1].header = p->lineno;
    cfg->n_clients = count;
    return 0;
}

/* A section header: checked here because inih tells the handler neither about sections nor
 * their lines, and a section without keys would otherwise go unnoticed. */
static int begin_section(parser *p, const char *name)
{
    snprintf(p->section, sizeof p->section, "%s", name);
    int id = find_section(name);
    if (id >= 0) {
        if (p->section_line[id])
            return fail(p, p->lineno, name, NULL, "duplicate section (first at line %d)",
                        p->section_line[id]);
        p->section_line[id] = p->lineno;
        return 0;
    }
    size_t n;
    const char *client = client_name(name, &n);
    if (client) {
        int c = find_client(p->cfg, client, n);
        if (c >= 0)
            return fail(p, p->lineno, name, NULL, "duplicate section (first at line %d)",
                        p->client_lines[c].header);
        return add_client(p, client, n);
    }
    if (strncmp(name, "client", 6) == 0)
        return fail(p, p->lineno, name, NULL,
                    "expected [client \"NAME\"], NAME made of a-z, 0-9, '_' and '-' (at most %d)",
                    CLIENT_NAME_MAX);
    return fail(p, p->lineno, name, NULL,
                "unknown section (known: component, database, http, log, rooms, push, "
                "client \"NAME\")");
}

/* inih's rule for where a name or value ends: at one of CHARS, or at ';' after whitespace
 * (an inline comment). */
static char *find_chars_or_comment(char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

static bool is_blank_or_comment(const char *s)
{
    return *s == '\0' || *s == ';' || *s == '#';
}

/* Checks one line the way inih will read it, so every syntax error gets its line and a
 * reason (inih itself only returns a line number). */
static int check_line(parser *p, char *line)
{
    static const char blanks[] = " \t\r\n\v\f";
    if (p->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3; /* inih skips a UTF-8 BOM */
    char *s = line + strspn(line, blanks);
    const char *section = p->section[0] ? p->section : NULL;
    if (is_blank_or_comment(s))
        return 0;
    if (s != line) /* inih would glue it to the previous value */
        return fail(p, p->lineno, section, NULL,
                    "line starts with whitespace (continuation lines are not supported)");
    if (*s == '[') {
        char *end = find_chars_or_comment(s + 1, "]");
        if (*end != ']')
            return fail(p, p->lineno, NULL, NULL, "section header without closing ']'");
        if (!is_blank_or_comment(end + 1 + strspn(end + 1, blanks)))
            return fail(p, p->lineno, NULL, NULL, "unexpected text after section header");
        *end = '\0';
        int rc = begin_section(p, s + 1);
        *end = ']';
        return rc;
    }
    char *sep = find_chars_or_comment(s, "=:");
    if (*sep != '=' && *sep != ':')
        return fail(p, p->lineno, section, NULL, "expected \"key = value\" or \"[section]\"");
    if (sep == s)
        return fail(p, p->lineno, section, NULL, "missing key name before '%c'", *sep);
    return 0;
}

/* inih's reader: hands out exactly one line per call, so our count is inih's line number,
 * and ends the parse (returns NULL) at the first error. */
static char *next_line(char *str, int num, void *stream)
{
    parser *p = stream;
    if (p->failed || p->pos >= p->len)
        return NULL;
    const char *start = p->data + p->pos;
    const char *nl = memchr(start, '\n', p->len - p->pos);
    size_t n = nl ? (size_t)(nl - start) + 1 : p->len - p->pos;
    size_t content = nl ? n - 1 : n;
    p->lineno++;
    p->pos += n;
    if (num < 3 || content > (size_t)num - 2) { /* inih would split it silently */
        fail(p, p->lineno, NULL, NULL, "line is longer than %d bytes", num - 2);
        return NULL;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    if (strlen(str) != n)
        fail(p, p->lineno, NULL, NULL, "line contains a NUL byte");
    else
        check_line(p, str);
    return p->failed ? NULL : str;
}

/* ---- keys ---- */

static int key_index(enum section_id section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].section == section && strcmp(keys[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static int store_string(parser *p, char **field, const char *v)
{
    free(*field);
    *field = strdup(v);
    return *field ? 0 : fail_oom(p);
}

static int set_client_key(parser *p, const char *section, const char *key, const char *v)
{
    size_t n;
    const char *name = client_name(section, &n);
    int c = name ? find_client(p->cfg, name, n) : -1;
    int k = 0;
    while (k < CK_N && strcmp(client_keys[k], key) != 0)
        k++;
    if (c < 0) /* cannot happen: check_line vetted every header */
        return fail(p, p->lineno, section, key, "unknown section");
    if (k == CK_N)
        return fail(p, p->lineno, section, key, "unknown key (known: minimum, current, download)");
    client_lines *lines = &p->client_lines[c];
    if (lines->key[k])
        return fail(p, p->lineno, section, key, "duplicate key (first set at line %d)",
                    lines->key[k]);
    lines->key[k] = p->lineno;
    if (*v == '\0')
        return fail(p, p->lineno, section, key, "empty value");
    if (k == CK_DOWNLOAD && !is_download_url(v))
        return fail(p, p->lineno, section, key, "\"%s\" is not an http:// or https:// URL",
                    show(v).s);
    if (k != CK_DOWNLOAD && !is_version(v))
        return fail(p, p->lineno, section, key,
                    "\"%s\" is not a version (dotted numbers, e.g. 1.1.60)", show(v).s);
    hippo_client_platform *cl = &p->cfg->clients[c];
    char **field = k == CK_MINIMUM ? &cl->minimum : k == CK_CURRENT ? &cl->current : &cl->download;
    return store_string(p, field, v);
}

static int set_number(parser *p, const key_def *def, const char *sec, const char *v)
{
    long n;
    const char *why = "is invalid";
    char *field = (char *)p->cfg + def->offset;
    if (parse_long(v, def->min, def->max, &n, &why) != 0)
        return fail(p, p->lineno, sec, def->name, "\"%s\" %s (%ld..%ld)", show(v).s, why, def->min,
                    def->max);
    if (def->kind == K_SIZE) {
        size_t z = (size_t)n;
        memcpy(field, &z, sizeof z);
    } else {
        int i = (int)n;
        memcpy(field, &i, sizeof i);
    }
    return 0;
}

static int set_conninfo(parser *p, const key_def *def, const char *sec, const char *v)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(v, &msg);
    if (!opts) {
        char clean[512];
        redact_libpq_message(msg ? msg : "out of memory", v, clean, sizeof clean);
        PQfreemem(msg);
        return fail(p, p->lineno, sec, def->name, "invalid libpq conninfo: %s", clean);
    }
    PQconninfoFree(opts);
    return store_string(p, (char **)((char *)p->cfg + def->offset), v);
}

static int set_value(parser *p, const key_def *def, const char *sec, const char *v)
{
    char **str = (char **)((char *)p->cfg + def->offset);
    const char *why = "is invalid";
    if (*v == '\0' && def->kind != K_ADDRESS)
        return fail(p, p->lineno, sec, def->name, "empty value");
    switch (def->kind) {
    case K_INT:
    case K_SIZE:
        return set_number(p, def, sec, v);
    case K_RATE:
        if (parse_rate(v, &p->cfg->rooms_messages_per_second) != 0)
            return fail(p, p->lineno, sec, def->name,
                        "\"%s\" is not a decimal number greater than 0 and at most 1000000",
                        show(v).s);
        return 0;
    case K_HOST:
        if (!is_host(v))
            return fail(p, p->lineno, sec, def->name, "\"%s\" is not a host name or address",
                        show(v).s);
        return store_string(p, str, v);
    case K_DOMAIN:
        if ((why = domain_problem(v)) != NULL)
            return fail(p, p->lineno, sec, def->name, "\"%s\" %s", show(v).s, why);
        return store_string(p, str, v);
    case K_SECRET: /* never quoted back */
        return store_string(p, str, v);
    case K_SECRET_FILE:
        return store_string(p, &p->secret_file, v);
    case K_CONNINFO: /* never quoted back either: it may hold a password */
        return set_conninfo(p, def, sec, v);
    case K_ADDRESS:
        if (*v && !is_numeric_address(v))
            return fail(p, p->lineno, sec, def->name,
                        "\"%s\" is not a numeric IPv4 or IPv6 address", show(v).s);
        return store_string(p, str, v);
    case K_LEVEL:
        if (hippo_log_level_parse(v, &p->cfg->log_level) != 0)
            return fail(p, p->lineno, sec, def->name,
                        "\"%s\" is not one of error, warning, notice, info, debug", show(v).s);
        return 0;
    }
    return 0;
}

static int set_key(parser *p, const char *section, const char *key, const char *value)
{
    if (section[0] == '\0')
        return fail(p, p->lineno, NULL, key, "key outside of any section");
    int id = find_section(section);
    if (id < 0)
        return set_client_key(p, section, key, value);
    int k = key_index((enum section_id)id, key);
    if (k < 0)
        return fail(p, p->lineno, section, key, "unknown key");
    if (p->key_line[k])
        return fail(p, p->lineno, section, key, "duplicate key (first set at line %d)",
                    p->key_line[k]);
    p->key_line[k] = p->lineno;
    return set_value(p, &keys[k], section, value);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parser *p = user;
    return !p->failed && set_key(p, section, name, value) == 0;
}

/* ---- checks after the whole file ---- */

static int component_line(const parser *p, const char *key)
{
    return p->key_line[key_index(SEC_COMPONENT, key)];
}

static int check_clients(parser *p)
{
    for (size_t c = 0; c < p->cfg->n_clients; c++) {
        const hippo_client_platform *cl = &p->cfg->clients[c];
        const client_lines *lines = &p->client_lines[c];
        char section[64];
        snprintf(section, sizeof section, "client \"%s\"", cl->platform);
        for (int k = 0; k < CK_N; k++) {
            if (!lines->key[k])
                return fail(p, lines->header, section, client_keys[k], "required key missing");
        }
        if (version_cmp(cl->minimum, cl->current) > 0)
            return fail(p, lines->key[CK_MINIMUM], section, "minimum",
                        "%s is newer than current (%s)", show(cl->minimum).s, show(cl->current).s);
    }
    return 0;
}

static int check_required(parser *p)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        bool needed = p->mode != HIPPO_CONFIG_DATABASE || keys[i].section == SEC_DATABASE;
        if (keys[i].required && needed && !p->key_line[i])
            return fail(p, p->section_line[keys[i].section], section_names[keys[i].section],
                        keys[i].name, "required key missing");
    }
    if (check_clients(p) != 0)
        return -1;
    const hippo_config *cfg = p->cfg;
    if (cfg->reconnect_max_ms < cfg->reconnect_min_ms) {
        int line = component_line(p, "reconnect_max_ms");
        return fail(p, line ? line : component_line(p, "reconnect_min_ms"), "component",
                    "reconnect_max_ms", "%d is less than reconnect_min_ms (%d)",
                    cfg->reconnect_max_ms, cfg->reconnect_min_ms);
    }
    return 0;
}

/* secret_file relative to $CREDENTIALS_DIRECTORY (systemd LoadCredential=) if set, else to
 * the config file's directory. Returns a malloc'd path (caller frees) or NULL. */
static char *secret_path(const parser *p, const char *creds)
{
    const char *name = p->secret_file;
    if (name[0] == '/')
        return strdup(name);
    if (creds)
        return path_join(creds, strlen(creds), name);
    const char *slash = strrchr(p->path, '/');
    if (!slash)
        return path_join(".", 1, name);
    return path_join(p->path, slash == p->path ? 1 : (size_t)(slash - p->path), name);
}

static int load_secret(parser *p, const char *path, int line, const char *key)
{
    const char *why = "is invalid";
    p->cfg->component_secret = read_secret(path, &why);
    if (!p->cfg->component_secret)
        return fail(p, line, "component", key, "secret file %s %s", path, why);
    return 0;
}

static int resolve_secret(parser *p)
{
    int inline_line = component_line(p, "secret"), file_line = component_line(p, "secret_file");
    int header = p->section_line[SEC_COMPONENT];
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    creds = creds && *creds ? creds : NULL;
    if (inline_line && file_line) {
        bool file_last = file_line > inline_line;
        return fail(p, file_last ? file_line : inline_line, "component",
                    file_last ? "secret_file" : "secret",
                    "secret and secret_file are both set (use one)");
    }
    if (inline_line || p->mode == HIPPO_CONFIG_DATABASE)
        return 0; /* --migrate needs no secret, and whoever runs it may not be able to read it */

    char *path = NULL;
    int rc;
    struct stat st;
    if (file_line) {
        path = secret_path(p, creds);
        rc = path ? load_secret(p, path, file_line, "secret_file") : fail_oom(p);
    } else if (creds && (path = path_join(creds, strlen(creds), HIPPO_SECRET_CREDENTIAL)) &&
               stat(path, &st) == 0) {
        rc = load_secret(p, path, header, "secret");
    } else if (!creds && p->mode == HIPPO_CONFIG_CHECK) {
        p->cfg->secret_from_credential = true; /* only systemd can show whether it is there */
        rc = 0;
    } else {
        rc = fail(p, header, "component", "secret",
                  "required key missing (set secret or secret_file, or pass the credential "
                  "\"" HIPPO_SECRET_CREDENTIAL "\" with LoadCredential=)");
    }
    free(path);
    return rc;
}

static int set_defaults(parser *p, const char *path)
{
    hippo_config *cfg = p->cfg;
    cfg->component_port = 5347;
    cfg->reconnect_min_ms = 250;
    cfg->reconnect_max_ms = 30000;
    cfg->standby_retry_ms = 1000;
    cfg->stop_timeout_ms = 5000;
    cfg->database_connections = 1;
    cfg->database_max_queue_ms = 500;
    cfg->http_port = 8347;
    cfg->log_level = HIPPO_LOG_INFO;
    cfg->rooms_max_body_bytes = 8192;
    cfg->rooms_messages_per_second = 10.0;
    cfg->rooms_message_burst = 30;
    cfg->rooms_max_history = -1;
    cfg->rooms_max_occupants = 1000;
    cfg->rooms_batch_max = 256;
    cfg->push_live_post_interval_ms = 1000;
    cfg->path = strdup(path);
    cfg->http_address = strdup("127.0.0.1");
    return cfg->path && cfg->http_address ? 0 : fail_oom(p);
}

static int parse_file(parser *p)
{
    size_t len = 0;
    char *data = read_file(p->path, CONFIG_FILE_MAX, &len);
    if (!data)
        return fail(p, 0, NULL, NULL, "cannot open: %s", strerror(errno));
    p->data = data;
    p->len = len;
    int rc = ini_parse_stream(next_line, p, on_key, p);
    if (rc == -2)
        fail_oom(p);
    else if (rc > 0) /* only if check_line missed a syntax error: fail() keeps the first */
        fail(p, rc, NULL, NULL, "syntax error");
    explicit_bzero(data, len); /* holds the secret, if inline */
    free(data);
    p->data = NULL;
    return p->failed ? -1 : 0;
}

int hippo_config_load(const char *path, hippo_config *out, char *err, size_t errlen)
{
    return hippo_config_load_for(path, HIPPO_CONFIG_RUN, out, err, errlen);
}

int hippo_config_load_for(const char *path, enum hippo_config_mode mode, hippo_config *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    parser p = {.path = path, .mode = mode, .cfg = out, .err = err, .errlen = errlen};
    int rc = set_defaults(&p, path);
    rc = rc ? rc : parse_file(&p);
    rc = rc ? rc : check_required(&p);
    rc = rc ? rc : resolve_secret(&p);
    if (rc == 0 && out->http_address[0] == '\0')
        out->http_port = 0; /* an empty address disables the listener, as port 0 does */
    free(p.client_lines);
    free(p.secret_file);
    if (rc != 0) {
        hippo_config_free(out);
        return -1;
    }
    return 0;
}

static void free_sensitive(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void hippo_config_free(hippo_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->component_host);
    free(cfg->component_domain);
    free_sensitive(cfg->component_secret);
    free_sensitive(cfg->database_conninfo); /* may hold a password */
    free(cfg->http_address);
    for (size_t i = 0; i < cfg->n_clients; i++) {
        free(cfg->clients[i].platform);
        free(cfg->clients[i].minimum);
        free(cfg->clients[i].current);
        free(cfg->clients[i].download);
    }
    free(cfg->clients);
    memset(cfg, 0, sizeof *cfg);
}

const hippo_client_platform *hippo_config_client(const hippo_config *cfg, const char *platform)
{
    for (size_t i = 0; cfg && platform && i < cfg->n_clients; i++) {
        if (strcmp(cfg->clients[i].platform, platform) == 0)
            return &cfg->clients[i];
    }
    return NULL;
}
