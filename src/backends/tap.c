/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap.c - the Linux TUN/TAP backend ("tap", and "vmnet" as in the seed).
 *
 * Theory of operation
 *   Each queue is one fd on /dev/net/tun attached to the same tap
 *   interface (IFF_MULTI_QUEUE when queues > 1); a frame written to the fd
 *   enters the host stack as if the interface had received it, and what
 *   the host transmits on the interface is read back from the fd.  One
 *   read() or write() moves exactly one Ethernet frame, optionally behind
 *   a virtio-net header (IFF_VNET_HDR) whose length TUNSETVNETHDRSZ sets.
 *
 *   Offloads.  With the header on, the kernel accepts GSO and partially
 *   checksummed frames on write, so every HOST_* feature is free.  What
 *   we may *receive* is governed by TUNSETOFFLOAD: the kernel segments
 *   and checksums anything the reader did not accept.  open() probes the
 *   largest flag set this kernel takes, then resets it to 0 (a persistent
 *   tap remembers the last value); set_cap() turns the frontend's GUEST_*
 *   bits into the largest subset the kernel accepts.  Accepting less is
 *   always safe, so set_cap() never fails on a valid virtio combination.
 *
 *   Peeking.  Linux tap has no way to learn the next frame's length
 *   without dequeuing it: FIONREAD/SIOCINQ return EINVAL on a tap fd,
 *   read(fd, buf, 0) returns 0 and reveals nothing, and a short read
 *   truncates and consumes the frame (checked on Linux 6.18; the cost
 *   is measured by bench/tap_peek.c).  So recv() without a peek reads
 *   straight into the caller's iovec - the normal, zero-copy path - with a
 *   one-byte sentinel behind the caller's buffer to detect an oversized
 *   frame.  Only when the frontend asks peek_recvlen() do we read the
 *   frame into a per-queue bounce buffer (allocated on first use) for
 *   recv() to copy.
 *
 *   Batches.  A frame per system call is what a tap offers, and on these
 *   machines (a PVM guest) each call traps to the hypervisor: under a
 *   64-byte flood through `netbe switch` the traps and syscall entries
 *   were 45 % of netbe's cycles.  So send_batch and recv_batch go through
 *   io_uring (src/backends/uring.c; uring=off opts out, and a kernel or
 *   sandbox without io_uring falls back to a call per frame): one
 *   io_uring_enter() writes a batch (linked when a send buffer below
 *   the default - sndbuf=, a launcher's - may refuse a write, so what
 *   went out is a prefix) or makes up to 64 non-blocking reads.  How
 *   many reads: twice what the last batch found, at least 2, so a lone
 *   frame costs one call and a flood grows to full batches.  A read that found the queue empty
 *   while a later one got a frame (it arrived in between) leaves a hole;
 *   the later frames are copied down so the batch stays in order.
 *   Measured: 0.26 -> 1.03 Mpps of 64-byte frames through a
 *   three-tap `netbe switch` (docs/benchmarks.md, "The switch").
 *
 *   Ownership.  Fds we open are closed on failure and at close(); an fd
 *   handed in with "fd=N" becomes ours only once open() succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "uring.h"
#include "util.h"

/* Newer than some uapi headers. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef SIOCBRADDIF
#define SIOCBRADDIF 0x89a2
#endif

#define TAP_MAX_QUEUES 256 /* the kernel's MAX_TAP_QUEUES */
#define TAP_BUSY_MS 250     /* a busy name is tried again for this long */
#define TAP_OFFLOAD_TSO (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define TAP_OFFLOAD_USO (TUN_F_USO4 | TUN_F_USO6)
#define TAP_OFFLOAD_ALL                                                      \
	(TUN_F_CSUM | TAP_OFFLOAD_TSO | TUN_F_UFO | TAP_OFFLOAD_USO)
/* A frame as large as the kernel can hand us, its header, and a byte more
 * so an oversized frame shows as such instead of fitting exactly. */
#define TAP_BOUNCE_LEN (NETBE_VNET_HDR_MRG_LEN + NETBE_MAX_FRAME + 1)
#define TAP_MAX_IOV 64 /* iovecs we copy to add the sentinel */
/* Frames up to this size in several pieces (a header apart from its frame,
 * as translation and most guests' descriptor chains make them) are copied
 * into one buffer: the kernel's writev() costs more per call than copying
 * a few KiB (bench/tapwrite --writev: +14 % per 64-byte frame). */
