/* nodelay_preload.h - the two halves of the TCP_NODELAY LD_PRELOAD shim. */
#ifndef HIPPO_BENCH_NODELAY_PRELOAD_H
#define HIPPO_BENCH_NODELAY_PRELOAD_H

#include <sys/socket.h>

typedef int (*hippo_bench_connect_fn)(int, const struct sockaddr *, socklen_t);

/* The next connect() after the shim's (libc's). */
hippo_bench_connect_fn hippo_bench_real_connect(void);

#endif
