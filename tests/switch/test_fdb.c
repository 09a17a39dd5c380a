/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The switch's MAC table (src/switch/fdb.c).  The source is compiled in,
 * not linked, so the adversarial case can measure chains and every case
 * can check the table's own invariants; each case still goes through the
 * functions of fdb.h.  A reference model replays random operations.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "switch/fdb.c"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A unicast MAC from @v: 02:xx:xx:xx:xx:xx (locally administered). */
static void mac_of(uint64_t v, uint8_t mac[6])
{
	key_mac(v, mac);
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t chain_len(const struct netbe__fdb *f, uint32_t b)
{
	size_t n = 0;

	for (uint32_t i = f->bucket[b]; i != FDB_NIL; i = f->e[i].chain)
		n++;
	return n;
}

/* Every structure agrees: the touch list holds exactly the entries the
 * buckets hold, in deadline order; the free list holds the rest. */
static void check(const struct netbe__fdb *f, size_t max)
{
	size_t live = 0, chained = 0, nfree = 0;
	uint64_t last = 0;

	for (uint32_t i = f->head, p = FDB_NIL; i != FDB_NIL;
	     p = i, i = f->e[i].next) {
		assert_int_equal(f->e[i].prev, p);
		assert_true(f->e[i].expires >= last);
		last = f->e[i].expires;
		assert_int_equal(find(f, f->e[i].key), i);
		live++;
	}
	for (uint32_t b = 0; b <= f->mask; b++)
		chained += chain_len(f, b);
	for (uint32_t i = f->free; i != FDB_NIL; i = f->e[i].chain)
		nfree++;
	assert_int_equal(live, f->st.entries);
	assert_int_equal(chained, live);
	assert_int_equal(live + nfree, max);
}

static const uint8_t A[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t B[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };

static struct netbe__fdb *mk(unsigned max, uint64_t aging)
{
	struct netbe__fdb *f;

	assert_int_equal(netbe__fdb_new(&f, max, aging), 0);
	return f;
}

static void test_new(void **state)
{
	struct netbe__fdb *f = (void *)1;

	(void)state;
	assert_int_equal(sizeof(struct fdb_entry), 40);
	assert_int_equal(netbe__fdb_new(&f, 0, 0), -EINVAL);
	assert_null(f);
	assert_int_equal(netbe__fdb_new(&f, FDB_MAX_ENTRIES + 1, 0), -EINVAL);
	for (unsigned n = 1; n < 5000; n = n * 3 + 1) {
		f = mk(n, 0);
		assert_int_equal((f->mask + 1) & f->mask, 0);
		assert_true(f->mask + 1 >= 2 * n);
		assert_true(f->mask + 1 < 4 * n || n == 1);
		check(f, n);
		netbe__fdb_free(f);
	}
	netbe__fdb_free(NULL);
}

/* The hash is SipHash: SipHash-2-4 of the reference test vector (key
 * 00..0f, message 00..07), same code as the table's SipHash-1-3. */
static void test_siphash(void **state)
{
	(void)state;
	assert_int_equal(siphash_word(0x0706050403020100ULL,
				      0x0f0e0d0c0b0a0908ULL,
				      0x0706050403020100ULL, 2, 4),
			 0x93f5f5799a932462ULL);
}

static void test_learn_lookup(void **state)
{
	struct netbe__fdb *f = mk(16, 1000);
	struct netbe__fdb_stats st;

	(void)state;
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 0), -1);
	assert_int_equal(netbe__fdb_learn(f, 1, A, 3, 0), NETBE__FDB_NEW);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 0), 3);
	assert_int_equal(netbe__fdb_lookup(f, 1, B, 0), -1);
	assert_int_equal(netbe__fdb_lookup(f, 2, A, 0), -1);
	/* Ports are 32-bit: the top one survives the int64_t. */
	assert_int_equal(netbe__fdb_learn(f, 4095, B, UINT32_MAX, 0),
			 NETBE__FDB_NEW);
	assert_int_equal(netbe__fdb_lookup(f, 4095, B, 0), UINT32_MAX);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.learned, 2);
	assert_int_equal(st.entries, 2);
	check(f, 16);
	netbe__fdb_free(f);
}

