/* SPDX-License-Identifier: MIT */
/*
 * Start-up order matters:
 *
 *  1. check the mountpoint and read pyfsd.conf (clear errors before
 *     anything else happens);
 *  2. daemonize, unless -f: fork while there is a single thread; the parent
 *     waits on a pipe for the child's "ready" or its error message, so
 *     `pyfsd DIR` returns 0 only once the mount answers;
 *  3. start mounting, and make the call socket: fusermount3 runs, and
 *     the socket's runner file is written, while the next step runs
 *     (pyfs-fuse-mount.c, pyfs-callsocket.h);
 *  4. start Python and restore the module list (-m, else the saved list,
 *     else the default list), which is saved before every change from
 *     then on; prepare the call server (a program of its own,
 *     pyfs-callserver, spawned and supervised from the main loop, so
 *     not before the start-up is over); then wait for the mount and
 *     serve it (the FUSE threads start here: the kernel held what came
 *     to the mount before);
 *  5. wait until the mount answers;
 *  6. connect to the session bus and wait (bounded) until the bus names
 *     are settled, then report ready: a client started after READY=1
 *     finds org.pyfs.<label> on the bus;
 *  7. under systemd's WatchdogSec=, start the health-checked pings.
 *
 * The main thread owns the GLib main loop, the bus and the signals, and
 * the Daemon's state: other threads (FUSE's, the registry's committers)
 * hand it work only through pyfs-wakeup.h. On SIGTERM or SIGINT it leaves
 * the bus (org.pyfs passes on), then stops the FUSE session, which
 * releases the mount. The stop is bounded: a watchdog check or a FUSE
 * request stuck in the interpreter (Python code holding the GIL in C) is
 * left to the exit, and the interpreter is then not finalised.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <systemd/sd-daemon.h>

#include "pyfs-bus.h"
#include "pyfs-deadline.h"
#include "pyfs-callserver.h"
#include "pyfs-config.h"
#include "pyfs-daemon.h"
#include "pyfs-fuse.h"
#include "pyfs-iterate.h"
#include "pyfs-livecode.h"
#include "pyfs-log.h"
#include "pyfs-mountpoint.h"
#include "pyfs-python.h"
#include "pyfs-registry.h"
#include "pyfs-state.h"
#include "pyfs-wakeup.h"
#include "pyfs-watchdog.h"

static const char *const default_modules[] = { "json", "os", "sys", NULL };

/* How long READY=1 may wait for the bus names: the mount is served meanwhile. */
#define BUS_SETTLE_TIMEOUT_S 10

typedef struct {
	const PyfsOptions *options;
	GMainLoop *loop;
	PyfsRegistry *registry;
	PyfsFs *fs;
	PyfsBus *bus;
	PyfsConfig *config;
	const char *venv;        /* the virtual environment served, or NULL (borrowed) */
	PyfsState *state;        /* the registry's commit hook uses it */
	PyfsWatchdog *watchdog;  /* NULL without WatchdogSec= */
	PyfsCallServer *calls;   /* NULL without a call server: calls start python3 */
	PyfsLivecode *livecode;  /* NULL when the code cannot be watched */
	GSource *status_update;  /* signalled by every change of the module list */
	GSource *session_ended;  /* signalled by the FUSE thread when the mount went away */
	int ready_fd;            /* the detaching parent's pipe, or -1 */
	gboolean unmounted;      /* the session ended from outside */
	gboolean quitting;       /* asked to stop, maybe before the loop runs */
} Daemon;

/* Child side of detaching: tell the waiting parent how start-up went. */
static void report_to_parent(Daemon *d, const char *error_message)
{
	const char *text = error_message ? error_message : "";

	if (d->ready_fd < 0)
		return;
	/* A parent that died cannot be told; nothing else depends on it. */
	if (write(d->ready_fd, text, strlen(text) + 1) < 0)
		g_debug("Cannot report start-up to the parent: %s", g_strerror(errno));
	close(d->ready_fd);
	d->ready_fd = -1;
}

/*
 * Forks; the parent waits for the child's report and exits with 0 (empty
 * report) or 1 (the error message, printed). Returns in the child only.
 */
static void daemonize(Daemon *d)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		g_printerr("pyfsd: cannot create a pipe: %s\n", g_strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		g_printerr("pyfsd: cannot fork: %s\n", g_strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		g_autoptr(GString) report = g_string_new(NULL);
		char buf[1024];
		ssize_t n;

		close(fds[1]);
		while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				g_string_append_len(report, buf, n);
		if (report->len > 0 && report->str[0] == '\0')
			_exit(0);
		g_printerr("pyfsd: %s\n",
			   report->len > 0 ? report->str : "the daemon exited during start-up");
		_exit(1);
	}
	close(fds[0]);
	d->ready_fd = fds[1];
	setsid();
}

