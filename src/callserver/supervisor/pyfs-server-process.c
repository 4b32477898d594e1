/* SPDX-License-Identifier: MIT */
#include "pyfs-server-process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

GPid pyfs_server_spawn(const char *const *argv, int listen_fd, int control_fd, GError **error)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, all;
	/* Above the targets, so that no dup2() lands on a source still needed. */
	int listen_copy = fcntl(listen_fd, F_DUPFD_CLOEXEC, 10);
	int control_copy = fcntl(control_fd, F_DUPFD_CLOEXEC, 10);
	pid_t pid = 0;
	int r = listen_copy < 0 || control_copy < 0 ? errno : 0;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attr);
	/* The two sockets, the default signals, and "/" as working directory,
	 * which keeps no directory of the user's busy. The server closes what
	 * else came through (a descriptor pyfsd inherited without
	 * close-on-exec) first thing: valgrind, which the tests run pyfsd
	 * under, cannot do it in posix_spawn()'s child. */
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, listen_copy, 3);
	posix_spawn_file_actions_adddup2(&actions, control_copy, 4);
	posix_spawn_file_actions_addchdir_np(&actions, "/");
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawn(&pid, argv[0], &actions, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&actions);
	if (listen_copy >= 0)
		close(listen_copy);
	if (control_copy >= 0)
		close(control_copy);
	if (r != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(r), "Cannot start %s: %s",
			    argv[0], g_strerror(r));
		return 0;
	}
	return pid;
}

void pyfs_server_wait_for_exit(GArray *pids, gint64 deadline)
{
	for (guint i = 0; i < pids->len; i++) {
		GPid pid = g_array_index(pids, GPid, i);
		int pidfd = pidfd_open(pid, 0);
		gint64 left = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		/* Bounded: a server that does not stop (stopped, stuck) is killed. */
		if (pidfd >= 0 && poll(&pfd, 1, MAX(left, 0)) == 0) {
			g_warning("The call server (pid %d) did not stop; killing it", pid);
			kill(pid, SIGKILL);
		}
		if (pidfd >= 0)
			close(pidfd);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}
