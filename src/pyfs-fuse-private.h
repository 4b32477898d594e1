/* SPDX-License-Identifier: MIT */
/*
 * What the FUSE operations (pyfs-fuse.c, and pyfs-fuse-modules.c for
 * run/modules) and the session's lifecycle (pyfs-fuse-session.c) share. Not for other subsystems: they use
 * pyfs-fuse.h.
 */
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <time.h>

#include "pyfs-fuse.h"
#include "pyfs-tree.h"

struct _PyfsFs {
	PyfsTree tree;
	struct fuse_session *session;
	char *mountpoint;
	struct timespec mount_time;
	struct timespec modules_time; /* last change of the module list (atomic via lock) */
	GMutex time_lock;             /* guards modules_time; a leaf lock */
	GHashTable *handles;          /* open file and directory handles -> their free function */
	GMutex handles_lock;          /* guards handles; a leaf lock */

	GThread *thread;
	gboolean stopping;            /* set by pyfs_fs_stop() before ending the session */
	GMutex served_lock;
	GCond served_cond;
	gboolean served;              /* the session loop has returned (under served_lock) */
	gboolean mounted;
	PyfsFsEndedFunc ended;
	gpointer ended_data;
};

/* The operations, served from the session's worker pool. */
extern const struct fuse_lowlevel_ops pyfs_fuse_ops;

/*
 * Open handles are owned by the session, not by the kernel's goodwill: a
 * file still open when the session ends gets no RELEASE, and is freed with
 * the session (pyfs_fs_free()).
 */
void pyfs_fuse_keep_handle(PyfsFs *fs, gpointer handle, GDestroyNotify destroy);
/* Frees @handle now, if it is still kept. */
void pyfs_fuse_drop_handle(PyfsFs *fs, gpointer handle);

/* run/modules (pyfs-fuse-modules.c). */
void pyfs_fuse_modules_open(PyfsFs *fs, fuse_req_t req, struct fuse_file_info *fi);
void pyfs_fuse_modules_read(fuse_req_t req, size_t size, off_t off,
			    struct fuse_file_info *fi);
void pyfs_fuse_modules_write(PyfsFs *fs, fuse_req_t req, const char *buf, size_t size,
			     off_t off, struct fuse_file_info *fi);
void pyfs_fuse_modules_release(PyfsFs *fs, fuse_req_t req, struct fuse_file_info *fi);
/* Applies a setattr to run/modules; FALSE when it refused, having replied. */
gboolean pyfs_fuse_modules_setattr(PyfsFs *fs, fuse_req_t req, struct stat *attr, int to_set);