static void test_refresh(void **state)
{
	struct netbe__fdb *f = mk(16, 1000);
	struct netbe__fdb_stats st;

	(void)state;
	assert_int_equal(netbe__fdb_learn(f, 1, A, 3, 0), NETBE__FDB_NEW);
	assert_int_equal(netbe__fdb_learn(f, 1, A, 3, 0), NETBE__FDB_REFRESHED);
	assert_int_equal(netbe__fdb_learn(f, 1, A, 3, 900),
			 NETBE__FDB_REFRESHED);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 1899), 3);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 1900), -1);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.learned, 1);
	assert_int_equal(st.moved, 0);
	assert_int_equal(st.entries, 1);
	check(f, 16);
	netbe__fdb_free(f);
}

static void test_move(void **state)
{
	struct netbe__fdb *f = mk(16, 0);
	struct netbe__fdb_stats st;

	(void)state;
	netbe__fdb_learn(f, 1, A, 1, 0);
	assert_int_equal(netbe__fdb_learn(f, 1, A, 2, 5), NETBE__FDB_MOVED);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 5), 2);
	assert_int_equal(netbe__fdb_learn(f, 1, A, 2, 6), NETBE__FDB_REFRESHED);
	/* A station flapping between two ports every frame: no growth. */
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(netbe__fdb_learn(f, 1, A, i & 1, 7),
				 NETBE__FDB_MOVED);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.learned, 1);
	assert_int_equal(st.moved, 1001);
	assert_int_equal(st.entries, 1);
	check(f, 16);
	netbe__fdb_free(f);
}

static void test_multicast_ignored(void **state)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
	static const uint8_t mcast6[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t local[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	struct netbe__fdb *f = mk(1, 0);
	struct netbe__fdb_stats st;

	(void)state;
	assert_int_equal(netbe__fdb_learn(f, 0, bcast, 1, 0),
			 NETBE__FDB_IGNORED);
	assert_int_equal(netbe__fdb_learn(f, 0, mcast, 1, 0),
			 NETBE__FDB_IGNORED);
	assert_int_equal(netbe__fdb_learn(f, 0, mcast6, 1, 0),
			 NETBE__FDB_IGNORED);
	assert_int_equal(netbe__fdb_lookup(f, 0, bcast, 0), -1);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.entries + st.learned + st.refused, 0);
	/* Locally administered (bit 1) is unicast: learnt. */
	assert_int_equal(netbe__fdb_learn(f, 0, local, 1, 0), NETBE__FDB_NEW);
	/* A full table still ignores, rather than refuses, multicast. */
	assert_int_equal(netbe__fdb_learn(f, 0, bcast, 1, 0),
			 NETBE__FDB_IGNORED);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.refused, 0);
	netbe__fdb_free(f);
}

static void test_vlans(void **state)
{
	struct netbe__fdb *f = mk(16, 0);

	(void)state;
	assert_int_equal(netbe__fdb_learn(f, 10, A, 1, 0), NETBE__FDB_NEW);
	assert_int_equal(netbe__fdb_learn(f, 20, A, 2, 0), NETBE__FDB_NEW);
	assert_int_equal(netbe__fdb_lookup(f, 10, A, 0), 1);
	assert_int_equal(netbe__fdb_lookup(f, 20, A, 0), 2);
	assert_int_equal(netbe__fdb_lookup(f, 0, A, 0), -1);
	/* A move on one VLAN is not a move on the other. */
	assert_int_equal(netbe__fdb_learn(f, 10, A, 3, 1), NETBE__FDB_MOVED);
	assert_int_equal(netbe__fdb_lookup(f, 20, A, 1), 2);
	netbe__fdb_flush_port(f, 3);
	assert_int_equal(netbe__fdb_lookup(f, 10, A, 1), -1);
	assert_int_equal(netbe__fdb_lookup(f, 20, A, 1), 2);
	check(f, 16);
	netbe__fdb_free(f);
}

