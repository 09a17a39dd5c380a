/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pcap capture (src/switch/capture.c): frames written through the
 * module are read back with libpcap's own reader, and with tshark when
 * it is installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbe.h"
#include "switch/capture.h"

#define HDR 12	/* the virtio-net header the switch skips */
#define SNAP 262144
#define MAXF 8

static char dir[64];

static uint64_t realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void path_of(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

/* One frame as the switch holds it: a header, then the frame, cut into
 * pieces of the given sizes (0 ends the list). */
struct frame {
	size_t skip, len;
	size_t cuts[MAXF];
	uint8_t *bytes; /* skip + len */
};

static void frame_fill(struct frame *f, unsigned seed)
{
	f->bytes = malloc(f->skip + f->len + 1);
	assert_non_null(f->bytes);
	for (size_t i = 0; i < f->skip + f->len; i++)
		f->bytes[i] = (uint8_t)(i < f->skip ? 0xee : (i * 31 + seed));
}

static int frame_iov(const struct frame *f, struct iovec *iov)
{
	size_t off = 0, total = f->skip + f->len;
	int n = 0;

	for (; n < MAXF && f->cuts[n] && off < total; n++) {
		size_t c = f->cuts[n] == SIZE_MAX ? 0 : f->cuts[n];

		iov[n] = (struct iovec){ f->bytes + off, c };
		off += c;
	}
	iov[n++] = (struct iovec){ f->bytes + off, total - off };
	return n;
}

/* Every case: split anywhere, header split too, empty pieces (SIZE_MAX
 * marks a zero-length piece), no header, 60000 bytes, past the snap
 * length. */
static struct frame frames[] = {
	{ HDR, 60, { 0 }, NULL },
	{ HDR, 1514, { HDR, 700, 0 }, NULL },
	{ HDR, 100, { 5, 37, 0 }, NULL },
	{ HDR, 60000, { HDR + 20000, 0 }, NULL },
	{ HDR, 64, { HDR, SIZE_MAX, 64, SIZE_MAX, 0 }, NULL },
	{ 0, 42, { 0 }, NULL },
	{ HDR, 9000, { HDR, 0 }, NULL },
	{ HDR, 60000, { 1, 1, 1, 9, 30000, 0 }, NULL },
	{ HDR, 300000, { HDR + 100, 0 }, NULL },
};
#define NFRAMES (sizeof(frames) / sizeof(frames[0]))

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/netbe-capture-XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < NFRAMES; i++)
		frame_fill(&frames[i], (unsigned)i);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	for (size_t i = 0; i < NFRAMES; i++)
		free(frames[i].bytes);
	return 0;
}

static void write_all(struct netbe__capture *c)
{
	struct iovec iov[MAXF + 1];

	for (size_t i = 0; i < NFRAMES; i++)
		netbe__capture_frame(c, iov, frame_iov(&frames[i], iov),
				     frames[i].skip);
}

/* Reads @path back with libpcap: every frame, in order, byte for byte. */
static void read_back(const char *path, uint64_t t0, uint64_t t1)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *data;

	if (!p)
		fail_msg("pcap_open_offline: %s", err);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	assert_int_equal(pcap_snapshot(p), SNAP);
	for (size_t i = 0; i < NFRAMES; i++) {
		const struct frame *f = &frames[i];
		uint64_t us;

		assert_int_equal(pcap_next_ex(p, &h, &data), 1);
		assert_int_equal(h->len, f->len);
		assert_int_equal(h->caplen, f->len < SNAP ? f->len : SNAP);
		assert_memory_equal(data, f->bytes + f->skip, h->caplen);
		us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
		assert_true(us >= t0 && us <= t1);
	}
	assert_int_equal(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(p);
}

