/* SPDX-License-Identifier: MIT */
/*
 * The call server: calls from a warm interpreter, each in a process of its own.
 *
 * Starting python3 for every call of an executable file costs tens of
 * milliseconds; pyfsd holds an interpreter with the modules imported. But a
 * call must not run in pyfsd itself: it may crash, loop, exhaust memory,
 * chdir, change module state or call os._exit. So pyfsd forks, once, while
 * it still has a single thread (a fork copies only the calling thread, and
 * not the locks other threads hold: GLib's, libfuse's, the GIL), a server
 * process holding a copy of the interpreter, and the server forks a process
 * per call, which owns nothing anyone else depends on.
 *
 * Forking is fast; what is slow is what comes after: every page a child
 * writes (and Python writes to every object it touches, if only to count a
 * reference) is copied on the first write, some hundreds of page faults for
 * the runner's own work. So the server forks its children ahead of need: a
 * few "spares" that have run the runner's machinery on /dev/null
 * (pyfs_runner.warm_up(), after the server itself did, so that 3.11's
 * specialised code is shared) and wait in accept() on the call socket. The
 * spare that accepts a connection checks the peer, reads the request,
 * hands the connection to the server (for the caller's signals and the
 * status) and becomes the call: it adopts the caller's stdio, working
 * directory, environment, umask, resource limits and ignored signals, runs
 * pyfs_runner.forked_main(), reports its status to the dispatcher itself
 * (so that nobody waits for its teardown) and _exits with it; a call that
 * dies otherwise is reported by the server. The server forks a replacement
 * once a call ends. A spare serves one call and no more: no call sees what
 * another did.
 *
 * Processes, and the descriptors that tie them:
 *
 *   pyfsd --control--> server --fork--> spares --accept--> a call
 *                        ^  '-- retire pipe --'                |
 *                        '------------- handoff ---------------'
 *
 *   control: module names to import; its closing means pyfsd is gone.
 *   retire:  one pipe per generation of spares; closing it sends the idle
 *            ones away (the server imported a module; it is stopping).
 *   handoff: a spare that took a call sends its pid and the connection;
 *            a call that ended and reported it says so (the dispatcher
 *            leaving then is no reason to kill what it left running).
 *
 * Signals: a terminal delivers Ctrl-C to its foreground process group,
 * which holds the dispatcher, not the call (in a session of its own, so
 * that reading the terminal never stops it with SIGTTIN); the dispatcher
 * relays what it gets through the server, which sends it to the call's
 * process group, as the terminal would have. A dispatcher that disappears
 * takes its call with it (SIGKILL); a server that disappears takes its
 * calls and spares (PR_SET_PDEATHSIG).
 *
 * Security: the socket is 0600 in a 0700 directory, and a connection whose
 * SO_PEERCRED uid is not the server's own is refused and logged.
 *
 * pyfsd cannot fork a new server once its threads run: a server that dies
 * is logged, and the dispatchers, finding no socket, start python3 again.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pyfs-callargs.h"
#include "pyfs-callproto.h"
#include "pyfs-callserver.h"
#include "pyfs-error.h"
#include "pyfs-label.h"

/* Spares ready at any time: enough for calls in quick succession, each
 * costing a few megabytes of copied pages. */
#define SPARES 3
/* Spares of one generation that may die before taking a call, in a row,
 * before the server gives up (and the dispatchers start python3). */
#define SPARE_FAILURES_MAX 3
/* How long a spare waits for a connected dispatcher's request. */
#define REQUEST_TIMEOUT_S 10
/* After a failed fork, when to try again. */
#define FORK_RETRY_MS 200
/* How long calls may take to end on SIGTERM when the server stops. */
#define CALL_GRACE_MS 2000
/* How long pyfsd waits for the server to stop (its grace included). */
#define SERVER_STOP_TIMEOUT_MS 5000

/* Imported in the server once, so that no call pays for them (see pyfs_runner.py). */
static const char *const runner_modules[] = {
	"io", "signal", "select", "json", "inspect", "traceback", NULL,
};

struct _PyfsCallServer {
	GPid pid;		/* 0 once reaped */
	int control_fd;		/* closing it tells the server to stop */
	char *socket_path;
	struct stat socket_st;	/* to remove the socket only while it is ours */
	char *private_dir;	/* the mkdtemp() directory of the socket, or NULL */
	guint watch_id;
};

