/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench.c - "netbe bench": packet rate of any backend.
 *
 *   netbe bench [--mode tx|rx|fwd] [--size BYTES] [--batch N]
 *               [--duration SEC] [--busy] [--offload] SPEC [SPEC2]
 *
 * Theory of operation
 *   tx:  the same --batch prebuilt frames go to netbe_send_batch() as fast
 *        as the backend takes them; a full backend is retried at once.
 *   rx:  netbe_recv_batch() until the duration ends; when nothing waits we
 *        sleep in poll() on the backend's fd (as a VMM's loop would), or
 *        spin with --busy.
 *   fwd: receive a batch on SPEC, send it on SPEC2 (what a switch or a
 *        VMM's frontend does); frames SPEC2 refuses are counted as drops.
 *   Headers: by default the frames cross without a virtio-net header
 *   (netbe_set_cap(be, 0, 0)): the library adds and strips the backend's
 *   and, for a backend that may deliver offloads (vhost-user, a tap with
 *   the guest's GSO), takes its checked per-frame receive path, finishing
 *   what we did not accept.  --offload accepts every offload the backend
 *   offers with the 12-byte header, as the switch does: the backend's
 *   own batches then run untouched, and each frame carries a zeroed
 *   header in front (not counted in --size nor in the byte rates).
 *   The frames are Ethernet frames to a locally administered unicast MAC
 *   with the experimental EtherType 0x88b5, so a kernel receiving them
 *   drops them early (no handler) and the sink costs little.
 *
 *   Rates are per wall-clock second and per CPU second of this process
 *   (getrusage: user + system, so the kernel's work in our syscalls
 *   counts): "Mpps per core" is frames / CPU seconds.  The last line is
 *   one JSON object for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cmd.h"

#define BENCH_BATCH_MAX 1024
#define BENCH_SIZE_MAX 65535

struct bench_opts {
	const char *mode;
	unsigned long size, batch;
	double duration;
	bool busy;
	unsigned hdr; /* 0, or NETBE_VNET_HDR_MRG_LEN with --offload */
	const char *spec, *spec2;
};

struct bench_result {
	uint64_t frames, bytes, full, drops, errors;
	double wall, cpu;
};

/* A batch of buffers, prebuilt frames for tx, receive room otherwise. */
struct bench_bufs {
	unsigned char *mem;
	struct iovec iov[BENCH_BATCH_MAX];
	struct netbe_msg msgs[BENCH_BATCH_MAX];
	size_t room;
};

static volatile sig_atomic_t bench_stop;
static double bench_end; /* CLOCK_MONOTONIC seconds */

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG_NAME " bench [OPTIONS] SPEC [SPEC2]\n"
		"Measures the packet rate of a backend.\n\n"
		"  -m, --mode MODE      tx (send only), rx (receive only) or "
		"fwd (receive on\n"
		"                       SPEC, send on SPEC2); default tx\n"
		"  -s, --size BYTES     frame size for tx, 60..65535; default "
		"64\n"
		"  -b, --batch N        frames per call, 1..%d; default 64\n"
		"  -d, --duration SEC   how long to run; default 5\n"
		"      --busy           rx/fwd: spin instead of poll() when "
		"idle\n"
		"      --offload        accept every offload the backend has, "
		"with a 12-byte\n"
		"                       virtio-net header (as the switch); "
		"default none\n"
		"  -h, --help           print this help\n"
		"\nPrints Mpps and Gbit/s per wall second and per CPU second, "
		"then one JSON line.\n",
		BENCH_BATCH_MAX);
}

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void frame_fill(unsigned char *f, size_t len, unsigned seq)
{
	static const unsigned char hdr[14] = { 0x02, 0, 0, 0, 0, 0x02, 0x02,
					       0, 0, 0, 0, 0x01, 0x88, 0xb5 };

	memcpy(f, hdr, sizeof(hdr));
	for (size_t i = sizeof(hdr); i < len; i++)
		f[i] = (unsigned char)(i + seq);
}

/* @room bytes per buffer; tx frames behind a zeroed @hdr-byte header. */
static int bufs_init(struct bench_bufs *b, unsigned n, size_t room, bool tx,
		     unsigned hdr)
{
	b->room = room;
	b->mem = calloc(n, room);
	if (!b->mem)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		unsigned char *f = b->mem + (size_t)i * room;

		if (tx)
			frame_fill(f + hdr, room - hdr, i);
		b->iov[i] = (struct iovec){ f, room };
		b->msgs[i] = (struct netbe_msg){ .iov = &b->iov[i], .iovcnt = 1 };
	}
	return 0;
}

static void bufs_reset(struct bench_bufs *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b->iov[i].iov_len = b->room;
}

/* Sends @n frames of @b, retrying a full backend; returns frames sent. */
static unsigned send_all(netbe_t *be, struct bench_bufs *b, unsigned n,
			 struct bench_result *res, bool retry, unsigned hdr)
{
	unsigned done = 0;

