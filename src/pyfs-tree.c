/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include <errno.h>
#include <string.h>

#include "pyfs-deadline.h"
#include "pyfs-log.h"
#include "pyfs-names.h"
#include "pyfs-render.h"
#include "pyfs-script.h"
#include "pyfs-tree.h"

/*
 * dot/ lists the public methods of the types a line of text decodes to; any
 * other identifier can still be looked up there.
 */
static const char *const dot_listed_types[] = { "str", "int", "float", "list", "dict", NULL };

void pyfs_node_info_clear(PyfsNodeInfo *info)
{
	g_clear_pointer(&info->content, g_bytes_unref);
}

static GBytes *bytes_take_string(char *text)
{
	return g_bytes_new_take(text, strlen(text));
}

static char *symlink_to_module(guint depth, const char *module)
{
	g_autoptr(GString) target = g_string_new(NULL);

	/* From lib/M/a/.../link's directory up to lib/: one ".." per attribute. */
	for (guint i = 0; i < depth; i++)
		g_string_append(target, "../");
	g_string_append(target, module);
	return g_string_free(g_steal_pointer(&target), FALSE);
}

/*
 * What attribute @attrs[depth - 1] of @parent (the object at @module +
 * @attrs minus the last) is, with its content (GIL held). In a @listing,
 * an attribute whose code once timed out is not run again: one hung value
 * must not make its whole module unlistable. Reading it runs it again.
 */
static int describe_attr(PyfsTree *tree, const char *module, const char *const *attrs,
			 PyObject *parent, gboolean listing, PyfsNodeInfo *info)
{
	guint depth = g_strv_length((char **)attrs);
	const char *attr = attrs[depth - 1];
	g_autofree char *what = pyfs_object_describe(module, attrs);
	PYFS_PYREF value = NULL;
	g_autofree char *target = NULL;

	/* Its code still runs for an earlier request: do not run it again. */
	if (pyfs_deadline_is_abandoned(what)) {
		info->kind = PYFS_ENTRY_VALUE;
		info->content = bytes_take_string(g_strdup_printf(
			"[pyfs: %s timed out, and is still running]\n", what));
		return 0;
	}
	if (listing && pyfs_deadline_timed_out_before(what)) {
		info->kind = PYFS_ENTRY_VALUE;
		info->content = bytes_take_string(g_strdup_printf(
			"[pyfs: %s timed out before; read this file to run it again]\n", what));
		return 0;
	}
	pyfs_deadline_working_on(what);
	value = PyObject_GetAttrString(parent, attr); /* New reference */
	if (value == NULL) {
		g_autofree char *reason = NULL;

		if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
			PyErr_Clear();
			return -ENOENT;
		}
		reason = pyfs_python_take_exception(NULL);
		if (pyfs_log_first_time(what))
			g_warning("Cannot get %s: %s", what, reason);
		else
			g_debug("Cannot get %s: %s", what, reason);
		info->kind = PYFS_ENTRY_VALUE;
		info->content = bytes_take_string(
			g_strdup_printf("[pyfs: cannot get %s: %s]\n", what, reason));
		return 0;
	}

	info->kind = pyfs_object_classify(parent, attr, value, &target);
	switch (info->kind) {
	case PYFS_ENTRY_VALUE:
		info->content = pyfs_render_value(value, what, PYFS_VALUE_MAX);
		break;
	case PYFS_ENTRY_EXEC:
		info->content = bytes_take_string(
			pyfs_script_for_call(module, attrs, tree->call_socket));
		break;
	case PYFS_ENTRY_SYMLINK:
		info->content = bytes_take_string(symlink_to_module(depth, target));
		break;
	case PYFS_ENTRY_DIR:
		break;
	}
	return 0;
}

