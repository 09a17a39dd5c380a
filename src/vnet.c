/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Translation between the frontend's virtio-net header length and the
 * backend's.
 *
 * Theory of operation
 *   bhyve lets the frontend and the backend disagree on the header: a tap
 *   without IFF_VNET_HDR has none while virtio-net always has 10 or 12
 *   bytes, and the frontend prepends or strips.  netbe does it once here,
 *   for every frontend: each frame crosses with the backend's length
 *   (be_hdr_len) below this line and the frontend's (fe_hdr_len) above it.
 *
 *   Nothing is copied but the header itself: the frame is described by a
 *   new iovec whose first entry is a header on the stack (when the backend
 *   has one) followed by the caller's entries minus the caller's header.
 *   The 12-byte form only adds num_buffers, which belongs to the frontend
 *   (it counts the guest's rx buffers), so it is zero towards the backend
 *   and towards the frontend alike.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netbe_int.h"
#include "vnet.h"

/* Room for a translated iovec: on the stack for the common short chain
 * (a big stack frame would cost stack-clash probes on every frame). */
#define VNET_IOV_FAST 64

static struct iovec *iov_room(struct iovec *small, int iovcnt)
{
	if (iovcnt < VNET_IOV_FAST)
		return small;
	return malloc(sizeof(*small) * ((size_t)iovcnt + 1));
}

static void iov_room_free(struct iovec *v, struct iovec *small)
{
	if (v != small)
		free(v);
}

/* Builds the backend-side iovec in @v (room for iovcnt + 1). */
static int tx_iov(const netbe_t *be, const struct iovec *iov, int iovcnt,
		  struct netbe_vnet_hdr *hdr, struct iovec *v)
{
	unsigned fe = be->fe_hdr_len, bh = be->be_hdr_len;
	int n = 0, r;

	memset(hdr, 0, sizeof(*hdr));
	if (fe && netbe__iov_to_buf(iov, iovcnt, 0, hdr, fe) != fe)
		return -EINVAL;
	hdr->num_buffers = 0;
	/* Without a backend header, an offloaded frame cannot be expressed;
	 * the frontend sent what it did not negotiate. */
	if (!bh && (hdr->flags & NETBE_VNET_HDR_F_NEEDS_CSUM ||
		    hdr->gso_type != NETBE_VNET_HDR_GSO_NONE))
		return -EPROTO;
	if (bh)
		v[n++] = (struct iovec){ .iov_base = hdr, .iov_len = bh };
	r = netbe__iov_skip(iov, iovcnt, fe, v + n, iovcnt);
	return r < 0 ? r : n + r;
}

ssize_t netbe__vnet_send(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	struct iovec small[VNET_IOV_FAST], *v;
	struct netbe_vnet_hdr hdr;
	ssize_t r;
	int n;

	if (be->fe_hdr_len == be->be_hdr_len)
		return be->ops->send(be, iov, iovcnt);
	v = iov_room(small, iovcnt);
	if (!v)
		return -ENOMEM;
	n = tx_iov(be, iov, iovcnt, &hdr, v);
	r = n < 0 ? n : be->ops->send(be, v, n);
	iov_room_free(v, small);
	if (r < 0)
		return r;
	return r - (ssize_t)be->be_hdr_len + (ssize_t)be->fe_hdr_len;
}

ssize_t netbe__vnet_peek(netbe_t *be)
{
	ssize_t r = be->ops->peek_recvlen(be);

	if (r <= 0 || be->fe_hdr_len == be->be_hdr_len)
		return r;
	return r - (ssize_t)be->be_hdr_len + (ssize_t)be->fe_hdr_len;
}

/* Writes the frontend's header, taken from the backend's @hdr. */
static void rx_hdr_out(const netbe_t *be, struct netbe_vnet_hdr *hdr,
		       const struct iovec *iov, int iovcnt)
{
	if (be->be_hdr_len < NETBE_VNET_HDR_LEN)
		memset(hdr, 0, sizeof(*hdr));
	hdr->num_buffers = 0;
	netbe__buf_to_iov(hdr, be->fe_hdr_len, iov, iovcnt, 0);
}

/* Consumes the next frame into a scratch header: every backend drops
 * what does not fit.  Returns -ENOSPC, 0 when there was none, or -errno. */
static ssize_t recv_drop(netbe_t *be)
{
	struct netbe_vnet_hdr scratch;
	struct iovec v = { .iov_base = &scratch, .iov_len = sizeof(scratch) };
	ssize_t r = be->ops->recv(be, &v, 1);

	return r > 0 || r == -ENOSPC ? -ENOSPC : r;
}

/* Same length both sides: the frame lands as is, but num_buffers is the
 * frontend's to fill, never what the other end of a link wrote. */
static ssize_t recv_same(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	static const uint16_t zero;
	ssize_t r = be->ops->recv(be, iov, iovcnt);

	if (r >= NETBE_VNET_HDR_MRG_LEN && be->fe_hdr_len == NETBE_VNET_HDR_MRG_LEN)
		netbe__buf_to_iov(&zero, sizeof(zero), iov, iovcnt,
				  NETBE_VNET_HDR_LEN);
	return r;
}

ssize_t netbe__vnet_recv(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	unsigned fe = be->fe_hdr_len, bh = be->be_hdr_len;
	struct iovec small[VNET_IOV_FAST], *v;
	struct netbe_vnet_hdr hdr;
	ssize_t r;
	int n = 0;

	if (fe == bh)
		return recv_same(be, iov, iovcnt);
	v = iov_room(small, iovcnt);
	if (!v)
		return -ENOMEM;
	if (bh)
		v[n++] = (struct iovec){ .iov_base = &hdr, .iov_len = bh };
	r = netbe__iov_skip(iov, iovcnt, fe, v + n, iovcnt);
	if (r >= 0)
		r = be->ops->recv(be, v, n + (int)r);
	else if (r == -EINVAL)
		r = recv_drop(be); /* not even room for the frontend's header */
	iov_room_free(v, small);
	if (r <= 0)
		return r;
	if (r < (ssize_t)bh)
		return -EIO;
	if (fe)
		rx_hdr_out(be, &hdr, iov, iovcnt);
	return r - (ssize_t)bh + (ssize_t)fe;
}
