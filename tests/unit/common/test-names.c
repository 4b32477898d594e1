/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <string.h>

#include "pyfs-error.h"
#include "pyfs-names.h"
#include "test-run.h"

static gboolean valid(const char *name)
{
	return pyfs_name_validate(name, NULL);
}

START_TEST(test_valid_names)
{
	ck_assert(valid("os"));
	ck_assert(valid("_thread"));
	ck_assert(valid("xml.etree.ElementTree"));
	ck_assert(valid("a1.b_2"));
	ck_assert(valid("nö"));
}
END_TEST

START_TEST(test_invalid_names)
{
	g_autoptr(GError) error = NULL;

	ck_assert(!valid(""));
	ck_assert(!valid("."));
	ck_assert(!valid(".os"));
	ck_assert(!valid("os."));
	ck_assert(!valid("os..path"));
	ck_assert(!valid("a-b"));
	ck_assert(!valid("1abc"));
	ck_assert(!valid("os/path"));
	ck_assert(!valid("os path"));
	ck_assert(!valid("a.1b"));
	ck_assert(!pyfs_name_validate("a-b", &error));
	ck_assert(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME));
}
END_TEST

START_TEST(test_name_length)
{
	g_autofree char *longest = g_strnfill(PYFS_NAME_MAX, 'a');
	g_autofree char *too_long = g_strnfill(PYFS_NAME_MAX + 1, 'a');

	ck_assert(valid(longest));
	ck_assert(!valid(too_long));
}
END_TEST

START_TEST(test_name_encoding)
{
	g_autoptr(GError) error = NULL;

	ck_assert(!pyfs_name_validate("\xff\xfe", &error));
	ck_assert(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_ENCODING));
}
END_TEST

START_TEST(test_parse_lines_and_words)
{
	const char input[] = "json\nos  sys\tre\r\n\n";
	g_auto(GStrv) names = pyfs_names_parse(input, strlen(input), NULL);
	const char *const expected[] = { "json", "os", "sys", "re", NULL };

	ck_assert_ptr_nonnull(names);
	ck_assert(g_strv_equal((const char *const *)names, expected));
}
END_TEST

START_TEST(test_parse_empty)
{
	g_auto(GStrv) names = pyfs_names_parse("", 0, NULL);
	g_auto(GStrv) blank = pyfs_names_parse(" \n\n", 3, NULL);

	ck_assert_ptr_nonnull(names);
	ck_assert_int_eq(g_strv_length(names), 0);
	ck_assert_int_eq(g_strv_length(blank), 0);
}
END_TEST

START_TEST(test_parse_not_nul_terminated)
{
	const char input[] = { 'o', 's', '\n', 's', 'y', 's' };
	g_auto(GStrv) names = pyfs_names_parse(input, 3, NULL);

	ck_assert_int_eq(g_strv_length(names), 1);
	ck_assert_str_eq(names[0], "os");
}
END_TEST

/* The names as written: the registry validates them, once for both paths. */
START_TEST(test_parse_leaves_names_to_the_registry)
{
	const char input[] = "os\nsys\na-b\n";
	g_auto(GStrv) names = pyfs_names_parse(input, strlen(input), NULL);
	const char *const expected[] = { "os", "sys", "a-b", NULL };

	ck_assert_ptr_nonnull(names);
	ck_assert(g_strv_equal((const char *const *)names, expected));
}
END_TEST

START_TEST(test_parse_bad_bytes)
{
	const char nul[] = "os\0sys\n";
	const char latin1[] = "caf\xe9\n";
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	g_autofree char *huge = g_strnfill(PYFS_WRITE_MAX + 1, 'a');

	ck_assert_ptr_null(pyfs_names_parse(nul, sizeof(nul) - 1, &e1));
	ck_assert(g_error_matches(e1, PYFS_ERROR, PYFS_ERROR_ENCODING));
	ck_assert_ptr_null(pyfs_names_parse(latin1, strlen(latin1), &e2));
	ck_assert(g_error_matches(e2, PYFS_ERROR, PYFS_ERROR_ENCODING));
	ck_assert_ptr_null(pyfs_names_parse(huge, strlen(huge), &e3));
	ck_assert(g_error_matches(e3, PYFS_ERROR, PYFS_ERROR_TOO_LARGE));
}
END_TEST

START_TEST(test_attr_to_file)
{
	struct {
		const char *attr, *file;
	} cases[] = {
		{ "join", "join" },
		{ "_exit", "._exit" },
		{ "__name__", "__name__" },
		{ "__", ".__" },
		{ "___", ".___" },
		{ "_", "._" },
		{ "", NULL },
		{ ".hidden", NULL },
		{ "a/b", NULL },
		{ "a\nb", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *file = pyfs_name_attr_to_file(cases[i].attr);

		if (cases[i].file == NULL)
			ck_assert_ptr_null(file);
		else
			ck_assert_str_eq(file, cases[i].file);
	}
}
END_TEST

START_TEST(test_file_to_attr)
{
	struct {
		const char *file, *attr;
	} cases[] = {
		{ "join", "join" },
		{ "._exit", "_exit" },
		{ "_exit", "_exit" },
		{ "__name__", "__name__" },
		{ ".join", NULL },
		{ ".__name__", NULL },
		{ "", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *attr = pyfs_name_file_to_attr(cases[i].file);

		if (cases[i].attr == NULL)
			ck_assert_ptr_null(attr);
		else
			ck_assert_str_eq(attr, cases[i].attr);
	}
}
END_TEST

START_TEST(test_round_trip)
{
	const char *attrs[] = { "x", "_x", "__x__", "__", "_", "__init__", "a_b" };

	for (gsize i = 0; i < G_N_ELEMENTS(attrs); i++) {
		g_autofree char *file = pyfs_name_attr_to_file(attrs[i]);
		g_autofree char *back = pyfs_name_file_to_attr(file);

		ck_assert_str_eq(back, attrs[i]);
	}
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *validate = tcase_create("validate");
	TCase *parse = tcase_create("parse");
	TCase *files = tcase_create("files");

	tcase_add_test(validate, test_valid_names);
	tcase_add_test(validate, test_invalid_names);
	tcase_add_test(validate, test_name_length);
	tcase_add_test(validate, test_name_encoding);
	tcase_add_test(parse, test_parse_lines_and_words);
	tcase_add_test(parse, test_parse_empty);
	tcase_add_test(parse, test_parse_not_nul_terminated);
	tcase_add_test(parse, test_parse_leaves_names_to_the_registry);
	tcase_add_test(parse, test_parse_bad_bytes);
	tcase_add_test(files, test_attr_to_file);
	tcase_add_test(files, test_file_to_attr);
	tcase_add_test(files, test_round_trip);
	suite_add_tcase(s, validate);
	suite_add_tcase(s, parse);
	suite_add_tcase(s, files);
	return s;
}

int main(void)
{
	return test_run(names_suite());
}
