/* SPDX-License-Identifier: MIT */
/*
 * What the FUSE operations (pyfs-fuse.c) and the session's lifecycle
 * (pyfs-fuse-session.c) share. Not for other subsystems: they use
 * pyfs-fuse.h.
 */
#pragma once

#include <fuse_lowlevel.h>
#include <time.h>

#include "pyfs-access.h"
#include "pyfs-fuse.h"
#include "pyfs-tree.h"

struct _PyfsFs {
	PyfsTree tree;
	PyfsAccess *access;           /* who may do what: checked first by every handler */
	struct fuse_session *session;
	char *mountpoint;
	struct timespec mount_time;
	struct timespec modules_time; /* last change of the module list (atomic via lock) */
	GMutex time_lock;
	GHashTable *handles;          /* open file and directory handles -> their free function */
	GMutex handles_lock;          /* guards handles; a leaf lock */             /* guards modules_time; a leaf lock */

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