/* --- The server process --------------------------------------------------- */

/* From a spare or a call to the server, over the handoff socket. */
typedef struct {
	int32_t type;		/* HANDOFF_TAKEN (with the connection) or HANDOFF_DONE */
	int32_t pid;
} Handoff;

enum {
	HANDOFF_TAKEN = 1,	/* this spare took a call: here is its connection */
	HANDOFF_DONE = 2,	/* this call ended and told its dispatcher so */
};

/* A running call's connection, held for its dispatcher's signals and its status. */
typedef struct {
	int fd;			/* -1 once closed */
	pid_t pid;
	PyfsCallMsg in;		/* a message being read: in_len bytes so far */
	gsize in_len;
} Conn;

typedef struct {
	PyObject *runner;	/* the pyfs_runner module: strong reference, for good */
	int listen_fd;		/* the spares accept on it; -1 once stopping */
	int control_fd;		/* -1 once pyfsd is gone */
	int signal_fd;
	int handoff[2];		/* SOCK_SEQPACKET: [0] ours, [1] the spares' */
	int retire[2];		/* this generation's pipe: [0] the spares', [1] ours */
	guint generation;
	guint failures;		/* spares of this generation that died idle, in a row */
	gboolean refill;	/* time to bring the spares back to SPARES */
	GHashTable *spares;	/* pid -> generation */
	GHashTable *calls;	/* pid -> Conn *, or NULL once its dispatcher left */
	GPtrArray *conns;	/* of Conn *, owned */
	GString *control_in;	/* pyfsd's partial line */
	uid_t uid;
	pid_t self;
	const char *socket_path;
	struct stat socket_st;
	gint64 retry_at;	/* a fork failed: when to try again; else 0 */
	gboolean fork_failing;
	gint64 kill_at;		/* stopping: when calls left get SIGKILL; else 0 */
} Server;

static void remove_socket(const char *path, const struct stat *ours)
{
	struct stat st;

	/* A pyfsd started since on the same mountpoint may own the path now. */
	if (path != NULL && lstat(path, &st) == 0 && st.st_dev == ours->st_dev &&
	    st.st_ino == ours->st_ino)
		unlink(path);
}

/* The call and whatever it started in its process group, as a terminal signals a job. */
static void signal_call(pid_t pid, int sig)
{
	if (kill(-pid, sig) != 0 && errno == ESRCH)
		kill(pid, sig);
}

static void conn_close(Conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* --- A spare, then a call --------------------------------------------------- */

/* What a spare keeps: the call socket, the handoff socket, its generation's pipe. */
static void spare_detach(Server *s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	close(s->signal_fd);
	close(s->control_fd);
	close(s->handoff[0]);
	close(s->retire[1]);
	for (guint i = 0; i < s->conns->len; i++)
		conn_close(s->conns->pdata[i]);
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

/* pyfs_runner.@function(@rounds), stdio on /dev/null (see pyfs_runner.warm_up()). */
static void warm_up(Server *s, const char *function, int rounds)
{
	PYFS_PYREF result = PyObject_CallMethod(s->runner, function, "i", rounds); /* New reference */

	if (result == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		/* Calls will run all the same, only slower. */
		g_debug("Call server: cannot warm up: %s", reason);
	}
}

/* Waits for a connection from our own user and reads its request; NULL
 * once the spare is retired. */
static PyfsCallIncoming *take_call(Server *s, int *conn)
{
	/* EPOLLEXCLUSIVE: a connection wakes one spare, not all of them to
	 * race for it; the retire pipe wakes them all. */
	struct epoll_event listen_ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = 0 };
	struct epoll_event retire_ev = { .events = EPOLLIN, .data.fd = 1 };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->listen_fd, &listen_ev) != 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, s->retire[0], &retire_ev) != 0)
		_exit(1);
	for (;;) {
		struct timeval timeout = { .tv_sec = REQUEST_TIMEOUT_S };
		g_autoptr(GError) error = NULL;
		struct epoll_event ev;
		PyfsCallIncoming *in;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int fd, n;

		n = epoll_wait(ep, &ev, 1, -1);
		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n <= 0)
			continue;
		if (ev.data.fd == 1)
			return NULL;
		/* Blocking: this spare serves this connection and nothing else. */
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* EAGAIN: another spare was quicker. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				_exit(1);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
		    cred.uid != s->uid) {
			g_warning("Call server: refused a call from uid %d (pid %d): only uid %u may call",
				  len == sizeof(cred) ? (int)cred.uid : -1,
				  len == sizeof(cred) ? (int)cred.pid : -1, (guint)s->uid);
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
		in = pyfs_call_recv_request(fd, &error);
		if (in != NULL) {
			close(ep);
			*conn = fd;
			return in;
		}
		/* Closed without STARTED: the dispatcher runs python3 itself. */
		g_debug("Call server: %s", error->message);
		close(fd);
	}
}

