/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dgram: QEMU's -netdev dgram (and -netdev socket udp=/mcast=) wire
 * format: one Ethernet frame per datagram, no header.
 *
 * Theory of operation
 *   "dgram,local=ADDR,remote=ADDR" with ADDR udp:HOST:PORT,
 *   udp:[V6]:PORT or unix:/path (both ends the same family).  The socket
 *   is bound to local= and connect()ed to remote=, so the kernel drops
 *   datagrams from any other sender: without it any local process could
 *   inject frames into the guest's network.  Datagrams keep frame
 *   boundaries, so peek is MSG_PEEK | MSG_TRUNC and batches are
 *   recvmmsg/sendmmsg, with no copy.
 *
 *   Who may send to us.  UDP: connect() needs no peer, so it is done in
 *   open; what reached the socket between bind() and connect() is read
 *   and thrown away (uncounted: the port was not open yet).  A connected
 *   UDP socket reports the peer's ICMP port-unreachable as ECONNREFUSED,
 *   once, on the next call: receive skips it, send tries once more, the
 *   EPOLLERR it raises is read by rx_error (logged at DEBUG), and a send
 *   that still fails is a "peer-gone" drop - never a spin or an error.
 *   Unix: local= gets mode 0600 whatever the umask (mode=, group=; see
 *   sockaddr.c), so by default only our user can reach it at all.  The
 *   peer's path may not exist yet, so connect() is tried in open and
 *   again before each send until it works; until then datagrams whose
 *   sender address is not remote='s path are dropped here, logged and
 *   counted as rx drops of reason "malformed".  When the peer dies the
 *   kernel reports ECONNREFUSED on our next send and disconnects us; we
 *   connect to the path again (a restarted peer) and resend once; when
 *   that fails the peer is logged as gone (once, WARN, under the port's
 *   label) and every send until it is back is a "peer-gone" drop.  A
 *   restarted peer's own datagrams are refused by the kernel (EPERM on
 *   its side) until that first send of ours reconnects.
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
 *   those drops as rx drops.)  Any member may send to a group; source=IP
 *   narrows that to one sender with a source-specific membership
 *   (IP_ADD_SOURCE_MEMBERSHIP), so the kernel filters and netbe never
 *   sees - or counts - the others.
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
#include <sys/un.h>
#include <unistd.h>

#include "util.h"
#include "sockaddr.h"

#define DGRAM_MIN_FRAME 14
#define DGRAM_BATCH_MAX 64
#define DGRAM_SKIP_MAX 64 /* unusable datagrams skipped per call */
#define DGRAM_DRAIN_MAX 4096 /* datagrams discarded after connect() */

/* What to do with a datagram, by its sender. */
enum dgram_from { FROM_PEER, FROM_SELF, FROM_STRANGER };

struct dgram_priv {
	struct netbe__queue *bq;
	struct netbe__sockaddr local, remote;
	bool has_local, mcast;
	int fd;		     /* receives; sends too unless mcast */
	int tx_fd;	     /* mcast: our private sending socket */
	uint16_t self_port;  /* mcast: tx_fd's port, network order */
	bool unlink_local;
	bool connected;	     /* fd is connect()ed to remote= (atomic) */
	bool warned;	     /* a stranger's datagram was logged (atomic) */
	struct netbe__unix_perms perms; /* unix local=: the file's mode */
	bool has_source;     /* mcast: source= */
	struct in_addr source;
};

