/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * packet_veth - the packet (and dlpi) backend moves real frames over a
 * veth pair vA <-> vB, in a netns packet_veth.sh made.
 *
 *   usage: packet_veth v2|v3
 *
 * Each check below says what it proves; all use the public API and the
 * ring given on the command line.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pk_util.h"

#define NBATCH 1000
#define MAXF (NETBE_MAX_FRAME + NETBE_VNET_HDR_MRG_LEN)

static const char *ring;
static netbe_loop_t *loop;
static uint8_t mac_a[6], mac_b[6];
static uint8_t txbuf[MAXF], rxbuf[MAXF];

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static netbe_t *open_fmt(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static netbe_t *open_fmt(const char *fmt, ...)
{
	char spec[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	return pk_open(spec, loop);
}

static void negotiate(netbe_t *be, uint64_t feat, unsigned hdr)
{
	int r = netbe_set_cap(be, feat, hdr);

	PK_CHECK(r == 0, "set_cap %#llx/%u: %d %s", (unsigned long long)feat,
		 hdr, r, netbe_last_error());
}

/* Sends one frame (behind a zero header of @hdr bytes). */
static void send_frame(netbe_t *be, const uint8_t *f, size_t len, size_t hdr)
{
	uint8_t h[NETBE_VNET_HDR_MRG_LEN] = { 0 };
	struct iovec iov[2] = { { h, hdr }, { (void *)f, len } };
	ssize_t r = netbe_send(be, iov, 2);

	PK_CHECK(r == (ssize_t)(hdr + len), "send %zu bytes: %zd %s", len, r,
		 netbe_last_error());
}

static void stats(netbe_t *be, struct netbe_stats *st)
{
	netbe_get_stats(be, st);
}

/* @be's drops in direction @dir for reason @why. */
static uint64_t drops(netbe_t *be, int dir, int why)
{
	uint64_t c[NETBE_DROP_NREASONS];

	PK_CHECK(netbe_get_drops(be, dir, c, NETBE_DROP_NREASONS) ==
		 NETBE_DROP_NREASONS, "netbe_get_drops");
	return c[why];
}

/* ---- frames arrive byte-identical ---------------------------------------- */

/* One frame each way, sizes from 60 to MTU+14, some VLAN-tagged (the
 * receiving kernel takes the tag out; the backend must put it back). */
static void one_way(netbe_t *tx, netbe_t *rx, const uint8_t *dst,
		    const uint8_t *src, size_t txh, size_t hdr)
{
	size_t max = (size_t)pk_if_mtu("vA") + 14;
	static const size_t sizes[] = { 60, 61, 64, 128, 333, 1000, 1513 };

	for (size_t i = 0; i <= sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = i < sizeof(sizes) / sizeof(sizes[0]) ? sizes[i]
								  : max;
		uint16_t vid = (i % 3 == 2) ? (uint16_t)(100 + i) : 0;
		size_t got;

		pk_frame(txbuf, len + (vid ? 4 : 0), dst, src, (uint32_t)i,
			 vid);
		send_frame(tx, txbuf, len + (vid ? 4 : 0), txh);
		got = pk_recv_ours(rx, rxbuf, sizeof(rxbuf), hdr, 2000);
		PK_CHECK(got == hdr + len + (vid ? 4 : 0),
			 "frame %zu (%zu bytes, vid %u): got %zu bytes", i,
			 len, vid, got);
		PK_CHECK(!memcmp(rxbuf + hdr, txbuf, len + (vid ? 4 : 0)),
			 "frame %zu (%zu bytes, vid %u) differs", i, len, vid);
	}
}

/* The seed's illumos spelling: a bare token is the vnic of a dlpi. */
static netbe_t *illumos_open(const char *ifname)
{
	netbe_config_t *cfg = netbe_config_new();
	netbe_t *be = NULL;
	char spec[128];
	int r;

	snprintf(spec, sizeof(spec), "%s,ring=%s", ifname, ring);
	PK_CHECK(cfg, "config");
	r = netbe_legacy_config_flavour(cfg, spec, NETBE_FLAVOUR_ILLUMOS);
	if (r == 0)
		r = netbe_init_loop(&be, cfg, loop, nop_cb, NULL);
	PK_CHECK(r == 0 && !strcmp(netbe_get_name(be), "dlpi"),
		 "illumos '%s': %d %s", spec, r, netbe_last_error());
	netbe_config_free(cfg);
	return be;
}

static void t_single(void)
{
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *b = illumos_open("vB");
	uint8_t m[6];
	size_t ml = sizeof(m);

	PK_CHECK(netbe_get_mac(b, m, &ml) == 0 && ml == 6 &&
		 !memcmp(m, mac_b, 6), "dlpi get_mac is not vB's MAC");
	PK_CHECK(netbe_get_mtu(a) == pk_if_mtu("vA"), "get_mtu %d",
		 netbe_get_mtu(a));
	one_way(a, b, mac_b, mac_a, 0, 0);
	one_way(b, a, mac_a, mac_b, 0, 0);
	negotiate(a, 0, NETBE_VNET_HDR_LEN);
	negotiate(b, 0, NETBE_VNET_HDR_MRG_LEN);
	one_way(a, b, mac_b, mac_a, NETBE_VNET_HDR_LEN, NETBE_VNET_HDR_MRG_LEN);
	one_way(b, a, mac_a, mac_b, NETBE_VNET_HDR_MRG_LEN, NETBE_VNET_HDR_LEN);
	netbe_cleanup(a);
	netbe_cleanup(b);
	printf("ok: single frames both ways (packet and illumos-style dlpi), "
	       "header 0/10/12, VLAN tags kept\n");
}

/* The batch of batch_way(), and what its receiver saw. */
static struct {
	uint8_t (*fr)[1600];
	struct netbe_msg msgs[NBATCH];
	struct iovec iov[NBATCH][2];
	netbe_t *rx;
	size_t hdr;
	int got;
} bw;

static void batch_prep(const uint8_t *dst, const uint8_t *src, size_t hdr)
{
	static uint8_t zero[NETBE_VNET_HDR_MRG_LEN];

	if (!bw.fr)
		bw.fr = calloc(NBATCH, sizeof(*bw.fr));
	PK_CHECK(bw.fr != NULL, "out of memory");
	for (int i = 0; i < NBATCH; i++) {
		size_t len = 60 + (size_t)(i * 37) % 1440;

		pk_frame(bw.fr[i], len, dst, src, (uint32_t)i,
			 i % 10 == 9 ? 7 : 0);
		bw.iov[i][0] = (struct iovec){ zero, hdr };
		bw.iov[i][1] = (struct iovec){ bw.fr[i], len };
		bw.msgs[i] = (struct netbe_msg){ bw.iov[i], 2, 0 };
	}
	bw.hdr = hdr;
	bw.got = 0;
}

static void batch_send(netbe_t *tx)
{
	int sent = 0;

	while (sent < NBATCH) {
		int r = netbe_send_batch(tx, bw.msgs + sent, NBATCH - sent);

		PK_CHECK(r > 0 || r == -EAGAIN || r == -ENOBUFS,
			 "send_batch: %d %s", r, netbe_last_error());
		for (int i = 0; i < r; i++)
			PK_CHECK(bw.msgs[sent + i].len ==
					 bw.hdr + bw.iov[sent + i][1].iov_len,
				 "send_batch len of %d", sent + i);
		sent += r > 0 ? r : 0;
		if (r <= 0)
			usleep(1000);
	}
}

/* Checks the frames of one recv_batch against what was sent. */
static void batch_check(const struct netbe_msg *rm, int r)
{
	size_t hdr = bw.hdr;

	for (int i = 0; i < r; i++) {
		const uint8_t *b = rm[i].iov[0].iov_base;
		size_t len = bw.iov[bw.got][1].iov_len;
		uint32_t seq;

		if (!pk_is_ours(b + hdr, rm[i].len - hdr, &seq))
			continue;
		PK_CHECK(seq == (uint32_t)bw.got, "frame %u arrived as "
			 "number %d", seq, bw.got);
		PK_CHECK(rm[i].len == hdr + len &&
				 !memcmp(b + hdr, bw.fr[bw.got], len),
			 "batch frame %d differs (%zu bytes, want %zu)",
			 bw.got, rm[i].len, hdr + len);
		bw.got++;
	}
}

/* The receiving thread: drains while the sender sends, as a frontend
 * does.  A V3 ring holds only 8 blocks, each handed over when full or
 * after 1 ms; a receiver that waited for the whole batch lost frames in
 * the kernel whenever the sender was slowed down (about 1 run in 7 on
 * a loaded machine). */
static void *batch_recv(void *arg)
{
	static uint8_t rb[64][2048];
	int idle = 0;

	(void)arg;
	while (bw.got < NBATCH && idle < 2000) {
		struct iovec ri[64];
		struct netbe_msg rm[64];
		int r;

		for (int i = 0; i < 64; i++) {
			ri[i] = (struct iovec){ rb[i], sizeof(rb[i]) };
			rm[i] = (struct netbe_msg){ &ri[i], 1, 0 };
		}
		r = netbe_recv_batch(bw.rx, rm, 64);
		PK_CHECK(r >= 0, "recv_batch: %d %s", r, netbe_last_error());
		batch_check(rm, r);
		idle = r ? 0 : idle + 1;
		if (!r)
			usleep(1000);
	}
	return NULL;
}

/* 1000 frames of varied sizes in one send_batch arrive, in order, intact,
 * through recv_batch.  @hdr is the frontend's header on both sides. */
static void batch_way(netbe_t *tx, netbe_t *rx, const uint8_t *dst,
		      const uint8_t *src, size_t hdr)
{
	pthread_t t;

	batch_prep(dst, src, hdr);
	bw.rx = rx;
	PK_CHECK(pthread_create(&t, NULL, batch_recv, NULL) == 0,
		 "pthread_create");
	batch_send(tx);
	pthread_join(t, NULL);
	PK_CHECK(bw.got == NBATCH, "batch: %d of %d frames arrived", bw.got,
		 NBATCH);
}

static void t_batch(void)
{
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);

	batch_way(a, b, mac_b, mac_a, 0);
	batch_way(b, a, mac_a, mac_b, 0);
	negotiate(a, 0, NETBE_VNET_HDR_MRG_LEN);
	negotiate(b, 0, NETBE_VNET_HDR_MRG_LEN);
	batch_way(a, b, mac_b, mac_a, NETBE_VNET_HDR_MRG_LEN);
	batch_way(b, a, mac_a, mac_b, NETBE_VNET_HDR_MRG_LEN);
	netbe_cleanup(a);
	netbe_cleanup(b);
	printf("ok: %d-frame batches both ways, in order, intact\n", NBATCH);
}

/* ---- promiscuous options ---------------------------------------------------- */

/* A frame to a foreign unicast MAC reaches vA's packet socket on a veth
 * even when not promiscuous; promiscphys decides whether we pass it on. */
static void t_promiscphys(void)
{
	static const uint8_t foreign[6] = { 0x02, 0x99, 0x99, 0x99, 0x99, 0x99 };
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);
	netbe_t *off = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *on = open_fmt("packet,ifname=vA,ring=%s,promiscphys=on", ring);
	uint32_t seq;

	pk_frame(txbuf, 100, foreign, mac_b, 1, 0);
	send_frame(b, txbuf, 100, 0);
	pk_frame(txbuf, 100, mac_a, mac_b, 2, 0); /* then one for vA */
	send_frame(b, txbuf, 100, 0);
	PK_CHECK(pk_recv_ours(on, rxbuf, sizeof(rxbuf), 0, 2000) &&
		 pk_is_ours(rxbuf, 100, &seq) && seq == 1,
		 "promiscphys=on: the foreign frame did not arrive first");
	PK_CHECK(pk_recv_ours(off, rxbuf, sizeof(rxbuf), 0, 2000) &&
		 pk_is_ours(rxbuf, 100, &seq) && seq == 2,
		 "promiscphys=off: got the foreign frame (or nothing)");
	netbe_cleanup(b);
	netbe_cleanup(off);
	netbe_cleanup(on);
	printf("ok: promiscphys decides on frames for other MACs\n");
}

