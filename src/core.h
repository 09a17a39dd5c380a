/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * core.h - the handle, the core's alone (netbe.c, vnet.c).  Backends see
 * only struct netbe__queue (src/backend.h), embedded here as `bq`.
 */
#ifndef NETBE_CORE_H
#define NETBE_CORE_H

#include "backend.h"

/* Counters of one direction of one queue: atomic adds, read by any. */
struct netbe__dir_stats {
	uint64_t frames, bytes, errors;
	uint64_t drops[NETBE_DROP_NREASONS];
};

struct netbe {
	struct netbe__queue bq; /* what the backend sees: priv, idx, hdr_len */
	const struct netbe__ops *ops;
	netbe_t *parent;      /* queue 0 for the other queues; NULL on it */
	netbe_t **queues;     /* on queue 0: nqueues handles, [0] = itself */
	unsigned nqueues;
	int fd;		      /* rx readiness fd of this queue, or -1 */
	int kickfd;	      /* eventfd: "frames are held", see rx_enable */
	unsigned fe_hdr_len;  /* header length the frontend uses */
	uint64_t features;    /* offloads negotiated by set_cap */
	uint64_t be_caps;     /* offloads the backend carries itself */
	bool has_mac;
	uint8_t mac[6];	      /* from the "mac" key */
	unsigned mtu_cfg;     /* the "mtu" key, 0 when unset */
	char *spec;	      /* on queue 0: the option string, escaped */
	char *label;	      /* on queue 0: "NAME (spec)" or spec */
	netbe_loop_t *loop;
	netbe_watch_t *watch, *kick_watch;
	netbe_watch_t *tx_watch; /* netbe_tx_wait: one-shot */
	int tx_dup;	      /* its fd: a dup of the backend's tx fd */
	netbe_rx_cb_t tx_cb;
	void *tx_param;
	netbe_rx_cb_t cb;
	void *cb_param;
	int hangup;	      /* atomic: the peer is gone for good */
	int held;	      /* atomic: frames may be held (peek, segments) */
	unsigned err_events;  /* error events in a row with nothing to read */
	void *discard_buf;    /* lazily allocated by netbe_rx_discard */
	struct netbe__offl_state *offl; /* software offloads (vnet.c) */
	struct netbe__dir_stats rx, tx;
};

static inline netbe_t *netbe__from_bq(const struct netbe__queue *q)
{
	return (netbe_t *)((char *)q - __builtin_offsetof(struct netbe, bq));
}

static inline netbe_t *netbe__root(const netbe_t *be)
{
	return (netbe_t *)(be->parent ? be->parent : be);
}

/* Builds the handle's spec and label from @cfg (label.c). */
int netbe__label_init(netbe_t *be, const netbe_config_t *cfg);

/* Counts @n frames dropped for @why in @d. */
static inline void netbe__drop(struct netbe__dir_stats *d, int why,
			       uint64_t n)
{
	netbe__count(&d->drops[why], n);
}

#endif /* NETBE_CORE_H */
