// SPDX-License-Identifier: MIT
/*
 * test-callargs: the call command line (README, "Executables"), the
 * script header and the runner protocol, as pyfs-call and pyfsd both see
 * them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pyfs-callargs.h"
#include "test-run.h"

#define EXAMPLE_SCRIPT \
	"#!/usr/libexec/pyfs/pyfs-call\n" \
	"# posixpath.join: a Python callable served by pyfs.\n" \
	"# Running this file calls it with the arguments and prints the result;\n" \
	"# run it with --help for its signature and documentation (see pyfsd(1)).\n" \
	"# pyfs-module: posixpath\n" \
	"# pyfs-attribute: join\n"

/* argv is NULL-terminated here, for brevity; the parser takes a count. */
static PyfsCallArgs *parse(const char *const *argv, GError **error)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return pyfs_call_args_parse(argc, argv, error);
}

static PyfsCallArgs *parse_ok(const char *const *argv)
{
	g_autoptr(GError) error = NULL;
	PyfsCallArgs *args = parse(argv, &error);

	ck_assert_msg(args != NULL, "unexpected error: %s", error ? error->message : "?");
	ck_assert_ptr_null(error);
	return args;
}

static void parse_usage_error(const char *const *argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCallArgs) args = parse(argv, &error);

	ck_assert_ptr_null(args);
	ck_assert_msg(g_error_matches(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_USAGE),
		      "expected a usage error for '%s'", argv[0]);
	ck_assert(g_utf8_validate(error->message, -1, NULL));
}

static void assert_positional(const PyfsCallArgs *args, const char *const *expected)
{
	guint n = g_strv_length((char **)expected);

	ck_assert_uint_eq(args->positional->len, n);
	for (guint i = 0; i < n; i++)
		ck_assert_str_eq(args->positional->pdata[i], expected[i]);
}

static void assert_keyword(const PyfsCallArgs *args, guint i, const char *name,
			   const char *value)
{
	ck_assert_uint_gt(args->kw_names->len, i);
	ck_assert_uint_eq(args->kw_names->len, args->kw_values->len);
	ck_assert_uint_eq(args->kw_names->len, args->kw_forms->len);
	ck_assert_str_eq(args->kw_names->pdata[i], name);
	ck_assert_int_eq(g_array_index(args->kw_forms, PyfsCallKwForm, i), PYFS_CALL_KW_VALUE);
	ck_assert_str_eq(args->kw_values->pdata[i], value);
}

static void assert_flag(const PyfsCallArgs *args, guint i, const char *name,
			PyfsCallKwForm form)
{
	ck_assert_uint_gt(args->kw_names->len, i);
	ck_assert_uint_eq(args->kw_names->len, args->kw_forms->len);
	ck_assert_str_eq(args->kw_names->pdata[i], name);
	ck_assert_int_eq(g_array_index(args->kw_forms, PyfsCallKwForm, i), form);
	ck_assert_ptr_null(args->kw_values->pdata[i]);
}

START_TEST(test_empty)
{
	g_autoptr(PyfsCallArgs) args = pyfs_call_args_parse(0, NULL, NULL);

	ck_assert_ptr_nonnull(args);
	ck_assert(!args->help);
	ck_assert_uint_eq(args->positional->len, 0);
	ck_assert_uint_eq(args->kw_names->len, 0);
	ck_assert_int_eq(args->stdin_slot, -1);
}
END_TEST

