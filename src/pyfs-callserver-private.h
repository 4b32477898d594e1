/* SPDX-License-Identifier: MIT */
/*
 * What the call server's parts share: pyfsd's side (pyfs-callserver.c), the
 * server process (pyfs-callserver-process.c) and a spare that becomes a call
 * (pyfs-callserver-spare.c). Not for other subsystems: they use
 * pyfs-callserver.h.
 */
#pragma once

#include "pyfs-python.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib.h>

#include "pyfs-callproto.h"

/* --- The server process --------------------------------------------------- */

/* From a spare or a call to the server, over the handoff socket. */
typedef struct {
	int32_t type;		/* HANDOFF_TAKEN (with the connection) or HANDOFF_DONE */
	int32_t pid;
} Handoff;

enum {
	HANDOFF_TAKEN = 1,	/* this spare took a call: here is its connection */
	HANDOFF_DONE = 2,	/* this call ended and told its dispatcher so */
};

/* A running call's connection, held for its dispatcher's signals and its status. */
typedef struct {
	int fd;			/* -1 once closed */
	pid_t pid;
	PyfsCallMsg in;		/* a message being read: in_len bytes so far */
	gsize in_len;
} Conn;

typedef struct {
	PyObject *runner;	/* the pyfs_runner module: strong reference, for good */
	int listen_fd;		/* the spares accept on it; -1 once stopping */
	int control_fd;		/* -1 once pyfsd is gone */
	int signal_fd;
	int handoff[2];		/* SOCK_SEQPACKET: [0] ours, [1] the spares' */
	int retire[2];		/* this generation's pipe: [0] the spares', [1] ours */
	guint generation;
	guint failures;		/* spares of this generation that died idle, in a row */
	gboolean refill;	/* time to bring the spares back to SPARES */
	GHashTable *spares;	/* pid -> generation */
	GHashTable *calls;	/* pid -> Conn *, or NULL once its dispatcher left */
	GPtrArray *conns;	/* of Conn *, owned */
	GString *control_in;	/* pyfsd's partial line */
	uid_t uid;
	pid_t self;
	const char *socket_path;
	struct stat socket_st;
	gint64 retry_at;	/* a fork failed: when to try again; else 0 */
	gboolean fork_failing;
	gint64 kill_at;		/* stopping: when calls left get SIGKILL; else 0 */
} Server;

static inline void conn_close(Conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* In pyfs-callserver.c: removes the socket at @path if it is still @ours. */
void pyfs_callserver_remove_socket(const char *path, const struct stat *ours);

/*
 * In pyfs-callserver-process.c: the server process, in the child that
 * pyfs_callserver_start() forked. Serves @listen_fd (the socket at
 * @socket_path, @socket_st) until pyfsd closes its end of @control_fd or a
 * signal stops it, then _exits; see pyfs_callserver_start() for @close_fd
 * and @detached.
 */
G_GNUC_NORETURN void pyfs_callserver_main(int listen_fd, int control_fd, const char *socket_path,
					  const struct stat *socket_st, const char *mountpoint,
					  int close_fd, gboolean detached);
void pyfs_callserver_warm_up(Server *s, const char *function, int rounds);

/* In pyfs-callserver-spare.c: a spare just forked by the server; never returns. */
G_GNUC_NORETURN void pyfs_callserver_spare_main(Server *s);