static void test_aging(void **state)
{
	struct netbe__fdb *f = mk(16, 300);
	struct netbe__fdb_stats st;

	(void)state;
	netbe__fdb_learn(f, 1, A, 1, 1000);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 1000), 1);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 1299), 1);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 1300), -1);
	/* A clock behind last_seen does not expire anything. */
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 5), 1);
	/* Expired but not yet removed: absent, and learnt afresh (NEW, not
	 * MOVED, though the port changed). */
	assert_int_equal(netbe__fdb_learn(f, 1, A, 2, 1400), NETBE__FDB_NEW);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.learned, 2);
	assert_int_equal(st.aged, 1);
	assert_int_equal(st.moved, 0);
	assert_int_equal(st.entries, 1);
	check(f, 16);
	netbe__fdb_free(f);

	f = mk(16, 0); /* never */
	netbe__fdb_learn(f, 1, A, 1, 0);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, UINT64_MAX - 1), 1);
	assert_int_equal(netbe__fdb_age(f, UINT64_MAX - 1), 0);
	netbe__fdb_free(f);

	f = mk(16, 1000); /* deadline past UINT64_MAX: never */
	netbe__fdb_learn(f, 1, A, 1, UINT64_MAX - 10);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, UINT64_MAX - 1), 1);
	netbe__fdb_free(f);
}

static void test_set_aging(void **state)
{
	struct netbe__fdb *f = mk(16, 10000);

	(void)state;
	netbe__fdb_learn(f, 1, A, 1, 50);
	/* Lowered: the older entry gets at most the new time from the
	 * latest time seen (50), not a retroactive expiry. */
	netbe__fdb_set_aging(f, 100);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 149), 1);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 150), -1);
	netbe__fdb_learn(f, 1, B, 1, 60);
	assert_int_equal(netbe__fdb_lookup(f, 1, B, 159), 1);
	assert_int_equal(netbe__fdb_lookup(f, 1, B, 160), -1);
	check(f, 16);
	/* Raised: entries seen from now on; B keeps its deadline. */
	netbe__fdb_set_aging(f, 5000);
	assert_int_equal(netbe__fdb_lookup(f, 1, B, 160), -1);
	netbe__fdb_learn(f, 1, A, 1, 200);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 5199), 1);
	/* Off, then on again: a never-expiring entry gets capped. */
	netbe__fdb_set_aging(f, 0);
	netbe__fdb_learn(f, 1, B, 1, 300);
	check(f, 16);
	netbe__fdb_set_aging(f, 10);
	assert_int_equal(netbe__fdb_lookup(f, 1, B, 309), 1);
	assert_int_equal(netbe__fdb_lookup(f, 1, B, 310), -1);
	assert_int_equal(netbe__fdb_lookup(f, 1, A, 310), -1);
	check(f, 16);
	netbe__fdb_free(f);
}

static void test_full(void **state)
{
	struct netbe__fdb *f = mk(4, 0);
	struct netbe__fdb_stats st;
	uint8_t m[6];

	(void)state;
	for (int i = 0; i < 4; i++) {
		mac_of((uint64_t)i, m);
		assert_int_equal(netbe__fdb_learn(f, 0, m, 1, 0),
				 NETBE__FDB_NEW);
	}
	mac_of(99, m);
	assert_int_equal(netbe__fdb_learn(f, 0, m, 1, 0), NETBE__FDB_FULL);
	assert_int_equal(netbe__fdb_lookup(f, 0, m, 0), -1);
	/* Known addresses still refresh and move on a full table. */
	mac_of(2, m);
	assert_int_equal(netbe__fdb_learn(f, 0, m, 1, 1), NETBE__FDB_REFRESHED);
	assert_int_equal(netbe__fdb_learn(f, 0, m, 2, 1), NETBE__FDB_MOVED);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.entries, 4);
	check(f, 4);
	netbe__fdb_free(f);
}

static uint64_t malloc_in_use(void)
{
	return mallinfo2().uordblks;
}

/* A million random source addresses into 1024 entries: the count stays
 * at 1024, the rest are refused and counted, nothing is allocated. */
