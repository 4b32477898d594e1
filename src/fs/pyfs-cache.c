/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include <stdatomic.h>
#include <string.h>

#include "pyfs-cache.h"

/* Enough of a SHA-256 digest to tell two contents apart. */
#define DIGEST_LEN 16

/* A directory's listing. */
typedef struct {
	GPtrArray *nodes;        /* of PyfsNode references */
	guint64 epoch;
	gint64 expires;
} Listing;

/* What the cache keeps of a node (in the node's own block: small); under the cache lock. */
typedef struct {
	PyfsRendering *rendering;
	Listing *listing;
	/* What the kernel's page cache of the file may hold: the bytes of
	 * the last open (their length and digest; keeping the bytes would
	 * keep every file ever read in memory). */
	gsize pages_len;
	guint8 pages_digest[DIGEST_LEN];
	guint opens;             /* files open on the node now */
	guint8 pages_known;
	guint8 mixed;            /* other bytes were open meanwhile: pages may be mixed */
} NodeData;

static void listing_free(Listing *listing)
{
	g_ptr_array_unref(listing->nodes);
	g_free(listing);
}

/* A node whose rendering or listing expires at @expires (holds a reference to the node). */
typedef struct {
	PyfsNode *node;
	gint64 expires;
} Expiry;

struct _PyfsCache {
	GMutex lock;             /* guards the NodeData of every node and expiring; a leaf */
	/* Of Expiry, from expiring_head on, in order of expiry (stored in
	 * order, all with the same timeout): a queue without an allocation
	 * per entry. */
	GArray *expiring;
	guint expiring_head;
	atomic_uint_least64_t epoch;
	PyfsCacheWakeFunc wake;
	gpointer wake_data;
};

static void rendering_clear(PyfsRendering *rendering)
{
	g_clear_pointer(&rendering->content, g_bytes_unref);
}

PyfsRendering *pyfs_rendering_new(PyfsEntryKind kind, GBytes *content)
{
	PyfsRendering *rendering = g_atomic_rc_box_new0(PyfsRendering);

	rendering->kind = kind;
	rendering->content = content;
	return rendering;
}

PyfsRendering *pyfs_rendering_ref(PyfsRendering *rendering)
{
	return g_atomic_rc_box_acquire(rendering);
}

void pyfs_rendering_unref(PyfsRendering *rendering)
{
	if (rendering != NULL)
		g_atomic_rc_box_release_full(rendering, (GDestroyNotify)rendering_clear);
}

PyfsCache *pyfs_cache_new(PyfsCacheWakeFunc wake, gpointer user_data)
{
	PyfsCache *cache = g_new0(PyfsCache, 1);

	g_mutex_init(&cache->lock);
	cache->expiring = g_array_new(FALSE, FALSE, sizeof(Expiry));
	atomic_init(&cache->epoch, 1);
	cache->wake = wake;
	cache->wake_data = user_data;
	return cache;
}

void pyfs_cache_free(PyfsCache *cache)
{
	if (cache == NULL)
		return;
	for (guint i = cache->expiring_head; i < cache->expiring->len; i++)
		pyfs_node_unref(g_array_index(cache->expiring, Expiry, i).node);
	g_array_unref(cache->expiring);
	g_mutex_clear(&cache->lock);
	g_free(cache);
}

gsize pyfs_cache_node_data_size(void)
{
	return sizeof(NodeData);
}

void pyfs_cache_clear_node_data(gpointer data)
{
	NodeData *nd = data;

	/* The node is being freed: nobody else can reach its data. */
	g_clear_pointer(&nd->rendering, pyfs_rendering_unref);
	g_clear_pointer(&nd->listing, listing_free);
}

/* Called with the lock held. */
static NodeData *data_of(PyfsNode *node)
{
	return node->data;
}

guint64 pyfs_cache_epoch(PyfsCache *cache)
{
	return atomic_load(&cache->epoch);
}

void pyfs_cache_drop(PyfsCache *cache)
{
	atomic_fetch_add(&cache->epoch, 1);
}

static gboolean rendering_current(PyfsCache *cache, const PyfsRendering *r, gint64 now)
{
	return r != NULL && r->epoch == pyfs_cache_epoch(cache) && now < r->expires;
}

PyfsRendering *pyfs_cache_rendering(PyfsCache *cache, PyfsNode *node, gint64 now)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cache->lock);
	NodeData *nd = data_of(node);

	if (!rendering_current(cache, nd->rendering, now))
		return NULL;
	return pyfs_rendering_ref(nd->rendering);
}

/*
 * Called with the lock held: @node has something expiring at @expires.
 * Returns whether to wake the owner.
 */
static gboolean expire_at_locked(PyfsCache *cache, PyfsNode *node, gint64 expires)
{
	Expiry expiry = { .node = node, .expires = expires };
	gboolean was_empty = cache->expiring_head == cache->expiring->len;

	g_array_append_val(cache->expiring, expiry);
	return was_empty;
}

