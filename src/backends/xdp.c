/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xdp.c - the AF_XDP backend ("xdp"), through libxdp and libbpf.
 *
 * Theory of operation
 *   Each queue is one AF_XDP socket bound to one hardware queue of the
 *   interface, with a UMEM of its own: XDP_RING chunks for receive, all
 *   parked in the fill ring, and XDP_RING chunks for transmit, kept on a
 *   free stack.  libxdp attaches its default XDP program, which redirects
 *   every frame of a queue that has a socket to that socket (through the
 *   multi-program dispatcher when a bpffs is mounted, as a lone program
 *   otherwise).  The interface's own stack sees nothing from that queue
 *   while we are open: this backend owns the queue.
 *
 *   Transmit copies each frame into free chunks, writes the descriptors,
 *   and kicks the kernel once per call (sendto) only when the ring says it
 *   needs a wakeup; completions are reaped back onto the free stack at the
 *   start of each send.  In copy mode one kick moves at most the socket's
 *   budget (32 before Linux 6.16, raised to the ring size where the kernel
 *   lets us), so we kick again while the kernel reports EAGAIN.
 *
 *   Receive reads descriptors straight off the rx ring, copies the frame
 *   into the caller's iovec, and gives the chunks back to the fill ring at
 *   once, so the fill ring is always full (its size equals the receive
 *   chunk count, so the refill can never fail).  peek_recvlen() looks at
 *   the head descriptors without consuming them.
 *
 *   Large frames.  A chunk is 4 KiB.  Where the kernel has AF_XDP
 *   multi-buffer (Linux 6.6, XDP_USE_SG) a larger frame spans several
 *   descriptors chained with XDP_PKT_CONTD, both ways.  Without it a larger
 *   frame is refused on transmit (-EMSGSIZE, counted) and dropped by the
 *   kernel on receive; those kernel drops (XDP_STATISTICS) are folded into
 *   our rx drop counter.  A frame is never truncated.
 *
 *   Privileges: the socket needs CAP_NET_RAW, the UMEM CAP_IPC_LOCK (or a
 *   large enough RLIMIT_MEMLOCK), loading and attaching the program
 *   CAP_BPF and CAP_NET_ADMIN.  A failed open names what is missing.
 *
 *   A deleted interface.  The kernel unbinds the sockets of an interface
 *   that goes away, and from then on an AF_XDP socket polls as nothing at
 *   all - no EPOLLERR - so the loop never hears of it.  The interface
 *   watch (util.h, netbe__ifwatch) does: it logs that the interface is
 *   gone and hangs queue 0 up, and sends fail with -ENODEV from then on
 *   instead of filling a ring nobody drains.  A link that only goes down
 *   needs nothing: frames stop, and come again when it is up.
 *
 *   libxdp and libbpf print warnings on stderr by default; the library
 *   never prints, so we route both through netbe__log (process-wide: a
 *   host that uses libbpf itself can set its own printer after us).
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "util.h"

/* Newer than Debian 12's uapi headers. */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define XDP_RING 2048 /* every ring; receive and transmit chunks each */
#define XDP_CHUNK XSK_UMEM__DEFAULT_FRAME_SIZE
#define XDP_NCHUNKS (2 * XDP_RING)
#define XDP_MAX_SEGS 18	  /* the kernel's MAX_SKB_FRAGS + 1 */
#define XDP_MAX_QUEUES 64 /* libxdp's default xsks_map size */
#define XDP_BUSY_TRIES 25 /* a closed socket's queue frees asynchronously */
#define XDP_STATS_NS 100000000LL /* fold kernel drops at most every 100 ms */
#define BPFFS "/sys/fs/bpf"
#define XDP_UMEM_FAILED (-4095) /* not an errno: the message is set */

struct xdp_q {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint8_t *area;
	uint64_t *tx_free; /* stack of free transmit chunk addresses */
	unsigned ntx_free;
	uint64_t kdrops;   /* kernel drops already added to rx.drops */
	int64_t stats_at;  /* when we last read XDP_STATISTICS */
	int fd;
	int umem_err; /* why the last UMEM setup failed */
};