/* Examines attribute node @node (GIL held). */
static int examine_attr(PyfsTree *tree, const PyfsNode *node, PyfsNodeInfo *info)
{
	guint depth = g_strv_length(node->attrs);
	g_auto(GStrv) parent_attrs = g_strdupv(node->attrs);
	PYFS_PYREF parent = NULL;

	/* The parent: the module, or a genuine submodule on the way. */
	g_clear_pointer(&parent_attrs[depth - 1], g_free);
	parent = pyfs_object_resolve(node->module, (const char *const *)parent_attrs, NULL);
	if (parent == NULL || !PyModule_Check(parent))
		return -ENOENT;
	return describe_attr(tree, node->module, (const char *const *)node->attrs, parent, FALSE,
			     info);
}

static gboolean module_exists(const char *name)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF module = pyfs_object_module(name);

	return module != NULL;
}

/* Whether builtins.@attr is callable: what bin/ shows. */
static gboolean builtin_is_callable(const char *attr)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF builtins = pyfs_object_module("builtins");
	PYFS_PYREF value = builtins ? PyObject_GetAttrString(builtins, attr) : NULL;

	PyErr_Clear();
	return value != NULL && PyCallable_Check(value);
}

static int examine_now(PyfsTree *tree, const PyfsNode *node, PyfsNodeInfo *info)
{
	info->kind = PYFS_ENTRY_DIR;
	info->content = NULL;

	switch (node->type) {
	case PYFS_NODE_ROOT:
	case PYFS_NODE_LIB:
	case PYFS_NODE_RUN:
	case PYFS_NODE_BIN:
	case PYFS_NODE_DOT:
		return 0;
	case PYFS_NODE_MODULES: {
		g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(tree->registry);

		info->kind = PYFS_ENTRY_VALUE;
		info->content = bytes_take_string(pyfs_modlist_to_text(list));
		return 0;
	}
	case PYFS_NODE_MODULE:
		return module_exists(node->module) ? 0 : -ENOENT;
	case PYFS_NODE_ATTR: {
		PYFS_GIL_SCOPE gil = pyfs_python_enter();

		return examine_attr(tree, node, info);
	}
	case PYFS_NODE_BIN_LINK: {
		g_autofree char *file = pyfs_name_attr_to_file(node->name);

		if (file == NULL || !builtin_is_callable(node->name))
			return -ENOENT;
		info->kind = PYFS_ENTRY_SYMLINK;
		info->content = bytes_take_string(g_strconcat("../lib/builtins/", file, NULL));
		return 0;
	}
	case PYFS_NODE_DOT_EXEC:
		info->kind = PYFS_ENTRY_EXEC;
		info->content = bytes_take_string(pyfs_script_for_dot(node->name, tree->call_socket));
		return 0;
	}
	return -ENOENT;
}

/* Whether @attr is an identifier, the only names dot/ accepts. */
static gboolean is_identifier(const char *attr)
{
	return strchr(attr, '.') == NULL && pyfs_name_validate(attr, NULL);
}

/* The inode of @candidate, examined and found to exist: created now. */
static const PyfsNode *intern_candidate(PyfsTree *tree, const PyfsNode *candidate)
{
	switch (candidate->type) {
	case PYFS_NODE_MODULE:
		return pyfs_inode_module(tree->inodes, candidate->module);
	case PYFS_NODE_ATTR:
		return pyfs_inode_attr(tree->inodes, candidate->module,
				       (const char *const *)candidate->attrs, candidate->name);
	default:
		return pyfs_inode_named(tree->inodes, candidate->type, candidate->name);
	}
}

/*
 * Only a name that exists gets an inode: the node a name would be is
 * examined first, so that lookups of names that do not exist (any process
 * may try any name) leave nothing behind in a table that never shrinks.
 */
