/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include <gio/gio.h>

#include "pyfs-error.h"

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
	static gsize quark;

	g_dbus_error_register_error_domain("pyfs-error-quark", &quark, pyfs_dbus_errors,
					   G_N_ELEMENTS(pyfs_dbus_errors));
	return (GQuark)quark;
}

int pyfs_error_to_errno(const GError *error)
{
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
	if (error->domain == G_FILE_ERROR) {
		switch (error->code) {
		case G_FILE_ERROR_NOSPC: return ENOSPC;
		case G_FILE_ERROR_ROFS: return EROFS;
		case G_FILE_ERROR_ACCES: return EACCES;
		case G_FILE_ERROR_PERM: return EPERM;
		default: return EIO;
		}
	}
	if (error->domain != PYFS_ERROR)
		return EIO;
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
