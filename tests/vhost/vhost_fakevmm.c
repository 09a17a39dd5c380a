/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_fakevmm - a VMM and guest driver written here, byte by byte from
 * the vhost-user and virtio specs, against netbe's vhost-user backend:
 * the cases a real VMM never produces.
 *
 *   1. Setup as QEMU does it (REPLY_ACK acks checked), then frames both
 *      ways through rings we lay out in a memfd: netbe_send fills our
 *      receive buffers (12-byte header, num_buffers 1, the frame byte for
 *      byte, an interrupt on the call eventfd); frames we put in the
 *      transmit ring (header and frame in separate descriptors, and via
 *      an indirect table) come out of netbe_recv as sent, with the
 *      guest's GSO header passed through.
 *      A batch of 4 chains from the transmit ring: the used index moves
 *      by 4, each chain's used entry holds its head; with
 *      VIRTIO_F_IN_ORDER (the second VMM) the last one's must.
 *      A batch of 40 frames of 14-326 bytes into the receive ring, each
 *      in one piece: every one is in its buffer when the index moves.
 *   1b. A TSO frame from netbe: segmented (checksums done) for a guest
 *      without GUEST_TSO4, whole in two merged buffers for one with it.
 *   1c. A reboot: GET_VRING_BASE stops both rings at the right index,
 *      the rings restart from zero, frames flow again.
 *   2. A frame larger than one receive buffer spans several (MRG_RXBUF):
 *      num_buffers says how many, the bytes are all there.
 *   3. A transmit chain that loops: the ring stops, netbe logs why and
 *      counts a "ring" drop; netbe keeps running.
 *   4. Garbage: an unknown request and one acking features never offered
 *      get failure acks and a log line; a wrong payload size likewise;
 *      then a header with a bad version makes netbe drop the connection.
 *   5. A new VMM on the same socket is served: setup and frames again.
 *   Each time, the memfd (made with MFD_ALLOW_SEALING, left unsealed)
 *   comes back sealed against shrinking: no ftruncate can fault netbe.
 *   6. Live migration (the second VMM): with LOG_ALL, a log from
 *      SET_LOG_BASE and the used rings flagged for logging, the pages of
 *      the receive buffers netbe fills and of both used rings are
 *      marked, the transmit buffers it only reads are not, and with
 *      logging off again nothing is; SEND_RARP makes netbe's next receive
 *      a RARP from the MAC given.
 *
 * Exits 0 on success, 1 on a failure (printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "netbe.h"

#define MEM_SIZE (1 << 20)
#define NUM 64
#define BUF 2048
#define F_VERSION_1 (1ULL << 32)
#define F_PROTOCOL (1ULL << 30)
#define F_INDIRECT (1ULL << 28)
#define F_MRG (1ULL << 15)
#define F_IN_ORDER (1ULL << 35)
#define F_LOG_ALL (1ULL << 26)

#define FAIL(...)                                                            \
	do {                                                                 \
		printf("FAIL: " __VA_ARGS__);                                \
		printf("\n");                                                \
		exit(1);                                                     \
	} while (0)

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* The guest: one memfd, rings at fixed guest-physical offsets. */
static uint8_t *mem;
static int memfd, kick[2], call[2];
static const uint64_t ring_off[2] = { 0x0, 0x8000 }; /* desc; avail
						  +0x1000, used +0x2000 */
static uint16_t avail_idx[2], used_seen[2];
static char sock_path[108];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void log_fn(enum netbe_log_level lvl, const char *msg, void *opaque)
{
	(void)opaque;
	if (lvl > NETBE_LOG_INFO)
		return;
	pthread_mutex_lock(&log_lock);
	strncat(log_text, msg, sizeof(log_text) - strlen(log_text) - 2);
	strcat(log_text, "\n");
	pthread_mutex_unlock(&log_lock);
	fprintf(stderr, "netbe: %s\n", msg);
}

static bool log_has(const char *s)
{
	bool r;

	pthread_mutex_lock(&log_lock);
	r = strstr(log_text, s) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

static void nop_cb(int fd, int events, void *param)
{
	(void)fd, (void)events, (void)param;
}

static struct desc *dtab(int r)
{
	return (struct desc *)(void *)(mem + ring_off[r]);
}

static uint16_t *avail(int r)
{
	return (uint16_t *)(void *)(mem + ring_off[r] + 0x1000);
}

static uint16_t *used(int r)
{
	return (uint16_t *)(void *)(mem + ring_off[r] + 0x2000);
}

static uint32_t *used_elem(int r, unsigned i)
{
	return (uint32_t *)(void *)(mem + ring_off[r] + 0x2004 + 8 * (i % NUM));
}

/* ---- the protocol --------------------------------------------------------- */

static void msg_send(int s, uint32_t req, bool need, const void *p,
		     uint32_t len, const int *fds, int nfds)
{
	uint32_t hdr[3] = { req, 1u | (need ? 8u : 0u), len };
	struct iovec v[2] = { { hdr, 12 }, { (void *)(uintptr_t)p, len } };
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = 2 };

	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)(12 + len))
		FAIL("sendmsg request %u: %s", req, strerror(errno));
}