static int lookup_now(PyfsTree *tree, const PyfsNode *dir, const char *name,
		      const PyfsNode **child, PyfsNodeInfo *info)
{
	g_autofree char *attr = NULL;
	g_autofree char *file = NULL;
	g_auto(GStrv) attrs = NULL;
	PyfsNode candidate = { .ino = 0 };
	const PyfsNode *found = NULL;
	int r;

	switch (dir->type) {
	case PYFS_NODE_ROOT:
		if (strcmp(name, "lib") == 0)
			found = pyfs_inode_get(tree->inodes, PYFS_INO_LIB);
		else if (strcmp(name, "run") == 0)
			found = pyfs_inode_get(tree->inodes, PYFS_INO_RUN);
		else if (strcmp(name, "bin") == 0)
			found = pyfs_inode_get(tree->inodes, PYFS_INO_BIN);
		else if (strcmp(name, "dot") == 0)
			found = pyfs_inode_get(tree->inodes, PYFS_INO_DOT);
		break;
	case PYFS_NODE_RUN:
		if (strcmp(name, "modules") == 0)
			found = pyfs_inode_get(tree->inodes, PYFS_INO_MODULES);
		break;
	case PYFS_NODE_LIB:
		if (pyfs_name_validate(name, NULL))
			candidate = (PyfsNode){ .type = PYFS_NODE_MODULE, .module = (char *)name,
						.name = (char *)name };
		break;
	case PYFS_NODE_MODULE:
	case PYFS_NODE_ATTR: {
		g_autoptr(GStrvBuilder) chain = g_strv_builder_new();

		attr = pyfs_name_file_to_attr(name);
		if (attr == NULL)
			break;
		if (dir->attrs != NULL)
			g_strv_builder_addv(chain, (const char **)dir->attrs);
		g_strv_builder_add(chain, attr);
		attrs = g_strv_builder_end(chain);
		/* Named as readdir lists it ("._exit"), whichever name found it. */
		file = pyfs_name_attr_to_file(attr);
		candidate = (PyfsNode){ .type = PYFS_NODE_ATTR, .module = dir->module,
					.attrs = attrs, .name = file ? file : (char *)name };
		break;
	}
	case PYFS_NODE_BIN:
		attr = pyfs_name_file_to_attr(name);
		if (attr != NULL)
			candidate = (PyfsNode){ .type = PYFS_NODE_BIN_LINK, .name = attr };
		break;
	case PYFS_NODE_DOT:
		if (is_identifier(name))
			candidate = (PyfsNode){ .type = PYFS_NODE_DOT_EXEC, .name = (char *)name };
		break;
	default:
		return -ENOTDIR;
	}
	if (found == NULL && candidate.name == NULL)
		return -ENOENT;
	r = examine_now(tree, found ? found : &candidate, info);
	if (r < 0)
		return r;
	*child = found ? found : intern_candidate(tree, &candidate);
	return 0;
}

void pyfs_child_clear(PyfsChild *child)
{
	pyfs_node_info_clear(&child->info);
}

/* Adds @node, examined now; a node gone meanwhile is left out. */
static void add_child(PyfsTree *tree, GArray *children, const PyfsNode *node)
{
	PyfsChild child = { .node = node };

	if (examine_now(tree, node, &child.info) == 0)
		g_array_append_val(children, child);
}

static void add_fixed(PyfsTree *tree, GArray *children, const fuse_ino_t *inos, gsize n)
{
	for (gsize i = 0; i < n; i++)
		add_child(tree, children, pyfs_inode_get(tree->inodes, inos[i]));
}

static void list_lib(PyfsTree *tree, GArray *children)
{
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(tree->registry);

	for (guint i = 0; i < pyfs_modlist_length(list); i++)
		add_child(tree, children, pyfs_inode_module(tree->inodes, pyfs_modlist_get(list, i)));
}

