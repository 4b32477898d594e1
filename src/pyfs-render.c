/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include "pyfs-render.h"

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

GBytes *pyfs_render_value(PyObject *value, const char *what, gsize limit)
{
	g_autoptr(GString) out = g_string_new(NULL);
	gboolean ok;

	if (PyList_Check(value) || PyTuple_Check(value) || PyAnySet_Check(value)) {
		ok = render_lines(out, value, limit);
	} else if (is_mapping(value)) {
		ok = render_mapping(out, value, limit);
	} else {
		ok = append_str(out, value);
		if (ok)
			g_string_append_c(out, '\n');
	}

	if (!ok) {
		g_autofree char *traceback = NULL;
		g_autofree char *reason = pyfs_python_take_exception(&traceback);

		g_warning("Cannot render %s: %s", what, reason);
		g_debug("%s", traceback ? traceback : "");
		g_string_printf(out, "[pyfs: cannot render %s: %s]\n", what, reason);
	} else if (out->len > limit) {
		g_string_truncate(out, limit);
		g_string_append_printf(out, "\n[pyfs: truncated at %" G_GSIZE_FORMAT " bytes]\n",
				       limit);
	}
	return g_string_free_to_bytes(g_steal_pointer(&out));
}