static void test_bounded(void **state)
{
	struct netbe__fdb *f = mk(1024, 0);
	struct netbe__fdb_stats st;
	uint64_t mem = malloc_in_use(), t, refreshed = 0;
	const unsigned n = 1000000;
	uint8_t m[6];

	(void)state;
	t = now_ns();
	for (unsigned i = 0; i < n; i++) {
		enum netbe__fdb_learnt r;

		mac_of(rnd(), m);
		r = netbe__fdb_learn(f, (uint16_t)(rnd() & 0xfff), m, i, i);
		refreshed += r == NETBE__FDB_REFRESHED;
		if ((i & 0xffff) == 0) {
			netbe__fdb_get_stats(f, &st);
			assert_true(st.entries <= 1024);
		}
	}
	t = now_ns() - t;
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.entries, 1024);
	assert_int_equal(st.learned, 1024);
	assert_int_equal(st.refused + st.learned + refreshed, n);
	assert_int_equal(malloc_in_use(), mem);
	check(f, 1024);
	printf("# fdb: 1M random sources into 1024 entries: %.1f ns/learn, "
	       "%" PRIu64 " refused\n", (double)t / n, st.refused);
	netbe__fdb_free(f);
}

static void test_expired_reused(void **state)
{
	struct netbe__fdb *f = mk(8, 100);
	struct netbe__fdb_stats st;
	uint8_t m[6];

	(void)state;
	for (int i = 0; i < 8; i++) {
		mac_of((uint64_t)i, m);
		netbe__fdb_learn(f, 0, m, 1, (uint64_t)i); /* expire 100..107 */
	}
	mac_of(100, m);
	assert_int_equal(netbe__fdb_learn(f, 0, m, 1, 99), NETBE__FDB_FULL);
	/* At 103 four have expired: exactly four new ones fit. */
	for (int i = 0; i < 4; i++) {
		mac_of(100 + (uint64_t)i, m);
		assert_int_equal(netbe__fdb_learn(f, 0, m, 2, 103),
				 NETBE__FDB_NEW);
	}
	mac_of(200, m);
	assert_int_equal(netbe__fdb_learn(f, 0, m, 2, 103), NETBE__FDB_FULL);
	mac_of(3, m);
	assert_int_equal(netbe__fdb_lookup(f, 0, m, 103), -1);
	mac_of(4, m);
	assert_int_equal(netbe__fdb_lookup(f, 0, m, 103), 1);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.aged, 4);
	assert_int_equal(st.learned, 12);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.entries, 8);
	check(f, 8);
	netbe__fdb_free(f);
}

static void test_flush_port(void **state)
{
	struct netbe__fdb *f = mk(16, 0);
	struct netbe__fdb_stats st;
	uint8_t m[6];

	(void)state;
	for (int i = 0; i < 16; i++) {
		mac_of((uint64_t)i, m);
		netbe__fdb_learn(f, (uint16_t)(i % 3), m, (uint32_t)(i % 2),
				 (uint64_t)i);
	}
	netbe__fdb_flush_port(f, 1);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.entries, 8);
	check(f, 16);
	for (int i = 0; i < 16; i++) {
		mac_of((uint64_t)i, m);
		assert_int_equal(netbe__fdb_lookup(f, (uint16_t)(i % 3), m, 20),
				 i % 2 ? -1 : 0);
	}
	/* The room is reusable. */
	for (int i = 0; i < 8; i++) {
		mac_of(100 + (uint64_t)i, m);
		assert_int_equal(netbe__fdb_learn(f, 0, m, 5, 20),
				 NETBE__FDB_NEW);
	}
	netbe__fdb_flush_port(f, 7); /* nobody: nothing */
	netbe__fdb_flush_port(f, 0);
	netbe__fdb_flush_port(f, 5);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.entries, 0);
	check(f, 16);
	netbe__fdb_free(f);
}

struct seen {
	int n, stop_at;
	uint32_t ports;
	uint64_t ages;
};

static int visit(uint16_t vlan, const uint8_t mac[6], uint32_t port,
		 uint64_t age_ms, void *arg)
{
	struct seen *s = arg;

	assert_int_equal(vlan, 7);
	assert_int_equal(mac[0], 0x02);
	s->ports |= 1u << port;
	s->ages += age_ms;
	return ++s->n == s->stop_at ? 42 : 0;
}

