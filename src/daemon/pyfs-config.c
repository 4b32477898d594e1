/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pyfs-config.h"
#include "pyfs-names.h"

#define GROUP "pyfsd"

PyfsConfig *pyfs_config_new(void)
{
	PyfsConfig *config = g_new0(PyfsConfig, 1);

	config->path = g_new0(char *, 1);
	return config;
}

void pyfs_config_free(PyfsConfig *config)
{
	if (config == NULL)
		return;
	g_strfreev(config->modules);
	g_strfreev(config->path);
	g_free(config->venv);
	g_free(config);
}

char *pyfs_config_path(void)
{
	return g_build_filename(g_get_user_config_dir(), "pyfs", "pyfsd.conf", NULL);
}

/* The list under @key, without its empty entries; NULL (no error) when the key is absent. */
static GStrv get_list(GKeyFile *file, const char *key, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(GStrvBuilder) builder = NULL;
	g_auto(GStrv) list = g_key_file_get_string_list(file, GROUP, key, NULL, &local);

	if (list == NULL) {
		if (g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND) ||
		    g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND))
			return NULL;
		/* "modules=" is an empty list: GKeyFile returns NULL and no error for it. */
		if (local == NULL)
			return g_new0(char *, 1);
		g_propagate_prefixed_error(error, g_steal_pointer(&local), "%s: ", key);
		return NULL;
	}
	builder = g_strv_builder_new();
	for (char **item = list; *item != NULL; item++) {
		g_strstrip(*item);
		if ((*item)[0] != '\0')
			g_strv_builder_add(builder, *item);
	}
	return g_strv_builder_end(builder);
}

static gboolean has_key(GKeyFile *file, const char *key)
{
	return g_key_file_has_key(file, GROUP, key, NULL);
}

/* @entry of @key as an absolute path: "~" and "~/..." are under @home. */
static char *absolute(const char *key, const char *entry, const char *home, GError **error)
{
	if (entry[0] == '~' && (entry[1] == '\0' || entry[1] == '/'))
		return g_build_filename(home, entry + 1, NULL);
	if (g_path_is_absolute(entry))
		return g_strdup(entry);
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		    "%s: “%s” is neither absolute nor under ~/", key, entry);
	return NULL;
}

PyfsConfig *pyfs_config_parse(const char *data, gsize len, const char *home, GError **error)
{
	g_autoptr(PyfsConfig) config = pyfs_config_new();
	g_autoptr(GKeyFile) file = g_key_file_new();
	g_auto(GStrv) path = NULL;

	if (!g_key_file_load_from_data(file, data, len, G_KEY_FILE_NONE, error))
		return NULL;

	if (has_key(file, "modules")) {
		config->modules = get_list(file, "modules", error);
		if (config->modules == NULL)
			return NULL;
		for (char **name = config->modules; *name != NULL; name++) {
			if (!pyfs_name_validate(*name, error)) {
				g_prefix_error(error, "modules: ");
				return NULL;
			}
		}
	}

	if (has_key(file, "venv")) {
		g_autofree char *venv = g_key_file_get_string(file, GROUP, "venv", error);

		if (venv == NULL)
			return NULL;
		g_strstrip(venv);
		/* "venv=" is no virtual environment, as if unset. */
		if (venv[0] != '\0') {
			config->venv = absolute("venv", venv, home, error);
			if (config->venv == NULL)
				return NULL;
		}
	}

	if (!has_key(file, "path"))
		return g_steal_pointer(&config);
	path = get_list(file, "path", error);
	if (path == NULL)
		return NULL;
	for (char **entry = path; *entry != NULL; entry++) {
		char *dir = absolute("path", *entry, home, error);

		if (dir == NULL)
			return NULL;
		g_free(*entry);
		*entry = dir;
	}
	g_strfreev(config->path);
	config->path = g_steal_pointer(&path);
	return g_steal_pointer(&config);
}

PyfsConfig *pyfs_config_load(const char *path, const char *home, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree char *data = NULL;
	gsize len;
	PyfsConfig *config;

	if (!g_file_get_contents(path, &data, &len, &local)) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return pyfs_config_new();
		g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
	config = pyfs_config_parse(data, len, home, error);
	if (config == NULL)
		g_prefix_error(error, "%s: ", path);
	return config;
}
