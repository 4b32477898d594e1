/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle: detach, start the interpreter and the module
 * list, mount, serve until SIGTERM/SIGINT or an unmount from outside, and
 * release everything on the way out.
 */
#pragma once

#include "pyfs-options.h"

G_BEGIN_DECLS

/* Runs pyfsd; returns the process exit status. */
int pyfs_daemon_run(const PyfsOptions *options);

G_END_DECLS
