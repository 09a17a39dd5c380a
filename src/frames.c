/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Frames: send, receive, batches, and the counters.
 *
 * Theory of operation
 *   Every frame the frontend offers or receives is counted here, once,
 *   from what vnet.c and the backend returned: accepted (frames, bytes),
 *   dropped with a reason (enum netbe_drop), or failed (errors).  The
 *   only frames counted elsewhere are those a backend consumed and threw
 *   away itself (netbe__q_drop) and headers vnet.c refused on receive.
 *   Counters are atomic adds (netbe__count): the stream backend's loop
 *   thread and a sending thread may count on one queue at once, and a
 *   load-then-store lost updates under load (68-357 per 4 s in one run).
 *
 *   The unit is the frontend's frame.  A GSO frame the engine cuts into
 *   segments is one frame sent once the backend took its first segment:
 *   vnet.c keeps what the backend refused after that and sends it before
 *   anything else.  Only when it cannot keep them (out of memory) is the
 *   frame one frame dropped ("full", -ENOBUFS), not to be sent again.
 *
 *   Batches: frames before the first refusal are accepted; the refused
 *   frame and every one after it were not, and each counts as dropped
 *   ("full", or an error when the backend failed) - a frontend that holds
 *   and resends them sees them counted again when they go.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "offload.h"
#include "vnet.h"

#define ETH_HDR_LEN 14

static const char *const drop_names[NETBE_DROP_NREASONS] = {
	[NETBE_DROP_FULL] = "full",
	[NETBE_DROP_NOROOM] = "no-room",
	[NETBE_DROP_BADHDR] = "bad-header",
	[NETBE_DROP_OVERSIZE] = "oversize",
	[NETBE_DROP_RUNT] = "runt",
	[NETBE_DROP_PEER_GONE] = "peer-gone",
	[NETBE_DROP_MALFORMED] = "malformed",
	[NETBE_DROP_RING] = "ring",
	[NETBE_DROP_EGRESS_FULL] = "egress-full",
	[NETBE_DROP_DISCARD] = "discarded",
	[NETBE_DROP_LINK_DOWN] = "link-down",
	[NETBE_DROP_VLAN] = "vlan",
	[NETBE_DROP_FILTERED] = "filtered",
	[NETBE_DROP_RATE] = "rate-limit",
	[NETBE_DROP_SOURCE] = "source",
	[NETBE_DROP_SEGMENT] = "segment",
};

NETBE__EXPORT const char *netbe_drop_name(int why)
{
	if (why < 0 || why >= NETBE_DROP_NREASONS)
		return "unknown";
	return drop_names[why];
}

void netbe__q_drop(struct netbe__queue *q, int dir, int why, uint64_t n)
{
	netbe_t *be = netbe__from_bq(q);

	if (why < 0 || why >= NETBE_DROP_NREASONS)
		why = NETBE_DROP_MALFORMED;
	netbe__drop(dir == NETBE_RX ? &be->rx : &be->tx, why, n);
}

int netbe__drop_reason(ssize_t r)
{
	switch (-r) {
	case EAGAIN:
	case ENOBUFS:
		return NETBE_DROP_FULL;
	case EMSGSIZE:
		return NETBE_DROP_OVERSIZE;
	case EINVAL:
	case EPROTO:
		return NETBE_DROP_BADHDR;
	case EPIPE:
	case ENOTCONN:
	case ECONNREFUSED:
	case ECONNRESET:
	case EDESTADDRREQ:
		return NETBE_DROP_PEER_GONE;
	case ENETDOWN:
	case ENXIO:
	case ENODEV:
	case EBADFD: /* a tap whose interface was deleted */
		return NETBE_DROP_LINK_DOWN;
	default:
		return -1;
	}
}

static void count_tx_fail(netbe_t *be, ssize_t r, uint64_t n)
{
	int why = netbe__drop_reason(r);

	if (why < 0)
		netbe__count(&be->tx.errors, n);
	else
		netbe__drop(&be->tx, why, n);
}

static void count_tx(netbe_t *be, ssize_t r)
{
	if (r >= 0) {
		netbe__count(&be->tx.frames, 1);
		netbe__count(&be->tx.bytes, (uint64_t)r);
	} else {
		count_tx_fail(be, r, 1);
	}
}

static void count_rx(netbe_t *be, ssize_t r)
{
	if (r > 0) {
		netbe__count(&be->rx.frames, 1);
		netbe__count(&be->rx.bytes, (uint64_t)r);
	} else if (r == -ENOSPC) {
		netbe__drop(&be->rx, NETBE_DROP_NOROOM, 1);
	} else if (r < 0 && r != -EAGAIN) {
		netbe__count(&be->rx.errors, 1);
	}
}

/* Refuses runt and giant frames before any backend sees them: 0, or the
 * -errno with the frame counted. */