struct xdp_priv {
	char ifname[IFNAMSIZ];
	unsigned ifindex;  /* at open: tells a deleted interface */
	unsigned queue0, nq;
	bool want_sg;	   /* the "multibuf" key */
	bool sg;	   /* multi-buffer bound on every queue */
	struct xdp_q *q;   /* nq entries, indexed by bq->idx */
	struct netbe__ifwatch iw; /* tells us the interface is gone */
};

static const struct netbe_option xdp_options[] = {
	{ .key = "ifname", .type = NETBE_OPT_STRING,
	  .help = "interface to bind (or xdp:IFNAME)" },
	{ .key = "queue", .type = NETBE_OPT_UINT,
	  .help = "first hardware queue id (default 0)", .min = 0,
	  .max = 4095 },
	{ .key = "queues", .type = NETBE_OPT_UINT,
	  .help = "number of queues from 'queue' on, one socket each",
	  .min = 1, .max = XDP_MAX_QUEUES },
	{ .key = "mode", .type = NETBE_OPT_STRING,
	  .help = "auto (native, else skb), native (driver XDP) or skb "
		  "(generic XDP)" },
	{ .key = "zerocopy", .type = NETBE_OPT_STRING,
	  .help = "auto, on (XDP_ZEROCOPY, driver must support it) or off "
		  "(XDP_COPY)" },
	{ .key = "multibuf", .type = NETBE_OPT_BOOL,
	  .help = "frames larger than a 4 KiB chunk as several descriptors "
		  "where the kernel can (default on)" },
	{ .key = NULL },
};

/* ---- library glue: logs, capabilities, bpffs ----------------------------- */

/* The last warning libxdp/libbpf gave on this thread, for error messages. */
static __thread char xdp_lastmsg[120];

static void xdp_keep_msg(const char *buf)
{
	size_t n = strnlen(buf, sizeof(xdp_lastmsg) - 1);

	memcpy(xdp_lastmsg, buf, n); /* truncating a long one is fine */
	xdp_lastmsg[n] = '\0';
	while (n && (xdp_lastmsg[n - 1] == '\n' || xdp_lastmsg[n - 1] == ' '))
		xdp_lastmsg[--n] = '\0';
}

__attribute__((format(printf, 2, 0)))
static int xdp_print(bool warn, const char *fmt, va_list ap)
{
	char buf[512];

	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (!n)
		return 0;
	if (warn)
		xdp_keep_msg(buf);
	netbe__log(NETBE_LOG_DEBUG, "xdp: %s", buf);
	return 0;
}

__attribute__((format(printf, 2, 0)))
static int xdp_libxdp_print(enum libxdp_print_level lvl, const char *fmt,
			    va_list ap)
{
	return xdp_print(lvl == LIBXDP_WARN, fmt, ap);
}

__attribute__((format(printf, 2, 0)))
static int xdp_libbpf_print(enum libbpf_print_level lvl, const char *fmt,
			    va_list ap)
{
	return xdp_print(lvl == LIBBPF_WARN, fmt, ap);
}

static void xdp_quiet_libs(void)
{
	libxdp_set_print(xdp_libxdp_print);
	libbpf_set_print(xdp_libbpf_print);
}

/* Appends the names of the capabilities in @want we lack to @buf. */
static void xdp_missing_caps(const int *want, size_t n, char *buf,
			     size_t len)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	static const char *const names[] = {
		[CAP_NET_RAW] = "CAP_NET_RAW", [CAP_NET_ADMIN] = "CAP_NET_ADMIN",
		[CAP_IPC_LOCK] = "CAP_IPC_LOCK", [CAP_BPF] = "CAP_BPF",
	};
	size_t off = 0;

	buf[0] = '\0';
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		int c = want[i];

		if (d[c / 32].effective & (1u << (c % 32)))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					off ? ", " : "", names[c]);
		if (off >= len)
			return;
	}
}

/* " (missing: CAP_X)" for the capabilities an operation needs, or "". */
static const char *xdp_caps_note(const int *want, size_t n)
{
	static __thread char note[96];
	char miss[64];

	xdp_missing_caps(want, n, miss, sizeof(miss));
	if (!miss[0])
		return "";
	snprintf(note, sizeof(note), " (missing capability: %s)", miss);
	return note;
}

