/* SPDX-License-Identifier: MIT */
/* The state file (pyfs-state) and pyfsd.conf (pyfs-config): parsing, naming, saving. */
#include <check.h>
#include <string.h>

#include <glib/gstdio.h>

#include "pyfs-config.h"
#include "pyfs-error.h"
#include "pyfs-label.h"
#include "pyfs-state.h"
#include "test-run.h"

static char *joined(GStrv names)
{
	return g_strjoinv(" ", names);
}

/* --- the state file ------------------------------------------------------- */

START_TEST(test_parse_lines)
{
	const char data[] = "# a comment\njson\n\n  os  \n#sys\nxml.etree.ElementTree\nre";
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = pyfs_state_parse(data, strlen(data), &error);
	g_autofree char *text = NULL;

	ck_assert_ptr_nonnull(names);
	text = joined(names);
	ck_assert_str_eq(text, "json os xml.etree.ElementTree re");
}
END_TEST

START_TEST(test_parse_empty_is_a_list)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) none = pyfs_state_parse("", 0, &error);
	g_auto(GStrv) comment = pyfs_state_parse("# nothing\n\n", 11, &error);

	ck_assert_ptr_nonnull(none);
	ck_assert_uint_eq(g_strv_length(none), 0);
	ck_assert_ptr_nonnull(comment);
	ck_assert_uint_eq(g_strv_length(comment), 0);
}
END_TEST

START_TEST(test_parse_corrupt)
{
	static const struct {
		const char *data;
		gsize len;
		int code;
		const char *message;
	} cases[] = {
		{ "json\n\xff\xfe\n", 8, PYFS_ERROR_ENCODING, "Not valid UTF-8" },
		{ "json\0os\n", 8, PYFS_ERROR_ENCODING, "Contains a NUL byte" },
		{ "json\nnot-a-name\n", 16, PYFS_ERROR_INVALID_NAME, "Line 2: " },
		{ "json\nos.\n", 9, PYFS_ERROR_INVALID_NAME, "Line 2: " },
		{ "../etc\n", 7, PYFS_ERROR_INVALID_NAME, "Line 1: " },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_auto(GStrv) names = pyfs_state_parse(cases[i].data, cases[i].len, &error);

		ck_assert_msg(names == NULL, "case %zu parsed", i);
		ck_assert(g_error_matches(error, PYFS_ERROR, cases[i].code));
		ck_assert_msg(g_str_has_prefix(error->message, cases[i].message), "case %zu: %s", i,
			      error->message);
	}
}
END_TEST

START_TEST(test_parse_too_large)
{
	gsize len = PYFS_STATE_MAX + 1;
	g_autofree char *data = g_malloc(len);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = NULL;

	memset(data, '\n', len);
	names = pyfs_state_parse(data, len, &error);
	ck_assert_ptr_null(names);
	ck_assert(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE));
}
END_TEST

START_TEST(test_format_round_trip)
{
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	const char *names[] = { "json", "os", "xml.etree", NULL };
	g_autofree char *text = NULL;
	g_autofree char *back = NULL;
	g_auto(GStrv) parsed = NULL;

	pyfs_modlist_add(list, names);
	text = pyfs_state_format(list);
	ck_assert(g_str_has_prefix(text, "# "));
	ck_assert(g_str_has_suffix(text, "\njson\nos\nxml.etree\n"));
	parsed = pyfs_state_parse(text, strlen(text), NULL);
	back = joined(parsed);
	ck_assert_str_eq(back, "json os xml.etree");
}
END_TEST

START_TEST(test_path_uses_the_label)
{
	g_autofree char *inside = pyfs_state_path("/s", "/home/u/mountpoint", "/home/u");
	g_autofree char *nested = pyfs_state_path("/s", "/home/u/fuse-test/mountpoint", "/home/u/");
	g_autofree char *outside = pyfs_state_path("/s", "/tmp/x", "/home/u");
	g_autofree char *digit = pyfs_state_path("/s", "/home/u/1mnt", "/home/u");

	ck_assert_str_eq(inside, "/s/pyfs/mountpoint.modules");
	ck_assert_str_eq(nested, "/s/pyfs/fuse_2dtest_2fmountpoint.modules");
	ck_assert_str_eq(outside, "/s/pyfs/_2ftmp_2fx.modules");
	ck_assert_str_eq(digit, "/s/pyfs/_31mnt.modules");
}
END_TEST

START_TEST(test_path_long_mountpoint_fits_a_file_name)
{
	g_autoptr(GString) mountpoint = g_string_new("/home/u/");
	g_autofree char *path = NULL;
	g_autofree char *file = NULL;
	g_autofree char *other = NULL;

	for (int i = 0; i < 300; i++)
		g_string_append(mountpoint, "-");
	path = pyfs_state_path("/s", mountpoint->str, "/home/u");
	file = g_path_get_basename(path);
	ck_assert_uint_le(strlen(file), 255);
	ck_assert(g_str_has_suffix(file, ".modules"));
	/* A different long path gets a different name (the hash). */
	g_string_append(mountpoint, "x");
	other = pyfs_state_path("/s", mountpoint->str, "/home/u");
	ck_assert_str_ne(path, other);
}
END_TEST

