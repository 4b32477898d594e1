/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include <errno.h>
#include <string.h>

#include "pyfs-deadline.h"
#include "pyfs-names.h"
#include "pyfs-script.h"
#include "pyfs-tree-private.h"

/*
 * dot/ lists the public methods of the types a line of text decodes to; any
 * other identifier can still be looked up there.
 */
static const char *const dot_listed_types[] = { "str", "int", "float", "list", "dict", NULL };

void pyfs_tree_init(PyfsTree *tree, PyfsRegistry *registry, PyfsCacheWakeFunc wake,
		    gpointer wake_data)
{
	tree->registry = registry;
	tree->inodes = pyfs_inode_table_new(pyfs_cache_node_data_size(),
					    pyfs_cache_clear_node_data);
	tree->cache = pyfs_cache_new(wake, wake_data);
	tree->fixed_dir = pyfs_rendering_new(PYFS_ENTRY_DIR, NULL);
	tree->fixed_dir->expires = G_MAXINT64;
}

void pyfs_tree_clear(PyfsTree *tree)
{
	pyfs_tree_clear_shared(tree);
	/* The cache first: its queue holds nodes. */
	g_clear_pointer(&tree->cache, pyfs_cache_free);
	g_clear_pointer(&tree->inodes, pyfs_inode_table_free);
	g_clear_pointer(&tree->fixed_dir, pyfs_rendering_unref);
	g_clear_pointer(&tree->call_socket, g_free);
}

void pyfs_child_clear(PyfsChild *child)
{
	g_clear_pointer(&child->node, pyfs_node_unref);
	g_clear_pointer(&child->rendering, pyfs_rendering_unref);
}

/* Takes @text; a block of the exact size, as renderings are kept a while, by thousands. */
static GBytes *bytes_take_string(char *text)
{
	g_autofree char *owned = text;

	return g_bytes_new(text, strlen(text));
}

PyfsRendering *pyfs_tree_rendering(PyfsTreeCtx *ctx, PyfsEntryKind kind, GBytes *content)
{
	PyfsRendering *rendering = pyfs_rendering_new(kind, content);

	rendering->epoch = ctx->epoch;
	rendering->expires = ctx->now + PYFS_CACHE_TIMEOUT_US;
	return rendering;
}

PyfsRendering *pyfs_tree_cached(PyfsTreeCtx *ctx, PyfsNode *node)
{
	PyfsRendering *rendering = pyfs_cache_rendering(ctx->tree->cache, node, ctx->now);

	/* A link's target depends on whether its module is listed. */
	if (rendering != NULL && rendering->on_list &&
	    rendering->list_serial != pyfs_registry_serial(ctx->tree->registry))
		g_clear_pointer(&rendering, pyfs_rendering_unref);
	return rendering;
}

/* A rendering of @node made with no Python at all, stored for the next requests. */
static PyfsRendering *store(PyfsTreeCtx *ctx, PyfsNode *node, PyfsRendering *rendering)
{
	pyfs_cache_store_rendering(ctx->tree->cache, node, rendering);
	return rendering;
}

/* bin/NAME: a link to builtins' NAME, if that is a callable (GIL held). */
static int examine_bin_link(PyfsTreeCtx *ctx, PyfsNode *node, PyObject *builtins,
			    PyfsRendering **rendering)
{
	g_autofree char *file = pyfs_name_attr_to_file(node->name);
	PYFS_PYREF value = NULL;

	if (file == NULL)
		return -ENOENT;
	if (!ctx->may_run_code && !pyfs_object_getattr_is_plain(builtins, node->name))
		return -EWOULDBLOCK;
	value = PyObject_GetAttrString(builtins, node->name); /* New reference */
	PyErr_Clear();
	if (value == NULL || !PyCallable_Check(value))
		return -ENOENT;
	*rendering = store(ctx, node, pyfs_tree_link(ctx, node, "builtins", file));
	return 0;
}

/*
 * The steps themselves, "untimed": on the thread that runs them, with no
 * time limit of their own. run() gives them one: it does them on the
 * requesting thread as far as they run no Python code of the objects
 * (ctx->may_run_code FALSE), and on a deadline worker otherwise.
 */