/* Our mount namespace was made for us: it is not init's (or, where a
 * sandbox hides init's, not our parent's - `ip netns exec` makes one). */
static bool xdp_own_mount_ns(void)
{
	struct stat self, other;
	char path[64];

	if (stat("/proc/self/ns/mnt", &self) < 0)
		return false;
	if (stat("/proc/1/ns/mnt", &other) == 0)
		return self.st_ino != other.st_ino;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	return stat(path, &other) == 0 && self.st_ino != other.st_ino;
}

/* The mount at /sys propagates to no other namespace (the last /sys line
 * of mountinfo is the one on top). */
static bool xdp_sys_unshared(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], mp[256];
	bool unshared = false;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %255s", mp) == 1 &&
		    !strcmp(mp, "/sys"))
			unshared = !strstr(line, " shared:");
	if (f)
		fclose(f);
	return unshared;
}

/*
 * libxdp keeps its multi-program dispatcher pinned in a bpffs; without one
 * it attaches a lone program, which works but excludes other XDP users of
 * the interface.  We mount one only in a mount namespace made for us (as
 * `ip netns exec` makes: its own /sys, a slave of the host's), where the
 * mount dies with the namespace and never reaches the host's mounts.
 * Returns a note for error messages.
 */
static const char *xdp_bpffs(void)
{
	static __thread char note[128];
	struct statfs sf;

	if (statfs(BPFFS, &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return "";
	if (!xdp_own_mount_ns() || !xdp_sys_unshared())
		return "; no bpffs (libxdp used a single program)";
	if (mount("bpf", BPFFS, "bpf", 0, NULL) == 0) {
		netbe__log(NETBE_LOG_INFO, "xdp: mounted a bpffs at " BPFFS);
		return "";
	}
	snprintf(note, sizeof(note), "; no bpffs (mount " BPFFS ": %s)",
		 strerror(errno));
	return note;
}

/* ---- opening ------------------------------------------------------------- */

static struct xdp_priv *xdp_priv(struct netbe__queue *bq)
{
	return bq->priv;
}

static int xdp_parse_mode(const struct netbe__opts *o, uint32_t *flags,
			  int *nflags)
{
	const char *m = netbe__opt_str(o, "mode", "auto");

	if (!strcmp(m, "auto")) {
		flags[0] = XDP_FLAGS_DRV_MODE;
		flags[1] = XDP_FLAGS_SKB_MODE;
		*nflags = 2;
	} else if (!strcmp(m, "native") || !strcmp(m, "skb")) {
		flags[0] = m[0] == 'n' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
		*nflags = 1;
	} else {
		return netbe__err(-EINVAL, "xdp: mode=%s: valid values are "
				  "auto, native, skb", m);
	}
	return 0;
}

static int xdp_parse_zc(const struct netbe__opts *o, uint16_t *bind)
{
	const char *z = netbe__opt_str(o, "zerocopy", "auto");

	if (!strcmp(z, "on"))
		*bind = XDP_ZEROCOPY;
	else if (!strcmp(z, "off"))
		*bind = XDP_COPY;
	else if (!strcmp(z, "auto"))
		*bind = 0;
	else
		return netbe__err(-EINVAL, "xdp: zerocopy=%s: valid values "
				  "are auto, on, off", z);
	return 0;
}

static int xdp_umem_init(struct xdp_q *q)
{
	struct xsk_umem_config uc = {
		.fill_size = XDP_RING, .comp_size = XDP_RING,
		.frame_size = XDP_CHUNK,
	};
	size_t len = (size_t)XDP_NCHUNKS * XDP_CHUNK;
	int r;

	q->area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q->tx_free = calloc(XDP_RING, sizeof(*q->tx_free));
	if (q->area == MAP_FAILED || !q->tx_free) {
		if (q->area == MAP_FAILED)
			q->area = NULL;
		return netbe__err(-ENOMEM, "xdp: out of memory for the UMEM");
	}
	r = xsk_umem__create(&q->umem, q->area, len, &q->fill, &q->comp, &uc);
	if (r == -EPERM || r == -EACCES || r == -EAFNOSUPPORT) {
		static const int want[] = { CAP_NET_RAW };

		return netbe__err(r, "xdp: creating an AF_XDP socket: %s%s",
				  strerror(-r), r == -EAFNOSUPPORT ?
				  " (kernel without CONFIG_XDP_SOCKETS)" :
				  xdp_caps_note(want, 1));
	}
	if (r == -ENOBUFS || r == -ENOMEM) {
		static const int want[] = { CAP_IPC_LOCK };

		return netbe__err(r, "xdp: registering a %zu MiB UMEM: %s "
				  "(needs CAP_IPC_LOCK or RLIMIT_MEMLOCK of "
				  "at least that)%s", len >> 20, strerror(-r),
				  xdp_caps_note(want, 1));
	}
	if (r < 0)
		return netbe__err(r, "xdp: xsk_umem__create: %s",
				  strerror(-r));
	for (unsigned i = 0; i < XDP_RING; i++)
		q->tx_free[i] = (uint64_t)(XDP_RING + i) * XDP_CHUNK;
	q->ntx_free = XDP_RING;
	return 0;
}

/* Hands every receive chunk to the kernel. */
static void xdp_fill_all(struct xdp_q *q)
{
	uint32_t idx = 0;

	if (xsk_ring_prod__reserve(&q->fill, XDP_RING, &idx) != XDP_RING)
		return; /* cannot happen on a fresh ring */
	for (uint32_t i = 0; i < XDP_RING; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) =
			(uint64_t)i * XDP_CHUNK;
	xsk_ring_prod__submit(&q->fill, XDP_RING);
}

static void xdp_queue_free(struct xdp_q *q);

/*
 * One socket on a fresh UMEM: libxdp leaves a failed attempt's socket
 * bound on the UMEM's fd, so every attempt starts over.  Retries while a
 * just-closed socket still holds the queue (the kernel frees it later).
 */
static int xdp_sock_try(struct xdp_q *q, const char *ifname, unsigned qid,
			uint32_t xdp_flags, uint16_t bind)
{
	struct xsk_socket_config sc = {
		.rx_size = XDP_RING, .tx_size = XDP_RING,
		.xdp_flags = xdp_flags,
		.bind_flags = (uint16_t)(bind | XDP_USE_NEED_WAKEUP),
	};
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int r;

	for (int i = 0; i < XDP_BUSY_TRIES; i++) {
		xdp_lastmsg[0] = '\0';
		r = xdp_umem_init(q);
		if (r < 0) { /* already explained; no other mode will do */
			xdp_queue_free(q);
			q->umem_err = r;
			return XDP_UMEM_FAILED;
		}
		r = xsk_socket__create(&q->xsk, ifname, qid, q->umem, &q->rx,
				       &q->tx, &sc);
		if (r == 0)
			return 0;
		q->xsk = NULL;
		xdp_queue_free(q);
		if (r != -EBUSY)
			break;
		nanosleep(&pause, NULL);
	}
	return r;
}

/* Multi-buffer first; an older kernel refuses the unknown bind flag. */
static int xdp_sock_sg(struct xdp_q *q, const char *ifname, unsigned qid,
		       uint32_t xdp_flags, uint16_t bind, bool *sg)
{
	int r = -EINVAL;

	if (*sg)
		r = xdp_sock_try(q, ifname, qid, xdp_flags, bind | XDP_USE_SG);
	*sg = r == 0;
	if (r == -EINVAL || r == -EOPNOTSUPP)
		r = xdp_sock_try(q, ifname, qid, xdp_flags, bind);
	return r;
}

static const char *xdp_mode_name(uint32_t flags)
{
	return flags == XDP_FLAGS_DRV_MODE ? "native" : "skb";
}

static int xdp_sock_err(int r, const char *ifname, unsigned qid,
			uint32_t xdp_flags, uint16_t bind, const char *bpffs)
{
	static const int want[] = { CAP_NET_ADMIN, CAP_BPF };
	const char *why = "";
	char lib[sizeof(xdp_lastmsg) + 16] = "";

	if (r == -EPERM || r == -EACCES) { /* that says it all */
		xdp_lastmsg[0] = '\0';
		bpffs = "";
		why = xdp_caps_note(want, 2);
	} else if (r == -EBUSY)
		why = " (another AF_XDP socket uses this queue, or an XDP "
		      "program in another mode is attached)";
	else if (r == -EOPNOTSUPP && (bind & XDP_ZEROCOPY))
		why = " (the driver has no AF_XDP zero-copy; use zerocopy=auto)";
	else if (r == -EOPNOTSUPP && xdp_flags == XDP_FLAGS_DRV_MODE)
		why = " (the driver has no native XDP; use mode=skb)";
	else if (r == -EINVAL)
		why = " (queue id beyond the interface's queues?)";
	if (xdp_lastmsg[0])
		snprintf(lib, sizeof(lib), "; libxdp: %s", xdp_lastmsg);
	return netbe__err(r, "xdp: %s queue %u, %s mode: %s%s%s%s", ifname, qid,
			  xdp_mode_name(xdp_flags), strerror(-r), why, lib,
			  bpffs);
}

/* Copy mode sends only the budget per kick; ask for a whole ring. */
static void xdp_tx_budget(struct xdp_q *q)
{
	unsigned budget = XDP_RING;

	(void)setsockopt(q->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget,
			 sizeof(budget));
}

static int xdp_queue_open(struct xdp_priv *p, struct xdp_q *q, unsigned qid,
			  const uint32_t *modes, int nmodes, uint16_t bind,
			  const char *bpffs)
{
	bool sg = p->want_sg;
	int r = -EINVAL;

	for (int m = 0; m < nmodes; m++) {
		sg = p->want_sg;
		r = xdp_sock_sg(q, p->ifname, qid, modes[m], bind, &sg);
		if (r == XDP_UMEM_FAILED)
			return q->umem_err;
		if (r == 0 || r == -EPERM || r == -EACCES)
			break;
		if (m + 1 < nmodes)
			netbe__log(NETBE_LOG_INFO, "xdp: %s: %s mode: %s; "
				   "trying %s", p->ifname,
				   xdp_mode_name(modes[m]), strerror(-r),
				   xdp_mode_name(modes[m + 1]));
	}
	if (r < 0)
		return xdp_sock_err(r, p->ifname, qid, modes[nmodes - 1],
				    bind, bpffs);
	p->sg = sg && (q == p->q || p->sg);
	q->fd = xsk_socket__fd(q->xsk);
	xdp_tx_budget(q);
	xdp_fill_all(q);
	return 0;
}

static void xdp_queue_free(struct xdp_q *q)
{
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, (size_t)XDP_NCHUNKS * XDP_CHUNK);
	free(q->tx_free);
	memset(q, 0, sizeof(*q));
}

static void xdp_release(struct xdp_priv *p)
{
	netbe__ifwatch_close(&p->iw);
	/* Last queue first: libxdp detaches its program with the last. */
	for (unsigned i = p->nq; p->q && i-- > 0;)
		xdp_queue_free(&p->q[i]);
	free(p->q);
	p->q = NULL;
}

static int xdp_check_ifname(struct xdp_priv *p, const char *name)
{
	if (!*name)
		return netbe__err(-EINVAL, "xdp: an interface is required "
				  "(ifname=IF or xdp:IF)");
	if (strlen(name) >= IFNAMSIZ)
		return netbe__err(-EINVAL, "xdp: interface name '%s' is longer "
				  "than %d characters", name, IFNAMSIZ - 1);
	if (if_nametoindex(name) == 0)
		return netbe__err(-ENOENT, "xdp: no interface '%s' in this "
				  "network namespace: %s", name,
				  strerror(errno));
	snprintf(p->ifname, sizeof(p->ifname), "%s", name);
	return 0;
}

static pthread_once_t xdp_once = PTHREAD_ONCE_INIT;

static int xdp_open(struct netbe__queue *bq, const struct netbe__opts *o,
		    struct netbe__opened *out)
{
	struct xdp_priv *p = xdp_priv(bq);
	uint32_t modes[2];
	uint16_t bind = 0;
	int nmodes = 0, r;
	const char *bpffs;

	if ((r = xdp_check_ifname(p, netbe__opt_target(o, "ifname"))) < 0 ||
	    (r = xdp_parse_mode(o, modes, &nmodes)) < 0 ||
	    (r = xdp_parse_zc(o, &bind)) < 0)
		return r;
	pthread_once(&xdp_once, xdp_quiet_libs);
	bpffs = xdp_bpffs();
	p->queue0 = (unsigned)netbe__opt_uint(o, "queue", 0);
	p->nq = (unsigned)netbe__opt_uint(o, "queues", 1);
	p->want_sg = netbe__opt_bool(o, "multibuf", true);
	p->q = calloc(p->nq, sizeof(*p->q));
	if (!p->q)
		return netbe__err(-ENOMEM, "xdp: out of memory");
	for (unsigned i = 0; i < p->nq; i++) {
		r = xdp_queue_open(p, &p->q[i], p->queue0 + i, modes, nmodes,
				   bind, bpffs);
		if (r < 0)
			goto fail;
		out->fd[i] = p->q[i].fd;
	}
	out->nqueues = p->nq;
	p->ifindex = if_nametoindex(p->ifname);
	r = netbe__ifwatch_open(&p->iw, bq, o->loop, "xdp", p->ifname,
				p->ifindex);
	if (r < 0)
		goto fail;
	return 0; /* no header: AF_XDP carries no offload metadata */
fail:
	xdp_release(p);
	return r;
}

/* The core closes queue 0 only; its state holds every queue's socket. */
static void xdp_close(struct netbe__queue *bq)
{
	xdp_release(xdp_priv(bq));
}

/* ---- transmit ------------------------------------------------------------ */

static struct xdp_q *xdp_q(struct netbe__queue *bq)
{
	return &xdp_priv(bq)->q[bq->idx];
}

/* Takes the chunks of finished transmissions back. */
static void xdp_reap(struct xdp_q *q)
{
	uint32_t idx = 0;
	uint32_t n = xsk_ring_cons__peek(&q->comp, XDP_RING, &idx);

	for (uint32_t i = 0; i < n && q->ntx_free < XDP_RING; i++)
		q->tx_free[q->ntx_free++] =
			*xsk_ring_cons__comp_addr(&q->comp, idx + i) &
			~(uint64_t)(XDP_CHUNK - 1);
	if (n)
		xsk_ring_cons__release(&q->comp, n);
}

/* Makes the kernel transmit what the ring holds; see the top comment. */
static void xdp_kick(struct xdp_q *q, unsigned ndesc)
{
	unsigned tries = ndesc / 32 + 2;

	if (!xsk_ring_prod__needs_wakeup(&q->tx))
		return;
	while (tries--) {
		if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 ||
		    errno != EAGAIN)
			return;
		xdp_reap(q);
	}
}

