/* SPDX-License-Identifier: MIT */
/*
 * Python work under a time limit.
 *
 * Code that a request runs on the user's behalf (an import, a value's
 * __str__, a module's __dir__ or __getattr__) may block or loop forever.
 * Such work runs on a pool of worker threads while the requesting thread
 * waits for it at most the limit. Past it, the request fails with
 * PYFS_ERROR_TIMED_OUT and the work is abandoned: TimeoutError is raised
 * in its thread (which ends Python code that loops; code blocked in a
 * system call sees it once the call returns), and its result is dropped
 * when it ends. While abandoned work is still running, the same work
 * (same description) fails at once instead of starting again, so one
 * hung object holds one thread, not one per attempt.
 *
 * The requesting thread must not hold the GIL (the work needs it) nor any
 * pyfs lock. The work takes the GIL itself.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The default limit, in seconds (pyfsd --timeout). */
#define PYFS_DEADLINE_DEFAULT_S 10

/*
 * pyfsd's pool: the GIL lets one worker run Python at a time; more are
 * there for work blocked outside it (I/O, or hung code not yet ended). A
 * stuck worker counts against them until its code ends.
 */
#define PYFS_DEADLINE_WORKERS 8

/*
 * Starts a pool of @n_workers (> 0) threads with a limit of @seconds (> 0).
 * Until then work runs on the calling thread, without a limit: pyfsd
 * imports its modules before it starts any thread that could wait for
 * them (and under systemd, the start timeout bounds that).
 */
void pyfs_deadline_start(guint seconds, guint n_workers);

typedef void (*PyfsDeadlineFunc)(gpointer data);

/*
 * Runs @func(@data) on a worker and waits at most the limit. TRUE: @func
 * returned and @data is the caller's again. FALSE (PYFS_ERROR_TIMED_OUT,
 * naming @what, e.g. "import of re"): @data belongs to the abandoned
 * work, which frees it with @free_data once done with it: after @func
 * returned and the TimeoutError raised in it is settled, or when taken
 * from the queue if it never started. A TimeoutError meant for abandoned
 * work never reaches other work. It fails at once, without waiting, while
 * the same work still runs from an earlier request that timed out, and
 * while every worker is held by such work.
 */
gboolean pyfs_deadline_run(const char *what, PyfsDeadlineFunc func, gpointer data,
			   GDestroyNotify free_data, GError **error);

/*
 * Called from the work: it now runs code on behalf of @what (say, one
 * attribute of a module being listed). Should it time out there, @what is
 * what the error names and what stays marked abandoned, not the whole.
 */
void pyfs_deadline_working_on(const char *what);

/* Whether work on @what ever timed out (since the start). */
gboolean pyfs_deadline_timed_out_before(const char *what);

/* Whether abandoned work on @what is still running. */
gboolean pyfs_deadline_is_abandoned(const char *what);

/* How many abandoned pieces of work are still running. */
guint pyfs_deadline_abandoned(void);

G_END_DECLS
