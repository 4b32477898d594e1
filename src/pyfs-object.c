/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include <string.h>

#include <gio/gio.h>

#include "pyfs-error.h"
#include "pyfs-names.h"
#include "pyfs-object.h"

void pyfs_entry_free(PyfsEntry *entry)
{
	if (entry == NULL)
		return;
	g_free(entry->attr);
	g_free(entry->file);
	g_free(entry->target);
	g_free(entry);
}

char *pyfs_object_describe(const char *module, const char *const *attrs)
{
	g_autoptr(GString) name = g_string_new(module);

	for (; attrs != NULL && *attrs != NULL; attrs++) {
		g_string_append_c(name, '.');
		g_string_append(name, *attrs);
	}
	return g_string_free(g_steal_pointer(&name), FALSE);
}

PyObject *pyfs_object_module(const char *name)
{
	PyObject *modules = PyImport_GetModuleDict(); /* Borrowed */
	PyObject *module;

	/*
	 * The dict itself, not PyImport_GetModule(): that also waits for a
	 * module that another thread is importing, which may never end. A
	 * module being imported shows what it holds so far.
	 */
	module = PyDict_GetItemString(modules, name); /* Borrowed */
	/* sys.modules may hold anything (a module can replace itself there). */
	if (module == NULL || !PyModule_Check(module)) {
		PyErr_Clear();
		return NULL;
	}
	return Py_NewRef(module);
}

gboolean pyfs_object_module_imported(const char *name)
{
	PYFS_PYREF module = pyfs_object_module(name);
	PYFS_PYREF dict = NULL;
	PyObject *spec;
	PyObject *initializing = NULL;

	if (module == NULL)
		return FALSE;
	/* The import system marks a module being imported on its spec, in the
	 * spec's own __dict__: read there, no descriptor or __getattr__ runs. */
	spec = PyDict_GetItemString(PyModule_GetDict(module), "__spec__"); /* Borrowed */
	if (spec != NULL && spec != Py_None)
		dict = PyObject_GenericGetDict(spec, NULL); /* New reference */
	if (dict != NULL && PyDict_Check(dict))
		initializing = PyDict_GetItemString(dict, "_initializing"); /* Borrowed */
	PyErr_Clear();
	return initializing == NULL || initializing == Py_False;
}

/* The module's __name__ as UTF-8 (owned), or NULL. */
static char *module_name(PyObject *module)
{
	PYFS_PYREF name = PyObject_GetAttrString(module, "__name__"); /* New reference */
	char *result = NULL;

	if (name != NULL && PyUnicode_Check(name)) {
		const char *utf8 = PyUnicode_AsUTF8(name); /* Borrowed */

		if (utf8 != NULL)
			result = g_strdup(utf8);
	}
	PyErr_Clear();
	return result;
}

PyObject *pyfs_object_resolve(const char *module, const char *const *attrs, GError **error)
{
	PYFS_PYREF obj = pyfs_object_module(module);

	if (obj == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No module %s", module);
		return NULL;
	}
	for (const char *const *a = attrs; a != NULL && *a != NULL; a++) {
		PyObject *next = PyObject_GetAttrString(obj, *a); /* New reference */

		if (next == NULL) {
			g_autofree char *what = pyfs_object_describe(module, attrs);

			if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
				PyErr_Clear();
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No attribute %s",
					    what);
			} else {
				g_autofree char *reason = pyfs_python_take_exception(NULL);

				g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "%s: %s", what,
					    reason);
			}
			return NULL;
		}
		Py_SETREF(obj, next);
	}
	return g_steal_pointer(&obj);
}

PyfsEntryKind pyfs_object_classify(PyObject *parent, const char *attr, PyObject *value,
				   char **target)
{
	if (PyModule_Check(value)) {
		g_autofree char *parent_name = module_name(parent);
		g_autofree char *name = module_name(value);
		g_autofree char *genuine = NULL;
		PYFS_PYREF canonical = NULL;

		if (name == NULL)
			return PYFS_ENTRY_VALUE;
		genuine = parent_name ? g_strconcat(parent_name, ".", attr, NULL) : NULL;
		if (genuine != NULL && g_str_equal(genuine, name))
			return PYFS_ENTRY_DIR;
		/* A link only where it leads somewhere: the module under its own name. */
		canonical = pyfs_object_module(name);
		if (canonical == NULL || strlen(name) > PYFS_NAME_MAX)
			return PYFS_ENTRY_VALUE;
		if (target != NULL)
			*target = g_steal_pointer(&name);
		return PYFS_ENTRY_SYMLINK;
	}
	return PyCallable_Check(value) ? PYFS_ENTRY_EXEC : PYFS_ENTRY_VALUE;
}

PyfsEntry *pyfs_object_entry(PyObject *parent, const char *attr)
{
	g_autoptr(PyfsEntry) entry = g_new0(PyfsEntry, 1);
	PYFS_PYREF value = NULL;

	entry->file = pyfs_name_attr_to_file(attr);
	if (entry->file == NULL)
		return NULL;
	entry->attr = g_strdup(attr);
	value = PyObject_GetAttrString(parent, attr); /* New reference */
	if (value == NULL) {
		gboolean missing = PyErr_ExceptionMatches(PyExc_AttributeError);

		PyErr_Clear();
		if (missing)
			return NULL;
		/* Access raised something else: a value file that shows the error. */
		entry->kind = PYFS_ENTRY_VALUE;
		return g_steal_pointer(&entry);
	}
	entry->kind = pyfs_object_classify(parent, attr, value, &entry->target);
	return g_steal_pointer(&entry);
}

static int compare_entries(gconstpointer a, gconstpointer b)
{
	const PyfsEntry *ea = *(PyfsEntry *const *)a;
	const PyfsEntry *eb = *(PyfsEntry *const *)b;

	return strcmp(ea->file, eb->file);
}

GPtrArray *pyfs_object_list(PyObject *module)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)pyfs_entry_free);
	PYFS_PYREF names = PyObject_Dir(module); /* New reference */
	PYFS_PYREF seq = names ? PySequence_Fast(names, "dir() must return a sequence") : NULL;

	if (seq == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);
		g_autofree char *name = module_name(module);

		g_warning("dir(%s) failed, listing it as empty: %s", name ? name : "?", reason);
		return entries;
	}
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		PyObject *name = PySequence_Fast_GET_ITEM(seq, i); /* Borrowed */
		const char *attr;
		PyfsEntry *entry;

		if (!PyUnicode_Check(name))
			continue;
		attr = PyUnicode_AsUTF8(name); /* Borrowed */
		if (attr == NULL) {
			PyErr_Clear();
			continue;
		}
		entry = pyfs_object_entry(module, attr);
		if (entry != NULL)
			g_ptr_array_add(entries, entry);
	}
	g_ptr_array_sort(entries, compare_entries);
	return entries;
}
