/* SPDX-License-Identifier: MIT */
/*
 * The inode table: a number for every node of the tree that the kernel,
 * or pyfsd itself, holds.
 *
 * Inode ownership model: a node is identified by what it names (its type,
 * module and attribute chain, or builtin name, and for a module's place
 * whether it is reached through lib/ or run/sys.modules/), never by the
 * Python object found there, so a path keeps its node while the object
 * behind it changes. A node lives while the kernel holds a lookup of it
 * (FUSE's lookup count: each reply that hands out an entry adds one,
 * FORGET takes them back) or pyfsd holds a reference (a request under way,
 * an open file, a listing, a cached rendering). When both are gone it is
 * freed, and its number may later go to another node with a higher
 * generation, so that (number, generation) never names two nodes. So a
 * number is stable for as long as the kernel knows the node: an open file,
 * a working directory or a cached entry keeps it. Names looked up once and
 * forgotten (any identifier under dot/, any name a module's __getattr__
 * accepts) cost nothing once the kernel has let go of them.
 *
 * Locking: the table lock is a leaf (see pyfs-python.h); nothing is
 * called while it is held, not even the free function of a node's data.
 */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	PYFS_NODE_ROOT,
	PYFS_NODE_LIB,         /* lib/ */
	PYFS_NODE_RUN,         /* run/ */
	PYFS_NODE_BIN,         /* bin/ */
	PYFS_NODE_DOT,         /* dot/ */
	PYFS_NODE_MODULES,     /* run/modules */
	PYFS_NODE_RELOAD,      /* run/reload */
	PYFS_NODE_SYS_MODULES, /* run/sys.modules/: every imported module, never listed */
	PYFS_NODE_MODULE,      /* lib/NAME or run/sys.modules/NAME: a module's directory */
	PYFS_NODE_ATTR,        /* MODULE/ATTR...: kind decided by the object found */
	PYFS_NODE_BIN_LINK,    /* bin/NAME -> builtins' NAME */
	PYFS_NODE_DOT_EXEC,    /* dot/NAME */
} PyfsNodeType;

/* The directories that are always there, with fixed contents: /, lib/,
 * run/, bin/, dot/ and run/sys.modules/. */
static inline gboolean pyfs_node_type_is_fixed_dir(PyfsNodeType type)
{
	return type == PYFS_NODE_ROOT || type == PYFS_NODE_LIB || type == PYFS_NODE_RUN ||
	       type == PYFS_NODE_BIN || type == PYFS_NODE_DOT || type == PYFS_NODE_SYS_MODULES;
}

/* The fixed inodes, which live as long as the table. */
#define PYFS_INO_ROOT FUSE_ROOT_ID
#define PYFS_INO_LIB 2
#define PYFS_INO_RUN 3
#define PYFS_INO_BIN 4
#define PYFS_INO_DOT 5
#define PYFS_INO_MODULES 6
#define PYFS_INO_SYS_MODULES 7
#define PYFS_INO_RELOAD 8

/* The name of run/sys.modules/ in run/. */
#define PYFS_SYS_MODULES_NAME "sys.modules"

typedef struct _PyfsInodeTable PyfsInodeTable;

/* A node: what it names never changes. Reference-counted (see above). */
typedef struct {
	fuse_ino_t ino;
	guint64 generation;
	PyfsNodeType type;
	gboolean unlisted; /* MODULE, ATTR: under run/sys.modules/, not lib/ */
	char *module;      /* MODULE, ATTR: the module's name */
	GStrv attrs;       /* ATTR: the attribute chain from the module, never empty */
	char *name;        /* the file name in its directory (BIN_LINK, DOT_EXEC: the attribute) */
	/* The table owner's data (pyfs_inode_table_new()), zeroed at first,
	 * cleared when the node goes. Guarded by the owner's own lock. */
	gpointer data;
} PyfsNode;

/*
 * Every node carries @data_size bytes for the table's owner, and
 * @clear_data (may be NULL) releases what they hold when the node goes.
 */
PyfsInodeTable *pyfs_inode_table_new(gsize data_size, GDestroyNotify clear_data);
void pyfs_inode_table_free(PyfsInodeTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsInodeTable, pyfs_inode_table_free)

PyfsNode *pyfs_node_ref(PyfsNode *node);
/* Drops a reference; frees the node if it was the last and the kernel holds no lookup. */
void pyfs_node_unref(PyfsNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsNode, pyfs_node_unref)

/* The node with number @ino (a new reference), or NULL. */
PyfsNode *pyfs_inode_get(PyfsInodeTable *table, fuse_ino_t ino);

/*
 * The node for a module's place, an attribute (@attrs non-empty, @file its
 * name in the directory), a bin/ link or a dot/ file, created on first use
 * (a new reference).
 */
PyfsNode *pyfs_inode_module(PyfsInodeTable *table, const char *module, gboolean unlisted);
PyfsNode *pyfs_inode_attr(PyfsInodeTable *table, const char *module, gboolean unlisted,
			  const char *const *attrs, const char *file);
PyfsNode *pyfs_inode_named(PyfsInodeTable *table, PyfsNodeType type, const char *name);

/* The directory holding @node (a new reference), if it exists now; NULL for the root. */
PyfsNode *pyfs_inode_parent(PyfsInodeTable *table, const PyfsNode *node);

/*
 * Counts one lookup that the kernel now holds: call it before the reply
 * that hands out the entry, and pyfs_inode_forget(table, ino, 1) if that
 * reply could not be sent.
 */
void pyfs_inode_lookup(PyfsInodeTable *table, PyfsNode *node);
/* The kernel let go of @n lookups of @ino (FORGET). Returns how many nodes were freed. */
guint pyfs_inode_forget(PyfsInodeTable *table, fuse_ino_t ino, guint64 n);

/* How many nodes the table holds. */
guint pyfs_inode_count(PyfsInodeTable *table);

/* The nodes the kernel holds a lookup of now (new references), in no order. */
GPtrArray *pyfs_inode_known(PyfsInodeTable *table);

G_END_DECLS
