/* SPDX-License-Identifier: MIT */
/*
 * The call server: calls from a warm interpreter, each in a process of its own.
 *
 * Starting python3 for every call of an executable file costs tens of
 * milliseconds; a server that has the modules imported already forks a
 * process per call instead. The call must not run in pyfsd itself (it may
 * crash, loop, chdir, change module state or call os._exit), and pyfsd,
 * which has threads, must not fork a copy of itself: pyfsd spawns this
 * server as a program of its own (pyfs-callserver, exec'ed), tells it what
 * to import over the control channel (pyfs-control.h; the import itself
 * is pyfs-callserver-import.c), and supervises it
 * (src/callserver/supervisor/pyfs-callserver.c): a server that dies is
 * started again, and when the module list or the code changes, a new
 * generation is started and, once it serves, the old one drains: it takes
 * no more calls and exits when those it runs have ended.
 *
 * The server has a single thread, which holds the GIL for good, so that
 * it can fork. What a fork costs is what comes after it: every page a
 * child writes is copied then (Python writes to every object it touches,
 * if only to count a reference), at tens of microseconds a page on some
 * machines. So the server forks its children ahead of need: "spares" that
 * have run the runner's machinery once on /dev/null
 * (pyfs_runner.warm_up(), after the server itself ran it, so that the
 * code specialised by 3.11's adaptive interpreter is shared) and wait for
 * a job. Which pages that warm-up writes, the server's first spare tells
 * it; each spare forked after copies them first, in a few system calls
 * rather than a page fault each (pyfs-callserver-hotpages.c). The server
 * accepts each connection itself: it checks the peer's uid, and whether
 * the code it imported is still the code on disk (pyfs-codewatch.h: one
 * read of an inotify descriptor); then it queues
 * the connection on the job socket, where the first idle spare takes it,
 * reads the request, says so (sigqueue), and becomes the call
 * (pyfs-callserver-spare.c; the jobs' bookkeeping is in
 * pyfs-callserver-jobs.c): it adopts the caller's stdio, working
 * directory, environment, umask, limits and ignored signals, closes every
 * descriptor of ours, and runs pyfs_runner.forked_main(). The server
 * keeps the connection, to relay the dispatcher's signals to the call and
 * to send it the call's status; a spare serves one call and no more, so no
 * call sees what another did.
 *
 *   pyfsd --spawn, control--> server --fork--> spares --job--> a call
 *                               ^                                 |
 *                               '--------- sigqueue --------------'
 *
 * A server whose code changed takes no more calls: it closes each new
 * connection before the call starts, which makes the dispatcher run the
 * call with python3 (the current code, at once), tells pyfsd, which starts
 * the next generation, and lets its idle spares go.
 *
 * Signals: a terminal delivers Ctrl-C to its foreground process group,
 * which holds the dispatcher, not the call (in a session of its own, so
 * that reading the terminal never stops it with SIGTTIN); the dispatcher
 * relays what it gets through the server, which sends it to the call's
 * process group, as the terminal would have. A dispatcher that
 * disappears takes its call with it (SIGKILL); a server that disappears
 * takes its calls and spares (PR_SET_PDEATHSIG), and pyfsd takes the
 * server.
 *
 * Security: the socket is 0600 in a 0700 directory, and a connection whose
 * SO_PEERCRED uid is not the server's own is refused and logged.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyfs-callargs.h"
#include "pyfs-callserver-private.h"
#include "pyfs-control.h"
#include "pyfs-error.h"
#include "pyfs-runner-code.h"

/* Spares kept waiting beyond the jobs queued: enough for a burst of
 * calls (xargs -P, a pipeline) while the server is idle, each ~1.2 MiB
 * of memory of its own; one while a call starts, runs or exits. */
#define SPARES_IDLE 4
#define SPARES_IDLE_BUSY 1
/* Spares that may die before taking a job, in a row, before the server
 * gives up (pyfsd starts it again, later). */
#define SPARE_FAILURES_MAX 3
/* After a failed fork, when to try again. */
#define FORK_RETRY_MS 200
/* How long calls may take to end on SIGTERM when the server stops. */
#define CALL_GRACE_MS 2000

