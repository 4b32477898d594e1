/* SPDX-License-Identifier: MIT */
/*
 * The text of executable files: a short script whose #! line names the
 * pyfs-call dispatcher and whose "# pyfs-" header lines say what to call.
 * The format is the contract with src/call/pyfs-call.c.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where pyfs-call is (pyfs_program_path()), computed once. */
const char *pyfs_script_dispatcher(void);

/*
 * The script for calling @module + @attrs. @socket, when not NULL, is the
 * call server's socket, for the dispatcher to try first.
 */
char *pyfs_script_for_call(const char *module, const char *const *attrs, const char *socket);

/* The script of dot/@name. */
char *pyfs_script_for_dot(const char *name, const char *socket);

G_END_DECLS
