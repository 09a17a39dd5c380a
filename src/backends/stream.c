/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stream: QEMU's -netdev stream (and -netdev socket) wire format over a
 * unix or TCP stream socket: each frame is a 4-byte big-endian length
 * followed by the Ethernet frame, no virtio-net header.  With offload=on
 * (netbe to netbe only: QEMU does not speak it) each record carries a
 * 12-byte virtio-net header before the frame, inside the length.
 *
 * Theory of operation
 *   "stream,connect=ADDR[,reconnect=MS]" is a client, "stream,listen=ADDR"
 *   a server; ADDR is unix:/path, tcp:HOST:PORT or tcp:[V6]:PORT.  There
 *   is one connection at a time.  A server serves one peer like QEMU's
 *   stream server: while a peer is connected the listening socket is not
 *   watched, so a second client waits in the kernel's backlog and is
 *   accepted when the first leaves (passt also serves one at a time).
 *   When the peer goes, a server listens again and a client with
 *   reconnect= retries every MS milliseconds; meanwhile send() fails with
 *   -ENOTCONN and the core counts it.
 *
 *   Who may connect.  A unix listener's socket file is 0600 whatever the
 *   umask (mode= widens it, group= gives it to a group; sockaddr.c sets
 *   them between bind() and listen(), so no one connects in between):
 *   the file's mode decides who may open it.  allow_uid=UID;UID... then
 *   narrows that to peers whose SO_PEERCRED uid is listed, checked on
 *   accept.  A refused peer is closed at once, before any of its bytes
 *   is read, logged (WARN, with its uid and pid, under the port's label)
 *   and counted as one rx drop of reason "malformed" - the public drop
 *   reasons have no better name for it, and an rx drop is what `netbe
 *   stats` shows an operator.  A TCP listener has no such check: use a
 *   loopback address or a firewall.
 *
 *   File descriptors.  The core watches the queue's readiness fd (what
 *   open returns in out->fd[0]) for "frames may be ready", but the
 *   connected socket comes and goes.  So that fd is a private epoll
 *   set (rx_ep) that holds the connected socket while there is one, plus
 *   an eventfd we raise while complete frames sit in our buffer (the socket
 *   itself is not readable then, and level-triggered readiness must not
 *   lie).  An epoll fd polls readable when its set has events, so the core
 *   and the host see one stable fd and rx enable/disable needs no help.
 *   A second private set (ctl_ep), watched by our own loop watch, holds
 *   what the loop thread must act on: the listening socket, a connect in
 *   progress, and the connected socket for POLLOUT while a partly written
 *   frame waits.  One timer retries connects.
 *
 *   Offloads.  QEMU's framing has no header, so every GSO frame of the
 *   frontend is segmented before it goes out, one record per segment: a
 *   TCP flow tap -> stream -> stream -> tap made 1.26 Gbit/s, 0.14x the
 *   bridge.  offload=on puts the 12-byte header the core hands a backend
 *   with hdr_len 12 into the record as it is (as pipe's offload=on does
 *   on a socketpair), so a 64 KiB GSO frame crosses as one record and
 *   the receiving netbe's core finishes it for a frontend that cannot
 *   take it.  Both ends must say so; a header-less peer's records fail
 *   the length check or the header check and are dropped, counted.
 *
 *   Receive.  The socket is a byte stream: we read as much as fits into
 *   one buffer (several frames per read), and peek/recv serve frames from
 *   it, so copying is unavoidable.  A length below 14 (a runt, 0 included)
 *   or above NETBE_MAX_FRAME closes the connection, logged and counted as
 *   an rx error: the stream cannot be resynchronised, as in QEMU.
 *
 *   Transmit.  One sendmsg() of [length, frame...] per call, or of many
 *   frames for a batch.  When the socket takes only part of a frame, the
 *   rest goes to a tx buffer and is finished (from the loop on POLLOUT, or
 *   by the next send) before any other frame, so frames are never torn;
 *   while it is not finished, send() returns -EAGAIN, which the core
 *   counts as a drop.  Nothing is lost without being counted.
 *
 *   Threads.  Receive (rx_lock) and send (tx_lock) run on different
 *   threads; taking or dropping a connection takes both, rx first.  The
 *   send side never tears a connection down itself (it would need rx_lock
 *   out of order): it marks it broken, shuts it down and lets the timer
 *   (on the loop thread) drop it.  We never wait for a loop callback while
 *   holding a lock, because our callbacks take the same locks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "util.h"
#include "sockaddr.h"

