/* SPDX-License-Identifier: BSD-2-Clause */
/* netbe_send_batch / netbe_recv_batch on pipes. */
#include "unit_util.h"

#define PLAIN(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown_pair)
#define OFFL(f) cmocka_unit_test_setup_teardown(f, setup_offload, teardown_pair)

#define NMAX 100
#define ROOM 512

struct batch {
	uint8_t data[NMAX][ROOM];
	struct iovec iov[NMAX];
	struct netbe_msg msg[NMAX];
};

static struct batch txb, rxb;

/* Frame i of a batch: @hlen header bytes, 60 + i frame bytes, seed i. */
static size_t flen_of(int i)
{
	return 60 + (size_t)i;
}

static struct netbe_msg *tx_prep(int n, unsigned hlen)
{
	for (int i = 0; i < n; i++) {
		size_t len = build(txb.data[i], hlen, NULL, flen_of(i),
				   (unsigned)i);

		txb.iov[i] = (struct iovec){ txb.data[i], len };
		txb.msg[i] = (struct netbe_msg){ &txb.iov[i], 1, 0 };
	}
	return txb.msg;
}

static struct netbe_msg *rx_prep(int n, size_t room)
{
	memset(rxb.data, 0, sizeof(rxb.data));
	for (int i = 0; i < n; i++) {
		rxb.iov[i] = (struct iovec){ rxb.data[i], room };
		rxb.msg[i] = (struct netbe_msg){ &rxb.iov[i], 1, 0 };
	}
	return rxb.msg;
}

/* Received slot @slot holds frame @seed (with @hlen header bytes). */
static void expect_slot(int slot, unsigned hlen, int seed)
{
	assert_int_equal(rxb.msg[slot].len, hlen + flen_of(seed));
	assert_true(frame_ok(rxb.data[slot] + hlen, flen_of(seed),
			     (unsigned)seed));
}

static void set_hdr(struct pair *p, unsigned hlen)
{
	assert_int_equal(netbe_set_cap(p->a, 0, hlen), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, hlen), 0);
}

/* Sends @n frames and receives them all in order. */
static void roundtrip(struct pair *p, int n, unsigned hlen)
{
	struct netbe_msg *m = tx_prep(n, hlen);

	assert_int_equal(netbe_send_batch(p->a, m, n), n);
	for (int i = 0; i < n; i++)
		assert_int_equal(m[i].len, hlen + flen_of(i));
	rx_prep(n, ROOM);
	assert_int_equal(netbe_recv_batch(p->b, rxb.msg, n), n);
	for (int i = 0; i < n; i++)
		expect_slot(i, hlen, i);
	assert_int_equal(netbe_recv_batch(p->b, rxb.msg, n), 0);
}

static void batch_native(void **state)
{
	struct pair *p = *state;

	roundtrip(p, 8, 0);
	assert_int_equal(stats_of(p->a).tx_frames, 8);
	assert_int_equal(stats_of(p->a).tx_bytes, 8 * 60 + 28);
	assert_int_equal(stats_of(p->b).rx_frames, 8);
}

static void batch_with_translation(void **state)
{
	struct pair *p = *state;

	set_hdr(p, 12); /* 12 over a header-less wire: the loop path */
	roundtrip(p, 10, 12);
	assert_int_equal(stats_of(p->a).tx_frames, 10);
	assert_int_equal(stats_of(p->b).rx_frames, 10);
}

static void batch_offload_native(void **state)
{
	struct pair *p = *state;

	set_hdr(p, 12);
	roundtrip(p, 10, 12);
}

static void recv_batch_empty(void **state)
{
	struct pair *p = *state;

	assert_int_equal(netbe_recv_batch(p->b, rx_prep(4, ROOM), 4), 0);
	set_hdr(p, 12);
	assert_int_equal(netbe_recv_batch(p->b, rx_prep(4, ROOM), 4), 0);
	assert_int_equal(netbe_send_batch(p->a, txb.msg, 0), 0);
	assert_int_equal(stats_of(p->b).rx_errors, 0);
}

/* The doc: fewer than n only "when the backend is full". */
static void batch_over_64_returns_all(void **state)
{
	struct pair *p = *state;

	assert_int_equal(netbe_send_batch(p->a, tx_prep(NMAX, 0), NMAX), NMAX);
}

