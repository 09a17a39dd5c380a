/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gro.h - receive coalescing for the tunnel backends: consecutive TCP
 * segments of one flow, decapsulated, merged into one GSO frame with a
 * virtio-net header, so a tap or a guest takes 64 KiB per write instead
 * of one MSS.  Pure functions over linear frames.  Not installed.
 */
#ifndef NETBE_TUNNEL_GRO_H
#define NETBE_TUNNEL_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netbe.h"

/* One TCP segment of an untagged Ethernet frame. */
struct netbe__gro_seg {
	uint16_t l4;	  /* offset of the TCP header */
	uint16_t hlen;	  /* Ethernet + IP + TCP headers */
	uint32_t seq;	  /* host order */
	size_t pay;	  /* payload bytes */
	bool v6;
	bool psh;	  /* PSH: the last segment a merge may take */
};

/*
 * True when frame @f (@len bytes) is a TCP segment that may be merged:
 * IPv4 without options or fragments, or IPv6 with TCP as the next
 * header; flags ACK or ACK|PSH only; some payload; its checksum right
 * (checked here: the merged frame's checksum is the receiver's to trust).
 */
bool netbe__gro_parse(const uint8_t *f, size_t len, struct netbe__gro_seg *s);

/* True when segment @b (frame @fb) continues the flow of @a (frame @fa)
 * at sequence @next: every header byte the same but lengths, IPv4 id and
 * checksums, and PSH. */
bool netbe__gro_follows(const uint8_t *fa, const struct netbe__gro_seg *a,
			uint32_t next, const uint8_t *fb,
			const struct netbe__gro_seg *b);

/*
 * Makes frame @f (@len bytes: @a's headers, then @pay payload bytes
 * merged from segments of @mss bytes) one GSO frame: IP lengths, the IPv4
 * header checksum, the TCP checksum left partial (the pseudo-header sum),
 * and @h: NEEDS_CSUM, TCPV4/TCPV6, gso_size @mss.
 */
void netbe__gro_finish(uint8_t *f, size_t len, const struct netbe__gro_seg *a,
		       size_t pay, uint16_t mss, bool psh,
		       struct netbe_vnet_hdr *h);

#endif
