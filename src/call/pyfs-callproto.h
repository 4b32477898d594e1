/* SPDX-License-Identifier: MIT */
/*
 * The call protocol between pyfs-call (the dispatcher) and pyfsd's call
 * server, over a SOCK_STREAM Unix socket; see
 * src/callserver/server/pyfs-callserver-process.c.
 *
 *   dispatcher -> server: one PyfsCallRequest, then payload_len bytes:
 *     n_items runner items (pyfs_call_runner_items()), then n_env
 *     "NAME=VALUE" entries, each NUL-terminated. fd_mask says which of
 *     the caller's stdin, stdout, stderr and working directory will come.
 *   server -> dispatcher: PYFS_CALL_MSG_STARTED (value: the call's pid)
 *     once a process is ready to run the call.
 *   dispatcher -> server: PYFS_CALL_MSG_FDS, with those descriptors as
 *     SCM_RIGHTS, in that order, at once; then the call runs.
 *   server -> dispatcher: PYFS_CALL_MSG_EXIT (value: the call's wait
 *     status), then the server closes the connection.
 *   dispatcher -> server: PYFS_CALL_MSG_SIGNAL (value: a signal number),
 *     after FDS, for the call's process group.
 *
 * The descriptors go only to a call that is about to run: a dispatcher
 * that got no STARTED within PYFS_CALL_START_TIMEOUT_MS (a server stopped
 * or stuck) closes the connection and runs the call itself, with python3;
 * a process that takes the request later finds no FDS, and runs nothing.
 * So a call never runs twice, and a stuck server never holds the caller's
 * pipes open (a shell's $(...) would wait for their end).
 *
 * A connection closed before STARTED means that nothing ran (a refused
 * peer, a version mismatch, a server whose code is stale, one shutting
 * down, or pyfsd itself answering while no server serves): the dispatcher
 * then runs the call itself. Both ends are native-endian: they run on one
 * machine.
 */
#pragma once

#include <stdint.h>
#include <sys/resource.h>

#include <glib.h>

#define PYFS_CALL_PROTO_MAGIC 0x63667970u	/* "pyfc" */
#define PYFS_CALL_PROTO_VERSION 2

/* Bits of fd_mask: which descriptors come with PYFS_CALL_MSG_FDS. */
#define PYFS_CALL_FD_STDIN (1u << 0)
#define PYFS_CALL_FD_STDOUT (1u << 1)
#define PYFS_CALL_FD_STDERR (1u << 2)
#define PYFS_CALL_FD_CWD (1u << 3)
#define PYFS_CALL_N_FDS 4

/* How long a dispatcher waits for STARTED before it runs the call itself. */
#define PYFS_CALL_START_TIMEOUT_MS 2000

/* Far above ARG_MAX: anything bigger is not a request, and is refused. */
#define PYFS_CALL_PAYLOAD_MAX (64u * 1024 * 1024)

/* The caller's resource limits the call takes on, as it would across exec. */
static const int pyfs_call_limits[] = {
	RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_CORE, RLIMIT_NOFILE, RLIMIT_AS,
};
#define PYFS_CALL_N_LIMITS (sizeof(pyfs_call_limits) / sizeof(pyfs_call_limits[0]))

typedef struct {
	uint64_t cur;
	uint64_t max;
} PyfsCallLimit;

typedef struct {
	uint32_t magic;
	uint32_t version;
	uint32_t fd_mask;
	uint32_t umask;
	uint64_t ignored;	/* bit n - 1: the caller ignores signal n (SIG_IGN) */
	uint32_t n_items;
	uint32_t n_env;
	uint32_t payload_len;
	uint32_t reserved;
	PyfsCallLimit limits[PYFS_CALL_N_LIMITS];
} PyfsCallRequest;

enum {
	PYFS_CALL_MSG_STARTED = 1,
	PYFS_CALL_MSG_EXIT = 2,
	PYFS_CALL_MSG_SIGNAL = 3,
	PYFS_CALL_MSG_FDS = 4,
};

typedef struct {
	uint32_t type;
	int32_t value;
} PyfsCallMsg;

/* A request as the server reads it. */
typedef struct {
	PyfsCallRequest header;
	int fds[PYFS_CALL_N_FDS];	/* by slot: stdin, stdout, stderr, cwd; -1 if absent */
	char *payload;
	char **items;			/* header.n_items strings into payload, NULL-terminated */
	char **env;			/* header.n_env strings into payload, NULL-terminated */
} PyfsCallIncoming;

/*
 * Dispatcher side: which of descriptors 0, 1 and 2 are open (PYFS_CALL_FD_*
 * bits). Taken first thing, before the dispatcher opens anything that
 * could take the number of one that is closed.
 */
uint32_t pyfs_call_stdio_mask(void);

/*
 * Dispatcher side: sends the request for the runner @items, for the stdio
 * descriptors in @stdio (from pyfs_call_stdio_mask()) and a working
 * directory, with our environment, umask and limits, and the signals we
 * ignore. FALSE (errno set) when the server cannot be told.
 */
gboolean pyfs_call_send_request(int sock, uint32_t stdio, GPtrArray *items, uint64_t ignored);

/* Dispatcher side, on STARTED: the descriptors of @stdio, then @cwd. */
gboolean pyfs_call_send_fds(int sock, uint32_t stdio, int cwd);

/*
 * Server side: reads one request from @sock, which blocks (bounded by the
 * caller's SO_RCVTIMEO). NULL with @error if it is incomplete or invalid.
 */
PyfsCallIncoming *pyfs_call_recv_request(int sock, GError **error);

/*
 * Server side, after STARTED: reads the descriptors into @in (blocking as
 * above). FALSE with @error when the dispatcher gave up (the connection
 * ended) or sent something else.
 */
gboolean pyfs_call_recv_fds(int sock, PyfsCallIncoming *in, GError **error);

/* Closes the descriptors still held and frees @in. NULL-safe. */
void pyfs_call_incoming_free(PyfsCallIncoming *in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PyfsCallIncoming, pyfs_call_incoming_free)

/* Sends one message; FALSE (errno set) if it could not be sent whole. */
gboolean pyfs_call_send_msg(int sock, uint32_t type, int32_t value);
