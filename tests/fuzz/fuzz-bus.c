// SPDX-License-Identifier: MIT
/*
 * fuzz-bus: the arguments of org.pyfs.Manager's method calls, as GDBus
 * hands them to pyfsd, and the bus names pyfsd derives from mountpoints
 * (pyfs-bus.h).
 *
 * The first byte picks what the rest is: the body of SetModules (as) or
 * of AddModule/RemoveModule (s), deserialised as untrusted GVariant data
 * and normalised as GDBus does, or a mountpoint. Asserted: a call is
 * refused on the bus exactly when it is over the limits of a write to
 * run/modules; the valid names a call would hand the registry are exactly
 * those the same write would (both paths act on one list, and the
 * registry validates the names of both); and every mountpoint gives a
 * valid, well-known bus name org.pyfs.<label>.
 */
#include <stdint.h>
#include <string.h>

#include <gio/gio.h>

#include "pyfs-bus.h"
#include "pyfs-error.h"
#include "pyfs-label.h"
#include "pyfs-names.h"

#define NAME_PREFIX "org.pyfs."

static void check_names(const char *const *names)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_auto(GStrv) parsed = NULL;
	guint count = g_strv_length((char **)names);
	gboolean accepted = pyfs_bus_check_limits(names, &error);
	gboolean valid = TRUE;

	/* What `printf '%s\n' NAMES... > run/modules` writes. */
	for (const char *const *n = names; *n; n++) {
		g_string_append(text, *n);
		g_string_append_c(text, '\n');
	}
	parsed = pyfs_names_parse(text->str, text->len, NULL);
	for (const char *const *n = names; *n; n++)
		valid = valid && pyfs_name_validate(*n, NULL);

	g_assert_true(accepted == (count <= PYFS_BUS_MAX_NAMES && text->len <= PYFS_WRITE_MAX));
	if (!accepted) {
		g_assert_true(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE));
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		return;
	}
	g_assert_null(error);
	/* Names the registry takes reach it the same way from the file. */
	if (valid) {
		g_assert_nonnull(parsed);
		g_assert_true(g_strv_equal((const char *const *)parsed, names));
	}
}

static void check_label(const char *mountpoint, const char *home)
{
	g_autofree char *label = pyfs_label_for_mountpoint(mountpoint, home);
	g_autofree char *again = pyfs_label_for_mountpoint(mountpoint, home);
	g_autofree char *name = g_strconcat(NAME_PREFIX, label, NULL);

	g_assert_cmpstr(label, ==, again);
	g_assert_cmpuint(strlen(label), >, 0);
	g_assert_cmpuint(strlen(name), <=, 255);
	g_assert_true(g_dbus_is_name(name));
	g_assert_false(g_dbus_is_unique_name(name));
	for (const char *p = label; *p; p++)
		g_assert_true(g_ascii_isalnum(*p) || *p == '_');
	g_assert_false(g_ascii_isdigit(label[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GVariant) normal = NULL;

	if (size == 0)
		return 0;
	/* A copy of its own: GVariant may rely on the alignment of malloc(). */
	body = g_bytes_new(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0: {
		g_autofree const char **names = NULL;

		value = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE_STRING_ARRAY,
								    body, FALSE));
		normal = g_variant_get_normal_form(value);
		names = g_variant_get_strv(normal, NULL);
		check_names(names);
		break;
	}
	case 1: {
		const char *names[2] = { NULL, NULL };

		value = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE_STRING,
								    body, FALSE));
		normal = g_variant_get_normal_form(value);
		names[0] = g_variant_get_string(normal, NULL);
		check_names(names);
		break;
	}
	default: {
		/* A mountpoint is any absolute path; HOME is one too. */
		g_autofree char *text = g_strndup((const char *)data + 1, size - 1);
		char *split = strchr(text, '\n');
		g_autofree char *mountpoint = NULL;
		const char *home = "/home/fuzz";

		if (split != NULL) {
			*split = '\0';
			home = split + 1;
		}
		mountpoint = g_strconcat("/", text, NULL);
		check_label(mountpoint, home);
		check_label(mountpoint, "/home/fuzz");
		break;
	}
	}
	return 0;
}