static void test_foreach(void **state)
{
	struct netbe__fdb *f = mk(16, 100);
	struct seen s = { 0 };
	uint8_t m[6];

	(void)state;
	for (int i = 0; i < 4; i++) {
		mac_of((uint64_t)i, m);
		netbe__fdb_learn(f, 7, m, (uint32_t)i, (uint64_t)i * 40);
	}
	/* At 130: the one seen at 0 has expired; the others are 90, 50, 10
	 * ms old. */
	assert_int_equal(netbe__fdb_foreach(f, 130, visit, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ports, 0xe);
	assert_int_equal(s.ages, 90 + 50 + 10);
	s = (struct seen){ .stop_at = 2 };
	assert_int_equal(netbe__fdb_foreach(f, 130, visit, &s), 42);
	assert_int_equal(s.n, 2);
	netbe__fdb_free(f);
}

/* age() removes at most a slice per call, only expired entries, and all
 * of them after enough calls. */
static void test_age_slices(void **state)
{
	const unsigned n = 4096, keep = 100;
	struct netbe__fdb *f = mk(n, 1000);
	struct netbe__fdb_stats st;
	size_t total = 0, r;
	uint64_t spent = 0;
	int calls = 0;
	uint8_t m[6];

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		mac_of(i, m);
		netbe__fdb_learn(f, 0, m, 1, 0);
	}
	for (unsigned i = 0; i < keep; i++) { /* refreshed: stay */
		mac_of(i * 7, m);
		assert_int_equal(netbe__fdb_learn(f, 0, m, 1, 500),
				 NETBE__FDB_REFRESHED);
	}
	assert_int_equal(netbe__fdb_age(f, 999), 0);
	for (;;) {
		uint64_t t = now_ns();

		r = netbe__fdb_age(f, 1200);
		t = now_ns() - t;
		if (r == 0)
			break;
		spent += t;
		assert_true(r <= FDB_AGE_SLICE);
		total += r;
		calls++;
		check(f, n);
	}
	printf("# fdb: age() removes up to %d per call: %.1f us per call\n",
	       FDB_AGE_SLICE, (double)spent / calls / 1000);
	assert_int_equal(total, n - keep);
	assert_int_equal(calls, (n - keep + FDB_AGE_SLICE - 1) / FDB_AGE_SLICE);
	netbe__fdb_get_stats(f, &st);
	assert_int_equal(st.aged, n - keep);
	assert_int_equal(st.entries, keep);
	for (unsigned i = 0; i < keep; i++) {
		mac_of(i * 7, m);
		assert_int_equal(netbe__fdb_lookup(f, 0, m, 1200), 1);
	}
	assert_int_equal(netbe__fdb_age(f, 1500), keep);
	netbe__fdb_free(f);
}

/*
 * A guest choosing source addresses.  Without a key, 1024 addresses
 * equal in their low 12 bits land in one bucket of `mac & mask`; here
 * chains stay as short as for random addresses (1024 keys in 2048
 * buckets: the longest is 4-6).  Also: a full table under a flood of
 * new addresses costs O(1) per refusal.
 */
static void test_adversarial(void **state)
{
	struct netbe__fdb *f = mk(1024, 0);
	size_t longest = 0;
	uint64_t t;
	uint8_t m[6];
	int64_t sum = 0;

	(void)state;
	for (uint64_t i = 0; i < 1024; i++) {
		mac_of(i << 16, m);		/* low 16 bits all zero */
		assert_int_equal(netbe__fdb_learn(f, 1, m, 1, 0),
				 NETBE__FDB_NEW);
	}
	for (uint32_t b = 0; b <= f->mask; b++)
		if (chain_len(f, b) > longest)
			longest = chain_len(f, b);
	assert_true(longest <= 12);
	t = now_ns();
	for (int k = 0; k < 1000; k++)
		for (uint64_t i = 0; i < 1024; i++) {
			mac_of(i << 16, m);
			sum += netbe__fdb_lookup(f, 1, m, 0);
		}
	t = now_ns() - t;
	assert_int_equal(sum, 1024 * 1000);
	printf("# fdb: 1024 aimed addresses: longest chain %zu, "
	       "%.1f ns/lookup\n", longest, (double)t / 1024000);
	t = now_ns();
	for (uint64_t i = 0; i < 1000000; i++) {
		mac_of(rnd(), m);
		assert_int_equal(netbe__fdb_learn(f, 1, m, 2, 0),
				 NETBE__FDB_FULL);
	}
	printf("# fdb: flood of new sources on a full table: %.1f ns/refusal\n",
	       (double)(now_ns() - t) / 1000000);
	check(f, 1024);
	netbe__fdb_free(f);
}

