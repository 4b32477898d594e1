/* SPDX-License-Identifier: MIT */
/*
 * The call server's jobs: a connection queued for the spares, then the
 * call a spare made of it, until its status is sent to the dispatcher.
 * (When connections are taken and spares forked: pyfs-callserver-process.c.)
 */
#include "pyfs-python.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pyfs-callargs.h"
#include "pyfs-callserver-private.h"

/* A job no spare has taken by then lost its spare (killed before it could
 * say so); its dispatcher gave up long before (PYFS_CALL_START_TIMEOUT_MS). */
#define JOB_ABANDONED_MS (4 * PYFS_CALL_START_TIMEOUT_MS)

/* The call and whatever it started in its process group, as a terminal signals a job. */
void pyfs_callserver_signal_call(pid_t pid, int sig)
{
	if (kill(-pid, sig) != 0 && errno == ESRCH)
		kill(pid, sig);
}

void pyfs_callserver_job_free(gpointer data)
{
	Job *job = data;

	if (job->conn >= 0)
		close(job->conn);
	g_free(job);
}

static void drop_job(Server *s, Job *job)
{
	if (job->pid > 0)
		g_hash_table_remove(s->calls, GINT_TO_POINTER(job->pid));
	g_hash_table_remove(s->jobs_by_id, &job->id);
}

guint pyfs_callserver_jobs_waiting(Server *s)
{
	return g_hash_table_size(s->jobs_by_id) - g_hash_table_size(s->calls);
}

gboolean pyfs_callserver_peer_is_ours(Server *s, int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == s->uid)
		return TRUE;
	g_warning("Call server: refused a call from uid %d (pid %d): only uid %u may call",
		  len == sizeof(cred) ? (int)cred.uid : -1, len == sizeof(cred) ? (int)cred.pid : -1,
		  (guint)s->uid);
	return FALSE;
}

/* Queues @conn for the spares, with the job's id; FALSE if it cannot. */
gboolean pyfs_callserver_queue_job(Server *s, guint64 id, int conn)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = { 0 }; /* no uninitialised padding on the wire */
	struct iovec iov = { &id, sizeof(id) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &conn, sizeof(int));
	return sendmsg(s->jobs[0], &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(id);
}

/* A spare took job @id (or dropped it, its request unreadable). */
void pyfs_callserver_job_taken(Server *s, pid_t pid, guint64 value)
{
	guint64 id = value & ~TAKEN_FAILED;
	Job *job = g_hash_table_lookup(s->jobs_by_id, &id);

	if (job == NULL || job->pid != 0 || !g_hash_table_contains(s->spares, GINT_TO_POINTER(pid)))
		return;
	if (value & TAKEN_FAILED) {
		drop_job(s, job);
		return;
	}
	g_hash_table_remove(s->spares, GINT_TO_POINTER(pid));
	job->pid = pid;
	g_hash_table_insert(s->calls, GINT_TO_POINTER(pid), job);
	s->failures = 0;
	pyfs_callserver_debug("Call server: call %d started", pid);
	if (s->phase == PHASE_STOPPING)
		pyfs_callserver_signal_call(pid, SIGTERM);
}

/* The call @pid ended with @status (a wait status) and may not have said so. */
gboolean pyfs_callserver_call_ended(Server *s, pid_t pid, int status)
{
	Job *job = g_hash_table_lookup(s->calls, GINT_TO_POINTER(pid));

	if (job == NULL)
		return FALSE;
	pyfs_callserver_debug("Call server: call %d ended (wait status 0x%x)", pid, status);
	if (job->conn >= 0)
		pyfs_call_send_msg(job->conn, PYFS_CALL_MSG_EXIT, status);
	drop_job(s, job);
	return TRUE;
}

/* Messages from the dispatcher of a running call. */
void pyfs_callserver_read_messages(Server *s, Job *job)
{
	for (;;) {
		ssize_t n = recv(job->conn, (char *)&job->in + job->in_len,
				 sizeof(job->in) - job->in_len, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* The dispatcher was killed: so is its call, as exec would have it. */
			pyfs_callserver_signal_call(job->pid, SIGKILL);
			close(job->conn);
			job->conn = -1;
			return;
		}
		job->in_len += n;
		if (job->in_len < sizeof(job->in))
			continue;
		job->in_len = 0;
		if (job->in.type == PYFS_CALL_MSG_SIGNAL && job->in.value > 0 && job->in.value < NSIG)
			pyfs_callserver_signal_call(job->pid, job->in.value);
	}
}

/* Drops the jobs no spare took in time; when the next one expires. */
gint64 pyfs_callserver_sweep_abandoned(Server *s, gint64 now)
{
	gint64 next = G_MAXINT64;
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, s->jobs_by_id);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Job *job = value;
		gint64 at = job->queued_at + JOB_ABANDONED_MS * G_TIME_SPAN_MILLISECOND;

		if (job->pid != 0)
			continue;
		if (at <= now)
			g_hash_table_iter_remove(&iter);
		else
			next = MIN(next, at);
	}
	return next;
}
