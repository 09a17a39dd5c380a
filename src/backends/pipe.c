/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipe: an in-process pair of backends, for tests, demos and benchmarks.
 *
 * Theory of operation
 *   "pipe:NAME" opened twice gives the two ends of one link: the first
 *   open creates an AF_UNIX SOCK_SEQPACKET socketpair, keeps one end and
 *   parks the other under NAME; the second open takes the parked end and
 *   frees the name for a new pair.  A seqpacket socket keeps frame
 *   boundaries, tells a frame's length without consuming it (MSG_PEEK |
 *   MSG_TRUNC), batches with sendmmsg/recvmmsg, and reports the other end's
 *   close as end-of-file - everything a backend needs, with no privileges.
 *
 *   With offload=on both ends carry a 12-byte virtio-net header in each
 *   message, so offloaded (GSO, partial checksum) frames pass whole; both
 *   ends must agree, so the first open decides and the second must match.
 *
 *   "pipe,fd=N" adopts one end someone else connected (a switch port
 *   behind a published switch's socket, a vale port's socketpair): an
 *   AF_UNIX SOCK_SEQPACKET socket whose far end speaks the 12-byte
 *   header, so offload is on.  We work on a duplicate of N, so N stays
 *   the caller's to close, whether the open succeeds or fails.  When an
 *   adopted end reads the end of file, besides hanging up, it tells the
 *   switch's publish code (netbe__sw_conn_eof), which removes the port
 *   if it is one of its own.  The header and the data path are shared
 *   with vale (pipe.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pipe.h"
#include "switch/publish.h"
#include "util.h"

#define PIPE_SNDBUF (4 << 20)
#define PIPE_BATCH_MAX 64

struct pipe_waiting {
	char *name;
	int fd;
	bool offload;
	uint64_t id;
	struct pipe_waiting *next;
};

static pthread_mutex_t pipe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pipe_waiting *pipe_parked;
static uint64_t pipe_next_id = 1;

static const struct netbe_option pipe_options[] = {
	{ "name", NETBE_OPT_STRING, "pair name (default: what follows 'pipe:')", 0, 0 },
	{ "offload", NETBE_OPT_BOOL, "carry a virtio-net header and offer all offloads", 0, 0 },
	{ "fd", NETBE_OPT_UINT, "adopt this connected AF_UNIX "
	  "SOCK_SEQPACKET socket (a duplicate of it; offload on)", 0, INT_MAX },
	{ NULL, 0, NULL, 0, 0 },
};

static struct pipe_waiting **parked_find(const char *name)
{
	struct pipe_waiting **p = &pipe_parked;

	while (*p && strcmp((*p)->name, name))
		p = &(*p)->next;
	return p;
}

/* Takes the parked end of @name; returns its fd or -ENOENT. */
static int pipe_take(const char *name, bool offload)
{
	struct pipe_waiting **p = parked_find(name), *w = *p;
	int fd;

	if (!w)
		return -ENOENT;
	if (w->offload != offload)
		return netbe__err(-EINVAL, "pipe: %s: offload=%s does not "
				  "match the other end", name,
				  offload ? "on" : "off");
	*p = w->next;
	fd = w->fd;
	free(w->name);
	free(w);
	return fd;
}

static void tune(int fd)
{
	int sz = PIPE_SNDBUF;

	/* Room for bursts; failing only costs throughput. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* Creates a pair, parks one end under @name, returns the other. */
static int pipe_create(const char *name, struct netbe__pipe_end *p)
{
	struct pipe_waiting *w = calloc(1, sizeof(*w));
	int sv[2];

	if (!w || !(w->name = strdup(name))) {
		free(w);
		return netbe__err(-ENOMEM, "pipe: out of memory");
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) < 0) {
		int err = -errno;

		free(w->name);
		free(w);
		return netbe__err(err, "pipe: %s: socketpair: %s", name,
				  strerror(-err));
	}
	tune(sv[0]);
	tune(sv[1]);
	w->fd = sv[1];
	w->offload = p->offload;
	w->id = p->parked_id = pipe_next_id++;
	w->next = pipe_parked;
	pipe_parked = w;
	return sv[0];
}

/* An AF_UNIX SOCK_SEQPACKET socket with a peer: 0 or -errno (message). */
static int pipe_check_fd(int fd)
{
	int type = 0, dom = 0;
	socklen_t tl = sizeof(type), dl = sizeof(dom);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) < 0)
		return netbe__err(errno == ENOTSOCK ? -EINVAL : -errno,
				  "pipe: fd=%d: %s", fd, strerror(errno));
	if (type != SOCK_SEQPACKET || dom != AF_UNIX)
		return netbe__err(-EINVAL, "pipe: fd=%d is not an AF_UNIX "
				  "SOCK_SEQPACKET socket", fd);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return netbe__err(-errno, "pipe: fd=%d: not connected: %s", fd,
				  strerror(errno));
	return 0;
}

