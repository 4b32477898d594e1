/* SPDX-License-Identifier: MIT */
/*
 * The control channel between pyfsd and a call server it spawned: a
 * SOCK_SEQPACKET socket pair, so that every message arrives whole or not at
 * all, and one message is one datagram: a PyfsControlHeader, then its
 * payload. Both ends validate what they receive (pyfs_control_recv()) and
 * refuse the rest: the type must be known, a name a valid module name, a
 * log text UTF-8, and nothing may be longer than PYFS_CONTROL_MAX.
 *
 *   pyfsd -> server
 *     IMPORT name   import this module (before SERVE only)
 *     SERVE         no more imports: warm up, then take calls
 *     RETIRE        the code changed (Reload()): answer calls "stale"
 *     DRAIN         take no more calls; exit once those running end
 *   server -> pyfsd
 *     IMPORTING name, IMPORTED name   around each import, so that pyfsd
 *                                     can time it and name one that hangs
 *     READY         taking calls
 *     STALE         a source file of a module it imported changed
 *     LOG level text                  a log record, for pyfsd's log
 *
 * pyfsd closing its end means "stop"; the server closing its end, that it
 * is gone.
 */
#pragma once

#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	PYFS_CONTROL_IMPORT = 1,
	PYFS_CONTROL_SERVE,
	PYFS_CONTROL_RETIRE,
	PYFS_CONTROL_DRAIN,
	PYFS_CONTROL_IMPORTING,
	PYFS_CONTROL_IMPORTED,
	PYFS_CONTROL_READY,
	PYFS_CONTROL_STALE,
	PYFS_CONTROL_LOG,
} PyfsControlType;

/* The longest message: a log record with a traceback, cut to fit. */
#define PYFS_CONTROL_MAX (16 * 1024)

typedef struct {
	uint32_t type;		/* PyfsControlType */
	uint32_t level;		/* LOG: a GLogLevelFlags level; else 0 */
} PyfsControlHeader;

typedef struct {
	PyfsControlType type;
	GLogLevelFlags level;
	char *text;		/* the name, or the log text; NULL when none */
} PyfsControlMsg;

void pyfs_control_msg_clear(PyfsControlMsg *msg);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PyfsControlMsg, pyfs_control_msg_clear)

/*
 * Sends one message of @type with @text (a name or a log text, or NULL);
 * a log text too long is cut. Blocks as @fd does (the server's end waits,
 * bounded by SO_SNDTIMEO; pyfsd's never does, and queues what it cannot
 * send yet); never raises SIGPIPE. Returns 0, or a negative errno
 * (-EAGAIN: the peer's queue is full).
 */
int pyfs_control_send(int fd, PyfsControlType type, GLogLevelFlags level, const char *text);

/*
 * Receives one message into @msg. Returns 1 for a message, 0 when the
 * peer is gone, -EAGAIN when nothing is waiting, or -EBADMSG (with
 * @error) for a message that is not valid.
 */
int pyfs_control_recv(int fd, PyfsControlMsg *msg, GError **error);

G_END_DECLS