/* Tells the server, with @conn (or -1) attached. */
static gboolean tell_server(Server *s, int32_t type, int conn)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	Handoff handoff = { .type = type, .pid = getpid() };
	struct iovec iov = { &handoff, sizeof(handoff) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (conn >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &conn, sizeof(int));
	}
	return sendmsg(s->handoff[1], &msg, MSG_NOSIGNAL) == sizeof(handoff);
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

/* In the spare, before the call comes: every disposition the default,
 * set through Python so that the signal module knows (it caches them), and
 * nothing blocked (the server's signalfd set included). The call then sets
 * what its caller ignores (forked_main()). */
static void reset_signals(Server *s)
{
	PYFS_PYREF result = PyObject_CallMethod(s->runner, "reset_signals", NULL); /* New reference */
	sigset_t none;

	if (result == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		g_warning("Call server: cannot reset a spare's signals: %s", reason);
		_exit(1);
	}
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

/* Becomes the call @in asks for, and ends with its status. */
static G_GNUC_NORETURN void run_call(Server *s, PyfsCallIncoming *in, int conn)
{
	const PyfsCallRequest *req = &in->header;
	int status;

	close(s->listen_fd);
	close(s->retire[0]);
	adopt_fds(in);
	umask(req->umask & 0777);
	adopt_limits(req);
	/* The C environment: the request's strings live as long as we do.
	 * forked_main() makes os.environ follow. */
	environ = in->env;
	status = run_runner(s, in);
	/* os._exit semantics: the atexit handlers are those of pyfsd's modules.
	 * The caller's pipes see EOF, and its dispatcher the status, now
	 * rather than after this process is torn down and reaped; the server
	 * first, so that it takes the dispatcher leaving for what it is. */
	close(0);
	close(1);
	close(2);
	tell_server(s, HANDOFF_DONE, -1);
	pyfs_call_send_msg(conn, PYFS_CALL_MSG_EXIT, W_EXITCODE(status & 0xff, 0));
	_exit(status);
}

static G_GNUC_NORETURN void spare_main(Server *s)
{
	PyfsCallIncoming *in;
	int conn = -1;

	PyOS_AfterFork_Child();
	/* A session of its own (so no controlling terminal: the caller's
	 * terminal is read and written like any file, without job control
	 * stopping the call) and a process group, for the signals relayed
	 * to the call and to what it starts. */
	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != s->self)
		_exit(0);
	spare_detach(s);
	prefer_as_oom_victim();
	warm_up(s, "warm_up", 1);
	reset_signals(s);
	in = take_call(s, &conn);
	if (in == NULL || !tell_server(s, HANDOFF_TAKEN, conn))
		_exit(0);
	pyfs_call_send_msg(conn, PYFS_CALL_MSG_STARTED, getpid());
	run_call(s, in, conn);
}

/* --- The server's own business ---------------------------------------------- */

static void fork_spare(Server *s)
{
	pid_t pid;

	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0)
		spare_main(s);
	PyOS_AfterFork_Parent();
	if (pid < 0) {
		/* Once per run of failures: they repeat every FORK_RETRY_MS. */
		if (!s->fork_failing)
			g_warning("Call server: cannot fork a spare: %s", g_strerror(errno));
		s->fork_failing = TRUE;
		s->retry_at = g_get_monotonic_time() + FORK_RETRY_MS * G_TIME_SPAN_MILLISECOND;
		return;
	}
	s->fork_failing = FALSE;
	g_hash_table_insert(s->spares, GINT_TO_POINTER(pid), GUINT_TO_POINTER(s->generation));
}

