/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dgram: QEMU's -netdev dgram (and -netdev socket udp=/mcast=) wire
 * format: one Ethernet frame per datagram, no header.
 *
 * Theory of operation
 *   "dgram,local=ADDR,remote=ADDR" with ADDR udp:HOST:PORT,
 *   udp:[V6]:PORT or unix:/path (both ends the same family).  The socket
 *   is bound to local= and every frame is sent to remote= with sendto()
 *   rather than connect(), so the peer may start later (a unix peer's
 *   path may not exist yet) and a previous ICMP error does not stick.
 *   Datagrams keep frame boundaries, so peek is MSG_PEEK | MSG_TRUNC and
 *   batches are recvmmsg/sendmmsg, with no copy.
 *
 *   Multicast: remote=udp:GROUP:PORT with an IPv4 group joins the group
 *   on a socket bound to GROUP:PORT with SO_REUSEADDR and SO_REUSEPORT, so
 *   several processes on one host share the group, as QEMU's mcast does
 *   (local=udp:ADDR:0, optional, picks the interface by its address).
 *   With IP_MULTICAST_LOOP on every member hears every frame - including
 *   its own, which a NIC must never receive (IPv6 duplicate address
 *   detection would fail, a bridge would see its own frames).  So we send
 *   from a second, unbound socket whose port is ours alone on this host,
 *   and drop datagrams coming from that port.  (A frame from another
 *   host's socket with the same port number is dropped too; we count
 *   those drops as rx drops.)
 *
 *   Malformed input: a datagram shorter than an Ethernet header (14
 *   bytes, zero-length ones included) or one truncated by the caller's
 *   buffer is dropped and counted; nothing a peer sends can crash us.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "sockaddr.h"

#define DGRAM_MIN_FRAME 14
#define DGRAM_BATCH_MAX 64
#define DGRAM_SKIP_MAX 64 /* unusable datagrams skipped per call */

struct dgram_priv {
	struct netbe__queue *bq;
	struct netbe__sockaddr local, remote;
	bool has_local, mcast;
	int fd;		     /* receives; sends too unless mcast */
	int tx_fd;	     /* mcast: our private sending socket */
	uint16_t self_port;  /* mcast: tx_fd's port, network order */
	bool unlink_local;
};

static const struct netbe_option dgram_options[] = {
	{ .key = "local", .type = NETBE_OPT_STRING,
	  .help = "bind to udp:HOST:PORT, udp:[V6]:PORT or unix:/path "
		  "(multicast: optional interface address)" },
	{ .key = "remote", .type = NETBE_OPT_STRING,
	  .help = "send to udp:HOST:PORT, udp:[V6]:PORT, unix:/path, or "
		  "udp:GROUP:PORT for an IPv4 multicast group" },
	{ .key = NULL },
};

/* ---- receive --------------------------------------------------------------- */

/* True when a datagram from @sa is one we sent (multicast loopback). */
static bool dgram_from_self(const struct dgram_priv *p,
			    const struct sockaddr_storage *sa)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

	return p->mcast && sa->ss_family == AF_INET &&
	       in->sin_port == p->self_port;
}

/* Consumes the datagram at the head and counts it dropped unless it was
 * our own multicast echo (not a loss: we sent it). */
static void dgram_skip_one(struct dgram_priv *p, bool own)
{
	char c;

	(void)recv(p->fd, &c, sizeof(c), MSG_DONTWAIT);
	if (!own)
		netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_RUNT, 1);
}

