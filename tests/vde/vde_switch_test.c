/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vde_switch_test.c - two vde backends on a real vde_switch (public API).
 *
 * Starts `vde_switch -s DIR` in a private temporary directory (its stdin
 * is a pipe we hold, so it stays in the foreground and dies with us),
 * plugs two backends into it ("vde,sock=DIR" and the short "vde:DIR"),
 * and proves:
 *   - frames of 60, 1000 and 1518 bytes (1500 + Ethernet header + VLAN
 *     tag) cross the switch both ways, intact;
 *   - 1519- and 1600-byte frames, which vde_switch would cut to 1518
 *     bytes, are refused by netbe_send (-EMSGSIZE), counted (tx_drops,
 *     reason "oversize"), and never arrive;
 *   - with mtu=1600 the backend lets a 1600-byte frame out and the switch
 *     delivers it cut to 1518 bytes: the corruption the refusal prevents;
 *   - port= picks the switch port; a missing switch is a clear error and
 *     leaves no socket file behind;
 *   - when the switch dies, the backend notices (log) and stops polling.
 * Skips (77) without vde_switch, and under AddressSanitizer: libvdeplug
 * dlopen()s its plugins with RTLD_DEEPBIND, which the ASan runtime refuses
 * (it aborts the process).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netbe.h"

#define FRAME_MAX 9300

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static int failures;
static char dir[64];
static pid_t sw_pid = -1;
static int sw_stdin = -1;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
			failures++;                                          \
		}                                                            \
	} while (0)

struct end {
	netbe_t *be;
	uint8_t last[FRAME_MAX];
	ssize_t last_len;
	int frames;
};

static void rx_cb(int fd, int events, void *arg)
{
	struct end *e = arg;

	(void)fd;
	(void)events;
	for (;;) {
		struct iovec v = { e->last, sizeof(e->last) };
		ssize_t n = netbe_recv(e->be, &v, 1);

		if (n <= 0)
			break;
		e->last_len = n;
		e->frames++;
	}
}

static void switch_stop(void)
{
	if (sw_pid > 0) {
		kill(sw_pid, SIGTERM);
		waitpid(sw_pid, NULL, 0);
		sw_pid = -1;
	}
	if (sw_stdin >= 0)
		close(sw_stdin);
	sw_stdin = -1;
}

