/* SPDX-License-Identifier: MIT */
/* The mountpoint before mounting: checks that give clear errors, and stale mounts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Makes @path ready to mount on: a stale FUSE mount left by a crash
 * ("Transport endpoint is not connected") is lazily unmounted first. Fails
 * with a message a user can act on when @path is missing, not a directory,
 * already a mountpoint, or /dev/fuse cannot be opened.
 */
gboolean pyfs_mountpoint_prepare(const char *path, GError **error);

/* Whether the filesystem mounted on @path answers: run/modules can be stat'ed. */
gboolean pyfs_mountpoint_answers(const char *path);

G_END_DECLS
