/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_peek - what netbe_peek_recvlen() costs on a tap, run by hand as root:
 *     build/bench/tap_peek [ROUNDS]
 *
 * Linux tap cannot report the next frame's length without dequeuing it
 * (FIONREAD/SIOCINQ: EINVAL), so a peek reads the frame into a bounce
 * buffer and the following recv() copies it out; a recv() alone reads
 * straight into the caller's buffer.  This measures both, per frame, for
 * 60-byte, 1514-byte and 64 KiB (GSO) frames.
 *
 * In a private netns two netbe taps share a bridge; each round writes a
 * burst of frames into tap A and times only the reads on tap B (which
 * accepts TSO, so a 64 KiB GSO frame arrives whole).
 */
#include <endian.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "netbe.h"

#define BURST 256 /* below the tap's 1000-frame queue */
#define HDR NETBE_VNET_HDR_MRG_LEN

static uint8_t frame[NETBE_MAX_FRAME + HDR], rx[NETBE_MAX_FRAME + HDR];

static void noop(int fd, int ev, void *p)
{
	(void)fd;
	(void)ev;
	(void)p;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int bridge_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int r = -1;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s >= 0 && ioctl(s, SIOCBRADDBR, name) == 0 &&
	    ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return r;
}

/* br_netfilter, when loaded, drops IPv4 with a bad header checksum. */
static void ip_csum(uint8_t *ip)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
}

/* An IPv4/TCP frame of @len bytes (zero payload, TCP checksum not
 * checked on a bridge); above 1514 bytes a GSO TCPv4 frame. */
static size_t build(size_t len, struct netbe_vnet_hdr *h)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1,
					 0x08, 0x00 };
	uint8_t *ip = frame + 14;

	memset(h, 0, sizeof(*h));
	memset(frame, 0, len);
	memcpy(frame, eth, 14);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8);
	ip[3] = (uint8_t)(len - 14);
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 192, ip[15] = 1, ip[16] = 192, ip[19] = 2;
	ip[20 + 12] = 5 << 4;
	ip_csum(ip);
	if (len > 1514) {
		h->flags = NETBE_VNET_HDR_F_NEEDS_CSUM;
		h->gso_type = NETBE_VNET_HDR_GSO_TCPV4;
		h->hdr_len = htole16(54);
		h->gso_size = htole16(1448);
		h->csum_start = htole16(34);
		h->csum_offset = htole16(16);
	}
	return len;
}

static double run(netbe_t *a, netbe_t *b, size_t len, int peek, int rounds)
{
	struct netbe_vnet_hdr h;
	size_t flen = build(len, &h);
	struct iovec tx[2] = { { &h, HDR }, { frame, flen } };
	struct iovec iov = { rx, sizeof(rx) };
	double t = 0;
	long frames = 0;

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < BURST; i++)
			netbe_send(a, tx, 2);
		usleep(len > 1514 ? 20000 : 2000); /* let the bridge deliver */
		double t0 = now_ns();
		for (;;) {
			ssize_t n;

			if (peek && netbe_peek_recvlen(b) <= 0)
				break;
			n = netbe_recv(b, &iov, 1);
			if (n <= 0)
				break;
			frames++;
		}
		t += now_ns() - t0;
	}
	return frames ? t / frames : 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;
	static const size_t sizes[] = { 60, 1514, 65000 };
	uint64_t g = NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4;
	netbe_t *a, *b;

	if (unshare(CLONE_NEWNET) < 0 || bridge_up("br0") < 0) {
		printf("needs root: %s\n", strerror(errno));
		return 77;
	}
	if (netbe_open(&a, "tap,ifname=pa,bridge=br0", NULL, noop, NULL) ||
	    netbe_open(&b, "tap,ifname=pb,bridge=br0", NULL, noop, NULL) ||
	    netbe_set_cap(a, NETBE_F_CSUM | NETBE_F_HOST_TSO4, HDR) ||
	    netbe_set_cap(b, g, HDR)) {
		printf("open: %s\n", netbe_last_error());
		return 1;
	}
	printf("%-8s %14s %14s %8s\n", "frame", "recv ns/frame",
	       "peek+recv ns", "extra");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Alternate the order so warm-up favours neither side. */
		double p = run(a, b, sizes[i], 1, rounds / 2);
		double d = run(a, b, sizes[i], 0, rounds);

		p = (p + run(a, b, sizes[i], 1, rounds / 2)) / 2;

		printf("%-8zu %14.0f %14.0f %7.0f%%\n", sizes[i], d, p,
		       d ? (p - d) * 100 / d : 0);
	}
	netbe_cleanup(a);
	netbe_cleanup(b);
	return 0;
}
