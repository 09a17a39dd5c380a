/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backend API: handles, queues, negotiation, receive control.
 *
 * Theory of operation
 *   netbe_init() checks the config, picks the backend (registry.c), lets
 *   it open, builds one handle per queue from what open returned
 *   (struct netbe__opened), then registers every queue's fd with the
 *   loop, disabled.  The loop calls rx_ready(), which calls the
 *   frontend's callback; the frontend then pulls frames with peek/recv
 *   (frames.c).  Every frame crosses vnet.c, which translates header
 *   lengths and checks the frontend's header, and is counted in frames.c,
 *   once, so backends stay small and every backend's counters mean the
 *   same thing.
 *
 *   The seam.  The handle (core.h) is the core's: a backend sees only its
 *   struct netbe__queue (priv, queue index, header length) and reports
 *   through netbe__q_drop/hangup/log (backend.h).  Header lengths are
 *   written here only: from open's result, and from set_cap's return
 *   value, copied to every queue.
 *
 *   Queues: every handle is a queue; queue 0 is the handle netbe_init()
 *   returns and owns the others.  Calls on the backend as a whole (close,
 *   negotiation, MAC, MTU, totals) go to queue 0 from any queue's handle;
 *   calls on frames and receive stay on the queue given (netbe.h).
 *
 *   Held frames.  A frame staged by peek_recvlen, or the segments of a
 *   received GSO frame, sit in memory behind an fd that is already
 *   empty, so the loop would not call back for them.  The receive side
 *   keeps an atomic "held" flag; netbe_rx_enable() with the flag set
 *   writes the queue's kick eventfd, which the loop watches alongside the
 *   fd, so the callback runs once more.
 *
 *   Errors on a queue's fd (EPOLLERR: a link down, an interface deleted)
 *   go to the backend's rx_error, or are read here with SO_ERROR; a fd
 *   that keeps reporting errors with nothing to read is given up on with
 *   a log line, instead of waking the loop forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "offload.h"
#include "vnet.h"

#define LABEL_MAX 160
/* Error events in a row, with no error to read, before a fd is given up. */
#define ERR_EVENTS_MAX 16

static void rx_deliver(netbe_t *be, int fd)
{
	be->cb(fd, NETBE_EV_READ, be->cb_param);
}

/* The fd reported an error: true when the queue should go on. */
static bool rx_error(netbe_t *be, int fd)
{
	int err = 0, r;
	socklen_t len = sizeof(err);

	if (be->ops->rx_error)
		r = be->ops->rx_error(&be->bq, fd);
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
		r = (netbe__q_log(&be->bq, NETBE_LOG_WARN, "receive: %s",
				  strerror(err)), 0);
	else
		r = ++be->err_events > ERR_EVENTS_MAX ? -EIO : 0;
	if (r == 0)
		return true;
	netbe__q_log(&be->bq, NETBE_LOG_ERR, "receive side gone (%s); no "
		     "more frames from this queue", strerror(-r));
	netbe__q_hangup(&be->bq);
	return false;
}

static void rx_ready(int fd, int events, void *arg)
{
	netbe_t *be = arg;

	if ((events & NETBE_EV_ERROR) && !rx_error(be, fd))
		return;
	if (!(events & NETBE_EV_ERROR))
		be->err_events = 0;
	rx_deliver(be, fd);
}

static void rx_kicked(int fd, int events, void *arg)
{
	netbe_t *be = arg;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0)
		return;
	if (!__atomic_load_n(&be->hangup, __ATOMIC_ACQUIRE))
		rx_deliver(be, be->fd);
}

/* ---- handles ------------------------------------------------------------- */

static void queue_free(netbe_t *q)
{
	netbe__vnet_free(q);
	if (q->kickfd >= 0)
		close(q->kickfd);
	free(q->discard_buf);
	if (q->parent)
		free(q);
}

