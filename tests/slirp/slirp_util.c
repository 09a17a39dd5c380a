/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * slirp_util.c - the hand-played guest shared by the slirp tests.
 *
 * The tests play the guest through the public API only: they build
 * Ethernet frames by hand (with correct IP/UDP/TCP/ICMP checksums, since
 * libslirp drops anything else), send them with netbe_send(), and collect
 * what libslirp answers from the receive callback into an array that
 * wait_frame() searches while it runs the loop.  Frames are "taken" once
 * matched, so one answer satisfies one wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slirp_util.h"

const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
int failures;

void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

unsigned get16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- frames the guest sends --------------------------------------------- */

void l4_csum(uint8_t *ip, uint8_t *l4, size_t len, uint8_t proto)
{
	uint8_t pseudo[12];
	unsigned off = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	uint16_t c;

	put16(l4 + off, 0);
	if (proto == 1) {
		put16(l4 + off, csum_fold(csum_add(0, l4, len)));
		return;
	}
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = proto;
	put16(pseudo + 10, (unsigned)len);
	c = csum_fold(csum_add(csum_add(0, pseudo, 12), l4, len));
	put16(l4 + off, proto == 17 && c == 0 ? 0xffff : c);
}

size_t ip_frame(uint8_t *f, const uint8_t dmac[6], uint32_t src,
		       uint32_t dst, uint8_t proto, const uint8_t *l4,
		       size_t l4len)
{
	static unsigned ipid = 1;
	uint8_t *ip = f + 14;

	memcpy(f, dmac, 6);
	memcpy(f + 6, gmac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + l4len));
	put16(ip + 4, ipid++);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 20, l4, l4len);
	l4_csum(ip, ip + 20, l4len, proto);
	return 14 + 20 + l4len;
}

void send_frame(struct ctx *c, const uint8_t *f, size_t len)
{
	struct iovec v = { (void *)f, len };
	ssize_t r = netbe_send(c->be, &v, 1);

	CHECK(r == (ssize_t)len, "netbe_send: %zd (%s)", r, netbe_last_error());
}

void send_udp(struct ctx *c, uint32_t src, uint16_t sport,
		     uint32_t dst, uint16_t dport, const uint8_t *dmac,
		     const void *data, size_t dl)
{
	uint8_t l4[600], f[FRAME_MAX];

	put16(l4, sport);
	put16(l4 + 2, dport);
	put16(l4 + 4, (unsigned)(8 + dl));
	memcpy(l4 + 8, data, dl);
	send_frame(c, f, ip_frame(f, dmac, src, dst, 17, l4, 8 + dl));
}

void send_dhcp_discover(struct ctx *c, uint32_t xid)
{
	uint8_t bp[300] = { 0 };

	bp[0] = 1; /* BOOTREQUEST */
	bp[1] = 1;
	bp[2] = 6;
	put32(bp + 4, xid);
	memcpy(bp + 28, gmac, 6);
	put32(bp + 236, 0x63825363); /* magic cookie */
	bp[240] = 53; /* DHCP message type: DISCOVER */
	bp[241] = 1;
	bp[242] = 1;
	bp[243] = 255;
	send_udp(c, 0, 68, 0xffffffff, 67, bcast, bp, sizeof(bp));
}

/* ---- frames the guest receives ------------------------------------------ */

void rx_cb(int fd, int events, void *arg)
{
	struct ctx *c = arg;

	(void)fd;
	(void)events;
	for (;;) {
		uint8_t buf[FRAME_MAX];
		struct iovec v = { buf, sizeof(buf) };
		ssize_t n = netbe_recv(c->be, &v, 1);

		if (n <= 0)
			break;
		pthread_mutex_lock(&c->lock);
		if (c->n < MAXF) {
			memcpy(c->f[c->n].b, buf, (size_t)n);
			c->f[c->n].len = (size_t)n;
			c->f[c->n++].taken = false;
		}
		pthread_mutex_unlock(&c->lock);
	}
}

bool parse(const struct frame *fr, struct pkt *p)
{
	const uint8_t *f = fr->b;
	size_t len = fr->len, ihl, tot;

	memset(p, 0, sizeof(*p));
	if (len < 14)
		return false;
	p->type = (uint16_t)get16(f + 12);
	p->l3 = f + 14;
	if (p->type != 0x0800)
		return p->type == 0x0806 && len >= 42;
	ihl = (size_t)(p->l3[0] & 15) * 4;
	tot = get16(p->l3 + 2);
	if (len < 14 + 20 || ihl < 20 || tot < ihl + 8 || 14 + tot > len)
		return false;
	p->proto = p->l3[9];
	p->src = get32(p->l3 + 12);
	p->dst = get32(p->l3 + 16);
	p->l4 = p->l3 + ihl;
	p->sport = (uint16_t)get16(p->l4);
	p->dport = (uint16_t)get16(p->l4 + 2);
	if (p->proto == 6 && tot >= ihl + 20) {
		size_t doff = (size_t)(p->l4[12] >> 4) * 4;

		p->seq = get32(p->l4 + 4);
		p->ack = get32(p->l4 + 8);
		p->flags = p->l4[13];
		p->pay = p->l4 + doff;
		p->paylen = tot - ihl - doff;
	} else if (p->proto == 17) {
		p->pay = p->l4 + 8;
		p->paylen = tot - ihl - 8;
	}
	return true;
}


/* Runs the loop until a frame matches (and takes it), or @ms pass. */
bool wait_frame(struct ctx *c, int ms, match_fn m, const void *arg,
		       struct frame *out)
{
	for (int t = 0; t <= ms; t += 10) {
		bool found = false;

		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < c->n && !found; i++) {
			struct pkt p;

			if (c->f[i].taken || !parse(&c->f[i], &p) || !m(&p, arg))
				continue;
			c->f[i].taken = found = true;
			if (out)
				*out = c->f[i];
		}
		pthread_mutex_unlock(&c->lock);
		if (found)
			return true;
		netbe_loop_run_once(c->loop, 10);
	}
	return false;
}

int ctx_open(struct ctx *c, const char *spec)
{
	int r;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->f = calloc(MAXF, sizeof(*c->f));
	if (!c->f || netbe_loop_new(&c->loop) < 0)
		exit(1);
	r = netbe_open(&c->be, spec, c->loop, rx_cb, c);
	if (r < 0) {
		printf("cannot open %s: %s\n", spec, netbe_last_error());
		return r;
	}
	netbe_rx_enable(c->be);
	return 0;
}

void ctx_close(struct ctx *c)
{
	netbe_cleanup(c->be);
	netbe_loop_free(c->loop);
	free(c->f);
	pthread_mutex_destroy(&c->lock);
}

bool is_offer(const struct pkt *p, const void *arg)
{
	const uint8_t *bp = p->pay;

	return p->proto == 17 && p->sport == 67 && p->dport == 68 &&
	       p->paylen >= 244 && bp[0] == 2 &&
	       get32(bp + 4) == *(const uint32_t *)arg;
}

/* Finds DHCP option @code in an OFFER; NULL when absent. */
const uint8_t *dhcp_opt(const struct pkt *p, uint8_t code)
{
	const uint8_t *o = p->pay + 240, *end = p->pay + p->paylen;

	while (o < end && *o != 255) {
		if (*o == 0) {
			o++;
			continue;
		}
		if (o + 2 > end || o + 2 + o[1] > end)
			return NULL;
		if (*o == code)
			return o;
		o += 2 + o[1];
	}
	return NULL;
}
