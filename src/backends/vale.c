/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vale: a port on a switch known by name, with the seed's VALE naming.
 *
 * Theory of operation
 *   "vale0:vm1" (or "vale,switch=vale0,port=vm1") is port vm1 on switch
 *   vale0.  The switch is looked for in three places, in order:
 *   - in this process (netbe_switch_publish(), or an earlier vale open):
 *     a SOCK_SEQPACKET socketpair; this handle keeps one end, the other
 *     is opened as "pipe,fd=N" on the switch's loop and attached as port
 *     vm1 (publish.c).  Close removes the port, then closes our end.
 *     Both touch the switch, so as with netbe_switch_attach() open and
 *     close such a port on the switch's loop thread or while that loop
 *     is not running (a VMM opens its NICs before it runs its loop).
 *   - in another program: its socket (see netbe_switch_publish()) answers
 *     a connect.  We check that it runs as our uid or root, send "PORT
 *     vm1", wait for "OK" (or "ERR ERRNO MESSAGE", which becomes our
 *     error) and keep the connection; the switch removes the port when
 *     we close it.
 *   - nowhere: the switch is created on this handle's loop, known in this
 *     process only (a library creates no files unasked), and freed with
 *     its last vale port, as VALE's switches come and go.
 *   Either way this end is a pipe end with the 12-byte header and every
 *   offload (pipe.h), so GSO frames cross whole, and pipe's data path
 *   runs on it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pipe.h"
#include "switch/publish.h"

#define VALE_REPLY_MS 5000 /* how long a switch may take to answer */
#define VALE_TOKEN_MAX 256

struct vale_priv {
	struct netbe__pipe_end end; /* first: pipe's data path reads it */
	struct sw_publish *pub;	    /* in-process: the switch we hold */
	struct sw_conn *conn;	    /* in-process: our port on it */
};

static const struct netbe_option vale_options[] = {
	{ "switch", NETBE_OPT_STRING, "switch name (default: the token up to "
	  "':', e.g. vale0)", 0, 0 },
	{ "port", NETBE_OPT_STRING, "port name on the switch (default: what "
	  "follows ':')", 0, 0 },
	{ NULL, 0, NULL, 0, 0 },
};

/* The switch and port names: the keys, else "SWITCH:PORT". */
static int vale_names(const struct netbe__opts *o, char *sw, char *port)
{
	const char *tok = o->token ? o->token : "";
	const char *colon = strchr(tok, ':');
	const char *s = netbe__opt_str(o, "switch", NULL);
	const char *p = netbe__opt_str(o, "port", NULL);
	int r;

	snprintf(sw, VALE_TOKEN_MAX, "%.*s", s ? (int)strlen(s) :
		 colon ? (int)(colon - tok) : (int)strlen(tok), s ? s : tok);
	snprintf(port, VALE_TOKEN_MAX, "%s", p ? p : colon ? colon + 1 : "");
	if (!*port)
		return netbe__err(-EINVAL, "vale: %s: a port name is required "
				  "(%s:PORT or port=NAME)", sw, sw);
	if ((r = netbe__vale_check_switch("vale", sw)) < 0)
		return r;
	return netbe__vale_check_port("vale", port);
}

/* Connects to switch @sw's socket: the fd, -ENOENT when no switch
 * answers there (no file, or a stale one), or -errno. */
static int vale_connect(const char *sw)
{
	struct netbe__sockaddr a;
	int fd, r = netbe__vale_addr("vale", sw, &a);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return netbe__err(-errno, "vale: %s: socket: %s", sw,
				  strerror(errno));
	if (connect(fd, (struct sockaddr *)&a.ss, a.len) == 0)
		return fd;
	r = -errno;
	close(fd);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return -ENOENT;
	return netbe__err(r, "vale: %s: connect %s: %s", sw,
			  netbe__sockaddr_path(&a), strerror(-r));
}

/* The switch runs as our uid or root. */
static int vale_peer_ok(int fd, const char *sw)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return netbe__err(-errno, "vale: %s: SO_PEERCRED: %s", sw,
				  strerror(errno));
	if (uc.uid != geteuid() && uc.uid != 0)
		return netbe__err(-EPERM, "vale: %s: the switch runs as uid "
				  "%u, not as uid %u or root", sw,
				  (unsigned)uc.uid, (unsigned)geteuid());
	return 0;
}

/* "OK", or "ERR ERRNO MESSAGE". */
static int vale_answer(const char *msg, const char *sw, const char *port)
{
	int err = 0, off = 0;

	if (!strcmp(msg, "OK"))
		return 0;
	if (sscanf(msg, "ERR %d %n", &err, &off) == 1 && err > 0 && off > 0)
		return netbe__err(-err, "vale: %s:%s: %s", sw, port,
				  msg + off);
	return netbe__err(-EPROTO, "vale: %s: unexpected answer from the "
			  "switch", sw);
}

