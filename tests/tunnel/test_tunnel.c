/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_tunnel: the VXLAN/Geneve headers (src/tunnel/encap.c) and the
 * learning table (src/tunnel/learn.c), byte by byte, receive coalescing
 * (src/tunnel/gro.c), plus the backends'
 * option checking and a loopback round trip between two netbe endpoints
 * that also proves the drop counters (wrong VNI, wrong flags, a stranger,
 * a critical Geneve option, a runt, an oversize frame).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "netbe.h"
#include "tunnel/encap.h"
#include "tunnel/learn.h"
#include "tunnel/gro.h"
#include "offload.h"

/* ---- headers --------------------------------------------------------------- */

static void test_vxlan_encap(void **st)
{
	static const uint8_t want[8] = { 0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0 };
	uint8_t h[8];

	(void)st;
	memset(h, 0xff, sizeof(h));
	netbe__tun_encap(NETBE__TUN_VXLAN, 0x123456, h);
	assert_memory_equal(h, want, 8);
}

static void test_geneve_encap(void **st)
{
	static const uint8_t want[8] = { 0, 0, 0x65, 0x58, 0, 0, 42, 0 };
	uint8_t h[8];

	(void)st;
	netbe__tun_encap(NETBE__TUN_GENEVE, 42, h);
	assert_memory_equal(h, want, 8);
}

/* A datagram: header @h, then a 14-byte inner Ethernet header. */
static size_t dgram(uint8_t *d, const uint8_t *h, size_t hlen)
{
	memcpy(d, h, hlen);
	memset(d + hlen, 0x5a, 14);
	return hlen + 14;
}

static int decap_why(enum netbe__tun_proto p, const uint8_t *d, size_t len,
		     uint32_t vni, size_t *hlen)
{
	int why = -1;

	return netbe__tun_decap(p, d, len, vni, hlen, &why) ? -1 : why;
}

static void test_vxlan_check(void **st)
{
	uint8_t h[8], d[64];
	size_t hlen = 0, n;

	(void)st;
	netbe__tun_encap(NETBE__TUN_VXLAN, 42, h);
	n = dgram(d, h, 8);
	assert_int_equal(decap_why(NETBE__TUN_VXLAN, d, n, 42, &hlen), -1);
	assert_int_equal(hlen, 8);
	assert_int_equal(decap_why(NETBE__TUN_VXLAN, d, n, 43, &hlen),
			 NETBE_DROP_SEGMENT);
	assert_int_equal(decap_why(NETBE__TUN_VXLAN, d, n - 1, 42, &hlen),
			 NETBE_DROP_RUNT);
	assert_int_equal(decap_why(NETBE__TUN_VXLAN, d, 0, 42, &hlen),
			 NETBE_DROP_RUNT);
	/* Every other flag bit, every reserved byte: malformed. */
	for (int byte = 0; byte < 8; byte++) {
		if (byte >= 4 && byte <= 6)
			continue; /* the VNI */
		for (int bit = 0; bit < 8; bit++) {
			d[byte] ^= (uint8_t)(1 << bit);
			assert_int_equal(decap_why(NETBE__TUN_VXLAN, d, n, 42,
						   &hlen), NETBE_DROP_MALFORMED);
			d[byte] ^= (uint8_t)(1 << bit);
		}
	}
}

