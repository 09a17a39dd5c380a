/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offload.c - checksum and segmentation in software, for every backend.
 *
 * Theory of operation
 *   A frontend that negotiated CSUM or HOST_TSO/UFO/USO hands over frames
 *   with the checksum left to do (NEEDS_CSUM: the pseudo-header sum sits
 *   in the checksum field, the rest is summed from csum_start to the end
 *   and stored at csum_start + csum_offset) or too big for the wire (GSO:
 *   one set of headers and up to 64 KiB of payload, to be cut into
 *   gso_size pieces).  When the backend cannot carry that, vnet.c asks
 *   this file to finish the job; on receive it does the same for frames a
 *   backend delivers offloaded to a frontend that did not accept them.
 *
 *   parse() validates everything the header claims against the frame
 *   (the header comes from a guest: nothing is trusted), and copies the
 *   first bytes so the headers can be read and patched without touching
 *   the caller's memory.  emit() then builds each segment as
 *   [copied, fixed-up headers][a slice of the caller's iovec]: the
 *   payload is never copied, only read once to checksum it.
 *
 *   Checksums are summed 64 bits at a time with an end-around carry
 *   (2^64 = 1 mod 0xffff, so this is the RFC 1071 sum), in memory order:
 *   the folded result is stored as is, with no byte swapping, and a chunk
 *   that starts at an odd byte of the summed range is byte-swapped once
 *   folded.
 *
 *   What segments look like follows Linux's GSO: TCP segments get
 *   consecutive sequence numbers and IPv4 IDs, FIN and PSH only on the
 *   last, CWR only on the first; UFO cuts the UDP datagram (its checksum
 *   computed over the whole) into IP fragments of gso_size rounded down to
 *   8 bytes, all with the same ID; USO makes one UDP datagram per segment.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "offload.h"
#include "netbe_int.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define IP_MF 0x2000
#define V6_FRAG_HDR 8

static const char *const reasons[NETBE__OFFL_NREASONS] = {
	[NETBE__OFFL_OK] = "ok",
	[NETBE__OFFL_E_GSO_TYPE] = "unknown gso_type",
	[NETBE__OFFL_E_GSO_SIZE] = "gso_size too small",
	[NETBE__OFFL_E_HDR_LEN] = "hdr_len beyond the frame",
	[NETBE__OFFL_E_CSUM_RANGE] = "csum_start/csum_offset beyond the frame",
	[NETBE__OFFL_E_L2] = "not an IPv4/IPv6 frame",
	[NETBE__OFFL_E_L3] = "bad IP header",
	[NETBE__OFFL_E_PROTO] = "gso_type does not match the frame",
	[NETBE__OFFL_E_L4] = "bad TCP/UDP header",
	[NETBE__OFFL_E_HDRS_LONG] = "headers too long",
	[NETBE__OFFL_E_EMPTY] = "GSO frame without payload",
	[NETBE__OFFL_E_SEGS] = "too many segments",
};

const char *netbe__offl_reason(int err)
{
	if (err < 0 || err >= NETBE__OFFL_NREASONS)
		return "unknown";
	return reasons[err];
}

/* ---- checksums ------------------------------------------------------------ */

static inline uint64_t add_carry(uint64_t s, uint64_t w)
{
	s += w;
	return s + (s < w);
}

uint64_t netbe__csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t a = sum, b = 0, w0, w1, w2, w3;

	/* Two accumulators let the carries of one overlap the other's. */
	for (; len >= 32; p += 32, len -= 32) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		a = add_carry(a, w0);
		b = add_carry(b, w1);
		a = add_carry(a, w2);
		b = add_carry(b, w3);
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w0, p, 8);
		a = add_carry(a, w0);
	}
	if (len) {
		w0 = 0;
		memcpy(&w0, p, len); /* zero padding, in memory order */
		a = add_carry(a, w0);
	}
	return add_carry(a, b);
}

uint16_t netbe__csum_fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t csum_chunk(uint64_t sum, const void *p, size_t n, bool odd)
{
	uint16_t f;

	if (!odd)
		return netbe__csum_add(sum, p, n);
	f = netbe__csum_fold(netbe__csum_add(0, p, n));
	return add_carry(sum, (uint16_t)(f << 8 | f >> 8));
}

struct csum_walk {
	uint64_t sum;
};

static void csum_piece(void *arg, void *p, size_t n, size_t done)
{
	struct csum_walk *w = arg;

	w->sum = csum_chunk(w->sum, p, n, done & 1);
}

