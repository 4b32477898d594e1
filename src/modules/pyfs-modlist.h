/* SPDX-License-Identifier: MIT */
/*
 * The module list as a value: an ordered set of module names, and the
 * operations of run/modules and org.pyfs.Manager on it. Pure logic, no
 * Python, no locking: PyfsRegistry owns the current list and swaps in the
 * result of an operation only once the whole operation succeeded.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PyfsModlist PyfsModlist;

PyfsModlist *pyfs_modlist_new(void);
PyfsModlist *pyfs_modlist_copy(const PyfsModlist *list);
void pyfs_modlist_free(PyfsModlist *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsModlist, pyfs_modlist_free)

guint pyfs_modlist_length(const PyfsModlist *list);
const char *pyfs_modlist_get(const PyfsModlist *list, guint index);
gboolean pyfs_modlist_contains(const PyfsModlist *list, const char *name);
gboolean pyfs_modlist_equal(const PyfsModlist *a, const PyfsModlist *b);

/* Appends each name not yet listed, in order. Returns how many were added. */
guint pyfs_modlist_add(PyfsModlist *list, const char *const *names);
void pyfs_modlist_clear(PyfsModlist *list);
/* FALSE when @name was not listed. */
gboolean pyfs_modlist_remove(PyfsModlist *list, const char *name);

/* The names, a NULL-terminated copy. */
GStrv pyfs_modlist_to_strv(const PyfsModlist *list);
/* What `cat run/modules` shows: one name per line, each newline-terminated. */
char *pyfs_modlist_to_text(const PyfsModlist *list);

G_END_DECLS
