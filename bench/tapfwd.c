/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tapfwd - the floor of any userspace switch with taps: two taps patched
 * by the shortest loop that can do it, with no library in between.  The
 * raw baseline `netbe switch` and `netbe connect` are measured against in
 * bench/run-switch-bench.sh (contenders raw and raw-spin), as rawsend is
 * for packet and tapwrite for the tap backend's writes.
 *
 *   usage: tapfwd [--spin] TAP_A TAP_B
 *
 * Theory of operation
 *   Both taps are opened as src/backends/tap.c opens a tap whose peer
 *   takes every offload: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 10-byte
 *   virtio-net header, TUNSETOFFLOAD CSUM | TSO4 | TSO6 | TSO_ECN, a
 *   non-blocking fd.  Both ends agree on the header and the offloads, so
 *   a frame read from one tap, header and all, is written to the other
 *   unchanged: one read(2) and one write(2) per frame, one copy into this
 *   process and one out of it, a 64 KiB TSO frame whole.  That is the
 *   least work a process between two taps can do; what a switch adds
 *   (learning, queues, counters, batching through io_uring) is measured
 *   against it.
 *
 *   Without --spin the loop sleeps in poll(2) on both fds and, when one
 *   is readable, drains it up to 64 frames a turn.  With --spin it never
 *   sleeps: it reads both fds in turn until SIGINT or SIGTERM (the
 *   floor of a busy-polling switch).  A write(2) the kernel refuses is
 *   counted and the frame is dropped (tun does not push back on writes).
 *
 *   On SIGINT or SIGTERM it prints one JSON line: frames each way, write
 *   errors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define BURST 64
#define FRAME_MAX (65536 + 64)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int open_tap(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	unsigned int offl = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
			    TUN_F_TSO_ECN;
	int hdr = 10;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, offl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct dir {
	int from, to;
	unsigned long long frames, errors;
};

/* Moves up to BURST frames; true when the source had more. */
static bool forward(struct dir *d, unsigned char *buf)
{
	for (int i = 0; i < BURST; i++) {
		ssize_t n = read(d->from, buf, FRAME_MAX);

		if (n <= 0)
			return false;
		if (write(d->to, buf, (size_t)n) != n)
			d->errors++;
		else
			d->frames++;
	}
	return true;
}

static void run(struct dir *d, bool spin)
{
	static unsigned char buf[FRAME_MAX];
	struct pollfd pfd[2] = { { .fd = d[0].from, .events = POLLIN },
				 { .fd = d[1].from, .events = POLLIN } };

	while (!stop) {
		bool more = forward(&d[0], buf);

		more |= forward(&d[1], buf);
		if (!more && !spin)
			poll(pfd, 2, -1);
	}
}

int main(int argc, char **argv)
{
	bool spin = argc > 1 && strcmp(argv[1], "--spin") == 0;
	struct sigaction sa = { .sa_handler = on_signal };
	struct dir d[2];
	int a, b;

	if (argc != 3 + spin) {
		fprintf(stderr, "usage: tapfwd [--spin] TAP_A TAP_B\n");
		return 2;
	}
	a = open_tap(argv[1 + spin]);
	b = open_tap(argv[2 + spin]);
	if (a < 0 || b < 0) {
		fprintf(stderr, "tapfwd: cannot open the taps: %s\n",
			strerror(errno));
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	d[0] = (struct dir){ .from = a, .to = b };
	d[1] = (struct dir){ .from = b, .to = a };
	run(d, spin);
	printf("{\"mode\":\"%s\",\"frames_ab\":%llu,\"frames_ba\":%llu,"
	       "\"write_errors\":%llu}\n", spin ? "tapfwd-spin" : "tapfwd",
	       d[0].frames, d[1].frames, d[0].errors + d[1].errors);
	return 0;
}
