// SPDX-License-Identifier: MIT
/*
 * fuzz-tree: the path-to-object mapping (pyfs-tree.h) over a real
 * interpreter and a registry holding json, os and sys, as FUSE drives it.
 *
 * The input is a path from the mount's root: components separated by "/"
 * (or NUL, which no kernel name holds either). Each component is looked up
 * in the directory reached so far, and entered if it is one (the kernel
 * looks up only in directories); ".." goes back up, and an empty
 * component ("//") lists the directory instead. Each input starts with a fresh inode table, so that a
 * failure replays from its input alone.
 *
 * Asserted: errors are ENOENT; a node is what its kind says (directories
 * have no content, a value file ends with a newline, an executable is a
 * script that names the very node, a symlink leads to a module directory);
 * the same name finds the same inode; a listing shows each name once, an
 * attribute under its listed name (hidden when private) whatever was
 * looked up before, and every child listed is found again under that name
 * with the same kind; and a lookup that fails leaves no inode behind (the
 * kernel may look up any name, and the table never shrinks).
 */
#include "pyfs-python.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyfs-callargs.h"
#include "pyfs-names.h"
#include "pyfs-render.h"
#include "pyfs-tree.h"

#define MAX_COMPONENTS 16
/* Children of a listing looked up again, per listing: enough to cover
 * every kind in a module, few enough to keep an iteration fast. */
#define MAX_RELOOKUPS 8

static PyfsTree tree;
/* The highest inode number handed out so far. */
static fuse_ino_t last_ino;

/* Catches up with the inodes created since the last call. */
static void sync_last_ino(void)
{
	while (pyfs_inode_get(tree.inodes, last_ino + 1) != NULL)
		last_ino++;
}

static void check_script(const PyfsNode *node, GBytes *content)
{
	gsize len;
	const char *text = g_bytes_get_data(content, &len);
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCallScript) script = pyfs_call_script_parse(text, len, &error);

	g_assert_no_error(error);
	g_assert_true(len > 2 && text[0] == '#' && text[1] == '!');
	if (node->type == PYFS_NODE_DOT_EXEC) {
		g_assert_cmpstr(script->dot, ==, node->name);
		return;
	}
	if (node->type == PYFS_NODE_BIN_LINK)
		return;
	g_assert_cmpint(node->type, ==, PYFS_NODE_ATTR);
	g_assert_cmpstr(script->module, ==, node->module);
	g_assert_cmpuint(script->attributes->len, ==, g_strv_length(node->attrs));
	for (guint i = 0; i < script->attributes->len; i++)
		g_assert_cmpstr(script->attributes->pdata[i], ==, node->attrs[i]);
}

static void check_symlink(const PyfsNode *node, GBytes *content)
{
	g_autofree char *target = g_strndup(g_bytes_get_data(content, NULL),
					    g_bytes_get_size(content));
	const char *module = target;
	const PyfsNode *lib = pyfs_inode_get(tree.inodes, PYFS_INO_LIB);
	const PyfsNode *found = NULL;
	g_auto(PyfsNodeInfo) info = { 0 };

	g_assert_cmpuint(strlen(target), ==, g_bytes_get_size(content));
	if (node->type == PYFS_NODE_BIN_LINK) {
		g_assert_true(g_str_has_prefix(target, "../lib/builtins/"));
		return;
	}
	/* lib/M/a/.../link -> one "../" per attribute, then lib/'s entry. */
	g_assert_cmpint(node->type, ==, PYFS_NODE_ATTR);
	for (guint i = 0; i < g_strv_length(node->attrs); i++) {
		g_assert_true(g_str_has_prefix(module, "../"));
		module += 3;
	}
	g_assert_true(pyfs_name_validate(module, NULL));
	g_assert_cmpint(pyfs_tree_lookup(&tree, lib, module, &found, &info, NULL), ==, 0);
	g_assert_cmpint(info.kind, ==, PYFS_ENTRY_DIR);
}

static void check_node(const PyfsNode *node, const PyfsNodeInfo *info)
{
	gsize len = info->content ? g_bytes_get_size(info->content) : 0;
	const char *data = info->content ? g_bytes_get_data(info->content, NULL) : NULL;

	switch (info->kind) {
	case PYFS_ENTRY_DIR:
		g_assert_null(info->content);
		break;
	case PYFS_ENTRY_VALUE:
		g_assert_nonnull(info->content);
		/* Lines: str() and a newline, a line per element of a container
		 * (none for an empty one, or an empty run/modules). */
		g_assert_true(len == 0 || data[len - 1] == '\n');
		g_assert_cmpuint(len, <=, PYFS_VALUE_MAX + 256);
		break;
	case PYFS_ENTRY_EXEC:
		g_assert_nonnull(info->content);
		check_script(node, info->content);
		break;
	case PYFS_ENTRY_SYMLINK:
		g_assert_nonnull(info->content);
		check_symlink(node, info->content);
		break;
	default:
		g_assert_not_reached();
	}
}

