/* SPDX-License-Identifier: MIT */
/*
 * Supervising the call server. (How the server runs calls is told in
 * src/callserver/server/pyfs-callserver-process.c.)
 *
 * pyfsd holds the call socket for the life of the mount and spawns
 * servers, "generations", each a fresh process (pyfs-callserver, started
 * with posix_spawn(), which is safe in a process with threads) that
 * imports the module list, then serves on that same socket:
 *
 *   starting --READY--> serving --DRAIN--> draining --> exit
 *
 * A new generation starts when the module list changes, when the serving
 * one says that code it imported changed on disk (STALE), and on
 * Reload(). Once it is READY it serves, and the one before drains: it
 * takes no more calls and exits when the calls it runs have ended. A
 * generation that dies is started again after a back-off (0.1 s, doubling
 * up to 10 s while they keep dying). While no generation serves, pyfsd
 * itself accepts the calls and closes them at once, which makes each
 * dispatcher run its call with python3 (logged once per outage). A
 * starting generation whose import of a module does not end within
 * --timeout is killed, and the next one leaves that module out: its calls
 * import it themselves, as python3 would.
 *
 * Beside this file: pyfs-server-process.c spawns a server and waits for
 * it at the stop, pyfs-outbox.c queues what a server has no room for yet,
 * pyfs-callsocket.c owns the socket and refuses calls while none serves.
 *
 * Threads: everything here runs in the main loop, but for two entry
 * points: the registry's listener (any thread), which only wakes the main
 * loop, and pyfs_callserver_reloader(), which also tells the serving
 * generation to stop serving, under @lock, so that no call started after
 * Reload() returns runs the code imported before it.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "pyfs-callserver.h"
#include "pyfs-callsocket.h"
#include "pyfs-control.h"
#include "pyfs-error.h"
#include "pyfs-outbox.h"
#include "pyfs-programs.h"
#include "pyfs-server-process.h"
#include "pyfs-wakeup.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* A generation that served this long has not been failing: the back-off
 * starts again from its minimum. */
#define SERVED_WELL_US (30 * G_TIME_SPAN_SECOND)
/* How long pyfsd waits for its servers to stop (their calls' grace included). */
#define STOP_TIMEOUT_MS 5000
/* Changes of the module list this close together start one generation:
 * a script that appends a hundred names does not start a hundred servers.
 * The one serving meanwhile imports what it lacks in each call. */
#define LIST_SETTLE_MS 50

typedef enum {
	GEN_STARTING,
	GEN_SERVING,
	GEN_DRAINING,
} GenState;

/* What wakes the main loop to start a new generation. */
enum {
	WANT_LIST = 1 << 0,	/* the module list changed */
	WANT_CODE = 1 << 1,	/* code changed on disk */
	WANT_RELOAD = 1 << 2,	/* Reload() */
};

typedef struct _Generation Generation;

struct _PyfsCallServer {
	PyfsRegistry *registry;
	char *mountpoint;
	char *venv;
	GStrv extra_path;
	guint timeout_s;
	gboolean debug;
	char *program;
	PyfsCallSocket *sock;

	GMutex lock;		/* guards serving (the pointer, its control_fd) and wanted */
	Generation *serving;
	guint wanted;		/* WANT_* */

	Generation *starting;
	GPtrArray *draining;	/* of Generation *, owned */
	guint generations;	/* started so far */
	GHashTable *hung;	/* names whose import hung in a server: left out */
	GSource *wake;
	guint restart_id;
	guint settle_id;	/* the list changed: a generation starts when it settles */
	guint backoff_ms;
	gboolean spawn_failing;
};

struct _Generation {
	PyfsCallServer *owner;
	guint number;
	GPid pid;		/* 0 once reaped */
	int control_fd;		/* -1 once closed */
	guint in_id;
	guint child_id;
	GenState state;
	PyfsOutbox outbox;	/* what the server has no room for yet */
	char *importing;	/* the module it imports now */
	guint import_timer_id;
	gboolean hung;		/* killed: its import of @importing hung */
	gboolean superseded;	/* killed: a newer generation replaces it */
	gint64 serving_since;
};

