/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_peer - the socket backends outlive their peer: a peer process
 * killed, a peer that stops reading, a peer that comes back (issue 11).
 *
 *   usage: fault_peer CASE [NETBE]
 *   CASE: stream-unix-gone stream-tcp-gone stream-listen-gone
 *         stream-stall dgram-unix-gone dgram-udp-refused pipe-closed
 *         vale-gone (NETBE: the netbe binary) vde-stall-gone
 *         switch-one-gone
 *
 * Theory of operation
 *   The backend runs as a VMM runs it (fault_util.c: its own loop and
 *   thread), named "fp", so every line it logs reads "fp (SPEC): ...".
 *   Its peer is a real process: a child forked here (a stream or dgram
 *   peer that sends test frame SEQ every 100 ms, counts the intact
 *   frames it receives and reports the count on its pipe at the end of
 *   file), "netbe switch", or vde_switch.  Each case then checks, and
 *   prints what it measured:
 *     - the fault is logged under the port's name, with the reason and
 *       what happens next (reconnect, listen again, or stay down);
 *     - every frame offered meanwhile is counted exactly once
 *       (tx_frames + tx_drops + tx_errors), the drops under the reason
 *       the fault means (peer-gone; full while a peer stalls);
 *     - this process uses under MAX_CPU % of one core over FAULT_MS
 *       while the fault lasts (getrusage, every thread): no spinning on
 *       a dead socket, a refused connect, an EPOLLERR or a full buffer;
 *     - the documented recovery holds: a stream client with reconnect=
 *       and a stream server find the restarted peer, dgram finds a
 *       restarted unix peer on its next send, a stalled peer that reads
 *       again gets every accepted frame whole (its count is compared
 *       with tx_frames) and netbe_tx_wait() fires; pipe, vale and vde
 *       stay down (they have no reconnect) and close cleanly.
 *   vde is skipped under AddressSanitizer (libvdeplug's RTLD_DEEPBIND,
 *   see tests/vde/); every case runs inside the netns faults.sh made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_util.h"

#define MAX_CPU 10.0   /* percent of one core */
#define FAULT_MS 1500  /* how long CPU is measured while the fault lasts */
#define WAIT_MS 3000   /* for a frame, a log line, a reconnect */
#define FRAME 200
#define STORM 1000     /* frames offered while the peer is gone */
#define TCP_PORT 7001
#define UDP_LOCAL 7101
#define UDP_REMOTE 7102

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static char dir[64];		/* scratch directory */
static struct fu_port port;	/* the backend under test, "fp" */
static const char *netbe_bin;

/* ---- peers: child processes ------------------------------------------------ */

enum peer_kind { PEER_LISTEN, PEER_CONNECT, PEER_DGRAM };

struct peer {
	pid_t pid;
	int rfd; /* 'R' when ready, then the count of intact frames */
};

struct peer_cfg {
	enum peer_kind kind;
	struct sockaddr_storage addr, local; /* local: PEER_DGRAM's own */
	socklen_t len, local_len;
	uint32_t seq;
};

static socklen_t fp_unix_addr(struct sockaddr_storage *ss, const char *name)
{
	struct sockaddr_un *un = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "%s/%s", dir, name);
	return sizeof(*un);
}

static socklen_t fp_inet_addr(struct sockaddr_storage *ss, unsigned port_nr)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port_nr);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*in);
}

/* The child's socket, bound (and listening) as @c says; exits on error. */
static int child_socket(const struct peer_cfg *c)
{
	int type = c->kind == PEER_DGRAM ? SOCK_DGRAM : SOCK_STREAM, one = 1;
	const struct sockaddr_storage *b = c->kind == PEER_DGRAM ? &c->local
								 : &c->addr;
	socklen_t blen = c->kind == PEER_DGRAM ? c->local_len : c->len;
	int fd = socket(b->ss_family, type, 0);

	if (fd < 0)
		_exit(2);
	if (c->kind == PEER_CONNECT)
		return fd;
	if (b->ss_family == AF_UNIX)
		unlink(((const struct sockaddr_un *)b)->sun_path);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)b, blen) < 0 ||
	    (c->kind == PEER_LISTEN && listen(fd, 1) < 0))
		_exit(3);
	return fd;
}

