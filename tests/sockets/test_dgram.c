/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The dgram backend: two backends exchange frames over UDP (IPv4, IPv6)
 * and unix datagram sockets, one by one and in batches; malformed
 * datagrams from a raw socket (the backend's remote=) are dropped and
 * counted; datagrams from any other sender never arrive (the socket is
 * connected; unix: filtered by sender path until it can be); a multicast
 * source= accepts one sender only.  Public API only; loopback only; no
 * root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbe.h"

struct two {
	netbe_loop_t *loop;
	netbe_t *a, *b;
	char spec_a[300], spec_b[300];
	char path_a[108], path_b[108];
	uint16_t port_a, port_b;
	bool v6;
	int raw; /* setup_raw*: b's remote=, a plain socket; else -1 */
	uint16_t port_raw;
};

static void teardown_two(struct two *t);

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

/* A UDP port free right now on the loopback (bound, read, closed). */
static uint16_t free_port(bool v6)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = v6 ? sizeof(struct sockaddr_in6)
			   : sizeof(struct sockaddr_in);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	uint16_t port;

	assert_true(fd >= 0);
	ss.ss_family = v6 ? AF_INET6 : AF_INET;
	if (v6)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
		  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

static void open_two(struct two *t)
{
	assert_int_equal(netbe_loop_new(&t->loop), 0);
	assert_int_equal(netbe_open(&t->a, t->spec_a, t->loop, nop_cb, NULL),
			 0);
	assert_int_equal(netbe_open(&t->b, t->spec_b, t->loop, nop_cb, NULL),
			 0);
}

/* A UDP socket bound to the loopback port @port. */
static int udp_bound(bool v6, uint16_t port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				   .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, v6 ? (struct sockaddr *)&s6
				     : (struct sockaddr *)&s4,
			      v6 ? sizeof(s6) : sizeof(s4)), 0);
	return fd;
}

/* a <-> b; with @raw, b's remote= is a plain socket (t->raw) instead. */
static int setup_udp_with(void **state, bool v6, bool raw)
{
	struct two *t = calloc(1, sizeof(*t));
	const char *h = v6 ? "[::1]" : "127.0.0.1";
	uint16_t port_raw = 0;

	t->v6 = v6;
	t->raw = -1;
	t->port_a = free_port(v6);
	t->port_b = free_port(v6);
	if (raw) {
		port_raw = free_port(v6);
		t->raw = udp_bound(v6, port_raw);
		t->port_raw = port_raw;
	}
	snprintf(t->spec_a, sizeof(t->spec_a),
		 "dgram,local=udp:%s:%u,remote=udp:%s:%u", h, t->port_a, h,
		 t->port_b);
	snprintf(t->spec_b, sizeof(t->spec_b),
		 "dgram,local=udp:%s:%u,remote=udp:%s:%u", h, t->port_b, h,
		 raw ? port_raw : t->port_a);
	open_two(t);
	*state = t;
	return 0;
}

static int setup_udp(void **state, bool v6)
{
	return setup_udp_with(state, v6, false);
}

static int setup_udp4(void **state)
{
	return setup_udp(state, false);
}

static int setup_raw4(void **state)
{
	return setup_udp_with(state, false, true);
}

static int setup_udp6(void **state)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	/* No ::1 here (IPv6 disabled): say so rather than pass. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&s6, sizeof(s6)) < 0) {
		print_message("no IPv6 loopback: skipping\n");
		skip();
	}
	close(fd);
	return setup_udp(state, true);
}

static int setup_raw6(void **state)
{
	if (setup_udp6(state) != 0)
		return -1;
	teardown_two(*state);
	return setup_udp_with(state, true, true);
}

static int setup_unix(void **state)
{
	struct two *t = calloc(1, sizeof(*t));

	t->raw = -1;
	snprintf(t->path_a, sizeof(t->path_a), "/tmp/netbe-td-%d-a.sock",
		 (int)getpid());
	snprintf(t->path_b, sizeof(t->path_b), "/tmp/netbe-td-%d-b.sock",
		 (int)getpid());
	snprintf(t->spec_a, sizeof(t->spec_a),
		 "dgram,local=unix:%s,remote=unix:%s", t->path_a, t->path_b);
	snprintf(t->spec_b, sizeof(t->spec_b),
		 "dgram,local=unix:%s,remote=unix:%s", t->path_b, t->path_a);
	open_two(t);
	*state = t;
	return 0;
}

static void teardown_two(struct two *t)
{
	netbe_cleanup(t->a);
	netbe_cleanup(t->b);
	netbe_loop_free(t->loop);
	if (t->path_a[0]) {
		assert_int_equal(access(t->path_a, F_OK), -1); /* removed */
		assert_int_equal(access(t->path_b, F_OK), -1);
	}
	if (t->raw >= 0)
		close(t->raw);
	free(t);
}

