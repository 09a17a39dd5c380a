/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_link - a backend outlives its interface going down, coming back
 * and going away, without spinning and without keeping quiet (issue 8).
 *
 *   usage: fault_link packet|xdp|tap [down-del]
 *
 * Theory of operation
 *   The backend runs as a VMM runs it: on a private loop, on a thread of
 *   its own, receive enabled, its callback draining frames (fault_util.c).
 *   A peer injects test frames with a raw AF_PACKET socket: on vB for the
 *   packet and xdp (mode=skb) backends, which sit on vA of a veth pair;
 *   on the tap interface itself for tap, which the host then "transmits"
 *   to the backend's fd.  Then, in order:
 *     1. a frame arrives;
 *     2. the interface goes down for 1.5 s: this process (every thread)
 *        must use under MAX_CPU % of one core meanwhile.  The old loop
 *        took EPOLLERR for "readable", never read SO_ERROR, and spun at
 *        ~51 000 wakeups/s, also after the link came back;
 *     3. it comes back up: frames arrive again; nothing was counted as
 *        an error or a drop;
 *     4. it is deleted (ip link del): the log names the interface and
 *        says it is gone, the CPU stays under MAX_CPU % for 1 s, a frame
 *        sent now is counted exactly once, and netbe_cleanup() works.
 *   With "down-del" step 3 is left out: the interface is deleted while
 *   down, when the kernel has no error left to report on the socket.
 *   Each step prints what it measured.  Run inside the netns faults.sh
 *   made (veth pair vA <-> vB, IPv6 off).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_util.h"

#define MAX_CPU 10.0  /* percent of one core */
#define DOWN_MS 1500
#define GONE_MS 1000
#define FLOW_MS 3000
#define FRAME 200

struct fl_case {
	const char *name;
	const char *spec;
	const char *dev;  /* what goes down and away */
	const char *peer; /* where test frames are injected */
	bool logs_down;	  /* the backend hears of a link down (SO_ERROR) */
};

static const struct fl_case cases[] = {
	{ "packet", "packet,ifname=vA", "vA", "vB", true },
	{ "xdp", "xdp,ifname=vA,mode=skb", "vA", "vB", false },
	{ "tap", "tap,ifname=ftap0,up=on", "ftap0", "ftap0", false },
};

static struct fu_port port;
static struct fu_peer peer;
static uint32_t seq = 1;

static const struct fl_case *fl_pick(const char *name)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	fu_fail("usage: fault_link packet|xdp|tap");
}

static void fl_need_tun(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fu_skip("cannot open /dev/net/tun: %s", strerror(errno));
	close(fd);
}

static void fl_open(const struct fl_case *c)
{
	int r;

	if (geteuid() != 0)
		fu_skip("needs root (network namespaces, raw sockets)");
	if (!strcmp(c->name, "tap"))
		fl_need_tun();
	r = fu_port_open(&port, c->spec);
	if (r == -EAFNOSUPPORT || r == -EOPNOTSUPP)
		fu_skip("%s: %s", c->spec, netbe_last_error());
	FU_CHECK(r == 0, "open %s: %d %s", c->spec, r, netbe_last_error());
	fu_peer_open(&peer, c->peer);
}

static void fl_flow(const char *when)
{
	uint32_t s = seq++;

	FU_CHECK(fu_flow(&port, &peer, s, FRAME, FLOW_MS),
		 "%s: frame %u did not arrive in %d ms", when, s, FLOW_MS);
	printf("ok: %s: a frame arrives\n", when);
}

/* The sum of @dir's drop counters. */
static uint64_t fl_drops(int dir)
{
	uint64_t d[NETBE_DROP_NREASONS] = { 0 }, sum = 0;

	FU_CHECK(netbe_get_drops(port.be, dir, d, NETBE_DROP_NREASONS) > 0,
		 "netbe_get_drops");
	for (int i = 0; i < NETBE_DROP_NREASONS; i++)
		sum += d[i];
	return sum;
}

