/* SPDX-License-Identifier: MIT */
/*
 * The FUSE operations (low-level API).
 *
 * Threads: the handlers run in libfuse's worker pool (pyfs-fuse-session.c).
 * They enter Python only through pyfs-tree and the registry, which take
 * and drop the GIL themselves, so no reply is ever sent with the GIL or
 * any pyfs lock held.
 *
 * Caching: the kernel may cache what cannot go stale unnoticed, and
 * nothing else. The module list shows in two places only, the listing of
 * lib/ and run/modules, and neither is cached: lib/ is listed afresh on
 * every opendir, run/modules' attributes are never cached and its content
 * is direct I/O. So a change to the list is visible to the very next
 * system call without any invalidation to send. Looking up lib/NAME does
 * not depend on the list (every module in sys.modules resolves), so those
 * entries are cached like everything inside a module, for ATTR_TIMEOUT,
 * since a value may change under us; the fixed directories for long.
 *
 * Content: a file's bytes are taken once per open (its "snapshot") and
 * every read of that open is served from them, so no Python code runs
 * twice for one open, and getattr's st_size is the length of the same
 * rendering.
 *
 * Errors: helpers return negative errno; handlers reply with its positive
 * value. Every refusal of a write to the read-only tree is EACCES (create,
 * write) or EPERM (chmod, chown, utimes, truncate), never EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <gio/gio.h>

#include "pyfs-fuse-private.h"
#include "pyfs-tree.h"

#define FIXED_TIMEOUT 3600.0 /* the fixed directories and run/modules' entry */
#define ATTR_TIMEOUT 1.0     /* everything inside a module */


/* An open value or executable: its snapshot. */
typedef struct {
	GBytes *content;
	PyfsEntryKind kind;   /* what the file was at open */
} Handle;

static void handle_free(Handle *handle)
{
	if (handle == NULL)
		return;
	g_clear_pointer(&handle->content, g_bytes_unref);
	g_free(handle);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Handle, handle_free)

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

static PyfsFs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static const PyfsNode *node_of(PyfsFs *fs, fuse_ino_t ino)
{
	return pyfs_inode_get(fs->tree.inodes, ino);
}

static void fill_stat(PyfsFs *fs, const PyfsNode *node, const PyfsNodeInfo *info,
		      struct stat *st)
{
	gsize size = info->content ? g_bytes_get_size(info->content) : 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mount_time;

