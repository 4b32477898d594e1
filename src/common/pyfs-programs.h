/* SPDX-License-Identifier: MIT */
/*
 * Where pyfsd finds the other programs of pyfs: the dispatcher named by
 * executable files and the call server it spawns.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The program @name: in a build tree, where pyfsd is build/src/daemon/pyfsd
 * and the program build/src/@subdir/@name, that one, so that a build never
 * runs the programs of another installed version; else the installed one,
 * in pyfs's libexec directory.
 */
char *pyfs_program_path(const char *subdir, const char *name);

G_END_DECLS
