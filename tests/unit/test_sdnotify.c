/* test_sdnotify.c - the systemd notify datagram and the watchdog environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

typedef struct listener {
    int fd;
    char dir[64];   /* temp dir of a file socket, "" for an abstract one */
    char path[108]; /* the $NOTIFY_SOCKET value */
} listener;

static int listen_file(listener *l)
{
    memset(l, 0, sizeof *l);
    strcpy(l->dir, "/tmp/hippo-sdnotify-XXXXXX");
    if (mkdtemp(l->dir) == NULL)
        return -1;
    snprintf(l->path, sizeof l->path, "%s/notify", l->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, l->path);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    return 0;
}

static int listen_abstract(listener *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->path, sizeof l->path, "@hippo-sdnotify-test-%ld-%d", (long)getpid(), rand());
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(l->path);
    memcpy(sa.sun_path, l->path, len);
    sa.sun_path[0] = '\0';
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, salen) != 0)
        return -1;
    return 0;
}

static void listener_close(listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    if (l->dir[0] != '\0') {
        unlink(l->path);
        rmdir(l->dir);
    }
}

/* Receives one datagram without blocking: AF_UNIX delivery is synchronous. */
static void expect_datagram(const listener *l, const char *expected)
{
    char buf[512];
    ssize_t n = recv(l->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n < 0)
        fail_msg("no datagram: %s", strerror(errno));
    buf[n] = '\0';
    assert_string_equal(buf, expected);
    assert_true(recv(l->fd, buf, sizeof buf, MSG_DONTWAIT) < 0); /* exactly one */
}

static int clear_env(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

static void test_unset_is_noop(void **state)
{
    (void)state;
    assert_int_equal(hippo_sd_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(hippo_sd_notify("READY=1"), 0);
}

static void test_file_socket(void **state)
{
    (void)state;
    listener l;
    assert_int_equal(listen_file(&l), 0);
    setenv("NOTIFY_SOCKET", l.path, 1);
    assert_int_equal(hippo_sd_notify("READY=1\nSTATUS=x"), 1);
    expect_datagram(&l, "READY=1\nSTATUS=x");
    assert_int_equal(hippo_sd_notify("WATCHDOG=1"), 1);
    expect_datagram(&l, "WATCHDOG=1");
    listener_close(&l);
}

static void test_abstract_socket(void **state)
{
    (void)state;
    listener l;
    assert_int_equal(listen_abstract(&l), 0);
    setenv("NOTIFY_SOCKET", l.path, 1);
    assert_int_equal(hippo_sd_notify("STOPPING=1"), 1);
    expect_datagram(&l, "STOPPING=1");
    listener_close(&l);
}

static void test_abstract_name_length_is_exact(void **state)
{
    (void)state;
    /* Abstract names are compared byte for byte over the address length: "@nameX" is
     * another socket than "@name" (test_abstract_socket covers the exact match). */
    listener l;
    assert_int_equal(listen_abstract(&l), 0);
    char longer[120];
    snprintf(longer, sizeof longer, "%sX", l.path);
    setenv("NOTIFY_SOCKET", longer, 1);
    assert_int_equal(hippo_sd_notify("READY=1"), -1);
    char buf[16];
    assert_true(recv(l.fd, buf, sizeof buf, MSG_DONTWAIT) < 0);
    listener_close(&l);
}

static void test_errors(void **state)
{
    (void)state;
    setenv("NOTIFY_SOCKET", "/nonexistent-dir/hippo/notify", 1);
    errno = 0;
    assert_int_equal(hippo_sd_notify("READY=1"), -1);
    assert_int_equal(errno, ENOENT);

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(hippo_sd_notify("READY=1"), -1);

    char too_long[200];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[0] = '/';
    too_long[sizeof too_long - 1] = '\0';
    setenv("NOTIFY_SOCKET", too_long, 1);
    assert_int_equal(hippo_sd_notify("READY=1"), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

static void test_watchdog(void **state)
{
    (void)state;
    assert_int_equal(hippo_sd_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(hippo_sd_watchdog_usec(), 30000000);

    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(hippo_sd_watchdog_usec(), 30000000);
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(hippo_sd_watchdog_usec(), 0); /* meant for another process */
    setenv("WATCHDOG_PID", "abc", 1);
    assert_int_equal(hippo_sd_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");

    const char *garbage[] = {"", "abc", "12abc", "-5", " 5", "+5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        setenv("WATCHDOG_USEC", garbage[i], 1);
        if (hippo_sd_watchdog_usec() != 0)
            fail_msg("WATCHDOG_USEC=\"%s\" accepted", garbage[i]);
    }
    setenv("WATCHDOG_USEC", "0", 1);
    assert_int_equal(hippo_sd_watchdog_usec(), 0);
}

static void test_monotonic(void **state)
{
    (void)state;
    uint64_t a = hippo_monotonic_usec();
    usleep(2000);
    uint64_t b = hippo_monotonic_usec();
    assert_true(a > 0);
    assert_true(b >= a + 2000);
    assert_true(b < a + 2000000); /* microseconds, not nanoseconds */
}

int main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unset_is_noop, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_file_socket, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_abstract_socket, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_abstract_name_length_is_exact, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_errors, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_watchdog, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_monotonic, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
