/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_batch - the tap backend's batches (netbe_send_batch and
 * netbe_recv_batch), through io_uring (uring=on; with sndbuf= the writes
 * of a batch are linked) and one call per frame (uring=off), carry real
 * frames through the kernel in order.
 *
 * In a private netns two netbe taps A and B sit on bridge br0, which
 * floods A's frames (to a MAC it never learns) to B.  For each mode:
 *   - a batch of 48 TCP frames of mixed sizes sent on A with one
 *     netbe_send_batch() arrives on B in order, checksums valid, through
 *     receive batches, and the counters agree;
 *   - frames too big for some receive buffers of a batch are dropped and
 *     counted as no-room while the small ones between them arrive intact
 *     and in order;
 *   - a frame netbe_peek_recvlen() looked at comes first in the next
 *     batch;
 *   - after netbe_cleanup() the interfaces are gone at once (the same
 *     names are created again by the next mode).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap_util.h"

#define HDR NETBE_VNET_HDR_MRG_LEN
#define NFRAMES 48
#define BIG (HDR + 2048)

static uint8_t txbuf[NFRAMES][BIG];
static uint8_t rxbuf[64][BIG];

/* Frame i of a run: a payload size that varies, 20 to 1400 bytes. */
static size_t payload_of(unsigned i)
{
	return 20 + (i * 337) % 1381;
}

static netbe_t *open_tap(const char *name, const char *mode,
			 netbe_loop_t *loop)
{
	char spec[96];
	netbe_t *be;
	int r;

	snprintf(spec, sizeof(spec), "tap,ifname=%s,bridge=br0,%s", name,
		 mode);
	be = tu_open(spec, loop);
	r = netbe_set_cap(be, netbe_get_cap(be) & NETBE_OFFLOAD_MASK, HDR);
	TU_CHECK(r == 0, "set_cap %s: %d %s", spec, r, netbe_last_error());
	return be;
}

/* Sends frames @seq0.. with the given payload sizes in one batch. */
static void send_run(netbe_t *a, uint32_t seq0, const size_t *pay, int n)
{
	struct iovec iov[NFRAMES];
	struct netbe_msg m[NFRAMES];
	int r;

	for (int i = 0; i < n; i++) {
		memset(txbuf[i], 0, HDR);
		iov[i].iov_base = txbuf[i];
		iov[i].iov_len = HDR + tu_tcp_frame(txbuf[i] + HDR,
						    seq0 + (uint32_t)i, pay[i], 0);
		m[i] = (struct netbe_msg){ &iov[i], 1, 0 };
	}
	r = netbe_send_batch(a, m, n);
	TU_CHECK(r == n, "send_batch: %d of %d (%s)", r, n,
		 netbe_last_error());
}

/* Receives one batch into buffers of @room bytes each; stores the
 * sequence numbers of our flow's frames (at most @max) in @seqs and
 * returns how many came.  Other traffic is skipped. */
static int recv_run(netbe_t *b, size_t room, uint32_t *seqs, int max)
{
	struct iovec iov[64];
	struct netbe_msg m[64];
	int r, ours = 0;

	for (int i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ rxbuf[i], room };
		m[i] = (struct netbe_msg){ &iov[i], 1, 0 };
	}
	r = netbe_recv_batch(b, m, 64);
	TU_CHECK(r >= 0, "recv_batch: %d %s", r, netbe_last_error());
	for (int i = 0; i < r; i++) {
		uint32_t seq;
		long p = tu_tcp_check(rxbuf[i] + HDR, m[i].len - HDR, &seq);

		TU_CHECK(p != -2, "frame %d of a batch: bad checksum", i);
		if (p < 0)
			continue; /* not our flow */
		TU_CHECK(ours < max, "more frames than sent");
		seqs[ours++] = seq;
	}
	return ours;
}

/* Collects @n frames of our flow on @b, in batches, within 2 s. */
static int collect(netbe_t *b, size_t room, uint32_t *seqs, int n)
{
	int have = 0;

	for (int tries = 0; have < n && tries < 200; tries++) {
		have += recv_run(b, room, seqs + have, n - have);
		if (have < n)
			tu_wait(b, 10);
	}
	return have;
}

static uint64_t noroom(netbe_t *b)
{
	uint64_t d[NETBE_DROP_NREASONS] = { 0 };

	netbe_get_drops(b, NETBE_RX, d, NETBE_DROP_NREASONS);
	return d[NETBE_DROP_NOROOM];
}

