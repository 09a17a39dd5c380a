/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The switch's MAC table: (vlan, MAC) -> port, learnt, aged, bounded.
 *
 * Theory of operation
 *   Everything is allocated once, in netbe__fdb_new: an array of
 *   max_entries entries and a power-of-two array of bucket heads, at
 *   least twice as many as entries (chains average under 0.5 links).  No
 *   input allocates, so a guest sending frames from a million source
 *   addresses costs a full table and a refusal count, nothing more.
 *   Entries are linked by 32-bit indices: 40 bytes each, so a 4096-entry
 *   table is 160 KiB of entries and 32 KiB of buckets.
 *
 *   The key is one 64-bit word, vlan << 48 | MAC, hashed with SipHash-1-3
 *   keyed by 16 bytes from getrandom() per table.  An unkeyed hash lets a
 *   guest pick source addresses that share a bucket (with `mac & mask`,
 *   1024 addresses differing only above the mask make one 1024-link
 *   chain, and every lookup walks it); with a secret key it cannot aim.
 *   SipHash-1-3 is the cheapest keyed hash with a security argument
 *   (Python and Rust use it for the same reason); one word is five
 *   rounds, 9 ns of a 16-22 ns lookup in a 4096-entry table on the test
 *   VM (test_fdb prints hash, learn and lookup costs).
 *
 *   Live entries also sit on one doubly linked list in the order they
 *   were last touched (learnt, refreshed or moved), which is also the
 *   order of their deadlines (`expires`, fixed when touched) while the
 *   caller's clock does not go back.  So the oldest entry is the head:
 *   learn on a full table reuses it in O(1) if it has expired, and
 *   refuses otherwise (no entry has).  netbe__fdb_age() pops expired
 *   heads, at most FDB_AGE_SLICE (256) per call, about 4 us on the test
 *   VM, and never visits a live entry but the one it stops at.  This
 *   replaces a round-robin sweep, which visits live entries to find
 *   dead ones and finds an expired entry for a full table only by
 *   scanning it.  age() only returns room early: an expired entry is
 *   absent already, and learn reclaims one when it needs room.  A
 *   refresh moves the entry only when now_ms changed, so a busy station
 *   costs a list move per millisecond, not per frame.
 *
 *   A deadline is fixed when an entry is touched, so a new aging time
 *   applies to entries seen from then on.  Lowering it also caps older
 *   deadlines at (latest now_ms seen) + the new time, one walk of the
 *   list: entries seen before are not dropped at once, none outlives the
 *   new time counted from the change, and the list stays sorted.
 *
 *   An expired entry counts as absent everywhere (lookup, foreach, the
 *   result of learning it again: NEW) even before it is removed.  Stats:
 *   learned/moved/refused count learn results, aged counts expired
 *   entries removed (by age() or reused by learn), entries counts the
 *   entries held, expired ones not yet removed included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "switch/fdb.h"

#define FDB_NIL UINT32_MAX
#define FDB_MAX_ENTRIES (1u << 24) /* 768 MiB: past any real switch */
#define FDB_AGE_SLICE 256	   /* removals per netbe__fdb_age() */
#define FDB_NEVER UINT64_MAX

struct fdb_entry {
	uint64_t key;	     /* vlan << 48 | MAC */
	uint64_t last_seen;  /* ms */
	uint64_t expires;    /* ms; FDB_NEVER when aging is off */
	uint32_t port;
	uint32_t chain;	     /* next in bucket, or in the free list */
	uint32_t prev, next; /* touch order (live entries only) */
};

struct netbe__fdb {
	struct fdb_entry *e;
	uint32_t *bucket;
	uint32_t mask;	/* buckets - 1 */
	uint32_t free;	/* free list head */
	uint32_t head, tail; /* oldest, newest live entry */
	uint64_t aging_ms;
	uint64_t now_max; /* latest now_ms seen */
	uint64_t k0, k1;  /* SipHash key */
	struct netbe__fdb_stats st;
};

/* SipHash of one 64-bit word with @c compression and @d finalization
 * rounds (the reference algorithm, message length 8). */
#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13) ^ v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17) ^ v[2];
	v[2] = ROTL(v[2], 32);
}

static inline void sipblock(uint64_t v[4], uint64_t m, int c)
{
	v[3] ^= m;
	for (int i = 0; i < c; i++)
		sipround(v);
	v[0] ^= m;
}

