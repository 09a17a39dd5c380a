/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The stream backend against a raw socket peer written here: framing,
 * reassembly across short reads, the bad-length and peer-gone error
 * paths, backpressure without torn frames, one peer at a time, reconnect,
 * and config errors.  Public API only; no root, no network.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbe.h"
#include "log_capture.h"

#define MAXF NETBE_MAX_FRAME

struct fix {
	netbe_loop_t *loop;
	netbe_t *be;
	int lfd;  /* our listening socket (backend connects) */
	int peer; /* the connected raw peer */
	char path[108];
};

/* ---- helpers ----------------------------------------------------------- */

static void nop_cb(int fd, int events, void *param)
{
	(void)fd;
	(void)events;
	(void)param;
}

static void make_path(char *buf, size_t len, const char *tag)
{
	static unsigned seq;

	snprintf(buf, len, "/tmp/netbe-ts-%d-%s-%u.sock", (int)getpid(), tag,
		 ++seq);
	unlink(buf);
}

static struct sockaddr_un un_addr(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	return un;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un un = un_addr(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un un = un_addr(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* A frame of @len bytes whose payload encodes @seq. */
static void fill_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x52\x54\x00\x00\x00\x01", 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq + i);
	if (len >= 18)
		memcpy(f + 14, &seq, 4);
}

/* A record: 4-byte big-endian length, then the frame. */
static size_t make_record(uint8_t *out, size_t len, uint32_t seq)
{
	uint32_t be = htonl((uint32_t)len);

	memcpy(out, &be, 4);
	fill_frame(out + 4, len, seq);
	return 4 + len;
}

/* A 32-bit value at any alignment (host order). */
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Runs the loop until @fd (the backend's) is readable or @ms pass. */
static void run_loop(netbe_loop_t *loop, int ms)
{
	for (int i = 0; i < ms / 10; i++)
		netbe_loop_run_once(loop, 10);
}

static struct netbe_stats stats(netbe_t *be)
{
	struct netbe_stats st;

	netbe_get_stats(be, &st);
	return st;
}

/* @be's drops in direction @dir for reason @why. */
static uint64_t drops(netbe_t *be, int dir, int why)
{
	uint64_t c[NETBE_DROP_NREASONS];

	assert_int_equal(netbe_get_drops(be, dir, c, NETBE_DROP_NREASONS),
			 NETBE_DROP_NREASONS);
	return c[why];
}

static int tcp_listen(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Backend connects to our listener; we accept it as the peer. */
static int setup_peer(void **state, bool tcp)
{
	struct fix *f = calloc(1, sizeof(*f));
	char spec[200];
	uint16_t port;

	assert_non_null(f);
	assert_int_equal(netbe_loop_new(&f->loop), 0);
	if (tcp) {
		f->lfd = tcp_listen(&port);
		snprintf(spec, sizeof(spec), "stream,connect=tcp:127.0.0.1:%u,"
			 "reconnect=20", port);
	} else {
		make_path(f->path, sizeof(f->path), "c");
		f->lfd = unix_listen(f->path);
		snprintf(spec, sizeof(spec),
			 "stream,connect=unix:%s,reconnect=20", f->path);
	}
	assert_int_equal(netbe_open(&f->be, spec, f->loop, nop_cb, NULL), 0);
	f->peer = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(f->peer >= 0);
	log_reset();
	*state = f;
	return 0;
}

static int setup_client(void **state)
{
	return setup_peer(state, false);
}

static int setup_client_tcp(void **state)
{
	return setup_peer(state, true);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	netbe_cleanup(f->be);
	netbe_loop_free(f->loop);
	if (f->peer >= 0)
		close(f->peer);
	if (f->lfd >= 0)
		close(f->lfd);
	if (f->path[0])
		unlink(f->path);
	free(f);
	return 0;
}

/* ---- framing ----------------------------------------------------------- */

static void frames_both_ways(void **state)
{
	struct fix *f = *state;
	uint8_t rec[3 * (4 + 1500)], buf[MAXF + 64], exp[1500];
	size_t off = 0, sizes[3] = { 60, 1500, 14 };
	struct iovec iov[2];

	for (int i = 0; i < 3; i++)
		off += make_record(rec + off, sizes[i], (uint32_t)i);
	write_all(f->peer, rec, off); /* three frames in one write */
	assert_true(readable(netbe_get_fd(f->be), 1000));
	for (int i = 0; i < 3; i++) {
		struct iovec v = { buf, sizeof(buf) };

		assert_int_equal(netbe_peek_recvlen(f->be), sizes[i]);
		assert_int_equal(netbe_recv(f->be, &v, 1), sizes[i]);
		fill_frame(exp, sizes[i], (uint32_t)i);
		assert_memory_equal(buf, exp, sizes[i]);
	}
	assert_int_equal(netbe_peek_recvlen(f->be), 0);
	assert_false(readable(netbe_get_fd(f->be), 0));

	/* Out: a frame in two iovec entries becomes one record. */
	fill_frame(exp, 100, 7);
	iov[0] = (struct iovec){ exp, 20 };
	iov[1] = (struct iovec){ exp + 20, 80 };
	assert_int_equal(netbe_send(f->be, iov, 2), 100);
	read_all(f->peer, buf, 104);
	assert_int_equal(ntohl(get32(buf)), 100);
	assert_memory_equal(buf + 4, exp, 100);
	assert_int_equal(stats(f->be).rx_frames, 3);
	assert_int_equal(stats(f->be).tx_frames, 1);
}

/* The largest frame passes; a frame one byte at a time is reassembled and
 * is not reported before its last byte arrived. */
static void short_reads_and_max(void **state)
{
	struct fix *f = *state;
	static uint8_t rec[4 + MAXF], buf[MAXF + 1], exp[MAXF];
	struct iovec v = { buf, sizeof(buf) };
	size_t n = make_record(rec, 200, 42);

	for (size_t i = 0; i < n - 1; i++) {
		write_all(f->peer, rec + i, 1);
		assert_int_equal(netbe_peek_recvlen(f->be), 0);
	}
	write_all(f->peer, rec + n - 1, 1);
	assert_int_equal(netbe_peek_recvlen(f->be), 200);
	assert_int_equal(netbe_recv(f->be, &v, 1), 200);
	fill_frame(exp, 200, 42);
	assert_memory_equal(buf, exp, 200);

	n = make_record(rec, MAXF, 9);
	write_all(f->peer, rec, n);
	for (int i = 0; i < 200 && netbe_peek_recvlen(f->be) == 0; i++)
		usleep(5000);
	assert_int_equal(netbe_recv(f->be, &v, 1), MAXF);
	fill_frame(exp, MAXF, 9);
	assert_memory_equal(buf, exp, MAXF);
	assert_int_equal(stats(f->be).rx_errors, 0);
}

/* Frames left in our buffer keep the backend's fd readable (level
 * triggered), even though the socket itself has been drained. */
static void buffered_frames_keep_fd_ready(void **state)
{
	struct fix *f = *state;
	uint8_t rec[2 * 64], buf[128];
	struct iovec v = { buf, sizeof(buf) };
	size_t n = make_record(rec, 60, 1);

	n += make_record(rec + n, 60, 2);
	write_all(f->peer, rec, n);
	assert_true(readable(netbe_get_fd(f->be), 1000));
	assert_int_equal(netbe_recv(f->be, &v, 1), 60);
	assert_true(readable(netbe_get_fd(f->be), 0));
	assert_int_equal(netbe_recv(f->be, &v, 1), 60);
	assert_false(readable(netbe_get_fd(f->be), 0));
}

static void too_small_buffer_drops_one(void **state)
{
	struct fix *f = *state;
	uint8_t rec[2 * 1504], buf[1500];
	struct iovec small = { buf, 100 }, big = { buf, sizeof(buf) };
	size_t n = make_record(rec, 1000, 1);

	n += make_record(rec + n, 60, 2);
	write_all(f->peer, rec, n);
	assert_true(readable(netbe_get_fd(f->be), 1000));
	assert_int_equal(netbe_recv(f->be, &small, 1), -ENOSPC);
	assert_int_equal(netbe_recv(f->be, &big, 1), 60);
	assert_int_equal(stats(f->be).rx_drops, 1);
	assert_int_equal(drops(f->be, NETBE_RX, NETBE_DROP_NOROOM), 1);
}

/* ---- error paths ------------------------------------------------------- */

/* Peer sends @len as a length: the connection is closed, counted (a
 * "malformed" drop: the peer broke the framing, we did not fail), logged,
 * and (reconnect=20) the backend connects again and works. */
static void bad_length(struct fix *f, uint32_t len)
{
	uint8_t hdr[4 + 64], buf[128];
	uint32_t be = htonl(len);
	struct iovec v = { buf, sizeof(buf) };

	memcpy(hdr, &be, 4);
	memset(hdr + 4, 0xab, 64);
	write_all(f->peer, hdr, sizeof(hdr));
	assert_true(readable(netbe_get_fd(f->be), 1000));
	assert_int_equal(netbe_peek_recvlen(f->be), 0);
	assert_int_equal(drops(f->be, NETBE_RX, NETBE_DROP_MALFORMED), 1);
	assert_int_equal(stats(f->be).rx_drops, 1);
	assert_int_equal(stats(f->be).rx_errors, 0);
	assert_true(logged("out of range"));
	assert_int_equal(read(f->peer, buf, sizeof(buf)), 0); /* closed */
	close(f->peer);

	/* Reconnects: a fresh connection carries frames again. */
	run_loop(f->loop, 100);
	f->peer = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(f->peer >= 0);
	write_all(f->peer, buf, make_record(buf, 60, 3));
	assert_true(readable(netbe_get_fd(f->be), 1000));
	assert_int_equal(netbe_recv(f->be, &v, 1), 60);
}

static void bad_length_0(void **state)
{
	bad_length(*state, 0);
}

static void bad_length_13(void **state)
{
	bad_length(*state, 13);
}

static void bad_length_max_plus_1(void **state)
{
	bad_length(*state, MAXF + 1);
}

static void bad_length_huge(void **state)
{
	bad_length(*state, 0xffffffffu);
}

static void peer_gone_mid_frame(void **state)
{
	struct fix *f = *state;
	uint8_t rec[4 + 1000], buf[64];
	size_t n = make_record(rec, 1000, 5);

	write_all(f->peer, rec, n / 2);
	close(f->peer);
	f->peer = -1;
	assert_true(readable(netbe_get_fd(f->be), 1000));
	assert_int_equal(netbe_peek_recvlen(f->be), 0);
	assert_int_equal(drops(f->be, NETBE_RX, NETBE_DROP_PEER_GONE), 1);
	assert_int_equal(stats(f->be).rx_drops, 1);
	assert_int_equal(stats(f->be).rx_errors, 0);
	assert_true(logged("mid-frame"));
	assert_false(readable(netbe_get_fd(f->be), 0));
	/* Disconnected: a send fails and is counted, never silently lost:
	 * a "peer-gone" drop, the backend itself is fine. */
	fill_frame(buf, 60, 1);
	struct iovec v = { buf, 60 };
	assert_int_equal(netbe_send(f->be, &v, 1), -ENOTCONN);
	assert_int_equal(drops(f->be, NETBE_TX, NETBE_DROP_PEER_GONE), 1);
	assert_int_equal(stats(f->be).tx_drops, 1);
	assert_int_equal(stats(f->be).tx_errors, 0);
}

#define BP_FRAME 65000

/* A peer that does not read: sends succeed until -EAGAIN (counted as
 * drops); what was accepted arrives whole, in order, once it reads. */
static void backpressure_no_torn_frames(void **state)
{
	struct fix *f = *state;
	static uint8_t frame[BP_FRAME], rec[4 + BP_FRAME], exp[BP_FRAME];
	struct iovec v = { frame, sizeof(frame) };
	uint32_t accepted = 0, refused = 0, got = 0;
	for (uint32_t seq = 0; refused < 20 && seq < 100000; seq++) {
		fill_frame(frame, sizeof(frame), accepted);
		ssize_t r = netbe_send(f->be, &v, 1);

		if (r == (ssize_t)sizeof(frame))
			accepted++;
		else if (r == -EAGAIN)
			refused++;
		else
			fail_msg("send returned %zd", r);
	}
	assert_true(accepted > 0);
	assert_int_equal(stats(f->be).tx_drops, refused);
	assert_int_equal(drops(f->be, NETBE_TX, NETBE_DROP_FULL), refused);
	assert_int_equal(stats(f->be).tx_errors, 0);
	assert_int_equal(stats(f->be).tx_frames, accepted);
	/* The reader catches up; the loop finishes the partial frame. */
	while (got < accepted) {
		run_loop(f->loop, 10);
		if (!readable(f->peer, 0))
			continue;
		read_all(f->peer, rec, sizeof(rec));
		assert_int_equal(ntohl(get32(rec)), sizeof(frame));
		fill_frame(exp, sizeof(exp), got);
		assert_memory_equal(rec + 4, exp, sizeof(exp));
		got++;
	}
	assert_false(readable(f->peer, 50));
}

/* A batch is written with one call and arrives as separate records. */
static void send_batch_records(void **state)
{
	struct fix *f = *state;
	uint8_t frames[8][100], rec[104];
	struct iovec iov[8];
	struct netbe_msg m[8];

	for (int i = 0; i < 8; i++) {
		fill_frame(frames[i], 60 + i, (uint32_t)i);
		iov[i] = (struct iovec){ frames[i], 60 + (size_t)i };
		m[i] = (struct netbe_msg){ &iov[i], 1, 0 };
	}
	assert_int_equal(netbe_send_batch(f->be, m, 8), 8);
	for (int i = 0; i < 8; i++) {
		read_all(f->peer, rec, 4 + 60 + (size_t)i);
		assert_int_equal(ntohl(get32(rec)), 60 + i);
		assert_memory_equal(rec + 4, frames[i], 60 + (size_t)i);
	}
}

/* ---- listen mode ------------------------------------------------------- */

static void listen_one_peer_at_a_time(void **state)
{
	netbe_loop_t *loop;
	netbe_t *be;
	char path[108], spec[160];
	uint8_t rec[64], buf[128];
	struct iovec v = { buf, sizeof(buf) };
	int p1, p2;
	uint32_t bad = htonl(13);

	(void)state;
	assert_int_equal(netbe_loop_new(&loop), 0);
	make_path(path, sizeof(path), "l");
	snprintf(spec, sizeof(spec), "stream,listen=unix:%s", path);
	assert_int_equal(netbe_open(&be, spec, loop, nop_cb, NULL), 0);
	log_reset();

	p1 = unix_connect(path);
	run_loop(loop, 50);
	assert_true(logged("one peer at a time"));
	p2 = unix_connect(path); /* waits in the backlog */
	write_all(p2, rec, make_record(rec, 60, 2));
	write_all(p1, rec, make_record(rec, 60, 1));
	assert_true(readable(netbe_get_fd(be), 1000));
	assert_int_equal(netbe_recv(be, &v, 1), 60);
	assert_int_equal(get32(buf + 14), 1);
	run_loop(loop, 50);
	assert_int_equal(netbe_peek_recvlen(be), 0); /* p2 not served yet */

	/* p1 misbehaves: closed, counted, and p2 is served next. */
	write_all(p1, &bad, 4);
	assert_true(readable(netbe_get_fd(be), 1000));
	assert_int_equal(netbe_peek_recvlen(be), 0);
	assert_int_equal(drops(be, NETBE_RX, NETBE_DROP_MALFORMED), 1);
	assert_int_equal(stats(be).rx_drops, 1);
	assert_int_equal(stats(be).rx_errors, 0);
	assert_int_equal(read(p1, buf, 1), 0);
	run_loop(loop, 50);
	assert_true(readable(netbe_get_fd(be), 1000));
	assert_int_equal(netbe_recv(be, &v, 1), 60);
	assert_int_equal(get32(buf + 14), 2);
	close(p1);
	close(p2);
	netbe_cleanup(be);
	netbe_loop_free(loop);
	assert_int_equal(access(path, F_OK), -1); /* socket file removed */
}

/* ---- configuration errors ---------------------------------------------- */

static void expect_open_fails(const char *spec, int err, const char *msg)
{
	netbe_t *be = (netbe_t *)1;
	int r = netbe_open(&be, spec, NULL, nop_cb, NULL);

	if (r != err || !strstr(netbe_last_error(), msg))
		fail_msg("%s: got %d '%s', want %d '%s'", spec, r,
			 netbe_last_error(), err, msg);
	assert_null(be);
}

static void config_errors(void **state)
{
	char path[108], spec[200];
	int fd;

	(void)state;
	expect_open_fails("stream", -EINVAL, "exactly one of");
	expect_open_fails("stream,connect=unix:/x,listen=unix:/y", -EINVAL,
			  "exactly one of");
	expect_open_fails("stream,listen=unix:/tmp/x,reconnect=5", -EINVAL,
			  "reconnect=");
	expect_open_fails("stream,connect=udp:127.0.0.1:5", -EINVAL,
			  "expected unix:..., tcp:...");
	expect_open_fails("stream,connect=tcp:127.0.0.1", -EINVAL,
			  "HOST:PORT");
	expect_open_fails("stream,connect=tcp:::1:80", -EINVAL, "HOST:PORT");
	expect_open_fails("stream,connect=tcp:127.0.0.1:0", -EINVAL,
			  "HOST:PORT");
	make_path(path, sizeof(path), "e");
	snprintf(spec, sizeof(spec), "stream,connect=unix:%s", path);
	expect_open_fails(spec, -ENOENT, "No such file");
	/* A regular file at a listen path is not ours to delete. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(spec, sizeof(spec), "stream,listen=unix:%s", path);
	expect_open_fails(spec, -EADDRINUSE, "not a stale socket");
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
}

/* A socket file left by a dead process is replaced; a live one is not. */
static void stale_socket_replaced(void **state)
{
	char path[108], spec[200];
	netbe_t *be;
	int fd;

	(void)state;
	make_path(path, sizeof(path), "s");
	fd = unix_listen(path);
	snprintf(spec, sizeof(spec), "stream,listen=unix:%s", path);
	expect_open_fails(spec, -EADDRINUSE, "not a stale socket");
	close(fd); /* now stale: the file stays, nobody listens */
	assert_int_equal(netbe_open(&be, spec, NULL, nop_cb, NULL), 0);
	close(unix_connect(path));
	netbe_cleanup(be);
}

static void connect_refused_tcp(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char spec[100];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* A port nobody listens on: bound, never listening. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	snprintf(spec, sizeof(spec), "stream,connect=tcp:127.0.0.1:%u",
		 ntohs(sin.sin_port));
	expect_open_fails(spec, -ECONNREFUSED, "Connection refused");
	close(fd);
}

/* ---- threads: a sender thread, the loop thread receiving ------------ */

#define TH_FRAMES 3000
#define TH_LEN 1400

/* The peer echoes every byte back: a record stream in, the same out. */
static void *echo_peer(void *arg)
{
	static uint8_t buf[65536];
	int fd = *(int *)arg;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		write_all(fd, buf, (size_t)n);
	return NULL;
}

static void *sender(void *arg)
{
	netbe_t *be = arg;
	uint8_t f[TH_LEN];
	struct iovec v = { f, sizeof(f) };

	for (uint32_t i = 0; i < TH_FRAMES;) {
		fill_frame(f, sizeof(f), i);
		ssize_t r = netbe_send(be, &v, 1);

		if (r == -EAGAIN) {
			usleep(100);
			continue; /* counted as a drop; send it again */
		}
		assert_int_equal(r, TH_LEN);
		i++;
	}
	return NULL;
}

struct rx_state {
	netbe_t *be;
	uint32_t next;
};

static void rx_cb(int fd, int events, void *param)
{
	struct rx_state *st = param;
	uint8_t buf[2048], exp[TH_LEN];
	struct iovec v = { buf, sizeof(buf) };

	(void)fd;
	(void)events;
	while (netbe_recv(st->be, &v, 1) == TH_LEN) {
		fill_frame(exp, TH_LEN, st->next);
		assert_memory_equal(buf, exp, TH_LEN);
		st->next++;
	}
}

static void threads_send_while_loop_receives(void **state)
{
	struct fix *f = *state;
	struct rx_state st = { f->be, 0 };
	pthread_t echo, tx;

	assert_int_equal(netbe_set_rx_cb(f->be, rx_cb, &st), 0);
	netbe_rx_enable(f->be);
	assert_int_equal(pthread_create(&echo, NULL, echo_peer, &f->peer), 0);
	assert_int_equal(pthread_create(&tx, NULL, sender, f->be), 0);
	for (int i = 0; i < 3000 && st.next < TH_FRAMES; i++)
		netbe_loop_run_once(f->loop, 10);
	pthread_join(tx, NULL);
	netbe_rx_disable(f->be);
	shutdown(f->peer, SHUT_RDWR);
	pthread_join(echo, NULL);
	assert_int_equal(st.next, TH_FRAMES);
	assert_int_equal(stats(f->be).rx_frames, TH_FRAMES);
}

/* ---- offload=on: netbe to netbe with virtio-net headers ----------------- */

/* A 12-byte TSO header and a TCP/IPv4 frame of @payload bytes. */
static size_t tso_frame(uint8_t *b, size_t payload)
{
	const uint8_t h[12] = { 1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0 };
	uint8_t *e = b + 12, *ip = e + 14, *tcp = ip + 20;
	size_t iplen = 40 + payload;

	memcpy(b, h, 12); /* NEEDS_CSUM, TCPV4, hdr_len 54, gso 1448 */
	memset(e, 0, 54);
	memset(e, 0x02, 12);
	e[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 6;
	tcp[12] = 0x50;
	tcp[13] = 0x10;
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)i;
	return 12 + 54 + payload;
}

/* The next frame from @be within 2 s (0: none). */
static ssize_t recv_wait(netbe_loop_t *loop, netbe_t *be, uint8_t *buf,
			 size_t len)
{
	struct iovec v = { buf, len };
	ssize_t r = 0;

	for (int i = 0; i < 200 && r == 0; i++) {
		r = netbe_recv(be, &v, 1);
		if (r == 0)
			netbe_loop_run_once(loop, 10);
	}
	return r;
}

/* A 60 000-byte TSO frame crosses as one record, header and all, to a
 * frontend that takes TSO; one that does not gets its segments. */
static void offload_gso_whole(void **state)
{
	static uint8_t b[12 + 65536], in[12 + 65536];
	char path[108], spec[200];
	netbe_loop_t *loop;
	netbe_t *srv, *cli;
	struct iovec v = { b, 0 };
	int segs = 0;
	ssize_t r;

	(void)state;
	assert_int_equal(netbe_loop_new(&loop), 0);
	make_path(path, sizeof(path), "o");
	snprintf(spec, sizeof(spec), "stream,listen=unix:%s,offload=on", path);
	assert_int_equal(netbe_open(&srv, spec, loop, nop_cb, NULL), 0);
	snprintf(spec, sizeof(spec), "stream,connect=unix:%s,offload=on",
		 path);
	assert_int_equal(netbe_open(&cli, spec, loop, nop_cb, NULL), 0);
	run_loop(loop, 100);
	assert_int_equal(netbe_set_cap(cli, NETBE_F_CSUM | NETBE_F_HOST_TSO4,
				       12), 0);
	assert_int_equal(netbe_set_cap(srv, NETBE_F_GUEST_CSUM |
				       NETBE_F_GUEST_TSO4, 12), 0);
	v.iov_len = tso_frame(b, 60000);
	assert_int_equal(netbe_send(cli, &v, 1), (ssize_t)v.iov_len);
	r = recv_wait(loop, srv, in, sizeof(in));
	assert_int_equal(r, (ssize_t)v.iov_len);
	assert_memory_equal(in, b, 10); /* num_buffers is the receiver's */
	assert_memory_equal(in + 12, b + 12, v.iov_len - 12);
	assert_int_equal(netbe_set_cap(srv, 0, 0), 0);
	assert_int_equal(netbe_send(cli, &v, 1), (ssize_t)v.iov_len);
	while ((r = recv_wait(loop, srv, in, sizeof(in))) > 0) {
		assert_true(r <= 1514);
		if (++segs == (60000 + 1447) / 1448)
			break;
	}
	assert_int_equal(segs, (60000 + 1447) / 1448);
	netbe_cleanup(cli);
	netbe_cleanup(srv);
	netbe_loop_free(loop);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define C(t) cmocka_unit_test_setup_teardown(t, setup_client, teardown)
		C(frames_both_ways),
		C(short_reads_and_max),
		C(buffered_frames_keep_fd_ready),
		C(too_small_buffer_drops_one),
		C(bad_length_0),
		C(bad_length_13),
		C(bad_length_max_plus_1),
		C(bad_length_huge),
		C(peer_gone_mid_frame),
		C(backpressure_no_torn_frames),
		C(send_batch_records),
		C(threads_send_while_loop_receives),
		cmocka_unit_test_setup_teardown(backpressure_no_torn_frames,
						setup_client_tcp, teardown),
		cmocka_unit_test_setup_teardown(bad_length_13,
						setup_client_tcp, teardown),
		cmocka_unit_test(listen_one_peer_at_a_time),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(stale_socket_replaced),
		cmocka_unit_test(connect_refused_tcp),
		cmocka_unit_test(offload_gso_whole),
	};

	netbe_set_log_fn(log_cb, NETBE_LOG_INFO, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
