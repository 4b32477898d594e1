/* SPDX-License-Identifier: MIT */
/*
 * A gate: opened once by one thread, waited for by others, with a bound.
 * How the unit tests force an interleaving of threads without timing.
 */
#pragma once

#include <glib.h>

/* How long a test waits for a gate before it fails. */
#define GATE_WAIT_S 10

typedef struct {
	GMutex lock;
	GCond cond;
	gboolean open;
} Gate;

static inline void gate_open(Gate *gate)
{
	g_mutex_lock(&gate->lock);
	gate->open = TRUE;
	g_cond_broadcast(&gate->cond);
	g_mutex_unlock(&gate->lock);
}

/* Whether @gate opened within GATE_WAIT_S. */
static inline gboolean gate_wait(Gate *gate)
{
	gint64 end = g_get_monotonic_time() + GATE_WAIT_S * G_TIME_SPAN_SECOND;
	gboolean open;

	g_mutex_lock(&gate->lock);
	while (!gate->open)
		if (!g_cond_wait_until(&gate->cond, &gate->lock, end))
			break;
	open = gate->open;
	g_mutex_unlock(&gate->lock);
	return open;
}

/*
 * Waits for @gate without a bound: for the stand-ins a test holds up (a
 * commit hook, a job) until it releases them. The test fails first, or
 * Check's timeout ends it.
 */
static inline void gate_hold(Gate *gate)
{
	g_mutex_lock(&gate->lock);
	while (!gate->open)
		g_cond_wait(&gate->cond, &gate->lock);
	g_mutex_unlock(&gate->lock);
}
