/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include "pyfs-log.h"
#include "pyfs-render.h"

/* pyfs_render_is_plain(): how deep containers may nest, and how many items it looks at. */
#define PLAIN_DEPTH 3
#define PLAIN_ITEMS 4096

/* Appends str(@obj) as UTF-8; lone surrogates become backslash escapes. */
static gboolean append_str(GString *out, PyObject *obj)
{
	PYFS_PYREF text = PyObject_Str(obj); /* New reference */
	PYFS_PYREF utf8 = NULL;

	if (text == NULL)
		return FALSE;
	utf8 = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace"); /* New reference */
	if (utf8 == NULL)
		return FALSE;
	g_string_append_len(out, PyBytes_AS_STRING(utf8), PyBytes_GET_SIZE(utf8));
	return TRUE;
}

static gboolean is_mapping(PyObject *value)
{
	static PyObject *mapping_abc; /* collections.abc.Mapping, kept for the process */
	int r;

	if (PyDict_Check(value))
		return TRUE;
	if (mapping_abc == NULL) {
		PYFS_PYREF abc = PyImport_ImportModule("collections.abc"); /* New reference */

		mapping_abc = abc ? PyObject_GetAttrString(abc, "Mapping") : NULL;
		if (mapping_abc == NULL) {
			PyErr_Clear();
			return FALSE;
		}
	}
	r = PyObject_IsInstance(value, mapping_abc);
	if (r < 0)
		PyErr_Clear();
	return r > 0;
}

static gboolean render_lines(GString *out, PyObject *value, gsize limit)
{
	PYFS_PYREF iter = PyObject_GetIter(value); /* New reference */
	PyObject *item;

	if (iter == NULL)
		return FALSE;
	while (out->len <= limit && (item = PyIter_Next(iter)) != NULL) { /* New reference */
		gboolean ok = append_str(out, item);

		Py_DECREF(item);
		if (!ok)
			return FALSE;
		g_string_append_c(out, '\n');
	}
	return !PyErr_Occurred();
}

static gboolean render_mapping(GString *out, PyObject *value, gsize limit)
{
	PYFS_PYREF keys = PyMapping_Keys(value); /* New reference */
	PYFS_PYREF iter = keys ? PyObject_GetIter(keys) : NULL;
	PyObject *key;

	if (iter == NULL)
		return FALSE;
	while (out->len <= limit && (key = PyIter_Next(iter)) != NULL) { /* New reference */
		PYFS_PYREF item = PyObject_GetItem(value, key); /* New reference */
		gboolean ok = item != NULL && append_str(out, key);

		Py_DECREF(key);
		if (!ok)
			return FALSE;
		g_string_append_c(out, '=');
		if (!append_str(out, item))
			return FALSE;
		g_string_append_c(out, '\n');
	}
	return !PyErr_Occurred();
}

GBytes *pyfs_render_value(PyObject *value, const char *what, gsize limit, gboolean *failed)
{
	g_autoptr(GString) out = g_string_new(NULL);
	gboolean ok;

	if (PyList_Check(value) || PyTuple_Check(value) || PyAnySet_Check(value)) {
		ok = render_lines(out, value, limit);
	} else if (PyDict_Check(value) ||
		   (!pyfs_render_is_plain(value) && is_mapping(value))) {
		ok = render_mapping(out, value, limit);
	} else {
		ok = append_str(out, value);
		if (ok)
			g_string_append_c(out, '\n');
	}

	if (failed != NULL)
		*failed = !ok;
	if (!ok) {
		g_autofree char *traceback = NULL;
		g_autofree char *reason = pyfs_python_take_exception(&traceback);

		if (pyfs_log_first_time(what))
			g_warning("Cannot render %s: %s", what, reason);
		else
			g_debug("Cannot render %s: %s", what, reason);
		g_debug("%s", traceback ? traceback : "");
		g_string_printf(out, "[pyfs: cannot render %s: %s]\n", what, reason);
	} else if (out->len > limit) {
		g_string_truncate(out, limit);
		g_string_append_printf(out, "\n[pyfs: truncated at %" G_GSIZE_FORMAT " bytes]\n",
				       limit);
	}
	/* A block of the exact size: renderings are kept a while, by thousands. */
	if (out->len == 0)
		return g_string_free_to_bytes(g_steal_pointer(&out));
	return g_bytes_new(out->str, out->len);
}

/* str() of these is C code; bytes are not among them (python -b warns through Python). */
static gboolean is_plain_scalar(PyObject *value)
{
	return value == Py_None || PyBool_Check(value) || PyUnicode_CheckExact(value) ||
	       PyLong_CheckExact(value) || PyFloat_CheckExact(value) ||
	       PyComplex_CheckExact(value);
}

/* Whether @value and what it holds are plain; counts the items seen in @budget. */
static gboolean is_plain(PyObject *value, int depth, int *budget)
{
	PyObject *key;
	PyObject *item;
	Py_ssize_t pos = 0;

	if (is_plain_scalar(value))
		return TRUE;
	if (depth >= PLAIN_DEPTH)
		return FALSE;
	if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
		Py_ssize_t n = PySequence_Fast_GET_SIZE(value);

		if ((*budget -= (int)MIN(n, PLAIN_ITEMS + 1)) < 0)
			return FALSE;
		for (Py_ssize_t i = 0; i < n; i++)
			if (!is_plain(PySequence_Fast_GET_ITEM(value, i), depth + 1, budget))
				return FALSE;
		return TRUE;
	}
	if (PyDict_CheckExact(value)) {
		if ((*budget -= (int)MIN(PyDict_GET_SIZE(value), PLAIN_ITEMS + 1)) < 0)
			return FALSE;
		while (PyDict_Next(value, &pos, &key, &item)) /* Borrowed */
			if (!is_plain(key, depth + 1, budget) || !is_plain(item, depth + 1, budget))
				return FALSE;
		return TRUE;
	}
	if (PySet_CheckExact(value) || PyFrozenSet_CheckExact(value)) {
		PYFS_PYREF iter = NULL;
		gboolean plain = TRUE;

		if ((*budget -= (int)MIN(PySet_GET_SIZE(value), PLAIN_ITEMS + 1)) < 0)
			return FALSE;
		iter = PyObject_GetIter(value); /* New reference */
		while (plain && iter != NULL) {
			item = PyIter_Next(iter); /* New reference */
			if (item == NULL)
				break;
			plain = is_plain(item, depth + 1, budget);
			Py_DECREF(item);
		}
		PyErr_Clear();
		return plain && iter != NULL;
	}
	return FALSE;
}

gboolean pyfs_render_is_plain(PyObject *value)
{
	int budget = PLAIN_ITEMS;

	return is_plain(value, 0, &budget);
}
