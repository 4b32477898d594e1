/* SPDX-License-Identifier: MIT */
/*
 * The FUSE operations (low-level API).
 *
 * Threads: the handlers run in libfuse's worker pool (pyfs-fuse-session.c).
 * They enter Python only through pyfs-tree and the registry, which take
 * and drop the GIL themselves, so no reply is ever sent with the GIL or
 * any pyfs lock held. Python code of the objects may hang, so a handler
 * first asks the tree for what needs none (PYFS_TREE_NOWAIT); when more is
 * needed, at most FUSE_WAITING_MAX FUSE threads wait for it themselves
 * (at most the time limit), and further requests go to a waiter thread,
 * which waits and replies. So however many requests wait for hung code,
 * most FUSE threads stay free for everything else, run/modules first.
 *
 * Caching: a value's rendering is kept by the tree for the attribute
 * timeout (PYFS_FUSE_ATTR_TIMEOUT), and the kernel keeps its attributes and entry
 * exactly as long, so that both expire together. The module list shows in
 * lib/ and run/modules: lib/ is listed afresh on every opendir, and the
 * kernel keeps a lib/NAME entry at most PYFS_FUSE_ATTR_TIMEOUT, and not at all once
 * NAME has left the list (pyfs-fuse-notify.c: the change is done once the
 * kernel has forgotten it); run/modules' attributes are never cached and
 * its content is direct I/O. The fixed directories are cached for long.
 *
 * Content: a file's bytes are taken once per open (its "snapshot") and
 * every read of that open is served from them, so no Python code runs
 * twice for one open. The kernel's page cache of the file is kept
 * (FOPEN_KEEP_CACHE) when the bytes are those it may hold already.
 *
 * Lookup counts: every entry handed out (LOOKUP, READDIRPLUS) counts one
 * lookup of its node before the reply goes out, and is taken back if the
 * reply cannot be sent; FORGET gives them back, and a node nothing holds is
 * freed (pyfs-inode.h).
 *
 * Errors: helpers return negative errno; handlers reply with its positive
 * value. Every refusal of a write to the read-only tree is EACCES (create,
 * write) or EPERM (chmod, chown, utimes, truncate), never EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pyfs-fuse-private.h"

/* How many FUSE threads may wait for Python code at once (of up to 16, see pyfs-fuse-session.c). */
#define FUSE_WAITING_MAX 4

/* An open value or executable: its snapshot. */
typedef struct {
	PyfsFs *fs;
	PyfsNode *node;
	PyfsEntryKind kind;
	GBytes *content;
} FileHandle;

static void file_handle_free(FileHandle *handle)
{
	if (handle == NULL)
		return;
	pyfs_cache_closed(handle->fs->tree.cache, handle->node);
	pyfs_node_unref(handle->node);
	g_bytes_unref(handle->content);
	g_free(handle);
}

void pyfs_fuse_keep_handle(PyfsFs *fs, gpointer handle, GDestroyNotify destroy)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->handles_lock);

	g_hash_table_insert(fs->handles, handle, destroy);
}

void pyfs_fuse_drop_handle(PyfsFs *fs, gpointer handle)
{
	GDestroyNotify destroy;

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->handles_lock);

		destroy = g_hash_table_lookup(fs->handles, handle);
		g_hash_table_remove(fs->handles, handle);
	}
	if (destroy != NULL)
		destroy(handle);
}

/*
 * First thing in every handler that could run Python code, create an
 * inode or change the list: another user's request is refused unless the
 * owner allowed it (pyfs-access.h). TRUE: refused, and replied to.
 */
static gboolean refused(fuse_req_t req, PyfsAccessKind kind)
{
	int r = pyfs_access_check(pyfs_fuse_fs(req)->access, fuse_req_ctx(req)->uid, kind);

	if (r == 0)
		return FALSE;
	fuse_reply_err(req, -r);
	return TRUE;
}

/* --- Requests that may wait for Python ------------------------------------ */

typedef enum {
	OP_LOOKUP,
	OP_GETATTR,
	OP_READLINK,
	OP_OPEN,
	OP_OPENDIR,
} Op;

