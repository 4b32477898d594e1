/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "pyfs-label.h"

#define LABEL_HASH_LEN 16

char *pyfs_label_for_mountpoint(const char *mountpoint, const char *home)
{
	const char *path = mountpoint;
	gsize home_len = home ? strlen(home) : 0;
	GString *label;

	while (home_len > 1 && home[home_len - 1] == '/')
		home_len--;
	if (home_len > 1 && home[0] == '/' && strncmp(mountpoint, home, home_len) == 0 &&
	    mountpoint[home_len] == '/' && mountpoint[home_len + 1] != '\0')
		path = mountpoint + home_len + 1;

	label = g_string_sized_new(strlen(path));
	for (const char *p = path; *p != '\0'; p++) {
		if (g_ascii_isalpha(*p) || (g_ascii_isdigit(*p) && p != path))
			g_string_append_c(label, *p);
		else
			g_string_append_printf(label, "_%02x", (guchar)*p);
	}
	if (label->len == 0)
		g_string_append_c(label, '_');
	if (label->len > PYFS_LABEL_MAX) {
		g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, path, -1);

		g_string_truncate(label, PYFS_LABEL_MAX - 2 - LABEL_HASH_LEN);
		g_string_append(label, "_x");
		g_string_append_len(label, hash, LABEL_HASH_LEN);
	}
	return g_string_free(label, FALSE);
}
