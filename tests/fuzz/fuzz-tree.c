// SPDX-License-Identifier: MIT
/*
 * fuzz-tree: the path-to-object mapping (pyfs-tree.h) over a real
 * interpreter and a registry holding json, os and sys, as FUSE drives it.
 *
 * The input is a path from the mount's root: components separated by "/"
 * (or NUL, which no kernel name holds either). Each component is looked up
 * in the directory reached so far, and entered if it is one (the kernel
 * looks up only in directories); ".." goes back up, and an empty
 * component ("//") lists the directory instead. Each input starts with a
 * fresh tree (inode table and cache), so that a failure replays from its
 * input alone.
 *
 * Asserted: errors are ENOENT; a node is what its kind says (directories
 * have no content, a value file ends with a newline, an executable is a
 * script that names the very node, a symlink leads to a module directory);
 * the same name finds the same inode; a listing shows each name once, an
 * attribute under its listed name (hidden when private) whatever was
 * looked up before, and every child listed is found again under that name
 * with the same kind; and a lookup that fails leaves no inode behind (the
 * kernel may look up any name: none of those may stay).
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
	g_assert_cmpint(node->type, ==, PYFS_NODE_ATTR);
	g_assert_cmpstr(script->module, ==, node->module);
	g_assert_cmpuint(script->attributes->len, ==, g_strv_length(node->attrs));
	for (guint i = 0; i < script->attributes->len; i++)
		g_assert_cmpstr(script->attributes->pdata[i], ==, node->attrs[i]);
}

/* Follows @target from directory @dir, a node: where it leads must be a module's directory. */
static void check_symlink(PyfsNode *node, GBytes *content)
{
	g_autofree char *target = g_strndup(g_bytes_get_data(content, NULL),
					    g_bytes_get_size(content));
	g_auto(GStrv) parts = g_strsplit(target, "/", -1);
	g_autoptr(GPtrArray) path = g_ptr_array_new_with_free_func((GDestroyNotify)pyfs_node_unref);
	g_autoptr(PyfsRendering) rendering = NULL;
	guint i = 0;

	g_assert_cmpuint(strlen(target), ==, g_bytes_get_size(content));
	/* Up to a common ancestor, then down by names. */
	g_ptr_array_add(path, pyfs_inode_parent(tree.inodes, node));
	for (; parts[i] != NULL && g_str_equal(parts[i], ".."); i++) {
		PyfsNode *up = pyfs_inode_parent(tree.inodes, path->pdata[path->len - 1]);

		g_assert_nonnull(up);
		g_ptr_array_add(path, up);
	}
	for (; parts[i] != NULL; i++) {
		PyfsNode *down = NULL;

		g_clear_pointer(&rendering, pyfs_rendering_unref);
		g_assert_cmpint(pyfs_tree_lookup(&tree, path->pdata[path->len - 1], parts[i],
						 PYFS_TREE_WAIT, &down, &rendering), ==, 0);
		g_ptr_array_add(path, down);
		/* A builtin, at the end of a bin/ link, is what the link was made for. */
		if (parts[i + 1] != NULL)
			g_assert_cmpint(rendering->kind, ==, PYFS_ENTRY_DIR);
	}
	if (node->type == PYFS_NODE_ATTR)
		g_assert_cmpint(rendering->kind, ==, PYFS_ENTRY_DIR);
	else
		g_assert_cmpint(rendering->kind, ==, PYFS_ENTRY_EXEC);
}

static void check_node(PyfsNode *node, const PyfsRendering *rendering)
{
	gsize len = rendering->content ? g_bytes_get_size(rendering->content) : 0;
	const char *data = rendering->content ? g_bytes_get_data(rendering->content, NULL) : NULL;

	switch (rendering->kind) {
	case PYFS_ENTRY_DIR:
		g_assert_null(rendering->content);
		break;
	case PYFS_ENTRY_VALUE:
		g_assert_nonnull(rendering->content);
		/* Lines: str() and a newline, a line per element of a container
		 * (none for an empty one, or an empty run/modules). */
		g_assert_true(len == 0 || data[len - 1] == '\n');
		g_assert_cmpuint(len, <=, PYFS_VALUE_MAX + 256);
		break;
	case PYFS_ENTRY_EXEC:
		g_assert_nonnull(rendering->content);
		check_script(node, rendering->content);
		break;
	case PYFS_ENTRY_SYMLINK:
		g_assert_nonnull(rendering->content);
		check_symlink(node, rendering->content);
		break;
	default:
		g_assert_not_reached();
	}
}