/* A request handed to a waiter. */
typedef struct {
	fuse_req_t req;
	Op op;
	PyfsNode *node;              /* the inode named by the request */
	char *name;                  /* OP_LOOKUP */
	struct fuse_file_info fi;    /* OP_OPEN, OP_OPENDIR */
} Waiting;

void pyfs_fuse_waiting_free(gpointer request)
{
	Waiting *waiting = request;

	pyfs_node_unref(waiting->node);
	g_free(waiting->name);
	g_free(waiting);
}

/* Each serve_*() replies and returns TRUE, or with NOWAIT returns FALSE, not replying. */

static gboolean serve_lookup(PyfsFs *fs, fuse_req_t req, PyfsNode *dir, const char *name,
			     PyfsTreeWait wait)
{
	g_autoptr(PyfsNode) child = NULL;
	g_autoptr(PyfsRendering) rendering = NULL;
	struct fuse_entry_param e;
	int r;

	r = pyfs_tree_lookup(&fs->tree, dir, name, wait, &child, &rendering);
	if (r == -EWOULDBLOCK && wait == PYFS_TREE_NOWAIT)
		return FALSE;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return TRUE;
	}
	pyfs_fuse_fill_entry(fs, child, rendering, &e);
	pyfs_inode_lookup(fs->tree.inodes, child);
	if (fuse_reply_entry(req, &e) != 0)
		pyfs_inode_forget(fs->tree.inodes, child->ino, 1);
	return TRUE;
}

static gboolean serve_getattr(PyfsFs *fs, fuse_req_t req, PyfsNode *node, PyfsTreeWait wait)
{
	g_autoptr(PyfsRendering) rendering = NULL;
	double entry_timeout, attr_timeout;
	struct stat st;
	int r;

	r = pyfs_tree_examine(&fs->tree, node, wait, &rendering);
	if (r == -EWOULDBLOCK && wait == PYFS_TREE_NOWAIT)
		return FALSE;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return TRUE;
	}
	pyfs_fuse_fill_stat(fs, node, rendering->kind, rendering->content, &st);
	pyfs_fuse_timeouts(node, rendering, &entry_timeout, &attr_timeout);
	fuse_reply_attr(req, &st, attr_timeout);
	return TRUE;
}

static gboolean serve_readlink(PyfsFs *fs, fuse_req_t req, PyfsNode *node, PyfsTreeWait wait)
{
	g_autoptr(PyfsRendering) rendering = NULL;
	g_autofree char *target = NULL;
	int r;

	r = pyfs_tree_examine(&fs->tree, node, wait, &rendering);
	if (r == -EWOULDBLOCK && wait == PYFS_TREE_NOWAIT)
		return FALSE;
	if (r == 0 && rendering->kind != PYFS_ENTRY_SYMLINK)
		r = -EINVAL;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return TRUE;
	}
	target = g_strndup(g_bytes_get_data(rendering->content, NULL),
			   g_bytes_get_size(rendering->content));
	fuse_reply_readlink(req, target);
	return TRUE;
}

static gboolean serve_open(PyfsFs *fs, fuse_req_t req, PyfsNode *node, struct fuse_file_info *fi,
			   PyfsTreeWait wait)
{
	g_autoptr(PyfsRendering) rendering = NULL;
	FileHandle *handle;
	int r;

	r = pyfs_tree_examine(&fs->tree, node, wait, &rendering);
	if (r == -EWOULDBLOCK && wait == PYFS_TREE_NOWAIT)
		return FALSE;
	if (r == 0 && rendering->kind == PYFS_ENTRY_DIR)
		r = -EISDIR;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return TRUE;
	}
	handle = g_new0(FileHandle, 1);
	handle->fs = fs;
	handle->node = pyfs_node_ref(node);
	handle->kind = rendering->kind;
	handle->content = g_bytes_ref(rendering->content);
	fi->keep_cache = pyfs_cache_opened(fs->tree.cache, node, handle->content);
	fi->fh = (uint64_t)(uintptr_t)handle;
	pyfs_fuse_keep_handle(fs, handle, (GDestroyNotify)file_handle_free);
	if (fuse_reply_open(req, fi) != 0)
		pyfs_fuse_drop_handle(fs, handle);
	return TRUE;
}

