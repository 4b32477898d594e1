/* SPDX-License-Identifier: MIT */
/*
 * pyfsd's side of the call server: the call socket of the mount, and the
 * supervision of the server processes it spawns (see pyfs-callserver.c;
 * the server itself is src/callserver/server/).
 */
#pragma once

#include <glib.h>

#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct _PyfsCallServer PyfsCallServer;

typedef struct {
	const char *venv;		/* the virtual environment, or NULL */
	const char *const *extra_path;	/* path= of pyfsd.conf, appended to sys.path */
	const char *const *sys_path;	/* pyfsd's sys.path, for the fallback */
	guint timeout_s;		/* the bound of each import in a server */
	gboolean debug;
} PyfsCallServerConfig;

/*
 * Creates the call socket of the mount on @mountpoint, and starts writing
 * the runner file beside it: before the interpreter starts, so that the
 * two overlap. Calls that connect meanwhile wait in the socket's backlog.
 */
PyfsCallServer *pyfs_callserver_new(const char *mountpoint, GError **error);

/*
 * Writes the fallback file; the main loop's first iteration then spawns
 * the first server, which imports @registry's modules; from then on it
 * follows the registry's changes. Main thread: the supervision runs in its
 * main loop. Until a server serves, calls run with python3. On failure
 * @server is to be freed.
 */
gboolean pyfs_callserver_start(PyfsCallServer *server, PyfsRegistry *registry,
			       const PyfsCallServerConfig *config, GError **error);

/* The socket to name in executable files; NULL for a NULL server. */
const char *pyfs_callserver_socket(PyfsCallServer *server);

/*
 * A fresh import of everything for the calls (Reload()), as a
 * PyfsReloader of the registry: the server serving now takes no more
 * calls (they run with python3 meanwhile), and a new one starts. Any
 * thread; never fails.
 */
gboolean pyfs_callserver_reloader(gpointer server, GError **error);

/*
 * Stops every server (running calls get SIGTERM, then SIGKILL), waits for
 * them (bounded) and removes the socket. Main thread, once nothing can
 * change the registry any more (the server is one of its listeners).
 */
void pyfs_callserver_free(PyfsCallServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCallServer, pyfs_callserver_free)

G_END_DECLS
