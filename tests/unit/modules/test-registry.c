/* SPDX-License-Identifier: MIT */
/*
 * The module registry (pyfs-registry) under concurrent changes, on the
 * embedded interpreter: what readers see while a change is being saved,
 * the order of saves, and a refused save. The commit hook stands for the
 * disk; it blocks where the test says, and every interleaving is forced
 * with gates, or by waiting until a thread sleeps on a lock.
 */
#include "pyfs-python.h"

#include <check.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pyfs-error.h"
#include "pyfs-object.h"
#include "pyfs-registry.h"
#include "test-gate.h"
#include "test-run.h"

/* --- the disk: a commit hook that records, blocks or refuses ---------------- */

typedef struct {
	GMutex lock;
	GPtrArray *saved;     /* each list it accepted, as "a b c" */
	gboolean block_next;  /* the next save opens entered, then waits for release */
	gboolean refuse;
	Gate entered;
	Gate release;
} Disk;

static gboolean disk_save(const PyfsModlist *next, gpointer user_data, GError **error)
{
	Disk *disk = user_data;
	g_auto(GStrv) names = pyfs_modlist_to_strv(next);
	gboolean block, refuse;

	g_mutex_lock(&disk->lock);
	block = disk->block_next;
	disk->block_next = FALSE;
	refuse = disk->refuse;
	g_mutex_unlock(&disk->lock);
	if (block) {
		gate_open(&disk->entered);
		gate_hold(&disk->release);
	}
	if (refuse) {
		g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_ROFS, "Read-only file system");
		return FALSE;
	}
	g_mutex_lock(&disk->lock);
	g_ptr_array_add(disk->saved, g_strjoinv(" ", names));
	g_mutex_unlock(&disk->lock);
	return TRUE;
}

static void disk_init(Disk *disk)
{
	disk->saved = g_ptr_array_new_with_free_func(g_free);
}

static void disk_clear(Disk *disk)
{
	g_ptr_array_unref(disk->saved);
}

/* The saves so far, "a b|a b c". */
static char *disk_history(Disk *disk)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&disk->lock);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) all = NULL;

	for (guint i = 0; i < disk->saved->len; i++)
		g_strv_builder_add(builder, disk->saved->pdata[i]);
	all = g_strv_builder_end(builder);
	return g_strjoinv("|", all);
}

static void count_change(const PyfsModlist *now, gpointer user_data)
{
	g_atomic_int_inc((gint *)user_data);
}

/* A registry saving to @disk, holding @names, saved. */
static PyfsRegistry *registry_with(Disk *disk, const char *const *names)
{
	PyfsRegistry *registry = pyfs_registry_new();

	pyfs_registry_set_commit_hook(registry, disk_save, disk);
	ck_assert(pyfs_registry_set(registry, names, NULL));
	return registry;
}

static char *list_of(PyfsRegistry *registry)
{
	g_autoptr(PyfsModlist) list = pyfs_registry_snapshot(registry);
	g_auto(GStrv) names = pyfs_modlist_to_strv(list);

	return g_strjoinv(" ", names);
}

/* --- changes and reads on threads of their own -------------------------------- */

typedef enum {
	CHANGE_ADD,
	CHANGE_TRUNCATE,
} ChangeOp;

typedef struct {
	PyfsRegistry *registry;
	ChangeOp op;
	const char *const *names;  /* CHANGE_ADD */
	Gate started;              /* tid is set */
	pid_t tid;
	gboolean ok;
	char *error;
	PyfsModlist *before;       /* CHANGE_TRUNCATE: what it emptied */
	guint64 serial;            /* CHANGE_TRUNCATE */
} Change;

static gpointer run_change(gpointer data)
{
	Change *change = data;
	g_autoptr(GError) error = NULL;

	change->tid = gettid();
	gate_open(&change->started);
	switch (change->op) {
	case CHANGE_ADD:
		change->ok = pyfs_registry_add(change->registry, change->names, &error);
		break;
	case CHANGE_TRUNCATE:
		change->before = pyfs_registry_truncate(change->registry, &change->serial, &error);
		change->ok = change->before != NULL;
		break;
	}
	change->error = error ? g_strdup(error->message) : NULL;
	return NULL;
}

static GThread *start_change(Change *change)
{
	GThread *thread = g_thread_new("change", run_change, change);

	ck_assert(gate_wait(&change->started));
	return thread;
}

static void change_clear(Change *change)
{
	g_free(change->error);
	g_clear_pointer(&change->before, pyfs_modlist_free);
}

/* Whether thread @tid sleeps in futex(2), which is how a thread waits for a lock. */
static gboolean waits_on_a_lock(pid_t tid)
{
	g_autofree char *path = g_strdup_printf("/proc/self/task/%d/syscall", (int)tid);
	g_autofree char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return FALSE;
	/* "running", or the number of the system call it is in, then its arguments. */
	return atol(text) == SYS_futex;
}

