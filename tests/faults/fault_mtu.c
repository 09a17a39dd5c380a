/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_mtu - the packet backend follows an MTU raised under it (issue 8,
 * bug 6: the receive ring was sized from the MTU at open, so every jumbo
 * frame was dropped afterwards, with a hint about GSO).
 *
 *   usage: fault_mtu v2|v3|v2-told|v2-mq
 *
 * Theory of operation
 *   packet,ifname=vA opens on a veth pair at MTU 1500 (faults.sh made it;
 *   a thread runs the loop, fault_util.c), a frame arrives, then both
 *   ends go to MTU 9000 and the peer sends an 8000-byte frame.
 *     v2  slots hold one MTU-sized frame, so that first frame arrives cut
 *         short: it is dropped, counted as OVERSIZE, and a log line names
 *         the interface, the frame's size, the slot size and both MTUs;
 *         the receive thread then rebuilds the ring, and the next
 *         8000-byte frame is delivered whole.
 *     v3  blocks hold 64 KiB: the first one is delivered, nothing drops.
 *     v2-told  the frontend asks netbe_get_mtu() after the change (as a
 *         VMM that heard of it does) and a small frame passes: the ring
 *         is rebuilt then, so not even the first jumbo frame is lost.
 *     v2-mq  as v2 with queues=2: each queue rebuilds its own ring and
 *         stays in the fanout group; as a swap re-joins the group, the
 *         flow may move to the other queue and lose one more frame there.
 *   Then the backend sends an 8000-byte frame itself (accepted: the
 *   transmit limit follows the MTU too), and small frames still flow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_util.h"

#define JUMBO 8000
#define SMALL 200
#define FLOW_MS 3000

struct mt_mode {
	const char *name, *spec;
	bool v3, told;
	unsigned max_lost; /* jumbo frames the ring(s) may drop */
};

static const struct mt_mode modes[] = {
	{ "v2", "packet,ifname=vA", false, false, 1 },
	{ "v3", "packet,ifname=vA,ring=v3", true, false, 0 },
	{ "v2-told", "packet,ifname=vA", false, true, 0 },
	{ "v2-mq", "packet,ifname=vA,queues=2", false, false, 2 },
};

static struct fu_port port;
static struct fu_peer peer;
static const struct mt_mode *mode;

static uint64_t mt_drops(int why)
{
	uint64_t d[NETBE_DROP_NREASONS] = { 0 };

	FU_CHECK(netbe_get_drops(port.be, NETBE_RX, d, NETBE_DROP_NREASONS) >
		 why, "netbe_get_drops");
	return d[why];
}

static const struct mt_mode *mt_pick(const char *name)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(modes[i].name, name))
			return &modes[i];
	fu_fail("usage: fault_mtu v2|v3|v2-told|v2-mq");
}

static void mt_open(const char *spec)
{
	int r;

	if (geteuid() != 0)
		fu_skip("needs root (network namespaces, raw sockets)");
	r = fu_port_open(&port, spec);
	FU_CHECK(r == 0, "open %s: %d %s", spec, r, netbe_last_error());
	fu_peer_open(&peer, "vB");
	FU_CHECK(netbe_get_mtu(port.be) == 1500, "MTU at open: %d",
		 netbe_get_mtu(port.be));
	FU_CHECK(fu_flow(&port, &peer, 1, SMALL, FLOW_MS),
		 "a small frame did not arrive");
}

/* v2: the first jumbo frame is dropped, counted and explained. */
static void mt_first_dropped(void)
{
	char line[256];

	FU_CHECK(fu_peer_send(&peer, 2, JUMBO) == 0, "peer send: %s",
		 strerror(errno));
	FU_CHECK(fu_log_wait("8000 bytes", NULL, 2000),
		 "no log line about the 8000-byte frame");
	FU_CHECK(fu_log_get("8000 bytes", line, sizeof(line)), "log");
	FU_CHECK(strstr(line, "vA") && strstr(line, "-byte slots") &&
		 strstr(line, "MTU 1500") && strstr(line, "now 9000"),
		 "the log line does not name the interface, the slot size "
		 "and both MTUs: %s", line);
	FU_CHECK(mt_drops(NETBE_DROP_OVERSIZE) == 1, "OVERSIZE drops %llu, "
		 "want 1", (unsigned long long)mt_drops(NETBE_DROP_OVERSIZE));
	printf("ok: the first %d-byte frame: dropped (OVERSIZE), logged\n",
	       JUMBO);
}

static void mt_jumbo_in(void)
{
	uint64_t lost;
	uint32_t len;

	FU_CHECK(fu_flow(&port, &peer, 3, JUMBO, FLOW_MS),
		 "a %d-byte frame did not arrive after the MTU went up",
		 JUMBO);
	len = __atomic_load_n(&port.last_len, __ATOMIC_RELAXED);
	FU_CHECK(len == JUMBO, "got %u bytes, want %d", len, JUMBO);
	lost = mt_drops(NETBE_DROP_OVERSIZE);
	FU_CHECK(lost <= mode->max_lost, "OVERSIZE drops %llu, want at "
		 "most %u", (unsigned long long)lost, mode->max_lost);
	printf("ok: a %d-byte frame is delivered whole (%llu lost before)\n",
	       JUMBO, (unsigned long long)lost);
}

static void mt_jumbo_out(void)
{
	static uint8_t f[JUMBO];
	struct iovec iov = { f, sizeof(f) };
	ssize_t r;

	memset(f, 0xff, 6);
	f[12] = FU_ETHERTYPE >> 8;
	f[13] = FU_ETHERTYPE & 0xff;
	r = netbe_send(port.be, &iov, 1);
	FU_CHECK(r == JUMBO, "sending %d bytes at MTU 9000: %zd %s", JUMBO, r,
		 netbe_last_error());
	FU_CHECK(netbe_get_mtu(port.be) == 9000, "MTU now: %d",
		 netbe_get_mtu(port.be));
	printf("ok: the backend sends a %d-byte frame\n", JUMBO);
}

/* The frontend learns the new MTU; the next empty ring is rebuilt. */
static void mt_told(void)
{
	FU_CHECK(netbe_get_mtu(port.be) == 9000, "MTU now: %d",
		 netbe_get_mtu(port.be));
	FU_CHECK(fu_flow(&port, &peer, 2, SMALL, FLOW_MS),
		 "a small frame did not arrive after the MTU change");
	FU_CHECK(fu_log_wait("rebuilt for MTU 9000", NULL, 1000),
		 "the ring was not rebuilt after netbe_get_mtu()");
	printf("ok: ring rebuilt before any jumbo frame came\n");
}

int main(int argc, char **argv)
{
	mode = mt_pick(argc == 2 ? argv[1] : "");
	setvbuf(stdout, NULL, _IOLBF, 0);
	fu_log_start();
	mt_open(mode->spec);
	fu_if_set_mtu("vA", 9000);
	fu_if_set_mtu("vB", 9000);
	if (mode->told)
		mt_told();
	else if (!mode->v3)
		mt_first_dropped();
	mt_jumbo_in();
	mt_jumbo_out();
	FU_CHECK(fu_flow(&port, &peer, 4, SMALL, FLOW_MS),
		 "small frames stopped after the MTU change");
	fu_peer_close(&peer);
	fu_port_close(&port);
	printf("PASS %s\n", mode->name);
	return 0;
}
