/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vring.c - the device side of a split virtqueue (virtio 1.x, 2.7).
 *
 * Theory of operation
 *   The guest (the driver) owns the descriptor table and the avail ring;
 *   we own the used ring.  All three live in guest memory the VMM shared
 *   with us, which the guest may rewrite at any moment, so every value is
 *   read from it exactly once (a relaxed atomic load into a local) and
 *   checked before use: an avail index more than the ring size ahead, a
 *   head or next index past its table, a chain that visits more
 *   descriptors than its table has (a loop), an indirect descriptor when
 *   INDIRECT_DESC was not negotiated, a nested one, one with NEXT, or one
 *   whose table is empty, not a whole number of descriptors, misaligned
 *   or outside guest memory, a descriptor going the wrong way (writable in
 *   a transmit chain, read-only in a receive chain) or an address outside
 *   the memory table: each stops the ring for good ("broken", with the
 *   reason in why for the log).  A broken ring is never touched again
 *   until the VMM sets it up anew, so nothing the guest does afterwards
 *   can make us read or write outside the mapped regions.
 *
 *   Buffers are translated piecewise (mem.c): one descriptor may give
 *   several iovec pieces when it crosses from one region into an
 *   adjacent one.  A chain with more pieces than the caller's iovec is
 *   not an attack (Linux sends at most MAX_SKB_FRAGS + 2 pieces, we take
 *   256) but cannot be used whole: peek says so (too_long) and the caller
 *   drops that one frame.
 *
 *   Ordering.  We load avail->idx with acquire before reading the entries
 *   it covers, and store used->idx with release after writing the entries
 *   it covers, as the spec's memory barriers require.  Deciding whether to
 *   interrupt reads used_event (EVENT_IDX) or avail->flags after a full
 *   fence, so a driver that re-enables interrupts cannot be missed; the
 *   same fence separates re-enabling notifications from re-checking the
 *   avail index when the ring runs dry.  One flush per batch: the guest
 *   sees a whole batch at once and gets at most one interrupt for it.
 *   With VIRTIO_F_IN_ORDER a batch of chains we only read (length 0) is
 *   returned as one used entry, the last chain's head, written at flush,
 *   with used->idx moved by the batch (virtio 1.1, 2.6.9).
 *
 *   Live migration.  While the VMM logs (LOG_ALL, a log from
 *   SET_LOG_BASE) every write of ours to the used ring marks the ring's
 *   pages in the dirty log, at the address the VMM gave for it; the
 *   buffers we fill are marked by the backend, which knows how much of
 *   each it wrote.
 */
#include <errno.h>
#include <string.h>

#include "vring.h"

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

void netbe__vring_break(struct netbe__vring *vr, const char *why)
{
	if (!vr->broken) {
		vr->broken = true;
		vr->why = why;
	}
}

static int vbreak(struct netbe__vring *vr, const char *why)
{
	netbe__vring_break(vr, why);
	return -EIO;
}

static uint16_t *avail_ring(const struct netbe__vring *vr)
{
	return vr->avail + 2;
}

static uint16_t *used_event(const struct netbe__vring *vr)
{
	return vr->avail + 2 + vr->num;
}

static uint16_t *avail_event(const struct netbe__vring *vr)
{
	return (uint16_t *)(void *)((uint8_t *)vr->used + 4 +
				    8 * (size_t)vr->num);
}

int netbe__vring_setup(struct netbe__vring *vr,
		       const struct netbe__vh_mem *mem, unsigned num,
		       const struct netbe__vring_addr *a)
{
	vr->broken = false;
	vr->why = NULL;
	vr->ahead = 0;
	vr->heads_n = vr->heads_i = 0;
	vr->pend = false;
	vr->hint = 0;
	vr->notify = false; /* not known: notify_on arms explicitly */
	vr->num = num;
	vr->mem = mem;
	if (num == 0 || num > NETBE__VRING_MAX)
		return vbreak(vr, "ring size not in 1..32768");
	vr->desc = netbe__vh_uva(mem, a->desc, 16 * (uint64_t)num);
	vr->avail = netbe__vh_uva(mem, a->avail, 6 + 2 * (uint64_t)num);
	vr->used = netbe__vh_uva(mem, a->used, 6 + 8 * (uint64_t)num);
	if (!vr->desc || !vr->avail || !vr->used)
		return vbreak(vr, "ring address outside guest memory");
	if (((uintptr_t)vr->desc & 15) || ((uintptr_t)vr->avail & 1) ||
	    ((uintptr_t)vr->used & 3))
		return vbreak(vr, "ring misaligned");
	return 0;
}