/*
 * Warming a spare up takes a few milliseconds of CPU: not while a call
 * that just started runs, unless no spare is left. Spares are replaced
 * once a call ends (s->refill), which for most calls is soon.
 */
static void fill_spares(Server *s)
{
	GHashTableIter iter;
	gpointer generation;
	guint ready = 0;

	if (s->kill_at != 0 || s->failures >= SPARE_FAILURES_MAX || s->retry_at != 0)
		return;
	g_hash_table_iter_init(&iter, s->spares);
	while (g_hash_table_iter_next(&iter, NULL, &generation))
		ready += GPOINTER_TO_UINT(generation) == s->generation;
	if (ready > 0 && !s->refill)
		return;
	for (; ready < SPARES && s->retry_at == 0; ready++)
		fork_spare(s);
	s->refill = FALSE;
}

/* Idle spares of the generation ending leave; those forked next hold the new one. */
static gboolean new_generation(Server *s)
{
	if (s->retire[1] >= 0) {
		close(s->retire[0]);
		close(s->retire[1]);
	}
	s->retire[0] = s->retire[1] = -1;
	s->generation++;
	s->failures = 0;
	s->refill = TRUE;
	if (pipe2(s->retire, O_CLOEXEC) != 0) {
		g_critical("Call server: cannot create a pipe: %s", g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static void begin_stop(Server *s, const char *why);

/* A spare took a call: its connection, for the signals and the status. */
static void call_taken(Server *s, pid_t pid, int fd)
{
	Conn *c;

	if (!g_hash_table_remove(s->spares, GINT_TO_POINTER(pid))) {
		close(fd);
		return;
	}
	c = g_new0(Conn, 1);
	c->fd = fd;
	c->pid = pid;
	g_ptr_array_add(s->conns, c);
	g_hash_table_insert(s->calls, GINT_TO_POINTER(pid), c);
	s->failures = 0;
	g_debug("Call server: call %d started", pid);
	if (s->kill_at != 0)
		signal_call(pid, SIGTERM);
}

/* A call ended and told its dispatcher: that one leaving is no reason to
 * kill what the call left running in its process group. */
static void call_done(Server *s, pid_t pid)
{
	Conn *c = g_hash_table_lookup(s->calls, GINT_TO_POINTER(pid));

	if (c == NULL)
		return;
	conn_close(c);
	g_hash_table_insert(s->calls, GINT_TO_POINTER(pid), NULL);
}

static void read_handoffs(Server *s)
{
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		Handoff handoff;
		struct iovec iov = { &handoff, sizeof(handoff) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		struct cmsghdr *cm;
		ssize_t n = recvmsg(s->handoff[0], &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		int fd = -1;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		cm = CMSG_FIRSTHDR(&msg);
		if (cm != NULL && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (n == sizeof(handoff) && handoff.type == HANDOFF_TAKEN && fd >= 0)
			call_taken(s, handoff.pid, fd);
		else if (n == sizeof(handoff) && handoff.type == HANDOFF_DONE)
			call_done(s, handoff.pid);
		else if (fd >= 0)
			close(fd);
	}
}

/* Messages from the dispatcher of a running call. */
static void read_messages(Server *s, Conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, (char *)&c->in + c->in_len, sizeof(c->in) - c->in_len,
				 MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* The dispatcher was killed: so is its call, as exec would have it. */
			signal_call(c->pid, SIGKILL);
			g_hash_table_insert(s->calls, GINT_TO_POINTER(c->pid), NULL);
			conn_close(c);
			return;
		}
		c->in_len += n;
		if (c->in_len < sizeof(c->in))
			continue;
		c->in_len = 0;
		if (c->in.type == PYFS_CALL_MSG_SIGNAL && c->in.value > 0 && c->in.value < NSIG)
			signal_call(c->pid, c->in.value);
	}
}

static void reap(Server *s)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGCHLD)
			begin_stop(s, g_strsignal(si.ssi_signo));
	}
	/* A spare that took a call and ended since is a call, not a spare. */
	read_handoffs(s);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		gpointer generation;
		Conn *c = NULL;

		if (g_hash_table_steal_extended(s->spares, GINT_TO_POINTER(pid), NULL,
						&generation)) {
			if (GPOINTER_TO_UINT(generation) != s->generation || s->kill_at != 0)
				continue;
			s->refill = TRUE;
			/* Killed from outside (the OOM killer prefers spares): replaced. */
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
				g_message("Call server: a spare (pid %d) was killed", pid);
				continue;
			}
			g_warning("Call server: a spare (pid %d) died idle (wait status 0x%x)",
				  pid, status);
			if (++s->failures >= SPARE_FAILURES_MAX)
				begin_stop(s, "its spares keep dying");
			continue;
		}
		if (!g_hash_table_steal_extended(s->calls, GINT_TO_POINTER(pid), NULL,
						 (gpointer *)&c))
			continue;
		g_debug("Call server: call %d ended (wait status 0x%x)", pid, status);
		s->refill = TRUE;
		if (c != NULL) {
			/* The call did not report its end (a signal, os._exit): we do. */
			pyfs_call_send_msg(c->fd, PYFS_CALL_MSG_EXIT, status);
			conn_close(c);
		}
	}
}

