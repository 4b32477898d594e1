/* SPDX-License-Identifier: MIT */
/*
 * Who may call org.pyfs.Manager: pyfsd's own user, whatever the bus lets in
 * (a session bus configured to admit other users, a shared bus). Every
 * method call is checked by the caller's uid, which the bus daemon vouches
 * for (GetConnectionUnixUser); a refused uid is logged once.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The GDBusInterfaceSkeleton::g-authorize-method handler: TRUE for a call
 * from pyfsd's user; otherwise it answers the call with
 * org.freedesktop.DBus.Error.AccessDenied and returns FALSE. Runs in a
 * thread of GDBus's (it may block on the bus daemon's answer).
 */
gboolean pyfs_bus_peer_authorize(GDBusInterfaceSkeleton *skeleton,
				 GDBusMethodInvocation *invocation, gpointer user_data);

G_END_DECLS
