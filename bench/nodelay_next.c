/* nodelay_next.c - finds libc's connect() behind the nodelay_preload shim. */
#include <dlfcn.h>
#include <string.h>

#include "nodelay_preload.h"

hippo_bench_connect_fn hippo_bench_real_connect(void)
{
    void *sym = dlsym(RTLD_NEXT, "connect");
    hippo_bench_connect_fn fn;
    memcpy(&fn, &sym, sizeof fn); /* ISO C has no object -> function pointer cast */
    return fn;
}
