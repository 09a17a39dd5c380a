/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The vale backend and netbe_switch_publish(), through netbe.h only:
 * ports of a switch in this process (created on first use, or
 * published), ports of a switch another process publishes (a forked
 * child), the socket's file modes, a second publish of a live name, the
 * hello a joining program must send, and ports leaving when their peer
 * closes.  Frames include a 60000-byte TCP GSO frame, which must cross
 * whole.  XDG_RUNTIME_DIR points at a scratch directory, so nothing
 * outside it is touched.
 */
#include <endian.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
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

#define HDR NETBE_VNET_HDR_MRG_LEN
#define GSO_LEN 60000 /* the Ethernet frame, without the header */
#define MSS 1448
#define WAIT_ROUNDS 300 /* of 10 ms */

static char rundir[64];

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t mac_b[6] = { 2, 0, 0, 0, 0, 0xb };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

/* ---- frames ------------------------------------------------------------- */

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

/* A plain frame of @len bytes (header of zeros first). */
static size_t plain_frame(uint8_t *buf, const uint8_t *dst,
			  const uint8_t *src, size_t len)
{
	memset(buf, 0, HDR);
	memcpy(buf + HDR, dst, 6);
	memcpy(buf + HDR + 6, src, 6);
	put16(buf + HDR + 12, 0x88b5); /* local experimental */
	for (size_t i = HDR + 14; i < HDR + len; i++)
		buf[i] = (uint8_t)(i * 7);
	return HDR + len;
}

/* Ethernet/IPv4/TCP of GSO_LEN bytes, as a guest hands it over for TSO:
 * GSO_TCPV4, NEEDS_CSUM at 34/16, the pseudo-header sum in place. */
static size_t gso_frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src)
{
	struct netbe_vnet_hdr h = {
		.flags = NETBE_VNET_HDR_F_NEEDS_CSUM,
		.gso_type = NETBE_VNET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54), .gso_size = htole16(MSS),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
	uint8_t *e = buf + HDR, *ip = e + 14, *t = ip + 20;
	size_t l4 = GSO_LEN - 34;

	plain_frame(buf, dst, src, GSO_LEN);
	memcpy(buf, &h, HDR);
	put16(e + 12, 0x0800);
	memset(ip, 0, 40);
	ip[0] = 0x45;
	put16(ip + 2, GSO_LEN - 14);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10, ip[15] = 1, ip[16] = 10, ip[19] = 2;
	put16(ip + 10, ~sum16(ip, 20, 0) & 0xffff);
	put16(t, 40000);
	put16(t + 2, 5001);
	t[12] = 5 << 4;
	t[13] = 0x18; /* PSH ACK */
	put16(t + 14, 65535);
	put16(t + 16, sum16(ip + 12, 8, 6 + (uint32_t)l4));
	return HDR + GSO_LEN;
}

static ssize_t send_buf(netbe_t *be, const uint8_t *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };

	return netbe_send(be, &v, 1);
}

/* The next frame on @be, running @loop (or sleeping) while none is there. */
static ssize_t recv_wait(netbe_t *be, netbe_loop_t *loop, uint8_t *buf,
			 size_t len)
{
	struct iovec v = { buf, len };

	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ssize_t r = netbe_recv(be, &v, 1);

		if (r != 0)
			return r;
		if (loop)
			netbe_loop_run_once(loop, 10);
		else
			usleep(10000);
	}
	return 0;
}

/* Sends @len bytes from @from; @to receives them unchanged. */
static void cross(netbe_t *from, netbe_t *to, netbe_loop_t *loop,
		  const uint8_t *buf, size_t len)
{
	static uint8_t in[HDR + 65536];

	assert_int_equal(send_buf(from, buf, len), (ssize_t)len);
	assert_int_equal(recv_wait(to, loop, in, sizeof(in)), (ssize_t)len);
	assert_memory_equal(in, buf, len);
}