static void test_geneve_check(void **st)
{
	uint8_t h[8], d[400];
	size_t hlen = 0, n;
	/* Two options, 8 and 4 bytes: class 0x0102 type 3 len 1; type 4. */
	static const uint8_t opts[12] = { 1, 2, 3, 1, 0xa, 0xb, 0xc, 0xd,
					  1, 2, 4, 0 };

	(void)st;
	netbe__tun_encap(NETBE__TUN_GENEVE, 42, h);
	n = dgram(d, h, 8);
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, n, 42, &hlen), -1);
	assert_int_equal(hlen, 8);
	d[1] |= 0x3f; /* reserved bits: ignored on receipt (RFC 8926) */
	d[7] = 0xff;
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, n, 42, &hlen), -1);
	d[1] = 0x80; /* OAM */
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, n, 42, &hlen),
			 NETBE_DROP_SEGMENT);
	d[1] = 0;
	d[0] = 0x40; /* version 1 */
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, n, 42, &hlen),
			 NETBE_DROP_MALFORMED);
	d[0] = 0;
	d[3] = 0x00; /* protocol 0x6500: not Ethernet */
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, n, 42, &hlen),
			 NETBE_DROP_MALFORMED);
	d[3] = 0x58;
	/* With options: skipped, header length 8 + 12. */
	h[0] = 3;
	memcpy(d, h, 8);
	memcpy(d + 8, opts, 12);
	memset(d + 20, 0x5a, 14);
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, 34, 42, &hlen), -1);
	assert_int_equal(hlen, 20);
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, 33, 42, &hlen),
			 NETBE_DROP_RUNT);
	d[10] |= 0x80; /* the first option critical: we understand none */
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, 34, 42, &hlen),
			 NETBE_DROP_SEGMENT);
	d[10] &= 0x7f;
	d[11] = 5; /* the first option claims 24 bytes: past the area */
	assert_int_equal(decap_why(NETBE__TUN_GENEVE, d, 34, 42, &hlen),
			 NETBE_DROP_MALFORMED);
}

static void test_flow_hash(void **st)
{
	uint8_t f[64] = { 0 }, g[64];
	uint32_t a;
	int seen[8] = { 0 }, distinct = 0;

	(void)st;
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 6;	 /* TCP */
	f[26] = 10;	 /* 10.0.0.1 -> 10.0.0.2 */
	f[29] = 1;
	f[30] = 10;
	f[33] = 2;
	memcpy(g, f, sizeof(f));
	g[50] = 0xee; /* payload bytes: same flow */
	g[0] = 0x02;  /* MACs too: the flow is L3/L4 */
	a = netbe__tun_flow_hash(f, sizeof(f));
	assert_int_equal(a, netbe__tun_flow_hash(g, sizeof(g)));
	for (int port = 0; port < 64; port++) {
		uint16_t sp;

		f[34] = (uint8_t)(port >> 8);
		f[35] = (uint8_t)port;
		sp = netbe__tun_src_port(netbe__tun_flow_hash(f, sizeof(f)),
					 49152, 49159);
		assert_in_range(sp, 49152, 49159);
		distinct += !seen[sp - 49152]++;
	}
	assert_true(distinct >= 6); /* 64 flows spread over 8 ports */
	assert_int_equal(netbe__tun_src_port(0, 5, 5), 5);
	assert_int_equal(netbe__tun_src_port(0xffffffffu, 1, 65535), 65535);
}

/* ---- learning ------------------------------------------------------------- */

static union netbe__tun_addr v4(uint32_t ip)
{
	union netbe__tun_addr a = { .in = { .sin_family = AF_INET,
					    .sin_port = htons(4789) } };

	a.in.sin_addr.s_addr = htonl(ip);
	return a;
}

static void test_learn(void **st)
{
	struct netbe__learn t;
	uint8_t m1[6] = { 2, 0, 0, 0, 0, 1 }, bc[6];
	union netbe__tun_addr a = v4(0x0a000001), b = v4(0x0a000002), out;

	(void)st;
	memset(bc, 0xff, 6);
	assert_int_equal(netbe__learn_init(&t, 16, 300), 0);
	assert_false(netbe__learn_find(&t, m1, 1000, &out));
	netbe__learn_note(&t, m1, &a, 1000);
	assert_true(netbe__learn_find(&t, m1, 1000, &out));
	assert_true(netbe__tun_addr_same_ip(&out, &a));
	/* Moves: the newest source wins. */
	netbe__learn_note(&t, m1, &b, 1001);
	assert_true(netbe__learn_find(&t, m1, 1001, &out));
	assert_true(netbe__tun_addr_same_ip(&out, &b));
	/* Ages out 300 s after the last refresh. */
	assert_true(netbe__learn_find(&t, m1, 1300, &out));
	assert_false(netbe__learn_find(&t, m1, 1301, &out));
	assert_int_equal(netbe__learn_count(&t, 1301), 0);
	/* Group addresses are never sources. */
	netbe__learn_note(&t, bc, &a, 2000);
	assert_false(netbe__learn_find(&t, bc, 2000, &out));
	netbe__learn_free(&t);
}