/* Learn, refresh and lookup cost in a 4096-entry table (printed, not
 * asserted). */
static void test_timing(void **state)
{
	enum { N = 4096, OPS = 4000000 };
	struct netbe__fdb *f = mk(N, 300000);
	static uint8_t macs[N][6];
	uint64_t t, t_new, t_ref, t_look, h = 0;
	int64_t sum = 0;

	(void)state;
	for (int i = 0; i < N; i++)
		mac_of(rnd(), macs[i]);
	t = now_ns();
	for (int i = 0; i < N; i++)
		netbe__fdb_learn(f, 1, macs[i], (uint32_t)i & 7, 0);
	t_new = now_ns() - t;
	t = now_ns();
	for (int i = 0; i < OPS; i++)
		netbe__fdb_learn(f, 1, macs[(i * 2654435761u) % N],
				 (uint32_t)((i * 2654435761u) % N) & 7,
				 (uint64_t)i / 100000);
	t_ref = now_ns() - t;
	t = now_ns();
	for (int i = 0; i < OPS; i++)
		sum += netbe__fdb_lookup(f, 1, macs[(i * 2654435761u) % N], 40);
	t_look = now_ns() - t;
	assert_true(sum > 0);
	t = now_ns();
	for (uint64_t i = 0; i < OPS; i++) /* latency: a chain */
		h = siphash_word(f->k0, f->k1, h + i, 1, 3);
	t = now_ns() - t;
	assert_true(h != 0); /* used: the loop stays */
	printf("# fdb (4096 entries): %.1f ns/new, %.1f ns/refresh, "
	       "%.1f ns/lookup, %.1f ns/hash\n", (double)t_new / N,
	       (double)t_ref / OPS, (double)t_look / OPS, (double)t / OPS);
	netbe__fdb_free(f);
}

/*
 * A reference model, linear and obvious, replaying random operations on
 * a small address space (so keys repeat, tables fill, entries expire).
 */
#define MODEL_MAX 32
struct model {
	unsigned n;
	uint64_t key[MODEL_MAX], last[MODEL_MAX], exp[MODEL_MAX];
	uint64_t seq[MODEL_MAX]; /* touch order */
	uint32_t port[MODEL_MAX];
	uint64_t aging, now_max, tick;
	struct netbe__fdb_stats st;
};

static int model_find(const struct model *m, uint64_t key)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->key[i] == key)
			return (int)i;
	return -1;
}

static void model_remove(struct model *m, unsigned i)
{
	m->n--;
	m->key[i] = m->key[m->n];
	m->last[i] = m->last[m->n];
	m->exp[i] = m->exp[m->n];
	m->seq[i] = m->seq[m->n];
	m->port[i] = m->port[m->n];
	m->st.entries--;
}

/* The oldest expired entry, or -1. */
static int model_oldest_expired(const struct model *m, uint64_t now)
{
	int o = -1;

	for (unsigned i = 0; i < m->n; i++)
		if (now >= m->exp[i] && (o < 0 || m->seq[i] < m->seq[o]))
			o = (int)i;
	return o;
}

static void model_touch(struct model *m, int i, uint64_t now)
{
	uint64_t e = deadline(now, m->aging);

	if (m->last[i] != now || m->exp[i] != e)
		m->seq[i] = ++m->tick;
	m->last[i] = now;
	m->exp[i] = e;
}

