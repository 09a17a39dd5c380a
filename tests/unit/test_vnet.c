/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio-net header translation between frontend and backend lengths. */
#include "unit_util.h"

#define PLAIN(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown_pair)
#define OFFL(f) cmocka_unit_test_setup_teardown(f, setup_offload, teardown_pair)

#define FLEN 100

struct xlate {
	bool offload; /* wire header 12 (on) or 0 (off) */
	unsigned fa, fb; /* frontend header lengths on A and B */
	struct pair *p;
};

static int setup_xlate(void **state)
{
	struct xlate *x = *state;

	x->p = pair_open(x->offload);
	return 0;
}

static int teardown_xlate(void **state)
{
	struct xlate *x = *state;

	pair_close(x->p);
	return 0;
}

static void negotiate(netbe_t *be, bool offload, unsigned hlen)
{
	uint64_t f = offload && hlen ? NETBE_OFFLOAD_MASK : 0;

	assert_int_equal(netbe_set_cap(be, f, hlen), 0);
}

/* What A puts in its header; a plain wire cannot carry offloads. */
static struct netbe_vnet_hdr sent_hdr(bool offload)
{
	struct netbe_vnet_hdr h = {
		.flags = NETBE_VNET_HDR_F_NEEDS_CSUM,
		.gso_type = NETBE_VNET_HDR_GSO_TCPV4,
		.hdr_len = 54, .gso_size = 1448, .csum_start = 34,
		.csum_offset = 16, .num_buffers = 0x0707,
	};

	if (!offload) {
		h.flags = NETBE_VNET_HDR_F_DATA_VALID;
		h.gso_type = NETBE_VNET_HDR_GSO_NONE;
	}
	return h;
}

/* What B must see: fields copied when A and the wire have a header. */
static struct netbe_vnet_hdr want_hdr(const struct xlate *x)
{
	struct netbe_vnet_hdr h = sent_hdr(x->offload), z = { 0 };

	if (!x->offload || x->fa == 0)
		return z;
	h.num_buffers = 0;
	return h;
}

static void xlate_case(void **state)
{
	const struct xlate *x = *state;
	struct pair *p = x->p;
	struct netbe_vnet_hdr h = sent_hdr(x->offload), want = want_hdr(x);
	uint8_t out[256], in[256];
	size_t n = build(out, x->fa, &h, FLEN, 5);

	negotiate(p->a, x->offload, x->fa);
	negotiate(p->b, x->offload, x->fb);
	memset(in, 0xee, sizeof(in));
	assert_int_equal(send_buf(p->a, out, n), x->fa + FLEN);
	if (x->offload && x->fa && !x->fb) {
		/* A GSO frame for a frontend without a header must be
		 * segmented; this one is no TCP/IP frame: dropped, counted. */
		assert_int_equal(netbe_peek_recvlen(p->b), 0);
		assert_int_equal(stats_of(p->b).rx_errors, 1);
		assert_int_equal(stats_of(p->b).rx_frames, 0);
		return;
	}
	assert_int_equal(netbe_peek_recvlen(p->b), x->fb + FLEN);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), x->fb + FLEN);
	assert_memory_equal(in, &want, x->fb < 10 ? x->fb : 10);
	if (x->fb == 12 && (in[10] | in[11]))
		fail_msg("num_buffers 0x%02x%02x delivered, want 0", in[11],
			 in[10]);
	assert_true(frame_ok(in + x->fb, FLEN, 5));
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
}

#define XL(w, a, b)                                                          \
	{ "xlate_wire" #w "_a" #a "_b" #b, xlate_case, setup_xlate,          \
	  teardown_xlate, &(struct xlate){ w != 0, a, b, NULL } }

/* ---- receive into a small buffer --------------------------------------------- */

static void expect_nospc(netbe_t *b, size_t room)
{
	uint8_t in[256];

	assert_int_equal(recv_buf(b, in, room), -ENOSPC);
	assert_int_equal(stats_of(b).rx_drops, 1);
	assert_int_equal(stats_of(b).rx_frames, 0);
	/* The frame is gone. */
	assert_int_equal(netbe_peek_recvlen(b), 0);
}

static void recv_too_small_same_len(void **state)
{
	struct pair *p = *state;

	send_frame(p->a, 0, FLEN, 1);
	expect_nospc(p->b, FLEN - 1);
}

static void recv_too_small_translated(void **state)
{
	struct pair *p = *state;

	send_frame(p->a, 0, FLEN, 1);
	expect_nospc(p->b, FLEN - 1);
}

static void recv_too_small_for_header(void **state)
{
	struct pair *p = *state;

	negotiate(p->b, false, 12);
	send_frame(p->a, 0, FLEN, 1);
	expect_nospc(p->b, 8);
}

/* ---- frames the backend cannot carry ----------------------------------------- */

static void send_hdr(netbe_t *a, uint8_t flags, uint8_t gso, ssize_t want)
{
	struct netbe_vnet_hdr h = { .flags = flags, .gso_type = gso };
	uint8_t out[256];
	size_t n = build(out, 12, &h, FLEN, 2);

	assert_int_equal(send_buf(a, out, n), want);
}