/* Whatever one call accepts, frames the caller resends are not drops. */
static void batch_over_64_no_drops(void **state)
{
	struct pair *p = *state;
	struct netbe_msg *m = tx_prep(NMAX, 0);
	int done = 0, got = 0, r;

	while (done < NMAX) {
		r = netbe_send_batch(p->a, m + done, NMAX - done);
		assert_true(r > 0);
		done += r;
	}
	rx_prep(NMAX, ROOM);
	while (got < NMAX && (r = netbe_recv_batch(p->b, rxb.msg + got,
						   NMAX - got)) > 0)
		got += r;
	assert_int_equal(got, NMAX);
	for (int i = 0; i < NMAX; i++)
		expect_slot(i, 0, i);
	assert_int_equal(stats_of(p->a).tx_frames, NMAX);
	assert_int_equal(stats_of(p->a).tx_drops, 0);
}

/* Frame 2 of 5 is a runt: dropped and counted (a drop with its reason,
 * not an error: the backend never failed), the others pass. */
static void malformed_middle(struct pair *p, unsigned hlen)
{
	struct netbe_msg *m = tx_prep(5, hlen);

	set_hdr(p, hlen);
	txb.iov[2].iov_len = hlen + 10;
	assert_int_equal(netbe_send_batch(p->a, m, 5), 5);
	assert_int_equal(m[2].len, 0);
	assert_int_equal(m[3].len, hlen + flen_of(3));
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_RUNT), 1);
	assert_int_equal(stats_of(p->a).tx_drops, 1);
	assert_int_equal(stats_of(p->a).tx_errors, 0);
	assert_int_equal(stats_of(p->a).tx_frames, 4);
	assert_int_equal(netbe_recv_batch(p->b, rx_prep(5, ROOM), 5), 4);
	expect_slot(0, hlen, 0);
	expect_slot(1, hlen, 1);
	expect_slot(2, hlen, 3);
	expect_slot(3, hlen, 4);
}

static void malformed_middle_native(void **state)
{
	malformed_middle(*state, 0);
}

static void malformed_middle_loop(void **state)
{
	malformed_middle(*state, 12);
}

/* Frames 0 and 2 do not fit their slot: dropped, the others kept. */
static void too_big_dropped(struct pair *p, unsigned hlen)
{
	struct netbe_msg *m = tx_prep(5, hlen);

	set_hdr(p, hlen);
	txb.iov[0].iov_len = hlen + 300;
	txb.iov[2].iov_len = hlen + 300;
	assert_int_equal(netbe_send_batch(p->a, m, 5), 5);
	assert_int_equal(netbe_recv_batch(p->b, rx_prep(5, hlen + 100), 5), 3);
	expect_slot(0, hlen, 1);
	expect_slot(1, hlen, 3);
	expect_slot(2, hlen, 4);
	assert_int_equal(stats_of(p->b).rx_drops, 2);
	assert_int_equal(stats_of(p->b).rx_frames, 3);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
}

static void too_big_dropped_native(void **state)
{
	too_big_dropped(*state, 0);
}

static void too_big_dropped_loop(void **state)
{
	too_big_dropped(*state, 12);
}

/* Every frame of the batch is too big, another one waits behind them:
 * it is received, as the loop path does (not "0: nothing waiting"). */
static void too_big_whole_batch(void **state)
{
	struct pair *p = *state;
	struct netbe_msg *m = tx_prep(3, 0);

	txb.iov[0].iov_len = 300;
	txb.iov[1].iov_len = 300;
	assert_int_equal(netbe_send_batch(p->a, m, 3), 3);
	assert_int_equal(netbe_recv_batch(p->b, rx_prep(2, 100), 2), 1);
	expect_slot(0, 0, 2);
	assert_int_equal(stats_of(p->b).rx_drops, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PLAIN(batch_native),
		PLAIN(batch_with_translation),
		OFFL(batch_offload_native),
		PLAIN(recv_batch_empty),
		PLAIN(batch_over_64_returns_all),
		PLAIN(batch_over_64_no_drops),
		PLAIN(malformed_middle_native),
		PLAIN(malformed_middle_loop),
		PLAIN(too_big_dropped_native),
		PLAIN(too_big_dropped_loop),
		PLAIN(too_big_whole_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
