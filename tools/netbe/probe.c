/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe.c - "netbe probe SPEC": open a backend, print what it offers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void probe_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " probe [-v] SPEC\n"
		"Open the backend a bhyve-style SPEC describes (\"tap0\", "
		"\"tap,ifname=t0,mtu=9000\",\n"
		"\"pipe:x\"), print its name, offload capabilities, "
		"virtio-net header length,\n"
		"MAC address, MTU and number of queues, then close it.\n"
		"\nOptions:\n"
		"  -v, --verbose  print library logs to stderr\n"
		"  -h, --help     print this help\n");
}

static void print_mac(netbe_t *be)
{
	unsigned char mac[6];
	size_t len = sizeof(mac);
	int r = netbe_get_mac(be, mac, &len);

	if (r == -ENOTSUP) {
		printf("mac:       none\n");
		return;
	}
	if (r < 0) {
		printf("mac:       unknown (%s)\n", strerror(-r));
		return;
	}
	printf("mac:       %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1],
	       mac[2], mac[3], mac[4], mac[5]);
}

static void print_mtu(netbe_t *be)
{
	int mtu = netbe_get_mtu(be);

	if (mtu < 0)
		printf("mtu:       unknown (%s)\n", strerror(-mtu));
	else
		printf("mtu:       %d\n", mtu);
}

/* The reasons counters may give for a drop, as connect prints them. */
static void print_drop_names(void)
{
	printf("drops by:  ");
	for (int i = 0; i < NETBE_DROP_NREASONS; i++)
		printf("%s%s", i ? ", " : "", netbe_drop_name(i));
	printf("\n");
}

static void print_probe(netbe_t *be, const char *spec)
{
	printf("spec:      %s\n", cli_esc(spec));
	printf("label:     %s\n", netbe_get_label(be));
	printf("backend:   %s\n", netbe_get_name(be));
	printf("features:  ");
	cli_print_features(stdout, netbe_get_cap(be));
	printf("\nvnet hdr:  %zu\n", netbe_get_vnet_hdr_len(be));
	print_mac(be);
	print_mtu(be);
	printf("queues:    %u\n", netbe_get_nqueues(be));
	print_drop_names();
	cli_print_stats(stdout, "counters", be);
}

static const struct option probe_options[] = {
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_probe(int argc, char **argv)
{
	netbe_t *be;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", probe_options, NULL)) !=
	       -1) {
		switch (opt) {
		case 'v':
			cli_verbose++;
			break;
		case 'h':
			probe_usage(stdout);
			return EXIT_OK;
		default:
			return cli_bad_option("probe", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_err("probe", "expected exactly one SPEC");
	cli_setup_log();
	if (cli_open(&be, argv[optind], NULL, cli_noop_rx, NULL) < 0)
		return EXIT_RUNTIME;
	print_probe(be, argv[optind]);
	netbe_cleanup(be);
	return EXIT_OK;
}