	while (done < n && !bench_stop) {
		int r = netbe_send_batch(be, b->msgs + done, (int)(n - done));

		if (r > 0) {
			for (int i = 0; i < r; i++)
				res->bytes += b->msgs[done + i].len - hdr;
			done += (unsigned)r;
		} else if (r == 0 || r == -EAGAIN || r == -ENOBUFS) {
			res->full++;
			if (!retry || now_s(CLOCK_MONOTONIC) >= bench_end)
				break;
		} else {
			res->errors++;
			break;
		}
	}
	res->frames += done;
	return done;
}

static void wait_rx(netbe_t *be, bool busy)
{
	struct pollfd pfd = { .fd = netbe_get_fd(be), .events = POLLIN };

	if (!busy && pfd.fd >= 0)
		(void)poll(&pfd, 1, 10);
}

static int run_tx(netbe_t *be, const struct bench_opts *o,
		  struct bench_result *res, double end)
{
	struct bench_bufs b;

	if (bufs_init(&b, (unsigned)o->batch, o->hdr + o->size, true,
		      o->hdr) < 0)
		return -ENOMEM;
	while (!bench_stop && now_s(CLOCK_MONOTONIC) < end)
		send_all(be, &b, (unsigned)o->batch, res, true, o->hdr);
	free(b.mem);
	return 0;
}

/* rx when @out is NULL, fwd otherwise. */
static int run_rx(netbe_t *in, netbe_t *out, const struct bench_opts *o,
		  struct bench_result *res, double end)
{
	struct bench_bufs b;
	struct bench_result sent = { 0 };

	if (bufs_init(&b, (unsigned)o->batch, BENCH_SIZE_MAX + 64, false,
		      0) < 0)
		return -ENOMEM;
	while (!bench_stop && now_s(CLOCK_MONOTONIC) < end) {
		int r;

		bufs_reset(&b, (unsigned)o->batch);
		r = netbe_recv_batch(in, b.msgs, (int)o->batch);
		if (r < 0) {
			res->errors++;
			continue;
		}
		if (r == 0) {
			wait_rx(in, o->busy);
			continue;
		}
		if (!out) {
			res->frames += (uint64_t)r;
			for (int i = 0; i < r; i++)
				res->bytes += b.msgs[i].len - o->hdr;
			continue;
		}
		for (int i = 0; i < r; i++)
			b.iov[i].iov_len = b.msgs[i].len;
		res->drops += (uint64_t)r - send_all(out, &b, (unsigned)r,
						     &sent, false, o->hdr);
	}
	if (out) {
		res->frames = sent.frames;
		res->bytes = sent.bytes;
		res->errors += sent.errors;
	}
	free(b.mem);
	return 0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* JSON string body: specs are plain text, but escape what JSON needs. */
static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

static void report(const struct bench_opts *o, const struct bench_result *r)
{
	double mpps = ratio((double)r->frames, r->wall) / 1e6;
	double gbps = ratio((double)r->bytes * 8, r->wall) / 1e9;
	double mppc = ratio((double)r->frames, r->cpu) / 1e6;
	double gbpc = ratio((double)r->bytes * 8, r->cpu) / 1e9;

	printf("%s %s%s%s: %" PRIu64 " frames, %" PRIu64 " bytes in %.2f s "
	       "(cpu %.2f s)\n", o->mode, o->spec, o->spec2 ? " -> " : "",
	       o->spec2 ? o->spec2 : "", r->frames, r->bytes, r->wall, r->cpu);
	printf("rate:     %.3f Mpps  %.3f Gbit/s\n", mpps, gbps);
	printf("per core: %.3f Mpps  %.3f Gbit/s\n", mppc, gbpc);
	printf("full %" PRIu64 "  drops %" PRIu64 "  errors %" PRIu64 "\n",
	       r->full, r->drops, r->errors);
	printf("{\"bench\":\"netbe\",\"mode\":\"%s\",\"spec\":", o->mode);
	json_str(o->spec);
	printf(",\"spec2\":");
	if (o->spec2)
		json_str(o->spec2);
	else
		printf("null");
	printf(",\"offload\":%s", o->hdr ? "true" : "false");
	printf(",\"size\":%lu,\"batch\":%lu,\"duration\":%.3f,\"frames\":%"
	       PRIu64 ",\"bytes\":%" PRIu64 ",\"wall_s\":%.4f,\"cpu_s\":%.4f,"
	       "\"mpps\":%.4f,\"gbps\":%.4f,\"mpps_per_core\":%.4f,"
	       "\"gbps_per_core\":%.4f,\"full\":%" PRIu64 ",\"drops\":%"
	       PRIu64 ",\"errors\":%" PRIu64 "}\n", o->size, o->batch,
	       o->duration, r->frames, r->bytes, r->wall, r->cpu, mpps, gbps,
	       mppc, gbpc, r->full, r->drops, r->errors);
}

static const struct option bench_long[] = {
	{ "mode", required_argument, NULL, 'm' },
	{ "size", required_argument, NULL, 's' },
	{ "batch", required_argument, NULL, 'b' },
	{ "duration", required_argument, NULL, 'd' },
	{ "busy", no_argument, NULL, 'B' },
	{ "offload", no_argument, NULL, 'O' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_duration(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || *out <= 0 || *out > 86400 ? -1 : 0;
}

/* -1 to go on, else an exit status. */
static int bench_opt(struct bench_opts *o, int opt, char **argv)
{
	switch (opt) {
	case 'm':
		o->mode = optarg;
		return -1;
	case 's':
		return cli_parse_ulong(optarg, 60, BENCH_SIZE_MAX, &o->size)
			       ? cli_usage_err("bench", "--size: 60..%d",
					       BENCH_SIZE_MAX)
			       : -1;
	case 'b':
		return cli_parse_ulong(optarg, 1, BENCH_BATCH_MAX, &o->batch)
			       ? cli_usage_err("bench", "--batch: 1..%d",
					       BENCH_BATCH_MAX)
			       : -1;
	case 'd':
		return parse_duration(optarg, &o->duration)
			       ? cli_usage_err("bench", "--duration: seconds")
			       : -1;
	case 'B':
		o->busy = true;
		return -1;
	case 'O':
		o->hdr = NETBE_VNET_HDR_MRG_LEN;
		return -1;
	case 'h':
		bench_usage(stdout);
		return EXIT_OK;
	default:
		return cli_bad_option("bench", opt, argv);
	}
}

static int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	int opt, r;
	bool fwd;

	*o = (struct bench_opts){ .mode = "tx", .size = 64, .batch = 64,
				  .duration = 5 };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":m:s:b:d:h", bench_long,
				  NULL)) != -1)
		if ((r = bench_opt(o, opt, argv)) >= 0)
			return r;
	if (strcmp(o->mode, "tx") && strcmp(o->mode, "rx") &&
	    strcmp(o->mode, "fwd"))
		return cli_usage_err("bench", "--mode: tx, rx or fwd");
	fwd = !strcmp(o->mode, "fwd");
	if (argc - optind != (fwd ? 2 : 1))
		return cli_usage_err("bench", "%s needs %s", o->mode,
				     fwd ? "SPEC and SPEC2" : "one SPEC");
	o->spec = argv[optind];
	o->spec2 = fwd ? argv[optind + 1] : NULL;
	return -1;
}