#define STREAM_LEN_BYTES 4
#define STREAM_MIN_FRAME 14
#define STREAM_HDR NETBE_VNET_HDR_MRG_LEN /* with offload=on */
#define STREAM_REC_MAX (STREAM_LEN_BYTES + STREAM_HDR + NETBE_MAX_FRAME)
/* Room for several records per read(); always at least one whole one. */
#define STREAM_RXBUF (4 * STREAM_REC_MAX)
/* iovec entries of one sendmsg(): length + frame entries per frame. */
#define STREAM_TX_IOV 128
#define STREAM_DROP_DELAY_MS 1
#define STREAM_ALLOW_MAX 32 /* uids in allow_uid= */
#define STREAM_SOCKBUF (2 << 20) /* offload=on: see stream_set_bufs */

enum stream_tag { TAG_CONN = 1, TAG_PENDING, TAG_LISTEN, TAG_CONNECTING };

struct stream_priv {
	struct netbe__queue *bq;
	struct netbe__sockaddr addr;
	bool listening;		/* listen= (else connect=) */
	bool unlink_path;	/* we bound a unix path */
	struct netbe__unix_perms perms; /* listen=unix: the file's mode */
	uid_t allow[STREAM_ALLOW_MAX];	/* allow_uid=: peers let in */
	unsigned nallow;		/* 0: any peer that can connect */
	unsigned reconnect_ms;	/* 0: no reconnect */
	int rx_ep, ctl_ep;	/* private epoll sets, see above */
	struct netbe__evflag pending; /* readable: frames buffered */
	int listen_fd, conn_fd, connecting_fd;
	netbe_watch_t *ctl_watch, *timer;
	pthread_mutex_t rx_lock, tx_lock;
	bool broken;		/* tx saw the peer go; timer drops it */
	unsigned hdr;		/* header bytes in each record: 0 or 12 */
	uint8_t *rxbuf;
	size_t rx_head, rx_tail;
	uint8_t *txbuf;		/* remainder of a partly written frame */
	size_t tx_off, tx_len;
	char peer[160];
};

static const struct netbe_option stream_options[] = {
	{ .key = "connect", .type = NETBE_OPT_STRING,
	  .help = "connect to unix:/path, tcp:HOST:PORT or tcp:[V6]:PORT" },
	{ .key = "listen", .type = NETBE_OPT_STRING,
	  .help = "listen on unix:/path, tcp:HOST:PORT or tcp:[V6]:PORT and "
		  "serve one peer at a time" },
	{ .key = "reconnect", .type = NETBE_OPT_UINT,
	  .help = "with connect: retry every MS milliseconds while "
		  "disconnected (default: no retry)",
	  .min = 1, .max = 3600000 },
	{ .key = "mode", .type = NETBE_OPT_STRING,
	  .help = "with listen=unix: the socket file's octal mode, whatever "
		  "the umask (default 600: only our user; 660 adds group=)" },
	{ .key = "group", .type = NETBE_OPT_STRING,
	  .help = "with listen=unix: give the socket file to group NAME or "
		  "GID (use with mode=660)" },
	{ .key = "allow_uid", .type = NETBE_OPT_STRING,
	  .help = "with listen=unix: accept only peers whose uid "
		  "(SO_PEERCRED) is listed, UID[;UID...]; others are closed, "
		  "logged and counted as rx drops (default: anyone the mode "
		  "lets in)" },
	{ .key = "offload", .type = NETBE_OPT_BOOL,
	  .help = "carry a 12-byte virtio-net header in each record, so "
		  "GSO frames cross whole (netbe to netbe only; default off, "
		  "QEMU's format)" },
	{ .key = NULL },
};

/* ---- epoll set helpers --------------------------------------------------- */

static void stream_ep_add(int ep, int fd, uint32_t events, enum stream_tag tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	/* Only ENOMEM can fail here; the peer then looks silent, not lost. */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		netbe__log(NETBE_LOG_ERR, "stream: epoll_ctl: %s",
			   strerror(errno));
}

static void stream_ep_del(int ep, int fd)
{
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); /* may not be there */
}

/* Raises or clears the "frames buffered" flag, on transitions only. */
static void stream_pending_set(struct stream_priv *p, bool on)
{
	netbe__evflag_set(&p->pending, on);
}

/* ---- connection lifetime --------------------------------------------- */

static void stream_set_nodelay(const struct stream_priv *p, int fd)
{
	int one = 1;

	/* Frames are latency-sensitive; failing only costs latency. */
	if (p->addr.proto == NETBE__SA_TCP)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
}

/* Both locks held: @fd becomes the connection. */
/* offload=on: room for several 64 KiB records in flight (the default
 * 208 KiB holds three); the kernel caps it at net.core.wmem_max. */
