/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend.h - the seam between the core and the backends.  Not installed.
 *
 * A backend is a `static const struct netbe__ops` in src/backends/NAME.c,
 * listed in src/registry.c.  It sees only what this header gives it
 * (DPDK's eth_dev_ops + dev_private split): its own state (`priv`), the
 * index of the queue an op is for, and the header length the core put in
 * force.  The handle itself (struct netbe, src/core.h) belongs to the
 * core: a backend never writes the core's fields, never counts frames,
 * and reports back only through the netbe__q_* calls below.
 *
 *   open()    returns what it opened in struct netbe__opened: one
 *             readiness fd per queue, the header length it starts with,
 *             the offloads it carries natively.  The core builds the
 *             queue handles from that.
 *   set_cap() returns the header length it chose; the core copies it to
 *             every queue (struct netbe__queue.hdr_len).
 *   close()   is called once, with queue 0, and releases everything open
 *             took; open's own failure path calls the same release.
 *
 * Counting: the core counts every frame that crosses it (frames, bytes,
 * drops by reason, errors) from the ops' return values.  A backend
 * reports only what the core cannot see - a frame it consumed and threw
 * away inside recv, a frame a peer lost, a segment of a batch it refused
 * - with netbe__q_drop(), an atomic add, so any thread may call it.
 *
 * Threads: send/send_batch run on the queue's sending thread, peek/recv/
 * recv_batch/rx_error on its receiving thread, open/close/set_cap on the
 * thread that owns the handle; a backend's own loop watches run on the
 * loop thread.  State two of these touch is the backend's to protect.
 */
#ifndef NETBE_BACKEND_H
#define NETBE_BACKEND_H

#include "netbe_int.h"

/* Most queues one backend may open (the kernel's MAX_TAP_QUEUES). */
#define NETBE__MAX_QUEUES 256

/* What a backend sees of one queue. */
struct netbe__queue {
	void *priv;	  /* the backend's state (ops->priv_size bytes, zeroed),
			     shared by all its queues */
	unsigned idx;	  /* this queue's index, 0 .. nqueues - 1 */
	unsigned hdr_len; /* backend-side header length in force: written
			     by the core only (from open and set_cap) */
};

/* What open() opened. */
struct netbe__opened {
	unsigned nqueues;	     /* queues opened; the core preset 1 */
	int fd[NETBE__MAX_QUEUES];   /* each queue's "frames may be ready"
					fd, -1 when it has none */
	unsigned hdr_len;	     /* header length frames carry: 0, 10, 12 */
	uint64_t caps;		     /* NETBE_OFFLOAD_MASK bits carried
					natively (with a header) */
};

struct netbe__ops {
	const char *name;
	const char *prefixes; /* space-separated; matched by prefix */
	const char *description;
	const struct netbe_option *options; /* backend keys, NULL-terminated */
	size_t priv_size;

	/*
	 * Opens the backend for queue 0 @q (priv zeroed, hdr_len 0) and fills
	 * @out (preset: 1 queue, fd[] all -1, no header, no caps).  @q stays
	 * valid until close(); so do the handles of the other queues, which
	 * the core builds after open returns.  On failure releases what it
	 * took (close() is not called), sets the error with netbe__err() and
	 * returns -errno.
	 */
	int (*open)(struct netbe__queue *q, const struct netbe__opts *o,
		    struct netbe__opened *out);
	/* Releases everything; called once, with queue 0. */
	void (*close)(struct netbe__queue *q);

	/* Data path, on queue @q; frames carry q->hdr_len bytes of header.
	 * send: bytes accepted or -errno (-EAGAIN: full).  peek_recvlen and
	 * recv: length, 0 when nothing waits, or -errno (-ENOSPC: the frame
	 * did not fit and was consumed). */
	ssize_t (*send)(struct netbe__queue *q, const struct iovec *iov,
			int iovcnt);
	ssize_t (*peek_recvlen)(struct netbe__queue *q);
	ssize_t (*recv)(struct netbe__queue *q, const struct iovec *iov,
			int iovcnt);
	/*
	 * Optional native batches; the core loops over send/recv otherwise.
	 * send_batch: frames accepted, in order (fewer: full), or -errno when
	 * none; a frame it refuses inside the batch gets len 0 and is
	 * reported with netbe__q_drop().
	 * recv_batch: frames received (0: none waiting); frames that did not
	 * fit are reported with netbe__q_drop(NOROOM); -ENOSPC when all it
	 * consumed were dropped, so the core asks again.
	 * Either may return -EOPNOTSUPP, having done nothing, when it cannot
	 * batch this call (no io_uring, buffers in too many pieces ...):
	 * the core then goes frame by frame through send/recv, so a backend
	 * never carries a per-frame loop of its own.
	 */
	int (*send_batch)(struct netbe__queue *q, struct netbe_msg *msgs,
			  int n);
	int (*recv_batch)(struct netbe__queue *q, struct netbe_msg *msgs,
			  int n);
	/*
	 * Optional: the queue's fd reported an error condition (EPOLLERR).
	 * Reads and clears it (SO_ERROR), logs what it means, and returns 0
	 * to go on receiving, or -errno when the queue can never receive
	 * again (the core stops watching it).  Without it, the core reads
	 * SO_ERROR itself and stops watching a fd that keeps failing.
	 */
	int (*rx_error)(struct netbe__queue *q, int fd);

	/* Optional: the fd that polls writable (EPOLLOUT) when queue @q
	 * may take frames again after -EAGAIN, or -1.  Without it (or -1)
	 * netbe_tx_wait() retries after a short delay. */
	int (*tx_fd)(struct netbe__queue *q);

	/*
	 * Applies the offload @features (already checked against the caps
	 * open returned; only those carried natively) for a frontend header
	 * of @fe_hdr_len.  Returns the header length frames will carry (0,
	 * 10 or 12) or -errno with nothing changed.  Optional: without it
	 * the header length stays what open returned.
	 */
	int (*set_cap)(struct netbe__queue *q, uint64_t features,
		       unsigned fe_hdr_len);
	int (*get_mac)(struct netbe__queue *q, uint8_t mac[6]); /* optional */
	int (*get_mtu)(struct netbe__queue *q);		/* optional */
};

/*
 * Reports @n frames of direction @dir (NETBE_RX, NETBE_TX) dropped for
 * reason @why (enum netbe_drop) on queue @q.  Atomic: any thread.
 */
void netbe__q_drop(struct netbe__queue *q, int dir, int why, uint64_t n);

/* The drop reason a send that failed with @r (-errno) means, or -1 when
 * it is a failure of the backend (an error, not a drop). */
int netbe__drop_reason(ssize_t r);

/*
 * The queue's receive side can never become ready again (the peer closed
 * for good): the core stops watching its fd.  Any thread.
 */
void netbe__q_hangup(struct netbe__queue *q);
/* The same for every queue of @q's backend (its interface is gone). */
void netbe__q_hangup_all(struct netbe__queue *q);

/* The handle's label for messages: "tap,ifname=tap0" or "A (...)". */
const char *netbe__q_label(const struct netbe__queue *q);

/* Logs "LABEL: message" at @lvl. */
void netbe__q_log(const struct netbe__queue *q, enum netbe_log_level lvl,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Backends (one file each in src/backends/). */
extern const struct netbe__ops netbe__tap_ops;
extern const struct netbe__ops netbe__vmnet_ops;
extern const struct netbe__ops netbe__pipe_ops;
extern const struct netbe__ops netbe__packet_ops;
extern const struct netbe__ops netbe__dlpi_ops;
extern const struct netbe__ops netbe__stream_ops;
extern const struct netbe__ops netbe__dgram_ops;
extern const struct netbe__ops netbe__xdp_ops;
extern const struct netbe__ops netbe__slirp_ops;
extern const struct netbe__ops netbe__vde_ops;
extern const struct netbe__ops netbe__vale_ops;
extern const struct netbe__ops netbe__vxlan_ops;
extern const struct netbe__ops netbe__geneve_ops;
extern const struct netbe__ops netbe__vhost_user_ops;

/* Registry (registry.c).  Finds the backend @cfg selects; sets *@suffix
 * to what followed the prefix.  NULL with the error set when none. */
const struct netbe__ops *netbe__backend_select(const netbe_config_t *cfg,
					       const char **suffix);

#endif /* NETBE_BACKEND_H */
