/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The switch through the public API, on in-process pipes: each port is one
 * end of a pipe:NAME pair whose other end ("the peer", a stand-in for a
 * guest) the test drives.  Learning, flooding, no hairpin, the table
 * limit, aging, station moves, VLANs (access and trunk), lossless
 * backpressure with two ports, a stuck port that stalls nobody else, and
 * the per-port balance of counters after every test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbe.h"

#define MAXP 4

struct t {
	netbe_loop_t *loop;
	netbe_switch_t *sw;
	netbe_t *peer[MAXP];
	int np;
};

static unsigned seq;

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static struct t *t_new(const char *opts)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_int_equal(netbe_loop_new(&t->loop), 0);
	assert_int_equal(netbe_switch_new(&t->sw, t->loop, opts), 0);
	return t;
}

/* A port "pN" whose peer the test holds; @keys are port keys. */
static void t_port(struct t *t, const char *keys)
{
	char pipe[32], spec[160];

	snprintf(pipe, sizeof(pipe), "pipe:swt%u", ++seq);
	assert_int_equal(netbe_open(&t->peer[t->np], pipe, t->loop, nop_cb,
				    NULL), 0);
	snprintf(spec, sizeof(spec), "%s,id=p%d%s%s", pipe, t->np,
		 keys ? "," : "", keys ? keys : "");
	assert_int_equal(netbe_switch_add_port(t->sw, spec), t->np);
	t->np++;
}

/* Runs the loop until nothing is left to do. */
static void t_run(struct t *t)
{
	for (int i = 0; i < 50 && netbe_loop_run_once(t->loop, 2) > 0; i++)
		;
}

static void put_mac(uint8_t *p, unsigned id)
{
	const uint8_t m[6] = { 0x02, 0, 0, 0, (uint8_t)(id >> 8), (uint8_t)id };

	memcpy(p, m, 6);
}

/* A 60-byte frame from MAC @src to @dst (0xffff: broadcast), optionally
 * 802.1Q-tagged with @vid. */
static size_t frame(uint8_t *b, unsigned dst, unsigned src, int vid)
{
	size_t off = 12;

	memset(b, 0, 64);
	if (dst == 0xffff)
		memset(b, 0xff, 6);
	else
		put_mac(b, dst);
	put_mac(b + 6, src);
	if (vid >= 0) {
		b[12] = 0x81;
		b[14] = (uint8_t)(vid >> 8);
		b[15] = (uint8_t)vid;
		off += 4;
	}
	b[off] = 0x88;
	b[off + 1] = 0xb5;
	return 60;
}

static void t_send(struct t *t, int port, unsigned dst, unsigned src, int vid)
{
	uint8_t b[64];
	struct iovec v = { b, frame(b, dst, src, vid) };

	assert_int_equal(netbe_send(t->peer[port], &v, 1), 60);
}

/* Frames waiting at @port's peer; the last one's bytes in @last. */
static int t_recv_all(struct t *t, int port, uint8_t *last)
{
	uint8_t b[2048];
	struct iovec v = { b, sizeof(b) };
	int n = 0;
	ssize_t r;

	while ((r = netbe_recv(t->peer[port], &v, 1)) > 0) {
		n++;
		if (last)
			memcpy(last, b, (size_t)r < 64 ? (size_t)r : 64);
	}
	return n;
}

static uint64_t sum(const uint64_t *a)
{
	uint64_t n = 0;

	for (int i = 0; i < 16; i++)
		n += a[i];
	return n;
}

static struct netbe_switch_port_stats t_stats(struct t *t, int port)
{
	struct netbe_switch_port_stats st;

	assert_int_equal(netbe_switch_port_info(t->sw, (unsigned)port, NULL, 0,
						NULL, &st), 0);
	return st;
}

/* Every frame a port gave the switch is forwarded or dropped with a
 * reason; every frame meant for a port is delivered, queued or dropped. */
