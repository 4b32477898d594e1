/* SPDX-License-Identifier: MIT */
/*
 * What the files of the call server's process share. The design is told
 * in pyfs-callserver-process.c. Each file calls only those after it:
 *
 *   pyfs-callserver-main.c     the program: options, Python, then the loop
 *   pyfs-callserver-process.c  the loop: control channel, spares, signals
 *   pyfs-callserver-import.c   the import phase, until the server serves
 *   pyfs-callserver-jobs.c     a call's bookkeeping, from queued to ended
 *   pyfs-callserver-spare.c    a spare, then the call it becomes
 *   pyfs-callserver-hotpages.c the pages a call writes, copied ahead
 *   pyfs-callserver-log.c      where log records go
 *
 * The Server is the loop's; the others read and change it as it runs.
 */
#pragma once

#include "pyfs-python.h"

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "pyfs-callproto.h"
#include "pyfs-codewatch.h"

/* What the server was started with (pyfs-callserver-main.c). */
typedef struct {
	int listen_fd;		/* the call socket, shared with pyfsd */
	int control_fd;		/* to pyfsd (pyfs-control.h) */
} PyfsCallServerSetup;

/* A connection handed to the spares, then the call that took it. */
typedef struct {
	guint64 id;
	int conn;		/* the server's copy; -1 once closed */
	pid_t pid;		/* the call's process; 0 until a spare took it */
	gint64 queued_at;	/* monotonic time */
	PyfsCallMsg in;		/* a message from the dispatcher: in_len bytes so far */
	gsize in_len;
} Job;

/* A run of pages, by address and length in bytes. */
typedef struct {
	guint64 start;
	guint64 length;
} PyfsPageRange;

typedef enum {
	PHASE_IMPORTING,	/* importing what pyfsd asks, until SERVE */
	PHASE_SERVING,
	PHASE_DRAINING,		/* no new calls; exits once the last one ends */
	PHASE_STOPPING,		/* calls got SIGTERM; SIGKILL at kill_at */
} Phase;

typedef struct {
	PyObject *runner;	/* the pyfs_runner module: strong reference, for good */
	PyfsCodeWatch *watch;	/* NULL when the code cannot be watched */
	int listen_fd;		/* -1 once no longer taking calls */
	int control_fd;		/* -1 once pyfsd is gone */
	int signal_fd;
	int jobs[2];		/* SOCK_SEQPACKET: [0] ours (-1 once closed), [1] the spares' */
	pid_t self;
	uid_t uid;
	gint64 watched_ns;	/* time.time_ns() when the watch began, a tick early */
	Phase phase;
	gboolean stale;		/* its code changed on disk, or pyfsd retired it */
	GHashTable *spares;	/* pid -> NULL: forked, and no job taken yet */
	GHashTable *jobs_by_id;	/* id -> Job *, owned */
	GHashTable *calls;	/* pid -> Job *, borrowed from jobs_by_id */
	GHashTable *exiting;	/* pid -> NULL: calls that said they ended, not reaped yet */
	guint64 next_id;
	guint failures;		/* spares that died before taking a job, in a row */
	gint64 retry_at;	/* a fork failed: when to try again; else 0 */
	gboolean fork_failing;
	gint64 kill_at;		/* stopping: when calls left get SIGKILL; else 0 */
	GArray *hot_pages;	/* PyfsPageRange: what a warm-up writes; NULL if unknown */
	/* The first spare reports what its warm-up wrote, over a socket:
	 * our end (-1 but while it does), when we stop waiting; the spare's
	 * end, only while it is forked; whether it did. */
	int report_fd;
	gint64 report_by;
	int report_out;
	gboolean reported;
	/* The loop's scratch (struct pollfd, pid_t, children reaped), kept
	 * from one turn to the next: after each fork, every page the server
	 * writes is copied at a fault, and fresh allocations write more. */
	GArray *pollfds;
	GArray *polled;
	GArray *ended;
} Server;

/*
 * What a spare and a call tell the server, by sigqueue(3), which needs no
 * descriptor (a call holds none of ours): a spare took job si_value (its
 * high bit set: it could not read the request, and drops it); a call
 * ended with exit status si_value.
 */
