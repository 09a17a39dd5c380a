/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Translation between the frontend's virtio-net header and the backend's:
 * header lengths, and offloads one side has and the other has not.
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
 *
 *   Offloads.  A frontend may negotiate CSUM and every HOST_* bit whatever
 *   the backend: what the backend carries natively (be->be_caps, with a
 *   header) passes through, the rest is finished in software (offload.c)
 *   before the backend sees it.  A segmented frame counts as one frame of
 *   the frontend's bytes.  Segments a full backend refuses after it took
 *   the first are kept (copied) and sent before anything else; until they
 *   are gone, sends are refused with -EAGAIN, so a frontend that waits
 *   for room (netbe_tx_wait) loses nothing (the stream path lost TCP
 *   segments in the middle of GSO frames before).  A frame whose header does not
 *   match its content is refused with -EINVAL (tx_errors) and logged.
 *
 *   Receive is the mirror image: a backend that may deliver offloaded
 *   frames the frontend did not accept (its GUEST_* bits exceed the
 *   frontend's) is "armed".  Then each frame is checked; a partial
 *   checksum is completed in place (DATA_VALID set), a GSO frame is cut
 *   into segments that wait in a per-handle queue and are delivered one
 *   per recv, each peek reporting the length of what recv returns next.
 *   To know that length, an armed peek reads the frame into a bounce
 *   buffer (as tap's own peek must anyway); recv with room for the
 *   largest frame reads straight into the caller's buffers.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "offload.h"
#include "vnet.h"

/* Room for a translated iovec: on the stack for the common short chain
 * (a big stack frame would cost stack-clash probes on every frame). */
#define VNET_IOV_FAST 64
/* Segments handed to the backend per batch. */
#define TX_BATCH 64
#define SEG_HDR_ROOM (NETBE__OFFL_HDR_MAX + 16)
#define TX_IOV (NETBE__IOV_MAX + 4 * TX_BATCH + 8)
#define BOUNCE_LEN (NETBE_VNET_HDR_MRG_LEN + NETBE_MAX_FRAME)

struct netbe__offl_state {
	struct netbe__offl_frame frame;
	struct netbe_vnet_hdr zero; /* the backend header of a segment */
	/* transmit */
	struct netbe__offl_out tx;
	struct iovec in[NETBE__IOV_MAX];
	struct netbe_msg tx_msgs[TX_BATCH];
	struct iovec tx_iov[TX_IOV];
	uint8_t tx_arena[TX_BATCH * SEG_HDR_ROOM];
	struct netbe_vnet_hdr tx_hdrs[TX_BATCH]; /* translated batches */
	/* segments of a frame the backend took in part, kept to finish */
	bool took;		  /* the frame being cut: a segment went */
	struct iovec *held;	  /* linear copies, oldest first */
	int nheld, held_head;
	/* receive: frames queued for the frontend, all under one header */
	uint8_t *bounce;
	struct netbe__offl_out rx;
	struct netbe_vnet_hdr qhdr;
	int qhead, qn;
};

/* ---- shared helpers ---------------------------------------------------------- */

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

static struct netbe__offl_state *state(netbe_t *be)
{
	struct netbe__offl_state *s = be->offl;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tx = (struct netbe__offl_out){
		.arena = s->tx_arena, .arena_cap = sizeof(s->tx_arena),
		.msgs = s->tx_msgs, .msgs_cap = TX_BATCH,
		.iov = s->tx_iov, .iov_cap = TX_IOV,
	};
	be->offl = s;
	return s;
}

void netbe__vnet_free(netbe_t *be)
{
	struct netbe__offl_state *s = be->offl;

	if (!s)
		return;
	while (s->nheld) {
		free(s->held[s->held_head++].iov_base);
		s->nheld--;
	}
	free(s->held);
	free(s->bounce);
	free(s->rx.arena);
	free(s->rx.msgs);
	free(s->rx.iov);
	free(s);
	be->offl = NULL;
}

/* Says why a frame was dropped, at most once a second for the process. */
static void log_drop(const netbe_t *be, const char *dir,
		     const struct netbe_vnet_hdr *h, int why)
{
	static int64_t last;
	static unsigned quiet;
	struct timespec ts;
	int64_t now, prev;
	unsigned n;

	if (!netbe__log_enabled(NETBE_LOG_WARN))
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = ts.tv_sec;
	prev = __atomic_load_n(&last, __ATOMIC_RELAXED);
	if (now == prev ||
	    !__atomic_compare_exchange_n(&last, &prev, now, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&quiet, 1, __ATOMIC_RELAXED);
		return;
	}
	n = __atomic_exchange_n(&quiet, 0, __ATOMIC_RELAXED);
	netbe__log(NETBE_LOG_WARN, "%s: %s frame dropped: %s (flags %#x "
		   "gso_type %#x gso_size %u hdr_len %u csum_start %u "
		   "csum_offset %u; %u more not logged)", be->label, dir,
		   netbe__offl_reason(why), h->flags, h->gso_type,
		   le16toh(h->gso_size), le16toh(h->hdr_len),
		   le16toh(h->csum_start), le16toh(h->csum_offset), n);
}

/* Features a frame with header @h needs: HOST_* (tx) or GUEST_* (rx).
 * An unknown gso_type needs everything, so it is never passed on. */
static uint64_t needs(const struct netbe_vnet_hdr *h, bool rx)
{
	uint64_t f = 0;

	if (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM)
		f |= rx ? NETBE_F_GUEST_CSUM : NETBE_F_CSUM;
	if (h->gso_type & NETBE_VNET_HDR_GSO_ECN)
		f |= rx ? NETBE_F_GUEST_ECN : NETBE_F_HOST_ECN;
	switch (h->gso_type & (uint8_t)~NETBE_VNET_HDR_GSO_ECN) {
	case NETBE_VNET_HDR_GSO_NONE:
		return h->gso_type ? ~0ULL : f;
	case NETBE_VNET_HDR_GSO_TCPV4:
		return f | (rx ? NETBE_F_GUEST_TSO4 : NETBE_F_HOST_TSO4);
	case NETBE_VNET_HDR_GSO_TCPV6:
		return f | (rx ? NETBE_F_GUEST_TSO6 : NETBE_F_HOST_TSO6);
	case NETBE_VNET_HDR_GSO_UDP:
		return f | (rx ? NETBE_F_GUEST_UFO : NETBE_F_HOST_UFO);
	case NETBE_VNET_HDR_GSO_UDP_L4:
		/* Without parsing: a frontend takes USO with both halves. */
		return f | (rx ? NETBE_F_GUEST_USO4 | NETBE_F_GUEST_USO6
			       : NETBE_F_HOST_USO);
	default:
		return ~0ULL;
	}
}

bool netbe__vnet_tx_plain(const netbe_t *be)
{
	return be->fe_hdr_len == be->bq.hdr_len &&
	       !(be->features & NETBE__OFFL_EMULATED & ~be->be_caps);
}

/* May the backend deliver offloads the frontend did not accept? */
static bool rx_armed(const netbe_t *be)
{
	return be->bq.hdr_len &&
	       (be->be_caps & NETBE__OFFL_GUEST & ~be->features);
}

bool netbe__vnet_rx_plain(const netbe_t *be)
{
	const struct netbe__offl_state *s = be->offl;

	return be->fe_hdr_len == be->bq.hdr_len && !rx_armed(be) &&
	       !(s && s->qhead < s->qn);
}

/* ---- the frontend's header: untrusted on every path ---------------------------- */

static bool hdr_offl(const struct netbe_vnet_hdr *h)
{
	return (h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM) || h->gso_type;
}

/*
 * Checks a header that asks for an offload against the frame (@len bytes
 * from @off in @iov) it is in front of: 0 or an enum netbe__offl_err.
 * Only a GSO frame's headers are read, once, by the parser.
 */
static int hdr_check(const struct netbe_vnet_hdr *h, const struct iovec *iov,
		     int iovcnt, size_t off, size_t len)
{
	struct iovec small[VNET_IOV_FAST], *v;
	struct netbe__offl_frame f;
	int n, why;

	/* A checksum alone is checked by its range: the frame is not read. */
	if (!h->gso_type)
		return netbe__offl_parse(h, NULL, 0, len, &f);
	/* GSO: the parser reads the headers in place, past our header. */
	if (!(v = iov_room(small, iovcnt)))
		return NETBE__OFFL_E_L2;
	n = netbe__iov_skip(iov, iovcnt, off, v, iovcnt);
	why = n < 0 ? NETBE__OFFL_E_L2 : netbe__offl_parse(h, v, n, len, &f);
	iov_room_free(v, small);
	return why;
}

static ssize_t tx_refuse(netbe_t *be, const struct netbe_vnet_hdr *hdr,
			 int why)
{
	log_drop(be, "transmitted", hdr, why);
	return netbe__err(-EINVAL, "%s: frame refused: %s", be->label,
			  netbe__offl_reason(why));
}

/* The frontend's header, checked against the features it negotiated and
 * the frame: 0, or -EINVAL (logged) for the core to count as bad-header. */
static ssize_t tx_check(netbe_t *be, const struct netbe_vnet_hdr *hdr,
			const struct iovec *iov, int iovcnt)
{
	size_t len;
	int why;

	if (!hdr_offl(hdr))
		return 0;
	if (needs(hdr, false) & ~be->features)
		return tx_refuse(be, hdr, NETBE__OFFL_E_GSO_TYPE);
	len = netbe__iov_len(iov, iovcnt) - be->fe_hdr_len;
	why = hdr_check(hdr, iov, iovcnt, be->fe_hdr_len, len);
	return why ? tx_refuse(be, hdr, why) : 0;
}

/* ---- transmit ----------------------------------------------------------------- */

/* Builds the backend-side iovec in @v (room for iovcnt + 1). */
static int tx_iov(const netbe_t *be, const struct iovec *iov, int iovcnt,
		  struct netbe_vnet_hdr *hdr, struct iovec *v)
{
	unsigned fe = be->fe_hdr_len, bh = be->bq.hdr_len;
	int n = 0, r;

	if (bh)
		v[n++] = (struct iovec){ .iov_base = hdr, .iov_len = bh };
	r = netbe__iov_skip(iov, iovcnt, fe, v + n, iovcnt);
	return r < 0 ? r : n + r;
}

static ssize_t tx_translate(netbe_t *be, const struct iovec *iov, int iovcnt,
			    struct netbe_vnet_hdr *hdr)
{
	struct iovec small[VNET_IOV_FAST], *v;
	ssize_t r;
	int n;

	v = iov_room(small, iovcnt);
	if (!v)
		return -ENOMEM;
	n = tx_iov(be, iov, iovcnt, hdr, v);
	r = n < 0 ? n : be->ops->send(&be->bq, v, n);
	iov_room_free(v, small);
	if (r < 0)
		return r;
	return r - (ssize_t)be->bq.hdr_len + (ssize_t)be->fe_hdr_len;
}

/* Passes segments to the backend: natively batched when it can. */
static int tx_out(netbe_t *be, struct netbe_msg *msgs, int n)
{
	int i, nat;

	if (be->ops->send_batch &&
	    (nat = be->ops->send_batch(&be->bq, msgs, n)) != -EOPNOTSUPP)
		return nat;
	for (i = 0; i < n; i++) {
		ssize_t r = be->ops->send(&be->bq, msgs[i].iov, msgs[i].iovcnt);

		if (r < 0)
			return i ? i : (int)r;
		msgs[i].len = (size_t)r;
	}
	return n;
}

/* Keeps a linear copy of segment @m to send later; false without room. */
static bool tx_hold(struct netbe__offl_state *s, const struct netbe_msg *m)
{
	size_t len = netbe__iov_len(m->iov, m->iovcnt);
	void *p;

	if (!s->held &&
	    !(s->held = calloc(NETBE__OFFL_MAX_SEGS, sizeof(*s->held))))
		return false;
	if (s->held_head + s->nheld >= NETBE__OFFL_MAX_SEGS || !(p = malloc(len)))
		return false;
	netbe__iov_to_buf(m->iov, m->iovcnt, 0, p, len);
	s->held[s->held_head + s->nheld++] = (struct iovec){ p, len };
	return true;
}

/*
 * The engine's sink.  Once the backend took a segment of the frame, the
 * frame is sent: what the backend refuses after that is kept (copied)
 * and goes out first on the next send (netbe__vnet_tx_flush), so a full
 * backend never loses the middle of a TCP segment train.  A frame the
 * backend refused from its first segment is refused whole (-EAGAIN).
 */
static int tx_emit(void *arg, struct netbe_msg *msgs, int n)
{
	netbe_t *be = arg;
	struct netbe__offl_state *s = be->offl;
	int r = s->nheld ? 0 : tx_out(be, msgs, n), i;

	if (r == n)
		return n;
	if (r < 0 && r != -EAGAIN && r != -ENOBUFS)
		return s->took ? n : r; /* a failing backend: lost either way */
	r = r < 0 ? 0 : r;
	if (!s->took && r == 0)
		return -EAGAIN;
	for (i = r; i < n; i++)
		if (!tx_hold(s, &msgs[i]))
			return i;
	s->took = true;
	return n;
}

int netbe__vnet_tx_flush(netbe_t *be)
{
	struct netbe__offl_state *s = be->offl;
	struct netbe_msg m[TX_BATCH];
	int k, r;

	while (s && s->nheld) {
		k = s->nheld < TX_BATCH ? s->nheld : TX_BATCH;
		for (int i = 0; i < k; i++)
			m[i] = (struct netbe_msg){ &s->held[s->held_head + i],
						   1, 0 };
		r = tx_out(be, m, k);
		if (r < 0 && r != -EAGAIN && r != -ENOBUFS)
			r = k; /* the backend failed: they are lost */
		for (int i = 0; i < (r > 0 ? r : 0); i++, s->nheld--)
			free(s->held[s->held_head++].iov_base);
		if (!s->nheld)
			s->held_head = 0;
		if (r < k)
			return -EAGAIN;
	}
	return 0;
}

/* Checksums or segments in software what the backend cannot carry. */
static ssize_t tx_soft(netbe_t *be, const struct iovec *iov, int iovcnt,
		       const struct netbe_vnet_hdr *hdr)
{
	struct netbe__offl_state *s = state(be);
	size_t total = netbe__iov_len(iov, iovcnt);
	int n, why, r;

	if (!s)
		return -ENOMEM;
	n = netbe__iov_skip(iov, iovcnt, be->fe_hdr_len, s->in, NETBE__IOV_MAX);
	if (n < 0)
		return n;
	why = netbe__offl_parse(hdr, s->in, n, total - be->fe_hdr_len,
				&s->frame);
	if (why)
		return tx_refuse(be, hdr, why);
	s->tx.pre = &s->zero;
	s->tx.pre_len = be->bq.hdr_len;
	s->took = false;
	r = netbe__offl_emit(&s->frame, s->in, n, &s->tx, tx_emit, be);
	if (r <= 0)
		return r < 0 ? r : -EAGAIN;
	/* Out of memory to keep the rest: one frame dropped, not to resend. */
	if ((unsigned)r < s->frame.nsegs)
		return -ENOBUFS;
	return (ssize_t)total;
}

/* Reads the frontend's header; false when the frame is too short. */
static bool tx_hdr(const netbe_t *be, const struct iovec *iov, int iovcnt,
		   struct netbe_vnet_hdr *hdr)
{
	unsigned fe = be->fe_hdr_len;

	memset(hdr, 0, sizeof(*hdr));
	if (fe && netbe__iov_to_buf(iov, iovcnt, 0, hdr, fe) != fe)
		return false;
	hdr->num_buffers = 0;
	return true;
}

/* Can the backend take this frame as it is, header length aside? */
static bool tx_native(const netbe_t *be, const struct netbe_vnet_hdr *hdr)
{
	uint64_t need = needs(hdr, false);

	return !need || (be->bq.hdr_len && !(need & ~be->be_caps));
}

bool netbe__vnet_tx_batchable(netbe_t *be, const struct iovec *iov,
			      int iovcnt)
{
	struct netbe_vnet_hdr hdr;

	/* A short header goes the single-frame way, which refuses it. */
	if (!tx_hdr(be, iov, iovcnt, &hdr))
		return false;
	if (!netbe__vnet_tx_plain(be) && !tx_native(be, &hdr))
		return false;
	/* A bad header goes the single-frame way too, to be counted. */
	return !hdr_offl(&hdr) ||
	       (!(needs(&hdr, false) & ~be->features) &&
		!hdr_check(&hdr, iov, iovcnt, be->fe_hdr_len,
			   netbe__iov_len(iov, iovcnt) - be->fe_hdr_len));
}

int netbe__vnet_send_batch(netbe_t *be, struct netbe_msg *msgs, int n,
			   int *tried)
{
	struct netbe__offl_state *s;
	int k, used = 0, r;

	*tried = n;
	if (netbe__vnet_tx_plain(be))
		return be->ops->send_batch(&be->bq, msgs, n);
	if (!(s = state(be)))
		return -ENOMEM;
	/* Only the headers are rewritten; the frames stay where they are. */
	for (k = 0; k < n && k < TX_BATCH; k++) {
		struct netbe_msg *m = &msgs[k];
		int c;

		if (m->iovcnt + 1 > TX_IOV - used)
			break;
		tx_hdr(be, m->iov, m->iovcnt, &s->tx_hdrs[k]);
		c = tx_iov(be, m->iov, m->iovcnt, &s->tx_hdrs[k],
			   s->tx_iov + used);
		if (c < 0)
			break;
		s->tx_msgs[k] = (struct netbe_msg){ s->tx_iov + used, c, 0 };
		used += c;
	}
	*tried = k;
	r = k ? be->ops->send_batch(&be->bq, s->tx_msgs, k) : -EINVAL;
	for (int i = 0; i < r; i++)
		msgs[i].len = s->tx_msgs[i].len ? s->tx_msgs[i].len -
							  be->bq.hdr_len +
							  be->fe_hdr_len
						: 0;
	return r;
}

ssize_t netbe__vnet_send(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	struct netbe_vnet_hdr hdr;
	ssize_t r;

	if (!tx_hdr(be, iov, iovcnt, &hdr))
		return -EINVAL;
	if (netbe__vnet_tx_plain(be) || tx_native(be, &hdr)) {
		if ((r = tx_check(be, &hdr, iov, iovcnt)) < 0)
			return r;
		if (netbe__vnet_tx_plain(be))
			return be->ops->send(&be->bq, iov, iovcnt);
		return tx_translate(be, iov, iovcnt, &hdr);
	}
	if (needs(&hdr, false) & ~be->features)
		return tx_refuse(be, &hdr, NETBE__OFFL_E_GSO_TYPE);
	return tx_soft(be, iov, iovcnt, &hdr);
}

/* ---- receive: plain translation ---------------------------------------------- */

/* Writes the frontend's header, taken from the backend's @hdr. */
static void rx_hdr_out(const netbe_t *be, struct netbe_vnet_hdr *hdr,
		       const struct iovec *iov, int iovcnt)
{
	if (be->bq.hdr_len < NETBE_VNET_HDR_LEN)
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
	ssize_t r = be->ops->recv(&be->bq, &v, 1);

	return r > 0 || r == -ENOSPC ? -ENOSPC : r;
}

/* Same length both sides: the frame lands as is, but num_buffers is the
 * frontend's to fill, never what the other end of a link wrote. */
static ssize_t recv_same(netbe_t *be, const struct iovec *iov, int iovcnt,
			 struct netbe_vnet_hdr *hdr)
{
	static const uint16_t zero;
	ssize_t r = be->ops->recv(&be->bq, iov, iovcnt);

	if (r >= NETBE_VNET_HDR_MRG_LEN && be->fe_hdr_len == NETBE_VNET_HDR_MRG_LEN)
		netbe__buf_to_iov(&zero, sizeof(zero), iov, iovcnt,
				  NETBE_VNET_HDR_LEN);
	if (hdr && r >= (ssize_t)be->bq.hdr_len)
		netbe__iov_to_buf(iov, iovcnt, 0, hdr, be->bq.hdr_len);
	return r;
}

/* Receives into the caller's buffers; the backend's header in *@hdr. */
static ssize_t recv_direct(netbe_t *be, const struct iovec *iov, int iovcnt,
			   struct netbe_vnet_hdr *hdr)
{
	unsigned fe = be->fe_hdr_len, bh = be->bq.hdr_len;
	struct iovec small[VNET_IOV_FAST], *v;
	ssize_t r;
	int n = 0;

	memset(hdr, 0, sizeof(*hdr));
	if (fe == bh)
		return recv_same(be, iov, iovcnt, hdr);
	v = iov_room(small, iovcnt);
	if (!v)
		return -ENOMEM;
	if (bh)
		v[n++] = (struct iovec){ .iov_base = hdr, .iov_len = bh };
	r = netbe__iov_skip(iov, iovcnt, fe, v + n, iovcnt);
	if (r >= 0)
		r = be->ops->recv(&be->bq, v, n + (int)r);
	else if (r == -EINVAL)
		r = recv_drop(be); /* not even room for the frontend's header */
	iov_room_free(v, small);
	if (r <= 0)
		return r;
	if (r < (ssize_t)bh)
		return -EIO;
	if (fe) {
		struct netbe_vnet_hdr out = *hdr;

		rx_hdr_out(be, &out, iov, iovcnt);
	}
	return r - (ssize_t)bh + (ssize_t)fe;
}

/* ---- receive: completing offloads -------------------------------------------- */

static bool rx_accepted(const netbe_t *be, const struct netbe_vnet_hdr *h)
{
	uint64_t need = needs(h, true);

	return !need || (be->fe_hdr_len && !(need & ~be->features));
}

/* A frame whose offload the frontend accepted passes with its header -
 * once the header is checked against it: false when it was dropped. */
static bool rx_valid(netbe_t *be, const struct netbe_vnet_hdr *h,
		     const struct iovec *iov, int iovcnt, size_t off,
		     size_t len)
{
	int why;

	if (!hdr_offl(h) || !(why = hdr_check(h, iov, iovcnt, off, len)))
		return true;
	log_drop(be, "received", h, why);
	netbe__drop(&be->rx, NETBE_DROP_BADHDR, 1);
	return false;
}

/* What the frontend sees in front of a frame the engine completed. */
static struct netbe_vnet_hdr done_hdr(const netbe_t *be)
{
	struct netbe_vnet_hdr h = { 0 };

	if (be->fe_hdr_len)
		h.flags = NETBE_VNET_HDR_F_DATA_VALID;
	return h;
}

/* Sizes the receive side of the engine for @f's segments. */
static int rx_out_fit(struct netbe__offl_out *o, unsigned nsegs)
{
	size_t arena = (size_t)nsegs * SEG_HDR_ROOM + SEG_HDR_ROOM;
	int msgs = (int)nsegs, iovs = 4 * (int)nsegs + 8;
	void *p;

	if (o->arena_cap < arena) {
		if (!(p = realloc(o->arena, arena)))
			return -ENOMEM;
		o->arena = p;
		o->arena_cap = arena;
	}
	if (o->msgs_cap < msgs) {
		if (!(p = realloc(o->msgs, sizeof(*o->msgs) * (size_t)msgs)))
			return -ENOMEM;
		o->msgs = p;
		o->msgs_cap = msgs;
	}
	if (o->iov_cap < iovs) {
		if (!(p = realloc(o->iov, sizeof(*o->iov) * (size_t)iovs)))
			return -ENOMEM;
		o->iov = p;
		o->iov_cap = iovs;
	}
	return 0;
}

/* The engine hands the whole frame's segments over at once (rx_out_fit
 * made room for all): they become the queue. */
static int rx_emit(void *arg, struct netbe_msg *msgs, int n)
{
	struct netbe__offl_state *s = arg;

	(void)msgs;
	s->qhead = 0;
	s->qn = n;
	return n;
}

/* Queues the whole frame at @p as the one item. */
static int rx_queue_one(struct netbe__offl_state *s, uint8_t *p, size_t len)
{
	if (rx_out_fit(&s->rx, 1) < 0)
		return -ENOMEM;
	s->rx.iov[0] = (struct iovec){ p, len };
	s->rx.msgs[0] = (struct netbe_msg){ .iov = s->rx.iov, .iovcnt = 1 };
	s->qhead = 0;
	s->qn = 1;
	return 1;
}

/* Segments the parsed s->frame, @len bytes at @p, into the queue. */
static int rx_segment(netbe_t *be, struct netbe__offl_state *s, uint8_t *p,
		      size_t len)
{
	struct iovec v = { p, len };
	int r;

	s->qhdr = done_hdr(be);
	if (s->frame.kind == NETBE__OFFL_CSUM) {
		uint16_t c = netbe__offl_csum_value(&s->frame, &v, 1);

		memcpy(p + s->frame.csum_pos, &c, 2);
		return rx_queue_one(s, p, len);
	}
	if ((r = rx_out_fit(&s->rx, s->frame.nsegs)) < 0)
		return r;
	s->rx.pre_len = 0;
	r = netbe__offl_emit(&s->frame, &v, 1, &s->rx, rx_emit, s);
	return r < 0 ? r : 1;
}

/* Parses a frame the frontend did not accept; 0 when it is malformed
 * (dropped, counted, logged). */
static int rx_parse(netbe_t *be, struct netbe__offl_state *s,
		    const struct netbe_vnet_hdr *h, const struct iovec *iov,
		    int iovcnt, size_t len)
{
	int why = netbe__offl_parse(h, iov, iovcnt, len, &s->frame);

	if (!why)
		return 1;
	log_drop(be, "received", h, why);
	netbe__drop(&be->rx, NETBE_DROP_BADHDR, 1);
	return 0;
}

/*
 * The frame in the bounce buffer (@len bytes after the backend header
 * @h): queues it as one item or as its segments.  Returns 1, or 0 when it
 * was malformed (dropped, counted), or -errno.
 */
static int rx_complete(netbe_t *be, struct netbe__offl_state *s,
		       const struct netbe_vnet_hdr *h, size_t len)
{
	uint8_t *p = s->bounce + be->bq.hdr_len;
	struct iovec v = { p, len };

	if (rx_accepted(be, h)) {
		if (!rx_valid(be, h, &v, 1, 0, len))
			return 0;
		s->qhdr = *h;
		return rx_queue_one(s, p, len);
	}
	if (!rx_parse(be, s, h, &v, 1, len))
		return 0;
	return rx_segment(be, s, p, len);
}

/* Reads the next backend frame into the bounce buffer and queues it.
 * Returns 1 when something is queued, 0 when nothing waits, or -errno. */
static ssize_t rx_fill(netbe_t *be)
{
	struct netbe__offl_state *s = state(be);
	unsigned bh = be->bq.hdr_len;
	struct netbe_vnet_hdr h;
	struct iovec v;
	ssize_t r;

	if (!s || (!s->bounce && !(s->bounce = malloc(BOUNCE_LEN))))
		return -ENOMEM;
	do {
		v = (struct iovec){ s->bounce, BOUNCE_LEN };
		r = be->ops->recv(&be->bq, &v, 1);
		if (r <= 0)
			return r;
		if (r < (ssize_t)bh)
			return -EIO;
		memset(&h, 0, sizeof(h));
		memcpy(&h, s->bounce, bh);
		r = rx_complete(be, s, &h, (size_t)r - bh);
	} while (r == 0);
	return r;
}

static bool rxq_pending(const netbe_t *be)
{
	const struct netbe__offl_state *s = be->offl;

	return s && s->qhead < s->qn;
}

static ssize_t rxq_len(const netbe_t *be)
{
	const struct netbe__offl_state *s = be->offl;
	const struct netbe_msg *m = &s->rx.msgs[s->qhead];

	return (ssize_t)(be->fe_hdr_len + netbe__iov_len(m->iov, m->iovcnt));
}

/* Delivers the head of the queue into the caller's buffers. */
static ssize_t rxq_deliver(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	struct netbe__offl_state *s = be->offl;
	const struct netbe_msg *m = &s->rx.msgs[s->qhead];
	size_t len = (size_t)rxq_len(be), off = be->fe_hdr_len;
	struct netbe_vnet_hdr h = s->qhdr;

	s->qhead++;
	if (len > netbe__iov_len(iov, iovcnt))
		return -ENOSPC;
	h.num_buffers = 0;
	netbe__buf_to_iov(&h, be->fe_hdr_len, iov, iovcnt, 0);
	for (int i = 0; i < m->iovcnt; i++) {
		netbe__buf_to_iov(m->iov[i].iov_base, m->iov[i].iov_len, iov,
				  iovcnt, off);
		off += m->iov[i].iov_len;
	}
	return (ssize_t)len;
}

/*
 * A frame received into the caller's buffers whose offload the frontend
 * did not accept: a checksum is completed there; a GSO frame is copied to
 * the bounce buffer, segmented, and its first segment delivered.
 * Returns the length delivered, 0 when it was dropped, or -errno.
 */
static ssize_t rx_fixup(netbe_t *be, const struct iovec *iov, int iovcnt,
			size_t len, const struct netbe_vnet_hdr *h)
{
	struct netbe__offl_state *s = state(be);
	size_t fe = be->fe_hdr_len, fl = len - fe;
	struct netbe_vnet_hdr out = done_hdr(be);
	uint16_t c;
	int n, r;

	if (!s)
		return -ENOMEM;
	n = netbe__iov_skip(iov, iovcnt, fe, s->in, NETBE__IOV_MAX);
	if (n < 0)
		return n;
	if (!rx_parse(be, s, h, s->in, n, fl))
		return 0;
	if (s->frame.kind == NETBE__OFFL_CSUM) {
		c = netbe__offl_csum_value(&s->frame, s->in, n);
		netbe__buf_to_iov(&c, 2, s->in, n, s->frame.csum_pos);
		netbe__buf_to_iov(&out, fe, iov, iovcnt, 0);
		return (ssize_t)len;
	}
	/* Rare: big buffers but no GUEST_TSO.  Segments are delivered from
	 * the bounce buffer like those of a peeked frame. */
	if (!s->bounce && !(s->bounce = malloc(BOUNCE_LEN)))
		return -ENOMEM;
	netbe__iov_to_buf(s->in, n, 0, s->bounce, fl);
	r = rx_segment(be, s, s->bounce, fl);
	if (r <= 0)
		return r;
	return rxq_deliver(be, iov, iovcnt);
}

ssize_t netbe__vnet_peek(netbe_t *be)
{
	ssize_t r;

	if (rxq_pending(be))
		return rxq_len(be);
	if (rx_armed(be)) {
		r = rx_fill(be);
		return r <= 0 ? r : rxq_len(be);
	}
	r = be->ops->peek_recvlen(&be->bq);
	if (r <= 0 || be->fe_hdr_len == be->bq.hdr_len)
		return r;
	return r - (ssize_t)be->bq.hdr_len + (ssize_t)be->fe_hdr_len;
}

/* Armed receive: straight into big buffers, else through the bounce
 * buffer unless the backend says the frame fits. */
static ssize_t recv_armed(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	size_t room = netbe__iov_len(iov, iovcnt);
	struct netbe_vnet_hdr h;
	ssize_t r, next;

	for (;;) {
		next = room >= be->fe_hdr_len + NETBE_MAX_FRAME
			       ? 0 : be->ops->peek_recvlen(&be->bq);
		if (next < 0 || (next > 0 && (size_t)next - be->bq.hdr_len +
						     be->fe_hdr_len > room)) {
			r = rx_fill(be);
			return r <= 0 ? r : rxq_deliver(be, iov, iovcnt);
		}
		r = recv_direct(be, iov, iovcnt, &h);
		if (r <= 0)
			return r;
		if (rx_accepted(be, &h)) {
			if (rx_valid(be, &h, iov, iovcnt, be->fe_hdr_len,
				     (size_t)r - be->fe_hdr_len))
				return r;
			continue;
		}
		r = rx_fixup(be, iov, iovcnt, (size_t)r, &h);
		if (r != 0)
			return r;
	}
}

ssize_t netbe__vnet_recv(netbe_t *be, const struct iovec *iov, int iovcnt)
{
	struct netbe_vnet_hdr h;

	if (rxq_pending(be))
		return rxq_deliver(be, iov, iovcnt);
	if (rx_armed(be))
		return recv_armed(be, iov, iovcnt);
	for (;;) {
		ssize_t r = recv_direct(be, iov, iovcnt, &h);

		if (r <= 0 || rx_valid(be, &h, iov, iovcnt, be->fe_hdr_len,
				       (size_t)r - be->fe_hdr_len))
			return r;
	}
}

bool netbe__vnet_rx_held(const netbe_t *be)
{
	return rxq_pending(be);
}
