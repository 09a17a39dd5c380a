/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A frontend the way bhyve's virtio-net uses the API, written against
 * netbe.h only: legacy config, netbe_init on the default loop (run on a
 * thread of ours), negotiation, and an rx callback that peeks, receives
 * into guest-like descriptor chains or discards, until nothing is left.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbe.h"

#define HDR NETBE_VNET_HDR_MRG_LEN
#define DESC 256 /* guest rx descriptor size */

static pthread_t loop_thread;

struct vnic {
	netbe_t *be, *peer;
	pthread_mutex_t lock;
	int calls, handled, discarded;
	int bad_len, bad_order, after_disable;
	int disabled; /* netbe_rx_disable returned */
};

static void *loop_main(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)netbe_loop_run(netbe_loop_default());
}

static int group_setup(void **state)
{
	(void)state;
	return pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static int group_teardown(void **state)
{
	void *r;

	(void)state;
	netbe_loop_stop(netbe_loop_default());
	pthread_join(loop_thread, &r);
	return r == NULL ? 0 : -1;
}

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static size_t frame_len(int seq)
{
	return 60 + (size_t)(seq * 37 % 1400);
}

/* Receives one frame of @len into a chain of DESC-byte descriptors. */
static void rx_one(struct vnic *v, ssize_t len)
{
	static uint8_t buf[HDR + 2000];
	struct iovec iov[16];
	size_t off = 0;
	int n = 0;
	uint32_t seq;

	iov[n++] = (struct iovec){ buf, HDR };
	for (off = HDR; off < (size_t)len; off += DESC, n++)
		iov[n] = (struct iovec){ buf + off, (size_t)len - off < DESC
							? (size_t)len - off
							: DESC };
	if (netbe_recv(v->be, iov, n) != len)
		v->bad_len++;
	memcpy(&seq, buf + HDR + 14, sizeof(seq));
	if (seq != (uint32_t)v->handled)
		v->bad_order++;
}

static void rx_cb(int fd, int events, void *param)
{
	struct vnic *v = param;
	ssize_t len;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&v->lock);
	v->calls++;
	if (v->disabled)
		v->after_disable++;
	while ((len = netbe_peek_recvlen(v->be)) > 0) {
		if (v->handled % 5 == 4) {
			v->discarded++;
			if (netbe_rx_discard(v->be) != len)
				v->bad_len++;
		} else {
			rx_one(v, len);
		}
		v->handled++;
	}
	pthread_mutex_unlock(&v->lock);
}

static int get(struct vnic *v, const int *field)
{
	int r;

	pthread_mutex_lock(&v->lock);
	r = *field;
	pthread_mutex_unlock(&v->lock);
	return r;
}

static void wait_handled(struct vnic *v, int want)
{
	for (int i = 0; i < 5000 && get(v, &v->handled) < want; i++)
		usleep(1000);
	assert_int_equal(get(v, &v->handled), want);
}

static void peer_send(struct vnic *v, int from, int n)
{
	static uint8_t buf[HDR + 2000];

	for (int seq = from; seq < from + n; seq++) {
		size_t len = frame_len(seq);
		uint32_t s = (uint32_t)seq;
		struct iovec iov = { buf, HDR + len };

		memset(buf, 0, HDR);
		memset(buf + HDR, 0xa5, len);
		memcpy(buf + HDR + 14, &s, sizeof(s));
		assert_int_equal(netbe_send(v->peer, &iov, 1),
				 (ssize_t)(HDR + len));
	}
}

/* Opens the NIC as bhyve does, and a peer end of the same pipe. */
static struct vnic *vnic_open(const char *extra)
{
	static unsigned seq;
	uint64_t feat = NETBE_F_CSUM | NETBE_F_GUEST_CSUM |
			NETBE_F_HOST_TSO4 | NETBE_F_GUEST_TSO4 |
			NETBE_F_MRG_RXBUF | NETBE_F_MAC |
			NETBE_F_STATUS;
	struct vnic *v = calloc(1, sizeof(*v));
	netbe_config_t *cfg = netbe_config_new();
	char spec[128];
	uint64_t cap;