/* Polls until thread @tid waits on a lock; FALSE if it does not within GATE_WAIT_S. */
static gboolean wait_until_waiting(pid_t tid)
{
	gint64 end = g_get_monotonic_time() + GATE_WAIT_S * G_TIME_SPAN_SECOND;

	while (!waits_on_a_lock(tid)) {
		if (g_get_monotonic_time() > end)
			return FALSE;
		g_usleep(1000);
	}
	return TRUE;
}

typedef struct {
	PyfsRegistry *registry;
	Gate done;
	char *list;
	guint64 serial;
	gboolean has_csv;
} Read;

static gpointer run_read(gpointer data)
{
	Read *read = data;

	read->list = list_of(read->registry);
	read->serial = pyfs_registry_serial(read->registry);
	read->has_csv = pyfs_registry_contains(read->registry, "csv");
	gate_open(&read->done);
	return NULL;
}

/* --- saving ------------------------------------------------------------------- */

/* A slow disk holds up the change being saved, not those who read the list. */
START_TEST(test_readers_do_not_wait_for_a_save)
{
	static const char *const initial[] = { "json", NULL };
	static const char *const csv[] = { "csv", NULL };
	Disk disk = { 0 };
	g_autoptr(PyfsRegistry) registry = NULL;
	Change add = { .op = CHANGE_ADD, .names = csv };
	Read read = { 0 };
	g_autofree char *list = NULL;
	g_autofree char *history = NULL;
	GThread *adder, *reader;
	guint64 serial;

	disk_init(&disk);
	registry = registry_with(&disk, initial);
	serial = pyfs_registry_serial(registry);
	disk.block_next = TRUE;
	add.registry = registry;
	adder = start_change(&add);
	ck_assert(gate_wait(&disk.entered));

	read.registry = registry;
	reader = g_thread_new("reader", run_read, &read);
	ck_assert_msg(gate_wait(&read.done), "a reader waited for the save of another change");
	/* What is being saved is not current yet. */
	ck_assert_str_eq(read.list, "json");
	ck_assert_uint_eq(read.serial, serial);
	ck_assert(!read.has_csv);

	gate_open(&disk.release);
	g_thread_join(adder);
	g_thread_join(reader);
	ck_assert_msg(add.ok, "%s", add.error);
	list = list_of(registry);
	ck_assert_str_eq(list, "json csv");
	history = disk_history(&disk);
	ck_assert_str_eq(history, "json|json csv");
	g_free(read.list);
	change_clear(&add);
	disk_clear(&disk);
}
END_TEST

/* Two changes at once are saved in the order they become current, each on top of the other. */
START_TEST(test_saves_follow_the_order_of_changes)
{
	static const char *const initial[] = { "json", NULL };
	static const char *const csv[] = { "csv", NULL };
	static const char *const string[] = { "string", NULL };
	Disk disk = { 0 };
	g_autoptr(PyfsRegistry) registry = NULL;
	Change first = { .op = CHANGE_ADD, .names = csv };
	Change second = { .op = CHANGE_ADD, .names = string };
	g_autofree char *list = NULL;
	g_autofree char *history = NULL;
	GThread *first_thread, *second_thread;

	disk_init(&disk);
	registry = registry_with(&disk, initial);
	first.registry = second.registry = registry;
	disk.block_next = TRUE;
	first_thread = start_change(&first);
	ck_assert(gate_wait(&disk.entered));
	/* The second change, imported, waits for the first to be saved. */
	second_thread = start_change(&second);
	ck_assert(wait_until_waiting(second.tid));

	gate_open(&disk.release);
	g_thread_join(first_thread);
	g_thread_join(second_thread);
	ck_assert_msg(first.ok, "%s", first.error);
	ck_assert_msg(second.ok, "%s", second.error);
	history = disk_history(&disk);
	ck_assert_str_eq(history, "json|json csv|json csv string");
	list = list_of(registry);
	ck_assert_str_eq(list, "json csv string");
	change_clear(&first);
	change_clear(&second);
	disk_clear(&disk);
}
END_TEST

/* A change the disk refuses is not made: same list, same serial, nobody told. */
START_TEST(test_refused_save_changes_nothing)
{
	static const char *const initial[] = { "json", NULL };
	static const char *const csv[] = { "csv", NULL };
	Disk disk = { 0 };
	g_autoptr(PyfsRegistry) registry = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *list = NULL;
	g_autofree char *history = NULL;
	gint changes = 0;
	guint64 serial;

	disk_init(&disk);
	registry = registry_with(&disk, initial);
	pyfs_registry_add_listener(registry, count_change, &changes);
	serial = pyfs_registry_serial(registry);
	disk.refuse = TRUE;

	ck_assert(!pyfs_registry_add(registry, csv, &error));
	ck_assert(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_ROFS));
	ck_assert(!pyfs_registry_clear(registry, NULL));
	list = list_of(registry);
	ck_assert_str_eq(list, "json");
	ck_assert_uint_eq(pyfs_registry_serial(registry), serial);
	ck_assert_int_eq(g_atomic_int_get(&changes), 0);
	history = disk_history(&disk);
	ck_assert_str_eq(history, "json");
	disk_clear(&disk);
}
END_TEST

