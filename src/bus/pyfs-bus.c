/* SPDX-License-Identifier: MIT */
/*
 * org.pyfs.Manager on the session bus.
 *
 * Names: each instance owns org.pyfs.<label> (see pyfs_bus_label()) and
 * queues for org.pyfs, without allowing replacement, so that the bus
 * daemon hands org.pyfs to the oldest running instance and, when it
 * exits, to the next in line. Start-up is "settled" once GLib has called
 * back once for each name: name-acquired, or name-lost, which is how GLib
 * reports a RequestName answered "in queue". pyfsd sends READY=1 after
 * that, so a client started after the service is ready finds it on the bus.
 *
 * The connection is our own, not g_bus_get()'s singleton: the address is
 * resolved once at start with g_dbus_address_get_for_bus_sync(), and each
 * connection is made as g_dbus_connection_new_for_address() makes one, with
 * the flags g_bus_get() uses (see connect_bus()). GLib (2.74) keeps the
 * singleton in a weak reference and hands the same object back for as long
 * as anything holds it, closed or not: after the bus went away, a call
 * still being answered (its invocation holds the connection) or any other
 * user in the process (a Python module using Gio) would make g_bus_get()
 * return the dead connection, and "dropping every reference" is not ours
 * to ensure. Nor can such a user close our connection. The address is not
 * resolved again: while a restarting bus's $XDG_RUNTIME_DIR/bus is missing
 * GLib would answer "autolaunch:", which is some other bus, if any.
 *
 * Reconnection: when a bus we were connected to goes away (dbus-daemon
 * restarted), on_connection_closed() says so once, drops that connection
 * (names unowned, object unexported, handler disconnected) and connects
 * again after 0.25 s, then 0.5 s, 1 s... at most 10 s apart, failures only
 * at debug, until it succeeds or pyfs_bus_stop(). The new connection gets
 * what start-up did: the object, both names, and Modules from a fresh
 * snapshot, so a change made through the file meanwhile shows. org.pyfs
 * then goes to whichever instance asks the new bus first: after a bus
 * restart the queue follows the order of reconnection, not of start-up.
 * Only a bus that was there is waited for: with none configured, or when
 * the first connection fails, D-Bus control stays off. A call under way
 * when the bus left still makes its change; its answer goes to the closed
 * connection, where GLib drops it without a word.
 *
 * Calls: the handlers run on the main thread. Those that change the list
 * import Python modules and may save the list to disk, so the registry
 * call runs in a GTask thread and the invocation is completed from the
 * task's callback, back on the main thread; the main loop never waits for
 * Python. ListModules only copies the list, which a save never holds up.
 *
 * The Modules property follows the registry whoever changed it: the
 * registry listener runs on the committing thread (a FUSE thread, a task
 * thread), and only schedules a high-priority idle on the main context,
 * which reads a fresh snapshot and sets the property; the skeleton then
 * emits PropertiesChanged. An idle, not g_main_context_invoke(): that
 * would run the update right on the calling thread whenever no thread
 * owns the main context (during start-up, between iterations). Reading a
 * snapshot rather than the listener's list keeps the property right when
 * two commits on two threads call their listeners out of order; at high
 * priority the update runs before any D-Bus call that arrives after the
 * change (GDBus dispatches those at default priority), so a Get after
 * `echo re >> run/modules` returns sees re.
 *
 * Lifetime: the registry cannot forget a listener, so the PyfsBus is
 * reference-counted (each scheduled idle, call under way, connection
 * attempt and reconnection timer holds a reference) and is freed by the
 * daemon only once nothing can change the registry any more.
 * pyfs_bus_stop() removes the timer and cancels the attempt under way.
 */
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>

#include "config.h"
#include "pyfs-bus.h"
#include "pyfs-bus-peer.h"
#include "pyfs-error.h"
#include "pyfs-label.h"
#include "pyfs-log.h"
#include "pyfs-manager-generated.h"
#include "pyfs-names.h"

#define OBJECT_PATH "/org/pyfs"
#define SHARED_NAME "org.pyfs"
#define NAME_PREFIX "org.pyfs."