/* promiscrxonly=off also shows what the host sends out of vA; never our
 * own frames, whatever the option. */
static void t_promiscrxonly(void)
{
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);
	netbe_t *rxonly = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *all = open_fmt("packet,ifname=vA,ring=%s,promiscrxonly=off",
				ring);
	netbe_t *self = open_fmt("packet,ifname=vA,ring=%s,promiscrxonly=off,"
				 "qdisc_bypass=off", ring);
	uint32_t seq;

	/* Through the qdisc, so other packet sockets see it leave. */
	pk_frame(txbuf, 80, mac_b, mac_a, 10, 0);
	send_frame(self, txbuf, 80, 0);
	PK_CHECK(pk_recv_ours(b, rxbuf, sizeof(rxbuf), 0, 2000),
		 "frame from vA did not reach vB");
	PK_CHECK(pk_recv_ours(all, rxbuf, sizeof(rxbuf), 0, 2000) &&
		 pk_is_ours(rxbuf, 80, &seq) && seq == 10,
		 "promiscrxonly=off did not see the outgoing frame");
	pk_frame(txbuf, 80, mac_a, mac_b, 11, 0);
	send_frame(b, txbuf, 80, 0);
	PK_CHECK(pk_recv_ours(rxonly, rxbuf, sizeof(rxbuf), 0, 2000) &&
		 pk_is_ours(rxbuf, 80, &seq) && seq == 11,
		 "promiscrxonly=on saw an outgoing frame (or nothing)");
	PK_CHECK(pk_recv_ours(self, rxbuf, sizeof(rxbuf), 0, 2000) &&
		 pk_is_ours(rxbuf, 80, &seq) && seq == 11,
		 "the sender saw its own frame");
	netbe_cleanup(b);
	netbe_cleanup(rxonly);
	netbe_cleanup(all);
	netbe_cleanup(self);
	printf("ok: promiscrxonly; a sender never sees its own frames\n");
}