/*
 * The one place names are validated, for the file and D-Bus alike: a
 * change with one bad name is refused whole, before any import or save.
 */
START_TEST(test_a_bad_name_refuses_the_whole_change)
{
	static const char *const initial[] = { "json", NULL };
	static const char *const some_bad[] = { "csv", "a-b", NULL };
	static const char *const bad[] = { "a-b", NULL };
	Disk disk = { 0 };
	g_autoptr(PyfsRegistry) registry = NULL;
	g_autoptr(GError) add_error = NULL;
	g_autoptr(GError) set_error = NULL;
	g_autoptr(GError) remove_error = NULL;
	g_autofree char *list = NULL;
	g_autofree char *history = NULL;
	gint changes = 0;

	disk_init(&disk);
	registry = registry_with(&disk, initial);
	pyfs_registry_add_listener(registry, count_change, &changes);

	ck_assert(!pyfs_registry_add(registry, some_bad, &add_error));
	ck_assert(g_error_matches(add_error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME));
	ck_assert(!pyfs_registry_set(registry, bad, &set_error));
	ck_assert(g_error_matches(set_error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME));
	ck_assert(!pyfs_registry_remove(registry, "a-b", &remove_error));
	ck_assert(g_error_matches(remove_error, PYFS_ERROR, PYFS_ERROR_INVALID_NAME));
	list = list_of(registry);
	ck_assert_str_eq(list, "json");
	ck_assert_int_eq(g_atomic_int_get(&changes), 0);
	history = disk_history(&disk);
	ck_assert_str_eq(history, "json");
	{
		PYFS_GIL_SCOPE gil = pyfs_python_enter();

		ck_assert(!pyfs_object_module_imported("csv"));
	}
	disk_clear(&disk);
}
END_TEST

/* --- truncation ---------------------------------------------------------------- */

/*
 * A truncating writer (`echo x > run/modules`) empties the list at open,
 * and puts back what it emptied if its first write fails. A change made
 * meanwhile must be in what is put back, or stand after it: never lost.
 * Here the change is being saved when the truncation comes.
 */
START_TEST(test_truncation_keeps_a_change_made_meanwhile)
{
	static const char *const initial[] = { "json", NULL };
	static const char *const csv[] = { "csv", NULL };
	Disk disk = { 0 };
	g_autoptr(PyfsRegistry) registry = NULL;
	g_autoptr(GError) error = NULL;
	Change add = { .op = CHANGE_ADD, .names = csv };
	Change truncate = { .op = CHANGE_TRUNCATE };
	g_autofree char *emptied = NULL;
	g_autofree char *list = NULL;
	GThread *adder, *truncater;

	disk_init(&disk);
	registry = registry_with(&disk, initial);
	add.registry = truncate.registry = registry;
	disk.block_next = TRUE;
	adder = start_change(&add);
	ck_assert(gate_wait(&disk.entered));
	truncater = start_change(&truncate);
	ck_assert(wait_until_waiting(truncate.tid));

	gate_open(&disk.release);
	g_thread_join(adder);
	g_thread_join(truncater);
	ck_assert_msg(add.ok, "%s", add.error);
	ck_assert_msg(truncate.ok, "%s", truncate.error);
	{
		g_auto(GStrv) names = pyfs_modlist_to_strv(truncate.before);

		emptied = g_strjoinv(" ", names);
	}
	ck_assert_str_eq(emptied, "json csv");

	/* The writer's first write failed: the list is put back. */
	ck_assert(pyfs_registry_restore(registry, truncate.before, truncate.serial, &error));
	list = list_of(registry);
	ck_assert_str_eq(list, "json csv");
	change_clear(&add);
	change_clear(&truncate);
	disk_clear(&disk);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *saving = tcase_create("saving");
	TCase *truncation = tcase_create("truncation");

	/* Before Check forks each test: the interpreter starts no thread. */
	g_assert_true(pyfs_python_init(NULL, NULL, NULL));
	tcase_set_timeout(saving, 3 * GATE_WAIT_S);
	tcase_add_test(saving, test_readers_do_not_wait_for_a_save);
	tcase_add_test(saving, test_saves_follow_the_order_of_changes);
	tcase_add_test(saving, test_refused_save_changes_nothing);
	tcase_add_test(saving, test_a_bad_name_refuses_the_whole_change);
	tcase_set_timeout(truncation, 3 * GATE_WAIT_S);
	tcase_add_test(truncation, test_truncation_keeps_a_change_made_meanwhile);
	suite_add_tcase(s, saving);
	suite_add_tcase(s, truncation);
	return test_run(s);
}
