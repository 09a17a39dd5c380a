/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * encap.h - the VXLAN (RFC 7348) and Geneve (RFC 8926) headers: building
 * them, checking what a peer sent, the inner flow hash that picks the UDP
 * source port.  Pure functions over bytes (no sockets, no state), so the
 * fuzzer drives exactly what the backend runs.  Not installed.
 */
#ifndef NETBE_TUNNEL_ENCAP_H
#define NETBE_TUNNEL_ENCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum netbe__tun_proto {
	NETBE__TUN_VXLAN = 0,
	NETBE__TUN_GENEVE = 1,
};

#define NETBE__TUN_HDR 8	  /* the fixed header of both */
#define NETBE__GENEVE_OPT_MAX 252 /* 6-bit length in 4-byte words */
#define NETBE__TUN_HDR_MAX (NETBE__TUN_HDR + NETBE__GENEVE_OPT_MAX)
#define NETBE__TUN_VNI_MAX 0xffffffu
#define NETBE__VXLAN_PORT 4789	  /* IANA; Linux's default is 8472 */
#define NETBE__GENEVE_PORT 6081
#define NETBE__TUN_ETH 14	  /* an inner frame is at least this long */

/* Writes the fixed header for @vni (24 bits) into @h: VXLAN flags 0x08
 * and every reserved bit zero; Geneve version 0, no options, protocol
 * Transparent Ethernet Bridging (0x6558). */
void netbe__tun_encap(enum netbe__tun_proto proto, uint32_t vni,
		      uint8_t h[NETBE__TUN_HDR]);

/*
 * Checks the fixed header @h of a datagram of @len bytes that must carry
 * @vni.  True when good, with *@hlen the bytes before the inner frame
 * (8, or 8 + Geneve options: check those with netbe__geneve_opts); false
 * with *@why an enum netbe_drop reason: RUNT (no room for the header and
 * an Ethernet header), MALFORMED (VXLAN flags not exactly 0x08 or
 * reserved bits set; Geneve version not 0 or not Ethernet), SEGMENT
 * (another VNI, or a Geneve OAM/control frame).
 */
bool netbe__tun_check(enum netbe__tun_proto proto, const uint8_t *h,
		      size_t len, uint32_t vni, size_t *hlen, int *why);

/* Walks @n bytes of Geneve options: true when every TLV fits and none is
 * critical (we understand no option); false with *@why MALFORMED (a TLV
 * past the end) or SEGMENT (a critical option). */
bool netbe__geneve_opts(const uint8_t *opt, size_t n, int *why);

/* Both, over a datagram in one buffer (@d, @len bytes): the fuzzer's
 * entry and the unit tests'.  Same results as the two above. */
bool netbe__tun_decap(enum netbe__tun_proto proto, const uint8_t *d,
		      size_t len, uint32_t vni, size_t *hlen, int *why);

/* Bytes of an inner frame the flow hash reads (its first ones). */
#define NETBE__TUN_FLOW_BYTES 64

/* A hash of the inner frame's flow (@f, the first @len bytes): IPv4 or
 * IPv6 addresses and protocol, TCP/UDP ports, behind at most one VLAN
 * tag; the MAC addresses otherwise.  Same flow, same hash. */
uint32_t netbe__tun_flow_hash(const uint8_t *f, size_t len);

/* The UDP source port for @hash in [@lo, @hi]. */
uint16_t netbe__tun_src_port(uint32_t hash, uint16_t lo, uint16_t hi);

#endif