/* Reads a reply to @req; returns its u64. */
static uint64_t reply(int s, uint32_t req)
{
	uint32_t hdr[3];
	uint64_t v = 0;
	struct pollfd p = { s, POLLIN, 0 };

	if (poll(&p, 1, 5000) != 1 || recv(s, hdr, 12, MSG_WAITALL) != 12)
		FAIL("no reply to request %u", req);
	if (hdr[0] != req || !(hdr[1] & 4) || hdr[2] != 8 ||
	    recv(s, &v, 8, MSG_WAITALL) != 8)
		FAIL("bad reply to request %u: %u %#x %u", req, hdr[0],
		     hdr[1], hdr[2]);
	return v;
}

static void msg_u64(int s, uint32_t req, uint64_t v, const int *fds,
		    int nfds, bool ack)
{
	msg_send(s, req, ack, &v, 8, fds, nfds);
	if (ack && reply(s, req) != 0)
		FAIL("request %u (%#llx) not acknowledged", req,
		     (unsigned long long)v);
}

static void msg_state(int s, uint32_t req, uint32_t i, uint32_t n)
{
	uint32_t st[2] = { i, n };

	msg_send(s, req, true, st, 8, NULL, 0);
	if (reply(s, req) != 0)
		FAIL("request %u ring %u not acknowledged", req, i);
}

static int vmm_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	for (int i = 0; i < 200; i++) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		usleep(10000);
	}
	FAIL("connect %s: %s", sock_path, strerror(errno));
}

static void ring_setup(int s, int r)
{
	uint64_t base = (uint64_t)(uintptr_t)mem + ring_off[r];
	struct { uint32_t i, flags; uint64_t d, u, a, l; } ad = {
		(uint32_t)r, 0, base, base + 0x2000, base + 0x1000, 0 };

	memset(mem + ring_off[r], 0, 0x3000);
	avail_idx[r] = used_seen[r] = 0;
	msg_state(s, 8, (uint32_t)r, NUM);
	msg_state(s, 10, (uint32_t)r, 0);
	msg_send(s, 9, true, &ad, sizeof(ad), NULL, 0);
	if (reply(s, 9) != 0)
		FAIL("SET_VRING_ADDR %d", r);
	msg_u64(s, 12, (uint64_t)r, &kick[r], 1, true);
	msg_u64(s, 13, (uint64_t)r, &call[r], 1, true);
	msg_state(s, 18, (uint32_t)r, 1);
}

static uint64_t acked; /* the features the VMM acked */
static bool guest_tso; /* the guest accepts GUEST_CSUM|GUEST_TSO4, and
			  uses its rings in order (VIRTIO_F_IN_ORDER) */

