/* SPDX-License-Identifier: MIT */
/*
 * pyfs-callserver: the warm interpreter that runs the calls of a pyfs mount.
 *
 * Spawned by pyfsd only (src/callserver/supervisor/pyfs-callserver.c), never run by hand:
 *
 *   pyfs-callserver --instance=MOUNTPOINT --parent=PID [--debug] [--venv=DIR] [--path=DIR...]
 *
 * with the call socket (listening) as descriptor 3 and its end of the
 * control channel (pyfs-control.h) as descriptor 4. It starts Python as
 * pyfsd does (the same virtual environment and sys.path, --path as
 * pyfsd's path=), imports what
 * pyfsd tells it to, and serves (pyfs-callserver-process.c). Its log
 * records go to pyfsd (pyfs-callserver-log.c).
 *
 * The files, each using only those after it: main, process (the loop:
 * control, spares, signals), import (the import phase), jobs (a call's
 * bookkeeping), spare (a process about to become a call), log; each one's
 * job is listed in pyfs-callserver-private.h.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfs-callserver-private.h"
#include "pyfs-control.h"

#define LISTEN_FD 3
#define CONTROL_FD 4
#define CONTROL_SEND_TIMEOUT_S 1

static gboolean is_socket(int fd, int type)
{
	struct stat st;
	int actual;
	socklen_t len = sizeof(actual);

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &actual, &len) == 0 && actual == type;
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *instance = NULL;
	g_autofree char *venv = NULL;
	g_auto(GStrv) path = NULL;
	PyfsCallServerSetup setup = { .listen_fd = LISTEN_FD, .control_fd = CONTROL_FD };
	gint parent = 0;
	gboolean debug = FALSE;
	GOptionEntry entries[] = {
		{ "instance", 0, 0, G_OPTION_ARG_FILENAME, &instance, "The mount served", "DIR" },
		{ "parent", 0, 0, G_OPTION_ARG_INT, &parent, "pyfsd's process id", "PID" },
		{ "debug", 0, 0, G_OPTION_ARG_NONE, &debug, "Log debug messages", NULL },
		{ "venv", 0, 0, G_OPTION_ARG_FILENAME, &venv, "The virtual environment", "DIR" },
		{ "path", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &path, "Append DIR to sys.path", "DIR" },
		{ NULL },
	};

	/* Nothing of pyfsd's but stdio and the two sockets; pyfsd gone, so is
	 * this server. */
	close_range(CONTROL_FD + 1, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	context = g_option_context_new(NULL);
	g_option_context_set_summary(context, "The call server of a pyfs mount, spawned by pyfsd.");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || argc != 1 || parent <= 0) {
		fprintf(stderr, "pyfs-callserver: %s\n",
			error ? error->message : "usage: see pyfs-callserver --help");
		return 2;
	}
	if (getppid() != parent)
		return 0;
	if (!is_socket(LISTEN_FD, SOCK_STREAM) || !is_socket(CONTROL_FD, SOCK_SEQPACKET)) {
		fprintf(stderr, "pyfs-callserver: descriptors 3 and 4 must be pyfsd's sockets\n");
		return 2;
	}
	/* pyfsd reads what the server says as it comes: a wait this long
	 * means it is stuck, and the server goes on without telling it. */
	setsockopt(CONTROL_FD, SOL_SOCKET, SO_SNDTIMEO,
		   &(struct timeval){ .tv_sec = CONTROL_SEND_TIMEOUT_S }, sizeof(struct timeval));
	pyfs_callserver_log_setup(CONTROL_FD, debug);
	g_set_prgname("pyfs-callserver");
	if (!pyfs_python_init(venv, (const char *const *)path, &error)) {
		g_critical("Call server: %s", error->message);
		return 1;
	}
	/* A single thread: it holds the GIL for good. */
	PyGILState_Ensure();
	g_debug("Call server (pid %d) starting for %s", (int)getpid(), instance ? instance : "?");
	pyfs_callserver_run(&setup);
}
