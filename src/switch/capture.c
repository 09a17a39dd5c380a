/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Frames crossing a switch port, written to a pcap file with libpcap.
 *
 * Theory of operation
 *   libpcap writes the file (pcap_open_dead + pcap_dump), so the format
 *   is whatever tshark and Wireshark expect, microsecond timestamps and
 *   all.  The file is opened here, not by pcap_dump_open(): that uses
 *   fopen("wb"), whose descriptor leaks into every child the host forks
 *   (a library must open O_CLOEXEC), and whose mode is 0666 - umask,
 *   while a capture holds a guest's traffic, passwords included: 0600.
 *
 *   The snap length, 262144, holds the largest GSO frame (64 KiB plus
 *   headers) whole.  A frame is the iovec minus its virtio-net header,
 *   passed to pcap_dump in place when it is one piece and gathered into
 *   a buffer of the snap length otherwise.
 *
 *   pcap_dump writes into stdio's buffer, here 256 KiB of our own (the
 *   default, st_blksize, is 4 KiB: a write(2) every 2.7 full-size
 *   frames, 1.6-2.3 us per 1514-byte frame on this project's ext4 test
 *   VM; with 256 KiB, 0.46 us, test_capture prints it).  A flush (one
 *   write(2)) happens when 64 frames are pending or 100 ms have passed
 *   since the last one, so a reader (tshark -r on a running switch)
 *   sees a quiet port's frames at once and a busy port's within 64
 *   frames.  A port that falls silent less than 100 ms after a flush is
 *   flushed by the switch's once-a-second timer (netbe__capture_flush).
 *
 *   pcap_dump checks nothing, so errors are found with ferror() after
 *   each frame and each flush.  The frames since the last good flush may
 *   be partly on disk, so they move from written to failed, and capture
 *   stops there: past a short write the file no longer parses, so every
 *   later frame counts as failed.  The first failure is logged (warn)
 *   with the path.  Forwarding never sees any of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netbe_int.h"
#include "switch/capture.h"

#define CAPTURE_SNAPLEN 262144
#define CAPTURE_FLUSH_FRAMES 64
#define CAPTURE_FLUSH_NS 100000000ULL /* 100 ms */
#define CAPTURE_IOBUF (256 * 1024)	/* 64 frames of 4 KiB between flushes */

struct netbe__capture {
	pcap_t *pcap;
	pcap_dumper_t *dump;
	char *path;
	uint8_t *buf;	     /* CAPTURE_SNAPLEN bytes, for gathering */
	uint8_t *iobuf;	     /* stdio's buffer, CAPTURE_IOBUF bytes */
	uint64_t count, failed;
	uint64_t flushed_ns; /* CLOCK_REALTIME of the last flush */
	unsigned pending;    /* frames written since */
	bool broken;
};

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

/* @path created for writing, as stdio buffered in c->iobuf; NULL with
 * errno set. */
static FILE *create(struct netbe__capture *c, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
				    O_NOCTTY, 0600);
	FILE *fp;

	if (fd < 0)
		return NULL;
	fp = fdopen(fd, "w");
	if (!fp) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	setvbuf(fp, (char *)c->iobuf, _IOFBF, CAPTURE_IOBUF);
	return fp;
}

static int open_dump(struct netbe__capture *c, const char *path)
{
	FILE *fp = create(c, path);

	if (!fp)
		return netbe__err(-errno, "capture: %s: %s", path,
				  strerror(errno));
	/* On failure libpcap has closed @fp (the header write failed): the
	 * only other failure, an unknown link type, cannot happen here. */
	c->dump = pcap_dump_fopen(c->pcap, fp);
	if (!c->dump)
		return netbe__err(-EIO, "capture: %s: %s", path,
				  pcap_geterr(c->pcap));
	/* The header on disk now: a reader can open the file at once. */
	if (pcap_dump_flush(c->dump) < 0)
		return netbe__err(errno ? -errno : -EIO, "capture: %s: %s",
				  path, strerror(errno ? errno : EIO));
	return 0;
}