static const struct netbe_option dgram_options[] = {
	{ .key = "local", .type = NETBE_OPT_STRING,
	  .help = "bind to udp:HOST:PORT, udp:[V6]:PORT or unix:/path "
		  "(multicast: optional interface address)" },
	{ .key = "remote", .type = NETBE_OPT_STRING,
	  .help = "send to udp:HOST:PORT, udp:[V6]:PORT, unix:/path, or "
		  "udp:GROUP:PORT for an IPv4 multicast group; unicast: the "
		  "socket is connected, datagrams from anyone else are "
		  "dropped" },
	{ .key = "mode", .type = NETBE_OPT_STRING,
	  .help = "with local=unix: the socket file's octal mode, whatever "
		  "the umask (default 600: only our user; 660 adds group=)" },
	{ .key = "group", .type = NETBE_OPT_STRING,
	  .help = "with local=unix: give the socket file to group NAME or "
		  "GID (use with mode=660)" },
	{ .key = "source", .type = NETBE_OPT_STRING,
	  .help = "with a multicast remote=: receive only from this IPv4 "
		  "sender (source-specific membership; default: any "
		  "member)" },
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

/* Unix, not connected yet: true when the sender is bound to remote=. */
static bool dgram_from_remote_path(const struct dgram_priv *p,
				   const struct sockaddr_storage *sa,
				   socklen_t len)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	const char *want = netbe__sockaddr_path(&p->remote);
	size_t n = strlen(want);

	if (sa->ss_family != AF_UNIX || len <= off || len - off < n)
		return false;
	return !memcmp(un->sun_path, want, n) &&
	       (len - off == n || un->sun_path[n] == '\0');
}

static void dgram_log_stranger(struct dgram_priv *p,
			       const struct sockaddr_storage *sa,
			       socklen_t len)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	int n = len > off ? (int)strnlen(un->sun_path, len - off) : 0;

	if (__atomic_exchange_n(&p->warned, true, __ATOMIC_RELAXED))
		return; /* counted; logged once */
	netbe__q_log(p->bq, NETBE_LOG_WARN, "dgram: local %s: dropped a "
		     "datagram from '%.*s', not remote %s (counted as "
		     "malformed rx drops; logged once)", p->local.text, n,
		     un->sun_path, p->remote.text);
}

/* Who sent the datagram from @sa (@len bytes of address). */
static enum dgram_from dgram_sender(struct dgram_priv *p,
				    const struct sockaddr_storage *sa,
				    socklen_t len)
{
	if (dgram_from_self(p, sa))
		return FROM_SELF;
	if (p->remote.proto != NETBE__SA_UNIX ||
	    __atomic_load_n(&p->connected, __ATOMIC_ACQUIRE) ||
	    dgram_from_remote_path(p, sa, len))
		return FROM_PEER; /* the kernel filtered, or the peer */
	dgram_log_stranger(p, sa, len);
	return FROM_STRANGER;
}

/* The drop reason of an unusable datagram, or -1: our own echo (not a
 * loss: we sent it). */
static int dgram_unusable(enum dgram_from from)
{
	if (from == FROM_SELF)
		return -1;
	return from == FROM_STRANGER ? NETBE_DROP_MALFORMED : NETBE_DROP_RUNT;
}

/* Consumes the datagram at the head and counts it dropped for @why
 * unless @why < 0. */
