/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forward.c - the frame forwarder of "netbe connect" and "netbe demo".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "forward.h"

/* Room for one frame with the largest header. */
#define FWD_BUFSIZE (NETBE_MAX_FRAME + NETBE_VNET_HDR_MRG_LEN)
/* Batches one callback forwards before it lets the loop run others. */
#define FWD_MAX_ROUNDS 8
/* Consecutive failed receives after which a queue is given up. */
#define FWD_MAX_ERRORS 64
/* Failed sends reported with -v, per direction. */
#define FWD_MAX_REPORTS 10

/* One receiving queue and where its frames go. */
struct fwd_dir {
	struct fwd *f;
	netbe_t *from, *to;
	int dir; /* index of the counters: 0 a -> b, 1 b -> a */
	unsigned errs_in_row;
};

struct fwd {
	netbe_t *end[2];
	unsigned batch;
	unsigned char *buf;
	struct iovec *rx_iov, *tx_iov;
	struct netbe_msg *rx_msgs, *tx_msgs;
	struct fwd_dir *dirs;
	unsigned ndirs;
	int started;
	int failed;
	netbe_loop_t *stop_loop;
	struct fwd_counters c[2];
};

/* ---- offload negotiation ---------------------------------------------- */

/* A GUEST_x bit (what a receiver accepts) and its HOST_x counterpart. */
static const struct {
	uint64_t guest, host;
} offload_pairs[] = {
	{ NETBE_F_GUEST_CSUM, NETBE_F_CSUM },
	{ NETBE_F_GUEST_TSO4, NETBE_F_HOST_TSO4 },
	{ NETBE_F_GUEST_TSO6, NETBE_F_HOST_TSO6 },
	{ NETBE_F_GUEST_ECN, NETBE_F_HOST_ECN },
	{ NETBE_F_GUEST_UFO, NETBE_F_HOST_UFO },
	{ NETBE_F_GUEST_USO4, NETBE_F_HOST_USO },
	{ NETBE_F_GUEST_USO6, NETBE_F_HOST_USO },
};

#define N_PAIRS (sizeof(offload_pairs) / sizeof(offload_pairs[0]))

#define GUEST_NEEDS_CSUM                                                   \
	(NETBE_F_GUEST_TSO4 | NETBE_F_GUEST_TSO6 |                \
	 NETBE_F_GUEST_ECN | NETBE_F_GUEST_UFO |                  \
	 NETBE_F_GUEST_USO4 | NETBE_F_GUEST_USO6)
#define GUEST_TSO (NETBE_F_GUEST_TSO4 | NETBE_F_GUEST_TSO6)

/* GUEST_x bits @from may use for frames that go to @to. */
static uint64_t guest_bits(uint64_t cap_from, uint64_t cap_to)
{
	uint64_t g = 0;

	for (size_t i = 0; i < N_PAIRS; i++)
		if ((cap_from & offload_pairs[i].guest) &&
		    (cap_to & offload_pairs[i].host))
			g |= offload_pairs[i].guest;
	if (!(g & NETBE_F_GUEST_CSUM))
		g &= ~GUEST_NEEDS_CSUM;
	if (!(g & GUEST_TSO))
		g &= ~NETBE_F_GUEST_ECN;
	return g;
}

/* HOST_x bits the receiver of frames with GUEST_x bits @g must enable. */
static uint64_t host_bits(uint64_t g)
{
	uint64_t h = 0;

	for (size_t i = 0; i < N_PAIRS; i++)
		if (g & offload_pairs[i].guest)
			h |= offload_pairs[i].host;
	return h;
}

void fwd_negotiate(uint64_t cap_a, uint64_t cap_b, uint64_t *feat_a,
		   uint64_t *feat_b)
{
	uint64_t g_ab, g_ba;

	cap_a &= NETBE_OFFLOAD_MASK;
	cap_b &= NETBE_OFFLOAD_MASK;
	g_ab = guest_bits(cap_a, cap_b);
	g_ba = guest_bits(cap_b, cap_a);
	*feat_a = g_ab | host_bits(g_ba);
	*feat_b = g_ba | host_bits(g_ab);
}