void pyfs_cache_store_rendering(PyfsCache *cache, PyfsNode *node, PyfsRendering *rendering)
{
	g_autoptr(PyfsRendering) old = NULL;
	gboolean wake = FALSE;

	/* Taken before the lock: a node reference is the table's lock. */
	pyfs_node_ref(node);
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cache->lock);
		NodeData *nd = data_of(node);

		old = g_steal_pointer(&nd->rendering);
		nd->rendering = pyfs_rendering_ref(rendering);
		wake = expire_at_locked(cache, node, rendering->expires);
	}
	if (wake && cache->wake != NULL)
		cache->wake(cache->wake_data);
}

GPtrArray *pyfs_cache_listing(PyfsCache *cache, PyfsNode *dir, gint64 now)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cache->lock);
	NodeData *nd = data_of(dir);

	if (nd->listing == NULL || nd->listing->epoch != pyfs_cache_epoch(cache) ||
	    now >= nd->listing->expires)
		return NULL;
	return g_ptr_array_ref(nd->listing->nodes);
}

void pyfs_cache_store_listing(PyfsCache *cache, PyfsNode *dir, GPtrArray *children,
			      guint64 epoch, gint64 expires)
{
	Listing *listing = g_new(Listing, 1);
	Listing *old;
	gboolean wake = FALSE;

	listing->nodes = g_ptr_array_ref(children);
	listing->epoch = epoch;
	listing->expires = expires;
	pyfs_node_ref(dir);
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cache->lock);
		NodeData *nd = data_of(dir);

		old = g_steal_pointer(&nd->listing);
		nd->listing = listing;
		wake = expire_at_locked(cache, dir, expires);
	}
	/* Unlocked: its nodes' last references take the table's lock. */
	if (old != NULL)
		listing_free(old);
	if (wake && cache->wake != NULL)
		cache->wake(cache->wake_data);
}

static void digest(GBytes *content, guint8 out[DIGEST_LEN])
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 full[32];
	gsize len = sizeof(full);
	gsize size;
	const guchar *data = g_bytes_get_data(content, &size);

	g_checksum_update(sum, data, (gssize)size);
	g_checksum_get_digest(sum, full, &len);
	memcpy(out, full, DIGEST_LEN);
}

gboolean pyfs_cache_opened(PyfsCache *cache, PyfsNode *node, GBytes *content)
{
	guint8 now[DIGEST_LEN];
	gsize len = g_bytes_get_size(content);
	g_autoptr(GMutexLocker) locker = NULL;
	NodeData *nd;
	gboolean same;

	/* Outside the lock: a value may be up to a megabyte. */
	digest(content, now);
	locker = g_mutex_locker_new(&cache->lock);
	nd = data_of(node);
	same = nd->pages_known && nd->pages_len == len &&
	       memcmp(nd->pages_digest, now, DIGEST_LEN) == 0;
	nd->opens++;
	if (same && !nd->mixed)
		return TRUE;
	/*
	 * The kernel drops the pages at this open. A file still open with
	 * other bytes may read them in again, so until an open finds no other
	 * file open, the pages may be a mix.
	 */
	nd->mixed = nd->opens > 1 && !same;
	nd->pages_known = TRUE;
	nd->pages_len = len;
	memcpy(nd->pages_digest, now, DIGEST_LEN);
	return FALSE;
}

void pyfs_cache_closed(PyfsCache *cache, PyfsNode *node)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cache->lock);
	NodeData *nd = data_of(node);

	if (nd->opens > 0)
		nd->opens--;
}

gint64 pyfs_cache_sweep(PyfsCache *cache, gint64 now, guint *released)
{
	g_autoptr(GPtrArray) release = g_ptr_array_new_with_free_func(
		(GDestroyNotify)pyfs_node_unref);
	g_autoptr(GPtrArray) renderings =
		g_ptr_array_new_with_free_func((GDestroyNotify)pyfs_rendering_unref);
	g_autoptr(GPtrArray) listings =
		g_ptr_array_new_with_free_func((GDestroyNotify)listing_free);
	gint64 next = -1;

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cache->lock);
		guint64 epoch = pyfs_cache_epoch(cache);
		GArray *queue = cache->expiring;

		while (cache->expiring_head < queue->len) {
			Expiry *head = &g_array_index(queue, Expiry, cache->expiring_head);
			NodeData *nd = data_of(head->node);

			if (head->expires > now) {
				next = head->expires;
				break;
			}
			cache->expiring_head++;
			/* Only what expired: a newer one has its own place in the queue. */
			if (nd->rendering != NULL && !rendering_current(cache, nd->rendering, now))
				g_ptr_array_add(renderings, g_steal_pointer(&nd->rendering));
			if (nd->listing != NULL &&
			    (nd->listing->epoch != epoch || now >= nd->listing->expires))
				g_ptr_array_add(listings, g_steal_pointer(&nd->listing));
			g_ptr_array_add(release, head->node);
		}
		/* Drop what was swept once it is most of the array. */
		if (cache->expiring_head == queue->len) {
			g_array_set_size(queue, 0);
			cache->expiring_head = 0;
		} else if (cache->expiring_head > queue->len / 2) {
			g_array_remove_range(queue, 0, cache->expiring_head);
			cache->expiring_head = 0;
		}
	}
	if (released != NULL)
		*released = release->len;
	/* Here, unlocked: the last reference to a node frees it, which takes the table's lock. */
	return next;
}
