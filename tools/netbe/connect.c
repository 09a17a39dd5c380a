/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connect.c - "netbe connect SPEC_A SPEC_B": forward frames between two
 * backends until SIGINT/SIGTERM, then print the counters.  Exits 1 when
 * a backend fails for good (e.g. its tap interface was deleted).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "forward.h"

struct connect_opts {
	unsigned long batch;
	unsigned long stats_interval; /* seconds, 0 off */
	int quiet;
	const char *spec[2];
};

struct connect_ctx {
	const struct connect_opts *o;
	netbe_loop_t *loop;
	netbe_t *be[2];
	struct fwd *fwd;
	char label[2][128];
};

static netbe_loop_t *volatile stop_loop;
static volatile sig_atomic_t stop_requested;

static void connect_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " connect [-v] [--batch N] [--quiet] "
		"[--stats-interval SEC] SPEC_A SPEC_B\n"
		"Open two backends and forward every frame one receives to "
		"the other, until\n"
		"SIGINT or SIGTERM (exit 0) or until receiving from one keeps "
		"failing (exit 1);\n"
		"then print both backends' counters.  Offloads pass through "
		"only when both ends\n"
		"support them.\n"
		"\nOptions:\n"
		"  -b, --batch N             frames per receive call "
		"(1-%d, default %d)\n"
		"  -q, --quiet               no \"connected\" line on stderr\n"
		"  -s, --stats-interval SEC  print counters every SEC seconds\n"
		"  -v, --verbose             print library logs to stderr\n"
		"  -h, --help                print this help\n"
		"\nExample: " PROG_NAME " connect tap,ifname=t0 "
		"tap,ifname=t1\n",
		FWD_BATCH_MAX, FWD_BATCH_DEFAULT);
}

static void on_signal(int sig)
{
	netbe_loop_t *loop = stop_loop;
	int saved_errno = errno;

	(void)sig;
	stop_requested = 1;
	if (loop != NULL)
		netbe_loop_stop(loop);
	errno = saved_errno;
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0) {
		cli_err("sigaction: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static const struct option connect_options[] = {
	{ "batch", required_argument, NULL, 'b' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "stats-interval", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_opt(struct connect_opts *o, int opt, char **argv)
{
	switch (opt) {
	case 'b':
		if (cli_parse_ulong(optarg, 1, FWD_BATCH_MAX, &o->batch) < 0)
			return cli_usage_err("connect",
					     "--batch: '%s' is not 1-%d",
					     optarg, FWD_BATCH_MAX);
		return -1;
	case 's':
		if (cli_parse_ulong(optarg, 0, 86400, &o->stats_interval) < 0)
			return cli_usage_err("connect",
					     "--stats-interval: '%s' is not "
					     "0-86400 seconds",
					     optarg);
		return -1;
	case 'q':
		o->quiet = 1;
		return -1;
	case 'v':
		cli_verbose++;
		return -1;
	case 'h':
		connect_usage(stdout);
		return EXIT_OK;
	default:
		return cli_bad_option("connect", opt, argv);
	}
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct connect_opts *o, int argc, char **argv)
{
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":b:qs:vh", connect_options,
				  NULL)) != -1) {
		r = parse_opt(o, opt, argv);
		if (r >= 0)
			return r;
	}
	if (argc - optind != 2)
		return cli_usage_err("connect", "expected SPEC_A and SPEC_B");
	o->spec[0] = argv[optind];
	o->spec[1] = argv[optind + 1];
	return -1;
}

static void print_all(struct connect_ctx *c, FILE *out)
{
	cli_print_stats(out, c->label[0], c->be[0]);
	cli_print_stats(out, c->label[1], c->be[1]);
	fwd_print_counters(out, c->fwd, "A", "B");
	fflush(out);
}

static void stats_timer_cb(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	print_all(arg, stdout);
}

static void print_features(const char *side, uint64_t features)
{
	fprintf(stderr, PROG_NAME ": %s offloads: ", side);
	cli_print_features(stderr, features);
	fputc('\n', stderr);
}

static int open_ends(struct connect_ctx *c)
{
	uint64_t fa, fb;

	for (int i = 0; i < 2; i++) {
		if (cli_open(&c->be[i], c->o->spec[i], c->loop, cli_noop_rx,
			     NULL) < 0)
			return -1;
		/* The library's messages then say which end: "A (tap0)". */
		netbe_set_name(c->be[i], i ? "B" : "A");
		snprintf(c->label[i], sizeof(c->label[i]), "%s",
			 netbe_get_label(c->be[i]));
	}
	if (fwd_setup_caps(c->be[0], c->be[1], &fa, &fb) < 0)
		return -1;
	if (cli_verbose > 0) {
		print_features("A", fa);
		print_features("B", fb);
	}
	return 0;
}

static int add_stats_timer(struct connect_ctx *c)
{
	netbe_watch_t *w;
	int r;

	if (c->o->stats_interval == 0)
		return 0;
	r = netbe_loop_add_timer(c->loop, (unsigned)c->o->stats_interval *
						  1000U,
				 1, stats_timer_cb, c, &w);
	if (r < 0)
		cli_err("cannot add the stats timer: %s", cli_strerror(r));
	return r;
}

/* Runs until a signal (0) or a failure (-1). */
static int run_loop(struct connect_ctx *c)
{
	int r = 0;

	stop_loop = c->loop;
	fwd_set_stop_loop(c->fwd, c->loop);
	while (!stop_requested && !fwd_failed(c->fwd) && r == 0) {
		r = netbe_loop_run(c->loop);
		if (r < 0 && r != -EINTR)
			cli_err("loop: %s", strerror(-r));
		else
			r = 0;
	}
	stop_loop = NULL;
	return r < 0 || fwd_failed(c->fwd) ? -1 : 0;
}

static int connect_run(struct connect_ctx *c)
{
	int r;

	if (open_ends(c) < 0)
		return EXIT_RUNTIME;
	r = fwd_new(&c->fwd, c->be[0], c->be[1], (unsigned)c->o->batch);
	if (r < 0) {
		cli_err("cannot create the forwarder: %s", strerror(-r));
		return EXIT_RUNTIME;
	}
	if (install_signals() < 0 || add_stats_timer(c) < 0)
		return EXIT_RUNTIME;
	if (!c->o->quiet)
		fprintf(stderr, "connected %s <-> %s\n", c->label[0],
			c->label[1]);
	fwd_start(c->fwd);
	r = run_loop(c);
	fwd_stop(c->fwd);
	print_all(c, stdout);
	return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_connect(int argc, char **argv)
{
	struct connect_opts o = { FWD_BATCH_DEFAULT, 0, 0, { NULL, NULL } };
	struct connect_ctx c = { &o, NULL, { NULL, NULL }, NULL, { "", "" } };
	int r = parse_args(&o, argc, argv);

	if (r >= 0)
		return r;
	cli_setup_log();
	r = netbe_loop_new(&c.loop);
	if (r < 0) {
		cli_err("cannot create a loop: %s", strerror(-r));
		return EXIT_RUNTIME;
	}
	r = connect_run(&c);
	fwd_free(c.fwd);
	netbe_cleanup(c.be[0]);
	netbe_cleanup(c.be[1]);
	netbe_loop_free(c.loop);
	return r;
}
