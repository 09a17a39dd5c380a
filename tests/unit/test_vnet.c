/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio-net header translation between frontend and backend lengths. */
#include "unit_util.h"
#include "../offload/frames.h"

#define PLAIN(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown_pair)
#define OFFL(f) cmocka_unit_test_setup_teardown(f, setup_offload, teardown_pair)

#define FLEN 100

/*
 * The frame of every xlate case and of sg_split_header: a real TCP/IPv4
 * frame of FLEN bytes (54 of headers), because the header A sends with
 * offloads on asks for TSO and a checksum, and the library checks such a
 * header against the frame on every path, the native one included.
 */
static const struct fspec tcp_spec = {
	.proto = 6, .payload = FLEN - 54, .tcp_flags = F_ACK | F_PSH,
	.seq = 1000, .ip_id = 7, .seed = 5,
};

static struct flay tcp_frame(uint8_t *f)
{
	struct flay l = fbuild(f, &tcp_spec);

	assert_int_equal(l.len, FLEN);
	return l;
}

/* Writes @hlen bytes of @h, then the FLEN bytes of @f. */
static size_t put_frame(uint8_t *buf, unsigned hlen,
			const struct netbe_vnet_hdr *h, const uint8_t *f)
{
	memcpy(buf, h, hlen);
	memcpy(buf + hlen, f, FLEN);
	return hlen + FLEN;
}

/* @f with its TCP checksum completed, worked out here independently of
 * the engine (the field holds the pseudo-header sum, as fbuild leaves it). */
static void complete_csum(uint8_t *f, const struct flay *l)
{
	uint32_t s;

	put16(f + l->l4 + 16, 0);
	s = ref_sum(f + l->l4, FLEN - l->l4,
		    ref_pseudo(f + l->l3, false, 6, FLEN - l->l4));
	put16(f + l->l4 + 16, ~s & 0xffff);
}

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

/* What A puts in its header (for the frame of tcp_frame); a plain wire
 * cannot carry offloads. */
static struct netbe_vnet_hdr sent_hdr(bool offload)
{
	uint8_t f[FLEN];
	struct flay l = tcp_frame(f);
	struct netbe_vnet_hdr h = fhdr(&tcp_spec, &l,
				       NETBE_VNET_HDR_GSO_TCPV4, 1448);

	h.num_buffers = 0x0707;
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

/*
 * A GSO frame for a frontend without a header (B) must be finished in
 * software: it fits one segment, so B gets the frame as sent with its
 * checksum completed, and a zero header would say nothing more.
 */
static bool completed_by_engine(const struct xlate *x)
{
	return x->offload && x->fa && !x->fb;
}

static void xlate_case(void **state)
{
	const struct xlate *x = *state;
	struct pair *p = x->p;
	struct netbe_vnet_hdr h = sent_hdr(x->offload), want = want_hdr(x);
	uint8_t frame[FLEN], out[256], in[256];
	struct flay l = tcp_frame(frame);
	size_t n = put_frame(out, x->fa, &h, frame);

	negotiate(p->a, x->offload, x->fa);
	negotiate(p->b, x->offload, x->fb);
	memset(in, 0xee, sizeof(in));
	assert_int_equal(send_buf(p->a, out, n), x->fa + FLEN);
	if (completed_by_engine(x))
		complete_csum(frame, &l);
	assert_int_equal(netbe_peek_recvlen(p->b), x->fb + FLEN);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), x->fb + FLEN);
	assert_memory_equal(in, &want, x->fb < 10 ? x->fb : 10);
	if (x->fb == 12 && (in[10] | in[11]))
		fail_msg("num_buffers 0x%02x%02x delivered, want 0", in[11],
			 in[10]);
	assert_memory_equal(in + x->fb, frame, FLEN);
	assert_true(!completed_by_engine(x) || fcheck(in, FLEN).ok);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	assert_int_equal(stats_of(p->b).rx_frames, 1);
	assert_int_equal(stats_of(p->b).rx_drops + stats_of(p->b).rx_errors, 0);
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

/* A plain wire cannot carry offloads: the library completes what A
 * negotiated in software (tests/offload/ has the real frames); what it
 * cannot make sense of, or what A never negotiated, is refused and
 * counted as a bad-header drop. */
static void offload_to_plain_completed(void **state)
{
	struct pair *p = *state;
	uint8_t in[256];

	/* Within netbe_get_cap(): the engine's CSUM, TSO4 and USO. */
	assert_int_equal(netbe_set_cap(p->a, NETBE_F_CSUM | NETBE_F_HOST_TSO4 |
					   NETBE_F_HOST_USO, 12), 0);
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
	/* GSO on a frame that is no TCP/UDP frame (and gso_size 0). */
	send_hdr(p->a, 0, NETBE_VNET_HDR_GSO_TCPV4, -EINVAL);
	send_hdr(p->a, 0, NETBE_VNET_HDR_GSO_UDP_L4, -EINVAL);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), 2);
	assert_int_equal(stats_of(p->a).tx_drops, 2);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
	assert_int_equal(stats_of(p->a).tx_frames, 1);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	/* A checksum A did not negotiate, on a frame it would fit. */
	assert_int_equal(netbe_set_cap(p->a, 0, 12), 0);
	send_hdr(p->a, NETBE_VNET_HDR_F_NEEDS_CSUM, 0, -EINVAL);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), 3);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	send_hdr(p->a, NETBE_VNET_HDR_F_DATA_VALID, 0, 12 + FLEN);
	assert_int_equal(netbe_peek_recvlen(p->b), FLEN);
	assert_int_equal(stats_of(p->a).tx_frames, 2);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
}

/* Runts are drops with their reason, not errors: the input was bad, the
 * backend did not fail. */
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
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_RUNT), 4);
	assert_int_equal(stats_of(p->a).tx_drops, 4);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
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
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_RUNT), 1);
	assert_int_equal(stats_of(p->a).tx_drops, 1);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
	assert_int_equal(send_buf(p->a, out, build(out, 10, NULL, 14, 0)), 24);
}

/* ---- scatter-gather with the header split across entries ---------------------- */

static void sg_split_header(void **state)
{
	struct pair *p = *state;
	bool offload = netbe_get_vnet_hdr_len(p->a) == 12;
	struct netbe_vnet_hdr h = sent_hdr(offload), want = { 0 };
	uint8_t frame[FLEN], out[256], in[256] = { 0 };
	size_t n;
	struct iovec tx[3], rx[4] = { { in, 3 }, { in + 3, 4 }, { in + 7, 6 },
				      { in + 13, sizeof(in) - 13 } };

	tcp_frame(frame);
	n = put_frame(out, 12, &h, frame);
	tx[0] = (struct iovec){ out, 5 };
	tx[1] = (struct iovec){ out + 5, 10 };
	tx[2] = (struct iovec){ out + 15, n - 15 };
	if (offload)
		memcpy(&want, &h, 10);
	negotiate(p->a, offload, 12);
	negotiate(p->b, offload, 10);
	assert_int_equal(netbe_send(p->a, tx, 3), 12 + FLEN);
	assert_int_equal(netbe_recv(p->b, rx, 4), 10 + FLEN);
	assert_memory_equal(in, &want, 10);
	assert_memory_equal(in + 10, frame, FLEN);
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