static void t_balanced(struct t *t)
{
	for (int p = 0; p < t->np; p++) {
		struct netbe_switch_port_stats st = t_stats(t, p);

		assert_int_equal(st.rx_frames, st.rx_forwarded + sum(st.rx_drop));
		assert_int_equal(st.tx_offered,
				 st.tx_frames + sum(st.tx_drop) + st.queued);
	}
}

static void t_free(struct t *t)
{
	if (t->sw)
		t_balanced(t);
	netbe_switch_free(t->sw);
	for (int i = 0; i < t->np; i++)
		if (t->peer[i])
			netbe_cleanup(t->peer[i]);
	netbe_loop_free(t->loop);
	free(t);
}

/* ---- learning and flooding --------------------------------------------------- */

static void flood_then_learn(void **state)
{
	struct t *t = t_new(NULL);

	(void)state;
	for (int i = 0; i < 3; i++)
		t_port(t, NULL);
	t_send(t, 0, 0xffff, 0xa, -1); /* broadcast from a: everyone else */
	t_run(t);
	assert_int_equal(t_recv_all(t, 0, NULL), 0);
	assert_int_equal(t_recv_all(t, 1, NULL), 1);
	assert_int_equal(t_recv_all(t, 2, NULL), 1);
	t_send(t, 1, 0xa, 0xb, -1); /* a is known: only port 0 */
	t_run(t);
	assert_int_equal(t_recv_all(t, 0, NULL), 1);
	assert_int_equal(t_recv_all(t, 2, NULL), 0);
	t_send(t, 2, 0xc0, 0xc, -1); /* unknown unicast: flooded */
	t_run(t);
	assert_int_equal(t_recv_all(t, 0, NULL), 1);
	assert_int_equal(t_recv_all(t, 1, NULL), 1);
	t_free(t);
}

static void no_hairpin(void **state)
{
	struct t *t = t_new(NULL);

	(void)state;
	t_port(t, NULL);
	t_port(t, NULL);
	t_send(t, 0, 0xffff, 0xa, -1);
	t_send(t, 0, 0xa, 0xa2, -1); /* a is behind port 0 itself */
	t_run(t);
	assert_int_equal(t_recv_all(t, 1, NULL), 1);
	assert_int_equal(t_stats(t, 0).rx_drop[NETBE_DROP_FILTERED], 1);
	t_free(t);
}

static void station_move(void **state)
{
	struct t *t = t_new(NULL);

	(void)state;
	for (int i = 0; i < 3; i++)
		t_port(t, NULL);
	t_send(t, 0, 0xffff, 0xa, -1);
	t_send(t, 2, 0xffff, 0xa, -1); /* a moved to port 2 */
	t_run(t);
	t_recv_all(t, 0, NULL);
	t_recv_all(t, 1, NULL);
	t_recv_all(t, 2, NULL);
	t_send(t, 1, 0xa, 0xb, -1);
	t_run(t);
	assert_int_equal(t_recv_all(t, 2, NULL), 1);
	assert_int_equal(t_recv_all(t, 0, NULL), 0);
	t_free(t);
}

/* A port whose peer went forgets the addresses behind it: a guest that
 * moved elsewhere (live migration, a restart on another port) and has
 * not spoken yet is flooded to, not lost in the dead port until aging. */
static void peer_gone_forgets(void **state)
{
	struct t *t = t_new(NULL);

	(void)state;
	for (int i = 0; i < 3; i++)
		t_port(t, NULL);
	t_send(t, 0, 0xffff, 0xa, -1); /* a behind port 0 */
	t_run(t);
	t_recv_all(t, 1, NULL);
	t_recv_all(t, 2, NULL);
	netbe_cleanup(t->peer[0]); /* its peer goes */
	t->peer[0] = NULL;
	t_send(t, 1, 0xa, 0xb, -1); /* to port 0 only: lost, peer gone */
	t_run(t);
	assert_int_equal(t_stats(t, 0).tx_drop[NETBE_DROP_PEER_GONE], 1);
	assert_int_equal(t_recv_all(t, 2, NULL), 0);
	t_send(t, 1, 0xa, 0xb, -1); /* a forgotten: flooded, reaches 2 */
	t_run(t);
	assert_int_equal(t_recv_all(t, 2, NULL), 1);
	t_free(t);
}

