/* SPDX-License-Identifier: MIT */
/*
 * The call server: calls from a warm interpreter, each in a process of its own.
 *
 * Starting python3 for every call of an executable file costs tens of
 * milliseconds; pyfsd holds an interpreter with the modules imported. But a
 * call must not run in pyfsd itself: it may crash, loop, exhaust memory,
 * chdir, change module state or call os._exit. So pyfsd forks, once, while
 * it still has a single thread (a fork copies only the calling thread, and
 * not the locks other threads hold: GLib's, libfuse's, the GIL), a server
 * process holding a copy of the interpreter, and the server forks a process
 * per call, which owns nothing anyone else depends on.
 *
 * Forking is fast; what is slow is what comes after: every page a child
 * writes (and Python writes to every object it touches, if only to count a
 * reference) is copied on the first write, some hundreds of page faults for
 * the runner's own work. So the server forks its children ahead of need: a
 * few "spares" that have run the runner's machinery on /dev/null
 * (pyfs_runner.warm_up(), after the server itself did, so that 3.11's
 * specialised code is shared) and wait in accept() on the call socket. The
 * spare that accepts a connection checks the peer, reads the request,
 * hands the connection to the server (for the caller's signals and the
 * status) and becomes the call: it adopts the caller's stdio, working
 * directory, environment, umask, resource limits and ignored signals, runs
 * pyfs_runner.forked_main(), reports its status to the dispatcher itself
 * (so that nobody waits for its teardown) and _exits with it; a call that
 * dies otherwise is reported by the server. The server forks a replacement
 * once a call ends. A spare serves one call and no more: no call sees what
 * another did.
 *
 * Processes, and the descriptors that tie them:
 *
 *   pyfsd --control--> server --fork--> spares --accept--> a call
 *                        ^  '-- retire pipe --'                |
 *                        '------------- handoff ---------------'
 *
 *   control: module names to import; its closing means pyfsd is gone.
 *   retire:  one pipe per generation of spares; closing it sends the idle
 *            ones away (the server imported a module; it is stopping).
 *   handoff: a spare that took a call sends its pid and the connection;
 *            a call that ended and reported it says so (the dispatcher
 *            leaving then is no reason to kill what it left running).
 *
 * Signals: a terminal delivers Ctrl-C to its foreground process group,
 * which holds the dispatcher, not the call (in a session of its own, so
 * that reading the terminal never stops it with SIGTTIN); the dispatcher
 * relays what it gets through the server, which sends it to the call's
 * process group, as the terminal would have. A dispatcher that disappears
 * takes its call with it (SIGKILL); a server that disappears takes its
 * calls and spares (PR_SET_PDEATHSIG).
 *
 * Security: the socket is 0600 in a 0700 directory, and a connection whose
 * SO_PEERCRED uid is not the server's own is refused and logged.
 *
 * pyfsd cannot fork a new server once its threads run: a server that dies
 * is logged, and the dispatchers, finding no socket, start python3 again.
 *
 * pyfsd's side, here: the socket and its directory, forking the server, the
 * control channel, stopping it. The server process is in
 * pyfs-callserver-process.c, a spare and the call it becomes in
 * pyfs-callserver-spare.c.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pyfs-callserver.h"
#include "pyfs-callserver-private.h"
#include "pyfs-error.h"
#include "pyfs-label.h"

/* How long pyfsd waits for the server to stop (its grace included). */
#define SERVER_STOP_TIMEOUT_MS 5000

struct _PyfsCallServer {
	GPid pid;		/* 0 once reaped */
	int control_fd;		/* closing it tells the server to stop */
	char *socket_path;
	struct stat socket_st;	/* to remove the socket only while it is ours */
	char *private_dir;	/* the mkdtemp() directory of the socket, or NULL */
	guint watch_id;
};

/* --- pyfsd's side ---------------------------------------------------------- */

void pyfs_callserver_remove_socket(const char *path, const struct stat *ours)
{
	struct stat st;

	/* A pyfsd started since on the same mountpoint may own the path now. */
	if (path != NULL && lstat(path, &st) == 0 && st.st_dev == ours->st_dev &&
	    st.st_ino == ours->st_ino)
		unlink(path);
}

static guint count_threads(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, NULL);
	guint n = 0;

	if (dir == NULL)
		return G_MAXUINT;
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/* @path, made or taken as a directory of ours that only we can enter. */
static gboolean private_dir(const char *path, GError **error)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail;
	if (lstat(path, &st) != 0)
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s is not a directory of ours", path);
		return FALSE;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0)
		goto fail;
	return TRUE;

fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
		    g_strerror(errno));
	return FALSE;
}

/*
 * $XDG_RUNTIME_DIR/pyfs when XDG_RUNTIME_DIR is ours and closed to others
 * (as pam_systemd makes it); otherwise (pyfsd run outside a login session,
 * by hand or by root) a fresh mkdtemp() directory, whose unguessable name
 * is no weaker: it is 0700 too, and the scripts carry the path.
 */
static char *socket_dir(PyfsCallServer *server, GError **error)
{
	const char *runtime = g_getenv("XDG_RUNTIME_DIR");
	g_autofree char *tmp = NULL;
	struct stat st;

	if (runtime != NULL && g_path_is_absolute(runtime) && stat(runtime, &st) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 0022) == 0) {
		g_autoptr(GError) local = NULL;
		g_autofree char *dir = g_build_filename(runtime, "pyfs", NULL);

		if (private_dir(dir, &local))
			return g_steal_pointer(&dir);
		g_message("Cannot use %s for the call socket: %s", dir, local->message);
	}
	tmp = g_build_filename(g_get_tmp_dir(), "pyfs-XXXXXX", NULL);
	if (g_mkdtemp_full(tmp, 0700) == NULL) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot create a directory for the call socket: %s", g_strerror(errno));
		return NULL;
	}
	server->private_dir = g_strdup(tmp);
	return g_steal_pointer(&tmp);
}

