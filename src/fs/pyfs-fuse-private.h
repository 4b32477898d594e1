/* SPDX-License-Identifier: MIT */
/*
 * What the FUSE operations (pyfs-fuse.c; pyfs-fuse-dir.c for directories,
 * pyfs-fuse-modules.c for run/modules, pyfs-fuse-reload.c for run/reload,
 * pyfs-fuse-attr.c for what a stat says), the kernel notifications
 * (pyfs-fuse-notify.c) and the session's lifecycle (pyfs-fuse-session.c)
 * share. The rest of pyfsd uses pyfs-fuse.h.
 */
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <time.h>

#include "pyfs-access.h"
#include "pyfs-fuse-mount.h"
#include "pyfs-fuse.h"
#include "pyfs-tree.h"

struct _PyfsFs {
	PyfsTree tree;
	PyfsAccess *access;           /* who may do what: checked first by every handler */
	struct fuse_session *session;
	char *mountpoint;
	uid_t uid;                    /* the daemon's user and group: every node's owner */
	gid_t gid;
	struct timespec mount_time;
	struct timespec modules_time; /* last change of the module list */
	GMutex time_lock;             /* guards modules_time; a leaf lock */
	GHashTable *handles;          /* open file and directory handles -> their free function */
	GMutex handles_lock;          /* guards handles; a leaf lock */

	GThreadPool *waiters;         /* serve the requests that wait for Python (pyfs-fuse.c) */
	gint fuse_waiting;            /* FUSE threads waiting for Python themselves (atomic) */

	GMutex notify_lock;           /* guards the four below; a leaf lock */
	GCond notify_cond;            /* notify_sent grew */
	GPtrArray *notify_queue;      /* kernel invalidations, sent from the main loop */
	guint64 notify_queued;        /* how many were ever queued */
	guint64 notify_sent;          /* how many of those were sent */
	PyfsModlist *listed;          /* the module list the kernel was last told of */
	GSource *notify_source;       /* main context: sends them */
	GSource *sweep_source;        /* main context: releases what expired in the cache */

	GThread *thread;
	gboolean stopping;            /* set by pyfs_fs_stop() before ending the session */
	GMutex served_lock;
	GCond served_cond;
	gboolean served;              /* the session loop has returned (under served_lock) */
	gboolean mounted;
	PyfsFuseMount *mounting;      /* the mount under way, until pyfs_fs_attach() */
	gboolean attached;            /* pyfs_fs_attach() succeeded: the tree is there */
	PyfsFsEndedFunc ended;
	gpointer ended_data;
};

/* The fixed directories and run/modules' entry are kept this long by the kernel, in seconds. */
#define PYFS_FUSE_FIXED_TIMEOUT 3600.0
/* Everything else at most this long: the cache's timeout. */
#define PYFS_FUSE_ATTR_TIMEOUT ((double)PYFS_CACHE_TIMEOUT_US / G_TIME_SPAN_SECOND)

/* The operations, served from the session's worker pool. */
extern const struct fuse_lowlevel_ops pyfs_fuse_ops;

static inline PyfsFs *pyfs_fuse_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* What a stat of @node, of @kind with @content, says (pyfs-fuse-attr.c). */
void pyfs_fuse_fill_stat(PyfsFs *fs, const PyfsNode *node, PyfsEntryKind kind, GBytes *content,
			 struct stat *st);
/* The entry a LOOKUP or READDIRPLUS hands out for @node as @rendering says. */
void pyfs_fuse_fill_entry(PyfsFs *fs, const PyfsNode *node, const PyfsRendering *rendering,
			  struct fuse_entry_param *e);
/* How long the kernel may keep @node's entry and attributes, in seconds. */
void pyfs_fuse_timeouts(const PyfsNode *node, const PyfsRendering *rendering, double *entry,
			double *attr);

/*
 * Directories (pyfs-fuse-dir.c). OPENDIR: replies and returns TRUE, or
 * with PYFS_TREE_NOWAIT returns FALSE, not replying, when Python code of
 * the objects is needed.
 */
gboolean pyfs_fuse_serve_opendir(PyfsFs *fs, fuse_req_t req, PyfsNode *node,
				 struct fuse_file_info *fi, PyfsTreeWait wait);
void pyfs_fuse_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void pyfs_fuse_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi);
void pyfs_fuse_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* Frees a request handed to the waiters (pyfs-fuse.c). */
void pyfs_fuse_waiting_free(gpointer request);
/* A waiter's work: serves @request, which may wait for Python. */
void pyfs_fuse_waiting_serve(gpointer request, gpointer fs);

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

/* run/reload (pyfs-fuse-reload.c). */
void pyfs_fuse_reload_open(PyfsFs *fs, fuse_req_t req, struct fuse_file_info *fi);
void pyfs_fuse_reload_write(PyfsFs *fs, fuse_req_t req, size_t size);
/* Applies a setattr to run/reload (nothing to change); FALSE when it refused, having replied. */
gboolean pyfs_fuse_reload_setattr(fuse_req_t req, int to_set);

/* Kernel invalidations (pyfs-fuse-notify.c): queued from any thread, sent from the main loop. */
void pyfs_fuse_notify_init(PyfsFs *fs);
void pyfs_fuse_notify_clear(PyfsFs *fs);
void pyfs_fuse_queue_inval_inode(PyfsFs *fs, fuse_ino_t ino);
void pyfs_fuse_queue_inval_entry(PyfsFs *fs, fuse_ino_t parent, const char *name);
/*
 * After a change of the module list, on the committing thread, no lock
 * held: has the kernel forget the lib/NAME entries of the names removed,
 * and waits until it has.
 */
void pyfs_fuse_notify_list_changed(PyfsFs *fs);