/* Descriptors @len bytes need, or 0 when the frame cannot be sent. */
static unsigned xdp_segs(const struct xdp_priv *p, size_t len)
{
	size_t n = (len + XDP_CHUNK - 1) / XDP_CHUNK;

	if (n == 1 || (p->sg && n <= XDP_MAX_SEGS))
		return (unsigned)n;
	return 0;
}

/* Copies one frame into free chunks at ring slots from @idx on. */
static void xdp_put_frame(struct xdp_q *q, const struct iovec *iov,
			  int iovcnt, size_t len, uint32_t idx)
{
	size_t off = 0;

	while (off < len) {
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx++);
		size_t n = len - off < XDP_CHUNK ? len - off : XDP_CHUNK;

		d->addr = q->tx_free[--q->ntx_free];
		netbe__iov_to_buf(iov, iovcnt, off, q->area + d->addr, n);
		d->len = (uint32_t)n;
		off += n;
		d->options = off < len ? XDP_PKT_CONTD : 0;
	}
}

/* How many of @msgs fit in @room descriptors; *@ndesc gets their total. */
static int xdp_plan(const struct xdp_priv *p, struct netbe_msg *msgs, int n,
		    unsigned room, unsigned *ndesc)
{
	int i;

	*ndesc = 0;
	for (i = 0; i < n; i++) {
		unsigned s = xdp_segs(p, netbe__iov_len(msgs[i].iov,
							msgs[i].iovcnt));

		if (*ndesc + s > room)
			break;
		*ndesc += s;
	}
	return i;
}

