/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * util.h - plumbing the backends share (util.c), so each lives once:
 * interface ioctls, O_NONBLOCK, the eventfd "ready" flag, moving frames
 * inside a receive batch.  Not installed.
 */
#ifndef NETBE_BACKENDS_UTIL_H
#define NETBE_BACKENDS_UTIL_H

#include <net/if.h>

#include "backend.h"

/* ---- interfaces, by name, on a throwaway socket ---------------------------- */

/* Zeroes @ifr and puts @name in it. */
void netbe__ifreq(struct ifreq *ifr, const char *name);
/* ioctl(@req) on interface ifr->ifr_name: 0 or -errno. */
int netbe__ifioctl(unsigned long req, struct ifreq *ifr);
/* The interface's MTU, or -errno (message set, prefixed with @who). */
int netbe__if_mtu(const char *who, const char *ifname);
/* Sets the MTU: 0 or -errno (message set). */
int netbe__if_set_mtu(const char *who, const char *ifname, unsigned mtu);
/* Sets IFF_UP: 0 or -errno (message set). */
int netbe__if_set_up(const char *who, const char *ifname);
/* The interface's hardware address: 0 or -errno (message set). */
int netbe__if_mac(const char *who, const char *ifname, uint8_t mac[6]);
/* True when @ifname is up (IFF_UP) and has a carrier (IFF_RUNNING). */
bool netbe__if_running(const char *ifname);

/* ---- an interface that may go away ---------------------------------------- */

/*
 * A socket bound to an interface does not always say when the interface
 * goes away: an AF_XDP socket never polls EPOLLERR, and an AF_PACKET
 * socket reports a running link going down but not the delete of one
 * already down.  So a backend bound to an interface watches it: a
 * netlink socket on the link group (RTMGRP_LINK), on the handle's loop.
 * When the interface is deleted, or its name now means another one, the
 * watch logs it once (under queue 0's label) and hangs queue 0 up.
 */
struct netbe__ifwatch {
	struct netbe__queue *bq; /* queue 0: named in the log, hung up */
	char ifname[IFNAMSIZ];
	unsigned ifindex;	 /* at open */
	int fd;			 /* the netlink socket, while w is set */
	netbe_watch_t *w;
	bool gone;		 /* deleted or replaced (atomic) */
	bool told;		 /* the log said so (atomic) */
};

/* Starts watching @ifname (index @ifindex) on @loop for queue 0 @bq.
 * 0 or -errno (message set, prefixed with @who). */
int netbe__ifwatch_open(struct netbe__ifwatch *iw, struct netbe__queue *bq,
			netbe_loop_t *loop, const char *who,
			const char *ifname, unsigned ifindex);
/* Stops watching (waits for a running callback); a no-op on a zeroed
 * or closed watch. */
void netbe__ifwatch_close(struct netbe__ifwatch *iw);
/* True once the interface is known to be gone.  Any thread. */
bool netbe__ifwatch_gone(const struct netbe__ifwatch *iw);

/*
 * A socket bound to @iw's interface reported an error on queue @bq:
 * reads and clears it (SO_ERROR), logs it, and returns 0 while the
 * interface exists (down links come back), -ENODEV once it is gone or
 * replaced (the socket can never receive again; said once per
 * interface).  For rx_error.
 */
int netbe__if_rx_error(struct netbe__ifwatch *iw, struct netbe__queue *bq,
		       int fd);

/* Sets O_NONBLOCK on @fd: 0 or -errno. */
int netbe__set_nonblock(int fd);

/* Counts one more of a repeated event in *@n; true the 1st, 2nd, 4th,
 * 8th ... time, when a log line about it is due (a storm cannot flood
 * the log, and the count in the line says how bad it got). */
static inline bool netbe__log_due(uint64_t *n)
{
	++*n;
	return (*n & (*n - 1)) == 0;
}

/* ---- an eventfd that is readable while a condition holds ------------------- */

struct netbe__evflag {
	int fd;	    /* eventfd, readable while raised; -1 before init */
	bool up;    /* raised now (owner thread only) */
};

/* Creates the eventfd, lowered: 0 or -errno. */
int netbe__evflag_init(struct netbe__evflag *f);
/* Raises or lowers it; costs a syscall only on a change. */
void netbe__evflag_set(struct netbe__evflag *f, bool up);
void netbe__evflag_close(struct netbe__evflag *f);

/* ---- receive batches ------------------------------------------------------- */

/* Copies frame @src (@len bytes) into @dst's buffers; false when it does
 * not fit. */
bool netbe__msg_move(struct netbe_msg *dst, const struct netbe_msg *src,
		     size_t len);

#endif