static void check_order(const char *mode, const uint32_t *seqs, int n,
			uint32_t seq0, int step)
{
	for (int i = 0; i < n; i++)
		TU_CHECK(seqs[i] == seq0 + (uint32_t)(i * step),
			 "%s: frame %d has seq %u, want %u", mode, i, seqs[i],
			 seq0 + (uint32_t)(i * step));
}

/* 48 frames of mixed sizes in one batch, received in order. */
static void t_order(const char *mode, netbe_t *a, netbe_t *b)
{
	size_t pay[NFRAMES];
	uint32_t seqs[NFRAMES];
	struct netbe_stats sa, sb;
	int got;

	for (int i = 0; i < NFRAMES; i++)
		pay[i] = payload_of((unsigned)i);
	send_run(a, 1000, pay, NFRAMES);
	got = collect(b, BIG, seqs, NFRAMES);
	TU_CHECK(got == NFRAMES, "%s: %d of %d frames arrived", mode, got,
		 NFRAMES);
	check_order(mode, seqs, got, 1000, 1);
	netbe_get_stats(a, &sa);
	netbe_get_stats(b, &sb);
	TU_CHECK(sa.tx_frames >= NFRAMES && sb.rx_frames >= NFRAMES,
		 "%s: counted tx %llu rx %llu", mode,
		 (unsigned long long)sa.tx_frames,
		 (unsigned long long)sb.rx_frames);
}

/* Big and small frames alternate; buffers hold only the small ones. */
static void t_noroom(const char *mode, netbe_t *a, netbe_t *b)
{
	size_t pay[8];
	uint32_t seqs[8];
	uint64_t d0 = noroom(b);
	int got;

	for (int i = 0; i < 8; i++)
		pay[i] = i % 2 ? 100 : 1000;
	send_run(a, 5000, pay, 8);
	got = collect(b, HDR + 400, seqs, 4);
	TU_CHECK(got == 4, "%s: %d small frames arrived, want 4", mode, got);
	check_order(mode, seqs, got, 5001, 2);
	/* The last frame is small: every big one came before it. */
	TU_CHECK(noroom(b) - d0 == 4, "%s: %llu no-room drops, want 4", mode,
		 (unsigned long long)(noroom(b) - d0));
}

/* A peeked frame is the first of the next batch. */
static void t_peek(const char *mode, netbe_t *a, netbe_t *b)
{
	size_t pay[3] = { 300, 40, 900 };
	uint32_t seqs[3];
	ssize_t len = 0;
	int got;

	send_run(a, 9000, pay, 3);
	for (int i = 0; i < 100 && len == 0; i++) {
		tu_wait(b, 20);
		len = netbe_peek_recvlen(b);
	}
	TU_CHECK(len > 0, "%s: peek: %zd", mode, len);
	got = collect(b, BIG, seqs, 3);
	TU_CHECK(got == 3, "%s: %d of 3 frames after a peek", mode, got);
	check_order(mode, seqs, got, 9000, 1);
}

static void run_mode(const char *mode, netbe_loop_t *loop)
{
	netbe_t *a = open_tap("tba0", mode, loop);
	netbe_t *b = open_tap("tbb0", mode, loop);

	/* Let the bridge forward (no STP delay) and the taps come up. */
	for (int i = 0; i < 50 && !tu_wait(b, 0); i++)
		tu_wait(b, 20);
	for (int i = 0; i < 4; i++)
		recv_run(b, BIG, NULL, 0); /* whatever the kernel sent first */
	t_order(mode, a, b);
	t_noroom(mode, a, b);
	t_peek(mode, a, b);
	netbe_cleanup(a);
	netbe_cleanup(b);
	printf("%s: ok\n", mode);
}

int main(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int off = 0;
	netbe_loop_t *loop;

	tu_enter_netns();
	if (f) {
		if (fscanf(f, "%d", &off) != 1)
			off = 0;
		fclose(f);
	}
	if (off) {
		printf("SKIP: io_uring is disabled here "
		       "(kernel.io_uring_disabled=%d)\n", off);
		return TU_SKIP;
	}
	tu_bridge("br0");
	TU_CHECK(netbe_loop_new(&loop) == 0, "netbe_loop_new: %s",
		 netbe_last_error());
	run_mode("uring=on", loop);
	run_mode("uring=off", loop);
	run_mode("uring=on,sndbuf=1048576", loop); /* linked writes */
	run_mode("uring=on", loop); /* the names are free again at once */
	netbe_loop_free(loop);
	printf("PASS\n");
	return 0;
}