/* A stream peer's connection: accepted or connected (retrying). */
static int child_conn(const struct peer_cfg *c, int fd)
{
	int conn;

	if (c->kind == PEER_LISTEN) {
		(void)write(3, "R", 1);
		conn = accept(fd, NULL, NULL);
		if (conn < 0)
			_exit(4);
		return conn;
	}
	(void)write(3, "R", 1);
	while (connect(fd, (const struct sockaddr *)&c->addr, c->len) < 0)
		usleep(20000);
	return fd;
}

/* Counts the intact length-prefixed records in @buf; keeps a partial
 * one at the front.  Returns the bytes kept. */
static size_t child_records(uint8_t *buf, size_t have, uint64_t *ok,
			    uint64_t *bad)
{
	size_t off = 0;

	while (have - off >= 4) {
		uint32_t len;

		memcpy(&len, buf + off, 4);
		len = ntohl(len);
		if (len > FU_BUF) {
			(*bad)++;
			return 0;
		}
		if (have - off < 4 + len)
			break;
		if (fu_frame_ok(buf + off + 4, len))
			(*ok)++;
		else
			(*bad)++;
		off += 4 + len;
	}
	memmove(buf, buf + off, have - off);
	return have - off;
}

static void child_send(const struct peer_cfg *c, int fd)
{
	static uint8_t rec[4 + FRAME];
	uint32_t len = htonl(FRAME);

	if (c->kind == PEER_DGRAM) {
		fu_frame_fill(rec, FRAME, c->seq);
		if (send(fd, rec, FRAME, MSG_DONTWAIT) < 0)
			(void)connect(fd, (const struct sockaddr *)&c->addr,
				      c->len);
		return;
	}
	memcpy(rec, &len, 4);
	fu_frame_fill(rec + 4, FRAME, c->seq);
	(void)send(fd, rec, sizeof(rec), MSG_NOSIGNAL);
}

/* Until the end of file: sends frame seq every 100 ms, counts what
 * arrives intact, then writes the count (bad ones: the top bit). */
static void child_serve(const struct peer_cfg *c, int fd)
{
	static uint8_t buf[8 * FU_BUF];
	uint64_t ok = 0, bad = 0;
	size_t have = 0;
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, 100) == 0) {
			child_send(c, fd);
			continue;
		}
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n == 0 || (n < 0 && errno != EINTR && c->kind != PEER_DGRAM))
			break;
		if (n > 0 && c->kind == PEER_DGRAM)
			ok += fu_frame_ok(buf, (size_t)n);
		else if (n > 0)
			have = child_records(buf, have + (size_t)n, &ok, &bad);
	}
	ok |= bad ? 1ULL << 63 : 0;
	(void)write(3, &ok, sizeof(ok));
	_exit(0);
}

static void child_main(const struct peer_cfg *c, int wfd)
{
	int fd;

	dup2(wfd, 3);
	closefrom(4); /* none of the backend's sockets stays open here */
	fd = child_socket(c);
	if (c->kind == PEER_DGRAM) {
		(void)connect(fd, (const struct sockaddr *)&c->addr, c->len);
		(void)write(3, "R", 1);
		child_serve(c, fd);
	}
	child_serve(c, child_conn(c, fd));
}

/* Reads @n bytes from @fd within @ms; true when they came. */
static bool fp_read(int fd, void *buf, size_t n, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, ms) == 1 && read(fd, buf, n) == (ssize_t)n;
}

static void peer_start(struct peer *pe, const struct peer_cfg *c)
{
	int pfd[2];
	char r;

	FU_CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
	pe->pid = fork();
	FU_CHECK(pe->pid >= 0, "fork: %s", strerror(errno));
	if (pe->pid == 0)
		child_main(c, pfd[1]);
	close(pfd[1]);
	pe->rfd = pfd[0];
	FU_CHECK(fp_read(pe->rfd, &r, 1, WAIT_MS) && r == 'R',
		 "the peer did not start");
}