static void tell_pyfsd(Server *s, PyfsControlType type, const char *name)
{
	int r = s->control_fd >= 0 ? pyfs_control_send(s->control_fd, type, 0, name) : 0;

	if (r < 0)
		g_debug("Call server: cannot tell pyfsd: %s", g_strerror(-r));
}

/* --- Spares ------------------------------------------------------------------ */

static void fork_spare(Server *s)
{
	pid_t pid;

	if (s->phase == PHASE_SERVING)
		pyfs_callserver_hot_pages_ask(s);
	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0)
		pyfs_callserver_spare_main(s);
	PyOS_AfterFork_Parent();
	pyfs_callserver_hot_pages_asked(s, pid);
	if (pid < 0) {
		/* Once per run of failures: they repeat every FORK_RETRY_MS. */
		if (!s->fork_failing)
			g_warning("Call server: cannot fork a spare: %s", g_strerror(errno));
		s->fork_failing = TRUE;
		s->retry_at = g_get_monotonic_time() + FORK_RETRY_MS * G_TIME_SPAN_MILLISECOND;
		return;
	}
	s->fork_failing = FALSE;
	g_hash_table_add(s->spares, GINT_TO_POINTER(pid));
}

/*
 * Enough spares for the jobs waiting, and more while serving. A fork, and
 * the warm-up of the spare it makes, take the CPU from a call that starts,
 * runs or exits (on some machines, first touching a page is what costs,
 * and two processes doing so slow each other down): while a call is under
 * way, one idle spare is enough for the next call, and the others are
 * made once it has been reaped.
 */
static void fill_spares(Server *s)
{
	gboolean busy = g_hash_table_size(s->jobs_by_id) > 0 || g_hash_table_size(s->exiting) > 0;
	guint want = pyfs_callserver_jobs_waiting(s);

	if (s->phase == PHASE_SERVING && !s->stale)
		want += busy ? SPARES_IDLE_BUSY : SPARES_IDLE;
	if (s->phase == PHASE_STOPPING || s->phase == PHASE_IMPORTING || s->retry_at != 0)
		return;
	while (g_hash_table_size(s->spares) < want && s->retry_at == 0)
		fork_spare(s);
}

/* Idle spares go once the jobs queued are taken: the job socket ends. */
static void stop_spares(Server *s)
{
	if (s->jobs[0] >= 0)
		close(s->jobs[0]);
	s->jobs[0] = -1;
}

/* --- Taking calls ------------------------------------------------------------ */

static void become_stale(Server *s, const char *why)
{
	if (s->stale)
		return;
	g_info("Call server: %s; calls start python3 until the next one serves", why);
	s->stale = TRUE;
	stop_spares(s);
	tell_pyfsd(s, PYFS_CONTROL_STALE, NULL);
}

/* One connection from the backlog, if there is one. */
static void take_connection(Server *s)
{
	int conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	Job *job;

	if (conn < 0) {
		/* EAGAIN: pyfsd or another generation was quicker. */
		if (errno == EMFILE || errno == ENFILE)
			g_warning("Call server: cannot accept a call: %s", g_strerror(errno));
		return;
	}
	if (!pyfs_callserver_peer_is_ours(s, conn)) {
		close(conn);
		return;
	}
	/* The kernel queued every change made before this caller connected:
	 * what is not in the watch's queue now came later. */
	if (s->watch != NULL && pyfs_codewatch_changed(s->watch))
		become_stale(s, "a source file changed");
	/* Closed before the call starts: the dispatcher runs it with python3. */
	if (s->stale || s->jobs[0] < 0) {
		close(conn);
		return;
	}
	job = g_new0(Job, 1);
	job->id = ++s->next_id;
	job->conn = conn;
	job->queued_at = g_get_monotonic_time();
	if (!pyfs_callserver_queue_job(s, job->id, conn)) {
		g_warning("Call server: cannot queue a call: %s", g_strerror(errno));
		pyfs_callserver_job_free(job);
		return;
	}
	g_hash_table_insert(s->jobs_by_id, &job->id, job);
}

/* --- Lifecycle ---------------------------------------------------------------- */

