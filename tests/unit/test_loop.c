/* SPDX-License-Identifier: BSD-2-Clause */
/* The event loop: timers, fd watches, deletion, stop, embedding, rx. */
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "unit_util.h"

static int setup_loop(void **state)
{
	netbe_loop_t *loop;

	if (netbe_loop_new(&loop) < 0)
		return -1;
	*state = loop;
	return 0;
}

static int teardown_loop(void **state)
{
	netbe_loop_free(*state);
	return 0;
}

#define LOOP(f) cmocka_unit_test_setup_teardown(f, setup_loop, teardown_loop)
#define PLAIN(f) cmocka_unit_test_setup_teardown(f, setup_plain, teardown_pair)

struct hits {
	int n, events, fd;
	netbe_loop_t *loop;
	netbe_watch_t *self, *other;
};

static void count_cb(int fd, int events, void *arg)
{
	struct hits *h = arg;

	h->n++;
	h->events = events;
	h->fd = fd;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timers ---------------------------------------------------------------- */

static void timer_oneshot(void **state)
{
	struct hits h = { 0 };
	netbe_watch_t *w;

	assert_int_equal(netbe_loop_add_timer(*state, 10, 0, count_cb, &h, &w),
			 0);
	assert_int_equal(netbe_loop_run_once(*state, 1000), 1);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.events, NETBE_EV_TIMER);
	assert_int_equal(netbe_loop_run_once(*state, 50), 0);
	assert_int_equal(h.n, 1);
}

static void timer_periodic(void **state)
{
	struct hits h = { 0 };
	netbe_watch_t *w;
	long t0 = now_ms();

	assert_int_equal(netbe_loop_add_timer(*state, 5, 1, count_cb, &h, &w),
			 0);
	while (h.n < 4 && now_ms() - t0 < 2000)
		assert_true(netbe_loop_run_once(*state, 1000) >= 0);
	assert_int_equal(h.n, 4);
	netbe_watch_del(w);
	assert_int_equal(netbe_loop_run_once(*state, 30), 0);
	assert_int_equal(h.n, 4);
}

