/* nodelay_preload.c - LD_PRELOAD shim for experiments: sets TCP_NODELAY on every TCP socket
 * the process connects, to see what Nagle's algorithm costs a program that does not set it
 * (hippod's libstrophe link). Used by `bench/run.py --hippod-nodelay`; never installed. */
#undef _GNU_SOURCE /* glibc's GNU connect() takes a transparent union, not ISO C */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "nodelay_preload.h"

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return hippo_bench_real_connect()(fd, addr, len);
}
