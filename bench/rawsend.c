/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rawsend - the per-syscall ceiling: one AF_PACKET socket sending the same
 * frame in a tight loop, without any library in between.  The baseline
 * the backends' per-frame overhead is measured against, and the load
 * generator for receive benchmarks.
 *
 *   usage: rawsend IFNAME [--size BYTES] [--duration SEC]
 *                         [--mmsg N (sendmmsg, N frames per call)]
 *                         [--pps RATE (paced: at most RATE frames/s)]
 *
 * Prints the same JSON line as "netbe bench" (mode "raw" or "rawmmsg").
 * The frame goes to a locally administered unicast MAC with EtherType
 * 0x88b5, as netbe bench's do, so the receiving kernel drops it early.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchclock.h"

#define MMSG_MAX 1024

static int open_sock(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: never rx */

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (fd < 0 || sll.sll_ifindex == 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "rawsend: %s: %s\n", ifname, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char f[65536];
	static struct mmsghdr mm[MMSG_MAX];
	struct iovec iov;
	size_t size = 64;
	double dur = 5, t0, c0, wall, cpu, end;
	double pps = 0; /* 0: as fast as possible */
	unsigned mmsg = 0;
	uint64_t frames = 0, fails = 0;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: rawsend IFNAME [--size B] "
				"[--duration S] [--mmsg N] [--pps RATE]\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--size"))
			size = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--duration"))
			dur = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--mmsg"))
			mmsg = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--pps"))
			pps = strtod(argv[i + 1], NULL);
	}
	if (size < 60 || size > sizeof(f) || mmsg > MMSG_MAX) {
		fprintf(stderr, "rawsend: bad --size or --mmsg\n");
		return 2;
	}
	fd = open_sock(argv[1]);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x88\xb5", 14);
	for (size_t i = 14; i < size; i++)
		f[i] = (unsigned char)i;
	iov = (struct iovec){ f, size };
	for (unsigned i = 0; i < mmsg; i++)
		mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov,
						 .msg_iovlen = 1 };
	t0 = now_s();
	c0 = cpu_s();
	end = t0 + dur;
	while (now_s() < end) {
		/* paced: sleep until the frames sent so far are due */
		if (pps > 0) {
			double due = t0 + (double)(frames + fails) / pps,
			       wait = due - now_s();

			if (wait > 0) {
				struct timespec ts = {
					(time_t)wait,
					(long)((wait - (double)(time_t)wait) *
					       1e9) };

				nanosleep(&ts, NULL);
			}
		}
		if (mmsg) {
			int r = sendmmsg(fd, mm, mmsg, 0);

			if (r > 0)
				frames += (uint64_t)r;
			else
				fails++;
		} else if (send(fd, f, size, 0) == (ssize_t)size) {
			frames++;
		} else {
			fails++;
		}
	}
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	printf("{\"bench\":\"rawsend\",\"mode\":\"%s\",\"spec\":\"%s\","
	       "\"size\":%zu,\"batch\":%u,\"frames\":%llu,\"fails\":%llu,"
	       "\"wall_s\":%.4f,\"cpu_s\":%.4f,\"mpps\":%.4f,\"gbps\":%.4f,"
	       "\"mpps_per_core\":%.4f}\n", mmsg ? "rawmmsg" : "raw", argv[1],
	       size, mmsg ? mmsg : 1, (unsigned long long)frames,
	       (unsigned long long)fails, wall, cpu, frames / wall / 1e6,
	       frames * size * 8 / wall / 1e9,
	       cpu > 0 ? frames / cpu / 1e6 : 0);
	close(fd);
	return 0;
}
