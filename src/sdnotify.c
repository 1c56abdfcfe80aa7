/* sdnotify.c - the systemd notify protocol without libsystemd: one datagram to
 * $NOTIFY_SOCKET. */
#include "sdnotify.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Fills SA from $NOTIFY_SOCKET's value; returns the address length or -1 (errno set). */
static int notify_address(const char *path, struct sockaddr_un *sa)
{
    size_t len = strlen(path);
    if (path[0] != '/' && path[0] != '@') {
        errno = EAFNOSUPPORT; /* systemd only hands out file or abstract sockets */
        return -1;
    }
    if (len >= sizeof sa->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len);
    if (path[0] == '@') {
        sa->sun_path[0] = '\0'; /* abstract: the name is exactly LEN bytes, no terminator */
        return (int)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int hippo_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;
    if (state == NULL) {
        errno = EINVAL;
        return -1;
    }
    struct sockaddr_un sa;
    int salen = notify_address(path, &sa);
    if (salen < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    size_t len = strlen(state);
    ssize_t sent =
        sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, (socklen_t)salen);
    int saved = errno;
    close(fd);
    if (sent < 0 || (size_t)sent != len) {
        errno = sent < 0 ? saved : EMSGSIZE;
        return -1;
    }
    return 1;
}

/* Parses a whole decimal string into *OUT; false on anything else (sign, blanks, overflow). */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

uint64_t hippo_sd_watchdog_usec(void)
{
    uint64_t usec = 0;
    if (!parse_u64(getenv("WATCHDOG_USEC"), &usec))
        return 0;
    const char *pid_text = getenv("WATCHDOG_PID");
    if (pid_text != NULL) {
        uint64_t pid = 0;
        if (!parse_u64(pid_text, &pid) || pid != (uint64_t)getpid())
            return 0; /* meant for another process (e.g. our parent) */
    }
    return usec;
}

uint64_t hippo_monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
