/* SPDX-License-Identifier: MIT */
/* The command line: pyfsd [OPTION...] MOUNTPOINT (see pyfsd(1)). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	char *mountpoint;     /* absolute */
	gboolean foreground;
	gboolean debug;
	guint timeout;        /* seconds Python code may run for one request */
	GStrv modules;        /* -m, in order; NULL when none was given */
	char *venv;           /* --venv, absolute; NULL when not given */
	char *mount_options;  /* the -o options joined with ","; NULL when none */
	gboolean allow_others; /* other users may read, list and run (pyfs-access.h) */
	gboolean version;
} PyfsOptions;

void pyfs_options_free(PyfsOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsOptions, pyfs_options_free)

/*
 * Parses @argv. Returns NULL with @error set on bad usage (the message says
 * what, and to try --help). --help prints and exits, as GOption does.
 */
PyfsOptions *pyfs_options_parse(int argc, char **argv, GError **error);

G_END_DECLS
