/* SPDX-License-Identifier: MIT */
/*
 * The systemd watchdog (WatchdogSec=): WATCHDOG=1 only while the daemon
 * actually works, not merely while its main loop turns.
 *
 * Every half interval the main loop asks a thread of ours for a health
 * check: a stat of MOUNT/run/modules, which goes through the kernel to our
 * FUSE threads (its attributes are never cached), then a trivial
 * evaluation under the GIL. The main loop pings when a check passes within
 * a quarter of the interval, and says so at once when one does not, while
 * systemd still waits. A wedged FUSE thread pool, a module holding the GIL
 * or a stuck main loop each stop the pings, and systemd restarts the
 * service (Restart=on-failure). The check runs off the main loop so that a
 * hang never blocks D-Bus or the signals; a check that hangs is simply
 * never followed by another.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PyfsWatchdog PyfsWatchdog;

/*
 * Starts the pings if systemd asked for them (sd_watchdog_enabled());
 * NULL otherwise. Call on the main thread once serving (after READY=1).
 */
PyfsWatchdog *pyfs_watchdog_start(const char *mountpoint);

/* How long pyfs_watchdog_stop() waits for a check under way. */
#define PYFS_WATCHDOG_STOP_WAIT_MS 1000

/*
 * Stops the pings and waits for a check under way, at most
 * PYFS_WATCHDOG_STOP_WAIT_MS: a stop must not wait on what the watchdog
 * is there to catch. FALSE: the check is stuck (the mount or the GIL), and
 * is left to the exit with the watchdog; it may still enter the
 * interpreter, which must not be finalised then. Call while the mount is
 * still served and before the interpreter is finalised. Accepts NULL.
 */
gboolean pyfs_watchdog_stop(PyfsWatchdog *watchdog);

G_END_DECLS
