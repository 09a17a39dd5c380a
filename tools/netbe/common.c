/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * common.c - helpers the netbe subcommands share (see cmd.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

int cli_verbose;

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG_NAME ": %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG_NAME " %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_bad_option(const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return cli_usage_err(cmd, "option '%s' requires an argument",
				     arg);
	if (optopt != 0)
		return cli_usage_err(cmd, "invalid option '-%c'", optopt);
	return cli_usage_err(cmd, "unrecognized option '%s'", arg);
}

static const char *level_name(enum netbe_log_level level)
{
	switch (level) {
	case NETBE_LOG_ERR:
		return "error";
	case NETBE_LOG_WARN:
		return "warning";
	case NETBE_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void log_to_stderr(enum netbe_log_level level, const char *msg,
			  void *opaque)
{
	(void)opaque;
	fprintf(stderr, PROG_NAME ": libnetbe %s: %s\n", level_name(level),
		msg);
}

void cli_setup_log(void)
{
	enum netbe_log_level max;

	if (cli_verbose <= 0)
		return;
	max = cli_verbose == 1 ? NETBE_LOG_INFO : NETBE_LOG_DEBUG;
	netbe_set_log_fn(log_to_stderr, max, NULL);
}

int cli_parse_ulong(const char *s, unsigned long min, unsigned long max,
		    unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Writes the CPUs in @set as a list ("0-1,3") into @buf. */
static void cpus_format(const cpu_set_t *set, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && at < len; c++) {
		int e = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		at += (size_t)snprintf(buf + at, len - at, e > c ? "%s%d-%d"
							      : "%s%d",
				       at ? "," : "", c, e);
		c = e;
	}
}

/* Adds CPU range @s ("N" or "N-M") to @set; false when it is not one. */
static bool cpus_add_range(const char *s, size_t n, cpu_set_t *set)
{
	char part[32], *dash;
	unsigned long a, b;

	if (n == 0 || n >= sizeof(part))
		return false;
	memcpy(part, s, n);
	part[n] = '\0';
	dash = strchr(part, '-');
	if (dash != NULL)
		*dash++ = '\0';
	if (cli_parse_ulong(part, 0, CPU_SETSIZE - 1, &a) < 0 ||
	    cli_parse_ulong(dash ? dash : part, a, CPU_SETSIZE - 1, &b) < 0)
		return false;
	for (; a <= b; a++)
		CPU_SET(a, set);
	return true;
}

int cli_parse_cpus(const char *cmd, const char *s, cpu_set_t *set)
{
	cpu_set_t allowed, extra;
	char list[256];

	CPU_ZERO(set);
	for (const char *p = s;; p += strcspn(p, ",") + 1) {
		if (!cpus_add_range(p, strcspn(p, ","), set))
			return cli_usage_err(cmd, "--cpu: '%s' is not a CPU "
					     "list (as 1, or 0,2-3)", s);
		if (p[strcspn(p, ",")] == '\0')
			break;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return -1; /* unknown: sched_setaffinity will say */
	CPU_XOR(&extra, set, &allowed);
	CPU_AND(&extra, &extra, set);
	if (CPU_COUNT(&extra) == 0)
		return -1;
	cpus_format(&allowed, list, sizeof(list));
	return cli_usage_err(cmd, "--cpu: '%s' names CPUs this process may "
			     "not run on (allowed: %s)", s, list);
}

int cli_pin_cpus(const char *cmd, const char *arg, const cpu_set_t *set)
{
	if (arg == NULL || sched_setaffinity(0, sizeof(*set), set) == 0)
		return 0;
	cli_err("%s: --cpu %s: %s", cmd, arg, strerror(errno));
	return -1;
}

static const struct {
	uint64_t bit;
	const char *name;
} feature_names[] = {
	{ NETBE_F_CSUM, "CSUM" },
	{ NETBE_F_GUEST_CSUM, "GUEST_CSUM" },
	{ NETBE_F_MTU, "MTU" },
	{ NETBE_F_MAC, "MAC" },
	{ NETBE_F_GUEST_TSO4, "GUEST_TSO4" },
	{ NETBE_F_GUEST_TSO6, "GUEST_TSO6" },
	{ NETBE_F_GUEST_ECN, "GUEST_ECN" },
	{ NETBE_F_GUEST_UFO, "GUEST_UFO" },
	{ NETBE_F_HOST_TSO4, "HOST_TSO4" },
	{ NETBE_F_HOST_TSO6, "HOST_TSO6" },
	{ NETBE_F_HOST_ECN, "HOST_ECN" },
	{ NETBE_F_HOST_UFO, "HOST_UFO" },
	{ NETBE_F_MRG_RXBUF, "MRG_RXBUF" },
	{ NETBE_F_STATUS, "STATUS" },
	{ NETBE_F_CTRL_VQ, "CTRL_VQ" },
	{ NETBE_F_MQ, "MQ" },
	{ NETBE_F_GUEST_USO4, "GUEST_USO4" },
	{ NETBE_F_GUEST_USO6, "GUEST_USO6" },
	{ NETBE_F_HOST_USO, "HOST_USO" },
};

void cli_print_features(FILE *f, uint64_t features)
{
	const char *sep = "";

	if (features == 0) {
		fputs("none", f);
		return;
	}
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]);
	     i++) {
		if (!(features & feature_names[i].bit))
			continue;
		fprintf(f, "%s%s", sep, feature_names[i].name);
		features &= ~feature_names[i].bit;
		sep = " ";
	}
	for (int b = 0; b < 64; b++) {
		if (features & (1ULL << b)) {
			fprintf(f, "%sbit%d", sep, b);
			sep = " ";
		}
	}
}

/* " [full 3, bad-header 1]": the non-zero drop reasons of @dir. */
static void print_drop_reasons(FILE *f, const netbe_t *be, int dir)
{
	uint64_t n[NETBE_DROP_NREASONS];
	const char *sep = " [";

	netbe_get_drops(be, dir, n, NETBE_DROP_NREASONS);
	for (int i = 0; i < NETBE_DROP_NREASONS; i++) {
		if (!n[i])
			continue;
		fprintf(f, "%s%s %" PRIu64, sep, netbe_drop_name(i), n[i]);
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc(']', f);
}

static void print_dir(FILE *f, const char *label, const netbe_t *be, int dir)
{
	struct netbe_stats st;
	bool rx = dir == NETBE_RX;

	netbe_get_stats(be, &st);
	fprintf(f, "%s %s: frames %" PRIu64 " bytes %" PRIu64 " drops %" PRIu64,
		label, rx ? "rx" : "tx", rx ? st.rx_frames : st.tx_frames,
		rx ? st.rx_bytes : st.tx_bytes, rx ? st.rx_drops : st.tx_drops);
	print_drop_reasons(f, be, dir);
	fprintf(f, " errors %" PRIu64 "\n", rx ? st.rx_errors : st.tx_errors);
}

void cli_print_stats(FILE *f, const char *label, const netbe_t *be)
{
	print_dir(f, label, be, NETBE_RX);
	print_dir(f, label, be, NETBE_TX);
}

void cli_noop_rx(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

const char *cli_esc(const char *s)
{
	static __thread char buf[4][256];
	static __thread unsigned next;
	char *out = buf[next++ % 4];
	size_t o = 0;

	for (; *s && o + 5 < sizeof(buf[0]); s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, sizeof(buf[0]) - o,
					      "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

const char *cli_strerror(int err)
{
	const char *msg = netbe_last_error();

	return msg[0] != '\0' ? msg : strerror(err < 0 ? -err : err);
}

int cli_open(netbe_t **be, const char *spec, netbe_loop_t *loop,
	     netbe_rx_cb_t cb, void *param)
{
	int r = netbe_open(be, spec, loop, cb, param);

	if (r < 0)
		cli_err("cannot open '%s': %s", cli_esc(spec), cli_strerror(r));
	return r;
}

/* ---- stopping on SIGINT / SIGTERM ---------------------------------------- */

static netbe_loop_t *volatile stop_loop;
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	netbe_loop_t *loop = stop_loop;
	int saved_errno = errno;

	(void)sig;
	stop_requested = 1;
	if (loop != NULL)
		netbe_loop_stop(loop); /* async-signal-safe */
	errno = saved_errno;
}

int cli_catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0) {
		cli_err("sigaction: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void cli_set_stop_loop(netbe_loop_t *loop)
{
	stop_loop = loop;
}

int cli_stop_requested(void)
{
	return stop_requested;
}
