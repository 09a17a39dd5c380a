/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Receive coalescing (GRO) for the tunnel backends.
 *
 * Theory of operation
 *   A tunnel carries one MSS per datagram: a 1 Gbit/s TCP stream is some
 *   85 000 datagrams a second, and writing each to a tap is a system call
 *   (measured: netbe <-> netbe over vxlan, 0.9 Gbit/s with a tap write
 *   per segment, 2.3-2.7 Gbit/s with this merge; docs/benchmarks.md).
 *   Linux's own vxlan hands its GRO engine
 *   the decapsulated segments; we do the same on each recvmmsg batch:
 *   consecutive segments of one TCP flow become one GSO frame of up to
 *   64 KiB with a virtio-net header (NEEDS_CSUM, TCPV4/TCPV6, gso_size =
 *   the first segment's payload), which a tap or a guest takes whole -
 *   and which the core cuts again for a frontend that did not accept
 *   GUEST_TSO (the backend merges only when it did).
 *
 *   What may merge is what Linux's tcp_gro_receive merges: the same
 *   Ethernet, IP and TCP headers byte for byte (ack, window, options
 *   included: timestamps that differ stop a merge) but for the lengths,
 *   the IPv4 id and checksums; flags ACK, with PSH allowed on the last;
 *   sequence numbers that follow; every segment the first one's size but
 *   the last, which may be shorter and ends the merge.  Anything else -
 *   IPv4 options or fragments, IPv6 extension headers, VLAN tags, SYN,
 *   FIN, RST, URG, CWR/ECE - passes alone, untouched.
 *
 *   Checksums.  The merged frame's TCP checksum is left partial, so no
 *   one checks the payload again: each segment's checksum is verified
 *   before it joins (the kernel's GRO also merges only validated
 *   segments); a bad one passes alone and the receiver drops it.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <string.h>

#include "offload.h"
#include "tunnel/gro.h"

#define TCP_ACK 0x10
#define TCP_PSH 0x08

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The pseudo-header sum for @tcplen bytes of TCP. */
static uint64_t pseudo(const uint8_t *f, const struct netbe__gro_seg *s,
		       size_t tcplen)
{
	uint8_t tail[4] = { 0, 6, (uint8_t)(tcplen >> 8), (uint8_t)tcplen };
	uint64_t sum = s->v6 ? netbe__csum_add(0, f + 14 + 8, 32)
			     : netbe__csum_add(0, f + 14 + 12, 8);

	if (s->v6) {
		uint8_t t6[8] = { 0, 0, 0, 0, 0, 0, 0, 6 };

		t6[2] = tail[2];
		t6[3] = tail[3];
		return netbe__csum_add(sum, t6, 8);
	}
	return netbe__csum_add(sum, tail, 4);
}

/* IPv4 / IPv6 part of parse: the TCP offset and the IP payload length. */
static bool parse_ip(const uint8_t *f, size_t len, struct netbe__gro_seg *s,
		     size_t *iplen)
{
	uint16_t type = get16(f + 12);

	if (type == 0x0800 && len >= 14 + 20 + 20) {
		size_t tot = get16(f + 16);

		if (f[14] != 0x45 || f[23] != 6 || (get16(f + 20) & 0x3fff) ||
		    tot < 40 || tot > len - 14)
			return false;
		s->v6 = false;
		s->l4 = 14 + 20;
		*iplen = tot - 20;
		return true;
	}
	if (type == 0x86dd && len >= 14 + 40 + 20) {
		size_t pl = get16(f + 18);

		if ((f[14] >> 4) != 6 || f[20] != 6 || pl > len - 54 || pl < 20)
			return false;
		s->v6 = true;
		s->l4 = 14 + 40;
		*iplen = pl;
		return true;
	}
	return false;
}

bool netbe__gro_parse(const uint8_t *f, size_t len, struct netbe__gro_seg *s)
{
	size_t iplen, doff;
	const uint8_t *t;

	if (len < 14 || !parse_ip(f, len, s, &iplen))
		return false;
	t = f + s->l4;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff >= iplen || (t[13] & ~TCP_PSH) != TCP_ACK ||
	    (t[12] & 0x0f))
		return false;
	s->hlen = (uint16_t)(s->l4 + doff);
	s->pay = iplen - doff;
	s->seq = (uint32_t)get16(t + 4) << 16 | get16(t + 6);
	s->psh = t[13] & TCP_PSH;
	return netbe__csum_fold(netbe__csum_add(pseudo(f, s, iplen), t,
						iplen)) == 0xffff;
}

bool netbe__gro_follows(const uint8_t *fa, const struct netbe__gro_seg *a,
			uint32_t next, const uint8_t *fb,
			const struct netbe__gro_seg *b)
{
	const uint8_t *ta = fa + a->l4, *tb = fb + b->l4;

	if (a->v6 != b->v6 || a->hlen != b->hlen || b->seq != next ||
	    memcmp(fa, fb, 14))
		return false;
	if (a->v6 ? memcmp(fa + 14, fb + 14, 4) || memcmp(fa + 20, fb + 20, 34)
		  : fa[15] != fb[15] || memcmp(fa + 20, fb + 20, 4) ||
		    memcmp(fa + 26, fb + 26, 8))
		return false;
	/* ports; ack; doff, flags (PSH aside), window; options. */
	return !memcmp(ta, tb, 4) && !memcmp(ta + 8, tb + 8, 5) &&
	       ((ta[13] ^ tb[13]) & ~TCP_PSH) == 0 &&
	       !memcmp(ta + 14, tb + 14, 2) &&
	       !memcmp(ta + 20, tb + 20, (size_t)a->hlen - a->l4 - 20);
}

void netbe__gro_finish(uint8_t *f, size_t len, const struct netbe__gro_seg *a,
		       size_t pay, uint16_t mss, bool psh,
		       struct netbe_vnet_hdr *h)
{
	size_t tcplen = (size_t)a->hlen - a->l4 + pay;
	uint16_t sum;

	(void)len;
	if (a->v6) {
		put16(f + 18, (uint16_t)tcplen);
	} else {
		put16(f + 16, (uint16_t)(20 + tcplen));
		put16(f + 24, 0);
		sum = (uint16_t)~netbe__csum_fold(netbe__csum_add(0, f + 14, 20));
		memcpy(f + 24, &sum, 2);
	}
	f[a->l4 + 13] = (uint8_t)(TCP_ACK | (psh ? TCP_PSH : 0));
	sum = netbe__csum_fold(pseudo(f, a, tcplen));
	memcpy(f + a->l4 + 16, &sum, 2);
	memset(h, 0, sizeof(*h));
	h->flags = NETBE_VNET_HDR_F_NEEDS_CSUM;
	h->gso_type = a->v6 ? NETBE_VNET_HDR_GSO_TCPV6 : NETBE_VNET_HDR_GSO_TCPV4;
	h->hdr_len = htole16(a->hlen);
	h->gso_size = htole16(mss);
	h->csum_start = htole16(a->l4);
	h->csum_offset = htole16(16);
}