static void stream_set_bufs(const struct stream_priv *p, int fd)
{
	int sz = STREAM_SOCKBUF;

	if (!p->hdr)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static void stream_conn_install(struct stream_priv *p, int fd)
{
	p->conn_fd = fd;
	p->broken = false;
	p->rx_head = p->rx_tail = 0;
	p->tx_off = p->tx_len = 0;
	stream_set_nodelay(p, fd);
	stream_set_bufs(p, fd);
	stream_ep_add(p->rx_ep, fd, EPOLLIN, TAG_CONN);
	if (p->listening)
		stream_ep_del(p->ctl_ep, p->listen_fd);
}

static void stream_arm_timer(struct stream_priv *p, unsigned ms)
{
	if (netbe_timer_set(p->timer, ms, 0) < 0)
		netbe__q_log(p->bq, NETBE_LOG_ERR,
			     "stream: cannot arm the timer");
}

/* Both locks held: forgets the connection; the caller logs why. */
static void stream_conn_forget(struct stream_priv *p)
{
	if (p->tx_len > p->tx_off) /* the tail of a frame we accepted */
		netbe__q_drop(p->bq, NETBE_TX, NETBE_DROP_PEER_GONE, 1);
	stream_ep_del(p->rx_ep, p->conn_fd);
	stream_ep_del(p->ctl_ep, p->conn_fd);
	close(p->conn_fd);
	p->conn_fd = -1;
	p->broken = false;
	p->rx_head = p->rx_tail = 0;
	p->tx_off = p->tx_len = 0;
	stream_pending_set(p, false);
	if (p->listening)
		stream_ep_add(p->ctl_ep, p->listen_fd, EPOLLIN, TAG_LISTEN);
	else if (p->reconnect_ms)
		stream_arm_timer(p, p->reconnect_ms);
}

/* rx_lock held: drops the connection and says why. */
static void stream_conn_drop(struct stream_priv *p, enum netbe_log_level lvl,
			     const char *why)
{
	const char *next = p->listening ? "; listening again"
			   : p->reconnect_ms ? "; will reconnect"
					     : "; no reconnect= given, staying "
					       "disconnected";

	if (p->conn_fd < 0)
		return;
	pthread_mutex_lock(&p->tx_lock);
	stream_conn_forget(p);
	pthread_mutex_unlock(&p->tx_lock);
	netbe__q_log(p->bq, lvl, "stream: %s: %s%s", p->peer, why, next);
}

/* tx_lock held: the send side found the peer gone. */
static void stream_conn_broken(struct stream_priv *p, int err)
{
	if (p->broken)
		return;
	p->broken = true;
	(void)shutdown(p->conn_fd, SHUT_RDWR);
	netbe__q_log(p->bq, NETBE_LOG_INFO, "stream: %s: send failed: %s",
		     p->peer, strerror(err));
	stream_arm_timer(p, STREAM_DROP_DELAY_MS);
}

static void stream_conn_accepted(struct stream_priv *p, int fd)
{
	pthread_mutex_lock(&p->rx_lock);
	pthread_mutex_lock(&p->tx_lock);
	if (p->conn_fd >= 0) /* cannot happen: we stop listening meanwhile */
		close(fd);
	else
		stream_conn_install(p, fd);
	pthread_mutex_unlock(&p->tx_lock);
	pthread_mutex_unlock(&p->rx_lock);
}

static bool stream_uid_allowed(const struct stream_priv *p, uid_t uid)
{
	for (unsigned i = 0; i < p->nallow; i++)
		if (p->allow[i] == uid)
			return true;
	return p->nallow == 0;
}

/* A unix peer: names it by its credentials; false when allow_uid=
 * refuses it (then it is logged and counted; the caller closes it). */
static bool stream_unix_peer_ok(struct stream_priv *p, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		netbe__q_log(p->bq, NETBE_LOG_WARN, "stream: %s: SO_PEERCRED: "
			     "%s; refusing the peer", p->addr.text,
			     strerror(errno));
		netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_MALFORMED, 1);
		return false;
	}
	snprintf(p->peer, sizeof(p->peer), "unix peer uid %u pid %d",
		 (unsigned)cr.uid, (int)cr.pid);
	if (stream_uid_allowed(p, cr.uid))
		return true;
	netbe__q_log(p->bq, NETBE_LOG_WARN, "stream: %s: refused %s: uid "
		     "not in allow_uid=; connection closed", p->addr.text,
		     p->peer);
	netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_MALFORMED, 1);
	return false;
}

