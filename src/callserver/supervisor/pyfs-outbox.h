/* SPDX-License-Identifier: MIT */
/*
 * What pyfsd sends a call server on the control channel, in order, never
 * blocking the main loop: a message the socket has no room for waits in
 * the outbox, which the main loop flushes once the socket is writable.
 */
#pragma once

#include <glib.h>

#include "pyfs-control.h"

G_BEGIN_DECLS

typedef struct {
	int fd;			/* borrowed: the control socket, non-blocking */
	GQueue queue;		/* of the messages waiting */
	guint watch_id;		/* while the queue holds messages */
} PyfsOutbox;

void pyfs_outbox_init(PyfsOutbox *box, int fd);

/* Sends or queues; a peer that is gone drops it (its exit is on its way). */
void pyfs_outbox_send(PyfsOutbox *box, PyfsControlType type, const char *name);

/* Drops what waits, and the watch: before @box's fd is closed. */
void pyfs_outbox_clear(PyfsOutbox *box);

G_END_DECLS
