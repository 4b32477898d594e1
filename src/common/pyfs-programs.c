/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "pyfs-programs.h"

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

char *pyfs_program_path(const char *subdir, const char *name)
{
	g_autofree char *self = self_exe();
	g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
	/* pyfsd is build/src/daemon/pyfsd. */
	g_autofree char *sibling = dir ? g_build_filename(dir, "..", subdir, name, NULL) : NULL;

	if (sibling != NULL && g_file_test(sibling, G_FILE_TEST_IS_EXECUTABLE))
		return g_steal_pointer(&sibling);
	return g_build_filename(PYFS_LIBEXECDIR, name, NULL);
}
