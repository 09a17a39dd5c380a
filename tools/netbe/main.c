/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main.c - the netbe tool: the subcommand table, dispatch, global options.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static int cmd_help(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
} subcommands[] = {
	{ "list", cmd_list, "List the backends and their option keys" },
	{ "probe", cmd_probe, "Open a backend and print what it offers" },
	{ "connect", cmd_connect,
	  "Forward frames between two backends until interrupted" },
	{ "switch", cmd_switch,
	  "Run a learning switch over backends (--default: make run's)" },
	{ "port", cmd_port, "Add or remove a port of a running switch" },
	{ "stats", cmd_stats, "Print a running switch's counters" },
	{ "fdb", cmd_fdb, "Print a running switch's MAC table" },
	{ "demo", cmd_demo,
	  "Self-test: frames through two in-process pipe pairs" },
	{ "bench", cmd_bench, "Measure a backend's packet rate (tx, rx, fwd)" },
	{ "help", cmd_help, "Show this help, or the help of a subcommand" },
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " [-v] [--version] [--help] "
		"SUBCOMMAND [ARGS...]\n"
		"Network backends for virtual machine monitors (libnetbe).\n"
		"\nSubcommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", subcommands[i].name,
			subcommands[i].description);
	fprintf(f,
		"\nOptions:\n"
		"  -v, --verbose  print library logs to stderr (twice: debug)\n"
		"  -V, --version  print the tool and library versions\n"
		"  -h, --help     print this help\n"
		"\n'" PROG_NAME " SUBCOMMAND --help' describes a subcommand.\n");
}

static void version(void)
{
	printf(PROG_NAME " tool %s, libnetbe %s\n", NETBE_TOOL_VERSION,
	       netbe_version());
}

static int find_subcommand(const char *name)
{
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int unknown_subcommand(const char *name)
{
	cli_err("unknown subcommand '%s'", name);
	fprintf(stderr, "Try '" PROG_NAME " --help'.\n");
	return EXIT_USAGE;
}

/* "netbe help [SUBCOMMAND]" */
static int cmd_help(int argc, char **argv)
{
	char help_opt[] = "--help";
	char *sub_argv[3] = { NULL, help_opt, NULL };
	int i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_err("help", "too many arguments");
	i = find_subcommand(argv[1]);
	if (i < 0)
		return unknown_subcommand(argv[1]);
	sub_argv[0] = argv[1];
	optind = 0;
	return subcommands[i].fn(2, sub_argv);
}

static const struct option global_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 },
};

/* Parses the options before the subcommand: -1 to go on, else an exit. */
static int parse_global(int argc, char **argv)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hVv", global_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			version();
			return EXIT_OK;
		case 'v':
			cli_verbose++;
			break;
		default:
			cli_err("unrecognized option '%s'", argv[optind - 1]);
			fprintf(stderr, "Try '" PROG_NAME " --help'.\n");
			return EXIT_USAGE;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	int r = parse_global(argc, argv);
	int i;

	if (r >= 0)
		return r;
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	i = find_subcommand(argv[0]);
	if (i < 0)
		return unknown_subcommand(argv[0]);
	optind = 0;
	return subcommands[i].fn(argc, argv);
}