static int set_cap(netbe_t *be, uint64_t features, unsigned hdr_len)
{
	int r = netbe_set_cap(be, features, hdr_len);

	if (r < 0)
		cli_err("%s: cannot set features (header %u): %s",
			netbe_get_name(be), hdr_len, cli_strerror(r));
	return r;
}

int fwd_setup_caps(netbe_t *a, netbe_t *b, uint64_t *feat_a,
		   uint64_t *feat_b)
{
	uint64_t fa, fb;
	unsigned hdr_len;
	int r;

	fwd_negotiate(netbe_get_cap(a), netbe_get_cap(b), &fa, &fb);
	hdr_len = (fa | fb) != 0 ? NETBE_VNET_HDR_MRG_LEN : 0;
	r = set_cap(a, fa, hdr_len);
	if (r == 0)
		r = set_cap(b, fb, hdr_len);
	if (feat_a != NULL)
		*feat_a = fa;
	if (feat_b != NULL)
		*feat_b = fb;
	return r;
}

/* ---- forwarding -------------------------------------------------------- */

static void send_failed(struct fwd_dir *d, int idx, int err)
{
	uint64_t n = ++d->f->c[d->dir].errors;

	if (cli_verbose > 0 && n <= FWD_MAX_REPORTS)
		cli_err("%s: send of a %zu-byte frame failed: %s%s",
			netbe_get_label(d->to), d->f->rx_msgs[idx].len,
			cli_strerror(err),
			n == FWD_MAX_REPORTS ? " (no more reported)" : "");
}

/* Sends frames [0, n) received into the buffers; returns those accepted. */
static unsigned send_all(struct fwd_dir *d, int n)
{
	struct fwd *f = d->f;
	int off = 0, r;

	while (off < n) {
		r = netbe_send_batch(d->to, f->tx_msgs + off, n - off);
		if (r == -EAGAIN || r == 0)
			break; /* the other side is full */
		if (r < 0) {
			send_failed(d, off, r); /* the first frame failed */
			off++;
			continue;
		}
		for (int i = off; i < off + r; i++)
			f->c[d->dir].bytes += f->rx_msgs[i].len;
		f->c[d->dir].frames += (unsigned)r;
		off += r;
		if (off < n)
			break; /* partial batch: the other side is full */
	}
	return (unsigned)off;
}

static void recv_failed(struct fwd_dir *d, int err)
{
	d->f->c[d->dir].errors++;
	if (++d->errs_in_row < FWD_MAX_ERRORS)
		return;
	cli_err("%s: receive keeps failing: %s; giving up",
		netbe_get_label(d->from), cli_strerror(err));
	netbe_rx_disable(d->from);
	d->f->failed = 1;
	if (d->f->stop_loop != NULL)
		netbe_loop_stop(d->f->stop_loop);
}

/* Forwards one batch; returns the frames received, or -errno. */
static int forward_batch(struct fwd_dir *d)
{
	struct fwd *f = d->f;
	int n = netbe_recv_batch(d->from, f->rx_msgs, (int)f->batch);
	unsigned sent;

	if (n <= 0) {
		if (n < 0 && n != -EAGAIN && n != -EINTR)
			recv_failed(d, n);
		return n;
	}
	d->errs_in_row = 0;
	for (int i = 0; i < n; i++)
		f->tx_iov[i].iov_len = f->rx_msgs[i].len;
	sent = send_all(d, n);
	f->c[d->dir].drops += (unsigned)n - sent;
	return n;
}

static void fwd_rx_cb(int fd, int events, void *param)
{
	struct fwd_dir *d = param;

	(void)fd;
	(void)events;
	for (int round = 0; round < FWD_MAX_ROUNDS; round++)
		if (forward_batch(d) < (int)d->f->batch)
			break;
}

/* ---- setup ------------------------------------------------------------- */

