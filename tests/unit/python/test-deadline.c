/* SPDX-License-Identifier: MIT */
/*
 * Work under a time limit (pyfs-deadline), on the embedded interpreter:
 * the TimeoutError raised in abandoned work, and only there. Every
 * interleaving is forced with gates the test opens, never left to timing.
 */
#include "pyfs-python.h"

#include <check.h>

#include "pyfs-deadline.h"
#include "pyfs-error.h"
#include "test-gate.h"
#include "test-run.h"

/* The limit: each test waits it out once. */
#define LIMIT_S 2

/* --- a job that ends after its deadline, and the next on its worker ------- */

/* Holds the GIL until released, so that the canceller cannot act meanwhile. */
typedef struct {
	Gate holding;
	Gate release;
} GilHolder;

static gpointer hold_gil(gpointer data)
{
	GilHolder *holder = data;
	PYFS_GIL_SCOPE gil = pyfs_python_enter();

	gate_open(&holder->holding);
	gate_hold(&holder->release);
	return NULL;
}

/* Work that blocks outside Python until the test lets it return. */
typedef struct {
	Gate entered;
	Gate finish;
	Gate dropped;   /* the deadline is done with it: freed */
} Stuck;

static void stuck_run(gpointer data)
{
	Stuck *stuck = data;

	gate_open(&stuck->entered);
	gate_hold(&stuck->finish);
}

static void stuck_drop(gpointer data)
{
	Stuck *stuck = data;

	gate_open(&stuck->dropped);
}

/*
 * The next work on the same worker: it has a Python thread state (what
 * PyThreadState_SetAsyncExc() looks for, by thread) before it takes the
 * GIL, then runs Python code and keeps what that met.
 */
typedef struct {
	Gate has_thread_state;
	Gate go;
	char *outcome;  /* "returned", or the exception line */
	gboolean ran;   /* pyfs_deadline_run() returned TRUE */
	char *error;
} Next;

static void next_run(gpointer data)
{
	Next *next = data;
	PyThreadState *tstate = PyThreadState_New(PyInterpreterState_Main());

	gate_open(&next->has_thread_state);
	gate_hold(&next->go);
	PyEval_RestoreThread(tstate);
	{
		PYFS_PYREF globals = PyDict_New(); /* New reference */
		PYFS_PYREF result = NULL;

		if (globals != NULL)
			result = PyRun_String("sum(range(10))", Py_eval_input, globals,
					      globals); /* New reference */
		next->outcome = result ? g_strdup("returned") : pyfs_python_take_exception(NULL);
	}
	PyThreadState_Clear(tstate);
	PyThreadState_DeleteCurrent();
}

static gpointer run_next(gpointer data)
{
	Next *next = data;
	g_autoptr(GError) error = NULL;

	next->ran = pyfs_deadline_run("the next work", next_run, next, NULL, &error);
	next->error = error ? g_strdup(error->message) : NULL;
	return NULL;
}

/*
 * Work that times out, then ends before the canceller gets the GIL, while
 * its worker has started the next work: the TimeoutError meant for the
 * first must not reach the second.
 */
START_TEST(test_timeout_error_spares_the_next_work)
{
	GilHolder holder = { 0 };
	Stuck stuck = { 0 };
	Next next = { 0 };
	g_autoptr(GError) error = NULL;
	GThread *holder_thread;
	GThread *next_thread;

	holder_thread = g_thread_new("gil-holder", hold_gil, &holder);
	ck_assert(gate_wait(&holder.holding));

	ck_assert(!pyfs_deadline_run("the stuck work", stuck_run, &stuck, stuck_drop, &error));
	ck_assert(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_TIMED_OUT));
	ck_assert_msg(gate_wait(&stuck.entered), "the stuck work never started");

	/* It ends; its worker takes the next work, which gets a thread state.
	 * (Not before the worker has counted it ended: until then, the only
	 * worker holds timed-out work, and new work is refused at once.) */
	gate_open(&stuck.finish);
	for (guint i = 0; i < 10000 && pyfs_deadline_abandoned() > 0; i++)
		g_usleep(1000);
	ck_assert_msg(pyfs_deadline_abandoned() == 0, "the stuck work never ended");
	next_thread = g_thread_new("next", run_next, &next);
	ck_assert_msg(gate_wait(&next.has_thread_state), "the next work never started");

	/* Only now may the canceller have the GIL; wait until it is done. */
	gate_open(&holder.release);
	g_thread_join(holder_thread);
	ck_assert_msg(gate_wait(&stuck.dropped), "the stuck work was never dropped");

	gate_open(&next.go);
	g_thread_join(next_thread);
	ck_assert_msg(next.ran, "the next work failed: %s", next.error);
	ck_assert_str_eq(next.outcome, "returned");
	g_free(next.outcome);
	g_free(next.error);
}
END_TEST

/* --- abandoned work that loops in Python ------------------------------------ */

typedef struct {
	Gate dropped;
	char *outcome;
} Spin;

static void spin_run(gpointer data)
{
	Spin *spin = data;
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF globals = PyDict_New(); /* New reference */
	PYFS_PYREF result = NULL;

	if (globals != NULL)
		result = PyRun_String("while True: pass", Py_file_input, globals,
				      globals); /* New reference */
	spin->outcome = result ? g_strdup("returned") : pyfs_python_take_exception(NULL);
}

static void spin_drop(gpointer data)
{
	Spin *spin = data;

	gate_open(&spin->dropped);
}

/* The TimeoutError still reaches the work it is meant for, and ends it. */
START_TEST(test_timeout_error_ends_abandoned_work)
{
	Spin spin = { 0 };
	g_autoptr(GError) error = NULL;

	ck_assert(!pyfs_deadline_run("the spinning work", spin_run, &spin, spin_drop, &error));
	ck_assert(g_error_matches(error, PYFS_ERROR, PYFS_ERROR_TIMED_OUT));
	ck_assert_msg(gate_wait(&spin.dropped), "the spinning work never ended");
	ck_assert_str_eq(spin.outcome, "TimeoutError");
	ck_assert_uint_eq(pyfs_deadline_abandoned(), 0);
	g_free(spin.outcome);
}
END_TEST

/* In each test's process: one worker, so that the next work runs on the thread of the one before. */
static void start_pool(void)
{
	pyfs_deadline_start(LIMIT_S, 1);
}

int main(void)
{
	Suite *s = suite_create("deadline");
	TCase *tc = tcase_create("deadline");

	/* Before Check forks each test: the interpreter starts no thread. */
	g_assert_true(pyfs_python_init(NULL, NULL, NULL));
	tcase_add_checked_fixture(tc, start_pool, NULL);
	tcase_set_timeout(tc, 3 * GATE_WAIT_S);
	tcase_add_test(tc, test_timeout_error_spares_the_next_work);
	tcase_add_test(tc, test_timeout_error_ends_abandoned_work);
	suite_add_tcase(s, tc);
	return test_run(s);
}
