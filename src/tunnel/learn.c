/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The learning table of the tunnel backends.
 *
 * Theory of operation
 *   A set-associative cache: the MAC hashes to one set of 4 entries; a
 *   lookup reads those 4, a note refreshes the matching one or takes a
 *   free or aged one, else evicts the set's oldest.  So the table never
 *   grows past its size (maxaddress=, rounded up to whole sets), every
 *   operation is O(1), and a peer that sends from millions of fake MACs
 *   only churns sets: it cannot fill the table so that real hosts are
 *   never learned.  An entry unrefreshed for ageing= seconds (300 by
 *   default, as Linux; 0: never) is dead: looked up as absent, reused first.
 *
 *   Receive learns and send looks up, on different threads: one mutex,
 *   held for a few compares.  A note that changes nothing (same address,
 *   same second) writes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel/learn.h"

int netbe__learn_init(struct netbe__learn *t, unsigned max, unsigned age)
{
	unsigned sets = 1;

	while (sets * NETBE__LEARN_WAYS < max && sets < (1u << 20))
		sets <<= 1;
	memset(t, 0, sizeof(*t));
	t->e = calloc((size_t)sets * NETBE__LEARN_WAYS, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->sets = sets;
	t->age = age;
	t->max = sets * NETBE__LEARN_WAYS;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void netbe__learn_free(struct netbe__learn *t)
{
	if (!t->e)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	t->e = NULL;
}

static struct netbe__learn_entry *learn_set(struct netbe__learn *t,
					    const uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	h ^= h >> 15;
	return &t->e[(size_t)(h & (t->sets - 1)) * NETBE__LEARN_WAYS];
}

static bool learn_alive(const struct netbe__learn *t,
			const struct netbe__learn_entry *e, uint32_t now)
{
	return e->used && (!t->age || now - e->seen < t->age);
}

static bool addr_same(const union netbe__tun_addr *a,
		      const union netbe__tun_addr *b)
{
	return netbe__tun_addr_same_ip(a, b) &&
	       a->in.sin_port == b->in.sin_port;
}

/* The entry for @mac in @set, else the one to replace. */
static struct netbe__learn_entry *learn_slot(struct netbe__learn *t,
					     struct netbe__learn_entry *set,
					     const uint8_t mac[6],
					     uint32_t now)
{
	struct netbe__learn_entry *victim = &set[0];

	for (int w = 0; w < NETBE__LEARN_WAYS; w++) {
		struct netbe__learn_entry *e = &set[w];

		if (e->used && !memcmp(e->mac, mac, 6))
			return e;
		if (!learn_alive(t, victim, now))
			continue;
		if (!learn_alive(t, e, now) || now - e->seen > now - victim->seen)
			victim = e;
	}
	return victim;
}

void netbe__learn_note(struct netbe__learn *t, const uint8_t mac[6],
		       const union netbe__tun_addr *addr, uint32_t now)
{
	struct netbe__learn_entry *e;

	if (mac[0] & 1)
		return; /* multicast or broadcast: never a source */
	pthread_mutex_lock(&t->lock);
	e = learn_slot(t, learn_set(t, mac), mac, now);
	if (!e->used || memcmp(e->mac, mac, 6)) {
		memcpy(e->mac, mac, 6);
		e->used = true;
		e->seen = now - 1; /* below: written as new */
	}
	if (e->seen != now || !addr_same(&e->addr, addr)) {
		e->addr = *addr;
		e->seen = now;
	}
	pthread_mutex_unlock(&t->lock);
}

bool netbe__learn_find(struct netbe__learn *t, const uint8_t mac[6],
		       uint32_t now, union netbe__tun_addr *out)
{
	struct netbe__learn_entry *set;
	bool found = false;

	pthread_mutex_lock(&t->lock);
	set = learn_set(t, mac);
	for (int w = 0; w < NETBE__LEARN_WAYS && !found; w++) {
		if (!learn_alive(t, &set[w], now) || memcmp(set[w].mac, mac, 6))
			continue;
		*out = set[w].addr;
		found = true;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

unsigned netbe__learn_count(struct netbe__learn *t, uint32_t now)
{
	unsigned n = 0;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->max; i++)
		n += learn_alive(t, &t->e[i], now);
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint32_t netbe__learn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

bool netbe__tun_addr_same_ip(const union netbe__tun_addr *a,
			     const union netbe__tun_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->sa.sa_family == AF_INET6 &&
	       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
}