static int alloc_buffers(struct fwd *f)
{
	unsigned n = f->batch;

	f->buf = malloc((size_t)n * FWD_BUFSIZE);
	f->rx_iov = calloc(n, sizeof(*f->rx_iov));
	f->tx_iov = calloc(n, sizeof(*f->tx_iov));
	f->rx_msgs = calloc(n, sizeof(*f->rx_msgs));
	f->tx_msgs = calloc(n, sizeof(*f->tx_msgs));
	if (!f->buf || !f->rx_iov || !f->tx_iov || !f->rx_msgs || !f->tx_msgs)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		unsigned char *p = f->buf + (size_t)i * FWD_BUFSIZE;

		f->rx_iov[i] = (struct iovec){ p, FWD_BUFSIZE };
		f->tx_iov[i] = (struct iovec){ p, 0 };
		f->rx_msgs[i] = (struct netbe_msg){ &f->rx_iov[i], 1, 0 };
		f->tx_msgs[i] = (struct netbe_msg){ &f->tx_iov[i], 1, 0 };
	}
	return 0;
}

/* Adds a receiving direction for every queue of end @side. */
static int add_dirs(struct fwd *f, int side)
{
	netbe_t *from = f->end[side];
	unsigned nq = netbe_get_nqueues(from);

	for (unsigned q = 0; q < (nq ? nq : 1); q++) {
		struct fwd_dir *d = &f->dirs[f->ndirs];
		int r;

		*d = (struct fwd_dir){ f, netbe_get_queue(from, q),
				       f->end[!side], side, 0 };
		if (d->from == NULL)
			return -EINVAL;
		r = netbe_set_rx_cb(d->from, fwd_rx_cb, d);
		if (r < 0)
			return r;
		f->ndirs++;
	}
	return 0;
}

static int fwd_init(struct fwd *f)
{
	unsigned nq = netbe_get_nqueues(f->end[0]) +
		      netbe_get_nqueues(f->end[1]) + 2;
	int r = alloc_buffers(f);

	if (r < 0)
		return r;
	f->dirs = calloc(nq, sizeof(*f->dirs));
	if (f->dirs == NULL)
		return -ENOMEM;
	r = add_dirs(f, 0);
	return r < 0 ? r : add_dirs(f, 1);
}

int fwd_new(struct fwd **out, netbe_t *a, netbe_t *b, unsigned batch)
{
	struct fwd *f;
	int r;

	*out = NULL;
	if (a == NULL || b == NULL || batch == 0 || batch > FWD_BATCH_MAX)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->end[0] = a;
	f->end[1] = b;
	f->batch = batch;
	r = fwd_init(f);
	if (r < 0) {
		fwd_free(f);
		return r;
	}
	*out = f;
	return 0;
}

void fwd_set_stop_loop(struct fwd *f, netbe_loop_t *loop)
{
	f->stop_loop = loop;
}

int fwd_failed(const struct fwd *f)
{
	return f->failed;
}

void fwd_start(struct fwd *f)
{
	for (unsigned i = 0; i < f->ndirs; i++)
		netbe_rx_enable(f->dirs[i].from);
	f->started = 1;
}

void fwd_stop(struct fwd *f)
{
	if (!f->started)
		return;
	for (unsigned i = 0; i < f->ndirs; i++)
		netbe_rx_disable(f->dirs[i].from);
	f->started = 0;
}

void fwd_free(struct fwd *f)
{
	if (f == NULL)
		return;
	fwd_stop(f);
	for (unsigned i = 0; i < f->ndirs; i++)
		netbe_set_rx_cb(f->dirs[i].from, cli_noop_rx, NULL);
	free(f->dirs);
	free(f->buf);
	free(f->rx_iov);
	free(f->tx_iov);
	free(f->rx_msgs);
	free(f->tx_msgs);
	free(f);
}

void fwd_get_counters(const struct fwd *f, int dir, struct fwd_counters *c)
{
	*c = f->c[dir != 0];
}

static void print_dir(FILE *out, const struct fwd_counters *c,
		      const char *from, const char *to)
{
	fprintf(out,
		"forward %s -> %s: frames %" PRIu64 " bytes %" PRIu64
		" drops %" PRIu64 " errors %" PRIu64 "\n",
		from, to, c->frames, c->bytes, c->drops, c->errors);
}

void fwd_print_counters(FILE *out, const struct fwd *f, const char *name_a,
			const char *name_b)
{
	print_dir(out, &f->c[0], name_a, name_b);
	print_dir(out, &f->c[1], name_b, name_a);
}
