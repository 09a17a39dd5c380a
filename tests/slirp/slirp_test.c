/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * slirp_test.c - the slirp backend against real libslirp and real host
 * sockets, with this program playing the guest (public API only).
 *
 * The "guest" builds Ethernet frames by hand (correct IP/TCP/UDP/ICMP
 * checksums: libslirp drops anything else; slirp_util.c) and sends them
 * with netbe_send(); what libslirp answers comes back through the receive
 * callback.  Proved here:
 *   - DHCP: DISCOVER gets an OFFER of 10.0.2.15, router 10.0.2.2, DNS
 *     10.0.2.3; ARP for 10.0.2.2 is answered; ICMP echo to it too;
 *   - outbound TCP: a SYN to 10.0.2.2:P makes libslirp connect to a server
 *     this test runs on 127.0.0.1:P (accept() succeeds), the SYN-ACK comes
 *     back, and data flows both ways after the handshake; when the server
 *     closes, libslirp's writes to it fail without SIGPIPE killing us;
 *   - outbound UDP to 10.0.2.2:P reaches a socket on 127.0.0.1:P, and its
 *     reply reaches the guest;
 *   - hostfwd: connecting to 127.0.0.1:HP makes libslirp send a SYN to
 *     10.0.2.15:80; after the guest's SYN-ACK, host data reaches the guest;
 *   - restrict=on refuses outbound TCP (the default, QEMU's, allows it);
 *   - a sender thread and the loop thread at once (the mutex);
 *   - a full ring drops and counts exactly the overflow;
 *   - bhyve's spelling "slirp,open,mtu=2048,hostfwd=tcp::P-:22" opens;
 *   - bad values name the key and the value.
 * Traffic goes only to 127.0.0.1 (libslirp's 10.0.2.2 is the host's
 * loopback; nothing is sent to 10.0.2.3, the DNS forwarder: slirp_dns.c
 * proves DNS with a nameserver of its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slirp_util.h"

/* ---- frames only this test sends ----------------------------------------- */

static void send_tcp(struct ctx *c, uint16_t sport, uint32_t dst,
		     uint16_t dport, uint32_t seq, uint32_t ack,
		     uint8_t flags, const char *data)
{
	uint8_t l4[256], f[FRAME_MAX];
	size_t dl = data ? strlen(data) : 0;

	memset(l4, 0, 20);
	put16(l4, sport);
	put16(l4 + 2, dport);
	put32(l4 + 4, seq);
	put32(l4 + 8, ack);
	l4[12] = 5 << 4;
	l4[13] = flags;
	put16(l4 + 14, 65535);
	memcpy(l4 + 20, data ? data : "", dl);
	send_frame(c, f, ip_frame(f, c->hmac, GUEST, dst, 6, l4, 20 + dl));
}

static void send_ping(struct ctx *c, uint16_t id, uint16_t seq)
{
	uint8_t l4[64], f[FRAME_MAX];

	memset(l4, 0, sizeof(l4));
	l4[0] = 8; /* echo request */
	put16(l4 + 4, id);
	put16(l4 + 6, seq);
	memcpy(l4 + 8, "netbe-ping", 10);
	send_frame(c, f, ip_frame(f, c->hmac, GUEST, HOST, 1, l4, 18));
}

static void send_arp_who_has(struct ctx *c, uint32_t target)
{
	uint8_t f[60] = { 0 }, *a = f + 14;

	memcpy(f, bcast, 6);
	memcpy(f + 6, gmac, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, gmac, 6);
	put32(a + 14, GUEST);
	put32(a + 24, target);
	send_frame(c, f, sizeof(f));
}

/* ---- host sockets --------------------------------------------------------- */

static int host_sock(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		perror("host socket");
		exit(1);
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port free right now on 127.0.0.1 (and, with @any, on all). */
static uint16_t free_port(bool any)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		perror("free port");
		exit(1);
	}
	close(fd);
	return ntohs(a.sin_port);
}

static int connect_local(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Runs the loop until fn(fd) succeeds; returns its value or -1. */
static ssize_t loop_until(struct ctx *c, int ms, ssize_t (*fn)(int, void *),
			  int fd, void *arg)
{
	for (int t = 0; t <= ms; t += 10) {
		ssize_t r = fn(fd, arg);

		if (r >= 0)
			return r;
		netbe_loop_run_once(c->loop, 10);
	}
	return -1;
}

static ssize_t try_accept(int fd, void *arg)
{
	(void)arg;
	return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static ssize_t try_recv(int fd, void *buf)
{
	ssize_t n = recv(fd, buf, 255, 0);

	if (n >= 0)
		((char *)buf)[n] = '\0';
	return n;
}

/* ---- matchers ------------------------------------------------------------- */

static bool is_arp_reply(const struct pkt *p, const void *arg)
{
	(void)arg;
	return p->type == 0x0806 && get16(p->l3 + 6) == 2 &&
	       get32(p->l3 + 14) == HOST && get32(p->l3 + 24) == GUEST &&
	       !memcmp(p->l3 + 18, gmac, 6);
}

static bool is_echo_reply(const struct pkt *p, const void *arg)
{
	const uint16_t *idseq = arg;

	return p->proto == 1 && p->src == HOST && p->dst == GUEST &&
	       p->l4[0] == 0 && get16(p->l4 + 4) == idseq[0] &&
	       get16(p->l4 + 6) == idseq[1] && !memcmp(p->l4 + 8, "netbe-ping", 10);
}

struct tcp_want {
	uint32_t src, dst;
	uint16_t sport, dport; /* 0: any */
	uint8_t flags, mask;
	const char *data;      /* payload it must carry, or NULL */
};

static bool is_tcp(const struct pkt *p, const void *arg)
{
	const struct tcp_want *w = arg;

	if (p->proto != 6 || p->src != w->src || p->dst != w->dst ||
	    (w->sport && p->sport != w->sport) ||
	    (w->dport && p->dport != w->dport) ||
	    (p->flags & w->mask) != w->flags)
		return false;
	return !w->data || (p->paylen == strlen(w->data) &&
			    !memcmp(p->pay, w->data, p->paylen));
}

static bool is_udp_reply(const struct pkt *p, const void *arg)
{
	uint16_t sport = *(const uint16_t *)arg;

	return p->proto == 17 && p->src == HOST && p->dst == GUEST &&
	       p->sport == sport && p->dport == 5555 && p->paylen == 9 &&
	       !memcmp(p->pay, "udp-reply", 9);
}

/* ---- the checks ------------------------------------------------------------ */

static void check_dhcp_arp_ping(struct ctx *c)
{
	uint32_t xid = 0x6e657462;
	uint16_t idseq[2] = { 0x4242, 1 };
	struct frame fr;
	struct pkt p;
	const uint8_t *o;

	send_dhcp_discover(c, xid);
	CHECK(wait_frame(c, 2000, is_offer, &xid, &fr), "no DHCP OFFER");
	if (!parse(&fr, &p) || !is_offer(&p, &xid))
		return;
	memcpy(c->hmac, fr.b + 6, 6);
	CHECK(get32(p.pay + 16) == GUEST, "OFFER of %08x, not 10.0.2.15",
	      get32(p.pay + 16));
	o = dhcp_opt(&p, 53);
	CHECK(o && o[1] == 1 && o[2] == 2, "option 53 is not OFFER");
	o = dhcp_opt(&p, 3);
	CHECK(o && o[1] >= 4 && get32(o + 2) == HOST, "router is not 10.0.2.2");
	o = dhcp_opt(&p, 6);
	CHECK(o && o[1] >= 4 && get32(o + 2) == IP(10, 0, 2, 3),
	      "DNS is not 10.0.2.3");
	printf("ok: DHCP OFFER 10.0.2.15, router 10.0.2.2, DNS 10.0.2.3\n");

	send_arp_who_has(c, HOST);
	CHECK(wait_frame(c, 2000, is_arp_reply, NULL, &fr), "no ARP reply");
	printf("ok: ARP for 10.0.2.2 answered\n");

	send_ping(c, idseq[0], idseq[1]);
	CHECK(wait_frame(c, 2000, is_echo_reply, idseq, NULL),
	      "no ICMP echo reply from 10.0.2.2");
	printf("ok: ICMP echo to 10.0.2.2 answered\n");
}

static void check_tcp_out(struct ctx *c)
{
	uint16_t sp;
	int lfd = host_sock(SOCK_STREAM, &sp), afd;
	struct tcp_want w = { HOST, GUEST, sp, 40000, 0x12, 0x17, NULL };
	struct frame fr;
	struct pkt p;
	char buf[256];
	uint32_t y;

	send_tcp(c, 40000, HOST, sp, 1000, 0, 0x02 /* SYN */, NULL);
	afd = (int)loop_until(c, 3000, try_accept, lfd, NULL);
	CHECK(afd >= 0, "SYN to 10.0.2.2:%u: no connection on 127.0.0.1", sp);
	CHECK(wait_frame(c, 3000, is_tcp, &w, &fr) && parse(&fr, &p) &&
		      p.ack == 1001,
	      "no SYN-ACK for the guest");
	if (afd < 0 || p.ack != 1001)
		goto out;
	printf("ok: outbound TCP: accept() on 127.0.0.1:%u, SYN-ACK back\n",
	       sp);
	y = p.seq + 1;
	send_tcp(c, 40000, HOST, sp, 1001, y, 0x10, NULL);
	send_tcp(c, 40000, HOST, sp, 1001, y, 0x18, "hello-host");
	CHECK(loop_until(c, 3000, try_recv, afd, buf) == 10 &&
		      !strcmp(buf, "hello-host"),
	      "guest data did not reach the host server");
	CHECK(send(afd, "hello-guest", 11, 0) == 11, "server send");
	w = (struct tcp_want){ HOST, GUEST, sp, 40000, 0x10, 0x17,
			       "hello-guest" };
	CHECK(wait_frame(c, 3000, is_tcp, &w, NULL),
	      "server data did not reach the guest");
	printf("ok: outbound TCP data both ways\n");
	/* The host end goes away; libslirp's next writes to it fail with
	 * EPIPE, which must not kill us with SIGPIPE (default action). */
	close(afd);
	for (uint32_t i = 0; i < 4; i++) {
		wait_frame(c, 100, is_tcp, &(struct tcp_want){ 0 }, NULL);
		send_tcp(c, 40000, HOST, sp, 1011 + 2 * i, y + 11, 0x18, "xx");
	}
	wait_frame(c, 100, is_tcp, &(struct tcp_want){ 0 }, NULL);
	printf("ok: writes to a closed host peer raise no SIGPIPE\n");
out:
	close(lfd);
}

static void check_udp_out(struct ctx *c)
{
	uint16_t up;
	int ufd = host_sock(SOCK_DGRAM, &up);
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	char buf[64] = "";
	ssize_t n = -1;

	send_udp(c, GUEST, 5555, HOST, up, c->hmac, "udp-hello", 9);
	for (int t = 0; t < 3000 && n < 0; t += 10) {
		n = recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &fl);
		if (n < 0)
			netbe_loop_run_once(c->loop, 10);
	}
	CHECK(n == 9 && !memcmp(buf, "udp-hello", 9),
	      "UDP to 10.0.2.2:%u did not reach 127.0.0.1", up);
	if (n == 9) {
		sendto(ufd, "udp-reply", 9, 0, (struct sockaddr *)&from, fl);
		CHECK(wait_frame(c, 3000, is_udp_reply, &up, NULL),
		      "UDP reply did not reach the guest");
		printf("ok: outbound UDP and its reply\n");
	}
	close(ufd);
}

static void check_hostfwd(struct ctx *c, uint16_t hp)
{
	struct tcp_want w = { HOST, GUEST, 0, 80, 0x02, 0x17, NULL };
	int cfd = connect_local(hp);
	struct frame fr;
	struct pkt p;

	CHECK(cfd >= 0, "connect to hostfwd port %u: %s", hp, strerror(errno));
	if (cfd < 0)
		return;
	/* libslirp connects from its host address (10.0.2.2). */
	CHECK(wait_frame(c, 3000, is_tcp, &w, &fr) && parse(&fr, &p),
	      "hostfwd: no SYN towards 10.0.2.15:80");
	if (!p.sport)
		goto out;
	printf("ok: hostfwd 127.0.0.1:%u -> SYN to 10.0.2.15:80\n", hp);
	send_tcp(c, 80, p.src, p.sport, 5000, p.seq + 1, 0x12, NULL);
	w = (struct tcp_want){ p.src, GUEST, p.sport, 80, 0x10, 0x17, NULL };
	CHECK(wait_frame(c, 3000, is_tcp, &w, NULL), "hostfwd: no ACK");
	CHECK(send(cfd, "from-host", 9, MSG_NOSIGNAL) == 9, "hostfwd send");
	w.data = "from-host";
	CHECK(wait_frame(c, 3000, is_tcp, &w, NULL),
	      "hostfwd: host data did not reach the guest");
	printf("ok: hostfwd data reaches the guest\n");
out:
	close(cfd);
}

static void *pinger(void *arg)
{
	struct ctx *c = arg;

	for (uint16_t i = 0; i < 200; i++)
		send_ping(c, 0x7777, i);
	return NULL;
}

static bool is_any_echo_7777(const struct pkt *p, const void *arg)
{
	(void)arg;
	return p->proto == 1 && p->l4[0] == 0 && get16(p->l4 + 4) == 0x7777;
}

/* Sends from another thread while this one runs the loop. */
static void check_threads(struct ctx *c)
{
	pthread_t th;
	int got = 0;

	pthread_create(&th, NULL, pinger, c);
	for (int i = 0; i < 200; i++)
		got += wait_frame(c, 3000, is_any_echo_7777, NULL, NULL);
	pthread_join(th, NULL);
	CHECK(got == 200, "threads: %d of 200 echo replies", got);
	printf("ok: 200 pings from a second thread, %d replies\n", got);
}

static void check_restricted(void)
{
	struct ctx c;
	uint16_t sp;
	int lfd = host_sock(SOCK_STREAM, &sp);
	uint32_t xid = 7;

	if (ctx_open(&c, "slirp,restrict=on") < 0) {
		failures++;
		close(lfd);
		return;
	}
	send_dhcp_discover(&c, xid);
	CHECK(wait_frame(&c, 2000, is_offer, &xid, NULL),
	      "restricted: DHCP must still work");
	memcpy(c.hmac, bcast, 6); /* any MAC: libslirp does not check */
	send_tcp(&c, 40001, HOST, sp, 1, 0, 0x02, NULL);
	CHECK(loop_until(&c, 500, try_accept, lfd, NULL) < 0,
	      "restrict=on: outbound TCP got through");
	printf("ok: restrict=on: no outbound TCP\n");
	ctx_close(&c);
	close(lfd);
}

/* 1100 ARP requests with receive off: exactly 76 answers cannot queue. */
static void check_overflow(void)
{
	struct netbe_stats st;
	struct ctx c;
	int n = 0;

	if (ctx_open(&c, "slirp") < 0) {
		failures++;
		return;
	}
	netbe_rx_disable(c.be);
	for (int i = 0; i < 1100; i++)
		send_arp_who_has(&c, HOST);
	while (netbe_rx_discard(c.be) > 0)
		n++;
	netbe_get_stats(c.be, &st);
	CHECK(n == 1024, "overflow: %d frames queued, want 1024", n);
	CHECK(st.rx_drops == 76 + 1024, "overflow: rx_drops %llu, want 1100",
	      (unsigned long long)st.rx_drops);
	printf("ok: ring overflow: 1024 queued, 76 dropped and counted\n");
	ctx_close(&c);
}

static void check_bhyve_spelling(void)
{
	char spec[128];
	uint16_t port = free_port(true);
	struct ctx c;
	int fd;

	snprintf(spec, sizeof(spec), "slirp,open,mtu=2048,hostfwd=tcp::%u-:22",
		 port);
	if (ctx_open(&c, spec) < 0) {
		failures++;
		return;
	}
	CHECK(netbe_get_mtu(c.be) == 2048, "mtu %d", netbe_get_mtu(c.be));
	fd = connect_local(port);
	CHECK(fd >= 0, "bhyve hostfwd: nothing listens on port %u", port);
	if (fd >= 0)
		close(fd);
	printf("ok: %s\n", spec);
	ctx_close(&c);
}

static void expect_error(const char *spec, const char *s1, const char *s2)
{
	netbe_loop_t *loop;
	netbe_t *be = NULL;
	int r;

	netbe_loop_new(&loop);
	r = netbe_open(&be, spec, loop, rx_cb, NULL);
	CHECK(r < 0, "%s: opened", spec);
	CHECK(strstr(netbe_last_error(), s1) && strstr(netbe_last_error(), s2),
	      "%s: message '%s' lacks '%s'/'%s'", spec, netbe_last_error(), s1,
	      s2);
	if (r == 0)
		netbe_cleanup(be);
	else
		printf("ok: %-46s -> %s\n", spec, netbe_last_error());
	netbe_loop_free(loop);
}

static void check_errors(void)
{
	uint16_t busy;
	int bfd = host_sock(SOCK_STREAM, &busy);
	char spec[96];

	expect_error("slirp,dns=10.0.2.15", "dhcpstart", "dns");
	expect_error("slirp,hostfwd=tcp:127.0.0.1:99999-:22", "hostfwd", "99999");
	expect_error("slirp,hostfwd=sctp::1-:22", "hostfwd", "sctp");
	expect_error("slirp,hostfwd=tcp:1.2.3:1-:22", "hostfwd", "1.2.3");
	expect_error("slirp,hostfwd=tcp::1:22", "hostfwd", "tcp::1:22");
	expect_error("slirp,hostfwd=tcp::22-:x", "hostfwd", "'x'");
	expect_error("slirp,net=10.0.2.0/33", "'net'", "10.0.2.0/33");
	expect_error("slirp,net=foo", "'net'", "foo");
	expect_error("slirp,net=10.0.2.1/24", "'net'", "host bits");
	expect_error("slirp,host=192.168.7.2", "'host'", "192.168.7.2");
	expect_error("slirp,dhcpstart=10.0.3.15", "'dhcpstart'", "10.0.3.15");
	expect_error("slirp,dns=10.0.2.255", "'dns'", "10.0.2.255");
	expect_error("slirp,dns=banana", "'dns'", "banana");
	expect_error("slirp,net=10.9.0.0/28", "'net'", "dhcpstart");
	expect_error("slirp,open,restrict=on", "open", "restrict");
	expect_error("slirp,ipv4=off,ipv6=off", "ipv4", "ipv6");
	expect_error("slirp,ipv6=maybe", "'ipv6'", "maybe");
	expect_error("slirp,mtu=10", "'mtu'", "10");
	expect_error("slirp,mtu=65535", "'mtu'", "65535");
	expect_error("slirp,bogus=1", "bogus", "hostfwd");
	snprintf(spec, sizeof(spec), "slirp,hostfwd=tcp:127.0.0.1:%u-:22", busy);
	expect_error(spec, "127.0.0.1:", "in use");
	close(bfd);
}

static void check_options_listed(void)
{
	for (size_t i = 0; i < netbe_backend_count(); i++) {
		const struct netbe_backend_info *b = netbe_backend_get(i);

		if (strcmp(b->name, "slirp"))
			continue;
		for (const struct netbe_option *o = b->options; o->key; o++)
			CHECK(o->help && *o->help, "slirp key %s has no help",
			      o->key);
		return;
	}
	CHECK(0, "slirp is not registered");
}

int main(void)
{
	char spec[128];
	uint16_t hp = free_port(false);
	struct netbe_stats st;
	struct ctx c;

	setvbuf(stdout, NULL, _IONBF, 0);
	check_options_listed();
	snprintf(spec, sizeof(spec),
		 "slirp,hostfwd=tcp:127.0.0.1:%u-10.0.2.15:80", hp);
	if (ctx_open(&c, spec) < 0)
		return 1;
	check_dhcp_arp_ping(&c);
	check_tcp_out(&c);
	check_udp_out(&c);
	check_hostfwd(&c, hp);
	check_threads(&c);
	netbe_get_stats(c.be, &st);
	CHECK(st.tx_frames > 200 && st.rx_frames > 200 && !st.rx_drops,
	      "stats: tx %llu rx %llu drops %llu",
	      (unsigned long long)st.tx_frames,
	      (unsigned long long)st.rx_frames,
	      (unsigned long long)st.rx_drops);
	ctx_close(&c);
	check_restricted();
	check_overflow();
	check_bhyve_spelling();
	check_errors();
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
