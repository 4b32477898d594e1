/* SPDX-License-Identifier: MIT */
/* Value rendering and the object mapping, on the embedded interpreter. */
#include "pyfs-python.h"

#include <check.h>
#include <string.h>

#include <gio/gio.h>

#include "pyfs-object.h"
#include "pyfs-render.h"

/* Renders the value of Python expression @expr. */
static char *render(const char *expr, gsize limit)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF globals = PyDict_New();
	PYFS_PYREF value = NULL;
	g_autoptr(GBytes) bytes = NULL;
	gsize len;
	const char *data;

	value = PyRun_String(expr, Py_eval_input, globals, globals);
	ck_assert_ptr_nonnull(value);
	bytes = pyfs_render_value(value, "test.value", limit, NULL);
	ck_assert(!PyErr_Occurred());
	data = g_bytes_get_data(bytes, &len);
	return g_strndup(data, len);
}

#define ck_render(expr, expected)                                      \
	do {                                                           \
		g_autofree char *got = render(expr, PYFS_VALUE_MAX);   \
		ck_assert_str_eq(got, expected);                       \
	} while (0)

START_TEST(test_scalars)
{
	ck_render("42", "42\n");
	ck_render("'text'", "text\n");
	ck_render("None", "None\n");
	ck_render("1.5", "1.5\n");
	ck_render("True", "True\n");
	ck_render("b'ab'", "b'ab'\n");
	ck_render("'a\\udcffb'", "a\\udcffb\n");
}
END_TEST

START_TEST(test_sequences)
{
	ck_render("[1, 'two', 3.0]", "1\ntwo\n3.0\n");
	ck_render("('a',)", "a\n");
	ck_render("frozenset(['x'])", "x\n");
	ck_render("[]", "");
	ck_render("[[1, 2]]", "[1, 2]\n");
}
END_TEST

START_TEST(test_mappings)
{
	ck_render("{'a': 1, 'b': 'two'}", "a=1\nb=two\n");
	ck_render("{}", "");
	ck_render("__import__('types').MappingProxyType({'k': 'v'})", "k=v\n");
}
END_TEST

START_TEST(test_errors_become_markers)
{
	ck_render("type('R', (), {'__str__': lambda s: 1/0})()",
		  "[pyfs: cannot render test.value: ZeroDivisionError: division by zero]\n");
	ck_render("type('N', (), {'__str__': lambda s: 3})()",
		  "[pyfs: cannot render test.value: TypeError: __str__ returned non-string "
		  "(type int)]\n");
}
END_TEST

START_TEST(test_truncation)
{
	g_autofree char *text = render("'x' * 100", 10);
	g_autofree char *list = render("list(range(1000))", 20);

	ck_assert_str_eq(text, "xxxxxxxxxx\n[pyfs: truncated at 10 bytes]\n");
	ck_assert(g_str_has_suffix(list, "\n[pyfs: truncated at 20 bytes]\n"));
	ck_assert_uint_le(strlen(list), 20 + strlen("\n[pyfs: truncated at 20 bytes]\n"));
}
END_TEST

static PyfsEntryKind kind_of(const char *module, const char *attr, char **target)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF mod = PyImport_ImportModule(module);
	PYFS_PYREF value = NULL;
	PyfsEntryKind kind;

	ck_assert_ptr_nonnull(mod);
	value = PyObject_GetAttrString(mod, attr);
	ck_assert_ptr_nonnull(value);
	ck_assert(pyfs_object_classify(mod, attr, value, TRUE, &kind, target));
	return kind;
}

START_TEST(test_classify)
{
	g_autofree char *target = NULL;

	ck_assert_int_eq(kind_of("json", "decoder", NULL), PYFS_ENTRY_DIR);
	ck_assert_int_eq(kind_of("os", "path", &target), PYFS_ENTRY_SYMLINK);
	ck_assert_str_eq(target, "posixpath");
	ck_assert_int_eq(kind_of("os", "getcwd", NULL), PYFS_ENTRY_EXEC);
	ck_assert_int_eq(kind_of("os", "sep", NULL), PYFS_ENTRY_VALUE);
	ck_assert_int_eq(kind_of("json", "JSONDecoder", NULL), PYFS_ENTRY_EXEC);
}
END_TEST

START_TEST(test_resolve)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	const char *chain[] = { "decoder", "JSONDecoder", NULL };
	const char *missing[] = { "no_such_attribute", NULL };
	g_autoptr(GError) error = NULL;
	PYFS_PYREF mod = PyImport_ImportModule("json");
	PYFS_PYREF found = pyfs_object_resolve("json", chain, TRUE, NULL);
	PYFS_PYREF gone = pyfs_object_resolve("json", missing, TRUE, &error);
	/* Plain modules all the way: no Python code runs, so it needs none. */
	PYFS_PYREF plain = pyfs_object_resolve("json", chain, FALSE, NULL);

	ck_assert_ptr_nonnull(found);
	ck_assert(PyType_Check(found));
	ck_assert_ptr_null(gone);
	ck_assert_ptr_nonnull(error);
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	ck_assert_ptr_eq(plain, found);
	ck_assert(!PyErr_Occurred());
}
END_TEST

