/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_fd - a tap fd handed in by a launcher ("tap,fd=N") carries frames,
 * and the receive paths behave.
 *
 * In a private netns the test opens /dev/net/tun itself (as libvirt or a
 * jailer would), opens "tap,fd=N,bridge=br0" through netbe with no
 * frontend header (the core strips the tap's 10 bytes), and bridges it
 * with an ordinary netbe tap B (12-byte header).  Then:
 *   - L -> B and B -> L frames arrive intact;
 *   - netbe_peek_recvlen() announces the exact length recv() returns;
 *   - a frame too big for the caller's buffer gives -ENOSPC, is counted
 *     as a drop and does not corrupt the next frame (direct and peek path);
 *   - netbe_cleanup() closes the fd it took over.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "tap_util.h"

#define BH NETBE_VNET_HDR_MRG_LEN

static uint8_t tx[2048], rx[2048];

static int launcher_tap(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	TU_CHECK(fd >= 0, "open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	TU_CHECK(ioctl(fd, TUNSETIFF, &ifr) == 0, "TUNSETIFF: %s",
		 strerror(errno));
	return fd;
}

/* Sends a frame of @payload bytes with sequence @seq; @hdr bytes of
 * zeroed virtio-net header first. */
static void send_frame(netbe_t *be, unsigned hdr, uint32_t seq,
		       size_t payload)
{
	static uint8_t zero[BH];
	size_t len = tu_tcp_frame(tx, seq, payload, 0);
	struct iovec iov[2] = { { zero, hdr }, { tx, len } };
	ssize_t r = netbe_send(be, iov, 2);

	TU_CHECK(r == (ssize_t)(hdr + len), "send: %zd %s", r,
		 netbe_last_error());
}

/* Receives the next frame of our flow (header @hdr bytes) and checks it
 * carries @seq and @payload bytes; with @peek asks its length first. */
static void expect_frame(netbe_t *be, unsigned hdr, uint32_t seq,
			 size_t payload, int peek)
{
	struct iovec iov = { rx, sizeof(rx) };
	ssize_t want = (ssize_t)(hdr + 54 + payload), p = 0, r;
	uint32_t got;
	long plen;

	for (;;) {
		TU_CHECK(tu_wait(be, 3000), "no frame for seq %u", seq);
		if (peek && (p = netbe_peek_recvlen(be)) == 0)
			continue;
		r = netbe_recv(be, &iov, 1);
		if (r == 0)
			continue;
		TU_CHECK(r > 0, "recv: %zd %s", r, netbe_last_error());
		TU_CHECK(!peek || p == r, "peek said %zd, recv gave %zd", p,
			 r);
		plen = tu_tcp_check(rx + hdr, (size_t)r - hdr, &got);
		if (plen != -1)
			break;
	}
	TU_CHECK(plen >= 0, "bad checksum");
	TU_CHECK(r == want && got == seq && (size_t)plen == payload,
		 "got %zd bytes seq %u, want %zd seq %u", r, got, want, seq);
}

/* An oversized frame is dropped whole: -ENOSPC, then the next is fine. */
static void check_enospc(netbe_t *l, netbe_t *b, int peek)
{
	struct iovec small = { rx, 100 };
	struct netbe_stats st0, st1;
	ssize_t r;

	netbe_get_stats(l, &st0);
	send_frame(b, BH, 5000, 1000);
	TU_CHECK(tu_wait(l, 3000), "no big frame");
	if (peek)
		TU_CHECK(netbe_peek_recvlen(l) == 54 + 1000, "peek big");
	r = netbe_recv(l, &small, 1);
	TU_CHECK(r == -ENOSPC, "small buffer: got %zd, want -ENOSPC", r);
	netbe_get_stats(l, &st1);
	TU_CHECK(st1.rx_drops == st0.rx_drops + 1, "drop not counted");
	send_frame(b, BH, 6000, 10);
	expect_frame(l, 0, 6000, 10, peek);
}

int main(void)
{
	netbe_loop_t *loop;
	netbe_t *l, *b;
	char spec[64];
	int fd, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tu_enter_netns();
	tu_bridge("br0");
	TU_CHECK(netbe_loop_new(&loop) == 0, "netbe_loop_new");
	fd = launcher_tap("lfd0");
	snprintf(spec, sizeof(spec), "tap,fd=%d,bridge=br0", fd);
	l = tu_open(spec, loop);
	b = tu_open("tap,ifname=fdb,bridge=br0", loop);
	TU_CHECK(netbe_get_fd(l) == fd, "netbe uses fd %d, not %d",
		 netbe_get_fd(l), fd);
	TU_CHECK(netbe_get_vnet_hdr_len(l) == NETBE_VNET_HDR_LEN,
		 "launcher fd has IFF_VNET_HDR, header %zu",
		 netbe_get_vnet_hdr_len(l));
	TU_CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "fd not made non-blocking");
	r = netbe_set_cap(l, 0, 0);
	TU_CHECK(r == 0, "set_cap L: %d %s", r, netbe_last_error());
	r = netbe_set_cap(b, 0, BH);
	TU_CHECK(r == 0, "set_cap B: %d %s", r, netbe_last_error());

	send_frame(l, 0, 100, 200);
	expect_frame(b, BH, 100, 200, 0);
	printf("launcher fd -> B: ok\n");
	send_frame(b, BH, 200, 300);
	expect_frame(l, 0, 200, 300, 0);
	send_frame(b, BH, 300, 400);
	expect_frame(l, 0, 300, 400, 1);
	printf("B -> launcher fd: ok (direct and peek paths)\n");
	check_enospc(l, b, 0);
	check_enospc(l, b, 1);
	printf("oversized frames: -ENOSPC, counted, next frame intact\n");

	netbe_cleanup(l);
	TU_CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF,
		 "netbe_cleanup left the adopted fd open");
	netbe_cleanup(b);
	netbe_loop_free(loop);
	printf("PASS\n");
	return 0;
}