static void begin_stop(Server *s, const char *why)
{
	GHashTableIter iter;
	gpointer pid;

	if (s->kill_at != 0)
		return;
	g_debug("Call server stopping: %s", why);
	read_handoffs(s);
	s->kill_at = g_get_monotonic_time() + CALL_GRACE_MS * G_TIME_SPAN_MILLISECOND;
	close(s->listen_fd);
	s->listen_fd = -1;
	remove_socket(s->socket_path, &s->socket_st);
	if (s->control_fd >= 0)
		close(s->control_fd);
	s->control_fd = -1;
	/* Idle spares leave; the socket closes with the last of them. */
	close(s->retire[1]);
	s->retire[1] = -1;
	g_hash_table_iter_init(&iter, s->calls);
	while (g_hash_table_iter_next(&iter, &pid, NULL))
		signal_call(GPOINTER_TO_INT(pid), SIGTERM);
}

/* What the server holds now is there for good: the collector of a spare
 * or a call need not walk it, and so need not copy its pages. */
static void freeze(void)
{
	PYFS_PYREF gc = PyImport_ImportModule("gc");                         /* New reference */
	PYFS_PYREF frozen = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL; /* New reference */

	PyErr_Clear();
}

/* Imports @names; TRUE if one of them was not imported yet. */
static gboolean import_modules(char *names)
{
	gboolean imported = FALSE;

	for (char *name = strtok(names, "\n"); name != NULL; name = strtok(NULL, "\n")) {
		PYFS_PYREF key = PyUnicode_FromString(name);                   /* New reference */
		PYFS_PYREF known = key ? PyImport_GetModule(key) : NULL;      /* New reference */
		PYFS_PYREF module = NULL;

		PyErr_Clear();
		if (known != NULL)
			continue;
		module = PyImport_ImportModule(name); /* New reference */
		if (module == NULL) {
			g_autofree char *reason = pyfs_python_take_exception(NULL);

			g_debug("Call server: cannot import %s (calls will try): %s", name, reason);
			continue;
		}
		imported = TRUE;
	}
	freeze();
	return imported;
}

/* pyfsd's lines: the module list after each change. */
static void read_control(Server *s)
{
	char buf[4096];
	ssize_t n = read(s->control_fd, buf, sizeof(buf));
	char *last;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		begin_stop(s, "pyfsd is gone");
		return;
	}
	g_string_append_len(s->control_in, buf, n);
	last = strrchr(s->control_in->str, '\n');
	if (last == NULL)
		return;
	*last = '\0';
	/* The spares ready now lack the new modules: replaced by ones that have them. */
	if (import_modules(s->control_in->str) && !new_generation(s))
		begin_stop(s, "no pipe for its spares");
	g_string_erase(s->control_in, 0, last + 1 - s->control_in->str);
}

/*
 * The runner's code, run a few times in the server itself, is specialised
 * there (3.11's adaptive interpreter rewrites hot code in place) once for
 * all spares, which then copy fewer pages warming up: a third fewer.
 */
static void warm_up_server(Server *s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int saved[3];

	if (null < 0)
		return;
	for (int i = 0; i < 3; i++) {
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
		dup2(null, i);
	}
	warm_up(s, "warm_up_server", 10);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	close(null);
	freeze();
}

