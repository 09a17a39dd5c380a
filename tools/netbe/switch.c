/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * switch.c - "netbe switch [OPTIONS] [PORTSPEC...]": a learning switch
 * (the library's netbe_switch) over any mix of backends, on a private
 * loop, until SIGINT/SIGTERM; then the final per-port counters.
 *
 * While it runs: a live table like top's on a terminal, one JSON object
 * per interval with --stats-json, and with --name a control socket
 * (swctl.c) through which "netbe port/stats/fdb NAME" add and remove
 * ports and read the counters and the MAC table.  --default is what
 * `make run` starts: a user-mode NAT uplink and two sockets for QEMU
 * guests (stream framing and vhost-user), no root needed.  --user NAME [--group NAME] opens every port
 * as root, then drops to that user with no capability left (privs.h)
 * before the loop runs; with --name the switch then claims the name as
 * that user, in that user's directory, so that user can control it.
 * Last before the loop, the seccomp allow-list (seccomp.h) is loaded,
 * unless --no-seccomp.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "privs.h"
#include "seccomp.h"
#include "swctl.h"
#include "swstats.h"

#define DEFAULT_NAME "netbe0"
#define DEFAULT_UPLINK "slirp,hostfwd=tcp:127.0.0.1:2222-:22,id=uplink"
#define DEFAULT_SSH "ssh -p 2222 localhost"
#define INTERVAL_MIN 0.1
#define INTERVAL_MAX 86400.0
#define BUSY_POLL_MAX 1000000 /* microseconds: one second */

struct switch_opts {
	const char *name;
	const char *opts;
	const char **ports; /* --port values, then the operands */
	unsigned nports;
	const char *json; /* NULL, "-" or a file */
	const char *user, *group; /* --user, --group */
	double interval;
	long busy_poll; /* microseconds of polling after an event; 0: block */
	const char *cpu; /* --cpu LIST, parsed into cpus */
	cpu_set_t cpus;
	int quiet;
	int dflt;
	int seccomp; /* load the allow-list (default; --no-seccomp: 0) */
};

struct switch_ctx {
	const struct switch_opts *o;
	netbe_loop_t *loop;
	netbe_switch_t *sw;
	struct swview view;
	struct swctl *ctl;
	netbe_watch_t *tick;
	struct cli_privs privs; /* --user: whom to become after the open */
	FILE *json;
	int live;   /* draw the table on the terminal */
	int failed; /* an output failed: exit 1 */
	char vm_sock[192];
	char vhost_sock[192];
	char banner[2048];
};

static void switch_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " switch [--name NAME] [--opts OPTS] "
		"[--port SPEC]... [--stats-json FILE|-]\n"
		"                    [--interval SEC] [--busy-poll USEC] "
		"[--cpu LIST]\n"
		"                    [--quiet] [--default] [--user NAME "
		"[--group NAME]]\n"
		"                    [--no-seccomp] [PORTSPEC...]\n"
		"A learning Ethernet switch whose ports are backends (tap, "
		"stream, slirp, pipe ...),\n"
		"until SIGINT or SIGTERM; then every port's counters.  On a "
		"terminal, a live table:\n"
		"frames/s and Mbit/s each way, frames queued, drops by "
		"reason.\n"
		"\nOptions:\n"
		"  -n, --name NAME        serve a control socket for 'netbe port "
		"add|del', 'netbe\n"
		"                         stats' and 'netbe fdb', and let other "
		"programs' ports\n"
		"                         join as vale,switch=NAME,port=P (one "
		"switch per NAME)\n"
		"  -o, --opts OPTS        switch keys: aging=SEC (300), "
		"max_macs=N (4096),\n"
		"                         queue=FRAMES (256), lossless=on|off "
		"(on with 2 ports)\n"
		"  -p, --port SPEC        add a port (as a PORTSPEC operand)\n"
		"  -j, --stats-json FILE  one JSON object per interval to FILE "
		"('-': stdout)\n"
		"  -i, --interval SEC     refresh / JSON interval (%.1f-%.0f, "
		"default 1)\n"
		"  -b, --busy-poll USEC   after each event, poll the ports "
		"without sleeping for\n"
		"                         up to USEC microseconds (0-%d, "
		"default 0: sleep at\n"
		"                         once); lower latency for a core "
		"spinning meanwhile\n"
		"  -c, --cpu LIST         run only on these CPUs (as 1, or "
		"0,2-3): a core of\n"
		"                         its own for --busy-poll, or the "
		"peers' core, where a\n"
		"                         frame then wakes no other CPU\n"
		"  -q, --quiet            no live table, and nothing on stderr "
		"but errors\n"
		"  -d, --default          name " DEFAULT_NAME " and three ports: "
		"a user-mode NAT\n"
		"                         uplink (ssh -p 2222 localhost reaches "
		"the guest's port\n"
		"                         22), a QEMU stream socket and a "
		"vhost-user socket;\n"
		"                         prints the QEMU options\n"
		"  -u, --user NAME        open the ports as root, then run as "
		"user NAME (or uid)\n"
		"                         with no capability left (and "
		"no_new_privs); with\n"
		"                         --name, the control socket is the "
		"user's, in the user's\n"
		"                         directory (/tmp/netbe-UID without "
		"XDG_RUNTIME_DIR), and\n"
		"                         'port add' has the user's rights: no "
		"tap, packet or xdp\n"
		"                         port then.  Ports open already need "
		"nothing more\n"
		"  -g, --group NAME       with --user: the group (or gid; "
		"default the user's own)\n"
		CLI_SECCOMP_HELP("")
		"                         (under it, 'port add' refuses tap, "
		"packet, xdp and\n"
		"                         vde ports and captures)\n"
		"  -v, --verbose          print library logs to stderr\n"
		"  -h, --help             print this help\n"
		"\nA PORTSPEC is a backend spec (see 'netbe list') with port "
		"keys: id=NAME (the\n"
		"port's name), vlan=N (access port), trunk=on[,vlans=A-B;C], "
		"capture=FILE.pcap,\n"
		"rx_rate=/tx_rate=BYTES/s, rx_pps=/tx_pps=FRAMES/s, "
		"burst=BYTES.\n"
		"\nExamples:\n"
		"  " PROG_NAME " switch --name lab tap,ifname=t0,id=vm1 "
		"tap,ifname=t1,id=vm2,vlan=20\n"
		"  " PROG_NAME " port add lab stream,listen=unix:/tmp/vm3.sock,"
		"id=vm3\n"
		"  " PROG_NAME " switch --default\n"
		"  " PROG_NAME " switch --user nobody --name lab "
		"tap,ifname=t0 tap,ifname=t1\n",
		INTERVAL_MIN, INTERVAL_MAX, BUSY_POLL_MAX);
}