/* After start-up, a detached daemon lets go of the terminal. */
static void release_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	close(null);
}

static gboolean on_signal(gpointer user_data)
{
	Daemon *d = user_data;

	g_message("Shutting down on a signal");
	d->quitting = TRUE;
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

/* Main thread: the session ended without us. */
static gboolean quit_unmounted(gpointer user_data)
{
	Daemon *d = user_data;

	g_message("%s was unmounted from outside; exiting", d->options->mountpoint);
	d->unmounted = TRUE;
	d->quitting = TRUE;
	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

/* A FUSE thread: hands the news to the main thread. */
static void on_session_ended(gpointer user_data)
{
	Daemon *d = user_data;

	pyfs_wakeup_signal(d->session_ended);
}

/* The user's pyfsd.conf; a broken one is ignored, with a warning. */
static PyfsConfig *load_config(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = pyfs_config_path();
	PyfsConfig *config = pyfs_config_load(path, g_get_home_dir(), &error);

	if (config != NULL)
		return config;
	g_warning("Ignoring the configuration file: %s", error->message);
	return pyfs_config_new();
}

static gboolean load_modules(Daemon *d, GError **error)
{
	const char *const *defaults = d->config->modules ? (const char *const *)d->config->modules
							 : default_modules;

	d->state = pyfs_state_new(d->options->mountpoint);
	return pyfs_state_restore(d->state, d->registry, (const char *const *)d->options->modules,
				  defaults, error);
}

static char *status_text(Daemon *d)
{
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(d->registry);
	g_auto(GStrv) names = pyfs_modlist_to_strv(list);
	g_autofree char *joined = g_strjoinv(" ", names);

	g_autofree char *venv = d->venv ? g_strdup_printf(" from %s", d->venv) : g_strdup("");

	return g_strdup_printf("Serving %u module%s%s on %s: %s", pyfs_modlist_length(list),
			       pyfs_modlist_length(list) == 1 ? "" : "s", venv,
			       d->options->mountpoint, joined);
}

/* Main thread: STATUS= follows the module list. */
static gboolean update_status(gpointer user_data)
{
	Daemon *d = user_data;
	g_autofree char *status = NULL;

	/* After STOPPING=1, "Shutting down..." stays. */
	if (d->quitting)
		return G_SOURCE_CONTINUE;
	status = status_text(d);
	sd_notifyf(0, "STATUS=%s", status);
	return G_SOURCE_CONTINUE;
}

/* Any thread, after a commit: sd_notify belongs to the main thread. */
static void update_status_soon(const PyfsModlist *now, gpointer user_data)
{
	Daemon *d = user_data;

	pyfs_wakeup_signal(d->status_update);
}

static void watch_modules(Daemon *d)
{
	d->status_update = pyfs_wakeup_new(update_status, d, "[pyfsd] STATUS update");
	pyfs_registry_add_listener(d->registry, update_status_soon, d);
}

/*
 * A truncated run/modules still open when the mount went away never got
 * its RELEASE: what everyone saw last, the cleared list, is what is kept.
 */
static void save_unsettled(Daemon *d)
{
	g_autoptr(GError) error = NULL;

	if (!pyfs_registry_save(d->registry, &error))
		g_warning("Cannot save the module list: %s", error->message);
}

static void destroy_source(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

/* What start() set up besides the mount and the bus; once nothing can change the list. */
static void release(Daemon *d)
{
	destroy_source(&d->status_update);
	destroy_source(&d->session_ended);
	g_clear_pointer(&d->state, pyfs_state_free);
	g_clear_pointer(&d->config, pyfs_config_free);
	g_clear_pointer(&d->calls, pyfs_callserver_free);
	/* Abandoned work may still use it, as it may use the interpreter. */
	if (pyfs_deadline_abandoned() == 0)
		g_clear_pointer(&d->livecode, pyfs_livecode_free);
}

static gboolean bus_settled_or_quitting(gpointer user_data)
{
	Daemon *d = user_data;

	return pyfs_bus_settled(d->bus) || d->quitting;
}

/*
 * Iterates the main context until the bus names are settled, a signal
 * asks us to stop, or the timeout: a stuck bus delays READY=1, it does
 * not prevent it.
 */
static void wait_for_bus(Daemon *d)
{
	pyfs_bus_start(d->bus);
	if (!pyfs_iterate_until(bus_settled_or_quitting, d, BUS_SETTLE_TIMEOUT_S * 1000))
		g_warning("The session bus did not answer within %d s; serving without waiting",
			  BUS_SETTLE_TIMEOUT_S);
}

/* The calls' socket, before the interpreter starts: its files are
 * written meanwhile. Without it, calls start python3. */
static void create_call_socket(Daemon *d)
{
	g_autoptr(GError) error = NULL;

	d->calls = pyfs_callserver_new(d->options->mountpoint, &error);
	if (d->calls == NULL)
		g_warning("No call server (%s): calls start python3", error->message);
}

/* The calls' warm interpreter; without it, calls start python3. */
static void start_call_server(Daemon *d)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) sys_path = NULL;
	PyfsCallServerConfig config = {
		.venv = d->venv,
		.extra_path = (const char *const *)d->config->path,
		.timeout_s = d->options->timeout,
		.debug = d->options->debug,
	};

	if (d->calls == NULL)
		return;
	sys_path = pyfs_python_sys_path();
	config.sys_path = (const char *const *)sys_path;
	if (!pyfs_callserver_start(d->calls, d->registry, &config, &error)) {
		g_warning("No call server (%s): calls start python3", error->message);
		g_clear_pointer(&d->calls, pyfs_callserver_free);
	}
}

/*
 * SIGTERM and SIGINT stay blocked until the main loop watches them (the
 * first signal source starts GLib's worker thread, which is best started
 * once the single-threaded start-up is over); one that came meanwhile is
 * handled once unblocked.
 */
static void watch_signals(Daemon *d)
{
	sigset_t stop;

	g_unix_signal_add(SIGTERM, on_signal, d);
	g_unix_signal_add(SIGINT, on_signal, d);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
}

/*
 * The configuration, and the virtual environment to serve (--venv wins
 * over venv= of pyfsd.conf), checked before pyfsd detaches: a wrong one
 * is a one-line error of the command itself.
 */
static gboolean configure(Daemon *d, GError **error)
{
	d->config = load_config();
	d->venv = d->options->venv ? d->options->venv : d->config->venv;
	if (d->venv == NULL || pyfs_python_check_venv(d->venv, error))
		return TRUE;
	g_prefix_error(error, "%s", d->options->venv ? "--venv " : "venv= in pyfsd.conf: ");
	return FALSE;
}

static gboolean start(Daemon *d, GError **error)
{
	g_autoptr(GError) local = NULL;

	/* fusermount3 mounts while the interpreter starts; the kernel holds
	 * what comes to the mount until the FUSE threads serve it. */
	d->fs = pyfs_fs_mount(d->options->mountpoint, d->options->mount_options,
			      d->options->allow_others, error);
	if (d->fs == NULL)
		return FALSE;
	create_call_socket(d);
	if (!pyfs_python_init(d->venv, (const char *const *)d->config->path, error))
		return FALSE;
	/* Before the first import, whose modules it watches. */
	d->livecode = pyfs_livecode_new(d->registry, &local);
	if (d->livecode == NULL)
		g_warning("%s; the tree may show code older than the files", local->message);
	if (!load_modules(d, error))
		return FALSE;
	/* Listeners are set up before the FUSE threads start. */
	watch_modules(d);
	watch_signals(d);
	start_call_server(d);
	/* Reload(): the calls stop taking the old code first, then the tree's
	 * fresh import, which may take long. */
	if (d->calls != NULL)
		pyfs_registry_add_reloader(d->registry, pyfs_callserver_reloader, d->calls);
	if (d->livecode != NULL)
		pyfs_registry_add_reloader(d->registry, pyfs_livecode_reloader, d->livecode);
	/* Threads may start now: Python work on behalf of requests gets a time limit. */
	pyfs_deadline_start(d->options->timeout, PYFS_DEADLINE_WORKERS);
	/* Before the FUSE threads: it listens to the registry. */
	d->bus = pyfs_bus_new(d->registry, d->options->mountpoint);
	if (!pyfs_fs_attach(d->fs, d->registry, error))
		return FALSE;
	pyfs_fs_set_call_socket(d->fs, pyfs_callserver_socket(d->calls));
	pyfs_fs_set_livecode(d->fs, d->livecode);
	d->session_ended = pyfs_wakeup_new(quit_unmounted, d, "[pyfsd] session ended");
	if (!pyfs_fs_start(d->fs, on_session_ended, d, error))
		return FALSE;
	/* The kernel's INIT is answered by the FUSE threads: from here on a
	 * stat of our own mount returns once it is served. */
	if (!pyfs_mountpoint_answers(d->options->mountpoint)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "The mount on %s does not answer",
			    d->options->mountpoint);
		return FALSE;
	}
	return TRUE;
}

