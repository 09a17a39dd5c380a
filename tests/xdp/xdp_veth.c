/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xdp_veth - moves frames between the xdp backend on one end of a veth
 * pair and the kernel's own packet socket on the other end, both ways,
 * and checks that every frame arrives byte-identical.
 *
 *   usage: xdp_veth SPEC PEER_IFNAME CHECK...
 *     basic   one frame and a batch of 32, each way (sizes 60..1514)
 *     large   5000- and 9000-byte frames each way (AF_XDP multi-buffer;
 *             both ends need MTU 9000)
 *     refuse  a 5000-byte frame is refused on send (-EMSGSIZE, counted)
 *             and one from the peer is dropped and counted on receive
 *             (open SPEC with multibuf=off)
 *
 * Run inside a private network namespace (xdp_veth.sh makes one).  The
 * peer is an AF_PACKET socket on PEER_IFNAME: the kernel, not this
 * library, is the other side.  Frames use the local experimental
 * EtherType 0x88b5 so the interfaces' own traffic is ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netbe.h"

#define ETYPE 0x88b5
#define BATCH 32
#define BIG 9100
#define WAIT_MS 3000

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

static void noop_rx(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

/* A frame of @len bytes whose payload depends on @seed. */
static void make_frame(unsigned char *f, size_t len, unsigned seed)
{
	static const unsigned char dst[6] = { 0xff, 0xff, 0xff, 0xff, 0xff,
					      0xff };
	static const unsigned char src[6] = { 0x02, 0, 0x5e, 0x10, 0, 1 };

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

static int peer_open(const char *ifname, int *ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	*ifindex = (int)if_nametoindex(ifname);
	sll.sll_ifindex = *ifindex;
	if (fd < 0 || *ifindex == 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("peer socket");
		exit(1);
	}
	return fd;
}

static void peer_send(int fd, int ifindex, const unsigned char *f, size_t len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_ifindex = ifindex, .sll_halen = 6 };
	ssize_t r;

	memcpy(sll.sll_addr, f, 6);
	r = sendto(fd, f, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	CHECK(r == (ssize_t)len, "peer send of %zu bytes: %zd (%s)", len, r,
	      strerror(errno));
}

/* Next test frame arriving at the peer; its length, or -1 on timeout. */
static ssize_t peer_recv(int fd, unsigned char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, WAIT_MS) == 1) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		ssize_t n = recvfrom(fd, buf, len, MSG_TRUNC,
				     (struct sockaddr *)&sll, &sl);

		if (n >= 14 && sll.sll_pkttype != PACKET_OUTGOING &&
		    buf[12] == (ETYPE >> 8) && buf[13] == (ETYPE & 0xff))
			return n;
	}
	return -1;
}

static void peer_expect(int fd, size_t len, unsigned seed, const char *what)
{
	static unsigned char want[BIG], got[BIG + 100];
	ssize_t n = peer_recv(fd, got, sizeof(got));

	make_frame(want, len, seed);
	CHECK(n == (ssize_t)len, "%s: peer got %zd bytes, want %zu", what, n,
	      len);
	CHECK(n != (ssize_t)len || memcmp(want, got, len) == 0,
	      "%s: %zu bytes differ at the peer", what, len);
}

static int wait_readable(netbe_t *be)
{
	struct pollfd pfd = { .fd = netbe_get_fd(be), .events = POLLIN };

	return poll(&pfd, 1, WAIT_MS) == 1;
}

/* Next test frame from the backend (others are dropped), or -1. */
static ssize_t be_recv(netbe_t *be, unsigned char *buf, size_t len)
{
	while (wait_readable(be)) {
		struct iovec iov = { buf, len };
		ssize_t n = netbe_recv(be, &iov, 1);

		if (n >= 14 && buf[12] == (ETYPE >> 8) &&
		    buf[13] == (ETYPE & 0xff))
			return n;
		if (n < 0)
			return n;
	}
	return -1;
}

