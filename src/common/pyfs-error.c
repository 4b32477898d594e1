/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include <gio/gio.h>

#include "pyfs-error.h"

/* What a PYFS_ERROR carries besides its message. */
typedef struct {
	int errnum;      /* the cause's errno; 0: the code's own */
	char *module;
	char *traceback;
} PyfsErrorPrivate;

static void pyfs_error_extended_private_init(PyfsErrorPrivate *priv)
{
	priv->errnum = 0;
	priv->module = NULL;
	priv->traceback = NULL;
}

static void pyfs_error_extended_private_copy(const PyfsErrorPrivate *src, PyfsErrorPrivate *dest)
{
	dest->errnum = src->errnum;
	dest->module = g_strdup(src->module);
	dest->traceback = g_strdup(src->traceback);
}

static void pyfs_error_extended_private_clear(PyfsErrorPrivate *priv)
{
	g_clear_pointer(&priv->module, g_free);
	g_clear_pointer(&priv->traceback, g_free);
}

/* The domain with its private data, "PyfsError"; PYFS_ERROR adds its names on the bus. */
GQuark pyfs_error_extended_quark(void);
G_DEFINE_EXTENDED_ERROR(PyfsError, pyfs_error_extended)

/* The one mapping of errors to D-Bus error names. */
static const GDBusErrorEntry pyfs_dbus_errors[] = {
	{ PYFS_ERROR_FAILED, "org.pyfs.Error.Failed" },
	{ PYFS_ERROR_INVALID_NAME, "org.pyfs.Error.InvalidName" },
	{ PYFS_ERROR_IMPORT_FAILED, "org.pyfs.Error.ImportFailed" },
	{ PYFS_ERROR_NOT_FOUND, "org.pyfs.Error.NotFound" },
	{ PYFS_ERROR_ENCODING, "org.pyfs.Error.InvalidEncoding" },
	{ PYFS_ERROR_TOO_LARGE, "org.pyfs.Error.TooLarge" },
	{ PYFS_ERROR_STATE, "org.pyfs.Error.StateFailed" },
	{ PYFS_ERROR_TIMED_OUT, "org.pyfs.Error.TimedOut" },
};

GQuark pyfs_error_quark(void)
{
	static gsize dbus_quark;
	GQuark quark = pyfs_error_extended_quark();

	/* Same name, same quark: GDBus names every code of the domain. */
	g_dbus_error_register_error_domain("PyfsError", &dbus_quark, pyfs_dbus_errors,
					   G_N_ELEMENTS(pyfs_dbus_errors));
	return quark;
}

static PyfsErrorPrivate *private_of(const GError *error)
{
	if (error == NULL || error->domain != PYFS_ERROR)
		return NULL;
	return pyfs_error_extended_get_private(error);
}

void pyfs_error_propagate_as(GError **error, GError *cause, PyfsError code, const char *prefix)
{
	GError *wrapped = g_error_new(PYFS_ERROR, code, "%s%s", prefix, cause->message);

	private_of(wrapped)->errnum = pyfs_error_to_errno(cause);
	g_error_free(cause);
	g_propagate_error(error, wrapped);
}

void pyfs_error_set_module(GError *error, const char *module)
{
	PyfsErrorPrivate *priv = private_of(error);

	g_return_if_fail(priv != NULL);
	g_free(priv->module);
	priv->module = g_strdup(module);
}

const char *pyfs_error_get_module(const GError *error)
{
	PyfsErrorPrivate *priv = private_of(error);

	return priv ? priv->module : NULL;
}

void pyfs_error_set_traceback(GError *error, const char *traceback)
{
	PyfsErrorPrivate *priv = private_of(error);

	g_return_if_fail(priv != NULL);
	g_free(priv->traceback);
	priv->traceback = g_strdup(traceback);
}

const char *pyfs_error_get_traceback(const GError *error)
{
	PyfsErrorPrivate *priv = private_of(error);

	return priv ? priv->traceback : NULL;
}

