/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * slirp_dns.c - the guest's DNS through the slirp backend, answered by a
 * nameserver this test runs itself (public API only, the test plays the
 * guest as slirp_test.c does).
 *
 * Theory of operation
 *   libslirp (4.7, src/slirp.c get_dns_addr) sends what the guest sends
 *   to its virtual nameserver, port 53, to the first "nameserver" line of
 *   /etc/resolv.conf.  The path is fixed and no SlirpConfig field names
 *   another server (disable_dns only turns the forwarding off), so the
 *   test gives libslirp its own resolv.conf: it unshares a mount namespace
 *   (made rprivate, so nothing propagates to the host) and bind-mounts a
 *   temporary file saying "nameserver 127.0.0.2" over /etc/resolv.conf.
 *   It also unshares a network namespace and brings its lo up, so the
 *   127.0.0.x:53 sockets are its own whatever the host runs; both
 *   namespaces vanish with the process.  Root only; exits 77 otherwise.
 *
 *   Two responders answer A queries for netbe-test.example.: the
 *   "resolver" on 127.0.0.2:53 with 192.0.2.77, and a decoy on
 *   127.0.0.1:53 (where libslirp sends what it treats as the host) with
 *   192.0.2.66.  Only a query that went through resolv.conf can get .77.
 *
 * Proved here:
 *   - the DHCP OFFER names 10.0.2.3 as the DNS server;
 *   - a UDP query from 10.0.2.15 to 10.0.2.3:53 reaches 127.0.0.2:53 and
 *     the answer comes back from 10.0.2.3:53 to the guest's port, with
 *     valid IP and UDP checksums, the query's ID and question, and
 *     192.0.2.77; a second query from another port and ID too;
 *   - dns=10.0.2.53: the OFFER says 10.0.2.53, a query to 10.0.2.53:53 is
 *     answered by the resolver, and 10.0.2.3 is no longer the forwarder.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slirp_util.h"

#define RESOLVER IP(127, 0, 0, 2)
#define DECOY IP(127, 0, 0, 1)
#define ANSWER IP(192, 0, 2, 77)
#define DECOY_ANSWER IP(192, 0, 2, 66)
#define QNAME "netbe-test.example."
#define DNS_MAX 512

/* ---- the private namespaces -------------------------------------------- */

static int skip(const char *why, const char *what)
{
	printf("SKIP: %s%s%s\n", why, what ? ": " : "", what ? what : "");
	return 77;
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/* A temporary resolv.conf over /etc/resolv.conf, seen by this process only.
 * The file is unlinked at once: the mount keeps it, nothing is left. */
static int bind_resolv_conf(void)
{
	char path[] = "/tmp/netbe-dns-XXXXXX";
	static const char text[] = "# netbe slirp_dns test\n"
				   "nameserver 127.0.0.2\n";
	int fd = mkstemp(path), r = -1;

	if (fd < 0)
		return -1;
	if (write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1)
		r = mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL);
	close(fd);
	unlink(path);
	return r;
}

/* Returns 0, or 77 after printing why the test cannot run here. */
static int enter_namespaces(void)
{
	if (geteuid() != 0)
		return skip("needs root (mount and network namespaces to give "
			    "libslirp its own /etc/resolv.conf)", NULL);
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0)
		return skip("unshare(CLONE_NEWNS|CLONE_NEWNET)",
			    strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return skip("mount --make-rprivate /", strerror(errno));
	if (bind_resolv_conf() < 0)
		return skip("cannot bind a file over /etc/resolv.conf",
			    strerror(errno));
	if (lo_up() < 0)
		return skip("cannot bring lo up in the new namespace",
			    strerror(errno));
	return 0;
}

/* ---- DNS messages -------------------------------------------------------- */

/* Writes @name ("a.b.") as labels; returns the length. */
static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

/* A standard query (RD) for @name, type A, class IN. */
static size_t dns_query(uint8_t *q, uint16_t id, const char *name)
{
	size_t n;

	memset(q, 0, 12);
	put16(q, id);
	put16(q + 2, 0x0100);
	put16(q + 4, 1);
	n = 12 + put_name(q + 12, name);
	put16(q + n, 1);
	put16(q + n + 2, 1);
	return n + 4;
}

/* Length of the (uncompressed) name at @off, or 0 if it runs off @len. */
static size_t name_len(const uint8_t *m, size_t len, size_t off)
{
	size_t o = off;

	while (o < len && m[o] != 0) {
		if (m[o] & 0xc0)
			return 0;
		o += 1 + m[o];
	}
	return o < len ? o + 1 - off : 0;
}

/* ---- the responders (host side) ------------------------------------------ */