/* ---- options ----------------------------------------------------------------- */

static const struct option switch_options[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "opts", required_argument, NULL, 'o' },
	{ "port", required_argument, NULL, 'p' },
	{ "stats-json", required_argument, NULL, 'j' },
	{ "interval", required_argument, NULL, 'i' },
	{ "busy-poll", required_argument, NULL, 'b' },
	{ "cpu", required_argument, NULL, 'c' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "default", no_argument, NULL, 'd' },
	{ "user", required_argument, NULL, 'u' },
	{ "group", required_argument, NULL, 'g' },
	{ "seccomp", no_argument, NULL, CLI_OPT_SECCOMP },
	{ "no-seccomp", no_argument, NULL, CLI_OPT_NO_SECCOMP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= INTERVAL_MIN) ||
	    v > INTERVAL_MAX)
		return cli_usage_err("switch", "--interval: '%s' is not "
				     "%.1f-%.0f seconds", s, INTERVAL_MIN,
				     INTERVAL_MAX);
	*out = v;
	return -1;
}

static int parse_busy_poll(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 ||
	    v > BUSY_POLL_MAX)
		return cli_usage_err("switch", "--busy-poll: '%s' is not "
				     "0-%d microseconds", s, BUSY_POLL_MAX);
	*out = v;
	return -1;
}