/* Looks @name up in @dir; the node found, or NULL. */
static const PyfsNode *lookup(const PyfsNode *dir, const char *name, PyfsNodeInfo *info)
{
	const PyfsNode *child = NULL;
	const PyfsNode *again = NULL;
	g_auto(PyfsNodeInfo) again_info = { 0 };
	int r;

	sync_last_ino();
	r = pyfs_tree_lookup(&tree, dir, name, &child, info, NULL);
	if (r < 0) {
		g_assert_cmpint(r, ==, -ENOENT);
		/* Nothing to show for a failed lookup: no inode either. */
		g_assert_null(pyfs_inode_get(tree.inodes, last_ino + 1));
		return NULL;
	}
	g_assert_nonnull(child);
	check_node(child, info);
	/* Stable for the life of the mount: the same name, the same inode. */
	g_assert_cmpint(pyfs_tree_lookup(&tree, dir, name, &again, &again_info, NULL), ==, 0);
	g_assert_true(again == child);
	g_assert_cmpint(again_info.kind, ==, info->kind);
	g_assert_true(pyfs_inode_get(tree.inodes, child->ino) == child);
	return child;
}

static void list(const PyfsNode *dir, guint8 pick)
{
	g_autoptr(GArray) children = NULL;
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
	int r = pyfs_tree_list(&tree, dir, &children, NULL);
	guint step;

	if (r < 0) {
		g_assert_cmpint(r, ==, -ENOENT);
		return;
	}
	for (guint i = 0; i < children->len; i++) {
		const PyfsChild *child = &g_array_index(children, PyfsChild, i);
		const PyfsNode *node = child->node;

		g_assert_nonnull(node);
		check_node(node, &child->info);
		/* readdir shows node->name: each once, and an attribute under
		 * its listed name, not under another name it was found by. */
		g_assert_true(g_hash_table_add(names, node->name));
		if (node->type == PYFS_NODE_ATTR) {
			g_autofree char *file = pyfs_name_attr_to_file(
				node->attrs[g_strv_length(node->attrs) - 1]);

			g_assert_cmpstr(node->name, ==, file);
		}
	}
	/* A few children, chosen by the input, are found again as listed. */
	step = MAX(1, children->len / MAX_RELOOKUPS);
	for (guint i = pick % step; i < children->len; i += step) {
		const PyfsChild *child = &g_array_index(children, PyfsChild, i);
		g_auto(PyfsNodeInfo) info = { 0 };
		const PyfsNode *found = lookup(dir, child->node->name, &info);

		g_assert_true(found == child->node);
		g_assert_cmpint(info.kind, ==, child->info.kind);
	}
}

/*
 * json, os and sys hold nothing pyfsd should warn about: a warning here is
 * a name mapped to the wrong thing. abort(), which libFuzzer reports as a
 * crash with its input (GLib's own fatal warnings trap, which it would not).
 */
static GLogWriterOutput abort_on_warning(GLogLevelFlags level, const GLogField *fields,
					 gsize n_fields, gpointer user_data)
{
	GLogWriterOutput out = g_log_writer_default(level, fields, n_fields, user_data);

	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		abort();
	return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const modules[] = { "json", "os", "sys", NULL };
	g_autoptr(GError) error = NULL;
	PyfsRegistry *registry;

	g_log_set_writer_func(abort_on_warning, NULL, NULL);
	/* Every Python object a malloc() block, for ASan and LeakSanitizer. */
	g_setenv("PYTHONMALLOC", "malloc", FALSE);
	if (!pyfs_python_init(NULL, NULL, &error))
		g_error("%s", error->message);
	registry = pyfs_registry_new();
	if (!pyfs_registry_add(registry, modules, &error))
		g_error("%s", error->message);
	tree.registry = registry;
	tree.call_socket = g_strdup("/run/user/0/pyfs/fuzz.sock");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(PyfsInodeTable) inodes = pyfs_inode_table_new();
	g_autofree char *path = g_malloc(size + 1);
	/* The directories walked down, the current one last. */
	const PyfsNode *stack[MAX_COMPONENTS + 1];
	guint depth = 0;
	g_auto(PyfsNodeInfo) info = { 0 };
	char *component = path;

	tree.inodes = inodes;
	last_ino = PYFS_INO_MODULES;
	memcpy(path, data, size);
	path[size] = '\0';
	for (size_t i = 0; i < size; i++)
		if (path[i] == '/')
			path[i] = '\0';
	stack[0] = pyfs_inode_get(tree.inodes, PYFS_INO_ROOT);
	g_assert_cmpint(pyfs_tree_examine(&tree, stack[0], &info, NULL), ==, 0);
	check_node(stack[0], &info);

	for (guint steps = 0; component <= path + size && steps < MAX_COMPONENTS; steps++) {
		size_t len = strlen(component);
		g_auto(PyfsNodeInfo) child_info = { 0 };
		const PyfsNode *child;

		if (len == 0) {
			list(stack[depth], (guint8)(component - path));
		} else if (strcmp(component, "..") == 0) {
			depth = depth > 0 ? depth - 1 : 0;
		} else {
			child = lookup(stack[depth], component, &child_info);
			/* The kernel looks up and lists only in directories: after
			 * a file (or nothing), the next name is in the same one. */
			if (child != NULL && child_info.kind == PYFS_ENTRY_DIR)
				stack[++depth] = child;
		}
		component += len + 1;
	}
	tree.inodes = NULL;
	return 0;
}
