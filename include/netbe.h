/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netbe.h - libnetbe, network backends for virtual machines.
 *
 * libnetbe connects a virtual NIC (the "frontend": a virtio-net, e1000 ...
 * device model inside a VMM) to the host: a tap device, an in-process pipe,
 * and further backends.  The API keeps the names and meaning of bhyve's
 * net_backends.h so a bhyve frontend ports with a header swap; everything
 * past the seed (batches, counters, error messages, the loop) is additive.
 *
 * Conventions
 *  - Functions that can fail return a negative errno value (-EINVAL ...).
 *    netbe_last_error() then holds a human-readable message for this thread
 *    ("tap: TUNSETIFF tap0: Operation not permitted").
 *  - The library never prints and never exits the process: it reports
 *    through return values, netbe_last_error() and the log callback.
 *  - Handles are opaque.
 *
 * Threading
 *  - One thread may send (netbe_send, netbe_send_batch) while another
 *    receives (netbe_peek_recvlen, netbe_recv, netbe_recv_batch,
 *    netbe_rx_discard) on the same backend, as bhyve's virtio-net does.
 *    Two threads must not send, or receive, on the same handle at once.
 *  - netbe_rx_enable()/netbe_rx_disable() may be called from any thread.
 *  - netbe_cleanup() must not race with any other call on that handle.
 *  - Configuration objects are not thread-safe; the registry is read-only.
 *  - Loop functions are thread-safe unless stated otherwise; callbacks run
 *    on the thread that runs the loop.
 */
#ifndef NETBE_H
#define NETBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NETBE_VERSION_MAJOR 0
#define NETBE_VERSION_MINOR 1
#define NETBE_VERSION_PATCH 0

/** Returns the library version as "MAJOR.MINOR.PATCH". */
const char *netbe_version(void);

/* ------------------------------------------------------------------------
 * virtio-net: feature bits and the header that travels before each frame
 * ---------------------------------------------------------------------- */

#define NETBE_VIRTIO_BIT(n) (1ULL << (n))
#ifndef VIRTIO_NET_F_CSUM
#define VIRTIO_NET_F_CSUM NETBE_VIRTIO_BIT(0)
#define VIRTIO_NET_F_GUEST_CSUM NETBE_VIRTIO_BIT(1)
#define VIRTIO_NET_F_MTU NETBE_VIRTIO_BIT(3)
#define VIRTIO_NET_F_MAC NETBE_VIRTIO_BIT(5)
#define VIRTIO_NET_F_GUEST_TSO4 NETBE_VIRTIO_BIT(7)
#define VIRTIO_NET_F_GUEST_TSO6 NETBE_VIRTIO_BIT(8)
#define VIRTIO_NET_F_GUEST_ECN NETBE_VIRTIO_BIT(9)
#define VIRTIO_NET_F_GUEST_UFO NETBE_VIRTIO_BIT(10)
#define VIRTIO_NET_F_HOST_TSO4 NETBE_VIRTIO_BIT(11)
#define VIRTIO_NET_F_HOST_TSO6 NETBE_VIRTIO_BIT(12)
#define VIRTIO_NET_F_HOST_ECN NETBE_VIRTIO_BIT(13)
#define VIRTIO_NET_F_HOST_UFO NETBE_VIRTIO_BIT(14)
#define VIRTIO_NET_F_MRG_RXBUF NETBE_VIRTIO_BIT(15)
#define VIRTIO_NET_F_STATUS NETBE_VIRTIO_BIT(16)
#define VIRTIO_NET_F_CTRL_VQ NETBE_VIRTIO_BIT(17)
#define VIRTIO_NET_F_MQ NETBE_VIRTIO_BIT(22)
#define VIRTIO_NET_F_GUEST_USO4 NETBE_VIRTIO_BIT(54)
#define VIRTIO_NET_F_GUEST_USO6 NETBE_VIRTIO_BIT(55)
#define VIRTIO_NET_F_HOST_USO NETBE_VIRTIO_BIT(56)
#endif

/** Every offload bit a backend may report from netbe_get_cap(). */
#define NETBE_OFFLOAD_MASK                                                   \
	(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM |                       \
	 VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |                 \
	 VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_UFO |                   \
	 VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |                   \
	 VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_HOST_UFO |                     \
	 VIRTIO_NET_F_GUEST_USO4 | VIRTIO_NET_F_GUEST_USO6 |                 \
	 VIRTIO_NET_F_HOST_USO)