static int teardown(void **state)
{
	teardown_two(*state);
	return 0;
}

static void fill_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x52\x54\x00\x00\x00\x02", 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i);
}

static bool wait_readable(netbe_t *be)
{
	struct pollfd p = { .fd = netbe_get_fd(be), .events = POLLIN };

	return poll(&p, 1, 1000) == 1;
}

static void one_way(netbe_t *from, netbe_t *to, size_t len, uint32_t seq)
{
	uint8_t f[2000], got[2000];
	struct iovec v = { f, len }, r = { got, sizeof(got) };

	fill_frame(f, len, seq);
	assert_int_equal(netbe_send(from, &v, 1), len);
	assert_true(wait_readable(to));
	assert_int_equal(netbe_peek_recvlen(to), len);
	assert_int_equal(netbe_recv(to, &r, 1), len);
	assert_memory_equal(got, f, len);
}

static void frames_both_ways(void **state)
{
	struct two *t = *state;
	struct netbe_stats st;

	one_way(t->a, t->b, 60, 1);
	one_way(t->b, t->a, 1514, 2);
	one_way(t->a, t->b, 14, 3);
	netbe_get_stats(t->a, &st);
	assert_int_equal(st.tx_frames, 2);
	assert_int_equal(st.rx_frames, 1);
}

#define NB 32

static void batches(void **state)
{
	struct two *t = *state;
	static uint8_t out[NB][1000], in[NB][1000], exp[1000];
	struct iovec ov[NB], iv[NB];
	struct netbe_msg om[NB], im[NB];
	int got = 0, sent = 0;

	for (int i = 0; i < NB; i++) {
		fill_frame(out[i], 100 + (size_t)i, (uint32_t)i);
		ov[i] = (struct iovec){ out[i], 100 + (size_t)i };
		iv[i] = (struct iovec){ in[i], sizeof(in[i]) };
		om[i] = (struct netbe_msg){ &ov[i], 1, 0 };
		im[i] = (struct netbe_msg){ &iv[i], 1, 0 };
	}
	/* A unix datagram queue holds few datagrams (max_dgram_qlen): the
	 * backend may accept part of a batch; the rest is sent again. */
	while (got < NB) {
		int r;

		if (sent < NB) {
			r = netbe_send_batch(t->a, om + sent, NB - sent);
			assert_true(r > 0);
			sent += r;
		}
		assert_true(wait_readable(t->b));
		r = netbe_recv_batch(t->b, im + got, NB - got);
		assert_true(r > 0);
		got += r;
	}
	for (int i = 0; i < NB; i++) {
		assert_int_equal(im[i].len, 100 + i);
		fill_frame(exp, 100 + (size_t)i, (uint32_t)i);
		assert_memory_equal(in[i], exp, 100 + (size_t)i);
	}
}

/* Sends raw datagrams of @lens to backend b's UDP port. */
static void raw_to_b(struct two *t, const size_t *lens, int n)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				   .sin6_port = htons(t->port_b) };
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(t->port_b) };
	uint8_t buf[2000];
	int fd = t->raw;

	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		fill_frame(buf, lens[i] < 14 ? 14 : lens[i], 9);
		assert_int_equal(sendto(fd, buf, lens[i], 0,
					t->v6 ? (struct sockaddr *)&s6
					      : (struct sockaddr *)&s4,
					t->v6 ? sizeof(s6) : sizeof(s4)),
				 lens[i]);
	}
}

/* Runts (0 and 13 bytes) are dropped and counted; frames after them
 * arrive; a frame larger than the buffer is -ENOSPC and counted. */
