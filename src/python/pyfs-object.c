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

/* Whether @key is in module @module's own dict (exact ModuleType only). */
static gboolean in_dict(PyObject *module, const char *key)
{
	PyObject *dict = PyModule_GetDict(module); /* Borrowed */
	gboolean found = PyDict_GetItemString(dict, key) != NULL; /* Borrowed */

	PyErr_Clear();
	return found;
}

/*
 * Only a plain module: a subclass may have properties or its own
 * __getattribute__. Its getattr looks in its dict (and at C descriptors of
 * the module type, __dict__, __class__ and __annotations__); only a name
 * missing there runs code: the module's __getattr__ (PEP 562), or, to
 * word the AttributeError, a look at whether __spec__ is initialising,
 * which is plain for the ModuleSpec instances the import system makes.
 */
gboolean pyfs_object_getattr_is_plain(PyObject *module, const char *attr)
{
	PyObject *spec;

	if (!Py_IS_TYPE(module, &PyModule_Type))
		return FALSE;
	if (in_dict(module, attr))
		return TRUE;
	if (in_dict(module, "__getattr__"))
		return FALSE;
	spec = PyDict_GetItemString(PyModule_GetDict(module), "__spec__"); /* Borrowed */
	PyErr_Clear();
	return spec == NULL || spec == Py_None ||
	       Py_TYPE(spec)->tp_getattro == PyObject_GenericGetAttr;
}

/* The module's __name__ as UTF-8 (owned), or NULL; FALSE if reading it would run code. */
static gboolean module_name(PyObject *module, gboolean may_run_code, char **result)
{
	PYFS_PYREF name = NULL;

	*result = NULL;
	if (!may_run_code && !pyfs_object_getattr_is_plain(module, "__name__"))
		return FALSE;
	name = PyObject_GetAttrString(module, "__name__"); /* New reference */
	if (name != NULL && PyUnicode_Check(name)) {
		const char *utf8 = PyUnicode_AsUTF8(name); /* Borrowed */

		if (utf8 != NULL)
			*result = g_strdup(utf8);
	}
	PyErr_Clear();
	return TRUE;
}

PyObject *pyfs_object_resolve(const char *module, const char *const *attrs,
			      gboolean may_run_code, GError **error)
{
	PYFS_PYREF obj = pyfs_object_module(module);

	if (obj == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No module %s", module);
		return NULL;
	}
	for (const char *const *a = attrs; a != NULL && *a != NULL; a++) {
		PyObject *next;

		if (!may_run_code && !pyfs_object_getattr_is_plain(obj, *a)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
				    "Getting %s may run Python code", *a);
			return NULL;
		}
		next = PyObject_GetAttrString(obj, *a); /* New reference */
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

gboolean pyfs_object_classify(PyObject *parent, const char *attr, PyObject *value,
			      gboolean may_run_code, PyfsEntryKind *kind, char **target)
{
	g_autofree char *parent_name = NULL;
	g_autofree char *name = NULL;
	g_autofree char *genuine = NULL;
	PYFS_PYREF canonical = NULL;

	if (!PyModule_Check(value)) {
		*kind = PyCallable_Check(value) ? PYFS_ENTRY_EXEC : PYFS_ENTRY_VALUE;
		return TRUE;
	}
	if (!module_name(parent, may_run_code, &parent_name) ||
	    !module_name(value, may_run_code, &name))
		return FALSE;
	*kind = PYFS_ENTRY_VALUE;
	if (name == NULL)
		return TRUE;
	genuine = parent_name ? g_strconcat(parent_name, ".", attr, NULL) : NULL;
	if (genuine != NULL && g_str_equal(genuine, name)) {
		*kind = PYFS_ENTRY_DIR;
		return TRUE;
	}
	/* A link only where it leads somewhere: the module under its own name. */
	canonical = pyfs_object_module(name);
	if (canonical == NULL || strlen(name) > PYFS_NAME_MAX || !pyfs_name_validate(name, NULL))
		return TRUE;
	*kind = PYFS_ENTRY_SYMLINK;
	if (target != NULL)
		*target = g_steal_pointer(&name);
	return TRUE;
}

/*
 * A plain module's dir() is its dict's keys, sorted: plain when it has no
 * __dir__ of its own and every key is a str (comparing others may run
 * their code).
 */
gboolean pyfs_object_dir_is_plain(PyObject *module)
{
	PyObject *dict;
	PyObject *key;
	Py_ssize_t pos = 0;

	if (!Py_IS_TYPE(module, &PyModule_Type) || in_dict(module, "__dir__"))
		return FALSE;
	dict = PyModule_GetDict(module); /* Borrowed */
	while (PyDict_Next(dict, &pos, &key, NULL)) /* Borrowed */
		if (!PyUnicode_CheckExact(key))
			return FALSE;
	return TRUE;
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
		g_autofree char *name = NULL;

		module_name(module, TRUE, &name);
		g_warning("dir(%s) failed, listing it as empty: %s", name ? name : "?", reason);
		return entries;
	}
	for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		PyObject *name = PySequence_Fast_GET_ITEM(seq, i); /* Borrowed */
		g_autoptr(PyfsEntry) entry = NULL;
		const char *attr;

		if (!PyUnicode_Check(name))
			continue;
		attr = PyUnicode_AsUTF8(name); /* Borrowed */
		if (attr == NULL) {
			PyErr_Clear();
			continue;
		}
		entry = g_new0(PyfsEntry, 1);
		entry->file = pyfs_name_attr_to_file(attr);
		if (entry->file == NULL)
			continue;
		entry->attr = g_strdup(attr);
		g_ptr_array_add(entries, g_steal_pointer(&entry));
	}
	g_ptr_array_sort(entries, compare_entries);
	return entries;
}
