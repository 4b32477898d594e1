/* SPDX-License-Identifier: MIT */
/*
 * The Python object mapping: which object a path names, and what kind of
 * file it is (README, "The tree"). Every function here needs the GIL and
 * leaves no exception behind.
 *
 * A node under lib/ is a module name plus an attribute chain, walked with
 * getattr: lib/json/decoder/JSONDecoder is ("json", ["decoder",
 * "JSONDecoder"]). Only genuine submodules (json.decoder, whose __name__ is
 * its parent's plus ".decoder") are directories, so every chain is strictly
 * longer than its parent and the tree has no cycles. Any other module found
 * as an attribute (os.path is posixpath) is a symlink to the module's own
 * place: lib/<its __name__> when it is listed, run/sys.modules/<its
 * __name__> when it is not.
 *
 * Plain steps: getattr, dir() and str() may run Python code of the objects
 * (a module's __getattr__ or __dir__, a property of a module subclass, a
 * __str__), which may block. The *_is_plain() functions tell when a step
 * runs none, only CPython's own C code, so that it can be taken on any
 * thread without the time limit (see pyfs-deadline.h).
 */
#pragma once

#include "pyfs-python.h"

G_BEGIN_DECLS

typedef enum {
	PYFS_ENTRY_VALUE,   /* a read-only file: the rendered value */
	PYFS_ENTRY_EXEC,    /* a callable: an executable script */
	PYFS_ENTRY_DIR,     /* a genuine submodule */
	PYFS_ENTRY_SYMLINK, /* any other module: a link to its canonical place */
} PyfsEntryKind;

/* A name in a module's listing. */
typedef struct {
	char *attr; /* the attribute name */
	char *file; /* the file name it is listed under */
} PyfsEntry;

void pyfs_entry_free(PyfsEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsEntry, pyfs_entry_free)

/*
 * sys.modules[@name] if it is a module (New reference), else NULL. Runs
 * no Python code, and does not wait for a module being imported.
 */
PyObject *pyfs_object_module(const char *name);

/*
 * Whether sys.modules[@name] is a module whose import has finished, so
 * that importing it again would only return it. Runs no Python code.
 */
gboolean pyfs_object_module_imported(const char *name);

/* Whether getattr(@module, @attr) runs no Python code: see above. */
gboolean pyfs_object_getattr_is_plain(PyObject *module, const char *attr);

/*
 * The object at @module + @attrs (New reference). NULL with @error set
 * (G_IO_ERROR_NOT_FOUND) when the module is gone or an attribute is
 * missing; an attribute whose access raises sets PYFS_ERROR_FAILED with
 * the exception line. Unless @may_run_code, a step that is not plain
 * fails with G_IO_ERROR_WOULD_BLOCK before it is taken.
 */
PyObject *pyfs_object_resolve(const char *module, const char *const *attrs,
			      gboolean may_run_code, GError **error);

/*
 * What @value, found as attribute @attr of module @parent, is; for a
 * symlink, @target (if not NULL) gets the module's name. Unless
 * @may_run_code, returns FALSE, having run nothing, when telling would
 * run Python code.
 */
gboolean pyfs_object_classify(PyObject *parent, const char *attr, PyObject *value,
			      gboolean may_run_code, PyfsEntryKind *kind, char **target);

/* Whether dir(@module) runs no Python code. */
gboolean pyfs_object_dir_is_plain(PyObject *module);

/*
 * The names of dir(@module) that can be file names, sorted by file name.
 * A dir() that raises is logged and lists nothing.
 */
GPtrArray *pyfs_object_list(PyObject *module);

/*
 * The dotted name of @module + @attrs, for messages ("os.path.join").
 * No GIL needed.
 */
char *pyfs_object_describe(const char *module, const char *const *attrs);

G_END_DECLS