static inline uint64_t siphash_word(uint64_t k0, uint64_t k1, uint64_t m,
				    int c, int d)
{
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL,
	};

	sipblock(v, m, c);
	sipblock(v, (uint64_t)8 << 56, c); /* no tail bytes; length 8 */
	v[2] ^= 0xff;
	for (int i = 0; i < d; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t fdb_key(uint16_t vlan, const uint8_t mac[6])
{
	uint64_t k = (uint64_t)vlan << 48;

	for (int i = 0; i < 6; i++)
		k |= (uint64_t)mac[i] << (40 - 8 * i);
	return k;
}

static void key_mac(uint64_t key, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(key >> (40 - 8 * i));
}

static uint32_t *fdb_bucket(const struct netbe__fdb *f, uint64_t key)
{
	return &f->bucket[siphash_word(f->k0, f->k1, key, 1, 3) & f->mask];
}

static bool expired(const struct fdb_entry *e, uint64_t now_ms)
{
	return now_ms >= e->expires;
}

static uint64_t deadline(uint64_t now_ms, uint64_t aging_ms)
{
	if (aging_ms == 0 || now_ms > FDB_NEVER - aging_ms)
		return FDB_NEVER;
	return now_ms + aging_ms;
}

/* The 16-byte key: getrandom(), or, where that is refused (an old
 * kernel, a seccomp filter), clocks and addresses, still unknown to a
 * guest. */
static void fdb_seed(struct netbe__fdb *f)
{
	uint64_t k[2];
	struct timespec a, b;
	ssize_t n;

	do
		n = getrandom(k, sizeof(k), 0);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(k)) {
		f->k0 = k[0];
		f->k1 = k[1];
		return;
	}
	clock_gettime(CLOCK_REALTIME, &a);
	clock_gettime(CLOCK_MONOTONIC, &b);
	f->k0 = siphash_word((uint64_t)a.tv_nsec, (uint64_t)(uintptr_t)f,
			     (uint64_t)a.tv_sec, 2, 4);
	f->k1 = siphash_word((uint64_t)b.tv_nsec, (uint64_t)getpid(),
			     f->k0 ^ (uint64_t)(uintptr_t)&a, 2, 4);
}

int netbe__fdb_new(struct netbe__fdb **out, unsigned max_entries,
		   uint64_t aging_ms)
{
	struct netbe__fdb *f;
	uint32_t nb = 2;

	*out = NULL;
	if (max_entries < 1 || max_entries > FDB_MAX_ENTRIES)
		return -EINVAL;
	while (nb < 2 * max_entries)
		nb *= 2;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->e = calloc(max_entries, sizeof(*f->e));
	f->bucket = malloc(nb * sizeof(*f->bucket));
	if (!f->e || !f->bucket) {
		netbe__fdb_free(f);
		return -ENOMEM;
	}
	memset(f->bucket, 0xff, nb * sizeof(*f->bucket)); /* FDB_NIL */
	for (uint32_t i = 0; i < max_entries; i++)
		f->e[i].chain = i + 1 < max_entries ? i + 1 : FDB_NIL;
	f->mask = nb - 1;
	f->head = f->tail = FDB_NIL;
	f->aging_ms = aging_ms;
	fdb_seed(f);
	*out = f;
	return 0;
}

void netbe__fdb_free(struct netbe__fdb *f)
{
	if (!f)
		return;
	free(f->e);
	free(f->bucket);
	free(f);
}

/* Touch-order list. */
static void lru_unlink(struct netbe__fdb *f, uint32_t i)
{
	struct fdb_entry *e = &f->e[i];

	if (e->prev != FDB_NIL)
		f->e[e->prev].next = e->next;
	else
		f->head = e->next;
	if (e->next != FDB_NIL)
		f->e[e->next].prev = e->prev;
	else
		f->tail = e->prev;
}

static void lru_append(struct netbe__fdb *f, uint32_t i)
{
	f->e[i].prev = f->tail;
	f->e[i].next = FDB_NIL;
	if (f->tail != FDB_NIL)
		f->e[f->tail].next = i;
	else
		f->head = i;
	f->tail = i;
}

/* Stamps entry @i as seen at @now_ms and makes it the newest. */
static void touch(struct netbe__fdb *f, uint32_t i, uint64_t now_ms)
{
	struct fdb_entry *e = &f->e[i];
	uint64_t exp = deadline(now_ms, f->aging_ms);

	if (e->last_seen == now_ms && e->expires == exp)
		return;
	e->last_seen = now_ms;
	e->expires = exp;
	if (f->tail != i) {
		lru_unlink(f, i);
		lru_append(f, i);
	}
}

static void note_now(struct netbe__fdb *f, uint64_t now_ms)
{
	if (now_ms > f->now_max)
		f->now_max = now_ms;
}

static uint32_t find(const struct netbe__fdb *f, uint64_t key)
{
	uint32_t i = *fdb_bucket(f, key);

	while (i != FDB_NIL && f->e[i].key != key)
		i = f->e[i].chain;
	return i;
}

/* Takes entry @i out of its chain and the touch list, onto the free
 * list. */