#define TAP_TX_LINEAR 4096

/* Receive slots whose buffer could be too small get the caller's iovecs
 * plus the sentinel; frames in more pieces than this take one read each. */
#define TAP_SLOT_IOV 4

struct tap_queue {
	int fd;
	uint8_t *bounce; /* peeked frame; allocated on the first peek */
	size_t held;	 /* its length, 0 when nothing is held */
	uint8_t linear[TAP_TX_LINEAR]; /* small frames gathered for write() */
	/* uring=: one ring per direction (their threads may differ). */
	struct netbe__uring *rx_ring, *tx_ring;
	int rx_want; /* reads the next receive batch issues */
	bool tx_link; /* sndbuf= may refuse a write: batches are linked */
	struct netbe_msg slot[NETBE__URING_BATCH];
	struct iovec slot_iov[NETBE__URING_BATCH][TAP_SLOT_IOV + 1];
	int32_t res[2][NETBE__URING_BATCH]; /* [0] receive, [1] send */
};

struct tap_priv {
	char ifname[IFNAMSIZ];
	bool vnet;	     /* IFF_VNET_HDR is on */
	bool fd_given;	     /* "fd=N": the launcher created the tap */
	unsigned offload_ok; /* TUN_F_* the kernel accepted in the probe */
	unsigned offload_cur; /* TUNSETOFFLOAD flags now set (0 after open) */
	unsigned nq;
	struct tap_queue *q; /* nq entries, indexed by bq->idx */
};

static const struct netbe_option tap_options[] = {
	{ .key = "ifname", .type = NETBE_OPT_STRING,
	  .help = "tap interface to open or create (default: the backend "
		  "token, e.g. tap0; a bare 'tap' lets the kernel pick)" },
	{ .key = "fd", .type = NETBE_OPT_UINT,
	  .help = "use this already-open tap fd (from a launcher) instead",
	  .min = 0, .max = INT_MAX },
	{ .key = "queues", .type = NETBE_OPT_UINT,
	  .help = "number of queue pairs, one fd each (IFF_MULTI_QUEUE)",
	  .min = 1, .max = TAP_MAX_QUEUES },
	{ .key = "bridge", .type = NETBE_OPT_STRING,
	  .help = "attach the tap to this Linux bridge and bring it up" },
	{ .key = "vnet_hdr", .type = NETBE_OPT_BOOL,
	  .help = "use a virtio-net header and offloads (default on)" },
	{ .key = "up", .type = NETBE_OPT_BOOL,
	  .help = "bring the interface up (default off; on with bridge)" },
	{ .key = "persist", .type = NETBE_OPT_BOOL,
	  .help = "keep the interface after close (TUNSETPERSIST)" },
	{ .key = "uring", .type = NETBE_OPT_BOOL,
	  .help = "move batches of frames with one io_uring call (default "
		  "on where the kernel allows io_uring; off: one read or "
		  "write per frame)" },
	{ .key = "sndbuf", .type = NETBE_OPT_UINT,
	  .help = "bytes the tap may queue towards us (TUNSETSNDBUF)",
	  .min = 1, .max = INT_MAX },
	{ .key = NULL },
};

static struct tap_priv *tap_priv(struct netbe__queue *bq)
{
	return bq->priv;
}

static uint64_t tap_caps(const struct tap_priv *p);

/* ---- interface settings ------------------------------------------------- */

static int tap_add_to_bridge(const char *ifname, const char *bridge)
{
	struct ifreq ifr;
	int r;

	netbe__ifreq(&ifr, bridge);
	ifr.ifr_ifindex = (int)if_nametoindex(ifname);
	if (ifr.ifr_ifindex == 0)
		return netbe__err(-errno, "tap: %s: %s", ifname,
				  strerror(errno));
	r = netbe__ifioctl(SIOCBRADDIF, &ifr);
	if (r < 0)
		return netbe__err(r, "tap: adding %s to bridge %s: %s", ifname,
				  bridge, strerror(-r));
	return 0;
}

