/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * packet.c - a raw Linux interface through AF_PACKET ("packet"), and the
 * same backend under the seed's illumos name and keys ("dlpi,vnic=veth0").
 *
 * Theory of operation
 *   Each queue is one AF_PACKET SOCK_RAW socket bound to the interface
 *   with ETH_P_ALL.  What arrives on the interface lands in a receive ring
 *   the socket shares with us (PACKET_RX_RING, mmap); we copy each frame
 *   from the ring into the caller's buffers - the one copy that cannot be
 *   avoided - and hand the slot back.  Sending is sendmsg/sendmmsg on the
 *   same socket with PACKET_QDISC_BYPASS; sending from the socket that
 *   receives also keeps our own frames out of our receive ring (the kernel
 *   never loops a frame back to the socket that sent it).
 *
 *   Rings.  TPACKET_V2 has one fixed slot per frame and wakes the reader
 *   per frame; TPACKET_V3 packs frames into large blocks that reach us only
 *   when a block fills or its timer (tp_retire_blk_tov, >= 1 ms, a jiffy or
 *   more in practice) expires.  Measured on a veth pair in a netns, 2 cores,
 *   kernel 6.18 (numbers in PK_RING_NOTES below): V3 doubles the rate of
 *   a small-frame flood but adds a millisecond to every lone frame, so
 *   V2 is the default and "ring=v3" is there for bulk traffic.  A V2
 *   slot holds an MTU-sized frame (when the MTU grows, the receive thread
 *   rebuilds the ring: "a ring that outgrew its MTU" below); a V3 block
 *   holds a 64 KiB GSO frame, so only V3 offers the GUEST_TSO* features.
 *
 *   Transmit: a V2 TX ring was measured against sendmmsg with 64-byte
 *   frames on a veth (see PK_RING_NOTES) and did not win, and it cannot
 *   carry frames larger than its slots next to small ones: sendmmsg.
 *
 *   Offloads.  With PACKET_VNET_HDR (default on) every frame in the ring
 *   has a 10-byte virtio-net header right before its Ethernet header
 *   (tp_mac - 10), and every frame we send starts with one: the kernel
 *   segments and checksums what we send, and tells us when a received
 *   frame is GSO or only partially checksummed - which happens on veth
 *   and on any interface that sees the host's own TSO traffic.  The
 *   header the frontend negotiated (10 or 12 bytes) is translated here,
 *   while copying, so batches need no help from the core; a frontend
 *   without one gets our 10 bytes and the core strips them.  We cannot
 *   stop the kernel from handing us offloaded frames, so we report every
 *   GUEST_* feature the ring can carry and deliver such frames with their
 *   header: the core (vnet.c) completes checksums and segments GSO frames
 *   for a frontend that did not take them.  A GSO frame the ring cannot
 *   carry whole (V2) or of a type we do not report is dropped, counted
 *   and logged.  VLAN tags the kernel took out of a received frame are
 *   put back in.
 *
 *   The seed's dlpi options map as follows: promiscrxonly ->
 *   PACKET_IGNORE_OUTGOING; promiscphys -> PACKET_MR_PROMISC, and without
 *   it a socket filter drops frames for other hosts (PACKET_OTHERHOST,
 *   which a veth or a software bridge port delivers even when not
 *   promiscuous); promiscsap off -> a socket filter that keeps only IPv4,
 *   ARP and IPv6; promiscmulti -> PACKET_MR_ALLMULTI.
 *
 *   Queues: "queues=N" opens N sockets, each with its own ring, joined in
 *   one PACKET_FANOUT_HASH group whose id the kernel picks (UNIQUEID), so
 *   each flow sticks to one queue.
 *
 *   Losses before us.  When the ring is full the kernel drops what
 *   arrives and counts it (PACKET_STATISTICS, reset by each read).  We
 *   read that count only when it can have grown, so the common path pays
 *   no syscall: when a frame or block carries TP_STATUS_LOSING (the
 *   kernel marks what it writes while drops are pending), and when the
 *   ring turns empty after a whole ring's worth was drained without a
 *   break (it was full; no later frame may come to carry the mark).  The
 *   count becomes "ring" drops of the queue.
 *
 *   The link.  When a running interface goes down the kernel sets
 *   ENETDOWN on the socket (EPOLLERR): rx_error reads it, logs it, and
 *   receiving resumes by itself once the link is up.  When it is deleted,
 *   the socket can never receive again; the socket says so only if the
 *   link was up, so the interface watch (util.h) tells us in every case:
 *   the log says the interface is gone and the queue is hung up.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "util.h"

/*
 * PK_RING_NOTES - measured with tests/packet/packet_perf.c (meson test
 * --benchmark --suite packet) on a veth pair in a netns, 2 shared cores,
 * AMD EPYC, kernel 6.18, 64-byte frames, 10-byte header, all offloads:
 *   latency   ping-pong RTT through two backends: V2 median 4.9 us (p99
 *             7.1 us); V3 median 1000 us (p99 1325 us) - the 1 ms block
 *             timer, paid by every lone frame.
 *   receive   a flood from vA drained on vB with recv_batch: V2 0.13 Mpps
 *             (93% of what was sent), V3 0.27 Mpps (100%); the sender
 *             shares the two cores, so these are lower bounds.
 *   transmit  raw sendmmsg + QDISC_BYPASS 0.42-0.76 Mpps, raw TPACKET_V2
 *             TX ring 0.43-0.70 Mpps (interleaved runs; the machine was
 *             shared), our send_batch 0.31-0.58 Mpps.  The TX ring does
 *             not win, needs a copy into fixed slots and cannot carry a
 *             64 KiB GSO frame next to small ones: sendmmsg it is.
 * V2 is the default: a VM's traffic is mostly request/response, and 1 ms
 * per packet is what a guest notices; ring=v3 doubles small-frame
 * receive rates and is the ring that takes 64 KiB GSO frames.
 */

#define PK_MAX_QUEUES 64
#define PK_VNET_LEN NETBE_VNET_HDR_LEN /* what PACKET_VNET_HDR puts in */
#define PK_TX_BATCH 64		       /* frames per sendmmsg */
#define PK_TX_IOV 64		       /* iovec entries per translated frame */
#define PK_V2_BLOCK (64u << 10)
#define PK_V2_FRAMES 1024u
#define PK_V2_RING_MAX (4u << 20)
#define PK_V2_FRAME_ROOM 128u /* tpacket2 header, sockaddr_ll, vnet */
#define PK_V3_BLOCK (256u << 10) /* holds a 64 KiB GSO frame */
#define PK_V3_BLOCKS 8u
#define PK_V3_TOV_MS 1u
#define PK_BOUNCE_LEN (PK_VNET_LEN + NETBE_MAX_FRAME)
#define PK_GUEST_GSO                                                         \
	(NETBE_F_GUEST_TSO4 | NETBE_F_GUEST_TSO6 |                 \
	 NETBE_F_GUEST_ECN | NETBE_F_GUEST_UFO)

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* One received frame, as it lies in the ring. */
struct pk_frame {
	uint8_t *data;		   /* Ethernet header (tag taken out) */
	uint32_t len;		   /* bytes at data */
	struct netbe_vnet_hdr *vh; /* in the ring before data; NULL: none */
	bool tagged;		   /* the kernel took a VLAN tag out */
	uint8_t tag[4];		   /* that tag, TPID then TCI */
};