#define NETBE_VNET_HDR_F_NEEDS_CSUM 1
#define NETBE_VNET_HDR_F_DATA_VALID 2
#define NETBE_VNET_HDR_GSO_NONE 0
#define NETBE_VNET_HDR_GSO_TCPV4 1
#define NETBE_VNET_HDR_GSO_UDP 3
#define NETBE_VNET_HDR_GSO_TCPV6 4
#define NETBE_VNET_HDR_GSO_UDP_L4 5
#define NETBE_VNET_HDR_GSO_ECN 0x80

/**
 * The virtio-net header (little-endian fields, as virtio 1.0 and Linux
 * tap use).  The 10-byte form ends at csum_offset; the 12-byte form (with
 * VIRTIO_NET_F_MRG_RXBUF or virtio 1.0) adds num_buffers.
 */
struct netbe_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define NETBE_VNET_HDR_LEN 10	  /* without num_buffers */
#define NETBE_VNET_HDR_MRG_LEN 12 /* with num_buffers */

/** Largest frame (without virtio-net header) the library handles. */
#define NETBE_MAX_FRAME (65535 + 14 + 4)

/* ------------------------------------------------------------------------
 * Errors and logging
 * ---------------------------------------------------------------------- */

/**
 * Returns the message of the last failure on the calling thread, or "" if
 * none.  The string stays valid until the next failing call on this thread.
 */
const char *netbe_last_error(void);

enum netbe_log_level {
	NETBE_LOG_ERR = 0,
	NETBE_LOG_WARN = 1,
	NETBE_LOG_INFO = 2,
	NETBE_LOG_DEBUG = 3,
};

typedef void (*netbe_log_fn)(enum netbe_log_level level, const char *msg,
			     void *opaque);

/**
 * Installs @fn as the log sink for the whole library (NULL: no logging,
 * the default).  Messages above @max_level are not formatted at all.
 * @fn may be called from any thread that calls into the library or runs a
 * loop; it must be thread-safe.  Call this before other threads use the
 * library.
 */
void netbe_set_log_fn(netbe_log_fn fn, enum netbe_log_level max_level,
		      void *opaque);

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */

/** An ordered key/value map that describes one backend. */
typedef struct netbe_config netbe_config_t;

/** Syntax flavours of netbe_legacy_config_flavour(). */
enum netbe_flavour {
	/** FreeBSD bhyve: "tap0,mtu=9000" - the first token is the backend,
	 * then key=value pairs, a bare key means key=true. */
	NETBE_FLAVOUR_FREEBSD = 0,
	/** illumos bhyve: the backend defaults to "dlpi", a bare token is the
	 * "vnic", then key=value pairs. */
	NETBE_FLAVOUR_ILLUMOS = 1,
};

/** Allocates an empty config.  Returns NULL when out of memory. */
netbe_config_t *netbe_config_new(void);

/** Frees @cfg (NULL is allowed). */
void netbe_config_free(netbe_config_t *cfg);

/**
 * Sets @key to @value (copied), replacing an earlier value.  The backend is
 * the key "backend" (what bhyve stores); "type" forces a backend by name.
 * Returns 0, -EINVAL for an empty key or a key with '=' or ',', -ENOMEM.
 */
int netbe_config_set(netbe_config_t *cfg, const char *key, const char *value);

/** Returns the value of @key, or NULL when unset. */
const char *netbe_config_get(const netbe_config_t *cfg, const char *key);

/** Removes @key; returns 0 or -ENOENT. */
int netbe_config_unset(netbe_config_t *cfg, const char *key);

/**
 * Visits every key in insertion order; stops early and returns the
 * callback's value when it is non-zero.
 */
int netbe_config_foreach(const netbe_config_t *cfg,
			 int (*fn)(const char *key, const char *value,
				   void *arg),
			 void *arg);

/**
 * Parses a bhyve (FreeBSD flavour) option string into @cfg:
 * "tap0,mtu=9000", "mynic0,type=tap", "pipe:demo".  The first token is the
 * backend; a first token with '=' means there is no backend token.
 * Then checks the result as netbe_config_check() does, so a typo is
 * reported here, naming the key and the valid keys.
 * Returns 0 or a negative errno (-EINVAL) with netbe_last_error() set;
 * on error @cfg may hold the keys parsed before the bad one.
 * A NULL @opts is a no-op (as in the seed).
 */
int netbe_legacy_config(netbe_config_t *cfg, const char *opts);