static void timer_rearm_disarm(void **state)
{
	struct hits h = { 0 };
	netbe_watch_t *w, *fdw;
	int fds[2];

	assert_int_equal(netbe_loop_add_timer(*state, 10000, 0, count_cb, &h,
					      &w), 0);
	assert_int_equal(netbe_timer_set(w, 5, 0), 0);
	assert_int_equal(netbe_loop_run_once(*state, 1000), 1);
	assert_int_equal(h.n, 1);
	assert_int_equal(netbe_timer_set(w, 5, 1), 0);
	assert_int_equal(netbe_timer_set(w, 0, 0), 0);
	assert_int_equal(netbe_loop_run_once(*state, 50), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(netbe_loop_add_fd(*state, fds[0], NETBE_EV_READ, 1,
					   count_cb, &h, &fdw), 0);
	assert_int_equal(netbe_timer_set(fdw, 5, 0), -EINVAL);
	netbe_watch_del(fdw);
	close(fds[0]);
	close(fds[1]);
}

/* An expiry that sits in epoll when the timer is disarmed is not run. */
static void timer_disarm_expired(void **state)
{
	struct hits h = { 0 };
	netbe_watch_t *w;

	assert_int_equal(netbe_loop_add_timer(*state, 1, 0, count_cb, &h, &w),
			 0);
	usleep(20000);
	assert_int_equal(netbe_timer_set(w, 0, 0), 0);
	assert_int_equal(netbe_loop_run_once(*state, 0), 0);
	assert_int_equal(h.n, 0);
}

/* ---- fd watches --------------------------------------------------------------- */

struct fdw {
	int fds[2];
	struct hits h;
	netbe_watch_t *w;
};

static struct fdw *fd_watch(netbe_loop_t *loop, int enabled)
{
	static struct fdw f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(pipe(f.fds), 0);
	assert_int_equal(write(f.fds[1], "x", 1), 1);
	assert_int_equal(netbe_loop_add_fd(loop, f.fds[0], NETBE_EV_READ,
					   enabled, count_cb, &f.h, &f.w), 0);
	return &f;
}

static void fd_close(struct fdw *f)
{
	netbe_watch_del(f->w);
	close(f->fds[0]);
	close(f->fds[1]);
}

static void watch_disabled_never_runs(void **state)
{
	struct fdw *f = fd_watch(*state, 0);

	assert_int_equal(netbe_loop_run_once(*state, 50), 0);
	assert_int_equal(f->h.n, 0);
	assert_int_equal(netbe_watch_enable(f->w), 0);
	assert_int_equal(netbe_loop_run_once(*state, 1000), 1);
	assert_int_equal(f->h.n, 1);
	assert_int_equal(f->h.events, NETBE_EV_READ);
	assert_int_equal(f->h.fd, f->fds[0]);
	assert_int_equal(netbe_watch_disable(f->w), 0);
	assert_int_equal(netbe_loop_run_once(*state, 50), 0);
	assert_int_equal(f->h.n, 1);
	fd_close(f);
}

static void watch_level_triggered(void **state)
{
	struct fdw *f = fd_watch(*state, 1);
	char c;

	assert_int_equal(netbe_loop_run_once(*state, 1000), 1);
	assert_int_equal(netbe_loop_run_once(*state, 1000), 1);
	assert_int_equal(f->h.n, 2);
	assert_int_equal(read(f->fds[0], &c, 1), 1);
	assert_int_equal(netbe_loop_run_once(*state, 50), 0);
	assert_int_equal(f->h.n, 2);
	fd_close(f);
}

static void del_self_cb(int fd, int events, void *arg)
{
	struct hits *h = arg;

	count_cb(fd, events, arg);
	netbe_watch_del(h->self);
}

static void watch_del_from_own_cb(void **state)
{
	struct hits h = { 0 };
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(netbe_loop_add_fd(*state, fds[0], NETBE_EV_READ, 1,
					   del_self_cb, &h, &h.self), 0);
	assert_int_equal(netbe_loop_run_once(*state, 1000), 1);
	assert_int_equal(netbe_loop_run_once(*state, 50), 0);
	assert_int_equal(h.n, 1);
	close(fds[0]);
	close(fds[1]);
}

/* Each deletes the other: both are ready in one batch, one runs. */
static void del_other_cb(int fd, int events, void *arg)
{
	struct hits *h = arg;

	count_cb(fd, events, arg);
	netbe_watch_del(*(netbe_watch_t **)h->other);
}

static void watch_del_pending_other(void **state)
{
	struct hits h = { 0 };
	netbe_watch_t *w[2];
	int fds[2][2];

	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		assert_int_equal(write(fds[i][1], "x", 1), 1);
	}
	h.other = (netbe_watch_t *)&w[1];
	assert_int_equal(netbe_loop_add_fd(*state, fds[0][0], NETBE_EV_READ, 1,
					   del_other_cb, &h, &w[0]), 0);
	assert_int_equal(netbe_loop_add_fd(*state, fds[1][0], NETBE_EV_READ, 1,
					   del_other_cb, &h, &w[1]), 0);
	/* Whichever runs first deletes w[1]; if w[1] ran first it
	 * deleted itself, and w[0] then runs again on the next round. */
	netbe_loop_run_once(*state, 1000);
	assert_int_equal(h.n, 1);
	for (int i = 0; i < 2; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	if (h.fd == fds[0][0])
		netbe_watch_del(w[0]);
}

/* ---- stop ----------------------------------------------------------------------- */

static void stop_cb(int fd, int events, void *arg)
{
	struct hits *h = arg;

	count_cb(fd, events, arg);
	if (h->n == 3)
		netbe_loop_stop(h->loop);
}

static void stop_from_callback(void **state)
{
	struct hits h = { .loop = *state };
	netbe_watch_t *w;

	assert_int_equal(netbe_loop_add_timer(*state, 2, 1, stop_cb, &h, &w),
			 0);
	assert_int_equal(netbe_loop_run(*state), 0);
	assert_int_equal(h.n, 3);
}

static void *run_thread(void *arg)
{
	return (void *)(intptr_t)netbe_loop_run(arg);
}

static void stop_from_thread(void **state)
{
	pthread_t t;
	void *ret = (void *)1;

	assert_int_equal(pthread_create(&t, NULL, run_thread, *state), 0);
	usleep(30000);
	netbe_loop_stop(*state);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
}

/* ---- embedding ------------------------------------------------------------------- */

static void embed_poll_fd(void **state)
{
	struct hits h = { 0 };
	struct pollfd pfd = { .fd = netbe_loop_fd(*state), .events = POLLIN };
	netbe_watch_t *w;

	assert_int_equal(netbe_loop_add_timer(*state, 20, 0, count_cb, &h, &w),
			 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_true(pfd.revents & POLLIN);
	assert_int_equal(h.n, 0);
	assert_int_equal(netbe_loop_run_once(*state, 0), 1);
	assert_int_equal(h.n, 1);
	assert_int_equal(poll(&pfd, 1, 0), 0);
}

/* ---- receive enable / disable on a pipe -------------------------------------------- */

static void rx_starts_disabled(void **state)
{
	struct pair *p = *state;
	struct hits h = { 0 };

	assert_int_equal(netbe_set_rx_cb(p->b, count_cb, &h), 0);
	assert_int_equal(netbe_set_rx_cb(p->b, NULL, &h), -EINVAL);
	send_frame(p->a, 0, 60, 1);
	assert_int_equal(netbe_loop_run_once(p->loop, 50), 0);
	assert_int_equal(h.n, 0);
	netbe_rx_enable(p->b);
	assert_int_equal(netbe_loop_run_once(p->loop, 1000), 1);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.events, NETBE_EV_READ);
	assert_int_equal(h.fd, netbe_get_fd(p->b));
	netbe_rx_disable(p->b);
	assert_int_equal(netbe_loop_run_once(p->loop, 50), 0);
	assert_int_equal(h.n, 1);
}

struct race {
	int calls, after_disable;
	int disabled; /* set once netbe_rx_disable returned */
};

static void race_cb(int fd, int events, void *arg)
{
	struct race *r = arg;

	(void)fd;
	(void)events;
	if (__atomic_load_n(&r->disabled, __ATOMIC_SEQ_CST))
		__atomic_add_fetch(&r->after_disable, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->calls, 1, __ATOMIC_SEQ_CST);
	usleep(200); /* frames stay queued: level triggered, called again */
}

static void rx_disable_from_other_thread(void **state)
{
	struct pair *p = *state;
	struct race r = { 0 };
	pthread_t t;
	int calls;

	assert_int_equal(netbe_set_rx_cb(p->b, race_cb, &r), 0);
	send_frame(p->a, 0, 60, 1);
	netbe_rx_enable(p->b);
	assert_int_equal(pthread_create(&t, NULL, run_thread, p->loop), 0);
	for (int i = 0; i < 2000 && __atomic_load_n(&r.calls,
						    __ATOMIC_SEQ_CST) < 20; i++)
		usleep(1000);
	netbe_rx_disable(p->b);
	__atomic_store_n(&r.disabled, 1, __ATOMIC_SEQ_CST);
	calls = __atomic_load_n(&r.calls, __ATOMIC_SEQ_CST);
	usleep(50000);
	netbe_loop_stop(p->loop);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(calls >= 20);
	assert_int_equal(r.after_disable, 0);
	assert_int_equal(r.calls, calls);
}

/* The peer closed: once the EOF is seen, the loop must go quiet. */
static void eof_cb(int fd, int events, void *arg)
{
	struct pair *p = arg;

	(void)fd;
	(void)events;
	while (netbe_peek_recvlen(p->b) > 0)
		netbe_rx_discard(p->b);
}

static void rx_hangup_goes_quiet(void **state)
{
	struct pair *p = *state;
	long t0;

	assert_int_equal(netbe_set_rx_cb(p->b, eof_cb, p), 0);
	send_frame(p->a, 0, 60, 1);
	netbe_cleanup(p->a);
	p->a = NULL;
	netbe_rx_enable(p->b);
	assert_int_equal(netbe_loop_run_once(p->loop, 1000), 1);
	assert_int_equal(stats_of(p->b).rx_drops, 1);
	t0 = now_ms();
	assert_int_equal(netbe_loop_run_once(p->loop, 100), 0);
	assert_true(now_ms() - t0 >= 90);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LOOP(timer_oneshot),
		LOOP(timer_periodic),
		LOOP(timer_rearm_disarm),
		LOOP(timer_disarm_expired),
		LOOP(watch_disabled_never_runs),
		LOOP(watch_level_triggered),
		LOOP(watch_del_from_own_cb),
		LOOP(watch_del_pending_other),
		LOOP(stop_from_callback),
		LOOP(stop_from_thread),
		LOOP(embed_poll_fd),
		PLAIN(rx_starts_disabled),
		PLAIN(rx_disable_from_other_thread),
		PLAIN(rx_hangup_goes_quiet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
