/* SPDX-License-Identifier: MIT */
/*
 * The D-Bus control plane: org.pyfs.Manager at /org/pyfs on the user's
 * session bus (see org.pyfs.Manager(5)), serving the registry's module list.
 *
 * Threads: everything here runs on the main thread, in the default main
 * context, except the registry calls of the mutating methods (they import,
 * and may save the list) which run in GTask threads, and the registry
 * listener, which runs on whichever thread committed a change and only
 * schedules an update of the Modules property on the main context.
 *
 * The session bus is optional: without one the daemon serves the mount
 * all the same, and says once that D-Bus control is off. A bus that goes
 * away after we connected is reconnected to, with a back-off, until it is
 * back or pyfs_bus_stop(); the mount serves on meanwhile.
 */
#pragma once

#include <glib.h>

#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct _PyfsBus PyfsBus;

/* SetModules accepts at most this many names (and PYFS_WRITE_MAX bytes of them). */
#define PYFS_BUS_MAX_NAMES 4096

/*
 * The limits of a method call's names (NULL for none), checked on the
 * main thread before any task starts: at most PYFS_BUS_MAX_NAMES names and
 * PYFS_WRITE_MAX bytes of them (each counted with a newline, as written
 * to run/modules), the limits of a write to the file. Sets
 * PYFS_ERROR_TOO_LARGE. The names themselves are validated once, by the
 * registry that every change goes through. Pure: no bus, no Python.
 */
gboolean pyfs_bus_check_limits(const char *const *names, GError **error);

/*
 * Sets up the interface over @registry for the mount on @mountpoint, and
 * listens to the registry. Connects to nothing yet. Call before anything
 * can change the registry concurrently (before the FUSE threads start):
 * registry listeners are set up once, at start-up.
 */
PyfsBus *pyfs_bus_new(PyfsRegistry *registry, const char *mountpoint);

/*
 * Connects to the session bus, exports /org/pyfs and asks for the names
 * org.pyfs.<label> and org.pyfs. Never fails: without a session bus, or
 * when it cannot be reached, it logs once that D-Bus control is off and
 * is settled at once. Should the bus go away later, it logs that once and
 * does all this again on a new connection as soon as the bus is back.
 */
void pyfs_bus_start(PyfsBus *bus);

/*
 * Whether start-up is settled: both names owned, or org.pyfs queued behind
 * an older instance, or the bus given up on or gone away (it is not
 * waited for). The main context must be iterated for this to become TRUE.
 */
gboolean pyfs_bus_settled(PyfsBus *bus);

/*
 * Stops serving: ends any reconnection (the timer removed, an attempt
 * under way cancelled), unexports the object, waits for the calls under
 * way (iterating the main context), releases the names so that org.pyfs
 * passes to the next instance. Call before the FUSE session stops, while
 * Python still runs. Idempotent.
 */
void pyfs_bus_stop(PyfsBus *bus);

/*
 * Drops the daemon's reference. The registry keeps calling the listener
 * until nothing can change it any more: free only once the FUSE session
 * is gone (a stopped bus ignores the calls).
 */
void pyfs_bus_free(PyfsBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsBus, pyfs_bus_free)

G_END_DECLS
