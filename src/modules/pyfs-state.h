/* SPDX-License-Identifier: MIT */
/*
 * The saved module list: what makes the list survive a restart.
 *
 * One file per mount, $XDG_STATE_HOME/pyfs/<label>.modules (the label of
 * pyfs-label.h), in the format of run/modules: one module name per line,
 * plus a comment line. The same file whether pyfsd runs by hand or under
 * systemd (the unit sets no StateDirectory=, whose place for user units
 * has changed between systemd versions).
 *
 * Saving is atomic (a new file renamed over the old one after an fsync),
 * so a crash leaves either the old list or the new one. The daemon saves
 * from the registry's commit hook, so a list that cannot be saved never
 * becomes current.
 */
#pragma once

#include <glib.h>

#include "pyfs-modlist.h"
#include "pyfs-registry.h"

G_BEGIN_DECLS

/* A state file larger than this is corrupt: no list of real modules comes close. */
#define PYFS_STATE_MAX (1024 * 1024)

/* The state file of the mount on @mountpoint, under @state_dir (the XDG state directory). */
char *pyfs_state_path(const char *state_dir, const char *mountpoint, const char *home);

/*
 * Parses @len bytes of a state file: one name per line; blank lines and
 * lines starting with "#" are ignored, and so is white space around a
 * name. Any invalid name, a NUL byte, non-UTF-8 or more than
 * PYFS_STATE_MAX bytes makes the whole file corrupt (NULL and @error,
 * which names the line). An empty list is a list.
 */
GStrv pyfs_state_parse(const char *data, gsize len, GError **error);

/* The contents of the state file for @list. */
char *pyfs_state_format(const PyfsModlist *list);

/*
 * Reads and parses @path. NULL with G_FILE_ERROR_NOENT when nothing was
 * saved there; any other error means unreadable or corrupt.
 */
GStrv pyfs_state_load(const char *path, GError **error);

/*
 * Saves @list to @path atomically, creating its directory (0700) if
 * needed; the file is 0600. Errors are G_FILE_ERROR, whose codes carry
 * the errno (ENOSPC, EROFS, EACCES) through to a writer of run/modules.
 * Blocks on the disk; takes no lock and never enters Python.
 */
gboolean pyfs_state_save(const char *path, const PyfsModlist *list, GError **error);

/* The module list of one mount, kept on disk. */
typedef struct _PyfsState PyfsState;

/* The state of the mount on @mountpoint, in the user's XDG state directory. */
PyfsState *pyfs_state_new(const char *mountpoint);
void pyfs_state_free(PyfsState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsState, pyfs_state_free)

/*
 * Fills the empty @registry at start-up (Python running), then makes it
 * save every change first (its commit hook: a change that cannot be saved
 * is refused, and the old list stays). The list is @modules (-m), which
 * must all import, and which is then saved; else the saved list; else
 * @defaults. From a file, an unreadable or corrupt one is logged and the
 * defaults apply, and a module that no longer imports is skipped with a
 * warning; the file itself changes only with the next change of the list.
 * Fails only when a -m module does not import. @state must outlive
 * @registry's last change.
 */
gboolean pyfs_state_restore(PyfsState *state, PyfsRegistry *registry,
			    const char *const *modules, const char *const *defaults,
			    GError **error);

G_END_DECLS
