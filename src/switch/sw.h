/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sw.h - the switch's state, shared by switch.c (ports, API) and
 * forward.c (the data path).  Not installed.  The switch is built on the
 * public backend API only: ports are netbe_t handles, frames move with
 * netbe_recv_batch/netbe_send_batch, backpressure with netbe_tx_wait.
 */
#ifndef NETBE_SWITCH_SW_H
#define NETBE_SWITCH_SW_H

#include "netbe_int.h"
#include "switch/capture.h"
#include "switch/fdb.h"
#include "switch/rate.h"

#define SW_BATCH 64	/* frames per receive call */
#define SW_ROUNDS 8	/* receive calls per callback before others run */
#define SW_HDR NETBE_VNET_HDR_MRG_LEN /* every port speaks 12 bytes */
#define SW_BUF (SW_HDR + NETBE_MAX_FRAME)
#define SW_NAME_MAX 64
#define SW_QUEUE_DEFAULT 256
#define SW_MAX_PORTS 1024

enum sw_mode {
	SW_PLAIN = 0, /* untagged frames are VLAN 1; tagged ones keep theirs */
	SW_ACCESS,    /* untagged only, in VLAN pvid */
	SW_TRUNK,     /* tagged only, VLANs of the allow-list */
};

/* A frame of the batch being forwarded: where it is and its VLAN. */
struct sw_frame {
	uint8_t *buf; /* the 12-byte header, then the frame */
	size_t len;
	uint16_t vid;
	bool tagged; /* arrived with an 802.1Q tag (kept at buf+SW_HDR+12) */
};

/* A frame waiting in a port's egress queue: its own copy, as that port
 * takes it (header included). */
struct sw_item {
	size_t len;
	bool paid;	  /* its tx limit tokens were taken */
	uint8_t data[];
};

struct sw_port;

/* One receive queue of a port. */
struct sw_rxq {
	struct sw_port *port;
	netbe_t *q;
};

struct sw_port {
	struct netbe_switch *sw;
	unsigned idx;
	char name[SW_NAME_MAX];
	netbe_t *be;
	bool owned;	  /* opened by the switch: closed by it */
	struct sw_rxq *rxq;
	unsigned nrxq;
	/* VLANs */
	enum sw_mode mode;
	uint16_t pvid;
	uint64_t allowed[4096 / 64];
	/* limits (0 rx, 1 tx) and capture */
	struct netbe__limit lim[2];
	netbe_watch_t *rate_timer;
	netbe_watch_t *tx_timer; /* the tx limit holds the queue until then */
	struct netbe__capture *cap;
	/* ingress state */
	bool paused;	  /* stopped reading: lossless backpressure */
	bool rate_paused; /* stopped reading: rx rate limit */
	size_t rx_need;	  /* bytes the next frame needs from the rx limit */
	/* egress: the frames of this batch, then the queue */
	unsigned pend[SW_BATCH], npend;
	struct sw_item **q;
	unsigned qhead, qlen;
	bool waiting;	  /* netbe_tx_wait armed */
	bool gone;	  /* its peer went ("peer-gone"): its addresses
			     forgotten, not again until it takes frames */
	unsigned stalled; /* seconds its queue waited with no frame taken */
	uint64_t last_tx; /* tx_frames at the last stall check */
	uint64_t blocked[SW_MAX_PORTS / 64]; /* ingress ports paused for us */
	/* scratch for one egress batch */
	struct netbe_msg msgs[SW_BATCH];
	struct iovec iov[4 * SW_BATCH];
	struct netbe_vnet_hdr hdr[SW_BATCH];
	uint8_t tag[SW_BATCH][4];
	struct netbe_switch_port_stats st;
};

struct netbe_switch {
	netbe_loop_t *loop;
	struct sw_port **ports;
	unsigned nslots, nports;
	struct netbe__fdb *fdb;
	unsigned queue_max;
	int lossless;	  /* -1: automatic (on with two ports) */
	netbe_watch_t *age_timer;
	/* the batch being forwarded */
	uint8_t *slot[SW_BATCH];
	struct iovec rx_iov[SW_BATCH];
	struct netbe_msg rx_msgs[SW_BATCH];
	struct sw_frame fr[SW_BATCH];
	unsigned touched[SW_MAX_PORTS], ntouched;
	struct sw_publish *pub; /* its name, when it has one (publish.c) */
};

/* forward.c */
void netbe__sw_rx_cb(int fd, int events, void *arg);
void netbe__sw_tx_ready(int fd, int events, void *arg);
void netbe__sw_queue_free(struct sw_port *p);
bool netbe__sw_lossless(const struct netbe_switch *sw);
void netbe__sw_resume(struct sw_port *p);
void netbe__sw_stall_check(struct sw_port *p);

/* publish.c: forgets the switch's name, closes what publishing opened. */
void netbe__sw_unpublish(struct netbe_switch *sw);

static inline bool sw_vlan_allowed(const struct sw_port *p, unsigned vid)
{
	return p->allowed[vid / 64] & (1ULL << (vid % 64));
}

#endif
