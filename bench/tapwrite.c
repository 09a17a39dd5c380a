/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tapwrite - the raw tap path: one tap fd, the same frame written in a
 * tight loop with no library in between.  The baseline the tap backend's
 * per-frame overhead is measured against (bench/run-packet-bench.sh), as
 * rawsend is for packet and xdpsend for xdp.
 *
 *   usage: tapwrite IFNAME [--size BYTES] [--duration SEC] [--mtu N]
 *                          [--vnet-hdr 0|10|12] [--writev]
 *
 * Theory of operation
 *   It creates (or attaches to) tap IFNAME the way src/backends/tap.c does
 *   for "tap,ifname=IFNAME,up=on": IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 *   TUNSETVNETHDRSZ 10, no offloads (TUNSETOFFLOAD 0), a non-blocking fd,
 *   the interface brought up (and its MTU set with --mtu).  That is what
 *   the backend writes for a frontend with no header of its own (netbe
 *   bench's case): a zeroed 10-byte virtio-net header, then the frame.
 *   Here both sit in one prebuilt buffer and go out with one write() per
 *   frame; --writev sends them as two iovecs, as the backend does.
 *   --vnet-hdr 0 drops IFF_VNET_HDR (frame only); 12 is the mergeable
 *   header's size.  A write() refused with EAGAIN/ENOBUFS counts in
 *   "fails".
 *
 *   Prints the same JSON line as rawsend (mode "tap", "tap-writev").  The
 *   frame is rawsend's: to a locally administered unicast MAC, EtherType
 *   0x88b5, so the host stack drops it early.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "benchclock.h"

#define HDR_MAX 12

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, const char *ifname)
{
	fprintf(stderr, "tapwrite: %s %s: %s\n", what, ifname, strerror(errno));
	exit(1);
}

/* Brings @ifname up, with @mtu when non-zero, on a throwaway socket. */
static void link_setup(const char *ifname, int mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0)
		die("socket for", ifname);
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			die("SIOCSIFMTU", ifname);
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS", ifname);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS", ifname);
	close(s);
}

static int tap_open(const char *ifname, int hdrlen)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/net/tun for", ifname);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (hdrlen ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF", ifname);
	if (hdrlen && (ioctl(fd, TUNSETVNETHDRSZ, &hdrlen) < 0 ||
		       ioctl(fd, TUNSETOFFLOAD, 0) < 0))
		die("TUNSETVNETHDRSZ/TUNSETOFFLOAD", ifname);
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char buf[HDR_MAX + 65536];
	size_t size = 64;
	double dur = 5, t0, c0, wall, cpu;
	int hdrlen = 10, mtu = 0, fd;
	bool use_writev = false;
	uint64_t frames = 0, fails = 0;
	struct iovec iov[2];
	ssize_t want;

	if (argc < 2) {
		fprintf(stderr, "usage: tapwrite IFNAME [--size B] "
				"[--duration S] [--mtu N] [--vnet-hdr 0|10|12] "
				"[--writev]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "0";

		if (!strcmp(argv[i], "--writev"))
			use_writev = true;
		else if (!strcmp(argv[i], "--size") && ++i)
			size = strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--duration") && ++i)
			dur = strtod(v, NULL);
		else if (!strcmp(argv[i], "--mtu") && ++i)
			mtu = atoi(v);
		else if (!strcmp(argv[i], "--vnet-hdr") && ++i)
			hdrlen = atoi(v);
	}
	if (size < 60 || size > 65536 ||
	    (hdrlen != 0 && hdrlen != 10 && hdrlen != 12)) {
		fprintf(stderr, "tapwrite: bad --size or --vnet-hdr\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fd = tap_open(argv[1], hdrlen);
	link_setup(argv[1], mtu);
	/* buf: a zeroed header (no offload: a plain frame), then the frame */
	memcpy(buf + hdrlen, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x88\xb5", 14);
	for (size_t i = 14; i < size; i++)
		buf[hdrlen + i] = (unsigned char)i;
	iov[0] = (struct iovec){ buf, (size_t)hdrlen };
	iov[1] = (struct iovec){ buf + hdrlen, size };
	want = (ssize_t)(hdrlen + size);
	t0 = now_s();
	c0 = cpu_s();
	while (!stop && now_s() < t0 + dur) {
		ssize_t n = use_writev ? writev(fd, iov, 2)
				       : write(fd, buf, (size_t)want);

		if (n == want)
			frames++;
		else
			fails++;
	}
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	printf("{\"bench\":\"tapwrite\",\"mode\":\"%s\",\"spec\":\"%s\","
	       "\"size\":%zu,\"batch\":1,\"vnet_hdr\":%d,\"frames\":%llu,"
	       "\"fails\":%llu,\"wall_s\":%.4f,\"cpu_s\":%.4f,\"mpps\":%.4f,"
	       "\"gbps\":%.4f,\"mpps_per_core\":%.4f}\n",
	       use_writev ? "tap-writev" : "tap", argv[1], size, hdrlen,
	       (unsigned long long)frames, (unsigned long long)fails, wall, cpu,
	       frames / wall / 1e6, frames * size * 8 / wall / 1e9,
	       cpu > 0 ? frames / cpu / 1e6 : 0);
	close(fd);
	return 0;
}