static void cleanup(void)
{
	char cmd[128];

	switch_stop();
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int switch_start(void)
{
	char ctl[96];
	int pfd[2];

	if (pipe(pfd) < 0)
		return -1;
	sw_pid = fork();
	if (sw_pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(pfd[0], 0);
		dup2(null, 1);
		dup2(null, 2);
		close(pfd[1]);
		execlp("vde_switch", "vde_switch", "-s", dir, "-n", "8",
		       (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	sw_stdin = pfd[1];
	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	for (int i = 0; i < 300 && !exists(ctl); i++)
		usleep(10000);
	return exists(ctl) ? 0 : -1;
}

static void make_frame(uint8_t *f, size_t len, uint8_t src, unsigned seed)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	memcpy(f, bcast, 6);
	memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, src }, 6);
	f[12] = 0x88; /* local experimental ethertype */
	f[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* Sends from @a, runs the loop until @b has one more frame or 2 s pass. */
static bool cross(netbe_loop_t *loop, struct end *a, struct end *b,
		  size_t len, unsigned seed)
{
	static uint8_t f[FRAME_MAX];
	struct iovec v = { f, len };
	int before = b->frames;
	ssize_t r;

	make_frame(f, len, (uint8_t)seed, seed);
	r = netbe_send(a->be, &v, 1);
	CHECK(r == (ssize_t)len, "send %zu: %zd (%s)", len, r,
	      netbe_last_error());
	for (int t = 0; t < 200 && b->frames == before; t++)
		netbe_loop_run_once(loop, 10);
	return b->frames > before && b->last_len == (ssize_t)len &&
	       !memcmp(b->last, f, len);
}

static int open_end(struct end *e, const char *spec, netbe_loop_t *loop)
{
	memset(e, 0, sizeof(*e));
	if (netbe_open(&e->be, spec, loop, rx_cb, e) < 0) {
		printf("FAIL open %s: %s\n", spec, netbe_last_error());
		failures++;
		return -1;
	}
	netbe_rx_enable(e->be);
	return 0;
}

static void check_sizes(netbe_loop_t *loop, struct end *a, struct end *b)
{
	static const size_t sizes[] = { 60, 1000, 1518 };

	for (size_t i = 0; i < 3; i++) {
		CHECK(cross(loop, a, b, sizes[i], (unsigned)i * 2),
		      "A->B %zu bytes did not arrive intact", sizes[i]);
		CHECK(cross(loop, b, a, sizes[i], (unsigned)i * 2 + 1),
		      "B->A %zu bytes did not arrive intact", sizes[i]);
	}
	printf("ok: 60/1000/1518-byte frames both ways through vde_switch\n");
}

static void check_giant(netbe_loop_t *loop, struct end *a, struct end *b)
{
	static uint8_t f[1600];
	static const size_t sizes[] = { 1519, 1600 };
	struct netbe_stats st;
	uint64_t drops[NETBE_DROP_NREASONS] = { 0 };
	int before = b->frames;

	make_frame(f, sizeof(f), 1, 99);
	for (size_t i = 0; i < 2; i++) {
		struct iovec v = { f, sizes[i] };
		ssize_t r = netbe_send(a->be, &v, 1);

		CHECK(r == -EMSGSIZE, "%zu-byte frame: %zd, want -EMSGSIZE",
		      sizes[i], r);
	}
	/* Too long for the switch is the frame's fault: a drop, with its
	 * reason, and no error (the backend did not fail). */
	netbe_get_stats(a->be, &st);
	CHECK(netbe_get_drops(a->be, NETBE_TX, drops, NETBE_DROP_NREASONS) ==
		      NETBE_DROP_NREASONS,
	      "netbe_get_drops");
	CHECK(st.tx_drops == 2 && drops[NETBE_DROP_OVERSIZE] == 2 &&
		      st.tx_errors == 0,
	      "tx_drops %llu (oversize %llu), tx_errors %llu, want 2 (2), 0",
	      (unsigned long long)st.tx_drops,
	      (unsigned long long)drops[NETBE_DROP_OVERSIZE],
	      (unsigned long long)st.tx_errors);
	for (int t = 0; t < 20; t++)
		netbe_loop_run_once(loop, 10);
	CHECK(b->frames == before, "a refused frame arrived");
	printf("ok: 1519/1600-byte frames refused (%s), counted\n",
	       netbe_last_error());
}

/* With mtu=1600 the backend passes the frame and the switch cuts it:
 * proof that the default limit is the switch's, not an invention. */
static void check_switch_cuts(netbe_loop_t *loop, struct end *b)
{
	static uint8_t f[1600];
	struct iovec v = { f, sizeof(f) };
	char spec[128];
	struct end big;
	int before = b->frames;

	snprintf(spec, sizeof(spec), "vde,sock=%s,mtu=1600", dir);
	if (open_end(&big, spec, loop) < 0)
		return;
	make_frame(f, sizeof(f), 3, 5);
	CHECK(netbe_send(big.be, &v, 1) == (ssize_t)sizeof(f),
	      "mtu=1600: send failed: %s", netbe_last_error());
	for (int t = 0; t < 200 && b->frames == before; t++)
		netbe_loop_run_once(loop, 10);
	CHECK(b->frames == before + 1 && b->last_len == 1518,
	      "vde_switch delivered %d frame(s) of %zd bytes; the 1518 "
	      "limit is wrong", b->frames - before, b->last_len);
	printf("ok: mtu=1600: vde_switch cuts a 1600-byte frame to %zd\n",
	       b->last_len);
	netbe_cleanup(big.be);
}

static int count_files(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void check_errors(netbe_loop_t *loop)
{
	char spec[128], missing[96];
	netbe_t *be = NULL;
	int r;

	snprintf(missing, sizeof(missing), "%s/nosuchswitch", dir);
	mkdir(missing, 0700);
	snprintf(spec, sizeof(spec), "vde,sock=%s", missing);
	r = netbe_open(&be, spec, loop, rx_cb, NULL);
	CHECK(r < 0 && strstr(netbe_last_error(), missing),
	      "missing switch: r=%d '%s'", r, netbe_last_error());
	CHECK(count_files(missing) == 0, "a failed open left a file behind");
	printf("ok: %s -> %s\n", spec, netbe_last_error());
	r = netbe_open(&be, "vde", loop, rx_cb, NULL);
	CHECK(r == -EINVAL && strstr(netbe_last_error(), "sock="),
	      "no switch given: r=%d '%s'", r, netbe_last_error());
	printf("ok: vde -> %s\n", netbe_last_error());
}

static void check_port(netbe_loop_t *loop, struct end *b)
{
	char spec[128];
	struct end p5;

	snprintf(spec, sizeof(spec), "vde,sock=%s,port=5", dir);
	if (open_end(&p5, spec, loop) < 0)
		return;
	CHECK(cross(loop, &p5, b, 100, 11), "port=5: frame lost");
	printf("ok: %s\n", spec);
	netbe_cleanup(p5.be);
}

static int hangups;

static void log_fn(enum netbe_log_level lvl, const char *msg, void *opaque)
{
	(void)lvl;
	(void)opaque;
	if (strstr(msg, "switch closed"))
		hangups++;
}

static void check_switch_death(netbe_loop_t *loop)
{
	int ran = 0;

	switch_stop();
	for (int t = 0; t < 100 && hangups < 2; t++)
		netbe_loop_run_once(loop, 10);
	CHECK(hangups == 2, "%d of 2 backends noticed the switch died",
	      hangups);
	/* Nothing left to report: the loop must be idle, not spinning. */
	for (int t = 0; t < 5; t++)
		ran += netbe_loop_run_once(loop, 10);
	CHECK(ran == 0, "loop still busy after hangup (%d callbacks)", ran);
	printf("ok: switch death noticed, loop idle\n");
}

int main(void)
{
	netbe_loop_t *loop;
	struct end a, b;
	char spec[128];

	setvbuf(stdout, NULL, _IONBF, 0);
#ifdef UNDER_ASAN
	printf("SKIP: libvdeplug dlopen()s plugins with RTLD_DEEPBIND, which "
	       "AddressSanitizer aborts on\n");
	return 77;
#endif
	if (system("command -v vde_switch >/dev/null 2>&1") != 0) {
		printf("SKIP: vde_switch not installed (Debian: vde2)\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/netbe-vde-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(dir))
		return 1;
	atexit(cleanup);
	if (switch_start() < 0) {
		printf("FAIL: vde_switch did not start\n");
		return 1;
	}
	netbe_set_log_fn(log_fn, NETBE_LOG_WARN, NULL);
	if (netbe_loop_new(&loop) < 0)
		return 1;
	snprintf(spec, sizeof(spec), "vde,sock=%s", dir);
	if (open_end(&a, spec, loop) < 0)
		return 1;
	snprintf(spec, sizeof(spec), "vde:%s", dir);
	if (open_end(&b, spec, loop) < 0)
		return 1;
	CHECK(netbe_get_mtu(a.be) == 1500, "mtu %d", netbe_get_mtu(a.be));
	check_sizes(loop, &a, &b);
	check_giant(loop, &a, &b);
	check_switch_cuts(loop, &b);
	check_port(loop, &b);
	check_errors(loop);
	check_switch_death(loop);
	netbe_cleanup(a.be);
	netbe_cleanup(b.be);
	netbe_loop_free(loop);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