static int count_fdb(unsigned vlan, const uint8_t mac[6], unsigned port,
		     unsigned age_s, void *arg)
{
	(void)vlan;
	(void)mac;
	(void)port;
	(void)age_s;
	++*(int *)arg;
	return 0;
}

/* A guest flooding random source addresses cannot grow the table. */
static void table_limit(void **state)
{
	struct t *t = t_new("max_macs=8");
	struct netbe_fdb_stats fs;
	int n = 0;

	(void)state;
	t_port(t, NULL);
	t_port(t, NULL);
	for (unsigned i = 0; i < 100; i++) {
		t_send(t, 0, 0xffff, 0x100 + i, -1);
		if (i % 20 == 19)
			t_run(t);
	}
	t_run(t);
	assert_int_equal(t_recv_all(t, 1, NULL), 100); /* still forwarded */
	netbe_switch_fdb_stats(t->sw, &fs);
	assert_int_equal(fs.entries, 8);
	assert_int_equal(fs.refused, 92);
	assert_int_equal(netbe_switch_fdb(t->sw, count_fdb, &n), 0);
	assert_int_equal(n, 8);
	t_free(t);
}

static void aging(void **state)
{
	struct t *t = t_new("aging=1");
	struct timespec end, now;

	(void)state;
	for (int i = 0; i < 3; i++)
		t_port(t, NULL);
	t_send(t, 0, 0xffff, 0xa, -1);
	t_run(t);
	t_recv_all(t, 1, NULL);
	t_recv_all(t, 2, NULL);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 2;
	do { /* the aging timer runs on the loop */
		netbe_loop_run_once(t->loop, 100);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	t_send(t, 1, 0xa, 0xb, -1); /* a forgotten: flooded again */
	t_run(t);
	assert_int_equal(t_recv_all(t, 2, NULL), 1);
	t_free(t);
}

/* ---- VLANs ------------------------------------------------------------------- */

static void vlans_access_and_trunk(void **state)
{
	struct t *t = t_new(NULL);
	uint8_t got[64];

	(void)state;
	t_port(t, "vlan=10");
	t_port(t, "vlan=20");
	t_port(t, "trunk=on,vlans=10;30-40");
	t_send(t, 0, 0xffff, 0xa, -1); /* VLAN 10: tagged to the trunk */
	t_run(t);
	assert_int_equal(t_recv_all(t, 1, NULL), 0);
	assert_int_equal(t_recv_all(t, 2, got), 1);
	assert_int_equal(got[12], 0x81);
	assert_int_equal(got[15], 10);
	t_send(t, 2, 0xa, 0xc, 10); /* back, untagged at the access port */
	t_run(t);
	assert_int_equal(t_recv_all(t, 0, got), 1);
	assert_int_equal(got[12], 0x88);
	t_send(t, 2, 0xffff, 0xc, -1); /* untagged on a trunk */
	t_send(t, 2, 0xffff, 0xc, 20); /* a VLAN the trunk does not carry */
	t_send(t, 0, 0xffff, 0xa, 10); /* tagged on an access port */
	t_run(t);
	assert_int_equal(t_stats(t, 2).rx_drop[NETBE_DROP_VLAN], 2);
	assert_int_equal(t_stats(t, 0).rx_drop[NETBE_DROP_VLAN], 1);
	assert_int_equal(t_recv_all(t, 0, NULL) + t_recv_all(t, 1, NULL), 0);
	t_free(t);
}

static void vlan_options_refused(void **state)
{
	struct t *t = t_new(NULL);

	(void)state;
	assert_int_equal(netbe_switch_add_port(t->sw, "pipe:bad1,vlan=5000"),
			 -EINVAL);
	assert_non_null(strstr(netbe_last_error(), "vlan"));
	assert_int_equal(netbe_switch_add_port(t->sw, "pipe:bad2,vlan=3,"
					       "trunk=on"), -EINVAL);
	assert_int_equal(netbe_switch_add_port(t->sw, "pipe:bad3,trunk=on,"
					       "vlans=9-2"), -EINVAL);
	assert_int_equal(netbe_switch_new(&(netbe_switch_t *){ NULL }, t->loop,
					  "agin=3"), -EINVAL);
	assert_non_null(strstr(netbe_last_error(), "agin"));
	t_free(t);
}

/* ---- full ports ---------------------------------------------------------------- */

/* Two ports: what the receiver cannot take yet waits; nothing is lost. */
static void lossless_two_ports(void **state)
{
	struct t *t = t_new(NULL);
	uint64_t sent = 0, got = 0;
	uint8_t b[1500] = { 0 };
	struct iovec v = { b, sizeof(b) };

	(void)state;
	t_port(t, NULL);
	t_port(t, NULL);
	memset(b, 0xff, 6);
	put_mac(b + 6, 0xa);
	for (int round = 0; round < 200; round++) {
		while (netbe_send(t->peer[0], &v, 1) > 0)
			sent++;
		t_run(t); /* the switch fills peer 1, then holds */
		if (round % 4 == 3)
			got += (uint64_t)t_recv_all(t, 1, NULL);
	}
	for (int i = 0; i < 200 && got < sent; i++) {
		t_run(t);
		got += (uint64_t)t_recv_all(t, 1, NULL);
	}
	print_message("sent %llu got %llu\n", (unsigned long long)sent, (unsigned long long)got);
	assert_true(sent > 10000);
	assert_int_equal(got, sent);
	assert_int_equal(sum(t_stats(t, 1).tx_drop), 0);
	t_free(t);
}

/* Three ports: a peer that stops reading stalls nobody else. */
static char logged[4096];

static void log_cb(enum netbe_log_level level, const char *msg, void *opaque)
{
	size_t n = strlen(logged);

	(void)level;
	(void)opaque;
	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

/* A port whose peer never reads: the others keep full speed, its queue
 * stays bounded (the rest counted), and after two seconds the stall is
 * logged under the port's name; once its peer reads, that is logged. */
static void stuck_port_stalls_nobody(void **state)
{
	struct t *t = t_new("queue=64");
	uint64_t sent = 0, got = 0;
	struct netbe_switch_port_stats st;

	(void)state;
	for (int i = 0; i < 3; i++)
		t_port(t, NULL);
	for (int round = 0; round < 400; round++) {
		for (int k = 0; k < 32; k++, sent++)
			t_send(t, 0, 0xffff, 0xa, -1);
		t_run(t);
		got += (uint64_t)t_recv_all(t, 1, NULL); /* 2 never reads */
	}
	assert_int_equal(got, sent);
	st = t_stats(t, 2);
	assert_true(st.tx_drop[NETBE_DROP_EGRESS_FULL] > 0);
	assert_int_equal(st.queued, 64);
	logged[0] = '\0';
	netbe_set_log_fn(log_cb, NETBE_LOG_INFO, NULL);
	for (int i = 0; i < 35 && !strstr(logged, "p2: its peer has taken"); i++)
		netbe_loop_run_once(t->loop, 100);
	print_message("%s", logged);
	assert_non_null(strstr(logged, "port p2: its peer has taken no frame"));
	t_recv_all(t, 2, NULL);
	for (int i = 0; i < 25 && !strstr(logged, "takes frames again"); i++) {
		netbe_loop_run_once(t->loop, 100);
		t_recv_all(t, 2, NULL);
	}
	netbe_set_log_fn(NULL, NETBE_LOG_INFO, NULL);
	assert_non_null(strstr(logged, "port p2: its peer takes frames again"));
	t_free(t);
}

static void ports_added_and_removed(void **state)
{
	struct t *t = t_new(NULL);
	char name[64];

	(void)state;
	t_port(t, NULL);
	t_port(t, NULL);
	t_send(t, 0, 0xffff, 0xa, -1);
	t_run(t);
	assert_int_equal(netbe_switch_del_port(t->sw, "p1"), 0);
	assert_int_equal(netbe_switch_del_port(t->sw, "p1"), -ENOENT);
	assert_int_equal(netbe_switch_port_info(t->sw, 1, name, sizeof(name),
						NULL, NULL), -ENOENT);
	netbe_cleanup(t->peer[1]);
	t->peer[1] = NULL;
	t->np = 1; /* slot 1 is free again: the next port takes it */
	t_port(t, NULL);
	assert_int_equal(netbe_switch_port_info(t->sw, 1, name, sizeof(name),
						NULL, NULL), 0);
	assert_string_equal(name, "p1");
	t_send(t, 1, 0xa, 0xb, -1);
	t_run(t);
	assert_int_equal(t_recv_all(t, 0, NULL), 1);
	t_free(t);
}

/* ---- offloads ------------------------------------------------------------------------ */

/* A port "pN" on an offload pipe: its peer speaks 12-byte headers with
 * every offload. */
static void t_port_offload(struct t *t)
{
	char pipe[48], spec[160];

	snprintf(pipe, sizeof(pipe), "pipe:swt%u,offload=on", ++seq);
	assert_int_equal(netbe_open(&t->peer[t->np], pipe, t->loop, nop_cb,
				    NULL), 0);
	assert_int_equal(netbe_set_cap(t->peer[t->np], NETBE_OFFLOAD_MASK,
				       12), 0);
	snprintf(spec, sizeof(spec), "%s,id=p%d", pipe, t->np);
	assert_int_equal(netbe_switch_add_port(t->sw, spec), t->np);
	t->np++;
}

/* A 12-byte TSO header and a TCP/IPv4 frame of @payload bytes. */
static size_t tso_frame(uint8_t *b, size_t payload)
{
	const uint8_t h[12] = { 1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0 };
	uint8_t *e = b + 12, *ip = e + 14, *tcp = ip + 20;
	size_t iplen = 40 + payload;

	memcpy(b, h, 12); /* NEEDS_CSUM, TCPV4, hdr_len 54, gso 1448 */
	memset(e, 0, 54);
	put_mac(e, 0xc0);   /* unknown: flooded */
	put_mac(e + 6, 0xa);
	e[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 192, ip[15] = 1, ip[16] = 192, ip[19] = 2;
	tcp[12] = 0x50;
	tcp[13] = 0x10;
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)i;
	return 12 + 54 + payload;
}

/* GSO frames cross whole to a port that takes them, and are segmented
 * once for a port that cannot. */
static void gso_whole_or_segmented(void **state)
{
	static uint8_t b[12 + 65536], in[12 + 65536];
	struct t *t = t_new(NULL);
	struct iovec v = { b, tso_frame(b, 60000) }, r = { in, sizeof(in) };
	int segs = 0;

	(void)state;
	t_port_offload(t);
	t_port_offload(t);
	t_port(t, NULL); /* no offloads, no header */
	assert_int_equal(netbe_send(t->peer[0], &v, 1), (ssize_t)v.iov_len);
	t_run(t);
	assert_int_equal(netbe_recv(t->peer[1], &r, 1), (ssize_t)v.iov_len);
	assert_int_equal(in[1], 1); /* still GSO TCPV4 */
	while (netbe_recv(t->peer[2], &r, 1) > 0)
		segs++;
	assert_int_equal(segs, (60000 + 1447) / 1448);
	t_free(t);
}

/* ---- capture and rate limits ---------------------------------------------------- */

static void capture_readable(void **state)
{
	struct t *t = t_new(NULL);
	char path[64], cmd[160], out[64] = "";
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/netbe-swcap-%d.pcap", (int)getpid());
	snprintf(cmd, sizeof(cmd), "capture=%s", path);
	t_port(t, cmd);
	t_port(t, NULL);
	for (int i = 0; i < 25; i++)
		t_send(t, 0, 0xffff, 0xa, -1); /* 25 in at port 0 */
	t_send(t, 1, 0xa, 0xb, -1);	       /* and 1 out of it */
	t_run(t);
	t_recv_all(t, 0, NULL);
	t_recv_all(t, 1, NULL);
	t_balanced(t);
	netbe_switch_free(t->sw); /* closes the capture */
	t->sw = NULL;
	snprintf(cmd, sizeof(cmd), "tshark -r %s 2>/dev/null | wc -l", path);
	if (system("command -v tshark >/dev/null 2>&1") != 0) {
		unlink(path);
		t_free(t);
		skip(); /* CI has tshark: scripts/packages.txt */
	}
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, sizeof(out), f));
	pclose(f);
	unlink(path);
	assert_int_equal(atoi(out), 26);
	t_free(t);
}

