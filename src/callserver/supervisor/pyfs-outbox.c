/* SPDX-License-Identifier: MIT */
#include "pyfs-outbox.h"

#include <errno.h>

#include <glib-unix.h>

typedef struct {
	PyfsControlType type;
	char *name;
} Outgoing;

static void outgoing_free(gpointer data)
{
	Outgoing *out = data;

	g_free(out->name);
	g_free(out);
}

void pyfs_outbox_init(PyfsOutbox *box, int fd)
{
	box->fd = fd;
	g_queue_init(&box->queue);
	box->watch_id = 0;
}

static gboolean flush(int fd, GIOCondition condition, gpointer user_data)
{
	PyfsOutbox *box = user_data;
	Outgoing *out;

	while ((out = g_queue_peek_head(&box->queue)) != NULL) {
		if (pyfs_control_send(fd, out->type, 0, out->name) == -EAGAIN)
			return G_SOURCE_CONTINUE;
		outgoing_free(g_queue_pop_head(&box->queue));
	}
	box->watch_id = 0;
	return G_SOURCE_REMOVE;
}

void pyfs_outbox_send(PyfsOutbox *box, PyfsControlType type, const char *name)
{
	Outgoing *out;

	if (box->fd < 0)
		return;
	/* In order: nothing overtakes what waits. */
	if (g_queue_is_empty(&box->queue) &&
	    pyfs_control_send(box->fd, type, 0, name) != -EAGAIN)
		return;
	out = g_new0(Outgoing, 1);
	out->type = type;
	out->name = g_strdup(name);
	g_queue_push_tail(&box->queue, out);
	if (box->watch_id == 0)
		box->watch_id = g_unix_fd_add(box->fd, G_IO_OUT, flush, box);
}

void pyfs_outbox_clear(PyfsOutbox *box)
{
	if (box->watch_id != 0)
		g_source_remove(box->watch_id);
	box->watch_id = 0;
	g_queue_clear_full(&box->queue, outgoing_free);
	box->fd = -1;
}
