/* SPDX-License-Identifier: MIT */
/*
 * Names, without Python: module names as written to run/modules or sent
 * over D-Bus, and the mapping between attribute names and file names.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A module name is at most this many bytes: it is a file name under lib/. */
#define PYFS_NAME_MAX 255

/* A single write(2) to run/modules, or one D-Bus call, carries at most this. */
#define PYFS_WRITE_MAX (64 * 1024)

/*
 * Whether @name is a syntactically valid dotted module name: components
 * separated by single dots, each a Python identifier (a letter or "_", then
 * letters, digits or "_", Unicode letters allowed), at most PYFS_NAME_MAX
 * bytes in all. Sets PYFS_ERROR_INVALID_NAME or PYFS_ERROR_ENCODING.
 */
gboolean pyfs_name_validate(const char *name, GError **error);

/*
 * Splits what a writer wrote to run/modules into names (separated by any
 * whitespace, one per line being the usual form). @len bytes of @buf,
 * which need not be NUL-terminated. Rejects NUL bytes, non-UTF-8 and
 * input over PYFS_WRITE_MAX. Returns a NULL-terminated vector (possibly
 * empty) or NULL with @error set. The names themselves are validated
 * once, by the registry that every change goes through.
 */
GStrv pyfs_names_parse(const char *buf, gsize len, GError **error);

/* Whether an attribute name is a dunder (__name__): these keep their names. */
gboolean pyfs_name_is_dunder(const char *attr);

/*
 * The file name under which attribute @attr is listed: a leading
 * underscore that is not a dunder gets a dot in front ("_exit" ->
 * "._exit"). NULL when the attribute cannot be a file name at all (empty,
 * a leading ".", contains "/" or a line break, starts or ends with
 * whitespace, not UTF-8, longer than PYFS_NAME_MAX once mapped).
 */
char *pyfs_name_attr_to_file(const char *attr);

/*
 * The attribute that file name @file looks up: "._exit" -> "_exit",
 * "_exit" -> "_exit", "join" -> "join". NULL for a name that no
 * attribute is listed under: a dotted one (".join", ".__doc__"), or one
 * pyfs_name_attr_to_file() refuses ("a\nb", " x", non-UTF-8).
 */
char *pyfs_name_file_to_attr(const char *file);

G_END_DECLS