/* Sends the hello and waits for the answer. */
static int vale_hello(int fd, const char *sw, const char *port)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "PORT %s", port), r;

	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return netbe__err(-errno, "vale: %s: send: %s", sw,
				  strerror(errno));
	do
		r = poll(&pfd, 1, VALE_REPLY_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return netbe__err(-ETIMEDOUT, "vale: %s: no answer from the "
				  "switch in %d ms", sw, VALE_REPLY_MS);
	n = (int)recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return netbe__err(n < 0 ? -errno : -ECONNRESET, "vale: %s: "
				  "the switch closed the connection", sw);
	msg[n] = '\0';
	return vale_answer(msg, sw, port);
}

/* Port @port on another program's switch, over connected @fd. */
static int vale_remote(struct netbe__queue *bq, const struct netbe__opts *o,
		       int fd, const char *sw, const char *port,
		       struct netbe__opened *out)
{
	int r = vale_peer_ok(fd, sw);

	if (r == 0)
		r = vale_hello(fd, sw, port);
	if (r < 0) {
		close(fd);
		return r;
	}
	netbe__pipe_end_init(bq, fd, o->mtu, out);
	return 0;
}

/* Port @port on the switch of this process we hold. */
static int vale_local(struct netbe__queue *bq, const struct netbe__opts *o,
		      const char *sw, const char *port,
		      struct netbe__opened *out)
{
	struct vale_priv *v = bq->priv;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) < 0)
		return netbe__err(-errno, "vale: %s:%s: socketpair: %s", sw,
				  port, strerror(errno));
	r = netbe__vale_attach(v->pub, port, sv[1], &v->conn);
	close(sv[1]); /* the switch's end works on its own duplicate */
	if (r < 0) {
		close(sv[0]);
		return netbe__err(r, "vale: %s:%s: %s", sw, port,
				  netbe_last_error());
	}
	netbe__pipe_end_init(bq, sv[0], o->mtu, out);
	return 0;
}

static int vale_open(struct netbe__queue *bq, const struct netbe__opts *o,
		     struct netbe__opened *out)
{
	struct vale_priv *v = bq->priv;
	char sw[VALE_TOKEN_MAX], port[VALE_TOKEN_MAX];
	int fd, r;

	if ((r = vale_names(o, sw, port)) < 0)
		return r;
	v->pub = netbe__vale_get(sw);
	if (!v->pub) {
		fd = vale_connect(sw);
		if (fd >= 0)
			return vale_remote(bq, o, fd, sw, port, out);
		if (fd != -ENOENT)
			return fd;
		if ((r = netbe__vale_get_or_create(sw, o->loop, &v->pub)) < 0)
			return netbe__err(r, "vale: %s: %s", sw,
					  netbe_last_error());
	}
	if ((r = vale_local(bq, o, sw, port, out)) < 0) {
		netbe__vale_put(v->pub);
		v->pub = NULL;
	}
	return r;
}

static void vale_close(struct netbe__queue *bq)
{
	struct vale_priv *v = bq->priv;

	/* The port first: the switch never reads our end's close. */
	netbe__vale_detach(v->conn);
	netbe__pipe_ops.close(bq);
	if (v->pub)
		netbe__vale_put(v->pub);
}

/* ---- the data path: pipe's, on our pipe end ----------------------------- */

static ssize_t vale_send(struct netbe__queue *bq, const struct iovec *iov,
			 int iovcnt)
{
	return netbe__pipe_ops.send(bq, iov, iovcnt);
}

static ssize_t vale_peek(struct netbe__queue *bq)
{
	return netbe__pipe_ops.peek_recvlen(bq);
}

static ssize_t vale_recv(struct netbe__queue *bq, const struct iovec *iov,
			 int iovcnt)
{
	return netbe__pipe_ops.recv(bq, iov, iovcnt);
}

static int vale_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			   int n)
{
	return netbe__pipe_ops.send_batch(bq, msgs, n);
}

static int vale_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs,
			   int n)
{
	return netbe__pipe_ops.recv_batch(bq, msgs, n);
}

static int vale_tx_fd(struct netbe__queue *bq)
{
	return netbe__pipe_ops.tx_fd(bq);
}

static int vale_get_mtu(struct netbe__queue *bq)
{
	return netbe__pipe_ops.get_mtu(bq);
}

const struct netbe__ops netbe__vale_ops = {
	.name = "vale",
	.prefixes = "vale",
	.description = "port on a named switch (vale0:vm1): in this process, "
		       "in another one through its socket, or created here",
	.options = vale_options,
	.priv_size = sizeof(struct vale_priv),
	.open = vale_open,
	.close = vale_close,
	.send = vale_send,
	.peek_recvlen = vale_peek,
	.recv = vale_recv,
	.send_batch = vale_send_batch,
	.recv_batch = vale_recv_batch,
	.tx_fd = vale_tx_fd,
	.get_mtu = vale_get_mtu,
};
