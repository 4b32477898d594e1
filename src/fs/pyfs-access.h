/* SPDX-License-Identifier: MIT */
/*
 * Who may use the mount. Every request runs Python code in pyfsd's
 * interpreter, as pyfsd's user: a lookup, a listing, a read run the
 * modules' __getattr__, __dir__, properties and str(). So the mount is
 * its owner's (pyfsd's user) alone, unless the owner shares it
 * (pyfsd --allow-others).
 *
 * The kernel keeps other users out unless the mount has allow_other. With
 * it, their requests reach pyfsd, which refuses each (EACCES) before
 * anything runs for it: no Python code, no inode. Shared, others may read,
 * list and run; changing the module list stays the owner's. The modes
 * pyfsd reports say the same (owner-only, or readable and runnable by
 * all), and default_permissions has the kernel hold to them.
 */
#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PyfsAccess PyfsAccess;

typedef enum {
	PYFS_ACCESS_READ,    /* look up, stat, read, list, run */
	PYFS_ACCESS_CHANGE,  /* write or truncate run/modules */
} PyfsAccessKind;

/* The mount of @owner, shared with other users when @others. */
PyfsAccess *pyfs_access_new(uid_t owner, gboolean others);
void pyfs_access_free(PyfsAccess *access);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsAccess, pyfs_access_free)

/*
 * 0 when a request of @uid may do @kind, else -EACCES, and the first
 * refusal of each uid is logged. Any thread; takes a leaf lock only to
 * refuse.
 */
int pyfs_access_check(PyfsAccess *access, uid_t uid, PyfsAccessKind kind);

/*
 * The mode to report for a node whose mode for everyone would be @mode
 * (0555 for a directory or executable, 0444 for a value, 0644 for
 * run/modules): owner-only unless the mount is shared. Symbolic links
 * keep theirs.
 */
mode_t pyfs_access_mode(const PyfsAccess *access, mode_t mode);

G_END_DECLS
