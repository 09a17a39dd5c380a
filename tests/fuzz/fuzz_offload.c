/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for the software offload engine: a virtio-net header and a
 * frame from the guest, both hostile.  Input: 10 header bytes, one byte
 * that picks how the frame is cut into iovec pieces, then the frame.
 * The engine must refuse or segment it without reading out of bounds;
 * every segment it builds must fit in a frame.  The same input then
 * crosses the library (a frontend with all HOST_* offloads on a pipe
 * without any), and the other end must only ever see sane frames.
 * Built for libFuzzer with -Dfuzz=true; corpus_offload/ is replayed by a
 * normal test through fuzz_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netbe.h"
#include "offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IOV 64

struct sink {
	unsigned segs;
};

static int sink_emit(void *arg, struct netbe_msg *msgs, int n)
{
	struct sink *s = arg;

	for (int i = 0; i < n; i++) {
		size_t len = 0;

		for (int k = 0; k < msgs[i].iovcnt; k++)
			len += msgs[i].iov[k].iov_len;
		if (len < 14 || len > NETBE_MAX_FRAME + 8)
			abort();
	}
	s->segs += (unsigned)n;
	return n;
}

static void engine(const struct netbe_vnet_hdr *h, const struct iovec *in,
		   int n, size_t len)
{
	static struct netbe_msg msgs[8];
	static struct iovec iov[MAX_IOV + 64];
	static uint8_t arena[8 * 300];
	struct netbe__offl_out o = {
		.arena = arena, .arena_cap = sizeof(arena), .msgs = msgs,
		.msgs_cap = 8, .iov = iov, .iov_cap = MAX_IOV + 64,
	};
	struct netbe__offl_frame f;
	struct sink s = { 0 };

	if (netbe__offl_parse(h, in, n, len, &f) != 0)
		return;
	if (netbe__offl_emit(&f, in, n, &o, sink_emit, &s) != (int)f.nsegs ||
	    s.segs != f.nsegs || f.nsegs > NETBE__OFFL_MAX_SEGS)
		abort();
}

static void nop(int fd, int ev, void *p)
{
	(void)fd;
	(void)ev;
	(void)p;
}

/* Through the library: A (all HOST_*) -> plain pipe -> B. */
static void library(const uint8_t *frame, size_t len)
{
	static netbe_t *a, *b;
	static uint8_t rx[NETBE_MAX_FRAME + 16];
	struct iovec v = { (void *)frame, len }, r = { rx, sizeof(rx) };
	uint64_t host = NETBE_F_CSUM | NETBE_F_HOST_TSO4 |
			NETBE_F_HOST_TSO6 | NETBE_F_HOST_ECN |
			NETBE_F_HOST_UFO | NETBE_F_HOST_USO;
	ssize_t got;

	if (!a) {
		if (netbe_open(&a, "pipe:fuzzoffl", NULL, nop, NULL) ||
		    netbe_open(&b, "pipe:fuzzoffl", NULL, nop, NULL) ||
		    netbe_set_cap(a, host, 10) || netbe_set_cap(b, 0, 0))
			abort();
	}
	if (len > NETBE_MAX_FRAME + 10)
		return;
	netbe_send(a, &v, 1);
	while ((got = netbe_recv(b, &r, 1)) > 0)
		if (got < 14 || got > NETBE_MAX_FRAME)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec in[MAX_IOV];
	struct netbe_vnet_hdr h = { 0 };
	size_t len, off = 0, piece;
	uint8_t *frame;
	int n = 0;

	if (size < 11)
		return 0;
	memcpy(&h, data, 10);
	piece = 1 + data[10] % 97;
	len = size - 11;
	/* A copy of exactly the frame, so ASan sees any read past it. */
	frame = malloc(len ? len : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 11, len);
	while (off < len && n < MAX_IOV - 1) {
		size_t k = len - off < piece ? len - off : piece;

		in[n++] = (struct iovec){ frame + off, k };
		off += k;
	}
	if (off < len)
		in[n++] = (struct iovec){ frame + off, len - off };
	engine(&h, in, n, len);
	free(frame);
	frame = malloc(10 + len);
	if (!frame)
		return 0;
	memcpy(frame, data, 10);
	memcpy(frame + 10, data + 11, len);
	library(frame, 10 + len);
	free(frame);
	return 0;
}