/* The entries of a module directory, or of builtins for bin/ (GIL held). */
static int list_module(PyfsTree *tree, const PyfsNode *dir, GArray *children, gboolean bin)
{
	const char *module = bin ? "builtins" : dir->module;
	const char *const *parent_attrs = bin ? NULL : (const char *const *)dir->attrs;
	guint depth = parent_attrs ? g_strv_length((char **)parent_attrs) : 0;
	g_autoptr(GError) error = NULL;
	PYFS_PYREF obj = pyfs_object_resolve(module, parent_attrs, &error);
	g_autoptr(GPtrArray) entries = NULL;
	g_autofree const char **chain = g_new0(const char *, depth + 2);

	if (obj == NULL || !PyModule_Check(obj))
		return -ENOENT;
	for (guint i = 0; i < depth; i++)
		chain[i] = parent_attrs[i];
	entries = pyfs_object_list(obj);
	for (guint i = 0; i < entries->len; i++) {
		PyfsEntry *entry = entries->pdata[i];

		PyfsChild child = { 0 };

		if (bin) {
			if (entry->kind != PYFS_ENTRY_EXEC || entry->attr[0] == '_')
				continue;
			child.node = pyfs_inode_named(tree->inodes, PYFS_NODE_BIN_LINK, entry->attr);
			child.info.kind = PYFS_ENTRY_SYMLINK;
			child.info.content = bytes_take_string(
				g_strconcat("../lib/builtins/", entry->file, NULL));
			g_array_append_val(children, child);
			continue;
		}
		/* Described here, with the parent in hand and the GIL held once
		 * for the whole listing: readdirplus needs every child's stat. */
		chain[depth] = entry->attr;
		child.node = pyfs_inode_attr(tree->inodes, module, chain, entry->file);
		if (describe_attr(tree, module, chain, obj, TRUE, &child.info) == 0)
			g_array_append_val(children, child);
	}
	return 0;
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list_dot(PyfsTree *tree, GArray *children)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF builtins = pyfs_object_module("builtins");
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new();

	for (const char *const *t = dot_listed_types; builtins != NULL && *t != NULL; t++) {
		PYFS_PYREF type = PyObject_GetAttrString(builtins, *t); /* New reference */
		PYFS_PYREF dir = type ? PyObject_Dir(type) : NULL;     /* New reference */

		for (Py_ssize_t i = 0; dir != NULL && i < PyList_GET_SIZE(dir); i++) {
			const char *name = PyUnicode_AsUTF8(PyList_GET_ITEM(dir, i)); /* Borrowed */

			if (name != NULL && name[0] != '_' && !g_hash_table_contains(seen, name)) {
				char *copy = g_strdup(name);

				g_hash_table_add(seen, copy);
				g_ptr_array_add(names, copy);
			}
		}
		PyErr_Clear();
	}
	g_ptr_array_sort(names, compare_strings);
	for (guint i = 0; i < names->len; i++) {
		PyfsChild child = { 0 };

		child.node = pyfs_inode_named(tree->inodes, PYFS_NODE_DOT_EXEC, names->pdata[i]);
		child.info.kind = PYFS_ENTRY_EXEC;
		child.info.content = bytes_take_string(
			pyfs_script_for_dot(names->pdata[i], tree->call_socket));
		g_array_append_val(children, child);
	}
}

static int list_now(PyfsTree *tree, const PyfsNode *dir, GArray **children)
{
	static const fuse_ino_t root[] = { PYFS_INO_BIN, PYFS_INO_DOT, PYFS_INO_LIB, PYFS_INO_RUN };
	static const fuse_ino_t run[] = { PYFS_INO_MODULES };
	g_autoptr(GArray) list = g_array_new(FALSE, TRUE, sizeof(PyfsChild));
	int r = 0;

	switch (dir->type) {
	case PYFS_NODE_ROOT:
		add_fixed(tree, list, root, G_N_ELEMENTS(root));
		break;
	case PYFS_NODE_RUN:
		add_fixed(tree, list, run, G_N_ELEMENTS(run));
		break;
	case PYFS_NODE_LIB:
		list_lib(tree, list);
		break;
	case PYFS_NODE_DOT:
		list_dot(tree, list);
		break;
	case PYFS_NODE_BIN:
	case PYFS_NODE_MODULE:
	case PYFS_NODE_ATTR: {
		PYFS_GIL_SCOPE gil = pyfs_python_enter();

		r = list_module(tree, dir, list, dir->type == PYFS_NODE_BIN);
		break;
	}
	default:
		return -ENOTDIR;
	}
	if (r < 0)
		return r;
	g_array_set_clear_func(list, (GDestroyNotify)pyfs_child_clear);
	*children = g_steal_pointer(&list);
	return 0;
}

/* --- Under the deadline --------------------------------------------------- */

/*
 * Only attributes, and the modules whose attributes they are, run code of
 * the objects themselves (getattr, __str__, __dir__). The rest answers at
 * once, without the trip to a deadline worker.
 */