struct pk_queue {
	int fd;
	uint8_t *ring;
	size_t ring_len;
	unsigned slot_size, nslots, cur; /* V2 frames or V3 blocks */
	unsigned block_size, per_block;	 /* V2 frames never span blocks */
	unsigned ring_mtu;		 /* the MTU V2 slots were sized for */
	unsigned grow_to;		 /* non-zero: rebuild for this MTU once
					    the ring is empty */
	unsigned no_grow;		 /* an MTU a rebuild failed for */
	uint8_t *pkt;			 /* V3: next frame in block cur */
	uint32_t left;			 /* V3: frames left in block cur */
	uint64_t drops;		 /* our own drops, for the log back-off */
	unsigned run;		 /* slots drained since the ring was empty */
	uint64_t full;		 /* times the kernel dropped, for the log */
	uint64_t nobufs;	 /* sends refused with ENOBUFS, for the log */
	bool losing;		 /* the kernel marked a slot TP_STATUS_LOSING */
	struct mmsghdr *mm;		 /* PK_TX_BATCH of each, for */
	struct iovec *tiov;		 /* translated send batches */
	struct netbe_vnet_hdr *thdr;
	uint8_t *bounce; /* a frame with too many iovecs, linearized */
};

struct pk_priv {
	const char *name; /* the ops name, for messages */
	char ifname[IFNAMSIZ];
	int ifindex;
	unsigned mtu;	  /* frames above mtu + 14 (+4 tagged) are refused */
	unsigned mtu_cfg; /* the "mtu" key: a lower limit of our own */
	bool vnet;	  /* PACKET_VNET_HDR is on */
	bool v3;
	bool gso_rx;	  /* ring slots hold a 64 KiB frame */
	unsigned nq;
	struct pk_queue *q;
	struct netbe__ifwatch iw; /* tells us the interface is gone */
};

#define PK_COMMON_OPTIONS                                                    \
	{ .key = "promiscrxonly", .type = NETBE_OPT_BOOL,                    \
	  .help = "receive only incoming frames, not what the host sends "   \
		  "(default on)" },                                          \
	{ .key = "promiscphys", .type = NETBE_OPT_BOOL,                      \
	  .help = "receive frames for other MAC addresses (default off)" },  \
	{ .key = "promiscsap", .type = NETBE_OPT_BOOL,                       \
	  .help = "receive every ethertype, not only IPv4/ARP/IPv6 "         \
		  "(default on)" },                                          \
	{ .key = "promiscmulti", .type = NETBE_OPT_BOOL,                     \
	  .help = "receive all multicast (default on)" },                    \
	{ .key = "queues", .type = NETBE_OPT_UINT,                           \
	  .help = "queue pairs, one socket each (PACKET_FANOUT_HASH)",       \
	  .min = 1, .max = PK_MAX_QUEUES },                                  \
	{ .key = "ring", .type = NETBE_OPT_STRING,                           \
	  .help = "receive ring: v2 (low latency, default) or v3 (blocks)" },\
	{ .key = "vnet_hdr", .type = NETBE_OPT_BOOL,                         \
	  .help = "PACKET_VNET_HDR: offloads and partial checksums "         \
		  "(default on)" },                                          \
	{ .key = "qdisc_bypass", .type = NETBE_OPT_BOOL,                     \
	  .help = "send past the interface's qdisc (default on)" },          \
	{ .key = NULL }

static const struct netbe_option packet_options[] = {
	{ .key = "ifname", .type = NETBE_OPT_STRING,
	  .help = "the interface to attach to (required)" },
	PK_COMMON_OPTIONS,
};

static const struct netbe_option dlpi_options[] = {
	{ .key = "vnic", .type = NETBE_OPT_STRING,
	  .help = "the interface to attach to (the seed's key)" },
	{ .key = "ifname", .type = NETBE_OPT_STRING,
	  .help = "the same as vnic" },
	PK_COMMON_OPTIONS,
};

static uint64_t pk_caps(const struct pk_priv *p);

static struct pk_priv *pk_priv(struct netbe__queue *bq)
{
	return bq->priv;
}

static struct pk_queue *pk_q(struct netbe__queue *bq)
{
	return &pk_priv(bq)->q[bq->idx];
}

/*
 * We translate header lengths while copying, so we take the frontend's
 * (batches stay native), except that a frontend without one still gets
 * our 10 bytes: the core strips them after finishing what it did not
 * negotiate.
 */
static unsigned pk_hdr_len(const struct pk_priv *p, unsigned fe_hdr_len)
{
	return p->vnet && !fe_hdr_len ? PK_VNET_LEN : fe_hdr_len;
}

/* ---- the interface ------------------------------------------------------- */

static int pk_read_mtu(struct pk_priv *p)
{
	int mtu = netbe__if_mtu(p->name, p->ifname);

	if (mtu < 0)
		return mtu;
	if (p->mtu_cfg && p->mtu_cfg < (unsigned)mtu)
		mtu = (int)p->mtu_cfg;
	__atomic_store_n(&p->mtu, (unsigned)mtu, __ATOMIC_RELAXED);
	return mtu;
}

/* ifname, or the seed's vnic (a bare illumos token sets it). */
static int pk_find_if(struct pk_priv *p, const struct netbe__opts *o)
{
	const char *name = netbe__opt_str(o, "ifname", NULL);

	if (!name)
		name = netbe__opt_str(o, "vnic", NULL);
	if (!name || !*name)
		return netbe__err(-EINVAL, "%s: no interface given (%s=NAME)",
				  p->name, strcmp(p->name, "dlpi") ? "ifname"
								   : "vnic");
	if (strlen(name) >= IFNAMSIZ)
		return netbe__err(-EINVAL, "%s: interface name '%s' is longer "
				  "than %d characters", p->name, name,
				  IFNAMSIZ - 1);
	snprintf(p->ifname, sizeof(p->ifname), "%s", name);
	p->ifindex = (int)if_nametoindex(name);
	if (p->ifindex == 0)
		return netbe__err(-errno, "%s: %s: %s", p->name, name,
				  strerror(errno));
	return 0;
}

/* ---- one socket ---------------------------------------------------------- */

