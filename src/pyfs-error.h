/* SPDX-License-Identifier: MIT */
/*
 * The one error domain of pyfs.
 *
 * Errors cross module boundaries as GError in PYFS_ERROR; each code has one
 * errno, used once at the FUSE reply, and one D-Bus name, org.pyfs.Error.*,
 * registered with GDBus so that a GError returned on the bus arrives under
 * that name.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PYFS_ERROR (pyfs_error_quark())

typedef enum {
	PYFS_ERROR_FAILED,         /* anything else:          EIO, org.pyfs.Error.Failed */
	PYFS_ERROR_INVALID_NAME,   /* not a dotted name:      EINVAL, ...InvalidName */
	PYFS_ERROR_IMPORT_FAILED,  /* the import raised:      ENOENT, ...ImportFailed */
	PYFS_ERROR_NOT_FOUND,      /* not in the module list: ENOENT, ...NotFound */
	PYFS_ERROR_ENCODING,       /* not UTF-8, or a NUL:    EILSEQ, ...InvalidEncoding */
	PYFS_ERROR_TOO_LARGE,      /* over a documented limit: EFBIG, ...TooLarge */
	PYFS_ERROR_STATE,          /* the list could not be saved: EIO-free errno, ...StateFailed */
	PYFS_ERROR_TIMED_OUT,      /* Python code ran past the limit: ETIMEDOUT, ...TimedOut */
} PyfsError;

GQuark pyfs_error_quark(void);

/* The positive errno for a GError of any domain (EIO only for PYFS_ERROR_FAILED). */
int pyfs_error_to_errno(const GError *error);

G_END_DECLS