static gboolean in_module(const PyfsNode *node)
{
	return node->type == PYFS_NODE_ATTR || node->type == PYFS_NODE_MODULE;
}

typedef enum {
	WORK_EXAMINE,
	WORK_LOOKUP,
	WORK_LIST,
} WorkKind;

/* A tree operation on a deadline worker: its inputs, then its results. */
typedef struct {
	WorkKind kind;
	PyfsTree *tree;        /* lives as long as the mount, see pyfs_fs_free() */
	const PyfsNode *node;  /* the node examined, the directory looked in or listed */
	char *name;            /* WORK_LOOKUP */

	int result;
	const PyfsNode *child; /* WORK_LOOKUP */
	PyfsNodeInfo info;     /* WORK_EXAMINE, WORK_LOOKUP */
	GArray *children;      /* WORK_LIST */
} Work;

static void work_free(gpointer p)
{
	Work *work = p;

	g_free(work->name);
	pyfs_node_info_clear(&work->info);
	g_clear_pointer(&work->children, g_array_unref);
	g_free(work);
}

static void work_run(gpointer p)
{
	Work *work = p;

	switch (work->kind) {
	case WORK_EXAMINE:
		work->result = examine_now(work->tree, work->node, &work->info);
		break;
	case WORK_LOOKUP:
		work->result = lookup_now(work->tree, work->node, work->name, &work->child,
					  &work->info);
		break;
	case WORK_LIST:
		work->result = list_now(work->tree, work->node, &work->children);
		break;
	}
}

/*
 * Runs @kind on @node under the deadline. NULL when it timed out (logged;
 * the work is the abandoned job's then), else the finished work, whose
 * results the caller takes before work_free().
 */
static Work *run_work(WorkKind kind, PyfsTree *tree, const PyfsNode *node, const char *name,
		      const char *verb)
{
	Work *work = g_new0(Work, 1);
	g_autofree char *object = pyfs_object_describe(node->module, (const char *const *)node->attrs);
	g_autofree char *what = g_strdup_printf("%s %s%s%s", verb, object, name ? "/" : "",
						name ? name : "");
	g_autoptr(GError) error = NULL;

	work->kind = kind;
	work->tree = tree;
	work->node = node;
	work->name = g_strdup(name);
	if (!pyfs_deadline_run(what, work_run, work, work_free, &error)) {
		g_warning("%s", error->message);
		return NULL;
	}
	return work;
}

int pyfs_tree_examine(PyfsTree *tree, const PyfsNode *node, PyfsNodeInfo *info)
{
	Work *work;
	int r;

	if (node->type != PYFS_NODE_ATTR)
		return examine_now(tree, node, info);
	work = run_work(WORK_EXAMINE, tree, node, NULL, "Reading");
	if (work == NULL)
		return -ETIMEDOUT;
	r = work->result;
	*info = work->info;
	work->info = (PyfsNodeInfo){ 0 };
	work_free(work);
	return r;
}

int pyfs_tree_lookup(PyfsTree *tree, const PyfsNode *dir, const char *name,
		     const PyfsNode **child, PyfsNodeInfo *info)
{
	Work *work;
	int r;

	if (!in_module(dir))
		return lookup_now(tree, dir, name, child, info);
	work = run_work(WORK_LOOKUP, tree, dir, name, "Looking up");
	if (work == NULL)
		return -ETIMEDOUT;
	r = work->result;
	*child = work->child;
	*info = work->info;
	work->info = (PyfsNodeInfo){ 0 };
	work_free(work);
	return r;
}

int pyfs_tree_list(PyfsTree *tree, const PyfsNode *dir, GArray **children)
{
	Work *work;
	int r;

	if (!in_module(dir))
		return list_now(tree, dir, children);
	work = run_work(WORK_LIST, tree, dir, NULL, "Listing");
	if (work == NULL)
		return -ETIMEDOUT;
	r = work->result;
	*children = g_steal_pointer(&work->children);
	work_free(work);
	return r;
}
