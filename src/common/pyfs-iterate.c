/* SPDX-License-Identifier: MIT */
#include "pyfs-iterate.h"

static gboolean on_timeout(gpointer user_data)
{
	gboolean *timed_out = user_data;

	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

gboolean pyfs_iterate_until(PyfsDoneFunc done, gpointer data, guint timeout_ms)
{
	gboolean timed_out = FALSE;
	guint timeout_id;

	if (done(data))
		return TRUE;
	timeout_id = g_timeout_add(timeout_ms, on_timeout, &timed_out);
	while (!done(data) && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(timeout_id);
	return !timed_out;
}
