/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include "pyfs-deadline.h"
#include "pyfs-error.h"

typedef enum {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
	JOB_ABANDONED, /* the waiter gave up: the job owns data */
} JobState;

typedef struct {
	GMutex lock;           /* guards state, running and thread; a leaf lock */
	GCond changed;
	JobState state;
	gboolean started;      /* it got a worker before it was abandoned */
	gboolean running;      /* func is running on thread: TimeoutError goes there */
	unsigned long thread;  /* the worker's Python thread ident, while running */

	char *what;
	char *current;         /* what it works on now (pyfs_deadline_working_on()) */
	char *abandoned_key;   /* what stays marked abandoned until it ends */
	PyfsDeadlineFunc func;
	gpointer data;
	GDestroyNotify free_data;
} Job;

static GThreadPool *workers;
static guint workers_max;
static GThreadPool *canceller;   /* one thread: raises TimeoutError in abandoned work */
static guint limit_s = PYFS_DEADLINE_DEFAULT_S;

/* The job the calling thread runs, if it is a worker. */
static _Thread_local Job *current_job;

static GMutex abandoned_lock;    /* guards abandoned; a leaf, also taken under a job's lock */
static GHashTable *abandoned;    /* what -> count of abandoned jobs still running */
static GHashTable *timed_out;    /* every what that was ever abandoned */

static void job_clear(gpointer p)
{
	Job *job = p;

	/* Only abandoned work still owns its data when the last reference goes. */
	if (job->state == JOB_ABANDONED && job->free_data != NULL)
		job->free_data(job->data);
	g_free(job->what);
	g_free(job->current);
	g_free(job->abandoned_key);
	g_mutex_clear(&job->lock);
	g_cond_clear(&job->changed);
}

static void job_unref(Job *job)
{
	g_atomic_rc_box_release_full(job, job_clear);
}

static void mark_abandoned(const char *what)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&abandoned_lock);
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(abandoned, what));

	g_hash_table_insert(abandoned, g_strdup(what), GUINT_TO_POINTER(n + 1));
	g_hash_table_add(timed_out, g_strdup(what));
}

static void unmark_abandoned(const char *what)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&abandoned_lock);
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(abandoned, what));

	if (n <= 1)
		g_hash_table_remove(abandoned, what);
	else
		g_hash_table_insert(abandoned, g_strdup(what), GUINT_TO_POINTER(n - 1));
}

gboolean pyfs_deadline_timed_out_before(const char *what)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&abandoned_lock);

	return timed_out != NULL && g_hash_table_contains(timed_out, what);
}

gboolean pyfs_deadline_is_abandoned(const char *what)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&abandoned_lock);

	return abandoned != NULL && g_hash_table_contains(abandoned, what);
}

static void run_job(gpointer data, gpointer user_data)
{
	Job *job = data;
	gboolean was_abandoned;

	g_mutex_lock(&job->lock);
	if (job->state == JOB_ABANDONED) {
		/* Timed out in the queue: it never runs. */
		g_mutex_unlock(&job->lock);
		job_unref(job);
		return;
	}
	job->state = JOB_RUNNING;
	job->started = TRUE;
	job->running = TRUE;
	job->thread = PyThread_get_thread_ident();
	g_mutex_unlock(&job->lock);

	current_job = job;
	job->func(job->data);
	current_job = NULL;

	g_mutex_lock(&job->lock);
	/* From here on this thread may run other work: no TimeoutError for this one. */
	job->running = FALSE;
	was_abandoned = job->state == JOB_ABANDONED;
	if (!was_abandoned)
		job->state = JOB_DONE;
	g_cond_signal(&job->changed);
	g_mutex_unlock(&job->lock);

	/* Unmarked first: once the message says so, the work runs again. */
	if (was_abandoned) {
		unmark_abandoned(job->abandoned_key);
		g_message("%s ended after it had timed out; its result was dropped", job->what);
	}
	job_unref(job);
}

/*
 * TimeoutError is raised by thread ident, so it must reach only a thread
 * that still runs this job. The job may have ended while this waited for
 * the GIL, and its worker taken other work, whose thread state has the
 * same ident. So, with the GIL and then the job's lock (the documented
 * order), raise only while run_job() has not yet seen func return: it
 * says so under that lock before its thread takes other work, and until
 * then, once func has left Python, the thread has no thread state to hit.
 */