static void peer_kill(struct peer *pe)
{
	kill(pe->pid, SIGKILL);
	waitpid(pe->pid, NULL, 0);
	close(pe->rfd);
	pe->pid = -1;
}

/* The peer's count of intact frames, after the end of file. */
static uint64_t peer_count(struct peer *pe)
{
	uint64_t n = 0;

	FU_CHECK(fp_read(pe->rfd, &n, sizeof(n), WAIT_MS),
		 "the peer did not report its count");
	FU_CHECK(!(n >> 63), "the peer received a torn or corrupt frame");
	waitpid(pe->pid, NULL, 0);
	close(pe->rfd);
	return n;
}

/* ---- checks ---------------------------------------------------------------- */

static void fp_open(const char *spec)
{
	int r = fu_port_open_named(&port, spec, "fp");

	FU_CHECK(r == 0, "open %s: %d %s", spec, r, netbe_last_error());
}

static void fp_flow(uint32_t seq, const char *when)
{
	FU_CHECK(fu_wait_seq(&port, seq, WAIT_MS),
		 "%s: the peer's frame %u did not arrive", when, seq);
	printf("ok: %s: the peer's frames arrive\n", when);
}

static void fp_logged(const char *what)
{
	FU_CHECK(fu_log_wait("fp (", what, WAIT_MS),
		 "no log line names the port and says \"%s\"", what);
	printf("ok: logged under the port's name: \"%s\"\n", what);
}

static void fp_idle(const char *what)
{
	double cpu = fu_cpu_over(FAULT_MS);

	printf("%s: cpu %.1f%% of one core over %d ms\n", what, cpu, FAULT_MS);
	FU_CHECK(cpu < MAX_CPU, "%s: %.1f%% cpu (spinning?)", what, cpu);
}

/* Offers @n frames: each counted once, @min_drops or more as @why. */
static void fp_storm(netbe_t *be, unsigned n, int why, uint64_t min_drops)
{
	uint64_t o0 = fu_tx_offered(be), d0 = fu_drops(be, NETBE_TX, why);
	uint64_t o, d;

	for (unsigned i = 0; i < n; i++)
		(void)fu_send(be, 900000 + i, FRAME);
	o = fu_tx_offered(be) - o0;
	d = fu_drops(be, NETBE_TX, why) - d0;
	printf("%u frames offered: counted %llu, %llu as %s\n", n,
	       (unsigned long long)o, (unsigned long long)d,
	       netbe_drop_name(why));
	FU_CHECK(o == n, "%u frames offered, %llu counted", n,
		 (unsigned long long)o);
	FU_CHECK(d >= min_drops, "only %llu of them dropped as %s",
		 (unsigned long long)d, netbe_drop_name(why));
}

/* Sends @n frames that must all be accepted. */
static void fp_send_ok(netbe_t *be, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		ssize_t r = fu_send(be, 800000 + i, FRAME);

		FU_CHECK(r > 0, "send %u: %zd %s", i, r, netbe_last_error());
	}
}

/* ---- stream ---------------------------------------------------------------- */

static void stream_cfg(struct peer_cfg *c, bool tcp, enum peer_kind kind,
		       char *addr, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	if (tcp) {
		c->len = fp_inet_addr(&c->addr, TCP_PORT);
		snprintf(addr, len, "tcp:127.0.0.1:%d", TCP_PORT);
	} else {
		c->len = fp_unix_addr(&c->addr, "s.sock");
		snprintf(addr, len, "unix:%s/s.sock", dir);
	}
}

/* Peer gone and back: a client with reconnect= (the peer listens) or a
 * server (the peer connects). */