/* Broadcast a -> b, unicast b -> a, then the GSO frame each way, whole. */
static void exchange(netbe_t *a, netbe_t *b, netbe_loop_t *loop)
{
	static uint8_t buf[HDR + 65536];

	assert_int_equal(netbe_set_cap(a, NETBE_OFFLOAD_MASK, HDR), 0);
	assert_int_equal(netbe_set_cap(b, NETBE_OFFLOAD_MASK, HDR), 0);
	cross(a, b, loop, buf, plain_frame(buf, bcast, mac_a, 60));
	cross(b, a, loop, buf, plain_frame(buf, mac_a, mac_b, 1000));
	cross(a, b, loop, buf, gso_frame(buf, mac_b, mac_a));
	cross(b, a, loop, buf, gso_frame(buf, mac_a, mac_b));
}

/* ---- in one process ----------------------------------------------------- */

/* vale0 does not exist: the first open creates it, the ports talk. */
static void local_ports_talk(void **state)
{
	netbe_loop_t *loop;
	netbe_t *a, *b, *dup;

	(void)state;
	assert_int_equal(netbe_loop_new(&loop), 0);
	assert_int_equal(netbe_open(&a, "vale0:a", loop, nop_cb, NULL), 0);
	assert_int_equal(netbe_open(&b, "vale,switch=vale0,port=b", loop,
				    nop_cb, NULL), 0);
	assert_string_equal(netbe_get_name(a), "vale");
	assert_int_equal(netbe_get_vnet_hdr_len(a), HDR);
	/* A port name is taken once. */
	assert_int_equal(netbe_open(&dup, "vale0:a", loop, nop_cb, NULL),
			 -EEXIST);
	assert_non_null(strstr(netbe_last_error(), "vale0:a"));
	exchange(a, b, loop);
	netbe_cleanup(a);
	/* Its name is free again once it closed. */
	assert_int_equal(netbe_open(&a, "vale0:a", loop, nop_cb, NULL), 0);
	netbe_cleanup(a);
	netbe_cleanup(b);
	netbe_loop_free(loop);
}

static void bad_specs_refused(void **state)
{
	static const char *const bad[] = {
		"vale0", "vale0:", "vale0:a b", "vale,port=x,switch=a/b",
		"vale,switch=.x,port=y",
		/* a 64-character port name: one too long */
		("vale0:a0123456789012345678901234567890123456789"
		 "012345678901234567890123"),
	};
	netbe_t *be;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(netbe_open(&be, bad[i], NULL, nop_cb, NULL),
				 -EINVAL);
		assert_null(be);
	}
}

/* True when @sw has a port named @name. */
static bool has_port(netbe_switch_t *sw, const char *name)
{
	char n[64];

	for (unsigned i = 0; i < netbe_switch_port_slots(sw); i++)
		if (netbe_switch_port_info(sw, i, n, sizeof(n), NULL, NULL) ==
			    0 &&
		    !strcmp(n, name))
			return true;
	return false;
}

static unsigned nports(netbe_switch_t *sw)
{
	unsigned n = 0;

	for (unsigned i = 0; i < netbe_switch_port_slots(sw); i++)
		n += netbe_switch_port_info(sw, i, NULL, 0, NULL, NULL) == 0;
	return n;
}

static void sock_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/netbe/%s.sock", rundir, name);

	assert_true(n > 0 && (size_t)n < len);
}

static int raw_connect(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sock_path(sa.sun_path, sizeof(sa.sun_path), name);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The switch's answer to a hello (running @loop when given). */
static ssize_t raw_answer(int fd, netbe_loop_t *loop, char *buf, size_t len)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

		if (n >= 0 || errno != EAGAIN) {
			buf[n > 0 ? n : 0] = '\0';
			return n;
		}
		if (loop)
			netbe_loop_run_once(loop, 10);
		else
			usleep(10000);
	}
	return -EAGAIN;
}

