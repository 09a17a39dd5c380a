/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backend API: handles, queues, negotiation, counters.
 *
 * Theory of operation
 *   netbe_init() checks the config, picks the backend (registry.c), lets
 *   it open, then registers every queue's fd with the loop, disabled.  The
 *   loop calls rx_ready(), which calls the frontend's callback; the
 *   frontend then pulls frames with peek/recv.  Every frame crosses
 *   vnet.c, which translates header lengths, and is counted here, once, so
 *   backends stay small and every backend's counters mean the same thing.
 *
 *   Queues: a backend with several queues (tap's IFF_MULTI_QUEUE) gets one
 *   handle per queue; queue 0 is the handle netbe_init() returns and owns
 *   the others.  Negotiation always happens on queue 0 and is copied to
 *   the others, so a queue handle never disagrees about header lengths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netbe_int.h"
#include "offload.h"
#include "vnet.h"

#define ETH_HDR_LEN 14

static netbe_t *root(netbe_t *be)
{
	return be->parent ? be->parent : be;
}

static void rx_ready(int fd, int events, void *arg)
{
	netbe_t *be = arg;

	be->cb(fd, events, be->cb_param);
}

int netbe__add_queue(netbe_t *be, int fd)
{
	netbe_t **qs = realloc(be->queues, (be->nqueues + 1) * sizeof(*qs));
	netbe_t *q;

	if (!qs)
		return -ENOMEM;
	be->queues = qs;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (netbe_t){ .ops = be->ops, .priv = be->priv, .parent = be,
			.qidx = be->nqueues, .fd = fd, .loop = be->loop,
			.be_hdr_len = be->be_hdr_len, .mtu_cfg = be->mtu_cfg };
	qs[be->nqueues++] = q;
	return 0;
}

static void handle_free(netbe_t *be)
{
	for (unsigned i = 1; i < be->nqueues; i++) {
		netbe__vnet_free(be->queues[i]);
		free(be->queues[i]->discard_buf);
		free(be->queues[i]);
	}
	free(be->queues);
	netbe__vnet_free(be);
	free(be->discard_buf);
	free(be->priv);
	free(be);
}

static int handle_new(netbe_t **out, const struct netbe__ops *ops,
		      netbe_loop_t *loop, netbe_rx_cb_t cb, void *param)
{
	netbe_t *be = calloc(1, sizeof(*be));

	if (!be || !(be->queues = calloc(1, sizeof(*be->queues))) ||
	    (ops->priv_size && !(be->priv = calloc(1, ops->priv_size)))) {
		if (be)
			free(be->queues);
		free(be);
		return netbe__err(-ENOMEM, "%s: out of memory", ops->name);
	}
	be->ops = ops;
	be->fd = -1;
	be->loop = loop;
	be->cb = cb;
	be->cb_param = param;
	be->queues[0] = be;
	be->nqueues = 1;
	*out = be;
	return 0;
}

static void apply_generic(netbe_t *be, const struct netbe__opts *o)
{
	const char *mac = netbe__opt_str(o, "mac", NULL);

	be->has_mac = mac && netbe__parse_mac(mac, be->mac) == 0;
	be->mtu_cfg = (unsigned)netbe__opt_uint(o, "mtu", 0);
}

static void unwatch_all(netbe_t *be)
{
	for (unsigned i = 0; i < be->nqueues; i++) {
		netbe_watch_del(be->queues[i]->watch);
		be->queues[i]->watch = NULL;
	}
}

static int watch_all(netbe_t *be)
{
	for (unsigned i = 0; i < be->nqueues; i++) {
		netbe_t *q = be->queues[i];
		int r;

		q->cb = be->cb;
		q->cb_param = be->cb_param;
		if (q->fd < 0)
			continue;
		r = netbe_loop_add_fd(be->loop, q->fd, NETBE_EV_READ, 0,
				      rx_ready, q, &q->watch);
		if (r < 0) {
			unwatch_all(be);
			return r;
		}
	}
	return 0;
}

/* What the backend carries itself, without the software engine. */
static uint64_t native_cap(netbe_t *be)
{
	return be->ops->get_cap ? be->ops->get_cap(be) & NETBE_OFFLOAD_MASK
				: 0;
}

/* Until set_cap, every queue knows what the backend delivers unasked. */
static void init_caps(netbe_t *be)
{
	uint64_t c = native_cap(be);

	for (unsigned i = 0; i < be->nqueues; i++)
		be->queues[i]->be_caps = c;
}

NETBE__EXPORT int netbe_init_loop(netbe_t **out, const netbe_config_t *cfg,
				  netbe_loop_t *loop, netbe_rx_cb_t cb,
				  void *param)
{
	struct netbe__opts o = { .cfg = cfg };
	const struct netbe__ops *ops;
	netbe_t *be = NULL;
	int r;

	*out = NULL;
	if (!cb)
		return netbe__err(-EINVAL, "netbe_init: a receive callback "
					   "is required");
	r = netbe_config_check(cfg);
	if (r < 0)
		return r;
	ops = netbe__backend_select(cfg, &o.be_name);
	o.token = netbe_config_get(cfg, "backend");
	if (!loop && !(loop = netbe_loop_default()))
		return netbe__err(-ENOMEM, "netbe_init: no default loop");
	r = handle_new(&be, ops, loop, cb, param);
	if (r < 0)
		return r;
	apply_generic(be, &o);
	r = ops->open(be, &o);
	if (r < 0)
		goto fail;
	init_caps(be);
	r = watch_all(be);
	if (r < 0) {
		ops->close(be);
		goto fail;
	}
	*out = be;
	return 0;
fail:
	handle_free(be);
	return r;
}

NETBE__EXPORT int netbe_init(netbe_t **be, const netbe_config_t *cfg,
			     netbe_rx_cb_t cb, void *param)
{
	return netbe_init_loop(be, cfg, NULL, cb, param);
}

NETBE__EXPORT int netbe_open(netbe_t **be, const char *spec,
			     netbe_loop_t *loop, netbe_rx_cb_t cb,
			     void *param)
{
	netbe_config_t *cfg = netbe_config_new();
	int r;

	*be = NULL;
	if (!cfg)
		return netbe__err(-ENOMEM, "netbe_open: out of memory");
	r = spec ? netbe_legacy_config(cfg, spec)
		 : netbe__err(-EINVAL, "netbe_open: no backend string");
	if (r == 0)
		r = netbe_init_loop(be, cfg, loop, cb, param);
	netbe_config_free(cfg);
	return r;
}

NETBE__EXPORT void netbe_cleanup(netbe_t *be)
{
	if (!be)
		return;
	be = root(be);
	unwatch_all(be);
	be->ops->close(be);
	handle_free(be);
}

NETBE__EXPORT const char *netbe_get_name(const netbe_t *be)
{
	return be->ops->name;
}

/* ---- negotiation -------------------------------------------------------- */

/* The backend's own offloads plus every HOST_* one vnet.c completes in
 * software; GUEST_* only as the backend has them (nothing to emulate). */
NETBE__EXPORT uint64_t netbe_get_cap(netbe_t *be)
{
	be = root(be);
	return native_cap(be) | NETBE__OFFL_EMULATED;
}

static void sync_queues(netbe_t *be)
{
	for (unsigned i = 1; i < be->nqueues; i++) {
		be->queues[i]->be_hdr_len = be->be_hdr_len;
		be->queues[i]->fe_hdr_len = be->fe_hdr_len;
		be->queues[i]->features = be->features;
		be->queues[i]->be_caps = be->be_caps;
	}
}

static int check_cap(netbe_t *be, uint64_t offl, unsigned len)
{
	uint64_t missing = offl & ~netbe_get_cap(be);

	if (len != 0 && len != NETBE_VNET_HDR_LEN &&
	    len != NETBE_VNET_HDR_MRG_LEN)
		return netbe__err(-EINVAL,
				  "%s: invalid virtio-net header length %u "
				  "(valid: 0, 10, 12)",
				  be->ops->name, len);
	if (missing)
		return netbe__err(-ENOTSUP,
				  "%s: offload features 0x%llx not supported",
				  be->ops->name, (unsigned long long)missing);
	if (offl && !len)
		return netbe__err(-EINVAL,
				  "%s: offloads need a virtio-net header",
				  be->ops->name);
	return 0;
}

NETBE__EXPORT int netbe_set_cap(netbe_t *be, uint64_t features,
				unsigned vnet_hdr_len)
{
	uint64_t offl = features & NETBE_OFFLOAD_MASK, native;
	int r;

	be = root(be);
	r = check_cap(be, offl, vnet_hdr_len);
	if (r < 0)
		return r;
	/* The backend hears only of what it does itself. */
	native = native_cap(be);
	if (be->ops->set_cap) {
		r = be->ops->set_cap(be, offl & native, vnet_hdr_len);
		if (r < 0)
			return r;
	}
	be->fe_hdr_len = vnet_hdr_len;
	be->features = offl;
	be->be_caps = native;
	sync_queues(be);
	return 0;
}

NETBE__EXPORT size_t netbe_get_vnet_hdr_len(netbe_t *be)
{
	return be->be_hdr_len;
}

/* ---- frames ------------------------------------------------------------ */

static void count_tx(netbe_t *be, ssize_t r)
{
	if (r >= 0) {
		netbe__count(&be->tx.frames, 1);
		netbe__count(&be->tx.bytes, (uint64_t)r);
	} else if (r == -EAGAIN || r == -ENOBUFS) {
		netbe__count(&be->tx.drops, 1);
	} else {
		netbe__count(&be->tx.errors, 1);
	}
}

static void count_rx(netbe_t *be, ssize_t r)
{
	if (r > 0) {
		netbe__count(&be->rx.frames, 1);
		netbe__count(&be->rx.bytes, (uint64_t)r);
	} else if (r == -ENOSPC) {
		netbe__count(&be->rx.drops, 1);
	} else if (r < 0 && r != -EAGAIN) {
		netbe__count(&be->rx.errors, 1);
	}
}

/* Refuses runt and giant frames before any backend sees them. */
static ssize_t check_tx_len(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	size_t len = netbe__iov_len(iov, iovcnt);

	/* One entry is kept for the header translation may add. */
	if (iovcnt <= 0 || iovcnt >= NETBE__IOV_MAX)
		return -EINVAL;
	if (len < be->fe_hdr_len + ETH_HDR_LEN)
		return -EINVAL;
	/* GSO frames too: virtio-net's largest is 64 KiB plus headers. */
	if (len - be->fe_hdr_len > NETBE_MAX_FRAME)
		return -EMSGSIZE;
	return (ssize_t)len;
}

static ssize_t send_one(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	ssize_t r = check_tx_len(be, iov, iovcnt);

	if (r >= 0)
		r = netbe__vnet_send(be, iov, iovcnt);
	count_tx(be, r);
	/* Errors are rare; a full backend (EAGAIN) is not one. */
	if (r < 0 && r != -EAGAIN)
		netbe__err((int)r, "%s: frame not sent: %s", be->ops->name,
			   strerror((int)-r));
	return r;
}

NETBE__EXPORT ssize_t netbe_send(netbe_t *be, const struct iovec *iov,
				 int iovcnt)
{
	return send_one(be, iov, iovcnt);
}

NETBE__EXPORT ssize_t netbe_peek_recvlen(netbe_t *be)
{
	ssize_t r = netbe__vnet_peek(be);

	return r == -EAGAIN ? 0 : r;
}

NETBE__EXPORT ssize_t netbe_recv(netbe_t *be, const struct iovec *iov,
				 int iovcnt)
{
	ssize_t r;

	if (iovcnt < 0 || iovcnt > NETBE__IOV_MAX)
		return -EINVAL;
	r = netbe__vnet_recv(be, iov, iovcnt);
	count_rx(be, r);
	if (r < 0 && r != -EAGAIN)
		netbe__err((int)r, "%s: frame not received: %s", be->ops->name,
			   strerror((int)-r));
	return r == -EAGAIN ? 0 : r;
}

NETBE__EXPORT ssize_t netbe_rx_discard(netbe_t *be)
{
	size_t len = NETBE_MAX_FRAME + NETBE_VNET_HDR_MRG_LEN;
	struct iovec iov;
	ssize_t r;

	/* Big enough for any frame, GSO ones included; one per handle since
	 * only that handle's receive thread uses it. */
	if (!be->discard_buf && !(be->discard_buf = malloc(len)))
		return -ENOMEM;
	iov.iov_base = be->discard_buf;
	iov.iov_len = len;
	r = netbe__vnet_recv(be, &iov, 1);
	if (r > 0)
		netbe__count(&be->rx.drops, 1);
	else
		count_rx(be, r);
	return r == -EAGAIN ? 0 : r;
}

/* Length of the first run of frames that can go out in one native
 * batch: well-formed, and needing no software offload. */
static int tx_run(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (check_tx_len(be, msgs[i].iov, msgs[i].iovcnt) < 0 ||
		    netbe__vnet_tx_soft(be, msgs[i].iov, msgs[i].iovcnt))
			break;
	return i;
}

static int send_native(netbe_t *be, struct netbe_msg *msgs, int n,
		       int *tried)
{
	int r = netbe__vnet_send_batch(be, msgs, n, tried);

	/* len 0: a frame the backend refused and counted itself. */
	for (int i = 0; i < r; i++) {
		if (!msgs[i].len)
			continue;
		netbe__count(&be->tx.frames, 1);
		netbe__count(&be->tx.bytes, msgs[i].len);
	}
	if (r < 0 && r != -EAGAIN && r != -ENOBUFS)
		netbe__count(&be->tx.errors, 1);
	return r;
}

/* A frame that cannot join a batch: malformed, or for the engine.
 * Returns 1 when handled (sent or dropped), 0 when the backend is full,
 * or -errno when the backend failed. */
static int send_single(netbe_t *be, struct netbe_msg *m)
{
	ssize_t r = send_one(be, m->iov, m->iovcnt);

	m->len = r < 0 ? 0 : (size_t)r;
	if (r == -EAGAIN || r == -ENOBUFS)
		return 0;
	if (r < 0 && r != -EINVAL && r != -EMSGSIZE && r != -EPROTO)
		return (int)r;
	return 1;
}

/* Native batches for runs of frames that allow it; the others one by one
 * between them. */
static int send_batch_native(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int done = 0;

	while (done < n) {
		int run = tx_run(be, msgs + done, n - done), tried, r;

		if (run == 0) {
			r = send_single(be, &msgs[done]);
			if (r <= 0)
				return done ? done : (r ? r : -EAGAIN);
			done++;
			continue;
		}
		r = send_native(be, msgs + done, run, &tried);
		if (r < 0)
			return done ? done : r;
		done += r;
		if (r < tried)
			break; /* full */
	}
	return done;
}

static int send_batch_loop(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int r = send_single(be, &msgs[i]);

		if (r <= 0)
			return i ? i : (r ? r : -EAGAIN);
	}
	return i;
}