/*
 * As g_bus_get() connects on Linux: authenticate, say Hello to the bus,
 * and authenticate in a way that also works across a user namespace (a
 * container's bus). See connect_bus() for how.
 */
#define CONNECTION_FLAGS (G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | \
			  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION | \
			  G_DBUS_CONNECTION_FLAGS_CROSS_NAMESPACE)

/* The delay before the first attempt to reconnect, doubled after each failure up to the cap. */
#define RECONNECT_FIRST_MS 250
#define RECONNECT_MAX_MS 10000

/* How long pyfs_bus_stop() waits for a cancelled connection attempt to return. */
#define STOP_ATTEMPT_WAIT_MS 1000

typedef struct {
	PyfsBus *bus;
	char *name;
	guint owner_id;
	gboolean settled;     /* the first answer to our request came */
	gboolean owned;
} BusName;

struct _PyfsBus {
	PyfsRegistry *registry;
	PyfsManager *skeleton;
	char *address;              /* the session bus's, resolved once at start */
	GDBusConnection *connection;
	gulong closed_id;           /* our handler of its "closed" signal */
	GCancellable *cancellable;  /* connection attempts; cancelled by pyfs_bus_stop() */
	gboolean connecting;        /* an attempt is under way */
	guint retry_id;             /* the timer of the next attempt */
	guint retry_ms;             /* the delay after the next failure */
	BusName label;              /* org.pyfs.<label> */
	BusName shared;             /* org.pyfs */
	gboolean exported;
	gboolean off;               /* no bus, or given up on: settled, serving nothing */
	gboolean lost;              /* the bus went away once: reconnecting or reconnected */
	gboolean stopped;           /* atomic: set by pyfs_bus_stop() */
	gboolean sync_pending;      /* atomic: an update of Modules is scheduled */
	guint in_flight;            /* tasks under way; main thread only */
};

typedef enum {
	REQUEST_ADD,
	REQUEST_SET,
	REQUEST_CLEAR,
	REQUEST_REMOVE,
	REQUEST_RELOAD,
} RequestOp;

static const char *const request_names[] = {
	[REQUEST_ADD] = "AddModule",
	[REQUEST_SET] = "SetModules",
	[REQUEST_CLEAR] = "ClearModules",
	[REQUEST_REMOVE] = "RemoveModule",
	[REQUEST_RELOAD] = "Reload",
};

/* A change request on its way through a task thread. */
typedef struct {
	PyfsBus *bus;                       /* a reference */
	GDBusMethodInvocation *invocation;  /* owned until completed */
	RequestOp op;
	GStrv names;
} Request;

static PyfsBus *bus_ref(PyfsBus *bus)
{
	return g_atomic_rc_box_acquire(bus);
}

static void bus_clear(gpointer data)
{
	PyfsBus *bus = data;

	g_clear_object(&bus->skeleton);
	g_clear_object(&bus->connection);
	g_clear_object(&bus->cancellable);
	g_free(bus->address);
	g_free(bus->label.name);
	g_free(bus->shared.name);
}

static void bus_unref(gpointer data)
{
	g_atomic_rc_box_release_full(data, bus_clear);
}

static void request_free(Request *request)
{
	/* Only a request dropped without an answer still holds its invocation. */
	g_clear_object(&request->invocation);
	g_strfreev(request->names);
	bus_unref(request->bus);
	g_free(request);
}

/* --- The Modules property ------------------------------------------------ */

/* Main thread: makes Modules the registry's current list (PropertiesChanged if it differs). */
static void sync_modules(PyfsBus *bus)
{
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(bus->registry);
	g_auto(GStrv) names = pyfs_modlist_to_strv(list);

	pyfs_manager_set_modules(bus->skeleton, (const char *const *)names);
}

static gboolean sync_in_idle(gpointer user_data)
{
	PyfsBus *bus = user_data;

	/* Cleared before reading: a change after this point schedules again. */
	g_atomic_int_set(&bus->sync_pending, FALSE);
	sync_modules(bus);
	return G_SOURCE_REMOVE;
}

