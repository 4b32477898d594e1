/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "pyfs-object.h"
#include "pyfs-script.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

/*
 * readlinkat(), not readlink() (which g_file_read_link() uses): valgrind
 * 3.19 run with --sim-hints=fuse-compatible, as the valgrind test setup
 * must since pyfsd stats its own mount, aborts on readlink("/proc/self/exe").
 */
static char *self_exe(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(AT_FDCWD, "/proc/self/exe", buf, sizeof(buf));

	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	return g_strndup(buf, n);
}

const char *pyfs_script_dispatcher(void)
{
	static char *dispatcher;

	if (g_once_init_enter(&dispatcher)) {
		g_autofree char *self = self_exe();
		g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
		g_autofree char *sibling = dir ? g_build_filename(dir, "call", "pyfs-call", NULL)
					       : NULL;
		char *path;

		/* In a build tree, pyfsd is build/src/pyfsd and the dispatcher is
		 * build/src/call/pyfs-call: use it, so a build never runs the calls
		 * of another installed version. */
		if (sibling != NULL && g_file_test(sibling, G_FILE_TEST_IS_EXECUTABLE))
			path = g_steal_pointer(&sibling);
		else
			path = g_build_filename(PYFS_LIBEXECDIR, "pyfs-call", NULL);
		g_once_init_leave(&dispatcher, path);
	}
	return dispatcher;
}

static char *script(const char *summary, const char *header, const char *socket)
{
	g_autoptr(GString) text = g_string_new(NULL);

	g_string_append_printf(text,
			       "#!%s\n"
			       "# %s\n"
			       "# Run it with --help for its signature and documentation (see pyfsd(1)).\n"
			       "%s",
			       pyfs_script_dispatcher(), summary, header);
	if (socket != NULL)
		g_string_append_printf(text, "# pyfs-socket: %s\n", socket);
	return g_string_free(g_steal_pointer(&text), FALSE);
}

char *pyfs_script_for_call(const char *module, const char *const *attrs, const char *socket)
{
	g_autoptr(GString) header = g_string_new(NULL);
	g_autofree char *what = pyfs_object_describe(module, attrs);
	g_autofree char *summary = g_strdup_printf(
		"%s: a Python callable served by pyfs.\n"
		"# Running this file calls it with the arguments and prints the result.", what);

	g_string_append_printf(header, "# pyfs-module: %s\n", module);
	for (; attrs != NULL && *attrs != NULL; attrs++)
		g_string_append_printf(header, "# pyfs-attribute: %s\n", *attrs);
	return script(summary, header->str, socket);
}

char *pyfs_script_for_dot(const char *name, const char *socket)
{
	g_autofree char *summary = g_strdup_printf(
		"dot/%s: reads one object per line from stdin, takes its attribute %s,\n"
		"# calls it with the arguments if it is callable, and prints the result.", name, name);
	g_autofree char *header = g_strdup_printf("# pyfs-dot: %s\n", name);

	return script(summary, header, socket);
}