static int parse_opt(struct switch_opts *o, int opt, char **argv)
{
	switch (opt) {
	case 'n':
		o->name = optarg;
		return ctl_usage_name("switch", optarg);
	case 'o':
		o->opts = optarg;
		return -1;
	case 'p':
		o->ports[o->nports++] = optarg;
		return -1;
	case 'j':
		o->json = optarg;
		return -1;
	case 'i':
		return parse_interval(optarg, &o->interval);
	case 'b':
		return parse_busy_poll(optarg, &o->busy_poll);
	case 'c':
		o->cpu = optarg;
		return cli_parse_cpus("switch", optarg, &o->cpus);
	case 'q':
		o->quiet = 1;
		return -1;
	case 'd':
		o->dflt = 1;
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
		switch_usage(stdout);
		return EXIT_OK;
	default:
		return cli_bad_option("switch", opt, argv);
	}
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct switch_opts *o, int argc, char **argv)
{
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:o:p:j:i:b:c:qdu:g:vh",
				  switch_options, NULL)) != -1) {
		r = parse_opt(o, opt, argv);
		if (r >= 0)
			return r;
	}
	while (optind < argc)
		o->ports[o->nports++] = argv[optind++];
	if (o->dflt && o->name == NULL)
		o->name = DEFAULT_NAME;
	if (o->nports == 0 && !o->dflt && o->name == NULL)
		return cli_usage_err("switch", "no ports: give PORTSPECs, "
				     "--name NAME (add them later) or "
				     "--default");
	if (o->group != NULL && o->user == NULL)
		return cli_usage_err("switch", "--group needs --user");
	if (o->json != NULL && o->json[0] == '\0')
		return cli_usage_err("switch", "--stats-json: empty file name");
	return -1;
}

/* ---- ports ------------------------------------------------------------------- */

static int add_port(struct switch_ctx *c, const char *spec)
{
	char name[64];
	int r = swctl_add_port(c->sw, spec, name, sizeof(name));

	if (r < 0) {
		cli_err("cannot add port '%s': %s", cli_esc(spec),
			cli_strerror(r));
		return -1;
	}
	return 0;
}

/* --default: the path of socket "NAME-@what.sock" next to the control
 * socket, in @out. */
static int default_sock(struct switch_ctx *c, const char *what, char *out,
			size_t len)
{
	char dir[128];
	uid_t uid = c->privs.set ? c->privs.uid : geteuid();

	if (ctl_dir_for(uid, dir, sizeof(dir)) < 0 ||
	    (size_t)snprintf(out, len, "%s/%s-%s.sock", dir, c->o->name,
			     what) >= len) {
		cli_err("the guest socket's path is too long");
		return -1;
	}
	return 0;
}

/* --default: the NAT uplink and two guest sockets (QEMU's stream framing
 * and vhost-user) next to the control socket, and the lines that tell
 * the user how to use them. */
static int add_default_ports(struct switch_ctx *c)
{
	char spec[256], vspec[256];

	if (default_sock(c, "vm", c->vm_sock, sizeof(c->vm_sock)) < 0 ||
	    default_sock(c, "vhost", c->vhost_sock, sizeof(c->vhost_sock)) < 0)
		return -1;
	snprintf(spec, sizeof(spec), "stream,listen=unix:%s,id=vm",
		 c->vm_sock);
	snprintf(vspec, sizeof(vspec), "vhost-user,path=%s,id=vhost",
		 c->vhost_sock);
	if (add_port(c, DEFAULT_UPLINK) < 0 || add_port(c, spec) < 0 ||
	    add_port(c, vspec) < 0 ||
	    cli_privs_chown(&c->privs, c->vm_sock) < 0 ||
	    cli_privs_chown(&c->privs, c->vhost_sock) < 0)
		return -1;
	snprintf(c->banner, sizeof(c->banner),
		 "Put a QEMU guest on switch %s (it gets 10.0.2.15 by DHCP "
		 "from the NAT uplink):\n"
		 "  -netdev stream,id=n0,server=off,addr.type=unix,"
		 "addr.path=%s -device virtio-net-pci,netdev=n0\n"
		 "or, faster (shared rings and offloads; size= is the guest's "
		 "-m; without KVM add\n"
		 ",vectors=0 to -device):\n"
		 "  -object memory-backend-memfd,id=mem,share=on,size=1G "
		 "-numa node,memdev=mem\n"
		 "  -chardev socket,id=c0,path=%s -netdev vhost-user,id=n0,"
		 "chardev=c0\n"
		 "  -device virtio-net-pci,netdev=n0\n"
		 "Its port 22 from this host:\n"
		 "  " DEFAULT_SSH "\n",
		 c->o->name, c->vm_sock, c->vhost_sock);
	return 0;
}

