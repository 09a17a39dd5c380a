/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * seccomp.c - the system call allow-list of the forwarding phase (see
 * seccomp.h), with libseccomp.
 *
 * Theory of operation.
 *
 * When.  netbe switch and connect open every port (which needs the most:
 * /dev/net/tun, AF_PACKET and AF_XDP sockets, BPF programs, netlink,
 * ioctls that configure interfaces), drop to --user, claim the control
 * socket, and only then load the filter, just before the loop runs.
 * From there on the process forwards frames, answers the control socket
 * and stops; the list below is what that needs, for every backend.  The
 * filter is loaded into every thread the process has (TSYNC: a backend
 * may have started one at open), is inherited by every thread created
 * later, and cannot be removed.  A call from another architecture's ABI
 * (int 0x80, x32) kills the process outright.
 *
 * The default action is SCMP_ACT_TRAP, not a silent kill.  A trapped call
 * raises SIGSYS in the thread that made it, with the call's number in
 * si_syscall; our handler writes "netbe: seccomp: syscall N (NAME) not
 * allowed, stopping" to stderr with write(2) and kills the process with
 * SIGSYS (the handler is installed with SA_RESETHAND | SA_NODEFER, so its
 * own tgkill meets the default action at once; the exit status says
 * "killed by SIGSYS" to whoever supervises us).  Names are resolved
 * before the filter is loaded, into a static table, because
 * seccomp_syscall_resolve_num_arch() allocates and the handler may only
 * use async-signal-safe calls.  SCMP_ACT_KILL_PROCESS would leave only an
 * audit record, which an operator rarely finds; SCMP_ACT_LOG would not
 * stop anything.  A handler could in principle be overwritten by a
 * compromised process (rt_sigaction is allowed); it would then only
 * change how a refused call is reported, never whether it runs: the
 * kernel skips a trapped call whatever the handler does, and a SIGSYS
 * that cannot be delivered kills the process.
 *
 * Refused with an error instead of trapped: the calls that open something
 * new that forwarding never needs -- openat for writing, packet, XDP and
 * netlink sockets, executable memory, bpf(2), mount(2) -- fail with
 * EPERM.  That is what a port added at run time through the control
 * socket meets when it needs a device or a privileged socket (tap,
 * packet, xdp, a capture file): "netbe port add" answers an error naming
 * the filter and the switch keeps running.  Ports made of unix, UDP or
 * TCP sockets (stream, dgram, vale, slirp, vxlan/geneve) can still be
 * added at run time; vde cannot (libvdeplug dlopen()s a plugin, which
 * needs executable memory: "Protocol not supported").  The same calls
 * are what an attacker who took over the process would want next;
 * refused, they are as useless to it as a kill, and the switch stays up
 * for the guests.
 *
 * What stays possible, and why: reading files (openat read-only: libslirp
 * re-reads /etc/resolv.conf when a guest asks its DNS, if_nametoindex and
 * glibc's stdio need nothing more), unlinking a path (the unix sockets we
 * bound are removed when a port or the switch stops), changing a path's
 * permission bits and group (a unix socket's mode= and group= when a
 * stream or dgram port is added at run time) and connecting
 * anywhere (slirp's NAT makes new outgoing connections for the guest).
 * seccomp cannot look at a path or an address; running with --user
 * confines those calls to what that user may do.  Not possible: execve,
 * fork (clone without CLONE_THREAD), ptrace, mount, module loading,
 * namespaces, capability or id changes, new devices, raw or packet
 * sockets, BPF, keyrings, io_uring, and every other call not listed.
 *
 * Arguments are checked where that is simple and means something: socket
 * and socketpair families, ioctl requests (the queries forwarding makes
 * and the tap's offload/header-size settings a feature renegotiation
 * sends), setsockopt levels, mmap/mprotect without PROT_EXEC, openat
 * flags, clone with CLONE_THREAD, tgkill/kill only on our own process.
 * clone3 gets ENOSYS: its flags are in memory seccomp cannot read, and
 * glibc then falls back to clone, whose flags it can.
 *
 * Sanitizers.  ASan and LSan need more at run time: LeakSanitizer stops
 * the world at exit with a helper made by clone (no CLONE_THREAD) that
 * ptraces our threads, and a report reads /proc/self/maps.  In a build
 * with ASan (or LSan) those calls are on the list too, with the reason;
 * the release build's list is the one documented.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "cmd.h"
#include "seccomp.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CLI_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define CLI_SANITIZER 1
#endif
#endif

/* Syscall names for the SIGSYS handler: numbers below this have one. */
#define NAMES_MAX 512
#define NAME_LEN 24
/* The self-test's timer: the loop is running by then. */
#define SELFTEST_MS 50

/* ---- the list ---------------------------------------------------------------- */

/* One rule: @sys with @action when every comparison holds (none: always). */
struct rule {
	int sys;
	uint32_t action;
	unsigned ncmp;
	struct scmp_arg_cmp cmp[2];
};

#define OK SCMP_ACT_ALLOW
#define ARG_EQ(i, v) { (i), SCMP_CMP_EQ, (scmp_datum_t)(v), 0 }
#define ARG_MASK(i, m, v)                                                      \
	{ (i), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(m), (scmp_datum_t)(v) }
#define R(s) { SCMP_SYS(s), OK, 0, { { 0, 0, 0, 0 } } }
#define R_IF(s, act, c) { SCMP_SYS(s), (act), 1, { c } }
#define R_ERR(s, e) { SCMP_SYS(s), SCMP_ACT_ERRNO(e), 0, { { 0, 0, 0, 0 } } }
#define NO_EXEC(i, act, v) R_IF(mmap, act, ARG_MASK(i, PROT_EXEC, v))
#define OPEN_RO(s, i) R_IF(s, OK, ARG_MASK(i, O_ACCMODE | O_CREAT, 0))
#define OPEN_WR(s, i, m)                                                       \
	R_IF(s, SCMP_ACT_ERRNO(EPERM), ARG_MASK(i, O_ACCMODE, m))

static const struct rule rules[] = {
	/* Stopping, and signals to ourselves: SIGINT/SIGTERM end the loop
	 * through their handler, SIGSYS ends us through ours; the slirp
	 * backend blocks SIGPIPE around libslirp and consumes one it raised
	 * (sigpending, sigtimedwait with no wait). */
	R(exit), R(exit_group), R(rt_sigreturn), R(restart_syscall),
	R(rt_sigprocmask), R(rt_sigaction), R(rt_sigpending),
	R(rt_sigtimedwait), R(sigaltstack), R(getpid), R(gettid),
	/* (tgkill and kill: our own pid only; added in add_own_pid().) */

	/* Who and where we are (read only): the control socket compares a
	 * peer's SO_PEERCRED uid with ours; an xdp port added at run time
	 * looks at its parent's mount namespace and our capabilities before
	 * it is refused; glibc asks the machine's size and CPU (qsort,
	 * sysconf). */
	R(getuid), R(geteuid), R(getgid), R(getegid), R(getresuid),
	R(getresgid), R(getppid), R(capget), R(sysinfo), R(uname), R(getcpu),

	/* The loop: epoll, its wake-up eventfd, timers, the fds' I/O
	 * (tap and pipe read/write and readv/writev; eventfd kicks; vhost-
	 * user's kick and call eventfds), poll (libvdeplug, AF_XDP waits),
	 * and the descriptor flags accept and libslirp set. */
	R(epoll_wait), R(epoll_pwait), R(epoll_pwait2), R(epoll_ctl),
	R(epoll_create1), R(eventfd2), R(timerfd_create), R(timerfd_settime),
	R(timerfd_gettime), R(poll), R(ppoll), R(read), R(write), R(readv),
	R(writev), R(pread64), R(pwrite64), R(close), R(fcntl), R(dup),
	R(fstat), R(newfstatat), R(statx), R(lseek), R(statfs), R(fstatfs),
	/* tap's batches: the io_uring rings its ports made before the
	 * filter, each restricted by the kernel to READV and WRITEV on its
	 * tap's fd and to no registration but the unregistration at close
	 * (src/backends/uring.c).  No new ring: io_uring_setup is refused
	 * below, so no unrestricted ring can exist under the filter. */
	R(io_uring_enter), R(io_uring_register),

	/* Memory: malloc, packet rings and AF_XDP UMEMs mapped again when a
	 * ring is rebuilt (MTU raised), vhost-user's memory regions; never
	 * executable (PROT_EXEC is refused below). */
	R(brk), R(munmap), R(mremap), R(madvise),
	NO_EXEC(2, OK, 0),
	R_IF(mprotect, OK, ARG_MASK(2, PROT_EXEC, 0)),

	/* Threads (a backend's own, or a future one's): only real threads;
	 * clone3's flags cannot be read, so it fails and glibc uses clone. */
	R_IF(clone, OK, ARG_MASK(0, CLONE_THREAD, CLONE_THREAD)),
	R_ERR(clone3, ENOSYS), R(futex), R(set_robust_list), R(rseq),
	R(sched_yield), R(sched_getaffinity),

	/* Time: the vDSO answers most; these are its fallbacks and sleeps. */
	R(clock_gettime), R(clock_getres), R(gettimeofday), R(nanosleep),
	R(clock_nanosleep), R(getrandom),

	/* Sockets of unix, IPv4 and IPv6 only: stream's accept and
	 * reconnect, dgram's reconnect, slirp's new NAT flows (TCP, UDP, ICMP
	 * "ping" sockets), if_nametoindex's query socket (AF_UNIX or
	 * AF_INET), vale and the control socket.  Packet, XDP and netlink
	 * sockets are made only at open: refused later. */
	R_IF(socket, OK, ARG_EQ(0, AF_UNIX)), R_IF(socket, OK, ARG_EQ(0, AF_INET)),
	R_IF(socket, OK, ARG_EQ(0, AF_INET6)),
	R_IF(socket, SCMP_ACT_ERRNO(EPERM), ARG_EQ(0, AF_PACKET)),
	R_IF(socket, SCMP_ACT_ERRNO(EPERM), ARG_EQ(0, AF_XDP)),
	R_IF(socket, SCMP_ACT_ERRNO(EPERM), ARG_EQ(0, AF_NETLINK)),
	R_IF(socketpair, OK, ARG_EQ(0, AF_UNIX)),
	R(bind), R(listen), R(connect), R(accept), R(accept4), R(shutdown),
	R(getsockname), R(getpeername), R(getsockopt),
	R(sendto), R(recvfrom), R(sendmsg), R(recvmsg), R(sendmmsg),
	R(recvmmsg),

	/* setsockopt at the levels forwarding uses: buffers and timeouts,
	 * TCP_NODELAY, slirp's IP options, UDP_SEGMENT/GRO of the tunnels,
	 * the packet ring rebuilt after an MTU raise, AF_XDP's rings. */
	R_IF(setsockopt, OK, ARG_EQ(1, SOL_SOCKET)),
	R_IF(setsockopt, OK, ARG_EQ(1, IPPROTO_TCP)),
	R_IF(setsockopt, OK, ARG_EQ(1, IPPROTO_IP)),
	R_IF(setsockopt, OK, ARG_EQ(1, IPPROTO_IPV6)),
	R_IF(setsockopt, OK, ARG_EQ(1, SOL_UDP)),
	R_IF(setsockopt, OK, ARG_EQ(1, SOL_PACKET)),
	R_IF(setsockopt, OK, ARG_EQ(1, SOL_XDP)),

	/* ioctl: queries (an interface's index, MTU, MAC and flags when a
	 * packet or xdp port checks its link; bytes queued; a terminal's
	 * size and mode for the live table and stdio) and the tap settings
	 * a feature renegotiation makes on an open tap. */
	R_IF(ioctl, OK, ARG_EQ(1, SIOCGIFINDEX)),
	R_IF(ioctl, OK, ARG_EQ(1, SIOCGIFMTU)),
	R_IF(ioctl, OK, ARG_EQ(1, SIOCGIFHWADDR)),
	R_IF(ioctl, OK, ARG_EQ(1, SIOCGIFFLAGS)),
	R_IF(ioctl, OK, ARG_EQ(1, SIOCOUTQ)),
	R_IF(ioctl, OK, ARG_EQ(1, FIONREAD)),
	R_IF(ioctl, OK, ARG_EQ(1, FIONBIO)),
	R_IF(ioctl, OK, ARG_EQ(1, TCGETS)),
	R_IF(ioctl, OK, ARG_EQ(1, TIOCGWINSZ)),
	R_IF(ioctl, OK, ARG_EQ(1, TUNSETOFFLOAD)),
	R_IF(ioctl, OK, ARG_EQ(1, TUNSETVNETHDRSZ)),
	R_IF(ioctl, OK, ARG_EQ(1, TUNGETIFF)),

	/* Files: reading (libslirp's /etc/resolv.conf for a guest's DNS);
	 * writing or creating refused (a tap's /dev/net/tun, a capture file:
	 * ports a running switch cannot add under the filter); removing
	 * the unix sockets we bound, when their port or the switch stops;
	 * a unix socket's mode= and group= when a stream or dgram port is
	 * added at run time: permission bits only (no set-id or sticky
	 * bit), the group only (the owner stays -1). */
	OPEN_RO(openat, 2), OPEN_WR(openat, 2, O_WRONLY),
	OPEN_WR(openat, 2, O_RDWR),
#ifdef __NR_open
	OPEN_RO(open, 1), OPEN_WR(open, 1, O_WRONLY), OPEN_WR(open, 1, O_RDWR),
#endif
	R(unlink), R(unlinkat), R(fchmod),
#ifdef __NR_chmod
	R_IF(chmod, OK, ARG_MASK(1, 07000, 0)),
	R_IF(lchown, OK, ARG_MASK(1, 0xffffffffU, 0xffffffffU)),
#endif
	R_IF(fchmodat, OK, ARG_MASK(2, 07000, 0)),
	R_IF(fchownat, OK, ARG_MASK(2, 0xffffffffU, 0xffffffffU)),

	/* Refused, not trapped: what adding a tap, packet or xdp port at
	 * run time tries (see the theory above): executable memory for a
	 * plugin, BPF programs and maps, libxdp's bpffs mount. */
	NO_EXEC(2, SCMP_ACT_ERRNO(EPERM), PROT_EXEC),
	R_IF(mprotect, SCMP_ACT_ERRNO(EPERM), ARG_MASK(2, PROT_EXEC, PROT_EXEC)),
	R_ERR(bpf, EPERM), R_ERR(mount, EPERM), R_ERR(io_uring_setup, EPERM),

#ifdef CLI_SANITIZER
	/* ASan/LSan only: the leak check at exit stops the world with a
	 * clone()d helper that ptraces every thread and reads
	 * /proc/self/task; reports read /proc/self/maps.  Not in a release
	 * build. */
	R(clone), R(ptrace), R(prctl), R(wait4), R(getdents), R(getdents64),
	R(sched_getparam), R(getrlimit), R(prlimit64), R(mincore),
#endif
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* ---- the SIGSYS handler ------------------------------------------------------ */

static char names[NAMES_MAX][NAME_LEN]; /* "" where unknown */
static uint32_t native_arch;            /* AUDIT_ARCH_* of our calls */
static pid_t own_pid;
static volatile int active;

/* Fills names[] (outside any handler: the lookup allocates). */
static void resolve_names(void)
{
	for (int nr = 0; nr < NAMES_MAX; nr++) {
		char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (n != NULL && strlen(n) < NAME_LEN)
			memcpy(names[nr], n, strlen(n) + 1);
		free(n);
	}
}

/* Appends @s to @buf at *@len, within @cap: async-signal-safe. */
static void put_str(char *buf, size_t cap, size_t *len, const char *s)
{
	while (*s && *len < cap)
		buf[(*len)++] = *s++;
}

/* Appends @v in decimal. */
static void put_num(char *buf, size_t cap, size_t *len, long v)
{
	char d[24];
	int i = (int)sizeof(d) - 1;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	d[i] = '\0';
	do
		d[--i] = (char)('0' + u % 10);
	while ((u /= 10) != 0 && i > 1);
	if (v < 0)
		d[--i] = '-';
	put_str(buf, cap, len, d + i);
}

/* SIGSYS from the filter: say which call, then die of SIGSYS (the
 * disposition is default again: SA_RESETHAND; not blocked: SA_NODEFER). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[128];
	size_t len = 0;
	int nr = si->si_syscall;

	(void)uc;
	put_str(line, sizeof(line), &len, PROG_NAME ": seccomp: syscall ");
	put_num(line, sizeof(line), &len, nr);
	put_str(line, sizeof(line), &len, " (");
	put_str(line, sizeof(line), &len,
		si->si_arch == native_arch && nr >= 0 && nr < NAMES_MAX &&
				names[nr][0]
			? names[nr]
			: "unknown");
	put_str(line, sizeof(line), &len, ") not allowed, stopping\n");
	(void)!write(STDERR_FILENO, line, len);
	syscall(SYS_tgkill, own_pid, syscall(SYS_gettid), sig);
	_exit(128 + sig); /* not reached: SIGSYS is fatal now */
}

static int catch_sigsys(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == 0)
		return 0;
	cli_err("seccomp: sigaction(SIGSYS): %s; stopping", strerror(errno));
	return -1;
}

