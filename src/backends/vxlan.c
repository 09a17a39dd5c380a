/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vxlan, geneve: an L2 segment that spans hosts over UDP, the overlay the
 * Linux kernel, Open vSwitch and hardware switches speak (RFC 7348 VXLAN,
 * RFC 8926 Geneve).  The headers are src/tunnel/encap.c, the learning
 * table src/tunnel/learn.c; this file is the sockets.
 *
 * Theory of operation
 *   "vxlan,vni=N,local=IP[:PORT],remote=IP[:PORT][;IP[:PORT]...]" or
 *   "vxlan,vni=N,group=GROUP[,dev=IF]"; "geneve,..." takes the same keys.
 *   One UDP socket bound to local=:dstport= (4789, or 6081 for Geneve;
 *   Linux's own default when `ip link add type vxlan` gets no dstport is
 *   8472, so a kernel peer needs "dstport 4789") receives and - unless
 *   srcport= asks for a pool - sends.  It is the readiness fd.
 *
 *   Where a frame goes.  The inner destination MAC is looked up in the
 *   learning table (filled from the outer source address of what we
 *   receive, port: that remote's, else dstport=; aged after ageing=
 *   seconds, at most maxaddress= entries): known unicast goes to that one
 *   endpoint; broadcast, multicast and unknown unicast go to every
 *   remote= (head-end replication: one datagram per remote, in one
 *   sendmmsg) or to group= (flood-and-learn; IP_MULTICAST_LOOP off, so we
 *   never hear our own floods).
 *
 *   Who may send to us.  With remote= the socket cannot be connect()ed
 *   (there may be several), so the outer source IP is compared with each
 *   remote (the port is not: Linux sends from a hashed port); anything
 *   else is a "source" drop.  With group= any member may send, as with
 *   the kernel.  Every header is checked (encap.c), and what fails is
 *   dropped and counted by reason; never a crash, never a log per frame.
 *
 *   Wire details.  IPv4: UDP checksum zero (SO_NO_CHECK) unless
 *   udpcsum=on (RFC 7348 allows zero, Linux accepts it; Linux's own
 *   vxlan sends a real one unless noudpcsum); IPv6: a real checksum (the
 *   kernel computes it; Linux accepts a zero one only with
 *   udp6zerocsumrx).  The outer
 *   DF bit is set (IP_PMTUDISC_DO) and a frame longer than the inner
 *   MTU is refused and counted "oversize" before it is sent: never
 *   truncated, never fragmented.  The inner MTU (get_mtu, `netbe probe`)
 *   is the underlay's - dev='s, else the route's to the first remote or
 *   the group - less 50 bytes (IPv4) or 70 (IPv6): outer IP 20/40, UDP 8,
 *   header 8, inner Ethernet 14.  mtu= may lower it, not raise it.
 *   The MTU is taken at open: an underlay MTU lowered later makes the
 *   kernel refuse the longer datagrams (EMSGSIZE, with DF), each counted
 *   "oversize" and logged the 1st, 2nd, 4th ... time.  An underlay that cannot send at all (no route: its link
 *   down or gone) is logged once under the port's label and once when a
 *   datagram goes again - never per frame - and each frame meanwhile is
 *   counted "link-down" (tests/faults/fault_vxlan.sh).  A remote that
 *   goes away is not seen: UDP has no peer, and ICMP errors do not reach
 *   an unconnected socket; frames leave as before.
 *
 *   Source ports.  A UDP socket has one source port, so ECMP/RSS entropy
 *   (a hash of the inner flow, as Linux's udp_flow_src_port) needs one
 *   socket per port: srcport=MIN-MAX opens that pool (at most 64 ports;
 *   a BPF filter that accepts nothing keeps their receive queues empty)
 *   and each frame leaves from the socket its flow hashes to.  Without
 *   srcport=, frames leave from the receiving socket: one source port.
 *
 *   Offloads, sending.  We claim no HOST_* offload: the core's software
 *   engine (vnet.c) cuts a TSO frame from a tap or a guest into MSS-sized
 *   segments and hands them to send_batch, up to 64 at a time: one
 *   sendmmsg.  With real UDP checksums (IPv6, or udpcsum=on) each run of
 *   equal-sized datagrams to one destination becomes one UDP_SEGMENT
 *   send inside that sendmmsg, so the kernel builds one 63 KiB datagram
 *   and cuts it late (measured faster: docs/benchmarks.md).  With the
 *   zero checksum it cannot: the kernel refuses UDP_SEGMENT on a socket
 *   with SO_NO_CHECK (EINVAL; bench/udpgso_probe shows it on the kernel
 *   at hand - a NIC's segmentation fills checksums, so a zero one cannot
 *   ride with it), and that default is what bounds
 *   netbe -> kernel (0.17x): perf shows the one switch thread at a full
 *   CPU, 81% of it inside sendmmsg and 60% in softirqs - the peer's
 *   receive (veth, IP, its vxlan, TCP), once per datagram, run on our
 *   CPU - against 4% tap reads and 2% checksums; with udpcsum=on the
 *   core's segmentation is small too (netbe__offl_emit 0.3%, checksums
 *   7% of both netbe processes), so claiming TSO here to cut frames
 *   ourselves would not pay.
 *
 *   Offloads, receiving.  The socket has UDP_GRO: a sender's UDP_SEGMENT
 *   send (netbe with udpcsum=on or over IPv6, which crosses a veth whole)
 *   and datagrams the underlay device coalesced (GRO on the NIC or veth)
 *   arrive as one buffer of equal-sized datagrams (cmsg UDP_GRO: their
 *   size) instead of the kernel cutting them into one skb each before
 *   the socket.  recvmmsg reads them into a staging area of ours (64
 *   slots of 64 KiB); each datagram is checked, decapsulated and copied
 *   into the caller's frame, and for a frontend that takes GUEST_TSO4/6
 *   consecutive TCP segments of one flow are merged on the way into one
 *   GSO frame with a virtio-net header (src/tunnel/gro.c): one copy of
 *   the payload, as the in-place merge before it had.  What this call's
 *   frames cannot hold stays staged; an eventfd, set while it does, and
 *   the socket make up the epoll set that is the queue's readiness fd,
 *   so the rest is read even when the socket is empty.  Measured
 *   (docs/benchmarks.md, 3 rounds interleaved, underlay GRO on for all):
 *   kernel -> netbe 4.45 -> 6.23 Gbit/s, netbe <-> netbe with udpcsum=on
 *   4.21 -> 5.41 and 4.43 -> 5.36; a zero-checksum sender gains nothing
 *   (its receiver was not the bottleneck).  Before merging existed, one
 *   tap write per segment made receiving the slow side (0.9 Gbit/s netbe
 *   <-> netbe).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "sockaddr.h"
#include "tunnel/encap.h"
#include "tunnel/gro.h"
#include "tunnel/learn.h"

