/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pyfs-inode.h"

/*
 * One allocation per node, so that the nodes that stay are not scattered
 * among the short-lived blocks of a burst of requests: the Inode, then the
 * owner's data, the attribute vector and the strings.
 */
typedef struct {
	PyfsNode node;          /* first: a PyfsNode * is an Inode * */
	PyfsInodeTable *table;
	const char *key;        /* identity, see key_for() */
	/* Under the table lock: */
	guint refs;             /* pyfsd's references */
	guint64 nlookup;        /* the kernel's */
	gboolean fixed;         /* lives as long as the table */
} Inode;

struct _PyfsInodeTable {
	GMutex lock;            /* guards everything below and each Inode's counts; a leaf lock */
	GHashTable *by_key;     /* identity key -> Inode * (keys owned by the Inodes) */
	GHashTable *by_ino;     /* ino -> Inode * */
	GArray *free_inos;      /* of fuse_ino_t: numbers freed, handed out again first */
	fuse_ino_t next_ino;    /* the lowest number never handed out */
	guint64 generation;     /* of nodes created now: raised by every free */
	gsize data_size;        /* of each node's data, rounded up for what follows */
	GDestroyNotify clear_data;
};

/*
 * The identity of a node as a string: the type, then parts separated by
 * "/", which no module, attribute or file name holds. A module's place and
 * what is under it differ between lib/ ("l") and run/sys.modules/ ("s"):
 * one directory reached through two parents would be two dentries of one
 * inode, which the kernel does not allow for directories.
 */
static char *key_for(PyfsNodeType type, gboolean unlisted, const char *module,
		     const char *const *attrs, const char *name)
{
	g_autofree char *chain = NULL;

	switch (type) {
	case PYFS_NODE_MODULE:
		return g_strdup_printf("%d%c/%s", (int)type, unlisted ? 's' : 'l', module);
	case PYFS_NODE_ATTR:
		chain = g_strjoinv("/", (char **)attrs);
		return g_strdup_printf("%d%c/%s/%s", (int)type, unlisted ? 's' : 'l', module,
				       chain);
	default:
		return g_strdup_printf("%d/%s", (int)type, name);
	}
}

/* Frees @inode, which no map holds any more; outside the lock. */
static void inode_free(PyfsInodeTable *table, Inode *inode)
{
	if (table->clear_data != NULL)
		table->clear_data(inode->node.data);
	g_free(inode);
}

/* Copies @text to *@at, returns the copy and moves *@at past it; NULL stays NULL. */
static char *put_string(char **at, const char *text)
{
	char *copy = *at;
	gsize len;

	if (text == NULL)
		return NULL;
	len = strlen(text) + 1;
	memcpy(copy, text, len);
	*at += len;
	return copy;
}

/* Called with the lock held: removes @inode from the maps if nothing holds it. */
static gboolean release_locked(PyfsInodeTable *table, Inode *inode)
{
	if (inode->fixed || inode->refs > 0 || inode->nlookup > 0)
		return FALSE;
	g_hash_table_remove(table->by_key, inode->key);
	g_hash_table_remove(table->by_ino, GSIZE_TO_POINTER(inode->node.ino));
	g_array_append_val(table->free_inos, inode->node.ino);
	/* Whatever gets this number next is another node. */
	table->generation++;
	return TRUE;
}

/* The node for @key, allocated in one block (see Inode). */
static Inode *inode_new(PyfsInodeTable *table, const char *key, PyfsNodeType type,
			gboolean unlisted, const char *module, const char *const *attrs,
			const char *name)
{
	guint n_attrs = attrs ? g_strv_length((char **)attrs) : 0;
	gsize size = sizeof(Inode) + table->data_size;
	Inode *inode;
	char *at;

	if (attrs != NULL)
		size += (n_attrs + 1) * sizeof(char *);
	size += strlen(key) + 1 + (module ? strlen(module) + 1 : 0) + (name ? strlen(name) + 1 : 0);
	for (guint i = 0; i < n_attrs; i++)
		size += strlen(attrs[i]) + 1;
	inode = g_malloc0(size);
	at = (char *)(inode + 1);
	inode->node.data = table->data_size > 0 ? at : NULL;
	at += table->data_size;
	if (attrs != NULL) {
		inode->node.attrs = (GStrv)at;
		at += (n_attrs + 1) * sizeof(char *);
		for (guint i = 0; i < n_attrs; i++)
			inode->node.attrs[i] = put_string(&at, attrs[i]);
	}
	inode->table = table;
	inode->key = put_string(&at, key);
	inode->node.type = type;
	inode->node.unlisted = unlisted;
	inode->node.module = put_string(&at, module);
	inode->node.name = put_string(&at, name);
	return inode;
}