static int pk_setopt(struct pk_priv *p, int fd, int opt, const void *v,
		     socklen_t len, const char *what)
{
	if (setsockopt(fd, SOL_PACKET, opt, v, len) == 0)
		return 0;
	return netbe__err(-errno, "%s: %s on %s: %s", p->name, what,
			  p->ifname, strerror(errno));
}

static int pk_setint(struct pk_priv *p, int fd, int opt, int v,
		     const char *what)
{
	return pk_setopt(p, fd, opt, &v, sizeof(v), what);
}

static int pk_socket(struct pk_priv *p, int *out)
{
	/* Protocol 0: nothing is queued before the ring and filter exist. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 && (errno == EPERM || errno == EACCES))
		return netbe__err(-errno, "%s: socket(AF_PACKET) for %s: %s "
				  "(needs CAP_NET_RAW)", p->name, p->ifname,
				  strerror(errno));
	if (fd < 0)
		return netbe__err(-errno, "%s: socket(AF_PACKET) for %s: %s",
				  p->name, p->ifname, strerror(errno));
	*out = fd;
	return 0;
}

/* Slot geometry: V2 one frame of @mtu per slot, V3 blocks that hold a
 * 64 KiB GSO frame. */
static void pk_ring_req(const struct pk_priv *p, unsigned mtu,
			struct tpacket_req3 *rq)
{
	unsigned frame, per_block;

	memset(rq, 0, sizeof(*rq));
	if (p->v3) {
		rq->tp_block_size = PK_V3_BLOCK;
		rq->tp_block_nr = PK_V3_BLOCKS;
		rq->tp_frame_size = TPACKET_ALIGNMENT << 7;
		rq->tp_frame_nr = PK_V3_BLOCK / rq->tp_frame_size *
				  PK_V3_BLOCKS;
		rq->tp_retire_blk_tov = PK_V3_TOV_MS;
		return;
	}
	frame = TPACKET_ALIGN(PK_V2_FRAME_ROOM + mtu + 18);
	rq->tp_block_size = PK_V2_BLOCK;
	while (rq->tp_block_size < frame)
		rq->tp_block_size <<= 1;
	per_block = rq->tp_block_size / frame;
	rq->tp_frame_size = frame;
	rq->tp_block_nr = (PK_V2_FRAMES + per_block - 1) / per_block;
	/* A 64 KiB MTU (lo) would want 128 MiB: fewer, big slots instead. */
	if ((size_t)rq->tp_block_nr * rq->tp_block_size > PK_V2_RING_MAX)
		rq->tp_block_nr = PK_V2_RING_MAX / rq->tp_block_size;
	rq->tp_frame_nr = rq->tp_block_nr * per_block;
}

/* Maps the ring the kernel made from @rq (sized for @mtu). */
static int pk_ring_mmap(struct pk_priv *p, struct pk_queue *q,
			const struct tpacket_req3 *rq, unsigned mtu)
{
	q->ring_len = (size_t)rq->tp_block_size * rq->tp_block_nr;
	q->ring = mmap(NULL, q->ring_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, q->fd, 0);
	if (q->ring == MAP_FAILED) {
		q->ring = NULL;
		return netbe__err(-errno, "%s: mmap of the %s ring: %s",
				  p->name, p->ifname, strerror(errno));
	}
	/* A child the host forks must not hold it: the kernel refuses to
	 * free a mapped ring, and a rebuild frees it. */
	(void)madvise(q->ring, q->ring_len, MADV_DONTFORK);
	q->slot_size = p->v3 ? rq->tp_block_size : rq->tp_frame_size;
	q->nslots = p->v3 ? rq->tp_block_nr : rq->tp_frame_nr;
	q->block_size = rq->tp_block_size;
	q->per_block = rq->tp_block_size / rq->tp_frame_size;
	q->ring_mtu = mtu;
	return 0;
}

/* Gives the socket a receive ring for @mtu and maps it. */
static int pk_ring_map(struct pk_priv *p, struct pk_queue *q, unsigned mtu)
{
	struct tpacket_req3 rq;
	int r;

	pk_ring_req(p, mtu, &rq);
	r = pk_setopt(p, q->fd, PACKET_RX_RING, &rq,
		      p->v3 ? sizeof(rq) : sizeof(struct tpacket_req),
		      "PACKET_RX_RING");
	return r < 0 ? r : pk_ring_mmap(p, q, &rq, mtu);
}

static int pk_ring(struct pk_priv *p, struct pk_queue *q)
{
	int r;

	r = pk_setint(p, q->fd, PACKET_VERSION,
		      p->v3 ? TPACKET_V3 : TPACKET_V2, "PACKET_VERSION");
	if (r < 0 || (r = pk_ring_map(p, q, p->mtu)) < 0)
		return r;
	/* Frames that do not fit a V2 slot arrive cut short, and are then
	 * dropped: GSO frames need V3's blocks. */
	p->gso_rx = p->v3;
	return 0;
}

/*
 * The classic BPF filter for promiscphys=off (drop PACKET_OTHERHOST) and
 * promiscsap=off (keep IPv4, ARP, IPv6).  NULL program: nothing to do.
 */
static int pk_filter(struct pk_priv *p, int fd, bool phys, bool sap)
{
	struct sock_filter f[8];
	struct sock_fprog prog = { .filter = f };
	unsigned n = 0;

	if (phys && sap)
		return 0;
	if (!phys) {
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      SKF_AD_OFF +
						      SKF_AD_PKTTYPE);
		/* Jump to "drop", which is last. */
		f[n++] = (struct sock_filter)BPF_JUMP(
			BPF_JMP | BPF_JEQ | BPF_K, PACKET_OTHERHOST,
			sap ? 1 : 5, 0);
	}
	if (!sap) {
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS,
						      12);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      ETH_P_IP, 2, 0);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      ETH_P_ARP, 1, 0);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      ETH_P_IPV6, 0, 1);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog.len = (unsigned short)n;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		       sizeof(prog)) < 0)
		return netbe__err(-errno, "%s: SO_ATTACH_FILTER on %s: %s",
				  p->name, p->ifname, strerror(errno));
	return 0;
}

static int pk_bind(struct pk_priv *p, int fd)
{
	struct sockaddr_ll a = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = p->ifindex,
	};

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return 0;
	return netbe__err(-errno, "%s: bind to %s: %s", p->name, p->ifname,
			  strerror(errno));
}

static int pk_member(struct pk_priv *p, int fd, unsigned short type,
		     const char *what)
{
	struct packet_mreq mr = { .mr_ifindex = p->ifindex, .mr_type = type };

	return pk_setopt(p, fd, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr), what);
}

