/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core/backend seam (issue 8), through the public API only:
 * - held frames: rx_enable calls back for segments the library holds;
 * - the frontend's header is checked on the native path, both ways;
 * - a batch refused whole is counted; drops carry reasons that sum up;
 * - two threads, a sender into a link that fills up and a receiver:
 *   every counter balances exactly (and ThreadSanitizer sees no race,
 *   in `make test-tsan`), with rx_enable racing a hangup;
 * - labels name the handle, escaped.
 */
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit_util.h"
#include "../offload/frames.h"

#define GSO_PAYLOAD 60000
#define MSS 1400

/* A 12-byte header then a real TCP/IPv4 frame of @payload bytes. */
static size_t tcp_frame(uint8_t *buf, size_t payload, uint8_t gso,
			struct netbe_vnet_hdr *h)
{
	struct fspec s = { .proto = 6, .payload = payload, .tcp_flags = F_ACK,
			   .seq = 1000, .seed = 3 };
	struct flay l = fbuild(buf + 12, &s);

	*h = fhdr(&s, &l, gso, MSS);
	memcpy(buf, h, 12);
	return 12 + l.len;
}

static ssize_t send12(netbe_t *be, const uint8_t *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };

	return netbe_send(be, &v, 1);
}

/* ---- bug 1: rx_enable and frames the library holds --------------------------- */

static int calls;

static void count_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
	calls++;
}

static void held_segments_call_back(void **state)
{
	struct pair *p = *state;
	static uint8_t buf[12 + 65536], in[2048];
	struct netbe_vnet_hdr h;
	size_t n = tcp_frame(buf, GSO_PAYLOAD, NETBE_VNET_HDR_GSO_TCPV4, &h);

	/* B takes no TSO: the library cuts the frame into held segments. */
	assert_int_equal(netbe_set_cap(p->a, NETBE_OFFLOAD_MASK, 12), 0);
	assert_int_equal(netbe_set_cap(p->b, 0, 12), 0);
	assert_int_equal(netbe_set_rx_cb(p->b, count_cb, NULL), 0);
	assert_int_equal(send12(p->a, buf, n), (ssize_t)n);
	assert_true(netbe_peek_recvlen(p->b) > 0);
	assert_true(recv_buf(p->b, in, sizeof(in)) > 0);
	/* A bhyve frontend out of guest buffers: disable, later enable. */
	netbe_rx_disable(p->b);
	calls = 0;
	netbe_rx_enable(p->b);
	for (int i = 0; i < 5 && !calls; i++)
		netbe_loop_run_once(p->loop, 100);
	assert_true(calls > 0);
	/* Everything held comes out, then nothing more. */
	n = 1;
	while (recv_buf(p->b, in, sizeof(in)) > 0)
		n++;
	assert_int_equal(n, (GSO_PAYLOAD + MSS - 1) / MSS);
}

/* ---- a segmented frame the backend takes in part -------------------------------- */

static uint64_t drain_count(netbe_t *b)
{
	static uint8_t in[2048];
	struct iovec v = { in, sizeof(in) };
	uint64_t n = 0;

	while (netbe_recv(b, &v, 1) > 0)
		n++;
	return n;
}

/* The link fills in the middle of a frame's segments: the rest is kept
 * and sent first once there is room, so every segment of every frame
 * the library accepted arrives. */
static void partial_gso_kept(void **state)
{
	struct pair *p = *state;
	static uint8_t buf[12 + 65536];
	struct netbe_vnet_hdr h;
	size_t n = tcp_frame(buf, GSO_PAYLOAD, NETBE_VNET_HDR_GSO_TCPV4, &h);
	struct iovec v = { buf, n }, small = { buf + 12, 60 };
	uint64_t accepted = 0, got = 0, segs = (GSO_PAYLOAD + MSS - 1) / MSS;

	assert_int_equal(netbe_set_cap(p->a, NETBE_F_CSUM |
				       NETBE_F_HOST_TSO4, 12), 0);
	for (int round = 0; round < 20; round++) {
		while (netbe_send(p->a, &v, 1) > 0)
			accepted++;
		got += drain_count(p->b);
	}
	assert_true(accepted > 0);
	assert_int_equal(netbe_set_cap(p->a, 0, 0), 0); /* a plain frame */
	while (netbe_send(p->a, &small, 1) == -EAGAIN)
		got += drain_count(p->b);
	got += drain_count(p->b);
	assert_int_equal(got, accepted * segs + 1);
	assert_int_equal(stats_of(p->a).tx_frames, accepted + 1);
}

/* ---- bug 2: the frontend's header on the native path -------------------------- */