/* Any thread, after a commit, outside the registry's locks. */
static void on_registry_changed(const PyfsModlist *now, gpointer user_data)
{
	PyfsBus *bus = user_data;
	g_autoptr(GSource) source = NULL;

	if (g_atomic_int_get(&bus->stopped) ||
	    !g_atomic_int_compare_and_exchange(&bus->sync_pending, FALSE, TRUE))
		return;
	source = g_idle_source_new();
	g_source_set_priority(source, G_PRIORITY_HIGH);
	g_source_set_callback(source, sync_in_idle, bus_ref(bus), bus_unref);
	g_source_set_static_name(source, "[pyfsd] Modules update");
	g_source_attach(source, g_main_context_default());
}

/* --- Method calls -------------------------------------------------------- */

static void log_request(GDBusMethodInvocation *invocation, RequestOp op,
			const char *const *names)
{
	g_autofree char *joined = NULL;

	if (names == NULL) {
		g_debug("D-Bus %s() from %s", request_names[op],
			g_dbus_method_invocation_get_sender(invocation));
		return;
	}
	joined = g_strjoinv(" ", (GStrv)names);
	/* SetModules may carry 64 KiB of names: the start says enough. */
	if (strlen(joined) > 200)
		strcpy(joined + 196, "...");
	g_debug("D-Bus %s(%s) from %s", request_names[op], joined,
		g_dbus_method_invocation_get_sender(invocation));
}

/* Takes @invocation; the error goes out under its org.pyfs.Error.* name (pyfs-error.h). */
static void return_error(GDBusMethodInvocation *invocation, const GError *error)
{
	g_dbus_method_invocation_take_error(invocation, pyfs_error_for_dbus(error));
}

gboolean pyfs_bus_validate_names(const char *const *names, GError **error)
{
	gsize bytes = 0;
	guint count = 0;

	if (names == NULL)
		return TRUE;
	for (const char *const *n = names; *n != NULL; n++) {
		if (++count > PYFS_BUS_MAX_NAMES) {
			g_set_error(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE,
				    "More than %d module names in one call", PYFS_BUS_MAX_NAMES);
			return FALSE;
		}
		bytes += strlen(*n) + 1;
		if (bytes > PYFS_WRITE_MAX) {
			g_set_error(error, PYFS_ERROR, PYFS_ERROR_TOO_LARGE,
				    "More than %d bytes of module names in one call",
				    PYFS_WRITE_MAX);
			return FALSE;
		}
	}
	for (const char *const *n = names; *n != NULL; n++)
		if (!pyfs_name_validate(*n, error))
			return FALSE;
	return TRUE;
}

/* A task thread: the registry takes the GIL and its lock itself. */
static void run_request(GTask *task, gpointer source, gpointer task_data,
			GCancellable *cancellable)
{
	Request *request = task_data;
	PyfsRegistry *registry = request->bus->registry;
	const char *const *names = (const char *const *)request->names;
	g_autoptr(GError) error = NULL;
	gboolean ok = FALSE;

	switch (request->op) {
	case REQUEST_ADD:
		ok = pyfs_registry_add(registry, names, &error);
		break;
	case REQUEST_SET:
		ok = pyfs_registry_set(registry, names, &error);
		break;
	case REQUEST_CLEAR:
		ok = pyfs_registry_clear(registry, &error);
		break;
	case REQUEST_REMOVE:
		ok = pyfs_registry_remove(registry, names[0], &error);
		break;
	case REQUEST_RELOAD:
		ok = pyfs_registry_reload(registry, &error);
		break;
	}
	if (ok)
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, g_steal_pointer(&error));
}

