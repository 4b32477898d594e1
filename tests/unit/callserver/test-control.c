/* SPDX-License-Identifier: MIT */
/*
 * The control channel between pyfsd and its call server: what goes in one
 * message comes out as one message, and what is not a valid message is
 * refused on arrival, never half taken.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pyfs-control.h"
#include "test-run.h"

typedef struct {
	int fds[2];
} Pair;

static Pair pair_new(void)
{
	Pair pair;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair.fds), 0);
	return pair;
}

static void pair_close(Pair *pair)
{
	close(pair->fds[0]);
	close(pair->fds[1]);
}

/* A raw datagram, as a peer that does not follow the protocol sends it. */
static void send_raw(int fd, uint32_t type, uint32_t level, const void *payload, gsize len)
{
	PyfsControlHeader header = { .type = type, .level = level };
	struct iovec iov[2] = { { &header, sizeof(header) }, { (void *)payload, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	ck_assert_int_eq(sendmsg(fd, &msg, 0), (ssize_t)(sizeof(header) + len));
}

static int recv_one(int fd, PyfsControlMsg *msg)
{
	g_autoptr(GError) error = NULL;
	int r = pyfs_control_recv(fd, msg, &error);

	ck_assert(r >= 0 || r == -EAGAIN || error != NULL);
	return r;
}

START_TEST(test_names_one_per_message)
{
	Pair pair = pair_new();
	const char *names[] = { "json", "xml.etree.ElementTree", "ünïcode", NULL };

	for (const char **name = names; *name != NULL; name++)
		ck_assert_int_eq(pyfs_control_send(pair.fds[0], PYFS_CONTROL_IMPORT, 0, *name), 0);
	ck_assert_int_eq(pyfs_control_send(pair.fds[0], PYFS_CONTROL_SERVE, 0, NULL), 0);
	for (const char **name = names; *name != NULL; name++) {
		g_auto(PyfsControlMsg) msg = { 0 };

		ck_assert_int_eq(recv_one(pair.fds[1], &msg), 1);
		ck_assert_int_eq(msg.type, PYFS_CONTROL_IMPORT);
		ck_assert_str_eq(msg.text, *name);
	}
	{
		g_auto(PyfsControlMsg) msg = { 0 };

		ck_assert_int_eq(recv_one(pair.fds[1], &msg), 1);
		ck_assert_int_eq(msg.type, PYFS_CONTROL_SERVE);
		ck_assert_ptr_null(msg.text);
	}
	{
		g_auto(PyfsControlMsg) msg = { 0 };

		ck_assert_int_eq(recv_one(pair.fds[1], &msg), -EAGAIN);
	}
	pair_close(&pair);
}
END_TEST

START_TEST(test_invalid_messages_are_refused)
{
	Pair pair = pair_new();
	static const char long_name[300] = { [0 ... 298] = 'a' };
	static char too_long[PYFS_CONTROL_MAX + 16];
	struct {
		uint32_t type;
		uint32_t level;
		const char *payload;
		gsize len;
	} bad[] = {
		{ PYFS_CONTROL_IMPORT, 0, "os;rm -rf", 9 },         /* not a module name */
		{ PYFS_CONTROL_IMPORT, 0, "a\nb", 3 },              /* two names in one */
		{ PYFS_CONTROL_IMPORT, 0, "os\0sys", 6 },           /* a NUL inside */
		{ PYFS_CONTROL_IMPORT, 0, "", 0 },                  /* no name */
		{ PYFS_CONTROL_IMPORT, 0, long_name, 299 },         /* over PYFS_NAME_MAX */
		{ PYFS_CONTROL_IMPORT, 0, "\xff\xfe", 2 },          /* not UTF-8 */
		{ PYFS_CONTROL_SERVE, 0, "x", 1 },                  /* a payload where none goes */
		{ PYFS_CONTROL_LOG, 12345, "text", 4 },             /* no such level */
		{ PYFS_CONTROL_LOG, G_LOG_LEVEL_ERROR, "x", 1 },    /* a level that would abort */
		{ PYFS_CONTROL_LOG, G_LOG_LEVEL_WARNING, "\xc3", 1 }, /* cut UTF-8 */
		{ PYFS_CONTROL_READY, G_LOG_LEVEL_WARNING, NULL, 0 }, /* a level where none goes */
		{ 0, 0, NULL, 0 },                                  /* no such type */
		{ 999, 0, NULL, 0 },
		{ PYFS_CONTROL_LOG, G_LOG_LEVEL_WARNING, too_long, sizeof(too_long) },
	};

	memset(too_long, 'x', sizeof(too_long));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_auto(PyfsControlMsg) msg = { 0 };

		send_raw(pair.fds[0], bad[i].type, bad[i].level, bad[i].payload, bad[i].len);
		ck_assert_msg(recv_one(pair.fds[1], &msg) == -EBADMSG, "message %u was taken", i);
		ck_assert_ptr_null(msg.text);
	}
	/* A header cut short. */
	{
		g_auto(PyfsControlMsg) msg = { 0 };
		uint16_t half = PYFS_CONTROL_SERVE;

		ck_assert_int_eq(send(pair.fds[0], &half, sizeof(half), 0), sizeof(half));
		ck_assert_int_eq(recv_one(pair.fds[1], &msg), -EBADMSG);
	}
	/* And the channel goes on. */
	{
		g_auto(PyfsControlMsg) msg = { 0 };

		ck_assert_int_eq(pyfs_control_send(pair.fds[0], PYFS_CONTROL_DRAIN, 0, NULL), 0);
		ck_assert_int_eq(recv_one(pair.fds[1], &msg), 1);
		ck_assert_int_eq(msg.type, PYFS_CONTROL_DRAIN);
	}
	pair_close(&pair);
}
END_TEST

START_TEST(test_long_log_text_is_cut_on_a_character)
{
	Pair pair = pair_new();
	g_autoptr(GString) text = g_string_new(NULL);
	g_auto(PyfsControlMsg) msg = { 0 };
	int sndbuf = 4 * PYFS_CONTROL_MAX;

	setsockopt(pair.fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	while (text->len < 2 * PYFS_CONTROL_MAX)
		g_string_append(text, "é");
	ck_assert_int_eq(pyfs_control_send(pair.fds[0], PYFS_CONTROL_LOG, G_LOG_LEVEL_WARNING,
					   text->str), 0);
	ck_assert_int_eq(recv_one(pair.fds[1], &msg), 1);
	ck_assert_int_eq(msg.level, G_LOG_LEVEL_WARNING);
	ck_assert(g_utf8_validate(msg.text, -1, NULL));
	ck_assert(strlen(msg.text) <= PYFS_CONTROL_MAX - sizeof(PyfsControlHeader));
	ck_assert(strlen(msg.text) > PYFS_CONTROL_MAX / 2);
	pair_close(&pair);
}
END_TEST

START_TEST(test_peer_gone)
{
	Pair pair = pair_new();
	g_auto(PyfsControlMsg) msg = { 0 };

	close(pair.fds[0]);
	ck_assert_int_eq(recv_one(pair.fds[1], &msg), 0);
	ck_assert_int_lt(pyfs_control_send(pair.fds[1], PYFS_CONTROL_READY, 0, NULL), 0);
	close(pair.fds[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("messages");

	tcase_add_test(tc, test_names_one_per_message);
	tcase_add_test(tc, test_invalid_messages_are_refused);
	tcase_add_test(tc, test_long_log_text_is_cut_on_a_character);
	tcase_add_test(tc, test_peer_gone);
	suite_add_tcase(s, tc);
	return test_run(s);
}