/* Each malformed header is refused on send, counted as bad-header. */
static void tx_bad_headers_refused(void **state)
{
	struct pair *p = *state;
	static uint8_t buf[12 + 4096];
	struct netbe_vnet_hdr h, *w = (struct netbe_vnet_hdr *)buf;
	size_t n = tcp_frame(buf, 3000, NETBE_VNET_HDR_GSO_TCPV4, &h);
	const struct netbe_vnet_hdr bad[] = {
		{ .flags = 1, .gso_type = 1, .gso_size = 0, .csum_start = 34,
		  .csum_offset = 16 },				/* gso_size 0 */
		{ .flags = 1, .csum_start = 4000, .csum_offset = 16 },
		{ .flags = 1, .csum_start = 34, .csum_offset = 4000 },
		{ .flags = 1, .gso_type = 1, .gso_size = MSS, .hdr_len = 9000,
		  .csum_start = 34, .csum_offset = 16 },	/* hdr_len */
		{ .flags = 1, .gso_type = 4, .gso_size = MSS,
		  .csum_start = 34, .csum_offset = 16 },	/* v6 on v4 */
		{ .flags = 1, .gso_type = 3, .gso_size = MSS,
		  .csum_start = 34, .csum_offset = 6 },		/* UDP on TCP */
		{ .flags = 1, .gso_type = 7, .gso_size = MSS,
		  .csum_start = 34, .csum_offset = 16 },	/* unknown */
	};
	unsigned i;

	assert_int_equal(netbe_set_cap(p->a, NETBE_OFFLOAD_MASK, 12), 0);
	assert_int_equal(netbe_set_cap(p->b, NETBE_OFFLOAD_MASK, 12), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		*w = bad[i];
		w->hdr_len = bad[i].hdr_len ? bad[i].hdr_len : 54;
		assert_int_equal(send12(p->a, buf, n), -EINVAL);
		/* The message says why, naming the handle. */
		assert_non_null(strstr(netbe_last_error(), "pipe:unit"));
		assert_non_null(strstr(netbe_last_error(), "refused: "));
	}
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), i);
	assert_int_equal(stats_of(p->a).tx_frames, 0);
	assert_int_equal(netbe_peek_recvlen(p->b), 0);
	/* The good header still goes, whole. */
	*w = h;
	assert_int_equal(send12(p->a, buf, n), (ssize_t)n);
	assert_int_equal(netbe_peek_recvlen(p->b), (ssize_t)n);
}

/* An offload the frontend did not negotiate is a bad header too. */
static void tx_unnegotiated_refused(void **state)
{
	struct pair *p = *state;
	static uint8_t buf[12 + 4096];
	struct netbe_vnet_hdr h;
	size_t n = tcp_frame(buf, 3000, NETBE_VNET_HDR_GSO_TCPV4, &h);

	assert_int_equal(netbe_set_cap(p->a, NETBE_F_CSUM, 12), 0);
	assert_int_equal(send12(p->a, buf, n), -EINVAL);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), 1);
}

/* In a batch: the bad frame is handled (dropped), the others go. */
static void tx_bad_header_in_batch(void **state)
{
	struct pair *p = *state;
	static uint8_t good[12 + 4096], bad[12 + 4096];
	struct netbe_vnet_hdr h;
	size_t n = tcp_frame(good, 3000, NETBE_VNET_HDR_GSO_TCPV4, &h);
	struct iovec v[3] = { { good, n }, { bad, n }, { good, n } };
	struct netbe_msg m[3] = { { &v[0], 1, 0 }, { &v[1], 1, 0 },
				  { &v[2], 1, 0 } };

	memcpy(bad, good, n);
	((struct netbe_vnet_hdr *)bad)->gso_size = 0;
	assert_int_equal(netbe_set_cap(p->a, NETBE_OFFLOAD_MASK, 12), 0);
	assert_int_equal(netbe_send_batch(p->a, m, 3), 3);
	assert_int_equal(m[1].len, 0);
	assert_int_equal(stats_of(p->a).tx_frames, 2);
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_BADHDR), 1);
}

/* A peer's malformed header is dropped on receive, not delivered. */
static void rx_bad_header_dropped(void **state)
{
	struct pair *p = *state;
	static uint8_t buf[12 + 4096], in[12 + 4096];
	struct netbe_vnet_hdr h, *w = (struct netbe_vnet_hdr *)buf;
	size_t n = tcp_frame(buf, 3000, NETBE_VNET_HDR_GSO_TCPV4, &h);

	assert_int_equal(netbe_set_cap(p->b, NETBE_OFFLOAD_MASK, 12), 0);
	/* The far end of B is A's socket: write as a hostile peer would. */
	w->csum_start = 5000;
	assert_int_equal(write(netbe_get_fd(p->a), buf, n), (ssize_t)n);
	*w = h;
	assert_int_equal(write(netbe_get_fd(p->a), buf, n), (ssize_t)n);
	assert_int_equal(recv_buf(p->b, in, sizeof(in)), (ssize_t)n);
	assert_memory_equal(in, &h, 10);
	assert_int_equal(drops_of(p->b, NETBE_RX, NETBE_DROP_BADHDR), 1);
	assert_int_equal(stats_of(p->b).rx_frames, 1);
}

