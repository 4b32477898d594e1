/* SPDX-License-Identifier: MIT */
/*
 * Logging: GLib structured logging, to the journal when stderr is the
 * journal (or when detached from a terminal and a journal runs), to stderr
 * otherwise. Every record carries PYFS_INSTANCE=; module changes carry
 * PYFS_MODULE=.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Installs the writer. @instance names this daemon in every record (the
 * mountpoint); @debug lets debug messages through; @detached says stderr
 * is going away, so the journal is preferred when it exists.
 */
void pyfs_log_setup(const char *instance, gboolean debug, gboolean detached);

/* Logs at @level with the field PYFS_MODULE=@module (and CODE_FILE/CODE_LINE). */
#define pyfs_log_module(level, module, ...) \
	pyfs_log_module_full(__FILE__, G_STRINGIFY(__LINE__), G_STRFUNC, level, module, __VA_ARGS__)

void pyfs_log_module_full(const char *file, const char *line, const char *func,
			  GLogLevelFlags level, const char *module, const char *format, ...)
	G_GNUC_PRINTF(6, 7);

/*
 * Logs @error where its journey ends (a refused write, a refused D-Bus
 * call): "CONTEXT: message" (CONTEXT from the format), then the Python
 * traceback it carries, with PYFS_MODULE= when it names a module.
 */
#define pyfs_log_error(level, error, ...) \
	pyfs_log_error_full(__FILE__, G_STRINGIFY(__LINE__), G_STRFUNC, level, error, __VA_ARGS__)

void pyfs_log_error_full(const char *file, const char *line, const char *func,
			 GLogLevelFlags level, const GError *error, const char *format, ...)
	G_GNUC_PRINTF(6, 7);

/*
 * Whether @key (say, the dotted name of a value that cannot be rendered)
 * comes up for the first time: for a warning worth giving once, not at
 * every request. Any thread.
 */
gboolean pyfs_log_first_time(const char *key);

G_END_DECLS