static void handle_free(netbe_t *be)
{
	for (unsigned i = 1; i < be->nqueues; i++)
		queue_free(be->queues[i]);
	queue_free(be);
	free(be->queues);
	free(be->bq.priv);
	free(be->spec);
	free(be->label);
	free(be);
}

static int handle_new(netbe_t **out, const struct netbe__ops *ops,
		      netbe_loop_t *loop, netbe_rx_cb_t cb, void *param)
{
	netbe_t *be = calloc(1, sizeof(*be));

	if (!be || !(be->queues = calloc(1, sizeof(*be->queues))) ||
	    (ops->priv_size && !(be->bq.priv = calloc(1, ops->priv_size)))) {
		if (be)
			free(be->queues);
		free(be);
		return netbe__err(-ENOMEM, "%s: out of memory", ops->name);
	}
	be->ops = ops;
	be->fd = be->kickfd = be->tx_dup = -1;
	be->loop = loop;
	be->cb = cb;
	be->cb_param = param;
	be->queues[0] = be;
	be->nqueues = 1;
	*out = be;
	return 0;
}

/* Handles for queues 1.. of what open returned. */
static int add_queues(netbe_t *be, const struct netbe__opened *op)
{
	netbe_t **qs = realloc(be->queues, op->nqueues * sizeof(*qs));

	if (!qs)
		return -ENOMEM;
	be->queues = qs;
	for (unsigned i = 1; i < op->nqueues; i++) {
		netbe_t *q = calloc(1, sizeof(*q));

		if (!q)
			return -ENOMEM;
		*q = (netbe_t){ .bq = { .priv = be->bq.priv, .idx = i },
				.ops = be->ops, .parent = be, .fd = op->fd[i],
				.kickfd = -1, .tx_dup = -1,
				.loop = be->loop };
		qs[be->nqueues++] = q;
	}
	return 0;
}

/* Every queue takes what open said about the backend. */
static void apply_opened(netbe_t *be, const struct netbe__opened *op)
{
	be->fd = op->fd[0];
	for (unsigned i = 0; i < be->nqueues; i++) {
		netbe_t *q = be->queues[i];

		q->bq.hdr_len = op->hdr_len;
		q->be_caps = op->caps & NETBE_OFFLOAD_MASK;
		q->mtu_cfg = be->mtu_cfg;
		q->cb = be->cb;
		q->cb_param = be->cb_param;
	}
}

static void apply_generic(netbe_t *be, struct netbe__opts *o)
{
	const char *mac = netbe__opt_str(o, "mac", NULL);

	be->has_mac = mac && netbe__parse_mac(mac, be->mac) == 0;
	be->mtu_cfg = (unsigned)netbe__opt_uint(o, "mtu", 0);
	o->mtu = be->mtu_cfg;
	o->loop = be->loop;
}

/* ---- backpressure ----------------------------------------------------- */

/*
 * netbe_tx_wait() watches a dup of the backend's tx fd: the loop already
 * watches the fd itself for receive (often the same fd: a tap, a socket),
 * and epoll takes each fd once.  The dup lives only while the wait does,
 * so it never keeps a connection the backend closed half-open.
 */
#define TX_RETRY_MS 1

static void tx_unwait(netbe_t *q)
{
	netbe_watch_del(q->tx_watch);
	q->tx_watch = NULL;
	if (q->tx_dup >= 0)
		close(q->tx_dup);
	q->tx_dup = -1;
}

static void tx_ready(int fd, int events, void *arg)
{
	netbe_t *q = arg;

	(void)fd;
	(void)events;
	/* One-shot: gone before the callback, which may ask again. */
	tx_unwait(q);
	q->tx_cb(q->fd, NETBE_EV_WRITE, q->tx_param);
}