static void stream_on_accept(struct stream_priv *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(p->listen_fd, (struct sockaddr *)&ss, &len,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != ECONNABORTED)
			netbe__q_log(p->bq, NETBE_LOG_WARN,
				     "stream: accept on %s: %s", p->addr.text,
				     strerror(errno));
		return;
	}
	netbe__sockaddr_format((struct sockaddr *)&ss, len, p->peer,
			       sizeof(p->peer));
	if (p->addr.proto == NETBE__SA_UNIX && !stream_unix_peer_ok(p, fd)) {
		close(fd);
		return;
	}
	stream_conn_accepted(p, fd);
	netbe__q_log(p->bq, NETBE_LOG_INFO, "stream: %s: %s connected; "
		     "serving one peer at a time, later ones wait in the "
		     "backlog until it leaves (as QEMU does)", p->addr.text,
		     p->peer);
}

/* ---- connecting (client) ----------------------------------------------- */

static int stream_socket(const struct stream_priv *p, int flags)
{
	return socket(netbe__sockaddr_family(&p->addr),
		      SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
}

static void stream_connected(struct stream_priv *p, int fd)
{
	snprintf(p->peer, sizeof(p->peer), "%s", p->addr.text);
	stream_conn_accepted(p, fd);
	netbe__q_log(p->bq, NETBE_LOG_INFO, "stream: connected to %s",
		     p->addr.text);
}

static void stream_connect_failed(struct stream_priv *p, int err)
{
	/* Every retry would repeat this: DEBUG keeps logs readable. */
	netbe__q_log(p->bq, NETBE_LOG_DEBUG, "stream: connect %s: %s; "
		     "retrying in %u ms", p->addr.text, strerror(err),
		     p->reconnect_ms);
	stream_arm_timer(p, p->reconnect_ms);
}

/* Loop thread: starts a non-blocking connect. */
static void stream_connect_start(struct stream_priv *p)
{
	int fd = stream_socket(p, SOCK_NONBLOCK);

	if (fd < 0) {
		stream_connect_failed(p, errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&p->addr.ss, p->addr.len) == 0) {
		stream_connected(p, fd);
		return;
	}
	if (errno == EINPROGRESS) {
		p->connecting_fd = fd;
		stream_ep_add(p->ctl_ep, fd, EPOLLOUT, TAG_CONNECTING);
		return;
	}
	stream_connect_failed(p, errno);
	close(fd);
}

static void stream_connect_finish(struct stream_priv *p)
{
	int fd = p->connecting_fd, err = 0;
	socklen_t len = sizeof(err);

	p->connecting_fd = -1;
	stream_ep_del(p->ctl_ep, fd);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		stream_connected(p, fd);
		return;
	}
	close(fd);
	stream_connect_failed(p, err);
}

/* Timer: drop a connection the send side broke, or retry a connect. */
static void stream_on_timer(int fd, int events, void *arg)
{
	struct stream_priv *p = arg;
	bool idle, broken;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&p->rx_lock);
	pthread_mutex_lock(&p->tx_lock);
	broken = p->broken;
	pthread_mutex_unlock(&p->tx_lock);
	if (broken)
		stream_conn_drop(p, NETBE_LOG_INFO, "peer gone");
	idle = p->conn_fd < 0 && p->connecting_fd < 0;
	pthread_mutex_unlock(&p->rx_lock);
	if (idle && !p->listening && p->reconnect_ms)
		stream_connect_start(p);
}

/* ---- transmit ------------------------------------------------------------ */

/* tx_lock held: writes what is left of a partly sent frame.  Returns 0
 * when nothing is left, -EAGAIN when some is, -errno on failure. */