/* promiscsap=off keeps IPv4/ARP/IPv6 only. */
static void t_promiscsap(void)
{
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s,promiscsap=off", ring);
	struct iovec iov = { rxbuf, sizeof(rxbuf) };
	int ours = 0, ip = 0;

	pk_frame(txbuf, 80, mac_a, mac_b, 20, 0);
	send_frame(b, txbuf, 80, 0); /* PK_ETHERTYPE: filtered */
	pk_frame(txbuf, 80, mac_a, mac_b, 21, 0);
	txbuf[12] = 0x08;
	txbuf[13] = 0x00; /* "IPv4" (a bogus one: the kernel drops it) */
	send_frame(b, txbuf, 80, 0);
	for (int i = 0; i < 200 && !ip; i++) {
		ssize_t r = netbe_recv(a, &iov, 1);

		if (r == 80 && !memcmp(rxbuf + 14, "NBPK", 4))
			ip += rxbuf[12] == 0x08;
		ours += r == 80 && rxbuf[12] == 0x88;
		if (r == 0)
			usleep(5000);
	}
	PK_CHECK(ip == 1 && ours == 0, "promiscsap=off: ipv4 %d, other %d",
		 ip, ours);
	netbe_cleanup(a);
	netbe_cleanup(b);
	printf("ok: promiscsap=off keeps IPv4 and drops other ethertypes\n");
}

