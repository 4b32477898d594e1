/* SPDX-License-Identifier: MIT */
#include "pyfs-callsocket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "pyfs-error.h"
#include "pyfs-label.h"
#include "pyfs-runner-code.h"
#include "pyfs-runnerfile.h"

static gboolean set_errno_error(GError **error, const char *what, const char *path)
{
	int saved = errno;

	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "%s %s: %s", what, path,
		    g_strerror(saved));
	return FALSE;
}

/* @path, made or taken as a directory of ours that only we can enter. */
static gboolean private_dir(const char *path, GError **error)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return set_errno_error(error, "Cannot create", path);
	if (lstat(path, &st) != 0)
		return set_errno_error(error, "Cannot examine", path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s is not a directory of ours", path);
		return FALSE;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0)
		return set_errno_error(error, "Cannot protect", path);
	return TRUE;
}

/*
 * $XDG_RUNTIME_DIR/pyfs when XDG_RUNTIME_DIR is ours and closed to others;
 * otherwise (pyfsd run outside a login session, by hand or by root) a
 * fresh mkdtemp() directory, whose unguessable name is no weaker: it is
 * 0700 too, and the scripts carry the path.
 */
static char *socket_dir(PyfsCallSocket *sock, GError **error)
{
	const char *runtime = g_getenv("XDG_RUNTIME_DIR");
	g_autofree char *tmp = NULL;
	struct stat st;

	if (runtime != NULL && g_path_is_absolute(runtime) && stat(runtime, &st) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 0022) == 0) {
		g_autoptr(GError) local = NULL;
		g_autofree char *dir = g_build_filename(runtime, "pyfs", NULL);

		if (private_dir(dir, &local))
			return g_steal_pointer(&dir);
		g_message("Cannot use %s for the call socket: %s", dir, local->message);
	}
	tmp = g_build_filename(g_get_tmp_dir(), "pyfs-XXXXXX", NULL);
	if (g_mkdtemp_full(tmp, 0700) == NULL) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "Cannot create a directory for the call socket: %s", g_strerror(errno));
		return NULL;
	}
	sock->private_dir = g_strdup(tmp);
	return g_steal_pointer(&tmp);
}

static char *socket_path(const char *dir, const char *mountpoint, GError **error)
{
	g_autofree char *label = pyfs_label_for_mountpoint(mountpoint, g_get_home_dir());
	g_autofree char *path = g_strdup_printf("%s/%s.sock", dir, label);
	struct sockaddr_un addr;

	/* sun_path holds 108 bytes: a label too long gives way to its hash. */
	if (strlen(path) >= sizeof(addr.sun_path)) {
		g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, label, -1);

		g_free(path);
		path = g_strdup_printf("%s/%.16s.sock", dir, hash);
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "%s is too long for a socket address", path);
		return NULL;
	}
	return g_steal_pointer(&path);
}