/* ---- fd setup ------------------------------------------------------------ */

/* Which name to ask TUNSETIFF for: the "ifname" key, else the token the
 * user typed ("tap0"); a bare prefix lets the kernel number it. */
static int tap_pick_name(const struct netbe__opts *o, char name[IFNAMSIZ])
{
	const char *want = netbe__opt_str(o, "ifname", NULL);
	int n;

	if (!want && o->token && strcmp(o->token, o->type) != 0)
		want = o->token;
	if (want)
		n = snprintf(name, IFNAMSIZ, "%s", want);
	else
		n = snprintf(name, IFNAMSIZ, "%s%%d", o->type);
	if (n <= 0 || n >= IFNAMSIZ)
		return netbe__err(-EINVAL,
				  "tap: interface name '%s' is empty or longer "
				  "than %d characters",
				  want ? want : "", IFNAMSIZ - 1);
	return 0;
}

/* TUNSETIFF, waiting up to TAP_BUSY_MS while the name is busy: a tap
 * whose owner was just killed goes only when the kernel has torn down
 * that process's io_uring rings, after the process (62 ms measured, 14
 * without rings), and a supervisor restarting us at once must not fail
 * on it.  0 or -errno. */
static int tap_setiff(int fd, struct ifreq *ifr)
{
	for (int waited = 0;; waited += 10) {
		if (ioctl(fd, TUNSETIFF, ifr) == 0)
			return 0;
		if (errno != EBUSY || waited >= TAP_BUSY_MS)
			return -errno;
		(void)poll(NULL, 0, 10);
	}
}

/* Opens one queue of @name (updated with the kernel's pick). */
static int tap_open_queue(char name[IFNAMSIZ], short flags, int *out)
{
	struct ifreq ifr;
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return netbe__err(-errno, "tap: open /dev/net/tun: %s",
				  strerror(errno));
	netbe__ifreq(&ifr, name);
	ifr.ifr_flags = flags;
	r = tap_setiff(fd, &ifr);
	if (r < 0) {
		close(fd);
		return netbe__err(r, "tap: TUNSETIFF %s: %s%s", name,
				  strerror(-r),
				  r == -EBUSY ? " (another process holds it)"
					      : "");
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	*out = fd;
	return 0;
}

/* Flags for TUNSETIFF: the header only if asked for and the kernel has it
 * (an old kernel without it still gives a working, offload-less tap). */
static short tap_flags(bool want_vnet, unsigned nq)
{
	unsigned feat = 0;
	short flags = IFF_TAP | IFF_NO_PI;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		if (ioctl(fd, TUNGETFEATURES, &feat) < 0)
			feat = 0;
		close(fd);
	}
	if (want_vnet && (feat & IFF_VNET_HDR))
		flags |= IFF_VNET_HDR;
	if (nq > 1)
		flags |= IFF_MULTI_QUEUE;
	return flags;
}

static int tap_create(struct tap_priv *p, const struct netbe__opts *o)
{
	char name[IFNAMSIZ];
	short flags;
	int r;

	r = tap_pick_name(o, name);
	if (r < 0)
		return r;
	flags = tap_flags(netbe__opt_bool(o, "vnet_hdr", true), p->nq);
	for (unsigned i = 0; i < p->nq; i++) {
		r = tap_open_queue(name, flags, &p->q[i].fd);
		if (r < 0)
			return r;
	}
	memcpy(p->ifname, name, IFNAMSIZ);
	p->vnet = flags & IFF_VNET_HDR;
	return 0;
}