static void vmm_setup(int s)
{
	struct { uint32_t n, pad; uint64_t gpa, size, uva, off; } mt = {
		1, 0, 0, MEM_SIZE, (uint64_t)(uintptr_t)mem, 0 };
	uint64_t f;

	msg_send(s, 3, false, NULL, 0, NULL, 0);
	msg_send(s, 1, false, NULL, 0, NULL, 0);
	f = reply(s, 1);
	if (!(f & F_VERSION_1) || !(f & F_PROTOCOL) || !(f & F_MRG) ||
	    !(f & F_INDIRECT))
		FAIL("features %#llx lack VERSION_1/PROTOCOL/MRG/INDIRECT",
		     (unsigned long long)f);
	if (!(f & F_IN_ORDER))
		FAIL("features %#llx lack IN_ORDER", (unsigned long long)f);
	msg_send(s, 15, false, NULL, 0, NULL, 0);
	if ((reply(s, 15) & 15) != 15)
		FAIL("protocol features lack MQ, LOG_SHMFD, RARP or "
		     "REPLY_ACK");
	msg_u64(s, 16, 15, NULL, 0, false);
	acked = F_VERSION_1 | F_PROTOCOL | F_MRG | F_INDIRECT | NETBE_F_CSUM |
		NETBE_F_HOST_TSO4 |
		(guest_tso ? NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 |
				     F_IN_ORDER : 0);
	if (!(f & F_LOG_ALL))
		FAIL("features %#llx lack LOG_ALL", (unsigned long long)f);
	msg_u64(s, 2, acked, NULL, 0, true);
	msg_send(s, 5, true, &mt, sizeof(mt), &memfd, 1);
	if (reply(s, 5) != 0)
		FAIL("SET_MEM_TABLE not acknowledged");
	/* Our memfd allows sealing and we left it unsealed: netbe seals it
	 * against shrinking, so no shrink can fault netbe. */
	if (!(fcntl(memfd, F_GET_SEALS) & F_SEAL_SHRINK))
		FAIL("netbe did not seal the memory table's memfd");
	if (ftruncate(memfd, MEM_SIZE / 2) == 0 || errno != EPERM)
		FAIL("the memfd could be shrunk under netbe");
	ring_setup(s, 0);
	ring_setup(s, 1);
}

/* ---- the guest driver ------------------------------------------------------- */

static void publish(int r, uint16_t head)
{
	avail(r)[2 + avail_idx[r] % NUM] = head;
	avail_idx[r]++;
	__atomic_store_n(&avail(r)[1], avail_idx[r], __ATOMIC_RELEASE);
}

/* Posts @n receive buffers of @len bytes. */
static void rx_post(unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned d = avail_idx[0] % NUM;

		dtab(0)[d] = (struct desc){ 0x10000 + (uint64_t)d * BUF, len,
					    2, 0 };
		publish(0, (uint16_t)d);
	}
}

static void make_frame(uint8_t *f, size_t len, unsigned seq)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\0\0\0\0\x07", 6);
	f[12] = 0x88, f[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq + i);
}

static uint16_t used_idx(int r)
{
	return __atomic_load_n(&used(r)[1], __ATOMIC_ACQUIRE);
}

/* netbe -> guest: @n frames of @len, each in @nb buffers. */
static void check_rx(netbe_t *be, unsigned n, size_t len, unsigned nb)
{
	uint8_t f[8192], got[8192];
	uint64_t v;

	for (unsigned k = 0; k < n; k++) {
		uint8_t zero[12] = { 0 };
		struct iovec io[2] = { { zero, 12 }, { f, len } };
		size_t off = 0;
		uint16_t nbuf;
		ssize_t r;

		make_frame(f, len, k);
		if ((r = netbe_send(be, io, 2)) != (ssize_t)(12 + len))
			FAIL("netbe_send %u: %zd %s", k, r, netbe_last_error());
		if ((uint16_t)(used_idx(0) - used_seen[0]) != nb)
			FAIL("frame %u: used index moved by %u, want %u", k,
			     (uint16_t)(used_idx(0) - used_seen[0]), nb);
		for (unsigned b = 0; b < nb; b++) {
			uint32_t *e = used_elem(0, used_seen[0]++);

			memcpy(got + off, mem + 0x10000 + (size_t)e[0] * BUF,
			       e[1]);
			off += e[1];
		}
		memcpy(&nbuf, got + 10, 2);
		if (off != 12 + len || nbuf != nb || memcmp(got + 12, f, len))
			FAIL("frame %u into the guest: %zu bytes, "
			     "num_buffers %u", k, off, nbuf);
	}
	if (read(call[0], &v, 8) != 8)
		FAIL("no interrupt on the receive ring's call fd");
}

/* netbe -> guest: one batch of 40 frames of one piece each, 14 to 326
 * bytes: netbe queues the copies of the small ones (up to 256 bytes,
 * 32 at a time) and makes them before it publishes the used index.
 * Every frame must be in its buffer, byte for byte, when it is. */
