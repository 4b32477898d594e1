/* SPDX-License-Identifier: MIT */
/*
 * A call server's process, as pyfsd starts and ends it: spawned, never
 * forked (pyfsd has threads), with nothing of pyfsd's but the two sockets;
 * and at the stop, waited for with a bound.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Spawns @argv (argv[0] the program) with /dev/null as 0 and 1, pyfsd's
 * stderr as 2, @listen_fd as 3 and @control_fd as 4, "/" as working
 * directory, no signal blocked or ignored. 0 with @error set on failure.
 */
GPid pyfs_server_spawn(const char *const *argv, int listen_fd, int control_fd, GError **error);

/*
 * Waits for @pids (children of ours) until @deadline (monotonic), then
 * kills what is left (logged); reaps them all.
 */
void pyfs_server_wait_for_exit(GArray *pids, gint64 deadline);

G_END_DECLS