static void cancel_job(gpointer data, gpointer user_data)
{
	Job *job = data;

	{
		PYFS_GIL_SCOPE gil = pyfs_python_enter();
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&job->lock);

		if (job->state == JOB_ABANDONED && job->running)
			PyThreadState_SetAsyncExc(job->thread, PyExc_TimeoutError);
	}
	job_unref(job);
}

void pyfs_deadline_start(guint seconds, guint n_workers)
{
	g_return_if_fail(workers == NULL);
	g_return_if_fail(seconds > 0);
	g_return_if_fail(n_workers > 0);

	limit_s = seconds;
	workers_max = n_workers;
	abandoned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	timed_out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/*
	 * Exclusive: all started now and kept. Threads started and ended on
	 * demand leave their touched stacks in glibc's stack cache, and a
	 * burst of requests then raised RSS for good.
	 */
	workers = g_thread_pool_new(run_job, NULL, (gint)n_workers, TRUE, NULL);
	canceller = g_thread_pool_new(cancel_job, NULL, 1, FALSE, NULL);
}

guint pyfs_deadline_abandoned(void)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&abandoned_lock);
	guint total = 0;
	GHashTableIter iter;
	gpointer count;

	if (abandoned == NULL)
		return 0;
	g_hash_table_iter_init(&iter, abandoned);
	while (g_hash_table_iter_next(&iter, NULL, &count))
		total += GPOINTER_TO_UINT(count);
	return total;
}

void pyfs_deadline_working_on(const char *what)
{
	Job *job = current_job;

	if (job == NULL)
		return;
	g_mutex_lock(&job->lock);
	/* Once abandoned, it stays marked as what it was stuck in. */
	if (job->state == JOB_RUNNING) {
		g_free(job->current);
		job->current = g_strdup(what);
	}
	g_mutex_unlock(&job->lock);
}

gboolean pyfs_deadline_run(const char *what, PyfsDeadlineFunc func, gpointer data,
			   GDestroyNotify free_data, GError **error)
{
	Job *job;
	gint64 deadline;
	gboolean started;
	g_autofree char *at = NULL;

	if (workers == NULL) {
		func(data);
		return TRUE;
	}

	if (pyfs_deadline_is_abandoned(what)) {
		if (free_data != NULL)
			free_data(data);
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_TIMED_OUT,
			    "%s is still running from an earlier request that timed out", what);
		return FALSE;
	}
	/* Every worker is held by work that timed out: none can take this one. */
	if (pyfs_deadline_abandoned() >= workers_max) {
		if (free_data != NULL)
			free_data(data);
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_TIMED_OUT,
			    "%s cannot start: every worker still runs code that timed out", what);
		return FALSE;
	}

	job = g_atomic_rc_box_new0(Job);
	g_mutex_init(&job->lock);
	g_cond_init(&job->changed);
	job->state = JOB_QUEUED;
	job->what = g_strdup(what);
	job->func = func;
	job->data = data;
	job->free_data = free_data;

	deadline = g_get_monotonic_time() + (gint64)limit_s * G_TIME_SPAN_SECOND;
	g_thread_pool_push(workers, g_atomic_rc_box_acquire(job), NULL);

	g_mutex_lock(&job->lock);
	while (job->state != JOB_DONE)
		if (!g_cond_wait_until(&job->changed, &job->lock, deadline) &&
		    job->state != JOB_DONE)
			break;
	if (job->state == JOB_DONE) {
		g_mutex_unlock(&job->lock);
		job_unref(job);
		return TRUE;
	}
	job->state = JOB_ABANDONED;
	started = job->started;
	/* Before the worker can see the job abandoned, and unmark it. */
	if (started) {
		job->abandoned_key = g_strdup(job->current ? job->current : what);
		mark_abandoned(job->abandoned_key);
	}
	if (started && job->current != NULL && g_strcmp0(job->current, what) != 0)
		at = g_strdup_printf(" (stuck in %s)", job->current);
	g_mutex_unlock(&job->lock);

	if (started) {
		g_thread_pool_push(canceller, g_atomic_rc_box_acquire(job), NULL);
	}
	job_unref(job);
	g_set_error(error, PYFS_ERROR, PYFS_ERROR_TIMED_OUT,
		    "%s did not finish within %u s%s", what, limit_s, at ? at : "");
	return FALSE;
}