/* Main thread: answers the call. */
static void on_request_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Request *request = g_task_get_task_data(G_TASK(result));
	PyfsBus *bus = request->bus;
	GDBusMethodInvocation *invocation = g_steal_pointer(&request->invocation);
	g_autoptr(GError) error = NULL;

	bus->in_flight--;
	if (!g_task_propagate_boolean(G_TASK(result), &error)) {
		/* A module that does not import, a disk that refuses: worth a warning. */
		pyfs_log_error(pyfs_error_is_usage(error) ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
			       error, "Refused D-Bus %s()", request_names[request->op]);
		return_error(invocation, error);
		return;
	}
	/* Whoever reads Modules after the reply must see the change. */
	sync_modules(bus);
	switch (request->op) {
	case REQUEST_ADD:
		pyfs_manager_complete_add_module(bus->skeleton, invocation);
		break;
	case REQUEST_SET:
		pyfs_manager_complete_set_modules(bus->skeleton, invocation);
		break;
	case REQUEST_CLEAR:
		pyfs_manager_complete_clear_modules(bus->skeleton, invocation);
		break;
	case REQUEST_REMOVE:
		pyfs_manager_complete_remove_module(bus->skeleton, invocation);
		break;
	case REQUEST_RELOAD:
		pyfs_manager_complete_reload(bus->skeleton, invocation);
		break;
	}
}

