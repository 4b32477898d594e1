// SPDX-License-Identifier: MIT
/*
 * pyfs-call: the dispatcher named on the #! line of every executable file.
 *
 * The kernel runs it as "pyfs-call SCRIPT ARGS...". It reads which callable
 * SCRIPT names and parses ARGS. Then, when SCRIPT names pyfsd's call server
 * ("# pyfs-socket:"), it hands the call over: its stdio and working
 * directory (SCM_RIGHTS), the runner items, its environment; it relays the
 * signals it gets (Ctrl-C reaches the dispatcher, which is in the terminal's
 * foreground process group, not the call) and ends as the call ended, by
 * exit status or signal. That saves starting an interpreter (see
 * src/callserver/supervisor/pyfs-callserver.c for the server's side).
 *
 * Otherwise, or when the server cannot be reached (the file was copied
 * elsewhere, pyfsd is gone) or refuses, it replaces itself with the Python
 * interpreter running pyfs_runner.py: the call is then the caller's own
 * process, with its cwd, environment, stdio, controlling terminal and
 * signals, and its exit status is the caller's without any relaying.
 *
 * It is on the path of every call, so it does as little as it can and
 * fails early: everything wrong with the script or the command line is
 * reported here, with exit status 2, before an interpreter is started.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "pyfs-callargs.h"
#include "pyfs-callproto.h"
#include "pyfs-runnerfile.h"

/* What pyfs-call itself reports: bad usage, a bad script (README, "Executables"). */
#define EXIT_ERROR 2

static void die(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN;

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("pyfs-call: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* Reads at most PYFS_CALL_SCRIPT_MAX bytes: whatever is bigger is not a
 * script pyfsd wrote, and must not make us allocate without bound. */
static char *read_script(const char *path, gsize *len, GError **error)
{
	g_autofree char *buf = g_malloc(PYFS_CALL_SCRIPT_MAX + 1);
	gsize n = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto fail;
	while (n <= PYFS_CALL_SCRIPT_MAX) {
		ssize_t r = read(fd, buf + n, PYFS_CALL_SCRIPT_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	if (n > PYFS_CALL_SCRIPT_MAX) {
		g_set_error(error, PYFS_CALL_ERROR, PYFS_CALL_ERROR_SCRIPT,
			    "larger than %d bytes, not a pyfs script", PYFS_CALL_SCRIPT_MAX);
		return NULL;
	}
	*len = n;
	return g_steal_pointer(&buf);

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	g_set_error_literal(error, G_FILE_ERROR, g_file_error_from_errno(saved), g_strerror(saved));
	return NULL;
}

/*
 * The signals the call gets as if it were this process: what a terminal, a
 * shell or timeout(1) sends the dispatcher. SIGTSTP stops both (the call,
 * in an orphaned process group, with SIGSTOP); SIGCONT resumes both.
 */
static const int relayed[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGWINCH, SIGTSTP, SIGCONT,
};

/* Ends this process as the call ended: same exit status, or same signal. */
static G_GNUC_NORETURN void end_like(int status)
{
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		sigset_t set;

		/* The call dumped core if it was to; a core of ours tells nothing. */
		prctl(PR_SET_DUMPABLE, 0);
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		exit(128 + sig);
	}
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_ERROR);
}

/*
 * Relays the signals received once the call has started; before, only
 * collects them in @early: raised again should the call run here after
 * all, relayed once it starts.
 */
static void relay_signals(int sock, int sigfd, gboolean started, sigset_t *early)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		int sig = si.ssi_signo;

		if (started)
			pyfs_call_send_msg(sock, PYFS_CALL_MSG_SIGNAL, sig == SIGTSTP ? SIGSTOP : sig);
		if (sig == SIGTSTP)
			raise(SIGSTOP);
		else if (!started && sig != SIGCONT)
			sigaddset(early, sig);
	}
}

/* The call is about to run: its descriptors, then the signals that came meanwhile. */
static void start_call(int sock, uint32_t stdio, int cwd, sigset_t *early)
{
	pyfs_call_send_fds(sock, stdio, cwd);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(early, sig) == 1)
			pyfs_call_send_msg(sock, PYFS_CALL_MSG_SIGNAL, sig);
	sigemptyset(early);
}

/* How long a completion waits for STARTED: a TAB does not wait long for
 * a server stopped or stuck, but long enough for one that a loaded
 * machine slows down (a TAB that offers nothing then looks broken). */
#define COMPLETE_START_TIMEOUT_MS 1000

/*
 * Waits for the call's end, relaying signals, and ends like it. Returns if
 * the call did not start: the server closed the connection before STARTED,
 * or sent nothing within @start_ms (see pyfs-callproto.h).
 */
