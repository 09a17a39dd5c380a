/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Token buckets for per-port rate limits.
 *
 * Theory of operation
 *   A bucket holds tokens in units of 1e-9 token, so a refill is exact:
 *   `rate` tokens per second for `dt` nanoseconds is rate * dt units,
 *   with no remainder to carry and no drift however often it is called
 *   (test_rate checks rates within 1% over simulated seconds, called
 *   every microsecond).  rate * dt is computed in 128 bits: 1.25e10
 *   bytes/s (100 Gbit/s) overflows 64 bits after 1.5 s idle, and the
 *   product is capped at the burst before it is narrowed.  A full bucket
 *   is burst * 1e9 units, so a burst is capped at UINT64_MAX / 1e9
 *   (18.4e9 tokens: 1.5 s of 100 Gbit/s), enough for any burst a port
 *   would be given.
 *
 *   A request larger than the burst could never be met, so it passes
 *   when the bucket is full and empties it (a 64 KiB GSO frame through a
 *   9 KiB burst); wait_ns then answers "until full".  Time going back
 *   (a caller mixing clocks) adds nothing and does not move last_ns.
 *   rate 0 is unlimited, so a zeroed netbe__limit limits nothing.
 */
#include "switch/rate.h"

#define NS_PER_S 1000000000ULL
#define BURST_MAX (UINT64_MAX / NS_PER_S)

typedef unsigned __int128 u128;

static uint64_t cap_units(const struct netbe__bucket *b)
{
	return b->burst * NS_PER_S;
}

/* Units held at @now_ns (never past full). */
static uint64_t level(const struct netbe__bucket *b, uint64_t now_ns)
{
	uint64_t cap = cap_units(b);
	u128 t = b->tokens;

	if (now_ns > b->last_ns)
		t += (u128)b->rate * (now_ns - b->last_ns);
	return t < cap ? (uint64_t)t : cap;
}

/* Units @n tokens need: all of the bucket when @n exceeds the burst. */
static uint64_t need_units(const struct netbe__bucket *b, uint64_t n)
{
	return n > b->burst ? cap_units(b) : n * NS_PER_S;
}

void netbe__bucket_init(struct netbe__bucket *b, uint64_t rate,
			uint64_t burst, uint64_t now_ns)
{
	if (burst == 0)
		burst = rate ? rate : 1;
	if (burst > BURST_MAX)
		burst = BURST_MAX;
	b->rate = rate;
	b->burst = burst;
	b->tokens = burst * NS_PER_S;
	b->last_ns = now_ns;
}

static void update(struct netbe__bucket *b, uint64_t now_ns)
{
	b->tokens = level(b, now_ns);
	if (now_ns > b->last_ns)
		b->last_ns = now_ns;
}

bool netbe__bucket_take(struct netbe__bucket *b, uint64_t n, uint64_t now_ns)
{
	uint64_t need;

	if (b->rate == 0)
		return true;
	update(b, now_ns);
	need = need_units(b, n);
	if (b->tokens < need)
		return false;
	b->tokens -= need;
	return true;
}

uint64_t netbe__bucket_wait_ns(const struct netbe__bucket *b, uint64_t n,
			       uint64_t now_ns)
{
	uint64_t have, need, d;

	if (b->rate == 0)
		return 0;
	have = level(b, now_ns);
	need = need_units(b, n);
	if (have >= need)
		return 0;
	d = need - have;
	return d / b->rate + (d % b->rate != 0);
}

uint64_t netbe__bucket_avail(const struct netbe__bucket *b, uint64_t now_ns)
{
	return b->rate == 0 ? UINT64_MAX : level(b, now_ns) / NS_PER_S;
}

bool netbe__limit_take(struct netbe__limit *l, uint64_t len, uint64_t now_ns)
{
	if (netbe__bucket_wait_ns(&l->bytes, len, now_ns) ||
	    netbe__bucket_wait_ns(&l->frames, 1, now_ns))
		return false;
	netbe__bucket_take(&l->bytes, len, now_ns);
	netbe__bucket_take(&l->frames, 1, now_ns);
	return true;
}

uint64_t netbe__limit_wait_ns(const struct netbe__limit *l, uint64_t len,
			      uint64_t now_ns)
{
	uint64_t a = netbe__bucket_wait_ns(&l->bytes, len, now_ns);
	uint64_t f = netbe__bucket_wait_ns(&l->frames, 1, now_ns);

	return a > f ? a : f;
}

bool netbe__limit_active(const struct netbe__limit *l)
{
	return l->bytes.rate || l->frames.rate;
}
