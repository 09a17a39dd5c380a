/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offload_cost - what the software offload engine costs per 64 KiB TSO
 * frame (IPv4, MSS 1448: 45 segments), wall clock, one core:
 *   sg:       the frame as 4 KiB iovec pieces (as guest pages arrive);
 *             segments reference the payload (what netbe does)
 *   flatten:  the same, copied into one buffer first
 *   copy-out: sg, then each segment copied into a buffer of its own (what
 *             a backend without scatter-gather send would force)
 *   csum:     just the checksum over 64 KiB, the floor for any method
 *   build/bench/offload_cost [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netbe_int.h"
#include "offload.h"

#define PAY 65000
#define MSS 1448

static uint8_t frame[NETBE_MAX_FRAME], flat[NETBE_MAX_FRAME];
static uint8_t segbuf[64][2048];
static struct netbe_msg msgs[64];
static struct iovec oiov[2048];
static uint8_t arena[64 * 300];
static volatile uint64_t sink;

static int emit_none(void *arg, struct netbe_msg *m, int n)
{
	(void)arg;
	sink += m[0].iovcnt;
	return n;
}

static int emit_copy(void *arg, struct netbe_msg *m, int n)
{
	(void)arg;
	for (int i = 0; i < n; i++) {
		size_t off = 0;

		for (int k = 0; k < m[i].iovcnt; k++) {
			memcpy(segbuf[i] + off, m[i].iov[k].iov_base,
			       m[i].iov[k].iov_len);
			off += m[i].iov[k].iov_len;
		}
		sink += segbuf[i][off - 1];
	}
	return n;
}

static size_t build(void)
{
	static const uint8_t hdr[54] = {
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1,
		192, 0, 2, 2, 0x9c, 0x40, 0x13, 0x89, 0, 0, 0, 1, 0, 0, 0, 0,
		0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
	};

	memcpy(frame, hdr, sizeof(hdr));
	for (size_t i = 0; i < PAY; i++)
		frame[54 + i] = (uint8_t)(i * 7);
	return 54 + PAY;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(const char *mode, size_t len, int iters)
{
	struct netbe_vnet_hdr h = { .flags = 1, .gso_type = 1, .hdr_len = 54,
				    .gso_size = MSS, .csum_start = 34,
				    .csum_offset = 16 };
	struct netbe__offl_out o = { .arena = arena, .arena_cap = sizeof(arena),
				     .msgs = msgs, .msgs_cap = 64, .iov = oiov,
				     .iov_cap = 2048 };
	struct iovec in[32], one = { flat, len };
	struct netbe__offl_frame f;
	int n = 0;
	double t0;

	for (size_t off = 0; off < len; off += 4096)
		in[n++] = (struct iovec){ frame + off,
					  len - off < 4096 ? len - off : 4096 };
	t0 = now();
	for (int i = 0; i < iters; i++) {
		if (!strcmp(mode, "csum")) {
			sink += netbe__csum_iov(0, in, n, 0, len);
			continue;
		}
		if (!strcmp(mode, "flatten")) {
			netbe__iov_to_buf(in, n, 0, flat, len);
			if (netbe__offl_parse(&h, &one, 1, len, &f) ||
			    netbe__offl_emit(&f, &one, 1, &o, emit_none, NULL) != 45)
				abort();
			continue;
		}
		if (netbe__offl_parse(&h, in, n, len, &f) ||
		    netbe__offl_emit(&f, in, n, &o,
				     strcmp(mode, "sg") ? emit_copy : emit_none,
				     NULL) != 45)
			abort();
	}
	return (now() - t0) / iters * 1e9;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 20000;
	static const char *const modes[] = { "csum", "sg", "flatten", "copy-out" };
	size_t len = build();

	printf("64 KiB TSO frame (45 segments), %d iterations\n", iters);
	for (size_t m = 0; m < 4; m++) {
		double ns = run(modes[m], len, iters);

		printf("%-9s %8.0f ns/frame  %6.2f GB/s\n", modes[m], ns,
		       (double)len / ns);
	}
	return 0;
}