/* ---- limits ----------------------------------------------------------- */

/* ---- what the kernel dropped before us is counted ----------------------- */

#define LOSS_FRAMES 6016 /* 94 batches of 64 */
#define LOSS_LEN 1000

static void loss_flood(netbe_t *a)
{
	static uint8_t f[64][LOSS_LEN];
	struct iovec iov[64];
	struct netbe_msg m[64];

	for (uint32_t sent = 0; sent < LOSS_FRAMES; sent += 64) {
		for (int i = 0; i < 64; i++) {
			pk_frame(f[i], LOSS_LEN, mac_b, mac_a, sent + i, 0);
			iov[i] = (struct iovec){ f[i], LOSS_LEN };
			m[i] = (struct netbe_msg){ &iov[i], 1, 0 };
		}
		PK_CHECK(netbe_send_batch(a, m, 64) == 64, "flood: %s",
			 netbe_last_error());
	}
}

/* Receives until nothing came for 300 ms; returns how many were ours. */
static uint64_t loss_drain(netbe_t *b)
{
	struct iovec iov = { rxbuf, sizeof(rxbuf) };
	uint64_t ours = 0;
	uint32_t seq;
	int idle = 0;

	while (idle < 300) {
		ssize_t r = netbe_recv(b, &iov, 1);

		if (r > 0 && pk_is_ours(rxbuf, (size_t)r, &seq))
			ours++;
		if (r > 0)
			idle = 0;
		else if (usleep(1000) == 0)
			idle++;
	}
	return ours;
}

/* A ring nobody reads during a flood fills up and the kernel drops the
 * rest: what it dropped must show as "ring" drops, exactly. */
static void t_ring_losses(void)
{
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);
	struct netbe_stats st;
	uint64_t got, lost;

	loss_flood(a);
	stats(a, &st);
	PK_CHECK(st.tx_frames == LOSS_FRAMES, "flood sent %llu",
		 (unsigned long long)st.tx_frames);
	got = loss_drain(b);
	lost = drops(b, NETBE_RX, NETBE_DROP_RING);
	printf("  ring %s: %d sent, %llu received, %llu counted as ring "
	       "drops\n", ring, LOSS_FRAMES, (unsigned long long)got,
	       (unsigned long long)lost);
	PK_CHECK(lost > 0 && got + lost == LOSS_FRAMES,
		 "received %llu + ring drops %llu != %d sent",
		 (unsigned long long)got, (unsigned long long)lost,
		 LOSS_FRAMES);
	netbe_cleanup(a);
	netbe_cleanup(b);
}

