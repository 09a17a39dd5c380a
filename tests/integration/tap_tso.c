/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tap_tso - a 64 KiB TSO frame written into a netbe tap is segmented by
 * the kernel, and GUEST_* offloads reach TUNSETOFFLOAD.
 *
 * In a private netns, three netbe taps hang off one Linux bridge:
 *   A: HOST_TSO4|CSUM negotiated; we write one 65000-byte-payload TCP frame
 *      with a vnet header (GSO_TCPV4, gso_size 1448, NEEDS_CSUM).
 *   B: no GUEST_* offloads: the kernel must segment and checksum before B's
 *      reader sees the frame: 45 segments, contiguous sequence numbers,
 *      valid IPv4 and TCP checksums, no GSO in their headers.
 *   C: GUEST_CSUM|GUEST_TSO4: the kernel may hand the frame over whole,
 *      still marked GSO_TCPV4 with gso_size 1448.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap_util.h"

#define PAYLOAD 65000u
#define MSS 1448u
#define SEQ0 1000u
#define HDR NETBE_VNET_HDR_MRG_LEN

static uint8_t frame[NETBE_MAX_FRAME + HDR];
static uint8_t rxbuf[NETBE_MAX_FRAME + HDR];

static void send_tso(netbe_t *a)
{
	struct netbe_vnet_hdr h = {
		.flags = NETBE_VNET_HDR_F_NEEDS_CSUM,
		.gso_type = NETBE_VNET_HDR_GSO_TCPV4,
		.hdr_len = htole16(54),
		.gso_size = htole16(MSS),
		.csum_start = htole16(34),
		.csum_offset = htole16(16),
	};
	size_t len = tu_tcp_frame(frame, SEQ0, PAYLOAD, 1);
	struct iovec iov[2] = { { &h, HDR }, { frame, len } };
	ssize_t r = netbe_send(a, iov, 2);

	TU_CHECK(r == (ssize_t)(HDR + len), "send TSO frame: %zd %s", r,
		 netbe_last_error());
}

/* Receives one frame of our flow from @be into rxbuf (header first);
 * returns its length, 0 on timeout. */
static ssize_t recv_ours(netbe_t *be, uint32_t *seq, long *plen)
{
	struct iovec iov = { rxbuf, sizeof(rxbuf) };
	ssize_t r;

	for (;;) {
		r = netbe_recv(be, &iov, 1);
		if (r == 0 && !tu_wait(be, 3000))
			return 0;
		if (r == 0)
			continue;
		TU_CHECK(r > 0, "recv: %zd %s", r, netbe_last_error());
		*plen = tu_tcp_check(rxbuf + HDR, (size_t)r - HDR, seq);
		if (*plen != -1)
			return r;
	}
}

static void check_segmented(netbe_t *b)
{
	unsigned segs = 0, total = 0;
	uint32_t seq;
	long plen;
	ssize_t r;

	while (total < PAYLOAD && (r = recv_ours(b, &seq, &plen)) > 0) {
		const struct netbe_vnet_hdr *h = (void *)rxbuf;

		TU_CHECK(plen >= 0, "segment %u: bad IPv4 or TCP checksum",
			 segs);
		TU_CHECK(h->gso_type == NETBE_VNET_HDR_GSO_NONE,
			 "segment %u still GSO (type %u)", segs, h->gso_type);
		TU_CHECK(seq == SEQ0 + total, "segment %u: seq %u, want %u",
			 segs, seq, SEQ0 + total);
		TU_CHECK(plen <= (long)MSS, "segment %u: %ld bytes > mss",
			 segs, plen);
		total += (unsigned)plen;
		segs++;
	}
	TU_CHECK(total == PAYLOAD, "B got %u of %u bytes", total, PAYLOAD);
	TU_CHECK(segs == (PAYLOAD + MSS - 1) / MSS, "B got %u segments, "
		 "want %u", segs, (PAYLOAD + MSS - 1) / MSS);
	printf("B: %u segments, %u bytes, contiguous, checksums valid\n",
	       segs, total);
}

static void check_whole(netbe_t *c)
{
	const struct netbe_vnet_hdr *h = (void *)rxbuf;
	uint32_t seq;
	long plen;
	ssize_t r = recv_ours(c, &seq, &plen);

	/* The TCP checksum is still partial (NEEDS_CSUM): -2 is expected. */
	TU_CHECK(r > 0, "C received nothing");
	TU_CHECK(h->gso_type == NETBE_VNET_HDR_GSO_TCPV4 &&
		 le16toh(h->gso_size) == MSS &&
		 (size_t)r == HDR + 54 + PAYLOAD,
		 "C: want one GSO_TCPV4 frame of %u bytes, got gso_type %u "
		 "gso_size %u len %zd", HDR + 54 + PAYLOAD, h->gso_type,
		 le16toh(h->gso_size), r);
	TU_CHECK(h->flags & NETBE_VNET_HDR_F_NEEDS_CSUM,
		 "C: NEEDS_CSUM not set on a GSO frame");
	printf("C: one %zd-byte GSO_TCPV4 frame, gso_size %u\n", r, MSS);
}

int main(void)
{
	uint64_t need = NETBE_F_CSUM | NETBE_F_HOST_TSO4;
	uint64_t guest = NETBE_F_GUEST_CSUM | NETBE_F_GUEST_TSO4;
	netbe_loop_t *loop;
	netbe_t *a, *b, *c;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tu_enter_netns();
	tu_bridge("br0");
	TU_CHECK(netbe_loop_new(&loop) == 0, "netbe_loop_new");
	a = tu_open("tap,ifname=tsoa,bridge=br0", loop);
	b = tu_open("tap,ifname=tsob,bridge=br0", loop);
	c = tu_open("tap,ifname=tsoc,bridge=br0", loop);
	TU_CHECK((netbe_get_cap(a) & need) == need, "cap %#llx lacks %#llx",
		 (unsigned long long)netbe_get_cap(a), (unsigned long long)need);
	TU_CHECK((netbe_get_cap(c) & guest) == guest, "no GUEST_TSO4 cap");
	r = netbe_set_cap(a, need, HDR);
	TU_CHECK(r == 0, "set_cap A: %d %s", r, netbe_last_error());
	r = netbe_set_cap(b, 0, HDR);
	TU_CHECK(r == 0, "set_cap B: %d %s", r, netbe_last_error());
	r = netbe_set_cap(c, guest, HDR);
	TU_CHECK(r == 0, "set_cap C: %d %s", r, netbe_last_error());
	TU_CHECK(netbe_get_vnet_hdr_len(a) == HDR, "A header length %zu",
		 netbe_get_vnet_hdr_len(a));

	send_tso(a);
	check_segmented(b);
	check_whole(c);

	netbe_cleanup(a);
	netbe_cleanup(b);
	netbe_cleanup(c);
	netbe_loop_free(loop);
	printf("PASS\n");
	return 0;
}