/* Everything before bind(): header, ring, transmit and filter options. */
static int pk_prepare(struct pk_priv *p, struct pk_queue *q,
		      const struct netbe__opts *o)
{
	int r = 0;

	if (p->vnet)
		r = pk_setint(p, q->fd, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
	if (r == 0)
		r = pk_ring(p, q);
	if (r == 0 && netbe__opt_bool(o, "qdisc_bypass", true))
		r = pk_setint(p, q->fd, PACKET_QDISC_BYPASS, 1,
			      "PACKET_QDISC_BYPASS");
	if (r == 0 && netbe__opt_bool(o, "promiscrxonly", true))
		r = pk_setint(p, q->fd, PACKET_IGNORE_OUTGOING, 1,
			      "PACKET_IGNORE_OUTGOING");
	if (r == 0)
		r = pk_filter(p, q->fd, netbe__opt_bool(o, "promiscphys", false),
			      netbe__opt_bool(o, "promiscsap", true));
	return r;
}

/* Joins queue @i to the fanout group; the first join picks the id. */
static int pk_fanout(struct pk_priv *p, unsigned i, int *group)
{
	int arg = *group | (PACKET_FANOUT_HASH << 16), r;
	socklen_t len = sizeof(*group);

	if (i == 0)
		arg |= PACKET_FANOUT_FLAG_UNIQUEID << 16;
	r = pk_setint(p, p->q[i].fd, PACKET_FANOUT, arg, "PACKET_FANOUT");
	if (r < 0 || i != 0)
		return r;
	if (getsockopt(p->q[0].fd, SOL_PACKET, PACKET_FANOUT, group, &len) < 0)
		return netbe__err(-errno, "%s: reading the fanout id of %s: %s",
				  p->name, p->ifname, strerror(errno));
	*group &= 0xffff;
	return 0;
}

static int pk_tx_scratch(struct pk_queue *q)
{
	q->mm = calloc(PK_TX_BATCH, sizeof(*q->mm));
	q->tiov = calloc((size_t)PK_TX_BATCH * PK_TX_IOV, sizeof(*q->tiov));
	q->thdr = calloc(PK_TX_BATCH, sizeof(*q->thdr));
	return q->mm && q->tiov && q->thdr ? 0 : -ENOMEM;
}

static int pk_open_queue(struct pk_priv *p, unsigned i,
			 const struct netbe__opts *o, int *group)
{
	struct pk_queue *q = &p->q[i];
	int r;

	if ((r = pk_socket(p, &q->fd)) < 0)
		return r;
	if ((r = pk_prepare(p, q, o)) < 0 || (r = pk_bind(p, q->fd)) < 0)
		return r;
	if (i == 0 && netbe__opt_bool(o, "promiscphys", false) &&
	    (r = pk_member(p, q->fd, PACKET_MR_PROMISC, "PACKET_MR_PROMISC")))
		return r;
	if (i == 0 && netbe__opt_bool(o, "promiscmulti", true) &&
	    (r = pk_member(p, q->fd, PACKET_MR_ALLMULTI,
			   "PACKET_MR_ALLMULTI")))
		return r;
	if (p->nq > 1 && (r = pk_fanout(p, i, group)) < 0)
		return r;
	if (pk_tx_scratch(q) < 0)
		return netbe__err(-ENOMEM, "%s: out of memory", p->name);
	return 0;
}

/* ---- open and close ------------------------------------------------------ */

static void pk_release(struct pk_priv *p)
{
	netbe__ifwatch_close(&p->iw);
	for (unsigned i = 0; p->q && i < p->nq; i++) {
		struct pk_queue *q = &p->q[i];

		if (q->ring)
			munmap(q->ring, q->ring_len);
		if (q->fd >= 0)
			close(q->fd); /* also leaves promisc and the group */
		free(q->mm);
		free(q->tiov);
		free(q->thdr);
		free(q->bounce);
	}
	free(p->q);
	p->q = NULL;
}

static int pk_parse(struct pk_priv *p, const struct netbe__opts *o)
{
	const char *ring = netbe__opt_str(o, "ring", "v2");

	p->name = o->type;
	if (strcmp(ring, "v2") && strcmp(ring, "v3"))
		return netbe__err(-EINVAL, "%s: ring=%s: valid values are v2 "
				  "and v3", p->name, ring);
	p->v3 = !strcmp(ring, "v3");
	p->vnet = netbe__opt_bool(o, "vnet_hdr", true);
	p->mtu_cfg = o->mtu;
	p->nq = (unsigned)netbe__opt_uint(o, "queues", 1);
	return 0;
}

static int pk_open(struct netbe__queue *bq, const struct netbe__opts *o,
		   struct netbe__opened *out)
{
	struct pk_priv *p = pk_priv(bq);
	int group = 0, r;

	if ((r = pk_parse(p, o)) < 0 || (r = pk_find_if(p, o)) < 0 ||
	    (r = pk_read_mtu(p)) < 0)
		return r;
	p->q = calloc(p->nq, sizeof(*p->q));
	if (!p->q)
		return netbe__err(-ENOMEM, "%s: out of memory", p->name);
	for (unsigned i = 0; i < p->nq; i++)
		p->q[i].fd = -1;
	for (unsigned i = 0; i < p->nq; i++)
		if ((r = pk_open_queue(p, i, o, &group)) < 0)
			goto fail;
	out->hdr_len = pk_hdr_len(p, 0);
	out->nqueues = p->nq;
	for (unsigned i = 0; i < p->nq; i++)
		out->fd[i] = p->q[i].fd;
	out->caps = pk_caps(p);
	r = netbe__ifwatch_open(&p->iw, bq, o->loop, p->name, p->ifname,
				(unsigned)p->ifindex);
	if (r == 0)
		return 0;
fail:
	pk_release(p);
	return r;
}

static int pk_tx_fd(struct netbe__queue *bq)
{
	return pk_q(bq)->fd;
}

/* The socket reports its interface going down or away (ENETDOWN). */
static int pk_rx_error(struct netbe__queue *bq, int fd)
{
	return netbe__if_rx_error(&pk_priv(bq)->iw, bq, fd);
}

/* The core closes queue 0 only; its state holds every queue's socket. */
static void pk_close(struct netbe__queue *bq)
{
	pk_release(pk_priv(bq));
}

/* ---- the receive ring ---------------------------------------------------- */

/* Takes what the ring says about a frame, if it lies inside the slot. */
static bool pk_fill(struct pk_frame *f, uint8_t *slot, size_t room,
		    uint32_t mac, uint32_t snap, uint32_t st, uint16_t tci,
		    uint16_t tpid, bool vnet)
{
	if (mac < (vnet ? PK_VNET_LEN : 0) || mac > room || snap > room - mac)
		return false;
	f->data = slot + mac;
	f->len = snap;
	f->vh = vnet ? (struct netbe_vnet_hdr *)(f->data - PK_VNET_LEN)
		     : NULL;
	f->tagged = st & TP_STATUS_VLAN_VALID;
	if (f->tagged) {
		tpid = (st & TP_STATUS_VLAN_TPID_VALID) ? tpid : ETH_P_8021Q;
		f->tag[0] = (uint8_t)(tpid >> 8);
		f->tag[1] = (uint8_t)tpid;
		f->tag[2] = (uint8_t)(tci >> 8);
		f->tag[3] = (uint8_t)tci;
	}
	return true;
}

static struct tpacket2_hdr *pk_v2_slot(const struct pk_queue *q)
{
	return (void *)(q->ring + (size_t)(q->cur / q->per_block) *
					  q->block_size +
			(size_t)(q->cur % q->per_block) * q->slot_size);
}

/* 1: a frame, 0: none yet, -1: a frame the ring describes wrongly (its
 * slot must be released all the same).  *@wire is its length on the
 * wire, more than f->len when the slot cut it short. */
static int pk_v2_peek(struct pk_priv *p, struct pk_queue *q,
		      struct pk_frame *f, uint32_t *wire)
{
	struct tpacket2_hdr *h = pk_v2_slot(q);
	uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

	if (!(st & TP_STATUS_USER))
		return 0;
	q->losing |= !!(st & TP_STATUS_LOSING);
	*wire = h->tp_len;
	return pk_fill(f, (uint8_t *)h, q->slot_size, h->tp_mac,
		       h->tp_snaplen, st, h->tp_vlan_tci, h->tp_vlan_tpid,
		       p->vnet) ? 1 : -1;
}

static struct tpacket_block_desc *pk_block(struct pk_queue *q)
{
	return (void *)(q->ring + (size_t)q->cur * q->slot_size);
}

static void pk_v3_next_block(struct pk_queue *q)
{
	__atomic_store_n(&pk_block(q)->hdr.bh1.block_status, TP_STATUS_KERNEL,
			 __ATOMIC_RELEASE);
	q->cur = (q->cur + 1) % q->nslots;
	q->pkt = NULL;
	q->run++;
}

static int pk_v3_peek(struct pk_priv *p, struct pk_queue *q,
		      struct pk_frame *f, uint32_t *wire)
{
	struct tpacket_block_desc *b = pk_block(q);
	struct tpacket3_hdr *h;
	size_t off;

	while (!q->pkt) {
		uint32_t st = __atomic_load_n(&b->hdr.bh1.block_status,
					      __ATOMIC_ACQUIRE);

		if (!(st & TP_STATUS_USER))
			return 0;
		q->losing |= !!(st & TP_STATUS_LOSING);
		q->left = b->hdr.bh1.num_pkts;
		q->pkt = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
		if (q->left == 0) {
			pk_v3_next_block(q);
			b = pk_block(q);
		}
	}
	off = (size_t)(q->pkt - (uint8_t *)b);
	if (off > q->slot_size - sizeof(*h))
		return -1;
	h = (struct tpacket3_hdr *)q->pkt;
	*wire = h->tp_len;
	return pk_fill(f, q->pkt, q->slot_size - off, h->tp_mac, h->tp_snaplen,
		       h->tp_status, h->hv1.tp_vlan_tci, h->hv1.tp_vlan_tpid,
		       p->vnet) ? 1 : -1;
}

/* Hands the current frame's slot back to the kernel. */
static void pk_consume(struct pk_priv *p, struct pk_queue *q)
{
	if (!p->v3) {
		struct tpacket2_hdr *h = pk_v2_slot(q);

		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		q->cur = (q->cur + 1) % q->nslots;
		q->run++;
		return;
	}
	if (--q->left == 0) {
		pk_v3_next_block(q);
		return;
	}
	q->pkt += ((struct tpacket3_hdr *)q->pkt)->tp_next_offset;
}

static void pk_skip_slot(struct pk_priv *p, struct pk_queue *q)
{
	if (p->v3)
		pk_v3_next_block(q);
	else
		pk_consume(p, q);
}


/* ---- what the frontend may see --------------------------------------------- */

/* Which GUEST_* feature a GSO type needs; 0 for one we never offer. */
static uint64_t pk_gso_feature(uint8_t gso_type)
{
	uint64_t ecn = (gso_type & NETBE_VNET_HDR_GSO_ECN) ?
			       NETBE_F_GUEST_ECN : 0;

	switch (gso_type & ~NETBE_VNET_HDR_GSO_ECN) {
	case NETBE_VNET_HDR_GSO_TCPV4:
		return NETBE_F_GUEST_TSO4 | ecn;
	case NETBE_VNET_HDR_GSO_TCPV6:
		return NETBE_F_GUEST_TSO6 | ecn;
	case NETBE_VNET_HDR_GSO_UDP:
		return NETBE_F_GUEST_UFO | ecn;
	default:
		return 0;
	}
}

static void pk_drop(struct netbe__queue *bq, struct pk_queue *q, int reason,
		    const char *why)
{
	struct pk_priv *p = pk_priv(bq);

	netbe__q_drop(bq, NETBE_RX, reason, 1);
	if (netbe__log_due(&q->drops))
		netbe__q_log(bq, NETBE_LOG_WARN, "%s: dropped a received "
			   "frame: %s (%llu so far)", p->ifname, why,
			   (unsigned long long)q->drops);
}

/* Is @f (whole: see pk_cut_short) fit to go up?  NULL when it is, else
 * why not.  Offloads the frontend did not take are the core's to finish
 * (vnet.c: it completes checksums and segments GSO frames for every
 * frontend that lacks a GUEST_* bit we report); only what we never
 * report is dropped here. */
static const char *pk_unfit(struct netbe__queue *bq, struct pk_frame *f,
			    int *reason)
{
	struct pk_priv *p = pk_priv(bq);
	uint64_t need;

	*reason = NETBE_DROP_RUNT;
	if (f->len < ETH_HLEN)
		return "runt";
	*reason = NETBE_DROP_BADHDR;
	if (!f->vh || f->vh->gso_type == NETBE_VNET_HDR_GSO_NONE)
		return NULL;
	need = pk_gso_feature(f->vh->gso_type);
	if (!need || (need & ~pk_caps(p)))
		return "a GSO type this ring does not offer";
	return NULL;
}

/* ---- a ring that outgrew its MTU ----------------------------------------- */

/*
 * A V2 slot holds one frame of the MTU the ring was sized for.  When the
 * interface's MTU grows under us, larger frames arrive cut short: the
 * first is dropped and explained, and the receive thread - the only one
 * that touches the ring - rebuilds it for the new MTU as soon as it has
 * drained the old one.  A larger MTU learned elsewhere (another queue,
 * the transmit side, netbe_get_mtu) is acted on the same way, often
 * before any large frame comes.  The socket, and so the fd the loop
 * watches, stays; the kernel unhooks it from the interface while it
 * swaps rings, so frames arriving just then are lost.  With queues=N
 * each queue rebuilds its own ring when it first meets a large frame
 * (so each may lose one), and re-joins the fanout group, which may move
 * flows between queues.
 */

/* The interface's MTU when it grew past what @q's ring was sized for,
 * else 0. */
static unsigned pk_mtu_grown(struct pk_priv *p, const struct pk_queue *q)
{
	int mtu = pk_read_mtu(p); /* also lifts the transmit limit */

	return mtu > 0 && (unsigned)mtu > q->ring_mtu ? (unsigned)mtu : 0;
}

/* Should the (empty) ring be rebuilt for a larger MTU? */
static bool pk_ring_stale(const struct pk_priv *p, struct pk_queue *q)
{
	unsigned mtu = __atomic_load_n(&p->mtu, __ATOMIC_RELAXED);

	if (!p->v3 && !q->grow_to && mtu > q->ring_mtu && mtu != q->no_grow)
		q->grow_to = mtu;
	return q->grow_to != 0;
}

/* Frees @q's ring (unmapped first, or the kernel refuses) and makes one
 * for @mtu.  0, or -errno with q->ring NULL. */
static int pk_ring_swap(struct pk_priv *p, struct pk_queue *q, unsigned mtu)
{
	struct tpacket_req none;
	int r;

	memset(&none, 0, sizeof(none));
	if (q->ring)
		munmap(q->ring, q->ring_len);
	q->ring = NULL;
	q->cur = 0;
	r = pk_setopt(p, q->fd, PACKET_RX_RING, &none, sizeof(none),
		      "PACKET_RX_RING");
	return r < 0 ? r : pk_ring_map(p, q, mtu);
}

/* Rebuilds @q's ring for q->grow_to; failing that, for the old MTU
 * again (not retried for this one); failing both, hangs the queue up. */
static void pk_ring_rebuild(struct netbe__queue *bq, struct pk_queue *q)
{
	struct pk_priv *p = pk_priv(bq);
	unsigned old = q->ring_mtu, mtu = q->grow_to;

	q->grow_to = 0;
	if (pk_ring_swap(p, q, mtu) == 0) {
		netbe__q_log(bq, NETBE_LOG_INFO, "%s: receive ring rebuilt "
			     "for MTU %u: %u slots of %u bytes", p->ifname,
			     mtu, q->nslots, q->slot_size);
		return;
	}
	q->no_grow = mtu;
	netbe__q_log(bq, NETBE_LOG_WARN, "%s: cannot rebuild the receive "
		     "ring for MTU %u (%s); frames over MTU %u stay dropped",
		     p->ifname, mtu, netbe_last_error(), old);
	if (pk_ring_swap(p, q, old) == 0)
		return;
	netbe__q_log(bq, NETBE_LOG_ERR, "%s: no receive ring (%s); no more "
		     "frames from this queue", p->ifname, netbe_last_error());
	netbe__q_hangup(bq);
}

/* Why a frame the ring cut short was too big for it. */
static void pk_too_big(const struct pk_priv *p, const struct pk_queue *q,
		       const struct pk_frame *f, uint32_t wire, char *buf,
		       size_t cap)
{
	bool gso = f->vh && f->vh->gso_type != NETBE_VNET_HDR_GSO_NONE;

	if (p->v3)
		snprintf(buf, cap, "%u bytes, larger than the ring's %u-byte "
			 "blocks", wire, q->slot_size);
	else
		snprintf(buf, cap, "%u bytes, larger than the ring's %u-byte "
			 "slots (sized for MTU %u)%s", wire, q->slot_size,
			 q->ring_mtu, gso ? "; a GSO frame: ring=v3 takes "
			 "64 KiB frames" : "");
}

/*
 * A frame of @wire bytes the ring cut short: dropped as OVERSIZE and
 * explained.  When the MTU grew past the ring's, the ring is rebuilt
 * once empty (pk_next); frames cut short until then are only counted.
 */
static void pk_cut_short(struct netbe__queue *bq, struct pk_queue *q,
			 const struct pk_frame *f, uint32_t wire)
{
	struct pk_priv *p = pk_priv(bq);
	bool first = !q->grow_to;
	char why[160];

	if (first && !p->v3)
		q->grow_to = pk_mtu_grown(p, q);
	if (!q->grow_to) {
		pk_too_big(p, q, f, wire, why, sizeof(why));
		pk_drop(bq, q, NETBE_DROP_OVERSIZE, why);
		return;
	}
	netbe__q_drop(bq, NETBE_RX, NETBE_DROP_OVERSIZE, 1);
	if (first)
		netbe__q_log(bq, NETBE_LOG_WARN, "%s: a frame of %u bytes did "
			     "not fit the receive ring's %u-byte slots, sized "
			     "for MTU %u; the MTU is now %u: frame dropped, "
			     "rebuilding the ring", p->ifname, wire,
			     q->slot_size, q->ring_mtu, q->grow_to);
}

/* What the kernel dropped because the ring was full, since the last
 * read: counted as ring drops (see "Losses before us"). */
static void pk_ring_losses(struct netbe__queue *bq, struct pk_queue *q)
{
	struct tpacket_stats_v3 st = { 0 };
	socklen_t len = sizeof(st);

	q->losing = false;
	if (getsockopt(q->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0 ||
	    !st.tp_drops)
		return;
	netbe__q_drop(bq, NETBE_RX, NETBE_DROP_RING, st.tp_drops);
	if (netbe__log_due(&q->full))
		netbe__q_log(bq, NETBE_LOG_WARN, "%s: the receive ring was "
			     "full: the kernel dropped %u frames (%llu times "
			     "so far)", pk_priv(bq)->ifname, st.tp_drops,
			     (unsigned long long)q->full);
}

/* The next frame fit for the frontend, dropping what is not: 1 with @f
 * set, 0 when the ring is empty (the moment to rebuild it). */
static int pk_next(struct netbe__queue *bq, struct pk_frame *f)
{
	struct pk_priv *p = pk_priv(bq);
	struct pk_queue *q = pk_q(bq);
	const char *why;
	uint32_t wire = 0;
	int r, reason;

	for (;;) {
		if (!q->ring) /* a rebuild failed; the queue is hung up */
			return 0;
		r = p->v3 ? pk_v3_peek(p, q, f, &wire)
			  : pk_v2_peek(p, q, f, &wire);
		if (q->losing || (r == 0 && q->run >= q->nslots))
			pk_ring_losses(bq, q);
		if (r == 0)
			q->run = 0;
		if (r == 0 && pk_ring_stale(p, q))
			pk_ring_rebuild(bq, q);
		if (r == 0)
			return 0;
		if (r < 0) { /* nothing in that slot or block can be trusted */
			pk_drop(bq, q, NETBE_DROP_MALFORMED, "bad ring descriptor");
			pk_skip_slot(p, q);
			continue;
		}
		if (f->len < wire)
			pk_cut_short(bq, q, f, wire);
		else if (!(why = pk_unfit(bq, f, &reason)))
			return 1;
		else
			pk_drop(bq, q, reason, why);
		pk_consume(p, q);
	}
}

static size_t pk_out_len(const struct netbe__queue *bq, const struct pk_frame *f)
{
	return bq->hdr_len + f->len + (f->tagged ? 4u : 0u);
}

/* The frontend's header: the ring's (offsets moved past a tag we put
 * back) or zeros; num_buffers is the frontend's to fill. */
static void pk_hdr_out(const struct pk_frame *f, struct netbe_vnet_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (!f->vh)
		return;
	memcpy(h, f->vh, PK_VNET_LEN);
	if (f->tagged && (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM))
		h->csum_start = htole16(le16toh(h->csum_start) + 4);
	if (f->tagged && h->hdr_len)
		h->hdr_len = htole16(le16toh(h->hdr_len) + 4);
}

static void pk_copy_out(const struct netbe__queue *bq, const struct pk_frame *f,
			const struct iovec *iov, int iovcnt)
{
	size_t off = bq->hdr_len;
	struct netbe_vnet_hdr h;

	if (off) {
		pk_hdr_out(f, &h);
		netbe__buf_to_iov(&h, off, iov, iovcnt, 0);
	}
	if (!f->tagged) {
		netbe__buf_to_iov(f->data, f->len, iov, iovcnt, off);
		return;
	}
	netbe__buf_to_iov(f->data, 2 * ETH_ALEN, iov, iovcnt, off);
	netbe__buf_to_iov(f->tag, 4, iov, iovcnt, off + 2 * ETH_ALEN);
	netbe__buf_to_iov(f->data + 2 * ETH_ALEN, f->len - 2 * ETH_ALEN, iov,
			  iovcnt, off + 2 * ETH_ALEN + 4);
}

static ssize_t pk_peek_recvlen(struct netbe__queue *bq)
{
	struct pk_frame f;

	return pk_next(bq, &f) ? (ssize_t)pk_out_len(bq, &f) : 0;
}

static ssize_t pk_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct pk_frame f;
	size_t len;

	if (!pk_next(bq, &f))
		return 0;
	len = pk_out_len(bq, &f);
	if (len <= netbe__iov_len(iov, iovcnt))
		pk_copy_out(bq, &f, iov, iovcnt);
	pk_consume(pk_priv(bq), pk_q(bq));
	return len <= netbe__iov_len(iov, iovcnt) ? (ssize_t)len : -ENOSPC;
}

/* Drains up to @n frames; one too big for its buffers is dropped,
 * counted, and its buffers reused for the next. */
static int pk_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct pk_frame f;
	int i = 0;

	while (i < n && pk_next(bq, &f)) {
		size_t len = pk_out_len(bq, &f);

		if (len <= netbe__iov_len(msgs[i].iov, msgs[i].iovcnt)) {
			pk_copy_out(bq, &f, msgs[i].iov, msgs[i].iovcnt);
			msgs[i++].len = len;
		} else {
			netbe__q_drop(bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
		}
		pk_consume(pk_priv(bq), pk_q(bq));
	}
	return i;
}

/* ---- transmit ------------------------------------------------------------ */

/* The longest frame (no header) the interface carries at @mtu: a tag
 * (802.1Q, 802.1ad) adds 4 bytes. */
static size_t pk_tx_limit(const struct netbe__queue *bq,
			  const struct iovec *iov, int iovcnt, unsigned mtu)
{
	uint8_t type[2] = { 0, 0 };

	netbe__iov_to_buf(iov, iovcnt, bq->hdr_len + 2 * ETH_ALEN, type, 2);
	if ((type[0] == 0x81 && type[1] == 0x00) ||
	    (type[0] == 0x88 && type[1] == 0xa8))
		return mtu + ETH_HLEN + 4;
	return mtu + ETH_HLEN;
}

/*
 * Refuses what the interface would not carry: an offload the socket
 * cannot express, or a frame over the MTU that is not GSO.  @h holds the
 * frontend's header (zeros without one).  The MTU may have grown since
 * we read it, so a frame over it makes us read it again.
 */
static int pk_tx_check(struct netbe__queue *bq, const struct iovec *iov, int iovcnt,
		       const struct netbe_vnet_hdr *h)
{
	struct pk_priv *p = pk_priv(bq);
	size_t len = netbe__iov_len(iov, iovcnt) - bq->hdr_len;
	int mtu;

	if (!p->vnet && (h->flags || h->gso_type))
		return -EINVAL;
	if (h->gso_type != NETBE_VNET_HDR_GSO_NONE ||
	    len <= pk_tx_limit(bq, iov, iovcnt,
			       __atomic_load_n(&p->mtu, __ATOMIC_RELAXED)))
		return 0;
	mtu = pk_read_mtu(p);
	return mtu > 0 && len <= pk_tx_limit(bq, iov, iovcnt, (unsigned)mtu)
		       ? 0 : -EMSGSIZE;
}

/*
 * Describes one frame for the socket in @m: the caller's iovec as is when
 * the header lengths agree, else our header @h in front of the caller's
 * entries minus theirs (room for PK_TX_IOV entries at @v).  0, or -errno:
 * -EMSGSIZE/-EINVAL refuse the frame, -E2BIG asks for the bounce path.
 */
static int pk_tx_prep(struct netbe__queue *bq, const struct iovec *iov, int iovcnt,
		      struct msghdr *m, struct iovec *v,
		      struct netbe_vnet_hdr *h)
{
	unsigned bh = bq->hdr_len;
	unsigned sh = pk_priv(bq)->vnet ? PK_VNET_LEN : 0;
	int n = sh ? 1 : 0, r;

	memset(h, 0, sizeof(*h));
	if (bh)
		netbe__iov_to_buf(iov, iovcnt, 0, h, PK_VNET_LEN);
	if ((r = pk_tx_check(bq, iov, iovcnt, h)) < 0)
		return r;
	memset(m, 0, sizeof(*m));
	if (bh == sh) {
		m->msg_iov = (struct iovec *)iov;
		m->msg_iovlen = (size_t)iovcnt;
		return 0;
	}
	v[0] = (struct iovec){ .iov_base = h, .iov_len = sh };
	r = netbe__iov_skip(iov, iovcnt, bh, v + n, PK_TX_IOV - n);
	if (r < 0)
		return r;
	m->msg_iov = v;
	m->msg_iovlen = (size_t)(n + r);
	return 0;
}

/* A frame in more pieces than PK_TX_IOV: copied whole, header first. */
static int pk_tx_bounce(struct netbe__queue *bq, const struct iovec *iov, int iovcnt,
			struct msghdr *m, struct iovec *v,
			const struct netbe_vnet_hdr *h)
{
	struct pk_queue *q = pk_q(bq);
	unsigned sh = pk_priv(bq)->vnet ? PK_VNET_LEN : 0;
	size_t len = netbe__iov_len(iov, iovcnt) - bq->hdr_len;

	if (!q->bounce && !(q->bounce = malloc(PK_BOUNCE_LEN)))
		return -ENOMEM;
	memcpy(q->bounce, h, sh);
	netbe__iov_to_buf(iov, iovcnt, bq->hdr_len, q->bounce + sh, len);
	v[0] = (struct iovec){ .iov_base = q->bounce, .iov_len = sh + len };
	memset(m, 0, sizeof(*m));
	m->msg_iov = v;
	m->msg_iovlen = 1;
	return 0;
}

/* A send the kernel refused: -@err.  ENOBUFS comes in storms (with
 * QDISC_BYPASS the driver's refusal reaches us: a veth whose peer is
 * down, a full device queue), so it is logged under the port's label the
 * 1st, 2nd, 4th ... time; the core counts each frame ("full"). */
static int pk_tx_failed(struct netbe__queue *bq, int err)
{
	struct pk_queue *q = pk_q(bq);

	if (err == ENOBUFS && netbe__log_due(&q->nobufs))
		netbe__q_log(bq, NETBE_LOG_WARN, "%s: the interface refuses "
			     "frames (%s): its queue is full or its peer is "
			     "down; they are dropped (%llu times so far)",
			     pk_priv(bq)->ifname, strerror(err),
			     (unsigned long long)q->nobufs);
	return -err;
}

static ssize_t pk_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct iovec v[PK_TX_IOV];
	struct netbe_vnet_hdr h;
	struct msghdr m;
	int r = pk_tx_prep(bq, iov, iovcnt, &m, v, &h);

	if (r == -E2BIG)
		r = pk_tx_bounce(bq, iov, iovcnt, &m, v, &h);
	if (r < 0)
		return r;
	if (sendmsg(pk_q(bq)->fd, &m, MSG_DONTWAIT) < 0)
		return pk_tx_failed(bq, errno);
	return (ssize_t)netbe__iov_len(iov, iovcnt);
}

