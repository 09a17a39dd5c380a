/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vde.c - a port on a Virtual Distributed Ethernet switch ("vde").
 *
 * Theory of operation
 *   libvdeplug connects to a switch: "vde,sock=DIR" plugs into the
 *   vde_switch whose control directory is DIR (as QEMU's -netdev
 *   vde,sock=DIR does); any libvdeplug URL works too (vxvde://, ...).
 *   vde_open() registers a port through the control socket and gives a
 *   data fd on which each frame is one datagram, without any header.
 *
 *   The data fd is the queue's readiness fd.  libvdeplug only offers vde_recv()/vde_send()
 *   on flat buffers (a plugin may add or strip its own headers, so the
 *   fd itself is not ours to read), and vde_recv() truncates silently:
 *   frames are received into a bounce buffer larger than any frame, so a
 *   frame too big for the caller is detected (-ENOSPC) instead of being
 *   cut, and copied out.  peek_recvlen() receives into the same buffer
 *   and holds the frame for the next recv().  Sends of scattered frames
 *   are gathered into a buffer first.
 *
 *   Size.  vde_switch reads each frame into a 1518-byte buffer (Ethernet
 *   header, 1500 bytes and a VLAN tag): a longer frame is not dropped but
 *   silently cut to 1518 bytes (seen with vde2 2.3.2).  So send() refuses
 *   frames longer than mtu + 18 (-EMSGSIZE, counted as an error): with
 *   the default mtu of 1500 exactly what the switch carries whole.
 *   "mtu=" raises the limit for plugins that carry more (VDE's maximum is
 *   9216).
 *
 *   The switch going away closes the control socket: a watch on it marks
 *   the backend hung up, so the loop stops reporting its data fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvdeplug.h>

#include "util.h"

#define VDE_ETH_OVERHEAD 18 /* Ethernet header and a VLAN tag */
#define VDE_MTU_DEFAULT 1500
#define VDE_BOUNCE (NETBE_MAX_FRAME + 1) /* + 1: a bigger one shows */

struct vdebe_priv {
	VDECONN *conn;
	struct netbe__queue *bq;
	netbe_watch_t *ctl_w;
	uint8_t *rxbuf;	 /* bounce buffer for receive */
	size_t held;	 /* length of the frame peek left in rxbuf */
	uint8_t *txbuf;	 /* gathers scattered frames */
	size_t max_frame;
};

static const struct netbe_option vdebe_options[] = {
	{ .key = "sock", .type = NETBE_OPT_STRING,
	  .help = "the switch: vde_switch's control directory, or a "
		  "libvdeplug URL (default: what follows 'vde:')" },
	{ .key = "port", .type = NETBE_OPT_UINT,
	  .help = "switch port to plug into (default: any free one)",
	  .min = 0, .max = INT_MAX },
	{ .key = "group", .type = NETBE_OPT_STRING,
	  .help = "group that owns our data socket on the switch side" },
	{ .key = NULL },
};

/* The switch closed the control connection: it is gone for good. */
static void vdebe_ctl_cb(int fd, int events, void *arg)
{
	struct vdebe_priv *p = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	(void)events;
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return; /* the switch said something; nothing we use */
	netbe__q_log(p->bq, NETBE_LOG_WARN, "vde: the switch closed the "
		     "connection");
	netbe_watch_del(p->ctl_w);
	p->ctl_w = NULL;
	netbe__q_hangup(p->bq);
}

static void vdebe_release(struct vdebe_priv *p)
{
	netbe_watch_del(p->ctl_w);
	p->ctl_w = NULL;
	if (p->conn)
		vde_close(p->conn); /* also removes its socket file */
	p->conn = NULL;
	free(p->rxbuf);
	free(p->txbuf);
	p->rxbuf = p->txbuf = NULL;
}

static int vdebe_connect(struct vdebe_priv *p, const struct netbe__opts *o)
{
	const char *sock = netbe__opt_target(o, "sock");
	struct vde_open_args args = {
		.port = (int)netbe__opt_uint(o, "port", 0),
		.group = (char *)netbe__opt_str(o, "group", NULL),
		.mode = 0700,
	};
	char descr[] = "netbe";

	if (!*sock)
		return netbe__err(-EINVAL, "vde: a switch is required "
					   "(sock=DIR or vde:DIR)");
	errno = 0;
	p->conn = vde_open((char *)sock, descr, &args);
	if (!p->conn) {
		int err = errno ? errno : ECONNREFUSED;

		return netbe__err(-err, "vde: cannot plug into %s%s%s: %s",
				  sock, args.port ? " port " : "",
				  args.port ? netbe__opt_str(o, "port", "")
					    : "", strerror(err));
	}
	return 0;
}

static int vdebe_open(struct netbe__queue *bq, const struct netbe__opts *o,
		       struct netbe__opened *out)
{
	struct vdebe_priv *p = bq->priv;
	int r;

	p->bq = bq;
	p->max_frame = VDE_ETH_OVERHEAD + (o->mtu ? o->mtu : VDE_MTU_DEFAULT);
	p->rxbuf = malloc(VDE_BOUNCE);
	p->txbuf = malloc(p->max_frame);
	if (!p->rxbuf || !p->txbuf) {
		r = netbe__err(-ENOMEM, "vde: out of memory");
		goto fail;
	}
	if ((r = vdebe_connect(p, o)) < 0)
		goto fail;
	if ((r = netbe__set_nonblock(vde_datafd(p->conn))) < 0) {
		netbe__err(r, "vde: O_NONBLOCK: %s", strerror(-r));
		goto fail;
	}
	r = netbe_loop_add_fd(o->loop, vde_ctlfd(p->conn), NETBE_EV_READ, 1,
			      vdebe_ctl_cb, p, &p->ctl_w);
	if (r < 0)
		goto fail;
	out->fd[0] = vde_datafd(p->conn);
	return 0;
fail:
	vdebe_release(p);
	return r;
}

static void vdebe_close(struct netbe__queue *bq)
{
	vdebe_release(bq->priv);
}

static ssize_t vdebe_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct vdebe_priv *p = bq->priv;
	size_t len = netbe__iov_len(iov, iovcnt);
	const void *buf = iov[0].iov_base;
	ssize_t n;

	if (len > p->max_frame)
		return -EMSGSIZE; /* the switch would drop it unseen */
	if (iovcnt != 1) {
		netbe__iov_to_buf(iov, iovcnt, 0, p->txbuf, len);
		buf = p->txbuf;
	}
	n = vde_send(p->conn, buf, len, 0);
	return n < 0 ? -errno : n;
}

