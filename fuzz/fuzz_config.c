/* fuzz_config.c - the configuration loader (src/config.c). The input is written to a file
 * in a private directory and loaded. A refusal must be one printable line
 * "FILE[:LINE]: [section] key: reason" naming the file, a line that exists in the input (when
 * the problem is on a line) and a reason; an acceptance must give a configuration within
 * every documented bound (docs/configuration.md).
 *
 * secret_file names a file to read: inputs that set it with a '/' in them are skipped, so
 * the loader only ever opens files in the private directory (never a FIFO or a device that
 * would block the run). That directory is also $CREDENTIALS_DIRECTORY, with a credential. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_util.h"

typedef struct sandbox {
    char dir[64];
    char path[96];
} sandbox;

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    HIPPO_FUZZ_CHECK(fd >= 0);
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        HIPPO_FUZZ_CHECK(n > 0 || (n < 0 && errno == EINTR));
        done += n > 0 ? (size_t)n : 0;
    }
    close(fd);
}

static sandbox box; /* libFuzzer's entry point has no user data: one per process */

static void remove_sandbox(void)
{
    char cred[128];
    snprintf(cred, sizeof cred, "%s/hippod-secret", box.dir);
    unlink(cred);
    unlink(box.path);
    rmdir(box.dir);
}

/* The private directory, made on first use and removed at exit; in /dev/shm when there is
 * one, so that a run does not write to disk. */
static const sandbox *the_sandbox(void)
{
    if (box.dir[0])
        return &box;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(box.dir, sizeof box.dir, "%s/hippo-fuzz-config-XXXXXX", base);
    HIPPO_FUZZ_CHECK(mkdtemp(box.dir) != NULL);
    snprintf(box.path, sizeof box.path, "%s/hippod.ini", box.dir);
    char cred[128];
    snprintf(cred, sizeof cred, "%s/hippod-secret", box.dir);
    write_file(cred, (const uint8_t *)"credential\n", 11);
    HIPPO_FUZZ_CHECK(setenv("CREDENTIALS_DIRECTORY", box.dir, 1) == 0);
    atexit(remove_sandbox);
    return &box;
}

static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n' && i + 1 < size;
    return n;
}

static void check_refusal(const char *err, const char *path, size_t lines)
{
    size_t plen = strlen(path);
    HIPPO_FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
    const char *p = err + plen + 1;
    if (*p >= '0' && *p <= '9') {
        char *end;
        long line = strtol(p, &end, 10);
        HIPPO_FUZZ_CHECK(line >= 1 && (size_t)line <= lines && *end == ':');
        p = end + 1;
    }
    HIPPO_FUZZ_CHECK(*p == ' ' && p[1] != '\0' && p[1] != ' '); /* a reason follows */
    for (const unsigned char *c = (const unsigned char *)err; *c; c++)
        HIPPO_FUZZ_CHECK(*c >= 0x20 && *c != 0x7f); /* one log line */
}

static bool within(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

static bool dotted_le(const char *a, const char *b)
{
    while (*a || *b) {
        char *end;
        unsigned long x = *a ? strtoul(a, &end, 10) : 0, y;
        a = *a ? end + (*end == '.') : a;
        y = *b ? strtoul(b, &end, 10) : 0;
        b = *b ? end + (*end == '.') : b;
        if (x != y)
            return x < y;
    }
    return true;
}

static void check_accepted(const hippo_config *c, const char *path)
{
    HIPPO_FUZZ_CHECK(strcmp(c->path, path) == 0);
    HIPPO_FUZZ_CHECK(c->component_host && *c->component_host && c->component_domain &&
                     c->component_secret && *c->component_secret && c->database_conninfo &&
                     c->http_address);
    HIPPO_FUZZ_CHECK(within(c->component_port, 1, 65535) && within(c->http_port, 0, 65535));
    HIPPO_FUZZ_CHECK(within(c->reconnect_min_ms, 1, 3600000) &&
                     within(c->reconnect_max_ms, c->reconnect_min_ms, 3600000));
    HIPPO_FUZZ_CHECK(within(c->database_connections, 1, 16) &&
                     within(c->database_max_queue_ms, 10, 60000));
    HIPPO_FUZZ_CHECK(c->rooms_max_body_bytes >= 1 && c->rooms_max_body_bytes <= 1048576);
    HIPPO_FUZZ_CHECK(c->rooms_messages_per_second > 0 && c->rooms_messages_per_second <= 1e6);
    HIPPO_FUZZ_CHECK(c->rooms_message_burst >= 1 && c->rooms_max_history >= -1 &&
                     c->rooms_max_occupants >= 1);
    HIPPO_FUZZ_CHECK(within(c->push_live_post_interval_ms, 0, 3600000));
    HIPPO_FUZZ_CHECK(c->http_address[0] != '\0' || c->http_port == 0);
    for (size_t i = 0; i < c->n_clients; i++) {
        const hippo_client_platform *cl = &c->clients[i];
        HIPPO_FUZZ_CHECK(cl->platform && cl->minimum && cl->current && cl->download);
        HIPPO_FUZZ_CHECK(dotted_le(cl->minimum, cl->current));
        HIPPO_FUZZ_CHECK(hippo_config_client(c, cl->platform) == cl);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memmem(data, size, "secret_file", 11) && memchr(data, '/', size))
        return -1; /* not added to the corpus: see the top */
    const sandbox *box = the_sandbox();
    write_file(box->path, data, size);
    hippo_config cfg;
    char err[1024];
    memset(err, 'x', sizeof err);
    int rc = hippo_config_load(box->path, &cfg, err, sizeof err);
    HIPPO_FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        check_accepted(&cfg, box->path);
        hippo_config_free(&cfg);
    } else {
        HIPPO_FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        check_refusal(err, box->path, count_lines(data, size));
        HIPPO_FUZZ_CHECK(cfg.path == NULL && cfg.clients == NULL); /* nothing left to free */
    }
    return 0;
}
