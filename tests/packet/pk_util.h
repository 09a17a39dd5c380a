/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pk_util.h - helpers for the packet backend's tests: frames with a
 * recognisable body, waiting for our own frames among the kernel's, and
 * the Internet checksum.  Tests run inside a netns that packet_veth.sh
 * made, with a veth pair vA <-> vB.
 */
#ifndef PK_UTIL_H
#define PK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netbe.h"

#define PK_ETHERTYPE 0x88b5 /* IEEE local experimental */

void pk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						  noreturn));
#define PK_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			pk_fail(__VA_ARGS__);                                \
	} while (0)

/* The interface's MAC, read with SIOCGIFHWADDR. */
void pk_if_mac(const char *ifname, uint8_t mac[6]);
int pk_if_mtu(const char *ifname);

/* Opens @spec on @loop; fails the test when it cannot. */
netbe_t *pk_open(const char *spec, netbe_loop_t *loop);

/*
 * Builds a test frame @dst <- @src of @len bytes (>= 24): ethertype
 * PK_ETHERTYPE (behind an 802.1Q tag @vid when non-zero), then "NBPK",
 * the 32-bit @seq, then a pattern derived from @seq.  Returns @len.
 */
size_t pk_frame(uint8_t *buf, size_t len, const uint8_t dst[6],
		const uint8_t src[6], uint32_t seq, uint16_t vid);

/* Is @f (@len bytes) one of ours?  Stores its seq. */
bool pk_is_ours(const uint8_t *f, size_t len, uint32_t *seq);

/*
 * Receives the next frame of ours from @be into @buf (@room bytes, the
 * frontend's @hdr bytes of header first), skipping the kernel's own
 * traffic.  Returns its length (header included), 0 after @ms without one.
 */
size_t pk_recv_ours(netbe_t *be, uint8_t *buf, size_t room, size_t hdr,
		    int ms);

/* RFC 1071 sum of @len bytes added to @sum, and its folded complement. */
uint32_t pk_csum_add(uint32_t sum, const void *p, size_t len);
uint16_t pk_csum_fold(uint32_t sum);

#endif
