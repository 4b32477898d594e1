/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "pyfs-deadline.h"
#include "pyfs-options.h"

void pyfs_options_free(PyfsOptions *options)
{
	if (options == NULL)
		return;
	g_free(options->mountpoint);
	g_strfreev(options->modules);
	g_free(options->venv);
	g_free(options->mount_options);
	g_free(options);
}

PyfsOptions *pyfs_options_parse(int argc, char **argv, GError **error)
{
	g_autoptr(PyfsOptions) options = g_new0(PyfsOptions, 1);
	g_auto(GStrv) mount_options = NULL;
	g_auto(GStrv) rest = NULL;
	g_autofree char *venv = NULL;
	gint timeout = PYFS_DEADLINE_DEFAULT_S;
	const GOptionEntry entries[] = {
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &options->foreground,
		  "Stay in the foreground (the default under systemd)", NULL },
		{ "module", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &options->modules,
		  "Serve module NAME (repeatable; replaces the default and saved list)", "NAME" },
		{ "debug", 'd', 0, G_OPTION_ARG_NONE, &options->debug,
		  "Log debug messages", NULL },
		{ "timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
		  "How long an import, a str() or a dir() may take before the request "
		  "fails (default 10)", "SECONDS" },
		{ "venv", 0, 0, G_OPTION_ARG_FILENAME, &venv,
		  "Serve the modules of the virtual environment DIR, as its python would "
		  "(overrides venv= of pyfsd.conf)", "DIR" },
		{ "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &mount_options,
		  "FUSE mount options, comma-separated (repeatable)", "OPT" },
		{ "allow-others", 0, 0, G_OPTION_ARG_NONE, &options->allow_others,
		  "Let other users read, list and run what the mount shows, which runs "
		  "Python code as this user (implies -o allow_other)", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &options->version,
		  "Print the version and exit", NULL },
		{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "MOUNTPOINT" },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) context = g_option_context_new("MOUNTPOINT");

	g_option_context_set_summary(context,
				     "Mount a filesystem view of a Python interpreter on MOUNTPOINT:\n"
				     "modules are directories, values are files, callables are\n"
				     "executables; MOUNTPOINT/run/modules is the list of modules.");
	g_option_context_set_description(context, "See pyfsd(1) for the tree, the files and the "
						   "D-Bus interface.");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, error))
		return NULL;
	if (options->version)
		return g_steal_pointer(&options);
	if (rest == NULL || rest[0] == NULL) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
				    "Missing MOUNTPOINT");
		return NULL;
	}
	if (rest[1] != NULL) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "Unexpected argument “%s” after MOUNTPOINT", rest[1]);
		return NULL;
	}
	if (timeout < 1 || timeout > 24 * 3600) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--timeout must be between 1 and 86400 seconds, not %d", timeout);
		return NULL;
	}
	options->timeout = (guint)timeout;
	options->mountpoint = g_canonicalize_filename(rest[0], NULL);
	if (venv != NULL)
		options->venv = g_canonicalize_filename(venv, NULL);
	if (mount_options != NULL)
		options->mount_options = g_strjoinv(",", mount_options);
	/* Under systemd (Type=notify) detaching would lose the main PID. */
	if (g_getenv("NOTIFY_SOCKET") != NULL)
		options->foreground = TRUE;
	return g_steal_pointer(&options);
}