static void t_oversize(void)
{
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);
	size_t max = (size_t)pk_if_mtu("vA") + 14;
	struct iovec iov[3];
	struct netbe_msg msgs[3];
	struct netbe_stats st;
	uint32_t seq;
	ssize_t r;

	pk_frame(txbuf, max + 1, mac_b, mac_a, 30, 0);
	iov[0] = (struct iovec){ txbuf, max + 1 };
	r = netbe_send(a, iov, 1);
	PK_CHECK(r == -EMSGSIZE, "oversize frame: %zd, want -EMSGSIZE", r);
	/* Too big is the frame's fault, not the backend's: a drop. */
	stats(a, &st);
	PK_CHECK(st.tx_drops == 1 && st.tx_errors == 0 && st.tx_frames == 0 &&
		 drops(a, NETBE_TX, NETBE_DROP_OVERSIZE) == 1,
		 "oversize not counted: drops %llu (oversize %llu), errors "
		 "%llu", (unsigned long long)st.tx_drops,
		 (unsigned long long)drops(a, NETBE_TX, NETBE_DROP_OVERSIZE),
		 (unsigned long long)st.tx_errors);
	/* Tagged, MTU + 18 is fine; in a batch, the oversize one is dropped
	 * and counted while its neighbours go. */
	pk_frame(txbuf, max + 4, mac_b, mac_a, 31, 5);
	pk_frame(txbuf + 2048, max + 2, mac_b, mac_a, 32, 0);
	pk_frame(txbuf + 4096, 100, mac_b, mac_a, 33, 0);
	for (int i = 0; i < 3; i++) {
		iov[i] = (struct iovec){ txbuf + 2048 * i,
					 i == 0 ? max + 4 : i == 1 ? max + 2
								  : 100 };
		msgs[i] = (struct netbe_msg){ &iov[i], 1, 0 };
	}
	PK_CHECK(netbe_send_batch(a, msgs, 3) == 3 && msgs[1].len == 0,
		 "batch with an oversize frame: %s", netbe_last_error());
	stats(a, &st);
	PK_CHECK(st.tx_drops == 2 && st.tx_errors == 0 && st.tx_frames == 2 &&
		 drops(a, NETBE_TX, NETBE_DROP_OVERSIZE) == 2,
		 "batch oversize not counted");
	PK_CHECK(pk_recv_ours(b, rxbuf, sizeof(rxbuf), 0, 2000) == max + 4 &&
		 pk_is_ours(rxbuf, max + 4, &seq) && seq == 31,
		 "tagged MTU-sized frame");
	PK_CHECK(pk_recv_ours(b, rxbuf, sizeof(rxbuf), 0, 2000) == 100 &&
		 pk_is_ours(rxbuf, 100, &seq) && seq == 33,
		 "frame after the oversize one");
	/* Receive side: a buffer too small drops the frame, counted. */
	pk_frame(txbuf, 500, mac_b, mac_a, 34, 0);
	send_frame(a, txbuf, 500, 0);
	usleep(20000);
	iov[0] = (struct iovec){ rxbuf, 100 };
	for (int i = 0; i < 100 && (r = netbe_recv(b, iov, 1)) == 0; i++)
		usleep(20000);
	PK_CHECK(r == -ENOSPC, "small buffer: %zd, want -ENOSPC", r);
	stats(b, &st);
	PK_CHECK(st.rx_drops == 1 && drops(b, NETBE_RX, NETBE_DROP_NOROOM) == 1,
		 "rx drop not counted");
	netbe_cleanup(a);
	netbe_cleanup(b);
	printf("ok: oversize refused and counted (send, batch, receive)\n");
}

/* ---- offloads ------------------------------------------------------------ */

#define PAYLOAD 65000u
#define MSS 1448u

/* Ethernet/IPv4/TCP 198.51.100.1:40000 -> .2:5001, vA -> vB.  With
 * @partial the TCP checksum holds only the pseudo-header sum. */
static size_t tcp_frame(uint8_t *f, size_t payload, bool partial)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	size_t iplen = 40 + payload;
	uint32_t sum;

	memset(f, 0, 54);
	memcpy(f, mac_b, 6);
	memcpy(f + 6, mac_a, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){ 198, 51, 100, 1, 198, 51, 100, 2 }, 8);
	sum = pk_csum_fold(pk_csum_add(0, ip, 20));
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	tcp[0] = 40000 >> 8;
	tcp[1] = 40000 & 0xff;
	tcp[2] = 5001 >> 8;
	tcp[3] = 5001 & 0xff;
	tcp[7] = 1;	  /* seq 1 */
	tcp[12] = 5 << 4; /* data offset */
	tcp[13] = 0x18;	  /* PSH ACK */
	tcp[14] = 0xff;
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(i * 13);
	sum = pk_csum_add(0, ip + 12, 8) + 6 + (uint32_t)(20 + payload);
	if (!partial)
		sum = pk_csum_add(sum, tcp, 20 + payload);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	if (!partial)
		sum = (uint16_t)~sum;
	tcp[16] = (uint8_t)(sum >> 8);
	tcp[17] = (uint8_t)sum;
	return 54 + payload;
}

