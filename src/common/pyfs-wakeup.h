/* SPDX-License-Identifier: MIT */
/*
 * How another thread hands work to the main thread: a GSource on the
 * default main context that any thread makes ready with
 * pyfs_wakeup_signal() (g_source_set_ready_time() is thread-safe), and
 * that dispatches its callback on the thread iterating that context, the
 * main thread, once for any number of signals since the last dispatch.
 *
 * Unlike g_main_context_invoke(), the callback never runs on the
 * signalling thread, even while nobody iterates the context (during
 * start-up): what it touches stays the main thread's alone. The daemon's
 * lifecycle, the watchdog, the kernel notifications of the mount and the
 * call server's supervision cross threads this way.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A new source, attached to the default main context, calling @func(@data)
 * on each dispatch (its return value decides, as for any GSource, whether
 * the source stays). @name, a static string, names it in debuggers. The caller
 * owns the reference: g_source_destroy() and g_source_unref() it.
 */
GSource *pyfs_wakeup_new(GSourceFunc func, gpointer data, const char *name);

/* Any thread: makes @wakeup dispatch soon on the main thread. */
void pyfs_wakeup_signal(GSource *wakeup);

G_END_DECLS
