/* SPDX-License-Identifier: MIT */
#include "pyfs-wakeup.h"

/* Ready once per signal: back to "never" before the callback runs, so a signal meanwhile counts. */
static gboolean wakeup_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	g_source_set_ready_time(source, -1);
	return callback(user_data);
}

static GSourceFuncs wakeup_funcs = { .dispatch = wakeup_dispatch };

GSource *pyfs_wakeup_new(GSourceFunc func, gpointer data, const char *name)
{
	GSource *source = g_source_new(&wakeup_funcs, sizeof(GSource));

	g_source_set_callback(source, func, data, NULL);
	g_source_set_static_name(source, name);
	g_source_attach(source, NULL);
	return source;
}

void pyfs_wakeup_signal(GSource *wakeup)
{
	g_source_set_ready_time(wakeup, 0);
}
