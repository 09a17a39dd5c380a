/* SPDX-License-Identifier: BSD-2-Clause */
/* Token buckets (src/switch/rate.c), on a simulated clock. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "switch/rate.h"

#define SEC 1000000000ULL

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Offers @n tokens every @step ns for @secs simulated seconds; returns
 * the tokens taken. */
static uint64_t drain(struct netbe__bucket *b, uint64_t n, uint64_t step,
		      uint64_t secs)
{
	uint64_t got = 0;

	for (uint64_t t = 0; t <= secs * SEC; t += step)
		if (netbe__bucket_take(b, n, t))
			got += n;
	return got;
}

static void near(double got, double want, double tol)
{
	if (got < want * (1 - tol) || got > want * (1 + tol))
		fail_msg("got %.0f, want %.0f within %.1f%%", got, want,
			 tol * 100);
}

static void test_rate_bytes(void **state)
{
	struct netbe__bucket b;

	(void)state;
	/* 1 MB/s, 10 kB burst, 1500-byte frames offered every 1 us. */
	netbe__bucket_init(&b, 1000000, 10000, 0);
	near((double)drain(&b, 1500, 1000, 10), 10e6 + 10000, 0.01);
	/* 1 Gbit/s, default burst (one second), 1500-byte frames every
	 * 100 ns: the first second's burst, then the rate. */
	netbe__bucket_init(&b, 125000000, 0, 0);
	assert_int_equal(b.burst, 125000000);
	near((double)drain(&b, 1500, 100, 3), 3 * 125e6 + 125e6, 0.01);
	/* An odd rate: no drift from rounding.  (With a burst of 1, 0.997
	 * tokens at one offer become 1.33 at the next, capped to 1: the
	 * burst must exceed what accrues between two offers.) */
	netbe__bucket_init(&b, 333333, 2, 0);
	near((double)drain(&b, 1, 997, 7), 7 * 333333.0, 0.01);
}

static void test_rate_frames(void **state)
{
	struct netbe__bucket b;

	(void)state;
	netbe__bucket_init(&b, 1000, 1, 0);
	near((double)drain(&b, 1, 100000, 10), 10000, 0.01);
	netbe__bucket_init(&b, 14880952, 32, 0); /* 10 GbE line rate, 64 B */
	near((double)drain(&b, 1, 50, 2), 2 * 14880952.0, 0.01);
}

static void test_burst(void **state)
{
	struct netbe__bucket b;

	(void)state;
	netbe__bucket_init(&b, 1000, 50, 7 * SEC);
	assert_int_equal(b.burst, 50);
	assert_true(netbe__bucket_take(&b, 50, 7 * SEC)); /* starts full */
	assert_false(netbe__bucket_take(&b, 1, 7 * SEC));
	/* One token per ms. */
	assert_false(netbe__bucket_take(&b, 1, 7 * SEC + 999999));
	assert_true(netbe__bucket_take(&b, 1, 7 * SEC + 1000000));
	assert_false(netbe__bucket_take(&b, 1, 7 * SEC + 1000000));
	/* A long idle refills to the burst, not past it. */
	assert_true(netbe__bucket_take(&b, 50, 100 * SEC));
	assert_false(netbe__bucket_take(&b, 1, 100 * SEC));
	/* A refused request takes nothing. */
	assert_false(netbe__bucket_take(&b, 10, 100 * SEC + 9000000));
	assert_true(netbe__bucket_take(&b, 9, 100 * SEC + 9000000));
	/* Time going back adds nothing and loses nothing. */
	assert_false(netbe__bucket_take(&b, 1, 50 * SEC));
	assert_true(netbe__bucket_take(&b, 1, 100 * SEC + 10000000));
	/* burst 0 with rate 0: at least 1. */
	netbe__bucket_init(&b, 0, 0, 0);
	assert_int_equal(b.burst, 1);
}

static void test_unlimited(void **state)
{
	struct netbe__limit l = { 0 };
	struct netbe__bucket b;

	(void)state;
	assert_false(netbe__limit_active(&l));
	for (int i = 0; i < 1000; i++)
		assert_true(netbe__limit_take(&l, 65536, 0));
	assert_int_equal(netbe__limit_wait_ns(&l, UINT64_MAX, 0), 0);
	netbe__bucket_init(&b, 0, 100, 0);
	assert_true(netbe__bucket_take(&b, UINT64_MAX, 0));
	assert_int_equal(netbe__bucket_wait_ns(&b, UINT64_MAX, 0), 0);
	netbe__bucket_init(&l.frames, 10, 0, 0);
	assert_true(netbe__limit_active(&l));
}

static void test_larger_than_burst(void **state)
{
	struct netbe__bucket b;

	(void)state;
	netbe__bucket_init(&b, 1000000, 9000, 0); /* 1 MB/s, 9 kB */
	assert_int_equal(netbe__bucket_wait_ns(&b, 65536, 0), 0);
	assert_true(netbe__bucket_take(&b, 65536, 0)); /* full: passes */
	assert_false(netbe__bucket_take(&b, 1, 0));	/* and empties it */
	/* Not full: refused; the wait is until full (9 ms). */
	assert_int_equal(netbe__bucket_wait_ns(&b, 65536, 0), 9000000);
	assert_int_equal(netbe__bucket_wait_ns(&b, 65536, 4000000), 5000000);
	assert_false(netbe__bucket_take(&b, 65536, 8999999));
	assert_true(netbe__bucket_take(&b, 65536, 9000000));
	/* Over time such frames pass once per burst / rate (9 ms). */
	netbe__bucket_init(&b, 1000000, 9000, 0);
	assert_int_equal(drain(&b, 65536, 1000, 1), 112 * 65536);
}