static double elapsed(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) +
	       (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* 1 Mbit/s in at port 0 (125 000 bytes/s): what passes over 3 s is
 * within 10 % of the rate, and the rest waits in the backend: the switch
 * reads no frame it may not pass, so none is dropped. */
static void rx_rate_limit(void **state)
{
	struct t *t = t_new(NULL);
	uint8_t b[1000] = { 0 };
	struct iovec v = { b, sizeof(b) };
	struct timespec t0;
	uint64_t got = 0;
	double secs, rate;

	(void)state;
	t_port(t, "rx_rate=125000,burst=10000");
	t_port(t, NULL);
	memset(b, 0xff, 6);
	put_mac(b + 6, 0xa);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (elapsed(&t0) < 3.0) {
		while (netbe_send(t->peer[0], &v, 1) > 0)
			;
		netbe_loop_run_once(t->loop, 5);
		got += (uint64_t)t_recv_all(t, 1, NULL);
	}
	secs = elapsed(&t0);
	rate = (double)got * 1000 / secs;
	print_message("rx_rate 125000 B/s: %.0f B/s over %.2f s\n", rate,
		      secs);
	assert_true(rate > 125000 * 0.9 && rate < 125000 * 1.1 + 10000 / secs);
	assert_int_equal(t_stats(t, 0).rx_drop[NETBE_DROP_RATE], 0);
	t_free(t);
}

/* 500 frames/s in at port 0: the excess waits in the backend (the
 * switch reads no more than it may pass), nothing is read and dropped. */
static void rx_pps_backpressure(void **state)
{
	struct t *t = t_new(NULL);
	uint8_t b[100] = { 0 };
	struct iovec v = { b, sizeof(b) };
	struct timespec t0;
	uint64_t got = 0;
	double secs;

	(void)state;
	t_port(t, "rx_pps=500");
	t_port(t, NULL);
	memset(b, 0xff, 6);
	put_mac(b + 6, 0xa);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (elapsed(&t0) < 2.0) {
		while (netbe_send(t->peer[0], &v, 1) > 0)
			;
		netbe_loop_run_once(t->loop, 5);
		got += (uint64_t)t_recv_all(t, 1, NULL);
	}
	secs = elapsed(&t0);
	print_message("rx_pps 500: %.0f frames/s\n", (double)got / secs);
	assert_true(got >= 500 * secs * 0.9 && got <= 500 + 500 * secs * 1.1);
	assert_int_equal(t_stats(t, 0).rx_drop[NETBE_DROP_RATE], 0);
	t_free(t);
}

/* 200 frames/s out at port 1 of two (lossless): the excess waits (the
 * queue, then the ingress stops reading) and nothing is dropped; 600
 * frames take the burst (one second's worth) plus two seconds. */
static void tx_pps_waits(void **state)
{
	struct t *t = t_new(NULL);
	uint8_t b[64];
	struct iovec v = { b, frame(b, 0xffff, 0xa, -1) };
	struct timespec t0;
	uint64_t got = 0, sent = 0, at1 = 0;
	double secs = 0;

	(void)state;
	t_port(t, NULL);
	t_port(t, "tx_pps=200");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < 600 && (secs = elapsed(&t0)) < 5.0) {
		while (sent < 600 && netbe_send(t->peer[0], &v, 1) > 0)
			sent++;
		netbe_loop_run_once(t->loop, 5);
		got += (uint64_t)t_recv_all(t, 1, NULL);
		if (secs < 1.0)
			at1 = got;
	}
	print_message("tx_pps 200, lossless: 600 frames in %.2f s, %llu in "
		      "the first second\n", secs, (unsigned long long)at1);
	assert_int_equal(got, 600);
	assert_true(secs > 2.0 * 0.9 && secs < 2.0 * 1.25);
	assert_true(at1 <= 200 + 200 * 1.1);
	assert_int_equal(t_stats(t, 1).tx_drop[NETBE_DROP_RATE], 0);
	t_balanced(t);
	t_free(t);
}

