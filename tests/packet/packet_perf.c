/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * packet_perf - the numbers behind packet.c's ring and transmit choices,
 * on the veth pair vA <-> vB that packet_veth.sh makes (meson benchmark).
 *
 *   lat  RING  ping-pong of one 64-byte frame vA -> vB -> vA: median RTT
 *   rx   RING  one thread floods vA with send_batch, another drains vB
 *              with recv_batch, for 2 s: frames sent and received per s
 *   tx         send_batch of 64-byte frames on vA for 2 s (nobody reads)
 *   txring     the same through a raw TPACKET_V2 TX ring, for comparison
 *   all        everything above, both rings
 *
 * Both ends negotiate a 10-byte header and every offload, so the core adds
 * nothing and the numbers are the backend's.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pk_util.h"

#define BATCH 64
#define FRAME 64
#define HDR NETBE_VNET_HDR_LEN

static netbe_loop_t *loop;
static uint8_t mac_a[6], mac_b[6];
static volatile int stop;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static netbe_t *open_end(const char *ifname, const char *ring)
{
	char spec[128];
	netbe_t *be;

	snprintf(spec, sizeof(spec), "packet,ifname=%s,ring=%s", ifname, ring);
	be = pk_open(spec, loop);
	PK_CHECK(netbe_set_cap(be, netbe_get_cap(be), HDR) == 0, "set_cap %s",
		 netbe_last_error());
	return be;
}

static void wait_fd(netbe_t *be)
{
	struct pollfd p = { netbe_get_fd(be), POLLIN, 0 };

	poll(&p, 1, 1000);
}

/* Receives one frame of ours, waiting as long as it takes (1 s max). */
static bool pong(netbe_t *be, uint8_t *buf)
{
	struct iovec iov = { buf, 2048 };
	uint32_t seq;

	for (int i = 0; i < 1000; i++) {
		ssize_t r = netbe_recv(be, &iov, 1);

		if (r > HDR && pk_is_ours(buf + HDR, (size_t)r - HDR, &seq))
			return true;
		if (r == 0)
			wait_fd(be);
	}
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void lat(const char *ring)
{
	enum { N = 500 };
	netbe_t *a = open_end("vA", ring), *b = open_end("vB", ring);
	static uint8_t fa[HDR + FRAME], fb[HDR + FRAME], buf[2048];
	struct iovec ia = { fa, sizeof(fa) }, ib = { fb, sizeof(fb) };
	double rtt[N], t0 = now(), total;

	pk_frame(fa + HDR, FRAME, mac_b, mac_a, 1, 0);
	pk_frame(fb + HDR, FRAME, mac_a, mac_b, 2, 0);
	for (int i = 0; i < N; i++) {
		double t = now();

		PK_CHECK(netbe_send(a, &ia, 1) > 0, "send a");
		PK_CHECK(pong(b, buf), "ping lost");
		PK_CHECK(netbe_send(b, &ib, 1) > 0, "send b");
		PK_CHECK(pong(a, buf), "pong lost");
		rtt[i] = now() - t;
	}
	total = now() - t0;
	qsort(rtt, N, sizeof(rtt[0]), cmp_double);
	printf("lat %s: RTT median %.1f us, p99 %.1f us (%d round trips in "
	       "%.2f s)\n", ring, rtt[N / 2] * 1e6, rtt[N * 99 / 100] * 1e6, N,
	       total);
	netbe_cleanup(a);
	netbe_cleanup(b);
}

static uint64_t flood(netbe_t *a, double secs)
{
	static uint8_t f[BATCH][HDR + FRAME];
	struct iovec iov[BATCH];
	struct netbe_msg msgs[BATCH];
	uint64_t sent = 0;
	double end = now() + secs;

	for (int i = 0; i < BATCH; i++) {
		pk_frame(f[i] + HDR, FRAME, mac_b, mac_a, (uint32_t)i, 0);
		iov[i] = (struct iovec){ f[i], sizeof(f[i]) };
		msgs[i] = (struct netbe_msg){ &iov[i], 1, 0 };
	}
	while (now() < end) {
		int r = netbe_send_batch(a, msgs, BATCH);

		sent += r > 0 ? (uint64_t)r : 0;
	}
	return sent;
}

struct drain {
	netbe_t *be;
	uint64_t got;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	static uint8_t buf[BATCH][2048];
	struct iovec iov[BATCH];
	struct netbe_msg msgs[BATCH];

	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		msgs[i] = (struct netbe_msg){ &iov[i], 1, 0 };
	}
	while (!stop) {
		int r = netbe_recv_batch(d->be, msgs, BATCH);

		if (r > 0)
			d->got += (uint64_t)r;
		else
			wait_fd(d->be);
	}
	return NULL;
}