static int xdp_send_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct xdp_priv *p = xdp_priv(bq);
	struct xdp_q *q = xdp_q(bq);
	unsigned room, ndesc;
	uint32_t idx = 0;
	int fit;

	if (netbe__ifwatch_gone(&p->iw))
		return netbe__err(-ENODEV, "xdp: interface %s is gone",
				  p->ifname);
	xdp_reap(q);
	room = xsk_prod_nb_free(&q->tx, q->ntx_free);
	room = room < q->ntx_free ? room : q->ntx_free;
	fit = xdp_plan(p, msgs, n, room, &ndesc);
	if (fit == 0) {
		xdp_kick(q, 0); /* what still sits in the ring must move */
		return -EAGAIN;
	}
	if (ndesc && xsk_ring_prod__reserve(&q->tx, ndesc, &idx) != ndesc)
		return -EAGAIN; /* cannot happen: room was checked */
	for (int i = 0; i < fit; i++) {
		size_t len = netbe__iov_len(msgs[i].iov, msgs[i].iovcnt);
		unsigned s = xdp_segs(p, len);

		msgs[i].len = s ? len : 0;
		if (!s) { /* refused: larger than a chunk, no multi-buffer */
			netbe__q_drop(bq, NETBE_TX, NETBE_DROP_OVERSIZE, 1);
			continue;
		}
		xdp_put_frame(q, msgs[i].iov, msgs[i].iovcnt, len, idx);
		idx += s;
	}
	if (ndesc) {
		xsk_ring_prod__submit(&q->tx, ndesc);
		xdp_kick(q, ndesc);
	}
	return fit;
}

