/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udpgso_probe - does this kernel take a UDP_SEGMENT send on a socket
 * that sends zero UDP checksums (SO_NO_CHECK)?  The vxlan backend's
 * default over IPv4 is the zero checksum RFC 7348 and issue 10 ask for,
 * and with it every segment of a TSO frame leaves as a datagram of its
 * own; with udpcsum=on a run of them is one UDP_SEGMENT send
 * (src/backends/vxlan.c, "Offloads, sending").  This probe is the
 * evidence for that choice, on whatever kernel runs it.
 *
 *   usage: udpgso_probe
 *
 * Sends 4 x 1000 bytes to a socket of its own on 127.0.0.1 as one
 * UDP_SEGMENT send, with and without SO_NO_CHECK, and prints one JSON
 * line: for each, 0 or the errno the send failed with, and how many
 * datagrams arrived.  No root needed; only loopback is used.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define SEG 1000
#define NSEG 4

/* Counts the datagrams waiting on @fd. */
static int drain(int fd)
{
	char buf[2048];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/* One UDP_SEGMENT send of NSEG x SEG bytes from a new socket to @dst;
 * 0 or the errno; *@got: datagrams @rx received. */
static int probe(int rx, const struct sockaddr_in *dst, int nocheck,
		 int *got)
{
	static char data[SEG * NSEG];
	char cbuf[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
	struct iovec iov = { data, sizeof(data) };
	struct msghdr mh = { .msg_name = (void *)dst,
			     .msg_namelen = sizeof(*dst),
			     .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	uint16_t seg = SEG;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return errno;
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	if (setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &nocheck,
		       sizeof(nocheck)) < 0 ||
	    sendmsg(fd, &mh, 0) < 0)
		err = errno;
	close(fd);
	usleep(10000);
	*got = drain(rx);
	return err;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), e0, e1, g0, g1;

	if (rx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(rx, (struct sockaddr *)&a, &al) < 0) {
		perror("udpgso_probe: socket");
		return 1;
	}
	e0 = probe(rx, &a, 0, &g0);
	e1 = probe(rx, &a, 1, &g1);
	printf("{\"checksums\":{\"errno\":%d,\"error\":\"%s\",\"datagrams\":%d},"
	       "\"zero_checksum\":{\"errno\":%d,\"error\":\"%s\","
	       "\"datagrams\":%d}}\n", e0, e0 ? strerror(e0) : "", g0, e1,
	       e1 ? strerror(e1) : "", g1);
	return 0;
}