#define VX_BATCH 64		/* datagrams per sendmmsg/recvmmsg */
#define VX_MAX_REMOTES 32
#define VX_MAX_SPORTS 64
#define VX_TX_IOV 1024
#define VX_STAGE_BYTES 65536	/* a UDP_GRO datagram is at most 64 KiB */
#define VX_AGE_DEFAULT 300
#define VX_LEARN_DEFAULT 4096
#define VX_BUF_BYTES (4 << 20)
/* Merged TCP on receive (gro.c); we send no offload (the core segments). */
#define VX_CAPS (NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 | NETBE_F_GUEST_TSO6)

struct vx_tx {			/* the sending thread's scratch */
	struct mmsghdr mm[VX_BATCH];
	struct iovec iov[VX_TX_IOV];
	int frame[VX_BATCH];	/* the frame each datagram carries */
	size_t dlen[VX_BATCH];	/* each datagram's length */
	int n, used, fd;
	/* udpcsum=: runs of datagrams as UDP_SEGMENT sends (vx_gso_pack) */
	struct mmsghdr gm[VX_BATCH];
	struct iovec giov[VX_TX_IOV];
	char gcm[VX_BATCH][CMSG_SPACE(sizeof(uint16_t))];
	int gfirst[VX_BATCH + 1]; /* the first datagram of each send */
	bool single;		/* vx_send: report, do not count */
	int err;		/* vx_send: why its frame did not go */
};

struct vx_stage {		/* the receiving thread's datagrams */
	uint8_t *buf;		/* VX_BATCH slots of VX_STAGE_BYTES */
	struct mmsghdr mm[VX_BATCH];
	struct iovec iov[VX_BATCH];
	union netbe__tun_addr from[VX_BATCH];
	char cm[VX_BATCH][CMSG_SPACE(sizeof(int))];
	size_t seg[VX_BATCH];	/* each slot's datagram size (UDP_GRO) */
	int n, slot;		/* slots filled; the one being read */
	size_t off;		/* the current datagram's offset in it */
	bool ready;		/* it is checked: f, flen */
	uint8_t *f;		/* its inner frame */
	size_t flen;
	const union netbe__tun_addr *remote; /* the slot's sender */
	uint32_t now;		/* learning's clock at the read */
	int efd;		/* eventfd: set while datagrams stay staged */
	bool signalled;
	int ep;			/* the readiness fd: epoll of fd and efd */
};

struct vx_priv {
	struct netbe__queue *bq;
	const char *name;		/* "vxlan", "geneve" */
	enum netbe__tun_proto proto;
	uint32_t vni;
	int fd;				/* receives; sends unless a pool */
	int sfd[VX_MAX_SPORTS];		/* srcport= pool */
	unsigned nsfd;
	int family;
	uint16_t dstport;
	bool has_local, mcast, learning;
	bool gro4, gro6;		/* merge TCP (set_cap; atomic) */
	bool gso;			/* UDP checksums on: UDP_SEGMENT */
	bool tx_down;			/* sends fail: logged, not again */
	uint64_t too_big;		/* EMSGSIZE refusals, for the log */
	union netbe__tun_addr local, group;
	union netbe__tun_addr remote[VX_MAX_REMOTES];
	unsigned nremote;
	unsigned ifindex;		/* dev= */
	char dev[IF_NAMESIZE];
	unsigned mtu;			/* inner (L3) MTU */
	uint8_t hdr[NETBE__TUN_HDR];	/* what every datagram starts with */
	struct netbe__learn learn;
	struct vx_tx tx;
	struct vx_stage st;
};

static const struct netbe_option vx_options[] = {
	{ .key = "vni", .type = NETBE_OPT_UINT, .min = 0, .max = 16777215,
	  .help = "the segment's 24-bit network identifier (required; both "
		  "ends the same)" },
	{ .key = "local", .type = NETBE_OPT_STRING,
	  .help = "IP[:PORT] to bind and send from (IPv4, or IPv6 bare or "
		  "as [V6]:PORT; default: any address, port dstport=)" },
	{ .key = "remote", .type = NETBE_OPT_STRING,
	  .help = "IP[:PORT][;IP[:PORT]...]: the other endpoints; "
		  "broadcast and unknown unicast go to each; only they may "
		  "send to us" },
	{ .key = "group", .type = NETBE_OPT_STRING,
	  .help = "multicast group (239.x.y.z or ff0X::...) for "
		  "flood-and-learn instead of remote=" },
	{ .key = "dev", .type = NETBE_OPT_STRING,
	  .help = "underlay interface for group= (and the MTU)" },
	{ .key = "dstport", .type = NETBE_OPT_UINT, .min = 1, .max = 65535,
	  .help = "UDP port (default 4789 vxlan, 6081 geneve; Linux's vxlan "
		  "defaults to 8472 unless given dstport 4789)" },
	{ .key = "srcport", .type = NETBE_OPT_STRING,
	  .help = "MIN-MAX: UDP source ports picked by inner flow hash (at "
		  "most 64; default: the local port only)" },
	{ .key = "udpcsum", .type = NETBE_OPT_BOOL,
	  .help = "IPv4: send real UDP checksums (default false: zero, which "
		  "RFC 7348 allows; true also lets the kernel segment our "
		  "sends, UDP_SEGMENT); IPv6 always has them" },
	{ .key = "learning", .type = NETBE_OPT_BOOL,
	  .help = "learn which remote holds which MAC (default true; false: "
		  "flood everything)" },
	{ .key = "ageing", .type = NETBE_OPT_UINT, .min = 0, .max = 86400,
	  .help = "seconds a learned MAC lives (default 300; 0: forever)" },
	{ .key = "maxaddress", .type = NETBE_OPT_UINT, .min = 1,
	  .max = 1048576,
	  .help = "learned MACs kept at most (default 4096)" },
	{ .key = NULL },
};

/* ---- addresses -------------------------------------------------------------- */

static socklen_t vx_salen(const union netbe__tun_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

static void vx_set_port(union netbe__tun_addr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
	else
		a->in.sin_port = htons(port);
}

static uint16_t vx_port(const union netbe__tun_addr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port
						 : a->in.sin_port);
}

/*
 * "IP", "IP:PORT", "V6", "[V6]" or "[V6]:PORT" into @out; the port
 * defaults to @port.  Goes through netbe__sockaddr_parse ("udp:...").
 */
static int vx_parse_addr(struct vx_priv *p, const char *key, const char *s,
			 union netbe__tun_addr *out)
{
	struct netbe__sockaddr sa;
	const char *colon = strchr(s, ':');
	bool bare6 = colon && strchr(colon + 1, ':') && s[0] != '[';
	bool noport = !colon || bare6 || (s[0] == '[' && s[strlen(s) - 1] == ']');
	char buf[200], who[64];
	int r;