static ssize_t xdp_send(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct netbe_msg m = { .iov = (struct iovec *)iov, .iovcnt = iovcnt };
	size_t len = netbe__iov_len(iov, iovcnt);
	int r;

	if (!xdp_segs(xdp_priv(bq), len))
		return netbe__err(-EMSGSIZE, "xdp: %s: a %zu-byte frame needs "
				  "AF_XDP multi-buffer (Linux 6.6), not "
				  "available here", xdp_priv(bq)->ifname, len);
	r = xdp_send_batch(bq, &m, 1);
	return r < 0 ? r : (ssize_t)m.len;
}

/* ---- receive ------------------------------------------------------------- */

static int64_t xdp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Adds frames the kernel dropped for this socket (too large, ring full)
 * to our drop counter; rate-limited, as it costs a syscall. */
static void xdp_fold_kernel_drops(struct netbe__queue *bq, struct xdp_q *q)
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);
	int64_t now = xdp_now();
	uint64_t total;

	if (now - q->stats_at < XDP_STATS_NS)
		return;
	q->stats_at = now;
	if (getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
		return;
	total = st.rx_dropped + st.rx_ring_full + st.rx_invalid_descs;
	if (total > q->kdrops)
		netbe__q_drop(bq, NETBE_RX, NETBE_DROP_RING,
			      total - q->kdrops);
	q->kdrops = total;
}