START_TEST(test_save_and_load)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("pyfs-test-state.XXXXXX", &error);
	g_autofree char *path = g_build_filename(dir, "pyfs", "sub", "mnt.modules", NULL);
	g_autofree char *parent = g_path_get_dirname(path);
	g_autoptr(PyfsModlist) list = pyfs_modlist_new();
	const char *names[] = { "re", "json", NULL };
	g_auto(GStrv) loaded = NULL;
	g_autofree char *text = NULL;
	GStatBuf st;

	ck_assert_ptr_nonnull(dir);
	loaded = pyfs_state_load(path, &error);
	ck_assert_ptr_null(loaded);
	ck_assert(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
	g_clear_error(&error);

	pyfs_modlist_add(list, names);
	ck_assert(pyfs_state_save(path, list, &error));
	ck_assert_int_eq(g_stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(g_stat(parent, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	loaded = pyfs_state_load(path, &error);
	ck_assert_ptr_nonnull(loaded);
	text = joined(loaded);
	ck_assert_str_eq(text, "re json");

	g_unlink(path);
	g_rmdir(parent);
	g_free(parent);
	parent = g_build_filename(dir, "pyfs", NULL);
	g_rmdir(parent);
	g_rmdir(dir);
}
END_TEST

/* --- pyfsd.conf ------------------------------------------------------------ */

static PyfsConfig *parse(const char *data, GError **error)
{
	return pyfs_config_parse(data, strlen(data), "/home/u", error);
}

START_TEST(test_config_full)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsConfig) config = parse("# comment\n[pyfsd]\nmodules=re;csv ; json;\n"
					     "path=~/lib;/srv/py;~\n[other]\nx=1\n", &error);
	g_autofree char *modules = NULL;
	g_autofree char *path = NULL;

	ck_assert_ptr_nonnull(config);
	modules = joined(config->modules);
	path = g_strjoinv(":", config->path);
	ck_assert_str_eq(modules, "re csv json");
	ck_assert_str_eq(path, "/home/u/lib:/srv/py:/home/u");
	ck_assert_ptr_null(config->venv);
}
END_TEST

START_TEST(test_config_venv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsConfig) home = parse("[pyfsd]\nvenv=~/venvs/work\n", &error);
	g_autoptr(PyfsConfig) absolute = parse("[pyfsd]\nvenv= /srv/venv \n", &error);
	g_autoptr(PyfsConfig) empty = parse("[pyfsd]\nvenv=\n", &error);

	ck_assert_ptr_nonnull(home);
	ck_assert_str_eq(home->venv, "/home/u/venvs/work");
	ck_assert_ptr_nonnull(absolute);
	ck_assert_str_eq(absolute->venv, "/srv/venv");
	ck_assert_ptr_nonnull(empty);
	ck_assert_ptr_null(empty->venv);
}
END_TEST

START_TEST(test_config_absent_keys)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsConfig) empty = parse("", &error);
	g_autoptr(PyfsConfig) other = parse("[pyfsd]\nunknown=1\n", &error);

	ck_assert_ptr_nonnull(empty);
	ck_assert_ptr_null(empty->modules);
	ck_assert_ptr_nonnull(empty->path);
	ck_assert_uint_eq(g_strv_length(empty->path), 0);
	ck_assert_ptr_nonnull(other);
	ck_assert_ptr_null(other->modules);
}
END_TEST

START_TEST(test_config_empty_modules_is_empty_list)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsConfig) config = parse("[pyfsd]\nmodules=\n", &error);

	ck_assert_ptr_nonnull(config);
	ck_assert_ptr_nonnull(config->modules);
	ck_assert_uint_eq(g_strv_length(config->modules), 0);
}
END_TEST

START_TEST(test_config_invalid)
{
	static const char *const cases[] = {
		"[pyfsd]\nmodules=json;not-a-name\n",
		"[pyfsd]\npath=relative/dir\n",
		"[pyfsd]\npath=~user/dir\n",
		"this is no key file\n",
		"[pyfsd]\nmodules=js\xffon\n",
		"[pyfsd]\nvenv=venvs/work\n",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PyfsConfig) config = parse(cases[i], &error);

		ck_assert_msg(config == NULL, "case %zu parsed", i);
		ck_assert_ptr_nonnull(error);
	}
}
END_TEST

START_TEST(test_config_missing_file_is_empty)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsConfig) config = pyfs_config_load("/nonexistent/pyfsd.conf", "/home/u",
							&error);

	ck_assert_ptr_nonnull(config);
	ck_assert_ptr_null(config->modules);
}
END_TEST

/* The installed example must say what pyfsd does without it. */
START_TEST(test_config_example)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsConfig) config = pyfs_config_load(PYFS_EXAMPLE_CONF, "/home/u", &error);
	g_autofree char *modules = NULL;

	ck_assert_msg(config != NULL, "%s", error ? error->message : "");
	modules = joined(config->modules);
	ck_assert_str_eq(modules, "json os sys");
	ck_assert_uint_eq(g_strv_length(config->path), 0);
	ck_assert_ptr_null(config->venv);
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *state = tcase_create("state");
	TCase *config = tcase_create("config");

	tcase_add_test(state, test_parse_lines);
	tcase_add_test(state, test_parse_empty_is_a_list);
	tcase_add_test(state, test_parse_corrupt);
	tcase_add_test(state, test_parse_too_large);
	tcase_add_test(state, test_format_round_trip);
	tcase_add_test(state, test_path_uses_the_label);
	tcase_add_test(state, test_path_long_mountpoint_fits_a_file_name);
	tcase_add_test(state, test_save_and_load);
	tcase_add_test(config, test_config_full);
	tcase_add_test(config, test_config_absent_keys);
	tcase_add_test(config, test_config_venv);
	tcase_add_test(config, test_config_empty_modules_is_empty_list);
	tcase_add_test(config, test_config_invalid);
	tcase_add_test(config, test_config_missing_file_is_empty);
	tcase_add_test(config, test_config_example);
	suite_add_tcase(s, state);
	suite_add_tcase(s, config);
	return s;
}

int main(void)
{
	return test_run(state_suite());
}
