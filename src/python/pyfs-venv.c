/* SPDX-License-Identifier: MIT */
#include "pyfs-venv.h"

#include <stdlib.h>
#include <string.h>

#include "pyfs-error.h"

/*
 * The version pyvenv.cfg gives, as "major.minor": "version = 3.11.2"
 * (venv), or "version_info = 3.11.2.final.0" (virtualenv). NULL if none.
 */
static char *cfg_version(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **line = lines; *line != NULL; line++) {
		g_auto(GStrv) kv = g_strsplit(*line, "=", 2);
		g_auto(GStrv) parts = NULL;

		if (kv[0] == NULL || kv[1] == NULL)
			continue;
		g_strstrip(kv[0]);
		g_strstrip(kv[1]);
		if (strcmp(kv[0], "version") != 0 && strcmp(kv[0], "version_info") != 0)
			continue;
		parts = g_strsplit(kv[1], ".", 3);
		if (parts[0] == NULL || parts[1] == NULL || parts[0][0] == '\0' ||
		    parts[1][0] == '\0' || strspn(parts[0], "0123456789") != strlen(parts[0]) ||
		    strspn(parts[1], "0123456789") != strlen(parts[1]))
			return NULL;
		return g_strdup_printf("%s.%s", parts[0], parts[1]);
	}
	return NULL;
}

char *pyfs_venv_python(const char *dir, guint major, guint minor, GError **error)
{
	g_autofree char *cfg = g_build_filename(dir, "pyvenv.cfg", NULL);
	g_autofree char *python = g_build_filename(dir, "bin", "python", NULL);
	g_autofree char *wanted = g_strdup_printf("%u.%u", major, minor);
	g_autofree char *version = NULL;
	g_autofree char *text = NULL;

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s: no such directory", dir);
		return NULL;
	}
	if (!g_file_get_contents(cfg, &text, NULL, NULL)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s: not a virtual environment (it has no pyvenv.cfg)", dir);
		return NULL;
	}
	version = cfg_version(text);
	if (version == NULL) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s: its pyvenv.cfg names no Python version", dir);
		return NULL;
	}
	if (strcmp(version, wanted) != 0) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s: a virtual environment of Python %s; pyfsd runs Python %s",
			    dir, version, wanted);
		return NULL;
	}
	if (!g_file_test(python, G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s: it has no bin/python", dir);
		return NULL;
	}
	return g_steal_pointer(&python);
}
