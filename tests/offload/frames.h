/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * frames.h - hand-built Ethernet/IP/TCP/UDP frames and an independent
 * checker for the offload tests.  The checksum here is RFC 1071 written
 * the simple way (16-bit big-endian words into a 32-bit sum), on purpose
 * nothing like the engine's 64-bit one.
 */
#ifndef OFFL_FRAMES_H
#define OFFL_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netbe.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10
#define F_CWR 0x80

struct fspec {
	int vlans;	   /* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	bool v6;
	uint8_t proto;	   /* 6 TCP, 17 UDP */
	size_t payload;
	uint8_t tcp_flags;
	uint32_t seq;
	uint16_t ip_id;
	unsigned tcp_opts; /* option bytes, a multiple of 4 */
	unsigned v6_ext;   /* bytes of a destination-options header (x8) */
	unsigned seed;	   /* payload pattern */
};

struct flay {
	size_t l3, l4, hlen, len;
};

static inline void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline unsigned get16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static inline uint8_t fpat(unsigned seed, size_t i)
{
	return (uint8_t)(i * 7u + seed * 13u + (i >> 8));
}

/* The simple RFC 1071 sum, not complemented. */
static inline uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

/* Pseudo-header sum for an L4 of @l4len bytes. */
static inline uint32_t ref_pseudo(const uint8_t *ip, bool v6, uint8_t proto,
				  size_t l4len)
{
	uint32_t s = v6 ? ref_sum(ip + 8, 32, 0) : ref_sum(ip + 12, 8, 0);

	s += proto;
	s += (uint32_t)l4len;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/*
 * Builds a frame per @s into @buf; the L4 checksum holds the pseudo-header
 * sum, as a guest leaves it for NEEDS_CSUM.  Returns the layout.
 */
static inline struct flay fbuild(uint8_t *buf, const struct fspec *s)
{
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 2 };
	static const uint8_t src[6] = { 2, 0, 0, 0, 0, 1 };
	struct flay l;
	size_t off = 12, l4len, i;
	uint8_t *ip, *t;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	for (int v = 0; v < s->vlans; v++, off += 4) {
		put16(buf + off, v == 0 && s->vlans == 2 ? 0x88a8 : 0x8100);
		put16(buf + off + 2, 100 + (unsigned)v);
	}
	put16(buf + off, s->v6 ? 0x86dd : 0x0800);
	l.l3 = off + 2;
	ip = buf + l.l3;
	l.l4 = l.l3 + (s->v6 ? 40 + s->v6_ext : 20);
	l.hlen = l.l4 + (s->proto == 6 ? 20 + s->tcp_opts : 8);
	l.len = l.hlen + s->payload;
	l4len = l.len - l.l4;
	if (s->v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, (unsigned)(l.len - l.l3 - 40));
		ip[6] = s->v6_ext ? 60 : s->proto;
		ip[7] = 64;
		ip[8] = 0x20; ip[9] = 0x01; ip[10] = 0x0d; ip[11] = 0xb8;
		ip[23] = 1;
		ip[24] = 0x20; ip[25] = 0x01; ip[26] = 0x0d; ip[27] = 0xb8;
		ip[39] = 2;
		if (s->v6_ext) {
			uint8_t *e = ip + 40;

			memset(e, 0, s->v6_ext);
			e[0] = s->proto;
			e[1] = (uint8_t)(s->v6_ext / 8 - 1);
			e[2] = 1; /* PadN covering the rest */
			e[3] = (uint8_t)(s->v6_ext - 4);
		}
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (unsigned)(l.len - l.l3));
		put16(ip + 4, s->ip_id);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = s->proto;
		ip[12] = 192; ip[13] = 0; ip[14] = 2; ip[15] = 1;
		ip[16] = 192; ip[17] = 0; ip[18] = 2; ip[19] = 2;
		put16(ip + 10, ~ref_sum(ip, 20, 0) & 0xffff);
	}
	t = buf + l.l4;
	if (s->proto == 6) {
		memset(t, 0, 20 + s->tcp_opts);
		put16(t, 40000);
		put16(t + 2, 5001);
		put32(t + 4, s->seq);
		put32(t + 8, 777);
		t[12] = (uint8_t)((20 + s->tcp_opts) / 4) << 4;
		t[13] = s->tcp_flags;
		put16(t + 14, 65535);
		for (i = 0; i < s->tcp_opts; i++)
			t[20 + i] = 1; /* NOP */
		put16(t + 16, ref_pseudo(ip, s->v6, 6, l4len));
	} else {
		put16(t, 40000);
		put16(t + 2, 5001);
		put16(t + 4, (unsigned)l4len);
		put16(t + 6, ref_pseudo(ip, s->v6, 17, l4len));
	}
	for (i = 0; i < s->payload; i++)
		buf[l.hlen + i] = fpat(s->seed, i);
	return l;
}

