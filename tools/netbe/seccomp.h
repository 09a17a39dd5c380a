/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * seccomp.h - "--seccomp" (the default) and "--no-seccomp" of netbe
 * switch and connect: a system call allow-list for the forwarding phase,
 * installed after every port is open, after the --user drop and after
 * the control socket is claimed, before the loop runs.  A call outside
 * the list stops the process with "netbe: seccomp: syscall N (NAME) not
 * allowed, stopping" on stderr and SIGSYS.  See seccomp.c for the list
 * and why each group is on it.
 */
#ifndef NETBE_SECCOMP_H
#define NETBE_SECCOMP_H

#include "netbe.h"

/* The long options' values: outside any short option's range. */
enum { CLI_OPT_SECCOMP = 0x100, CLI_OPT_NO_SECCOMP };

/* The help lines of both options, for the subcommands' usage; @P pads
 * the description column (a string literal of spaces). */
#define CLI_SECCOMP_HELP(P)                                                    \
	"      --seccomp          " P "(the default) after the ports open, "    \
	"allow only the\n"                                                     \
	"                         " P "system calls forwarding needs; any "     \
	"other stops the\n"                                                    \
	"                         " P "process with a log line naming the "     \
	"call\n"                                                               \
	"                         " P "(docs/security.md)\n"                   \
	"      --no-seccomp       " P "run without that filter\n"

/*
 * Loads the filter into this process (and every thread it starts later).
 * @loop: with NETBE_SECCOMP_SELFTEST=1 in the environment, a timer on it
 * makes the running loop call execve(2), which the filter must stop: the
 * test suite's proof that the filter is live in the forwarding phase.
 * Returns 0, or -1 with the reason printed (the caller stops: it was
 * asked for a filter it does not have).
 */
int cli_seccomp_install(netbe_loop_t *loop);

/* Non-zero once cli_seccomp_install() succeeded. */
int cli_seccomp_active(void);

/* What a refusal (EPERM) of a "port add" under the filter means, to
 * append to the error; "" when the filter is off. */
const char *cli_seccomp_hint(int err);

#endif /* NETBE_SECCOMP_H */