/* ---- building and loading ---------------------------------------------------- */

static int load_err(scmp_filter_ctx ctx, const char *what, int r)
{
	cli_err("seccomp: %s: %s; stopping (--no-seccomp runs without the "
		"filter)", what, strerror(-r));
	seccomp_release(ctx);
	return -1;
}

/* tgkill and kill reach only our own process (the handler's tgkill). */
static int add_own_pid(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, OK, SCMP_SYS(tgkill), 1,
				 SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)own_pid));

	if (r == 0)
		r = seccomp_rule_add(ctx, OK, SCMP_SYS(kill), 1,
				     SCMP_A0(SCMP_CMP_EQ,
					     (scmp_datum_t)own_pid));
	return r;
}

static int add_rules(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < NRULES; i++) {
		const struct rule *ru = &rules[i];
		int r;

		if (ru->sys < 0)
			continue; /* not a call of this architecture */
		r = seccomp_rule_add_array(ctx, ru->action, ru->sys, ru->ncmp,
					   ru->cmp);
		if (r < 0) {
			char *n = seccomp_syscall_resolve_num_arch(
				SCMP_ARCH_NATIVE, ru->sys);

			cli_err("seccomp: rule %zu (%s): %s", i,
				n ? n : "?", strerror(-r));
			free(n);
			return r;
		}
	}
	return add_own_pid(ctx);
}

