/* SPDX-License-Identifier: MIT */
/*
 * What the connection (pyfs-bus.c) and the Manager interface
 * (pyfs-bus-manager.c) share. The rest of pyfsd uses pyfs-bus.h.
 */
#pragma once

#include "pyfs-bus.h"
#include "pyfs-manager-generated.h"

G_BEGIN_DECLS

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

/* References: each scheduled idle, call under way, connection attempt and
 * reconnection timer holds one (see "Lifetime" in pyfs-bus.c). */
PyfsBus *pyfs_bus_ref(PyfsBus *bus);
void pyfs_bus_unref(gpointer data);

/* The skeleton for the mount on @mountpoint, its handlers, Modules, and the
 * registry listener that keeps Modules current. Once, from pyfs_bus_new(). */
void pyfs_bus_manager_setup(PyfsBus *bus, const char *mountpoint);

/* Main thread: makes Modules the registry's current list (PropertiesChanged
 * if it differs). */
void pyfs_bus_manager_sync(PyfsBus *bus);

G_END_DECLS