static void check_rx_batch(netbe_t *be)
{
	enum { N = 40, ROOM = 12 + 14 + 8 * (N - 1) };
	static uint8_t f[N][ROOM], got[BUF];
	struct netbe_msg msgs[N];
	struct iovec io[N];
	uint64_t v;
	int r;

	for (unsigned k = 0; k < N; k++) {
		memset(f[k], 0, 12);
		make_frame(f[k] + 12, 14 + 8 * k, 100 + k);
		io[k] = (struct iovec){ f[k], 12 + 14 + 8 * k };
		msgs[k] = (struct netbe_msg){ .iov = &io[k], .iovcnt = 1 };
	}
	if ((r = netbe_send_batch(be, msgs, N)) != N)
		FAIL("netbe_send_batch of %d small frames: %d %s", N, r,
		     netbe_last_error());
	if ((uint16_t)(used_idx(0) - used_seen[0]) != N)
		FAIL("small frames: used index moved by %u, want %d",
		     (uint16_t)(used_idx(0) - used_seen[0]), N);
	for (unsigned k = 0; k < N; k++) {
		uint32_t *e = used_elem(0, used_seen[0]++);

		memcpy(got, mem + 0x10000 + (size_t)e[0] * BUF, e[1]);
		if (e[1] != io[k].iov_len || got[10] != 1 || got[11] ||
		    memcmp(got + 12, f[k] + 12, e[1] - 12))
			FAIL("small frame %u (%zu bytes) not in its buffer as "
			     "sent", k, io[k].iov_len - 12);
	}
	if (read(call[0], &v, 8) != 8)
		FAIL("no interrupt for the batch of small frames");
	rx_post(N, BUF);
}

/* guest -> netbe: @n frames, header and frame in two descriptors, every
 * other one through an indirect table; the header asks for TSO. */
static void check_tx(netbe_t *be, unsigned n)
{
	/* num_buffers is the guest's garbage: netbe must zero it. */
	struct netbe_vnet_hdr h = { .num_buffers = 0x5555 };
	uint8_t f[1500], got[2048];

	for (unsigned k = 0; k < n; k++) {
		unsigned d = (2 * avail_idx[1]) % NUM;
		uint64_t hb = 0x80000 + (uint64_t)d * BUF;
		struct desc *t = dtab(1);
		struct iovec io = { got, sizeof(got) };
		ssize_t r = 0;

		make_frame(f, 600 + k, k);
		h.num_buffers = 0x5555;
		memcpy(mem + hb, &h, 12);
		memcpy(mem + hb + 64, f, 600 + k);
		if (k & 1) { /* indirect: the table sits in the buffer */
			struct desc *it = (struct desc *)(void *)(mem + hb +
								  1024);
			it[0] = (struct desc){ hb, 12, 1, 1 };
			it[1] = (struct desc){ hb + 64, 600 + k, 0, 0 };
			t[d] = (struct desc){ hb + 1024, 32, 4, 0 };
		} else {
			t[d] = (struct desc){ hb, 12, 1, (uint16_t)(d + 1) };
			t[d + 1] = (struct desc){ hb + 64, 600 + k, 0, 0 };
		}
		publish(1, (uint16_t)d);
		eventfd_write(kick[1], 1);
		for (int i = 0; i < 2000 && r == 0; i++) {
			r = netbe_recv(be, &io, 1);
			if (r == 0)
				usleep(500);
		}
		h.num_buffers = 0;
		if (r != 612 + (ssize_t)k || memcmp(got, &h, 12) ||
		    memcmp(got + 12, f, (size_t)r - 12))
			FAIL("frame %u from the guest: recv %zd", k, r);
	}
	if ((uint16_t)(used_idx(1) - used_seen[1]) != n)
		FAIL("transmit used index moved by %u, want %u",
		     (uint16_t)(used_idx(1) - used_seen[1]), n);
	used_seen[1] += (uint16_t)n;
}

/* A batch that takes exactly the chains there are must turn the
 * guest's kicks back on before it returns (they are off while netbe
 * reads): else the guest never kicks again and its next frame waits
 * forever.  (Found with a QEMU guest: iperf3's last message stuck.) */