/** As netbe_legacy_config(), in the given syntax @flavour. */
int netbe_legacy_config_flavour(netbe_config_t *cfg, const char *opts,
				enum netbe_flavour flavour);

/**
 * Checks @cfg without opening anything: a backend is selected (by "type"
 * or by prefix of "backend"), every key is valid for it, and every value
 * parses for its key's type (booleans on/off/true/false/yes/no/1/0,
 * integers in range, MAC addresses).  Returns 0 or -EINVAL / -ENOENT (no
 * such backend), with netbe_last_error() naming the key, the value and the
 * valid choices.
 */
int netbe_config_check(const netbe_config_t *cfg);

/* ------------------------------------------------------------------------
 * The registry of backends
 * ---------------------------------------------------------------------- */

enum netbe_opt_type {
	NETBE_OPT_STRING = 0,
	NETBE_OPT_BOOL = 1,
	NETBE_OPT_UINT = 2,
	NETBE_OPT_MAC = 3,
};

/** One valid option key of a backend. */
struct netbe_option {
	const char *key;
	enum netbe_opt_type type;
	const char *help; /* one line, e.g. "MTU of the interface" */
	unsigned long min, max; /* NETBE_OPT_UINT range; both 0: any */
};

/** Description of a registered backend. */
struct netbe_backend_info {
	const char *name;	  /* "tap" */
	const char *prefixes;	  /* space-separated prefixes that select it */
	const char *description;  /* one line */
	/* Every key the backend accepts, the generic ones (backend, type,
	 * mac, mtu) last; terminated by key == NULL. */
	const struct netbe_option *options;
};

/** Returns the number of registered backends. */
size_t netbe_backend_count(void);

/** Returns backend @i (0 <= i < count), or NULL. Static storage. */
const struct netbe_backend_info *netbe_backend_get(size_t i);

/* ------------------------------------------------------------------------
 * The event loop (the seed's mevent role)
 *
 * A small epoll + timerfd loop.  A host with its own event loop embeds it:
 * poll netbe_loop_fd() for readability and call netbe_loop_run_once(loop,
 * 0) when it is readable.  Seed-style callers use netbe_loop_default() and
 * run it on a thread of theirs, as bhyve runs mevent_dispatch().
 * ---------------------------------------------------------------------- */

typedef struct netbe_loop netbe_loop_t;
typedef struct netbe_watch netbe_watch_t;

#define NETBE_EV_READ 0x1
#define NETBE_EV_WRITE 0x2
#define NETBE_EV_TIMER 0x4

/**
 * A loop callback: @fd is the watched fd (or the timer's fd), @events what
 * happened (NETBE_EV_*), @arg the pointer given when adding the watch.
 */
typedef void (*netbe_loop_cb_t)(int fd, int events, void *arg);

/** Creates a loop.  Returns 0 or -errno (-EMFILE, -ENOMEM). */
int netbe_loop_new(netbe_loop_t **loop);

/**
 * Frees @loop and every watch still on it.  The loop must not be running,
 * and no backend may still use it.  NULL is allowed.
 */
void netbe_loop_free(netbe_loop_t *loop);

/**
 * Returns the process-wide default loop, created on first use (thread-safe),
 * or NULL if it could not be created.  netbe_init() uses it.  It lives until
 * the process exits; nobody runs it unless the caller does.
 */
netbe_loop_t *netbe_loop_default(void);

/** Returns an fd that is readable whenever run_once() has work to do. */
int netbe_loop_fd(const netbe_loop_t *loop);

/**
 * Waits up to @timeout_ms (-1 forever, 0 not at all) and runs the callbacks
 * of what is ready.  Returns the number of callbacks run, or -errno.
 * Only one thread may run a loop at a time.
 */
int netbe_loop_run_once(netbe_loop_t *loop, int timeout_ms);

/** Runs the loop until netbe_loop_stop().  Returns 0 or -errno. */
int netbe_loop_run(netbe_loop_t *loop);

/**
 * Makes netbe_loop_run() return after the current callback.  Safe from any
 * thread and from a signal handler.
 */
void netbe_loop_stop(netbe_loop_t *loop);

/**
 * Watches @fd for @events (NETBE_EV_READ and/or NETBE_EV_WRITE, level
 * triggered).  The watch starts enabled when @enabled is non-zero.
 * Returns 0 and stores the watch in @out, or -errno.
 */
int netbe_loop_add_fd(netbe_loop_t *loop, int fd, int events, int enabled,
		      netbe_loop_cb_t cb, void *arg, netbe_watch_t **out);

