/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * demo.c - "netbe demo": a self-contained end-to-end check.
 *
 *   a1 ==pipe:demo-a==> a2 --switch--> b1 ==pipe:demo-b==> b2
 *
 * a2 and b1 are the two ports of the library's switch (netbe_switch_attach
 * of the open handles).  N numbered Ethernet frames of varying sizes go
 * into a1; b2 must receive every one, intact and in order, and the switch
 * must have dropped none.  Everything runs on this thread: send a window
 * of frames, run the loop until it drains, repeat.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "swstats.h"

#define DEMO_FRAMES_DEFAULT 10000UL
#define DEMO_FRAMES_MAX 100000000UL
/* Frames in flight at most: must fit a pipe's socket buffers. */
#define DEMO_WINDOW 64
#define DEMO_MIN_LEN 60
#define DEMO_MAX_LEN 1514
#define DEMO_STALL_MS 2000
#define DEMO_ETHERTYPE 0x88b5 /* IEEE local experimental */

enum { A1, A2, B1, B2, N_ENDS };

static const char *const end_spec[N_ENDS] = {
	"pipe:demo-a", "pipe:demo-a", "pipe:demo-b", "pipe:demo-b",
};
static const char *const end_label[N_ENDS] = {
	"a1 (pipe:demo-a)", "a2 (pipe:demo-a)",
	"b1 (pipe:demo-b)", "b2 (pipe:demo-b)",
};

struct demo {
	netbe_loop_t *loop;
	netbe_t *be[N_ENDS];
	netbe_switch_t *sw;
	int port_a2, port_b1;
	unsigned long total, sent, received;
	uint64_t bytes;
	int failed;
	char why[192];
	unsigned char tx[DEMO_MAX_LEN], expect[DEMO_MAX_LEN];
	unsigned char rx[NETBE_MAX_FRAME];
};

static void demo_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " demo [-v] [--frames N]\n"
		"Self-test without root or network: open two in-process pipe "
		"pairs, make pair\n"
		"a's second end and pair b's first end the two ports of a "
		"switch, send N\n"
		"numbered frames (%d-%d "
		"bytes) into pair a and check that pair b delivers all\n"
		"of them, intact and in order.  Exits 0 when every frame "
		"arrived, 1 otherwise.\n"
		"\nOptions:\n"
		"  -n, --frames N  frames to send (1-%lu, default %lu)\n"
		"  -v, --verbose   print library logs to stderr\n"
		"  -h, --help      print this help\n",
		DEMO_MIN_LEN, DEMO_MAX_LEN, DEMO_FRAMES_MAX,
		DEMO_FRAMES_DEFAULT);
}