static void check_batch_rearm(netbe_t *be)
{
	static uint8_t got[4][2048];
	struct netbe_vnet_hdr h = { 0 };
	struct iovec io[4];
	struct netbe_msg m[4];
	uint8_t f[700];
	uint16_t heads[4];
	int r = 0;

	for (unsigned k = 0; k < 4; k++) {
		unsigned d = (2 * avail_idx[1]) % NUM;
		uint64_t hb = 0x80000 + (uint64_t)d * BUF;

		used_elem(1, used_seen[1] + k)[0] = 0xffff; /* not written */
		heads[k] = (uint16_t)d;
		make_frame(f, 700, k);
		memcpy(mem + hb, &h, 12);
		memcpy(mem + hb + 64, f, 700);
		dtab(1)[d] = (struct desc){ hb, 12, 1, (uint16_t)(d + 1) };
		dtab(1)[d + 1] = (struct desc){ hb + 64, 700, 0, 0 };
		publish(1, (uint16_t)d);
		io[k] = (struct iovec){ got[k], sizeof(got[k]) };
		m[k] = (struct netbe_msg){ &io[k], 1, 0 };
	}
	for (int i = 0; i < 2000 && r == 0; i++)
		if ((r = netbe_recv_batch(be, m, 4)) == 0)
			usleep(500);
	if (r != 4)
		FAIL("batch of the last 4 chains: %d", r);
	if (__atomic_load_n(&used(1)[0], __ATOMIC_ACQUIRE) & 1)
		FAIL("kicks left off (VRING_USED_F_NO_NOTIFY) after a batch "
		     "took the last chain");
	if ((uint16_t)(used_idx(1) - used_seen[1]) != 4)
		FAIL("batch: used index moved by %u, want 4",
		     (uint16_t)(used_idx(1) - used_seen[1]));
	/* The last chain's entry is always written; the others only when
	 * not in order (virtio 1.1, 2.6.9: in order, one entry may stand
	 * for a batch; the core reads this handle one frame at a time, so
	 * each is a batch here). */
	for (unsigned k = 0; k < 4; k++) {
		uint32_t id = used_elem(1, used_seen[1] + k)[0];

		if ((k == 3 || !guest_tso) && id != heads[k])
			FAIL("batch: used entry %u is %#x, want head %u (%s "
			     "order)", k, id, heads[k],
			     guest_tso ? "in" : "not in");
	}
	used_seen[1] += 4;
}

/* A 3054-byte IPv4/TCP frame with a TSO header (MSS 1000): whole into
 * a guest that accepts GUEST_TSO4 (two merged buffers, the header kept),
 * else cut by netbe into three frames with their checksums done. */
/* ---- live migration: the dirty log and SEND_RARP ---------------------------- */

#define LOG_OFF 64 /* the bitmap's offset in its file */

static bool dirty(const uint8_t *bm, uint64_t gpa)
{
	return bm[gpa / 4096 / 8] & (1u << (gpa / 4096 % 8));
}

/* SET_VRING_ADDR again, as QEMU does when a migration starts and ends:
 * the used ring logged at its guest-physical address, or not. */
static void ring_log(int s, int r, bool on)
{
	uint64_t base = (uint64_t)(uintptr_t)mem + ring_off[r];
	struct { uint32_t i, flags; uint64_t d, u, a, l; } ad = {
		(uint32_t)r, on, base, base + 0x2000, base + 0x1000,
		ring_off[r] + 0x2000 };

	msg_send(s, 9, true, &ad, sizeof(ad), NULL, 0);
	if (reply(s, 9) != 0)
		FAIL("SET_VRING_ADDR %d with the log flag", r);
}

/* The VMM starts logging: LOG_ALL, a 32-byte bitmap for our 256 pages
 * at offset 64 of a memfd, the used rings logged. */
static uint8_t *log_start(int s)
{
	uint64_t lb[2] = { MEM_SIZE / 4096 / 8, LOG_OFF };
	int fd = memfd_create("log", MFD_CLOEXEC);
	uint8_t *bm;

	if (fd < 0 || ftruncate(fd, 4096) < 0)
		FAIL("log memfd");
	bm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bm == MAP_FAILED)
		FAIL("log mmap");
	msg_u64(s, 2, acked | F_LOG_ALL, NULL, 0, true);
	msg_send(s, 6, false, lb, sizeof(lb), &fd, 1);
	if (reply(s, 6) != 0)
		FAIL("SET_LOG_BASE not acknowledged");
	/* made without MFD_ALLOW_SEALING: netbe cannot seal it, and says so */
	if (!log_has("the dirty log is not a sealable memfd"))
		FAIL("an unsealable dirty log was not logged");
	close(fd);
	ring_log(s, 0, true);
	ring_log(s, 1, true);
	return bm + LOG_OFF;
}