static void case_stream_gone(bool tcp, bool server)
{
	struct peer_cfg c;
	struct peer pe;
	char addr[128], spec[192];
	uint64_t n;

	stream_cfg(&c, tcp, server ? PEER_CONNECT : PEER_LISTEN, addr,
		   sizeof(addr));
	snprintf(spec, sizeof(spec), server ? "stream,listen=%s"
			: "stream,connect=%s,reconnect=100", addr);
	c.seq = 1;
	if (!server)
		peer_start(&pe, &c);
	fp_open(spec);
	if (server)
		peer_start(&pe, &c);
	fp_flow(1, "connected");
	peer_kill(&pe);
	fp_logged(server ? "listening again" : "will reconnect");
	fp_storm(port.be, STORM, NETBE_DROP_PEER_GONE, STORM);
	fp_idle(server ? "peer gone, listening" : "peer gone, reconnecting "
		"every 100 ms");
	c.seq = 2;
	peer_start(&pe, &c);
	fp_flow(2, "the peer restarted");
	fp_send_ok(port.be, 20);
	fu_port_close(&port);
	n = peer_count(&pe);
	printf("the restarted peer received %llu intact frames of 20 sent\n",
	       (unsigned long long)n);
	FU_CHECK(n == 20, "the restarted peer received %llu frames, not 20",
		 (unsigned long long)n);
}

static void stall_cont(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
}

/* Sends until the socket refused @refusals frames; returns how many it
 * took.  Every offer is counted: accepted, or dropped as "full". */
static uint64_t stall_fill(netbe_t *be, unsigned refusals)
{
	uint64_t o0 = fu_tx_offered(be), f0, sent = 0, full = 0;
	unsigned tries = 0;

	f0 = fu_drops(be, NETBE_TX, NETBE_DROP_FULL);
	while (full < refusals && tries++ < 200000) {
		ssize_t r = fu_send(be, 700000 + tries, 1400);

		if (r > 0)
			sent++;
		else
			FU_CHECK(r == -EAGAIN, "send while stalled: %zd", r);
		full += r == -EAGAIN;
	}
	printf("peer stalled: %llu frames accepted, then %llu refused "
	       "(-EAGAIN)\n", (unsigned long long)sent,
	       (unsigned long long)full);
	FU_CHECK(full == refusals, "the socket never filled");
	FU_CHECK(fu_tx_offered(be) - o0 == sent + full &&
		 fu_drops(be, NETBE_TX, NETBE_DROP_FULL) - f0 == full,
		 "the offers were not counted once each (full drops)");
	return sent;
}

/* The peer stops reading (SIGSTOP): sends back up, are refused and
 * counted, nothing spins; when it reads again every accepted frame
 * arrives whole and netbe_tx_wait() fires. */
static void case_stream_stall(void)
{
	struct peer_cfg c;
	struct peer pe;
	char addr[128], spec[192];
	uint64_t sent, n;
	int woke = 0;

	stream_cfg(&c, false, PEER_LISTEN, addr, sizeof(addr));
	snprintf(spec, sizeof(spec), "stream,connect=%s,reconnect=100", addr);
	c.seq = 1;
	peer_start(&pe, &c);
	fp_open(spec);
	fp_flow(1, "connected");
	kill(pe.pid, SIGSTOP);
	sent = stall_fill(port.be, 200);
	FU_CHECK(netbe_tx_wait(port.be, stall_cont, &woke) == 0, "tx_wait");
	fp_idle("peer stalled, a frame half written");
	FU_CHECK(!__atomic_load_n(&woke, __ATOMIC_ACQUIRE),
		 "netbe_tx_wait fired while the peer was stopped");
	kill(pe.pid, SIGCONT);
	for (int t = 0; t < WAIT_MS && !__atomic_load_n(&woke,
						       __ATOMIC_ACQUIRE); t += 10)
		fu_sleep_ms(10);
	FU_CHECK(woke, "netbe_tx_wait did not fire after the peer read again");
	printf("ok: the peer reads again: netbe_tx_wait fired\n");
	fp_send_ok(port.be, 10);
	fu_port_close(&port);
	n = peer_count(&pe);
	printf("the peer received %llu intact frames; %llu were accepted\n",
	       (unsigned long long)n, (unsigned long long)sent + 10);
	FU_CHECK(n == sent + 10, "accepted %llu, the peer received %llu",
		 (unsigned long long)sent + 10, (unsigned long long)n);
}

/* ---- dgram ----------------------------------------------------------------- */