/* "fd=N": probe what the launcher gave us without taking it yet. */
static int tap_adopt(struct tap_priv *p, const struct netbe__opts *o)
{
	int fd = (int)netbe__opt_uint(o, "fd", 0);
	struct ifreq ifr;
	int fl;

	if (p->nq != 1)
		return netbe__err(-EINVAL, "tap: fd=%d: queues must be 1 "
				  "with a passed-in fd", fd);
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		if (errno == EBADF)
			return netbe__err(-EBADF, "tap: fd %d: %s", fd,
					  strerror(EBADF));
		return netbe__err(-EINVAL, "tap: fd %d is not an attached "
				  "tun/tap device (TUNGETIFF: %s)", fd,
				  strerror(errno));
	}
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_NO_PI))
		return netbe__err(-EINVAL, "tap: fd %d (%s) is %s, need an "
				  "IFF_TAP|IFF_NO_PI tap", fd, ifr.ifr_name,
				  (ifr.ifr_flags & IFF_TAP) ?
				  "a tap with packet info (no IFF_NO_PI)" :
				  "a TUN (layer 3) device");
	if ((fl = netbe__set_nonblock(fd)) < 0)
		return netbe__err(fl, "tap: fd %d: O_NONBLOCK: %s", fd,
				  strerror(-fl));
	memcpy(p->ifname, ifr.ifr_name, IFNAMSIZ);
	p->ifname[IFNAMSIZ - 1] = '\0';
	p->vnet = ifr.ifr_flags & IFF_VNET_HDR;
	p->q[0].fd = fd;
	p->fd_given = true;
	return 0;
}

/* Sets the header size on every queue: a persistent tap keeps the last
 * value some other program set, so never rely on the default. */
static int tap_set_hdrsz(struct tap_priv *p, int len)
{
	for (unsigned i = 0; p->vnet && i < p->nq; i++)
		if (ioctl(p->q[i].fd, TUNSETVNETHDRSZ, &len) < 0)
			return netbe__err(-errno, "tap: TUNSETVNETHDRSZ %s "
					  "%d: %s", p->ifname, len,
					  strerror(errno));
	return 0;
}

static int tap_set_offload(struct tap_priv *p, unsigned flags)
{
	for (unsigned i = 0; p->vnet && i < p->nq; i++)
		if (ioctl(p->q[i].fd, TUNSETOFFLOAD, flags) < 0)
			return netbe__err(-errno, "tap: TUNSETOFFLOAD %s "
					  "%#x: %s", p->ifname, flags,
					  strerror(errno));
	return 0;
}

/* Finds the largest offload set this kernel takes (USO is 6.2+, UFO
 * came and went), newest first, then leaves the tap with none until
 * set_cap() says what the frontend accepts. */
static int tap_probe_offloads(struct tap_priv *p)
{
	static const unsigned tries[] = {
		TAP_OFFLOAD_ALL,
		TAP_OFFLOAD_ALL & ~TAP_OFFLOAD_USO,
		TUN_F_CSUM | TAP_OFFLOAD_TSO,
		TUN_F_CSUM,
	};

	p->offload_ok = 0;
	if (!p->vnet)
		return 0;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (ioctl(p->q[0].fd, TUNSETOFFLOAD, tries[i]) == 0) {
			p->offload_ok = tries[i];
			break;
		}
	}
	return tap_set_offload(p, 0);
}

/* Everything after the fds exist: header, offloads, link settings. */
static int tap_configure(struct tap_priv *p, const struct netbe__opts *o)
{
	const char *bridge = netbe__opt_str(o, "bridge", NULL);
	int r;

	if ((r = tap_set_hdrsz(p, NETBE_VNET_HDR_LEN)) < 0 ||
	    (r = tap_probe_offloads(p)) < 0)
		return r;
	if (netbe__opt_isset(o, "sndbuf")) {
		int sb = (int)netbe__opt_uint(o, "sndbuf", 0);

		for (unsigned i = 0; i < p->nq; i++)
			if (ioctl(p->q[i].fd, TUNSETSNDBUF, &sb) < 0)
				return netbe__err(-errno, "tap: TUNSETSNDBUF "
						  "%s: %s", p->ifname,
						  strerror(errno));
	}
	if (o->mtu && (r = netbe__if_set_mtu("tap", p->ifname, o->mtu)) < 0)
		return r;
	if (bridge && (r = tap_add_to_bridge(p->ifname, bridge)) < 0)
		return r;
	if ((bridge || netbe__opt_bool(o, "up", false)) &&
	    (r = netbe__if_set_up("tap", p->ifname)) < 0)
		return r;
	return 0;
}

/* May a write to @fd be refused for a full send buffer?  Only below
 * the kernel's default (INT_MAX): sndbuf=, or a launcher's or a
 * persistent tap's earlier TUNSETSNDBUF. */
