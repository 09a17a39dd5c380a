/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The switch's data path: from a port's receive batch to the egress ports.
 *
 * Theory of operation
 *   Everything runs on the switch's loop thread.  A port's receive
 *   callback reads a batch (netbe_recv_batch, SW_BATCH frames) into the
 *   switch's receive slots, each frame with the 12-byte virtio-net header
 *   every port negotiated, so GSO frames arrive whole.  For each frame:
 *   classify (runt, VLAN of the ingress port, rx rate limit), capture,
 *   learn the source (fdb.c, per VLAN), then pick the egress ports: the
 *   one the destination was learnt behind, or every other port of the
 *   VLAN for broadcast, multicast and unknown unicast.  Never the ingress
 *   port itself (no hairpin): a frame with nowhere to go is a "filtered"
 *   drop.
 *
 *   Then, per egress port, one netbe_send_batch of the frames that go
 *   there, described in place: each frame is an iovec over the receive
 *   slot, with a private copy of the 12-byte header and, when the egress
 *   port's VLAN mode wants it, the 802.1Q tag pushed or popped by the
 *   iovec alone (csum_start and hdr_len moved by 4).  Nothing is copied
 *   on this path.  The core segments a GSO frame for an egress port that
 *   cannot carry it (netbe_send), once per such port.
 *
 *   What an egress port refuses (-EAGAIN) is copied into its bounded
 *   queue, in order, and netbe_tx_wait() calls back when it may take more.
 *   While a port's queue is not empty, new frames for it join the queue
 *   behind the others.  Two policies for a full port:
 *   - lossless (the default with two ports, `netbe connect`): the ingress
 *     port that fed it stops reading until the queue drains - QEMU's
 *     sent_cb model - so nothing is lost and TCP sees backpressure, not
 *     loss (the old forwarder dropped ~110 000 segments per 4 s on
 *     tap -> stream -> stream -> tap);
 *   - bounded (more ports): frames for that port alone are dropped
 *     ("egress-full") once its queue is full; one stuck port never stalls
 *     the others.
 *
 *   Rate limits wait rather than drop where they can.  The rx limit reads
 *   no more than it may pass and stops reading until tokens are back, so
 *   the excess waits in the backend.  The tx limit holds what it may not
 *   send yet in the port's egress queue (tokens are taken when a frame
 *   leaves it; a timer sends the rest when they are back); the queue is
 *   bounded as above, and what does not fit is a "rate-limit" drop - in
 *   lossless mode the ingress stops reading first, so nothing is.
 *   A port whose peer is gone (a vhost-user or stream port whose VMM
 *   left, a pipe whose other end closed: a "peer-gone" refusal) has the
 *   addresses learnt behind it forgotten, once when it goes, as a Linux
 *   bridge does on carrier loss: frames for a guest that was migrated
 *   elsewhere (or restarted on another port) flood and reach it at once
 *   instead of vanishing into the dead port until aging (300 s).
 *   A port whose peer takes nothing while frames wait for it is logged
 *   once it has stalled for SW_STALL_S seconds (checked on the switch's
 *   one-second tick), and again when it takes frames once more.
 *   Every frame a port delivered to the switch ends forwarded or counted
 *   with a reason; every frame meant for a port ends delivered, queued,
 *   or counted (struct netbe_switch_port_stats says how they balance).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "switch/sw.h"

#define ETH_P_8021Q 0x8100
#define ETH_MIN (2 * 6 + 2)

