/* SPDX-License-Identifier: MIT */
/* The error domain (pyfs-error): errno, D-Bus names, what an error carries. */
#include <check.h>
#include <errno.h>

#include <gio/gio.h>

#include "pyfs-error.h"
#include "test-run.h"

/* The D-Bus error name GDBus sends for @error. */
static char *dbus_name(const GError *error)
{
	g_autoptr(GError) out = pyfs_error_for_dbus(error);

	return g_dbus_error_encode_gerror(out);
}

/* A list that cannot be saved: StateFailed on the bus, the cause's errno for a writer. */
START_TEST(test_state_error_keeps_its_cause)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *name = NULL;

	pyfs_error_propagate_as(&error,
				g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_ROFS, "Read-only file system"),
				PYFS_ERROR_STATE, "Cannot save: ");
	ck_assert(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_STATE));
	ck_assert_str_eq(error->message, "Cannot save: Read-only file system");
	ck_assert_int_eq(pyfs_error_to_errno(error), EROFS);
	name = dbus_name(error);
	ck_assert_str_eq(name, "org.pyfs.Error.StateFailed");
}
END_TEST

START_TEST(test_every_code_has_its_name)
{
	static const struct {
		PyfsError code;
		const char *name;
		int errnum;
	} codes[] = {
		{ PYFS_ERROR_FAILED, "org.pyfs.Error.Failed", EIO },
		{ PYFS_ERROR_INVALID_NAME, "org.pyfs.Error.InvalidName", EINVAL },
		{ PYFS_ERROR_IMPORT_FAILED, "org.pyfs.Error.ImportFailed", ENOENT },
		{ PYFS_ERROR_NOT_FOUND, "org.pyfs.Error.NotFound", ENOENT },
		{ PYFS_ERROR_ENCODING, "org.pyfs.Error.InvalidEncoding", EILSEQ },
		{ PYFS_ERROR_TOO_LARGE, "org.pyfs.Error.TooLarge", EFBIG },
		{ PYFS_ERROR_STATE, "org.pyfs.Error.StateFailed", EIO },
		{ PYFS_ERROR_TIMED_OUT, "org.pyfs.Error.TimedOut", ETIMEDOUT },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(codes); i++) {
		g_autoptr(GError) error = g_error_new_literal(PYFS_ERROR, codes[i].code, "x");
		g_autofree char *name = dbus_name(error);

		ck_assert_str_eq(name, codes[i].name);
		ck_assert_int_eq(pyfs_error_to_errno(error), codes[i].errnum);
	}
}
END_TEST

/* No error leaves on the bus without a name of ours. */
START_TEST(test_other_domains_are_failed_on_the_bus)
{
	g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NO_SPACE, "full");
	g_autoptr(GError) out = pyfs_error_for_dbus(error);
	g_autofree char *name = dbus_name(error);

	ck_assert_str_eq(name, "org.pyfs.Error.Failed");
	ck_assert_str_eq(out->message, "full");
	ck_assert_int_eq(pyfs_error_to_errno(error), ENOSPC);
}
END_TEST

/* The module and the traceback travel with the error, copies included. */
START_TEST(test_module_and_traceback_travel)
{
	g_autoptr(GError) error = g_error_new_literal(PYFS_ERROR, PYFS_ERROR_IMPORT_FAILED,
						      "ModuleNotFoundError: No module named 'x'");
	g_autoptr(GError) copy = NULL;
	g_autoptr(GError) other = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "x");

	ck_assert_ptr_null(pyfs_error_get_module(error));
	ck_assert_ptr_null(pyfs_error_get_traceback(error));
	pyfs_error_set_module(error, "x");
	pyfs_error_set_traceback(error, "Traceback (most recent call last):\n");
	copy = g_error_copy(error);
	ck_assert_str_eq(pyfs_error_get_module(copy), "x");
	ck_assert_str_eq(pyfs_error_get_traceback(copy), "Traceback (most recent call last):\n");
	ck_assert_ptr_null(pyfs_error_get_module(other));
	ck_assert_ptr_null(pyfs_error_get_traceback(other));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("error");

	tcase_add_test(tc, test_state_error_keeps_its_cause);
	tcase_add_test(tc, test_every_code_has_its_name);
	tcase_add_test(tc, test_other_domains_are_failed_on_the_bus);
	tcase_add_test(tc, test_module_and_traceback_travel);
	suite_add_tcase(s, tc);
	return test_run(s);
}