static void wait_for_call(int sock, int sigfd, uint32_t stdio, int cwd, sigset_t *early,
			  int start_ms)
{
	gint64 deadline = g_get_monotonic_time() + start_ms * G_TIME_SPAN_MILLISECOND;
	gboolean started = FALSE;
	PyfsCallMsg msg;
	gsize got = 0;

	for (;;) {
		struct pollfd pfd[2] = { { sock, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		gint64 left = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
		int r;
		ssize_t n;

		r = poll(pfd, 2, started ? -1 : (int)MAX(left, 0));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_ERROR, "poll: %s", g_strerror(errno));
		}
		/* A server stopped or stuck: nothing ran, nor will. */
		if (r == 0 && !started)
			return;
		if (pfd[1].revents)
			relay_signals(sock, sigfd, started, early);
		if (!pfd[0].revents)
			continue;
		n = recv(sock, (char *)&msg + got, sizeof(msg) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!started)
				return;
			/* Killed with it (PR_SET_PDEATHSIG): a status that says so. */
			die(128 + SIGKILL, "the call server stopped during the call");
		}
		got += n;
		if (got < sizeof(msg))
			continue;
		got = 0;
		if (msg.type == PYFS_CALL_MSG_STARTED && !started) {
			started = TRUE;
			start_call(sock, stdio, cwd, early);
		} else if (msg.type == PYFS_CALL_MSG_EXIT && started) {
			end_like(msg.value);
		}
	}
}

/*
 * The signals we ignore (SIG_IGN), bit n - 1 for signal n: what the
 * kernel says in /proc/self/status (one read, where asking each of 64
 * signals costs several times as much, on the path of every call), or
 * else what sigaction() says.
 */
static uint64_t ignored_signals(void)
{
	char status[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
	uint64_t ignored = 0;
	const char *line;

	if (fd >= 0)
		close(fd);
	if (n > 0) {
		status[n] = '\0';
		line = strstr(status, "\nSigIgn:\t");
		if (line != NULL && sscanf(line + strlen("\nSigIgn:\t"), "%" SCNx64, &ignored) == 1)
			return ignored;
	}
	for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			ignored |= UINT64_C(1) << (sig - 1);
	}
	return ignored;
}

/*
 * Runs the call in pyfsd's call server at @path, and ends like it. Returns
 * only when the server did not take the call (nothing ran): the caller then
 * runs it with python3. Silent: being unreachable is what copies of the
 * file and a stopped pyfsd are.
 */
static void call_server(const char *path, uint32_t stdio, GPtrArray *items, int start_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	sigset_t relay, old, early;
	uint64_t ignored = 0;
	int sock = -1, cwd, sigfd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return;
	strcpy(addr.sun_path, path);
	/* O_PATH: a directory we may not read is still one to work in. */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return;

	/* What we ignore, the call ignores (a background job's SIGINT, nohup). */
	sigemptyset(&relay);
	sigemptyset(&early);
	ignored = ignored_signals();
	for (guint i = 0; i < G_N_ELEMENTS(relayed); i++)
		if (!(ignored & (UINT64_C(1) << (relayed[i] - 1))))
			sigaddset(&relay, relayed[i]);
	/* Blocked from before the request: none is lost, none kills us first. */
	sigprocmask(SIG_BLOCK, &relay, &old);
	sigfd = signalfd(-1, &relay, SFD_NONBLOCK | SFD_CLOEXEC);

	/* Connected only now, the request follows at once: the spare that
	 * accepts finds it there instead of waiting for it. */
	if (sigfd >= 0)
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    pyfs_call_send_request(sock, stdio, items, ignored))
		wait_for_call(sock, sigfd, stdio, cwd, &early, start_ms);

	/* Not taken: back as we were, with the signals meant for the call. */
	close(cwd);
	if (sock >= 0)
		close(sock);
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&early, sig) == 1)
			raise(sig);
}

/*
 * The runner items that give python3 pyfsd's sys.path ("path=DIR"), from
 * the fallback file beside the socket at @socket (see
 * src/callserver/supervisor/pyfs-callsocket.h); NULL when there is none (pyfsd is gone). Sets
 * @python to the interpreter of pyfsd's virtual environment, if it names
 * one.
 */