static int stream_tx_flush(struct stream_priv *p)
{
	ssize_t n;

	while (p->tx_off < p->tx_len) {
		n = send(p->conn_fd, p->txbuf + p->tx_off,
			 p->tx_len - p->tx_off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return -EAGAIN;
		if (n < 0) {
			stream_conn_broken(p, errno);
			return -ENOTCONN;
		}
		p->tx_off += (size_t)n;
	}
	p->tx_off = p->tx_len = 0;
	stream_ep_del(p->ctl_ep, p->conn_fd);
	return 0;
}

/* tx_lock held: keeps bytes [@sent, end) of the frames in @v for later. */
static void stream_tx_keep(struct stream_priv *p, const struct iovec *v, int n,
			   size_t sent, size_t end)
{
	p->tx_len = netbe__iov_to_buf(v, n, sent, p->txbuf, end - sent);
	p->tx_off = 0;
	stream_ep_add(p->ctl_ep, p->conn_fd, EPOLLOUT, TAG_CONN);
}

/*
 * Fills @v with [length, frame] records for frames of @msgs as long as
 * they fit; returns the frames described (0 if the first does not fit).
 */
static int stream_tx_gather(struct netbe_msg *msgs, int n, uint32_t *lens,
			    struct iovec *v, int *nv)
{
	int i;

	*nv = 0;
	for (i = 0; i < n; i++) {
		size_t len = netbe__iov_len(msgs[i].iov, msgs[i].iovcnt);

		if (*nv + 1 + msgs[i].iovcnt > STREAM_TX_IOV)
			break;
		lens[i] = htonl((uint32_t)len);
		msgs[i].len = len;
		v[(*nv)++] = (struct iovec){ &lens[i], STREAM_LEN_BYTES };
		memcpy(&v[*nv], msgs[i].iov,
		       sizeof(*v) * (size_t)msgs[i].iovcnt);
		*nv += msgs[i].iovcnt;
	}
	return i;
}

/* Frames of @msgs wholly or partly in the first @sent bytes. */
static int stream_tx_accepted(const struct netbe_msg *msgs, int n, size_t sent,
			      size_t *end)
{
	size_t off = 0;
	int i;

	for (i = 0; i < n && off < sent; i++)
		off += STREAM_LEN_BYTES + msgs[i].len;
	*end = off;
	return i;
}

/* A frame with too many iovec entries for one call: copy it whole. */
static int stream_tx_linear(struct stream_priv *p, struct netbe_msg *m)
{
	uint32_t len = htonl((uint32_t)netbe__iov_len(m->iov, m->iovcnt));
	int r;

	memcpy(p->txbuf, &len, STREAM_LEN_BYTES);
	m->len = netbe__iov_to_buf(m->iov, m->iovcnt, 0,
				   p->txbuf + STREAM_LEN_BYTES,
				   p->hdr + NETBE_MAX_FRAME);
	p->tx_len = STREAM_LEN_BYTES + m->len;
	p->tx_off = 0;
	r = stream_tx_flush(p);
	if (r == -EAGAIN)
		stream_ep_add(p->ctl_ep, p->conn_fd, EPOLLOUT, TAG_CONN);
	return r == -ENOTCONN ? r : 1; /* accepted either way */
}

/* tx_lock held, tx buffer empty: sends frames; returns those accepted. */
static int stream_tx_frames(struct stream_priv *p, struct netbe_msg *msgs,
			    int n)
{
	uint32_t lens[STREAM_TX_IOV / 2];
	struct iovec v[STREAM_TX_IOV];
	struct msghdr mh = { .msg_iov = v };
	size_t end;
	ssize_t sent;
	int nv, k;

	if (n > STREAM_TX_IOV / 2)
		n = STREAM_TX_IOV / 2;
	k = stream_tx_gather(msgs, n, lens, v, &nv);
	if (k == 0)
		return stream_tx_linear(p, &msgs[0]);
	mh.msg_iovlen = (size_t)nv;
	do
		sent = sendmsg(p->conn_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent < 0 && errno == EAGAIN)
		return -EAGAIN;
	if (sent < 0) {
		stream_conn_broken(p, errno);
		return -ENOTCONN;
	}
	k = stream_tx_accepted(msgs, k, (size_t)sent, &end);
	if ((size_t)sent < end)
		stream_tx_keep(p, v, nv, (size_t)sent, end);
	return k;
}

static int stream_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct stream_priv *p = bq->priv;
	int r;

	pthread_mutex_lock(&p->tx_lock);
	if (p->conn_fd < 0 || p->broken)
		r = -ENOTCONN;
	else if (p->tx_len && (r = stream_tx_flush(p)) < 0)
		; /* -EAGAIN: the previous frame is still going out */
	else
		r = stream_tx_frames(p, msgs, n);
	pthread_mutex_unlock(&p->tx_lock);
	return r;
}

/* The connection polls writable when a refused send may go again. */
static int stream_tx_fd(struct netbe__queue *bq)
{
	struct stream_priv *p = bq->priv;
	int fd;

	pthread_mutex_lock(&p->tx_lock);
	fd = p->conn_fd;
	pthread_mutex_unlock(&p->tx_lock);
	return fd;
}

static ssize_t stream_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct netbe_msg m = { (struct iovec *)iov, iovcnt, 0 };
	int r = stream_send_batch(bq, &m, 1);

	return r < 0 ? r : (ssize_t)m.len;
}

/* ---- receive ------------------------------------------------------------- */

/* Length of the complete frame at the head, 0 if none yet, -EPROTO if
 * the peer sent an impossible length. */
