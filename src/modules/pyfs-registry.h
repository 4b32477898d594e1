/* SPDX-License-Identifier: MIT */
/*
 * The module registry: the one module list that run/modules and
 * org.pyfs.Manager both act on.
 *
 * An operation validates its names, imports them (taking the GIL), then
 * commits: one change at a time, it computes the new list, asks the
 * commit hook to persist it, and swaps it in only if that succeeded. So a
 * change is all-or-nothing, becomes visible in one step, and changes are
 * saved in the order they become current. Readers (snapshots, the serial)
 * never wait for a save: they see the list as it was until the swap.
 * Listeners run after the commit, outside the locks, on the committing
 * thread.
 *
 * One change is visible before it is saved: the truncation that opens
 * `echo re > run/modules`. It is saved together with the write that
 * follows it, or by pyfs_registry_save() when the file is closed without
 * one, so a daemon killed while that write imports comes back with the
 * list as it was before, not with an empty one.
 *
 * Errors are returned, never logged here: an import failure carries the
 * module's name and the Python traceback (pyfs-error.h) to whoever ends
 * its journey and logs it. Only the import abandoned past the deadline,
 * whose error nobody waits for any more, is logged when it ends.
 *
 * Locking (see pyfs-python.h): two locks, neither held while taking the
 * GIL. The commit lock is held by a change from reading the list to the
 * swap, across the commit hook; the list lock, taken after it, only to
 * swap or copy the list. Nothing else is called with either held.
 */
#pragma once

#include <glib.h>

#include "pyfs-modlist.h"

G_BEGIN_DECLS

typedef struct _PyfsRegistry PyfsRegistry;

/*
 * Called with the list about to become current, while changes wait for it
 * (not readers): it may block on the disk, and must not enter Python or
 * the registry. Returning FALSE (with @error) refuses the change.
 */
typedef gboolean (*PyfsCommitHook)(const PyfsModlist *next, gpointer user_data, GError **error);

/* Called after every change, with the new list (a borrowed snapshot). */
typedef void (*PyfsRegistryListener)(const PyfsModlist *now, gpointer user_data);

PyfsRegistry *pyfs_registry_new(void);
void pyfs_registry_free(PyfsRegistry *registry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsRegistry, pyfs_registry_free)

void pyfs_registry_set_commit_hook(PyfsRegistry *registry, PyfsCommitHook hook,
				   gpointer user_data);
/*
 * One of the fresh imports Reload() makes (the tree's, the calls'): FALSE
 * with @error when it failed. Called on the reloading thread, without the
 * GIL and outside the registry's locks.
 */
typedef gboolean (*PyfsReloader)(gpointer user_data, GError **error);

void pyfs_registry_add_reloader(PyfsRegistry *registry, PyfsReloader reloader,
				gpointer user_data);

/*
 * A fresh import of every listed module, wherever they are imported
 * (Reload(), `echo > run/reload`): every reloader runs, in the order they
 * were added; the list is unchanged. FALSE with the first failure.
 */
gboolean pyfs_registry_reload(PyfsRegistry *registry, GError **error);

void pyfs_registry_add_listener(PyfsRegistry *registry, PyfsRegistryListener listener,
				gpointer user_data);

/* Imports @names and appends those not yet listed (run/modules O_APPEND, AddModule). */
gboolean pyfs_registry_add(PyfsRegistry *registry, const char *const *names, GError **error);
/* Imports @names and makes them the whole list (O_TRUNC + write, SetModules). */
gboolean pyfs_registry_set(PyfsRegistry *registry, const char *const *names, GError **error);
/* Empties the list (: > run/modules, ClearModules). */
gboolean pyfs_registry_clear(PyfsRegistry *registry, GError **error);
/*
 * Empties the list for a truncating writer (O_TRUNC), without saving it:
 * returns the list as it was, and sets @serial to the registry's serial
 * right after, for pyfs_registry_restore() should the writer's first
 * write fail, or pyfs_registry_save() fail when no write follows.
 */
PyfsModlist *pyfs_registry_truncate(PyfsRegistry *registry, guint64 *serial, GError **error);
/* Removes one name; PYFS_ERROR_NOT_FOUND when it is not listed. */
gboolean pyfs_registry_remove(PyfsRegistry *registry, const char *name, GError **error);

/*
 * Puts @list (names already imported) back as the whole list, but only if
 * nothing changed it since serial @if_serial: the undo of a truncation
 * whose write then failed.
 */
gboolean pyfs_registry_restore(PyfsRegistry *registry, const PyfsModlist *list,
				guint64 if_serial, GError **error);

/*
 * Hands the current list to the commit hook unless it was saved already:
 * settles a truncation that no write followed (`: > run/modules`).
 */
gboolean pyfs_registry_save(PyfsRegistry *registry, GError **error);

/* A copy of the current list. */
PyfsModlist *pyfs_registry_snapshot(PyfsRegistry *registry);
gboolean pyfs_registry_contains(PyfsRegistry *registry, const char *name);
/* Bumped on every change: lets readers tell whether their snapshot is current. */
guint64 pyfs_registry_serial(PyfsRegistry *registry);

G_END_DECLS