/* NETBE_SECCOMP_SELFTEST=1: the running loop calls execve, which the
 * filter must stop with the log line; if it runs, /bin/true replaces us
 * and exits 0, which the test takes as a failure. */
static void selftest_cb(int fd, int events, void *arg)
{
	char *const argv[] = { (char *)"/bin/true", NULL };

	(void)fd;
	(void)events;
	(void)arg;
	execve(argv[0], argv, environ);
	cli_err("seccomp self-test: execve: %s", strerror(errno));
	_exit(EXIT_RUNTIME);
}

/* NETBE_SECCOMP_SELFTEST=uring: the loop tries to make an io_uring ring
 * (one nobody restricted); the filter must refuse it with EPERM.  Says
 * what happened and exits 0 (refused) or EXIT_RUNTIME. */
static void selftest_uring_cb(int fd, int events, void *arg)
{
	uint8_t params[120] = { 0 }; /* struct io_uring_params, zeroed */
	long r = syscall(__NR_io_uring_setup, 4, params);
	int e = errno;

	(void)fd;
	(void)events;
	(void)arg;
	if (r >= 0)
		close((int)r);
	cli_err("seccomp self-test: io_uring_setup: %s",
		r >= 0 ? "allowed" : strerror(e));
	_exit(r < 0 && e == EPERM ? 0 : EXIT_RUNTIME);
}

