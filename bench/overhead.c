/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench/overhead: what the library costs per frame over the raw syscalls
 * it makes.  One thread moves 64-byte frames (or -s SIZE) through a pipe
 * pair in bursts: send a burst on one end, receive it on the other.
 *
 *   raw-single   sendmsg/recvmsg on a seqpacket socketpair (the baseline)
 *   netbe-single netbe_send/netbe_recv on pipe:  (same syscalls + library)
 *   raw-batch    sendmmsg/recvmmsg
 *   netbe-batch  netbe_send_batch/netbe_recv_batch
 *   netbe-hdr    netbe-single with a 12-byte frontend header translated
 *                to a header-less backend (the vnet.c path)
 *
 * Prints Mpps per mode, each ratio to its raw baseline, and a JSON line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netbe.h"

#define BURST 32

struct ends {
	int a, b;	       /* raw socketpair */
	netbe_t *na, *nb;      /* netbe pipe pair */
	struct iovec tx[BURST], rx[BURST];
	struct netbe_msg tmsg[BURST], rmsg[BURST];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long raw_single(struct ends *e)
{
	struct msghdr mh = { .msg_iovlen = 1 };
	long n = 0;

	for (int i = 0; i < BURST; i++) {
		mh.msg_iov = &e->tx[i];
		n += sendmsg(e->a, &mh, MSG_DONTWAIT) > 0;
	}
	for (int i = 0; i < BURST; i++) {
		mh.msg_iov = &e->rx[i];
		recvmsg(e->b, &mh, MSG_DONTWAIT);
	}
	return n;
}

static long raw_batch(struct ends *e)
{
	struct mmsghdr tm[BURST], rm[BURST];
	int n;

	memset(tm, 0, sizeof(tm));
	memset(rm, 0, sizeof(rm));
	for (int i = 0; i < BURST; i++) {
		tm[i].msg_hdr.msg_iov = &e->tx[i];
		tm[i].msg_hdr.msg_iovlen = 1;
		rm[i].msg_hdr.msg_iov = &e->rx[i];
		rm[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(e->a, tm, BURST, MSG_DONTWAIT);
	recvmmsg(e->b, rm, BURST, MSG_DONTWAIT, NULL);
	return n > 0 ? n : 0;
}

static long nb_single(struct ends *e)
{
	long n = 0;

	for (int i = 0; i < BURST; i++)
		n += netbe_send(e->na, &e->tx[i], 1) > 0;
	for (int i = 0; i < BURST; i++)
		netbe_recv(e->nb, &e->rx[i], 1);
	return n;
}

static long nb_batch(struct ends *e)
{
	int n = netbe_send_batch(e->na, e->tmsg, BURST);

	netbe_recv_batch(e->nb, e->rmsg, BURST);
	return n > 0 ? n : 0;
}

static double run(long (*fn)(struct ends *), struct ends *e, double secs)
{
	double t0 = now(), t;
	long frames = 0;

	do {
		for (int i = 0; i < 64; i++)
			frames += fn(e);
		t = now();
	} while (t - t0 < secs);
	return (double)frames / (t - t0) / 1e6;
}

static void noop(int fd, int ev, void *p)
{
	(void)fd;
	(void)ev;
	(void)p;
}

static int setup(struct ends *e, size_t size, unsigned char *buf)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -errno;
	e->a = sv[0];
	e->b = sv[1];
	/* The same buffers the pipe backend asks for, for a fair baseline. */
	for (int i = 0; i < 2; i++) {
		int sz = 4 << 20;

		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	for (int i = 0; i < BURST; i++) {
		e->tx[i] = (struct iovec){ buf, size };
		e->rx[i] = (struct iovec){ buf + 65536 + (size_t)i * 2048, 2048 };
		e->tmsg[i] = (struct netbe_msg){ &e->tx[i], 1, 0 };
		e->rmsg[i] = (struct netbe_msg){ &e->rx[i], 1, 0 };
	}
	if (netbe_open(&e->na, "pipe:bench", NULL, noop, NULL) < 0 ||
	    netbe_open(&e->nb, "pipe:bench", NULL, noop, NULL) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536 + BURST * 2048];
	double secs = 2, r[5];
	size_t size = 64;
	struct ends e;
	int c;

	while ((c = getopt(argc, argv, "d:s:h")) != -1) {
		if (c == 'd')
			secs = atof(optarg);
		else if (c == 's')
			size = (size_t)atol(optarg);
		else {
			fprintf(stderr, "usage: %s [-d SECONDS] [-s FRAME_SIZE<=2048]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (size < 60 || size > 2048 || setup(&e, size, buf) < 0) {
		fprintf(stderr, "overhead: setup failed: %s\n", netbe_last_error());
		return 1;
	}
	memset(buf, 0xab, size);
	r[0] = run(raw_single, &e, secs);
	r[1] = run(nb_single, &e, secs);
	r[2] = run(raw_batch, &e, secs);
	r[3] = run(nb_batch, &e, secs);
	netbe_set_cap(e.na, 0, 12);
	netbe_set_cap(e.nb, 0, 12);
	memset(buf, 0, 12); /* a plain frame: no offload asked */
	for (int i = 0; i < BURST; i++)
		e.tx[i].iov_len = size + 12;
	r[4] = run(nb_single, &e, secs);
	printf("frame %zu B, burst %d, %.1f s per mode (Mpps, one core)\n", size, BURST, secs);
	printf("  raw-single   %6.3f\n  netbe-single %6.3f  (%.2fx raw)\n", r[0], r[1], r[1] / r[0]);
	printf("  raw-batch    %6.3f\n  netbe-batch  %6.3f  (%.2fx raw)\n", r[2], r[3], r[3] / r[2]);
	printf("  netbe-hdr    %6.3f  (%.2fx raw-single)\n", r[4], r[4] / r[0]);
	printf("{\"bench\":\"overhead\",\"size\":%zu,\"raw_single\":%.4f,\"netbe_single\":%.4f,"
	       "\"raw_batch\":%.4f,\"netbe_batch\":%.4f,\"netbe_hdr\":%.4f}\n",
	       size, r[0], r[1], r[2], r[3], r[4]);
	netbe_cleanup(e.na);
	netbe_cleanup(e.nb);
	close(e.a);
	close(e.b);
	return 0;
}