static void spawn_generation(PyfsCallServer *server);
static void want(PyfsCallServer *server, guint what);

static void clear_source(guint *id)
{
	if (*id != 0)
		g_source_remove(*id);
	*id = 0;
}

/* Main thread; the serving generation under the lock. */
static void close_control(Generation *gen)
{
	clear_source(&gen->in_id);
	pyfs_outbox_clear(&gen->outbox);
	if (gen->control_fd >= 0)
		close(gen->control_fd);
	gen->control_fd = -1;
}

static void generation_free(Generation *gen)
{
	close_control(gen);
	clear_source(&gen->child_id);
	clear_source(&gen->import_timer_id);
	g_free(gen->importing);
	g_free(gen);
}

/* --- Generations ----------------------------------------------------------------- */

static gboolean on_restart(gpointer user_data)
{
	PyfsCallServer *server = user_data;

	server->restart_id = 0;
	if (server->starting == NULL)
		spawn_generation(server);
	return G_SOURCE_REMOVE;
}

static void schedule_restart(PyfsCallServer *server)
{
	if (server->restart_id != 0)
		return;
	server->restart_id = g_timeout_add(server->backoff_ms, on_restart, server);
	server->backoff_ms = MIN(server->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void promote(PyfsCallServer *server, Generation *gen)
{
	Generation *old;

	g_assert(server->starting == gen);
	server->starting = NULL;
	gen->state = GEN_SERVING;
	gen->serving_since = g_get_monotonic_time();
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&server->lock);

		old = server->serving;
		server->serving = gen;
	}
	if (old != NULL) {
		old->state = GEN_DRAINING;
		pyfs_outbox_send(&old->outbox, PYFS_CONTROL_DRAIN, NULL);
		g_ptr_array_add(server->draining, old);
	}
	pyfs_callsocket_refuse_calls(server->sock, FALSE);
	server->spawn_failing = FALSE;
	g_info("Call server (pid %d) serving the calls of %s", gen->pid, server->mountpoint);
}

static gboolean on_import_timeout(gpointer user_data)
{
	Generation *gen = user_data;
	PyfsCallServer *server = gen->owner;

	gen->import_timer_id = 0;
	g_warning("The call server's import of %s did not end within %u s: it is left out of "
		  "the call server (its calls import it themselves)", gen->importing,
		  server->timeout_s);
	g_hash_table_add(server->hung, g_strdup(gen->importing));
	gen->hung = TRUE;
	kill(gen->pid, SIGKILL);
	return G_SOURCE_REMOVE;
}

static void handle_message(Generation *gen, PyfsControlMsg *msg)
{
	PyfsCallServer *server = gen->owner;

	if (gen->superseded && msg->type != PYFS_CONTROL_LOG)
		return;
	switch (msg->type) {
	case PYFS_CONTROL_IMPORTING:
		g_free(gen->importing);
		gen->importing = g_steal_pointer(&msg->text);
		clear_source(&gen->import_timer_id);
		gen->import_timer_id = g_timeout_add_seconds(server->timeout_s, on_import_timeout,
							     gen);
		break;
	case PYFS_CONTROL_IMPORTED:
		clear_source(&gen->import_timer_id);
		g_clear_pointer(&gen->importing, g_free);
		break;
	case PYFS_CONTROL_READY:
		if (gen->state == GEN_STARTING && !gen->superseded)
			promote(server, gen);
		break;
	case PYFS_CONTROL_STALE:
		if (gen->state == GEN_SERVING)
			want(server, WANT_CODE);
		break;
	case PYFS_CONTROL_LOG:
		g_log(G_LOG_DOMAIN, msg->level, "%s", msg->text);
		break;
	default:
		g_warning("The call server (pid %d) sent an unexpected message %u", gen->pid,
			  (guint)msg->type);
		break;
	}
}

