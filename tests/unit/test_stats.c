/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-backend counters. */
#include "unit_util.h"
#include "../offload/frames.h"

#define PLAIN(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown_pair)

static void expect_zero(const netbe_t *be)
{
	struct netbe_stats st = stats_of(be), z = { 0 };

	assert_memory_equal(&st, &z, sizeof(st));
}

static void stats_start_at_zero(void **state)
{
	struct pair *p = *state;

	expect_zero(p->a);
	expect_zero(p->b);
}

static void stats_per_direction(void **state)
{
	struct pair *p = *state;
	uint8_t in[256];

	send_frame(p->a, 0, 60, 1);
	send_frame(p->a, 0, 100, 2);
	send_frame(p->a, 0, 14, 3);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), 60);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), 100);
	assert_int_equal(stats_of(p->a).tx_frames, 3);
	assert_int_equal(stats_of(p->a).tx_bytes, 174);
	assert_int_equal(stats_of(p->a).rx_frames, 0);
	assert_int_equal(stats_of(p->b).rx_frames, 2);
	assert_int_equal(stats_of(p->b).rx_bytes, 160);
	assert_int_equal(stats_of(p->b).tx_frames, 0);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), 14);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), 0);
	assert_int_equal(stats_of(p->b).rx_frames, 3);
	assert_int_equal(stats_of(p->b).rx_bytes, 174);
	assert_int_equal(stats_of(p->b).rx_drops + stats_of(p->b).rx_errors, 0);
}

/* Bytes include the frontend's header, on each side its own. */
static void stats_count_frontend_header(void **state)
{
	struct pair *p = *state;
	uint8_t in[256];

	assert_int_equal(netbe_set_cap(p->a, 0, 12), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, 10), 0);
	send_frame(p->a, 12, 60, 1);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), 70);
	assert_int_equal(stats_of(p->a).tx_bytes, 72);
	assert_int_equal(stats_of(p->b).rx_bytes, 70);
}

static void stats_discard(void **state)
{
	struct pair *p = *state;

	send_frame(p->a, 0, 80, 1);
	send_frame(p->a, 0, 90, 2);
	assert_int_equal(netbe_rx_discard(p->b), 80);
	assert_int_equal(netbe_rx_discard(p->b), 90);
	assert_int_equal(netbe_rx_discard(p->b), 0);
	assert_int_equal(stats_of(p->b).rx_drops, 2);
	assert_int_equal(stats_of(p->b).rx_frames, 0);
	assert_int_equal(stats_of(p->b).rx_bytes, 0);
	assert_int_equal(stats_of(p->b).rx_errors, 0);
}

static void stats_rx_nospc(void **state)
{
	struct pair *p = *state;
	uint8_t in[256];

	send_frame(p->a, 0, 80, 1);
	assert_int_equal(recv_buf(p->b, in, 79), -ENOSPC);
	assert_int_equal(stats_of(p->b).rx_drops, 1);
	assert_int_equal(stats_of(p->b).rx_frames, 0);
	assert_int_equal(stats_of(p->b).rx_errors, 0);
}

/* Malformed input is dropped with its reason; tx_errors is for backend
 * failures, which a pipe never has. */
static void stats_tx_malformed(void **state)
{
	struct pair *p = *state;
	/* A GSO frame that is no TCP/IP frame: refused as malformed. */
	struct netbe_vnet_hdr h = { .gso_type = NETBE_VNET_HDR_GSO_TCPV4,
				    .gso_size = 1000 };
	uint8_t out[128];

	assert_int_equal(send_buf(p->a, out, 13), -EINVAL);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_RUNT), 1);
	/* Not negotiated: refused whatever the frame. */
	assert_int_equal(netbe_set_cap(p->a, 0, 12), 0);
	assert_int_equal(send_buf(p->a, out, build(out, 12, &h, 60, 0)),
			 -EINVAL);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), 1);
	/* Negotiated (the engine does TSO4 for a pipe): the frame is bad. */
	assert_int_equal(netbe_set_cap(p->a, NETBE_F_HOST_TSO4, 12), 0);
	assert_int_equal(send_buf(p->a, out, build(out, 12, &h, 60, 0)),
			 -EINVAL);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), 2);
	assert_int_equal(stats_of(p->a).tx_drops, 3);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
	assert_int_equal(stats_of(p->a).tx_frames, 0);
	assert_int_equal(stats_of(p->a).tx_bytes, 0);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
}

