/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for what a peer sends to the stream backend (QEMU framing:
 * 4-byte big-endian length + frame), the bytes of an untrusted socket.
 *
 * Theory of operation
 *   Input: byte 0 holds flags (bits 0-1 the frontend's header length,
 *   bit 2 "encoded", bit 3 "cut the last record short"), bytes 1-4 seed
 *   a generator that picks split points and receive calls, the rest is
 *   the payload.  Raw inputs send the payload as is; encoded ones read it
 *   as records (a kind byte, then a length of 1, 2 or 4 bytes; see
 *   encode()) so that well-formed streams with large frames are common.
 *
 *   Per input the backend connects (stream,connect=unix:PATH) to a
 *   listener we set up once; we accept, write the stream in pieces split
 *   at a few points (some next to record boundaries, to cut length
 *   fields), and between pieces run the loop and drain the backend with
 *   peek/recv, recv alone, recv_batch, and buffers one byte or more too
 *   small.  An AF_UNIX write lands on the receiver's queue at once, so
 *   after each piece we know exactly which frames must come out: every
 *   complete record written so far, up to the first out-of-range length.
 *   Then we close the peer and drain to the end of the stream.
 *
 *   Checked (abort on violation): every frame is a record the peer sent,
 *   in order, none missing, byte for byte, behind a zero header of the
 *   frontend's length; its length is in [14, NETBE_MAX_FRAME] plus that
 *   header; peek equals the next recv; a too-small buffer gives -ENOSPC
 *   and loses only that frame; counters never go backwards, and at the
 *   end frames/bytes/drops/errors moved by exactly what we saw, drops by
 *   reason: a too-small buffer is one "no-room" drop, a bad length one
 *   "malformed" drop, a record cut short by the close one "peer-gone"
 *   drop; none of these is an error (the backend never failed).
 *   The corpus in corpus_stream/ is replayed by a normal test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netbe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN_FRAME 14
#define HDR_MAX 12
#define STREAM_CAP (1u << 20)	/* bytes of stream per input */
#define MAX_REC (STREAM_CAP / (4 + MIN_FRAME) + 1)
#define MAX_SPLITS 6
#define BATCH 4
#define ROOM (NETBE_MAX_FRAME + HDR_MAX)

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "fuzz_stream: %s:%d: %s\n", __FILE__, \
				__LINE__, #c);                               \
			abort();                                             \
		}                                                            \
	} while (0)

enum tail { TAIL_CLEAN, TAIL_CUT, TAIL_BAD };

/* What the peer sends, and what must come out of it. */
struct plan {
	uint8_t *s;
	size_t len;
	size_t off[MAX_REC]; /* record starts; frame at off + 4 */
	uint32_t flen[MAX_REC];
	size_t nrec;	     /* well-formed complete records */
	enum tail tail;
	size_t good_end;     /* end of the last well-formed record */
};

struct run {
	netbe_t *be;
	const struct plan *pl;
	unsigned fe;	   /* frontend header length */
	uint32_t rng;
	size_t next;	   /* next record to come out */
	uint64_t delivered, bytes, enospc;
	struct netbe_stats last;
	uint64_t drops0[NETBE_DROP_NREASONS]; /* rx drops at the start */
};

static struct {
	netbe_loop_t *loop;
	int lfd;
	char dir[64], path[108];
	uint8_t *buf[BATCH];
	struct plan pl;
} g;

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void nop_cb(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
}

static void cleanup(void)
{
	unlink(g.path);
	rmdir(g.dir);
}