NETBE__EXPORT int netbe_send_batch(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int r;

	if (n <= 0)
		return 0;
	if (be->ops->send_batch)
		r = send_batch_native(be, msgs, n);
	else
		r = send_batch_loop(be, msgs, n);
	/* Frames after a full backend's last accepted one were refused. */
	if (r >= 0 && r < n)
		netbe__count(&be->tx.drops, (uint64_t)(n - r));
	return r;
}

static int recv_native(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int r;

	/* A batch of frames that were all dropped (too big for their
	 * buffers) is not "nothing waiting": try again. */
	do
		r = be->ops->recv_batch(be, msgs, n);
	while (r == -ENOSPC);

	for (int i = 0; i < r; i++) {
		netbe__count(&be->rx.frames, 1);
		netbe__count(&be->rx.bytes, msgs[i].len);
	}
	if (r < 0 && r != -EAGAIN)
		netbe__count(&be->rx.errors, 1);
	return r == -EAGAIN ? 0 : r;
}

NETBE__EXPORT int netbe_recv_batch(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int i = 0;

	if (n <= 0)
		return 0;
	if (be->ops->recv_batch && netbe__vnet_rx_plain(be))
		return recv_native(be, msgs, n);
	while (i < n) {
		ssize_t r = netbe_recv(be, msgs[i].iov, msgs[i].iovcnt);

		if (r == -ENOSPC)
			continue; /* dropped and counted; reuse the slot */
		if (r <= 0)
			return i ? i : (int)r;
		msgs[i++].len = (size_t)r;
	}
	return i;
}