/* "fd=N": a duplicate of the caller's connected socket. */
static int pipe_adopt(struct netbe__pipe_end *p, const struct netbe__opts *o)
{
	int fd = (int)netbe__opt_uint(o, "fd", 0), r;

	if (*netbe__opt_target(o, "name"))
		return netbe__err(-EINVAL, "pipe: fd=%d and a pair name "
				  "exclude each other", fd);
	if (!netbe__opt_bool(o, "offload", true))
		return netbe__err(-EINVAL, "pipe: fd=%d: invalid value 'off' "
				  "for 'offload' (an adopted end carries the "
				  "virtio-net header: on)", fd);
	if ((r = pipe_check_fd(fd)) < 0)
		return r;
	r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (r < 0)
		return netbe__err(-errno, "pipe: fd=%d: dup: %s", fd,
				  strerror(errno));
	tune(r);
	p->offload = p->adopted = true;
	return r;
}

/* A pair end: takes the parked end of the name, or parks a new one. */
static int pipe_pair(struct netbe__pipe_end *p, const struct netbe__opts *o)
{
	const char *name = netbe__opt_target(o, "name");
	int fd;

	if (!*name)
		return netbe__err(-EINVAL, "pipe: a name is required "
					   "(pipe:NAME or name=NAME)");
	p->offload = netbe__opt_bool(o, "offload", false);
	pthread_mutex_lock(&pipe_lock);
	fd = pipe_take(name, p->offload);
	if (fd == -ENOENT)
		fd = pipe_create(name, p);
	pthread_mutex_unlock(&pipe_lock);
	return fd;
}

static void pipe_fill(struct netbe__pipe_end *p, int fd, unsigned mtu,
		      struct netbe__opened *out)
{
	p->fd = out->fd[0] = fd;
	p->mtu = mtu;
	out->hdr_len = p->offload ? NETBE_VNET_HDR_MRG_LEN : 0;
	out->caps = p->offload ? NETBE_OFFLOAD_MASK : 0;
}

void netbe__pipe_end_init(struct netbe__queue *bq, int fd, unsigned mtu,
			  struct netbe__opened *out)
{
	struct netbe__pipe_end *p = bq->priv;

	tune(fd);
	p->offload = true;
	pipe_fill(p, fd, mtu, out);
}

static int pipe_open(struct netbe__queue *bq, const struct netbe__opts *o,
		     struct netbe__opened *out)
{
	struct netbe__pipe_end *p = bq->priv;
	int fd = netbe__opt_isset(o, "fd") ? pipe_adopt(p, o) : pipe_pair(p, o);

	if (fd < 0)
		return fd;
	pipe_fill(p, fd, o->mtu, out);
	return 0;
}

/* An end closed before its partner opened takes the parked end along. */
static void pipe_unpark(uint64_t id)
{
	struct pipe_waiting **p = &pipe_parked, *w;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	w = *p;
	if (!w)
		return;
	*p = w->next;
	close(w->fd);
	free(w->name);
	free(w);
}

static void pipe_close(struct netbe__queue *bq)
{
	struct netbe__pipe_end *p = bq->priv;

	pthread_mutex_lock(&pipe_lock);
	pipe_unpark(p->parked_id);
	pthread_mutex_unlock(&pipe_lock);
	close(p->fd);
}

static int pipe_fd(const struct netbe__queue *bq)
{
	return ((const struct netbe__pipe_end *)bq->priv)->fd;
}

static ssize_t pipe_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	ssize_t r = sendmsg(pipe_fd(bq), &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

	return r < 0 ? -errno : r;
}

/* A zero-length read is the other end's close (we never send empty
 * messages: the core refuses runts).  Said once: later reads see it too.
 * An adopted end's peer (a VMM, a vale client) leaving is routine. */