	snprintf(who, sizeof(who), "%s: %s", p->name, key);
	snprintf(buf, sizeof(buf), "udp:%s%s%s%s", bare6 ? "[" : "", s,
		 bare6 ? "]" : "", noport ? ":1" : "");
	r = netbe__sockaddr_parse(buf, NETBE__SA_UDP, who, &sa);
	if (r < 0)
		return netbe__err(r, "%s: %s=%s: expected IP, IP:PORT, an IPv6 "
				  "address or [IPV6]:PORT", p->name, key, s);
	memcpy(out, &sa.ss, sa.len < sizeof(*out) ? sa.len : sizeof(*out));
	if (noport)
		vx_set_port(out, p->dstport);
	return 0;
}

static int vx_family_check(struct vx_priv *p, const char *key,
			   const char *s, const union netbe__tun_addr *a)
{
	if (!p->family)
		p->family = a->sa.sa_family;
	if (a->sa.sa_family == p->family)
		return 0;
	return netbe__err(-EINVAL, "%s: %s=%s: IPv4 and IPv6 endpoints "
			  "mixed; local=, remote= and group= must all be one "
			  "family", p->name, key, s);
}

/* remote=IP[:PORT];IP[:PORT]... */
static int vx_parse_remotes(struct vx_priv *p, const char *list)
{
	char buf[1024], *save = NULL, *tok;
	int r = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ";", &save); tok && r == 0;
	     tok = strtok_r(NULL, ";", &save)) {
		union netbe__tun_addr *a = &p->remote[p->nremote];

		if (p->nremote == VX_MAX_REMOTES)
			return netbe__err(-E2BIG, "%s: remote=%s: at most %d "
					  "remotes", p->name, list,
					  VX_MAX_REMOTES);
		r = vx_parse_addr(p, "remote", tok, a);
		if (r == 0)
			r = vx_family_check(p, "remote", tok, a);
		if (r == 0 && (a->sa.sa_family == AF_INET
			       ? IN_MULTICAST(ntohl(a->in.sin_addr.s_addr))
			       : IN6_IS_ADDR_MULTICAST(&a->in6.sin6_addr)))
			r = netbe__err(-EINVAL, "%s: remote=%s: a multicast "
				       "address; use group=%s", p->name, tok,
				       tok);
		p->nremote += r == 0;
	}
	if (r == 0 && !p->nremote)
		r = netbe__err(-EINVAL, "%s: remote=%s: no address; expected "
			       "IP[:PORT][;IP[:PORT]...]", p->name, list);
	return r;
}

static int vx_parse_group(struct vx_priv *p, const char *s)
{
	struct netbe__sockaddr sa = { 0 };
	int r = vx_parse_addr(p, "group", s, &p->group);

	if (r < 0)
		return r;
	memcpy(&sa.ss, &p->group, sizeof(p->group));
	if (!netbe__sockaddr_is_mcast(&sa))
		return netbe__err(-EINVAL, "%s: group=%s: not a multicast "
				  "address (224.0.0.0/4 or ff00::/8); for "
				  "unicast peers use remote=", p->name, s);
	p->mcast = true;
	return vx_family_check(p, "group", s, &p->group);
}

/* srcport=MIN-MAX */
static int vx_parse_sport(struct vx_priv *p, const char *s,
			  unsigned long *lo, unsigned long *hi)
{
	char buf[32], *dash;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (!dash || netbe__parse_uint(buf, 65535, lo) < 0 ||
	    netbe__parse_uint(dash + 1, 65535, hi) < 0 || *lo == 0 ||
	    *hi < *lo || *hi - *lo >= VX_MAX_SPORTS)
		return netbe__err(-EINVAL, "%s: srcport=%s: expected MIN-MAX, "
				  "1 <= MIN <= MAX <= 65535, at most %d ports",
				  p->name, s, VX_MAX_SPORTS);
	return 0;
}

/* remote= or group= (one of them), local=, dev=. */
static int vx_parse_where(struct vx_priv *p, const struct netbe__opts *o)
{
	const char *remote = netbe__opt_str(o, "remote", NULL);
	const char *group = netbe__opt_str(o, "group", NULL);
	const char *local = netbe__opt_str(o, "local", NULL);
	const char *dev = netbe__opt_str(o, "dev", NULL);
	int r = 0;

	if (!remote == !group)
		return netbe__err(-EINVAL, "%s: give remote=IP[;IP...] "
				  "(unicast peers) or group=MCAST (multicast), "
				  "exactly one", p->name);
	if (local && (r = vx_parse_addr(p, "local", local, &p->local)) == 0)
		r = vx_family_check(p, "local", local, &p->local);
	p->has_local = local != NULL;
	if (r == 0)
		r = remote ? vx_parse_remotes(p, remote)
			   : vx_parse_group(p, group);
	p->gso |= p->family == AF_INET6;
	if (r == 0 && dev) {
		snprintf(p->dev, sizeof(p->dev), "%s", dev);
		p->ifindex = if_nametoindex(dev);
		if (!p->ifindex)
			r = netbe__err(-ENODEV, "%s: dev=%s: no such "
				       "interface", p->name, dev);
	}
	return r;
}

static int vx_parse(struct vx_priv *p, const struct netbe__opts *o)
{
	unsigned dflt = p->proto == NETBE__TUN_VXLAN ? NETBE__VXLAN_PORT
						     : NETBE__GENEVE_PORT;

	if (!netbe__opt_isset(o, "vni"))
		return netbe__err(-EINVAL, "%s: vni= is required (0-16777215, "
				  "the same on every endpoint)", p->name);
	p->vni = (uint32_t)netbe__opt_uint(o, "vni", 0);
	p->dstport = (uint16_t)netbe__opt_uint(o, "dstport", dflt);
	p->learning = netbe__opt_bool(o, "learning", true);
	p->gso = netbe__opt_bool(o, "udpcsum", false); /* IPv6: vx_parse_where */
	return vx_parse_where(p, o);
}

/* ---- sockets ---------------------------------------------------------------- */

static int vx_sockerr(struct vx_priv *p, const char *what)
{
	return netbe__err(-errno, "%s: %s: %s", p->name, what,
			  strerror(errno));
}

/* Big socket buffers: a TCP window of segments arrives at once. */
static void vx_bufs(int fd)
{
	int b = VX_BUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &b, sizeof(b)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &b, sizeof(b)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
}

/* Zero UDP checksums and DF over IPv4; checksums and no fragments over
 * IPv6; multicast: our interface, no loopback of our own floods. */