/* Called with the lock held. */
static Inode *insert_locked(PyfsInodeTable *table, const char *key, PyfsNodeType type,
			    gboolean unlisted, const char *module, const char *const *attrs,
			    const char *name)
{
	Inode *inode = inode_new(table, key, type, unlisted, module, attrs, name);
	fuse_ino_t ino;

	if (table->free_inos->len > 0) {
		ino = g_array_index(table->free_inos, fuse_ino_t, table->free_inos->len - 1);
		g_array_set_size(table->free_inos, table->free_inos->len - 1);
	} else {
		ino = table->next_ino++;
	}
	inode->node.ino = ino;
	inode->node.generation = table->generation;
	g_hash_table_insert(table->by_key, (gpointer)inode->key, inode);
	g_hash_table_insert(table->by_ino, GSIZE_TO_POINTER(ino), inode);
	return inode;
}

static void insert_fixed(PyfsInodeTable *table, fuse_ino_t ino, PyfsNodeType type,
			 const char *name)
{
	g_autofree char *key = key_for(type, FALSE, NULL, NULL, name);
	Inode *inode;

	table->next_ino = ino;
	inode = insert_locked(table, key, type, FALSE, NULL, NULL, name);
	inode->fixed = TRUE;
}

PyfsInodeTable *pyfs_inode_table_new(gsize data_size, GDestroyNotify clear_data)
{
	PyfsInodeTable *table = g_new0(PyfsInodeTable, 1);

	g_mutex_init(&table->lock);
	table->by_key = g_hash_table_new(g_str_hash, g_str_equal);
	table->by_ino = g_hash_table_new(g_direct_hash, g_direct_equal);
	table->free_inos = g_array_new(FALSE, FALSE, sizeof(fuse_ino_t));
	table->generation = 1;
	/* What follows the data is pointers and strings. */
	table->data_size = (data_size + sizeof(gpointer) - 1) / sizeof(gpointer) * sizeof(gpointer);
	table->clear_data = clear_data;
	insert_fixed(table, PYFS_INO_ROOT, PYFS_NODE_ROOT, "");
	insert_fixed(table, PYFS_INO_LIB, PYFS_NODE_LIB, "lib");
	insert_fixed(table, PYFS_INO_RUN, PYFS_NODE_RUN, "run");
	insert_fixed(table, PYFS_INO_BIN, PYFS_NODE_BIN, "bin");
	insert_fixed(table, PYFS_INO_DOT, PYFS_NODE_DOT, "dot");
	insert_fixed(table, PYFS_INO_MODULES, PYFS_NODE_MODULES, "modules");
	insert_fixed(table, PYFS_INO_SYS_MODULES, PYFS_NODE_SYS_MODULES, PYFS_SYS_MODULES_NAME);
	insert_fixed(table, PYFS_INO_RELOAD, PYFS_NODE_RELOAD, "reload");
	return table;
}

/* Only once nothing can use a node any more: at the end of the session. */
void pyfs_inode_table_free(PyfsInodeTable *table)
{
	GHashTableIter iter;
	gpointer inode;

	if (table == NULL)
		return;
	/* The nodes' data may hold other nodes: clear it first, every node
	 * kept meanwhile, then free the nodes. */
	g_hash_table_iter_init(&iter, table->by_ino);
	while (g_hash_table_iter_next(&iter, NULL, &inode))
		((Inode *)inode)->fixed = TRUE;
	if (table->clear_data != NULL) {
		g_hash_table_iter_init(&iter, table->by_ino);
		while (g_hash_table_iter_next(&iter, NULL, &inode))
			table->clear_data(((Inode *)inode)->node.data);
	}
	g_hash_table_iter_init(&iter, table->by_ino);
	while (g_hash_table_iter_next(&iter, NULL, &inode))
		g_free(inode);
	g_hash_table_unref(table->by_key);
	g_hash_table_unref(table->by_ino);
	g_array_unref(table->free_inos);
	g_mutex_clear(&table->lock);
	g_free(table);
}

PyfsNode *pyfs_node_ref(PyfsNode *node)
{
	Inode *inode = (Inode *)node;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&inode->table->lock);

	inode->refs++;
	return node;
}

void pyfs_node_unref(PyfsNode *node)
{
	Inode *inode = (Inode *)node;
	PyfsInodeTable *table;
	gboolean released;

	if (node == NULL)
		return;
	table = inode->table;
	g_mutex_lock(&table->lock);
	g_assert(inode->refs > 0);
	inode->refs--;
	released = release_locked(table, inode);
	g_mutex_unlock(&table->lock);
	if (released)
		inode_free(table, inode);
}

PyfsNode *pyfs_inode_get(PyfsInodeTable *table, fuse_ino_t ino)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);
	Inode *inode = g_hash_table_lookup(table->by_ino, GSIZE_TO_POINTER(ino));

	if (inode == NULL)
		return NULL;
	inode->refs++;
	return &inode->node;
}