static GPtrArray *read_fallback(const char *socket, char **python)
{
	g_autofree char *file = g_strconcat(socket, ".fallback", NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *items;

	if (!g_file_get_contents(file, &text, NULL, NULL))
		return NULL;
	items = g_ptr_array_new_with_free_func(g_free);
	lines = g_strsplit(text, "\n", -1);
	for (char **line = lines; *line != NULL; line++) {
		if (g_str_has_prefix(*line, "path="))
			g_ptr_array_add(items, g_strdup(*line));
		else if (g_str_has_prefix(*line, "python=") && g_path_is_absolute(*line + 7)) {
			g_free(*python);
			*python = g_strdup(*line + 7);
		}
	}
	return items;
}

/*
 * The runner file pyfsd leaves beside the socket at @socket, open (not
 * close-on-exec) for python3 to load, on a descriptor above 2, which may
 * have been closed on purpose by the caller; -1 when there is none (the
 * runner's source then goes on python3's command line).
 */
static int open_runner(const char *socket)
{
	g_autofree char *file = g_strconcat(socket, ".runner", NULL);
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int high;

	if (fd < 0)
		return -1;
	high = fcntl(fd, F_DUPFD, 3);
	close(fd);
	return high;
}

/*
 * pyfs-call --complete SCRIPT WORD [WORD...]: the candidates for the last
 * WORD, being typed on a command line of SCRIPT whose earlier words are
 * the others, one per line on standard output (see the bash completion
 * file, data/pyfsd.bash). Answered by pyfsd's call server, from the
 * callable's signature, or not at all: never by starting python3 (a
 * shell waits for it at every TAB). Always exits 0.
 */
static int complete(int argc, char **argv, uint32_t stdio)
{
	g_autoptr(PyfsCallScript) script = NULL;
	g_autoptr(PyfsCallArgs) args = NULL;
	g_autoptr(GPtrArray) items = NULL;
	g_autofree char *text = NULL;
	gsize len = 0;

	if (argc < 2)
		return 0;
	/* After "--" every word is an argument: no option to offer. */
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return 0;
	text = read_script(argv[0], &len, NULL);
	script = text ? pyfs_call_script_parse(text, len, NULL) : NULL;
	args = script ? pyfs_call_args_parse(argc - 2, (const char *const *)argv + 2, NULL) : NULL;
	if (args == NULL || script->socket == NULL)
		return 0;
	items = pyfs_call_runner_items(argv[0], script, args);
	g_ptr_array_add(items, g_strconcat("complete=", argv[1], NULL));
	/* The candidates go to our stdout; nothing else of ours is the call's. */
	call_server(script->socket, stdio & PYFS_CALL_FD_STDOUT, items, COMPLETE_START_TIMEOUT_MS);
	return 0;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsCallScript) script = NULL;
	g_autoptr(PyfsCallArgs) args = NULL;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GPtrArray) exec_argv = NULL;
	g_autoptr(GPtrArray) fallback = NULL;
	g_autofree char *text = NULL;
	g_autofree char *python = g_strdup(PYFS_PYTHON);
	g_autofree char *runner_fd = NULL;
	const char *path;
	uint32_t stdio;
	gsize len = 0;
	int saved;

	/* Before anything here opens a descriptor that may take one's number. */
	stdio = pyfs_call_stdio_mask();
	if (argc >= 2 && strcmp(argv[1], "--complete") == 0)
		return complete(argc - 2, argv + 2, stdio);
	if (argc < 2)
		die(EXIT_ERROR, "usage: pyfs-call SCRIPT [ARGUMENT...]\n"
		    "Runs the executable files of a pyfs mount; see pyfsd(1).");
	path = argv[1];

	text = read_script(path, &len, &error);
	if (!text)
		die(EXIT_ERROR, "%s: %s", path, error->message);
	script = pyfs_call_script_parse(text, len, &error);
	if (!script)
		die(EXIT_ERROR, "%s: %s", path, error->message);
	/* The call may end this process from deep inside call_server(). */
	g_clear_pointer(&text, g_free);
	args = pyfs_call_args_parse(argc - 2, (const char *const *)argv + 2, &error);
	if (!args)
		die(EXIT_ERROR, "%s: %s\nTry '%s --help'.", path, error->message, path);

	items = pyfs_call_runner_items(path, script, args);
	if (script->socket)
		call_server(script->socket, stdio, items, PYFS_CALL_START_TIMEOUT_MS);

	if (script->socket)
		fallback = read_fallback(script->socket, &python);
	/* Beside a fallback file, so written by the same pyfsd. */
	if (fallback != NULL) {
		int fd = open_runner(script->socket);

		runner_fd = fd >= 0 ? g_strdup_printf("%d", fd) : NULL;
	}
	exec_argv = g_ptr_array_new_full(items->len + 5, NULL);
	g_ptr_array_add(exec_argv, python);
	g_ptr_array_add(exec_argv, (char *)"-c");
	if (runner_fd != NULL) {
		g_ptr_array_add(exec_argv, (char *)pyfs_call_runner_loader);
		g_ptr_array_add(exec_argv, runner_fd);
	} else {
		g_ptr_array_add(exec_argv, (char *)pyfs_call_runner_source);
	}
	for (guint i = 0; fallback != NULL && i < fallback->len; i++)
		g_ptr_array_add(exec_argv, fallback->pdata[i]);
	for (guint i = 0; i < items->len; i++)
		g_ptr_array_add(exec_argv, items->pdata[i]);
	g_ptr_array_add(exec_argv, NULL);

	execv(python, (char **)exec_argv->pdata);
	saved = errno;
	/* As a shell reports a command it cannot run. */
	die(saved == ENOENT ? 127 : 126, "cannot run %s: %s", python, g_strerror(saved));
}
