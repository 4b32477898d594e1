/* SPDX-License-Identifier: MIT */
/*
 * The embedded interpreter.
 *
 * GIL discipline: the interpreter is initialised on the main thread, which
 * then releases the GIL at once. Every entry into Python, from any thread,
 * goes through pyfs_python_enter()/pyfs_python_leave() (or PYFS_GIL_SCOPE,
 * which leaves at the end of the scope); leaving logs and clears any
 * exception still pending, so none leaks into an unrelated caller.
 *
 * Lock order: the live-code gate (pyfs-livecode.h), then the GIL, then
 * pyfs's own locks. The gate is taken without the GIL and without any
 * pyfs lock; the GIL may be taken only while no pyfs lock is held; pyfs's
 * own locks (the registry's, the inode table's) are leaves taken briefly,
 * with or without the GIL, and nothing is called while holding them, but
 * for the registry's commit lock: held across the save of the module list
 * (disk, no Python), and taken before the registry's list lock. Never
 * reply to FUSE while holding the GIL.
 *
 * Include this header before any other: Python.h must come first.
 */
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <glib.h>

G_BEGIN_DECLS

/*
 * Starts the interpreter as the system's python<version> would be started
 * (same sys.path, user site, PYTHON* environment variables), or as the
 * python of the virtual environment @venv (if not NULL; see pyfs-venv.h),
 * with @extra_path appended to sys.path. Leaves the GIL released. No
 * signal handlers are installed: signals belong to the main loop.
 */
gboolean pyfs_python_init(const char *venv, const char *const *extra_path, GError **error);

/* Whether @venv is a virtual environment this interpreter can start in. */
gboolean pyfs_python_check_venv(const char *venv, GError **error);

/*
 * Finalises the interpreter; call once no other thread can enter Python
 * (nor will: work abandoned past its deadline may still want the GIL).
 */
void pyfs_python_fini(void);

/*
 * Runs the module @name, registered in sys.modules (GIL held): @code when
 * it is this interpreter's bytecode (a magic number, then a marshalled
 * code object compiled from @source), else @source compiled now. The
 * module (New reference), or NULL with @error.
 */
PyObject *pyfs_python_load_module(const char *name, const char *source,
				  const unsigned char *code, gsize code_size, GError **error);

typedef struct {
	PyGILState_STATE state;
} PyfsGil;

PyfsGil pyfs_python_enter(void);
void pyfs_python_leave(PyfsGil *gil);

/* A PyfsGil left when it goes out of scope: PYFS_GIL_SCOPE gil = pyfs_python_enter(); */
#define PYFS_GIL_SCOPE __attribute__((cleanup(pyfs_python_leave))) PyfsGil

/* sys.path as it is now, in the file system's encoding; takes the GIL. */
GStrv pyfs_python_sys_path(void);

/*
 * Takes the pending exception (the GIL held): returns its last line,
 * "ModuleNotFoundError: No module named 'x'", and sets @traceback (if not
 * NULL) to the full formatted traceback. Clears the exception. Returns a
 * generic text when none is pending.
 */
char *pyfs_python_take_exception(char **traceback);

/*
 * The UTF-8 of str object @str (borrowed, lives as long as @str), or
 * @fallback when it has none (lone surrogates); never leaves an exception.
 */
const char *pyfs_python_utf8(PyObject *str, const char *fallback);

/* Drops a Python reference when the variable goes out of scope (GIL held). */
static inline void pyfs_py_decref(PyObject **obj)
{
	Py_CLEAR(*obj);
}
#define PYFS_PYREF __attribute__((cleanup(pyfs_py_decref))) PyObject *

G_END_DECLS