unsigned netbe__vring_pending(struct netbe__vring *vr)
{
	uint16_t idx, n;

	if (vr->broken)
		return 0;
	idx = __atomic_load_n(&vr->avail[1], __ATOMIC_ACQUIRE);
	n = (uint16_t)(idx - vr->last_avail);
	if (n > vr->num) {
		vbreak(vr, "avail index moved past the ring size");
		return 0;
	}
	vr->ahead = n;
	return n;
}

static struct netbe__vring_desc desc_load(const struct netbe__vring_desc *p)
{
	struct netbe__vring_desc d;

	d.addr = LD(&p->addr);
	d.len = LD(&p->len);
	d.flags = LD(&p->flags);
	d.next = LD(&p->next);
	return d;
}

/* Adds the buffer of @d to @c, piece by piece. */
static int add_buf(struct netbe__vring *vr, const struct netbe__vring_desc *d,
		   bool write, struct iovec *iov, int max,
		   struct netbe__vring_chain *c)
{
	uint64_t addr = d->addr, left = d->len;

	if (!!(d->flags & NETBE__VRING_DESC_F_WRITE) != write)
		return vbreak(vr, write ? "read-only descriptor in a "
					  "receive chain"
					: "writable descriptor in a "
					  "transmit chain");
	while (left) {
		uint64_t got = 0;
		void *p = netbe__vh_gpa_hint(vr->mem, addr, left, &got,
					     &vr->hint);

		if (!p)
			return vbreak(vr, "descriptor address outside "
					  "guest memory");
		if (c->niov == max) {
			c->too_long = true;
			return 0;
		}
		iov[c->niov].iov_base = p;
		iov[c->niov++].iov_len = (size_t)got;
		c->len += (size_t)got;
		addr += got;
		left -= got;
	}
	return 0;
}

/* Switches the walk to the indirect table @d points at. */
static int enter_indirect(struct netbe__vring *vr,
			  const struct netbe__vring_desc *d, bool nested,
			  const struct netbe__vring_desc **tab, unsigned *tnum)
{
	const void *p;

	if (!vr->indirect)
		return vbreak(vr, "indirect descriptor not negotiated");
	if (nested)
		return vbreak(vr, "indirect descriptor in an indirect table");
	if (d->flags & NETBE__VRING_DESC_F_NEXT)
		return vbreak(vr, "indirect descriptor with NEXT");
	if (!d->len || d->len % 16 || d->len / 16 > NETBE__VRING_MAX)
		return vbreak(vr, "indirect table size invalid");
	p = netbe__vh_gpa_all(vr->mem, d->addr, d->len);
	if (!p)
		return vbreak(vr, "indirect table outside guest memory");
	if ((uintptr_t)p & 15)
		return vbreak(vr, "indirect table misaligned");
	*tab = p;
	*tnum = d->len / 16;
	return 0;
}

static int walk(struct netbe__vring *vr, bool write, struct iovec *iov,
		int max, struct netbe__vring_chain *c)
{
	const struct netbe__vring_desc *tab = vr->desc;
	unsigned tnum = vr->num, i = c->head, seen = 0;
	bool nested = false;

	for (;;) {
		struct netbe__vring_desc d;
		int r;

		if (++seen > tnum)
			return vbreak(vr, "descriptor chain loops or is "
					  "longer than its table");
		d = desc_load(&tab[i]);
		if (d.flags & NETBE__VRING_DESC_F_INDIRECT) {
			r = enter_indirect(vr, &d, nested, &tab, &tnum);
			if (r < 0)
				return r;
			nested = true;
			i = 0;
			seen = 0;
			continue;
		}
		r = add_buf(vr, &d, write, iov, max, c);
		if (r < 0)
			return r;
		if (!(d.flags & NETBE__VRING_DESC_F_NEXT))
			return 1;
		if (d.next >= tnum)
			return vbreak(vr, "next descriptor index out of range");
		i = d.next;
	}
}

