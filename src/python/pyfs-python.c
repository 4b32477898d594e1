/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include <marshal.h>

#include "config.h"
#include "pyfs-error.h"
#include "pyfs-venv.h"

/*
 * Appends @dirs to sys.path (GIL held). Not through PyConfig: since 3.11,
 * PyConfig_Read() leaves module_search_paths empty, and setting it then
 * replaces the computed path instead of extending it.
 */
static gboolean append_sys_path(const char *const *dirs, GError **error)
{
	PyObject *path = PySys_GetObject("path"); /* Borrowed */

	for (const char *const *p = dirs; p != NULL && *p != NULL; p++) {
		PYFS_PYREF entry = PyUnicode_DecodeFSDefault(*p); /* New reference */

		if (path == NULL || entry == NULL || PyList_Append(path, entry) != 0) {
			g_autofree char *reason = pyfs_python_take_exception(NULL);

			g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
				    "Cannot add “%s” to sys.path: %s", *p, reason);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean pyfs_python_init(const char *venv, const char *const *extra_path, GError **error)
{
	g_autofree char *program = g_strdup(PYFS_PYTHON);
	PyConfig config;
	PyStatus status;

	if (venv != NULL) {
		g_free(program);
		program = pyfs_venv_python(venv, PY_MAJOR_VERSION, PY_MINOR_VERSION, error);
		if (program == NULL)
			return FALSE;
	}

	/* The "Python" configuration, not the isolated one: the user expects the
	 * modules their python3 sees, user site-packages and PYTHONPATH included. */
	PyConfig_InitPythonConfig(&config);
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	config.use_environment = 1;

	/* Computing the path from the interpreter's location gives the same
	 * prefix, and so the same sys.path, as running it: the system's
	 * python, or the virtual environment's (its pyvenv.cfg is found
	 * beside its bin/ directory). */
	status = PyConfig_SetBytesString(&config, &config.program_name, program);
	if (PyStatus_Exception(status))
		goto fail;
	status = PyConfig_Read(&config);
	if (PyStatus_Exception(status))
		goto fail;
	status = Py_InitializeFromConfig(&config);
	if (PyStatus_Exception(status))
		goto fail;
	PyConfig_Clear(&config);

	if (!append_sys_path(extra_path, error)) {
		PyEval_SaveThread();
		return FALSE;
	}
	/* Release the GIL: from now on every thread enters through pyfs_python_enter(). */
	PyEval_SaveThread();
	return TRUE;

fail:
	PyConfig_Clear(&config);
	g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "Cannot start Python: %s%s%s",
		    status.func ? status.func : "", status.func ? ": " : "",
		    status.err_msg ? status.err_msg : "unknown error");
	return FALSE;
}

gboolean pyfs_python_check_venv(const char *venv, GError **error)
{
	g_autofree char *python = pyfs_venv_python(venv, PY_MAJOR_VERSION, PY_MINOR_VERSION, error);

	return python != NULL;
}

void pyfs_python_fini(void)
{
	PyGILState_Ensure();
	Py_FinalizeEx();
}

/* @code's code object if it was compiled for this interpreter (its magic
 * number says so), else NULL without an exception. New reference. */
static PyObject *load_code(const unsigned char *code, gsize code_size)
{
	long magic = PyImport_GetMagicNumber();
	const unsigned char ours[4] = {
		magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, (magic >> 24) & 0xff,
	};
	PyObject *object;

	if (magic == -1) {
		PyErr_Clear();
		return NULL;
	}
	if (code == NULL || code_size <= sizeof(ours) || memcmp(code, ours, sizeof(ours)) != 0)
		return NULL;
	object = PyMarshal_ReadObjectFromString((const char *)code + sizeof(ours),
						 (Py_ssize_t)(code_size - sizeof(ours)));
	if (object == NULL || !PyCode_Check(object)) {
		PyErr_Clear();
		Py_XDECREF(object);
		return NULL;
	}
	return object;
}

PyObject *pyfs_python_load_module(const char *name, const char *source,
				  const unsigned char *code, gsize code_size, GError **error)
{
	PYFS_PYREF compiled = load_code(code, code_size); /* New reference */
	PyObject *module = NULL;

	if (compiled == NULL)
		compiled = Py_CompileString(source, name, Py_file_input);
	if (compiled != NULL)
		module = PyImport_ExecCodeModule(name, compiled); /* New reference */
	if (module == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "Cannot load %s: %s", name,
			    reason);
	}
	return module;
}

