/* SPDX-License-Identifier: MIT */
/*
 * The FUSE filesystem: the tree (README, "The tree") over the registry and
 * the embedded interpreter, served by fuse_session_loop_mt in its own
 * threads.
 */
#pragma once

#include <signal.h>

#include <glib.h>

#include "pyfs-livecode.h"
#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct _PyfsFs PyfsFs;

/* Reserved to wake the FUSE workers on shutdown (see pyfs-fuse.c). */
#define PYFS_WAKE_SIGNAL SIGUSR1

/*
 * Blocks PYFS_WAKE_SIGNAL in the calling thread: call it first thing in
 * main(), so that every thread created later but the FUSE pool inherits it.
 */
void pyfs_fs_block_wake_signal(void);

/*
 * Called once, from a FUSE thread, when the session ends without
 * pyfs_fs_stop() (the mount was released from outside).
 */
typedef void (*PyfsFsEndedFunc)(gpointer user_data);

/*
 * Creates the session and starts mounting it on @mountpoint with the FUSE
 * mount options @options (comma-separated, may be NULL), in the
 * background: the caller may start the interpreter meanwhile (see
 * pyfs-fuse-mount.c). With @allow_others, other users may read, list and
 * run (allow_other is added); otherwise only pyfsd's user may use the
 * mount (pyfs-access.h).
 */
PyfsFs *pyfs_fs_mount(const char *mountpoint, const char *options, gboolean allow_others,
		      GError **error);

/*
 * Waits for the mount and sets up the tree over @registry, once the
 * interpreter is up. Does not serve yet. FALSE if the mount failed;
 * pyfs_fs_free() then releases what is left.
 */
gboolean pyfs_fs_attach(PyfsFs *fs, PyfsRegistry *registry, GError **error);

/* Serves the mount from a thread pool; @ended as above. */
gboolean pyfs_fs_start(PyfsFs *fs, PyfsFsEndedFunc ended, gpointer user_data, GError **error);

/* The call server's socket to name in executable files (NULL: none). Before start. */
void pyfs_fs_set_call_socket(PyfsFs *fs, const char *socket);

/*
 * The live code the tree follows (borrowed; lives longer than @fs), whose
 * fresh imports drop what the tree and the kernel keep. Before start.
 */
void pyfs_fs_set_livecode(PyfsFs *fs, PyfsLivecode *livecode);

/* How long pyfs_fs_stop() waits for the FUSE threads once the mount is released. */
#define PYFS_FS_STOP_WAIT_MS 2000

/*
 * Stops serving and releases the mount, then waits for the FUSE threads,
 * at most PYFS_FS_STOP_WAIT_MS. FALSE: one is stuck in a request (waiting
 * for the GIL that Python code holds for good, most likely) and the
 * session is left to the exit; pyfs_fs_free() then frees nothing, and
 * what the session reaches (the registry, its listeners, the interpreter)
 * must stay too. Idempotent.
 */
gboolean pyfs_fs_stop(PyfsFs *fs);

/*
 * The code of the modules changed (a module was imported again): every
 * rendering, listing and script made before is dropped, so that the next
 * request under lib/ finds the objects afresh, and the kernel is told to
 * forget what it keeps of the modules' nodes (sent from the main loop).
 * Any thread, no GIL and no pyfs lock held.
 */
void pyfs_fs_code_changed(PyfsFs *fs);

void pyfs_fs_free(PyfsFs *fs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsFs, pyfs_fs_free)

G_END_DECLS
