/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers for the packet backend's tests (see pk_util.h). */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pk_util.h"

void pk_fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static void pk_ifreq(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	PK_CHECK(s >= 0, "socket: %s", strerror(errno));
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	PK_CHECK(ioctl(s, req, ifr) == 0, "ioctl on %s: %s", ifname,
		 strerror(errno));
	close(s);
}

void pk_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;

	pk_ifreq(ifname, SIOCGIFHWADDR, &ifr);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
}

int pk_if_mtu(const char *ifname)
{
	struct ifreq ifr;

	pk_ifreq(ifname, SIOCGIFMTU, &ifr);
	return ifr.ifr_mtu;
}

static void pk_nop(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

netbe_t *pk_open(const char *spec, netbe_loop_t *loop)
{
	netbe_t *be = NULL;
	int r = netbe_open(&be, spec, loop, pk_nop, NULL);

	PK_CHECK(r == 0, "open %s: %d %s", spec, r, netbe_last_error());
	return be;
}

size_t pk_frame(uint8_t *buf, size_t len, const uint8_t dst[6],
		const uint8_t src[6], uint32_t seq, uint16_t vid)
{
	size_t off = 12;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	if (vid) {
		buf[off++] = 0x81;
		buf[off++] = 0x00;
		buf[off++] = (uint8_t)(vid >> 8);
		buf[off++] = (uint8_t)vid;
	}
	buf[off++] = PK_ETHERTYPE >> 8;
	buf[off++] = PK_ETHERTYPE & 0xff;
	memcpy(buf + off, "NBPK", 4);
	memcpy(buf + off + 4, &seq, 4);
	for (size_t i = off + 8; i < len; i++)
		buf[i] = (uint8_t)(seq * 7 + i);
	return len;
}

bool pk_is_ours(const uint8_t *f, size_t len, uint32_t *seq)
{
	size_t off = 12;

	if (len >= 18 && f[12] == 0x81 && f[13] == 0x00)
		off = 16;
	if (len < off + 10 || f[off] != PK_ETHERTYPE >> 8 ||
	    f[off + 1] != (PK_ETHERTYPE & 0xff) || memcmp(f + off + 2, "NBPK", 4))
		return false;
	memcpy(seq, f + off + 6, 4);
	return true;
}

static long pk_ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 +
	       (end->tv_nsec - now.tv_nsec) / 1000000;
}

size_t pk_recv_ours(netbe_t *be, uint8_t *buf, size_t room, size_t hdr,
		    int ms)
{
	struct iovec iov = { buf, room };
	struct timespec end;
	uint32_t seq;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		ssize_t r = netbe_recv(be, &iov, 1);
		struct pollfd p = { netbe_get_fd(be), POLLIN, 0 };
		long left;

		PK_CHECK(r >= 0, "recv: %zd %s", r, netbe_last_error());
		if (r > 0 && pk_is_ours(buf + hdr, (size_t)r - hdr, &seq))
			return (size_t)r;
		if (r > 0)
			continue; /* the kernel's own traffic */
		left = pk_ms_left(&end);
		if (left <= 0)
			return 0;
		poll(&p, 1, (int)left);
	}
}

uint32_t pk_csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (; len > 1; b += 2, len -= 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)(b[0] << 8);
	return sum;
}

uint16_t pk_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
