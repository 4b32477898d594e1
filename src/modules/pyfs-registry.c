/* SPDX-License-Identifier: MIT */
#include "pyfs-python.h"

#include "pyfs-deadline.h"
#include "pyfs-error.h"
#include "pyfs-log.h"
#include "pyfs-names.h"
#include "pyfs-object.h"
#include "pyfs-registry.h"

typedef struct {
	PyfsRegistryListener func;
	gpointer user_data;
} Listener;

/*
 * Two locks, so that readers never wait for the disk. A change holds the
 * commit lock from reading the list to swapping in the next one, across
 * the commit hook's save: changes are serialised, and saved in the order
 * they become current. The list lock guards only the swap and the
 * readers' copies. Order: the commit lock, then the list lock.
 */
struct _PyfsRegistry {
	GMutex commit_lock;   /* held by one change at a time; guards saved */
	GMutex lock;          /* guards list and serial for readers; a leaf lock */
	PyfsModlist *list;    /* list and serial change only with both locks held */
	PyfsModlist *saved;   /* what the commit hook last accepted; NULL: nothing yet */
	guint64 serial;

	PyfsCommitHook hook;  /* set once at start-up, before any operation */
	gpointer hook_data;
	GArray *listeners;    /* of Listener; set up at start-up, read-only after */
	GArray *reloaders;    /* of Reloader; likewise */
};

typedef struct {
	PyfsReloader func;
	gpointer user_data;
} Reloader;

typedef enum {
	OP_ADD,
	OP_SET,
	OP_CLEAR,
	OP_REMOVE,
	OP_RESTORE,
} Op;

PyfsRegistry *pyfs_registry_new(void)
{
	PyfsRegistry *registry = g_new0(PyfsRegistry, 1);

	g_mutex_init(&registry->commit_lock);
	g_mutex_init(&registry->lock);
	registry->list = pyfs_modlist_new();
	registry->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
	registry->reloaders = g_array_new(FALSE, FALSE, sizeof(Reloader));
	return registry;
}

void pyfs_registry_free(PyfsRegistry *registry)
{
	if (registry == NULL)
		return;
	pyfs_modlist_free(registry->list);
	pyfs_modlist_free(registry->saved);
	g_array_unref(registry->listeners);
	g_array_unref(registry->reloaders);
	g_mutex_clear(&registry->commit_lock);
	g_mutex_clear(&registry->lock);
	g_free(registry);
}

void pyfs_registry_set_commit_hook(PyfsRegistry *registry, PyfsCommitHook hook,
				   gpointer user_data)
{
	registry->hook = hook;
	registry->hook_data = user_data;
}

void pyfs_registry_add_listener(PyfsRegistry *registry, PyfsRegistryListener listener,
				gpointer user_data)
{
	Listener l = { listener, user_data };

	g_array_append_val(registry->listeners, l);
}

void pyfs_registry_add_reloader(PyfsRegistry *registry, PyfsReloader reloader,
				gpointer user_data)
{
	Reloader r = { reloader, user_data };

	g_array_append_val(registry->reloaders, r);
}

