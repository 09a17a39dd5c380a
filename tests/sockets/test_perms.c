/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Who may reach the unix sockets netbe creates.  Under umask 000 a
 * stream listener and a dgram local= socket are 0600; mode= and group=
 * set exactly what is asked.  As root, a child that became uid 65534
 * cannot connect to (or send to) a default socket (EACCES); with
 * mode=666 it can open the file, and allow_uid= then refuses it on
 * accept (closed before a byte is read, logged with its uid, counted)
 * or lets it in when listed.  Public API only; the uid tests skip
 * without root.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbe.h"
#include "log_capture.h"

#define NOBODY 65534
#define FRAME_LEN 60

/* ---- helpers ----------------------------------------------------------- */

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static void make_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/tmp/netbe-tp-%d-%s.sock", (int)getpid(), tag);
	unlink(buf);
}

static netbe_t *open_ok(netbe_loop_t *loop, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static netbe_t *open_ok(netbe_loop_t *loop, const char *fmt, ...)
{
	char spec[300];
	netbe_t *be;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	if (netbe_open(&be, spec, loop, nop_cb, NULL) < 0)
		fail_msg("%s: %s", spec, netbe_last_error());
	return be;
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	return st.st_mode & 07777;
}

static uint64_t drops(netbe_t *be, int dir, int why)
{
	uint64_t d[NETBE_DROP_NREASONS];

	assert_int_equal(netbe_get_drops(be, dir, d, NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	return d[why];
}

static void skip_unless_root(void)
{
	if (geteuid() != 0) {
		print_message("not root: cannot become another user; "
			      "skipping\n");
		skip();
	}
}

/* ---- modes ------------------------------------------------------------- */

static void stream_listen_modes(void **state)
{
	char path[108];
	netbe_t *be;

	(void)state;
	make_path(path, sizeof(path), "s");
	be = open_ok(NULL, "stream,listen=unix:%s", path);
	assert_int_equal(file_mode(path), 0600);
	netbe_cleanup(be);
	be = open_ok(NULL, "stream,listen=unix:%s,mode=660", path);
	assert_int_equal(file_mode(path), 0660);
	netbe_cleanup(be);
	be = open_ok(NULL, "stream,listen=unix:%s,mode=666", path);
	assert_int_equal(file_mode(path), 0666);
	netbe_cleanup(be);
	assert_int_equal(access(path, F_OK), -1);
}

static void dgram_local_modes(void **state)
{
	char path[108], peer[108];
	netbe_t *be;

	(void)state;
	make_path(path, sizeof(path), "d");
	make_path(peer, sizeof(peer), "dpeer");
	be = open_ok(NULL, "dgram,local=unix:%s,remote=unix:%s", path, peer);
	assert_int_equal(file_mode(path), 0600);
	netbe_cleanup(be);
	be = open_ok(NULL, "dgram,local=unix:%s,remote=unix:%s,mode=660",
		     path, peer);
	assert_int_equal(file_mode(path), 0660);
	netbe_cleanup(be);
	assert_int_equal(access(path, F_OK), -1);
}

/* group=GID (ours: allowed without privileges) and, as root, another. */
static void group_given(void **state)
{
	char path[108];
	struct stat st;
	netbe_t *be;

	(void)state;
	make_path(path, sizeof(path), "g");
	be = open_ok(NULL, "stream,listen=unix:%s,mode=660,group=%u", path,
		     (unsigned)getgid());
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_gid, getgid());
	netbe_cleanup(be);
	if (geteuid() != 0)
		return;
	be = open_ok(NULL, "dgram,local=unix:%s,remote=unix:%s.x,mode=660,"
		     "group=%u", path, path, NOBODY);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_gid, NOBODY);
	assert_int_equal(st.st_mode & 0777, 0660);
	netbe_cleanup(be);
}

static void expect_open_fails(const char *spec, const char *msg)
{
	netbe_t *be = (netbe_t *)1;
	int r = netbe_open(&be, spec, NULL, nop_cb, NULL);

	if (r != -EINVAL || !strstr(netbe_last_error(), msg))
		fail_msg("%s: got %d '%s', want -EINVAL '%s'", spec, r,
			 netbe_last_error(), msg);
	assert_null(be);
}

static void config_errors(void **state)
{
	(void)state;
	expect_open_fails("stream,listen=tcp:127.0.0.1:9,mode=600",
			  "listen=unix:/path only");
	expect_open_fails("stream,connect=unix:/tmp/x,allow_uid=0",
			  "listen=unix:/path only");
	expect_open_fails("stream,listen=unix:/tmp/x,allow_uid=root",
			  "numeric uids separated by ';'");
	expect_open_fails("stream,listen=unix:/tmp/x,allow_uid=;",
			  "at least one numeric uid");
	expect_open_fails("stream,listen=unix:/tmp/x,mode=0777x",
			  "expected octal permission bits");
	expect_open_fails("stream,listen=unix:/tmp/x,group=no-such-grp-nb",
			  "no such group");
}

/* ---- another user -------------------------------------------------------- */

enum child_op { CHILD_CONNECT, CHILD_SEND_DGRAM };

/* In a child that became uid/gid 65534: connects to @path (stream) and
 * sends one frame record, or sends one datagram.  Exit status: 0 done,
 * 1 setuid failed, 2 + errno of the connect/send when it failed, 100
 * when the stream was closed on us (read 0 or ECONNRESET), 101 when it
 * stayed open for a second. */
static int child_run(const char *path, enum child_op op)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint8_t rec[4 + FRAME_LEN] = { 0, 0, 0, FRAME_LEN }, c;
	int type = op == CHILD_CONNECT ? SOCK_STREAM : SOCK_DGRAM, fd;
	struct pollfd p;
	ssize_t n;

	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
	    setuid(NOBODY) < 0)
		return 1;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	fd = socket(AF_UNIX, type, 0);
	memset(rec + 4, 0xff, FRAME_LEN);
	if (op == CHILD_SEND_DGRAM)
		return sendto(fd, rec + 4, FRAME_LEN, 0, (struct sockaddr *)&un,
			      sizeof(un)) < 0 ? 2 + errno : 0;
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0)
		return 2 + errno;
	if (send(fd, rec, sizeof(rec), MSG_NOSIGNAL) != (ssize_t)sizeof(rec))
		return errno == EPIPE || errno == ECONNRESET ? 100 : 2 + errno;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 1000) != 1)
		return 101;
	n = read(fd, &c, 1);
	return n == 0 || (n < 0 && errno == ECONNRESET) ? 100 : 101;
}

