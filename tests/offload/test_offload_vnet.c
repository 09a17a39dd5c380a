/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Software offloads through the library (vnet.c) on pipe pairs: a
 * frontend negotiates CSUM/HOST_* on a pipe that carries no header and
 * its frames arrive checksummed and segmented; a pipe that carries
 * offloads delivers GSO frames to a frontend that did not accept them as
 * segments, one per recv, peek telling each one's length.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "frames.h"

#define HDR 12
#define ALL_HOST                                                             \
	(NETBE_F_CSUM | NETBE_F_HOST_TSO4 | NETBE_F_HOST_TSO6 | \
	 NETBE_F_HOST_ECN | NETBE_F_HOST_UFO | NETBE_F_HOST_USO)

static uint8_t frame[NETBE_MAX_FRAME + HDR];
static uint8_t rx[NETBE_MAX_FRAME + HDR + 100];
static char logged[512];

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static void log_cb(enum netbe_log_level lvl, const char *msg, void *opaque)
{
	(void)opaque;
	if (lvl == NETBE_LOG_WARN)
		snprintf(logged, sizeof(logged), "%s", msg);
}

struct pair {
	netbe_loop_t *loop;
	netbe_t *a, *b;
};

static struct pair *pair_open(bool offload)
{
	static unsigned seq;
	struct pair *p = calloc(1, sizeof(*p));
	char spec[64];

	assert_non_null(p);
	assert_int_equal(netbe_loop_new(&p->loop), 0);
	snprintf(spec, sizeof(spec), "pipe:offl%u%s", ++seq,
		 offload ? ",offload=on" : "");
	assert_int_equal(netbe_open(&p->a, spec, p->loop, nop_cb, NULL), 0);
	assert_int_equal(netbe_open(&p->b, spec, p->loop, nop_cb, NULL), 0);
	return p;
}

static int setup_plain(void **state)
{
	*state = pair_open(false);
	return 0;
}

static int setup_offl(void **state)
{
	*state = pair_open(true);
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	netbe_cleanup(p->a);
	netbe_cleanup(p->b);
	netbe_loop_free(p->loop);
	free(p);
	return 0;
}

static struct netbe_stats st(const netbe_t *be)
{
	struct netbe_stats s;

	netbe_get_stats(be, &s);
	return s;
}

/* @be's drops in direction @dir for reason @why. */
static uint64_t drops(const netbe_t *be, int dir, int why)
{
	uint64_t c[NETBE_DROP_NREASONS];

	assert_int_equal(netbe_get_drops(be, dir, c, NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	return c[why];
}

/* A GSO frame behind a 12-byte header in frame[]; returns its length. */
static size_t gso_frame(const struct fspec *s, uint8_t gso, unsigned mss)
{
	struct flay l = fbuild(frame + HDR, s);
	struct netbe_vnet_hdr h = fhdr(s, &l, gso, mss);

	memcpy(frame, &h, HDR);
	return HDR + l.len;
}

static ssize_t send_frame(netbe_t *be, size_t len)
{
	struct iovec iov[3] = { { frame, 7 }, { frame + 7, 60 },
				{ frame + 67, len - 67 } };

	return netbe_send(be, iov, 3); /* header split across entries */
}

/* Receives segments of @total payload bytes with a @room-byte buffer and
 * frontend header @fe; checks each; returns the count. */
static int recv_segments(netbe_t *b, unsigned fe, size_t room, size_t total,
			 uint32_t seq0, uint8_t want_flags)
{
	size_t got = 0;
	int n = 0;

	while (got < total) {
		ssize_t peek = netbe_peek_recvlen(b);
		struct iovec iov = { rx, room };
		ssize_t r = netbe_recv(b, &iov, 1);
		struct fseg g;

		if (r <= 0)
			fail_msg("segment %d: recv %zd after %zu of %zu bytes",
				 n, r, got, total);
		assert_int_equal(peek, r);
		if (fe)
			assert_int_equal(rx[0], want_flags);
		if (fe)
			assert_int_equal(rx[1], 0);
		g = fcheck(rx + fe, (size_t)r - fe);
		if (!g.ok)
			fail_msg("segment %d: %s", n, g.why);
		if (!g.frag && seq0)
			assert_int_equal(g.seq, seq0 + got);
		got += g.paylen;
		n++;
	}
	assert_int_equal(got, total);
	return n;
}

/* ---- transmit: the backend has no header ------------------------------------- */

static void caps_report_emulation(void **state)
{
	struct pair *p = *state;

	assert_true((netbe_get_cap(p->a) & ALL_HOST) == ALL_HOST);
	assert_int_equal(netbe_get_cap(p->a) & NETBE_F_GUEST_CSUM, 0);
	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_get_vnet_hdr_len(p->a), 0);
	assert_int_equal(netbe_set_cap(p->a, NETBE_F_GUEST_TSO4, HDR),
			 -ENOTSUP);
}

static void tx_tso4_segmented(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 6, .payload = 65000, .seq = 7,
			   .tcp_flags = F_ACK | F_PSH };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV4, 1448);

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, 0), 0);
	assert_int_equal(send_frame(p->a, len), len);
	assert_int_equal(recv_segments(p->b, 0, 2000, 65000, 7, 0), 45);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	/* One frame of the frontend's bytes; 45 frames on the other side. */
	assert_int_equal(st(p->a).tx_frames, 1);
	assert_int_equal(st(p->a).tx_bytes, len);
	assert_int_equal(st(p->a).tx_drops + st(p->a).tx_errors, 0);
	assert_int_equal(st(p->b).rx_frames, 45);
}

