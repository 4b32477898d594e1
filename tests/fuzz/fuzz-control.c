// SPDX-License-Identifier: MIT
/*
 * fuzz-control: what arrives on the control channel between pyfsd and a
 * call server (pyfs-control.h). The input is sent as one datagram and
 * received: it is either refused, or a message whose every field is
 * valid, and a valid message sent again comes back the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pyfs-control.h"
#include "pyfs-names.h"

static int pair[2] = { -1, -1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_auto(PyfsControlMsg) msg = { 0 };
	g_auto(PyfsControlMsg) again = { 0 };
	int r;

	if (pair[0] < 0) {
		int sndbuf = 4 * PYFS_CONTROL_MAX;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0)
			abort();
		setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	if (size > 2 * PYFS_CONTROL_MAX || send(pair[0], data, size, 0) != (ssize_t)size)
		return 0;
	r = pyfs_control_recv(pair[1], &msg, &error);
	/* An empty datagram reads as the end of the channel. */
	if (size == 0) {
		if (r != 0)
			abort();
		return 0;
	}
	if (r == -EBADMSG) {
		if (error == NULL || msg.text != NULL)
			abort();
		return 0;
	}
	if (r != 1)
		abort();
	switch (msg.type) {
	case PYFS_CONTROL_IMPORT:
	case PYFS_CONTROL_IMPORTING:
	case PYFS_CONTROL_IMPORTED:
		if (msg.text == NULL || !pyfs_name_validate(msg.text, NULL))
			abort();
		break;
	case PYFS_CONTROL_LOG:
		if (msg.text == NULL || !g_utf8_validate(msg.text, -1, NULL))
			abort();
		break;
	default:
		if (msg.text != NULL)
			abort();
		break;
	}
	if (pyfs_control_send(pair[0], msg.type, msg.level, msg.text) != 0 ||
	    pyfs_control_recv(pair[1], &again, NULL) != 1 || again.type != msg.type ||
	    again.level != msg.level || g_strcmp0(again.text, msg.text) != 0)
		abort();
	return 0;
}
