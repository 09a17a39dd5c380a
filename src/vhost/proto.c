/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proto.c - the vhost-user protocol, device side: what each message from
 * the VMM (the "front-end" in vhost-user.rst) does to the device.
 *
 * Theory of operation
 *   A message is a 12-byte header {request, flags, size} and @size bytes
 *   of payload, with file descriptors alongside (SCM_RIGHTS).  The
 *   backend reads one (socket, partial reads and fds are its business)
 *   and calls netbe__vh_handle(), which looks the request up in one
 *   table: its exact payload size, the fds it takes, whether it has a
 *   reply of its own (the GETs).  Anything else - an unknown request, a
 *   wrong size, a missing or surplus fd, a ring index out of range, a
 *   feature we never offered - is refused: the fds are closed, why says
 *   what was wrong (the backend logs it), and a VMM that asked for an
 *   acknowledgement (NEED_REPLY; we offer REPLY_ACK) gets a failure code.
 *   A refused GET still gets its reply, zeroed, so a VMM never hangs
 *   waiting.  Only a header we cannot trust (wrong version, a payload
 *   larger than any request has) ends the connection: the stream cannot
 *   be resynchronised past it.
 *
 *   Rings.  Each ring is in one of two states for the data path: live
 *   (started by SET_VRING_KICK, enabled, addresses set, memory mapped,
 *   translated and checked by vring.c) or not.  A ring starts disabled
 *   when PROTOCOL_FEATURES was negotiated (SET_VRING_ENABLE turns it on)
 *   and enabled otherwise, as the spec says.  GET_VRING_BASE stops it and
 *   returns where it stopped, so a VMM can restart it (reboot, migration)
 *   from there.  Every change goes through vq_update(), which re-derives
 *   live from the configuration.
 *
 *   Live migration.  We offer LOG_ALL and LOG_SHMFD: SET_LOG_BASE maps
 *   the VMM's dirty bitmap (mem.c), and while LOG_ALL is acked every
 *   ring points at it (vq_update), with its used ring logged where
 *   SET_VRING_ADDR said when it carries the log flag; vring.c marks our
 *   used-ring writes, the backend the buffers it fills.  QEMU turns both
 *   on and off with SET_FEATURES and SET_VRING_ADDR on live rings, which
 *   vq_update re-derives without losing the rings' places.  After the
 *   move, SEND_RARP (protocol feature RARP) hands the guest's MAC to the
 *   backend, which announces it.
 *
 *   Threads.  Messages are handled on the netbe loop; the rings are used
 *   by the queues' threads.  Each ring has a mutex the data path holds
 *   for a batch; a change to a ring takes that ring's mutex, and a new
 *   memory table takes all of them (in index order; the data path holds
 *   one at a time, so no deadlock), is mapped before and unmapped after,
 *   so no data thread ever sees a half-changed ring or a stale mapping.
 *   QEMU changes rings and memory only with rings stopped, but a hostile
 *   VMM may do it mid-traffic; this costs one uncontended mutex per batch.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define PROTOCOL_OFFERED \
	(VHU_PF_MQ | VHU_PF_LOG_SHMFD | VHU_PF_RARP | VHU_PF_REPLY_ACK)