uint64_t netbe__csum_iov(uint64_t sum, const struct iovec *iov, int iovcnt,
			 size_t off, size_t len)
{
	struct csum_walk w = { sum };

	netbe__iov_walk(iov, iovcnt, off, len, csum_piece, &w);
	return w.sum;
}

/* The value to store: the complement, with 0 sent as 0xffff (UDP's "no
 * checksum" is 0; both mean zero to a verifier). */
static uint16_t csum_final(uint64_t sum)
{
	uint16_t v = (uint16_t)~netbe__csum_fold(sum);

	return v ? v : 0xffff;
}

/* ---- parsing ------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* Skips 802.1Q/802.1ad tags; returns the IP header's offset or 0. */
static unsigned parse_l2(const uint8_t *h, size_t n, uint16_t *etype)
{
	unsigned off = 12;

	for (int tags = 0; off + 2 <= n && tags < 4; tags++) {
		*etype = rd16(h + off);
		if (*etype != ETH_P_8021Q && *etype != ETH_P_8021AD)
			return off + 2;
		off += 4;
	}
	return 0;
}

/* IPv6: walks hop-by-hop, routing and destination options headers.
 * Returns the L4 offset and the protocol in *proto; 0 when the headers go
 * past the @n bytes at hand, 0 with *proto 0 when they are bad. */
static unsigned parse_v6(const uint8_t *h, size_t n, unsigned l3,
			 uint8_t *proto)
{
	unsigned off = l3 + 40;
	uint8_t nh;

	if (off > n)
		return 0;
	if (h[l3] >> 4 != 6)
		return *proto = 0, 0;
	nh = h[l3 + 6];
	for (int i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60); i++) {
		if (off + 2 > n)
			return 0;
		nh = h[off];
		off += (h[off + 1] + 1u) * 8;
	}
	*proto = nh;
	return off <= n ? off : 0;
}

static unsigned parse_v4(const uint8_t *h, size_t n, unsigned l3,
			 uint8_t *proto)
{
	unsigned ihl;

	if (l3 + 20 > n)
		return 0;
	ihl = (h[l3] & 0xf) * 4u;
	/* A fragment cannot be segmented: its L4 header is elsewhere. */
	if (h[l3] >> 4 != 4 || ihl < 20 || (rd16(h + l3 + 6) & 0x3fff))
		return *proto = 0, 0;
	*proto = h[l3 + 9];
	return l3 + ihl <= n ? l3 + ihl : 0;
}

/* Headers past what was copied: too long, or a truncated frame. */
static int short_hdr(const struct netbe__offl_frame *f, int err)
{
	return f->len > NETBE__OFFL_HDR_MAX ? NETBE__OFFL_E_HDRS_LONG : err;
}

static int parse_csum(const struct netbe_vnet_hdr *h,
		      struct netbe__offl_frame *f)
{
	size_t start = le16toh(h->csum_start);
	size_t pos = start + le16toh(h->csum_offset);

	if (start >= f->len || pos + 2 > f->len)
		return NETBE__OFFL_E_CSUM_RANGE;
	f->csum_start = (uint32_t)start;
	f->csum_pos = (uint32_t)pos;
	return 0;
}

/* Does the gso_type fit what the frame is? */
static int check_proto(uint8_t gso, bool v6, uint8_t proto)
{
	switch (gso) {
	case NETBE_VNET_HDR_GSO_TCPV4:
		return !v6 && proto == PROTO_TCP ? 0 : NETBE__OFFL_E_PROTO;
	case NETBE_VNET_HDR_GSO_TCPV6:
		return v6 && proto == PROTO_TCP ? 0 : NETBE__OFFL_E_PROTO;
	default:
		return proto == PROTO_UDP ? 0 : NETBE__OFFL_E_PROTO;
	}
}

/* L2 and L3: fills l3, l4, v6; checks the protocol. */
static int parse_ip(struct netbe__offl_frame *f, size_t n, uint8_t gso)
{
	uint16_t etype = 0;
	uint8_t proto = 0;
	unsigned l3 = parse_l2(f->hdr, n, &etype), l4;

	if (!l3 || (etype != ETH_P_IP && etype != ETH_P_IPV6))
		return NETBE__OFFL_E_L2;
	f->v6 = etype == ETH_P_IPV6;
	proto = 0xff; /* stays so when the headers were cut short */
	l4 = f->v6 ? parse_v6(f->hdr, n, l3, &proto)
		   : parse_v4(f->hdr, n, l3, &proto);
	if (!l4)
		return proto ? short_hdr(f, NETBE__OFFL_E_L3) : NETBE__OFFL_E_L3;
	f->l3 = (uint16_t)l3;
	f->l4 = (uint16_t)l4;
	/* IPv6 UFO inserts its fragment header right after the fixed one. */
	if (f->v6 && gso == NETBE_VNET_HDR_GSO_UDP && l4 != l3 + 40)
		return NETBE__OFFL_E_L3;
	return check_proto(gso, f->v6, proto);
}

