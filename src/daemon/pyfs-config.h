/* SPDX-License-Identifier: MIT */
/*
 * The user's configuration file, $XDG_CONFIG_HOME/pyfs/pyfsd.conf, a
 * GKeyFile (data/pyfsd.conf is the documented example):
 *
 *   [pyfsd]
 *   modules=json;os;sys   the module list when none was saved (and no -m)
 *   path=~/lib/python     appended to sys.path, in order
 *   venv=~/venvs/work     the virtual environment to serve (pyfs-venv.h)
 *
 * Keys and groups it does not know are ignored, so that a newer file
 * still works with an older pyfsd.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	GStrv modules;  /* valid names; NULL when the file does not set the key */
	GStrv path;     /* absolute directories; never NULL */
	char *venv;     /* an absolute directory; NULL when the file does not set it */
} PyfsConfig;

PyfsConfig *pyfs_config_new(void);
void pyfs_config_free(PyfsConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsConfig, pyfs_config_free)

/* $XDG_CONFIG_HOME/pyfs/pyfsd.conf */
char *pyfs_config_path(void);

/*
 * Parses @len bytes of a configuration file. A path or venv entry "~" or
 * "~/..." is under @home; other relative entries, invalid module names
 * and key file syntax errors make the whole file invalid (NULL and
 * @error): a file half applied would be harder to notice than one
 * refused with a message. Empty list entries are ignored.
 */
PyfsConfig *pyfs_config_parse(const char *data, gsize len, const char *home, GError **error);

/* Reads and parses @path; a missing file is an empty configuration, not an error. */
PyfsConfig *pyfs_config_load(const char *path, const char *home, GError **error);

G_END_DECLS