static gboolean serve(PyfsFs *fs, Waiting *w, PyfsTreeWait wait)
{
	switch (w->op) {
	case OP_LOOKUP:
		return serve_lookup(fs, w->req, w->node, w->name, wait);
	case OP_GETATTR:
		return serve_getattr(fs, w->req, w->node, wait);
	case OP_READLINK:
		return serve_readlink(fs, w->req, w->node, wait);
	case OP_OPEN:
		return serve_open(fs, w->req, w->node, &w->fi, wait);
	case OP_OPENDIR:
		return pyfs_fuse_serve_opendir(fs, w->req, w->node, &w->fi, wait);
	}
	g_return_val_if_reached(TRUE);
}

void pyfs_fuse_waiting_serve(gpointer request, gpointer fs)
{
	serve(fs, request, PYFS_TREE_WAIT);
	pyfs_fuse_waiting_free(request);
}

/*
 * Serves @op on inode @ino at once if no Python code of the objects is
 * needed. Else a few FUSE threads may wait for it themselves, which spares
 * a trip to another thread; beyond that the request goes to a waiter, so
 * that however much code hangs, most FUSE threads are free.
 */
static void start(fuse_req_t req, Op op, fuse_ino_t ino, const char *name,
		  struct fuse_file_info *fi)
{
	PyfsFs *fs = pyfs_fuse_fs(req);
	Waiting w = { .req = req, .op = op, .node = pyfs_inode_get(fs->tree.inodes, ino),
		      .name = (char *)name };

	if (w.node == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fi != NULL)
		w.fi = *fi;
	if (!serve(fs, &w, PYFS_TREE_NOWAIT)) {
		Waiting *waiting;

		if (g_atomic_int_add(&fs->fuse_waiting, 1) < FUSE_WAITING_MAX) {
			serve(fs, &w, PYFS_TREE_WAIT);
			g_atomic_int_add(&fs->fuse_waiting, -1);
			pyfs_node_unref(w.node);
			return;
		}
		g_atomic_int_add(&fs->fuse_waiting, -1);
		waiting = g_memdup2(&w, sizeof(w));
		waiting->name = g_strdup(name);
		g_thread_pool_push(fs->waiters, waiting, NULL);
		return;
	}
	pyfs_node_unref(w.node);
}

/* --- The operations ------------------------------------------------------- */

static void pyfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC arrives with open, so that `echo bad > run/modules` can
	 * leave the list as it was when the write fails. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* A file's pages go only at an open that says so (FOPEN_KEEP_CACHE
	 * not set): its times never change, and a read need not look at them. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static void pyfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (refused(req, PYFS_ACCESS_READ))
		return;
	start(req, OP_LOOKUP, parent, name, NULL);
}

/* What the table holds, for whoever watches it shrink (pyfsd -d). */
static void forgotten(PyfsFs *fs, gsize count, guint freed)
{
	g_debug("Forgot %" G_GSIZE_FORMAT " nodes, freed %u: %u in the inode table", count, freed,
		pyfs_inode_count(fs->tree.inodes));
}

static void pyfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	PyfsFs *fs = pyfs_fuse_fs(req);

	forgotten(fs, 1, pyfs_inode_forget(fs->tree.inodes, ino, nlookup));
	fuse_reply_none(req);
}

static void pyfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	PyfsFs *fs = pyfs_fuse_fs(req);
	guint freed = 0;

	for (size_t i = 0; i < count; i++)
		freed += pyfs_inode_forget(fs->tree.inodes, forgets[i].ino, forgets[i].nlookup);
	forgotten(fs, count, freed);
	fuse_reply_none(req);
}

static void pyfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (refused(req, PYFS_ACCESS_READ))
		return;
	/*
	 * An open file (the kernel passes a handle for regular files only) is
	 * its snapshot, whatever the value is now: its size is the snapshot's,
	 * and no Python code runs again for that open.
	 */
	if (fi != NULL && fi->fh != 0 && ino != PYFS_INO_MODULES && ino != PYFS_INO_RELOAD) {
		FileHandle *handle = (FileHandle *)(uintptr_t)fi->fh;
		struct stat st;

		pyfs_fuse_fill_stat(pyfs_fuse_fs(req), handle->node, handle->kind, handle->content,
				    &st);
		fuse_reply_attr(req, &st, 0.0);
		return;
	}
	start(req, OP_GETATTR, ino, NULL, NULL);
}

