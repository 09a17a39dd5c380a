/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fdb.h - the switch's MAC table (fdb.c): which port a MAC address was
 * last seen behind, per VLAN, learnt from source addresses, aged, bounded.
 * Pure data structure: no I/O, no clock of its own (callers pass now_ms),
 * used by the loop thread only.  Not installed.
 */
#ifndef NETBE_SWITCH_FDB_H
#define NETBE_SWITCH_FDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct netbe__fdb;

/* What netbe__fdb_learn() did. */
enum netbe__fdb_learnt {
	NETBE__FDB_REFRESHED = 0, /* known, same port: last-seen updated */
	NETBE__FDB_NEW = 1,	  /* added */
	NETBE__FDB_MOVED = 2,	  /* known behind another port: moved */
	NETBE__FDB_FULL = 3,	  /* table full: not learnt (refused) */
	NETBE__FDB_IGNORED = 4,	  /* not a unicast source: never learnt */
};

struct netbe__fdb_stats {
	uint64_t learned, moved, refused, aged, entries;
};

/*
 * A table of at most @max_entries addresses (>= 1), each forgotten
 * @aging_ms after it was last seen (0: never).  The hash is keyed with a
 * random seed, so a guest choosing source addresses cannot make chains
 * long.  Returns 0 or -ENOMEM / -EINVAL.
 */
int netbe__fdb_new(struct netbe__fdb **out, unsigned max_entries,
		   uint64_t aging_ms);
void netbe__fdb_free(struct netbe__fdb *f);

/* Changes the aging time for entries seen from now on. */
void netbe__fdb_set_aging(struct netbe__fdb *f, uint64_t aging_ms);

/* Learns that @mac on @vlan (0-4095) is behind @port, seen at @now_ms.
 * An expired entry is reused, not counted as full. */
enum netbe__fdb_learnt netbe__fdb_learn(struct netbe__fdb *f, uint16_t vlan,
					 const uint8_t mac[6], uint32_t port,
					 uint64_t now_ms);

/* The port behind @mac on @vlan, or -1 when unknown or expired. */
int64_t netbe__fdb_lookup(struct netbe__fdb *f, uint16_t vlan,
			  const uint8_t mac[6], uint64_t now_ms);

/* Forgets every address behind @port (the port was removed). */
void netbe__fdb_flush_port(struct netbe__fdb *f, uint32_t port);

/* Removes expired entries; returns how many (counted as aged).  Cheap
 * to call often: it visits a bounded slice of the table per call. */
size_t netbe__fdb_age(struct netbe__fdb *f, uint64_t now_ms);

void netbe__fdb_get_stats(const struct netbe__fdb *f,
			  struct netbe__fdb_stats *st);

/* Visits live entries; stops early and returns @fn's non-zero value. */
typedef int (*netbe__fdb_fn)(uint16_t vlan, const uint8_t mac[6],
			     uint32_t port, uint64_t age_ms, void *arg);
int netbe__fdb_foreach(const struct netbe__fdb *f, uint64_t now_ms,
		       netbe__fdb_fn fn, void *arg);

#endif