static void rx(const char *ring)
{
	netbe_t *a = open_end("vA", "v2"), *b = open_end("vB", ring);
	struct drain d = { b, 0 };
	pthread_t t;
	uint64_t sent;
	double secs = 2.0;

	stop = 0;
	PK_CHECK(pthread_create(&t, NULL, drain_main, &d) == 0, "thread");
	sent = flood(a, secs);
	usleep(100000);
	stop = 1;
	pthread_join(t, NULL);
	printf("rx %s: sent %.3f Mpps, received %.3f Mpps (%.1f%%)\n", ring,
	       (double)sent / secs / 1e6, (double)d.got / secs / 1e6,
	       sent ? 100.0 * (double)d.got / (double)sent : 0.0);
	netbe_cleanup(a);
	netbe_cleanup(b);
}

static void tx(void)
{
	netbe_t *a = open_end("vA", "v2");
	uint64_t sent = flood(a, 2.0);

	printf("tx send_batch (sendmmsg): %.3f Mpps\n", (double)sent / 2e6);
	netbe_cleanup(a);
}

/* A TPACKET_V2 TX ring, the alternative packet.c does not use. */
static void txring(void)
{
	int s = socket(AF_PACKET, SOCK_RAW, 0), one = 1, v = TPACKET_V2;
	struct sockaddr_ll sa = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex("vA") };
	struct tpacket_req rq = { 4096, 256, 2048, 512 };
	uint8_t f[FRAME], *ring;
	uint64_t sent = 0;
	unsigned idx = 0;
	double end;

	PK_CHECK(s >= 0 && !setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS,
				       &one, sizeof(one)) &&
		 !setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) &&
		 !setsockopt(s, SOL_PACKET, PACKET_TX_RING, &rq, sizeof(rq)) &&
		 !bind(s, (void *)&sa, sizeof(sa)), "tx ring: %s",
		 strerror(errno));
	ring = mmap(NULL, 4096 * 256, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	PK_CHECK(ring != MAP_FAILED, "mmap");
	pk_frame(f, FRAME, mac_b, mac_a, 0, 0);
	for (end = now() + 2.0; now() < end;) {
		int k = 0;

		for (; k < BATCH; k++, idx = (idx + 1) % 512) {
			struct tpacket2_hdr *h = (void *)(ring + idx * 2048);

			if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE))
				break;
			memcpy((uint8_t *)h + TPACKET2_HDRLEN -
				       sizeof(struct sockaddr_ll), f, FRAME);
			h->tp_len = FRAME;
			__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
					 __ATOMIC_RELEASE);
		}
		send(s, NULL, 0, 0);
		sent += (uint64_t)k;
	}
	printf("tx TPACKET_V2 TX ring: %.3f Mpps\n", (double)sent / 2e6);
	munmap(ring, 4096 * 256);
	close(s);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "all";
	const char *ring = argc > 2 ? argv[2] : "v2";
	bool all = !strcmp(mode, "all");

	setvbuf(stdout, NULL, _IOLBF, 0);
	PK_CHECK(netbe_loop_new(&loop) == 0, "loop");
	pk_if_mac("vA", mac_a);
	pk_if_mac("vB", mac_b);
	if (all || !strcmp(mode, "lat")) {
		lat(all ? "v2" : ring);
		if (all)
			lat("v3");
	}
	if (all || !strcmp(mode, "rx")) {
		rx(all ? "v2" : ring);
		if (all)
			rx("v3");
	}
	if (all || !strcmp(mode, "tx"))
		tx();
	if (all || !strcmp(mode, "txring"))
		txring();
	netbe_loop_free(loop);
	return 0;
}