/* A module made from @source, registered as sys.modules[@name] (New reference). */
static PyObject *module_from(const char *name, const char *source)
{
	PyObject *module = PyImport_AddModule(name); /* Borrowed */
	PYFS_PYREF result = NULL;

	ck_assert_ptr_nonnull(module);
	result = PyRun_String(source, Py_file_input, PyModule_GetDict(module),
			      PyModule_GetDict(module));
	ck_assert_ptr_nonnull(result);
	return Py_NewRef(module);
}

START_TEST(test_plain_steps)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF json = PyImport_ImportModule("json");
	PYFS_PYREF lazy = module_from("pyfs_test_lazy",
				      "X = 1\n"
				      "def __getattr__(name):\n"
				      "    raise AttributeError(name)\n"
				      "def __dir__():\n"
				      "    return ['X']\n");
	PYFS_PYREF odd = module_from("pyfs_test_odd", "globals()[1] = 'not a str key'\n");
	PYFS_PYREF types = PyImport_ImportModule("types");
	PYFS_PYREF sub = PyRun_String("type('M', (__import__('types').ModuleType,), {})('m')",
				      Py_eval_input, PyModule_GetDict(types),
				      PyModule_GetDict(types));
	const char *lazy_chain[] = { "LAZY", NULL };
	g_autoptr(GError) error = NULL;
	PYFS_PYREF none = pyfs_object_resolve("pyfs_test_lazy", lazy_chain, FALSE, &error);

	ck_assert(pyfs_object_getattr_is_plain(json, "dumps"));
	ck_assert(pyfs_object_getattr_is_plain(json, "no_such_attribute"));
	ck_assert(pyfs_object_getattr_is_plain(json, "__dict__"));
	/* Present in the dict: plain; missing: its __getattr__ runs. */
	ck_assert(pyfs_object_getattr_is_plain(lazy, "X"));
	ck_assert(!pyfs_object_getattr_is_plain(lazy, "LAZY"));
	ck_assert_ptr_null(none);
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK));
	/* A module subclass may have properties. */
	ck_assert_ptr_nonnull(sub);
	ck_assert(!pyfs_object_getattr_is_plain(sub, "__name__"));

	ck_assert(pyfs_object_dir_is_plain(json));
	ck_assert(!pyfs_object_dir_is_plain(lazy));
	ck_assert(!pyfs_object_dir_is_plain(odd));
	ck_assert(!pyfs_object_dir_is_plain(sub));
	ck_assert(!PyErr_Occurred());
}
END_TEST

/* Whether the value of Python expression @expr renders without Python code. */
static gboolean plain(const char *expr)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF globals = PyDict_New();
	PYFS_PYREF value = PyRun_String(expr, Py_eval_input, globals, globals);

	ck_assert_ptr_nonnull(value);
	return pyfs_render_is_plain(value);
}

START_TEST(test_plain_values)
{
	const char *yes[] = { "42", "'text'", "None", "1.5", "True", "2j", "[1, 'two', None]",
			      "('a', (1, 2))", "{'a': 1, 'b': [2]}", "frozenset(['x'])", "{1, 2}",
			      "'x' * 3000000", "list(range(4000))", NULL };
	const char *no[] = { "object()", "b'raw'", "[object()]", "{'k': object()}",
			     "type('S', (str,), {})('x')", "list(range(5000))",
			     "[[[[1]]]]", "(lambda l: (l.append(l), l)[1])([])",
			     "__import__('collections').OrderedDict(a=1)", NULL };

	for (const char **e = yes; *e != NULL; e++)
		ck_assert_msg(plain(*e), "%s should be plain", *e);
	for (const char **e = no; *e != NULL; e++)
		ck_assert_msg(!plain(*e), "%s should not be plain", *e);
}
END_TEST

START_TEST(test_list)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF mod = PyImport_ImportModule("os");
	g_autoptr(GPtrArray) entries = pyfs_object_list(mod);
	gboolean saw_hidden = FALSE, saw_dunder = FALSE;

	ck_assert_uint_gt(entries->len, 100);
	for (guint i = 0; i < entries->len; i++) {
		PyfsEntry *e = entries->pdata[i];

		saw_hidden |= g_str_equal(e->file, "._exit") && g_str_equal(e->attr, "_exit");
		saw_dunder |= g_str_equal(e->file, "__name__");
		if (i > 0)
			ck_assert_int_lt(strcmp(((PyfsEntry *)entries->pdata[i - 1])->file, e->file), 0);
	}
	ck_assert(saw_hidden);
	ck_assert(saw_dunder);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("render");
	TCase *render_case = tcase_create("render");
	TCase *object_case = tcase_create("object");
	SRunner *runner;
	int failed;

	g_assert_true(pyfs_python_init(NULL, NULL, NULL));
	tcase_add_test(render_case, test_scalars);
	tcase_add_test(render_case, test_sequences);
	tcase_add_test(render_case, test_mappings);
	tcase_add_test(render_case, test_errors_become_markers);
	tcase_add_test(render_case, test_truncation);
	tcase_add_test(object_case, test_classify);
	tcase_add_test(object_case, test_resolve);
	tcase_add_test(object_case, test_list);
	tcase_add_test(object_case, test_plain_steps);
	tcase_add_test(render_case, test_plain_values);
	suite_add_tcase(s, render_case);
	suite_add_tcase(s, object_case);
	runner = srunner_create(s);
	/* One interpreter for all: no fork after it started threads of its own. */
	srunner_set_fork_status(runner, CK_NOFORK);
	srunner_run_all(runner, CK_ENV);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? 0 : 1;
}
