/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop: epoll for fds, one timerfd per timer, an eventfd to stop.
 *
 * Theory of operation
 *   The loop plays the role of bhyve's mevent: backends register their fd
 *   disabled, the frontend enables receive, and the loop calls the
 *   frontend's callback while the fd is readable (level triggered, so a
 *   callback that leaves frames behind is called again).
 *
 *   Three guarantees need care, because the frontend enables, disables and
 *   closes backends from its own threads while the loop thread dispatches:
 *   - after netbe_watch_disable() returns, the callback is not running and
 *     will not start: the dispatcher marks the watch it is about to call as
 *     `current` under the loop lock and re-checks `enabled` there; disable
 *     waits on a condition variable until `current` moves on (not when the
 *     caller *is* the dispatcher: a callback may disable itself);
 *   - a watch deleted while its event sits in the array epoll_wait filled
 *     is never touched after free: deleted watches become zombies, skipped
 *     by the dispatcher and freed only at the start of the next run_once,
 *     when no array can hold them any more;
 *   - netbe_loop_stop() only writes an eventfd and sets a flag, so it is
 *     safe from signal handlers.
 *   The loop's own fd is the epoll fd, which is readable whenever an event
 *   is pending, so a host loop can poll it and call run_once(loop, 0).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "netbe_int.h"

#define LOOP_MAX_EVENTS 64

struct netbe_watch {
	netbe_loop_t *loop;
	int fd;
	int events; /* NETBE_EV_READ/WRITE requested */
	bool is_timer;
	bool enabled;
	bool in_epoll; /* registered: only while enabled */
	bool dead;
	netbe_loop_cb_t cb;
	void *arg;
	netbe_watch_t *prev, *next; /* all live watches */
};

struct netbe_loop {
	int epfd;
	int wakefd;
	int stop; /* atomic: set by any thread or a signal handler */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	netbe_watch_t *current; /* callback running now, if any */
	pthread_t runner;
	bool running;
	netbe_watch_t *live;
	netbe_watch_t *zombies; /* linked through ->next */
};

/* A unique address that marks the wake eventfd in epoll data. */
static char wake_marker;

static uint32_t epoll_mask(const netbe_watch_t *w)
{
	uint32_t m = 0;

	if (!w->enabled)
		return 0;
	if (w->is_timer || (w->events & NETBE_EV_READ))
		m |= EPOLLIN;
	if (w->events & NETBE_EV_WRITE)
		m |= EPOLLOUT;
	return m;
}

/*
 * A disabled watch leaves epoll altogether: epoll reports EPOLLERR and
 * EPOLLHUP whatever the mask, so a dead fd (a deleted tap, a closed peer)
 * would otherwise wake the loop forever while its receive is off.
 */
static int epoll_sync(netbe_watch_t *w)
{
	struct epoll_event ev = { .events = epoll_mask(w), .data.ptr = w };
	int op;

	if (w->enabled == w->in_epoll)
		return 0;
	op = w->enabled ? EPOLL_CTL_ADD : EPOLL_CTL_DEL;
	if (epoll_ctl(w->loop->epfd, op, w->fd, &ev) < 0)
		return -errno;
	w->in_epoll = w->enabled;
	return 0;
}

NETBE__EXPORT int netbe_loop_new(netbe_loop_t **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_marker };
	netbe_loop_t *loop = calloc(1, sizeof(*loop));
	int err = -ENOMEM;

	*out = NULL;
	if (!loop)
		goto fail;
	loop->wakefd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->wakefd < 0 ||
	    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->idle, NULL);
	*out = loop;
	return 0;
fail:
	if (loop && loop->epfd >= 0)
		close(loop->epfd);
	if (loop && loop->wakefd >= 0)
		close(loop->wakefd);
	free(loop);
	return netbe__err(err, "loop: cannot create: %s", strerror(-err));
}

static void watch_free(netbe_watch_t *w)
{
	if (w->is_timer)
		close(w->fd);
	free(w);
}

