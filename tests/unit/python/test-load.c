/* SPDX-License-Identifier: MIT */
/*
 * Loading a module from bytecode built for this interpreter, or from its
 * source when the bytecode is not this interpreter's; and the runner's
 * bytecode as the build made it.
 */
#include "pyfs-python.h"

#include <check.h>
#include <marshal.h>
#include <string.h>

#include "pyfs-callargs.h"
#include "pyfs-runner-code.h"
#include "test-run.h"

/* What @source compiles to, as embed-runner.py writes it: the running
 * interpreter's magic number, then the marshalled code. */
static GByteArray *compiled(const char *source)
{
	long magic = PyImport_GetMagicNumber();
	const guint8 prefix[4] = {
		magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, (magic >> 24) & 0xff,
	};
	PYFS_PYREF code = Py_CompileString(source, "test_loaded", Py_file_input);
	PYFS_PYREF data = code ? PyMarshal_WriteObjectToString(code, Py_MARSHAL_VERSION) : NULL;
	GByteArray *out = g_byte_array_new();

	ck_assert_ptr_nonnull(data);
	g_byte_array_append(out, prefix, sizeof(prefix));
	g_byte_array_append(out, (const guint8 *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
	return out;
}

/* The module's "origin" after loading it from @code, or from @source. */
static char *origin_of(const guint8 *code, gsize code_size)
{
	g_autoptr(GError) error = NULL;
	PYFS_PYREF module = pyfs_python_load_module("test_loaded", "origin = 'source'\n", code,
						    code_size, &error);
	PYFS_PYREF origin = NULL;

	ck_assert_msg(module != NULL, "%s", error ? error->message : "");
	origin = PyObject_GetAttrString(module, "origin");
	ck_assert_ptr_nonnull(origin);
	return g_strdup(PyUnicode_AsUTF8(origin));
}

START_TEST(test_bytecode_of_this_interpreter_is_run)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	g_autoptr(GByteArray) code = compiled("origin = 'bytecode'\n");
	g_autofree char *origin = origin_of(code->data, code->len);

	ck_assert_str_eq(origin, "bytecode");
}
END_TEST

START_TEST(test_other_bytecode_falls_back_to_the_source)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	g_autoptr(GByteArray) code = compiled("origin = 'bytecode'\n");
	g_autofree char *no_code = NULL;
	g_autofree char *other_magic = NULL;
	g_autofree char *truncated = NULL;

	no_code = origin_of(NULL, 0);
	ck_assert_str_eq(no_code, "source");
	/* Another Python's: the magic number differs. */
	code->data[0] ^= 0xff;
	other_magic = origin_of(code->data, code->len);
	ck_assert_str_eq(other_magic, "source");
	code->data[0] ^= 0xff;
	/* This Python's magic, but not a whole code object. */
	truncated = origin_of(code->data, 6);
	ck_assert_str_eq(truncated, "source");
	ck_assert(!PyErr_Occurred());
}
END_TEST

/* The build compiled the runner with this Python's version: pyfsd and the
 * call server load its bytecode, and do not compile it at every start. */
START_TEST(test_the_runner_bytecode_is_this_interpreters)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	long magic = PyImport_GetMagicNumber();
	g_autoptr(GError) error = NULL;
	PYFS_PYREF runner = NULL;
	PYFS_PYREF main_func = NULL;

	ck_assert_uint_gt(pyfs_call_runner_code_size, 4);
	ck_assert_uint_eq(pyfs_call_runner_code[0], magic & 0xff);
	ck_assert_uint_eq(pyfs_call_runner_code[1], (magic >> 8) & 0xff);
	ck_assert_uint_eq(pyfs_call_runner_code[2], (magic >> 16) & 0xff);
	ck_assert_uint_eq(pyfs_call_runner_code[3], (magic >> 24) & 0xff);
	runner = pyfs_python_load_module("pyfs_runner", "raise ImportError('the source ran')\n",
					 pyfs_call_runner_code, pyfs_call_runner_code_size, &error);
	ck_assert_msg(runner != NULL, "%s", error ? error->message : "");
	main_func = PyObject_GetAttrString(runner, "forked_main");
	ck_assert_ptr_nonnull(main_func);
	ck_assert(strstr(pyfs_call_runner_source, "def forked_main(") != NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("load");
	TCase *tc = tcase_create("load");

	g_assert_true(pyfs_python_init(NULL, NULL, NULL));
	tcase_add_test(tc, test_bytecode_of_this_interpreter_is_run);
	tcase_add_test(tc, test_other_bytecode_falls_back_to_the_source);
	tcase_add_test(tc, test_the_runner_bytecode_is_this_interpreters);
	suite_add_tcase(s, tc);
	return test_run(s);
}