/*
 * Looks at the frame at the head of the rx ring without consuming it:
 * returns its length and descriptor count, 0 when there is none yet.
 */
static size_t xdp_rx_head(struct xdp_q *q, uint32_t *ndesc)
{
	uint32_t idx = 0, n = xsk_ring_cons__peek(&q->rx, XDP_MAX_SEGS, &idx);
	size_t len = 0;

	xsk_ring_cons__cancel(&q->rx, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);

		len += d->len;
		if (!(d->options & XDP_PKT_CONTD)) {
			*ndesc = i + 1;
			return len;
		}
	}
	return 0;
}

/* Returns chunks to the fill ring; it always has room (see the top). */
static void xdp_refill(struct xdp_q *q, uint32_t rx_idx, uint32_t n)
{
	uint32_t idx = 0;

	if (xsk_ring_prod__reserve(&q->fill, n, &idx) != n)
		return;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) =
			xsk_ring_cons__rx_desc(&q->rx, rx_idx + i)->addr &
			~(uint64_t)(XDP_CHUNK - 1);
	xsk_ring_prod__submit(&q->fill, n);
}

/* Copies the @ndesc descriptors from ring slot @idx into @iov; false when
 * a descriptor points outside the UMEM (never from a sane kernel). */
static bool xdp_copy_out(struct xdp_q *q, uint32_t idx, uint32_t ndesc,
			 const struct iovec *iov, int iovcnt)
{
	size_t off = 0;

	for (uint32_t i = 0; i < ndesc; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
		uint64_t a = xsk_umem__add_offset_to_addr(d->addr);

		if (a + d->len > (uint64_t)XDP_NCHUNKS * XDP_CHUNK)
			return false;
		off += netbe__buf_to_iov(q->area + a, d->len, iov, iovcnt, off);
	}
	return true;
}