gboolean pyfs_registry_reload(PyfsRegistry *registry, GError **error)
{
	g_autoptr(GError) first = NULL;

	/* All of them, a failure or not: what can be fresh is. */
	for (guint i = 0; i < registry->reloaders->len; i++) {
		Reloader *r = &g_array_index(registry->reloaders, Reloader, i);
		g_autoptr(GError) local = NULL;

		if (!r->func(r->user_data, &local) && first == NULL)
			first = g_steal_pointer(&local);
	}
	if (first != NULL) {
		g_propagate_error(error, g_steal_pointer(&first));
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	char *name;
	GError *error;  /* set when the import raised */
} ImportJob;

static void import_job_free(gpointer p)
{
	ImportJob *job = p;

	g_free(job->name);
	g_clear_error(&job->error);
	g_free(job);
}

/*
 * The end of an import abandoned past the deadline: nobody waits for its
 * error any more, so it is logged here.
 */
static void import_job_drop(gpointer p)
{
	ImportJob *job = p;

	if (job->error != NULL)
		pyfs_log_error(G_LOG_LEVEL_WARNING, job->error, "Cannot import %s", job->name);
	import_job_free(job);
}

/* On a deadline worker: imports one name; a failure is the job's error, with its traceback. */
static void import_one(gpointer data)
{
	ImportJob *job = data;
	PYFS_GIL_SCOPE gil = pyfs_python_enter();
	PYFS_PYREF module = PyImport_ImportModule(job->name); /* New reference */

	if (module == NULL) {
		g_autofree char *traceback = NULL;
		g_autofree char *reason = pyfs_python_take_exception(&traceback);

		g_set_error(&job->error, PYFS_ERROR, PYFS_ERROR_IMPORT_FAILED, "%s", reason);
		pyfs_error_set_traceback(job->error, traceback);
	} else if (!PyModule_Check(module)) {
		/* It replaced itself in sys.modules with something lib/ cannot show. */
		PYFS_PYREF type = PyType_GetName(Py_TYPE(module)); /* New reference */

		g_set_error(&job->error, PYFS_ERROR, PYFS_ERROR_IMPORT_FAILED,
			    "%s is not a module: sys.modules holds a %s", job->name,
			    pyfs_python_utf8(type, "?"));
	}
	if (job->error != NULL)
		pyfs_error_set_module(job->error, job->name);
}

/*
 * Whether @name is imported already: importing it again would run no code,
 * so it needs no deadline worker (they may all be held by hung code).
 */
static gboolean imported(const char *name)
{
	PYFS_GIL_SCOPE gil = pyfs_python_enter();

	return pyfs_object_module_imported(name);
}

/*
 * Imports every name, stopping at the first failure, whose exception line
 * becomes the error (with the module's name and the traceback, for the
 * log of whoever ends its journey); an import that takes longer than the
 * deadline fails with PYFS_ERROR_TIMED_OUT (and goes on, abandoned, until
 * it ends). Importing is idempotent, so a failed operation leaves nothing
 * to undo but modules cached in sys.modules, which are not listed. Called
 * without the GIL.
 */
static gboolean import_all(const char *const *names, GError **error)
{
	for (const char *const *n = names; n != NULL && *n != NULL; n++) {
		ImportJob *job;
		g_autofree char *what = NULL;
		g_autoptr(GError) timeout = NULL;

		if (imported(*n))
			continue;
		job = g_new0(ImportJob, 1);
		what = g_strdup_printf("The import of %s", *n);
		job->name = g_strdup(*n);
		if (!pyfs_deadline_run(what, import_one, job, import_job_drop, &timeout)) {
			pyfs_error_set_module(timeout, *n);
			g_propagate_error(error, g_steal_pointer(&timeout));
			return FALSE;
		}
		if (job->error != NULL) {
			g_propagate_error(error, g_steal_pointer(&job->error));
			import_job_free(job);
			return FALSE;
		}
		import_job_free(job);
	}
	return TRUE;
}

static void log_changes(const PyfsModlist *before, const PyfsModlist *after)
{
	for (guint i = 0; i < pyfs_modlist_length(after); i++) {
		const char *name = pyfs_modlist_get(after, i);

		if (!pyfs_modlist_contains(before, name))
			pyfs_log_module(G_LOG_LEVEL_INFO, name, "Module %s added", name);
	}
	for (guint i = 0; i < pyfs_modlist_length(before); i++) {
		const char *name = pyfs_modlist_get(before, i);

		if (!pyfs_modlist_contains(after, name))
			pyfs_log_module(G_LOG_LEVEL_INFO, name, "Module %s removed", name);
	}
}

/* With the commit lock: hands @list to the commit hook unless it is what was saved last. */
static gboolean save_changing(PyfsRegistry *registry, const PyfsModlist *list, GError **error)
{
	if (registry->saved != NULL && pyfs_modlist_equal(list, registry->saved))
		return TRUE;
	if (registry->hook != NULL && !registry->hook(list, registry->hook_data, error))
		return FALSE;
	g_clear_pointer(&registry->saved, pyfs_modlist_free);
	registry->saved = pyfs_modlist_copy(list);
	return TRUE;
}

/*
 * Applies @op. With @save FALSE the new list is current but not handed to
 * the commit hook: the next saving commit, or pyfs_registry_save(), does.
 * @before_out, if not NULL, gets the list @op was applied to, and
 * @serial_out the serial after it: both of this one change, whatever
 * others come before or after it. The list is read without the list
 * lock: only a change, which holds the commit lock, replaces it.
 */
static gboolean commit(PyfsRegistry *registry, Op op, const char *const *names, gboolean save,
		       guint64 if_serial, PyfsModlist **before_out, guint64 *serial_out,
		       GError **error)
{
	g_autoptr(GMutexLocker) changing = g_mutex_locker_new(&registry->commit_lock);
	g_autoptr(PyfsModlist) next = pyfs_modlist_copy(registry->list);
	g_autoptr(PyfsModlist) before = NULL;
	g_autoptr(PyfsModlist) now = NULL;

	switch (op) {
	case OP_ADD:
		pyfs_modlist_add(next, names);
		break;
	case OP_SET:
		pyfs_modlist_clear(next);
		pyfs_modlist_add(next, names);
		break;
	case OP_CLEAR:
		pyfs_modlist_clear(next);
		break;
	case OP_RESTORE:
		/* Someone else changed the list since: theirs stands. */
		if (registry->serial != if_serial)
			return TRUE;
		pyfs_modlist_clear(next);
		pyfs_modlist_add(next, names);
		break;
	case OP_REMOVE:
		if (!pyfs_modlist_remove(next, names[0])) {
			g_set_error(error, PYFS_ERROR, PYFS_ERROR_NOT_FOUND,
				    "%s is not in the module list", names[0]);
			return FALSE;
		}
		break;
	}
	/* Nothing changes: nobody to tell, but perhaps a truncation to save. */
	if (pyfs_modlist_equal(next, registry->list)) {
		if (save && !save_changing(registry, next, error))
			return FALSE;
		if (before_out != NULL)
			*before_out = pyfs_modlist_copy(registry->list);
		if (serial_out != NULL)
			*serial_out = registry->serial;
		return TRUE;
	}
	/* Saved before it is current: a list that cannot be saved never is. */
	if (save && !save_changing(registry, next, error))
		return FALSE;
	now = pyfs_modlist_copy(next);
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&registry->lock);

		before = g_steal_pointer(&registry->list);
		registry->list = g_steal_pointer(&next);
		registry->serial++;
		if (serial_out != NULL)
			*serial_out = registry->serial;
	}
	g_clear_pointer(&changing, g_mutex_locker_free);
	if (before_out != NULL)
		*before_out = pyfs_modlist_copy(before);

	log_changes(before, now);
	for (guint i = 0; i < registry->listeners->len; i++) {
		Listener *l = &g_array_index(registry->listeners, Listener, i);

		l->func(now, l->user_data);
	}
	return TRUE;
}

