/* SPDX-License-Identifier: MIT */
/*
 * A spare of the call server, then the call it takes: forked by the server
 * process (pyfs-callserver-process.c) ahead of need, it warms up and waits
 * on the job socket; the spare that takes a job reads the request, tells
 * the server, and becomes the call. The design is told in
 * pyfs-callserver-process.c.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyfs-callproto.h"
#include "pyfs-callserver-private.h"

/* pyfs_runner.@function(@rounds), stdio on /dev/null (see pyfs_runner.warm_up()). */
void pyfs_callserver_warm_up(Server *s, const char *function, int rounds)
{
	PYFS_PYREF result = PyObject_CallMethod(s->runner, function, "i", rounds); /* New reference */

	if (result == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		/* Calls will run all the same, only slower. */
		g_debug("Call server: cannot warm up: %s", reason);
	}
}

/* How long a spare waits for a connected dispatcher's request. */
#define REQUEST_TIMEOUT_S 10

/* --- A spare, then a call --------------------------------------------------- */

/*
 * A spare keeps the job socket and nothing else of the server's: its
 * signals, its control channel, the call socket, the code watch, the
 * other end of the job socket (which must close for the spares to see
 * it end) and the connections of the calls already running.
 */
static void drop_server_descriptors(Server *s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	GHashTableIter iter;
	gpointer value;

	close(s->signal_fd);
	if (s->control_fd >= 0)
		close(s->control_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->watch != NULL)
		close(pyfs_codewatch_fd(s->watch));
	if (s->jobs[0] >= 0)
		close(s->jobs[0]);
	if (s->report_fd >= 0)
		close(s->report_fd);
	g_hash_table_iter_init(&iter, s->jobs_by_id);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		if (((Job *)value)->conn >= 0)
			close(((Job *)value)->conn);
	/* Until a call brings its own stdio, the warm-up reads and writes
	 * nothing; stderr stays the server's, for the log. */
	for (int i = 0; null >= 0 && i < 2; i++)
		dup2(null, i);
	if (null > 2)
		close(null);
}

/* A runaway call, not pyfsd, is what the OOM killer takes first. */
static void prefer_as_oom_victim(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, "1000", 4) != 4) {
		/* Only a preference. */
	}
	close(fd);
}

/* Waits for a job: the connection of a call, with its id; exits once the
 * server closes the job socket. */
static int take_job(Server *s, guint64 *id)
{
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		struct iovec iov = { id, sizeof(*id) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		struct cmsghdr *cm;
		ssize_t n = recvmsg(s->jobs[1], &msg, MSG_CMSG_CLOEXEC);
		int conn = -1;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		cm = CMSG_FIRSTHDR(&msg);
		if (cm != NULL && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&conn, CMSG_DATA(cm), sizeof(int));
		if (n == sizeof(*id) && conn >= 0)
			return conn;
		if (conn >= 0)
			close(conn);
	}
}

/* Tells the server @value for @sig; retried while the signal queue is full. */
static gboolean tell_server(Server *s, int sig, union sigval value)
{
	for (int tries = 0; tries < 100; tries++) {
		if (sigqueue(s->self, sig, value) == 0)
			return TRUE;
		if (errno != EAGAIN)
			return FALSE;
		g_usleep(1000);
	}
	return FALSE;
}

/* Reads the request on @conn, or NULL: the dispatcher then runs the call itself. */
static PyfsCallIncoming *read_request(int conn)
{
	struct timeval timeout = { .tv_sec = REQUEST_TIMEOUT_S };
	g_autoptr(GError) error = NULL;
	PyfsCallIncoming *in;

	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	in = pyfs_call_recv_request(conn, &error);
	if (in == NULL)
		g_debug("Call server: %s", error->message);
	return in;
}

/* Takes the caller's descriptors as 0, 1, 2 and its working directory. */
static void adopt_fds(PyfsCallIncoming *in)
{
	for (int i = 0; i < 3; i++) {
		if (in->fds[i] < 0)
			close(i);
		else if (dup2(in->fds[i], i) < 0)
			_exit(126);
	}
	if (fchdir(in->fds[3]) != 0) {
		dprintf(2, "pyfs-call: cannot enter the working directory: %s\n",
			g_strerror(errno));
		_exit(126);
	}
	for (int i = 0; i < PYFS_CALL_N_FDS; i++) {
		close(in->fds[i]);
		in->fds[i] = -1;
	}
}