/* Owns @invocation, as the handle-* handlers do: completing it drops it. */
static gboolean start_request(PyfsBus *bus, GDBusMethodInvocation *invocation, RequestOp op,
			      const char *const *names)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GTask) task = NULL;
	Request *request;

	log_request(invocation, op, names);
	/* Refused early, on the main thread: no task for a call that cannot succeed. */
	if (!pyfs_bus_validate_names(names, &error)) {
		g_debug("D-Bus %s refused: %s", request_names[op], error->message);
		return_error(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	request = g_new0(Request, 1);
	request->bus = bus_ref(bus);
	request->invocation = invocation;
	request->op = op;
	request->names = g_strdupv((GStrv)names);

	task = g_task_new(bus->skeleton, NULL, on_request_done, NULL);
	g_task_set_source_tag(task, start_request);
	g_task_set_task_data(task, request, (GDestroyNotify)request_free);
	bus->in_flight++;
	g_task_run_in_thread(task, run_request);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean on_handle_add_module(PyfsManager *manager, GDBusMethodInvocation *invocation,
				     const char *name, gpointer user_data)
{
	const char *const names[] = { name, NULL };

	return start_request(user_data, invocation, REQUEST_ADD, names);
}

static gboolean on_handle_set_modules(PyfsManager *manager, GDBusMethodInvocation *invocation,
				      const char *const *names, gpointer user_data)
{
	return start_request(user_data, invocation, REQUEST_SET, names);
}

static gboolean on_handle_clear_modules(PyfsManager *manager, GDBusMethodInvocation *invocation,
					gpointer user_data)
{
	return start_request(user_data, invocation, REQUEST_CLEAR, NULL);
}

static gboolean on_handle_remove_module(PyfsManager *manager, GDBusMethodInvocation *invocation,
					const char *name, gpointer user_data)
{
	const char *const names[] = { name, NULL };

	return start_request(user_data, invocation, REQUEST_REMOVE, names);
}

static gboolean on_handle_reload(PyfsManager *manager, GDBusMethodInvocation *invocation,
				 gpointer user_data)
{
	return start_request(user_data, invocation, REQUEST_RELOAD, NULL);
}

static gboolean on_handle_list_modules(PyfsManager *manager, GDBusMethodInvocation *invocation,
				       gpointer user_data)
{
	PyfsBus *bus = user_data;
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(bus->registry);
	g_auto(GStrv) names = pyfs_modlist_to_strv(list);

	pyfs_manager_complete_list_modules(manager, invocation, (const char *const *)names);
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* --- Names and the connection -------------------------------------------- */

static void on_name_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
	BusName *n = user_data;

	if (n->settled)
		g_message("Now owning %s (the previous owner left)", name);
	else
		g_debug("Owning %s", name);
	n->settled = TRUE;
	n->owned = TRUE;
}

/*
 * The first call answers our request: the name is someone else's and we
 * wait in its queue. Later, as we allow no replacement, only a closed
 * connection takes a name from us, and on_connection_closed() says so.
 */
static void on_name_lost(GDBusConnection *connection, const char *name, gpointer user_data)
{
	BusName *n = user_data;
	gboolean first = !n->settled;

	n->settled = TRUE;
	n->owned = FALSE;
	if (connection == NULL || g_dbus_connection_is_closed(connection) || n->bus->off ||
	    g_atomic_int_get(&n->bus->stopped))
		return;
	/* After a bus restart, whoever reconnected first holds org.pyfs, older or not. */
	if (first && n == &n->bus->shared && n->bus->lost)
		g_message("%s belongs to another instance; queued to take it over", name);
	else if (first && n == &n->bus->shared)
		g_message("%s belongs to an older instance; queued to take it over", name);
	else if (first)
		g_warning("%s is owned by another process; queued to take it over", name);
	else
		g_message("Lost the bus name %s", name);
}

/* A new request: its first answer settles the name again. */
static void own_name(PyfsBus *bus, BusName *n)
{
	n->bus = bus;
	n->settled = FALSE;
	n->owned = FALSE;
	n->owner_id = g_bus_own_name_on_connection(bus->connection, n->name,
						   G_BUS_NAME_OWNER_FLAGS_NONE,
						   on_name_acquired, on_name_lost, n, NULL);
}

/*
 * On a closed connection this only forgets the request; on a live one
 * it releases the name, and the bus hands org.pyfs to the next in line.
 */
static void unown_name(BusName *n)
{
	if (n->owner_id != 0)
		g_bus_unown_name(n->owner_id);
	n->owner_id = 0;
}

/* Forgets the connection: our names, the object, our handler. */
static void detach(PyfsBus *bus)
{
	unown_name(&bus->label);
	unown_name(&bus->shared);
	if (bus->exported)
		g_dbus_interface_skeleton_unexport_from_connection(
			G_DBUS_INTERFACE_SKELETON(bus->skeleton), bus->connection);
	bus->exported = FALSE;
	g_clear_signal_handler(&bus->closed_id, bus->connection);
	g_clear_object(&bus->connection);
}

static void connect_bus(PyfsBus *bus);

static gboolean on_retry(gpointer user_data)
{
	PyfsBus *bus = user_data;

	bus->retry_id = 0;
	connect_bus(bus);
	return G_SOURCE_REMOVE;
}

/* Schedules the next attempt; returns its delay. The timer holds a reference. */
static guint schedule_retry(PyfsBus *bus)
{
	g_autoptr(GSource) source = g_timeout_source_new(bus->retry_ms);
	guint delay = bus->retry_ms;

	g_source_set_callback(source, on_retry, bus_ref(bus), bus_unref);
	g_source_set_static_name(source, "[pyfsd] D-Bus reconnection");
	bus->retry_id = g_source_attach(source, NULL);
	bus->retry_ms = MIN(bus->retry_ms * 2, RECONNECT_MAX_MS);
	return delay;
}

/* The first connection failing turns D-Bus control off; a reconnection tries again. */
static void connection_failed(PyfsBus *bus, const char *why)
{
	guint delay;

	if (!bus->lost) {
		g_message("Cannot connect to the session bus: %s; D-Bus control is off", why);
		bus->off = TRUE;
		return;
	}
	delay = schedule_retry(bus);
	g_debug("Cannot reconnect to the session bus: %s; trying again in %u ms", why, delay);
}

/*
 * Main thread, on the connection's own emission: nothing here can run
 * after pyfs_bus_free(), which disconnects it. Dropping our reference
 * from the handler is safe: the emission holds one.
 */
static void on_connection_closed(GDBusConnection *connection, gboolean remote_peer_vanished,
				 GError *error, gpointer user_data)
{
	PyfsBus *bus = user_data;

	if (g_atomic_int_get(&bus->stopped))
		return;
	/* The mount serves on: say it once, and the attempts only at debug. */
	g_message("The session bus went away%s%s; D-Bus control is off until it is back, "
		  "reconnecting", error ? ": " : "", error ? error->message : "");
	bus->lost = TRUE;
	detach(bus);
	bus->retry_ms = RECONNECT_FIRST_MS;
	schedule_retry(bus);
}

/* Takes @connection, new and ours alone: serves on it what start-up did. */
static void attach(PyfsBus *bus, GDBusConnection *connection)
{
	g_autoptr(GError) error = NULL;

	/* The mount outlives the bus: losing it must not end the process. Only
	 * g_bus_get() sets exit-on-close, but say it where it matters. */
	g_dbus_connection_set_exit_on_close(connection, FALSE);
	bus->connection = connection;
	bus->closed_id = g_signal_connect(connection, "closed", G_CALLBACK(on_connection_closed),
					  bus);
	/* Closed already, "closed" may have been emitted before we listened. */
	if (g_dbus_connection_is_closed(connection)) {
		detach(bus);
		connection_failed(bus, "the bus closed the connection at once");
		return;
	}

	/* What changed while the bus was away is what the new bus first sees. */
	sync_modules(bus);
	/* Export before asking for names: whoever sees a name finds the object. */
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(bus->skeleton),
					      bus->connection, OBJECT_PATH, &error)) {
		g_warning("Cannot export %s on the session bus: %s; D-Bus control is off",
			  OBJECT_PATH, error->message);
		detach(bus);
		bus->off = TRUE;
		return;
	}
	bus->exported = TRUE;
	own_name(bus, &bus->label);
	own_name(bus, &bus->shared);
	if (bus->lost)
		g_message("Reconnected to the session bus");
}

