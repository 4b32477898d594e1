// SPDX-License-Identifier: MIT
/*
 * pyfs-call: the dispatcher named on the #! line of every executable file.
 *
 * The kernel runs it as "pyfs-call SCRIPT ARGS...". It reads which callable
 * SCRIPT names, parses ARGS, and then replaces itself with the Python
 * interpreter running pyfs_runner.py. Replacing rather than forking is what
 * makes the call the caller's own process: its cwd, environment, stdio,
 * controlling terminal and signals, and its exit status is the caller's
 * without any relaying.
 *
 * It is on the path of every call, so it does as little as it can and
 * fails early: everything wrong with the script or the command line is
 * reported here, with exit status 2, before an interpreter is started.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pyfs-callargs.h"
#include "pyfs-call-resources.h"

/* What pyfs-call itself reports: bad usage, a bad script (DESIGN 4). */
#define EXIT_ERROR 2

static void die(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("pyfs-call: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* Reads at most PYFS_CALL_SCRIPT_MAX bytes: whatever is bigger is not a
 * script pyfsd wrote, and must not make us allocate without bound. */
static char *read_script(const char *path, gsize *len, GError **error)
{
	g_autofree char *buf = g_malloc(PYFS_CALL_SCRIPT_MAX + 1);
	gsize n = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto fail;
	while (n <= PYFS_CALL_SCRIPT_MAX) {
		ssize_t r = read(fd, buf + n, PYFS_CALL_SCRIPT_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	if (n > PYFS_CALL_SCRIPT_MAX) {
		g_set_error(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_SCRIPT,
			    "larger than %d bytes, not a pyfs script", PYFS_CALL_SCRIPT_MAX);
		return NULL;
	}
	*len = n;
	return g_steal_pointer(&buf);

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	g_set_error_literal(error, G_IO_ERROR, g_io_error_from_errno(saved), g_strerror(saved));
	return NULL;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCallScript) script = NULL;
	g_autoptr(PyfsCallArgs) args = NULL;
	g_autoptr(GBytes) runner = NULL;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GPtrArray) exec_argv = NULL;
	g_autofree char *text = NULL;
	const char *path;
	gsize len = 0;
	int saved;

	if (argc < 2)
		die(EXIT_ERROR, "usage: pyfs-call SCRIPT [ARGUMENT...]\n"
		    "Runs the executable files of a pyfs mount; see pyfsd(1).");
	path = argv[1];

	text = read_script(path, &len, &error);
	if (!text)
		die(EXIT_ERROR, "%s: %s", path, error->message);
	script = pyfs_call_script_parse(text, len, &error);
	if (!script)
		die(EXIT_ERROR, "%s: %s", path, error->message);
	args = pyfs_call_args_parse(argc - 2, (const char *const *)argv + 2, &error);
	if (!args)
		die(EXIT_ERROR, "%s: %s\nTry '%s --help'.", path, error->message, path);

	/* The resource lives in a static library: looked up through its
	 * getter, which also links it in, instead of global registration. */
	runner = g_resource_lookup_data(pyfs_call_get_resource(), PYFS_CALL_RUNNER_RESOURCE,
					G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
	if (!runner)
		die(EXIT_ERROR, "%s", error->message);

	items = pyfs_call_runner_items(path, script, args);
	exec_argv = g_ptr_array_new_full(items->len + 4, NULL);
	g_ptr_array_add(exec_argv, (char *)PYFS_PYTHON);
	g_ptr_array_add(exec_argv, (char *)"-c");
	/* GResource data is always NUL-terminated. */
	g_ptr_array_add(exec_argv, (char *)g_bytes_get_data(runner, NULL));
	for (guint i = 0; i < items->len; i++)
		g_ptr_array_add(exec_argv, items->pdata[i]);
	g_ptr_array_add(exec_argv, NULL);

	execv(PYFS_PYTHON, (char **)exec_argv->pdata);
	saved = errno;
	/* As a shell reports a command it cannot run. */
	die(saved == ENOENT ? 127 : 126, "cannot run %s: %s", PYFS_PYTHON, g_strerror(saved));
}
