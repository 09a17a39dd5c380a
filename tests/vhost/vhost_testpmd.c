/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vhost_testpmd - DPDK's virtio-user PMD (a virtio-net driver nobody here
 * wrote) as the guest side of netbe's vhost-user backend:
 *
 *   vhost_testpmd [N [RESTARTS]]
 *
 * opens "vhost-user,path=S" on a loop thread, starts dpdk-testpmd with
 * --vdev=net_virtio_user0,path=S in macswap mode, sends N distinct frames
 * (60 to 1514 bytes, a sequence number and a pattern) into the guest's
 * receive ring, and checks every frame testpmd sends back: MACs swapped,
 * the rest byte for byte as sent, in order, none missing, none extra, and
 * the backend's counters agreeing.  The frames go with a 12-byte
 * virtio-net header (no offloads) in front, in the same buffer, as a
 * switch port hands them: netbe's one-piece path, whose bytes of small
 * frames are copied just before the guest may see them, meets a driver
 * that reads them at once on another CPU.  testpmd must have negotiated
 * VIRTIO_F_IN_ORDER (its log names its in-order paths), so the frames
 * cross netbe's in-order used ring.  With RESTARTS > 0, testpmd is then
 * killed (SIGKILL, mid-traffic) and started again on the same socket
 * that many times, and each new one must carry N frames again: netbe
 * survives a VMM that vanishes and serves the next.
 *
 * "vhost_testpmd N R client" turns it round: testpmd listens (virtio-user
 * server=1) and netbe connects (server=off), reconnecting to each new
 * testpmd by itself.
 *
 * "vhost_testpmd N R mq" uses two queue pairs on both sides (queues=2,
 * testpmd --rxq=2 --txq=2, which enables the second pair through its
 * control queue): frames alternate between netbe's queues 0 and 1, and
 * each must come back on the queue it was sent on (testpmd forwards
 * receive queue i to transmit queue i), in order per queue.
 *
 * Exits 0 on success, 1 on a failure (printed), 77 when dpdk-testpmd is
 * not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netbe.h"

#define WINDOW 64
#define MAX_LEN 1514
#define HDR 12 /* our frames' virtio-net header: no offloads */
#define TIMEOUT_S 30

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static char dir[64], sock[128];
static unsigned gen_now; /* testpmd's log is testpmd.GEN.log */
static bool vmm_listens;  /* "client": testpmd listens, netbe connects */
static unsigned nq = 1;   /* "mq": 2 queue pairs */
static int log_warns;

static void log_fn(enum netbe_log_level lvl, const char *msg, void *opaque)
{
	(void)opaque;
	if (lvl <= NETBE_LOG_WARN)
		__atomic_fetch_add(&log_warns, 1, __ATOMIC_RELAXED);
	if (lvl <= NETBE_LOG_INFO || getenv("VHT_DEBUG"))
		fprintf(stderr, "netbe: %s\n", msg);
}