static ssize_t stream_rx_frame_len(const struct stream_priv *p, uint32_t *bad)
{
	size_t have = p->rx_tail - p->rx_head;
	uint32_t len;

	if (have < STREAM_LEN_BYTES)
		return 0;
	memcpy(&len, p->rxbuf + p->rx_head, sizeof(len));
	len = ntohl(len);
	if (len < p->hdr + STREAM_MIN_FRAME || len > p->hdr + NETBE_MAX_FRAME) {
		*bad = len;
		return -EPROTO;
	}
	return have >= STREAM_LEN_BYTES + len ? (ssize_t)len : 0;
}

/* Makes room for at least one whole record after the head. */
static void stream_rx_compact(struct stream_priv *p)
{
	size_t have = p->rx_tail - p->rx_head;

	if (p->rx_head == 0 || STREAM_RXBUF - p->rx_head >= STREAM_REC_MAX)
		return;
	memmove(p->rxbuf, p->rxbuf + p->rx_head, have);
	p->rx_head = 0;
	p->rx_tail = have;
}

/* Reads what the socket has; returns bytes, 0 at end of stream, -errno. */
static ssize_t stream_rx_fill(struct stream_priv *p)
{
	ssize_t n;

	if (p->rx_head == p->rx_tail)
		p->rx_head = p->rx_tail = 0;
	stream_rx_compact(p);
	do
		n = recv(p->conn_fd, p->rxbuf + p->rx_tail,
			 STREAM_RXBUF - p->rx_tail, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	p->rx_tail += (size_t)n;
	return n;
}

static void stream_rx_bad_length(struct stream_priv *p, uint32_t len)
{
	char why[192];

	netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_MALFORMED, 1);
	snprintf(why, sizeof(why), "record length %u out of range %u-%u%s, "
		 "closing the connection", len, p->hdr + STREAM_MIN_FRAME,
		 p->hdr + NETBE_MAX_FRAME,
		 p->hdr ? " (offload=on: is the peer a netbe with offload=on?)"
			: "");
	stream_conn_drop(p, NETBE_LOG_WARN, why);
}

static void stream_rx_eof(struct stream_priv *p, ssize_t err)
{
	size_t have = p->rx_tail - p->rx_head;
	char why[128];

	if (have) /* a frame cut short: count the partial frame */
		netbe__q_drop(p->bq, NETBE_RX, NETBE_DROP_PEER_GONE, 1);
	if (err < 0)
		snprintf(why, sizeof(why), "receive failed: %s",
			 strerror((int)-err));
	else if (have)
		snprintf(why, sizeof(why), "peer closed mid-frame (%zu bytes "
			 "of a frame dropped)", have);
	else
		snprintf(why, sizeof(why), "peer closed the connection");
	stream_conn_drop(p, NETBE_LOG_INFO, why);
}

/* rx_lock held: the length of the next complete frame, reading from the
 * socket as needed; 0 when none (the connection may have been dropped). */
static ssize_t stream_rx_next(struct stream_priv *p)
{
	uint32_t bad = 0;
	ssize_t len, n;

	if (p->conn_fd < 0)
		return 0;
	for (;;) {
		len = stream_rx_frame_len(p, &bad);
		if (len == -EPROTO) {
			stream_rx_bad_length(p, bad);
			return 0;
		}
		if (len > 0)
			return len;
		n = stream_rx_fill(p);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			stream_rx_eof(p, n);
			return 0;
		}
	}
}

/* rx_lock held: keeps the pending eventfd truthful after a call. */
static void stream_rx_settle(struct stream_priv *p)
{
	uint32_t bad;

	stream_pending_set(p, p->conn_fd >= 0 &&
				      stream_rx_frame_len(p, &bad) != 0);
}

static ssize_t stream_peek(struct netbe__queue *bq)
{
	struct stream_priv *p = bq->priv;
	ssize_t r;

	pthread_mutex_lock(&p->rx_lock);
	r = stream_rx_next(p);
	stream_rx_settle(p);
	pthread_mutex_unlock(&p->rx_lock);
	return r;
}

static ssize_t stream_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct stream_priv *p = bq->priv;
	ssize_t len;

	pthread_mutex_lock(&p->rx_lock);
	len = stream_rx_next(p);
	if (len > 0) {
		const uint8_t *f = p->rxbuf + p->rx_head + STREAM_LEN_BYTES;

		p->rx_head += STREAM_LEN_BYTES + (size_t)len;
		if (netbe__iov_len(iov, iovcnt) < (size_t)len)
			len = -ENOSPC; /* consumed: the core counts the drop */
		else
			netbe__buf_to_iov(f, (size_t)len, iov, iovcnt, 0);
	}
	stream_rx_settle(p);
	pthread_mutex_unlock(&p->rx_lock);
	return len;
}

/* ---- loop callback for the control set ---------------------------------- */

