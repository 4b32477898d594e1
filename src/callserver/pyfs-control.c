/* SPDX-License-Identifier: MIT */
/*
 * Both ends of the control channel (see pyfs-control.h). Nothing here logs:
 * errors go back to the caller.
 */
#include "pyfs-control.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "pyfs-error.h"
#include "pyfs-names.h"

void pyfs_control_msg_clear(PyfsControlMsg *msg)
{
	g_clear_pointer(&msg->text, g_free);
}

int pyfs_control_send(int fd, PyfsControlType type, GLogLevelFlags level, const char *text)
{
	PyfsControlHeader header = { .type = type, .level = type == PYFS_CONTROL_LOG ? level : 0 };
	gsize len = text ? strlen(text) : 0;
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (len > PYFS_CONTROL_MAX - sizeof(header)) {
		/* Only a log text can be this long: cut it where UTF-8 allows. */
		const char *end = text + PYFS_CONTROL_MAX - sizeof(header);

		while (end > text && (*end & 0xc0) == 0x80)
			end--;
		len = end - text;
	}
	iov[0] = (struct iovec){ &header, sizeof(header) };
	iov[1] = (struct iovec){ (void *)text, len };
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A datagram goes whole or not at all. */
	return n == (ssize_t)(sizeof(header) + len) ? 0 : -EMSGSIZE;
}

static gboolean valid_level(GLogLevelFlags level)
{
	switch (level) {
	case G_LOG_LEVEL_CRITICAL:
	case G_LOG_LEVEL_WARNING:
	case G_LOG_LEVEL_MESSAGE:
	case G_LOG_LEVEL_INFO:
	case G_LOG_LEVEL_DEBUG:
		return TRUE;
	default:
		return FALSE;
	}
}

static int invalid(GError **error, const char *why)
{
	g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "Invalid control message: %s", why);
	return -EBADMSG;
}

int pyfs_control_recv(int fd, PyfsControlMsg *msg, GError **error)
{
	/* One byte more than any valid message: a longer one shows as MSG_TRUNC. */
	g_autofree char *buf = g_malloc(PYFS_CONTROL_MAX + 1);
	PyfsControlHeader header;
	gsize len;
	ssize_t n;

	memset(msg, 0, sizeof(*msg));
	do
		n = recv(fd, buf, PYFS_CONTROL_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	if (n < 0) {
		/* ECONNRESET and the like: the peer is gone all the same. */
		return 0;
	}
	if (n == 0)
		return 0;
	if ((gsize)n > PYFS_CONTROL_MAX)
		return invalid(error, "too long");
	if ((gsize)n < sizeof(header))
		return invalid(error, "too short");
	memcpy(&header, buf, sizeof(header));
	len = n - sizeof(header);
	msg->type = header.type;
	switch (header.type) {
	case PYFS_CONTROL_IMPORT:
	case PYFS_CONTROL_IMPORTING:
	case PYFS_CONTROL_IMPORTED:
		msg->text = g_strndup(buf + sizeof(header), len);
		if (strlen(msg->text) != len || !pyfs_name_validate(msg->text, NULL)) {
			pyfs_control_msg_clear(msg);
			return invalid(error, "not a module name");
		}
		break;
	case PYFS_CONTROL_LOG:
		msg->level = header.level;
		msg->text = g_strndup(buf + sizeof(header), len);
		if (!valid_level(msg->level) || strlen(msg->text) != len ||
		    !g_utf8_validate(msg->text, -1, NULL)) {
			pyfs_control_msg_clear(msg);
			return invalid(error, "not a log record");
		}
		break;
	case PYFS_CONTROL_SERVE:
	case PYFS_CONTROL_RETIRE:
	case PYFS_CONTROL_DRAIN:
	case PYFS_CONTROL_READY:
	case PYFS_CONTROL_STALE:
		if (len != 0)
			return invalid(error, "unexpected payload");
		break;
	default:
		return invalid(error, "unknown type");
	}
	if (header.type != PYFS_CONTROL_LOG && header.level != 0) {
		pyfs_control_msg_clear(msg);
		return invalid(error, "unexpected level");
	}
	return 1;
}
