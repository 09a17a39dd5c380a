/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vring.h - a split virtqueue seen from the device side (vring.c): pure
 * functions over a memory table, so the fuzzer can drive them.  Internal.
 */
#ifndef NETBE_VHOST_VRING_H
#define NETBE_VHOST_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem.h"

#define NETBE__VRING_MAX 32768 /* largest split ring (virtio 1.x) */
#define NETBE__VRING_HEADS 32  /* avail entries read ahead at once */

#define NETBE__VRING_DESC_F_NEXT 1
#define NETBE__VRING_DESC_F_WRITE 2
#define NETBE__VRING_DESC_F_INDIRECT 4
#define NETBE__VRING_AVAIL_F_NO_INTERRUPT 1
#define NETBE__VRING_USED_F_NO_NOTIFY 1
#define NETBE__VRING_NO_LOG UINT64_MAX

/* Ring layout (little-endian; this code assumes a little-endian host). */
struct netbe__vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct netbe__vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct netbe__vring {
	/* Set by netbe__vring_setup(). */
	const struct netbe__vh_mem *mem;
	unsigned num;
	struct netbe__vring_desc *desc;
	uint16_t *avail;  /* flags, idx, ring[num], used_event */
	uint16_t *used;   /* flags, idx, then used elements, avail_event */
	bool event_idx;	  /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool in_order;	  /* VIRTIO_F_IN_ORDER negotiated */
	/* Progress. */
	uint16_t last_avail; /* next avail entry to take */
	uint16_t used_idx;   /* our used->idx, published by flush */
	uint16_t signalled;  /* used_idx at the last interrupt decision */
	uint16_t pend_head;  /* in order: the head flush writes (pend) */
	bool pend;
	uint16_t ahead;	     /* entries past last_avail the last checked
				avail index load covered: taken without
				loading it again */
	unsigned hint;	     /* memory region the last translation hit */
	/* Heads of the avail entries from last_avail on, read once each
	 * (not yet checked: peek checks the one it uses). */
	uint16_t heads[NETBE__VRING_HEADS];
	uint8_t heads_n, heads_i;
	bool notify;	     /* we turned notifications on (notify_on) and
				not off since; false after setup */
	/* Live migration: the dirty log while the VMM logs (NULL when
	 * not), and the guest-physical address our used ring is logged
	 * at (VHOST_VRING_F_LOG; NETBE__VRING_NO_LOG: not logged). */
	const struct netbe__vh_log *log;
	uint64_t log_used;
	bool broken;	     /* stopped for good: why says why */
	const char *why;
};

/* The ring's addresses, already in our address space (see setup). */
struct netbe__vring_addr {
	uint64_t desc, avail, used; /* the VMM's virtual addresses */
};

/*
 * Points @vr at ring memory: translates the three areas through @mem (the
 * VMM's virtual addresses) and checks their size and alignment for @num
 * entries.  Keeps last_avail/used_idx as set by the caller.  0, or
 * -EINVAL with @vr->why set.
 */
int netbe__vring_setup(struct netbe__vring *vr,
		       const struct netbe__vh_mem *mem, unsigned num,
		       const struct netbe__vring_addr *a);

/* One descriptor chain taken from the avail ring. */
struct netbe__vring_chain {
	uint16_t head;	/* id to return in the used ring */
	int niov;	/* pieces in iov */
	size_t len;	/* bytes in all pieces */
	bool too_long;	/* more pieces than the caller's iov: iov holds the
			   first ones, len counts all */
};

/*
 * Walks the next available chain into @iov (@max entries) without taking
 * it.  @write: the chain must be device-writable (an rx ring), else
 * device-readable.  Returns 1 with @c filled, 0 when the ring is empty,
 * -EIO when the ring is broken (now or before; vr->why says why: an index
 * jump, a loop, an out-of-range index or address, a bad indirect table).
 */
int netbe__vring_peek(struct netbe__vring *vr, bool write, struct iovec *iov,
		      int max, struct netbe__vring_chain *c);
/* Takes the chain peek returned (last_avail++). */
static inline void netbe__vring_take(struct netbe__vring *vr)
{
	vr->last_avail++;
	if (vr->ahead)
		vr->ahead--;
	if (vr->heads_i < vr->heads_n)
		vr->heads_i++;
}
/* Chains the driver made available that we have not taken, 0 when
 * broken.  Loads the avail index (acquire) every time. */
unsigned netbe__vring_pending(struct netbe__vring *vr);
/* Puts the ring back to (@last_avail, @used_idx): chains taken and
 * pushed since are given back (a frame that did not fit). */
static inline void netbe__vring_rewind(struct netbe__vring *vr,
				       uint16_t last_avail, uint16_t used_idx)
{
	vr->last_avail = last_avail;
	vr->used_idx = used_idx;
	vr->ahead = 0;
	vr->heads_n = vr->heads_i = 0;
	vr->pend = false;
}

/* Puts (@head, @len) in the used ring; visible to the driver at flush. */
static inline void netbe__vring_push(struct netbe__vring *vr, uint16_t head,
				     uint32_t len)
{
	struct netbe__vring_used_elem *e =
		(struct netbe__vring_used_elem *)(void *)((uint8_t *)vr->used +
							  4) +
		vr->used_idx % vr->num;

	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vr->used_idx++;
}
/* Returns a chain the device only read (a transmit chain: length 0).
 * With IN_ORDER only the last of a batch is written, at flush, and
 * used->idx counts the others (virtio 1.1, 2.6.9): a guest that polls
 * the used ring then takes one line from us per batch, not one per
 * eight frames. */
static inline void netbe__vring_push_read(struct netbe__vring *vr,
					  uint16_t head)
{
	if (!vr->in_order) {
		netbe__vring_push(vr, head, 0);
		return;
	}
	vr->pend_head = head;
	vr->pend = true;
	vr->used_idx++;
}
/* Publishes the pushed entries; true when the driver wants an interrupt
 * for them. */
bool netbe__vring_flush(struct netbe__vring *vr);

/*
 * Notifications from the driver: off while we are busy taking chains,
 * on when the ring ran dry.  notify_on returns true when chains arrived
 * meanwhile (look again; notifications are off again then).  vr->notify
 * says whether they are on (an empty ring found with them on needs no
 * new arming, nor the kick drained again).
 */
void netbe__vring_notify_off(struct netbe__vring *vr);
bool netbe__vring_notify_on(struct netbe__vring *vr);

/* Stops the ring with reason @why (a string literal). */
void netbe__vring_break(struct netbe__vring *vr, const char *why);

#endif