static void tx_all_kinds_batch(void **state)
{
	struct pair *p = *state;
	static uint8_t f[3][NETBE_MAX_FRAME + HDR];
	struct fspec s6 = { .v6 = true, .vlans = 2, .proto = 6, .payload = 30000,
			    .seq = 1000, .tcp_flags = F_ACK | F_CWR };
	struct fspec su = { .proto = 17, .payload = 20000, .ip_id = 9 };
	struct fspec sc = { .v6 = true, .proto = 17, .payload = 1001 };
	size_t l[3];
	struct iovec v[3];
	struct netbe_msg m[3];

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, 10), 0);
	l[0] = gso_frame(&s6, NETBE_VNET_HDR_GSO_TCPV6 | NETBE_VNET_HDR_GSO_ECN,
			 1400);
	memcpy(f[0], frame, l[0]);
	l[1] = gso_frame(&su, NETBE_VNET_HDR_GSO_UDP, 1480);
	memcpy(f[1], frame, l[1]);
	l[2] = gso_frame(&sc, NETBE_VNET_HDR_GSO_NONE, 0);
	memcpy(f[2], frame, l[2]);
	for (int i = 0; i < 3; i++) {
		v[i] = (struct iovec){ f[i], l[i] };
		m[i] = (struct netbe_msg){ .iov = &v[i], .iovcnt = 1 };
	}
	assert_int_equal(netbe_send_batch(p->a, m, 3), 3);
	assert_int_equal(m[0].len, l[0]);
	assert_int_equal(recv_segments(p->b, 10, 1600, 30000, 1000, 0), 22);
	/* UFO: 20008 bytes of datagram in 1480-byte fragments. */
	assert_int_equal(recv_segments(p->b, 10, 1600, 20008, 0, 0), 14);
	assert_int_equal(recv_segments(p->b, 10, 1600, 1001, 0, 0), 1);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	assert_int_equal(st(p->a).tx_frames, 3);
}

static void tx_malformed_dropped(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 6, .payload = 5000, .tcp_flags = F_ACK };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV6, 1448);

	netbe_set_log_fn(log_cb, NETBE_LOG_WARN, NULL);
	logged[0] = 0;
	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(send_frame(p->a, len), -EINVAL);
	assert_non_null(strstr(logged, "gso_type does not match the frame"));
	frame[4] = 0; /* gso_size 0 */
	frame[5] = 0;
	frame[1] = NETBE_VNET_HDR_GSO_TCPV4;
	assert_int_equal(send_frame(p->a, len), -EINVAL);
	/* The frontend's fault, not the backend's: drops, no errors. */
	assert_int_equal(drops(p->a, NETBE_TX, NETBE_DROP_BADHDR), 2);
	assert_int_equal(st(p->a).tx_drops, 2);
	assert_int_equal(st(p->a).tx_errors, 0);
	assert_int_equal(st(p->a).tx_frames, 0);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	netbe_set_log_fn(NULL, NETBE_LOG_ERR, NULL);
}

/* ---- both ends carry offloads --------------------------------------------------- */

static void native_passthrough(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 6, .payload = 20000, .tcp_flags = F_ACK };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV4, 1448);
	struct iovec iov = { rx, sizeof(rx) };

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, NETBE_F_GUEST_CSUM |
					     NETBE_F_GUEST_TSO4, HDR), 0);
	assert_int_equal(send_frame(p->a, len), len);
	assert_int_equal(netbe_peek_recvlen(p->b), len);
	assert_int_equal(netbe_recv(p->b, &iov, 1), len);
	assert_int_equal(rx[1], NETBE_VNET_HDR_GSO_TCPV4);
}