int netbe__capture_open(struct netbe__capture **out, const char *path)
{
	struct netbe__capture *c = calloc(1, sizeof(*c));
	struct timespec ts;
	int r;

	*out = NULL;
	if (!c || !(c->path = strdup(path)) ||
	    !(c->buf = malloc(CAPTURE_SNAPLEN)) ||
	    !(c->iobuf = malloc(CAPTURE_IOBUF)) ||
	    !(c->pcap = pcap_open_dead(DLT_EN10MB, CAPTURE_SNAPLEN))) {
		netbe__capture_close(c);
		return netbe__err(-ENOMEM, "capture: %s: out of memory", path);
	}
	r = open_dump(c, path);
	if (r < 0) {
		netbe__capture_close(c);
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	c->flushed_ns = ts_ns(&ts);
	*out = c;
	return 0;
}

/* Capture stops: the pending frames and every later one failed. */
static void fail(struct netbe__capture *c, int err)
{
	c->broken = true;
	netbe__count(&c->count, -(uint64_t)c->pending);
	netbe__count(&c->failed, c->pending);
	c->pending = 0;
	netbe__log(NETBE_LOG_WARN, "capture: %s: write failed, capture "
		   "stopped: %s", c->path, strerror(err ? err : EIO));
}

static void flush(struct netbe__capture *c, uint64_t now_ns)
{
	FILE *fp = pcap_dump_file(c->dump);

	errno = 0;
	if (pcap_dump_flush(c->dump) < 0 || ferror(fp)) {
		fail(c, errno);
		return;
	}
	c->pending = 0;
	c->flushed_ns = now_ns;
}

/* The @len bytes after @skip: in place when in one piece, else
 * gathered into c->buf. */
static const uint8_t *frame_bytes(struct netbe__capture *c,
				  const struct iovec *iov, int iovcnt,
				  size_t skip, size_t len)
{
	int i = 0;

	while (i < iovcnt && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	if (i < iovcnt && iov[i].iov_len - skip >= len)
		return (const uint8_t *)iov[i].iov_base + skip;
	netbe__iov_to_buf(&iov[i], iovcnt - i, skip, c->buf, len);
	return c->buf;
}

void netbe__capture_frame(struct netbe__capture *c, const struct iovec *iov,
			  int iovcnt, size_t skip)
{
	size_t total = netbe__iov_len(iov, iovcnt), len;
	struct pcap_pkthdr h;
	struct timespec ts;
	uint64_t now;

	if (c->broken || skip > total || total - skip > UINT32_MAX) {
		netbe__count(&c->failed, 1);
		return;
	}
	len = total - skip;
	h.len = (bpf_u_int32)len;
	h.caplen = len < CAPTURE_SNAPLEN ? (bpf_u_int32)len : CAPTURE_SNAPLEN;
	clock_gettime(CLOCK_REALTIME, &ts);
	h.ts.tv_sec = ts.tv_sec;
	h.ts.tv_usec = ts.tv_nsec / 1000;
	errno = 0;
	pcap_dump((u_char *)c->dump, &h,
		  frame_bytes(c, iov, iovcnt, skip, h.caplen));
	netbe__count(&c->count, 1);
	c->pending++;
	if (ferror(pcap_dump_file(c->dump))) {
		fail(c, errno);
		return;
	}
	now = ts_ns(&ts);
	if (c->pending >= CAPTURE_FLUSH_FRAMES || now < c->flushed_ns ||
	    now - c->flushed_ns >= CAPTURE_FLUSH_NS)
		flush(c, now);
}

uint64_t netbe__capture_count(const struct netbe__capture *c)
{
	return __atomic_load_n(&c->count, __ATOMIC_RELAXED);
}

uint64_t netbe__capture_failed(const struct netbe__capture *c)
{
	return __atomic_load_n(&c->failed, __ATOMIC_RELAXED);
}

void netbe__capture_flush(struct netbe__capture *c)
{
	if (c && c->dump && !c->broken && c->pending)
		flush(c, c->flushed_ns);
}

void netbe__capture_close(struct netbe__capture *c)
{
	if (!c)
		return;
	if (c->dump) {
		if (!c->broken && c->pending)
			flush(c, c->flushed_ns);
		pcap_dump_close(c->dump);
	}
	if (c->pcap)
		pcap_close(c->pcap);
	free(c->buf);
	free(c->iobuf);
	free(c->path);
	free(c);
}
