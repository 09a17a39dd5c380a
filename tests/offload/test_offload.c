/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The software offload engine (src/offload.c) on hand-built frames, and on
 * frames captured from Linux: checksums against a simple reference, TSO4/6
 * with VLAN and QinQ tags, TCP flags and ECN, UFO fragments, USO, scatter
 * input, batching, and every reason a frame is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "frames.h"
#include "offload.h"

#define MAXF (NETBE_MAX_FRAME + 64)
#define MAXSEGS 2048

static uint8_t frame[MAXF];

/* ---- collecting the engine's output ---------------------------------------- */

struct coll {
	int n;
	size_t len[MAXSEGS];
	uint8_t *seg[MAXSEGS];
	int calls;
	int accept_max;	 /* per call; 0: all */
	int fail_after;	 /* segments; then -EAGAIN; <0 never */
	size_t pre_len;
};

static int coll_emit(void *arg, struct netbe_msg *msgs, int n)
{
	struct coll *c = arg;
	int take = n;

	c->calls++;
	if (c->fail_after >= 0 && c->n >= c->fail_after)
		return -EAGAIN;
	if (c->accept_max && take > c->accept_max)
		take = c->accept_max;
	for (int i = 0; i < take; i++) {
		size_t len = 0;
		uint8_t *p;

		for (int k = 0; k < msgs[i].iovcnt; k++)
			len += msgs[i].iov[k].iov_len;
		p = malloc(len);
		assert_non_null(p);
		len = 0;
		for (int k = 0; k < msgs[i].iovcnt; k++) {
			memcpy(p + len, msgs[i].iov[k].iov_base,
			       msgs[i].iov[k].iov_len);
			len += msgs[i].iov[k].iov_len;
		}
		assert_true(c->n < MAXSEGS);
		c->seg[c->n] = p;
		c->len[c->n++] = len;
	}
	return take;
}

static void coll_free(struct coll *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->seg[i]);
	c->n = 0;
}

struct outbuf {
	struct netbe__offl_out o;
	struct netbe_msg msgs[64];
	struct iovec iov[NETBE_MAX_FRAME / 16 + 2048];
	uint8_t arena[64 * 300];
};

static struct outbuf ob;

static void out_init(int msgs_cap)
{
	ob.o = (struct netbe__offl_out){
		.arena = ob.arena, .arena_cap = sizeof(ob.arena),
		.msgs = ob.msgs, .msgs_cap = msgs_cap,
		.iov = ob.iov, .iov_cap = (int)(sizeof(ob.iov) / sizeof(ob.iov[0])),
	};
}

/* Splits @buf into pieces of pseudo-random sizes (1..max). */
static int split(uint8_t *buf, size_t len, struct iovec *iov, int max_iov,
		 size_t max_piece, unsigned seed)
{
	size_t off = 0;
	int n = 0;

	srand(seed);
	while (off < len && n < max_iov - 1) {
		size_t k = 1 + (size_t)rand() % max_piece;

		if (k > len - off)
			k = len - off;
		iov[n++] = (struct iovec){ buf + off, k };
		off += k;
	}
	if (off < len)
		iov[n++] = (struct iovec){ buf + off, len - off };
	return n;
}

/* Parses and emits @len bytes of frame[] as @iovcnt pieces (1: flat). */
static int run(const struct netbe_vnet_hdr *h, size_t len, struct coll *c,
	       int pieces_max, struct netbe__offl_frame *f)
{
	static struct iovec in[2048];
	int n = 1, r;

	in[0] = (struct iovec){ frame, len };
	if (pieces_max > 1)
		n = split(frame, len, in, 2048, (size_t)pieces_max, 42);
	r = netbe__offl_parse(h, in, n, len, f);
	if (r)
		return -1000 - r;
	c->fail_after = c->fail_after ? c->fail_after : -1;
	return netbe__offl_emit(f, in, n, &ob.o, coll_emit, c);
}

/* Every output frame passes the checker; returns the total payload. */
static size_t check_all(struct coll *c)
{
	size_t total = 0;

	for (int i = 0; i < c->n; i++) {
		struct fseg g = fcheck(c->seg[i] + c->pre_len,
				       c->len[i] - c->pre_len);

		if (!g.ok)
			fail_msg("segment %d of %d: %s", i, c->n, g.why);
		total += g.paylen;
	}
	return total;
}

/* ---- checksums ------------------------------------------------------------- */