	switch (info->kind) {
	case PYFS_ENTRY_DIR:
		st->st_mode = S_IFDIR | 0555;
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
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

static double timeout_for(const PyfsNode *node)
{
	switch (node->type) {
	case PYFS_NODE_ROOT:
	case PYFS_NODE_LIB:
	case PYFS_NODE_RUN:
	case PYFS_NODE_BIN:
	case PYFS_NODE_DOT:
		return FIXED_TIMEOUT;
	case PYFS_NODE_MODULES:
		return 0.0;
	default:
		return ATTR_TIMEOUT;
	}
}

static void fill_entry(PyfsFs *fs, const PyfsNode *node, const PyfsNodeInfo *info,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = node->ino;
	e->generation = 1;
	fill_stat(fs, node, info, &e->attr);
	e->attr_timeout = timeout_for(node);
	/* run/modules always exists: its name may be cached, its size not. */
	e->entry_timeout = node->type == PYFS_NODE_MODULES ? FIXED_TIMEOUT : timeout_for(node);
}

static void pyfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC arrives with open, so that `echo bad > run/modules` can
	 * leave the list as it was when the write fails. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

static void pyfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	PyfsFs *fs = fs_of(req);
	const PyfsNode *dir = node_of(fs, parent);
	const PyfsNode *child = NULL;
	g_auto(PyfsNodeInfo) info = { 0 };
	struct fuse_entry_param e;
	int r;

	if (dir == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	r = pyfs_tree_lookup(&fs->tree, dir, name, &child, &info);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fill_entry(fs, child, &info, &e);
	pyfs_inode_ref(fs->tree.inodes, child->ino);
	fuse_reply_entry(req, &e);
}

static void pyfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pyfs_inode_forget(fs_of(req)->tree.inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void pyfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		pyfs_inode_forget(fs_of(req)->tree.inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pyfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	PyfsFs *fs = fs_of(req);
	const PyfsNode *node = node_of(fs, ino);
	g_auto(PyfsNodeInfo) info = { 0 };
	struct stat st;
	int r;

	if (node == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/*
	 * An open file (the kernel passes a handle for regular files only) is
	 * its snapshot, whatever the value is now: its size is the snapshot's,
	 * and no Python code runs again for that open.
	 */
	if (fi != NULL && fi->fh != 0 && node->type != PYFS_NODE_MODULES &&
	    ((Handle *)(uintptr_t)fi->fh)->content != NULL) {
		Handle *handle = (Handle *)(uintptr_t)fi->fh;

		info.kind = handle->kind;
		info.content = g_bytes_ref(handle->content);
		r = 0;
	} else {
		r = pyfs_tree_examine(&fs->tree, node, &info);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fill_stat(fs, node, &info, &st);
	fuse_reply_attr(req, &st, timeout_for(node));
}

static void pyfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	PyfsFs *fs = fs_of(req);
	const PyfsNode *node = node_of(fs, ino);
	g_auto(PyfsNodeInfo) info = { 0 };
	g_autofree char *target = NULL;
	int r;

	r = node ? pyfs_tree_examine(&fs->tree, node, &info) : -ENOENT;
	if (r == 0 && info.kind != PYFS_ENTRY_SYMLINK)
		r = -EINVAL;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	target = g_strndup(g_bytes_get_data(info.content, NULL), g_bytes_get_size(info.content));
	fuse_reply_readlink(req, target);
}

static void pyfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	PyfsFs *fs = fs_of(req);
	const PyfsNode *node = node_of(fs, ino);
	g_autoptr(Handle) handle = NULL;
	g_auto(PyfsNodeInfo) info = { 0 };
	int r;

	if (node == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (node->type == PYFS_NODE_MODULES) {
		pyfs_fuse_modules_open(fs, req, fi);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	r = pyfs_tree_examine(&fs->tree, node, &info);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (info.kind == PYFS_ENTRY_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	handle = g_new0(Handle, 1);
	handle->kind = info.kind;
	handle->content = g_steal_pointer(&info.content);
	fi->fh = (uint64_t)(uintptr_t)handle;
	pyfs_fuse_keep_handle(fs, g_steal_pointer(&handle), (GDestroyNotify)handle_free);
	if (fuse_reply_open(req, fi) != 0)
		pyfs_fuse_drop_handle(fs, (gpointer)(uintptr_t)fi->fh);
}

static void pyfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	Handle *handle = (Handle *)(uintptr_t)fi->fh;
	g_autoptr(GBytes) content = NULL;
	gsize len;
	const char *data;

	if (ino == PYFS_INO_MODULES) {
		pyfs_fuse_modules_read(req, size, off, fi);
		return;
	}
	if (handle->content == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	/* Our own reference: the reply must not depend on the handle's lifetime. */
	content = g_bytes_ref(handle->content);
	data = g_bytes_get_data(content, &len);
	if (off < 0 || (gsize)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, data + off, MIN(size, len - (gsize)off));
}

static void pyfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	if (ino != PYFS_INO_MODULES) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pyfs_fuse_modules_write(fs_of(req), req, buf, size, off, fi);
}

static void pyfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == PYFS_INO_MODULES) {
		pyfs_fuse_modules_release(fs_of(req), req, fi);
		return;
	}
	pyfs_fuse_drop_handle(fs_of(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void pyfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			    struct fuse_file_info *fi)
{
	if (ino != PYFS_INO_MODULES) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* Times are the list's own: setting them is accepted and ignored. */
	if (pyfs_fuse_modules_setattr(fs_of(req), req, attr, to_set))
		pyfs_op_getattr(req, ino, NULL);
}

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
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DirHandle, dir_handle_free)

static void pyfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	PyfsFs *fs = fs_of(req);
	const PyfsNode *node = node_of(fs, ino);
	g_autoptr(DirHandle) dh = g_new0(DirHandle, 1);
	int r;

	/* The listing is taken once, here: every readdir of this open reads it. */
	r = node ? pyfs_tree_list(&fs->tree, node, &dh->children) : -ENOENT;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dh;
	pyfs_fuse_keep_handle(fs, g_steal_pointer(&dh), (GDestroyNotify)dir_handle_free);
	if (fuse_reply_open(req, fi) != 0)
		pyfs_fuse_drop_handle(fs, (gpointer)(uintptr_t)fi->fh);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, gboolean plus)
{
	PyfsFs *fs = fs_of(req);
	DirHandle *dh = (DirHandle *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;

	/* Offsets: 1 is after ".", 2 after "..", 2 + i + 1 after child i. The
	 * stats are those of opendir: one snapshot per open, like files. */
	for (off_t i = off; i < (off_t)dh->children->len + 2; i++) {
		static const PyfsNodeInfo dir_info = { .kind = PYFS_ENTRY_DIR };
		const PyfsNode *child;
		const PyfsNodeInfo *info;
		const char *name;
		size_t need;

		if (i == 0 || i == 1) {
			name = i == 0 ? "." : "..";
			info = &dir_info;
			child = node_of(fs, ino);
		} else {
			PyfsChild *c = &g_array_index(dh->children, PyfsChild, i - 2);

			child = c->node;
			info = &c->info;
			name = child->name;
		}
		if (plus) {
			struct fuse_entry_param e;

			fill_entry(fs, child, info, &e);
			if (i < 2)
				e.attr.st_ino = child->ino;
			need = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
			if (need > size - used)
				break;
			/* "." and ".." are not looked up by the kernel. */
			if (i >= 2)
				pyfs_inode_ref(fs->tree.inodes, child->ino);
		} else {
			struct stat st;

			fill_stat(fs, child, info, &st);
			need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
			if (need > size - used)
				break;
		}
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static void pyfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, FALSE);
}

static void pyfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
				struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, TRUE);
}

static void pyfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pyfs_fuse_drop_handle(fs_of(req), (gpointer)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
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
	.readdir = pyfs_op_readdir,
	.readdirplus = pyfs_op_readdirplus,
	.releasedir = pyfs_op_releasedir,
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