/* The virtio-net header a guest sends with such a frame. */
static inline struct netbe_vnet_hdr fhdr(const struct fspec *s,
					 const struct flay *l, uint8_t gso,
					 unsigned gso_size)
{
	struct netbe_vnet_hdr h = {
		.flags = NETBE_VNET_HDR_F_NEEDS_CSUM,
		.gso_type = gso,
		.hdr_len = (uint16_t)l->hlen,
		.gso_size = (uint16_t)gso_size,
		.csum_start = (uint16_t)l->l4,
		.csum_offset = s->proto == 6 ? 16 : 6,
	};

	return h;
}

/* What the checker learnt about one output frame. */
struct fseg {
	bool ok;	     /* all checks passed */
	const char *why;     /* else the first failure */
	size_t l3, l4, pay;  /* offsets; pay = payload start */
	size_t paylen;
	bool v6, frag, mf;   /* frag: an IP fragment (UFO) */
	size_t frag_off;     /* bytes */
	uint32_t frag_id;
	uint32_t seq;
	uint8_t flags;
	uint16_t ip_id;
};

static inline struct fseg fbad(struct fseg g, const char *why)
{
	g.ok = false;
	g.why = why;
	return g;
}

/* IPv6: skips destination options; finds a fragment header. */
static inline struct fseg fcheck_v6(const uint8_t *p, size_t n, struct fseg g,
				    uint8_t *proto)
{
	const uint8_t *ip = p + g.l3;
	size_t off = g.l3 + 40;
	uint8_t nh = ip[6];

	if (n < off || get16(ip + 4) != n - g.l3 - 40)
		return fbad(g, "IPv6 payload length");
	while (nh == 60 || nh == 44) {
		if (nh == 44) {
			g.frag = true;
			g.frag_off = get16(p + off + 2) & ~7u;
			g.mf = p[off + 3] & 1;
			g.frag_id = get32(p + off + 4);
			nh = p[off];
			off += 8;
		} else {
			nh = p[off];
			off += (p[off + 1] + 1u) * 8;
		}
	}
	*proto = nh;
	g.l4 = off;
	return g;
}

static inline struct fseg fcheck_v4(const uint8_t *p, size_t n, struct fseg g,
				    uint8_t *proto)
{
	const uint8_t *ip = p + g.l3;
	unsigned fo;

	if (ref_sum(ip, 20, 0) != 0xffff)
		return fbad(g, "IPv4 header checksum");
	if (get16(ip + 2) != n - g.l3)
		return fbad(g, "IPv4 total length");
	fo = get16(ip + 6);
	g.frag = (fo & 0x3fff) != 0;
	g.mf = fo & 0x2000;
	g.frag_off = (fo & 0x1fff) * 8u;
	g.ip_id = (uint16_t)get16(ip + 4);
	*proto = ip[9];
	g.l4 = g.l3 + (ip[0] & 0xf) * 4u;
	return g;
}

/*
 * Checks one output frame: IP lengths and header checksum, and for a
 * complete (unfragmented, or first-fragment-free) datagram its TCP/UDP
 * checksum with the pseudo-header.
 */
static inline struct fseg fcheck(const uint8_t *p, size_t n)
{
	struct fseg g = { .ok = true };
	size_t off = 12;
	uint8_t proto = 0;
	unsigned et;

	while ((et = get16(p + off)) == 0x8100 || et == 0x88a8)
		off += 4;
	g.l3 = off + 2;
	g.v6 = et == 0x86dd;
	g = g.v6 ? fcheck_v6(p, n, g, &proto) : fcheck_v4(p, n, g, &proto);
	if (!g.ok)
		return g;
	if (g.frag) {
		g.pay = g.l4;
		g.paylen = n - g.l4;
		return g;
	}
	if (proto == 6) {
		const uint8_t *t = p + g.l4;

		g.seq = get32(t + 4);
		g.flags = t[13];
		g.pay = g.l4 + (t[12] >> 4) * 4u;
	} else {
		if (get16(p + g.l4 + 4) != n - g.l4)
			return fbad(g, "UDP length");
		if (get16(p + g.l4 + 6) == 0)
			return fbad(g, "UDP checksum 0");
		g.pay = g.l4 + 8;
	}
	g.paylen = n - g.pay;
	if (ref_sum(p + g.l4, n - g.l4,
		    ref_pseudo(p + g.l3, g.v6, proto, n - g.l4)) != 0xffff)
		return fbad(g, "L4 checksum");
	return g;
}

#endif
