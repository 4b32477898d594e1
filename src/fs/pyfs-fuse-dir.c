/* SPDX-License-Identifier: MIT */
/*
 * Directories: a listing is taken once per opendir, and every readdir of
 * that open reads it, with the stats of that moment, as a file's reads
 * read its snapshot. Every entry READDIRPLUS hands out counts one lookup
 * of its node (see pyfs-fuse.c, "Lookup counts").
 */
#include <errno.h>

#include "pyfs-fuse-private.h"

typedef struct {
	GArray *children; /* of PyfsChild: the listing and its stats, taken at opendir */
} DirHandle;

static void dir_handle_free(DirHandle *dh)
{
	if (dh == NULL)
		return;
	g_clear_pointer(&dh->children, g_array_unref);
	g_free(dh);
}

gboolean pyfs_fuse_serve_opendir(PyfsFs *fs, fuse_req_t req, PyfsNode *node,
				 struct fuse_file_info *fi, PyfsTreeWait wait)
{
	GArray *children = NULL;
	DirHandle *dh;
	int r;

	/* The listing is taken once, here: every readdir of this open reads it. */
	r = pyfs_tree_list(&fs->tree, node, wait, &children);
	if (r == -EWOULDBLOCK && wait == PYFS_TREE_NOWAIT)
		return FALSE;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return TRUE;
	}
	dh = g_new0(DirHandle, 1);
	dh->children = children;
	fi->fh = (uint64_t)(uintptr_t)dh;
	pyfs_fuse_keep_handle(fs, dh, (GDestroyNotify)dir_handle_free);
	if (fuse_reply_open(req, fi) != 0)
		pyfs_fuse_drop_handle(fs, dh);
	return TRUE;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, gboolean plus)
{
	PyfsFs *fs = pyfs_fuse_fs(req);
	DirHandle *dh = (DirHandle *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	/* The entries this reply hands out: each a lookup the kernel will hold. */
	g_autoptr(GPtrArray) counted = g_ptr_array_new();
	g_autoptr(PyfsNode) self = pyfs_inode_get(fs->tree.inodes, ino);
	size_t used = 0;

	if (self == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Offsets: 1 is after ".", 2 after "..", 2 + i + 1 after child i. The
	 * stats are those of opendir: one snapshot per open, like files. */
	for (off_t i = off; i < (off_t)dh->children->len + 2; i++) {
		const PyfsNode *node = self;
		const PyfsRendering *rendering = fs->tree.fixed_dir;
		const char *name = i == 0 ? "." : "..";
		size_t need;

		if (i >= 2) {
			PyfsChild *child = &g_array_index(dh->children, PyfsChild, i - 2);

			node = child->node;
			rendering = child->rendering;
			name = node->name;
		}
		if (plus) {
			struct fuse_entry_param e;

			pyfs_fuse_fill_entry(fs, node, rendering, &e);
			need = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
			if (need > size - used)
				break;
			/* "." and ".." are not looked up by the kernel. */
			if (i >= 2) {
				pyfs_inode_lookup(fs->tree.inodes, (PyfsNode *)node);
				g_ptr_array_add(counted, (gpointer)node);
			}
		} else {
			struct stat st;

			pyfs_fuse_fill_stat(fs, node, rendering->kind, rendering->content, &st);
			need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
			if (need > size - used)
				break;
		}
		used += need;
	}
	if (fuse_reply_buf(req, buf, used) != 0)
		for (guint i = 0; i < counted->len; i++)
			pyfs_inode_forget(fs->tree.inodes, ((PyfsNode *)counted->pdata[i])->ino, 1);
}

void pyfs_fuse_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, FALSE);
}

void pyfs_fuse_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, TRUE);
}

void pyfs_fuse_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pyfs_fuse_drop_handle(pyfs_fuse_fs(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
