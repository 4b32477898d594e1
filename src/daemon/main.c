/* SPDX-License-Identifier: MIT */
#include <locale.h>
#include <stdio.h>

#include "config.h"
#include "pyfs-daemon.h"
#include "pyfs-options.h"

int main(int argc, char **argv)
{
	g_autoptr(PyfsOptions) options = NULL;
	g_autoptr(GError) error = NULL;

	setlocale(LC_ALL, "");
	options = pyfs_options_parse(argc, argv, &error);
	if (options == NULL) {
		g_printerr("pyfsd: %s\nTry “pyfsd --help” for more information.\n", error->message);
		return 2;
	}
	if (options->version) {
		printf("pyfsd %s\n", PYFS_VERSION);
		return 0;
	}
	return pyfs_daemon_run(options);
}