static uint16_t engine_be(uint64_t sum)
{
	uint16_t v = netbe__csum_fold(sum);
	uint8_t b[2];

	memcpy(b, &v, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void csum_matches_reference(void **state)
{
	static uint8_t buf[3000];

	(void)state;
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 300; len++)
			assert_int_equal(engine_be(netbe__csum_add(0, buf + off, len)),
					 ref_sum(buf + off, len, 0));
	memset(buf, 0xff, sizeof(buf)); /* carries everywhere */
	assert_int_equal(engine_be(netbe__csum_add(0, buf, sizeof(buf))),
			 ref_sum(buf, sizeof(buf), 0));
}

static void csum_iov_odd_pieces(void **state)
{
	static uint8_t buf[5000];
	struct iovec iov[600];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 151 + 7);
	for (unsigned seed = 1; seed < 40; seed++) {
		int n = split(buf, sizeof(buf), iov, 600, 1 + seed % 13, seed);

		for (size_t off = 0; off < 5; off++)
			assert_int_equal(engine_be(netbe__csum_iov(0, iov, n, off,
							sizeof(buf) - off - seed)),
					 ref_sum(buf + off, sizeof(buf) - off - seed, 0));
	}
}

/* ---- checksum only ----------------------------------------------------------- */

static void csum_case(const struct fspec *s, int pieces)
{
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, s);
	struct netbe_vnet_hdr h = fhdr(s, &l, NETBE_VNET_HDR_GSO_NONE, 0);
	static uint8_t copy[MAXF];

	memcpy(copy, frame, l.len);
	out_init(64);
	assert_int_equal(run(&h, l.len, &c, pieces, &f), 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], l.len);
	check_all(&c);
	/* Only the checksum differs, and the caller's frame is untouched. */
	assert_memory_equal(c.seg[0], copy, l.l4 + (s->proto == 6 ? 16 : 6));
	assert_memory_equal(c.seg[0] + l.l4 + (s->proto == 6 ? 18 : 8),
			    copy + l.l4 + (s->proto == 6 ? 18 : 8),
			    l.len - l.l4 - (s->proto == 6 ? 18 : 8));
	assert_memory_equal(frame, copy, l.len);
	coll_free(&c);
}

static void csum_v4_tcp(void **state)
{
	struct fspec s = { .proto = 6, .payload = 1000, .tcp_flags = F_ACK };

	(void)state;
	csum_case(&s, 1);
	s.payload = 1001; /* odd */
	csum_case(&s, 7);
	s.payload = 0;
	csum_case(&s, 3);
}

static void csum_v6_udp_vlan(void **state)
{
	struct fspec s = { .v6 = true, .proto = 17, .payload = 333, .vlans = 1 };

	(void)state;
	csum_case(&s, 1);
	s.vlans = 2;
	csum_case(&s, 5);
	s.v6_ext = 16;
	csum_case(&s, 2);
}

/* A UDP checksum that comes out 0 is sent as 0xffff. */
static void csum_udp_zero_is_ffff(void **state)
{
	struct fspec s = { .proto = 17, .payload = 2 };
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l;
	struct netbe_vnet_hdr h;
	uint32_t rest;

	(void)state;
	l = fbuild(frame, &s);
	/* Pick the 2 payload bytes so that everything sums to 0xffff. */
	frame[l.hlen] = frame[l.hlen + 1] = 0;
	rest = ref_sum(frame + l.l4, l.len - l.l4, 0);
	put16(frame + l.hlen, (~rest) & 0xffff);
	h = fhdr(&s, &l, 0, 0);
	out_init(64);
	assert_int_equal(run(&h, l.len, &c, 1, &f), 1);
	assert_int_equal(get16(c.seg[0] + l.l4 + 6), 0xffff);
	check_all(&c);
	coll_free(&c);
}

/*
 * Frames captured from Linux 6.18 (dumpcap on a veth whose peer had tx
 * checksumming off; tshark confirms the checksums): an IPv4 TCP SYN with
 * options and an IPv6 UDP datagram of odd length.  Their checksum
 * fields are replaced by the pseudo-header sum as a guest would leave
 * them; the engine must give back exactly the captured value.
 */
