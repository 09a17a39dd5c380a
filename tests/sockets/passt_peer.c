/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * passt_peer - a frontend, written against the public API only, that
 * talks to passt (a peer nobody here wrote) through the stream backend:
 *
 *   passt_peer SPEC
 *
 * sends a DHCP DISCOVER and expects passt's DHCP OFFER, then an ARP
 * request for the offered gateway and expects passt's ARP reply.  Exits
 * 0 when both answers came, 1 otherwise, printing what it saw.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netbe.h"

#define MAC_LEN 6
#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define BOOTP_LEN 236
#define DHCP_MAGIC 0x63825363u

static const uint8_t my_mac[MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint32_t xid = 0x6e657462; /* "netb" */

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ethernet + IPv4 + UDP 68 -> 67 + BOOTP + DHCP DISCOVER. */
static size_t build_discover(uint8_t *f)
{
	uint8_t *ip = f + ETH_LEN, *udp = ip + IP_LEN, *bp = udp + UDP_LEN;
	uint8_t opts[] = { 53, 1, 1, 55, 3, 1, 3, 6, 255 };
	size_t blen = BOOTP_LEN + 4 + sizeof(opts);
	uint32_t magic = htonl(DHCP_MAGIC), x = htonl(xid);

	memset(f, 0, ETH_LEN + IP_LEN + UDP_LEN + blen);
	memset(f, 0xff, MAC_LEN);
	memcpy(f + MAC_LEN, my_mac, MAC_LEN);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_LEN + UDP_LEN + blen));
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4); /* 0.0.0.0 -> 255.255.255.255 */
	put16(ip + 10, csum(ip, IP_LEN));
	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, (uint16_t)(UDP_LEN + blen)); /* checksum 0: none */
	bp[0] = 1;	  /* BOOTREQUEST */
	bp[1] = 1;	  /* Ethernet */
	bp[2] = MAC_LEN;
	memcpy(bp + 4, &x, 4);
	put16(bp + 10, 0x8000); /* broadcast reply */
	memcpy(bp + 28, my_mac, MAC_LEN);
	memcpy(bp + BOOTP_LEN, &magic, 4);
	memcpy(bp + BOOTP_LEN + 4, opts, sizeof(opts));
	return ETH_LEN + IP_LEN + UDP_LEN + blen;
}

/* ARP who-has @target from @sender (our new address). */
static size_t build_arp(uint8_t *f, const uint8_t *sender,
			const uint8_t *target)
{
	uint8_t *a = f + ETH_LEN;

	memset(f, 0xff, MAC_LEN);
	memcpy(f + MAC_LEN, my_mac, MAC_LEN);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = MAC_LEN;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, my_mac, MAC_LEN);
	memcpy(a + 14, sender, 4);
	memset(a + 18, 0, MAC_LEN);
	memcpy(a + 24, target, 4);
	return ETH_LEN + 28;
}

/* Finds DHCP option @code in a reply's options; NULL when absent. */
static const uint8_t *dhcp_opt(const uint8_t *o, size_t len, uint8_t code)
{
	size_t i = 0;

	while (i < len && o[i] != 255) {
		if (o[i] == 0) {
			i++;
			continue;
		}
		if (i + 1 >= len || i + 2 + o[i + 1] > len)
			return NULL;
		if (o[i] == code)
			return o + i;
		i += 2 + (size_t)o[i + 1];
	}
	return NULL;
}

struct seen {
	bool offer, arp_reply;
	uint8_t yiaddr[4], router[4];
};