static void rx_segmented_small_buffers(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .v6 = true, .vlans = 1, .proto = 6, .payload = 64000,
			   .seq = 3, .tcp_flags = F_ACK | F_FIN };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV6, 1428);

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, NETBE_F_GUEST_CSUM, HDR), 0);
	assert_int_equal(send_frame(p->a, len), len);
	assert_int_equal(recv_segments(p->b, HDR, 1600, 64000, 3,
				       NETBE_VNET_HDR_F_DATA_VALID), 45);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	assert_int_equal(st(p->b).rx_frames, 45);
	assert_int_equal(st(p->b).rx_bytes, 45 * (HDR + 14 + 4 + 40 + 20) + 64000);
}

static void rx_segmented_big_buffer_no_header(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 17, .payload = 30000 };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_UDP_L4, 1472);

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, 0), 0);
	assert_int_equal(send_frame(p->a, len), len);
	/* Room for any frame: read directly, then segmented. */
	assert_int_equal(recv_segments(p->b, 0, sizeof(rx), 30000, 0, 0), 21);
}

static void rx_checksum_completed(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 6, .payload = 777, .tcp_flags = F_ACK };
	size_t len = gso_frame(&s, 0, 0);

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, 10), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(send_frame(p->a, len), len);
		assert_int_equal(recv_segments(p->b, 10, i ? sizeof(rx) : 1000,
					       777, 0,
					       NETBE_VNET_HDR_F_DATA_VALID), 1);
	}
}

static void rx_batch_segments(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 6, .payload = 10000, .tcp_flags = F_ACK };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV4, 1000);
	static uint8_t bufs[16][1600];
	struct iovec v[16];
	struct netbe_msg m[16];
	int n;

	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, HDR), 0);
	assert_int_equal(send_frame(p->a, len), len);
	for (int i = 0; i < 16; i++) {
		v[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		m[i] = (struct netbe_msg){ .iov = &v[i], .iovcnt = 1 };
	}
	n = netbe_recv_batch(p->b, m, 16);
	assert_int_equal(n, 10);
	for (int i = 0; i < n; i++) {
		struct fseg g = fcheck(bufs[i] + HDR, m[i].len - HDR);

		assert_true(g.ok);
		assert_int_equal(g.seq, 1000u * (unsigned)i);
	}
}

/* A pipe that carries offloads no longer lets a bad header through
 * unchecked: the sender's header is checked on every path, the native
 * one too, so the mismatched frame is refused at A and B never sees it;
 * the good one behind it is segmented at B as usual. */
static void malformed_refused_on_native_path(void **state)
{
	struct pair *p = *state;
	struct fspec s = { .proto = 6, .payload = 3000, .tcp_flags = F_ACK };
	size_t len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV6, 1000);

	/* (No log check: drops are logged at most once a second, and
	 * tx_malformed_dropped just had this process's turn.) */
	assert_int_equal(netbe_set_cap(p->a, ALL_HOST, HDR), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, HDR), 0);
	assert_int_equal(send_frame(p->a, len), -EINVAL);
	assert_int_equal(drops(p->a, NETBE_TX, NETBE_DROP_BADHDR), 1);
	assert_int_equal(st(p->a).tx_drops, 1);
	assert_int_equal(st(p->a).tx_errors, 0);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	len = gso_frame(&s, NETBE_VNET_HDR_GSO_TCPV4, 1000);
	assert_int_equal(send_frame(p->a, len), len);
	assert_int_equal(recv_segments(p->b, HDR, 1600, 3000, 0,
				       NETBE_VNET_HDR_F_DATA_VALID), 3);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	assert_int_equal(st(p->a).tx_frames, 1);
	assert_int_equal(st(p->b).rx_frames, 3);
	assert_int_equal(st(p->b).rx_drops + st(p->b).rx_errors, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(caps_report_emulation, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(tx_tso4_segmented, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(tx_all_kinds_batch, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(tx_malformed_dropped, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(native_passthrough, setup_offl, teardown),
		cmocka_unit_test_setup_teardown(rx_segmented_small_buffers, setup_offl, teardown),
		cmocka_unit_test_setup_teardown(rx_segmented_big_buffer_no_header, setup_offl, teardown),
		cmocka_unit_test_setup_teardown(rx_checksum_completed, setup_offl, teardown),
		cmocka_unit_test_setup_teardown(rx_batch_segments, setup_offl, teardown),
		cmocka_unit_test_setup_teardown(malformed_refused_on_native_path, setup_offl, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
