/* SPDX-License-Identifier: MIT */
/*
 * Telling the kernel to forget what it keeps of the tree.
 *
 * Never from inside a FUSE handler, nor with the GIL or a lock a handler
 * may need: an invalidation waits for the kernel's locks on the nodes,
 * which a request under way may hold while it waits for us. So they are
 * queued, from any thread, and sent from the main loop. A node the kernel
 * has forgotten meanwhile answers -ENOENT, which is success: there is
 * nothing left to forget.
 *
 * A change of the module list is done only once the kernel has forgotten
 * the lib/NAME entries it removed: the committing thread (a run/modules
 * writer, a D-Bus call's task) waits until the main loop has sent their
 * invalidations, so that `test -e lib/re` is false in the very next
 * command. That wait cannot deadlock: these invalidations need only
 * lib/'s lock in the kernel, which a LOOKUP or READDIR in lib/ holds, and
 * those are answered at once, without Python. It is bounded all the same,
 * and the kernel keeps lib/NAME entries one attribute timeout at most.
 */
#include <errno.h>
#include <string.h>

#include "pyfs-fuse-private.h"
#include "pyfs-wakeup.h"

/* How long a change of the list waits for the main loop to have sent its invalidations. */
#define LIST_CHANGE_WAIT_US (2 * G_TIME_SPAN_SECOND)

typedef struct {
	fuse_ino_t ino;  /* the node whose attributes and pages go, or the directory of @name */
	char *name;      /* NULL: the inode itself; else its entry @name */
	guint64 seq;     /* its place in the queue */
} Inval;

static void inval_free(Inval *inval)
{
	g_free(inval->name);
	g_free(inval);
}

/* Main thread. */
static gboolean send_queued(gpointer user_data)
{
	PyfsFs *fs = user_data;
	g_autoptr(GPtrArray) queue = NULL;
	guint64 last = 0;

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->notify_lock);

		queue = g_steal_pointer(&fs->notify_queue);
		fs->notify_queue = g_ptr_array_new_with_free_func((GDestroyNotify)inval_free);
	}
	if (queue->len > 0)
		last = ((Inval *)queue->pdata[queue->len - 1])->seq;
	for (guint i = 0; i < queue->len; i++) {
		Inval *inval = queue->pdata[i];
		int r;

		if (inval->name == NULL)
			r = fuse_lowlevel_notify_inval_inode(fs->session, inval->ino, 0, 0);
		else
			r = fuse_lowlevel_notify_inval_entry(fs->session, inval->ino, inval->name,
							     strlen(inval->name));
		/* Not mounted any more (being stopped): nothing is cached either. */
		if (r == -ENOTCONN || r == -ENODEV || r == -EBADF)
			break;
		if (r < 0 && r != -ENOENT)
			g_debug("Cannot invalidate inode %lu%s%s, ignoring: %s",
				(unsigned long)inval->ino, inval->name ? " entry " : "",
				inval->name ? inval->name : "", g_strerror(-r));
	}
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->notify_lock);

		fs->notify_sent = MAX(fs->notify_sent, last);
		g_cond_broadcast(&fs->notify_cond);
	}
	return G_SOURCE_CONTINUE;
}

void pyfs_fuse_notify_init(PyfsFs *fs)
{
	g_mutex_init(&fs->notify_lock);
	g_cond_init(&fs->notify_cond);
	fs->listed = pyfs_registry_snapshot(fs->tree.registry);
	fs->notify_queue = g_ptr_array_new_with_free_func((GDestroyNotify)inval_free);
	fs->notify_source = pyfs_wakeup_new(send_queued, fs, "[pyfsd] kernel invalidations");
}

/* Main thread, once the session has ended. */
void pyfs_fuse_notify_clear(PyfsFs *fs)
{
	if (fs->notify_source != NULL) {
		g_source_destroy(fs->notify_source);
		g_clear_pointer(&fs->notify_source, g_source_unref);
	}
	g_clear_pointer(&fs->notify_queue, g_ptr_array_unref);
	g_clear_pointer(&fs->listed, pyfs_modlist_free);
	g_cond_clear(&fs->notify_cond);
	g_mutex_clear(&fs->notify_lock);
}

/* Returns the invalidation's place in the queue. */
static guint64 queue(PyfsFs *fs, fuse_ino_t ino, const char *name)
{
	Inval *inval = g_new0(Inval, 1);
	guint64 seq;

	inval->ino = ino;
	inval->name = g_strdup(name);
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->notify_lock);

		/* Read here: once queued, it is the main loop's to send and free. */
		seq = inval->seq = ++fs->notify_queued;
		g_ptr_array_add(fs->notify_queue, inval);
	}
	pyfs_wakeup_signal(fs->notify_source);
	return seq;
}

/* Waits (bounded) until the main loop has sent the invalidations up to @seq. */
static void wait_sent(PyfsFs *fs, guint64 seq)
{
	gint64 deadline = g_get_monotonic_time() + LIST_CHANGE_WAIT_US;
	g_autoptr(GMutexLocker) locker = NULL;

	/* The main thread itself (a change before the loop runs): send them now. */
	if (g_main_context_is_owner(g_main_context_default())) {
		send_queued(fs);
		return;
	}
	locker = g_mutex_locker_new(&fs->notify_lock);
	while (fs->notify_sent < seq && !g_atomic_int_get(&fs->stopping))
		if (!g_cond_wait_until(&fs->notify_cond, &fs->notify_lock, deadline)) {
			g_debug("The main loop has not sent the invalidations of lib/ yet; "
				"the kernel forgets the entries within a second anyway");
			return;
		}
}

void pyfs_fuse_notify_list_changed(PyfsFs *fs)
{
	g_autoptr(PyfsModlist) now = pyfs_registry_snapshot(fs->tree.registry);
	g_autoptr(PyfsModlist) before = NULL;
	guint64 last = 0;

	/* A fresh snapshot, not the listener's list: two commits on two threads
	 * may call their listeners out of order. */
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->notify_lock);

		before = g_steal_pointer(&fs->listed);
		fs->listed = pyfs_modlist_copy(now);
	}
	for (guint i = 0; i < pyfs_modlist_length(before); i++) {
		const char *name = pyfs_modlist_get(before, i);

		if (!pyfs_modlist_contains(now, name))
			last = queue(fs, PYFS_INO_LIB, name);
	}
	if (last > 0)
		wait_sent(fs, last);
}

void pyfs_fuse_queue_inval_inode(PyfsFs *fs, fuse_ino_t ino)
{
	queue(fs, ino, NULL);
}

void pyfs_fuse_queue_inval_entry(PyfsFs *fs, fuse_ino_t parent, const char *name)
{
	queue(fs, parent, name);
}

void pyfs_fs_code_changed(PyfsFs *fs)
{
	g_autoptr(GPtrArray) known = NULL;

	/* From now on no rendering, listing or script made before serves. */
	pyfs_cache_drop(fs->tree.cache);
	/* And the kernel forgets what it learnt of the modules: attributes,
	 * pages, and entries (a name may be gone, or another kind now). */
	known = pyfs_inode_known(fs->tree.inodes);
	for (guint i = 0; i < known->len; i++) {
		PyfsNode *node = known->pdata[i];
		g_autoptr(PyfsNode) parent = NULL;

		if (node->type != PYFS_NODE_MODULE && node->type != PYFS_NODE_ATTR)
			continue;
		pyfs_fuse_queue_inval_inode(fs, node->ino);
		parent = pyfs_inode_parent(fs->tree.inodes, node);
		if (parent != NULL)
			pyfs_fuse_queue_inval_entry(fs, parent->ino, node->name);
	}
}