/* The simple RFC 1071 sum of @n bytes (big-endian words). */
static uint16_t ref_csum(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* A plain wire cannot carry offloads: the library completes them in
 * software (tests/offload/ has the real frames); what it cannot make
 * sense of is refused as malformed. */
static void offload_to_plain_completed(void **state)
{
	struct pair *p = *state;
	uint8_t in[256];

	negotiate(p->a, false, 12);
	uint8_t orig[FLEN];
	uint16_t want;

	/* csum_start 0, csum_offset 0: the complemented sum of the whole
	 * frame (its first two bytes being the seed, as a pseudo-header sum
	 * is for TCP) replaces those two bytes. */
	build(orig, 0, NULL, FLEN, 2);
	want = (uint16_t)~ref_csum(orig, FLEN);
	send_hdr(p->a, NETBE_VNET_HDR_F_NEEDS_CSUM, 0, 12 + FLEN);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), FLEN);
	assert_int_equal(in[0] << 8 | in[1], want ? want : 0xffff);
	for (size_t i = 2; i < FLEN; i++)
		assert_int_equal(in[i], pat(2, i));
	send_hdr(p->a, 0, NETBE_VNET_HDR_GSO_TCPV4, -EINVAL);
	send_hdr(p->a, 0, NETBE_VNET_HDR_GSO_UDP_L4, -EINVAL);
	assert_int_equal(stats_of(p->a).tx_errors, 2);
	assert_int_equal(stats_of(p->a).tx_frames, 1);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	send_hdr(p->a, NETBE_VNET_HDR_F_DATA_VALID, 0, 12 + FLEN);
	assert_int_equal(netbe_peek_recvlen(p->b), FLEN);
}

static void runt_refused(void **state)
{
	struct pair *p = *state;
	uint8_t out[64];

	negotiate(p->a, false, 12);
	assert_int_equal(send_buf(p->a, out, build(out, 12, NULL, 13, 0)),
			 -EINVAL);
	assert_int_equal(send_buf(p->a, out, 11), -EINVAL);
	negotiate(p->a, false, 0);
	assert_int_equal(send_buf(p->a, out, 13), -EINVAL);
	assert_int_equal(send_buf(p->a, out, 0), -EINVAL);
	assert_int_equal(stats_of(p->a).tx_errors, 4);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	assert_int_equal(send_buf(p->a, out, 14), 14);
	assert_int_equal(netbe_peek_recvlen(p->b), 14);
}

static void runt_refused_translated(void **state)
{
	struct pair *p = *state;
	uint8_t out[64];

	negotiate(p->a, true, 10);
	assert_int_equal(send_buf(p->a, out, build(out, 10, NULL, 13, 0)),
			 -EINVAL);
	assert_int_equal(stats_of(p->a).tx_errors, 1);
	assert_int_equal(send_buf(p->a, out, build(out, 10, NULL, 14, 0)), 24);
}

/* ---- scatter-gather with the header split across entries ---------------------- */

static void sg_split_header(void **state)
{
	struct pair *p = *state;
	bool offload = netbe_get_vnet_hdr_len(p->a) == 12;
	struct netbe_vnet_hdr h = sent_hdr(offload), want = { 0 };
	uint8_t out[256], in[256] = { 0 };
	size_t n = build(out, 12, &h, FLEN, 9);
	struct iovec tx[3] = { { out, 5 }, { out + 5, 10 }, { out + 15, n - 15 } };
	struct iovec rx[4] = { { in, 3 }, { in + 3, 4 }, { in + 7, 6 },
			       { in + 13, sizeof(in) - 13 } };

	if (offload)
		memcpy(&want, &h, 10);
	negotiate(p->a, offload, 12);
	negotiate(p->b, offload, 10);
	assert_int_equal(netbe_send(p->a, tx, 3), 12 + FLEN);
	assert_int_equal(netbe_recv(p->b, rx, 4), 10 + FLEN);
	assert_memory_equal(in, &want, 10);
	assert_true(frame_ok(in + 10, FLEN, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		XL(0, 0, 0), XL(0, 0, 10), XL(0, 0, 12),
		XL(0, 10, 0), XL(0, 10, 10), XL(0, 10, 12),
		XL(0, 12, 0), XL(0, 12, 10), XL(0, 12, 12),
		XL(12, 0, 0), XL(12, 0, 10), XL(12, 0, 12),
		XL(12, 10, 0), XL(12, 10, 10), XL(12, 10, 12),
		XL(12, 12, 0), XL(12, 12, 10), XL(12, 12, 12),
		PLAIN(recv_too_small_same_len),
		OFFL(recv_too_small_translated),
		PLAIN(recv_too_small_for_header),
		PLAIN(offload_to_plain_completed),
		PLAIN(runt_refused),
		OFFL(runt_refused_translated),
		PLAIN(sg_split_header),
		OFFL(sg_split_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
