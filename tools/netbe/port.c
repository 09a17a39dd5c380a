/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * port.c - "netbe port add NAME SPEC" and "netbe port del NAME PORT":
 * add a port to, or remove one from, the running switch NAME ("netbe
 * switch --name NAME") through its control socket (ctl.h).  Prints the
 * switch's answer: "ok PORTNAME" / "ok", or its error (exit 1).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "ctl.h"

static void port_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " port add NAME SPEC\n"
		"       " PROG_NAME " port del NAME PORT\n"
		"Add a port to the running switch NAME ('" PROG_NAME
		" switch --name NAME'), or\n"
		"remove port PORT from it.  SPEC is a backend spec with port "
		"keys, as for\n"
		"'" PROG_NAME " switch' (id=NAME names the port).  Prints "
		"\"ok PORTNAME\" (add) or \"ok\"\n"
		"(del) and exits 0; prints the switch's error and exits 1 "
		"otherwise.\n"
		"\nOptions:\n"
		"  -h, --help  print this help\n"
		"\nExample: " PROG_NAME " port add lab tap,ifname=t2,id=vm3,"
		"vlan=20\n");
}

static const struct option port_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Builds "port add|del ARG" in @req; 0, or -1 when it does not fit. */
static int build_request(char *req, size_t len, const char *verb,
			 const char *arg)
{
	if (strpbrk(arg, "\r\n") != NULL)
		return -1;
	return (size_t)snprintf(req, len, "port %s %s", verb, arg) < len ? 0
									  : -1;
}

int cmd_port(int argc, char **argv)
{
	char req[CTL_REQ_MAX + 1];
	const char *verb;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", port_options, NULL)) !=
	       -1) {
		if (opt != 'h')
			return cli_bad_option("port", opt, argv);
		port_usage(stdout);
		return EXIT_OK;
	}
	if (argc - optind != 3)
		return cli_usage_err("port", "expected 'add NAME SPEC' or "
				     "'del NAME PORT'");
	verb = argv[optind];
	if (strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0)
		return cli_usage_err("port", "unknown action '%s' (valid: add, "
				     "del)", cli_esc(verb));
	if ((r = ctl_usage_name("port", argv[optind + 1])) >= 0)
		return r;
	if (build_request(req, sizeof(req), verb, argv[optind + 2]) < 0)
		return cli_usage_err("port", "'%s' is too long or has a line "
				     "break", cli_esc(argv[optind + 2]));
	return ctl_request(argv[optind + 1], req, stdout);
}