/* ---- bug 4: a batch refused whole ---------------------------------------------- */

static void batch_refused_whole_counted(void **state)
{
	struct pair *p = *state;
	static uint8_t frame[1500];
	struct iovec v = { frame, sizeof(frame) };
	struct netbe_msg m[8];
	uint64_t refused = 0;

	for (int i = 0; i < 8; i++)
		m[i] = (struct netbe_msg){ &v, 1, 0 };
	/* Fill the link: single sends until one is refused. */
	while (netbe_send(p->a, &v, 1) > 0)
		;
	refused++;
	assert_int_equal(netbe_send_batch(p->a, m, 8), -EAGAIN);
	refused += 8;
	assert_int_equal(drops_of(p->a, NETBE_TX, NETBE_DROP_FULL), refused);
	assert_int_equal(stats_of(p->a).tx_drops, refused);
}

/* ---- counters under two threads ----------------------------------------------- */

#define RACE_FRAMES 60000

struct race {
	struct pair *p;
	uint64_t attempts, accepted, received, rx_bytes;
	int done;
};

static void *race_send(void *arg)
{
	struct race *r = arg;
	static uint8_t frame[600];
	struct iovec v = { frame, sizeof(frame) };
	struct netbe_msg m[16];

	for (int i = 0; i < 16; i++)
		m[i] = (struct netbe_msg){ &v, 1, 0 };
	while (r->accepted < RACE_FRAMES) {
		int k = netbe_send_batch(r->p->a, m, 16);

		r->attempts += 16;
		r->accepted += k > 0 ? (uint64_t)k : 0;
	}
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *race_recv(void *arg)
{
	struct race *r = arg;
	static uint8_t bufs[32][700];
	struct iovec v[32];
	struct netbe_msg m[32];

	for (int i = 0; i < 32; i++) {
		v[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		m[i] = (struct netbe_msg){ &v[i], 1, 0 };
	}
	for (;;) {
		int done = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
		int k = netbe_recv_batch(r->p->b, m, 32);

		for (int i = 0; i < k; i++)
			r->rx_bytes += m[i].len;
		r->received += k > 0 ? (uint64_t)k : 0;
		if (k <= 0 && done)
			break;
		usleep(100); /* slower than the sender: the link fills */
	}
	return NULL;
}

/* Meanwhile a third thread toggles B's receive, as a vCPU would. */
static void *race_toggle(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		netbe_rx_enable(r->p->b);
		netbe_rx_disable(r->p->b);
	}
	return NULL;
}

static void counters_balance_two_threads(void **state)
{
	struct race r = { .p = *state };
	pthread_t ts, tr, tt;
	struct netbe_stats a, b;

	assert_int_equal(pthread_create(&tr, NULL, race_recv, &r), 0);
	assert_int_equal(pthread_create(&tt, NULL, race_toggle, &r), 0);
	assert_int_equal(pthread_create(&ts, NULL, race_send, &r), 0);
	pthread_join(ts, NULL);
	pthread_join(tt, NULL);
	pthread_join(tr, NULL);
	netbe_get_stats(r.p->a, &a);
	netbe_get_stats(r.p->b, &b);
	assert_true(a.tx_drops > 0); /* the link did fill up */
	assert_int_equal(a.tx_frames, r.accepted);
	assert_int_equal(a.tx_frames + a.tx_drops, r.attempts);
	assert_int_equal(drops_of(r.p->a, NETBE_TX, NETBE_DROP_FULL),
			 a.tx_drops);
	assert_int_equal(b.rx_frames, r.received);
	assert_int_equal(b.rx_frames, a.tx_frames);
	assert_int_equal(b.rx_bytes, a.tx_bytes);
	assert_int_equal(b.rx_bytes, r.rx_bytes);
	assert_int_equal(b.rx_drops + b.rx_errors + a.tx_errors, 0);
}

/* rx_enable on one thread while the loop thread sees the peer hang up. */
static void *hangup_toggle(void *arg)
{
	netbe_t *b = arg;

	for (int i = 0; i < 20000; i++)
		netbe_rx_enable(b);
	return NULL;
}

static void rx_enable_races_hangup(void **state)
{
	struct pair *p = *state;
	pthread_t t;

	netbe_rx_enable(p->b);
	netbe_cleanup(p->a); /* B's peer is gone: the loop sees EOF */
	p->a = NULL;
	assert_int_equal(pthread_create(&t, NULL, hangup_toggle, p->b), 0);
	for (int i = 0; i < 20; i++) {
		netbe_loop_run_once(p->loop, 5);
		netbe_peek_recvlen(p->b); /* reads EOF: the hangup */
	}
	pthread_join(t, NULL);
}

/*
 * The stream backend counts on two threads: the sender's refusals, and
 * the loop thread's frame cut short when the peer goes away.  Under load
 * a load-then-store lost updates; atomic adds lose none.
 */
struct sr {
	netbe_t *be;
	netbe_loop_t *loop;
	uint64_t attempts;
	int stop;
};

static void *sr_loop(void *arg)
{
	netbe_loop_run(((struct sr *)arg)->loop);
	return NULL;
}

static void *sr_send(void *arg)
{
	struct sr *r = arg;
	static uint8_t frame[1400];
	struct iovec v = { frame, sizeof(frame) };

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		netbe_send(r->be, &v, 1);
		r->attempts++;
	}
	return NULL;
}