static int add_selftest(netbe_loop_t *loop)
{
	const char *v = getenv("NETBE_SECCOMP_SELFTEST");
	netbe_watch_t *w;
	int r;

	if (v == NULL || (strcmp(v, "1") != 0 && strcmp(v, "uring") != 0))
		return 0;
	r = netbe_loop_add_timer(loop, SELFTEST_MS, 0,
				 v[0] == '1' ? selftest_cb : selftest_uring_cb,
				 NULL, &w);
	if (r < 0)
		cli_err("seccomp self-test: timer: %s", strerror(-r));
	return r;
}

/* Another ABI's calls kill; every thread gets the filter (TSYNC: a
 * backend may have started one at open); the rules; the load.  0, or
 * -errno with *@what naming the step. */
static int build_and_load(scmp_filter_ctx ctx, const char **what)
{
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				 SCMP_ACT_KILL_PROCESS);

	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	*what = "seccomp_attr_set";
	if (r == 0) {
		*what = "seccomp_rule_add";
		r = add_rules(ctx);
	}
	if (r == 0) {
		*what = "seccomp_load";
		r = seccomp_load(ctx);
	}
	return r;
}

int cli_seccomp_install(netbe_loop_t *loop)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	const char *what;
	int r;

	if (ctx == NULL) {
		cli_err("seccomp: seccomp_init failed; stopping "
			"(--no-seccomp runs without the filter)");
		return -1;
	}
	own_pid = getpid();
	native_arch = seccomp_arch_native();
	resolve_names();
	if (add_selftest(loop) < 0 || catch_sigsys() < 0) {
		seccomp_release(ctx);
		return -1;
	}
	r = build_and_load(ctx, &what);
	if (r < 0)
		return load_err(ctx, what, r);
	seccomp_release(ctx);
	active = 1;
	return 0;
}

int cli_seccomp_active(void)
{
	return active;
}

const char *cli_seccomp_hint(int err)
{
	if (!active || err != -EPERM)
		return "";
	return " (refused under the seccomp filter: a running switch "
	       "cannot add ports that open a device, a packet or XDP "
	       "socket, or a file; give them when the switch starts, or "
	       "start it with --no-seccomp)";
}