/**
 * Adds a timer that fires first after @ms milliseconds, then every @ms if
 * @periodic.  The callback gets NETBE_EV_TIMER.  Returns 0 or -errno.
 */
int netbe_loop_add_timer(netbe_loop_t *loop, unsigned ms, int periodic,
			 netbe_loop_cb_t cb, void *arg, netbe_watch_t **out);

/** Re-arms timer @w to fire after @ms (0 disarms).  Returns 0 or -errno. */
int netbe_timer_set(netbe_watch_t *w, unsigned ms, int periodic);

/**
 * Enables or disables a watch.  When netbe_watch_disable() returns, the
 * callback is not running (unless the caller is that callback) and will not
 * run until enabled again.  Returns 0 or -errno.
 */
int netbe_watch_enable(netbe_watch_t *w);
int netbe_watch_disable(netbe_watch_t *w);

/**
 * Removes and frees a watch (a timer's fd is closed; a watched fd is not).
 * Safe from inside any callback, including the watch's own.
 */
void netbe_watch_del(netbe_watch_t *w);

/* ------------------------------------------------------------------------
 * Backends
 * ---------------------------------------------------------------------- */

/** An open backend.  bhyve spells it net_backend_t. */
typedef struct netbe netbe_t;

/**
 * The receive callback: called on the loop's thread when frames may be
 * ready, while receive is enabled.  The frontend then calls
 * netbe_peek_recvlen()/netbe_recv() until they return 0.  @fd is the
 * backend's fd, @events NETBE_EV_READ.
 */
typedef void (*netbe_rx_cb_t)(int fd, int events, void *param);

/**
 * Opens the backend that @cfg describes, on the default loop, with receive
 * disabled.  @cb is required (as in the seed).  On success stores the
 * handle in @be and returns 0.  On failure stores NULL, returns -errno
 * (-EINVAL bad config, -ENOENT no such backend or interface, -EPERM ...)
 * and leaves nothing open.
 */
int netbe_init(netbe_t **be, const netbe_config_t *cfg, netbe_rx_cb_t cb,
	       void *param);

/** As netbe_init(), on @loop (NULL: the default loop). */
int netbe_init_loop(netbe_t **be, const netbe_config_t *cfg,
		    netbe_loop_t *loop, netbe_rx_cb_t cb, void *param);

/**
 * Opens a backend from an option string ("tap0,mtu=9000"): parses it like
 * netbe_legacy_config() and opens it like netbe_init_loop().
 */
int netbe_open(netbe_t **be, const char *spec, netbe_loop_t *loop,
	       netbe_rx_cb_t cb, void *param);

/** Closes @be and frees everything it holds.  NULL is allowed. */
void netbe_cleanup(netbe_t *be);

/** Returns the registered name of the backend ("tap"). */
const char *netbe_get_name(const netbe_t *be);

/**
 * Returns the virtio-net offload features (NETBE_OFFLOAD_MASK bits) the
 * backend can honour: the GUEST_* bits it can deliver, and CSUM plus every
 * HOST_* bit - carried natively where the backend can, done by the
 * library's software engine where it cannot.
 */
uint64_t netbe_get_cap(netbe_t *be);

/**
 * Tells the backend which features the frontend negotiated and the length
 * of the virtio-net header the frontend puts in front of each frame it
 * sends and expects in front of each frame it receives.  @vnet_hdr_len
 * must be 0, 10 or 12.  Offload bits in @features must be a subset of
 * netbe_get_cap() and need a header; other bits (MAC, MRG_RXBUF ...) are
 * ignored.  The frontend's header length need not be the backend's: the
 * library translates on every call so the frontend always sees its own.
 * Returns 0, or -EINVAL / -ENOTSUP with nothing changed.
 */
int netbe_set_cap(netbe_t *be, uint64_t features, unsigned vnet_hdr_len);

/**
 * Returns the header length the backend itself uses on the wire
 * (0, 10 or 12), as the seed does.
 */
size_t netbe_get_vnet_hdr_len(netbe_t *be);

/**
 * Sends one frame (the frontend's header, if any, then the Ethernet frame)
 * gathered from @iov.  Returns the bytes accepted (including the header),
 * or -errno: -EAGAIN when the backend cannot take it now, -EINVAL for a
 * malformed frame or header (dropped and counted), -EMSGSIZE.
 */
ssize_t netbe_send(netbe_t *be, const struct iovec *iov, int iovcnt);