static int listen_on(const char *path, struct stat *st, GError **error)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		set_errno_error(error, "Cannot listen on", path);
		return -1;
	}
	g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
	/*
	 * Left by a pyfsd that died, or taken over from one that serves a
	 * mount beneath ours: the scripts now name this one. Bound with the
	 * process's umask, then made 0600: no one else can reach it meanwhile
	 * anyway, in a directory that only we may enter.
	 */
	if ((unlink(path) != 0 && errno != ENOENT) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, SOMAXCONN) != 0 || stat(path, st) != 0) {
		set_errno_error(error, "Cannot listen on", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* The runner file's writer: only it touches runner_st and runner_error until joined. */
static gpointer write_runner(gpointer data)
{
	PyfsCallSocket *sock = data;
	g_autoptr(GBytes) runner = pyfs_call_runner_file_new(pyfs_call_runner_code,
							     pyfs_call_runner_code_size);
	gsize size;
	const char *content = g_bytes_get_data(runner, &size);

	if (g_file_set_contents_full(sock->runner_path, content, size,
				     G_FILE_SET_CONTENTS_CONSISTENT, 0600, &sock->runner_error) &&
	    stat(sock->runner_path, &sock->runner_st) != 0)
		set_errno_error(&sock->runner_error, "Cannot examine", sock->runner_path);
	return NULL;
}

PyfsCallSocket *pyfs_callsocket_new(const char *mountpoint, GError **error)
{
	g_autoptr(PyfsCallSocket) sock = g_new0(PyfsCallSocket, 1);
	g_autofree char *dir = NULL;

	sock->fd = -1;
	sock->mountpoint = g_strdup(mountpoint);
	dir = socket_dir(sock, error);
	if (dir == NULL)
		return NULL;
	sock->path = socket_path(dir, mountpoint, error);
	if (sock->path == NULL)
		return NULL;
	sock->fallback_path = g_strconcat(sock->path, ".fallback", NULL);
	sock->runner_path = g_strconcat(sock->path, ".runner", NULL);
	sock->fd = listen_on(sock->path, &sock->st, error);
	if (sock->fd < 0)
		return NULL;
	sock->runner_writer = g_thread_try_new("pyfs-runner", write_runner, sock, error);
	if (sock->runner_writer == NULL)
		return NULL;
	return g_steal_pointer(&sock);
}

/* Joins the runner file's writer, if not yet joined; FALSE if it failed. */
static gboolean join_runner_writer(PyfsCallSocket *sock, GError **error)
{
	if (sock->runner_writer != NULL)
		g_thread_join(g_steal_pointer(&sock->runner_writer));
	if (sock->runner_error == NULL)
		return TRUE;
	g_propagate_error(error, g_steal_pointer(&sock->runner_error));
	return FALSE;
}

gboolean pyfs_callsocket_write_fallback(PyfsCallSocket *sock, const char *venv,
					const char *const *sys_path, GError **error)
{
	g_autoptr(GString) text = g_string_new("# pyfsd: how pyfs-call starts python3 for "
					       "this mount when its call server cannot serve.\n");

	if (!join_runner_writer(sock, error))
		return FALSE;
	if (venv != NULL && strpbrk(venv, "\n\r") == NULL)
		g_string_append_printf(text, "python=%s/bin/python\n", venv);
	for (const char *const *entry = sys_path; entry != NULL && *entry != NULL; entry++)
		if (strpbrk(*entry, "\n\r") == NULL)
			g_string_append_printf(text, "path=%s\n", *entry);
	if (!g_file_set_contents_full(sock->fallback_path, text->str, text->len,
				      G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
		return FALSE;
	if (stat(sock->fallback_path, &sock->fallback_st) != 0)
		return set_errno_error(error, "Cannot examine", sock->fallback_path);
	return TRUE;
}

static gboolean on_refused_call(int fd, GIOCondition condition, gpointer user_data)
{
	PyfsCallSocket *sock = user_data;
	int conn;

	/* Closed before STARTED: the dispatcher runs the call with python3. */
	while ((conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(conn);
		if (!sock->refusal_told)
			g_message("Calls of %s start python3 until the call server serves",
				  sock->mountpoint);
		sock->refusal_told = TRUE;
	}
	return G_SOURCE_CONTINUE;
}

void pyfs_callsocket_refuse_calls(PyfsCallSocket *sock, gboolean refuse)
{
	if (refuse && sock->refuse_id == 0) {
		sock->refuse_id = g_unix_fd_add(sock->fd, G_IO_IN, on_refused_call, sock);
	} else if (!refuse) {
		g_clear_handle_id(&sock->refuse_id, g_source_remove);
		sock->refusal_told = FALSE;
	}
}

/* Removes @path if it is still @ours: a pyfsd started since on the same
 * mountpoint may own it now. */
static void remove_ours(const char *path, const struct stat *ours)
{
	struct stat st;

	if (path != NULL && ours->st_ino != 0 && lstat(path, &st) == 0 &&
	    st.st_dev == ours->st_dev && st.st_ino == ours->st_ino)
		unlink(path);
}

void pyfs_callsocket_free(PyfsCallSocket *sock)
{
	if (sock == NULL)
		return;
	/* Before the files are removed: the writer may still be writing one. */
	join_runner_writer(sock, NULL);
	g_clear_handle_id(&sock->refuse_id, g_source_remove);
	remove_ours(sock->path, &sock->st);
	remove_ours(sock->fallback_path, &sock->fallback_st);
	remove_ours(sock->runner_path, &sock->runner_st);
	if (sock->fd >= 0)
		close(sock->fd);
	if (sock->private_dir != NULL && rmdir(sock->private_dir) != 0)
		g_debug("Cannot remove %s: %s", sock->private_dir, g_strerror(errno));
	g_free(sock->private_dir);
	g_free(sock->fallback_path);
	g_free(sock->runner_path);
	g_free(sock->path);
	g_free(sock->mountpoint);
	g_free(sock);
}