/* Frames drained match rx_frames; nothing counted as lost or failed. */
static void fl_counters(void)
{
	struct netbe_stats st;
	uint64_t drained;

	fu_sleep_ms(200); /* a late resend of the last frame lands first */
	netbe_get_stats(port.be, &st);
	drained = __atomic_load_n(&port.ours, __ATOMIC_RELAXED) +
		  __atomic_load_n(&port.others, __ATOMIC_RELAXED);
	printf("counters: rx_frames %llu (drained %llu), rx_errors %llu, rx "
	       "drops %llu\n", (unsigned long long)st.rx_frames,
	       (unsigned long long)drained, (unsigned long long)st.rx_errors,
	       (unsigned long long)fl_drops(NETBE_RX));
	FU_CHECK(st.rx_frames == drained, "rx_frames %llu, the callback "
		 "drained %llu", (unsigned long long)st.rx_frames,
		 (unsigned long long)drained);
	FU_CHECK(st.rx_errors == 0 && fl_drops(NETBE_RX) == 0,
		 "a link down counted as an error or a drop");
}

static void fl_down(const struct fl_case *c)
{
	uint64_t calls = __atomic_load_n(&port.calls, __ATOMIC_RELAXED);
	double cpu;

	fu_if_set_up(c->dev, false);
	cpu = fu_cpu_over(DOWN_MS);
	calls = __atomic_load_n(&port.calls, __ATOMIC_RELAXED) - calls;
	printf("%s down for %d ms: cpu %.1f%% of one core, %llu receive "
	       "callbacks\n", c->dev, DOWN_MS, cpu, (unsigned long long)calls);
	FU_CHECK(cpu < MAX_CPU, "%s: %.1f%% cpu while %s was down (spinning?)",
		 c->name, cpu, c->dev);
	FU_CHECK(!c->logs_down || fu_log_has(c->dev, "link down"),
		 "no log line says %s went down", c->dev);
}

static void fl_up(const struct fl_case *c)
{
	fu_if_set_up(c->dev, true);
	fl_flow("after down -> up");
	fl_counters();
}

/* Every frame offered is counted once: sent, dropped or failed. */
static void fl_send_after(void)
{
	static uint8_t f[FRAME];
	struct iovec iov = { f, sizeof(f) };
	struct netbe_stats a, b;
	ssize_t r;

	memset(f, 0xff, 6);
	netbe_get_stats(port.be, &a);
	r = netbe_send(port.be, &iov, 1);
	netbe_get_stats(port.be, &b);
	printf("send after delete: %zd (%s); tx frames/drops/errors +%llu/"
	       "+%llu/+%llu\n", r, r < 0 ? netbe_last_error() : "accepted",
	       (unsigned long long)(b.tx_frames - a.tx_frames),
	       (unsigned long long)(b.tx_drops - a.tx_drops),
	       (unsigned long long)(b.tx_errors - a.tx_errors));
	FU_CHECK(b.tx_frames + b.tx_drops + b.tx_errors ==
		 a.tx_frames + a.tx_drops + a.tx_errors + 1,
		 "a frame sent after the delete was not counted exactly once");
}

static void fl_delete(const struct fl_case *c)
{
	double cpu;

	fu_peer_close(&peer);
	fu_if_del(c->dev);
	cpu = fu_cpu_over(GONE_MS);
	printf("%s deleted: cpu %.1f%% of one core over %d ms\n", c->dev, cpu,
	       GONE_MS);
	FU_CHECK(cpu < MAX_CPU, "%s: %.1f%% cpu after %s was deleted",
		 c->name, cpu, c->dev);
	FU_CHECK(fu_log_wait(c->dev, "gone", 1000),
		 "%s: no log line says %s is gone", c->name, c->dev);
	printf("ok: the log says %s is gone\n", c->dev);
	fl_send_after();
}

int main(int argc, char **argv)
{
	const struct fl_case *c = fl_pick(argc >= 2 ? argv[1] : "");
	bool down_del = argc == 3 && !strcmp(argv[2], "down-del");

	FU_CHECK(argc == 2 || down_del, "usage: fault_link BACKEND [down-del]");
	setvbuf(stdout, NULL, _IOLBF, 0);
	fu_log_start();
	fl_open(c);
	fl_flow("open");
	fl_down(c);
	if (!down_del)
		fl_up(c);
	fl_delete(c);
	fu_port_close(&port);
	printf("ok: netbe_cleanup after the delete\nPASS %s\n", c->name);
	return 0;
}
