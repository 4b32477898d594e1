/* SPDX-License-Identifier: MIT */
/*
 * The inside of a module: what an attribute is, and what a module
 * directory lists. Called with no GIL held; the GIL is taken here, once
 * per request. Unless ctx->may_run_code, no step that could run Python
 * code of the objects is taken: -EWOULDBLOCK instead, before it.
 */
#include "pyfs-python.h"

#include <errno.h>

#include <gio/gio.h>

#include "pyfs-deadline.h"
#include "pyfs-log.h"
#include "pyfs-names.h"
#include "pyfs-render.h"
#include "pyfs-script.h"
#include "pyfs-tree-private.h"

/* Takes @text; a block of the exact size, as renderings are kept a while, by thousands. */
/*
 * Renderings shared by object: one object may be found under many names
 * (every module's __builtins__ is one dict of some 150 items), and one
 * str() of it serves them all while it is current, as for one name. Only
 * containers of some size are worth it. Each entry holds a reference to
 * its object, so that no other object takes its address meanwhile. Only
 * touched with the GIL held, which guards it.
 */
#define SHARED_SLOTS 32
#define SHARED_MIN_ITEMS 16

typedef struct {
	PyObject *object;
	GBytes *content;
	gint64 expires;
	guint64 epoch;
} Shared;

struct _PyfsShared {
	Shared slots[SHARED_SLOTS];
	guint next;        /* the slot to take next: the oldest */
};

static gboolean worth_sharing(PyObject *value)
{
	Py_ssize_t n;

	if (!PyList_Check(value) && !PyTuple_Check(value) && !PyAnySet_Check(value) &&
	    !PyDict_Check(value))
		return FALSE;
	n = PyObject_Length(value);
	if (n < 0)
		PyErr_Clear();
	return n >= SHARED_MIN_ITEMS;
}

/* @value's rendering if one is shared and current (a new reference), else NULL; GIL held. */
static GBytes *shared_rendering(PyfsTreeCtx *ctx, PyObject *value)
{
	PyfsShared *shared = ctx->tree->shared;

	for (guint i = 0; shared != NULL && i < SHARED_SLOTS; i++) {
		Shared *slot = &shared->slots[i];

		if (slot->object == value && slot->epoch == ctx->epoch && ctx->now < slot->expires)
			return g_bytes_ref(slot->content);
	}
	return NULL;
}

/* Shares @content as @value's rendering until @expires; GIL held. */
static void share_rendering(PyfsTreeCtx *ctx, PyObject *value, GBytes *content, gint64 expires)
{
	Shared *slot;

	if (ctx->tree->shared == NULL)
		ctx->tree->shared = g_new0(PyfsShared, 1);
	slot = &ctx->tree->shared->slots[ctx->tree->shared->next];
	ctx->tree->shared->next = (ctx->tree->shared->next + 1) % SHARED_SLOTS;
	Py_XSETREF(slot->object, Py_NewRef(value));
	g_clear_pointer(&slot->content, g_bytes_unref);
	slot->content = g_bytes_ref(content);
	slot->expires = expires;
	slot->epoch = ctx->epoch;
}

void pyfs_tree_clear_shared(PyfsTree *tree)
{
	PyfsShared *shared = g_steal_pointer(&tree->shared);

	if (shared == NULL)
		return;
	{
		PYFS_GIL_SCOPE gil = pyfs_python_enter();

		for (guint i = 0; i < SHARED_SLOTS; i++) {
			Py_CLEAR(shared->slots[i].object);
			g_clear_pointer(&shared->slots[i].content, g_bytes_unref);
		}
	}
	g_free(shared);
}

/* The rendering of value @value, maybe shared with other names (GIL held). */
static GBytes *render(PyfsTreeCtx *ctx, PyObject *value, const char *what)
{
	GBytes *content = shared_rendering(ctx, value);
	gboolean failed = FALSE;

	if (content != NULL)
		return content;
	content = pyfs_render_value(value, what, PYFS_VALUE_MAX, &failed);
	/* A marker names the value it failed on: it is that name's alone. */
	if (!failed && worth_sharing(value))
		share_rendering(ctx, value, content, ctx->now + PYFS_CACHE_TIMEOUT_US);
	return content;
}

static GBytes *bytes_take_string(char *text)
{
	g_autofree char *owned = text;

	return g_bytes_new(text, strlen(text));
}

/* A marker for code that hangs: it serves this request only, and the kernel keeps nothing of it. */
static PyfsRendering *marker(PyfsTreeCtx *ctx, char *text)
{
	PyfsRendering *rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_VALUE,
						       bytes_take_string(text));

	rendering->expires = ctx->now;
	return rendering;
}

/* The module object at @module + @attrs (GIL held): the parent of an attribute, or a directory. */
static int resolve_module(PyfsTreeCtx *ctx, const char *module, const char *const *attrs,
			  PyObject **found)
{
	g_autoptr(GError) error = NULL;

	*found = pyfs_object_resolve(module, attrs, ctx->may_run_code, &error);
	if (*found == NULL)
		return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? -EWOULDBLOCK
										   : -ENOENT;
	if (!PyModule_Check(*found)) {
		Py_CLEAR(*found);
		return -ENOENT;
	}
	return 0;
}

