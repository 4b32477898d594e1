/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "pyfs-modlist.h"
#include "test-run.h"

static char *text_of(const PyfsModlist *list)
{
	return pyfs_modlist_to_text(list);
}

START_TEST(test_empty)
{
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	g_autofree char *text = text_of(list);

	ck_assert_uint_eq(pyfs_modlist_length(list), 0);
	ck_assert_str_eq(text, "");
}
END_TEST

START_TEST(test_add_keeps_order_and_dedups)
{
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	const char *first[] = { "json", "os", "json", NULL };
	const char *second[] = { "sys", "os", "re", NULL };
	g_autofree char *text = NULL;

	ck_assert_uint_eq(pyfs_modlist_add(list, first), 2);
	ck_assert_uint_eq(pyfs_modlist_add(list, second), 2);
	text = text_of(list);
	ck_assert_str_eq(text, "json\nos\nsys\nre\n");
}
END_TEST

START_TEST(test_clear_and_remove)
{
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	const char *names[] = { "a", "b", "c", NULL };
	g_autofree char *text = NULL;

	pyfs_modlist_add(list, names);
	ck_assert(pyfs_modlist_remove(list, "b"));
	ck_assert(!pyfs_modlist_remove(list, "b"));
	ck_assert(!pyfs_modlist_remove(list, "zzz"));
	text = text_of(list);
	ck_assert_str_eq(text, "a\nc\n");
	pyfs_modlist_clear(list);
	ck_assert_uint_eq(pyfs_modlist_length(list), 0);
}
END_TEST

START_TEST(test_copy_is_independent)
{
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	g_autoptr(PyfsModlist) copy = NULL;
	const char *names[] = { "a", "b", NULL };
	const char *more[] = { "c", NULL };

	pyfs_modlist_add(list, names);
	copy = pyfs_modlist_copy(list);
	ck_assert(pyfs_modlist_equal(list, copy));
	pyfs_modlist_add(copy, more);
	ck_assert(!pyfs_modlist_equal(list, copy));
	ck_assert_uint_eq(pyfs_modlist_length(list), 2);
}
END_TEST

START_TEST(test_equal_is_ordered)
{
	g_autoptr(PyfsModlist) a = pyfs_modlist_new();
	g_autoptr(PyfsModlist) b = pyfs_modlist_new();
	const char *ab[] = { "a", "b", NULL };
	const char *ba[] = { "b", "a", NULL };

	pyfs_modlist_add(a, ab);
	pyfs_modlist_add(b, ba);
	ck_assert(!pyfs_modlist_equal(a, b));
}
END_TEST

START_TEST(test_strv)
{
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	const char *names[] = { "x", "y", NULL };
	g_auto(GStrv) strv = NULL;

	pyfs_modlist_add(list, names);
	strv = pyfs_modlist_to_strv(list);
	ck_assert(g_strv_equal((const char *const *)strv, names));
	ck_assert(pyfs_modlist_contains(list, "y"));
	ck_assert(!pyfs_modlist_contains(list, "z"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("modlist");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_add_keeps_order_and_dedups);
	tcase_add_test(tc, test_clear_and_remove);
	tcase_add_test(tc, test_copy_is_independent);
	tcase_add_test(tc, test_equal_is_ordered);
	tcase_add_test(tc, test_strv);
	suite_add_tcase(s, tc);
	return test_run(s);
}
