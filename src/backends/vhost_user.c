/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_user.c - the vhost-user backend: netbe is the device side of a
 * virtio-net device whose rings a VMM (QEMU -netdev vhost-user, Cloud
 * Hypervisor, crosvm, DPDK virtio-user) shares with us.
 *
 * Theory of operation
 *   "vhost-user,path=S" listens on unix socket S (0600) for one VMM at a
 *   time; "server=off" connects to a VMM that listens instead, retrying
 *   every reconnect= ms while there is none.  The control socket is
 *   served on the handle's loop: messages are read without blocking (a
 *   VMM that stalls mid-message stalls only itself), handed to
 *   src/vhost/proto.c, and the replies written back.  When the VMM goes
 *   (killed, closed, or it sent a header we cannot trust) every ring is
 *   stopped, every fd it gave closed and its memory unmapped; a server
 *   listens again, a client reconnects.  A refused request is logged and
 *   answered with a failure when the VMM asked for an acknowledgement;
 *   the connection stays.
 *
 *   Queues.  Queue pair i is rings 2i (the guest's receive ring: we
 *   write) and 2i+1 (its transmit ring: we read).  The core needs each
 *   queue's readiness fd at open, long before the VMM hands us kick
 *   eventfds, so each pair has a private epoll set into which the kick
 *   fd of ring 2i+1 is added when it arrives (and removed when it goes);
 *   an epoll fd polls readable while its set has events.  Readiness is
 *   level-triggered on the kick eventfd: a batch that took chains writes
 *   to the kick fd itself so the core comes back - once until the next
 *   drain, not a write(2) per batch; one that finds the ring empty keeps
 *   it readable and polled for VHU_GRACE_NS (50 us) before it drains
 *   the kick fd, re-enables notifications and looks once more
 *   (vring.c), so a kick cannot fall between.  Measured (bench/run-
 *   vhost-bench.sh, docs/benchmarks.md): a read(2) and a write(2) per
 *   batch were a fifth of netbe's samples, and a guest asked to kick
 *   pays a syscall per burst; a busy ring now costs neither side one.
 *   The guest's receive ring needs no kicks: when it is full send()
 *   says -EAGAIN and the core retries.
 *
 *   Data.  recv (transmit ring to netbe) copies each chain out behind a
 *   12-byte virtio-net header: the guest's own header (10 or 12 bytes in
 *   the ring, as VERSION_1/MRG_RXBUF say) with num_buffers zeroed, so
 *   its offloads travel on.  send (netbe to the receive ring) writes the
 *   guest's header and the frame into one chain, or several when
 *   MRG_RXBUF was negotiated (num_buffers says how many); a frame that
 *   does not fit the buffers at hand is not half-written: the ring is
 *   rewound and send says -EAGAIN.  Batches take the ring lock once,
 *   publish the used index once and raise at most one interrupt (the
 *   call eventfd, when the guest wants it).
 *
 *   Small frames are copied at the end of the batch.  A frame of up to
 *   VHU_COPY_SMALL bytes that fits one buffer gets its header at once
 *   and its bytes queued (at most VHU_COPY_MAX), and the queue is copied
 *   in one run before the used index is published - as DPDK's vhost
 *   library does (batch_copy).  Each of those copies stores into lines
 *   the guest last read on the other CPU; interleaved with the next
 *   chain's loads of lines the guest wrote, every frame waited out its
 *   own misses, back to back they overlap.  64-byte frames to testpmd
 *   rxonly, the host's slow vCPU placement: 9.8 -> 14.5 Mpps, DPDK's
 *   vhost PMD's rate (docs/benchmarks.md).  Not while the VMM logs
 *   (the log is marked after the bytes are written) and never across a
 *   call: the caller's buffers are only ours until it returns.
 *
 *   In order.  We use every ring's chains in the order the guest made
 *   them available (take and push always move forward; a rewind only
 *   gives back what was not published), so we offer VIRTIO_F_IN_ORDER.
 *   DPDK's virtio PMD then takes its in-order paths, which it otherwise
 *   keeps for devices that offer the bit (DPDK's own vhost library
 *   does), and on the transmit ring only a batch's last used entry is
 *   written (vring.c).  Measured with testpmd txonly as the guest
 *   (docs/benchmarks.md): 10.1 -> 14.6-15.0 Mpps, DPDK's vhost PMD's
 *   rate; before, the guest's standard path, not netbe, was the limit.
 *
 *   Offloads.  We offer the guest every checksum and segmentation
 *   offload.  What the guest sends with them (CSUM, HOST_TSO4/6 ...)
 *   reaches the core as it is: we report the GUEST_* capabilities, and
 *   the core's software engine completes or cuts frames for a frontend
 *   that did not accept them.  Towards the guest we report CSUM and the
 *   HOST_* capabilities too, so a 64 KiB TSO frame from a tap reaches a
 *   guest that accepts GUEST_TSO4 whole, in one chain or several
 *   (MRG_RXBUF).  What the guest accepts is known only after open and
 *   changes with each VMM, so send looks at each frame: what the guest
 *   did not negotiate is finished here by the same engine (offload.c),
 *   all segments of a frame into the ring or none.
 *
 *   Live migration.  While the VMM logs, send marks in the dirty log
 *   the bytes it wrote into each chain (vhu_log_iov, after the writes),
 *   vring.c the used ring; with logging off that is one untaken branch
 *   per frame.  After the move the guest must be announced from its new
 *   port.  We offer GUEST_ANNOUNCE, which the VMM serves itself on the
 *   control queue (it is not ours): the guest sends its own gratuitous
 *   ARP.  For a guest without it QEMU sends SEND_RARP instead, and
 *   queue 0's next receive is a RARP from the guest's MAC.  Either way
 *   a switch port learns at once that the guest is now here.
 *
 *   Threads and the VMM as an adversary: see src/vhost/proto.c (ring
 *   locks) and src/vhost/vring.c (what is checked).  A ring that breaks
 *   is logged once with the reason, counted as one "ring" drop on its
 *   direction, and signalled on the VMM's error fd; it stays stopped
 *   until the VMM sets it up again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "offload.h"
#include "util.h"
#include "sockaddr.h"
#include "vhost/proto.h"

#define VHU_IOV 256	     /* pieces of one chain we take */
#define VHU_HDR 12	     /* the header frames carry across the seam */
#define VHU_RECONNECT_MS 1000
#define VHU_GRACE_NS 50000   /* an empty transmit ring stays polled */
#define VHU_IDLE_NS 5000     /* an armed ring found empty: drained after */