/* A unix peer killed (ECONNREFUSED), back, then stopped (EAGAIN). */
static void case_dgram_unix(void)
{
	struct peer_cfg c = { .kind = PEER_DGRAM, .seq = 1 };
	struct peer pe;
	char spec[256];

	c.len = fp_unix_addr(&c.addr, "a");
	c.local_len = fp_unix_addr(&c.local, "b");
	snprintf(spec, sizeof(spec), "dgram,local=unix:%s/a,remote=unix:%s/b",
		 dir, dir);
	fp_open(spec);
	peer_start(&pe, &c);
	fp_send_ok(port.be, 1); /* connects to the peer's path */
	fp_flow(1, "connected");
	peer_kill(&pe);
	fp_storm(port.be, STORM, NETBE_DROP_PEER_GONE, STORM);
	fp_logged("peer gone");
	fp_idle("peer gone, ECONNREFUSED on every send");
	c.seq = 2;
	peer_start(&pe, &c);
	fp_send_ok(port.be, 1); /* the documented reconnect */
	fp_flow(2, "the peer restarted");
	kill(pe.pid, SIGSTOP);
	fp_storm(port.be, 5000, NETBE_DROP_FULL, 1);
	fp_idle("peer stopped, its queue full");
	__atomic_store_n(&port.last_seq, 0, __ATOMIC_RELEASE);
	kill(pe.pid, SIGCONT);
	fp_flow(2, "the peer reads again");
	peer_kill(&pe);
	fu_port_close(&port);
}

/* UDP to a port nobody has: ICMP port unreachable, ECONNREFUSED storms,
 * EPOLLERR on the receive side; then a peer appears. */
static void case_dgram_udp(void)
{
	struct peer_cfg c = { .kind = PEER_DGRAM, .seq = 3 };
	struct peer pe;
	char spec[128];
	uint64_t calls, d0;

	fu_log_start_level(NETBE_LOG_DEBUG);
	c.len = fp_inet_addr(&c.addr, UDP_LOCAL);
	c.local_len = fp_inet_addr(&c.local, UDP_REMOTE);
	snprintf(spec, sizeof(spec), "dgram,local=udp:127.0.0.1:%d,"
		 "remote=udp:127.0.0.1:%d", UDP_LOCAL, UDP_REMOTE);
	fp_open(spec);
	/* Each refused send is tried once more (the error was the last
	 * datagram's) and the kernel takes it: counted as sent, not lost. */
	fp_storm(port.be, STORM, NETBE_DROP_PEER_GONE, 0);
	fp_logged("Connection refused");
	calls = __atomic_load_n(&port.calls, __ATOMIC_RELAXED);
	fp_idle("nobody at the remote port");
	calls = __atomic_load_n(&port.calls, __ATOMIC_RELAXED) - calls;
	printf("receive callbacks meanwhile: %llu\n", (unsigned long long)calls);
	FU_CHECK(calls < 20, "%llu receive callbacks: EPOLLERR spins",
		 (unsigned long long)calls);
	peer_start(&pe, &c);
	fp_flow(3, "a peer appeared");
	(void)fu_send(port.be, 1, FRAME); /* takes a stale ICMP error */
	d0 = fu_drops(port.be, NETBE_TX, NETBE_DROP_PEER_GONE);
	fp_send_ok(port.be, 50);
	FU_CHECK(fu_drops(port.be, NETBE_TX, NETBE_DROP_PEER_GONE) == d0,
		 "frames to a live peer dropped as peer-gone");
	peer_kill(&pe);
	fu_port_close(&port);
}

/* ---- pipe, vale, vde: no reconnect ------------------------------------------ */

/* After the other end went: logged, sends counted, no spin, close. */
static void stay_down(const char *what, const char *logged)
{
	fp_logged(logged);
	fp_storm(port.be, STORM, NETBE_DROP_PEER_GONE, STORM);
	fp_idle(what);
	fu_port_close(&port);
	printf("ok: netbe_cleanup after the fault\n");
}

static void case_pipe(void)
{
	struct fu_port other;

	fp_open("pipe:fpipe");
	FU_CHECK(fu_port_open(&other, "pipe:fpipe") == 0, "the other end");
	FU_CHECK(fu_send(other.be, 5, FRAME) > 0, "send on the other end");
	fp_flow(5, "paired");
	fu_port_close(&other);
	stay_down("the other end closed", "other end closed");
}