static const uint8_t cap_tcp4[] = {
	0xc6, 0x2e, 0x5e, 0x0b, 0xe9, 0x01, 0xd2, 0x35, 0xff, 0xae, 0xb9, 0x9e,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0xf7, 0x76, 0x40, 0x00, 0x40, 0x06,
	0xbf, 0x41, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0xdd, 0x3e,
	0x13, 0x89, 0x0f, 0xd2, 0xbb, 0x93, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
	0xfa, 0xf0, 0xbd, 0xf2, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
	0x08, 0x0a, 0xe2, 0xfc, 0x6b, 0xeb, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03,
	0x03, 0x0a,
};

static const uint8_t cap_udp6[] = {
	0xc6, 0x2e, 0x5e, 0x0b, 0xe9, 0x01, 0xd2, 0x35, 0xff, 0xae, 0xb9, 0x9e,
	0x86, 0xdd, 0x60, 0x03, 0x75, 0x10, 0x00, 0x15, 0x11, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9e, 0x84, 0x13, 0x8a, 0x00, 0x15,
	0x48, 0x79, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2d, 0x75, 0x64, 0x70, 0x2d,
	0x76, 0x36, 0x0a,
};

static void captured_case(const uint8_t *cap, size_t len, size_t l3, bool v6,
			  uint8_t proto, size_t l4, unsigned off)
{
	struct netbe_vnet_hdr h = {
		.flags = NETBE_VNET_HDR_F_NEEDS_CSUM,
		.csum_start = (uint16_t)l4, .csum_offset = (uint16_t)off,
	};
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	unsigned want = get16(cap + l4 + off);

	memcpy(frame, cap, len);
	put16(frame + l4 + off, ref_pseudo(frame + l3, v6, proto, len - l4));
	out_init(64);
	assert_int_equal(run(&h, len, &c, 3, &f), 1);
	assert_int_equal(get16(c.seg[0] + l4 + off), want);
	assert_memory_equal(c.seg[0], cap, len);
	coll_free(&c);
}

static void csum_captured(void **state)
{
	(void)state;
	captured_case(cap_tcp4, sizeof(cap_tcp4), 14, false, 6, 34, 16);
	captured_case(cap_udp6, sizeof(cap_udp6), 14, true, 17, 54, 6);
}

/* ---- TSO ---------------------------------------------------------------------- */

/* Segments a frame and checks every segment against the original. */
static void tso_case(const struct fspec *s, unsigned mss, uint8_t gso,
		     int pieces)
{
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, s);
	struct netbe_vnet_hdr h = fhdr(s, &l, gso, mss);
	unsigned want = (unsigned)((s->payload + mss - 1) / mss);
	size_t off = 0;

	out_init(64);
	assert_int_equal(run(&h, l.len, &c, pieces, &f), (int)want);
	assert_int_equal(c.n, (int)want);
	assert_int_equal(check_all(&c), s->payload);
	for (int i = 0; i < c.n; i++) {
		struct fseg g = fcheck(c.seg[i], c.len[i]);
		uint8_t fl = s->tcp_flags;

		if (i + 1 < c.n)
			fl &= (uint8_t)~(F_FIN | F_PSH);
		if (i > 0)
			fl &= (uint8_t)~F_CWR;
		assert_int_equal(g.seq, (uint32_t)(s->seq + off));
		assert_int_equal(g.flags, fl);
		assert_int_equal(g.pay, l.hlen);
		assert_true(g.paylen == mss || (i + 1 == c.n && g.paylen <= mss));
		if (!s->v6)
			assert_int_equal(g.ip_id, (uint16_t)(s->ip_id + i));
		/* Headers other than the fixed fields are the original's. */
		assert_memory_equal(c.seg[i], frame, l.l3);
		for (size_t k = 0; k < g.paylen; k++)
			if (c.seg[i][g.pay + k] != fpat(s->seed, off + k))
				fail_msg("segment %d payload byte %zu", i, k);
		off += g.paylen;
	}
	coll_free(&c);
}

static void tso4_64k(void **state)
{
	struct fspec s = { .proto = 6, .payload = 65000, .seq = 0xfffff000u,
			   .ip_id = 0xfff0,
			   .tcp_flags = F_ACK | F_PSH | F_FIN | F_CWR };

	(void)state;
	tso_case(&s, 1448, NETBE_VNET_HDR_GSO_TCPV4, 1);
	tso_case(&s, 1448, NETBE_VNET_HDR_GSO_TCPV4 | NETBE_VNET_HDR_GSO_ECN, 1);
}

