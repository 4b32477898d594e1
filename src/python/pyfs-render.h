/* SPDX-License-Identifier: MIT */
/*
 * Value files: what `cat lib/MODULE/NAME` shows for a value that is not a
 * module or a callable (README, "The tree"): str(value) for scalars, one
 * element per line for lists, tuples and sets, key=value lines for
 * mappings, each line newline-terminated.
 */
#pragma once

#include "pyfs-python.h"

G_BEGIN_DECLS

/* Content beyond this is cut, and a marker line says so. */
#define PYFS_VALUE_MAX (1024 * 1024)

/*
 * Renders @value (the GIL held). Never fails and never leaves an exception:
 * a value whose str(), iteration or items raise renders as a one-line
 * marker, "[pyfs: cannot render VALUE: TypeError: ...]", whose reason is
 * logged, under @what (the value's dotted name): as a warning the first
 * time, at debug level after; @failed (if not NULL) says so. At most
 * @limit bytes plus the truncation marker.
 */
GBytes *pyfs_render_value(PyObject *value, const char *what, gsize limit, gboolean *failed);

/*
 * Whether rendering @value runs CPython's own C code only, never Python
 * code that could block: str, int, float, bool, None, complex, and lists,
 * tuples, sets and dicts of these (nested a little, of the exact types,
 * not too many items). Anything else may have a __str__ of its own.
 */
gboolean pyfs_render_is_plain(PyObject *value);

G_END_DECLS
