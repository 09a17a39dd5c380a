/* SPDX-License-Identifier: BSD-2-Clause */
/* tap_util.c - see tap_util.h. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "tap_util.h"

static void skip(const char *why)
{
	printf("SKIP: %s\n", why);
	fflush(stdout);
	exit(TU_SKIP);
}

void tu_fail(const char *fmt, ...)
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

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0)
		(void)0; /* best effort: only cuts noise */
	close(fd);
}

void tu_enter_netns(void)
{
	int fd;

	if (geteuid() != 0)
		skip("needs root (network namespaces, /dev/net/tun)");
	fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0)
		skip("cannot open /dev/net/tun");
	close(fd);
	if (unshare(CLONE_NEWNET) < 0)
		skip("cannot create a network namespace (unshare)");
	/* IPv6 autoconfiguration would add unrelated frames. */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

static int ifioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r;

	if (s < 0)
		return -errno;
	r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

void tu_bridge(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0 || ioctl(s, SIOCBRADDBR, name) < 0)
		skip("cannot create a Linux bridge (SIOCBRADDBR)");
	close(s);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ifioctl(SIOCGIFFLAGS, &ifr) < 0)
		tu_fail("SIOCGIFFLAGS %s", name);
	ifr.ifr_flags |= IFF_UP;
	if (ifioctl(SIOCSIFFLAGS, &ifr) < 0)
		tu_fail("bringing %s up", name);
}

static void noop_rx(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

netbe_t *tu_open(const char *spec, netbe_loop_t *loop)
{
	netbe_t *be;
	int r = netbe_open(&be, spec, loop, noop_rx, NULL);

	if (r < 0)
		tu_fail("netbe_open(%s): %d %s", spec, r, netbe_last_error());
	return be;
}

int tu_wait(netbe_t *be, int ms)
{
	struct pollfd p = { .fd = netbe_get_fd(be), .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

uint32_t tu_csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	return sum;
}

uint16_t tu_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

void tu_put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void tu_put32(uint8_t *p, uint32_t v)
{
	tu_put16(p, v >> 16);
	tu_put16(p + 2, v & 0xffff);
}

uint32_t tu_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}


/* Sum of the TCP pseudo header for @tcplen bytes of segment. */
static uint32_t pseudo(const uint8_t *ip, size_t tcplen)
{
	uint32_t sum = tu_csum_add(0, ip + 12, 8);

	return sum + 6 + (uint32_t)tcplen;
}

size_t tu_tcp_frame(uint8_t *buf, uint32_t seq, size_t payload, int partial)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1,
					 0x08, 0x00 };
	uint8_t *ip = buf + 14, *tcp = ip + 20;
	uint16_t c;

	memcpy(buf, eth, sizeof(eth));
	memset(ip, 0, 40);
	ip[0] = 0x45;
	tu_put16(ip + 2, (unsigned)(40 + payload));
	tu_put16(ip + 4, 0x1234);
	tu_put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	tu_put32(ip + 12, 0xc0000201); /* 192.0.2.1 */
	tu_put32(ip + 16, 0xc0000202); /* 192.0.2.2 */
	tu_put16(ip + 10, (uint16_t)~tu_csum_fold(tu_csum_add(0, ip, 20)));
	tu_put16(tcp, 40000);
	tu_put16(tcp + 2, 5001);
	tu_put32(tcp + 4, seq);
	tu_put32(tcp + 8, 1);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH|ACK */
	tu_put16(tcp + 14, 65535);
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(i * 7 + 3);
	c = tu_csum_fold(pseudo(ip, 20 + payload));
	if (!partial)
		c = (uint16_t)~tu_csum_fold(tu_csum_add(c, tcp, 20 + payload));
	tu_put16(tcp + 16, c);
	return 14 + 40 + payload;
}

long tu_tcp_check(const uint8_t *f, size_t len, uint32_t *seq)
{
	const uint8_t *ip = f + 14, *tcp;
	size_t iplen, tcplen;

	if (len < 54 || f[12] != 0x08 || f[13] != 0x00 || ip[9] != 6)
		return -1;
	tcp = ip + (ip[0] & 15) * 4;
	if (tcp[0] != 40000 >> 8 || tcp[1] != (40000 & 0xff))
		return -1;
	iplen = (size_t)(ip[2] << 8 | ip[3]);
	if (iplen + 14 > len || (ip[0] & 15) != 5)
		return -2;
	if (tu_csum_fold(tu_csum_add(0, ip, 20)) != 0xffff)
		return -2;
	tcplen = iplen - 20;
	if (tu_csum_fold(tu_csum_add(pseudo(ip, tcplen), tcp, tcplen)) !=
	    0xffff)
		return -2;
	*seq = tu_get32(tcp + 4);
	return (long)(tcplen - (size_t)(tcp[12] >> 4) * 4);
}