/* L4 header length: fills hlen. */
static int parse_l4(struct netbe__offl_frame *f, size_t n, uint8_t gso)
{
	size_t l4 = f->l4, tl;

	if (gso != NETBE_VNET_HDR_GSO_TCPV4 && gso != NETBE_VNET_HDR_GSO_TCPV6)
		tl = 8;
	else if (l4 + 20 > n)
		return short_hdr(f, NETBE__OFFL_E_L4);
	else if ((tl = (f->hdr[l4 + 12] >> 4) * 4u) < 20)
		return NETBE__OFFL_E_L4;
	if (l4 + tl > n)
		return short_hdr(f, NETBE__OFFL_E_L4);
	f->hlen = (uint16_t)(l4 + tl);
	return 0;
}

/* Payload, segment size and count. */
static int parse_segs(struct netbe__offl_frame *f, uint8_t gso,
		      unsigned gso_size)
{
	size_t payload = f->len - f->hlen;

	f->kind = gso == NETBE_VNET_HDR_GSO_UDP_L4 ? NETBE__OFFL_USO
		  : gso == NETBE_VNET_HDR_GSO_UDP  ? NETBE__OFFL_UFO
						   : NETBE__OFFL_TCP;
	if (payload == 0)
		return NETBE__OFFL_E_EMPTY;
	if (f->kind == NETBE__OFFL_UFO) {
		gso_size &= ~7u; /* fragment offsets count 8-byte units */
		if (gso_size == 0)
			return NETBE__OFFL_E_GSO_SIZE;
		if (payload + 8 <= gso_size) /* fits: one plain datagram */
			f->kind = NETBE__OFFL_USO;
		else
			payload += 8; /* fragments carry the UDP header too */
	}
	f->mss = (uint16_t)gso_size;
	f->nsegs = (unsigned)((payload + gso_size - 1) / gso_size);
	return f->nsegs > NETBE__OFFL_MAX_SEGS ? NETBE__OFFL_E_SEGS : 0;
}

static int parse_gso(const struct netbe_vnet_hdr *h, const struct iovec *iov,
		     int iovcnt, struct netbe__offl_frame *f)
{
	uint8_t gso = h->gso_type & (uint8_t)~NETBE_VNET_HDR_GSO_ECN;
	size_t n = f->len < NETBE__OFFL_HDR_MAX ? f->len : NETBE__OFFL_HDR_MAX;
	int r;

	if (gso != NETBE_VNET_HDR_GSO_TCPV4 && gso != NETBE_VNET_HDR_GSO_TCPV6 &&
	    gso != NETBE_VNET_HDR_GSO_UDP && gso != NETBE_VNET_HDR_GSO_UDP_L4)
		return NETBE__OFFL_E_GSO_TYPE;
	if ((h->gso_type & NETBE_VNET_HDR_GSO_ECN) &&
	    gso != NETBE_VNET_HDR_GSO_TCPV4 && gso != NETBE_VNET_HDR_GSO_TCPV6)
		return NETBE__OFFL_E_GSO_TYPE;
	if (le16toh(h->gso_size) == 0)
		return NETBE__OFFL_E_GSO_SIZE;
	if (le16toh(h->hdr_len) > f->len)
		return NETBE__OFFL_E_HDR_LEN;
	if (netbe__iov_to_buf(iov, iovcnt, 0, f->hdr, n) != n)
		return NETBE__OFFL_E_L2;
	if ((r = parse_ip(f, n, gso)) || (r = parse_l4(f, n, gso)))
		return r;
	/* hdr_len is a hint (Linux guests put their linear length there):
	 * the headers' real length comes from the headers themselves. */
	return parse_segs(f, gso, le16toh(h->gso_size));
}