struct dns_server {
	uint32_t addr, answer;
	int fd, queries;
	netbe_watch_t *w;
};

static int server_open(struct dns_server *s, uint32_t addr, uint32_t answer)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(53) };

	*s = (struct dns_server){ .addr = addr, .answer = answer };
	a.sin_addr.s_addr = htonl(addr);
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("dns server socket");
		return -1;
	}
	return 0;
}

/* Answers one query for QNAME/A with s->answer; anything else with
 * NXDOMAIN; malformed queries not at all. */
static void server_answer(struct dns_server *s, uint8_t *m, size_t len,
			  const struct sockaddr_in *from)
{
	uint8_t want[DNS_MAX];
	size_t qn = name_len(m, len, 12), wn = put_name(want, QNAME);
	bool hit;

	if (len < 12 || (m[2] & 0x80) || get16(m + 4) != 1 || !qn ||
	    12 + qn + 4 > len || 12 + qn + 4 + 16 > DNS_MAX)
		return;
	hit = qn == wn && !memcmp(m + 12, want, wn) &&
	      get16(m + 12 + qn) == 1;
	len = 12 + qn + 4; /* header and question, nothing after */
	put16(m + 2, hit ? 0x8180 : 0x8183);
	put16(m + 6, hit);
	put16(m + 8, 0);
	put16(m + 10, 0);
	if (hit) {
		put16(m + len, 0xc00c); /* the question's name */
		put16(m + len + 2, 1);
		put16(m + len + 4, 1);
		put32(m + len + 6, 60);
		put16(m + len + 10, 4);
		put32(m + len + 12, s->answer);
		len += 16;
	}
	sendto(s->fd, m, len, 0, (const struct sockaddr *)from,
	       sizeof(*from));
}

static void server_cb(int fd, int events, void *arg)
{
	struct dns_server *s = arg;
	uint8_t m[DNS_MAX];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	(void)events;
	while ((n = recvfrom(fd, m, sizeof(m), 0, (struct sockaddr *)&from,
			     &fl)) >= 0) {
		s->queries++;
		server_answer(s, m, (size_t)n, &from);
		fl = sizeof(from);
	}
}

/* ---- the guest side -------------------------------------------------------- */

struct dns_want {
	uint32_t server;
	uint16_t sport, id;
	const uint8_t *query;
	size_t qlen;
};

static bool is_dns_reply(const struct pkt *p, const void *arg)
{
	const struct dns_want *w = arg;

	return p->type == 0x0800 && p->proto == 17 && p->src == w->server &&
	       p->dst == GUEST && p->sport == 53 && p->dport == w->sport &&
	       p->paylen >= 12 && get16(p->pay) == w->id;
}

static bool checksums_ok(const struct pkt *p)
{
	size_t ihl = (size_t)(p->l3[0] & 15) * 4, ulen = get16(p->l4 + 4);
	uint8_t pseudo[12];
	uint32_t sum;

	if (csum_fold(csum_add(0, p->l3, ihl)) != 0)
		return false;
	if (get16(p->l4 + 6) == 0)
		return false; /* libslirp always fills it in */
	memcpy(pseudo, p->l3 + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, (unsigned)ulen);
	sum = csum_add(csum_add(0, pseudo, 12), p->l4, ulen);
	return ulen == p->paylen + 8 && csum_fold(sum) == 0;
}

/* The A record of a reply to @w's query; 0 when there is none. */
static uint32_t reply_address(const struct pkt *p, const struct dns_want *w)
{
	const uint8_t *m = p->pay, *a;
	size_t len = p->paylen;

	CHECK((get16(m + 2) & 0x800f) == 0x8000, "reply flags %04x",
	      get16(m + 2));
	CHECK(get16(m + 4) == 1 && len >= w->qlen &&
		      !memcmp(m + 12, w->query + 12, w->qlen - 12),
	      "the reply does not repeat the question");
	if (get16(m + 6) != 1 || len < w->qlen + 16)
		return 0;
	a = m + w->qlen;
	if (get16(a) != 0xc00c || get16(a + 2) != 1 || get16(a + 4) != 1 ||
	    get16(a + 10) != 4)
		return 0;
	return get32(a + 12);
}

/* Sends a query for QNAME to @server:53 from @sport; returns the A record
 * of the answer, or 0 when none came within @ms. */
static uint32_t ask(struct ctx *c, uint32_t server, uint16_t sport,
		    uint16_t id, int ms)
{
	uint8_t q[DNS_MAX];
	struct dns_want w = { server, sport, id, q, dns_query(q, id, QNAME) };
	struct frame fr;
	struct pkt p;

	send_udp(c, GUEST, sport, server, 53, c->hmac, q, w.qlen);
	if (!wait_frame(c, ms, is_dns_reply, &w, &fr) || !parse(&fr, &p))
		return 0;
	CHECK(!memcmp(fr.b, gmac, 6), "the reply is not for the guest's MAC");
	CHECK(checksums_ok(&p), "bad IP or UDP checksum in the reply");
	return reply_address(&p, &w);
}

