/* SPDX-License-Identifier: MIT */
/*
 * pyfs-callargs: what a call of an executable file is made of (README, "Executables").
 *
 * Pure parsing, shared by the pyfs-call dispatcher and pyfsd: the header of
 * the script file (which callable to run), the caller's command line (how to
 * call it) and the argument list that hands both to pyfs_runner.py.
 * Values stay raw strings here; decoding them as JSON literals is the
 * runner's job, so that both call paths decode them identically.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* pyfs_runner.py, NUL-terminated, built into libpyfs_call (embed-runner.py). */
extern const char pyfs_call_runner_source[];

/* The script files pyfsd serves are a few hundred bytes; this bounds what
 * the dispatcher reads from a file it is pointed at. */
#define PYFS_CALL_SCRIPT_MAX (64 * 1024)

#define PYFS_CALL_ERROR (pyfs_call_error_quark())
GQuark pyfs_call_error_quark(void);

typedef enum {
	PYFS_CALL_ERROR_USAGE,	/* the caller's command line is wrong */
	PYFS_CALL_ERROR_SCRIPT,	/* the script file is not a pyfs script */
} PyfsCallError;

/* The header of a script file: either a lib/ file (module + attribute
 * chain) or a dot/ file (dot set, module NULL); either may name the call
 * server to try first. */
typedef struct {
	char *module;
	GPtrArray *attributes;	/* char *, walked with getattr in order */
	char *dot;
	char *socket;		/* pyfsd's call server (absolute path), or NULL */
} PyfsCallScript;

/* How a keyword argument was given. Whether a flag is allowed depends on
 * the signature, which only the runner knows. */
typedef enum {
	PYFS_CALL_KW_VALUE,	/* --NAME=VALUE */
	PYFS_CALL_KW_FLAG,	/* --NAME */
	PYFS_CALL_KW_NO_FLAG,	/* --no-NAME */
} PyfsCallKwForm;

/* The caller's command line, split as README's "Executables" says. */
typedef struct {
	gboolean help;		/* -h/--help before the first positional */
	GPtrArray *kw_names;	/* char *, Python identifiers, unique, in order */
	GPtrArray *kw_values;	/* char *, raw, same length as kw_names; NULL for a flag */
	GArray *kw_forms;	/* PyfsCallKwForm, same length as kw_names */
	GPtrArray *positional;	/* char *, raw, the stdin slot included as "-" */
	int stdin_slot;		/* index in positional of the first lone "-", or -1 */
} PyfsCallArgs;

PyfsCallScript *pyfs_call_script_parse(const char *text, gsize len, GError **error);
void pyfs_call_script_free(PyfsCallScript *script);

PyfsCallArgs *pyfs_call_args_parse(int argc, const char *const *argv, GError **error);
void pyfs_call_args_free(PyfsCallArgs *args);

gboolean pyfs_call_is_identifier(const char *name);

GPtrArray *pyfs_call_runner_items(const char *script_path, const PyfsCallScript *script,
				  const PyfsCallArgs *args);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCallScript, pyfs_call_script_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCallArgs, pyfs_call_args_free)

G_END_DECLS