static void tso4_scatter_and_options(void **state)
{
	struct fspec s = { .proto = 6, .payload = 20000, .seq = 5,
			   .tcp_opts = 12, .tcp_flags = F_ACK | F_PSH,
			   .seed = 3 };

	(void)state;
	tso_case(&s, 1000, NETBE_VNET_HDR_GSO_TCPV4, 4096); /* pages-ish */
	tso_case(&s, 1000, NETBE_VNET_HDR_GSO_TCPV4, 97);
	tso_case(&s, 1001, NETBE_VNET_HDR_GSO_TCPV4, 7); /* odd MSS */
	s.payload = 3;
	tso_case(&s, 1, NETBE_VNET_HDR_GSO_TCPV4, 2);
}

static void tso6_vlan_qinq(void **state)
{
	struct fspec s = { .v6 = true, .proto = 6, .payload = 40000,
			   .vlans = 1, .tcp_flags = F_ACK | F_FIN | F_CWR,
			   .seq = 99 };

	(void)state;
	tso_case(&s, 1428, NETBE_VNET_HDR_GSO_TCPV6, 1);
	s.vlans = 2;
	tso_case(&s, 1428, NETBE_VNET_HDR_GSO_TCPV6 | NETBE_VNET_HDR_GSO_ECN, 300);
	s.v6_ext = 24;
	tso_case(&s, 1200, NETBE_VNET_HDR_GSO_TCPV6, 1);
}

/* One segment's worth: a GSO frame that needs no cutting. */
static void tso_single_segment(void **state)
{
	struct fspec s = { .proto = 6, .payload = 500,
			   .tcp_flags = F_ACK | F_PSH };

	(void)state;
	tso_case(&s, 1448, NETBE_VNET_HDR_GSO_TCPV4, 1);
}

/* hdr_len is a hint: Linux guests send their linear length there. */
static void tso_hdr_len_hint(void **state)
{
	struct fspec s = { .proto = 6, .payload = 5000, .tcp_flags = F_ACK };
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, &s);
	struct netbe_vnet_hdr h = fhdr(&s, &l, NETBE_VNET_HDR_GSO_TCPV4, 1000);

	(void)state;
	out_init(64);
	h.hdr_len = 1500;
	assert_int_equal(run(&h, l.len, &c, 1, &f), 5);
	assert_int_equal(check_all(&c), 5000);
	coll_free(&c);
	h.hdr_len = 10;
	h.flags = 0; /* checksums are computed either way */
	assert_int_equal(run(&h, l.len, &c, 1, &f), 5);
	assert_int_equal(check_all(&c), 5000);
	coll_free(&c);
}

/* ---- UFO and USO ------------------------------------------------------------- */

static void ufo_case(const struct fspec *s, unsigned gso_size, int pieces)
{
	static uint8_t dgram[70000];
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, s);
	struct netbe_vnet_hdr h = fhdr(s, &l, NETBE_VNET_HDR_GSO_UDP, gso_size);
	size_t dlen = l.len - l.l4, got = 0, fs = gso_size & ~7u;
	unsigned n = (unsigned)((dlen + fs - 1) / fs);
	uint32_t id = 0;

	out_init(64);
	assert_int_equal(run(&h, l.len, &c, pieces, &f), (int)n);
	assert_int_equal(check_all(&c), dlen);
	for (int i = 0; i < c.n; i++) {
		struct fseg g = fcheck(c.seg[i], c.len[i]);

		assert_true(g.frag);
		assert_int_equal(g.frag_off, got);
		assert_int_equal(g.mf, i + 1 < c.n);
		assert_true(g.paylen == fs || i + 1 == c.n);
		if (s->v6) {
			if (i == 0)
				id = g.frag_id;
			assert_int_equal(g.frag_id, id);
		} else {
			assert_int_equal(g.ip_id, s->ip_id);
		}
		memcpy(dgram + got, c.seg[i] + g.pay, g.paylen);
		got += g.paylen;
	}
	/* Reassembled: the UDP datagram with a valid checksum. */
	assert_int_equal(get16(dgram + 4), dlen);
	assert_int_equal(ref_sum(dgram, dlen, ref_pseudo(frame + l.l3, s->v6, 17,
							 dlen)), 0xffff);
	assert_memory_equal(dgram + 8, frame + l.hlen, s->payload);
	coll_free(&c);
}

