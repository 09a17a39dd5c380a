/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_util.h - helpers shared by the tap integration tests.
 *
 * Every test runs in a private, anonymous network namespace (unshare):
 * it cannot touch the host's interfaces, and the kernel deletes the
 * namespace with everything in it when the test exits, however it exits.
 */
#ifndef TAP_UTIL_H
#define TAP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "netbe.h"

#define TU_SKIP 77

/* Prints "SKIP: reason" and exits 77 unless we are root, can create a
 * network namespace and open /dev/net/tun; then enters a new netns. */
void tu_enter_netns(void);

/* Prints "FAIL: ..." and exits 1. */
void tu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						  noreturn));
#define TU_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			tu_fail(__VA_ARGS__);                                \
	} while (0)

/* Creates bridge @name (no STP) and brings it up; skips if it cannot. */
void tu_bridge(const char *name);

/* Opens @spec on @loop with a no-op callback; fails the test on error. */
netbe_t *tu_open(const char *spec, netbe_loop_t *loop);

/* Waits up to @ms for @be's fd to become readable; 1 when it did. */
int tu_wait(netbe_t *be, int ms);

/* Big-endian field access for hand-built frames. */
void tu_put16(uint8_t *p, unsigned v);
void tu_put32(uint8_t *p, uint32_t v);
uint32_t tu_get32(const uint8_t *p);

/* Internet checksum helpers (RFC 1071). */
uint32_t tu_csum_add(uint32_t sum, const void *p, size_t len);
uint16_t tu_csum_fold(uint32_t sum);

/* Builds an Ethernet/IPv4/TCP frame 02:..:01 -> 02:..:02, 192.0.2.1:40000
 * -> 192.0.2.2:5001, seq @seq, @payload bytes of a counting pattern, into
 * @buf.  With @partial the TCP checksum holds only the pseudo-header sum
 * (NEEDS_CSUM, as a guest doing TSO sends it), else the full checksum.
 * Returns the frame length. */
size_t tu_tcp_frame(uint8_t *buf, uint32_t seq, size_t payload, int partial);

/* Checks an Ethernet/IPv4/TCP frame: both checksums valid.  Returns the
 * TCP payload length and stores seq, or -1 when it is not our TCP flow
 * (other traffic), -2 on a bad checksum. */
long tu_tcp_check(const uint8_t *frame, size_t len, uint32_t *seq);

#endif
