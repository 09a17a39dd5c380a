/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats.c - "netbe stats NAME [--json]": the per-port table of the
 * running switch NAME (what its live display shows), or the same as one
 * JSON object, read through its control socket (ctl.h).
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "ctl.h"

static void stats_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " stats [--json] NAME\n"
		"Print the counters of the running switch NAME ('" PROG_NAME
		" switch --name NAME'):\n"
		"per port, frames/s and Mbit/s each way over the switch's last "
		"interval, frames\n"
		"queued, drops by reason; and the MAC table's totals.\n"
		"\nOptions:\n"
		"  -j, --json  one JSON object instead: per port rx_frames, "
		"rx_bytes,\n"
		"              rx_forwarded, tx_frames, tx_bytes, tx_offered, "
		"queued, rx_drops\n"
		"              and tx_drops by reason; fdb totals\n"
		"  -h, --help  print this help\n");
}

static const struct option stats_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_stats(int argc, char **argv)
{
	int opt, json = 0, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jh", stats_options, NULL)) !=
	       -1) {
		if (opt == 'h') {
			stats_usage(stdout);
			return EXIT_OK;
		}
		if (opt != 'j')
			return cli_bad_option("stats", opt, argv);
		json = 1;
	}
	if (argc - optind != 1)
		return cli_usage_err("stats", "expected the switch's NAME");
	if ((r = ctl_usage_name("stats", argv[optind])) >= 0)
		return r;
	return ctl_request(argv[optind], json ? "stats json" : "stats",
			   stdout);
}
