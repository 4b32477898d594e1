/* SPDX-License-Identifier: MIT */
/*
 * run/reload, the file: whatever is written to it (`echo > run/reload`)
 * imports every listed module afresh, for the tree and for the calls, as
 * D-Bus Reload() does (pyfs_registry_reload()). The write returns once
 * that is done, with the errno of a failure (ENOENT: the new code does not
 * import, as for run/modules; ETIMEDOUT), which is logged with the traceback.
 *
 * Write-only (mode 0200), always empty; changing it is changing what the
 * tree shows, so it is the owner's alone, like run/modules.
 */
#include <errno.h>
#include <fcntl.h>

#include <gio/gio.h>

#include "pyfs-error.h"
#include "pyfs-fuse-private.h"
#include "pyfs-log.h"

void pyfs_fuse_reload_open(PyfsFs *fs, fuse_req_t req, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_WRONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* Nothing to keep: the file is always empty, each write stands alone. */
	fi->fh = 0;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

void pyfs_fuse_reload_write(PyfsFs *fs, fuse_req_t req, size_t size)
{
	g_autoptr(GError) error = NULL;

	g_message("Importing the listed modules afresh (a write to run/reload)");
	if (!pyfs_registry_reload(fs->tree.registry, &error)) {
		pyfs_log_error(G_LOG_LEVEL_WARNING, error, "Refused a write to run/reload");
		fuse_reply_err(req, pyfs_error_to_errno(error));
		return;
	}
	fuse_reply_write(req, size);
}

gboolean pyfs_fuse_reload_setattr(fuse_req_t req, int to_set)
{
	/* A truncation (`echo >` without atomic O_TRUNC) and times change nothing. */
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return FALSE;
	}
	return TRUE;
}