static int examine_untimed(PyfsTreeCtx *ctx, PyfsNode *node, PyfsRendering **rendering)
{
	PyfsTree *tree = ctx->tree;

	switch (node->type) {
	case PYFS_NODE_ROOT:
	case PYFS_NODE_LIB:
	case PYFS_NODE_RUN:
	case PYFS_NODE_BIN:
	case PYFS_NODE_DOT:
	case PYFS_NODE_SYS_MODULES:
		*rendering = pyfs_rendering_ref(tree->fixed_dir);
		return 0;
	case PYFS_NODE_MODULES: {
		g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(tree->registry);

		*rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_VALUE,
						 bytes_take_string(pyfs_modlist_to_text(list)));
		return 0;
	}
	case PYFS_NODE_RELOAD:
		*rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_VALUE, g_bytes_new_static("", 0));
		return 0;
	case PYFS_NODE_MODULE:
		/* lib/NAME is there if and only if NAME is listed now. */
		if (!node->unlisted) {
			if (!pyfs_registry_contains(tree->registry, node->module))
				return -ENOENT;
		} else {
			PYFS_GIL_SCOPE gil = pyfs_python_enter();
			PYFS_PYREF module = pyfs_object_module(node->module);

			if (module == NULL)
				return -ENOENT;
		}
		*rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_DIR, NULL);
		return 0;
	case PYFS_NODE_ATTR:
		return pyfs_tree_examine_attr(ctx, node, rendering);
	case PYFS_NODE_BIN_LINK: {
		*rendering = pyfs_tree_cached(ctx, node);
		if (*rendering != NULL)
			return 0;
		{
			PYFS_GIL_SCOPE gil = pyfs_python_enter();
			PYFS_PYREF builtins = pyfs_object_module("builtins");

			if (builtins == NULL)
				return -ENOENT;
			return examine_bin_link(ctx, node, builtins, rendering);
		}
	}
	case PYFS_NODE_DOT_EXEC:
		*rendering = pyfs_tree_cached(ctx, node);
		if (*rendering == NULL)
			*rendering = store(ctx, node, pyfs_tree_rendering(
				ctx, PYFS_ENTRY_EXEC, bytes_take_string(pyfs_script_for_dot(
					node->name, tree->call_socket))));
		return 0;
	}
	return -ENOENT;
}

/* Whether @attr is an identifier, the only names dot/ accepts. */
static gboolean is_identifier(const char *attr)
{
	return strchr(attr, '.') == NULL && pyfs_name_validate(attr, NULL);
}

/* The node @name in @dir would be, if any (a new reference). */
static PyfsNode *child_node(PyfsTree *tree, PyfsNode *dir, const char *name)
{
	static const struct {
		PyfsNodeType dir;
		const char *name;
		fuse_ino_t ino;
	} fixed[] = {
		{ PYFS_NODE_ROOT, "lib", PYFS_INO_LIB },
		{ PYFS_NODE_ROOT, "run", PYFS_INO_RUN },
		{ PYFS_NODE_ROOT, "bin", PYFS_INO_BIN },
		{ PYFS_NODE_ROOT, "dot", PYFS_INO_DOT },
		{ PYFS_NODE_RUN, "modules", PYFS_INO_MODULES },
		{ PYFS_NODE_RUN, "reload", PYFS_INO_RELOAD },
		{ PYFS_NODE_RUN, PYFS_SYS_MODULES_NAME, PYFS_INO_SYS_MODULES },
	};
	g_autofree char *attr = NULL;
	g_autofree char *file = NULL;

	switch (dir->type) {
	case PYFS_NODE_ROOT:
	case PYFS_NODE_RUN:
		for (gsize i = 0; i < G_N_ELEMENTS(fixed); i++)
			if (fixed[i].dir == dir->type && strcmp(name, fixed[i].name) == 0)
				return pyfs_inode_get(tree->inodes, fixed[i].ino);
		return NULL;
	case PYFS_NODE_LIB:
	case PYFS_NODE_SYS_MODULES:
		if (!pyfs_name_validate(name, NULL))
			return NULL;
		return pyfs_inode_module(tree->inodes, name, dir->type == PYFS_NODE_SYS_MODULES);
	case PYFS_NODE_MODULE:
	case PYFS_NODE_ATTR: {
		g_autoptr(GStrvBuilder) chain = g_strv_builder_new();
		g_auto(GStrv) attrs = NULL;

		attr = pyfs_name_file_to_attr(name);
		if (attr == NULL)
			return NULL;
		if (dir->attrs != NULL)
			g_strv_builder_addv(chain, (const char **)dir->attrs);
		g_strv_builder_add(chain, attr);
		attrs = g_strv_builder_end(chain);
		/* Named as readdir lists it ("._exit"), whichever name found it. */
		file = pyfs_name_attr_to_file(attr);
		return pyfs_inode_attr(tree->inodes, dir->module, dir->unlisted,
				       (const char *const *)attrs, file ? file : name);
	}
	case PYFS_NODE_BIN:
		attr = pyfs_name_file_to_attr(name);
		return attr ? pyfs_inode_named(tree->inodes, PYFS_NODE_BIN_LINK, attr) : NULL;
	case PYFS_NODE_DOT:
		if (!is_identifier(name))
			return NULL;
		return pyfs_inode_named(tree->inodes, PYFS_NODE_DOT_EXEC, name);
	default:
		return NULL;
	}
}

