/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for the switch: what guests send it, hostile.  Three ports
 * on in-process pipes - plain, access (VLAN 10), trunk (VLANs 10, 20) -
 * each with a peer that negotiated every offload.  Input: records of
 * [port byte][length, 2 bytes][12-byte virtio-net header + frame], each
 * sent by that port's peer.  The switch must parse Ethernet and 802.1Q
 * headers, learn, flood, tag and untag without reading out of bounds,
 * and its counters must balance for every port after every input: what a
 * port gave is forwarded or dropped with a reason; what was meant for a
 * port is delivered, queued or dropped.  Peers only ever see frames of
 * at least an Ethernet header.  Built for libFuzzer with -Dfuzz=true;
 * corpus_switch/ is replayed by a normal test through fuzz_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netbe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NP 3

static netbe_loop_t *loop;
static netbe_switch_t *sw;
static netbe_t *peer[NP];
static uint8_t rxbuf[12 + NETBE_MAX_FRAME];

static void nop(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static void setup(void)
{
	static const char *const keys[NP] = { "", ",vlan=10",
					      ",trunk=on,vlans=10;20" };
	char spec[96];

	if (netbe_loop_new(&loop) || netbe_switch_new(&sw, loop, "max_macs=64"))
		abort();
	for (int i = 0; i < NP; i++) {
		snprintf(spec, sizeof(spec), "pipe:fz%d,offload=on", i);
		if (netbe_open(&peer[i], spec, loop, nop, NULL) ||
		    netbe_set_cap(peer[i], NETBE_OFFLOAD_MASK, 12))
			abort();
		snprintf(spec, sizeof(spec), "pipe:fz%d,offload=on,id=p%d%s",
			 i, i, keys[i]);
		if (netbe_switch_add_port(sw, spec) != i)
			abort();
	}
}

static void drain(void)
{
	struct iovec v = { rxbuf, sizeof(rxbuf) };

	for (int round = 0; round < 20; round++) {
		int any = netbe_loop_run_once(loop, 0) > 0;

		for (int i = 0; i < NP; i++) {
			ssize_t r;

			while ((r = netbe_recv(peer[i], &v, 1)) > 0)
				if (r < 12 + 14)
					abort();
		}
		if (!any)
			break;
	}
}

static uint64_t sum(const uint64_t *a)
{
	uint64_t n = 0;

	for (int i = 0; i < 16; i++)
		n += a[i];
	return n;
}

static void check_balance(void)
{
	for (unsigned i = 0; i < NP; i++) {
		struct netbe_switch_port_stats st;

		if (netbe_switch_port_info(sw, i, NULL, 0, NULL, &st))
			abort();
		if (st.rx_frames != st.rx_forwarded + sum(st.rx_drop) ||
		    st.tx_offered != st.tx_frames + sum(st.tx_drop) + st.queued)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sw)
		setup();
	while (size >= 3) {
		size_t len = (size_t)(data[1] << 8 | data[2]);
		struct iovec v = { (void *)(data + 3), 0 };

		len = len < size - 3 ? len : size - 3;
		v.iov_len = len;
		(void)netbe_send(peer[data[0] % NP], &v, 1);
		data += 3 + len;
		size -= 3 + len;
	}
	drain();
	check_balance();
	return 0;
}
