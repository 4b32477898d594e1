/* SPDX-License-Identifier: MIT */
/*
 * The one error domain of pyfs.
 *
 * Errors cross module boundaries as GError in PYFS_ERROR; each code has one
 * errno, used once at the FUSE reply, and one D-Bus name, org.pyfs.Error.*,
 * registered with GDBus together with the domain, so that a GError of this
 * domain returned on the bus arrives under that name.
 *
 * Besides its message, such an error may carry (a GLib extended error
 * domain) the errno of its cause, the module it is about and the Python
 * traceback behind it: what the FUSE reply and the log need, once the
 * error reaches whoever ends its journey. The D-Bus reply carries the
 * message alone.
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
	PYFS_ERROR_STATE,          /* the list could not be saved: its cause's errno, ...StateFailed */
	PYFS_ERROR_TIMED_OUT,      /* Python code ran past the limit: ETIMEDOUT, ...TimedOut */
} PyfsError;

GQuark pyfs_error_quark(void);

/*
 * Moves @cause (any domain) into @error as @code of PYFS_ERROR, its
 * message after @prefix; pyfs_error_to_errno() gives the cause's errno.
 */
void pyfs_error_propagate_as(GError **error, GError *cause, PyfsError code, const char *prefix);

/* The module @error (of PYFS_ERROR) is about: the log's PYFS_MODULE=. */
void pyfs_error_set_module(GError *error, const char *module);
/* NULL when it names none, or is of another domain. */
const char *pyfs_error_get_module(const GError *error);

/* The Python traceback behind @error (of PYFS_ERROR), for the log. */
void pyfs_error_set_traceback(GError *error, const char *traceback);
/* NULL when it has none, or is of another domain. */
const char *pyfs_error_get_traceback(const GError *error);

/*
 * The positive errno for a GError of any domain: the cause's for an error
 * propagated with pyfs_error_propagate_as(), EIO for PYFS_ERROR_FAILED.
 */
int pyfs_error_to_errno(const GError *error);

/*
 * A new error, @error as it goes out on D-Bus: itself if of PYFS_ERROR
 * (sent as its org.pyfs.Error.* name), else PYFS_ERROR_FAILED with its
 * message, so that no error leaves without a name of ours.
 */
GError *pyfs_error_for_dbus(const GError *error);

/*
 * Whether @error is the asker's mistake (a bad name, too much, not
 * listed), with nothing wrong in pyfsd, the disk or a module.
 */
gboolean pyfs_error_is_usage(const GError *error);

G_END_DECLS
