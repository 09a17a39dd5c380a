/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for the vhost-user descriptor-chain walker (src/vhost/
 * vring.c): the guest writes the descriptor table, the avail ring and
 * every buffer, so all of it is untrusted.
 *
 * Theory of operation
 *   Input: byte 0 picks the ring size (1..256) and bit 7 of byte 1 the
 *   direction (a receive ring we write into, or a transmit ring we read
 *   from), bits 0-1 of byte 1 INDIRECT_DESC and EVENT_IDX, bit 2
 *   IN_ORDER, bit 3 a dirty log (live migration: 8 bytes of bitmap, the
 *   used ring logged at a guest-physical address taken from bytes 2-9,
 *   every piece we write marked as the backend marks it); the rest is
 *   copied over 16 KiB of "guest memory" (desc table at gpa 0x10000,
 *   avail at 0x11000, used at 0x12000, buffers above), which the memory
 *   table maps as two adjacent regions (so buffers cross a region
 *   boundary) at guest-physical 0x10000, VMM-virtual 0x7f0000000000.
 *   We then take chains as the backend does - peek, take, push, flush,
 *   re-enable notifications - until the ring is empty or broken, reading
 *   and writing every byte of every piece.
 *
 *   Checked (abort on violation): every piece lies inside the guest
 *   memory; a chain's length is the sum of its pieces; no more chains are
 *   taken than the avail index allows; a broken ring gives a reason and
 *   nothing more.  ASan catches any access outside.  The corpus in
 *   corpus_vring/ is replayed by a normal test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vhost/vring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GPA 0x10000ULL
#define UVA 0x7f0000000000ULL
#define MEM (16 * 1024)

static uint8_t guest[MEM] __attribute__((aligned(4096)));

static void check_piece(const struct iovec *v)
{
	const uint8_t *p = v->iov_base;

	if (p < guest || p + v->iov_len > guest + MEM || !v->iov_len)
		abort();
}

static void touch(const struct iovec *iov, int n, bool write, size_t len)
{
	size_t sum = 0;
	volatile uint8_t sink = 0;

	for (int i = 0; i < n; i++) {
		check_piece(&iov[i]);
		sum += iov[i].iov_len;
		if (write)
			memset(iov[i].iov_base, 0xab, iov[i].iov_len);
		else
			for (size_t k = 0; k < iov[i].iov_len; k += 64)
				sink ^= ((uint8_t *)iov[i].iov_base)[k];
	}
	(void)sink;
	if (sum != len)
		abort();
}

static void mem_init(struct netbe__vh_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->n = 2;
	m->r[0] = (struct netbe__vh_region){ .gpa = GPA, .size = MEM / 2,
					     .uva = UVA, .host = guest };
	m->r[1] = (struct netbe__vh_region){ .gpa = GPA + MEM / 2,
					     .size = MEM / 2,
					     .uva = UVA + MEM / 2,
					     .host = guest + MEM / 2 };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netbe__vring_addr a = { UVA, UVA + 0x1000, UVA + 0x2000 };
	struct netbe__vring vr = { 0 };
	struct netbe__vh_log log = { 0 };
	uint8_t bitmap[8] = { 0 };
	struct netbe__vh_mem m;
	struct iovec iov[64];
	bool write;
	unsigned num, taken = 0, pending;

	if (size < 2)
		return 0;
	memset(guest, 0, sizeof(guest));
	memcpy(guest, data + 2, size - 2 < MEM ? size - 2 : MEM);
	mem_init(&m);
	num = (unsigned)data[0] + 1;
	write = data[1] & 0x80;
	vr.indirect = data[1] & 1;
	vr.event_idx = data[1] & 2;
	vr.in_order = data[1] & 4;
	if (netbe__vring_setup(&vr, &m, num, &a) < 0)
		return 0;
	if (data[1] & 8) {
		log.bits = bitmap;
		log.len = sizeof(bitmap);
		vr.log = &log;
		memcpy(&vr.log_used, guest, sizeof(vr.log_used));
	}
	pending = netbe__vring_pending(&vr);
	for (;;) {
		struct netbe__vring_chain c;
		int r = netbe__vring_peek(&vr, write, iov, 64, &c);

		if (r < 0) {
			if (!vr.broken || !vr.why)
				abort();
			break;
		}
		if (r == 0 && !netbe__vring_notify_on(&vr))
			break;
		if (r == 0)
			continue;
		touch(iov, c.niov, write, c.len);
		for (int i = 0; vr.log && write && i < c.niov; i++)
			netbe__vh_log_host(vr.log, &m, iov[i].iov_base,
					   iov[i].iov_len);
		netbe__vring_take(&vr);
		if (write)
			netbe__vring_push(&vr, c.head, (uint32_t)c.len);
		else
			netbe__vring_push_read(&vr, c.head);
		/* Only a guest buffer over the avail ring can add chains
		 * (ours are filled with 0xab), and only so many. */
		if (++taken > pending + 0x10000u)
			abort();
		if (taken % 16 == 0)
			(void)netbe__vring_flush(&vr);
		netbe__vring_notify_off(&vr);
	}
	(void)netbe__vring_flush(&vr);
	return 0;
}