static bool tcp_csum_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	uint32_t sum = pk_csum_add(0, ip + 12, 8) + 6 + (uint32_t)(len - 34);

	return pk_csum_fold(pk_csum_add(sum, ip + 20, len - 34)) == 0;
}

/* Waits for one IPv4/TCP frame of ours on @be; its length or 0. */
static size_t recv_tcp(netbe_t *be, size_t hdr, int ms)
{
	struct iovec iov = { rxbuf, sizeof(rxbuf) };

	for (int i = 0; i < ms / 5; i++) {
		ssize_t r = netbe_recv(be, &iov, 1);

		PK_CHECK(r >= 0, "recv: %s", netbe_last_error());
		if (r > (ssize_t)(hdr + 54) && rxbuf[hdr + 12] == 0x08 &&
		    rxbuf[hdr + 23] == 6 && rxbuf[hdr + 29] == 1)
			return (size_t)r;
		if (r == 0)
			usleep(5000);
	}
	return 0;
}

static void send_tcp(netbe_t *a, size_t payload, bool gso)
{
	struct netbe_vnet_hdr h = {
		.flags = NETBE_VNET_HDR_F_NEEDS_CSUM,
		.gso_type = gso ? NETBE_VNET_HDR_GSO_TCPV4 : 0,
		.hdr_len = htole16(gso ? 54 : 0),
		.gso_size = htole16(gso ? MSS : 0),
		.csum_start = htole16(34),
		.csum_offset = htole16(16),
	};
	size_t len = tcp_frame(txbuf, payload, true);
	struct iovec iov[2] = { { &h, NETBE_VNET_HDR_LEN }, { txbuf, len } };
	ssize_t r = netbe_send(a, iov, 2);

	PK_CHECK(r == (ssize_t)(NETBE_VNET_HDR_LEN + len),
		 "send TCP (gso %d): %zd %s", gso, r, netbe_last_error());
}

/* A plain AF_PACKET socket on vB (no vnet header) sees the GSO frame
 * whole, 64 KiB: the kernel does not segment for packet sockets. */
static int raw_socket(const char *ifname)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_IP));
	struct sockaddr_ll sa = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = (int)if_nametoindex(ifname) };

	PK_CHECK(s >= 0 && bind(s, (void *)&sa, sizeof(sa)) == 0,
		 "raw socket: %s", strerror(errno));
	return s;
}

static size_t raw_recv_tcp(int s)
{
	for (int i = 0; i < 400; i++) {
		ssize_t r = recv(s, rxbuf, sizeof(rxbuf), MSG_TRUNC);

		if (r > 54 && rxbuf[23] == 6 && rxbuf[29] == 1)
			return (size_t)r;
		usleep(5000);
	}
	return 0;
}

/* Receives the segments of the GSO frame on @be: their count, or -1
 * when one is not a valid, finished segment of our payload. */
static int recv_segments(netbe_t *be, size_t hdr, uint32_t *bytes)
{
	const struct netbe_vnet_hdr *h = (const void *)rxbuf;
	size_t got;
	int n = 0;

	*bytes = 0;
	while ((got = recv_tcp(be, hdr, 500)) != 0) {
		const uint8_t *f = rxbuf + hdr, *tcp = f + 34;
		uint32_t seq = (uint32_t)(tcp[4] << 24 | tcp[5] << 16 |
					  tcp[6] << 8 | tcp[7]);

		if (got - hdr > 54 + MSS || (hdr && h->gso_type) ||
		    (!(hdr && (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM)) &&
		     !tcp_csum_ok(f, got - hdr)) ||
		    seq != 1 + *bytes)
			return -1;
		for (size_t i = 54; i < got - hdr; i++)
			if (f[i] != (uint8_t)((seq - 1 + i - 54) * 13))
				return -1;
		*bytes += (uint32_t)(got - hdr - 54);
		n++;
	}
	return n;
}

/*
 * Offloads over the veth, with vA's packet backend sending (HOST_TSO4 and
 * CSUM negotiated).  What the kernel does: the veth hands partial
 * checksums and whole 64 KiB GSO frames to vB's packet sockets (a plain
 * AF_PACKET socket sees the 65054-byte frame).  A V3 ring delivers the GSO
 * frame whole to a frontend with GUEST_TSO4; for the others the core
 * completes the checksum and cuts the frame into 45 segments.  A V2 slot
 * cannot hold it: dropped and counted.
 */