static void on_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
	PyfsBus *bus = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GObject) connection = g_async_initable_new_finish(G_ASYNC_INITABLE(source),
								      result, &error);

	bus->connecting = FALSE;
	/* Stopped meanwhile: a connection made all the same closes with its last reference. */
	if (g_atomic_int_get(&bus->stopped)) {
		bus_unref(bus);
		return;
	}
	if (connection == NULL)
		connection_failed(bus, error->message);
	else
		attach(bus, G_DBUS_CONNECTION(g_steal_pointer(&connection)));
	bus_unref(bus);
}

/*
 * The attempt holds a reference until on_connected(). What
 * g_dbus_connection_new_for_address() does, but through the properties, as
 * g_bus_get() does: GLib 2.74's wrapper refuses CROSS_NAMESPACE (missing
 * from its mask of valid flags, a critical and no connection), which
 * g_bus_get() itself passes on Linux.
 */
static void connect_bus(PyfsBus *bus)
{
	bus->connecting = TRUE;
	g_async_initable_new_async(G_TYPE_DBUS_CONNECTION, G_PRIORITY_DEFAULT, bus->cancellable,
				   on_connected, bus_ref(bus),
				   "address", bus->address,
				   "flags", CONNECTION_FLAGS,
				   NULL);
}

static gboolean on_attempt_timeout(gpointer user_data)
{
	gboolean *timed_out = user_data;

	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/*
 * Connecting and authenticating honour the cancellable, so a cancelled
 * attempt returns at once and releases what it holds. GLib's Hello does
 * not (2.74): a bus that took the connection and then hung could hold it
 * for the 25 s of a D-Bus call. That is not waited out; the attempt's
 * reference keeps the PyfsBus until on_connected() finds it stopped.
 */
static void wait_for_attempt(PyfsBus *bus)
{
	gboolean timed_out = FALSE;
	guint timeout_id;

	if (!bus->connecting)
		return;
	timeout_id = g_timeout_add(STOP_ATTEMPT_WAIT_MS, on_attempt_timeout, &timed_out);
	while (bus->connecting && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(timeout_id);
}

/* Whether a session bus is configured, without GLib's fallback of autolaunching one. */
static gboolean session_bus_configured(void)
{
	const char *address = g_getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *runtime_dir = g_getenv("XDG_RUNTIME_DIR");
	g_autofree char *socket = NULL;
	struct stat st;

	if (address != NULL && address[0] != '\0')
		return TRUE;
	if (runtime_dir == NULL || runtime_dir[0] != '/')
		return FALSE;
	/* GLib connects to $XDG_RUNTIME_DIR/bus in this case, as sd-bus does. */
	socket = g_build_filename(runtime_dir, "bus", NULL);
	return stat(socket, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* --- Public API ----------------------------------------------------------- */

char *pyfs_bus_label(const char *mountpoint, const char *home)
{
	/* Shared with the state file's name (pyfs-label.h). */
	return pyfs_label_for_mountpoint(mountpoint, home);
}

PyfsBus *pyfs_bus_new(PyfsRegistry *registry, const char *mountpoint)
{
	PyfsBus *bus = g_atomic_rc_box_new0(PyfsBus);
	g_autofree char *label = pyfs_bus_label(mountpoint, g_get_home_dir());

	bus->registry = registry;
	bus->label.name = g_strconcat(NAME_PREFIX, label, NULL);
	bus->shared.name = g_strdup(SHARED_NAME);
	bus->cancellable = g_cancellable_new();

	bus->skeleton = pyfs_manager_skeleton_new();
	pyfs_manager_set_mountpoint(bus->skeleton, mountpoint);
	pyfs_manager_set_version(bus->skeleton, PYFS_VERSION);
	sync_modules(bus);
	g_signal_connect(bus->skeleton, "handle-add-module", G_CALLBACK(on_handle_add_module), bus);
	g_signal_connect(bus->skeleton, "handle-set-modules", G_CALLBACK(on_handle_set_modules),
			 bus);
	g_signal_connect(bus->skeleton, "handle-clear-modules",
			 G_CALLBACK(on_handle_clear_modules), bus);
	g_signal_connect(bus->skeleton, "handle-list-modules", G_CALLBACK(on_handle_list_modules),
			 bus);
	g_signal_connect(bus->skeleton, "handle-remove-module",
			 G_CALLBACK(on_handle_remove_module), bus);
	g_signal_connect(bus->skeleton, "handle-reload", G_CALLBACK(on_handle_reload), bus);
	g_signal_connect(bus->skeleton, "g-authorize-method", G_CALLBACK(pyfs_bus_peer_authorize),
			 NULL);

	pyfs_registry_add_listener(registry, on_registry_changed, bus);
	return bus;
}

void pyfs_bus_start(PyfsBus *bus)
{
	g_autoptr(GError) error = NULL;

	if (!session_bus_configured()) {
		g_message("No session bus (DBUS_SESSION_BUS_ADDRESS is not set); "
			  "D-Bus control is off");
		bus->off = TRUE;
		return;
	}
	/* Configured, so GLib's answer is that address, not its "autolaunch:" fallback. */
	bus->address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SESSION, NULL, &error);
	if (bus->address == NULL) {
		g_message("Cannot connect to the session bus: %s; D-Bus control is off",
			  error->message);
		bus->off = TRUE;
		return;
	}
	g_debug("Connecting to the session bus at %s as %s", bus->address, bus->label.name);
	connect_bus(bus);
}

gboolean pyfs_bus_settled(PyfsBus *bus)
{
	/* A bus that went away during start-up is not waited for: it may never come back. */
	return bus->off || bus->lost || (bus->label.settled && bus->shared.settled);
}

void pyfs_bus_stop(PyfsBus *bus)
{
	if (g_atomic_int_get(&bus->stopped))
		return;
	g_atomic_int_set(&bus->stopped, TRUE);
	/* No more attempts to connect: the next is not scheduled, the current one ends. */
	g_clear_handle_id(&bus->retry_id, g_source_remove);
	g_cancellable_cancel(bus->cancellable);
	wait_for_attempt(bus);

	/* No new calls; those under way still get their answer. */
	if (bus->exported)
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(bus->skeleton));
	bus->exported = FALSE;
	if (bus->in_flight > 0)
		g_message("Waiting for %u D-Bus call%s under way", bus->in_flight,
			  bus->in_flight == 1 ? "" : "s");
	while (bus->in_flight > 0)
		g_main_context_iteration(NULL, TRUE);

	/* Releasing org.pyfs hands it to the next instance in the queue now. */
	unown_name(&bus->label);
	unown_name(&bus->shared);
	if (bus->connection != NULL && !g_dbus_connection_is_closed(bus->connection))
		g_dbus_connection_flush_sync(bus->connection, NULL, NULL);
}

void pyfs_bus_free(PyfsBus *bus)
{
	if (bus == NULL)
		return;
	pyfs_bus_stop(bus);
	/* Other references may outlive ours: no "closed" may reach them. */
	if (bus->connection != NULL)
		g_clear_signal_handler(&bus->closed_id, bus->connection);
	bus_unref(bus);
}
