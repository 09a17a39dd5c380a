/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The VXLAN and Geneve headers, built and checked.
 *
 * Theory of operation
 *   Both put 8 bytes between the UDP header and the inner Ethernet frame:
 *
 *     VXLAN   flags(8)=0x08 | reserved(24) | VNI(24) | reserved(8)
 *     Geneve  ver(2) optlen(6) | O C rsvd(6) | protocol(16) | VNI(24) |
 *             reserved(8), then optlen * 4 bytes of options (TLVs:
 *             class(16) type(8, bit 7 "critical") rsvd(3) len(5) words)
 *
 *   Sending: VXLAN exactly as RFC 7348 says (the I flag alone, reserved
 *   bits zero - Linux drops anything else unless an extension is on);
 *   Geneve version 0, no options, protocol 0x6558.
 *
 *   Receiving, from an untrusted peer, checked as strictly as Linux does
 *   for VXLAN: flags exactly 0x08 and every reserved bit zero, else
 *   "malformed"; the VNI compared exactly, else "segment".  Geneve:
 *   version 0 and protocol 0x6558 (we carry Ethernet only), else
 *   "malformed"; an OAM (O bit) frame is control traffic for the tunnel
 *   endpoint, not for the segment, so it is dropped as "segment", as is a
 *   frame with a critical option (RFC 8926 3.5: an endpoint that does not
 *   understand a critical option must drop the frame; we understand
 *   none); non-critical options are skipped.  Every TLV must end inside
 *   the option area and the option area inside the datagram.  The
 *   reserved bits of Geneve are ignored on receipt, as the RFC says.
 *
 *   The flow hash gives ECMP and RSS on the underlay the entropy the
 *   kernel's vxlan gives (udp_flow_src_port): same inner flow, same UDP
 *   source port, so one TCP flow is never reordered across paths.
 */
#include <string.h>

#include "netbe.h"
#include "tunnel/encap.h"

#define VXLAN_FLAG_I 0x08
#define GENEVE_ETH 0x6558
#define GENEVE_O 0x80
#define GENEVE_CRIT 0x80

void netbe__tun_encap(enum netbe__tun_proto proto, uint32_t vni,
		      uint8_t h[NETBE__TUN_HDR])
{
	memset(h, 0, NETBE__TUN_HDR);
	if (proto == NETBE__TUN_VXLAN) {
		h[0] = VXLAN_FLAG_I;
	} else {
		h[2] = GENEVE_ETH >> 8;
		h[3] = GENEVE_ETH & 0xff;
	}
	h[4] = (uint8_t)(vni >> 16);
	h[5] = (uint8_t)(vni >> 8);
	h[6] = (uint8_t)vni;
}

static uint32_t hdr_vni(const uint8_t *h)
{
	return (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6];
}

static bool fail(int *why, int reason)
{
	*why = reason;
	return false;
}

static bool vxlan_check(const uint8_t *h, uint32_t vni, size_t *hlen,
			int *why)
{
	if (h[0] != VXLAN_FLAG_I || h[1] || h[2] || h[3] || h[7])
		return fail(why, NETBE_DROP_MALFORMED);
	if (hdr_vni(h) != vni)
		return fail(why, NETBE_DROP_SEGMENT);
	*hlen = NETBE__TUN_HDR;
	return true;
}

static bool geneve_check(const uint8_t *h, size_t len, uint32_t vni,
			 size_t *hlen, int *why)
{
	size_t opt = (size_t)(h[0] & 0x3f) * 4;

	if (h[0] >> 6 || (h[2] << 8 | h[3]) != GENEVE_ETH)
		return fail(why, NETBE_DROP_MALFORMED);
	if (len < NETBE__TUN_HDR + opt + NETBE__TUN_ETH)
		return fail(why, NETBE_DROP_RUNT);
	if ((h[1] & GENEVE_O) || hdr_vni(h) != vni)
		return fail(why, NETBE_DROP_SEGMENT);
	*hlen = NETBE__TUN_HDR + opt;
	return true;
}