static void stream_on_ctl(int fd, int events, void *arg)
{
	struct stream_priv *p = arg;
	struct epoll_event evs[4];
	int n = epoll_wait(p->ctl_ep, evs, 4, 0);

	(void)fd;
	(void)events;
	for (int i = 0; i < n; i++) {
		switch (evs[i].data.u32) {
		case TAG_LISTEN:
			stream_on_accept(p);
			break;
		case TAG_CONNECTING:
			stream_connect_finish(p);
			break;
		case TAG_CONN:
			pthread_mutex_lock(&p->tx_lock);
			if (p->conn_fd >= 0 && p->tx_len)
				(void)stream_tx_flush(p);
			pthread_mutex_unlock(&p->tx_lock);
			break;
		}
	}
}

/* ---- open / close ---------------------------------------------------------- */

static int stream_open_listen(struct stream_priv *p)
{
	const char *who = "stream: listen";
	int one = 1, fd = stream_socket(p, SOCK_NONBLOCK), r;

	if (fd < 0)
		return netbe__err(-errno, "%s %s: socket: %s", who,
				  p->addr.text, strerror(errno));
	if (p->addr.proto == NETBE__SA_UNIX) {
		/* The file's mode is final before listen(), below. */
		r = netbe__sockaddr_bind_unix_perms(fd, &p->addr, &p->perms,
						    who);
		p->unlink_path = r == 0;
	} else {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
		r = bind(fd, (struct sockaddr *)&p->addr.ss, p->addr.len) < 0
			    ? netbe__err(-errno, "%s %s: bind: %s", who,
					 p->addr.text, strerror(errno))
			    : 0;
	}
	if (r == 0 && listen(fd, 1) < 0)
		r = netbe__err(-errno, "%s %s: listen: %s", who, p->addr.text,
			       strerror(errno));
	if (r < 0) {
		close(fd);
		return r;
	}
	p->listen_fd = fd;
	stream_ep_add(p->ctl_ep, fd, EPOLLIN, TAG_LISTEN);
	return 0;
}

/* The first connect, from open(): blocking, so a bad address fails open
 * unless reconnect= asks to keep trying. */
static int stream_open_connect(struct stream_priv *p)
{
	int fd = stream_socket(p, 0), err;

	if (fd < 0)
		return netbe__err(-errno, "stream: socket: %s",
				  strerror(errno));
	if (connect(fd, (struct sockaddr *)&p->addr.ss, p->addr.len) == 0 &&
	    netbe__set_nonblock(fd) == 0) {
		snprintf(p->peer, sizeof(p->peer), "%s", p->addr.text);
		stream_conn_install(p, fd);
		return 0;
	}
	err = errno;
	close(fd);
	if (!p->reconnect_ms)
		return netbe__err(-err, "stream: connect %s: %s",
				  p->addr.text, strerror(err));
	netbe__q_log(p->bq, NETBE_LOG_INFO, "stream: connect %s: %s; "
		     "retrying every %u ms", p->addr.text, strerror(err),
		     p->reconnect_ms);
	stream_arm_timer(p, p->reconnect_ms);
	return 0;
}

/* allow_uid=UID[;UID...] */
static int stream_parse_allow(struct stream_priv *p, const char *s)
{
	char buf[512], *save = NULL, *tok;
	unsigned long uid;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		if (netbe__parse_uint(tok, (uid_t)-2, &uid) < 0 ||
		    p->nallow == STREAM_ALLOW_MAX)
			return netbe__err(-EINVAL, "stream: allow_uid=%s: "
					  "expected 1-%d numeric uids "
					  "separated by ';' (allow_uid=0;1000)",
					  s, STREAM_ALLOW_MAX);
		p->allow[p->nallow++] = (uid_t)uid;
	}
	if (p->nallow == 0)
		return netbe__err(-EINVAL, "stream: allow_uid=%s: expected at "
				  "least one numeric uid", s);
	return 0;
}

/* mode=, group=, allow_uid=: only for listen=unix:. */
static int stream_parse_access(struct stream_priv *p,
			       const struct netbe__opts *o)
{
	const char *mode = netbe__opt_str(o, "mode", NULL);
	const char *group = netbe__opt_str(o, "group", NULL);
	const char *allow = netbe__opt_str(o, "allow_uid", NULL);
	int r;

	if ((mode || group || allow) &&
	    (!p->listening || p->addr.proto != NETBE__SA_UNIX))
		return netbe__err(-EINVAL, "stream: mode=, group= and "
				  "allow_uid= apply to listen=unix:/path "
				  "only");
	r = netbe__unix_perms_parse(mode, group, "stream", &p->perms);
	if (r == 0 && allow)
		r = stream_parse_allow(p, allow);
	return r;
}

