/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyfs-error.h"
#include "pyfs-log.h"

static char *log_instance;
static gboolean log_debug;
static gboolean log_detached;
static gboolean log_to_journal;

/*
 * Every level to stderr (GLib's standard writer sends info and debug to
 * stdout, which is no place for a daemon's log). Once detached without a
 * journal, stderr is about to be /dev/null: only warnings and worse are
 * worth printing before that.
 */
static GLogWriterOutput write_stderr(GLogLevelFlags level, const GLogField *fields,
				     gsize n_fields)
{
	g_autofree char *line = NULL;

	if (log_detached && !(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
				       G_LOG_LEVEL_WARNING)))
		return G_LOG_WRITER_HANDLED;
	line = g_log_writer_format_fields(level, fields, n_fields, g_log_writer_supports_color(
									   STDERR_FILENO));
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
	return G_LOG_WRITER_HANDLED;
}

static GLogWriterOutput pyfs_log_writer(GLogLevelFlags level, const GLogField *fields,
					gsize n_fields, gpointer user_data)
{
	g_autofree GLogField *all = NULL;

	if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
		return G_LOG_WRITER_HANDLED;

	all = g_new(GLogField, n_fields + 1);
	memcpy(all, fields, n_fields * sizeof(*fields));
	all[n_fields] = (GLogField){ "PYFS_INSTANCE", log_instance ? log_instance : "", -1 };

	if (log_to_journal &&
	    g_log_writer_journald(level, all, n_fields + 1, user_data) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;
	return write_stderr(level, fields, n_fields);
}

void pyfs_log_setup(const char *instance, gboolean debug, gboolean detached)
{
	g_free(log_instance);
	log_instance = g_strdup(instance);
	log_debug = debug;
	log_detached = detached;
	log_to_journal = g_log_writer_is_journald(STDERR_FILENO) ||
			 (detached && g_file_test("/run/systemd/journal/socket", G_FILE_TEST_EXISTS));
	g_log_set_writer_func(pyfs_log_writer, NULL, NULL);
}

/* The syslog priority of @level, as GLib's own g_log() gives it. */
static const char *priority_of(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "3";
	if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		return "4";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "5";
	if (level & G_LOG_LEVEL_INFO)
		return "6";
	return "7";
}

/* One record, with PYFS_MODULE= unless @module is NULL. */
static void log_record(const char *file, const char *line, const char *func,
		       GLogLevelFlags level, const char *module, const char *message)
{
	const GLogField fields[] = {
		/* g_log_structured_array() adds no PRIORITY of its own. */
		{ "PRIORITY", priority_of(level), -1 },
		{ "MESSAGE", message, -1 },
		{ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
		{ "CODE_FILE", file, -1 },
		{ "CODE_LINE", line, -1 },
		{ "CODE_FUNC", func, -1 },
		{ "PYFS_MODULE", module, -1 },
	};

	g_log_structured_array(level, fields, G_N_ELEMENTS(fields) - (module == NULL ? 1 : 0));
}

void pyfs_log_module_full(const char *file, const char *line, const char *func,
			  GLogLevelFlags level, const char *module, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	log_record(file, line, func, level, module, message);
}

void pyfs_log_error_full(const char *file, const char *line, const char *func,
			 GLogLevelFlags level, const GError *error, const char *format, ...)
{
	const char *traceback = pyfs_error_get_traceback(error);
	g_autofree char *context = NULL;
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, format);
	context = g_strdup_vprintf(format, args);
	va_end(args);
	message = g_strdup_printf("%s: %s%s%s", context, error->message, traceback ? "\n" : "",
				  traceback ? traceback : "");
	log_record(file, line, func, level, pyfs_error_get_module(error), message);
}

gboolean pyfs_log_first_time(const char *key)
{
	static GMutex lock; /* a leaf */
	static GHashTable *seen;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&lock);

	if (seen == NULL)
		seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return g_hash_table_add(seen, g_strdup(key));
}