/* The caller's limits, as exec would have kept them; a hard limit above
 * the server's own cannot be raised, and stays the server's. */
static void adopt_limits(const PyfsCallRequest *req)
{
	for (guint i = 0; i < PYFS_CALL_N_LIMITS; i++) {
		struct rlimit limit = { .rlim_cur = req->limits[i].cur, .rlim_max = req->limits[i].max };

		if (setrlimit(pyfs_call_limits[i], &limit) != 0 &&
		    getrlimit(pyfs_call_limits[i], &limit) == 0) {
			limit.rlim_cur = MIN(limit.rlim_max, req->limits[i].cur);
			setrlimit(pyfs_call_limits[i], &limit);
		}
	}
}

/*
 * A fault in a call ends it as it ends python3: by the signal, with its
 * core. A sanitizer built into the server catches faults for its reports;
 * a call's faults are the user's code's, not the server's, and are not
 * for it to catch.
 */
static void default_fault_signals(void)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };

	for (guint i = 0; i < G_N_ELEMENTS(faults); i++)
		signal(faults[i], SIG_DFL);
}

/*
 * In the spare, once warm, before the call comes: nothing blocked (the
 * server's signalfd set included). The dispositions are the defaults the
 * server was spawned with, but for what the warm-up set as a call does
 * (pyfs_runner._adopt_signals()); the call adds what its caller ignores.
 */
static void unblock_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Runs the call in Python; returns its exit status. */
static int run_runner(Server *s, PyfsCallIncoming *in)
{
	PYFS_PYREF items = PyList_New(in->header.n_items); /* New reference */
	PYFS_PYREF env = PyDict_New();                     /* New reference */
	PYFS_PYREF ignored = PyList_New(0);                /* New reference */
	PYFS_PYREF result = NULL;
	g_autofree char *traceback = NULL;
	g_autofree char *line = NULL;
	long status;

	if (items == NULL || env == NULL || ignored == NULL)
		goto fail;
	for (guint i = 0; i < in->header.n_items; i++) {
		/* As python3 decodes its argv: undecodable bytes as surrogates. */
		PyObject *item = PyUnicode_DecodeFSDefault(in->items[i]); /* New reference */

		if (item == NULL)
			goto fail;
		PyList_SET_ITEM(items, i, item); /* Steals item */
	}
	for (guint i = 0; i < in->header.n_env; i++) {
		const char *eq = strchr(in->env[i], '=');
		PYFS_PYREF name = NULL;
		PYFS_PYREF value = NULL;

		if (eq == NULL || eq == in->env[i])
			continue;
		name = PyBytes_FromStringAndSize(in->env[i], eq - in->env[i]); /* New reference */
		value = PyBytes_FromString(eq + 1);                           /* New reference */
		/* The first one wins, as with getenv() and python3's os.environ. */
		if (name == NULL || value == NULL ||
		    PyDict_SetDefault(env, name, value) == NULL) /* Borrowed */
			goto fail;
	}
	for (int sig = 1; sig <= 64; sig++) {
		PYFS_PYREF number = NULL;

		if (!(in->header.ignored & (UINT64_C(1) << (sig - 1))))
			continue;
		number = PyLong_FromLong(sig); /* New reference */
		if (number == NULL || PyList_Append(ignored, number) != 0)
			goto fail;
	}
	result = PyObject_CallMethod(s->runner, "forked_main", "OOO", items, env,
				     ignored); /* New reference */
	if (result == NULL)
		goto fail;
	status = PyLong_AsLong(result);
	if (status == -1 && PyErr_Occurred())
		goto fail;
	return (int)status;

fail:
	/* The runner handles everything but an interrupt while it finishes. */
	if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
		signal(SIGINT, SIG_DFL);
		raise(SIGINT);
	}
	line = pyfs_python_take_exception(&traceback);
	if (traceback != NULL)
		dprintf(2, "%s", traceback);
	else
		dprintf(2, "%s\n", line);
	return 1;
}

/*
 * What is left of a call once it has told its status is its exit: tearing
 * down its address space, which takes a millisecond on some machines. The
 * server, woken by SIG_DONE to tell the dispatcher, is often woken on this
 * CPU, and would wait for that; as SCHED_IDLE, this process gives way to
 * it, and to everything else, at once.
 */