/* A frame the batch cannot carry: dropped and counted, yet handled. */
static void pk_tx_refuse(struct netbe__queue *bq, struct netbe_msg *msg, int err)
{
	int why = netbe__drop_reason(err);

	msg->len = 0;
	netbe__q_drop(bq, NETBE_TX, why < 0 ? NETBE_DROP_LINK_DOWN : why, 1);
	netbe__err(err, "%s: frame not sent: %s", netbe__q_label(bq),
		   strerror(-err));
}

/* Prepares up to PK_TX_BATCH frames from @msgs; returns how many, or
 * -errno when the first one cannot go in a batch. */
static int pk_tx_fill(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct pk_queue *q = pk_q(bq);
	int k;

	for (k = 0; k < n && k < PK_TX_BATCH; k++) {
		int r = pk_tx_prep(bq, msgs[k].iov, msgs[k].iovcnt,
				   &q->mm[k].msg_hdr, q->tiov + k * PK_TX_IOV,
				   &q->thdr[k]);

		if (r < 0)
			return k ? k : r;
	}
	return k;
}

static int pk_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct pk_queue *q = pk_q(bq);
	int done = 0;

	while (done < n) {
		struct netbe_msg *m = msgs + done;
		int k = pk_tx_fill(bq, m, n - done), sent;

		if (k == -E2BIG) { /* too many pieces: alone, copied */
			ssize_t r = pk_send(bq, m->iov, m->iovcnt);

			k = 1;
			sent = r < 0 ? -1 : 1;
			errno = r < 0 ? (int)-r : 0;
			m->len = r < 0 ? 0 : (size_t)r;
		} else if (k < 0) {
			pk_tx_refuse(bq, m, k);
			done++;
			continue;
		} else {
			sent = sendmmsg(q->fd, q->mm, (unsigned)k,
					MSG_DONTWAIT);
		}
		if (sent < 0 && (errno == EAGAIN || errno == ENOBUFS))
			return done ? done : pk_tx_failed(bq, errno);
		if (sent < 0) { /* the kernel refused the first frame */
			pk_tx_refuse(bq, m, -errno);
			done++;
			continue;
		}
		for (int i = 0; i < sent; i++)
			m[i].len = netbe__iov_len(m[i].iov, m[i].iovcnt);
		done += sent;
	}
	return done;
}