bool netbe__sw_lossless(const struct netbe_switch *sw)
{
	return sw->lossless < 0 ? sw->nports <= 2 : sw->lossless;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- ingress ------------------------------------------------------------- */

static void rx_drop(struct sw_port *p, int why)
{
	p->st.rx_drop[why]++;
}

/* The frame's VLAN as @p sees it; false when @p does not take it. */
static bool classify_vlan(struct sw_port *p, struct sw_frame *f)
{
	const uint8_t *eth = f->buf + SW_HDR;
	unsigned vid = 0;

	f->tagged = f->len >= SW_HDR + ETH_MIN + 4 &&
		    rd16(eth + 12) == ETH_P_8021Q;
	if (f->tagged)
		vid = rd16(eth + 14) & 0xfff;
	switch (p->mode) {
	case SW_ACCESS:
		f->vid = p->pvid;
		return !f->tagged;
	case SW_TRUNK:
		f->vid = (uint16_t)vid;
		return f->tagged && vid && sw_vlan_allowed(p, vid);
	default: /* a priority tag (VID 0) is the native VLAN */
		f->vid = f->tagged && vid ? (uint16_t)vid : p->pvid;
		return sw_vlan_allowed(p, f->vid);
	}
}

/* Runts, VLANs and the rx limit; false when the frame was dropped. */
static bool classify(struct sw_port *p, struct sw_frame *f, uint64_t now)
{
	if (f->len < SW_HDR + ETH_MIN) {
		rx_drop(p, NETBE_DROP_RUNT);
		return false;
	}
	if (!classify_vlan(p, f)) {
		rx_drop(p, NETBE_DROP_VLAN);
		return false;
	}
	if (netbe__limit_active(&p->lim[0]) &&
	    !netbe__limit_take(&p->lim[0], f->len - SW_HDR, now)) {
		rx_drop(p, NETBE_DROP_RATE);
		return false;
	}
	return true;
}

/* ---- routing --------------------------------------------------------------- */

static void pend(struct netbe_switch *sw, struct sw_port *out, unsigned i)
{
	if (out->npend == 0)
		sw->touched[sw->ntouched++] = out->idx;
	out->pend[out->npend++] = i;
}

static bool takes(const struct sw_port *p, const struct sw_port *in,
		  unsigned vid)
{
	return p && p != in && sw_vlan_allowed(p, vid);
}

/* Every other port of the VLAN; false when there is none. */
static bool flood(struct netbe_switch *sw, struct sw_port *in, unsigned i)
{
	bool any = false;

	for (unsigned k = 0; k < sw->nslots; k++) {
		struct sw_port *p = sw->ports[k];

		if (takes(p, in, sw->fr[i].vid)) {
			pend(sw, p, i);
			any = true;
		}
	}
	return any;
}

/* Learns the source, then queues frame @i for where it goes. */
static void route(struct netbe_switch *sw, struct sw_port *in, unsigned i,
		  uint64_t now_ms)
{
	const struct sw_frame *f = &sw->fr[i];
	const uint8_t *eth = f->buf + SW_HDR;
	int64_t to;

	netbe__fdb_learn(sw->fdb, f->vid, eth + 6, in->idx, now_ms);
	to = (eth[0] & 1) ? -1 : netbe__fdb_lookup(sw->fdb, f->vid, eth,
						    now_ms);
	if (to >= 0 && (unsigned)to < sw->nslots &&
	    takes(sw->ports[to], NULL, f->vid)) {
		if (sw->ports[to] == in) {
			rx_drop(in, NETBE_DROP_FILTERED); /* no hairpin */
			return;
		}
		pend(sw, sw->ports[to], i);
	} else if (!flood(sw, in, i)) {
		rx_drop(in, NETBE_DROP_FILTERED);
		return;
	}
	in->st.rx_forwarded++;
}

/* ---- egress: describing a frame as a port takes it ---------------------------- */

static bool wants_tag(const struct sw_port *p, unsigned vid)
{
	return p->mode == SW_TRUNK || (p->mode == SW_PLAIN && vid != p->pvid);
}

/* The header moved by @delta bytes of tag (csum_start, hdr_len). */
static void hdr_shift(struct netbe_vnet_hdr *h, int delta)
{
	if (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM)
		h->csum_start = htole16((uint16_t)(le16toh(h->csum_start) +
						   delta));
	if (h->hdr_len)
		h->hdr_len = htole16((uint16_t)(le16toh(h->hdr_len) + delta));
}

/* Builds port @p's view of frame @f in msgs[k]; returns its length. */
static size_t describe(struct sw_port *p, const struct sw_frame *f,
		       unsigned k)
{
	uint8_t *eth = f->buf + SW_HDR, *tag = p->tag[k];
	struct iovec *v = &p->iov[4 * k];
	bool want = wants_tag(p, f->vid);
	int n = 0;

	if (want == f->tagged) {
		v[n++] = (struct iovec){ f->buf, f->len };
	} else {
		memcpy(&p->hdr[k], f->buf, SW_HDR);
		hdr_shift(&p->hdr[k], want ? 4 : -4);
		v[n++] = (struct iovec){ &p->hdr[k], SW_HDR };
		v[n++] = (struct iovec){ eth, 12 };
		if (want) {
			tag[0] = ETH_P_8021Q >> 8;
			tag[1] = ETH_P_8021Q & 0xff;
			tag[2] = (uint8_t)(f->vid >> 8);
			tag[3] = (uint8_t)f->vid;
			v[n++] = (struct iovec){ tag, 4 };
		}
		v[n++] = (struct iovec){ eth + 12 + (want ? 0 : 4),
					 f->len - SW_HDR - 12 - (want ? 0 : 4) };
	}
	p->msgs[k] = (struct netbe_msg){ v, n, 0 };
	return netbe__iov_len(v, n);
}

/* ---- egress: the queue ----------------------------------------------------- */

static void tx_drop(struct sw_port *p, int why, uint64_t n)
{
	p->st.tx_drop[why] += n;
}

/* Copies msgs[k] to the tail of @p's queue, its tx tokens taken or not
 * (@paid); false when the queue is full. */
static bool enqueue(struct sw_port *p, const struct netbe_msg *m, bool paid)
{
	size_t len = netbe__iov_len(m->iov, m->iovcnt);
	struct sw_item *it;

	if (p->qlen >= p->sw->queue_max ||
	    !(it = malloc(sizeof(*it) + len)))
		return false;
	it->len = netbe__iov_to_buf(m->iov, m->iovcnt, 0, it->data, len);
	it->paid = paid;
	p->q[(p->qhead + p->qlen++) % p->sw->queue_max] = it;
	p->st.queued = p->qlen;
	return true;
}

void netbe__sw_queue_free(struct sw_port *p)
{
	while (p->qlen) {
		free(p->q[p->qhead]);
		p->qhead = (p->qhead + 1) % p->sw->queue_max;
		p->qlen--;
	}
	p->st.queued = 0;
}

static void delivered(struct sw_port *p, const struct netbe_msg *m)
{
	p->st.tx_frames++;
	p->st.tx_bytes += m->len - SW_HDR;
	if (p->cap)
		netbe__capture_frame(p->cap, m->iov, m->iovcnt, SW_HDR);
}

/* Frames the core took but dropped (len 0): bad header, oversize, a GSO
 * frame cut short.  The port's drop counters say why. */
static void refused_inside(struct sw_port *p, const uint64_t *before)
{
	uint64_t after[NETBE_DROP_NREASONS];

	netbe_get_drops(p->be, NETBE_TX, after, NETBE_DROP_NREASONS);
	for (int i = 0; i < NETBE_DROP_NREASONS; i++)
		if (i != NETBE_DROP_FULL)
			tx_drop(p, i, after[i] - before[i]);
}

/* A refusal that is not "full": the frames are lost with its reason. */
static int hard_reason(int err)
{
	switch (-err) {
	case ENOTCONN:
	case EPIPE:
	case ECONNREFUSED:
	case ECONNRESET:
		return NETBE_DROP_PEER_GONE;
	default:
		return NETBE_DROP_LINK_DOWN;
	}
}

/* @p refused a batch with @err: when its peer went, forget what was
 * learnt behind it (once, until it takes frames again). */
static void peer_gone(struct sw_port *p, int err)
{
	if (hard_reason(err) != NETBE_DROP_PEER_GONE || p->gone)
		return;
	p->gone = true;
	netbe__fdb_flush_port(p->sw->fdb, p->idx);
}

/* Sends msgs[0, k) of @p; what it refuses waits in the queue (or is
 * dropped when the queue is full).  Returns the frames accepted. */
static int send_or_queue(struct sw_port *p, int k)
{
	uint64_t before[NETBE_DROP_NREASONS];
	int r, i, lost = 0;

	netbe_get_drops(p->be, NETBE_TX, before, NETBE_DROP_NREASONS);
	r = netbe_send_batch(p->be, p->msgs, k);
	if (r < 0 && r != -EAGAIN) {
		tx_drop(p, hard_reason(r), (uint64_t)k);
		peer_gone(p, r);
		return 0;
	}
	p->gone = false;
	for (i = 0; i < r; i++) {
		if (p->msgs[i].len)
			delivered(p, &p->msgs[i]);
		else
			lost++;
	}
	if (lost)
		refused_inside(p, before);
	for (i = r < 0 ? 0 : r; i < k; i++)
		if (!enqueue(p, &p->msgs[i], true))
			tx_drop(p, NETBE_DROP_EGRESS_FULL, 1);
	return r < 0 ? 0 : r;
}

static void arm(struct sw_port *p)
{
	if (p->qlen && !p->waiting && !p->tx_timer &&
	    netbe_tx_wait(p->be, netbe__sw_tx_ready, p) == 0)
		p->waiting = true;
}

/* ---- egress: per batch ----------------------------------------------------------- */

/* tx limit: takes the tokens of @len bytes (header included); false
 * when @p's tx rate does not let it go now. */
static bool tx_take(struct sw_port *p, size_t len, uint64_t now)
{
	return !netbe__limit_active(&p->lim[1]) ||
	       netbe__limit_take(&p->lim[1], len - SW_HDR, now);
}

/* The ingress port stops reading while @out holds frames it sent. */
static void block(struct sw_port *out, struct sw_port *in)
{
	out->blocked[in->idx / 64] |= 1ULL << (in->idx % 64);
	if (!in->paused) {
		in->paused = true;
		for (unsigned i = 0; i < in->nrxq; i++)
			netbe_rx_disable(in->rxq[i].q);
	}
}

static void tx_hold(struct sw_port *p, uint64_t now);

/* This batch's frames for @p: sent now up to the first the tx limit
 * holds back (none while older frames wait); the rest join the queue. */
static void flush_port(struct netbe_switch *sw, struct sw_port *in,
		       struct sw_port *p, uint64_t now)
{
	bool behind = p->qlen > 0; /* then all wait behind the queue */
	int k = 0, c = behind ? 0 : -1;
	int why = p->tx_timer ? NETBE_DROP_RATE : NETBE_DROP_EGRESS_FULL;

	for (unsigned j = 0; j < p->npend; j++) {
		const struct sw_frame *f = &sw->fr[p->pend[j]];

		p->st.tx_offered++;
		if (c < 0 && !tx_take(p, f->len, now)) {
			c = k;
			why = NETBE_DROP_RATE;
		}
		describe(p, f, (unsigned)k++);
	}
	p->npend = 0;
	if (c < 0)
		c = k;
	if (c)
		send_or_queue(p, c);
	for (int i = c; i < k; i++)
		if (!enqueue(p, &p->msgs[i], false))
			tx_drop(p, why, 1);
	if (c < k)
		tx_hold(p, now);
	arm(p);
	if (p->qlen && netbe__sw_lossless(sw))
		block(p, in);
}

static void forward(struct netbe_switch *sw, struct sw_port *in, int n)
{
	uint64_t now = netbe__now_ns();

	sw->ntouched = 0;
	for (int i = 0; i < n; i++) {
		struct sw_frame *f = &sw->fr[i];

		*f = (struct sw_frame){ .buf = sw->slot[i],
					.len = sw->rx_msgs[i].len };
		in->st.rx_frames++;
		in->st.rx_bytes += f->len - SW_HDR;
		if (!classify(in, f, now))
			continue;
		if (in->cap)
			netbe__capture_frame(in->cap, &(struct iovec){ f->buf,
					     f->len }, 1, SW_HDR);
		route(sw, in, (unsigned)i, now / 1000000);
	}
	for (unsigned t = 0; t < sw->ntouched; t++)
		flush_port(sw, in, sw->ports[sw->touched[t]], now);
}

/* ---- the callbacks ------------------------------------------------------------- */

static void rx_limit_pause(struct sw_port *p);

/* Frames to read from @q now: no more than the rx limit lets through,
 * so the excess waits in the backend (backpressure), not read and
 * dropped.  With fewer byte tokens than a full batch could need, one
 * frame at a time, its length peeked first; @p->rx_need is what the
 * next one needs when none may be read. */
static int rx_budget(struct sw_port *p, netbe_t *q)
{
	uint64_t now, frames, bytes;
	ssize_t len;

	if (!netbe__limit_active(&p->lim[0]))
		return SW_BATCH;
	now = netbe__now_ns();
	frames = netbe__bucket_avail(&p->lim[0].frames, now);
	bytes = netbe__bucket_avail(&p->lim[0].bytes, now);
	if (frames && bytes >= (uint64_t)SW_BATCH * NETBE_MAX_FRAME)
		return frames < SW_BATCH ? (int)frames : SW_BATCH;
	len = netbe_peek_recvlen(q);
	p->rx_need = len > SW_HDR ? (size_t)len - SW_HDR : 64;
	if (len <= 0 || !frames)
		return len < 0 ? 1 : 0; /* an error: let recv report it */
	return netbe__limit_wait_ns(&p->lim[0], p->rx_need, now) ? 0 : 1;
}

void netbe__sw_rx_cb(int fd, int events, void *arg)
{
	struct sw_rxq *rq = arg;
	struct sw_port *p = rq->port;
	struct netbe_switch *sw = p->sw;

	(void)fd;
	(void)events;
	for (int round = 0; round < SW_ROUNDS && !p->paused; round++) {
		int n, max = rx_budget(p, rq->q);

		if (max == 0)
			break;
		for (int i = 0; i < SW_BATCH; i++)
			sw->rx_iov[i].iov_len = SW_BUF;
		n = netbe_recv_batch(rq->q, sw->rx_msgs, max);
		if (n <= 0)
			break;
		forward(sw, p, n);
		if (n < max)
			break;
	}
	rx_limit_pause(p);
}

/* Ingress ports this one held back read again. */
void netbe__sw_resume(struct sw_port *p)
{
	struct netbe_switch *sw = p->sw;

	for (unsigned k = 0; k < sw->nslots; k++) {
		struct sw_port *in = sw->ports[k];

		if (!(p->blocked[k / 64] & (1ULL << (k % 64))))
			continue;
		p->blocked[k / 64] &= ~(1ULL << (k % 64));
		if (!in || !in->paused)
			continue;
		in->paused = false;
		for (unsigned i = 0; i < in->nrxq && !in->rate_paused; i++)
			netbe_rx_enable(in->rxq[i].q);
	}
}

static void pop(struct sw_port *p)
{
	free(p->q[p->qhead]);
	p->qhead = (p->qhead + 1) % p->sw->queue_max;
	p->qlen--;
}

/* Describes up to SW_BATCH queued frames in p->msgs, up to the first
 * the tx limit holds back (*@held set); returns how many. */
static int queued_batch(struct sw_port *p, uint64_t now, bool *held)
{
	int k = 0;

	while (k < SW_BATCH && (unsigned)k < p->qlen) {
		struct sw_item *it =
			p->q[(p->qhead + (unsigned)k) % p->sw->queue_max];

		if (!it->paid && !(it->paid = tx_take(p, it->len, now))) {
			*held = true;
			break;
		}
		p->iov[k] = (struct iovec){ it->data, it->len };
		p->msgs[k] = (struct netbe_msg){ &p->iov[k], 1, 0 };
		k++;
	}
	return k;
}

/* Sends what waits in @p's queue, oldest first, in batches, as far as
 * the tx limit lets it (then a timer goes on). */
static void drain(struct sw_port *p)
{
	uint64_t before[NETBE_DROP_NREASONS], now = netbe__now_ns();
	bool held = false;

	while (p->qlen && !held) {
		int k = queued_batch(p, now, &held), r, lost = 0;

		if (k == 0)
			break;
		netbe_get_drops(p->be, NETBE_TX, before, NETBE_DROP_NREASONS);
		r = netbe_send_batch(p->be, p->msgs, k);
		if (r < 0 && r != -EAGAIN) { /* the first is lost */
			tx_drop(p, hard_reason(r), 1);
			peer_gone(p, r);
			pop(p);
			continue;
		}
		p->gone = false;
		for (int i = 0; i < r; i++) {
			if (p->msgs[i].len)
				delivered(p, &p->msgs[i]);
			else
				lost++;
			pop(p);
		}
		if (lost)
			refused_inside(p, before);
		if (r < k)
			break;
	}
	p->st.queued = p->qlen;
	if (held)
		tx_hold(p, now);
}

static void tx_progress(struct sw_port *p);

/* ---- tx rate limit: the queue waits for tokens ---------------------------------- */

static void tx_unhold(int fd, int events, void *arg)
{
	struct sw_port *p = arg;

	(void)fd;
	(void)events;
	netbe_watch_del(p->tx_timer);
	p->tx_timer = NULL;
	tx_progress(p);
}

/* The head of @p's queue waits for tokens: a timer for when they are
 * back (the 1 ms timer granularity rounds up). */
static void tx_hold(struct sw_port *p, uint64_t now)
{
	struct sw_item *it = p->q[p->qhead];
	uint64_t wait;

	if (p->tx_timer || !p->qlen)
		return;
	wait = it->paid ? 0 : netbe__limit_wait_ns(&p->lim[1],
						   it->len - SW_HDR, now);
	netbe_loop_add_timer(p->sw->loop, (unsigned)(wait / 1000000) + 1, 0,
			     tx_unhold, p, &p->tx_timer);
}

void netbe__sw_tx_ready(int fd, int events, void *arg)
{
	struct sw_port *p = arg;

	(void)fd;
	(void)events;
	p->waiting = false;
	tx_progress(p);
}

/* The queue moves on: what may go is sent, then we wait for room or
 * tokens; ingress ports held back for it read again once it is empty. */
static void tx_progress(struct sw_port *p)
{
	drain(p);
	arm(p);
	if (!p->qlen)
		netbe__sw_resume(p);
}

/* ---- a stalled peer --------------------------------------------------------- */

#define SW_STALL_S 2

/* Once a second: has @p's peer taken nothing while frames waited? */
void netbe__sw_stall_check(struct sw_port *p)
{
	bool moved = p->st.tx_frames != p->last_tx;

	p->last_tx = p->st.tx_frames;
	if (p->qlen && !moved && !p->tx_timer) {
		if (++p->stalled == SW_STALL_S)
			netbe__log(NETBE_LOG_WARN, "switch: port %s: its peer "
				   "has taken no frame for %u s (%u waiting, "
				   "%llu dropped as egress-full so far)",
				   p->name, SW_STALL_S, p->qlen,
				   (unsigned long long)
				   p->st.tx_drop[NETBE_DROP_EGRESS_FULL]);
		return;
	}
	if (p->stalled >= SW_STALL_S)
		netbe__log(NETBE_LOG_INFO, "switch: port %s: its peer takes "
			   "frames again after about %u s", p->name,
			   p->stalled);
	p->stalled = 0;
}

/* ---- rx rate limit: stop reading until tokens are back -------------------------- */

static void rate_resume(int fd, int events, void *arg)
{
	struct sw_port *p = arg;

	(void)fd;
	(void)events;
	netbe_watch_del(p->rate_timer);
	p->rate_timer = NULL;
	p->rate_paused = false;
	for (unsigned i = 0; i < p->nrxq && !p->paused; i++)
		netbe_rx_enable(p->rxq[i].q);
}

/* Out of tokens for even a small frame: pause until there are some, so
 * excess frames wait in the backend instead of being read and dropped. */
static void rx_limit_pause(struct sw_port *p)
{
	uint64_t wait;

	if (!netbe__limit_active(&p->lim[0]) || p->rate_paused)
		return;
	wait = netbe__limit_wait_ns(&p->lim[0], p->rx_need,
				    netbe__now_ns());
	if (wait == 0)
		return;
	if (netbe_loop_add_timer(p->sw->loop, (unsigned)(wait / 1000000) + 1,
				 0, rate_resume, p, &p->rate_timer) < 0)
		return;
	p->rate_paused = true;
	for (unsigned i = 0; i < p->nrxq; i++)
		netbe_rx_disable(p->rxq[i].q);
}
