/* SPDX-License-Identifier: MIT */
/*
 * The FUSE session's lifecycle: mount, serve, stop, release.
 *
 * Threads: fuse_session_loop_mt serves requests from its own pool, started
 * by pyfs_fs_start() with every signal blocked (signals belong to the main
 * loop) but PYFS_WAKE_SIGNAL, which every other thread blocks: on shutdown
 * it interrupts a worker's read of /dev/fuse so that the loop notices
 * fuse_session_exit() even while the mount lingers (a lazy unmount with a
 * shell still inside it keeps the connection, and the reads, alive).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pyfs-deadline.h"
#include "pyfs-fuse-private.h"

/*
 * Threads that wait for Python code on behalf of requests: as many as the
 * deadline workers that can run it; more requests queue for them.
 */
#define WAITERS 8

/* Any thread: the cache has something to expire; sweep it once it has. */
static void wake_sweeper(gpointer user_data)
{
	PyfsFs *fs = user_data;

	g_source_set_ready_time(fs->sweep_source, g_get_monotonic_time() + PYFS_CACHE_TIMEOUT_US);
}

/* Main thread: releases what expired, so that memory goes back after a burst. */
static gboolean sweep(GSource *source, GSourceFunc callback, gpointer user_data)
{
	PyfsFs *fs = user_data;
	guint released;
	gint64 next;

	/* Before sweeping: a wake that comes meanwhile is not lost. */
	g_source_set_ready_time(source, -1);
	next = pyfs_cache_sweep(fs->tree.cache, g_get_monotonic_time(), &released);
	/* Nodes the kernel forgot go with their last rendering. */
	if (released > 0)
		g_debug("Swept %u expired renderings and listings: %u in the inode table",
			released, pyfs_inode_count(fs->tree.inodes));
	if (next >= 0)
		g_source_set_ready_time(source, next);
	/*
	 * A burst is over (a walk of the tree renders thousands of values a
	 * second, and each goes a second later): give back the heap's free
	 * pages, which the burst's short-lived blocks left between the nodes
	 * that stay and glibc would keep for good.
	 */
	else if (released > 0)
		malloc_trim(0);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs sweep_funcs = { .dispatch = sweep };

static void note_list_change(const PyfsModlist *now, gpointer user_data)
{
	PyfsFs *fs = user_data;

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->time_lock);

		clock_gettime(CLOCK_REALTIME, &fs->modules_time);
	}
	pyfs_fuse_notify_list_changed(fs);
}

PyfsFs *pyfs_fs_mount(const char *mountpoint, const char *options, gboolean allow_others,
		      GError **error)
{
	g_autoptr(PyfsFs) fs = g_new0(PyfsFs, 1);
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	/* default_permissions: the kernel checks the modes we report (0444
	 * value files are read-only to the user even before we see an open;
	 * other users are kept to what pyfs-access.h grants them).
	 * auto_unmount: fusermount3 stays behind and unmounts when we die,
	 * even by SIGKILL, so a crash rarely leaves a stale mount. */
	g_autofree char *all_options = g_strdup_printf(
		"default_permissions,auto_unmount,fsname=pyfs,subtype=pyfs%s%s%s",
		allow_others ? ",allow_other" : "", options ? "," : "", options ? options : "");

	fs->access = pyfs_access_new(getuid(), allow_others);
	fs->mountpoint = g_strdup(mountpoint);
	g_mutex_init(&fs->time_lock);
	g_mutex_init(&fs->handles_lock);
	fs->handles = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_mutex_init(&fs->served_lock);
	g_cond_init(&fs->served_cond);
	fs->uid = getuid();
	fs->gid = getgid();

	if (fuse_opt_add_arg(&args, "pyfsd") != 0 || fuse_opt_add_arg(&args, "-o") != 0 ||
	    fuse_opt_add_arg(&args, all_options) != 0) {
		fuse_opt_free_args(&args);
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "Out of memory");
		return NULL;
	}
	fs->session = fuse_session_new(&args, &pyfs_fuse_ops, sizeof(pyfs_fuse_ops), fs);
	fuse_opt_free_args(&args);
	if (fs->session == NULL) {
		/* libfuse has said why on stderr (an unknown option, most often). */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "Cannot create the FUSE session with options “%s”", all_options);
		return NULL;
	}
	fs->mounting = pyfs_fuse_mount_begin(fs->session, mountpoint, error);
	if (fs->mounting == NULL)
		return NULL;
	return g_steal_pointer(&fs);
}

