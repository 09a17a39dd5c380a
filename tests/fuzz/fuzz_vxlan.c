/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for the decapsulation path of the vxlan and geneve backends:
 * what a remote tunnel endpoint (or anyone who can reach the UDP port)
 * sends.
 *
 * Theory of operation
 *   Input: byte 0 holds flags (bit 0 Geneve instead of VXLAN, bit 1 send
 *   from a stranger's address, bits 2-3 how to receive: peek then recv,
 *   recv alone, recv_batch, or peek then recv_batch), the rest is one UDP
 *   payload, sent as is.  Once per process two backends are opened on
 *   loopback, "vxlan,vni=42,local=127.0.0.1:P,remote=127.0.0.1" and the
 *   same for geneve, and two plain UDP sockets send to them: one from
 *   127.0.0.1 (the remote), one from 127.0.0.2 (a stranger).  A loopback
 *   send is queued on the receiver before sendto() returns, so after it
 *   we know exactly what must come out.
 *
 *   The oracle below is written from RFC 7348 and RFC 8926 again, apart
 *   from src/tunnel/encap.c, so the fuzzer compares two readings of the
 *   specs: a good datagram gives exactly one frame, its payload behind the
 *   header and options, byte for byte, and no drop; a bad one gives no
 *   frame and exactly one rx drop of the oracle's reason (source, runt,
 *   malformed, segment), never an error.  Peek must equal what recv
 *   returns.  The corpus in corpus_vxlan/ is replayed by a normal test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netbe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VNI 42
#define MAX_PAYLOAD 65000
#define ROOM (NETBE_MAX_FRAME + 64)

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "fuzz_vxlan: %s:%d: %s\n", __FILE__,  \
				__LINE__, #c);                               \
			abort();                                             \
		}                                                            \
	} while (0)

static struct {
	netbe_loop_t *loop;
	netbe_t *be[2];		/* vxlan, geneve */
	struct sockaddr_in to[2];
	int peer, stranger;
	uint8_t *buf[2];
} g;

