/* SPDX-License-Identifier: MIT */
/*
 * The call server: a process forked from pyfsd while it has a single
 * thread, with the module list imported, that runs each call of an
 * executable file in a child of its own (see pyfs-callserver.c).
 */
#pragma once

#include <glib.h>

#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct _PyfsCallServer PyfsCallServer;

/*
 * Creates the socket of the mount on @mountpoint and forks the server,
 * which inherits the interpreter as it is: call it on the main thread,
 * with Python initialised (GIL released) and @registry's modules imported,
 * before any other thread exists; it fails, having started nothing, if
 * another thread exists. Modules added to @registry later are imported by
 * the server too. @close_fd (or -1) is a descriptor of pyfsd's that the
 * server must not keep open (the detaching parent's pipe); @detached says
 * that pyfsd is letting go of its stdio, which the server then does at once.
 */
PyfsCallServer *pyfs_callserver_start(PyfsRegistry *registry, const char *mountpoint,
				      int close_fd, gboolean detached, GError **error);

/* The socket to name in executable files; NULL for a NULL server. */
const char *pyfs_callserver_socket(PyfsCallServer *server);

/*
 * Stops the server (running calls get SIGTERM, then SIGKILL), waits for it
 * (bounded) and removes the socket. Main thread, once nothing can change
 * the registry any more (the server is one of its listeners).
 */
void pyfs_callserver_free(PyfsCallServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCallServer, pyfs_callserver_free)

G_END_DECLS