static bool tap_sndbuf_limited(int fd)
{
	int sb = INT_MAX;

	return ioctl(fd, TUNGETSNDBUF, &sb) < 0 || sb < INT_MAX;
}

/* uring=: two rings per queue.  Unset, a kernel or sandbox without
 * io_uring leaves the tap on one call per frame; uring=on insists. */
static int tap_rings(struct tap_priv *p, const struct netbe__opts *o)
{
	bool want = netbe__opt_bool(o, "uring", true);
	int r = 0;

	for (unsigned i = 0; want && i < p->nq && r == 0; i++) {
		struct tap_queue *q = &p->q[i];

		q->rx_want = 2;
		q->tx_link = tap_sndbuf_limited(q->fd);
		r = netbe__uring_open(&q->rx_ring, q->fd);
		if (r == 0)
			r = netbe__uring_open(&q->tx_ring, q->fd);
	}
	if (r == 0 || !netbe__opt_isset(o, "uring"))
		return 0;
	return netbe__err(r, "tap: uring=on: io_uring is not available "
			  "here (%s); use uring=off", strerror(-r));
}

/* Last, so a failed open never leaves a persistent interface behind. */
static int tap_persist(struct tap_priv *p, const struct netbe__opts *o)
{
	if (!netbe__opt_isset(o, "persist"))
		return 0;
	if (ioctl(p->q[0].fd, TUNSETPERSIST,
		  (unsigned long)netbe__opt_bool(o, "persist", false)) < 0)
		return netbe__err(-errno, "tap: TUNSETPERSIST %s: %s",
				  p->ifname, strerror(errno));
	return 0;
}

static void tap_release(struct tap_priv *p)
{
	for (unsigned i = 0; p->q && i < p->nq; i++) {
		if (p->q[i].fd >= 0 && !(i == 0 && p->fd_given))
			close(p->q[i].fd);
		free(p->q[i].bounce);
		netbe__uring_close(p->q[i].rx_ring);
		netbe__uring_close(p->q[i].tx_ring);
	}
	free(p->q);
	p->q = NULL;
}

static int tap_open(struct netbe__queue *bq, const struct netbe__opts *o,
		    struct netbe__opened *out)
{
	struct tap_priv *p = tap_priv(bq);
	int r;

	p->nq = (unsigned)netbe__opt_uint(o, "queues", 1);
	p->q = calloc(p->nq, sizeof(*p->q));
	if (!p->q)
		return netbe__err(-ENOMEM, "tap: out of memory");
	for (unsigned i = 0; i < p->nq; i++)
		p->q[i].fd = -1;
	r = netbe__opt_isset(o, "fd") ? tap_adopt(p, o) : tap_create(p, o);
	if (r < 0 || (r = tap_configure(p, o)) < 0 ||
	    (r = tap_rings(p, o)) < 0 || (r = tap_persist(p, o)) < 0)
		goto fail;
	out->nqueues = p->nq;
	for (unsigned i = 0; i < p->nq; i++)
		out->fd[i] = p->q[i].fd;
	out->hdr_len = p->vnet ? NETBE_VNET_HDR_LEN : 0;
	out->caps = tap_caps(p);
	p->fd_given = false; /* ours from now on */
	return 0;
fail:
	tap_release(p); /* a passed-in fd stays the launcher's */
	return r;
}

static void tap_close(struct netbe__queue *bq)
{
	tap_release(tap_priv(bq));
}

/*
 * The fd reported an error: a tap fd does so for good once its interface
 * is deleted (the kernel detaches the queue; TUNGETIFF then fails with
 * EBADFD).  Anything else is passing.
 */
static int tap_rx_error(struct netbe__queue *bq, int fd)
{
	struct tap_priv *p = tap_priv(bq);
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) == 0)
		return 0;
	netbe__q_log(bq, NETBE_LOG_ERR, "tap: interface %s is gone "
		     "(deleted?): %s", p->ifname, strerror(errno));
	return -ENODEV;
}

/* ---- data path ----------------------------------------------------------- */

static struct tap_queue *tap_q(struct netbe__queue *bq)
{
	return &tap_priv(bq)->q[bq->idx];
}