static pid_t fp_spawn(char *const argv[])
{
	int pfd[2];
	pid_t pid;

	FU_CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
	pid = fork();
	FU_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) { /* stdin: a pipe that stays open (vde_switch) */
		dup2(pfd[0], 0);
		closefrom(3);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[0]); /* the write end stays open until we exit */
	return pid;
}

static void fp_wait_file(const char *path, pid_t pid)
{
	for (int t = 0; t < WAIT_MS; t += 10) {
		if (access(path, F_OK) == 0)
			return;
		FU_CHECK(waitpid(pid, NULL, WNOHANG) == 0, "%s exited early",
			 path);
		fu_sleep_ms(10);
	}
	fu_fail("%s did not appear", path);
}

/* Sends frame @seq from @from until @to drained it. */
static void fp_cross(struct fu_port *from, struct fu_port *to, uint32_t seq,
		     const char *when)
{
	for (int t = 0; t < WAIT_MS; t += 100) {
		(void)fu_send(from->be, seq, FRAME);
		if (fu_wait_seq(to, seq, 100)) {
			printf("ok: %s: frames cross\n", when);
			return;
		}
	}
	fu_fail("%s: frame %u did not cross", when, seq);
}

/* A port on a switch another process publishes; the process dies. */
static void case_vale(void)
{
	char *argv[] = { (char *)netbe_bin, "switch", "--name", "fvale",
			 "--quiet", NULL };
	char sock[128];
	struct fu_port other;
	pid_t pid;

	FU_CHECK(netbe_bin, "usage: fault_peer vale-gone NETBE");
	setenv("XDG_RUNTIME_DIR", dir, 1);
	snprintf(sock, sizeof(sock), "%s/netbe/fvale.sock", dir);
	pid = fp_spawn(argv);
	fp_wait_file(sock, pid);
	fp_open("vale,switch=fvale,port=a");
	FU_CHECK(fu_port_open(&other, "vale,switch=fvale,port=b") == 0,
		 "port b: %s", netbe_last_error());
	fp_cross(&other, &port, 6, "two ports on the switch");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	stay_down("the switch process gone", "other end closed");
	fu_port_close(&other);
}