static void ufo4(void **state)
{
	struct fspec s = { .proto = 17, .payload = 8000, .ip_id = 4242,
			   .seed = 5 };

	(void)state;
	ufo_case(&s, 1480, 1);
	ufo_case(&s, 1473, 33); /* rounded down to 1472 */
	s.vlans = 2;
	s.payload = 65000;
	ufo_case(&s, 1480, 4096);
}

static void ufo6(void **state)
{
	struct fspec s = { .v6 = true, .proto = 17, .payload = 9000,
			   .vlans = 1 };

	(void)state;
	ufo_case(&s, 1448, 1);
	ufo_case(&s, 1448, 17);
}

/* A UFO frame that fits in one fragment is sent unfragmented. */
static void ufo_fits(void **state)
{
	struct fspec s = { .proto = 17, .payload = 1000 };
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, &s);
	struct netbe_vnet_hdr h = fhdr(&s, &l, NETBE_VNET_HDR_GSO_UDP, 1480);

	(void)state;
	out_init(64);
	assert_int_equal(run(&h, l.len, &c, 1, &f), 1);
	assert_int_equal(c.len[0], l.len);
	assert_false(fcheck(c.seg[0], c.len[0]).frag);
	assert_int_equal(check_all(&c), 1000);
	coll_free(&c);
}

static void uso_case(const struct fspec *s, unsigned mss, int pieces)
{
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, s);
	struct netbe_vnet_hdr h = fhdr(s, &l, NETBE_VNET_HDR_GSO_UDP_L4, mss);
	unsigned n = (unsigned)((s->payload + mss - 1) / mss);
	size_t off = 0;

	out_init(64);
	assert_int_equal(run(&h, l.len, &c, pieces, &f), (int)n);
	assert_int_equal(check_all(&c), s->payload);
	for (int i = 0; i < c.n; i++) {
		struct fseg g = fcheck(c.seg[i], c.len[i]);

		assert_false(g.frag);
		for (size_t k = 0; k < g.paylen; k++)
			if (c.seg[i][g.pay + k] != fpat(s->seed, off + k))
				fail_msg("datagram %d byte %zu", i, k);
		off += g.paylen;
	}
	coll_free(&c);
}

static void uso4_uso6(void **state)
{
	struct fspec s = { .proto = 17, .payload = 30000, .ip_id = 1 };

	(void)state;
	uso_case(&s, 1472, 1);
	uso_case(&s, 1471, 50);
	s.v6 = true;
	s.vlans = 2;
	uso_case(&s, 1232, 1);
	uso_case(&s, 1232, 4096);
}

/* ---- batching and a full backend ---------------------------------------------- */

static void batching_and_partial(void **state)
{
	struct fspec s = { .proto = 6, .payload = 14480, .tcp_flags = F_ACK };
	struct netbe__offl_frame f;
	struct coll c = { 0 };
	struct flay l = fbuild(frame, &s);
	struct netbe_vnet_hdr h = fhdr(&s, &l, NETBE_VNET_HDR_GSO_TCPV4, 1448);
	static const uint8_t pre[12] = { 0xaa };

	(void)state;
	out_init(3); /* 10 segments in batches of 3 */
	ob.o.pre = pre;
	ob.o.pre_len = c.pre_len = sizeof(pre);
	assert_int_equal(run(&h, l.len, &c, 1, &f), 10);
	assert_int_equal(c.calls, 4);
	assert_int_equal(check_all(&c), 14480);
	for (int i = 0; i < c.n; i++)
		assert_memory_equal(c.seg[i], pre, sizeof(pre));
	coll_free(&c);
	ob.o.pre_len = c.pre_len = 0;

	c = (struct coll){ .accept_max = 2 }; /* backend fills up */
	assert_int_equal(run(&h, l.len, &c, 1, &f), 2);
	assert_int_equal(c.calls, 1);
	coll_free(&c);
	c = (struct coll){ .fail_after = 6 };
	assert_int_equal(run(&h, l.len, &c, 1, &f), 6);
	coll_free(&c);
	c = (struct coll){ .fail_after = 0, .accept_max = 0 };
	c.fail_after = 0;
	out_init(64);
	{
		struct iovec in = { frame, l.len };

		c.fail_after = 0;
		assert_int_equal(netbe__offl_parse(&h, &in, 1, l.len, &f), 0);
		c.fail_after = 0; /* full from the start */
		c.n = 0;
		c.fail_after = 0;
		assert_int_equal(netbe__offl_emit(&f, &in, 1, &ob.o, coll_emit,
						  &(struct coll){ .fail_after = 0 }),
				 -EAGAIN);
	}
	out_init(0);
	{
		struct iovec in = { frame, l.len };

		assert_int_equal(netbe__offl_emit(&f, &in, 1, &ob.o, coll_emit, &c),
				 -E2BIG);
	}
}