static void reap_zombies(netbe_loop_t *loop)
{
	netbe_watch_t *z;

	pthread_mutex_lock(&loop->lock);
	z = loop->zombies;
	loop->zombies = NULL;
	pthread_mutex_unlock(&loop->lock);
	while (z) {
		netbe_watch_t *next = z->next;

		watch_free(z);
		z = next;
	}
}

NETBE__EXPORT void netbe_loop_free(netbe_loop_t *loop)
{
	if (!loop)
		return;
	while (loop->live)
		netbe_watch_del(loop->live);
	reap_zombies(loop);
	close(loop->epfd);
	close(loop->wakefd);
	pthread_mutex_destroy(&loop->lock);
	pthread_cond_destroy(&loop->idle);
	free(loop);
}

static netbe_loop_t *default_loop;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_create(void)
{
	if (netbe_loop_new(&default_loop) < 0)
		default_loop = NULL;
}

NETBE__EXPORT netbe_loop_t *netbe_loop_default(void)
{
	pthread_once(&default_once, default_create);
	return default_loop;
}

NETBE__EXPORT int netbe_loop_fd(const netbe_loop_t *loop)
{
	return loop->epfd;
}

/* Marks @w as running, unless it was disabled or deleted meanwhile. */
static bool dispatch_begin(netbe_loop_t *loop, netbe_watch_t *w)
{
	bool run;

	pthread_mutex_lock(&loop->lock);
	run = !w->dead && w->enabled;
	if (run)
		loop->current = w;
	pthread_mutex_unlock(&loop->lock);
	return run;
}

static void dispatch_end(netbe_loop_t *loop)
{
	pthread_mutex_lock(&loop->lock);
	loop->current = NULL;
	pthread_cond_broadcast(&loop->idle);
	pthread_mutex_unlock(&loop->lock);
}

static int ev_to_netbe(const netbe_watch_t *w, uint32_t ev)
{
	int out = 0;

	if (w->is_timer)
		return NETBE_EV_TIMER;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		out |= w->events & NETBE_EV_READ;
	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		out |= w->events & NETBE_EV_WRITE;
	if (ev & EPOLLERR)
		out |= NETBE_EV_ERROR;
	return out;
}

static void dispatch(netbe_loop_t *loop, netbe_watch_t *w, uint32_t ev)
{
	uint64_t ticks;

	if (!dispatch_begin(loop, w))
		return;
	/* Timers are level triggered too: consume the expiry first. */
	if (w->is_timer && read(w->fd, &ticks, sizeof(ticks)) < 0) {
		dispatch_end(loop);
		return;
	}
	w->cb(w->fd, ev_to_netbe(w, ev), w->arg);
	dispatch_end(loop);
}

static void set_running(netbe_loop_t *loop, bool on)
{
	pthread_mutex_lock(&loop->lock);
	loop->runner = pthread_self();
	loop->running = on;
	pthread_mutex_unlock(&loop->lock);
}

NETBE__EXPORT int netbe_loop_run_once(netbe_loop_t *loop, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	uint64_t drain;
	int n, ran = 0;

	reap_zombies(loop);
	n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	set_running(loop, true);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &wake_marker) {
			if (read(loop->wakefd, &drain, sizeof(drain)) < 0)
				(void)0; /* already drained: nothing to do */
			continue;
		}
		dispatch(loop, evs[i].data.ptr, evs[i].events);
		ran++;
	}
	set_running(loop, false);
	return ran;
}

NETBE__EXPORT int netbe_loop_run(netbe_loop_t *loop)
{
	int r = 0;

	while (!__atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE) && r >= 0)
		r = netbe_loop_run_once(loop, -1);
	__atomic_store_n(&loop->stop, 0, __ATOMIC_RELAXED);
	return r < 0 ? r : 0;
}

NETBE__EXPORT void netbe_loop_stop(netbe_loop_t *loop)
{
	uint64_t one = 1;

	/* A lock-free atomic store: fine in a signal handler. */
	__atomic_store_n(&loop->stop, 1, __ATOMIC_RELEASE);
	if (write(loop->wakefd, &one, sizeof(one)) < 0)
		(void)0; /* counter saturated: the loop is already woken */
}

