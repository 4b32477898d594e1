/* SPDX-License-Identifier: MIT */
/*
 * The call server's process: forked by pyfsd (pyfs-callserver.c), it keeps
 * spares ready (pyfs-callserver-spare.c), a generation of them per module
 * list, relays the dispatchers' signals to their calls, reports the status
 * of a call that could not, and stops when pyfsd is gone. A single thread,
 * which holds the GIL for good. The design is told in pyfs-callserver.c.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyfs-callargs.h"
#include "pyfs-callproto.h"
#include "pyfs-callserver-private.h"
#include "pyfs-error.h"

/* Spares ready at any time: enough for calls in quick succession, each
 * costing a few megabytes of copied pages. */
#define SPARES 3
/* Spares of one generation that may die before taking a call, in a row,
 * before the server gives up (and the dispatchers start python3). */
#define SPARE_FAILURES_MAX 3
/* After a failed fork, when to try again. */
#define FORK_RETRY_MS 200
/* How long calls may take to end on SIGTERM when the server stops. */
#define CALL_GRACE_MS 2000

/* Imported in the server once, so that no call pays for them (see pyfs_runner.py). */
static const char *const runner_modules[] = {
	"io", "signal", "select", "json", "inspect", "traceback", NULL,
};

/* The call and whatever it started in its process group, as a terminal signals a job. */
static void signal_call(pid_t pid, int sig)
{
	if (kill(-pid, sig) != 0 && errno == ESRCH)
		kill(pid, sig);
}

/* --- The server's own business ---------------------------------------------- */

static void fork_spare(Server *s)
{
	pid_t pid;

	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0)
		pyfs_callserver_spare_main(s);
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
	pyfs_callserver_remove_socket(s->socket_path, &s->socket_st);
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
	pyfs_callserver_warm_up(s, "warm_up_server", 10);
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


void pyfs_callserver_main(int listen_fd, int control_fd, const char *socket_path,
			  const struct stat *socket_st, const char *mountpoint, int close_fd,
			  gboolean detached)
{
	Server s = {
		.listen_fd = listen_fd, .control_fd = control_fd,
		.retire = { -1, -1 },
		.spares = g_hash_table_new(NULL, NULL),
		.calls = g_hash_table_new(NULL, NULL),
		.conns = g_ptr_array_new_with_free_func(g_free),
		.control_in = g_string_new(NULL),
		.uid = geteuid(), .self = getpid(),
		.socket_path = socket_path, .socket_st = *socket_st,
	};

	set_title(g_strdup_printf("pyfsd-calls: calls of %s", mountpoint));
	setup(&s, close_fd, detached);
	serve(&s);
}