static void t_gso(void)
{
	uint64_t host = NETBE_F_CSUM | NETBE_F_HOST_TSO4;
	uint64_t guest = NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4;
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s", ring);
	netbe_t *plain = open_fmt("packet,ifname=vB,ring=%s", ring);
	netbe_t *csum = open_fmt("packet,ifname=vB,ring=%s", ring);
	netbe_t *tso = NULL;
	bool v3 = !strcmp(ring, "v3");
	const struct netbe_vnet_hdr *h = (const void *)rxbuf;
	struct netbe_stats st;
	size_t len = 54 + PAYLOAD, got;
	uint32_t bytes;
	int raw = raw_socket("vB"), n;

	PK_CHECK(!!(netbe_get_cap(a) & NETBE_F_GUEST_TSO4) == v3,
		 "GUEST_TSO4 offered by ring %s: %d", ring,
		 !!(netbe_get_cap(a) & NETBE_F_GUEST_TSO4));
	negotiate(a, host, NETBE_VNET_HDR_LEN);
	negotiate(csum, NETBE_F_GUEST_CSUM, NETBE_VNET_HDR_LEN);
	if (v3) {
		tso = open_fmt("packet,ifname=vB,ring=v3");
		negotiate(tso, guest, NETBE_VNET_HDR_LEN);
	}

	/* A partially checksummed frame: finished for a frontend without
	 * GUEST_CSUM, passed on as is (NEEDS_CSUM) to one with it. */
	send_tcp(a, 1000, false);
	got = recv_tcp(plain, 0, 2000);
	PK_CHECK(got == 1054 && tcp_csum_ok(rxbuf, got),
		 "partial checksum not completed (%zu bytes)", got);
	got = recv_tcp(csum, NETBE_VNET_HDR_LEN, 2000);
	PK_CHECK(got == 1064 && (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM) &&
		 le16toh(h->csum_start) == 34 && le16toh(h->csum_offset) == 16,
		 "GUEST_CSUM: NEEDS_CSUM not passed on (%zu bytes, flags %u)",
		 got, h->flags);
	PK_CHECK(!tso || recv_tcp(tso, NETBE_VNET_HDR_LEN, 2000) == 1064,
		 "GUEST_TSO4: the partial frame");
	PK_CHECK(raw_recv_tcp(raw) == 1054, "raw socket: partial frame");

	send_tcp(a, PAYLOAD, true);
	PK_CHECK(raw_recv_tcp(raw) == len,
		 "a plain packet socket did not see the GSO frame whole");
	if (tso) {
		got = recv_tcp(tso, NETBE_VNET_HDR_LEN, 2000);
		PK_CHECK(got == NETBE_VNET_HDR_LEN + len &&
				 h->gso_type == NETBE_VNET_HDR_GSO_TCPV4 &&
				 le16toh(h->gso_size) == MSS &&
				 !memcmp(rxbuf + NETBE_VNET_HDR_LEN + 54,
					 txbuf + 54, PAYLOAD),
			 "GUEST_TSO4: GSO frame not whole (%zu bytes, type %u, "
			 "size %u)", got, h->gso_type, le16toh(h->gso_size));
	}
	n = recv_segments(plain, 0, &bytes);
	PK_CHECK(v3 ? n == 45 && bytes == PAYLOAD : n == 0,
		 "no header: %d segments, %u bytes", n, bytes);
	n = recv_segments(csum, NETBE_VNET_HDR_LEN, &bytes);
	PK_CHECK(v3 ? n == 45 && bytes == PAYLOAD : n == 0,
		 "GUEST_CSUM only: %d segments, %u bytes", n, bytes);
	stats(plain, &st);
	PK_CHECK(st.rx_drops == (v3 ? 0u : 1u), "rx_drops %llu",
		 (unsigned long long)st.rx_drops);
	close(raw);
	netbe_cleanup(a);
	netbe_cleanup(plain);
	netbe_cleanup(csum);
	netbe_cleanup(tso);
	printf("ok: partial checksums; the 64 KiB GSO frame %s\n",
	       v3 ? "whole with GUEST_TSO4, in 45 segments without"
		  : "dropped and counted (v2 slots are MTU-sized)");
}

/* ---- queues ------------------------------------------------------------ */