gboolean pyfs_fs_attach(PyfsFs *fs, PyfsRegistry *registry, GError **error)
{
	gboolean mounted = pyfs_fuse_mount_finish(g_steal_pointer(&fs->mounting), error);

	if (!mounted)
		return FALSE;
	fs->mounted = TRUE;
	/* Made here, on the main thread, whose signal mask their threads inherit. */
	fs->sweep_source = g_source_new(&sweep_funcs, sizeof(GSource));
	g_source_set_callback(fs->sweep_source, NULL, fs, NULL);
	g_source_set_static_name(fs->sweep_source, "[pyfsd] cache sweeper");
	g_source_attach(fs->sweep_source, NULL);
	pyfs_tree_init(&fs->tree, registry, wake_sweeper, fs);
	pyfs_fuse_notify_init(fs);
	fs->waiters = g_thread_pool_new_full(pyfs_fuse_waiting_serve, fs, pyfs_fuse_waiting_free,
					     WAITERS, FALSE, NULL);
	clock_gettime(CLOCK_REALTIME, &fs->mount_time);
	fs->modules_time = fs->mount_time;
	pyfs_registry_add_listener(registry, note_list_change, fs);
	fs->attached = TRUE;
	return TRUE;
}

/* On the thread that imported afresh (pyfs-livecode.h). */
static void on_code_changed(gpointer user_data)
{
	pyfs_fs_code_changed(user_data);
}

void pyfs_fs_set_livecode(PyfsFs *fs, PyfsLivecode *livecode)
{
	fs->tree.livecode = livecode;
	if (livecode != NULL)
		pyfs_livecode_add_listener(livecode, on_code_changed, fs);
}

void pyfs_fs_set_call_socket(PyfsFs *fs, const char *socket)
{
	g_free(fs->tree.call_socket);
	fs->tree.call_socket = g_strdup(socket);
}

static void on_wake_signal(int sig)
{
	/* Nothing to do: being delivered is the point (read(2) returns EINTR). */
}

