// SPDX-License-Identifier: MIT
/* The runner file pyfsd writes and python3 loads (pyfs-runnerfile.h). */
#include "pyfs-runnerfile.h"

#include <string.h>

#include "pyfs-callargs.h"

/*
 * Run in __main__, as the source given to python3 -c would be; the names
 * it leaves there (marshal, sys, _runner) are not the runner's. The magic
 * number is the running interpreter's, as its import system knows it.
 */
const char pyfs_call_runner_loader[] =
	"import marshal, sys\n"
	"with open(int(sys.argv.pop(1)), 'rb') as _file:\n"
	"    _data = _file.read()\n"
	"_size = int.from_bytes(_data[:4], 'little')\n"
	"if _data[4:8] == sys.modules['_frozen_importlib_external'].MAGIC_NUMBER:\n"
	"    _runner = marshal.loads(memoryview(_data)[8:4 + _size])\n"
	"else:\n"
	"    _runner = compile(_data[4 + _size:], 'pyfs_runner', 'exec')\n"
	"del _file, _data, _size\n"
	"exec(_runner)\n";

GBytes *pyfs_call_runner_file_new(const unsigned char *code, gsize code_size)
{
	gsize source_size = strlen(pyfs_call_runner_source);
	GByteArray *file = g_byte_array_sized_new(4 + code_size + source_size);
	guint32 size = GUINT32_TO_LE((guint32)code_size);

	g_byte_array_append(file, (const guint8 *)&size, sizeof(size));
	g_byte_array_append(file, code, code_size);
	g_byte_array_append(file, (const guint8 *)pyfs_call_runner_source, source_size);
	return g_byte_array_free_to_bytes(file);
}