static ssize_t check_tx_len(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	size_t len;

	/* One entry is kept for the header translation may add. */
	if (iovcnt <= 0 || iovcnt >= NETBE__IOV_MAX)
		return -EINVAL;
	len = netbe__iov_len(iov, iovcnt);
	if (len < be->fe_hdr_len + ETH_HDR_LEN)
		return -ERANGE;
	/* GSO frames too: virtio-net's largest is 64 KiB plus headers. */
	if (len - be->fe_hdr_len > NETBE_MAX_FRAME)
		return -EMSGSIZE;
	return (ssize_t)len;
}

static ssize_t send_one(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	ssize_t r = check_tx_len(be, iov, iovcnt);

	if (r == -ERANGE) {
		netbe__drop(&be->tx, NETBE_DROP_RUNT, 1);
		return netbe__err(-EINVAL, "%s: frame of %zu bytes is shorter "
				  "than its headers", be->label,
				  netbe__iov_len(iov, iovcnt));
	}
	if (r >= 0)
		r = netbe__vnet_send(be, iov, iovcnt);
	count_tx(be, r);
	/* Errors are rare; a full backend (EAGAIN) is not one, and a refused
	 * header already says why (vnet.c). */
	if (r < 0 && r != -EAGAIN && r != -ENOBUFS &&
	    netbe__drop_reason(r) != NETBE_DROP_BADHDR)
		netbe__err((int)r, "%s: frame not sent: %s", be->label,
			   strerror((int)-r));
	return r;
}

NETBE__EXPORT ssize_t netbe_send(netbe_t *be, const struct iovec *iov,
				 int iovcnt)
{
	if (netbe__vnet_tx_flush(be) < 0) { /* a frame's rest goes first */
		count_tx_fail(be, -EAGAIN, 1);
		return -EAGAIN;
	}
	return send_one(be, iov, iovcnt);
}

/* ---- receive ------------------------------------------------------------- */

/* Receive thread: says whether frames may sit behind an empty fd. */
static void set_held(netbe_t *be, int held)
{
	if (__atomic_load_n(&be->held, __ATOMIC_RELAXED) != held)
		__atomic_store_n(&be->held, held, __ATOMIC_RELEASE);
}

NETBE__EXPORT ssize_t netbe_peek_recvlen(netbe_t *be)
{
	ssize_t r = netbe__vnet_peek(be);

	set_held(be, r > 0);
	return r == -EAGAIN ? 0 : r;
}