/* A hello naming an invalid port: "ERR", the connection closed. */
static void bad_hello(const char *name, netbe_loop_t *loop, const char *hello)
{
	char ans[512];
	int fd = raw_connect(name);

	assert_true(send(fd, hello, strlen(hello), 0) > 0);
	assert_true(raw_answer(fd, loop, ans, sizeof(ans)) > 0);
	assert_memory_equal(ans, "ERR 22 ", 7);
	assert_int_equal(raw_answer(fd, loop, ans, sizeof(ans)), 0); /* EOF */
	close(fd);
}

/* Published in this process: the socket (0600 under any umask), bad and
 * good hellos, a port leaving with its peer, vale ports in-process. */
static void published_here(void **state)
{
	char name[32], path[256], ans[64], long_hello[300] = { 0 };
	netbe_switch_t *sw, *sw2;
	netbe_loop_t *loop;
	struct stat st;
	mode_t old = umask(0277);
	netbe_t *v;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "valeh%d", (int)getpid());
	assert_int_equal(netbe_loop_new(&loop), 0);
	assert_int_equal(netbe_switch_new(&sw, loop, NULL), 0);
	assert_int_equal(netbe_switch_publish(sw, name), 0);
	umask(old);
	sock_path(path, sizeof(path), name);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The name is taken, in this process too. */
	assert_int_equal(netbe_switch_new(&sw2, loop, NULL), 0);
	assert_int_equal(netbe_switch_publish(sw2, name), -EEXIST);
	netbe_switch_free(sw2);
	assert_int_equal(stat(path, &st), 0);

	bad_hello(name, loop, "PORT bad name");
	bad_hello(name, loop, "PORT ");
	bad_hello(name, loop, "PORT a,b");
	bad_hello(name, loop, "PORT \x1b[31m");
	memset(long_hello, 'x', sizeof(long_hello) - 1);
	memcpy(long_hello, "PORT ", 5);
	bad_hello(name, loop, long_hello);
	assert_int_equal(nports(sw), 0);

	/* A good hello is a port until its peer closes. */
	fd = raw_connect(name);
	assert_true(send(fd, "PORT raw1", 9, 0) == 9);
	assert_int_equal(raw_answer(fd, loop, ans, sizeof(ans)), 2);
	assert_string_equal(ans, "OK");
	assert_true(has_port(sw, "raw1"));
	close(fd);
	for (int i = 0; i < WAIT_ROUNDS && has_port(sw, "raw1"); i++)
		netbe_loop_run_once(loop, 10);
	assert_false(has_port(sw, "raw1"));

	/* In this process, vale ports of it need no socket. */
	assert_int_equal(netbe_open(&v, name, loop, nop_cb, NULL), -EINVAL);
	snprintf(path, sizeof(path), "%s:vm1", name);
	assert_int_equal(netbe_open(&v, path, loop, nop_cb, NULL), 0);
	assert_true(has_port(sw, "vm1"));
	netbe_cleanup(v);
	assert_false(has_port(sw, "vm1"));

	/* Freed: the file goes. */
	sock_path(path, sizeof(path), name);
	netbe_switch_free(sw);
	assert_int_equal(stat(path, &st), -1);
	netbe_loop_free(loop);
}

/* As uid nobody: connects to @path, sends a hello; exits 0 when the
 * switch closed the connection without an answer. */
static void stranger_main(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char ans[64];
	ssize_t r;
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) < 0)
		_exit(1);
	if (setgid(65534) < 0 || setuid(65534) < 0)
		_exit(2);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(3);
	/* Closed before or after our hello: a broken pipe, a reset (the
	 * hello unread), or a plain end of file - never an answer. */
	r = send(fd, "PORT evil", 9, MSG_NOSIGNAL);
	if (r < 0)
		_exit(errno == EPIPE || errno == ECONNRESET ? 0 : 4);
	r = recv(fd, ans, sizeof(ans), 0);
	_exit(r == 0 || (r < 0 && errno == ECONNRESET) ? 0 : r > 0 ? 5 : 6);
}