static char *socket_path(const char *dir, const char *mountpoint, GError **error)
{
	g_autofree char *label = pyfs_label_for_mountpoint(mountpoint, g_get_home_dir());
	g_autofree char *path = g_strdup_printf("%s/%s.sock", dir, label);
	struct sockaddr_un addr;

	/* sun_path holds 108 bytes: a label too long gives way to its hash. */
	if (strlen(path) >= sizeof(addr.sun_path)) {
		g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, label, -1);

		g_free(path);
		path = g_strdup_printf("%s/%.16s.sock", dir, hash);
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s is too long for a socket address", path);
		return NULL;
	}
	return g_steal_pointer(&path);
}

static int listen_on(const char *path, struct stat *st, GError **error)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old;
	int r;

	if (fd < 0)
		goto fail;
	g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
	/* Left by a pyfsd that died, or taken over from one that serves a
	 * mount beneath ours: the scripts now name this one. */
	if (unlink(path) != 0 && errno != ENOENT)
		goto fail;
	/* Born 0600, never wider even for a moment (a single thread: the
	 * umask is ours to borrow). */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r != 0 || listen(fd, SOMAXCONN) != 0 || stat(path, st) != 0)
		goto fail;
	return fd;

fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "Cannot listen on %s: %s",
		    path, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Any thread, after a commit: the server imports what it lacks. */
static void on_modules_changed(const PyfsModlist *now, gpointer user_data)
{
	PyfsCallServer *server = user_data;
	g_autoptr(GString) lines = g_string_new(NULL);

	for (guint i = 0; i < pyfs_modlist_length(now); i++)
		g_string_append_printf(lines, "%s\n", pyfs_modlist_get(now, i));
	/* Never blocks a FUSE thread: a server too busy to read imports on demand. */
	if (send(server->control_fd, lines->str, lines->len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		g_debug("Cannot tell the call server about the modules: %s", g_strerror(errno));
}

static void on_server_exit(GPid pid, gint status, gpointer user_data)
{
	PyfsCallServer *server = user_data;
	g_autofree char *how = WIFSIGNALED(status)
		? g_strdup_printf("was killed by signal %d (%s)", WTERMSIG(status),
				  g_strsignal(WTERMSIG(status)))
		: g_strdup_printf("exited with status %d", WEXITSTATUS(status));

	server->pid = 0;
	server->watch_id = 0;
	g_warning("The call server (pid %d) %s; calls start python3 from now on", pid, how);
	pyfs_callserver_remove_socket(server->socket_path, &server->socket_st);
}

PyfsCallServer *pyfs_callserver_start(PyfsRegistry *registry, const char *mountpoint,
				      int close_fd, gboolean detached, GError **error)
{
	g_autoptr(PyfsCallServer) server = g_new0(PyfsCallServer, 1);
	g_autofree char *dir = NULL;
	int control[2];
	guint threads;
	PyfsGil gil;
	int listen_fd;
	pid_t pid;

	server->control_fd = -1;
	threads = count_threads();
	if (threads != 1) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "pyfsd has %d threads already: forking the call server is not safe",
			    (int)threads);
		return NULL;
	}
	dir = socket_dir(server, error);
	if (dir == NULL)
		return NULL;
	server->socket_path = socket_path(dir, mountpoint, error);
	if (server->socket_path == NULL)
		return NULL;
	listen_fd = listen_on(server->socket_path, &server->socket_st, error);
	if (listen_fd < 0)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot create the call server's control socket: %s",
			    g_strerror(errno));
		close(listen_fd);
		return NULL;
	}

	gil = pyfs_python_enter();
	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0) {
		/* The GIL stays with this, the server's only thread, for good. */
		PyOS_AfterFork_Child();
		close(control[0]);
		pyfs_callserver_main(listen_fd, control[1], server->socket_path,
				     &server->socket_st, mountpoint, close_fd, detached);
	}
	PyOS_AfterFork_Parent();
	pyfs_python_leave(&gil);
	close(listen_fd);
	close(control[1]);
	if (pid < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot fork the call server: %s", g_strerror(errno));
		close(control[0]);
		return NULL;
	}
	server->pid = pid;
	server->control_fd = control[0];
	pyfs_registry_add_listener(registry, on_modules_changed, server);
	server->watch_id = g_child_watch_add(pid, on_server_exit, server);
	g_info("Call server (pid %d) listening on %s", pid, server->socket_path);
	return g_steal_pointer(&server);
}

const char *pyfs_callserver_socket(PyfsCallServer *server)
{
	return server ? server->socket_path : NULL;
}

static void wait_for_server(pid_t pid)
{
	int pidfd = pidfd_open(pid, 0);
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	/* Bounded: a server that does not stop (stopped, stuck) is killed. */
	if (pidfd >= 0 && poll(&pfd, 1, SERVER_STOP_TIMEOUT_MS) == 0) {
		g_warning("The call server (pid %d) did not stop; killing it", pid);
		kill(pid, SIGKILL);
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void pyfs_callserver_free(PyfsCallServer *server)
{
	if (server == NULL)
		return;
	if (server->watch_id != 0)
		g_source_remove(server->watch_id);
	pyfs_callserver_remove_socket(server->socket_path, &server->socket_st);
	if (server->control_fd >= 0)
		close(server->control_fd);
	if (server->pid > 0)
		wait_for_server(server->pid);
	if (server->private_dir != NULL && rmdir(server->private_dir) != 0)
		g_debug("Cannot remove %s: %s", server->private_dir, g_strerror(errno));
	g_free(server->private_dir);
	g_free(server->socket_path);
	g_free(server);
}
