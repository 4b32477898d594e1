// SPDX-License-Identifier: MIT
/*
 * pyfs-callargs.c: the script header, the call command line and the runner
 * protocol. See pyfs-callargs.h; nothing here prints or touches Python.
 */
#include "pyfs-callargs.h"

#include <string.h>

G_DEFINE_QUARK(pyfs-call-error-quark, pyfs_call_error)

#define SCRIPT_KEY_PREFIX "# pyfs-"

void pyfs_call_script_free(PyfsCallScript *script)
{
	if (!script)
		return;
	g_free(script->module);
	g_clear_pointer(&script->attributes, g_ptr_array_unref);
	g_free(script->dot);
	g_free(script->socket);
	g_free(script);
}

void pyfs_call_args_free(PyfsCallArgs *args)
{
	if (!args)
		return;
	g_clear_pointer(&args->kw_names, g_ptr_array_unref);
	g_clear_pointer(&args->kw_values, g_ptr_array_unref);
	g_clear_pointer(&args->kw_forms, g_array_unref);
	g_clear_pointer(&args->positional, g_ptr_array_unref);
	g_free(args);
}

/*
 * Python's identifier rule (PEP 3131) by Unicode general category: start
 * with a letter, a letter number or "_", continue with those, marks, digits
 * and connectors. It ignores the few Other_ID_* code points and NFKC
 * subtleties; the runner passes keywords through **kwargs, where Python
 * itself has the last word.
 */
static gboolean is_id_start(gunichar c)
{
	switch (g_unichar_type(c)) {
	case G_UNICODE_UPPERCASE_LETTER:
	case G_UNICODE_LOWERCASE_LETTER:
	case G_UNICODE_TITLECASE_LETTER:
	case G_UNICODE_MODIFIER_LETTER:
	case G_UNICODE_OTHER_LETTER:
	case G_UNICODE_LETTER_NUMBER:
		return TRUE;
	default:
		return c == '_';
	}
}

static gboolean is_id_continue(gunichar c)
{
	switch (g_unichar_type(c)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_SPACING_MARK:
	case G_UNICODE_DECIMAL_NUMBER:
	case G_UNICODE_CONNECT_PUNCTUATION:
		return TRUE;
	default:
		return is_id_start(c);
	}
}

gboolean pyfs_call_is_identifier(const char *name)
{
	const char *p;

	if (!name || !*name || !g_utf8_validate(name, -1, NULL))
		return FALSE;
	if (!is_id_start(g_utf8_get_char(name)))
		return FALSE;
	for (p = g_utf8_next_char(name); *p; p = g_utf8_next_char(p))
		if (!is_id_continue(g_utf8_get_char(p)))
			return FALSE;
	return TRUE;
}

static gboolean is_dotted_name(const char *name)
{
	g_auto(GStrv) parts = g_strsplit(name, ".", -1);

	if (!parts[0])
		return FALSE;
	for (char **p = parts; *p; p++)
		if (!pyfs_call_is_identifier(*p))
			return FALSE;
	return TRUE;
}

