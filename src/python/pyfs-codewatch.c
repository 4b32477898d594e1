/* SPDX-License-Identifier: MIT */
#include "pyfs-codewatch.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "pyfs-error.h"

/*
 * Every way a directory entry can change, and the directory itself going.
 * A file written in place counts once it is closed (IN_CLOSE_WRITE), not
 * at each write: an import of a file half written would fail, or find
 * half a module. A file created counts when it is closed too; a directory
 * created (a package) counts at once.
 */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
		    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

/* What a changed entry must be called to matter: a hidden file is an
 * editor's swap or lock file, and everything else but code is data. */
static const char *const code_suffixes[] = { ".py", ".pyw", ".pyc", ".so", ".pth", NULL };

struct _PyfsCodeWatch {
	int fd;
	GHashTable *dirs;	/* the directories watched, by path */
};

PyfsCodeWatch *pyfs_codewatch_new(GError **error)
{
	g_autoptr(PyfsCodeWatch) watch = g_new0(PyfsCodeWatch, 1);

	watch->dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch->fd < 0) {
		g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED,
			    "Cannot watch source files: inotify: %s", g_strerror(errno));
		return NULL;
	}
	return g_steal_pointer(&watch);
}

void pyfs_codewatch_free(PyfsCodeWatch *watch)
{
	if (watch == NULL)
		return;
	if (watch->fd >= 0)
		close(watch->fd);
	g_hash_table_unref(watch->dirs);
	g_free(watch);
}

int pyfs_codewatch_fd(PyfsCodeWatch *watch)
{
	return watch->fd;
}

static gboolean python_failed(GError **error, const char *what)
{
	g_autofree char *reason = pyfs_python_take_exception(NULL);

	g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "Cannot %s: %s", what, reason);
	return FALSE;
}

/* Whether @path (a str) lies directly in one of @dirs, a set of str. */
static int in_dirs(PyObject *path, PyObject *dirs)
{
	PYFS_PYREF os_path = PyImport_ImportModule("os.path"); /* New reference */
	PYFS_PYREF dir = os_path ? PyObject_CallMethod(os_path, "dirname", "O", path) : NULL;

	return dir ? PySet_Contains(dirs, dir) : -1;
}

gboolean pyfs_codewatch_update(PyfsCodeWatch *watch, PyObject *livecode, gint64 since_ns,
			       gboolean *changed, GError **error)
{
	PYFS_PYREF set = PyObject_CallMethod(livecode, "watch_set", NULL); /* New reference */
	PYFS_PYREF new_dirs = PySet_New(NULL);                           /* New reference */
	PYFS_PYREF new_files = PyList_New(0);                            /* New reference */
	PYFS_PYREF result = NULL;
	PyObject *files, *dirs; /* Borrowed from set */

	*changed = FALSE;
	if (set == NULL || new_dirs == NULL || new_files == NULL ||
	    !PyArg_ParseTuple(set, "O!O!", &PyList_Type, &files, &PyList_Type, &dirs))
		return python_failed(error, "list the source files to watch");
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dirs); i++) {
		PyObject *dir = PyList_GET_ITEM(dirs, i);               /* Borrowed */
		PYFS_PYREF path = PyUnicode_EncodeFSDefault(dir);       /* New reference */

		if (path == NULL)
			return python_failed(error, "watch a source directory");
		if (g_hash_table_contains(watch->dirs, PyBytes_AS_STRING(path)))
			continue;
		if (inotify_add_watch(watch->fd, PyBytes_AS_STRING(path), WATCH_MASK) < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
				continue;
			/* ENOSPC: fs.inotify.max_user_watches is reached. */
			g_set_error(error, PYFS_ERROR, PYFS_ERROR_FAILED, "Cannot watch %s: %s",
				    PyBytes_AS_STRING(path), g_strerror(errno));
			return FALSE;
		}
		g_hash_table_add(watch->dirs, g_strdup(PyBytes_AS_STRING(path)));
		if (PySet_Add(new_dirs, dir) != 0)
			return python_failed(error, "watch a source directory");
	}
	/* A change in a directory watched already is in the queue: only the
	 * ones watched just now may have changed unseen. */
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(files); i++) {
		PyObject *file = PyList_GET_ITEM(files, i); /* Borrowed */
		int r = in_dirs(file, new_dirs);

		if (r < 0 || (r == 1 && PyList_Append(new_files, file) != 0))
			return python_failed(error, "check the source files");
	}
	result = PyObject_CallMethod(livecode, "changed_since", "OOL", new_files, new_dirs,
				     (long long)since_ns); /* New reference */
	if (result == NULL)
		return python_failed(error, "check the source files");
	*changed = PyObject_IsTrue(result) == 1;
	return TRUE;
}

gint64 pyfs_codewatch_now_ns(void)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	clock_getres(CLOCK_REALTIME_COARSE, &tick);
	return g_get_real_time() * 1000 - 2 * (tick.tv_sec * G_GINT64_CONSTANT(1000000000) +
						tick.tv_nsec);
}

static gboolean is_code(const struct inotify_event *ev)
{
	if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
		return TRUE;
	if (ev->len == 0 || ev->name[0] == '.')
		return FALSE;
	if (ev->mask & IN_ISDIR)
		return strcmp(ev->name, "__pycache__") != 0;
	if (ev->mask & IN_CREATE)
		return FALSE;
	for (const char *const *suffix = code_suffixes; *suffix != NULL; suffix++)
		if (g_str_has_suffix(ev->name, *suffix))
			return TRUE;
	return FALSE;
}

gboolean pyfs_codewatch_changed(PyfsCodeWatch *watch)
{
	gboolean changed = FALSE;

	for (;;) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n = read(watch->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return changed;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			changed |= is_code(ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}