/* Two receive chains of two buffers each (descriptors 8-11, in order
 * after rx_post's 0-7), header and frame on pages of their own (0x30000
 * / 0x31000, 0x32000 / 0x33000): netbe fills both (a frame in two
 * pieces, then one in one piece), and all four pages must be marked -
 * the frame's, not only the header's. */
static void check_split_log(netbe_t *be, const uint8_t *bm)
{
	uint8_t f[12 + 1000] = { 0 };
	struct iovec two[2] = { { f, 12 }, { f + 12, 1000 } };
	struct iovec one = { f, sizeof(f) };

	for (unsigned c = 0; c < 2; c++) {
		uint64_t a = 0x30000 + 0x2000 * (uint64_t)c;
		unsigned d = 8 + 2 * c;

		dtab(0)[d] = (struct desc){ a, 12, 3, (uint16_t)(d + 1) };
		dtab(0)[d + 1] = (struct desc){ a + 0x1000, 2000, 2, 0 };
		publish(0, (uint16_t)d);
	}
	make_frame(f + 12, 1000, 1);
	if (netbe_send(be, two, 2) != (ssize_t)sizeof(f) ||
	    netbe_send(be, &one, 1) != (ssize_t)sizeof(f))
		FAIL("netbe_send into split chains: %s", netbe_last_error());
	used_seen[0] = used_idx(0);
	for (uint64_t a = 0x30000; a < 0x34000; a += 0x1000)
		if (!dirty(bm, a))
			FAIL("page %#llx of a split chain written, not logged",
			     (unsigned long long)a);
}

/* Frames into receive buffers: @n in two pieces (check_rx), @n in one. */
static void rx_both(netbe_t *be, unsigned n)
{
	check_rx(be, n, 1000, 1);
	for (unsigned k = 0; k < n; k++) {
		uint8_t f[12 + 1000] = { 0 };
		struct iovec one = { f, sizeof(f) };

		make_frame(f + 12, 1000, k);
		if (netbe_send(be, &one, 1) != (ssize_t)sizeof(f))
			FAIL("netbe_send of one piece: %s", netbe_last_error());
	}
	used_seen[0] = used_idx(0);
}

/* While logging, every page netbe writes is marked: the receive
 * buffers it filled and both used rings; the transmit buffers it only
 * read are not.  Logging off, nothing is.  Then SEND_RARP: netbe's next
 * receive is a RARP from the MAC given.  The receive ring starts afresh,
 * so descriptors go in order (IN_ORDER is negotiated). */
static void check_log(int s, netbe_t *be)
{
	uint8_t *bm, got[128];
	struct iovec io = { got, sizeof(got) };
	uint64_t mac = 0x420000000002ULL; /* 02:00:00:00:00:42 */
	ssize_t r = 0;

	memset(mem + ring_off[0], 0, 0x3000);
	ring_setup(s, 0);
	bm = log_start(s);
	memset(bm, 0, MEM_SIZE / 4096 / 8);
	rx_post(8, BUF);
	rx_both(be, 4);
	for (uint16_t i = 0; i != used_seen[0]; i++)
		if (!dirty(bm, 0x10000 + (uint64_t)used_elem(0, i)[0] * BUF))
			FAIL("receive buffer %u written, not logged",
			     used_elem(0, i)[0]);
	check_split_log(be, bm);
	check_tx(be, 2);
	if (!dirty(bm, ring_off[0] + 0x2000) || !dirty(bm, ring_off[1] + 0x2000))
		FAIL("a used ring written, not logged");
	for (uint64_t a = 0x80000; a < 0x80000 + NUM * BUF; a += 4096)
		if (dirty(bm, a))
			FAIL("transmit buffer page %#llx only read, logged",
			     (unsigned long long)a);
	msg_u64(s, 2, acked, NULL, 0, true);
	ring_log(s, 0, false);
	ring_log(s, 1, false);
	memset(bm, 0, MEM_SIZE / 4096 / 8);
	dtab(0)[12] = (struct desc){ 0x10000 + 12 * BUF, BUF, 2, 0 };
	publish(0, 12);
	check_rx(be, 1, 1000, 1);
	for (unsigned i = 0; i < MEM_SIZE / 4096 / 8; i++)
		if (bm[i])
			FAIL("pages logged with logging off");
	msg_u64(s, 19, mac, NULL, 0, true);
	for (int i = 0; i < 2000 && r == 0; i++)
		if ((r = netbe_recv(be, &io, 1)) == 0)
			usleep(500);
	if (r != 72 || got[12] != 0xff || memcmp(got + 18, &mac, 6) ||
	    got[24] != 0x80 || got[25] != 0x35 || got[33] != 3 ||
	    memcmp(got + 34, &mac, 6) || memcmp(got + 44, &mac, 6))
		FAIL("no RARP from 02:00:00:00:00:42 after SEND_RARP (%zd)", r);
}