/* Handles what @gen has sent so far; FALSE once it closed its end. */
static gboolean read_control(Generation *gen)
{
	for (;;) {
		g_autoptr(GError) error = NULL;
		g_auto(PyfsControlMsg) msg = { 0 };
		int r = pyfs_control_recv(gen->control_fd, &msg, &error);

		if (r == -EAGAIN)
			return TRUE;
		if (r == 0)
			return FALSE;
		if (r < 0)
			g_warning("The call server (pid %d): %s", gen->pid, error->message);
		else
			handle_message(gen, &msg);
	}
}

static gboolean on_control(int fd, GIOCondition condition, gpointer user_data)
{
	Generation *gen = user_data;

	if (read_control(gen))
		return G_SOURCE_CONTINUE;
	/* Its exit follows; the child watch does the rest. */
	gen->in_id = 0;
	return G_SOURCE_REMOVE;
}

static char *describe_status(int status)
{
	if (WIFSIGNALED(status))
		return g_strdup_printf("was killed by signal %d (%s)", WTERMSIG(status),
				       g_strsignal(WTERMSIG(status)));
	return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
}

static void on_server_exit(GPid pid, gint status, gpointer user_data)
{
	Generation *gen = user_data;
	PyfsCallServer *server = gen->owner;
	g_autofree char *how = describe_status(status);

	gen->child_id = 0;
	gen->pid = 0;
	/*
	 * What it said before it went, its last log records first. Read here,
	 * not through on_control(), whose source stays attached until
	 * close_control() removes it: a source that outlived @gen would run
	 * on freed memory.
	 */
	if (gen->in_id != 0)
		read_control(gen);
	switch (gen->state) {
	case GEN_STARTING:
		server->starting = NULL;
		if (gen->hung) {
			spawn_generation(server);
		} else {
			g_warning("The call server (pid %d) %s while starting", pid, how);
			schedule_restart(server);
		}
		break;
	case GEN_SERVING:
		{
			g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&server->lock);

			server->serving = NULL;
			close_control(gen);
		}
		g_warning("The call server (pid %d) %s; calls start python3 until it is back",
			  pid, how);
		if (g_get_monotonic_time() - gen->serving_since >= SERVED_WELL_US)
			server->backoff_ms = BACKOFF_MIN_MS;
		pyfs_callsocket_refuse_calls(server->sock, TRUE);
		if (server->starting == NULL)
			schedule_restart(server);
		break;
	case GEN_DRAINING:
		g_debug("A call server %s (pid %d) %s", gen->superseded ? "replaced" : "that drained",
			pid, how);
		g_ptr_array_remove_fast(server->draining, gen);
		return; /* freed by the array */
	}
	generation_free(gen);
}

/* pyfs-callserver, with the call socket as 3 and its control end as 4. */
static GPid spawn_server(PyfsCallServer *server, int control, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(argv, g_strdup(server->program));
	g_ptr_array_add(argv, g_strconcat("--instance=", server->mountpoint, NULL));
	g_ptr_array_add(argv, g_strdup_printf("--parent=%d", (int)getpid()));
	if (server->debug)
		g_ptr_array_add(argv, g_strdup("--debug"));
	if (server->venv != NULL)
		g_ptr_array_add(argv, g_strconcat("--venv=", server->venv, NULL));
	for (char **dir = server->extra_path; dir != NULL && *dir != NULL; dir++)
		g_ptr_array_add(argv, g_strconcat("--path=", *dir, NULL));
	g_ptr_array_add(argv, NULL);
	return pyfs_server_spawn((const char *const *)argv->pdata, server->sock->fd, control,
				 error);
}

