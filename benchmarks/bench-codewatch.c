/* SPDX-License-Identifier: MIT */
/*
 * bench-codewatch: what the call server pays on every call to know that
 * the code it imported is still the code on disk (pyfs_codewatch_changed()
 * on a watch with nothing queued). Prints the median over rounds of the
 * mean time of one check, in microseconds, on one line:
 *
 *   codewatch-check-us 0.84
 *
 * bench-calls.sh runs it and sets the figure beside one call's time.
 */
#include "pyfs-python.h"

#include <stdio.h>
#include <stdlib.h>

#include "pyfs-callargs.h"
#include "pyfs-codewatch.h"

#define ROUNDS 21
#define CHECKS 20000

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCodeWatch) watch = NULL;
	PyObject *runner;
	double mean[ROUNDS];
	gboolean changed;

	if (!pyfs_python_init(NULL, NULL, &error)) {
		fprintf(stderr, "bench-codewatch: %s\n", error->message);
		return 1;
	}
	PyGILState_Ensure();
	runner = pyfs_python_load_module("pyfs_runner", pyfs_call_runner_source, NULL, 0, &error);
	watch = runner ? pyfs_codewatch_new(&error) : NULL;
	if (watch == NULL || !pyfs_codewatch_update(watch, runner, G_MAXINT64, &changed, &error)) {
		fprintf(stderr, "bench-codewatch: %s\n", error->message);
		return 1;
	}
	for (int r = 0; r < ROUNDS; r++) {
		gint64 start = g_get_monotonic_time();

		for (int i = 0; i < CHECKS; i++)
			changed |= pyfs_codewatch_changed(watch);
		mean[r] = (double)(g_get_monotonic_time() - start) / CHECKS;
	}
	qsort(mean, ROUNDS, sizeof(mean[0]), compare);
	printf("codewatch-check-us %.3f%s\n", mean[ROUNDS / 2], changed ? " (a change came)" : "");
	return 0;
}
