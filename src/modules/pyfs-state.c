/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "pyfs-error.h"
#include "pyfs-label.h"
#include "pyfs-log.h"
#include "pyfs-names.h"
#include "pyfs-state.h"

#define STATE_SUFFIX ".modules"

/* The first line of every saved file, for whoever opens it. */
#define STATE_HEADER "# The pyfs module list of one mount, one name per line; saved by pyfsd.\n"

G_STATIC_ASSERT(PYFS_LABEL_MAX + sizeof(STATE_SUFFIX) - 1 <= 255);

char *pyfs_state_path(const char *state_dir, const char *mountpoint, const char *home)
{
	g_autofree char *label = pyfs_label_for_mountpoint(mountpoint, home);
	g_autofree char *file = g_strconcat(label, STATE_SUFFIX, NULL);

	return g_build_filename(state_dir, "pyfs", file, NULL);
}

GStrv pyfs_state_parse(const char *data, gsize len, GError **error)
{
	g_autoptr(GStrvBuilder) names = g_strv_builder_new();
	const char *end = data + len;
	const char *line = data;
	guint number = 0;

	if (len > PYFS_STATE_MAX) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE,
			    "More than %d bytes", PYFS_STATE_MAX);
		return NULL;
	}
	if (len == 0)
		return g_strv_builder_end(names);
	if (memchr(data, '\0', len) != NULL) {
		g_set_error_literal(error, PYFS_ERROR, PYFS_ERROR_ENCODING, "Contains a NUL byte");
		return NULL;
	}
	if (!g_utf8_validate_len(data, len, NULL)) {
		g_set_error_literal(error, PYFS_ERROR, PYFS_ERROR_ENCODING, "Not valid UTF-8");
		return NULL;
	}
	while (line < end) {
		const char *newline = memchr(line, '\n', end - line);
		const char *next = newline ? newline + 1 : end;
		g_autofree char *name = g_strndup(line, (newline ? newline : end) - line);

		number++;
		line = next;
		g_strstrip(name);
		if (name[0] == '\0' || name[0] == '#')
			continue;
		if (!pyfs_name_validate(name, error)) {
			g_prefix_error(error, "Line %u: ", number);
			return NULL;
		}
		g_strv_builder_add(names, name);
	}
	return g_strv_builder_end(names);
}

char *pyfs_state_format(const PyfsModlist *list)
{
	g_autofree char *text = pyfs_modlist_to_text(list);

	return g_strconcat(STATE_HEADER, text, NULL);
}

GStrv pyfs_state_load(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	GStatBuf st;
	gsize len;
	GStrv names;

	if (g_stat(path, &st) != 0) {
		int saved = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: %s", path,
			    g_strerror(saved));
		return NULL;
	}
	/* Before reading it all: a huge file is corrupt, not worth the memory. */
	if (st.st_size > PYFS_STATE_MAX) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE, "%s: more than %d bytes",
			    path, PYFS_STATE_MAX);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	names = pyfs_state_parse(data, len, error);
	if (names == NULL)
		g_prefix_error(error, "%s: ", path);
	return names;
}

gboolean pyfs_state_save(const char *path, const PyfsModlist *list, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *text = pyfs_state_format(list);

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		int saved = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
			    "Cannot create %s: %s", dir, g_strerror(saved));
		return FALSE;
	}
	/* CONSISTENT: fsync, then rename over the old file. */
	return g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
					error);
}

struct _PyfsState {
	char *path;
};

PyfsState *pyfs_state_new(const char *mountpoint)
{
	PyfsState *state = g_new0(PyfsState, 1);

	state->path = pyfs_state_path(g_get_user_state_dir(), mountpoint, g_get_home_dir());
	return state;
}

void pyfs_state_free(PyfsState *state)
{
	if (state == NULL)
		return;
	g_free(state->path);
	g_free(state);
}

/* The registry's commit hook: changes wait for it, so no Python and no registry call here. */
static gboolean save_before_commit(const PyfsModlist *next, gpointer user_data, GError **error)
{
	PyfsState *state = user_data;

	g_autoptr(GError) local = NULL;

	if (pyfs_state_save(state->path, next, &local))
		return TRUE;
	/* org.pyfs.Error.StateFailed on the bus; the errno (EROFS, ENOSPC) for a writer. */
	pyfs_error_propagate_as(error, g_steal_pointer(&local), PYFS_ERROR_STATE,
				"Cannot save the module list, so it stays as it was: ");
	return FALSE;
}

/* Adds each of @names that imports, and says why the others did not. */
static void add_each(PyfsRegistry *registry, const char *const *names, const char *origin)
{
	for (const char *const *n = names; *n != NULL; n++) {
		const char *one[] = { *n, NULL };
		g_autoptr(GError) error = NULL;

		if (!pyfs_registry_add(registry, one, &error))
			pyfs_log_error(G_LOG_LEVEL_WARNING, error, "Skipping %s from %s", *n, origin);
	}
}

gboolean pyfs_state_restore(PyfsState *state, PyfsRegistry *registry,
			    const char *const *modules, const char *const *defaults,
			    GError **error)
{
	g_autoptr(GError) local = NULL;
	g_auto(GStrv) saved = NULL;

	if (modules != NULL) {
		g_autoptr(PyfsModlist) list = NULL;

		if (!pyfs_registry_set(registry, modules, error))
			return FALSE;
		list = pyfs_registry_snapshot(registry);
		if (pyfs_state_save(state->path, list, &local))
			g_message("The module list given with -m replaces the saved one in %s",
				  state->path);
		else
			g_warning("Cannot save the module list given with -m: %s; "
				  "serving it unsaved", local->message);
	} else {
		saved = pyfs_state_load(state->path, &local);
		if (saved != NULL) {
			g_message("Restoring the module list saved in %s", state->path);
			add_each(registry, (const char *const *)saved, state->path);
		} else {
			if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
				g_warning("Cannot restore the saved module list: %s; "
					  "using the default list", local->message);
			add_each(registry, defaults, "the default list");
		}
	}
	pyfs_registry_set_commit_hook(registry, save_before_commit, state);
	return TRUE;
}