/* A new generation, importing the list as it is now; one starting is replaced. */
static void spawn_generation(PyfsCallServer *server)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(server->registry);
	Generation *gen;
	int pair[2];
	GPid pid;

	/* Replaced before it served: killed, and forgotten once it has exited. */
	if (server->starting != NULL) {
		server->starting->superseded = TRUE;
		server->starting->state = GEN_DRAINING;
		kill(server->starting->pid, SIGKILL);
		g_ptr_array_add(server->draining, server->starting);
		server->starting = NULL;
	}
	clear_source(&server->restart_id);
	clear_source(&server->settle_id);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
		g_warning("Cannot start a call server: socketpair: %s", g_strerror(errno));
		schedule_restart(server);
		return;
	}
	pid = spawn_server(server, pair[1], &error);
	close(pair[1]);
	if (pid == 0) {
		if (!server->spawn_failing)
			g_warning("%s", error->message);
		server->spawn_failing = TRUE;
		close(pair[0]);
		schedule_restart(server);
		return;
	}
	g_unix_set_fd_nonblocking(pair[0], TRUE, NULL);
	gen = g_new0(Generation, 1);
	gen->owner = server;
	gen->number = ++server->generations;
	gen->pid = pid;
	gen->control_fd = pair[0];
	gen->state = GEN_STARTING;
	pyfs_outbox_init(&gen->outbox, pair[0]);
	gen->in_id = g_unix_fd_add(pair[0], G_IO_IN | G_IO_HUP | G_IO_ERR, on_control, gen);
	gen->child_id = g_child_watch_add(pid, on_server_exit, gen);
	server->starting = gen;
	g_debug("Starting call server %u (pid %d)", gen->number, pid);
	for (guint i = 0; i < pyfs_modlist_length(list); i++)
		if (!g_hash_table_contains(server->hung, pyfs_modlist_get(list, i)))
			pyfs_outbox_send(&gen->outbox, PYFS_CONTROL_IMPORT, pyfs_modlist_get(list, i));
	pyfs_outbox_send(&gen->outbox, PYFS_CONTROL_SERVE, NULL);
}

static gboolean on_list_settled(gpointer user_data)
{
	PyfsCallServer *server = user_data;

	server->settle_id = 0;
	spawn_generation(server);
	return G_SOURCE_REMOVE;
}

/* Main thread, when woken: what was wanted meanwhile. */
static gboolean on_wake(gpointer user_data)
{
	PyfsCallServer *server = user_data;
	guint wanted;

	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&server->lock);

		wanted = server->wanted;
		server->wanted = 0;
	}
	/* Code that changed may import now; and a fresh start was asked for. */
	if (wanted & (WANT_CODE | WANT_RELOAD))
		g_hash_table_remove_all(server->hung);
	/* While a back-off runs, the restart takes the list as it is then. */
	if (server->restart_id != 0 && server->serving == NULL)
		return G_SOURCE_CONTINUE;
	if (wanted & WANT_RELOAD) {
		spawn_generation(server);
	} else if (wanted & WANT_LIST) {
		clear_source(&server->settle_id);
		server->settle_id = g_timeout_add(LIST_SETTLE_MS, on_list_settled, server);
	} else if ((wanted & WANT_CODE) && server->starting == NULL && server->settle_id == 0) {
		spawn_generation(server);
	}
	return G_SOURCE_CONTINUE;
}

static void want(PyfsCallServer *server, guint what)
{
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&server->lock);

		server->wanted |= what;
	}
	pyfs_wakeup_signal(server->wake);
}

/* Any thread, after a commit. */
static void want_new_generation(const PyfsModlist *now, gpointer user_data)
{
	want(user_data, WANT_LIST);
}

gboolean pyfs_callserver_reloader(gpointer user_data, GError **error)
{
	PyfsCallServer *server = user_data;

	if (server == NULL)
		return TRUE;
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&server->lock);

		/* Sent now, before the caller goes on: a server reads pyfsd's
		 * messages before it takes the next call. Its queue is empty
		 * while it serves. */
		if (server->serving != NULL && server->serving->control_fd >= 0)
			pyfs_control_send(server->serving->control_fd, PYFS_CONTROL_RETIRE, 0, NULL);
	}
	want(server, WANT_RELOAD);
	return TRUE;
}