static int tx_watch(netbe_t *q, int fd)
{
	if (fd < 0)
		return netbe_loop_add_timer(q->loop, TX_RETRY_MS, 0, tx_ready,
					    q, &q->tx_watch);
	q->tx_dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (q->tx_dup < 0)
		return -errno;
	return netbe_loop_add_fd(q->loop, q->tx_dup, NETBE_EV_WRITE, 1,
				 tx_ready, q, &q->tx_watch);
}

NETBE__EXPORT int netbe_tx_wait(netbe_t *q, netbe_rx_cb_t cb, void *param)
{
	int r;

	tx_unwait(q);
	if (!cb)
		return 0; /* cancelled */
	q->tx_cb = cb;
	q->tx_param = param;
	r = tx_watch(q, q->ops->tx_fd ? q->ops->tx_fd(&q->bq) : -1);
	if (r < 0) {
		tx_unwait(q);
		return netbe__err(r, "%s: cannot wait for room: %s",
				  netbe_get_label(q), strerror(-r));
	}
	return 0;
}

static void unwatch_all(netbe_t *be)
{
	for (unsigned i = 0; i < be->nqueues; i++) {
		netbe_t *q = be->queues[i];

		netbe_watch_del(q->watch);
		netbe_watch_del(q->kick_watch);
		q->watch = q->kick_watch = NULL;
		tx_unwait(q);
	}
}

static int watch_queue(netbe_t *q)
{
	int r;

	if (q->fd < 0)
		return 0;
	q->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->kickfd < 0)
		return -errno;
	r = netbe_loop_add_fd(q->loop, q->fd, NETBE_EV_READ, 0, rx_ready, q,
			      &q->watch);
	if (r == 0)
		r = netbe_loop_add_fd(q->loop, q->kickfd, NETBE_EV_READ, 0,
				      rx_kicked, q, &q->kick_watch);
	return r;
}

static int watch_all(netbe_t *be)
{
	for (unsigned i = 0; i < be->nqueues; i++) {
		int r = watch_queue(be->queues[i]);

		if (r < 0) {
			unwatch_all(be);
			return netbe__err(r, "%s: cannot watch queue %u: %s",
					  be->label, i, strerror(-r));
		}
	}
	return 0;
}

