/* SPDX-License-Identifier: MIT */
#include "pyfs-bus-peer.h"

#include <unistd.h>

/* The uids refused so far, each logged once. */
static GMutex refused_lock;
static GHashTable *refused;

/* The caller's uid, as the bus daemon knows it; FALSE if it cannot say. */
static gboolean caller_uid(GDBusMethodInvocation *invocation, guint32 *uid, GError **error)
{
	GDBusConnection *connection = g_dbus_method_invocation_get_connection(invocation);
	const char *sender = g_dbus_method_invocation_get_sender(invocation);
	g_autoptr(GVariant) reply = NULL;

	/* A connection to a peer, no bus in between: the peer is the bus. */
	if (sender == NULL) {
		GCredentials *credentials = g_dbus_connection_get_peer_credentials(connection);
		uid_t peer;

		if (credentials == NULL)
			return FALSE;
		peer = g_credentials_get_unix_user(credentials, error);
		*uid = peer;
		return peer != (uid_t)-1;
	}
	reply = g_dbus_connection_call_sync(connection, "org.freedesktop.DBus",
					    "/org/freedesktop/DBus", "org.freedesktop.DBus",
					    "GetConnectionUnixUser", g_variant_new("(s)", sender),
					    G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
					    error);
	if (reply == NULL)
		return FALSE;
	g_variant_get(reply, "(u)", uid);
	return TRUE;
}

static void log_refusal_once(guint32 uid, const char *sender, const char *method,
			     const char *why)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&refused_lock);

	if (refused == NULL)
		refused = g_hash_table_new(NULL, NULL);
	if (g_hash_table_contains(refused, GUINT_TO_POINTER(uid)))
		return;
	g_hash_table_add(refused, GUINT_TO_POINTER(uid));
	g_warning("Refused D-Bus %s() from %s: %s (logged once per user)", method,
		  sender ? sender : "a peer", why);
}

gboolean pyfs_bus_peer_authorize(GDBusInterfaceSkeleton *skeleton,
				 GDBusMethodInvocation *invocation, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL;
	guint32 uid = G_MAXUINT32;

	if (caller_uid(invocation, &uid, &error) && uid == getuid())
		return TRUE;
	why = uid != G_MAXUINT32 ? g_strdup_printf("uid %u is not pyfsd's user", uid)
				 : g_strdup_printf("its uid is unknown (%s)",
						   error ? error->message : "no credentials");
	log_refusal_once(uid, g_dbus_method_invocation_get_sender(invocation),
			 g_dbus_method_invocation_get_method_name(invocation), why);
	g_dbus_method_invocation_return_error(invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
					      "org.pyfs.Manager is pyfsd's user's alone: %s", why);
	return FALSE;
}
