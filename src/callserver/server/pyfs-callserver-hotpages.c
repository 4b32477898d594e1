/* SPDX-License-Identifier: MIT */
/*
 * The pages a call writes, copied ahead of it in a few system calls.
 *
 * A spare is a fork of the call server: it shares the server's memory
 * until it writes to a page, which the kernel then copies at a page fault.
 * A call writes a few hundred of the server's pages (CPython counts the
 * references of every object it touches), and where a fault is dear (over
 * ten microseconds under some hypervisors, three times what the copy
 * ahead costs) those faults are most of what a spare's warm-up costs.
 * Which pages they are does not change while the server serves, as it
 * runs no Python code then. So the server's first spare, once warm
 * (pyfs-callserver-spare.c), lists the private pages it then holds alone
 * (those it copied, and those it added to mappings it inherited) and sends
 * them to the server in one message on a socket of its own, which the
 * server reads as its loop turns. Each spare forked after that copies
 * those ranges with madvise(MADV_POPULATE_WRITE), one system call per
 * range, before its own warm-up. What the copy does is what the faults
 * would have done: a range no longer mapped only leaves its faults to the
 * warm-up, as before; and without that advice (Linux before 5.14) nothing
 * is reported.
 *
 * Code and read-only data are left to their faults: fork does not copy
 * their mappings either, but the kernel maps sixteen pages at such a
 * fault, and mapping ahead all that a warm-up ends up with costs as much
 * as the faults it saves.
 */
#include "pyfs-python.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pyfs-callserver-private.h"

/* /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst): one
 * 64-bit entry per page; these two bits are readable without privilege. */
#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_EXCLUSIVE (UINT64_C(1) << 56)
/* Entries read at a time, on the stack: the reporting spare's heap stays
 * as the warm-up left it, or the spares would copy the scan's buffers too. */
#define PAGEMAP_CHUNK 512
/* Larger mappings are reservations (a sanitizer's shadow memory, its
 * allocator's space), not memory a fork shares page by page: each page
 * would cost an entry to read, for terabytes. */
#define MAPPING_MAX (G_GUINT64_CONSTANT(256) << 20)

/* Whether this kernel copies ahead (Linux 5.14): tried on a page of ours. */
static gboolean can_copy_ahead(GError **error)
{
	guint64 page_size = (guint64)sysconf(_SC_PAGESIZE);
	char probe[1] = { 0 };
	void *page = (void *)((uintptr_t)probe & ~(uintptr_t)(page_size - 1));

	if (madvise(page, page_size, MADV_POPULATE_WRITE) == 0)
		return TRUE;
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
		    "This kernel cannot copy pages ahead (MADV_POPULATE_WRITE): %s",
		    g_strerror(errno));
	return FALSE;
}

static void add_page(GArray *ranges, guint64 address, guint64 size)
{
	PyfsPageRange *last = ranges->len > 0 ?
		&g_array_index(ranges, PyfsPageRange, ranges->len - 1) : NULL;
	PyfsPageRange range = { address, size };

	if (last != NULL && last->start + last->length == address)
		last->length += size;
	else
		g_array_append_val(ranges, range);
}

/* The pages of [@start, @end) that are present and ours alone, into @ranges. */
static gboolean scan_mapping(int pagemap, guint64 start, guint64 end, guint64 page_size,
			     GArray *ranges, GError **error)
{
	guint64 entries[PAGEMAP_CHUNK];

	for (guint64 address = start; address < end;) {
		gsize want = MIN((end - address) / page_size, PAGEMAP_CHUNK);
		ssize_t got = pread(pagemap, entries, want * sizeof(entries[0]),
				    (off_t)(address / page_size * sizeof(entries[0])));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
				    "Cannot read /proc/self/pagemap: %s", g_strerror(errno));
			return FALSE;
		}
		if (got < (ssize_t)sizeof(entries[0]))
			return TRUE;
		for (gsize i = 0; i < (gsize)got / sizeof(entries[0]); i++)
			if ((entries[i] & PAGEMAP_PRESENT) && (entries[i] & PAGEMAP_EXCLUSIVE))
				add_page(ranges, address + i * page_size, page_size);
		address += (guint64)got / sizeof(entries[0]) * page_size;
	}
	return TRUE;
}