START_TEST(test_positional_raw)
{
	/* JSON decoding is the runner's: values stay exactly as given. */
	const char *argv[] = { "/this/is/a", "2", "[1,2]", "\"x\"", "", " true ", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	assert_positional(args, argv);
	ck_assert(!args->help);
	ck_assert_int_eq(args->stdin_slot, -1);
}
END_TEST

START_TEST(test_help)
{
	const char *short_[] = { "-h", NULL };
	const char *long_[] = { "--help", NULL };
	const char *after_kw[] = { "--indent=2", "-h", NULL };
	const char *with_pos[] = { "--help", "x", NULL };
	g_autoptr(PyfsCallArgs) a = parse_ok(short_);
	g_autoptr(PyfsCallArgs) b = parse_ok(long_);
	g_autoptr(PyfsCallArgs) c = parse_ok(after_kw);
	g_autoptr(PyfsCallArgs) d = parse_ok(with_pos);

	ck_assert(a->help && b->help && c->help && d->help);
	ck_assert_uint_eq(a->positional->len, 0);
	assert_keyword(c, 0, "indent", "2");
	ck_assert_uint_eq(d->positional->len, 1);
}
END_TEST

START_TEST(test_help_after_positional)
{
	const char *argv[] = { "x", "-h", "--help", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert(!args->help);
	assert_positional(args, argv);
}
END_TEST

START_TEST(test_double_dash)
{
	const char *argv[] = { "--", "-h", "--x=1", "--", NULL };
	const char *expected[] = { "-h", "--x=1", "--", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert(!args->help);
	ck_assert_uint_eq(args->kw_names->len, 0);
	assert_positional(args, expected);
}
END_TEST

START_TEST(test_double_dash_after_positional)
{
	/* Options end at the first positional: a later "--" is a value. */
	const char *argv[] = { "a", "--", "b", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	assert_positional(args, argv);
}
END_TEST

START_TEST(test_keywords)
{
	const char *argv[] = { "--indent=2", "--sort_keys=true", "--sep=", "--s=a=b", "--_x=1",
			       "--\xc3\xa9t\xc3\xa9=\"summer\"", "--class=1", "pos", "--late=1",
			       NULL };
	const char *expected[] = { "pos", "--late=1", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert_uint_eq(args->kw_names->len, 7);
	assert_keyword(args, 0, "indent", "2");
	assert_keyword(args, 1, "sort_keys", "true");
	assert_keyword(args, 2, "sep", "");
	assert_keyword(args, 3, "s", "a=b");
	assert_keyword(args, 4, "_x", "1");
	assert_keyword(args, 5, "\xc3\xa9t\xc3\xa9", "\"summer\"");
	/* A keyword of the language still works through **kwargs. */
	assert_keyword(args, 6, "class", "1");
	assert_positional(args, expected);
}
END_TEST

START_TEST(test_bad_keywords)
{
	static const char *const bad[] = {
		"--=x", "--1a=b", "--a-b=1", "---a=1", "--a b=1", "--a.b=1", "--\xff=1",
		"--a\xff=1", "--\xe2\x82\xac=1", "--a-b", "--1a", "---a", "--no-", "--no-1",
		"--no-a-b", "--no-no-a", "--no-a=1", "--no-a=", "--no-\xff", "--a\xff",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		const char *argv[] = { bad[i], "x", NULL };

		parse_usage_error(argv);
	}
}
END_TEST

START_TEST(test_flags)
{
	/* Whether a flag fits the parameter is the runner's to decide. */
	const char *argv[] = { "--loud", "--no-quiet", "--no_x", "--n=1", "--\xc3\xa9t\xc3\xa9",
			       "--no-class", "pos", "--late", NULL };
	const char *expected[] = { "pos", "--late", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert_uint_eq(args->kw_names->len, 6);
	assert_flag(args, 0, "loud", PYFS_CALL_KW_FLAG);
	assert_flag(args, 1, "quiet", PYFS_CALL_KW_NO_FLAG);
	assert_flag(args, 2, "no_x", PYFS_CALL_KW_FLAG);
	assert_keyword(args, 3, "n", "1");
	assert_flag(args, 4, "\xc3\xa9t\xc3\xa9", PYFS_CALL_KW_FLAG);
	assert_flag(args, 5, "class", PYFS_CALL_KW_NO_FLAG);
	assert_positional(args, expected);
}
END_TEST

START_TEST(test_help_is_no_flag)
{
	const char *argv[] = { "--help", "--no-help", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert(args->help);
	assert_flag(args, 0, "help", PYFS_CALL_KW_NO_FLAG);
}
END_TEST

START_TEST(test_keyword_twice)
{
	static const char *const twice[][2] = {
		{ "--a=1", "--a=2" }, { "--a", "--a" }, { "--a", "--no-a" }, { "--no-a", "--a=1" },
		{ "--a=1", "--no-a" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(twice); i++) {
		const char *argv[] = { twice[i][0], twice[i][1], NULL };

		parse_usage_error(argv);
	}
}
END_TEST

START_TEST(test_stdin_slot)
{
	const char *argv[] = { "a", "-", "b", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	assert_positional(args, argv);
	ck_assert_int_eq(args->stdin_slot, 1);
}
END_TEST

START_TEST(test_stdin_slot_twice)
{
	/* Only the first "-" reads stdin; the second is the string "-". */
	const char *argv[] = { "-", "-", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	assert_positional(args, argv);
	ck_assert_int_eq(args->stdin_slot, 0);
}
END_TEST

START_TEST(test_stdin_slot_ends_options)
{
	const char *argv[] = { "--sep=,", "-", "--x=1", "-h", NULL };
	const char *expected[] = { "-", "--x=1", "-h", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert(!args->help);
	assert_keyword(args, 0, "sep", ",");
	assert_positional(args, expected);
	ck_assert_int_eq(args->stdin_slot, 0);
}
END_TEST

START_TEST(test_stdin_slot_after_double_dash)
{
	const char *argv[] = { "--", "x", "-", NULL };
	const char *expected[] = { "x", "-", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	assert_positional(args, expected);
	ck_assert_int_eq(args->stdin_slot, 1);
}
END_TEST

START_TEST(test_negative_numbers)
{
	const char *argv[] = { "-5", "-1.5e3", "-x", "-h", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	ck_assert(!args->help);
	assert_positional(args, argv);
	ck_assert_int_eq(args->stdin_slot, -1);
}
END_TEST

START_TEST(test_non_utf8)
{
	const char *argv[] = { "--a=\xff\xfe", "\xff", "caf\xe9", NULL };
	const char *expected[] = { "\xff", "caf\xe9", NULL };
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);

	assert_keyword(args, 0, "a", "\xff\xfe");
	assert_positional(args, expected);
}
END_TEST

START_TEST(test_identifier)
{
	ck_assert(pyfs_call_is_identifier("a"));
	ck_assert(pyfs_call_is_identifier("_"));
	ck_assert(pyfs_call_is_identifier("__init__"));
	ck_assert(pyfs_call_is_identifier("a1"));
	ck_assert(pyfs_call_is_identifier("\xc3\xa9t\xc3\xa9"));	/* été */
	ck_assert(pyfs_call_is_identifier("\xe5\x90\x8d"));		/* 名 */
	ck_assert(!pyfs_call_is_identifier(NULL));
	ck_assert(!pyfs_call_is_identifier(""));
	ck_assert(!pyfs_call_is_identifier("1a"));
	ck_assert(!pyfs_call_is_identifier("a.b"));
	ck_assert(!pyfs_call_is_identifier("a-b"));
	ck_assert(!pyfs_call_is_identifier("a b"));
	ck_assert(!pyfs_call_is_identifier("\xe2\x82\xac"));		/* € */
	ck_assert(!pyfs_call_is_identifier("\xff"));
}
END_TEST

static PyfsCallScript *script_ok(const char *text)
{
	g_autoptr(GError) error = NULL;
	PyfsCallScript *script = pyfs_call_script_parse(text, strlen(text), &error);

	ck_assert_msg(script != NULL, "unexpected error: %s", error ? error->message : "?");
	return script;
}

static void script_bad(const char *text, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCallScript) script = pyfs_call_script_parse(text, len, &error);

	ck_assert_msg(script == NULL, "accepted '%s'", text);
	ck_assert_msg(g_error_matches(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_SCRIPT),
		      "expected a script error for '%s'", text);
}

START_TEST(test_script_example)
{
	g_autoptr(PyfsCallScript) script = script_ok(EXAMPLE_SCRIPT);

	ck_assert_str_eq(script->module, "posixpath");
	ck_assert_uint_eq(script->attributes->len, 1);
	ck_assert_str_eq(script->attributes->pdata[0], "join");
	ck_assert_ptr_null(script->dot);
}
END_TEST

START_TEST(test_script_chain_and_unknown_keys)
{
	g_autoptr(PyfsCallScript) script = script_ok(
		"#!/x/pyfs-call\r\n"
		"# pyfs-module:  xml.etree.ElementTree \r\n"
		"# pyfs-socket: /run/user/0/pyfs/call.sock\r\n"
		"# pyfs-attribute: ElementTree\r\n"
		"# pyfs-future-key: whatever\n"
		"# pyfs-attribute:write\n"
		"# pyfs-module is a header key\n"
		"# pyfs-attribute: no newline at the end");

	ck_assert_str_eq(script->module, "xml.etree.ElementTree");
	ck_assert_uint_eq(script->attributes->len, 3);
	ck_assert_str_eq(script->attributes->pdata[0], "ElementTree");
	ck_assert_str_eq(script->attributes->pdata[1], "write");
	ck_assert_str_eq(script->attributes->pdata[2], "no newline at the end");
}
END_TEST

START_TEST(test_script_dot)
{
	g_autoptr(PyfsCallScript) script = script_ok("#!/x/pyfs-call\n# pyfs-dot: split\n");

	ck_assert_ptr_null(script->module);
	ck_assert_uint_eq(script->attributes->len, 0);
	ck_assert_str_eq(script->dot, "split");
}
END_TEST

START_TEST(test_script_length_bounds_text)
{
	/* Only len bytes count: the rest of the buffer is never looked at. */
	const char *text = "# pyfs-module: os\n# pyfs-attribute: getcwd\n# pyfs-attribute: x";
	gsize len = strlen(text) - strlen("# pyfs-attribute: x");
	g_autoptr(PyfsCallScript) script = pyfs_call_script_parse(text, len, NULL);

	ck_assert_ptr_nonnull(script);
	ck_assert_uint_eq(script->attributes->len, 1);
	ck_assert_str_eq(script->attributes->pdata[0], "getcwd");
}
END_TEST

START_TEST(test_script_malformed)
{
	static const char *const bad[] = {
		"",
		"#!/bin/sh\necho hello\n",
		"# pyfs-attribute: join\n",
		"# pyfs-module: posixpath\n",
		"# pyfs-module: posixpath\n# pyfs-module: os\n# pyfs-attribute: join\n",
		"# pyfs-module: os..path\n# pyfs-attribute: join\n",
		"# pyfs-module: 1os\n# pyfs-attribute: join\n",
		"# pyfs-module:\n# pyfs-attribute: join\n",
		"# pyfs-module: os\n# pyfs-attribute: \n",
		"# pyfs-dot: split\n# pyfs-module: os\n# pyfs-attribute: join\n",
		"# pyfs-dot: split\n# pyfs-attribute: join\n",
		"# pyfs-dot: split\n# pyfs-dot: strip\n",
		"# pyfs-dot:\n",
		"# pyfs-module: os\xff\n# pyfs-attribute: getcwd\n",
	};
	static const char nul[] = "# pyfs-module: os\n\0# pyfs-attribute: getcwd\n";

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		script_bad(bad[i], strlen(bad[i]));
	/* A NUL byte: not a text file, whatever follows. */
	script_bad(nul, sizeof(nul) - 1);
}
END_TEST

static void assert_items(GPtrArray *items, const char *const *expected)
{
	guint n = g_strv_length((char **)expected);

	ck_assert_uint_eq(items->len, n);
	for (guint i = 0; i < n; i++)
		ck_assert_str_eq(items->pdata[i], expected[i]);
}

START_TEST(test_runner_items)
{
	const char *argv[] = { "--sep=,", "--loud", "--indent=2", "--no-quiet", "a b", "-", "-",
			       "x=y", NULL };
	const char *expected[] = {
		"script=lib/string/capwords", "module=string", "attr=capwords", "kw=sep=,",
		"flag=loud", "kw=indent=2", "noflag=quiet", "arg=a b", "stdin", "arg=-", "arg=x=y",
		NULL,
	};
	g_autoptr(PyfsCallScript) script = script_ok(
		"# pyfs-module: string\n# pyfs-attribute: capwords\n");
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);
	g_autoptr(GPtrArray) items = pyfs_call_runner_items("lib/string/capwords", script, args);

	assert_items(items, expected);
}
END_TEST

START_TEST(test_runner_items_dot_help)
{
	const char *argv[] = { "-h", NULL };
	const char *expected[] = { "script=dot/split", "dot=split", "help", NULL };
	g_autoptr(PyfsCallScript) script = script_ok("# pyfs-dot: split\n");
	g_autoptr(PyfsCallArgs) args = parse_ok(argv);
	g_autoptr(GPtrArray) items = pyfs_call_runner_items("dot/split", script, args);

	assert_items(items, expected);
}
END_TEST

static Suite *callargs_suite(void)
{
	Suite *s = suite_create("callargs");
	TCase *args = tcase_create("args");
	TCase *script = tcase_create("script");
	TCase *runner = tcase_create("runner");

	tcase_add_test(args, test_empty);
	tcase_add_test(args, test_positional_raw);
	tcase_add_test(args, test_help);
	tcase_add_test(args, test_help_after_positional);
	tcase_add_test(args, test_double_dash);
	tcase_add_test(args, test_double_dash_after_positional);
	tcase_add_test(args, test_keywords);
	tcase_add_test(args, test_bad_keywords);
	tcase_add_test(args, test_flags);
	tcase_add_test(args, test_help_is_no_flag);
	tcase_add_test(args, test_keyword_twice);
	tcase_add_test(args, test_stdin_slot);
	tcase_add_test(args, test_stdin_slot_twice);
	tcase_add_test(args, test_stdin_slot_ends_options);
	tcase_add_test(args, test_stdin_slot_after_double_dash);
	tcase_add_test(args, test_negative_numbers);
	tcase_add_test(args, test_non_utf8);
	tcase_add_test(args, test_identifier);
	suite_add_tcase(s, args);

	tcase_add_test(script, test_script_example);
	tcase_add_test(script, test_script_chain_and_unknown_keys);
	tcase_add_test(script, test_script_dot);
	tcase_add_test(script, test_script_length_bounds_text);
	tcase_add_test(script, test_script_malformed);
	suite_add_tcase(s, script);

	tcase_add_test(runner, test_runner_items);
	tcase_add_test(runner, test_runner_items_dot_help);
	suite_add_tcase(s, runner);
	return s;
}

int main(void)
{
	return test_run(callargs_suite());
}