/* Finds the node with identity @key, or creates it if @create; takes @key. */
static PyfsNode *intern(PyfsInodeTable *table, char *key, gboolean create, PyfsNodeType type,
			gboolean unlisted, const char *module, const char *const *attrs,
			const char *name)
{
	g_autofree char *owned = key;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);
	Inode *inode = g_hash_table_lookup(table->by_key, key);

	if (inode == NULL && !create)
		return NULL;
	if (inode == NULL)
		inode = insert_locked(table, key, type, unlisted, module, attrs, name);
	inode->refs++;
	return &inode->node;
}

PyfsNode *pyfs_inode_module(PyfsInodeTable *table, const char *module, gboolean unlisted)
{
	return intern(table, key_for(PYFS_NODE_MODULE, unlisted, module, NULL, NULL), TRUE,
		      PYFS_NODE_MODULE, unlisted, module, NULL, module);
}

PyfsNode *pyfs_inode_attr(PyfsInodeTable *table, const char *module, gboolean unlisted,
			  const char *const *attrs, const char *file)
{
	return intern(table, key_for(PYFS_NODE_ATTR, unlisted, module, attrs, NULL), TRUE,
		      PYFS_NODE_ATTR, unlisted, module, attrs, file);
}

PyfsNode *pyfs_inode_named(PyfsInodeTable *table, PyfsNodeType type, const char *name)
{
	g_return_val_if_fail(type == PYFS_NODE_BIN_LINK || type == PYFS_NODE_DOT_EXEC, NULL);
	return intern(table, key_for(type, FALSE, NULL, NULL, name), TRUE, type, FALSE, NULL,
		      NULL, name);
}

PyfsNode *pyfs_inode_parent(PyfsInodeTable *table, const PyfsNode *node)
{
	fuse_ino_t fixed;
	guint depth;

	switch (node->type) {
	case PYFS_NODE_ROOT:
		return NULL;
	case PYFS_NODE_LIB:
	case PYFS_NODE_RUN:
	case PYFS_NODE_BIN:
	case PYFS_NODE_DOT:
		fixed = PYFS_INO_ROOT;
		break;
	case PYFS_NODE_MODULES:
	case PYFS_NODE_RELOAD:
	case PYFS_NODE_SYS_MODULES:
		fixed = PYFS_INO_RUN;
		break;
	case PYFS_NODE_MODULE:
		fixed = node->unlisted ? PYFS_INO_SYS_MODULES : PYFS_INO_LIB;
		break;
	case PYFS_NODE_BIN_LINK:
		fixed = PYFS_INO_BIN;
		break;
	case PYFS_NODE_DOT_EXEC:
		fixed = PYFS_INO_DOT;
		break;
	case PYFS_NODE_ATTR:
		depth = g_strv_length(node->attrs);
		if (depth == 1)
			return intern(table, key_for(PYFS_NODE_MODULE, node->unlisted, node->module,
						     NULL, NULL),
				      FALSE, PYFS_NODE_MODULE, node->unlisted, NULL, NULL, NULL);
		else {
			g_auto(GStrv) parent = g_strdupv(node->attrs);

			g_clear_pointer(&parent[depth - 1], g_free);
			return intern(table, key_for(PYFS_NODE_ATTR, node->unlisted, node->module,
						     (const char *const *)parent, NULL),
				      FALSE, PYFS_NODE_ATTR, node->unlisted, NULL, NULL, NULL);
		}
	default:
		g_return_val_if_reached(NULL);
	}
	return pyfs_inode_get(table, fixed);
}

void pyfs_inode_lookup(PyfsInodeTable *table, PyfsNode *node)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);

	((Inode *)node)->nlookup++;
}

guint pyfs_inode_forget(PyfsInodeTable *table, fuse_ino_t ino, guint64 n)
{
	Inode *inode;
	gboolean released;

	g_mutex_lock(&table->lock);
	inode = g_hash_table_lookup(table->by_ino, GSIZE_TO_POINTER(ino));
	if (inode == NULL) {
		g_mutex_unlock(&table->lock);
		return 0;
	}
	inode->nlookup = n > inode->nlookup ? 0 : inode->nlookup - n;
	released = release_locked(table, inode);
	g_mutex_unlock(&table->lock);
	if (!released)
		return 0;
	inode_free(table, inode);
	return 1;
}

guint pyfs_inode_count(PyfsInodeTable *table)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);

	return g_hash_table_size(table->by_ino);
}

GPtrArray *pyfs_inode_known(PyfsInodeTable *table)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&table->lock);
	GPtrArray *known = g_ptr_array_new_with_free_func((GDestroyNotify)pyfs_node_unref);
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, table->by_ino);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Inode *inode = value;

		if (inode->nlookup > 0) {
			inode->refs++;
			g_ptr_array_add(known, inode);
		}
	}
	return known;
}