/* ---- validation ------------------------------------------------------------------ */

struct bad {
	const char *name;
	int want;
	void (*mutate)(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		       const struct flay *l);
	struct fspec s;
	uint8_t gso;
	unsigned mss;
};

static void m_gso0(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->gso_size = 0;
}

static void m_hdrlen(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		     const struct flay *l)
{
	(void)fr; (void)l;
	h->hdr_len = (uint16_t)(*len + 1);
}

static void m_cstart(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		     const struct flay *l)
{
	(void)fr; (void)l;
	h->csum_start = (uint16_t)*len;
}

static void m_coff(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)fr;
	h->csum_offset = (uint16_t)(*len - l->l4 - 1);
}

static void m_coff_huge(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
			const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->csum_start = 0xffff;
	h->csum_offset = 0xffff;
}

static void m_arp(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		  const struct flay *l)
{
	(void)len; (void)h;
	put16(fr + l->l3 - 2, 0x0806);
}

static void m_vlan5(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		    const struct flay *l)
{
	(void)len; (void)h; (void)l;
	for (int i = 0; i < 5; i++)
		put16(fr + 12 + 4 * i, 0x8100);
}

static void m_trunc_ip(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		       const struct flay *l)
{
	(void)fr;
	*len = l->l3 + 10;
	h->flags = 0; /* only the truncation is tested */
	h->hdr_len = 0;
}

static void m_ihl(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		  const struct flay *l)
{
	(void)len; (void)h;
	fr[l->l3] = 0x44;
}

static void m_ihl_long(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		       const struct flay *l)
{
	fr[l->l3] = 0x4f;
	*len = l->l3 + 40;
	h->flags = 0; /* only the truncation is tested */
	h->hdr_len = 0;
}

static void m_ipver(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		    const struct flay *l)
{
	(void)len; (void)h;
	fr[l->l3] = 0x65;
}

static void m_frag(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)len; (void)h;
	put16(fr + l->l3 + 6, 0x2000);
}

static void m_v6frag(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		     const struct flay *l)
{
	(void)len; (void)h;
	fr[l->l3 + 6] = 44;
}

static void m_doff(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)len; (void)h;
	fr[l->l4 + 12] = 0x40;
}

static void m_doff_long(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
			const struct flay *l)
{
	fr[l->l4 + 12] = 0xf0;
	*len = l->l4 + 40;
	h->flags = 0; /* only the truncation is tested */
	h->hdr_len = 0;
}

static void m_trunc_tcp(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
			const struct flay *l)
{
	(void)fr;
	*len = l->l4 + 10;
	h->flags = 0; /* only the truncation is tested */
	h->hdr_len = 0;
}

static void m_empty(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		    const struct flay *l)
{
	(void)fr;
	*len = l->hlen;
	h->flags = 0; /* only the truncation is tested */
	h->hdr_len = 0;
}

static void m_mss1(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->gso_size = 1;
}

static void m_type(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->gso_type = 2;
}

static void m_ecn_udp(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		      const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->gso_type |= NETBE_VNET_HDR_GSO_ECN;
}

static void m_ecn_none(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		       const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->gso_type = NETBE_VNET_HDR_GSO_ECN;
}

static void m_nothing(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		      const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->flags = 0;
	h->gso_type = 0;
}

static void m_ufo_small(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
			const struct flay *l)
{
	(void)fr; (void)len; (void)l;
	h->gso_size = 7;
}

static void m_none(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)fr; (void)len; (void)h; (void)l;
}

static void m_runt(uint8_t *fr, size_t *len, struct netbe_vnet_hdr *h,
		   const struct flay *l)
{
	(void)fr; (void)l;
	*len = 13;
	h->flags = 0; /* only the truncation is tested */
	h->hdr_len = 0;
}

#define T4 { .proto = 6, .payload = 3000 }
#define T6 { .v6 = true, .proto = 6, .payload = 3000 }
#define U4 { .proto = 17, .payload = 3000 }
#define U6 { .v6 = true, .proto = 17, .payload = 3000 }
#define TCP4 NETBE_VNET_HDR_GSO_TCPV4
#define TCP6 NETBE_VNET_HDR_GSO_TCPV6
#define UFO NETBE_VNET_HDR_GSO_UDP
#define USO NETBE_VNET_HDR_GSO_UDP_L4