static gboolean validate_all(const char *const *names, GError **error)
{
	for (const char *const *n = names; n != NULL && *n != NULL; n++)
		if (!pyfs_name_validate(*n, error))
			return FALSE;
	return TRUE;
}

gboolean pyfs_registry_add(PyfsRegistry *registry, const char *const *names, GError **error)
{
	if (!validate_all(names, error) || !import_all(names, error))
		return FALSE;
	return commit(registry, OP_ADD, names, TRUE, 0, NULL, NULL, error);
}

gboolean pyfs_registry_set(PyfsRegistry *registry, const char *const *names, GError **error)
{
	if (!validate_all(names, error) || !import_all(names, error))
		return FALSE;
	return commit(registry, OP_SET, names, TRUE, 0, NULL, NULL, error);
}

gboolean pyfs_registry_clear(PyfsRegistry *registry, GError **error)
{
	return commit(registry, OP_CLEAR, NULL, TRUE, 0, NULL, NULL, error);
}

/*
 * What it emptied and the clear are one change: a change committed in
 * between would be dropped by the restore that undoes a failed write.
 */
PyfsModlist *pyfs_registry_truncate(PyfsRegistry *registry, guint64 *serial, GError **error)
{
	PyfsModlist *before = NULL;

	if (!commit(registry, OP_CLEAR, NULL, FALSE, 0, &before, serial, error))
		return NULL;
	return before;
}

gboolean pyfs_registry_remove(PyfsRegistry *registry, const char *name, GError **error)
{
	const char *names[] = { name, NULL };

	if (!pyfs_name_validate(name, error))
		return FALSE;
	return commit(registry, OP_REMOVE, names, TRUE, 0, NULL, NULL, error);
}

gboolean pyfs_registry_restore(PyfsRegistry *registry, const PyfsModlist *list,
				guint64 if_serial, GError **error)
{
	g_auto(GStrv) names = pyfs_modlist_to_strv(list);

	return commit(registry, OP_RESTORE, (const char *const *)names, TRUE, if_serial, NULL, NULL,
		      error);
}

gboolean pyfs_registry_save(PyfsRegistry *registry, GError **error)
{
	g_autoptr(GMutexLocker) changing = g_mutex_locker_new(&registry->commit_lock);

	return save_changing(registry, registry->list, error);
}

PyfsModlist *pyfs_registry_snapshot(PyfsRegistry *registry)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&registry->lock);

	return pyfs_modlist_copy(registry->list);
}

gboolean pyfs_registry_contains(PyfsRegistry *registry, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&registry->lock);

	return pyfs_modlist_contains(registry->list, name);
}

guint64 pyfs_registry_serial(PyfsRegistry *registry)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&registry->lock);

	return registry->serial;
}