#define VHU_OFFER_OFFL                                                       \
	(NETBE_F_CSUM | NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 |            \
	 NETBE_F_GUEST_TSO6 | NETBE_F_GUEST_ECN | NETBE_F_GUEST_UFO |        \
	 NETBE_F_HOST_TSO4 | NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN |          \
	 NETBE_F_HOST_UFO)
#define VHU_OFFER_BASE                                                       \
	(VHU_F_VERSION_1 | VHU_F_PROTOCOL_FEATURES | VHU_F_EVENT_IDX |       \
	 VHU_F_INDIRECT_DESC | VHU_F_IN_ORDER | NETBE_F_MRG_RXBUF |          \
	 VHU_F_LOG_ALL | VHU_F_GUEST_ANNOUNCE)
/* Offloads we carry: frames from the guest with its CSUM/HOST_* ones
 * (GUEST_* seen from the frontend), and frames to it needing checksums
 * or segmentation (finished here when the guest did not accept them). */
#define VHU_CAPS                                                             \
	(NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 | NETBE_F_GUEST_TSO6 |      \
	 NETBE_F_GUEST_ECN | NETBE_F_GUEST_UFO | NETBE_F_CSUM |              \
	 NETBE_F_HOST_TSO4 | NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN |          \
	 NETBE_F_HOST_UFO | NETBE_F_HOST_USO)
#define VHU_SEG_BATCH 64
#define VHU_COPY_MAX 32	     /* small frames' copies queued at once */
#define VHU_COPY_SMALL 256   /* bytes: at most this is queued */
#define VHU_SEG_IOV (VHU_IOV + 4 * VHU_SEG_BATCH + 8)

/* Software offloads towards a guest that did not accept them (send
 * thread; allocated on first use). */
struct vhu_soft {
	struct netbe__offl_frame frame;
	struct netbe__offl_out out;
	struct iovec in[VHU_IOV];
	struct netbe_msg msgs[VHU_SEG_BATCH];
	struct iovec iov[VHU_SEG_IOV];
	uint8_t arena[VHU_SEG_BATCH * (NETBE__OFFL_HDR_MAX + 16)];
};

struct vhu_pair {
	int ep;				/* readiness: kick of ring 2i+1 */
	bool poked;			/* we wrote ring 2i+1's kick fd and
					   have not drained it since */
	unsigned idle;			/* empty looks not drained */
	uint64_t idle_since;		/* ns: the first of them, 0: none */
	uint64_t dry_since;		/* ns: the ring was first found
					   empty, 0: it was not */
	struct iovec tiov[VHU_IOV];	/* recv's chain */
	struct iovec riov0[VHU_IOV];	/* send's first chain */
	struct iovec riov[VHU_IOV];	/* send's further chains */
	struct vhu_soft *soft;		/* send's software offloads */
	unsigned nsmall;		/* send's queued small copies */
	struct vhu_small {
		void *dst;
		const void *src;
		size_t len;
	} small[VHU_COPY_MAX];
};

struct vhu_priv {
	struct netbe__queue *bq;	/* queue 0: logs */
	netbe_loop_t *loop;
	struct netbe__sockaddr addr;
	struct netbe__unix_perms perms;
	bool server, unlink_path;
	unsigned reconnect_ms;
	int listen_fd, conn_fd;
	netbe_watch_t *listen_w, *conn_w, *timer;
	unsigned npairs;
	struct vhu_pair *pair;
	struct netbe__vh_dev *dev;
	/* SEND_RARP: the migrated guest's MAC, announced by queue 0's next
	 * receive while rarp is set. */
	uint8_t rarp_mac[6];
	int rarp;
	/* The message being read (loop thread only). */
	struct netbe__vh_msg msg;
	size_t have;
	int fds[VHU_MAX_FDS];
	unsigned nfds;
};

static const struct netbe_option vhu_options[] = {
	{ .key = "path", .type = NETBE_OPT_STRING,
	  .help = "the vhost-user unix socket (vhost-user:PATH also works)" },
	{ .key = "server", .type = NETBE_OPT_BOOL,
	  .help = "listen on path (default on); off: connect to a VMM that "
		  "listens" },
	{ .key = "queues", .type = NETBE_OPT_UINT,
	  .help = "queue pairs offered to the guest (default 1)",
	  .min = 1, .max = VHU_MAX_PAIRS },
	{ .key = "reconnect", .type = NETBE_OPT_UINT,
	  .help = "server=off: ms between connection attempts (default "
		  "1000)", .min = 1, .max = 3600000 },
	{ .key = "mode", .type = NETBE_OPT_STRING,
	  .help = "the socket file's mode, octal (default 600)" },
	{ .key = "group", .type = NETBE_OPT_STRING,
	  .help = "give the socket file to this group" },
	{ .key = NULL },
};

static void vhu_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- hooks from proto.c (loop thread, ring lock held) --------------------- */

static void vhu_hook_kick(void *arg, unsigned i, int old_fd, int new_fd)
{
	struct vhu_priv *p = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = p->pair[i / 2].ep;

	if (new_fd >= 0)
		(void)netbe__set_nonblock(new_fd); /* we drain it */
	if (!(i & 1))
		return; /* the receive ring's kicks are not watched */
	p->pair[i / 2].poked = false;
	if (old_fd >= 0)
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, old_fd, NULL);
	if (new_fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, new_fd, &ev) < 0)
		netbe__q_log(p->bq, NETBE_LOG_ERR, "vhost-user: ring %u: "
			     "cannot watch the kick fd: %s", i,
			     strerror(errno));
}

static void vhu_poke(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		(void)0; /* a full counter is readable anyway */
}

static void vhu_hook_wake(void *arg, unsigned i)
{
	struct vhu_priv *p = arg;

	if (i & 1) {
		vhu_poke(p->dev->vq[i].kick);
		p->pair[i / 2].poked = true;
	} else { /* we never wait for receive buffers: spare the guest
		    kicks, whatever state the VMM left the ring in */
		p->dev->vq[i].vr.notify = true;
		netbe__vring_notify_off(&p->dev->vq[i].vr);
	}
}

/* A migrated guest arrived: queue 0's next receive is a RARP from its
 * MAC (vhu_rarp_take), which teaches switches where it is now; the kick
 * poked so the core comes for it. */