static const struct bad bads[] = {
	{ "gso_size 0", NETBE__OFFL_E_GSO_SIZE, m_gso0, T4, TCP4, 1448 },
	{ "gso_size 0 USO", NETBE__OFFL_E_GSO_SIZE, m_gso0, U6, USO, 1448 },
	{ "UFO gso_size < 8", NETBE__OFFL_E_GSO_SIZE, m_ufo_small, U4, UFO, 1448 },
	{ "hdr_len beyond", NETBE__OFFL_E_HDR_LEN, m_hdrlen, T4, TCP4, 1448 },
	{ "csum_start beyond", NETBE__OFFL_E_CSUM_RANGE, m_cstart, T4, 0, 0 },
	{ "csum_offset beyond", NETBE__OFFL_E_CSUM_RANGE, m_coff, T4, 0, 0 },
	{ "csum both 0xffff", NETBE__OFFL_E_CSUM_RANGE, m_coff_huge, U4, 0, 0 },
	{ "csum_start beyond (GSO)", NETBE__OFFL_E_CSUM_RANGE, m_cstart, T4, TCP4, 1448 },
	{ "ARP", NETBE__OFFL_E_L2, m_arp, T4, TCP4, 1448 },
	{ "5 VLAN tags", NETBE__OFFL_E_L2, m_vlan5, T4, TCP4, 1448 },
	{ "runt", NETBE__OFFL_E_L2, m_runt, T4, TCP4, 1448 },
	{ "truncated IPv4", NETBE__OFFL_E_L3, m_trunc_ip, T4, TCP4, 1448 },
	{ "truncated IPv6", NETBE__OFFL_E_L3, m_trunc_ip, T6, TCP6, 1448 },
	{ "IPv4 ihl 4", NETBE__OFFL_E_L3, m_ihl, T4, TCP4, 1448 },
	{ "IPv4 ihl past the frame", NETBE__OFFL_E_L3, m_ihl_long, T4, TCP4, 1448 },
	{ "IP version 6 in IPv4", NETBE__OFFL_E_L3, m_ipver, T4, TCP4, 1448 },
	{ "IPv4 fragment", NETBE__OFFL_E_L3, m_frag, U4, USO, 1448 },
	{ "IPv6 fragment header", NETBE__OFFL_E_PROTO, m_v6frag, T6, TCP6, 1448 },
	{ "TCPV4 on IPv6", NETBE__OFFL_E_PROTO, m_none, T6, TCP4, 1448 },
	{ "TCPV6 on IPv4", NETBE__OFFL_E_PROTO, m_none, T4, TCP6, 1448 },
	{ "UFO on TCP", NETBE__OFFL_E_PROTO, m_none, T4, UFO, 1448 },
	{ "USO on TCP", NETBE__OFFL_E_PROTO, m_none, T6, USO, 1448 },
	{ "TSO on UDP", NETBE__OFFL_E_PROTO, m_none, U4, TCP4, 1448 },
	{ "TCP doff 4", NETBE__OFFL_E_L4, m_doff, T4, TCP4, 1448 },
	{ "TCP doff past the frame", NETBE__OFFL_E_L4, m_doff_long, T4, TCP4, 1448 },
	{ "truncated TCP", NETBE__OFFL_E_L4, m_trunc_tcp, T4, TCP4, 1448 },
	{ "empty TSO", NETBE__OFFL_E_EMPTY, m_empty, T4, TCP4, 1448 },
	{ "empty USO", NETBE__OFFL_E_EMPTY, m_empty, U4, USO, 1448 },
	{ "3000 segments", NETBE__OFFL_E_SEGS, m_mss1, T4, TCP4, 1448 },
	{ "gso_type 2", NETBE__OFFL_E_GSO_TYPE, m_type, T4, TCP4, 1448 },
	{ "ECN on UDP", NETBE__OFFL_E_GSO_TYPE, m_ecn_udp, U4, USO, 1448 },
	{ "ECN alone", NETBE__OFFL_E_GSO_TYPE, m_ecn_none, T4, TCP4, 1448 },
	{ "nothing to do", NETBE__OFFL_E_GSO_TYPE, m_nothing, T4, TCP4, 1448 },
};

