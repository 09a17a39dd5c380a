/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * capture.h - frames as they cross a switch port, written to a pcap file
 * with libpcap (capture.c), readable by tshark and Wireshark.  Not
 * installed.
 */
#ifndef NETBE_SWITCH_CAPTURE_H
#define NETBE_SWITCH_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct netbe__capture;

/* Creates (truncates) @path as an Ethernet (DLT_EN10MB) pcap file whose
 * snap length holds the largest GSO frame.  0, or -errno with the error
 * set naming the path (netbe__err). */
int netbe__capture_open(struct netbe__capture **out, const char *path);

/* Writes one frame: @iov minus its first @skip bytes (the virtio-net
 * header), timestamped now.  Write errors are remembered, not returned:
 * capture never stops forwarding. */
void netbe__capture_frame(struct netbe__capture *c, const struct iovec *iov,
			  int iovcnt, size_t skip);

/* Frames written, and frames that could not be (disk full ...). */
uint64_t netbe__capture_count(const struct netbe__capture *c);
uint64_t netbe__capture_failed(const struct netbe__capture *c);

/* Writes out what is buffered (a quiet port's last frames); NULL is
 * allowed.  The switch calls it once a second. */
void netbe__capture_flush(struct netbe__capture *c);

/* Flushes and closes; NULL is allowed. */
void netbe__capture_close(struct netbe__capture *c);

#endif
