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
 *   The data fd is be->fd.  libvdeplug only offers vde_recv()/vde_send()
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

#include "netbe_int.h"

#define VDE_ETH_OVERHEAD 18 /* Ethernet header and a VLAN tag */
#define VDE_MTU_DEFAULT 1500
#define VDE_BOUNCE (NETBE_MAX_FRAME + 1) /* + 1: a bigger one shows */

struct vde_priv {
	VDECONN *conn;
	netbe_t *be;
	netbe_watch_t *ctl_w;
	uint8_t *rxbuf;	 /* bounce buffer for receive */
	size_t held;	 /* length of the frame peek left in rxbuf */
	uint8_t *txbuf;	 /* gathers scattered frames */
	size_t max_frame;
};

static const struct netbe_option vde_options[] = {
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

static const char *vde_sock(const struct netbe__opts *o)
{
	const char *s = netbe__opt_str(o, "sock", NULL);

	if (s)
		return s;
	s = o->be_name ? o->be_name : "";
	return *s == ':' ? s + 1 : s;
}

static int vde_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The switch closed the control connection: it is gone for good. */
static void vde_ctl_cb(int fd, int events, void *arg)
{
	struct vde_priv *p = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	(void)events;
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return; /* the switch said something; nothing we use */
	netbe__log(NETBE_LOG_WARN, "vde: the switch closed the connection");
	netbe_watch_del(p->ctl_w);
	p->ctl_w = NULL;
	netbe__rx_hangup(p->be);
}

static void vde_release(struct vde_priv *p)
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

static int vde_connect(struct vde_priv *p, const struct netbe__opts *o)
{
	const char *sock = vde_sock(o);
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

static int vde_open_be(netbe_t *be, const struct netbe__opts *o)
{
	struct vde_priv *p = be->priv;
	int r;

	p->be = be;
	p->max_frame = VDE_ETH_OVERHEAD + (be->mtu_cfg ? be->mtu_cfg
						  : VDE_MTU_DEFAULT);
	p->rxbuf = malloc(VDE_BOUNCE);
	p->txbuf = malloc(p->max_frame);
	if (!p->rxbuf || !p->txbuf) {
		r = netbe__err(-ENOMEM, "vde: out of memory");
		goto fail;
	}
	if ((r = vde_connect(p, o)) < 0)
		goto fail;
	be->fd = vde_datafd(p->conn);
	if ((r = vde_nonblock(be->fd)) < 0) {
		netbe__err(r, "vde: O_NONBLOCK: %s", strerror(-r));
		goto fail;
	}
	r = netbe_loop_add_fd(be->loop, vde_ctlfd(p->conn), NETBE_EV_READ, 1,
			      vde_ctl_cb, p, &p->ctl_w);
	if (r < 0)
		goto fail;
	be->be_hdr_len = 0;
	return 0;
fail:
	vde_release(p);
	be->fd = -1;
	return r;
}

static void vde_close_be(netbe_t *be)
{
	vde_release(be->priv);
	be->fd = -1;
}

static ssize_t vde_send_be(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	struct vde_priv *p = be->priv;
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
static ssize_t vde_fill(struct vde_priv *p)
{
	ssize_t n = vde_recv(p->conn, p->rxbuf, VDE_BOUNCE, 0);

	/* 0: an empty datagram, which is no frame (the core never sends
	 * one); reported as nothing waiting, the next call reads on. */
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

static ssize_t vde_peek(netbe_t *be)
{
	struct vde_priv *p = be->priv;
	ssize_t n;

	if (p->held)
		return (ssize_t)p->held;
	n = vde_fill(p);
	if (n > 0)
		p->held = (size_t)n;
	return n;
}

static ssize_t vde_recv_be(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	struct vde_priv *p = be->priv;
	ssize_t n = p->held ? (ssize_t)p->held : vde_fill(p);

	p->held = 0;
	if (n <= 0)
		return n;
	if ((size_t)n >= VDE_BOUNCE || (size_t)n > netbe__iov_len(iov, iovcnt))
		return -ENOSPC;
	return (ssize_t)netbe__buf_to_iov(p->rxbuf, (size_t)n, iov, iovcnt, 0);
}

static int vde_get_mtu(netbe_t *be)
{
	struct vde_priv *p = be->priv;

	return (int)(p->max_frame - VDE_ETH_OVERHEAD);
}

const struct netbe__ops netbe__vde_ops = {
	.name = "vde",
	.prefixes = "vde",
	.description = "a port on a VDE switch (vde_switch, libvdeplug URLs)",
	.options = vde_options,
	.priv_size = sizeof(struct vde_priv),
	.open = vde_open_be,
	.close = vde_close_be,
	.send = vde_send_be,
	.peek_recvlen = vde_peek,
	.recv = vde_recv_be,
	.get_mtu = vde_get_mtu,
};