static void vhu_hook_rarp(void *arg, const uint8_t mac[6])
{
	struct vhu_priv *p = arg;
	struct netbe__vh_vq *q = &p->dev->vq[1];

	netbe__q_log(p->bq, NETBE_LOG_INFO, "vhost-user: the guest migrated "
		     "here; announcing %02x:%02x:%02x:%02x:%02x:%02x",
		     mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	pthread_mutex_lock(&q->lock);
	memcpy(p->rarp_mac, mac, 6);
	__atomic_store_n(&p->rarp, 1, __ATOMIC_RELEASE);
	vhu_poke(q->kick);
	p->pair[0].poked = q->kick >= 0;
	pthread_mutex_unlock(&q->lock);
}

/* ---- the data path -------------------------------------------------------- */

/* Ring @q broke (its lock held): say why once, count it, tell the VMM. */
static void vhu_broken(struct vhu_priv *p, struct netbe__queue *bq,
		       struct netbe__vh_vq *q, unsigned ring)
{
	if (q->told)
		return;
	q->told = true;
	netbe__q_log(bq, NETBE_LOG_ERR, "vhost-user: ring %u stopped: %s",
		     ring, q->vr.why ? q->vr.why : "broken");
	netbe__q_drop(bq, (ring & 1) ? NETBE_RX : NETBE_TX, NETBE_DROP_RING,
		      1);
	vhu_poke(q->err);
	(void)p;
}

static void vhu_interrupt(struct netbe__vh_vq *q)
{
	if (netbe__vring_flush(&q->vr))
		vhu_poke(q->call);
}

/* Makes the transmit ring's readiness fd readable so the core comes
 * back for chains left; once until the next drain (the counter stays
 * non-zero until then), not a write per batch. */
static void vhu_self_kick(struct vhu_pair *pp, struct netbe__vh_vq *q)
{
	if (!pp->poked) {
		vhu_poke(q->kick);
		pp->poked = true;
	}
}

/* Has the ring been empty for the grace period (since the first empty
 * look after chains)? */
static bool vhu_dry(struct vhu_pair *pp)
{
	uint64_t now = netbe__now_ns();

	if (!pp->dry_since)
		pp->dry_since = now;
	return now - pp->dry_since >= VHU_GRACE_NS;
}

/* Armed, not poked, and found empty again: time to drain the kick fd?
 * Every 64th look, or VHU_IDLE_NS after the first: a guest that kicks
 * with nothing added (a spurious or hostile kick keeps the fd readable)
 * then costs us a few microseconds of looks per kick, not 64 loop turns
 * (each a trip through the loop); a caller that spins anyway reads the fd
 * at most every 5 us. */
static bool vhu_idle_drain(struct vhu_pair *pp)
{
	uint64_t now = netbe__now_ns();

	if (!pp->idle_since)
		pp->idle_since = now;
	return !(++pp->idle & 63) || now - pp->idle_since >= VHU_IDLE_NS;
}

/*
 * The transmit ring ran dry: drain the kick, re-enable notifications and
 * look again.  True when chains came in meanwhile.  When they are on
 * already and we did not poke the kick, a guest that kicked has made
 * chains available since (it kicks after adding them), so the look alone
 * tells, without the read(2) - a syscall, which traps to the hypervisor
 * on this machine - until vhu_idle_drain() says the kick was empty.
 */
static bool vhu_more(struct vhu_pair *pp, struct netbe__vh_vq *q)
{
	uint64_t v;

	if (!q->vr.notify && !vhu_dry(pp)) {
		if (netbe__vring_pending(&q->vr))
			return true;
		vhu_self_kick(pp, q); /* the core comes back */
		return false;
	}
	if (q->vr.notify && !pp->poked && !vhu_idle_drain(pp)) {
		if (!netbe__vring_pending(&q->vr))
			return false;
		pp->idle_since = 0;
		netbe__vring_notify_off(&q->vr);
		return true;
	}
	pp->idle = 0;
	pp->idle_since = 0;
	if (q->kick >= 0 && read(q->kick, &v, sizeof(v)) < 0)
		(void)0; /* EAGAIN: nothing to drain */
	pp->poked = false;
	return netbe__vring_notify_on(&q->vr);
}

struct vhu_copy {
	const struct iovec *src;
	int nsrc;
	size_t soff;
};

static void vhu_copy_piece(void *arg, void *dst, size_t n, size_t done)
{
	const struct vhu_copy *c = arg;

	netbe__iov_to_buf(c->src, c->nsrc, c->soff + done, dst, n);
}

/* Copies @len bytes of @src from @soff into @dst from @doff. */
static void vhu_iov_copy(const struct iovec *dst, int ndst, size_t doff,
			 const struct iovec *src, int nsrc, size_t soff,
			 size_t len)
{
	struct vhu_copy c = { src, nsrc, soff };

	netbe__iov_walk(dst, ndst, doff, len, vhu_copy_piece, &c);
}

/*
 * Copies chain @c (guest header, then the frame) into @m behind a
 * 12-byte header.  The frame length with header, or the drop reason as
 * -1 - reason.
 */
static ssize_t vhu_chain_out(unsigned gh, const struct netbe__vring_chain *c,
			     const struct iovec *ciov, struct netbe_msg *m)
{
	struct netbe_vnet_hdr h = { 0 };
	size_t flen;

	if (c->too_long || c->len < gh + 14)
		return -1 - NETBE_DROP_MALFORMED;
	flen = c->len - gh;
	if (flen > NETBE_MAX_FRAME)
		return -1 - NETBE_DROP_OVERSIZE;
	if (m->iovcnt == 1 && c->niov == 1) { /* the common case */
		uint8_t *dst = m->iov[0].iov_base;
		const uint8_t *src = ciov[0].iov_base;

		if (VHU_HDR + flen > m->iov[0].iov_len)
			return -1 - NETBE_DROP_NOROOM;
		memcpy(dst, src, NETBE_VNET_HDR_LEN);
		memset(dst + NETBE_VNET_HDR_LEN, 0, VHU_HDR - NETBE_VNET_HDR_LEN);
		memcpy(dst + VHU_HDR, src + gh, flen);
		return (ssize_t)(VHU_HDR + flen);
	}
	if (VHU_HDR + flen > netbe__iov_len(m->iov, m->iovcnt))
		return -1 - NETBE_DROP_NOROOM;
	netbe__iov_to_buf(ciov, c->niov, 0, &h, NETBE_VNET_HDR_LEN);
	h.num_buffers = 0;
	netbe__buf_to_iov(&h, VHU_HDR, m->iov, m->iovcnt, 0);
	vhu_iov_copy(m->iov, m->iovcnt, VHU_HDR, ciov, c->niov, gh, flen);
	return (ssize_t)(VHU_HDR + flen);
}

struct vhu_rx {
	int got;	/* frames delivered */
	int dropped;	/* chains consumed and dropped */
	int noroom;	/* of those, for lack of room */
};

/* Takes one chain from the transmit ring into @m.  1: a frame, 0: the
 * ring is empty, -1: a chain was consumed and dropped. */
static int vhu_rx_one(struct vhu_priv *p, struct netbe__queue *bq,
		      struct netbe__vh_vq *q, struct netbe_msg *m,
		      struct vhu_rx *st, bool report)
{
	struct vhu_pair *pp = &p->pair[bq->idx];
	struct netbe__vring_chain c;
	ssize_t r;
	int k;

	k = netbe__vring_peek(&q->vr, false, pp->tiov, VHU_IOV, &c);
	if (k < 0)
		vhu_broken(p, bq, q, 2 * bq->idx + 1);
	if (k <= 0)
		return 0;
	netbe__vring_take(&q->vr);
	r = vhu_chain_out(p->dev->guest_hdr, &c, pp->tiov, m);
	netbe__vring_push_read(&q->vr, c.head);
	if (r >= 0) {
		m->len = (size_t)r;
		return 1;
	}
	st->dropped++;
	if (-1 - r == NETBE_DROP_NOROOM) {
		st->noroom++;
		if (!report)
			return -1;
	}
	netbe__q_drop(bq, NETBE_RX, (int)(-1 - r), 1);
	return -1;
}

/*
 * Reads up to @n chains.  A batch turns the guest's kicks off while it
 * reads (one kick is enough for all of it); a single recv leaves them as
 * they are, so the kick that announced what is left still stands.  When
 * the limit stops us: chains left and no kick standing, we poke our own
 * kick so the core comes back; none left, the kicks go back on and we
 * look once more.  Without that last step a batch that took the last
 * chain left the kicks off and the guest's next frame waited forever
 * (seen with a QEMU guest: iperf3's last message stuck).
 */
static void vhu_rx_loop(struct vhu_priv *p, struct netbe__queue *bq,
			struct netbe__vh_vq *q, struct netbe_msg *msgs, int n,
			struct vhu_rx *st, bool report)
{
	bool standing = !report; /* a kick covers what is left */
	struct vhu_pair *pp = &p->pair[bq->idx];

	if (report && netbe__vring_pending(&q->vr))
		netbe__vring_notify_off(&q->vr);
	while (st->got < n) {
		int r = vhu_rx_one(p, bq, q, &msgs[st->got], st, report);

		if (r > 0) {
			st->got++;
		} else if (r == 0) {
			if (q->vr.broken)
				return;
			if (report && st->got + st->dropped)
				break; /* the core comes back for more */
			if (!vhu_more(pp, q))
				return;
			standing = false; /* drained, kicks off again */
		} else if (!report && st->noroom) {
			return; /* single recv: -ENOSPC is its answer */
		}
	}
	if (report) {
		pp->dry_since = 0;
		vhu_self_kick(pp, q);
	} else if (netbe__vring_pending(&q->vr) ? !standing
						 : vhu_more(pp, q)) {
		vhu_self_kick(pp, q);
	}
}

#define VHU_RARP_LEN (VHU_HDR + 60)

/* The RARP SEND_RARP asked for into @m (as QEMU's self-announce builds
 * it: broadcast, reverse request, sender and target our MAC, no IP),
 * behind a zero header; false when none is due or it does not fit. */
static bool vhu_rarp_take(struct vhu_priv *p, struct netbe__queue *bq,
			  struct netbe_msg *m)
{
	static const uint8_t arp[10] = { 0x80, 0x35, 0, 1, 0x08, 0, 6, 4, 0,
					 3 };
	uint8_t f[VHU_RARP_LEN] = { 0 }, *e = f + VHU_HDR;

	if (bq->idx || !__atomic_load_n(&p->rarp, __ATOMIC_ACQUIRE) ||
	    !__atomic_exchange_n(&p->rarp, 0, __ATOMIC_ACQ_REL))
		return false;
	if (netbe__iov_len(m->iov, m->iovcnt) < VHU_RARP_LEN) {
		netbe__q_drop(bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
		return false;
	}
	memset(e, 0xff, 6);
	memcpy(e + 6, p->rarp_mac, 6);
	memcpy(e + 12, arp, sizeof(arp));
	memcpy(e + 22, p->rarp_mac, 6);	/* sender hardware address */
	memcpy(e + 32, p->rarp_mac, 6);	/* target hardware address */
	m->len = netbe__buf_to_iov(f, sizeof(f), m->iov, m->iovcnt, 0);
	return true;
}

static int vhu_rx(struct netbe__queue *bq, struct netbe_msg *msgs, int n,
		  bool report, struct vhu_rx *st)
{
	struct vhu_priv *p = bq->priv;
	struct netbe__vh_vq *q = &p->dev->vq[2 * bq->idx + 1];

	memset(st, 0, sizeof(*st));
	if (n > 0 && vhu_rarp_take(p, bq, &msgs[0]))
		return st->got = 1; /* the poked kick brings the core back */
	pthread_mutex_lock(&q->lock);
	if (q->live && !q->vr.broken)
		vhu_rx_loop(p, bq, q, msgs, n, st, report);
	else if (q->live)
		vhu_broken(p, bq, q, 2 * bq->idx + 1);
	if (q->live)
		vhu_interrupt(q);
	pthread_mutex_unlock(&q->lock);
	return st->got;
}

static int vhu_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			  int n)
{
	struct vhu_rx st;
	int got = vhu_rx(bq, msgs, n, true, &st);

	return got == 0 && st.dropped ? -ENOSPC : got;
}

static ssize_t vhu_recv(struct netbe__queue *bq, const struct iovec *iov,
			int iovcnt)
{
	struct netbe_msg m = { (struct iovec *)(uintptr_t)iov, iovcnt, 0 };
	struct vhu_rx st;

	if (vhu_rx(bq, &m, 1, false, &st) == 1)
		return (ssize_t)m.len;
	return st.noroom ? -ENOSPC : 0; /* other drops are counted */
}

/* The next frame's length, without taking it; drops malformed chains. */
static ssize_t vhu_peek_recvlen(struct netbe__queue *bq)
{
	struct vhu_priv *p = bq->priv;
	struct netbe__vh_vq *q = &p->dev->vq[2 * bq->idx + 1];
	struct vhu_pair *pp = &p->pair[bq->idx];
	struct netbe__vring_chain c;
	unsigned gh = p->dev->guest_hdr;
	ssize_t len = 0;
	int k;

	if (!bq->idx && __atomic_load_n(&p->rarp, __ATOMIC_ACQUIRE))
		return VHU_RARP_LEN;
	pthread_mutex_lock(&q->lock);
	while (q->live && len == 0) {
		k = netbe__vring_peek(&q->vr, false, pp->tiov, VHU_IOV, &c);
		if (k < 0)
			vhu_broken(p, bq, q, 2 * bq->idx + 1);
		if (k <= 0 && (k < 0 || !vhu_more(pp, q)))
			break;
		if (k <= 0)
			continue;
		if (!c.too_long && c.len >= gh + 14 &&
		    c.len - gh <= NETBE_MAX_FRAME) {
			len = (ssize_t)(c.len - gh + VHU_HDR);
			break;
		}
		netbe__vring_take(&q->vr);
		netbe__vring_push_read(&q->vr, c.head);
		netbe__q_drop(bq, NETBE_RX, NETBE_DROP_MALFORMED, 1);
	}
	if (q->live)
		vhu_interrupt(q);
	pthread_mutex_unlock(&q->lock);
	return len;
}

/* ---- send: netbe to the guest's receive ring ------------------------------ */

struct vhu_tx {
	const struct iovec *iov; /* the frame with our 12-byte header */
	int iovcnt;
	uint8_t gh_bytes[VHU_HDR]; /* the guest's header */
	unsigned gh;
	size_t total;		   /* gh + frame bytes */
	size_t done;
};

/* Fills chain @ciov with the next bytes of the guest's view of the
 * frame; returns how many. */
static size_t vhu_tx_fill(struct vhu_tx *t, const struct iovec *ciov,
			  int n, size_t room)
{
	size_t want = t->total - t->done, put = 0, k;

	if (want > room)
		want = room;
	if (t->done < t->gh) {
		k = t->gh - t->done < want ? t->gh - t->done : want;
		netbe__buf_to_iov(t->gh_bytes + t->done, k, ciov, n, 0);
		put = k;
	}
	if (want > put)
		vhu_iov_copy(ciov, n, put, t->iov, t->iovcnt,
			     VHU_HDR + t->done + put - t->gh, want - put);
	t->done += want;
	return want;
}

/* Writes the guest's header (@gh bytes: the frame's 10, and num_buffers
 * 1 when there are 12) into @dst, storing only the words that differ.
 * Read from the frame itself, not from t->gh_bytes: those were just
 * stored in pieces, and a wide load of them cannot be forwarded but waits
 * for every older store - ours into the guest's lines - to drain (61% of
 * a 64-byte tx profile). */
static void vhu_hdr_put(uint8_t *dst, const uint8_t *src, unsigned gh)
{
	uint64_t a, da;
	uint32_t b, db;
	uint16_t c;

	memcpy(&a, src, 8);
	memcpy(&c, src + 8, 2);
	b = c | (gh == VHU_HDR ? 1u << 16 : 0); /* num_buffers, LE */
	memcpy(&da, dst, 8);
	memcpy(&db, dst + 8, 4);
	if (da != a)
		memcpy(dst, &a, 8);
	if (gh == VHU_HDR ? db != b : (uint16_t)db != c)
		memcpy(dst + 8, &b, gh - 8);
}

/* Marks the first @len bytes of chain @iov dirty while the VMM logs
 * (live migration: SET_LOG_BASE, LOG_ALL), after we wrote them. */
static void vhu_log_iov(const struct vhu_priv *p, const struct netbe__vh_vq *q,
			const struct iovec *iov, int n, size_t len)
{
	for (int i = 0; i < n && len; i++) {
		size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;

		netbe__vh_log_host(q->vr.log, &p->dev->mem, iov[i].iov_base, k);
		len -= k;
	}
}

/* Copies the small frames' bytes queued since the last run (see "Small
 * frames" above); before the used index is published. */
static void vhu_copy_run(struct vhu_pair *pp)
{
	for (unsigned i = 0; i < pp->nsmall; i++)
		memcpy(pp->small[i].dst, pp->small[i].src, pp->small[i].len);
	pp->nsmall = 0;
}

/* The common case: a frame in one piece into a chain of one buffer
 * that holds it (num_buffers 1).  The header line is left alone when it
 * already says what we would write - a recycled buffer mostly does (no
 * offload, one buffer): the guest read that line last time round and
 * still holds it, and a store would take it away only for the guest to
 * miss on it again (its rx path reads num_buffers first).  DPDK's vhost
 * library does the same (ASSIGN_UNLESS_EQUAL).  The guest may change
 * the line meanwhile: then it reads what it wrote into its own buffer. */
static void vhu_tx_flat(struct vhu_tx *t, const struct iovec *ciov,
			struct vhu_pair *pp, bool queue)
{
	const uint8_t *src = t->iov[0].iov_base;
	uint8_t *dst = ciov[0].iov_base;
	size_t len = t->total - t->gh;

	vhu_hdr_put(dst, src, t->gh);
	t->done = t->total;
	if (!queue || len > VHU_COPY_SMALL) {
		memcpy(dst + t->gh, src + VHU_HDR, len);
		return;
	}
	if (pp->nsmall == VHU_COPY_MAX)
		vhu_copy_run(pp);
	pp->small[pp->nsmall++] = (struct vhu_small){ dst + t->gh,
						     src + VHU_HDR, len };
}

/* Writes the frame into chains from the one peek found (@k, @c) on,
 * merging buffers when the guest allows; the bytes sent or -errno, with
 * the ring rewound when the frame did not fit. */
static ssize_t vhu_tx_chains(struct vhu_priv *p, struct netbe__queue *bq,
			     struct netbe__vh_vq *q, struct vhu_tx *t, int k,
			     struct netbe__vring_chain *c)
{
	struct vhu_pair *pp = &p->pair[bq->idx];
	bool mrg = p->dev->features & NETBE_F_MRG_RXBUF;
	uint16_t start = q->vr.last_avail, used = q->vr.used_idx, nbuf = 0;
	struct netbe__vring_chain first = { 0 };

	for (;;) {
		struct iovec *ciov = nbuf ? pp->riov : pp->riov0;
		size_t n;

		if (k < 0)
			vhu_broken(p, bq, q, 2 * bq->idx);
		if (k <= 0 || (!mrg && c->len < t->total)) {
			netbe__vring_rewind(&q->vr, start, used);
			return k < 0 ? -ENOTCONN : k == 0 ? -EAGAIN : -EMSGSIZE;
		}
		netbe__vring_take(&q->vr);
		n = vhu_tx_fill(t, ciov, c->niov, c->len);
		if (q->vr.log)
			vhu_log_iov(p, q, ciov, c->niov, n);
		netbe__vring_push(&q->vr, c->head, (uint32_t)n);
		if (!nbuf++)
			first = *c;
		if (t->done == t->total)
			break;
		k = netbe__vring_peek(&q->vr, true, pp->riov, VHU_IOV, c);
	}
	if (t->gh == VHU_HDR) {
		uint16_t nb = mrg ? nbuf : 1;

		netbe__buf_to_iov(&nb, 2, pp->riov0, first.niov, 10);
		if (q->vr.log)
			vhu_log_iov(p, q, pp->riov0, first.niov, VHU_HDR);
	}
	return (ssize_t)(t->total - t->gh + VHU_HDR);
}

/* Writes one frame into the receive ring; the common case (a frame in
 * one piece, a chain of one buffer that holds it) here, without reading
 * the ring's progress for a rewind: those two 16-bit fields were just
 * stored apart, and the compiler's one 32-bit load of them cannot be
 * forwarded (see vhu_tx_flat). */
static ssize_t vhu_tx_frame(struct vhu_priv *p, struct netbe__queue *bq,
			    struct netbe__vh_vq *q, struct vhu_tx *t)
{
	struct vhu_pair *pp = &p->pair[bq->idx];
	struct netbe__vring_chain c;
	int k = netbe__vring_peek(&q->vr, true, pp->riov0, VHU_IOV, &c);

	if (k > 0 && t->iovcnt == 1 && c.niov == 1 && c.len >= t->total) {
		vhu_tx_flat(t, pp->riov0, pp, !q->vr.log);
		if (q->vr.log)
			vhu_log_iov(p, q, pp->riov0, 1, t->total);
		netbe__vring_take(&q->vr);
		netbe__vring_push(&q->vr, c.head, (uint32_t)t->total);
		return (ssize_t)(t->total - t->gh + VHU_HDR);
	}
	return vhu_tx_chains(p, bq, q, t, k, &c);
}

/* The guest features frame header @h needs (its GUEST_* side). */
static uint64_t vhu_tx_needs(const struct netbe_vnet_hdr *h)
{
	uint64_t f = (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM)
			     ? NETBE_F_GUEST_CSUM : 0;

	if (h->gso_type & NETBE_VNET_HDR_GSO_ECN)
		f |= NETBE_F_GUEST_ECN;
	switch (h->gso_type & (uint8_t)~NETBE_VNET_HDR_GSO_ECN) {
	case NETBE_VNET_HDR_GSO_NONE:
		return f;
	case NETBE_VNET_HDR_GSO_TCPV4:
		return f | NETBE_F_GUEST_TSO4;
	case NETBE_VNET_HDR_GSO_TCPV6:
		return f | NETBE_F_GUEST_TSO6;
	case NETBE_VNET_HDR_GSO_UDP:
		return f | NETBE_F_GUEST_UFO;
	default: /* USO: never offered to the guest */
		return ~0ULL;
	}
}

/* Writes a frame whose header the guest accepts; @h is its header when
 * the caller read it already. */
static ssize_t vhu_tx_native(struct vhu_priv *p, struct netbe__queue *bq,
			     struct netbe__vh_vq *q, const struct iovec *iov,
			     int iovcnt, size_t len,
			     const struct netbe_vnet_hdr *h)
{
	struct vhu_tx t = { .iov = iov, .iovcnt = iovcnt };

	t.gh = p->dev->guest_hdr;
	if (h)
		memcpy(t.gh_bytes, h, NETBE_VNET_HDR_LEN);
	else
		netbe__iov_to_buf(iov, iovcnt, 0, t.gh_bytes,
				  NETBE_VNET_HDR_LEN);
	memset(t.gh_bytes + NETBE_VNET_HDR_LEN, 0, 2);
	t.total = len - VHU_HDR + t.gh;
	return vhu_tx_frame(p, bq, q, &t);
}

struct vhu_seg_ctx {
	struct vhu_priv *p;
	struct netbe__queue *bq;
	struct netbe__vh_vq *q;
	int err;
};

/* Puts segments the engine built into the ring; how many fit. */
static int vhu_seg_emit(void *arg, struct netbe_msg *msgs, int n)
{
	struct vhu_seg_ctx *c = arg;
	int i;

	for (i = 0; i < n; i++) {
		size_t len = netbe__iov_len(msgs[i].iov, msgs[i].iovcnt);
		ssize_t r = vhu_tx_native(c->p, c->bq, c->q, msgs[i].iov,
					  msgs[i].iovcnt, len, NULL);

		if (r < 0) {
			c->err = (int)r;
			break;
		}
	}
	vhu_copy_run(&c->p->pair[c->bq->idx]); /* the arena is reused */
	return i ? i : c->err;
}

/* Checksums or segments in software what the guest did not accept; all
 * segments or none go into the ring. */
static ssize_t vhu_tx_soft(struct vhu_priv *p, struct netbe__queue *bq,
			   struct netbe__vh_vq *q, const struct iovec *iov,
			   int iovcnt, size_t len,
			   const struct netbe_vnet_hdr *h)
{
	static const uint8_t zero[VHU_HDR];
	struct vhu_pair *pp = &p->pair[bq->idx];
	struct vhu_seg_ctx c = { p, bq, q, -EAGAIN };
	uint16_t start = q->vr.last_avail, used = q->vr.used_idx;
	struct vhu_soft *s = pp->soft;
	int n, r;

	if (!s && !(s = pp->soft = calloc(1, sizeof(*s))))
		return -ENOBUFS;
	n = netbe__iov_skip(iov, iovcnt, VHU_HDR, s->in, VHU_IOV);
	if (n < 0 || netbe__offl_parse(h, s->in, n, len - VHU_HDR, &s->frame))
		return -EINVAL;
	s->out = (struct netbe__offl_out){
		.pre = zero, .pre_len = VHU_HDR,
		.arena = s->arena, .arena_cap = sizeof(s->arena),
		.msgs = s->msgs, .msgs_cap = VHU_SEG_BATCH,
		.iov = s->iov, .iov_cap = VHU_SEG_IOV,
	};
	r = netbe__offl_emit(&s->frame, s->in, n, &s->out, vhu_seg_emit, &c);
	if (r >= 0 && (unsigned)r == s->frame.nsegs)
		return (ssize_t)len;
	netbe__vring_rewind(&q->vr, start, used);
	return r < 0 ? r : c.err;
}

static ssize_t vhu_tx_one(struct vhu_priv *p, struct netbe__queue *bq,
			  struct netbe__vh_vq *q, const struct iovec *iov,
			  int iovcnt)
{
	size_t len = netbe__iov_len(iov, iovcnt);
	struct netbe_vnet_hdr h;

	if (len < VHU_HDR + 14)
		return -EINVAL;
	netbe__iov_to_buf(iov, iovcnt, 0, &h, VHU_HDR);
	if (vhu_tx_needs(&h) & ~p->dev->features)
		return vhu_tx_soft(p, bq, q, iov, iovcnt, len, &h);
	return vhu_tx_native(p, bq, q, iov, iovcnt, len, &h);
}

static int vhu_tx(struct netbe__queue *bq, struct netbe_msg *msgs, int n,
		  int *err)
{
	struct vhu_priv *p = bq->priv;
	struct netbe__vh_vq *q = &p->dev->vq[2 * bq->idx];
	int i = 0;

	*err = -ENOTCONN;
	pthread_mutex_lock(&q->lock);
	for (; q->live && i < n; i++) {
		ssize_t r = vhu_tx_one(p, bq, q, msgs[i].iov, msgs[i].iovcnt);

		if (r == -EINVAL || r == -EMSGSIZE) {
			msgs[i].len = 0; /* refused inside the batch */
			netbe__q_drop(bq, NETBE_TX, netbe__drop_reason(r), 1);
			*err = (int)r;
			continue;
		}
		if (r < 0) {
			*err = (int)r;
			break;
		}
		msgs[i].len = (size_t)r;
	}
	vhu_copy_run(&p->pair[bq->idx]);
	if (q->live)
		vhu_interrupt(q);
	pthread_mutex_unlock(&q->lock);
	return i;
}

static int vhu_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			  int n)
{
	int err, k = vhu_tx(bq, msgs, n, &err);

	return k ? k : err;
}

