/* SPDX-License-Identifier: MIT */
/*
 * What the tree remembers between requests, so that walking a large tree
 * (grep -r, tar, cp -r) runs each value's code once, not once per system
 * call:
 *
 *  - a node's rendering (its kind and the bytes a read returns) serves
 *    every LOOKUP, GETATTR, OPEN, READLINK and listing that comes before it
 *    expires, one attribute timeout after its Python work began; so
 *    st_size and the bytes read come from the same rendering;
 *  - a directory's listing (the nodes dir() gave) serves the opendirs that
 *    come before it expires, likewise;
 *  - what the kernel's page cache of a file may hold: an open whose bytes
 *    are those of the opens before it keeps it (FOPEN_KEEP_CACHE).
 *
 * Everything carries the code epoch it was made in: pyfs_cache_drop()
 * starts a new one, and from then on nothing made before serves, with no
 * lock to take and no walk over the nodes. What work began before the drop
 * and stores its result after is stale at once, so a drop is race-free.
 * Expired things are released by pyfs_cache_sweep(), which the owner calls
 * from its main loop when told to (pyfs_cache_new()).
 *
 * Locking: the cache lock is a leaf (see pyfs-python.h). No Python here.
 */
#pragma once

#include <glib.h>

#include "pyfs-inode.h"
#include "pyfs-object.h"

G_BEGIN_DECLS

/* How long the kernel and the cache keep what they learnt of a value, in µs. */
#define PYFS_CACHE_TIMEOUT_US (G_TIME_SPAN_SECOND)

/* What a node was found to be at one moment. Immutable once made; reference-counted. */
typedef struct {
	PyfsEntryKind kind;
	GBytes *content;    /* VALUE, EXEC: what a read returns; SYMLINK: the target; DIR: NULL */
	gint64 expires;     /* monotonic time after which it may not serve (G_MAXINT64: never) */
	guint64 epoch;      /* the code epoch its work began in */
	gboolean on_list;   /* it depends on the module list (a link's target) */
	guint64 list_serial; /* on_list: the registry serial it was made with */
} PyfsRendering;

/* A rendering of @kind; takes @content. expires is 0: set it before sharing. */
PyfsRendering *pyfs_rendering_new(PyfsEntryKind kind, GBytes *content);
PyfsRendering *pyfs_rendering_ref(PyfsRendering *rendering);
void pyfs_rendering_unref(PyfsRendering *rendering);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsRendering, pyfs_rendering_unref)

typedef struct _PyfsCache PyfsCache;

/*
 * @wake is called, from any thread and with no lock held, when something
 * was stored while nothing waited to expire: the owner should call
 * pyfs_cache_sweep() at the time it returns.
 */
typedef void (*PyfsCacheWakeFunc)(gpointer user_data);

PyfsCache *pyfs_cache_new(PyfsCacheWakeFunc wake, gpointer user_data);
void pyfs_cache_free(PyfsCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCache, pyfs_cache_free)

/* The size and clear function of every node's data, for pyfs_inode_table_new(). */
gsize pyfs_cache_node_data_size(void);
void pyfs_cache_clear_node_data(gpointer data);

/* The current code epoch: read it before the work whose result is stored. */
guint64 pyfs_cache_epoch(PyfsCache *cache);

/* Nothing made before serves any more. Any thread, no lock held, no GIL needed. */
void pyfs_cache_drop(PyfsCache *cache);

/* @node's rendering (a new reference) if it is current at monotonic time @now, else NULL. */
PyfsRendering *pyfs_cache_rendering(PyfsCache *cache, PyfsNode *node, gint64 now);
void pyfs_cache_store_rendering(PyfsCache *cache, PyfsNode *node, PyfsRendering *rendering);

/*
 * @dir's listing (a new array of node references, in listing order) if
 * the one stored is current at @now, else NULL.
 */
GPtrArray *pyfs_cache_listing(PyfsCache *cache, PyfsNode *dir, gint64 now);
/* Stores @children (node references; the array is referenced, not copied). */
void pyfs_cache_store_listing(PyfsCache *cache, PyfsNode *dir, GPtrArray *children,
			      guint64 epoch, gint64 expires);

/*
 * A file is opened with @content: whether the kernel may keep the pages it
 * holds of @node (they can only be these bytes). Pair with
 * pyfs_cache_closed().
 */
gboolean pyfs_cache_opened(PyfsCache *cache, PyfsNode *node, GBytes *content);
void pyfs_cache_closed(PyfsCache *cache, PyfsNode *node);

/*
 * Releases what expired by monotonic time @now; @released (if not NULL)
 * gets how many stored renderings and listings it looked at. Returns when to call again
 * (a monotonic time), or -1 when nothing is left to expire.
 */
gint64 pyfs_cache_sweep(PyfsCache *cache, gint64 now, guint *released);

G_END_DECLS