NETBE__EXPORT ssize_t netbe_recv(netbe_t *be, const struct iovec *iov,
				 int iovcnt)
{
	ssize_t r;

	if (iovcnt < 0 || iovcnt > NETBE__IOV_MAX)
		return -EINVAL;
	r = netbe__vnet_recv(be, iov, iovcnt);
	set_held(be, netbe__vnet_rx_held(be));
	count_rx(be, r);
	if (r < 0 && r != -EAGAIN && r != -ENOSPC)
		netbe__err((int)r, "%s: frame not received: %s", be->label,
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
	set_held(be, netbe__vnet_rx_held(be));
	if (r > 0)
		netbe__drop(&be->rx, NETBE_DROP_DISCARD, 1);
	else
		count_rx(be, r);
	return r == -EAGAIN ? 0 : r;
}

/* ---- send batches ----------------------------------------------------------- */

/* Where a batch stopped: frames [0, counted) are counted, and the batch
 * ended with @stop (0: all sent or full; else the -errno that ended it). */
struct batch {
	int done, counted;
	ssize_t stop;
	bool single;	/* the backend cannot batch now: frame by frame */
};

/* Length of the first run of frames that can go out in one native
 * batch: well-formed, and needing no software offload. */
static int tx_run(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (check_tx_len(be, msgs[i].iov, msgs[i].iovcnt) < 0 ||
		    !netbe__vnet_tx_batchable(be, msgs[i].iov, msgs[i].iovcnt))
			break;
	return i;
}

/* A run for the backend's own batch; false when the batch is over. */
static bool send_native(netbe_t *be, struct netbe_msg *msgs, int n,
			struct batch *b)
{
	uint64_t frames = 0, bytes = 0;
	int tried, r = netbe__vnet_send_batch(be, msgs, n, &tried);

	if (r == -EOPNOTSUPP) {
		b->single = true;
		return true;
	}
	if (r < 0) {
		b->stop = r;
		return false;
	}
	/* len 0: a frame the backend refused and reported itself. */
	for (int i = 0; i < r; i++) {
		frames += msgs[i].len != 0;
		bytes += msgs[i].len;
	}
	netbe__count(&be->tx.frames, frames);
	netbe__count(&be->tx.bytes, bytes);
	b->done += r;
	b->counted = b->done;
	if (r < tried)
		b->stop = -EAGAIN;
	return r == tried;
}

/* A frame that cannot join a batch (malformed, or for the engine), sent
 * and counted alone; false when the batch is over. */
static bool send_single(netbe_t *be, struct netbe_msg *m, struct batch *b)
{
	ssize_t r = send_one(be, m->iov, m->iovcnt);

	m->len = r < 0 ? 0 : (size_t)r;
	b->counted++;
	if (r >= 0 || r == -ENOBUFS || netbe__drop_reason(r) == NETBE_DROP_BADHDR ||
	    netbe__drop_reason(r) == NETBE_DROP_OVERSIZE) {
		b->done++; /* handled: sent, or dropped for good */
		return true;
	}
	b->stop = r;
	return false;
}

NETBE__EXPORT int netbe_send_batch(netbe_t *be, struct netbe_msg *msgs, int n)
{
	struct batch b = { 0 };

	while (b.done < n) {
		int run;

		if (netbe__vnet_tx_flush(be) < 0) { /* a frame's rest first */
			b.stop = -EAGAIN;
			break;
		}
		run = be->ops->send_batch && !b.single
			      ? tx_run(be, msgs + b.done, n - b.done) : 0;
		if (run ? !send_native(be, msgs + b.done, run, &b)
			: !send_single(be, &msgs[b.done], &b))
			break;
	}
	/* Frames the backend never took are dropped frames too. */
	if (b.counted < n)
		count_tx_fail(be, b.stop ? b.stop : -EAGAIN,
			      (uint64_t)(n - b.counted));
	if (b.done == 0 && n > 0)
		return b.stop ? (int)b.stop : -EAGAIN;
	return b.done;
}

/* ---- receive batches ---------------------------------------------------------- */

static int recv_native(netbe_t *be, struct netbe_msg *msgs, int n)
{
	uint64_t bytes = 0;
	int r;

	/* A batch of frames that were all dropped (too big for their
	 * buffers) is not "nothing waiting": try again. */
	do
		r = be->ops->recv_batch(&be->bq, msgs, n);
	while (r == -ENOSPC);
	if (r == -EOPNOTSUPP)
		return r;

	for (int i = 0; i < r; i++)
		bytes += msgs[i].len;
	if (r > 0) {
		netbe__count(&be->rx.frames, (uint64_t)r);
		netbe__count(&be->rx.bytes, bytes);
	}
	if (r < 0 && r != -EAGAIN)
		netbe__count(&be->rx.errors, 1);
	return r == -EAGAIN ? 0 : r;
}

NETBE__EXPORT int netbe_recv_batch(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int i = 0, nat;

	if (n <= 0)
		return 0;
	if (be->ops->recv_batch && netbe__vnet_rx_plain(be) &&
	    (nat = recv_native(be, msgs, n)) != -EOPNOTSUPP)
		return nat;
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

/* ---- counters ------------------------------------------------------------- */

static uint64_t ld(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static uint64_t drops_sum(const struct netbe__dir_stats *d)
{
	uint64_t n = 0;

	for (int i = 0; i < NETBE_DROP_NREASONS; i++)
		n += ld(&d->drops[i]);
	return n;
}

static void add_queue_stats(const netbe_t *q, struct netbe_stats *st)
{
	st->rx_frames += ld(&q->rx.frames);
	st->rx_bytes += ld(&q->rx.bytes);
	st->rx_drops += drops_sum(&q->rx);
	st->rx_errors += ld(&q->rx.errors);
	st->tx_frames += ld(&q->tx.frames);
	st->tx_bytes += ld(&q->tx.bytes);
	st->tx_drops += drops_sum(&q->tx);
	st->tx_errors += ld(&q->tx.errors);
}

NETBE__EXPORT void netbe_get_queue_stats(const netbe_t *q,
					 struct netbe_stats *st)
{
	memset(st, 0, sizeof(*st));
	add_queue_stats(q, st);
}

NETBE__EXPORT void netbe_get_stats(const netbe_t *be, struct netbe_stats *st)
{
	const netbe_t *root = netbe__root(be);

	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < root->nqueues; i++)
		add_queue_stats(root->queues[i], st);
}

static void add_queue_drops(const netbe_t *q, int dir, uint64_t *counts,
			    size_t n)
{
	const struct netbe__dir_stats *d = dir == NETBE_RX ? &q->rx : &q->tx;

	for (size_t i = 0; i < n && i < NETBE_DROP_NREASONS; i++)
		counts[i] += ld(&d->drops[i]);
}

NETBE__EXPORT int netbe_get_queue_drops(const netbe_t *q, int dir,
					uint64_t *counts, size_t n)
{
	if (dir != NETBE_RX && dir != NETBE_TX)
		return -EINVAL;
	memset(counts, 0, n * sizeof(*counts));
	add_queue_drops(q, dir, counts, n);
	return NETBE_DROP_NREASONS;
}

NETBE__EXPORT int netbe_get_drops(const netbe_t *be, int dir,
				  uint64_t *counts, size_t n)
{
	const netbe_t *root = netbe__root(be);

	if (dir != NETBE_RX && dir != NETBE_TX)
		return -EINVAL;
	memset(counts, 0, n * sizeof(*counts));
	for (unsigned i = 0; i < root->nqueues; i++)
		add_queue_drops(root->queues[i], dir, counts, n);
	return NETBE_DROP_NREASONS;
}