/* Reads the heads of up to NETBE__VRING_HEADS published entries from
 * last_avail on, once each, and prefetches their descriptors: the guest
 * wrote them on another CPU, and misses taken together overlap where one
 * at a time they queue (the walk's loads were most of peek's samples). */
static void heads_fill(struct netbe__vring *vr)
{
	unsigned n = vr->ahead < NETBE__VRING_HEADS ? vr->ahead
						    : NETBE__VRING_HEADS;

	for (unsigned j = 0; j < n; j++) {
		uint16_t h = LD(&avail_ring(vr)[(uint16_t)(vr->last_avail + j) %
						vr->num]);

		vr->heads[j] = h;
		if (h < vr->num)
			__builtin_prefetch(&vr->desc[h]);
	}
	vr->heads_n = (uint8_t)n;
	vr->heads_i = 0;
}

int netbe__vring_peek(struct netbe__vring *vr, bool write, struct iovec *iov,
		      int max, struct netbe__vring_chain *c)
{
	uint16_t head;

	c->niov = 0;
	c->len = 0;
	c->too_long = false;
	if (vr->broken)
		return -EIO;
	/* The entries a checked load of avail->idx covered need no new
	 * load (nor its barrier); each head is still read once, checked. */
	if (!vr->ahead && !netbe__vring_pending(vr))
		return vr->broken ? -EIO : 0;
	if (vr->heads_i == vr->heads_n)
		heads_fill(vr);
	head = vr->heads[vr->heads_i];
	if (head >= vr->num)
		return vbreak(vr, "avail entry out of range");
	c->head = head;
	return walk(vr, write, iov, max, c);
}

/* Our writes to the used ring (entries, index, flags, avail_event) are
 * logged as the whole ring: a page or two, a few bits per batch while
 * the VMM logs. */
static void log_used(const struct netbe__vring *vr)
{
	if (vr->log && vr->log_used != NETBE__VRING_NO_LOG)
		netbe__vh_log_gpa(vr->log, vr->log_used,
				  6 + 8 * (uint64_t)vr->num);
}

bool netbe__vring_flush(struct netbe__vring *vr)
{
	uint16_t old = vr->signalled, now = vr->used_idx;

	if (vr->broken || old == now)
		return false;
	if (vr->pend) {
		vr->used_idx = (uint16_t)(now - 1);
		netbe__vring_push(vr, vr->pend_head, 0);
		vr->pend = false;
	}
	__atomic_store_n(&vr->used[1], now, __ATOMIC_RELEASE);
	log_used(vr);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vr->signalled = now;
	if (vr->event_idx)
		return (uint16_t)(now - LD(used_event(vr)) - 1) <
		       (uint16_t)(now - old);
	return !(LD(&vr->avail[0]) & NETBE__VRING_AVAIL_F_NO_INTERRUPT);
}

void netbe__vring_notify_off(struct netbe__vring *vr)
{
	/* Not again when off: the flags share a cache line with used->idx,
	 * which the guest reads, and a store there costs it a miss. */
	if (!vr->notify)
		return;
	vr->notify = false;
	if (!vr->event_idx && !vr->broken) {
		ST(&vr->used[0], NETBE__VRING_USED_F_NO_NOTIFY);
		log_used(vr);
	}
}

bool netbe__vring_notify_on(struct netbe__vring *vr)
{
	if (vr->broken)
		return false;
	vr->notify = true;
	if (vr->event_idx)
		ST(avail_event(vr), vr->last_avail);
	else
		ST(&vr->used[0], 0);
	log_used(vr);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!netbe__vring_pending(vr))
		return false;
	netbe__vring_notify_off(vr);
	return true;
}