static gboolean script_error(GError **error, guint line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean script_error(GError **error, guint line, const char *fmt, ...)
{
	g_autofree char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	if (line)
		g_set_error(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_SCRIPT, "line %u: %s",
			    line, what);
	else
		g_set_error_literal(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_SCRIPT, what);
	return FALSE;
}

/* One "# pyfs-KEY: VALUE" line; other lines, including unknown keys (which
 * later versions of pyfsd may add), are none of our business. */
static gboolean script_parse_line(PyfsCallScript *script, char *line, guint lineno,
				  GError **error)
{
	char *key, *colon, *value;

	if (!g_str_has_prefix(line, SCRIPT_KEY_PREFIX))
		return TRUE;
	key = line + strlen(SCRIPT_KEY_PREFIX);
	colon = strchr(key, ':');
	if (!colon)
		return TRUE;
	*colon = '\0';
	value = g_strstrip(colon + 1);

	if (strcmp(key, "module") == 0) {
		if (script->module)
			return script_error(error, lineno, "pyfs-module given twice");
		if (!is_dotted_name(value))
			return script_error(error, lineno, "invalid module name '%s'", value);
		script->module = g_strdup(value);
	} else if (strcmp(key, "attribute") == 0) {
		if (!*value)
			return script_error(error, lineno, "empty pyfs-attribute");
		g_ptr_array_add(script->attributes, g_strdup(value));
	} else if (strcmp(key, "dot") == 0) {
		if (script->dot)
			return script_error(error, lineno, "pyfs-dot given twice");
		if (!*value)
			return script_error(error, lineno, "empty pyfs-dot");
		script->dot = g_strdup(value);
	} else if (strcmp(key, "socket") == 0) {
		/* Only a hint: a bad one means the dispatcher runs python3 itself. */
		if (!script->socket && g_path_is_absolute(value))
			script->socket = g_strdup(value);
	}
	return TRUE;
}

/*
 * @text need not be NUL-terminated. A script names exactly one target: a
 * module with at least one attribute (a lib/ file), or a dot name with none.
 */
PyfsCallScript *pyfs_call_script_parse(const char *text, gsize len, GError **error)
{
	g_autoptr(PyfsCallScript) script = g_new0(PyfsCallScript, 1);
	g_autofree char *copy = NULL;
	g_auto(GStrv) lines = NULL;

	g_return_val_if_fail(text || len == 0, NULL);

	if (memchr(text, '\0', len)) {
		script_error(error, 0, "not a text file");
		return NULL;
	}
	if (!g_utf8_validate_len(text, len, NULL)) {
		script_error(error, 0, "not valid UTF-8");
		return NULL;
	}
	copy = g_strndup(text, len);
	lines = g_strsplit(copy, "\n", -1);
	script->attributes = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; lines[i]; i++)
		if (!script_parse_line(script, lines[i], i + 1, error))
			return NULL;

	if (script->module && script->dot) {
		script_error(error, 0, "both pyfs-module and pyfs-dot");
		return NULL;
	}
	if (script->dot && script->attributes->len > 0) {
		script_error(error, 0, "pyfs-attribute in a pyfs-dot script");
		return NULL;
	}
	if (script->module && script->attributes->len == 0) {
		script_error(error, 0, "pyfs-module without pyfs-attribute");
		return NULL;
	}
	if (!script->module && !script->dot) {
		script_error(error, 0, "not a pyfs script (no pyfs-module or pyfs-dot line)");
		return NULL;
	}
	return g_steal_pointer(&script);
}

static gboolean usage_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean usage_error(GError **error, const char *fmt, ...)
{
	g_autofree char *message = NULL;
	va_list ap;

	va_start(ap, fmt);
	message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_USAGE, message);
	return FALSE;
}

#define NO_PREFIX "no-"

/*
 * --NAME=VALUE, --NAME or --no-NAME, NAME a Python identifier. Whether
 * NAME takes a flag is the runner's to say, with the signature.
 */
static gboolean args_add_keyword(PyfsCallArgs *args, const char *arg, GError **error)
{
	const char *option = arg + 2;
	const char *eq = strchr(option, '=');
	/* GError messages are UTF-8, arguments need not be. */
	g_autofree char *shown = g_utf8_make_valid(arg, -1);
	g_autofree char *name = eq ? g_strndup(option, eq - option) : g_strdup(option);
	PyfsCallKwForm form = eq ? PYFS_CALL_KW_VALUE : PYFS_CALL_KW_FLAG;

	if (g_str_has_prefix(name, NO_PREFIX) && pyfs_call_is_identifier(name + strlen(NO_PREFIX))) {
		g_autofree char *negated = g_steal_pointer(&name);

		if (eq)
			return usage_error(error, "option '%s': --no-NAME takes no value", shown);
		name = g_strdup(negated + strlen(NO_PREFIX));
		form = PYFS_CALL_KW_NO_FLAG;
	}
	if (!pyfs_call_is_identifier(name))
		return usage_error(error, "invalid option '%s' (options are --NAME=VALUE, or "
				   "--NAME and --no-NAME for a bool, NAME a Python identifier; put "
				   "'--' before arguments that start with '-')", shown);
	for (guint i = 0; i < args->kw_names->len; i++)
		if (strcmp(args->kw_names->pdata[i], name) == 0)
			return usage_error(error, "keyword argument '%s' given twice", name);
	g_ptr_array_add(args->kw_names, g_steal_pointer(&name));
	g_ptr_array_add(args->kw_values, eq ? g_strdup(eq + 1) : NULL);
	g_array_append_val(args->kw_forms, form);
	return TRUE;
}