static ssize_t vhu_send(struct netbe__queue *bq, const struct iovec *iov,
			int iovcnt)
{
	struct vhu_priv *p = bq->priv;
	struct netbe__vh_vq *q = &p->dev->vq[2 * bq->idx];
	ssize_t r = -ENOTCONN;

	pthread_mutex_lock(&q->lock);
	if (q->live) {
		r = vhu_tx_one(p, bq, q, iov, iovcnt);
		vhu_copy_run(&p->pair[bq->idx]);
		vhu_interrupt(q);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* ---- the control connection (loop thread) --------------------------------- */

static void vhu_conn_cb(int fd, int events, void *arg);
static void vhu_listen_cb(int fd, int events, void *arg);

static void vhu_msg_reset(struct vhu_priv *p)
{
	for (unsigned i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	p->nfds = 0;
	p->have = 0;
}

/* The VMM is gone: forget everything it gave us, wait for the next. */
static void vhu_disconnect(struct vhu_priv *p, const char *why)
{
	netbe__q_log(p->bq, NETBE_LOG_INFO, "vhost-user: VMM disconnected "
		     "(%s); waiting for the next", why);
	netbe_watch_del(p->conn_w);
	p->conn_w = NULL;
	vhu_close_fd(&p->conn_fd);
	vhu_msg_reset(p);
	netbe__vh_dev_reset(p->dev);
	if (p->server)
		netbe_watch_enable(p->listen_w);
	else
		netbe_timer_set(p->timer, p->reconnect_ms, 0);
}

static int vhu_attach(struct vhu_priv *p, int fd)
{
	int r = netbe_loop_add_fd(p->loop, fd, NETBE_EV_READ, 1, vhu_conn_cb,
				  p, &p->conn_w);

	if (r < 0) {
		close(fd);
		return r;
	}
	p->conn_fd = fd;
	netbe__q_log(p->bq, NETBE_LOG_INFO, "vhost-user: VMM connected on %s",
		     netbe__sockaddr_path(&p->addr));
	return 0;
}

/* Keeps the fds that came with a message (at most VHU_MAX_FDS). */
static void vhu_take_fds(struct vhu_priv *p, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *fd = (int *)(void *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			if (p->nfds < VHU_MAX_FDS)
				p->fds[p->nfds++] = fd[i];
			else
				close(fd[i]);
		}
	}
}

/* Reads what is there of the current message: 1 complete, 0 not yet,
 * -errno when the connection must end (*why says why). */
static int vhu_read(struct vhu_priv *p, const char **why)
{
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	size_t want = VHU_HDR_SIZE + (p->have >= VHU_HDR_SIZE ? p->msg.size : 0);
	struct iovec v = { (uint8_t *)&p->msg + p->have, want - p->have };
	struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(p->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		*why = n == 0 ? "closed" : strerror(errno);
		return -ECONNRESET;
	}
	vhu_take_fds(p, &mh);
	p->have += (size_t)n;
	if (p->have == VHU_HDR_SIZE &&
	    netbe__vh_parse_hdr((uint8_t *)&p->msg, &p->msg, why) < 0)
		return -EPROTO;
	return p->have >= VHU_HDR_SIZE && p->have == VHU_HDR_SIZE + p->msg.size;
}

static int vhu_reply(struct vhu_priv *p, const struct netbe__vh_msg *rep)
{
	size_t len = VHU_HDR_SIZE + rep->size;
	ssize_t n = send(p->conn_fd, rep, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n == (ssize_t)len ? 0 : -EIO;
}

/* Says which regions of a new memory table the VMM could still shrink
 * under us (mem.c: a SIGBUS here), once per table. */
static void vhu_mem_note(struct vhu_priv *p)
{
	const struct netbe__vh_mem *m = &p->dev->mem;

	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].shrinkable)
			netbe__q_log(p->bq, NETBE_LOG_INFO, "vhost-user: memory "
				     "region %u (%llu MiB) is not a sealable "
				     "memfd: if the VMM shrank its file, this "
				     "process would fault", i,
				     (unsigned long long)(m->r[i].size >> 20));
}

/* Handles the message read; -errno when the connection must end. */
static int vhu_serve(struct vhu_priv *p)
{
	struct netbe__vh_msg rep;
	const char *why = NULL;
	unsigned nfds = p->nfds;
	int r;

	p->nfds = 0; /* handed over */
	r = netbe__vh_handle(p->dev, &p->msg, p->fds, nfds, &rep, &why);
	if (why)
		netbe__q_log(p->bq, NETBE_LOG_WARN, "vhost-user: %s (request "
			     "%u) refused: %s", netbe__vh_req_name(p->msg.request),
			     p->msg.request, why);
	else
		netbe__q_log(p->bq, NETBE_LOG_DEBUG, "vhost-user: %s",
			     netbe__vh_req_name(p->msg.request));
	if (!why && p->msg.request == VHU_SET_MEM_TABLE)
		vhu_mem_note(p);
	if (!why && p->msg.request == VHU_SET_LOG_BASE &&
	    p->dev->log.shrinkable)
		netbe__q_log(p->bq, NETBE_LOG_INFO, "vhost-user: the dirty "
			     "log is not a sealable memfd: if the VMM shrank "
			     "its file, this process would fault");
	p->have = 0;
	return r == 1 ? vhu_reply(p, &rep) : 0;
}

static void vhu_conn_cb(int fd, int events, void *arg)
{
	struct vhu_priv *p = arg;
	const char *why = "reply not written";
	int r;

	(void)fd, (void)events;
	for (int i = 0; i < 64; i++) { /* then let others run */
		r = vhu_read(p, &why);
		if (r == 1)
			r = vhu_serve(p);
		else if (r == 0)
			return;
		if (r < 0) {
			vhu_disconnect(p, why);
			return;
		}
	}
}

static void vhu_listen_cb(int fd, int events, void *arg)
{
	struct vhu_priv *p = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (c < 0)
		return;
	if (vhu_attach(p, c) == 0)
		netbe_watch_disable(p->listen_w);
}

static int vhu_try_connect(struct vhu_priv *p)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&p->addr.ss, p->addr.len) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (netbe__set_nonblock(fd) < 0) {
		close(fd);
		return -EIO;
	}
	return vhu_attach(p, fd);
}