static int watch_add(netbe_loop_t *loop, netbe_watch_t *w)
{
	int r;

	w->loop = loop;
	pthread_mutex_lock(&loop->lock);
	r = epoll_sync(w);
	if (r == 0) {
		w->next = loop->live;
		if (loop->live)
			loop->live->prev = w;
		loop->live = w;
	}
	pthread_mutex_unlock(&loop->lock);
	return r;
}

NETBE__EXPORT int netbe_loop_add_fd(netbe_loop_t *loop, int fd, int events,
				    int enabled, netbe_loop_cb_t cb, void *arg,
				    netbe_watch_t **out)
{
	netbe_watch_t *w;
	int r;

	*out = NULL;
	if (!loop || fd < 0 || !cb ||
	    !(events & (NETBE_EV_READ | NETBE_EV_WRITE)))
		return netbe__err(-EINVAL, "loop: invalid watch arguments");
	w = calloc(1, sizeof(*w));
	if (!w)
		return netbe__err(-ENOMEM, "loop: out of memory");
	*w = (netbe_watch_t){ .fd = fd, .events = events, .cb = cb,
			      .arg = arg, .enabled = enabled != 0 };
	r = watch_add(loop, w);
	if (r < 0) {
		free(w);
		return netbe__err(r, "loop: epoll_ctl fd %d: %s", fd,
				  strerror(-r));
	}
	*out = w;
	return 0;
}

NETBE__EXPORT int netbe_timer_set(netbe_watch_t *w, unsigned ms, int periodic)
{
	struct itimerspec its = { 0 };

	if (!w || !w->is_timer)
		return -EINVAL;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (periodic)
		its.it_interval = its.it_value;
	return timerfd_settime(w->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

NETBE__EXPORT int netbe_loop_add_timer(netbe_loop_t *loop, unsigned ms,
				       int periodic, netbe_loop_cb_t cb,
				       void *arg, netbe_watch_t **out)
{
	netbe_watch_t *w;
	int r = -ENOMEM;

	*out = NULL;
	if (!loop || !cb)
		return netbe__err(-EINVAL, "loop: invalid timer arguments");
	w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	*w = (netbe_watch_t){ .is_timer = true, .enabled = true, .cb = cb,
			      .arg = arg };
	w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	r = netbe_timer_set(w, ms, periodic);
	if (r == 0)
		r = watch_add(loop, w);
	if (r == 0) {
		*out = w;
		return 0;
	}
	close(w->fd);
fail:
	free(w);
	return netbe__err(r, "loop: cannot add timer: %s", strerror(-r));
}

/* Waits until the dispatcher is out of @w's callback (caller holds lock). */
static void wait_not_current(netbe_loop_t *loop, netbe_watch_t *w)
{
	if (loop->running && pthread_equal(loop->runner, pthread_self()))
		return;
	while (loop->current == w)
		pthread_cond_wait(&loop->idle, &loop->lock);
}

static int watch_set_enabled(netbe_watch_t *w, bool on)
{
	netbe_loop_t *loop = w->loop;
	int r;

	pthread_mutex_lock(&loop->lock);
	w->enabled = on;
	r = epoll_sync(w);
	if (!on)
		wait_not_current(loop, w);
	pthread_mutex_unlock(&loop->lock);
	return r;
}

NETBE__EXPORT int netbe_watch_enable(netbe_watch_t *w)
{
	return w ? watch_set_enabled(w, true) : -EINVAL;
}

NETBE__EXPORT int netbe_watch_disable(netbe_watch_t *w)
{
	return w ? watch_set_enabled(w, false) : -EINVAL;
}

NETBE__EXPORT void netbe_watch_del(netbe_watch_t *w)
{
	netbe_loop_t *loop;

	if (!w)
		return;
	loop = w->loop;
	pthread_mutex_lock(&loop->lock);
	w->dead = true;
	w->enabled = false;
	epoll_sync(w);
	if (w->prev)
		w->prev->next = w->next;
	else
		loop->live = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = loop->zombies;
	loop->zombies = w;
	wait_not_current(loop, w);
	pthread_mutex_unlock(&loop->lock);
}

uint64_t netbe__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