static int open_backend(netbe_t *be, const struct netbe__opts *o)
{
	struct netbe__opened *op = calloc(1, sizeof(*op));
	int r;

	if (!op)
		return netbe__err(-ENOMEM, "%s: out of memory", be->label);
	op->nqueues = 1;
	for (unsigned i = 0; i < NETBE__MAX_QUEUES; i++)
		op->fd[i] = -1;
	r = be->ops->open(&be->bq, o, op);
	if (r == 0 && (r = add_queues(be, op)) < 0) {
		be->ops->close(&be->bq);
		netbe__err(r, "%s: out of memory", be->label);
	}
	if (r == 0)
		apply_opened(be, op);
	free(op);
	return r;
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
	o.type = ops->name;
	if (!loop && !(loop = netbe_loop_default()))
		return netbe__err(-ENOMEM, "netbe_init: no default loop");
	r = handle_new(&be, ops, loop, cb, param);
	if (r < 0)
		return r;
	apply_generic(be, &o);
	if ((r = netbe__label_init(be, cfg)) < 0 ||
	    (r = open_backend(be, &o)) < 0)
		goto fail;
	if ((r = watch_all(be)) < 0) {
		ops->close(&be->bq);
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
	be = netbe__root(be);
	for (unsigned i = 0; i < be->nqueues; i++)
		__atomic_store_n(&be->queues[i]->hangup, 1, __ATOMIC_RELEASE);
	unwatch_all(be);
	be->ops->close(&be->bq);
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
	return netbe__root(be)->be_caps | NETBE__OFFL_EMULATED;
}

static int check_cap(netbe_t *be, uint64_t offl, unsigned len)
{
	uint64_t missing = offl & ~netbe_get_cap(be);

	if (len != 0 && len != NETBE_VNET_HDR_LEN &&
	    len != NETBE_VNET_HDR_MRG_LEN)
		return netbe__err(-EINVAL,
				  "%s: invalid virtio-net header length %u "
				  "(valid: 0, 10, 12)",
				  be->label, len);
	if (missing)
		return netbe__err(-ENOTSUP,
				  "%s: offload features 0x%llx not supported",
				  be->label, (unsigned long long)missing);
	if (offl && !len)
		return netbe__err(-EINVAL,
				  "%s: offloads need a virtio-net header",
				  be->label);
	return 0;
}

NETBE__EXPORT int netbe_set_cap(netbe_t *be, uint64_t features,
				unsigned vnet_hdr_len)
{
	uint64_t offl = features & NETBE_OFFLOAD_MASK;
	int r, hdr;

	be = netbe__root(be);
	r = check_cap(be, offl, vnet_hdr_len);
	if (r < 0)
		return r;
	/* The backend hears only of what it does itself. */
	hdr = (int)be->bq.hdr_len;
	if (be->ops->set_cap) {
		hdr = be->ops->set_cap(&be->bq, offl & be->be_caps,
				       vnet_hdr_len);
		if (hdr < 0)
			return hdr;
	}
	for (unsigned i = 0; i < be->nqueues; i++) {
		netbe_t *q = be->queues[i];

		q->bq.hdr_len = (unsigned)hdr;
		q->fe_hdr_len = vnet_hdr_len;
		q->features = offl;
	}
	return 0;
}

NETBE__EXPORT size_t netbe_get_vnet_hdr_len(netbe_t *be)
{
	return netbe__root(be)->bq.hdr_len;
}

/* ---- receive control ----------------------------------------------------- */

NETBE__EXPORT void netbe_rx_enable(netbe_t *be)
{
	if (!be->watch || __atomic_load_n(&be->hangup, __ATOMIC_ACQUIRE))
		return;
	netbe_watch_enable(be->watch);
	netbe_watch_enable(be->kick_watch);
	if (__atomic_load_n(&be->held, __ATOMIC_ACQUIRE)) {
		uint64_t one = 1;

		(void)!write(be->kickfd, &one, sizeof(one));
	}
}

NETBE__EXPORT void netbe_rx_disable(netbe_t *be)
{
	if (!be->watch)
		return;
	netbe_watch_disable(be->watch);
	netbe_watch_disable(be->kick_watch);
}

void netbe__q_hangup(struct netbe__queue *bq)
{
	netbe_t *be = netbe__from_bq(bq);

	/* Once: a late report while netbe_cleanup() unwatches is a no-op
	 * (cleanup marks every queue first). */
	if (!__atomic_exchange_n(&be->hangup, 1, __ATOMIC_ACQ_REL))
		netbe_rx_disable(be);
}

void netbe__q_hangup_all(struct netbe__queue *bq)
{
	netbe_t *be = netbe__root(netbe__from_bq(bq));

	for (unsigned i = 0; i < be->nqueues; i++)
		netbe__q_hangup(&be->queues[i]->bq);
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

	be = netbe__root(be);
	if (be->has_mac)
		memcpy(mac, be->mac, sizeof(mac));
	else if (be->ops->get_mac)
		r = be->ops->get_mac(&be->bq, mac);
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
	be = netbe__root(be);
	if (be->ops->get_mtu)
		return be->ops->get_mtu(&be->bq);
	return be->mtu_cfg ? (int)be->mtu_cfg : 1500;
}

NETBE__EXPORT int netbe_get_fd(const netbe_t *be)
{
	return be->fd;
}

NETBE__EXPORT unsigned netbe_get_nqueues(const netbe_t *be)
{
	return netbe__root(be)->nqueues;
}

NETBE__EXPORT netbe_t *netbe_get_queue(netbe_t *be, unsigned idx)
{
	be = netbe__root(be);
	return idx < be->nqueues ? be->queues[idx] : NULL;
}