static void be_expect(netbe_t *be, size_t len, unsigned seed, bool peek,
		      const char *what)
{
	static unsigned char want[BIG], got[BIG + 100];
	ssize_t n;

	if (peek) {
		CHECK(wait_readable(be), "%s: nothing arrived", what);
		n = netbe_peek_recvlen(be);
		CHECK(n == (ssize_t)len, "%s: peek says %zd, want %zu", what, n,
		      len);
	}
	n = be_recv(be, got, sizeof(got));
	make_frame(want, len, seed);
	CHECK(n == (ssize_t)len, "%s: backend got %zd bytes, want %zu", what,
	      n, len);
	CHECK(n != (ssize_t)len || memcmp(want, got, len) == 0,
	      "%s: %zu bytes differ at the backend", what, len);
}

static size_t batch_len(int i)
{
	static const size_t lens[] = { 60, 64, 128, 333, 1000, 1514 };

	return lens[i % 6];
}

static void tx_single(netbe_t *be, int pfd, size_t len, unsigned seed)
{
	static unsigned char f[BIG];
	struct iovec iov[2] = { { f, 20 }, { f + 20, len - 20 } };
	ssize_t r;

	make_frame(f, len, seed);
	r = netbe_send(be, iov, 2);
	CHECK(r == (ssize_t)len, "send of %zu bytes: %zd (%s)", len, r,
	      netbe_last_error());
	peer_expect(pfd, len, seed, "tx single");
}

static void tx_batch(netbe_t *be, int pfd)
{
	static unsigned char f[BATCH][1514];
	struct iovec iov[BATCH];
	struct netbe_msg m[BATCH];
	int done = 0;

	for (int i = 0; i < BATCH; i++) {
		make_frame(f[i], batch_len(i), 100 + (unsigned)i);
		iov[i] = (struct iovec){ f[i], batch_len(i) };
		m[i] = (struct netbe_msg){ .iov = &iov[i], .iovcnt = 1 };
	}
	for (int tries = 0; done < BATCH && tries < 100; tries++) {
		int r = netbe_send_batch(be, m + done, BATCH - done);

		if (r > 0)
			done += r;
		else
			usleep(1000);
	}
	CHECK(done == BATCH, "send_batch took %d of %d", done, BATCH);
	for (int i = 0; i < BATCH; i++)
		peer_expect(pfd, batch_len(i), 100 + (unsigned)i, "tx batch");
}

/* Checks a received batch frame against the next expected one. */
static void rx_batch_check(const unsigned char *got, size_t len, int i)
{
	static unsigned char f[1514];

	make_frame(f, batch_len(i), 200 + (unsigned)i);
	CHECK(len == batch_len(i) && memcmp(f, got, len) == 0,
	      "rx batch frame %d: %zu bytes, want %zu, or differs", i, len,
	      batch_len(i));
}

static void rx_batch(netbe_t *be, int pfd, int ifindex)
{
	static unsigned char f[1514], got[BATCH][2048];
	struct iovec iov[BATCH];
	struct netbe_msg m[BATCH];
	int n = 0, calls = 0;

	for (int i = 0; i < BATCH; i++) {
		make_frame(f, batch_len(i), 200 + (unsigned)i);
		peer_send(pfd, ifindex, f, batch_len(i));
	}
	while (n < BATCH && wait_readable(be)) {
		int r;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ got[i], sizeof(got[i]) };
			m[i] = (struct netbe_msg){ .iov = &iov[i], .iovcnt = 1 };
		}
		r = netbe_recv_batch(be, m, BATCH);
		calls++;
		CHECK(r >= 0, "recv_batch: %d (%s)", r, netbe_last_error());
		for (int i = 0; i < r && n < BATCH; i++)
			if (got[i][12] == (ETYPE >> 8) &&
			    got[i][13] == (ETYPE & 0xff))
				rx_batch_check(got[i], m[i].len, n++);
		if (r < 0)
			break;
	}
	CHECK(n == BATCH, "recv_batch got %d of %d", n, BATCH);
	printf("rx batch: %d frames in %d calls\n", n, calls);
}

static void check_basic(netbe_t *be, int pfd, int ifindex)
{
	static unsigned char f[1514];

	tx_single(be, pfd, 60, 1);
	tx_single(be, pfd, 1514, 2);
	tx_batch(be, pfd);
	make_frame(f, 1514, 3);
	peer_send(pfd, ifindex, f, 1514);
	be_expect(be, 1514, 3, true, "rx single (peek)");
	make_frame(f, 60, 4);
	peer_send(pfd, ifindex, f, 60);
	be_expect(be, 60, 4, false, "rx single");
	rx_batch(be, pfd, ifindex);
}

