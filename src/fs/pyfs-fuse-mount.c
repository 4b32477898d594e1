/* SPDX-License-Identifier: MIT */
/*
 * fuse_session_mount() with auto_unmount forks fusermount3 and waits for
 * it to pass back the /dev/fuse descriptor: some ten milliseconds where
 * process creation is slow, which pyfsd spends starting its interpreter
 * and importing its modules instead. The mount runs in a thread of its
 * own; the kernel queues what comes to the mount until the session
 * serves, so nothing is answered before the modules are there.
 *
 * One care: between its fork and its exec, libfuse's child calls setenv()
 * and execvp(), which take the C library's locks. Had the main thread
 * been inside putenv() at the fork (Python code setting os.environ at
 * import), the child would wait for ever for a lock nobody releases. So
 * pyfs_fuse_mount_begin() returns only once the fork is done, as a
 * pthread_atfork() handler tells it. (libfuse forks a second time only
 * when fusermount3 rejects the first attempt's options, as a very old one
 * does; that fork is not waited for.)
 */
#include <pthread.h>

#include <gio/gio.h>

#include "pyfs-fuse-mount.h"

struct _PyfsFuseMount {
	struct fuse_session *session;
	char *mountpoint;
	GThread *thread;
	gboolean forked; /* under lock */
	gboolean done;   /* under lock */
	int result;      /* fuse_session_mount()'s, once done */
};

/* Guards every mount's forked and done; a leaf lock. */
static GMutex lock;
static GCond changed;

/* In the thread that mounts: its mount. */
static _Thread_local PyfsFuseMount *mounting;

static void set_under_lock(gboolean *flag)
{
	g_mutex_lock(&lock);
	*flag = TRUE;
	g_cond_broadcast(&changed);
	g_mutex_unlock(&lock);
}

/* In the parent after every fork of the process: only ours count. */
static void after_fork_in_parent(void)
{
	if (mounting != NULL && !mounting->forked)
		set_under_lock(&mounting->forked);
}

static gpointer mount_thread(gpointer data)
{
	PyfsFuseMount *mount = data;

	mounting = mount;
	mount->result = fuse_session_mount(mount->session, mount->mountpoint);
	mounting = NULL;
	set_under_lock(&mount->done);
	return NULL;
}

static void free_mount(PyfsFuseMount *mount)
{
	g_free(mount->mountpoint);
	g_free(mount);
}

PyfsFuseMount *pyfs_fuse_mount_begin(struct fuse_session *session, const char *mountpoint,
				     GError **error)
{
	static gsize registered;
	static gboolean told_of_forks;
	PyfsFuseMount *mount = g_new0(PyfsFuseMount, 1);

	if (g_once_init_enter(&registered)) {
		told_of_forks = pthread_atfork(NULL, after_fork_in_parent, NULL) == 0;
		g_once_init_leave(&registered, 1);
	}
	mount->session = session;
	mount->mountpoint = g_strdup(mountpoint);
	mount->thread = g_thread_try_new("pyfs-mount", mount_thread, mount, error);
	if (mount->thread == NULL) {
		free_mount(mount);
		return NULL;
	}
	/* Without the handler, the whole mount is waited for. */
	g_mutex_lock(&lock);
	while (!mount->done && !(told_of_forks && mount->forked))
		g_cond_wait(&changed, &lock);
	g_mutex_unlock(&lock);
	return mount;
}

gboolean pyfs_fuse_mount_finish(PyfsFuseMount *mount, GError **error)
{
	gboolean mounted;

	g_thread_join(mount->thread);
	mounted = mount->result == 0;
	/* libfuse has said why on stderr. */
	if (!mounted)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot mount on %s",
			    mount->mountpoint);
	free_mount(mount);
	return mounted;
}