/* Runs child_run() as uid 65534 while @loop turns; its exit status. */
static int as_nobody(netbe_loop_t *loop, const char *path, enum child_op op)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_run(path, op));
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (loop)
			netbe_loop_run_once(loop, 10);
		else
			usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void nobody_cannot_open_default(void **state)
{
	char path[108], peer[108];
	netbe_t *be;

	(void)state;
	skip_unless_root();
	make_path(path, sizeof(path), "n");
	be = open_ok(NULL, "stream,listen=unix:%s", path);
	assert_int_equal(as_nobody(NULL, path, CHILD_CONNECT), 2 + EACCES);
	netbe_cleanup(be);
	make_path(peer, sizeof(peer), "npeer");
	be = open_ok(NULL, "dgram,local=unix:%s,remote=unix:%s", path, peer);
	assert_int_equal(as_nobody(NULL, path, CHILD_SEND_DGRAM), 2 + EACCES);
	netbe_cleanup(be);
}

/* mode=666 lets uid 65534 open the file; allow_uid= without it refuses
 * the connection on accept: closed, nothing delivered, logged, counted. */
static void allow_uid_refuses(void **state)
{
	char path[108], want[64];
	struct netbe_stats st;
	netbe_loop_t *loop;
	netbe_t *be;

	(void)state;
	skip_unless_root();
	make_path(path, sizeof(path), "u");
	assert_int_equal(netbe_loop_new(&loop), 0);
	be = open_ok(loop, "stream,listen=unix:%s,mode=666,allow_uid=%u;1",
		     path, (unsigned)getuid());
	assert_int_equal(as_nobody(loop, path, CHILD_CONNECT), 100);
	netbe_get_stats(be, &st);
	assert_int_equal(st.rx_frames, 0);
	assert_int_equal(st.rx_drops, 1);
	assert_int_equal(drops(be, NETBE_RX, NETBE_DROP_MALFORMED), 1);
	snprintf(want, sizeof(want), "refused unix peer uid %u pid", NOBODY);
	assert_true(logged(want));
	netbe_cleanup(be);
	netbe_loop_free(loop);
}

/* Listed in allow_uid=, uid 65534 is served: its frame arrives. */
static void allow_uid_admits(void **state)
{
	char path[108];
	uint8_t got[100];
	struct iovec v = { got, sizeof(got) };
	netbe_loop_t *loop;
	netbe_t *be;
	ssize_t n = 0;

	(void)state;
	skip_unless_root();
	make_path(path, sizeof(path), "a");
	assert_int_equal(netbe_loop_new(&loop), 0);
	be = open_ok(loop, "stream,listen=unix:%s,mode=666,allow_uid=%u",
		     path, NOBODY);
	assert_int_equal(as_nobody(loop, path, CHILD_CONNECT), 101);
	for (int i = 0; i < 50 && n == 0; i++) {
		netbe_loop_run_once(loop, 10);
		n = netbe_recv(be, &v, 1);
	}
	assert_int_equal(n, FRAME_LEN);
	netbe_cleanup(be);
	netbe_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_listen_modes),
		cmocka_unit_test(dgram_local_modes),
		cmocka_unit_test(group_given),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(nobody_cannot_open_default),
		cmocka_unit_test(allow_uid_refuses),
		cmocka_unit_test(allow_uid_admits),
	};

	umask(0); /* the worst case: every file would be world-writable */
	netbe_set_log_fn(log_cb, NETBE_LOG_INFO, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