static void malformed_dropped(void **state)
{
	struct two *t = *state;
	size_t lens[] = { 0, 13, 60, 0, 1400, 60 };
	uint8_t got[2000], exp[100];
	struct iovec r = { got, sizeof(got) }, small = { got, 100 };
	struct netbe_stats st;
	uint64_t drops[NETBE_DROP_NREASONS];

	raw_to_b(t, lens, 6);
	assert_true(wait_readable(t->b));
	usleep(20000);
	assert_int_equal(netbe_peek_recvlen(t->b), 60); /* runts skipped */
	assert_int_equal(netbe_recv(t->b, &r, 1), 60);
	assert_int_equal(netbe_recv(t->b, &small, 1), -ENOSPC);
	assert_int_equal(netbe_recv(t->b, &r, 1), 60);
	fill_frame(exp, 60, 9);
	assert_memory_equal(got, exp, 60);
	assert_int_equal(netbe_recv(t->b, &r, 1), 0);
	netbe_get_stats(t->b, &st);
	assert_int_equal(st.rx_frames, 2);
	assert_int_equal(st.rx_drops, 4); /* three runts, one too big */
	assert_int_equal(st.rx_errors, 0);
	assert_int_equal(netbe_get_drops(t->b, NETBE_RX, drops,
					 NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	assert_int_equal(drops[NETBE_DROP_RUNT], 3);
	assert_int_equal(drops[NETBE_DROP_NOROOM], 1);
}

static void expect_open_fails(const char *spec, int err, const char *msg)
{
	netbe_t *be = (netbe_t *)1;
	int r = netbe_open(&be, spec, NULL, nop_cb, NULL);

	if (r != err || !strstr(netbe_last_error(), msg))
		fail_msg("%s: got %d '%s', want %d '%s'", spec, r,
			 netbe_last_error(), err, msg);
	assert_null(be);
}

static void config_errors(void **state)
{
	(void)state;
	expect_open_fails("dgram", -EINVAL, "remote= is required");
	expect_open_fails("dgram,remote=udp:127.0.0.1:9", -EINVAL,
			  "local= is required");
	expect_open_fails("dgram,remote=tcp:127.0.0.1:9", -EINVAL,
			  "expected unix:..., udp:...");
	expect_open_fails("dgram,local=unix:/tmp/x,remote=udp:127.0.0.1:9",
			  -EINVAL, "both be udp: or both unix:");
	expect_open_fails("dgram,remote=udp:[ff02::1]:9", -ENOTSUP,
			  "only IPv4 multicast");
	expect_open_fails("dgram,local=udp:192.0.2.77:9,remote=udp:"
			  "127.0.0.1:9", -EADDRNOTAVAIL, "bind");
}

/* The unix peer may appear later: until then sends fail, counted as
 * "peer-gone" drops (no peer to deliver to; the backend did not fail). */
static void unix_peer_absent(void **state)
{
	char spec[300], path[108];
	uint8_t f[60];
	struct iovec v = { f, sizeof(f) };
	struct netbe_stats st;
	uint64_t drops[NETBE_DROP_NREASONS];
	netbe_t *be;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/netbe-td-%d-x.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "dgram,local=unix:%s,remote=unix:%s.none",
		 path, path);
	assert_int_equal(netbe_open(&be, spec, NULL, nop_cb, NULL), 0);
	fill_frame(f, sizeof(f), 1);
	assert_int_equal(netbe_send(be, &v, 1), -ENOTCONN);
	netbe_get_stats(be, &st);
	assert_int_equal(st.tx_drops, 1);
	assert_int_equal(st.tx_errors, 0);
	assert_int_equal(netbe_get_drops(be, NETBE_TX, drops, NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	assert_int_equal(drops[NETBE_DROP_PEER_GONE], 1);
	netbe_cleanup(be);
}

static uint64_t drops_of(netbe_t *be, int dir, int why)
{
	uint64_t d[NETBE_DROP_NREASONS];

	assert_int_equal(netbe_get_drops(be, dir, d, NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	return d[why];
}

/* No frame reaches @be within 200 ms; with @kernel, not even a
 * datagram reaches its socket (the kernel refused it). */
static void nothing_for(netbe_t *be, bool kernel)
{
	uint8_t got[2000];
	struct iovec r = { got, sizeof(got) };
	struct pollfd p = { .fd = netbe_get_fd(be), .events = POLLIN };

	assert_int_equal(poll(&p, 1, 200), kernel ? 0 : 1);
	assert_int_equal(netbe_peek_recvlen(be), 0);
	assert_int_equal(netbe_recv(be, &r, 1), 0);
}

/* Another socket on 127.0.0.1 (a different port) cannot inject a frame
 * into b, whose remote= is a's port; a still can. */
static void udp_stranger_refused(void **state)
{
	struct two *t = *state;
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(t->port_b) };
	int fd = udp_bound(false, free_port(false));
	struct netbe_stats st;
	uint8_t f[60];

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fill_frame(f, sizeof(f), 5);
	assert_int_equal(sendto(fd, f, sizeof(f), 0, (struct sockaddr *)&to,
				sizeof(to)), sizeof(f));
	close(fd);
	nothing_for(t->b, true);
	netbe_get_stats(t->b, &st);
	assert_int_equal(st.rx_frames + st.rx_drops + st.rx_errors, 0);
	one_way(t->a, t->b, 60, 6);
	one_way(t->b, t->a, 60, 7);
}

/* A connected UDP socket whose remote is not up gets ICMP errors: sends
 * are accepted or peer-gone drops, never errors; receiving goes on. */
static void udp_icmp_not_an_error(void **state)
{
	struct two *t = *state;
	uint8_t f[60], got[100];
	struct iovec v = { f, sizeof(f) }, r = { got, sizeof(got) };
	struct netbe_stats st;
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(t->port_b) };
	int fd;

	fill_frame(f, sizeof(f), 8);
	for (int i = 0; i < 6; i++) {
		ssize_t n = netbe_send(t->b, &v, 1); /* to t->raw: closed */

		assert_true(n == (ssize_t)sizeof(f) || n == -ENOTCONN);
		if (i == 0) {
			close(t->raw);
			t->raw = -1;
		}
		usleep(10000);
	}
	for (int i = 0; i < 10; i++)
		netbe_loop_run_once(t->loop, 10); /* EPOLLERR: rx_error */
	netbe_get_stats(t->b, &st);
	assert_int_equal(st.tx_errors, 0);
	assert_int_equal(st.tx_frames + st.tx_drops, 6);
	assert_int_equal(st.tx_drops, drops_of(t->b, NETBE_TX,
					       NETBE_DROP_PEER_GONE));
	assert_int_equal(st.rx_errors, 0);
	/* The remote comes back (same port): its frames arrive. */
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = udp_bound(false, t->port_raw);
	fill_frame(f, sizeof(f), 9);
	assert_int_equal(sendto(fd, f, sizeof(f), 0, (struct sockaddr *)&to,
				sizeof(to)), sizeof(f));
	assert_true(wait_readable(t->b));
	assert_int_equal(netbe_recv(t->b, &r, 1), 60);
	assert_memory_equal(got, f, 60);
	assert_int_equal(netbe_send(t->b, &v, 1), 60);
	assert_int_equal(recv(fd, got, sizeof(got), 0), 60);
	close(fd);
}

static int unix_dgram_bound(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	if (path) {
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
		unlink(path);
		assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)),
				 0);
	}
	return fd;
}

