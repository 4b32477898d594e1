/* SPDX-License-Identifier: MIT */
/*
 * A spare of the call server, then the call it takes: forked by the server
 * process (pyfs-callserver-process.c) ahead of need, it warms up and waits in
 * accept(); the spare that takes a connection hands it to the server and
 * becomes the call. The design is told in pyfs-callserver.c.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyfs-callproto.h"
#include "pyfs-callserver-private.h"

/* How long a spare waits for a connected dispatcher's request. */
#define REQUEST_TIMEOUT_S 10

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
	} control = { 0 }; /* no uninitialised padding on the wire */
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

G_GNUC_NORETURN void pyfs_callserver_spare_main(Server *s)
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
	pyfs_callserver_warm_up(s, "warm_up", 1);
	reset_signals(s);
	in = take_call(s, &conn);
	if (in == NULL || !tell_server(s, HANDOFF_TAKEN, conn))
		_exit(0);
	pyfs_call_send_msg(conn, PYFS_CALL_MSG_STARTED, getpid());
	run_call(s, in, conn);
}