#define SIG_TAKEN (SIGRTMIN + 0)
#define SIG_DONE (SIGRTMIN + 1)
#define TAKEN_FAILED (UINT64_C(1) << 63)

/* In pyfs-callserver-process.c: serves until stopped, then exits. */
G_GNUC_NORETURN void pyfs_callserver_run(const PyfsCallServerSetup *setup);

/* In pyfs-callserver-import.c: before the first import (the code watch
 * begins), each import, and after the last (the server warmed up and
 * frozen); TRUE from the last if code changed while the server started. */
void pyfs_callserver_begin_imports(Server *s);
void pyfs_callserver_import(const char *name);
gboolean pyfs_callserver_end_imports(Server *s);

/* In pyfs-callserver-jobs.c. */
/* The call and whatever it started in its process group, as a terminal signals a job. */
void pyfs_callserver_signal_call(pid_t pid, int sig);
/* A job's destroy function (jobs_by_id owns them). */
void pyfs_callserver_job_free(gpointer data);
/* Jobs queued that no spare has taken yet. */
guint pyfs_callserver_jobs_waiting(Server *s);
/* Whether @conn's peer is our own uid; a refusal is logged. */
gboolean pyfs_callserver_peer_is_ours(Server *s, int conn);
/* Queues @conn for the spares, with the job's id; FALSE if it cannot. */
gboolean pyfs_callserver_queue_job(Server *s, guint64 id, int conn);
/* A spare took job @value's id (or dropped it: TAKEN_FAILED). */
void pyfs_callserver_job_taken(Server *s, pid_t pid, guint64 value);
/* The call @pid ended with @status (a wait status): its dispatcher is
 * told; FALSE if @pid is no call (or its end was told already). */
gboolean pyfs_callserver_call_ended(Server *s, pid_t pid, int status);
/* Messages from the dispatcher of a running call (signals to relay). */
void pyfs_callserver_read_messages(Server *s, Job *job);
/* Drops the jobs no spare took in time (their spare was killed before it
 * could say so); the monotonic time the next one expires, or G_MAXINT64. */
gint64 pyfs_callserver_sweep_abandoned(Server *s, gint64 now);

/* In pyfs-callserver-spare.c: a spare just forked by the server; never returns. */
G_GNUC_NORETURN void pyfs_callserver_spare_main(Server *s);
/* pyfs_runner.@function(@rounds), as a spare or the server warms up. */
void pyfs_callserver_warm_up(Server *s, const char *function, int rounds);

/* In pyfs-callserver-hotpages.c. */
/* The private writable pages that this process holds alone, as ranges
 * (PyfsPageRange); NULL with @error if /proc cannot tell. */
GArray *pyfs_callserver_hot_pages_scan(GError **error);
/* Copies ahead, with MADV_POPULATE_WRITE, the pages of @ranges still
 * mapped; NULL-safe. */
void pyfs_callserver_hot_pages_populate(const GArray *ranges);
/* The reporting spare's end of a socket for the next fork, unless one
 * reported already or reports now. */
void pyfs_callserver_hot_pages_ask(Server *s);
/* After that fork (@pid, or -1 if it failed): our end is kept. */
void pyfs_callserver_hot_pages_asked(Server *s, pid_t pid);
/* What the reporting spare sent, as it comes; at its end, s->hot_pages. */
void pyfs_callserver_hot_pages_read(Server *s);
/* Gives up on a report not ended by s->report_by. */
void pyfs_callserver_hot_pages_expire(Server *s, gint64 now);

/* In pyfs-callserver-log.c: log records go to pyfsd over @control_fd
 * (debug ones only if @debug)... */
void pyfs_callserver_log_setup(int control_fd, gboolean debug);
/* ...or to stderr from now on (a spare). */
void pyfs_callserver_log_to_stderr(void);
/* Whether debug records go anywhere. */
gboolean pyfs_callserver_log_debugging(void);
/* g_debug() on the path of every call: GLib formats a record (and takes
 * a lock) before any writer can drop it, which writes to pages a fork
 * made shared, each then copied at a fault. */
#define pyfs_callserver_debug(...) \
	do { \
		if (pyfs_callserver_log_debugging()) \
			g_debug(__VA_ARGS__); \
	} while (0)