void pyfs_fs_block_wake_signal(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, PYFS_WAKE_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static gpointer serve(gpointer data)
{
	PyfsFs *fs = data;
	struct fuse_loop_config *config = fuse_loop_cfg_create();
	int r;

	fuse_loop_cfg_set_clone_fd(config, 0);
	/* A worker holds a 1 MiB request buffer: keep few idle after a burst. */
	fuse_loop_cfg_set_max_threads(config, 16);
	fuse_loop_cfg_set_idle_threads(config, 4);
	r = fuse_session_loop_mt(fs->session, config);
	fuse_loop_cfg_destroy(config);
	if (r != 0)
		g_warning("The FUSE session ended with an error: %s", g_strerror(r < 0 ? -r : r));
	g_mutex_lock(&fs->served_lock);
	fs->served = TRUE;
	g_cond_broadcast(&fs->served_cond);
	g_mutex_unlock(&fs->served_lock);
	if (!g_atomic_int_get(&fs->stopping) && fs->ended != NULL)
		fs->ended(fs->ended_data);
	return NULL;
}

gboolean pyfs_fs_start(PyfsFs *fs, PyfsFsEndedFunc ended, gpointer user_data, GError **error)
{
	struct sigaction wake = { .sa_handler = on_wake_signal }; /* no SA_RESTART */
	sigset_t all, old;

	fs->ended = ended;
	fs->ended_data = user_data;
	sigemptyset(&wake.sa_mask);
	sigaction(PYFS_WAKE_SIGNAL, &wake, NULL);
	/* The pool inherits this mask: signals go to the main loop's thread. */
	sigfillset(&all);
	sigdelset(&all, PYFS_WAKE_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	fs->thread = g_thread_try_new("pyfs-fuse", serve, fs, error);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return fs->thread != NULL;
}

/*
 * Whether the session loop returned within PYFS_FS_STOP_WAIT_MS. It
 * returns once every worker has: a worker in a request finishes it first,
 * and one stuck there is not waited out.
 */
static gboolean wait_for_loop(PyfsFs *fs)
{
	gint64 end = g_get_monotonic_time() + PYFS_FS_STOP_WAIT_MS * G_TIME_SPAN_MILLISECOND;
	gboolean served;

	/* A worker that was between its exit check and its read misses one
	 * signal: repeat until the loop has returned. */
	g_mutex_lock(&fs->served_lock);
	while (!fs->served && g_get_monotonic_time() < end) {
		kill(getpid(), PYFS_WAKE_SIGNAL);
		g_cond_wait_until(&fs->served_cond, &fs->served_lock,
				  MIN(end, g_get_monotonic_time() + 50 * G_TIME_SPAN_MILLISECOND));
	}
	served = fs->served;
	g_mutex_unlock(&fs->served_lock);
	return served;
}

gboolean pyfs_fs_stop(PyfsFs *fs)
{
	if (fs->session == NULL || g_atomic_int_get(&fs->stopping))
		return fs->thread == NULL;
	g_atomic_int_set(&fs->stopping, TRUE);
	fuse_session_exit(fs->session);
	/* Unmounting ends the connection: the loop's blocked reads return
	 * ENODEV and every worker exits. */
	if (fs->mounted) {
		fuse_session_unmount(fs->session);
		fs->mounted = FALSE;
	}
	if (fs->thread == NULL)
		return TRUE;
	if (!wait_for_loop(fs))
		return FALSE;
	g_thread_join(g_steal_pointer(&fs->thread));
	return TRUE;
}

void pyfs_fs_free(PyfsFs *fs)
{
	if (fs == NULL)
		return;
	/* Never attached: the mount under way is waited for, then released. */
	if (fs->mounting != NULL)
		fs->mounted = pyfs_fuse_mount_finish(g_steal_pointer(&fs->mounting), NULL);
	/* A stuck FUSE thread still uses all of it: the exit ends both. */
	if (!pyfs_fs_stop(fs))
		return;
	/* No request runs now: the main loop's fresh imports must not reach us. */
	if (fs->tree.livecode != NULL)
		pyfs_livecode_remove_listener(fs->tree.livecode, on_code_changed, fs);
	/* Requests still waiting for Python are answered before the session
	 * goes (each within the time limit); those not started are dropped. */
	if (fs->waiters != NULL)
		g_thread_pool_free(g_steal_pointer(&fs->waiters), TRUE, TRUE);
	if (fs->attached)
		pyfs_fuse_notify_clear(fs);
	if (fs->sweep_source != NULL) {
		g_source_destroy(fs->sweep_source);
		g_clear_pointer(&fs->sweep_source, g_source_unref);
	}
	if (fs->session != NULL)
		fuse_session_destroy(fs->session);
	/* Files still open when the session ended were never released. */
	if (fs->handles != NULL) {
		GHashTableIter iter;
		gpointer handle, destroy;

		g_hash_table_iter_init(&iter, fs->handles);
		while (g_hash_table_iter_next(&iter, &handle, &destroy))
			((GDestroyNotify)destroy)(handle);
		g_hash_table_unref(fs->handles);
	}
	g_mutex_clear(&fs->handles_lock);
	/*
	 * Timed-out work still running holds the tree and may touch it when
	 * its Python code returns: the process is exiting, so keep it.
	 */
	if (pyfs_deadline_abandoned() > 0) {
		g_debug("Timed-out work is still running: the tree is left to the exit");
		return;
	}
	if (fs->attached)
		pyfs_tree_clear(&fs->tree);
	pyfs_access_free(fs->access);
	g_free(fs->mountpoint);
	g_mutex_clear(&fs->time_lock);
	g_mutex_clear(&fs->served_lock);
	g_cond_clear(&fs->served_cond);
	g_free(fs);
}