static void vhu_timer_cb(int fd, int events, void *arg)
{
	struct vhu_priv *p = arg;

	(void)fd, (void)events;
	if (p->conn_fd < 0 && vhu_try_connect(p) < 0)
		netbe_timer_set(p->timer, p->reconnect_ms, 0);
}

/* ---- open and close --------------------------------------------------------- */

static void vhu_release(struct vhu_priv *p)
{
	netbe_watch_del(p->listen_w);
	netbe_watch_del(p->conn_w);
	netbe_watch_del(p->timer);
	p->listen_w = p->conn_w = p->timer = NULL;
	vhu_close_fd(&p->conn_fd);
	vhu_msg_reset(p);
	if (p->dev) {
		netbe__vh_dev_fini(p->dev);
		free(p->dev);
		p->dev = NULL;
	}
	vhu_close_fd(&p->listen_fd);
	if (p->unlink_path)
		unlink(netbe__sockaddr_path(&p->addr));
	for (unsigned i = 0; p->pair && i < p->npairs; i++) {
		vhu_close_fd(&p->pair[i].ep);
		free(p->pair[i].soft);
	}
	free(p->pair);
	p->pair = NULL;
}

static int vhu_parse(struct vhu_priv *p, const struct netbe__opts *o)
{
	const char *path = netbe__opt_target(o, "path");
	char spec[160];
	int r;

	if (!*path)
		return netbe__err(-EINVAL, "vhost-user: no socket given; use "
				  "vhost-user,path=/run/vm1.sock");
	if (snprintf(spec, sizeof(spec), "unix:%s", path) >= (int)sizeof(spec))
		return netbe__err(-EINVAL, "vhost-user: path '%s' is too "
				  "long", path);
	r = netbe__sockaddr_parse(spec, NETBE__SA_UNIX, "vhost-user: path",
				  &p->addr);
	if (r == 0)
		r = netbe__unix_perms_parse(netbe__opt_str(o, "mode", NULL),
					    netbe__opt_str(o, "group", NULL),
					    "vhost-user", &p->perms);
	p->server = netbe__opt_bool(o, "server", true);
	p->reconnect_ms = (unsigned)netbe__opt_uint(o, "reconnect",
						    VHU_RECONNECT_MS);
	p->npairs = (unsigned)netbe__opt_uint(o, "queues", 1);
	return r;
}