/* Only our uid or root may join (needs root, to be another uid). */
static void other_uid_refused(void **state)
{
	char name[32], path[256], dir[256];
	netbe_switch_t *sw;
	netbe_loop_t *loop;
	int status = -1;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(name, sizeof(name), "valeu%d", (int)getpid());
	assert_int_equal(netbe_loop_new(&loop), 0);
	assert_int_equal(netbe_switch_new(&sw, loop, NULL), 0);
	assert_int_equal(netbe_switch_publish(sw, name), 0);
	/* Open the way, so that only the switch's check stands. */
	sock_path(path, sizeof(path), name);
	snprintf(dir, sizeof(dir), "%s/netbe", rundir);
	assert_int_equal(chmod(rundir, 0711), 0);
	assert_int_equal(chmod(dir, 0711), 0);
	assert_int_equal(chmod(path, 0666), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		stranger_main(path);
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		netbe_loop_run_once(loop, 10);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(nports(sw), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(chmod(rundir, 0700), 0);
	netbe_switch_free(sw);
	netbe_loop_free(loop);
}

/* A vale handle outlives the switch it was a port of. */
static void switch_freed_under_port(void **state)
{
	netbe_switch_t *sw;
	netbe_loop_t *loop;
	netbe_t *v;
	uint8_t buf[HDR + 128];

	(void)state;
	assert_int_equal(netbe_loop_new(&loop), 0);
	assert_int_equal(netbe_switch_new(&sw, loop, NULL), 0);
	assert_int_equal(netbe_switch_publish(sw, "valefree"), 0);
	assert_int_equal(netbe_open(&v, "valefree:x", loop, nop_cb, NULL), 0);
	netbe_switch_free(sw);
	/* The port's end of file reached us; sending finds no peer. */
	assert_true(send_buf(v, buf, plain_frame(buf, bcast, mac_a, 60)) < 0);
	netbe_cleanup(v);
	/* The name is free: a new vale open creates the switch. */
	assert_int_equal(netbe_open(&v, "valefree:y", loop, nop_cb, NULL), 0);
	netbe_cleanup(v);
	netbe_loop_free(loop);
}

/* ---- across processes --------------------------------------------------- */

struct child {
	pid_t pid;
	int stop; /* closing it stops the child */
};

static void child_stop_cb(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	netbe_loop_stop(arg);
}

/* The child: a switch published as @name, its loop run until @stop
 * reads the end of file.  Reports the publish result on @ready. */
static void child_main(const char *name, int stop, int ready)
{
	netbe_switch_t *sw;
	netbe_loop_t *loop;
	netbe_watch_t *w;
	int r;

	umask(0);
	if (netbe_loop_new(&loop) < 0 || netbe_switch_new(&sw, loop, NULL) < 0)
		_exit(2);
	r = netbe_switch_publish(sw, name);
	if (write(ready, &r, sizeof(r)) != sizeof(r) || r < 0)
		_exit(3);
	if (netbe_loop_add_fd(loop, stop, NETBE_EV_READ, 1, child_stop_cb,
			      loop, &w) < 0 || netbe_loop_run(loop) < 0)
		_exit(4);
	netbe_switch_free(sw);
	netbe_loop_free(loop);
	_exit(0);
}

static struct child child_start(const char *name)
{
	int stop[2], ready[2], r = -1;
	struct child c;

	assert_int_equal(pipe(stop), 0);
	assert_int_equal(pipe(ready), 0);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		close(stop[1]);
		close(ready[0]);
		child_main(name, stop[0], ready[1]);
	}
	close(stop[0]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &r, sizeof(r)), sizeof(r));
	close(ready[0]);
	assert_int_equal(r, 0);
	c.stop = stop[1];
	return c;
}

