// SPDX-License-Identifier: MIT
/*
 * fuzz-names: what a writer of run/modules controls, and the file names the
 * kernel hands to lookup (pyfs-names.h). The input is parsed as a write to
 * run/modules, validated as one module name, and mapped both ways between
 * attribute and file names; every invariant the rest of pyfsd relies on is
 * asserted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyfs-callargs.h"
#include "pyfs-error.h"
#include "pyfs-names.h"
#include "pyfs-script.h"

/* Everything pyfs_names_parse() splits on. */
#define SPACES " \t\n\r\v\f"

/* A parsed list, joined one name per line as `printf '%s\n'` writes it. */
static char *join_lines(char **names)
{
	g_autoptr(GString) text = g_string_new(NULL);

	for (char **n = names; *n; n++) {
		g_string_append(text, *n);
		g_string_append_c(text, '\n');
	}
	return g_string_free(g_steal_pointer(&text), FALSE);
}

static void check_parse(const char *buf, size_t len)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = pyfs_names_parse(buf, len, &error);
	g_auto(GStrv) again = NULL;
	g_autofree char *joined = NULL;

	if (names == NULL) {
		g_assert_nonnull(error);
		g_assert_true(error->domain == PYFS_ERROR);
		g_assert_true(error->code == PYFS_ERROR_ENCODING ||
			      error->code == PYFS_ERROR_TOO_LARGE);
		return;
	}
	g_assert_null(error);
	g_assert_true(len <= PYFS_WRITE_MAX);
	for (char **n = names; *n; n++) {
		/* Every name is a word as written (whether it is a module name
		 * is the registry's to say, for the file and D-Bus alike)... */
		g_assert_cmpuint(strlen(*n), >, 0);
		g_assert_null(strpbrk(*n, SPACES));
		g_assert_true(g_utf8_validate(*n, -1, NULL));
		/* ...and parses back as exactly itself. */
		{
			g_auto(GStrv) one = pyfs_names_parse(*n, strlen(*n), NULL);

			g_assert_nonnull(one);
			g_assert_cmpuint(g_strv_length(one), ==, 1);
			g_assert_cmpstr(one[0], ==, *n);
		}
	}
	/* The list written back one per line (cat run/modules) reads the same. */
	joined = join_lines(names);
	again = pyfs_names_parse(joined, strlen(joined), &error);
	g_assert_no_error(error);
	g_assert_true(g_strv_equal((const char *const *)names, (const char *const *)again));
}

static void check_validate(const char *name)
{
	g_autoptr(GError) error = NULL;

	if (!pyfs_name_validate(name, &error)) {
		g_assert_nonnull(error);
		g_assert_true(error->domain == PYFS_ERROR);
		g_assert_true(error->code == PYFS_ERROR_INVALID_NAME ||
			      error->code == PYFS_ERROR_ENCODING);
		/* A refusal message is shown to users and logged: UTF-8. */
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		return;
	}
	g_assert_true(g_utf8_validate(name, -1, NULL));
	g_assert_cmpuint(strlen(name), >, 0);
	g_assert_cmpuint(strlen(name), <=, PYFS_NAME_MAX);
	g_assert_true(name[0] != '.' && name[strlen(name) - 1] != '.');
	g_assert_null(strstr(name, ".."));
	g_assert_null(strpbrk(name, SPACES "/"));
}

/*
 * The executable file of attribute @attr names it exactly: pyfs-call reads
 * back the attribute pyfsd wrote (attribute names are UTF-8: they come
 * from PyUnicode_AsUTF8() or from a valid file name).
 */
static void check_script_names(const char *attr)
{
	const char *const attrs[] = { attr, NULL };
	g_autofree char *text = NULL;
	g_autoptr(PyfsCallScript) script = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_utf8_validate(attr, -1, NULL))
		return;
	text = pyfs_script_for_call("fuzz", attrs, NULL);
	script = pyfs_call_script_parse(text, strlen(text), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(script->module, ==, "fuzz");
	g_assert_cmpuint(script->attributes->len, ==, 1);
	g_assert_cmpstr(script->attributes->pdata[0], ==, attr);
}

static void check_mapping(const char *name)
{
	g_autofree char *file = pyfs_name_attr_to_file(name);
	g_autofree char *attr = pyfs_name_file_to_attr(name);

	if (file != NULL) {
		g_autofree char *back = pyfs_name_file_to_attr(file);

		/* A listed file name is a usable one... */
		g_assert_cmpuint(strlen(file), >, 0);
		g_assert_cmpuint(strlen(file), <=, PYFS_NAME_MAX);
		g_assert_null(strpbrk(file, "/\n\r"));
		g_assert_true(strcmp(file, ".") != 0 && strcmp(file, "..") != 0);
		/* ...hidden exactly when private and not a dunder... */
		g_assert_true((file[0] == '.') ==
			      (name[0] == '_' && !pyfs_name_is_dunder(name)));
		/* ...and looking it up finds the attribute it lists. */
		g_assert_nonnull(back);
		g_assert_cmpstr(back, ==, name);
		check_script_names(name);
	}
	if (attr != NULL) {
		g_autofree char *listed = pyfs_name_attr_to_file(attr);

		g_assert_cmpuint(strlen(attr), >, 0);
		g_assert_true(attr[0] != '.');
		g_assert_true(g_utf8_validate(attr, -1, NULL));
		check_script_names(attr);
		/* A file name that finds an attribute is its listed name, or its
		 * plain name when that one is hidden ("_exit" for "._exit"). */
		if (listed != NULL)
			g_assert_true(strcmp(listed, name) == 0 ||
				      (listed[0] == '.' && strcmp(listed + 1, name) == 0));
	}
	if (pyfs_name_is_dunder(name)) {
		g_assert_true(strlen(name) > 4);
		if (file != NULL)
			g_assert_cmpstr(file, ==, name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As a write(2) carries it: exactly @size bytes, not NUL-terminated
	 * (malloc, not g_malloc: a zero-byte write still has a buffer). */
	g_autofree char *buf = memcpy(malloc(size), data, size);
	/* As a C string: up to the first NUL, as names reach pyfsd from the
	 * kernel and from D-Bus. */
	g_autofree char *name = g_strndup((const char *)data, size);

	check_parse(buf, size);
	check_validate(name);
	check_mapping(name);
	return 0;
}