int netbe__offl_parse(const struct netbe_vnet_hdr *h, const struct iovec *iov,
		      int iovcnt, size_t len, struct netbe__offl_frame *f)
{
	int r;

	f->len = len;
	f->kind = NETBE__OFFL_CSUM;
	f->nsegs = 1;
	f->csum_start = f->csum_pos = 0;
	if (len < 14)
		return NETBE__OFFL_E_L2;
	if ((h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM) && (r = parse_csum(h, f)))
		return r;
	if (h->gso_type == NETBE_VNET_HDR_GSO_NONE)
		return h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM
			       ? 0 : NETBE__OFFL_E_GSO_TYPE;
	return parse_gso(h, iov, iovcnt, f);
}

uint16_t netbe__offl_csum_value(const struct netbe__offl_frame *f,
				const struct iovec *iov, int iovcnt)
{
	return csum_final(netbe__csum_iov(0, iov, iovcnt, f->csum_start,
					  f->len - f->csum_start));
}

/* ---- building segments ------------------------------------------------------ */

/* A read position in the caller's iovec. */
struct cursor {
	const struct iovec *iov;
	int cnt, i;
	size_t off;
};

static void cursor_seek(struct cursor *c, size_t pos)
{
	c->i = 0;
	while (c->i < c->cnt && pos >= c->iov[c->i].iov_len)
		pos -= c->iov[c->i++].iov_len;
	c->off = pos;
}

/* Entries @len bytes from the cursor span. */
static int cursor_span(const struct cursor *c, size_t len)
{
	size_t left = c->i < c->cnt ? c->iov[c->i].iov_len - c->off : 0;
	int n = 0, i = c->i;

	while (len > 0 && i < c->cnt) {
		if (left) {
			n++;
			len -= left < len ? left : len;
		}
		if (++i < c->cnt)
			left = c->iov[i].iov_len;
	}
	return n;
}

/* Appends @len bytes from the cursor to the out iovec, summing them into
 * *@sum when @sum is not NULL (the slice starts at an even offset). */