static PyObject *load_runner(GError **error)
{
	PYFS_PYREF code = NULL;
	PyObject *runner;

	code = Py_CompileString(pyfs_call_runner_source, "pyfs_runner.py",
				Py_file_input);                              /* New reference */
	runner = code ? PyImport_ExecCodeModule("pyfs_runner", code) : NULL; /* New reference */
	if (runner == NULL) {
		g_autofree char *reason = pyfs_python_take_exception(NULL);

		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "Cannot load the runner: %s",
			    reason);
	}
	return runner;
}

/*
 * ps and pgrep tell the server from pyfsd: its name, and its command line
 * overwritten in place with @title (as setproctitle() and systemd's
 * rename_process() do), if the argument area is where it should be.
 */
static void set_title(const char *title)
{
	g_autofree char *cmdline = NULL;
	gsize len = 0;

	prctl(PR_SET_NAME, "pyfsd-calls");
	if (!g_file_get_contents("/proc/self/cmdline", &cmdline, &len, NULL) || len < 2 ||
	    memcmp(program_invocation_name, cmdline, len) != 0)
		return;
	memset(program_invocation_name, 0, len);
	g_strlcpy(program_invocation_name, title, len);
}

static void setup(Server *s, int close_fd, gboolean detached)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *names = g_strjoinv("\n", (char **)runner_modules);
	struct rlimit files;
	sigset_t set;

	if (close_fd >= 0)
		close(close_fd);
	/* Detached, stdio is going away; and 0, 1, 2 must be open anyway, so
	 * that no descriptor of ours takes one of their numbers. */
	for (int i = 0; i < 3; i++) {
		if (detached || fcntl(i, F_GETFD) < 0) {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (null >= 0 && null != i) {
				dup2(null, i);
				close(null);
			}
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->handoff) != 0 ||
	    !new_generation(s)) {
		g_critical("Call server: cannot set up: %s", g_strerror(errno));
		_exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Calls get the caller's limit; the server holds a descriptor per call. */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	s->runner = load_runner(&error);
	if (s->runner == NULL) {
		g_critical("Call server: %s", error->message);
		_exit(1);
	}
	import_modules(names);
	warm_up_server(s);
}

static int poll_timeout(Server *s)
{
	gint64 now = g_get_monotonic_time(), at = G_MAXINT64;

	if (s->kill_at != 0)
		at = s->kill_at;
	if (s->retry_at != 0)
		at = MIN(at, s->retry_at);
	if (at == G_MAXINT64)
		return -1;
	return at > now ? (int)((at - now) / G_TIME_SPAN_MILLISECOND) + 1 : 0;
}

static G_GNUC_NORETURN void serve(Server *s)
{
	fill_spares(s);
	for (;;) {
		guint n_conns = s->conns->len, n = 0;
		g_autofree struct pollfd *pfds = g_new0(struct pollfd, n_conns + 3);
		g_autofree Conn **polled = g_memdup2(s->conns->pdata, n_conns * sizeof(Conn *));
		gint64 now;

		if (s->kill_at != 0 && g_hash_table_size(s->calls) == 0 &&
		    g_hash_table_size(s->spares) == 0)
			_exit(0);
		pfds[n++] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
		pfds[n++] = (struct pollfd){ .fd = s->control_fd, .events = POLLIN };
		pfds[n++] = (struct pollfd){ .fd = s->handoff[0], .events = POLLIN };
		for (guint i = 0; i < n_conns; i++)
			pfds[n++] = (struct pollfd){ .fd = polled[i]->fd, .events = POLLIN };
		if (poll(pfds, n, poll_timeout(s)) < 0 && errno != EINTR) {
			g_critical("Call server: poll: %s", g_strerror(errno));
			_exit(1);
		}
		/* Handoffs before deaths (reap() reads them too): a call that
		 * ended at once is still a call. */
		if (pfds[2].revents)
			read_handoffs(s);
		if (pfds[0].revents)
			reap(s);
		if (s->control_fd >= 0 && pfds[1].revents)
			read_control(s);
		for (guint i = 0; i < n_conns; i++)
			if (polled[i]->fd >= 0 && pfds[3 + i].revents)
				read_messages(s, polled[i]);
		for (guint i = s->conns->len; i-- > 0;)
			if (((Conn *)s->conns->pdata[i])->fd < 0)
				g_ptr_array_remove_index_fast(s->conns, i);

		now = g_get_monotonic_time();
		if (s->retry_at != 0 && now >= s->retry_at) {
			s->retry_at = 0;
			s->refill = TRUE;
		}
		fill_spares(s);
		if (s->kill_at != 0 && now >= s->kill_at) {
			GHashTableIter iter;
			gpointer pid;

			g_hash_table_iter_init(&iter, s->calls);
			while (g_hash_table_iter_next(&iter, &pid, NULL))
				signal_call(GPOINTER_TO_INT(pid), SIGKILL);
			g_hash_table_iter_init(&iter, s->spares);
			while (g_hash_table_iter_next(&iter, &pid, NULL))
				kill(GPOINTER_TO_INT(pid), SIGKILL);
			s->kill_at = G_MAXINT64;
		}
	}
}