PyfsGil pyfs_python_enter(void)
{
	return (PyfsGil){ .state = PyGILState_Ensure() };
}

void pyfs_python_leave(PyfsGil *gil)
{
	if (PyErr_Occurred()) {
		g_autofree char *traceback = NULL;
		g_autofree char *line = pyfs_python_take_exception(&traceback);

		g_warning("Unhandled Python exception, ignoring: %s\n%s", line, traceback);
	}
	PyGILState_Release(gil->state);
}

const char *pyfs_python_utf8(PyObject *str, const char *fallback)
{
	const char *utf8 = str ? PyUnicode_AsUTF8(str) : NULL; /* Borrowed, owned by @str */

	if (utf8 == NULL) {
		PyErr_Clear();
		return fallback;
	}
	return utf8;
}

char *pyfs_python_take_exception(char **traceback)
{
	PYFS_PYREF exc_type = NULL;
	PYFS_PYREF exc = NULL;
	PYFS_PYREF exc_tb = NULL;
	PYFS_PYREF type_name = NULL;
	PYFS_PYREF text = NULL;
	PYFS_PYREF tb_module = NULL;
	PYFS_PYREF lines = NULL;
	PYFS_PYREF joined = NULL;
	g_autofree char *line = NULL;

	if (traceback)
		*traceback = NULL;
	PyErr_Fetch(&exc_type, &exc, &exc_tb); /* New references */
	PyErr_NormalizeException(&exc_type, &exc, &exc_tb);
	if (exc != NULL && exc_tb != NULL)
		PyException_SetTraceback(exc, exc_tb);
	if (exc == NULL)
		return g_strdup("unknown error");

	type_name = PyType_GetName(Py_TYPE(exc)); /* New reference */
	text = PyObject_Str(exc);                 /* New reference */
	if (type_name && text && PyUnicode_GetLength(text) > 0)
		line = g_strdup_printf("%s: %s", pyfs_python_utf8(type_name, "Exception"),
				       pyfs_python_utf8(text, "?"));
	else if (type_name)
		line = g_strdup(pyfs_python_utf8(type_name, "Exception"));
	PyErr_Clear();

	if (traceback) {
		tb_module = PyImport_ImportModule("traceback"); /* New reference */
		if (tb_module)
			lines = PyObject_CallMethod(tb_module, "format_exception", "O", exc);
		if (lines) {
			PYFS_PYREF empty = PyUnicode_FromString(""); /* New reference */

			joined = empty ? PyUnicode_Join(empty, lines) : NULL;
		}
		if (joined)
			*traceback = g_strdup(pyfs_python_utf8(joined, ""));
		PyErr_Clear();
	}
	return line ? g_steal_pointer(&line) : g_strdup("unprintable exception");
}

GStrv pyfs_python_sys_path(void)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func(g_free);
	PyObject *path = PySys_GetObject("path"); /* Borrowed */

	for (Py_ssize_t i = 0; path != NULL && PyList_Check(path) && i < PyList_GET_SIZE(path); i++) {
		PyObject *entry = PyList_GET_ITEM(path, i); /* Borrowed */
		PYFS_PYREF bytes = PyUnicode_Check(entry) ? PyUnicode_EncodeFSDefault(entry) : NULL;

		PyErr_Clear();
		if (bytes != NULL)
			g_ptr_array_add(entries, g_strdup(PyBytes_AS_STRING(bytes)));
	}
	g_ptr_array_add(entries, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&entries), FALSE);
}