static enum netbe__fdb_learnt model_learn(struct model *m, uint64_t key,
					  uint32_t port, uint64_t now)
{
	int i = model_find(m, key);
	enum netbe__fdb_learnt r = NETBE__FDB_REFRESHED;

	if (now > m->now_max)
		m->now_max = now;
	if (i < 0) {
		if (m->n == MODEL_MAX) {
			int o = model_oldest_expired(m, now);

			if (o < 0) {
				m->st.refused++;
				return NETBE__FDB_FULL;
			}
			model_remove(m, (unsigned)o);
			m->st.aged++;
		}
		i = (int)m->n++;
		m->key[i] = key;
		m->last[i] = UINT64_MAX;
		m->st.entries++;
		m->st.learned++;
		r = NETBE__FDB_NEW;
	} else if (now >= m->exp[i]) {
		m->st.aged++;
		m->st.learned++;
		r = NETBE__FDB_NEW;
	} else if (m->port[i] != port) {
		m->st.moved++;
		r = NETBE__FDB_MOVED;
	}
	m->port[i] = port;
	model_touch(m, i, now);
	return r;
}

static void model_op(struct netbe__fdb *f, struct model *m, uint64_t now)
{
	uint64_t r = rnd(), key = (r >> 8) % 48; /* 48 keys, 32 entries */
	uint8_t mac[6];
	uint16_t vlan = (uint16_t)(key & 1);
	uint32_t port = (uint32_t)((r >> 16) % 4);
	int i;

	mac_of(key >> 1, mac);
	key = fdb_key(vlan, mac);
	switch (r % 100) {
	case 0:
		netbe__fdb_flush_port(f, port);
		for (unsigned j = m->n; j-- > 0;)
			if (m->port[j] == port)
				model_remove(m, j);
		break;
	case 1: case 2: {
		size_t want = 0;

		if (now > m->now_max)
			m->now_max = now;
		for (int k = 0; k < FDB_AGE_SLICE &&
				(i = model_oldest_expired(m, now)) >= 0; k++) {
			model_remove(m, (unsigned)i);
			want++;
		}
		m->st.aged += want;
		assert_int_equal(netbe__fdb_age(f, now), want);
		break;
	}
	case 3: {
		uint64_t a = (r >> 24) % 4 ? (r >> 24) % 200 + 1 : 0;
		uint64_t cap = deadline(m->now_max, a);

		if (a && (m->aging == 0 || a < m->aging))
			for (unsigned j = 0; j < m->n; j++)
				if (m->exp[j] > cap)
					m->exp[j] = cap;
		m->aging = a;
		netbe__fdb_set_aging(f, a);
		break;
	}
	default:
		if (r % 100 < 60) {
			assert_int_equal(netbe__fdb_learn(f, vlan, mac, port,
							  now),
					 model_learn(m, key, port, now));
			break;
		}
		i = model_find(m, key);
		assert_int_equal(netbe__fdb_lookup(f, vlan, mac, now),
				 i < 0 || now >= m->exp[i] ? -1 :
						       (int64_t)m->port[i]);
	}
}

static void test_model(void **state)
{
	struct model m = { .aging = 50 };
	struct netbe__fdb *f = mk(MODEL_MAX, 50);
	struct netbe__fdb_stats st;
	uint64_t now = 1000;

	(void)state;
	for (int op = 0; op < 300000; op++) {
		now += rnd() % 4 == 0; /* several operations per ms */
		model_op(f, &m, now);
		if (op % 997 == 0)
			check(f, MODEL_MAX);
	}
	netbe__fdb_get_stats(f, &st);
	assert_memory_equal(&st, &m.st, sizeof(st));
	printf("# fdb model: learned %" PRIu64 " moved %" PRIu64
	       " refused %" PRIu64 " aged %" PRIu64 "\n", st.learned, st.moved,
	       st.refused, st.aged);
	check(f, MODEL_MAX);
	netbe__fdb_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_siphash),
		cmocka_unit_test(test_learn_lookup),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_multicast_ignored),
		cmocka_unit_test(test_vlans),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_set_aging),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_expired_reused),
		cmocka_unit_test(test_flush_port),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_age_slices),
		cmocka_unit_test(test_adversarial),
		cmocka_unit_test(test_timing),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
