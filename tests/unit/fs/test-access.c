/* SPDX-License-Identifier: MIT */
/* Who may use the mount (pyfs-access): requests of other users, and the modes. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "pyfs-access.h"
#include "test-run.h"

#define OWNER 1000
#define OTHER 65534

static guint logged;

/* Counts the messages about uid OTHER. */
static GLogWriterOutput count_refusals(GLogLevelFlags level, const GLogField *fields,
				       gsize n_fields, gpointer user_data)
{
	for (gsize i = 0; i < n_fields; i++)
		if (g_str_equal(fields[i].key, "MESSAGE") &&
		    strstr(fields[i].value, "uid 65534") != NULL)
			logged++;
	return G_LOG_WRITER_HANDLED;
}

START_TEST(test_the_owner_may_do_anything)
{
	g_autoptr(PyfsAccess) access = pyfs_access_new(OWNER, FALSE);

	ck_assert_int_eq(pyfs_access_check(access, OWNER, PYFS_ACCESS_READ), 0);
	ck_assert_int_eq(pyfs_access_check(access, OWNER, PYFS_ACCESS_CHANGE), 0);
	ck_assert_uint_eq(logged, 0);
}
END_TEST

START_TEST(test_others_are_refused_and_logged_once)
{
	g_autoptr(PyfsAccess) access = pyfs_access_new(OWNER, FALSE);

	ck_assert_int_eq(pyfs_access_check(access, OTHER, PYFS_ACCESS_READ), -EACCES);
	ck_assert_int_eq(pyfs_access_check(access, OTHER, PYFS_ACCESS_READ), -EACCES);
	ck_assert_int_eq(pyfs_access_check(access, OTHER, PYFS_ACCESS_CHANGE), -EACCES);
	/* Root is another user too. */
	ck_assert_int_eq(pyfs_access_check(access, 0, PYFS_ACCESS_READ), -EACCES);
	ck_assert_uint_eq(logged, 1);
}
END_TEST

START_TEST(test_shared_others_read_but_do_not_change)
{
	g_autoptr(PyfsAccess) access = pyfs_access_new(OWNER, TRUE);

	ck_assert_int_eq(pyfs_access_check(access, OTHER, PYFS_ACCESS_READ), 0);
	ck_assert_int_eq(pyfs_access_check(access, OTHER, PYFS_ACCESS_CHANGE), -EACCES);
	ck_assert_int_eq(pyfs_access_check(access, OTHER, PYFS_ACCESS_CHANGE), -EACCES);
	ck_assert_int_eq(pyfs_access_check(access, OWNER, PYFS_ACCESS_CHANGE), 0);
	ck_assert_uint_eq(logged, 1);
}
END_TEST

START_TEST(test_modes_say_who_may)
{
	g_autoptr(PyfsAccess) alone = pyfs_access_new(OWNER, FALSE);
	g_autoptr(PyfsAccess) shared = pyfs_access_new(OWNER, TRUE);

	ck_assert_uint_eq(pyfs_access_mode(alone, S_IFDIR | 0555), S_IFDIR | 0500);
	ck_assert_uint_eq(pyfs_access_mode(alone, S_IFREG | 0444), S_IFREG | 0400);
	ck_assert_uint_eq(pyfs_access_mode(alone, S_IFREG | 0644), S_IFREG | 0600);
	ck_assert_uint_eq(pyfs_access_mode(alone, S_IFLNK | 0777), S_IFLNK | 0777);
	ck_assert_uint_eq(pyfs_access_mode(shared, S_IFDIR | 0555), S_IFDIR | 0555);
	ck_assert_uint_eq(pyfs_access_mode(shared, S_IFREG | 0444), S_IFREG | 0444);
	ck_assert_uint_eq(pyfs_access_mode(shared, S_IFREG | 0644), S_IFREG | 0644);
}
END_TEST

static void reset_count(void)
{
	logged = 0;
	g_log_set_writer_func(count_refusals, NULL, NULL);
}

int main(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");

	/* Each test in a process of its own: the writer is set once per process. */
	tcase_add_checked_fixture(tc, reset_count, NULL);
	tcase_add_test(tc, test_the_owner_may_do_anything);
	tcase_add_test(tc, test_others_are_refused_and_logged_once);
	tcase_add_test(tc, test_shared_others_read_but_do_not_change);
	tcase_add_test(tc, test_modes_say_who_may);
	suite_add_tcase(s, tc);
	return test_run(s);
}
