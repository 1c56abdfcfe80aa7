/* sdnotify.h - the systemd notify protocol (one datagram to $NOTIFY_SOCKET). */
#ifndef HIPPO_SDNOTIFY_H
#define HIPPO_SDNOTIFY_H

#include <stdint.h>

/* Sends STATE (e.g. "READY=1\nSTATUS=...") if $NOTIFY_SOCKET is set.
 * Returns 1 if sent, 0 if not under systemd, -1 on error (errno set). */
int hippo_sd_notify(const char *state);

/* Returns the watchdog interval in microseconds from $WATCHDOG_USEC (and $WATCHDOG_PID
 * matching us), or 0 when no watchdog is requested. */
uint64_t hippo_sd_watchdog_usec(void);

/* CLOCK_MONOTONIC in microseconds, for RELOADING=1 + MONOTONIC_USEC. */
uint64_t hippo_monotonic_usec(void);

#endif