/* --- pyfsd's side ---------------------------------------------------------- */

static guint count_threads(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/task", 0, NULL);
	guint n = 0;

	if (dir == NULL)
		return G_MAXUINT;
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/* @path, made or taken as a directory of ours that only we can enter. */
static gboolean private_dir(const char *path, GError **error)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail;
	if (lstat(path, &st) != 0)
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s is not a directory of ours", path);
		return FALSE;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0)
		goto fail;
	return TRUE;

fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
		    g_strerror(errno));
	return FALSE;
}

/*
 * $XDG_RUNTIME_DIR/pyfs when XDG_RUNTIME_DIR is ours and closed to others
 * (as pam_systemd makes it); otherwise (pyfsd run outside a login session,
 * by hand or by root) a fresh mkdtemp() directory, whose unguessable name
 * is no weaker: it is 0700 too, and the scripts carry the path.
 */
static char *socket_dir(PyfsCallServer *server, GError **error)
{
	const char *runtime = g_getenv("XDG_RUNTIME_DIR");
	g_autofree char *tmp = NULL;
	struct stat st;

	if (runtime != NULL && g_path_is_absolute(runtime) && stat(runtime, &st) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 0022) == 0) {
		g_autoptr(GError) local = NULL;
		g_autofree char *dir = g_build_filename(runtime, "pyfs", NULL);

		if (private_dir(dir, &local))
			return g_steal_pointer(&dir);
		g_message("Cannot use %s for the call socket: %s", dir, local->message);
	}
	tmp = g_build_filename(g_get_tmp_dir(), "pyfs-XXXXXX", NULL);
	if (g_mkdtemp_full(tmp, 0700) == NULL) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot create a directory for the call socket: %s", g_strerror(errno));
		return NULL;
	}
	server->private_dir = g_strdup(tmp);
	return g_steal_pointer(&tmp);
}

static char *socket_path(const char *dir, const char *mountpoint, GError **error)
{
	g_autofree char *label = pyfs_label_for_mountpoint(mountpoint, g_get_home_dir());
	g_autofree char *path = g_strdup_printf("%s/%s.sock", dir, label);
	struct sockaddr_un addr;

	/* sun_path holds 108 bytes: a label too long gives way to its hash. */
	if (strlen(path) >= sizeof(addr.sun_path)) {
		g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, label, -1);

		g_free(path);
		path = g_strdup_printf("%s/%.16s.sock", dir, hash);
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s is too long for a socket address", path);
		return NULL;
	}
	return g_steal_pointer(&path);
}

static int listen_on(const char *path, struct stat *st, GError **error)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old;
	int r;

	if (fd < 0)
		goto fail;
	g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
	/* Left by a pyfsd that died, or taken over from one that serves a
	 * mount beneath ours: the scripts now name this one. */
	if (unlink(path) != 0 && errno != ENOENT)
		goto fail;
	/* Born 0600, never wider even for a moment (a single thread: the
	 * umask is ours to borrow). */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r != 0 || listen(fd, SOMAXCONN) != 0 || stat(path, st) != 0)
		goto fail;
	return fd;

fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "Cannot listen on %s: %s",
		    path, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Any thread, after a commit: the server imports what it lacks. */