/* Receives the head frame into @iov; 0 none, -ENOSPC too big (dropped). */
static ssize_t xdp_recv_one(struct xdp_q *q, const struct iovec *iov,
			    int iovcnt, uint32_t *used)
{
	uint32_t nd = 0, idx = 0;
	size_t len = xdp_rx_head(q, &nd);
	bool ok;

	*used = 0;
	if (len == 0)
		return 0;
	xsk_ring_cons__peek(&q->rx, nd, &idx);
	ok = len <= netbe__iov_len(iov, iovcnt) &&
	     xdp_copy_out(q, idx, nd, iov, iovcnt);
	xdp_refill(q, idx, nd);
	*used = nd;
	return ok ? (ssize_t)len : -ENOSPC;
}

static void xdp_rx_done(struct xdp_q *q, uint32_t used)
{
	if (used)
		xsk_ring_cons__release(&q->rx, used);
	if (xsk_ring_prod__needs_wakeup(&q->fill))
		(void)recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static ssize_t xdp_recv(struct netbe__queue *bq, const struct iovec *iov, int iovcnt)
{
	struct xdp_q *q = xdp_q(bq);
	uint32_t used;
	ssize_t r = xdp_recv_one(q, iov, iovcnt, &used);

	if (r == 0)
		xdp_fold_kernel_drops(bq, q);
	xdp_rx_done(q, used);
	return r;
}

static int xdp_recv_batch(struct netbe__queue *bq, struct netbe_msg *msgs, int n)
{
	struct xdp_q *q = xdp_q(bq);
	uint32_t used = 0, u;
	int got = 0, dropped = 0;

	/* peek() walks a cached head, so one release at the end will do. */
	while (got < n) {
		ssize_t r = xdp_recv_one(q, msgs[got].iov, msgs[got].iovcnt,
					 &u);

		used += u;
		if (r == 0)
			break;
		if (r < 0) {
			netbe__q_drop(bq, NETBE_RX, NETBE_DROP_NOROOM, 1);
			dropped++;
			continue;
		}
		msgs[got++].len = (size_t)r;
	}
	if (got == 0 && dropped == 0)
		xdp_fold_kernel_drops(bq, q);
	xdp_rx_done(q, used);
	return got == 0 && dropped ? -ENOSPC : got;
}

static ssize_t xdp_peek_recvlen(struct netbe__queue *bq)
{
	uint32_t nd;

	return (ssize_t)xdp_rx_head(xdp_q(bq), &nd);
}

/* ---- queries ------------------------------------------------------------- */

static int xdp_get_mtu(struct netbe__queue *bq)
{
	return netbe__if_mtu("xdp", xdp_priv(bq)->ifname);
}

static int xdp_get_mac(struct netbe__queue *bq, uint8_t mac[6])
{
	return netbe__if_mac("xdp", xdp_priv(bq)->ifname, mac);
}

/* The socket reports its interface going down or away (ENETDOWN). */
static int xdp_rx_error(struct netbe__queue *bq, int fd)
{
	struct xdp_priv *p = xdp_priv(bq);

	return netbe__if_rx_error(&p->iw, bq, fd);
}

const struct netbe__ops netbe__xdp_ops = {
	.name = "xdp",
	.prefixes = "xdp netmap", /* the seed's netmap:IFNAME */
	.description = "AF_XDP socket on an interface queue (libxdp; needs "
		       "CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF)",
	.options = xdp_options,
	.priv_size = sizeof(struct xdp_priv),
	.open = xdp_open,
	.close = xdp_close,
	.send = xdp_send,
	.peek_recvlen = xdp_peek_recvlen,
	.recv = xdp_recv,
	.send_batch = xdp_send_batch,
	.recv_batch = xdp_recv_batch,
	.rx_error = xdp_rx_error,
	.get_mtu = xdp_get_mtu,
	.get_mac = xdp_get_mac,
};
