/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offload_fwd - tapA <-> pipe:x <-> tapB on one poll loop, for the
 * end-to-end test and benchmark of software offloads.
 *
 *   offload_fwd soft|kernel SECONDS
 *
 * soft:   the taps are negotiated with GUEST_CSUM/TSO4/TSO6/ECN, so the
 *         kernel hands over 64 KiB GSO frames; the pipe carries no header
 *         and no offloads, so the library segments them in software.
 * kernel: the taps accept no offloads: the kernel segments and checksums
 *         before we read, and the library only forwards.
 * The taps are oA and oB in the current netns; the caller moves them.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netbe.h"

#define HDR 12
#define BURST 64

static uint8_t buf[NETBE_MAX_FRAME + HDR];

static void nop(int fd, int ev, void *p)
{
	(void)fd;
	(void)ev;
	(void)p;
}

static netbe_t *open_be(const char *spec)
{
	netbe_t *be;
	int r = netbe_open(&be, spec, NULL, nop, NULL);

	if (r < 0) {
		fprintf(stderr, "offload_fwd: %s: %s\n", spec, netbe_last_error());
		exit(r == -EPERM || r == -EACCES ? 77 : 1);
	}
	return be;
}

static void set_cap(netbe_t *be, uint64_t f)
{
	if (netbe_set_cap(be, f & netbe_get_cap(be), HDR) < 0) {
		fprintf(stderr, "offload_fwd: set_cap: %s\n", netbe_last_error());
		exit(1);
	}
}

/* Moves up to BURST frames from @from to @to; returns frames moved. */
static unsigned move(netbe_t *from, netbe_t *to, unsigned long *lost)
{
	struct iovec iov = { buf, sizeof(buf) };
	unsigned n = 0;
	ssize_t r;

	while (n < BURST && (r = netbe_recv(from, &iov, 1)) > 0) {
		struct iovec out = { buf, (size_t)r };

		if (netbe_send(to, &out, 1) < 0)
			(*lost)++;
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	uint64_t guest = NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 |
			 NETBE_F_GUEST_TSO6 | NETBE_F_GUEST_ECN;
	uint64_t host = NETBE_F_CSUM | NETBE_F_HOST_TSO4 |
			NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN;
	netbe_t *ta, *tb, *p1, *p2;
	struct netbe_stats st;
	unsigned long lost = 0;
	struct pollfd pfd[4];
	time_t end;
	bool soft;

	if (argc != 3 || (strcmp(argv[1], "soft") && strcmp(argv[1], "kernel"))) {
		fprintf(stderr, "usage: offload_fwd soft|kernel SECONDS\n");
		return 2;
	}
	soft = !strcmp(argv[1], "soft");
	setvbuf(stdout, NULL, _IOLBF, 0);
	ta = open_be("tap,ifname=oA,sndbuf=8388608");
	tb = open_be("tap,ifname=oB,sndbuf=8388608");
	p1 = open_be("pipe:offl-e2e");
	p2 = open_be("pipe:offl-e2e");
	/* The taps' peers (the namespaces' stacks) may always send us GSO:
	 * HOST_* on the pipes is what the engine provides. */
	set_cap(ta, soft ? guest | host : host);
	set_cap(tb, soft ? guest | host : host);
	set_cap(p1, soft ? host : 0);
	set_cap(p2, soft ? host : 0);
	printf("ready\n");
	end = time(NULL) + atoi(argv[2]);
	pfd[0] = (struct pollfd){ netbe_get_fd(ta), POLLIN, 0 };
	pfd[1] = (struct pollfd){ netbe_get_fd(p2), POLLIN, 0 };
	pfd[2] = (struct pollfd){ netbe_get_fd(tb), POLLIN, 0 };
	pfd[3] = (struct pollfd){ netbe_get_fd(p1), POLLIN, 0 };
	while (time(NULL) < end) {
		if (poll(pfd, 4, 200) <= 0)
			continue;
		move(ta, p1, &lost);
		move(p2, tb, &lost);
		move(tb, p2, &lost);
		move(p1, ta, &lost);
	}
	netbe_get_stats(ta, &st);
	printf("tapA rx %llu frames %llu bytes; ", (unsigned long long)st.rx_frames,
	       (unsigned long long)st.rx_bytes);
	netbe_get_stats(p2, &st);
	printf("pipe rx %llu frames; tx errors/drops %llu/%llu; lost %lu\n",
	       (unsigned long long)st.rx_frames, (unsigned long long)st.tx_errors,
	       (unsigned long long)st.tx_drops, lost);
	netbe_cleanup(ta);
	netbe_cleanup(tb);
	netbe_cleanup(p1);
	netbe_cleanup(p2);
	return 0;
}