static void check_gso(netbe_t *be, bool whole)
{
	uint8_t f[3054], got[4096];
	struct netbe_vnet_hdr h = { NETBE_VNET_HDR_F_NEEDS_CSUM,
				    NETBE_VNET_HDR_GSO_TCPV4, 54, 1000, 34,
				    16, 0 };
	struct iovec io[2] = { { &h, 12 }, { f, sizeof(f) } };
	unsigned nframes = whole ? 1 : 3;

	make_frame(f, sizeof(f), 9);
	f[12] = 0x08, f[13] = 0x00;
	memset(f + 14, 0, 40);
	f[14] = 0x45, f[16] = (3040 >> 8), f[17] = 3040 & 0xff;
	f[22] = 64, f[23] = 6;			    /* ttl, TCP */
	memcpy(f + 26, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
	f[34] = 0x30, f[35] = 0x39, f[36] = 0, f[37] = 80; /* ports */
	f[46] = 0x50, f[47] = 0x18;			   /* doff 5, PSH ACK */
	if (netbe_send(be, io, 2) != 12 + (ssize_t)sizeof(f))
		FAIL("GSO send: %s", netbe_last_error());
	for (unsigned k = 0; k < nframes; k++) {
		size_t off = 0;
		uint16_t nb;
		struct netbe_vnet_hdr gh;

		memcpy(&nb, mem + 0x10000 + (size_t)used_elem(0,
			used_seen[0])[0] * BUF + 10, 2);
		for (unsigned b = 0; b < nb; b++) {
			uint32_t *e = used_elem(0, used_seen[0]++);

			memcpy(got + off, mem + 0x10000 + (size_t)e[0] * BUF,
			       e[1]);
			off += e[1];
		}
		memcpy(&gh, got, 12);
		if (whole && (off != 12 + sizeof(f) || gh.gso_type != 1 ||
			      gh.gso_size != 1000 || nb != 2 ||
			      memcmp(got + 12 + 54, f + 54, 3000)))
			FAIL("GSO frame not whole: %zu bytes, gso %u, %u "
			     "buffers", off, gh.gso_type, nb);
		if (!whole && (off != 12 + 1054 || gh.gso_type || nb != 1 ||
			       memcmp(got + 12 + 54, f + 54 + 1000 * k,
				      1000)))
			FAIL("segment %u: %zu bytes, gso %u, %u buffers", k,
			     off, gh.gso_type, nb);
	}
	if (used_idx(0) != used_seen[0])
		FAIL("GSO frame: %u more buffers used than expected",
		     (uint16_t)(used_idx(0) - used_seen[0]));
}

/* A guest reboot as QEMU does it: GET_VRING_BASE stops each ring and
 * says where it stopped; the rings come back zeroed, from index 0. */
static void check_reboot(int s, netbe_t *be)
{
	for (uint32_t r = 0; r < 2; r++) {
		uint32_t st[2] = { r, 0 };
		uint64_t v;

		msg_send(s, 11, false, st, 8, NULL, 0);
		v = reply(s, 11);
		if ((uint32_t)v != r || (uint16_t)(v >> 32) != used_seen[r])
			FAIL("GET_VRING_BASE %u: %u, want %u", r,
			     (unsigned)(v >> 32), used_seen[r]);
	}
	ring_setup(s, 0);
	ring_setup(s, 1);
	rx_post(NUM, BUF);
	check_rx(be, 5, 800, 1);
	check_tx(be, 5);
}

static void check_loop_chain(netbe_t *be)
{
	uint64_t drops[NETBE_DROP_NREASONS] = { 0 };
	uint8_t got[2048];
	struct iovec io = { got, sizeof(got) };
	unsigned d = (2 * avail_idx[1]) % NUM;

	dtab(1)[d] = (struct desc){ 0x80000, 12, 1, (uint16_t)d }; /* loop */
	publish(1, (uint16_t)d);
	eventfd_write(kick[1], 1);
	if (netbe_recv(be, &io, 1) != 0)
		FAIL("a looping chain gave a frame");
	netbe_get_drops(be, NETBE_RX, drops, NETBE_DROP_NREASONS);
	if (drops[NETBE_DROP_RING] != 1 || !log_has("loops"))
		FAIL("looping chain: %llu ring drops, log:\n%s",
		     (unsigned long long)drops[NETBE_DROP_RING], log_text);
}

static void check_garbage(int s)
{
	uint64_t bad = 1ULL << 63;

	msg_send(s, 99, true, "abcd", 4, NULL, 0);
	if (reply(s, 99) == 0)
		FAIL("unknown request acknowledged as done");
	msg_send(s, 2, true, &bad, 8, NULL, 0);
	if (reply(s, 2) == 0)
		FAIL("features never offered accepted");
	msg_send(s, 8, true, &bad, 4, NULL, 0);
	if (reply(s, 8) == 0)
		FAIL("SET_VRING_NUM with 4 bytes accepted");
	if (!log_has("unknown request") || !log_has("not offered"))
		FAIL("refusals not logged:\n%s", log_text);
	{
		uint32_t hdr[3] = { 1, 0x2, 0 }; /* version 2 */
		char c;
		struct pollfd p = { s, POLLIN, 0 };

		if (send(s, hdr, 12, MSG_NOSIGNAL) != 12 ||
		    poll(&p, 1, 5000) != 1 || recv(s, &c, 1, 0) != 0)
			FAIL("a bad header did not end the connection");
	}
}

static void *loop_main(void *arg)
{
	netbe_loop_run(arg);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/nbvf.XXXXXX", spec[160];
	netbe_loop_t *loop;
	pthread_t th;
	netbe_t *be;
	int s;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/v.sock", dir);
	netbe_set_log_fn(log_fn, NETBE_LOG_INFO, NULL);
	memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0)
		return 1;
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		   0);
	for (int r = 0; r < 2; r++) {
		kick[r] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		call[r] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	if (netbe_loop_new(&loop) < 0)
		return 1;
	snprintf(spec, sizeof(spec), "vhost-user,path=%s", sock_path);
	if (netbe_open(&be, spec, loop, nop_cb, NULL) < 0)
		FAIL("open: %s", netbe_last_error());
	if (netbe_set_cap(be, NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4 |
			      NETBE_F_CSUM | NETBE_F_HOST_TSO4, 12) < 0)
		FAIL("set_cap: %s", netbe_last_error());
	pthread_create(&th, NULL, loop_main, loop);

	for (int gen = 0; gen < 2; gen++) {
		guest_tso = gen == 1;
		s = vmm_connect();
		vmm_setup(s);
		rx_post(NUM, BUF);
		check_rx(be, 20, 1000, 1);
		check_tx(be, 20);
		printf("VMM %d: 20 frames each way\n", gen);
		check_rx_batch(be);
		printf("VMM %d: a batch of 40 small frames, each in its "
		       "buffer when published\n", gen);
		check_batch_rearm(be);
		printf("VMM %d: kicks back on after a batch took the last "
		       "chain\n", gen);
		check_gso(be, guest_tso);
		printf("VMM %d: a TSO frame %s\n", gen,
		       guest_tso ? "whole (GUEST_TSO4)" : "segmented by netbe");
		if (gen == 1) {
			check_log(s, be);
			printf("VMM 1: the dirty log marks what netbe wrote, "
			       "nothing else; SEND_RARP: a RARP\n");
			break;
		}
		check_reboot(s, be);
		printf("reboot: rings stopped at their bases, restarted\n");
		/* 3000 bytes in 1024-byte buffers: three of them. */
		memset(mem + ring_off[0], 0, 0x3000);
		ring_setup(s, 0);
		rx_post(NUM, 1024);
		check_rx(be, 5, 3000, 3);
		printf("MRG_RXBUF: a 3000-byte frame in 3 buffers\n");
		check_loop_chain(be);
		printf("looping chain: ring stopped, logged, counted\n");
		check_garbage(s);
		printf("garbage: refused, logged; bad header: dropped\n");
		close(s);
	}
	close(s);
	netbe_loop_stop(loop);
	pthread_join(th, NULL);
	netbe_cleanup(be);
	netbe_loop_free(loop);
	rmdir(dir);
	printf("PASS\n");
	return 0;
}