static int vx_sockopts(struct vx_priv *p, int fd)
{
	int one = 1, zero = 0, v4 = p->family == AF_INET;
	int df = v4 ? IP_PMTUDISC_DO : IPV6_PMTUDISC_DO;
	struct ip_mreqn mr = { .imr_ifindex = (int)p->ifindex };

	vx_bufs(fd);
	if (v4 ? setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, p->gso ? &zero : &one,
			    sizeof(one)) ||
		 setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &df, sizeof(df))
	       : setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
		 setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &df,
			    sizeof(df)))
		return vx_sockerr(p, "socket options");
	if (!p->mcast)
		return 0;
	if (v4 ? setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, 1) ||
		 (p->ifindex && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF,
					   &mr, sizeof(mr)))
	       : setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero,
			    sizeof(zero)) ||
		 (p->ifindex && setsockopt(fd, IPPROTO_IPV6,
					   IPV6_MULTICAST_IF, &p->ifindex,
					   sizeof(p->ifindex))))
		return vx_sockerr(p, "multicast options");
	return 0;
}

/* A socket bound to local= (any address with group=) at @port. */
static int vx_socket(struct vx_priv *p, uint16_t port, int *out)
{
	union netbe__tun_addr a = { .sa.sa_family = (sa_family_t)p->family };
	char what[64];
	int r;

	if (p->has_local && !p->mcast)
		a = p->local;
	vx_set_port(&a, port);
	*out = socket(p->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*out < 0)
		return vx_sockerr(p, "socket");
	if ((r = vx_sockopts(p, *out)) < 0)
		return r;
	snprintf(what, sizeof(what), "bind to UDP port %u", port);
	if (bind(*out, &a.sa, vx_salen(&a)) < 0)
		return vx_sockerr(p, what);
	return 0;
}

static int vx_join(struct vx_priv *p)
{
	struct ip_mreqn m4 = { .imr_multiaddr = p->group.in.sin_addr,
			       .imr_ifindex = (int)p->ifindex };
	struct ipv6_mreq m6 = { .ipv6mr_multiaddr = p->group.in6.sin6_addr,
				.ipv6mr_interface = p->ifindex };

	if (p->has_local && p->family == AF_INET)
		m4.imr_address = p->local.in.sin_addr;
	if (p->family == AF_INET
	    ? setsockopt(p->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m4, sizeof(m4))
	    : setsockopt(p->fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m6,
			 sizeof(m6)))
		return vx_sockerr(p, "joining group= (is there a multicast "
				     "route, or give dev=)");
	return 0;
}

/* A filter that accepts nothing: the pool's sockets only send. */
static int vx_deaf(struct vx_priv *p, int fd)
{
	struct sock_filter ret0 = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &ret0 };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return vx_sockerr(p, "srcport= socket filter");
	return 0;
}

static int vx_open_pool(struct vx_priv *p, const struct netbe__opts *o)
{
	const char *s = netbe__opt_str(o, "srcport", NULL);
	unsigned long lo, hi;
	int r;

	if (!s)
		return 0;
	if ((r = vx_parse_sport(p, s, &lo, &hi)) < 0)
		return r;
	for (unsigned long port = lo; port <= hi; port++) {
		int *fd = &p->sfd[p->nsfd++];

		if ((r = vx_socket(p, (uint16_t)port, fd)) < 0 ||
		    (r = vx_deaf(p, *fd)) < 0)
			return r;
	}
	return 0;
}

static int vx_open_sockets(struct vx_priv *p, const struct netbe__opts *o)
{
	uint16_t port = p->has_local && vx_port(&p->local) != p->dstport
			? vx_port(&p->local) : p->dstport;
	int r = vx_socket(p, port, &p->fd);

	if (r == 0 && p->mcast)
		r = vx_join(p);
	return r < 0 ? r : vx_open_pool(p, o);
}

/* ---- MTU -------------------------------------------------------------------- */

/* The underlay's MTU towards the first remote or the group (the route's,
 * found by connecting a throwaway socket), or dev='s. */
static int vx_underlay_mtu(struct vx_priv *p)
{
	const union netbe__tun_addr *to = p->mcast ? &p->group : &p->remote[0];
	int fd, mtu = -1, v4 = p->family == AF_INET;
	socklen_t len = sizeof(mtu);

	if (p->ifindex)
		return netbe__if_mtu(p->name, p->dev);
	fd = socket(p->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vx_sockerr(p, "socket");
	if (connect(fd, &to->sa, vx_salen(to)) < 0 ||
	    getsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6,
		       v4 ? IP_MTU : IPV6_MTU, &mtu, &len) < 0)
		mtu = -errno;
	close(fd);
	if (mtu < 0)
		return netbe__err(mtu, "%s: no route to %s= (%s): give a "
				  "route or dev=", p->name,
				  p->mcast ? "group" : "remote",
				  strerror(-mtu));
	return mtu;
}

static int vx_mtu(struct vx_priv *p, const struct netbe__opts *o)
{
	int over = p->family == AF_INET ? 50 : 70;
	int mtu = vx_underlay_mtu(p);

	if (mtu < 0)
		return mtu;
	if (mtu - over < 68)
		return netbe__err(-EINVAL, "%s: the underlay MTU %d leaves "
				  "less than 68 bytes inside %d of overhead",
				  p->name, mtu, over);
	p->mtu = (unsigned)(mtu - over);
	if (o->mtu > p->mtu)
		return netbe__err(-EINVAL, "%s: mtu=%u: the underlay MTU %d "
				  "less %d bytes of overhead allows %u at "
				  "most", p->name, o->mtu, mtu, over, p->mtu);
	if (o->mtu)
		p->mtu = o->mtu;
	return 0;
}

/* ---- transmit --------------------------------------------------------------- */

/* The longest inner frame: the MTU, an Ethernet header, one VLAN tag. */
static size_t vx_max_frame(const struct vx_priv *p, const uint8_t *f)
{
	bool tagged = (f[12] == 0x81 && f[13] == 0x00) ||
		      (f[12] == 0x88 && f[13] == 0xa8);

	return p->mtu + NETBE__TUN_ETH + (tagged ? 4 : 0);
}

/* Reads the frame's first bytes into @head (hashing and routing need
 * them); 0, or -errno when it must not go (runt, oversize). */
static int vx_tx_check(const struct vx_priv *p, const struct iovec *iov,
		       int iovcnt, uint8_t head[NETBE__TUN_FLOW_BYTES],
		       size_t *len, size_t *hlen)
{
	size_t vh = p->bq->hdr_len; /* a zero header: we claim no HOST_* */

	*len = netbe__iov_len(iov, iovcnt);
	*hlen = netbe__iov_to_buf(iov, iovcnt, vh, head, NETBE__TUN_FLOW_BYTES);
	if (*len < vh + NETBE__TUN_ETH)
		return -EINVAL;
	*len -= vh;
	if (*len < NETBE__TUN_ETH)
		return -EINVAL;
	if (*len > vx_max_frame(p, head))
		return -EMSGSIZE;
	return 0;
}

/* The underlay cannot send (no route: its link is down or gone; not an
 * oversize datagram): logged once under the port's label, and once when
 * a datagram goes again, never per frame.  Its frames count link-down. */