static void begin_stop(Server *s, const char *why)
{
	GHashTableIter iter;
	gpointer key, value;

	if (s->phase == PHASE_STOPPING)
		return;
	g_debug("Call server stopping: %s", why);
	s->phase = PHASE_STOPPING;
	s->kill_at = g_get_monotonic_time() + CALL_GRACE_MS * G_TIME_SPAN_MILLISECOND;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	stop_spares(s);
	/* Queued, never taken: their dispatchers run them with python3. */
	g_hash_table_iter_init(&iter, s->jobs_by_id);
	while (g_hash_table_iter_next(&iter, &key, &value))
		if (((Job *)value)->pid == 0)
			g_hash_table_iter_remove(&iter);
	g_hash_table_iter_init(&iter, s->calls);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		pyfs_callserver_signal_call(GPOINTER_TO_INT(key), SIGTERM);
}

static void drain(Server *s)
{
	if (s->phase != PHASE_SERVING)
		return;
	g_debug("Call server draining: %u calls running", g_hash_table_size(s->calls));
	s->phase = PHASE_DRAINING;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	stop_spares(s);
}

/* A child reaped: a spare that died before taking a job, or a call. */
static void child_ended(Server *s, pid_t pid, int status)
{
	g_hash_table_remove(s->exiting, GINT_TO_POINTER(pid));
	if (!g_hash_table_remove(s->spares, GINT_TO_POINTER(pid))) {
		pyfs_callserver_call_ended(s, pid, status);
		return;
	}
	/* Retired, or stopping: they leave when told to. */
	if (s->jobs[0] < 0 || s->phase == PHASE_STOPPING)
		return;
	/* Killed from outside (the OOM killer prefers spares): replaced. */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		g_message("Call server: a spare (pid %d) was killed", pid);
		return;
	}
	g_warning("Call server: a spare (pid %d) died idle (wait status 0x%x)", pid, status);
	if (++s->failures >= SPARE_FAILURES_MAX) {
		g_warning("Call server: its spares keep dying; giving up");
		begin_stop(s, "its spares keep dying");
	}
}

/* The signals waiting (what spares and calls tell, and stop requests);
 * TRUE if a child exited. */
static gboolean read_signal_queue(Server *s)
{
	struct signalfd_siginfo si;
	gboolean children = FALSE;

	while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		int sig = si.ssi_signo;

		if (sig == SIG_TAKEN && si.ssi_code == SI_QUEUE)
			pyfs_callserver_job_taken(s, si.ssi_pid, si.ssi_ptr);
		else if (sig == SIG_DONE && si.ssi_code == SI_QUEUE &&
			 pyfs_callserver_call_ended(s, si.ssi_pid, W_EXITCODE(si.ssi_int & 0xff, 0)))
			g_hash_table_add(s->exiting, GINT_TO_POINTER(si.ssi_pid));
		else if (sig == SIGCHLD)
			children = TRUE;
		else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
			begin_stop(s, g_strsignal(sig));
	}
	return children;
}

/*
 * Every signal waiting, then the children that exited. A child's exit can
 * be reaped before its own signals were read (the queue was drained, then
 * the child took a job, ran its call and exited before waitpid()); but
 * whatever it queued was queued before it exited: the queue is read again
 * after each waitpid() round, before the deaths are handled, so that a
 * call that took its job is never taken for a spare that died idle.
 */
/* A child reaped: its pid and wait status. */
typedef struct {
	pid_t pid;
	int status;
} Ended;

static void read_signals(Server *s)
{
	gboolean children = read_signal_queue(s);

	while (children) {
		Ended child;

		g_array_set_size(s->ended, 0);
		while ((child.pid = waitpid(-1, &child.status, WNOHANG)) > 0)
			g_array_append_val(s->ended, child);
		children = read_signal_queue(s);
		for (guint i = 0; i < s->ended->len; i++)
			child_ended(s, g_array_index(s->ended, Ended, i).pid,
				    g_array_index(s->ended, Ended, i).status);
	}
}

static void import_module(Server *s, const char *name)
{
	tell_pyfsd(s, PYFS_CONTROL_IMPORTING, name);
	pyfs_callserver_import(name);
	tell_pyfsd(s, PYFS_CONTROL_IMPORTED, name);
}