struct vh_req {
	uint32_t req;
	const char *name;
	int size;	/* exact payload size; -1: checked by the handler */
	int nfds;	/* fds it takes; -1: checked by the handler */
	int reply;	/* bytes of its own reply; 0: none */
	int (*fn)(struct netbe__vh_dev *d, const struct netbe__vh_msg *m,
		  int *fds, unsigned nfds, struct netbe__vh_msg *rep,
		  const char **why);
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static uint64_t get_u64(const struct netbe__vh_msg *m, size_t off)
{
	uint64_t v;

	memcpy(&v, m->payload + off, sizeof(v));
	return v;
}

static uint32_t get_u32(const struct netbe__vh_msg *m, size_t off)
{
	uint32_t v;

	memcpy(&v, m->payload + off, sizeof(v));
	return v;
}

static void put_u64(struct netbe__vh_msg *rep, uint64_t v)
{
	memcpy(rep->payload, &v, sizeof(v));
}

static void lock_all(struct netbe__vh_dev *d)
{
	for (unsigned i = 0; i < 2 * d->npairs; i++)
		pthread_mutex_lock(&d->vq[i].lock);
}

static void unlock_all(struct netbe__vh_dev *d)
{
	for (unsigned i = 2 * d->npairs; i-- > 0;)
		pthread_mutex_unlock(&d->vq[i].lock);
}

/* ---- rings ------------------------------------------------------------- */

/* Re-derives whether ring @i is live (its lock held).  A fresh start
 * takes the indexes from SET_VRING_BASE and the used ring. */
static int vq_update(struct netbe__vh_dev *d, unsigned i, bool fresh,
		     const char **why)
{
	struct netbe__vh_vq *q = &d->vq[i];
	bool was = q->live;

	if (q->live)
		q->base = q->vr.last_avail;
	q->live = false;
	if (!q->started || !q->enabled || !q->addr_set || !d->mem.n)
		return 0;
	q->vr.event_idx = d->features & VHU_F_EVENT_IDX;
	q->vr.indirect = d->features & VHU_F_INDIRECT_DESC;
	q->vr.in_order = d->features & VHU_F_IN_ORDER;
	if (netbe__vring_setup(&q->vr, &d->mem, q->num, &q->addr) < 0) {
		*why = q->vr.why;
		return -EINVAL;
	}
	q->vr.log = (d->features & VHU_F_LOG_ALL) && d->log.map ? &d->log
								 : NULL;
	q->vr.log_used = (q->addr_flags & VHU_VRING_F_LOG) ? q->log_addr
							    : NETBE__VRING_NO_LOG;
	if (fresh || !was) {
		q->vr.last_avail = q->base;
		q->vr.used_idx = __atomic_load_n(&q->vr.used[1],
						 __ATOMIC_RELAXED);
		q->vr.signalled = q->vr.used_idx;
	}
	q->live = true;
	q->told = false;
	if (!was && d->hooks.wake)
		d->hooks.wake(d->hooks.arg, i);
	return 0;
}

/* Re-derives every ring after a change they all depend on (features,
 * the memory table, the log); every lock held.  0, or -EINVAL with *why
 * from the last ring that could not be set up. */
static int vq_update_all(struct netbe__vh_dev *d, const char **why)
{
	int r = 0;

	for (unsigned i = 0; i < 2 * d->npairs; i++)
		if (vq_update(d, i, false, why) < 0)
			r = -EINVAL;
	return r;
}

static void vq_set_kick(struct netbe__vh_dev *d, unsigned i, int fd)
{
	struct netbe__vh_vq *q = &d->vq[i];

	if (d->hooks.kick)
		d->hooks.kick(d->hooks.arg, i, q->kick, fd);
	close_fd(&q->kick);
	q->kick = fd;
}

/* Stops ring @i (lock held): no kick, not live; base keeps its place. */
static void vq_stop(struct netbe__vh_dev *d, unsigned i)
{
	struct netbe__vh_vq *q = &d->vq[i];

	if (q->live)
		q->base = q->vr.last_avail;
	q->live = false;
	q->started = false;
	vq_set_kick(d, i, -1);
}

static void vq_clear(struct netbe__vh_dev *d, unsigned i)
{
	struct netbe__vh_vq *q = &d->vq[i];

	vq_stop(d, i);
	close_fd(&q->call);
	close_fd(&q->err);
	q->num = 0;
	q->base = 0;
	q->addr_set = false;
	q->enabled = false;
	memset(&q->vr, 0, sizeof(q->vr));
}

/* The ring index of a vring-state or vring-address payload. */
static int vq_index(const struct netbe__vh_dev *d, uint64_t v, unsigned *i,
		    const char **why)
{
	if (v >= 2 * (uint64_t)d->npairs) {
		*why = "ring index out of range";
		return -ERANGE;
	}
	*i = (unsigned)v;
	return 0;
}

/* ---- handlers ----------------------------------------------------------- */

static int h_get_features(struct netbe__vh_dev *d,
			  const struct netbe__vh_msg *m, int *fds,
			  unsigned nfds, struct netbe__vh_msg *rep,
			  const char **why)
{
	(void)m, (void)fds, (void)nfds, (void)why;
	put_u64(rep, d->offered);
	return 0;
}

static int h_set_features(struct netbe__vh_dev *d,
			  const struct netbe__vh_msg *m, int *fds,
			  unsigned nfds, struct netbe__vh_msg *rep,
			  const char **why)
{
	uint64_t f = get_u64(m, 0);
	int r;

	(void)fds, (void)nfds, (void)rep;
	if (f & ~d->offered) {
		*why = "features acked that were not offered";
		return -EINVAL;
	}
	lock_all(d);
	d->features = f;
	d->guest_hdr = (f & (VHU_F_VERSION_1 | (1ULL << 15))) ? 12 : 10;
	r = vq_update_all(d, why);
	unlock_all(d);
	if (d->hooks.features)
		d->hooks.features(d->hooks.arg, f);
	return r;
}

static int h_set_owner(struct netbe__vh_dev *d, const struct netbe__vh_msg *m,
		       int *fds, unsigned nfds, struct netbe__vh_msg *rep,
		       const char **why)
{
	(void)m, (void)fds, (void)nfds, (void)rep, (void)why;
	d->owner = true;
	return 0;
}

static int h_reset_owner(struct netbe__vh_dev *d,
			 const struct netbe__vh_msg *m, int *fds,
			 unsigned nfds, struct netbe__vh_msg *rep,
			 const char **why)
{
	uint64_t protocol = d->protocol; /* not renegotiated after it */

	(void)m, (void)fds, (void)nfds, (void)rep, (void)why;
	netbe__vh_dev_reset(d);
	d->protocol = protocol;
	return 0;
}

static int h_set_mem_table(struct netbe__vh_dev *d,
			   const struct netbe__vh_msg *m, int *fds,
			   unsigned nfds, struct netbe__vh_msg *rep,
			   const char **why)
{
	struct netbe__vh_region_msg reg[NETBE__VH_MEM_MAX];
	struct netbe__vh_mem fresh = { 0 }, old;
	uint32_t n = m->size >= 8 ? get_u32(m, 0) : 0;
	int r = 0;

	(void)rep;
	if (m->size < 8 || n > NETBE__VH_MEM_MAX || m->size != 8 + 32 * n ||
	    nfds != n) {
		*why = "memory table size, region count and fds disagree";
		return -EINVAL;
	}
	memcpy(reg, m->payload + 8, 32 * (size_t)n);
	r = netbe__vh_mem_map(&fresh, reg, fds, n, why);
	if (r < 0)
		return r;
	lock_all(d);
	old = d->mem;
	d->mem = fresh;
	r = vq_update_all(d, why);
	unlock_all(d);
	netbe__vh_mem_unmap(&old);
	return r; /* the fds are closed: the mappings stay */
}

static int h_vring_state(struct netbe__vh_dev *d,
			 const struct netbe__vh_msg *m, int *fds,
			 unsigned nfds, struct netbe__vh_msg *rep,
			 const char **why)
{
	uint32_t v = get_u32(m, 4);
	struct netbe__vh_vq *q;
	unsigned i;
	int r = vq_index(d, get_u32(m, 0), &i, why);
	bool fresh = false;

	(void)fds, (void)nfds, (void)rep;
	if (r < 0)
		return r;
	q = &d->vq[i];
	if (m->request == VHU_SET_VRING_NUM &&
	    (v == 0 || v > NETBE__VRING_MAX)) {
		*why = "ring size not in 1..32768";
		return -EINVAL;
	}
	if (m->request == VHU_SET_VRING_BASE && v > UINT16_MAX) {
		*why = "ring base above 65535";
		return -EINVAL;
	}
	pthread_mutex_lock(&q->lock);
	if (m->request == VHU_SET_VRING_NUM)
		q->num = v;
	else if (m->request == VHU_SET_VRING_ENABLE)
		q->enabled = v != 0;
	else
		fresh = true, q->base = (uint16_t)v, q->live = false;
	r = vq_update(d, i, fresh, why);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int h_set_vring_addr(struct netbe__vh_dev *d,
			    const struct netbe__vh_msg *m, int *fds,
			    unsigned nfds, struct netbe__vh_msg *rep,
			    const char **why)
{
	struct netbe__vh_vq *q;
	unsigned i;
	int r = vq_index(d, get_u32(m, 0), &i, why);

	(void)fds, (void)nfds, (void)rep;
	if (r < 0)
		return r;
	q = &d->vq[i];
	pthread_mutex_lock(&q->lock);
	q->addr.desc = get_u64(m, 8);
	q->addr.used = get_u64(m, 16);
	q->addr.avail = get_u64(m, 24);
	q->addr_flags = get_u32(m, 4);
	q->log_addr = get_u64(m, 32);
	q->addr_set = true;
	r = vq_update(d, i, false, why);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int h_get_vring_base(struct netbe__vh_dev *d,
			    const struct netbe__vh_msg *m, int *fds,
			    unsigned nfds, struct netbe__vh_msg *rep,
			    const char **why)
{
	struct netbe__vh_vq *q;
	uint32_t base;
	unsigned i;
	int r = vq_index(d, get_u32(m, 0), &i, why);

	(void)fds, (void)nfds;
	if (r < 0)
		return r;
	q = &d->vq[i];
	pthread_mutex_lock(&q->lock);
	vq_stop(d, i);
	base = q->base;
	pthread_mutex_unlock(&q->lock);
	memcpy(rep->payload, &i, 4);
	memcpy(rep->payload + 4, &base, 4);
	return 0;
}

/* KICK, CALL, ERR: the u64 holds the index and "no fd". */
static int h_vring_fd(struct netbe__vh_dev *d, const struct netbe__vh_msg *m,
		      int *fds, unsigned nfds, struct netbe__vh_msg *rep,
		      const char **why)
{
	uint64_t v = get_u64(m, 0);
	bool nofd = v & VHU_NO_FD;
	struct netbe__vh_vq *q;
	unsigned i;
	int fd, r = vq_index(d, v & 0xff, &i, why);

	(void)rep;
	if (r < 0)
		return r;
	if (nfds != (nofd ? 0u : 1u) || (v & ~0x1ffULL)) {
		*why = "fd count does not match the no-fd flag";
		return -EINVAL;
	}
	if (nofd && m->request == VHU_SET_VRING_KICK) {
		*why = "polling mode (no kick fd) is not supported";
		return -ENOTSUP;
	}
	fd = nofd ? -1 : fds[0];
	if (!nofd)
		fds[0] = -1;
	q = &d->vq[i];
	pthread_mutex_lock(&q->lock);
	if (m->request == VHU_SET_VRING_KICK) {
		vq_set_kick(d, i, fd);
		q->started = true;
		if (!(d->features & VHU_F_PROTOCOL_FEATURES))
			q->enabled = true;
		r = vq_update(d, i, !q->live, why);
	} else {
		int *slot = m->request == VHU_SET_VRING_CALL ? &q->call
							     : &q->err;
		close_fd(slot);
		*slot = fd;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

/* The dirty log: {u64 size, u64 offset} and its fd (LOG_SHMFD only). */
static int h_set_log_base(struct netbe__vh_dev *d,
			  const struct netbe__vh_msg *m, int *fds,
			  unsigned nfds, struct netbe__vh_msg *rep,
			  const char **why)
{
	struct netbe__vh_log fresh = { 0 }, old;
	int r;

	(void)nfds, (void)rep;
	if (!(d->protocol & VHU_PF_LOG_SHMFD)) {
		*why = "a log base without LOG_SHMFD (only a shared log fd "
		       "is supported)";
		return -ENOTSUP;
	}
	r = netbe__vh_log_map(&fresh, fds[0], get_u64(m, 0), get_u64(m, 8),
			      why);
	if (r < 0)
		return r;
	lock_all(d);
	old = d->log;
	d->log = fresh;
	r = vq_update_all(d, why);
	unlock_all(d);
	netbe__vh_log_unmap(&old);
	return r;
}

/* An eventfd to tell the VMM the log changed: optional, and we do not
 * (the VMM reads the log when it syncs); the fd is closed. */
static int h_set_log_fd(struct netbe__vh_dev *d,
			const struct netbe__vh_msg *m, int *fds,
			unsigned nfds, struct netbe__vh_msg *rep,
			const char **why)
{
	(void)d, (void)m, (void)fds, (void)nfds, (void)rep, (void)why;
	return 0;
}

/* After a migration, on the new host: the guest's MAC, for the backend
 * to announce (the first 6 bytes of the u64). */
static int h_send_rarp(struct netbe__vh_dev *d, const struct netbe__vh_msg *m,
		       int *fds, unsigned nfds, struct netbe__vh_msg *rep,
		       const char **why)
{
	(void)fds, (void)nfds, (void)rep;
	if (!(d->protocol & VHU_PF_RARP)) {
		*why = "SEND_RARP without the RARP protocol feature";
		return -EINVAL;
	}
	if (d->hooks.rarp)
		d->hooks.rarp(d->hooks.arg, m->payload);
	return 0;
}

static int h_get_protocol(struct netbe__vh_dev *d,
			  const struct netbe__vh_msg *m, int *fds,
			  unsigned nfds, struct netbe__vh_msg *rep,
			  const char **why)
{
	(void)d, (void)m, (void)fds, (void)nfds, (void)why;
	put_u64(rep, PROTOCOL_OFFERED);
	return 0;
}

static int h_set_protocol(struct netbe__vh_dev *d,
			  const struct netbe__vh_msg *m, int *fds,
			  unsigned nfds, struct netbe__vh_msg *rep,
			  const char **why)
{
	uint64_t f = get_u64(m, 0);

	(void)fds, (void)nfds, (void)rep;
	if (f & ~PROTOCOL_OFFERED) {
		*why = "protocol features acked that were not offered";
		return -EINVAL;
	}
	d->protocol = f;
	return 0;
}

static int h_get_queue_num(struct netbe__vh_dev *d,
			   const struct netbe__vh_msg *m, int *fds,
			   unsigned nfds, struct netbe__vh_msg *rep,
			   const char **why)
{
	(void)m, (void)fds, (void)nfds, (void)why;
	put_u64(rep, d->npairs);
	return 0;
}

static int h_get_max_slots(struct netbe__vh_dev *d,
			   const struct netbe__vh_msg *m, int *fds,
			   unsigned nfds, struct netbe__vh_msg *rep,
			   const char **why)
{
	(void)d, (void)m, (void)fds, (void)nfds, (void)why;
	put_u64(rep, NETBE__VH_MEM_MAX);
	return 0;
}

static const struct vh_req reqs[] = {
	{ VHU_GET_FEATURES, "GET_FEATURES", 0, 0, 8, h_get_features },
	{ VHU_SET_FEATURES, "SET_FEATURES", 8, 0, 0, h_set_features },
	{ VHU_SET_OWNER, "SET_OWNER", 0, 0, 0, h_set_owner },
	{ VHU_RESET_OWNER, "RESET_OWNER", 0, 0, 0, h_reset_owner },
	{ VHU_SET_MEM_TABLE, "SET_MEM_TABLE", -1, -1, 0, h_set_mem_table },
	{ VHU_SET_LOG_BASE, "SET_LOG_BASE", 16, 1, 8, h_set_log_base },
	{ VHU_SET_LOG_FD, "SET_LOG_FD", 0, 1, 0, h_set_log_fd },
	{ VHU_SET_VRING_NUM, "SET_VRING_NUM", 8, 0, 0, h_vring_state },
	{ VHU_SET_VRING_ADDR, "SET_VRING_ADDR", 40, 0, 0, h_set_vring_addr },
	{ VHU_SET_VRING_BASE, "SET_VRING_BASE", 8, 0, 0, h_vring_state },
	{ VHU_GET_VRING_BASE, "GET_VRING_BASE", 8, 0, 8, h_get_vring_base },
	{ VHU_SET_VRING_KICK, "SET_VRING_KICK", 8, -1, 0, h_vring_fd },
	{ VHU_SET_VRING_CALL, "SET_VRING_CALL", 8, -1, 0, h_vring_fd },
	{ VHU_SET_VRING_ERR, "SET_VRING_ERR", 8, -1, 0, h_vring_fd },
	{ VHU_GET_PROTOCOL_FEATURES, "GET_PROTOCOL_FEATURES", 0, 0, 8,
	  h_get_protocol },
	{ VHU_SET_PROTOCOL_FEATURES, "SET_PROTOCOL_FEATURES", 8, 0, 0,
	  h_set_protocol },
	{ VHU_GET_QUEUE_NUM, "GET_QUEUE_NUM", 0, 0, 8, h_get_queue_num },
	{ VHU_SET_VRING_ENABLE, "SET_VRING_ENABLE", 8, 0, 0, h_vring_state },
	{ VHU_SEND_RARP, "SEND_RARP", 8, 0, 0, h_send_rarp },
	{ VHU_GET_MAX_MEM_SLOTS, "GET_MAX_MEM_SLOTS", 0, 0, 8,
	  h_get_max_slots },
};

static const struct vh_req *req_find(uint32_t req)
{
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		if (reqs[i].req == req)
			return &reqs[i];
	return NULL;
}

const char *netbe__vh_req_name(uint32_t req)
{
	const struct vh_req *r = req_find(req);

	return r ? r->name : "unknown";
}

int netbe__vh_parse_hdr(const uint8_t *buf, struct netbe__vh_msg *m,
			const char **why)
{
	memcpy(&m->request, buf, 4);
	memcpy(&m->flags, buf + 4, 4);
	memcpy(&m->size, buf + 8, 4);
	if ((m->flags & 3) != VHU_VERSION) {
		*why = "message header with a version other than 1";
		return -EPROTO;
	}
	if (m->flags & VHU_FLAG_REPLY) {
		*why = "a reply where a request was due";
		return -EPROTO;
	}
	if (m->size > VHU_PAYLOAD_MAX) {
		*why = "message payload larger than any request's";
		return -EPROTO;
	}
	return 0;
}

/* Runs @r's handler if the message is well-formed for it. */
static int dispatch(struct netbe__vh_dev *d, const struct vh_req *r,
		    const struct netbe__vh_msg *m, int *fds, unsigned nfds,
		    struct netbe__vh_msg *rep, const char **why)
{
	if (!r) {
		*why = "unknown request";
		return -ENOSYS;
	}
	if (r->size >= 0 && m->size != (uint32_t)r->size) {
		*why = "payload size wrong for the request";
		return -EINVAL;
	}
	if (r->nfds >= 0 && nfds != (unsigned)r->nfds) {
		*why = "wrong number of fds for the request";
		return -EINVAL;
	}
	return r->fn(d, m, fds, nfds, rep, why);
}

int netbe__vh_handle(struct netbe__vh_dev *d, const struct netbe__vh_msg *m,
		     int *fds, unsigned nfds, struct netbe__vh_msg *rep,
		     const char **why)
{
	const struct vh_req *r = req_find(m->request);
	int ret;

	*why = NULL;
	memset(rep, 0, VHU_HDR_SIZE + 8);
	ret = dispatch(d, r, m, fds, nfds, rep, why);
	for (unsigned i = 0; i < nfds; i++)
		close_fd(&fds[i]);
	rep->request = m->request;
	rep->flags = VHU_VERSION | VHU_FLAG_REPLY;
	if (r && r->reply) {
		if (ret < 0)
			memset(rep->payload, 0, (size_t)r->reply);
		rep->size = (uint32_t)r->reply;
		return 1;
	}
	if (!(m->flags & VHU_FLAG_NEED_REPLY))
		return 0;
	rep->size = 8;
	put_u64(rep, ret < 0 ? 1 : 0);
	return 1;
}

/* ---- the device --------------------------------------------------------- */

int netbe__vh_dev_init(struct netbe__vh_dev *d, unsigned npairs,
		       uint64_t features, const struct netbe__vh_hooks *h)
{
	memset(d, 0, sizeof(*d));
	if (npairs == 0 || npairs > VHU_MAX_PAIRS)
		return -EINVAL;
	d->npairs = npairs;
	d->offered = features;
	d->guest_hdr = 10;
	if (h)
		d->hooks = *h;
	for (unsigned i = 0; i < 2 * npairs; i++) {
		struct netbe__vh_vq *q = &d->vq[i];

		q->kick = q->call = q->err = -1;
		pthread_mutex_init(&q->lock, NULL);
	}
	return 0;
}

void netbe__vh_dev_reset(struct netbe__vh_dev *d)
{
	lock_all(d);
	for (unsigned i = 0; i < 2 * d->npairs; i++)
		vq_clear(d, i);
	netbe__vh_mem_unmap(&d->mem);
	netbe__vh_log_unmap(&d->log);
	d->features = 0;
	d->protocol = 0;
	d->guest_hdr = 10;
	d->owner = false;
	unlock_all(d);
	if (d->hooks.features)
		d->hooks.features(d->hooks.arg, 0);
}

void netbe__vh_dev_fini(struct netbe__vh_dev *d)
{
	netbe__vh_dev_reset(d);
	for (unsigned i = 0; i < 2 * d->npairs; i++)
		pthread_mutex_destroy(&d->vq[i].lock);
}
