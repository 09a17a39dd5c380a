/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The dgram backend: two backends exchange frames over UDP (IPv4, IPv6)
 * and unix datagram sockets, one by one and in batches; malformed
 * datagrams from a raw socket are dropped and counted.  Public API only;
 * loopback only; no root.
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
};

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

static int setup_udp(void **state, bool v6)
{
	struct two *t = calloc(1, sizeof(*t));
	const char *h = v6 ? "[::1]" : "127.0.0.1";

	t->v6 = v6;
	t->port_a = free_port(v6);
	t->port_b = free_port(v6);
	snprintf(t->spec_a, sizeof(t->spec_a),
		 "dgram,local=udp:%s:%u,remote=udp:%s:%u", h, t->port_a, h,
		 t->port_b);
	snprintf(t->spec_b, sizeof(t->spec_b),
		 "dgram,local=udp:%s:%u,remote=udp:%s:%u", h, t->port_b, h,
		 t->port_a);
	open_two(t);
	*state = t;
	return 0;
}

static int setup_udp4(void **state)
{
	return setup_udp(state, false);
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

static int setup_unix(void **state)
{
	struct two *t = calloc(1, sizeof(*t));

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

static int teardown(void **state)
{
	struct two *t = *state;

	netbe_cleanup(t->a);
	netbe_cleanup(t->b);
	netbe_loop_free(t->loop);
	if (t->path_a[0]) {
		assert_int_equal(access(t->path_a, F_OK), -1); /* removed */
		assert_int_equal(access(t->path_b, F_OK), -1);
	}
	free(t);
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
	int fd = socket(t->v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		fill_frame(buf, lens[i] < 14 ? 14 : lens[i], 9);
		assert_int_equal(sendto(fd, buf, lens[i], 0,
					t->v6 ? (struct sockaddr *)&s6
					      : (struct sockaddr *)&s4,
					t->v6 ? sizeof(s6) : sizeof(s4)),
				 lens[i]);
	}
	close(fd);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frames_both_ways, setup_udp4,
						teardown),
		cmocka_unit_test_setup_teardown(batches, setup_udp4, teardown),
		cmocka_unit_test_setup_teardown(malformed_dropped, setup_udp4,
						teardown),
		cmocka_unit_test_setup_teardown(frames_both_ways, setup_udp6,
						teardown),
		cmocka_unit_test_setup_teardown(malformed_dropped, setup_udp6,
						teardown),
		cmocka_unit_test_setup_teardown(frames_both_ways, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(batches, setup_unix, teardown),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(unix_peer_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
