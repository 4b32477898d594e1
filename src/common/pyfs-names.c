/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pyfs-error.h"
#include "pyfs-names.h"

/*
 * Python's identifiers are XID_Start XID_Continue*. GLib has no XID
 * tables; letters/digits/marks are a close superset, and anything that
 * passes here but is not a real identifier fails at import with a clear
 * ModuleNotFoundError, so the approximation costs nothing.
 */
static gboolean is_ident_start(gunichar c)
{
	return c == '_' || g_unichar_isalpha(c);
}

static gboolean is_ident_continue(gunichar c)
{
	return is_ident_start(c) || g_unichar_isdigit(c) || g_unichar_ismark(c) ||
	       g_unichar_type(c) == G_UNICODE_CONNECT_PUNCTUATION;
}

gboolean pyfs_name_validate(const char *name, GError **error)
{
	gsize len = strlen(name);
	gboolean at_start = TRUE;

	if (!g_utf8_validate(name, (gssize)len, NULL)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_ENCODING,
			    "Module name is not valid UTF-8");
		return FALSE;
	}
	if (len == 0) {
		g_set_error_literal(error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME,
				    "Module name is empty");
		return FALSE;
	}
	if (len > PYFS_NAME_MAX) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME,
			    "Module name is longer than %d bytes", PYFS_NAME_MAX);
		return FALSE;
	}
	for (const char *p = name; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c == '.' && !at_start) {
			at_start = TRUE;
			continue;
		}
		if (at_start ? is_ident_start(c) : is_ident_continue(c)) {
			at_start = FALSE;
			continue;
		}
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME,
			    "“%s” is not a valid module name", name);
		return FALSE;
	}
	if (at_start) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME,
			    "“%s” is not a valid module name (it ends with a dot)", name);
		return FALSE;
	}
	return TRUE;
}

GStrv pyfs_names_parse(const char *buf, gsize len, GError **error)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_autofree char *text = NULL;
	g_auto(GStrv) words = NULL;

	if (len > PYFS_WRITE_MAX) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE,
			    "%" G_GSIZE_FORMAT " bytes written at once; the limit is %d",
			    len, PYFS_WRITE_MAX);
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		g_set_error_literal(error, PYFS_ERROR, PYFS_ERROR_ENCODING,
				    "Input contains a NUL byte");
		return NULL;
	}
	if (!g_utf8_validate_len(buf, len, NULL)) {
		g_set_error_literal(error, PYFS_ERROR, PYFS_ERROR_ENCODING,
				    "Input is not valid UTF-8");
		return NULL;
	}
	text = g_strndup(buf, len);
	words = g_strsplit_set(text, " \t\n\r\v\f", -1);
	for (char **w = words; *w; w++) {
		if (**w != '\0')
			g_strv_builder_add(builder, *w);
	}
	return g_strv_builder_end(builder);
}

gboolean pyfs_name_is_dunder(const char *attr)
{
	gsize len = strlen(attr);

	return len > 4 && g_str_has_prefix(attr, "__") && g_str_has_suffix(attr, "__");
}

/*
 * Whether attribute @attr can have a file at all: attribute names are
 * Python str, so UTF-8 here; a file name holds no "/"; and an executable's
 * script names the attribute on a line of its own ("# pyfs-attribute:
 * NAME"), which pyfs-call reads stripped: no line break, no whitespace at
 * either end (" x" would call x).
 */
static gboolean attr_is_servable(const char *attr)
{
	gsize len = strlen(attr);

	return len > 0 && strpbrk(attr, "/\n\r") == NULL && !g_ascii_isspace(attr[0]) &&
	       !g_ascii_isspace(attr[len - 1]) && g_utf8_validate(attr, len, NULL);
}

char *pyfs_name_attr_to_file(const char *attr)
{
	g_autofree char *file = NULL;

	/* A leading dot would read back as a hidden name: such attributes stay unlisted. */
	if (attr[0] == '.' || !attr_is_servable(attr))
		return NULL;
	if (attr[0] == '_' && !pyfs_name_is_dunder(attr))
		file = g_strconcat(".", attr, NULL);
	else
		file = g_strdup(attr);
	if (strlen(file) > PYFS_NAME_MAX)
		return NULL;
	return g_steal_pointer(&file);
}

char *pyfs_name_file_to_attr(const char *file)
{
	const char *attr = file;

	if (file[0] == '.') {
		/* Only hidden names map back: "._x" is "_x"; ".x" and ".__x__" are nothing. */
		if (file[1] != '_' || pyfs_name_is_dunder(file + 1))
			return NULL;
		attr = file + 1;
	}
	/* Nor does a name no attribute is listed under ("a\nb", " x"). */
	if (!attr_is_servable(attr))
		return NULL;
	return g_strdup(attr);
}