PyfsCallServer *pyfs_callserver_new(const char *mountpoint, GError **error)
{
	g_autoptr(PyfsCallServer) server = g_new0(PyfsCallServer, 1);

	g_mutex_init(&server->lock);
	server->mountpoint = g_strdup(mountpoint);
	server->program = pyfs_program_path("callserver/server", "pyfs-callserver");
	server->draining = g_ptr_array_new_with_free_func((GDestroyNotify)generation_free);
	server->hung = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	server->backoff_ms = BACKOFF_MIN_MS;
	server->sock = pyfs_callsocket_new(mountpoint, error);
	if (server->sock == NULL)
		return NULL;
	return g_steal_pointer(&server);
}

gboolean pyfs_callserver_start(PyfsCallServer *server, PyfsRegistry *registry,
			       const PyfsCallServerConfig *config, GError **error)
{
	g_return_val_if_fail(server->registry == NULL, FALSE);

	if (!pyfs_callsocket_write_fallback(server->sock, config->venv, config->sys_path, error))
		return FALSE;
	server->registry = registry;
	server->venv = g_strdup(config->venv);
	server->extra_path = g_strdupv((char **)config->extra_path);
	server->timeout_s = config->timeout_s;
	server->debug = config->debug;
	server->wake = pyfs_wakeup_new(on_wake, server, "[pyfsd] call server wanted");
	pyfs_registry_add_listener(registry, want_new_generation, server);
	pyfs_callsocket_refuse_calls(server->sock, TRUE);
	/* From the main loop, once pyfsd's start-up is over: a server that
	 * starts its interpreter meanwhile takes the CPU from it. */
	server->restart_id = g_idle_add_full(G_PRIORITY_DEFAULT, on_restart, server, NULL);
	g_debug("Calls of %s are served on %s", server->mountpoint, server->sock->path);
	return TRUE;
}

const char *pyfs_callserver_socket(PyfsCallServer *server)
{
	return server ? server->sock->path : NULL;
}

/*
 * Tells @gen to stop (its control channel closes; one still starting, which
 * runs no call and may hang in an import, is killed) and keeps its pid to
 * wait for.
 */
static void stop_generation(Generation *gen, GArray *pids)
{
	if (gen->pid > 0 && (gen->state == GEN_STARTING || gen->superseded))
		kill(gen->pid, SIGKILL);
	if (gen->pid > 0)
		g_array_append_val(pids, gen->pid);
	gen->pid = 0;
	clear_source(&gen->child_id);
	close_control(gen);
}

void pyfs_callserver_free(PyfsCallServer *server)
{
	g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(GPid));

	if (server == NULL)
		return;
	clear_source(&server->restart_id);
	clear_source(&server->settle_id);
	if (server->wake != NULL) {
		g_source_destroy(server->wake);
		g_source_unref(server->wake);
	}
	if (server->starting != NULL) {
		stop_generation(server->starting, pids);
		generation_free(server->starting);
	}
	if (server->serving != NULL) {
		stop_generation(server->serving, pids);
		generation_free(server->serving);
	}
	for (guint i = 0; server->draining != NULL && i < server->draining->len; i++)
		stop_generation(server->draining->pdata[i], pids);
	pyfs_server_wait_for_exit(pids, g_get_monotonic_time() + STOP_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND);
	g_clear_pointer(&server->draining, g_ptr_array_unref);
	g_clear_pointer(&server->hung, g_hash_table_unref);
	g_clear_pointer(&server->sock, pyfs_callsocket_free);
	g_strfreev(server->extra_path);
	g_free(server->program);
	g_free(server->venv);
	g_free(server->mountpoint);
	g_mutex_clear(&server->lock);
	g_free(server);
}