static int add_ports(struct switch_ctx *c)
{
	if (c->o->dflt && add_default_ports(c) < 0)
		return -1;
	for (unsigned i = 0; i < c->o->nports; i++)
		if (add_port(c, c->o->ports[i]) < 0)
			return -1;
	return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void output_failed(struct switch_ctx *c, const char *what)
{
	if (!c->failed)
		cli_err("%s: write failed: %s", what, strerror(errno));
	c->failed = 1;
	netbe_loop_stop(c->loop);
}

static void draw(struct switch_ctx *c)
{
	fputs("\033[H\033[2J", stdout); /* home, clear the screen */
	fputs(c->banner, stdout);
	if (c->banner[0])
		fputc('\n', stdout);
	swview_table(stdout, &c->view);
	if (c->ctl)
		printf("\nControl: " PROG_NAME " stats|fdb %s, " PROG_NAME
		       " port add|del %s ...   Ctrl-C stops.\n",
		       c->o->name, c->o->name);
	else
		printf("\nCtrl-C stops.\n");
	if (fflush(stdout) != 0)
		output_failed(c, "stdout");
}

static void write_json(struct switch_ctx *c)
{
	swview_json(c->json, &c->view);
	if (fflush(c->json) != 0 || ferror(c->json))
		output_failed(c, "--stats-json");
}

static void tick_cb(int fd, int events, void *arg)
{
	struct switch_ctx *c = arg;

	(void)fd;
	(void)events;
	swview_sample(&c->view);
	if (c->live)
		draw(c);
	if (c->json)
		write_json(c);
}

static int open_json(struct switch_ctx *c)
{
	const char *j = c->o->json;

	if (j == NULL)
		return 0;
	c->json = strcmp(j, "-") == 0 ? stdout : fopen(j, "we");
	if (c->json == NULL) {
		cli_err("--stats-json: cannot open '%s': %s", cli_esc(j),
			strerror(errno));
		return -1;
	}
	return 0;
}

/* What starts: the guest's instructions, or the ports and the socket. */
static void print_start(struct switch_ctx *c)
{
	unsigned n = netbe_switch_port_slots(c->sw);
	const char *sep = ": ";

	if (c->o->quiet)
		return;
	fputs(c->banner, stderr);
	fprintf(stderr, "switch %s", c->o->name ? c->o->name : "(unnamed)");
	for (unsigned i = 0; i < n; i++) {
		netbe_t *be;

		if (netbe_switch_port_info(c->sw, i, NULL, 0, &be, NULL) == 0) {
			fprintf(stderr, "%s%s", sep, netbe_get_label(be));
			sep = ", ";
		}
	}
	if (c->ctl)
		fprintf(stderr, "; control socket %s", swctl_path(c->ctl));
	fputc('\n', stderr);
}

/* After the loop: the counters as text, or as a last JSON line on a
 * stdout that carries JSON. */
static void print_final(struct switch_ctx *c)
{
	swview_sample(&c->view);
	if (c->json && !c->failed)
		write_json(c);
	if (c->json != stdout) {
		swview_final(stdout, c->sw);
		fflush(stdout);
	}
}

/* --name: the control socket, and the switch published under the name
 * so that other programs' "vale,switch=NAME,port=P" ports join it. */
static int claim_name(struct switch_ctx *c)
{
	int r;

	if (swctl_start(&c->ctl, c->loop, c->sw, &c->view, c->o->name) < 0)
		return -1;
	r = netbe_switch_publish(c->sw, c->o->name);
	if (r < 0)
		cli_err("cannot publish switch '%s': %s", c->o->name,
			cli_strerror(r));
	return r;
}

/* ---- running ------------------------------------------------------------------ */

static int setup(struct switch_ctx *c)
{
	int r = netbe_switch_new(&c->sw, c->loop, c->o->opts);

	if (r < 0) {
		cli_err("cannot create the switch: %s", cli_strerror(r));
		return -1;
	}
	swview_init(&c->view, c->sw, c->o->name, c->o->interval);
	if (c->o->name != NULL && c->privs.set &&
	    ctl_prepare_for(c->o->name, c->privs.uid, c->privs.gid) < 0)
		return -1;
	if (c->o->name != NULL && !c->privs.set && claim_name(c) < 0)
		return -1;
	if (add_ports(c) < 0 || open_json(c) < 0)
		return -1;
	r = netbe_loop_add_timer(c->loop,
				 (unsigned)(c->o->interval * 1000 + 0.5), 1,
				 tick_cb, c, &c->tick);
	if (r < 0) {
		cli_err("cannot add the stats timer: %s", cli_strerror(r));
		return -1;
	}
	/* --user: every port is open; the name is claimed as the user. */
	if (cli_privs_drop(&c->privs) < 0)
		return -1;
	if (c->o->name != NULL && c->privs.set && claim_name(c) < 0)
		return -1;
	/* Everything is open and claimed: from here on, the allow-list. */
	if (c->o->seccomp && cli_seccomp_install(c->loop) < 0)
		return -1;
	c->live = !c->o->quiet && isatty(STDOUT_FILENO) && c->json != stdout;
	swview_sample(&c->view);
	return 0;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --busy-poll: block for an event, then poll without sleeping until
 * busy_poll microseconds pass with nothing to do (each event restarts
 * the clock), so that the next frame finds the loop awake.  The stats
 * timer is one of the loop's fds: blocking with -1 still wakes for it. */
static int busy_poll_once(struct switch_ctx *c)
{
	long long deadline;
	int r = netbe_loop_run_once(c->loop, -1);

	if (r < 0)
		return r;
	deadline = now_us() + c->o->busy_poll;
	while (!cli_stop_requested() && !c->failed) {
		r = netbe_loop_run_once(c->loop, 0);
		if (r < 0)
			return r;
		if (r > 0)
			deadline = now_us() + c->o->busy_poll;
		else if (now_us() >= deadline)
			break;
	}
	return 0;
}

/* Runs until a signal (0) or a failure (-1). */
static int run_loop(struct switch_ctx *c)
{
	int r = 0;

	cli_set_stop_loop(c->loop);
	while (!cli_stop_requested() && !c->failed && r == 0) {
		r = c->o->busy_poll > 0 ? busy_poll_once(c)
					: netbe_loop_run(c->loop);
		if (r < 0 && r != -EINTR)
			cli_err("loop: %s", strerror(-r));
		else
			r = 0;
	}
	cli_set_stop_loop(NULL);
	return r < 0 || c->failed ? -1 : 0;
}

static int switch_run(struct switch_ctx *c)
{
	int r;

	signal(SIGPIPE, SIG_IGN); /* a gone reader is a write error */
	if (cli_catch_stop_signals() < 0 || setup(c) < 0)
		return EXIT_RUNTIME;
	print_start(c);
	if (c->live)
		draw(c);
	r = run_loop(c);
	print_final(c);
	return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}

static void switch_free(struct switch_ctx *c)
{
	swctl_stop(c->ctl);
	netbe_watch_del(c->tick);
	netbe_switch_free(c->sw);
	swview_free(&c->view);
	if (c->json != NULL && c->json != stdout)
		fclose(c->json);
	netbe_loop_free(c->loop);
}

int cmd_switch(int argc, char **argv)
{
	struct switch_opts o = { .interval = 1.0, .seccomp = 1 };
	struct switch_ctx c = { .o = &o };
	int r;

	o.ports = calloc((size_t)argc + 1, sizeof(*o.ports));
	if (o.ports == NULL) {
		cli_err("switch: out of memory");
		return EXIT_RUNTIME;
	}
	r = parse_args(&o, argc, argv);
	if (r < 0 && cli_privs_resolve(&c.privs, o.user, o.group) < 0)
		r = EXIT_RUNTIME;
	/* --cpu: before the loop and the ports, so that every thread they
	 * start inherits the set. */
	if (r < 0 && cli_pin_cpus("switch", o.cpu, &o.cpus) < 0)
		r = EXIT_RUNTIME;
	if (r < 0) {
		cli_setup_log();
		r = netbe_loop_new(&c.loop);
		if (r < 0)
			cli_err("cannot create a loop: %s", strerror(-r));
		r = r < 0 ? EXIT_RUNTIME : switch_run(&c);
		switch_free(&c);
	}
	free(o.ports);
	return r;
}