static int resolve_parent(PyfsTreeCtx *ctx, const PyfsNode *node, PyObject **parent)
{
	guint depth = g_strv_length(node->attrs);
	g_auto(GStrv) chain = g_strdupv(node->attrs);

	g_clear_pointer(&chain[depth - 1], g_free);
	return resolve_module(ctx, node->module, (const char *const *)chain, parent);
}

/* Whether @node is under lib/ with a module that is no longer listed: it is gone. */
static gboolean delisted(PyfsTreeCtx *ctx, const PyfsNode *node)
{
	return !node->unlisted && !pyfs_registry_contains(ctx->tree->registry, node->module);
}

/*
 * What attribute node @node, of module @parent, is (GIL held); stored in
 * the cache unless it is a marker. In a @listing, an attribute whose code
 * once timed out is not run again: one hung value must not make its whole
 * module unlistable. Reading it runs it again.
 */
static int describe(PyfsTreeCtx *ctx, PyfsNode *node, PyObject *parent, gboolean listing,
		    PyfsRendering **out)
{
	const char *attr = node->attrs[g_strv_length(node->attrs) - 1];
	g_autofree char *what = pyfs_object_describe(node->module,
						     (const char *const *)node->attrs);
	g_autofree char *target = NULL;
	g_autoptr(PyfsRendering) rendering = NULL;
	PYFS_PYREF value = NULL;
	PyfsEntryKind kind;

	/* Its code still runs for an earlier request: do not run it again. */
	if (pyfs_deadline_is_abandoned(what)) {
		*out = marker(ctx, g_strdup_printf("[pyfs: %s timed out, and is still running]\n",
						   what));
		return 0;
	}
	if (listing && pyfs_deadline_timed_out_before(what)) {
		*out = marker(ctx, g_strdup_printf(
			"[pyfs: %s timed out before; read this file to run it again]\n", what));
		return 0;
	}
	if (!ctx->may_run_code && !pyfs_object_getattr_is_plain(parent, attr))
		return -EWOULDBLOCK;
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
		rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_VALUE, bytes_take_string(
			g_strdup_printf("[pyfs: cannot get %s: %s]\n", what, reason)));
	} else if (!pyfs_object_classify(parent, attr, value, ctx->may_run_code, &kind, &target)) {
		return -EWOULDBLOCK;
	} else if (kind == PYFS_ENTRY_VALUE) {
		if (!ctx->may_run_code && !pyfs_render_is_plain(value))
			return -EWOULDBLOCK;
		rendering = pyfs_tree_rendering(ctx, kind, render(ctx, value, what));
	} else if (kind == PYFS_ENTRY_EXEC) {
		rendering = pyfs_tree_rendering(ctx, kind, bytes_take_string(pyfs_script_for_call(
			node->module, (const char *const *)node->attrs, ctx->tree->call_socket)));
	} else if (kind == PYFS_ENTRY_SYMLINK) {
		rendering = pyfs_tree_link(ctx, node, target, NULL);
	} else {
		rendering = pyfs_tree_rendering(ctx, kind, NULL);
	}
	pyfs_cache_store_rendering(ctx->tree->cache, node, rendering);
	*out = g_steal_pointer(&rendering);
	return 0;
}

int pyfs_tree_examine_attr(PyfsTreeCtx *ctx, PyfsNode *node, PyfsRendering **rendering)
{
	/* First: what is under a module just delisted is gone, cached or not. */
	if (delisted(ctx, node))
		return -ENOENT;
	*rendering = pyfs_tree_cached(ctx, node);
	if (*rendering != NULL)
		return 0;
	{
		PYFS_GIL_SCOPE gil = pyfs_python_enter();
		PYFS_PYREF parent = NULL;
		int r = resolve_parent(ctx, node, &parent);

		return r < 0 ? r : describe(ctx, node, parent, FALSE, rendering);
	}
}

static void append_child(GArray *children, PyfsNode *node, PyfsRendering *rendering)
{
	PyfsChild child = { .node = pyfs_node_ref(node), .rendering = rendering };

	g_array_append_val(children, child);
}

/* Appends every child of @nodes if each has a current rendering; else appends none. */
static gboolean append_cached(PyfsTreeCtx *ctx, GPtrArray *nodes, GArray *children)
{
	g_autoptr(GPtrArray) renderings =
		g_ptr_array_new_with_free_func((GDestroyNotify)pyfs_rendering_unref);

	for (guint i = 0; i < nodes->len; i++) {
		PyfsRendering *rendering = pyfs_tree_cached(ctx, nodes->pdata[i]);

		if (rendering == NULL)
			return FALSE;
		g_ptr_array_add(renderings, rendering);
	}
	for (guint i = 0; i < nodes->len; i++)
		append_child(children, nodes->pdata[i], g_steal_pointer(&renderings->pdata[i]));
	return TRUE;
}