static int stream_parse_mode(struct stream_priv *p, const struct netbe__opts *o)
{
	const char *conn = netbe__opt_str(o, "connect", NULL);
	const char *lis = netbe__opt_str(o, "listen", NULL);
	unsigned allowed = NETBE__SA_UNIX | NETBE__SA_TCP;

	if (!conn == !lis)
		return netbe__err(-EINVAL, "stream: give exactly one of "
				  "connect=ADDR or listen=ADDR (ADDR: "
				  "unix:/path, tcp:HOST:PORT)");
	p->listening = lis != NULL;
	p->hdr = netbe__opt_bool(o, "offload", false) ? STREAM_HDR : 0;
	p->reconnect_ms = (unsigned)netbe__opt_uint(o, "reconnect", 0);
	if (p->listening && p->reconnect_ms)
		return netbe__err(-EINVAL, "stream: reconnect= applies to "
				  "connect=, not listen=");
	return netbe__sockaddr_parse(conn ? conn : lis, allowed,
				     p->listening ? "stream: listen"
						  : "stream: connect",
				     &p->addr);
}

static int stream_alloc_state(struct stream_priv *p)
{
	p->rxbuf = malloc(STREAM_RXBUF);
	p->txbuf = malloc(STREAM_REC_MAX);
	if (!p->rxbuf || !p->txbuf)
		return netbe__err(-ENOMEM, "stream: out of memory");
	p->rx_ep = epoll_create1(EPOLL_CLOEXEC);
	p->ctl_ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->rx_ep < 0 || p->ctl_ep < 0 || netbe__evflag_init(&p->pending))
		return netbe__err(-errno, "stream: epoll/eventfd: %s",
				  strerror(errno));
	stream_ep_add(p->rx_ep, p->pending.fd, EPOLLIN, TAG_PENDING);
	return 0;
}

static int stream_add_watches(struct stream_priv *p, netbe_loop_t *loop)
{
	int r = netbe_loop_add_fd(loop, p->ctl_ep, NETBE_EV_READ, 1,
				  stream_on_ctl, p, &p->ctl_watch);

	if (r == 0)
		r = netbe_loop_add_timer(loop, 0, 0, stream_on_timer, p,
					 &p->timer);
	return r;
}

static void stream_close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void stream_release(struct stream_priv *p)
{
	netbe_watch_del(p->ctl_watch);
	netbe_watch_del(p->timer);
	stream_close_fd(p->conn_fd);
	stream_close_fd(p->connecting_fd);
	stream_close_fd(p->listen_fd);
	netbe__evflag_close(&p->pending);
	stream_close_fd(p->ctl_ep);
	stream_close_fd(p->rx_ep);
	if (p->unlink_path)
		unlink(netbe__sockaddr_path(&p->addr));
	free(p->rxbuf);
	free(p->txbuf);
	pthread_mutex_destroy(&p->rx_lock);
	pthread_mutex_destroy(&p->tx_lock);
}

static int stream_open(struct netbe__queue *bq, const struct netbe__opts *o,
		       struct netbe__opened *out)
{
	struct stream_priv *p = bq->priv;
	int r;

	p->bq = bq;
	p->rx_ep = p->ctl_ep = p->pending.fd = -1;
	p->listen_fd = p->conn_fd = p->connecting_fd = -1;
	pthread_mutex_init(&p->rx_lock, NULL);
	pthread_mutex_init(&p->tx_lock, NULL);
	r = stream_parse_mode(p, o);
	if (r == 0)
		r = stream_parse_access(p, o);
	if (r == 0)
		r = stream_alloc_state(p);
	if (r == 0)
		r = stream_add_watches(p, o->loop);
	if (r == 0)
		r = p->listening ? stream_open_listen(p)
				 : stream_open_connect(p);
	if (r < 0) {
		stream_release(p);
		return r;
	}
	out->fd[0] = p->rx_ep;
	out->hdr_len = p->hdr;
	out->caps = p->hdr ? NETBE_OFFLOAD_MASK : 0;
	return 0;
}

static void stream_close(struct netbe__queue *bq)
{
	stream_release(bq->priv);
}

const struct netbe__ops netbe__stream_ops = {
	.name = "stream",
	.prefixes = "stream",
	.description = "QEMU -netdev stream/socket peer: 4-byte length + "
		       "frame over unix or TCP (connect= or listen=)",
	.options = stream_options,
	.priv_size = sizeof(struct stream_priv),
	.open = stream_open,
	.close = stream_close,
	.send = stream_send,
	.peek_recvlen = stream_peek,
	.recv = stream_recv,
	.send_batch = stream_send_batch,
	.tx_fd = stream_tx_fd,
};