/* Next datagram's length without consuming it; drops unusable ones. */
static ssize_t dgram_peek(struct netbe__queue *bq)
{
	struct dgram_priv *p = bq->priv;

	for (int i = 0; i < DGRAM_SKIP_MAX; i++) {
		struct sockaddr_storage ss;
		struct msghdr mh = { .msg_name = &ss,
				     .msg_namelen = sizeof(ss) };
		ssize_t r = recvmsg(p->fd, &mh,
				    MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

		if (r < 0 && (errno == ECONNREFUSED || errno == EINTR))
			continue; /* a stale ICMP error, reported once */
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (r >= DGRAM_MIN_FRAME && !dgram_from_self(p, &ss))
			return r;
		dgram_skip_one(p, dgram_from_self(p, &ss));
	}
	return 0; /* still readable: the loop calls again */
}

static ssize_t dgram_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct dgram_priv *p = bq->priv;

	for (int i = 0; i < DGRAM_SKIP_MAX; i++) {
		struct sockaddr_storage ss;
		struct msghdr mh = { .msg_name = &ss,
				     .msg_namelen = sizeof(ss),
				     .msg_iov = (struct iovec *)iov,
				     .msg_iovlen = (size_t)iovcnt };
		ssize_t r = recvmsg(p->fd, &mh, MSG_DONTWAIT);

		if (r < 0 && (errno == ECONNREFUSED || errno == EINTR))
			continue;
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (dgram_from_self(p, &ss))
			continue;
		if (mh.msg_flags & MSG_TRUNC)
			return -ENOSPC; /* consumed; the core counts it */
		if (r >= DGRAM_MIN_FRAME)
			return r;
		netbe__q_drop(bq, NETBE_RX, NETBE_DROP_RUNT, 1);
	}
	return 0;
}

/* Keeps the usable datagrams of @r received, in order, at the front. */
static int dgram_compact(struct dgram_priv *p, struct netbe_msg *msgs,
			 struct mmsghdr *mm, struct sockaddr_storage *ss, int r)
{
	int out = 0;

	for (int i = 0; i < r; i++) {
		size_t len = mm[i].msg_len;

		if (dgram_from_self(p, &ss[i]))
			continue;
		if (len < DGRAM_MIN_FRAME) {
			netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_RUNT, 1);
			continue;
		}
		if ((mm[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    (out != i && !netbe__msg_move(&msgs[out], &msgs[i], len))) {
			netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
			continue;
		}
		msgs[out++].len = len;
	}
	return out;
}

static int dgram_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct dgram_priv *p = bq->priv;
	struct sockaddr_storage ss[DGRAM_BATCH_MAX];
	struct mmsghdr mm[DGRAM_BATCH_MAX];
	int r;

