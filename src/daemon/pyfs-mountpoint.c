/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pyfs-mountpoint.h"

/*
 * A crashed FUSE daemon leaves its mount behind, answering ENOTCONN. Like
 * the document portal, detach it lazily: directly as root, through the
 * setuid fusermount3 otherwise.
 */
/*
 * statfs(), not only stat(): the kernel answers a stat of the root from
 * its attribute cache even once the daemon is gone. ECONNABORTED: a
 * connection aborted rather than closed.
 */
static gboolean is_stale(const char *path)
{
	struct stat st;
	struct statfs sfs;

	if (stat(path, &st) != 0 && (errno == ENOTCONN || errno == ECONNABORTED))
		return TRUE;
	return statfs(path, &sfs) != 0 && (errno == ENOTCONN || errno == ECONNABORTED);
}

static gboolean unmount_stale(const char *path, GError **error)
{
	g_autofree char *err_out = NULL;
	const char *argv[] = { "fusermount3", "-u", "-z", "--", path, NULL };
	int status;

	g_message("Unmounting a stale mount on %s left by an earlier instance", path);
	if (umount2(path, MNT_DETACH) == 0)
		return TRUE;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL, NULL, NULL, &err_out, &status, error))
		return FALSE;
	if (!g_spawn_check_wait_status(status, NULL)) {
		/* The dead daemon's auto_unmount helper may have been quicker. */
		if (!is_stale(path)) {
			g_debug("The stale mount on %s went away meanwhile", path);
			return TRUE;
		}
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "Cannot unmount the stale mount on %s: %s", path, g_strstrip(err_out));
		return FALSE;
	}
	return TRUE;
}

gboolean pyfs_mountpoint_prepare(const char *path, GError **error)
{
	g_autofree char *parent = g_path_get_dirname(path);
	struct stat st, parent_st;
	int fd;

	if (is_stale(path) && !unmount_stale(path, error))
		return FALSE;
	if (stat(path, &st) != 0) {
		int saved = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
			    "Mountpoint %s: %s", path, g_strerror(saved));
		return FALSE;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
			    "Mountpoint %s is not a directory", path);
		return FALSE;
	}
	if (strcmp(path, "/") == 0 ||
	    (stat(parent, &parent_st) == 0 && parent_st.st_dev != st.st_dev)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    "%s is already a mountpoint (unmount it with fusermount3 -u)", path);
		return FALSE;
	}
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
			    "Cannot open /dev/fuse: %s (is the fuse module loaded, and "
			    "fuse3 installed?)", g_strerror(saved));
		return FALSE;
	}
	close(fd);
	return TRUE;
}

gboolean pyfs_mountpoint_answers(const char *path)
{
	g_autofree char *modules = g_build_filename(path, "run", "modules", NULL);
	struct stat st;

	return stat(modules, &st) == 0 && S_ISREG(st.st_mode);
}
