/* SPDX-License-Identifier: MIT */
/*
 * Threads: the timer and the pings run on the main thread; the checks on
 * one thread of our own ("pyfs-watchdog"), not GLib's shared pool, which
 * a hung check must not hold up. They meet under w->lock, a leaf lock, and
 * the checker tells the main loop that a check finished through w->done
 * (pyfs-wakeup.h). At stop, a hung check is not waited out: it is left,
 * with what it uses, to the exit.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <systemd/sd-daemon.h>

#include "pyfs-wakeup.h"
#include "pyfs-watchdog.h"

struct _PyfsWatchdog {
	char *mountpoint;
	gint64 period;          /* half of WATCHDOG_USEC: the tick */
	gint64 deadline;        /* half a period: a check later than that earns no ping */
	guint timer_id;
	guint late_id;          /* fires at the deadline of the check under way */
	GSource *done;          /* signalled by the checker when a check finished */
	GThread *thread;
	gboolean failing;       /* main thread: a failure was logged, not yet the recovery */

	GMutex lock;            /* guards what follows; a leaf lock */
	GCond cond;             /* a check asked for, a check done, quit */
	gboolean requested;     /* the main loop asks for a check */
	gboolean busy;          /* a check is asked for or under way */
	gboolean quit;
	gint64 started;         /* monotonic: when the current check was asked for */
	gint64 took;            /* how long the last check took, in µs */
	gboolean passed;        /* the last check's result */
	char *failure;          /* why the last check failed */
};

static gboolean mount_answers(const char *mountpoint, GError **error)
{
	g_autofree char *path = g_build_filename(mountpoint, "run", "modules", NULL);
	struct stat st;

	if (stat(path, &st) != 0) {
		int saved = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "stat %s: %s", path,
			    g_strerror(saved));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s is not a file", path);
		return FALSE;
	}
	return TRUE;
}

/* Evaluates an expression: the GIL can be had and the interpreter runs code. */
static gboolean interpreter_answers(GError **error)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF globals = PyDict_New(); /* New reference */
	PYFS_PYREF result = NULL;

	if (globals != NULL)
		result = PyRun_String("6 * 7", Py_eval_input, globals, globals); /* New reference */
	if (result == NULL || !PyLong_Check(result) || PyLong_AsLong(result) != 42) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "The interpreter does not evaluate 6 * 7: %s", reason);
		return FALSE;
	}
	return TRUE;
}

/*
 * One health check of the mount on @mountpoint and of the interpreter.
 * Blocks for as long as either does: never on the main thread. Takes the
 * GIL; called with no pyfs lock held.
 */
static gboolean health_check(const char *mountpoint, GError **error)
{
	return mount_answers(mountpoint, error) && interpreter_answers(error);
}

static gpointer checker(gpointer data)
{
	PyfsWatchdog *w = data;

	g_mutex_lock(&w->lock);
	for (;;) {
		g_autoptr(GError) error = NULL;
		gboolean passed;

		while (!w->requested && !w->quit)
			g_cond_wait(&w->cond, &w->lock);
		if (w->quit)
			break;
		w->requested = FALSE;
		g_mutex_unlock(&w->lock);

		passed = health_check(w->mountpoint, &error);

		g_mutex_lock(&w->lock);
		w->busy = FALSE;
		w->passed = passed;
		w->took = g_get_monotonic_time() - w->started;
		g_free(w->failure);
		w->failure = passed ? NULL : g_strdup(error->message);
		/* For pyfs_watchdog_stop(), which may be waiting. */
		g_cond_broadcast(&w->cond);
		pyfs_wakeup_signal(w->done);
	}
	g_mutex_unlock(&w->lock);
	return NULL;
}

/* Main thread: a check finished. */
static gboolean on_check_done(gpointer user_data)
{
	PyfsWatchdog *w = user_data;
	g_autofree char *failure = NULL;
	gint64 took;
	gboolean passed;

	g_mutex_lock(&w->lock);
	passed = w->passed;
	took = w->took;
	failure = g_strdup(w->failure);
	g_mutex_unlock(&w->lock);

	if (w->late_id != 0)
		g_source_remove(w->late_id);
	w->late_id = 0;
	/* Late is as bad as failed: systemd counts from the last ping. */
	if (passed && took <= w->deadline) {
		sd_notify(0, "WATCHDOG=1");
		if (w->failing)
			g_message("The health check passes again (in %" G_GINT64_FORMAT " ms); "
				  "pinging the watchdog", took / 1000);
		w->failing = FALSE;
		return G_SOURCE_CONTINUE;
	}
	if (!w->failing) {
		if (passed)
			g_warning("The health check took %" G_GINT64_FORMAT " ms, over %"
				  G_GINT64_FORMAT " ms; not pinging the watchdog",
				  took / 1000, w->deadline / 1000);
		else
			g_warning("The health check failed: %s; not pinging the watchdog", failure);
	}
	w->failing = TRUE;
	return G_SOURCE_CONTINUE;
}