/* ---- receive control ----------------------------------------------------- */

NETBE__EXPORT void netbe_rx_enable(netbe_t *be)
{
	if (be->watch && !be->hangup)
		netbe_watch_enable(be->watch);
}

NETBE__EXPORT void netbe_rx_disable(netbe_t *be)
{
	if (be->watch)
		netbe_watch_disable(be->watch);
}

void netbe__rx_hangup(netbe_t *be)
{
	be->hangup = true;
	netbe_rx_disable(be);
}

NETBE__EXPORT int netbe_set_rx_cb(netbe_t *be, netbe_rx_cb_t cb, void *param)
{
	if (!cb)
		return netbe__err(-EINVAL, "netbe_set_rx_cb: NULL callback");
	be->cb = cb;
	be->cb_param = param;
	return 0;
}

/* ---- queries ------------------------------------------------------------- */

NETBE__EXPORT int netbe_get_mac(netbe_t *be, void *buf, size_t *buflen)
{
	uint8_t mac[6];
	int r = 0;

	be = root(be);
	if (be->has_mac)
		memcpy(mac, be->mac, sizeof(mac));
	else if (be->ops->get_mac)
		r = be->ops->get_mac(be, mac);
	else
		r = -ENOTSUP;
	if (r < 0)
		return r;
	if (!buflen || *buflen < sizeof(mac))
		return -ENOMEM;
	memcpy(buf, mac, sizeof(mac));
	*buflen = sizeof(mac);
	return 0;
}