/* The inverse of g_file_error_from_errno(). */
static int file_error_to_errno(GFileError code)
{
	switch (code) {
	case G_FILE_ERROR_EXIST: return EEXIST;
	case G_FILE_ERROR_ISDIR: return EISDIR;
	case G_FILE_ERROR_ACCES: return EACCES;
	case G_FILE_ERROR_NAMETOOLONG: return ENAMETOOLONG;
	case G_FILE_ERROR_NOENT: return ENOENT;
	case G_FILE_ERROR_NOTDIR: return ENOTDIR;
	case G_FILE_ERROR_NXIO: return ENXIO;
	case G_FILE_ERROR_NODEV: return ENODEV;
	case G_FILE_ERROR_ROFS: return EROFS;
	case G_FILE_ERROR_TXTBSY: return ETXTBSY;
	case G_FILE_ERROR_FAULT: return EFAULT;
	case G_FILE_ERROR_LOOP: return ELOOP;
	case G_FILE_ERROR_NOSPC: return ENOSPC;
	case G_FILE_ERROR_NOMEM: return ENOMEM;
	case G_FILE_ERROR_MFILE: return EMFILE;
	case G_FILE_ERROR_NFILE: return ENFILE;
	case G_FILE_ERROR_BADF: return EBADF;
	case G_FILE_ERROR_INVAL: return EINVAL;
	case G_FILE_ERROR_PIPE: return EPIPE;
	case G_FILE_ERROR_AGAIN: return EAGAIN;
	case G_FILE_ERROR_INTR: return EINTR;
	case G_FILE_ERROR_IO: return EIO;
	case G_FILE_ERROR_PERM: return EPERM;
	case G_FILE_ERROR_NOSYS: return ENOSYS;
	case G_FILE_ERROR_FAILED: return EIO;
	}
	return EIO;
}

int pyfs_error_to_errno(const GError *error)
{
	PyfsErrorPrivate *priv;

	if (error == NULL)
		return 0;
	if (error->domain == G_IO_ERROR) {
		switch (error->code) {
		case G_IO_ERROR_NOT_FOUND: return ENOENT;
		case G_IO_ERROR_PERMISSION_DENIED: return EACCES;
		case G_IO_ERROR_NO_SPACE: return ENOSPC;
		case G_IO_ERROR_READ_ONLY: return EROFS;
		case G_IO_ERROR_TIMED_OUT: return ETIMEDOUT;
		default: return EIO;
		}
	}
	if (error->domain == G_FILE_ERROR)
		return file_error_to_errno((GFileError)error->code);
	if (error->domain != PYFS_ERROR)
		return EIO;
	priv = private_of(error);
	if (priv->errnum != 0)
		return priv->errnum;
	switch ((PyfsError)error->code) {
	case PYFS_ERROR_INVALID_NAME: return EINVAL;
	case PYFS_ERROR_IMPORT_FAILED: return ENOENT;
	case PYFS_ERROR_NOT_FOUND: return ENOENT;
	case PYFS_ERROR_ENCODING: return EILSEQ;
	case PYFS_ERROR_TOO_LARGE: return EFBIG;
	case PYFS_ERROR_STATE: return EIO;
	case PYFS_ERROR_TIMED_OUT: return ETIMEDOUT;
	case PYFS_ERROR_FAILED: return EIO;
	}
	return EIO;
}

GError *pyfs_error_for_dbus(const GError *error)
{
	if (error->domain == PYFS_ERROR)
		return g_error_copy(error);
	return g_error_new_literal(PYFS_ERROR, PYFS_ERROR_FAILED, error->message);
}

gboolean pyfs_error_is_usage(const GError *error)
{
	return g_error_matches(error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME) ||
	       g_error_matches(error, PYFS_ERROR, PYFS_ERROR_ENCODING) ||
	       g_error_matches(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE) ||
	       g_error_matches(error, PYFS_ERROR, PYFS_ERROR_NOT_FOUND);
}
