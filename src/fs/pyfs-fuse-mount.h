/* SPDX-License-Identifier: MIT */
/*
 * Mounting a FUSE session in the background, so that pyfsd starts its
 * interpreter while fusermount3 does its part (pyfs-fuse-mount.c).
 */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _PyfsFuseMount PyfsFuseMount;

/*
 * Starts fuse_session_mount(@session, @mountpoint) in a thread of its own
 * and returns once libfuse has forked fusermount3 (or given up before).
 * @session must stay until pyfs_fuse_mount_finish().
 */
PyfsFuseMount *pyfs_fuse_mount_begin(struct fuse_session *session, const char *mountpoint,
				     GError **error);

/* Waits for the mount, frees @mount; FALSE with @error if it failed. */
gboolean pyfs_fuse_mount_finish(PyfsFuseMount *mount, GError **error);

G_END_DECLS