static void take(struct cursor *c, size_t len, struct netbe__offl_out *o,
		 uint64_t *sum)
{
	size_t done = 0;

	while (done < len && c->i < c->cnt) {
		size_t n = c->iov[c->i].iov_len - c->off;
		uint8_t *p = (uint8_t *)c->iov[c->i].iov_base + c->off;

		if (n > len - done)
			n = len - done;
		if (n) {
			o->iov[o->iov_used++] = (struct iovec){ p, n };
			if (sum)
				*sum = csum_chunk(*sum, p, n, done & 1);
		}
		done += n;
		c->off += n;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
}

static void put(struct netbe__offl_out *o, void *p, size_t n)
{
	o->iov[o->iov_used++] = (struct iovec){ p, n };
}

/* Starts a segment: its message, the prefix. */
static struct netbe_msg *seg_begin(struct netbe__offl_out *o)
{
	struct netbe_msg *m = &o->msgs[o->nmsgs++];

	m->iov = o->iov + o->iov_used;
	m->len = 0;
	if (o->pre_len)
		put(o, (void *)o->pre, o->pre_len);
	return m;
}

static void seg_end(struct netbe__offl_out *o, struct netbe_msg *m)
{
	m->iovcnt = (int)(o->iov + o->iov_used - m->iov);
}

static uint8_t *arena(struct netbe__offl_out *o, size_t n)
{
	uint8_t *p = o->arena + o->arena_used;

	o->arena_used += n;
	return p;
}

static bool room(const struct netbe__offl_out *o, size_t hdr, int iovs)
{
	return o->nmsgs < o->msgs_cap && o->arena_used + hdr <= o->arena_cap &&
	       o->iov_used + iovs + 4 <= o->iov_cap;
}

/* Hands what is built to emit(); returns 1 to go on, 0 to stop, with
 * *done counting accepted segments and *err the first refusal. */
static int flush(struct netbe__offl_out *o, netbe__offl_emit_fn emit,
		 void *arg, int *done, int *err)
{
	int n = o->nmsgs, r = n ? emit(arg, o->msgs, n) : 0;

	o->nmsgs = 0;
	o->arena_used = 0;
	o->iov_used = 0;
	if (r < 0) {
		*err = r;
		return 0;
	}
	*done += r;
	return r == n;
}

/* The pseudo-header's addresses and protocol; the length is added per
 * segment. */
static uint64_t pseudo_base(const struct netbe__offl_frame *f, uint8_t proto)
{
	const uint8_t *ip = f->hdr + f->l3;
	uint64_t s = f->v6 ? netbe__csum_add(0, ip + 8, 32)
			   : netbe__csum_add(0, ip + 12, 8);

	return add_carry(s, htobe16(proto));
}

/* IP fields of one segment: @l3len bytes from the IP header on. */
static void fix_ip(const struct netbe__offl_frame *f, uint8_t *h,
		   size_t l3len, unsigned id_add)
{
	uint8_t *ip = h + f->l3;
	unsigned ihl = (ip[0] & 0xf) * 4u;
	uint16_t c;

	if (f->v6) {
		wr16(ip + 4, (unsigned)(l3len - 40));
		return;
	}
	wr16(ip + 2, (unsigned)l3len);
	wr16(ip + 4, rd16(ip + 4) + id_add);
	wr16(ip + 10, 0);
	c = (uint16_t)~netbe__csum_fold(netbe__csum_add(0, ip, ihl));
	memcpy(ip + 10, &c, 2);
}

struct segger {
	const struct netbe__offl_frame *f;
	struct cursor c;
	struct netbe__offl_out *o;
	uint64_t pseudo;
	uint32_t v6_id;
};

static void tcp_seg(struct segger *s, unsigned i, size_t off, size_t n)
{
	const struct netbe__offl_frame *f = s->f;
	struct netbe_msg *m = seg_begin(s->o);
	uint8_t *h = arena(s->o, f->hlen), *t = h + f->l4;
	uint64_t sum = 0;
	uint16_t c;

	memcpy(h, f->hdr, f->hlen);
	fix_ip(f, h, f->hlen - f->l3 + n, i);
	wr32(t + 4, rd32(t + 4) + (uint32_t)off);
	if (i + 1 < f->nsegs)
		t[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		t[13] &= (uint8_t)~TCP_CWR;
	wr16(t + 16, 0);
	put(s->o, h, f->hlen);
	take(&s->c, n, s->o, &sum);
	sum = netbe__csum_add(sum, t, f->hlen - f->l4);
	sum = add_carry(sum, htobe16((uint16_t)(f->hlen - f->l4 + n)));
	c = csum_final(add_carry(sum, s->pseudo));
	memcpy(t + 16, &c, 2);
	seg_end(s->o, m);
}

static void uso_seg(struct segger *s, unsigned i, size_t off, size_t n)
{
	const struct netbe__offl_frame *f = s->f;
	struct netbe_msg *m = seg_begin(s->o);
	uint8_t *h = arena(s->o, f->hlen), *u = h + f->l4;
	uint64_t sum = 0;
	uint16_t c;

	(void)off;
	memcpy(h, f->hdr, f->hlen);
	fix_ip(f, h, f->hlen - f->l3 + n, i);
	wr16(u + 4, (unsigned)(8 + n));
	wr16(u + 6, 0);
	put(s->o, h, f->hlen);
	take(&s->c, n, s->o, &sum);
	sum = netbe__csum_add(sum, u, 8);
	sum = add_carry(sum, htobe16((uint16_t)(8 + n)));
	c = csum_final(add_carry(sum, s->pseudo));
	memcpy(u + 6, &c, 2);
	seg_end(s->o, m);
}

/* UFO: the UDP header with its length and the whole datagram's sum. */
static void ufo_udp_hdr(struct segger *s, uint8_t *u)
{
	const struct netbe__offl_frame *f = s->f;
	size_t dlen = f->len - f->l4;
	uint64_t sum;
	uint16_t c;

	memcpy(u, f->hdr + f->l4, 8);
	wr16(u + 4, (unsigned)dlen);
	wr16(u + 6, 0);
	sum = netbe__csum_iov(0, s->c.iov, s->c.cnt, f->l4 + 8, dlen - 8);
	sum = netbe__csum_add(sum, u, 8);
	sum = add_carry(sum, htobe16((uint16_t)dlen));
	c = csum_final(add_carry(sum, s->pseudo));
	memcpy(u + 6, &c, 2);
}

/* One IP fragment: bytes [off, off + n) of the UDP datagram. */
static void ufo_seg(struct segger *s, unsigned i, size_t off, size_t n)
{
	const struct netbe__offl_frame *f = s->f;
	struct netbe_msg *m = seg_begin(s->o);
	size_t fh = f->v6 ? V6_FRAG_HDR : 0;
	uint8_t *h = arena(s->o, f->l4 + fh + (i == 0 ? 8 : 0));
	unsigned mf = i + 1 < f->nsegs;

	memcpy(h, f->hdr, f->l4);
	fix_ip(f, h, f->l4 - f->l3 + fh + n, 0);
	if (f->v6) {
		uint8_t *fr = h + f->l4;

		fr[0] = h[f->l3 + 6]; /* the UDP header's protocol */
		fr[1] = 0;
		wr16(fr + 2, (unsigned)off | mf);
		wr32(fr + 4, s->v6_id);
		h[f->l3 + 6] = 44;
	} else {
		uint8_t *ip = h + f->l3;
		uint16_t c;

		wr16(ip + 6, (unsigned)(off >> 3) | (mf ? IP_MF : 0));
		wr16(ip + 10, 0);
		c = (uint16_t)~netbe__csum_fold(
			netbe__csum_add(0, ip, f->l4 - f->l3));
		memcpy(ip + 10, &c, 2);
	}
	put(s->o, h, f->l4 + fh);
	if (i == 0) {
		ufo_udp_hdr(s, h + f->l4 + fh);
		put(s->o, h + f->l4 + fh, 8);
		n -= 8;
	}
	take(&s->c, n, s->o, NULL);
	seg_end(s->o, m);
}

static uint32_t v6_frag_id(void)
{
	static uint32_t next = 0x6e657462; /* any start will do */

	return __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
}

static int emit_segs(const struct netbe__offl_frame *f, struct segger *s,
		     netbe__offl_emit_fn emit, void *arg)
{
	size_t start = f->kind == NETBE__OFFL_UFO ? f->l4 : f->hlen;
	size_t total = f->len - start, hmax = f->hlen + V6_FRAG_HDR + 8;
	int done = 0, err = 0;

	cursor_seek(&s->c, f->kind == NETBE__OFFL_UFO ? start + 8 : start);
	for (unsigned i = 0; i < f->nsegs; i++) {
		size_t off = (size_t)i * f->mss;
		size_t n = total - off < f->mss ? total - off : f->mss;

		if (!room(s->o, hmax, cursor_span(&s->c, n)) &&
		    !flush(s->o, emit, arg, &done, &err))
			return done ? done : err;
		if (f->kind == NETBE__OFFL_TCP)
			tcp_seg(s, i, off, n);
		else if (f->kind == NETBE__OFFL_USO)
			uso_seg(s, i, off, n);
		else
			ufo_seg(s, i, off, n);
	}
	flush(s->o, emit, arg, &done, &err);
	return done ? done : err;
}

/* NEEDS_CSUM only: [prefix][bytes before the field][sum][the rest]. */
static int emit_csum(const struct netbe__offl_frame *f,
		     const struct iovec *iov, int iovcnt,
		     struct netbe__offl_out *o, netbe__offl_emit_fn emit,
		     void *arg)
{
	struct cursor c = { iov, iovcnt, 0, 0 };
	struct netbe_msg *m = seg_begin(o);
	uint16_t v = netbe__offl_csum_value(f, iov, iovcnt);
	uint8_t *p = arena(o, 2);
	int done = 0, err = 0;

	memcpy(p, &v, 2);
	take(&c, f->csum_pos, o, NULL);
	put(o, p, 2);
	cursor_seek(&c, f->csum_pos + 2);
	take(&c, f->len - f->csum_pos - 2, o, NULL);
	seg_end(o, m);
	flush(o, emit, arg, &done, &err);
	return done ? done : err;
}

int netbe__offl_emit(const struct netbe__offl_frame *f,
		     const struct iovec *iov, int iovcnt,
		     struct netbe__offl_out *o, netbe__offl_emit_fn emit,
		     void *arg)
{
	struct segger s = { .f = f, .c = { iov, iovcnt, 0, 0 }, .o = o };

	o->nmsgs = 0;
	o->arena_used = 0;
	o->iov_used = 0;
	if (o->msgs_cap < 1 || o->iov_cap < iovcnt + 4 ||
	    o->arena_cap < NETBE__OFFL_HDR_MAX + V6_FRAG_HDR + 8)
		return -E2BIG;
	if (f->kind == NETBE__OFFL_CSUM)
		return emit_csum(f, iov, iovcnt, o, emit, arg);
	s.pseudo = pseudo_base(f, f->kind == NETBE__OFFL_TCP ? PROTO_TCP
							     : PROTO_UDP);
	if (f->kind == NETBE__OFFL_UFO && f->v6)
		s.v6_id = v6_frag_id();
	return emit_segs(f, &s, emit, arg);
}