/* One datagram into the bounce buffer; 0 when none. */
static ssize_t vdebe_fill(struct vdebe_priv *p)
{
	ssize_t n = vde_recv(p->conn, p->rxbuf, VDE_BOUNCE, 0);

	/* 0: an empty datagram, which is no frame (the core never sends
	 * one); reported as nothing waiting, the next call reads on. */
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

static ssize_t vdebe_peek(struct netbe__queue *bq)
{
	struct vdebe_priv *p = bq->priv;
	ssize_t n;

	if (p->held)
		return (ssize_t)p->held;
	n = vdebe_fill(p);
	if (n > 0)
		p->held = (size_t)n;
	return n;
}

static ssize_t vdebe_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct vdebe_priv *p = bq->priv;
	ssize_t n = p->held ? (ssize_t)p->held : vdebe_fill(p);

	p->held = 0;
	if (n <= 0)
		return n;
	if ((size_t)n >= VDE_BOUNCE || (size_t)n > netbe__iov_len(iov, iovcnt))
		return -ENOSPC;
	return (ssize_t)netbe__buf_to_iov(p->rxbuf, (size_t)n, iov, iovcnt, 0);
}

static int vdebe_tx_fd(struct netbe__queue *bq)
{
	return vde_datafd(((struct vdebe_priv *)bq->priv)->conn);
}

static int vdebe_get_mtu(struct netbe__queue *bq)
{
	struct vdebe_priv *p = bq->priv;

	return (int)(p->max_frame - VDE_ETH_OVERHEAD);
}

const struct netbe__ops netbe__vde_ops = {
	.name = "vde",
	.prefixes = "vde",
	.description = "a port on a VDE switch (vde_switch, libvdeplug URLs)",
	.options = vdebe_options,
	.priv_size = sizeof(struct vdebe_priv),
	.open = vdebe_open,
	.close = vdebe_close,
	.send = vdebe_send,
	.peek_recvlen = vdebe_peek,
	.recv = vdebe_recv,
	.tx_fd = vdebe_tx_fd,
	.get_mtu = vdebe_get_mtu,
};