static int vx_tx_unreachable(struct vx_priv *p, int err)
{
	if (err != -ENETUNREACH && err != -EHOSTUNREACH && err != -ENETDOWN &&
	    err != -EADDRNOTAVAIL)
		return err;
	if (!p->tx_down)
		netbe__q_log(p->bq, NETBE_LOG_WARN, "%s: cannot send on the "
			     "underlay (%s): frames are dropped (link-down) "
			     "until it can", p->name, strerror(-err));
	p->tx_down = true;
	return -ENETDOWN;
}

/* The underlay's path MTU shrank below what the inner MTU (taken at
 * open) lets through: logged the 1st, 2nd, 4th ... time. */
static void vx_tx_too_big(struct vx_priv *p, int err)
{
	if (err == -EMSGSIZE && netbe__log_due(&p->too_big))
		netbe__q_log(p->bq, NETBE_LOG_WARN, "%s: the underlay refuses "
			     "a datagram as too long (its MTU shrank below "
			     "the inner MTU %u + overhead): frames dropped "
			     "(oversize), %llu so far", p->name, p->mtu,
			     (unsigned long long)p->too_big);
}

static void vx_tx_sent(struct vx_priv *p)
{
	if (!p->tx_down)
		return;
	p->tx_down = false;
	netbe__q_log(p->bq, NETBE_LOG_INFO, "%s: sending on the underlay "
		     "again", p->name);
}

/* Frame @m could not go (@err): counted here in a batch, returned by a
 * single send (whose caller counts it). */
static void vx_tx_lost(struct vx_priv *p, struct netbe_msg *m, int err)
{
	int why;

	err = vx_tx_unreachable(p, err);
	vx_tx_too_big(p, err);
	why = netbe__drop_reason(err);
	m->len = 0;
	if (p->tx.single) {
		p->tx.err = err;
		return;
	}
	netbe__q_drop(p->bq, NETBE_TX, why < 0 ? NETBE_DROP_PEER_GONE : why, 1);
}

/* Sends the datagrams gathered.  When the socket fills, sets *@stop to
 * the frames accepted (a frame one of whose copies went is accepted) and
 * returns it; -1 when all went. */
static bool vx_same_dest(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen &&
	       !memcmp(a->msg_name, b->msg_name, a->msg_namelen);
}

/* How many datagrams from @i one UDP_SEGMENT send can take: the same
 * destination, the first one's length but the last, which may be
 * shorter; at most 64 and 63 KiB. */
static int vx_gso_run(const struct vx_tx *t, int i)
{
	size_t len = t->dlen[i], total = len;
	int j = i + 1;

	while (j < t->n && j - i < 64 && t->dlen[j] <= len &&
	       total + t->dlen[j] <= 63 * 1024 &&
	       vx_same_dest(&t->mm[i].msg_hdr, &t->mm[j].msg_hdr)) {
		total += t->dlen[j];
		if (t->dlen[j++] < len)
			break;
	}
	return j - i;
}

/* One send of datagrams [@i, @i + @k) into t->gm[@e]: their iovecs in
 * a row, with a UDP_SEGMENT of the first one's length when k > 1. */
