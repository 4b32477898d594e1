// SPDX-License-Identifier: MIT
/*
 * fuzz-callargs: what the pyfs-call dispatcher reads (src/call/pyfs-callargs.h).
 * The input is both a script file (the header parser) and a command line
 * (NUL-separated arguments, as argv arrives); every invariant the runner
 * protocol relies on is asserted. Scripts pyfsd writes for the parsed
 * target must parse back to it (pyfs-script.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyfs-callargs.h"
#include "pyfs-script.h"

/* What the runner protocol items start with (pyfs_call_runner_items()). */
static const char *const item_prefixes[] = {
	"script=", "module=", "attr=", "dot=", "kw=", "flag=", "noflag=", "arg=", NULL,
};

static gboolean is_dotted_identifier(const char *name)
{
	g_auto(GStrv) parts = g_strsplit(name, ".", -1);

	for (char **p = parts; *p; p++)
		if (!pyfs_call_is_identifier(*p))
			return FALSE;
	return parts[0] != NULL;
}

static void check_script(const PyfsCallScript *script)
{
	/* Exactly one target: a module with attributes, or a dot name. */
	g_assert_true((script->module == NULL) != (script->dot == NULL));
	g_assert_nonnull(script->attributes);
	if (script->module != NULL) {
		g_assert_true(is_dotted_identifier(script->module));
		g_assert_cmpuint(script->attributes->len, >, 0);
	} else {
		g_assert_cmpuint(strlen(script->dot), >, 0);
		g_assert_cmpuint(script->attributes->len, ==, 0);
	}
	for (guint i = 0; i < script->attributes->len; i++) {
		const char *attr = script->attributes->pdata[i];

		g_assert_cmpuint(strlen(attr), >, 0);
		g_assert_null(strchr(attr, '\n'));
		g_assert_true(g_utf8_validate(attr, -1, NULL));
	}
}

/* The script pyfsd serves for @script's target reads back as that target. */
static void check_round_trip(const PyfsCallScript *script)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCallScript) again = NULL;
	g_autofree char *text = NULL;

	if (script->module != NULL) {
		g_autofree const char **attrs = g_new0(const char *, script->attributes->len + 1);

		for (guint i = 0; i < script->attributes->len; i++)
			attrs[i] = script->attributes->pdata[i];
		text = pyfs_script_for_call(script->module, attrs, NULL);
	} else {
		text = pyfs_script_for_dot(script->dot, NULL);
	}
	again = pyfs_call_script_parse(text, strlen(text), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again->module, ==, script->module);
	g_assert_cmpstr(again->dot, ==, script->dot);
	g_assert_cmpuint(again->attributes->len, ==, script->attributes->len);
	for (guint i = 0; i < script->attributes->len; i++)
		g_assert_cmpstr(again->attributes->pdata[i], ==, script->attributes->pdata[i]);
}

static void check_args(int argc, const char *const *argv, const PyfsCallArgs *args)
{
	int first_dash = -1;

	g_assert_cmpuint(args->kw_names->len, ==, args->kw_values->len);
	g_assert_cmpuint(args->kw_names->len, ==, args->kw_forms->len);
	g_assert_cmpuint(args->kw_names->len + args->positional->len, <=, (guint)argc);
	for (guint i = 0; i < args->kw_names->len; i++) {
		PyfsCallKwForm form = g_array_index(args->kw_forms, PyfsCallKwForm, i);

		g_assert_true(pyfs_call_is_identifier(args->kw_names->pdata[i]));
		/* A value exactly for --NAME=VALUE, none for a flag. */
		g_assert_true((form == PYFS_CALL_KW_VALUE) == (args->kw_values->pdata[i] != NULL));
		g_assert_true(form == PYFS_CALL_KW_VALUE || form == PYFS_CALL_KW_FLAG ||
			      form == PYFS_CALL_KW_NO_FLAG);
		for (guint j = 0; j < i; j++)
			g_assert_cmpstr(args->kw_names->pdata[i], !=, args->kw_names->pdata[j]);
	}
	/* Positional arguments keep their order and bytes: they are the
	 * last positional->len arguments, unchanged. */
	for (guint i = 0; i < args->positional->len; i++) {
		const char *arg = args->positional->pdata[i];

		g_assert_cmpstr(arg, ==, argv[argc - args->positional->len + i]);
		if (first_dash < 0 && strcmp(arg, "-") == 0)
			first_dash = i;
	}
	g_assert_cmpint(args->stdin_slot, ==, first_dash);
}

static void check_items(const PyfsCallScript *script, const PyfsCallArgs *args)
{
	g_autoptr(GPtrArray) items = pyfs_call_runner_items("/fuzz/script", script, args);
	guint expected = 1 + (script->module ? 1 + script->attributes->len : 1) +
			 (args->help ? 1 : 0) + args->kw_names->len + args->positional->len;

	g_assert_cmpuint(items->len, ==, expected);
	for (guint i = 0; i < items->len; i++) {
		const char *item = items->pdata[i];
		gboolean known = strcmp(item, "help") == 0 || strcmp(item, "stdin") == 0;

		for (const char *const *p = item_prefixes; !known && *p; p++)
			known = g_str_has_prefix(item, *p);
		g_assert_true(known);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = memcpy(malloc(size), data, size);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(PyfsCallScript) script = NULL;
	g_autoptr(PyfsCallArgs) args = NULL;
	g_autoptr(GError) error = NULL;

	script = pyfs_call_script_parse(text, size, &error);
	if (script != NULL) {
		g_assert_no_error(error);
		check_script(script);
		check_round_trip(script);
	} else {
		g_assert_nonnull(error);
		g_assert_true(g_error_matches(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_SCRIPT));
		g_clear_error(&error);
	}

	/* argv: the input split at its NUL bytes, as execve() delivers it. */
	for (size_t start = 0; start <= size;) {
		const char *end = memchr(data + start, '\0', size - start);
		size_t len = end ? (size_t)((const uint8_t *)end - data) - start : size - start;

		g_ptr_array_add(argv, g_strndup((const char *)data + start, len));
		start += len + 1;
	}
	g_ptr_array_set_free_func(argv, g_free);
	g_ptr_array_add(argv, NULL);
	args = pyfs_call_args_parse(argv->len - 1, (const char *const *)argv->pdata, &error);
	if (args == NULL) {
		g_assert_nonnull(error);
		g_assert_true(g_error_matches(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_USAGE));
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		return 0;
	}
	g_assert_no_error(error);
	check_args(argv->len - 1, (const char *const *)argv->pdata, args);
	if (script != NULL)
		check_items(script, args);
	return 0;
}
