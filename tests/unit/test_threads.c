/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The thread model netbe.h promises (and bhyve's virtio-net relies on):
 * one thread sends while another receives on the same backend.  End A of a
 * pipe has a sender thread and a receiver thread; the main thread echoes
 * every frame back from end B.  Every frame must come back, in order, and
 * A's counters must add up.  Run under ASan/TSan to catch races.
 */
#include <pthread.h>
#include <time.h>

#include "unit_util.h"

#define NFRAMES 20000
#define FRAME 128

static void nap(void)
{
	struct timespec ts = { 0, 20000 };

	nanosleep(&ts, NULL);
}

static void *sender(void *arg)
{
	netbe_t *a = arg;
	uint8_t f[FRAME] = { 0 };
	struct iovec iov = { f, sizeof(f) };

	for (uint32_t seq = 0; seq < NFRAMES;) {
		memcpy(f + 14, &seq, sizeof(seq));
		if (netbe_send(a, &iov, 1) == (ssize_t)sizeof(f))
			seq++;
		else
			nap(); /* full: the echo is behind */
	}
	return NULL;
}

struct rx_result {
	netbe_t *a;
	uint32_t got, out_of_order;
};

static void *receiver(void *arg)
{
	struct rx_result *res = arg;
	uint8_t f[FRAME + 64];
	struct iovec iov = { f, sizeof(f) };

	while (res->got < NFRAMES) {
		ssize_t n = netbe_recv(res->a, &iov, 1);
		uint32_t seq;

		if (n <= 0) {
			nap();
			continue;
		}
		memcpy(&seq, f + 14, sizeof(seq));
		res->out_of_order += seq != res->got || n != FRAME;
		res->got++;
	}
	return NULL;
}

/* Echoes frames from B back to A until @total have gone back. */
static void echo(netbe_t *b, uint32_t total)
{
	uint8_t f[FRAME + 64];
	struct iovec iov = { f, sizeof(f) };

	for (uint32_t done = 0; done < total;) {
		ssize_t n = netbe_recv(b, &iov, 1);
		struct iovec out = { f, (size_t)n };

		if (n <= 0) {
			nap();
			continue;
		}
		while (netbe_send(b, &out, 1) != n)
			nap();
		done++;
	}
}

static void send_and_recv_on_two_threads(void **state)
{
	struct pair *p = *state;
	struct rx_result res = { .a = p->a };
	struct netbe_stats st;
	pthread_t tx, rx;

	assert_int_equal(pthread_create(&rx, NULL, receiver, &res), 0);
	assert_int_equal(pthread_create(&tx, NULL, sender, p->a), 0);
	echo(p->b, NFRAMES);
	pthread_join(tx, NULL);
	pthread_join(rx, NULL);
	assert_int_equal(res.got, NFRAMES);
	assert_int_equal(res.out_of_order, 0);
	netbe_get_stats(p->a, &st);
	assert_int_equal(st.tx_frames, NFRAMES);
	assert_int_equal(st.rx_frames, NFRAMES);
	assert_int_equal(st.tx_bytes, (uint64_t)NFRAMES * FRAME);
	assert_int_equal(st.rx_bytes, (uint64_t)NFRAMES * FRAME);
	assert_int_equal(st.rx_errors + st.tx_errors + st.rx_drops, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(send_and_recv_on_two_threads,
						setup_plain, teardown_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