static void child_end(struct child *c)
{
	int status;

	close(c->stop);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Opens NAME:@port, retrying while the switch still has an old one. */
static netbe_t *open_retry(const char *name, const char *port)
{
	char spec[96];
	netbe_t *be = NULL;
	int r = -EEXIST;

	snprintf(spec, sizeof(spec), "%s:%s", name, port);
	for (int i = 0; i < WAIT_ROUNDS && r == -EEXIST; i++)
		if ((r = netbe_open(&be, spec, NULL, nop_cb, NULL)) == -EEXIST)
			usleep(10000);
	assert_int_equal(r, 0);
	return be;
}

static void across_processes(void **state)
{
	char name[32], path[256], dir[256];
	netbe_switch_t *sw;
	netbe_loop_t *loop;
	struct stat st;
	struct child c;
	netbe_t *p1, *p2, *again;
	uint8_t buf[HDR + 128];

	(void)state;
	snprintf(name, sizeof(name), "valex%d", (int)getpid());
	c = child_start(name);
	sock_path(path, sizeof(path), name);
	snprintf(dir, sizeof(dir), "%s/netbe", rundir);
	/* Made under umask 000, still private. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* A live switch has the name. */
	assert_int_equal(netbe_loop_new(&loop), 0);
	assert_int_equal(netbe_switch_new(&sw, loop, NULL), 0);
	assert_int_equal(netbe_switch_publish(sw, name), -EEXIST);
	netbe_switch_free(sw);
	netbe_loop_free(loop);
	assert_int_equal(stat(path, &st), 0);

	/* Both ports cross the socket; frames go both ways, GSO whole. */
	p1 = open_retry(name, "p1");
	p2 = open_retry(name, "p2");
	snprintf(path, sizeof(path), "%s:p1", name);
	assert_int_equal(netbe_open(&again, path, NULL, nop_cb, NULL),
			 -EEXIST);
	assert_non_null(strstr(netbe_last_error(), "p1"));
	exchange(p1, p2, NULL);

	/* A bad hello is refused there too. */
	bad_hello(name, NULL, "PORT two words");

	/* p1 leaves: the switch removes the port, so the name is free. */
	netbe_cleanup(p1);
	p1 = open_retry(name, "p1");
	exchange(p1, p2, NULL);
	netbe_cleanup(p1);
	child_end(&c);
	/* The child removed its file, and p2's peer was there: gone now. */
	sock_path(path, sizeof(path), name);
	assert_int_equal(stat(path, &st), -1);
	assert_true(send_buf(p2, buf, plain_frame(buf, bcast, mac_b, 60)) < 0);
	netbe_cleanup(p2);
}

/* A socket file nobody answers on is replaced by the next publish. */
static void stale_socket_replaced(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[32];
	netbe_switch_t *sw;
	netbe_loop_t *loop;
	struct stat st;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "vales%d", (int)getpid());
	sock_path(sa.sun_path, sizeof(sa.sun_path), name);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* the file stays, nobody listens */
	assert_int_equal(netbe_loop_new(&loop), 0);
	assert_int_equal(netbe_switch_new(&sw, loop, NULL), 0);
	assert_int_equal(netbe_switch_publish(sw, name), 0);
	assert_int_equal(stat(sa.sun_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	netbe_switch_free(sw);
	netbe_loop_free(loop);
}

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_ports_talk),
		cmocka_unit_test(bad_specs_refused),
		cmocka_unit_test(published_here),
		cmocka_unit_test(other_uid_refused),
		cmocka_unit_test(switch_freed_under_port),
		cmocka_unit_test(across_processes),
		cmocka_unit_test(stale_socket_replaced),
	};
	int r;

	snprintf(rundir, sizeof(rundir), "/tmp/netbe-vale-test.XXXXXX");
	if (!mkdtemp(rundir))
		return 1;
	setenv("XDG_RUNTIME_DIR", rundir, 1);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	nftw(rundir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return r;
}