static void vx_gso_entry(struct vx_tx *t, int e, int i, int k, int *used)
{
	struct msghdr *h = &t->gm[e].msg_hdr;
	struct iovec *v = t->giov + *used;
	size_t n = 0;

	for (int d = i; d < i + k; d++) {
		const struct msghdr *m = &t->mm[d].msg_hdr;

		memcpy(v + n, m->msg_iov, m->msg_iovlen * sizeof(*v));
		n += m->msg_iovlen;
	}
	*h = (struct msghdr){ .msg_name = t->mm[i].msg_hdr.msg_name,
			      .msg_namelen = t->mm[i].msg_hdr.msg_namelen,
			      .msg_iov = v, .msg_iovlen = n };
	*used += (int)n;
	if (k > 1) {
		struct cmsghdr *c = (struct cmsghdr *)t->gcm[e];
		uint16_t seg = (uint16_t)t->dlen[i];

		h->msg_control = t->gcm[e];
		h->msg_controllen = sizeof(t->gcm[e]);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

/* Packs the datagrams from @i into t->gm; returns the sends. */
static int vx_gso_pack(struct vx_tx *t, int i)
{
	int e = 0, used = 0;

	while (i < t->n) {
		int k = vx_gso_run(t, i);

		t->gfirst[e] = i;
		vx_gso_entry(t, e++, i, k, &used);
		i += k;
	}
	t->gfirst[e] = i;
	return e;
}

/* Sends datagrams from @i: how many went, or -1 with errno. */
static int vx_send_some(struct vx_priv *p, int i)
{
	struct vx_tx *t = &p->tx;
	int e, r;

	if (!p->gso)
		return sendmmsg(t->fd, t->mm + i, (unsigned)(t->n - i),
				MSG_DONTWAIT | MSG_NOSIGNAL);
	e = vx_gso_pack(t, i);
	r = sendmmsg(t->fd, t->gm, (unsigned)e, MSG_DONTWAIT | MSG_NOSIGNAL);
	return r <= 0 ? r : t->gfirst[r] - i;
}

static int vx_flush(struct vx_priv *p, struct netbe_msg *msgs, int *stop)
{
	struct vx_tx *t = &p->tx;
	int i = 0;

	while (i < t->n) {
		int r = vx_send_some(p, i);

		if (r > 0) {
			vx_tx_sent(p);
			i += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS) {
			/* Full: frames from the first unsent one wait, unless
			 * one of its copies already went. */
			int f = t->frame[i];

			*stop = i && t->frame[i - 1] == f ? f + 1 : f;
			break;
		}
		/* This datagram cannot go (EMSGSIZE after a smaller path MTU,
		 * no route): its frame is counted, the rest go on. */
		if (msgs[t->frame[i]].len)
			vx_tx_lost(p, &msgs[t->frame[i]], -errno);
		i++;
	}
	t->n = t->used = 0;
	return *stop;
}

/* Adds one datagram of frame @f (@iov) to @to. */
static void vx_add(struct vx_priv *p, int f, const struct netbe_msg *m,
		   const union netbe__tun_addr *to)
{
	struct vx_tx *t = &p->tx;
	struct iovec *v = t->iov + t->used;
	struct msghdr *h = &t->mm[t->n].msg_hdr;

	int n = netbe__iov_skip(m->iov, m->iovcnt, p->bq->hdr_len, v + 1,
				VX_TX_IOV - t->used - 1);

	v[0] = (struct iovec){ p->hdr, NETBE__TUN_HDR };
	*h = (struct msghdr){ .msg_name = (void *)to,
			      .msg_namelen = vx_salen(to),
			      .msg_iov = v,
			      .msg_iovlen = (size_t)n + 1 };
	t->dlen[t->n] = NETBE__TUN_HDR + netbe__iov_len(v + 1, n);
	t->frame[t->n++] = f;
	t->used += n + 1;
}

/* Where frame @head goes: its learned endpoint (copied to @one), or
 * every remote / the group.  Returns the destinations' count. */
static unsigned vx_route(struct vx_priv *p, const uint8_t *head,
			 union netbe__tun_addr *one,
			 const union netbe__tun_addr **to)
{
	if (p->learning && !(head[0] & 1) &&
	    netbe__learn_find(&p->learn, head, netbe__learn_now(), one)) {
		*to = one;
		return 1;
	}
	*to = p->mcast ? &p->group : p->remote;
	return p->mcast ? 1 : p->nremote;
}

static int vx_pick_fd(const struct vx_priv *p, const uint8_t *head,
		      size_t hlen)
{
	if (!p->nsfd)
		return p->fd;
	return p->sfd[netbe__tun_src_port(netbe__tun_flow_hash(head, hlen),
					  0, (uint16_t)(p->nsfd - 1))];
}

/* Queues frame @f's datagrams, flushing first when they do not fit (in
 * the batch, the iovec pool, or the socket in use).  Returns -1 to go
 * on, or the frames accepted when the socket is full. */
static int vx_queue(struct vx_priv *p, struct netbe_msg *msgs, int f,
		    union netbe__tun_addr *learned, const uint8_t *head,
		    size_t hlen)
{
	struct vx_tx *t = &p->tx;
	const union netbe__tun_addr *to;
	unsigned nto = vx_route(p, head, &learned[f], &to);
	int fd = vx_pick_fd(p, head, hlen), stop = -1;

	if (t->n && (t->fd != fd || t->n + (int)nto > VX_BATCH ||
		     t->used + (int)nto * (msgs[f].iovcnt + 1) > VX_TX_IOV) &&
	    vx_flush(p, msgs, &stop) >= 0)
		return stop;
	if ((int)nto * (msgs[f].iovcnt + 1) > VX_TX_IOV || nto > VX_BATCH) {
		vx_tx_lost(p, &msgs[f], -EINVAL); /* absurd iovecs */
		return -1;
	}
	t->fd = fd;
	for (unsigned i = 0; i < nto; i++)
		vx_add(p, f, &msgs[f], &to[i]);
	return -1;
}

static int vx_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			 int n)
{
	struct vx_priv *p = bq->priv;
	union netbe__tun_addr learned[VX_BATCH];
	uint8_t head[NETBE__TUN_FLOW_BYTES];
	int stop = -1, f;

	if (n > VX_BATCH)
		n = VX_BATCH;
	p->tx.n = p->tx.used = 0;
	for (f = 0; f < n && stop < 0; f++) {
		size_t len, hlen;
		int r = vx_tx_check(p, msgs[f].iov, msgs[f].iovcnt, head, &len,
				    &hlen);

		msgs[f].len = r < 0 ? 0 : len + bq->hdr_len;
		if (r < 0)
			netbe__q_drop(bq, NETBE_TX, netbe__drop_reason(r), 1);
		else
			stop = vx_queue(p, msgs, f, learned, head, hlen);
	}
	if (stop < 0 && p->tx.n)
		vx_flush(p, msgs, &stop);
	if (stop < 0)
		stop = f;
	return stop == 0 ? -EAGAIN : stop;
}

static ssize_t vx_send(struct netbe__queue *bq, const struct iovec *iov,
		       int iovcnt)
{
	struct vx_priv *p = bq->priv;
	struct netbe_msg m = { (struct iovec *)iov, iovcnt, 0 };
	uint8_t head[NETBE__TUN_FLOW_BYTES];
	size_t len, hlen;
	int r = vx_tx_check(p, iov, iovcnt, head, &len, &hlen);

	if (r < 0)
		return r; /* the core counts it */
	p->tx.single = true;
	p->tx.err = -EHOSTUNREACH;
	r = vx_send_batch(bq, &m, 1);
	p->tx.single = false;
	if (r < 0)
		return r;
	return m.len ? (ssize_t)m.len : p->tx.err;
}

/* ---- receive ---------------------------------------------------------------- */

/*
 * Datagrams land in the staging area (struct vx_stage), VX_BATCH slots of
 * 64 KiB: with UDP_GRO one slot may hold many datagrams of one sender,
 * each seg[] bytes but the last.  They are checked, decapsulated and
 * copied into the caller's frames in order; runs of one TCP flow are
 * merged on the way (src/tunnel/gro.c).  What does not fit in this call's
 * frames stays staged for the next, and the eventfd keeps the queue's
 * readiness fd (an epoll set of it and the socket) readable meanwhile.
 */

/* The remote the datagram came from (by IP), or NULL. */
static const union netbe__tun_addr *vx_remote_of(const struct vx_priv *p,
						 const union netbe__tun_addr *a)
{
	for (unsigned i = 0; i < p->nremote; i++)
		if (netbe__tun_addr_same_ip(&p->remote[i], a))
			return &p->remote[i];
	return NULL;
}

/* Learns the source MAC of inner frame @f behind @from. */
static void vx_learn(struct vx_priv *p, const uint8_t *f,
		     const union netbe__tun_addr *from,
		     const union netbe__tun_addr *remote)
{
	union netbe__tun_addr at = *from;

	if (!p->learning)
		return;
	vx_set_port(&at, remote ? vx_port(remote) : p->dstport);
	netbe__learn_note(&p->learn, f + 6, &at, p->st.now);
}

/* The number of datagrams in slot @i from @off on. */
static uint64_t vx_st_count(const struct vx_stage *s, int i, size_t off)
{
	size_t left = s->mm[i].msg_len - off;

	return left ? (left + s->seg[i] - 1) / s->seg[i] : 1;
}

/* Slot @i's datagrams may be read: not cut short, from an allowed
 * source.  Otherwise all of them are dropped and counted. */
static bool vx_st_slot_ok(struct vx_priv *p, int i)
{
	struct vx_stage *s = &p->st;

	if (s->mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
		netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
		return false;
	}
	s->remote = vx_remote_of(p, &s->from[i]);
	if (!p->mcast && !s->remote) {
		netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_SOURCE,
			      vx_st_count(s, i, 0));
		return false;
	}
	return true;
}

/* Moves past the current datagram. */
static void vx_st_take(struct vx_stage *s)
{
	s->off += s->seg[s->slot];
	s->ready = false;
	if (s->off >= s->mm[s->slot].msg_len) {
		s->slot++;
		s->off = 0;
	}
}

/* The next good datagram's inner frame (@f, @len), checked, learned and
 * left current; bad ones on the way are dropped and counted.  false
 * when nothing is staged. */