static void nop_cb(int fd, int events, void *param)
{
	(void)fd, (void)events, (void)param;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t frame_len(unsigned seq)
{
	return 60 + (seq * 37u) % (MAX_LEN - 60 + 1);
}

static void frame_make(uint8_t *f, unsigned seq, unsigned gen)
{
	size_t len = frame_len(seq);

	memcpy(f, mac_b, 6);
	memcpy(f + 6, mac_a, 6);
	f[12] = 0x88, f[13] = 0xb5; /* local experimental ethertype */
	memcpy(f + 14, &seq, 4);
	memcpy(f + 18, &gen, 4);
	for (size_t i = 22; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i + gen);
}

static pid_t testpmd_start(int *in)
{
	char vdev[192], prefix[64], logf[160];
	int pfd[2];
	pid_t pid;

	char rxq[16], txq[16];

	snprintf(vdev, sizeof(vdev), "net_virtio_user0,path=%s,queues=%u%s",
		 sock, nq, vmm_listens ? ",server=1" : "");
	snprintf(rxq, sizeof(rxq), "--rxq=%u", nq);
	snprintf(txq, sizeof(txq), "--txq=%u", nq);
	snprintf(prefix, sizeof(prefix), "--file-prefix=nbvh%d", (int)getpid());
	snprintf(logf, sizeof(logf), "%s/testpmd.%u.log", dir, gen_now);
	if (vmm_listens)
		unlink(sock); /* a killed testpmd leaves its socket file */
	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int lf = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Never outlive the test (a timeout kills it). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);

		dup2(pfd[0], 0);
		if (lf >= 0)
			dup2(lf, 1), dup2(lf, 2);
		/* Line-buffered, so the log shows when it forwards. */
		execlp("stdbuf", "stdbuf", "-oL", "dpdk-testpmd", "--no-pci", "--no-huge",
		       "-m", "128", "-l", "0,1", prefix, "--vdev", vdev,
		       "--log-level=7", "--log-level=pmd.net.virtio.init:info",
		       "--", "--total-num-mbufs=8192", rxq, txq,
		       "--forward-mode=macswap", "--auto-start", (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	*in = pfd[1];
	return pid;
}

/* Waits until testpmd forwards: frames put in its receive ring before
 * its port started are flushed by DPDK (virtqueue_rxvq_flush). */
static bool testpmd_wait(double end)
{
	char logf[160], line[512];

	snprintf(logf, sizeof(logf), "%s/testpmd.%u.log", dir, gen_now);
	while (now() < end) {
		FILE *f = fopen(logf, "r");
		bool up = false, in_order = false;

		while (f && !up && fgets(line, sizeof(line), f)) {
			up = strstr(line, "Press enter to exit") != NULL;
			in_order |= strstr(line, "using inorder Tx path") != NULL;
		}
		if (f)
			fclose(f);
		if (up && !in_order)
			printf("FAIL: testpmd did not take its in-order paths "
			       "(VIRTIO_F_IN_ORDER not negotiated)\n");
		if (up)
			return in_order;
		usleep(20000);
	}
	printf("FAIL: testpmd did not start forwarding\n");
	return false;
}

static void testpmd_stop(pid_t pid, int in, int sig)
{
	int st;

	kill(pid, sig);
	close(in);
	waitpid(pid, &st, 0);
}

/* Sends frame @seq, behind a zeroed header, until the backend takes it
 * or time runs out. */
static bool send_one(netbe_t *be, unsigned seq, unsigned gen, double end)
{
	uint8_t f[HDR + MAX_LEN] = { 0 };
	struct iovec v = { f, HDR + frame_len(seq) };

	frame_make(f + HDR, seq, gen);
	while (now() < end) {
		ssize_t r = netbe_send(be, &v, 1);

		if (r == (ssize_t)v.iov_len)
			return true;
		if (r != -EAGAIN && r != -ENOTCONN) {
			printf("FAIL: send %u: %zd\n", seq, r);
			return false;
		}
		usleep(r == -ENOTCONN ? 10000 : 50);
	}
	printf("FAIL: send %u: timed out\n", seq);
	return false;
}

/* Checks a frame back from testpmd: MACs swapped, payload as sent. */
static bool check(const uint8_t *got, ssize_t len, unsigned want,
		  unsigned gen)
{
	uint8_t f[MAX_LEN];

	frame_make(f, want, gen);
	memcpy(f, mac_a, 6);
	memcpy(f + 6, mac_b, 6);
	if (len == (ssize_t)frame_len(want) && !memcmp(f, got, (size_t)len))
		return true;
	printf("FAIL: frame %u of generation %u: got %zd bytes (seq %u), "
	       "want %zu\n", want, gen, len,
	       len >= 18 ? *(const uint32_t *)(const void *)(got + 14) : 0,
	       frame_len(want));
	return false;
}

/* Frame @seq travels on queue seq % nq; per queue they stay in order. */
static int ping_pong(netbe_t *be, unsigned n, unsigned gen)
{
	double end = now() + TIMEOUT_S;
	unsigned sent = 0, got = 0, next[2] = { 0, 1 };
	uint8_t buf[HDR + 2048];

	while (got < n && now() < end) {
		netbe_t *q = netbe_get_queue(be, sent % nq);
		struct iovec v = { buf, sizeof(buf) };
		ssize_t r = 0;

		if (sent < n && sent - got < WINDOW) {
			if (!send_one(q, sent, gen, end))
				return 1;
			sent++;
			continue;
		}
		for (unsigned i = 0; i < nq && r == 0; i++) {
			q = netbe_get_queue(be, i);
			r = netbe_recv(q, &v, 1);
			if (r > 0 && (r < HDR ||
				      !check(buf + HDR, r - HDR, next[i], gen))) {
				printf("FAIL: on queue %u\n", i);
				return 1;
			}
			if (r > 0)
				next[i] += nq;
		}
		if (r < 0) {
			printf("FAIL: recv: %zd\n", r);
			return 1;
		}
		if (r == 0)
			usleep(20);
		else
			got++;
	}
	if (got != n) {
		printf("FAIL: %u of %u frames came back in %d s\n", got, n,
		       TIMEOUT_S);
		return 1;
	}
	return 0;
}

static void *loop_main(void *arg)
{
	netbe_loop_run(arg);
	return NULL;
}

/* With two queue pairs each must have carried its half both ways. */
static int queue_counts(netbe_t *be, unsigned n)
{
	struct netbe_stats qs;

	netbe_get_queue_stats(netbe_get_queue(be, 1), &qs);
	printf("queue 1 so far: %llu frames out, %llu back\n",
	       (unsigned long long)qs.tx_frames,
	       (unsigned long long)qs.rx_frames);
	if (qs.rx_frames < n / 2 || qs.tx_frames < n / 2) {
		printf("FAIL: queue 1 carried less than its half\n");
		return 1;
	}
	return 0;
}

static int run(netbe_t *be, unsigned n, unsigned restarts)
{
	struct netbe_stats st0, st;
	unsigned sent_total = 0;
	int in, r = 0;

	for (unsigned g = 0; g <= restarts && r == 0; g++) {
		pid_t pid;

		gen_now = g;
		pid = testpmd_start(&in);

		if (pid < 0)
			return 1;
		netbe_get_stats(be, &st0);
		r = testpmd_wait(now() + TIMEOUT_S) ? ping_pong(be, n, g) : 1;
		netbe_get_stats(be, &st);
		if (r == 0 && st.rx_frames - st0.rx_frames != n) {
			printf("FAIL: rx_frames moved by %llu, want %u\n",
			       (unsigned long long)(st.rx_frames -
						    st0.rx_frames), n);
			r = 1;
		}
		if (r == 0 && nq > 1)
			r = queue_counts(be, n);
		sent_total += n;
		printf("generation %u: %u frames there and back%s\n", g, n,
		       r ? " FAILED" : "");
		/* The last one leaves politely; the others are killed with
		 * frames in flight. */
		if (g < restarts)
			for (unsigned i = 0; i < WINDOW; i++) {
				uint8_t f[64] = { 0 };
				struct iovec v = { f, sizeof(f) };

				netbe_send(be, &v, 1);
			}
		testpmd_stop(pid, in, g < restarts ? SIGKILL : SIGINT);
	}
	(void)sent_total;
	return r;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
	unsigned restarts = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	netbe_loop_t *loop;
	pthread_t th;
	netbe_t *be;
	char spec[200];
	int r;

	if (system("command -v dpdk-testpmd >/dev/null 2>&1") != 0) {
		printf("SKIP: dpdk-testpmd not installed (package dpdk-dev)\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/nbvh.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/vhost.sock", dir);
	netbe_set_log_fn(log_fn, getenv("VHT_DEBUG") ? NETBE_LOG_DEBUG : NETBE_LOG_INFO, NULL);
	if (netbe_loop_new(&loop) < 0)
		return 1;
	vmm_listens = argc > 3 && !strcmp(argv[3], "client");
	nq = argc > 3 && !strcmp(argv[3], "mq") ? 2 : 1;
	snprintf(spec, sizeof(spec), "vhost-user,path=%s,queues=%u%s", sock,
		 nq, vmm_listens ? ",server=off,reconnect=100" : "");
	r = netbe_open(&be, spec, loop, nop_cb, NULL);
	if (r < 0) {
		printf("FAIL: open %s: %s\n", spec, netbe_last_error());
		return 1;
	}
	netbe_set_cap(be, 0, HDR);
	pthread_create(&th, NULL, loop_main, loop);
	r = run(be, n, restarts);
	netbe_loop_stop(loop);
	pthread_join(th, NULL);
	netbe_cleanup(be);
	netbe_loop_free(loop);
	if (r) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "tail -n 30 %s/testpmd.%u.log", dir,
			 gen_now);
		if (system(cmd) != 0)
			(void)0;
	}
	{
		char cmd[120];

		snprintf(cmd, sizeof(cmd), "%s %s", getenv("VHT_KEEP") ? "echo kept" : "rm -rf", dir);
		if (system(cmd) != 0)
			(void)0;
	}
	printf("%s\n", r ? "FAIL" : "PASS");
	return r;
}