static int vhu_alloc(struct vhu_priv *p)
{
	const struct netbe__vh_hooks hooks = {
		.kick = vhu_hook_kick, .wake = vhu_hook_wake,
		.rarp = vhu_hook_rarp, .arg = p,
	};
	uint64_t offer = VHU_OFFER_BASE | VHU_OFFER_OFFL |
			 (p->npairs > 1 ? NETBE_F_MQ : 0);

	p->pair = calloc(p->npairs, sizeof(*p->pair));
	p->dev = calloc(1, sizeof(*p->dev));
	if (!p->pair || !p->dev)
		return netbe__err(-ENOMEM, "vhost-user: out of memory");
	for (unsigned i = 0; i < p->npairs; i++)
		p->pair[i].ep = -1;
	for (unsigned i = 0; i < p->npairs; i++) {
		p->pair[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (p->pair[i].ep < 0)
			return netbe__err(-errno, "vhost-user: epoll_create1: "
					  "%s", strerror(errno));
	}
	return netbe__vh_dev_init(p->dev, p->npairs, offer, &hooks);
}

static int vhu_listen(struct vhu_priv *p)
{
	const char *who = "vhost-user: listen";
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return netbe__err(-errno, "%s: socket: %s", who,
				  strerror(errno));
	p->listen_fd = fd;
	r = netbe__sockaddr_bind_unix_perms(fd, &p->addr, &p->perms, who);
	if (r < 0)
		return r;
	p->unlink_path = true;
	if (listen(fd, 1) < 0)
		return netbe__err(-errno, "%s %s: %s", who, p->addr.text,
				  strerror(errno));
	r = netbe_loop_add_fd(p->loop, fd, NETBE_EV_READ, 1, vhu_listen_cb, p,
			      &p->listen_w);
	return r < 0 ? netbe__err(r, "%s: loop: %s", who, strerror(-r)) : 0;
}

static int vhu_connect_start(struct vhu_priv *p)
{
	int r = netbe_loop_add_timer(p->loop, 1, 0, vhu_timer_cb, p,
				     &p->timer);

	return r < 0 ? netbe__err(r, "vhost-user: timer: %s", strerror(-r))
		     : 0;
}

static int vhu_open(struct netbe__queue *bq, const struct netbe__opts *o,
		    struct netbe__opened *out)
{
	struct vhu_priv *p = bq->priv;
	int r;

	p->bq = bq;
	p->loop = o->loop;
	p->listen_fd = p->conn_fd = -1;
	r = vhu_parse(p, o);
	if (r == 0)
		r = vhu_alloc(p);
	if (r == 0)
		r = p->server ? vhu_listen(p) : vhu_connect_start(p);
	if (r < 0) {
		vhu_release(p);
		return r;
	}
	out->nqueues = p->npairs;
	for (unsigned i = 0; i < p->npairs; i++)
		out->fd[i] = p->pair[i].ep;
	out->hdr_len = VHU_HDR;
	out->caps = VHU_CAPS;
	return 0;
}

static void vhu_close(struct netbe__queue *bq)
{
	vhu_release(bq->priv);
}

/* Frames cross with our 12-byte header whatever the frontend uses. */
static int vhu_set_cap(struct netbe__queue *bq, uint64_t features,
		       unsigned fe_hdr_len)
{
	(void)bq, (void)features, (void)fe_hdr_len;
	return VHU_HDR;
}

const struct netbe__ops netbe__vhost_user_ops = {
	.name = "vhost-user",
	.prefixes = "vhost-user",
	.description = "vhost-user device: a VMM (QEMU, Cloud Hypervisor, "
		       "DPDK virtio-user) shares its virtio-net rings",
	.options = vhu_options,
	.priv_size = sizeof(struct vhu_priv),
	.open = vhu_open,
	.close = vhu_close,
	.send = vhu_send,
	.peek_recvlen = vhu_peek_recvlen,
	.recv = vhu_recv,
	.send_batch = vhu_send_batch,
	.recv_batch = vhu_recv_batch,
	.set_cap = vhu_set_cap,
};
