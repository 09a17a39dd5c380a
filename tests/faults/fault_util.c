/* SPDX-License-Identifier: BSD-2-Clause */
/* fault_util.c - see fault_util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fault_util.h"

#define LOG_LINES 512
#define LOG_LEN 256

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[LOG_LINES][LOG_LEN];
static unsigned log_n;

__attribute__((format(printf, 3, 0), noreturn))
static void fu_vexit(int code, const char *tag, const char *fmt, va_list ap)
{
	printf("%s: ", tag);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	exit(code);
}

void fu_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fu_vexit(1, "FAIL", fmt, ap);
}

void fu_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fu_vexit(FU_SKIP, "SKIP", fmt, ap);
}

/* ---- the library's log ----------------------------------------------------- */

static void fu_log(enum netbe_log_level lvl, const char *msg, void *opaque)
{
	static const char *names[] = { "ERR", "WARN", "INFO", "DEBUG" };

	(void)opaque;
	pthread_mutex_lock(&log_lock);
	if (log_n < LOG_LINES)
		snprintf(log_lines[log_n++], LOG_LEN, "%s", msg);
	if (lvl < NETBE_LOG_DEBUG)
		printf("  log %s: %s\n", names[lvl & 3], msg);
	fflush(stdout);
	pthread_mutex_unlock(&log_lock);
}

void fu_log_start(void)
{
	netbe_set_log_fn(fu_log, NETBE_LOG_INFO, NULL);
}

void fu_log_start_level(enum netbe_log_level max)
{
	netbe_set_log_fn(fu_log, max, NULL);
}

bool fu_log_has(const char *a, const char *b)
{
	bool found = false;

	pthread_mutex_lock(&log_lock);
	for (unsigned i = 0; i < log_n && !found; i++)
		found = (!a || strstr(log_lines[i], a)) &&
			(!b || strstr(log_lines[i], b));
	pthread_mutex_unlock(&log_lock);
	return found;
}

bool fu_log_get(const char *a, char *out, size_t cap)
{
	bool found = false;

	pthread_mutex_lock(&log_lock);
	for (unsigned i = 0; i < log_n && !found; i++)
		if ((found = strstr(log_lines[i], a) != NULL))
			snprintf(out, cap, "%s", log_lines[i]);
	pthread_mutex_unlock(&log_lock);
	return found;
}

bool fu_log_wait(const char *a, const char *b, int ms)
{
	for (int t = 0; t < ms; t += 10) {
		if (fu_log_has(a, b))
			return true;
		fu_sleep_ms(10);
	}
	return fu_log_has(a, b);
}

/* ---- a backend on its own loop and thread ---------------------------------- */

/* Records a drained frame: a test frame's seq and length, or "other". */
static void fu_note(struct fu_port *p, const uint8_t *f, size_t len)
{
	uint32_t seq;

	if (len < 18 || f[12] != FU_ETHERTYPE >> 8 ||
	    f[13] != (FU_ETHERTYPE & 0xff)) {
		__atomic_fetch_add(&p->others, 1, __ATOMIC_RELAXED);
		return;
	}
	memcpy(&seq, f + 14, 4);
	__atomic_store_n(&p->last_len, (uint32_t)len, __ATOMIC_RELAXED);
	__atomic_store_n(&p->last_seq, seq, __ATOMIC_RELEASE);
	__atomic_fetch_add(&p->ours, 1, __ATOMIC_RELAXED);
}

static void fu_drain(struct fu_port *p, netbe_t *q)
{
	struct iovec iov = { p->buf, sizeof(p->buf) };
	ssize_t n;

	while ((n = netbe_recv(q, &iov, 1)) != 0) {
		if (n > 0)
			fu_note(p, p->buf, (size_t)n);
		else if (n != -ENOSPC)
			break;
	}
}

/* The receive callback of every queue, on the loop thread: drains them
 * all (the loop runs one callback at a time, so one buffer serves). */
static void fu_rx(int fd, int events, void *param)
{
	struct fu_port *p = param;

	(void)fd;
	(void)events;
	__atomic_fetch_add(&p->calls, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < netbe_get_nqueues(p->be); i++)
		fu_drain(p, netbe_get_queue(p->be, i));
}

static void *fu_loop_main(void *arg)
{
	struct fu_port *p = arg;

	netbe_loop_run(p->loop);
	return NULL;
}

int fu_port_open(struct fu_port *p, const char *spec)
{
	return fu_port_open_named(p, spec, NULL);
}

int fu_port_open_named(struct fu_port *p, const char *spec,
		       const char *name)
{
	int r;

	memset(p, 0, sizeof(*p));
	FU_CHECK(netbe_loop_new(&p->loop) == 0, "netbe_loop_new");
	r = netbe_open(&p->be, spec, p->loop, fu_rx, p);
	if (r < 0) {
		netbe_loop_free(p->loop);
		return r;
	}
	if (name)
		FU_CHECK(netbe_set_name(p->be, name) == 0, "netbe_set_name");
	FU_CHECK(pthread_create(&p->thread, NULL, fu_loop_main, p) == 0,
		 "pthread_create");
	for (unsigned i = 0; i < netbe_get_nqueues(p->be); i++)
		netbe_rx_enable(netbe_get_queue(p->be, i));
	return 0;
}

void fu_port_close(struct fu_port *p)
{
	netbe_cleanup(p->be);
	p->be = NULL;
	netbe_loop_stop(p->loop);
	pthread_join(p->thread, NULL);
	netbe_loop_free(p->loop);
}

