/* SPDX-License-Identifier: MIT */
/*
 * The tree of DESIGN 2, without FUSE: what a node is now (its kind and the
 * bytes a read returns), what a name in a directory is, and what a
 * directory holds. Each call takes the GIL itself when it needs Python and
 * returns a negative errno on failure (ENOENT when the object is gone).
 * A failure with more to say than its errno (Python code that did not
 * finish within the deadline: -ETIMEDOUT) also sets @error, for the
 * caller to log; the tree logs no failure of its own.
 */
#pragma once

#include <glib.h>

#include "pyfs-inode.h"
#include "pyfs-livecode.h"
#include "pyfs-object.h"
#include "pyfs-registry.h"

G_BEGIN_DECLS

typedef struct {
	PyfsRegistry *registry; /* borrowed */
	PyfsInodeTable *inodes; /* owned */
	char *call_socket;      /* named in executable files; may be NULL */
	PyfsLivecode *livecode; /* borrowed; NULL when the code is not watched */
} PyfsTree;

typedef struct {
	PyfsEntryKind kind; /* DIR for every directory, VALUE for run/modules */
	GBytes *content;    /* VALUE, EXEC: what a read returns; SYMLINK: the target */
} PyfsNodeInfo;

void pyfs_node_info_clear(PyfsNodeInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PyfsNodeInfo, pyfs_node_info_clear)

/*
 * The calls below hold the live-code gate (pyfs-livecode.h) while they run
 * Python code: a caller holds no pyfs lock and not the GIL.
 */

/* What @node is now. run/modules' content is the current list. */
int pyfs_tree_examine(PyfsTree *tree, const PyfsNode *node, PyfsNodeInfo *info, GError **error);

/* The node called @name in directory @dir, examined into @info. */
int pyfs_tree_lookup(PyfsTree *tree, const PyfsNode *dir, const char *name,
		     const PyfsNode **child, PyfsNodeInfo *info, GError **error);

/* A directory's child, examined when the directory was listed. */
typedef struct {
	const PyfsNode *node; /* borrowed from the inode table */
	PyfsNodeInfo info;
} PyfsChild;

void pyfs_child_clear(PyfsChild *child);

/*
 * The children of directory @dir, in listing order, each examined (a
 * GArray of PyfsChild that clears its elements).
 */
int pyfs_tree_list(PyfsTree *tree, const PyfsNode *dir, GArray **children, GError **error);

G_END_DECLS