static void demo_fail(struct demo *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void demo_fail(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	if (d->failed)
		return;
	d->failed = 1;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- frames ------------------------------------------------------------ */

static size_t frame_len(unsigned long seq)
{
	/* 7919 is prime to the span: every length shows up. */
	return DEMO_MIN_LEN +
	       (size_t)((seq * 7919UL) % (DEMO_MAX_LEN - DEMO_MIN_LEN + 1));
}

/* Writes frame @seq into @buf; returns its length. */
static size_t make_frame(unsigned long seq, unsigned char *buf)
{
	static const unsigned char macs[12] = {
		0x02, 0, 0, 0, 0, 0x02, /* destination */
		0x02, 0, 0, 0, 0, 0x01, /* source */
	};
	size_t len = frame_len(seq);
	uint32_t s = (uint32_t)seq;

	memcpy(buf, macs, sizeof(macs));
	buf[12] = DEMO_ETHERTYPE >> 8;
	buf[13] = DEMO_ETHERTYPE & 0xff;
	buf[14] = (unsigned char)(s >> 24);
	buf[15] = (unsigned char)(s >> 16);
	buf[16] = (unsigned char)(s >> 8);
	buf[17] = (unsigned char)s;
	for (size_t i = 18; i < len; i++)
		buf[i] = (unsigned char)(s * 31U + i * 7U);
	return len;
}

static unsigned long frame_seq(const unsigned char *buf, size_t len)
{
	if (len < 18)
		return (unsigned long)-1;
	return (unsigned long)buf[14] << 24 | (unsigned long)buf[15] << 16 |
	       (unsigned long)buf[16] << 8 | buf[17];
}

/* ---- receiving on b2 --------------------------------------------------- */

static void check_frame(struct demo *d, size_t len)
{
	size_t want = make_frame(d->received, d->expect);
	size_t i = 0;

	if (frame_seq(d->rx, len) != (d->received & 0xffffffffUL)) {
		demo_fail(d, "frame %lu: got sequence number %lu (%zu bytes)",
			  d->received, frame_seq(d->rx, len), len);
		return;
	}
	if (len != want) {
		demo_fail(d, "frame %lu: %zu bytes, expected %zu",
			  d->received, len, want);
		return;
	}
	while (i < len && d->rx[i] == d->expect[i])
		i++;
	if (i < len)
		demo_fail(d, "frame %lu: byte %zu is 0x%02x, expected 0x%02x",
			  d->received, i, d->rx[i], d->expect[i]);
}

static void b2_rx_cb(int fd, int events, void *param)
{
	struct demo *d = param;
	struct iovec iov = { d->rx, sizeof(d->rx) };
	ssize_t n;

	(void)fd;
	(void)events;
	while (!d->failed && (n = netbe_recv(d->be[B2], &iov, 1)) != 0) {
		if (n < 0) {
			if (n != -EAGAIN)
				demo_fail(d, "b2: receive: %s",
					  cli_strerror((int)n));
			return;
		}
		if (d->received >= d->sent) {
			demo_fail(d, "b2: a frame nobody sent (%zd bytes)", n);
			return;
		}
		check_frame(d, (size_t)n);
		d->received++;
		d->bytes += (uint64_t)n;
	}
}

/* ---- sending on a1 ----------------------------------------------------- */

/* Sends frames until the window is full or a1 pushes back. */
static void pump(struct demo *d)
{
	while (!d->failed && d->sent < d->total &&
	       d->sent - d->received < DEMO_WINDOW) {
		struct iovec iov = { d->tx, make_frame(d->sent, d->tx) };
		ssize_t r = netbe_send(d->be[A1], &iov, 1);

		if (r == -EAGAIN)
			return;
		if (r < 0) {
			demo_fail(d, "a1: send of frame %lu: %s", d->sent,
				  cli_strerror((int)r));
			return;
		}
		d->sent++;
	}
}

/* Runs until every frame arrived, something failed, or nothing moves. */
static void demo_loop(struct demo *d)
{
	uint64_t last = now_ms();
	unsigned long seen = 0;
	int r;

	while (!d->failed && d->received < d->total) {
		pump(d);
		r = netbe_loop_run_once(d->loop, 100);
		if (r < 0 && r != -EINTR)
			demo_fail(d, "loop: %s", strerror(-r));
		if (d->received != seen) {
			seen = d->received;
			last = now_ms();
		} else if (now_ms() - last > DEMO_STALL_MS) {
			demo_fail(d, "stalled: %lu of %lu frames sent, %lu "
				  "received", d->sent, d->total, d->received);
		}
	}
}

/* ---- setup and report -------------------------------------------------- */

/* a2 and b1 become the two ports of a switch, which starts reading. */
static int demo_switch(struct demo *d)
{
	int r = netbe_switch_new(&d->sw, d->loop, NULL);

	if (r == 0)
		r = d->port_a2 = netbe_switch_attach(d->sw, d->be[A2], "id=a2");
	if (r >= 0)
		r = d->port_b1 = netbe_switch_attach(d->sw, d->be[B1], "id=b1");
	if (r < 0) {
		cli_err("demo: cannot set up the switch: %s", cli_strerror(r));
		return -1;
	}
	return 0;
}

static int demo_open(struct demo *d)
{
	int r;

	for (int i = 0; i < N_ENDS; i++) {
		netbe_rx_cb_t cb = i == B2 ? b2_rx_cb : cli_noop_rx;

		if (cli_open(&d->be[i], end_spec[i], d->loop, cb, d) < 0)
			return -1;
	}
	r = netbe_set_cap(d->be[A1], 0, 0);
	if (r == 0)
		r = netbe_set_cap(d->be[B2], 0, 0);
	if (r < 0) {
		cli_err("demo: cannot set features: %s", cli_strerror(r));
		return -1;
	}
	return demo_switch(d);
}

static void demo_report(struct demo *d, uint64_t ms)
{
	uint64_t drops;

	for (int i = 0; i < N_ENDS; i++)
		cli_print_stats(stdout, end_label[i], d->be[i]);
	drops = swview_forward(stdout, d->sw, (unsigned)d->port_a2,
			       (unsigned)d->port_b1, "a2", "b1");
	swview_forward(stdout, d->sw, (unsigned)d->port_b1,
		       (unsigned)d->port_a2, "b1", "a2");
	if (!d->failed && drops != 0)
		demo_fail(d, "the switch dropped %" PRIu64 " frames", drops);
	if (d->failed)
		printf("demo: FAIL: %s\n", d->why);
	else
		printf("demo: PASS: %lu frames, %" PRIu64 " bytes, intact "
		       "and in order, in %" PRIu64 " ms\n",
		       d->received, d->bytes, ms);
}

static int demo_run(struct demo *d)
{
	uint64_t start;

	if (demo_open(d) < 0)
		return EXIT_RUNTIME;
	netbe_rx_enable(d->be[B2]);
	start = now_ms();
	demo_loop(d);
	netbe_rx_disable(d->be[B2]);
	demo_report(d, now_ms() - start);
	return d->failed ? EXIT_RUNTIME : EXIT_OK;
}

static const struct option demo_options[] = {
	{ "frames", required_argument, NULL, 'n' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct demo *d, int argc, char **argv)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:vh", demo_options, NULL)) !=
	       -1) {
		if (opt == 'h') {
			demo_usage(stdout);
			return EXIT_OK;
		} else if (opt == 'v') {
			cli_verbose++;
		} else if (opt != 'n') {
			return cli_bad_option("demo", opt, argv);
		} else if (cli_parse_ulong(optarg, 1, DEMO_FRAMES_MAX,
					   &d->total) < 0) {
			return cli_usage_err("demo", "--frames: '%s' is not "
					     "1-%lu", optarg, DEMO_FRAMES_MAX);
		}
	}
	if (optind < argc)
		return cli_usage_err("demo", "unexpected argument '%s'",
				     argv[optind]);
	return -1;
}

int cmd_demo(int argc, char **argv)
{
	struct demo *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL) {
		cli_err("demo: out of memory");
		return EXIT_RUNTIME;
	}
	d->total = DEMO_FRAMES_DEFAULT;
	r = parse_args(d, argc, argv);
	if (r < 0) {
		cli_setup_log();
		r = netbe_loop_new(&d->loop);
		if (r < 0)
			cli_err("cannot create a loop: %s", strerror(-r));
		r = r < 0 ? EXIT_RUNTIME : demo_run(d);
	}
	netbe_switch_free(d->sw); /* detaches a2 and b1 */
	for (int i = N_ENDS - 1; i >= 0; i--)
		netbe_cleanup(d->be[i]);
	netbe_loop_free(d->loop);
	free(d);
	return r;
}
