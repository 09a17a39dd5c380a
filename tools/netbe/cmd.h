/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd.h - what the subcommands of the netbe tool share.
 *
 * Each subcommand lives in its own file and has the signature of
 * struct subcommand's fn: it gets argv with argv[0] set to its own name,
 * parses its options with getopt_long and returns the process exit status
 * (0 success, 1 runtime error, 2 usage error).
 */
#ifndef NETBE_CMD_H
#define NETBE_CMD_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include "netbe.h"

/* The tool is built with the library: one version (meson's). */
#define NETBE_TOOL_VERSION NETBE_VERSION_STRING

#define PROG_NAME "netbe"

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
};

/* The subcommands (one file each). */
int cmd_list(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_switch(int argc, char **argv);
int cmd_port(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_fdb(int argc, char **argv);

/* Global verbosity: 0 quiet, 1 -v (info), 2 -vv (debug). */
extern int cli_verbose;

/* Prints "netbe: MSG\n" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reports a getopt_long failure of subcommand @cmd (opt is '?' or ':',
 * getopt_long ran with opterr = 0 and a leading ':') and returns
 * EXIT_USAGE.
 */
int cli_bad_option(const char *cmd, int opt, char **argv);

/* Reports a usage error of @cmd ("netbe: CMD: MSG") and returns EXIT_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Installs the library log sink at the level cli_verbose selects. */
void cli_setup_log(void);

/* Parses a decimal in [min, max]; 0 or -1. */
int cli_parse_ulong(const char *s, unsigned long min, unsigned long max,
		    unsigned long *out);

/* Parses @s, --cpu's CPU list ("1", "0,2-3"), into @set: -1 when
 * every CPU is one this process may run on, else reports it as a usage
 * error of @cmd (naming the value and the allowed CPUs) and returns
 * EXIT_USAGE. */
int cli_parse_cpus(const char *cmd, const char *s, cpu_set_t *set);

/* Runs this process on @set only when --cpu @arg was given (before it
 * starts threads, which inherit it): 0, or -1 reported as an error of
 * @cmd. */
int cli_pin_cpus(const char *cmd, const char *arg, const cpu_set_t *set);

/* Writes the names of the feature bits in @features ("CSUM GUEST_TSO4"),
 * or "none". */
void cli_print_features(FILE *f, uint64_t features);

/* Writes @be's counters as two lines, each prefixed with @label. */
void cli_print_stats(FILE *f, const char *label, const netbe_t *be);

/* A receive callback that does nothing (netbe_open requires one). */
void cli_noop_rx(int fd, int events, void *param);

/* netbe_last_error(), or strerror(-@err) when the library left it empty. */
/* @s with control characters escaped (\xNN), for echoing what a user
 * typed; one of four rotating per-thread buffers. */
const char *cli_esc(const char *s);
const char *cli_strerror(int err);

/*
 * Makes SIGINT and SIGTERM set the flag cli_stop_requested() reads and
 * stop the loop given to cli_set_stop_loop() (none: NULL), from the
 * handler.  Returns 0, or -1 with the reason printed.
 */
int cli_catch_stop_signals(void);
void cli_set_stop_loop(netbe_loop_t *loop);
int cli_stop_requested(void);

/* Opens @spec on @loop with callback @cb, reporting failure on stderr. */
int cli_open(netbe_t **be, const char *spec, netbe_loop_t *loop,
	     netbe_rx_cb_t cb, void *param);

#endif /* NETBE_CMD_H */