static bool vx_st_next(struct vx_priv *p, uint8_t **f, size_t *len)
{
	struct vx_stage *s = &p->st;

	while (!s->ready && s->slot < s->n) {
		uint8_t *d = s->buf + (size_t)s->slot * VX_STAGE_BYTES + s->off;
		size_t dlen = s->mm[s->slot].msg_len - s->off, hlen;
		int why;

		if (s->off == 0 && !vx_st_slot_ok(p, s->slot)) {
			s->slot++;
			continue;
		}
		if (dlen > s->seg[s->slot])
			dlen = s->seg[s->slot];
		if (!netbe__tun_decap(p->proto, d, dlen, p->vni, &hlen, &why)) {
			netbe__q_drop(p->bq, NETBE_RX, why, 1);
			vx_st_take(s);
			continue;
		}
		s->f = d + hlen;
		s->flen = dlen - hlen;
		vx_learn(p, s->f, &s->from[s->slot], s->remote);
		s->ready = true;
	}
	*f = s->f;
	*len = s->flen;
	return s->ready;
}

/* Segment @f (@len bytes) may start a merge: TCP the frontend takes as
 * GSO, and not the last of its run (PSH). */
static bool vx_gro_ok(const struct vx_priv *p, const uint8_t *f, size_t len,
		      struct netbe__gro_seg *s)
{
	return netbe__gro_parse(f, len, s) &&
	       __atomic_load_n(s->v6 ? &p->gro6 : &p->gro4, __ATOMIC_RELAXED);
}

/* Appends to frame @m (its first segment @fa, parsed as @a, at the
 * start) the staged segments that continue its flow, while they fit in
 * @room payload bytes; returns the payload merged in all, *@psh the last
 * one's PSH. */
static size_t vx_gro_append(struct vx_priv *p, struct netbe_msg *m,
			    const uint8_t *fa, const struct netbe__gro_seg *a,
			    size_t room, bool *psh)
{
	size_t pay = a->pay, off = p->bq->hdr_len + a->hlen + a->pay, len;
	struct netbe__gro_seg b;
	uint8_t *fb;

	while (vx_st_next(p, &fb, &len) && vx_gro_ok(p, fb, len, &b) &&
	       b.pay <= a->pay && pay + b.pay <= room &&
	       netbe__gro_follows(fa, a, a->seq + (uint32_t)pay, fb, &b)) {
		netbe__buf_to_iov(fb + b.hlen, b.pay, m->iov, m->iovcnt, off);
		off += b.pay;
		pay += b.pay;
		*psh = b.psh;
		vx_st_take(&p->st);
		if (b.psh || b.pay < a->pay)
			break; /* the last of a merge */
	}
	return pay;
}

/*
 * Fills frame @m from the staged datagrams: one inner frame, or a run of
 * TCP segments merged into one GSO frame.  1, 0 when nothing is staged,
 * -ENOSPC when the next frame does not fit @m (consumed, not counted).
 */
static int vx_st_frame(struct vx_priv *p, struct netbe_msg *m)
{
	static const struct netbe_vnet_hdr zero;
	unsigned vh = p->bq->hdr_len;
	size_t cap = netbe__iov_len(m->iov, m->iovcnt), len, room, pay;
	struct netbe__gro_seg a;
	struct netbe_vnet_hdr h;
	bool psh = false;
	uint8_t *f;

	if (!vx_st_next(p, &f, &len))
		return 0;
	vx_st_take(&p->st);
	if (vh + len > cap)
		return -ENOSPC;
	netbe__buf_to_iov(f, len, m->iov, m->iovcnt, vh);
	m->len = vh + len;
	if (!vh || !vx_gro_ok(p, f, len, &a) || a.psh) {
		netbe__buf_to_iov(&zero, vh, m->iov, m->iovcnt, 0);
		return 1;
	}
	room = cap - vh - a.hlen;
	if (room > (size_t)(65535 - (a.hlen - 14)))
		room = (size_t)(65535 - (a.hlen - 14)); /* IP's length field */
	pay = vx_gro_append(p, m, f, &a, room, &psh);
	if (pay == a.pay) {
		netbe__buf_to_iov(&zero, vh, m->iov, m->iovcnt, 0);
		return 1;
	}
	netbe__gro_finish(f, a.hlen + pay, &a, pay, (uint16_t)a.pay, psh, &h);
	netbe__buf_to_iov(f, a.hlen, m->iov, m->iovcnt, vh);
	netbe__buf_to_iov(&h, vh, m->iov, m->iovcnt, 0);
	m->len = vh + a.hlen + pay;
	return 1;
}

/* Slot @i's segment size: UDP_GRO's, else its length. */
static size_t vx_st_seg(const struct vx_stage *s, int i)
{
	const struct msghdr *h = &s->mm[i].msg_hdr;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c;
	     c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		int seg;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO)
			continue;
		memcpy(&seg, CMSG_DATA(c), sizeof(seg));
		if (seg > 0)
			return (size_t)seg;
	}
	return s->mm[i].msg_len ? s->mm[i].msg_len : 1;
}

/* Reads what the socket holds into the (empty) staging area: slots
 * filled, 0 when nothing waits, or -errno. */
static int vx_st_fill(struct vx_priv *p)
{
	struct vx_stage *s = &p->st;
	int r;

	for (int i = 0; i < VX_BATCH; i++) {
		struct msghdr *h = &s->mm[i].msg_hdr;

		s->iov[i] = (struct iovec){ s->buf + (size_t)i * VX_STAGE_BYTES,
					    VX_STAGE_BYTES };
		*h = (struct msghdr){ .msg_name = &s->from[i],
				      .msg_namelen = sizeof(s->from[i]),
				      .msg_iov = &s->iov[i], .msg_iovlen = 1,
				      .msg_control = s->cm[i],
				      .msg_controllen = sizeof(s->cm[i]) };
	}
	do
		r = recvmmsg(p->fd, s->mm, VX_BATCH, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < r; i++)
		s->seg[i] = vx_st_seg(s, i);
	s->n = r;
	s->slot = 0;
	s->off = 0;
	s->ready = false;
	s->now = netbe__learn_now();
	return r;
}

/* Keeps the readiness fd readable while datagrams stay staged. */
static void vx_st_signal(struct vx_priv *p)
{
	struct vx_stage *s = &p->st;
	bool left = s->slot < s->n;
	uint64_t v = 1;
	ssize_t r;

	if (left == s->signalled)
		return;
	r = left ? write(s->efd, &v, sizeof(v)) : read(s->efd, &v, sizeof(v));
	(void)r; /* a counter that is already set (or clear) is as good */
	s->signalled = left;
}