static void leave_the_cpu(void)
{
	struct sched_param none = { 0 };

	if (sched_setscheduler(0, SCHED_IDLE, &none) != 0) {
		/* Only a courtesy: the status goes all the same. */
	}
}

/* Becomes the call @in asks for, and ends with its status. */
static G_GNUC_NORETURN void run_call(Server *s, PyfsCallIncoming *in, int conn)
{
	const PyfsCallRequest *req = &in->header;
	int status;

	/* Nothing of ours is left to the call but the caller's stdio; and
	 * from here on nothing is logged (the log would go to the caller). */
	close(conn);
	close(s->jobs[1]);
	adopt_fds(in);
	umask(req->umask & 0777);
	adopt_limits(req);
	/* The C environment: the request's strings live as long as we do.
	 * forked_main() makes os.environ follow. */
	environ = in->env;
	status = run_runner(s, in);
	/* os._exit semantics: the atexit handlers are those of the server's
	 * modules. The caller's pipes see EOF, and through the server its
	 * dispatcher the status, now rather than after this process is torn
	 * down and reaped. */
	close(0);
	close(1);
	close(2);
	leave_the_cpu();
	tell_server(s, SIG_DONE, (union sigval){ .sival_int = status & 0xff });
	/* The server may be waiting for this CPU already, since SIG_TAKEN:
	 * becoming SCHED_IDLE does not give the CPU up by itself. */
	sched_yield();
	_exit(status);
}

/*
 * The spare asked to report (pyfs-callserver-hotpages.c), once warm: the
 * ranges it holds alone, in one message to the server; then it is a spare
 * like the others. Nothing is sent if /proc cannot tell, or the server
 * stopped reading.
 */
static void report_hot_pages(Server *s)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) ranges = pyfs_callserver_hot_pages_scan(&error);

	if (ranges == NULL)
		g_debug("Call server: %s", error->message);
	else if (ranges->len > 0)
		send(s->report_out, ranges->data, ranges->len * sizeof(PyfsPageRange),
		     MSG_NOSIGNAL | MSG_DONTWAIT);
	close(s->report_out);
	s->report_out = -1;
}

G_GNUC_NORETURN void pyfs_callserver_spare_main(Server *s)
{
	PyOS_AfterFork_Child();
	pyfs_callserver_log_to_stderr();
	/* A session of its own (so no controlling terminal: the caller's
	 * terminal is read and written like any file, without job control
	 * stopping the call) and a process group, for the signals relayed
	 * to the call and to what it starts. */
	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != s->self)
		_exit(0);
	drop_server_descriptors(s);
	prefer_as_oom_victim();
	pyfs_callserver_hot_pages_populate(s->hot_pages);
	pyfs_callserver_warm_up(s, "warm_up", 1);
	if (s->report_out >= 0)
		report_hot_pages(s);
	default_fault_signals();
	unblock_signals();
	for (;;) {
		g_autoptr(GError) error = NULL;
		guint64 id;
		int conn = take_job(s, &id);
		PyfsCallIncoming *in = read_request(conn);

		if (in == NULL) {
			/* Nothing ran: the dispatcher, seeing the end before STARTED,
			 * runs the call itself; this spare waits for the next job. */
			close(conn);
			tell_server(s, SIG_TAKEN,
				    (union sigval){ .sival_ptr = (void *)(uintptr_t)(id | TAKEN_FAILED) });
			continue;
		}
		/* Ready: the descriptors come now, unless the dispatcher gave up
		 * waiting and runs the call itself. */
		pyfs_call_send_msg(conn, PYFS_CALL_MSG_STARTED, getpid());
		if (!pyfs_call_recv_fds(conn, in, &error)) {
			g_message("Call server: a call not started: %s", error->message);
			g_clear_error(&error);
			pyfs_call_incoming_free(in);
			close(conn);
			tell_server(s, SIG_TAKEN,
				    (union sigval){ .sival_ptr = (void *)(uintptr_t)(id | TAKEN_FAILED) });
			continue;
		}
		if (!tell_server(s, SIG_TAKEN, (union sigval){ .sival_ptr = (void *)(uintptr_t)id }))
			_exit(1);
		run_call(s, in, conn);
	}
}