static int bench_run(const struct bench_opts *o, netbe_t *a, netbe_t *b)
{
	struct bench_result res = { 0 };
	double t0 = now_s(CLOCK_MONOTONIC), c0 = cpu_s();
	int r;

	bench_end = t0 + o->duration;
	if (!strcmp(o->mode, "tx"))
		r = run_tx(a, o, &res, t0 + o->duration);
	else
		r = run_rx(a, b, o, &res, t0 + o->duration);
	res.wall = now_s(CLOCK_MONOTONIC) - t0;
	res.cpu = cpu_s() - c0;
	if (r < 0) {
		cli_err("bench: %s", strerror(-r));
		return EXIT_RUNTIME;
	}
	report(o, &res);
	if (cli_verbose) {
		cli_print_stats(stderr, "a", a);
		if (b)
			cli_print_stats(stderr, "b", b);
	}
	return EXIT_OK;
}

/* No header (the library adds and strips the backend's), or with
 * --offload every offload the backend has behind a 12-byte header. */
static int bench_cap(netbe_t *be, unsigned hdr)
{
	uint64_t f = hdr ? netbe_get_cap(be) & NETBE_OFFLOAD_MASK : 0;

	return netbe_set_cap(be, f, hdr);
}

/* Backends with a control side on the loop (a listening stream, a
 * vhost-user socket) need it run while we measure. */
static void *bench_loop_main(void *arg)
{
	netbe_loop_run(arg);
	return NULL;
}

int cmd_bench(int argc, char **argv)
{
	pthread_t loop_th;
	struct bench_opts o;
	netbe_loop_t *loop = NULL;
	netbe_t *a = NULL, *b = NULL;
	int r = bench_parse(argc, argv, &o);

	if (r >= 0)
		return r;
	cli_setup_log();
	signal(SIGINT, bench_on_signal);
	signal(SIGTERM, bench_on_signal);
	r = netbe_loop_new(&loop);
	if (r < 0) {
		cli_err("bench: %s", cli_strerror(r));
		return EXIT_RUNTIME;
	}
	r = EXIT_RUNTIME;
	if (cli_open(&a, o.spec, loop, cli_noop_rx, NULL) < 0 ||
	    (o.spec2 && cli_open(&b, o.spec2, loop, cli_noop_rx, NULL) < 0))
		goto out;
	if (bench_cap(a, o.hdr) < 0 || (b && bench_cap(b, o.hdr) < 0)) {
		cli_err("bench: set_cap: %s", netbe_last_error());
		goto out;
	}
	if (pthread_create(&loop_th, NULL, bench_loop_main, loop) != 0) {
		cli_err("bench: cannot start the loop thread");
		goto out;
	}
	r = bench_run(&o, a, b);
	netbe_loop_stop(loop);
	pthread_join(loop_th, NULL);
out:
	netbe_cleanup(b);
	netbe_cleanup(a);
	netbe_loop_free(loop);
	return r;
}
