// SPDX-License-Identifier: MIT
/*
 * pyfs-callproto.c: both ends of the call protocol (see pyfs-callproto.h).
 * Nothing here prints: errors go back to the caller.
 */
#include "pyfs-callproto.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfs-callargs.h"

union fd_control {
	char buf[CMSG_SPACE(sizeof(int) * PYFS_CALL_N_FDS)];
	struct cmsghdr align;
};

static gboolean send_all(int sock, const char *data, gsize len)
{
	while (len > 0) {
		ssize_t n = send(sock, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

gboolean pyfs_call_send_msg(int sock, uint32_t type, int32_t value)
{
	PyfsCallMsg msg = { .type = type, .value = value };

	return send_all(sock, (const char *)&msg, sizeof(msg));
}

uint32_t pyfs_call_stdio_mask(void)
{
	uint32_t mask = 0;

	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			mask |= 1u << fd;
	return mask;
}

gboolean pyfs_call_send_request(int sock, uint32_t stdio, GPtrArray *items, uint64_t ignored)
{
	PyfsCallRequest req = {
		.magic = PYFS_CALL_PROTO_MAGIC, .version = PYFS_CALL_PROTO_VERSION,
		.ignored = ignored,
		/* A closed stdio descriptor stays closed in the call, as across exec. */
		.fd_mask = (stdio & (PYFS_CALL_FD_STDIN | PYFS_CALL_FD_STDOUT | PYFS_CALL_FD_STDERR)) |
			   PYFS_CALL_FD_CWD,
	};
	g_autoptr(GByteArray) buf = g_byte_array_new();

	req.umask = umask(0);
	umask(req.umask);
	for (guint i = 0; i < PYFS_CALL_N_LIMITS; i++) {
		struct rlimit limit;

		getrlimit(pyfs_call_limits[i], &limit);
		req.limits[i] = (PyfsCallLimit){ limit.rlim_cur, limit.rlim_max };
	}

	g_byte_array_set_size(buf, sizeof(req));
	for (guint i = 0; i < items->len; i++)
		g_byte_array_append(buf, items->pdata[i], strlen(items->pdata[i]) + 1);
	for (char **e = environ; *e != NULL; e++, req.n_env++)
		g_byte_array_append(buf, (const guint8 *)*e, strlen(*e) + 1);
	if (buf->len - sizeof(req) > PYFS_CALL_PAYLOAD_MAX) {
		errno = E2BIG;
		return FALSE;
	}
	req.n_items = items->len;
	req.payload_len = buf->len - sizeof(req);
	memcpy(buf->data, &req, sizeof(req));
	return send_all(sock, (const char *)buf->data, buf->len);
}

gboolean pyfs_call_send_fds(int sock, uint32_t stdio, int cwd)
{
	PyfsCallMsg fds_msg = { .type = PYFS_CALL_MSG_FDS };
	union fd_control control = { 0 }; /* no uninitialised padding on the wire */
	struct iovec iov = { &fds_msg, sizeof(fds_msg) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf };
	struct cmsghdr *cm;
	int fds[PYFS_CALL_N_FDS];
	guint n_fds = 0;
	ssize_t n;

	for (int fd = 0; fd < 3; fd++)
		if (stdio & (1u << fd))
			fds[n_fds++] = fd;
	fds[n_fds++] = cwd;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return FALSE;
	return send_all(sock, (const char *)&fds_msg + n, sizeof(fds_msg) - n);
}

void pyfs_call_incoming_free(PyfsCallIncoming *in)
{
	if (in == NULL)
		return;
	for (guint i = 0; i < PYFS_CALL_N_FDS; i++)
		if (in->fds[i] >= 0)
			close(in->fds[i]);
	g_free(in->items);
	g_free(in->env);
	g_free(in->payload);
	g_free(in);
}

static gboolean bad_request(GError **error, const char *what)
{
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "Invalid call request: %s", what);
	return FALSE;
}

static gboolean recv_all(int sock, char *buf, gsize len, GError **error)
{
	while (len > 0) {
		ssize_t n = recv(sock, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
				    "Cannot read a call request: %s", g_strerror(errno));
			return FALSE;
		}
		if (n == 0)
			return bad_request(error, "incomplete");
		buf += n;
		len -= n;
	}
	return TRUE;
}

/* NULL-terminated pointers to the @count strings at *@p, which it moves past them. */
static char **split_strings(char **p, const char *end, guint count)
{
	g_autofree char **strings = g_new(char *, count + 1);

	for (guint i = 0; i < count; i++) {
		char *nul = memchr(*p, '\0', end - *p);

		if (nul == NULL)
			return NULL;
		strings[i] = *p;
		*p = nul + 1;
	}
	strings[count] = NULL;
	return g_steal_pointer(&strings);
}

PyfsCallIncoming *pyfs_call_recv_request(int sock, GError **error)
{
	g_autoptr(PyfsCallIncoming) in = g_new0(PyfsCallIncoming, 1);
	const PyfsCallRequest *req = &in->header;
	char *p, *end;

	memset(in->fds, -1, sizeof(in->fds));
	if (!recv_all(sock, (char *)&in->header, sizeof(in->header), error))
		return NULL;
	if (req->magic != PYFS_CALL_PROTO_MAGIC || req->version != PYFS_CALL_PROTO_VERSION) {
		bad_request(error, "another version of pyfs-call");
		return NULL;
	}
	if (req->payload_len == 0 || req->payload_len > PYFS_CALL_PAYLOAD_MAX ||
	    req->n_items == 0 || (req->fd_mask & ~0xfu) != 0 ||
	    !(req->fd_mask & PYFS_CALL_FD_CWD)) {
		bad_request(error, "malformed");
		return NULL;
	}
	in->payload = g_try_malloc(req->payload_len);
	if (in->payload == NULL) {
		bad_request(error, "too large");
		return NULL;
	}
	if (!recv_all(sock, in->payload, req->payload_len, error))
		return NULL;
	p = in->payload;
	end = in->payload + req->payload_len;
	in->items = split_strings(&p, end, req->n_items);
	in->env = in->items ? split_strings(&p, end, req->n_env) : NULL;
	if (in->env == NULL || p != end) {
		bad_request(error, "malformed strings");
		return NULL;
	}
	return g_steal_pointer(&in);
}


gboolean pyfs_call_recv_fds(int sock, PyfsCallIncoming *in, GError **error)
{
	union fd_control control;
	PyfsCallMsg fds_msg;
	struct iovec iov = { &fds_msg, sizeof(fds_msg) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	int received[PYFS_CALL_N_FDS];
	guint n_received = 0, next = 0;
	gboolean fds_ok;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "Cannot read a call's descriptors: %s", g_strerror(errno));
		return FALSE;
	}
	fds_ok = !(msg.msg_flags & MSG_CTRUNC);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		guint count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (guint i = 0; i < count; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n_received < PYFS_CALL_N_FDS) {
				received[n_received++] = fd;
			} else {
				close(fd);
				fds_ok = FALSE;
			}
		}
	}
	if (n > 0 && recv_all(sock, (char *)&fds_msg + n, sizeof(fds_msg) - n, error) && fds_ok &&
	    fds_msg.type == PYFS_CALL_MSG_FDS &&
	    (guint)__builtin_popcount(in->header.fd_mask) == n_received) {
		/* From "as received" to "by slot". */
		for (guint i = 0; i < PYFS_CALL_N_FDS; i++)
			in->fds[i] = (in->header.fd_mask & (1u << i)) ? received[next++] : -1;
		return TRUE;
	}
	for (guint i = 0; i < n_received; i++)
		close(received[i]);
	if (error != NULL && *error == NULL)
		bad_request(error, n == 0 ? "the dispatcher gave up" : "wrong descriptors");
	return FALSE;
}