static void dgram_skip_one(struct dgram_priv *p, int why)
{
	char c;

	(void)recv(p->fd, &c, sizeof(c), MSG_DONTWAIT);
	if (why >= 0)
		netbe__q_drop(p->bq, NETBE_RX, why, 1);
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
		enum dgram_from from;

		if (r < 0 && (errno == ECONNREFUSED || errno == EINTR))
			continue; /* a stale ICMP error, reported once */
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		from = dgram_sender(p, &ss, mh.msg_namelen);
		if (r >= DGRAM_MIN_FRAME && from == FROM_PEER)
			return r;
		dgram_skip_one(p, dgram_unusable(from));
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
		enum dgram_from from;

		if (r < 0 && (errno == ECONNREFUSED || errno == EINTR))
			continue;
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		from = dgram_sender(p, &ss, mh.msg_namelen);
		if (from == FROM_PEER && (mh.msg_flags & MSG_TRUNC))
			return -ENOSPC; /* consumed; the core counts it */
		if (from == FROM_PEER && r >= DGRAM_MIN_FRAME)
			return r;
		if (dgram_unusable(from) >= 0)
			netbe__q_drop(bq, NETBE_RX, dgram_unusable(from), 1);
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
		enum dgram_from from = dgram_sender(p, &ss[i],
						    mm[i].msg_hdr.msg_namelen);

		if (from != FROM_PEER || len < DGRAM_MIN_FRAME) {
			if (dgram_unusable(from) >= 0)
				netbe__q_drop(p->bq, NETBE_RX,
					      dgram_unusable(from), 1);
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
	/* The peer is not there (yet): a drop, not backpressure. */
	return err == ENOENT || err == ECONNREFUSED ? -ENOTCONN : -err;
}

/* Unix: connects to remote= unless connected; 0 or -errno. */
static int dgram_unix_connect(struct dgram_priv *p)
{
	if (__atomic_load_n(&p->connected, __ATOMIC_ACQUIRE))
		return 0;
	if (connect(p->fd, (const struct sockaddr *)&p->remote.ss,
		    p->remote.len) < 0)
		return -errno;
	__atomic_store_n(&p->connected, true, __ATOMIC_RELEASE);
	netbe__q_log(p->bq, NETBE_LOG_INFO, "dgram: connected to %s",
		     p->remote.text);
	return 0;
}

/* Before a send: the destination is the connected peer (unicast) or
 * remote= (multicast, from tx_fd).  0 or -errno (a unix peer absent). */
static int dgram_tx_ready(struct dgram_priv *p)
{
	int r = 0;

	if (p->remote.proto == NETBE__SA_UNIX)
		r = dgram_unix_connect(p);
	return r < 0 ? dgram_tx_errno(-r) : 0;
}

/* A send failed with ECONNREFUSED: true when sending again may work.
 * UDP: a stale ICMP error, reported once.  Unix: the peer died and the
 * kernel disconnected us; a restarted peer may be at the path. */
static bool dgram_tx_refused(struct dgram_priv *p)
{
	int r;

	if (p->remote.proto != NETBE__SA_UNIX)
		return true;
	__atomic_store_n(&p->connected, false, __ATOMIC_RELEASE);
	r = dgram_unix_connect(p);
	if (r < 0) /* once: until connected again, sends do not get here */
		netbe__q_log(p->bq, NETBE_LOG_WARN, "dgram: remote %s: peer "
			     "gone (%s); frames are dropped (peer-gone), "
			     "connecting again on each send", p->remote.text,
			     strerror(-r));
	return r == 0;
}

static void dgram_tx_name(const struct dgram_priv *p, struct msghdr *mh)
{
	if (!p->mcast) /* connected */
		return;
	mh->msg_name = (void *)&p->remote.ss;
	mh->msg_namelen = p->remote.len;
}

static ssize_t dgram_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct dgram_priv *p = bq->priv;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	ssize_t r = dgram_tx_ready(p);

	if (r < 0)
		return r;
	dgram_tx_name(p, &mh);
	for (int tries = 0; tries < 2; tries++) {
		r = sendmsg(p->tx_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno != ECONNREFUSED || !dgram_tx_refused(p))
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
		dgram_tx_name(p, &mm[i].msg_hdr);
		mm[i].msg_hdr.msg_iov = msgs[i].iov;
		mm[i].msg_hdr.msg_iovlen = (size_t)msgs[i].iovcnt;
	}
	for (int tries = 0; tries < 2; tries++) {
		r = sendmmsg(p->tx_fd, mm, (unsigned)n,
			     MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0 || errno != ECONNREFUSED || !dgram_tx_refused(p))
			break;
	}
	if (r < 0)
		return dgram_tx_errno(errno);
	for (int i = 0; i < r; i++)
		msgs[i].len = mm[i].msg_len;
	return r;
}

static int dgram_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct dgram_priv *p = bq->priv;
	int done = dgram_tx_ready(p);

	if (done < 0)
		return done;

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

/* ---- errors -------------------------------------------------------------- */

/* EPOLLERR: a connected UDP socket's ICMP error (the peer is not up), or
 * a unix peer that went away.  Never fatal: frames sent meanwhile were
 * counted by send; receiving goes on. */
static int dgram_rx_error(struct netbe__queue *bq, int fd)
{
	struct dgram_priv *p = bq->priv;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err == ECONNREFUSED || err == ECONNRESET)
		netbe__q_log(bq, NETBE_LOG_DEBUG, "dgram: remote %s: %s "
			     "(not up yet?)", p->remote.text, strerror(err));
	else if (err)
		netbe__q_log(bq, NETBE_LOG_WARN, "dgram: receive: %s",
			     strerror(err));
	return 0;
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