/*
 * Options are only recognised before the first positional argument, so that
 * any string can be passed after it ("-h", "--x=1", "-5" for negative
 * numbers, which are positional anywhere). "--" ends options; the first
 * lone "-", before or after "--", is the stdin slot, like cat's operand.
 */
PyfsCallArgs *pyfs_call_args_parse(int argc, const char *const *argv, GError **error)
{
	g_autoptr(PyfsCallArgs) args = g_new0(PyfsCallArgs, 1);
	gboolean options = TRUE;

	args->kw_names = g_ptr_array_new_with_free_func(g_free);
	args->kw_values = g_ptr_array_new_with_free_func(g_free);
	args->kw_forms = g_array_new(FALSE, FALSE, sizeof(PyfsCallKwForm));
	args->positional = g_ptr_array_new_with_free_func(g_free);
	args->stdin_slot = -1;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (options) {
			if (strcmp(arg, "--") == 0) {
				options = FALSE;
				continue;
			}
			if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
				args->help = TRUE;
				continue;
			}
			if (g_str_has_prefix(arg, "--")) {
				if (!args_add_keyword(args, arg, error))
					return NULL;
				continue;
			}
			options = FALSE;
		}
		if (args->stdin_slot < 0 && strcmp(arg, "-") == 0)
			args->stdin_slot = args->positional->len;
		g_ptr_array_add(args->positional, g_strdup(arg));
	}
	return g_steal_pointer(&args);
}

/*
 * The runner protocol: one "KEY=VALUE" item per argv element, in this order,
 * read by pyfs_runner.main():
 *
 *   script=PATH          the script file, becomes sys.argv[0]
 *   module=NAME          lib/ file: module to import ...
 *   attr=NAME            ... and each attribute to walk, in order
 *   dot=NAME             dot/ file instead of module/attr
 *   help                 -h/--help was given
 *   kw=NAME=VALUE        a keyword argument, raw
 *   flag=NAME            --NAME, True for a bool parameter
 *   noflag=NAME          --no-NAME, False for a bool parameter
 *   arg=VALUE            a positional argument, raw
 *   stdin                the stdin slot, in its place among the arg= items
 *
 * Values are raw bytes: argv carries no NUL, and the runner gets them back
 * losslessly through Python's surrogateescape decoding of argv.
 */
GPtrArray *pyfs_call_runner_items(const char *script_path, const PyfsCallScript *script,
				  const PyfsCallArgs *args)
{
	GPtrArray *items = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(items, g_strconcat("script=", script_path, NULL));
	if (script->module) {
		g_ptr_array_add(items, g_strconcat("module=", script->module, NULL));
		for (guint i = 0; i < script->attributes->len; i++)
			g_ptr_array_add(items, g_strconcat("attr=", script->attributes->pdata[i],
							   NULL));
	} else {
		g_ptr_array_add(items, g_strconcat("dot=", script->dot, NULL));
	}
	if (args->help)
		g_ptr_array_add(items, g_strdup("help"));
	for (guint i = 0; i < args->kw_names->len; i++) {
		const char *name = args->kw_names->pdata[i];

		switch (g_array_index(args->kw_forms, PyfsCallKwForm, i)) {
		case PYFS_CALL_KW_VALUE:
			g_ptr_array_add(items, g_strconcat("kw=", name, "=",
							   args->kw_values->pdata[i], NULL));
			break;
		case PYFS_CALL_KW_FLAG:
			g_ptr_array_add(items, g_strconcat("flag=", name, NULL));
			break;
		case PYFS_CALL_KW_NO_FLAG:
			g_ptr_array_add(items, g_strconcat("noflag=", name, NULL));
			break;
		}
	}
	for (guint i = 0; i < args->positional->len; i++) {
		if ((int)i == args->stdin_slot)
			g_ptr_array_add(items, g_strdup("stdin"));
		else
			g_ptr_array_add(items, g_strconcat("arg=", args->positional->pdata[i],
							   NULL));
	}
	return items;
}
