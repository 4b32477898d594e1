/* SPDX-License-Identifier: MIT */
/*
 * The call socket of a mount: where the dispatchers of its executable
 * files connect (the scripts name it), held by pyfsd for the life of the
 * mount and shared with each call server it spawns; and beside it the
 * fallback file, which tells a dispatcher that cannot be served how to
 * start python3 so that it finds what pyfsd's interpreter finds, and the
 * runner file, the runner python3 then loads (pyfs-runnerfile.h).
 *
 * Both live in $XDG_RUNTIME_DIR/pyfs/ when that is ours and closed to
 * others (as pam_systemd makes it), else in a fresh mkdtemp() directory;
 * the socket is 0600, the directory 0700.
 */
#pragma once

#include <sys/stat.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	int fd;			/* listening, non-blocking, close-on-exec */
	char *path;
	struct stat st;		/* to remove the files only while they are ours */
	char *fallback_path;	/* path + ".fallback" */
	struct stat fallback_st;
	char *runner_path;	/* path + ".runner" (pyfs-runnerfile.h) */
	struct stat runner_st;	/* the writer's until joined */
	GThread *runner_writer;	/* writes the runner file; joined by write_fallback() */
	GError *runner_error;	/* the writer's until joined */
	char *private_dir;	/* the mkdtemp() directory, or NULL */
	char *mountpoint;
	guint refuse_id;	/* pyfsd accepts the calls itself and closes them */
	gboolean refusal_told;
} PyfsCallSocket;

/*
 * Binds and listens on the socket of the mount on @mountpoint, and starts
 * writing the runner file beside it in a thread of its own: its content
 * is fixed, and its 118 KB take milliseconds that pyfsd spends starting
 * its interpreter meanwhile.
 */
PyfsCallSocket *pyfs_callsocket_new(const char *mountpoint, GError **error);

/*
 * Waits until the runner file is written (its error, if any, is this
 * function's), then writes the fallback file: "python=DIR/bin/python"
 * for the virtual environment @venv (if not NULL), which a dispatcher then
 * runs instead of the system's python3, and one "path=DIR" line per entry
 * of @sys_path (pyfsd's sys.path), which it gives python3 as its sys.path.
 * Entries with a line break cannot be written, and are left out.
 */
gboolean pyfs_callsocket_write_fallback(PyfsCallSocket *sock, const char *venv,
					const char *const *sys_path, GError **error);

/*
 * While no call server serves (@refuse), pyfsd accepts each call on the
 * socket itself and closes it before it starts, which makes its
 * dispatcher run the call with python3 at once; logged once per outage.
 * Main thread.
 */
void pyfs_callsocket_refuse_calls(PyfsCallSocket *sock, gboolean refuse);

/* Closes the socket and removes it and the files beside it, if they are still ours. */
void pyfs_callsocket_free(PyfsCallSocket *sock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCallSocket, pyfs_callsocket_free)

G_END_DECLS