static int unix_send(int fd, const char *to, uint32_t seq)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint8_t f[60];

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", to);
	fill_frame(f, sizeof(f), seq);
	return (int)sendto(fd, f, sizeof(f), 0, (struct sockaddr *)&un,
			   sizeof(un));
}

/* Unix: b (opened second) is connected to a: the kernel refuses anyone
 * else.  a (its peer absent at open) takes only datagrams from b's path
 * until it connects, and counts the others. */
static void unix_stranger_refused(void **state)
{
	struct two *t = *state;
	char path[108];
	int named, anon;

	snprintf(path, sizeof(path), "/tmp/netbe-td-%d-s.sock",
		 (int)getpid());
	named = unix_dgram_bound(path);
	anon = unix_dgram_bound(NULL);
	assert_int_equal(unix_send(named, t->path_b, 1), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(unix_send(named, t->path_a, 2), 60);
	assert_int_equal(unix_send(anon, t->path_a, 3), 60);
	nothing_for(t->a, false);
	assert_int_equal(drops_of(t->a, NETBE_RX, NETBE_DROP_MALFORMED), 2);
	one_way(t->b, t->a, 60, 4);
	one_way(t->a, t->b, 60, 5);
	/* a is connected now: the kernel refuses the stranger. */
	assert_int_equal(unix_send(named, t->path_a, 6), -1);
	assert_int_equal(errno, EPERM);
	close(named);
	close(anon);
	unlink(path);
}

/* The unix peer restarts: a's next send finds the old one dead,
 * reconnects to the new one and is delivered; then both ways work. */
static void unix_peer_restart(void **state)
{
	struct two *t = *state;

	one_way(t->a, t->b, 60, 1);
	one_way(t->b, t->a, 60, 2);
	netbe_cleanup(t->b);
	assert_int_equal(netbe_open(&t->b, t->spec_b, t->loop, nop_cb, NULL),
			 0);
	one_way(t->a, t->b, 60, 3);
	one_way(t->b, t->a, 60, 4);
}

/* Multicast source=: only that sender's datagrams reach the member. */
static void mcast_source(void **state)
{
	char spec[200];
	struct sockaddr_in grp = { .sin_family = AF_INET };
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	uint16_t port = free_port(false);
	uint8_t f[60], got[100];
	struct iovec r = { got, sizeof(got) };
	netbe_t *be;
	int fd[2];

	(void)state;
	snprintf(spec, sizeof(spec), "dgram,remote=udp:239.255.77.1:%u,"
		 "local=udp:127.0.0.1:9,source=127.0.0.1", port);
	if (netbe_open(&be, spec, NULL, nop_cb, NULL) < 0) {
		print_message("no multicast on lo (%s): skipping\n",
			      netbe_last_error());
		skip();
	}
	grp.sin_addr.s_addr = inet_addr("239.255.77.1");
	grp.sin_port = htons(port);
	for (int i = 0; i < 2; i++) { /* 127.0.0.1 allowed, 127.0.0.2 not */
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (unsigned)i);
		assert_int_equal(bind(fd[i], (struct sockaddr *)&from,
				      sizeof(from)), 0);
		assert_int_equal(setsockopt(fd[i], IPPROTO_IP, IP_MULTICAST_IF,
					    &lo, sizeof(lo)), 0);
	}
	fill_frame(f, sizeof(f), 1);
	assert_int_equal(sendto(fd[1], f, sizeof(f), 0,
				(struct sockaddr *)&grp, sizeof(grp)), 60);
	nothing_for(be, true);
	assert_int_equal(sendto(fd[0], f, sizeof(f), 0,
				(struct sockaddr *)&grp, sizeof(grp)), 60);
	assert_true(wait_readable(be));
	assert_int_equal(netbe_recv(be, &r, 1), 60);
	assert_memory_equal(got, f, 60);
	close(fd[0]);
	close(fd[1]);
	netbe_cleanup(be);
}