/* Throws away what reached the socket before connect() filtered it. */
static void dgram_drain(int fd)
{
	char c;

	for (int i = 0; i < DGRAM_DRAIN_MAX; i++)
		if (recv(fd, &c, sizeof(c), MSG_DONTWAIT) < 0 &&
		    errno != EINTR && errno != ECONNREFUSED)
			break;
}

/* UDP: connect() needs no peer and must work (a route to it). */
static int dgram_connect_udp(struct dgram_priv *p)
{
	if (connect(p->fd, (const struct sockaddr *)&p->remote.ss,
		    p->remote.len) < 0)
		return netbe__err(-errno, "dgram: remote %s: connect: %s",
				  p->remote.text, strerror(errno));
	p->connected = true;
	dgram_drain(p->fd);
	return 0;
}

/* Unix: the peer may come later (see above). */
static int dgram_connect_unix(struct dgram_priv *p)
{
	int r = dgram_unix_connect(p);

	if (r == 0)
		dgram_drain(p->fd);
	else
		netbe__q_log(p->bq, NETBE_LOG_INFO, "dgram: remote %s: %s; "
			     "connecting on the first send, meanwhile only "
			     "datagrams from that path are taken",
			     p->remote.text, strerror(-r));
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
	if (p->local.proto != NETBE__SA_UNIX) {
		r = dgram_bind_inet(p->fd, &p->local);
		return r < 0 ? r : dgram_connect_udp(p);
	}
	r = netbe__sockaddr_bind_unix_perms(p->fd, &p->local, &p->perms,
					    "dgram: local");
	p->unlink_local = r == 0;
	return r < 0 ? r : dgram_connect_unix(p);
}

static struct in_addr dgram_local_v4(const struct dgram_priv *p)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&p->local.ss;
	struct in_addr any = { htonl(INADDR_ANY) };

	return p->has_local ? in->sin_addr : any;
}

/* Joins the group, from any member or only from source=. */
static int dgram_mcast_join(struct dgram_priv *p)
{
	const struct sockaddr_in *g = (const struct sockaddr_in *)&p->remote.ss;
	struct ip_mreq mreq = { g->sin_addr, dgram_local_v4(p) };
	struct ip_mreq_source ms = { .imr_multiaddr = g->sin_addr,
				     .imr_interface = dgram_local_v4(p),
				     .imr_sourceaddr = p->source };

	if (p->has_source)
		return setsockopt(p->fd, IPPROTO_IP,
				  IP_ADD_SOURCE_MEMBERSHIP, &ms, sizeof(ms));
	return setsockopt(p->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
			  sizeof(mreq));
}

/* The receiving socket: bound to the group, member of it. */
static int dgram_mcast_rx(struct dgram_priv *p)
{
	const struct sockaddr_in *g = (const struct sockaddr_in *)&p->remote.ss;
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
	if (dgram_mcast_join(p) < 0)
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

/* source=IP: multicast only. */
static int dgram_parse_source(struct dgram_priv *p, const char *s)
{
	if (!s)
		return 0;
	if (!p->mcast)
		return netbe__err(-EINVAL, "dgram: source=%s applies to a "
				  "multicast remote= only (a unicast remote= "
				  "is the only sender already)", s);
	if (inet_pton(AF_INET, s, &p->source) != 1)
		return netbe__err(-EINVAL, "dgram: source=%s: expected an "
				  "IPv4 address (the one sender to accept)",
				  s);
	p->has_source = true;
	return 0;
}

/* mode=, group= (unix local= only), source=. */
static int dgram_parse_access(struct dgram_priv *p,
			      const struct netbe__opts *o)
{
	const char *mode = netbe__opt_str(o, "mode", NULL);
	const char *group = netbe__opt_str(o, "group", NULL);
	int r;

	if ((mode || group) &&
	    (!p->has_local || p->local.proto != NETBE__SA_UNIX))
		return netbe__err(-EINVAL, "dgram: mode= and group= apply to "
				  "local=unix:/path only");
	r = netbe__unix_perms_parse(mode, group, "dgram", &p->perms);
	return r < 0 ? r : dgram_parse_source(p, netbe__opt_str(o, "source",
								NULL));
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
		r = dgram_parse_access(p, o);
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
	.rx_error = dgram_rx_error,
	.tx_fd = dgram_tx_fd,
};
