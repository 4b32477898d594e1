/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include <glib-unix.h>

#include "pyfs-callargs.h"
#include "pyfs-codewatch.h"
#include "pyfs-deadline.h"
#include "pyfs-error.h"
#include "pyfs-livecode.h"
#include "pyfs-log.h"
#include "pyfs-runner-code.h"

typedef struct {
	PyfsLivecodeListener func;
	gpointer user_data;
} Listener;

struct _PyfsLivecode {
	PyfsRegistry *registry;
	PyObject *runner;	/* pyfs_runner (which holds pyfs_livecode.py): for good */
	PyfsCodeWatch *watch;
	guint watch_id;		/* the main loop's look at the watch */

	GMutex watch_lock;	/* guards reading the watch and pending; a leaf */
	gboolean pending;	/* a change was seen, and no fresh import began since */

	GMutex gate_lock;	/* guards the gate's counts; a leaf */
	GCond gate_cond;
	guint readers;		/* requests running Python code for the tree */
	gboolean writer;	/* a fresh import runs */
	guint writers_waiting;	/* fresh imports waiting: they go before new readers */

	GArray *listeners;	/* of Listener; changed only while no fresh import can run */
};

/* --- The gate ------------------------------------------------------------------ */

void pyfs_livecode_leave(PyfsLivecode *livecode)
{
	g_autoptr(GMutexLocker) locker = NULL;

	if (livecode == NULL)
		return;
	locker = g_mutex_locker_new(&livecode->gate_lock);
	if (--livecode->readers == 0)
		g_cond_broadcast(&livecode->gate_cond);
}

static void gate_enter_shared(PyfsLivecode *livecode)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&livecode->gate_lock);

	while (livecode->writer || livecode->writers_waiting > 0)
		g_cond_wait(&livecode->gate_cond, &livecode->gate_lock);
	livecode->readers++;
}

static void gate_enter_alone(PyfsLivecode *livecode)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&livecode->gate_lock);

	livecode->writers_waiting++;
	while (livecode->writer || livecode->readers > 0)
		g_cond_wait(&livecode->gate_cond, &livecode->gate_lock);
	livecode->writers_waiting--;
	livecode->writer = TRUE;
}

static void gate_leave_alone(PyfsLivecode *livecode)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&livecode->gate_lock);

	livecode->writer = FALSE;
	g_cond_broadcast(&livecode->gate_cond);
}

/* --- Noticing -------------------------------------------------------------------- */

/* Whether the code changed since the last fresh import began. */
static gboolean changed(PyfsLivecode *livecode)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&livecode->watch_lock);

	if (pyfs_codewatch_changed(livecode->watch))
		livecode->pending = TRUE;
	return livecode->pending;
}

/* Watches what was imported since (GIL held); a change it may have missed
 * since @since_ns is taken for one. */
static void watch_imported(PyfsLivecode *livecode, gint64 since_ns)
{
	g_autoptr(GError) error = NULL;
	gboolean missed = FALSE;

	if (!pyfs_codewatch_update(livecode->watch, livecode->runner, since_ns, &missed, &error)) {
		g_warning("%s; the tree may show code older than the files", error->message);
		return;
	}
	if (missed) {
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&livecode->watch_lock);

		livecode->pending = TRUE;
	}
}

/* --- Fresh imports ---------------------------------------------------------------- */

typedef struct {
	PyfsLivecode *livecode;
	GStrv names;
	gint64 since_ns;
	GError *error;
} FreshJob;

static void fresh_job_free(gpointer data)
{
	FreshJob *job = data;

	g_strfreev(job->names);
	g_clear_error(&job->error);
	g_free(job);
}

/* On a deadline worker. */
static void fresh_import_work(gpointer data)
{
	FreshJob *job = data;
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF names = PyList_New(0); /* New reference */
	PYFS_PYREF dropped = NULL;
	gboolean listed = names != NULL;

	for (char **name = job->names; listed && *name != NULL; name++) {
		PYFS_PYREF item = PyUnicode_FromString(*name); /* New reference */

		listed = item != NULL && PyList_Append(names, item) == 0;
	}
	if (listed)
		dropped = PyObject_CallMethod(job->livecode->runner, "fresh_import", "O",
					      names); /* New reference */
	if (dropped == NULL) {
		g_autofree char *traceback = NULL;
		g_autofree char *reason = pyfs_python_take_exception(&traceback);

		g_set_error(&job->error, PYFS_ERROR, PYFS_ERROR_IMPORT_FAILED,
			    "The new code does not import, and the modules stay as they were: %s",
			    reason);
		pyfs_error_set_traceback(job->error, traceback);
	} else {
		g_debug("Imported the modules afresh (%ld modules dropped)",
			PyLong_AsLong(dropped));
		PyErr_Clear();
	}
	watch_imported(job->livecode, job->since_ns);
}

/* Whether a fresh import is due (always, @forced); it is no longer pending. */
static gboolean take_pending(PyfsLivecode *livecode, gboolean forced)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&livecode->watch_lock);
	gboolean due = forced || livecode->pending || pyfs_codewatch_changed(livecode->watch);

	livecode->pending = FALSE;
	return due;
}

/* A fresh import of the listed modules: when the code changed, or always
 * with @forced. Any thread, without the GIL, the gate or a pyfs lock. */
