/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pyfs-modlist.h"

struct _PyfsModlist {
	GPtrArray *names; /* of char *, owned, no duplicates, in the order added */
};

PyfsModlist *pyfs_modlist_new(void)
{
	PyfsModlist *list = g_new0(PyfsModlist, 1);

	list->names = g_ptr_array_new_with_free_func(g_free);
	return list;
}

PyfsModlist *pyfs_modlist_copy(const PyfsModlist *list)
{
	PyfsModlist *copy = pyfs_modlist_new();

	for (guint i = 0; i < list->names->len; i++)
		g_ptr_array_add(copy->names, g_strdup(list->names->pdata[i]));
	return copy;
}

void pyfs_modlist_free(PyfsModlist *list)
{
	if (list == NULL)
		return;
	g_ptr_array_unref(list->names);
	g_free(list);
}

guint pyfs_modlist_length(const PyfsModlist *list)
{
	return list->names->len;
}

const char *pyfs_modlist_get(const PyfsModlist *list, guint index)
{
	g_return_val_if_fail(index < list->names->len, NULL);
	return list->names->pdata[index];
}

gboolean pyfs_modlist_contains(const PyfsModlist *list, const char *name)
{
	return g_ptr_array_find_with_equal_func(list->names, name, g_str_equal, NULL);
}

gboolean pyfs_modlist_equal(const PyfsModlist *a, const PyfsModlist *b)
{
	if (a->names->len != b->names->len)
		return FALSE;
	for (guint i = 0; i < a->names->len; i++)
		if (strcmp(a->names->pdata[i], b->names->pdata[i]) != 0)
			return FALSE;
	return TRUE;
}

guint pyfs_modlist_add(PyfsModlist *list, const char *const *names)
{
	guint added = 0;

	for (; names != NULL && *names != NULL; names++) {
		if (pyfs_modlist_contains(list, *names))
			continue;
		g_ptr_array_add(list->names, g_strdup(*names));
		added++;
	}
	return added;
}

void pyfs_modlist_clear(PyfsModlist *list)
{
	g_ptr_array_set_size(list->names, 0);
}

gboolean pyfs_modlist_remove(PyfsModlist *list, const char *name)
{
	guint index;

	if (!g_ptr_array_find_with_equal_func(list->names, name, g_str_equal, &index))
		return FALSE;
	g_ptr_array_remove_index(list->names, index);
	return TRUE;
}

GStrv pyfs_modlist_to_strv(const PyfsModlist *list)
{
	GStrv strv = g_new0(char *, list->names->len + 1);

	for (guint i = 0; i < list->names->len; i++)
		strv[i] = g_strdup(list->names->pdata[i]);
	return strv;
}

char *pyfs_modlist_to_text(const PyfsModlist *list)
{
	GString *text = g_string_new(NULL);

	for (guint i = 0; i < list->names->len; i++) {
		g_string_append(text, list->names->pdata[i]);
		g_string_append_c(text, '\n');
	}
	return g_string_free(text, FALSE);
}