static ssize_t tap_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct tap_queue *q = tap_q(bq);
	size_t len = iovcnt > 1 ? netbe__iov_len(iov, iovcnt) : 0;
	ssize_t n;

	/* One sender per queue (the thread model), so q->linear is ours. */
	if (len && len <= sizeof(q->linear)) {
		uint8_t *p = q->linear;

		for (int i = 0; i < iovcnt; p += iov[i++].iov_len)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		n = write(q->fd, q->linear, len);
	} else if (iovcnt == 1) {
		n = write(q->fd, iov[0].iov_base, iov[0].iov_len);
	} else {
		n = writev(q->fd, iov, iovcnt);
	}
	return n < 0 ? -errno : n;
}

static ssize_t tap_peek_recvlen(struct netbe__queue *bq)
{
	struct tap_queue *q = tap_q(bq);
	ssize_t n;

	if (q->held)
		return (ssize_t)q->held;
	if (!q->bounce && !(q->bounce = malloc(TAP_BOUNCE_LEN)))
		return netbe__err(-ENOMEM, "tap: out of memory");
	n = read(q->fd, q->bounce, TAP_BOUNCE_LEN);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	q->held = (size_t)n;
	return n;
}

/* Hands over the frame peek_recvlen() read (the only copying path). */
static ssize_t tap_recv_held(struct tap_queue *q, const struct iovec *iov,
			     int iovcnt)
{
	size_t len = q->held;

	q->held = 0;
	if (len > netbe__iov_len(iov, iovcnt))
		return -ENOSPC;
	return (ssize_t)netbe__buf_to_iov(q->bounce, len, iov, iovcnt, 0);
}

/*
 * Reads straight into the caller's buffers.  A short read truncates and
 * consumes the frame without saying so, so when the buffer could be too
 * small we append a one-byte sentinel: if it gets written, the frame did
 * not fit and is reported as dropped (-ENOSPC).
 */
static ssize_t tap_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct tap_queue *q = tap_q(bq);
	struct iovec v[TAP_MAX_IOV + 1];
	size_t room;
	uint8_t sentinel;
	ssize_t n;

	if (q->held)
		return tap_recv_held(q, iov, iovcnt);
	room = netbe__iov_len(iov, iovcnt);
	if (room >= bq->hdr_len + NETBE_MAX_FRAME || iovcnt > TAP_MAX_IOV) {
		n = readv(q->fd, iov, iovcnt);
	} else {
		memcpy(v, iov, (size_t)iovcnt * sizeof(*iov));
		v[iovcnt].iov_base = &sentinel;
		v[iovcnt].iov_len = 1;
		n = readv(q->fd, v, iovcnt + 1);
	}
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return (size_t)n > room ? -ENOSPC : n;
}

/* ---- batches: one io_uring call for many frames ---------------------------- */

/* Without a ring (uring=off, or none here) the batch calls say
 * -EOPNOTSUPP and the core goes frame by frame. */

/* Slot @i reads into @m's buffers, behind which the sentinel goes when
 * they could be too small; false when @m has too many pieces for that. */
static bool tap_slot(struct netbe__queue *bq, struct tap_queue *q, int i,
		     const struct netbe_msg *m, uint8_t *sentinel)
{
	struct iovec *v = q->slot_iov[i];

	if (netbe__iov_len(m->iov, m->iovcnt) >= bq->hdr_len + NETBE_MAX_FRAME) {
		q->slot[i] = *m;
		return true;
	}
	if (m->iovcnt > TAP_SLOT_IOV)
		return false;
	memcpy(v, m->iov, (size_t)m->iovcnt * sizeof(*v));
	v[m->iovcnt] = (struct iovec){ sentinel, 1 };
	q->slot[i] = (struct netbe_msg){ v, m->iovcnt + 1, 0 };
	return true;
}

/*
 * Frame @i of a batch, read into msgs[i], becomes msgs[*got]: a read that
 * found the queue empty (a frame arrived just after it) leaves a hole the
 * later frames are copied down over, so the batch stays in order.
 */
