/* SPDX-License-Identifier: MIT */
/*
 * The Python object mapping: which object a path names, and what kind of
 * file it is (DESIGN 2). Every function here needs the GIL and leaves no
 * exception behind.
 *
 * A node under lib/ is a module name plus an attribute chain, walked with
 * getattr: lib/json/decoder/JSONDecoder is ("json", ["decoder",
 * "JSONDecoder"]). Only genuine submodules (json.decoder, whose __name__ is
 * its parent's plus ".decoder") are directories, so every chain is strictly
 * longer than its parent and the tree has no cycles. Any other module found
 * as an attribute (os.path is posixpath) is a symlink to lib/<its
 * __name__>, which lib/ resolves for every module in sys.modules even when
 * only the module list is listed.
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

typedef struct {
	char *attr;          /* the attribute name */
	char *file;          /* the file name it is listed under */
	PyfsEntryKind kind;
	char *target;        /* PYFS_ENTRY_SYMLINK: the module's __name__ */
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

/*
 * The object at @module + @attrs (New reference). NULL with @error set
 * (G_IO_ERROR_NOT_FOUND) when the module is gone or an attribute is
 * missing; an attribute whose access raises sets PYFS_ERROR_FAILED with
 * the exception line.
 */
PyObject *pyfs_object_resolve(const char *module, const char *const *attrs, GError **error);

/*
 * What @value, found as attribute @attr of module @parent, is. For a
 * symlink, @target (if not NULL) gets the module's name.
 */
PyfsEntryKind pyfs_object_classify(PyObject *parent, const char *attr, PyObject *value,
				   char **target);

/*
 * The attribute @attr of module @parent as a directory entry, or NULL when
 * it does not exist (AttributeError) or has no file name. An attribute
 * whose access raises is a value (its file shows the error).
 */
PyfsEntry *pyfs_object_entry(PyObject *parent, const char *attr);

/* The entries of module @module (dir(module)), sorted by file name. */
GPtrArray *pyfs_object_list(PyObject *module);

/*
 * The dotted name of @module + @attrs, for messages ("os.path.join").
 * No GIL needed.
 */
char *pyfs_object_describe(const char *module, const char *const *attrs);

G_END_DECLS