static void t_queues(void)
{
	netbe_t *a = open_fmt("packet,ifname=vA,ring=%s,queues=2", ring);
	netbe_t *b = open_fmt("packet,ifname=vB,ring=%s", ring);
	int seen[64] = { 0 }, per_q[2] = { 0 }, total = 0;

	PK_CHECK(netbe_get_nqueues(a) == 2, "nqueues %u",
		 netbe_get_nqueues(a));
	for (int i = 0; i < 64; i++) { /* 64 flows: UDP source ports */
		size_t len = tcp_frame(txbuf, 20, false);

		memcpy(txbuf, mac_a, 6);
		memcpy(txbuf + 6, mac_b, 6);
		txbuf[23] = 17;
		txbuf[34] = (uint8_t)i;
		txbuf[40] = (uint8_t)i; /* seq byte: which flow */
		send_frame(b, txbuf, len, 0);
	}
	for (int tries = 0; tries < 200 && total < 64; tries++) {
		for (unsigned q = 0; q < 2; q++) {
			struct iovec iov = { rxbuf, sizeof(rxbuf) };
			ssize_t r;

			while ((r = netbe_recv(netbe_get_queue(a, q), &iov,
					       1)) > 0) {
				if (r != 74 || rxbuf[23] != 17)
					continue;
				seen[rxbuf[40] & 63]++;
				per_q[q]++;
				total++;
			}
		}
		usleep(5000);
	}
	for (int i = 0; i < 64; i++)
		PK_CHECK(seen[i] == 1, "flow %d seen %d times", i, seen[i]);
	PK_CHECK(per_q[0] && per_q[1], "fanout: queue 0 got %d, queue 1 %d",
		 per_q[0], per_q[1]);
	/* Queue 1 sends too. */
	pk_frame(txbuf, 90, mac_b, mac_a, 40, 0);
	send_frame(netbe_get_queue(a, 1), txbuf, 90, 0);
	PK_CHECK(pk_recv_ours(b, rxbuf, sizeof(rxbuf), 0, 2000) == 90,
		 "queue 1 send");
	netbe_cleanup(a);
	netbe_cleanup(b);
	printf("ok: queues=2 fanout: %d + %d frames, each flow once\n",
	       per_q[0], per_q[1]);
}

/* ---- errors -------------------------------------------------------------- */

static void drop_net_raw(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	PK_CHECK(syscall(SYS_capget, &h, d) == 0, "capget");
	d[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
	d[CAP_NET_RAW / 32].permitted &= ~(1u << (CAP_NET_RAW % 32));
	PK_CHECK(syscall(SYS_capset, &h, d) == 0, "capset");
}

static void t_errors(void)
{
	netbe_t *be = NULL;
	pid_t pid;
	int r, status;

	r = netbe_open(&be, "packet,ifname=vNone9", loop, NULL, NULL);
	PK_CHECK(r == -EINVAL && !be, "NULL callback accepted");
	r = netbe_open(&be, "packet,ifname=vNone9", loop,
		       nop_cb, NULL);
	PK_CHECK(r == -ENODEV && !be &&
		 !strcmp(netbe_last_error(), "packet: vNone9: No such device"),
		 "missing interface: %d '%s'", r, netbe_last_error());
	r = netbe_open(&be, "dlpi", loop, nop_cb, NULL);
	PK_CHECK(r == -EINVAL && strstr(netbe_last_error(), "vnic"),
		 "dlpi without vnic: %d '%s'", r, netbe_last_error());
	r = netbe_open(&be, "packet,ifname=vA,ring=v9", loop,
		       nop_cb, NULL);
	PK_CHECK(r == -EINVAL && strstr(netbe_last_error(), "v2"),
		 "ring=v9: %d '%s'", r, netbe_last_error());
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		drop_net_raw();
		r = netbe_open(&be, "packet,ifname=vA", loop,
			       nop_cb, NULL);
		PK_CHECK(r == -EPERM && strstr(netbe_last_error(),
					       "CAP_NET_RAW"),
			 "without CAP_NET_RAW: %d '%s'", r,
			 netbe_last_error());
		_exit(0);
	}
	PK_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		 WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "the unprivileged child failed");
	printf("ok: clear errors for a missing interface, vnic, ring, "
	       "CAP_NET_RAW\n");
}

int main(int argc, char **argv)
{
	ring = argc > 1 ? argv[1] : "v2";
	setvbuf(stdout, NULL, _IOLBF, 0);
	PK_CHECK(netbe_loop_new(&loop) == 0, "loop");
	pk_if_mac("vA", mac_a);
	pk_if_mac("vB", mac_b);
	t_errors();
	t_single();
	t_batch();
	t_promiscphys();
	t_promiscrxonly();
	t_promiscsap();
	t_oversize();
	t_ring_losses();
	t_gso();
	t_queues();
	netbe_loop_free(loop);
	printf("PASS (ring %s)\n", ring);
	return 0;
}