static void validation(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct netbe__offl_frame f;
		struct flay l = fbuild(frame, &b->s);
		struct netbe_vnet_hdr h = fhdr(&b->s, &l, b->gso, b->mss);
		size_t len = l.len;
		struct iovec in[3];
		int r;

		b->mutate(frame, &len, &h, &l);
		/* Split so no read can stray past a piece unnoticed (ASan). */
		in[0] = (struct iovec){ frame, len / 3 };
		in[1] = (struct iovec){ frame + len / 3, len / 3 };
		in[2] = (struct iovec){ frame + 2 * (len / 3), len - 2 * (len / 3) };
		r = netbe__offl_parse(&h, in, 3, len, &f);
		if (r != b->want)
			fail_msg("%s: got %d (%s), want %d (%s)", b->name, r,
				 netbe__offl_reason(r), b->want,
				 netbe__offl_reason(b->want));
		assert_string_not_equal(netbe__offl_reason(r), "unknown");
	}
}

/* Headers longer than the engine copies are refused, not misread. */
static void validation_long_headers(void **state)
{
	struct fspec s = { .v6 = true, .proto = 6, .payload = 3000,
			   .v6_ext = 200, .tcp_opts = 40 };
	struct netbe__offl_frame f;
	struct flay l = fbuild(frame, &s);
	struct netbe_vnet_hdr h = fhdr(&s, &l, TCP6, 1000);
	struct iovec in = { frame, l.len };

	(void)state;
	assert_int_equal(netbe__offl_parse(&h, &in, 1, l.len, &f),
			 NETBE__OFFL_E_HDRS_LONG);
	/* Checksum-only does not care how long headers are. */
	h.gso_type = 0;
	assert_int_equal(netbe__offl_parse(&h, &in, 1, l.len, &f), 0);
}

/* Random headers on random and on real frames: parse never reads out of
 * bounds (run under ASan), and whatever it accepts emits cleanly. */
static void random_headers(void **state)
{
	static const uint8_t gsos[] = { 0, 1, 3, 4, 5, 0x81, 0x84, 2, 0x85 };
	struct coll c = { 0 };

	(void)state;
	srand(1234);
	for (int it = 0; it < 3000; it++) {
		struct fspec s = { .v6 = rand() & 1, .proto = rand() & 1 ? 6 : 17,
				   .payload = (size_t)rand() % 5000,
				   .vlans = rand() % 3 };
		struct flay l = fbuild(frame, &s);
		struct netbe_vnet_hdr h = {
			.flags = (uint8_t)(rand() & 3),
			.gso_type = gsos[rand() % 9],
			.hdr_len = (uint16_t)(rand() % 200),
			.gso_size = (uint16_t)(rand() % 3000),
			.csum_start = (uint16_t)(rand() % 120),
			.csum_offset = (uint16_t)(rand() % 40),
		};
		size_t len = it & 1 ? l.len : (size_t)rand() % (l.len + 1);
		struct netbe__offl_frame f;
		uint8_t *copy = malloc(len ? len : 1);
		struct iovec in = { copy, len };

		assert_non_null(copy);
		memcpy(copy, frame, len);
		if (it % 3 == 0 && len > 20)
			copy[rand() % len] ^= (uint8_t)rand();
		if (netbe__offl_parse(&h, &in, 1, len, &f) == 0) {
			out_init(64);
			c.fail_after = -1;
			assert_true(netbe__offl_emit(&f, &in, 1, &ob.o, coll_emit,
						     &c) == (int)f.nsegs);
			coll_free(&c);
		}
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csum_matches_reference),
		cmocka_unit_test(csum_iov_odd_pieces),
		cmocka_unit_test(csum_v4_tcp),
		cmocka_unit_test(csum_v6_udp_vlan),
		cmocka_unit_test(csum_udp_zero_is_ffff),
		cmocka_unit_test(csum_captured),
		cmocka_unit_test(tso4_64k),
		cmocka_unit_test(tso4_scatter_and_options),
		cmocka_unit_test(tso6_vlan_qinq),
		cmocka_unit_test(tso_single_segment),
		cmocka_unit_test(tso_hdr_len_hint),
		cmocka_unit_test(ufo4),
		cmocka_unit_test(ufo6),
		cmocka_unit_test(ufo_fits),
		cmocka_unit_test(uso4_uso6),
		cmocka_unit_test(batching_and_partial),
		cmocka_unit_test(validation),
		cmocka_unit_test(validation_long_headers),
		cmocka_unit_test(random_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
