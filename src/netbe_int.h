/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netbe_int.h - what the core and the backends share.  Not installed.
 *
 * A backend is a `static const struct netbe__ops` in src/backends/NAME.c,
 * listed in src/registry.c.  The core (src/netbe.c) owns the handle, the
 * loop watch, the counters and the translation between the frontend's
 * virtio-net header length and the backend's; a backend only moves frames
 * that carry its own header length (be->be_hdr_len).
 */
#ifndef NETBE_INT_H
#define NETBE_INT_H

#include <stdarg.h>
#include <stdbool.h>

#include "netbe.h"

#define NETBE__EXPORT __attribute__((visibility("default")))

/* Typed access to a checked config (see config.c). */
struct netbe__opts {
	const netbe_config_t *cfg;
	const char *be_name; /* what followed the backend's prefix: "0" */
	const char *token;   /* the whole first token: "tap0", or NULL */
};

const char *netbe__opt_str(const struct netbe__opts *o, const char *key,
			   const char *dflt);
bool netbe__opt_bool(const struct netbe__opts *o, const char *key,
		     bool dflt);
/* The value must already be checked; returns @dflt when unset. */
unsigned long netbe__opt_uint(const struct netbe__opts *o, const char *key,
			      unsigned long dflt);
bool netbe__opt_isset(const struct netbe__opts *o, const char *key);

/* Value parsers shared with config checking; 0 or -EINVAL. */
int netbe__parse_bool(const char *s, bool *out);
int netbe__parse_uint(const char *s, unsigned long max, unsigned long *out);
int netbe__parse_mac(const char *s, uint8_t mac[6]);

struct netbe__ops {
	const char *name;
	const char *prefixes; /* space-separated; matched by prefix */
	const char *description;
	const struct netbe_option *options; /* backend keys, NULL-terminated */
	size_t priv_size;

	/*
	 * Opens the backend: sets be->fd (the fd whose readability means
	 * "frames may be ready") and be->be_hdr_len, may add queues with
	 * netbe__add_queue().  On failure releases what it took (close() is
	 * not called), sets the error with netbe__err() and returns -errno.
	 */
	int (*open)(netbe_t *be, const struct netbe__opts *o);
	void (*close)(netbe_t *be);

	/* Frames here carry be->be_hdr_len bytes of header. */
	ssize_t (*send)(netbe_t *be, const struct iovec *iov, int iovcnt);
	ssize_t (*peek_recvlen)(netbe_t *be);
	ssize_t (*recv)(netbe_t *be, const struct iovec *iov, int iovcnt);
	/*
	 * Optional native batches; the core loops over send/recv otherwise.
	 * send_batch: frames accepted, in order (fewer: full); a frame it
	 * refuses inside the batch gets len 0 and is counted by the backend.
	 * recv_batch: frames received (0: none waiting); frames that did not
	 * fit are dropped and counted in be->rx.drops; -ENOSPC when all it
	 * consumed were dropped, so the core asks again.
	 */
	int (*send_batch)(netbe_t *be, struct netbe_msg *msgs, int n);
	int (*recv_batch)(netbe_t *be, struct netbe_msg *msgs, int n);

	uint64_t (*get_cap)(netbe_t *be);
	/*
	 * Applies the offload @features (already checked against get_cap) for
	 * a frontend header of @fe_hdr_len, choosing be->be_hdr_len.
	 * Optional: without it only features == 0 is accepted.
	 */
	int (*set_cap)(netbe_t *be, uint64_t features, unsigned fe_hdr_len);
	int (*get_mac)(netbe_t *be, uint8_t mac[6]); /* optional */
	int (*get_mtu)(netbe_t *be);		      /* optional */
};

/* Counters of one direction, written by one thread, read by any. */
struct netbe__dir_stats {
	uint64_t frames, bytes, drops, errors;
};

struct netbe {
	const struct netbe__ops *ops;
	void *priv;	      /* backend state, shared by all queues */
	netbe_t *parent;      /* queue 0 for the other queues; NULL on it */
	netbe_t **queues;     /* on queue 0: nqueues handles, [0] = itself */
	unsigned nqueues;
	unsigned qidx;
	int fd;		      /* rx readiness fd of this queue */
	unsigned be_hdr_len;  /* header length on the backend's side */
	unsigned fe_hdr_len;  /* header length the frontend uses */
	uint64_t features;    /* offloads negotiated by set_cap */
	bool has_mac;
	uint8_t mac[6];	      /* from the "mac" key */
	netbe_loop_t *loop;
	netbe_watch_t *watch;
	netbe_rx_cb_t cb;
	void *cb_param;
	unsigned mtu_cfg;     /* the "mtu" key, 0 when unset */
	bool hangup;	      /* the peer is gone for good: no rx events */
	void *discard_buf;    /* lazily allocated by netbe_rx_discard */
	uint64_t be_caps;     /* offloads the backend carries itself */
	struct netbe__offl_state *offl; /* software offloads (vnet.c) */
	struct netbe__dir_stats rx, tx;
};

/* Registry (registry.c). */
size_t netbe__backend_count(void);
const struct netbe__ops *netbe__backend_at(size_t i);
/* Finds the backend @cfg selects; sets *@suffix to what followed the
 * prefix.  NULL with the error set when none. */
const struct netbe__ops *netbe__backend_select(const netbe_config_t *cfg,
					       const char **suffix);

/* Generic keys every backend accepts (config.c). */
extern const struct netbe_option netbe__generic_options[];

/* Adds queue handle @fd to @be (queue 0); returns 0 or -ENOMEM. */
int netbe__add_queue(netbe_t *be, int fd);

/*
 * Called by a backend whose receive side can never become ready again
 * (peer closed): stops the loop from reporting the fd.  Receive thread or
 * loop thread only.
 */
void netbe__rx_hangup(netbe_t *be);

/* Errors and logs (error.c). */
int netbe__err(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void netbe__log(enum netbe_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool netbe__log_enabled(enum netbe_log_level lvl);

/* Counters. */
static inline void netbe__count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* iovec helpers (iov.c). */
size_t netbe__iov_len(const struct iovec *iov, int iovcnt);
/* Calls @fn on each piece of bytes [@off, @off + @len) of @iov, with the
 * number of bytes before it (@done); returns the bytes visited. */
typedef void (*netbe__iov_fn)(void *arg, void *p, size_t n, size_t done);
size_t netbe__iov_walk(const struct iovec *iov, int iovcnt, size_t off,
		       size_t len, netbe__iov_fn fn, void *arg);
/* Copies up to @len bytes from @iov starting at @off into @buf; returns
 * the bytes copied. */
size_t netbe__iov_to_buf(const struct iovec *iov, int iovcnt, size_t off,
			 void *buf, size_t len);
size_t netbe__buf_to_iov(const void *buf, size_t len,
			 const struct iovec *iov, int iovcnt, size_t off);
/* Fills @out (room for @max entries) with @iov minus its first @skip
 * bytes; returns the entry count, or -EINVAL when @skip is past the end
 * and -E2BIG when @max is too small. */
int netbe__iov_skip(const struct iovec *iov, int iovcnt, size_t skip,
		    struct iovec *out, int max);

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

#endif /* NETBE_INT_H */