/* wait_ns(n) is the least wait after which take(n) succeeds. */
static void test_wait_ns(void **state)
{
	struct netbe__bucket b;

	(void)state;
	netbe__bucket_init(&b, 3, 10, 0); /* 3 tokens/s */
	assert_true(netbe__bucket_take(&b, 10, 0));
	assert_int_equal(netbe__bucket_wait_ns(&b, 1, 0), 333333334);
	assert_int_equal(netbe__bucket_wait_ns(&b, 3, 0), SEC);
	assert_int_equal(netbe__bucket_wait_ns(&b, 0, 0), 0);
	for (int k = 0; k < 20000; k++) {
		uint64_t rate = rnd() % 2 ? rnd() % 1000 + 1
					  : rnd() % 12500000000ULL + 1;
		uint64_t burst = rnd() % 3 ? rnd() % (rate * 2) + 1 : 0;
		uint64_t t0 = rnd() % (1000 * SEC), n, w;
		struct netbe__bucket c;

		netbe__bucket_init(&b, rate, burst, t0);
		netbe__bucket_take(&b, rnd() % (b.burst + 1), t0);
		t0 += rnd() % SEC;
		n = rnd() % (b.burst * 2 + 1);
		w = netbe__bucket_wait_ns(&b, n, t0);
		c = b;
		assert_true(netbe__bucket_take(&c, n, t0 + w));
		if (w > 0) {
			c = b;
			assert_false(netbe__bucket_take(&c, n, t0 + w - 1));
		}
	}
}

/* 100 Gbit/s (1.25e10 bytes/s), bursts of GB: no overflow anywhere. */
static void test_100g(void **state)
{
	const uint64_t rate = 12500000000ULL;
	struct netbe__bucket b;
	uint64_t got = 0;

	(void)state;
	netbe__bucket_init(&b, rate, 0, 0); /* one second: 1.25e10 */
	assert_int_equal(b.burst, rate);
	assert_true(netbe__bucket_take(&b, rate, 0));
	assert_false(netbe__bucket_take(&b, 1, 0));
	/* rate * dt passes 2^64 after 1.5 s: after 1000 s, exactly full. */
	assert_true(netbe__bucket_take(&b, rate, 1000 * SEC));
	assert_false(netbe__bucket_take(&b, 1, 1000 * SEC));
	assert_int_equal(netbe__bucket_wait_ns(&b, rate, 1000 * SEC), SEC);
	/* 64 KiB frames for 2 simulated seconds after the burst. */
	for (uint64_t t = 1000 * SEC; t < 1002 * SEC; t += 5000)
		while (netbe__bucket_take(&b, 65536, t))
			got += 65536;
	near((double)got, 2.0 * rate, 0.01);
	/* Bursts of GB; the largest is capped where units would wrap. */
	netbe__bucket_init(&b, rate, 4000000000ULL, 0);
	assert_true(netbe__bucket_take(&b, 4000000000ULL, 0));
	assert_int_equal(netbe__bucket_wait_ns(&b, 4000000000ULL, 0), 320000000);
	netbe__bucket_init(&b, UINT64_MAX, UINT64_MAX, 0);
	assert_int_equal(b.burst, UINT64_MAX / SEC);
	assert_true(netbe__bucket_take(&b, b.burst, 0));
	assert_true(netbe__bucket_take(&b, b.burst, UINT64_MAX));
	netbe__bucket_init(&b, 1, UINT64_MAX, 0);
	assert_true(netbe__bucket_take(&b, UINT64_MAX, 0));
	assert_false(netbe__bucket_take(&b, 1, 0));
	assert_int_equal(netbe__bucket_wait_ns(&b, UINT64_MAX, 0),
			 UINT64_MAX / SEC * SEC);
}

static void test_limit(void **state)
{
	struct netbe__limit l;

	(void)state;
	netbe__bucket_init(&l.bytes, 1000000, 10000, 0);
	netbe__bucket_init(&l.frames, 1000, 2, 0);
	assert_true(netbe__limit_active(&l));
	assert_true(netbe__limit_take(&l, 1000, 0));
	assert_true(netbe__limit_take(&l, 1000, 0));
	/* Frames exhausted, bytes plenty: refused, and no bytes taken. */
	assert_false(netbe__limit_take(&l, 1000, 0));
	assert_int_equal(netbe__limit_wait_ns(&l, 1000, 0), 1000000);
	assert_true(netbe__limit_take(&l, 8000, 1000000));
	/* At 2 ms: 2000 bytes and one frame.  Bytes are short, so the
	 * frame is not taken either. */
	assert_false(netbe__limit_take(&l, 5000, 2000000));
	assert_true(netbe__limit_take(&l, 1000, 2000000));
	assert_int_equal(netbe__limit_wait_ns(&l, 9000, 2000000), 8000000);
	/* Both limits over 5 simulated seconds of 1500-byte frames: the
	 * byte rate binds (666 frames/s < 1000). */
	netbe__bucket_init(&l.bytes, 1000000, 1500, 0);
	netbe__bucket_init(&l.frames, 1000, 1, 0);
	{
		uint64_t n = 0;

		for (uint64_t t = 0; t <= 5 * SEC; t += 10000)
			n += netbe__limit_take(&l, 1500, t);
		near((double)n, 5e6 / 1500, 0.01);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_bytes),
		cmocka_unit_test(test_rate_frames),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_larger_than_burst),
		cmocka_unit_test(test_wait_ns),
		cmocka_unit_test(test_100g),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
