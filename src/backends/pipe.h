/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pipe.h - one end of a seqpacket link, shared by pipe.c and vale.c: a
 * vale port is a pipe end whose other end is a switch port, so vale runs
 * pipe's data path (netbe__pipe_ops.send, .recv ...) on its own state,
 * which starts with struct netbe__pipe_end.  Not installed.
 */
#ifndef NETBE_BACKENDS_PIPE_H
#define NETBE_BACKENDS_PIPE_H

#include "backend.h"

/* The pipe backend's state; first in the state of a backend that reuses
 * pipe's data path. */
struct netbe__pipe_end {
	int fd;
	bool offload;	    /* a 12-byte virtio-net header per message */
	bool adopted;	    /* "fd=N": its end of file is reported */
	unsigned mtu;
	uint64_t parked_id; /* our parked other end, until someone takes it */
	bool eof_logged;    /* the other end's close was logged (atomic) */
};

/*
 * Makes @bq's state the end @fd (a connected AF_UNIX SOCK_SEQPACKET
 * socket, owned from now on) of a link that carries a 12-byte header and
 * every offload, and fills @out as open() must.
 */
void netbe__pipe_end_init(struct netbe__queue *bq, int fd, unsigned mtu,
			  struct netbe__opened *out);

#endif
