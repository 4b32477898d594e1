/* SPDX-License-Identifier: MIT */
/*
 * What the kernel is told of a node: its stat, and how long it may keep
 * that and the node's entry (see pyfs-fuse.c, "Caching").
 */
#include <string.h>
#include <sys/stat.h>

#include "pyfs-fuse-private.h"

void pyfs_fuse_timeouts(const PyfsNode *node, const PyfsRendering *rendering, double *entry,
			double *attr)
{
	gint64 left;

	if (pyfs_node_type_is_fixed_dir(node->type) || node->type == PYFS_NODE_RELOAD) {
		*entry = *attr = PYFS_FUSE_FIXED_TIMEOUT;
		return;
	}
	switch (node->type) {
	case PYFS_NODE_MODULES:
		/* run/modules always exists: its name may be cached, its size not. */
		*entry = PYFS_FUSE_FIXED_TIMEOUT;
		*attr = 0.0;
		return;
	case PYFS_NODE_MODULE:
		/* lib/NAME is there until NAME leaves the list, which invalidates it. */
		*entry = *attr = PYFS_FUSE_ATTR_TIMEOUT;
		return;
	default:
		break;
	}
	/*
	 * The attributes as long as the rendering serves: then the kernel
	 * asks, and gets a new one. The name stays for the attribute timeout
	 * whatever the rendering: a marker for hung code is not kept, but its
	 * name is there, and a lookup would only run that code once more.
	 */
	left = rendering->expires - g_get_monotonic_time();
	*entry = PYFS_FUSE_ATTR_TIMEOUT;
	*attr = CLAMP((double)left / G_TIME_SPAN_SECOND, 0.0, PYFS_FUSE_ATTR_TIMEOUT);
}

void pyfs_fuse_fill_stat(PyfsFs *fs, const PyfsNode *node, PyfsEntryKind kind, GBytes *content,
			 struct stat *st)
{
	gsize size = content ? g_bytes_get_size(content) : 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mount_time;

	switch (kind) {
	case PYFS_ENTRY_DIR:
		/* run/sys.modules/ may be traversed, not listed. */
		st->st_mode = S_IFDIR | (node->type == PYFS_NODE_SYS_MODULES ? 0111 : 0555);
		st->st_nlink = 2;
		break;
	case PYFS_ENTRY_SYMLINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		break;
	case PYFS_ENTRY_EXEC:
		st->st_mode = S_IFREG | 0555;
		st->st_nlink = 1;
		break;
	case PYFS_ENTRY_VALUE:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		break;
	}
	if (node->type == PYFS_NODE_MODULES) {
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->time_lock);

		st->st_mode = S_IFREG | 0644;
		st->st_mtim = st->st_ctim = fs->modules_time;
	}
	if (node->type == PYFS_NODE_RELOAD)
		st->st_mode = S_IFREG | 0200;
	st->st_mode = pyfs_access_mode(fs->access, st->st_mode);
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

void pyfs_fuse_fill_entry(PyfsFs *fs, const PyfsNode *node, const PyfsRendering *rendering,
			  struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = node->ino;
	e->generation = node->generation;
	pyfs_fuse_fill_stat(fs, node, rendering->kind, rendering->content, &e->attr);
	pyfs_fuse_timeouts(node, rendering, &e->entry_timeout, &e->attr_timeout);
}