/* tshark's view: the count and each frame's length. */
static void tshark_check(const char *path)
{
	char cmd[2 * PATH_MAX + 128], line[128];
	size_t n = 0;
	FILE *out;

	if (system("command -v tshark >/dev/null 2>&1") != 0) {
		printf("# tshark not installed: skipping its check\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "tshark -r '%s' -T fields -e frame.len "
		 "-e frame.cap_len 2>'%s.err'", path, path);
	out = popen(cmd, "r");
	assert_non_null(out);
	while (fgets(line, sizeof(line), out)) {
		unsigned long len, cap;

		assert_true(n < NFRAMES);
		assert_int_equal(sscanf(line, "%lu %lu", &len, &cap), 2);
		assert_int_equal(len, frames[n].len);
		assert_int_equal(cap, frames[n].len < SNAP ? frames[n].len : SNAP);
		n++;
	}
	if (pclose(out) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s.err'", path);
		assert_int_equal(system(cmd), 0);
		fail_msg("tshark failed on %s", path);
	}
	assert_int_equal(n, NFRAMES);
	printf("# tshark read %zu frames with the expected lengths\n", n);
}

static void test_roundtrip(void **state)
{
	struct netbe__capture *c;
	char path[PATH_MAX];
	uint64_t t0, t1;

	(void)state;
	path_of(path, sizeof(path), "frames.pcap");
	t0 = realtime_us();
	assert_int_equal(netbe__capture_open(&c, path), 0);
	write_all(c);
	assert_int_equal(netbe__capture_count(c), NFRAMES);
	assert_int_equal(netbe__capture_failed(c), 0);
	netbe__capture_close(c);
	t1 = realtime_us();
	read_back(path, t0, t1);
	tshark_check(path);
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* A reader sees frames without the capture closing: the header at once,
 * then every 64 frames, and a frame after 100 ms of quiet at once. */
static void test_flush(void **state)
{
	uint8_t buf[HDR + 100] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };
	struct netbe__capture *c;
	char path[PATH_MAX];
	uint64_t t0;

	(void)state;
	path_of(path, sizeof(path), "flush.pcap");
	assert_int_equal(netbe__capture_open(&c, path), 0);
	assert_int_equal(size_of(path), 24);
	t0 = realtime_us();
	for (int i = 0; i < 64; i++)
		netbe__capture_frame(c, &iov, 1, HDR);
	/* (Unless this took 100 ms, and the timer flushed mid-way.) */
	if (realtime_us() - t0 < 90000)
		assert_int_equal(size_of(path), 24 + 64 * (16 + 100));
	usleep(150000);
	netbe__capture_frame(c, &iov, 1, HDR);
	assert_int_equal(size_of(path), 24 + 65 * (16 + 100));
	/* Not a frame: shorter than its header. */
	iov.iov_len = HDR - 1;
	netbe__capture_frame(c, &iov, 1, HDR);
	assert_int_equal(netbe__capture_count(c), 65);
	assert_int_equal(netbe__capture_failed(c), 1);
	netbe__capture_close(c);
	netbe__capture_close(NULL);
}

/* The descriptor is close-on-exec and the file private (0600). */
static void test_fd(void **state)
{
	struct netbe__capture *c;
	char path[PATH_MAX], link[PATH_MAX], name[64];
	int found = -1;

	(void)state;
	path_of(path, sizeof(path), "fd.pcap");
	assert_int_equal(netbe__capture_open(&c, path), 0);
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
		n = readlink(name, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, path) == 0)
			found = fd;
	}
	assert_true(found >= 0);
	assert_true(fcntl(found, F_GETFD) & FD_CLOEXEC);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	netbe__capture_close(c);
}

static void test_open_errors(void **state)
{
	struct netbe__capture *c = (void *)1;
	char path[PATH_MAX];

	(void)state;
	path_of(path, sizeof(path), "no/such/dir.pcap");
	assert_int_equal(netbe__capture_open(&c, path), -ENOENT);
	assert_null(c);
	assert_non_null(strstr(netbe_last_error(), path));
	/* The header's write fails at once: disk full. */
	assert_int_equal(netbe__capture_open(&c, "/dev/full"), -ENOSPC);
	assert_non_null(strstr(netbe_last_error(), "/dev/full"));
	assert_int_equal(netbe__capture_open(&c, dir), -EISDIR);
}

static int warnings;
static char warning[256];

static void log_fn(enum netbe_log_level lvl, const char *msg, void *opaque)
{
	(void)opaque;
	if (lvl == NETBE_LOG_WARN) {
		warnings++;
		snprintf(warning, sizeof(warning), "%s", msg);
	}
}

/* A file that stops growing (RLIMIT_FSIZE: EFBIG, as a full disk):
 * frames since the last good flush and every later one count as failed,
 * one warning names the path, and nothing else notices. */
static void test_write_error(void **state)
{
	enum { N = 200, LEN = 1514, LIMIT = 100000 };
	uint8_t buf[HDR + LEN] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };
	struct rlimit old, lim;
	struct netbe__capture *c;
	char path[PATH_MAX];
	void (*old_sig)(int);
	uint64_t n, f;

	(void)state;
	path_of(path, sizeof(path), "full.pcap");
	netbe_set_log_fn(log_fn, NETBE_LOG_WARN, NULL);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = (struct rlimit){ LIMIT, old.rlim_max };
	old_sig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(netbe__capture_open(&c, path), 0);
	for (int i = 0; i < N; i++)
		netbe__capture_frame(c, &iov, 1, HDR);
	n = netbe__capture_count(c);
	f = netbe__capture_failed(c);
	netbe__capture_close(c);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_sig);
	netbe_set_log_fn(NULL, NETBE_LOG_ERR, NULL);
	assert_int_equal(n + f, N);
	assert_true(n >= 1 && 24 + n * (16 + LEN) <= LIMIT);
	assert_int_equal(warnings, 1);
	assert_non_null(strstr(warning, path));
	printf("# write error: %" PRIu64 " written, %" PRIu64 " failed: %s\n",
	       n, f, warning);
}

/* What a captured frame costs (printed, not asserted). */
static void test_timing(void **state)
{
	enum { N = 20000 };
	static uint8_t buf[HDR + 1514];
	struct iovec one = { buf, sizeof(buf) };
	struct iovec two[2] = { { buf, HDR + 700 }, { buf + HDR + 700, 814 } };
	struct netbe__capture *c;
	char path[PATH_MAX];
	uint64_t t, t1, t2;

	(void)state;
	path_of(path, sizeof(path), "timing.pcap");
	assert_int_equal(netbe__capture_open(&c, path), 0);
	t = mono_ns();
	for (int i = 0; i < N; i++)
		netbe__capture_frame(c, &one, 1, HDR);
	t1 = mono_ns() - t;
	t = mono_ns();
	for (int i = 0; i < N; i++)
		netbe__capture_frame(c, two, 2, HDR);
	t2 = mono_ns() - t;
	assert_int_equal(netbe__capture_count(c), 2 * N);
	netbe__capture_close(c);
	printf("# capture, 1514-byte frames: %.0f ns/frame in place, "
	       "%.0f ns/frame gathered\n", (double)t1 / N, (double)t2 / N);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_timing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