/* A peer that connects, reads a little, and hangs up, a few times. */
static void sr_peers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 5; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa,
					 sizeof(sa)), 0);
		for (int k = 0; k < 20; k++)
			(void)!read(fd, buf, sizeof(buf));
		close(fd);
		usleep(20000);
	}
}

static void stream_counts_on_two_threads(void **state)
{
	struct sr r = { 0 };
	char spec[128], path[64];
	pthread_t tl, ts;
	struct netbe_stats st;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/netbe-seam-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "stream,listen=unix:%s", path);
	assert_int_equal(netbe_loop_new(&r.loop), 0);
	assert_int_equal(netbe_open(&r.be, spec, r.loop, unit_nop_cb, NULL),
			 0);
	assert_int_equal(pthread_create(&tl, NULL, sr_loop, &r), 0);
	assert_int_equal(pthread_create(&ts, NULL, sr_send, &r), 0);
	sr_peers(path);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ts, NULL);
	netbe_loop_stop(r.loop);
	pthread_join(tl, NULL);
	netbe_get_stats(r.be, &st);
	/* Each refusal or loss once: at most one frame per hang-up was
	 * accepted and then cut short (counted as both). */
	assert_true(st.tx_frames > 0 && st.tx_drops > 0);
	assert_true(st.tx_frames + st.tx_drops >= r.attempts);
	assert_true(st.tx_frames + st.tx_drops <= r.attempts + 5);
	assert_int_equal(st.tx_errors, 0);
	netbe_cleanup(r.be);
	netbe_loop_free(r.loop);
}

/* ---- labels -------------------------------------------------------------------- */

static void labels_name_the_handle(void **state)
{
	struct pair *p = *state;

	assert_string_equal(netbe_get_label(p->a), netbe_get_label(p->b));
	assert_non_null(strstr(netbe_get_label(p->a), "pipe:unit"));
	assert_int_equal(netbe_set_name(p->a, "vm\0331"), 0);
	assert_non_null(strstr(netbe_get_label(p->a), "vm\\x1b1 (pipe:unit"));
	assert_null(strchr(netbe_get_label(p->a), '\033'));
	assert_string_equal(netbe_drop_name(NETBE_DROP_BADHDR), "bad-header");
	assert_string_equal(netbe_drop_name(-1), "unknown");
	assert_string_equal(netbe_drop_name(NETBE_DROP_NREASONS), "unknown");
	assert_int_equal(netbe_get_drops(p->a, 7, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(held_segments_call_back,
						setup_offload, teardown_pair),
		cmocka_unit_test_setup_teardown(partial_gso_kept,
						setup_plain, teardown_pair),
		cmocka_unit_test_setup_teardown(tx_bad_headers_refused,
						setup_offload, teardown_pair),
		cmocka_unit_test_setup_teardown(tx_unnegotiated_refused,
						setup_offload, teardown_pair),
		cmocka_unit_test_setup_teardown(tx_bad_header_in_batch,
						setup_offload, teardown_pair),
		cmocka_unit_test_setup_teardown(rx_bad_header_dropped,
						setup_offload, teardown_pair),
		cmocka_unit_test_setup_teardown(batch_refused_whole_counted,
						setup_plain, teardown_pair),
		cmocka_unit_test_setup_teardown(counters_balance_two_threads,
						setup_plain, teardown_pair),
		cmocka_unit_test_setup_teardown(rx_enable_races_hangup,
						setup_plain, teardown_pair),
		cmocka_unit_test(stream_counts_on_two_threads),
		cmocka_unit_test_setup_teardown(labels_name_the_handle,
						setup_plain, teardown_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
