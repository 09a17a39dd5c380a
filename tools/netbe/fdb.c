/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fdb.c - "netbe fdb NAME": the MAC table of the running switch NAME,
 * read through its control socket (ctl.h), one learnt address a line.
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "ctl.h"

static void fdb_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " fdb NAME\n"
		"Print the MAC table of the running switch NAME ('" PROG_NAME
		" switch --name NAME'),\n"
		"one learnt address a line: VLAN MAC PORT AGE_S (seconds since "
		"the address was\n"
		"last seen).  Nothing when the table is empty.\n"
		"\nOptions:\n"
		"  -h, --help  print this help\n");
}

static const struct option fdb_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_fdb(int argc, char **argv)
{
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", fdb_options, NULL)) != -1) {
		if (opt != 'h')
			return cli_bad_option("fdb", opt, argv);
		fdb_usage(stdout);
		return EXIT_OK;
	}
	if (argc - optind != 1)
		return cli_usage_err("fdb", "expected the switch's NAME");
	if ((r = ctl_usage_name("fdb", argv[optind])) >= 0)
		return r;
	return ctl_request(argv[optind], "fdb", stdout);
}
