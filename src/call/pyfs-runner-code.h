/* SPDX-License-Identifier: MIT */
/*
 * The runner (pyfs-callargs.h's pyfs_call_runner_source), compiled at build
 * time by the interpreter of the embedded Python's version: its magic
 * number (4 bytes), then the module's code object as marshal writes it.
 * Loading it spares pyfsd and each call server compiling the source at
 * start (milliseconds); pyfs_python_load_module() compiles the source
 * instead when the magic number is not the running interpreter's.
 */
#pragma once

#include <stddef.h>

extern const unsigned char pyfs_call_runner_code[];
extern const size_t pyfs_call_runner_code_size;