/* 200 frames/s out at port 1 of three (bounded queues, 64 frames): the
 * excess waits in port 1's queue while there is room, the rest is
 * counted as rate-limit; port 2, unlimited, gets every frame. */
static void tx_pps_limit(void **state)
{
	struct t *t = t_new("queue=64");
	struct netbe_switch_port_stats st;
	struct timespec t0;
	uint64_t got = 0, sent = 0, all = 0;
	double secs;

	(void)state;
	t_port(t, NULL);
	t_port(t, "tx_pps=200");
	t_port(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (elapsed(&t0) < 2.0) {
		for (int i = 0; i < 10; i++, sent++)
			t_send(t, 0, 0xffff, 0xa, -1);
		netbe_loop_run_once(t->loop, 5);
		got += (uint64_t)t_recv_all(t, 1, NULL);
		all += (uint64_t)t_recv_all(t, 2, NULL);
	}
	t_run(t);
	all += (uint64_t)t_recv_all(t, 2, NULL);
	got += (uint64_t)t_recv_all(t, 1, NULL);
	secs = elapsed(&t0);
	st = t_stats(t, 1);
	print_message("tx_pps 200, bounded: %.0f frames/s, %llu waiting, "
		      "%llu dropped\n", (double)got / secs,
		      (unsigned long long)st.queued,
		      (unsigned long long)st.tx_drop[NETBE_DROP_RATE]);
	/* The bucket starts full (one second's worth). */
	assert_true(got <= 200 + 200 * secs * 1.1);
	assert_true(got >= 200 * secs * 0.9);
	assert_int_equal(all, sent);
	assert_true(st.queued > 0 && st.queued <= 64);
	assert_int_equal(st.tx_drop[NETBE_DROP_RATE], sent - got - st.queued);
	t_balanced(t);
	t_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flood_then_learn),
		cmocka_unit_test(no_hairpin),
		cmocka_unit_test(station_move),
		cmocka_unit_test(peer_gone_forgets),
		cmocka_unit_test(table_limit),
		cmocka_unit_test(aging),
		cmocka_unit_test(vlans_access_and_trunk),
		cmocka_unit_test(vlan_options_refused),
		cmocka_unit_test(lossless_two_ports),
		cmocka_unit_test(stuck_port_stalls_nobody),
		cmocka_unit_test(ports_added_and_removed),
		cmocka_unit_test(gso_whole_or_segmented),
		cmocka_unit_test(capture_readable),
		cmocka_unit_test(rx_rate_limit),
		cmocka_unit_test(rx_pps_backpressure),
		cmocka_unit_test(tx_pps_waits),
		cmocka_unit_test(tx_pps_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