static void test_learn_bounded(void **st)
{
	struct netbe__learn t;
	union netbe__tun_addr a = v4(0x0a000001), out;
	uint8_t mac[6] = { 2, 0, 0, 0, 0, 0 };
	unsigned found = 0;

	(void)st;
	assert_int_equal(netbe__learn_init(&t, 64, 0), 0);
	for (unsigned i = 0; i < 100000; i++) {
		mac[3] = (uint8_t)(i >> 16);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		netbe__learn_note(&t, mac, &a, 5);
	}
	assert_true(netbe__learn_count(&t, 5) <= 64);
	assert_true(netbe__learn_count(&t, 5) >= 48); /* sets mostly full */
	/* After a flood of fake sources, a real one is still learned. */
	mac[0] = 0x0e;
	netbe__learn_note(&t, mac, &a, 6);
	found = netbe__learn_find(&t, mac, 6, &out);
	assert_int_equal(found, 1);
	/* ageing=0: never expires. */
	assert_true(netbe__learn_find(&t, mac, 6 + 1000000, &out));
	netbe__learn_free(&t);
}

/* ---- options ---------------------------------------------------------------- */

static void nop_cb(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

static void open_fails(const char *spec, const char *needle)
{
	netbe_loop_t *loop;
	netbe_t *be = NULL;
	int r;

	assert_int_equal(netbe_loop_new(&loop), 0);
	r = netbe_open(&be, spec, loop, nop_cb, NULL);
	if (r == 0)
		netbe_cleanup(be);
	assert_true(r < 0);
	if (!strstr(netbe_last_error(), needle))
		fail_msg("%s: error '%s' lacks '%s'", spec, netbe_last_error(),
			 needle);
	netbe_loop_free(loop);
}

static void test_options(void **st)
{
	(void)st;
	open_fails("vxlan,remote=127.0.0.1", "vni=");
	open_fails("vxlan,vni=16777216,remote=127.0.0.1", "vni");
	open_fails("vxlan,vni=1", "remote=");
	open_fails("vxlan,vni=1,remote=127.0.0.1,group=239.1.1.1", "exactly one");
	open_fails("vxlan,vni=1,remote=239.1.1.1", "group=");
	open_fails("vxlan,vni=1,group=10.0.0.1", "not a multicast");
	open_fails("vxlan,vni=1,remote=127.0.0.1;::1", "mixed");
	open_fails("vxlan,vni=1,remote=127.0.0.1,srcport=5-1", "srcport=5-1");
	open_fails("vxlan,vni=1,remote=127.0.0.1,srcport=1000-2000", "at most");
	open_fails("vxlan,vni=1,remote=nonsense:x", "remote");
	open_fails("vxlan,vni=1,remote=127.0.0.1,mtu=65500", "mtu=65500");
	open_fails("geneve,vni=1,group=239.1.1.1,dev=nosuchif0", "dev=nosuchif0");
}

/* ---- a loopback endpoint against plain UDP sockets ---------------------- */

static int udp_on(const char *ip, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, ip, &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

struct lo {
	netbe_loop_t *loop;
	netbe_t *be;
	int r1, r2;		/* the remotes: 127.0.0.1, 127.0.0.2 */
	struct sockaddr_in be_addr;
};

static void lo_open_opts(struct lo *l, const char *extra)
{
	uint16_t p0, p1, p2;
	int tmp = udp_on("127.0.0.1", &p0);
	char spec[200];

	close(tmp); /* a free port for netbe (a tiny race, loopback only) */
	l->r1 = udp_on("127.0.0.1", &p1);
	l->r2 = udp_on("127.0.0.2", &p2);
	snprintf(spec, sizeof(spec), "vxlan,vni=7,local=127.0.0.1:%u,remote="
		 "127.0.0.1:%u;127.0.0.2:%u,mtu=1000%s", p0, p1, p2, extra);
	assert_int_equal(netbe_loop_new(&l->loop), 0);
	if (netbe_open(&l->be, spec, l->loop, nop_cb, NULL) < 0)
		fail_msg("%s: %s", spec, netbe_last_error());
	assert_int_equal(netbe_set_cap(l->be, 0, 0), 0);
	netbe_rx_enable(l->be);
	l->be_addr = (struct sockaddr_in){ .sin_family = AF_INET,
					   .sin_port = htons(p0) };
	inet_pton(AF_INET, "127.0.0.1", &l->be_addr.sin_addr);
}

static void lo_open(struct lo *l)
{
	lo_open_opts(l, "");
}

static void lo_close(struct lo *l)
{
	netbe_cleanup(l->be);
	netbe_loop_free(l->loop);
	close(l->r1);
	close(l->r2);
}

static void frame(uint8_t *f, size_t len, uint8_t dst0, uint8_t src5)
{
	memset(f, 0xab, len);
	memset(f, dst0, 6);
	memcpy(f + 6, (uint8_t[]){ 2, 0, 0, 0, 0, src5 }, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
}

/* What @fd received: the datagram's length, or -1 when nothing. */
static ssize_t got(int fd, uint8_t *buf, size_t len)
{
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static uint64_t tx_drops(netbe_t *be, int why)
{
	uint64_t d[NETBE_DROP_NREASONS];

	netbe_get_drops(be, NETBE_TX, d, NETBE_DROP_NREASONS);
	return d[why];
}

static void test_loopback(void **st)
{
	static const uint8_t hdr[8] = { 8, 0, 0, 0, 0, 0, 7, 0 };
	uint8_t f[1100], b[1200];
	struct iovec v = { f, 60 };
	struct lo l;

	(void)st;
	lo_open(&l);
	assert_int_equal(netbe_get_mtu(l.be), 1000);
	/* Broadcast: head-end replication to both remotes. */
	frame(f, 60, 0xff, 1);
	assert_int_equal(netbe_send(l.be, &v, 1), 60);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(got(i ? l.r2 : l.r1, b, sizeof(b)), 68);
		assert_memory_equal(b, hdr, 8);
		assert_memory_equal(b + 8, f, 60);
	}
	/* Remote 2 speaks from MAC 02:..:22; netbe learns it. */
	frame(b + 8, 60, 0x02, 0x22);
	memcpy(b, hdr, 8);
	assert_int_equal(sendto(l.r2, b, 68, 0, (struct sockaddr *)&l.be_addr,
				sizeof(l.be_addr)), 68);
	v.iov_base = b + 100;
	v.iov_len = 1000;
	assert_int_equal(netbe_recv(l.be, &v, 1), 60);
	/* Known unicast: to remote 2 only. */
	frame(f, 60, 0x02, 1);
	memcpy(f, (uint8_t[]){ 2, 0, 0, 0, 0, 0x22 }, 6);
	v = (struct iovec){ f, 60 };
	assert_int_equal(netbe_send(l.be, &v, 1), 60);
	assert_int_equal(got(l.r2, b, sizeof(b)), 68);
	assert_int_equal(got(l.r1, b, sizeof(b)), -1);
	/* The inner MTU: 1000 + 14 goes, one byte more is refused. */
	frame(f, sizeof(f), 0xff, 1);
	v.iov_len = 1014;
	assert_int_equal(netbe_send(l.be, &v, 1), 1014);
	assert_int_equal(got(l.r1, b, sizeof(b)), 1022);
	v.iov_len = 1015;
	assert_true(netbe_send(l.be, &v, 1) < 0);
	assert_int_equal(tx_drops(l.be, NETBE_DROP_OVERSIZE), 1);
	assert_int_equal(got(l.r1, b, sizeof(b)), -1);
	lo_close(&l);
}

/* In a batch: a runt and an oversize frame are refused (len 0, counted),
 * the frames around them go, in order. */
static void test_loopback_batch(void **st)
{
	uint8_t f[3][1100], b[1200];
	struct iovec v[4] = { { f[0], 100 }, { f[1], 1015 }, { f[2], 10 },
			      { f[0], 200 } };
	struct netbe_msg m[4];
	struct lo l;

	(void)st;
	lo_open(&l);
	for (int i = 0; i < 3; i++)
		frame(f[i], sizeof(f[i]), 0xff, (uint8_t)i);
	for (int i = 0; i < 4; i++)
		m[i] = (struct netbe_msg){ &v[i], 1, 0 };
	assert_int_equal(netbe_send_batch(l.be, m, 4), 4);
	assert_int_equal(m[0].len, 100);
	assert_int_equal(m[1].len, 0);
	assert_int_equal(m[2].len, 0);
	assert_int_equal(m[3].len, 200);
	assert_int_equal(tx_drops(l.be, NETBE_DROP_OVERSIZE), 1);
	assert_int_equal(tx_drops(l.be, NETBE_DROP_RUNT) +
			 tx_drops(l.be, NETBE_DROP_BADHDR), 1);
	assert_int_equal(got(l.r1, b, sizeof(b)), 108);
	assert_int_equal(got(l.r1, b, sizeof(b)), 208);
	assert_int_equal(got(l.r1, b, sizeof(b)), -1);
	lo_close(&l);
}

/* udpcsum=on: a run of frames to one learned remote leaves as one
 * UDP_SEGMENT send; the peer still gets one datagram per frame, in
 * order, the last shorter. */
static void test_loopback_gso(void **st)
{
	static const uint8_t hdr[8] = { 8, 0, 0, 0, 0, 0, 7, 0 };
	static const size_t size[5] = { 900, 900, 900, 900, 333 };
	uint8_t f[5][1000], b[1200];
	struct iovec v[5];
	struct netbe_msg m[5];
	struct lo l;

	(void)st;
	lo_open_opts(&l, ",udpcsum=on");
	frame(b + 8, 60, 0x02, 0x11); /* remote 1 is 02:..:11 */
	memcpy(b, hdr, 8);
	assert_int_equal(sendto(l.r1, b, 68, 0, (struct sockaddr *)&l.be_addr,
				sizeof(l.be_addr)), 68);
	v[0] = (struct iovec){ b + 100, 1000 };
	assert_int_equal(netbe_recv(l.be, v, 1), 60);
	for (int i = 0; i < 5; i++) {
		frame(f[i], size[i], 0x02, (uint8_t)i);
		memcpy(f[i], (uint8_t[]){ 2, 0, 0, 0, 0, 0x11 }, 6);
		f[i][20] = (uint8_t)i;
		v[i] = (struct iovec){ f[i], size[i] };
		m[i] = (struct netbe_msg){ &v[i], 1, 0 };
	}
	assert_int_equal(netbe_send_batch(l.be, m, 5), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(got(l.r1, b, sizeof(b)), 8 + (ssize_t)size[i]);
		assert_memory_equal(b, hdr, 8);
		assert_memory_equal(b + 8, f[i], size[i]);
	}
	assert_int_equal(got(l.r1, b, sizeof(b)), -1);
	assert_int_equal(got(l.r2, b, sizeof(b)), -1);
	lo_close(&l);
}

/* ---- receive coalescing -------------------------------------------------- */

static uint16_t sum16(uint64_t s)
{
	return netbe__csum_fold(s);
}

/* An IPv4 TCP segment, seq @seq, @pay payload bytes, checksums right. */
static size_t tcp4(uint8_t *f, uint32_t seq, size_t pay, uint8_t flags)
{
	size_t tcplen = 32 + pay;
	uint8_t ph[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 6,
			   (uint8_t)(tcplen >> 8), (uint8_t)tcplen };
	uint16_t c;

	memset(f, 0, 14 + 20 + tcplen);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	f[14] = 0x45;
	f[16] = (uint8_t)((20 + tcplen) >> 8);
	f[17] = (uint8_t)(20 + tcplen);
	f[18] = (uint8_t)seq; /* an IPv4 id that changes */
	f[20] = 0x40;
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, ph, 8);
	c = (uint16_t)~sum16(netbe__csum_add(0, f + 14, 20));
	memcpy(f + 24, &c, 2);
	f[34] = 0x13; /* ports 5001 -> 40000 */
	f[35] = 0x89;
	f[36] = 0x9c;
	f[37] = 0x40;
	f[38] = (uint8_t)(seq >> 24);
	f[39] = (uint8_t)(seq >> 16);
	f[40] = (uint8_t)(seq >> 8);
	f[41] = (uint8_t)seq;
	f[45] = 7;	/* ack 7 */
	f[46] = 0x80;	/* doff 8: 12 bytes of options (timestamps) */
	f[47] = flags;
	f[48] = 0x01;	/* window */
	memcpy(f + 54, "\x01\x01\x08\x0a\0\0\0\x05\0\0\0\x06", 12);
	for (size_t i = 0; i < pay; i++)
		f[66 + i] = (uint8_t)(seq + i);
	c = (uint16_t)~sum16(netbe__csum_add(netbe__csum_add(0, ph, 12),
					     f + 34, tcplen));
	memcpy(f + 50, &c, 2);
	return 14 + 20 + tcplen;
}

static void test_gro(void **st)
{
	static uint8_t a[3000], b[1600];
	struct netbe__gro_seg sa, sb;
	struct netbe_vnet_hdr h;
	uint8_t ph[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 0 };
	size_t la = tcp4(a, 1000, 1400, 0x10), lb = tcp4(b, 2400, 1400, 0x18);

	(void)st;
	assert_true(netbe__gro_parse(a, la, &sa));
	assert_int_equal(sa.hlen, 66);
	assert_int_equal(sa.pay, 1400);
	assert_true(netbe__gro_parse(b, lb, &sb));
	assert_true(sb.psh);
	assert_true(netbe__gro_follows(a, &sa, 2400, b, &sb));
	assert_false(netbe__gro_follows(a, &sa, 2401, b, &sb)); /* a gap */
	b[45] = 8; /* another ack */
	assert_false(netbe__gro_follows(a, &sa, 2400, b, &sb));
	b[45] = 7;
	b[61] = 9; /* another timestamp */
	assert_false(netbe__gro_follows(a, &sa, 2400, b, &sb));
	b[61] = 6;
	b[100] ^= 1; /* a bad checksum: never merged */
	assert_false(netbe__gro_parse(b, lb, &sb));
	b[100] ^= 1;
	tcp4(b, 2400, 1400, 0x12); /* SYN|ACK */
	assert_false(netbe__gro_parse(b, lb, &sb));
	tcp4(b, 2400, 1400, 0x18);
	/* Merge as the backend does, then finish. */
	memcpy(a + la, b + 66, 1400);
	netbe__gro_finish(a, la + 1400, &sa, 2800, 1400, true, &h);
	assert_int_equal(h.flags, NETBE_VNET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, NETBE_VNET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1400);
	assert_int_equal(h.hdr_len, 66);
	assert_int_equal(h.csum_start, 34);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(a[16] << 8 | a[17], 20 + 32 + 2800);
	assert_int_equal(sum16(netbe__csum_add(0, a + 14, 20)), 0xffff);
	assert_int_equal(a[47], 0x18); /* the last segment's PSH */
	/* Completing the partial checksum gives a right one. */
	{
		uint16_t c = (uint16_t)~sum16(netbe__csum_add(0, a + 34,
							      32 + 2800));

		memcpy(a + 50, &c, 2);
		ph[10] = (uint8_t)((32 + 2800) >> 8);
		ph[11] = (uint8_t)(32 + 2800);
		assert_int_equal(sum16(netbe__csum_add(netbe__csum_add(0, ph,
								       12),
						       a + 34, 32 + 2800)),
				 0xffff);
	}
	assert_int_equal(a[66 + 1400], (uint8_t)2400); /* b's payload */
}

/* ---- UDP_GRO: a UDP_SEGMENT sender's datagrams arrive as one ------------ */

#define GRO_N 6		/* datagrams per UDP_SEGMENT send */
#define GRO_PAY 900	/* TCP payload of each but the last */

/* One UDP_SEGMENT send from @fd to @to of GRO_N datagrams: VXLAN
 * header (VNI 7; @bad_vni in datagram 3 when set) and a TCP segment of
 * one flow, the last shorter, with PSH.  Keeps the frames in @f. */
static void gro_send(int fd, const struct sockaddr_in *to,
		     uint8_t f[GRO_N][1100], size_t len[GRO_N], bool bad_vni)
{
	static uint8_t d[GRO_N * 1100];
	uint16_t seg = 8 + 66 + GRO_PAY;
	char cm[CMSG_SPACE(sizeof(seg))] = { 0 };
	struct iovec v = { d, 0 };
	struct msghdr h = { .msg_name = (void *)to, .msg_namelen = sizeof(*to),
			    .msg_iov = &v, .msg_iovlen = 1, .msg_control = cm,
			    .msg_controllen = sizeof(cm) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&h);

	for (int i = 0; i < GRO_N; i++) {
		bool last = i == GRO_N - 1;

		len[i] = tcp4(f[i], 1000 + (uint32_t)(i * GRO_PAY),
			      last ? 500 : GRO_PAY, last ? 0x18 : 0x10);
		memcpy(d + v.iov_len, (uint8_t[]){ 8, 0, 0, 0, 0, 0,
						   bad_vni && i == 3 ? 9 : 7,
						   0 }, 8);
		memcpy(d + v.iov_len + 8, f[i], len[i]);
		v.iov_len += 8 + len[i];
	}
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	assert_int_equal(sendmsg(fd, &h, 0), (ssize_t)v.iov_len);
}

static uint64_t rx_drops(netbe_t *be, int why)
{
	uint64_t d[NETBE_DROP_NREASONS];

	netbe_get_drops(be, NETBE_RX, d, NETBE_DROP_NREASONS);
	return d[why];
}

/* A frontend without offloads: each datagram one frame, byte for byte,
 * in order, two per call; what the call had no room for stays staged
 * and keeps the queue ready (its callback runs) with the socket empty;
 * a datagram of another VNI inside the send is dropped and counted. */
static void test_udp_gro_plain(void **st)
{
	static uint8_t f[GRO_N][1100], b[2][1200];
	size_t len[GRO_N];
	struct iovec v[2] = { { b[0], sizeof(b[0]) }, { b[1], sizeof(b[1]) } };
	struct netbe_msg m[2] = { { &v[0], 1, 0 }, { &v[1], 1, 0 } };
	struct lo l;
	int k = 0;

	(void)st;
	lo_open(&l);
	gro_send(l.r1, &l.be_addr, f, len, true);
	assert_true(netbe_loop_run_once(l.loop, 1000) >= 1);
	for (int call = 0; call < 3; call++) {
		int r = netbe_recv_batch(l.be, m, 2);

		assert_true(r >= 1);
		for (int j = 0; j < r; j++, k++) {
			if (k == 3)
				k++; /* the other VNI's */
			assert_int_equal(m[j].len, len[k]);
			assert_memory_equal(b[j], f[k], len[k]);
		}
		if (k < GRO_N) /* staged, the socket empty: still ready */
			assert_true(netbe_loop_run_once(l.loop, 0) >= 1);
		if (k == GRO_N)
			break;
	}
	assert_int_equal(k, GRO_N);
	assert_int_equal(rx_drops(l.be, NETBE_DROP_SEGMENT), 1);
	assert_int_equal(netbe_recv_batch(l.be, m, 2), 0);
	assert_int_equal(netbe_loop_run_once(l.loop, 0), 0); /* nothing left */
	lo_close(&l);
}

/* Checks the GSO frame @b (@len bytes) made of the segments @f. */
static void gso_check(const uint8_t *b, size_t len, uint8_t f[GRO_N][1100],
		      const size_t flen[GRO_N])
{
	struct netbe_vnet_hdr h;
	size_t pay = 0;

	memcpy(&h, b, sizeof(h));
	assert_int_equal(h.gso_type, NETBE_VNET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, GRO_PAY);
	assert_int_equal(h.hdr_len, 66);
	assert_int_equal(len, NETBE_VNET_HDR_LEN + 66 + 5 * GRO_PAY + 500);
	assert_memory_equal(b + NETBE_VNET_HDR_LEN + 34, f[0] + 34, 4); /* ports */
	assert_int_equal(b[NETBE_VNET_HDR_LEN + 47], 0x18); /* the last PSH */
	for (int i = 0; i < GRO_N; i++) {
		assert_memory_equal(b + NETBE_VNET_HDR_LEN + 66 + pay, f[i] + 66,
				    flen[i] - 66);
		pay += flen[i] - 66;
	}
}

/* A frontend that takes TSO4: the one send becomes one GSO frame, its
 * headers the first segment's, its payload all six in order - into one
 * buffer, and again into three (a guest's chained descriptors). */
static void test_udp_gro_tso(void **st)
{
	static uint8_t f[GRO_N][1100], b[70000], c[70000];
	size_t len[GRO_N];
	struct iovec v = { b, sizeof(b) };
	struct iovec v3[3] = { { c, 5 }, { c + 5, 1000 }, { c + 1005, 60000 } };
	struct netbe_msg m = { &v, 1, 0 };
	struct lo l;

	(void)st;
	lo_open(&l);
	assert_int_equal(netbe_set_cap(l.be, NETBE_F_GUEST_CSUM |
				       NETBE_F_GUEST_TSO4, NETBE_VNET_HDR_LEN),
			 0);
	gro_send(l.r1, &l.be_addr, f, len, false);
	assert_true(netbe_loop_run_once(l.loop, 1000) >= 1);
	assert_int_equal(netbe_recv_batch(l.be, &m, 1), 1);
	gso_check(b, m.len, f, len);
	assert_int_equal(netbe_recv_batch(l.be, &m, 1), 0);
	gro_send(l.r1, &l.be_addr, f, len, false);
	assert_true(netbe_loop_run_once(l.loop, 1000) >= 1);
	m = (struct netbe_msg){ v3, 3, 0 };
	assert_int_equal(netbe_recv_batch(l.be, &m, 1), 1);
	gso_check(c, m.len, f, len);
	lo_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vxlan_encap),
		cmocka_unit_test(test_geneve_encap),
		cmocka_unit_test(test_vxlan_check),
		cmocka_unit_test(test_geneve_check),
		cmocka_unit_test(test_flow_hash),
		cmocka_unit_test(test_learn),
		cmocka_unit_test(test_learn_bounded),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_loopback_batch),
		cmocka_unit_test(test_loopback_gso),
		cmocka_unit_test(test_gro),
		cmocka_unit_test(test_udp_gro_plain),
		cmocka_unit_test(test_udp_gro_tso),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