/*
 * A node made for a name that does not exist goes again as soon as it is
 * dropped: the kernel may look up any name, and none of those stays.
 */
static int lookup_untimed(PyfsTreeCtx *ctx, PyfsNode *dir, const char *name, PyfsNode **child,
		      PyfsRendering **rendering)
{
	g_autoptr(PyfsNode) node = NULL;
	int r;

	switch (dir->type) {
	case PYFS_NODE_ROOT:
	case PYFS_NODE_RUN:
	case PYFS_NODE_LIB:
	case PYFS_NODE_SYS_MODULES:
	case PYFS_NODE_MODULE:
	case PYFS_NODE_ATTR:
	case PYFS_NODE_BIN:
	case PYFS_NODE_DOT:
		break;
	default:
		return -ENOTDIR;
	}
	/* lib/ first: a name that is not listed costs no node at all. */
	if (dir->type == PYFS_NODE_LIB && !pyfs_registry_contains(ctx->tree->registry, name))
		return -ENOENT;
	node = child_node(ctx->tree, dir, name);
	if (node == NULL)
		return -ENOENT;
	r = examine_untimed(ctx, node, rendering);
	if (r < 0)
		return r;
	*child = g_steal_pointer(&node);
	return 0;
}

static void add_fixed(PyfsTreeCtx *ctx, GArray *children, const fuse_ino_t *inos, gsize n)
{
	for (gsize i = 0; i < n; i++) {
		PyfsChild child = { .node = pyfs_inode_get(ctx->tree->inodes, inos[i]) };

		examine_untimed(ctx, child.node, &child.rendering);
		g_array_append_val(children, child);
	}
}

static void list_lib(PyfsTreeCtx *ctx, GArray *children)
{
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(ctx->tree->registry);

	for (guint i = 0; i < pyfs_modlist_length(list); i++) {
		const char *name = pyfs_modlist_get(list, i);
		PyfsChild child = {
			.node = pyfs_inode_module(ctx->tree->inodes, name, FALSE),
			.rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_DIR, NULL),
		};

		g_array_append_val(children, child);
	}
}

