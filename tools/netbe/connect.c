/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connect.c - "netbe connect SPEC_A SPEC_B": the library's switch with two
 * ports, A and B, until SIGINT/SIGTERM, then both backends' counters and
 * what crossed each way.  Two ports make the switch lossless: a full end
 * holds the other back instead of dropping (see src/switch/forward.c).
 * --user NAME [--group NAME]: both ends open as root, then the process
 * becomes that user with no capability left (privs.h).  Then, unless
 * --no-seccomp, the seccomp allow-list is loaded (seccomp.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "privs.h"
#include "seccomp.h"
#include "swstats.h"

/* --batch is accepted as before; the switch reads in batches of its own. */
#define CONNECT_BATCH_DEFAULT 64
#define CONNECT_BATCH_MAX 1024

struct connect_opts {
	unsigned long batch;
	unsigned long stats_interval; /* seconds, 0 off */
	int quiet;
	int seccomp; /* load the allow-list (default; --no-seccomp: 0) */
	const char *user, *group; /* --user, --group */
	const char *cpu;	   /* --cpu LIST, parsed into cpus */
	cpu_set_t cpus;
	const char *spec[2];
};

struct connect_ctx {
	const struct connect_opts *o;
	netbe_loop_t *loop;
	netbe_switch_t *sw;
	netbe_t *be[2]; /* owned by the switch */
	struct cli_privs privs;
	unsigned idx[2];
	char label[2][128];
};

static const char *const end_name[2] = { "A", "B" };

static void connect_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " connect [-v] [--batch N] [--quiet] "
		"[--stats-interval SEC]\n"
		"                     [--cpu LIST] [--user NAME [--group NAME]] "
		"[--no-seccomp]\n"
		"                     SPEC_A SPEC_B\n"
		"Open two backends as the two ports, A and B, of a switch and "
		"forward every\n"
		"frame one receives to the other, until SIGINT or SIGTERM "
		"(exit 0); then print\n"
		"both backends' counters and what crossed each way.  A full end "
		"holds the other\n"
		"back instead of losing frames.  Offloads (GSO, partial "
		"checksums) cross whole\n"
		"where both ends carry them; the library finishes them for an "
		"end that cannot.\n"
		"Port keys (vlan=, capture=, rx_rate= ...; see 'netbe switch "
		"--help') may ride\n"
		"in a SPEC.\n"
		"\nOptions:\n"
		"  -b, --batch N             accepted for compatibility (1-%d, "
		"default %d); the\n"
		"                            switch reads 64 frames a call\n"
		"  -q, --quiet               no \"connected\" line on stderr\n"
		"  -s, --stats-interval SEC  print counters every SEC seconds\n"
		"  -c, --cpu LIST            run only on these CPUs (as 1, or "
		"0,2-3); on the\n"
		"                            ends' CPU a frame wakes no other "
		"CPU\n"
		"  -u, --user NAME           open both ends as root, then run "
		"as user NAME (or a\n"
		"                            uid) with no capability left and "
		"no_new_privs; an\n"
		"                            open tap, packet or xdp end needs "
		"nothing more\n"
		"  -g, --group NAME          with --user: the group (or gid; "
		"default the user's)\n"
		CLI_SECCOMP_HELP("   ")
		"  -v, --verbose             print library logs to stderr\n"
		"  -h, --help                print this help\n"
		"\nExample: " PROG_NAME " connect tap,ifname=t0 "
		"tap,ifname=t1\n",
		CONNECT_BATCH_MAX, CONNECT_BATCH_DEFAULT);
}

