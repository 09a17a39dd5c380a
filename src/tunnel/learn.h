/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * learn.h - which remote tunnel endpoint holds which inner MAC address
 * (the kernel vxlan's fdb): learned from the outer source address of
 * what we receive, aged, bounded.  Not installed.
 */
#ifndef NETBE_TUNNEL_LEARN_H
#define NETBE_TUNNEL_LEARN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A remote endpoint: an IPv4 or IPv6 socket address. */
union netbe__tun_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct netbe__learn_entry {
	uint8_t mac[6];
	bool used;
	uint32_t seen;		    /* seconds (CLOCK_MONOTONIC) */
	union netbe__tun_addr addr;
};

struct netbe__learn {
	pthread_mutex_t lock;	    /* receive learns, send looks up */
	struct netbe__learn_entry *e;
	unsigned sets;		    /* a power of two; NETBE__LEARN_WAYS each */
	unsigned age;		    /* seconds an entry lives unrefreshed */
	unsigned max;		    /* entries at most */
};

#define NETBE__LEARN_WAYS 4

/* Sizes the table for @max entries living @age seconds: 0 or -ENOMEM. */
int netbe__learn_init(struct netbe__learn *t, unsigned max, unsigned age);
void netbe__learn_free(struct netbe__learn *t);

/* Source MAC @mac was behind @addr at time @now (seconds): learns or
 * refreshes it.  Multicast and broadcast sources are never learned.
 * When full, the oldest entry of its set goes (so the table stays
 * bounded and a flood of fake sources cannot stop learning). */
void netbe__learn_note(struct netbe__learn *t, const uint8_t mac[6],
		       const union netbe__tun_addr *addr, uint32_t now);

/* Where @mac lives, if learned and not aged out at @now. */
bool netbe__learn_find(struct netbe__learn *t, const uint8_t mac[6],
		       uint32_t now, union netbe__tun_addr *out);

/* Entries alive at @now (for tests and stats). */
unsigned netbe__learn_count(struct netbe__learn *t, uint32_t now);

/* Seconds on the monotonic clock. */
uint32_t netbe__learn_now(void);

/* True when @a and @b are the same address, the port aside. */
bool netbe__tun_addr_same_ip(const union netbe__tun_addr *a,
			     const union netbe__tun_addr *b);

#endif