static void on_modules_changed(const PyfsModlist *now, gpointer user_data)
{
	PyfsCallServer *server = user_data;
	g_autoptr(GString) lines = g_string_new(NULL);

	for (guint i = 0; i < pyfs_modlist_length(now); i++)
		g_string_append_printf(lines, "%s\n", pyfs_modlist_get(now, i));
	/* Never blocks a FUSE thread: a server too busy to read imports on demand. */
	if (send(server->control_fd, lines->str, lines->len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		g_debug("Cannot tell the call server about the modules: %s", g_strerror(errno));
}

static void on_server_exit(GPid pid, gint status, gpointer user_data)
{
	PyfsCallServer *server = user_data;
	g_autofree char *how = WIFSIGNALED(status)
		? g_strdup_printf("was killed by signal %d (%s)", WTERMSIG(status),
				  g_strsignal(WTERMSIG(status)))
		: g_strdup_printf("exited with status %d", WEXITSTATUS(status));

	server->pid = 0;
	server->watch_id = 0;
	g_warning("The call server (pid %d) %s; calls start python3 from now on", pid, how);
	remove_socket(server->socket_path, &server->socket_st);
}

PyfsCallServer *pyfs_callserver_start(PyfsRegistry *registry, const char *mountpoint,
				      int close_fd, gboolean detached, GError **error)
{
	g_autoptr(PyfsCallServer) server = g_new0(PyfsCallServer, 1);
	g_autofree char *dir = NULL;
	int control[2];
	guint threads;
	PyfsGil gil;
	int listen_fd;
	pid_t pid;

	server->control_fd = -1;
	threads = count_threads();
	if (threads != 1) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "pyfsd has %d threads already: forking the call server is not safe",
			    (int)threads);
		return NULL;
	}
	dir = socket_dir(server, error);
	if (dir == NULL)
		return NULL;
	server->socket_path = socket_path(dir, mountpoint, error);
	if (server->socket_path == NULL)
		return NULL;
	listen_fd = listen_on(server->socket_path, &server->socket_st, error);
	if (listen_fd < 0)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot create the call server's control socket: %s",
			    g_strerror(errno));
		close(listen_fd);
		return NULL;
	}

	gil = pyfs_python_enter();
	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0) {
		Server s = {
			.listen_fd = listen_fd, .control_fd = control[1],
			.retire = { -1, -1 },
			.spares = g_hash_table_new(NULL, NULL),
			.calls = g_hash_table_new(NULL, NULL),
			.conns = g_ptr_array_new_with_free_func(g_free),
			.control_in = g_string_new(NULL),
			.uid = geteuid(), .self = getpid(),
			.socket_path = server->socket_path, .socket_st = server->socket_st,
		};

		/* The GIL stays with this, the server's only thread, for good. */
		PyOS_AfterFork_Child();
		close(control[0]);
		set_title(g_strdup_printf("pyfsd-calls: calls of %s", mountpoint));
		setup(&s, close_fd, detached);
		serve(&s);
	}
	PyOS_AfterFork_Parent();
	pyfs_python_leave(&gil);
	close(listen_fd);
	close(control[1]);
	if (pid < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot fork the call server: %s", g_strerror(errno));
		close(control[0]);
		return NULL;
	}
	server->pid = pid;
	server->control_fd = control[0];
	pyfs_registry_add_listener(registry, on_modules_changed, server);
	server->watch_id = g_child_watch_add(pid, on_server_exit, server);
	g_info("Call server (pid %d) listening on %s", pid, server->socket_path);
	return g_steal_pointer(&server);
}

const char *pyfs_callserver_socket(PyfsCallServer *server)
{
	return server ? server->socket_path : NULL;
}

static void wait_for_server(pid_t pid)
{
	int pidfd = pidfd_open(pid, 0);
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	/* Bounded: a server that does not stop (stopped, stuck) is killed. */
	if (pidfd >= 0 && poll(&pfd, 1, SERVER_STOP_TIMEOUT_MS) == 0) {
		g_warning("The call server (pid %d) did not stop; killing it", pid);
		kill(pid, SIGKILL);
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void pyfs_callserver_free(PyfsCallServer *server)
{
	if (server == NULL)
		return;
	if (server->watch_id != 0)
		g_source_remove(server->watch_id);
	remove_socket(server->socket_path, &server->socket_st);
	if (server->control_fd >= 0)
		close(server->control_fd);
	if (server->pid > 0)
		wait_for_server(server->pid);
	if (server->private_dir != NULL && rmdir(server->private_dir) != 0)
		g_debug("Cannot remove %s: %s", server->private_dir, g_strerror(errno));
	g_free(server->private_dir);
	g_free(server->socket_path);
	g_free(server);
}
