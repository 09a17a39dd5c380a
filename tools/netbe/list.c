/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * list.c - "netbe list": the registered backends and their option keys.
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"

static void list_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " list [--keys | --brief]\n"
		"List every registered backend: its name, the prefixes of a "
		"spec that select it,\n"
		"its description and its option keys.\n"
		"\nOptions:\n"
		"  -k, --keys   show the option keys (the default)\n"
		"  -b, --brief  one line per backend, without option keys\n"
		"  -h, --help   print this help\n");
}

static const char *type_name(enum netbe_opt_type type)
{
	switch (type) {
	case NETBE_OPT_STRING:
		return "string";
	case NETBE_OPT_BOOL:
		return "bool";
	case NETBE_OPT_UINT:
		return "uint";
	case NETBE_OPT_MAC:
		return "mac";
	}
	return "?";
}

static void print_option(const struct netbe_option *o)
{
	printf("    %-14s %-7s %s", o->key, type_name(o->type),
	       o->help != NULL ? o->help : "");
	if (o->type == NETBE_OPT_UINT && (o->min != 0 || o->max != 0))
		printf(" [%lu-%lu]", o->min, o->max);
	putchar('\n');
}

static void print_options(const struct netbe_option *opts)
{
	if (opts == NULL || opts[0].key == NULL) {
		printf("    (no option keys)\n");
		return;
	}
	for (const struct netbe_option *o = opts; o->key != NULL; o++)
		print_option(o);
}

static void print_backend(const struct netbe_backend_info *bi, int keys)
{
	const char *desc = bi->description != NULL ? bi->description : "";

	if (!keys) {
		printf("%-8s %-20s %s\n", bi->name,
		       bi->prefixes != NULL ? bi->prefixes : "", desc);
		return;
	}
	printf("%s - %s\n", bi->name, desc);
	printf("  prefixes: %s\n", bi->prefixes != NULL ? bi->prefixes : "");
	printf("  keys:\n");
	print_options(bi->options);
}

static const struct option list_options[] = {
	{ "keys", no_argument, NULL, 'k' },
	{ "brief", no_argument, NULL, 'b' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, int *keys)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":kbh", list_options, NULL)) !=
	       -1) {
		switch (opt) {
		case 'k':
			*keys = 1;
			break;
		case 'b':
			*keys = 0;
			break;
		case 'h':
			list_usage(stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("list", opt, argv);
		}
	}
	if (optind < argc)
		return cli_usage_err("list", "unexpected argument '%s'",
				     argv[optind]);
	return -1;
}

int cmd_list(int argc, char **argv)
{
	int keys = 1, r = parse_args(argc, argv, &keys);
	size_t n;

	if (r >= 0)
		return r;
	n = netbe_backend_count();
	for (size_t i = 0; i < n; i++) {
		const struct netbe_backend_info *bi = netbe_backend_get(i);

		if (bi == NULL)
			continue;
		if (keys && i > 0)
			putchar('\n');
		print_backend(bi, keys);
	}
	return EXIT_OK;
}