static void setup_once(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(g.dir, sizeof(g.dir), "/tmp/fuzz-stream-XXXXXX");
	CHECK(mkdtemp(g.dir));
	snprintf(g.path, sizeof(g.path), "%s/s", g.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g.path);
	g.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(g.lfd >= 0);
	CHECK(bind(g.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(g.lfd, 4) == 0);
	atexit(cleanup);
	CHECK(netbe_loop_new(&g.loop) == 0);
	for (int i = 0; i < BATCH; i++)
		CHECK((g.buf[i] = malloc(ROOM)));
	CHECK((g.pl.s = malloc(STREAM_CAP)));
}

/* ---- the stream and its oracle ------------------------------------------- */

static uint32_t get_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* One record from the payload at *@i; false when the payload is spent. */
static bool encode_one(struct plan *pl, const uint8_t *d, size_t n,
		       size_t *i, unsigned idx)
{
	static const size_t lbytes[4] = { 1, 2, 1, 4 };
	uint8_t t;
	uint32_t len, v;

	if (*i >= n || n - *i - 1 < lbytes[d[*i] & 3])
		return false;
	t = d[(*i)++];
	v = get_be(d + *i, lbytes[t & 3]);
	*i += lbytes[t & 3];
	len = (t & 3) == 0 ? MIN_FRAME + v
	      : (t & 3) == 1 ? MIN_FRAME + v % 9002
	      : (t & 3) == 2 ? NETBE_MAX_FRAME - v : v;
	if (STREAM_CAP - pl->len < 4 ||
	    (len <= NETBE_MAX_FRAME && STREAM_CAP - pl->len - 4 < len))
		return false;
	v = htonl(len);
	memcpy(pl->s + pl->len, &v, 4);
	pl->len += 4;
	if (len > NETBE_MAX_FRAME)
		return true; /* a bad length: the rest never matters */
	for (uint32_t j = 0; j < len; j++)
		pl->s[pl->len + j] = (uint8_t)((t >> 2) * 7 + j * 13 + idx);
	pl->len += len;
	return true;
}

static void encode(struct plan *pl, const uint8_t *d, size_t n, bool cut,
		   uint32_t *rng)
{
	size_t i = 0;

	for (unsigned idx = 0; encode_one(pl, d, n, &i, idx); idx++)
		;
	if (cut && pl->len)
		pl->len -= 1 + rnd(rng) % (pl->len < 8 ? pl->len : 8);
}

/* Splits the stream into records as the backend must. */
static void oracle(struct plan *pl)
{
	size_t o = 0;

	pl->nrec = 0;
	pl->tail = TAIL_CLEAN;
	while (o < pl->len) {
		uint32_t len;

		if (pl->len - o < 4) {
			pl->tail = TAIL_CUT;
			break;
		}
		len = get_be(pl->s + o, 4);
		if (len < MIN_FRAME || len > NETBE_MAX_FRAME) {
			pl->tail = TAIL_BAD;
			break;
		}
		if (pl->len - o - 4 < len) {
			pl->tail = TAIL_CUT;
			break;
		}
		pl->off[pl->nrec] = o;
		pl->flen[pl->nrec++] = len;
		o += 4 + len;
	}
	pl->good_end = o;
}

/* ---- checks ----------------------------------------------------------- */

static void check_stats(struct run *r)
{
	struct netbe_stats st;

	netbe_get_stats(r->be, &st);
	CHECK(st.rx_frames >= r->last.rx_frames);
	CHECK(st.rx_bytes >= r->last.rx_bytes);
	CHECK(st.rx_drops >= r->last.rx_drops);
	CHECK(st.rx_errors >= r->last.rx_errors);
	CHECK(st.tx_frames == 0 && st.tx_bytes == 0);
	r->last = st;
}

/* Records complete within the first @written bytes, not yet out. */
static bool avail(const struct run *r, size_t written)
{
	const struct plan *pl = r->pl;

	return r->next < pl->nrec &&
	       pl->off[r->next] + 4 + pl->flen[r->next] <= written;
}

static size_t want_len(const struct run *r)
{
	return r->fe + r->pl->flen[r->next];
}

static void check_frame(struct run *r, const uint8_t *b, ssize_t got)
{
	const struct plan *pl = r->pl;
	static const uint8_t zero[HDR_MAX];

	CHECK(got >= (ssize_t)(r->fe + MIN_FRAME));
	CHECK(got <= (ssize_t)(r->fe + NETBE_MAX_FRAME));
	CHECK((size_t)got == want_len(r));
	CHECK(memcmp(b, zero, r->fe) == 0);
	CHECK(memcmp(b + r->fe, pl->s + pl->off[r->next] + 4,
		     pl->flen[r->next]) == 0);
	r->delivered++;
	r->bytes += (uint64_t)got;
	r->next++;
}

/* Cuts the last @room bytes of buffer @b (ROOM long, so ASan sees a
 * write past @room) into 1-3 iovec entries. */
static int cut_iov(struct run *r, uint8_t *b, size_t room, struct iovec *v)
{
	int n = 1 + (int)(rnd(&r->rng) % 3);
	size_t off = 0;

	b += ROOM - room;
	for (int i = 0; i < n - 1; i++) {
		size_t k = room - off ? rnd(&r->rng) % (room - off + 1) : 0;

		v[i] = (struct iovec){ b + off, k };
		off += k;
	}
	v[n - 1] = (struct iovec){ b + off, room - off };
	return n;
}

/* ---- draining ------------------------------------------------------------ */

/* One netbe_recv(), after a peek or not, into a full or short buffer. */
static bool drain_one(struct run *r, size_t written, bool peek)
{
	bool have = avail(r, written);
	bool small = have && rnd(&r->rng) % 8 == 0;
	size_t room = !small ? ROOM
		      : rnd(&r->rng) % 2 ? want_len(r) - 1
					 : rnd(&r->rng) % want_len(r);
	struct iovec v[3];
	int n = cut_iov(r, g.buf[0], room, v);
	ssize_t p = peek ? netbe_peek_recvlen(r->be) : -1, got;

	if (peek)
		CHECK(p == (have ? (ssize_t)want_len(r) : 0));
	got = netbe_recv(r->be, v, n);
	if (!have) {
		CHECK(got == 0);
		return false;
	}
	if (small) {
		CHECK(got == -ENOSPC);
		r->enospc++;
		r->next++;
		return true;
	}
	check_frame(r, v[0].iov_base, got); /* the pieces are contiguous */
	return true;
}

/* netbe_recv_batch() with slots of which some may be too small: a frame
 * that does not fit is dropped and its slot reused. */
static bool drain_batch(struct run *r, size_t written)
{
	struct iovec v[BATCH][3];
	struct netbe_msg m[BATCH];
	size_t room[BATCH], rec[BATCH];
	int n = 1 + (int)(rnd(&r->rng) % BATCH), want = 0, got;
	uint64_t drops = 0;
	size_t k;

	for (int i = 0; i < n; i++) {
		room[i] = rnd(&r->rng) % 4 ? ROOM : rnd(&r->rng) % 2000;
		m[i].iovcnt = cut_iov(r, g.buf[i], room[i], v[i]);
		m[i].iov = v[i];
		m[i].len = 0;
	}
	/* What must happen, decided before the call. */
	for (k = r->next; want < n && k < r->pl->nrec; k++) {
		struct run probe = *r;

		probe.next = k;
		if (!avail(&probe, written))
			break;
		if (want_len(&probe) > room[want])
			drops++;
		else
			rec[want++] = k;
	}
	got = netbe_recv_batch(r->be, m, n);
	CHECK(got == want);
	for (int i = 0; i < got; i++) {
		r->next = rec[i];
		CHECK(m[i].len == want_len(r));
		check_frame(r, v[i][0].iov_base, (ssize_t)m[i].len);
	}
	r->next = k; /* past the dropped ones too */
	r->enospc += drops;
	return got > 0 || drops > 0;
}

static void drain(struct run *r, size_t written)
{
	for (;;) {
		unsigned op = rnd(&r->rng) % 4;
		bool more = op == 3 ? drain_batch(r, written)
				    : drain_one(r, written, op != 2);

		check_stats(r);
		if (!more)
			break;
	}
	CHECK(!avail(r, written));
}

/* ---- one input ------------------------------------------------------------ */

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* A few split points: anywhere, or a few bytes around a record start
 * (so that length fields arrive in pieces). */
static int splits(const struct plan *pl, uint32_t *rng, size_t *at)
{
	int n = (int)(rnd(rng) % (MAX_SPLITS + 1));

	if (!pl->len)
		return 0;
	for (int i = 0; i < n; i++) {
		size_t o = rnd(rng) % pl->len;

		if (pl->nrec && rnd(rng) % 2)
			o = pl->off[rnd(rng) % pl->nrec] + rnd(rng) % 7;
		at[i] = o < pl->len ? o : pl->len;
	}
	qsort(at, (size_t)n, sizeof(*at), cmp_size);
	return n;
}

/* Writes [*@done, @to) as far as the socket takes it, draining between;
 * false once the backend has hung up (after a bad length). */
static bool write_to(struct run *r, int peer, size_t *done, size_t to)
{
	while (*done < to) {
		ssize_t n = send(peer, r->pl->s + *done, to - *done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			CHECK(r->pl->tail == TAIL_BAD);
			return false;
		}
		CHECK(n >= 0 || errno == EAGAIN);
		if (n > 0)
			*done += (size_t)n;
		CHECK(netbe_loop_run_once(g.loop, 0) >= 0);
		drain(r, *done);
	}
	return true;
}

static void feed(struct run *r, int peer)
{
	size_t at[MAX_SPLITS + 1], done = 0;
	int n = splits(r->pl, &r->rng, at);

	at[n++] = r->pl->len;
	for (int i = 0; i < n; i++)
		if (!write_to(r, peer, &done, at[i]))
			break;
	close(peer);
	CHECK(netbe_loop_run_once(g.loop, 0) >= 0);
	drain(r, done);
	/* The end of the stream is seen: nothing more, ever. */
	CHECK(netbe_peek_recvlen(r->be) == 0);
}

static void rx_drops(const struct run *r, uint64_t *d)
{
	CHECK(netbe_get_drops(r->be, NETBE_RX, d, NETBE_DROP_NREASONS) ==
	      NETBE_DROP_NREASONS);
}

/* Each rx drop reason moved by exactly what the stream called for. */
static void check_drops(const struct run *r)
{
	uint64_t d[NETBE_DROP_NREASONS], want[NETBE_DROP_NREASONS] = { 0 };

	want[NETBE_DROP_NOROOM] = r->enospc;
	want[NETBE_DROP_PEER_GONE] = r->pl->tail == TAIL_CUT;
	want[NETBE_DROP_MALFORMED] = r->pl->tail == TAIL_BAD;
	rx_drops(r, d);
	for (int i = 0; i < NETBE_DROP_NREASONS; i++)
		CHECK(d[i] - r->drops0[i] == want[i]);
}

static void check_end(const struct run *r, const struct netbe_stats *s0)
{
	const struct netbe_stats *s = &r->last;
	bool cut = r->pl->tail == TAIL_CUT, bad = r->pl->tail == TAIL_BAD;

	CHECK(r->next == r->pl->nrec);
	CHECK(s->rx_frames - s0->rx_frames == r->delivered);
	CHECK(s->rx_bytes - s0->rx_bytes == r->bytes);
	CHECK(s->rx_drops - s0->rx_drops == r->enospc + cut + bad);
	CHECK(s->rx_errors == s0->rx_errors);
	check_drops(r);
}

static void run_input(struct run *r)
{
	struct netbe_stats s0;
	char spec[160];
	int peer;

	snprintf(spec, sizeof(spec), "stream,connect=unix:%s", g.path);
	CHECK(netbe_open(&r->be, spec, g.loop, nop_cb, NULL) == 0);
	CHECK(netbe_set_cap(r->be, 0, r->fe) == 0);
	netbe_rx_enable(r->be);
	peer = accept(g.lfd, NULL, NULL);
	CHECK(peer >= 0);
	netbe_get_stats(r->be, &s0);
	r->last = s0;
	rx_drops(r, r->drops0);
	feed(r, peer);
	check_stats(r);
	check_end(r, &s0);
	netbe_cleanup(r->be);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned fe[4] = { 0, 10, 12, 0 };
	struct run r = { .pl = &g.pl };
	struct plan *pl = &g.pl;

	if (size < 5)
		return 0;
	if (!g.loop)
		setup_once();
	r.fe = fe[data[0] & 3];
	r.rng = get_be(data + 1, 4) | 1;
	pl->len = 0;
	if (data[0] & 4) {
		encode(pl, data + 5, size - 5, data[0] & 8, &r.rng);
	} else {
		pl->len = size - 5 < STREAM_CAP ? size - 5 : STREAM_CAP;
		memcpy(pl->s, data + 5, pl->len);
	}
	oracle(pl);
	run_input(&r);
	return 0;
}
