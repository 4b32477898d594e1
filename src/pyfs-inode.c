/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pyfs-inode.h"

typedef struct {
	PyfsNode node;   /* first: a PyfsNode * is an Inode * */
	guint64 nlookup; /* under the table lock */
} Inode;

struct _PyfsInodeTable {
	GMutex lock;         /* guards everything below; a leaf lock */
	GHashTable *by_key;  /* identity key (owned) -> Inode * */
	GHashTable *by_ino;  /* ino -> Inode * (owned) */
	fuse_ino_t next_ino;
};

static void inode_free(gpointer data)
{
	Inode *inode = data;

	g_free(inode->node.module);
	g_strfreev(inode->node.attrs);
	g_free(inode->node.name);
	g_free(inode);
}

/* Called with the lock held. */
static Inode *insert(PyfsInodeTable *table, fuse_ino_t ino, PyfsNodeType type, const char *name)
{
	Inode *inode = g_new0(Inode, 1);

	inode->node.ino = ino;
	inode->node.type = type;
	inode->node.name = g_strdup(name);
	g_hash_table_insert(table->by_ino, GSIZE_TO_POINTER(ino), inode);
	return inode;
}

PyfsInodeTable *pyfs_inode_table_new(void)
{
	PyfsInodeTable *table = g_new0(PyfsInodeTable, 1);

	g_mutex_init(&table->lock);
	table->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	table->by_ino = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, inode_free);
	insert(table, PYFS_INO_ROOT, PYFS_NODE_ROOT, "");
	insert(table, PYFS_INO_LIB, PYFS_NODE_LIB, "lib");
	insert(table, PYFS_INO_RUN, PYFS_NODE_RUN, "run");
	insert(table, PYFS_INO_BIN, PYFS_NODE_BIN, "bin");
	insert(table, PYFS_INO_DOT, PYFS_NODE_DOT, "dot");
	insert(table, PYFS_INO_MODULES, PYFS_NODE_MODULES, "modules");
	table->next_ino = PYFS_INO_MODULES + 1;
	return table;
}

void pyfs_inode_table_free(PyfsInodeTable *table)
{
	if (table == NULL)
		return;
	g_hash_table_unref(table->by_key);
	g_hash_table_unref(table->by_ino);
	g_mutex_clear(&table->lock);
	g_free(table);
}

const PyfsNode *pyfs_inode_get(PyfsInodeTable *table, fuse_ino_t ino)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);

	return g_hash_table_lookup(table->by_ino, GSIZE_TO_POINTER(ino));
}

/*
 * Finds or creates the node with identity @key. The key is built from
 * parts separated by "/" (which no module, attribute or file name holds),
 * prefixed by the type.
 */
static const PyfsNode *intern(PyfsInodeTable *table, char *key, PyfsNodeType type,
			      const char *module, const char *const *attrs, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);
	Inode *inode = g_hash_table_lookup(table->by_key, key);

	if (inode != NULL) {
		g_free(key);
		return &inode->node;
	}
	inode = insert(table, table->next_ino++, type, name);
	inode->node.module = g_strdup(module);
	inode->node.attrs = g_strdupv((char **)attrs);
	g_hash_table_insert(table->by_key, key, inode);
	return &inode->node;
}

const PyfsNode *pyfs_inode_module(PyfsInodeTable *table, const char *module)
{
	return intern(table, g_strconcat("m/", module, NULL), PYFS_NODE_MODULE, module, NULL,
		      module);
}

const PyfsNode *pyfs_inode_attr(PyfsInodeTable *table, const char *module,
				const char *const *attrs, const char *file)
{
	g_autofree char *chain = g_strjoinv("/", (char **)attrs);

	return intern(table, g_strconcat("a/", module, "/", chain, NULL), PYFS_NODE_ATTR, module,
		      attrs, file);
}

const PyfsNode *pyfs_inode_named(PyfsInodeTable *table, PyfsNodeType type, const char *name)
{
	g_return_val_if_fail(type == PYFS_NODE_BIN_LINK || type == PYFS_NODE_DOT_EXEC, NULL);
	return intern(table, g_strdup_printf("%d/%s", (int)type, name), type, NULL, NULL, name);
}

void pyfs_inode_ref(PyfsInodeTable *table, fuse_ino_t ino)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);
	Inode *inode = g_hash_table_lookup(table->by_ino, GSIZE_TO_POINTER(ino));

	if (inode != NULL)
		inode->nlookup++;
}

void pyfs_inode_forget(PyfsInodeTable *table, fuse_ino_t ino, guint64 n)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);
	Inode *inode = g_hash_table_lookup(table->by_ino, GSIZE_TO_POINTER(ino));

	if (inode != NULL)
		inode->nlookup = n > inode->nlookup ? 0 : inode->nlookup - n;
}
