/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_mq - a multi-queue tap ("tap,queues=4") moves real traffic on every
 * queue, each queue handle with its own callback and counters.
 *
 * In a private netns the test opens "tap,ifname=mq0,queues=4,up=on",
 * gives mq0 192.0.2.1/24 and a permanent ARP entry for 192.0.2.2 (so the
 * kernel transmits without asking), and:
 *   - negotiates a 12-byte header on queue 2's handle: every queue handle
 *     reports it, and all traffic below carries it;
 *   - receive: sends RX_N UDP datagrams from RX_SOCKS source ports to
 *     192.0.2.2; the tap spreads them over its queues by flow hash.  Each
 *     queue handle has its own rx callback, run by a netbe_loop: every
 *     datagram (sequence number in its payload) arrives exactly once,
 *     on the queue whose callback ran, and at least 2 queues get some;
 *   - transmit: TX_PER frames written on each queue handle (UDP
 *     192.0.2.2 -> 192.0.2.1) all reach a UDP socket the test bound;
 *   - counters: netbe_get_queue_stats on each queue handle (queue 0's
 *     too) counts exactly that queue's frames and bytes; netbe_get_stats
 *     acts on the whole backend, so every queue handle reports the sums.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tap_util.h"

#define IFN "mq0"
#define NQ 4
#define HDR NETBE_VNET_HDR_MRG_LEN
#define RX_SOCKS 64 /* distinct flows (source ports) */
#define RX_PER 4    /* datagrams per flow */
#define RX_N (RX_SOCKS * RX_PER)
#define TX_PER 50 /* frames written per queue */
#define DPORT 9999
#define LPORT 7777
#define MAGIC 0x6d715131u /* "mqQ1" */
#define PAYLOAD 32

static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

struct qstate {
	netbe_t *be;
	unsigned idx;
	uint64_t frames, bytes; /* everything this queue received */
	unsigned ours;		/* of them, our datagrams */
	unsigned calls;		/* callback invocations */
};

static struct qstate qs[NQ];
static uint8_t seen[RX_N]; /* times each sequence number arrived */
static unsigned rx_ours;

static int sock_ioctl(unsigned long req, void *arg)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r;

	if (s < 0)
		return -errno;
	r = ioctl(s, req, arg) < 0 ? -errno : 0;
	close(s);
	return r;
}

