/* SPDX-License-Identifier: MIT */
/*
 * pyfsd's own modules kept as they are on disk: the tree's side of live
 * code (the calls have their own, in each call server).
 *
 * When a source file of a module pyfsd imported from outside the standard
 * library changes (pyfs-codewatch.h), the listed modules are imported
 * afresh, with everything they imported from pure Python outside the
 * standard library (pyfs_runner.fresh_import(); extension modules cannot
 * be loaded twice and stay), all or nothing: if the new code does not
 * import, the old modules stay, and the reason is logged. Then the
 * listener drops what was rendered from the old code.
 *
 * Noticing: every request that runs Python code for the tree looks first
 * (pyfs_livecode_enter(), one read of the watch), and the main loop looks
 * whenever the watch has news, so that the kernel's caches are dropped
 * even when no request comes.
 *
 * Locking: a fresh import must not run while the tree runs Python code,
 * nor the other way round: the tree's requests hold the gate shared
 * (enter/leave), a fresh import holds it alone. The gate comes before
 * the GIL in the lock order (see pyfs-python.h): it is taken without the
 * GIL and without any pyfs lock held, and never twice by one thread.
 */
#pragma once

#include <glib.h>

#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct _PyfsLivecode PyfsLivecode;

/* Called after every fresh import, on the thread that made it. */
typedef void (*PyfsLivecodeListener)(gpointer user_data);

/*
 * Watches what pyfsd imported so far (call it once the saved list is
 * imported, on the main thread, GIL released) and from then on what
 * @registry's changes import; the main loop looks at the watch.
 */
PyfsLivecode *pyfs_livecode_new(PyfsRegistry *registry, GError **error);
void pyfs_livecode_free(PyfsLivecode *livecode);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsLivecode, pyfs_livecode_free)

/*
 * Listeners are added and removed only while no fresh import can run:
 * before the requests start, and once they have stopped.
 */
void pyfs_livecode_add_listener(PyfsLivecode *livecode, PyfsLivecodeListener listener,
				gpointer user_data);
void pyfs_livecode_remove_listener(PyfsLivecode *livecode, PyfsLivecodeListener listener,
				   gpointer user_data);

/*
 * Before the tree runs Python code for a request: imports afresh first if
 * the code changed, then holds the gate shared until
 * pyfs_livecode_leave(). NULL-safe (no live code: nothing to do).
 */
void pyfs_livecode_enter(PyfsLivecode *livecode);
void pyfs_livecode_leave(PyfsLivecode *livecode);

/* A fresh import of the listed modules, now, changed or not (Reload()). */
gboolean pyfs_livecode_reload(PyfsLivecode *livecode, GError **error);

/* pyfs_livecode_reload() as a PyfsReloader of the registry. */
gboolean pyfs_livecode_reloader(gpointer livecode, GError **error);

G_END_DECLS
