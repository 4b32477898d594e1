/* SPDX-License-Identifier: MIT */
/*
 * What the tree's files share: pyfs-tree.c (the fixed directories, lib/,
 * bin/, dot/ and the time limit) and pyfs-tree-module.c (the inside of a
 * module). The rest of fs/ uses pyfs-tree.h.
 */
#pragma once

#include "pyfs-python.h"

#include "pyfs-tree.h"

G_BEGIN_DECLS

/* One piece of work on the tree. */
typedef struct {
	PyfsTree *tree;
	gboolean may_run_code; /* on a deadline worker: Python code of the objects may run */
	gint64 now;            /* monotonic time the work began */
	guint64 epoch;         /* the cache's epoch when it began */
} PyfsTreeCtx;

/* A rendering made by @ctx's work (takes @content), current for the attribute timeout. */
PyfsRendering *pyfs_tree_rendering(PyfsTreeCtx *ctx, PyfsEntryKind kind, GBytes *content);

/* @node's cached rendering (a new reference), if it is still current. */
PyfsRendering *pyfs_tree_cached(PyfsTreeCtx *ctx, PyfsNode *node);

/*
 * A symlink rendering from @from (an attribute or a bin/ link) to the
 * place of @module (plus "/@within" if not NULL): under lib/ when the
 * module is listed, under run/sys.modules/ when not.
 */
PyfsRendering *pyfs_tree_link(PyfsTreeCtx *ctx, const PyfsNode *from, const char *module,
			      const char *within);

/* Drops the renderings shared by object (takes the GIL if there are any). */
void pyfs_tree_clear_shared(PyfsTree *tree);

/* What attribute node @node is now (cached, or found). */
int pyfs_tree_examine_attr(PyfsTreeCtx *ctx, PyfsNode *node, PyfsRendering **rendering);

/* Appends the children of module directory @dir (a MODULE or ATTR node) to @children. */
int pyfs_tree_list_module(PyfsTreeCtx *ctx, PyfsNode *dir, GArray *children);

G_END_DECLS
