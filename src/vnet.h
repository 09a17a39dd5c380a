/* SPDX-License-Identifier: BSD-2-Clause */
/* Header translation and software offloads between frontend and backend
 * (vnet.c). */
#ifndef NETBE_VNET_H
#define NETBE_VNET_H

#include "core.h"

/* Most iovec entries one frame may have (Linux's IOV_MAX). */
#define NETBE__IOV_MAX 1024

ssize_t netbe__vnet_send(netbe_t *be, const struct iovec *iov, int iovcnt);
ssize_t netbe__vnet_peek(netbe_t *be);
ssize_t netbe__vnet_recv(netbe_t *be, const struct iovec *iov, int iovcnt);
/* True when frames cross unchanged, so native batches may be used. */
bool netbe__vnet_tx_plain(const netbe_t *be);
bool netbe__vnet_rx_plain(const netbe_t *be);
/* True when a frame may join a native batch: its header is well-formed
 * and negotiated, and it needs no software offload.  Other frames go
 * through netbe__vnet_send(), one at a time, which refuses or completes
 * them. */
bool netbe__vnet_tx_batchable(netbe_t *be, const struct iovec *iov,
			      int iovcnt);
/* True when received frames wait in the library (segments of a GSO
 * frame): receive thread only. */
bool netbe__vnet_rx_held(const netbe_t *be);
/* Sends frames none of which needs the engine as one native batch (the
 * backend must have send_batch), translating header lengths.  Offers the
 * backend the first *@tried of them (fewer than @n when the scratch space
 * runs out), sets each accepted msgs[i].len in the frontend's terms and
 * returns how many the backend accepted (< *@tried: it is full), or
 * -errno. */
int netbe__vnet_send_batch(netbe_t *be, struct netbe_msg *msgs, int n,
			   int *tried);
/* Sends the segments kept from a frame the backend took in part: 0 when
 * none are left, -EAGAIN when some are (sending thread). */
int netbe__vnet_tx_flush(netbe_t *be);
/* Frees @be's offload state (be->offl). */
void netbe__vnet_free(netbe_t *be);

#endif