static void nop_cb(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

/* A UDP socket bound to @ip, any port. */
static int udp_from(const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(inet_pton(AF_INET, ip, &a.sin_addr) == 1);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* Opens @type on a free loopback port (tried from a per-process base). */
static void open_be(int i, const char *type)
{
	unsigned base = 20000 + (unsigned)getpid() % 20000;
	char spec[160];

	for (unsigned k = 0; k < 200; k++) {
		unsigned port = base + 2 * k + (unsigned)i;

		snprintf(spec, sizeof(spec), "%s,vni=%d,local=127.0.0.1:%u,"
			 "remote=127.0.0.1", type, VNI, port);
		if (netbe_open(&g.be[i], spec, g.loop, nop_cb, NULL) < 0)
			continue;
		g.to[i] = (struct sockaddr_in){ .sin_family = AF_INET,
						.sin_port = htons((uint16_t)port) };
		inet_pton(AF_INET, "127.0.0.1", &g.to[i].sin_addr);
		CHECK(netbe_set_cap(g.be[i], 0, 0) == 0);
		netbe_rx_enable(g.be[i]);
		return;
	}
	fprintf(stderr, "fuzz_vxlan: cannot open %s: %s\n", type,
		netbe_last_error());
	abort();
}

static void setup_once(void)
{
	CHECK(netbe_loop_new(&g.loop) == 0);
	open_be(0, "vxlan");
	open_be(1, "geneve");
	g.peer = udp_from("127.0.0.1");
	g.stranger = udp_from("127.0.0.2");
	for (int i = 0; i < 2; i++)
		CHECK((g.buf[i] = malloc(ROOM)));
}

/* ---- the oracle ----------------------------------------------------------- */

static uint32_t vni_of(const uint8_t *d)
{
	return (uint32_t)d[4] << 16 | (uint32_t)d[5] << 8 | d[6];
}

static int vxlan_expect(const uint8_t *d, size_t *off)
{
	/* RFC 7348: flags 0x08 (I), all other bits reserved, zero. */
	if (d[0] != 0x08 || d[1] || d[2] || d[3] || d[7])
		return NETBE_DROP_MALFORMED;
	*off = 8;
	return vni_of(d) == VNI ? -1 : NETBE_DROP_SEGMENT;
}

/* RFC 8926 3.5: options are TLVs of 4 + 4 * len bytes; type bit 7 is
 * "critical", and we understand no option. */
static int geneve_opts_expect(const uint8_t *o, size_t n)
{
	for (size_t at = 0; at < n;) {
		if (at + 4 > n || at + 4 + 4 * (o[at + 3] & 31u) > n)
			return NETBE_DROP_MALFORMED;
		if (o[at + 2] >= 0x80)
			return NETBE_DROP_SEGMENT;
		at += 4 + 4 * (o[at + 3] & 31u);
	}
	return -1;
}

static int geneve_expect(const uint8_t *d, size_t n, size_t *off)
{
	size_t opt = 4 * (size_t)(d[0] % 64);

	if (d[0] / 64 != 0 || d[2] != 0x65 || d[3] != 0x58)
		return NETBE_DROP_MALFORMED;
	if (n < 8 + opt + 14)
		return NETBE_DROP_RUNT;
	if (d[1] >= 0x80 || vni_of(d) != VNI)
		return NETBE_DROP_SEGMENT;
	*off = 8 + opt;
	return geneve_opts_expect(d + 8, opt);
}

/* -1 when @d must come out (from *@off), else the drop reason. */
static int expect(bool geneve, bool stranger, const uint8_t *d, size_t n,
		  size_t *off)
{
	if (stranger)
		return NETBE_DROP_SOURCE;
	if (n < 8 + 14)
		return NETBE_DROP_RUNT;
	return geneve ? geneve_expect(d, n, off) : vxlan_expect(d, off);
}

/* ---- one input ------------------------------------------------------------- */

/* Receives as @how says; the frame's length (0: none) in g.buf[0]. */
static ssize_t receive(netbe_t *be, unsigned how)
{
	struct iovec v[2] = { { g.buf[0], 7 }, { g.buf[0] + 7, ROOM - 7 } };
	struct iovec w = { g.buf[1], ROOM };
	struct netbe_msg m[2] = { { v, 2, 0 }, { &w, 1, 0 } };
	ssize_t peek = how & 1 ? netbe_peek_recvlen(be) : -1, got;
	int r;

	if (how < 2) {
		got = netbe_recv(be, v, 2);
	} else {
		r = netbe_recv_batch(be, m, 2);
		CHECK(r == 0 || r == 1);
		got = r ? (ssize_t)m[0].len : 0;
	}
	CHECK(got >= 0);
	if (how & 1)
		CHECK(peek == got);
	return got;
}

static void drops(netbe_t *be, uint64_t *d)
{
	CHECK(netbe_get_drops(be, NETBE_RX, d, NETBE_DROP_NREASONS) ==
	      NETBE_DROP_NREASONS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool geneve, stranger;
	uint64_t d0[NETBE_DROP_NREASONS], d1[NETBE_DROP_NREASONS];
	struct netbe_stats s0, s1;
	size_t n, off = 0;
	ssize_t got;
	netbe_t *be;
	int why;

	if (size < 1)
		return 0;
	if (!g.loop)
		setup_once();
	geneve = data[0] & 1;
	stranger = data[0] & 2;
	be = g.be[geneve];
	n = size - 1 < MAX_PAYLOAD ? size - 1 : MAX_PAYLOAD;
	why = expect(geneve, stranger, data + 1, n, &off);
	drops(be, d0);
	netbe_get_stats(be, &s0);
	CHECK(sendto(stranger ? g.stranger : g.peer, data + 1, n, 0,
		     (struct sockaddr *)&g.to[geneve],
		     sizeof(g.to[geneve])) == (ssize_t)n);
	got = receive(be, (data[0] >> 2) & 3);
	drops(be, d1);
	netbe_get_stats(be, &s1);
	CHECK(s1.rx_errors == s0.rx_errors);
	if (why < 0) {
		CHECK(got == (ssize_t)(n - off));
		CHECK(memcmp(g.buf[0], data + 1 + off, n - off) == 0);
		CHECK(s1.rx_frames == s0.rx_frames + 1);
		CHECK(s1.rx_drops == s0.rx_drops);
	} else {
		CHECK(got == 0);
		CHECK(d1[why] == d0[why] + 1);
		CHECK(s1.rx_drops == s0.rx_drops + 1);
		CHECK(s1.rx_frames == s0.rx_frames);
	}
	CHECK(netbe_peek_recvlen(be) == 0); /* nothing left behind */
	return 0;
}
