/* SPDX-License-Identifier: MIT */
/*
 * The connection to the session bus and the names org.pyfs.Manager is
 * served under. (The interface itself: pyfs-bus-manager.c.)
 *
 * Names: each instance owns org.pyfs.<label> (see
 * pyfs_label_for_mountpoint()) and queues for org.pyfs, without allowing replacement, so that the bus
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
 * Lifetime: the registry cannot forget a listener, so the PyfsBus is
 * reference-counted (each scheduled idle, call under way, connection
 * attempt and reconnection timer holds a reference) and is freed by the
 * daemon only once nothing can change the registry any more.
 * pyfs_bus_stop() removes the timer and cancels the attempt under way.
 */
#include <sys/stat.h>

#include <gio/gio.h>

#include "pyfs-bus-private.h"
#include "pyfs-iterate.h"
#include "pyfs-label.h"

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

PyfsBus *pyfs_bus_ref(PyfsBus *bus)
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

void pyfs_bus_unref(gpointer data)
{
	g_atomic_rc_box_release_full(data, bus_clear);
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
static void forget_connection(PyfsBus *bus)
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

	g_source_set_callback(source, on_retry, pyfs_bus_ref(bus), pyfs_bus_unref);
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
	forget_connection(bus);
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
		forget_connection(bus);
		connection_failed(bus, "the bus closed the connection at once");
		return;
	}

	/* What changed while the bus was away is what the new bus first sees. */
	pyfs_bus_manager_sync(bus);
	/* Export before asking for names: whoever sees a name finds the object. */
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(bus->skeleton),
					      bus->connection, OBJECT_PATH, &error)) {
		g_warning("Cannot export %s on the session bus: %s; D-Bus control is off",
			  OBJECT_PATH, error->message);
		forget_connection(bus);
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
		pyfs_bus_unref(bus);
		return;
	}
	if (connection == NULL)
		connection_failed(bus, error->message);
	else
		attach(bus, G_DBUS_CONNECTION(g_steal_pointer(&connection)));
	pyfs_bus_unref(bus);
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
				   on_connected, pyfs_bus_ref(bus),
				   "address", bus->address,
				   "flags", CONNECTION_FLAGS,
				   NULL);
}

static gboolean attempt_ended(gpointer user_data)
{
	PyfsBus *bus = user_data;

	return !bus->connecting;
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
	pyfs_iterate_until(attempt_ended, bus, STOP_ATTEMPT_WAIT_MS);
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

PyfsBus *pyfs_bus_new(PyfsRegistry *registry, const char *mountpoint)
{
	PyfsBus *bus = g_atomic_rc_box_new0(PyfsBus);
	g_autofree char *label = pyfs_label_for_mountpoint(mountpoint, g_get_home_dir());

	bus->registry = registry;
	bus->label.name = g_strconcat(NAME_PREFIX, label, NULL);
	bus->shared.name = g_strdup(SHARED_NAME);
	bus->cancellable = g_cancellable_new();

	pyfs_bus_manager_setup(bus, mountpoint);
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
	pyfs_bus_unref(bus);
}