/* Up to @n frames into @msgs, reading the socket at most once. */
static int vx_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			 int n)
{
	struct vx_priv *p = bq->priv;
	bool read = false, took = false;
	int out = 0, r = 0;

	while (out < n) {
		r = vx_st_frame(p, &msgs[out]);
		if (r != 0)
			took = true;
		if (r > 0)
			out++;
		else if (r < 0)
			netbe__q_drop(bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
		else if (read || (r = vx_st_fill(p)) <= 0)
			break;
		else
			read = took = true;
	}
	vx_st_signal(p);
	if (r < 0 && out == 0 && !took)
		return r;
	return out == 0 && took ? -ENOSPC : out;
}

/* One frame into @iov. */
static ssize_t vx_recv(struct netbe__queue *bq, const struct iovec *iov,
		       int iovcnt)
{
	struct vx_priv *p = bq->priv;
	struct netbe_msg m = { (struct iovec *)iov, iovcnt, 0 };
	int r = vx_st_frame(p, &m);

	if (r == 0 && (r = vx_st_fill(p)) > 0)
		r = vx_st_frame(p, &m);
	vx_st_signal(p);
	if (r < 0)
		return r; /* -ENOSPC: the core counts it */
	return r ? (ssize_t)m.len : 0; /* 0: none, or bad ones (counted) */
}

/* The next frame's length, as a buffer of just that size gets it (one
 * segment: a merge needs room for more). */
static ssize_t vx_peek(struct netbe__queue *bq)
{
	struct vx_priv *p = bq->priv;
	uint8_t *f;
	size_t len;
	int r = 0;

	if (!vx_st_next(p, &f, &len) && (r = vx_st_fill(p)) > 0)
		(void)vx_st_next(p, &f, &len);
	vx_st_signal(p);
	if (r < 0)
		return r;
	return p->st.ready ? (ssize_t)(len + p->bq->hdr_len) : 0;
}

static int vx_rx_error(struct netbe__queue *bq, int fd)
{
	struct vx_priv *p = bq->priv;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)fd; /* the epoll set: the socket is p->fd */
	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		netbe__q_log(bq, NETBE_LOG_DEBUG, "%s: socket error: %s",
			     p->name, strerror(err));
	return 0;
}

/* ---- open / close ----------------------------------------------------------- */

static void vx_release(struct vx_priv *p)
{
	for (unsigned i = 0; i < p->nsfd; i++)
		if (p->sfd[i] >= 0)
			close(p->sfd[i]);
	p->nsfd = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->st.ep >= 0)
		close(p->st.ep);
	if (p->st.efd >= 0)
		close(p->st.efd);
	p->st.ep = p->st.efd = -1;
	free(p->st.buf);
	p->st.buf = NULL;
	netbe__learn_free(&p->learn);
}

/* The staging area, UDP_GRO on the socket (an old kernel without it
 * gives one datagram per slot), and the epoll set that is the queue's
 * readiness fd: the socket, and the eventfd for what stays staged. */
static int vx_open_stage(struct vx_priv *p)
{
	struct vx_stage *s = &p->st;
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	s->buf = malloc((size_t)VX_BATCH * VX_STAGE_BYTES);
	if (!s->buf)
		return netbe__err(-ENOMEM, "%s: out of memory", p->name);
	(void)setsockopt(p->fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0)
		return vx_sockerr(p, "eventfd");
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		return vx_sockerr(p, "epoll_create1");
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, p->fd, &ev) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->efd, &ev) < 0)
		return vx_sockerr(p, "epoll_ctl");
	return 0;
}

static int vx_open_proto(struct netbe__queue *bq, const struct netbe__opts *o,
			 struct netbe__opened *out, enum netbe__tun_proto proto)
{
	struct vx_priv *p = bq->priv;
	int r;

	p->bq = bq;
	p->fd = p->st.efd = p->st.ep = -1;
	p->proto = proto;
	p->name = proto == NETBE__TUN_VXLAN ? "vxlan" : "geneve";
	r = vx_parse(p, o);
	if (r == 0)
		r = vx_mtu(p, o);
	if (r == 0)
		r = netbe__learn_init(&p->learn, (unsigned)netbe__opt_uint(
			o, "maxaddress", VX_LEARN_DEFAULT),
			(unsigned)netbe__opt_uint(o, "ageing", VX_AGE_DEFAULT));
	if (r == 0)
		r = vx_open_sockets(p, o);
	if (r == 0)
		r = vx_open_stage(p);
	if (r < 0) {
		vx_release(p);
		return r;
	}
	netbe__tun_encap(proto, p->vni, p->hdr);
	out->fd[0] = p->st.ep;
	out->caps = VX_CAPS;
	return 0;
}

static int vxlan_open(struct netbe__queue *bq, const struct netbe__opts *o,
		      struct netbe__opened *out)
{
	return vx_open_proto(bq, o, out, NETBE__TUN_VXLAN);
}

static int geneve_open(struct netbe__queue *bq, const struct netbe__opts *o,
		       struct netbe__opened *out)
{
	return vx_open_proto(bq, o, out, NETBE__TUN_GENEVE);
}

static void vx_close(struct netbe__queue *bq)
{
	vx_release(bq->priv);
}

/* A frontend that takes GUEST_TSO gets merged TCP (a vnet header of its
 * length); any other gets plain frames, no header. */
static int vx_set_cap(struct netbe__queue *bq, uint64_t features,
		      unsigned fe_hdr_len)
{
	struct vx_priv *p = bq->priv;
	bool hdr = fe_hdr_len == NETBE_VNET_HDR_LEN ||
		   fe_hdr_len == NETBE_VNET_HDR_MRG_LEN;
	bool csum = features & NETBE_F_GUEST_CSUM;

	__atomic_store_n(&p->gro4, hdr && csum &&
			 (features & NETBE_F_GUEST_TSO4), __ATOMIC_RELAXED);
	__atomic_store_n(&p->gro6, hdr && csum &&
			 (features & NETBE_F_GUEST_TSO6), __ATOMIC_RELAXED);
	return p->gro4 || p->gro6 ? (int)fe_hdr_len : 0;
}

static int vx_get_mtu(struct netbe__queue *bq)
{
	return (int)((struct vx_priv *)bq->priv)->mtu;
}

static int vx_tx_fd(struct netbe__queue *bq)
{
	struct vx_priv *p = bq->priv;

	return p->nsfd ? -1 : p->fd;
}

#define VX_OPS(proto_name, open_fn, desc)                                   \
	{                                                                   \
		.name = proto_name, .prefixes = proto_name,                 \
		.description = desc, .options = vx_options,                 \
		.priv_size = sizeof(struct vx_priv), .open = open_fn,       \
		.close = vx_close, .send = vx_send,                         \
		.peek_recvlen = vx_peek, .recv = vx_recv,                   \
		.send_batch = vx_send_batch, .recv_batch = vx_recv_batch,   \
		.rx_error = vx_rx_error, .tx_fd = vx_tx_fd,                 \
		.get_mtu = vx_get_mtu, .set_cap = vx_set_cap,               \
	}

const struct netbe__ops netbe__vxlan_ops =
	VX_OPS("vxlan", vxlan_open, "VXLAN (RFC 7348) tunnel endpoint: an L2 "
	       "segment over UDP, with kernel vxlan, OVS or switches as peers");
const struct netbe__ops netbe__geneve_ops =
	VX_OPS("geneve", geneve_open, "Geneve (RFC 8926) tunnel endpoint: "
	       "like vxlan, UDP 6081, options skipped (critical ones "
	       "dropped)");