static void check_large(netbe_t *be, int pfd, int ifindex)
{
	static unsigned char f[BIG];

	tx_single(be, pfd, 5000, 5);
	tx_single(be, pfd, 9014, 6);
	make_frame(f, 9014, 7);
	peer_send(pfd, ifindex, f, 9014);
	be_expect(be, 9014, 7, true, "rx 9014 (peek)");
	make_frame(f, 5000, 8);
	peer_send(pfd, ifindex, f, 5000);
	be_expect(be, 5000, 8, false, "rx 5000");
}

/* @be's drops in direction @dir for reason @why. */
static uint64_t drops(netbe_t *be, int dir, int why)
{
	uint64_t c[NETBE_DROP_NREASONS];

	if (netbe_get_drops(be, dir, c, NETBE_DROP_NREASONS) !=
	    NETBE_DROP_NREASONS)
		return ~0ULL;
	return c[why];
}

/* Too long is the frame's fault, not the backend's: a drop with its
 * reason, never an error. */
static void check_refuse(netbe_t *be, int pfd, int ifindex)
{
	static unsigned char f[BIG], buf[BIG];
	struct iovec iov = { f, 5000 };
	struct netbe_stats st;
	ssize_t r;

	make_frame(f, 5000, 9);
	r = netbe_send(be, &iov, 1);
	CHECK(r == -EMSGSIZE, "oversized send: %zd, want -EMSGSIZE", r);
	CHECK(strstr(netbe_last_error(), "too long") != NULL,
	      "oversized send error: '%s'", netbe_last_error());
	netbe_get_stats(be, &st);
	CHECK(st.tx_drops == 1 && st.tx_errors == 0 &&
	      drops(be, NETBE_TX, NETBE_DROP_OVERSIZE) == 1,
	      "tx_drops %llu (oversize %llu), tx_errors %llu, want 1 (1), 0",
	      (unsigned long long)st.tx_drops,
	      (unsigned long long)drops(be, NETBE_TX, NETBE_DROP_OVERSIZE),
	      (unsigned long long)st.tx_errors);
	CHECK(peer_recv(pfd, buf, sizeof(buf)) < 0, "peer got a refused frame");

	peer_send(pfd, ifindex, f, 5000);
	make_frame(f, 60, 10); /* a small one after it still arrives */
	peer_send(pfd, ifindex, f, 60);
	be_expect(be, 60, 10, false, "rx after a dropped giant");
	usleep(150 * 1000); /* kernel drop counters are read at most 10/s */
	iov = (struct iovec){ buf, sizeof(buf) };
	CHECK(netbe_recv(be, &iov, 1) == 0, "a frame was left over");
	/* The kernel dropped it before our ring: folded in as "ring". */
	netbe_get_stats(be, &st);
	CHECK(st.rx_drops >= 1 && st.rx_errors == 0 &&
	      drops(be, NETBE_RX, NETBE_DROP_RING) == st.rx_drops,
	      "rx_drops %llu (ring %llu), rx_errors %llu, want >= 1 (all), 0",
	      (unsigned long long)st.rx_drops,
	      (unsigned long long)drops(be, NETBE_RX, NETBE_DROP_RING),
	      (unsigned long long)st.rx_errors);
}

int main(int argc, char **argv)
{
	netbe_t *be;
	int pfd, ifindex;

	if (argc < 4) {
		fprintf(stderr, "usage: xdp_veth SPEC PEER_IFNAME CHECK...\n");
		return 2;
	}
	if (netbe_open(&be, argv[1], NULL, noop_rx, NULL) < 0) {
		fprintf(stderr, "FAIL: open %s: %s\n", argv[1],
			netbe_last_error());
		return 1;
	}
	pfd = peer_open(argv[2], &ifindex);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "basic"))
			check_basic(be, pfd, ifindex);
		else if (!strcmp(argv[i], "large"))
			check_large(be, pfd, ifindex);
		else if (!strcmp(argv[i], "refuse"))
			check_refuse(be, pfd, ifindex);
		else
			CHECK(0, "unknown check '%s'", argv[i]);
	}
	netbe_cleanup(be);
	close(pfd);
	printf("%s %s: %s\n", argv[1], argv[3], failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