static void serve_now(Server *s)
{
	if (pyfs_callserver_end_imports(s))
		become_stale(s, "a source file changed while it started");
	s->phase = PHASE_SERVING;
	fill_spares(s);
	tell_pyfsd(s, PYFS_CONTROL_READY, NULL);
	if (s->stale)
		tell_pyfsd(s, PYFS_CONTROL_STALE, NULL);
}

/* Everything pyfsd sent that is waiting. */
static void read_control(Server *s)
{
	for (;;) {
		g_autoptr(GError) error = NULL;
		g_auto(PyfsControlMsg) msg = { 0 };
		int r = pyfs_control_recv(s->control_fd, &msg, &error);

		if (r == -EAGAIN)
			return;
		if (r == 0) {
			close(s->control_fd);
			s->control_fd = -1;
			begin_stop(s, "pyfsd is gone");
			return;
		}
		if (r < 0) {
			g_warning("Call server: %s", error->message);
			continue;
		}
		if (msg.type == PYFS_CONTROL_IMPORT && s->phase == PHASE_IMPORTING)
			import_module(s, msg.text);
		else if (msg.type == PYFS_CONTROL_SERVE && s->phase == PHASE_IMPORTING)
			serve_now(s);
		else if (msg.type == PYFS_CONTROL_RETIRE)
			become_stale(s, "a fresh import of the modules was asked for");
		else if (msg.type == PYFS_CONTROL_DRAIN)
			drain(s);
		else
			g_warning("Call server: unexpected control message %u", (guint)msg.type);
	}
}

/* Jobs whose spare died before it could say it took them; returns when
 * the next one waiting would be. */
static int poll_timeout(Server *s)
{
	gint64 now = g_get_monotonic_time(), at = pyfs_callserver_sweep_abandoned(s, now);

	if (s->kill_at != 0)
		at = MIN(at, s->kill_at);
	if (s->retry_at != 0)
		at = MIN(at, s->retry_at);
	if (s->report_fd >= 0)
		at = MIN(at, s->report_by);
	if (at == G_MAXINT64)
		return -1;
	return at > now ? (int)((at - now) / G_TIME_SPAN_MILLISECOND) + 1 : 0;
}

static gboolean finished(Server *s)
{
	return (s->phase == PHASE_DRAINING || s->phase == PHASE_STOPPING) &&
	       g_hash_table_size(s->jobs_by_id) == 0 && g_hash_table_size(s->spares) == 0;
}

static void kill_the_rest(Server *s)
{
	GHashTableIter iter;
	gpointer pid;

	g_hash_table_iter_init(&iter, s->calls);
	while (g_hash_table_iter_next(&iter, &pid, NULL))
		pyfs_callserver_signal_call(GPOINTER_TO_INT(pid), SIGKILL);
	g_hash_table_iter_init(&iter, s->spares);
	while (g_hash_table_iter_next(&iter, &pid, NULL))
		kill(GPOINTER_TO_INT(pid), SIGKILL);
	s->kill_at = G_MAXINT64;
}