static void drop(struct netbe__fdb *f, uint32_t i)
{
	uint32_t *p = fdb_bucket(f, f->e[i].key);

	while (*p != i)
		p = &f->e[*p].chain;
	*p = f->e[i].chain;
	lru_unlink(f, i);
	f->e[i].chain = f->free;
	f->free = i;
	f->st.entries--;
}

/* A free entry, reusing the oldest if it has expired; FDB_NIL when full. */
static uint32_t grab(struct netbe__fdb *f, uint64_t now_ms)
{
	uint32_t i = f->free;

	if (i == FDB_NIL && f->head != FDB_NIL &&
	    expired(&f->e[f->head], now_ms)) {
		drop(f, f->head);
		f->st.aged++;
		i = f->free;
	}
	if (i != FDB_NIL)
		f->free = f->e[i].chain;
	return i;
}

static enum netbe__fdb_learnt add(struct netbe__fdb *f, uint64_t key,
				  uint32_t port, uint64_t now_ms)
{
	uint32_t i = grab(f, now_ms);
	uint32_t *b;

	if (i == FDB_NIL) {
		f->st.refused++;
		return NETBE__FDB_FULL;
	}
	b = fdb_bucket(f, key);
	f->e[i] = (struct fdb_entry){
		.key = key, .port = port, .chain = *b,
		.last_seen = now_ms, .expires = deadline(now_ms, f->aging_ms),
	};
	*b = i;
	lru_append(f, i);
	f->st.entries++;
	f->st.learned++;
	return NETBE__FDB_NEW;
}

enum netbe__fdb_learnt netbe__fdb_learn(struct netbe__fdb *f, uint16_t vlan,
					 const uint8_t mac[6], uint32_t port,
					 uint64_t now_ms)
{
	uint64_t key = fdb_key(vlan, mac);
	uint32_t i;
	enum netbe__fdb_learnt r = NETBE__FDB_REFRESHED;

	if (mac[0] & 1)
		return NETBE__FDB_IGNORED;
	note_now(f, now_ms);
	i = find(f, key);
	if (i == FDB_NIL)
		return add(f, key, port, now_ms);
	if (expired(&f->e[i], now_ms)) { /* gone: learnt afresh in place */
		f->st.aged++;
		f->st.learned++;
		r = NETBE__FDB_NEW;
	} else if (f->e[i].port != port) {
		f->st.moved++;
		r = NETBE__FDB_MOVED;
	}
	f->e[i].port = port;
	touch(f, i, now_ms);
	return r;
}

int64_t netbe__fdb_lookup(struct netbe__fdb *f, uint16_t vlan,
			  const uint8_t mac[6], uint64_t now_ms)
{
	uint32_t i = find(f, fdb_key(vlan, mac));

	if (i == FDB_NIL || expired(&f->e[i], now_ms))
		return -1;
	return f->e[i].port;
}

void netbe__fdb_set_aging(struct netbe__fdb *f, uint64_t aging_ms)
{
	uint64_t cap = deadline(f->now_max, aging_ms);
	bool lower = aging_ms != 0 &&
		     (f->aging_ms == 0 || aging_ms < f->aging_ms);

	f->aging_ms = aging_ms;
	if (!lower)
		return;
	for (uint32_t i = f->head; i != FDB_NIL; i = f->e[i].next)
		if (f->e[i].expires > cap)
			f->e[i].expires = cap;
}

void netbe__fdb_flush_port(struct netbe__fdb *f, uint32_t port)
{
	uint32_t i = f->head;

	while (i != FDB_NIL) {
		uint32_t next = f->e[i].next;

		if (f->e[i].port == port)
			drop(f, i);
		i = next;
	}
}

size_t netbe__fdb_age(struct netbe__fdb *f, uint64_t now_ms)
{
	size_t n = 0;

	note_now(f, now_ms);
	while (n < FDB_AGE_SLICE && f->head != FDB_NIL &&
	       expired(&f->e[f->head], now_ms)) {
		drop(f, f->head);
		n++;
	}
	f->st.aged += n;
	return n;
}

void netbe__fdb_get_stats(const struct netbe__fdb *f,
			  struct netbe__fdb_stats *st)
{
	*st = f->st;
}

int netbe__fdb_foreach(const struct netbe__fdb *f, uint64_t now_ms,
		       netbe__fdb_fn fn, void *arg)
{
	for (uint32_t i = f->head; i != FDB_NIL; i = f->e[i].next) {
		const struct fdb_entry *e = &f->e[i];
		uint8_t mac[6];
		int r;

		if (expired(e, now_ms))
			continue;
		key_mac(e->key, mac);
		r = fn((uint16_t)(e->key >> 48), mac, e->port,
		       now_ms > e->last_seen ? now_ms - e->last_seen : 0, arg);
		if (r)
			return r;
	}
	return 0;
}