/*
 * Main thread, at the deadline of a check that has not returned: say so
 * now, while systemd still waits for a ping (at least half a period more).
 */
static gboolean on_check_late(gpointer user_data)
{
	PyfsWatchdog *w = user_data;

	w->late_id = 0;
	if (!w->failing)
		g_warning("The health check has not returned within %" G_GINT64_FORMAT
			  " ms (the filesystem or the interpreter is stuck); "
			  "not pinging the watchdog", w->deadline / 1000);
	w->failing = TRUE;
	return G_SOURCE_REMOVE;
}

/* Main thread, every period: ask for a check, unless the last one still runs. */
static gboolean on_tick(gpointer user_data)
{
	PyfsWatchdog *w = user_data;
	gboolean started = FALSE;

	g_mutex_lock(&w->lock);
	if (!w->busy) {
		w->busy = TRUE;
		w->requested = TRUE;
		w->started = g_get_monotonic_time();
		g_cond_broadcast(&w->cond);
		started = TRUE;
	}
	g_mutex_unlock(&w->lock);

	/* A check still under way was late already, and said so. */
	if (started)
		w->late_id = g_timeout_add(MAX(w->deadline / 1000, 1), on_check_late, w);
	return G_SOURCE_CONTINUE;
}

PyfsWatchdog *pyfs_watchdog_start(const char *mountpoint)
{
	PyfsWatchdog *w;
	uint64_t usec = 0;
	int r;

	r = sd_watchdog_enabled(0, &usec);
	if (r < 0)
		g_warning("Invalid watchdog settings from systemd: %s, ignoring", g_strerror(-r));
	if (r <= 0)
		return NULL;

	w = g_new0(PyfsWatchdog, 1);
	w->mountpoint = g_strdup(mountpoint);
	w->period = MAX(usec / 2, 2000);
	w->deadline = w->period / 2;
	g_mutex_init(&w->lock);
	g_cond_init(&w->cond);
	w->done = pyfs_wakeup_new(on_check_done, w, "[pyfsd] watchdog check done");

	w->thread = g_thread_new("pyfs-watchdog", checker, w);
	g_message("Watchdog: a health check every %.1f s, a ping when it passes",
		  w->period / (double)G_USEC_PER_SEC);
	/* The first ping need not wait a whole period. */
	on_tick(w);
	w->timer_id = g_timeout_add(w->period / 1000, on_tick, w);
	return w;
}

gboolean pyfs_watchdog_stop(PyfsWatchdog *w)
{
	gint64 end = g_get_monotonic_time() + PYFS_WATCHDOG_STOP_WAIT_MS * G_TIME_SPAN_MILLISECOND;
	gboolean stuck;

	if (w == NULL)
		return TRUE;
	g_source_remove(w->timer_id);
	if (w->late_id != 0)
		g_source_remove(w->late_id);
	/* No ping from a check that ends from now on. */
	g_source_destroy(w->done);

	g_mutex_lock(&w->lock);
	w->quit = TRUE;
	/* Asked for but not begun: it never will be. */
	if (w->requested) {
		w->requested = FALSE;
		w->busy = FALSE;
	}
	g_cond_broadcast(&w->cond);
	/* A check under way ends while the mount is served and the interpreter runs... */
	while (w->busy)
		if (!g_cond_wait_until(&w->cond, &w->lock, end))
			break;
	stuck = w->busy;
	g_mutex_unlock(&w->lock);
	/* ... or it is what the watchdog is there to catch: leave it. */
	if (stuck)
		return FALSE;
	g_thread_join(w->thread);
	g_source_unref(w->done);
	g_mutex_clear(&w->lock);
	g_cond_clear(&w->cond);
	g_free(w->failure);
	g_free(w->mountpoint);
	g_free(w);
	return TRUE;
}
