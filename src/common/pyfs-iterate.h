/* SPDX-License-Identifier: MIT */
/*
 * Waiting on the main thread for something the main loop brings, with a
 * bound: the start waits for the bus names, the stop for a connection
 * attempt, and neither may wait for ever.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*PyfsDoneFunc)(gpointer data);

/*
 * Iterates the default main context until @done(@data) is TRUE (checked
 * first) or @timeout_ms have passed. FALSE when it timed out.
 */
gboolean pyfs_iterate_until(PyfsDoneFunc done, gpointer data, guint timeout_ms);

G_END_DECLS
