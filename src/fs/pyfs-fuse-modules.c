/* SPDX-License-Identifier: MIT */
/*
 * run/modules, the file (README, "run/modules"): opening it, each write a
 * transaction on the registry, truncation, and what a close settles.
 *
 * Its content is the list at open and is read with direct I/O, and its
 * attributes are never cached: its size changes with every write.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <gio/gio.h>

#include "pyfs-error.h"
#include "pyfs-fuse-private.h"
#include "pyfs-log.h"
#include "pyfs-names.h"

/* An open run/modules: the list as it was opened, and the state of a writer. */
typedef struct {
	GBytes *content;      /* opened for reading: the list at open */
	gboolean writer;      /* opened for writing */
	gboolean append;      /* O_APPEND: every write appends */
	PyfsModlist *undo;    /* O_TRUNC: the list before, until the first write settles it */
	guint64 undo_serial;  /* the registry's serial right after the truncation */
	off_t next_offset;    /* where a sequential writer continues */
} ModulesHandle;

static void modules_handle_free(ModulesHandle *handle)
{
	if (handle == NULL)
		return;
	g_clear_pointer(&handle->content, g_bytes_unref);
	pyfs_modlist_free(handle->undo);
	g_free(handle);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ModulesHandle, modules_handle_free)

void pyfs_fuse_modules_open(PyfsFs *fs, fuse_req_t req, struct fuse_file_info *fi)
{
	g_autoptr(ModulesHandle) handle = g_new0(ModulesHandle, 1);
	g_autoptr(GError) error = NULL;
	int access = fi->flags & O_ACCMODE;

	if (access != O_RDONLY) {
		handle->writer = TRUE;
		handle->append = (fi->flags & O_APPEND) != 0;
	}
	/*
	 * O_TRUNC clears the list now, so that `: > run/modules` has taken
	 * effect when the shell goes on (a close does not wait for RELEASE,
	 * and FLUSH comes before the write too: bash closes the fd it
	 * dup2()ed). If the first write then fails, the list is put back:
	 * `echo bad > run/modules` changes nothing. The empty list is saved
	 * only with that write, or at RELEASE when none came: killed while the
	 * write imports, pyfsd restarts with the list as it was.
	 */
	if (handle->writer && (fi->flags & O_TRUNC)) {
		handle->undo = pyfs_registry_truncate(fs->tree.registry, &handle->undo_serial,
						      &error);
		if (handle->undo == NULL) {
			g_warning("Cannot clear the module list: %s", error->message);
			fuse_reply_err(req, pyfs_error_to_errno(error));
			return;
		}
	}
	if (access != O_WRONLY) {
		g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(fs->tree.registry);
		char *text = pyfs_modlist_to_text(list);

		handle->content = g_bytes_new_take(text, strlen(text));
	}
	/* Its size changes with every write: no page cache, no stale length. */
	fi->direct_io = 1;
	fi->fh = (uint64_t)(uintptr_t)handle;
	pyfs_fuse_keep_handle(fs, g_steal_pointer(&handle), (GDestroyNotify)modules_handle_free);
	if (fuse_reply_open(req, fi) != 0)
		pyfs_fuse_drop_handle(fs, (gpointer)(uintptr_t)fi->fh);
}

void pyfs_fuse_modules_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	ModulesHandle *handle = (ModulesHandle *)(uintptr_t)fi->fh;
	g_autoptr(GBytes) content = NULL;
	const char *data;
	gsize len;

	if (handle->content == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	/* Our own reference: the reply must not depend on the handle's lifetime. */
	content = g_bytes_ref(handle->content);
	data = g_bytes_get_data(content, &len);
	if (off < 0 || (gsize)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, data + off, MIN(size, len - (gsize)off));
}

void pyfs_fuse_modules_write(PyfsFs *fs, fuse_req_t req, const char *buf, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	ModulesHandle *handle = (ModulesHandle *)(uintptr_t)fi->fh;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = NULL;
	g_autoptr(PyfsModlist) undo = NULL;
	gboolean ok;

	if (!handle->writer) {
		fuse_reply_err(req, EBADF);
		return;
	}
	/* Appends, and a writer going on where it left off; never a write
	 * into the middle of the list. */
	if (!handle->append && off != handle->next_offset) {
		g_message("Refused a write to run/modules at offset %jd: only appends are possible",
			  (intmax_t)off);
		fuse_reply_err(req, EPERM);
		return;
	}
	/* The first write settles a truncation: kept if it succeeds, undone if not. */
	undo = g_steal_pointer(&handle->undo);

	names = pyfs_names_parse(buf, size, &error);
	ok = names != NULL &&
	     pyfs_registry_add(fs->tree.registry, (const char *const *)names, &error);
	if (!ok) {
		g_autoptr(GError) undo_error = NULL;

		pyfs_log_error(G_LOG_LEVEL_WARNING, error, "Refused a write to run/modules");
		if (undo != NULL &&
		    !pyfs_registry_restore(fs->tree.registry, undo, handle->undo_serial, &undo_error))
			g_warning("Cannot restore the module list: %s", undo_error->message);
		fuse_reply_err(req, pyfs_error_to_errno(error));
		return;
	}
	handle->next_offset = off + (off_t)size;
	fuse_reply_write(req, size);
}

/*
 * A truncation that no write settled (`: > run/modules`) is saved now. If
 * it cannot be, the list is put back as it was saved: the clear had been
 * visible for a moment, but a restart must not tell another story.
 */
static void settle_truncation(PyfsFs *fs, ModulesHandle *handle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) undo_error = NULL;

	if (handle->undo == NULL || pyfs_registry_save(fs->tree.registry, &error))
		return;
	g_warning("Cannot save the cleared module list, so it is put back: %s", error->message);
	if (!pyfs_registry_restore(fs->tree.registry, handle->undo, handle->undo_serial,
				   &undo_error))
		g_warning("Cannot restore the module list: %s", undo_error->message);
}

void pyfs_fuse_modules_release(PyfsFs *fs, fuse_req_t req, struct fuse_file_info *fi)
{
	ModulesHandle *handle = (ModulesHandle *)(uintptr_t)fi->fh;

	settle_truncation(fs, handle);
	pyfs_fuse_drop_handle(fs, handle);
	fuse_reply_err(req, 0);
}

/* truncate(2) and open(O_TRUNC) without atomic_o_trunc: 0 clears; times are ignored. */
gboolean pyfs_fuse_modules_setattr(PyfsFs *fs, fuse_req_t req, struct stat *attr, int to_set)
{
	g_autoptr(GError) error = NULL;

	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return FALSE;
	}
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		return TRUE;
	if (attr->st_size != 0) {
		g_message("Refused to truncate run/modules to %jd bytes: only 0 clears it",
			  (intmax_t)attr->st_size);
		fuse_reply_err(req, EPERM);
		return FALSE;
	}
	if (!pyfs_registry_clear(fs->tree.registry, &error)) {
		g_warning("Cannot clear the module list: %s", error->message);
		fuse_reply_err(req, pyfs_error_to_errno(error));
		return FALSE;
	}
	return TRUE;
}