bool netbe__tun_check(enum netbe__tun_proto proto, const uint8_t *h,
		      size_t len, uint32_t vni, size_t *hlen, int *why)
{
	if (len < NETBE__TUN_HDR + NETBE__TUN_ETH)
		return fail(why, NETBE_DROP_RUNT);
	if (proto == NETBE__TUN_VXLAN)
		return vxlan_check(h, vni, hlen, why);
	return geneve_check(h, len, vni, hlen, why);
}

bool netbe__geneve_opts(const uint8_t *opt, size_t n, int *why)
{
	size_t off = 0;

	while (off < n) {
		size_t tlv;

		if (n - off < 4)
			return fail(why, NETBE_DROP_MALFORMED);
		tlv = 4 + (size_t)(opt[off + 3] & 0x1f) * 4;
		if (tlv > n - off)
			return fail(why, NETBE_DROP_MALFORMED);
		if (opt[off + 2] & GENEVE_CRIT)
			return fail(why, NETBE_DROP_SEGMENT);
		off += tlv;
	}
	return true;
}

bool netbe__tun_decap(enum netbe__tun_proto proto, const uint8_t *d,
		      size_t len, uint32_t vni, size_t *hlen, int *why)
{
	if (!netbe__tun_check(proto, d, len, vni, hlen, why))
		return false;
	return *hlen == NETBE__TUN_HDR ||
	       netbe__geneve_opts(d + NETBE__TUN_HDR,
				  *hlen - NETBE__TUN_HDR, why);
}

/* ---- the flow hash -------------------------------------------------------- */

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v * 0xcc9e2d51u;
	h = (h << 13 | h >> 19) * 5 + 0xe6546b64u;
	return h;
}

static uint32_t mix_bytes(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = mix(h, p[i]);
	return h;
}

/* Hashes the transport ports at @l4 when they are within @end. */
static uint32_t mix_ports(uint32_t h, const uint8_t *f, size_t l4,
			  size_t len, uint8_t proto)
{
	if ((proto != 6 && proto != 17) || len < l4 + 4)
		return h;
	return mix_bytes(mix(h, proto), f + l4, 4);
}

static uint32_t hash_ip(uint32_t h, const uint8_t *f, size_t l3,
			size_t len, uint16_t type)
{
	if (type == 0x0800 && len >= l3 + 20) {
		size_t ihl = (size_t)(f[l3] & 0xf) * 4;
		bool frag = (f[l3 + 6] & 0x3f) || f[l3 + 7];

		h = mix_bytes(h, f + l3 + 12, 8);
		return frag ? mix(h, f[l3 + 9])
			    : mix_ports(h, f, l3 + ihl, len, f[l3 + 9]);
	}
	if (type == 0x86dd && len >= l3 + 40) {
		h = mix_bytes(h, f + l3 + 8, 32);
		return mix_ports(h, f, l3 + 40, len, f[l3 + 6]);
	}
	return mix_bytes(h, f, 12);
}

uint32_t netbe__tun_flow_hash(const uint8_t *f, size_t len)
{
	size_t l3 = 14;
	uint16_t type;
	uint32_t h = 0x9747b28cu;

	if (len < 14)
		return mix_bytes(h, f, len);
	type = (uint16_t)(f[12] << 8 | f[13]);
	if ((type == 0x8100 || type == 0x88a8) && len >= 18) {
		type = (uint16_t)(f[16] << 8 | f[17]);
		l3 = 18;
	}
	h = hash_ip(h, f, l3, len, type);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

uint16_t netbe__tun_src_port(uint32_t hash, uint16_t lo, uint16_t hi)
{
	uint32_t span = (uint32_t)hi - lo + 1;

	return (uint16_t)(lo + (uint32_t)(((uint64_t)hash * span) >> 32));
}
