/* SPDX-License-Identifier: MIT */
/*
 * Watching the code an interpreter loaded, so that it is never run stale.
 *
 * An inotify watch on every directory that a module outside the standard
 * library came from (and on sys.path's own such directories): a change
 * there that can change what an import gives (a source, an extension
 * module, a .pth file, a package coming or going) makes the code loaded
 * stale. A file written in place has changed once it is closed. Events
 * are queued by the kernel before the close (or rename, or unlink) that
 * caused them returns, so reading the queue tells synchronously whether
 * anything changed before a given moment: checking costs one read(2).
 */
#pragma once

#include "pyfs-python.h"

G_BEGIN_DECLS

typedef struct _PyfsCodeWatch PyfsCodeWatch;

PyfsCodeWatch *pyfs_codewatch_new(GError **error);
void pyfs_codewatch_free(PyfsCodeWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCodeWatch, pyfs_codewatch_free)

/* The inotify descriptor, readable when events are waiting. */
int pyfs_codewatch_fd(PyfsCodeWatch *watch);

/*
 * Watches what @livecode (the pyfs_runner module, which holds
 * pyfs_livecode.py) lists as loaded now, besides what is watched already.
 * GIL held. Sets @changed when a directory watched only now, or a file in
 * one, changed at or after @since_ns (time.time_ns()): a change that may
 * have come before the watch did. FALSE with @error when it cannot watch.
 * Called once before the first import, so that the directories of
 * sys.path are watched before anything is imported from them, and again
 * after imports.
 */
gboolean pyfs_codewatch_update(PyfsCodeWatch *watch, PyObject *livecode, gint64 since_ns,
			       gboolean *changed, GError **error);

/*
 * Now, as time.time_ns() counts, but two ticks of the file times' clock
 * early: a file changed from now on is stamped no earlier than this.
 * (File times come from a coarse clock that lags by up to a tick.)
 */
gint64 pyfs_codewatch_now_ns(void);

/*
 * Reads the events waiting, without blocking: TRUE if one of them can
 * change what an import gives. Any thread, no GIL needed; one reader at a
 * time (the caller serialises).
 */
gboolean pyfs_codewatch_changed(PyfsCodeWatch *watch);

G_END_DECLS