GArray *pyfs_callserver_hot_pages_scan(GError **error)
{
	g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(PyfsPageRange));
	guint64 page_size = (guint64)sysconf(_SC_PAGESIZE);
	char line[PATH_MAX + 128];
	FILE *maps = NULL;
	int pagemap = -1;
	gboolean ok = can_copy_ahead(error);

	if (ok) {
		maps = fopen("/proc/self/maps", "re");
		pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		ok = maps != NULL && pagemap >= 0;
		if (!ok)
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
				    "Cannot open /proc/self/%s: %s",
				    maps == NULL ? "maps" : "pagemap", g_strerror(errno));
	}
	/* Private writable mappings only: what a fork shares until written. */
	while (ok && fgets(line, sizeof(line), maps) != NULL) {
		guint64 start, end;
		char perms[5];

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s", &start, &end, perms) == 3 &&
		    perms[1] == 'w' && perms[3] == 'p' && end - start <= MAPPING_MAX)
			ok = scan_mapping(pagemap, start, end, page_size, ranges, error);
	}
	if (maps != NULL)
		fclose(maps);
	if (pagemap >= 0)
		close(pagemap);
	return ok ? g_steal_pointer(&ranges) : NULL;
}

void pyfs_callserver_hot_pages_populate(const GArray *ranges)
{
	for (guint i = 0; ranges != NULL && i < ranges->len; i++) {
		const PyfsPageRange *range = &g_array_index(ranges, PyfsPageRange, i);

		/* Failing (ENOMEM, EFAULT: no longer mapped, or not writable
		 * now) leaves the faults there to the warm-up. */
		madvise((void *)(uintptr_t)range->start, range->length, MADV_POPULATE_WRITE);
	}
}

static guint64 count_pages(const GArray *ranges)
{
	guint64 bytes = 0;

	for (guint i = 0; ranges != NULL && i < ranges->len; i++)
		bytes += g_array_index(ranges, PyfsPageRange, i).length;
	return bytes / (guint64)sysconf(_SC_PAGESIZE);
}

/* --- The server's side -------------------------------------------------------- */

/* How long the server waits for the report, which takes milliseconds;
 * beyond that, its spares do without. */
#define REPORT_TIMEOUT_MS 5000

void pyfs_callserver_hot_pages_ask(Server *s)
{
	int pair[2];

	s->report_out = -1;
	if (s->reported || s->report_fd >= 0)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
		g_debug("Call server: no report of what a warm-up writes: %s", g_strerror(errno));
		s->reported = TRUE;
		return;
	}
	s->report_fd = pair[0];
	s->report_out = pair[1];
}

void pyfs_callserver_hot_pages_asked(Server *s, pid_t pid)
{
	if (s->report_out < 0)
		return;
	close(s->report_out);
	s->report_out = -1;
	if (pid > 0) {
		s->report_by = g_get_monotonic_time() + REPORT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
		return;
	}
	close(s->report_fd);
	s->report_fd = -1;
}

static void end_report(Server *s, const char *failed)
{
	close(s->report_fd);
	s->report_fd = -1;
	s->reported = TRUE;
	if (failed != NULL)
		g_debug("Call server: spares copy no page ahead: %s", failed);
}

void pyfs_callserver_hot_pages_read(Server *s)
{
	g_autofree PyfsPageRange *ranges = NULL;
	ssize_t len = recv(s->report_fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

	if (len < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (len <= 0 || len % sizeof(PyfsPageRange) != 0) {
		end_report(s, len < 0 ? g_strerror(errno) : "no report, or a malformed one");
		return;
	}
	ranges = g_malloc(len);
	if (recv(s->report_fd, ranges, len, MSG_DONTWAIT) != len) {
		end_report(s, "the report could not be read");
		return;
	}
	s->hot_pages = g_array_sized_new(FALSE, FALSE, sizeof(PyfsPageRange),
					 len / sizeof(PyfsPageRange));
	g_array_append_vals(s->hot_pages, ranges, len / sizeof(PyfsPageRange));
	g_info("Call server: its spares copy ahead the %" G_GUINT64_FORMAT
	       " pages a warm-up writes, in %u ranges",
	       count_pages(s->hot_pages), s->hot_pages->len);
	end_report(s, NULL);
}

void pyfs_callserver_hot_pages_expire(Server *s, gint64 now)
{
	if (s->report_fd >= 0 && now >= s->report_by)
		end_report(s, "no report in time");
}