static void tap_rx_take(struct netbe__queue *bq, struct netbe_msg *msgs,
			int i, size_t len, int *got, int *dropped)
{
	if (len > netbe__iov_len(msgs[i].iov, msgs[i].iovcnt) ||
	    (i != *got && !netbe__msg_move(&msgs[*got], &msgs[i], len))) {
		netbe__q_drop(bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
		(*dropped)++;
		return;
	}
	msgs[(*got)++].len = len;
}

/* The next batch reads twice as many as this one found, at least 2 (so
 * one waiting frame costs one call), at most a ring's worth. */
static void tap_rx_adapt(struct tap_queue *q, int got)
{
	q->rx_want = got * 2 < 2 ? 2 : got * 2;
	if (q->rx_want > NETBE__URING_BATCH)
		q->rx_want = NETBE__URING_BATCH;
}

static int tap_rx_collect(struct netbe__queue *bq, struct tap_queue *q,
			  struct netbe_msg *msgs, int n)
{
	int got = 0, dropped = 0, err = 0;

	for (int i = 0; i < n; i++) {
		int32_t r = q->res[0][i];

		if (r >= 0)
			tap_rx_take(bq, msgs, i, (size_t)r, &got, &dropped);
		else if (r != -EAGAIN && !err)
			err = r;
	}
	tap_rx_adapt(q, got + dropped);
	if (got)
		return got;
	return err ? err : dropped ? -ENOSPC : 0;
}

static int tap_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			  int n)
{
	struct tap_queue *q = tap_q(bq);
	static uint8_t sentinel; /* written only by oversized frames */
	int r;

	if (!q->rx_ring || q->held)
		return -EOPNOTSUPP; /* the core reads frame by frame */
	if (n > q->rx_want)
		n = q->rx_want;
	for (int i = 0; i < n; i++)
		if (!tap_slot(bq, q, i, &msgs[i], &sentinel))
			return -EOPNOTSUPP;
	r = netbe__uring_rw(q->rx_ring, NETBE__URING_READ, q->slot, n,
			    q->res[0]);
	return r < 0 ? r : tap_rx_collect(bq, q, msgs, n);
}

/* A refused frame inside an unlinked batch: len 0, counted here. */
static void tap_tx_refused(struct netbe__queue *bq, struct netbe_msg *m,
			   int32_t err)
{
	m->len = 0;
	netbe__q_drop(bq, NETBE_TX, netbe__drop_reason(err), 1);
}

/*
 * Linked (a limited send buffer): the frames written are a prefix, the
 * first refused one ends the batch.  Unlinked: a tap whose send buffer
 * is the kernel's unlimited default refuses a frame
 * only for good (the link down, a frame it rejects), so one refused in
 * the middle is dropped and counted while the rest go.  Either way the
 * error is returned only when no frame went.
 */
static int tap_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			  int n)
{
	struct tap_queue *q = tap_q(bq);
	int32_t *res = q->res[1];
	int r, i, sent = 0;

	if (!q->tx_ring)
		return -EOPNOTSUPP; /* the core writes frame by frame */
	if (n > NETBE__URING_BATCH)
		n = NETBE__URING_BATCH;
	r = netbe__uring_rw(q->tx_ring, q->tx_link ? NETBE__URING_WRITE_LINKED
						   : NETBE__URING_WRITE,
			    msgs, n, res);
	if (r < 0)
		return r;
	for (i = 0; i < n && (res[i] >= 0 || !q->tx_link); i++) {
		msgs[i].len = res[i] >= 0 ? (size_t)res[i] : 0;
		sent += res[i] >= 0;
	}
	if (!sent)
		return n ? res[0] : 0;
	for (int k = 0; k < i; k++)
		if (res[k] < 0)
			tap_tx_refused(bq, &msgs[k], res[k]);
	return i;
}

/* ---- features ------------------------------------------------------------ */