/* DHCP first: it gives the guest its address and libslirp its MAC. */
static void dhcp(struct ctx *c, uint32_t xid, uint32_t dns)
{
	struct frame fr;
	struct pkt p;
	const uint8_t *o;

	send_dhcp_discover(c, xid);
	CHECK(wait_frame(c, 2000, is_offer, &xid, &fr) && parse(&fr, &p),
	      "no DHCP OFFER");
	if (!p.pay)
		return;
	memcpy(c->hmac, fr.b + 6, 6);
	o = dhcp_opt(&p, 6);
	CHECK(o && o[1] >= 4 && get32(o + 2) == dns,
	      "OFFER: DNS option %08x, want %08x",
	      o && o[1] >= 4 ? get32(o + 2) : 0, dns);
}

static void watch_servers(struct ctx *c, struct dns_server *s, int n)
{
	for (int i = 0; i < n; i++) {
		s[i].queries = 0;
		if (netbe_loop_add_fd(c->loop, s[i].fd, NETBE_EV_READ, 1,
				      server_cb, &s[i], &s[i].w) < 0) {
			printf("cannot watch the DNS server socket\n");
			exit(1);
		}
	}
}

static void check_default(struct dns_server *s)
{
	struct ctx c;
	uint32_t a;

	if (ctx_open(&c, "slirp") < 0) {
		failures++;
		return;
	}
	watch_servers(&c, s, 2);
	dhcp(&c, 0x646e7331, IP(10, 0, 2, 3));
	printf("ok: DHCP OFFER names DNS 10.0.2.3\n");
	a = ask(&c, IP(10, 0, 2, 3), 33333, 0x1234, 3000);
	CHECK(a == ANSWER, "query to 10.0.2.3:53: answer %08x, want "
	      "192.0.2.77 (resolver saw %d queries, decoy %d)", a,
	      s[0].queries, s[1].queries);
	CHECK(s[0].queries == 1, "the resolver saw %d queries, want 1",
	      s[0].queries);
	a = ask(&c, IP(10, 0, 2, 3), 33334, 0xbeef, 3000);
	CHECK(a == ANSWER && s[0].queries == 2,
	      "second query: answer %08x, resolver saw %d", a, s[0].queries);
	if (a == ANSWER)
		printf("ok: " QNAME " via 10.0.2.3 -> 127.0.0.2:53 -> "
		       "192.0.2.77, twice\n");
	ctx_close(&c);
}

static void check_moved(struct dns_server *s)
{
	struct ctx c;
	uint32_t a;
	int q;

	if (ctx_open(&c, "slirp,dns=10.0.2.53") < 0) {
		failures++;
		return;
	}
	watch_servers(&c, s, 2);
	dhcp(&c, 0x646e7332, IP(10, 0, 2, 53));
	printf("ok: dns=10.0.2.53: DHCP OFFER names DNS 10.0.2.53\n");
	a = ask(&c, IP(10, 0, 2, 53), 33335, 0x5353, 3000);
	CHECK(a == ANSWER && s[0].queries == 1,
	      "query to 10.0.2.53:53: answer %08x, resolver saw %d", a,
	      s[0].queries);
	if (a == ANSWER)
		printf("ok: dns=10.0.2.53: query to 10.0.2.53 -> 192.0.2.77\n");
	/* 10.0.2.3 is now an ordinary address: the decoy or nobody. */
	q = s[0].queries;
	a = ask(&c, IP(10, 0, 2, 3), 33336, 0x0303, 1000);
	CHECK(a != ANSWER && s[0].queries == q,
	      "dns=10.0.2.53: 10.0.2.3 still reaches the resolver");
	printf("ok: dns=10.0.2.53: 10.0.2.3 no longer forwards (%s)\n",
	       a == DECOY_ANSWER ? "decoy answered" : "no answer");
	ctx_close(&c);
}

int main(void)
{
	struct dns_server s[2];
	int r;

	setvbuf(stdout, NULL, _IONBF, 0);
	if ((r = enter_namespaces()) != 0)
		return r;
	if (server_open(&s[0], RESOLVER, ANSWER) < 0 ||
	    server_open(&s[1], DECOY, DECOY_ANSWER) < 0)
		return 1;
	check_default(s);
	check_moved(s);
	close(s[0].fd);
	close(s[1].fd);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
