/* SPDX-License-Identifier: MIT */
/*
 * The label naming one mount: the bus name org.pyfs.<label> and the state
 * file <label>.modules both use it, so one mountpoint has the same name in
 * both places and a name in either place maps back to a single mountpoint.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * At most this many bytes: room for "org.pyfs." in a 255-byte bus name,
 * and so for a suffix of up to 9 bytes in a 255-byte file name.
 */
#define PYFS_LABEL_MAX (255 - (sizeof("org.pyfs.") - 1))

/*
 * The label of the mount on @mountpoint (absolute): the path relative to
 * @home when it lies strictly inside it, else the absolute path, with
 * every byte outside [A-Za-z0-9], and a leading digit, written "_xx" (two
 * lowercase hex digits), as sd-bus escapes object path labels. "mnt" ->
 * "mnt", "fuse-test/mnt" -> "fuse_2dtest_2fmnt", "/tmp/x" -> "_2ftmp_2fx"
 * (a relative path never starts with "/", so the two kinds cannot
 * collide). A result longer than PYFS_LABEL_MAX is cut and ends with "_x"
 * and a hash of the path, which no escape produces.
 */
char *pyfs_label_for_mountpoint(const char *mountpoint, const char *home);

G_END_DECLS