static void check_dhcp(const uint8_t *f, size_t len, struct seen *s)
{
	const uint8_t *ip = f + ETH_LEN, *udp, *bp, *o;
	size_t ihl;
	uint32_t x, magic;

	if (len < ETH_LEN + IP_LEN || ip[9] != 17)
		return;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	udp = ip + ihl;
	bp = udp + UDP_LEN;
	if ((size_t)(bp - f) + BOOTP_LEN + 4 > len || get16(udp) != 67)
		return;
	memcpy(&x, bp + 4, 4);
	memcpy(&magic, bp + BOOTP_LEN, 4);
	if (bp[0] != 2 || ntohl(x) != xid || ntohl(magic) != DHCP_MAGIC)
		return;
	o = dhcp_opt(bp + BOOTP_LEN + 4, len - (size_t)(bp - f) - BOOTP_LEN - 4,
		     53);
	if (!o || o[1] != 1 || o[2] != 2)
		return;
	memcpy(s->yiaddr, bp + 16, 4);
	o = dhcp_opt(bp + BOOTP_LEN + 4, len - (size_t)(bp - f) - BOOTP_LEN - 4,
		     3);
	if (o && o[1] >= 4)
		memcpy(s->router, o + 2, 4);
	s->offer = true;
	printf("DHCP OFFER from passt: yiaddr %u.%u.%u.%u router %u.%u.%u.%u\n",
	       s->yiaddr[0], s->yiaddr[1], s->yiaddr[2], s->yiaddr[3],
	       s->router[0], s->router[1], s->router[2], s->router[3]);
}

static void check_arp(const uint8_t *f, size_t len, struct seen *s)
{
	const uint8_t *a = f + ETH_LEN;

	if (len < ETH_LEN + 28 || get16(a + 6) != 2 ||
	    memcmp(a + 14, s->router, 4) || memcmp(a + 18, my_mac, MAC_LEN))
		return;
	s->arp_reply = true;
	printf("ARP reply from passt: %u.%u.%u.%u is at "
	       "%02x:%02x:%02x:%02x:%02x:%02x\n", a[14], a[15], a[16], a[17],
	       a[8], a[9], a[10], a[11], a[12], a[13]);
}

static void classify(const uint8_t *f, size_t len, struct seen *s)
{
	if (len < ETH_LEN || memcmp(f, my_mac, MAC_LEN))
		return; /* not for us (or a broadcast we did not ask for) */
	if (get16(f + 12) == 0x0800)
		check_dhcp(f, len, s);
	else if (get16(f + 12) == 0x0806)
		check_arp(f, len, s);
}

/* Receives until @done is set in @s or ~@ms pass. */
static void receive(netbe_t *be, struct seen *s, bool *done, int ms)
{
	static uint8_t buf[NETBE_MAX_FRAME];
	struct pollfd p = { .fd = netbe_get_fd(be), .events = POLLIN };
	struct iovec v = { buf, sizeof(buf) };

	for (int t = 0; t < ms / 50 && !*done; t++) {
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		while ((n = netbe_recv(be, &v, 1)) > 0)
			classify(buf, (size_t)n, s);
	}
}

static int send_frame(netbe_t *be, uint8_t *f, size_t len)
{
	struct iovec v = { f, len };
	ssize_t r = netbe_send(be, &v, 1);

	if (r != (ssize_t)len)
		fprintf(stderr, "send: %zd %s\n", r, netbe_last_error());
	return r == (ssize_t)len ? 0 : -1;
}

int main(int argc, char **argv)
{
	uint8_t f[1500];
	struct seen s = { 0 };
	struct netbe_stats st;
	netbe_t *be;

	if (argc != 2) {
		fprintf(stderr, "usage: passt_peer SPEC\n");
		return 2;
	}
	if (netbe_open(&be, argv[1], NULL, nop_cb, NULL) < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], netbe_last_error());
		return 1;
	}
	for (int i = 0; i < 3 && !s.offer; i++) {
		if (send_frame(be, f, build_discover(f)) == 0)
			receive(be, &s, &s.offer, 2000);
	}
	if (s.offer && send_frame(be, f, build_arp(f, s.yiaddr, s.router)) == 0)
		receive(be, &s, &s.arp_reply, 3000);
	netbe_get_stats(be, &st);
	printf("stream counters: rx %llu frames, tx %llu frames, rx errors "
	       "%llu\n", (unsigned long long)st.rx_frames,
	       (unsigned long long)st.tx_frames,
	       (unsigned long long)st.rx_errors);
	netbe_cleanup(be);
	if (!s.offer)
		fprintf(stderr, "no DHCP OFFER from passt\n");
	else if (!s.arp_reply)
		fprintf(stderr, "no ARP reply from passt\n");
	return s.offer && s.arp_reply ? 0 : 1;
}
