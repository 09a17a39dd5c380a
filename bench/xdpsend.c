/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xdpsend - the raw AF_XDP path: one AF_XDP socket on queue 0 of an
 * interface, driven through libxdp/libbpf directly with no libnetbe in
 * between.  The baseline the xdp backend's per-frame overhead is measured
 * against (bench/run-packet-bench.sh), as rawsend is for packet.
 *
 *   usage: xdpsend IFNAME [--size BYTES] [--duration SEC] [--batch N]
 *                         [--mode native|skb] [--copy] [--rx]
 *
 * Theory of operation
 *   It sets the socket up the way src/backends/xdp.c does, so the two
 *   differ only by the library: every ring 2048 entries, 4 KiB chunks,
 *   2048 receive chunks parked in the fill ring and 2048 transmit chunks
 *   on a free stack, bound with XDP_USE_NEED_WAKEUP (and XDP_USE_SG where
 *   the kernel has it), libxdp's default program attached, the copy-mode
 *   transmit budget (XDP_MAX_TX_SKB_BUDGET) raised to the ring size.
 *
 *   Transmit: every transmit chunk holds the frame, written once at
 *   start (--copy writes it again for each frame, as the backend must,
 *   since its frames come from the caller).  Per batch of --batch frames
 *   (default 64): take completions back onto the free stack, write the
 *   descriptors, submit, and kick with sendto() only when the ring says
 *   it needs a wakeup, again while the kernel answers EAGAIN, exactly as
 *   the backend does.  Frames larger than a chunk go as several
 *   descriptors chained with XDP_PKT_CONTD.  "frames" counts completions.
 *
 *   --rx: receive instead: read descriptors off the rx ring, give the
 *   chunks straight back to the fill ring, wake the kernel when the fill
 *   ring asks, and sleep in poll() when nothing waits (as netbe bench
 *   does); --copy copies each frame out, as the backend does.
 *
 *   Prints one JSON line like rawsend's (mode "xdp-native", "xdp-skb",
 *   or "xdprx-native"...).  The frame is rawsend's: to a locally
 *   administered unicast MAC, EtherType 0x88b5.  SIGINT/SIGTERM end the
 *   run cleanly, so libxdp detaches its program from the interface.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "benchclock.h"

#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define RING 2048 /* as the backend: every ring, and each chunk pool */
#define CHUNK XSK_UMEM__DEFAULT_FRAME_SIZE
#define NCHUNKS (2 * RING)
#define MAX_SEGS 18
#define BATCH_MAX 1024
#define BPFFS "/sys/fs/bpf"

struct xs {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint8_t *area;
	uint64_t free_stack[RING];
	unsigned nfree;
	uint64_t done; /* completed transmit descriptors */
	int fd;
};

struct opts {
	const char *ifname;
	size_t size;
	double dur;
	unsigned batch;
	uint32_t mode; /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	bool copy, rx;
};

static volatile sig_atomic_t stop;
static unsigned char frame[MAX_SEGS * CHUNK];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "xdpsend: %s: %s\n", what, strerror(err));
	exit(1);
}

/*
 * The backend mounts a bpffs (so libxdp uses its dispatcher) only in a
 * mount namespace made for the process whose /sys propagates nowhere, as
 * `ip netns exec` makes; the same here, so the receive path runs the same
 * program.  Never on the host's mounts.
 */
static void maybe_bpffs(void)
{
	struct stat self, other;
	struct statfs sf;
	char line[1024], mp[256], path[64];
	bool unshared = false;
	FILE *f;

	if (statfs(BPFFS, &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	if (stat("/proc/self/ns/mnt", &self) < 0 ||
	    (stat("/proc/1/ns/mnt", &other) < 0 && stat(path, &other) < 0) ||
	    self.st_ino == other.st_ino)
		return; /* not a namespace of our own (init's, else parent's) */
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %255s", mp) == 1 &&
		    !strcmp(mp, "/sys"))
			unshared = !strstr(line, " shared:");
	if (f)
		fclose(f);
	if (unshared)
		(void)mount("bpf", BPFFS, "bpf", 0, NULL);
}

static int xs_try(struct xs *s, const struct opts *o, uint16_t bind)
{
	struct xsk_umem_config uc = { .fill_size = RING, .comp_size = RING,
				      .frame_size = CHUNK };
	struct xsk_socket_config sc = {
		.rx_size = RING, .tx_size = RING, .xdp_flags = o->mode,
		.bind_flags = (uint16_t)(bind | XDP_USE_NEED_WAKEUP),
	};
	int r = xsk_umem__create(&s->umem, s->area, (size_t)NCHUNKS * CHUNK,
				 &s->fill, &s->comp, &uc);

	if (r < 0)
		die("xsk_umem__create", -r);
	r = xsk_socket__create(&s->xsk, o->ifname, 0, s->umem, &s->rx,
			       &s->tx, &sc);
	if (r < 0) { /* libxdp leaves the UMEM's fd bound: start over */
		s->xsk = NULL;
		xsk_umem__delete(s->umem);
		s->umem = NULL;
	}
	return r;
}

/* As the backend: multi-buffer first, and a just-closed socket may still
 * hold the queue for a while. */
static void xs_open(struct xs *s, const struct opts *o)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	unsigned budget = RING;
	int r = -EBUSY;

	s->area = mmap(NULL, (size_t)NCHUNKS * CHUNK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->area == MAP_FAILED)
		die("mmap", errno);
	for (int i = 0; i < 25 && r == -EBUSY; i++) {
		r = xs_try(s, o, XDP_USE_SG);
		if (r == -EINVAL || r == -EOPNOTSUPP)
			r = xs_try(s, o, 0);
		if (r == -EBUSY)
			nanosleep(&pause, NULL);
	}
	if (r < 0)
		die(o->ifname, -r);
	s->fd = xsk_socket__fd(s->xsk);
	(void)setsockopt(s->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget,
			 sizeof(budget));
}