/* ---- features and queries ------------------------------------------------ */

static uint64_t pk_caps(const struct pk_priv *p)
{
	uint64_t cap;

	if (!p->vnet)
		return 0;
	/* The kernel finishes what we send with a header (it segments GSO
	 * frames when the interface cannot), and hands us partial checksums
	 * always and GSO frames whole when V3's big blocks hold them. */
	cap = NETBE_F_CSUM | NETBE_F_HOST_TSO4 |
	      NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN |
	      NETBE_F_HOST_UFO | NETBE_F_GUEST_CSUM;
	if (p->gso_rx)
		cap |= PK_GUEST_GSO;
	return cap;
}

static int pk_set_cap(struct netbe__queue *bq, uint64_t features, unsigned fe_hdr_len)
{
	unsigned len = pk_hdr_len(pk_priv(bq), fe_hdr_len);

	(void)features; /* the ring delivers what it delivers; see pk_unfit */
	return (int)len;
}

static int pk_get_mac(struct netbe__queue *bq, uint8_t mac[6])
{
	struct pk_priv *p = pk_priv(bq);

	return netbe__if_mac(p->name, p->ifname, mac);
}

static int pk_get_mtu(struct netbe__queue *bq)
{
	return pk_read_mtu(pk_priv(bq));
}

#define PK_OPS_BODY                                                          \
	.priv_size = sizeof(struct pk_priv), .open = pk_open,                \
	.close = pk_close, .send = pk_send,                                  \
	.peek_recvlen = pk_peek_recvlen, .recv = pk_recv,                    \
	.send_batch = pk_send_batch, .recv_batch = pk_recv_batch,            \
	.set_cap = pk_set_cap, .rx_error = pk_rx_error,                      \
	.tx_fd = pk_tx_fd,                                                   \
	.get_mac = pk_get_mac, .get_mtu = pk_get_mtu

const struct netbe__ops netbe__packet_ops = {
	.name = "packet",
	.prefixes = "packet",
	.description = "raw Linux interface through AF_PACKET rings",
	.options = packet_options,
	PK_OPS_BODY,
};

/* The seed's illumos backend, by name and keys, on AF_PACKET. */
const struct netbe__ops netbe__dlpi_ops = {
	.name = "dlpi",
	.prefixes = "dlpi",
	.description = "bhyve's illumos dlpi backend (vnic=NAME) on AF_PACKET",
	.options = dlpi_options,
	PK_OPS_BODY,
};