/* A full pipe: -EAGAIN counts one tx drop per refused frame. */
static void stats_tx_full(void **state)
{
	struct pair *p = *state;
	static uint8_t out[1500];
	uint64_t sent = 0;
	ssize_t r;

	while ((r = send_buf(p->a, out, sizeof(out))) == sizeof(out))
		sent++;
	assert_int_equal(r, -EAGAIN);
	assert_true(sent > 0);
	assert_int_equal(send_buf(p->a, out, sizeof(out)), -EAGAIN);
	assert_int_equal(stats_of(p->a).tx_frames, sent);
	assert_int_equal(stats_of(p->a).tx_bytes, sent * sizeof(out));
	assert_int_equal(stats_of(p->a).tx_drops, 2);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_FULL), 2);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
}

static void stats_queue0(void **state)
{
	struct pair *p = *state;
	struct netbe_stats s0, s;

	send_frame(p->a, 0, 60, 1);
	assert_int_equal(netbe_get_nqueues(p->a), 1);
	assert_ptr_equal(netbe_get_queue(p->a, 0), p->a);
	assert_null(netbe_get_queue(p->a, 1));
	netbe_get_stats(netbe_get_queue(p->a, 0), &s0);
	netbe_get_stats(p->a, &s);
	assert_memory_equal(&s0, &s, sizeof(s));
	assert_int_equal(s0.tx_frames, 1);
}

/* The largest offloaded (GSO) frame is accepted and discarded whole; a
 * larger one is refused on send, offloads or not.  The largest is a real
 * TCP/IPv4 frame (its header is checked against it): one VLAN tag makes
 * NETBE_MAX_FRAME an IPv4 datagram of exactly 65535 bytes. */
static void discard_giant_gso_frame(void **state)
{
	struct pair *p = *state;
	size_t n = 12 + NETBE_MAX_FRAME;
	struct fspec fs = { .vlans = 1, .proto = 6, .tcp_flags = F_ACK,
			    .payload = NETBE_MAX_FRAME - 18 - 40, .seed = 3 };
	uint8_t *out = calloc(1, n + 1);
	struct flay l;
	struct netbe_vnet_hdr h;

	assert_non_null(out);
	l = fbuild(out + 12, &fs);
	assert_int_equal(l.len, NETBE_MAX_FRAME);
	h = fhdr(&fs, &l, NETBE_VNET_HDR_GSO_TCPV4, 1448);
	memcpy(out, &h, 12);
	assert_int_equal(netbe_set_cap(p->a, NETBE_OFFLOAD_MASK, 12), 0);
	assert_int_equal(netbe_set_cap(p->b, NETBE_OFFLOAD_MASK, 12), 0);
	assert_int_equal(send_buf(p->a, out, n + 1), -EMSGSIZE);
	assert_int_equal(send_buf(p->a, out, n), (ssize_t)n);
	free(out);
	assert_int_equal(netbe_peek_recvlen(p->b), (ssize_t)n);
	assert_int_equal(netbe_rx_discard(p->b), (ssize_t)n);
	assert_int_equal(stats_of(p->b).rx_drops, 1);
	assert_int_equal(drops_of(p->b, NETBE_RX, NETBE_DROP_DISCARD), 1);
	assert_int_equal(stats_of(p->b).rx_frames, 0);
	assert_int_equal(stats_of(p->a).tx_drops, 1);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_OVERSIZE), 1);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
	assert_int_equal(stats_of(p->a).tx_frames, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PLAIN(stats_start_at_zero),
		PLAIN(stats_per_direction),
		PLAIN(stats_count_frontend_header),
		PLAIN(stats_discard),
		PLAIN(stats_rx_nospc),
		PLAIN(stats_tx_malformed),
		PLAIN(stats_tx_full),
		PLAIN(stats_queue0),
		cmocka_unit_test_setup_teardown(discard_giant_gso_frame,
						setup_offload, teardown_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