/**
 * Returns the length the next netbe_recv() will return (header included),
 * 0 when no frame is waiting, or -errno.  The frame is not lost.
 */
ssize_t netbe_peek_recvlen(netbe_t *be);

/**
 * Receives the next frame into @iov (the frontend's header first).
 * Returns its length, 0 when no frame is waiting, or -errno: -ENOSPC when
 * @iov is too small (the frame is dropped and counted).
 */
ssize_t netbe_recv(netbe_t *be, const struct iovec *iov, int iovcnt);

/**
 * Receives and drops the next frame.  Returns its length, 0 when none,
 * or -errno.
 */
ssize_t netbe_rx_discard(netbe_t *be);

/** Enables receive callbacks (receive starts disabled). */
void netbe_rx_enable(netbe_t *be);

/**
 * Disables receive callbacks.  On return, the callback is not running
 * (unless this is called from it) and will not be called until enabled.
 */
void netbe_rx_disable(netbe_t *be);

/**
 * Copies the MAC address the backend suggests for the guest into @buf
 * (*@buflen bytes of room; set to 6 on return): the "mac" key when given,
 * else the backend's own (e.g. a raw interface's).  Returns 0, -ENOTSUP
 * when there is none, -ENOMEM when @buf is too small.  (The seed returns
 * positive errno values here; netbe keeps its negative convention.)
 */
int netbe_get_mac(netbe_t *be, void *buf, size_t *buflen);

/** Returns the MTU of the backend's link, or -errno. */
int netbe_get_mtu(netbe_t *be);

/**
 * Returns the fd the loop watches for @be's receive side (a tap fd, a
 * socket), or -1.  For diagnostics and for hosts that poll it themselves;
 * do not read or close it.
 */
int netbe_get_fd(const netbe_t *be);

/**
 * Replaces the receive callback.  Call with receive disabled.
 * Returns 0 or -EINVAL (@cb is NULL).
 */
int netbe_set_rx_cb(netbe_t *be, netbe_rx_cb_t cb, void *param);

/**
 * Number of queue pairs (the tap "queues" key; 1 for most backends), and
 * the handle of queue @idx (0 is @be itself).  A queue handle shares the
 * backend's negotiated features, has its own receive callback (initially
 * the backend's), counters and enable state, and is freed by
 * netbe_cleanup(@be).  Returns NULL when @idx is out of range.
 */
unsigned netbe_get_nqueues(const netbe_t *be);
netbe_t *netbe_get_queue(netbe_t *be, unsigned idx);

/* ------------------------------------------------------------------------
 * Batches (past the seed)
 * ---------------------------------------------------------------------- */

/** One frame of a batch. */
struct netbe_msg {
	struct iovec *iov; /* the frame (frontend header first) */
	int iovcnt;
	size_t len; /* recv: bytes received; send: bytes accepted */
};

/**
 * Sends up to @n frames.  Returns the number of frames accepted, in order
 * (fewer than @n when the backend is full), or -errno when the first frame
 * could not be sent.  A malformed frame inside the batch is dropped,
 * counted, and counts as handled.  Backends without a native batch path
 * send one frame at a time.
 */
int netbe_send_batch(netbe_t *be, struct netbe_msg *msgs, int n);

/**
 * Receives up to @n frames, each into its msgs[i].iov, storing each length
 * in msgs[i].len.  Returns the number received (0 when none), or -errno.
 */
int netbe_recv_batch(netbe_t *be, struct netbe_msg *msgs, int n);

/* ------------------------------------------------------------------------
 * Counters
 * ---------------------------------------------------------------------- */

/** Per-backend counters; frames and bytes include the frontend header. */
struct netbe_stats {
	uint64_t rx_frames, rx_bytes, rx_drops, rx_errors;
	uint64_t tx_frames, tx_bytes, tx_drops, tx_errors;
};

/**
 * Copies @be's counters (summed over its queues when @be is queue 0 and
 * the backend has several) into @st.  Safe from any thread; each counter
 * is read atomically, the set is not a snapshot.
 */
void netbe_get_stats(const netbe_t *be, struct netbe_stats *st);

/* ------------------------------------------------------------------------
 * bhyve spellings, so net_backends.h users port with a header swap.
 * ---------------------------------------------------------------------- */
#ifndef NETBE_NO_BHYVE_COMPAT
typedef netbe_t net_backend_t;
typedef netbe_rx_cb_t net_be_rxeof_t;
#endif

#ifdef __cplusplus
}
#endif

#endif /* NETBE_H */