int pyfs_daemon_run(const PyfsOptions *options)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(PyfsRegistry) registry = pyfs_registry_new();
	g_autofree char *status = NULL;
	Daemon d = { .options = options, .registry = registry, .ready_fd = -1 };
	gboolean started;
	gboolean stuck;
	sigset_t stop_signals;

	/* Before any thread exists, so that all but the FUSE pool inherit it. */
	pyfs_fs_block_wake_signal();
	/*
	 * Memory that a burst of requests took should go back when it ends;
	 * a daemon that runs for months must not keep its peak. glibc's
	 * adaptive mmap threshold rises to the size of the FUSE workers'
	 * 1 MiB request buffers after the first is freed, and then keeps
	 * every such buffer in the heap: fix it. And each thread's arena
	 * keeps what it freed: the work is serialised by the GIL anyway,
	 * so two arenas cost no contention that matters.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 2);
	pyfs_log_setup(options->mountpoint, options->debug, !options->foreground);
	if (!pyfs_mountpoint_prepare(options->mountpoint, &error) || !configure(&d, &error)) {
		g_printerr("pyfsd: %s\n", error->message);
		g_clear_pointer(&d.config, pyfs_config_free);
		return 1;
	}
	if (!options->foreground)
		daemonize(&d);

	loop = g_main_loop_new(NULL, FALSE);
	d.loop = loop;
	/* Watched from watch_signals(), which unblocks them. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	started = start(&d, &error);
	if (!started) {
		pyfs_log_error(G_LOG_LEVEL_CRITICAL, error, "Cannot start");
		report_to_parent(&d, error->message);
		sd_notifyf(0, "STATUS=Failed to start: %s", error->message);
		if (d.fs != NULL)
			pyfs_fs_free(g_steal_pointer(&d.fs));
		/* Never started: nothing to stop, and no FUSE thread left to call it. */
		g_clear_pointer(&d.bus, pyfs_bus_free);
		release(&d);
		return 1;
	}
	wait_for_bus(&d);

	status = status_text(&d);
	g_message("%s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	if (d.ready_fd >= 0) {
		report_to_parent(&d, NULL);
		release_stdio();
	}
	d.watchdog = pyfs_watchdog_start(options->mountpoint);

	/* A signal during wait_for_bus() quit a loop that was not running yet. */
	if (!d.quitting)
		g_main_loop_run(loop);

	/* First: a check under way needs the mount and the interpreter. */
	stuck = !pyfs_watchdog_stop(g_steal_pointer(&d.watchdog));
	if (stuck)
		g_warning("The health check under way is stuck (the mount or the interpreter); "
			  "not waiting for it");
	if (!d.unmounted)
		sd_notify(0, "STOPPING=1\nSTATUS=Shutting down...");
	pyfs_bus_stop(d.bus);
	if (!pyfs_fs_stop(d.fs)) {
		/*
		 * A FUSE thread stuck in a request still uses the session and
		 * may read the registry: both are left to the exit. It changes
		 * nothing (no request waits for the GIL in the middle of a
		 * change), so the registry's listeners may go.
		 */
		g_warning("A FUSE request is stuck (Python code holds the interpreter, most "
			  "likely); not waiting for it");
		stuck = TRUE;
		(void)g_steal_pointer(&registry);
	}
	pyfs_fs_free(g_steal_pointer(&d.fs));
	save_unsettled(&d);
	/* Only now can nothing change the registry, whose listener it is. */
	g_clear_pointer(&d.bus, pyfs_bus_free);
	release(&d);
	/*
	 * Bounded: code stuck in the interpreter is not waited for; and
	 * timed-out work may hold the GIL for good, or need it later: the
	 * interpreter is left to the exit rather than finalised under its feet.
	 */
	if (stuck)
		g_message("The interpreter is stuck; not finalizing it");
	else if (pyfs_deadline_abandoned() > 0)
		g_message("Timed-out Python code is still running; not finalizing the interpreter");
	else
		pyfs_python_fini();
	g_message("Stopped");
	return 0;
}
