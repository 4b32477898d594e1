/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/stat.h>

#include "pyfs-access.h"

struct _PyfsAccess {
	uid_t owner;
	gboolean others;
	GMutex lock;         /* guards refused; a leaf lock */
	GHashTable *refused; /* the uids refused so far, each logged once */
};

PyfsAccess *pyfs_access_new(uid_t owner, gboolean others)
{
	PyfsAccess *access = g_new0(PyfsAccess, 1);

	access->owner = owner;
	access->others = others;
	g_mutex_init(&access->lock);
	access->refused = g_hash_table_new(g_direct_hash, g_direct_equal);
	return access;
}

void pyfs_access_free(PyfsAccess *access)
{
	if (access == NULL)
		return;
	g_hash_table_unref(access->refused);
	g_mutex_clear(&access->lock);
	g_free(access);
}

int pyfs_access_check(PyfsAccess *access, uid_t uid, PyfsAccessKind kind)
{
	gboolean first;

	if (uid == access->owner || (access->others && kind == PYFS_ACCESS_READ))
		return 0;
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&access->lock);

		first = g_hash_table_add(access->refused, GUINT_TO_POINTER(uid));
	}
	if (first && access->others)
		g_message("Refused uid %u a change of the module list: it is uid %u's alone "
			  "(logged once per uid)", (guint)uid, (guint)access->owner);
	else if (first)
		g_message("Refused a request of uid %u: the mount is uid %u's alone, and "
			  "--allow-others is not given (logged once per uid)", (guint)uid,
			  (guint)access->owner);
	return -EACCES;
}

mode_t pyfs_access_mode(const PyfsAccess *access, mode_t mode)
{
	if (access->others || S_ISLNK(mode))
		return mode;
	return mode & ~(mode_t)(S_IRWXG | S_IRWXO);
}
