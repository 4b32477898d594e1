/* SPDX-License-Identifier: MIT */
/* The inode table: identities, lookup counts, freeing, numbers and generations. */
#include <check.h>

#include "pyfs-inode.h"
#include "test-run.h"

static const char *const join[] = { "path", "join", NULL };
static const char *const sep[] = { "sep", NULL };

START_TEST(test_identity)
{
	g_autoptr(PyfsInodeTable) table = pyfs_inode_table_new(0, NULL);
	g_autoptr(PyfsNode) a = pyfs_inode_attr(table, "os", FALSE, join, "join");
	g_autoptr(PyfsNode) b = pyfs_inode_attr(table, "os", FALSE, join, "join");
	g_autoptr(PyfsNode) hidden = pyfs_inode_attr(table, "os", TRUE, join, "join");
	g_autoptr(PyfsNode) parent = pyfs_inode_parent(table, a);
	g_autoptr(PyfsNode) lib = NULL;
	g_autoptr(PyfsNode) module = pyfs_inode_module(table, "os", FALSE);
	g_autoptr(PyfsNode) found = NULL;

	ck_assert_ptr_eq(a, b);
	/* The same path through run/sys.modules/ is another node. */
	ck_assert_ptr_ne(a, hidden);
	ck_assert_uint_ne(a->ino, hidden->ino);
	/* lib/os/path is not in the table: its parent is not made up. */
	ck_assert_ptr_null(parent);
	lib = pyfs_inode_parent(table, module);
	ck_assert_uint_eq(lib->ino, PYFS_INO_LIB);
	found = pyfs_inode_get(table, a->ino);
	ck_assert_ptr_eq(found, a);
	ck_assert_uint_eq(a->generation, 1);
}
END_TEST

START_TEST(test_freed_when_forgotten)
{
	g_autoptr(PyfsInodeTable) table = pyfs_inode_table_new(0, NULL);
	guint fixed = pyfs_inode_count(table);
	PyfsNode *node = pyfs_inode_attr(table, "os", FALSE, sep, "sep");
	fuse_ino_t ino = node->ino;
	guint64 generation = node->generation;
	g_autoptr(PyfsNode) again = NULL;
	g_autoptr(PyfsNode) other = NULL;

	pyfs_inode_lookup(table, node);
	pyfs_inode_lookup(table, node);
	pyfs_node_unref(node);
	/* Held by the kernel only. */
	ck_assert_uint_eq(pyfs_inode_count(table), fixed + 1);
	ck_assert_uint_eq(pyfs_inode_forget(table, ino, 1), 0);
	again = pyfs_inode_get(table, ino);
	ck_assert_ptr_eq(again, node);
	/* The last lookup goes while pyfsd holds it: freed only when that goes too. */
	ck_assert_uint_eq(pyfs_inode_forget(table, ino, 1), 0);
	ck_assert_uint_eq(pyfs_inode_count(table), fixed + 1);
	g_clear_pointer(&again, pyfs_node_unref);
	ck_assert_uint_eq(pyfs_inode_count(table), fixed);
	ck_assert_ptr_null(pyfs_inode_get(table, ino));
	/* A forget of a number nobody holds is harmless. */
	ck_assert_uint_eq(pyfs_inode_forget(table, ino, 1), 0);

	/* The number goes to the next node, with a higher generation. */
	other = pyfs_inode_named(table, PYFS_NODE_DOT_EXEC, "split");
	ck_assert_uint_eq(other->ino, ino);
	ck_assert_uint_gt(other->generation, generation);
}
END_TEST

START_TEST(test_fixed_stay)
{
	g_autoptr(PyfsInodeTable) table = pyfs_inode_table_new(0, NULL);
	g_autoptr(PyfsNode) root = pyfs_inode_get(table, PYFS_INO_ROOT);
	g_autoptr(PyfsNode) run = NULL;
	g_autoptr(GPtrArray) known = NULL;

	pyfs_inode_lookup(table, root);
	ck_assert_uint_eq(pyfs_inode_forget(table, PYFS_INO_ROOT, 1), 0);
	run = pyfs_inode_get(table, PYFS_INO_SYS_MODULES);
	ck_assert_uint_eq(run->type, PYFS_NODE_SYS_MODULES);
	pyfs_inode_lookup(table, run);
	known = pyfs_inode_known(table);
	ck_assert_uint_eq(known->len, 1);
	ck_assert_ptr_eq(known->pdata[0], run);
}
END_TEST

static guint data_cleared;

static void count_clear(gpointer data)
{
	/* What the owner put there (every other node's data stays zeroed). */
	if (*(int *)data == 42)
		data_cleared++;
}

START_TEST(test_data_cleared_with_node)
{
	g_autoptr(PyfsInodeTable) table = pyfs_inode_table_new(sizeof(int), count_clear);
	PyfsNode *node = pyfs_inode_named(table, PYFS_NODE_DOT_EXEC, "upper");

	data_cleared = 0;
	ck_assert_int_eq(*(int *)node->data, 0);
	*(int *)node->data = 42;
	pyfs_node_unref(node);
	ck_assert_uint_eq(data_cleared, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inode");
	TCase *tc = tcase_create("inode");

	tcase_add_test(tc, test_identity);
	tcase_add_test(tc, test_freed_when_forgotten);
	tcase_add_test(tc, test_fixed_stay);
	tcase_add_test(tc, test_data_cleared_with_node);
	suite_add_tcase(s, tc);
	return test_run(s);
}