static struct sockaddr_in sin_of(const char *ip, unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* mq0 gets 192.0.2.1/24; 192.0.2.2 is a permanent neighbour. */
static void setup_addresses(uint8_t tap_mac[6])
{
	struct sockaddr_in a = sin_of("192.0.2.1", 0);
	struct sockaddr_in m = sin_of("255.255.255.0", 0);
	struct sockaddr_in peer = sin_of("192.0.2.2", 0);
	struct arpreq arp;
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", IFN);
	memcpy(&ifr.ifr_addr, &a, sizeof(a));
	r = sock_ioctl(SIOCSIFADDR, &ifr);
	TU_CHECK(r == 0, "SIOCSIFADDR: %s", strerror(-r));
	memcpy(&ifr.ifr_netmask, &m, sizeof(m));
	r = sock_ioctl(SIOCSIFNETMASK, &ifr);
	TU_CHECK(r == 0, "SIOCSIFNETMASK: %s", strerror(-r));
	r = sock_ioctl(SIOCGIFHWADDR, &ifr);
	TU_CHECK(r == 0, "SIOCGIFHWADDR: %s", strerror(-r));
	memcpy(tap_mac, ifr.ifr_hwaddr.sa_data, 6);

	memset(&arp, 0, sizeof(arp));
	memcpy(&arp.arp_pa, &peer, sizeof(peer));
	arp.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(arp.arp_ha.sa_data, peer_mac, 6);
	arp.arp_flags = ATF_PERM | ATF_COM;
	snprintf(arp.arp_dev, sizeof(arp.arp_dev), "%s", IFN);
	r = sock_ioctl(SIOCSARP, &arp);
	TU_CHECK(r == 0, "SIOCSARP 192.0.2.2: %s", strerror(-r));
}

/* Sequence number of one of our datagrams (Ethernet frame @f, header
 * already skipped), -1 for other traffic; fails on a damaged one. */
static long our_seq(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *udp = ip + 20, *pl = udp + 8;

	if (len < 14 + 28 + PAYLOAD || f[12] != 0x08 || f[13] != 0x00 ||
	    ip[0] != 0x45 || ip[9] != 17 || tu_get32(pl) != MAGIC)
		return -1;
	TU_CHECK(memcmp(f, peer_mac, 6) == 0, "frame not for the neighbour");
	TU_CHECK(tu_get32(ip + 16) == 0xc0000202, "wrong destination address");
	TU_CHECK(udp[2] == DPORT >> 8 && udp[3] == (DPORT & 0xff),
		 "wrong destination port");
	TU_CHECK(len == 14 + 28 + PAYLOAD, "frame length %zu", len);
	TU_CHECK(tu_csum_fold(tu_csum_add(0, ip, 20)) == 0xffff,
		 "bad IPv4 header checksum");
	for (unsigned i = 8; i < PAYLOAD; i++)
		TU_CHECK(pl[i] == (uint8_t)(pl[4] + i), "payload damaged");
	return (long)tu_get32(pl + 4);
}

static void on_rx(int fd, int events, void *param)
{
	struct qstate *q = param;
	static uint8_t buf[HDR + 2048];
	struct iovec iov = { buf, sizeof(buf) };
	ssize_t r;
	long seq;

	TU_CHECK(events & NETBE_EV_READ, "callback without EV_READ");
	TU_CHECK(fd == netbe_get_fd(q->be), "queue %u callback got fd %d, "
		 "its fd is %d", q->idx, fd, netbe_get_fd(q->be));
	q->calls++;
	while ((r = netbe_recv(q->be, &iov, 1)) > 0) {
		q->frames++;
		q->bytes += (uint64_t)r;
		TU_CHECK(r > HDR, "frame of %zd bytes", r);
		seq = our_seq(buf + HDR, (size_t)r - HDR);
		if (seq < 0)
			continue;
		TU_CHECK(seq < RX_N, "sequence %ld out of range", seq);
		seen[seq]++;
		q->ours++;
		rx_ours++;
	}
	TU_CHECK(r == 0, "queue %u recv: %zd %s", q->idx, r,
		 netbe_last_error());
}

static void send_datagrams(void)
{
	struct sockaddr_in dst = sin_of("192.0.2.2", DPORT);
	int s[RX_SOCKS];
	uint8_t pl[PAYLOAD];

	for (unsigned i = 0; i < RX_SOCKS; i++) {
		s[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		TU_CHECK(s[i] >= 0, "socket: %s", strerror(errno));
	}
	/* Interleaved, so every queue's ring fills at the same time. */
	for (unsigned k = 0; k < RX_PER; k++) {
		for (unsigned i = 0; i < RX_SOCKS; i++) {
			uint32_t seq = k * RX_SOCKS + i;

			tu_put32(pl, MAGIC);
			tu_put32(pl + 4, seq);
			for (unsigned j = 8; j < PAYLOAD; j++)
				pl[j] = (uint8_t)(pl[4] + j);
			TU_CHECK(sendto(s[i], pl, sizeof(pl), 0,
					(void *)&dst, sizeof(dst)) ==
					 (ssize_t)sizeof(pl),
				 "sendto: %s", strerror(errno));
		}
	}
	for (unsigned i = 0; i < RX_SOCKS; i++)
		close(s[i]);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void run_loop(netbe_loop_t *loop, long ms, int until_all)
{
	long end = now_ms() + ms;

	while (now_ms() < end && !(until_all && rx_ours >= RX_N)) {
		int r = netbe_loop_run_once(loop, 50);

		TU_CHECK(r >= 0, "netbe_loop_run_once: %d", r);
	}
}

static void check_receive(netbe_loop_t *loop)
{
	unsigned busy = 0;

	for (unsigned i = 0; i < NQ; i++)
		netbe_rx_enable(qs[i].be);
	send_datagrams();
	run_loop(loop, 5000, 1);
	run_loop(loop, 300, 0); /* duplicates would show up now */
	for (unsigned i = 0; i < NQ; i++)
		netbe_rx_disable(qs[i].be);
	for (unsigned i = 0; i < RX_N; i++)
		TU_CHECK(seen[i] == 1, "datagram %u received %u times", i,
			 seen[i]);
	TU_CHECK(rx_ours == RX_N, "received %u of %u", rx_ours, RX_N);
	printf("receive: %u datagrams, each once; per queue:", RX_N);
	for (unsigned i = 0; i < NQ; i++) {
		printf(" q%u=%u (%u callbacks)", i, qs[i].ours, qs[i].calls);
		busy += qs[i].ours > 0;
	}
	printf("\n");
	TU_CHECK(busy >= 2, "only %u queue(s) received traffic", busy);
}

/* Ethernet/IPv4/UDP 192.0.2.2:5000+q -> 192.0.2.1:LPORT behind a zeroed
 * @HDR-byte header; the payload names the queue and the frame. */
static size_t tx_frame(uint8_t *b, const uint8_t tap_mac[6], unsigned q,
		       unsigned n)
{
	uint8_t *f = b + HDR, *ip = f + 14, *udp = ip + 20, *pl = udp + 8;

	memset(b, 0, HDR + 14 + 28 + PAYLOAD);
	memcpy(f, tap_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	tu_put16(f + 12, 0x0800);
	ip[0] = 0x45;
	tu_put16(ip + 2, 28 + PAYLOAD);
	ip[8] = 64;
	ip[9] = 17;
	tu_put32(ip + 12, 0xc0000202);
	tu_put32(ip + 16, 0xc0000201);
	tu_put16(ip + 10, (uint16_t)~tu_csum_fold(tu_csum_add(0, ip, 20)));
	tu_put16(udp, 5000 + q);
	tu_put16(udp + 2, LPORT);
	tu_put16(udp + 4, 8 + PAYLOAD); /* checksum 0: none (IPv4) */
	tu_put32(pl, MAGIC);
	tu_put32(pl + 4, q << 16 | n);
	return HDR + 14 + 28 + PAYLOAD;
}

static void check_transmit(const uint8_t tap_mac[6], uint64_t *bytes)
{
	struct sockaddr_in a = sin_of("192.0.2.1", LPORT);
	unsigned got[NQ][TX_PER] = { { 0 } }, total = 0;
	uint8_t b[HDR + 128];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	TU_CHECK(s >= 0 && bind(s, (void *)&a, sizeof(a)) == 0,
		 "bind 192.0.2.1:%d: %s", LPORT, strerror(errno));
	for (unsigned n = 0; n < TX_PER; n++) {
		for (unsigned q = 0; q < NQ; q++) {
			struct iovec iov = { b, tx_frame(b, tap_mac, q, n) };
			ssize_t r = netbe_send(qs[q].be, &iov, 1);

			TU_CHECK(r == (ssize_t)iov.iov_len,
				 "queue %u send: %zd %s", q, r,
				 netbe_last_error());
			bytes[q] += (uint64_t)r;
		}
	}
	while (total < NQ * TX_PER) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		uint32_t id;
		ssize_t r;

		TU_CHECK(poll(&p, 1, 3000) == 1, "transmit: only %u of %u "
			 "datagrams reached the socket", total, NQ * TX_PER);
		r = recvfrom(s, b, sizeof(b), 0, (void *)&from, &fl);
		TU_CHECK(r == PAYLOAD && tu_get32(b) == MAGIC,
			 "unexpected datagram of %zd bytes", r);
		id = tu_get32(b + 4);
		TU_CHECK(id >> 16 < NQ && (id & 0xffff) < TX_PER,
			 "bad datagram id %#x", id);
		TU_CHECK(ntohs(from.sin_port) == 5000 + (id >> 16),
			 "datagram %#x from port %u", id,
			 ntohs(from.sin_port));
		TU_CHECK(++got[id >> 16][id & 0xffff] == 1,
			 "datagram %#x received twice", id);
		total++;
	}
	close(s);
	printf("transmit: %u frames per queue, all %u reached the socket\n",
	       TX_PER, NQ * TX_PER);
}

static bool no_losses(const struct netbe_stats *st)
{
	return !st->rx_drops && !st->rx_errors && !st->tx_drops &&
	       !st->tx_errors;
}

/* Queue @i's own counters: exactly what it received and sent. */
static void check_queue_stats(unsigned i, uint64_t tx_bytes)
{
	struct netbe_stats st;

	netbe_get_queue_stats(qs[i].be, &st);
	TU_CHECK(st.rx_frames == qs[i].frames && st.rx_bytes == qs[i].bytes,
		 "queue %u rx: counted %llu frames %llu bytes, "
		 "received %llu %llu", i, (unsigned long long)st.rx_frames,
		 (unsigned long long)st.rx_bytes,
		 (unsigned long long)qs[i].frames,
		 (unsigned long long)qs[i].bytes);
	TU_CHECK(st.tx_frames == TX_PER && st.tx_bytes == tx_bytes,
		 "queue %u tx: counted %llu frames %llu bytes", i,
		 (unsigned long long)st.tx_frames,
		 (unsigned long long)st.tx_bytes);
	TU_CHECK(no_losses(&st), "queue %u: drops or errors", i);
}

/* netbe_get_stats is a whole-backend call: the sums, from any handle. */
static void check_totals(unsigned i, const struct netbe_stats *want)
{
	struct netbe_stats st;

	netbe_get_stats(qs[i].be, &st);
	TU_CHECK(st.rx_frames == want->rx_frames &&
		 st.rx_bytes == want->rx_bytes &&
		 st.tx_frames == want->tx_frames &&
		 st.tx_bytes == want->tx_bytes,
		 "totals from queue %u: rx %llu/%llu tx %llu/%llu, want sums "
		 "rx %llu/%llu tx %llu/%llu", i,
		 (unsigned long long)st.rx_frames,
		 (unsigned long long)st.rx_bytes,
		 (unsigned long long)st.tx_frames,
		 (unsigned long long)st.tx_bytes,
		 (unsigned long long)want->rx_frames,
		 (unsigned long long)want->rx_bytes,
		 (unsigned long long)want->tx_frames,
		 (unsigned long long)want->tx_bytes);
	TU_CHECK(no_losses(&st), "totals from queue %u: drops or errors", i);
}

static void check_stats(const uint64_t *tx_bytes)
{
	struct netbe_stats sum = { 0 };

	for (unsigned i = 0; i < NQ; i++) {
		check_queue_stats(i, tx_bytes[i]);
		sum.rx_frames += qs[i].frames;
		sum.rx_bytes += qs[i].bytes;
		sum.tx_frames += TX_PER;
		sum.tx_bytes += tx_bytes[i];
	}
	for (unsigned i = 0; i < NQ; i++)
		check_totals(i, &sum);
	printf("counters: each queue its own, every handle's totals = sums "
	       "(rx %llu frames, tx %llu frames)\n",
	       (unsigned long long)sum.rx_frames,
	       (unsigned long long)sum.tx_frames);
}

static void check_negotiation(void)
{
	int r = netbe_set_cap(qs[2].be, 0, HDR);

	TU_CHECK(r == 0, "set_cap on queue 2: %d %s", r, netbe_last_error());
	for (unsigned i = 0; i < NQ; i++)
		TU_CHECK(netbe_get_vnet_hdr_len(qs[i].be) == HDR,
			 "queue %u: header %zu after set_cap on queue 2", i,
			 netbe_get_vnet_hdr_len(qs[i].be));
	printf("negotiation on queue 2: all queues use a %d-byte header\n",
	       HDR);
}

static void noop_rx(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
	tu_fail("the open-time callback ran");
}

int main(void)
{
	netbe_loop_t *loop;
	netbe_t *be;
	uint8_t tap_mac[6];
	uint64_t tx_bytes[NQ] = { 0 };
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tu_enter_netns();
	TU_CHECK(netbe_loop_new(&loop) == 0, "netbe_loop_new");
	r = netbe_open(&be, "tap,ifname=" IFN ",queues=4,up=on", loop,
		       noop_rx, NULL);
	TU_CHECK(r == 0, "open: %d %s", r, netbe_last_error());
	TU_CHECK(netbe_get_nqueues(be) == NQ, "%u queues",
		 netbe_get_nqueues(be));
	for (unsigned i = 0; i < NQ; i++) {
		qs[i].be = netbe_get_queue(be, i);
		qs[i].idx = i;
		TU_CHECK(qs[i].be, "no queue %u", i);
		r = netbe_set_rx_cb(qs[i].be, on_rx, &qs[i]);
		TU_CHECK(r == 0, "set_rx_cb %u", i);
	}
	TU_CHECK(qs[0].be == be, "queue 0 is not the backend");
	setup_addresses(tap_mac);

	check_negotiation();
	check_receive(loop);
	check_transmit(tap_mac, tx_bytes);
	check_stats(tx_bytes);

	netbe_cleanup(be);
	netbe_loop_free(loop);
	printf("PASS\n");
	return 0;
}