/* bin/: a link per public callable of builtins (GIL held). */
static int list_bin(PyfsTreeCtx *ctx, GArray *children)
{
	PYFS_PYREF builtins = pyfs_object_module("builtins");
	g_autoptr(GPtrArray) entries = NULL;

	if (builtins == NULL)
		return 0;
	if (!ctx->may_run_code && !pyfs_object_dir_is_plain(builtins))
		return -EWOULDBLOCK;
	entries = pyfs_object_list(builtins);
	for (guint i = 0; i < entries->len; i++) {
		PyfsEntry *entry = entries->pdata[i];
		PyfsChild child = { 0 };
		int r;

		if (entry->attr[0] == '_')
			continue;
		child.node = pyfs_inode_named(ctx->tree->inodes, PYFS_NODE_BIN_LINK, entry->attr);
		child.rendering = pyfs_tree_cached(ctx, child.node);
		r = 0;
		if (child.rendering == NULL)
			r = examine_bin_link(ctx, child.node, builtins, &child.rendering);
		if (r == -EWOULDBLOCK) {
			pyfs_child_clear(&child);
			return r;
		}
		if (r == 0)
			g_array_append_val(children, child);
		else
			pyfs_child_clear(&child);
	}
	return 0;
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names dot/ lists: the public methods of dot_listed_types (GIL held; C types only). */
static GPtrArray *dot_names(void)
{
	PYFS_PYREF builtins = pyfs_object_module("builtins");
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

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
	return names;
}

static void list_dot(PyfsTreeCtx *ctx, PyfsNode *dir, GArray *children)
{
	g_autoptr(GPtrArray) nodes = pyfs_cache_listing(ctx->tree->cache, dir, ctx->now);

	if (nodes == NULL) {
		g_autoptr(GPtrArray) names = NULL;

		{
			PYFS_GIL_SCOPE gil = pyfs_python_enter();

			names = dot_names();
		}
		nodes = g_ptr_array_new_full(names->len, (GDestroyNotify)pyfs_node_unref);
		for (guint i = 0; i < names->len; i++) {
			const char *name = names->pdata[i];

			g_ptr_array_add(nodes, pyfs_inode_named(ctx->tree->inodes,
								PYFS_NODE_DOT_EXEC, name));
		}
		pyfs_cache_store_listing(ctx->tree->cache, dir, nodes, ctx->epoch,
					 ctx->now + PYFS_CACHE_TIMEOUT_US);
	}
	for (guint i = 0; i < nodes->len; i++) {
		PyfsChild child = { .node = pyfs_node_ref(nodes->pdata[i]) };

		examine_untimed(ctx, child.node, &child.rendering);
		g_array_append_val(children, child);
	}
}

static int list_untimed(PyfsTreeCtx *ctx, PyfsNode *dir, GArray **children)
{
	static const fuse_ino_t root[] = { PYFS_INO_BIN, PYFS_INO_DOT, PYFS_INO_LIB, PYFS_INO_RUN };
	static const fuse_ino_t run[] = { PYFS_INO_MODULES, PYFS_INO_RELOAD };
	g_autoptr(GArray) list = g_array_new(FALSE, TRUE, sizeof(PyfsChild));
	int r = 0;

	g_array_set_clear_func(list, (GDestroyNotify)pyfs_child_clear);
	switch (dir->type) {
	case PYFS_NODE_ROOT:
		add_fixed(ctx, list, root, G_N_ELEMENTS(root));
		break;
	case PYFS_NODE_RUN:
		/* Not sys.modules/: it is there to resolve links, not to be walked. */
		add_fixed(ctx, list, run, G_N_ELEMENTS(run));
		break;
	case PYFS_NODE_SYS_MODULES:
		break;
	case PYFS_NODE_LIB:
		list_lib(ctx, list);
		break;
	case PYFS_NODE_DOT:
		list_dot(ctx, dir, list);
		break;
	case PYFS_NODE_BIN: {
		PYFS_GIL_SCOPE gil = pyfs_python_enter();

		r = list_bin(ctx, list);
		break;
	}
	case PYFS_NODE_MODULE:
	case PYFS_NODE_ATTR:
		r = pyfs_tree_list_module(ctx, dir, list);
		break;
	default:
		return -ENOTDIR;
	}
	if (r < 0)
		return r;
	*children = g_steal_pointer(&list);
	return 0;
}

/* --- Under the deadline --------------------------------------------------- */

typedef enum {
	WORK_EXAMINE,
	WORK_LOOKUP,
	WORK_LIST,
} WorkKind;

/* A tree operation on a deadline worker: its inputs, then its results. */
typedef struct {
	WorkKind kind;
	PyfsTree *tree;             /* lives as long as the mount, see pyfs_fs_free() */
	PyfsNode *node;             /* the node examined, the directory looked in or listed */
	char *name;                 /* WORK_LOOKUP */

	int result;
	PyfsNode *child;            /* WORK_LOOKUP */
	PyfsRendering *rendering;   /* WORK_EXAMINE, WORK_LOOKUP */
	GArray *children;           /* WORK_LIST */
} Work;

static void work_free(gpointer p)
{
	Work *work = p;

	g_clear_pointer(&work->node, pyfs_node_unref);
	g_free(work->name);
	g_clear_pointer(&work->child, pyfs_node_unref);
	g_clear_pointer(&work->rendering, pyfs_rendering_unref);
	g_clear_pointer(&work->children, g_array_unref);
	g_free(work);
}

static PyfsTreeCtx ctx_now(PyfsTree *tree, gboolean may_run_code)
{
	/* The epoch before the time: work that straddles a drop is stale. */
	guint64 epoch = pyfs_cache_epoch(tree->cache);

	return (PyfsTreeCtx){ .tree = tree, .may_run_code = may_run_code, .epoch = epoch,
			      .now = g_get_monotonic_time() };
}

static int work_do(Work *work, gboolean may_run_code)
{
	PyfsTreeCtx ctx = ctx_now(work->tree, may_run_code);

	switch (work->kind) {
	case WORK_EXAMINE:
		return examine_untimed(&ctx, work->node, &work->rendering);
	case WORK_LOOKUP:
		return lookup_untimed(&ctx, work->node, work->name, &work->child, &work->rendering);
	case WORK_LIST:
		return list_untimed(&ctx, work->node, &work->children);
	}
	return -EINVAL;
}

static void work_run(gpointer p)
{
	Work *work = p;

	work->result = work_do(work, TRUE);
}

/*
 * run() past the live-code gate: on the calling thread as far as no Python
 * code of the objects is needed; then, with PYFS_TREE_WAIT, on a deadline
 * worker.
 */
static Work *run_gated(Work *work, PyfsTreeWait wait, const char *verb)
{
	g_autofree char *object = NULL;
	g_autofree char *what = NULL;
	g_autoptr(GError) error = NULL;

	work->result = work_do(work, FALSE);
	if (work->result != -EWOULDBLOCK || wait == PYFS_TREE_NOWAIT)
		return work;
	object = work->node->module ? pyfs_object_describe(work->node->module,
							   (const char *const *)work->node->attrs)
				    : g_strdup(work->node->name);
	what = g_strdup_printf("%s %s%s%s", verb, object, work->name ? "/" : "",
			       work->name ? work->name : "");
	/* Whatever the first try found and kept is still current: not done twice. */
	g_clear_pointer(&work->rendering, pyfs_rendering_unref);
	g_clear_pointer(&work->children, g_array_unref);
	if (!pyfs_deadline_run(what, work_run, work, work_free, &error)) {
		g_warning("%s", error->message);
		return NULL;
	}
	return work;
}

/*
 * Does @work with the code as it is on disk, and no fresh import while it
 * runs (pyfs-livecode.h). Takes @work. NULL when it timed out (logged; the
 * work is the abandoned job's then), else the finished work, whose results
 * the caller takes before work_free().
 */
static Work *run(Work *work, PyfsTreeWait wait, const char *verb)
{
	PyfsLivecode *livecode = work->tree->livecode;
	Work *done;

	pyfs_livecode_enter(livecode);
	done = run_gated(work, wait, verb);
	pyfs_livecode_leave(livecode);
	return done;
}

static Work *work_new(WorkKind kind, PyfsTree *tree, PyfsNode *node, const char *name)
{
	Work *work = g_new0(Work, 1);

	work->kind = kind;
	work->tree = tree;
	work->node = pyfs_node_ref(node);
	work->name = g_strdup(name);
	return work;
}

/* The results of @work (NULL: it timed out), to whichever pointers are given. */
static int take_results(Work *work, PyfsNode **child, PyfsRendering **rendering,
			GArray **children)
{
	int r;

	if (work == NULL)
		return -ETIMEDOUT;
	r = work->result;
	if (child != NULL)
		*child = g_steal_pointer(&work->child);
	if (rendering != NULL)
		*rendering = g_steal_pointer(&work->rendering);
	if (children != NULL)
		*children = g_steal_pointer(&work->children);
	work_free(work);
	return r;
}

int pyfs_tree_examine(PyfsTree *tree, PyfsNode *node, PyfsTreeWait wait,
		      PyfsRendering **rendering)
{
	return take_results(run(work_new(WORK_EXAMINE, tree, node, NULL), wait, "Reading"),
			    NULL, rendering, NULL);
}

int pyfs_tree_lookup(PyfsTree *tree, PyfsNode *dir, const char *name, PyfsTreeWait wait,
		     PyfsNode **child, PyfsRendering **rendering)
{
	return take_results(run(work_new(WORK_LOOKUP, tree, dir, name), wait, "Looking up"),
			    child, rendering, NULL);
}

int pyfs_tree_list(PyfsTree *tree, PyfsNode *dir, PyfsTreeWait wait, GArray **children)
{
	return take_results(run(work_new(WORK_LIST, tree, dir, NULL), wait, "Listing"),
			    NULL, NULL, children);
}