/* vde_switch stopped (its queue fills), then killed. */
static void case_vde(void)
{
	char sw[96], ctl[128];
	char *argv[] = { "vde_switch", "-s", sw, "-n", "8", NULL };
	struct fu_port other;
	pid_t pid;
	int r;

#ifdef UNDER_ASAN
	fu_skip("vde under AddressSanitizer: libvdeplug dlopens its plugins "
		"with RTLD_DEEPBIND, which ASan refuses");
#endif
	snprintf(sw, sizeof(sw), "%s/vde", dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl", sw);
	pid = fp_spawn(argv);
	fp_wait_file(ctl, pid);
	snprintf(ctl, sizeof(ctl), "vde,sock=%s", sw);
	r = fu_port_open_named(&port, ctl, "fp");
	if (r == -ENOENT || r == -EOPNOTSUPP)
		fu_skip("%s: %s", ctl, netbe_last_error());
	FU_CHECK(r == 0, "open %s: %s", ctl, netbe_last_error());
	FU_CHECK(fu_port_open(&other, ctl) == 0, "port 2: %s",
		 netbe_last_error());
	fp_cross(&other, &port, 7, "two ports on vde_switch");
	kill(pid, SIGSTOP);
	(void)stall_fill(other.be, 200);
	fp_idle("vde_switch stopped");
	kill(pid, SIGCONT);
	fp_cross(&other, &port, 8, "vde_switch running again");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	stay_down("vde_switch gone", "the switch closed");
	fu_port_close(&other);
}

/* ---- the switch: one port faulted, the others forward ----------------------- */

struct sw_case {
	netbe_loop_t *loop;
	netbe_switch_t *sw;
	int idx[3]; /* a, b: pipes to fu_ports here; c: stream to a child */
	struct fu_port a, b;
};

static void sw_stats(struct sw_case *t, int i,
		     struct netbe_switch_port_stats *st)
{
	FU_CHECK(netbe_switch_port_info(t->sw, (unsigned)t->idx[i], NULL, 0,
					NULL, st) == 0, "port_info");
}

static uint64_t sw_sum(const uint64_t *d)
{
	uint64_t n = 0;

	for (int i = 0; i < 16; i++)
		n += d[i];
	return n;
}

/* Every port: rx = forwarded + drops, offered = tx + drops + queued. */
static void sw_balanced(struct sw_case *t)
{
	for (int i = 0; i < 3; i++) {
		struct netbe_switch_port_stats st;

		sw_stats(t, i, &st);
		FU_CHECK(st.rx_frames == st.rx_forwarded + sw_sum(st.rx_drop) &&
			 st.tx_offered == st.tx_frames + sw_sum(st.tx_drop) +
			 st.queued, "port %c: counters do not balance", 'a' + i);
	}
	printf("ok: every port's counters balance\n");
}

/* Runs the switch's loop until @cond holds (up to WAIT_MS). */
#define SW_UNTIL(t, cond, ...)                                               \
	do {                                                                 \
		for (int ms_ = 0; !(cond) && ms_ < WAIT_MS; ms_ += 20)       \
			(void)fu_cpu_run((t)->loop, 20);                     \
		FU_CHECK(cond, __VA_ARGS__);                                 \
	} while (0)

static void sw_open(struct sw_case *t, const char *sock)
{
	char spec[192];

	FU_CHECK(netbe_loop_new(&t->loop) == 0 &&
		 netbe_switch_new(&t->sw, t->loop, NULL) == 0, "switch: %s",
		 netbe_last_error());
	snprintf(spec, sizeof(spec), "stream,connect=unix:%s,reconnect=100,"
		 "id=c", sock);
	t->idx[0] = netbe_switch_add_port(t->sw, "pipe:fswa,id=a");
	t->idx[1] = netbe_switch_add_port(t->sw, "pipe:fswb,id=b");
	t->idx[2] = netbe_switch_add_port(t->sw, spec);
	FU_CHECK(t->idx[0] >= 0 && t->idx[1] >= 0 && t->idx[2] >= 0,
		 "add ports: %s", netbe_last_error());
	for (int i = 0; i < 3; i++) { /* what `netbe switch` does */
		char name[16];
		netbe_t *be;

		netbe_switch_port_info(t->sw, (unsigned)t->idx[i], name,
				       sizeof(name), &be, NULL);
		FU_CHECK(netbe_set_name(be, name) == 0, "netbe_set_name");
	}
	FU_CHECK(fu_port_open(&t->a, "pipe:fswa") == 0 &&
		 fu_port_open(&t->b, "pipe:fswb") == 0, "the far ends");
}

/* @n broadcasts from a's far end, paced; b's far end must get them all
 * while c's peer is gone. */
static void sw_forward(struct sw_case *t, unsigned n)
{
	struct netbe_switch_port_stats c0, c1;
	uint64_t b0 = __atomic_load_n(&t->b.ours, __ATOMIC_RELAXED), got;

	sw_stats(t, 2, &c0);
	for (unsigned i = 0; i < n; i++) {
		FU_CHECK(fu_send(t->a.be, 600000 + i, FRAME) > 0, "send on a");
		if (i % 25 == 24)
			(void)fu_cpu_run(t->loop, 10);
	}
	SW_UNTIL(t, __atomic_load_n(&t->b.ours, __ATOMIC_RELAXED) - b0 >= n,
		 "b received %llu of %u frames while c was down",
		 (unsigned long long)(t->b.ours - b0), n);
	(void)fu_cpu_run(t->loop, 100);
	got = __atomic_load_n(&t->b.ours, __ATOMIC_RELAXED) - b0;
	sw_stats(t, 2, &c1);
	printf("c's peer gone: a -> b %llu of %u frames; c offered %llu, "
	       "dropped as peer-gone %llu\n", (unsigned long long)got, n,
	       (unsigned long long)(c1.tx_offered - c0.tx_offered),
	       (unsigned long long)(c1.tx_drop[NETBE_DROP_PEER_GONE] -
				    c0.tx_drop[NETBE_DROP_PEER_GONE]));
	FU_CHECK(got == n, "b received %llu frames, not %u",
		 (unsigned long long)got, n);
	FU_CHECK(c1.tx_offered - c0.tx_offered == n &&
		 c1.tx_drop[NETBE_DROP_PEER_GONE] -
		 c0.tx_drop[NETBE_DROP_PEER_GONE] == n,
		 "c's frames were not all counted as peer-gone drops");
	sw_balanced(t);
}

static void case_switch(void)
{
	struct peer_cfg c = { .kind = PEER_LISTEN, .seq = 21 };
	struct netbe_switch_port_stats st0, st1;
	struct sw_case t;
	struct peer pe;
	double cpu;
	uint64_t n;

	c.len = fp_unix_addr(&c.addr, "c.sock");
	peer_start(&pe, &c);
	sw_open(&t, ((struct sockaddr_un *)&c.addr)->sun_path);
	SW_UNTIL(&t, t.b.last_seq == 21, "c's peer's frames never reached b");
	printf("ok: a, b and c forward\n");
	peer_kill(&pe);
	SW_UNTIL(&t, fu_log_has("c (", "will reconnect"),
		 "no log line names port c and says it will reconnect");
	sw_forward(&t, 500);
	cpu = fu_cpu_run(t.loop, FAULT_MS);
	printf("c's peer gone, the switch reconnecting: cpu %.1f%% of one "
	       "core over %d ms\n", cpu, FAULT_MS);
	FU_CHECK(cpu < MAX_CPU, "%.1f%% cpu (spinning?)", cpu);
	c.seq = 22;
	peer_start(&pe, &c);
	sw_stats(&t, 2, &st0);
	SW_UNTIL(&t, t.b.last_seq == 22, "c did not come back");
	for (unsigned i = 0; i < 20; i++)
		FU_CHECK(fu_send(t.a.be, 500000 + i, FRAME) > 0, "send on a");
	(void)fu_cpu_run(t.loop, 300);
	sw_stats(&t, 2, &st1);
	sw_balanced(&t);
	netbe_switch_free(t.sw);
	n = peer_count(&pe);
	printf("c's restarted peer received %llu frames; c delivered %llu\n",
	       (unsigned long long)n,
	       (unsigned long long)(st1.tx_frames - st0.tx_frames));
	FU_CHECK(n == st1.tx_frames - st0.tx_frames && n >= 20,
		 "c's peer received %llu frames", (unsigned long long)n);
	fu_port_close(&t.a);
	fu_port_close(&t.b);
	netbe_loop_free(t.loop);
}

/* ---- main ------------------------------------------------------------------ */

static void fp_cleanup(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

int main(int argc, char **argv)
{
	const char *c = argc >= 2 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	netbe_bin = argc >= 3 ? argv[2] : NULL;
	snprintf(dir, sizeof(dir), "/tmp/netbe-fp.XXXXXX");
	FU_CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	atexit(fp_cleanup);
	fu_log_start();
	if (!strcmp(c, "stream-unix-gone"))
		case_stream_gone(false, false);
	else if (!strcmp(c, "stream-tcp-gone"))
		case_stream_gone(true, false);
	else if (!strcmp(c, "stream-listen-gone"))
		case_stream_gone(false, true);
	else if (!strcmp(c, "stream-stall"))
		case_stream_stall();
	else if (!strcmp(c, "dgram-unix-gone"))
		case_dgram_unix();
	else if (!strcmp(c, "dgram-udp-refused"))
		case_dgram_udp();
	else if (!strcmp(c, "pipe-closed"))
		case_pipe();
	else if (!strcmp(c, "vale-gone"))
		case_vale();
	else if (!strcmp(c, "vde-stall-gone"))
		case_vde();
	else if (!strcmp(c, "switch-one-gone"))
		case_switch();
	else
		fu_fail("usage: fault_peer CASE [NETBE] (see the top of "
			"fault_peer.c)");
	printf("PASS %s\n", c);
	return 0;
}