static void fill_all(struct xs *s)
{
	uint32_t idx = 0;

	if (xsk_ring_prod__reserve(&s->fill, RING, &idx) != RING)
		return;
	for (uint32_t i = 0; i < RING; i++)
		*xsk_ring_prod__fill_addr(&s->fill, idx + i) =
			(uint64_t)i * CHUNK;
	xsk_ring_prod__submit(&s->fill, RING);
}

/* Transmit chunks follow the receive ones; each holds the frame. */
static void tx_prebuild(struct xs *s)
{
	for (unsigned i = 0; i < RING; i++) {
		s->free_stack[i] = (uint64_t)(RING + i) * CHUNK;
		memcpy(s->area + s->free_stack[i], frame, CHUNK);
	}
	s->nfree = RING;
}

static void reap(struct xs *s)
{
	uint32_t idx = 0, n = xsk_ring_cons__peek(&s->comp, RING, &idx);

	for (uint32_t i = 0; i < n && s->nfree < RING; i++)
		s->free_stack[s->nfree++] =
			*xsk_ring_cons__comp_addr(&s->comp, idx + i) &
			~(uint64_t)(CHUNK - 1);
	if (n)
		xsk_ring_cons__release(&s->comp, n);
	s->done += n;
}

static void kick(struct xs *s, unsigned ndesc)
{
	unsigned tries = ndesc / 32 + 2;

	if (!xsk_ring_prod__needs_wakeup(&s->tx))
		return;
	while (tries--) {
		if (sendto(s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 ||
		    errno != EAGAIN)
			return;
		reap(s);
	}
}

/* Writes the descriptors of @nf frames of @segs chunks from slot @idx. */
static void put_frames(struct xs *s, const struct opts *o, unsigned nf,
		       unsigned segs, uint32_t idx)
{
	for (unsigned f = 0; f < nf; f++) {
		size_t off = 0;

		for (unsigned k = 0; k < segs; k++) {
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&s->tx,
								    idx++);
			size_t n = o->size - off < CHUNK ? o->size - off : CHUNK;

			d->addr = s->free_stack[--s->nfree];
			if (o->copy)
				memcpy(s->area + d->addr, frame + off, n);
			d->len = (uint32_t)n;
			off += n;
			d->options = off < o->size ? XDP_PKT_CONTD : 0;
		}
	}
}

static uint64_t run_tx(struct xs *s, const struct opts *o, double end)
{
	unsigned segs = (unsigned)((o->size + CHUNK - 1) / CHUNK);

	tx_prebuild(s);
	while (!stop && now_s() < end) {
		unsigned room, nf;
		uint32_t idx = 0;

		reap(s);
		room = xsk_prod_nb_free(&s->tx, s->nfree);
		room = room < s->nfree ? room : s->nfree;
		nf = room / segs < o->batch ? room / segs : o->batch;
		if (nf == 0) {
			kick(s, 0);
			continue;
		}
		if (xsk_ring_prod__reserve(&s->tx, nf * segs, &idx) != nf * segs)
			continue; /* cannot happen: room was checked */
		put_frames(s, o, nf, segs, idx);
		xsk_ring_prod__submit(&s->tx, nf * segs);
		kick(s, nf * segs);
	}
	reap(s);
	return s->done / segs;
}

/* Counts the frames among @n descriptors from @idx, copying them out with
 * --copy, and gives their chunks back to the fill ring. */