static gboolean fresh_import(PyfsLivecode *livecode, gboolean forced, GError **error)
{
	g_autoptr(PyfsModlist) list = NULL;
	g_autoptr(GError) local = NULL;
	FreshJob *job;

	gate_enter_alone(livecode);
	/* Another thread may have imported afresh meanwhile. */
	if (!take_pending(livecode, forced)) {
		gate_leave_alone(livecode);
		return TRUE;
	}
	list = pyfs_registry_snapshot(livecode->registry);
	job = g_new0(FreshJob, 1);
	job->livecode = livecode;
	job->names = pyfs_modlist_to_strv(list);
	job->since_ns = pyfs_codewatch_now_ns();
	/* Timed out, the job belongs to the work, which goes on abandoned (the
	 * tree may then show the old code and the new mixed). */
	if (pyfs_deadline_run("A fresh import of the modules", fresh_import_work, job,
			      fresh_job_free, &local) && job->error != NULL)
		local = g_steal_pointer(&job->error);
	if (local == NULL || local->code != PYFS_ERROR_TIMED_OUT)
		fresh_job_free(job);
	gate_leave_alone(livecode);
	/* What was rendered from the old code goes, the old code stayed or not. */
	for (guint i = 0; i < livecode->listeners->len; i++) {
		Listener *l = &g_array_index(livecode->listeners, Listener, i);

		l->func(l->user_data);
	}
	if (local != NULL) {
		g_propagate_error(error, g_steal_pointer(&local));
		return FALSE;
	}
	return TRUE;
}

/* A fresh import when the code changed; nobody asked, so a failure is logged. */
static void follow_changes(PyfsLivecode *livecode)
{
	g_autoptr(GError) error = NULL;

	if (changed(livecode) && !fresh_import(livecode, FALSE, &error))
		pyfs_log_error(G_LOG_LEVEL_WARNING, error, "Source files changed");
}

void pyfs_livecode_enter(PyfsLivecode *livecode)
{
	if (livecode == NULL)
		return;
	follow_changes(livecode);
	gate_enter_shared(livecode);
}

gboolean pyfs_livecode_reload(PyfsLivecode *livecode, GError **error)
{
	return fresh_import(livecode, TRUE, error);
}

gboolean pyfs_livecode_reloader(gpointer livecode, GError **error)
{
	return pyfs_livecode_reload(livecode, error);
}

/* Main thread: news from the watch, even when no request comes. */
static gboolean on_watch(int fd, GIOCondition condition, gpointer user_data)
{
	follow_changes(user_data);
	return G_SOURCE_CONTINUE;
}

/* Any thread, after a commit: what the change imported is watched too. */
static void watch_newly_imported(const PyfsModlist *now, gpointer user_data)
{
	PyfsLivecode *livecode = user_data;
	PYFS_GIL_SCOPE gil = pyfs_python_enter();

	/* It imported a moment ago at the most. */
	watch_imported(livecode, pyfs_codewatch_now_ns() - G_GINT64_CONSTANT(1000000000));
}

PyfsLivecode *pyfs_livecode_new(PyfsRegistry *registry, GError **error)
{
	g_autoptr(PyfsLivecode) livecode = g_new0(PyfsLivecode, 1);
	gboolean missed;

	g_mutex_init(&livecode->watch_lock);
	g_mutex_init(&livecode->gate_lock);
	g_cond_init(&livecode->gate_cond);
	livecode->registry = registry;
	livecode->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
	livecode->watch = pyfs_codewatch_new(error);
	if (livecode->watch == NULL)
		return NULL;
	{
		PYFS_GIL_SCOPE gil = pyfs_python_enter();
		PYFS_PYREF trusted = NULL;

		livecode->runner = pyfs_python_load_module("pyfs_runner", pyfs_call_runner_source,
							   pyfs_call_runner_code, pyfs_call_runner_code_size,
							   error);
		if (livecode->runner == NULL)
			return NULL;
		/* Before the first import: no module is run from stale bytecode. */
		trusted = PyObject_CallMethod(livecode->runner, "trust_no_stale_bytecode", NULL);
		if (trusted == NULL ||
		    !pyfs_codewatch_update(livecode->watch, livecode->runner, G_MAXINT64, &missed,
					   error)) {
			if (trusted == NULL) {
				g_autofree char *reason = pyfs_python_take_exception(NULL);

				g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "%s", reason);
			}
			return NULL;
		}
	}
	pyfs_registry_add_listener(registry, watch_newly_imported, livecode);
	livecode->watch_id = g_unix_fd_add(pyfs_codewatch_fd(livecode->watch), G_IO_IN, on_watch,
					   livecode);
	return g_steal_pointer(&livecode);
}

void pyfs_livecode_add_listener(PyfsLivecode *livecode, PyfsLivecodeListener listener,
				gpointer user_data)
{
	Listener l = { listener, user_data };

	g_array_append_val(livecode->listeners, l);
}

void pyfs_livecode_remove_listener(PyfsLivecode *livecode, PyfsLivecodeListener listener,
				   gpointer user_data)
{
	for (guint i = 0; i < livecode->listeners->len; i++) {
		Listener *l = &g_array_index(livecode->listeners, Listener, i);

		if (l->func == listener && l->user_data == user_data) {
			g_array_remove_index(livecode->listeners, i);
			return;
		}
	}
}

void pyfs_livecode_free(PyfsLivecode *livecode)
{
	if (livecode == NULL)
		return;
	if (livecode->watch_id != 0)
		g_source_remove(livecode->watch_id);
	if (livecode->runner != NULL) {
		PYFS_GIL_SCOPE gil = pyfs_python_enter();

		Py_CLEAR(livecode->runner);
	}
	g_clear_pointer(&livecode->watch, pyfs_codewatch_free);
	g_array_unref(livecode->listeners);
	g_cond_clear(&livecode->gate_cond);
	g_mutex_clear(&livecode->gate_lock);
	g_mutex_clear(&livecode->watch_lock);
	g_free(livecode);
}