	if (n > DGRAM_BATCH_MAX)
		n = DGRAM_BATCH_MAX;
	memset(mm, 0, sizeof(mm[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_iov = msgs[i].iov;
		mm[i].msg_hdr.msg_iovlen = (size_t)msgs[i].iovcnt;
		mm[i].msg_hdr.msg_name = &ss[i];
		mm[i].msg_hdr.msg_namelen = sizeof(ss[i]);
	}
	do
		r = recvmmsg(p->fd, mm, (unsigned)n, MSG_DONTWAIT, NULL);
	while (r < 0 && (errno == EINTR || errno == ECONNREFUSED));
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	n = dgram_compact(p, msgs, mm, ss, r);
	/* All unusable is not "nothing waiting": the core asks again. */
	return n == 0 && r > 0 ? -ENOSPC : n;
}

/* ---- transmit ------------------------------------------------------------ */

static int dgram_tx_errno(int err)
{
	/* The peer is not there (yet): an error, not backpressure. */
	return err == ENOENT || err == ECONNREFUSED ? -ENOTCONN : -err;
}

static ssize_t dgram_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct dgram_priv *p = bq->priv;
	struct msghdr mh = { .msg_name = &p->remote.ss,
			     .msg_namelen = p->remote.len,
			     .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	ssize_t r;

	for (int tries = 0; tries < 2; tries++) {
		r = sendmsg(p->tx_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		/* UDP reports an earlier ICMP error once: send again. */
		if (errno != ECONNREFUSED || p->remote.proto != NETBE__SA_UDP)
			break;
	}
	return dgram_tx_errno(errno);
}

static int dgram_send_chunk(struct dgram_priv *p, struct netbe_msg *msgs, int n)
{
	struct mmsghdr mm[DGRAM_BATCH_MAX];
	int r;

	memset(mm, 0, sizeof(mm[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_name = &p->remote.ss;
		mm[i].msg_hdr.msg_namelen = p->remote.len;
		mm[i].msg_hdr.msg_iov = msgs[i].iov;
		mm[i].msg_hdr.msg_iovlen = (size_t)msgs[i].iovcnt;
	}
	r = sendmmsg(p->tx_fd, mm, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0)
		return dgram_tx_errno(errno);
	for (int i = 0; i < r; i++)
		msgs[i].len = mm[i].msg_len;
	return r;
}

static int dgram_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct dgram_priv *p = bq->priv;
	int done = 0;

	while (done < n) {
		int chunk = n - done < DGRAM_BATCH_MAX ? n - done
						       : DGRAM_BATCH_MAX;
		int r = dgram_send_chunk(p, msgs + done, chunk);

		if (r < 0)
			return done ? done : r;
		done += r;
		if (r < chunk)
			break; /* the socket is full */
	}
	return done;
}

/* ---- open / close -------------------------------------------------------- */

static int dgram_socket(const struct netbe__sockaddr *a)
{
	int fd = socket(netbe__sockaddr_family(a),
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return netbe__err(-errno, "dgram: socket: %s",
				  strerror(errno));
	return fd;
}

static int dgram_bind_inet(int fd, const struct netbe__sockaddr *a)
{
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		return netbe__err(-errno, "dgram: local %s: bind: %s",
				  a->text, strerror(errno));
	return 0;
}

static int dgram_open_unicast(struct dgram_priv *p)
{
	int r;

	if (!p->has_local)
		return netbe__err(-EINVAL, "dgram: local= is required unless "
				  "remote= is a multicast group");
	p->fd = dgram_socket(&p->local);
	if (p->fd < 0)
		return p->fd;
	p->tx_fd = p->fd;
	if (p->local.proto == NETBE__SA_UNIX) {
		r = netbe__sockaddr_bind_unix(p->fd, &p->local,
					      "dgram: local");
		p->unlink_local = r == 0;
		return r;
	}
	return dgram_bind_inet(p->fd, &p->local);
}

static struct in_addr dgram_local_v4(const struct dgram_priv *p)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&p->local.ss;
	struct in_addr any = { htonl(INADDR_ANY) };

	return p->has_local ? in->sin_addr : any;
}

/* The receiving socket: bound to the group, member of it. */
static int dgram_mcast_rx(struct dgram_priv *p)
{
	const struct sockaddr_in *g = (const struct sockaddr_in *)&p->remote.ss;
	struct ip_mreq mreq = { g->sin_addr, dgram_local_v4(p) };
	int one = 1;

	p->fd = dgram_socket(&p->remote);
	if (p->fd < 0)
		return p->fd;
	if (setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(p->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return netbe__err(-errno, "dgram: SO_REUSEADDR/PORT: %s",
				  strerror(errno));
	if (bind(p->fd, (const struct sockaddr *)g, sizeof(*g)) < 0)
		return netbe__err(-errno, "dgram: bind %s: %s", p->remote.text,
				  strerror(errno));
	if (setsockopt(p->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
		       sizeof(mreq)) < 0)
		return netbe__err(-errno, "dgram: join group %s: %s (is there "
				  "a multicast route?)",
				  p->remote.text, strerror(errno));
	return 0;
}

/* The sending socket: loops back to the host's other members. */
static int dgram_mcast_tx(struct dgram_priv *p)
{
	struct sockaddr_in me = { .sin_family = AF_INET,
				  .sin_addr = dgram_local_v4(p) };
	socklen_t len = sizeof(me);
	int one = 1;

	p->tx_fd = dgram_socket(&p->remote);
	if (p->tx_fd < 0)
		return p->tx_fd;
	if (setsockopt(p->tx_fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one,
		       sizeof(one)) < 0 ||
	    (p->has_local &&
	     setsockopt(p->tx_fd, IPPROTO_IP, IP_MULTICAST_IF, &me.sin_addr,
			sizeof(me.sin_addr)) < 0) ||
	    bind(p->tx_fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    getsockname(p->tx_fd, (struct sockaddr *)&me, &len) < 0)
		return netbe__err(-errno, "dgram: multicast send socket: %s",
				  strerror(errno));
	p->self_port = me.sin_port;
	return 0;
}

static int dgram_open_mcast(struct dgram_priv *p)
{
	int r;

	if (netbe__sockaddr_family(&p->remote) != AF_INET)
		return netbe__err(-ENOTSUP, "dgram: remote %s: only IPv4 "
				  "multicast groups are supported",
				  p->remote.text);
	if (p->has_local && netbe__sockaddr_family(&p->local) != AF_INET)
		return netbe__err(-EINVAL, "dgram: local %s: must be an IPv4 "
				  "interface address for an IPv4 group",
				  p->local.text);
	r = dgram_mcast_rx(p);
	return r < 0 ? r : dgram_mcast_tx(p);
}

static int dgram_parse_addrs(struct dgram_priv *p, const struct netbe__opts *o)
{
	const char *local = netbe__opt_str(o, "local", NULL);
	const char *remote = netbe__opt_str(o, "remote", NULL);
	unsigned allowed = NETBE__SA_UNIX | NETBE__SA_UDP;
	int r;

	if (!remote)
		return netbe__err(-EINVAL, "dgram: remote= is required "
				  "(udp:HOST:PORT, udp:GROUP:PORT or "
				  "unix:/path)");
	r = netbe__sockaddr_parse(remote, allowed, "dgram: remote",
				  &p->remote);
	p->has_local = local != NULL;
	if (r == 0 && local)
		r = netbe__sockaddr_parse(local, allowed, "dgram: local",
					  &p->local);
	if (r == 0 && local && p->local.proto != p->remote.proto)
		r = netbe__err(-EINVAL, "dgram: local %s and remote %s must "
			       "both be udp: or both unix:", p->local.text,
			       p->remote.text);
	p->mcast = netbe__sockaddr_is_mcast(&p->remote);
	return r;
}

static void dgram_release(struct dgram_priv *p)
{
	if (p->tx_fd >= 0 && p->tx_fd != p->fd)
		close(p->tx_fd);
	if (p->fd >= 0)
		close(p->fd);
	if (p->unlink_local)
		unlink(netbe__sockaddr_path(&p->local));
}

static int dgram_open(struct netbe__queue *bq, const struct netbe__opts *o,
		      struct netbe__opened *out)
{
	struct dgram_priv *p = bq->priv;
	int r;

	p->bq = bq;
	p->fd = p->tx_fd = -1;
	r = dgram_parse_addrs(p, o);
	if (r == 0)
		r = p->mcast ? dgram_open_mcast(p) : dgram_open_unicast(p);
	if (r < 0) {
		dgram_release(p);
		return r;
	}
	out->fd[0] = p->fd;
	return 0;
}

static int dgram_tx_fd(struct netbe__queue *bq)
{
	return ((struct dgram_priv *)bq->priv)->tx_fd;
}

static void dgram_close(struct netbe__queue *bq)
{
	dgram_release(bq->priv);
}

const struct netbe__ops netbe__dgram_ops = {
	.name = "dgram",
	.prefixes = "dgram",
	.description = "QEMU -netdev dgram peer: one frame per UDP or unix "
		       "datagram; IPv4 multicast groups",
	.options = dgram_options,
	.priv_size = sizeof(struct dgram_priv),
	.open = dgram_open,
	.close = dgram_close,
	.send = dgram_send,
	.peek_recvlen = dgram_peek,
	.recv = dgram_recv,
	.send_batch = dgram_send_batch,
	.recv_batch = dgram_recv_batch,
	.tx_fd = dgram_tx_fd,
};
