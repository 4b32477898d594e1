/* SPDX-License-Identifier: MIT */
#include "pyfs-object.h"
#include "pyfs-programs.h"
#include "pyfs-script.h"

const char *pyfs_script_dispatcher(void)
{
	static char *dispatcher;

	if (g_once_init_enter(&dispatcher))
		g_once_init_leave(&dispatcher, pyfs_program_path("call", "pyfs-call"));
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