static uint64_t tap_caps(const struct tap_priv *p)
{
	unsigned ok = p->offload_ok;
	uint64_t cap;

	if (!p->vnet)
		return 0;
	/* Writes with a valid header are finished by the kernel. */
	cap = NETBE_F_CSUM | NETBE_F_HOST_TSO4 |
	      NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN |
	      NETBE_F_HOST_UFO;
	if (ok & TUN_F_USO4) /* the same kernels parse GSO_UDP_L4 writes */
		cap |= NETBE_F_HOST_USO;
	cap |= (ok & TUN_F_CSUM) ? NETBE_F_GUEST_CSUM : 0;
	cap |= (ok & TUN_F_TSO4) ? NETBE_F_GUEST_TSO4 : 0;
	cap |= (ok & TUN_F_TSO6) ? NETBE_F_GUEST_TSO6 : 0;
	cap |= (ok & TUN_F_TSO_ECN) ? NETBE_F_GUEST_ECN : 0;
	cap |= (ok & TUN_F_UFO) ? NETBE_F_GUEST_UFO : 0;
	cap |= (ok & TUN_F_USO4) ? NETBE_F_GUEST_USO4 : 0;
	cap |= (ok & TUN_F_USO6) ? NETBE_F_GUEST_USO6 : 0;
	return cap;
}

/*
 * GUEST_* bits to TUNSETOFFLOAD flags, reduced to what the kernel takes:
 * everything needs CSUM, ECN needs TSO, and Linux wants USO4 and USO6
 * together.  Dropping a flag only makes the kernel do the work.
 */
static unsigned tap_guest_to_tun(uint64_t f, unsigned ok)
{
	unsigned t = 0;

	if (!(f & NETBE_F_GUEST_CSUM))
		return 0;
	t |= TUN_F_CSUM;
	t |= (f & NETBE_F_GUEST_TSO4) ? TUN_F_TSO4 : 0;
	t |= (f & NETBE_F_GUEST_TSO6) ? TUN_F_TSO6 : 0;
	if ((f & NETBE_F_GUEST_ECN) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
		t |= TUN_F_TSO_ECN;
	t |= (f & NETBE_F_GUEST_UFO) ? TUN_F_UFO : 0;
	if ((f & NETBE_F_GUEST_USO4) && (f & NETBE_F_GUEST_USO6))
		t |= TAP_OFFLOAD_USO;
	return t & ok;
}

static int tap_set_cap(struct netbe__queue *bq, uint64_t features,
		       unsigned fe_hdr_len)
{
	struct tap_priv *p = tap_priv(bq);
	unsigned len, flags, old = bq->hdr_len;
	int r;

	if (!p->vnet)
		return features ? -ENOTSUP : 0;
	/* Same length on both sides spares the core a translation. */
	len = (fe_hdr_len == NETBE_VNET_HDR_LEN ||
	       fe_hdr_len == NETBE_VNET_HDR_MRG_LEN) ? fe_hdr_len
						     : NETBE_VNET_HDR_LEN;
	flags = tap_guest_to_tun(features, p->offload_ok);
	r = tap_set_hdrsz(p, (int)len);
	if (r == 0)
		r = tap_set_offload(p, flags);
	if (r < 0) {
		/* Nothing changed, as netbe_set_cap() promises (best effort:
		 * these only fail on a tap that is going away). */
		tap_set_offload(p, p->offload_cur);
		tap_set_hdrsz(p, (int)old);
		return r;
	}
	p->offload_cur = flags;
	return (int)len;
}

/* A full tap queue polls writable again when the kernel took frames. */
static int tap_tx_fd(struct netbe__queue *bq)
{
	return tap_q(bq)->fd;
}

static int tap_get_mtu(struct netbe__queue *bq)
{
	return netbe__if_mtu("tap", tap_priv(bq)->ifname);
}

#define TAP_OPS_BODY                                                         \
	.options = tap_options, .priv_size = sizeof(struct tap_priv),        \
	.open = tap_open, .close = tap_close, .send = tap_send,              \
	.peek_recvlen = tap_peek_recvlen, .recv = tap_recv,                  \
	.send_batch = tap_send_batch, .recv_batch = tap_recv_batch,          \
	.rx_error = tap_rx_error, .set_cap = tap_set_cap,                    \
	.tx_fd = tap_tx_fd,                                                  \
	.get_mtu = tap_get_mtu

const struct netbe__ops netbe__tap_ops = {
	.name = "tap",
	.prefixes = "tap",
	.description = "Linux TUN/TAP interface (/dev/net/tun)",
	TAP_OPS_BODY,
};

/* The seed registers the same backend under a second prefix. */
const struct netbe__ops netbe__vmnet_ops = {
	.name = "vmnet",
	.prefixes = "vmnet",
	.description = "alias of tap, as in bhyve",
	TAP_OPS_BODY,
};
