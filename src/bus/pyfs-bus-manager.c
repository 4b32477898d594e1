/* SPDX-License-Identifier: MIT */
/*
 * org.pyfs.Manager: the object /org/pyfs, its methods and its Modules
 * property, over the registry. (The connection and the names it is
 * served under: pyfs-bus.c.)
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
 */
#include <string.h>

#include <gio/gio.h>

#include "config.h"
#include "pyfs-bus-peer.h"
#include "pyfs-bus-private.h"
#include "pyfs-error.h"
#include "pyfs-log.h"
#include "pyfs-names.h"

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

static void request_free(Request *request)
{
	/* Only a request dropped without an answer still holds its invocation. */
	g_clear_object(&request->invocation);
	g_strfreev(request->names);
	pyfs_bus_unref(request->bus);
	g_free(request);
}

/* --- The Modules property ------------------------------------------------ */

/* Main thread: makes Modules the registry's current list (PropertiesChanged if it differs). */
void pyfs_bus_manager_sync(PyfsBus *bus)
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
	pyfs_bus_manager_sync(bus);
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
	g_source_set_callback(source, sync_in_idle, pyfs_bus_ref(bus), pyfs_bus_unref);
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

gboolean pyfs_bus_check_limits(const char *const *names, GError **error)
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
	pyfs_bus_manager_sync(bus);
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
	/* Refused early, on the main thread: no task for a call too large. */
	if (!pyfs_bus_check_limits(names, &error)) {
		g_debug("D-Bus %s refused: %s", request_names[op], error->message);
		return_error(invocation, error);
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	request = g_new0(Request, 1);
	request->bus = pyfs_bus_ref(bus);
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

void pyfs_bus_manager_setup(PyfsBus *bus, const char *mountpoint)
{
	bus->skeleton = pyfs_manager_skeleton_new();
	pyfs_manager_set_mountpoint(bus->skeleton, mountpoint);
	pyfs_manager_set_version(bus->skeleton, PYFS_VERSION);
	pyfs_bus_manager_sync(bus);
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

	pyfs_registry_add_listener(bus->registry, on_registry_changed, bus);
}
