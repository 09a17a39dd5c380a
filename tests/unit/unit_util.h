/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the unit tests (not by test_frontend.c). */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netbe.h"

static inline void unit_nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

/* Two ends of one pipe:NAME link on a private loop. */
struct pair {
	netbe_loop_t *loop;
	netbe_t *a, *b;
};

static inline struct pair *pair_open(bool offload)
{
	static unsigned seq;
	struct pair *p = calloc(1, sizeof(*p));
	char spec[64];

	assert_non_null(p);
	assert_int_equal(netbe_loop_new(&p->loop), 0);
	snprintf(spec, sizeof(spec), "pipe:unit%u%s", ++seq,
		 offload ? ",offload=on" : "");
	assert_int_equal(netbe_open(&p->a, spec, p->loop, unit_nop_cb, NULL), 0);
	assert_int_equal(netbe_open(&p->b, spec, p->loop, unit_nop_cb, NULL), 0);
	return p;
}

static inline void pair_close(struct pair *p)
{
	netbe_cleanup(p->a);
	netbe_cleanup(p->b);
	netbe_loop_free(p->loop);
	free(p);
}

static inline int setup_plain(void **state)
{
	*state = pair_open(false);
	return 0;
}

static inline int setup_offload(void **state)
{
	*state = pair_open(true);
	return 0;
}

static inline int teardown_pair(void **state)
{
	pair_close(*state);
	return 0;
}

/* A recognisable payload byte at @i of frame @seed. */
static inline uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 31u + i * 7u + 1u);
}

/* Writes @hlen header bytes of @h (zeroes if NULL) and @flen frame bytes. */
static inline size_t build(uint8_t *buf, unsigned hlen,
			   const struct netbe_vnet_hdr *h, size_t flen,
			   unsigned seed)
{
	memset(buf, 0, hlen);
	if (h)
		memcpy(buf, h, hlen);
	for (size_t i = 0; i < flen; i++)
		buf[hlen + i] = pat(seed, i);
	return hlen + flen;
}

static inline bool frame_ok(const uint8_t *f, size_t flen, unsigned seed)
{
	for (size_t i = 0; i < flen; i++)
		if (f[i] != pat(seed, i))
			return false;
	return true;
}

static inline ssize_t send_buf(netbe_t *be, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return netbe_send(be, &iov, 1);
}

static inline ssize_t recv_buf(netbe_t *be, void *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return netbe_recv(be, &iov, 1);
}

/* Sends a frame of @flen bytes with @be's frontend header (zeroes). */
static inline void send_frame(netbe_t *be, unsigned hlen, size_t flen,
			      unsigned seed)
{
	uint8_t buf[2048];
	size_t n = build(buf, hlen, NULL, flen, seed);

	assert_int_equal(send_buf(be, buf, n), (ssize_t)n);
}

static inline struct netbe_stats stats_of(const netbe_t *be)
{
	struct netbe_stats st;

	netbe_get_stats(be, &st);
	return st;
}

/* @be's drops in direction @dir (NETBE_RX/NETBE_TX) for reason @why:
 * rx_drops and tx_drops only say how many, this says why. */
static inline uint64_t drops_of(const netbe_t *be, int dir, int why)
{
	uint64_t c[NETBE_DROP_NREASONS];

	assert_int_equal(netbe_get_drops(be, dir, c, NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	return c[why];
}

#endif