NETBE__EXPORT int netbe_get_mtu(netbe_t *be)
{
	be = root(be);
	if (be->ops->get_mtu)
		return be->ops->get_mtu(be);
	return be->mtu_cfg ? (int)be->mtu_cfg : 1500;
}

NETBE__EXPORT int netbe_get_fd(const netbe_t *be)
{
	return be->fd;
}

NETBE__EXPORT unsigned netbe_get_nqueues(const netbe_t *be)
{
	return be->parent ? be->parent->nqueues : be->nqueues;
}

NETBE__EXPORT netbe_t *netbe_get_queue(netbe_t *be, unsigned idx)
{
	be = root(be);
	return idx < be->nqueues ? be->queues[idx] : NULL;
}

static void add_dir(uint64_t *dst, const struct netbe__dir_stats *d)
{
	dst[0] += __atomic_load_n(&d->frames, __ATOMIC_RELAXED);
	dst[1] += __atomic_load_n(&d->bytes, __ATOMIC_RELAXED);
	dst[2] += __atomic_load_n(&d->drops, __ATOMIC_RELAXED);
	dst[3] += __atomic_load_n(&d->errors, __ATOMIC_RELAXED);
}

NETBE__EXPORT void netbe_get_stats(const netbe_t *be, struct netbe_stats *st)
{
	uint64_t rx[4] = { 0 }, tx[4] = { 0 };
	unsigned n = be->parent ? 1 : be->nqueues;

	for (unsigned i = 0; i < n; i++) {
		const netbe_t *q = be->parent ? be : be->queues[i];

		add_dir(rx, &q->rx);
		add_dir(tx, &q->tx);
	}
	*st = (struct netbe_stats){ rx[0], rx[1], rx[2], rx[3],
				    tx[0], tx[1], tx[2], tx[3] };
}
