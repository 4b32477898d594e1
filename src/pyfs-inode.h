/* SPDX-License-Identifier: MIT */
/*
 * The inode table: a stable inode number for every node of the tree.
 *
 * Inode ownership model: a node is identified by what it names (its type,
 * module and attribute chain, or builtin name), never by the Python object
 * found there, so the same path gets the same inode for the life of the
 * mount even when the object behind it changes. Nodes are created on
 * lookup and readdirplus and are never freed while the table lives:
 * pointers handed out stay valid, and FUSE's lookup counts (kept for
 * forget) never decide an inode's identity. The tree is finite, so the
 * table is bounded by what has been visited.
 *
 * The table lock is a leaf lock (see pyfs-python.h).
 */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	PYFS_NODE_ROOT,
	PYFS_NODE_LIB,       /* lib/ */
	PYFS_NODE_RUN,       /* run/ */
	PYFS_NODE_BIN,       /* bin/ */
	PYFS_NODE_DOT,       /* dot/ */
	PYFS_NODE_MODULES,   /* run/modules */
	PYFS_NODE_MODULE,    /* lib/NAME: a module's directory */
	PYFS_NODE_ATTR,      /* lib/NAME/ATTR...: kind decided by the object found */
	PYFS_NODE_BIN_LINK,  /* bin/NAME -> ../lib/builtins/NAME */
	PYFS_NODE_DOT_EXEC,  /* dot/NAME */
} PyfsNodeType;

/* The fixed inodes. */
#define PYFS_INO_ROOT FUSE_ROOT_ID
#define PYFS_INO_LIB 2
#define PYFS_INO_RUN 3
#define PYFS_INO_BIN 4
#define PYFS_INO_DOT 5
#define PYFS_INO_MODULES 6

typedef struct {
	fuse_ino_t ino;
	PyfsNodeType type;
	char *module;   /* MODULE, ATTR: the module's name */
	GStrv attrs;    /* ATTR: the attribute chain from the module, never empty */
	char *name;     /* the file name in its directory (BIN_LINK, DOT_EXEC: the attribute) */
} PyfsNode;

typedef struct _PyfsInodeTable PyfsInodeTable;

PyfsInodeTable *pyfs_inode_table_new(void);
void pyfs_inode_table_free(PyfsInodeTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsInodeTable, pyfs_inode_table_free)

/* The node with inode @ino, or NULL. Borrowed: valid while the table lives. */
const PyfsNode *pyfs_inode_get(PyfsInodeTable *table, fuse_ino_t ino);

/*
 * The node for a module directory, an attribute (@attrs non-empty), a bin/
 * link or a dot/ file, created on first use. Borrowed, as above.
 */
const PyfsNode *pyfs_inode_module(PyfsInodeTable *table, const char *module);
const PyfsNode *pyfs_inode_attr(PyfsInodeTable *table, const char *module,
				const char *const *attrs, const char *file);
const PyfsNode *pyfs_inode_named(PyfsInodeTable *table, PyfsNodeType type, const char *name);

/* Counts a lookup the kernel now holds, and releases @n of them (forget). */
void pyfs_inode_ref(PyfsInodeTable *table, fuse_ino_t ino);
void pyfs_inode_forget(PyfsInodeTable *table, fuse_ino_t ino, guint64 n);

G_END_DECLS