static void pyfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	if (refused(req, PYFS_ACCESS_READ))
		return;
	start(req, OP_READLINK, ino, NULL, NULL);
}

static void pyfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	gboolean reading = (fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC);

	if (refused(req, reading ? PYFS_ACCESS_READ : PYFS_ACCESS_CHANGE))
		return;
	if (ino == PYFS_INO_MODULES) {
		pyfs_fuse_modules_open(pyfs_fuse_fs(req), req, fi);
		return;
	}
	if (ino == PYFS_INO_RELOAD) {
		pyfs_fuse_reload_open(pyfs_fuse_fs(req), req, fi);
		return;
	}
	if (!reading) {
		fuse_reply_err(req, EACCES);
		return;
	}
	start(req, OP_OPEN, ino, NULL, fi);
}

static void pyfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	FileHandle *handle = (FileHandle *)(uintptr_t)fi->fh;
	gsize len;
	const char *data;

	if (ino == PYFS_INO_MODULES) {
		pyfs_fuse_modules_read(req, size, off, fi);
		return;
	}
	if (handle == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	/* The handle lives until RELEASE, which comes after every READ has been answered. */
	data = g_bytes_get_data(handle->content, &len);
	if (off < 0 || (gsize)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, data + off, MIN(size, len - (gsize)off));
}

static void pyfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	if (refused(req, PYFS_ACCESS_CHANGE))
		return;
	if (ino == PYFS_INO_RELOAD) {
		pyfs_fuse_reload_write(pyfs_fuse_fs(req), req, size);
		return;
	}
	if (ino != PYFS_INO_MODULES) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pyfs_fuse_modules_write(pyfs_fuse_fs(req), req, buf, size, off, fi);
}

static void pyfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == PYFS_INO_MODULES) {
		pyfs_fuse_modules_release(pyfs_fuse_fs(req), req, fi);
		return;
	}
	if (fi->fh != 0)
		pyfs_fuse_drop_handle(pyfs_fuse_fs(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void pyfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			    struct fuse_file_info *fi)
{
	if (refused(req, PYFS_ACCESS_CHANGE))
		return;
	if (ino == PYFS_INO_RELOAD) {
		if (pyfs_fuse_reload_setattr(req, to_set))
			start(req, OP_GETATTR, ino, NULL, NULL);
		return;
	}
	if (ino != PYFS_INO_MODULES) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* Times are the list's own: setting them is accepted and ignored. */
	if (pyfs_fuse_modules_setattr(pyfs_fuse_fs(req), req, attr, to_set))
		start(req, OP_GETATTR, ino, NULL, NULL);
}

static void pyfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (refused(req, PYFS_ACCESS_READ))
		return;
	start(req, OP_OPENDIR, ino, NULL, fi);
}

/* Everything that would create, remove or rename something: the tree is Python's. */
static void refuse_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 dev_t rdev)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES);
}

static void refuse_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			    size_t size, int flags)
{
	fuse_reply_err(req, EPERM);
}

static void refuse_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EPERM);
}

const struct fuse_lowlevel_ops pyfs_fuse_ops = {
	.init = pyfs_op_init,
	.lookup = pyfs_op_lookup,
	.forget = pyfs_op_forget,
	.forget_multi = pyfs_op_forget_multi,
	.getattr = pyfs_op_getattr,
	.setattr = pyfs_op_setattr,
	.readlink = pyfs_op_readlink,
	.open = pyfs_op_open,
	.read = pyfs_op_read,
	.write = pyfs_op_write,
	.release = pyfs_op_release,
	.opendir = pyfs_op_opendir,
	.readdir = pyfs_fuse_readdir,
	.readdirplus = pyfs_fuse_readdirplus,
	.releasedir = pyfs_fuse_releasedir,
	.mknod = refuse_mknod,
	.mkdir = refuse_mkdir,
	.unlink = refuse_unlink,
	.rmdir = refuse_unlink,
	.symlink = refuse_symlink,
	.rename = refuse_rename,
	.link = refuse_link,
	.create = refuse_create,
	.setxattr = refuse_setxattr,
	.removexattr = refuse_removexattr,
};
