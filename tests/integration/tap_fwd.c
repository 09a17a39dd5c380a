/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_fwd - a minimal "netbe connect" written against the public API only:
 * opens two backends, negotiates the offloads both can do, and forwards
 * frames both ways with netbe_recv_batch()/netbe_send_batch() on a
 * netbe_loop until SIGINT/SIGTERM, then prints its counters as
 * "forward A -> B: frames N bytes N drops N errors N" and exits 0.
 * tap_traffic.sh drives it the same way it drives the CLI.
 *
 * usage: tap_fwd SPEC_A SPEC_B
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netbe.h"

#define BATCH 16
#define BUFLEN (NETBE_VNET_HDR_MRG_LEN + NETBE_MAX_FRAME)

struct side {
	const char *name;
	netbe_t *be;
	struct side *peer;
	struct netbe_msg msg[BATCH];
	struct iovec iov[BATCH];
	uint8_t *buf;
	uint64_t frames, bytes, drops;
};

static netbe_loop_t *loop;

static void on_signal(int sig)
{
	(void)sig;
	netbe_loop_stop(loop);
}

static void prepare(struct side *s)
{
	for (int i = 0; i < BATCH; i++) {
		s->iov[i].iov_base = s->buf + (size_t)i * BUFLEN;
		s->iov[i].iov_len = BUFLEN;
		s->msg[i] = (struct netbe_msg){ &s->iov[i], 1, 0 };
	}
}

/* Sends the @n frames just received to the peer; a full peer drops. */
static void pass_on(struct side *s, int n)
{
	struct netbe_msg out[BATCH];
	int k = 0, done = 0;

	for (int i = 0; i < n; i++) {
		if (s->msg[i].len == 0) /* a slot the batch skipped */
			continue;
		s->iov[i].iov_len = s->msg[i].len;
		s->bytes += s->msg[i].len;
		out[k++] = s->msg[i];
	}
	while (done < k) {
		int r = netbe_send_batch(s->peer->be, out + done, k - done);

		if (r <= 0)
			break;
		done += r;
	}
	s->frames += (uint64_t)done;
	s->drops += (uint64_t)(k - done);
}

static void on_rx(int fd, int events, void *arg)
{
	struct side *s = arg;

	(void)fd;
	(void)events;
	for (int round = 0; round < 8; round++) {
		int n;

		prepare(s);
		n = netbe_recv_batch(s->be, s->msg, BATCH);
		if (n <= 0)
			break;
		pass_on(s, n);
	}
}

static int open_side(struct side *s, const char *spec)
{
	int r;

	s->name = spec;
	s->buf = malloc((size_t)BATCH * BUFLEN);
	if (!s->buf)
		return -1;
	r = netbe_open(&s->be, spec, loop, on_rx, s);
	if (r < 0)
		fprintf(stderr, "tap_fwd: %s: %s\n", spec, netbe_last_error());
	return r;
}

static int negotiate(struct side *a, struct side *b)
{
	uint64_t f = netbe_get_cap(a->be) & netbe_get_cap(b->be);

	if (netbe_set_cap(a->be, f, NETBE_VNET_HDR_MRG_LEN) < 0 ||
	    netbe_set_cap(b->be, f, NETBE_VNET_HDR_MRG_LEN) < 0) {
		fprintf(stderr, "tap_fwd: set_cap: %s\n", netbe_last_error());
		return -1;
	}
	printf("tap_fwd: offloads %#" PRIx64 "\n", f);
	return 0;
}

int main(int argc, char **argv)
{
	static struct side a, b;

	if (argc != 3) {
		fprintf(stderr, "usage: tap_fwd SPEC_A SPEC_B\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (netbe_loop_new(&loop) < 0 || open_side(&a, argv[1]) < 0 ||
	    open_side(&b, argv[2]) < 0 || negotiate(&a, &b) < 0)
		return 1;
	a.peer = &b;
	b.peer = &a;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	netbe_rx_enable(a.be);
	netbe_rx_enable(b.be);
	printf("tap_fwd: forwarding %s <-> %s\n", a.name, b.name);
	netbe_loop_run(loop);
	printf("forward %s -> %s: frames %" PRIu64 " bytes %" PRIu64
	       " drops %" PRIu64 " errors 0\n", a.name, b.name, a.frames,
	       a.bytes, a.drops);
	printf("forward %s -> %s: frames %" PRIu64 " bytes %" PRIu64
	       " drops %" PRIu64 " errors 0\n", b.name, a.name, b.frames,
	       b.bytes, b.drops);
	netbe_cleanup(a.be);
	netbe_cleanup(b.be);
	netbe_loop_free(loop);
	free(a.buf);
	free(b.buf);
	return 0;
}