static uint64_t rx_take(struct xs *s, const struct opts *o, uint32_t idx,
			uint32_t n)
{
	static unsigned char out[MAX_SEGS * CHUNK];
	uint64_t frames = 0;
	uint32_t fidx = 0;
	size_t off = 0;

	if (xsk_ring_prod__reserve(&s->fill, n, &fidx) != n)
		return 0; /* cannot happen: the fill ring has a slot per chunk */
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, idx + i);
		uint64_t a = xsk_umem__add_offset_to_addr(d->addr);

		if (o->copy && off + d->len <= sizeof(out) &&
		    a + d->len <= (uint64_t)NCHUNKS * CHUNK)
			memcpy(out + off, s->area + a, d->len);
		off += d->len;
		if (!(d->options & XDP_PKT_CONTD)) {
			frames++;
			off = 0;
		}
		*xsk_ring_prod__fill_addr(&s->fill, fidx + i) =
			d->addr & ~(uint64_t)(CHUNK - 1);
	}
	xsk_ring_prod__submit(&s->fill, n);
	xsk_ring_cons__release(&s->rx, n);
	return frames;
}

static uint64_t run_rx(struct xs *s, const struct opts *o, double end)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	uint64_t frames = 0;

	fill_all(s);
	while (!stop && now_s() < end) {
		uint32_t idx = 0, n = xsk_ring_cons__peek(&s->rx, o->batch, &idx);

		if (n)
			frames += rx_take(s, o, idx, n);
		if (xsk_ring_prod__needs_wakeup(&s->fill))
			(void)recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		if (!n)
			(void)poll(&pfd, 1, 10);
	}
	return frames;
}

static void usage(void)
{
	fprintf(stderr, "usage: xdpsend IFNAME [--size B] [--duration S] "
			"[--batch N] [--mode native|skb] [--copy] [--rx]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .size = 64, .dur = 5, .batch = 64,
			    .mode = XDP_FLAGS_DRV_MODE };
	if (argc < 2)
		usage();
	o->ifname = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(argv[i], "--copy"))
			o->copy = true;
		else if (!strcmp(argv[i], "--rx"))
			o->rx = true;
		else if (!strcmp(argv[i], "--size") && ++i)
			o->size = strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--duration") && ++i)
			o->dur = strtod(v, NULL);
		else if (!strcmp(argv[i], "--batch") && ++i)
			o->batch = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--mode") && ++i)
			o->mode = !strcmp(v, "skb") ? XDP_FLAGS_SKB_MODE
						     : XDP_FLAGS_DRV_MODE;
		else
			usage();
	}
	if (o->size < 60 || o->size > sizeof(frame) || o->batch < 1 ||
	    o->batch > BATCH_MAX || o->dur <= 0) {
		fprintf(stderr, "xdpsend: bad --size, --batch or --duration\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static struct xs s;
	struct opts o;
	double t0, c0, wall, cpu;
	uint64_t frames;
	char mode[32];

	parse(argc, argv, &o);
	memcpy(frame, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x88\xb5", 14);
	for (size_t i = 14; i < sizeof(frame); i++)
		frame[i] = (unsigned char)i;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	maybe_bpffs();
	xs_open(&s, &o);
	t0 = now_s();
	c0 = cpu_s();
	frames = o.rx ? run_rx(&s, &o, t0 + o.dur) : run_tx(&s, &o, t0 + o.dur);
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	snprintf(mode, sizeof(mode), "%s-%s%s", o.rx ? "xdprx" : "xdp",
		 o.mode == XDP_FLAGS_SKB_MODE ? "skb" : "native",
		 o.copy ? "-copy" : "");
	printf("{\"bench\":\"xdpsend\",\"mode\":\"%s\",\"spec\":\"%s\","
	       "\"size\":%zu,\"batch\":%u,\"frames\":%llu,\"fails\":0,"
	       "\"wall_s\":%.4f,\"cpu_s\":%.4f,\"mpps\":%.4f,\"gbps\":%.4f,"
	       "\"mpps_per_core\":%.4f}\n", mode, o.ifname,
	       o.rx ? (size_t)0 : o.size, o.batch, (unsigned long long)frames,
	       wall, cpu, frames / wall / 1e6,
	       o.rx ? 0.0 : frames * o.size * 8 / wall / 1e9,
	       cpu > 0 ? frames / cpu / 1e6 : 0);
	fflush(stdout);
	xsk_socket__delete(s.xsk); /* the last socket: libxdp detaches */
	xsk_umem__delete(s.umem);
	munmap(s.area, (size_t)NCHUNKS * CHUNK);
	return 0;
}