static G_GNUC_NORETURN void serve(Server *s)
{
	enum { SIGNALS, CONTROL, LISTEN, WATCH, REPORT, FIRST_CALL };

	for (;;) {
		guint n_calls = g_hash_table_size(s->calls), n = FIRST_CALL;
		struct pollfd *pfds;
		/* By pid: a call that ends while its messages are read is freed. */
		pid_t *polled;
		GHashTableIter iter;
		gpointer job;
		gint64 now;

		if (finished(s))
			_exit(0);
		pfds = (struct pollfd *)g_array_set_size(s->pollfds, FIRST_CALL + n_calls)->data;
		polled = (pid_t *)g_array_set_size(s->polled, n_calls)->data;
		pfds[SIGNALS] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
		pfds[CONTROL] = (struct pollfd){ .fd = s->control_fd, .events = POLLIN };
		pfds[LISTEN] = (struct pollfd){
			.fd = s->phase == PHASE_SERVING ? s->listen_fd : -1, .events = POLLIN
		};
		pfds[WATCH] = (struct pollfd){
			.fd = s->watch && !s->stale ? pyfs_codewatch_fd(s->watch) : -1,
			.events = POLLIN
		};
		pfds[REPORT] = (struct pollfd){ .fd = s->report_fd, .events = POLLIN };
		g_hash_table_iter_init(&iter, s->calls);
		while (g_hash_table_iter_next(&iter, NULL, &job)) {
			if (((Job *)job)->conn < 0)
				continue;
			polled[n - FIRST_CALL] = ((Job *)job)->pid;
			pfds[n++] = (struct pollfd){ .fd = ((Job *)job)->conn, .events = POLLIN };
		}
		if (poll(pfds, n, poll_timeout(s)) < 0 && errno != EINTR) {
			g_critical("Call server: poll: %s", g_strerror(errno));
			_exit(1);
		}
		/* What spares and calls said, and what pyfsd said, before any new
		 * call: a RETIRE sent before a caller connected is seen first. */
		if (pfds[SIGNALS].revents)
			read_signals(s);
		if (s->control_fd >= 0 && pfds[CONTROL].revents)
			read_control(s);
		if (s->report_fd >= 0 && pfds[REPORT].revents)
			pyfs_callserver_hot_pages_read(s);
		if (pfds[WATCH].revents && pyfs_codewatch_changed(s->watch))
			become_stale(s, "a source file changed");
		if (s->listen_fd >= 0 && s->phase == PHASE_SERVING && pfds[LISTEN].revents)
			take_connection(s);
		/* The calls polled are still there unless a signal ended them
		 * (and freed their job): looked up again, never dereferenced. */
		for (guint i = FIRST_CALL; i < n; i++) {
			Job *polled_job = pfds[i].revents ? g_hash_table_lookup(
				s->calls, GINT_TO_POINTER(polled[i - FIRST_CALL])) : NULL;

			if (polled_job != NULL && polled_job->conn == pfds[i].fd)
				pyfs_callserver_read_messages(s, polled_job);
		}

		now = g_get_monotonic_time();
		if (s->retry_at != 0 && now >= s->retry_at)
			s->retry_at = 0;
		pyfs_callserver_hot_pages_expire(s, now);
		fill_spares(s);
		if (s->kill_at != 0 && now >= s->kill_at)
			kill_the_rest(s);
	}
}

static void setup_signals(Server *s)
{
	struct rlimit files;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIG_TAKEN);
	sigaddset(&set, SIG_DONE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->jobs) != 0) {
		g_critical("Call server: cannot set up: %s", g_strerror(errno));
		_exit(1);
	}
	/* No disposition is changed here (a spare inherits them, and Python's
	 * signal module would not know): sends use MSG_NOSIGNAL instead of an
	 * ignored SIGPIPE. Calls get the caller's limit of descriptors; the
	 * server holds one per call. */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
}

void pyfs_callserver_run(const PyfsCallServerSetup *setup)
{
	g_autoptr(GError) error = NULL;
	Server s = {
		.listen_fd = setup->listen_fd, .control_fd = setup->control_fd,
		.jobs = { -1, -1 },
		.report_fd = -1, .report_out = -1,
		.self = getpid(), .uid = geteuid(),
		.phase = PHASE_IMPORTING,
		.spares = g_hash_table_new(NULL, NULL),
		.jobs_by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, pyfs_callserver_job_free),
		.calls = g_hash_table_new(NULL, NULL),
		.exiting = g_hash_table_new(NULL, NULL),
		.pollfds = g_array_new(FALSE, TRUE, sizeof(struct pollfd)),
		.polled = g_array_new(FALSE, TRUE, sizeof(pid_t)),
		.ended = g_array_new(FALSE, FALSE, sizeof(Ended)),
	};

	setup_signals(&s);
	s.runner = pyfs_python_load_module("pyfs_runner", pyfs_call_runner_source,
					   pyfs_call_runner_code, pyfs_call_runner_code_size, &error);
	if (s.runner == NULL) {
		g_critical("Call server: %s", error->message);
		_exit(1);
	}
	pyfs_callserver_begin_imports(&s);
	serve(&s);
}