static void access_config_errors(void **state)
{
	(void)state;
	expect_open_fails("dgram,local=udp:127.0.0.1:9,remote=udp:"
			  "127.0.0.1:9,source=127.0.0.1", -EINVAL,
			  "multicast remote= only");
	expect_open_fails("dgram,remote=udp:239.1.2.3:9,source=::1",
			  -EINVAL, "expected an IPv4 address");
	expect_open_fails("dgram,local=udp:127.0.0.1:9,remote=udp:"
			  "127.0.0.1:9,mode=600", -EINVAL,
			  "local=unix:/path only");
	expect_open_fails("dgram,local=unix:/tmp/x,remote=unix:/tmp/y,"
			  "mode=400", -EINVAL, "expected octal");
	expect_open_fails("dgram,local=unix:/tmp/x,remote=unix:/tmp/y,"
			  "mode=8", -EINVAL, "600-777");
	expect_open_fails("dgram,local=unix:/tmp/x,remote=unix:/tmp/y,"
			  "mode=1777", -EINVAL, "keep the owner's rw");
	expect_open_fails("dgram,local=unix:/tmp/x,remote=unix:/tmp/y,"
			  "group=no-such-group-netbe", -EINVAL,
			  "no such group");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frames_both_ways, setup_udp4,
						teardown),
		cmocka_unit_test_setup_teardown(batches, setup_udp4, teardown),
		cmocka_unit_test_setup_teardown(malformed_dropped, setup_raw4,
						teardown),
		cmocka_unit_test_setup_teardown(frames_both_ways, setup_udp6,
						teardown),
		cmocka_unit_test_setup_teardown(malformed_dropped, setup_raw6,
						teardown),
		cmocka_unit_test_setup_teardown(frames_both_ways, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(batches, setup_unix, teardown),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(unix_peer_absent),
		cmocka_unit_test_setup_teardown(udp_stranger_refused,
						setup_udp4, teardown),
		cmocka_unit_test_setup_teardown(udp_icmp_not_an_error,
						setup_raw4, teardown),
		cmocka_unit_test_setup_teardown(unix_stranger_refused,
						setup_unix, teardown),
		cmocka_unit_test_setup_teardown(unix_peer_restart, setup_unix,
						teardown),
		cmocka_unit_test(mcast_source),
		cmocka_unit_test(access_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