static ssize_t pipe_eof(struct netbe__queue *bq)
{
	struct netbe__pipe_end *p = bq->priv;

	if (!__atomic_exchange_n(&p->eof_logged, true, __ATOMIC_ACQ_REL))
		netbe__q_log(bq, p->adopted ? NETBE_LOG_INFO : NETBE_LOG_WARN,
			     "the other end closed the link; no reconnect, "
			     "frames sent now are dropped (peer-gone)");
	netbe__q_hangup(bq);
	if (p->adopted)
		netbe__sw_conn_eof(p->fd);
	return 0;
}

static ssize_t pipe_peek(struct netbe__queue *bq)
{
	ssize_t r = recv(pipe_fd(bq), NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

	if (r == 0)
		return pipe_eof(bq);
	return r < 0 ? (errno == EAGAIN ? 0 : -errno) : r;
}

static ssize_t pipe_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	ssize_t r = recvmsg(pipe_fd(bq), &mh, MSG_DONTWAIT);

	if (r == 0)
		return pipe_eof(bq);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	return mh.msg_flags & MSG_TRUNC ? -ENOSPC : r;
}

static int pipe_send_chunk(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct mmsghdr mm[PIPE_BATCH_MAX];
	int r;

	memset(mm, 0, sizeof(mm[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_iov = msgs[i].iov;
		mm[i].msg_hdr.msg_iovlen = (size_t)msgs[i].iovcnt;
	}
	r = sendmmsg(pipe_fd(bq), mm, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0)
		return -errno;
	for (int i = 0; i < r; i++)
		msgs[i].len = mm[i].msg_len;
	return r;
}

static int pipe_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	int done = 0;

	while (done < n) {
		int chunk = n - done < PIPE_BATCH_MAX ? n - done : PIPE_BATCH_MAX;
		int r = pipe_send_chunk(bq, msgs + done, chunk);

		if (r < 0)
			return done ? done : r;
		done += r;
		if (r < chunk)
			break; /* full */
	}
	return done;
}

/* Drops truncated frames from the @r received, keeping order. */
static int pipe_compact(struct netbe__queue *bq, struct netbe_msg *msgs,
			struct mmsghdr *mm, int r)
{
	int out = 0;

	for (int i = 0; i < r; i++) {
		/* Rare: a frame larger than its buffer came first. */
		if ((mm[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    (out != i &&
		     !netbe__msg_move(&msgs[out], &msgs[i], mm[i].msg_len))) {
			netbe__q_drop(bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
			continue;
		}
		msgs[out++].len = mm[i].msg_len;
	}
	return out;
}

static int pipe_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct mmsghdr mm[PIPE_BATCH_MAX];
	int r;

	if (n > PIPE_BATCH_MAX)
		n = PIPE_BATCH_MAX;
	memset(mm, 0, sizeof(mm[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_iov = msgs[i].iov;
		mm[i].msg_hdr.msg_iovlen = (size_t)msgs[i].iovcnt;
	}
	r = recvmmsg(pipe_fd(bq), mm, (unsigned)n, MSG_DONTWAIT, NULL);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (r > 0 && mm[0].msg_len == 0)
		return (int)pipe_eof(bq);
	n = pipe_compact(bq, msgs, mm, r);
	/* All dropped is not "nothing waiting": the core asks again. */
	return n == 0 && r > 0 ? -ENOSPC : n;
}

static int pipe_tx_fd(struct netbe__queue *bq)
{
	return pipe_fd(bq);
}

static int pipe_get_mtu(struct netbe__queue *bq)
{
	struct netbe__pipe_end *p = bq->priv;

	return p->mtu ? (int)p->mtu : 65535;
}

const struct netbe__ops netbe__pipe_ops = {
	.name = "pipe",
	.prefixes = "pipe",
	.description = "in-process pair: the two opens of pipe:NAME are the "
		       "two ends (no privileges)",
	.options = pipe_options,
	.priv_size = sizeof(struct netbe__pipe_end),
	.open = pipe_open,
	.close = pipe_close,
	.send = pipe_send,
	.peek_recvlen = pipe_peek,
	.recv = pipe_recv,
	.send_batch = pipe_send_batch,
	.recv_batch = pipe_recv_batch,
	.tx_fd = pipe_tx_fd,
	.get_mtu = pipe_get_mtu,
};
