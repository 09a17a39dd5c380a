/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uring.h - batches of readv/writev on one fd through io_uring, for
 * backends whose kernel interface moves one frame per system call (tap).
 * Not installed.
 */
#ifndef NETBE_URING_H
#define NETBE_URING_H

#include <stdbool.h>
#include <stdint.h>

#include "netbe.h"

#define NETBE__URING_BATCH 64 /* operations per call at most */

struct netbe__uring;

/* A ring that can only read and write @fd (registered as its one fixed
 * file; every other operation and registration is refused by the
 * kernel).  0, or -errno when this kernel or sandbox has no io_uring. */
int netbe__uring_open(struct netbe__uring **out, int fd);
void netbe__uring_close(struct netbe__uring *u);

enum {
	NETBE__URING_READ,	   /* non-blocking reads */
	NETBE__URING_WRITE,	   /* writes, each on its own */
	NETBE__URING_WRITE_LINKED, /* writes; a failed one cancels the rest */
};

/*
 * One writev or non-blocking readv (@how) per frame of @m (at most
 * NETBE__URING_BATCH), issued in order with one system call, and waited
 * for: @res[i] is frame i's byte count or -errno (-EAGAIN: nothing to
 * read; -ECANCELED: a linked write behind one that failed, so the
 * frames written are a prefix of @m).  Returns 0, or -errno when the batch could not be issued.
 */
int netbe__uring_rw(struct netbe__uring *u, int how,
		    const struct netbe_msg *m, int n, int32_t *res);

#endif
