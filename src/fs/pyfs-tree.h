/* SPDX-License-Identifier: MIT */
/*
 * The tree (README, "The tree"), without FUSE: what a node is now (its
 * rendering: kind and the bytes a read returns), what a name in a
 * directory is, and what a directory holds. Each call takes the GIL itself
 * when it needs Python and returns a negative errno on failure (ENOENT
 * when the object is gone).
 *
 * Time limit: Python code of the objects (a __str__, a module's __dir__
 * or __getattr__, a property) may block, so it runs on a deadline worker
 * (pyfs-deadline.h), and the caller waits for it at most the limit. What
 * runs none (a rendering still current, a plain module's dict, a str or a
 * list of ints: see pyfs-object.h) is done on the calling thread. With
 * PYFS_TREE_NOWAIT a call does only that, and says -EWOULDBLOCK when the
 * rest would be needed, so that a caller that must not wait (a FUSE
 * thread) can hand the request to one that may.
 *
 * Caching: renderings and listings are kept (pyfs-cache.h), so that one
 * rendering serves every request that comes within the attribute timeout.
 * lib/ itself is never cached: lib/NAME exists if and only if NAME is in
 * the module list now. A module that is not listed has its place under
 * run/sys.modules/, which resolves every module in sys.modules and lists
 * none: links to it lead there.
 */
#pragma once

#include <glib.h>

#include "pyfs-cache.h"
#include "pyfs-inode.h"
#include "pyfs-livecode.h"
#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct _PyfsShared PyfsShared;

typedef struct {
	PyfsRegistry *registry;    /* borrowed */
	PyfsInodeTable *inodes;    /* owned */
	PyfsCache *cache;          /* owned */
	char *call_socket;         /* named in executable files; may be NULL */
	PyfsRendering *fixed_dir;  /* what every fixed directory is */
	PyfsShared *shared;        /* renderings shared by object (pyfs-tree-module.c) */
	PyfsLivecode *livecode;    /* borrowed; NULL when the code is not watched */
} PyfsTree;

/* @wake as for pyfs_cache_new(). */
void pyfs_tree_init(PyfsTree *tree, PyfsRegistry *registry, PyfsCacheWakeFunc wake,
		    gpointer wake_data);
void pyfs_tree_clear(PyfsTree *tree);

typedef enum {
	PYFS_TREE_NOWAIT, /* no Python code of the objects: -EWOULDBLOCK where it is needed */
	PYFS_TREE_WAIT,   /* that code too, on a deadline worker: -ETIMEDOUT past the limit */
} PyfsTreeWait;

/*
 * The calls below hold the live-code gate (pyfs-livecode.h) while they
 * run: a caller holds no pyfs lock and not the GIL.
 */

/* What @node is now (a new reference in @rendering). */
int pyfs_tree_examine(PyfsTree *tree, PyfsNode *node, PyfsTreeWait wait,
		      PyfsRendering **rendering);

/* The node called @name in directory @dir (a new reference), and what it is now. */
int pyfs_tree_lookup(PyfsTree *tree, PyfsNode *dir, const char *name, PyfsTreeWait wait,
		     PyfsNode **child, PyfsRendering **rendering);

/* A directory's child, as the directory was listed. */
typedef struct {
	PyfsNode *node;            /* a reference */
	PyfsRendering *rendering;  /* a reference */
} PyfsChild;

void pyfs_child_clear(PyfsChild *child);

/*
 * The children of directory @dir, in listing order, each with what it is
 * (a GArray of PyfsChild that clears its elements).
 */
int pyfs_tree_list(PyfsTree *tree, PyfsNode *dir, PyfsTreeWait wait, GArray **children);

G_END_DECLS