/* ---- the peer -------------------------------------------------------------- */

void fu_peer_open(struct fu_peer *pe, const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };

	pe->ifname = ifname;
	pe->ifindex = (int)if_nametoindex(ifname);
	FU_CHECK(pe->ifindex > 0, "peer: no interface %s", ifname);
	/* Protocol 0: sends only, nothing queues up for us. */
	pe->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	sll.sll_ifindex = pe->ifindex;
	FU_CHECK(pe->fd >= 0 && bind(pe->fd, (struct sockaddr *)&sll,
				     sizeof(sll)) == 0,
		 "peer socket on %s: %s", ifname, strerror(errno));
}

void fu_peer_close(struct fu_peer *pe)
{
	close(pe->fd);
	pe->fd = -1;
}

/* Broadcast, so no filter of the backend's drops it as another host's. */
void fu_frame_fill(uint8_t *f, size_t len, uint32_t seq)
{
	static const uint8_t hdr[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01,
					 FU_ETHERTYPE >> 8,
					 FU_ETHERTYPE & 0xff };

	memcpy(f, hdr, sizeof(hdr));
	memcpy(f + 14, &seq, 4);
	for (size_t i = 18; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i);
}

int fu_peer_send(struct fu_peer *pe, uint32_t seq, size_t len)
{
	static uint8_t f[FU_BUF];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_ifindex = pe->ifindex,
				   .sll_halen = 6 };

	fu_frame_fill(f, len, seq);
	memcpy(sll.sll_addr, f, 6);
	if (sendto(pe->fd, f, len, 0, (struct sockaddr *)&sll,
		   sizeof(sll)) == (ssize_t)len)
		return 0;
	return errno;
}

bool fu_flow(struct fu_port *p, struct fu_peer *pe, uint32_t seq,
	     size_t len, int ms)
{
	for (int t = 0; t < ms; t += 10) {
		if (t % 100 == 0)
			(void)fu_peer_send(pe, seq, len);
		fu_sleep_ms(10);
		if (__atomic_load_n(&p->last_seq, __ATOMIC_ACQUIRE) == seq)
			return true;
	}
	return false;
}

/* ---- frames and counters --------------------------------------------------- */

bool fu_frame_ok(const uint8_t *f, size_t len)
{
	uint32_t seq;

	if (len < 60 || f[12] != FU_ETHERTYPE >> 8 ||
	    f[13] != (FU_ETHERTYPE & 0xff))
		return false;
	memcpy(&seq, f + 14, 4);
	for (size_t i = 18; i < len; i++)
		if (f[i] != (uint8_t)(seq * 7 + i))
			return false;
	return true;
}

ssize_t fu_send(netbe_t *be, uint32_t seq, size_t len)
{
	static __thread uint8_t f[FU_BUF];
	struct iovec iov = { f, len };

	fu_frame_fill(f, len, seq);
	return netbe_send(be, &iov, 1);
}

uint64_t fu_tx_offered(netbe_t *be)
{
	struct netbe_stats st;

	netbe_get_stats(be, &st);
	return st.tx_frames + st.tx_drops + st.tx_errors;
}

uint64_t fu_drops(netbe_t *be, int dir, int why)
{
	uint64_t d[NETBE_DROP_NREASONS] = { 0 };

	FU_CHECK(netbe_get_drops(be, dir, d, NETBE_DROP_NREASONS) > 0,
		 "netbe_get_drops");
	return d[why];
}

bool fu_wait_seq(struct fu_port *p, uint32_t seq, int ms)
{
	for (int t = 0; t <= ms; t += 10) {
		if (__atomic_load_n(&p->last_seq, __ATOMIC_ACQUIRE) == seq)
			return true;
		fu_sleep_ms(10);
	}
	return false;
}

/* ---- interfaces ------------------------------------------------------------ */

static void fu_ifioctl(const char *ifname, unsigned long req,
		       struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	FU_CHECK(s >= 0, "socket: %s", strerror(errno));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	FU_CHECK(ioctl(s, req, ifr) == 0, "ioctl %#lx on %s: %s", req,
		 ifname, strerror(errno));
	close(s);
}

void fu_if_set_up(const char *ifname, bool up)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	fu_ifioctl(ifname, SIOCGIFFLAGS, &ifr);
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	fu_ifioctl(ifname, SIOCSIFFLAGS, &ifr);
}

void fu_if_set_mtu(const char *ifname, int mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = mtu;
	fu_ifioctl(ifname, SIOCSIFMTU, &ifr);
}

void fu_if_del(const char *ifname)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "ip link del %s", ifname);
	FU_CHECK(system(cmd) == 0, "%s failed", cmd);
	FU_CHECK(if_nametoindex(ifname) == 0, "%s is still there", ifname);
}

/* ---- time ------------------------------------------------------------------ */

void fu_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double fu_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double fu_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

double fu_cpu_over(int ms)
{
	double c0 = fu_cpu_ms(), t0 = fu_mono_ms();

	fu_sleep_ms(ms);
	return (fu_cpu_ms() - c0) * 100.0 / (fu_mono_ms() - t0);
}

double fu_cpu_run(netbe_loop_t *loop, int ms)
{
	double c0 = fu_cpu_ms(), t0 = fu_mono_ms(), t;

	while ((t = fu_mono_ms() - t0) < ms)
		(void)netbe_loop_run_once(loop, (int)(ms - t) + 1);
	return (fu_cpu_ms() - c0) * 100.0 / (fu_mono_ms() - t0);
}
