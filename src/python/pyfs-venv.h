/* SPDX-License-Identifier: MIT */
/*
 * A virtual environment, as `python3 -m venv` or virtualenv make one: a
 * directory with a pyvenv.cfg that names the Python it was made from, and
 * its own bin/python. Started with that program name, an interpreter
 * finds the environment as its own python does: its sys.prefix, its
 * site-packages and their .pth files.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The interpreter of @dir (DIR/bin/python) when @dir is a virtual
 * environment made from Python @major.@minor; else NULL, with an error
 * that says what @dir is instead.
 */
char *pyfs_venv_python(const char *dir, guint major, guint minor, GError **error);

G_END_DECLS