/* Looks @name up in @dir; the node found (a reference), or NULL. */
static PyfsNode *lookup(PyfsNode *dir, const char *name, PyfsRendering **rendering)
{
	guint before = pyfs_inode_count(tree.inodes);
	PyfsNode *child = NULL;
	g_autoptr(PyfsNode) again = NULL;
	g_autoptr(PyfsRendering) again_rendering = NULL;
	int r;

	r = pyfs_tree_lookup(&tree, dir, name, PYFS_TREE_WAIT, &child, rendering);
	if (r < 0) {
		g_assert_cmpint(r, ==, -ENOENT);
		/* Nothing to show for a failed lookup: no inode either. */
		g_assert_cmpuint(pyfs_inode_count(tree.inodes), ==, before);
		return NULL;
	}
	g_assert_nonnull(child);
	check_node(child, *rendering);
	/* The same name, the same inode, while it is held. */
	g_assert_cmpint(pyfs_tree_lookup(&tree, dir, name, PYFS_TREE_WAIT, &again,
					 &again_rendering), ==, 0);
	g_assert_true(again == child);
	g_assert_cmpint(again_rendering->kind, ==, (*rendering)->kind);
	return child;
}

static void list(PyfsNode *dir, guint8 pick)
{
	g_autoptr(GArray) children = NULL;
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
	int r = pyfs_tree_list(&tree, dir, PYFS_TREE_WAIT, &children);
	guint step;

	if (r < 0) {
		g_assert_cmpint(r, ==, -ENOENT);
		return;
	}
	for (guint i = 0; i < children->len; i++) {
		const PyfsChild *child = &g_array_index(children, PyfsChild, i);
		PyfsNode *node = child->node;

		g_assert_nonnull(node);
		check_node(node, child->rendering);
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
		g_autoptr(PyfsRendering) rendering = NULL;
		g_autoptr(PyfsNode) found = lookup(dir, child->node->name, &rendering);

		g_assert_true(found == child->node);
		g_assert_cmpint(rendering->kind, ==, child->rendering->kind);
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
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *path = g_malloc(size + 1);
	/* The directories walked down, the current one last. */
	g_autoptr(GPtrArray) stack =
		g_ptr_array_new_with_free_func((GDestroyNotify)pyfs_node_unref);
	g_autoptr(PyfsRendering) rendering = NULL;
	char *component = path;

	/* A fresh tree (inodes, cache) per input: a failure replays from it alone. */
	pyfs_tree_init(&tree, tree.registry, NULL, NULL);
	tree.call_socket = g_strdup("/run/user/0/pyfs/fuzz.sock");
	memcpy(path, data, size);
	path[size] = '\0';
	for (size_t i = 0; i < size; i++)
		if (path[i] == '/')
			path[i] = '\0';
	g_ptr_array_add(stack, pyfs_inode_get(tree.inodes, PYFS_INO_ROOT));
	g_assert_cmpint(pyfs_tree_examine(&tree, stack->pdata[0], PYFS_TREE_WAIT, &rendering),
			==, 0);
	check_node(stack->pdata[0], rendering);

	for (guint steps = 0; component <= path + size && steps < MAX_COMPONENTS; steps++) {
		size_t len = strlen(component);
		PyfsNode *dir = stack->pdata[stack->len - 1];

		if (len == 0) {
			list(dir, (guint8)(component - path));
		} else if (strcmp(component, "..") == 0) {
			if (stack->len > 1)
				g_ptr_array_set_size(stack, stack->len - 1);
		} else {
			g_autoptr(PyfsRendering) child_rendering = NULL;
			PyfsNode *child = lookup(dir, component, &child_rendering);

			/* The kernel looks up and lists only in directories: after
			 * a file (or nothing), the next name is in the same one. */
			if (child != NULL && child_rendering->kind == PYFS_ENTRY_DIR)
				g_ptr_array_add(stack, child);
			else if (child != NULL)
				pyfs_node_unref(child);
		}
		component += len + 1;
	}
	g_clear_pointer(&stack, g_ptr_array_unref);
	g_clear_pointer(&rendering, pyfs_rendering_unref);
	pyfs_tree_clear(&tree);
	return 0;
}