/* The nodes of what dir(@module) lists, in order, for directory @dir (GIL held). */
static GPtrArray *list_nodes(PyfsTreeCtx *ctx, PyfsNode *dir, PyObject *module)
{
	guint depth = dir->attrs ? g_strv_length(dir->attrs) : 0;
	g_autofree const char **chain = g_new0(const char *, depth + 2);
	g_autoptr(GPtrArray) entries = pyfs_object_list(module);
	GPtrArray *nodes = g_ptr_array_new_full(entries->len, (GDestroyNotify)pyfs_node_unref);

	for (guint i = 0; i < depth; i++)
		chain[i] = dir->attrs[i];
	for (guint i = 0; i < entries->len; i++) {
		PyfsEntry *entry = entries->pdata[i];

		chain[depth] = entry->attr;
		g_ptr_array_add(nodes, pyfs_inode_attr(ctx->tree->inodes, dir->module,
						       dir->unlisted, chain, entry->file));
	}
	return nodes;
}

int pyfs_tree_list_module(PyfsTreeCtx *ctx, PyfsNode *dir, GArray *children)
{
	g_autoptr(GPtrArray) nodes = NULL;

	if (delisted(ctx, dir))
		return -ENOENT;
	nodes = pyfs_cache_listing(ctx->tree->cache, dir, ctx->now);
	/* Listed and rendered within the attribute timeout: no Python at all. */
	if (nodes != NULL && append_cached(ctx, nodes, children))
		return 0;
	{
		PYFS_GIL_SCOPE gil = pyfs_python_enter();
		PYFS_PYREF module = NULL;
		int r = resolve_module(ctx, dir->module, (const char *const *)dir->attrs, &module);

		if (r < 0)
			return r;
		if (nodes == NULL) {
			if (!ctx->may_run_code && !pyfs_object_dir_is_plain(module))
				return -EWOULDBLOCK;
			nodes = list_nodes(ctx, dir, module);
			pyfs_cache_store_listing(ctx->tree->cache, dir, nodes, ctx->epoch,
						 ctx->now + PYFS_CACHE_TIMEOUT_US);
		}
		/* Each attribute examined once: with the module in hand, the GIL held
		 * once for the whole listing. */
		for (guint i = 0; i < nodes->len; i++) {
			PyfsNode *node = nodes->pdata[i];
			PyfsRendering *rendering = pyfs_tree_cached(ctx, node);

			if (rendering == NULL) {
				r = describe(ctx, node, module, TRUE, &rendering);
				/* Gone since dir(): left out. */
				if (r == -ENOENT)
					continue;
				if (r < 0)
					return r;
			}
			append_child(children, node, rendering);
		}
	}
	return 0;
}

/* The directories from the root to @node's directory. */
static GPtrArray *directory_of(const PyfsNode *node)
{
	GPtrArray *path = g_ptr_array_new();

	if (node->type == PYFS_NODE_BIN_LINK) {
		g_ptr_array_add(path, (gpointer) "bin");
		return path;
	}
	if (node->unlisted) {
		g_ptr_array_add(path, (gpointer) "run");
		g_ptr_array_add(path, (gpointer)PYFS_SYS_MODULES_NAME);
	} else {
		g_ptr_array_add(path, (gpointer) "lib");
	}
	g_ptr_array_add(path, node->module);
	for (guint i = 0; node->attrs[i] != NULL && node->attrs[i + 1] != NULL; i++)
		g_ptr_array_add(path, node->attrs[i]);
	return path;
}

PyfsRendering *pyfs_tree_link(PyfsTreeCtx *ctx, const PyfsNode *from, const char *module,
			      const char *within)
{
	g_autoptr(GPtrArray) here = directory_of(from);
	g_autoptr(GPtrArray) there = g_ptr_array_new();
	g_autoptr(GString) target = g_string_new(NULL);
	/* Read before the list: a change in between makes the link stale, not wrong. */
	guint64 serial = pyfs_registry_serial(ctx->tree->registry);
	PyfsRendering *rendering;
	guint common = 0;

	if (pyfs_registry_contains(ctx->tree->registry, module)) {
		g_ptr_array_add(there, (gpointer) "lib");
	} else {
		g_ptr_array_add(there, (gpointer) "run");
		g_ptr_array_add(there, (gpointer)PYFS_SYS_MODULES_NAME);
	}
	g_ptr_array_add(there, (gpointer)module);
	if (within != NULL)
		g_ptr_array_add(there, (gpointer)within);
	/* The shortest relative path: lib/os/path -> ../posixpath. */
	while (common < here->len && common < there->len - 1 &&
	       g_str_equal(here->pdata[common], there->pdata[common]))
		common++;
	for (guint i = common; i < here->len; i++)
		g_string_append(target, "../");
	for (guint i = common; i < there->len; i++)
		g_string_append_printf(target, "%s%s", i > common ? "/" : "",
				       (const char *)there->pdata[i]);
	rendering = pyfs_tree_rendering(ctx, PYFS_ENTRY_SYMLINK,
					g_bytes_new(target->str, target->len));
	rendering->on_list = TRUE;
	rendering->list_serial = serial;
	return rendering;
}
