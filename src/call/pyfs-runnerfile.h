/* SPDX-License-Identifier: MIT */
/*
 * The runner file: the runner as pyfsd leaves it beside the call socket
 * (SOCKET.runner), so that a dispatcher that runs a call with python3
 * need not have python3 compile the runner's source at every call (tens
 * of milliseconds): it runs python3 -c PYFS_CALL_RUNNER_LOADER FD ...,
 * with FD the file opened, and the loader runs the bytecode, or compiles
 * the source the file also holds if the bytecode is another Python's.
 *
 * Layout: the size of the bytecode (4 bytes, little-endian), the bytecode
 * (pyfs-runner-code.h: a magic number, then the marshalled module), then
 * the source (pyfs_call_runner_source, without its NUL).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The program python3 -c runs, its first argument the runner file's
 * descriptor, which it closes: then the runner, as if it were the program,
 * with the arguments that follow. */
extern const char pyfs_call_runner_loader[];

/* The runner file's contents for bytecode @code of @code_size bytes. */
GBytes *pyfs_call_runner_file_new(const unsigned char *code, gsize code_size);

G_END_DECLS
