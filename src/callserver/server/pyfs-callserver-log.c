/* SPDX-License-Identifier: MIT */
/*
 * Where the call server's log records go: to pyfsd over the control
 * channel, so that they reach pyfsd's log with pyfsd's fields; a spare's
 * (and the server's, when pyfsd does not take them) to standard error,
 * which is pyfsd's.
 */
#include "pyfs-python.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyfs-callserver-private.h"
#include "pyfs-control.h"

static int log_fd = -1;
static gboolean log_debug;

void pyfs_callserver_log_to_stderr(void)
{
	log_fd = -1;
}

gboolean pyfs_callserver_log_debugging(void)
{
	return log_debug;
}

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
				   gpointer user_data)
{
	const char *message = NULL;

	if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++)
		if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
			message = fields[i].value;
	if (message == NULL)
		return G_LOG_WRITER_UNHANDLED;
	if (log_fd >= 0 &&
	    pyfs_control_send(log_fd, PYFS_CONTROL_LOG, level & G_LOG_LEVEL_MASK, message) == 0)
		return G_LOG_WRITER_HANDLED;
	fprintf(stderr, "pyfs-callserver[%d]: %s\n", (int)getpid(), message);
	fflush(stderr);
	return G_LOG_WRITER_HANDLED;
}

void pyfs_callserver_log_setup(int control_fd, gboolean debug)
{
	log_fd = control_fd;
	log_debug = debug;
	g_log_set_writer_func(log_writer, NULL, NULL);
}
