/* SPDX-License-Identifier: MIT */
/*
 * The call server's import phase, before it serves: the code watch begins
 * before the first import, the modules pyfsd names are imported, and once
 * pyfsd says SERVE the server readies what its spares will share (the
 * runner's modules, its warmed-up code, a frozen heap). When pyfsd is told
 * of each step, and what the phases are: pyfs-callserver-process.c.
 */
#include "pyfs-python.h"

#include <fcntl.h>
#include <unistd.h>

#include "pyfs-callserver-private.h"

/* Imported in the server once, so that no call pays for them (see pyfs_runner.py). */
static const char *const runner_modules[] = {
	"io", "signal", "select", "json", "inspect", "traceback", NULL,
};

/*
 * Before the first import: no module is run from stale bytecode, and
 * sys.path's directories are watched, so that any change made from now on
 * to what is imported from them is queued.
 */
void pyfs_callserver_begin_imports(Server *s)
{
	g_autoptr(GError) error = NULL;
	PYFS_PYREF trusted = NULL;
	gboolean changed;

	trusted = PyObject_CallMethod(s->runner, "trust_no_stale_bytecode", NULL); /* New reference */
	if (trusted == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		g_warning("Call server: %s", reason);
	}
	s->watched_ns = pyfs_codewatch_now_ns();
	s->watch = pyfs_codewatch_new(&error);
	if (s->watch != NULL &&
	    !pyfs_codewatch_update(s->watch, s->runner, G_MAXINT64, &changed, &error))
		g_clear_pointer(&s->watch, pyfs_codewatch_free);
	if (s->watch == NULL)
		g_warning("Call server: %s; calls may run code older than the files", error->message);
}

void pyfs_callserver_import(const char *name)
{
	PYFS_PYREF module = PyImport_ImportModule(name); /* New reference */

	if (module == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		/* python3 would raise the same: each call that needs it will. */
		g_message("Call server: cannot import %s (calls of it will say why): %s", name,
			  reason);
	}
}

/*
 * The runner's code, run a few times in the server itself, is specialised
 * there (3.11's adaptive interpreter rewrites hot code in place) once for
 * all spares, which then copy fewer pages warming up.
 */
static void warm_up_server(Server *s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int saved[3];

	if (null < 0)
		return;
	for (int i = 0; i < 3; i++) {
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
		dup2(null, i);
	}
	pyfs_callserver_warm_up(s, "warm_up_server", 10);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	close(null);
}

/* What the server holds now is there for good: the collector of a spare
 * or a call need not walk it, and so need not copy its pages. */
static void freeze(void)
{
	PYFS_PYREF gc = PyImport_ImportModule("gc");                             /* New reference */
	PYFS_PYREF frozen = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL; /* New reference */

	PyErr_Clear();
}

/* The code imported, watched from now on; TRUE if a directory watched
 * only now changed since the watch began. */
static gboolean watch_code(Server *s)
{
	g_autoptr(GError) error = NULL;
	gboolean changed = FALSE;

	if (s->watch != NULL &&
	    !pyfs_codewatch_update(s->watch, s->runner, s->watched_ns, &changed, &error)) {
		g_warning("Call server: %s; calls may run code older than the files",
			  error->message);
		g_clear_pointer(&s->watch, pyfs_codewatch_free);
	}
	return changed;
}

gboolean pyfs_callserver_end_imports(Server *s)
{
	for (const char *const *name = runner_modules; *name != NULL; name++) {
		PYFS_PYREF module = PyImport_ImportModule(*name); /* New reference */

		PyErr_Clear();
	}
	warm_up_server(s);
	freeze();
	return watch_code(s);
}