	assert_non_null(v);
	pthread_mutex_init(&v->lock, NULL);
	snprintf(spec, sizeof(spec), "pipe:fe%u,offload=on%s", ++seq, extra);
	assert_int_equal(netbe_legacy_config(cfg, spec), 0);
	assert_int_equal(netbe_init(&v->be, cfg, rx_cb, v), 0);
	netbe_config_free(cfg);
	snprintf(spec, sizeof(spec), "pipe:fe%u,offload=on", seq);
	assert_int_equal(netbe_open(&v->peer, spec, NULL, nop_cb, NULL), 0);
	cap = netbe_get_cap(v->be);
	assert_true(cap == NETBE_OFFLOAD_MASK);
	assert_int_equal(netbe_set_cap(v->be, feat & (cap | NETBE_F_MRG_RXBUF), HDR), 0);
	assert_int_equal(netbe_set_cap(v->peer, 0, HDR), 0);
	return v;
}

static void vnic_close(struct vnic *v)
{
	netbe_rx_disable(v->be);
	netbe_cleanup(v->be);
	netbe_cleanup(v->peer);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static void rx_disable_now(struct vnic *v)
{
	netbe_rx_disable(v->be);
	pthread_mutex_lock(&v->lock);
	v->disabled = 1;
	pthread_mutex_unlock(&v->lock);
}

static void rx_enable_now(struct vnic *v)
{
	pthread_mutex_lock(&v->lock);
	v->disabled = 0;
	pthread_mutex_unlock(&v->lock);
	netbe_rx_enable(v->be);
}

static void receive_drain(void **state)
{
	struct vnic *v = vnic_open("");
	struct netbe_stats st;

	(void)state;
	rx_enable_now(v);
	peer_send(v, 0, 20);
	wait_handled(v, 20);
	assert_int_equal(get(v, &v->discarded), 4);
	assert_int_equal(get(v, &v->bad_len), 0);
	assert_int_equal(get(v, &v->bad_order), 0);
	netbe_get_stats(v->be, &st);
	assert_int_equal(st.rx_frames, 16);
	assert_int_equal(st.rx_drops, 4);
	vnic_close(v);
}

static void disable_then_enable(void **state)
{
	struct vnic *v = vnic_open("");
	int calls;

	(void)state;
	rx_enable_now(v);
	peer_send(v, 0, 5);
	wait_handled(v, 5);
	rx_disable_now(v);
	calls = get(v, &v->calls);
	peer_send(v, 5, 10);
	usleep(100000);
	assert_int_equal(get(v, &v->calls), calls);
	assert_int_equal(get(v, &v->handled), 5);
	assert_int_equal(get(v, &v->after_disable), 0);
	rx_enable_now(v);
	wait_handled(v, 15);
	assert_int_equal(get(v, &v->bad_len), 0);
	assert_int_equal(get(v, &v->bad_order), 0);
	vnic_close(v);
}

static void mac_from_config(void **state)
{
	struct vnic *v = vnic_open(",mac=02:11:22:33:44:55");
	const uint8_t want[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	uint8_t mac[8] = { 0 };
	size_t len = sizeof(mac);

	(void)state;
	assert_int_equal(netbe_get_mac(v->be, mac, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(mac, want, 6);
	len = 5;
	assert_int_equal(netbe_get_mac(v->be, mac, &len), -ENOMEM);
	len = sizeof(mac);
	assert_int_equal(netbe_get_mac(v->peer, mac, &len), -ENOTSUP);
	vnic_close(v);
}

static long thread_cpu_ms(pthread_t t)
{
	struct timespec ts;
	clockid_t c;

	assert_int_equal(pthread_getcpuclockid(t, &c), 0);
	assert_int_equal(clock_gettime(c, &ts), 0);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The peer goes away: the frames already sent arrive, then silence. */
static void peer_closed(void **state)
{
	struct vnic *v = vnic_open("");
	long cpu;
	int calls;

	(void)state;
	rx_enable_now(v);
	peer_send(v, 0, 3);
	netbe_cleanup(v->peer);
	v->peer = NULL;
	wait_handled(v, 3);
	usleep(20000);
	calls = get(v, &v->calls);
	cpu = thread_cpu_ms(loop_thread);
	usleep(200000);
	assert_int_equal(get(v, &v->calls), calls);
	assert_true(calls <= 4);
	assert_true(thread_cpu_ms(loop_thread) - cpu < 50);
	netbe_rx_enable(v->be);
	usleep(50000);
	assert_int_equal(get(v, &v->calls), calls);
	assert_int_equal(get(v, &v->bad_len), 0);
	vnic_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(receive_drain),
		cmocka_unit_test(disable_then_enable),
		cmocka_unit_test(mac_from_config),
		cmocka_unit_test(peer_closed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
