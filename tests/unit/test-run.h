/* SPDX-License-Identifier: MIT */
/*
 * The end of every unit test's main(): runs @suite (verbosity from
 * CK_VERBOSITY, TAP from CK_TAP_LOG_FILE_NAME, as meson sets them) and
 * returns the exit status.
 */
#pragma once

#include <check.h>

static inline int test_run(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	int failed;

	srunner_run_all(runner, CK_ENV);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? 0 : 1;
}