static const struct option connect_options[] = {
	{ "batch", required_argument, NULL, 'b' },
	{ "cpu", required_argument, NULL, 'c' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "stats-interval", required_argument, NULL, 's' },
	{ "user", required_argument, NULL, 'u' },
	{ "group", required_argument, NULL, 'g' },
	{ "seccomp", no_argument, NULL, CLI_OPT_SECCOMP },
	{ "no-seccomp", no_argument, NULL, CLI_OPT_NO_SECCOMP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_opt(struct connect_opts *o, int opt, char **argv)
{
	switch (opt) {
	case 'b':
		if (cli_parse_ulong(optarg, 1, CONNECT_BATCH_MAX, &o->batch) <
		    0)
			return cli_usage_err("connect",
					     "--batch: '%s' is not 1-%d",
					     optarg, CONNECT_BATCH_MAX);
		return -1;
	case 's':
		if (cli_parse_ulong(optarg, 0, 86400, &o->stats_interval) < 0)
			return cli_usage_err("connect",
					     "--stats-interval: '%s' is not "
					     "0-86400 seconds",
					     optarg);
		return -1;
	case 'c':
		o->cpu = optarg;
		return cli_parse_cpus("connect", optarg, &o->cpus);
	case 'q':
		o->quiet = 1;
		return -1;
	case 'u':
		o->user = optarg;
		return -1;
	case 'g':
		o->group = optarg;
		return -1;
	case CLI_OPT_SECCOMP:
	case CLI_OPT_NO_SECCOMP:
		o->seccomp = opt == CLI_OPT_SECCOMP;
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
	while ((opt = getopt_long(argc, argv, ":b:c:qs:u:g:vh", connect_options,
				  NULL)) != -1) {
		r = parse_opt(o, opt, argv);
		if (r >= 0)
			return r;
	}
	if (o->group != NULL && o->user == NULL)
		return cli_usage_err("connect", "--group needs --user");
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
	swview_forward(out, c->sw, c->idx[0], c->idx[1], "A", "B");
	swview_forward(out, c->sw, c->idx[1], c->idx[0], "B", "A");
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

/* Adds end @i as port A or B; the library's messages then say which end:
 * "A (tap0)". */
static int add_end(struct connect_ctx *c, int i)
{
	char spec[4096];
	int r;

	if ((size_t)snprintf(spec, sizeof(spec), "%s,id=%s", c->o->spec[i],
			     end_name[i]) >= sizeof(spec)) {
		cli_err("%s: the spec is too long", end_name[i]);
		return -1;
	}
	r = netbe_switch_add_port(c->sw, spec);
	if (r < 0) {
		cli_err("cannot open '%s': %s", cli_esc(c->o->spec[i]),
			cli_strerror(r));
		return -1;
	}
	c->idx[i] = (unsigned)r;
	netbe_switch_port_info(c->sw, c->idx[i], NULL, 0, &c->be[i], NULL);
	netbe_set_name(c->be[i], end_name[i]);
	snprintf(c->label[i], sizeof(c->label[i]), "%s",
		 netbe_get_label(c->be[i]));
	return 0;
}

static int open_ends(struct connect_ctx *c)
{
	int r = netbe_switch_new(&c->sw, c->loop, NULL);

	if (r < 0) {
		cli_err("cannot create the switch: %s", cli_strerror(r));
		return -1;
	}
	for (int i = 0; i < 2; i++)
		if (add_end(c, i) < 0)
			return -1;
	if (cli_verbose > 0)
		for (int i = 0; i < 2; i++)
			print_features(end_name[i], netbe_get_cap(c->be[i]) &
							    NETBE_OFFLOAD_MASK);
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

/* Runs until a signal (0) or a failure of the loop (-1). */
static int run_loop(struct connect_ctx *c)
{
	int r = 0;

	cli_set_stop_loop(c->loop);
	while (!cli_stop_requested() && r == 0) {
		r = netbe_loop_run(c->loop);
		if (r < 0 && r != -EINTR)
			cli_err("loop: %s", strerror(-r));
		else
			r = 0;
	}
	cli_set_stop_loop(NULL);
	return r < 0 ? -1 : 0;
}

static int connect_run(struct connect_ctx *c)
{
	int r;

	if (cli_catch_stop_signals() < 0 || open_ends(c) < 0 ||
	    add_stats_timer(c) < 0 || cli_privs_drop(&c->privs) < 0 ||
	    (c->o->seccomp && cli_seccomp_install(c->loop) < 0))
		return EXIT_RUNTIME;
	if (!c->o->quiet)
		fprintf(stderr, "connected %s <-> %s\n", c->label[0],
			c->label[1]);
	r = run_loop(c);
	print_all(c, stdout);
	return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_connect(int argc, char **argv)
{
	struct connect_opts o = { .batch = CONNECT_BATCH_DEFAULT,
				   .seccomp = 1 };
	struct connect_ctx c = { .o = &o };
	int r = parse_args(&o, argc, argv);

	if (r >= 0)
		return r;
	if (cli_privs_resolve(&c.privs, o.user, o.group) < 0 ||
	    cli_pin_cpus("connect", o.cpu, &o.cpus) < 0)
		return EXIT_RUNTIME;
	cli_setup_log();
	r = netbe_loop_new(&c.loop);
	if (r < 0) {
		cli_err("cannot create a loop: %s", strerror(-r));
		return EXIT_RUNTIME;
	}
	r = connect_run(&c);
	netbe_switch_free(c.sw);
	netbe_loop_free(c.loop);
	return r;
}
